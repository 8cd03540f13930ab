"""Tests that start another process are marked ``subprocess`` (or ``integration``/``browser``).

Each such start is a fresh Python (Django set-up with other settings, a second metrics worker) or a
tool (cfn-lint): a second or more of CPU, while an in-process test costs a tenth of that. So
``make test-fast`` leaves them out (``-m "not integration and not browser and not subprocess"``)
and ``make test`` runs them. Loaded with ``-p`` (pyproject.toml), this plugin fails an unmarked test
at the moment it starts a process, naming the marker, so the edit-test loop stays in-process.
"""

from __future__ import annotations

import subprocess

import pytest

MARKERS = ("subprocess", "integration", "browser")


class UnmarkedSubprocess(RuntimeError):
    pass


_running: str | None = None  # the nodeid of an unmarked test while it runs, else None


def _allows(item) -> bool:
    return any(item.get_closest_marker(name) for name in MARKERS)


def pytest_configure(config):
    original = subprocess.Popen._execute_child

    def _execute_child(self, args, *rest, **kwargs):
        if _running is not None:
            raise UnmarkedSubprocess(
                f"{_running} starts a process ({args!r}): mark it @pytest.mark.subprocess so that "
                "`make test` runs it and `make test-fast` stays in-process")
        return original(self, args, *rest, **kwargs)

    subprocess.Popen._execute_child = _execute_child
    config.add_cleanup(lambda: setattr(subprocess.Popen, "_execute_child", original))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    global _running
    _running = None if _allows(item) else item.nodeid
    try:
        return (yield)
    finally:
        _running = None
