"""A search asked through htmx (the header's field or "Older results" with JavaScript) is answered
with the search section alone, for the open page's <main>: the same results as the whole page, from
the same check of which rooms the user may read now, but without the sidebar's unread counts
(no BatchGetItem of the rooms' Seq) and no sidebar or layout drawn. A history restore, a direct link,
a reload and a browser without JavaScript get the whole page. On moto, indexing inline."""

from __future__ import annotations

import re
from html import unescape

import pytest

from chatsite.dynamodb import count_calls
from rooms import search, services, validators
from rooms.models import PRIVATE
from tests.support.sessions import request_user, sign_in
from tests.support.users import ensure_user_item

HX = {"HTTP_HX_REQUEST": "true"}
HISTORY_RESTORE = {"HTTP_HX_REQUEST": "true", "HTTP_HX_HISTORY_RESTORE_REQUEST": "true"}


@pytest.fixture(autouse=True)
def inline_indexing(settings):
    settings.CHAT_SEARCH_INDEXER = "inline"
    settings.CHAT_POST_RATE_LIMIT = 1000
    settings.CHAT_ROOM_SEQ_CACHE_SECONDS = 0  # the page reads the rooms' Seq every time: what a fragment saves


def say(room, text: str, author: str = "alice"):
    return services.message_post(room=room, author=request_user(author), comment=text,
                                 idempotency_key=validators.new_token()).message


def texts(response) -> list[str]:
    page = response.content.decode()
    return [unescape(re.sub(r"<[^>]+>", "", text)) for text in
            re.findall(r'<p class="search-text"><a href="[^"]*">(.*?)</a></p>', page, re.S)]


def section(response) -> str:
    """The search section as sent (the CSRF token aside, which differs per response)."""
    page = response.content.decode()
    found = re.search(r'<section class="search-page".*?</section>', page, re.S)
    assert found, page[:2000]
    return found.group(0)


@pytest.fixture
def rooms(moto_tables):
    """alice: a private room and a public one, each with a pineapple; bob exists, in neither."""
    plans = services.room_create(name="Plans", created_by="alice", kind=PRIVATE)
    say(plans, "the pineapple launch is friday")
    lobby = services.room_create(name="Lobby", created_by="alice")
    say(lobby, "pineapple cake in the lobby")
    ensure_user_item("bob")
    return plans, lobby


def test_the_fragment_has_the_pages_results_without_the_sidebar_and_fewer_calls(client, rooms):
    sign_in(client, "alice")
    client.get("/search/", {"q": "pineapple"})  # names and session warm for both
    with count_calls() as page_calls:
        page = client.get("/search/", {"q": "pineapple"})
    with count_calls() as fragment_calls:
        fragment = client.get("/search/", {"q": "pineapple"}, **HX)
    assert page.status_code == fragment.status_code == 200
    assert texts(fragment) == texts(page) == ["pineapple cake in the lobby", "the pineapple launch is friday"]
    assert section(fragment) == section(page)
    body = fragment.content.decode()
    assert 'id="sidebar"' not in body and "<html" not in body and "site-header" not in body
    assert 'id="sidebar"' in page.content.decode()
    assert "<title>pineapple · Search · Chatsite</title>" in body
    # The page's unread counts are one BatchGetItem of the rooms' Seq; the fragment reads none.
    assert page_calls["BatchGetItem"] == fragment_calls.get("BatchGetItem", 0) + 1, (page_calls, fragment_calls)
    assert "BatchGetItem" not in fragment_calls or fragment_calls["BatchGetItem"] == 1  # the messages' only
    assert sum(fragment_calls.values()) < sum(page_calls.values()), (page_calls, fragment_calls)
    assert fragment_calls["Query"] == page_calls["Query"]  # the user's rooms still read: who may read what


def test_the_fragment_reads_no_rooms_seq_at_all(client, rooms):
    """With nothing matched, a search reads no messages: then a fragment's calls hold no BatchGetItem."""
    sign_in(client, "alice")
    client.get("/search/", {"q": "grapefruit"})
    with count_calls() as calls:
        fragment = client.get("/search/", {"q": "grapefruit"}, **HX)
    assert texts(fragment) == []
    assert "No messages match." in fragment.content.decode()
    assert "BatchGetItem" not in calls, calls
    with count_calls() as calls:
        client.get("/search/", {"q": "grapefruit"})
    assert calls["BatchGetItem"] == 1, calls  # the page: the sidebar's unread counts


def test_the_fragment_pushes_its_address_and_varies_on_htmx(client, rooms):
    sign_in(client, "alice")
    fragment = client.get("/search/", {"q": "pineapple cake"}, **HX)
    assert fragment["HX-Push-Url"] == "/search/?q=pineapple+cake"
    assert "HX-Request" in fragment["Vary"]
    assert "no-store" in fragment["Cache-Control"]
    page = client.get("/search/", {"q": "pineapple cake"})
    assert "HX-Request" in page["Vary"]
    assert "HX-Push-Url" not in page


def test_a_non_member_never_sees_a_private_rooms_hit_through_the_fragment(client, rooms):
    plans, _ = rooms
    sign_in(client, "bob")
    with count_calls() as hit:
        private_word = client.get("/search/", {"q": "launch"}, **HX)
    with count_calls() as miss:
        no_word = client.get("/search/", {"q": "grapefruit"}, **HX)
    assert texts(private_word) == []
    assert section(private_word).replace("launch", "W") == section(no_word).replace("grapefruit", "W")
    assert "Plans" not in private_word.content.decode()
    assert dict(hit) == dict(miss), (hit, miss)
    assert texts(client.get("/search/", {"q": "pineapple"}, **HX)) == ["pineapple cake in the lobby"]
    assert "There is no room “plans” to search." in unescape(
        client.get("/search/", {"q": "pineapple in:plans"}, **HX).content.decode())
    # A member removed drops out at once, fragment or not.
    services.membership_add(room=plans, user_id="bob", display_name="Bob")
    assert texts(client.get("/search/", {"q": "launch"}, **HX)) == ["the pineapple launch is friday"]
    services.member_remove(room=plans, actor=request_user("alice"), user_id="bob")
    assert texts(client.get("/search/", {"q": "launch"}, **HX)) == []


@pytest.mark.parametrize(("q", "status", "says"), [
    ("x" * 1001, 400, "That search is 1,001 characters long: at most 1,000, please."),
    ("colour:red apples", 400, "“colour:” is not a filter."),
    ("a b c", 200, "at least one word of 3 or more letters"),
    ("apples in:nosuch", 200, "There is no room “nosuch” to search."),
])
def test_bad_input_is_answered_in_the_fragment(client, rooms, q, status, says):
    sign_in(client, "alice")
    response = client.get("/search/", {"q": q}, **HX)
    assert response.status_code == status
    body = unescape(response.content.decode())
    assert says in body
    assert '<p class="search-error" role="alert">' in body
    assert 'id="sidebar"' not in body


def test_a_tampered_older_results_link_is_answered_in_the_fragment(client, rooms):
    sign_in(client, "alice")
    response = client.get("/search/", {"q": "pineapple", "after": "not-a-cursor"}, **HX)
    assert response.status_code == 400
    assert "That “Older results” link is broken or out of date." in unescape(response.content.decode())


def test_older_results_ask_through_htmx_for_main(client, rooms, monkeypatch):
    monkeypatch.setattr(search, "SEARCH_PAGE_SIZE", 1)
    sign_in(client, "alice")
    for response in (client.get("/search/", {"q": "pineapple"}), client.get("/search/", {"q": "pineapple"}, **HX)):
        link = re.search(r'<a id="older-results" href="([^"]+)" hx-get="([^"]+)" hx-target="#main"', response.content.decode())
        assert link, response.content.decode()[:3000]
        assert "/search/" + link.group(1) == link.group(2) and link.group(1).startswith("?q=pineapple&amp;after=")
        older = client.get(unescape(link.group(2)), **HX)
        assert texts(older) == ["the pineapple launch is friday"]
        assert older["HX-Push-Url"] == unescape(link.group(2))


def test_a_history_restore_gets_the_whole_page(client, rooms):
    sign_in(client, "alice")
    restored = client.get("/search/", {"q": "pineapple"}, **HISTORY_RESTORE)
    body = restored.content.decode()
    assert restored.status_code == 200
    assert body.lstrip().startswith("<!doctype html>") and 'id="sidebar"' in body
    assert texts(restored) == ["pineapple cake in the lobby", "the pineapple launch is friday"]
    assert "HX-Push-Url" not in restored


def test_the_header_form_asks_through_htmx_except_on_live_room_pages(client, rooms):
    plans, lobby = rooms
    sign_in(client, "alice")
    for path in ("/", "/search/", "/mentions/"):
        form = re.search(r'<form method="get" action="/search/"[^>]*>', client.get(path).content.decode()).group(0)
        assert 'hx-get="/search/" hx-target="#main"' in form, (path, form)
    room_page = client.get(f"/rooms/{lobby.room_id}/").content.decode()
    assert re.search(r'<form method="get" action="/search/">', room_page)
