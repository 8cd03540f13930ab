"""People, as PynamoDB items in the chat table.

- User:             `User:<user id>` / `meta`           the account itself
- Directory entry:  `Users` / `User:<user id>`          one per user, so listing users is a Query
- Device link:      `DeviceLink:<sha256 of code>` / `meta`  a one-time "link a device" code, TTL

The user id is the username's canonical form (NFKC, case-folded; see accounts.validators), so
the conditional put that creates the record is also what keeps usernames unique.
"""

from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.models import Model

from chatsite import keys
from chatsite.dynamodb import CHAT, CHAT_TTL_ATTRIBUTE, bind_to


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
    parent_session_digest = UnicodeAttribute()  # accounts.sessions.key_digest of the parent's key
    expires_at = NumberAttribute(attr_name=CHAT_TTL_ATTRIBUTE)

