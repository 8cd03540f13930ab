"""A pytest plugin that records every DynamoDB call the tests make: the operation, the IAM action(s)
it needs, the logical table (``chat``, ``session_store``) and index it touches, and on whose behalf
it was made, so the IAM policy test (tests/integration/test_iam_policy_matches_calls.py) can hold
the policies in deploy/chatsite.yaml to exactly what the code uses.

    DYNAMODB_CALL_RECORD=/tmp/calls.json pytest -p tests.support.dynamodb_recorder -m "not integration"

It listens through ``chatsite.dynamodb.observe_requests`` (botocore's before-call event on the one
shared client), so it sees what the app sends, on every thread, and patches nothing.

Who made a call (its ``role``), from the calling thread's stack:
- ``admin``: a management command (a frame in ``*/management/commands/*``, or Django's
  ``call_command``), or one of ADMIN_FUNCTIONS, which only commands call in the app: a test or
  fixture calling one directly is still doing an admin command's work (the moto_tables fixture
  making the tables with ``ensure_tables``; a session test calling ``SessionStore.clear_expired``,
  which is Django's API for ``clearsessions``).
- ``test``: the test code itself (the innermost frame of this repository is under tests/), e.g. a
  test reading an item back with a model; not something the app does, so no policy is held to it.
- ``web``: everything else: views, services and selectors, whoever called them.
A call on a thread of its own (the search indexer, a live refresher, a parallel search Query) has no
test or command on its stack: it is ``admin`` while the thread running the tests is inside admin
work (as above), else ``web``.

Each call also says whether it went to AWS (no DYNAMODB_ENDPOINT_URL: moto in the unit tests) or
to a ``local`` endpoint (dynalite, a fault proxy, an unreachable address), where IAM does not apply.

The file holds one record per (role, operation, action, table, index, endpoint) with a count and the
first test and code location that made it. Under pytest-xdist each worker sends its records to the
controller (``workeroutput``), which merges them and writes the file once.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path

import pytest

ENV_VAR = "DYNAMODB_CALL_RECORD"
ROOT = Path(__file__).resolve().parents[2]
_ROOT = f"{ROOT}{os.sep}"
_EXCLUDED = (f"{ROOT / '.venv'}{os.sep}", f"{ROOT / 'node_modules'}{os.sep}")
_TESTS = f"{ROOT / 'tests'}{os.sep}"
_DYNAMODB_MODULE = str(ROOT / "chatsite" / "dynamodb.py")
_COMMAND_DIR = f"{os.sep}management{os.sep}commands{os.sep}"
_CALL_COMMAND = f"django{os.sep}core{os.sep}management{os.sep}__init__.py"
_WORKER_KEY = "dynamodb_calls"
_KEY = ("role", "operation", "action", "table", "index", "endpoint")

# (file, function): app functions that only management commands call (tests/test_dynamodb_recorder.py
# checks the app's sources for other callers).
ADMIN_FUNCTIONS = {
    ("chatsite/dynamodb.py", "ensure_tables"),
    ("accounts/session_patterns.py", "clear_expired"),
    ("accounts/session_engine.py", "clear_expired"),  # SessionStore.clear_expired: Django's hook for clearsessions
}
_ADMIN_CODE = {(str(ROOT / path), name) for path, name in ADMIN_FUNCTIONS}

# A transaction is authorised item by item, by the single-item action each item is.
_TRANSACT_WRITE_ACTIONS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                           "ConditionCheck": "ConditionCheckItem"}


def accesses(operation: str, parameters: dict) -> list[tuple[str, str | None, str | None]]:
    """The IAM actions a call needs and what each touches: [(action, table name, index name)].
    Table None: the call names no table (ListTables), so it needs a resource of "*"."""
    if operation in {"BatchGetItem", "BatchWriteItem"}:
        return [(operation, table, None) for table in parameters.get("RequestItems", {})]
    if operation == "TransactWriteItems":
        return [(_TRANSACT_WRITE_ACTIONS[kind], item[kind].get("TableName"), None)
                for item in parameters.get("TransactItems", []) for kind in item]
    if operation == "TransactGetItems":
        return [("GetItem", item["Get"].get("TableName"), None) for item in parameters.get("TransactItems", [])]
    return [(operation, parameters.get("TableName"), parameters.get("IndexName"))]


def logical_table(name: str | None, prefix: str, tables) -> str | None:
    """``test_chat`` -> ``chat`` under the prefix ``test_``; a name that is not one of ``tables``
    under the prefix is kept whole, so the policy check reports it as outside the two tables."""
    if name is not None and name.startswith(prefix) and name[len(prefix):] in tables:
        return name[len(prefix):]
    return name


def _is_admin_frame(code) -> bool:
    return (_COMMAND_DIR in code.co_filename or (code.co_filename, code.co_name) in _ADMIN_CODE
            or (code.co_name == "call_command" and code.co_filename.endswith(_CALL_COMMAND)))


def _stack_role(frame) -> tuple[str | None, str | None]:
    """(role if the stack decides it, the innermost frame of this repository as "path:line in name")."""
    caller = None
    caller_in_tests = False
    while frame is not None:
        code = frame.f_code
        if _is_admin_frame(code):
            return "admin", caller or _where(frame)
        if caller is None and code.co_filename.startswith(_ROOT) and not code.co_filename.startswith(_EXCLUDED) \
                and code.co_filename != _DYNAMODB_MODULE:
            caller = _where(frame)
            caller_in_tests = code.co_filename.startswith(_TESTS)
        frame = frame.f_back
    return ("test" if caller_in_tests else None), caller


def _where(frame) -> str:
    return f"{os.path.relpath(frame.f_code.co_filename, ROOT)}:{frame.f_lineno} in {frame.f_code.co_name}"


class Recorder:
    def __init__(self) -> None:
        self.records: dict[tuple, dict] = {}
        self.test: str | None = None  # the node id of the test running now
        self.test_thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._stop = None

    def start(self) -> None:
        from chatsite import dynamodb  # only now: the conftest has set the environment Django reads

        self._dynamodb = dynamodb
        self._stop = dynamodb.observe_requests(self.observe)

    def stop(self) -> None:
        if self._stop is not None:
            self._stop()
            self._stop = None

    def observe(self, operation: str, parameters: dict) -> None:
        role, caller = _stack_role(sys._getframe(1))
        if role is None:
            on_own_thread = threading.current_thread() is not self.test_thread
            role = "admin" if on_own_thread and self._test_thread_in_admin_work() else "web"
        endpoint = "aws" if self._dynamodb._binding.endpoint_url is None else "local"
        prefix = self._dynamodb.table_name("")
        with self._lock:
            for action, table, index in accesses(operation, parameters):
                key = (role, operation, action, logical_table(table, prefix, self._dynamodb.TABLES), index, endpoint)
                record = self.records.get(key)
                if record is None:
                    record = self.records[key] = dict(zip(_KEY, key), count=0, first_test=self.test,
                                                      first_caller=caller)
                record["count"] += 1

    def _test_thread_in_admin_work(self) -> bool:
        thread = self.test_thread
        frame = sys._current_frames().get(thread.ident) if thread is not None else None
        while frame is not None:
            if _is_admin_frame(frame.f_code):
                return True
            frame = frame.f_back
        return False


def merge(*record_lists: list[dict]) -> list[dict]:
    """Records from several processes, one per key, counts added, the first example kept."""
    merged: dict[tuple, dict] = {}
    for records in record_lists:
        for record in records:
            key = tuple(record[k] for k in _KEY)
            if key in merged:
                merged[key]["count"] += record["count"]
            else:
                merged[key] = dict(record)
    order = ("role", "endpoint", "table", "index", "action", "operation")
    return sorted(merged.values(), key=lambda r: tuple(str(r[k]) for k in order))


_recorder = Recorder()
_from_workers: list[list[dict]] = []


def _output_path(config) -> Path:
    value = os.environ.get(ENV_VAR)
    if not value:
        raise pytest.UsageError(f"-p tests.support.dynamodb_recorder needs {ENV_VAR}=<file to write the calls to>")
    return Path(value)


def pytest_configure(config) -> None:
    _output_path(config)


def pytest_sessionstart(session) -> None:
    _recorder.test_thread = threading.current_thread()
    _recorder.start()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    _recorder.test = item.nodeid
    _recorder.test_thread = threading.current_thread()
    try:
        return (yield)
    finally:
        _recorder.test = None


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    """On the xdist controller: a worker's records."""
    _from_workers.append(getattr(node, "workeroutput", {}).get(_WORKER_KEY, []))


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus) -> None:
    _recorder.stop()
    records = merge(list(_recorder.records.values()))
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: the controller writes the file
        workeroutput[_WORKER_KEY] = records
        return
    path = _output_path(session.config)
    merged = merge(records, *_from_workers)
    partial = path.with_name(f"{path.name}.partial")
    summary = {"calls": merged, "exit_status": int(exitstatus), "workers": len(_from_workers)}
    partial.write_text(json.dumps(summary, indent=1))
    partial.replace(path)
