"""Rooms test helpers: sign a user in the way accounts does (session keys), without its views."""

from __future__ import annotations

from importlib import import_module

import pytest
from django.conf import settings
from django.contrib.auth import SESSION_KEY

from accounts.auth import USER_INFO_SESSION_KEY, SessionUser


def signed_in_session(user_id: str = "alice", *, display_name: str | None = None,
                      is_staff: bool = False) -> tuple[SessionUser, str]:
    """A stored signed-in session, as accounts makes it: Django's SESSION_KEY plus the user info.
    Returns the user and the session cookie's value."""
    user = SessionUser(id=user_id, username=user_id, display_name=display_name or user_id.title(), is_staff=is_staff)
    session = import_module(settings.SESSION_ENGINE).SessionStore()
    session[SESSION_KEY] = user.id
    session[USER_INFO_SESSION_KEY] = {"username": user.username, "display_name": user.display_name,
                                      "is_staff": user.is_staff}
    session.save()
    return user, session.session_key


def sign_in(client, user_id: str = "alice", *, display_name: str | None = None, is_staff: bool = False) -> SessionUser:
    """Sign ``client`` (Django's test client) in without the accounts views."""
    user, cookie = signed_in_session(user_id, display_name=display_name, is_staff=is_staff)
    client.cookies[settings.SESSION_COOKIE_NAME] = cookie
    return user


def make_user(user_id: str = "alice", *, is_staff: bool = False) -> SessionUser:
    return SessionUser(id=user_id, username=user_id, display_name=user_id.title(), is_staff=is_staff)


@pytest.fixture
def room(moto_tables):
    from rooms import services

    return services.room_create(name="Art", description="pictures", created_by="alice")
