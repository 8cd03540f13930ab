"""One page type and one signed cursor for every listing (rooms, a room's history, users)."""

import pytest
from django.core import signing

from accounts import selectors as account_selectors
from chatsite import pagination
from chatsite.pagination import InvalidCursor, Page
from rooms import selectors as room_selectors, services
from tests.support.users import create_user


def test_rooms_and_users_come_back_as_the_same_page_type(moto_tables):
    create_user("alice")
    services.room_create(name="Art", created_by="alice")
    rooms = room_selectors.room_list()
    users = account_selectors.user_list()
    assert type(rooms) is type(users) is Page
    assert [r.room_id for r in rooms.items] == ["art"] and [u.user_id for u in users.items] == ["alice"]


def test_a_user_list_cursor_is_bound_to_its_purpose_and_key_shape(moto_tables):
    for name in ["alice", "bob", "carol"]:
        create_user(name)
    cursor = account_selectors.user_list(limit=1).next_cursor
    assert [u.user_id for u in account_selectors.user_list(cursor=cursor, limit=1).items] == ["bob"]
    with pytest.raises(InvalidCursor):
        room_selectors.room_list(cursor=cursor)  # a users cursor is not a rooms cursor
    wrong_shape = pagination.encode({"PK": {"S": "Users"}}, purpose="users")
    with pytest.raises(InvalidCursor):
        account_selectors.user_list(cursor=wrong_shape)
    with pytest.raises(InvalidCursor):
        account_selectors.user_list(cursor=cursor[:-2] + "xx")


def test_an_invalid_cursor_is_also_a_bad_signature_for_callers_that_catch_that():
    assert issubclass(InvalidCursor, signing.BadSignature) and issubclass(InvalidCursor, ValueError)
    with pytest.raises(InvalidCursor):
        pagination.decode("x" * (pagination.MAX_CURSOR_LENGTH + 1), purpose="users", key_names=("PK", "SK"))
