"""Authentication without the ORM: the user objects `request.user` holds, and the backend."""

from __future__ import annotations

import functools
import secrets
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, REDIRECT_FIELD_NAME, SESSION_KEY
from django.contrib.auth.hashers import check_password, make_password
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect, QueryDict
from django.shortcuts import resolve_url
from django.utils.crypto import constant_time_compare, salted_hmac

from accounts.models import UserRecord
from chatsite import caches

# A session holds two things about its user: Django's SESSION_KEY (the user id) and HASH_SESSION_KEY
# (session_auth_hash of the password hash at sign-in). Everything else request.user shows comes
# from the user item, so a password change, deactivation, demotion or new display name reaches
# every session within ACCOUNTS_USER_RECHECK_SECONDS (at once on the process that made it).


@dataclass
class SessionUser:
    """The signed-in user as the session knows them. Behaves like Django's user for templates,
    `login_required` and friends. (Not frozen: django.contrib.auth.authenticate() sets `.backend`.)"""

    id: str
    username: str
    display_name: str
    is_staff: bool = False

    is_active = True
    is_anonymous = False
    is_authenticated = True
    is_superuser = False

    @property
    def pk(self) -> str:
        return self.id

    def get_username(self) -> str:
        return self.username

    def __str__(self) -> str:
        return self.display_name or self.username

    def has_perm(self, perm, obj=None) -> bool:
        return self.is_staff

    def has_perms(self, perms, obj=None) -> bool:
        return self.is_staff

    def has_module_perms(self, app_label) -> bool:
        return self.is_staff


class AnonymousUser:
    id = None
    pk = None
    username = ""
    display_name = ""
    is_staff = False
    is_active = False
    is_superuser = False
    is_anonymous = True
    is_authenticated = False

    def __str__(self) -> str:
        return "AnonymousUser"

    def __eq__(self, other) -> bool:
        return isinstance(other, AnonymousUser)

    def __hash__(self) -> int:
        return 1

    def get_username(self) -> str:
        return self.username

    def has_perm(self, perm, obj=None) -> bool:
        return False

    def has_perms(self, perms, obj=None) -> bool:
        return False

    def has_module_perms(self, app_label) -> bool:
        return False


@dataclass(frozen=True)
class UserSnapshot:
    """What request.user needs from the user item (the password only as its session_auth_hash)."""

    user_id: str
    username: str
    display_name: str
    is_active: bool
    is_staff: bool
    auth_hash: str

    @classmethod
    def of(cls, record: UserRecord) -> UserSnapshot:
        return cls(user_id=record.user_id, username=record.username, display_name=record.display_name,
                   is_active=bool(record.is_active), is_staff=bool(record.is_staff),
                   auth_hash=session_auth_hash(record))

    def admits(self, session_hash) -> bool:
        return self.is_active and isinstance(session_hash, str) and constant_time_compare(session_hash, self.auth_hash)


class UserCache:
    """User items by id, per process, each for ACCOUNTS_USER_RECHECK_SECONDS from when its read began.

    forget() (called by every service that changes a user) bumps a generation: a read that was
    under way meanwhile is not cached, since it may predate the change. So on the process that
    made a change, no request sees the old item once the change returns; elsewhere, for at most
    the recheck interval.
    """

    MAX_ENTRIES = 10_000  # a bound on memory; past it, expired entries go, then everything

    def __init__(self):
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, UserSnapshot | None]] = {}
        self._generation = 0

    def get(self, user_id: str, *, fresh: bool = False) -> tuple[UserSnapshot | None, bool]:
        """The user (None if there is no such item) and whether it was read just now."""
        now = time.monotonic()
        with self._lock:
            entry = None if fresh else self._entries.get(user_id)
            generation = self._generation
        if entry is not None and entry[0] > now:
            return entry[1], False
        from accounts import selectors

        record = selectors.user_get(user_id=user_id)
        snapshot = UserSnapshot.of(record) if record is not None else None
        with self._lock:
            if generation == self._generation:
                if len(self._entries) >= self.MAX_ENTRIES:
                    self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
                    if len(self._entries) >= self.MAX_ENTRIES:
                        self._entries.clear()
                self._entries[user_id] = (now + settings.ACCOUNTS_USER_RECHECK_SECONDS, snapshot)
        return snapshot, True

    def forget(self, user_id: str) -> None:
        with self._lock:
            self._generation += 1
            self._entries.pop(user_id, None)

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()


user_cache = UserCache()
caches.register(user_cache.clear)


def get_user(request) -> SessionUser | AnonymousUser:
    """The session's user, built from the user item. A session whose password hash no longer
    matches, whose user is inactive or gone, is flushed: the request is anonymous."""
    session = request.session
    user_id = session.get(SESSION_KEY)
    if not user_id:
        return AnonymousUser()
    session_hash = session.get(HASH_SESSION_KEY)
    snapshot, fresh = user_cache.get(str(user_id))
    if snapshot is None or not snapshot.admits(session_hash):
        if not fresh:  # the cached copy may predate a change made on another process: look again
            snapshot, _ = user_cache.get(str(user_id), fresh=True)
        if snapshot is None or not snapshot.admits(session_hash):
            session.flush()
            return AnonymousUser()
    return SessionUser(id=snapshot.user_id, username=snapshot.username, display_name=snapshot.display_name,
                       is_staff=snapshot.is_staff)


def session_user(record: UserRecord) -> SessionUser:
    return SessionUser(id=record.user_id, username=record.username, display_name=record.display_name,
                       is_staff=record.is_staff)


def session_auth_hash(record: UserRecord) -> str:
    """Kept under HASH_SESSION_KEY at sign-in, and compared on every request (get_user): it changes
    whenever the password hash does, so a password change ends every session made before it."""
    return salted_hmac("accounts.auth.session_auth_hash", record.password, algorithm="sha256").hexdigest()


@functools.cache
def _dummy_hash() -> str:
    return make_password(secrets.token_urlsafe(16))


def verify_credentials(username: str, password: str) -> UserRecord | None:
    """The active user with this username and password, else None.

    An unknown or malformed username still costs one password hash, so response time does not tell
    which usernames exist.
    """
    from accounts import selectors, services
    from accounts.validators import validate_username

    try:
        record = selectors.user_get(user_id=validate_username(username))
    except ValidationError:
        record = None
    if record is None:
        check_password(password, _dummy_hash())
        return None
    conflicts = []

    def upgrade(raw: str) -> None:
        if not services.password_hash_upgrade(record=record, password=raw):
            conflicts.append(raw)

    matches = check_password(password, record.password, setter=upgrade)
    if matches and conflicts:
        # The password changed while we checked: the record now holds the new hash. Only a
        # password that matches it (a concurrent re-hash of the same one) may sign in.
        matches = check_password(password, record.password)
    return record if matches and record.is_active else None


class DynamoDBBackend:
    """AUTHENTICATION_BACKENDS entry, for code that calls django.contrib.auth.authenticate().

    The site's own sign-in (accounts.services.sign_in) adds throttling on top of the same check.
    """

    def authenticate(self, request, username: str | None = None, password: str | None = None, **kwargs):
        if username is None or password is None:
            return None
        record = verify_credentials(username, password)
        return session_user(record) if record else None

    def get_user(self, user_id: str) -> SessionUser | None:
        from accounts import selectors

        record = selectors.user_get(user_id=user_id)
        return session_user(record) if record and record.is_active else None


def redirect_to_login(next_url: str, login_url: str | None = None,
                      redirect_field_name: str = REDIRECT_FIELD_NAME) -> HttpResponseRedirect:
    """django.contrib.auth.views.redirect_to_login, which can't be imported here: that module
    imports the contrib.auth ORM models."""
    parts = list(urlsplit(resolve_url(login_url or settings.LOGIN_URL)))
    if redirect_field_name:
        query = QueryDict(parts[3], mutable=True)
        query[redirect_field_name] = next_url
        parts[3] = query.urlencode(safe="/")
    return HttpResponseRedirect(urlunsplit(parts))


def login_required(view=None, *, redirect_field_name: str = REDIRECT_FIELD_NAME, login_url: str | None = None):
    """Django's login_required, for this project: use this one.

    django.contrib.auth.decorators.login_required lets signed-in users through fine, but sending
    anyone else to the sign-in page imports contrib.auth's views, hence its ORM models, and fails.
    """

    def decorate(view_func):
        @functools.wraps(view_func)
        def wrapper(request, *args, **kwargs):
            if request.user.is_authenticated:
                return view_func(request, *args, **kwargs)
            resolved = resolve_url(login_url or settings.LOGIN_URL)
            path = request.build_absolute_uri()
            login_scheme, login_netloc = urlsplit(resolved)[:2]
            scheme, netloc = urlsplit(path)[:2]
            if (not login_scheme or login_scheme == scheme) and (not login_netloc or login_netloc == netloc):
                path = request.get_full_path()
            return redirect_to_login(path, resolved, redirect_field_name)

        wrapper.login_url = login_url
        wrapper.redirect_field_name = redirect_field_name
        return wrapper

    return decorate(view) if view is not None else decorate
