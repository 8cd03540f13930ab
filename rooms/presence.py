"""Presence ("Here now") and typing: short-lived live events in the room's partition.

A tab open on a room beats (``beat``) every ~20 s while it is visible and in use, and says
"away" when it goes idle or closes. Beats are per tab (a random id the tab makes on load): a
person is here while any of their tabs is, so a reload's old page saying "away" late, or one of
several tabs going idle, never hides them. A typist's tab sends ``typing`` at most every 3 s. Each is one
PutItem of a live event `Room:<id>` / `ev#<at>#p-<user id>` (or `t-<user id>`), read by every
process's feed with the same consistent Query as messages (rooms.live), so it reaches other
people's streams by the same path and in the same time. Writes are throttled per process (one per
user per room per CHAT_PRESENCE_WRITE_SECONDS, or at once when the state changes; typing: one per
CHAT_TYPING_WRITE_SECONDS); items expire by TTL and reads filter by time (rooms.live.Signal.expired).

Who shows: in a non-public room, its members (the views check membership before anything is
written); in a public room, members for presence (one GetItem before each write) and any signed-in
person for typing (they may post, and posting joins). A typist stops showing when their signal is
older than CHAT_TYPING_WINDOW_SECONDS, or at once when a message of theirs later than it arrives.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

from django.conf import settings
from django.template import loader

from chatsite import caches, keys
from rooms import live, selectors, streams
from rooms.live import PRESENCE_REF_PREFIX, TYPING_REF_PREFIX, RoomFeed, Signal
from rooms.models import LiveEventRecord, Room
from rooms.timestamps import iso_from_ms, now_ms

HERE = "here"
AWAY = "away"
STATES = (HERE, AWAY)
HERE_NOW_SHOWN = 50  # names listed; more are "and N more"
STATE_CHANGE_MS = 1000


class NotMember(Exception):
    """Presence in a public room is for its members."""


# --- writes, throttled per process -------------------------------------------------------------

_last_write: dict[tuple[str, str, str], tuple[int, str]] = {}  # (kind, room, user#tab) -> (ms, state)
_last_write_lock = threading.Lock()
_LAST_WRITE_MAX = 50_000


@caches.register
def clear_throttles() -> None:
    with _last_write_lock:
        _last_write.clear()


def _claim_write(kind: str, room_id: str, user_id: str, state: str, now: int, every_ms: int) -> bool:
    """True if this process should write now: nothing written for this user, room and kind within
    ``every_ms``, or (presence) the state changed. Claimed before the write, so concurrent beats
    of one user's tabs make one write."""
    key = (kind, room_id, user_id)
    with _last_write_lock:
        last = _last_write.get(key)
        # A changed state goes at once, so a reload's "here" follows its old page's "away"; but
        # "away" waits a second after any write, so a tab flipping states writes twice a second at most.
        if last is not None and now - last[0] < (every_ms if last[1] == state else STATE_CHANGE_MS if state == AWAY else 0):
            return False
        if len(_last_write) >= _LAST_WRITE_MAX:
            horizon = now - 2 * every_ms
            for stale in [k for k, (ms, _) in _last_write.items() if ms < horizon]:
                del _last_write[stale]
        _last_write[key] = (now, state)
        return True


def _release_write(kind: str, room_id: str, user_id: str, now: int) -> None:
    """The write failed: let the next beat try again."""
    with _last_write_lock:
        if _last_write.get((kind, room_id, user_id), (None,))[0] == now:
            del _last_write[(kind, room_id, user_id)]


def signal_put(*, room_id: str, kind: str, user_id: str, name: str, state: str, at_ms: int, tab: str = "") -> None:
    """One PutItem `Room:<id>` / `ev#<at>#<p-|t-><user id>[#<tab>]` with a CHAT_SIGNAL_TTL_SECONDS TTL."""
    subject = f"{user_id}#{tab}" if tab else user_id
    LiveEventRecord(keys.room_pk(room_id), keys.live_event_sk(iso_from_ms(at_ms), f"{kind}{subject}"),
                    expires_at=at_ms // 1000 + settings.CHAT_SIGNAL_TTL_SECONDS, author=user_id,
                    author_name=name, state=state).save()


def _signal(*, room: Room, user, kind: str, state: str, every_seconds: float,
            check: Callable[[], None] | None, clock: Callable[[], int], tab: str = "") -> bool:
    now = clock()
    writer = f"{user.id}#{tab}"
    if not _claim_write(kind, room.room_id, writer, state, now, int(every_seconds * 1000)):
        return False
    name = user.display_name or user.username
    try:
        if check is not None:
            check()
        signal_put(room_id=room.room_id, kind=kind, user_id=user.id, name=name, state=state, at_ms=now, tab=tab)
    except BaseException:
        _release_write(kind, room.room_id, writer, now)
        raise
    # This process's streams show it at once; others read it at their next refresh.
    streams.publish(room.room_id, signal=Signal(at_ms=now, kind=kind, user_id=user.id, name=name, state=state,
                                                tab=tab))
    return True


def beat(*, room: Room, user, state: str, tab: str = "", clock: Callable[[], int] = now_ms) -> bool:
    """A presence beat of ``user``'s tab on ``room`` ("here" or "away"). True if it was written:
    one PutItem (signal_put), and in a public room first one GetItem (selectors.user_room_get,
    NotMember if they are not a member); False, with no DynamoDB call, when this process wrote the
    same state for them less than CHAT_PRESENCE_WRITE_SECONDS ago. The caller has checked
    membership of a non-public room."""
    if state not in STATES:
        raise ValueError(state)

    def member() -> None:
        if selectors.user_room_get(user_id=user.id, room_id=room.room_id) is None:
            raise NotMember(room.room_id)

    return _signal(room=room, user=user, kind=PRESENCE_REF_PREFIX, state=state,
                   every_seconds=settings.CHAT_PRESENCE_WRITE_SECONDS, check=member if room.is_public else None,
                   clock=clock, tab=tab)


def typing(*, room: Room, user, clock: Callable[[], int] = now_ms) -> bool:
    """``user`` is typing in ``room``: one PutItem (signal_put), or nothing when this process wrote
    one for them less than CHAT_TYPING_WRITE_SECONDS ago. The caller has checked that they may post."""
    return _signal(room=room, user=user, kind=TYPING_REF_PREFIX, state="", every_seconds=settings.CHAT_TYPING_WRITE_SECONDS,
                   check=None, clock=clock)


# --- what the room shows -----------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    user_id: str
    name: str


@dataclass(frozen=True)
class SignalView:
    here: tuple[Person, ...]  # ordered by name
    typing: tuple[Person, ...]


def view(feed: RoomFeed | None) -> SignalView:
    """Who is here and who is typing, from a feed's memory (no DynamoDB call)."""
    if feed is None:
        return SignalView((), ())
    signals = feed.live_signals()
    # Here if any of their tabs last said "here" within the window (each tab's latest counts).
    here = list({s.user_id: Person(s.user_id, s.name or s.user_id) for s in signals
                 if s.kind == PRESENCE_REF_PREFIX and s.state == HERE}.values())
    typists = [s for s in signals if s.kind == TYPING_REF_PREFIX]
    if typists:
        posted = feed.last_posts()
        typists = [s for s in typists if posted.get(s.user_id, -1) < s.at_ms]  # their message arrived: done
    order = lambda p: (p.name.casefold(), p.user_id)  # noqa: E731
    return SignalView(tuple(sorted(here, key=order)),
                      tuple(sorted((Person(s.user_id, s.name or s.user_id) for s in typists), key=order)))


# Every stream of a room renders after each change: the work is shared, per feed revision (and
# half second, for expiry between refresher passes), and the HTML per distinct list of names.
_views: dict[str, tuple[int, int, int, SignalView]] = {}
_views_lock = threading.Lock()


@caches.register
def clear_views() -> None:
    with _views_lock:
        _views.clear()
    _here_html.cache_clear()
    _typing_html.cache_clear()


def _shared_view(feed: RoomFeed) -> SignalView:
    key = (id(feed), feed.revision, feed.clock() // 500)
    with _views_lock:
        cached = _views.get(feed.room_id)
    if cached is not None and cached[:3] == key:
        return cached[3]
    current = view(feed)
    with _views_lock:
        if len(_views) > 10_000:
            _views.clear()
        _views[feed.room_id] = (*key, current)
    return current


@lru_cache(maxsize=4096)
def _here_html(people: tuple[Person, ...]) -> str:
    return loader.render_to_string("rooms/_here_now.html", here_context(people)).strip()


@lru_cache(maxsize=4096)
def _typing_html(names: tuple[str, ...]) -> str:
    return loader.render_to_string("rooms/_typing.html", {"typing_names": list(names)}).strip()


def here_context(people: tuple[Person, ...]) -> dict:
    return {"here_now": people[:HERE_NOW_SHOWN], "here_now_more": max(0, len(people) - HERE_NOW_SHOWN)}


def typing_names(current: SignalView, viewer_id: str | None) -> tuple[str, ...]:
    return tuple(p.name for p in current.typing if p.user_id != viewer_id)


def render_signals(feed: RoomFeed, *, viewer_id: str | None) -> list[tuple[str, str]]:
    """The stream's signal events (rooms.streams.stream): the Here now list and, for this viewer,
    the typing line (without their own typing)."""
    current = _shared_view(feed)
    return [("presence", _here_html(current.here)), ("typing", _typing_html(typing_names(current, viewer_id)))]


def page_context(room_id: str, *, viewer=None, viewer_is_member: bool = False) -> dict:
    """For the room page: from this process's feed if it has one, no DynamoDB call. A member
    loading the page is here (their tab's first beat follows at once)."""
    current = view(live.existing_feed(room_id))
    here = current.here
    if viewer is not None and viewer_is_member and not any(p.user_id == viewer.id for p in here):
        me = Person(viewer.id, viewer.display_name or viewer.username)
        here = tuple(sorted((*here, me), key=lambda p: (p.name.casefold(), p.user_id)))
    return {**here_context(here), "typing_names": list(typing_names(current, viewer.id if viewer else None))}
