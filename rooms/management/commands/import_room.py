import base64
import hashlib
import json
import shutil
import sys
import tempfile
from dataclasses import dataclass
from typing import IO, Iterator

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.validators import clean_display_name, validate_username
from chatsite import keys
from chatsite.batch import batch_put_items
from chatsite.progress import command_progress
from rooms import mentions, search_index, selectors, services, validators
from rooms.management.commands._common import brief, require_room_id
from rooms.models import Reaction, reactions_to_json
from rooms.timestamps import ms_from_iso


class LineError(ValueError):
    pass


@dataclass(frozen=True)
class Target:
    room_id: str
    name: str  # for creating the room if it does not exist
    description: str
    created_by: str
    source_room_id: str
    kind: str = "public"  # an exported private room is imported private (invite only, its creator its owner)

    @property
    def keeps_ids(self) -> bool:
        return self.room_id == self.source_room_id


class Command(BaseCommand):
    help = ("Import a room written by export_room (a file, or - for stdin). The whole file is checked "
            "(UTF-8, JSON objects, every field as the site checks it) before anything is written. "
            "Re-running is idempotent: into the exported room the messages keep their ids; into another "
            "room (--room) each gets an id derived from the target room and the source message, so a "
            "re-run overwrites the same items. Edited messages come back edited, with their earlier versions, "
            "and reactions with their reactors.")

    def add_arguments(self, parser):
        parser.add_argument("path", help="JSON Lines file, or - for stdin")
        parser.add_argument("--room", help="import into this room id instead of the exported one")
        parser.add_argument("--name", help="the name to give the room if it has to be created")

    def handle(self, *args, path, room, name, **options):
        if room is not None:
            require_room_id(room)
        if name is not None:
            try:
                validators.clean_room_name(name)
            except ValidationError as exc:
                raise CommandError(f"--name: {' '.join(exc.messages)}") from None
        with self._open(path) as source:
            target, count, items, ids = self._check(source, room=room, name=name)
            self._ensure_room(target)
            source.seek(0)
            with command_progress(f"importing into {target.room_id}", items, stream=self.stderr) as bar:
                # Marks for every host's room tail (docs/live-updates.md, "Bulk writers").
                marks = services.HistoryMarks(target.room_id, bar)
                written = batch_put_items(
                    (item for number, row in _rows(source) if number > 1
                     for item in _message_items(number, row, target, ids)),
                    progress=marks)
                marks.done()
            if search_index.bulk_enabled():
                self._index(source, target, ids)
        versions = written - count
        self.stdout.write(f"imported {count} messages into {target.room_id}"
                          + (f" (and {versions} earlier versions of edited ones)" if versions else ""))

    @staticmethod
    def _open(path: str) -> IO[bytes]:
        """The input as bytes, seekable: read twice (check, then write), UTF-8 checked per line."""
        if path != "-":
            try:
                return open(path, "rb")
            except OSError as exc:
                raise CommandError(f"cannot read {path}: {exc.strerror}") from None
        spool = tempfile.TemporaryFile()
        stdin = getattr(sys.stdin, "buffer", None)
        if stdin is not None:
            shutil.copyfileobj(stdin, spool)
        else:  # already text (tests, embedding): nothing to decode
            spool.write(sys.stdin.read().encode("utf-8", "surrogateescape"))
        spool.seek(0)
        return spool

    @staticmethod
    def _check(source: IO[bytes], *, room: str | None, name: str | None) -> tuple[Target, int, int, dict]:
        """Read every line, raising CommandError at the first bad one. Nothing is written. Also
        returns each message's id in the target room, by its id in the file (threads name their root)."""
        rows = _rows(source)
        first = next(rows, None)
        if first is None:
            raise CommandError("line 1: the file is empty; expected the room line that export_room writes first")
        target = _target(first[1], room=room, name=name)
        seen: dict[str, int] = {}
        ids: dict[str, str] = {}
        count = items = 0
        for number, row in rows:
            items += len(_message_items(number, row, target))
            message_id = row["message_id"]
            if message_id in seen:
                raise CommandError(f"line {number}: message_id {message_id!r} repeats the message on "
                                   f"line {seen[message_id]}")
            seen[message_id] = number
            ids[message_id] = (message_id if target.keeps_ids
                               else _derived_message_id(target, row["author_id"], row["created_at"], message_id))
            count += 1
        return target, count, items, ids

    def _index(self, source: IO[bytes], target: Target, ids: dict[str, str]) -> None:
        """Index the imported messages for search, from the file (the room_messages index may not
        show the newest yet). A re-run puts the same items again."""
        room = selectors.room_get(room_id=target.room_id)
        source.seek(0)
        messages = (search_index.message_entry_from_raw(item) for number, row in _rows(source) if number > 1
                    for item in _message_items(number, row, target, ids))
        with command_progress(f"indexing {target.room_id} for search", len(ids), stream=self.stderr) as bar:
            search_index.reindex_entries((m for m in messages if m is not None), scope=search_index.scope_of(room),
                                         progress=bar)

    def _ensure_room(self, target: Target) -> None:
        try:
            selectors.room_get(room_id=target.room_id)
            return
        except selectors.RoomNotFound:
            pass
        _, derived = validators.clean_room_name(target.name)
        if derived != target.room_id:
            raise CommandError(f"room {target.room_id!r} does not exist and the name {target.name!r} makes the id "
                               f"{derived!r}; create it first with create_room, or pass a matching --name")
        try:
            services.room_create(name=target.name, description=target.description, created_by=target.created_by,
                                 kind=target.kind)
        except services.RoomBeingDeleted:
            raise CommandError(f"room {target.room_id!r} is being deleted; wait until delete_room has finished, "
                               f"then import again") from None
        except services.RoomExists:
            pass


def _rows(source: IO[bytes]) -> Iterator[tuple[int, dict]]:
    """(line number, object) for each non-blank line; CommandError naming the line otherwise."""
    for number, raw in enumerate(source, start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CommandError(f"line {number}: not valid UTF-8 (byte {exc.start + 1}); "
                               f"export_room writes UTF-8") from None
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CommandError(f"line {number}: not JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise CommandError(f"line {number}: expected a JSON object {{…}}, got {_json_kind(row)}")
        yield number, row


def _json_kind(value: object) -> str:
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    return {list: "an array", str: "a string", int: "a number", float: "a number"}.get(type(value), "something else")


def _text(row: dict, field: str, default: str | None = None) -> str:
    value = row.get(field, default)
    if value is None:
        raise LineError(f"{field} is missing")
    if not isinstance(value, str):
        raise LineError(f"{field} must be a string, not {type(value).__name__}")
    return value


def _user_id(row: dict, field: str, default: str | None = None) -> str:
    value = _text(row, field, default)
    try:
        canonical = validate_username(value)
    except ValidationError as exc:
        raise LineError(f"{field} {brief(value)} is not a user id: {' '.join(exc.messages)}") from None
    if canonical != value:
        raise LineError(f"{field} {brief(value)} is not a user id (user ids are lowercase: {canonical!r})")
    return value


def _target(header: dict, *, room: str | None, name: str | None) -> Target:
    try:
        if header.get("type") != "room":
            raise LineError('expected the room line that export_room writes first ({"type": "room", …})')
        source_room_id = _text(header, "room_id")
        if not validators.is_room_id(source_room_id):
            raise LineError(f"room_id {brief(source_room_id)} is not a room id")
        target_id = room or source_room_id
        try:
            header_name = validators.clean_room_name(_text(header, "name", target_id))[0]
        except ValidationError as exc:
            raise LineError(f"name: {' '.join(exc.messages)}") from None
        try:
            description = validators.clean_room_description(_text(header, "description", ""))
        except ValidationError as exc:
            raise LineError(f"description: {' '.join(exc.messages)}") from None
        created_by = _user_id(header, "created_by", "import")
        kind = _text(header, "kind", "public")
        if kind not in ("public", "private"):
            raise LineError(f"kind {brief(kind)} is not public or private")
    except LineError as exc:
        raise CommandError(f"line 1: {exc}") from None
    return Target(room_id=target_id, name=name or header_name, description=description, created_by=created_by,
                  source_room_id=source_room_id, kind=kind)


def _derived_message_id(target: Target, author_id: str, created_at: str, message_id: str) -> str:
    """The same source message imported into the same room always gets the same id (a re-run
    overwrites it); another target room gets another id. 20 url-safe characters, like new_token."""
    identity = "\n".join([target.room_id, target.source_room_id, author_id, created_at, message_id])
    return base64.urlsafe_b64encode(hashlib.sha256(identity.encode()).digest()[:15]).decode()


def _message_items(number: int, row: dict, target: Target, ids: dict[str, str] | None = None) -> list[dict]:
    """The chat-table items (DynamoDB JSON) for one message line: the message, then its earlier
    versions when it was edited; or CommandError naming the line. ``ids``: the messages' ids in the
    target room by their ids in the file (the thread a reply names is its root's)."""
    try:
        if row.get("type") != "message":
            raise LineError('expected a message line ({"type": "message", …})')
        message_id = _text(row, "message_id")
        if not validators.is_token(message_id):
            raise LineError(f"message_id {brief(message_id)} is not 16–64 letters, digits, - or _")
        author_id = _user_id(row, "author_id")
        created_at = _text(row, "created_at")
        try:
            ms_from_iso(created_at)
        except ValueError:
            raise LineError(f"created_at {brief(created_at)} is not a UTC time like 2023-04-01T14:00:00.001Z") \
                from None
        try:
            comment = validators.clean_comment(_text(row, "comment"))
        except ValidationError as exc:
            raise LineError(f"comment: {' '.join(exc.messages)}") from None
        try:
            author_name = clean_display_name(_text(row, "author_name", author_id))
        except ValidationError as exc:
            raise LineError(f"author_name: {' '.join(exc.messages)}") from None
        mentioned = _mentions(row)
        edited_at, edits = _edits(row)
        thread_id, reply_count, quote = _thread(row)
        reactions = _reactions(row)
    except LineError as exc:
        raise CommandError(f"line {number}: {exc}") from None
    if not target.keeps_ids:
        # A thread is its root's id there; a root missing from the file (deleted) still gets one id
        # for all its replies. A quote's message gets the id its own line gets.
        if thread_id:
            thread_id = (ids or {}).get(thread_id) or _derived_message_id(target, "", "", thread_id)
        if quote:
            quoted_at, quoted_id = keys.message_sk_parts(quote[0])
            quote = (keys.message_sk(quoted_at, _derived_message_id(target, quote[1], quoted_at, quoted_id)),
                     *quote[1:])
        message_id = _derived_message_id(target, author_id, created_at, message_id)
    sk = keys.message_sk(created_at, message_id)
    return [services.message_item(room_id=target.room_id, author_id=author_id, author_name=author_name,
                                  created_at=created_at, message_id=message_id, comment=comment, mentions=mentioned,
                                  edited_at=edited_at, edit_version=len(edits), thread_id=thread_id,
                                  reply_count=reply_count, reply_to=quote, reactions=reactions),
            *(services.message_edit_item(author_id=author_id, sk=sk, edit_version=n, comment=text, at=at)
              for n, (text, at) in enumerate(edits))]


MAX_REPLY_COUNT = 10 ** 9
REPLY_TO_FIELDS = {"message_id", "author_id", "created_at", "author_name", "excerpt"}


def _thread(row: dict) -> tuple[str | None, int, tuple[str, str, str, str] | None]:
    """The optional ``thread_id`` (a root's own id, a reply's root), ``reply_count`` (a root) and
    ``reply_to`` (a reply's quote: the answered message's message_id, author_id, created_at,
    author_name and excerpt); files from before replies have none. Returns the quote as
    message_item takes it: (SK, author id, author name, excerpt)."""
    thread_id = row.get("thread_id")
    if thread_id is not None and not (isinstance(thread_id, str) and validators.is_token(thread_id)):
        raise LineError(f"thread_id {brief(str(thread_id))} is not a message id")
    reply_count = row.get("reply_count", 0)
    if type(reply_count) is not int or not 0 <= reply_count <= MAX_REPLY_COUNT:
        raise LineError(f"reply_count is a number of replies (0 to {MAX_REPLY_COUNT})")
    quote = row.get("reply_to")
    if quote is None:
        return thread_id, reply_count, None
    if not isinstance(quote, dict):
        raise LineError("reply_to must be an object with message_id, author_id, created_at, author_name and excerpt")
    if not thread_id:
        raise LineError("a reply has a thread_id (its thread's root) beside its reply_to")
    if set(quote) - REPLY_TO_FIELDS:
        raise LineError(f"reply_to has unknown fields: {', '.join(sorted(set(quote) - REPLY_TO_FIELDS))}")
    try:
        quoted_id = _text(quote, "message_id")
        if not validators.is_token(quoted_id):
            raise LineError(f"message_id {brief(quoted_id)} is not 16–64 letters, digits, - or _")
        quoted_author = _user_id(quote, "author_id")
        quoted_at = _text(quote, "created_at")
        if not _is_time(quoted_at):
            raise LineError(f"created_at {brief(quoted_at)} is not a UTC time like 2023-04-01T14:00:00.001Z")
        try:
            name = clean_display_name(_text(quote, "author_name", quoted_author))
        except ValidationError as exc:
            raise LineError(f"author_name: {' '.join(exc.messages)}") from None
        excerpt = _text(quote, "excerpt", "")
        if len(excerpt) > services.REPLY_EXCERPT_LENGTH:
            raise LineError(f"excerpt is longer than {services.REPLY_EXCERPT_LENGTH} characters")
    except LineError as exc:
        raise LineError(f"reply_to.{exc}") from None
    return thread_id, reply_count, (keys.message_sk(quoted_at, quoted_id), quoted_author, name, excerpt)


def _edits(row: dict) -> tuple[str | None, list[tuple[str, str]]]:
    """The optional ``edited_at`` and ``edits`` (earlier versions, oldest first: comment and at),
    together or not at all; files from before edits have neither."""
    edited_at, edits = row.get("edited_at"), row.get("edits", [])
    if not isinstance(edits, list) or len(edits) > services.MAX_EDITS:
        raise LineError(f"edits is a list of at most {services.MAX_EDITS} earlier versions")
    if (edited_at is None) != (not edits):
        raise LineError("edited_at and edits go together: an edited message has both, others neither")
    if edited_at is None:
        return None, []
    if not isinstance(edited_at, str) or not _is_time(edited_at):
        raise LineError(f"edited_at {brief(str(edited_at))} is not a UTC time like 2023-04-01T14:00:00.001Z")
    versions = []
    for n, edit in enumerate(edits):
        if not isinstance(edit, dict):
            raise LineError(f"edits[{n}] must be an object with comment and at")
        at = edit.get("at")
        if not isinstance(at, str) or not _is_time(at):
            raise LineError(f"edits[{n}].at {brief(str(at))} is not a UTC time like 2023-04-01T14:00:00.001Z")
        try:
            versions.append((validators.clean_comment(_text(edit, "comment")), at))
        except LineError as exc:
            raise LineError(f"edits[{n}].{exc}") from None
        except ValidationError as exc:
            raise LineError(f"edits[{n}].comment: {' '.join(exc.messages)}") from None
    return edited_at, versions


def _reactions(row: dict) -> tuple[Reaction, ...]:
    """The optional ``reactions``, as export_room writes them: ``[[emoji, [[user id, name], ...]],
    ...]``, each emoji one emoji (validators.clean_reaction, stored fully qualified) listed once, each
    reactor a user id with a display name, once per emoji; within reaction_set's bounds
    (services.MAX_REACTIONS distinct emoji, CHAT_REACTIONS_MAX_BYTES of JSON). Files from before
    reactions have none."""
    value = row.get("reactions", [])
    shape = "[[emoji, [[user id, name], …]], …]"
    if not isinstance(value, list):
        raise LineError(f"reactions must be a list {shape}")
    if len(value) > services.MAX_REACTIONS:
        raise LineError(f"reactions has {len(value)} emoji; a message has at most {services.MAX_REACTIONS}")
    found: list[Reaction] = []
    for n, pair in enumerate(value):
        if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str) and isinstance(pair[1], list)):
            raise LineError(f"reactions[{n}] must be [emoji, [[user id, name], …]]")
        try:
            emoji = validators.clean_reaction(pair[0])
        except ValidationError as exc:
            raise LineError(f"reactions[{n}]: {' '.join(exc.messages)}") from None
        if any(r.emoji == emoji for r in found):
            raise LineError(f"reactions[{n}]: {emoji} is listed twice")
        if not pair[1]:
            raise LineError(f"reactions[{n}]: {emoji} has no one who reacted with it")
        users: list[tuple[str, str]] = []
        for m, user in enumerate(pair[1]):
            where = f"reactions[{n}][1][{m}]"
            if not (isinstance(user, list) and len(user) == 2):
                raise LineError(f"{where} must be [user id, name]")
            try:
                user_id = _user_id({"user id": user[0]}, "user id")
                name = clean_display_name(_text({"name": user[1]}, "name"))
            except LineError as exc:
                raise LineError(f"{where}: {exc}") from None
            except ValidationError as exc:
                raise LineError(f"{where}: name: {' '.join(exc.messages)}") from None
            if any(uid == user_id for uid, _ in users):
                raise LineError(f"{where}: {user_id!r} reacted with {emoji} already")
            users.append((user_id, name))
        found.append(Reaction(emoji, tuple(users)))
    stored = reactions_to_json(found)
    if stored and len(stored.encode()) > settings.CHAT_REACTIONS_MAX_BYTES:
        raise LineError(f"reactions take {len(stored.encode()):,} bytes stored; a message holds at most "
                        f"{settings.CHAT_REACTIONS_MAX_BYTES:,}")
    return tuple(found)


def _is_time(value: str) -> bool:
    try:
        ms_from_iso(value)
    except ValueError:
        return False
    return True


def _mentions(row: dict) -> list[str]:
    """The optional ``mentions``: a list of distinct user ids, at most mentions.MAX_MENTIONS."""
    value = row.get("mentions", [])
    if not isinstance(value, list) or len(value) > mentions.MAX_MENTIONS:
        raise LineError(f"mentions is a list of at most {mentions.MAX_MENTIONS} user ids")
    found = [_user_id({"mentions": item}, "mentions") for item in value]
    if len(set(found)) != len(found):
        raise LineError("mentions lists a user id twice")
    return found
