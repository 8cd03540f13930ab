"""What a request says about its client, parsed once here so services take plain values.

The client's address (for throttles and the sessions page), its user agent and how to name it
for people, and the opaque ref that stands for a stored session in HTML.
"""

from __future__ import annotations

import ipaddress
import re

from django.conf import settings
from django.utils.crypto import salted_hmac

USER_AGENT_MAX_LENGTH = 256


def client_ip(request, *, network: bool = False) -> str:
    """The client's address: REMOTE_ADDR, or with ACCOUNTS_TRUSTED_PROXIES > 0 the address that
    many hops from the right of X-Forwarded-For (entries further left are client-controlled).

    With ``network`` an IPv6 address becomes its /64, which one client typically owns whole: the
    unit throttles count per.
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


def client_user_agent(request) -> str:
    """The User-Agent header, cut to what a session record keeps."""
    return request.META.get("HTTP_USER_AGENT", "")[:USER_AGENT_MAX_LENGTH]


def session_ref(session_digest: str) -> str:
    """An opaque, stable stand-in for a stored session or device, safe to put in HTML."""
    return salted_hmac("accounts.session_ref", session_digest, algorithm="sha256").hexdigest()[:32]


_BROWSERS = [  # order matters: Edge and Opera also say "Chrome", Chrome also says "Safari"
    ("Edge", re.compile(r"Edg(?:e|A|iOS)?/")),
    ("Opera", re.compile(r"OPR/|Opera")),
    ("Samsung Internet", re.compile(r"SamsungBrowser/")),
    ("Firefox", re.compile(r"Firefox/|FxiOS/")),
    ("Chrome", re.compile(r"Chrome/|CriOS/|Chromium/")),
    ("Safari", re.compile(r"Safari/")),
    ("curl", re.compile(r"^curl/")),
]
_SYSTEMS = [
    ("Android", re.compile(r"Android")),
    ("iPhone", re.compile(r"iPhone")),
    ("iPad", re.compile(r"iPad")),
    ("Windows", re.compile(r"Windows")),
    ("ChromeOS", re.compile(r"CrOS")),
    ("macOS", re.compile(r"Mac OS X|Macintosh")),
    ("Linux", re.compile(r"Linux")),
]


def describe_user_agent(user_agent: str) -> str:
    """"Firefox on Linux"-style names; good enough to recognise your own devices."""
    browser = next((name for name, pattern in _BROWSERS if pattern.search(user_agent)), None)
    system = next((name for name, pattern in _SYSTEMS if pattern.search(user_agent)), None)
    if browser and system:
        return f"{browser} on {system}"
    if browser or system:
        return browser or system
    return "Unknown device" if not user_agent else user_agent[:40]
