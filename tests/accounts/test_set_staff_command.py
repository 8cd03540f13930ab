"""`manage.py set_staff <username> --on/--off` (moto): asks first, and existing sessions follow."""

import io

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from accounts import selectors
from tests.support.users import PASSWORD, create_user


def run(*args, answer: str | None = None, monkeypatch=None) -> str:
    if answer is not None:
        monkeypatch.setattr("builtins.input", lambda prompt="": answer)
    out = io.StringIO()
    call_command("set_staff", *args, stdout=out)
    return out.getvalue()


def is_staff(username: str = "alice") -> bool:
    return selectors.user_get(user_id=username).is_staff


def test_set_staff_on_and_off(moto_tables):
    create_user("alice")
    assert "'alice' is now staff" in run("Alice", "--on", "--yes")
    assert is_staff()
    assert "already staff; nothing changed" in run("alice", "--on", "--yes")
    assert "'alice' is no longer staff" in run("alice", "--off", "--yes")
    assert not is_staff()
    assert "not staff; nothing changed" in run("alice", "--off")  # nothing to ask about


def test_set_staff_asks_first(moto_tables, monkeypatch):
    create_user("alice")
    with pytest.raises(CommandError, match="Nothing changed"):
        run("alice", "--on", answer="n", monkeypatch=monkeypatch)
    assert not is_staff()
    run("alice", "--on", answer="y", monkeypatch=monkeypatch)
    assert is_staff()


def test_set_staff_needs_exactly_one_of_on_and_off(moto_tables):
    create_user("alice")
    with pytest.raises(CommandError):
        call_command("set_staff", "alice", "--yes")
    with pytest.raises(CommandError):
        call_command("set_staff", "alice", "--on", "--off", "--yes")


def test_set_staff_names_the_fix_for_an_unknown_user(moto_tables):
    with pytest.raises(CommandError, match="No user named 'ghost'.*list_users"):
        call_command("set_staff", "ghost", "--on", "--yes")


def test_a_demoted_user_keeps_their_session_but_not_staff_powers(moto_tables):
    from rooms import services as room_services
    from accounts import auth

    create_user("alice", is_staff=True)
    room = room_services.room_create(name="Art", description="", created_by="bob")
    bob = auth.session_user(create_user("bob"))
    message = room_services.message_post(room=room, author=bob, comment="hi", idempotency_key="k" * 20).message
    client = Client()
    assert client.post("/accounts/login/", {"username": "alice", "password": PASSWORD}).status_code == 302
    run("alice", "--off", "--yes")
    assert client.get("/accounts/profile/").status_code == 200
    response = client.post("/rooms/art/messages/delete", {"author": "bob", "sk": message.sk})
    assert response.status_code == 403
