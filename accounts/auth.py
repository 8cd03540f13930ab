"""Authentication without the ORM: the user objects `request.user` holds, and the backend."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import SESSION_KEY

# Besides Django's SESSION_KEY (the user id), the session caches what pages show about the user,
# so building request.user costs no DynamoDB read.
USER_INFO_SESSION_KEY = "_auth_user_info"


@dataclass(frozen=True)
class SessionUser:
    """The signed-in user as the session knows them. Behaves like Django's user for templates,
    `login_required` and friends."""

    id: str
    username: str
    display_name: str
    is_staff: bool = False

    is_active = True
    is_anonymous = False
    is_authenticated = True
    is_superuser = False

    @property
    def pk(self) -> str:
        return self.id

    def get_username(self) -> str:
        return self.username

    def __str__(self) -> str:
        return self.display_name or self.username

    def has_perm(self, perm, obj=None) -> bool:
        return self.is_staff

    def has_perms(self, perms, obj=None) -> bool:
        return self.is_staff

    def has_module_perms(self, app_label) -> bool:
        return self.is_staff


class AnonymousUser:
    id = None
    pk = None
    username = ""
    display_name = ""
    is_staff = False
    is_active = False
    is_superuser = False
    is_anonymous = True
    is_authenticated = False

    def __str__(self) -> str:
        return "AnonymousUser"

    def __eq__(self, other) -> bool:
        return isinstance(other, AnonymousUser)

    def __hash__(self) -> int:
        return 1

    def get_username(self) -> str:
        return self.username

    def has_perm(self, perm, obj=None) -> bool:
        return False

    def has_perms(self, perms, obj=None) -> bool:
        return False

    def has_module_perms(self, app_label) -> bool:
        return False


def get_user(request) -> SessionUser | AnonymousUser:
    session = request.session
    user_id = session.get(SESSION_KEY)
    info = session.get(USER_INFO_SESSION_KEY)
    if not user_id or not isinstance(info, dict):
        return AnonymousUser()
    return SessionUser(
        id=str(user_id),
        username=str(info.get("username", user_id)),
        display_name=str(info.get("display_name", user_id)),
        is_staff=bool(info.get("is_staff", False)),
    )
