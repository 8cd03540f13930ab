"""DJANGO_LOG_FORMAT, as the settings apply it at start: text by default (make run), json turns
every line of every logger into one JSON object, anything else stops the site with a clear error.
Each case starts a fresh Python process, because LOGGING is applied once, when Django sets up."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.subprocess  # each test starts a Python or a tool: `make test`, not `make test-fast`

ROOT = Path(__file__).resolve().parent.parent

# One request through the whole middleware stack (a static file: no DynamoDB needed) and lines
# from other loggers, inside and outside it.
SCRIPT = """
import logging
import django
from django.http import HttpResponse
django.setup()
from django.test import Client
from chatsite import request_log

class Marker:
    def __init__(self, get_response):
        self.get_response = get_response
    def __call__(self, request):
        logging.getLogger("rooms.inside").warning("inside the request")
        return self.get_response(request)

from django.conf import settings
ours = settings.MIDDLEWARE.index("chatsite.request_log.RequestLogMiddleware")
settings.MIDDLEWARE = [*settings.MIDDLEWARE[:ours + 1], "__main__.Marker", *settings.MIDDLEWARE[ours + 1:]]
response = Client().get("/static/favicon.svg", HTTP_HOST="localhost", HTTP_X_REQUEST_ID="lb-format-0001")
assert response.status_code == 200, response.status_code
logging.getLogger("rooms.outside").warning("a line with\\ntwo lines")
try:
    raise ValueError("boom")
except ValueError:
    logging.getLogger("rooms.outside").exception("failed")
"""


def run(log_format: str | None) -> subprocess.CompletedProcess:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "chatsite.settings", "DJANGO_LOG_LEVEL": "INFO"}
    env.pop("DJANGO_LOG_FORMAT", None)
    if log_format is not None:
        env["DJANGO_LOG_FORMAT"] = log_format
    return subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)


def test_json_makes_every_line_of_every_logger_one_json_object():
    done = run("json")
    assert done.returncode == 0, done.stderr
    lines = done.stderr.strip().splitlines()
    entries = [json.loads(line) for line in lines]  # every line parses
    assert all(type(entry) is dict for entry in entries)
    by_logger = {entry["logger"]: entry for entry in entries}
    assert set(by_logger) == {"rooms.inside", "chatsite.request", "rooms.outside"}, lines
    request = by_logger["chatsite.request"]
    assert request["request_id"] == by_logger["rooms.inside"]["request_id"] == "lb-format-0001"
    assert request["view"] == "static" and request["status"] == 200 and request["method"] == "GET"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", request["time"])
    outside = [e for e in entries if e["logger"] == "rooms.outside"]
    assert [e["message"] for e in outside] == ["a line with\ntwo lines", "failed"]
    assert all(e["request_id"] is None for e in outside)
    assert "ValueError: boom" in outside[1]["exception"] and outside[1]["level"] == "ERROR"
    assert len(lines) == 4  # the two-line message and the traceback stayed on one line each


def test_text_is_the_default_and_carries_the_request_id():
    for value in (None, "", "TEXT"):
        done = run(value)
        assert done.returncode == 0, done.stderr
        lines = done.stderr.strip().splitlines()
        assert any(re.search(r" WARNING rooms\.inside \[lb-format-0001\]: inside the request$", line) for line in lines)
        assert any(re.search(r" INFO chatsite\.request \[lb-format-0001\]: GET static 200 [\d.]+ms dynamodb=0/0\.0ms "
                             r"user=-$", line) for line in lines), lines
        assert any(re.search(r" WARNING rooms\.outside \[-\]: a line with$", line) for line in lines)
        assert not any(line.startswith("{") for line in lines)


def test_an_unknown_format_stops_the_site_naming_the_setting():
    done = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, env={**os.environ, "DJANGO_LOG_FORMAT": "xml"})
    assert done.returncode != 0
    assert "ImproperlyConfigured: DJANGO_LOG_FORMAT is 'xml'; use json" in done.stderr, done.stderr[-2000:]
