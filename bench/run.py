"""`python -m bench`: the whole benchmark in one run. See bench/__init__.py and docs/benchmarks.md.

1. dynalite (node_modules/.bin/dynalite) on a free port, data in a temp dir; the tables.
2. Seed with the project's services: users, rooms (the big one empty), memberships, posts.
3. gunicorn with the checked-in gunicorn.conf.py and production settings (DJANGO_DEBUG=0, a fresh
   secret, DJANGO_SECURE=0 for plain http on loopback) plus CHATSITE_BENCH=1 (the call-count
   header and the floor view).
4. Sign every bench user in over HTTP (CSRF included, a few at a time); the load process uses those
   sessions round-robin, one request after another over all of them.
5. `python -m bench.load` runs the small store's phases from a second process (the room pages
   against the floor, sidebar, cold views, posts, live): wrk for GET-only throughput phases,
   locust (headless) for scripted ones. `--only room,search,…` runs some (PHASE_GROUPS). Then the
   room page's profile.
6. The big room with BatchWriteItem and its search index (bench/bulk_load.js, dynalite stopped
   meanwhile), then the phases that need it (history scaling, permalink, search, post A/B): see
   stretch() for why the two stretches.
7. Worker memory; then the table, docs/benchmarks.md and docs/benchmarks.png (bench/report.py).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import secrets
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlencode

from bench import data, wrk

ROOT = Path(__file__).resolve().parents[1]
# The post phase sends far more than a person could, so the rate limit is lifted (the guard's
# UpdateItem still runs on every post) and its window shortened: the guard item holds the keys of
# the current and previous window, and at the production window (60 s) and this rate it would
# grow to hundreds of keys per user, far larger and slower than anything real use makes.
POST_RATE_LIMIT = 1_000_000
POST_RATE_WINDOW_SECONDS = 2


@dataclass
class Config:
    users: int
    small_messages: int
    big_messages: int
    concurrency: int
    warmup: float
    duration: float
    sweep: list[int]  # extra concurrencies for the room page: latency against load
    sweep_warmup: float
    sweep_duration: float
    watchers: list[int]
    watch_warmup: float
    watch_duration: float
    watch_tail: float
    live_post_interval: float  # seconds between the live poster's messages
    profile_requests: int
    alternate_users: int  # the A/B history phase: few users, so latency is service time, not queueing
    # Pushed delivery: open streams per phase (signed in up to STREAMS_SIGNED_IN_MAX, anonymous on the
    # public live room above), with the poll phases' poster; then an idle window with nothing posted.
    streams: list[int]
    stream_warmup: float
    stream_duration: float
    stream_idle: float  # longer than CHAT_LIVE_HEARTBEAT_SECONDS, so every stream beats once
    poll_idle: float  # the same idle window for the largest poll phase
    # The many-rooms phase: this many public rooms in all (the 200 of the sidebar included), each
    # page opened in turn for warm_duration s over warm_users connections, then worker RSS.
    warm_rooms: int
    warm_room_messages: int
    warm_users: int
    warm_duration: float


FULL = Config(users=240, small_messages=100, big_messages=1_000_000, concurrency=16, warmup=3, duration=15,
              sweep=[1, 4, 32, 64], sweep_warmup=2, sweep_duration=8, watchers=[1, 50, 200], watch_warmup=6,
              watch_duration=15, watch_tail=3, live_post_interval=0.5, profile_requests=200,
              alternate_users=4, streams=[50, 200, 1000], stream_warmup=3, stream_duration=15, stream_idle=20,
              poll_idle=10, warm_rooms=1000, warm_room_messages=50, warm_users=8, warm_duration=60)
SMOKE = Config(users=6, small_messages=100, big_messages=2_000, concurrency=4, warmup=1.5, duration=1.5,
               sweep=[], sweep_warmup=0, sweep_duration=0, watchers=[1, 10], watch_warmup=1,
               watch_duration=1.2, watch_tail=2, live_post_interval=0.5, profile_requests=30,
               alternate_users=2, streams=[10, 30], stream_warmup=0.5, stream_duration=1.2, stream_idle=1.5,
               poll_idle=1.5, warm_rooms=220, warm_room_messages=5, warm_users=4, warm_duration=2)
SEARCH_USERS = 4  # concurrent searchers in each search phase
SEARCH_HEADERS = {"HX-Request": "true"}  # the headline searches: the results alone, as htmx asks for them
STREAMS_SIGNED_IN_MAX = 200  # more streams than this are anonymous tabs (one public room, say so)
# --only: which phases run. "room": the room pages, the sidebar, the room list, the floor, the
# history A/B and the many-rooms phase (no big room unless --big-room is given, no search index);
# "search": the big room, its search index and the searches, and the post A/B against the indexer
# off; "post": the post phase; "live": live tick, watchers and streams.
PHASE_GROUPS = ("room", "search", "post", "live")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true",
                        help="about 10 s of load on tiny data; writes to a temp dir unless --out is given")
    parser.add_argument("--big-room", type=int, metavar="N",
                        help=f"messages in the big room (default {FULL.big_messages:,}; smoke {SMOKE.big_messages:,})")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="where benchmarks.md/.png/.json go (default docs/, or a temp dir with --smoke)")
    parser.add_argument("--duration", type=float, metavar="S", help="seconds measured per endpoint phase")
    parser.add_argument("--concurrency", type=int, metavar="N", help="concurrent users per endpoint phase")
    parser.add_argument("--users", type=int, metavar="N",
                        help=f"signed-in users, one session each (default {FULL.users}; smoke {SMOKE.users})")
    parser.add_argument("--from-json", type=Path, metavar="FILE",
                        help="no run: rewrite benchmarks.md/.png in --out (default docs/) from a benchmarks.json")
    parser.add_argument("--only", metavar="GROUPS", default=",".join(PHASE_GROUPS),
                        help=f"comma-separated phase groups to run, of {', '.join(PHASE_GROUPS)} (default all); "
                             "'room' skips the big room (unless --big-room) and the search index load")
    parser.add_argument("--compare", type=Path, metavar="BEFORE.json",
                        help="a benchmarks.json from a run before a change (same machine, one after the other): "
                             "the report puts its phases beside this run's (also with --from-json)")
    parser.add_argument("--gunicorn-env", action="append", default=[], metavar="NAME=VALUE",
                        help="extra environment for gunicorn, to try a setting (e.g. GUNICORN_THREADS=4); "
                             "repeatable, and recorded in the report")
    args = parser.parse_args(argv)
    args.only = {g.strip() for g in args.only.split(",") if g.strip()}
    unknown = args.only - set(PHASE_GROUPS)
    if unknown or not args.only:
        parser.error(f"--only: unknown group(s) {', '.join(sorted(unknown)) or '(none)'}; use {', '.join(PHASE_GROUPS)}")
    return args


def reverse_room(room_id: str) -> str:
    from django.urls import reverse

    return reverse("rooms:room", args=[room_id])


def machine() -> dict:
    import psutil

    model = ""
    try:
        model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), "")
    except OSError:
        pass
    return {"cores": os.cpu_count(), "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "cpu": model or platform.processor(), "python": platform.python_version(),
            "platform": platform.platform(terse=True),
            "load_average": " / ".join(f"{x:.1f}" for x in os.getloadavg())}


def setup_django(endpoint_url: str) -> None:
    os.environ["DYNAMODB_ENDPOINT_URL"] = endpoint_url
    os.environ["CHAT_POST_RATE_LIMIT"] = str(POST_RATE_LIMIT)
    os.environ["CHAT_POST_RATE_WINDOW_SECONDS"] = str(POST_RATE_WINDOW_SECONDS)
    os.environ["CHAT_SEARCH_INDEXER"] = "inline"  # the seed's posts are searchable when the load starts
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")
    import django

    django.setup()


def bulk_loader(dynalite, table: str):
    """seed.seed's ``bulk_load``: stop dynalite, write the lines into its data directory with
    bench/bulk_load.js (dynalite's own storage code, no HTTP), start it again on the same port."""
    def load(chunks, count: int) -> int:
        from chatsite.progress import ProgressBar

        dynalite.stop()
        progress = ProgressBar("  search index", count, interval=0.5)
        proc = subprocess.Popen(["node", str(ROOT / "bench" / "bulk_load.js"), str(dynalite.data_dir), table],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=ROOT)
        try:
            batch: list[str] = []
            for chunk in chunks:
                batch.append(chunk)
                if len(batch) == 200:
                    text = "".join(batch)
                    proc.stdin.write(text.encode())
                    progress(text.count("\n"))
                    batch = []
            text = "".join(batch)
            proc.stdin.write(text.encode())
            progress(text.count("\n"))
            proc.stdin.close()
            answer = proc.stdout.read().decode()
        except BrokenPipeError:
            answer = ""
        finally:
            code = proc.wait()
            progress.finish()
        if code != 0 or answer.split() != ["loaded", str(count)]:
            raise RuntimeError(f"bench/bulk_load.js failed (exit {code}, said {answer.strip()!r}, expected {count})")
        dynalite.start()
        return count

    return load


def sign_in(base_url: str, usernames: list[str], parallel: int = 4) -> list[dict[str, str]]:
    """A real sign-in per user (login form, CSRF token, POST), ``parallel`` at a time (each is an
    Argon2 check on the server): the session cookies to load with, in the users' order."""
    from concurrent.futures import ThreadPoolExecutor

    import requests

    def one(username: str) -> dict[str, str]:
        with requests.Session() as http:
            http.headers["User-Agent"] = data.USER_AGENT
            page = http.get(f"{base_url}/accounts/login/", timeout=10)
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
            if not token:
                raise RuntimeError("no CSRF token on the sign-in page: has templates/accounts/sign_in.html changed?")
            answer = http.post(f"{base_url}/accounts/login/", allow_redirects=False, timeout=10,
                               data={"csrfmiddlewaretoken": token.group(1), "username": username,
                                     "password": data.PASSWORD},
                               headers={"Referer": f"{base_url}/accounts/login/"})
            cookies = http.cookies.get_dict()
            if answer.status_code != 302 or "sessionid" not in cookies:
                raise RuntimeError(f"sign-in as {username} failed: HTTP {answer.status_code}")
            return cookies

    with ThreadPoolExecutor(max_workers=parallel) as pool:
        return list(pool.map(one, usernames))


def build_plan(config: Config, *, base_url: str, rooms: dict[str, str], sessions: list[dict], pids: dict,
               workers: int, permalink_sk: str = "", searches: dict | None = None, indexer_off_url: str = "",
               only: set[str] = frozenset(PHASE_GROUPS), room_ids: list[str] = (), big_room: bool = True,
               load: str = "wrk") -> dict:
    """Every phase of ``only``'s groups, in order. GET-only throughput phases run on ``load`` (wrk,
    or locust where wrk is missing). Each phase names its ``store``: "big" for the ones that need the
    big room (its pages, history scaling, the searches, the post A/B against the indexer), "small"
    for the rest, which main() runs first, before the big room and its index are written (see
    stretch())."""
    from django.conf import settings
    from django.urls import reverse

    from bench.seed import permalink_back
    from rooms.models import message_url

    def room(role: str) -> str:
        return reverse("rooms:room", args=[rooms[role]])

    c = config.concurrency
    base = {"users": c, "warmup": config.warmup, "duration": config.duration, "group": "room"}
    page = {"kind": "page", "load": load}
    phases = [
        {**base, "key": "room_list", "label": "room list", **page, "endpoint": "room list",
         "path": reverse("rooms:list")},
        # The page that is only the session and the sidebar (the New message form): the sidebar's cost.
        {**base, "key": "sidebar", "label": f"sidebar ({data.SIDEBAR_ROOMS} rooms, {data.UNREAD_ROOMS - 2}–{data.UNREAD_ROOMS} unread)",
         **page, "endpoint": "sidebar", "path": reverse("rooms:direct_new")},
        {**base, "key": "room_page", "label": f"room page ({config.small_messages} msgs)", **page,
         "endpoint": "room page", "path": room("small")},
        # History scaling's own phases, the same page of both rooms one after the other on the store
        # that holds the big room (its messages and index): like with like.
        *([{**base, "key": "room_page_beside_big", "store": "big", "label":
            f"room page ({config.small_messages} msgs), beside the big room", **page, "endpoint": "room page",
            "path": room("small")},
           {**base, "key": "room_page_big", "store": "big", "label": f"room page ({config.big_messages:,} msgs)",
            **page, "endpoint": "room page", "path": room("big")}] if big_room else []),
        *([{**base, "key": "permalink_big", "store": "big",
             "label": f"permalink ({permalink_back(config.big_messages):,} back of {config.big_messages:,} msgs)",
             **page, "endpoint": "room page",
             "path": message_url(rooms["big"], permalink_sk).split("#")[0]}] if permalink_sk and big_room else []),
        {**base, "key": "room_page_private", "label": f"private room page ({config.small_messages} msgs)",
         **page, "endpoint": "room page", "path": room("private")},
        {**base, "key": "floor", "label": "floor (room page, no DynamoDB)", **page, "endpoint": "floor",
         "path": "/bench/floor/", "signed_in": False},
        {**base, "group": "post", "key": "post", "label": "post message", "kind": "post", "endpoint": "post message",
         "room_path": room("post"), "post_path": reverse("rooms:post", args=[rooms["post"]])},
        {**base, "group": "live", "key": "live_tick", "label": "live tick", "kind": "tick", "endpoint": "live tick",
         "room_path": room("live"), "updates_path": reverse("rooms:updates", args=[rooms["live"]]),
         "post_path": reverse("rooms:post", args=[rooms["live"]]), "post_interval": config.live_post_interval},
    ]
    if indexer_off_url:
        # The search indexer's cost to a post, A/B in one window: every poster alternates between
        # this gunicorn (CHAT_SEARCH_INDEXER=thread, production's) and a second one with it off.
        post_path = reverse("rooms:post", args=[rooms["post"]])
        phases.append({**base, "group": "search", "store": "big", "key": "post_ab", "label": "post message A/B (search indexer on, off)",
                       "kind": "post_ab", "endpoint": "post (indexer on)", "room_path": room("post"),
                       "post_path": post_path,
                       "post_urls": [["post (indexer on)", base_url + post_path],
                                     ["post (indexer off)", indexer_off_url + post_path]]})
    for kind, search in (searches or {}).items():
        # What a search costs a JavaScript user (the header's field asks htmx for the results alone,
        # rooms.views.search_page), then the whole page (a link, a reload, no JavaScript) beside it.
        path = reverse("rooms:search") + "?" + urlencode({"q": search["q"]})
        key = "search_" + kind.replace(" ", "_")
        phases.append({"users": SEARCH_USERS, "warmup": config.warmup, "duration": config.duration, "group": "search",
                       "store": "big", "key": key, "label": f"search: {kind} ({search['q']})", **page, "endpoint": "search",
                       "path": path, "headers": SEARCH_HEADERS})
        phases.append({"users": SEARCH_USERS, "warmup": config.warmup, "duration": config.duration, "group": "search",
                       "store": "big", "key": key + "_page", "label": f"search page: {kind} ({search['q']})", **page,
                       "endpoint": "search page", "path": path})
    if big_room:
        phases.append({"users": config.alternate_users, "warmup": config.warmup, "duration": config.duration,
                       "group": "room", "store": "big", "key": "history_ab", "label": "room pages A/B (small, big)",
                       "kind": "alternate", "endpoint": "room page (small)",
                       "paths": [["room page (small)", room("small")], ["room page (big)", room("big")]]})
    if room_ids and load == "wrk":
        # Many rooms' pages, each in turn, none opened before on either worker: the first view of
        # each on a worker is "cold", the ones after it "steady" (wrk_phase.lua tells them apart by
        # the worker and the path), then each worker's RSS with that many rooms warm.
        measured = set(rooms.values())
        paths = [reverse("rooms:room", args=[r]) for r in room_ids if r not in measured]
        phases.append({"users": config.warm_users, "warmup": 0, "duration": config.warm_duration, "group": "room",
                       "key": "rooms_warm", "label": f"room pages of {len(paths):,} rooms in turn", "kind": "rooms",
                       "load": "wrk", "endpoint": "room page", "paths": paths})
    for users in config.sweep:
        phases.append({"users": users, "warmup": config.sweep_warmup, "duration": config.sweep_duration,
                       "group": "room", "load": load,
                       "key": f"sweep_{users}", "label": f"room page at {users} users", "kind": "page",
                       "endpoint": "room page", "path": room("small")})
    for watchers in config.watchers:
        phases.append({"users": watchers, "warmup": config.watch_warmup, "duration": config.watch_duration,
                       "group": "live", "tail": config.watch_tail, "spawn_rate": max(20, watchers / 3),
                       "idle": config.poll_idle if watchers == max(config.watchers) else 0,
                       "key": f"watch_{watchers}", "label": f"live delivery, {watchers} watchers", "kind": "watch",
                       "endpoint": "live tick", "room_path": room("live"),
                       "updates_path": reverse("rooms:updates", args=[rooms["live"]]),
                       "post_path": reverse("rooms:post", args=[rooms["live"]]),
                       "post_interval": config.live_post_interval,
                       "poll_seconds": settings.CHAT_LIVE_POLL_SECONDS})
    for tabs in config.streams:
        phases.append({"users": tabs, "warmup": config.stream_warmup, "duration": config.stream_duration,
                       "group": "live", "tail": config.watch_tail, "idle": config.stream_idle, "settle": 2.0,
                       "open_rate": 200, "signed_in": tabs <= STREAMS_SIGNED_IN_MAX,
                       "key": f"stream_{tabs}", "label": f"live streams, {tabs} tabs", "kind": "stream",
                       "endpoint": "post (live poster)", "room_path": room("live"),
                       "stream_path": reverse("rooms:stream", args=[rooms["live"]]),
                       "post_path": reverse("rooms:post", args=[rooms["live"]]),
                       "post_interval": config.live_post_interval,
                       "heartbeat_seconds": settings.CHAT_LIVE_HEARTBEAT_SECONDS,
                       "push_refresh_seconds": settings.CHAT_LIVE_PUSH_REFRESH_SECONDS,
                       "poll_seconds": settings.CHAT_LIVE_POLL_SECONDS})
    phases = [{"store": "small", **phase} for phase in phases if phase["group"] in only]
    return {"host": base_url, "cookie_domain": "127.0.0.1", "user_agent": data.USER_AGENT,
            "sessions": sessions, "pids": pids, "phases": phases, "workers": workers}


def stretch(plan: dict, store: str, **changes) -> dict:
    """The plan's phases on one store. "small": the store as the room-only run has it (every room,
    the big one empty); "big": the same store after the big room's messages and search index are
    written into it. dynalite's cost per call grows with its LevelDB (about 3× per room page after
    the 41 M index items, 14.8 against 4.8 ms of its CPU), which DynamoDB's does not, so the phases
    that don't need the big room (the room page against the floor, the sidebar, the cold views,
    posts, live) run before it exists; history scaling's own phases and its A/B then run both rooms
    on the big store."""
    return {**plan, **changes, "phases": [p for p in plan["phases"] if p["store"] == store]}


def check_sidebar(plan: dict, expected: int, unread: list[int] = ()) -> None:
    """The measured page is the one with the full sidebar: signed-in users (a dozen of them, spread
    over the seeded ones) see ``expected`` rooms in it, the measured one marked current, and their
    unread rooms: the fillers', plus the small and private rooms when ``unread`` (each session's
    unread messages there, seed.Seeded.reader_unread) says so (fails the run otherwise)."""
    import requests

    path = next((p["path"] for p in plan["phases"] if p["key"] == "room_page"), None)
    if path is None:
        return
    sessions = plan["sessions"]
    every = max(1, len(sessions) // 12)
    for i in [*range(0, len(sessions), every), len(sessions) - 1]:  # a dozen, spread over the users
        cookies = sessions[i]
        page = requests.get(plan["host"] + path, cookies=cookies, headers={"User-Agent": data.USER_AGENT}, timeout=10)
        page.raise_for_status()
        entries = page.text.count('<li class="sidebar-entry')
        if entries != expected or f'href="{path}" aria-current="page"' not in page.text:
            raise RuntimeError(f"the room page's sidebar lists {entries} rooms, not {expected} with {path} current: "
                               "has templates/rooms/_sidebar.html changed?")
        shown = page.text.count('<span class="unread">')
        seeded = data.UNREAD_ROOMS - (0 if i >= len(unread) or unread[i] else 2)  # the small and private rooms
        if shown != seeded:
            raise RuntimeError(f"the sidebar of session {i} shows {shown} unread rooms, not the {seeded} seeded")


def check_permalink(plan: dict, sk: str) -> None:
    """The permalink phase measures the page at that message: it is on the page, highlighted (fails
    the run otherwise)."""
    import requests

    path = next((p["path"] for p in plan["phases"] if p["key"] == "permalink_big"), None)
    if path is None:
        return
    page = requests.get(plan["host"] + path, cookies=plan["sessions"][0], headers={"User-Agent": data.USER_AGENT},
                        timeout=10)
    page.raise_for_status()
    if f'data-pos="{sk}"' not in page.text or "data-linked" not in page.text:
        raise RuntimeError(f"the permalink page {path} does not show its message: has templates/rooms/_message.html "
                           "changed?")


def check_searches(plan: dict) -> None:
    """Each measured search finds messages (highlighted) for a signed-in bench user: the phases
    measure searches that work, not empty answers; the htmx ones get the results alone (no
    sidebar), the page ones the whole page."""
    import requests

    for phase in plan["phases"]:
        if phase.get("endpoint") not in ("search", "search page"):
            continue
        page = requests.get(plan["host"] + phase["path"], cookies=plan["sessions"][0],
                            headers={"User-Agent": plan["user_agent"], **phase.get("headers", {})}, timeout=60)
        if page.status_code != 200 or "<mark>" not in page.text:
            raise RuntimeError(f"{phase['label']}: {page.status_code}, no highlighted result; the search index "
                               f"or the query is wrong")
        sidebar = 'id="sidebar"' in page.text
        if sidebar != (phase["endpoint"] == "search page"):
            raise RuntimeError(f"{phase['label']}: the answer {'has' if sidebar else 'lacks'} the sidebar: "
                               "has rooms.views.search_page changed?")


def settle(pid: int, *, quiet_cpu: float = 0.05, timeout: float = 600) -> float:
    """Wait until dynalite has finished digesting the bulk write (LevelDB compactions keep it busy
    for a while), so it doesn't weigh on the first phases. Returns the seconds waited."""
    import psutil

    process = psutil.Process(pid)
    started = time.monotonic()
    quiet = 0
    process.cpu_percent()
    while time.monotonic() - started < timeout and quiet < 2:
        time.sleep(1)
        quiet = quiet + 1 if process.cpu_percent() / 100 < quiet_cpu else 0
    return time.monotonic() - started


def prime(plan: dict, rounds: int) -> None:
    """Warm both workers before anything is measured: imports, compiled templates, and above all
    each PynamoDB model's first connection (its own botocore session and client, 0.1 s or more),
    plus the room cache. Every endpoint, a new connection per request so both workers get some."""
    import requests

    from rooms.validators import new_token

    phases = plan["phases"]
    pages = sorted({p["path"] for p in phases if "path" in p} | {p["room_path"] for p in phases if "room_path" in p})
    posting = next((p for p in phases if p["kind"] in ("post", "post_ab")), None)
    ticking = next((p for p in phases if p["kind"] in ("tick", "watch", "stream")), None)
    cookies = plan["sessions"][0]
    headers = {"User-Agent": data.USER_AGENT}
    csrf = watermark = ""
    if posting:
        page = requests.get(plan["host"] + posting["room_path"], cookies=cookies, headers=headers, timeout=10)
        csrf = re.search(r'"X-CSRFToken":\s*"([^"]+)"', page.text).group(1)
    if ticking:
        tick_page = requests.get(plan["host"] + ticking["room_path"], headers=headers, timeout=10)
        watermark = re.search(r'data-watermark="([^"]+)"', tick_page.text).group(1)  # signed by the server
    for _ in range(rounds):
        for path in pages:
            response = requests.get(plan["host"] + path, timeout=10, headers=headers,
                                    cookies=None if path.startswith("/bench/") else cookies)
            response.raise_for_status()
        if posting:
            requests.post(plan["host"] + posting["post_path"], cookies=cookies, timeout=10,
                          data={"comment": "warming up", "idempotency_key": new_token()},
                          headers={**headers, "HX-Request": "true", "X-CSRFToken": csrf}).raise_for_status()
        for _, url in next((p["post_urls"] for p in phases if p["kind"] == "post_ab"), []):
            requests.post(url, cookies=cookies, timeout=10, data={"comment": "warming up", "idempotency_key": new_token()},
                          headers={**headers, "HX-Request": "true", "X-CSRFToken": csrf}).raise_for_status()
        if ticking:
            requests.get(f"{plan['host']}{ticking['updates_path']}", params={"w": watermark, "seen": ""},
                         headers=headers, timeout=10).raise_for_status()


def touch_sessions(plan: dict, path: str, parallel: int = 4) -> None:
    """One request with every session, before a stretch's phases. A session's next request after
    `last_seen` is 5 minutes old saves it (one UpdateItem, accounts.session_engine); after the big
    room's write (minutes; 16 for the index) every session is that old, and without this the first
    phase after it would pay all those writes, one per session, and the phase after it none."""
    from concurrent.futures import ThreadPoolExecutor

    import requests

    def one(cookies: dict) -> None:
        requests.get(plan["host"] + path, cookies=cookies, headers={"User-Agent": data.USER_AGENT},
                     timeout=30).raise_for_status()

    with ThreadPoolExecutor(max_workers=parallel) as pool:
        list(pool.map(one, plan["sessions"]))


def run_load(plan: dict, work: Path) -> tuple[list[dict], float]:
    """Warm the workers on the plan's endpoints and every session, then run its phases in
    `python -m bench.load`, a second process. Returns the phases' results and the seconds the load
    took."""
    from django.urls import reverse

    prime(plan, rounds=8)
    touch_sessions(plan, reverse("rooms:list"))
    work.mkdir(parents=True, exist_ok=True)
    plan_path, results_path = work / "plan.json", work / "results.json"
    plan_path.write_text(json.dumps(plan, indent=1))
    budget = sum(p["warmup"] + p["duration"] + p.get("tail", 0) + p.get("idle", 0) + 5
                 + (p["users"] / p["open_rate"] + p["settle"] + 30 if p["kind"] == "stream" else 0)
                 for p in plan["phases"]) + 120
    print(f"load: {len(plan['phases'])} phases, about {budget - 120:.0f} s", flush=True)
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "bench.load", str(plan_path), str(results_path)],
                   cwd=ROOT, check=True, timeout=budget)
    return json.loads(results_path.read_text()), time.monotonic() - started


def worker_memory(master_pid: int) -> list[dict]:
    import psutil

    workers = []
    for process in psutil.Process(master_pid).children():
        try:
            info = process.memory_full_info()
            times = process.cpu_times()
            workers.append({"pid": process.pid, "rss_mb": info.rss / 2**20, "uss_mb": info.uss / 2**20,
                            "cpu_seconds": times.user + times.system})
        except psutil.Error:
            pass
    return workers


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    baseline = None
    if args.compare:
        before = json.loads(args.compare.read_text())
        baseline = {k: before.get(k) for k in ("started_at", "command", "phases", "config", "seeded", "machine")}
    if args.from_json:
        from bench import report

        results = json.loads(args.from_json.read_text())
        if baseline:
            results["baseline"] = baseline
        (args.out or ROOT / "docs").mkdir(parents=True, exist_ok=True)
        for path in report.write(results, args.out or ROOT / "docs"):
            print(f"wrote {path}")
        return 0
    config = SMOKE if args.smoke else FULL
    if args.big_room is not None:
        config.big_messages = args.big_room
    elif "search" not in args.only:
        config.big_messages = 0  # --only room (or post, live): no big room unless asked for
    searching = "search" in args.only
    if args.duration is not None:
        config.duration = args.duration
    if args.concurrency is not None:
        config.concurrency = args.concurrency
    if args.users is not None:
        config.users = max(2, args.users)
    out_dir = args.out or (Path(tempfile.mkdtemp(prefix="chatsite-bench-out-")) if args.smoke else ROOT / "docs")
    out_dir.mkdir(parents=True, exist_ok=True)
    command = "python -m bench " + " ".join(shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))

    sys.path.insert(0, str(ROOT))
    from tests.support.servers import DynaliteServer, GunicornServer, free_port

    run_started = time.monotonic()
    started_at = datetime.now(timezone.utc)
    work = Path(tempfile.mkdtemp(prefix="chatsite-bench-"))
    dynalite = DynaliteServer(data_dir=work / "dynalite", port=free_port())
    gunicorn: GunicornServer | None = None
    indexer_off: GunicornServer | None = None
    try:
        print(f"dynalite on {dynalite.url} (data in {work})", flush=True)
        dynalite.start()
        setup_django(dynalite.url)
        from chatsite import dynamodb

        dynamodb.ensure_tables(wait_seconds=30)
        print("seeding", flush=True)
        from bench import seed

        # The big room stays empty until the small-store phases have run (stretch()).
        seeded = seed.seed(users=config.users, small_messages=config.small_messages,
                           big_messages=config.big_messages, big_room=False,
                           warm_rooms=config.warm_rooms if "room" in args.only else 0,
                           warm_room_messages=config.warm_room_messages)
        waited = settle(dynalite.proc.pid)
        seeded.timings["dynalite settling after the seed (CPU < 5%)"] = waited

        gunicorn_env = {
            "DYNAMODB_ENDPOINT_URL": dynalite.url,
            "CHATSITE_BENCH": "1",
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_SECURE": "0",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "GUNICORN_WORKERS": str(max(2, os.cpu_count() or 1)),  # gunicorn.conf.py's own default
            "CHAT_POST_RATE_LIMIT": str(POST_RATE_LIMIT),
            "CHAT_POST_RATE_WINDOW_SECONDS": str(POST_RATE_WINDOW_SECONDS),
            "CHAT_SEARCH_INDEXER": "thread",  # production's; the harness's own (inline) must not leak in
            **dict(item.split("=", 1) for item in args.gunicorn_env),
        }
        # Production logging (a line per request) stays on, into a file: the console stays readable.
        gunicorn = GunicornServer(port=free_port(), env=gunicorn_env, log_path=work / "gunicorn.log")
        print(f"gunicorn on {gunicorn.url}", flush=True)
        gunicorn.start()
        if searching:
            indexer_off = GunicornServer(port=free_port(), env={**gunicorn_env, "CHAT_SEARCH_INDEXER": "off"},
                                         log_path=work / "gunicorn-indexer-off.log")
            print(f"gunicorn with the search indexer off (the post A/B) on {indexer_off.url}", flush=True)
            indexer_off.start()
        started = time.monotonic()
        sessions = sign_in(gunicorn.url, seeded.users)
        for cookies, group in zip(sessions, seeded.reader_groups):
            cookies[data.READER_COOKIE] = group  # echoed by bench/middleware.py: calls per page by reader group
        seeded.timings[f"sign in over HTTP ({len(sessions)} sessions, 4 at a time)"] = time.monotonic() - started
        print(f"  {len(sessions)} users signed in in {time.monotonic() - started:.1f} s", flush=True)
        load = "wrk" if wrk.available() else "locust"
        if load != "wrk":
            print("  wrk not found (`make bench` installs it): GET phases on locust instead", flush=True)

        def plan_for(store: str) -> dict:
            return stretch(build_plan(
                config, base_url=gunicorn.url, rooms=seeded.rooms, sessions=sessions,
                permalink_sk=seeded.big_permalink_sk, searches=seeded.searches if searching else None,
                indexer_off_url=indexer_off.url if indexer_off else "",
                pids={"gunicorn": gunicorn.proc.pid, "dynalite": dynalite.proc.pid},
                workers=int(gunicorn_env["GUNICORN_WORKERS"]), only=args.only, room_ids=seeded.room_ids,
                big_room=config.big_messages > 0, load=load), store)

        phases: list[dict] = []
        load_seconds = 0.0
        plan = plan_for("small")
        check_sidebar(plan, seeded.sidebar_rooms, seeded.reader_unread)
        if plan["phases"]:
            print("the small store's phases (the big room still empty)", flush=True)
            found, seconds = run_load(plan, work / "small")
            phases += found
            load_seconds += seconds

        # On the small store, like the room page's phase; gunicorn is idle meanwhile.
        print("profiling the room page (pyinstrument)", flush=True)
        profile_path = work / "profile.json"
        subprocess.run([sys.executable, "-m", "bench.profile", str(profile_path)], cwd=ROOT, check=True,
                       timeout=300, env={
                           **os.environ, **gunicorn_env,
                           "BENCH_PROFILE_SESSION": "; ".join(f"{k}={v}" for k, v in sessions[0].items()),
                           "BENCH_PROFILE_USER_AGENT": data.USER_AGENT,
                           # The small room's page (a fixed index here once profiled the sidebar page).
                           "BENCH_PROFILE_PATHS": f"room page={reverse_room(seeded.rooms['small'])};floor=/bench/floor/",
                           "BENCH_PROFILE_REQUESTS": str(config.profile_requests)})
        profile = json.loads(profile_path.read_text())

        if config.big_messages > 0:
            # gunicorn stays up (idle) while dynalite is stopped for the index load and started again
            # on the same port: its connections reopen on the next call.
            print("writing the big room", flush=True)
            # The index load is the longest step (~16 min at 1,000,000): only for searches.
            seed.seed_big_room(seeded, bulk_load=bulk_loader(dynalite, dynamodb.table_name(dynamodb.CHAT))
                               if searching else None)
            waited = settle(dynalite.proc.pid)
            seeded.timings["dynalite settling after the big room's write (CPU < 5%)"] = waited
            print(f"  dynalite settled after {waited:.0f} s", flush=True)
            plan = plan_for("big")
            if plan["phases"]:
                check_permalink(plan, seeded.big_permalink_sk)
                check_searches(plan)
                print("the big store's phases", flush=True)
                found, seconds = run_load(plan, work / "big")
                phases += found
                load_seconds += seconds
        memory = worker_memory(gunicorn.proc.pid)
    finally:
        for server in (gunicorn, indexer_off):
            if server is not None:
                server.stop()
        dynalite.stop()
        shutil.rmtree(work, ignore_errors=True)

    from bench import report

    results = {
        "started_at": started_at.isoformat(timespec="seconds"),
        "smoke": args.smoke,
        "command": command,
        "only": sorted(args.only),
        "baseline": baseline,
        "load_generator": load,
        "config": asdict(config),
        "machine": machine(),
        "seeded": asdict(seeded),
        "phases": phases,
        "workers": memory,
        "profile": profile,
        "load_seconds": load_seconds,
        "total_seconds": time.monotonic() - run_started,
        "servers": {
            "dynalite": f"node_modules/.bin/dynalite --host 127.0.0.1 --port <free> --path <temp dir> "
                        f"--createTableMs 0 --deleteTableMs 0 --updateTableMs 0",
            "gunicorn": " ".join(f"{k}={'<generated>' if k == 'DJANGO_SECRET_KEY' else v}"
                                 for k, v in gunicorn_env.items() if k != "DYNAMODB_ENDPOINT_URL")
                        + " GUNICORN_BIND=127.0.0.1:<free> GUNICORN_ACCESSLOG= gunicorn --config gunicorn.conf.py",
            "load": "python -m bench.load <plan.json> <results.json>  (GET-only phases: wrk "
                    "-t2 -c<users> -s bench/wrk_phase.lua; scripted phases: locust as a library, FastHttpUser; "
                    "streams: a greenlet and a raw socket per tab, bench/streams.py)"
                    if load == "wrk" else
                    "python -m bench.load <plan.json> <results.json>  (locust as a library, FastHttpUser; "
                    "streams: a greenlet and a raw socket per tab, bench/streams.py)",
            "worker_class": gunicorn_env.get("GUNICORN_WORKER_CLASS", "gevent")
                            + " workers (GUNICORN_WORKER_CLASS), worker_connections 4000",
        },
    }
    print(report.table(results))
    paths = report.write(results, out_dir)
    for path in paths:
        print(f"wrote {path}")
    return 0
