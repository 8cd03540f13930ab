"""The DynamoDB session engine (accounts.session_engine): Django's session contract, the eight seed
access patterns (accounts.session_patterns), linked devices, clearsessions and the per-request cost.

`SessionContract` holds every test; it runs here against moto and in
tests/integration/test_sessions_dynalite.py against a real dynalite process.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from io import StringIO

import pytest
from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.base import CreateError, UpdateError
from django.core.management import call_command
from django.http import HttpResponse
from django.urls import path

from accounts import models, session_engine, session_keys, session_patterns
from accounts.auth import session_auth_hash
from accounts.models import SessionRecord
from accounts.session_engine import SessionStore
from chatsite import keys
from chatsite.dynamodb import count_calls
from tests.support.users import ensure_user_item

WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"}


def _writes(counter) -> dict:
    return {op: n for op, n in counter.items() if op in WRITES}


def _signed_in(user_id: str = "alice", **data) -> SessionStore:
    """A session signed in as accounts.services.sign_in makes it (the user item exists too)."""
    store = SessionStore()
    store[SESSION_KEY] = user_id
    store[HASH_SESSION_KEY] = session_auth_hash(ensure_user_item(user_id))
    store.update(data)
    store.mark_login()
    store.save()
    return store


def _anonymous(**data) -> SessionStore:
    store = SessionStore()
    store.update(data or {"visited": True})
    store.save()
    return store


def _digest(session_key: str) -> str:
    return session_keys.key_digest(session_key)


def _key(session_key: str) -> session_keys.StoredKey:
    return session_keys.StoredKey.of(session_key)


def _partition(session_key: str) -> list[SessionRecord]:
    return list(SessionRecord.query(keys.session_pk(_digest(session_key)), consistent_read=True))


def _set(record: SessionRecord, **values) -> None:
    SessionRecord(record.PK, record.SK).update(
        actions=[getattr(SessionRecord, name).set(value) for name, value in values.items()])


def _own(session_key: str) -> SessionRecord:
    [record] = [r for r in _partition(session_key) if not r.is_child]
    return record


def _linked_device(parent: SessionStore, **data) -> SessionStore:
    """Another browser, signed in as a child of ``parent`` (as accounts.services.device_link_redeem does)."""
    device = _anonymous(device=True)
    device.cycle_key()
    device.link_as_child(_digest(parent.session_key))
    device[SESSION_KEY] = parent[SESSION_KEY]
    device[HASH_SESSION_KEY] = parent[HASH_SESSION_KEY]
    device.update(data)
    device.mark_login()
    device.save()
    return device


def _epoch(delta: timedelta) -> int:
    return int((datetime.now(timezone.utc) + delta).timestamp())


def _page(request):
    """Stands in for any page of the site: base.html shows request.user, which reads the session."""
    return HttpResponse(f"hello {request.user}")


urlpatterns = [path("", _page)]  # the `page` fixture's URLconf: the whole middleware stack, one view


class SessionContract:
    """Every behaviour, against whichever DynamoDB the `tables` fixture provides."""

    @pytest.fixture
    def tables(self):
        raise NotImplementedError("subclasses provide moto or dynalite tables")

    @pytest.fixture(autouse=True)
    def _on_tables(self, tables, settings):
        settings.SESSION_ENGINE = "accounts.session_engine"

    @pytest.fixture
    def page(self, client, settings):
        settings.ROOT_URLCONF = __name__
        return client

    # --- Django's SessionTestsMixin behaviours -------------------------------------------------

    def test_new_session_is_empty_and_costs_nothing(self):
        store = SessionStore()
        with count_calls() as calls:
            assert store.get("cat") is None
            assert not store.modified
        assert calls == {}

    def test_save_creates_record_with_fresh_csprng_key(self):
        store = _anonymous(cat="dog")
        key = store.session_key
        assert len(key) == session_keys.SESSION_KEY_LENGTH and set(key) <= set(session_keys.KEY_CHARS)
        assert store.exists(key)
        record = _own(key)
        assert record.SK == keys.customer_sk(None) == "c#~anonymous"
        assert record.session_state == models.ACTIVE
        assert abs(record.expires_at - _epoch(timedelta(seconds=settings.SESSION_COOKIE_AGE))) <= 5
        assert SessionStore(key)["cat"] == "dog"
        assert _anonymous().session_key != key

    def test_save_must_create_on_existing_key_raises_create_error(self):
        first = _anonymous(owner="first")
        again = SessionStore(first.session_key)
        again["owner"] = "intruder"
        with pytest.raises(CreateError):
            again.save(must_create=True)
        signed_in = _signed_in("alice")
        as_anonymous = SessionStore(signed_in.session_key)  # same key, another customer SK
        as_anonymous._session_cache = {"owner": "intruder"}
        with pytest.raises(CreateError):
            as_anonymous.save(must_create=True)
        assert SessionStore(first.session_key)["owner"] == "first"
        assert [r.SK for r in _partition(signed_in.session_key)] == ["c#alice"]

    def test_create_loops_to_a_new_key_when_the_conditional_put_collides(self):
        taken = _anonymous(owner="first").session_key
        fresh = "f" * session_keys.SESSION_KEY_LENGTH
        offered = iter([taken, fresh])
        store = SessionStore()

        def next_key():
            store._generated_key = next(offered)  # as if the CSPRNG had produced it
            return store._generated_key

        store._get_new_session_key = next_key
        store["owner"] = "second"
        store.create()
        assert store.session_key == fresh
        assert SessionStore(taken)["owner"] == "first"
        assert SessionStore(fresh)["owner"] == "second"

    @pytest.mark.parametrize("change", ["data", "none", "sign_in"])
    def test_saving_a_session_deleted_elsewhere_raises_update_error_and_never_resurrects(self, change):
        store = _anonymous(test_data="value1")
        key = store.session_key
        loaded = SessionStore(key)
        assert loaded["test_data"] == "value1"
        SessionStore(key).delete()  # another request signs out
        if change == "data":
            loaded["test_data"] = "value2"  # a full conditional put
        elif change == "none":
            loaded.modified = True  # the last-seen refresh: a conditional update
        else:
            loaded[SESSION_KEY] = "alice"  # the SK move: put c#alice, delete c#~anonymous
        with pytest.raises(UpdateError):
            loaded.save()
        assert _partition(key) == []
        assert not loaded.exists(key)
        assert loaded.load() == {}

    def test_delete_removes_own_and_other_sessions(self):
        mine, other = _anonymous(), _anonymous()
        mine_key = mine.session_key
        mine.delete(other.session_key)
        assert not mine.exists(other.session_key)
        assert mine.session_key == mine_key and mine.exists(mine_key)
        mine.delete()
        assert not mine.exists(mine_key)
        mine.delete("never" + "x" * 20)  # unknown: nothing to do, no error

    def test_flush_deletes_the_record_and_forgets_the_key(self):
        store = _anonymous(x=1)
        key = store.session_key
        store.flush()
        assert not store.exists(key)
        assert store.session_key is None and store.modified and store.accessed

    def test_loading_an_unknown_key_creates_nothing_and_issues_a_new_key(self):
        store = SessionStore("someunknownkey")
        assert store.load() == {}
        assert store.session_key is None
        assert not store.exists("someunknownkey")
        store["cat"] = "dog"
        store.save()
        assert store.session_key not in (None, "someunknownkey")
        assert _partition("someunknownkey") == []

    @pytest.mark.parametrize("bad", ["", "1234567", "ABCDEFGHIJ", "abc#defghij", "a" * 65])
    def test_malformed_keys_are_invalid_and_never_reach_dynamodb(self, bad):
        with count_calls() as calls:
            store = SessionStore(bad)
            assert store.session_key is None
            assert store.get("cat") is None
            assert not store.exists(bad)
            store.delete(bad)
        assert calls == {}

    def test_eight_character_key_is_valid(self):
        assert SessionStore("1234567").session_key is None
        assert SessionStore("12345678").session_key == "12345678"
        session_patterns.create_session(session_key="12345678", session_data=SessionStore().encode({"x": 1}),
                                        expires_at=_epoch(timedelta(hours=1)))
        assert SessionStore("12345678")["x"] == 1

    def test_expired_session_loads_empty_even_while_the_record_remains(self):
        store = SessionStore()
        store["foo"] = "bar"
        store.set_expiry(-timedelta(seconds=10))
        store.save()
        key = store.session_key
        assert _own(key).expires_at < _epoch(timedelta())  # TTL hasn't removed it (dynalite never will)
        fresh = SessionStore(key)
        assert "foo" not in fresh
        assert fresh.session_key is None

    def test_custom_expiry_is_stored_as_epoch_seconds(self):
        store = SessionStore()
        store["x"] = 1
        store.set_expiry(3600)
        store.save()
        assert abs(_own(store.session_key).expires_at - _epoch(timedelta(hours=1))) <= 5

    def test_cycle_key_keeps_data_and_deletes_the_old_key(self):
        store = _anonymous(a="c", b="d")
        old = store.session_key
        store.cycle_key()
        assert store.session_key != old
        assert not store.exists(old)
        assert dict(store.items()) == {"a": "c", "b": "d"}
        store.save()
        assert dict(SessionStore(store.session_key).items()) == {"a": "c", "b": "d"}

    def test_cycle_key_loads_data_it_had_not_read_yet(self):
        key = _anonymous(a="c").session_key
        store = SessionStore(key)
        assert not hasattr(store, "_session_cache")
        store.cycle_key()
        assert dict(store.items()) == {"a": "c"}
        assert not store.exists(key)

    def test_sign_in_moves_the_record_from_anonymous_to_the_customer(self):
        store = _anonymous(cart="x")
        anonymous_key = store.session_key
        store.cycle_key()  # what accounts.services.sign_in does
        store[SESSION_KEY] = "alice"
        store.mark_login()
        store.save()
        assert _partition(anonymous_key) == []
        [record] = _partition(store.session_key)
        assert record.SK == "c#alice" and record.user_id == "alice"
        assert record.last_login_time is not None
        assert SessionStore(store.session_key)["cart"] == "x"

    def test_sign_in_without_mark_login_still_records_the_login_time(self):
        store = _anonymous()
        store[SESSION_KEY] = "bob"
        store.save()
        assert _own(store.session_key).last_login_time is not None
        store["other"] = 1
        store.save()  # same customer: not a new sign-in
        assert _own(store.session_key).last_login_time is not None

    def test_async_variants_work(self):
        async def scenario():
            store = SessionStore()
            await store.aset("a", 1)
            await store.asave()
            key = store.session_key
            assert await store.aexists(key)
            again = SessionStore(key)
            assert await again.aget("a") == 1
            await again.acycle_key()
            assert not await again.aexists(key)
            await again.asave()
            expired = SessionStore()
            await expired.aset("x", 1)
            await expired.aset_expiry(-10)
            await expired.asave()
            await SessionStore.aclear_expired()
            assert not await again.aexists(expired.session_key)
            assert (await SessionStore(again.session_key).aload()) == {"a": 1}
            await again.aflush()
            assert not await SessionStore().aexists(key)
            return again.session_key

        # In a thread of its own: another test in the run may have left this thread's loop running.
        with ThreadPoolExecutor(1) as pool:
            assert pool.submit(asyncio.run, scenario()).result() is None

    def test_oversized_data_raises_a_clear_error_and_leaves_the_stored_session(self):
        store = _anonymous(small="kept")
        before = _own(store.session_key)
        store["big"] = secrets.token_urlsafe(450 * 1024)  # random: compression can't shrink it
        with count_calls() as calls, pytest.raises(session_patterns.SessionDataTooLarge, match="400 KB"):
            store.save()
        assert _writes(calls) == {}
        after = _own(store.session_key)
        assert after.session_data == before.session_data
        assert dict(SessionStore(store.session_key).items()) == {"small": "kept"}
        brand_new = SessionStore()
        brand_new["big"] = secrets.token_urlsafe(450 * 1024)
        with pytest.raises(session_patterns.SessionDataTooLarge):
            brand_new.save()

    def test_tampered_session_data_loads_empty_and_is_logged_as_suspicious(self, caplog):
        store = _anonymous(x=1)
        _set(_own(store.session_key), session_data="tampered-data")
        with caplog.at_level(logging.WARNING, logger="django.security.SuspiciousSession"):
            assert SessionStore(store.session_key).load() == {}
        assert "Session data corrupted" in caplog.text

    def test_session_keys_never_appear_in_logs(self, caplog):
        caplog.set_level(logging.DEBUG)
        store = _signed_in("alice")
        key = store.session_key
        device = _linked_device(store)
        SessionStore(key)["x"] = 1
        stale = SessionStore(key)
        assert stale[SESSION_KEY] == "alice"
        _set(_own(key), session_data="tampered")
        SessionStore(key).load()
        session_patterns.expire_session(_key(key))
        with pytest.raises(UpdateError):
            stale.save()
        SessionStore(device.session_key).load()
        assert caplog.records  # logging was captured at all
        for secret in (key, device.session_key):
            assert secret not in caplog.text
            assert secret not in repr(SessionRecord(keys.session_pk(secret), keys.child_sk(secret)))

    def test_no_stored_item_holds_a_session_key(self):
        """Keys are stored as keyed hashes: reading the tables (a backup, an export) signs no one in."""
        from accounts import services
        from accounts.models import DeviceLinkRecord
        from chatsite import dynamodb

        parent = _signed_in("alice", cart="x")
        device = _linked_device(parent)
        other = _anonymous()
        request = type("Request", (), {})()
        request.user, request.session = type("User", (), {"id": "alice"})(), parent
        services.device_link_create(request=request)
        cookies = [parent.session_key, device.session_key, other.session_key]
        dumped = ""
        for table in (dynamodb.SESSIONS, dynamodb.CHAT):
            dumped += str(dynamodb.client().scan(TableName=dynamodb.table_name(table))["Items"])
        assert _digest(parent.session_key) in dumped  # the records are there, under digests
        for cookie in cookies:
            assert cookie not in dumped
        [link] = DeviceLinkRecord.scan(DeviceLinkRecord.PK.startswith("DeviceLink:"))
        assert link.parent_session_digest == _digest(parent.session_key)
        # and everything still works from the cookie
        assert SessionStore(device.session_key)[SESSION_KEY] == "alice"
        assert SessionStore(parent.session_key)["cart"] == "x"

    def test_clear_expired_deletes_records_stored_under_plain_keys(self):
        """Records written before keys were hashed: no cookie finds them now, and they hold one."""
        live = _signed_in("alice")
        plain = "p" * session_keys.SESSION_KEY_LENGTH
        now = datetime.now(timezone.utc)
        for pk, sk in ((keys.session_pk(plain), keys.customer_sk("alice")),
                       (keys.session_pk(plain), keys.child_sk("q" * session_keys.CHILD_KEY_LENGTH))):
            SessionRecord(pk, sk, session_data="x", expires_at=_epoch(timedelta(days=1)), created_at=now,
                          last_seen=now).save()
        assert SessionStore(plain).load() == {}
        SessionStore.clear_expired()
        assert list(SessionRecord.query(keys.session_pk(plain))) == []
        assert SessionStore(live.session_key)[SESSION_KEY] == "alice"

    # --- cost -------------------------------------------------------------------------------

    def test_new_session_costs_one_put(self):
        store = SessionStore()
        store["x"] = 1
        with count_calls() as calls:
            store.save()
        assert calls == {"PutItem": 1}

    def test_unchanged_session_costs_one_consistent_read_and_no_write(self):
        key = _signed_in("alice").session_key
        store = SessionStore(key)
        with count_calls() as calls:
            assert store[SESSION_KEY] == "alice"
            store.set_client_info(user_agent="Firefox", ip="192.0.2.1")
        assert calls == {"Query": 1}
        assert not store.modified

    def test_page_request_with_unchanged_session_costs_one_read_and_no_write(self, page):
        key = _signed_in("alice").session_key
        page.cookies[settings.SESSION_COOKIE_NAME] = key
        with count_calls() as cold:
            page.get("/", HTTP_USER_AGENT="Firefox/1")
        assert cold == {"Query": 1, "GetItem": 1}  # the user item, then cached per process
        with count_calls() as calls:
            response = page.get("/", HTTP_USER_AGENT="Firefox/1")
        assert response.content == b"hello Alice"
        assert calls == {"Query": 1}
        assert settings.SESSION_COOKIE_NAME not in response.cookies  # nothing to re-send
        with count_calls() as anonymous:
            page.cookies.clear()
            assert page.get("/").content == b"hello AnonymousUser"
        assert anonymous == {}  # no cookie, no session: no DynamoDB call at all

    def test_home_page_with_unchanged_session_adds_at_most_one_read_and_no_write(self, client):
        client.get("/")  # warm up whatever the page caches per process
        with count_calls() as baseline:
            assert client.get("/").status_code == 200
        client.cookies[settings.SESSION_COOKIE_NAME] = _signed_in("alice").session_key
        client.get("/")
        with count_calls() as calls:
            assert client.get("/").status_code == 200
        assert set(calls - baseline) <= {"Query"} and (calls - baseline)["Query"] <= 1
        assert _writes(calls) == _writes(baseline)

    def test_last_seen_is_refreshed_at_most_once_per_interval(self, page):
        client = page
        key = _signed_in("alice").session_key
        client.cookies[settings.SESSION_COOKIE_NAME] = key
        long_ago = datetime.now(timezone.utc) - session_engine.LAST_SEEN_REFRESH - timedelta(seconds=30)
        _set(_own(key), last_seen=long_ago, expires_at=_epoch(timedelta(days=1)))
        with count_calls() as calls:
            client.get("/")
        assert _writes(calls) == {"UpdateItem": 1}
        record = _own(key)
        assert record.last_seen > long_ago + timedelta(seconds=30)
        assert record.expires_at > _epoch(timedelta(days=2))  # the expiry slides with activity
        with count_calls() as again:
            client.get("/")
        assert _writes(again) == {}

    def test_last_seen_refresh_does_not_overwrite_a_concurrent_change(self):
        key = _anonymous(step=1).session_key
        _set(_own(key), last_seen=datetime.now(timezone.utc) - timedelta(hours=1))
        slow = SessionStore(key)
        assert slow["step"] == 1 and slow.modified  # due for a refresh
        fast = SessionStore(key)
        fast["step"] = 2
        fast.save()
        slow.save()
        assert SessionStore(key)["step"] == 2

    def test_client_info_is_stored_when_written_not_per_request(self):
        store = SessionStore()
        store.set_client_info(user_agent="Firefox/1", ip="192.0.2.7")
        store["x"] = 1
        store.save()
        record = _own(store.session_key)
        assert (record.user_agent, record.ip) == ("Firefox/1", "192.0.2.7")
        later = SessionStore(store.session_key)
        later.set_client_info(user_agent="Other/2", ip="192.0.2.8")
        with count_calls() as calls:
            later.get("x")
        assert _writes(calls) == {} and not later.modified

    def test_sign_in_cost(self):
        store = SessionStore(_anonymous().session_key)
        store.get("visited")  # the request has already read its session
        with count_calls() as calls:
            store.cycle_key()
            store[SESSION_KEY] = "alice"
            store.mark_login()
            store.save()
        assert calls == {"PutItem": 2, "Query": 1, "DeleteItem": 2}

    def test_sign_out_cost(self):
        store = SessionStore(_signed_in("alice").session_key)
        store.get(SESSION_KEY)
        with count_calls() as calls:
            store.flush()
        assert calls == {"Query": 1, "DeleteItem": 1}

    def test_cookie_for_a_never_issued_key_gets_a_fresh_session(self, page):
        client = page
        client.cookies[settings.SESSION_COOKIE_NAME] = "n" * session_keys.SESSION_KEY_LENGTH
        response = client.get("/")
        assert response.status_code == 200
        assert response.cookies[settings.SESSION_COOKIE_NAME].value == ""  # the cookie is dropped
        assert _partition("n" * session_keys.SESSION_KEY_LENGTH) == []

    # --- the eight access patterns ----------------------------------------------------------

    def test_create_session_is_a_conditional_put_that_never_overwrites(self):
        key = "c" * session_keys.SESSION_KEY_LENGTH
        record = session_patterns.create_session(session_key=key, session_data="one",
                                                 expires_at=_epoch(timedelta(hours=1)), user_id="alice")
        assert (record.PK, record.SK) == ("suuid#" + _digest(key), "c#alice")
        assert key not in record.PK
        with pytest.raises(CreateError):
            session_patterns.create_session(session_key=key, session_data="two",
                                            expires_at=_epoch(timedelta(hours=1)), user_id="alice")
        assert _own(key).session_data == "one"

    def test_get_session_by_session_id_returns_live_sessions_only(self):
        live = _signed_in("alice")
        record = session_patterns.get_session_by_session_id(_key(live.session_key))
        assert record.partition_digest == _digest(live.session_key) and record.user_id == "alice"
        assert session_patterns.get_session_by_session_id(_key("u" * 32)) is None
        expired = _anonymous()
        _set(_own(expired.session_key), expires_at=_epoch(-timedelta(seconds=1)))
        assert session_patterns.get_session_by_session_id(_key(expired.session_key)) is None
        closing = _anonymous()
        _set(_own(closing.session_key), session_state=models.CLOSING)
        assert session_patterns.get_session_by_session_id(_key(closing.session_key)) is None
        assert SessionStore(closing.session_key).load() == {}

    def test_expire_session_deletes_children_first_then_the_session(self, monkeypatch):
        parent = _signed_in("alice")
        devices = [_linked_device(parent), _linked_device(parent)]
        deleted = []
        real_delete = session_patterns.delete_record
        monkeypatch.setattr(session_patterns, "delete_record",
                            lambda pk, sk: (deleted.append(sk), real_delete(pk, sk)))
        session_patterns.expire_session(_key(parent.session_key))
        assert sorted(deleted[:2]) == sorted(keys.child_sk(_digest(d.session_key)) for d in devices)
        assert deleted[2:] == ["c#alice"]
        assert _partition(parent.session_key) == []

    def test_get_child_sessions_by_session_id(self):
        parent = _signed_in("alice")
        assert session_patterns.get_child_sessions_by_session_id(_digest(parent.session_key)) == []
        device = _linked_device(parent)
        [child] = session_patterns.get_child_sessions_by_session_id(_digest(parent.session_key))
        assert child.is_child and child.child_digest == _digest(device.session_key)
        assert child.partition_digest == _digest(parent.session_key)
        assert child.stored_key == _key(device.session_key)
        assert session_patterns.get_child_sessions_by_session_id(_digest(_signed_in("bob").session_key)) == []

    def test_get_session_by_child_session_id_returns_the_child_under_its_parent(self):
        parent = _signed_in("alice")
        device = _linked_device(parent)
        record = session_patterns.get_session_by_child_session_id(_digest(device.session_key))
        assert record.PK == keys.session_pk(_digest(parent.session_key))
        assert record.SK == keys.child_sk(_digest(device.session_key))
        assert record.child_digest == _digest(device.session_key) and record.user_id is None
        unknown_device = _digest("q" * session_keys.CHILD_KEY_LENGTH)
        assert session_patterns.get_session_by_child_session_id(unknown_device) is None

    def test_get_last_login_time_by_customer_id_is_the_true_latest(self):
        now = datetime.now(timezone.utc).replace(microsecond=0)
        expires = _epoch(timedelta(hours=1))
        # GSI order is by PK: a…, m…, z…. The latest sign-in is neither first nor last.
        for letter, age in (("a", timedelta(hours=2)), ("m", timedelta()), ("z", timedelta(hours=1))):
            session_patterns.create_session(session_key=letter * 32, session_data="x", expires_at=expires,
                                            user_id="alice", last_login_time=now - age)
        session_patterns.create_session(session_key="b" * 32, session_data="x", expires_at=expires,
                                        user_id="bob", last_login_time=now + timedelta(hours=1))
        assert session_patterns.get_last_login_time_by_user_id("alice") == now
        assert session_patterns.get_last_login_time_by_user_id("nobody") is None

    def test_get_session_id_by_customer_id(self, monkeypatch):
        alice, bob = _signed_in("alice"), _signed_in("bob")
        device = _linked_device(alice)
        assert session_patterns.session_belongs_to_user("alice", _key(alice.session_key)) is True
        assert session_patterns.session_belongs_to_user("alice", _key(device.session_key)) is True
        assert session_patterns.session_belongs_to_user("alice", _key(bob.session_key)) is False
        assert session_patterns.session_belongs_to_user("bob", _key(device.session_key)) is False
        assert session_patterns.session_belongs_to_user("alice", _key("u" * 32)) is False
        # The GSI lags: a session not indexed yet is still recognised, from the base table.
        monkeypatch.setattr(SessionRecord.user_index, "query", lambda *a, **k: iter(()))
        assert session_patterns.session_belongs_to_user("alice", _key(alice.session_key)) is True
        assert session_patterns.session_belongs_to_user("alice", _key(bob.session_key)) is False

    def test_get_sessions_by_customer_id(self):
        first, second = _signed_in("alice"), _signed_in("alice")
        _signed_in("bob")
        expired = _signed_in("alice")
        _set(_own(expired.session_key), expires_at=_epoch(-timedelta(seconds=1)))
        listed = session_patterns.get_sessions_by_user_id("alice")
        assert sorted(r.partition_digest for r in listed) == sorted([_digest(first.session_key),
                                                                   _digest(second.session_key)])
        assert all(r.user_id == "alice" for r in listed)
        assert session_patterns.get_sessions_by_user_id("nobody") == []

    def test_sessions_list_right_after_sign_in_includes_the_current_session(self, monkeypatch):
        older = _signed_in("alice")
        current = _signed_in("alice")
        index_query = SessionRecord.user_index.query
        lagging = lambda hash_key, *a, **k: (r for r in index_query(hash_key, *a, **k)  # noqa: E731
                                            if r.partition_digest != _digest(current.session_key))
        monkeypatch.setattr(SessionRecord.user_index, "query", lagging)
        listed = session_patterns.get_sessions_by_user_id("alice")
        assert {r.partition_digest for r in listed} == {_digest(older.session_key)}
        merged = session_patterns.get_sessions_by_user_id("alice", current_session_key=current.session_key)
        assert {r.partition_digest for r in merged} == {_digest(older.session_key),
                                                         _digest(current.session_key)}
        assert session_patterns.get_last_login_time_by_user_id(
            "alice", current_session_key=current.session_key) == _own(current.session_key).last_login_time
        other = _signed_in("bob")
        merged = session_patterns.get_sessions_by_user_id("alice", current_session_key=other.session_key)
        assert _digest(other.session_key) not in {r.partition_digest for r in merged}

    # --- linked devices (child sessions) ----------------------------------------------------

    def test_link_as_child_creates_the_device_session_under_the_parent(self):
        parent = _signed_in("alice")
        before = _anonymous(device=True)
        old_key = before.session_key
        device = SessionStore(old_key)
        device.link_as_child(_digest(parent.session_key))
        assert _partition(old_key) == []  # this browser's previous session is gone
        device[SESSION_KEY] = "alice"
        device.set_client_info(user_agent="Phone/1", ip="192.0.2.9")
        device.mark_login()
        device.save()
        key = device.session_key
        assert len(key) == session_keys.CHILD_KEY_LENGTH and session_keys.is_child_key(key)
        assert not session_keys.is_child_key(parent.session_key)
        [child] = [r for r in _partition(parent.session_key) if r.is_child]
        assert child.SK == keys.child_sk(_digest(key)) and child.last_login_time is not None
        assert (child.user_agent, child.ip) == ("Phone/1", "192.0.2.9")
        assert _partition(key) == []  # a child has no partition of its own
        again = SessionStore(key)
        assert again[SESSION_KEY] == "alice" and again["device"] is True
        again["more"] = 1
        again.save()
        assert SessionStore(key)["more"] == 1

    def test_a_forged_device_key_costs_one_index_query_and_no_wait(self, monkeypatch):
        waits = []
        monkeypatch.setattr(session_patterns.time, "sleep", waits.append)
        forged = "f" * session_keys.CHILD_KEY_LENGTH
        with count_calls() as calls:
            assert session_patterns.get_session_by_session_id(_key(forged)) is None
            assert SessionStore(forged).load() == {}
        assert waits == [] and calls == {"Query": 2}

    def test_a_just_linked_device_waits_once_for_the_index(self, monkeypatch):
        parent = _signed_in("alice")
        device = _linked_device(parent)
        real = session_patterns.child_from_index
        looks = []

        def lagging_index(digest):  # the index has not caught up on the first look
            looks.append(digest)
            return None if len(looks) == 1 else real(digest)

        monkeypatch.setattr(session_patterns, "child_from_index", lagging_index)
        waits = []
        monkeypatch.setattr(session_patterns.time, "sleep", waits.append)
        store = SessionStore(device.session_key)
        store.expect_new_link()
        assert store[SESSION_KEY] == "alice"
        assert waits == [session_patterns.CHILD_INDEX_RETRY_SECONDS] and len(looks) == 2

    def test_a_signed_just_linked_cookie_lets_the_engine_wait_and_a_forged_one_does_not(self):
        from accounts.middleware import JUST_LINKED_COOKIE

        parent = _signed_in("alice")
        seen = []

        class Recorder(SessionStore):
            def expect_new_link(self):
                seen.append(True)
                super().expect_new_link()

        from django.core import signing
        from django.http import HttpResponse
        from django.test import RequestFactory

        from accounts.middleware import AuthenticationMiddleware

        request = RequestFactory().get("/")
        request.session = Recorder(_linked_device(parent).session_key)
        # What response.set_signed_cookie(name, "1", salt=name) writes:
        request.COOKIES[JUST_LINKED_COOKIE] = signing.get_cookie_signer(salt=JUST_LINKED_COOKIE * 2).sign("1")
        AuthenticationMiddleware(lambda r: HttpResponse())(request)
        assert seen == [True]
        request.COOKIES[JUST_LINKED_COOKIE] = "1:forged"
        seen.clear()
        AuthenticationMiddleware(lambda r: HttpResponse())(request)
        assert seen == []

    def test_expiring_the_parent_ends_the_childs_requests(self, page):
        client = page
        parent = _signed_in("alice")
        device = _linked_device(parent)
        client.cookies[settings.SESSION_COOKIE_NAME] = device.session_key
        assert client.get("/").content == b"hello Alice"
        session_patterns.expire_session(_key(parent.session_key))
        response = client.get("/")
        assert response.content == b"hello AnonymousUser"
        assert response.cookies[settings.SESSION_COOKIE_NAME].value == ""
        assert SessionStore(device.session_key).load() == {}

    def test_child_request_costs_two_reads_and_no_write(self, page):
        device = _linked_device(_signed_in("alice"))
        page.cookies[settings.SESSION_COOKIE_NAME] = device.session_key
        page.get("/")  # the user item is now cached in this process
        with count_calls() as calls:
            response = page.get("/")
        assert response.content == b"hello Alice"
        assert calls == {"Query": 2}  # GSI1_inverse, then the parent's partition (consistent)

    def test_orphaned_child_is_not_a_session(self):
        parent = _signed_in("alice")
        device = _linked_device(parent)
        own = _own(parent.session_key)
        session_patterns.delete_record(own.PK, own.SK)  # the parent went, the child delete never happened
        assert SessionStore(device.session_key).load() == {}

    def test_child_ends_when_the_parent_expires_by_time(self):
        parent = _signed_in("alice")
        device = _linked_device(parent)
        _set(_own(parent.session_key), expires_at=_epoch(-timedelta(seconds=1)))
        assert SessionStore(device.session_key).load() == {}

    def test_linking_to_an_ended_session_fails_and_leaves_no_child(self):
        parent = _signed_in("alice")
        parent_key = parent.session_key
        parent.flush()
        device = _anonymous()
        device.link_as_child(_digest(parent_key))
        device[SESSION_KEY] = "alice"
        with pytest.raises(session_engine.ParentSessionEnded):
            device.save()
        assert _partition(parent_key) == []

    def test_link_as_child_rejects_a_child_or_own_key(self):
        parent = _signed_in("alice")
        device = _linked_device(parent)
        with pytest.raises(ValueError):
            SessionStore().link_as_child(parent.session_key)  # a cookie, not a digest
        with pytest.raises(ValueError):
            SessionStore(parent.session_key).link_as_child(_digest(parent.session_key))
        under_a_device = _anonymous()
        under_a_device.link_as_child(_digest(device.session_key))  # a device has no record of its own
        under_a_device[SESSION_KEY] = "alice"
        with pytest.raises(session_engine.ParentSessionEnded):
            under_a_device.save()

    def test_signing_out_a_device_keeps_the_parent(self):
        parent = _signed_in("alice")
        device = _linked_device(parent)
        device_key = device.session_key
        device.flush()
        assert session_patterns.get_child_sessions_by_session_id(_digest(parent.session_key)) == []
        assert SessionStore(parent.session_key)[SESSION_KEY] == "alice"
        device["after"] = 1
        device.save()
        assert not session_keys.is_child_key(device.session_key) and device.session_key != device_key

    def test_cycle_key_on_a_device_makes_it_a_session_of_its_own(self):
        parent = _signed_in("alice")
        device = _linked_device(parent)
        device.cycle_key()  # e.g. signing in again with the password on that device
        device.save()
        assert session_patterns.get_child_sessions_by_session_id(_digest(parent.session_key)) == []
        assert not session_keys.is_child_key(device.session_key)
        assert _own(device.session_key).SK == "c#alice"
        session_patterns.expire_session(_key(parent.session_key))
        assert SessionStore(device.session_key)[SESSION_KEY] == "alice"

    # --- revocation ---------------------------------------------------------------------------

    def test_revoking_one_session_ends_only_that_session(self):
        here, elsewhere = _signed_in("alice"), _signed_in("alice")
        device = _linked_device(elsewhere)
        assert session_patterns.session_belongs_to_user("alice", _key(elsewhere.session_key))
        session_patterns.expire_session(_key(elsewhere.session_key))
        assert SessionStore(elsewhere.session_key).load() == {}
        assert SessionStore(device.session_key).load() == {}
        assert SessionStore(here.session_key)[SESSION_KEY] == "alice"
        with pytest.raises(UpdateError):
            elsewhere["still"] = "here"
            elsewhere.save()
        assert _partition(elsewhere.session_key) == []

    def test_revoking_a_linked_device_keeps_its_parent(self):
        parent = _signed_in("alice")
        device, other_device = _linked_device(parent), _linked_device(parent)
        session_patterns.expire_session(_key(device.session_key))
        assert SessionStore(device.session_key).load() == {}
        assert SessionStore(other_device.session_key)[SESSION_KEY] == "alice"
        assert SessionStore(parent.session_key)[SESSION_KEY] == "alice"

    def test_half_finished_expiry_already_ends_the_family(self, monkeypatch):
        parent = _signed_in("alice")
        device = _linked_device(parent)

        def crash(pk, sk):
            raise RuntimeError("DynamoDB went away")

        monkeypatch.setattr(session_patterns, "delete_record", crash)
        with pytest.raises(RuntimeError):
            session_patterns.expire_session(_key(parent.session_key))
        monkeypatch.undo()
        assert SessionStore(parent.session_key).load() == {}
        assert SessionStore(device.session_key).load() == {}
        SessionStore.clear_expired()  # sweeps the closing parent and its child
        assert _partition(parent.session_key) == []

    # --- clearing expired sessions ------------------------------------------------------------

    def _mixed_records(self):
        live = [_signed_in("alice"), _anonymous()]
        expired = [_anonymous(), _signed_in("bob")]
        expired_parent = _signed_in("carol")
        expired_parents_child = _linked_device(expired_parent)
        live_parent = _signed_in("dave")
        live_child = _linked_device(live_parent)
        for store in expired + [expired_parent]:
            _set(_own(store.session_key), expires_at=_epoch(-timedelta(minutes=1)))
        return live + [live_parent, live_child], expired + [expired_parent, expired_parents_child]

    def test_clear_expired_deletes_expired_records_and_keeps_live_ones(self):
        live, expired = self._mixed_records()
        SessionStore.clear_expired()
        for store in expired:
            assert not store.exists(store.session_key)
        assert _partition(expired[2].session_key) == []  # the dead parent's child went too
        for store in live:
            assert SessionStore(store.session_key).load() != {}

    def test_clearsessions_command_pages_through_and_reports_progress(self):
        live, expired = self._mixed_records()
        out = StringIO()
        call_command("clearsessions", "--page-size", "2", stdout=out)
        lines = out.getvalue().splitlines()
        progress = [line for line in lines if line.startswith("page ")]
        # 8 records, 2 per page (the dead parent's child may be deleted before the scan reaches it)
        assert len(progress) >= 4
        assert progress[0].startswith("page 1: 2 records scanned")
        assert progress[-1].endswith("4 deleted")
        assert lines[-1].startswith("Deleted 4 expired session records (")
        remaining = list(SessionRecord.scan())
        assert len(remaining) == 4  # alice, the anonymous one, dave and his device
        assert all(r.is_live() for r in remaining)
        for store in live:
            assert SessionStore(store.session_key).load() != {}


class TestSessionsOnMoto(SessionContract):
    @pytest.fixture
    def tables(self, moto_tables):
        return moto_tables
