"""The user objects `request.user` holds, and sending people to the sign-in page.

A leaf: the services, the middleware and both apps' views build on it; it builds on nothing of theirs.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.http import HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import resolve_url
from django.utils.crypto import salted_hmac
from django_htmx.http import HttpResponseClientRedirect

from accounts.models import UserRecord

# A session holds two things about its user: Django's SESSION_KEY (the user id) and HASH_SESSION_KEY
# (session_auth_hash of the password hash at sign-in). Everything else request.user shows comes
# from the user item (accounts.middleware.get_user), so a password change, deactivation, demotion
# or new display name reaches every session within ACCOUNTS_USER_RECHECK_SECONDS.


@dataclass
class SessionUser:
    """The signed-in user, built from the user item. Behaves like Django's user for templates and
    permission checks."""

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


def session_user(record: UserRecord) -> SessionUser:
    return SessionUser(id=record.user_id, username=record.username, display_name=record.display_name,
                       is_staff=record.is_staff)


def session_auth_hash(record: UserRecord) -> str:
    """Kept under HASH_SESSION_KEY at sign-in, and compared on every request (get_user): it changes
    whenever the password hash does, so a password change ends every session made before it."""
    return salted_hmac("accounts.auth.session_auth_hash", record.password, algorithm="sha256").hexdigest()


def redirect_to_sign_in(request, next_url: str | None = None) -> HttpResponse:
    """To the sign-in page, coming back to ``next_url`` (default: this request's page) afterwards.

    An HTMX request is redirected as a whole page (HX-Redirect), not swapped into a fragment.
    Written out here because django.contrib.auth.views.redirect_to_login imports the ORM models.
    """
    sign_in_url = resolve_url(settings.LOGIN_URL)
    if next_url is None:
        next_url = request.build_absolute_uri()
        sign_in_scheme, sign_in_netloc = urlsplit(sign_in_url)[:2]
        scheme, netloc = urlsplit(next_url)[:2]
        if (not sign_in_scheme or sign_in_scheme == scheme) and (not sign_in_netloc or sign_in_netloc == netloc):
            next_url = request.get_full_path()
    parts = list(urlsplit(sign_in_url))
    query = QueryDict(parts[3], mutable=True)
    query[REDIRECT_FIELD_NAME] = next_url
    parts[3] = query.urlencode(safe="/")
    url = urlunsplit(parts)
    return HttpResponseClientRedirect(url) if request.htmx else HttpResponseRedirect(url)


def sign_in_required(view):
    """Django's login_required, for this project: use this one.

    django.contrib.auth.decorators.login_required lets signed-in users through fine, but sending
    anyone else to the sign-in page imports contrib.auth's views, hence its ORM models, and fails.
    """

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.user.is_authenticated:
            return view(request, *args, **kwargs)
        return redirect_to_sign_in(request)

    return wrapper
