from django.core.management.base import BaseCommand, CommandError

from rooms import services
from rooms.management.commands._common import existing_room, require_username


class Command(BaseCommand):
    help = ("Add a user to a room (public or private) as a member: the room's member list and the user's "
            "rooms. Re-running completes a membership that an interrupted add left half-written.")

    def add_arguments(self, parser):
        parser.add_argument("room_id")
        parser.add_argument("username")

    def handle(self, *args, room_id, username, **options):
        room = existing_room(room_id)
        require_username(username)
        try:
            member = services.room_invite(room=room, username=username)
        except services.NoSuchUser:
            raise CommandError(f"no user named {username!r}") from None
        except services.AlreadyMember as exc:
            self.stdout.write(f"{exc} is already a member of {room.room_id}")
            return
        except services.MembershipFixed:
            raise CommandError(f"{room.room_id} is a direct conversation: its people can't change") from None
        self.stdout.write(f"added {member.user_id} ({member.display_name}) to {room.room_id}")
