"""Password hashing in tests: a fast hasher by default, the production list where it matters.

Argon2 is slow on purpose, and nearly every accounts test hashes a password or two, so in-process
tests hash with Django's MD5 hasher (never used outside tests). The production hashers stay in the
list, so their hashes still verify. Tests marked ``argon2`` (they check the stored hash or the
upgrade to Argon2) and ``integration`` tests (they share users with gunicorn processes, which run
the real settings) keep settings.PASSWORD_HASHERS as it is.
"""

from __future__ import annotations

import contextlib
import sys

from django.conf import settings
from django.test import override_settings

FAST_HASHER = "django.contrib.auth.hashers.MD5PasswordHasher"


def fast_password_hashers() -> list[str]:
    return [FAST_HASHER, *(h for h in settings.PASSWORD_HASHERS if h != FAST_HASHER)]


_accounts_modules: list[str] = []  # the accounts app's module names, as of _modules_seen modules
_modules_seen = -1


def forget_cached_hashes() -> None:
    """Drop the cached hash that unknown usernames are checked against (made with whatever hasher
    was first when it was cached), wherever the accounts app keeps it. The names of the app's
    modules are listed again only when a module was imported or dropped: walking all of
    sys.modules twice a test was ~2% of the unit tier's CPU."""
    global _modules_seen
    if len(sys.modules) != _modules_seen:
        _accounts_modules[:] = [name for name in list(sys.modules)
                                if name == "accounts" or name.startswith("accounts.")]
        _modules_seen = len(sys.modules)
    for name in _accounts_modules:
        cache_clear = getattr(getattr(sys.modules.get(name), "_dummy_hash", None), "cache_clear", None)
        if cache_clear is not None:
            cache_clear()


@contextlib.contextmanager
def fast_password_hashing():
    forget_cached_hashes()
    try:
        with override_settings(PASSWORD_HASHERS=fast_password_hashers()):
            yield
    finally:
        forget_cached_hashes()
