"""Real servers for integration tests: dynalite (from node_modules) and gunicorn."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# The servers' SECRET_KEY: a test that finds a session record by its cookie needs it (key digests).
SERVER_SECRET_KEY = "integration-tests-only-" + "x" * 40


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 20, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout} s")


class DynaliteServer:
    """A dynalite process persisting to ``data_dir``; stop() and start() keep the data."""

    def __init__(self, *, data_dir: Path, port: int):
        self.data_dir = Path(data_dir)
        self.port = port
        self.proc: subprocess.Popen | None = None
        self.log_path = self.data_dir.parent / f"dynalite-{port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        binary = ROOT / "node_modules" / ".bin" / "dynalite"
        if not binary.exists():
            raise RuntimeError("dynalite is not installed: run `make test` (it runs `npm ci`).")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [str(binary), "--host", "127.0.0.1", "--port", str(self.port), "--path", str(self.data_dir),
             "--createTableMs", "0", "--deleteTableMs", "0", "--updateTableMs", "0"],
            stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
        )
        wait_for_port(self.port, proc=self.proc)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


class GunicornServer:
    """gunicorn with the checked-in gunicorn.conf.py, production-like settings, on ``port``."""

    _static_collected = False  # collectstatic once per test run, so it is never stale

    def __init__(self, *, port: int, env: dict[str, str], log_path: Path | None = None):
        self.port = port
        self.env = env
        self.log_path = log_path  # gunicorn's and Django's stderr go here when given
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {
            **os.environ,
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": SERVER_SECRET_KEY,
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DJANGO_SECURE": "0",  # plain http on loopback
            "GUNICORN_BIND": f"127.0.0.1:{self.port}",
            "GUNICORN_WORKERS": "2",
            "GUNICORN_ACCESSLOG": "",
            "GUNICORN_METRICS_BIND": "",  # many test servers share the host: a test that scrapes names a port
            "GUNICORN_LOGLEVEL": "warning",
            **self.env,
        }
        if not GunicornServer._static_collected:
            subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
                           cwd=ROOT, env=env, check=True)
            GunicornServer._static_collected = True
        log = open(self.log_path, "ab") if self.log_path else None
        self.proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "gunicorn"), "--config", "gunicorn.conf.py"],
            cwd=ROOT, env=env, stdout=log, stderr=log,
        )
        if log:
            log.close()  # the child has its own copy
        wait_for_port(self.port, proc=self.proc)
        self._wait_ready()

    def _wait_ready(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise TimeoutError("gunicorn did not become ready")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
