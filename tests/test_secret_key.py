"""With DJANGO_DEBUG=0 the site refuses a weak DJANGO_SECRET_KEY (what `check --deploy` calls weak:
under 50 characters or under 5 distinct ones) and says how to make a good one."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.support.servers import ROOT

pytestmark = pytest.mark.subprocess  # each test starts a Python or a tool: `make test`, not `make test-fast`


def _start(secret: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('started')"],
        cwd=ROOT, capture_output=True, text=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "chatsite.settings", "DJANGO_DEBUG": "0",
             "DJANGO_SECRET_KEY": secret},
    )


@pytest.mark.parametrize("secret", ["abc", "k" * 80, "abcd" * 20, "Zq8#kL2!vR5@nX7$wT1%yU4^mP9&bH3*" + "c" * 17])
def test_weak_secret_keys_are_refused_with_production_settings(secret):
    result = _start(secret)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "DJANGO_SECRET_KEY" in result.stderr
    assert "secrets.token_urlsafe(50)" in result.stderr  # the fix, not just the complaint
    assert "started" not in result.stdout


def test_a_strong_secret_key_starts():
    import secrets

    result = _start(secrets.token_urlsafe(50))
    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout
