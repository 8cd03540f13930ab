"""The per-process session cache (accounts.session_cache, ACCOUNTS_SESSION_CACHE_SECONDS): a warm
signed-in request reads no session; every way of ending a session ends it on this process at once;
on another process it keeps working until the bound, and not past it; writes are read back; expiry
holds; one cookie never finds another's session. The whole session contract also runs with it on.

Other processes are a second SessionCache (with a clock the test moves) put in place of the module's
while "that process" acts, as a second gunicorn on the same tables would be; the real two-server
case is tests/integration/test_session_cache_across_processes.py.
"""

from __future__ import annotations

import time
from contextlib import contextmanager

import pytest
from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY
from django.test import RequestFactory
from django.urls import path

from accounts import selectors, services, session_cache as session_cache_module, session_engine, session_patterns
from accounts.auth import session_auth_hash
from accounts.middleware import get_user
from accounts.session_cache import SessionCache, session_cache
from accounts.session_engine import SessionStore
from accounts.session_keys import StoredKey
from chatsite.dynamodb import count_calls
from tests.accounts.test_sessions import SessionContract, _linked_device, _page, _partition, _signed_in
from tests.support.web import PASSWORD

BOUND = 3.0  # seconds: this module's ACCOUNTS_SESSION_CACHE_SECONDS

urlpatterns = [path("", _page)]  # the whole middleware stack, one view that shows request.user


@pytest.fixture(autouse=True)
def _cache_on(settings):
    settings.ACCOUNTS_SESSION_CACHE_SECONDS = BOUND


@pytest.fixture
def page(client, settings, moto_tables):
    settings.ROOT_URLCONF = __name__
    return client


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@contextmanager
def on_process(cache: SessionCache):
    """Run the block as another process would: with its own session cache."""
    previous = session_cache_module.session_cache
    for module in (session_engine, session_patterns):
        module.session_cache = cache
    try:
        yield
    finally:
        for module in (session_engine, session_patterns):
            module.session_cache = previous


def _load(key: str) -> tuple[dict, dict]:
    """What a request with this cookie would load, and what it cost."""
    with count_calls() as calls:
        data = SessionStore(key).load()
    return data, dict(calls)


def _request(key: str):
    request = RequestFactory().post("/")
    request.session = SessionStore(key)
    request.user = get_user(request)
    assert request.user.is_authenticated
    return request


def _user_session(user_id: str = "alice") -> str:
    """A signed-in session of a user made by accounts.services (so their password is PASSWORD)."""
    record = selectors.user_get(user_id=user_id) or services.user_create(
        username=user_id, display_name=user_id.title(), password=PASSWORD)
    store = SessionStore()
    store[SESSION_KEY] = record.user_id
    store[HASH_SESSION_KEY] = session_auth_hash(record)
    store.mark_login()
    store.save()
    return store.session_key


# --- the call budget ------------------------------------------------------------------------------


def test_a_warm_signed_in_request_reads_no_session_and_a_cold_one_reads_it_once(page):
    key = _signed_in("alice").session_key
    page.cookies[settings.SESSION_COOKIE_NAME] = key
    session_cache.clear()  # as on a process that has not seen this session yet
    with count_calls() as cold:
        assert page.get("/").content == b"hello Alice"
    assert cold == {"Query": 1, "GetItem": 1}  # the session, and the user item (its own cache)
    with count_calls() as warm:
        assert page.get("/").content == b"hello Alice"
    assert warm == {}
    assert settings.SESSION_COOKIE_NAME not in page.get("/").cookies  # unchanged: nothing written or re-sent


def test_a_signed_in_page_costs_one_call_fewer_when_warm(page, settings):
    """The whole site, not just the session: a real page (the profile) loses exactly the session Query."""
    settings.ROOT_URLCONF = "chatsite.urls"
    page.cookies[settings.SESSION_COOKIE_NAME] = _signed_in("alice").session_key
    assert page.get("/accounts/profile/").status_code == 200  # warm whatever else the page caches
    session_cache.clear()
    with count_calls() as cold:
        assert page.get("/accounts/profile/").status_code == 200
    with count_calls() as warm:
        assert page.get("/accounts/profile/").status_code == 200
    assert cold - warm == {"Query": 1} and not (warm - cold)


def test_zero_seconds_reads_the_session_on_every_request(page, settings):
    settings.ACCOUNTS_SESSION_CACHE_SECONDS = 0
    page.cookies[settings.SESSION_COOKIE_NAME] = _signed_in("alice").session_key
    for _ in range(3):
        with count_calls() as calls:
            assert page.get("/").content == b"hello Alice"
        assert calls["Query"] == 1
    assert len(session_cache) == 0


# --- revocation on this process: at once --------------------------------------------------------


def _sign_out(victim: str, other: str) -> None:
    services.sign_out(request=_request(victim))


def _sign_out_everywhere_else(victim: str, other: str) -> None:
    services.sign_out_everywhere_else(request=_request(other))


def _password_change(victim: str, other: str) -> None:
    services.password_change(request=_request(other), old_password=PASSWORD, new_password="a-new-long-passphrase-1")


def _revoke_from_the_sessions_page(victim: str, other: str) -> None:
    ref = selectors.session_ref(StoredKey.of(victim).digest)
    assert services.session_revoke(request=_request(other), ref=ref)


def _deactivate(victim: str, other: str) -> None:
    services.user_set_active(user_id="alice", active=False)


def _set_password_as_operator(victim: str, other: str) -> None:
    services.user_set_password(user_id="alice", password="a-new-long-passphrase-1")


@pytest.mark.parametrize("end", [_sign_out, _sign_out_everywhere_else, _password_change,
                                 _revoke_from_the_sessions_page, _deactivate, _set_password_as_operator])
def test_every_way_of_ending_a_session_ends_it_on_this_process_at_once(moto_tables, end):
    victim, other = _user_session("alice"), _user_session("alice")
    data, calls = _load(victim)
    assert data[SESSION_KEY] == "alice" and calls == {}  # warm: served by the cache
    end(victim, other)
    data, calls = _load(victim)
    assert data == {} and calls.get("Query", 0) >= 1  # not from the cache: read, and gone


@pytest.mark.parametrize("ended_by", ["the device itself", "its parent's sessions page", "the parent signing out"])
def test_ending_a_linked_device_ends_it_on_this_process_at_once(moto_tables, ended_by):
    parent = SessionStore(_user_session("alice"))
    parent.load()
    device = _linked_device(parent)
    assert _load(device.session_key)[0][SESSION_KEY] == "alice"  # read (a device is not cached on write)
    data, calls = _load(device.session_key)
    assert data[SESSION_KEY] == "alice" and calls == {}  # now warm
    if ended_by == "the device itself":
        services.sign_out(request=_request(device.session_key))
    elif ended_by == "its parent's sessions page":
        _revoke_from_the_sessions_page(device.session_key, parent.session_key)
    else:
        services.sign_out(request=_request(parent.session_key))
    assert _load(device.session_key)[0] == {}


def test_a_revocation_during_a_read_keeps_that_read_out_of_the_cache(moto_tables, monkeypatch):
    """The read may predate the revocation: it serves its own request, never a later one."""
    key = _signed_in("alice").session_key
    session_cache.clear()
    own_record = session_patterns.own_record

    def revoked_meanwhile(digest):
        record = own_record(digest)
        session_patterns.expire_session(StoredKey(digest))  # another thread of this process signs out
        return record

    monkeypatch.setattr(session_patterns, "own_record", revoked_meanwhile)
    assert _load(key)[0][SESSION_KEY] == "alice"
    monkeypatch.setattr(session_patterns, "own_record", own_record)
    assert _load(key) == ({}, {"Query": 1})


# --- revocation on another process: within the bound, not before ------------------------------------


def test_a_session_ended_on_another_process_works_here_until_the_bound_and_not_after(moto_tables):
    here_clock, there_clock = Clock(), Clock()
    here, there = SessionCache(clock=here_clock), SessionCache(clock=there_clock)
    with on_process(here):
        key = _signed_in("alice").session_key
        here.clear()
        data, calls = _load(key)
        assert data[SESSION_KEY] == "alice" and calls == {"Query": 1}  # read at 1000.0: fresh until 1003.0
    with on_process(there):
        SessionStore(key).delete()  # signed out there
        assert _load(key)[0] == {}
    with on_process(here):
        here_clock.now = 1000.0 + BOUND - 0.01
        data, calls = _load(key)
        assert data[SESSION_KEY] == "alice" and calls == {}  # the stated bound: still served here
        here_clock.now = 1000.0 + BOUND
        assert _load(key) == ({}, {"Query": 1})  # the bound has passed: read, and gone
        assert _load(key)[0] == {}


def test_a_change_written_on_another_process_is_read_here_within_the_bound(moto_tables):
    here_clock = Clock()
    here, there = SessionCache(clock=here_clock), SessionCache()
    with on_process(here):
        key = _signed_in("alice", theme="light").session_key
        assert _load(key)[0]["theme"] == "light"
    with on_process(there):
        store = SessionStore(key)
        store["theme"] = "dark"
        store.save()
    with on_process(here):
        assert _load(key)[0]["theme"] == "light"
        here_clock.now += BOUND
        assert _load(key)[0]["theme"] == "dark"


# --- writes, expiry, keys, memory ---------------------------------------------------------------


def test_a_modified_session_is_still_saved_and_read_back_on_this_process(moto_tables):
    key = _signed_in("alice").session_key
    store = SessionStore(key)
    store["cart"] = ["tea"]
    with count_calls() as calls:
        store.save()
    assert calls == {"PutItem": 1}  # written as before
    data, calls = _load(key)
    assert data["cart"] == ["tea"] and calls == {}  # this process reads its own write, from memory
    session_cache.clear()
    assert _load(key)[0]["cart"] == ["tea"]  # and it is in DynamoDB


def test_changing_the_loaded_data_never_changes_the_cached_copy(moto_tables):
    key = _signed_in("alice", cart=["tea"]).session_key
    store = SessionStore(key)
    store["cart"].append("cake")  # changed in place, never saved
    assert _load(key)[0]["cart"] == ["tea"]


def test_a_new_key_after_sign_in_leaves_the_old_key_nothing(moto_tables):
    store = _signed_in("alice")
    old_key = store.session_key
    assert _load(old_key)[1] == {}
    store.cycle_key()
    store.save()
    assert _load(old_key)[0] == {}
    assert _load(store.session_key) == (_load(store.session_key)[0], {})  # the new key is warm
    assert _load(store.session_key)[0][SESSION_KEY] == "alice"


def test_expiry_is_honoured_while_cached(moto_tables, settings):
    settings.ACCOUNTS_SESSION_CACHE_SECONDS = 60
    store = _signed_in("alice")
    store.set_expiry(2)
    store.save()
    assert _load(store.session_key)[0][SESSION_KEY] == "alice"
    deadline = _partition(store.session_key)[0].expires_at
    while time.time() < deadline:
        time.sleep(0.05)
    assert _load(store.session_key)[0] == {}


def test_a_device_is_not_served_past_its_parents_expiry(moto_tables, settings):
    settings.ACCOUNTS_SESSION_CACHE_SECONDS = 60
    parent = _signed_in("alice")
    parent.set_expiry(2)
    parent.save()
    device = _linked_device(parent)
    assert _load(device.session_key)[0][SESSION_KEY] == "alice"
    assert _load(device.session_key)[1] == {}  # cached
    deadline = min(r.expires_at for r in _partition(parent.session_key))
    while time.time() < deadline:
        time.sleep(0.05)
    assert _load(device.session_key)[0] == {}


def test_one_cookie_never_reads_another_cookies_session(moto_tables):
    alice, bob = _signed_in("alice"), _signed_in("bob")
    device = _linked_device(alice, device_only=True)
    for _ in range(2):  # cold, then warm
        assert _load(alice.session_key)[0][SESSION_KEY] == "alice"
        assert _load(bob.session_key)[0][SESSION_KEY] == "bob"
        assert "device_only" in _load(device.session_key)[0]
        assert "device_only" not in _load(alice.session_key)[0]
    near_miss = alice.session_key[:-1] + ("a" if alice.session_key[-1] != "a" else "b")
    assert _load(near_miss) == ({}, {"Query": 1})  # not in the cache: DynamoDB, which has nothing
    assert _load(alice.session_key.upper())[0] == {}  # malformed: never looked up
    device_as_session = device.session_key[:32]
    assert _load(device_as_session)[0] == {}


def test_memory_is_bounded_least_recently_used_first(moto_tables, monkeypatch):
    monkeypatch.setattr(session_cache, "MAX_ENTRIES", 3)
    first, second, third = (_signed_in(f"user{n}").session_key for n in range(3))  # cached on write
    assert _load(first)[1] == {}  # now the most recently used: second is the least
    fourth = _signed_in("user3").session_key
    assert len(session_cache) == 3
    assert _load(second)[1] == {"Query": 1}  # it went first; read again, it pushes third out
    assert [_load(key)[1] for key in (first, fourth, second)] == [{}, {}, {}]
    assert _load(third)[1] == {"Query": 1}
    assert len(session_cache) == 3


def test_entries_go_stale_after_the_bound_on_this_clock():
    clock = Clock()
    cache = SessionCache(clock=clock)

    class Record:
        PK = "suuid#x"

    key = StoredKey("0" * 64)
    cache.put(key, Record(), {"a": 1}, live_until=time.time() + 3600, started=clock(), generation=cache.begin())
    clock.now += BOUND - 0.001
    assert cache.get(key).data == {"a": 1}
    clock.now += 0.001
    assert cache.get(key) is None
    generation = cache.begin()
    cache.forget_partition("suuid#other")
    cache.put(key, Record(), {"a": 2}, live_until=time.time() + 3600, started=clock(), generation=generation)
    assert cache.get(key) is None  # a session was forgotten while this read was under way


# --- the session contract, with the cache on ----------------------------------------------------

# Their premise is a write behind this process's back (as another process would make it) or the
# cold read's count: with the cache, that is the bound tested above.
_BEHIND_THE_CACHE = {
    "test_tampered_session_data_loads_empty_and_is_logged_as_suspicious",
    "test_session_keys_never_appear_in_logs",  # its one sure log record is the tampered load's warning
    "test_unchanged_session_costs_one_consistent_read_and_no_write",
    "test_page_request_with_unchanged_session_costs_one_read_and_no_write",
    "test_last_seen_is_refreshed_at_most_once_per_interval",
    "test_last_seen_refresh_does_not_overwrite_a_concurrent_change",
    "test_get_session_by_session_id_returns_live_sessions_only",
    "test_child_request_costs_two_reads_and_no_write",
}


class TestSessionContractWithTheCacheOn(SessionContract):
    """Everything this process does to a session holds with the cache on. The few tests that edit
    the table directly, as another process would, or count the cold read, are skipped: their
    behaviour with the cache is the bound tested above."""

    @pytest.fixture
    def tables(self, moto_tables, settings):
        settings.ACCOUNTS_SESSION_CACHE_SECONDS = 60  # never stale during a test: only forgetting helps
        return moto_tables

    @pytest.fixture(autouse=True)
    def _skip_behind_the_cache(self, request):
        if request.node.originalname in _BEHIND_THE_CACHE:
            pytest.skip("edits the table behind this process's back, or counts the cold read: with the "
                        "cache that is bounded by ACCOUNTS_SESSION_CACHE_SECONDS (tested above)")
