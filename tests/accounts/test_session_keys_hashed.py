"""Session keys are stored as keyed hashes (moto): after signing in through the pages, linking a
device and revoking, no item in either table holds a cookie value, and everything still works."""

import re

from django.conf import settings
from django.test import Client

from accounts.session_keys import key_digest
from chatsite import dynamodb
from tests.support.users import PASSWORD, create_user


def _everything_stored() -> str:
    return "".join(str(dynamodb.client().scan(TableName=dynamodb.table_name(table))["Items"])
                   for table in (dynamodb.SESSIONS, dynamodb.CHAT))


def test_no_stored_item_holds_a_cookie_after_the_whole_session_flow(moto_tables):
    create_user("alice")
    laptop, other, phone, visitor = Client(), Client(), Client(), Client()
    for client in (laptop, other):
        assert client.post("/accounts/login/", {"username": "alice", "password": PASSWORD}).status_code == 302
    visitor.get("/accounts/login/")  # an anonymous session may exist too
    page = laptop.post("/accounts/link/").content.decode()
    code = re.search(r'class="link-code"[^>]*>([0-9A-Z]{4}-[0-9A-Z]{4})<', page).group(1)
    link_page = laptop.post("/accounts/link/").content.decode()  # a second, unused code stays stored
    assert re.search(r'class="link-code"', link_page)
    assert phone.post("/accounts/link/redeem/", {"code": code}).status_code == 302
    cookies = [c.cookies[settings.SESSION_COOKIE_NAME].value for c in (laptop, other, phone)]
    if settings.SESSION_COOKIE_NAME in visitor.cookies:
        cookies.append(visitor.cookies[settings.SESSION_COOKIE_NAME].value)
    stored = _everything_stored()
    assert all(len(c) >= 32 for c in cookies)
    for cookie in cookies:
        assert cookie not in stored
    assert key_digest(cookies[0]) in stored and key_digest(cookies[2]) in stored
    assert phone.get("/accounts/profile/").status_code == 200  # the device still works from its cookie
    sessions_page = laptop.get("/accounts/sessions/").content.decode()
    for cookie in cookies:
        assert cookie not in sessions_page and key_digest(cookie) not in sessions_page
