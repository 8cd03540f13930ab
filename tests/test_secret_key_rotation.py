"""Rotating DJANGO_SECRET_KEY (docs/operations.md): the old key goes in DJANGO_SECRET_KEY_FALLBACKS,
so what it signed (live cursors, "Load older" cursors) still verifies, while everything new is
signed with the new key. Sessions do not survive it: a session is stored under an HMAC of its key
made with SECRET_KEY, so every cookie stops finding its session and everyone signs in again."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

import pytest

from chatsite import pagination
from rooms import live
from tests.support.servers import ROOT
from tests.support.sessions import sign_in

OLD = "old-" + secrets.token_urlsafe(50)
NEW = "new-" + secrets.token_urlsafe(50)


def _settings_in_production(**env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); from django.conf import settings; "
                               "print(settings.SECRET_KEY_FALLBACKS)"],
        cwd=ROOT, capture_output=True, text=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "chatsite.settings", "DJANGO_DEBUG": "0",
             "DJANGO_SECRET_KEY": NEW, **env})


@pytest.mark.subprocess
def test_fallback_keys_come_from_the_environment_comma_separated():
    result = _settings_in_production(DJANGO_SECRET_KEY_FALLBACKS=f" {OLD} , {OLD}2 ")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == repr([OLD, OLD + "2"])
    assert _settings_in_production().stdout.strip() == "[]"


@pytest.mark.subprocess
def test_a_weak_fallback_key_is_refused_in_production():
    result = _settings_in_production(DJANGO_SECRET_KEY_FALLBACKS=f"{OLD},short")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "DJANGO_SECRET_KEY_FALLBACKS" in result.stderr


class _Room:
    room_id = "art"
    created_at = "2026-01-01T00:00:00.000Z"

    def __init__(self, public: bool):
        self.is_public = public


@pytest.mark.parametrize("public", [True, False], ids=["public room", "private room grant"])
def test_cursors_signed_with_the_old_key_verify_while_it_is_a_fallback(settings, public):
    room = _Room(public)
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = OLD, []
    watermark = live.watermark_for(room, 1_700_000_000_000, grant_expires=4_000_000_000)
    older = pagination.encode({"PK": {"S": "Room:art"}, "SK": {"S": "x"}}, purpose="history", scope="art")

    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = NEW, [OLD]
    assert live.read_watermark(room, watermark)[0] == 1_700_000_000_000
    assert pagination.decode(older, purpose="history", scope="art", key_names=("PK", "SK")) == \
        {"PK": {"S": "Room:art"}, "SK": {"S": "x"}}
    fresh = live.watermark_for(room, 1_700_000_000_000, grant_expires=4_000_000_000)
    assert fresh != watermark  # new ones are signed with the new key

    settings.SECRET_KEY_FALLBACKS = []  # the fallback removed: the old cursors are refused (400)
    with pytest.raises(live.InvalidWatermark):
        live.read_watermark(room, watermark)
    with pytest.raises(pagination.InvalidCursor):
        pagination.decode(older, purpose="history", scope="art", key_names=("PK", "SK"))
    assert live.read_watermark(room, fresh)[0] == 1_700_000_000_000


def test_rotating_the_key_signs_everyone_out_even_with_the_old_key_as_fallback(moto_tables, client, settings):
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = OLD, []
    sign_in(client, "alice")
    assert client.get("/accounts/profile/").status_code == 200
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = NEW, [OLD]
    response = client.get("/accounts/profile/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
