from django.core.management.base import BaseCommand

from accounts import services
from accounts.management.commands._common import confirm, require_user


class Command(BaseCommand):
    help = ("Activate a (deactivated) user so they can sign in again. Any leftover sessions are ended. "
            "Asks first unless --yes.")

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--yes", action="store_true", help="don't ask for confirmation")

    def handle(self, *args, username, yes, **options):
        record = require_user(username)
        confirm(f"Activate {record.username!r} so they can sign in again (any leftover sessions end)?", yes=yes)
        ended = services.user_set_active(user_id=record.user_id, active=True)
        self.stdout.write(self.style.SUCCESS(f"Activated {record.username!r}; {ended} session(s) ended."))
