"""Security defaults: Django's deploy checklist and the production headers."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PRODUCTION_ENV = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": "a-production-like-secret-" + "q" * 40,
    "DJANGO_ALLOWED_HOSTS": "chat.example.com",
    "DYNAMODB_ENDPOINT_URL": "",
}


@pytest.mark.subprocess
def test_check_deploy_is_clean_with_production_settings():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, capture_output=True, text=True, env={**os.environ, **PRODUCTION_ENV},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.subprocess
def test_production_settings_values():
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SESSION_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY, s.SESSION_COOKIE_SAMESITE, "
        "s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS > 0, s.X_FRAME_OPTIONS, s.DEBUG)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, **PRODUCTION_ENV, "DJANGO_SETTINGS_MODULE": "chatsite.settings"})
    assert result.stdout.split() == ["True", "True", "Lax", "True", "True", "DENY", "False"], result.stderr


@pytest.mark.integration
def test_gunicorn_sends_security_headers_behind_tls_proxy(gunicorn_server):
    server = gunicorn_server(DJANGO_SECURE="1", DJANGO_BEHIND_PROXY="1")
    request = urllib.request.Request(server.url + "/", headers={"X-Forwarded-Proto": "https"})
    with urllib.request.urlopen(request) as response:
        headers = response.headers
        assert response.status == 200
    assert headers["X-Frame-Options"] == "DENY"
    assert "max-age=31536000" in headers["Strict-Transport-Security"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp


@pytest.mark.integration
def test_gunicorn_redirects_plain_http_to_https_in_production(gunicorn_server):
    server = gunicorn_server(DJANGO_SECURE="1")

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        opener.open(server.url + "/")
    assert excinfo.value.code == 301
    assert excinfo.value.headers["Location"].startswith("https://")


def test_health_check_answers_probes_by_ip_over_plain_http(settings, client):
    settings.ALLOWED_HOSTS = ["chat.example.com"]
    settings.SECURE_SSL_REDIRECT = True
    response = client.get("/healthz", HTTP_HOST="10.0.1.23:8000")
    assert response.status_code == 200 and response.content == b"ok"
    assert client.get("/", HTTP_HOST="10.0.1.23:8000").status_code == 400  # the site itself still checks
