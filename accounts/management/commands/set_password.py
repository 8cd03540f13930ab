from django.core.management.base import BaseCommand

from accounts import services
from accounts.management.commands._common import confirm, read_password, require_user


class Command(BaseCommand):
    help = ("Set a user's password. This signs them out everywhere, so it asks first unless --yes. "
            "The password is prompted for, or read from stdin with --password-stdin.")

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--password-stdin", action="store_true",
                            help="read the password from stdin instead of prompting")
        parser.add_argument("--yes", action="store_true", help="don't ask for confirmation")

    def handle(self, *args, username, password_stdin, yes, **options):
        record = require_user(username)
        password = read_password(from_stdin=password_stdin, username=record.username,
                                 display_name=record.display_name)
        confirm(f"Set {record.username!r}'s password and sign them out everywhere?", yes=yes)
        ended = services.user_set_password(user_id=record.user_id, password=password)
        self.stdout.write(self.style.SUCCESS(f"Password set for {record.username!r}; {ended} session(s) ended."))
