from django.core.management.base import BaseCommand, CommandError

from chatsite.pagination import InvalidCursor
from rooms import selectors
from rooms.management.commands._common import existing_room


class Command(BaseCommand):
    help = ("List a room's members (user id, display name, role, joined), one page at a time. Pass the "
            "printed --cursor to see the next page.")

    def add_arguments(self, parser):
        parser.add_argument("room_id")
        parser.add_argument("--limit", type=int, default=50, help="members per page (1-1000)")
        parser.add_argument("--cursor", help="where to continue, as printed at the end of the previous page")

    def handle(self, *args, room_id, limit, cursor, **options):
        if not 1 <= limit <= 1000:
            raise CommandError("--limit must be between 1 and 1000")
        room = existing_room(room_id)
        try:
            page = selectors.room_members(room_id=room.room_id, cursor=cursor, limit=limit)
        except InvalidCursor:
            raise CommandError("That --cursor is not one list_members printed for this room. Start again "
                               "without it.") from None
        if not page.items:
            self.stdout.write("No members." if not cursor else "No more members.")
        for member in page.items:
            self.stdout.write(f"{member.user_id}\t{member.display_name}\t{member.role}\t{member.joined_at}")
        if page.next_cursor:
            self.stdout.write(f"More: python manage.py list_members {room.room_id} --limit {limit} "
                              f"--cursor {page.next_cursor}")
