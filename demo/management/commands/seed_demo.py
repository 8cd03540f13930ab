import random
import secrets

from django.core.management.base import BaseCommand, CommandError

from accounts import selectors as account_selectors
from accounts.management.commands._common import confirm, read_password
from accounts.services import UsernameTaken, user_create
from chatsite import keys
from chatsite.batch import batch_put_items
from chatsite.progress import command_progress
from rooms import search_index, selectors, services, validators
from rooms.timestamps import iso_from_ms, now_ms

ROOM_NAMES = ["General", "Random", "Art", "Music", "Books", "Travel", "Cooking", "Gardening", "Science", "Films"]
LINES = [
    "Good morning, everyone!", "Has anyone read anything good lately?", "Look at this: https://example.com/gallery",
    "I think the second option is better.", "Ha, that made my day.", "Lunch plans?",
    "Can someone explain how the index works?", "Back in five minutes.", "Totally agree.",
    "Here's a longer thought: small teams ship faster when the tools stay out of the way.",
]


def _room_name(n: int) -> str:
    return ROOM_NAMES[n % len(ROOM_NAMES)] + ("" if n < len(ROOM_NAMES) else f" {n // len(ROOM_NAMES) + 1}")


class Command(BaseCommand):
    help = ("Fill the site with demo users (demo1, demo2, …), rooms and messages so a newcomer sees a lively "
            "site. The new users' password is random and printed once, or read from stdin with "
            "--password-stdin. Users that exist already are reused and keep their passwords. Asks before "
            "adding messages to rooms that exist already, unless --yes.")

    def add_arguments(self, parser):
        parser.add_argument("--users", type=int, default=5)
        parser.add_argument("--rooms", type=int, default=3)
        parser.add_argument("--messages", type=int, default=100, help="messages per room")
        parser.add_argument("--seed", type=int, default=None, help="random seed, for repeatable messages")
        parser.add_argument("--password-stdin", action="store_true",
                            help="read the new demo users' password from stdin's first line")
        parser.add_argument("--yes", action="store_true",
                            help="don't ask before adding messages to rooms that already exist")

    def handle(self, *args, users, rooms, messages, seed, password_stdin, yes, **options):
        if not (1 <= users <= 1000 and 0 <= rooms <= 1000 and 0 <= messages <= 100_000):
            raise CommandError("need 1 ≤ --users ≤ 1000, 0 ≤ --rooms ≤ 1000 and 0 ≤ --messages ≤ 100000")
        usernames = [f"demo{n}" for n in range(1, users + 1)]
        names = [_room_name(n) for n in range(rooms)]
        existing_rooms = [validators.room_id_from_name(name) for name in names if self._room_exists(name)]
        if existing_rooms and messages:
            confirm(f"Rooms {', '.join(existing_rooms)} exist already: add {messages} demo messages to each?", yes=yes)
        if password_stdin:
            password = read_password(from_stdin=True, username=usernames[0], display_name="Demo User 1")
        else:
            password = secrets.token_urlsafe(12)  # 16 characters; never a password published in the code

        rng = random.Random(seed)
        people, reused = self._users(usernames, password)
        room_ids = self._rooms(names, people)
        now = now_ms()
        indexing = search_index.bulk_enabled()
        with command_progress("messages", rooms * messages, stream=self.stderr) as bar:
            for room_id in room_ids:
                for start in range(0, messages, 1000):
                    chunk = [self._message(rng, room_id, people, now - (messages - i) * 37_000)
                             for i in range(start, min(start + 1000, messages))]
                    batch_put_items(chunk, progress=bar)
                    if indexing:  # demo rooms are public; a search finds the demo messages at once
                        search_index.reindex_entries(map(search_index.message_entry_from_raw, chunk),
                                                     scope=keys.SEARCH_PUBLIC_SCOPE)
                if messages:  # a running site's room tails load the room again (docs/live-updates.md)
                    services.room_history_changed(room_id=room_id)
        created = len(people) - len(reused)
        shown = "from stdin" if password_stdin else repr(password)
        summary = f"{created} new users (password {shown})" if created else "no new users"
        if reused:
            summary += f"; {', '.join(reused)} existed already and keep their passwords"
        self.stdout.write(f"{summary}; {len(room_ids)} rooms, {rooms * messages} messages")

    @staticmethod
    def _room_exists(name: str) -> bool:
        try:
            selectors.room_get(room_id=validators.room_id_from_name(name))
            return True
        except selectors.RoomNotFound:
            return False

    def _users(self, usernames: list[str], password: str) -> tuple[list[tuple[str, str]], list[str]]:
        people, reused = [], []
        with command_progress("users", len(usernames), stream=self.stderr) as bar:
            for n, username in enumerate(usernames, start=1):
                try:
                    record = user_create(username=username, display_name=f"Demo User {n}", password=password)
                except UsernameTaken:  # there from an earlier run: reuse it, password untouched
                    record = account_selectors.user_get(user_id=username)
                    reused.append(username)
                people.append((record.user_id, record.display_name))
                bar.advance()
        return people, reused

    def _rooms(self, names: list[str], people) -> list[str]:
        room_ids = []
        for name in names:
            try:
                room = services.room_create(name=name, description=f"Demo room: {name.lower()}",
                                            created_by=people[0][0])
            except services.RoomExists as exc:
                room = exc.room
            except services.RoomBeingDeleted as exc:
                raise CommandError(f"room {exc.room_id!r} is being deleted; run seed_demo again when "
                                   f"delete_room has finished") from None
            room_ids.append(room.room_id)
        return room_ids

    @staticmethod
    def _message(rng: random.Random, room_id: str, people, at_ms: int) -> dict:
        author_id, author_name = rng.choice(people)
        created_at = iso_from_ms(at_ms + rng.randrange(1000))
        return services.message_item(room_id=room_id, author_id=author_id, author_name=author_name,
                                     created_at=created_at, message_id=validators.new_token(),
                                     comment=rng.choice(LINES))
