"""The seed's eight session access patterns on session_store, clear_expired, and the session
cache's revalidation (revalidateCachedSessions).

Each pattern is a function named as in docs/data-model.md; the first line of its docstring is the
seed's own name (getSessionBySessionId, …), where the seed says "customer" for a user. The session
engine (accounts.session_engine), the services and the selectors read and write sessions only
through these functions and the building blocks just below them.

- Every write is conditional, so a session deleted elsewhere is never written back.
- Everything that deletes a session record forgets its partition in this process's session cache
  (accounts.session_cache) once written, so this process never serves an ended session again.
- No transactions (dynalite has none) and no reliance on TTL (it can lag by days): a record is
  live only while `session_state` is active and `expires_at` is in the future.

Records are found by digests (accounts.session_keys), never by cookie values.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from django.contrib.sessions.backends.base import CreateError
from django.utils import timezone
from pynamodb import exceptions as pynamodb_errors
from pynamodb.expressions.condition import size

from accounts import session_feed
from accounts.models import ACTIVE, CLOSING, SessionRecord
from accounts.session_cache import Revalidated, session_cache
from accounts.session_keys import DIGEST_LENGTH, StoredKey, is_digest, key_digest
from chatsite import keys
from chatsite.dynamodb import is_conditional_check_failed

logger = logging.getLogger(__name__)

# A child's GSI entry can lag its creation; its first request (the redirect right after linking)
# gets one retry after this pause before the cookie is treated as unknown.
CHILD_INDEX_RETRY_SECONDS = 0.25

DYNAMODB_ITEM_LIMIT = 400 * 1024
# Room for the keys and the other attributes (user agent is capped by accounts.request_info).
MAX_SESSION_DATA_BYTES = DYNAMODB_ITEM_LIMIT - 4 * 1024


class SessionDataTooLarge(ValueError):
    """The encoded session would not fit in one DynamoDB item. Nothing was written."""


def check_data_size(session_data: str) -> None:
    size_bytes = len(session_data.encode())
    if size_bytes > MAX_SESSION_DATA_BYTES:
        raise SessionDataTooLarge(
            f"session data is {size_bytes} bytes once encoded; a DynamoDB item holds at most 400 KB. "
            f"Keep large data out of the session (store it in its own item and keep its id)."
        )


# --- building blocks the patterns and the engine share --------------------------------------------


def still_active() -> object:
    """The condition on every update of a session: it exists and has not begun to close."""
    return SessionRecord.PK.exists() & (SessionRecord.session_state == ACTIVE)


def own_record(session_digest: str) -> SessionRecord | None:
    """The session's own record (`c#…`) in any state: one Query, since the SK names the user."""
    return next(iter(SessionRecord.query(keys.session_pk(session_digest),
                                         SessionRecord.SK.startswith(keys.CUSTOMER_PREFIX),
                                         consistent_read=True, limit=1)), None)


def child_from_index(child_digest: str) -> SessionRecord | None:
    """A linked device's record as GSI1_inverse has it (any state; eventually consistent)."""
    return next(iter(SessionRecord.user_index.query(keys.child_sk(child_digest), limit=1)), None)


def delete_record(pk: str, sk: str) -> None:
    """Delete one record; the caller announces the partition's change once its writes are done."""
    try:
        SessionRecord(pk, sk).delete()
    finally:
        session_cache.forget_partition(pk)  # after the write: this process never serves it again


def end_record(pk: str, sk: str) -> None:
    """Delete one record and announce it (a linked device unlinked, an orphan swept)."""
    try:
        delete_record(pk, sk)
    finally:
        announce_change(pk)  # also when the delete failed: it may have happened


def announce_change(pk: str) -> None:
    """After a session's partition was ended or rewritten: every other process's session cache
    drops it within ACCOUNTS_SESSION_FEED_SECONDS (accounts.session_feed). One PutItem.

    Its own failure is logged, never raised: the write it follows is done (this process already
    forgot the session), and other processes then hold it for at most
    ACCOUNTS_SESSION_CACHE_WITH_FEED_SECONDS. Raising would show the user an error for a sign-out
    that happened, and a retry would find nothing left to announce."""
    try:
        session_feed.announce(pk, feed=session_cache.feed)
    except Exception:  # noqa: BLE001 - see above; botocore has already retried
        logger.error("session feed: announcing a session's end failed; other processes may serve it "
                     "for up to ACCOUNTS_SESSION_CACHE_WITH_FEED_SECONDS", exc_info=True)


# --- the eight seed access patterns -----------------------------------------------------------


def create_session(*, session_key: str, session_data: str, expires_at: int,
                   user_id: str | None = None, parent_digest: str | None = None,
                   last_login_time: datetime | None = None, user_agent: str | None = None,
                   ip: str | None = None, now: datetime | None = None) -> SessionRecord:
    """createSession: PutItem with `attribute_not_exists(PK)`; never overwrites (CreateError).

    Stored under key_digest(session_key). With ``parent_digest`` the record is a child:
    `suuid#<parent digest>` / `child#suuid#<digest>`.
    """
    check_data_size(session_data)
    now = now or timezone.now()
    if parent_digest is None:
        pk, sk = keys.session_pk(key_digest(session_key)), keys.customer_sk(user_id)
    else:
        pk, sk = keys.session_pk(parent_digest), keys.child_sk(key_digest(session_key))
    record = SessionRecord(pk, sk, session_data=session_data, expires_at=expires_at, session_state=ACTIVE,
                           last_login_time=last_login_time, created_at=now, last_seen=now,
                           user_agent=user_agent or None, ip=ip or None)
    try:
        record.save(condition=SessionRecord.PK.does_not_exist())
    except pynamodb_errors.PutError as exc:
        if is_conditional_check_failed(exc):
            raise CreateError from None
        raise
    return record


def get_session_by_session_id(key: StoredKey | None, *, wait_for_index: bool = False) -> SessionRecord | None:
    """getSessionBySessionId: the live session for a key, read strongly consistently.

    A session: one Query `PK = suuid#<digest>, SK begins_with c#`, Limit 1 (the SK holds the
    user, which the caller does not know). A device: getSessionByChildSessionId on the GSI,
    then one consistent Query of the parent's partition, which must still hold the child and a live
    parent (expireSession deletes children before the parent, so a child outliving it is an orphan).
    """
    found = live_session_by_session_id(key, wait_for_index=wait_for_index)
    return found.record if found is not None else None


@dataclass(frozen=True)
class LiveSession:
    record: SessionRecord
    live_until: float  # epoch seconds: the answer holds by time alone until then
    parent: SessionRecord | None = None  # a linked device's parent, as read with it


def live_session_by_session_id(key: StoredKey | None, *, wait_for_index: bool = False) -> LiveSession | None:
    """getSessionBySessionId, with the epoch second until which the answer holds by time alone:
    the record's expiry, for a device also its parent's (what the session cache may serve until),
    and for a device its parent's record (the session cache revalidates both)."""
    if key is None or not is_digest(key.digest):
        return None
    if not key.is_child:
        record = own_record(key.digest)
        return LiveSession(record, float(record.expires_at)) if record is not None and record.is_live() else None
    hint = child_from_index(key.digest)  # getSessionByChildSessionId, before the liveness check
    if hint is None:
        # The index may not have a device linked a moment ago yet. Only then is a second look worth
        # a short wait: for any other unknown 40-character cookie it would hand forgers a cheap way
        # to hold worker threads.
        if not wait_for_index:
            return None
        time.sleep(CHILD_INDEX_RETRY_SECONDS)
        hint = child_from_index(key.digest)
        if hint is None:
            return None
    family = list(SessionRecord.query(hint.PK, consistent_read=True))
    child = next((r for r in family if r.SK == hint.SK), None)
    parent = next((r for r in family if not r.is_child), None)
    now = time.time()
    if child is None or parent is None or not (child.is_live(now) and parent.is_live(now)):
        return None
    return LiveSession(child, float(min(child.expires_at, parent.expires_at)), parent)


def expire_session(key: StoredKey | None) -> None:
    """expireSession: sign-out and revocation. Deletes the session's children, then the session.

    One consistent Query of `PK = suuid#<digest>` finds them all. With children, the session is
    first marked `closing` (it and its children stop serving at once even if a later delete fails;
    clear_expired sweeps closing records). A device's key deletes just that linked device.
    """
    if key is None or not is_digest(key.digest):
        return
    if key.is_child:
        child = child_from_index(key.digest)
        if child is not None:
            end_record(child.PK, child.SK)
        session_cache.forget(key)  # also when the index has no entry yet
        return
    family: list[SessionRecord] = []
    try:
        family = list(SessionRecord.query(keys.session_pk(key.digest), consistent_read=True))
        children = [r for r in family if r.is_child]
        own = [r for r in family if not r.is_child]
        if children:
            for record in own:
                try:
                    record.update(actions=[SessionRecord.session_state.set(CLOSING)], condition=still_active())
                except pynamodb_errors.UpdateError as exc:
                    if not is_conditional_check_failed(exc):
                        raise
        for record in children + own:
            delete_record(record.PK, record.SK)
    finally:
        session_cache.forget_partition(keys.session_pk(key.digest))  # even if a write failed half-way
        if family:  # once for the whole family; a key that found nothing changed nothing
            announce_change(keys.session_pk(key.digest))


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
    record = child_from_index(child_digest)
    return record if record is not None and record.is_live() else None


def get_sessions_by_user_id(user_id: str, *, current_session_key: str | None = None) -> list[SessionRecord]:
    """getSessionsByCustomerId: GSI1_inverse Query `SK = c#<user>`; the user's live sessions.

    The GSI is eventually consistent, so a session that signed in a moment ago can be missing (and
    one revoked a moment ago can linger). Pass the caller's ``current_session_key``: that session is
    then read from the base table (consistently) and merged in, so "where you're signed in" right
    after sign-in always shows the session you are using.
    """
    if not user_id:
        return []
    now = time.time()
    indexed = SessionRecord.user_index.query(keys.customer_sk(user_id))
    records = {r.PK: r for r in indexed if r.is_live(now)}
    current_key = StoredKey.of(current_session_key)
    if current_key is not None and not current_key.is_child:
        current = get_session_by_session_id(current_key)
        pk = keys.session_pk(current_key.digest)
        if current is not None and current.user_id == str(user_id):
            records[pk] = current
        else:
            records.pop(pk, None)
    return list(records.values())


def get_last_login_time_by_user_id(user_id: str, *, current_session_key: str | None = None) -> datetime | None:
    """getLastLoginTimeByCustomerId: the latest `last_login_time` over all the user's sessions.

    The seed's `Limit 1` would return an arbitrary session's time; this reads them all (a user has
    few) from getSessionsByCustomerId, with the same consistency note. Linked devices are not
    counted: linking is not a sign-in with a password.
    """
    records = get_sessions_by_user_id(user_id, current_session_key=current_session_key)
    times = [r.last_login_time for r in records if r.last_login_time is not None]
    return max(times, default=None)


def session_belongs_to_user(user_id: str, key: StoredKey | None) -> bool:
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
        session_digest = child.partition_digest
    pk, sk = keys.session_pk(session_digest), keys.customer_sk(user_id)
    now = time.time()
    if any(r.is_live(now) for r in SessionRecord.user_index.query(sk, SessionRecord.PK == pk, limit=1)):
        return True
    try:
        return SessionRecord.get(pk, sk, consistent_read=True).is_live(now)
    except SessionRecord.DoesNotExist:
        return False


# --- the session cache's revalidation ------------------------------------------------------------

BATCH_GET_LIMIT = 100  # keys per BatchGetItem


def revalidate_cached_sessions(cache=None) -> int:
    """revalidateCachedSessions: read again, in bulk, the cached sessions due for it (used in the
    last ACCOUNTS_SESSION_CACHE_WITH_FEED_SECONDS and nearing it: SessionCache.due_for_revalidation),
    so that a page never pays that read. One consistent BatchGetItem per 100 items: a session's
    record; for a linked device its record and its parent's. Each entry is replaced by what was
    read, as of this call's start (the expiry and last_seen a refresh moved), or dropped when an
    item is gone, closing, expired or holds other data (rewritten elsewhere: the next page reads
    it, as after an announcement). Run by the activity hub's thread (rooms.activity); returns the
    entries read. A failure leaves the entries to expire at their bound, and is raised."""
    cache = cache if cache is not None else session_cache
    due = cache.due_for_revalidation()
    if not due:
        return 0
    started = cache.now()
    wanted = sorted({(entry.record.PK, entry.record.SK) for _, entry in due}
                    | {(entry.parent.PK, entry.parent.SK) for _, entry in due if entry.parent is not None})
    found: dict[tuple[str, str], SessionRecord] = {}
    try:
        for start in range(0, len(wanted), BATCH_GET_LIMIT):
            for record in SessionRecord.batch_get(wanted[start:start + BATCH_GET_LIMIT], consistent_read=True):
                found[(record.PK, record.SK)] = record
    except Exception:
        cache.revalidation_failed()
        raise
    now = cache.wall()
    outcomes = []
    for key, entry in due:
        record = found.get((entry.record.PK, entry.record.SK))
        parent = found.get((entry.parent.PK, entry.parent.SK)) if entry.parent is not None else None
        if (record is None or not record.is_live(now) or record.session_data != entry.record.session_data
                or (record.is_child and (parent is None or not parent.is_live(now)))):
            outcomes.append((key, entry, None))
            continue
        live_until = float(record.expires_at if parent is None else min(record.expires_at, parent.expires_at))
        outcomes.append((key, entry, Revalidated(record, live_until, parent)))
    cache.revalidated(outcomes, started=started)
    return len(due)


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
                if is_conditional_check_failed(exc):
                    continue  # refreshed, or already deleted (e.g. as a dead parent's child)
                raise
            finally:
                session_cache.forget_partition(record.PK)
            outcome.deleted += 1
            if not record.is_child:
                for child in SessionRecord.query(record.PK, SessionRecord.SK.startswith(keys.CHILD_PREFIX),
                                                 consistent_read=True, attributes_to_get=["PK", "SK"]):
                    delete_record(child.PK, child.SK)
                    outcome.deleted += 1
        if progress is not None:
            progress(outcome)
    return outcome
