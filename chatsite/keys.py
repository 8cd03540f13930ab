"""Every DynamoDB key format in the project, and nothing else.

No other module formats a key string: call these. docs/data-model.md documents the same table,
row for row. Ids that go into keys are validated before they get here (accounts.validators,
rooms.validators) so they never contain the separators used below (`:`, `#`).
"""

from __future__ import annotations

# --- chat table -------------------------------------------------------------------------------
META = "meta"  # SK of an entity's own record
ROOM_DIRECTORY_PK = "Rooms"  # one partition listing every room, so the room list is a Query
USER_DIRECTORY_PK = "Users"  # one partition listing every user, so list_users is a Query


def user_pk(user_id: str) -> str:
    return f"User:{user_id}"


def user_id_from_pk(pk: str) -> str:
    return pk.removeprefix("User:")


def user_directory_sk(user_id: str) -> str:
    return f"User:{user_id}"


def user_id_from_directory_sk(sk: str) -> str:
    return sk.removeprefix("User:")


def room_pk(room_id: str) -> str:
    return f"Room:{room_id}"


def room_id_from_pk(pk: str) -> str:
    return pk.removeprefix("Room:")


def room_directory_sk(room_id: str) -> str:
    return f"Room:{room_id}"


def room_id_from_directory_sk(sk: str) -> str:
    return sk.removeprefix("Room:")


# Membership, kept on both sides (no transactions: rooms.services writes them in an order a retry
# repairs). The room's side is its member list; the user's side is their list of rooms (the sidebar).
MEMBER_PREFIX = "member#"
USER_ROOM_PREFIX = "room#"


def member_sk(user_id: str) -> str:
    """A member in the room's partition: `Room:<room id>` / `member#<user id>`."""
    return f"{MEMBER_PREFIX}{user_id}"


def user_id_from_member_sk(sk: str) -> str:
    return sk.removeprefix(MEMBER_PREFIX)


def user_room_sk(room_id: str) -> str:
    """A room in the user's partition: `User:<user id>` / `room#<room id>` (sorts after messages)."""
    return f"{USER_ROOM_PREFIX}{room_id}"


def room_id_from_user_room_sk(sk: str) -> str:
    return sk.removeprefix(USER_ROOM_PREFIX)


# The user's own item and their rooms, and nothing else in `User:<id>`: messages (timestamps,
# digits) sort before "meta", and room ids are [a-z0-9-], all before "~".
USER_AND_ROOMS_SK_MIN = META
USER_AND_ROOMS_SK_MAX = f"{USER_ROOM_PREFIX}~"


# A mention of a user, in their partition: `User:<uid>` / `mention#<CreatedAt>#<message id>`. "mention#"
# sorts before "meta" (and after messages' digits), so the user-and-rooms Query never reads them.
MENTION_PREFIX = "mention#"
MENTION_SK_MAX = f"{MENTION_PREFIX}~"


def mention_sk(created_at: str, message_id: str) -> str:
    return f"{MENTION_PREFIX}{created_at}#{message_id}"


def mention_sk_from(at: str) -> str:
    """Lower bound for a user's mentions at or after ``at`` (a Query range: older ones have expired)."""
    return f"{MENTION_PREFIX}{at}"


def message_sk(created_at: str, message_id: str) -> str:
    """A message under its author's partition: the seed's `<timestamp>`, made unique."""
    return f"{created_at}#{message_id}"


def message_sk_parts(sk: str) -> tuple[str, str]:
    created_at, _, message_id = sk.partition("#")
    return created_at, message_id


# A membership's read cursor position (ReadPos) is the last read message's SK, so it orders like
# the messages: "<CreatedAt>#" sorts just before every message of that millisecond (Mark as
# unread), "<at>#~" after every message up to ``at`` (Mark all as read: ids never hold "~").
def read_pos_before(created_at: str) -> str:
    return message_sk(created_at, "")


def read_pos_through(at: str) -> str:
    return message_sk(at, "~")


MESSAGE_SK_MIN = "0"  # every ISO-8601 timestamp sorts after "0" and before "A": a message SK range
MESSAGE_SK_MAX = "9~"

# A message's earlier versions (its edit history), in its author's partition:
# `User:<author>` / `edit#<message SK>#<NNNN>`, NNNN the EditVersion whose text it holds (0: as
# posted). "edit#" sorts after the messages ("9~") and before "mention#" and "meta", so no other
# range Query of the partition (messages, mentions, the user and their rooms) ever reads one.
EDIT_PREFIX = "edit#"
EDIT_VERSION_DIGITS = 4  # services.MAX_EDITS stays below 10**4, so the versions sort as numbers


def edit_sk(message_sk: str, edit_version: int) -> str:
    return f"{edit_sk_prefix(message_sk)}{edit_version:0{EDIT_VERSION_DIGITS}d}"


def edit_sk_prefix(message_sk: str) -> str:
    """Every earlier version of one message (a begins_with Query, oldest first)."""
    return f"{EDIT_PREFIX}{message_sk}#"


def edit_version_from_sk(sk: str) -> int:
    return int(sk.rpartition("#")[2])


def tombstone_sk(deleted_at: str, message_id: str) -> str:
    """A deletion event in the room's partition, read by live updates (no RoomID: not indexed)."""
    return f"deleted#{deleted_at}#{message_id}"


TOMBSTONE_PREFIX = "deleted#"


def tombstone_sk_parts(sk: str) -> tuple[str, str]:
    _, deleted_at, message_id = sk.split("#", 2)
    return deleted_at, message_id


def tombstone_sk_from(deleted_at: str) -> str:
    """Lower bound for a room's tombstones deleted at or after ``deleted_at`` (a Query range)."""
    return f"{TOMBSTONE_PREFIX}{deleted_at}"


TOMBSTONE_SK_MAX = f"{TOMBSTONE_PREFIX}~"

# Live events: what happened in a room, in the room's own partition, read with consistent Queries
# (no index lag on the live path). `<ref>` is `m-<message id>` (a message), `d-<message id>` (a
# deletion), `p-<user id>` (presence), `t-<user id>` (typing).
LIVE_EVENT_PREFIX = "ev#"
LIVE_EVENT_SK_MAX = f"{LIVE_EVENT_PREFIX}~"


def live_event_sk(at: str, ref: str) -> str:
    return f"{LIVE_EVENT_PREFIX}{at}#{ref}"


def live_event_sk_parts(sk: str) -> tuple[str, str]:
    """(at, ref) of a live event's SK."""
    _, at, ref = sk.split("#", 2)
    return at, ref


def live_event_sk_from(at: str) -> str:
    """Lower bound for a room's live events at or after ``at`` (a Query range)."""
    return f"{LIVE_EVENT_PREFIX}{at}"


# The activity feed: what changed in users' unread state, for every open tab of this site, in a few
# process-wide partitions `Activity:<shard>` / `ev#<at>#<ref>` (rooms.activity). The shard is a
# stable hash of the room id (s-) or the user id (r-, n-, c-). Refs:
# `s-<room id>#<message id>` a message was posted; `r-<user id>#<room id>#<version>` a read cursor
# moved; `n-<user id>#<message id>` a user was mentioned; `c-<user id>#<room id>` a user's
# notification setting for a room changed; `x-<user id>#<room id>` a user left or was removed.
ACTIVITY_PK_PREFIX = "Activity:"
ACTIVITY_MESSAGE, ACTIVITY_READ, ACTIVITY_MENTION, ACTIVITY_SETTING = "s-", "r-", "n-", "c-"
ACTIVITY_LEFT = "x-"


def activity_pk(shard: int) -> str:
    return f"{ACTIVITY_PK_PREFIX}{shard}"


def activity_sk(at: str, ref: str) -> str:
    """Like a room's live event: `ev#<at>#<ref>` (``at`` ISO 8601, the writer's clock)."""
    return live_event_sk(at, ref)


def activity_sk_parts(sk: str) -> tuple[str, str]:
    return live_event_sk_parts(sk)


def activity_sk_from(at: str) -> str:
    return live_event_sk_from(at)


ACTIVITY_SK_MAX = LIVE_EVENT_SK_MAX


def activity_message_ref(room_id: str, message_id: str) -> str:
    return f"{ACTIVITY_MESSAGE}{room_id}#{message_id}"


def activity_read_ref(user_id: str, room_id: str, version: int) -> str:
    return f"{ACTIVITY_READ}{user_id}#{room_id}#{version}"


def activity_mention_ref(user_id: str, message_id: str) -> str:
    return f"{ACTIVITY_MENTION}{user_id}#{message_id}"


def activity_setting_ref(user_id: str, room_id: str) -> str:
    return f"{ACTIVITY_SETTING}{user_id}#{room_id}"


def activity_left_ref(user_id: str, room_id: str) -> str:
    return f"{ACTIVITY_LEFT}{user_id}#{room_id}"


def counter_pk(scope: str, subject: str) -> str:
    """Rate-limit and throttle counters: `Counter:<scope>:<subject>`, one item per window."""
    return f"Counter:{scope}:{subject}"


def counter_sk(window_start: int) -> str:
    return f"window#{window_start}"


def device_link_pk(code_digest: str) -> str:
    """A one-time device-link code, stored by its SHA-256 digest (the code itself is never stored)."""
    return f"DeviceLink:{code_digest}"


# --- session_store table (the seed's session-management keys) --------------------------------
ANONYMOUS_CUSTOMER = "~anonymous"  # "~" is not allowed in usernames, so no user can be it
CUSTOMER_PREFIX = "c#"
CHILD_PREFIX = "child#"


# Session keys (cookie values) never reach the table: a session is stored under the keyed hash
# of its key (accounts.session_keys.key_digest, HMAC-SHA256, 64 hex characters), so only someone
# holding the cookie can find its record. The functions below take and return digests.


def session_pk(session_digest: str) -> str:
    return f"suuid#{session_digest}"


def session_digest_from_pk(pk: str) -> str:
    return pk.removeprefix("suuid#")


def customer_sk(customer_id: str | None) -> str:
    """SK of a session's own record: `c#<user id>`, or `c#~anonymous` before sign-in."""
    return f"{CUSTOMER_PREFIX}{customer_id or ANONYMOUS_CUSTOMER}"


def customer_id_from_sk(sk: str) -> str | None:
    customer = sk.removeprefix(CUSTOMER_PREFIX)
    return None if customer == ANONYMOUS_CUSTOMER else customer


def child_sk(child_digest: str) -> str:
    """SK of a child session (a linked device) under its parent's partition."""
    return f"{CHILD_PREFIX}{session_pk(child_digest)}"


def child_digest_from_sk(sk: str) -> str:
    return session_digest_from_pk(sk.removeprefix(CHILD_PREFIX))


# The session feed (accounts.session_feed): which session partitions were ended or rewritten, so
# every process's session cache drops them within a second. In the chat table, one partition per
# SESSION_FEED_BUCKET_MS of the writer's clock: `SessionFeed:<bucket>` / `<ms, 13 digits>#<token>`.
SESSION_FEED_PK_PREFIX = "SessionFeed:"
SESSION_FEED_BUCKET_MS = 600_000


def session_feed_bucket(at_ms: int) -> int:
    return at_ms // SESSION_FEED_BUCKET_MS


def session_feed_pk(bucket: int) -> str:
    return f"{SESSION_FEED_PK_PREFIX}{bucket}"


def session_feed_sk(at_ms: int, token: str) -> str:
    return f"{at_ms:013d}#{token}"


def session_feed_sk_from(at_ms: int) -> str:
    """The smallest SK written at or after ``at_ms``."""
    return f"{max(at_ms, 0):013d}#"


def session_feed_at_ms(sk: str) -> int:
    return int(sk.partition("#")[0])


# --- posting guard (rooms.post_guard) ----------------------------------------------------------
POST_GUARD_SK = "post-guard"  # one item per user: rate-limit counts and recent idempotency keys


def post_guard_pk(user_id: str) -> str:
    """The item that rate-limits a user's posts and remembers their recent idempotency keys."""
    return counter_pk("post", user_id)



# --- search index (rooms.search_index) ---------------------------------------------------------
# `Search:<scope>#<term>` / `<CreatedAt>#<message id>` (the message's own SK): one item per term a
# message is indexed under. The scope says who may read it: `pub` holds every public room's
# messages (anyone may read them all: one Query covers them), `r:<room id>` one private room's or
# direct conversation's. Terms are letters and digits only (rooms.search_terms), never "#".
SEARCH_PK_PREFIX = "Search:"
SEARCH_PUBLIC_SCOPE = "pub"


def search_scope(room_id: str, *, public: bool) -> str:
    """The scope a room's messages are indexed in: `pub` for a public room, else `r:<room id>`."""
    return SEARCH_PUBLIC_SCOPE if public else f"r:{room_id}"


def search_pk(scope: str, term: str) -> str:
    return f"{SEARCH_PK_PREFIX}{scope}#{term}"


def search_pk_parts(pk: str) -> tuple[str, str]:
    """(scope, term) of a search item's PK."""
    scope, _, term = pk.removeprefix(SEARCH_PK_PREFIX).partition("#")
    return scope, term


def reindex_pk(target: str) -> str:
    """Where an interrupted `manage.py reindex` stopped: `Reindex:<all | r:<room id>>` / `meta`."""
    return f"Reindex:{target}"
