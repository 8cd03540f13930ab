from django.core.management.base import BaseCommand

from accounts import services
from accounts.management.commands._common import require_user


class Command(BaseCommand):
    help = "Activate a (deactivated) user so they can sign in again. Any leftover sessions are ended."

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username, **options):
        record = require_user(username)
        ended = services.user_set_active(user_id=record.user_id, active=True)
        self.stdout.write(self.style.SUCCESS(f"Activated {record.username!r}; {ended} session(s) ended."))
