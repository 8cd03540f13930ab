import json

import pytest
from django.core.management import CommandError, call_command

from chatsite import keys
from rooms import selectors, services, validators
from rooms.models import MessageRecord, RoomDirectoryEntry, RoomRecord, TombstoneRecord
from tests.support.sessions import request_user

ALICE = request_user("alice")


@pytest.fixture(autouse=True)
def no_rate_limit(settings):
    settings.CHAT_POST_RATE_LIMIT = 1000
    settings.CHAT_ROOM_CACHE_SECONDS = 0.1  # what delete_room waits out
    settings.CHAT_ROOM_DELETE_GRACE_SECONDS = 0


def fill(room, count, monkeypatch=None, start=1_700_000_000_000):
    for n in range(count):
        if monkeypatch:
            monkeypatch.setattr(services, "now_ms", lambda n=n: start + n * 60_000)
        services.message_post(room=room, author=ALICE, comment=f"m{n}", idempotency_key=validators.new_token())


def index(room_id):
    return list(MessageRecord.room_index.query(room_id))


def test_create_room(moto_tables, capsys):
    call_command("create_room", "Art & Design", "--description", "pics")
    assert "created room art-design" in capsys.readouterr().out
    assert selectors.room_get(room_id="art-design").description == "pics"
    with pytest.raises(CommandError, match="already exists"):
        call_command("create_room", "ART & design")
    with pytest.raises(CommandError, match="can't contain"):
        call_command("create_room", "a#b")


def test_delete_room_is_a_dry_run_unless_confirmed(room, capsys):
    fill(room, 30)
    call_command("delete_room", "art")
    assert "dry run: would delete room art" in capsys.readouterr().out and len(index("art")) == 30
    call_command("delete_room", "art", "--yes")
    captured = capsys.readouterr()
    assert "deleted room art and 30 messages" in captured.out and "30/30" in captured.err
    assert index("art") == []
    assert list(TombstoneRecord.query(keys.room_pk("art"))) == []
    assert RoomRecord.count(keys.room_pk("art")) == 0
    assert RoomDirectoryEntry.count(keys.ROOM_DIRECTORY_PK) == 0
    with pytest.raises(CommandError, match="no room with id 'art'"):
        call_command("delete_room", "art", "--yes")


def test_purge_messages_before_a_time(room, capsys, monkeypatch):
    fill(room, 5, monkeypatch)  # one a minute from 2023-11-14T22:13:20Z
    with pytest.raises(CommandError, match="not a date"):
        call_command("purge_messages", "--room", "art", "--before", "yesterday")
    call_command("purge_messages", "--room", "art", "--before", "2023-11-14T22:15:30")
    assert "would delete 3 messages" in capsys.readouterr().out and len(index("art")) == 5
    call_command("purge_messages", "--room", "art", "--before", "2023-11-14T22:15:30Z", "--confirm")
    assert sorted(r.comment for r in index("art")) == ["m3", "m4"]


def test_export_then_import_round_trips(room, tmp_path, capsys):
    fill(room, 4)
    services.message_post(room=room, author=ALICE, comment="multi\nline “quotes” <b>", idempotency_key=validators.new_token())
    out = tmp_path / "art.jsonl"
    call_command("export_room", "art", "--output", str(out))
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines[0]["type"] == "room" and lines[0]["name"] == "Art"
    assert [row["comment"] for row in lines[1:]][-1] == "multi\nline “quotes” <b>"
    assert "wrote 5 messages" in capsys.readouterr().err

    call_command("import_room", str(out))  # same room: idempotent
    assert len(index("art")) == 5
    call_command("import_room", str(out), "--room", "art-copy", "--name", "Art copy")
    copies = index("art-copy")
    assert len(copies) == 5 and len(index("art")) == 5
    assert {r.message_id for r in copies}.isdisjoint({r.message_id for r in index("art")})


def test_export_to_stdout(room, capsys):
    fill(room, 2)
    call_command("export_room", "art")
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["type"] for r in rows] == ["room", "message", "message"]


def test_import_rejects_bad_lines_clearly(moto_tables, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"type": "room", "room_id": "x1", "name": "X1"}\n{"type": "message", "comment": "no id"}\n')
    with pytest.raises(CommandError, match="line 2"):
        call_command("import_room", str(bad))
    bad.write_text("not json\n")
    with pytest.raises(CommandError, match="line 1"):
        call_command("import_room", str(bad))
    with pytest.raises(CommandError, match="cannot read"):
        call_command("import_room", str(tmp_path / "missing.jsonl"))


def test_seed_demo_fills_users_rooms_and_messages(moto_tables, capsys, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast for tests
    call_command("seed_demo", "--users", "3", "--rooms", "2", "--messages", "30", "--seed", "1")
    captured = capsys.readouterr()
    assert "3 new users" in captured.out and "60/60" in captured.err
    assert [r.room_id for r in selectors.room_list().items] == ["general", "random"]
    assert len(index("general")) == 30
    call_command("seed_demo", "--users", "3", "--rooms", "2", "--messages", "1", "--yes")  # re-runnable
    assert len(index("general")) == 31
