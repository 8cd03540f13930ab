"""Django's session contract on session_store (SESSION_ENGINE = "accounts.session_engine").

A sibling of django.contrib.sessions.backends.db: SessionStore implements exists, create, save,
delete, load and clear_expired on the access patterns in accounts.session_patterns, over the
records in accounts.models. Cost rules (docs/data-model.md, "Sessions: consistency and cost"):

- A request whose session is unchanged: one consistent Query, no write. `last_seen` (and the
  expiry) is refreshed by at most one UpdateItem per LAST_SEEN_REFRESH per session.
- None at all when this process read or wrote the session in the last
  ACCOUNTS_SESSION_CACHE_SECONDS (accounts.session_cache: the bound on revocation is there).
- Every write is conditional, so a session deleted elsewhere is never written back.

Session keys are bearer credentials: nothing here stores or logs them or puts them in exception
messages. The table holds their digests (accounts.session_keys).
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta

from asgiref.sync import sync_to_async
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.base import CreateError, SessionBase, UpdateError
from django.utils import timezone
from django.utils.crypto import get_random_string
from pynamodb import exceptions as pynamodb_errors

from accounts import session_patterns
from accounts.models import ACTIVE, SessionRecord
from accounts.session_cache import session_cache
from accounts.session_keys import (CHILD_KEY_LENGTH, KEY_CHARS, SESSION_KEY_LENGTH, StoredKey, is_digest,
                                   is_valid_key, key_digest)
from chatsite import keys
from chatsite.dynamodb import is_conditional_check_failed

LAST_SEEN_REFRESH = timedelta(minutes=5)


class ParentSessionEnded(UpdateError):
    """A device was being linked to a session that has meanwhile been signed out or expired."""


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
        self._expect_new_link = False

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
            return session_patterns.child_from_index(key.digest) is not None
        return session_patterns.own_record(key.digest) is not None

    def load(self):
        key = StoredKey.of(self.session_key) if self.session_key else None
        cached = session_cache.get(key) if key is not None else None
        if cached is not None:
            record, snapshot = cached.record, cached.data
        else:
            started, generation = session_cache.now(), session_cache.begin()
            found = session_patterns.live_session_by_session_id(key, wait_for_index=self._expect_new_link)
            if found is None:
                self._session_key = None  # an unknown, expired or ended key is never reused
                self._forget()
                return {}
            record = found.record
            snapshot = self.decode(record.session_data)
            session_cache.put(key, record, snapshot, live_until=found.live_until, started=started,
                              generation=generation, parent=found.parent)
        self._remember(self.session_key, record, snapshot, copied=True)
        if timezone.now() - record.last_seen >= LAST_SEEN_REFRESH:
            self.modified = True  # the response will save(): one UpdateItem of last_seen/expiry
        return copy.deepcopy(snapshot)  # the request's own copy: the cached one is never changed

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
        session_patterns.check_data_size(session_data)
        now = timezone.now()
        expires_at = int(self.get_expiry_date(modification=now).timestamp())
        user_id = data.get(SESSION_KEY)
        user_id = str(user_id) if user_id else None
        previous_user_id = (self._stored_data or {}).get(SESSION_KEY)
        login_at = self._login_at or (now if user_id and user_id != previous_user_id else None)
        previous = self._stored
        if self._client_info:
            user_agent, ip = self._client_info
        else:
            user_agent, ip = (previous.user_agent, previous.ip) if previous else (None, None)

        started, generation = session_cache.now(), session_cache.begin()
        if must_create:
            if self.session_key != self._generated_key and self.exists(self.session_key):
                raise CreateError  # a key we didn't generate may be stored under another user
            record = session_patterns.create_session(
                session_key=self.session_key, session_data=session_data, expires_at=expires_at,
                user_id=user_id, parent_digest=self._parent_digest,
                last_login_time=login_at or (previous.last_login_time if previous else None),
                user_agent=user_agent, ip=ip, now=now)
            if self._parent_digest:
                self._confirm_parent_lives(record)
            self._remember(self.session_key, record, data)
            self._cache_written(record, started, generation)
            return

        if self._stored_key != self.session_key:  # e.g. clear() then save(), without a load
            found = session_patterns.get_session_by_session_id(StoredKey.of(self.session_key))
            if found is None:
                raise UpdateError
            self._remember(self.session_key, found, None)
            previous = found
        record = SessionRecord(previous.PK, previous.SK, session_data=previous.session_data,
                               expires_at=expires_at, session_state=ACTIVE,
                               last_login_time=login_at or previous.last_login_time,
                               created_at=previous.created_at, last_seen=now, user_agent=user_agent, ip=ip)
        target_sk = record.SK if record.is_child else keys.customer_sk(user_id)

        if target_sk != record.SK:
            self._move(previous, target_sk, session_data, record)
            session_patterns.announce_change(record.PK)
        elif data == self._stored_data and not login_at:
            self._touch(previous, record)  # no announcement: data unchanged, expiry only extended
        else:
            record.session_data = session_data
            try:
                record.save(condition=session_patterns.still_active())
            except pynamodb_errors.PutError as exc:
                if is_conditional_check_failed(exc):
                    session_cache.forget(StoredKey.of(self.session_key))
                    raise UpdateError from None
                raise
            session_patterns.announce_change(record.PK)
        self._remember(self.session_key, record, data)
        self._cache_written(record, started, generation)

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
                session_patterns.end_record(old_stored[1].PK, old_stored[1].SK)
            else:
                session_patterns.expire_session(StoredKey.of(old_key))

    async def acycle_key(self):
        return await sync_to_async(self.cycle_key)()

    @classmethod
    def clear_expired(cls):
        session_patterns.clear_expired()

    # --- internals ---

    def _remember(self, session_key: str, record: SessionRecord, data: dict | None, *, copied: bool = False) -> None:
        self._stored_key, self._stored = session_key, record
        self._stored_data = data if copied or data is None else copy.deepcopy(data)
        self._parent_digest = record.partition_digest if record.is_child else None
        self._login_at = None

    def _forget(self) -> None:
        self._stored_key = self._stored = self._stored_data = None

    def _cache_written(self, record: SessionRecord, started: float, generation: int) -> None:
        """Read-your-writes on this process: the session cache holds what was just written. A linked
        device's entry is dropped instead (its parent's expiry, which bounds it, wasn't read)."""
        key = StoredKey.of(self.session_key)
        if record.is_child:
            session_cache.forget(key)
        else:
            session_cache.put(key, record, self._stored_data, live_until=float(record.expires_at),
                              started=started, generation=generation, written=True)

    def _delete_stored(self, session_key: str) -> None:
        stored = self._stored if self._stored_key == session_key else None
        if stored is not None and stored.is_child:
            session_patterns.end_record(stored.PK, stored.SK)  # known already: no GSI read
        else:
            session_patterns.expire_session(StoredKey.of(session_key))

    def _touch(self, previous: SessionRecord, record: SessionRecord) -> None:
        """Unchanged data: refresh last_seen, expiry and client info only (no lost update)."""
        actions = [SessionRecord.last_seen.set(record.last_seen),
                   SessionRecord.expires_at.set(record.expires_at)]
        for attribute, value in ((SessionRecord.user_agent, record.user_agent),
                                 (SessionRecord.ip, record.ip)):
            actions.append(attribute.set(value) if value else attribute.remove())
        target = SessionRecord(previous.PK, previous.SK)
        try:
            target.update(actions=actions, condition=session_patterns.still_active())
        except pynamodb_errors.UpdateError as exc:
            if is_conditional_check_failed(exc):
                session_cache.forget(StoredKey.of(self.session_key))
                raise UpdateError from None
            raise

    def _move(self, previous: SessionRecord, target_sk: str, session_data: str,
              record: SessionRecord) -> None:
        """The user changed (sign-in): put the new SK, then delete the old one conditionally.

        If the old record is gone or closing, the session was ended meanwhile: the new record is
        deleted again and UpdateError raised, so a revoked session is never resurrected.
        """
        record.SK, record.session_data, record.session_state = target_sk, session_data, ACTIVE
        record.save()
        try:
            SessionRecord(previous.PK, previous.SK).delete(condition=session_patterns.still_active())
        except pynamodb_errors.DeleteError as exc:
            if not is_conditional_check_failed(exc):
                raise
            session_patterns.end_record(record.PK, record.SK)
            raise UpdateError from None

    def _confirm_parent_lives(self, child: SessionRecord) -> None:
        parent = session_patterns.own_record(child.partition_digest)
        if parent is None or not parent.is_live():
            session_patterns.end_record(child.PK, child.SK)
            self._parent_digest = None
            raise ParentSessionEnded("the session this device was being linked to has ended")
