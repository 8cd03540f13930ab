from django.core.management.base import BaseCommand

from accounts import services
from accounts.management.commands._common import confirm, require_user


class Command(BaseCommand):
    help = ("Deactivate a user: they can no longer sign in, and all their sessions end now. Asks first "
            "unless --yes. Undo with activate_user.")

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--yes", action="store_true", help="don't ask for confirmation")

    def handle(self, *args, username, yes, **options):
        record = require_user(username)
        confirm(f"Deactivate {record.username!r} and sign them out everywhere?", yes=yes)
        ended = services.user_set_active(user_id=record.user_id, active=False)
        self.stdout.write(self.style.SUCCESS(f"Deactivated {record.username!r}; {ended} session(s) ended."))
