from django.http import HttpRequest, HttpResponse


def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness for load balancers: the process answers. Touches no DynamoDB."""
    return HttpResponse("ok", content_type="text/plain")
