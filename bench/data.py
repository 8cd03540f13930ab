"""What the benchmark's data looks like, shared by the seeding (bench/seed.py) and the floor view
(bench/floor.py), so the floor renders the same kind of page the room page does."""

from __future__ import annotations

import bisect
import random

PASSWORD = "bench-password-not-secret-1"  # bench users only, in a throwaway dynalite
USER_AGENT = "chatsite-bench/1 (locust)"  # the same for sign-in and load, so sessions see one device

SMALL_ROOM = "Bench small"  # 100 messages
BIG_ROOM = "Bench big"  # --big-room messages, written with BatchWriteItem
POST_ROOM = "Bench post"  # the post phase writes here, so the small room stays at 100
LIVE_ROOM = "Bench live"  # live ticks and watchers
PRIVATE_ROOM = "Bench private"  # private, 100 messages: the room page of a room only members can read
PERMALINK_BACK = 5_000  # the permanent link measured: this many messages back in the big room (half of a smaller one)
SIDEBAR_ROOMS = 200  # every bench user is a member of this many rooms, the measured ones included
# Rooms each bench user has unread messages in when the phases start: the small and private rooms
# (their 100 messages came after the joins) and one post in each of the first fillers.
UNREAD_ROOMS = 20
# The measured rooms' readers (the small and the private room), like the readers of a busy room:
# most are caught up (they read as messages arrive), so their page is the newest; a minority has a
# few unread, within what the room tail holds (CHAT_HISTORY_PAGE_SIZE + 1 newest messages, less the
# page's 5 read ones above the first unread); a few have more unread than the tail holds (the page
# around their read cursor comes from DynamoDB). (name, share, unread range) each; seed.seed sets
# the read cursors with rooms.services.read_cursor_advance, as a reading tab does.
READER_MIX = (("caught-up", 0.80, (0, 0)), ("few-unread", 0.15, (1, 30)), ("many-unread", 0.05, (60, 100)))
READER_COOKIE = "benchreader"  # the reader's group, beside the session cookie (bench/middleware.py echoes it)
ROLE_ROOMS = {"small": SMALL_ROOM, "big": BIG_ROOM, "post": POST_ROOM, "live": LIVE_ROOM, "private": PRIVATE_ROOM}
FILLER_ROOMS = SIDEBAR_ROOMS - len(ROLE_ROOMS)  # public rooms, so the sidebar and the room list are full
ROOMS_OWNER = "benchrooms"  # owns the many-rooms phase's rooms beyond the sidebar's (never signed in)


def reader_groups(count: int) -> list[str]:
    """The READER_MIX group of each of ``count`` users, in order: the first caught up (the profiled
    and checked session), the others spread evenly, so any run of consecutive sessions (wrk takes
    them round-robin) has the mix. With 3 or more users every group has at least one."""
    shares = [(name, share) for name, share, _ in READER_MIX]
    minority = {name: (max(1, round(share * count)) if count >= 3 else 0) for name, share in shares[1:]}
    sizes = {shares[0][0]: count - sum(minority.values()), **minority}
    # Each group's members at evenly spaced points of [0, 1); the first group wins ties.
    points = sorted(((j + 0.5) / size, k, name) for k, (name, size) in enumerate(sizes.items()) for j in range(size))
    return [name for _, _, name in points]


def reader_unread(groups: list[str], messages: int) -> list[int]:
    """Unread messages of each user in a measured room of ``messages`` messages: spread over their
    group's range (at most ``messages``)."""
    ranges = {name: span for name, _, span in READER_MIX}
    members = {name: [i for i, g in enumerate(groups) if g == name] for name in ranges}
    unread = [0] * len(groups)
    for name, (lo, hi) in ranges.items():
        found = members[name]
        for j, i in enumerate(found):
            unread[i] = min(messages, lo + (round(j * (hi - lo) / (len(found) - 1)) if len(found) > 1 else (hi - lo) // 2))
    return unread


def filler_room(i: int) -> str:
    return f"Bench filler {i:02d}"


def warm_room(i: int) -> str:
    return f"Bench many {i:04d}"


def sidebar_rooms() -> list[tuple[str, str]]:
    """(name, kind) of every room a bench user is in: what the sidebar lists on every page."""
    return [(name, "private" if role == "private" else "public") for role, name in ROLE_ROOMS.items()] + \
        [(filler_room(i), "public") for i in range(FILLER_ROOMS)]

# Chat text for search to find: words drawn from a made-up vocabulary with Zipf frequencies (a few
# words in most messages, most words rare), as in real chat. Pseudo-words of 2-4 syllables share
# prefixes, so a prefix query matches several words. Deterministic: every run has the same texts.
VOCABULARY_SIZE = 5_000
ZIPF_EXPONENT = 1.07
DISTINCT_TEXTS = 20_000  # the big room repeats these (message i says text i % DISTINCT_TEXTS)
_URL = "https://example.com/dashboards/42"


def _vocabulary() -> tuple[list[str], list[float]]:
    syllables = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
    rng = random.Random(20261127)
    words: dict[str, None] = {}
    while len(words) < VOCABULARY_SIZE:
        words.setdefault("".join(rng.choice(syllables) for _ in range(rng.choice((2, 2, 3, 3, 3, 4)))))
    cumulative, total = [], 0.0
    for rank in range(1, VOCABULARY_SIZE + 1):
        total += rank ** -ZIPF_EXPONENT
        cumulative.append(total)
    return list(words), cumulative


_VOCABULARY, _CUMULATIVE = _vocabulary()


def username(i: int) -> str:
    return f"bench{i:03d}"


def display_name(i: int) -> str:
    return f"Bench User {i}"


def comment_text(i: int) -> str:
    """Chat-like text of 40 to 150 characters, 6 to 20 words of the Zipf vocabulary; every 7th
    message carries a URL (linkified)."""
    rng = random.Random(i)
    words = [_VOCABULARY[bisect.bisect_left(_CUMULATIVE, rng.random() * _CUMULATIVE[-1])]
             for _ in range(rng.randint(6, 20))]
    if i % 7 == 0:
        words.insert(rng.randint(0, len(words)), _URL)
    text = " ".join(words)
    while len(text) < 40:
        text += " " + _VOCABULARY[rng.randrange(100)]
    return text[:150].rstrip()
