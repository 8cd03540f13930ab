from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from rooms import services


class Command(BaseCommand):
    help = "Create a room (its id is made from the name)."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--description", default="")
        parser.add_argument("--created-by", default="admin", help="user id recorded as the creator")

    def handle(self, *args, name, description, created_by, **options):
        try:
            room = services.room_create(name=name, description=description, created_by=created_by)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        except services.RoomExists as exc:
            raise CommandError(f"room {exc.room.room_id!r} already exists (“{exc.room.name}”)") from None
        self.stdout.write(f"created room {room.room_id} (“{room.name}”): /rooms/{room.room_id}/")
