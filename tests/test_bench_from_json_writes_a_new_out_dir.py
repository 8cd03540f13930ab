"""`python -m bench --from-json FILE --out DIR` rewrites the report into a directory that does not
exist yet (the documented way to write a before/after comparison again), and a run from before the
reader mix says so rather than claiming the mix."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import run

ROOT = Path(__file__).resolve().parents[1]


# Writing the plot imports matplotlib, whose first import on a machine runs `fc-list` to build its
# font cache: a process, so a fresh machine's test-fast would refuse it.
@pytest.mark.subprocess
def test_from_json_makes_its_out_dir_and_states_the_readers_it_had(tmp_path):
    out = tmp_path / "not" / "there"

    assert run.main(["--from-json", str(ROOT / "docs" / "benchmarks.json"), "--out", str(out)]) == 0

    text = (out / "benchmarks.md").read_text()
    assert (out / "benchmarks.png").exists() and (out / "benchmarks.json").exists()
    assert "--gunicorn-env CHAT_ROOM_TAILS_MAX=0 --gunicorn-env ACCOUNTS_SESSION_CACHE_SECONDS=0" in text
    if "reader_groups" not in (out / "benchmarks.json").read_text():  # docs/ from before the reader mix
        assert "every reader with all 100 messages unread (before the reader mix)" in text
        assert "most caught up" not in text
