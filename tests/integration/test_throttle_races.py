"""Throttles under real concurrency (dynalite): N parallel attempts against a limit get at most
the limit's worth of password checks, code look-ups, accounts or rooms. Each test fires its
attempts from threads released together by a barrier.

Before reservations the sign-in read the counter, checked the password, then counted: 16 parallel
guesses all saw an empty counter and all got their password checked.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest
from django.test import Client, RequestFactory

from accounts import selectors, services
from accounts.request_info import client_ip
from rooms import selectors as room_selectors
from rooms import services as room_services
from tests.support.users import PASSWORD, create_user

N = 16
LIMIT = 5


def in_parallel(attempt, n: int = N) -> list:
    """Run attempt(i) for i in range(n) in n threads started at once; exceptions are returned."""
    barrier = threading.Barrier(n)

    def run(i):
        barrier.wait()
        try:
            return attempt(i)
        except Exception as exc:  # noqa: BLE001 (the outcome is what the test inspects)
            return exc

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(run, range(n)))


def counting(monkeypatch, target: str, calls: list):
    """Wrap the real function at ``target`` so every call is recorded with its result."""
    module, name = target.rsplit(".", 1)
    real = getattr(__import__(module, fromlist=[name]), name)

    def wrapper(*args, **kwargs):
        result = real(*args, **kwargs)
        calls.append(result)
        return result

    monkeypatch.setattr(target, wrapper)


@pytest.fixture
def limits(settings):
    settings.ACCOUNTS_SIGN_IN_FAILURE_LIMIT = LIMIT
    settings.ACCOUNTS_SIGN_IN_IP_FAILURE_LIMIT = 50
    settings.ACCOUNTS_DEVICE_LINK_FAILURE_LIMIT = LIMIT
    settings.ACCOUNTS_SIGN_UP_LIMIT = LIMIT
    settings.CHAT_ROOM_CREATE_LIMIT = LIMIT
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    return settings


def test_parallel_wrong_passwords_get_at_most_the_limit_checked(dynalite_tables, limits, monkeypatch):
    create_user("alice")
    checks: list[bool] = []
    counting(monkeypatch, "accounts.services.check_password", checks)
    outcomes = in_parallel(lambda i: Client().post("/accounts/login/", {"username": "alice", "password": f"guess{i}"},
                                                   REMOTE_ADDR=f"198.51.100.{i + 1}"))
    assert 1 <= len(checks) <= LIMIT and not any(checks)
    assert sum(r.status_code == 429 for r in outcomes) >= N - LIMIT


def test_the_right_password_among_parallel_guesses_gets_no_extra_wrong_checks(dynalite_tables, limits, monkeypatch):
    create_user("alice")
    checks: list[bool] = []
    counting(monkeypatch, "accounts.services.check_password", checks)
    outcomes = in_parallel(lambda i: Client().post("/accounts/login/", {
        "username": "alice", "password": PASSWORD if i == N - 1 else f"guess{i}"}, REMOTE_ADDR="198.51.100.7"))
    wrong_checked = checks.count(False)
    assert wrong_checked <= LIMIT
    assert all(r.status_code in (200, 302, 429) for r in outcomes)
    if outcomes[-1].status_code == 302:  # the right one got a slot: it was checked and it won
        assert checks.count(True) == 1


def test_parallel_wrong_old_passwords_get_at_most_the_limit_checked(dynalite_tables, limits, monkeypatch):
    create_user("alice")
    checks: list[bool] = []
    counting(monkeypatch, "accounts.services.check_password", checks)
    request = SimpleNamespace(user=SimpleNamespace(id="alice"))
    outcomes = in_parallel(lambda i: services.password_change(request=request, old_password=f"guess{i}",
                                                              new_password="a-whole-new-pass-42"))
    assert 1 <= len(checks) <= LIMIT and not any(checks)
    assert sum(isinstance(o, services.Throttled) for o in outcomes) >= N - LIMIT
    assert services.verify_credentials("alice", PASSWORD) is not None  # unchanged


def test_parallel_wrong_link_codes_get_at_most_the_limit_looked_up(dynalite_tables, limits, monkeypatch):
    consumed: list = []
    counting(monkeypatch, "accounts.services._consume_code", consumed)
    request = RequestFactory().post("/accounts/link/redeem/", REMOTE_ADDR="192.0.2.50")
    ip = client_ip(request, network=True)
    outcomes = in_parallel(lambda i: services.device_link_redeem(request=request, ip=ip, code=f"ZZZZ-ZZ{i:02d}"))
    assert 1 <= len(consumed) <= LIMIT
    assert sum(isinstance(o, services.Throttled) for o in outcomes) >= N - LIMIT
    assert all(isinstance(o, (services.Throttled, services.DeviceLinkInvalid)) for o in outcomes)


def test_parallel_sign_ups_from_one_address_create_at_most_the_limit(dynalite_tables, limits, monkeypatch):
    hashed: list = []
    counting(monkeypatch, "accounts.services.make_password", hashed)
    outcomes = in_parallel(lambda i: Client().post("/accounts/signup/", {
        "username": f"new{i}", "display_name": f"New {i}", "password1": PASSWORD, "password2": PASSWORD},
        REMOTE_ADDR="203.0.113.9"))
    created = [i for i in range(N) if selectors.user_get(user_id=f"new{i}") is not None]
    assert 1 <= len(created) <= LIMIT and len(hashed) == len(created)
    assert sorted(r.status_code for r in outcomes) == [302] * len(created) + [429] * (N - len(created))


def test_parallel_room_creations_by_one_user_create_at_most_the_limit(dynalite_tables, limits):
    create_user("alice")
    signed_in = Client()
    assert signed_in.post("/accounts/login/", {"username": "alice", "password": PASSWORD}).status_code == 302
    cookies = {name: morsel.value for name, morsel in signed_in.cookies.items()}

    def create(i):
        client = Client()
        for name, value in cookies.items():
            client.cookies[name] = value
        return client.post("/", {"name": f"Room {i}", "description": ""})

    outcomes = in_parallel(create)
    created = [i for i in range(N) if _room_exists(f"room-{i}")]
    assert 1 <= len(created) <= LIMIT
    assert sorted(r.status_code for r in outcomes) == [302] * len(created) + [429] * (N - len(created))
    with pytest.raises(room_services.RateLimited):  # and the window stays full
        room_services.room_create_reserve(user_id="alice")


def _room_exists(room_id: str) -> bool:
    try:
        room_selectors.room_get(room_id=room_id)
    except room_selectors.RoomNotFound:
        return False
    return True
