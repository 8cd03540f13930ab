"""Link formatting (the ``linkify`` filter) does bounded, linear work per message, whatever an
anonymous reader's page holds, and links exactly what it linked before within those bounds."""

from __future__ import annotations

import re
import time
from urllib.parse import urlsplit

from django.utils.html import escape
from hypothesis import assume, given, settings as hypothesis_settings, strategies as st

from rooms.templatetags import chat_text
from rooms.templatetags.chat_text import linkify
from tests.support.examples import examples
from tests.support.linear_work import assert_linear

CRAFTED = "http://a.b/(" + ")" * 3985  # one message that made the old trimming quadratic


def _cpu_seconds(work) -> float:
    """CPU time of ``work`` in this process, best of three: robust against a busy host."""
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        work()
        best = min(best, time.process_time() - started)
    return best


def test_fifty_crafted_messages_format_fast():
    # The quadratic version took about 0.7-1 s of CPU for these 50; linear takes a few ms.
    seconds = _cpu_seconds(lambda: [linkify(CRAFTED) for _ in range(50)])
    assert seconds < 0.2, f"{seconds:.3f} s of CPU for 50 crafted messages"


def test_crafted_message_keeps_its_balanced_link_and_the_rest_as_text():
    html = linkify(CRAFTED)
    assert html.startswith('<a href="http://a.b/()" rel="nofollow noopener noreferrer">http://a.b/()</a>')
    assert html.endswith(")" * 3984) and html.count("<a ") == 1


def test_work_grows_linearly_with_the_length_of_the_closing_run():
    assert_linear(linkify, lambda n: "http://a.b/(" + ")" * n, 5_000, "closing run")


def test_a_url_longer_than_the_limit_stays_plain_escaped_text():
    too_long = "https://example.com/" + "a" * chat_text.MAX_URL_LENGTH + "?<b>"
    html = linkify(f"look {too_long} here")
    assert "<a " not in html and html == escape(f"look {too_long} here")
    at_limit = "https://example.com/" + "a" * (chat_text.MAX_URL_LENGTH - len("https://example.com/"))
    assert linkify(at_limit).count("<a ") == 1


def test_only_the_first_urls_of_a_message_are_considered_for_links():
    urls = [f"https://example.com/{n}" for n in range(chat_text.MAX_URLS_PER_MESSAGE + 5)]
    html = linkify(" ".join(urls))
    assert html.count("<a ") == chat_text.MAX_URLS_PER_MESSAGE
    assert f'href="{urls[chat_text.MAX_URLS_PER_MESSAGE - 1]}"' in html
    assert html.endswith(" ".join(urls[chat_text.MAX_URLS_PER_MESSAGE:]))


# --- the same output as before, within the bounds ---------------------------------------------------

_OLD_URL_RE = re.compile(r"\bhttps?://[^\s<>\"'`]+", re.IGNORECASE)
_OLD_TRAILING = ".,;:!?'\")]}>"


def _reference_linkify(text: str) -> str:
    """The formatting as it was before it was bounded (quadratic in a trailing run of ')')."""
    def trim(url):
        while url and url[-1] in _OLD_TRAILING:
            if url[-1] == ")" and url.count("(") >= url.count(")"):
                break
            url = url[:-1]
        return url

    def safe(url):
        try:
            parts = urlsplit(url)
        except ValueError:
            return False
        return parts.scheme.lower() in {"http", "https"} and bool(parts.hostname)

    out, position = [], 0
    for match in _OLD_URL_RE.finditer(text):
        url = trim(match.group())
        if not safe(url):
            continue
        out.append(escape(text[position:match.start()]))
        out.append(f'<a href="{escape(url)}" rel="nofollow noopener noreferrer">{escape(url)}</a>')
        position = match.start() + len(url)
    out.append(escape(text[position:]))
    return "".join(out)


PIECES = st.sampled_from(["http://", "https://", "HTTP://", "a", "b.c", ".", ",", "!", "?", "(", ")", "[", "]",
                          " ", "\n", "<", ">", '"', "'", "`", "&", "/", ":", "[::1]", "x.org", "é", "#"])


@hypothesis_settings(max_examples=examples(400), deadline=None)
@given(text=st.lists(PIECES, max_size=40).map("".join))
def test_links_exactly_what_it_linked_before_within_the_bounds(text):
    assume(len(re.findall("https?://", text, re.I)) <= chat_text.MAX_URLS_PER_MESSAGE)
    assert str(linkify(text)) == _reference_linkify(text)
