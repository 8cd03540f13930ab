"""Create the DynamoDB tables and indexes this site needs (our `migrate`). Idempotent."""

from django.core.management.base import BaseCommand, CommandError

from chatsite import dynamodb


class Command(BaseCommand):
    help = (
        "Create the `chat` and `session_store` tables with their GSIs if they are missing, wait "
        "until ACTIVE, and enable TTL where the server supports it. Safe to run repeatedly."
    )

    def add_arguments(self, parser):
        parser.add_argument("--wait", type=float, default=60, help="Seconds to wait for ACTIVE (default 60).")

    def handle(self, *args, wait: float, **options):
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
