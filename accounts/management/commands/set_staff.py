from django.core.management.base import BaseCommand

from accounts import services
from accounts.management.commands._common import confirm, require_user


class Command(BaseCommand):
    help = ("Give a user staff powers (--on) or take them away (--off). Their sessions stay signed in "
            "and act with the new rights within ACCOUNTS_USER_RECHECK_SECONDS. Asks first unless --yes.")

    def add_arguments(self, parser):
        parser.add_argument("username")
        switch = parser.add_mutually_exclusive_group(required=True)
        switch.add_argument("--on", dest="staff", action="store_true", help="make the user staff")
        switch.add_argument("--off", dest="staff", action="store_false", help="make the user not staff")
        parser.add_argument("--yes", action="store_true", help="don't ask for confirmation")

    def handle(self, *args, username, staff, yes, **options):
        record = require_user(username)
        if record.is_staff == staff:
            self.stdout.write(f"{record.username!r} is {'already' if staff else 'not'} staff; nothing changed.")
            return
        confirm(f"{'Give' if staff else 'Take away'} staff powers {'to' if staff else 'from'} {record.username!r}?",
                yes=yes)
        services.user_set_staff(user_id=record.user_id, staff=staff)
        self.stdout.write(self.style.SUCCESS(
            f"{record.username!r} is {'now' if staff else 'no longer'} staff; their sessions follow within "
            f"the recheck interval."))
