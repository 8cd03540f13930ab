"""Create the DynamoDB tables and indexes this site needs (our `migrate`). Idempotent.

`--check` changes nothing: it compares the live tables with chatsite/dynamodb.py's TABLES and exits
non-zero listing every difference, for a deploy pipeline to run before it switches traffic."""

from django.core.management.base import BaseCommand, CommandError

from chatsite import dynamodb


class Command(BaseCommand):
    help = (
        "Create the `chat` and `session_store` tables with their GSIs if they are missing, wait "
        "until ACTIVE, and enable TTL and point-in-time recovery where the server supports them. Safe to "
        "run repeatedly. --check only compares the live tables with the code and exits 1 on any difference."
    )

    def add_arguments(self, parser):
        parser.add_argument("--wait", type=float, default=60, help="Seconds to wait for ACTIVE (default 60).")
        parser.add_argument("--check", action="store_true",
                            help="Change nothing: compare the live tables (keys, indexes, projections, TTL, "
                                 "point-in-time recovery) with the code; exit 1 listing every difference.")

    def handle(self, *args, wait: float, check: bool = False, **options):
        if check:
            return self._check()
        if wait <= 0:
            raise CommandError("--wait must be a positive number of seconds.")
        self.stdout.write(f"DynamoDB endpoint: {dynamodb.endpoint_description()}")
        try:
            outcome = dynamodb.ensure_tables(wait_seconds=wait, log=self.stdout.write)
        except dynamodb.DynamoDBUnreachable as exc:
            raise CommandError(
                f"{exc}. Is the server running? Locally `make dynalite` starts it; otherwise check "
                f"DYNAMODB_ENDPOINT_URL and AWS credentials."
            ) from exc
        except TimeoutError as exc:
            raise CommandError(f"{exc}; re-run `python manage.py ensure_tables --wait 300`.") from exc
        created = [name for name, state in outcome.items() if state == "created"]
        self.stdout.write(self.style.SUCCESS(
            f"Tables ready ({len(created)} created, {len(outcome) - len(created)} already existed)."
        ))

    def _check(self) -> None:
        self.stdout.write(f"DynamoDB endpoint: {dynamodb.endpoint_description()}")
        try:
            drift = dynamodb.check_tables()
        except dynamodb.DynamoDBUnreachable as exc:
            raise CommandError(f"{exc}. Check DYNAMODB_ENDPOINT_URL, the region and AWS credentials.") from exc
        for name, differences in drift.items():
            if not differences:
                self.stdout.write(f"{name}: matches the code")
                continue
            self.stdout.write(f"{name}: {len(differences)} difference{'s' if len(differences) > 1 else ''} from the code")
            for line in differences:
                self.stdout.write(f"  - {line}")
        total = sum(len(differences) for differences in drift.values())
        if total:
            raise CommandError(
                f"{total} difference{'s' if total > 1 else ''} between the live tables and chatsite/dynamodb.py "
                f"(listed above). Fix the stack (deploy/chatsite.yaml) or run `python manage.py ensure_tables`.")
        self.stdout.write(self.style.SUCCESS("Tables match the code."))
