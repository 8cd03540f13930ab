"""Message formatting: a small, safe subset of marks, rendered to HTML in one linear pass.

What a message may use (docs/live-updates.md, the composer's Formatting help):

- ``*bold*`` and ``**bold**`` → ``<strong>``; ``_italic_`` → ``<em>``. A mark opens before a
  non-space that is not preceded by a letter or digit, and closes after a non-space that is not
  followed by one, so ``snake_case_names`` and ``2*3*4`` stay as typed. A mark with no partner on
  its line stays literal text.
- A backtick run opens code (``<code>``) that the next run of the same length on the same line
  closes; nothing inside is formatted, linked or mentioned. A longer run can hold a backtick.
- Fenced code: a line starting with three or more backticks opens a block that the next line of
  exactly the same backticks closes → ``<pre><code>``. A single word after the opening fence
  names a language and is not shown; other text there is the block's first line. Unclosed, the
  lines are ordinary text.
- ``> `` at the start of consecutive lines → one ``<blockquote>`` (its lines formatted inline).
- Line breaks stay newlines (the stylesheet shows them: white-space: pre-wrap). The newline and
  one blank line on each side of a block element are not emitted: its margin stands for them.
- Everything else is the caller's ``plain`` function: escaping, links and mentions
  (rooms/templatetags/chat_text.py). Each URL and @name is kept whole, so marks inside them are
  text; sentence punctuation, ``*`` and ``_`` at the end of a URL may close a mark (as on GitHub).

The work is linear in the text's length: every regex is a fixed prefix and one greedy class (no
backtracking), each line is scanned once, each mark is pushed and popped at most once, and closing
backtick runs and fences are found through forward-only pointers.
"""

from __future__ import annotations

import re
from typing import Callable

from django.utils.html import escape

from rooms import mentions

Plain = Callable[[str], str]

# A URL or an @name (the mentions' own pattern: a name ends where its notification's did), or a
# run of one mark character. Leftmost match wins, so a mark inside a URL or name is never seen.
_INLINE_RE = re.compile(mentions.TOKEN_PATTERN + r"|(?P<ticks>`+)|(?P<stars>\*+)|(?P<unders>_+)", re.IGNORECASE)
_TICKS_RE = re.compile(r"`+")
# What may end a URL yet close a mark after it: linkify's sentence punctuation, "*" and "_".
_URL_TRAILING = ".,;:!?'\")]}>*_"
_LANGUAGE_RE = re.compile(r"[\w+#.-]{1,30}")
_FENCE = "```"
_QUOTE = "> "
# A text that has none of these is plain text through and through: one call, no parsing.
_ANY_MARK_RE = re.compile(r"[*_`]|^> ", re.MULTILINE)
_TAGS = {"*": ("<strong>", "</strong>"), "_": ("<em>", "</em>")}


def to_html(text: str, plain: Plain = escape) -> str:
    """``text`` as HTML: the marks above, and ``plain(run)`` for every run of unformatted text
    (which must escape it). ``plain`` is called in reading order, once per run."""
    if not _ANY_MARK_RE.search(text):
        return plain(text)
    out: list[str] = []
    pending: list[str] = []  # text lines not yet emitted
    after_block = False
    for kind, lines in _blocks(text.split("\n")):
        if kind == "text":
            pending.extend(lines)
            continue
        _emit_text(out, pending, plain, after_block=after_block, before_block=True)
        pending = []
        if kind == "code":
            out.append(f"<pre><code>{escape(chr(10).join(lines))}</code></pre>")
        else:
            out.append("<blockquote>" + "\n".join(_inline(line, plain) for line in lines) + "</blockquote>")
        after_block = True
    _emit_text(out, pending, plain, after_block=after_block, before_block=False)
    return "".join(out)


def to_text(text: str) -> str:
    """``text`` as a reader sees it, without the marks: fenced code's fences (and language) and the
    quotes' "> " dropped, the bold/italic/code marks that render unwrapped; marks that stay literal
    in to_html (unpaired, intraword, inside code, URLs or @names) stay. Lines stay lines. Linear,
    like to_html (the same passes). For excerpts: a reply's quote, mentions, notifications."""
    if not _ANY_MARK_RE.search(text):
        return text
    lines: list[str] = []
    for kind, block in _blocks(text.split("\n")):
        lines.extend(block if kind == "code" else (_text_of(_pieces(line)) for line in block))
    return "\n".join(lines)


def _text_of(pieces: list[tuple]) -> str:
    """A line's pieces as text: paired marks dropped, everything else as typed (code without its ticks)."""
    pairs = _pair_marks(pieces)
    paired = set(pairs) | set(pairs.values())
    out: list[str] = []
    for index, piece in enumerate(pieces):
        if piece[0] != "d":
            out.append(piece[1])
        elif index not in paired:
            out.append(piece[1] * piece[2])
    return "".join(out)


def _emit_text(out: list[str], lines: list[str], plain: Plain, *, after_block: bool, before_block: bool) -> None:
    if after_block and lines and lines[0] == "":
        lines = lines[1:]
    if before_block and lines and lines[-1] == "":
        lines = lines[:-1]
    if lines:
        out.append("\n".join(_inline(line, plain) for line in lines))
        if before_block and lines[-1] == "":
            out.append("\n")  # a browser shows no empty line for a last newline before a block


def _fence_length(line: str) -> int:
    """The backtick count of a line that opens a fenced block (0: it doesn't)."""
    if not line.startswith(_FENCE):
        return 0
    length = len(line) - len(line.lstrip("`"))
    return 0 if "`" in line[length:] else length


def _blocks(lines: list[str]):
    """(kind, lines) in order: "text", "quote" (the lines without "> ") and "code" (its body)."""
    # Closing fences by their backtick count; each count's pointer only moves forward.
    closers: dict[int, list[int]] = {}
    for number, line in enumerate(lines):
        if line.startswith(_FENCE) and not line.rstrip().strip("`"):
            closers.setdefault(len(line.rstrip()), []).append(number)
    cursor = dict.fromkeys(closers, 0)
    number = 0
    while number < len(lines):
        line = lines[number]
        length = _fence_length(line)
        if length in closers:
            candidates, at = closers[length], cursor[length]
            while at < len(candidates) and candidates[at] <= number:
                at += 1
            cursor[length] = at
            if at < len(candidates):
                end = candidates[at]
                body = lines[number + 1:end]
                info = line[length:].strip()
                if info and not _LANGUAGE_RE.fullmatch(info):
                    body = [info, *body]
                yield "code", body
                number = end + 1
                continue
        if line.startswith(_QUOTE):
            start = number
            while number < len(lines) and lines[number].startswith(_QUOTE):
                number += 1
            yield "quote", [quoted[len(_QUOTE):] for quoted in lines[start:number]]
            continue
        yield "text", [line]
        number += 1


def _inline(line: str, plain: Plain) -> str:
    """One line's inline marks: code spans, then bold and italic around the rest."""
    pieces = _pieces(line)
    return _render_pieces(pieces, _pair_marks(pieces), plain)


def _pieces(line: str) -> list[tuple]:
    """One line cut into ("t", text) | ("c", code text) | ("d", mark, run length, can open, can close)."""
    pieces: list[tuple] = []
    ticks: dict[int, list[int]] = {}  # run length -> starts of backtick runs, ascending
    for run in _TICKS_RE.finditer(line):
        ticks.setdefault(run.end() - run.start(), []).append(run.start())
    tick_cursor = dict.fromkeys(ticks, 0)
    position = 0
    while True:
        match = _INLINE_RE.search(line, position)
        if match is None:
            pieces.append(("t", line[position:]))
            break
        start, end, kind = match.start(), match.end(), match.lastgroup
        if start > position:
            pieces.append(("t", line[position:start]))
        if kind == "url":
            end = start + len(match.group().rstrip(_URL_TRAILING))
            pieces.append(("t", line[start:end]))
        elif kind == "ticks":
            length = end - start
            starts, at = ticks[length], tick_cursor[length]
            while at < len(starts) and starts[at] <= start:
                at += 1
            tick_cursor[length] = at
            if at < len(starts):
                close = starts[at]
                code = line[end:close]
                if len(code) > 2 and code[0] == code[-1] == " " and code.strip():
                    code = code[1:-1]  # room for a backtick at either end: `` `x` ``
                pieces.append(("c", code))
                end = close + length
            else:
                pieces.append(("t", match.group()))
        elif kind in ("stars", "unders") and (end - start <= 2 if kind == "stars" else end - start == 1):
            before = line[start - 1] if start else " "
            after = line[end] if end < len(line) else " "
            pieces.append(("d", line[start], end - start,
                           not after.isspace() and not before.isalnum(),
                           not before.isspace() and not after.isalnum()))
        else:  # an @name, or a run of marks too long to be one
            pieces.append(("t", match.group()))
        position = end
    return pieces


def _pair_marks(pieces: list[tuple]) -> dict[int, int]:
    """Which mark pieces pair up: opener index -> closer index, well nested. A closer takes the
    nearest open mark of its kind; marks opened inside that pair and still open stay literal."""
    pairs: dict[int, int] = {}
    stack: list[int] = []  # open marks, in order
    by_kind: dict[tuple[str, int], list[int]] = {}  # the same, per (mark, length)
    for index, piece in enumerate(pieces):
        if piece[0] != "d":
            continue
        kind = (piece[1], piece[2])
        openers = by_kind.get(kind)
        if piece[4] and openers:
            opener = openers.pop()
            while stack[-1] != opener:  # each mark is popped at most once: linear
                inner = pieces[stack.pop()]
                by_kind[(inner[1], inner[2])].pop()
            stack.pop()
            pairs[opener] = index
        elif piece[3]:
            stack.append(index)
            by_kind.setdefault(kind, []).append(index)
    return pairs


def _render_pieces(pieces: list[tuple], pairs: dict[int, int], plain: Plain) -> str:
    closers = set(pairs.values())
    out: list[str] = []
    run: list[str] = []  # text waiting for plain(): whole, so a URL or name is never split

    def flush() -> None:
        if run:
            out.append(plain("".join(run)))
            run.clear()

    for index, piece in enumerate(pieces):
        if piece[0] == "t":
            run.append(piece[1])
        elif piece[0] == "c":
            flush()
            out.append(f"<code>{escape(piece[1])}</code>")
        elif index in pairs or index in closers:
            flush()
            out.append(_TAGS[piece[1]][0 if index in pairs else 1])
        else:
            run.append(piece[1] * piece[2])
    flush()
    return "".join(out)
