"""People, as PynamoDB items in the chat table: `User:<user id>` / `meta`.

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
class CounterRecord(Model):
    """A fixed-window counter (sign-in throttling, post rate limit), bumped with UpdateItem ADD."""

    class Meta:
        table_name = "chat"

    PK = UnicodeAttribute(hash_key=True)
    SK = UnicodeAttribute(range_key=True)
    count = NumberAttribute(default=0)
    expires_at = NumberAttribute(attr_name=CHAT_TTL_ATTRIBUTE)
