"""The request log (chatsite/request_log.py): one line per request with the URL pattern (never the
path), status, duration, DynamoDB calls and milliseconds and the signed-in user's id; the request's
X-Request-ID on that line and on every other line the request causes; nothing secret or typed."""

from __future__ import annotations

import json
import logging
import re

import pytest
from django.conf import settings as django_settings
from django.http import HttpResponse
from django.test import Client
from django.urls import include, path

from chatsite import dynamodb
from chatsite.request_log import JsonFormatter, RequestIdFilter
from rooms import live, services, validators
from rooms.timestamps import now_ms
from tests.support import fault_servers
from tests.support.sessions import sign_in

HEX_ID = re.compile(r"[0-9a-f]{32}")


class Captured(logging.Handler):
    """Every record the site logs, stamped as the site's own handler stamps them."""

    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.addFilter(RequestIdFilter())
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)

    def request_lines(self) -> list[logging.LogRecord]:
        return [r for r in self.records if r.name == "chatsite.request"]

    def only_request_line(self) -> dict:
        lines = self.request_lines()
        assert len(lines) == 1, [r.getMessage() for r in lines]
        return lines[0].request

    def as_json(self) -> list[dict]:
        formatter = JsonFormatter()
        return [json.loads(formatter.format(r)) for r in self.records]

    def as_text(self) -> str:
        formatter = logging.Formatter(django_settings.LOGGING["formatters"]["plain"]["format"])
        return "\n".join(formatter.format(r) for r in self.records)


@pytest.fixture
def captured():
    handler = Captured()
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


@pytest.fixture
def art(moto_tables):
    return services.room_create(name="Secret plans", created_by="alice")


# --- views only this file routes to (pytest.mark.urls), besides the whole site -------------------

def boom(request):
    raise RuntimeError("a bug in a view")


def logs_after_dynamodb(request):
    from rooms import selectors

    selectors.room_list()
    logging.getLogger("rooms.somewhere").warning("something worth a look")
    return HttpResponse("ok")


urlpatterns = [
    path("test-boom/", boom, name="test_boom"),
    path("test-logs/", logs_after_dynamodb, name="test_logs"),
    path("", include("chatsite.urls")),
]
handler500 = "chatsite.errors.server_error"


# --- the line -------------------------------------------------------------------------------------

def test_one_line_per_request_with_typed_fields(client, art, captured):
    user = sign_in(client, "alice")
    with dynamodb.count_calls() as calls:
        response = client.get(f"/rooms/{art.room_id}/")
    assert response.status_code == 200
    line = captured.only_request_line()
    assert line["method"] == "GET"
    assert line["view"] == "rooms:room" and line["route"] == "rooms/<room_id:room_id>/"
    assert line["status"] == 200 and type(line["status"]) is int
    assert type(line["duration_ms"]) is float and line["duration_ms"] > 0
    # The same calls count_calls saw around the request (the session's and the user's included).
    assert line["dynamodb_calls"] == sum(calls.values()) > 0 and type(line["dynamodb_calls"]) is int
    assert line["dynamodb_ops"] == dict(calls)
    assert type(line["dynamodb_ms"]) is float and 0 < line["dynamodb_ms"] <= line["duration_ms"]
    assert line["user_id"] == user.id == "alice"
    assert line["stream"] is False

    (entry,) = [e for e in captured.as_json() if e["logger"] == "chatsite.request"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry["time"])
    assert entry["level"] == "INFO" and entry["request_id"] == response["X-Request-ID"]
    assert {k: entry[k] for k in line} == line  # the fields at the top level of the JSON object


def test_a_signed_out_request_has_no_user_id(client, art, captured):
    assert client.get("/").status_code == 200
    line = captured.only_request_line()
    assert line["view"] == "rooms:list" and line["route"] == "" and line["user_id"] is None


def test_the_line_names_the_pattern_never_the_path_or_query(client, art, captured):
    assert client.get(f"/rooms/{art.room_id}/", {"before": "zzz-cursor-zzz"}).status_code in (200, 400)
    assert client.get("/no/such/page-xyz").status_code == 404
    first, second = captured.request_lines()
    assert first.request["view"] == "rooms:room"
    assert second.request["view"] == "unmatched" and second.request["route"] is None
    assert second.request["status"] == 404
    for line in (captured.as_text(), json.dumps(captured.as_json())):
        request_part = "\n".join(part for part in line.split("\n") if "chatsite.request" in part)
        assert art.room_id not in request_part and "secret-plans" not in request_part
        assert "zzz-cursor-zzz" not in request_part and "page-xyz" not in request_part


def test_static_files_are_logged_as_static_and_keep_their_file_response(client, captured):
    response = client.get("/static/favicon.svg?v=private-query")
    assert response.status_code == 200
    line = captured.only_request_line()
    assert line["view"] == "static" and line["stream"] is False
    assert "favicon" not in json.dumps(line) and "private-query" not in json.dumps(line)
    assert response["X-Request-ID"] == captured.request_lines()[0].request_id
    response.close()


def test_a_file_response_keeps_its_file_for_the_servers_sendfile(rf):
    from django.http import FileResponse

    from chatsite.request_log import RequestLogMiddleware

    favicon = django_settings.BASE_DIR / "static" / "favicon.svg"
    response = RequestLogMiddleware(lambda request: FileResponse(open(favicon, "rb")))(rf.get("/static/favicon.svg"))
    assert response.file_to_stream is not None  # Django's WSGI handler hands it to wsgi.file_wrapper
    response.close()


def test_posting_a_message_logs_no_cookie_session_key_or_text(art, captured):
    client = Client()
    sign_in(client, "alice")
    client.get(f"/rooms/{art.room_id}/")  # the page: a CSRF cookie
    session_key = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    csrf = client.cookies[django_settings.CSRF_COOKIE_NAME].value
    key = validators.new_token()
    secret_text = "the launch code is swordfish-4417"
    response = client.post(f"/rooms/{art.room_id}/messages", {"comment": secret_text, "idempotency_key": key},
                           HTTP_HX_REQUEST="true", HTTP_X_CSRFTOKEN=csrf)
    assert response.status_code == 200
    post_line = captured.request_lines()[-1].request
    assert post_line["method"] == "POST" and post_line["view"] == "rooms:post" and post_line["user_id"] == "alice"
    everything = captured.as_text() + "\n" + json.dumps(captured.as_json())
    for secret in (session_key, csrf, key, secret_text, "swordfish"):
        assert secret not in everything


# --- the request id -------------------------------------------------------------------------------

def test_a_request_id_is_made_and_echoed_when_none_comes(client, art, captured):
    first, second = client.get("/"), client.get("/")
    assert HEX_ID.fullmatch(first["X-Request-ID"]) and HEX_ID.fullmatch(second["X-Request-ID"])
    assert first["X-Request-ID"] != second["X-Request-ID"]
    assert [r.request_id for r in captured.request_lines()] == [first["X-Request-ID"], second["X-Request-ID"]]


@pytest.mark.parametrize("sane", ["Root=1-67891233-abcdef012345678912345678", "0f8fad5b-d9cb-469f-a165-70867728950e",
                                  "req.42:abc/xyz+q@lb"])
def test_a_sane_incoming_request_id_is_kept(client, art, captured, sane):
    response = client.get("/", HTTP_X_REQUEST_ID=sane)
    assert response["X-Request-ID"] == sane
    assert captured.request_lines()[0].request_id == sane


@pytest.mark.parametrize("malformed", ["short", "x" * 129, "has spaces in it", "forged\nINFO line",
                                       'quote"s-and-more', "ünïcode-request-id", "semi;colon;id"])
def test_a_malformed_incoming_request_id_is_replaced(client, art, captured, malformed):
    response = client.get("/", HTTP_X_REQUEST_ID=malformed)
    assert HEX_ID.fullmatch(response["X-Request-ID"])
    assert captured.request_lines()[0].request_id == response["X-Request-ID"]
    assert malformed not in captured.as_text()


@pytest.mark.urls(__name__)
def test_another_loggers_line_inside_the_request_carries_its_id(client, art, captured):
    response = client.get("/test-logs/", HTTP_X_REQUEST_ID="lb-request-0001")
    assert response.status_code == 200 and response["X-Request-ID"] == "lb-request-0001"
    (warning,) = [r for r in captured.records if r.name == "rooms.somewhere"]
    assert warning.request_id == "lb-request-0001"
    assert captured.only_request_line()["view"] == "test_logs"
    assert "[lb-request-0001]: something worth a look" in captured.as_text()
    logging.getLogger("rooms.somewhere").warning("outside any request")
    assert captured.records[-1].request_id == "-"
    assert captured.as_json()[-1]["request_id"] is None


# --- the error pages are logged too ---------------------------------------------------------------

@pytest.mark.urls(__name__)
def test_the_500_page_is_logged_with_its_id_on_the_traceback(art, captured):
    response = Client(raise_request_exception=False).get("/test-boom/", HTTP_X_REQUEST_ID="lb-request-0500")
    assert response.status_code == 500 and response["X-Request-ID"] == "lb-request-0500"
    line = captured.only_request_line()
    assert line["status"] == 500 and line["view"] == "test_boom"
    (error,) = [r for r in captured.records if r.name == "django.request"]
    assert error.request_id == "lb-request-0500" and error.exc_info
    (entry,) = [e for e in captured.as_json() if e["logger"] == "django.request"]
    assert "RuntimeError: a bug in a view" in entry["exception"] and entry["request_id"] == "lb-request-0500"


def test_the_503_page_is_logged_with_its_id_on_the_warning(settings, captured):
    settings.DYNAMODB_CONNECT_TIMEOUT = 0.3
    settings.DYNAMODB_READ_TIMEOUT = 0.3
    settings.DYNAMODB_MAX_ATTEMPTS = 2
    try:
        with fault_servers.silent_server() as url:
            dynamodb.configure(endpoint_url=url, prefix="fault_")
            response = Client(raise_request_exception=False).get("/", HTTP_X_REQUEST_ID="lb-request-0503")
    finally:
        dynamodb.configure(endpoint_url=None, prefix="test_")
    assert response.status_code == 503 and response["X-Request-ID"] == "lb-request-0503"
    line = captured.only_request_line()
    assert line["status"] == 503 and line["view"] == "rooms:list"
    assert line["dynamodb_calls"] >= 1
    assert line["dynamodb_ms"] >= 2 * 300 * 0.9  # two attempts, each waiting out its read timeout
    (warning,) = [r for r in captured.records if r.levelno >= logging.WARNING]
    assert warning.getMessage().startswith("DynamoDB unavailable") and warning.request_id == "lb-request-0503"


def test_the_session_middlewares_calls_are_counted(art, captured):
    client = Client()
    sign_in(client, "alice")
    # A session-only view: what it costs is the session (and user) load, which runs outside the view.
    with dynamodb.count_calls() as calls:
        response = client.get("/", HTTP_X_REQUEST_ID="lb-request-sess")
    assert response.status_code == 200
    line = captured.only_request_line()
    assert line["dynamodb_ops"] == dict(calls) and line["user_id"] == "alice"
    assert "GetItem" in calls or "Query" in calls


# --- streams: one line when the stream ends -------------------------------------------------------

def test_a_stream_is_logged_once_when_it_ends(client, art, settings, captured):
    import threading

    settings.CHAT_LIVE_STREAMS = "on"
    settings.CHAT_LIVE_HEARTBEAT_SECONDS = 0.2
    response = client.get(f"/rooms/{art.room_id}/stream", {"w": live.watermark_token(art.room_id, now_ms())},
                          HTTP_X_REQUEST_ID="lb-request-stream")
    assert response.status_code == 200 and response["X-Request-ID"] == "lb-request-stream"
    chunks: list[bytes] = []
    done = threading.Event()

    def read():
        try:
            for chunk in response.streaming_content:
                chunks.append(chunk)
                if b"".join(chunks).count(b"event: beat") >= 2:  # the first comes at once, the next 0.2 s on
                    break
        finally:
            done.set()

    threading.Thread(target=read, daemon=True).start()
    assert done.wait(10), chunks
    assert captured.request_lines() == []  # not while it is open
    response.close()
    line = captured.only_request_line()
    assert line["stream"] is True and line["view"] == "rooms:stream" and line["status"] == 200
    assert 0 <= line["open_ms"] <= line["duration_ms"] and line["duration_ms"] >= 150
    assert captured.request_lines()[0].request_id == "lb-request-stream"
    response.close()  # a second close logs nothing more
    assert len(captured.request_lines()) == 1
