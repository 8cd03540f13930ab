import json
import sys

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from chatsite import keys
from rooms import selectors, services, validators
from rooms.management.progress import ProgressBar
from rooms.models import MessageRecord
from rooms.timestamps import ms_from_iso


class Command(BaseCommand):
    help = ("Import a room written by export_room (a file, or - for stdin). Re-importing into the same room "
            "is idempotent; importing into another room (--room) gives the messages new ids.")

    def add_arguments(self, parser):
        parser.add_argument("path", help="JSON Lines file, or - for stdin")
        parser.add_argument("--room", help="import into this room id instead of the exported one")
        parser.add_argument("--name", help="the name to give the room if it has to be created")

    def handle(self, *args, path, room, name, **options):
        rows = self._rows(path)
        header = next(rows, None)
        if not header or header[1].get("type") != "room":
            raise CommandError("line 1: expected the room line that export_room writes first")
        source_id = header[1].get("room_id", "")
        target_id = room or source_id
        if not validators.is_room_id(target_id):
            raise CommandError(f"{target_id!r} is not a room id (lowercase letters, digits and dashes)")
        self._ensure_room(target_id, name or header[1].get("name") or target_id, header[1])
        keep_ids = target_id == source_id
        bar = ProgressBar(f"importing into {target_id}", stream=self.stderr)
        try:
            written = services.batch_put_items((self._item(number, row, target_id, keep_ids) for number, row in rows),
                                               progress=bar)
        except services.UnprocessedItemsRemain as exc:
            raise CommandError(str(exc)) from None
        finally:
            bar.finish()
        self.stdout.write(f"imported {written} messages into {target_id}")

    def _rows(self, path):
        try:
            handle = sys.stdin if path == "-" else open(path, encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror}") from None
        with handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    yield number, json.loads(line)
                except json.JSONDecodeError as exc:
                    raise CommandError(f"line {number}: not JSON ({exc.msg})") from None

    def _ensure_room(self, room_id: str, name: str, header: dict) -> None:
        try:
            selectors.room_get(room_id=room_id)
            return
        except selectors.RoomNotFound:
            pass
        _, derived = validators.clean_room_name(name) if name else ("", "")
        if derived != room_id:
            raise CommandError(f"room {room_id!r} does not exist and the name {name!r} makes the id {derived!r}; "
                               f"create it first with create_room, or pass a matching --name")
        try:
            services.room_create(name=name, description=header.get("description", ""),
                                 created_by=header.get("created_by") or "import")
        except services.RoomExists:
            pass

    @staticmethod
    def _item(number: int, row: dict, room_id: str, keep_ids: bool) -> dict:
        try:
            if row.get("type") != "message":
                raise ValueError("expected a message line")
            created_at, author_id = str(row["created_at"]), str(row["author_id"])
            ms_from_iso(created_at)
            message_id = str(row["message_id"]) if keep_ids else validators.new_token()
            if not validators.is_token(message_id) or not author_id or "#" in author_id:
                raise ValueError("bad message or author id")
            comment = validators.clean_comment(str(row["comment"]))
        except (KeyError, ValueError, ValidationError) as exc:
            raise CommandError(f"line {number}: {exc}") from None
        return MessageRecord(keys.user_pk(author_id), keys.message_sk(created_at, message_id), RoomID=room_id,
                             CreatedAt=created_at, Comment=comment,
                             AuthorName=str(row.get("author_name") or author_id)).serialize()
