"""What a warm room costs in memory: a process keeps a tail for up to CHAT_ROOM_TAILS_MAX (1,000)
rooms, so each tail's bytes count a thousandfold against the worker RSS target (bench/report.py,
RSS_TARGET_MB at RSS_TARGET_ROOMS). A tail keeps each message as a compact tuple and gives the page
ChatMessages equal to the ones it was given (rooms/room_tail.py)."""

from __future__ import annotations

import dataclasses
import gc
import random
import tracemalloc

import pytest
from django.test import Client
from django.utils.safestring import SafeString

from chatsite import keys
from chatsite.batch import batch_put_items
from rooms import live, room_tail, services, validators
from rooms.models import ChatMessage, Reaction, ReplyQuote
from rooms.timestamps import iso_from_ms, now_ms
from tests.support.seeding import rooms_created

AUTHORS = [(f"user{i:02d}", f"Display Name {i:02d}") for i in range(8)]
WORDS = ["deploy", "dashboard", "review", "lunch", "meeting", "ticket", "merge", "build", "release", "coffee",
         "weekend", "https://example.com/dashboards/42", "yes", "no", "maybe", "later", "thanks", "looks"]


def chat_text(i: int) -> str:
    """40 to 150 characters of chat, as the benchmark's rooms have."""
    rng = random.Random(i)
    text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 20)))
    while len(text) < 40:
        text += " ok"
    return text[:150].rstrip()


def rooms_with_history(count: int, messages: int):
    """``count`` public rooms, each with ``messages`` messages by eight authors, two hours old
    (history, nothing live), written as message_post writes them."""
    rooms = rooms_created([f"Warm {i:03d}" for i in range(count)], created_by="owner")
    newest = now_ms() - 7_200_000
    batch_put_items(services.message_item(room_id=room.room_id, author_id=AUTHORS[j % 8][0],
                                          author_name=AUTHORS[j % 8][1], created_at=iso_from_ms(newest - 50 * j),
                                          message_id=validators.new_token(), comment=chat_text(j))
                    for room in rooms for j in range(messages))
    return rooms


# Measured with 12 rooms of 60 messages, each page viewed once, signed out (the test measures 6):
# 22.5 KB a room with tails of compact tuples; 71.2 KB when they held the ChatMessages themselves
# (their own copies of every string, and the instance dict the page's ``created_ms`` added).
WARM_ROOM_BYTES_BOUND = 45_000  # twice that: loose, as memory differs a little by Python build


def test_a_warm_room_holds_a_few_tens_of_kilobytes(moto_tables, settings):
    settings.CHAT_LIVE_REFRESH_SECONDS = 600  # warm for the whole test, however slow the host
    rooms = rooms_with_history(8, 60)  # 6 measured: the mean per room is steady from a few
    client = Client()
    for room in rooms[:2]:  # first views: imports, templates, caches that are not per room
        assert client.get(f"/rooms/{room.room_id}/").status_code == 200
    measured = rooms[2:]
    tracemalloc.start()
    try:
        for room in measured:
            assert client.get(f"/rooms/{room.room_id}/").status_code == 200
        gc.collect()
        warm = tracemalloc.take_snapshot()
        for room in measured:  # each one warm: a full tail, served from memory
            tail, _feed = room_tail.tail_for(room)
            assert len(tail.view().items) == settings.CHAT_HISTORY_PAGE_SIZE + 1
        room_tail.clear_tails()
        live.clear_feeds()
        gc.collect()
        cleared = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    held = sum(stat.size_diff for stat in warm.compare_to(cleared, "filename"))
    per_room = held / len(measured)
    assert 5_000 < per_room <= WARM_ROOM_BYTES_BOUND, f"{per_room:.0f} bytes per warm room"


def message(n: int, **changes) -> ChatMessage:
    created_at = iso_from_ms(1_700_000_000_000 + n)
    message_id = f"msg{n:017d}"
    fields = dict(room_id="art", author_id="bob", sk=keys.message_sk(created_at, message_id), message_id=message_id,
                  created_at=created_at, author_name="Bob Ünïcode", comment=f"message {n}", seq=n + 1)
    fields.update(changes)
    return ChatMessage(**fields)


def every_kind_of_message() -> list[ChatMessage]:
    quote = ReplyQuote(sk=message(0).sk, author_id="bob", author_name="Bob", excerpt="message 0")
    return [
        message(0),
        message(1, seq=None),
        message(2, mentions=("carol", "dave"), version=3, edit_version=2, edited_at=iso_from_ms(1_700_000_100_000)),
        message(3, reactions=(Reaction(emoji="👍", users=(("carol", "Carol"),)),), version=1),
        message(4, reply_count=2, thread_id=message(4).message_id, version=2),
        message(5, thread_id=message(4).message_id, reply_to=quote),
        message(6, created_at=iso_from_ms(1_700_000_000_006) + "Z"),  # a created_at its SK doesn't spell
        message(7, created_at=""),
        message(8, edited_at="", author_name="", comment=""),
    ]


def test_the_page_gets_each_message_as_the_tail_was_given_it():
    given = every_kind_of_message()
    tail = room_tail.RoomTail("art", loader=lambda **_: list(reversed(given)), clock=lambda: 1_700_000_200_000,
                              capacity=20)
    tail.load()
    items = tail.view().items
    assert items == sorted(given, key=lambda m: m.order)
    assert all(type(m) is ChatMessage for m in items)
    assert [m.created_at for m in items] == [m.created_at for m in sorted(given, key=lambda m: m.order)]


def test_changes_and_posts_folded_in_are_what_the_page_gets():
    given = [message(n) for n in range(5)]
    tail = room_tail.RoomTail("art", loader=lambda limit, **_: list(reversed(given))[:limit],
                              clock=lambda: 1_700_000_200_000, capacity=4)
    tail.load()
    edited = message(3, comment="edited", version=1, edit_version=1, edited_at=iso_from_ms(1_700_000_150_000))
    stale = message(2, comment="an older state", version=0)
    newer = message(9, mentions=("carol",))
    tail.local(live.Event(at_ms=edited.created_ms, message_id=edited.message_id, message=edited, update=True))
    tail.local(live.Event(at_ms=stale.created_ms, message_id=stale.message_id, message=stale, update=True))
    tail.local(live.Event(at_ms=newer.created_ms, message_id=newer.message_id, message=newer))
    assert tail.view().items == [given[2], edited, given[4], newer]  # the oldest fell off past capacity


@pytest.mark.parametrize("field", ["author_id", "author_name", "room_id"])
def test_messages_share_their_authors_and_room_strings(field):
    """Interned: one string per author (and room) however many messages and rooms hold it."""
    copies = [message(n, **{field: "".join(["shared-", "value"])}) for n in range(3)]
    tail = room_tail.RoomTail("art", loader=lambda **_: copies, clock=lambda: 1_700_000_200_000, capacity=10)
    tail.load()
    assert len({id(getattr(m, field)) for m in copies}) == 3  # three copies given
    assert len({id(getattr(m, field)) for m in tail.view().items}) == 1


def test_a_tail_keeps_every_field_of_a_message():
    """A field added to ChatMessage must be kept by the tail too (rooms.room_tail._packed), or the
    page served from memory would lose it."""
    kept = {"room_id", "author_id", "sk", "message_id", "created_at", "author_name", "comment", "seq", "mentions",
            "version", "edit_version", "edited_at", "reactions", "reply_count", "thread_id", "reply_to"}
    assert {f.name for f in dataclasses.fields(ChatMessage)} == kept


def test_strings_of_a_str_subclass_are_kept_as_they_are():
    given = message(0, author_name=SafeString("Bob"), comment=SafeString("<b>hi</b>"))
    tail = room_tail.RoomTail("art", loader=lambda **_: [given], clock=lambda: 1_700_000_200_000, capacity=10)
    tail.load()
    assert tail.view().items == [given] and type(tail.view().items[0].author_name) is SafeString
