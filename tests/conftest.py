"""Shared fixtures.

- ``moto_tables``: both tables under moto, in-process (unit tests); made once per process and
  emptied for each test.
- ``dynalite``: one real dynalite process for the whole run, on a free port, data on disk.
- ``dynalite_tables``: fresh tables in that dynalite under a unique prefix (integration tests).
- ``gunicorn_server``: a factory for real gunicorn servers (the checked-in gunicorn.conf.py)
  pointed at the current dynalite tables.
"""

from __future__ import annotations

import os

# Before Django settings load: unit tests talk to moto (no endpoint), never to a real AWS account.
os.environ["DYNAMODB_ENDPOINT_URL"] = ""
os.environ["AWS_ACCESS_KEY_ID"] = "testing"
os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
os.environ["AWS_SESSION_TOKEN"] = "testing"
os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
os.environ.pop("AWS_PROFILE", None)
os.environ.setdefault("DYNAMODB_MAX_ATTEMPTS", "2")
# Gunicorn servers that tests start read every session from DynamoDB (see _session_cache_off).
os.environ["ACCOUNTS_SESSION_CACHE_SECONDS"] = "0"
os.environ["ACCOUNTS_SESSION_FEED_SECONDS"] = "0"

import gc  # noqa: E402
import uuid  # noqa: E402

import pytest  # noqa: E402

from tests.support.botocore_data import share_botocore_data_loader  # noqa: E402
from tests.support.fast_moto import speed_up_all as speed_up_moto  # noqa: E402
from tests.support.fast_moto_dispatch import speed_up_all as speed_up_moto_dispatch  # noqa: E402
from tests.support.fast_moto_codec import speed_up_all as speed_up_moto_codec  # noqa: E402
from tests.support.hashers import fast_password_hashing  # noqa: E402
from tests.support.moto_tables import SHARED as shared_moto_tables  # noqa: E402
from tests.support.moto_tables import pause_unless_asked_for  # noqa: E402
from tests.support.process_memos import share_all as share_process_memos  # noqa: E402
from tests.support.servers import DynaliteServer, GunicornServer, free_port  # noqa: E402



def pytest_collection_modifyitems(config, items):
    """Browser tests run last: Playwright's sync API keeps an event loop in this thread, which
    Django's async-to-sync helpers refuse to share with the tests that run after it.

    A test that starts dynalite (directly or through gunicorn_server) is an integration test even
    if its file forgot the marker, so `make test-fast` never starts a server."""
    for item in items:
        if "dynalite" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.integration)
    items.sort(key=lambda item: "tests/browser/" in str(item.fspath))


def pytest_collection_finish(session):
    """Python's cycle collector, tuned for a test process: what collection imported (Django, moto,
    botocore's models, the tests) lives to the end, so it is frozen out of every later full
    collection, and young collections run every 10,000 allocations, not 700. Each full collection
    walked that whole heap (~0.1-0.3 s): measured on tests/rooms in one process, collections took
    7.6 s of its 89 s of CPU before, 4.0 s after. Tests that measure memory call gc.collect()
    themselves, as before."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 20, 20)


@pytest.fixture(scope="session", autouse=True)
def _one_botocore_data_loader():
    with pytest.MonkeyPatch.context() as monkeypatch:
        share_botocore_data_loader(monkeypatch)
        share_process_memos(monkeypatch)
        speed_up_moto(monkeypatch)
        speed_up_moto_dispatch(monkeypatch)
        speed_up_moto_codec(monkeypatch)
        yield


@pytest.fixture(autouse=True)
def _fast_password_hasher(request):
    """A fast hasher unless the test checks Argon2 or shares users with gunicorn (see
    tests/support/hashers.py)."""
    if request.node.get_closest_marker("argon2") or request.node.get_closest_marker("integration"):
        yield
        return
    with fast_password_hashing():
        yield


@pytest.fixture(autouse=True)
def _reset_process_caches():
    from chatsite import caches

    caches.clear_all()
    yield
    caches.clear_all()


@pytest.fixture(autouse=True)
def _search_indexer_off(settings):
    """In-process tests write no search index, so every call budget is what it was without search;
    a test of search sets settings.CHAT_SEARCH_INDEXER = "inline" (or "thread"). gunicorn servers
    run the production default, "thread"."""
    settings.CHAT_SEARCH_INDEXER = "off"


@pytest.fixture(autouse=True)
def _session_cache_off(settings):
    """Every session read reaches DynamoDB, as the call budgets and the session contract count them;
    tests of the session cache (tests/accounts/test_session_cache.py) turn it on themselves, and
    the session feed's tests turn the feed on (its announcement is one more write per sign-out)."""
    settings.ACCOUNTS_SESSION_CACHE_SECONDS = 0
    settings.ACCOUNTS_SESSION_FEED_SECONDS = 0


@pytest.fixture(autouse=True)
def _seq_feed_off(settings):
    """In-process pages don't start the activity hub's thread to keep room Seqs: its Queries would
    run beside the test's own (process-wide metrics, moto tables emptied between tests). The Seq
    feed's tests turn it on (tests/rooms/test_room_page_unread_counts_kept_by_the_activity_feed.py);
    gunicorn servers that tests start run the production default."""
    settings.CHAT_ROOM_SEQ_FEED_SECONDS = 0


@pytest.fixture
def moto_tables():
    """Empty tables under moto: made once per process, emptied for each test (see
    tests/support/moto_tables.py)."""
    yield shared_moto_tables.start()
    shared_moto_tables.finish()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    pause_unless_asked_for(item)  # before any of the test's fixtures


def pytest_sessionfinish(session):
    shared_moto_tables.pause()


@pytest.fixture(scope="session")
def dynalite(tmp_path_factory):
    server = DynaliteServer(data_dir=tmp_path_factory.mktemp("dynalite"), port=free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def dynalite_tables(dynalite):
    from chatsite import dynamodb

    prefix = f"t{uuid.uuid4().hex[:10]}_"
    dynamodb.configure(endpoint_url=dynalite.url, prefix=prefix)
    dynamodb.ensure_tables(wait_seconds=20)
    yield prefix
    dynamodb.configure(endpoint_url=None, prefix="test_")


@pytest.fixture
def gunicorn_server(dynalite, dynalite_tables):
    servers: list[GunicornServer] = []

    def start(**env) -> GunicornServer:
        server = GunicornServer(
            port=free_port(),
            env={"DYNAMODB_ENDPOINT_URL": dynalite.url, "DYNAMODB_TABLE_PREFIX": dynalite_tables, **env},
        )
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
