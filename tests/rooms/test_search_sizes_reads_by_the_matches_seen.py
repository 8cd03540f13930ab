"""A search sizes its reads by the matches it has seen so far: when most candidates fail the text
check (the other word is much commoner, so its entries cannot rule them out), it reads them in
bigger BatchGetItems; when two words meet rarely, its next round reads enough index entries to
fill the page at the rate they met, instead of 50 entries a round until the rounds run out."""

from __future__ import annotations

import pytest

from chatsite.batch import batch_put_items
from chatsite.dynamodb import count_calls
from rooms import search, search_index, services, validators
from tests.rooms.test_search import find, inline_indexing, never_a_scan, results  # noqa: F401 (autouse fixtures)


@pytest.fixture
def general(moto_tables):
    return services.room_create(name="General", created_by="alice")


def store(room, texts: list[str]) -> None:
    """Messages (oldest first, a second apart) and their index entries, written in batches: what
    message_post and the indexer write, without a thousand posts' worth of calls."""
    items, entries = [], []
    for i, text in enumerate(texts):
        created_at = f"2026-03-01T{i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}.000Z"
        item = services.message_item(room_id=room.room_id, author_id="alice", author_name="Alice",
                                     created_at=created_at, message_id=validators.new_token(), comment=text)
        items.append(item)
        entry = search_index.Entry(room_id=room.room_id, author_id="alice", sk=item["SK"]["S"], text=text)
        entries.extend(search_index.message_index_items(entry, scope=search_index.scope_of(room)))
    batch_put_items(items)
    batch_put_items(entries)


def counting_reads(monkeypatch) -> list[int]:
    """The size of each read of candidate messages (one BatchGetItem each, at most 100)."""
    sizes: list[int] = []
    real = search.selectors.messages_get_many
    monkeypatch.setattr(search.selectors, "messages_get_many",
                        lambda **kw: sizes.append(len(kw["message_keys"])) or real(**kw))
    return sizes


def test_when_most_candidates_fail_the_text_check_they_are_read_in_bigger_batches(client, general, monkeypatch):
    """"needle haystack": needle is in every 5th message, haystack in nearly all the others, and
    they meet in 1 needle message in 10. haystack's first entries reach back a fraction of
    needle's, so it is left to the text check: the page reads needle's messages and 9 in 10 fail.
    After the first 25 (the page's 20 and a quarter more) show that share, the next reads are as big
    as the page then needs at that share (up to 100), not 25 again and again."""
    store(general, ["needle haystack" if i % 50 == 0 else "needle" if i % 5 == 0 else "haystack"
                    for i in range(1000)])
    sizes = counting_reads(monkeypatch)
    with count_calls() as calls:
        found = find(client, "needle haystack")
    assert found == ["needle haystack"] * 20
    assert sum(sizes) <= search.MAX_CANDIDATES, sizes
    # 25, the rest of round 1's 50, then 100 and the rest of the budget; 25 at a time made 8 or more.
    assert len(sizes) <= 4, sizes
    assert calls["Query"] <= 4, calls  # round 1: each word; round 2: needle's entries, enough for the page


def test_two_words_that_meet_rarely_fill_the_page_in_two_rounds(client, general, monkeypatch):
    """alpha and bravo are each in 1 message in 4 and meet in 1 in 40: 1 entry in 10 of either is a
    match. Round 1 (10 entries each here) shows that rate; round 2 reads enough entries of both to
    fill the page at it, so every match is found in one page, not 1 a round until the 3 rounds run
    out and "Older results" has the rest."""
    monkeypatch.setattr(search, "HITS_PER_QUERY", 10)
    texts = []
    for i in range(400):
        texts.append("alpha bravo" if i % 40 == 2 else "alpha" if i % 4 == 0 else "bravo" if i % 4 == 1 else "filler")
    store(general, texts)
    sizes = counting_reads(monkeypatch)
    with count_calls() as calls:
        response = client.get("/search/", {"q": "alpha bravo"})
    assert results(response) == ["alpha bravo"] * 10
    assert 'id="older-results"' not in response.content.decode()
    assert calls["Query"] <= 4, calls  # 2 a round for 2 rounds, not 2 a round for 3
    assert sizes == [10], sizes  # only the matches' messages are read, in one BatchGetItem
