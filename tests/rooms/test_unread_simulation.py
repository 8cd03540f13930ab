"""Randomised simulation of live unread state (pure: rooms.activity with an in-memory feed and
injected clocks, no DynamoDB). One user has several tabs and devices on two server processes;
others post (sometimes mentioning her), her tabs report reads (from what each has seen, so often
stale), mark messages unread, and reconnect. Writers' clocks are skewed, events become visible
to the processes' Queries late, processes refresh at random moments, and tabs apply what they
were sent out of order, some of it twice. Once every tab has been sent everything, each tab's
counts (unread and mentions per room) must equal what the memberships and rooms say."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import pytest

from chatsite import keys
from rooms.activity import MENTION, MESSAGE, READ, Activity, ActivityHub, UnreadState, shard_of
from rooms.models import UserRoom
from tests.support.examples import examples

ROOMS = ("art", "books", "cafe")
USER = "ann"
OVERLAP_MS = 10_000
MAX_SKEW_MS = 3_000  # writers' and readers' clocks: with the lag, within the overlap (docs/live-updates.md)
MAX_LAG_MS = 2_000  # put latency: an event is visible to Queries this long after its write at most
SEQ_CACHE_MS = 2_000  # CHAT_ROOM_SEQ_CACHE_SECONDS
SHARDS = 2


@dataclass
class Truth:
    """The table: rooms' Seqs and the user's memberships (read cursor, version, mention Seqs)."""
    seq: dict = field(default_factory=lambda: {r: 0 for r in ROOMS})
    read_seq: dict = field(default_factory=lambda: {r: 0 for r in ROOMS})
    version: dict = field(default_factory=lambda: {r: 0 for r in ROOMS})
    mentions: dict = field(default_factory=lambda: {r: set() for r in ROOMS})

    def counts(self) -> dict:
        return {r: (max(0, self.seq[r] - self.read_seq[r]), sum(1 for m in self.mentions[r] if m > self.read_seq[r]))
                for r in ROOMS}


class World:
    def __init__(self, rng: random.Random):
        self.rng = rng
        self.now = 1_800_000_000_000  # true time, ms
        self.truth = Truth()
        self.feed: list[tuple[int, Activity]] = []  # (visible from, event)
        self.shards: dict[int, list[tuple[int, Activity]]] = {n: [] for n in range(SHARDS)}
        self.writers = [rng.randint(-MAX_SKEW_MS, MAX_SKEW_MS) for _ in range(3)]
        self.processes = [Process(self, rng.randint(-MAX_SKEW_MS, MAX_SKEW_MS)) for _ in range(2)]
        self.tabs = [Tab(self, rng.choice(self.processes)) for _ in range(rng.randint(2, 5))]
        self.message_number = 0

    # --- writes (a server with a skewed clock writes an event after the table) ---------------------

    def put(self, visible: int, event: Activity) -> None:
        self.feed.append((visible, event))
        self.shards[shard_of(self._shard_key(event), SHARDS)].append((visible, event))

    def write(self, make) -> None:
        at = self.now + self.rng.choice(self.writers)
        self.put(self.now + self.rng.randint(0, MAX_LAG_MS), make(at))

    def post(self, room: str, *, mention: bool) -> None:
        self.truth.seq[room] += 1
        seq = self.truth.seq[room]
        self.message_number += 1
        message_id = f"m{self.message_number}"
        at = self.now + self.rng.choice(self.writers)
        visible = self.now + self.rng.randint(0, MAX_LAG_MS)
        self.put(visible, Activity(kind=MESSAGE, at_ms=at, ref=keys.activity_message_ref(room, message_id),
                                   room_id=room, user_id="bob", seq=seq, message_id=message_id))
        if mention:  # MentionSeqs first (the post's UpdateItem), then the batch with both events
            self.truth.mentions[room].add(seq)
            self.put(self.now + self.rng.randint(0, MAX_LAG_MS),
                     Activity(kind=MENTION, at_ms=at, ref=keys.activity_mention_ref(USER, message_id),
                              room_id=room, user_id=USER, seq=seq, message_id=message_id))

    def move_cursor(self, room: str, read_seq: int, *, forward_only: bool) -> None:
        if forward_only and read_seq <= self.truth.read_seq[room]:
            return  # the conditional update fails: no version, no event
        self.truth.read_seq[room] = read_seq
        self.truth.version[room] += 1
        version = self.truth.version[room]
        self.write(lambda at: Activity(kind=READ, at_ms=at, ref=keys.activity_read_ref(USER, room, version),
                                       room_id=room, user_id=USER, read_seq=read_seq, read_version=version))

    # --- what a process's Query sees -----------------------------------------------------------------

    def query(self, shard: int, since: str) -> list[Activity]:
        lower = keys.activity_sk_from(since)
        found = [e for visible, e in self.shards[shard] if visible <= self.now and e.sk >= lower]
        return sorted(found, key=lambda e: e.sk)

    @staticmethod
    def _shard_key(event: Activity) -> str:
        return event.room_id if event.kind == MESSAGE else event.user_id


class Process:
    def __init__(self, world: World, skew: int):
        self.world = world
        self.seq_cache: dict[str, tuple[int, int]] = {}  # room -> (expires, seq), as selectors' cache
        self.hub = ActivityHub(query=lambda shard, since: world.query(shard, since), clock=lambda: world.now + skew,
                               shards=SHARDS, overlap_ms=OVERLAP_MS, note_seq=self.note_seq, autostart=False)

    def note_seq(self, room: str, seq: int) -> None:
        cached = self.seq_cache.get(room)
        self.seq_cache[room] = (self.world.now + SEQ_CACHE_MS, max(seq, cached[1] if cached else 0))

    def room_sequences(self) -> dict:
        """Cached values while fresh (possibly behind the table), else read."""
        seqs = {}
        for room in ROOMS:
            cached = self.seq_cache.get(room)
            if cached and cached[0] > self.world.now:
                seqs[room] = cached[1]
            else:
                seqs[room] = self.world.truth.seq[room]
                self.note_seq(room, seqs[room])
        return seqs


class Tab:
    def __init__(self, world: World, process: Process):
        self.world = world
        self.connect(process)
        self.applied: list[Activity] = []

    def connect(self, process: Process) -> None:
        """Open the stream as the view does: mark, read the memberships and Seqs, subscribe after the mark."""
        self.process = process
        mark = process.hub.mark()
        truth = self.world.truth
        rooms = [UserRoom(room_id=r, name=r, kind="public", role="member", joined_at="2026-01-01T00:00:00.000Z",
                          read_seq=truth.read_seq[r], read_version=truth.version[r],
                          mention_seqs=frozenset(truth.mentions[r])) for r in ROOMS]
        self.state = UnreadState.start(USER, rooms, process.room_sequences())
        self.subscription = process.hub.subscribe(USER, lambda: None, rooms=ROOMS, after=mark)

    def reconnect(self) -> None:
        self.process.hub.unsubscribe(self.subscription)
        self.connect(self.world.rng.choice(self.world.processes))
        self.applied = []

    def receive(self, rng: random.Random) -> None:
        """Apply what was sent, in any order, some of it twice (a replay after a reconnect)."""
        events = [event for event, _ in self.subscription.take()]
        if self.applied and rng.random() < 0.3:
            events += rng.sample(self.applied, min(len(self.applied), rng.randint(1, 4)))
        rng.shuffle(events)
        self.state.apply_all(events)
        self.applied = (self.applied + events)[-50:]


def simulate(seed: int, steps: int = 250) -> World:
    rng = random.Random(seed)
    world = World(rng)
    for _ in range(steps):
        world.now += rng.randint(0, 700)
        action = rng.random()
        room = rng.choice(ROOMS)
        tab = rng.choice(world.tabs)
        if action < 0.25:
            world.post(room, mention=rng.random() < 0.3)
        elif action < 0.40:  # the tab reports reading up to the newest it knows of (maybe stale)
            world.move_cursor(room, tab.state.seqs.get(room, 0), forward_only=True)
        elif action < 0.47:  # Mark as unread on a message the tab has
            known = tab.state.seqs.get(room, 0)
            if known:
                world.move_cursor(room, rng.randint(1, known) - 1, forward_only=False)
        elif action < 0.50:  # Mark all as read, from the Seqs read fresh
            for each in ROOMS:
                world.move_cursor(each, world.truth.seq[each], forward_only=True)
        elif action < 0.75:
            rng.choice(world.processes).hub.refresh_now()
        elif action < 0.95:
            tab.receive(rng)
        else:
            tab.reconnect()
    # Everything written becomes visible, every process refreshes, every tab gets all it was sent.
    world.now += MAX_LAG_MS + 1
    for process in world.processes:
        process.hub.refresh_now()
    for tab in world.tabs:
        tab.receive(rng)
    return world


@pytest.mark.parametrize("seed", range(examples(300)))  # make test-fast: 60
def test_every_tab_ends_with_the_right_counts(seed):
    world = simulate(seed)
    expected = world.truth.counts()
    for n, tab in enumerate(world.tabs):
        assert tab.state.counts() == expected, f"seed {seed}, tab {n}: {tab.state.counts()} != {expected}"


def test_the_simulation_exercises_what_it_claims():
    """Across the seeds: posts, mentions, reads, marks as unread, reconnects and stale reports all happen."""
    moves = reads_back = 0
    for seed in range(20):
        world = simulate(seed)
        moves += sum(world.truth.version.values())
        reads_back += sum(1 for _, e in world.feed if e.kind == READ and e.read_seq < world.truth.seq[e.room_id])
        assert any(e.kind == MENTION for _, e in world.feed) or seed
    assert moves > 100 and reads_back > 20


def test_a_tab_that_missed_events_is_right_again_after_a_reconnect():
    """State, not a log: a tab whose events were lost (a dropped connection) is mended by reconnecting."""
    world = simulate(3, steps=120)
    tab = world.tabs[0]
    world.post("art", mention=True)
    world.now += MAX_LAG_MS + 1
    tab.process.hub.refresh_now()
    tab.subscription.take()  # lost on the way
    assert tab.state.counts() != world.truth.counts()
    tab.reconnect()
    assert tab.state.counts() == world.truth.counts()
