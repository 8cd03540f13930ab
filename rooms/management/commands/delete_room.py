from django.core.management.base import BaseCommand, CommandError

from rooms import services
from rooms.management.commands._common import existing_room
from rooms.management.progress import ProgressBar


class Command(BaseCommand):
    help = "Delete a room and all its messages. A dry run unless --yes."

    def add_arguments(self, parser):
        parser.add_argument("room_id")
        parser.add_argument("--yes", "--confirm", action="store_true", dest="yes", help="really delete")

    def handle(self, *args, room_id, yes, **options):
        room = existing_room(room_id)
        count = sum(1 for _ in services.room_message_keys(room_id=room.room_id))
        if not yes:
            self.stdout.write(f"dry run: would delete room {room.room_id} (“{room.name}”) and its {count} messages; "
                              f"add --yes to do it")
            return
        bar = ProgressBar(f"deleting {room.room_id}", count, stream=self.stderr)
        try:
            deleted = services.room_delete(room_id=room.room_id, progress=bar)
        except services.UnprocessedItemsRemain as exc:
            raise CommandError(str(exc)) from None
        finally:
            bar.finish()
        self.stdout.write(f"deleted room {room.room_id} and {deleted} messages")
