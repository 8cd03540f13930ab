from django.core.management.base import BaseCommand, CommandError

from accounts import selectors
from chatsite.pagination import InvalidCursor


class Command(BaseCommand):
    help = ("List users a page at a time (a Query on the user directory, never a Scan), with status and "
            "last sign-in. Pass the printed --cursor to see the next page.")

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=50, help="users per page (default 50)")
        parser.add_argument("--cursor", help="where to continue, as printed at the end of the previous page")

    def handle(self, *args, limit, cursor, **options):
        if not 1 <= limit <= 1000:
            raise CommandError("--limit must be between 1 and 1000.")
        try:
            page = selectors.user_list(cursor=cursor, limit=limit)
        except InvalidCursor as error:
            raise CommandError("That --cursor is not one list_users printed. Start again without it.") from error
        if not page.items:
            self.stdout.write("No users." if not cursor else "No more users.")
            return
        records = selectors.user_get_many(user_ids=[entry.user_id for entry in page.items])
        self.stdout.write(f"{'username':<30}  {'display name':<30}  {'status':<8}  {'staff':<5}  last sign-in")
        for entry in page.items:
            record = records.get(entry.user_id)
            status = "missing" if record is None else ("active" if record.is_active else "inactive")
            staff = "yes" if record is not None and record.is_staff else "no"
            last = selectors.last_login_time(user_id=entry.user_id)
            last_text = last.strftime("%Y-%m-%d %H:%M UTC") if last else "never"
            # An entry can be partial (written by an older release's one-attribute update): fall
            # back to the user record, then to the id, rather than stop the listing.
            username = entry.username or (record.username if record else None) or entry.user_id
            display_name = entry.display_name or (record.display_name if record else None) or ""
            self.stdout.write(f"{username:<30}  {display_name[:30]:<30}  {status:<8}  {staff:<5}  {last_text}")
        if page.next_cursor:
            self.stdout.write(f"More: python manage.py list_users --limit {limit} --cursor {page.next_cursor}")
