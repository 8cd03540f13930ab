from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.validators import validate_username
from rooms import services
from rooms.management.commands._common import brief


class Command(BaseCommand):
    help = "Create a room (its id is made from the name)."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--description", default="")
        parser.add_argument("--created-by", default="admin", help="user id recorded as the creator")

    def handle(self, *args, name, description, created_by, **options):
        try:
            created_by = validate_username(created_by)  # the user id: what goes into keys and CreatedBy
        except ValidationError as exc:
            raise CommandError(f"--created-by {brief(created_by)}: {' '.join(exc.messages)}") from None
        try:
            room = services.room_create(name=name, description=description, created_by=created_by)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        except services.RoomExists as exc:
            raise CommandError(f"room {exc.room.room_id!r} already exists (“{exc.room.name}”)") from None
        except services.RoomBeingDeleted as exc:
            raise CommandError(f"room {exc.room_id!r} is being deleted; wait for delete_room to finish "
                               f"(run it again with --yes if it was interrupted)") from None
        self.stdout.write(f"created room {room.room_id} (“{room.name}”): /rooms/{room.room_id}/")
