"""Searching messages: the query language, who may read what, the search itself, highlighting.

- ``parse_query``: words (all must match, each a prefix from 3 characters), ``"exact phrases"``,
  ``in:<room id>``, ``from:<username>``, ``before:YYYY-MM-DD``, ``after:YYYY-MM-DD``. Bad input
  raises QueryError with a message for people; nothing is read for it.
- ``search``: the rooms the user may read NOW (public rooms, and the non-public rooms among their
  `room#` items, the sidebar the page reads anyway), the backend's hits, their room names, and
  each hit's text highlighted. Newest first, SEARCH_PAGE_SIZE a page, a signed cursor for older.
- ``SearchBackend``: the one small interface a search engine provides (index a message, remove it,
  find messages). ``DynamoSearch`` is the DynamoDB one, over rooms.search_index's items; moving to
  OpenSearch is another implementation of it (docs/deploy.md, "Moving search to OpenSearch").

Terms come from rooms.search_terms only, so what is looked up is what was indexed.
"""

from __future__ import annotations

import hashlib
import math
import re
import threading
from bisect import bisect_left
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Protocol

from django.core.exceptions import ValidationError
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from accounts.validators import validate_username
from chatsite import dynamodb, keys, pagination
from rooms import formatting, search_terms, selectors, validators
from rooms.models import PUBLIC, ChatMessage, Room, UserRoom

MAX_QUERY_LENGTH = 1000  # characters; longer is refused before anything is read
MAX_QUERY_WORDS = 30  # words (phrases' too): each is checked against every candidate's words
SEARCH_PAGE_SIZE = 20  # results a page
HITS_PER_QUERY = 50  # index entries read per term and scope in the first round, and at least in later ones
MAX_HITS_PER_QUERY = 500  # ... at most in a later round (~50 KB, ~6 read units): sized by what the page still needs
MAX_ROUNDS = 3  # rounds of Queries a page makes at most, before it offers "Older results"
MAX_CANDIDATES = 200  # messages read (BatchGetItem) per page at most: the read budget
PROBED_TERMS = 3  # terms of a query whose entries the first round reads, to follow the rarest
MAX_FIRST_ROUND_QUERIES = 60  # ... while terms x scopes stays within this (else fewer terms, at least 1)
MAX_PRIVATE_SCOPES = 50  # non-public rooms searched without in: (the most recently read)
PARALLEL_QUERIES = 8  # threads querying scopes at once, per process
EXCERPT_CHARS = 300  # characters of a long message shown around its first highlight
CURSOR_PURPOSE = "search"
FILTERS = ("in", "from", "before", "after")


class QueryError(ValueError):
    """Input the search refuses, with a message for people and the page's status code."""

    def __init__(self, message: str, *, status: int = 400):
        super().__init__(message)
        self.message = message
        self.status = status


# --- the query ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    text: str  # as typed
    words: tuple[str, ...] = ()  # outside phrases, as typed
    phrases: tuple[str, ...] = ()
    room_id: str | None = None  # in:
    author_id: str | None = None  # from: (the user id)
    author: str | None = None  # from: as typed
    before: date | None = None  # messages from before this day (UTC)
    after: date | None = None  # messages from after this day (UTC)

    @property
    def terms(self) -> tuple[str, ...]:
        """Every index term a match is indexed under (search_terms.query_terms)."""
        found: dict[str, None] = {}
        for word in self.words:
            found.update(dict.fromkeys(search_terms.query_terms(word)))
        for phrase in self.phrases:
            found.update(dict.fromkeys(search_terms.query_terms(phrase, prefix=False)))
        return tuple(found)

    @property
    def probe_terms(self) -> tuple[str, ...]:
        """The terms whose entries a search reads first to pick the rarest: the PROBED_TERMS longest
        (a longer term usually names fewer messages; ties in query order)."""
        return tuple(sorted(self.terms, key=len, reverse=True)[:PROBED_TERMS])

    @property
    def sk_range(self) -> tuple[str, str]:
        """Message SKs (`<CreatedAt>#<id>`, ISO 8601 UTC) the dates allow: [lowest, highest]."""
        lowest = (self.after + timedelta(days=1)).isoformat() if self.after else keys.MESSAGE_SK_MIN
        highest = self.before.isoformat() if self.before else keys.MESSAGE_SK_MAX  # a day's own SKs sort after it
        return lowest, highest

    def matches(self, text: str) -> bool:
        """Does this (current) text match: every word begins a word of it, every CJK pair is in it,
        every phrase is in it (normalised, spaces collapsed)? Entries left behind by an edit fail here."""
        found = search_terms.words(text)
        plain = sorted(w.norm for w in found if not w.cjk)  # a word some word begins sorts just before it
        pairs = {w.norm for w in found if w.cjk}
        for word in search_terms.words(" ".join(self.words)):
            if word.cjk:
                # A pair, or a lone character (a one-character Chinese word), inside a run's pairs.
                if word.norm not in pairs and not any(word.norm in pair for pair in pairs):
                    return False
            else:
                at = bisect_left(plain, word.norm)
                if at == len(plain) or not plain[at].startswith(word.norm):
                    return False
        if self.phrases:
            flat = _flat(text)
            return all(_flat(phrase) in flat for phrase in self.phrases)
        return True

    def marks(self, text: str) -> list[tuple[int, int]]:
        """Spans of ``text`` to highlight: the words a query word begins (3+ characters, or the whole
        word), the CJK pairs and lone characters asked for; overlapping and touching spans merged."""
        wanted = search_terms.words(" ".join((*self.words, *self.phrases)))
        prefixes = [w.norm for w in wanted if not w.cjk]
        pairs = {w.norm for w in wanted if w.cjk}
        spans = []
        for word in search_terms.words(text):
            if word.cjk:
                if word.norm in pairs:
                    spans.append((word.start, word.end))
                    continue
                written = text[word.start:word.end]
                for pair in pairs:  # a lone character asked for, inside this pair
                    at = written.find(pair)
                    if at >= 0:
                        spans.append((word.start + at, word.start + at + len(pair)))
            elif any(word.norm == p or (len(p) >= search_terms.MIN_WORD_LENGTH and word.norm.startswith(p))
                     for p in prefixes):
                spans.append((word.start, word.end))
        merged: list[tuple[int, int]] = []
        for start, end in sorted(spans):
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
            else:
                merged.append((start, end))
        return merged

    @property
    def fingerprint(self) -> str:
        """What the cursor is bound to: the query as understood (another query's cursor is refused)."""
        return hashlib.sha256(repr((self.words, self.phrases, self.room_id, self.author_id, self.before,
                                    self.after)).encode()).hexdigest()[:24]


def _flat(text: str) -> str:
    return " ".join(search_terms.normalise(text).split())


_FILTER_RE = re.compile(r"^([A-Za-z]+):(.*)$", re.DOTALL)
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_QUOTES = {'"': '"', "“": "”", "”": "”", "„": "“"}


def _tokens(text: str) -> list[tuple[str, bool]]:
    """(token, is_phrase) in order: quoted runs are phrases (an unclosed quote runs to the end),
    the rest split on spaces."""
    tokens: list[tuple[str, bool]] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in _QUOTES:
            close = _QUOTES[ch]
            end = min((j for j in (text.find(close, i + 1), text.find('"', i + 1)) if j >= 0), default=n)
            tokens.append((text[i + 1:end], True))
            i = end + 1
        else:
            j = i
            while j < n and not text[j].isspace() and text[j] not in _QUOTES:
                j += 1
            tokens.append((text[i:j], False))
            i = j
    return tokens


def _date(name: str, value: str) -> date:
    try:
        if not _DATE_RE.match(value):
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise QueryError(f"“{name}:{value}” is not a date: write it as YYYY-MM-DD, for example "
                         f"{name}:2026-03-31.") from None


_FILTER_EXAMPLES = {"in": "in:general", "from": "from:alice", "before": "before:2026-03-31", "after": "after:2026-01-01"}


def parse_query(text: str) -> Query:
    """The query in ``text``, or QueryError saying what is wrong (never a read)."""
    if len(text) > MAX_QUERY_LENGTH:
        raise QueryError(f"That search is {len(text):,} characters long: at most {MAX_QUERY_LENGTH:,}, please.")
    words: list[str] = []
    phrases: list[str] = []
    found: dict[str, str] = {}
    for token, is_phrase in _tokens(text):
        if is_phrase:
            if token.strip():
                phrases.append(token.strip())
            continue
        match = _FILTER_RE.match(token)
        name = match.group(1).lower() if match else ""
        value = match.group(2) if match else ""
        if match and value and not value.startswith("/"):  # "https://…" is a word, not a filter
            if name not in FILTERS:
                raise QueryError(f"“{match.group(1)}:” is not a filter. Use in:<room>, from:<username>, "
                                 f"before:YYYY-MM-DD or after:YYYY-MM-DD.")
            if name in found:
                raise QueryError(f"Use {name}: once in a search.")
            found[name] = value
        elif match and not value and name in FILTERS:
            raise QueryError(f"“{token}” needs a value after the colon, for example {_FILTER_EXAMPLES[name]}.")
        else:
            words.append(token)
    author_id = author = None
    if "from" in found:
        author = found["from"].removeprefix("@")
        try:
            author_id = validate_username(author)
        except ValidationError:
            raise QueryError(f"“from:{found['from']}” is not a username.") from None
    before = _date("before", found["before"]) if "before" in found else None
    after = _date("after", found["after"]) if "after" in found else None
    if before and after and after + timedelta(days=1) >= before:
        raise QueryError(f"No day is both after {after.isoformat()} and before {before.isoformat()}.")
    if len(search_terms.words(" ".join((*words, *phrases)))) > MAX_QUERY_WORDS:
        raise QueryError(f"Search for at most {MAX_QUERY_WORDS} words at a time.")
    # in: is checked against the rooms the reader may read (readable_scopes): a malformed id is
    # answered as a room that does not exist, like one the reader may not read.
    query = Query(text=text, words=tuple(words), phrases=tuple(phrases),
                  room_id=found["in"].lower() if "in" in found else None, author_id=author_id, author=author,
                  before=before, after=after)
    if not query.terms:
        if not words and not phrases:
            raise QueryError("Type a word to search for: in:, from:, before: and after: narrow a search, "
                             "they can't start one." if found else "Type a word to search for.", status=200)
        raise QueryError("Search for at least one word of 3 or more letters (or a Chinese, Japanese or Korean "
                         "word): shorter words and the most common ones (“the”, “and”…) are not indexed.",
                         status=200)
    return query


# --- who may read what ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Scopes:
    """What one search may read: the public scope (every public room, or one with ``public_room``)
    and these non-public rooms, all of which the reader may read now."""
    public: bool
    public_room: str | None = None
    private_rooms: tuple[str, ...] = ()
    left_out: int = 0  # non-public rooms not searched (past MAX_PRIVATE_SCOPES, without in:)


def _recently_read(room: UserRoom) -> tuple[str, str]:
    return room.read_pos or "", room.joined_at or ""


def readable_scopes(query: Query, your_rooms: list[UserRoom] | None) -> Scopes:
    """The scopes the reader may search for this query, from their rooms (None: signed out, public
    rooms only). in: a room they may not read answers as a room that does not exist."""
    private = [r for r in your_rooms or () if r.kind != PUBLIC]
    if query.room_id is not None:
        entry = next((r for r in your_rooms or () if r.room_id == query.room_id), None)
        if entry and entry.kind != PUBLIC:
            return Scopes(public=False, private_rooms=(entry.room_id,))
        if validators.is_room_id(query.room_id):
            try:
                room = selectors.room_get(room_id=query.room_id)  # cached per process
            except selectors.RoomNotFound:
                room = None
            if room and room.is_public:
                return Scopes(public=True, public_room=room.room_id)
        raise QueryError(f"There is no room “{query.room_id}” to search. in: takes a room's id, the end of its "
                         f"address (/rooms/<id>/).", status=200)
    private.sort(key=_recently_read, reverse=True)
    chosen = private[:MAX_PRIVATE_SCOPES]
    return Scopes(public=True, private_rooms=tuple(r.room_id for r in chosen), left_out=len(private) - len(chosen))


# --- the backend -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Found:
    messages: list[ChatMessage]  # newest first, each matching the query's current text check
    resume_below: str | None  # where the next page starts (an opaque position), None: no more


class SearchBackend(Protocol):
    """What a search engine does for the site: keep messages findable as they are posted, edited
    (``previous``: the message as it was) and deleted, and find them. ``search`` gets the scopes
    the site decided (it never decides who may read what) and a position to continue below."""

    def index_message(self, message: ChatMessage, *, room: Room, previous: ChatMessage | None = None) -> None: ...

    def remove_message(self, message: ChatMessage, *, room: Room | None = None) -> None: ...

    def search(self, query: Query, *, scopes: Scopes, below: str | None, limit: int) -> Found: ...


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _executor() -> ThreadPoolExecutor:
    """The process's pool for scopes' Queries, made on first use: after gunicorn's gevent worker has
    patched threading, so its threads are greenlets there."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=PARALLEL_QUERIES, thread_name_prefix="search")
        return _pool


def _counted(function, /, **kwargs):
    with dynamodb.count_calls() as calls:
        return function(**kwargs), calls


class DynamoSearch:
    """Search over rooms.search_index's items: per scope, the rarest term's entries newest first
    (selectors.search_hits, one Query a scope a round, in parallel; the first round reads up to 3
    terms to find the rarest), merged by SK, their messages read (selectors.messages_get_many, 100
    a BatchGetItem) and checked against their current text."""

    def index_message(self, message: ChatMessage, *, room: Room, previous: ChatMessage | None = None) -> None:
        from rooms import search_index  # the writes' module imports selectors, as this one: kept apart

        if previous is None:
            search_index.enqueue(message, room=room)
        else:
            search_index.enqueue_edit(previous, message, room=room)

    def remove_message(self, message: ChatMessage, *, room: Room | None = None) -> None:
        from rooms import search_index

        search_index.enqueue_removal(message, room=room)

    def search(self, query: Query, *, scopes: Scopes, below: str | None, limit: int) -> Found:
        lowest, highest = query.sk_range
        start = min(highest, below) if below else highest
        scope_keys = ([keys.SEARCH_PUBLIC_SCOPE] if scopes.public else []) + [
            keys.search_scope(room_id, public=False) for room_id in scopes.private_rooms]
        # Round 1 reads the newest entries of each of the (up to 3) longest terms, then follows the
        # one that names the fewest messages: every one, when a term's entries all came back.
        # Fewer terms when there are many scopes, so the first round stays within its Queries.
        terms = query.probe_terms[:max(1, MAX_FIRST_ROUND_QUERIES // len(scope_keys))]
        first = self._query({(term, scope): (start, HITS_PER_QUERY) for term in terms for scope in scope_keys}, lowest,
                            query, scopes)
        term = min(terms, key=lambda t: _sparseness(first, t, scope_keys))
        # Per scope: the SK its next Query starts below, or None once it has no more entries.
        todo = {scope: first[(term, scope)].resume_below for scope in scope_keys}
        pending = {hit.sk: hit for scope in scope_keys for hit in first[(term, scope)].hits}  # read, not examined
        others = _OtherTerms(first, followed=term, terms=terms, scope_keys=scope_keys)
        messages: list[ChatMessage] = []
        examined = dropped = held = 0  # messages read; entries the other terms ruled out; candidates waiting
        for round_number in range(1, MAX_ROUNDS + 1):
            if round_number > 1:
                unfinished = [scope for scope, bound in todo.items() if bound is not None]
                hits = _hits_wanted(limit - len(messages), examined=examined, matched=len(messages), held=held,
                                    dropped=dropped, scopes=len(unfinished))
                active = {(term, scope): (todo[scope], hits) for scope in unfinished}
                active.update(others.lagging(todo, hits))
                for (queried, scope), page in self._query(active, lowest, query, scopes).items():
                    if queried != term:
                        others.add(queried, scope, page)
                        continue
                    todo[scope] = page.resume_below
                    for hit in page.hits:
                        pending.setdefault(hit.sk, hit)
                        others.note(hit.sk, scope)
            # Entries at or above every unfinished scope's resume point are all known: examine those,
            # newest first. The others wait for the next round's Queries of the unfinished scopes.
            frontier = max((bound for bound in todo.values() if bound is not None), default="")
            ready = []
            for sk in sorted((sk for sk in pending if sk >= frontier), reverse=True):
                if others.lacks(sk):
                    del pending[sk]  # cannot match: its message is not read
                    dropped += 1
                elif round_number < MAX_ROUNDS and others.awaits(sk):
                    continue  # an other term's next Query rules on it first: not read yet
                else:
                    ready.append(sk)
            held = 0
            if frontier and round_number < MAX_ROUNDS and len(ready) < limit - len(messages):
                held = len(ready)
                continue  # too few to fill the page: read them with the next round's, in one BatchGetItem
            offset = 0
            while offset < len(ready):
                # As many as the page still needs at the share of candidates read so far that
                # matched (at first all: one word's entries, or what the other words did not rule
                # out, nearly all match), and a quarter more; the rest wait for a next chunk or the
                # next page. A commoner word left to the text check lowers the share: bigger chunks.
                share = (len(messages) + 1) / (examined + 1)
                wanted = min(100, max(10, math.ceil(1.25 * (limit - len(messages)) / share)), MAX_CANDIDATES - examined)
                chunk = ready[offset:offset + wanted]
                offset += len(chunk)
                read = selectors.messages_get_many(message_keys=[(pending[sk].author_id, sk) for sk in chunk])
                for sk in chunk:
                    examined += 1
                    hit = pending.pop(sk)
                    message = read.get((hit.author_id, sk))
                    if message and self._keeps(message, hit, query, scopes):
                        messages.append(message)
                        if len(messages) == limit:
                            more = bool(pending) or bool(frontier)
                            return Found(messages, sk if more else None)
                if examined >= MAX_CANDIDATES:  # the read budget: older entries on the next page
                    more = bool(pending) or bool(frontier)
                    return Found(messages, chunk[-1] if more else None)
            if not frontier:
                return Found(messages, None)
        # Out of rounds: everything at or above the highest unfinished resume point was examined.
        return Found(messages, max(bound for bound in todo.values() if bound is not None))

    @staticmethod
    def _keeps(message: ChatMessage, hit: selectors.SearchHit, query: Query, scopes: Scopes) -> bool:
        if message.room_id != hit.room_id:
            return False
        if scopes.public_room and message.room_id != scopes.public_room:
            return False
        if query.author_id and message.author_id != query.author_id:
            return False
        return query.matches(message.comment)

    @staticmethod
    def _query(active: dict[tuple[str, str], tuple[str, int]], lowest: str, query: Query,
               scopes: Scopes) -> dict[tuple[str, str], selectors.SearchHitsPage]:
        """One Query per (term, scope), below its bound, of so many entries; several at once,
        counted as this thread's."""
        def one(term: str, scope: str, below: str, hits: int) -> selectors.SearchHitsPage:
            room = scopes.public_room if scope == keys.SEARCH_PUBLIC_SCOPE else None
            return selectors.search_hits(scope=scope, term=term, lowest=lowest, below=below, limit=hits,
                                         room_id=room, author_id=query.author_id)

        if len(active) == 1:
            [((term, scope), (below, hits))] = active.items()
            return {(term, scope): one(term, scope, below, hits)}
        futures = {key: _executor().submit(_counted, one, term=key[0], scope=key[1], below=below, hits=hits)
                   for key, (below, hits) in active.items()}
        pages = {}
        for key, future in futures.items():
            page, calls = future.result()
            dynamodb.credit_calls(calls)
            pages[key] = page
        return pages


class _OtherTerms:
    """The probed terms a search does not follow, as filters. Every term of a query is one a
    matching message is indexed under, so an entry of the followed term in the part of the history
    another term's pages cover (at or above its resume point), but not among that term's entries,
    names a message that cannot match: it is dropped unread. With two common words most candidates
    go this way, and a BatchGetItem of messages costs far more than a Query of index entries.
    Later rounds read on only the terms that kept up in round 1 (their first page covered at least
    half of the followed term's first entries in that scope): a much commoner term would need many
    Queries to cover the same history, and is left to the message check."""

    def __init__(self, first: dict[tuple[str, str], selectors.SearchHitsPage], *, followed: str,
                 terms: tuple[str, ...], scope_keys: list[str]):
        self.scope_of: dict[str, str] = {hit.sk: scope for scope in scope_keys for hit in first[(followed, scope)].hits}
        self.seen: dict[tuple[str, str], set[str]] = {}
        self.covered: dict[tuple[str, str], str | None] = {}  # resume point; None: all its entries read
        self.keeping_up: set[tuple[str, str]] = set()
        for term in terms:
            if term == followed:
                continue
            for scope in scope_keys:
                page = first[(term, scope)]
                self.seen[(term, scope)] = {hit.sk for hit in page.hits}
                self.covered[(term, scope)] = page.resume_below
                if page.resume_below is not None:
                    followed_hits = [hit.sk for hit in first[(followed, scope)].hits]
                    if 2 * sum(1 for sk in followed_hits if sk >= page.resume_below) >= len(followed_hits):
                        self.keeping_up.add((term, scope))

    def lagging(self, todo: dict[str, str | None], hits: int) -> dict[tuple[str, str], tuple[str, int]]:
        """The next Query (bound, entries) of each term that keeps up, where it covers less than the
        followed term has read or will read in this round (``hits`` more entries): as many entries
        as it had per followed entry so far, for the followed entries it does not cover yet, and a
        quarter more, so it rules on nearly all of them."""
        wanted = {}
        followed: dict[str, list[str]] = {}  # per scope, the followed term's entries read
        for sk, sk_scope in self.scope_of.items():
            followed.setdefault(sk_scope, []).append(sk)
        for term, scope in self.keeping_up:
            covered = self.covered[(term, scope)]
            if covered is None:
                continue
            below = sum(1 for sk in followed.get(scope, ()) if sk < covered)
            above = len(followed.get(scope, ())) - below
            more = hits if todo.get(scope) is not None else 0  # the followed term's reads this round
            if not below and (not more or covered < todo[scope]):
                continue  # it already covers as far as the followed term will have read
            ratio = (len(self.seen[(term, scope)]) + 1) / (above + 1)
            wanted[(term, scope)] = (covered, min(MAX_HITS_PER_QUERY,
                                                  max(HITS_PER_QUERY, math.ceil(1.25 * ratio * (below + more)))))
        return wanted

    def add(self, term: str, scope: str, page: selectors.SearchHitsPage) -> None:
        self.seen[(term, scope)].update(hit.sk for hit in page.hits)
        self.covered[(term, scope)] = page.resume_below

    def note(self, sk: str, scope: str) -> None:
        self.scope_of[sk] = scope

    def awaits(self, sk: str) -> bool:
        """Whether a term that keeps up has not read as far back as this entry yet (its next Query
        will tell whether the message has that term too)."""
        scope = self.scope_of.get(sk)
        return scope is not None and any(
            term_scope == scope and (covered := self.covered[(term, term_scope)]) is not None and sk < covered
            for term, term_scope in self.keeping_up)

    def lacks(self, sk: str) -> bool:
        scope = self.scope_of.get(sk)
        if scope is None:
            return False
        for (term, term_scope), covered in self.covered.items():
            if term_scope == scope and (covered is None or sk >= covered) and sk not in self.seen[(term, scope)]:
                return True
        return False


def _hits_wanted(needed: int, *, examined: int, matched: int, held: int, dropped: int, scopes: int) -> int:
    """Entries of the followed term a later round reads per unfinished scope: enough for the
    results the page still ``needed`` at the rates seen so far (the share of entries the other
    terms let through, the share of messages read that matched; each 1 before anything is known),
    less the candidates ``held`` for this round, a quarter more, shared among the ``scopes``. Two
    words that meet in 1 of 14 entries read ~300 entries in one Query, not 50 a round for 6 rounds."""
    matching = (matched + 1) / (examined + 1)
    passing = (examined + held + 1) / (examined + held + dropped + 1)
    still = max(1.0, needed - held * matching)
    total = math.ceil(1.25 * still / (matching * passing))
    return min(MAX_HITS_PER_QUERY, max(HITS_PER_QUERY, -(-total // max(1, scopes))))


def _sparseness(pages: dict[tuple[str, str], selectors.SearchHitsPage], term: str,
                scope_keys: list[str]) -> tuple[int, str, int]:
    """Orders terms by how few messages they name, from their first pages: complete ones first (by
    how many entries), then by how far back their first pages reached (the highest resume point:
    lower means sparser)."""
    term_pages = [pages[(term, scope)] for scope in scope_keys]
    count = sum(len(page.hits) for page in term_pages)
    resume = [page.resume_below for page in term_pages if page.resume_below is not None]
    return (1, max(resume), count) if resume else (0, "", count)


backend: SearchBackend = DynamoSearch()


# --- results ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    message: ChatMessage
    room_name: str
    html: SafeString  # the text (an excerpt of a long one), escaped, matches in <mark>


@dataclass(frozen=True)
class Results:
    query: Query
    results: list[Result] = field(default_factory=list)
    next_cursor: str | None = None
    private_searched: int = 0  # non-public rooms searched
    left_out: int = 0  # non-public rooms not searched (past MAX_PRIVATE_SCOPES)


def highlight(text: str, query: Query, *, excerpt: int = EXCERPT_CHARS) -> SafeString:
    """``text`` escaped, the query's matches in <mark>; a long text cut to ``excerpt`` characters
    around its first match, with "…" where it was cut."""
    spans = query.marks(text)
    start, end = 0, len(text)
    if len(text) > excerpt:
        first = spans[0][0] if spans else 0
        start = max(0, min(first - excerpt // 4, len(text) - excerpt))
        end = start + excerpt
    out = ["…" if start else ""]
    position = start
    for a, b in spans:
        if b <= start or a >= end:
            continue
        a, b = max(a, start), min(b, end)
        out.append(escape(text[position:a]))
        out.append(f"<mark>{escape(text[a:b])}</mark>")
        position = b
    out.append(escape(text[position:end]))
    out.append("…" if end < len(text) else "")
    return mark_safe("".join(out))


def _cursor_scope(query: Query, user_id: str | None) -> str:
    return f"{user_id or ''}|{query.fingerprint}"


def search(query: Query, *, your_rooms: list[UserRoom] | None, user_id: str | None = None,
           cursor: str | None = None) -> Results:
    """A page of results for ``query``, newest first, in the rooms the reader may read now: their
    rooms as just read (``your_rooms``; None: signed out, public rooms only). ``cursor`` (from a
    previous page of the same query and user) continues older; a bad one raises InvalidCursor."""
    below = None
    if cursor:
        below = pagination.decode(cursor, purpose=CURSOR_PURPOSE, scope=_cursor_scope(query, user_id),
                                  key_names=("SK",))["SK"]["S"]
    scopes = readable_scopes(query, your_rooms)
    found = backend.search(query, scopes=scopes, below=below, limit=SEARCH_PAGE_SIZE)
    names = {r.room_id: r.name for r in your_rooms or ()}  # a direct conversation: as the sidebar names it
    private = {r.room_id for r in your_rooms or () if r.kind != PUBLIC}
    public_ids = [m.room_id for m in found.messages if m.room_id not in private]
    rooms = selectors.rooms_get_many(room_ids=list(dict.fromkeys(public_ids))) if public_ids else {}
    results = []
    for message in found.messages:
        if message.room_id in private:
            name = names[message.room_id]
        else:
            room = rooms.get(message.room_id)
            if room is None or not room.is_public:  # gone, being deleted, or never public: not shown
                continue
            name = names.get(message.room_id, room.name)
        # As plain text: a result shows what the message says, not its formatting marks.
        results.append(Result(message=message, room_name=name, html=highlight(formatting.to_text(message.comment), query)))
    next_cursor = None
    if found.resume_below:
        next_cursor = pagination.encode({"SK": {"S": found.resume_below}}, purpose=CURSOR_PURPOSE,
                                        scope=_cursor_scope(query, user_id))
    return Results(query=query, results=results, next_cursor=next_cursor,
                   private_searched=len(scopes.private_rooms), left_out=scopes.left_out)
