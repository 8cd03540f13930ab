"""Two fixed costs of every DynamoDB call the unit tier makes through moto, the same answers with
less CPU (unit tests only; the conftest applies them for the whole session):

- moto's ``Table.query`` starts from ``all_items()``, which sorts every item of the table (by
  hash and range key, DynamoType comparisons in Python) on every Query, then keeps one partition
  (a table Query) or the index's items (an index Query) and sorts those again by a key that is
  unique per item (the range key within one partition; index keys, then the table's hash and
  range key). That first sort can't change the answer, so during a Query of a table whose key
  attributes are all strings it is skipped, and a table Query starts from its own partition only
  (for a string key, equal DynamoTypes hash alike, so no other partition holds a match; moto's
  own filter still runs on what is handed to it). Tests that seed hundreds or thousands of
  messages paid for the whole table on every page read. Other callers of ``all_items`` (Scan,
  exports) get moto's sorted list.
- moto's botocore stubber finds the backend for every request by trying ~270 service URL
  patterns, then compiling each of the backend's URL patterns again: ``dispatch_for`` remembers,
  per URL, which handler moto's own loop picked (the passthrough/allow-list checks still run
  on every request).
- moto then turns botocore's request into a werkzeug ``Request`` (an environ, header lists, URL
  parsing), and its response class reads it through werkzeug's properties: for a DynamoDB call
  that was ~30% of the call's in-process CPU, more than DynamoDB's own work. A DynamoDB JSON
  request (``X-Amz-Target``, a POST, no query string, not gzipped) is handed to the same handler
  as a ``LeanRequest`` holding what moto's response class reads (method, URL, headers looked up
  without regard to case, body, an empty form); moto's handler, parsing and answers are its own.
  Anything else gets moto's ``Request``. Each answer's request id (52 random characters drawn one
  ``random.choice`` at a time, ~5% of a GetItem) is drawn at once from ``os.urandom``.

tests/test_fast_moto_dispatch_is_moto.py checks all three against moto's originals.
"""

from __future__ import annotations

import inspect
import threading

ORIGINALS: dict[tuple[type, str], object] = {}


def query_reads_only_what_it_can_answer(monkeypatch) -> None:
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    original_query, original_all_items = Table.query, Table.all_items
    signature = inspect.signature(original_query)
    scope = threading.local()  # (table, partition key or None) while that table answers a Query
    string_keyed: dict[int, tuple[object, bool]] = {}

    def all_strings(table) -> bool:
        kept = string_keyed.get(id(table))
        if kept is None or kept[0] is not table:
            types = {d.get("AttributeType") for d in table.attr or ()}
            kept = string_keyed[id(table)] = (table, bool(table.range_key_attr) and types == {"S"})
        return kept[1]

    def all_items(self):
        current = getattr(scope, "current", None)
        if current is None or current[0] is not self:
            return original_all_items(self)
        scope.current = None  # once: the Query's own read
        partition = current[1]
        if partition is None:  # an index Query: sorted by its unique key afterwards
            return [item for hash_set in self.items.values() for item in hash_set.values()]
        return list(self.items.get(partition, {}).values())

    def query(self, *args, **kwargs):
        if type(self) is not Table or not all_strings(self):
            return original_query(self, *args, **kwargs)
        bound = signature.bind(self, *args, **kwargs)
        hash_key, index_name = bound.arguments.get("hash_key"), bound.arguments.get("index_name")
        if index_name:
            partition = None
        elif type(hash_key) is DynamoType and hash_key.type == "S":
            partition = hash_key
        else:
            return original_query(self, *args, **kwargs)
        scope.current = (self, partition)
        try:
            return original_query(self, *args, **kwargs)
        finally:
            scope.current = None

    for owner, name, replacement in ((Table, "query", query), (Table, "all_items", all_items)):
        ORIGINALS.setdefault((owner, name), vars(owner)[name])
        monkeypatch.setattr(owner, name, replacement)


class LeanHeaders:
    """Read-only request headers, names matched without regard to case (as werkzeug's), iterated
    with their names as sent."""

    def __init__(self, items: list[tuple[str, str]]):
        self._items = items
        self._by_name = {}
        for name, value in items:
            self._by_name.setdefault(name.lower(), value)

    def get(self, name: str, default=None):
        return self._by_name.get(name.lower(), default)

    def __getitem__(self, name: str) -> str:
        return self._by_name[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._by_name

    def __iter__(self):
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def items(self):
        return list(self._items)

    def keys(self):
        return [name for name, _ in self._items]


class LeanRequest:
    """What moto's response classes read of a DynamoDB JSON request (moto.core.request.Request's
    names and meanings): ``lean_request`` makes one only for a request it can describe whole."""

    from_wsgi_server = False
    form: dict = {}
    files: dict = {}
    query_string = b""
    content_encoding = None

    def __init__(self, method: str, url: str, path: str, headers: LeanHeaders, body: bytes):
        self.method = method
        self.url = self.raw_url = url
        self.path = self.raw_path = path
        self.headers = headers
        self.data = body
        self.content_type = headers.get("Content-Type")
        self.environ: dict = {}
        from werkzeug.datastructures import ImmutableMultiDict

        self.args = self.values = ImmutableMultiDict()  # no query string, no form

    def get_data(self, *args, **kwargs) -> bytes:
        return self.data


def lean_request(request) -> LeanRequest | None:
    """A LeanRequest for botocore's DynamoDB JSON call, or None (moto's own Request for it)."""
    from urllib.parse import urlsplit

    if request.method != "POST":
        return None
    headers = [(name, value.decode("utf-8") if isinstance(value, bytes) else value)
               for name, value in request.headers.items() if name.lower() != "transfer-encoding"]
    lean = LeanHeaders(headers)
    target, encoding = lean.get("X-Amz-Target"), lean.get("Content-Encoding")
    if not target or not target.startswith("DynamoDB_") or encoding:
        return None
    body = request.body
    if isinstance(body, str):
        body = body.encode("utf-8")
    elif body is None:
        body = b""
    elif not isinstance(body, bytes):
        return None
    parts = urlsplit(request.url)
    if parts.query or parts.fragment:
        return None
    path = parts.path or "/"
    url = f"{parts.scheme}://{parts.netloc}{path}"
    return LeanRequest(request.method, url, path, lean, body)


def remember_handlers_per_url(monkeypatch) -> None:
    import re

    from moto.core import botocore_stubber
    from moto.core.config import passthrough_service, passthrough_url, service_whitelisted
    from moto.core.exceptions import ServiceNotWhitelisted
    from moto.core.utils import get_equivalent_url_in_aws_domain

    stubber = botocore_stubber.BotocoreStubber
    original = stubber.process_request
    found: dict[str, tuple[str, str]] = {}  # clean URL -> (service, backend URL pattern)

    def handler_for(clean_url: str):
        """(service, method) as moto's loop finds it, or None where moto's loop is needed."""
        import moto.backend_index as backend_index
        import moto.backends as backends
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.core.base_backend import BackendDict

        kept = found.get(clean_url)
        if kept is None:
            for service, pattern in backend_index.backend_url_patterns:
                if pattern.match(clean_url):
                    break
            else:
                return None
            kept = found[clean_url] = (service, None)
        service = kept[0]
        if passthrough_service(service):
            return None
        if not service_whitelisted(service):
            raise ServiceNotWhitelisted(service)
        backend_dict = backends.get_backend(service)
        if isinstance(backend_dict, BackendDict):
            regions = backend_dict[DEFAULT_ACCOUNT_ID]
            backend = regions["us-east-1"] if "us-east-1" in regions else regions["aws"]
        else:
            backend = backend_dict["global"]
        urls = backend.urls
        url = kept[1]
        if url is None or url not in urls:
            url = next((u for u in urls if re.compile(u).match(clean_url)), None)
            if url is None:
                return None
            found[clean_url] = (service, url)
        return service, urls[url]

    def process_request(self, request):
        from moto.core.exceptions import HTTPException
        from moto.moto_api import recorder

        parsed_url, _ = get_equivalent_url_in_aws_domain(request.url)
        clean_url = f"{parsed_url.scheme}://{parsed_url.netloc}{parsed_url.path}"
        if passthrough_url(clean_url):
            return None
        handler = handler_for(clean_url)
        if handler is None:
            return original(self, request)
        normalized_request = lean_request(request) or botocore_stubber.normalize_request(request)
        try:
            recorder._record_request(normalized_request)
            return handler[1](normalized_request, normalized_request.raw_url, normalized_request.headers)
        except HTTPException as e:
            return e.code, e.get_headers(), e.get_body()

    ORIGINALS.setdefault((stubber, "process_request"), original)
    monkeypatch.setattr(stubber, "process_request", process_request)


def request_ids_drawn_at_once(monkeypatch) -> None:
    import binascii
    import os

    from moto.core import responses

    def gen_amzn_requestid_long(headerdict=None) -> str:
        request_id = binascii.hexlify(os.urandom(26)).decode().upper()  # 52 characters, as moto's
        if isinstance(headerdict, dict):
            headerdict["x-amzn-requestid"] = request_id
        return request_id

    ORIGINALS.setdefault((responses, "gen_amzn_requestid_long"), responses.gen_amzn_requestid_long)
    monkeypatch.setattr(responses, "gen_amzn_requestid_long", gen_amzn_requestid_long)


def speed_up_all(monkeypatch) -> None:
    query_reads_only_what_it_can_answer(monkeypatch)
    remember_handlers_per_url(monkeypatch)
    request_ids_drawn_at_once(monkeypatch)
