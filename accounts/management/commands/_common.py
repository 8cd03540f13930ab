"""Helpers shared by the account management commands (not a command: the name starts with _)."""

from __future__ import annotations

import getpass
import sys

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from accounts import selectors
from accounts.models import UserRecord
from accounts.validators import USERNAME_MAX_LENGTH, PasswordOwner, canonical_username


def brief(value: str, limit: int = 40) -> str:
    """repr() of an operator's argument, shortened: a 3,000-character name should not fill the screen."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(value):,} characters)"


def require_user(username: str) -> UserRecord:
    # The bound every real username meets, checked before the name goes into a DynamoDB key (which
    # DynamoDB refuses over 2 KB). Only the length: names made under older rules stay reachable.
    if max(len(username), len(canonical_username(username))) > USERNAME_MAX_LENGTH:
        raise CommandError(f"No user named {brief(username)}: usernames have at most {USERNAME_MAX_LENGTH} "
                           f"characters.")
    record = selectors.user_get_by_username(username=username)
    if record is None:
        raise CommandError(f"No user named {username!r}. `python manage.py list_users` lists them.")
    return record


def confirm(question: str, *, yes: bool) -> None:
    """Go on only if the operator said --yes or answers "y"; otherwise stop, changing nothing."""
    if yes:
        return
    try:
        answer = input(f"{question} [y/N] ")
    except (EOFError, OSError):  # no terminal to ask on (cron, a pipe): the answer is no
        answer = ""
    if answer.strip().lower() not in {"y", "yes"}:
        raise CommandError("Nothing changed. Answer y, or pass --yes to skip this question.")


def read_password(*, from_stdin: bool, username: str, display_name: str) -> str:
    """A new password from the first line of stdin, or prompted twice without echo."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise CommandError("--password-stdin given but stdin had no password on its first line.")
    else:
        if not sys.stdin.isatty():
            raise CommandError("No terminal to prompt for a password on. Pipe it in with --password-stdin.")
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Password (again): "):
            raise CommandError("The two passwords don't match.")
    try:
        owner = PasswordOwner(username=username, display_name=display_name)
        password_validation.validate_password(password, user=owner)
    except ValidationError as error:
        raise CommandError("Password rejected: " + " ".join(error.messages)) from error
    return password

