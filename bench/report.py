"""The benchmark's outputs: the console table, docs/benchmarks.md, docs/benchmarks.png and the raw
numbers (benchmarks.json), all from the results dict bench/run.py assembles."""

from __future__ import annotations

import json
from pathlib import Path

BUDGETS = {"room page": 3, "post message": 3, "live tick": 1}  # DynamoDB calls per request, at most (asserted in tests/integration/test_rooms_http.py): the room page reads the session, the sidebar, the history
FLOOR_RATIO_TARGET = 0.5
LIVE_P95_TARGET_MS = 1500
HISTORY_TOLERANCE = 0.10
RSS_TARGET_MB = 120
MAIN_PHASES = ["room_list", "room_page", "room_page_big", "room_page_private", "floor", "post", "live_tick"]
READ_OPS = ("GetItem", "Query", "BatchGetItem", "Scan")


def _num(value, digits: int = 1) -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}"


def _phase(results: dict, key: str) -> dict | None:
    return next((p for p in results["phases"] if p["phase"]["key"] == key), None)


def _non_2xx(phase: dict) -> int:
    return sum(n for status, n in phase["statuses"].items() if not status.startswith("2"))


def _calls(phase: dict) -> str:
    per_op = phase["calls_per_request"]
    if not phase["requests"]:
        return "–"
    if not per_op:
        return "0"
    parts = " + ".join(f"{op} {n:.2f}" if n >= 0.01 or n == 0 else f"{op} {n:.4f}" for op, n in per_op.items())
    total = phase["calls_per_request_total"]
    return f"{parts} = {total:.2f} (max {phase['calls_max']})" if len(per_op) > 1 else \
        f"{parts} (max {phase['calls_max']})"


def cpu_floor_ratio(page: dict, floor: dict) -> float | None:
    """The floor ratio from CPU per request (gunicorn + dynalite + load generator) rather than from
    throughput: what the ratio would be with the two cores saturated by the benchmark alone, so it
    does not move with whatever else the machine ran during either window."""
    ours = ("gunicorn", "dynalite", "load generator")
    page_cpu = sum(page.get("cpu_ms_per_request", {}).get(g, 0) for g in ours)
    floor_cpu = sum(floor.get("cpu_ms_per_request", {}).get(g, 0) for g in ours)
    return floor_cpu / page_cpu if page_cpu and floor_cpu else None


def live_reads_per_second(phase: dict) -> float:
    """DynamoDB reads/s of the workers (all threads), less the reads of the requests that aren't
    polls (the poster's posts, page loads), which the per-request header accounts for."""
    total = sum(rate for op, rate in phase["process_call_rates"].items() if op in READ_OPS)
    for other in phase["other_requests"].values():
        reads = sum(n for op, n in other["calls_per_request"].items() if op in READ_OPS)
        total -= reads * other["rps"]
    return max(total, 0.0)


def endpoint_rows(results: dict) -> list[list[str]]:
    rows = []
    for key in MAIN_PHASES:
        phase = _phase(results, key)
        if phase is None:
            continue
        endpoint = phase["phase"]["endpoint"]
        budget = BUDGETS.get(endpoint)
        cpu = phase.get("cpu_ms_per_request", {})
        rows.append([phase["phase"]["label"], str(phase["phase"]["users"]), _num(phase["rps"]),
                     _num(phase["p50_ms"], 0), _num(phase["p95_ms"], 0), _num(phase["p99_ms"], 0),
                     str(_non_2xx(phase)), _calls(phase), "0" if key == "floor" else (f"≤ {budget}" if budget else ""),
                     _num(cpu.get("gunicorn")), _num(cpu.get("dynalite")), _num(cpu.get("load generator")),
                     _other_cpu(results, phase)])
    return rows


def _other_cpu(results: dict, phase: dict) -> str:
    """Share of the machine used by processes that are not part of the benchmark during the window."""
    other = phase.get("cpu_seconds", {}).get("other processes")
    if other is None or not phase["seconds"]:
        return "–"
    return f"{other / (phase['seconds'] * results['machine']['cores']):.0%}"


ENDPOINT_HEADER = ["endpoint", "users", "req/s", "p50 ms", "p95 ms", "p99 ms", "non-2xx",
                   "DynamoDB calls / request", "budget", "gunicorn CPU ms/req", "dynalite CPU ms/req",
                   "load-gen CPU ms/req", "other processes' CPU"]


def watcher_rows(results: dict) -> list[list[str]]:
    rows = []
    for phase in results["phases"]:
        if phase["phase"]["kind"] != "watch":
            continue
        live = phase["live"]
        reads = live_reads_per_second(phase)
        rows.append([str(live["watchers"]), str(live["posts"]), f"{live['deliveries']}/{live['expected_deliveries']}",
                     str(live["missing"]), str(live["duplicates"]), _num(live["delivery_p50_ms"], 0),
                     _num(live["delivery_p95_ms"], 0), _num(phase["rps"]), _num(phase["p95_ms"], 0),
                     _num(phase["calls_per_request_total"], 3), _num(reads), _num(reads / phase["rps"], 3)
                     if phase["rps"] else "–", str(_non_2xx(phase))])
    return rows


WATCHER_HEADER = ["watchers", "posts", "delivered", "missing", "duplicates", "delivery p50 ms",
                  "delivery p95 ms", "polls/s", "poll p95 ms", "calls per poll (header)",
                  "live reads/s (workers)", "reads per poll", "non-2xx"]


def sweep_points(results: dict) -> list[dict]:
    points = [p for p in results["phases"]
              if p["phase"]["key"].startswith("sweep_") or p["phase"]["key"] == "room_page"]
    return sorted(points, key=lambda p: p["phase"]["users"])


def history_ab(results: dict) -> tuple[dict, dict] | None:
    """The small and big room pages' summaries from the interleaved A/B phase."""
    phase = _phase(results, "history_ab")
    if not phase or not phase["requests"] or "room page (big)" not in phase["other_requests"]:
        return None
    big = phase["other_requests"]["room page (big)"]
    return (phase, big) if big["requests"] and phase["p50_ms"] and big["p50_ms"] else None


def targets(results: dict) -> list[list[str]]:
    rows = []

    def add(target: str, measured: str, ok: bool | str | None) -> None:
        status = ok if isinstance(ok, str) else "–" if ok is None else ("met" if ok else "**not met**")
        rows.append([target, measured, status])

    page, floor = _phase(results, "room_page"), _phase(results, "floor")
    if page and floor and floor["rps"]:
        ratio = page["rps"] / floor["rps"]
        cpu_ratio = cpu_floor_ratio(page, floor)
        add(f"room page ≥ {FLOOR_RATIO_TARGET:.0%} of the floor's throughput",
            f"{ratio:.0%} ({page['rps']:.0f} vs {floor['rps']:.0f} req/s); by CPU per request "
            f"{_num(None if cpu_ratio is None else 100 * cpu_ratio, 0)}%",
            ratio >= FLOOR_RATIO_TARGET if cpu_ratio is None or (ratio >= FLOOR_RATIO_TARGET) == (
                cpu_ratio >= FLOOR_RATIO_TARGET) else "**unclear**: the two measures disagree")
    for key, endpoint in (("room_page", "room page"), ("room_page_private", "room page"), ("post", "post message")):
        phase = _phase(results, key)
        if phase and phase["requests"]:
            note = ("; an occasional extra call is a per-process cache refilling (GetItem): the room, once per "
                    "CHAT_ROOM_CACHE_SECONDS, or request.user's record, once per user per "
                    "ACCOUNTS_USER_RECHECK_SECONDS" if key.startswith("room_page")
                    and phase["calls_max"] > BUDGETS[endpoint] else "")
            label = "private room page" if key == "room_page_private" else endpoint
            add(f"{label}: ≤ {BUDGETS[endpoint]} DynamoDB calls per request",
                f"mean {phase['calls_per_request_total']:.2f}, max {phase['calls_max']} ({_calls(phase)}){note}",
                round(phase["calls_per_request_total"], 2) <= BUDGETS[endpoint])
    watches = [p for p in results["phases"] if p["phase"]["kind"] == "watch" and p["rps"]]
    for phase in watches:
        reads_per_poll = live_reads_per_second(phase) / phase["rps"]
        add(f"live tick: ≤ 1 DynamoDB call per tab on average (watchers: {phase['live']['watchers']})",
            f"{reads_per_poll:.3f} reads per poll (workers, all threads); header mean "
            f"{phase['calls_per_request_total']:.3f}",
            reads_per_poll <= 1 and (phase["calls_per_request_total"] or 0) <= 1)
    if watches:
        biggest = max(watches, key=lambda p: p["live"]["watchers"])
        p95 = biggest["live"]["delivery_p95_ms"]
        add(f"live delivery p95 ≤ {LIVE_P95_TARGET_MS / 1000:.1f} s at {biggest['live']['watchers']} watchers",
            f"{_num(p95, 0)} ms (p50 {_num(biggest['live']['delivery_p50_ms'], 0)} ms; "
            f"{biggest['live']['missing']} missing, {biggest['live']['duplicates']} duplicates)",
            None if p95 is None else p95 <= LIVE_P95_TARGET_MS and biggest["live"]["missing"] == 0)
        if len(watches) > 1:
            ordered = sorted(watches, key=lambda p: p["live"]["watchers"])
            before, last = ordered[-2], ordered[-1]
            workers = len(results["workers"]) or 2
            add(f"live reads stay flat as watchers grow ({before['live']['watchers']} → {last['live']['watchers']})",
                " → ".join(f"{live_reads_per_second(p):.1f}/s at {p['live']['watchers']}" for p in ordered)
                + f" (design bound: {workers} workers × 2 Queries per refresh ÷ 0.5 s = {workers * 4}/s; one "
                  "watcher keeps only one worker's feed awake)",
                live_reads_per_second(last) <= 1.1 * live_reads_per_second(before) + 0.5)
    ab = history_ab(results)
    if ab:
        small, big = ab
        change = big["p50_ms"] / small["p50_ms"] - 1
        change95 = big["p95_ms"] / small["p95_ms"] - 1
        n = results["seeded"]["big_messages"]
        add(f"history scaling flat within {HISTORY_TOLERANCE:.0%} ({results['seeded']['small_messages']} vs "
            f"{n:,} messages)",
            f"interleaved A/B at {_phase(results, 'history_ab')['phase']['users']} users: p50 {small['p50_ms']:.0f} → "
            f"{big['p50_ms']:.0f} ms ({change:+.0%}), p95 {small['p95_ms']:.0f} → {big['p95_ms']:.0f} ms "
            f"({change95:+.0%})", abs(change) <= HISTORY_TOLERANCE)
    if results["workers"]:
        worst = max(w["rss_mb"] for w in results["workers"])
        add(f"worker RSS ≤ {RSS_TARGET_MB} MB after the run", f"{worst:.0f} MB (largest of "
            f"{len(results['workers'])} workers)", worst <= RSS_TARGET_MB)
    return rows


def _text_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(header[i]), *(len(r[i]) for r in rows)) if rows else len(header[i]) for i in range(len(header))]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths))  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(out)


def table(results: dict) -> str:
    parts = ["", "Per endpoint (closed loop, fixed concurrency):", _text_table(ENDPOINT_HEADER, endpoint_rows(results))]
    watchers = watcher_rows(results)
    if watchers:
        parts += ["", "Live delivery:", _text_table(WATCHER_HEADER, watchers)]
    parts += ["", "Targets:", _text_table(["target", "measured", ""], targets(results))]
    profile = results.get("profile") or {}
    for label, prof in profile.items():
        parts += ["", f"Profile, {label}: {prof['wall_ms_per_request']:.1f} ms wall, "
                      f"{prof['cpu_ms_per_request']:.1f} ms CPU per request (one at a time)"]
        parts += [f"  {ms:6.2f} ms  {name}" for name, ms in prof["categories_ms"].items()]
    return "\n".join(parts)


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.6))
    points = sweep_points(results)
    if points:
        users = [p["phase"]["users"] for p in points]
        for q, style in (("p50_ms", "o-"), ("p95_ms", "s--"), ("p99_ms", "^:")):
            left.plot(users, [p[q] for p in points], style, label=f"room page {q[:3]}")
        floor = _phase(results, "floor")
        if floor and floor["p50_ms"] is not None:
            left.plot([floor["phase"]["users"]], [floor["p50_ms"]], "kx", markersize=9, label="floor p50")
            left.plot([floor["phase"]["users"]], [floor["p95_ms"]], "k+", markersize=11, label="floor p95")
        rps_axis = left.twinx()
        rps_axis.plot(users, [p["rps"] for p in points], ".-", color="tab:purple", alpha=0.6,
                      label="room page req/s")
        rps_axis.set_ylabel("room page requests/s", color="tab:purple")
        rps_axis.set_ylim(bottom=0)
        left.set_xscale("log", base=2)
        left.set_xticks(users, [str(u) for u in users])
        left.set_xlabel("concurrent users (closed loop)")
        left.set_ylabel("latency (ms)")
        left.set_ylim(bottom=0)
        left.set_title("Room page: latency against load")
        left.legend(loc="upper left", fontsize=8)
    watches = [p for p in results["phases"] if p["phase"]["kind"] == "watch"]
    if watches:
        counts = [p["live"]["watchers"] for p in watches]
        right.plot(counts, [p["live"]["delivery_p50_ms"] for p in watches], "o-", label="delivery p50")
        right.plot(counts, [p["live"]["delivery_p95_ms"] for p in watches], "s--", label="delivery p95")
        right.axhline(LIVE_P95_TARGET_MS, color="r", linewidth=0.8, linestyle=":", label="p95 target")
        reads_axis = right.twinx()
        reads_axis.plot(counts, [live_reads_per_second(p) for p in watches], "g^-", alpha=0.6,
                        label="DynamoDB reads/s")
        reads_axis.set_ylabel("DynamoDB reads/s (all workers)", color="g")
        reads_axis.set_ylim(bottom=0, top=max(10.0, 2 * max(live_reads_per_second(p) for p in watches)))
        right.set_xscale("log")
        right.set_xticks(counts, [str(c) for c in counts])
        right.set_xlabel("concurrent watchers (tabs polling the room)")
        right.set_ylabel("post 2xx → seen by a watcher (ms)")
        right.set_ylim(bottom=0)
        right.set_title("Live delivery against watchers")
        right.legend(loc="upper left", fontsize=8)
    when = results["started_at"][:16].replace("T", " ")
    fig.suptitle(f"chatsite benchmark, {when} UTC, {results['machine']['cores']} cores"
                 + (" (smoke run: tiny data, ~1 s phases)" if results["smoke"] else ""), fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def markdown(results: dict, png_name: str) -> str:
    m, config, seeded = results["machine"], results["config"], results["seeded"]
    floor, page, big = _phase(results, "floor"), _phase(results, "room_page"), _phase(results, "room_page_big")
    out = [
        "# Benchmarks",
        "",
        f"_Written by `{results['command'].strip()}` on {results['started_at']} (UTC). Do not edit by hand: "
        "run `make bench` again._" + (" **Smoke run: tiny data and ~1 s phases; the numbers mean little.**"
                                      if results["smoke"] else ""),
        "",
        f"Machine: {m['cores']} cores ({m['cpu']}), {m['ram_gib']} GiB RAM, Python {m['python']}, {m['platform']}; "
        f"load average {m['load_average']} when the run started. gunicorn, dynalite and the load generator share "
        "those cores: every number below is for all three on one box, and the CPU columns say who used what "
        "(*other processes' CPU* is the share of the whole machine used by anything else during the window).",
        "",
        f"![Latency against load and against watchers]({png_name})",
        "",
        "## Against the targets",
        "",
        _md_table(["target", "measured", ""], targets(results)),
        "",
        "## Per endpoint",
        "",
        f"Each row is its own phase: {config['concurrency']} concurrent signed-in users in a closed loop (no think "
        f"time), {config['warmup']:g} s warm-up, then {config['duration']:g} s measured. Latency is from the load "
        "generator (request sent → body read). DynamoDB calls come from the `X-DynamoDB-Calls` header "
        "(bench/middleware.py, counted per request thread on the shared DynamoDB client). CPU per request is "
        "each process group's CPU time over the window divided by the requests answered in it.",
        "",
        _md_table(ENDPOINT_HEADER, endpoint_rows(results)),
        "",
        "- *room list*: GET `/` (the first page of rooms). *room page*: GET a room, the newest "
        f"{50} messages, as a signed-in member, with the 'Your rooms' sidebar listing the "
        f"{results['seeded'].get('sidebar_rooms', '–')} rooms every benchmark user is in (memberships made "
        "with room_join / membership_add). *private room page*: the same for a private room they were "
        "added to. *floor*: the same template, context builder and middleware "
        "(bench/floor.py) with the room, its messages and the same sidebar in memory and no session cookie: "
        "no DynamoDB call.",
        "- *post message*: the composer's HTMX POST (CSRF token, a fresh idempotency key from the previous "
        "answer). The post rate limit is lifted for the run (CHAT_POST_RATE_LIMIT=1000000, "
        "CHAT_POST_RATE_WINDOW_SECONDS=2) so the success path is measured with a guard item no bigger than real "
        "use makes; the guard's UpdateItem runs on every post either way.",
        f"- *live tick*: closed-loop polls of `/rooms/<id>/updates` with the cursor static/js/chat/cursor.js keeps, while one "
        f"poster adds a message every {config['live_post_interval']:g} s.",
    ]
    if page and floor and floor["rps"]:
        cpu_ratio = cpu_floor_ratio(page, floor)
        out += ["", f"Floor ratio: the room page serves **{page['rps'] / floor['rps']:.0%}** of the floor's "
                    f"throughput ({page['rps']:.0f} vs {floor['rps']:.0f} req/s). Other processes on the machine "
                    f"used {_other_cpu(results, page)} of it during the room-page window and "
                    f"{_other_cpu(results, floor)} during the floor's, which moves that ratio; from CPU per request "
                    "(all of gunicorn, dynalite and the load generator, which is what bounds throughput when "
                    f"the benchmark has the cores to itself) it is **{_num(None if cpu_ratio is None else 100 * cpu_ratio, 0)}%**."]
    watchers = watcher_rows(results)
    if watchers:
        out += [
            "", "## Live delivery", "",
            f"Each watcher is a tab: it loads the room page, then polls every "
            f"{results['phases'][-1]['phase'].get('poll_seconds', 1):g} s (htmx `every` trigger) with its cursor. "
            f"One signed-in poster posts a marked message every {config['live_post_interval']:g} s. Delivery "
            "latency is from the post's 2xx to the poll answer that carries it, per (message, watcher), in one "
            f"process and one clock; {config['watch_duration']:g} s measured per row, then "
            f"{config['watch_tail']:g} s for the last posts to arrive. *Live reads/s* are all DynamoDB reads of the "
            "workers (every thread, from the `X-Bench-Process` totals) less those of the posts and page loads.",
            "", _md_table(WATCHER_HEADER, watchers),
        ]
    points = sweep_points(results)
    if len(points) > 1:
        out += ["", "## Room page against load", "",
                _md_table(["users", "req/s", "p50 ms", "p95 ms", "p99 ms", "non-2xx", "gunicorn CPU ms/req",
                           "other processes' CPU"],
                          [[str(p["phase"]["users"]), _num(p["rps"]), _num(p["p50_ms"], 0), _num(p["p95_ms"], 0),
                            _num(p["p99_ms"], 0), str(_non_2xx(p)), _num(p["cpu_ms_per_request"].get("gunicorn")),
                            _other_cpu(results, p)] for p in points])]
    ab = history_ab(results)
    if page and big:
        rows = [[f"{seeded['small_messages']:,} messages, own phase", f"{page['phase']['users']}", _num(page["rps"]),
                 _num(page["p50_ms"], 0), _num(page["p95_ms"], 0), _num(page["p99_ms"], 0), _calls(page),
                 _other_cpu(results, page)],
                [f"{seeded['big_messages']:,} messages, own phase", f"{big['phase']['users']}", _num(big["rps"]),
                 _num(big["p50_ms"], 0), _num(big["p95_ms"], 0), _num(big["p99_ms"], 0), _calls(big),
                 _other_cpu(results, big)]]
        if ab:
            ab_phase = _phase(results, "history_ab")
            for label, s_ in ((f"{seeded['small_messages']:,} messages, A/B", ab[0]),
                              (f"{seeded['big_messages']:,} messages, A/B", ab[1])):
                rows.append([label, str(ab_phase["phase"]["users"]), _num(s_["rps"]), _num(s_["p50_ms"], 0),
                             _num(s_["p95_ms"], 0), _num(s_["p99_ms"], 0), _calls(s_), _other_cpu(results, ab_phase)])
        out += ["", "## History scaling", "",
                f"The same room page for a room with {seeded['small_messages']} messages and one with "
                f"**{seeded['big_messages']:,}** (written straight into dynalite with BatchWriteItem through "
                "chatsite.batch.batch_put_items). Both pages show the newest 50. The two *own phase* rows ran "
                "one after the other, so whatever else the machine did in each window shows up as a difference; "
                "the *A/B* rows come from one phase in which every user alternates between the two rooms, and "
                "are the ones the target is judged on.", "",
                _md_table(["room", "users", "req/s", "p50 ms", "p95 ms", "p99 ms", "calls/request",
                           "other processes' CPU"], rows)]
    out += ["", "## Memory and CPU", ""]
    if results["workers"]:
        out += [_md_table(["worker pid", "RSS MB", "USS MB", "CPU s (whole run)"],
                          [[str(w["pid"]), _num(w["rss_mb"]), _num(w["uss_mb"]), _num(w["cpu_seconds"])]
                           for w in results["workers"]]), ""]
    warned = [p["phase"]["label"] for p in results["phases"] if p.get("load_generator_cpu_warning")]
    out += ["CPU per request is in the endpoint table. " + (
        f"Locust warned that its own CPU was above 90% during: {', '.join(warned)}; those rows are limited by "
        "the load generator too." if warned else "Locust did not warn about its own CPU in any phase.")]
    profile = results.get("profile") or {}
    if profile:
        out += ["", "## Where the time goes", "",
                "pyinstrument (bench/profile.py) around the WSGI application in one process configured like a "
                "worker, one request at a time against the same dynalite, after the load. Each sampled frame's "
                "own time goes to the innermost category on its stack; *waiting for DynamoDB* is time blocked "
                "on the socket, i.e. dynalite's own work plus loopback. The shares are scaled to the unprofiled "
                "time per request; they are samples, so a category moves by a millisecond or so between runs.", ""]
        labels = list(profile)
        names = []
        for prof in profile.values():
            names += [n for n in prof["categories_ms"] if n not in names]
        rows = [[name, *(_num(profile[label]["categories_ms"].get(name), 2) for label in labels)] for name in names]
        rows.append(["**wall per request**", *(f"**{profile[label]['wall_ms_per_request']:.2f}**" for label in labels)])
        rows.append(["CPU per request (this process)", *(_num(profile[label]["cpu_ms_per_request"], 2)
                                                        for label in labels)])
        out += [_md_table(["ms per request", *labels], rows), ""]
        for label in labels:
            out += [f"Top functions by own time, {label}:", "",
                    _md_table(["ms", "function"], [[_num(ms, 3), f"`{name}`"] for name, ms
                                                   in profile[label]["top_functions_ms"].items()]), ""]
    out += ["", "## How this was run", "",
            f"- `{results['command'].strip()}` (what `make bench` runs, from the repository root with "
            "`.venv/bin/python`); CI runs the 10-second `python -m bench --smoke` (tests/test_bench_smoke.py).",
            f"- dynalite: `{results['servers']['dynalite']}`",
            f"- gunicorn: `{results['servers']['gunicorn']}` (the checked-in gunicorn.conf.py: gthread, "
            "8 threads per worker; access log off)",
            f"- load: `{results['servers']['load']}`, a separate process on 127.0.0.1",
            f"- data: {len(seeded['users'])} users (signed in over HTTP, one session each, shared round-robin by "
            f"the virtual users), {seeded['room_count']} rooms (each user a member of "
            f"{seeded.get('sidebar_rooms', '–')}), {seeded['small_messages']} messages in the small "
            f"room and in the private one (message_post), {seeded['big_messages']:,} in the big one.",
            f"- wall time: {results['total_seconds']:.0f} s in all, of which load {results['load_seconds']:.0f} s.",
            "", "Seeding:", "",
            _md_table(["step", "seconds", "items/s"],
                      [[step, _num(s), _num(seeded["big_messages"] / s, 0) if "BatchWriteItem" in step and s else ""]
                       for step, s in seeded["timings"].items()]),
            "", "## Caveats", "",
            "- dynalite is not DynamoDB: it is one Node.js process on the same two cores, with LevelDB on local "
            "disk. Its latency (sub-millisecond network, a few ms of JavaScript per call) and its CPU are in every "
            "number here; against AWS each call would cost a few ms of network instead, and no local CPU.",
            "- The load generator is on the same machine: its CPU competes with gunicorn's (see the CPU columns).",
            "- Percentiles are nearest-rank over every request in the window, not bucketed.",
            ""]
    return "\n".join(out)


def write(results: dict, out_dir: Path) -> list[Path]:
    out_dir = Path(out_dir)
    png = out_dir / "benchmarks.png"
    plot(results, png)
    md = out_dir / "benchmarks.md"
    md.write_text(markdown(results, png.name))
    raw = out_dir / "benchmarks.json"
    raw.write_text(json.dumps(results, indent=1, default=str))
    return [md, png, raw]
