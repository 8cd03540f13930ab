"""The user directory entry (`Users` / `User:<id>`) is always written whole, from the user record,
so an entry whose first write failed is repaired, and list_users copes with a partial one."""

import io

import pytest
from django.core.management import call_command
from django.test import Client

from accounts import services
from accounts.models import UserDirectoryEntry, UserRecord
from chatsite import keys
from tests.support.users import PASSWORD, create_user


def entry(user_id: str) -> UserDirectoryEntry:
    return UserDirectoryEntry.get(keys.USER_DIRECTORY_PK, keys.user_directory_sk(user_id))


def lose_directory_entry(user_id: str) -> None:
    """As if user_create died between its two writes (the user record exists, the entry doesn't)."""
    UserDirectoryEntry(keys.USER_DIRECTORY_PK, keys.user_directory_sk(user_id)).delete()


def write_partial_entry(user_id: str, display_name: str) -> None:
    """What an unconditional UpdateItem of one attribute leaves when the entry is missing."""
    UserDirectoryEntry(keys.USER_DIRECTORY_PK, keys.user_directory_sk(user_id)).update(
        actions=[UserDirectoryEntry.display_name.set(display_name)])


def list_users() -> str:
    out = io.StringIO()
    call_command("list_users", stdout=out)
    return out.getvalue()


def assert_whole(user_id: str, display_name: str) -> None:
    record = UserRecord.get(keys.user_pk(user_id), keys.META)
    repaired = entry(user_id)
    assert (repaired.username, repaired.display_name, repaired.created_at) == \
           (record.username, display_name, record.created_at)


def test_list_users_survives_a_partial_entry(moto_tables):
    create_user("Alice")
    create_user("bob")
    lose_directory_entry("alice")
    write_partial_entry("alice", "Alice Again")
    out = list_users()
    lines = out.splitlines()
    assert lines[1].startswith("Alice ") and "Alice Again" in lines[1] and "active" in lines[1]
    assert lines[2].startswith("bob ")


def test_list_users_survives_a_partial_entry_of_a_user_with_no_record(moto_tables):
    write_partial_entry("ghost", "Ghost")
    out = list_users()
    assert "ghost" in out and "missing" in out


def test_changing_the_display_name_repairs_a_missing_entry(moto_tables):
    create_user("Alice")
    lose_directory_entry("alice")
    client = Client()
    assert client.post("/accounts/login/", {"username": "alice", "password": PASSWORD}).status_code == 302
    assert client.post("/accounts/profile/", {"display_name": "Alice L."}).status_code == 302
    assert_whole("alice", "Alice L.")
    assert "Alice L." in list_users()


def test_signing_up_with_a_taken_name_repairs_its_missing_entry(moto_tables, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    create_user("Alice", display_name="Alice L.")
    lose_directory_entry("alice")
    with pytest.raises(services.UsernameTaken):
        services.user_create(username="alice", display_name="Someone", password="another-pass-123")
    assert_whole("alice", "Alice L.")
