"""Django sessions in the `session_store` table: the seed's session-management design.

- A session's own record: `suuid#<digest>` / `c#<user id>` (`c#~anonymous` before sign-in).
- A linked device (child session): `suuid#<parent digest>` / `child#suuid#<child digest>`.
- GSI `GSI1_inverse` swaps the keys: a customer's sessions, and the parent owning a child.

A digest is key_digest(cookie): HMAC-SHA256 under a secret derived from SECRET_KEY. The table
never holds a cookie, so a backup or export of it signs nobody in. The engine hashes the cookie
once per request; listings (the GSI, a partition) give digests, and everything that ends a session
works from a StoredKey (a digest, and whether it names a linked device, which the cookie's length
tells without a read).

The eight seed access patterns are the module-level functions below, named as in
docs/data-model.md. `SessionStore` is the engine (SESSION_ENGINE = "accounts.sessions") built on
them. Cost rules (docs/data-model.md, "Sessions: consistency and cost"):

- A request whose session is unchanged: one consistent Query, no write. `last_seen` (and the
  expiry) is refreshed by at most one UpdateItem per LAST_SEEN_REFRESH per session.
- Every write is conditional, so a session deleted elsewhere is never written back.
- No transactions (dynalite has none) and no reliance on TTL (it can lag by days).

Session keys are bearer credentials: nothing here stores or logs them or puts them in exception
messages.
"""

from __future__ import annotations

import copy
import string
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from asgiref.sync import sync_to_async
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.base import CreateError, SessionBase, UpdateError
from django.utils import timezone
from django.utils.crypto import get_random_string, salted_hmac
from pynamodb import exceptions as pynamodb_errors
from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.expressions.condition import size
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chatsite import keys
from chatsite.dynamodb import SESSION_INVERSE_INDEX, SESSION_TTL_ATTRIBUTE, SESSIONS, bind_to

ACTIVE = "active"
CLOSING = "closing"  # being expired: serves no request, and clear_expired sweeps it

# Session keys (cookie values). Both from Django's CSPRNG over [a-z0-9]: 32 chars ≈ 165 bits,
# 40 chars ≈ 206 bits. The length alone says "linked device", so no read is needed to tell.
KEY_CHARS = string.ascii_lowercase + string.digits
SESSION_KEY_LENGTH = 32
CHILD_KEY_LENGTH = 40
MIN_KEY_LENGTH = 8  # Django's lower bound
MAX_KEY_LENGTH = 64  # longer cookies are garbage: don't send them to DynamoDB

LAST_SEEN_REFRESH = timedelta(minutes=5)
# A child's GSI entry can lag its creation; its first request (the redirect right after linking)
# gets one retry after this pause before the cookie is treated as unknown.
CHILD_INDEX_RETRY_SECONDS = 0.25

DYNAMODB_ITEM_LIMIT = 400 * 1024
# Room for the keys and the other attributes (user agent is capped by accounts.middleware).
MAX_SESSION_DATA_BYTES = DYNAMODB_ITEM_LIMIT - 4 * 1024


class SessionDataTooLarge(ValueError):
    """The encoded session would not fit in one DynamoDB item. Nothing was written."""


class ParentSessionEnded(UpdateError):
    """A device was being linked to a session that has meanwhile been signed out or expired."""


DIGEST_LENGTH = 64  # hex of HMAC-SHA256
_DIGEST_SALT = "accounts.sessions.key_digest"


def is_child_key(session_key: str) -> bool:
    return len(session_key) == CHILD_KEY_LENGTH


def is_valid_key(session_key) -> bool:
    return (isinstance(session_key, str) and MIN_KEY_LENGTH <= len(session_key) <= MAX_KEY_LENGTH
            and all(c in KEY_CHARS for c in session_key))


def key_digest(session_key: str) -> str:
    """What a session key is stored under: HMAC-SHA256 keyed by a secret derived from SECRET_KEY.
    Without the cookie the record can't be found; without SECRET_KEY the digest can't be made."""
    return salted_hmac(_DIGEST_SALT, session_key, algorithm="sha256").hexdigest()


def is_digest(value) -> bool:
    return isinstance(value, str) and len(value) == DIGEST_LENGTH and all(c in "0123456789abcdef" for c in value)


@dataclass(frozen=True)
class StoredKey:
    """A session (or, with is_child, a linked device) as the table names it."""

    digest: str
    is_child: bool = False

    @classmethod
    def of(cls, session_key) -> StoredKey | None:
        """From a cookie value; None for a malformed one (which never reaches DynamoDB)."""
        if not is_valid_key(session_key):
            return None
        return cls(key_digest(session_key), is_child_key(session_key))

    def __repr__(self) -> str:
        return f"<StoredKey child={self.is_child}>"


class CustomerIndex(GlobalSecondaryIndex):
    """GSI1_inverse: SK (HASH) / PK (RANGE). `c#<user>` → their sessions; `child#…` → its parent."""

    class Meta:
        index_name = SESSION_INVERSE_INDEX
        projection = AllProjection()

    SK = UnicodeAttribute(hash_key=True)
    PK = UnicodeAttribute(range_key=True)


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

    customer_index = CustomerIndex()

    @property
    def session_digest(self) -> str:
        """The partition's digest: for a child record, its parent's."""
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
        return StoredKey(self.child_digest, True) if self.is_child else StoredKey(self.session_digest)

    @property
    def customer_id(self) -> str | None:
        """The signed-in user; None when anonymous, and for a child (it belongs to its parent's)."""
        return None if self.is_child else keys.customer_id_from_sk(self.SK)

    def is_live(self, now: float | None = None) -> bool:
        return self.session_state == ACTIVE and self.expires_at > (time.time() if now is None else now)

    def __repr__(self) -> str:  # PynamoDB's repr shows the keys (digests, but still no one's business)
        return f"<SessionRecord customer={self.customer_id!r} child={self.is_child}>"


def _active() -> object:
    return SessionRecord.PK.exists() & (SessionRecord.session_state == ACTIVE)


def _conditional_check_failed(exc: Exception) -> bool:
    return getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException"


def _check_size(session_data: str) -> None:
    size = len(session_data.encode())
    if size > MAX_SESSION_DATA_BYTES:
        raise SessionDataTooLarge(
            f"session data is {size} bytes once encoded; a DynamoDB item holds at most 400 KB. "
            f"Keep large data out of the session (store it in its own item and keep its id)."
        )


def _own_record(session_digest: str) -> SessionRecord | None:
    """The session's own record (`c#…`) in any state: one Query, since the SK names the customer."""
    return next(iter(SessionRecord.query(keys.session_pk(session_digest),
                                         SessionRecord.SK.startswith(keys.CUSTOMER_PREFIX),
                                         consistent_read=True, limit=1)), None)


def _child_from_index(child_digest: str) -> SessionRecord | None:
    return next(iter(SessionRecord.customer_index.query(keys.child_sk(child_digest), limit=1)), None)


def _delete_item(pk: str, sk: str) -> None:
    SessionRecord(pk, sk).delete()


# --- the eight seed access patterns -----------------------------------------------------------


def create_session(*, session_key: str, session_data: str, expires_at: int,
                   customer_id: str | None = None, parent_digest: str | None = None,
                   last_login_time: datetime | None = None, user_agent: str | None = None,
                   ip: str | None = None, now: datetime | None = None) -> SessionRecord:
    """createSession: PutItem with `attribute_not_exists(PK)`; never overwrites (CreateError).

    Stored under key_digest(session_key). With ``parent_digest`` the record is a child:
    `suuid#<parent digest>` / `child#suuid#<digest>`.
    """
    _check_size(session_data)
    now = now or timezone.now()
    if parent_digest is None:
        pk, sk = keys.session_pk(key_digest(session_key)), keys.customer_sk(customer_id)
    else:
        pk, sk = keys.session_pk(parent_digest), keys.child_sk(key_digest(session_key))
    record = SessionRecord(pk, sk, session_data=session_data, expires_at=expires_at, session_state=ACTIVE,
                           last_login_time=last_login_time, created_at=now, last_seen=now,
                           user_agent=user_agent or None, ip=ip or None)
    try:
        record.save(condition=SessionRecord.PK.does_not_exist())
    except pynamodb_errors.PutError as exc:
        if _conditional_check_failed(exc):
            raise CreateError from None
        raise
    return record


def get_session_by_session_id(key: StoredKey | None, *, wait_for_index: bool = False) -> SessionRecord | None:
    """getSessionBySessionId: the live session for a key, read strongly consistently.

    A session: one Query `PK = suuid#<digest>, SK begins_with c#`, Limit 1 (the SK holds the
    customer, which the caller does not know). A device: getSessionByChildSessionId on the GSI,
    then one consistent Query of the parent's partition, which must still hold the child and a live
    parent (expireSession deletes children before the parent, so a child outliving it is an orphan).
    """
    if key is None or not is_digest(key.digest):
        return None
    if not key.is_child:
        record = _own_record(key.digest)
        return record if record is not None and record.is_live() else None
    hint = _child_from_index(key.digest)  # getSessionByChildSessionId, before the liveness check
    if hint is None:
        # The index may not have a device linked a moment ago yet. Only then is a second look worth
        # a short wait: for any other unknown 40-character cookie it would hand forgers a cheap way
        # to hold worker threads.
        if not wait_for_index:
            return None
        time.sleep(CHILD_INDEX_RETRY_SECONDS)
        hint = _child_from_index(key.digest)
        if hint is None:
            return None
    family = list(SessionRecord.query(hint.PK, consistent_read=True))
    child = next((r for r in family if r.SK == hint.SK), None)
    parent = next((r for r in family if not r.is_child), None)
    now = time.time()
    if child is None or parent is None or not (child.is_live(now) and parent.is_live(now)):
        return None
    return child


def expire_session(key: StoredKey | None) -> None:
    """expireSession: sign-out and revocation. Deletes the session's children, then the session.

    One consistent Query of `PK = suuid#<digest>` finds them all. With children, the session is
    first marked `closing` (it and its children stop serving at once even if a later delete fails;
    clear_expired sweeps closing records). A device's key deletes just that linked device.
    """
    if key is None or not is_digest(key.digest):
        return
    if key.is_child:
        child = _child_from_index(key.digest)
        if child is not None:
            _delete_item(child.PK, child.SK)
        return
    family = list(SessionRecord.query(keys.session_pk(key.digest), consistent_read=True))
    children = [r for r in family if r.is_child]
    own = [r for r in family if not r.is_child]
    if children:
        for record in own:
            try:
                record.update(actions=[SessionRecord.session_state.set(CLOSING)], condition=_active())
            except pynamodb_errors.UpdateError as exc:
                if not _conditional_check_failed(exc):
                    raise
    for record in children + own:
        _delete_item(record.PK, record.SK)


def get_child_sessions_by_session_id(session_digest: str) -> list[SessionRecord]:
    """getChildSessionsBySessionId: Query `PK = suuid#<digest>, SK begins_with child#` (consistent)."""
    if not is_digest(session_digest):
        return []
    now = time.time()
    return [r for r in SessionRecord.query(keys.session_pk(session_digest),
                                           SessionRecord.SK.startswith(keys.CHILD_PREFIX),
                                           consistent_read=True)
            if r.is_live(now)]


def get_session_by_child_session_id(child_digest: str) -> SessionRecord | None:
    """getSessionByChildSessionId: GSI1_inverse Query `SK = child#suuid#<child digest>`.

    Returns the child record (its PK is the parent's). Eventually consistent: the session engine
    confirms it against the base table before trusting it (see get_session_by_session_id).
    """
    if not is_digest(child_digest):
        return None
    record = _child_from_index(child_digest)
    return record if record is not None and record.is_live() else None


def get_sessions_by_customer_id(user_id: str, *,
                                current_session_key: str | None = None) -> list[SessionRecord]:
    """getSessionsByCustomerId: GSI1_inverse Query `SK = c#<user>`; the user's live sessions.

    The GSI is eventually consistent, so a session that signed in a moment ago can be missing (and
    one revoked a moment ago can linger). Pass the caller's ``current_session_key``: that session is
    then read from the base table (consistently) and merged in, so "where you're signed in" right
    after sign-in always shows the session you are using.
    """
    if not user_id:
        return []
    now = time.time()
    indexed = SessionRecord.customer_index.query(keys.customer_sk(user_id))
    records = {r.PK: r for r in indexed if r.is_live(now)}
    current_key = StoredKey.of(current_session_key)
    if current_key is not None and not current_key.is_child:
        current = get_session_by_session_id(current_key)
        pk = keys.session_pk(current_key.digest)
        if current is not None and current.customer_id == str(user_id):
            records[pk] = current
        else:
            records.pop(pk, None)
    return list(records.values())


def get_last_login_time_by_customer_id(user_id: str, *,
                                       current_session_key: str | None = None) -> datetime | None:
    """getLastLoginTimeByCustomerId: the latest `last_login_time` over all the user's sessions.

    The seed's `Limit 1` would return an arbitrary session's time; this reads them all (a user has
    few) from getSessionsByCustomerId, with the same consistency note. Linked devices are not
    counted: linking is not a sign-in with a password.
    """
    records = get_sessions_by_customer_id(user_id, current_session_key=current_session_key)
    times = [r.last_login_time for r in records if r.last_login_time is not None]
    return max(times, default=None)


def get_session_id_by_customer_id(user_id: str, key: StoredKey | None) -> bool:
    """getSessionIdByCustomerId: "is this session this user's?", asked before revoking it.

    GSI1_inverse Query `SK = c#<user>, PK = suuid#<digest>`. The GSI lags, so a "no" is confirmed
    by a consistent GetItem of exactly that base item. A device is answered for its parent.
    """
    if not user_id or key is None or not is_digest(key.digest):
        return False
    session_digest = key.digest
    if key.is_child:
        child = get_session_by_child_session_id(key.digest)
        if child is None:
            return False
        session_digest = child.session_digest
    pk, sk = keys.session_pk(session_digest), keys.customer_sk(user_id)
    now = time.time()
    if any(r.is_live(now) for r in SessionRecord.customer_index.query(sk, SessionRecord.PK == pk, limit=1)):
        return True
    try:
        return SessionRecord.get(pk, sk, consistent_read=True).is_live(now)
    except SessionRecord.DoesNotExist:
        return False


# --- clearing expired sessions -----------------------------------------------------------------


@dataclass
class ClearProgress:
    pages: int = 0
    scanned: int = 0
    deleted: int = 0


def clear_expired(*, page_size: int = 100,
                  progress: Callable[[ClearProgress], None] | None = None) -> ClearProgress:
    """Delete expired and closing records, page by page (a Scan; TTL may lag, dynalite has none).

    Each delete is conditional on the record still being dead, so a session refreshed meanwhile
    survives. A dead session's children go with it. Records stored under a plain session key
    (before keys were stored as digests) are dead too: no cookie finds them any more, and they
    hold a credential, so they go on the first run.
    """
    now = int(time.time())
    legacy = size(SessionRecord.PK) != len(keys.session_pk("0" * DIGEST_LENGTH))
    dead = (SessionRecord.expires_at <= now) | (SessionRecord.session_state == CLOSING) | legacy
    outcome = ClearProgress()
    scan = SessionRecord.scan(filter_condition=dead, page_size=page_size, attributes_to_get=["PK", "SK"])
    for page in scan.page_iter:
        outcome.pages += 1
        outcome.scanned += page.get("ScannedCount", 0)
        for raw in page.get("Items", []):
            record = SessionRecord.from_raw_data(raw)
            try:
                record.delete(condition=SessionRecord.PK.exists() & dead)
            except pynamodb_errors.DeleteError as exc:
                if _conditional_check_failed(exc):
                    continue  # refreshed, or already deleted (e.g. as a dead parent's child)
                raise
            outcome.deleted += 1
            if not record.is_child:
                for child in SessionRecord.query(record.PK, SessionRecord.SK.startswith(keys.CHILD_PREFIX),
                                                 consistent_read=True, attributes_to_get=["PK", "SK"]):
                    _delete_item(child.PK, child.SK)
                    outcome.deleted += 1
        if progress is not None:
            progress(outcome)
    return outcome


# --- the engine ----------------------------------------------------------------------------------


class SessionStore(SessionBase):
    """Django's session contract on session_store. See the module docstring for the cost rules."""

    def __init__(self, session_key=None):
        super().__init__(session_key)
        self._parent_digest: str | None = None  # set while this session is (or will be) a linked device
        self._stored: SessionRecord | None = None  # the record as last read or written, for _stored_key
        self._stored_key: str | None = None
        self._stored_data: dict | None = None
        self._generated_key: str | None = None
        self._client_info: tuple[str | None, str | None] | None = None
        self._login_at: datetime | None = None

    # --- the key ---

    def _validate_session_key(self, key):
        return is_valid_key(key)

    def _get_new_session_key(self):
        # No exists() read: create() puts with attribute_not_exists and loops on CreateError.
        length = CHILD_KEY_LENGTH if self._parent_digest else SESSION_KEY_LENGTH
        self._generated_key = get_random_string(length, KEY_CHARS)
        return self._generated_key

    # --- what the accounts app tells us ---

    def set_client_info(self, *, user_agent: str, ip: str) -> None:
        """Remembered for the next write (creation, sign-in, last-seen refresh); never a write itself."""
        self._client_info = (user_agent or None, ip or None)

    def expect_new_link(self) -> None:
        """This browser linked itself moments ago (a signed cookie says so): if its device record is
        not in the eventually consistent index yet, wait briefly once rather than sign it out."""
        self._expect_new_link = True

    def mark_login(self) -> None:
        """The user has just signed in here: the next save records last_login_time."""
        self._login_at = timezone.now()
        self.modified = True

    def link_as_child(self, parent_digest: str) -> None:
        """Make this browser a linked device of the session stored under ``parent_digest``.

        Rotates the key itself (this browser's old session is deleted now); the next save creates
        the child record `child#suuid#<new digest>` under the parent. Don't cycle_key() afterwards:
        that would make it a session of its own again.
        """
        if not is_digest(parent_digest) or (self.session_key and parent_digest == key_digest(self.session_key)):
            raise ValueError("a device can only be linked to another, top-level session")
        data = self._session
        old_key = self.session_key
        self._session_key = None
        self._session_cache = data
        if old_key:
            self._delete_stored(old_key)
        self._parent_digest = parent_digest
        self.modified = True

    # --- SessionBase's contract ---

    def exists(self, session_key):
        key = StoredKey.of(session_key)
        if key is None:
            return False
        if key.is_child:
            return _child_from_index(key.digest) is not None
        return _own_record(key.digest) is not None

    def load(self):
        record = get_session_by_session_id(
            StoredKey.of(self.session_key), wait_for_index=getattr(self, "_expect_new_link", False),
        ) if self.session_key else None
        if record is None:
            self._session_key = None  # an unknown, expired or ended key is never reused
            self._forget()
            return {}
        data = self.decode(record.session_data)
        self._remember(self.session_key, record, data)
        if timezone.now() - record.last_seen >= LAST_SEEN_REFRESH:
            self.modified = True  # the response will save(): one UpdateItem of last_seen/expiry
        return data

    def create(self):
        while True:
            self._session_key = self._get_new_session_key()
            try:
                self.save(must_create=True)
            except CreateError:
                continue
            self.modified = True
            return

    def save(self, must_create=False):
        if self.session_key is None:
            return self.create()
        data = self._get_session(no_load=must_create)
        if self.session_key is None:
            raise UpdateError  # loading just now found the session gone: don't write it back
        session_data = self.encode(data)
        _check_size(session_data)
        now = timezone.now()
        expires_at = int(self.get_expiry_date(modification=now).timestamp())
        customer = data.get(SESSION_KEY)
        customer = str(customer) if customer else None
        previous_customer = (self._stored_data or {}).get(SESSION_KEY)
        login_at = self._login_at or (now if customer and customer != previous_customer else None)
        previous = self._stored
        if self._client_info:
            user_agent, ip = self._client_info
        else:
            user_agent, ip = (previous.user_agent, previous.ip) if previous else (None, None)

        if must_create:
            if self.session_key != self._generated_key and self.exists(self.session_key):
                raise CreateError  # a key we didn't generate may be stored under another customer
            record = create_session(
                session_key=self.session_key, session_data=session_data, expires_at=expires_at,
                customer_id=customer, parent_digest=self._parent_digest,
                last_login_time=login_at or (previous.last_login_time if previous else None),
                user_agent=user_agent, ip=ip, now=now)
            if self._parent_digest:
                self._confirm_parent_lives(record)
            self._remember(self.session_key, record, data)
            return

        if self._stored_key != self.session_key:  # e.g. clear() then save(), without a load
            found = get_session_by_session_id(StoredKey.of(self.session_key))
            if found is None:
                raise UpdateError
            self._remember(self.session_key, found, None)
            previous = found
        record = SessionRecord(previous.PK, previous.SK, session_data=previous.session_data,
                               expires_at=expires_at, session_state=ACTIVE,
                               last_login_time=login_at or previous.last_login_time,
                               created_at=previous.created_at, last_seen=now, user_agent=user_agent, ip=ip)
        target_sk = record.SK if record.is_child else keys.customer_sk(customer)

        if target_sk != record.SK:
            self._move(previous, target_sk, session_data, record)
        elif data == self._stored_data and not login_at:
            self._touch(previous, record)
        else:
            record.session_data = session_data
            try:
                record.save(condition=_active())
            except pynamodb_errors.PutError as exc:
                if _conditional_check_failed(exc):
                    raise UpdateError from None
                raise
        self._remember(self.session_key, record, data)

    def delete(self, session_key=None):
        own = session_key is None or session_key == self.session_key
        if session_key is None:
            session_key = self.session_key
        if not session_key:
            return
        self._delete_stored(session_key)
        if own:
            self._parent_digest = None  # signed out: this browser's next session stands alone
            self._forget()

    def cycle_key(self):
        """A new key, same data. A linked device becomes a session of its own: cycle_key runs at
        sign-in and password change, when the device has just proved the credentials itself."""
        data = self._session
        old_key = self.session_key
        old_stored = (self._stored_key, self._stored) if self._stored_key == old_key else None
        self._parent_digest = None
        self.create()
        self._session_cache = data
        if old_key:
            if old_stored and old_stored[1].is_child:
                _delete_item(old_stored[1].PK, old_stored[1].SK)
            else:
                expire_session(StoredKey.of(old_key))

    async def acycle_key(self):
        return await sync_to_async(self.cycle_key)()

    @classmethod
    def clear_expired(cls):
        clear_expired()

    # --- internals ---

    def _remember(self, session_key: str, record: SessionRecord, data: dict | None) -> None:
        self._stored_key, self._stored = session_key, record
        self._stored_data = copy.deepcopy(data) if data is not None else None
        self._parent_digest = record.session_digest if record.is_child else None
        self._login_at = None

    def _forget(self) -> None:
        self._stored_key = self._stored = self._stored_data = None

    def _delete_stored(self, session_key: str) -> None:
        stored = self._stored if self._stored_key == session_key else None
        if stored is not None and stored.is_child:
            _delete_item(stored.PK, stored.SK)  # known already: no GSI read
        else:
            expire_session(StoredKey.of(session_key))

    def _touch(self, previous: SessionRecord, record: SessionRecord) -> None:
        """Unchanged data: refresh last_seen, expiry and client info only (no lost update)."""
        actions = [SessionRecord.last_seen.set(record.last_seen),
                   SessionRecord.expires_at.set(record.expires_at)]
        for attribute, value in ((SessionRecord.user_agent, record.user_agent),
                                 (SessionRecord.ip, record.ip)):
            actions.append(attribute.set(value) if value else attribute.remove())
        target = SessionRecord(previous.PK, previous.SK)
        try:
            target.update(actions=actions, condition=_active())
        except pynamodb_errors.UpdateError as exc:
            if _conditional_check_failed(exc):
                raise UpdateError from None
            raise

    def _move(self, previous: SessionRecord, target_sk: str, session_data: str,
              record: SessionRecord) -> None:
        """The customer changed (sign-in): put the new SK, then delete the old one conditionally.

        If the old record is gone or closing, the session was ended meanwhile: the new record is
        deleted again and UpdateError raised, so a revoked session is never resurrected.
        """
        record.SK, record.session_data, record.session_state = target_sk, session_data, ACTIVE
        record.save()
        try:
            SessionRecord(previous.PK, previous.SK).delete(condition=_active())
        except pynamodb_errors.DeleteError as exc:
            if not _conditional_check_failed(exc):
                raise
            _delete_item(record.PK, record.SK)
            raise UpdateError from None

    def _confirm_parent_lives(self, child: SessionRecord) -> None:
        parent = _own_record(child.session_digest)
        if parent is None or not parent.is_live():
            _delete_item(child.PK, child.SK)
            self._parent_digest = None
            raise ParentSessionEnded("the session this device was being linked to has ended")
