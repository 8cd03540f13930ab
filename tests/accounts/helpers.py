"""Small builders shared by the accounts tests."""

from __future__ import annotations

from accounts import services

PASSWORD = "correct-horse-battery-9"


def make_user(username: str = "alice", *, display_name: str | None = None, password: str = PASSWORD,
              is_staff: bool = False):
    return services.user_create(username=username, display_name=display_name or username.title(),
                                password=password, is_staff=is_staff)
