"""`manage.py expire_sessions` for a user whose session has linked devices: the session is first
marked closing (an UpdateItem on session_store), then its devices and itself are deleted. The
admin role must allow that UpdateItem (tests/integration/test_iam_policy_matches_calls.py records
these calls as the admin role's)."""

from __future__ import annotations

from accounts.session_engine import SessionStore
from chatsite.dynamodb import count_calls
from tests.accounts.test_commands import run
from tests.accounts.test_sessions import _linked_device, _signed_in
from tests.support.users import create_user


def test_expire_sessions_ends_a_session_and_its_linked_devices(moto_tables, monkeypatch):
    create_user("alice")
    laptop = _signed_in("alice")
    phone = _linked_device(laptop)
    assert SessionStore(phone.session_key).load()  # the device works before
    with count_calls() as calls:
        out = run("expire_sessions", "alice", answer="yes", monkeypatch=monkeypatch)
    assert "session(s) ended" in out
    assert calls["UpdateItem"] == 1, calls  # the session marked closing before its devices go
    assert SessionStore(laptop.session_key).load() == {}
    assert SessionStore(phone.session_key).load() == {}
