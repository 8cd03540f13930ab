from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from chatsite.progress import command_progress
from rooms import selectors, services
from rooms.management.commands._common import require_room_id


class Command(BaseCommand):
    help = ("Delete a room and all its messages. A dry run unless --yes. The room is closed to posts "
            "first; the command then waits CHAT_ROOM_CACHE_SECONDS + CHAT_ROOM_DELETE_GRACE_SECONDS, "
            "until no server can still accept a post to it, and then deletes. Once it returns, every "
            "server refuses posts to the room, and a room created with the same name starts empty. "
            "Run it again to finish a delete that was interrupted.")

    def add_arguments(self, parser):
        parser.add_argument("room_id")
        parser.add_argument("--yes", "--confirm", action="store_true", dest="yes", help="really delete")

    def handle(self, *args, room_id, yes, **options):
        require_room_id(room_id)
        try:
            room = selectors.room_get_any(room_id=room_id)
        except selectors.RoomNotFound:
            raise CommandError(f"no room with id {room_id!r} (ids are lowercase slugs, as in /rooms/<id>/)") from None
        found = [services.is_message_key(k) for k in services.room_message_keys(room_id=room.room_id, edits=True)]
        count = sum(found)  # messages; the progress counts their earlier versions too
        state = (f" (being deleted since {room.closing_since}: an earlier delete_room did not finish)"
                 if room.closing_since else "")
        if not yes:
            self.stdout.write(f"dry run: would delete room {room.room_id} (“{room.name}”){state} and its {count} "
                              f"messages; add --yes to do it")
            return

        def waiting(seconds: float) -> None:
            self.stderr.write(f"room {room.room_id} is closed to new posts; waiting {seconds:.1f} s "
                              f"(CHAT_ROOM_CACHE_SECONDS={settings.CHAT_ROOM_CACHE_SECONDS:g} + "
                              f"CHAT_ROOM_DELETE_GRACE_SECONDS={settings.CHAT_ROOM_DELETE_GRACE_SECONDS:g}) until no "
                              f"server's room cache can still accept a post to it, then deleting")

        with command_progress(f"deleting {room.room_id}", len(found), stream=self.stderr) as bar:
            try:
                deleted = services.room_delete(room_id=room.room_id, progress=bar, notify=waiting)
            except selectors.RoomNotFound:
                raise CommandError(f"room {room.room_id!r} was deleted meanwhile (by another delete_room?)") from None
        self.stdout.write(f"deleted room {room.room_id} and {deleted} messages")
