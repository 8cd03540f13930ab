import random

from django.core.management.base import BaseCommand, CommandError

from chatsite import keys
from rooms import services, validators
from rooms.management.progress import ProgressBar
from rooms.models import MessageRecord
from rooms.timestamps import iso_from_ms, now_ms

DEMO_PASSWORD = "demo-password-123"
ROOM_NAMES = ["General", "Random", "Art", "Music", "Books", "Travel", "Cooking", "Gardening", "Science", "Films"]
LINES = [
    "Good morning, everyone!", "Has anyone read anything good lately?", "Look at this: https://example.com/gallery",
    "I think the second option is better.", "Ha, that made my day.", "Lunch plans?",
    "Can someone explain how the index works?", "Back in five minutes.", "Totally agree.",
    "Here's a longer thought: small teams ship faster when the tools stay out of the way.",
]


class Command(BaseCommand):
    help = "Fill the site with demo users, rooms and messages so a newcomer sees a lively site."

    def add_arguments(self, parser):
        parser.add_argument("--users", type=int, default=5)
        parser.add_argument("--rooms", type=int, default=3)
        parser.add_argument("--messages", type=int, default=100, help="messages per room")
        parser.add_argument("--seed", type=int, default=None, help="random seed, for repeatable data")

    def handle(self, *args, users, rooms, messages, seed, **options):
        if users < 1 or rooms < 0 or messages < 0:
            raise CommandError("need --users ≥ 1, --rooms ≥ 0 and --messages ≥ 0")
        rng = random.Random(seed)
        people = self._users(users)
        room_ids = self._rooms(rooms, people)
        bar = ProgressBar("messages", rooms * messages, stream=self.stderr)
        now = now_ms()
        try:
            services.batch_put_items(
                (self._message(rng, room_id, people, now - (messages - i) * 37_000) for room_id in room_ids
                 for i in range(messages)),
                progress=bar)
        except services.UnprocessedItemsRemain as exc:
            raise CommandError(str(exc)) from None
        finally:
            bar.finish()
        self.stdout.write(f"{len(people)} users (password {DEMO_PASSWORD!r}), {len(room_ids)} rooms, "
                          f"{rooms * messages} messages")

    def _users(self, count: int) -> list[tuple[str, str]]:
        from accounts.models import UserRecord
        from accounts.services import UsernameTaken, user_create

        bar = ProgressBar("users", count, stream=self.stderr)
        people = []
        for n in range(1, count + 1):
            username = f"demo{n}"
            try:
                record = user_create(username=username, display_name=f"Demo User {n}", password=DEMO_PASSWORD)
            except UsernameTaken:  # there from an earlier run: reuse it
                record = UserRecord.get(keys.user_pk(username), keys.META)
            people.append((record.user_id, record.display_name))
            bar.advance()
        bar.finish()
        return people

    def _rooms(self, count: int, people) -> list[str]:
        room_ids = []
        for n in range(count):
            name = ROOM_NAMES[n % len(ROOM_NAMES)] + ("" if n < len(ROOM_NAMES) else f" {n // len(ROOM_NAMES) + 1}")
            try:
                room = services.room_create(name=name, description=f"Demo room: {name.lower()}",
                                            created_by=people[0][0])
            except services.RoomExists as exc:
                room = exc.room
            room_ids.append(room.room_id)
        return room_ids

    @staticmethod
    def _message(rng: random.Random, room_id: str, people, at_ms: int) -> dict:
        author_id, author_name = rng.choice(people)
        created_at = iso_from_ms(at_ms + rng.randrange(1000))
        return MessageRecord(keys.user_pk(author_id), keys.message_sk(created_at, validators.new_token()),
                             RoomID=room_id, CreatedAt=created_at, Comment=rng.choice(LINES),
                             AuthorName=author_name).serialize()
