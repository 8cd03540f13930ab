"""The membership admin commands: add_member, remove_member (a dry run unless --yes),
list_members (pages with --cursor), create_room --private (owner = --created-by)."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from chatsite.dynamodb import count_calls
from rooms import selectors
from tests.support.users import ensure_user_item


def out(capsys) -> str:
    return capsys.readouterr().out


def test_create_room_private_makes_the_creator_its_owner_and_lists_it_nowhere(moto_tables, capsys):
    ensure_user_item("alice", display_name="Alice A")
    call_command("create_room", "Den", "--private", "--created-by", "alice")
    assert "created private room den" in out(capsys)
    assert selectors.room_get(room_id="den").kind == "private" and selectors.room_list().items == []
    [owner] = selectors.room_members(room_id="den").items
    assert (owner.user_id, owner.display_name, owner.role) == ("alice", "Alice A", "owner")


def test_add_list_and_remove_members(moto_tables, capsys):
    call_command("create_room", "Den", "--private", "--created-by", "alice")
    for name in ("bob", "carol", "dave"):
        ensure_user_item(name)
        call_command("add_member", "den", name.upper())
        assert f"added {name} " in out(capsys)
    call_command("add_member", "den", "bob")
    assert "already a member" in out(capsys)
    with pytest.raises(CommandError, match="no user named 'nobody'"):
        call_command("add_member", "den", "nobody")
    with pytest.raises(CommandError, match="no room"):
        call_command("add_member", "nowhere", "bob")

    call_command("list_members", "den", "--limit", "3")
    first = out(capsys)
    assert [line.split("\t")[0] for line in first.splitlines()[:3]] == ["alice", "bob", "carol"]
    cursor = first.split("--cursor ")[1].strip()
    call_command("list_members", "den", "--limit", "3", "--cursor", cursor)
    assert out(capsys).splitlines()[0].startswith("dave\t")
    with pytest.raises(CommandError, match="not one list_members printed"):
        call_command("list_members", "den", "--cursor", cursor[:-4] + "abcd")

    call_command("remove_member", "den", "bob")
    assert "dry run" in out(capsys) and [r.room_id for r in selectors.user_rooms(user_id="bob")] == ["den"]
    call_command("remove_member", "den", "bob", "--yes")
    assert "removed bob from den" in out(capsys) and selectors.user_rooms(user_id="bob") == []
    call_command("remove_member", "den", "bob", "--yes")
    assert "bob was not a member" in out(capsys)
    assert [m.user_id for m in selectors.all_room_members(room_id="den")] == ["alice", "carol", "dave"]


@pytest.mark.parametrize("args", [["add_member", "den", "a#b"], ["remove_member", "den", "x" * 3000, "--yes"],
                                  ["list_members", "Not A Room"], ["add_member", "d" * 3000, "bob"]])
def test_bad_arguments_are_refused_before_any_write(moto_tables, args):
    call_command("create_room", "Den", "--private", "--created-by", "alice")
    with count_calls() as calls, pytest.raises(CommandError):
        call_command(*args)
    assert not any(op in calls for op in ("PutItem", "DeleteItem", "UpdateItem"))


def test_a_private_room_exported_and_imported_elsewhere_stays_private(moto_tables, tmp_path, capsys, settings):
    settings.CHAT_ROOM_CACHE_SECONDS = 0
    settings.CHAT_ROOM_DELETE_GRACE_SECONDS = 0
    call_command("create_room", "Den", "--private", "--created-by", "alice")
    path = tmp_path / "den.jsonl"
    call_command("export_room", "den", "--output", str(path))
    assert '"kind": "private"' in path.read_text()
    call_command("delete_room", "den", "--yes")
    call_command("import_room", str(path))
    assert selectors.room_get(room_id="den").kind == "private" and selectors.room_list().items == []
    assert [m.user_id for m in selectors.all_room_members(room_id="den")] == ["alice"]
    path.write_text(path.read_text().replace('"kind": "private"', '"kind": "secret"'))
    with pytest.raises(CommandError, match="kind 'secret' is not public or private"):
        call_command("import_room", str(path))
