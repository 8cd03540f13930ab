"""Pushed live delivery: one Server-Sent Events stream per tab, woken by its room's channel.

Each process keeps one *channel* per room that has open streams. A channel owns the room's feed
(rooms.live.RoomFeed) and one refresher (a thread; a greenlet under gunicorn's gevent worker) that
reads the room's live events every CHAT_LIVE_PUSH_REFRESH_SECONDS with one consistent Query,
whatever the number of streams, and wakes them when something changed. A post or deletion handled
by this process wakes them at once (``publish``), before any Query. So DynamoDB reads per second
are (active rooms × processes) / refresh interval, never a function of the number of open tabs.

A stream (``stream``) is a generator of SSE text. It owes its tab exactly what a poll with the
same cursor would get (docs/live-updates.md, "The cursor"): each event it sends carries, as its
SSE id, the signed watermark and the refs it holds since watermark − overlap, so a reconnecting
EventSource resumes from its Last-Event-ID with nothing lost or doubled. The clock, the sleep of
the wait and the access re-check are injected, so tests drive it without a server.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable, Iterator

from django.conf import settings

from chatsite import caches, metrics
from chatsite.sse import ReadEvent, data_fields, read_event, sse, sse_fields  # noqa: F401 - re-exported
from rooms import live
from rooms.live import Event, RoomFeed, Signal, Updates

logger = logging.getLogger(__name__)

MAX_ID_REFS = 120  # refs carried in an SSE id (a Last-Event-ID header stays well under 8 KB)
RENDERED_KEPT = 64  # recently rendered event lists per channel (streams mostly get the same ones)
CHANNEL_LINGER_SECONDS = 10  # a channel's refresher outlives its last stream this long (reloads)


class Channel:
    """The streams of one room in this process, and the refresher that wakes them."""

    def __init__(self, room_id: str, feed: RoomFeed):
        self.room_id = room_id
        self.feed = feed
        self._changed = threading.Condition()
        self.streams = 0
        self.last_stream_left = time.monotonic()
        self._refresher: threading.Thread | None = None
        self.failures = 0
        self.stalled = False  # the last refresh failed: streams tell their tabs (a "status" event)
        self._rendered: OrderedDict[tuple, str] = OrderedDict()  # events -> their `data:` fields
        self._render_lock = threading.Lock()
        self.closed = False  # the registry dropped it (tests, a cache reset): refresher and streams end

    # --- streams --------------------------------------------------------------------------------

    def join(self) -> None:
        with self._changed:
            self.streams += 1
            if self._refresher is None or not self._refresher.is_alive():
                self._refresher = threading.Thread(target=self._refresh_loop, name=f"live:{self.room_id}",
                                                   daemon=True)
                self._refresher.start()

    def leave(self) -> None:
        with self._changed:
            self.streams -= 1
            self.last_stream_left = time.monotonic()

    def wait(self, revision: int, timeout: float, ready: Callable[[], bool] | None = None) -> int:
        """Until the feed's revision differs from ``revision`` or ``timeout`` passes: the revision.
        ``ready``: something else the stream waits for (its user's activity), checked under the
        lock a wake() takes, so a wake between the caller's last look and this wait is not lost."""
        with self._changed:
            if self.feed.revision == revision and timeout > 0 and not (ready and ready()):
                self._changed.wait(timeout)
            return self.feed.revision

    def rendered(self, events: list[Event], render: Callable[[list[Event]], str]) -> str:
        """The `data:` fields of an `updates` event for ``events``, rendered once per channel: a
        post reaches every stream of the room as the same list, so a thousand streams cost one
        template render, not a thousand. ``render`` must not depend on the stream's viewer."""
        key = tuple((event.ref, event.at_ms) for event in events)
        with self._render_lock:  # held while rendering: the streams woken with it wait, then reuse
            fields = self._rendered.get(key)
            if fields is None:
                fields = self._rendered[key] = data_fields(render(events))
                while len(self._rendered) > RENDERED_KEPT:
                    self._rendered.popitem(last=False)
        return fields

    def wake(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def close(self) -> None:
        with self._changed:
            self.closed = True
            self._changed.notify_all()

    def wait_until_ready(self, timeout: float) -> bool:
        """The feed has had a successful refresh (its memory means something)."""
        deadline = time.monotonic() + timeout
        while self.feed.watermark_ms is None:
            if time.monotonic() >= deadline:
                return False
            self.wait(self.feed.revision, min(0.05, deadline - time.monotonic()))
        return True

    # --- the refresher --------------------------------------------------------------------------

    def _refresh_loop(self) -> None:
        interval = settings.CHAT_LIVE_PUSH_REFRESH_SECONDS
        while True:
            with self._changed:
                if self.closed or (self.streams <= 0
                                   and time.monotonic() - self.last_stream_left > CHANNEL_LINGER_SECONDS):
                    self._refresher = None
                    return
            before = self.feed.revision
            started = time.monotonic()
            was_stalled = self.stalled
            try:
                self.feed.refresh_now()
                self.failures = 0
                self.stalled = False
            except Exception:  # noqa: BLE001 - DynamoDB down or slow: keep serving memory, back off
                self.failures += 1
                self.stalled = True
                if self.failures in (1, 10) or self.failures % 100 == 0:
                    logger.warning("live refresh of room %s failed (%d in a row)", self.room_id, self.failures,
                                   exc_info=True)
            self.feed.expire_signals()  # a member whose beats stopped drops off, a refresh or not
            if self.feed.revision != before or self.stalled != was_stalled:
                self.wake()  # only on change: idle streams sleep until their heartbeat
            pause = interval * min(2 ** self.failures, 20) if self.failures else interval
            time.sleep(max(0.0, pause - (time.monotonic() - started)))


_channels: dict[str, Channel] = {}
_channels_lock = threading.Lock()


@caches.register
def clear_channels() -> None:
    with _channels_lock:
        closing = list(_channels.values())
        _channels.clear()
    for channel in closing:
        channel.close()


def channel_for(room_id: str) -> Channel:
    feed = live.feed_for(room_id)
    with _channels_lock:
        channel = _channels.get(room_id)
        if channel is None or (channel.feed is not feed and channel.streams <= 0):
            for gone in [r for r, c in _channels.items() if c.streams <= 0 and c._refresher is None]:
                del _channels[gone]  # bounded: rooms nobody streams any more
            channel = _channels[room_id] = Channel(room_id, feed)
        return channel


def publish(room_id: str, event: Event | None = None, signal: Signal | None = None) -> None:
    """What this process just wrote to a room: its feed (for streams and polls alike) and its
    streams know at once. A room without a feed in this process has nobody to tell."""
    feed = live.existing_feed(room_id)
    if feed is None:
        return
    if event is not None:
        feed.add_local(event)
    if signal is not None:
        feed.add_signal(signal)
    with _channels_lock:
        channel = _channels.get(room_id)
    if channel is not None:
        channel.wake()


# --- the stream -------------------------------------------------------------------------------


def format_id(token: str, refs: list[str]) -> str:
    return f"{token} {','.join(refs[:MAX_ID_REFS])}" if refs else token


def parse_id(value: str) -> tuple[str, list[str]]:
    """(watermark token, refs) from a Last-Event-ID (``format_id``'s output)."""
    token, _, refs = value.strip().partition(" ")
    return token, [ref for ref in refs.split(",") if ref]


@dataclass
class Cursor:
    """What one stream has told its tab: its watermark and the refs it holds since watermark − overlap."""

    watermark_ms: int
    held: dict[str, int] = field(default_factory=dict)  # ref -> event time (ms)

    @classmethod
    def resumed(cls, watermark_ms: int, seen: frozenset[str], feed: RoomFeed) -> Cursor:
        """A tab's cursor as it (re)opens its stream. Its refs come without their events' times:
        each takes its event's time from the feed's memory, else (an event this feed has not read
        yet, written by a server whose clock may be ahead) one overlap, the bound on clock skew,
        past this server's now. Dropped before its event's time leaves the window, a ref's event
        would be sent again."""
        events = feed.events
        unknown = feed.clock() + feed.overlap_ms
        return cls(watermark_ms, {ref: event.at_ms if (event := events.get(ref)) else unknown for ref in seen})

    def seen(self) -> frozenset[str]:
        return frozenset(self.held)

    def advance(self, answer: Updates, overlap_ms: int) -> None:
        for event in answer.events:
            self.held[event.ref] = event.at_ms
        self.watermark_ms = max(self.watermark_ms, answer.watermark_ms)
        floor = self.watermark_ms - overlap_ms
        self.held = {ref: at for ref, at in self.held.items() if at > floor}

    def refs(self) -> list[str]:
        return [ref for ref, _ in sorted(self.held.items(), key=lambda item: -item[1])]


@dataclass
class StreamSettings:
    heartbeat_seconds: float
    recheck_seconds: float
    overlap_ms: int

    @classmethod
    def from_django(cls) -> StreamSettings:
        return cls(heartbeat_seconds=settings.CHAT_LIVE_HEARTBEAT_SECONDS,
                   recheck_seconds=min(60.0, settings.CHAT_LIVE_STREAM_RECHECK_SECONDS),
                   overlap_ms=int(settings.CHAT_LIVE_OVERLAP_SECONDS * 1000))


class Refused(Exception):
    """The stream can't start: answer as a poll would (``response``: 'reload' or a status)."""


def open_stream(*, room_id: str, watermark_ms: int, seen: frozenset[str],
                admit: Callable[[], None] | None) -> tuple[Channel, Updates]:
    """Join the room's channel and work out what the cursor is owed now: from the feed's memory,
    else a catch-up counted by ``admit`` (live.CatchUpLimited). Stalled if the feed can't get a
    first refresh. The caller must ``leave`` the channel (``stream`` does, when it ends)."""
    channel = channel_for(room_id)
    channel.join()
    try:
        if not channel.wait_until_ready(live.STALL_PATIENCE_SECONDS):
            raise live.Stalled(f"room {room_id}: no live refresh yet")
        answer = channel.feed.updates(watermark_ms=watermark_ms, seen=seen, refresh=False)
        if answer is None:
            answer = live.direct_updates(room_id=room_id, watermark_ms=watermark_ms, seen=seen, admit=admit)
        return channel, answer
    except BaseException:
        channel.leave()
        raise


def stream(*, channel: Channel, first: Updates, cursor: Cursor, render: Callable[[list[Event]], str],
           token: Callable[[int], str], still_allowed: Callable[[], bool],
           render_signals: Callable[[RoomFeed], list[tuple[str, str]]] | None = None,
           config: StreamSettings | None = None, clock: Callable[[], float] = time.monotonic,
           connection: socket.socket | None = None, user_side=None) -> Iterator[str]:
    """The SSE text of one stream, starting with ``first`` (what the cursor was owed when it
    opened). Ends when ``still_allowed`` says no (checked every recheck interval: the session was
    revoked, the member removed; the tab is told to reload), when the tab is too far behind, or
    when the process is stopping (its channels closed): then ``connection`` (the client socket)
    stops reading, so the worker doesn't wait out keep-alive on it before exiting.

    ``user_side`` (rooms.activity.UserSide, signed-in streams): the user's `sidebar` and `notify`
    events, first the current sidebar, then whenever the activity hub wakes the stream."""
    try:
        with metrics.live_stream("room"):
            yield from _stream(channel=channel, first=first, cursor=cursor, render=render, token=token,
                               still_allowed=still_allowed, render_signals=render_signals,
                               config=config or StreamSettings.from_django(), clock=clock, user_side=user_side)
    finally:
        channel.leave()
        if user_side is not None:
            user_side.close()
        if channel.closed and connection is not None:
            try:
                connection.shutdown(socket.SHUT_RD)  # the response still ends cleanly; no next request
            except OSError:
                pass


def _stream(*, channel, first, cursor, render, token, still_allowed, render_signals, config, clock, user_side=None):
    feed = channel.feed
    yield f"retry: {int(settings.CHAT_LIVE_STREAM_RETRY_MS)}\n\n"
    answer: Updates | None = first
    last_check = clock()
    # A beat at once when nothing else is owed: the tab knows within a moment that the stream
    # reaches it unbuffered (stream.js waits for a first event before trusting a stream).
    last_sent = last_check - config.heartbeat_seconds
    status_sent = "ok"
    signals_sent: list[tuple[str, str]] = []
    revision = feed.revision
    while True:
        if answer is None:
            yield sse("reload", "behind")  # the feed's memory no longer reaches back to this tab
            return
        if answer.reload:
            yield sse("reload", "behind")
            return
        cursor.advance(answer, config.overlap_ms)
        now = clock()
        if answer.events:
            yield sse_fields("updates", channel.rendered(answer.events, render),
                             format_id(token(cursor.watermark_ms), cursor.refs()))
            last_sent = now
        elif now - last_sent >= config.heartbeat_seconds:
            # Keeps proxies from closing an idle stream, and moves the tab's resume point forward.
            yield sse("beat", str(cursor.watermark_ms), format_id(token(cursor.watermark_ms), cursor.refs()))
            last_sent = now
        status = "stalled" if channel.stalled else "ok"
        if status != status_sent:  # DynamoDB can't be read: the tab says live updates are paused
            yield sse("status", status)
            status_sent = status
        if render_signals is not None:
            current = render_signals(feed)
            if current != signals_sent:
                for name, html in current:
                    if (name, html) not in signals_sent:
                        yield sse(name, html)
                signals_sent = current
        if user_side is not None:
            for name, data in user_side.events():
                yield sse(name, data)
            if user_side.left(channel.room_id):  # removed from this room: its page says what now
                yield sse("reload", "access")
                return
        if now - last_check >= config.recheck_seconds:
            last_check = now
            if not still_allowed():
                yield sse("reload", "access")
                return
        timeout = min(config.heartbeat_seconds - (now - last_sent), config.recheck_seconds - (now - last_check))
        if user_side is None:
            revision = channel.wait(revision, max(0.01, timeout))
        else:
            revision = channel.wait(revision, max(0.01, timeout), user_side.has_pending)
        if channel.closed:
            return
        answer = feed.updates(watermark_ms=cursor.watermark_ms, seen=cursor.seen(), refresh=False)


def enabled() -> bool:
    """Streams are served: forced by CHAT_LIVE_STREAMS, or ("auto") when sockets are gevent's."""
    mode = settings.CHAT_LIVE_STREAMS
    if mode in ("on", "off"):
        return mode == "on"
    try:
        from gevent import monkey
    except ImportError:
        return False
    return monkey.is_module_patched("socket")


SEND_BUFFER_BYTES = 64 * 1024  # per stream; Linux doubles it. Events are small, a catch-up a few RTTs.


def limit_send_wait(request) -> None:
    """A client that stops reading fills its socket's buffer; then a write waits. Past
    CHAT_LIVE_SEND_TIMEOUT_SECONDS it fails and gunicorn drops the connection, so a stuck client
    holds at most one buffer and one idle greenlet, briefly. The buffer is capped: left to
    autotuning, the kernel grows it to megabytes for a client that never reads."""
    sock = request.META.get("gunicorn.socket")
    if sock is not None:
        sock.settimeout(settings.CHAT_LIVE_SEND_TIMEOUT_SECONDS)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)


# --- pages without a room: the user's side alone ------------------------------------------------


class Waker:
    """What a stream with no room channel waits on: the activity hub wakes it for its user."""

    def __init__(self):
        self._changed = threading.Condition()
        self.closed = False

    def wake(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def wait(self, timeout: float, ready: Callable[[], bool]) -> None:
        with self._changed:
            if not ready() and timeout > 0:
                self._changed.wait(timeout)


def user_stream(*, user_side, waker: Waker, still_allowed: Callable[[], bool], config: StreamSettings | None = None,
                clock: Callable[[], float] = time.monotonic) -> Iterator[str]:
    """The SSE text of a signed-in page that shows no room (the Mentions page, a person's page, the
    member list, New message): only the user's side, `sidebar` and `notify`, first the current
    state. Heartbeats keep proxies from closing it; the session is checked every recheck interval
    (revoked: `reload`, and it ends)."""
    config = config or StreamSettings.from_django()
    try:
        metrics.LIVE_STREAMS.labels("user").inc()  # dec below; the gauge sums over workers
        yield f"retry: {int(settings.CHAT_LIVE_STREAM_RETRY_MS)}\n\n"
        last_check = clock()
        last_sent = last_check - config.heartbeat_seconds
        while True:
            now = clock()
            for name, data in user_side.events():
                yield sse(name, data)
                last_sent = now
            if now - last_sent >= config.heartbeat_seconds:
                yield sse("beat", "")
                last_sent = now
            if now - last_check >= config.recheck_seconds:
                last_check = now
                if not still_allowed():
                    yield sse("reload", "access")
                    return
            timeout = min(config.heartbeat_seconds - (now - last_sent), config.recheck_seconds - (now - last_check))
            waker.wait(max(0.01, timeout), user_side.has_pending)
    finally:
        metrics.LIVE_STREAMS.labels("user").dec()
        user_side.close()
