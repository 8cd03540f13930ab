from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts import services
from accounts.management.commands._common import read_password
from accounts.validators import clean_display_name, validate_new_username


class Command(BaseCommand):
    help = ("Create a user. The password is prompted for (twice, not echoed), or read from the first "
            "line of stdin with --password-stdin.")

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--display-name", help="shown next to their messages (default: the username)")
        parser.add_argument("--staff", action="store_true", help="make the user staff")
        parser.add_argument("--password-stdin", action="store_true",
                            help="read the password from stdin instead of prompting")

    def handle(self, *args, username, display_name, staff, password_stdin, **options):
        display_name = display_name or username
        try:
            validate_new_username(username)
            display_name = clean_display_name(display_name)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error
        password = read_password(from_stdin=password_stdin, username=username, display_name=display_name)
        try:
            record = services.user_create(username=username, display_name=display_name, password=password,
                                          is_staff=staff)
        except services.UsernameTaken as taken:
            raise CommandError(f"The username {username!r} is taken (names differing only in capitals or "
                               f"Unicode form count as the same).") from taken
        kind = "staff user" if staff else "user"
        self.stdout.write(self.style.SUCCESS(f"Created {kind} {record.username!r} (id {record.user_id})."))
