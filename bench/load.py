"""The load generator: a second process on loopback that drives the plan's phases one after
another, measuring only inside each phase's window. GET-only throughput phases run on wrk
(bench/wrk.py: a light load generator in C, so it is not what bounds the page); everything with
scripted behaviour on locust (headless, used as a library).

    python -m bench.load PLAN.json RESULTS.json     (bench/run.py writes the plan and runs this)

Every virtual user behaves like a browser tab: it holds a signed-in session's cookies, reads the
CSRF token and the composer's idempotency key from the page it loaded, posts as HTMX does, and
polls live updates with the cursor static/js/chat/cursor.js keeps (watermark + the refs it holds).
Stream phases (kind "stream") hold one Server-Sent Events stream per tab instead: cheap clients,
a greenlet and a raw socket each (bench/streams.py), with the same live poster as the poll phases.
Nothing here imports Django: this process only speaks HTTP to gunicorn.
"""

from __future__ import annotations

import locust  # noqa: F401  (first: locust monkey-patches the standard library for gevent)

import itertools
import json
import random
import re
import secrets
import sys
import time
from collections import Counter, defaultdict
from http.cookiejar import Cookie
from urllib.parse import urlencode

import gevent
import gevent.lock
import psutil
from locust import FastHttpUser, between, constant, constant_pacing
from locust.env import Environment
from locust.event import Events

from bench import streams as stream_clients
from bench import wrk

CALLS_HEADER = "X-DynamoDB-Calls"  # bench/middleware.py
PROCESS_HEADER = "X-Bench-Process"
MAX_SEEN = 120  # static/js/chat/cursor.js: MAX_SEEN
READ_OPS = ("GetItem", "Query", "BatchGetItem", "Scan")
SETUP = "open room (setup)"  # BrowserTab.open_room's request name
SETUP_TIMEOUT = 60.0

_CSRF_RE = re.compile(r'"X-CSRFToken":\s*"([^"]+)"')
_INPUT_RE = re.compile(r"<input\b[^>]*>")
_VALUE_RE = re.compile(r'\bvalue="([^"]*)"')
_LIVE_RE = re.compile(r'<div id="live"[^>]*>')
_ATTR_RE = re.compile(r'\b(data-[a-z-]+|hx-get)="([^"]*)"')
_MESSAGE_RE = re.compile(r'<li class="message" id="(m-[^"]+)" data-at="(\d+)"')
_DELETION_RE = re.compile(r'<li class="deletion" data-deleted="([^"]+)" data-at="(\d+)"')
_NEXT_KEY_RE = re.compile(r'data-next-key="([^"]*)"')
# A post's marker as its message's text shows it: once per message, whatever else of the text the
# message carries (the Reply link's plain-text excerpt repeats it).
_MARKER_RE = re.compile(r'<div class="comment">(bench-live-\d+-[0-9a-f]{8})')


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100) of unsorted values; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def parse_counts(header: str | None) -> Counter:
    counts: Counter = Counter()
    if not header or header == "none":
        return counts
    for part in header.split(","):
        op, _, n = part.partition("=")
        if n.isdigit():
            counts[op] += int(n)
    return counts


# --- what one phase records -------------------------------------------------------------------


class Recorder:
    def __init__(self, endpoint: str):
        self.endpoint = endpoint
        self.recording = False
        self.latencies: dict[str, list[float]] = defaultdict(list)  # request name -> ms
        self.statuses: dict[str, Counter] = defaultdict(Counter)
        self.failures: Counter = Counter()
        self.calls: dict[str, Counter] = defaultdict(Counter)  # request name -> op -> total calls
        self.calls_max: dict[str, int] = defaultdict(int)
        self.process_first: dict[str, tuple[float, Counter]] = {}
        self.process_last: dict[str, tuple[float, Counter]] = {}
        self.window: tuple[float, float] | None = None
        self.idle_requests = 0  # every request, recording or not (the idle window's count)
        self.setups = 0  # room pages opened by the users' on_start (answered, any status)

    def begin(self) -> None:
        self.window = (time.monotonic(), 0.0)
        self.recording = True

    def end(self) -> None:
        self.recording = False
        self.window = (self.window[0], time.monotonic())

    def on_request(self, request_type, name, response_time, response_length, response=None, exception=None,
                   **kwargs) -> None:
        self.idle_requests += 1
        if name == SETUP:
            self.setups += 1
        if not self.recording:
            return
        self.latencies[name].append(response_time)
        status = getattr(response, "status_code", 0) or 0
        self.statuses[name][status] += 1
        if exception is not None:
            self.failures[f"{name}: {str(exception)[:120]}"] += 1
        headers = getattr(response, "headers", None) or {}
        calls = parse_counts(headers.get(CALLS_HEADER))
        self.calls[name].update(calls)
        self.calls_max[name] = max(self.calls_max[name], sum(calls.values()))
        process = headers.get(PROCESS_HEADER)
        if process:
            pid, _, totals = process.partition(",")
            sample = (time.monotonic(), parse_counts(totals))
            self.process_first.setdefault(pid, sample)
            self.process_last[pid] = sample

    def process_rates(self) -> dict[str, float]:
        """DynamoDB calls per second by operation, all threads of all workers that answered."""
        rates: Counter = Counter()
        for pid, (t0, first) in self.process_first.items():
            t1, last = self.process_last[pid]
            if t1 - t0 < 0.5:
                continue
            for op in set(first) | set(last):
                rates[op] += (last[op] - first[op]) / (t1 - t0)
        return dict(rates)

    def summary(self, name: str) -> dict:
        values = self.latencies.get(name, [])
        seconds = self.window[1] - self.window[0]
        n = len(values)
        calls = self.calls.get(name, Counter())
        return {
            "requests": n,
            "seconds": seconds,
            "rps": n / seconds if seconds else 0.0,
            "p50_ms": percentile(values, 50),
            "p95_ms": percentile(values, 95),
            "p99_ms": percentile(values, 99),
            "max_ms": max(values) if values else None,
            "statuses": {str(k): v for k, v in sorted(self.statuses.get(name, {}).items())},
            "calls_per_request": {op: total / n for op, total in sorted(calls.items())} if n else {},
            "calls_per_request_total": sum(calls.values()) / n if n else None,
            "calls_max": self.calls_max.get(name, 0),
        }


# --- CPU of the processes under test ------------------------------------------------------------


class CpuWatch:
    def __init__(self, pids: dict[str, int]):
        self.groups: dict[str, list[psutil.Process]] = {}
        for group, pid in pids.items():
            process = psutil.Process(pid)
            members = [process] + (process.children(recursive=True) if group == "gunicorn" else [])
            self.groups[group] = members
        self.groups["load generator"] = [psutil.Process()]

    def snapshot(self) -> dict[str, float]:
        machine = psutil.cpu_times()
        out = {"machine": machine.user + machine.nice + machine.system + getattr(machine, "irq", 0)
               + getattr(machine, "softirq", 0)}
        for group, members in self.groups.items():
            total = 0.0
            for process in members:
                try:
                    times = process.cpu_times()
                    total += times.user + times.system
                except psutil.NoSuchProcess:
                    pass
            out[group] = total
        return out


# --- browser-like users -------------------------------------------------------------------------

PLAN: dict = {}
PHASE: dict = {}
RECORDER: Recorder = Recorder("")
_session_numbers = itertools.count()


class LiveState:
    """Shared by the poster and the watchers of one phase (one process, one clock)."""

    def __init__(self):
        self.posting = True
        self.seq = itertools.count()
        self.posted_at: dict[str, float] = {}  # marker -> monotonic time of the post's 2xx
        self.in_window: set[str] = set()
        self.post_pid: dict[str, str] = {}  # marker -> the worker that handled its post ("pid=123")
        # (marker, monotonic time a watcher got it, which watcher, the worker that served it), first
        # sightings only, in arrival order
        self.sightings: list[tuple[str, float, int, str | None]] = []
        self.duplicates = 0
        self.watchers = 0
        self.watcher_numbers = itertools.count()


LIVE = LiveState()


def _cookie(name: str, value: str, domain: str) -> Cookie:
    return Cookie(0, name, value, None, False, domain, False, False, "/", True, False, None, True, None, None, {})


class BrowserTab(FastHttpUser):
    abstract = True
    network_timeout = 15.0
    connection_timeout = 5.0
    signed_in = True

    def on_start(self) -> None:
        self.csrf = ""
        self.next_key = ""
        self.last_pid: str | None = None
        self.cursor: LiveCursor | None = None
        if self.signed_in:
            sessions = PLAN["sessions"]
            cookies = sessions[next(_session_numbers) % len(sessions)]
            for name, value in cookies.items():
                self.client.cookiejar.set_cookie(_cookie(name, value, PLAN["cookie_domain"]))

    def headers(self, **extra) -> dict:
        return {"User-Agent": PLAN["user_agent"], **extra}

    def open_room(self, name: str = "open room (setup)") -> None:  # SETUP
        """Load the room page like a browser: the CSRF token, the composer key, the live cursor."""
        response = self.client.get(PHASE["room_path"], name=name, headers=self.headers())
        page = response.text or ""
        found = _CSRF_RE.search(page)
        self.csrf = found.group(1) if found else ""
        for tag in _INPUT_RE.findall(page):
            if 'name="idempotency_key"' in tag:
                value = _VALUE_RE.search(tag)
                self.next_key = value.group(1) if value else ""
        self.cursor = LiveCursor.from_page(page)

    def post(self, comment: str, name: str, *, new_connection: bool = False, url: str | None = None) -> bool:
        """``new_connection``: Connection: close, so the next post may land on the other worker
        (a kept-alive connection stays with one gunicorn process). ``url``: another server's."""
        key = self.next_key or secrets.token_urlsafe(15)
        extra = {"Connection": "close"} if new_connection else {}
        response = self.client.post(
            url or PHASE["post_path"], name=name,
            data={"csrfmiddlewaretoken": self.csrf, "idempotency_key": key, "comment": comment},
            headers=self.headers(**{"HX-Request": "true", "HX-Current-URL": PLAN["host"] + PHASE["room_path"],
                                    "X-CSRFToken": self.csrf, **extra}))
        self.last_pid = stream_clients.process_header_pid(response.headers.get(PROCESS_HEADER))
        found = _NEXT_KEY_RE.search(response.text or "")
        self.next_key = found.group(1) if found else ""
        return 200 <= (response.status_code or 0) < 300

    def poll(self, name: str = "live tick") -> str:
        """One live-update poll as the page makes it; returns the new HTML ('' for 204)."""
        if self.cursor is None:
            self.open_room()
            if self.cursor is None:
                raise RuntimeError(f"no live-update element on {PHASE['room_path']}: has room.html changed?")
        response = self.client.get(f"{PHASE['updates_path']}?{self.cursor.query()}", name=name,
                                   headers=self.headers(**{"HX-Request": "true",
                                                           "HX-Current-URL": PLAN["host"] + PHASE["room_path"]}))
        self.last_pid = stream_clients.process_header_pid(response.headers.get(PROCESS_HEADER))
        if response.headers.get("HX-Refresh") == "true":
            self.cursor = None  # the page reloads; the next poll starts from a fresh one
            return ""
        text = (response.text or "") if response.status_code == 200 else ""
        self.cursor.advance(response.headers.get("Chat-Watermark"), text)
        return text


class LiveCursor:
    """The live-update cursor static/js/chat/cursor.js keeps: a watermark W (the server time of the answer
    that last reached us, as the server signed it: "<ms>.<signature>") and the refs of events it
    holds at times > W − overlap."""

    def __init__(self, watermark: str, overlap_ms: int, held: dict[str, int]):
        self.watermark, self.overlap_ms, self.held = watermark, overlap_ms, held
        self.duplicates = 0

    @property
    def watermark_ms(self) -> int:
        head = self.watermark.split(".")[0]
        return int(head) if head.isdigit() else 0

    @classmethod
    def from_page(cls, page: str) -> LiveCursor | None:
        tag = _LIVE_RE.search(page)
        if not tag:
            return None
        attrs = dict(_ATTR_RE.findall(tag.group()))
        held = {ref: int(at) for ref, at in _MESSAGE_RE.findall(page)}
        return cls(attrs.get("data-watermark", ""), int(attrs.get("data-overlap-ms", "10000")), held)

    def query(self) -> str:
        """cursor.js's seenRefs(): newest messages first, then deletions, at most MAX_SEEN refs."""
        floor = self.watermark_ms - self.overlap_ms
        newest_first = sorted(((at, ref) for ref, at in self.held.items() if at > floor), reverse=True)
        messages = [ref for _, ref in newest_first if ref.startswith("m-")]
        deletions = [ref for _, ref in newest_first if ref.startswith("d-")]
        seen = (messages + deletions)[:MAX_SEEN]
        return urlencode({"w": self.watermark, "seen": ",".join(seen)})

    def advance(self, watermark: str | None, html: str) -> None:
        for ref, at in _MESSAGE_RE.findall(html):
            if ref in self.held:
                self.duplicates += 1
            self.held[ref] = int(at)
        for message_id, at in _DELETION_RE.findall(html):
            self.held.pop(f"m-{message_id}", None)
            self.held[f"d-{message_id}"] = int(at)
        if watermark:
            self.watermark = watermark
        floor = self.watermark_ms - self.overlap_ms
        self.held = {ref: at for ref, at in self.held.items() if at > floor}


class PageReader(BrowserTab):
    abstract = True
    wait_time = constant(0)

    @locust.task
    def read(self) -> None:
        self.client.get(PHASE["path"], name=PHASE["endpoint"], headers=self.headers(**PHASE.get("headers", {})))


class Alternator(BrowserTab):
    """Alternates between pages (A, B, A, B…), so both see the same machine: other processes'
    load, dynalite's compactions and the like hit both alike."""

    abstract = True
    wait_time = constant(0)

    def on_start(self) -> None:
        super().on_start()
        self.turn = random.randrange(len(PHASE["paths"]))

    @locust.task
    def read(self) -> None:
        name, path = PHASE["paths"][self.turn % len(PHASE["paths"])]
        self.turn += 1
        self.client.get(path, name=name, headers=self.headers())


class Poster(BrowserTab):
    """Closed loop: post, read the next idempotency key from the answer, post again."""

    abstract = True
    wait_time = constant(0)

    def on_start(self) -> None:
        super().on_start()
        self.open_room()
        self.n = 0

    @locust.task
    def send(self) -> None:
        self.n += 1
        self.post(f"bench post {self.n} {secrets.token_hex(4)}", name=PHASE["endpoint"])


class AlternatingPoster(BrowserTab):
    """The post A/B: posts alternately to each of PHASE["post_urls"] (two servers), so both see the
    same machine at the same moments. (Not a Poster subclass: locust would inherit its task too.)"""

    abstract = True
    wait_time = constant(0)

    def on_start(self) -> None:
        super().on_start()
        self.open_room()
        self.n = 0
        self.turn = random.randrange(len(PHASE["post_urls"]))

    @locust.task
    def send(self) -> None:
        self.n += 1
        name, url = PHASE["post_urls"][self.turn % len(PHASE["post_urls"])]
        self.turn += 1
        self.post(f"bench post {self.n} {secrets.token_hex(4)}", name=name, url=url)


class Ticker(BrowserTab):
    """Closed loop of live-update polls, each with the cursor from the previous answer."""

    abstract = True
    wait_time = constant(0)

    def on_start(self) -> None:
        super().on_start()
        self.open_room()

    @locust.task
    def tick(self) -> None:
        self.poll(name=PHASE["endpoint"])


class LivePoster(BrowserTab):
    """Posts a marked message every ``post_interval`` s while the phase lasts, each on a new
    connection so the posts spread over both gunicorn processes (a stream or a poll then learns
    of a post either in-process or from DynamoDB; the summary splits delivery by which)."""

    abstract = True
    fixed_count = 1

    def on_start(self) -> None:
        super().on_start()
        self.open_room()

    @locust.task
    def send(self) -> None:
        if not LIVE.posting:
            gevent.sleep(0.1)
            return
        marker = f"bench-live-{next(LIVE.seq)}-{secrets.token_hex(4)}"
        if self.post(f"{marker} says hello", name="post (live poster)", new_connection=True):
            now = time.monotonic()
            LIVE.posted_at[marker] = now
            LIVE.post_pid[marker] = self.last_pid
            if RECORDER.recording:
                LIVE.in_window.add(marker)


class Watcher(BrowserTab):
    """An open room tab: polls every CHAT_LIVE_POLL_SECONDS like htmx's `every Ns` trigger."""

    abstract = True

    def on_start(self) -> None:
        gevent.sleep(random.uniform(0, PHASE["poll_seconds"]))  # tabs opened at different moments
        super().on_start()
        self.open_room()
        self.seen_markers: set[str] = set()
        self.number = next(LIVE.watcher_numbers)
        LIVE.watchers += 1

    @locust.task
    def watch(self) -> None:
        html = self.poll(name=PHASE["endpoint"])
        now = time.monotonic()
        for marker in _MARKER_RE.findall(html):
            if marker in self.seen_markers:
                LIVE.duplicates += 1
                continue
            self.seen_markers.add(marker)
            LIVE.sightings.append((marker, now, self.number, self.last_pid))


def _poster_wait(phase: dict):
    """Random gaps averaging ``post_interval``: posts must not be phase-locked to the watchers' polls
    (both start together, and 0.5 s divides 1 s), or every delivery would take a whole poll period."""
    return between(0.5 * phase["post_interval"], 1.5 * phase["post_interval"])


def _user_classes(phase: dict) -> list[type]:
    kind = phase["kind"]
    attrs = {"signed_in": phase.get("signed_in", True)}
    if kind == "page":
        return [type("PageReaderUser", (PageReader,), {**attrs, "weight": 1})]
    if kind == "alternate":
        return [type("AlternatorUser", (Alternator,), {**attrs})]
    if kind == "post":
        return [type("PosterUser", (Poster,), {**attrs})]
    if kind == "post_ab":
        return [type("AlternatingPosterUser", (AlternatingPoster,), {**attrs})]
    if kind == "tick":
        classes = [type("TickerUser", (Ticker,), {**attrs})]
        if phase.get("post_interval"):
            classes.append(type("LivePosterUser", (LivePoster,), {**attrs, "wait_time": _poster_wait(phase)}))
        return classes
    if kind == "watch":
        return [type("WatcherUser", (Watcher,), {**attrs, "wait_time": constant_pacing(phase["poll_seconds"])}),
                type("LivePosterUser", (LivePoster,), {**attrs, "wait_time": _poster_wait(phase)})]
    raise ValueError(f"unknown phase kind {kind!r}")


def _seq(marker: str) -> int:
    return int(marker.split("-")[2])


def _live_summary(phase: dict) -> dict:
    posted = {m: LIVE.posted_at[m] for m in LIVE.in_window}
    delivered = [(m, t, w, pid) for m, t, w, pid in LIVE.sightings if m in posted]
    delays = [max(0.0, t - posted[m]) * 1000 for m, t, _, _ in delivered]
    # Same worker as the post (woken in-process) or the other one (learns it from DynamoDB).
    same = [max(0.0, t - posted[m]) * 1000 for m, t, _, pid in delivered if pid and pid == LIVE.post_pid.get(m)]
    other = [max(0.0, t - posted[m]) * 1000 for m, t, _, pid in delivered if pid and pid != LIVE.post_pid.get(m)]
    # In order: the poster waits for each post's answer before the next, so every watcher must see
    # this phase's markers in posting order. A marker arriving after a later one is out of order.
    out_of_order, newest = 0, {}
    for m, _, w, _ in LIVE.sightings:
        if m not in LIVE.posted_at:
            continue  # an earlier phase's message still inside the overlap
        if _seq(m) < newest.get(w, -1):
            out_of_order += 1
        newest[w] = max(newest.get(w, -1), _seq(m))
    expected = len(posted) * LIVE.watchers
    return {
        "watchers": LIVE.watchers,
        "posts": len(posted),
        "posts_by_worker": dict(Counter(LIVE.post_pid.get(m) or "?" for m in posted)),
        "deliveries": len(delivered),
        "expected_deliveries": expected,
        "missing": expected - len(delivered),
        "duplicates": LIVE.duplicates,
        "out_of_order": out_of_order,
        "delivery_p50_ms": percentile(delays, 50),
        "delivery_p95_ms": percentile(delays, 95),
        "delivery_max_ms": max(delays) if delays else None,
        "same_worker": {"deliveries": len(same), "p50_ms": percentile(same, 50), "p95_ms": percentile(same, 95)},
        "other_worker": {"deliveries": len(other), "p50_ms": percentile(other, 50), "p95_ms": percentile(other, 95)},
    }


# --- every worker's DynamoDB call totals, and their RSS ----------------------------------------


def probe_workers(workers: int, tries: int = 60) -> dict[str, tuple[float, Counter]]:
    """The call totals of every worker: /healthz on new connections until each has answered."""
    host, port = PLAN["host"].split("//", 1)[1].split(":")
    found: dict[str, tuple[float, Counter]] = {}
    for _ in range(tries):
        answer = stream_clients.probe_pid(host, int(port), PLAN["user_agent"])
        if answer:
            pid, at, totals = answer
            found.setdefault(pid, (at, parse_counts(totals)))
        if len(found) >= workers:
            break
        gevent.sleep(0.02)  # a gevent worker accepts many connections per wake-up: let the other one in
    return found


def reads_per_second(first: dict, last: dict) -> float | None:
    """Reads/s summed over the workers probed at both ends, or None if one went unseen."""
    if not first or first.keys() != last.keys():
        return None
    rate = 0.0
    for pid, (t0, before) in first.items():
        t1, after = last[pid]
        if t1 - t0 < 0.5:
            return None
        rate += sum(after[op] - before[op] for op in READ_OPS) / (t1 - t0)
    return rate


def worker_rss(cpu: CpuWatch) -> dict[str, float]:
    out = {}
    for process in cpu.groups["gunicorn"][1:]:  # the workers (the master is first)
        try:
            out[f"pid={process.pid}"] = process.memory_info().rss / 2**20
        except psutil.Error:
            pass
    return out


def _worker_cpu(cpu: CpuWatch) -> float:
    total = 0.0
    for process in cpu.groups["gunicorn"][1:]:
        try:
            times = process.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            pass
    return total


def run_phase(phase: dict, cpu: CpuWatch) -> dict:
    global PHASE, RECORDER, LIVE
    PHASE, RECORDER, LIVE = phase, Recorder(phase["endpoint"]), LiveState()
    classes = _user_classes(phase)
    env = Environment(user_classes=classes, host=PLAN["host"], events=Events())
    env.events.request.add_listener(RECORDER.on_request)
    runner = env.create_local_runner()
    users = phase["users"] + (1 if phase["kind"] == "watch" or phase.get("post_interval") else 0)
    runner.start(users, spawn_rate=phase.get("spawn_rate", users))
    if phase["kind"] in ("post", "post_ab", "tick", "watch"):
        # Every user opens its room first (CSRF token, composer key, cursor): on a busy machine
        # that can take longer than the warm-up, and the window would then measure setups.
        deadline = time.monotonic() + SETUP_TIMEOUT
        while RECORDER.setups < users and time.monotonic() < deadline:
            gevent.sleep(0.1)
    gevent.sleep(phase["warmup"])
    watching = phase["kind"] == "watch"
    probes_before = probe_workers(PLAN["workers"]) if watching else {}
    before = cpu.snapshot()
    RECORDER.begin()
    gevent.sleep(phase["duration"])
    RECORDER.end()
    after = cpu.snapshot()
    probes_after = probe_workers(PLAN["workers"]) if watching else {}
    idle = None
    if watching:
        LIVE.posting = False
        gevent.sleep(phase.get("tail", 3.0))  # let the last posts reach every watcher
        if phase.get("idle"):
            idle = _idle_window(phase, cpu, requests=lambda: RECORDER.idle_requests, tabs=LIVE.watchers)
    runner.quit()
    result = {"phase": phase, **RECORDER.summary(phase["endpoint"])}
    n = result["requests"] + sum(len(v) for k, v in RECORDER.latencies.items() if k != phase["endpoint"])
    result["cpu_seconds"] = {g: after[g] - before[g] for g in after}
    ours = sum(s for g, s in result["cpu_seconds"].items() if g != "machine")
    result["cpu_seconds"]["other processes"] = max(0.0, result["cpu_seconds"].pop("machine") - ours)
    result["cpu_ms_per_request"] = {g: 1000 * s / n for g, s in result["cpu_seconds"].items()} if n else {}
    result["process_call_rates"] = RECORDER.process_rates()
    result["other_requests"] = {k: RECORDER.summary(k) for k in RECORDER.latencies if k != phase["endpoint"]}
    result["failures"] = dict(RECORDER.failures.most_common(5))
    result["load_generator_cpu_warning"] = bool(getattr(runner, "cpu_warning_emitted", False))
    if watching:
        result["live"] = _live_summary(phase)
        probed = reads_per_second(probes_before, probes_after)
        result["live_reads_per_second_probed"] = None if probed is None else max(
            0.0, probed - sum(request_reads_per_second_of(RECORDER, name) for name in RECORDER.latencies
                              if name != phase["endpoint"]))
        result["idle"] = idle
    return result


def request_reads_per_second_of(recorder: Recorder, name: str) -> float:
    """Reads/s of one kind of request recorded in the window (posts, page loads), from their header."""
    seconds = recorder.window[1] - recorder.window[0]
    return sum(n for op, n in recorder.calls.get(name, Counter()).items() if op in READ_OPS) / seconds


def _idle_window(phase: dict, cpu: CpuWatch, *, requests, tabs: int) -> dict:
    """Nothing posted: what the open tabs cost by themselves. HTTP requests the tabs made, the
    workers' CPU, and DynamoDB reads, over ``phase['idle']`` seconds."""
    probes_before = probe_workers(PLAN["workers"])
    requests_before, cpu_before, started = requests(), _worker_cpu(cpu), time.monotonic()
    machine_before = cpu.snapshot()
    gevent.sleep(phase["idle"])
    seconds = time.monotonic() - started
    requests_made, cpu_seconds = requests() - requests_before, _worker_cpu(cpu) - cpu_before
    machine_after = cpu.snapshot()
    probes_after = probe_workers(PLAN["workers"])
    ours = sum(machine_after[g] - machine_before[g] for g in machine_after if g != "machine")
    return {
        "seconds": seconds,
        "tabs": tabs,
        "requests": requests_made,
        "requests_per_tab_per_second": requests_made / tabs / seconds if tabs else None,
        "worker_cpu_seconds": cpu_seconds,
        "worker_cpu_seconds_per_tab": cpu_seconds / tabs if tabs else None,
        "reads_per_second": reads_per_second(probes_before, probes_after),
        "other_processes_cpu_share": max(0.0, (machine_after["machine"] - machine_before["machine"]) - ours)
        / (seconds * (psutil.cpu_count() or 1)),
    }


# --- stream phases ------------------------------------------------------------------------------


class CursorSource:
    """The cursor a freshly loaded room page has (``w`` and ``seen``), for tabs opening their
    stream: one anonymous page load at most every ``max_age`` s, shared by the tabs opening then
    (the catch-up allowance is per network, so a stale cursor for each of 1,000 tabs would be
    refused; a fresh page's cursor is always answered from the feed's memory)."""

    def __init__(self, path: str, max_age: float = 2.0):
        self.path, self.max_age = path, max_age
        self.query, self.at = "", float("-inf")
        self._lock = gevent.lock.Semaphore()

    def __call__(self) -> str:
        with self._lock:
            if time.monotonic() - self.at > self.max_age:
                import requests

                page = requests.get(PLAN["host"] + self.path, headers={"User-Agent": PLAN["user_agent"]},
                                    timeout=15).text
                cursor = LiveCursor.from_page(page)
                if cursor is None:
                    raise RuntimeError(f"no live-update element on {self.path}: has room.html changed?")
                self.query, self.at = cursor.query(), time.monotonic()
            return self.query


def run_stream_phase(phase: dict, cpu: CpuWatch) -> dict:
    """Open ``users`` streams (signed in, round-robin over the sessions, or anonymous), then the
    same live poster as the poll phases; delivery, then an idle window, RSS with the streams open."""
    global PHASE, RECORDER, LIVE
    PHASE, RECORDER, LIVE = phase, Recorder("post (live poster)"), LiveState()
    LIVE.posting = False
    host, port = PLAN["host"].split("//", 1)[1].split(":")
    cursor = CursorSource(phase["room_path"])
    sessions = PLAN["sessions"] if phase.get("signed_in", True) else [{}]
    rss_before = worker_rss(cpu)

    def on_marker(tab: stream_clients.StreamTab, marker: str, now: float) -> None:
        if marker in tab.seen_markers:
            LIVE.duplicates += 1
            return
        tab.seen_markers.add(marker)
        LIVE.sightings.append((marker, now, tab.number, tab.pid))

    tabs = []
    for i in range(phase["users"]):
        cookie = "; ".join(f"{k}={v}" for k, v in sessions[i % len(sessions)].items())
        tab = stream_clients.StreamTab(i, host=host, port=int(port), path=phase["stream_path"], cursor=cursor,
                                       cookie=cookie, user_agent=PLAN["user_agent"], on_marker=on_marker)
        tab.seen_markers = set()
        tabs.append(tab)
    opening = time.monotonic()
    greenlets = []
    for i, tab in enumerate(tabs):
        greenlets.append(gevent.spawn(tab.run))
        # One at a time: a gevent worker takes every connection pending when it wakes, so a burst
        # of opens lands on one process (browsers open their tabs one by one, too).
        gevent.sleep(1 / phase["open_rate"])
    deadline = time.monotonic() + phase.get("open_timeout", 120)
    while time.monotonic() < deadline and any(not t.statuses and not t.stopping for t in tabs):
        gevent.sleep(0.1)
    open_seconds = time.monotonic() - opening
    gevent.sleep(phase["settle"])  # the last streams' first events; the channels' refreshers start
    LIVE.watchers = sum(1 for t in tabs if t.opened)

    env = Environment(user_classes=[type("LivePosterUser", (LivePoster,), {"wait_time": _poster_wait(phase)})],
                      host=PLAN["host"], events=Events())
    env.events.request.add_listener(RECORDER.on_request)
    runner = env.create_local_runner()
    LIVE.posting = True
    runner.start(1, spawn_rate=1)
    gevent.sleep(phase["warmup"])
    probes_before = probe_workers(PLAN["workers"])
    before = cpu.snapshot()
    requests_before = sum(t.requests for t in tabs)
    RECORDER.begin()
    gevent.sleep(phase["duration"])
    RECORDER.end()
    after = cpu.snapshot()
    probes_after = probe_workers(PLAN["workers"])
    requests_in_window = sum(t.requests for t in tabs) - requests_before
    LIVE.posting = False
    gevent.sleep(phase.get("tail", 3.0))
    runner.quit()
    beats_before = sum(t.events["beat"] for t in tabs)
    idle = _idle_window(phase, cpu, requests=lambda: sum(t.requests for t in tabs), tabs=LIVE.watchers) \
        if phase.get("idle") else None
    if idle is not None:
        idle["beats_per_tab"] = (sum(t.events["beat"] for t in tabs) - beats_before) / max(1, LIVE.watchers)
    rss_open = worker_rss(cpu)
    for tab in tabs:
        tab.stop()
    gevent.joinall(greenlets, timeout=10)
    gevent.killall(greenlets, block=False)

    name = "post (live poster)"
    result = {"phase": phase, **RECORDER.summary(name)}
    result["cpu_seconds"] = {g: after[g] - before[g] for g in after}
    ours = sum(s for g, s in result["cpu_seconds"].items() if g != "machine")
    result["cpu_seconds"]["other processes"] = max(0.0, result["cpu_seconds"].pop("machine") - ours)
    result["process_call_rates"] = RECORDER.process_rates()
    result["other_requests"] = {}
    result["failures"] = dict(RECORDER.failures.most_common(5))
    result["load_generator_cpu_warning"] = bool(getattr(runner, "cpu_warning_emitted", False))
    result["live"] = _live_summary(phase)
    probed = reads_per_second(probes_before, probes_after)
    result["live_reads_per_second_probed"] = None if probed is None else max(
        0.0, probed - request_reads_per_second_of(RECORDER, name))
    result["streams"] = {
        "tabs": len(tabs),
        "open": LIVE.watchers,
        "open_seconds": open_seconds,
        "by_worker": dict(Counter(t.pid or "?" for t in tabs if t.opened)),
        "statuses": {str(k): v for k, v in sorted(sum((t.statuses for t in tabs), Counter()).items())},
        "events": dict(sum((t.events for t in tabs), Counter())),
        "drops": sum(t.drops for t in tabs),
        "requests_in_window": requests_in_window,
        "requests_per_tab_per_second": requests_in_window / max(1, LIVE.watchers) / (
            RECORDER.window[1] - RECORDER.window[0]),
        "rss_mb_before": rss_before,
        "rss_mb_open": rss_open,
    }
    result["idle"] = idle
    return result


def run_wrk_phase(phase: dict, cpu: CpuWatch) -> dict:
    """A GET-only phase on wrk (bench/wrk.py): a warm-up run, then the measured one. Signed in:
    every request takes the next session's cookie, round-robin over all of them. Kind "rooms":
    every path in turn (many rooms' pages), one wrk thread so a page's first view on each worker
    is told apart (cold) from the views after it (steady), then each worker's RSS."""
    sessions = PLAN["sessions"] if phase.get("signed_in", True) else []
    cookies = ["; ".join(f"{k}={v}" for k, v in s.items()) for s in sessions]
    paths = phase.get("paths") or [phase["path"]]
    args = {"host": PLAN["host"], "paths": paths, "cookies": cookies, "user_agent": PLAN["user_agent"],
            "connections": phase["users"], "threads": 1 if phase["kind"] == "rooms" else None,
            "headers": phase.get("headers")}
    rss_before = worker_rss(cpu)
    snapshots = []
    raw = wrk.run(**args, warmup=phase["warmup"], seconds=phase["duration"], sleep=gevent.sleep,
                  at_start=lambda: snapshots.append(cpu.snapshot()), at_end=lambda: snapshots.append(cpu.snapshot()))
    before, after = snapshots
    summary = wrk.summary(raw)
    result = {"phase": phase, **{k: v for k, v in summary.items() if k != "failures"}}
    result["cpu_seconds"] = {g: after[g] - before[g] for g in after}
    result["cpu_seconds"]["load generator"] += raw["cpu_seconds"]  # wrk, a child of this process
    ours = sum(s for g, s in result["cpu_seconds"].items() if g != "machine")
    result["cpu_seconds"]["other processes"] = max(0.0, result["cpu_seconds"].pop("machine") - ours)
    n = result["requests"]
    result["cpu_ms_per_request"] = {g: 1000 * s / n for g, s in result["cpu_seconds"].items()} if n else {}
    # Of the load generator's: wrk's own (the rest is this process waiting for it).
    result["wrk_cpu_ms_per_request"] = 1000 * raw["cpu_seconds"] / n if n else None
    result["process_call_rates"] = {}
    result["other_requests"] = {}
    result["failures"] = summary["failures"]
    result["load_generator_cpu_warning"] = False
    if phase["kind"] == "rooms":
        result["rss_mb_before"] = rss_before
        result["rss_mb_after"] = worker_rss(cpu)
    return result


def main(argv: list[str]) -> int:
    plan_path, results_path = argv
    with open(plan_path) as f:
        PLAN.update(json.load(f))
    cpu = CpuWatch(PLAN["pids"])
    results = []
    for phase in PLAN["phases"]:
        started = time.monotonic()
        if phase["kind"] == "stream":
            result = run_stream_phase(phase, cpu)
        elif phase.get("load") == "wrk" or phase["kind"] == "rooms":
            result = run_wrk_phase(phase, cpu)
        else:
            result = run_phase(phase, cpu)
        results.append(result)
        p95 = "–" if result["p95_ms"] is None else f"{result['p95_ms']:.0f}"
        print(f"  {phase['label']:<34} {result['rps']:8.1f} req/s  p95 {p95:>6} ms  "
              f"({time.monotonic() - started:.0f} s)", flush=True)
    with open(results_path, "w") as f:
        json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
