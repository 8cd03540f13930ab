"""The request log under gevent's patching, as gunicorn's gevent worker runs it: many requests in one
process at once, each switching greenlets mid-request (a DynamoDB call, a sleep). Each line must
carry its own request's id, calls and milliseconds, never another greenlet's; a greenlet the
request starts carries no id. A separate process: gevent's monkey patching can't be undone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.subprocess  # each test starts a Python or a tool: `make test`, not `make test-fast`

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = textwrap.dedent('''
    from gevent import monkey
    monkey.patch_all()

    import json, logging, os, random, sys
    import django
    import gevent

    django.setup()
    from django.http import HttpResponse
    from django.test import RequestFactory
    from moto import mock_aws

    from chatsite import dynamodb
    from chatsite.request_log import RequestIdFilter, RequestLogMiddleware

    assert monkey.is_module_patched("threading")

    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record)

    keep = Keep()
    keep.addFilter(RequestIdFilter())
    logging.getLogger().addHandler(keep)
    logging.getLogger().setLevel(logging.INFO)

    def view(request):
        n = int(request.GET["n"])
        for _ in range(n):  # each call yields to the other greenlets (moto answers in-process)
            dynamodb.client().describe_table(TableName=dynamodb.table_name(dynamodb.CHAT))
            gevent.sleep(random.random() / 100)
        logging.getLogger("rooms.view").warning("view %s done", request.GET["i"])
        gevent.spawn(lambda: logging.getLogger("rooms.spawned").warning("spawned %s", request.GET["i"])).join()
        return HttpResponse("ok")

    with mock_aws():
        dynamodb.configure(endpoint_url=None, prefix="g_")
        dynamodb.ensure_tables(wait_seconds=5)
        middleware = RequestLogMiddleware(view)
        factory = RequestFactory()

        def one(i):
            gevent.sleep(random.random() / 100)
            response = middleware(factory.get("/", {"n": i % 4 + 1, "i": i}, HTTP_X_REQUEST_ID=f"greenlet-request-{i:03d}"))
            return response["X-Request-ID"]

        jobs = [gevent.spawn(one, i) for i in range(40)]
        gevent.joinall(jobs, raise_error=True)

    print(json.dumps({
        "echoed": [job.value for job in jobs],
        "lines": [dict(r.request, request_id=r.request_id) for r in records if r.name == "chatsite.request"],
        "view": {r.getMessage(): r.request_id for r in records if r.name == "rooms.view"},
        "spawned": [r.request_id for r in records if r.name == "rooms.spawned"],
    }))
''')


def test_concurrent_greenlets_each_log_their_own_id_calls_and_milliseconds():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "chatsite.settings", "DYNAMODB_ENDPOINT_URL": "",
           "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    ids = [f"greenlet-request-{i:03d}" for i in range(40)]
    assert result["echoed"] == ids
    lines = {line["request_id"]: line for line in result["lines"]}
    assert sorted(lines) == ids and len(result["lines"]) == 40  # each id once: no greenlet saw another's
    for i, request_id in enumerate(ids):
        assert lines[request_id]["dynamodb_ops"] == {"DescribeTable": i % 4 + 1}, (request_id, lines[request_id])
        assert 0 < lines[request_id]["dynamodb_ms"] < lines[request_id]["duration_ms"]
    assert result["view"] == {f"view {i} done": request_id for i, request_id in enumerate(ids)}
    assert result["spawned"] == ["-"] * 40  # a new greenlet starts with an empty context
