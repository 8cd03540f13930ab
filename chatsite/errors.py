"""Error pages. Users get a helpful page, never a stack trace."""

from __future__ import annotations

import logging
import sys

from django.http import HttpRequest, HttpResponse
from django.template import loader

from chatsite import dynamodb

logger = logging.getLogger("chatsite.dynamodb")


def unavailable_response(request: HttpRequest, *, missing_table: bool) -> HttpResponse:
    context = {"missing_table": missing_table}
    if request.headers.get("HX-Request") == "true":
        template = "errors/503_fragment.html"
    else:
        template = "errors/503.html"
    response = HttpResponse(loader.render_to_string(template, context, request=None), status=503)
    response["Retry-After"] = "5"
    return response


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: a DynamoDB outage raised outside a view (session save, auth) is still a 503."""
    exc = sys.exc_info()[1]
    if exc is not None and dynamodb.is_unavailable(exc):
        return unavailable_response(request, missing_table=dynamodb.is_missing_table(exc))
    return HttpResponse(loader.render_to_string("errors/500.html"), status=500)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    return HttpResponse(loader.render_to_string("errors/400.html", {"message": str(exception)[:200]}), status=400)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    return HttpResponse(loader.render_to_string("errors/403.html"), status=403)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    return HttpResponse(loader.render_to_string("errors/404.html"), status=404)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    return HttpResponse(loader.render_to_string("errors/403_csrf.html"), status=403)
