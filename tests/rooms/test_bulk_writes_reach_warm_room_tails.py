"""Writers that bypass live events (purge_messages, import_room, delete_room's sweep) still reach a
room page served from a warm room tail, on this process and on every other, within the stated
bound: CHAT_LIVE_REFRESH_SECONDS after the writer's mark (docs/live-updates.md, "Bulk writers").

Tails and feeds run on a clock the test moves forward (no sleeping); DynamoDB's own times are real.
"""

from __future__ import annotations

import re
import time
from types import SimpleNamespace

import pytest
from django.core.management import call_command
from django.test import Client

from chatsite import keys
from chatsite.dynamodb import count_calls
from rooms import live, room_tail, selectors, services, validators
from rooms.timestamps import iso_from_ms, now_ms
from tests.support.seeding import messages_posted
from tests.support.sessions import request_user, sign_in

SHOWN = re.compile(r'<li class="message" id="m-([^"]+)"')


class Clock:
    """The tails' and feeds' clock: real time plus what the test has moved it on."""

    def __init__(self):
        self.offset = 0.0

    def ms(self) -> int:
        return now_ms() + int(self.offset * 1000)

    def monotonic(self) -> float:
        return time.monotonic() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@pytest.fixture
def clock(monkeypatch, settings):
    settings.CHAT_POST_RATE_LIMIT = 1000
    settings.CHAT_ROOM_TAILS_MAX = 1000  # tails on, whatever the environment says
    moved = Clock()
    monkeypatch.setattr(room_tail, "now_ms", moved.ms)
    monkeypatch.setattr(live, "now_ms", moved.ms)
    monkeypatch.setattr(live, "time", SimpleNamespace(monotonic=moved.monotonic, time=time.time))
    return moved


@pytest.fixture
def history_reads(monkeypatch):
    """Loads of a tail and pages read from room history's Query (the real functions)."""
    counts = {"index": 0}
    for name in ("room_history", "room_tail_messages"):
        real = getattr(selectors, name)

        def counted(*args, _real=real, **kwargs):
            counts["index"] += 1
            return _real(*args, **kwargs)
        monkeypatch.setattr(selectors, name, counted)
    return counts


def shown(client, path="/rooms/art/") -> list[str]:
    response = client.get(path)
    assert response.status_code == 200, response.status_code
    return SHOWN.findall(response.content.decode())


def past_the_bound(clock, settings) -> None:
    """Past CHAT_LIVE_REFRESH_SECONDS: no tail is served without a feed refresh started after now."""
    clock.advance(settings.CHAT_LIVE_REFRESH_SECONDS + 0.001)


def test_purged_messages_leave_a_warm_tails_room_page_within_the_refresh_interval(
        clock, room, settings, history_reads):
    posted = messages_posted(room, [f"message {n:02d}" for n in range(60)], author=request_user("bob"))
    client = Client()
    assert shown(client) == [m.message_id for m in posted[10:]]
    assert shown(client) == [m.message_id for m in posted[10:]] and history_reads["index"] == 1  # warm
    call_command("purge_messages", "--room", "art", "--before", posted[55].created_at, "--yes")
    past_the_bound(clock, settings)
    assert shown(client) == [m.message_id for m in posted[55:]]
    # Until an overlap after the mark (the index may lag it), a page reads the index, as with tails off...
    reads = history_reads["index"]
    assert shown(client) == [m.message_id for m in posted[55:]]
    assert history_reads["index"] == reads + 1
    # ...then the tail is served from memory again: no call at all for a signed-out reader.
    clock.advance(settings.CHAT_LIVE_OVERLAP_SECONDS)
    assert shown(client) == [m.message_id for m in posted[55:]]
    with count_calls() as calls:
        assert shown(client) == [m.message_id for m in posted[55:]]
    assert dict(calls) == {}, calls


def test_an_open_tab_is_sent_the_deletion_of_each_purged_message_and_never_its_post(clock, room, settings):
    posted = messages_posted(room, [f"message {n:02d}" for n in range(60)], author=request_user("bob"))
    watermark = clock.ms() - 5000  # a tab whose page is a few seconds old: owed these posts
    call_command("purge_messages", "--room", "art", "--before", posted[55].created_at, "--yes")
    past_the_bound(clock, settings)
    for answer in (live.updates(room_id="art", watermark_ms=watermark, seen=frozenset()),
                   live.direct_updates(room_id="art", watermark_ms=watermark, seen=frozenset())):
        deleted = {e.message_id for e in answer.events if e.is_deletion}
        sent = [e.message_id for e in answer.events if not e.is_deletion]
        assert deleted == {m.message_id for m in posted[:55]}  # posted within the resume window: all
        assert sent == [m.message_id for m in posted[55:]]


def test_of_older_purged_messages_only_those_a_page_can_show_get_deletion_events(moto_tables, settings):
    at = now_ms() - 3600_000  # an hour ago: past any post event a feed or a tab still reads
    message_keys = [(keys.user_pk("bob"), keys.message_sk(iso_from_ms(at + n), validators.new_token()))
                    for n in range(80)]
    announced = services.deletions_to_announce(message_keys)
    assert announced == [keys.message_sk_parts(sk)[1] for _, sk in message_keys[-(settings.CHAT_HISTORY_PAGE_SIZE + 1):]]


def test_imported_messages_show_on_a_warm_tails_room_page_within_the_refresh_interval(
        clock, room, settings, tmp_path):
    before = messages_posted(room, ["here before"], author=request_user("bob"))
    client = Client()
    assert shown(client) == [m.message_id for m in before]
    assert shown(client) == [m.message_id for m in before]  # from the tail
    source = services.room_create(name="Source", created_by="alice")
    messages_posted(source, ["imported one", "imported two"], author=request_user("alice"))
    export = tmp_path / "source.jsonl"
    call_command("export_room", "source", "--output", str(export))
    call_command("import_room", str(export), "--room", "art")
    past_the_bound(clock, settings)
    page = client.get("/rooms/art/").content.decode()
    assert "here before" in page and "imported one" in page and "imported two" in page


def test_a_members_page_while_delete_room_sweeps_never_shows_a_swept_message(clock, room, settings):
    settings.CHAT_ROOM_DELETE_GRACE_SECONDS = 0
    posted = messages_posted(room, [f"message {n:02d}" for n in range(60)], author=request_user("alice"))
    assert services.read_cursor_advance(user_id="alice", room_id="art", seq=posted[-1].seq, pos=posted[-1].sk)
    client = Client()
    sign_in(client, "alice")  # the owner: her sidebar entry opens the room until the sweep ends
    assert shown(client) == [m.message_id for m in posted[10:]]
    assert shown(client) == [m.message_id for m in posted[10:]]  # from the tail
    pages = []

    def mid_sweep(n):
        if not pages:  # after the first batch of deletions
            past_the_bound(clock, settings)
            left = {m.message_id for m in selectors.room_history(room_id="art", limit=100).items}
            pages.append((shown(client), left))

    services.room_delete(room_id="art", progress=mid_sweep, sleep=lambda seconds: None)
    (page, left), = pages
    assert 0 < len(left) < 60
    assert set(page) <= left and page == [m.message_id for m in posted if m.message_id in left][-50:]
    assert client.get("/rooms/art/").status_code == 404  # and once it has returned, the room is gone


def test_two_hosts_tails_both_drop_purged_messages_and_a_load_in_the_marks_overlap_is_not_kept(
        clock, room, settings):
    """Two hosts (each its own feed and tail, nothing told to them directly); the second loads
    during the mark's overlap from an index that has not caught up with the purge yet."""
    posted = messages_posted(room, [f"message {n:02d}" for n in range(60)], author=request_user("bob"))
    hosts = []
    for _ in range(2):
        feed = live.RoomFeed("art", clock=clock.ms)
        tail = room_tail.RoomTail("art", room.created_at, clock=clock.ms)
        feed.follower = tail
        assert [m.message_id for m in tail.fresh_view(feed).items] == [m.message_id for m in posted[9:]]
        hosts.append((tail, feed))
    before_purge = selectors.room_tail_messages(room_id="art", limit=settings.CHAT_HISTORY_PAGE_SIZE + 1)
    call_command("purge_messages", "--room", "art", "--before", posted[55].created_at, "--yes")
    past_the_bound(clock, settings)
    left = [m.message_id for m in posted[55:]]
    (one, one_feed), (two, two_feed) = hosts
    assert [m.message_id for m in one.fresh_view(one_feed).items] == left

    loads = []

    def lagging_index(**kwargs):  # the index still shows the purged messages
        loads.append(kwargs)
        return list(before_purge) if len(loads) == 1 else selectors.room_tail_messages(**kwargs)
    two.loader = lagging_index
    # Not the tail from before the purge: a load, which here reads a lagging index (what a page
    # read from DynamoDB would show, tails or not)...
    two.fresh_view(two_feed)
    assert len(loads) == 1
    # ...but a load in the mark's overlap serves only the page that made it: the next page loads again.
    assert [m.message_id for m in two.fresh_view(two_feed).items] == left and len(loads) == 2
    clock.advance(settings.CHAT_LIVE_OVERLAP_SECONDS)
    two.fresh_view(two_feed)
    assert len(loads) == 3
    with count_calls() as calls:
        assert [m.message_id for m in two.fresh_view(two_feed).items] == left
    assert dict(calls) == {} and len(loads) == 3


def test_a_long_bulk_write_marks_the_room_when_it_starts_every_half_overlap_and_when_done(room, settings):
    seconds = [0.0]
    marks = services.HistoryMarks("art", clock=lambda: seconds[0])
    for step in range(12):  # progress after each batch, one second apart
        seconds[0] += 1
        marks(25)
    marks.done()
    written = live.query_room_events("art", now_ms() - 60_000).history_marks
    # start, after 5 and 10 s (CHAT_LIVE_OVERLAP_SECONDS / 2 = 5), done
    assert settings.CHAT_LIVE_OVERLAP_SECONDS == 10 and len(written) == 4


def test_a_mark_costs_one_batch_write_and_its_deletion_events_one_more_per_25(room):
    with count_calls() as alone:
        services.room_history_changed(room_id="art")
    assert dict(alone) == {"BatchWriteItem": 1}
    with count_calls() as with_deletions:
        services.room_history_changed(room_id="art", deleted_message_ids=[validators.new_token() for _ in range(51)])
    assert dict(with_deletions) == {"BatchWriteItem": 3}  # 51 deletion events and the mark: 52 items
