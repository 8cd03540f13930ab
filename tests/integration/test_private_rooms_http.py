"""Private rooms against real gunicorn + dynalite: every URL of a private room answers a
non-member (signed in or not) exactly as a room id that was never created, and a removed member's
open tab stops receiving within CHAT_LIVE_GRANT_SECONDS (here 2 s)."""

from __future__ import annotations

import re
import time

import pytest

from tests.support.web import HX, Person, csrf_from, wait_until

GRANT_SECONDS = 2


@pytest.fixture
def site(gunicorn_server):
    server = gunicorn_server(CHAT_LIVE_GRANT_SECONDS=str(GRANT_SECONDS))
    people = {}
    for name in ("alice", "bob", "carol"):
        person = people[name] = Person(server.url)
        person.sign_up(name, name.title())
    response = people["alice"].post("/", {"name": "Den", "description": "quiet", "private": "on"})
    assert response.status_code == 302 and response.headers["Location"] == "/rooms/den/"
    for n in range(3):
        assert people["alice"].post_message("/rooms/den/", f"secret {n}").status_code == 200
    return server, people


def urls(room_id: str, w: str, cursor: str):
    base = f"/rooms/{room_id}/"
    return [
        ("GET", base, {}, {}), ("HEAD", base, {}, {}),
        ("GET", f"{base}?before={cursor}", {}, {}), ("GET", f"{base}?before={cursor}", {}, HX),
        ("POST", f"{base}messages", {"comment": "hi", "idempotency_key": "k" * 20}, {}),
        ("POST", f"{base}messages/delete", {"author": "alice", "sk": "x"}, {}),
        ("GET", f"{base}updates?w=1.AAAAAAAAAAAAAAAA", {}, HX), ("GET", f"{base}updates", {}, HX),
        ("GET", f"{base}updates/grant?w={w}", {}, {}),
        ("POST", f"{base}join", {}, {}), ("POST", f"{base}leave", {}, {}),
        ("POST", f"{base}invite", {"username": "carol"}, {}),
        ("GET", f"{base}members/", {}, {}),
        ("POST", f"{base}members/remove", {"user": "alice"}, {}),
        ("POST", f"{base}settings", {"name": "Mine", "description": ""}, {}),
    ]


def ask(person: Person, token: str, method: str, path: str, data: dict, headers: dict):
    if method == "POST":
        data = {"csrfmiddlewaretoken": token, **data}
        return person.http.post(person.base_url + path, data=data, timeout=15, allow_redirects=False,
                                headers={"Referer": person.base_url + "/", **headers})
    return person.http.request(method, person.base_url + path, timeout=15, allow_redirects=False, headers=headers)


def test_every_url_of_a_private_room_is_a_missing_room_to_non_members(site):
    server, people = site
    page = people["alice"].get("/rooms/den/").text
    w = re.search(r'data-watermark="([^"]+)"', page).group(1)
    cursor = "not-checked-before-the-room"  # a real one: tests/rooms/test_private_rooms.py
    anonymous = Person(server.url)
    for person, form_page in ((people["carol"], "/"), (anonymous, "/accounts/login/")):
        token = csrf_from(person.get(form_page).text)
        for private, missing in zip(urls("den", w, cursor), urls("nowhere", w, cursor)):
            a, b = ask(person, token, *private), ask(person, token, *missing)
            assert (a.status_code, a.content) == (b.status_code, b.content), private[:2]
            assert a.status_code == 404, private[:2]
    assert "/rooms/den/" not in people["carol"].get("/").text
    assert people["alice"].get("/rooms/den/members/").text.count('class="member"') == 1  # nobody got in


def test_a_removed_member_stops_receiving_within_the_grant(site):
    server, people = site
    alice, bob = people["alice"], people["bob"]
    assert alice.post("/rooms/den/invite", {"username": "bob"}, form_path="/rooms/den/").status_code == 302
    page = bob.get("/rooms/den/")
    assert page.status_code == 200 and "secret 2" in page.text
    w = re.search(r'data-watermark="([^"]+)"', page.text).group(1)
    seen = ",".join(re.findall(r'<li class="message[^"]*" id="(m-[^"]+)"', page.text))
    alice.post_message("/rooms/den/", "before removal")
    answer = wait_until(lambda: (r := bob.poll("/rooms/den/", w, seen)).status_code == 200 and r,
                        message="bob's tab receives")
    assert "before removal" in answer.text
    w = answer.headers["Chat-Watermark"]

    assert alice.post("/rooms/den/members/remove", {"user": "bob"}, form_path="/rooms/den/members/").status_code == 302
    removed_at = time.monotonic()
    received_after_removal = []
    n = 0
    while True:
        n += 1
        alice.post_message("/rooms/den/", f"after removal {n}")
        response = bob.poll("/rooms/den/", w)
        if response.status_code != 200 and response.status_code != 204:
            break
        received_after_removal += re.findall(r"after removal \d+", response.text)
        w = response.headers["Chat-Watermark"]
        assert time.monotonic() - removed_at < GRANT_SECONDS + 2, "still receiving past the grant"
        time.sleep(0.2)
    stopped_after = time.monotonic() - removed_at
    assert response.status_code == 403 and stopped_after <= GRANT_SECONDS + 1, (response.status_code, stopped_after)
    # Renewing checks the membership: the tab learns the room is gone for it, as for a missing room.
    renew = bob.get("/rooms/den/updates/grant", params={"w": w})
    missing = bob.get("/rooms/nowhere/updates/grant", params={"w": w})
    assert renew.status_code == 404 and renew.content == missing.content
    assert bob.get("/rooms/den/").status_code == 404
    print(f"removed member stopped after {stopped_after:.2f} s; received {len(received_after_removal)} meanwhile")
