"""A member's notification setting for a room (moto): **All messages**, **Mentions only** (the
default of public and private rooms) or **Nothing**, all by default in a direct conversation; the
form on the room page, POST /rooms/<id>/notifications (CSRF, members only, a private room's
non-members get the 404 of a room that does not exist), HTMX and plain answers, its `c-` activity
event and its call budget."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from chatsite import keys
from chatsite.dynamodb import count_calls
from rooms import activity, selectors, services
from tests.rooms.test_views import HX
from tests.support.sessions import request_user, sign_in
from tests.support.users import ensure_user_item


def level(user_id: str, room_id: str) -> str:
    return selectors.user_room_get(user_id=user_id, room_id=room_id).notify_level


def setting_events(user_id: str) -> list[activity.Activity]:
    """The `c-` events in the user's activity shard."""
    records = selectors.activity_since(shard=activity.shard_of(user_id), since="2000-01-01T00:00:00.000Z")
    events = [r if isinstance(r, activity.Activity) else activity.Activity.from_record(r) for r in records]
    return [e for e in events if e.kind == keys.ACTIVITY_SETTING and e.user_id == user_id]


def checked(page: str) -> str | None:
    match = re.search(r'<input type="radio" name="notify" value="(\w+)"[^>]*checked', page)
    return match.group(1) if match else None


@pytest.fixture
def bob_in_art(client, room):
    bob = sign_in(client, "bob")
    services.room_join(room=room, user=bob)
    return room


def test_defaults_mentions_in_public_and_private_rooms_all_in_direct_conversations(moto_tables):
    for user_id in ("alice", "bob"):
        ensure_user_item(user_id)
    public = services.room_create(name="Art", created_by="alice")
    private = services.room_create(name="Den", created_by="alice", kind="private")
    direct = services.direct_start(starter=request_user("alice"), usernames=["bob"])
    assert level("alice", public.room_id) == "mentions"
    assert level("alice", private.room_id) == "mentions"
    assert level("alice", direct) == "all" and level("bob", direct) == "all"


def test_the_room_page_shows_the_three_choices_with_the_one_in_force_checked(client, bob_in_art):
    page = client.get("/rooms/art/").content.decode()
    text = " ".join(re.sub(r"<[^>]+>", " ", page).split())
    for words in ("All messages", "Mentions only", "Nothing", "Turn on desktop notifications"):
        assert words in text, words
    assert checked(page) == "mentions"
    assert 'action="/rooms/art/notifications"' in page
    services.notify_set(user_id="bob", room_id="art", level="none")
    assert checked(client.get("/rooms/art/").content.decode()) == "none"
    sign_in(client, "carol")  # not a member of this public room: no form to show
    assert "/rooms/art/notifications" not in client.get("/rooms/art/").content.decode()


def test_a_change_is_one_update_and_one_activity_event_a_repeat_only_the_update(client, bob_in_art):
    client.get("/rooms/art/")  # this process has bob's user item, as while he reads the room
    selectors.room_get(room_id="art")  # and the room, as a serving process has (cold: + 1 GetItem)
    with count_calls() as calls:
        response = client.post("/rooms/art/notifications", {"notify": "all"}, **HX)
    assert response.status_code == 200 and level("bob", "art") == "all"
    # the session, the conditional UpdateItem (also the membership check), the c- event
    assert calls == {"Query": 1, "UpdateItem": 1, "BatchWriteItem": 1}, calls
    body = response.content.decode()
    assert "Saved: All messages." in body and checked(body) == "all"
    assert 'id="notifications-level" hx-swap-oob="true">All messages<' in body
    [event] = setting_events("bob")
    assert (event.room_id, event.notify) == ("art", "all")
    with count_calls() as calls:  # the same value again: nothing for the tabs to learn
        assert client.post("/rooms/art/notifications", {"notify": "all"}, **HX).status_code == 200
    assert calls == {"Query": 1, "UpdateItem": 1}, calls
    assert len(setting_events("bob")) == 1


def test_the_tabs_state_follows_the_event(client, bob_in_art):
    """The event is what a stream's UnreadState applies: the setting in force changes with it."""
    state = activity.UnreadState.start("bob", selectors.user_rooms(user_id="bob"), {})
    assert state.rooms["art"].notify_level == "mentions"
    client.post("/rooms/art/notifications", {"notify": "none"}, **HX)
    assert state.apply_all(setting_events("bob")) and state.rooms["art"].notify_level == "none"


def test_a_plain_form_redirects_back_to_the_room_with_a_note(client, bob_in_art):
    response = client.post("/rooms/art/notifications", {"notify": "none"})
    assert response.status_code == 302 and response["Location"] == "/rooms/art/"
    page = client.get("/rooms/art/").content.decode()
    assert "Notifications for Art: Nothing." in page and checked(page) == "none"


@pytest.mark.parametrize("value", ["", "everything", "ALL", "all " * 100])
def test_a_value_that_is_not_a_choice_is_refused_and_changes_nothing(client, bob_in_art, value):
    response = client.post("/rooms/art/notifications", {"notify": value}, **HX)
    assert response.status_code == 400
    assert "Choose All messages, Mentions only or Nothing." in response.content.decode()
    plain = client.post("/rooms/art/notifications", {"notify": value})
    assert plain.status_code == 400 and "Choose All messages" in plain.content.decode()
    assert "Traceback" not in plain.content.decode()
    assert level("bob", "art") == "mentions" and setting_events("bob") == []


def test_signed_out_goes_to_sign_in_and_a_public_rooms_non_member_is_refused(client, room):
    response = client.post("/rooms/art/notifications", {"notify": "all"})
    assert response.status_code == 302 and "next=/rooms/art/" in response["Location"]
    sign_in(client, "carol")
    for data in ({"notify": "all"}, {"notify": "bogus"}):
        assert client.post("/rooms/art/notifications", data, **HX).status_code == 403
    assert selectors.user_room_get(user_id="carol", room_id="art") is None  # the update made no item
    assert setting_events("carol") == []


def test_csrf_is_required(room):
    strict = Client(enforce_csrf_checks=True)
    bob = sign_in(strict, "bob")
    services.room_join(room=room, user=bob)
    assert strict.post("/rooms/art/notifications", {"notify": "all"}).status_code == 403
    assert level("bob", "art") == "mentions"
    page = strict.get("/rooms/art/").content.decode()
    token = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
    assert strict.post("/rooms/art/notifications", {"notify": "all"}, HTTP_X_CSRFTOKEN=token).status_code == 302
    assert level("bob", "art") == "all"


@pytest.mark.parametrize("who", ["anonymous", "signed-in non-member"])
@pytest.mark.parametrize("data", [{"notify": "all"}, {"notify": "bogus"}, {}])
def test_a_private_rooms_non_members_get_the_404_of_a_missing_room(client, moto_tables, who, data):
    services.room_create(name="Den", created_by="alice", kind="private")
    if who != "anonymous":
        sign_in(client, "bob")
    for extra in ({}, HX):
        private = client.post("/rooms/den/notifications", data, **extra)
        missing = client.post("/rooms/nowhere/notifications", data, **extra)
        assert (private.status_code, private.content) == (missing.status_code, missing.content) and \
            private.status_code == 404, (who, data, extra)
    assert selectors.user_room_get(user_id="bob", room_id="den") is None


def test_a_private_rooms_member_may_choose(client, moto_tables):
    den = services.room_create(name="Den", created_by="alice", kind="private")
    sign_in(client, "bob")
    services.room_invite(room=den, username="bob")
    assert client.post("/rooms/den/notifications", {"notify": "all"}, **HX).status_code == 200
    assert level("bob", "den") == "all"


def test_the_service_refuses_a_non_member_and_an_unknown_level(moto_tables, room):
    with pytest.raises(services.NotAMember):
        services.notify_set(user_id="nobody", room_id="art", level="all")
    with pytest.raises(ValueError):
        services.notify_set(user_id="alice", room_id="art", level="loud")
    assert services.notify_set(user_id="alice", room_id="art", level="none") is True
    assert services.notify_set(user_id="alice", room_id="art", level="none") is False


def test_a_direct_conversations_page_shows_all_messages_checked(client, moto_tables):
    for user_id in ("alice", "bob"):
        ensure_user_item(user_id)
    direct = services.direct_start(starter=request_user("alice"), usernames=["bob"])
    sign_in(client, "bob")
    page = client.get(f"/rooms/{direct}/").content.decode()
    assert checked(page) == "all" and 'id="notifications-level">All messages<' in page
    assert client.post(f"/rooms/{direct}/notifications", {"notify": "mentions"}, **HX).status_code == 200
    assert checked(client.get(f"/rooms/{direct}/").content.decode()) == "mentions"
