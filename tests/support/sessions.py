"""Signed-in sessions for tests: sign a user in the way accounts does (session keys), without its
views, and the in-memory user that views see."""

from __future__ import annotations

from importlib import import_module

from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY

from accounts.auth import SessionUser, session_auth_hash
from tests.support.users import ensure_user_item


def request_user(user_id: str = "alice", *, is_staff: bool = False) -> SessionUser:
    """The user object a request carries, built in memory: nothing is stored."""
    return SessionUser(id=user_id, username=user_id, display_name=user_id.title(), is_staff=is_staff)


def signed_in_session(user_id: str = "alice", *, display_name: str | None = None,
                      is_staff: bool = False) -> tuple[SessionUser, str]:
    """A stored signed-in session, as accounts makes it: the user item (created, or its name and
    staff flag set) and a session holding Django's SESSION_KEY and HASH_SESSION_KEY.
    Returns the user and the session cookie's value."""
    user = SessionUser(id=user_id, username=user_id, display_name=display_name or user_id.title(), is_staff=is_staff)
    record = ensure_user_item(user_id, display_name=user.display_name, is_staff=is_staff)
    session = import_module(settings.SESSION_ENGINE).SessionStore()
    session[SESSION_KEY] = user.id
    session[HASH_SESSION_KEY] = session_auth_hash(record)
    session.save()
    return user, session.session_key


def sign_in(client, user_id: str = "alice", *, display_name: str | None = None, is_staff: bool = False) -> SessionUser:
    """Sign ``client`` (Django's test client) in without the accounts views."""
    user, cookie = signed_in_session(user_id, display_name=display_name, is_staff=is_staff)
    client.cookies[settings.SESSION_COOKIE_NAME] = cookie
    return user


def one_session_feed_bucket(monkeypatch) -> None:
    """Every session feed announcement and read in one bucket, for tests that count a refresh's
    Queries with the real clock: a refresh within the overlap of a bucket's edge reads two buckets
    (tested apart, tests/accounts/test_session_cache_kept_by_the_feed.py), which would make such a
    count depend on the time of day."""
    from chatsite import keys

    monkeypatch.setattr(keys, "SESSION_FEED_BUCKET_MS", 10**15)
