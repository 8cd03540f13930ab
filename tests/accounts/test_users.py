"""Users as PynamoDB items (moto): creation, uniqueness, credentials, the directory, throttling."""

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.hashers import check_password
from django.core import signing
from django.test import RequestFactory, override_settings

from accounts import auth, selectors, services
from accounts.middleware import get_user
from accounts.models import UserDirectoryEntry, UserRecord
from accounts.request_info import client_ip
from accounts.session_engine import SessionStore
from chatsite import dynamodb, keys
from tests.support.users import PASSWORD, create_user


@pytest.mark.argon2
def test_user_create_writes_user_and_directory_entry(moto_tables):
    record = create_user("Alice", display_name="Alice A.")
    stored = UserRecord.get(keys.user_pk("alice"), keys.META)
    assert stored.username == "Alice" and stored.display_name == "Alice A."
    assert stored.password.startswith("argon2$") and PASSWORD not in stored.password
    assert stored.is_active and not stored.is_staff
    assert record.user_id == "alice"
    entry = UserDirectoryEntry.get(keys.USER_DIRECTORY_PK, keys.user_directory_sk("alice"))
    assert entry.username == "Alice" and entry.user_id == "alice"


@pytest.mark.parametrize("first, second", [("Alice", "alice"), ("ﬁsh", "fish"), ("José", "Jose\u0301")])
def test_usernames_differing_only_in_case_or_unicode_form_are_taken(moto_tables, first, second):
    create_user(first)
    with pytest.raises(services.UsernameTaken):
        create_user(second, password="another-pass-123")
    assert UserRecord.get(keys.user_pk(selectors.canonical_username(first)), keys.META).username == first


def test_user_create_is_one_conditional_put_plus_directory_entry(moto_tables):
    with dynamodb.count_calls() as calls:
        create_user("bob")
    assert calls == {"GetItem": 1, "PutItem": 2}  # the GetItem: a taken name is refused before hashing


def test_verify_credentials_accepts_only_the_right_password_of_an_active_user(moto_tables):
    create_user("alice")
    assert services.verify_credentials("ALICE", PASSWORD).user_id == "alice"
    assert services.verify_credentials("alice", "wrong-password") is None
    assert services.verify_credentials("nobody", PASSWORD) is None
    assert services.verify_credentials("bad#name", PASSWORD) is None
    UserRecord(keys.user_pk("alice"), keys.META).update(actions=[UserRecord.is_active.set(False)])
    assert services.verify_credentials("alice", PASSWORD) is None


@pytest.mark.argon2
def test_unknown_username_still_runs_the_password_hasher(moto_tables, monkeypatch):
    create_user("alice")
    checked = []
    monkeypatch.setattr(services, "check_password", lambda raw, encoded, setter=None: checked.append(encoded) or False)
    services.verify_credentials("nobody", PASSWORD)
    services.verify_credentials("alice", "wrong")
    assert len(checked) == 2 and all(h.startswith("argon2$") for h in checked)


def test_sign_in_builds_the_user_from_the_record(moto_tables):
    create_user("alice", display_name="Alice A.", is_staff=True)
    request = _request()
    request.session = SessionStore()
    services.sign_in(request=request, ip=client_ip(request, network=True), username="Alice", password=PASSWORD)
    user = request.user
    assert isinstance(user, auth.SessionUser)
    assert (user.id, user.username, user.display_name, user.is_staff) == ("alice", "alice", "Alice A.", True)
    with pytest.raises(services.InvalidCredentials):
        _sign_in(username="alice", password="nope")
    assert get_user(request).id == "alice"  # what the middleware builds on the next request
    request.session[SESSION_KEY] = "nobody"
    assert not get_user(request).is_authenticated


@pytest.mark.argon2
def test_old_hashes_are_upgraded_to_argon2_on_sign_in(moto_tables):
    from django.contrib.auth.hashers import make_password

    create_user("alice")
    UserRecord(keys.user_pk("alice"), keys.META).update(
        actions=[UserRecord.password.set(make_password(PASSWORD, hasher="pbkdf2_sha256"))])
    assert services.verify_credentials("alice", PASSWORD) is not None
    stored = UserRecord.get(keys.user_pk("alice"), keys.META).password
    assert stored.startswith("argon2$") and check_password(PASSWORD, stored)


def test_user_list_pages_through_the_directory_with_signed_cursors(moto_tables):
    for name in ["erin", "bob", "dave", "alice", "carol"]:
        create_user(name)
    seen, cursor = [], None
    with dynamodb.count_calls() as calls:
        while True:
            page = selectors.user_list(cursor=cursor, limit=2)
            seen += [u.user_id for u in page.items]
            cursor = page.next_cursor
            if cursor is None:
                break
    assert seen == ["alice", "bob", "carol", "dave", "erin"]
    assert "Scan" not in calls and calls["Query"] >= 3
    with pytest.raises(signing.BadSignature):
        selectors.user_list(cursor="forged", limit=2)


# --- throttling ---------------------------------------------------------------------------------

def _request(ip="203.0.113.5"):
    return RequestFactory().post("/accounts/login/", REMOTE_ADDR=ip)


def _sign_in(ip="203.0.113.5", **credentials):
    """An attempt from ``ip``, which the view would parse out of the request."""
    request = _request(ip)
    return services.sign_in(request=request, ip=client_ip(request, network=True), **credentials)


def test_five_failures_throttle_the_username_even_with_the_right_password(moto_tables):
    create_user("alice")
    for _ in range(4):
        with pytest.raises(services.InvalidCredentials):
            _sign_in(username="alice", password="wrong")
    with pytest.raises(services.Throttled) as fifth:
        _sign_in(username="alice", password="wrong")
    assert "Too many failed sign-ins. Try again in" in str(fifth.value) and "minute" in str(fifth.value)
    assert 1 <= fifth.value.minutes <= 15
    with pytest.raises(services.Throttled):  # from another address, with the right password
        _sign_in("198.51.100.9", username="ALICE", password=PASSWORD)


def test_unknown_usernames_are_throttled_the_same_way(moto_tables):
    for _ in range(4):
        with pytest.raises(services.InvalidCredentials) as excinfo:
            _sign_in(username="ghost", password="wrong")
        assert str(excinfo.value) == services.SIGN_IN_FAILED
    with pytest.raises(services.Throttled):
        _sign_in(username="ghost", password="wrong")


@override_settings(ACCOUNTS_SIGN_IN_IP_FAILURE_LIMIT=5)
def test_failures_from_one_address_throttle_that_address_across_usernames(moto_tables):
    create_user("victim")
    for n in range(5):
        with pytest.raises((services.InvalidCredentials, services.Throttled)):
            _sign_in("2001:db8::1", username=f"user{n}", password="wrong")
    with pytest.raises(services.Throttled):  # same /64
        _sign_in("2001:db8::ffff", username="victim", password=PASSWORD)


@override_settings(ACCOUNTS_SIGN_IN_FAILURE_LIMIT=2)
def test_a_throttled_attempt_costs_no_password_check_and_no_write(moto_tables, monkeypatch):
    for _ in range(2):
        with pytest.raises((services.InvalidCredentials, services.Throttled)):
            _sign_in(username="alice", password="wrong")
    monkeypatch.setattr(services, "check_password", lambda *a, **k: pytest.fail("hashed while throttled"))
    with dynamodb.count_calls() as calls, pytest.raises(services.Throttled):
        _sign_in(username="alice", password="wrong")
    assert calls == {"UpdateItem": 1}  # the reservation, refused by its condition: nothing written


def test_failed_sign_in_costs_one_read_and_two_reservations(moto_tables):
    create_user("alice")
    with dynamodb.count_calls() as calls, pytest.raises(services.InvalidCredentials):
        _sign_in(username="alice", password="wrong")
    assert calls == {"GetItem": 1, "UpdateItem": 2}
