from django.core.management.base import BaseCommand

from accounts import selectors
from accounts.management.commands._common import require_user


def _when(moment) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "unknown"


class Command(BaseCommand):
    help = ("Show where a user is signed in: each session and its linked devices, with device, IP and "
            "times. Sessions started in the last moment may be missing (the index is eventually consistent).")

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username, **options):
        record = require_user(username)
        sessions = selectors.user_sessions(user_id=record.user_id, current_session_key=None)
        if not sessions:
            self.stdout.write(f"{record.username!r} is not signed in anywhere.")
            return
        self.stdout.write(f"{record.username!r} has {len(sessions)} session(s):")
        for session in sessions:
            self._line(session, indent="")
            for device in session.linked_devices:
                self._line(device, indent="    linked: ")

    def _line(self, session, *, indent: str) -> None:
        self.stdout.write(f"{indent}{session.device} from {session.ip or 'unknown IP'}, signed in "
                          f"{_when(session.signed_in)}, last seen {_when(session.last_seen)}")
