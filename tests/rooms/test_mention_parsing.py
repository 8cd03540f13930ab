"""Parsing @mentions (rooms/mentions.py): usernames by accounts' rules and @room, outside URLs and
e-mail addresses, each person once, at most 10 people, in time linear in the text's length."""

from __future__ import annotations

from rooms import mentions
from tests.support.linear_work import growth


def names(text: str, **kwargs) -> tuple[str, ...]:
    return mentions.parse(text, **kwargs).user_ids


def test_usernames_are_found_once_each_in_order_as_canonical_ids():
    parsed = mentions.parse("@Bob hi, @alice and @BOB again; thanks @carol.")
    assert parsed.user_ids == ("bob", "alice", "carol")
    assert parsed.names == {"bob": "Bob", "alice": "alice", "carol": "carol"}  # as first typed
    assert not parsed.room and parsed.over_cap == ()


def test_the_spans_cover_the_at_sign_and_the_name_without_sentence_punctuation():
    text = "ping @bob.dev... and (@carol_x), @dave-o!"
    found = [(text[t.start:t.end], t.user_id) for t in mentions.tokens(text)]
    assert found == [("@bob.dev", "bob.dev"), ("@carol_x", "carol_x"), ("@dave-o", "dave-o")]


def test_addresses_urls_and_non_usernames_mention_nobody():
    assert names("write to bob@example.com or see https://example.com/@carol?u=@dave") == ()
    assert names("@al is too short, @" + "x" * 31 + " too long, @_x starts badly, @ alone") == ()
    assert names("@аdmin mixes a Cyrillic a with Latin letters") == ()
    assert names("@@bob and a.@carol and x-@dave") == ()  # not after "@", "." or "-"
    assert names("after a URL https://example.com/ @bob") == ("bob",)


def test_room_is_the_whole_room_and_the_author_is_left_out():
    parsed = mentions.parse("@room please, @Room, @alice and @me", author_id="alice")
    assert parsed.room and parsed.user_ids == ()  # "me" is too short, alice is the author
    assert mentions.parse("@roomy is a person").room is False


def test_at_most_ten_people_the_rest_are_named_as_over_the_cap():
    text = " ".join(f"@user{n:02d}" for n in range(14)) + " @user00 @user12"
    parsed = mentions.parse(text)
    assert parsed.user_ids == tuple(f"user{n:02d}" for n in range(10))
    assert parsed.over_cap == ("user10", "user11", "user12", "user13")


def test_parsing_time_grows_linearly_with_the_text():
    # Adversarial shapes for a backtracking pattern: long runs of name characters, many "@", URLs
    # full of "@", names just past the length limit. 10x the text must cost about 10x, not 100x.
    shapes = ["@" * 200, "@a" * 100, "a." * 100 + "@", "https://x.y/@" + "@b" * 100 + " ",
              "@" + "b" * 40 + " ", "@user.name-" * 20]
    for shape in shapes:
        small, large = shape * 20, shape * 200
        ratio = growth(mentions.parse, small, large)
        assert ratio < 40, (shape[:20], ratio)  # linear: ~10; quadratic would be ~100
