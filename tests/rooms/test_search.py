"""Searching messages (rooms/search.py, GET /search/) on moto, with the indexer writing at once
(CHAT_SEARCH_INDEXER = "inline"): words, prefixes, phrases (Japanese too), accents, filters, the
signed "Older results" cursor, who may read what (a non-member never learns of a private room's
hit; a removed member stops at once), bad input answered in the page, the calls a search makes,
and never a Scan."""

from __future__ import annotations

import re
from html import unescape

import pytest

from chatsite.dynamodb import count_calls
from rooms import search, services, validators
from rooms.models import PRIVATE
from rooms.timestamps import iso_from_ms, now_ms
from tests.support.sessions import request_user, sign_in
from tests.support.users import ensure_user_item


@pytest.fixture(autouse=True)
def inline_indexing(settings):
    settings.CHAT_SEARCH_INDEXER = "inline"
    settings.CHAT_POST_RATE_LIMIT = 1000


@pytest.fixture(autouse=True)
def never_a_scan():
    """Every DynamoDB call a test makes, by operation name: none of them is ever a Scan."""
    with count_calls() as calls:
        yield calls
    assert "Scan" not in calls, calls


def say(room, text: str, author: str = "alice"):
    return services.message_post(room=room, author=request_user(author), comment=text,
                                 idempotency_key=validators.new_token()).message


def results(response) -> list[str]:
    """The results' texts as shown (marks dropped), newest first."""
    assert response.status_code == 200, response.content.decode()[:2000]
    page = response.content.decode()
    return [unescape(re.sub(r"<[^>]+>", "", text)) for text in
            re.findall(r'<p class="search-text"><a href="[^"]*">(.*?)</a></p>', page, re.S)]


def find(client, q: str, **params) -> list[str]:
    return results(client.get("/search/", {"q": q, **params}))


@pytest.fixture
def general(moto_tables):
    return services.room_create(name="General", created_by="alice")


# --- what matches -----------------------------------------------------------------------------------


def test_a_word_finds_the_messages_that_have_it(client, general):
    say(general, "The deployment finished at noon")
    say(general, "Lunch is ready")
    assert find(client, "deployment") == ["The deployment finished at noon"]
    assert find(client, "DEPLOYMENT") == ["The deployment finished at noon"]
    assert find(client, "dinner") == []


def test_a_word_of_three_letters_or_more_finds_the_words_it_begins(client, general):
    say(general, "The deployment finished")
    say(general, "Deploy again tomorrow")
    say(general, "A depot of spare parts")
    assert find(client, "deplo") == ["Deploy again tomorrow", "The deployment finished"]
    assert find(client, "dep") == ["A depot of spare parts", "Deploy again tomorrow", "The deployment finished"]
    # Only the start of a word: "ploy" is inside "deploy", not the start of any word.
    assert find(client, "ploy") == []
    response = client.get("/search/", {"q": "de"})  # two letters are not indexed: said so, nothing read
    assert "at least one word of 3 or more letters" in response.content.decode()


def test_every_word_must_match(client, general):
    say(general, "red apples and green pears")
    say(general, "red cars")
    say(general, "green apples")
    assert find(client, "red apples") == ["red apples and green pears"]
    assert find(client, "apples red") == ["red apples and green pears"]
    assert find(client, "green") == ["green apples", "red apples and green pears"]
    assert find(client, "red bananas") == []


def test_an_exact_phrase_matches_its_words_together_in_order(client, general):
    say(general, "the release candidate is out")
    say(general, "a candidate for release")
    assert find(client, '"release candidate"') == ["the release candidate is out"]
    assert find(client, '"candidate release"') == []
    assert find(client, "release candidate") == ["a candidate for release", "the release candidate is out"]
    # Typographic quotes work the same.
    assert find(client, "“release candidate”") == ["the release candidate is out"]


def test_a_japanese_phrase_finds_its_message(client, general):
    say(general, "東京タワーに行きました")
    say(general, "大阪城に行きました")
    assert find(client, "東京タワー") == ["東京タワーに行きました"]
    assert find(client, '"東京タワー"') == ["東京タワーに行きました"]
    assert find(client, "行きました") == ["大阪城に行きました", "東京タワーに行きました"]
    assert find(client, "タワー 東京") == ["東京タワーに行きました"]  # two words, both there
    assert find(client, '"タワー東京"') == []  # but not this phrase
    assert find(client, "タワー東京") == []  # nor its pairs (ー東)
    assert find(client, "大阪タワー") == []
    page = client.get("/search/", {"q": "東京タワー"}).content.decode()
    assert "<mark>東京タワー</mark>に行きました" in page


def test_a_one_character_chinese_word_finds_the_messages_that_have_it(client, general):
    say(general, "我家的猫很可爱")
    say(general, "狗在外面")
    assert find(client, "猫") == ["我家的猫很可爱"]
    assert find(client, "猫 可爱") == ["我家的猫很可爱"]
    assert find(client, "鱼") == []
    page = client.get("/search/", {"q": "猫"}).content.decode()
    assert "我家的<mark>猫</mark>很可爱" in page


def test_accents_and_case_do_not_matter(client, general):
    say(general, "Meet at the Café")
    say(general, "cafe opens at nine")
    assert find(client, "cafe") == ["cafe opens at nine", "Meet at the Café"]
    assert find(client, "CAFÉ") == ["cafe opens at nine", "Meet at the Café"]
    page = client.get("/search/", {"q": "cafe"}).content.decode()
    assert "Meet at the <mark>Café</mark>" in page and "<mark>cafe</mark> opens at nine" in page


def test_matches_are_marked_and_the_text_escaped_with_a_link_to_the_message(client, general):
    message = say(general, "<b>pineapple</b> & pineapples")
    page = client.get("/search/", {"q": "pineapple"}).content.decode()
    assert "&lt;b&gt;<mark>pineapple</mark>&lt;/b&gt; &amp; <mark>pineapples</mark>" in page
    assert "<b>pineapple" not in page
    assert f'href="{message.permalink.replace("&", "&amp;")}"' in page
    assert '<span class="author">Alice</span> in <span class="search-room-name">General</span>' in page
    assert f'<time datetime="{message.created_at}">' in page


def test_a_long_message_is_cut_around_its_first_match(client, general):
    say(general, "x" * 50 + " " + "filler " * 300 + "needle " + "tail " * 300)
    [text] = find(client, "needle")
    assert len(text) <= search.EXCERPT_CHARS + 2 and "needle" in text
    assert text.startswith("…") and text.endswith("…")


def test_a_deleted_message_is_not_found_and_an_edit_is_found_by_its_new_text(client, general):
    gone = say(general, "pineapple one")
    kept = say(general, "pineapple two")
    services.message_delete(room_id=general.room_id, actor=request_user("alice"), author_id="alice", sk=gone.sk)
    services.message_edit(room=general, actor=request_user("alice"), author_id="alice", sk=kept.sk,
                          comment="mango two", seen_version=0)
    assert find(client, "pineapple") == []
    assert find(client, "mango") == ["mango two"]


# --- filters ------------------------------------------------------------------------------------------


def test_in_and_from_narrow_the_results(client, general):
    random = services.room_create(name="Random", created_by="bob")
    say(general, "standup notes", author="alice")
    say(general, "standup moved", author="bob")
    say(random, "standup in random", author="bob")
    assert find(client, "standup") == ["standup in random", "standup moved", "standup notes"]
    assert find(client, "standup in:general") == ["standup moved", "standup notes"]
    assert find(client, "standup in:random") == ["standup in random"]
    assert find(client, "from:bob standup") == ["standup in random", "standup moved"]
    assert find(client, "standup from:@Bob in:general") == ["standup moved"]
    assert find(client, "standup from:carol") == []


def test_before_and_after_take_whole_days_in_utc(client, general, settings):
    from chatsite.batch import batch_put_items
    from rooms.models import ChatMessage, MessageRecord

    # Messages of three days (written as message_post stores them, then indexed like a post).
    for day, text in (("2026-03-01", "report march first"), ("2026-03-02", "report march second"),
                      ("2026-03-03", "report march third")):
        item = services.message_item(room_id=general.room_id, author_id="alice", author_name="Alice",
                                     created_at=f"{day}T12:00:00.000Z", message_id=validators.new_token(),
                                     comment=text)
        batch_put_items([item])
        search.backend.index_message(ChatMessage.from_record(MessageRecord.from_raw_data(item)), room=general)
    assert find(client, "report") == ["report march third", "report march second", "report march first"]
    assert find(client, "report before:2026-03-02") == ["report march first"]
    assert find(client, "report after:2026-03-02") == ["report march third"]
    assert find(client, "report after:2026-03-01 before:2026-03-03") == ["report march second"]
    assert find(client, "report before:2026-03-01") == []


# --- pages ---------------------------------------------------------------------------------------------


def test_older_results_continue_through_a_signed_cursor(client, general):
    for n in range(25):
        say(general, f"ticket number {n:02d}")
    first = client.get("/search/", {"q": "ticket"})
    assert find(client, "ticket") == [f"ticket number {n:02d}" for n in range(24, 4, -1)]
    cursor = unescape(re.search(r'id="older-results" href="\?q=ticket&amp;after=([^"]+)"',
                                first.content.decode()).group(1))
    from urllib.parse import unquote
    cursor = unquote(cursor)
    second = client.get("/search/", {"q": "ticket", "after": cursor})
    assert results(second) == [f"ticket number {n:02d}" for n in range(4, -1, -1)]
    assert 'id="older-results"' not in second.content.decode()

    tampered = client.get("/search/", {"q": "ticket", "after": cursor[:-3] + ("AAA" if cursor[-3:] != "AAA" else "BBB")})
    assert tampered.status_code == 400
    assert "That “Older results” link is broken or out of date." in tampered.content.decode()
    # A cursor of another query (or another user) is refused the same way.
    other = client.get("/search/", {"q": "number", "after": cursor})
    assert other.status_code == 400
    sign_in(client, "bob")
    assert client.get("/search/", {"q": "ticket", "after": cursor}).status_code == 400


# --- who may read what ----------------------------------------------------------------------------------


@pytest.fixture
def secret(moto_tables):
    """A private room of alice's holding a message, and a public one with another."""
    room = services.room_create(name="Plans", created_by="alice", kind=PRIVATE)
    say(room, "the pineapple launch is friday")
    public = services.room_create(name="Lobby", created_by="alice")
    say(public, "nothing to see here")
    ensure_user_item("bob")
    return room


def _page_without(response, *words: str) -> str:
    page = response.content.decode()
    for word in words:
        page = page.replace(word, "WORD")
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"|"X-CSRFToken": "[^"]+"', "", page)


def test_a_member_finds_a_private_rooms_message_and_a_non_member_never_learns_of_it(client, secret):
    sign_in(client, "alice")
    assert find(client, "pineapple") == ["the pineapple launch is friday"]
    assert "Plans" in client.get("/search/", {"q": "pineapple"}).content.decode()

    sign_in(client, "bob")
    with count_calls() as hit:
        private_word = client.get("/search/", {"q": "pineapple"})
    with count_calls() as miss:
        no_word = client.get("/search/", {"q": "grapefruit"})
    assert results(private_word) == []
    # The same page as for a word no message has: no count, no room name, no hint; the same reads.
    assert _page_without(private_word, "pineapple") == _page_without(no_word, "grapefruit")
    assert "Plans" not in private_word.content.decode()
    assert dict(hit) == dict(miss), (hit, miss)
    # Signed out: the same.
    client.cookies.clear()
    assert find(client, "pineapple") == []


def test_in_a_private_room_one_cannot_read_answers_as_a_room_that_does_not_exist(client, secret):
    sign_in(client, "bob")
    private = client.get("/search/", {"q": "pineapple in:plans"})
    missing = client.get("/search/", {"q": "pineapple in:nosuch"})
    assert private.status_code == missing.status_code == 200
    assert "There is no room “plans” to search." in private.content.decode()
    assert _page_without(private, "plans") == _page_without(missing, "nosuch")
    sign_in(client, "alice")
    assert find(client, "pineapple in:plans") == ["the pineapple launch is friday"]


def test_a_removed_member_stops_finding_the_room_at_once(client, secret):
    services.membership_add(room=secret, user_id="bob", display_name="Bob")
    sign_in(client, "bob")
    assert find(client, "pineapple") == ["the pineapple launch is friday"]
    services.member_remove(room=secret, actor=request_user("alice"), user_id="bob")
    assert find(client, "pineapple") == []
    assert "There is no room “plans” to search." in client.get("/search/", {"q": "pineapple in:plans"}).content.decode()


def test_a_direct_conversation_is_searched_by_its_people_under_its_name(client, moto_tables):
    ensure_user_item("alice")
    ensure_user_item("bob")
    ensure_user_item("carol")
    room_id = services.direct_start(starter=request_user("alice"), usernames=["bob"])
    from rooms import selectors
    say(selectors.room_get(room_id=room_id), "our quiet conversation")
    sign_in(client, "bob")
    page = client.get("/search/", {"q": "quiet"}).content.decode()
    assert find(client, "quiet") == ["our quiet conversation"]
    assert '<span class="search-room-name">Alice</span>' in page
    sign_in(client, "carol")
    assert find(client, "quiet") == []


# --- bad input -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("q", "status", "says"), [
    ("a b c", 200, "at least one word of 3 or more letters"),
    ("the and of", 200, "the most common ones"),
    ("... !!! ???", 200, "at least one word of 3 or more letters"),
    ("from:alice", 200, "Type a word to search for: in:, from:, before: and after: narrow a search"),
    ("x" * 1001, 400, "That search is 1,001 characters long: at most 1,000, please."),
    (" ".join(f"w{n:02d}x" for n in range(31)), 400, "Search for at most 30 words at a time."),
    ("colour:red apples", 400, "“colour:” is not a filter."),
    ("apples before:2026-02-30", 400, "“before:2026-02-30” is not a date: write it as YYYY-MM-DD"),
    ("apples after:yesterday", 400, "“after:yesterday” is not a date"),
    ("apples after:2026-03-05 before:2026-03-02", 400, "No day is both after 2026-03-05 and before 2026-03-02."),
    ("apples in:general in:random", 400, "Use in: once in a search."),
    ("apples in:", 400, "needs a value after the colon"),
    ("apples from:no#body", 400, "“from:no#body” is not a username."),
    ("apples in:nosuch", 200, "There is no room “nosuch” to search."),
    ("apples in:NOT_AN_ID!", 200, "There is no room “not_an_id!” to search."),
])
def test_bad_input_is_answered_in_the_page_and_never_searched(client, general, q, status, says, never_a_scan):
    sign_in(client, "alice")
    client.get("/search/")  # the session and sidebar, warm
    with count_calls() as calls:
        response = client.get("/search/", {"q": q})
    assert response.status_code == status
    page = response.content.decode()
    assert says in unescape(page), page[:3000]
    assert 'role="alert"' in page
    # Nothing read for the search: no index Query (only the session and sidebar Queries) nor message reads;
    # an in: of a room not in the sidebar may read the room (as a missing room's page does).
    assert calls["Query"] == 2 and calls.get("BatchGetItem", 0) <= 1 and set(calls) <= {"Query", "BatchGetItem", "GetItem"}, calls


def test_the_search_page_without_a_query_is_the_help(client, general):
    response = client.get("/search/")
    assert response.status_code == 200
    assert "How to search" in response.content.decode()
    assert client.get("/search/", {"q": "   "}).status_code == 200


# --- cost -----------------------------------------------------------------------------------------------


def test_calls_per_search(client, secret):
    """Signed in, in one private room (+ the public scope): the session and sidebar Queries (the
    unread counts cached from the warm-up), 1 Query per scope, 1 BatchGetItem of the candidates, and
    the public rooms' names (cached after the first search). Signed out: 1 Query, 1 BatchGetItem."""
    services.room_create(name="Drafts", created_by="alice", kind=PRIVATE)
    lobby = services.room_create(name="Outside", created_by="carol")
    say(lobby, "pineapple outside", author="carol")
    sign_in(client, "alice")
    assert find(client, "pineapple") == ["pineapple outside", "the pineapple launch is friday"]
    with count_calls() as calls:
        response = client.get("/search/", {"q": "pineapple"})
    assert results(response) == ["pineapple outside", "the pineapple launch is friday"]
    # session + sidebar + 3 scopes (pub, plans, drafts); messages in one BatchGetItem; names cached.
    assert dict(calls) == {"Query": 2 + 3, "BatchGetItem": 1}, calls

    client.cookies.clear()
    with count_calls() as calls:
        assert find(client, "pineapple") == ["pineapple outside"]
    assert dict(calls) == {"Query": 1, "BatchGetItem": 1}, calls


def test_a_cold_room_cache_reads_the_public_rooms_names_in_one_batch(client, general):
    random = services.room_create(name="Random", created_by="bob")
    say(general, "kiwi one")
    say(random, "kiwi two")
    from chatsite import caches
    caches.clear_all()
    with count_calls() as calls:
        assert find(client, "kiwi") == ["kiwi two", "kiwi one"]
    assert dict(calls) == {"Query": 1, "BatchGetItem": 2}, calls  # the messages, then both rooms' names


def test_a_page_reads_at_most_its_budget_however_many_entries_fail_the_check(client, general, monkeypatch):
    """Every message has both words of the phrase, never together in its order, so the index can't
    rule any out: each message's text is read and fails. The page stops at MAX_CANDIDATES messages
    read and offers Older results from there."""
    monkeypatch.setattr(search, "MAX_CANDIDATES", 30)
    monkeypatch.setattr(search, "HITS_PER_QUERY", 10)
    for n in range(80):
        say(general, f"commonplace item frequent {n}")
    with count_calls() as calls:
        response = client.get("/search/", {"q": '"frequent commonplace"'})
    assert results(response) == []
    assert 'id="older-results"' in response.content.decode()
    # Round 1: 10 entries of each word (both keep up), too few to fill the page; round 2: 13 and 17
    # (the page's 20 less the 10 held, a quarter more), whose 23 messages are read and fail; round 3:
    # the rest of one word (the other already reaches as far), 7 more messages to the budget.
    assert dict(calls) == {"Query": 5, "BatchGetItem": 2}, calls


def test_a_one_word_page_reads_about_a_pages_worth_of_messages(client, general, monkeypatch):
    """Nearly every entry of one word matches: a page reads its 20 and a quarter more, not every
    entry its Query brought back (50)."""
    for n in range(60):
        say(general, f"lantern {n}")
    read = []
    real = search.selectors.messages_get_many
    monkeypatch.setattr(search.selectors, "messages_get_many",
                        lambda **kw: read.extend(kw["message_keys"]) or real(**kw))
    response = client.get("/search/", {"q": "lantern"})
    assert results(response) == [f"lantern {n}" for n in range(59, 39, -1)]
    assert len(read) == 25, len(read)
    assert 'id="older-results"' in response.content.decode()


def test_two_common_words_never_together_read_almost_no_messages(client, general, monkeypatch):
    """An entry of one word in the part of the history the other word's entries cover, but not
    among them, cannot match: its message is not read. Two common words that never meet cost
    Queries of index entries, not a BatchGetItem of every candidate."""
    monkeypatch.setattr(search, "MAX_CANDIDATES", 30)
    monkeypatch.setattr(search, "HITS_PER_QUERY", 10)
    for n in range(80):  # two common words, never together
        say(general, f"commonplace item {n}" if n % 2 else f"frequent item {n}")
    say(general, "frequent and commonplace at last")
    read = []
    real = search.selectors.messages_get_many
    monkeypatch.setattr(search.selectors, "messages_get_many",
                        lambda **kw: read.extend(kw["message_keys"]) or real(**kw))
    with count_calls() as calls:
        response = client.get("/search/", {"q": "commonplace frequent"})
    assert results(response) == ["frequent and commonplace at last"]
    assert len(read) <= 3, read  # the match, and at most one entry per round past the other word's entries
    assert calls["BatchGetItem"] <= 2 and calls["Query"] <= 6, calls


def test_of_two_words_the_rarer_is_followed_whichever_is_longer(client, general, monkeypatch):
    """"status needle": the first page reads each word's newest entries (1 Query each) and follows
    the word whose entries are complete (or the sparsest), so a rare word's old messages are found
    within the budget even when a common word of the same length comes first."""
    monkeypatch.setattr(search, "MAX_CANDIDATES", 30)
    monkeypatch.setattr(search, "HITS_PER_QUERY", 10)
    for n in range(60):
        say(general, f"status {n}" + (" needle" if n % 20 == 0 else ""))
    with count_calls() as calls:
        found = find(client, "status needle")
    assert found == ["status 40 needle", "status 20 needle", "status 0 needle"]
    assert dict(calls) == {"Query": 2, "BatchGetItem": 2}, calls  # the messages, then the room's name


def test_with_many_rooms_the_first_round_reads_fewer_words(client, moto_tables, monkeypatch):
    from tests.support.seeding import rooms_created
    monkeypatch.setattr(search, "MAX_FIRST_ROUND_QUERIES", 5)
    rooms_created(["Team 0", "Team 1"], created_by="alice", kinds=[PRIVATE] * 2)
    sign_in(client, "alice")
    client.get("/search/")
    with count_calls() as calls:
        find(client, "status needle")
    assert calls["Query"] == 2 + 3, calls  # 3 scopes x 2 words > 5: only the longest word's entries
    monkeypatch.setattr(search, "MAX_FIRST_ROUND_QUERIES", 6)
    with count_calls() as calls:
        find(client, "status needle")
    assert calls["Query"] == 2 + 6, calls


def test_many_private_rooms_are_queried_in_parallel_and_counted(client, moto_tables):
    from tests.support.seeding import rooms_created
    rooms = rooms_created([f"Team {n}" for n in range(6)], created_by="alice", kinds=[PRIVATE] * 6)
    for room in rooms:
        say(room, f"quarterly plan of {room.name}")
    sign_in(client, "alice")
    client.get("/search/")
    with count_calls() as calls:
        found = find(client, "quarterly")
    assert sorted(found) == sorted(f"quarterly plan of Team {n}" for n in range(6))
    assert calls["Query"] == 2 + 1 + 6, calls  # session, sidebar; pub + 6 private scopes (from pool threads)
    assert calls["BatchGetItem"] == 1, calls


def test_past_the_cap_the_most_recently_read_private_rooms_are_searched_and_the_page_says_so(client, moto_tables,
                                                                                          monkeypatch):
    from tests.support.seeding import rooms_created
    monkeypatch.setattr(search, "MAX_PRIVATE_SCOPES", 2)
    rooms = rooms_created([f"Team {n}" for n in range(3)], created_by="alice", kinds=[PRIVATE] * 3)
    for room in rooms:
        say(room, f"budget of {room.name}")
    # Alice read Team 0 and Team 2 last: those two are searched.
    for room in (rooms[0], rooms[2]):
        services.read_cursor_advance(user_id="alice", room_id=room.room_id, seq=1,
                                     pos=f"{iso_from_ms(now_ms())}#x")
    sign_in(client, "alice")
    response = client.get("/search/", {"q": "budget"})
    assert sorted(results(response)) == ["budget of Team 0", "budget of Team 2"]
    assert "1 more is left out. Add in:&lt;room id&gt; to search one of them." in response.content.decode()
    assert find(client, "budget in:team-1") == ["budget of Team 1"]


# --- the page ------------------------------------------------------------------------------------------


def test_the_search_page_is_no_store(client, general):
    response = client.get("/search/", {"q": "anything"})
    assert "no-store" in response["Cache-Control"]


def test_every_page_has_the_search_landmark_with_a_plain_get_form(client, general):
    for path in ("/", "/rooms/general/", "/accounts/login/", "/search/"):
        page = client.get(path).content.decode()
        landmark = re.search(r"<search class=\"site-search\">(.*?)</search>", page, re.S)
        assert landmark, path
        form = landmark.group(1)
        assert re.search(r'<form method="get" action="/search/"[^>]*>', form), path
        assert '<label class="site-search-label" for="site-search-q">Search messages</label>' in form, path
        assert 'id="site-search-q" type="search" name="q"' in form, path


def test_the_header_field_keeps_the_query(client, general):
    page = client.get("/search/", {"q": 'deploy "to prod"'}).content.decode()
    assert 'value="deploy &quot;to prod&quot;"' in page


# --- any input ------------------------------------------------------------------------------------------

from hypothesis import given, settings as hsettings, strategies as st  # noqa: E402

from tests.support.examples import examples  # noqa: E402

_QUERY_PIECES = st.one_of(
    st.text(max_size=12),
    st.sampled_from(['"', "“", "”", "in:", "from:", "before:", "after:", "in:general", "from:bob", ":", "x:y",
                     "before:2026-01-01", "after:9999-99-99", "東京タワー", "café", "https://example.com", "\x00", "#"]),
)


@hsettings(max_examples=examples(300), deadline=None)
@given(st.lists(_QUERY_PIECES, max_size=8).map(" ".join))
def test_any_text_is_a_query_or_a_clear_refusal(text):
    """Never anything but a Query or a QueryError (a page that says why), whatever is typed; the
    query's terms are what the index has and its checks run on any text."""
    try:
        query = search.parse_query(text)
    except search.QueryError as exc:
        assert exc.status in (200, 400) and exc.message
        return
    assert query.terms and all(len(term) <= 40 and "#" not in term for term in query.terms)
    assert set(query.probe_terms) <= set(query.terms) and 1 <= len(query.probe_terms) <= search.PROBED_TERMS
    lowest, highest = query.sk_range
    assert lowest <= highest
    query.matches(text)
    search.highlight(text, query)
