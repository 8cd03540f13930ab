from django.core.management.base import BaseCommand, CommandError

from chatsite.progress import command_progress
from rooms import search_index, selectors
from rooms.management.commands._common import require_room_id

MAX_PAGE_SIZE = 1000


class Command(BaseCommand):
    help = ("Write the search index entries of one room's messages (--room) or of every message (--all): "
            "repairs what the indexer lost (a full queue, a crashed process, CHAT_SEARCH_INDEXER=off). "
            "Idempotent: it puts the same items again. Resumable: after each page its position is saved "
            "in the table, and running the same command again continues from there (--restart starts over).")

    def add_arguments(self, parser):
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--room", help="room id (a public, private or direct room)")
        which.add_argument("--all", action="store_true", help="every message of every room")
        parser.add_argument("--page-size", type=int, default=100,
                            help=f"messages per page (and per saved position), 1–{MAX_PAGE_SIZE} (default 100)")
        parser.add_argument("--restart", action="store_true",
                            help="ignore where an interrupted run stopped and start from the first message")

    def handle(self, *args, room, all, page_size, restart, **options):
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise CommandError(f"--page-size must be between 1 and {MAX_PAGE_SIZE} (messages per page).")
        if room is not None:
            require_room_id(room)
            try:
                found = selectors.room_get_any(room_id=room)
            except selectors.RoomNotFound:
                raise CommandError(f"no room with id {room!r} (ids are lowercase slugs, as in /rooms/<id>/)") from None
            if found.closing_since:
                raise CommandError(f"room {room!r} is being deleted (since {found.closing_since}); "
                                   f"delete_room removes its index entries")
        what = f"room {room}" if room is not None else "every room"
        with command_progress(f"reindexing {what}", stream=self.stderr) as bar:
            result = search_index.reindex(room_id=room, page_size=page_size, restart=restart, progress=bar)
        resumed = (f", continuing after the {result.resumed_after:,} messages an interrupted run had done"
                   if result.resumed_after else "")
        skipped = f"; skipped {result.skipped:,} of rooms gone or being deleted" if result.skipped else ""
        self.stdout.write(f"reindexed {result.messages:,} messages of {what} ({result.items:,} index entries "
                          f"written{resumed}){skipped}")
