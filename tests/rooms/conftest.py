"""Rooms fixtures. The helpers for signing a user in live in tests/support/sessions.py."""

from __future__ import annotations

import pytest


@pytest.fixture
def room(moto_tables):
    from rooms import services

    return services.room_create(name="Art", description="pictures", created_by="alice")
