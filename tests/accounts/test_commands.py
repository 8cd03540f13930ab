"""Account management commands through call_command (moto)."""

import io

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from accounts import services
from accounts.models import UserRecord
from chatsite import dynamodb, keys
from tests.support.users import PASSWORD, create_user

NEW_PASSWORD = "an-operator-chosen-pass-7"


def run(*args, stdin: str | None = None, answer: str | None = None, monkeypatch=None) -> str:
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    if answer is not None:
        monkeypatch.setattr("builtins.input", lambda prompt="": answer)
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def signed_in_client(username="alice") -> Client:
    client = Client()
    assert client.post("/accounts/login/", {"username": username, "password": PASSWORD}).status_code == 302
    return client


def test_create_user_reads_password_from_stdin(moto_tables, monkeypatch):
    out = run("create_user", "Alice", "--display-name", "Alice A.", "--password-stdin",
              stdin=PASSWORD + "\n", monkeypatch=monkeypatch)
    assert "Created user 'Alice'" in out
    record = UserRecord.get(keys.user_pk("alice"), keys.META)
    assert record.display_name == "Alice A." and not record.is_staff
    assert services.verify_credentials("alice", PASSWORD) is not None


def test_create_user_prompts_twice_without_echo(moto_tables, monkeypatch):
    answers = iter([PASSWORD, PASSWORD])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    monkeypatch.setattr("sys.stdin", type("Tty", (io.StringIO,), {"isatty": lambda self: True})())
    assert "Created staff user 'root'" in run("create_user", "root", "--staff")
    assert UserRecord.get(keys.user_pk("root"), keys.META).is_staff


def test_create_user_without_a_terminal_says_to_use_password_stdin(moto_tables, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    with pytest.raises(CommandError, match="--password-stdin"):
        call_command("create_user", "alice")


@pytest.mark.parametrize("username, message", [
    ("bad#name", "“#” or “:”"), ("two words", "spaces"), ("x" * 31, "at most 30"),
])
def test_create_user_rejects_bad_usernames(moto_tables, monkeypatch, username, message):
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    with pytest.raises(CommandError, match=message):
        call_command("create_user", username, "--password-stdin")


@pytest.mark.parametrize("duplicate", ["ALICE", "ａｌｉｃｅ"])
def test_create_user_rejects_duplicates_in_case_or_unicode_form(moto_tables, monkeypatch, duplicate):
    create_user("alice")
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    with pytest.raises(CommandError, match="is taken"):
        call_command("create_user", duplicate, "--password-stdin")


def test_create_user_applies_password_validators(moto_tables, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("alice\n"))
    with pytest.raises(CommandError, match="Password rejected"):
        call_command("create_user", "alice", "--password-stdin")


def test_list_users_pages_with_a_query_and_shows_status(moto_tables, monkeypatch):
    for name in ["carol", "alice", "bob"]:
        create_user(name)
    UserRecord(keys.user_pk("bob"), keys.META).update(actions=[UserRecord.is_active.set(False)])
    signed_in_client("alice")
    with dynamodb.count_calls() as calls:
        first = run("list_users", "--limit", "2")
    assert "Scan" not in calls
    lines = first.splitlines()
    assert lines[1].startswith("alice") and "active" in lines[1] and "UTC" in lines[1]
    assert lines[2].startswith("bob") and "inactive" in lines[2] and "never" in lines[2]
    cursor = lines[-1].split("--cursor ")[1]
    second = run("list_users", "--limit", "2", "--cursor", cursor)
    assert "carol" in second and "alice" not in second and "--cursor" not in second
    with pytest.raises(CommandError, match="not one list_users printed"):
        call_command("list_users", "--cursor", "made-up")


def test_set_password_asks_first_and_signs_the_user_out(moto_tables, monkeypatch):
    create_user("alice")
    client = signed_in_client()
    with pytest.raises(CommandError, match="Nothing changed"):
        run("set_password", "alice", "--password-stdin", stdin=NEW_PASSWORD + "\n", answer="n",
            monkeypatch=monkeypatch)
    assert services.verify_credentials("alice", PASSWORD) is not None
    out = run("set_password", "ALICE", "--password-stdin", stdin=NEW_PASSWORD + "\n", answer="y",
              monkeypatch=monkeypatch)
    assert "1 session(s) ended" in out
    assert services.verify_credentials("alice", NEW_PASSWORD) is not None
    assert client.get("/accounts/profile/").status_code == 302


def test_deactivate_and_activate_user(moto_tables, monkeypatch):
    create_user("alice")
    client = signed_in_client()
    out = run("deactivate_user", "alice", "--yes")
    assert "Deactivated 'alice'; 1 session(s) ended" in out
    assert client.get("/accounts/profile/").status_code == 302
    assert Client().post("/accounts/login/", {"username": "alice", "password": PASSWORD}).status_code == 200
    assert "Activated 'alice'" in run("activate_user", "alice", "--yes")
    signed_in_client()


def test_deactivate_without_yes_and_no_answer_changes_nothing(moto_tables, monkeypatch):
    create_user("alice")
    monkeypatch.setattr("builtins.input", lambda prompt="": (_ for _ in ()).throw(EOFError))
    with pytest.raises(CommandError, match="pass --yes"):
        call_command("deactivate_user", "alice")
    assert UserRecord.get(keys.user_pk("alice"), keys.META).is_active


def test_user_sessions_and_expire_sessions(moto_tables, monkeypatch):
    create_user("alice")
    phone = Client(HTTP_USER_AGENT="Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) Safari/604.1")
    phone.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    laptop = signed_in_client()
    out = run("user_sessions", "alice")
    assert "has 2 session(s)" in out and "Safari on iPhone" in out
    assert laptop.session.session_key not in out
    out = run("expire_sessions", "alice", answer="yes", monkeypatch=monkeypatch)
    assert "2 session(s) ended" in out
    assert laptop.get("/accounts/profile/").status_code == 302
    assert "not signed in anywhere" in run("user_sessions", "alice")


@pytest.mark.parametrize("command", ["set_password", "deactivate_user", "activate_user", "user_sessions",
                                     "expire_sessions"])
def test_commands_name_the_fix_for_an_unknown_user(moto_tables, command):
    with pytest.raises(CommandError, match="No user named 'ghost'.*list_users"):
        call_command(command, "ghost", "--yes") if command not in {"activate_user", "user_sessions"} \
            else call_command(command, "ghost")
