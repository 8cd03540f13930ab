"""Where the client address and the device name come from."""

import pytest
from django.test import RequestFactory, override_settings

from accounts.request_info import client_ip, describe_user_agent, session_ref

FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
CHROME_MAC = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/126.0.0.0 Safari/537.36")
EDGE_WINDOWS = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                "Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0")
SAFARI_IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                 "Version/17.5 Mobile/15E148 Safari/604.1")
CHROME_ANDROID = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
                  "Chrome/126.0.0.0 Mobile Safari/537.36")


@pytest.mark.parametrize("user_agent, device", [
    (FIREFOX_LINUX, "Firefox on Linux"),
    (CHROME_MAC, "Chrome on macOS"),
    (EDGE_WINDOWS, "Edge on Windows"),
    (SAFARI_IPHONE, "Safari on iPhone"),
    (CHROME_ANDROID, "Chrome on Android"),
    ("curl/8.5.0", "curl"),
    ("", "Unknown device"),
])
def test_describe_user_agent_names_browser_and_system(user_agent, device):
    assert describe_user_agent(user_agent) == device


def test_client_ip_ignores_forwarded_for_unless_proxies_are_trusted():
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.7")
    assert client_ip(request) == "10.0.0.2"
    with override_settings(ACCOUNTS_TRUSTED_PROXIES=1):
        assert client_ip(request) == "198.51.100.7"  # the left-most entry is client-controlled
    with override_settings(ACCOUNTS_TRUSTED_PROXIES=2):
        assert client_ip(request) == "6.6.6.6"


def test_client_ip_groups_ipv6_by_64_for_throttling():
    request = RequestFactory().get("/", REMOTE_ADDR="2001:db8:1:2:3:4:5:6")
    assert client_ip(request) == "2001:db8:1:2:3:4:5:6"
    assert client_ip(request, network=True) == "2001:db8:1:2::/64"
    assert client_ip(RequestFactory().get("/", REMOTE_ADDR="garbage")) == "unknown"


def test_session_ref_is_opaque_and_stable():
    key = "k" * 32
    assert session_ref(key) == session_ref(key)
    assert key not in session_ref(key) and session_ref(key) != session_ref("j" * 32)
