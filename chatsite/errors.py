"""Error pages. Users get a helpful page, never a stack trace."""

from __future__ import annotations

import logging
import sys

from django.core.exceptions import BadRequest
from django.http import HttpRequest, HttpResponse
from django.template import loader
from django_htmx.middleware import HtmxDetails

from chatsite import dynamodb

logger = logging.getLogger("chatsite.dynamodb")


RETRY_AFTER_SECONDS = 5


def unavailable_response(request: HttpRequest, exc: BaseException | None, *, cause: str) -> HttpResponse:
    """The 503 page (or the HTMX fragment) for "DynamoDB can't serve us", logged as one line.
    ``exc`` is None when the request was refused without trying (the bulkhead)."""
    logger.warning("DynamoDB unavailable (%s) for %s %s: %s", cause, request.method, request.path,
                   dynamodb.describe_failure(exc) if exc is not None else "refused without trying")
    context = {"missing_table": cause == "table missing"}
    # HtmxMiddleware runs before every middleware that answers 503, but handler500 also gets
    # requests that failed before it ran: read the same headers the same way then.
    htmx = request.htmx if hasattr(request, "htmx") else HtmxDetails(request)
    template = "errors/503_fragment.html" if htmx else "errors/503.html"
    response = HttpResponse(loader.render_to_string(template, context, request=None), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    # Logged above: keep django.request from adding "Service Unavailable" with a traceback.
    response._has_been_logged = True
    return response


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: a DynamoDB outage raised outside a view (session save, auth) is still a 503."""
    exc = sys.exc_info()[1]
    cause = dynamodb.unavailable_cause(exc)
    if cause is not None:
        return unavailable_response(request, exc, cause=cause)
    return HttpResponse(loader.render_to_string("errors/500.html"), status=500)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Our views raise BadRequest with a message written for people: show it. Anything else here
    (DisallowedHost, TooManyFieldsSent, other SuspiciousOperations) carries developer text that
    names settings; people get the plain page, and Django has logged the detail
    (django.security.*)."""
    message = str(exception)[:200] if isinstance(exception, BadRequest) else ""
    return HttpResponse(loader.render_to_string("errors/400.html", {"message": message}), status=400)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    return HttpResponse(loader.render_to_string("errors/403.html"), status=403)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    return HttpResponse(loader.render_to_string("errors/404.html"), status=404)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    return HttpResponse(loader.render_to_string("errors/403_csrf.html"), status=403)
