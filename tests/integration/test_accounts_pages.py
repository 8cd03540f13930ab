"""Sign-up, sign-in, sign-out, profile and password change through Django's test client, on dynalite."""

from __future__ import annotations

import html
import re

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client

from accounts.models import UserRecord
from chatsite import keys
from tests.support.users import PASSWORD, create_user

pytestmark = pytest.mark.integration

NEW_PASSWORD = "a-brand-new-passphrase-42"


def sign_up(client, username="Alice", display_name="Alice A.", password=PASSWORD, password2=None, **extra):
    return client.post("/accounts/signup/", {"username": username, "display_name": display_name,
                                             "password1": password, "password2": password2 or password, **extra})


def sign_in(client, username="alice", password=PASSWORD, **extra):
    return client.post("/accounts/login/", {"username": username, "password": password, **extra})


def field_errors(response, field):
    """The error text rendered next to ``field`` (Django's field group: label, help, errors, input)."""
    content = response.content.decode()
    match = re.search(rf'<ul class="errorlist" id="id_{field}_error">(.*?)</ul>', content, re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", match.group(1))).strip() if match else ""


def page_text(response):
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode())))


# --- sign up ------------------------------------------------------------------------------------

def test_sign_up_creates_the_user_and_signs_in(dynalite_tables, client):
    response = sign_up(client)
    assert response.status_code == 302 and response["Location"] == "/"
    assert UserRecord.get(keys.user_pk("alice"), keys.META).display_name == "Alice A."
    home = client.get("/")
    assert "Alice A." in page_text(home) and "Sign out" in page_text(home)
    assert client.session[SESSION_KEY] == "alice"


def test_sign_up_page_has_visible_labels_and_no_inline_script_or_style(dynalite_tables, client):
    html = client.get("/accounts/signup/").content.decode()
    for field, label in [("username", "Username"), ("display_name", "Display name"),
                         ("password1", "Password"), ("password2", "Password again")]:
        assert f'<label for="id_{field}">{label}' in html
    assert "style=" not in html and "<script>" not in html and "onclick" not in html
    assert 'name="csrfmiddlewaretoken"' in html


@pytest.mark.parametrize("second", ["alice", "ALICE", "Ａｌｉｃｅ"])
def test_sign_up_rejects_a_username_differing_only_in_case_or_width(dynalite_tables, client, second):
    create_user("Alice")
    response = sign_up(client, username=second)
    assert response.status_code == 200
    assert "That username is taken" in field_errors(response, "username")
    assert UserRecord.get(keys.user_pk("alice"), keys.META).username == "Alice"


def test_sign_up_rejects_a_ligature_duplicate(dynalite_tables, client):
    create_user("fish")
    response = sign_up(client, username="ﬁsh")
    assert "That username is taken" in field_errors(response, "username")


@pytest.mark.parametrize("username, message", [
    ("al#ce", "can't contain “#” or “:”"),
    ("al:ce", "can't contain “#” or “:”"),
    ("al ice", "can't contain spaces"),
    ("al\x01ce", "control characters"),
    ("a" * 31, "at most 30 characters"),
    ("a<b>", "Use only letters, digits"),
])
def test_sign_up_rejects_bad_usernames_inline(dynalite_tables, client, username, message):
    response = sign_up(client, username=username)
    assert response.status_code == 200
    assert message in field_errors(response, "username")
    assert "_auth_user_id" not in client.session


def test_sign_up_rejects_overlong_display_name_and_mismatched_or_weak_passwords(dynalite_tables, client):
    response = sign_up(client, display_name="x" * 51, password=PASSWORD, password2=PASSWORD + "x")
    assert "at most 50 characters" in field_errors(response, "display_name")
    assert "don't match" in field_errors(response, "password2")
    response = sign_up(client, password="alice123")
    assert "too short" in field_errors(response, "password1") or "too common" in field_errors(response, "password1")
    response = sign_up(client, password="x" * 1025)
    assert "at most 1024" in field_errors(response, "password1")


def test_sign_up_without_csrf_token_is_403(dynalite_tables):
    client = Client(enforce_csrf_checks=True)
    response = sign_up(client)
    assert response.status_code == 403
    with pytest.raises(UserRecord.DoesNotExist):
        UserRecord.get(keys.user_pk("alice"), keys.META)


# --- sign in / out ------------------------------------------------------------------------------

def test_sign_in_rotates_session_key_and_honours_a_safe_next(dynalite_tables, client):
    create_user("Alice")
    client.get("/accounts/login/")
    anonymous_key = client.session.session_key
    response = sign_in(client, username="ALICE", next="/accounts/profile/")
    assert response.status_code == 302 and response["Location"] == "/accounts/profile/"
    assert client.session.session_key != anonymous_key
    assert client.session[SESSION_KEY] == "alice"


@pytest.mark.parametrize("next_url", ["https://evil.example/", "//evil.example/", "javascript:alert(1)"])
def test_sign_in_ignores_an_unsafe_next(dynalite_tables, client, next_url):
    create_user("alice")
    response = sign_in(client, next=next_url)
    assert response.status_code == 302 and response["Location"] == "/"


def test_wrong_password_and_unknown_user_get_the_same_message(dynalite_tables, client):
    create_user("alice")
    wrong_password = sign_in(client, password="not-it")
    unknown_user = sign_in(client, username="nobody")
    assert wrong_password.status_code == unknown_user.status_code == 200
    message = "That username and password don't match an account."
    assert message in page_text(wrong_password) and message in page_text(unknown_user)
    assert SESSION_KEY not in client.session


def test_deactivated_user_cannot_sign_in_and_sees_the_same_message(dynalite_tables, client):
    create_user("alice")
    UserRecord(keys.user_pk("alice"), keys.META).update(actions=[UserRecord.is_active.set(False)])
    assert "don't match an account" in page_text(sign_in(client))


def test_throttled_account_gets_try_again_in_minutes(dynalite_tables, client):
    create_user("alice")
    for _ in range(4):
        sign_in(client, password="wrong")
    fifth = sign_in(client, password="wrong")
    assert fifth.status_code == 429
    assert re.search(r"Too many failed sign-ins\. Try again in \d+ minutes?\.", page_text(fifth))
    right_password = sign_in(Client(REMOTE_ADDR="198.51.100.20"), password=PASSWORD)
    assert right_password.status_code == 429


def test_sign_in_rejects_overlong_username_and_missing_csrf(dynalite_tables):
    create_user("alice")
    response = sign_in(Client(), username="a" * 31)
    assert "at most 30 characters" in field_errors(response, "username")
    assert sign_in(Client(enforce_csrf_checks=True)).status_code == 403


def test_sign_out_is_post_only_and_ends_the_session_server_side(dynalite_tables, client):
    from accounts import session_keys, session_patterns

    create_user("alice")
    sign_in(client)
    key = client.session.session_key
    assert client.get("/accounts/logout/").status_code == 405
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert session_patterns.get_session_by_session_id(session_keys.StoredKey.of(key)) is None
    assert "Sign in" in page_text(client.get("/"))


def test_sign_out_without_csrf_is_403(dynalite_tables):
    create_user("alice")
    client = Client(enforce_csrf_checks=True)
    page = client.get("/accounts/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
    assert sign_in(client, csrfmiddlewaretoken=token).status_code == 302
    assert client.post("/accounts/logout/").status_code == 403
    assert SESSION_KEY in client.session


# --- profile ------------------------------------------------------------------------------------

def test_profile_requires_sign_in(dynalite_tables, client):
    response = client.get("/accounts/profile/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/accounts/profile/"


def test_profile_shows_last_sign_in_and_recent_messages(dynalite_tables, client):
    from rooms.models import MessageRecord

    create_user("alice")
    MessageRecord(keys.user_pk("alice"), keys.message_sk("2026-01-02T03:04:05.006Z", "m1"), room_id="art",
                  created_at="2026-01-02T03:04:05.006Z", comment="hello <there>", author_name="Alice").save()
    sign_in(client)
    response = client.get("/accounts/profile/")
    text = page_text(response)
    assert "Last sign-in" in text and "Not recorded yet" not in text
    assert b"hello &lt;there&gt;" in response.content and "art" in text


def test_profile_edits_display_name_everywhere(dynalite_tables, client):
    from accounts.models import UserDirectoryEntry

    create_user("alice")
    sign_in(client)
    response = client.post("/accounts/profile/", {"display_name": "  Queen Alice  "})
    assert response.status_code == 302
    assert UserRecord.get(keys.user_pk("alice"), keys.META).display_name == "Queen Alice"
    assert UserDirectoryEntry.get(keys.USER_DIRECTORY_PK, keys.user_directory_sk("alice")).display_name == "Queen Alice"
    assert "Queen Alice" in page_text(client.get("/"))


@pytest.mark.parametrize("display_name, message", [("x" * 51, "at most 50"), ("bad\x1bname", "control"),
                                                    ("   ", "required")])
def test_profile_rejects_bad_display_names_inline(dynalite_tables, client, display_name, message):
    create_user("alice")
    sign_in(client)
    response = client.post("/accounts/profile/", {"display_name": display_name})
    assert response.status_code == 200
    assert message in field_errors(response, "display_name")


def test_profile_post_without_csrf_is_403(dynalite_tables):
    create_user("alice")
    client = Client(enforce_csrf_checks=True)
    _signed_in_with_csrf(client)
    assert client.post("/accounts/profile/", {"display_name": "X"}).status_code == 403


def _signed_in_with_csrf(client, username="alice"):
    page = client.get("/accounts/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
    assert sign_in(client, username=username, csrfmiddlewaretoken=token).status_code == 302


# --- password change ----------------------------------------------------------------------------

def test_password_change_keeps_this_session_and_ends_the_others(dynalite_tables, client):
    create_user("alice")
    other = Client(HTTP_USER_AGENT="Firefox/128.0 (X11; Linux)")
    sign_in(other)
    sign_in(client)
    response = client.post("/accounts/password/", {"old_password": PASSWORD, "new_password1": NEW_PASSWORD,
                                                   "new_password2": NEW_PASSWORD})
    assert response.status_code == 302
    assert client.get("/accounts/profile/").status_code == 200
    assert other.get("/accounts/profile/").status_code == 302  # signed out
    assert sign_in(Client(), password=PASSWORD).status_code == 200
    assert sign_in(Client(), password=NEW_PASSWORD).status_code == 302


def test_password_change_rejects_wrong_current_password_and_mismatch(dynalite_tables, client):
    create_user("alice")
    sign_in(client)
    response = client.post("/accounts/password/", {"old_password": "nope", "new_password1": NEW_PASSWORD,
                                                   "new_password2": NEW_PASSWORD})
    assert "entered incorrectly" in field_errors(response, "old_password")
    response = client.post("/accounts/password/", {"old_password": PASSWORD, "new_password1": NEW_PASSWORD,
                                                   "new_password2": "different-passphrase-7"})
    assert "don't match" in field_errors(response, "new_password2")
    response = client.post("/accounts/password/", {"old_password": PASSWORD, "new_password1": "x" * 1025,
                                                   "new_password2": "x" * 1025})
    assert "at most 1024" in field_errors(response, "new_password1")


def test_password_change_wrong_current_password_is_throttled(dynalite_tables, client):
    create_user("alice")
    sign_in(client)
    for _ in range(4):
        client.post("/accounts/password/", {"old_password": "nope", "new_password1": NEW_PASSWORD,
                                            "new_password2": NEW_PASSWORD})
    response = client.post("/accounts/password/", {"old_password": "nope", "new_password1": NEW_PASSWORD,
                                                    "new_password2": NEW_PASSWORD})
    assert response.status_code == 429 and "Try again in" in page_text(response)


def test_password_change_without_csrf_is_403(dynalite_tables):
    create_user("alice")
    client = Client(enforce_csrf_checks=True)
    _signed_in_with_csrf(client)
    response = client.post("/accounts/password/", {"old_password": PASSWORD, "new_password1": NEW_PASSWORD,
                                                   "new_password2": NEW_PASSWORD})
    assert response.status_code == 403
