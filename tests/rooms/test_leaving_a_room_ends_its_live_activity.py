"""A member removed from a room (or leaving it) stops hearing about it at once in every open tab:
their streams' sidebars drop the room and no `notify` event carries its messages any more, without
waiting for a reconnect. Removal writes an `x-` activity event; the reducer drops the room unless
the user joined again after it (a late or replayed event never removes a current membership)."""

from __future__ import annotations

import json

from chatsite import keys
from rooms import activity, selectors, services
from rooms.models import UserRoom
from rooms.timestamps import iso_from_ms, now_ms
from tests.rooms.test_stream_user_side import BOB, counts, open_stream, post, rooms, set_notify, wait_primed  # noqa: F401
from tests.support.sessions import sign_in


def entry(room_id: str, joined_ms: int) -> UserRoom:
    return UserRoom(room_id=room_id, name=room_id.title(), kind="private", role="member",
                    joined_at=iso_from_ms(joined_ms), read_seq=0)


def left(room_id: str, at_ms: int, user_id: str = "alice") -> activity.Activity:
    return activity.Activity(kind=keys.ACTIVITY_LEFT, at_ms=at_ms, ref=keys.activity_left_ref(user_id, room_id),
                             room_id=room_id, user_id=user_id)


def post_event(room_id: str, seq: int, at_ms: int) -> activity.Activity:
    return activity.Activity(kind=keys.ACTIVITY_MESSAGE, at_ms=at_ms, ref=f"s-{room_id}#m{seq}", room_id=room_id,
                             user_id="bob", seq=seq, message_id=f"m{seq}")


def test_the_reducer_drops_a_room_left_after_joining_and_ignores_older_leavings():
    state = activity.UnreadState.start("alice", [entry("art", 1_000), entry("books", 5_000)], {"art": 0, "books": 0})
    assert state.apply(left("art", 2_000)) is True
    assert "art" not in state.counts()
    assert state.apply(post_event("art", 1, 3_000)) is False  # its posts no longer count or notify
    assert not state.wants_notification(post_event("art", 1, 3_000), mentioned=True)
    # books was joined again after an earlier removal: that old event (replayed) removes nothing.
    assert state.apply(left("books", 4_000)) is False and "books" in state.counts()
    assert state.apply(left("art", 2_000)) is False  # idempotent


def test_membership_remove_writes_the_leaving_event(rooms):
    services.membership_remove(room_id="art", user_id="bob")
    since = iso_from_ms(now_ms() - 60_000)
    found = [a for shard in range(activity.hub().shards)
             for a in map(activity.Activity.from_record, selectors.activity_since(shard=shard, since=since))
             if a.kind == keys.ACTIVITY_LEFT]
    assert [(a.user_id, a.room_id) for a in found] == [("bob", "art")]
    # Not a member: nothing to tell anyone.
    assert services.membership_remove(room_id="art", user_id="bob") is False
    again = [a for shard in range(activity.hub().shards)
             for a in map(activity.Activity.from_record, selectors.activity_since(shard=shard, since=since))
             if a.kind == keys.ACTIVITY_LEFT]
    assert len(again) == 1


def test_a_removed_member_s_open_stream_drops_the_room_and_hears_nothing_more_of_it(client, rooms):
    set_notify("alice", "art", "all")
    sign_in(client, "alice")
    reader = open_stream(client)
    reader.wait_for("sidebar")
    wait_primed()
    before = post(rooms["art"], "before the removal")
    reader.wait_for("notify", lambda d: json.loads(d)["id"] == before.message_id)
    services.membership_remove(room_id="art", user_id="alice")
    reader.wait_for("sidebar", lambda d: "art" not in counts(d))
    after = post(rooms["art"], "secret after the removal")
    post(rooms["books"], "a later post elsewhere")  # the stream is still alive and hears books
    reader.wait_for("sidebar", lambda d: counts(d).get("books") == 1)
    notes = [json.loads(d) for d in reader.events("notify")]
    assert after.message_id not in {n["id"] for n in notes}
    assert "secret after the removal" not in reader.text
    reader.close()


def test_a_stream_of_the_room_itself_is_told_to_reload_when_its_member_is_removed(client, rooms):
    sign_in(client, "alice")
    reader = open_stream(client, "art")
    reader.wait_for("sidebar")
    wait_primed()
    services.membership_remove(room_id="art", user_id="alice")
    assert reader.wait_for("reload") == "access"  # at the next activity refresh, not the 60 s recheck
    assert reader.done.wait(5)
