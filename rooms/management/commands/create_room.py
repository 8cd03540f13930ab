from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts import selectors as user_selectors
from accounts.validators import validate_username
from rooms import services, validators
from rooms.models import PRIVATE, PUBLIC
from rooms.management.commands._common import brief


class Command(BaseCommand):
    help = "Create a room (its id is made from the name)."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--description", default="")
        parser.add_argument("--created-by", default="admin", help="user id recorded as the creator (the owner)")
        parser.add_argument("--private", action="store_true",
                            help="invite only: listed nowhere; the creator (--created-by) is its owner and first member")

    def handle(self, *args, name, description, created_by, private, **options):
        try:
            created_by = validate_username(created_by)  # the user id: what goes into keys and CreatedBy
        except ValidationError as exc:
            raise CommandError(f"--created-by {brief(created_by)}: {' '.join(exc.messages)}") from None
        try:
            validators.clean_room_name(name)  # refused before anything is read
            owner = user_selectors.user_get(user_id=created_by)  # the owner's name in the member list
            room = services.room_create(name=name, description=description, created_by=created_by,
                                        created_by_name=owner.display_name if owner else None,
                                        kind=PRIVATE if private else PUBLIC)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        except services.RoomExists as exc:
            raise CommandError(f"room {exc.room.room_id!r} already exists (“{exc.room.name}”)") from None
        except services.RoomBeingDeleted as exc:
            raise CommandError(f"room {exc.room_id!r} is being deleted; wait for delete_room to finish "
                               f"(run it again with --yes if it was interrupted)") from None
        kind = "private room" if private else "room"
        self.stdout.write(f"created {kind} {room.room_id} (“{room.name}”): /rooms/{room.room_id}/")
