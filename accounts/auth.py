"""Authentication without the ORM: the user objects `request.user` holds, and the backend."""

from __future__ import annotations

import functools
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.contrib.auth import REDIRECT_FIELD_NAME, SESSION_KEY
from django.contrib.auth.hashers import check_password, make_password
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect, QueryDict
from django.shortcuts import resolve_url
from django.utils.crypto import salted_hmac

from accounts.models import UserRecord

# Besides Django's SESSION_KEY (the user id), the session caches what pages show about the user,
# so building request.user costs no DynamoDB read.
USER_INFO_SESSION_KEY = "_auth_user_info"


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


def get_user(request) -> SessionUser | AnonymousUser:
    session = request.session
    user_id = session.get(SESSION_KEY)
    info = session.get(USER_INFO_SESSION_KEY)
    if not user_id or not isinstance(info, dict):
        return AnonymousUser()
    return SessionUser(
        id=str(user_id),
        username=str(info.get("username", user_id)),
        display_name=str(info.get("display_name", user_id)),
        is_staff=bool(info.get("is_staff", False)),
    )


def session_user(record: UserRecord) -> SessionUser:
    return SessionUser(id=record.user_id, username=record.username, display_name=record.display_name,
                       is_staff=record.is_staff)


def session_auth_hash(record: UserRecord) -> str:
    """What Django keeps under HASH_SESSION_KEY: changes whenever the password hash changes."""
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
    matches = check_password(password, record.password,
                             setter=lambda raw: services.password_hash_upgrade(record=record, password=raw))
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
