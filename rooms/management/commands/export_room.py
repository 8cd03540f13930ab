import json

from django.core.management.base import BaseCommand, CommandError

from chatsite import keys
from chatsite.progress import command_progress
from rooms import selectors
from rooms.management.commands._common import existing_room


class Command(BaseCommand):
    help = ("Export a room and its messages (oldest first) as JSON Lines, to stdout or --output. An edited "
            "message carries edited_at and edits, its earlier versions (comment, at), oldest first; a message "
            "in a thread its thread_id, a root its reply_count, a reply the reply_to it quotes; a message with "
            "reactions its reactions, [[emoji, [[user id, name], ...]], ...] in reaction order.")

    def add_arguments(self, parser):
        parser.add_argument("room_id")
        parser.add_argument("--output", "-o", help="file to write (default: stdout)")

    def handle(self, *args, room_id, output, **options):
        room = existing_room(room_id)
        try:
            out = open(output, "w", encoding="utf-8") if output else self.stdout
        except OSError as exc:
            raise CommandError(f"cannot write {output}: {exc.strerror}") from None
        try:
            with command_progress(f"exporting {room.room_id}", stream=self.stderr) as bar:
                write = out.write if output else (lambda line: self.stdout.write(line, ending=""))
                self._write(write, {"type": "room", "room_id": room.room_id, "name": room.name,
                                  "description": room.description, "created_by": room.created_by,
                                  "created_at": room.created_at, "kind": room.kind})
                for m in selectors.room_messages(room_id=room.room_id):
                    row = {"type": "message", "message_id": m.message_id, "author_id": m.author_id,
                           "author_name": m.author_name, "created_at": m.created_at, "comment": m.comment}
                    if m.mentions:  # the user ids its @names link to (only those notified when posted)
                        row["mentions"] = list(m.mentions)
                    if m.edited_at:  # edited: when last, and its earlier versions, oldest first (1 Query)
                        row["edited_at"] = m.edited_at
                        row["edits"] = [{"comment": e.comment, "at": e.at}
                                        for e in selectors.message_edits(author_id=m.author_id, sk=m.sk)]
                    if m.thread_id:  # in a thread: its root's id (a root's own), a root's count, a reply's quote
                        row["thread_id"] = m.thread_id
                    if m.reply_count:
                        row["reply_count"] = m.reply_count
                    if m.reply_to:
                        created_at, message_id = keys.message_sk_parts(m.reply_to.sk)
                        row["reply_to"] = {"message_id": message_id, "author_id": m.reply_to.author_id,
                                           "created_at": created_at, "author_name": m.reply_to.author_name,
                                           "excerpt": m.reply_to.excerpt}
                    if m.reactions:  # emoji in first-reacted order, each with its reactors in reaction order
                        row["reactions"] = [[r.emoji, [list(u) for u in r.users]] for r in m.reactions]
                    self._write(write, row)
                    bar.advance()
        finally:
            if output:
                out.close()
        if output:
            self.stderr.write(f"wrote {bar.done} messages to {output}")

    @staticmethod
    def _write(write, row: dict) -> None:
        write(json.dumps(row, ensure_ascii=False) + "\n")
