"""Message formatting (rooms/formatting.py, through the message_html filter): a small, safe subset
(bold, italic, code, fenced code blocks, block quotes, line breaks, links and mentions), everything
else escaped, in time linear in the text's length; a text without marks renders exactly as linkify
always rendered it."""

from __future__ import annotations

import re
import time

from django.urls import reverse
from django.utils.html import escape
from hypothesis import assume, given, settings as hypothesis_settings, strategies as st

from rooms import formatting
from rooms.models import ChatMessage
from rooms.templatetags import chat_text
from rooms.templatetags.chat_text import linkify, message_html
from tests.support.examples import examples
from tests.support.linear_work import assert_linear

to_html = formatting.to_html  # plain runs escaped: what formatting alone does


def rendered(text: str, mentions: tuple[str, ...] = ()) -> str:
    message = ChatMessage(room_id="art", author_id="alice", sk="2030-01-01T00:00:00.000Z#m1", message_id="m1",
                          created_at="2030-01-01T00:00:00.000Z", author_name="Alice", comment=text, mentions=mentions)
    return str(message_html(message))


# --- inline marks ----------------------------------------------------------------------------------

def test_bold_italic_and_code():
    assert to_html("*bold* and **bold**") == "<strong>bold</strong> and <strong>bold</strong>"
    assert to_html("an _italic_ word") == "an <em>italic</em> word"
    assert to_html("run `make test` now") == "run <code>make test</code> now"
    assert to_html("*bold _and italic_*") == "<strong>bold <em>and italic</em></strong>"
    assert to_html("(*a*), _b_.") == "(<strong>a</strong>), <em>b</em>."


def test_intraword_marks_and_spaced_marks_stay_as_typed():
    for text in ("snake_case_names", "call my_func_name()", "2*3*4 = 24", "a * b * c", "_ not italic _",
                 "x_y_ and _z"):
        assert to_html(text) == escape(text), text


def test_unclosed_or_unpaired_marks_stay_literal():
    for text in ("*not closed", "**half*", "*one* two*", "_x", "`no end", "``a`", "***", "*** x ***"):
        html = to_html(text)
        assert "<strong>" not in html.replace("<strong>one</strong>", "") and "<em>" not in html \
            and "<code>" not in html, (text, html)
    assert to_html("*one* two*") == "<strong>one</strong> two*"


def test_marks_pair_only_within_a_line():
    assert to_html("*start\nend*") == "*start\nend*"
    assert to_html("`a\nb`") == "`a\nb`"


def test_crossing_marks_nest_well():
    # The closer takes the nearest open mark of its kind; what opened inside stays literal.
    assert to_html("*a _b* c_") == "<strong>a _b</strong> c_"
    html = to_html("_a *b_ c* d_")
    assert html == "<em>a *b</em> c* d_"


def test_nothing_inside_code_is_formatted_linked_or_mentioned():
    html = rendered("`*x* _y_ https://example.com @bob` and @bob", mentions=("bob",))
    assert html.startswith("<code>*x* _y_ https://example.com @bob</code> and ")
    assert html.count("<a ") == 1 and html.endswith('data-user="bob">@bob</a>')
    block = rendered("```\n*x* https://example.com @bob\n```", mentions=("bob",))
    assert block == "<pre><code>*x* https://example.com @bob</code></pre>"


def test_code_spans_use_longer_runs_to_hold_backticks():
    assert to_html("`` a ` b `` c") == "<code>a ` b</code> c"
    assert to_html("``x`` and `y`") == "<code>x</code> and <code>y</code>"


# --- blocks ----------------------------------------------------------------------------------------

def test_fenced_code_block_keeps_its_lines_and_drops_a_language_name():
    text = "intro\n```python\ndef f():\n    return '<b>'\n```\noutro"
    assert to_html(text) == "intro<pre><code>def f():\n    return &#x27;&lt;b&gt;&#x27;</code></pre>outro"


def test_fence_text_that_is_not_a_language_is_the_first_line():
    assert to_html("``` let x = 1;\ny\n```") == "<pre><code>let x = 1;\ny</code></pre>"


def test_fence_closes_only_on_the_same_backticks():
    assert to_html("````\n```\ninner\n```\n````") == "<pre><code>```\ninner\n```</code></pre>"
    assert to_html("```\ncode *x*") == "```\ncode <strong>x</strong>"  # unclosed: ordinary text
    assert to_html("```one line```") == "<code>one line</code>"  # backticks after: inline code


def test_block_quote_groups_its_lines_and_formats_them():
    assert to_html("> first\n> *second*\nafter") == "<blockquote>first\n<strong>second</strong></blockquote>after"
    assert to_html("a > b") == "a &gt; b"
    assert to_html(">no space") == "&gt;no space"
    assert to_html("> <script>") == "<blockquote>&lt;script&gt;</blockquote>"


def test_no_doubled_blank_lines_around_blocks():
    # The newline next to a block is not emitted, and one blank line on each side is its margin.
    assert to_html("a\n> q\nb") == "a<blockquote>q</blockquote>b"
    assert to_html("a\n\n> q\n\nb") == "a<blockquote>q</blockquote>b"
    # Further blank lines stay; a last newline before a block needs a second to show as a line.
    assert to_html("a\n\n\n```\nc\n```\n\n\nb") == "a\n\n<pre><code>c</code></pre>\nb"
    assert to_html("line one\nline two") == "line one\nline two"


def test_everything_else_is_escaped():
    text = '<img src=x onerror="alert(1)"> *<b>* _&amp;_ `<i>` \'q\''
    html = to_html(text)
    assert "<img" not in html and "<b>" not in html and "<i>" not in html
    assert html == ('&lt;img src=x onerror=&quot;alert(1)&quot;&gt; <strong>&lt;b&gt;</strong> '
                    '<em>&amp;amp;</em> <code>&lt;i&gt;</code> &#x27;q&#x27;')
    assert to_html("```<script>\nx\n```") == "<pre><code>&lt;script&gt;\nx</code></pre>"


# --- links and mentions ----------------------------------------------------------------------------

def test_a_url_is_linked_whole_and_marks_inside_it_are_text():
    html = rendered("see https://example.com/a_b_c/*x*/_y_ ok")
    assert html == ('see <a href="https://example.com/a_b_c/*x*/_y_" rel="nofollow noopener noreferrer">'
                    'https://example.com/a_b_c/*x*/_y_</a> ok')


def test_a_mark_after_a_url_can_close_around_it():
    html = rendered("*see https://example.com/a_b*, _or https://x.org_")
    assert html == ('<strong>see <a href="https://example.com/a_b" rel="nofollow noopener noreferrer">'
                    'https://example.com/a_b</a></strong>, <em>or <a href="https://x.org" '
                    'rel="nofollow noopener noreferrer">https://x.org</a></em>')


def test_mentions_link_inside_marks_and_quotes_as_before():
    html = rendered("*hi @bob*\n> @room look", mentions=("bob",))
    bob = reverse("rooms:user", args=["bob"])
    assert html == (f'<strong>hi <a class="mention" href="{bob}" data-user="bob">@bob</a></strong>'
                    '<blockquote><span class="mention mention-room">@room</span> look</blockquote>')


def test_a_name_is_kept_whole_as_its_mention_was_parsed():
    # "@bob_" is the name the mention parser saw, so its "_" closes nothing.
    assert rendered("_hi @bob_") == "_hi @bob_"


def test_the_url_bound_is_per_message_across_formatted_runs():
    urls = [f"https://example.com/{n}" for n in range(chat_text.MAX_URLS_PER_MESSAGE + 5)]
    html = rendered(" *x* ".join(urls))
    assert html.count("<a ") == chat_text.MAX_URLS_PER_MESSAGE
    assert html.count("<strong>") == len(urls) - 1


PIECES = st.sampled_from(["https://", "http://", "example.com/", "a_b", "2*3", "@bob", "@room", "@al", "x", " ",
                          "\n", ".", ",", "(", ")", "<", ">", "&", '"', "'", "é", "bob@example.com", "> "])


@hypothesis_settings(max_examples=examples(300), deadline=None)
@given(text=st.lists(PIECES, max_size=30).map("".join))
def test_text_without_marks_renders_exactly_as_linkify(text):
    assume(not any(line.startswith("> ") for line in text.split("\n")))
    assume(len(re.findall("https?://", text)) <= chat_text.MAX_URLS_PER_MESSAGE + 2)
    linked = frozenset({"bob"})
    message = ChatMessage(room_id="art", author_id="alice", sk="s", message_id="m", created_at="2030-01-01T00:00:00.000Z",
                          author_name="Alice", comment=text, mentions=("bob",))
    assert str(message_html(message)) == str(linkify(text, linked, message.mentions_room))


# --- linear work -----------------------------------------------------------------------------------

def _cpu_seconds(work) -> float:
    """CPU time of ``work`` in this process, best of three: robust against a busy host."""
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        work()
        best = min(best, time.process_time() - started)
    return best


PATHOLOGICAL = {
    "alternating marks": lambda n: "*_" * (n // 2),
    "backticks": lambda n: "`" * n,
    "backtick runs of many lengths": lambda n: " ".join("`" * (1 + k % 199) for k in range(n // 100)),
    "single backticks and letters": lambda n: "`a" * (n // 2),
    "openers then closers of the other kind": lambda n: "*a " * (n // 3) + "b_ " * (n // 3),
    "quote lines": lambda n: "> *x* _y_\n" * (n // 10),
    "unclosed fences": lambda n: "```a\n" * (n // 5),
    "fences of every length": lambda n: "".join("`" * (3 + k % 200) + "\n" for k in range(n // 100)),
    "urls and names": lambda n: "https://a.b/*_ @bob_ " * (n // 20),
}


def test_pathological_texts_render_fast_and_in_linear_time():
    # 20,000 characters (five times the longest message) in well under a second, and eight times
    # the text costs about eight times the work (quadratic would be ~64x).
    links = lambda: chat_text._Links(frozenset({"bob"}), True)  # noqa: E731 - the filter's own plain()
    for name, make in PATHOLOGICAL.items():
        short = make(20_000)
        assert len(short) >= 15_000, name
        short_seconds = _cpu_seconds(lambda: formatting.to_html(short, links()))
        assert short_seconds < 1.0, f"{name}: {short_seconds:.3f} s"
        assert_linear(lambda text: formatting.to_html(text, links()), make, 2_500, name)
