"""The benchmark's "room pages of N rooms in turn" phase in-process, each DynamoDB call of each page
named by its access pattern (tests/rooms/room_page_patterns.py): a warm process (the sessions and
the sidebar's Seqs held, the activity hub running at production intervals), 240 signed-in readers
with a 200-room sidebar taking pages in turn of 195 rooms they are in and 800 public rooms they are
not in, the way wrk asks for them (this process serving about half, as one of two workers), and
another process posting now and then. A page's first view on the process is *cold*, later ones
*steady*.

A measurement, run when asked (it takes a few minutes):

    ROOM_PAGE_PATTERNS=60 .venv/bin/python -m pytest -p no:randomly -s \
        tests/rooms/test_room_pages_in_turn_calls_by_pattern.py

(the value: seconds of views; ROOM_PAGE_PATTERNS_OUT=<file> also writes the JSON); it prints, for
cold and steady views, how many views made each count of calls, and per pattern (and why it was
made) the views that made it."""

from __future__ import annotations

import json
import os
import random
import time
from collections import Counter

import pytest
from django.conf import settings as django_settings

from chatsite import keys
from chatsite.batch import batch_put_items
from rooms import selectors
from rooms.models import UserRoomRecord
from rooms.timestamps import iso_from_ms, now_ms
from tests.rooms.room_page_patterns import Recorder, messages_elsewhere
from tests.support.seeding import rooms_created
from tests.support.sessions import signed_in_session

SECONDS = float(os.environ.get("ROOM_PAGE_PATTERNS") or 0)
pytestmark = [pytest.mark.skipif(not SECONDS, reason="a measurement: ROOM_PAGE_PATTERNS=<seconds> runs it"),
              pytest.mark.timeout(SECONDS + 1200)]  # the scene and the warm-up take minutes

READERS = 240
SIDEBAR = 200
MEASURED = 5  # the sidebar's rooms the benchmark measures elsewhere (not in the phase's paths)
UNREAD_FILLERS = 18  # one post each after the joins: 1 unread for every reader
# Public rooms nobody reading is in; fewer (ROOM_PAGE_PATTERNS_MANY) make a slow host come back to
# each room within the run, for later views.
MANY = int(os.environ.get("ROOM_PAGE_PATTERNS_MANY") or 800)
MANY_MESSAGES = 20
OFFERED_PER_SECOND = 30  # the phase's rate over both workers
POST_EVERY_SECONDS = 2.0


@pytest.fixture
def production_intervals(settings):
    """The production defaults the tests' autouse fixtures turn off (the Seq feed, the session cache
    and its feed), and the other intervals as production has them."""
    settings.CHAT_ROOM_SEQ_FEED_SECONDS = 60
    settings.CHAT_ROOM_SEQ_CACHE_SECONDS = 2
    settings.CHAT_ACTIVITY_REFRESH_SECONDS = 1
    settings.ACCOUNTS_SESSION_CACHE_SECONDS = 3
    settings.ACCOUNTS_SESSION_FEED_SECONDS = 1
    settings.ACCOUNTS_SESSION_CACHE_WITH_FEED_SECONDS = 60
    settings.CHAT_LIVE_REFRESH_SECONDS = 0.5
    settings.CHAT_ROOM_CACHE_SECONDS = 30
    settings.CHAT_POST_RATE_LIMIT = 10**6


def scene():
    sidebar = rooms_created([f"Side {n:03d}" for n in range(SIDEBAR)], created_by="owner")
    many = rooms_created([f"Many {n:04d}" for n in range(MANY)], created_by="benchrooms")
    users, cookies = [], []
    for n in range(READERS):
        user, cookie = signed_in_session(f"reader{n:03d}")
        users.append(user)
        cookies.append(cookie)
    joined = iso_from_ms(now_ms())
    items = [UserRoomRecord(keys.user_pk(user.id), keys.user_room_sk(room.room_id), room_name=room.name,
                            kind=room.kind, role="member", joined_at=joined, room_description=room.description,
                            room_created_by=room.created_by, room_created_at=room.created_at, read_seq=0,
                            read_pos=keys.read_pos_through(joined)).serialize()
             for user in users for room in sidebar]
    batch_put_items(items)
    for room in sidebar[MEASURED:MEASURED + UNREAD_FILLERS]:
        messages_elsewhere(room.room_id, 1, "owner")
    for room in many:
        messages_elsewhere(room.room_id, MANY_MESSAGES, "benchrooms")
    return sidebar, many, cookies


def seq_state(room_ids) -> str:
    """Why a page would read the sidebar's Seqs: the feed not fresh, or an entry it keeps too old."""
    now = time.monotonic()
    bounds = selectors._seq_feed_bounds()
    if not selectors.seq_feed.fresh(now, fresh_seconds=bounds["fresh_seconds"]):
        return "Seq feed not fresh"
    with selectors._seq_cache_lock:
        entries = [selectors._seq_cache.get(r) for r in room_ids]
    if any(e is None for e in entries):
        return "Seq entry missing"
    if not all(selectors._seq_fresh(e[0], now, bounds) for e in entries):
        oldest = now - min(e[0] for e in entries)
        return "Seq entry past max age" if oldest >= bounds["max_age"] else "Seq entry read before coverage"
    return "Seqs kept"


def summary(views: list[dict], kind: str) -> dict:
    chosen = [v for v in views if v["kind"] == kind]
    by_calls = Counter(len(v["calls"]) for v in chosen)
    by_pattern: Counter = Counter()
    at_count: dict[int, Counter] = {}
    for view in chosen:
        mix = Counter(f"{op} {pattern}" + (f" [{why}]" if why else "") for op, pattern, why in view["calls"])
        for name in mix:
            by_pattern[name] += 1
        at_count.setdefault(len(view["calls"]), Counter())[
            " + ".join(f"{k}" + (f" x{n}" if n > 1 else "") for k, n in sorted(mix.items()))] += 1
    return {"views": len(chosen), "mean": sum(len(v["calls"]) for v in chosen) / max(1, len(chosen)),
            "by_calls": dict(sorted(by_calls.items())), "views_with_pattern": dict(by_pattern.most_common()),
            "seq_state_of_views_reading_seqs": dict(Counter(
                v["seq_state"] for v in chosen if any(op == "BatchGetItem" for op, _, _ in v["calls"]))),
            "mixes_by_calls": {n: dict(c.most_common(6)) for n, c in sorted(at_count.items())}}


def test_room_pages_in_turn(client, moto_tables, production_intervals):
    sidebar, many, cookies = scene()
    measured = sidebar[:MEASURED]
    paths = [r.room_id for r in sidebar[MEASURED:]] + [r.room_id for r in many]
    members = {r.room_id for r in sidebar}
    sidebar_ids = [r.room_id for r in sidebar]
    rng = random.Random(7)
    with Recorder() as recorder:
        # A warm process: every session's page of a measured room, for a while (the earlier phases).
        for _ in range(1):
            for n, cookie in enumerate(cookies):
                client.cookies[django_settings.SESSION_COOKIE_NAME] = cookie
                assert client.get(f"/rooms/{measured[n % MEASURED].room_id}/").status_code == 200
        recorder.background.clear()
        served: set[str] = set()
        views = []
        started = time.monotonic()
        next_post = started + POST_EVERY_SECONDS
        i = 0
        while time.monotonic() - started < SECONDS:
            due = started + i / OFFERED_PER_SECOND
            path, cookie = paths[i % len(paths)], cookies[i % len(cookies)]
            i += 1
            if rng.random() < 0.5:
                continue  # the other worker's
            if time.monotonic() >= next_post:
                messages_elsewhere(rng.choice(paths), 1, "poster")
                next_post += POST_EVERY_SECONDS
            time.sleep(max(0.0, due - time.monotonic()))
            client.cookies[django_settings.SESSION_COOKIE_NAME] = cookie
            state = seq_state(sidebar_ids)
            with recorder.page() as calls:
                response = client.get(f"/rooms/{path}/")
            assert response.status_code == 200
            views.append({"kind": "steady" if path in served else "cold", "member": path in members,
                          "calls": calls, "seq_state": state, "late_ms": int(1000 * (time.monotonic() - due))})
            served.add(path)
    elapsed = time.monotonic() - started
    report = {"seconds": round(elapsed, 1), "views": len(views), "offered": i,
              "cold": summary(views, "cold"), "steady": summary(views, "steady"),
              "cold_members": summary([v for v in views if v["member"]], "cold"),
              "background": {f"{op} {p}": n for (op, p, _), n in recorder.background.most_common(12)}}
    print(json.dumps(report, indent=1))
    out = os.environ.get("ROOM_PAGE_PATTERNS_OUT")
    if out:
        with open(out, "w") as f:
            json.dump(report, f, indent=1)
