"""Membership on both sides (the room's member list, the user's rooms): written in an order that a
crash between the two writes never grants access and the next attempt repairs; "my rooms" is one
Query; a room's member list is one paginated Query; deleting and renaming a room reach every
member's sidebar entry."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from pynamodb.exceptions import DoesNotExist

from chatsite import keys
from chatsite.dynamodb import count_calls
from rooms import selectors, services
from rooms.models import MemberRecord, RoomDirectoryEntry, UserRoomRecord
from tests.support.seeding import rooms_created
from tests.support.sessions import request_user
from tests.support.users import ensure_user_item


def both_sides(room_id: str, user_id: str) -> tuple[bool, bool]:
    def exists(model, pk, sk):
        try:
            model.get(pk, sk, consistent_read=True)
            return True
        except DoesNotExist:
            return False
    return (exists(MemberRecord, keys.room_pk(room_id), keys.member_sk(user_id)),
            exists(UserRoomRecord, keys.user_pk(user_id), keys.user_room_sk(room_id)))


def member_ids(room_id: str) -> list[str]:
    return [m.user_id for m in selectors.all_room_members(room_id=room_id)]


def writes(calls) -> int:
    return sum(n for op, n in calls.items() if op in ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"))


class Crash(Exception):
    pass


# --- creating rooms ------------------------------------------------------------------------------


def test_the_creator_owns_a_new_room_on_both_sides(moto_tables):
    room = services.room_create(name="Art", created_by="alice", created_by_name="Alice A")
    assert both_sides("art", "alice") == (True, True)
    [member] = selectors.room_members(room_id="art").items
    assert (member.user_id, member.display_name, member.role) == ("alice", "Alice A", "owner")
    [entry] = selectors.user_rooms(user_id="alice")
    assert (entry.room_id, entry.name, entry.kind, entry.role, entry.url) == ("art", "Art", "public", "owner",
                                                                              "/rooms/art/")
    assert room.kind == "public" and [r.room_id for r in selectors.room_list().items] == ["art"]


def test_a_private_room_is_in_no_list_but_its_owners_rooms(moto_tables):
    room = services.room_create(name="Secret Plans", created_by="alice", kind="private")
    assert room.kind == "private" and selectors.room_get(room_id="secret-plans").kind == "private"
    assert selectors.room_list().items == []
    assert list(RoomDirectoryEntry.query(keys.ROOM_DIRECTORY_PK)) == []
    assert [(r.room_id, r.kind) for r in selectors.user_rooms(user_id="alice")] == [("secret-plans", "private")]


def test_a_creation_that_died_before_the_owners_membership_is_repaired_by_the_next_attempt(moto_tables, monkeypatch):
    real_save = UserRoomRecord.save

    def crash(self, *args, **kwargs):
        raise Crash()
    monkeypatch.setattr(UserRoomRecord, "save", crash)
    with pytest.raises(Crash):
        services.room_create(name="Den", created_by="alice", kind="private")
    assert both_sides("den", "alice") == (True, False)  # a member-list entry, but no access yet
    monkeypatch.setattr(UserRoomRecord, "save", real_save)
    with pytest.raises(services.RoomExists):
        services.room_create(name="Den", created_by="alice", kind="private")
    assert both_sides("den", "alice") == (True, True)


# --- join, leave, invite: the order of the writes --------------------------------------------------


def test_joining_twice_is_a_quiet_no_op_and_costs_at_most_three_writes(room):
    bob = request_user("bob")
    with count_calls() as calls:
        assert services.room_join(room=room, user=bob) is True
    # two conditional PutItems, and the room's Seq (GetItem), where the new member's read cursor starts
    assert writes(calls) <= 3 and calls == {"PutItem": 2, "GetItem": 1}, calls
    with count_calls() as calls:
        assert services.room_join(room=room, user=bob) is False
    assert writes(calls) <= 3, calls
    assert both_sides("art", "bob") == (True, True) and member_ids("art") == ["alice", "bob"]


def test_joining_keeps_an_owner_an_owner(room):
    assert services.room_join(room=room, user=request_user("alice")) is False
    assert selectors.user_room_get(user_id="alice", room_id="art").role == "owner"


def test_a_join_that_died_between_its_writes_grants_nothing_and_the_next_join_repairs_it(room, monkeypatch):
    real_save = UserRoomRecord.save

    def crash(self, *args, **kwargs):
        raise Crash()
    monkeypatch.setattr(UserRoomRecord, "save", crash)
    with pytest.raises(Crash):
        services.room_join(room=room, user=request_user("bob"))
    assert both_sides("art", "bob") == (True, False)
    assert selectors.user_room_get(user_id="bob", room_id="art") is None  # what access is decided by
    monkeypatch.setattr(UserRoomRecord, "save", real_save)
    services.room_join(room=room, user=request_user("bob"))
    assert both_sides("art", "bob") == (True, True)


def test_leaving_removes_access_first_and_a_leave_that_died_is_finished_by_the_next(room, monkeypatch):
    services.room_join(room=room, user=request_user("bob"))
    real_delete = MemberRecord.delete

    def crash(self, *args, **kwargs):
        raise Crash()
    monkeypatch.setattr(MemberRecord, "delete", crash)
    with pytest.raises(Crash):
        services.room_leave(room=room, user=request_user("bob"))
    assert both_sides("art", "bob") == (True, False)  # no access; only a member-list entry is left
    monkeypatch.setattr(MemberRecord, "delete", real_delete)
    with count_calls() as calls:
        assert services.room_leave(room=room, user=request_user("bob")) is False  # no access to lose
    assert writes(calls) <= 3, calls
    assert both_sides("art", "bob") == (False, False)


def test_leaving_a_room_you_are_not_in_is_a_quiet_no_op(room):
    assert services.room_leave(room=room, user=request_user("carol")) is False
    assert both_sides("art", "carol") == (False, False) and member_ids("art") == ["alice"]


def test_inviting_adds_both_sides_in_two_reads_and_two_writes(moto_tables):
    room = services.room_create(name="Den", created_by="alice", kind="private")
    ensure_user_item("bob", display_name="Bob B")
    with count_calls() as calls:
        member = services.room_invite(room=room, username="Bob")
    assert (member.user_id, member.display_name) == ("bob", "Bob B")
    assert calls["GetItem"] == 2 and writes(calls) == 2, calls  # the user, the room's Seq
    assert both_sides("den", "bob") == (True, True)
    assert [r.room_id for r in selectors.user_rooms(user_id="bob")] == ["den"]


def test_inviting_twice_says_so_and_completes_a_half_written_membership(moto_tables, monkeypatch):
    room = services.room_create(name="Den", created_by="alice", kind="private")
    ensure_user_item("bob")
    real_save = UserRoomRecord.save

    def crash(self, *args, **kwargs):
        raise Crash()
    monkeypatch.setattr(UserRoomRecord, "save", crash)
    with pytest.raises(Crash):
        services.room_invite(room=room, username="bob")
    monkeypatch.setattr(UserRoomRecord, "save", real_save)
    with pytest.raises(services.AlreadyMember):
        services.room_invite(room=room, username="bob")
    assert both_sides("den", "bob") == (True, True)
    with pytest.raises(services.AlreadyMember):
        services.room_invite(room=room, username="bob")


@pytest.mark.parametrize("username", ["nobody", "", "x", "a#b", "n" * 300, "dana"])
def test_inviting_a_username_that_does_not_exist_writes_nothing(moto_tables, username):
    room = services.room_create(name="Den", created_by="alice", kind="private")
    record = ensure_user_item("dana")
    record.update(actions=[type(record).is_active.set(False)])  # a deactivated user can't be invited either
    with count_calls() as calls, pytest.raises(services.NoSuchUser):
        services.room_invite(room=room, username=username)
    assert writes(calls) == 0
    assert member_ids("den") == ["alice"]


def test_only_the_owner_or_staff_remove_members(moto_tables):
    room = services.room_create(name="Den", created_by="alice", kind="private")
    for name in ("bob", "carol"):
        ensure_user_item(name)
        services.room_invite(room=room, username=name)
    with pytest.raises(PermissionDenied):
        services.member_remove(room=room, actor=request_user("bob"), user_id="carol")
    assert member_ids("den") == ["alice", "bob", "carol"]
    with count_calls() as calls:
        assert services.member_remove(room=room, actor=request_user("alice"), user_id="carol") is True
    assert writes(calls) == 3  # both sides of the membership, and the x- event that ends her live tabs' view
    assert services.member_remove(room=room, actor=request_user("root", is_staff=True), user_id="bob") is True
    assert member_ids("den") == ["alice"] and selectors.user_rooms(user_id="bob") == []
    assert services.member_remove(room=room, actor=request_user("alice"), user_id="bob") is False


# --- reads ---------------------------------------------------------------------------------------------


def test_my_rooms_is_one_query_for_two_hundred_rooms_sorted_by_name(moto_tables):
    rooms_created([f"Room {199 - n:03d}" for n in range(200)], created_by="alice",
                  kinds=["private" if n % 2 else "public" for n in range(200)])
    with count_calls() as calls:
        rooms = selectors.user_rooms(user_id="alice")
    assert dict(calls) == {"Query": 1}
    assert [r.name for r in rooms] == [f"Room {n:03d}" for n in range(200)]


def test_the_member_list_is_one_query_a_page_with_a_signed_cursor(room):
    for n in range(5):
        services.room_join(room=room, user=request_user(f"user{n}"))
    with count_calls() as calls:
        first = selectors.room_members(room_id="art", limit=4)
    assert dict(calls) == {"Query": 1}
    second = selectors.room_members(room_id="art", cursor=first.next_cursor, limit=4)
    assert [m.user_id for m in first.items + second.items] == ["alice", "user0", "user1", "user2", "user3", "user4"]
    services.room_create(name="Other", created_by="alice")
    with pytest.raises(selectors.pagination.InvalidCursor):
        selectors.room_members(room_id="other", cursor=first.next_cursor)


def test_a_users_messages_and_rooms_share_a_partition_without_mixing(room):
    from tests.rooms.test_views import seed
    seed(room, 3)
    assert len(selectors.user_messages(user_id="alice")) == 3
    assert [r.room_id for r in selectors.user_rooms(user_id="alice")] == ["art"]


# --- renaming and deleting reach every member's sidebar ------------------------------------------------


def test_renaming_changes_the_name_in_every_members_sidebar(room):
    services.room_join(room=room, user=request_user("bob"))
    with pytest.raises(PermissionDenied):
        services.room_update(room=room, actor=request_user("bob"), name="Mine", description="")
    services.room_update(room=room, actor=request_user("alice"), name="Fine Art", description="paint")
    assert [r.name for r in selectors.user_rooms(user_id="bob")] == ["Fine Art"]
    assert selectors.room_get(room_id="art").name == "Fine Art"
    assert [(r.name, r.description) for r in selectors.room_list().items] == [("Fine Art", "paint")]


def test_deleting_a_room_removes_every_membership_on_both_sides(room, settings):
    settings.CHAT_ROOM_CACHE_SECONDS = 0
    settings.CHAT_ROOM_DELETE_GRACE_SECONDS = 0
    for name in ("bob", "carol"):
        services.room_join(room=room, user=request_user(name))
    services.room_delete(room_id="art", sleep=lambda s: None)
    for name in ("alice", "bob", "carol"):
        assert both_sides("art", name) == (False, False)
        assert selectors.user_rooms(user_id=name) == []
