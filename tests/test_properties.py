"""Property-based tests (hypothesis): arbitrary text through every form and URL parameter.

For every input: no 500 (Django's test client re-raises any exception a view lets escape, and we
assert every status is below 500), and whatever was accepted reads back unchanged from DynamoDB
after the documented normalisation (messages: CRLF/CR → LF, surrounding whitespace trimmed; names
and descriptions: surrounding whitespace trimmed). moto, in-process, for speed.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from accounts import selectors as account_selectors
from rooms import selectors, services, validators
from rooms.timestamps import now_ms
from tests.support.examples import examples
from tests.support.users import PASSWORD, create_user
from tests.support.sessions import sign_in

HX = {"HTTP_HX_REQUEST": "true"}
COMMON = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
FAST = hsettings(max_examples=examples(40), **COMMON)
SLOW = hsettings(max_examples=examples(25), **COMMON)

# Any Unicode a browser can send in a form (no lone surrogates: they can't be UTF-8 encoded),
# biased towards the characters that tend to break things.
NASTY = st.sampled_from(["\x00", "\r\n", "\r", "\n", "\t", " ", "\u00a0", "\u2028", "\u202e", "\ufeff", "#", ":",
                         "/", "\\", "%", "?", "&", "=", "<", ">", '"', "'", "`", "${", "{{", "}}", "{%", "..",
                         "ﬁ", "Ａ", "İ", "ß", "e\u0301", "😀", "\U0001F3F3\uFE0F\u200D\U0001F308", "\x7f",
                         "\x1b", "\udbff\udfff"[:0], "%00", "%2F", "null", "None", "[]", "{}", "0", "-1"])
TEXT = st.lists(st.one_of(st.text(max_size=8), NASTY), max_size=12).map("".join)
LONG_TEXT = st.one_of(TEXT, st.text(min_size=100, max_size=6000))


def expected_comment(text: str) -> str:
    """The documented normalisation of a message (docs/live-updates.md, rooms/validators.py)."""
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


@pytest.fixture
def site(moto_tables, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only
    settings.CHAT_POST_RATE_LIMIT = 100_000
    settings.ACCOUNTS_SIGN_IN_FAILURE_LIMIT = 100_000
    settings.ACCOUNTS_DEVICE_LINK_FAILURE_LIMIT = 100_000
    settings.ACCOUNTS_SIGN_IN_IP_FAILURE_LIMIT = 100_000
    settings.ACCOUNTS_SIGN_UP_LIMIT = 100_000
    settings.CHAT_ROOM_CREATE_LIMIT = 100_000
    room = services.room_create(name="Art", description="pictures", created_by="alice")
    return room


def ensure_user(username: str, display_name: str | None = None) -> None:
    """State survives between examples (one moto per test function): create once."""
    if account_selectors.user_get(user_id=username) is None:
        create_user(username, display_name=display_name)


def ok(response, *allowed: int) -> None:
    assert response.status_code < 500, response.content[:1000]
    if allowed:
        assert response.status_code in allowed, (response.status_code, response.content[:1000])


def key_of(response) -> str:
    return re.search(r'name="idempotency_key" value="([^"]+)"', response.content.decode()).group(1)


# --- forms --------------------------------------------------------------------------------------


@SLOW
@given(username=TEXT, display_name=TEXT)
def test_sign_up_never_500s_and_stores_what_it_accepted(site, username, display_name):
    client = Client()
    response = client.post("/accounts/signup/", {"username": username, "display_name": display_name,
                                                 "password1": PASSWORD, "password2": PASSWORD})
    ok(response, 200, 302)
    if response.status_code == 302:
        record = account_selectors.user_get_by_username(username=username)
        assert record.username == username
        assert record.display_name == display_name.strip()
        profile = client.get("/accounts/profile/")
        ok(profile, 200)


@FAST
@given(username=TEXT, password=TEXT, next_url=TEXT)
def test_sign_in_never_500s(site, username, password, next_url):
    response = Client().post("/accounts/login/", {"username": username, "password": password, "next": next_url})
    ok(response, 200, 429)


@FAST
@given(display_name=LONG_TEXT)
def test_profile_display_name_reads_back_unchanged(site, client, display_name):
    ensure_user("alice", display_name="Alice")
    client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    before = account_selectors.user_get(user_id="alice").display_name
    response = client.post("/accounts/profile/", {"display_name": display_name})
    ok(response, 200, 302)
    stored = account_selectors.user_get(user_id="alice").display_name
    if response.status_code == 302:
        assert stored == display_name.strip()
        page = client.get("/accounts/profile/")
        ok(page, 200)
        assert page.wsgi_request.user.display_name == stored  # what pages show
    else:
        assert stored == before  # refused: nothing changed


@FAST
@given(name=TEXT, description=LONG_TEXT)
def test_create_room_never_500s_and_stores_what_it_accepted(site, client, name, description):
    sign_in(client, "alice")
    response = client.post("/", {"name": name, "description": description})
    ok(response, 302, 400)
    if response.status_code == 302:
        room_id = validators.room_id_from_name(name.strip())
        assert response["Location"] == f"/rooms/{room_id}/"
        room = selectors.room_get(room_id=room_id)
        assert room.name == name.strip() and room.description == description.strip()
        ok(client.get(response["Location"]), 200)


@FAST
@given(comment=LONG_TEXT, htmx=st.booleans())
def test_posted_message_reads_back_after_documented_normalisation(site, client, comment, htmx):
    sign_in(client, "alice")
    before = {m.message_id for m in selectors.room_history(room_id="art", limit=1000).items}
    page = client.get("/rooms/art/")
    response = client.post("/rooms/art/messages", {"comment": comment, "idempotency_key": key_of(page)},
                           **(HX if htmx else {}))
    ok(response, 200, 302, 400)
    new = [m for m in selectors.room_history(room_id="art", limit=1000).items if m.message_id not in before]
    if response.status_code == 400:
        assert new == []
        return
    assert [m.comment for m in new] == [expected_comment(comment)]
    record = selectors.message_get(author_id="alice", sk=new[0].sk)
    assert record.comment == expected_comment(comment)


@FAST
@given(code=TEXT, in_url=TEXT)
def test_link_code_never_500s(site, code, in_url):
    client = Client()
    ok(client.get("/accounts/link/redeem/", {"code": in_url}), 200)
    ok(client.post("/accounts/link/redeem/", {"code": code}), 200, 429)


@FAST
@given(old=TEXT, new1=TEXT, new2=TEXT)
def test_password_change_never_500s(site, client, old, new1, new2):
    ensure_user("alice")
    client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    ok(client.post("/accounts/password/", {"old_password": old, "new_password1": new1, "new_password2": new2}))


# --- URL parameters -------------------------------------------------------------------------------


@FAST
@given(room_id=TEXT, suffix=st.sampled_from(["/", "/messages", "/messages/delete", "/updates"]))
def test_any_room_id_in_a_url_is_a_404_or_a_room(site, client, room_id, suffix):
    sign_in(client, "alice")
    path = "/rooms/" + quote(room_id, safe="") + suffix
    method = client.get if suffix in ("/", "/updates") else client.post
    ok(method(path, {"w": str(now_ms())} if suffix == "/updates" else {}))


def _history_cursor(client) -> str:
    page = client.get("/rooms/art/").content.decode()
    from urllib.parse import unquote

    return unquote(re.search(r'\?before=([^"]+)"', page).group(1))


@pytest.fixture
def long_room(site):
    alice = sign_in(Client(), "alice")
    for n in range(55):
        services.message_post(room=site, author=alice, comment=f"m{n}", idempotency_key=validators.new_token())
    return site


MUTATION = st.one_of(
    st.tuples(st.just("replace"), st.integers(0, 400), st.characters()),
    st.tuples(st.just("truncate"), st.integers(0, 400), st.just("")),
    st.tuples(st.just("append"), st.just(0), TEXT),
    st.tuples(st.just("raw"), st.just(0), TEXT),
)


def mutate(cursor: str, mutation) -> str:
    kind, at, text = mutation
    if kind == "replace":
        at %= len(cursor)
        return cursor[:at] + text + cursor[at + 1:]
    if kind == "truncate":
        return cursor[:at % len(cursor)]
    if kind == "append":
        return cursor + text
    return text


@FAST
@given(mutation=MUTATION)
def test_history_cursors_tampered_or_arbitrary_give_400_or_a_page(long_room, client, mutation):
    cursor = _history_cursor(client)
    assert client.get("/rooms/art/", {"before": cursor}).status_code == 200
    forged = mutate(cursor, mutation)
    for extra in ({}, HX):
        response = client.get("/rooms/art/", {"before": forged}, **extra)
        ok(response, 200, 400)
        if response.status_code == 200 and forged:
            assert forged == cursor  # only the real, signed cursor is accepted
    ok(client.get("/", {"after": forged}), 200, 400)


@FAST
@given(w=st.one_of(TEXT, st.integers(-2**70, 2**70).map(str)), seen=st.one_of(
    TEXT, st.lists(st.one_of(st.builds(lambda t: "m-" + t, st.sampled_from([validators.new_token() for _ in range(3)])),
                             TEXT), max_size=5).map(",".join)))
def test_live_update_polls_with_any_cursor_never_500(site, client, w, seen):
    response = client.get("/rooms/art/updates", {"w": w, "seen": seen})
    ok(response, 200, 204, 286, 400)


@FAST
@given(ref=TEXT)
def test_revoking_any_session_id_never_500s_and_never_ends_someone_elses(site, ref):
    ensure_user("alice")
    ensure_user("mallory")
    alice, mallory = Client(), Client()
    alice.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    mallory.post("/accounts/login/", {"username": "mallory", "password": PASSWORD})
    for value in (ref, alice.session.session_key, alice.session.session_key + ref):
        ok(mallory.post("/accounts/sessions/revoke/", {"session": value}), 302)
    ok(alice.get("/accounts/profile/"), 200)


@FAST
@given(author=TEXT, sk=TEXT, use_real_sk=st.booleans())
def test_deleting_with_any_ids_never_500s_and_never_deletes_someone_elses(site, client, author, sk, use_real_sk):
    alice = sign_in(Client(), "alice")
    message = services.message_post(room=site, author=alice, comment="keep me",
                                    idempotency_key=validators.new_token()).message
    sign_in(client, "mallory")
    ok(client.post("/rooms/art/messages/delete", {"author": author, "sk": message.sk if use_real_sk else sk}))
    ok(client.post("/rooms/art/messages/delete", {"author": "alice", "sk": message.sk + sk}))
    assert selectors.message_get(author_id="alice", sk=message.sk) is not None


def _is_off_site(location: str) -> bool:
    """Would a browser leave 127.0.0.1/testserver following this Location?"""
    # Browsers treat backslashes as slashes and drop tabs/newlines in URLs.
    normalised = re.sub(r"[\t\n\r]", "", location).replace("\\", "/").lstrip(" \x00-\x1f")
    parts = urlsplit(normalised)
    return bool(parts.scheme or parts.netloc or normalised.startswith("//"))


@FAST
@given(next_url=st.one_of(TEXT, st.sampled_from([
    "https://evil.example", "//evil.example", "/\\evil.example", "\\\\evil.example", "https:evil.example",
    "/\t/evil.example", " //evil.example", "javascript:alert(1)", "http://testserver@evil.example",
    "///evil.example", "/%2F/evil.example", "/../\\evil.example"])))
def test_next_never_redirects_off_site(site, next_url):
    ensure_user("alice")
    client = Client()
    response = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD, "next": next_url})
    ok(response, 302)
    assert not _is_off_site(response["Location"]), response["Location"]
    again = client.get("/accounts/login/", {"next": next_url})  # signed in: GET redirects at once
    ok(again, 302)
    assert not _is_off_site(again["Location"]), again["Location"]
    signup = Client().post("/accounts/signup/", {"username": "u" + validators.new_token()[:10].replace("-", "x"),
                                                 "display_name": "U", "password1": PASSWORD,
                                                 "password2": PASSWORD, "next": next_url})
    ok(signup, 302)
    assert not _is_off_site(signup["Location"]), signup["Location"]
