"""People, as PynamoDB items in the chat table.

- User:             `User:<user id>` / `meta`           the account itself
- Directory entry:  `Users` / `User:<user id>`          one per user, so listing users is a Query
- Device link:      `DeviceLink:<sha256 of code>` / `meta`  a one-time "link a device" code, TTL

Sessions, in the session_store table (the seed's session-management design):

- A session's own record: `suuid#<digest>` / `c#<user id>` (`c#~anonymous` before sign-in).
- A linked device (child session): `suuid#<parent digest>` / `child#suuid#<child digest>`.
- GSI `GSI1_inverse` swaps the keys: a user's sessions, and the parent owning a child.

The user id is the username's canonical form (NFKC, case-folded; see accounts.validators), so
the conditional put that creates the record is also what keeps usernames unique.
"""

from __future__ import annotations

import time

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from accounts.session_keys import StoredKey
from chatsite import keys
from chatsite.dynamodb import (CHAT, CHAT_TTL_ATTRIBUTE, SESSION_INVERSE_INDEX, SESSION_TTL_ATTRIBUTE, SESSIONS,
                               bind_to)


@bind_to(CHAT)
class UserRecord(Model):
    class Meta:
        table_name = "chat"

    PK = UnicodeAttribute(hash_key=True)
    SK = UnicodeAttribute(range_key=True, default=keys.META)
    username = UnicodeAttribute()  # as typed at sign-up, for display
    display_name = UnicodeAttribute()
    password = UnicodeAttribute()  # a Django password hash (Argon2)
    created_at = UTCDateTimeAttribute()
    is_active = BooleanAttribute(default=True)
    is_staff = BooleanAttribute(default=False)

    @property
    def user_id(self) -> str:
        return keys.user_id_from_pk(self.PK)


@bind_to(CHAT)
class UserDirectoryEntry(Model):
    class Meta:
        table_name = "chat"

    PK = UnicodeAttribute(hash_key=True, default=keys.USER_DIRECTORY_PK)
    SK = UnicodeAttribute(range_key=True)
    username = UnicodeAttribute()
    display_name = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()

    @property
    def user_id(self) -> str:
        return keys.user_id_from_directory_sk(self.SK)


@bind_to(CHAT)
class DeviceLinkRecord(Model):
    """Only the code's digest is stored, and the parent session's key digest (never a cookie); the
    item is consumed by one conditional DeleteItem."""

    class Meta:
        table_name = "chat"

    PK = UnicodeAttribute(hash_key=True)
    SK = UnicodeAttribute(range_key=True, default=keys.META)
    user_id = UnicodeAttribute()
    parent_session_digest = UnicodeAttribute()  # accounts.session_keys.key_digest of the parent's key
    expires_at = NumberAttribute(attr_name=CHAT_TTL_ATTRIBUTE)


# --- sessions ------------------------------------------------------------------------------------
# The seed's session model calls a user a "customer": stored names keep it (`c#`, GSI1_inverse),
# Python names say "user".

ACTIVE = "active"
CLOSING = "closing"  # being expired: serves no request, and clear_expired sweeps it


class UserIndex(GlobalSecondaryIndex):
    """GSI1_inverse: SK (HASH) / PK (RANGE). `c#<user>` → their sessions; `child#…` → its parent."""

    class Meta:
        index_name = SESSION_INVERSE_INDEX
        projection = AllProjection()

    SK = UnicodeAttribute(hash_key=True)
    PK = UnicodeAttribute(range_key=True)


@bind_to(CHAT)
class SessionFeedRecord(Model):
    """One session partition ended or rewritten (accounts.session_feed): `SessionFeed:<bucket>` /
    `<ms>#<token>` in the chat table, expiring after an hour. No RoomID/CreatedAt: not indexed."""

    class Meta:
        table_name = "chat"

    PK = UnicodeAttribute(hash_key=True)
    SK = UnicodeAttribute(range_key=True)
    partition = UnicodeAttribute(attr_name="SessionPK")  # the session partition to forget
    expires_at = NumberAttribute(attr_name=CHAT_TTL_ATTRIBUTE)


@bind_to(SESSIONS)
class SessionRecord(Model):
    class Meta:
        table_name = "session_store"

    PK = UnicodeAttribute(hash_key=True)
    SK = UnicodeAttribute(range_key=True)
    session_data = UnicodeAttribute()  # SessionBase.encode(): signed, compressed JSON
    expires_at = NumberAttribute(attr_name=SESSION_TTL_ATTRIBUTE)  # epoch seconds; the TTL attribute
    session_state = UnicodeAttribute(default=ACTIVE)
    last_login_time = UTCDateTimeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    last_seen = UTCDateTimeAttribute()
    user_agent = UnicodeAttribute(null=True)
    ip = UnicodeAttribute(null=True)

    user_index = UserIndex()

    @property
    def partition_digest(self) -> str:
        """The digest in PK: the session's own, or for a linked device its parent's."""
        return keys.session_digest_from_pk(self.PK)

    @property
    def is_child(self) -> bool:
        return self.SK.startswith(keys.CHILD_PREFIX)

    @property
    def child_digest(self) -> str | None:
        return keys.child_digest_from_sk(self.SK) if self.is_child else None

    @property
    def stored_key(self) -> StoredKey:
        """This record's own name: the device for a child, else the session."""
        return StoredKey(self.child_digest, True) if self.is_child else StoredKey(self.partition_digest)

    @property
    def user_id(self) -> str | None:
        """The signed-in user; None when anonymous, and for a child (it belongs to its parent's)."""
        return None if self.is_child else keys.customer_id_from_sk(self.SK)

    def is_live(self, now: float | None = None) -> bool:
        return self.session_state == ACTIVE and self.expires_at > (time.time() if now is None else now)

    def __repr__(self) -> str:  # PynamoDB's repr shows the keys (digests, but still no one's business)
        return f"<SessionRecord user={self.user_id!r} child={self.is_child}>"
