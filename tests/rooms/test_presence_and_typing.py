"""Presence ("Here now") and typing on moto: each beat or typing signal is one live event in the
room's partition, throttled per process; feeds read them with the message Query and drop them by
time (an injected clock); the room page and the stream render them; only people who may be in
the room can send them, and what they cost."""

from __future__ import annotations

import re
import time

import pytest
from django.test import Client

from chatsite import keys
from chatsite.dynamodb import count_calls
from rooms import live, presence, selectors, services, validators
from rooms.live import RoomFeed
from rooms.timestamps import now_ms
from tests.rooms.test_streams import Reader, open_stream
from tests.support.sessions import request_user, sign_in

ALICE = request_user("alice")  # display name "Alice"
BOB = request_user("bob")


class Clock:
    def __init__(self):
        self.ms = now_ms()

    def __call__(self) -> int:
        return self.ms

    def advance(self, seconds: float) -> None:
        self.ms += int(seconds * 1000)


@pytest.fixture
def art(moto_tables):
    room = services.room_create(name="Art", created_by="alice")
    services.membership_add(room=room, user_id="bob", display_name="Bob")
    return room


@pytest.fixture
def den(moto_tables):
    room = services.room_create(name="Den", created_by="alice", kind="private")
    services.membership_add(room=room, user_id="bob", display_name="Bob")
    return room


def events(room_id: str, since_ms: int):
    return selectors.live_events_since(room_id=room_id, since=live.iso_from_ms(since_ms))


def feed(room_id: str, clock: Clock) -> RoomFeed:
    return RoomFeed(room_id, clock=clock)


# --- writes and throttles ----------------------------------------------------------------------


def test_a_beat_is_one_live_event_in_the_rooms_partition_with_a_short_ttl(art):
    clock = Clock()
    with count_calls() as calls:
        assert presence.beat(room=art, user=ALICE, state="here", clock=clock) is True
    assert dict(calls) == {"GetItem": 1, "PutItem": 1}  # the public room's membership, the event
    [record] = events("art", clock.ms - 1000)
    at, ref = keys.live_event_sk_parts(record.SK)
    assert record.PK == keys.room_pk("art") and ref == "p-alice" and live.ms_from_iso(at) == clock.ms
    assert (record.author, record.author_name, record.state) == ("alice", "Alice", "here")
    assert record.expires_at == clock.ms // 1000 + 300
    _, _, signals, _ = live.query_room_events("art", clock.ms - 1000)
    assert [(s.kind, s.user_id, s.name, s.state) for s in signals] == [("p-", "alice", "Alice", "here")]


def test_beats_write_once_per_fifteen_seconds_per_process_unless_the_state_changes(art):
    clock = Clock()
    assert presence.beat(room=art, user=ALICE, state="here", clock=clock)
    clock.advance(14)
    with count_calls() as calls:  # another tab of hers, or the same one early: nothing to write
        assert presence.beat(room=art, user=ALICE, state="here", clock=clock) is False
    assert sum(calls.values()) == 0
    assert presence.beat(room=art, user=BOB, state="here", clock=clock)  # per user
    assert presence.beat(room=art, user=ALICE, state="away", clock=clock) is True  # the state changed
    clock.advance(0.2)
    assert presence.beat(room=art, user=ALICE, state="here", clock=clock) is True  # a reload: here again at once
    clock.advance(0.5)
    assert presence.beat(room=art, user=ALICE, state="away", clock=clock) is False  # flipping: a second apart
    clock.advance(0.5)
    assert presence.beat(room=art, user=ALICE, state="away", clock=clock) is True
    clock.advance(0.1)
    assert presence.beat(room=art, user=ALICE, state="here", clock=clock) is True
    clock.advance(15)
    assert presence.beat(room=art, user=ALICE, state="here", clock=clock) is True
    mine = [keys.live_event_sk_parts(r.SK)[1] + ":" + r.state for r in events("art", clock.ms - 60_000)
            if r.author == "alice"]
    assert mine == ["p-alice:here", "p-alice:away", "p-alice:here", "p-alice:away", "p-alice:here", "p-alice:here"]


def test_typing_writes_at_most_once_per_three_seconds_per_typist(art):
    clock = Clock()
    written = 0
    for _ in range(40):  # 10 s of keystrokes, four a second
        with count_calls() as calls:
            if presence.typing(room=art, user=BOB, clock=clock):
                written += 1
                assert dict(calls) == {"PutItem": 1}
            else:
                assert sum(calls.values()) == 0
        clock.advance(0.25)
    assert written == 4  # at 0, 3, 6 and 9 s
    refs = [keys.live_event_sk_parts(r.SK)[1] for r in events("art", clock.ms - 20_000)]
    assert refs == ["t-bob"] * 4


def test_a_member_only_beat_in_a_public_room_is_refused_to_a_non_member_and_not_throttled_for_later(art):
    carol = request_user("carol")
    with pytest.raises(presence.NotMember):
        presence.beat(room=art, user=carol, state="here")
    services.membership_add(room=art, user_id="carol", display_name="Carol")
    assert presence.beat(room=art, user=carol, state="here") is True  # joined: her next beat counts


# --- reading them: feeds, expiry by time ------------------------------------------------------


def test_a_feed_shows_a_member_here_until_their_beat_is_older_than_the_window(art):
    clock = Clock()
    presence.beat(room=art, user=ALICE, state="here", clock=clock)
    presence.beat(room=art, user=BOB, state="here", clock=clock)
    room_feed = feed("art", clock)
    clock.advance(1)
    room_feed.refresh_now()
    assert [p.name for p in presence.view(room_feed).here] == ["Alice", "Bob"]
    clock.advance(20)
    presence.beat(room=art, user=BOB, state="here", clock=clock)  # bob's tab beats again; alice's stopped
    room_feed.refresh_now()
    clock.advance(23.9)  # alice's beat is 44.9 s old
    assert room_feed.expire_signals() is False
    assert [p.name for p in presence.view(room_feed).here] == ["Alice", "Bob"]
    revision = room_feed.revision
    clock.advance(0.1)  # 45 s: she drops off, and the revision tells the streams
    assert room_feed.expire_signals() is True and room_feed.revision > revision
    assert [p.name for p in presence.view(room_feed).here] == ["Bob"]
    revision = room_feed.revision
    room_feed.refresh_now()  # her old item is still stored (dynalite never deletes): not read back in
    assert room_feed.revision == revision and [p.name for p in presence.view(room_feed).here] == ["Bob"]


def test_presence_is_per_tab_so_one_tabs_away_never_hides_another_tab_that_is_here(art):
    """A reload: the new page's "here" can reach the server before the old page's "away" (a
    keepalive fetch on pagehide); with several tabs, one going idle must not hide the others."""
    clock = Clock()
    room_feed = feed("art", clock)
    presence.beat(room=art, user=ALICE, state="here", tab="oldpage", clock=clock)
    clock.advance(1)
    presence.beat(room=art, user=ALICE, state="here", tab="newpage", clock=clock)
    clock.advance(0.2)
    presence.beat(room=art, user=ALICE, state="away", tab="oldpage", clock=clock)  # arrives last
    room_feed.refresh_now()
    assert [p.user_id for p in presence.view(room_feed).here] == ["alice"]
    clock.advance(1)
    presence.beat(room=art, user=ALICE, state="away", tab="newpage", clock=clock)
    room_feed.refresh_now()
    assert presence.view(room_feed).here == ()  # every tab away: gone at once


def test_a_beats_tab_id_must_be_a_short_token(client, art):
    sign_in(client, "bob")
    assert client.post("/rooms/art/presence", {"state": "here", "tab": "x" * 25}).status_code == 400
    assert client.post("/rooms/art/presence", {"state": "here", "tab": "a#b"}).status_code == 400
    assert client.post("/rooms/art/presence", {"state": "here", "tab": "Ab3-_x"}).status_code == 204


def test_away_drops_a_member_at_once(art):
    clock = Clock()
    presence.beat(room=art, user=ALICE, state="here", clock=clock)
    room_feed = feed("art", clock)
    room_feed.refresh_now()
    clock.advance(2)
    presence.beat(room=art, user=ALICE, state="away", clock=clock)
    room_feed.refresh_now()
    assert presence.view(room_feed).here == ()


def test_a_restarting_feed_reads_back_the_whole_presence_window(art):
    clock = Clock()
    presence.beat(room=art, user=ALICE, state="here", clock=clock)
    clock.advance(40)  # older than the feed's usual 30 s of memory, within the 45 s window
    room_feed = feed("art", clock)
    room_feed.refresh_now()
    assert [p.user_id for p in presence.view(room_feed).here] == ["alice"]


def test_typing_shows_for_five_seconds_after_the_last_signal(art):
    clock = Clock()
    presence.typing(room=art, user=BOB, clock=clock)
    presence.typing(room=art, user=ALICE, clock=clock)
    room_feed = feed("art", clock)
    room_feed.refresh_now()
    assert [p.name for p in presence.view(room_feed).typing] == ["Alice", "Bob"]
    clock.advance(4.9)
    room_feed.refresh_now()
    assert len(presence.view(room_feed).typing) == 2
    clock.advance(0.1)
    assert room_feed.expire_signals() is True and presence.view(room_feed).typing == ()


def test_typing_stops_showing_at_once_when_the_typists_message_arrives(art):
    clock = Clock()
    clock.advance(-1)  # the typing signal comes before the (real-clock) post below
    presence.typing(room=art, user=BOB, clock=clock)
    room_feed = feed("art", clock)
    room_feed.refresh_now()
    assert [p.name for p in presence.view(room_feed).typing] == ["Bob"]
    services.message_post(room=art, author=BOB, comment="done typing", idempotency_key=validators.new_token())
    room_feed.refresh_now()
    assert presence.view(room_feed).typing == ()  # at once, not when the signal ages out


# --- rendering ---------------------------------------------------------------------------------


def test_render_signals_lists_here_now_and_says_who_else_is_typing(art):
    clock = Clock()
    bold = request_user("eve")
    bold = type(bold)(id="eve", username="eve", display_name="<b>Eve</b>", is_staff=False)
    services.membership_add(room=art, user_id="eve", display_name="<b>Eve</b>")
    for user in (ALICE, BOB, bold):
        presence.beat(room=art, user=user, state="here", clock=clock)
    presence.typing(room=art, user=ALICE, clock=clock)
    room_feed = feed("art", clock)
    room_feed.refresh_now()
    for_bob = dict(presence.render_signals(room_feed, viewer_id="bob"))
    assert list(for_bob) == ["presence", "typing"]
    here = for_bob["presence"]
    assert here.startswith('<ul class="here-now-list" aria-labelledby="here-now-heading">')
    assert re.findall(r'<li data-user="([^"]+)">', here) == ["eve", "alice", "bob"]  # by name: "<b>Eve</b>" first
    assert "&lt;b&gt;Eve&lt;/b&gt;" in here and "<b>" not in here
    assert for_bob["typing"] == "Alice is typing…"
    assert dict(presence.render_signals(room_feed, viewer_id="alice"))["typing"] == ""  # not your own
    presence.typing(room=art, user=BOB, clock=clock)
    presence.typing(room=art, user=bold, clock=clock)
    room_feed.refresh_now()
    assert dict(presence.render_signals(room_feed, viewer_id=None))["typing"] == (
        "&lt;b&gt;Eve&lt;/b&gt;, Alice and Bob are typing…")
    assert dict(presence.render_signals(room_feed, viewer_id="eve"))["typing"] == "Alice and Bob are typing…"


def test_the_room_page_shows_here_now_from_this_processs_feed_without_another_call(client, art):
    sign_in(client, "bob", display_name="Bob")
    page = client.get("/rooms/art/").content.decode()
    assert '<h2 id="here-now-heading" class="here-now-heading">Here now</h2>' in page
    assert re.findall(r'<li data-user="([^"]+)">', page) == ["bob"]  # the member loading it is here
    assert 'aria-live="polite" aria-atomic="true"' in page and 'id="typing"' in page
    presence.beat(room=art, user=ALICE, state="here")
    presence.typing(room=art, user=ALICE)
    with count_calls() as cold:
        client.get("/rooms/art/")
    live.feed_for("art").refresh_now()  # this process streams or polls the room: its feed is warm
    with count_calls() as warm:
        page = client.get("/rooms/art/").content.decode()
    assert dict(warm) == dict(cold)  # the feed is memory: no DynamoDB call for presence
    assert re.findall(r'<li data-user="([^"]+)">', page) == ["alice", "bob"]
    assert "Alice is typing…" in page


# --- over HTTP: access and cost ----------------------------------------------------------------


def test_a_member_beats_and_types_with_204_and_those_calls(client, den):
    sign_in(client, "bob", display_name="Bob")
    client.get("/rooms/den/")  # a page first, as a tab would: the user item is cached
    with count_calls() as calls:
        assert client.post("/rooms/den/presence", {"state": "here"}).status_code == 204
    # The session, the room (a member's page fills no room cache), the membership, the beat.
    assert dict(calls) == {"Query": 1, "GetItem": 2, "PutItem": 1}
    services.membership_add(room=den, user_id="carol", display_name="Carol")
    sign_in(client, "carol", display_name="Carol")
    client.get("/rooms/den/")
    with count_calls() as calls:
        assert client.post("/rooms/den/presence", {"state": "here"}).status_code == 204
    assert dict(calls) == {"Query": 1, "GetItem": 1, "PutItem": 1}  # the room now cached: like a post
    sign_in(client, "bob", display_name="Bob")
    client.get("/rooms/den/")
    with count_calls() as calls:
        assert client.post("/rooms/den/presence", {"state": "here"}).status_code == 204
    assert dict(calls) == {"Query": 1, "GetItem": 1}  # throttled: no write
    with count_calls() as calls:
        assert client.post("/rooms/den/typing").status_code == 204
    assert dict(calls) == {"Query": 1, "GetItem": 1, "PutItem": 1}
    assert client.post("/rooms/den/presence", {"state": "asleep"}).status_code == 400
    assert client.get("/rooms/den/presence").status_code == 405
    refs = [keys.live_event_sk_parts(r.SK)[1] for r in events("den", now_ms() - 10_000)]
    assert refs == ["p-bob", "p-carol", "t-bob"]


def test_a_public_rooms_beat_costs_its_membership_read_only_when_it_writes(client, art):
    sign_in(client, "bob", display_name="Bob")
    client.get("/rooms/art/")
    with count_calls() as calls:
        assert client.post("/rooms/art/typing").status_code == 204
    assert dict(calls) == {"Query": 1, "GetItem": 1, "PutItem": 1}  # session, room (then cached), signal
    with count_calls() as calls:
        assert client.post("/rooms/art/presence", {"state": "here"}).status_code == 204
    assert dict(calls) == {"Query": 1, "GetItem": 1, "PutItem": 1}  # session, membership, beat
    with count_calls() as calls:
        assert client.post("/rooms/art/presence", {"state": "here"}).status_code == 204
    assert dict(calls) == {"Query": 1}  # the session only


@pytest.mark.parametrize("url", ["/rooms/den/presence", "/rooms/den/typing"])
def test_a_private_room_answers_non_members_as_a_room_that_never_existed(client, den, url):
    assert client.post(url, {"state": "here"}).status_code == 404  # signed out
    sign_in(client, "mallory")
    assert client.post(url, {"state": "here"}).status_code == 404
    assert client.post(url.replace("/den/", "/never-made/"), {"state": "here"}).status_code == 404
    assert events("den", now_ms() - 10_000) == []


def test_a_direct_conversation_takes_signals_from_its_people_only(client, moto_tables):
    from tests.support.users import ensure_user_item
    for name in ("alice", "bob", "mallory"):
        ensure_user_item(name)
    room_id = services.direct_start(starter=ALICE, usernames=["bob"])
    sign_in(client, "mallory")
    assert client.post(f"/rooms/{room_id}/typing").status_code == 404
    sign_in(client, "bob", display_name="Bob")
    assert client.post(f"/rooms/{room_id}/typing").status_code == 204
    assert client.post(f"/rooms/{room_id}/presence", {"state": "here"}).status_code == 204
    refs = sorted(keys.live_event_sk_parts(r.SK)[1] for r in events(room_id, now_ms() - 10_000))
    assert refs == ["p-bob", "t-bob"]


def test_in_a_public_room_the_signed_out_get_403_and_non_members_may_type_but_not_beat(client, art):
    assert client.post("/rooms/art/presence", {"state": "here"}).status_code == 403
    assert client.post("/rooms/art/typing").status_code == 403
    sign_in(client, "carol")
    assert client.post("/rooms/art/presence", {"state": "here"}).status_code == 403
    assert client.post("/rooms/art/typing").status_code == 204  # she may post: posting joins
    refs = [keys.live_event_sk_parts(r.SK)[1] for r in events("art", now_ms() - 10_000)]
    assert refs == ["t-carol"]


def test_signals_need_the_csrf_token(moto_tables, art):
    strict = Client(enforce_csrf_checks=True)
    sign_in(strict, "bob")
    assert strict.post("/rooms/art/presence", {"state": "here"}).status_code == 403
    page = strict.get("/rooms/art/").content.decode()
    token = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
    assert strict.post("/rooms/art/presence", {"state": "here"}, HTTP_X_CSRFTOKEN=token).status_code == 204
    assert strict.post("/rooms/art/typing", HTTP_X_CSRFTOKEN=token).status_code == 204


# --- the stream ---------------------------------------------------------------------------------


@pytest.fixture
def streaming(settings):
    settings.CHAT_LIVE_STREAMS = "on"
    settings.CHAT_LIVE_PUSH_REFRESH_SECONDS = 0.05
    settings.CHAT_LIVE_HEARTBEAT_SECONDS = 0.3


def test_a_stream_pushes_here_now_and_typing_and_drops_them_when_they_expire(client, art, streaming, settings):
    settings.CHAT_PRESENCE_WINDOW_SECONDS = 1.5  # short windows, real time: the stream must wake by itself
    settings.CHAT_TYPING_WINDOW_SECONDS = 0.8
    settings.CHAT_LIVE_HEARTBEAT_SECONDS = 30  # no heartbeat to wake it meanwhile
    sign_in(client, "bob", display_name="Bob")
    reader = Reader(open_stream(client))
    reader.wait_for("event: presence\ndata: <ul")
    presence.beat(room=art, user=ALICE, state="here")  # this process: published at once
    arrived = reader.wait_for('data-user="alice"')
    assert arrived.startswith("event: presence\n")
    typed = time.monotonic()
    presence.typing(room=art, user=ALICE)
    assert reader.wait_for("Alice is typing…").startswith("event: typing\n")
    _wait_last(reader, "typing", lambda data: data == "event: typing\ndata: \n\n")
    assert 0.6 < time.monotonic() - typed < 0.8 + 1.0  # gone when its window ends (plus a loose margin)
    _wait_last(reader, "presence", lambda data: 'data-user="alice"' not in data)
    assert not any("event: reload" in c for c in reader.chunks)
    reader.close()


def _wait_last(reader: Reader, name: str, predicate, timeout: float = 4) -> None:
    """Until the last ``name`` event the stream sent satisfies ``predicate``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate([c for c in reader.chunks if c.startswith(f"event: {name}\n")][-1]):
            return
        time.sleep(0.01)
    raise AssertionError(reader.chunks)


def test_a_stream_does_not_resend_unchanged_signals(client, art, streaming):
    sign_in(client, "bob", display_name="Bob")
    reader = Reader(open_stream(client))
    reader.wait_for("event: presence")
    presence.beat(room=art, user=ALICE, state="here")
    reader.wait_for('data-user="alice"')
    services.message_post(room=art, author=ALICE, comment="hello", idempotency_key=validators.new_token())
    reader.wait_for("hello")
    reader.wait_for("event: beat")
    presence_events = [c for c in reader.chunks if c.startswith("event: presence")]
    typing_events = [c for c in reader.chunks if c.startswith("event: typing")]
    assert len(presence_events) == 2 and len(typing_events) == 1, reader.chunks  # the first, then alice
    reader.close()


@pytest.mark.parametrize("path", ["presence", "typing"])
def test_a_signed_in_non_member_pays_the_same_reads_for_a_private_and_a_missing_room(client, den, path):
    sign_in(client, "mallory")
    client.get("/")  # her user item cached, like any signed-in visitor's
    selectors.room_get(room_id="den")  # and the room, as any page of it leaves it in the room cache
    counts = []
    for room_id in ("den", "never-made"):
        with count_calls() as calls:
            assert client.post(f"/rooms/{room_id}/{path}", {"state": "here"}).status_code == 404
        counts.append(dict(calls))
    assert counts[0] == counts[1] == {"Query": 1, "GetItem": 1}, counts  # the session; membership / the room
