"""One place for DynamoDB wiring: endpoint, region, table prefix, the two table definitions,
and how the PynamoDB models are bound to them.

Models declare data (accounts/models.py, rooms/models.py) and are bound to a
table with ``@bind_to(CHAT)`` or ``@bind_to(SESSIONS)``. ``configure()`` re-points every bound
model at another endpoint or prefix; the test suite uses it to switch between moto and dynalite.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Iterator

import botocore.exceptions
from django.conf import settings
from pynamodb.connection import Connection
from pynamodb.exceptions import PynamoDBException

CHAT = "chat"
SESSIONS = "session_store"

ROOM_INDEX = "room_messages"  # chat table GSI: RoomID (HASH) / CreatedAt (RANGE)
THREAD_INDEX = "thread_messages"  # chat table GSI, sparse: ThreadID (HASH) / CreatedAt (RANGE)
SESSION_INVERSE_INDEX = "GSI1_inverse"  # session_store GSI: SK (HASH) / PK (RANGE)

CHAT_TTL_ATTRIBUTE = "ExpiresAt"
SESSION_TTL_ATTRIBUTE = "expires_at"


@dataclass(frozen=True)
class IndexSpec:
    """A global secondary index with string keys and every attribute projected."""
    name: str
    key: tuple[str, str]  # (HASH, RANGE)

    def definition(self) -> dict:
        return {
            "IndexName": self.name,
            "KeySchema": [
                {"AttributeName": self.key[0], "KeyType": "HASH"},
                {"AttributeName": self.key[1], "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        }


@dataclass(frozen=True)
class TableSpec:
    name: str
    key: tuple[str, str]
    indexes: tuple[IndexSpec, ...]
    ttl_attribute: str
    point_in_time_recovery: bool = True  # restorable to any second of the last 35 days

    def attribute_definitions(self) -> list[dict]:
        names = sorted({*self.key, *(name for index in self.indexes for name in index.key)})
        return [{"AttributeName": n, "AttributeType": "S"} for n in names]

    def create_request(self, table_name: str) -> dict:
        return {
            "TableName": table_name,
            "AttributeDefinitions": self.attribute_definitions(),
            "KeySchema": [
                {"AttributeName": self.key[0], "KeyType": "HASH"},
                {"AttributeName": self.key[1], "KeyType": "RANGE"},
            ],
            "GlobalSecondaryIndexes": [index.definition() for index in self.indexes],
            "BillingMode": "PAY_PER_REQUEST",
        }


TABLES = {
    CHAT: TableSpec(CHAT, ("PK", "SK"), (IndexSpec(ROOM_INDEX, ("RoomID", "CreatedAt")),
                                         IndexSpec(THREAD_INDEX, ("ThreadID", "CreatedAt"))), CHAT_TTL_ATTRIBUTE),
    SESSIONS: TableSpec(SESSIONS, ("PK", "SK"), (IndexSpec(SESSION_INVERSE_INDEX, ("SK", "PK")),),
                        SESSION_TTL_ATTRIBUTE),
}


@dataclass
class _Binding:
    endpoint_url: str | None
    region: str
    prefix: str


_binding = _Binding(
    endpoint_url=settings.DYNAMODB_ENDPOINT_URL or None,
    region=settings.AWS_DEFAULT_REGION,
    prefix=settings.DYNAMODB_TABLE_PREFIX,
)
_bound_models: list[tuple[type, str]] = []


def table_name(table: str) -> str:
    return f"{_binding.prefix}{table}"


def endpoint_description() -> str:
    return _binding.endpoint_url or f"AWS DynamoDB in {_binding.region}"


def _apply(model: type, table: str) -> None:
    meta = model.Meta
    meta.table_name = table_name(table)
    meta.host = _binding.endpoint_url
    meta.region = _binding.region
    meta.connect_timeout_seconds = settings.DYNAMODB_CONNECT_TIMEOUT
    meta.read_timeout_seconds = settings.DYNAMODB_READ_TIMEOUT
    meta.max_retry_attempts = settings.DYNAMODB_MAX_ATTEMPTS - 1
    meta.max_pool_connections = 50
    model._connection = None  # PynamoDB caches a connection per model class
    # Build the model's connection now (no network) and make it use the one shared client.
    model._get_connection().connection.__class__ = _SharedClientConnection


def bind_to(table: str):
    """Class decorator: store this PynamoDB model in ``table`` (CHAT or SESSIONS)."""

    def decorate(model: type) -> type:
        _bound_models.append((model, table))
        _apply(model, table)
        return model

    return decorate


def configure(*, endpoint_url: str | None, prefix: str, region: str | None = None) -> None:
    """Point every model at another endpoint and/or table prefix (tests, tools)."""
    _binding.endpoint_url = endpoint_url or None
    _binding.prefix = prefix
    if region:
        _binding.region = region
    global _admin_connection
    _admin_connection = None
    for model, table in _bound_models:
        _apply(model, table)


_admin_connection: Connection | None = None
_client_lock = threading.Lock()


def client():
    """The process's one botocore DynamoDB client, shared by every model and by admin code.

    PynamoDB would otherwise build a client per model class: ~10 MB and up to a second of
    start-up each (measured by the benchmark: 151 MB workers, now about half that). botocore
    clients are thread-safe, so gthread workers share it too.
    """
    global _admin_connection
    with _client_lock:
        if _admin_connection is None:
            _admin_connection = Connection(
                region=_binding.region,
                host=_binding.endpoint_url,
                connect_timeout_seconds=settings.DYNAMODB_CONNECT_TIMEOUT,
                read_timeout_seconds=settings.DYNAMODB_READ_TIMEOUT,
                max_retry_attempts=settings.DYNAMODB_MAX_ATTEMPTS - 1,
                max_pool_connections=50,
            )
        connection = _admin_connection
    dynamodb = connection.client  # PynamoDB builds it on first use, and again if credentials go missing
    _instrument(dynamodb)
    return dynamodb


class _SharedClientConnection(Connection):
    """A PynamoDB connection that sends through the shared client instead of its own."""

    @property
    def client(self):
        return client()


# --- answers read off the wire ---------------------------------------------------------------------

_wire = threading.local()  # set around the calls whose answers are read off the wire


def _answer_off_the_wire(response_dict, customized_response_dict, **kwargs) -> None:
    """botocore's before-parse hook: for a successful call this thread made inside
    answers_off_the_wire(), the answer is the body as decoded JSON and botocore's parser gets an
    empty one. Errors are parsed as always (status other than 200)."""
    if getattr(_wire, "active", False) and response_dict.get("status_code") == 200:
        customized_response_dict.update(json.loads(response_dict["body"]))
        response_dict["body"] = b"{}"


@contextlib.contextmanager
def answers_off_the_wire():
    """The shared client, whose answers to calls this thread makes inside the block are the JSON
    as sent, not botocore's parse of it. botocore walks the output shape item by item and attribute
    by attribute (~12 µs an index entry, ~60 µs a membership item); the wire already spells every
    attribute value as botocore would ({"S": "..."}, {"N": "12"}, {"NS": [...]}) except binary
    ones (base64 on the wire, bytes from botocore), which the chat table's items do not have. For
    hot reads of many items only: Query answers with hundreds of items on every page."""
    dynamodb = client()  # its before-parse hook is registered with the other events (_instrument)
    _wire.active = True
    try:
        yield dynamodb
    finally:
        _wire.active = False


# --- ensure_tables ------------------------------------------------------------------------------


class DynamoDBUnreachable(Exception):
    pass


def ensure_tables(*, wait_seconds: float = 60, log=lambda line: None) -> dict[str, str]:
    """Create both tables (and their GSIs) if missing, add any GSI an existing table lacks (a table
    made before that index), wait for ACTIVE, enable TTL.

    Idempotent. Returns {table name: "created" | "exists"}. Raises DynamoDBUnreachable naming the
    endpoint when it cannot be reached.
    """
    dynamodb = client()
    outcome: dict[str, str] = {}
    try:
        for spec in TABLES.values():
            name = table_name(spec.name)
            # A rebuild (below, local servers only) was interrupted: finish it first. Never asked on
            # AWS, where the admin role may describe the two tables and nothing else.
            if _binding.endpoint_url is not None and _exists(dynamodb, _rebuild_name(name)):
                _rebuild(dynamodb, spec, name, wait_seconds, log)
            try:
                dynamodb.describe_table(TableName=name)
                outcome[name] = "exists"
            except dynamodb.exceptions.ResourceNotFoundException:
                try:
                    dynamodb.create_table(**spec.create_request(name))
                    outcome[name] = "created"
                except dynamodb.exceptions.ResourceInUseException:
                    outcome[name] = "exists"  # another process created it meanwhile
            log(f"{name}: {outcome[name]}")
        for spec in TABLES.values():
            _wait_active(dynamodb, table_name(spec.name), wait_seconds)
        for spec in TABLES.values():
            _add_missing_indexes(dynamodb, spec, table_name(spec.name), wait_seconds, log)
        for spec in TABLES.values():
            log(_enable_ttl(dynamodb, table_name(spec.name), spec.ttl_attribute))
        for spec in TABLES.values():
            if spec.point_in_time_recovery:
                log(_enable_point_in_time_recovery(dynamodb, table_name(spec.name), wait_seconds))
    except (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectTimeoutError,
            botocore.exceptions.ReadTimeoutError, botocore.exceptions.NoCredentialsError) as exc:
        raise DynamoDBUnreachable(f"cannot reach DynamoDB at {endpoint_description()}: {exc}") from exc
    return outcome


def _exists(dynamodb, name: str) -> bool:
    try:
        dynamodb.describe_table(TableName=name)
        return True
    except dynamodb.exceptions.ResourceNotFoundException:
        return False


def _index_names(dynamodb, name: str) -> set[str]:
    table = dynamodb.describe_table(TableName=name)["Table"]
    return {index["IndexName"] for index in table.get("GlobalSecondaryIndexes", [])}


def _add_missing_indexes(dynamodb, spec: TableSpec, name: str, wait_seconds: float, log) -> None:
    """A table made before one of its indexes existed gets it: UpdateTable GlobalSecondaryIndexUpdates
    Create (one index a call, as DynamoDB allows), then wait until it is ACTIVE (DynamoDB backfills
    it from the items already there; a big table can take minutes: `ensure_tables --wait`).

    dynalite has no online indexing (it refuses the request without a ProvisionedThroughput, and
    does nothing with one), so on a local endpoint a table still without the index is rebuilt with
    every index (_rebuild: its items copied out and back). Never on AWS: there a failure is raised."""
    for index in spec.indexes:
        if index.name in _index_names(dynamodb, name):
            continue
        log(f"{name}: adding index {index.name}")
        try:
            dynamodb.update_table(TableName=name, AttributeDefinitions=spec.attribute_definitions(),
                                  GlobalSecondaryIndexUpdates=[{"Create": index.definition()}])
        except (dynamodb.exceptions.ResourceInUseException, dynamodb.exceptions.LimitExceededException):
            pass  # another process is adding it (or the table is busy): wait, then look again
        except botocore.exceptions.ClientError as exc:
            if _binding.endpoint_url is None or exc.response.get("Error", {}).get("Code") != "ValidationException":
                raise
        _wait_active(dynamodb, name, wait_seconds)
        if index.name not in _index_names(dynamodb, name):
            if _binding.endpoint_url is None:
                raise RuntimeError(f"{name}: DynamoDB did not add the index {index.name}")
            log(f"{name}: this server can't add {index.name} to a table (dynalite has no online indexing): "
                f"rebuilding the table with its items")
            _rebuild(dynamodb, spec, name, wait_seconds, log)
            return
        log(f"{name}: index {index.name} is ACTIVE")


def _rebuild_name(name: str) -> str:
    return f"{name}.rebuild"


def _rebuild(dynamodb, spec: TableSpec, name: str, wait_seconds: float, log) -> None:
    """Re-create ``name`` with every index of ``spec``, keeping its items, for servers that can't add
    an index to a table (dynalite: local development data). Copy every item to `<name>.rebuild`,
    delete the table, create it again, copy the items back, delete the copy. Each step looks at what
    is there, so an interrupted rebuild is finished by the next ensure_tables (which looks for the
    copy first). Nothing else may write the table meanwhile: run it before serving, as `make run` does."""
    copy = _rebuild_name(name)
    if not _exists(dynamodb, copy):
        _create(dynamodb, spec, copy)
    _wait_active(dynamodb, copy, wait_seconds)
    if _exists(dynamodb, name) and not {i.name for i in spec.indexes} <= _index_names(dynamodb, name):
        log(f"{name}: copied {_copy_items(dynamodb, name, copy)} items to {copy}")
        dynamodb.delete_table(TableName=name)
        _wait_gone(dynamodb, name, wait_seconds)
    if not _exists(dynamodb, name):
        _create(dynamodb, spec, name)
    _wait_active(dynamodb, name, wait_seconds)
    log(f"{name}: copied {_copy_items(dynamodb, copy, name)} items back from {copy}")
    dynamodb.delete_table(TableName=copy)
    _wait_gone(dynamodb, copy, wait_seconds)
    log(f"{name}: rebuilt with indexes {', '.join(i.name for i in spec.indexes)}")


def _create(dynamodb, spec: TableSpec, name: str) -> None:
    try:
        dynamodb.create_table(**spec.create_request(name))
    except dynamodb.exceptions.ResourceInUseException:
        pass


def _copy_items(dynamodb, source: str, target: str) -> int:
    """Every item of ``source`` put into ``target`` (Scan, consistent; BatchWriteItem, 25 a call)."""
    copied = 0
    scan: dict = {"TableName": source, "ConsistentRead": True}
    while True:
        page = dynamodb.scan(**scan)
        items = page.get("Items", [])
        for start in range(0, len(items), 25):
            pending = [{"PutRequest": {"Item": item}} for item in items[start:start + 25]]
            for attempt in range(10):
                unprocessed = dynamodb.batch_write_item(RequestItems={target: pending}).get("UnprocessedItems", {})
                pending = unprocessed.get(target, [])
                if not pending:
                    break
                time.sleep(min(2.0, 0.05 * 2 ** attempt))
            else:
                raise RuntimeError(f"copying {source} to {target}: DynamoDB kept items unprocessed; run it again")
        copied += len(items)
        if "LastEvaluatedKey" not in page:
            return copied
        scan["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _wait_gone(dynamodb, name: str, wait_seconds: float) -> None:
    deadline = time.monotonic() + wait_seconds
    while _exists(dynamodb, name):
        if time.monotonic() > deadline:
            raise TimeoutError(f"table {name} is still there {wait_seconds:.0f} s after its deletion")
        time.sleep(0.2)


def _wait_active(dynamodb, name: str, wait_seconds: float) -> None:
    deadline = time.monotonic() + wait_seconds
    while True:
        table = dynamodb.describe_table(TableName=name)["Table"]
        indexes = table.get("GlobalSecondaryIndexes", [])
        if table["TableStatus"] == "ACTIVE" and all(i.get("IndexStatus", "ACTIVE") == "ACTIVE" for i in indexes):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"table {name} is not ACTIVE after {wait_seconds:.0f} s")
        time.sleep(0.2)


def _enable_ttl(dynamodb, name: str, attribute: str) -> str:
    try:
        status = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        if status.get("TimeToLiveStatus") in {"ENABLED", "ENABLING"}:
            return f"{name}: TTL on {status.get('AttributeName')} already enabled"
        dynamodb.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": attribute}
        )
        return f"{name}: TTL enabled on {attribute}"
    except botocore.exceptions.ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in {"UnknownOperationException", "UnrecognizedClientException", "ValidationException"} or "Unknown" in code:
            return (
                f"{name}: this server does not support TTL ({code}), so expired items are not "
                f"deleted by the server. The code never relies on TTL: expired sessions load as "
                f"empty and `python manage.py clearsessions` deletes them; stale counters and "
                f"tombstones are keyed by time and never read again."
            )
        raise


def _not_supported(exc: botocore.exceptions.ClientError) -> str | None:
    """The error code when a local server (dynalite) lacks the operation, else None."""
    code = exc.response.get("Error", {}).get("Code", "")
    unsupported = {"UnknownOperationException", "UnrecognizedClientException", "ValidationException"}
    return code if code in unsupported or "Unknown" in code else None


def _enable_point_in_time_recovery(dynamodb, name: str, wait_seconds: float) -> str:
    deadline = time.monotonic() + wait_seconds
    try:
        status = dynamodb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
        if _pitr_status(status) == "ENABLED":
            return f"{name}: point-in-time recovery already enabled"
        while True:
            try:
                dynamodb.update_continuous_backups(
                    TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
                return f"{name}: point-in-time recovery enabled"
            except botocore.exceptions.ClientError as exc:
                # A table made seconds ago: AWS is still turning its backups on.
                if (exc.response.get("Error", {}).get("Code") != "ContinuousBackupsUnavailableException"
                        or time.monotonic() > deadline):
                    raise
                time.sleep(1)
    except botocore.exceptions.ClientError as exc:
        code = _not_supported(exc)
        if code:
            return f"{name}: this server has no point-in-time recovery ({code}); nothing to restore from locally"
        raise


def _pitr_status(description: dict) -> str | None:
    return (description.get("PointInTimeRecoveryDescription") or {}).get("PointInTimeRecoveryStatus")


# --- ensure_tables --check ----------------------------------------------------------------------


def _key_text(schema: list[dict]) -> str:
    ordered = sorted(schema, key=lambda k: k.get("KeyType") != "HASH")
    return ", ".join(f"{k.get('AttributeName')} ({k.get('KeyType')})" for k in ordered) or "none"


def _projection_text(projection: dict) -> str:
    kind = projection.get("ProjectionType", "none")
    extra = projection.get("NonKeyAttributes")
    return f"{kind} {sorted(extra)}" if extra else kind


def table_drift(spec: TableSpec, description: dict | None, ttl: dict | None, pitr: dict | None) -> list[str]:
    """How a live table differs from ``spec``, one readable line each; empty when it matches.

    ``description``: DescribeTable's "Table" (None: the table is missing). ``ttl``: DescribeTimeToLive's
    "TimeToLiveDescription"; ``pitr``: DescribeContinuousBackups' "ContinuousBackupsDescription";
    either None when the server does not answer it (dynalite has no point-in-time recovery), and then
    not checked. Compared: the key, the key attributes' types, every index's key, projection and
    status (one still backfilling is not ready for traffic), indexes the code lacks, TTL, PITR.
    Billing mode and capacity are the operator's choice (the template's BillingMode parameter)."""
    if description is None:
        return ["table missing (`python manage.py ensure_tables` or the CloudFormation stack creates it)"]
    drift = []
    if description.get("TableStatus", "ACTIVE") != "ACTIVE":
        drift.append(f"table status {description['TableStatus']}, not ACTIVE yet")
    expected_key = [{"AttributeName": spec.key[0], "KeyType": "HASH"}, {"AttributeName": spec.key[1], "KeyType": "RANGE"}]
    if _key_text(description.get("KeySchema", [])) != _key_text(expected_key):
        drift.append(f"key: {_key_text(description.get('KeySchema', []))}; the code expects {_key_text(expected_key)}")
    live_types = {a["AttributeName"]: a["AttributeType"] for a in description.get("AttributeDefinitions", [])}
    for attribute in spec.attribute_definitions():
        live = live_types.get(attribute["AttributeName"])
        if live is not None and live != attribute["AttributeType"]:
            drift.append(f"attribute {attribute['AttributeName']}: type {live}; the code expects {attribute['AttributeType']}")
    live_indexes = {i["IndexName"]: i for i in description.get("GlobalSecondaryIndexes", [])}
    for index in spec.indexes:
        expected = index.definition()
        live = live_indexes.get(index.name)
        if live is None:
            drift.append(f"index {index.name}: missing; the code expects {_key_text(expected['KeySchema'])}, "
                         f"projection {_projection_text(expected['Projection'])} (`ensure_tables` adds it)")
            continue
        if _key_text(live.get("KeySchema", [])) != _key_text(expected["KeySchema"]):
            drift.append(f"index {index.name}: key {_key_text(live.get('KeySchema', []))}; "
                         f"the code expects {_key_text(expected['KeySchema'])}")
        if _projection_text(live.get("Projection", {})) != _projection_text(expected["Projection"]):
            drift.append(f"index {index.name}: projection {_projection_text(live.get('Projection', {}))}; "
                         f"the code expects {_projection_text(expected['Projection'])}")
        if live.get("IndexStatus", "ACTIVE") != "ACTIVE":
            drift.append(f"index {index.name}: {live['IndexStatus']}, not ACTIVE yet (its queries miss items until it is)")
    for name in sorted(live_indexes.keys() - {index.name for index in spec.indexes}):
        drift.append(f"index {name}: not in the code ({_key_text(live_indexes[name].get('KeySchema', []))})")
    for index in description.get("LocalSecondaryIndexes", []):
        drift.append(f"local index {index['IndexName']}: not in the code")
    if ttl is not None:
        status, attribute = ttl.get("TimeToLiveStatus", "DISABLED"), ttl.get("AttributeName")
        if status not in {"ENABLED", "ENABLING"}:
            drift.append(f"TTL: {status}; the code expects it ENABLED on {spec.ttl_attribute}")
        elif attribute != spec.ttl_attribute:
            drift.append(f"TTL: on {attribute}; the code expects {spec.ttl_attribute}")
    if pitr is not None and spec.point_in_time_recovery and _pitr_status(pitr) != "ENABLED":
        drift.append(f"point-in-time recovery: {_pitr_status(pitr) or 'not reported'}; the code expects ENABLED")
    return drift


def _describe_if_supported(describe, name: str, key: str) -> dict | None:
    try:
        return describe(TableName=name)[key]
    except botocore.exceptions.ClientError as exc:
        if _not_supported(exc):
            return None
        raise


def check_tables() -> dict[str, list[str]]:
    """{table name: table_drift(...)} for both tables, from Describe* calls only (DescribeTable,
    DescribeTimeToLive, DescribeContinuousBackups): it never changes anything. Raises
    DynamoDBUnreachable naming the endpoint when it cannot be reached."""
    dynamodb = client()
    drift: dict[str, list[str]] = {}
    try:
        for spec in TABLES.values():
            name = table_name(spec.name)
            try:
                description = dynamodb.describe_table(TableName=name)["Table"]
            except dynamodb.exceptions.ResourceNotFoundException:
                drift[name] = table_drift(spec, None, None, None)
                continue
            ttl = _describe_if_supported(dynamodb.describe_time_to_live, name, "TimeToLiveDescription")
            pitr = _describe_if_supported(dynamodb.describe_continuous_backups, name, "ContinuousBackupsDescription")
            drift[name] = table_drift(spec, description, ttl, pitr)
    except (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectTimeoutError,
            botocore.exceptions.ReadTimeoutError, botocore.exceptions.NoCredentialsError) as exc:
        raise DynamoDBUnreachable(f"cannot reach DynamoDB at {endpoint_description()}: {exc}") from exc
    return drift


# --- failure classification ---------------------------------------------------------------------

_THROTTLED_CODES = {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}
_SERVER_ERROR_CODES = {"InternalServerError", "ServiceUnavailable"}
_MISSING_TABLE = "table missing"
_CHAIN_LIMIT = 64  # real chains are a handful deep; past this it isn't a DynamoDB failure we raised


# A healthy DynamoDB call takes milliseconds. Work that has waited this long on another thread's
# call is behind a stalled DynamoDB: better a 503 now than one more worker thread held.
STALL_PATIENCE_SECONDS = 0.5


class Stalled(Exception):
    """This request would have to wait behind another thread's DynamoDB work that is stuck."""


class BatchRefused(Exception):
    """DynamoDB left part of a batch unprocessed after every retry: throttling in all but name
    (chatsite.batch.UnprocessedItemsRemain)."""


def unavailable_cause(exc: BaseException | None) -> str | None:
    """Why DynamoDB can't serve us now, in a few words ("read timeout", "connection refused",
    "throttled (ThrottlingException)", "table missing", ...), or None if ``exc`` is something else
    (a failed condition, bad input, a bug).

    Total: it never raises, whatever the chain holds. It reads no PynamoDB properties
    (``cause_response_code`` raises AttributeError when there was no response, e.g. a timeout).
    """
    try:
        return _classify(_chain(exc))
    except Exception:  # a backstop: the error pages call this while handling another failure
        return None


def is_unavailable(exc: BaseException | None) -> bool:
    """True when ``exc`` means DynamoDB can't serve us now (down, slow, throttling, tables missing)."""
    return unavailable_cause(exc) is not None


def is_missing_table(exc: BaseException | None) -> bool:
    return unavailable_cause(exc) == _MISSING_TABLE


def _chain(exc: BaseException | None) -> list[BaseException]:
    """``exc`` and everything it was raised from: __cause__, __context__, PynamoDB's ``cause`` and
    botocore's wrapped ``error`` — read from the instance dict only, so no property can run."""
    found: list[BaseException] = []
    seen: set[int] = set()
    pending = [exc]
    while pending:
        current = pending.pop(0)
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        if len(found) >= _CHAIN_LIMIT:
            return []
        seen.add(id(current))
        found.append(current)
        attributes = getattr(current, "__dict__", None)
        attributes = attributes if isinstance(attributes, dict) else {}
        kwargs = attributes.get("kwargs")
        pending += [current.__cause__, current.__context__, attributes.get("cause"),
                    kwargs.get("error") if isinstance(kwargs, dict) else None]
    return found


def _classify(chain: list[BaseException]) -> str | None:
    def has(kind) -> bool:
        return any(isinstance(e, kind) for e in chain)

    if has(Stalled):
        return "stalled: waiting behind another thread's DynamoDB call"
    if has(BatchRefused):
        return "throttled (items left unprocessed)"
    if not has((botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError, PynamoDBException)):
        return None  # not from DynamoDB at all: a plain OSError here is not ours to call an outage
    botocore_errors = botocore.exceptions
    if has(botocore_errors.ReadTimeoutError):
        return "read timeout"
    if has(botocore_errors.ConnectTimeoutError):
        return "connect timeout"
    if has(botocore_errors.EndpointConnectionError):
        return "connection refused" if has(ConnectionRefusedError) else "cannot connect"
    if has(botocore_errors.ConnectionClosedError):
        return "connection reset" if has(ConnectionResetError) else "connection closed"
    if has((botocore_errors.HTTPClientError, botocore_errors.ConnectionError)):
        return "connection error"
    if has((botocore_errors.NoCredentialsError, botocore_errors.PartialCredentialsError,
            botocore_errors.CredentialRetrievalError)):
        return "no credentials"
    for error in chain:
        if isinstance(error, botocore_errors.ClientError):
            response = error.__dict__.get("response")
            if not isinstance(response, dict):
                continue
            details = response.get("Error")
            code = details.get("Code") if isinstance(details, dict) else None
            metadata = response.get("ResponseMetadata")
            status = metadata.get("HTTPStatusCode") if isinstance(metadata, dict) else None
            if code in _THROTTLED_CODES:
                return f"throttled ({code})"
            if code == "ResourceNotFoundException":
                return _MISSING_TABLE
            if isinstance(status, int) and status >= 500:
                return f"HTTP {status}"
            if code in _SERVER_ERROR_CODES:
                return f"server error ({code})"
    return None


def is_conditional_check_failed(exc: BaseException) -> bool:
    """True when a write was refused by its condition (ConditionalCheckFailedException), from
    PynamoDB (PutError, UpdateError, DeleteError) or from the botocore client directly."""
    code = getattr(exc, "cause_response_code", None)  # PynamoDB; None when there was no response
    if code is None and isinstance(exc, botocore.exceptions.ClientError):
        code = exc.response.get("Error", {}).get("Code")
    return code == "ConditionalCheckFailedException"


def describe_failure(exc: BaseException) -> str:
    """A one-line summary for the log: the outermost exception, shortened."""
    try:
        return f"{type(exc).__name__}: {str(exc)[:200]}"
    except Exception:
        return type(exc).__name__


# --- counting calls: botocore's before-call event on the shared client ----------------------------

_counts = threading.local()
_call_observers: list[Callable[[str], None]] = []
_instrumented_client = None


def _count_for_thread(operation_name: str) -> None:
    counter = getattr(_counts, "counter", None)
    if counter is not None:
        counter[operation_name] += 1


def observe_calls(observer: Callable[[str], None]) -> Callable[[], None]:
    """Call ``observer(operation_name)`` before every DynamoDB call made through the shared client,
    on whichever thread makes it (the benchmark's per-process totals). Returns what stops it."""
    _call_observers.append(observer)
    return lambda: _call_observers.remove(observer)


_request_observers: list[Callable[[str, dict], None]] = []


def observe_requests(observer: Callable[[str, dict], None]) -> Callable[[], None]:
    """Call ``observer(operation_name, parameters)`` before every DynamoDB call made through the
    shared client, with the call's parameters as sent (TableName, IndexName, RequestItems, ...), on
    whichever thread makes it: which tables and indexes the app touches (the IAM policy test's
    recorder). Nothing is decoded while no one observes. Returns what stops it."""
    _request_observers.append(observer)
    return lambda: _request_observers.remove(observer)


def _before_call(model, params=None, **kwargs) -> None:
    # Must return None: a value returned from before-call would stand in for DynamoDB's answer.
    for observer in _call_observers:
        observer(model.name)
    if _request_observers:
        body = (params or {}).get("body") or b"{}"  # the serialized JSON request botocore will send
        parameters = json.loads(body)
        for observer in list(_request_observers):
            observer(model.name, parameters)


def _instrument(dynamodb) -> None:
    global _instrumented_client
    if dynamodb is not _instrumented_client:  # a new client: first use, configure(), lost credentials
        events = dynamodb.meta.events
        events.register("before-call.dynamodb", _before_call, unique_id="chatsite.dynamodb.calls")
        events.register("before-send.dynamodb", _attempt_started, unique_id="chatsite.dynamodb.attempt-started")
        events.register("response-received.dynamodb", _attempt_ended, unique_id="chatsite.dynamodb.attempt-ended")
        events.register("before-parse.dynamodb", _answer_off_the_wire, unique_id="chatsite.dynamodb.answers-off-the-wire")
        _instrumented_client = dynamodb


# --- is DynamoDB stalled? HTTP attempts in flight, from botocore's per-attempt events ---------------
#
# botocore's Endpoint emits before-send before each HTTP attempt (retries included) and
# response-received after it, with ``exception`` set when no response came (timeout, reset, ...).
# A thread makes one attempt at a time, so attempts are keyed by thread.

_attempts_lock = threading.Lock()
_attempts_started: dict[int, float] = {}  # thread id -> time.monotonic() its attempt was sent
_last_answer = float("-inf")  # time.monotonic() DynamoDB last answered an attempt (any HTTP status)


def _attempt_started(**kwargs) -> None:
    # Must return None: a value returned from before-send would stand in for the HTTP response.
    with _attempts_lock:
        _attempts_started[threading.get_ident()] = time.monotonic()


def _attempt_ended(exception=None, event_name="", parsed_response=None, **kwargs) -> None:
    global _last_answer
    with _attempts_lock:
        started = _attempts_started.pop(threading.get_ident(), None)
        ended = time.monotonic()
        if exception is None:
            _last_answer = ended
    if started is not None:
        operation_name = event_name.rpartition(".")[2]  # response-received.dynamodb.<Operation>
        for observer in list(_attempt_observers):
            observer(operation_name, ended - started, exception)
        if _outcome_observers:
            error = (type(exception).__name__ if exception is not None
                     else ((parsed_response or {}).get("Error") or {}).get("Code") or None)
            for observer in list(_outcome_observers):
                observer(operation_name, ended - started, error)


_attempt_observers: list[Callable[[str, float, BaseException | None], None]] = []


def observe_attempts(observer: Callable[[str, float, BaseException | None], None]) -> Callable[[], None]:
    """Call ``observer(operation_name, seconds, exception)`` after every HTTP attempt to DynamoDB
    (each retry is an attempt), on the thread (greenlet, under gevent) that made it: ``exception``
    is None when DynamoDB answered (any HTTP status). The request log sums a request's seconds.
    Returns what stops it."""
    _attempt_observers.append(observer)
    return lambda: _attempt_observers.remove(observer)


_outcome_observers: list[Callable[[str, float, str | None], None]] = []


def observe_attempt_outcomes(observer: Callable[[str, float, str | None], None]) -> Callable[[], None]:
    """Like observe_attempts, with what came back: ``observer(operation_name, seconds, error)``,
    ``error`` None when DynamoDB answered with success, else its error code
    ("ProvisionedThroughputExceededException", "ConditionalCheckFailedException", ...), or the
    exception's class name when no answer came (a timeout, a reset). The metrics count throttles
    and errors by operation from it (chatsite.metrics). Returns what stops it."""
    _outcome_observers.append(observer)
    return lambda: _outcome_observers.remove(observer)


def stalled_for() -> float | None:
    """How long the oldest DynamoDB HTTP attempt of this process has been waiting, if DynamoDB is
    stalled: that attempt has waited longer than STALL_PATIENCE_SECONDS and no attempt has been
    answered for as long. None otherwise (idle, or answering)."""
    now = time.monotonic()
    # An attempt can't outlive its timeouts; one that did lost its response-received (a thread
    # killed mid-call) and must not look stalled forever.
    longest = settings.DYNAMODB_CONNECT_TIMEOUT + settings.DYNAMODB_READ_TIMEOUT + 5
    with _attempts_lock:
        for thread, started in list(_attempts_started.items()):
            if now - started > longest:
                del _attempts_started[thread]
        oldest = min(_attempts_started.values(), default=None)
        last_answer = _last_answer
    if oldest is None or now - oldest <= STALL_PATIENCE_SECONDS or now - last_answer <= STALL_PATIENCE_SECONDS:
        return None
    return now - oldest


def stalled() -> bool:
    return stalled_for() is not None


observe_calls(_count_for_thread)


@contextlib.contextmanager
def count_calls() -> Iterator[Counter]:
    """Count DynamoDB API calls made by this thread through the shared client, by operation name
    (GetItem, Query, …)."""
    previous = getattr(_counts, "counter", None)
    counter: Counter = Counter()
    _counts.counter = counter
    try:
        yield counter
    finally:
        _counts.counter = previous
        if previous is not None:
            previous.update(counter)


def credit_calls(calls: Counter) -> None:
    """Count ``calls`` as made by this thread: what helper threads counted (with their own
    count_calls) while working for it, so a request's budget includes its parallel Queries."""
    counter = getattr(_counts, "counter", None)
    if counter is not None:
        counter.update(calls)
