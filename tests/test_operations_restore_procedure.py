"""docs/operations.md's restore procedures, step by step, on moto: point-in-time recovery on, a
restore into a new table under another DYNAMODB_TABLE_PREFIX, `ensure_tables` there (the empty
session table, TTL and PITR) and `ensure_tables --check`, then either one room brought back with
`export_room` from the restored tables and `import_room` into the live ones, or the app pointed at
the restored tables. And an export to S3 imported into a new table (`import-table`) with the
table definition the page prints from the code.

moto's RestoreTableToPointInTime copies the table as it is when called (it ignores the time), so
the test restores BEFORE making the mistake it then repairs. What it cannot show: that AWS
restores the right moment, how long a restore takes, and IAM (docs/operations.md says so)."""

from __future__ import annotations

import json
import time

import boto3
import pytest
from django.core.management import call_command
from django.test import Client

from chatsite import caches, dynamodb
from rooms import selectors, services, validators
from tests.support.moto_tables import PREFIX
from tests.support.sessions import request_user, sign_in

ALICE = request_user("alice")
RESTORED = "restored_"
# docs/operations.md, section 3: what `python manage.py shell --no-imports -c` prints for import-table.
TABLE_DEFINITION = ("import json; from chatsite import dynamodb; "
                    "print(json.dumps(dynamodb.TABLES['chat'].create_request('prodr2_chat')))")


@pytest.fixture(autouse=True)
def no_rate_limit(settings):
    settings.CHAT_POST_RATE_LIMIT = 1000


def use_prefix(prefix: str) -> None:
    """What setting DYNAMODB_TABLE_PREFIX and restarting does: new table names, no cached rows."""
    dynamodb.configure(endpoint_url=None, prefix=prefix)
    caches.clear_all()


def history(room_id: str) -> list[tuple[str, str]]:
    return [(m.message_id, m.comment) for m in selectors.room_messages(room_id=room_id)]


def restore_chat_table_into(prefix: str) -> None:
    """The doc's `aws dynamodb update-continuous-backups` and `restore-table-to-point-in-time`."""
    client = dynamodb.client()
    client.update_continuous_backups(TableName=f"{PREFIX}chat",
                                     PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
    status = client.describe_continuous_backups(TableName=f"{PREFIX}chat")["ContinuousBackupsDescription"]
    assert status["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"
    client.restore_table_to_point_in_time(SourceTableName=f"{PREFIX}chat", TargetTableName=f"{prefix}chat",
                                          UseLatestRestorableTime=True)


@pytest.fixture
def general(moto_tables):
    room = services.room_create(name="General", description="", created_by="alice")
    for n in range(30):
        services.message_post(room=room, author=ALICE, comment=f"before {n}", idempotency_key=validators.new_token())
    yield room
    use_prefix(PREFIX)


def test_one_room_comes_back_from_a_restored_table_with_export_room_and_import_room(general, tmp_path, capsys):
    before = history("general")
    assert len(before) == 30
    restore_chat_table_into(RESTORED)

    # The mistake: a purge of the wrong room.
    call_command("purge_messages", "--room", "general", "--before", "2999-01-01", "--yes")
    assert history("general") == []

    use_prefix(RESTORED)
    call_command("ensure_tables")  # the restored table's missing session table, its TTL and PITR
    assert dynamodb.client().describe_time_to_live(TableName=f"{RESTORED}chat")[
        "TimeToLiveDescription"]["TimeToLiveStatus"] == "ENABLED"
    call_command("ensure_tables", "--check")  # raises CommandError on any difference from the code
    assert history("general") == before
    saved = tmp_path / "general.jsonl"
    call_command("export_room", "general", "--output", str(saved))

    use_prefix(PREFIX)
    call_command("import_room", str(saved))
    assert history("general") == before  # the same ids: links to them work again
    call_command("import_room", str(saved))  # running it again changes nothing
    assert history("general") == before


def test_the_app_pointed_at_the_restored_tables_serves_the_restored_messages(general):
    restore_chat_table_into(RESTORED)
    call_command("purge_messages", "--room", "general", "--before", "2999-01-01", "--yes")

    use_prefix(RESTORED)
    call_command("ensure_tables")
    call_command("ensure_tables", "--check")
    client = Client()
    page = client.get("/rooms/general/")
    assert page.status_code == 200 and "before 29" in page.text
    # The session table is new and empty: everyone signs in again (sessions are not restored, so
    # none revoked since the restore point comes back). Signing in and posting work.
    sign_in(client, "alice")
    assert client.get("/accounts/profile/").status_code == 200
    assert len(history("general")) == 30


def test_an_s3_export_imported_into_a_new_table_is_a_working_copy(general, settings, capsys):
    before = history("general")
    client = dynamodb.client()
    s3 = boto3.client("s3", region_name=settings.AWS_DEFAULT_REGION)
    s3.create_bucket(Bucket="chatsite-backups")
    restore_chat_table_into(RESTORED)  # turns PITR on, which an export needs
    table_arn = client.describe_table(TableName=f"{PREFIX}chat")["Table"]["TableArn"]
    export = client.export_table_to_point_in_time(
        TableArn=table_arn, S3Bucket="chatsite-backups", S3Prefix="prod_chat/2026-11-27",
        ExportFormat="DYNAMODB_JSON")["ExportDescription"]
    wait_for(lambda: client.describe_export(ExportArn=export["ExportArn"])["ExportDescription"]["ExportStatus"])
    # The export's data files: <prefix>/AWSDynamoDB/<export id>/data/*.gz, what import-table is pointed at.
    folders = {obj["Key"].rsplit("/", 1)[0] + "/" for obj in s3.list_objects_v2(Bucket="chatsite-backups")["Contents"]}
    assert len(folders) == 1
    data = folders.pop()
    assert data.startswith("prod_chat/2026-11-27/AWSDynamoDB/") and data.endswith("/data/")

    # The table definition, printed from the code as the page does with `manage.py shell --no-imports -c`.
    capsys.readouterr()
    call_command("shell", "--no-imports", command=TABLE_DEFINITION.replace("prodr2_chat", "s3r_chat"))
    definition = json.loads(capsys.readouterr().out)
    imported = client.import_table(
        S3BucketSource={"S3Bucket": "chatsite-backups", "S3KeyPrefix": data}, InputFormat="DYNAMODB_JSON",
        InputCompressionType="GZIP", TableCreationParameters=definition)["ImportTableDescription"]
    wait_for(lambda: client.describe_import(ImportArn=imported["ImportArn"])["ImportTableDescription"]["ImportStatus"])

    use_prefix("s3r_")
    call_command("ensure_tables")
    call_command("ensure_tables", "--check")
    assert history("general") == before


def wait_for(status) -> None:
    """moto runs exports and imports on a thread: wait until one is no longer IN_PROGRESS."""
    deadline = time.monotonic() + 20
    while (current := status()) == "IN_PROGRESS":
        assert time.monotonic() < deadline, "still IN_PROGRESS after 20 s"
        time.sleep(0.05)
    assert current == "COMPLETED", current
