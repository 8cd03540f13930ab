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
ROLE_ROOMS = {"small": SMALL_ROOM, "big": BIG_ROOM, "post": POST_ROOM, "live": LIVE_ROOM, "private": PRIVATE_ROOM}
FILLER_ROOMS = SIDEBAR_ROOMS - len(ROLE_ROOMS)  # public rooms, so the sidebar and the room list are full
ROOMS_OWNER = "benchrooms"  # owns the many-rooms phase's rooms beyond the sidebar's (never signed in)


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
