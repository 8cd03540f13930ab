"""Limits on sign-in, sign-up and room creation (moto, through the pages): successes don't count,
the per-address limit sits well above the per-user one, a known browser still gets in while its
user is locked out elsewhere, sign-ups and room creations per window are capped with a clear 429,
and a taken name costs no password hash. Races: tests/integration/test_throttle_races.py."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client, RequestFactory

from accounts import known_devices, services
from accounts.request_info import client_ip
from chatsite import dynamodb
from rooms import selectors as room_selectors
from tests.support.users import PASSWORD, create_user

ATTACKER_IP = "198.51.100.66"


def sign_in(client: Client, username: str, password: str = PASSWORD, ip: str = "203.0.113.5"):
    return client.post("/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=ip)


def body(response) -> str:
    return response.content.decode()


@pytest.fixture
def limits(settings):
    settings.ACCOUNTS_SIGN_IN_FAILURE_LIMIT = 3
    settings.ACCOUNTS_SIGN_IN_IP_FAILURE_LIMIT = 8
    return settings


# --- sign-in ------------------------------------------------------------------------------------

def test_successful_sign_ins_do_not_count_as_failures(moto_tables, limits):
    create_user("alice")
    for _ in range(5):
        assert sign_in(Client(), "alice").status_code == 302
    for _ in range(2):
        response = sign_in(Client(), "alice", "wrong")
        assert response.status_code == 200 and "match an account" in body(response)


def test_the_per_address_limit_is_separate_and_well_above_the_per_user_one(moto_tables, limits):
    create_user("victim")
    for name in ("ann", "ben"):  # six failures from one office address, on two names
        for _ in range(3):
            sign_in(Client(), name, "wrong", ip=ATTACKER_IP)
    assert sign_in(Client(), "victim", ip=ATTACKER_IP).status_code == 302  # the office is not locked out
    sign_in(Client(), "cat", "wrong", ip=ATTACKER_IP)
    sign_in(Client(), "cat", "wrong", ip=ATTACKER_IP)  # eighth failure from the address
    response = sign_in(Client(), "victim", ip=ATTACKER_IP)
    assert response.status_code == 429 and "Too many failed sign-ins" in body(response)
    assert sign_in(Client(), "victim", ip="192.0.2.1").status_code == 302


def test_a_known_browser_still_signs_in_while_the_user_is_locked_out_elsewhere(moto_tables, limits):
    create_user("alice")
    laptop = Client()
    first = sign_in(laptop, "alice")
    cookie = first.cookies[known_devices.COOKIE_NAME]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    assert int(cookie["max-age"]) == settings.ACCOUNTS_KNOWN_DEVICE_SECONDS >= 30 * 24 * 3600
    assert bool(cookie["secure"]) == settings.SESSION_COOKIE_SECURE
    assert "alice" not in cookie.value  # the cookie does not say who used the browser
    laptop.post("/accounts/logout/")

    attacker = Client()
    for _ in range(3):
        sign_in(attacker, "alice", "wrong", ip=ATTACKER_IP)
    assert sign_in(attacker, "alice", ip=ATTACKER_IP).status_code == 429  # locked out for new browsers
    assert sign_in(Client(), "alice").status_code == 429

    assert sign_in(laptop, "alice").status_code == 302  # but not on the owner's own browser
    laptop.post("/accounts/logout/")
    for _ in range(2):  # the known browser has a limit of its own
        assert sign_in(laptop, "alice", "wrong").status_code == 200
    assert sign_in(laptop, "alice", "wrong").status_code == 429
    assert sign_in(laptop, "alice").status_code == 429


def test_a_known_device_entry_counts_only_for_its_own_user_and_only_when_signed(moto_tables, limits):
    create_user("alice")
    create_user("bob")
    bobs_browser = Client()
    sign_in(bobs_browser, "bob")
    bobs_browser.post("/accounts/logout/")
    for _ in range(3):
        sign_in(Client(), "alice", "wrong", ip=ATTACKER_IP)
    assert sign_in(bobs_browser, "alice").status_code == 429  # a cookie for bob is no pass for alice

    forged = Client()
    forged.cookies[known_devices.COOKIE_NAME] = bobs_browser.cookies[known_devices.COOKIE_NAME].value[:-2] + "xx"
    assert sign_in(forged, "alice").status_code == 429
    request = RequestFactory().get("/", HTTP_COOKIE=f"{known_devices.COOKIE_NAME}=garbage")
    assert known_devices.device_for(request, "alice") is None


def test_a_known_browser_remembers_several_users_each_with_its_own_device_id(moto_tables):
    create_user("alice")
    create_user("bob")
    shared = Client()
    sign_in(shared, "alice")
    shared.post("/accounts/logout/")
    sign_in(shared, "bob")
    request = RequestFactory().get("/", HTTP_COOKIE=f"{known_devices.COOKIE_NAME}="
                                                    f"{shared.cookies[known_devices.COOKIE_NAME].value}")
    alice, bob = known_devices.device_for(request, "ALICE"), known_devices.device_for(request, "bob")
    assert alice and bob and alice != bob


def test_sign_in_costs(moto_tables):
    create_user("alice")
    request = RequestFactory().post("/accounts/login/", REMOTE_ADDR="203.0.113.5")
    with dynamodb.count_calls() as calls, pytest.raises(services.InvalidCredentials):
        services.sign_in(request=request, ip=client_ip(request, network=True), username="alice", password="wrong")
    assert calls == {"UpdateItem": 2, "GetItem": 1}  # two reservations, the user


@pytest.mark.parametrize("what", ["sign-in", "password change"])
def test_a_throttled_attempt_costs_one_refused_update_and_no_hash(moto_tables, settings, monkeypatch, what):
    settings.ACCOUNTS_SIGN_IN_FAILURE_LIMIT = 1
    create_user("alice")
    request = RequestFactory().post("/", REMOTE_ADDR="203.0.113.5")
    request.user = type("U", (), {"id": "alice"})()
    attempt = {
        "sign-in": lambda: services.sign_in(request=request, ip=client_ip(request, network=True), username="alice",
                                            password="wrong"),
        "password change": lambda: services.password_change(request=request, old_password="wrong",
                                                             new_password="a-new-pass-123"),
    }[what]
    with pytest.raises(services.Throttled):  # the one allowed failure reaches the limit
        attempt()
    monkeypatch.setattr("accounts.services.check_password", lambda *a, **k: pytest.fail("hashed while throttled"))
    with dynamodb.count_calls() as calls, pytest.raises(services.Throttled):
        attempt()
    assert calls == {"UpdateItem": 1}


# --- sign-up ------------------------------------------------------------------------------------

def sign_up(client: Client, username: str, ip: str = "203.0.113.5", display_name: str | None = None):
    return client.post("/accounts/signup/", {"username": username, "display_name": display_name or username.title(),
                                             "password1": PASSWORD, "password2": PASSWORD}, REMOTE_ADDR=ip)


def test_sign_ups_per_address_are_limited_with_a_clear_message_and_the_form_kept(moto_tables, settings):
    settings.ACCOUNTS_SIGN_UP_LIMIT = 3
    for n in range(3):
        assert sign_up(Client(), f"user{n}", ip="2001:db8::1").status_code == 302
    response = sign_up(Client(), "user3", ip="2001:db8::ffff", display_name="Number Three")  # same /64
    assert response.status_code == 429
    assert "Too many sign-ups from your network. Try again in" in body(response)
    assert 'value="user3"' in body(response) and 'value="Number Three"' in body(response)
    assert services.selectors.user_get(user_id="user3") is None
    assert sign_up(Client(), "user3", ip="2001:db8:1::1").status_code == 302


def test_a_taken_name_costs_no_password_hash(moto_tables, monkeypatch):
    create_user("alice")
    hashed = []
    real = services.make_password
    monkeypatch.setattr(services, "make_password", lambda raw, *a, **k: hashed.append(raw) or real(raw, *a, **k))
    with dynamodb.count_calls() as calls, pytest.raises(services.UsernameTaken):
        services.user_create(username="ALICE", display_name="Imposter", password=PASSWORD)
    assert hashed == [] and calls["GetItem"] == 1 and "UpdateItem" not in calls
    response = sign_up(Client(), "Alice")
    assert response.status_code == 200 and "That username is taken" in body(response) and hashed == []
    services.user_create(username="bob", display_name="Bob", password=PASSWORD)
    assert len(hashed) == 1


# --- room creation ------------------------------------------------------------------------------

def test_room_creations_per_user_are_limited_with_a_clear_message_and_the_form_kept(moto_tables, settings):
    settings.CHAT_ROOM_CREATE_LIMIT = 2
    create_user("alice")
    create_user("bob")
    alice, bob = Client(), Client()
    sign_in(alice, "alice")
    sign_in(bob, "bob")
    for name in ("One", "Two"):
        assert alice.post("/", {"name": name, "description": ""}).status_code == 302
    response = alice.post("/", {"name": "Three", "description": "a third"})
    assert response.status_code == 429
    assert "You have created a lot of rooms lately. Try again in" in body(response)
    assert 'value="Three"' in body(response) and "a third" in body(response)
    with pytest.raises(room_selectors.RoomNotFound):
        room_selectors.room_get(room_id="three")
    assert bob.post("/", {"name": "Three", "description": ""}).status_code == 302  # per user
