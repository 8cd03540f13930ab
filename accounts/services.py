"""Writes about people and their sessions: sign-up, sign-in/out, passwords, revoking, device links.

Views, management commands and tests all go through these functions. They take plain values
(the client's address as ``ip``); views parse requests with accounts.request_info.

Expiring "all of a user's sessions" lists them with getSessionsByCustomerId, which reads a global
secondary index. GSIs are eventually consistent, so a session created within the last moment
(typically well under a second) can be missed; the caller's own request is never the problem
because it is handled explicitly.
"""

from __future__ import annotations

import functools
import hashlib
import math
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timezone

from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.hashers import check_password, make_password
from django.core.exceptions import ValidationError
from django.middleware.csrf import rotate_token
from pynamodb.exceptions import DeleteError, PutError, UpdateError

from accounts import selectors, session_patterns
from accounts.auth import AnonymousUser, session_auth_hash, session_user
from accounts.models import DeviceLinkRecord, UserDirectoryEntry, UserRecord
from accounts.session_keys import StoredKey, is_child_key, key_digest
from accounts.user_cache import user_cache
from accounts.validators import canonical_username, clean_display_name, validate_new_username, validate_username
from chatsite import counters, keys, metrics
from chatsite.dynamodb import is_conditional_check_failed

SIGN_IN_FAILED = "That username and password don't match an account."


class UsernameTaken(Exception):
    pass


class UserNotFound(Exception):
    pass


class InvalidCredentials(Exception):
    pass


class Throttled(Exception):
    def __init__(self, retry_after_seconds: int, *, what: str = "failed sign-ins"):
        self.minutes = max(1, math.ceil(retry_after_seconds / 60))
        unit = "minute" if self.minutes == 1 else "minutes"
        super().__init__(f"Too many {what}. Try again in {self.minutes} {unit}.")


class DeviceLinkInvalid(Exception):
    pass


def _now() -> datetime:
    return datetime.now(timezone.utc)


# --- users --------------------------------------------------------------------------------------

def user_create(*, username: str, display_name: str, password: str, is_staff: bool = False) -> UserRecord:
    """Create a user. The conditional put on `User:<id>` is the uniqueness check.

    The directory entry is written second, whole, from the record. If that write fails the
    account still works and only list_users misses it, until the entry is put again: by a
    display-name change, or by the next attempt to create the same username (as room_create
    repairs a room's entry).
    """
    user_id = validate_new_username(username)
    display_name = clean_display_name(display_name)
    existing = selectors.user_get(user_id=user_id)
    if existing is not None:  # before Argon2: a taken name costs no hash
        _put_directory_entry(existing)  # repairs a creation that died between its two writes
        raise UsernameTaken(username)
    record = UserRecord(keys.user_pk(user_id), keys.META, username=username, display_name=display_name,
                        password=make_password(password), created_at=_now(), is_active=True,
                        is_staff=is_staff)
    try:
        record.save(condition=UserRecord.PK.does_not_exist())
    except PutError as exc:
        if is_conditional_check_failed(exc):
            existing = selectors.user_get(user_id=user_id)
            if existing is not None:  # created meanwhile, or an earlier creation left no entry
                _put_directory_entry(existing)
            raise UsernameTaken(username) from exc
        raise
    _put_directory_entry(record)
    return record


def _put_directory_entry(record: UserRecord) -> None:
    """PutItem of the whole entry from the user record: never a partial entry, and it repairs one."""
    UserDirectoryEntry(keys.USER_DIRECTORY_PK, keys.user_directory_sk(record.user_id), username=record.username,
                       display_name=record.display_name, created_at=record.created_at).save()


def _require_user(user_id: str) -> UserRecord:
    record = selectors.user_get(user_id=user_id)
    if record is None:
        raise UserNotFound(user_id)
    return record


def _set_password_hash(record: UserRecord, password: str) -> None:
    record.update(actions=[UserRecord.password.set(make_password(password))],
                  condition=UserRecord.PK.exists())
    user_cache.forget(record.user_id)


def password_hash_upgrade(*, record: UserRecord, password: str) -> bool:
    """Re-hash with the current preferred hasher after a successful check (Django's setter hook).

    Conditional on the hash it replaces, so a password changed meanwhile is never undone. Then
    returns False with ``record`` re-read. The session signing in stores the new hash's check, so
    it stays signed in; the user's other sessions end (their check was of the old hash).
    """
    try:
        record.update(actions=[UserRecord.password.set(make_password(password))],
                      condition=UserRecord.PK.exists() & (UserRecord.password == record.password))
    except UpdateError as exc:
        if not is_conditional_check_failed(exc):
            raise
        record.refresh(consistent_read=True)
        return False
    finally:
        user_cache.forget(record.user_id)
    return True


def user_set_password(*, user_id: str, password: str) -> int:
    """Set a password (operator action) and sign the user out everywhere. Returns sessions ended.

    Sessions the index does not list yet (signed in a moment ago) end at their next request: the
    password check they hold no longer matches (accounts.middleware.get_user).
    """
    _set_password_hash(_require_user(user_id), password)
    return user_expire_sessions(user_id=user_id)


def user_set_active(*, user_id: str, active: bool) -> int:
    """Activate or deactivate; either way the user's sessions end at once. Returns sessions ended.

    A deactivated user's sessions the index missed are refused at their next request (get_user)."""
    record = _require_user(user_id)
    record.update(actions=[UserRecord.is_active.set(active)], condition=UserRecord.PK.exists())
    user_cache.forget(user_id)
    return user_expire_sessions(user_id=user_id)


def user_set_staff(*, user_id: str, staff: bool) -> UserRecord:
    """Promote or demote. Sessions stay signed in; every one of them acts with the new rights
    within ACCOUNTS_USER_RECHECK_SECONDS (at once on this process)."""
    record = _require_user(user_id)
    record.update(actions=[UserRecord.is_staff.set(staff)], condition=UserRecord.PK.exists())
    user_cache.forget(user_id)
    return record


def user_expire_sessions(*, user_id: str, keep_session_key: str | None = None) -> int:
    """expireSession for every session getSessionsByCustomerId lists (their linked devices go with
    them), except ``keep_session_key``. Returns how many sessions and devices ended.

    A kept session loses its linked devices (they are other devices). A kept linked device keeps
    its parent session, since it cannot outlive it; the parent's other devices end.
    """
    keep = StoredKey.of(keep_session_key)
    kept_session = keep.digest if keep and not keep.is_child else None
    if keep and keep.is_child:
        child = session_patterns.get_session_by_child_session_id(keep.digest)
        kept_session = child.partition_digest if child else None
    ended = 0
    for record in session_patterns.get_sessions_by_user_id(user_id):
        if kept_session is not None and record.partition_digest == kept_session:
            for child in session_patterns.get_child_sessions_by_session_id(record.partition_digest):
                if child.stored_key != keep:
                    session_patterns.expire_session(child.stored_key)
                    ended += 1
        else:
            session_patterns.expire_session(record.stored_key)
            ended += 1
    return ended


def display_name_update(*, request, display_name: str) -> UserRecord:
    """Change the signed-in user's display name: the user, the directory entry, this request.

    Every other session shows it within ACCOUNTS_USER_RECHECK_SECONDS (request.user is built from
    the user item; this process drops its cached copy at once).
    """
    display_name = clean_display_name(display_name)
    user_id = request.user.id
    record = _require_user(user_id)
    record.update(actions=[UserRecord.display_name.set(display_name)], condition=UserRecord.PK.exists())
    _put_directory_entry(record)  # the record as updated: a whole entry, repaired if it was missing
    user_cache.forget(user_id)
    request.user = session_user(record)
    return record


# --- throttling ---------------------------------------------------------------------------------
# Every limited attempt is reserved before any password, code or hash work: one conditional
# UpdateItem per counter (chatsite.counters.reserve), so parallel attempts on any number of hosts
# get at most the limit checked. A failure keeps its reservation; a success gives it back, so only
# failures count (and a success costs one more UpdateItem per counter).

Subject = tuple[str, str, int]  # (counter scope, subject, limit)


def _throttle_subjects(*, username: str, ip: str, device: str | None = None) -> list[Subject]:
    """Sign-in counters: per username and per client address (IPv6 /64), or, from a browser that has
    signed in as this user before (``device``, from the known-device cookie), per (user, device)
    only. So failures elsewhere, by anyone, never lock the owner out of their own browsers."""
    user_id = canonical_username(username)[:200]
    limit = settings.ACCOUNTS_SIGN_IN_FAILURE_LIMIT
    if device:
        return [("signin-device", f"{user_id}/{device}", limit)]
    return [("signin-user", user_id, limit),
            ("signin-ip", ip, settings.ACCOUNTS_SIGN_IN_IP_FAILURE_LIMIT)]


def _check_not_throttled(subjects: list[Subject], *, what: str = "failed sign-ins",
                         window: int | None = None) -> list[counters.Reservation]:
    """Reserve one attempt on every subject, or raise Throttled having reserved none."""
    window = window or settings.ACCOUNTS_SIGN_IN_FAILURE_WINDOW
    held: list[counters.Reservation] = []
    for scope, subject, limit in subjects:
        try:
            held.append(counters.reserve(scope=scope, subject=subject, window_seconds=window, limit=limit))
        except counters.LimitReached as full:
            _give_back(held)
            metrics.account_throttled(scope)
            raise Throttled(full.retry_after, what=what) from None
    return held


def _count_failure(held: list[counters.Reservation], *, what: str = "failed sign-ins") -> None:
    """The attempt failed, so its reservations stay counted. Raise Throttled if that used up a
    limit, so the person learns it now rather than on their next try."""
    reached = [r for r in held if r.at_limit]
    if reached:
        raise Throttled(max(r.retry_after for r in reached), what=what)


def _give_back(held: list[counters.Reservation]) -> None:
    for reservation in held:
        counters.give_back(reservation)


# --- signing in and out -------------------------------------------------------------------------
# ``ip`` below is the client's address as the throttles count it: accounts.request_info.client_ip(
# request, network=True), so an IPv6 client is counted by its /64.


@functools.cache
def _dummy_hash() -> str:
    return make_password(secrets.token_urlsafe(16))


def verify_credentials(username: str, password: str) -> UserRecord | None:
    """The active user with this username and password, else None.

    An unknown or malformed username still costs one password hash, so response time does not tell
    which usernames exist. A correct password under an old hasher is re-hashed (password_hash_upgrade).
    """
    try:
        record = selectors.user_get(user_id=validate_username(username))
    except ValidationError:
        record = None
    if record is None:
        check_password(password, _dummy_hash())
        return None
    conflicts = []

    def upgrade(raw: str) -> None:
        if not password_hash_upgrade(record=record, password=raw):
            conflicts.append(raw)

    matches = check_password(password, record.password, setter=upgrade)
    if matches and conflicts:
        # The password changed while we checked: the record now holds the new hash. Only a
        # password that matches it (a concurrent re-hash of the same one) may sign in.
        matches = check_password(password, record.password)
    return record if matches and record.is_active else None


def sign_in(*, request, ip: str, username: str, password: str, device: str | None = None) -> UserRecord:
    """Reserve an attempt under the failure limits, check the credentials, then sign in.

    ``device`` is the known-device id the browser's signed cookie holds for this username
    (accounts.known_devices). Raises Throttled (no password checked), or InvalidCredentials for
    a wrong username, wrong password or inactive account alike.
    """
    held = _check_not_throttled(_throttle_subjects(username=username, ip=ip, device=device))
    record = verify_credentials(username, password)
    if record is None:
        _count_failure(held)
        raise InvalidCredentials(SIGN_IN_FAILED)
    _give_back(held)
    _sign_in_session(request, record)
    return record


def sign_up(*, request, ip: str, username: str, display_name: str, password: str) -> UserRecord:
    """Create an account and sign in, at most ACCOUNTS_SIGN_UP_LIMIT attempts per client address
    (IPv6 /64) per ACCOUNTS_SIGN_UP_WINDOW. Every attempt counts, a taken name too: that also bounds
    how fast anyone can probe which names exist. Raises Throttled, UsernameTaken, ValidationError."""
    _check_not_throttled([("signup-ip", ip, settings.ACCOUNTS_SIGN_UP_LIMIT)],
                         what="sign-ups from your network", window=settings.ACCOUNTS_SIGN_UP_WINDOW)
    record = user_create(username=username, display_name=display_name, password=password)
    _sign_in_session(request, record)
    return record


def _store_user_in_session(request, record: UserRecord) -> None:
    """The user id and the password check (accounts.middleware.get_user compares it on every request);
    all else request.user shows is read from the user item."""
    session = request.session
    session[SESSION_KEY] = record.user_id
    session[HASH_SESSION_KEY] = session_auth_hash(record)
    request.user = session_user(record)


def _sign_in_session(request, record: UserRecord, *, parent_digest: str | None = None) -> None:
    """Put ``record`` in the session under a fresh key (no session fixation) and a fresh CSRF token.

    With ``parent_digest`` the session becomes a child (a linked device) of the session stored
    under it; link_as_child rotates the key itself.
    """
    session = request.session
    if session.get(SESSION_KEY) not in (None, record.user_id):
        session.flush()  # someone else was signed in here: don't carry their data over
    if parent_digest is not None:
        session.link_as_child(parent_digest)
    elif session.session_key is not None:
        session.cycle_key()
    _store_user_in_session(request, record)
    session.mark_login()
    rotate_token(request)


def sign_out(*, request) -> None:
    request.session.flush()
    request.user = AnonymousUser()


def password_change(*, request, old_password: str, new_password: str) -> int:
    """Change the signed-in user's password; every other session ends. Returns sessions ended.

    A wrong old password counts against the same per-username limit as a failed sign-in.
    """
    user_id = request.user.id
    held = _check_not_throttled([("signin-user", user_id, settings.ACCOUNTS_SIGN_IN_FAILURE_LIMIT)])
    record = _require_user(user_id)
    if not check_password(old_password, record.password):
        _count_failure(held)
        raise InvalidCredentials("Your current password was entered incorrectly.")
    _give_back(held)
    _set_password_hash(record, new_password)
    record.refresh(consistent_read=True)
    # A new key first: the old key ends with its linked devices, and on a linked device the new
    # session stands alone (it has just proved the password), so ending its old parent is safe.
    request.session.cycle_key()
    _store_user_in_session(request, record)
    return user_expire_sessions(user_id=user_id, keep_session_key=request.session.session_key)


def sign_out_everywhere_else(*, request) -> int:
    """End every session of the user but this one.

    On a linked device the session it was linked from stays (and so does the device): ending it
    would have to make the device a session of its own, a full-length sign-in no password was
    given for. To end that session too, change the password on the device (which proves it).
    """
    return user_expire_sessions(user_id=request.user.id, keep_session_key=request.session.session_key)


def session_revoke(*, request, ref: str) -> bool:
    """End one of the signed-in user's sessions or linked devices, named by its opaque ref.

    Ownership is checked with getSessionIdByCustomerId before expireSession, so a ref that
    resolves to someone else's session (it cannot, but refs are user input) changes nothing.
    Revoking the current session signs out. Returns False if there was nothing to revoke.
    """
    user_id = request.user.id
    key = selectors.stored_key_for_ref(user_id=user_id, ref=ref, current_session_key=request.session.session_key)
    if key is None or not session_patterns.session_belongs_to_user(user_id, key):
        return False
    if key == StoredKey.of(request.session.session_key):
        sign_out(request=request)
    else:
        session_patterns.expire_session(key)
    return True


# --- linking a device ---------------------------------------------------------------------------

_CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
_CODE_LENGTH = 8
_CODE_TYPOS = str.maketrans({"O": "0", "I": "1", "L": "1"})


@dataclass(frozen=True)
class DeviceLinkCode:
    code: str  # shown once, e.g. "7KQ2-M9XD"; only its digest is stored
    expires_at: datetime


def normalise_code(code: str) -> str:
    return "".join(code.upper().split()).replace("-", "").translate(_CODE_TYPOS)


def _code_digest(code: str) -> str:
    return hashlib.sha256(normalise_code(code).encode()).hexdigest()


def device_link_create(*, request) -> DeviceLinkCode:
    """A one-time code that signs another browser in as a child of this session.

    Raises DeviceLinkInvalid on a linked device: links hang off a session signed in with a password.
    """
    if is_child_key(request.session.session_key or ""):
        raise DeviceLinkInvalid("This device was itself linked. Link new devices from a device where you "
                                "signed in with your password.")
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(_CODE_LENGTH))
    expires = int(time.time()) + settings.ACCOUNTS_DEVICE_LINK_SECONDS
    DeviceLinkRecord(keys.device_link_pk(_code_digest(raw)), keys.META, user_id=request.user.id,
                     parent_session_digest=key_digest(request.session.session_key),
                     expires_at=expires,
                     ).save(condition=DeviceLinkRecord.PK.does_not_exist())
    return DeviceLinkCode(code=f"{raw[:4]}-{raw[4:]}",
                          expires_at=datetime.fromtimestamp(expires, tz=timezone.utc))


def _consume_code(code: str) -> DeviceLinkRecord | None:
    """Delete the code's item if it exists and has not expired: one conditional DeleteItem, so two
    browsers racing with the same code cannot both win."""
    condition = DeviceLinkRecord.PK.exists() & (DeviceLinkRecord.expires_at > int(time.time()))
    try:
        response = DeviceLinkRecord._get_connection().delete_item(
            keys.device_link_pk(_code_digest(code)), keys.META, condition=condition, return_values="ALL_OLD")
    except DeleteError as exc:
        if is_conditional_check_failed(exc):
            return None
        raise
    return DeviceLinkRecord.from_raw_data(response["Attributes"])


def device_link_redeem(*, request, ip: str, code: str) -> UserRecord:
    """Sign this browser in as a linked device. Raises DeviceLinkInvalid or Throttled."""
    held = _check_not_throttled([("device-link-ip", ip, settings.ACCOUNTS_DEVICE_LINK_FAILURE_LIMIT)],
                                what="wrong codes")
    link = _consume_code(code) if normalise_code(code) else None
    record = selectors.user_get(user_id=link.user_id) if link else None
    if (link is None or record is None or not record.is_active
            or not session_patterns.session_belongs_to_user(link.user_id,
                                                            StoredKey(link.parent_session_digest or ""))):
        _count_failure(held, what="wrong codes")
        raise DeviceLinkInvalid("That code is wrong, used or expired. Create a new one on your signed-in device.")
    _give_back(held)
    _sign_in_session(request, record, parent_digest=link.parent_session_digest)
    return record
