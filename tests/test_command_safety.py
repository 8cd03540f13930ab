"""seed_demo publishes no password, and commands that change what exists ask first unless --yes
(the rule of deactivate_user, set_password, delete_room, …)."""

import io
import re

import pytest
from django.core.management import CommandError, call_command

from accounts import services
from accounts.models import UserRecord
from chatsite import keys
from rooms.models import MessageRecord
from tests.support.users import create_user

OLD_PUBLISHED_PASSWORD = "demo-password-123"


@pytest.fixture(autouse=True)
def fast_hashes(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def run(*args, stdin=None, answer=None, monkeypatch=None) -> str:
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    if answer is not None:
        monkeypatch.setattr("builtins.input", lambda prompt="": answer)
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def messages_in(room_id):
    return len(list(MessageRecord.room_index.query(room_id)))


def printed_password(out: str) -> str:
    return re.search(r"password '([^']+)'", out).group(1)


def test_seed_demo_prints_a_random_password_that_works(moto_tables):
    out = run("seed_demo", "--users", "2", "--rooms", "1", "--messages", "2")
    password = printed_password(out)
    assert password != OLD_PUBLISHED_PASSWORD and len(password) >= 16
    assert services.verify_credentials("demo1", password) is not None
    assert services.verify_credentials("demo2", password) is not None
    assert services.verify_credentials("demo1", OLD_PUBLISHED_PASSWORD) is None


def test_seed_demo_passwords_differ_between_sites(moto_tables):
    first = printed_password(run("seed_demo", "--users", "1", "--rooms", "0"))
    UserRecord(keys.user_pk("demo1"), keys.META).delete()
    second = printed_password(run("seed_demo", "--users", "1", "--rooms", "0"))
    assert first != second


def test_seed_demo_reads_the_password_from_stdin(moto_tables, monkeypatch):
    out = run("seed_demo", "--users", "1", "--rooms", "0", "--password-stdin",
              stdin="my-own-demo-secret-42\n", monkeypatch=monkeypatch)
    assert "my-own-demo-secret-42" not in out
    assert services.verify_credentials("demo1", "my-own-demo-secret-42") is not None


def test_seed_demo_applies_the_password_validators_to_stdin(moto_tables, monkeypatch):
    with pytest.raises(CommandError, match="Password rejected"):
        run("seed_demo", "--users", "1", "--password-stdin", stdin="123\n", monkeypatch=monkeypatch)
    assert UserRecord.count(keys.user_pk("demo1")) == 0


def test_seed_demo_says_existing_users_keep_their_passwords(moto_tables):
    create_user("demo1", password="kept-password-for-demo1")
    out = run("seed_demo", "--users", "2", "--rooms", "0")
    assert "demo1" in out and "keep" in out
    assert services.verify_credentials("demo1", "kept-password-for-demo1") is not None


def test_seed_demo_asks_before_adding_to_existing_rooms(moto_tables, monkeypatch):
    run("seed_demo", "--users", "1", "--rooms", "2", "--messages", "3")
    assert messages_in("general") == 3
    with pytest.raises(CommandError, match="Nothing changed"):
        run("seed_demo", "--users", "1", "--rooms", "2", "--messages", "3", answer="n", monkeypatch=monkeypatch)
    assert messages_in("general") == 3
    questions = []
    monkeypatch.setattr("builtins.input", lambda prompt="": questions.append(prompt) or "y")
    run("seed_demo", "--users", "1", "--rooms", "2", "--messages", "3")
    assert "general" in questions[0] and "random" in questions[0]
    assert messages_in("general") == 6
    run("seed_demo", "--users", "1", "--rooms", "2", "--messages", "3", "--yes")
    assert messages_in("general") == 9


def test_seed_demo_without_a_terminal_and_without_yes_changes_nothing(moto_tables):
    run("seed_demo", "--users", "1", "--rooms", "1", "--messages", "1")
    with pytest.raises(CommandError, match="pass --yes"):
        run("seed_demo", "--users", "1", "--rooms", "1", "--messages", "1")  # pytest's stdin can't be read
    assert messages_in("general") == 1


def test_activate_user_asks_first(moto_tables, monkeypatch):
    create_user("alice")
    UserRecord(keys.user_pk("alice"), keys.META).update(actions=[UserRecord.is_active.set(False)])
    with pytest.raises(CommandError, match="Nothing changed"):
        run("activate_user", "alice", answer="n", monkeypatch=monkeypatch)
    assert not UserRecord.get(keys.user_pk("alice"), keys.META).is_active
    assert "Activated 'alice'" in run("activate_user", "alice", answer="y", monkeypatch=monkeypatch)
    assert UserRecord.get(keys.user_pk("alice"), keys.META).is_active


def test_activate_user_with_yes_does_not_ask(moto_tables, monkeypatch):
    create_user("alice")
    monkeypatch.setattr("builtins.input", lambda prompt="": pytest.fail("asked despite --yes"))
    assert "Activated 'alice'" in run("activate_user", "alice", "--yes")
