from django.core.management.base import BaseCommand

from accounts import services
from accounts.management.commands._common import confirm, require_user


class Command(BaseCommand):
    help = "Sign a user out everywhere (force sign-out) by ending all their sessions. Asks first unless --yes."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--yes", action="store_true", help="don't ask for confirmation")

    def handle(self, *args, username, yes, **options):
        record = require_user(username)
        confirm(f"Sign {record.username!r} out everywhere?", yes=yes)
        ended = services.user_expire_sessions(user_id=record.user_id)
        self.stdout.write(self.style.SUCCESS(f"Signed {record.username!r} out: {ended} session(s) ended."))
