"""Private rooms and membership through the site (moto, Django's test client): the create-room
checkbox, Join room / Leave room / Invite / Remove, posting joins a public room, the room page's
sidebar context and budget, and the rule that to a non-member a private room answers every URL
exactly as a room id that was never created."""

from __future__ import annotations

import re
import time
import types

import pytest

from chatsite.dynamodb import count_calls
from rooms import live, room_tail, selectors, services
from tests.rooms.test_views import HX, composer_key, seed
from tests.support.seeding import rooms_created
from tests.support.sessions import request_user, sign_in
from tests.support.users import ensure_user_item


@pytest.fixture
def den(moto_tables):
    """A private room owned by alice, with a few messages."""
    room = services.room_create(name="Den", description="quiet", created_by="alice", kind="private")
    seed(room, 3)
    return room


def watermark(body: str) -> str:
    return re.search(r'data-watermark="([^"]+)"', body).group(1)


def sidebar_ids(response) -> list[str]:
    return [r.room_id for r in response.context["your_rooms"]]


# --- creating ------------------------------------------------------------------------------------------


def test_the_create_form_has_the_private_checkbox_and_a_private_room_is_not_listed(client, moto_tables):
    sign_in(client, "alice")
    body = client.get("/").content.decode()
    assert 'type="checkbox" name="private"' in body and ">Private (invite only)</label>" in body
    response = client.post("/", {"name": "Den", "private": "on"})
    assert response.status_code == 302 and response["Location"] == "/rooms/den/"
    assert selectors.room_get(room_id="den").kind == "private"
    assert "/rooms/den/" not in client.get("/").content.decode()
    assert client.get("/rooms/den/").status_code == 200


def test_a_name_taken_by_a_private_room_does_not_reveal_it(client, den):
    sign_in(client, "bob")
    body = client.post("/", {"name": "DEN"}).content.decode()
    assert "This name is taken" in body and "/rooms/den/" not in body and "quiet" not in body


# --- to a non-member, a private room is a room that does not exist --------------------------------------


def every_url(room_id: str, *, w: str, cursor: str) -> list[tuple[str, str, dict, dict]]:
    return [
        ("get", f"/rooms/{room_id}/", {}, {}),
        ("head", f"/rooms/{room_id}/", {}, {}),
        ("get", f"/rooms/{room_id}/?before={cursor}", {}, {}),
        ("get", f"/rooms/{room_id}/?before={cursor}", {}, HX),
        ("post", f"/rooms/{room_id}/messages", {"comment": "hi", "idempotency_key": "k" * 20}, {}),
        ("post", f"/rooms/{room_id}/messages", {"comment": "hi", "idempotency_key": "k" * 20}, HX),
        ("post", f"/rooms/{room_id}/messages/delete", {"author": "alice", "sk": "x"}, {}),
        ("post", f"/rooms/{room_id}/read", {"seq": "1", "pos": "2024-01-01T00:00:00.000Z#abcdefghij"}, HX),
        ("post", f"/rooms/{room_id}/unread", {"author": "alice", "sk": "x"}, {}),
        ("post", f"/rooms/{room_id}/unread", {"author": "alice", "sk": "x"}, HX),
        ("get", f"/rooms/{room_id}/updates?w={w}", {}, HX),
        ("get", f"/rooms/{room_id}/updates?w=1.AAAAAAAAAAAAAAAA", {}, HX),
        ("get", f"/rooms/{room_id}/updates", {}, HX),
        ("get", f"/rooms/{room_id}/updates/grant?w={w}", {}, {}),
        ("post", f"/rooms/{room_id}/join", {}, {}),
        ("post", f"/rooms/{room_id}/leave", {}, {}),
        ("post", f"/rooms/{room_id}/invite", {"username": "carol"}, {}),
        ("get", f"/rooms/{room_id}/members/", {}, {}),
        ("post", f"/rooms/{room_id}/members/remove", {"user": "alice"}, {}),
        ("post", f"/rooms/{room_id}/settings", {"name": "Mine", "description": ""}, {}),
    ]


@pytest.mark.parametrize("who", ["anonymous", "signed-in non-member", "removed member"])
def test_every_url_of_a_private_room_answers_a_non_member_as_a_room_that_never_existed(client, den, who, settings):
    settings.CHAT_HISTORY_PAGE_SIZE = 2
    owner = sign_in(client, "alice")
    # Read up to date, so the page is the newest one with "load older" (it opens at the first
    # unread message otherwise).
    services.mark_all_read(user_id="alice", rooms=selectors.user_rooms(user_id="alice"))
    page = client.get("/rooms/den/").content.decode()
    w = watermark(page)  # a valid grant, in the hands of the wrong person
    cursor = re.search(r'\?before=([^"]+)"', page).group(1)
    client.cookies.clear()
    if who != "anonymous":
        sign_in(client, "bob")
    if who == "removed member":
        ensure_user_item("bob")
        services.room_invite(room=den, username="bob")
        assert client.get("/rooms/den/").status_code == 200
        services.member_remove(room=den, actor=owner, user_id="bob")
    for (method, url, data, extra), (_, missing_url, _, _) in zip(every_url("den", w=w, cursor=cursor),
                                                                    every_url("nowhere", w=w, cursor=cursor)):
        if url.startswith("/rooms/den/updates?w=") and url.endswith(w):
            continue  # a valid grant (a bearer token for CHAT_LIVE_GRANT_SECONDS): tested below
        response = getattr(client, method)(url, data, **extra)
        missing = getattr(client, method)(missing_url, data, **extra)
        assert (response.status_code, response.content) == (missing.status_code, missing.content), (method, url)
        assert response.status_code == 404, (method, url)
    assert [m.comment for m in selectors.room_history(room_id="den", limit=10).items] == ["message 000", "message 001",
                                                                                         "message 002"]
    assert [m.user_id for m in selectors.all_room_members(room_id="den")] == ["alice"]
    assert selectors.room_get(room_id="den").name == "Den"


def test_a_private_room_costs_a_non_member_the_same_reads_as_a_missing_room(client, den):
    sign_in(client, "bob")
    client.get("/rooms/den/")
    with count_calls() as private:
        assert client.get("/rooms/den/").status_code == 404
    with count_calls() as missing:
        assert client.get("/rooms/nowhere/").status_code == 404
    # session + the sidebar Query, then the room: cached for a room that exists (public rooms too),
    # read for one that doesn't. No read happens only for private rooms.
    assert private == {"Query": 2} and missing == {"Query": 2, "GetItem": 1}, (private, missing)


# --- the room page: sidebar context and budget --------------------------------------------------------


@pytest.mark.parametrize("kind", ["public", "private"])
def test_room_page_with_a_two_hundred_room_sidebar_is_three_calls(client, moto_tables, kind, settings):
    # What the first page put in this process's caches stays there for the second, however slow
    # a loaded machine makes the first (a 2 s Seq cache ran out between them now and then).
    settings.CHAT_ROOM_SEQ_CACHE_SECONDS = settings.CHAT_ROOM_CACHE_SECONDS = 600
    settings.ACCOUNTS_USER_RECHECK_SECONDS = 600
    rooms_created([f"Room {n:03d}" for n in range(199)], created_by="alice",
                  kinds=["private" if n % 2 else "public" for n in range(199)])
    services.room_create(name="Zed", created_by="alice", kind=kind)
    sign_in(client, "alice")
    client.get("/rooms/zed/")  # the room and the user now cached in this process
    room_tail.clear_tails()  # the history from DynamoDB, not a fresh tail (test_room_page_call_budget.py)
    with count_calls() as calls:
        response = client.get("/rooms/zed/")
    assert response.status_code == 200
    assert dict(calls) == {"Query": 3}, calls  # the session, the sidebar, the history
    rooms = response.context["your_rooms"]
    assert len(rooms) == 200 and rooms[-1].name == "Zed" and rooms[0].url == "/rooms/room-000/"
    assert response.context["current_room_id"] == "zed" and response.context["is_member"] is True
    assert response.context["can_manage"] is True


def test_the_sidebar_is_on_pages_of_rooms_not_joined_and_a_join_or_leave_shows_at_once(client, room):
    sign_in(client, "bob")
    response = client.get("/rooms/art/")
    body = response.content.decode()
    assert sidebar_ids(response) == [] and response.context["is_member"] is False
    assert ">Join room</button>" in body and "Leave room" not in body
    assert client.post("/rooms/art/join").status_code == 302
    response = client.get("/rooms/art/")
    assert sidebar_ids(response) == ["art"] and ">Leave room</button>" in response.content.decode()
    assert "Join room" not in response.content.decode()
    client.post("/rooms/art/join")  # twice: a quiet no-op
    assert "You are already in Art." in client.get("/rooms/art/").content.decode()
    assert client.post("/rooms/art/leave").status_code == 302
    assert sidebar_ids(client.get("/rooms/art/")) == []
    client.post("/rooms/art/leave")  # not in it: a quiet no-op
    assert "You were not in Art." in client.get("/rooms/art/").content.decode()


def test_signed_out_people_see_no_membership_buttons_and_joining_asks_them_to_sign_in(client, room):
    body = client.get("/rooms/art/").content.decode()
    assert "Join room" not in body and "Leave room" not in body
    response = client.post("/rooms/art/join")
    assert response.status_code == 302 and "next=/rooms/art/" in response["Location"]


def test_posting_in_a_public_room_joins_it_once(client, room):
    sign_in(client, "bob")
    page = client.get("/rooms/art/")
    assert 'name="join" value="True"' in page.content.decode()
    with count_calls() as calls:
        response = client.post("/rooms/art/messages", {"comment": "hello", "idempotency_key": composer_key(page),
                                                       "join": "True"}, **HX)
    assert response.status_code == 200
    # the message with its live event (one batch), and the two membership items (once)
    assert calls["BatchWriteItem"] == 1 and calls["PutItem"] == 2, calls
    assert 'name="join" value=""' in response.content.decode()  # the composer stops asking, out of band
    assert sidebar_ids(client.get("/rooms/art/")) == ["art"]


def test_a_members_post_stays_at_four_calls(client, room):
    sign_in(client, "alice")
    page = client.get("/rooms/art/")
    # A member's page takes the room from their sidebar entry, so it no longer fills this process's
    # room cache; a serving process has the room cached (posting reads it through the cache).
    selectors.room_get(room_id="art")
    assert 'name="join" value="False"' in page.content.decode()
    with count_calls() as calls:
        client.post("/rooms/art/messages", {"comment": "hi", "idempotency_key": composer_key(page), "join": "False"},
                    **HX)
    assert sum(calls.values()) == 4, calls  # session, post guard, the room's Seq, the message batch


# --- private rooms: invite, remove, rename ------------------------------------------------------------


def test_the_owner_invites_by_username_and_the_invitee_reads_and_posts(client, den):
    ensure_user_item("bob", display_name="Bob B")
    sign_in(client, "alice")
    body = client.get("/rooms/den/").content.decode()
    assert '<label for="id_username">Invite by username</label>' in body and ">Invite</button>" in body
    assert "Join room" not in body
    response = client.post("/rooms/den/invite", {"username": "bob"}, follow=True)
    assert "Bob B can now read and post in Den." in response.content.decode()
    response = client.post("/rooms/den/invite", {"username": "bob"}, follow=True)
    assert "Bob B is already a member of Den." in response.content.decode()
    response = client.post("/rooms/den/invite", {"username": "nobody"}, follow=True)
    assert "There is no user named “nobody”" in response.content.decode()
    assert [m.user_id for m in selectors.all_room_members(room_id="den")] == ["alice", "bob"]

    sign_in(client, "bob", display_name="Bob B")
    response = client.get("/rooms/den/")
    assert response.status_code == 200 and "message 002" in response.content.decode()
    assert sidebar_ids(response) == ["den"] and response.context["can_manage"] is False
    key = composer_key(response)
    assert client.post("/rooms/den/messages", {"comment": "hi all", "idempotency_key": key}).status_code == 302
    assert "hi all" in client.get("/rooms/den/").content.decode()


def test_a_member_invites_too_but_only_the_owner_removes_and_renames(client, den):
    for name in ("bob", "carol"):
        ensure_user_item(name)
    services.room_invite(room=den, username="bob")
    sign_in(client, "bob")
    client.post("/rooms/den/invite", {"username": "carol"})
    assert [m.user_id for m in selectors.all_room_members(room_id="den")] == ["alice", "bob", "carol"]
    members_page = client.get("/rooms/den/members/").content.decode()
    assert "Remove" not in members_page and "Room settings" not in members_page
    assert client.post("/rooms/den/members/remove", {"user": "carol"}).status_code == 403
    assert client.post("/rooms/den/settings", {"name": "Bobs", "description": ""}).status_code == 403

    sign_in(client, "alice")
    members_page = client.get("/rooms/den/members/").content.decode()
    assert members_page.count(">Remove<span") == 2  # bob and carol, not the owner herself
    response = client.post("/rooms/den/members/remove", {"user": "carol"}, follow=True)
    assert "carol was removed from Den." in response.content.decode()
    response = client.post("/rooms/den/members/remove", {"user": "carol"}, follow=True)
    assert "carol was not a member of Den." in response.content.decode()
    response = client.post("/rooms/den/settings", {"name": "Den of Thieves", "description": "shh"})
    assert response.status_code == 302
    assert selectors.room_get(room_id="den").name == "Den of Thieves"
    assert [r.name for r in selectors.user_rooms(user_id="bob")] == ["Den of Thieves"]
    assert client.post("/rooms/den/settings", {"name": "#", "description": ""}).status_code == 400


def test_a_member_who_leaves_a_private_room_loses_it(client, den):
    ensure_user_item("bob")
    services.room_invite(room=den, username="bob")
    sign_in(client, "bob")
    response = client.post("/rooms/den/leave")
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/rooms/den/").status_code == 404
    assert client.post("/rooms/den/leave").status_code == 404  # now it is a room bob can't see


def test_a_sidebar_entry_whose_room_is_gone_links_to_a_404_and_the_pages_still_work(client, room, moto_tables):
    from chatsite import keys
    from rooms.models import UserRoomRecord
    # A leftover (a delete interrupted between the sidebar sweep and the room record, say).
    UserRoomRecord(keys.user_pk("alice"), keys.user_room_sk("gone"), room_name="Gone", kind="private",
                   role="member", joined_at="2024-01-01T00:00:00.000Z").save()
    sign_in(client, "alice")
    response = client.get("/rooms/art/")
    assert response.status_code == 200 and sidebar_ids(response) == ["art", "gone"]
    assert client.get("/rooms/gone/").status_code == 404


# --- live updates of a private room -------------------------------------------------------------------


def test_a_private_rooms_poll_needs_a_grant_costs_nothing_warm_and_stops_a_removed_member(
        client, den, settings, monkeypatch):
    settings.CHAT_LIVE_GRANT_SECONDS = 1
    # Grant expiries are read from the wall clock: this test moves it instead of sleeping through
    # the grant (a real 1 s grant could also lapse on a loaded host before the warm poll).
    wall = [1_000_000.0]
    monkeypatch.setattr(live, "time", types.SimpleNamespace(
        time=lambda: wall[0], monotonic=time.monotonic, sleep=time.sleep))
    ensure_user_item("bob")
    services.room_invite(room=den, username="bob")
    sign_in(client, "bob")
    w = watermark(client.get("/rooms/den/").content.decode())
    poll = client.get(f"/rooms/den/updates?w={w}", **HX)
    assert poll.status_code in (200, 204)  # the seeded messages, if the cursor lists none of them
    with count_calls() as calls:
        poll = client.get(f"/rooms/den/updates?w={poll['Chat-Watermark']}", **HX)
    assert poll.status_code in (200, 204) and sum(calls.values()) == 0, calls  # warm: no DynamoDB call
    w = poll["Chat-Watermark"]

    wall[0] += 1.1  # the grant runs out: the tab is told to renew it
    assert client.get(f"/rooms/den/updates?w={w}", **HX).status_code == 403
    with count_calls() as calls:
        renewed = client.get(f"/rooms/den/updates/grant?w={w}")
    assert renewed.status_code == 204 and sum(calls.values()) == 2, calls  # the session, the membership
    assert client.get(f"/rooms/den/updates?w={renewed['Chat-Watermark']}", **HX).status_code in (200, 204)

    services.member_remove(room=den, actor=request_user("alice"), user_id="bob")
    wall[0] += 1.1
    assert client.get(f"/rooms/den/updates?w={renewed['Chat-Watermark']}", **HX).status_code == 403
    assert client.get(f"/rooms/den/updates/grant?w={renewed['Chat-Watermark']}").status_code == 404


def test_a_public_rooms_poll_is_unchanged_and_a_grant_is_no_watermark_elsewhere(client, room, den):
    sign_in(client, "alice")
    w_public = watermark(client.get("/rooms/art/").content.decode())
    w_private = watermark(client.get("/rooms/den/").content.decode())
    assert w_public.count(".") == 1 and w_private.count(".") == 2
    assert client.get(f"/rooms/art/updates?w={w_public}", **HX).status_code in (200, 204)
    assert client.get(f"/rooms/art/updates?w={w_private}", **HX).status_code == 400
    assert client.get(f"/rooms/den/updates?w={w_public}", **HX).status_code == 404
