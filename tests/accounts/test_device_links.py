"""One-time device-link codes (moto): only a digest is stored; consumed once; expire."""

import hashlib
import time
from types import SimpleNamespace

import pytest

from accounts import services
from accounts.models import DeviceLinkRecord
from accounts.session_keys import key_digest
from chatsite import dynamodb, keys


def _request(user_id="alice", session_key="parent-session-key-0123456789"):
    return SimpleNamespace(user=SimpleNamespace(id=user_id), session=SimpleNamespace(session_key=session_key))


def test_code_is_readable_and_only_its_digest_is_stored(moto_tables):
    link = services.device_link_create(request=_request())
    assert len(link.code) == 9 and link.code[4] == "-"
    raw = link.code.replace("-", "")
    items = dynamodb.client().scan(TableName=dynamodb.table_name("chat"))["Items"]
    assert len(items) == 1
    assert raw not in str(items) and link.code not in str(items)
    assert items[0]["PK"]["S"] == keys.device_link_pk(hashlib.sha256(raw.encode()).hexdigest())
    assert 290 <= int(items[0]["ExpiresAt"]["N"]) - time.time() <= 300


def test_code_is_consumed_exactly_once(moto_tables):
    link = services.device_link_create(request=_request())
    with dynamodb.count_calls() as calls:
        first = services._consume_code(link.code)
    assert calls == {"DeleteItem": 1}
    # The parent session is named by its key's digest: the item holds no cookie.
    assert (first.user_id, first.parent_session_digest) == ("alice", key_digest("parent-session-key-0123456789"))
    assert services._consume_code(link.code) is None


def test_typed_codes_forgive_case_spaces_and_look_alike_letters(moto_tables):
    link = services.device_link_create(request=_request())
    typed = link.code.lower().replace("-", " ").replace("0", "o").replace("1", "l")
    assert services._consume_code(typed) is not None


def test_expired_code_is_refused_even_before_ttl_removes_it(moto_tables):
    link = services.device_link_create(request=_request())
    record = DeviceLinkRecord.get(keys.device_link_pk(services._code_digest(link.code)), keys.META)
    record.update(actions=[DeviceLinkRecord.expires_at.set(int(time.time()) - 1)])
    assert services._consume_code(link.code) is None


@pytest.mark.parametrize("code", ["", "ZZZZ-ZZZZ", "not a code at all"])
def test_unknown_codes_are_refused(moto_tables, code):
    assert services._consume_code(code) is None
