"""Sessions follow the user record (moto): `request.user` is built from the user item, read through
a short per-process cache, and a session whose password hash, activation or existence no longer
matches is flushed. Races: 20 sign-ins against one change, and afterwards none of them works.

The same races across processes (gunicorn workers, dynalite): tests/integration/test_sessions_follow_user_dynalite.py.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.hashers import make_password
from django.test import Client

from accounts import auth, selectors, services
from accounts.models import UserRecord
from chatsite import caches, keys
from chatsite.dynamodb import count_calls
from rooms import services as room_services
from tests.support.users import PASSWORD, create_user

NEW_PASSWORD = "a-brand-new-passphrase-42"
SIGN_INS = 20


@pytest.fixture(autouse=True)
def fast_hashing(settings):
    # MD5 keeps 20 parallel sign-ins cheap; the race is in the DynamoDB calls, not in the hash.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.ACCOUNTS_SIGN_IN_FAILURE_LIMIT = 1000  # sign-ins after the change fail; don't lock anyone out


def _sign_in(client: Client, username: str = "alice", password: str = PASSWORD) -> bool:
    return client.post("/accounts/login/", {"username": username, "password": password}).status_code == 302


def _signed_in(client: Client) -> bool:
    return client.get("/accounts/profile/").status_code == 200


def _race(change, *, username: str = "alice") -> list[Client]:
    """SIGN_INS browsers sign in at once while ``change`` runs once signing in is under way.
    Returns the browsers whose sign-in succeeded (before or during the change)."""
    clients = [Client() for _ in range(SIGN_INS)]
    started = threading.Barrier(SIGN_INS + 1)
    done = threading.Semaphore(0)

    def sign_in(client):
        started.wait()
        try:
            return _sign_in(client, username)
        finally:
            done.release()

    def change_midway():
        started.wait()
        for _ in range(3):  # a few sign-ins finish first; the rest overlap the change
            done.acquire()
        change()

    with ThreadPoolExecutor(SIGN_INS + 1) as pool:
        changing = pool.submit(change_midway)
        results = list(pool.map(sign_in, clients))
        changing.result()
    return [client for client, ok in zip(clients, results) if ok]


def test_sign_ins_racing_a_password_change_all_end(moto_tables):
    create_user("alice")
    won = _race(lambda: services.user_set_password(user_id="alice", password=NEW_PASSWORD))
    assert len(won) >= 3  # the race really had sessions to end
    # On the process that made the change the bound is 0: no waiting.
    assert [c for c in won if _signed_in(c)] == []
    assert _sign_in(Client(), password=NEW_PASSWORD)


def test_sign_ins_racing_a_deactivation_all_end(moto_tables):
    create_user("alice")
    won = _race(lambda: services.user_set_active(user_id="alice", active=False))
    assert len(won) >= 3
    assert [c for c in won if _signed_in(c)] == []


@pytest.fixture
def bobs_message(moto_tables):
    room = room_services.room_create(name="Art", description="", created_by="bob")
    bob = auth.session_user(create_user("bob"))
    return room_services.message_post(room=room, author=bob, comment="hello", idempotency_key="k" * 20).message


def _can_delete(client: Client, message) -> bool:
    response = client.post("/rooms/art/messages/delete", {"author": "bob", "sk": message.sk},
                           HTTP_HX_REQUEST="true")
    assert response.status_code in (200, 403), response.status_code
    return response.status_code == 200


def test_staff_sign_ins_racing_a_demotion_lose_staff_powers(bobs_message):
    create_user("alice", is_staff=True)
    won = _race(lambda: services.user_set_staff(user_id="alice", staff=False))
    assert len(won) >= 3
    assert all(_signed_in(c) for c in won)  # still signed in: only the staff power went
    assert [c for c in won if _can_delete(c, bobs_message)] == []
    assert room_services.selectors.message_get(author_id="bob", sk=bobs_message.sk) is not None


def test_promotion_gives_staff_powers_to_existing_sessions(bobs_message):
    create_user("alice")
    client = Client()
    assert _sign_in(client)
    assert not _can_delete(client, bobs_message)
    services.user_set_staff(user_id="alice", staff=True)
    assert _can_delete(client, bobs_message)


# --- other processes: bounded by ACCOUNTS_USER_RECHECK_SECONDS ----------------------------------


def _changed_elsewhere(**values) -> None:
    """What another process's change looks like here: the item changes, this cache is not told."""
    UserRecord(keys.user_pk("alice"), keys.META).update(
        actions=[getattr(UserRecord, name).set(value) for name, value in values.items()])


@pytest.mark.parametrize("change", ["password", "is_active"])
def test_a_change_made_elsewhere_ends_sessions_within_the_recheck_interval(moto_tables, settings, change):
    settings.ACCOUNTS_USER_RECHECK_SECONDS = 0.5
    create_user("alice")
    client = Client()
    assert _sign_in(client) and _signed_in(client)
    _changed_elsewhere(**({"password": make_password(NEW_PASSWORD)} if change == "password" else {"is_active": False}))
    time.sleep(0.6)  # the recheck interval has passed
    assert not _signed_in(client)


def test_a_demotion_made_elsewhere_applies_within_the_recheck_interval(bobs_message, settings):
    settings.ACCOUNTS_USER_RECHECK_SECONDS = 0.5
    create_user("alice", is_staff=True)
    client = Client()
    assert _sign_in(client)
    _changed_elsewhere(is_staff=False)
    time.sleep(0.6)
    assert not _can_delete(client, bobs_message)


def test_a_new_session_is_not_signed_out_by_a_stale_cache(moto_tables, settings):
    """Another process changed the password and the user signed in again there; this process still
    caches the old record. The new session must be re-checked against a fresh read, not flushed."""
    settings.ACCOUNTS_USER_RECHECK_SECONDS = 60
    create_user("alice")
    old = Client()
    assert _sign_in(old) and _signed_in(old)  # this process now caches the old hash
    _changed_elsewhere(password=make_password(NEW_PASSWORD))
    fresh = Client()
    record = selectors.user_get(user_id="alice")
    session = fresh.session
    session[SESSION_KEY] = "alice"
    session[HASH_SESSION_KEY] = auth.session_auth_hash(record)
    session.save()
    fresh.cookies[django_settings.SESSION_COOKIE_NAME] = session.session_key
    assert _signed_in(fresh)
    assert not _signed_in(old)


def test_a_deleted_user_is_signed_out(moto_tables):
    create_user("alice")
    client = Client()
    assert _sign_in(client)
    UserRecord(keys.user_pk("alice"), keys.META).delete()
    caches.clear_all()  # as another process sees it once its cached copy expires
    assert not _signed_in(client)


# --- what request.user shows ---------------------------------------------------------------------


def test_display_name_changes_show_in_every_session(moto_tables, settings):
    create_user("alice", display_name="Alice")
    phone, laptop = Client(), Client()
    assert _sign_in(phone) and _sign_in(laptop)
    assert "Alice" in laptop.get("/accounts/profile/").content.decode()
    assert phone.post("/accounts/profile/", {"display_name": "Queen Alice"}).status_code == 302
    assert "Queen Alice" in laptop.get("/accounts/profile/").content.decode()


def test_the_session_holds_the_user_id_and_the_password_check_only(moto_tables):
    create_user("alice", is_staff=True)
    client = Client()
    assert _sign_in(client)
    session = client.session
    assert session[SESSION_KEY] == "alice"
    assert session[HASH_SESSION_KEY] == auth.session_auth_hash(selectors.user_get(user_id="alice"))
    assert BACKEND_SESSION_KEY not in session
    assert not [k for k in session.keys() if k.startswith("_auth_user_") and k not in (SESSION_KEY, HASH_SESSION_KEY)]


def test_a_tampered_hash_in_the_session_is_signed_out(moto_tables):
    create_user("alice")
    client = Client()
    assert _sign_in(client)
    session = client.session
    session[HASH_SESSION_KEY] = "0" * 64
    session.save()
    assert not _signed_in(client)


# --- re-hashing at sign-in ------------------------------------------------------------------------


def test_rehash_on_sign_in_keeps_that_session(moto_tables, settings):
    create_user("alice")
    UserRecord(keys.user_pk("alice"), keys.META).update(
        actions=[UserRecord.password.set(make_password(PASSWORD, hasher="md5"))])
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher",
                                 "django.contrib.auth.hashers.MD5PasswordHasher"]
    client = Client()
    assert _sign_in(client)
    assert selectors.user_get(user_id="alice").password.startswith("pbkdf2_sha256$")  # upgraded
    assert _signed_in(client)


def test_a_rehash_never_undoes_a_concurrent_password_change(moto_tables):
    create_user("alice")
    read_before_the_change = selectors.user_get(user_id="alice")
    services.user_set_password(user_id="alice", password=NEW_PASSWORD)
    services.password_hash_upgrade(record=read_before_the_change, password=PASSWORD)
    assert services.verify_credentials("alice", PASSWORD) is None
    assert services.verify_credentials("alice", NEW_PASSWORD) is not None


# --- cost ------------------------------------------------------------------------------------------


def test_signed_in_page_costs_one_session_read_with_the_user_cached(moto_tables):
    create_user("alice")
    client = Client()
    assert _sign_in(client)
    _signed_in(client)
    with count_calls() as calls:
        assert client.get("/accounts/sessions/").status_code == 200
    user_reads = calls.get("GetItem", 0)
    assert user_reads == 0, calls


def test_cold_user_cache_costs_one_get_item(moto_tables, settings):
    create_user("alice")
    client = Client()
    assert _sign_in(client)
    caches.clear_all()
    with count_calls() as cold:
        assert _signed_in(client)
    with count_calls() as warm:
        assert _signed_in(client)
    assert cold - warm == {"GetItem": 1}, (cold, warm)
