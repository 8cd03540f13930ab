"""CHAT_LIVE_GRANT_SECONDS bounds how long a removed member can still receive a private room's
messages, so the setting is capped at 60 s whatever the environment asks for."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.subprocess  # each test starts a Python or a tool: `make test`, not `make test-fast`

ROOT = Path(__file__).resolve().parent.parent


def _grant_seconds(value: str) -> float:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "chatsite.settings", "CHAT_LIVE_GRANT_SECONDS": value}
    code = "from django.conf import settings; print(settings.CHAT_LIVE_GRANT_SECONDS)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=60, check=True)
    return float(out.stdout.strip())


@pytest.mark.parametrize(("asked", "got"), [("600", 60.0), ("61", 60.0), ("60", 60.0), ("15", 15.0)])
def test_the_live_grant_is_capped_at_sixty_seconds(asked, got):
    assert _grant_seconds(asked) == got
