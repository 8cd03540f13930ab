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

tests/test_fast_moto_dispatch_is_moto.py checks both against moto's originals.
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
        normalized_request = botocore_stubber.normalize_request(request)
        try:
            recorder._record_request(normalized_request)
            return handler[1](normalized_request, normalized_request.raw_url, normalized_request.headers)
        except HTTPException as e:
            return e.code, e.get_headers(), e.get_body()

    ORIGINALS.setdefault((stubber, "process_request"), original)
    monkeypatch.setattr(stubber, "process_request", process_request)


def speed_up_all(monkeypatch) -> None:
    query_reads_only_what_it_can_answer(monkeypatch)
    remember_handlers_per_url(monkeypatch)
