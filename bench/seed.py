"""Seed the benchmark's data with the project's own services (users, rooms, memberships: every user
in data.SIDEBAR_ROOMS rooms, posts), and build the big room with BatchWriteItem
(chatsite.batch.batch_put_items) straight into DynamoDB.

Runs in the harness process with Django set up against the benchmark's own dynalite.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from bench import data


@dataclass
class Seeded:
    users: list[str]  # usernames; the password is data.PASSWORD
    rooms: dict[str, str]  # role ("small", "big", "post", "live", "private") -> room id
    room_count: int
    sidebar_rooms: int  # rooms each user is a member of
    small_messages: int
    big_messages: int
    timings: dict[str, float] = field(default_factory=dict)  # step -> seconds
    big_permalink_sk: str = ""  # the SK of the big room's message permalink_back(big_messages) back
    index_items: int = 0  # search index items bulk-loaded for the big room
    searches: dict = field(default_factory=dict)  # kind -> {"q": query, "share": share of big-room messages matching}
    room_ids: list[str] = field(default_factory=list)  # every room made: the sidebar's, then the many-rooms phase's
    # The measured rooms' readers (data.READER_MIX): each user's group, in the users' order, and their
    # unread messages in the small and the private room when the phases start (read cursors set).
    reader_groups: list[str] = field(default_factory=list)
    reader_unread: list[int] = field(default_factory=list)


def seed(*, users: int, small_messages: int, big_messages: int, bulk_load=None, warm_rooms: int = 0,
         warm_room_messages: int = 0, log=print, big_room: bool = True) -> Seeded:
    """``bulk_load(lines, count)``: loads the big room's search index items (one DynamoDB-JSON item
    per line) into the stopped dynalite and starts it again (bench.run); None: the index is left out.
    ``warm_rooms``: public rooms in all (the sidebar's included) for the many-rooms phase; the ones
    beyond the sidebar's are made by another user (data.ROOMS_OWNER) with ``warm_room_messages``
    messages each, so no bench user's sidebar grows. ``big_room=False``: the big room is made (it is
    in every sidebar) but left empty; seed_big_room writes its messages and index later (bench.run
    measures the small-store phases first)."""
    from accounts.auth import session_user
    from rooms import services as room_services

    timings: dict[str, float] = {}

    started = time.monotonic()
    authors = [session_user(record) for record in seed_users(users)]
    step = f"users ({users}: 2 with user_create, Argon2; the rest BatchWriteItem of the same items)"
    timings[step] = time.monotonic() - started
    log(f"  {users} users in {timings[step]:.1f} s")

    started = time.monotonic()
    creator = authors[0]
    rooms = {role: room_services.room_create(name=name, description=f"benchmark: {role} room", created_by=creator.id,
                                             created_by_name=creator.display_name,
                                             kind="private" if role == "private" else "public")
             for role, name in data.ROLE_ROOMS.items()}
    fillers = [room_services.room_create(name=data.filler_room(i), description="a quiet room", created_by=creator.id,
                                         created_by_name=creator.display_name) for i in range(data.FILLER_ROOMS)]
    timings["rooms (room_create)"] = time.monotonic() - started

    # Every user in every room (their sidebar lists data.SIDEBAR_ROOMS rooms): the first member
    # through the services (room_join for public rooms, membership_add for the private one, what an
    # invite does), everyone else with BatchWriteItem of the same two items per membership, copied
    # from the first member's (so hundreds of users take seconds, not minutes). Before any post:
    # every read cursor starts at 0, as the services' would.
    started = time.monotonic()
    every_room = [*rooms.values(), *fillers]
    seed_memberships(every_room, authors[1:])
    step = f"memberships ({len(authors)} users × {data.SIDEBAR_ROOMS} rooms: room_join / membership_add, then BatchWriteItem)"
    timings[step] = time.monotonic() - started
    log(f"  {(len(authors) - 1) * len(every_room) + len(every_room)} memberships in {timings[step]:.1f} s")

    started = time.monotonic()
    from rooms.validators import new_token

    posted: dict[str, list] = {"small": [], "private": []}  # the measured rooms' messages, oldest first
    for i in range(small_messages):
        posted["small"].append(room_services.message_post(
            room=rooms["small"], author=authors[i % len(authors)], comment=data.comment_text(i),
            idempotency_key=new_token()).message)
    timings[f"small room ({small_messages} × message_post)"] = time.monotonic() - started
    log(f"  {small_messages} messages posted in {timings[f'small room ({small_messages} × message_post)']:.1f} s")

    started = time.monotonic()
    for i in range(small_messages):
        posted["private"].append(room_services.message_post(
            room=rooms["private"], author=authors[i % len(authors)], comment=data.comment_text(i),
            idempotency_key=new_token()).message)
    timings[f"private room ({small_messages} × message_post)"] = time.monotonic() - started

    started = time.monotonic()
    groups = data.reader_groups(len(authors))
    unread = data.reader_unread(groups, small_messages)
    moved = seed_read_cursors(authors, unread, [posted["small"], posted["private"]])
    step = f"read cursors ({moved} × read_cursor_advance: {reader_mix_text(groups, unread)})"
    timings[step] = time.monotonic() - started
    log(f"  {moved} read cursors in {timings[step]:.1f} s")

    started = time.monotonic()
    unread_fillers = fillers[:data.UNREAD_ROOMS - 2]  # + the small and private rooms
    for i, filler in enumerate(unread_fillers):
        room_services.message_post(room=filler, author=creator, comment=data.comment_text(i), idempotency_key=new_token())
    timings[f"unread fillers ({len(unread_fillers)} × message_post)"] = time.monotonic() - started

    extra: list[str] = []
    if warm_rooms > len(rooms) + len(fillers):
        started = time.monotonic()
        extra = seed_warm_rooms(warm_rooms - len(rooms) - len(fillers), warm_room_messages, authors)
        step = (f"more rooms for the many-rooms phase ({len(extra)} × room_create, {warm_room_messages} messages "
                "each by BatchWriteItem)")
        timings[step] = time.monotonic() - started
        log(f"  {len(extra)} more rooms in {timings[step]:.1f} s")

    seeded = Seeded(users=[a.username for a in authors], rooms={r: room.room_id for r, room in rooms.items()},
                    room_count=len(rooms) + len(fillers), sidebar_rooms=data.SIDEBAR_ROOMS,
                    small_messages=small_messages, big_messages=big_messages, timings=timings,
                    searches=search_queries(big_messages),
                    room_ids=[room.room_id for room in [*rooms.values(), *fillers]] + extra,
                    reader_groups=groups, reader_unread=unread)
    if big_room:
        seed_big_room(seeded, authors=authors, bulk_load=bulk_load, log=log)
    return seeded


def seed_big_room(seeded: Seeded, *, authors: list | None = None, bulk_load=None, log=print) -> None:
    """The big room's ``seeded.big_messages`` messages (BatchWriteItem) and, with ``bulk_load``, their
    search index items, into the room seed() made; fills in ``seeded``'s permalink SK, index count
    and timings. ``authors``: seed()'s users (read back by username when not given)."""
    if authors is None:
        from accounts.auth import session_user
        from accounts.selectors import user_get_by_username

        authors = [session_user(user_get_by_username(username=name)) for name in seeded.users]
    timings, big_messages, room_id = seeded.timings, seeded.big_messages, seeded.rooms["big"]
    started = time.monotonic()
    written: list[tuple[int, str]] = []
    seeded.big_permalink_sk = write_big_room(room_id=room_id, authors=authors, count=big_messages, written=written)
    seconds = time.monotonic() - started
    timings[f"big room ({big_messages:,} items, BatchWriteItem)"] = seconds
    log(f"  big room: {big_messages:,} messages in {seconds:.1f} s ({big_messages / max(seconds, 1e-9):,.0f}/s)")

    if bulk_load is not None and written:
        started = time.monotonic()
        lines, count = big_room_index_lines(room_id=room_id, authors=authors, written=written)
        seeded.index_items = bulk_load(lines, count)
        seconds = time.monotonic() - started
        timings[f"big room search index ({seeded.index_items:,} items, bench/bulk_load.js)"] = seconds
        log(f"  search index: {seeded.index_items:,} items in {seconds:.1f} s "
            f"({seeded.index_items / max(seconds, 1e-9):,.0f}/s)")
    written.clear()


def seed_read_cursors(authors: list, unread: list[int], rooms: list[list]) -> int:
    """Each user's read cursor in each of ``rooms`` (its messages, oldest first, with their Seq)
    at the message that leaves them ``unread[i]`` unread, with rooms.services.read_cursor_advance
    (what a tab reporting its reading calls: the UpdateItem and its `r-` activity event), from a
    few threads. A user with every message unread keeps the cursor their join set. Returns the
    moves made."""
    from concurrent.futures import ThreadPoolExecutor

    from rooms import services as room_services

    moves = []
    for messages in rooms:
        for author, count in zip(authors, unread):
            if count < len(messages):
                last_read = messages[len(messages) - count - 1]
                moves.append((author.id, last_read))

    def move(item) -> bool:
        user_id, message = item
        return room_services.read_cursor_advance(user_id=user_id, room_id=message.room_id, seq=message.seq,
                                                 pos=message.sk)

    with ThreadPoolExecutor(max_workers=4) as pool:
        done = list(pool.map(move, moves))
    if not all(done):
        raise RuntimeError(f"{done.count(False)} read cursors did not move: has read_cursor_advance changed?")
    return len(done)


def reader_mix_text(groups: list[str], unread: list[int]) -> str:
    """The mix as seeded, e.g. "192 caught up, 36 with 1–30 unread, 12 with 60–100 unread"."""
    parts = []
    for name, _, _ in data.READER_MIX:
        counts = [u for g, u in zip(groups, unread) if g == name]
        if not counts:
            continue
        lo, hi = min(counts), max(counts)
        span = "caught up" if hi == 0 else f"with {lo} unread" if lo == hi else f"with {lo}–{hi} unread"
        parts.append(f"{len(counts)} {span}")
    return ", ".join(parts)


def seed_users(count: int) -> list:
    """``count`` bench users. The first two through accounts.services.user_create (Argon2 hashing,
    the uniqueness check, the directory entry); the others are the second one's two items with the
    name changed, put with BatchWriteItem (the same password hash: one password for every bench
    user). Returns their UserRecords."""
    from accounts import services as accounts_services
    from accounts.models import UserDirectoryEntry, UserRecord
    from chatsite import keys
    from chatsite.batch import batch_put_items

    made = [accounts_services.user_create(username=data.username(i), display_name=data.display_name(i),
                                          password=data.PASSWORD) for i in range(min(count, 2))]
    if count <= 2:
        return made
    template = made[1]
    entry = UserDirectoryEntry.get(keys.USER_DIRECTORY_PK, keys.user_directory_sk(template.user_id))

    def user(i: int):
        return UserRecord(keys.user_pk(data.username(i)), keys.META, username=data.username(i),
                          display_name=data.display_name(i), password=template.password,
                          created_at=template.created_at, is_active=True, is_staff=False)

    def directory(i: int):
        return UserDirectoryEntry(keys.USER_DIRECTORY_PK, keys.user_directory_sk(data.username(i)),
                                  username=data.username(i), display_name=data.display_name(i),
                                  created_at=entry.created_at)

    stored = UserRecord.get(keys.user_pk(template.user_id), keys.META)
    if user(1).serialize() != stored.serialize() or directory(1).serialize() != entry.serialize():
        raise RuntimeError("bench users no longer match accounts.services.user_create's items")
    records = [user(i) for i in range(2, count)]
    batch_put_items([r.serialize() for r in records] + [directory(i).serialize() for i in range(2, count)])
    return made + records


def seed_memberships(rooms: list, users: list) -> None:
    """Every user in ``users`` a member of every room: the first through the services, the rest by
    BatchWriteItem of copies of the first one's two items per room (checked to be what the services
    wrote: only the user's key and display name differ)."""
    from chatsite import keys
    from chatsite.batch import batch_put_items
    from rooms import services as room_services
    from rooms.models import MemberRecord, UserRoomRecord

    if not users:
        return
    first = users[0]
    for room in rooms:
        if room.is_public:
            room_services.room_join(room=room, user=first)
        else:
            room_services.membership_add(room=room, user_id=first.id, display_name=first.display_name)
    items = []
    for room in rooms:
        member = MemberRecord.get(keys.room_pk(room.room_id), keys.member_sk(first.id)).serialize()
        mine = UserRoomRecord.get(keys.user_pk(first.id), keys.user_room_sk(room.room_id)).serialize()
        if mine.get("ReadSeq") != {"N": "0"} or member["display_name"] != {"S": first.display_name}:
            raise RuntimeError(f"membership items changed shape: {member} {mine}")
        for user in users[1:]:
            items.append({**member, "SK": {"S": keys.member_sk(user.id)}, "display_name": {"S": user.display_name}})
            items.append({**mine, "PK": {"S": keys.user_pk(user.id)}})
    batch_put_items(items)


def seed_warm_rooms(count: int, messages: int, authors: list) -> list[str]:
    """``count`` public rooms owned by data.ROOMS_OWNER (room_create from a few threads), each with
    ``messages`` messages written as the big room's are. Returns their ids."""
    from concurrent.futures import ThreadPoolExecutor

    from accounts import services as accounts_services
    from chatsite.batch import batch_put_items
    from rooms import services as room_services
    from rooms.timestamps import now_ms

    owner = accounts_services.user_create(username=data.ROOMS_OWNER, display_name="Bench rooms owner",
                                          password=data.PASSWORD)

    def create(i: int) -> str:
        return room_services.room_create(name=data.warm_room(i), description="one of many rooms",
                                         created_by=owner.user_id, created_by_name=owner.display_name).room_id

    with ThreadPoolExecutor(max_workers=4) as pool:
        ids = list(pool.map(create, range(count)))
    newest_ms = now_ms() - 7_200_000
    if messages:
        texts = [data.comment_text(i) for i in range(messages)]
        batch_put_items(item for room_id in ids for item in big_room_items(
            room_id=room_id, authors=authors, start=0, stop=messages, step=1, newest_ms=newest_ms, texts=texts))
    return ids


def permalink_back(count: int) -> int:
    """How far back in the big room the measured permanent link points: data.PERMALINK_BACK, or the
    middle of a smaller room (the smoke run's)."""
    return min(data.PERMALINK_BACK, count // 2)


def big_room_items(*, room_id: str, authors: list, start: int, stop: int, step: int, newest_ms: int,
                   keep: dict | None = None, written: list | None = None, texts: list[str] | None = None):
    """Message items exactly as rooms.services.message_post stores them, one every 50 ms of history
    going back from ``newest_ms``. Built as raw DynamoDB JSON (PynamoDB's serialize() would be the
    bottleneck at a million items); the first one is checked against the model's own serialisation.
    ``keep``: {i: None} → the SK of message i (0 = the newest) is put there; ``written``: (i, SK) of
    every message is appended (for its search index items)."""
    from chatsite import keys
    from rooms.services import message_item
    from rooms.timestamps import iso_from_ms
    from rooms.validators import new_token

    texts = texts or [data.comment_text(i) for i in range(data.DISTINCT_TEXTS)]
    pks = [keys.user_pk(author.id) for author in authors]
    names = [author.display_name for author in authors]
    for i in range(start, stop, step):
        created_at = iso_from_ms(newest_ms - 50 * i)
        a = i % len(authors)
        item = {"PK": {"S": pks[a]}, "SK": {"S": keys.message_sk(created_at, new_token())},
                "RoomID": {"S": room_id}, "CreatedAt": {"S": created_at}, "Comment": {"S": texts[i % len(texts)]},
                "AuthorName": {"S": names[a]}}
        if i == start:
            model = message_item(room_id=room_id, author_id=authors[a].id, author_name=names[a],
                                 created_at=created_at, message_id=keys.message_sk_parts(item["SK"]["S"])[1],
                                 comment=texts[i % len(texts)])
            if model != item:
                raise RuntimeError(f"big-room items no longer match rooms.services.message_item: {model} != {item}")
        if keep is not None and i in keep:
            keep[i] = item["SK"]["S"]
        if written is not None:
            written.append((i, item["SK"]["S"]))
        yield item


def write_big_room(*, room_id: str, authors: list, count: int, writers: int = 4, written: list | None = None) -> str:
    """BatchWriteItem, 25 items a call, from ``writers`` threads (dynalite is one Node process; a
    few requests in flight keep it busy while Python builds the next batches). Returns the SK of the
    message permalink_back(count) back (the benchmark's permanent link), "" for an empty room."""
    from chatsite.batch import batch_put_items
    from chatsite.progress import ProgressBar
    from rooms.timestamps import now_ms

    if count <= 0:
        return ""
    progress = ProgressBar("  big room", count, interval=0.5)
    keep = {permalink_back(count): None}  # 0 back is the newest
    newest_ms = now_ms() - 3_600_000  # an hour ago: all of it is history, none of it is live
    errors: list[BaseException] = []

    def writer(k: int) -> None:
        try:
            batch_put_items(
                big_room_items(room_id=room_id, authors=authors, start=k, stop=count, step=writers,
                               newest_ms=newest_ms, keep=keep, written=written),
                progress=progress)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,), name=f"big-room-{k}") for k in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    progress.finish()
    if errors:
        raise errors[0]
    return keep[permalink_back(count)]


def big_room_index_lines(*, room_id: str, authors: list, written: list[tuple[int, str]]):
    """The big room's search index items, exactly as rooms.search_index writes them for a public
    room's message (checked against search_index.message_index_items for the first message), as
    DynamoDB-JSON lines, one message's items a chunk. Returns (chunks, item count)."""
    import json

    from chatsite import keys
    from rooms import search_index, search_terms

    scope = keys.search_scope(room_id, public=True)
    texts = [data.comment_text(i) for i in range(data.DISTINCT_TEXTS)]
    heads = [["{\"PK\":{\"S\":" + json.dumps(keys.search_pk(scope, term)) + "}" for term in
              sorted(search_terms.index_terms(text))] for text in texts]
    room = json.dumps(room_id)
    author_ids = [json.dumps(author.id) for author in authors]
    count = sum(len(heads[i % len(texts)]) for i, _ in written)

    i, sk = written[0]
    entry = search_index.Entry(room_id=room_id, author_id=authors[i % len(authors)].id, sk=sk,
                               text=texts[i % len(texts)])
    expected = search_index.message_index_items(entry, scope=scope)

    def tail(i: int, sk: str) -> str:
        return ",\"SK\":{\"S\":" + json.dumps(sk) + "},\"SRoom\":{\"S\":" + room + "},\"SAuthor\":{\"S\":" \
            + author_ids[i % len(authors)] + "}}\n"

    def one(i: int, sk: str) -> str:
        end = tail(i, sk)
        return "".join(head + end for head in heads[i % len(texts)])

    made = [json.loads(line) for line in one(i, sk).splitlines()]
    if made != expected:
        raise RuntimeError(f"bulk index items no longer match rooms.search_index: {made[:2]} != {expected[:2]}")
    return (one(i, sk) for i, sk in written), count


def search_queries(big_messages: int) -> dict[str, dict]:
    """The three measured searches, chosen from the big room's texts by how many messages they
    match: one word in about 1% of messages, a three-letter prefix (not itself a word) of several
    words in about 2%, and two words that appear together in about 0.5%."""
    from rooms import search_terms

    texts = [data.comment_text(i) for i in range(data.DISTINCT_TEXTS)]
    words = [{w.norm for w in search_terms.words(text)} - search_terms.STOP_WORDS for text in texts]
    terms = [search_terms.index_terms(text) for text in texts]
    n = len(texts)
    word_share: dict[str, float] = {}
    for found in words:
        for word in found:
            word_share[word] = word_share.get(word, 0) + 1 / n
    term_share: dict[str, float] = {}
    for found in terms:
        for term in found:
            if len(term) == 3:
                term_share[term] = term_share.get(term, 0) + 1 / n

    def nearest(shares: dict[str, float], target: float) -> str:
        return min(sorted(shares), key=lambda k: abs(shares[k] - target))

    one = nearest(word_share, 0.01)
    prefix = nearest({t: s for t, s in term_share.items() if t not in word_share}, 0.02)
    common = sorted(word_share, key=lambda w: -word_share[w])[:30]
    pairs = {f"{a} {b}": sum(1 for found in words if a in found and b in found) / n
             for k, a in enumerate(common) for b in common[k + 1:]}
    two = nearest(pairs, 0.005)
    return {"one word": {"q": one, "share": word_share[one]},
            "prefix": {"q": prefix, "share": term_share[prefix]},
            "two words": {"q": two, "share": pairs[two]}}
