"""A person at a plain HTTP client (requests), talking to a real gunicorn: sign up, post, poll.

Used by the multi-server and restart tests, where Django's test client would not cross processes.
"""

from __future__ import annotations

import html
import re
import time

import requests

PASSWORD = "plum-Orchard-47-kettle"
HX = {"HX-Request": "true"}


def csrf_from(body: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body).group(1)


def composer_key(body: str) -> str:
    return re.search(r'name="idempotency_key" value="([^"]+)"', body).group(1)


def text(body: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)))


def comments(body: str) -> list[str]:
    """The messages' texts on a room page or fragment, in page order."""
    return [html.unescape(re.sub(r"<[^>]+>", "", c)).strip()
            for c in re.findall(r'<div class="comment">(.*?)</div>', body, re.S)]


class Person:
    """One browser: a cookie jar pointed at ``base_url`` (which can change, cookies kept)."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.http = requests.Session()

    def get(self, path: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 15)
        kwargs.setdefault("allow_redirects", False)
        return self.http.get(self.base_url + path, **kwargs)

    def post(self, path: str, data: dict, *, form_path: str | None = None, **kwargs) -> requests.Response:
        """POST with the CSRF token of the page at ``form_path`` (default: ``path``)."""
        page = self.get(form_path or path, allow_redirects=True)
        data = {"csrfmiddlewaretoken": csrf_from(page.text), **data}
        kwargs.setdefault("timeout", 15)
        kwargs.setdefault("allow_redirects", False)
        headers = {"Referer": self.base_url + (form_path or path), **kwargs.pop("headers", {})}
        return self.http.post(self.base_url + path, data=data, headers=headers, **kwargs)

    def sign_up(self, username: str, display_name: str) -> None:
        response = self.post("/accounts/signup/", {"username": username, "display_name": display_name,
                                                   "password1": PASSWORD, "password2": PASSWORD})
        assert response.status_code == 302, response.text[:2000]

    def sign_in(self, username: str, password: str = PASSWORD, **extra) -> requests.Response:
        return self.post("/accounts/login/", {"username": username, "password": password, **extra})

    @property
    def session_cookie(self) -> str:
        return self.http.cookies.get("sessionid")

    def profile(self) -> requests.Response:
        return self.get("/accounts/profile/")

    def is_signed_in_as(self, display_name: str) -> bool:
        response = self.profile()
        return response.status_code == 200 and display_name in text(response.text)

    def create_room(self, name: str) -> str:
        response = self.post("/", {"name": name, "description": ""})
        assert response.status_code == 302, response.text[:2000]
        return response.headers["Location"]

    def post_message(self, room_path: str, comment: str, *, htmx: bool = True) -> requests.Response:
        page = self.get(room_path)
        assert page.status_code == 200
        return self.http.post(self.base_url + room_path + "messages",
                              data={"csrfmiddlewaretoken": csrf_from(page.text), "comment": comment,
                                    "idempotency_key": composer_key(page.text)},
                              headers={"Referer": self.base_url + room_path, **(HX if htmx else {})},
                              timeout=15, allow_redirects=False)

    def watermark(self, room_path: str) -> str:
        """The signed live-update watermark a fresh room page hands out (what static/js/chat/cursor.js starts from)."""
        page = self.get(room_path)
        assert page.status_code == 200
        return re.search(r'data-watermark="([^"]+)"', page.text).group(1)

    def poll(self, room_path: str, watermark: str, seen: str = "") -> requests.Response:
        return self.get(room_path + "updates", params={"w": watermark, "seen": seen}, headers=HX)


def wait_until(predicate, *, timeout: float = 10, interval: float = 0.1, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {message}")
        time.sleep(interval)
