from django.core.management.base import BaseCommand

from rooms import services
from rooms.management.commands._common import existing_room, require_username


class Command(BaseCommand):
    help = ("Remove a user from a room: their entry in the user's rooms first (access ends at once), then "
            "the member list. Their open tabs stop receiving within CHAT_LIVE_GRANT_SECONDS. A dry run "
            "unless --yes. Re-running finishes a removal that was interrupted.")

    def add_arguments(self, parser):
        parser.add_argument("room_id")
        parser.add_argument("username")
        parser.add_argument("--yes", "--confirm", action="store_true", dest="yes", help="really remove")

    def handle(self, *args, room_id, username, yes, **options):
        room = existing_room(room_id)
        user_id = require_username(username)
        if not yes:
            self.stdout.write(f"dry run: would remove {user_id} from {room.room_id} (“{room.name}”); add --yes to do it")
            return
        if services.membership_remove(room_id=room.room_id, user_id=user_id):
            self.stdout.write(f"removed {user_id} from {room.room_id}")
        else:
            self.stdout.write(f"{user_id} was not a member of {room.room_id} (any leftover member-list entry "
                              f"is gone now)")
