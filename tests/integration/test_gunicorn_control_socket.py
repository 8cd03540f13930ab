"""Two gunicorn instances on one host, from the same gunicorn.conf.py, must not share a control
socket: gunicorn 25+ defaults to one path per user, so stopping either instance removed the other's
socket (and `gunicornc` talked to whichever started last)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


def _sockets(directory) -> list[str]:
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_socket())


def test_two_instances_create_no_shared_control_socket(gunicorn_server, tmp_path):
    # Where gunicorn puts the default socket ($XDG_RUNTIME_DIR, else $HOME/.gunicorn).
    env = {"XDG_RUNTIME_DIR": str(tmp_path), "HOME": str(tmp_path)}
    first = gunicorn_server(**env)
    second = gunicorn_server(**env)
    assert _sockets(tmp_path) == []
    first.stop()
    assert second.proc.poll() is None


def test_a_control_socket_is_per_instance_when_asked_for(gunicorn_server, tmp_path):
    first = gunicorn_server(GUNICORN_CONTROL_SOCKET=str(tmp_path / "first.ctl"))
    second = gunicorn_server(GUNICORN_CONTROL_SOCKET=str(tmp_path / "second.ctl"))
    assert _sockets(tmp_path) == ["first.ctl", "second.ctl"]
    first.stop()
    assert _sockets(tmp_path) == ["second.ctl"]
    assert second.proc.poll() is None
