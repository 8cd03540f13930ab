"""`manage.py clearsessions`: delete expired sessions from session_store.

Our own command (django.contrib.sessions is not installed). DynamoDB's TTL deletes expired items
eventually (it can lag by days); dynalite never does. This pages through the table and deletes
them now, printing progress per page.
"""

from django.core.management.base import BaseCommand, CommandError

from accounts import session_patterns
from chatsite import dynamodb

MAX_PAGE_SIZE = 1000


class Command(BaseCommand):
    help = "Delete expired (and half-expired, 'closing') sessions from the session_store table."

    def add_arguments(self, parser):
        parser.add_argument("--page-size", type=int, default=100,
                            help=f"items per Scan page, 1–{MAX_PAGE_SIZE} (default 100)")

    def handle(self, *args, page_size: int, verbosity: int, **options):
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise CommandError(f"--page-size must be between 1 and {MAX_PAGE_SIZE} (items per Scan page).")

        def report(progress: session_patterns.ClearProgress) -> None:
            if verbosity >= 1:
                self.stdout.write(f"page {progress.pages}: {progress.scanned} records scanned, "
                                  f"{progress.deleted} deleted")

        try:
            outcome = session_patterns.clear_expired(page_size=page_size, progress=report)
        except Exception as exc:
            if dynamodb.is_missing_table(exc):
                raise CommandError(
                    "the session_store table is missing: run `python manage.py ensure_tables`") from exc
            if dynamodb.is_unavailable(exc):
                raise CommandError(f"cannot reach DynamoDB at {dynamodb.endpoint_description()}") from exc
            raise
        self.stdout.write(self.style.SUCCESS(
            f"Deleted {outcome.deleted} expired session records ({outcome.scanned} scanned)."))
