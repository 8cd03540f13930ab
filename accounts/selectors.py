"""Reads about people and their sessions. Each function is one access pattern in docs/data-model.md."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from pynamodb.exceptions import DoesNotExist

from accounts import session_patterns
from accounts.models import SessionRecord, UserDirectoryEntry, UserRecord
from accounts.request_info import describe_user_agent, session_ref
from accounts.session_keys import StoredKey
from accounts.validators import canonical_username
from chatsite import keys, pagination
from chatsite.pagination import Page


def user_get(*, user_id: str) -> UserRecord | None:
    """Get a user: GetItem `User:<id>` / `meta` (consistent, so a fresh sign-up can sign in)."""
    try:
        return UserRecord.get(keys.user_pk(user_id), keys.META, consistent_read=True)
    except DoesNotExist:
        return None


def user_get_by_username(*, username: str) -> UserRecord | None:
    return user_get(user_id=canonical_username(username))


def last_login_time(*, user_id: str, current_session_key: str | None = None) -> datetime | None:
    return session_patterns.get_last_login_time_by_user_id(user_id, current_session_key=current_session_key)


# --- the user directory -------------------------------------------------------------------------

def user_list(*, cursor: str | None = None, limit: int = 50) -> Page[UserDirectoryEntry]:
    """List users: Query `PK = Users` in user-id order, `limit` at a time. Never a Scan.

    The cursor is DynamoDB's LastEvaluatedKey, signed (chatsite.pagination), so a URL or command
    line can carry it but not forge it. A bad cursor raises InvalidCursor.
    """
    return pagination.query_page(lambda **page: UserDirectoryEntry.query(keys.USER_DIRECTORY_PK, **page),
                                 purpose="users", cursor=cursor, limit=limit)


def user_get_many(*, user_ids: list[str]) -> dict[str, UserRecord]:
    """Users by id, the ones that exist: BatchGetItem `User:<id>` / `meta` (list_users)."""
    return {record.user_id: record
            for record in UserRecord.batch_get([(keys.user_pk(user_id), keys.META) for user_id in user_ids])}


# --- "where you're signed in" -------------------------------------------------------------------

@dataclass(frozen=True)
class SessionView:
    ref: str
    device: str
    ip: str
    signed_in: datetime | None
    last_seen: datetime | None
    is_current: bool
    linked_devices: list[SessionView] = field(default_factory=list)


def user_sessions(*, user_id: str, current_session_key: str | None) -> list[SessionView]:
    """Every session of the user (getSessionsByCustomerId), each with its linked devices
    (getChildSessionsBySessionId); this device first, then most recently seen.

    The user index is eventually consistent: a session that signed in elsewhere a moment ago
    may be missing until it catches up. The current session is always listed (the engine reads it
    from the base table).
    """
    views = []
    current = StoredKey.of(current_session_key)
    for record in session_patterns.get_sessions_by_user_id(user_id, current_session_key=current_session_key):
        children = [_view(child, current)
                    for child in session_patterns.get_child_sessions_by_session_id(record.partition_digest)]
        views.append(_view(record, current, children))
    return sorted(views, key=_recency, reverse=True)


def _view(record: SessionRecord, current: StoredKey | None,
          children: list[SessionView] | None = None) -> SessionView:
    return SessionView(
        ref=session_ref(record.stored_key.digest),
        device=describe_user_agent(record.user_agent or ""),
        ip=record.ip or "",
        signed_in=record.last_login_time or record.created_at,
        last_seen=record.last_seen,
        is_current=record.stored_key == current,
        linked_devices=sorted(children or [], key=_recency, reverse=True),
    )


def _recency(view: SessionView) -> tuple[bool, float]:
    moment = view.last_seen or view.signed_in
    here = view.is_current or any(child.is_current for child in view.linked_devices)
    return here, moment.timestamp() if moment else 0.0


def stored_key_for_ref(*, user_id: str, ref: str,
                       current_session_key: str | None = None) -> StoredKey | None:
    """Resolve an opaque ref to one of this user's sessions or linked devices."""
    for record in session_patterns.get_sessions_by_user_id(user_id, current_session_key=current_session_key):
        for candidate in [record, *session_patterns.get_child_sessions_by_session_id(record.partition_digest)]:
            if session_ref(candidate.stored_key.digest) == ref:
                return candidate.stored_key
    return None
