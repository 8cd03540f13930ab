"""request.user without the ORM: built lazily from the session's user id and the user item.

accounts.auth.get_user reads the user item through a per-process cache (ACCOUNTS_USER_RECHECK_SECONDS),
so a warm request costs no user read, and a password change, deactivation or demotion reaches every
session within that interval, even one the index missed when its sessions were ended.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.utils.functional import SimpleLazyObject

from accounts.auth import get_user

USER_AGENT_MAX_LENGTH = 256
# Set (signed, short-lived) by the device-link page on the browser it has just signed in, so the
# session engine may wait briefly for the index to catch up on that browser's first requests.
JUST_LINKED_COOKIE = "device_just_linked"
JUST_LINKED_SECONDS = 30


def client_ip(request, *, network: bool = False) -> str:
    """The client's address: REMOTE_ADDR, or with ACCOUNTS_TRUSTED_PROXIES > 0 the address that
    many hops from the right of X-Forwarded-For (entries further left are client-controlled).

    With ``network`` an IPv6 address becomes its /64, which one client typically owns whole: the
    unit sign-in throttling counts per.
    """
    address = request.META.get("REMOTE_ADDR", "")
    proxies = settings.ACCOUNTS_TRUSTED_PROXIES
    if proxies:
        header = request.META.get("HTTP_X_FORWARDED_FOR", "")
        forwarded = [part.strip() for part in header.split(",") if part.strip()]
        if len(forwarded) >= proxies:
            address = forwarded[-proxies]
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return "unknown"
    if network and parsed.version == 6:
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


class AuthenticationMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = request.session
        # The engine keeps this for the "where you're signed in" page; it writes only on change.
        if hasattr(session, "set_client_info"):
            session.set_client_info(user_agent=request.META.get("HTTP_USER_AGENT", "")[:USER_AGENT_MAX_LENGTH],
                                    ip=client_ip(request))
            if request.get_signed_cookie(JUST_LINKED_COOKIE, default=None, salt=JUST_LINKED_COOKIE,
                                         max_age=JUST_LINKED_SECONDS):
                session.expect_new_link()
        request.user = SimpleLazyObject(lambda: get_user(request))
        return self.get_response(request)
