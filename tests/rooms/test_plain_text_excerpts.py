"""Excerpts are plain text: formatting.to_text drops code fences, strips "> " and unwraps the
bold/italic/code marks that render (unpaired and intraword marks stay as typed), in linear time;
a reply's quote, the Reply link's data-excerpt (the composer's banner) and the mention and
notification excerpts all use it, so a quote never reads "```python", "> x" or "**b**". On moto."""

from __future__ import annotations

import html
import re

import pytest
from hypothesis import given, settings as hypothesis_settings, strategies as st

from rooms import activity, formatting, selectors, services, validators
from tests.rooms.test_formatting import PATHOLOGICAL, _cpu_seconds
from tests.support.examples import examples
from tests.support.linear_work import assert_linear
from tests.support.sessions import request_user, sign_in


@pytest.fixture(autouse=True)
def many_posts(settings):
    settings.CHAT_POST_RATE_LIMIT = 1000


@pytest.mark.parametrize("text, plain", [
    ("```python\nprint(1)\n```\nafter", "print(1)\nafter"),
    ("``` not a language\nbody\n```", "not a language\nbody"),
    ("> quoted *b*\n> two\nmine", "quoted b\ntwo\nmine"),
    ("**bold** and *b* and _it_ and `co*de*`", "bold and b and it and co*de*"),
    ("`` `x` ``", "`x`"),
    ("snake_case_name 2*3*4 a *b", "snake_case_name 2*3*4 a *b"),
    ("see https://example.com/a_b_c_ and @bob_x_", "see https://example.com/a_b_c_ and @bob_x_"),
    ("*see https://example.com/a_b*", "see https://example.com/a_b"),
    ("```python\nno closing fence", "```python\nno closing fence"),  # not a block: shown as typed
    ("a < b & c", "a < b & c"),  # text, not HTML
    ("", ""),
])
def test_to_text_removes_the_marks_that_render(text, plain):
    assert formatting.to_text(text) == plain


MARKED = st.sampled_from(["*", "**", "_", "`", "``", "```", "```py", "> ", "\n", " ", "a", "b c", "x_y",
                          "https://e.com/a_b", "@bob", "<", "&", "é", "2*3"])


@hypothesis_settings(max_examples=examples(300), deadline=None)
@given(text=st.lists(MARKED, max_size=30).map("".join))
def test_to_text_is_the_rendered_htmls_text(text):
    # What a reader sees of the rendered message (tags dropped, entities read) is to_text's text,
    # up to the line breaks that block elements stand for.
    seen = html.unescape(re.sub(r"<[^>]*>", "", formatting.to_html(text)))
    assert "".join(formatting.to_text(text).split()) == "".join(seen.split())


def test_to_text_is_linear_on_pathological_texts():
    for name, make in PATHOLOGICAL.items():
        short = make(20_000)
        short_seconds = _cpu_seconds(lambda: formatting.to_text(short))
        assert short_seconds < 1.0, f"{name}: {short_seconds:.3f} s"
        assert_linear(formatting.to_text, make, 2_500, name)


# --- where excerpts are made -------------------------------------------------------------------------


def say(room, text: str, author: str = "alice", reply_to=None):
    return services.message_post(room=room, author=request_user(author), comment=text,
                                 idempotency_key=validators.new_token(), reply_to=reply_to).message


@pytest.fixture
def members(room):
    services.room_join(room=room, user=request_user("bob"))
    return room


@pytest.mark.parametrize("text, quote", [
    ("```python\nprint(1)\n```", "print(1)"),
    ("> x\nmy answer", "x"),
    ("**b** is _it_", "b is it"),
])
def test_a_replys_quote_is_the_first_line_as_plain_text(members, text, quote):
    root = say(members, text)
    reply = say(members, "ok", author="bob", reply_to=(root.author_id, root.sk))
    assert reply.reply_to.excerpt == quote
    assert services.reply_excerpt(text) == quote


def test_the_reply_links_excerpt_is_the_quote_the_reply_will_store(client, members):
    root = say(members, "```python\nprint(1)\n```")
    sign_in(client, "bob")
    page = client.get("/rooms/art/").content.decode()
    link = re.search(r'<a class="reply-link"[^>]*>', page).group(0)
    assert 'data-excerpt="print(1)"' in link
    reply = say(members, "ok", author="bob", reply_to=(root.author_id, root.sk))
    assert reply.reply_to.excerpt == "print(1)"


def test_the_reply_links_excerpt_is_escaped(client, members):
    say(members, '**"a" <b>**')
    sign_in(client, "bob")
    page = client.get("/rooms/art/").content.decode()
    assert 'data-excerpt="&quot;a&quot; &lt;b&gt;"' in page


def test_mention_and_notification_excerpts_are_plain_text(members, settings):
    message = say(members, "> **@bob** see `this`")
    assert [m.excerpt for m in selectors.user_mentions(user_id="bob").items] == ["@bob see this"]
    events = [activity.Activity.from_record(r) for shard in range(settings.CHAT_ACTIVITY_SHARDS)
              for r in selectors.activity_since(shard=shard, since=message.created_at)]
    assert {(e.kind, e.excerpt) for e in events} == {(activity.MESSAGE, "@bob see this"),
                                                     (activity.MENTION, "@bob see this")}


def test_an_edit_rewrites_the_mention_excerpt_as_plain_text(members):
    message = say(members, "hi @bob")
    services.message_edit(room=members, actor=request_user("alice"), author_id="alice", sk=message.sk,
                          comment="**hello** @bob", seen_version=0)
    assert [m.excerpt for m in selectors.user_mentions(user_id="bob").items] == ["hello @bob"]

