"""The "known device" cookie: which usernames have signed in successfully from this browser.

Failed sign-ins from a browser that holds a valid entry for the username count against a counter
of their own, per (user, device), instead of the per-username and per-address ones
(accounts.services._throttle_subjects). So an attacker guessing a named user's password, or a
neighbour behind the same NAT, can lock out that user only on browsers that never signed in as
them; the owner's own browsers still take the right password. A stolen cookie gains nothing but
its own small budget of guesses: the password is still checked.

One cookie, signed with the secret key (django.core.signing), HttpOnly, SameSite=Lax, Secure like
the session cookie. It maps a keyed hash of each user id (so the cookie does not list who used the
browser) to a random device id and the time of that user's last successful sign-in here; entries
older than ACCOUNTS_KNOWN_DEVICE_SECONDS are ignored. No DynamoDB item: the signature is the proof.
"""

from __future__ import annotations

import secrets
import time

from django.conf import settings
from django.core import signing
from django.utils.crypto import salted_hmac

from accounts.validators import canonical_username

COOKIE_NAME = "known_device"
_SALT = "accounts.known_devices"
MAX_USERS = 5  # a shared browser remembers this many users, the most recent ones


def _slot(user_id: str) -> str:
    return salted_hmac(_SALT, user_id, algorithm="sha256").hexdigest()[:20]


def _entries(request) -> dict[str, list]:
    raw = request.COOKIES.get(COOKIE_NAME)
    if not raw:
        return {}
    try:
        data = signing.loads(raw, salt=_SALT, max_age=settings.ACCOUNTS_KNOWN_DEVICE_SECONDS)
    except signing.BadSignature:
        return {}
    oldest = time.time() - settings.ACCOUNTS_KNOWN_DEVICE_SECONDS
    if not isinstance(data, dict):
        return {}
    return {slot: entry for slot, entry in data.items()
            if isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], str)
            and isinstance(entry[1], int) and entry[1] >= oldest}


def device_for(request, username: str) -> str | None:
    """This browser's device id for ``username``, if it signed in as that user before."""
    entry = _entries(request).get(_slot(canonical_username(username)))
    return entry[0] if entry else None


def remember(response, request, user_id: str) -> None:
    """After a successful sign-in: (re)issue the cookie with this user's entry, newest first."""
    entries = _entries(request)
    slot = _slot(user_id)
    device = entries.pop(slot, [secrets.token_urlsafe(12)])[0]
    kept = sorted(entries.items(), key=lambda item: item[1][1], reverse=True)[:MAX_USERS - 1]
    value = signing.dumps({slot: [device, int(time.time())], **dict(kept)}, salt=_SALT, compress=True)
    response.set_cookie(COOKIE_NAME, value, max_age=settings.ACCOUNTS_KNOWN_DEVICE_SECONDS, httponly=True,
                        secure=settings.SESSION_COOKIE_SECURE, samesite="Lax")
