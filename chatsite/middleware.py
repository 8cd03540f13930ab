"""DynamoDB unavailable → a plain 503 page; the Content-Security-Policy header. Nothing else."""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from chatsite import dynamodb
from chatsite.errors import unavailable_response

logger = logging.getLogger("chatsite.dynamodb")


class DynamoDBUnavailableMiddleware:
    """Turn "DynamoDB is down / throttling / tables missing" raised by a view into a 503 page.

    Failures raised outside views (e.g. saving the session) reach ``chatsite.errors.server_error``,
    which makes the same page. Either way one log line per request, no traceback to the user.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not dynamodb.is_unavailable(exception):
            return None
        logger.warning("DynamoDB unavailable for %s %s: %s", request.method, request.path,
                       _summary(exception))
        return unavailable_response(request, missing_table=dynamodb.is_missing_table(exception))


def _summary(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc)[:200]}"


class ContentSecurityPolicyMiddleware:
    """No inline script anywhere: HTMX and our own JS load from /static/."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        return response


class HealthCheckMiddleware:
    """Answer the load balancer's `GET /healthz` before anything else runs.

    Balancers probe each host by its IP address, which is not in ALLOWED_HOSTS, so a check that
    went through the host validation (CommonMiddleware) would get a 400 and mark every host
    unhealthy. It touches no DynamoDB: it says the process serves, nothing more.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path == "/healthz":
            return HttpResponse("ok", content_type="text/plain")
        return self.get_response(request)
