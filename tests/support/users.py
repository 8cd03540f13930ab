"""Users for tests, stored in DynamoDB (whichever tables the test is bound to: moto or dynalite)."""

from __future__ import annotations

from datetime import datetime, timezone

from accounts import services
from accounts.user_cache import user_cache
from accounts.models import UserRecord
from chatsite import keys

PASSWORD = "correct-horse-battery-9"
UNUSABLE_PASSWORD = "!no-password"  # matches no password: a user who never signs in by form


def create_user(username: str = "alice", *, display_name: str | None = None, password: str = PASSWORD,
                is_staff: bool = False):
    """A user made the way sign-up makes one (``services.user_create``: hashed password, directory
    entry). Returns the stored UserRecord."""
    return services.user_create(username=username, display_name=display_name or username.title(),
                                password=password, is_staff=is_staff)


def ensure_user_item(user_id: str, *, display_name: str | None = None, is_staff: bool = False) -> UserRecord:
    """The user item sessions are checked against, without Argon2: created if missing, else its
    display name and staff flag set. For tests that build sessions directly."""
    record = UserRecord(keys.user_pk(user_id), keys.META)
    record.update(actions=[
        UserRecord.username.set(UserRecord.username | user_id),
        UserRecord.password.set(UserRecord.password | UNUSABLE_PASSWORD),
        UserRecord.created_at.set(UserRecord.created_at | datetime.now(timezone.utc)),
        UserRecord.display_name.set(display_name or user_id.title()),
        UserRecord.is_staff.set(is_staff),
        UserRecord.is_active.set(True),
    ])
    user_cache.forget(user_id)
    return record
