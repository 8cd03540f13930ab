"""Where a room-page request spends its time: pyinstrument around the WSGI application, in a
process configured like the benchmark's gunicorn workers, against the benchmark's dynalite.

    python -m bench.profile OUT.json   (bench/run.py runs it with the workers' environment,
                                         BENCH_PROFILE_SESSION and BENCH_PROFILE_PATHS set)

Requests are made one at a time, so wall time is the latency of one request with no queueing.
Each sampled frame's own time goes to the innermost category on its stack (see CATEGORIES): time
in urllib3 under botocore is waiting for dynalite, botocore's own code is signing, serialising,
parsing or plumbing, and so on.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter
from io import BytesIO

CATEGORIES = [  # (name, path fragments); first match wins for a frame
    ("waiting for DynamoDB (socket)", ("/urllib3/", "/http/client.py", "/socket.py", "/ssl.py", "selectors.py")),
    ("botocore: signing (SigV4)", ("/botocore/auth.py", "/botocore/signers.py", "/botocore/credentials.py")),
    ("botocore: serialising + validating", ("/botocore/serialize.py", "/botocore/validate.py")),
    ("botocore: parsing responses", ("/botocore/parsers.py",)),
    ("botocore: other (events, endpoint, retries)", ("/botocore/",)),
    ("PynamoDB: (de)serialising items", ("/pynamodb/attributes.py", "/pynamodb/_schema.py")),
    ("PynamoDB: other", ("/pynamodb/",)),
    ("Django templates (rendering)", ("/django/template/", "/django/templatetags/", "/templatetags/",
                                      "/django/forms/", "/django/utils/html.py", "/django/utils/safestring.py")),
    ("Django: request, middleware, signing", ("/django/",)),
    ("chatsite code (rooms, accounts, chatsite)", ("/rooms/", "/accounts/", "/chatsite/", "/bench/")),
]
OTHER = "other (stdlib, json, logging, …)"


def _category(file_path: str | None) -> str | None:
    path = file_path or ""
    for name, fragments in CATEGORIES:
        if any(fragment in path for fragment in fragments):
            return name
    return None


def _attribute(frame, inherited: str, totals: Counter, functions: Counter) -> None:
    category = _category(frame.file_path) or inherited
    self_time = frame.total_self_time
    if self_time:
        totals[category] += self_time
        if frame.file_path:
            short = frame.file_path.split("site-packages/")[-1].split("/work/main/")[-1]
            functions[f"{frame.function} ({short}:{frame.line_no})"] += self_time
    for child in frame.children:
        if not child.is_synthetic:  # its time is already in total_self_time above
            _attribute(child, category, totals, functions)


def profile_path(app, path: str, cookie: str, requests: int) -> dict:
    from pyinstrument import Profiler

    def call() -> int:
        environ = {
            "REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80", "HTTP_HOST": "127.0.0.1", "HTTP_COOKIE": cookie, "REMOTE_ADDR": "127.0.0.1",
            "HTTP_USER_AGENT": os.environ.get("BENCH_PROFILE_USER_AGENT", ""), "wsgi.input": BytesIO(b""),
            "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr, "wsgi.multithread": True,
            "wsgi.multiprocess": True, "wsgi.run_once": False, "wsgi.version": (1, 0), "SERVER_PROTOCOL": "HTTP/1.1",
        }
        status = []
        body = b"".join(app(environ, lambda s, h, exc_info=None: status.append(s)))
        if not status[0].startswith("200"):
            raise RuntimeError(f"GET {path}: {status[0]}")
        return len(body)

    for _ in range(20):  # warm: imports, template cache, connection pool, room cache
        call()
    started, cpu_started = time.perf_counter(), time.process_time()
    for _ in range(requests):  # unprofiled: the real cost per request
        call()
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu_started

    profiler = Profiler(interval=0.0005)
    profiler.start()
    for _ in range(requests):
        call()
    profiler.stop()
    root = profiler.last_session.root_frame()
    totals: Counter = Counter()
    functions: Counter = Counter()
    if root is not None:
        _attribute(root, OTHER, totals, functions)
    sampled = sum(totals.values()) or 1.0
    per_request_ms = 1000 * wall / requests  # the profile's shares, scaled to the unprofiled time
    return {
        "path": path,
        "requests": requests,
        "wall_ms_per_request": per_request_ms,
        "cpu_ms_per_request": 1000 * cpu / requests,
        "categories_ms": {name: per_request_ms * t / sampled for name, t in totals.most_common()},
        "top_functions_ms": {name: per_request_ms * t / sampled for name, t in functions.most_common(15)},
    }


def main(argv: list[str]) -> int:
    (out_path,) = argv
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")
    from django.core.wsgi import get_wsgi_application

    app = get_wsgi_application()
    requests = int(os.environ.get("BENCH_PROFILE_REQUESTS", "200"))
    results = {}
    for entry in os.environ["BENCH_PROFILE_PATHS"].split(";"):
        label, _, path = entry.partition("=")
        cookie = "" if path.startswith("/bench/") else os.environ["BENCH_PROFILE_SESSION"]
        results[label] = profile_path(app, path, cookie, requests)
    with open(out_path, "w") as f:
        json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
