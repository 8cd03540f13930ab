"""What the benchmark's data looks like, shared by the seeding (bench/seed.py) and the floor view
(bench/floor.py), so the floor renders the same kind of page the room page does."""

from __future__ import annotations

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


def filler_room(i: int) -> str:
    return f"Bench filler {i:02d}"


def sidebar_rooms() -> list[tuple[str, str]]:
    """(name, kind) of every room a bench user is in: what the sidebar lists on every page."""
    return [(name, "private" if role == "private" else "public") for role, name in ROLE_ROOMS.items()] + \
        [(filler_room(i), "public") for i in range(FILLER_ROOMS)]

_WORDS = ("the deploy went fine but the cache warmed slowly so we retried twice and checked the "
          "graphs https://example.com/dashboards/42 before lunch; anyone up for a review?").split()


def username(i: int) -> str:
    return f"bench{i:03d}"


def display_name(i: int) -> str:
    return f"Bench User {i}"


def comment_text(i: int) -> str:
    """Chat-like text of 40 to 150 characters; every 7th message carries a URL (linkified)."""
    n = 8 + (i * 7) % 18
    words = [_WORDS[(i + k * 3) % len(_WORDS)] for k in range(n)]
    if i % 7:
        words = [w for w in words if not w.startswith("http")]
    return " ".join(words)[:150]
