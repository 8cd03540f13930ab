"""The unread state a tab keeps (rooms.activity.UnreadState): applying activity events is
idempotent and order-independent, a read cursor follows the highest version (advance then Mark
as unread ends as Mark as unread, however they arrive), and notifications follow the setting."""

from __future__ import annotations

import itertools
import random

from chatsite import keys
from rooms.activity import MENTION, MESSAGE, READ, SETTING, Activity, UnreadState
from rooms.models import UserRoom


def entry(room_id: str, *, read_seq=0, kind="public", notify=None, version=0) -> UserRoom:
    return UserRoom(room_id=room_id, name=room_id.title(), kind=kind, role="member", joined_at="2026-01-01T00:00:00.000Z",
                    read_seq=read_seq, read_version=version, notify=notify)


def post(room_id: str, seq: int, *, author="bob", at=1000, room_mention=False) -> Activity:
    return Activity(kind=MESSAGE, at_ms=at + seq, ref=keys.activity_message_ref(room_id, f"m{seq}"), room_id=room_id,
                    user_id=author, seq=seq, message_id=f"m{seq}", author_name=author.title(), excerpt="hi",
                    room_mention=room_mention)


def read(room_id: str, read_seq: int, version: int, *, user="alice", at=5000) -> Activity:
    return Activity(kind=READ, at_ms=at, ref=keys.activity_read_ref(user, room_id, version), room_id=room_id,
                    user_id=user, read_seq=read_seq, read_version=version)


def mention(room_id: str, seq: int, *, user="alice") -> Activity:
    return Activity(kind=MENTION, at_ms=1000 + seq, ref=keys.activity_mention_ref(user, f"m{seq}"), room_id=room_id,
                    user_id=user, seq=seq, message_id=f"m{seq}", author_name="Bob")


def setting(room_id: str, notify, at: int, *, user="alice") -> Activity:
    return Activity(kind=SETTING, at_ms=at, ref=keys.activity_setting_ref(user, room_id), room_id=room_id,
                    user_id=user, notify=notify)


def state() -> UnreadState:
    return UnreadState.start("alice", [entry("art"), entry("zoo", read_seq=2)], {"art": 1, "zoo": 2})


EVENTS = [post("art", 2), post("art", 3), read("art", 3, 1), read("art", 1, 2), mention("art", 3),
          post("zoo", 3), post("zoo", 4), read("zoo", 4, 1), setting("art", "all", 10), setting("art", "none", 20)]


def test_a_start_shows_the_pages_counts():
    assert state().counts() == {"art": (1, 0), "zoo": (0, 0)} and state().total() == 1


def test_every_order_and_any_duplication_gives_the_same_state():
    expected = state()
    assert expected.apply_all(EVENTS)
    # advance to 3 (version 1) then Mark as unread back to 1 (version 2): Mark as unread wins
    assert expected.counts() == {"art": (2, 1), "zoo": (0, 0)}
    assert expected.rooms["art"].notify == "none"
    rng = random.Random(7)
    for _ in range(300):
        delivered = EVENTS + rng.sample(EVENTS, rng.randint(0, len(EVENTS)))
        rng.shuffle(delivered)
        got = state()
        got.apply_all(delivered)
        assert got.counts() == expected.counts() and got.rooms == expected.rooms and got.seqs == expected.seqs


def test_applying_twice_changes_nothing_the_second_time():
    once = state()
    for event in EVENTS:
        once.apply(event)
        assert once.apply(event) is False


def test_every_permutation_of_a_cursors_moves_ends_at_the_highest_version():
    moves = [read("art", 5, 1), read("art", 2, 2), read("art", 6, 3), read("art", 4, 4)]
    seqs = {"art": 6}
    for order in itertools.permutations(moves):
        got = UnreadState.start("alice", [entry("art")], seqs)
        got.apply_all(order)
        assert got.rooms["art"].read_seq == 4 and got.unread("art") == 2


def test_a_stale_version_is_ignored_even_when_it_arrives_last():
    got = UnreadState.start("alice", [entry("art", read_seq=3, version=5)], {"art": 6})
    assert got.apply(read("art", 6, 4)) is False
    assert got.unread("art") == 3


def test_others_events_and_unknown_rooms_change_nothing():
    got = state()
    assert not got.apply(read("art", 9, 9, user="bob"))
    assert not got.apply(mention("art", 9, user="bob"))
    assert not got.apply(setting("art", "all", 99, user="bob"))
    assert not got.apply(post("elsewhere", 9))
    assert got.counts() == state().counts()


def test_a_room_seq_never_goes_back():
    got = state()
    got.apply(post("art", 5))
    assert not got.apply(post("art", 4))
    assert got.unread("art") == 5


def test_mentions_count_those_past_the_cursor():
    got = state()
    got.apply_all([post("art", 2), post("art", 3), mention("art", 2), mention("art", 3)])
    assert got.mentions("art") == 2
    got.apply(read("art", 2, 1))
    assert got.mentions("art") == 1 and got.unread("art") == 1


def test_a_membership_from_before_read_cursors_shows_no_count():
    got = UnreadState.start("alice", [entry("art", read_seq=None)], {"art": 4})
    got.apply(post("art", 5))
    assert got.unread("art") == 0


def test_the_entries_carry_the_counts_for_the_sidebar_sorted_by_name():
    got = state()
    got.apply(post("zoo", 3))
    assert [(r.room_id, r.unread) for r in got.entries()] == [("art", 1), ("zoo", 1)]


def test_notifications_follow_the_setting_never_for_ones_own_or_read_messages():
    got = UnreadState.start("alice", [entry("art"), entry("dm", kind="direct"), entry("quiet", notify="none"),
                                      entry("loud", notify="all")], {})
    assert not got.wants_notification(post("art", 1), mentioned=False)  # default for rooms: mentions
    assert got.wants_notification(post("art", 1), mentioned=True)
    assert got.wants_notification(post("dm", 1), mentioned=False)  # default for direct: all
    assert not got.wants_notification(post("quiet", 1), mentioned=True)
    assert got.wants_notification(post("loud", 1), mentioned=False)
    assert not got.wants_notification(post("loud", 1, author="alice"), mentioned=True)  # her own
    got.apply(read("loud", 3, 1))
    assert not got.wants_notification(post("loud", 2), mentioned=False)  # read already (another tab)
    got.apply(setting("art", "all", 10))
    assert got.wants_notification(post("art", 1), mentioned=False)


def test_a_cursor_moves_mentions_join_the_state_whatever_its_version():
    """Mark as unread brings pruned mentions back; its event carries them to tabs that never saw them."""
    got = UnreadState.start("alice", [entry("art", read_seq=3, version=2)], {"art": 3})
    back = Activity(kind=READ, at_ms=1, ref=keys.activity_read_ref("alice", "art", 3), room_id="art", user_id="alice",
                    read_seq=1, read_version=3, mention_seqs=frozenset({2}))
    assert got.apply(back) and got.mentions("art") == 1 and got.unread("art") == 2
    stale = Activity(kind=READ, at_ms=1, ref=keys.activity_read_ref("alice", "art", 1), room_id="art", user_id="alice",
                     read_seq=0, read_version=1, mention_seqs=frozenset({3}))
    assert got.apply(stale) and got.rooms["art"].read_seq == 1 and got.mentions("art") == 2
    assert not got.apply(stale)
