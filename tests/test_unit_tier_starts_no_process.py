"""`make test-fast` stays in-process: a test that starts a process must be marked `subprocess` (or
`integration`/`browser`), and the unit tier leaves those out; `make test` runs them."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.subprocess_guard import UnmarkedSubprocess

ROOT = Path(__file__).resolve().parent.parent


def test_an_unmarked_test_that_starts_a_process_fails_naming_the_marker():
    with pytest.raises(UnmarkedSubprocess, match=r"mark it @pytest.mark.subprocess") as excinfo:
        subprocess.run([sys.executable, "-c", "pass"], check=True)
    assert "test_an_unmarked_test_that_starts_a_process_fails_naming_the_marker" in str(excinfo.value)


@pytest.mark.subprocess
def test_a_marked_test_starts_processes_as_before():
    assert subprocess.run(["true"]).returncode == 0


def test_make_test_fast_leaves_out_the_marked_tests_and_make_test_runs_everything():
    makefile = (ROOT / "Makefile").read_text()
    fast = re.search(r"^test-fast:.*\n\t(.*)$", makefile, re.M).group(1)
    assert '-m "not integration and not browser and not subprocess"' in fast
    assert "scripts/test.sh" in re.search(r"^test:.*\n\t(.*)$", makefile, re.M).group(1)
    assert ".venv/bin/python -m pytest \"$@\"" in (ROOT / "scripts" / "test.sh").read_text()  # no -m of its own
