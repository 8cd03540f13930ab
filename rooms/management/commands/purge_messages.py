from django.core.management.base import BaseCommand, CommandError

from chatsite.batch import batch_delete_keys
from chatsite.progress import command_progress
from rooms import search_index, services
from rooms.management.commands._common import existing_room
from rooms.timestamps import iso_from_ms, ms_from_iso


def _timestamp(value: str) -> str:
    """Accept 2023-04-01, 2023-04-01T14:00 or a full 2023-04-01T14:00:00.000Z; return the stored form."""
    from datetime import datetime, timezone

    try:
        return iso_from_ms(ms_from_iso(value))
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--before {value!r} is not a date or time like 2023-04-01 or 2023-04-01T14:00Z") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return iso_from_ms(int(moment.timestamp() * 1000))


class Command(BaseCommand):
    help = "Delete a room's messages created before a time (UTC). A dry run unless --yes."

    def add_arguments(self, parser):
        parser.add_argument("--room", required=True, help="room id")
        parser.add_argument("--before", required=True, help="e.g. 2023-04-01 or 2023-04-01T14:00Z (UTC)")
        parser.add_argument("--yes", "--confirm", action="store_true", dest="yes", help="really delete")

    def handle(self, *args, room, before, yes, **options):
        room = existing_room(room)
        before = _timestamp(before)
        keys = list(services.room_message_keys(room_id=room.room_id, before=before, edits=True))
        messages = sum(map(services.is_message_key, keys))  # the rest: edited messages' earlier versions
        if not yes:
            self.stdout.write(f"dry run: would delete {messages} messages in {room.room_id} created before {before}; "
                              f"add --yes to do it")
            return
        with command_progress(f"purging {room.room_id}", len(keys), stream=self.stderr) as bar:
            if search_index.bulk_enabled():  # before the messages: a re-run still finds their texts
                search_index.room_index_remove(room=room, before=before)
            # Every host's room tail learns of it from the marks (docs/live-updates.md, "Bulk
            # writers"); the purged messages a tab may show or be sent get deletion events.
            marks = services.HistoryMarks(room.room_id, bar)
            batch_delete_keys(keys, progress=marks)
            marks.done(deleted_message_ids=services.deletions_to_announce(keys))
        self.stdout.write(f"deleted {messages} messages in {room.room_id} created before {before}")
