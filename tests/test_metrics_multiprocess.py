"""The multi-process side of the metrics, without gunicorn: gunicorn.conf.py's hooks with a
stand-in arbiter, real worker processes writing their values, and the master's scrape port.
The whole thing under real gunicorn: tests/integration/test_metrics_scrape.py."""

from __future__ import annotations

import os
import subprocess
import sys
import types
import urllib.request
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

from chatsite import metrics
from tests import gunicorn_conf_loader
from tests.support.servers import free_port

ROOT = Path(__file__).resolve().parents[1]

# What a worker does: count with the module's own metrics, in multi-process mode (the directory
# is in its environment before prometheus_client is imported), then exit.
WORKER = """
from chatsite import metrics
metrics.LIVE_STREAMS.labels("room").inc()
metrics.LIVE_STREAMS.labels("room").inc()
metrics.post_rate_limited()
print(__import__("os").getpid())
"""


def run_worker(directory: Path) -> int:
    done = subprocess.run([sys.executable, "-c", WORKER], cwd=ROOT, check=True, capture_output=True, text=True,
                          env={**os.environ, metrics.MULTIPROC_ENV: str(directory)})
    return int(done.stdout)


def summed(directory: Path) -> dict[tuple[str, str], float]:
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(directory))
    return {(s.name, ",".join(s.labels.values())): s.value for m in registry.collect() for s in m.samples}


def without_metrics_env(monkeypatch):
    """Neither variable set, and both put back as they were after the test even though the code
    under test sets them in os.environ itself (a master does, for its workers)."""
    for name in (metrics.MULTIPROC_ENV, metrics._MADE_ENV):
        monkeypatch.setenv(name, "")  # recorded, so the test's own assignments are undone too
        monkeypatch.delenv(name)


def test_the_scrape_port_is_loopback_by_default(monkeypatch):
    monkeypatch.delenv("GUNICORN_METRICS_BIND", raising=False)
    bind = gunicorn_conf_loader.load().metrics_bind
    assert metrics.parse_bind(bind)[0] == "127.0.0.1"
    monkeypatch.setenv("GUNICORN_METRICS_BIND", "")
    assert gunicorn_conf_loader.load().metrics_bind == ""  # off


@pytest.mark.subprocess
def test_values_from_two_workers_add_up_and_a_dead_workers_gauge_leaves(tmp_path):
    first, second = run_worker(tmp_path), run_worker(tmp_path)
    values = summed(tmp_path)
    assert values[("chatsite_live_streams", "room")] == 4  # livesum: both workers' open streams
    assert values[("chatsite_post_rate_limited_total", "rate_limit")] == 2
    os.environ[metrics.MULTIPROC_ENV] = str(tmp_path)
    try:
        metrics.mark_process_dead(first)  # what child_exit does when a worker exits
    finally:
        del os.environ[metrics.MULTIPROC_ENV]
    values = summed(tmp_path)
    assert values[("chatsite_live_streams", "room")] == 2  # only the live worker's streams
    assert values[("chatsite_post_rate_limited_total", "rate_limit")] == 2  # counters never go back
    assert second != first


@pytest.mark.subprocess
def test_gunicorn_hooks_make_a_fresh_directory_serve_it_and_remove_it(monkeypatch, tmp_path):
    port = free_port()
    monkeypatch.setenv("GUNICORN_METRICS_BIND", f"127.0.0.1:{port}")
    without_metrics_env(monkeypatch)
    conf = gunicorn_conf_loader.load()
    logged = []
    arbiter = types.SimpleNamespace(log=types.SimpleNamespace(info=lambda *a: logged.append(a), error=lambda *a: logged.append(a)))
    conf.on_starting(arbiter)
    directory = Path(os.environ[metrics.MULTIPROC_ENV])  # what the workers inherit
    try:
        assert directory.is_dir() and not list(directory.iterdir())
        run_worker(directory)
        conf.when_ready(arbiter)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text = response.read().decode()
        assert 'chatsite_post_rate_limited_total{reason="rate_limit"} 1.0' in text
        assert 'chatsite_live_streams{kind="room"} 2.0' in text
    finally:
        if metrics._server is not None:
            metrics._server.shutdown()
            metrics._server.server_close()
            metrics._server = None
        conf.on_exit(arbiter)
    assert not directory.exists()  # it was ours: removed at exit


@pytest.mark.subprocess
def test_a_directory_the_operator_names_is_emptied_at_start_and_kept(monkeypatch, tmp_path):
    run_worker(tmp_path)  # an earlier run's values
    assert list(tmp_path.glob("*.db"))
    monkeypatch.setenv(metrics.MULTIPROC_ENV, str(tmp_path))
    path, made = metrics.prepare_multiprocess_dir()
    assert (path, made) == (str(tmp_path), False)
    assert not list(tmp_path.glob("*.db"))  # an earlier run's values are not added to this one's


def test_a_taken_scrape_port_is_logged_and_the_site_starts_anyway(monkeypatch, tmp_path):
    import socket

    monkeypatch.setenv(metrics.MULTIPROC_ENV, str(tmp_path))

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setenv("GUNICORN_METRICS_BIND", f"127.0.0.1:{port}")
        conf = gunicorn_conf_loader.load()
        errors = []
        arbiter = types.SimpleNamespace(log=types.SimpleNamespace(info=lambda *a: None, error=lambda *a: errors.append(a)))
        conf.when_ready(arbiter)  # must not raise: gunicorn would stop
    assert errors and "cannot listen" in errors[0][0]


@pytest.mark.subprocess
def test_a_directory_inherited_from_another_master_is_not_reused(monkeypatch, tmp_path):
    """A binary upgrade (USR2) starts a new master with the old one's environment: the old
    master's workers still write to its directory, and it removes it when it exits."""
    without_metrics_env(monkeypatch)
    old, made = metrics.prepare_multiprocess_dir()
    try:
        assert made
        run_worker(Path(old))  # the old master's worker, still counting
        new, made_again = metrics.prepare_multiprocess_dir()
        assert made_again and new != old
        assert list(Path(old).glob("*.db"))  # not emptied under the old workers
        metrics.remove_multiprocess_dir(new)
    finally:
        metrics.remove_multiprocess_dir(old)


@pytest.mark.parametrize("bind", ["127.0.0.1:9100", "localhost:9100"])
def test_parse_bind(bind):
    assert metrics.parse_bind(bind)[1] == 9100


def test_these_tests_leave_no_metrics_directory_in_the_environment():
    """Run after the others (file order): a leftover would send every later gunicorn's workers to
    a removed directory."""
    assert metrics.MULTIPROC_ENV not in os.environ and metrics._MADE_ENV not in os.environ
