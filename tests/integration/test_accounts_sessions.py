""""Where you're signed in", revoking, signing out elsewhere and linking devices, on dynalite."""

from __future__ import annotations

import html
import re

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client

from accounts import services
from accounts import session_keys, session_patterns
from tests.support.users import create_user

pytestmark = pytest.mark.integration

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.5 Mobile/15E148 Safari/604.1")
CHROME_MAC = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/126.0.0.0 Safari/537.36")


def browser(user_agent=FIREFOX, ip="203.0.113.10", **kwargs) -> Client:
    return Client(HTTP_USER_AGENT=user_agent, REMOTE_ADDR=ip, **kwargs)


def signed_in(username="alice", **kwargs) -> Client:
    from tests.support.users import PASSWORD

    client = browser(**kwargs)
    client.get("/accounts/login/")
    token = client.cookies["csrftoken"].value if "csrftoken" in client.cookies else ""
    response = client.post("/accounts/login/", {"username": username, "password": PASSWORD,
                                                "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    return client


def text(response) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode())))


def refs(response) -> list[str]:
    return re.findall(r'name="session" value="([0-9a-f]+)"', response.content.decode())


def is_signed_in(client) -> bool:
    return client.get("/accounts/profile/").status_code == 200


def link_code(parent: Client) -> str:
    response = parent.post("/accounts/link/")
    assert response.status_code == 200
    return re.search(r'class="link-code"[^>]*>([0-9A-Z]{4}-[0-9A-Z]{4})<', response.content.decode()).group(1)


def redeem(client: Client, code: str):
    client.get(f"/accounts/link/redeem/?code={code}")
    return client.post("/accounts/link/redeem/", {"code": code})


# --- the page -----------------------------------------------------------------------------------

def test_sessions_page_lists_devices_with_this_device_marked(dynalite_tables):
    create_user("alice")
    phone = signed_in(user_agent=IPHONE, ip="198.51.100.7")
    laptop = signed_in(user_agent=FIREFOX, ip="203.0.113.10")
    page = laptop.get("/accounts/sessions/")
    body = text(page)
    assert "Firefox on Linux" in body and "Safari on iPhone" in body
    assert "198.51.100.7" in body and "203.0.113.10" in body
    assert body.count("This device") == 1
    assert body.index("Firefox on Linux") < body.index("This device") < body.index("Safari on iPhone")
    assert "Signed in" in body and "Last seen" in body
    content = page.content.decode()
    assert laptop.session.session_key not in content and phone.session.session_key not in content
    assert len(refs(page)) == 2
    assert "style=" not in content and "<script>" not in content


def test_sessions_page_requires_sign_in(dynalite_tables, client):
    response = client.get("/accounts/sessions/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/?next=")


def test_revoking_another_device_signs_it_out(dynalite_tables):
    create_user("alice")
    phone = signed_in(user_agent=IPHONE)
    laptop = signed_in()
    page = laptop.get("/accounts/sessions/")
    phone_ref = next(r for r in refs(page) if r != _current_ref(page))
    response = laptop.post("/accounts/sessions/revoke/", {"session": phone_ref})
    assert response.status_code == 302
    assert not is_signed_in(phone) and is_signed_in(laptop)
    assert "Safari on iPhone" not in text(laptop.get("/accounts/sessions/"))


def _current_ref(page) -> str:
    content = page.content.decode()
    current = content[content.index("session-current"):]
    return re.search(r'name="session" value="([0-9a-f]+)"', current).group(1)


def test_revoking_this_device_signs_out(dynalite_tables):
    create_user("alice")
    laptop = signed_in()
    page = laptop.get("/accounts/sessions/")
    response = laptop.post("/accounts/sessions/revoke/", {"session": _current_ref(page)})
    assert response.status_code == 302 and response["Location"] == "/"
    assert not is_signed_in(laptop)


def test_nobody_can_revoke_another_users_session(dynalite_tables):
    create_user("alice")
    create_user("mallory")
    alice = signed_in("alice")
    mallory = signed_in("mallory")
    alice_ref = refs(alice.get("/accounts/sessions/"))[0]
    alice_key = alice.session.session_key
    response = mallory.post("/accounts/sessions/revoke/", {"session": alice_ref})
    assert response.status_code == 302
    assert is_signed_in(alice)
    # Even a raw session key posted as the ref is just an unknown ref.
    mallory.post("/accounts/sessions/revoke/", {"session": alice_key})
    assert is_signed_in(alice)


def test_revoke_checks_ownership_before_expiring(dynalite_tables, monkeypatch):
    create_user("alice")
    phone = signed_in(user_agent=IPHONE)
    laptop = signed_in()
    page = laptop.get("/accounts/sessions/")
    phone_ref = next(r for r in refs(page) if r != _current_ref(page))
    monkeypatch.setattr(session_patterns, "session_belongs_to_user", lambda user_id, key: False)
    laptop.post("/accounts/sessions/revoke/", {"session": phone_ref})
    monkeypatch.undo()
    assert is_signed_in(phone)


def test_revoke_without_csrf_is_403(dynalite_tables):
    create_user("alice")
    phone = signed_in(user_agent=IPHONE)
    laptop = signed_in(enforce_csrf_checks=True)
    phone_ref = next(r for r in refs(laptop.get("/accounts/sessions/")) if r)
    assert laptop.post("/accounts/sessions/revoke/", {"session": phone_ref}).status_code == 403
    assert laptop.post("/accounts/sessions/sign-out-others/").status_code == 403
    assert is_signed_in(phone)


def test_sign_out_everywhere_else_keeps_only_this_device(dynalite_tables):
    create_user("alice")
    others = [signed_in(user_agent=IPHONE), signed_in(user_agent=CHROME_MAC)]
    laptop = signed_in()
    response = laptop.post("/accounts/sessions/sign-out-others/", follow=True)
    assert response.redirect_chain == [("/accounts/sessions/", 302)]
    assert "Signed out 2 other sessions." in text(response)
    assert is_signed_in(laptop)
    assert not any(is_signed_in(other) for other in others)


def test_deactivating_a_user_stops_their_sessions_at_once(dynalite_tables):
    create_user("alice")
    laptop = signed_in()
    services.user_set_active(user_id="alice", active=False)
    assert not is_signed_in(laptop)
    assert signed_in_fails(browser())


def signed_in_fails(client) -> bool:
    from tests.support.users import PASSWORD

    return client.post("/accounts/login/", {"username": "alice", "password": PASSWORD}).status_code == 200


# --- linking a device ---------------------------------------------------------------------------

def test_link_a_device_with_the_code_signs_it_in_as_a_child(dynalite_tables):
    create_user("alice", display_name="Alice A.")
    laptop = signed_in()
    code = link_code(laptop)
    page = laptop.post("/accounts/link/")
    assert "/accounts/link/redeem/?code=" in page.content.decode()

    phone = browser(user_agent=IPHONE, ip="198.51.100.7")
    response = redeem(phone, code)
    assert response.status_code == 302
    just_linked = response.cookies["device_just_linked"]
    assert just_linked["httponly"] and int(just_linked["max-age"]) <= 60  # lets the engine wait for the index
    assert phone.session[SESSION_KEY] == "alice"
    assert "Alice A." in text(phone.get("/"))
    children = session_patterns.get_child_sessions_by_session_id(session_keys.key_digest(laptop.session.session_key))
    assert [c.child_digest for c in children] == [session_keys.key_digest(phone.session.session_key)]

    body = text(laptop.get("/accounts/sessions/"))
    assert "Linked devices" in body and "Safari on iPhone" in body


def test_a_link_code_works_once(dynalite_tables):
    create_user("alice")
    laptop = signed_in()
    code = link_code(laptop)
    assert redeem(browser(user_agent=IPHONE), code).status_code == 302
    second = redeem(browser(user_agent=CHROME_MAC), code)
    assert second.status_code == 200
    assert "That code is wrong, used or expired" in text(second)


def test_opening_the_link_does_not_spend_the_code(dynalite_tables):
    create_user("alice")
    laptop = signed_in()
    code = link_code(laptop)
    phone = browser(user_agent=IPHONE)
    page = phone.get(f"/accounts/link/redeem/?code={code}")
    assert f'value="{code}"' in page.content.decode() and '<label for="id_code">' in page.content.decode()
    assert phone.post("/accounts/link/redeem/", {"code": code.lower()}).status_code == 302


def test_signing_out_the_parent_signs_out_its_linked_devices(dynalite_tables):
    create_user("alice")
    laptop = signed_in()
    phone = browser(user_agent=IPHONE)
    redeem(phone, link_code(laptop))
    assert is_signed_in(phone)
    laptop.post("/accounts/logout/")
    assert not is_signed_in(phone)


def test_revoking_a_linked_device_leaves_its_parent(dynalite_tables):
    create_user("alice")
    laptop = signed_in()
    phone = browser(user_agent=IPHONE)
    redeem(phone, link_code(laptop))
    page = laptop.get("/accounts/sessions/")
    content = page.content.decode()
    linked = content[content.index("linked-devices"):]
    child_ref = re.search(r'name="session" value="([0-9a-f]+)"', linked).group(1)
    laptop.post("/accounts/sessions/revoke/", {"session": child_ref})
    assert not is_signed_in(phone) and is_signed_in(laptop)


def test_sign_out_everywhere_else_from_a_linked_device_keeps_it_linked_and_its_parent(dynalite_tables):
    """Without the password a linked device can't become a session of its own (a full-length
    sign-in): "everywhere else" spares the session it hangs off, and it stays a linked device."""
    create_user("alice")
    laptop = signed_in()
    desktop = signed_in(user_agent=CHROME_MAC)
    phone, tablet = browser(user_agent=IPHONE), browser(user_agent=CHROME_MAC)
    redeem(phone, link_code(laptop))
    redeem(tablet, link_code(laptop))
    page = phone.get("/accounts/sessions/")
    assert "keeps the session it was linked from" in text(page)
    assert "keeps the session it was linked from" not in text(laptop.get("/accounts/sessions/"))
    phone_key = phone.session.session_key
    response = phone.post("/accounts/sessions/sign-out-others/", follow=True)
    assert "Signed out 2 other sessions." in text(response)  # the desktop and the tablet
    assert phone.session.session_key == phone_key and session_keys.is_child_key(phone_key)
    assert is_signed_in(phone) and is_signed_in(laptop)
    assert not is_signed_in(desktop) and not is_signed_in(tablet)
    laptop.post("/accounts/logout/")
    assert not is_signed_in(phone)  # still lasts only as long as its parent


def test_a_password_change_on_a_linked_device_makes_it_a_session_of_its_own(dynalite_tables):
    from tests.support.users import PASSWORD

    create_user("alice")
    laptop = signed_in()
    phone = browser(user_agent=IPHONE)
    redeem(phone, link_code(laptop))
    new = "another-long-passphrase-8"
    response = phone.post("/accounts/password/", {"old_password": PASSWORD, "new_password1": new,
                                                  "new_password2": new})
    assert response.status_code == 302
    assert not session_keys.is_child_key(phone.session.session_key)  # it proved the password
    assert is_signed_in(phone) and not is_signed_in(laptop)


def test_a_linked_device_cannot_make_link_codes(dynalite_tables):
    create_user("alice")
    laptop = signed_in()
    phone = browser(user_agent=IPHONE)
    redeem(phone, link_code(laptop))
    response = phone.post("/accounts/link/")
    assert "Link new devices from a device where you signed in with your password" in text(response)


def test_wrong_codes_are_refused_and_then_throttled(dynalite_tables):
    create_user("alice")
    phone = browser(user_agent=IPHONE, ip="192.0.2.77")
    for _ in range(9):
        response = phone.post("/accounts/link/redeem/", {"code": "ZZZZ-ZZZZ"})
        assert "That code is wrong, used or expired" in text(response)
    response = phone.post("/accounts/link/redeem/", {"code": "ZZZZ-ZZZZ"})
    assert response.status_code == 429 and "Too many wrong codes. Try again in" in text(response)


def test_a_code_from_a_signed_out_session_is_refused(dynalite_tables):
    create_user("alice")
    laptop = signed_in()
    code = link_code(laptop)
    laptop.post("/accounts/logout/")
    response = redeem(browser(user_agent=IPHONE), code)
    assert response.status_code == 200 and "wrong, used or expired" in text(response)


def test_link_pages_reject_overlong_codes_and_missing_csrf(dynalite_tables):
    create_user("alice")
    response = browser().post("/accounts/link/redeem/", {"code": "A" * 21})
    assert "at most 20 characters" in text(response)
    assert browser(enforce_csrf_checks=True).post("/accounts/link/redeem/", {"code": "ABCD-EFGH"}).status_code == 403
    laptop = signed_in(enforce_csrf_checks=True)
    assert laptop.post("/accounts/link/").status_code == 403


def test_signed_in_browser_is_not_relinked(dynalite_tables):
    create_user("alice")
    create_user("bob")
    laptop = signed_in("alice")
    bob = signed_in("bob")
    page = bob.get(f"/accounts/link/redeem/?code={link_code(laptop)}")
    assert "already signed in" in text(page)
