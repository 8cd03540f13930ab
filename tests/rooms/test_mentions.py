"""Mentions: stored with the message (only members are notified), MentionSeqs on the mentioned
members' memberships, mention items for the Mentions page, the sender told who was not notified
(the same words for an unknown name and a non-member), @room's owner-only rule over 20 members,
the sidebar's "N mention(s)", pruning read mentions, links to /u/<name>/, and ?at= pages."""

from __future__ import annotations

import re

import pytest

from chatsite import keys
from chatsite.dynamodb import count_calls
from rooms import activity, live, selectors, services, validators
from rooms.models import MessageRecord, UserRoomRecord
from tests.rooms.test_unread_sidebar import entry_html, link_text
from tests.rooms.test_views import HX, composer_key
from tests.support.sessions import request_user, sign_in
from tests.support.users import ensure_user_item


@pytest.fixture(autouse=True)
def many_posts(settings):
    settings.CHAT_POST_RATE_LIMIT = 1000


def say(room, text: str, author: str = "alice"):
    return services.message_post(room=room, author=request_user(author), comment=text,
                                 idempotency_key=validators.new_token())


def mention_seqs(user_id: str, room_id: str = "art") -> set[int]:
    record = UserRoomRecord.get(keys.user_pk(user_id), keys.user_room_sk(room_id), consistent_read=True)
    return {int(s) for s in record.mention_seqs or ()}


@pytest.fixture
def members(room):
    """Art (alice owns it) with bob and carol as members; dave exists but is not in it."""
    for name in ("bob", "carol"):
        services.room_join(room=room, user=request_user(name))
    ensure_user_item("dave")
    return room


# --- storage -------------------------------------------------------------------------------------


def test_a_mention_of_a_member_is_stored_with_the_message_and_on_their_membership(members):
    with count_calls() as calls:
        result = say(members, "hello @Bob and @carol, and @dave")
    message = result.message
    assert message.mentions == ("bob", "carol")  # dave is not a member: not notified, not stored
    assert result.not_notified == ("dave",)
    # The post's 3 calls + 1 conditional UpdateItem per person mentioned (the refused one too).
    assert dict(calls) == {"UpdateItem": 2 + 3, "BatchWriteItem": 1}, calls
    stored = MessageRecord.get(keys.user_pk("alice"), message.sk, consistent_read=True)
    assert list(stored.mentions) == ["bob", "carol"]
    assert mention_seqs("bob") == {message.seq} and mention_seqs("carol") == {message.seq}
    assert selectors.user_room_get(user_id="dave", room_id="art") is None  # the refused ADD made nothing
    # The live event carries them too, so a live fragment links them like the page.
    live_messages, _ = live.query_events("art", message.created_ms - 1)
    assert live_messages[0].mentions == ("bob", "carol")
    # And the activity feed tells each member's open tabs (an `n-` event in their user's shard).
    for user_id in ("bob", "carol", "dave"):
        events = [activity.Activity.from_record(r) for r in
                  selectors.activity_since(shard=activity.shard_of(user_id), since=message.created_at)]
        mentioned = [e for e in events if e.kind == activity.MENTION and e.user_id == user_id]
        assert [(e.room_id, e.seq, e.message_id) for e in mentioned] == (
            [] if user_id == "dave" else [("art", message.seq, message.message_id)]), user_id


def test_a_message_without_mentions_costs_what_it_did(members):
    with count_calls() as calls:
        result = say(members, "no one in particular, mail bob@example.com")
    assert dict(calls) == {"UpdateItem": 2, "BatchWriteItem": 1}, calls
    assert result.message.mentions == () and result.not_notified == ()


def test_mentioning_yourself_notifies_nobody_and_says_nothing(members):
    result = say(members, "note to @alice: me", author="alice")
    assert result.message.mentions == () and result.not_notified == ()


def test_in_a_private_room_an_existing_non_member_and_an_unknown_name_get_the_same_answer(client, moto_tables):
    services.room_create(name="Art", created_by="alice", kind="private")
    ensure_user_item("dave")  # exists, not invited
    sign_in(client, "alice")
    page = client.get("/rooms/art/")
    notes = []
    for name in ("dave", "nosuchperson"):
        response = client.post("/rooms/art/messages", {"comment": f"hi @{name}", "idempotency_key": validators.new_token()},
                               **HX)
        assert response.status_code == 200
        note = re.search(r'<p class="composer-note">(.*?)</p>', response.content.decode()).group(1)
        notes.append(note.replace(name, "NAME"))
    assert notes[0] == notes[1] == "@NAME was not notified: not a member of this room."
    assert page.status_code == 200
    assert list(selectors.user_mentions(user_id="dave").items) == []


def test_without_javascript_the_sender_is_told_on_the_next_page(client, members):
    sign_in(client, "alice")
    response = client.post("/rooms/art/messages", {"comment": "@dave @nobody1 @bob", "idempotency_key":
                                                   validators.new_token()}, follow=True)
    assert "@dave and @nobody1 were not notified: not members of this room." in response.content.decode()


def test_past_ten_people_the_rest_are_told_not_notified(members):
    text = "@bob " + " ".join(f"@user{n:02d}" for n in range(11))
    result = say(members, text)
    assert result.message.mentions == ("bob",)
    assert len(result.not_notified) == 9 and result.too_many == ("user09", "user10")


def test_a_retried_post_notifies_nobody_twice(members):
    key = validators.new_token()
    first = services.message_post(room=members, author=request_user("alice"), comment="hi @bob", idempotency_key=key)
    with count_calls() as calls:
        again = services.message_post(room=members, author=request_user("alice"), comment="hi @bob",
                                      idempotency_key=key)
    assert again.duplicate and again.message.sk == first.message.sk
    assert "BatchWriteItem" not in calls and mention_seqs("bob") == {first.message.seq}


# --- rendering -------------------------------------------------------------------------------------


def test_mentions_render_as_links_to_the_persons_page_and_unknown_names_as_text(client, members):
    say(members, "hi @Bob, @dave and @room: see https://example.com/@carol")
    sign_in(client, "carol")
    page = client.get("/rooms/art/").content.decode()
    li = re.search(r'<li class="message"[^>]*>.*?</li>', page, re.S).group(0)
    assert 'data-mentions="bob"' in li and "data-mentions-room" in li
    assert '<a class="mention" href="/u/bob/" data-user="bob">@Bob</a>' in li
    assert "@dave and" in li and 'href="/u/dave/"' not in li  # not notified: plain text
    assert '<span class="mention mention-room">@room</span>' in li
    assert 'href="https://example.com/@carol"' in li  # a URL stays one link


def test_the_html_is_the_same_for_every_viewer(client, members):
    say(members, "hi @bob")
    pages = []
    for name in ("bob", "carol"):
        sign_in(client, name)
        page = client.get("/rooms/art/").content.decode()
        pages.append(re.search(r'<div class="comment">.*?</div>', page, re.S).group(0))
    assert pages[0] == pages[1]


# --- @room -----------------------------------------------------------------------------------------


def _fill(room, count: int):
    for n in range(count):
        services.membership_add(room=room, user_id=f"member{n:02d}", display_name=f"M {n}", read_seq=0)


def test_over_twenty_members_only_the_owner_may_use_at_room(client, room):
    _fill(room, 20)  # + alice, the owner: 21 members
    sign_in(client, "member00")
    page = client.get("/rooms/art/")
    response = client.post("/rooms/art/messages", {"comment": "@room lunch?", "idempotency_key": composer_key(page)},
                           **HX)
    assert response.status_code == 400
    assert "Only the room&#x27;s owner can use @room in a room of more than 20 members" in response.content.decode()
    assert selectors.room_history(room_id="art").items == []  # nothing posted, no Seq taken
    assert selectors.room_seq(room_id="art") == 0
    with count_calls() as calls:
        assert say(room, "@room lunch?", author="alice").message.seq == 1  # the owner: no count read
    assert "Query" not in calls


def test_up_to_twenty_members_anyone_may_use_at_room_for_one_counting_query(room):
    _fill(room, 19)  # + alice: 20
    with count_calls() as calls:
        say(room, "@room lunch?", author="member03")
    assert calls["Query"] == 1, calls


# --- the sidebar and pruning ------------------------------------------------------------------------


def test_the_sidebar_says_how_many_unread_mentions_inside_the_entry(client, members):
    say(members, "hi @bob")
    say(members, "plain")
    say(members, "again @bob")
    sign_in(client, "bob")
    selectors.clear_seq_cache()
    page = client.get("/direct/new/").content.decode()
    assert link_text(entry_html(page, "art")) == "Art, 3 unread, 2 mentions"
    sign_in(client, "carol")
    assert link_text(entry_html(client.get("/direct/new/").content.decode(), "art")) == "Art, 3 unread"


def test_reading_past_a_mention_prunes_it_with_one_more_update_only_then(members):
    first = say(members, "hi @bob").message
    second = say(members, "plain").message
    third = say(members, "again @bob").message
    with count_calls() as calls:
        assert services.read_cursor_advance(user_id="bob", room_id="art", seq=second.seq, pos=second.sk)
    assert calls["UpdateItem"] == 2, calls  # the advance, and the DELETE of the mention now read
    assert mention_seqs("bob") == {third.seq}
    entry = selectors.user_room_get(user_id="bob", room_id="art")
    assert entry.mentions == 1 and entry.mentions_label == "1 mention"
    with count_calls() as calls:  # carol was never mentioned: nothing to prune
        assert services.read_cursor_advance(user_id="carol", room_id="art", seq=third.seq, pos=third.sk)
    assert calls["UpdateItem"] == 1, calls
    services.read_cursor_advance(user_id="bob", room_id="art", seq=third.seq, pos=third.sk)
    assert mention_seqs("bob") == set() and first.seq < third.seq


def test_mark_as_unread_brings_pruned_mentions_back(members):
    other = services.room_create(name="Other", created_by="alice")
    services.room_join(room=other, user=request_user("bob"))
    say(other, "elsewhere @bob")  # another room's mention: not restored into Art
    first = say(members, "plain").message
    mention = say(members, "hi @bob").message
    last = say(members, "again @bob").message
    services.read_cursor_advance(user_id="bob", room_id="art", seq=last.seq, pos=last.sk)
    assert mention_seqs("bob") == set()  # read: pruned
    with count_calls() as calls:
        services.message_mark_unread(user_id="bob", room_id="art", author_id="alice", sk=mention.sk)
    assert mention_seqs("bob") == {mention.seq, last.seq}
    assert calls["Query"] == 1 and calls["UpdateItem"] == 2, calls  # the move, then the ADD
    services.message_mark_unread(user_id="bob", room_id="art", author_id="alice", sk=last.sk)
    assert mention_seqs("bob") == {mention.seq, last.seq} and first.seq < mention.seq  # nothing removed


# --- the Mentions page ------------------------------------------------------------------------------


def test_the_mentions_page_lists_newest_first_from_one_query(client, members, settings):
    settings.CHAT_MENTION_PAGE_SIZE = 20
    texts = [f"@bob number {n:02d}" for n in range(25)]
    for text in texts:
        say(members, text)
    sign_in(client, "bob")
    client.get("/rooms/art/")  # warm: the user and the rooms' Seq
    with count_calls() as calls:
        response = client.get("/mentions/")
    assert response.status_code == 200
    # The session, the user with the sidebar, and ONE Query of the mentions (unread counts cached).
    assert dict(calls) == {"Query": 3}, calls
    page = response.content.decode()
    shown = re.findall(r"@bob number (\d\d)", page)
    assert shown == [f"{n:02d}" for n in range(24, 4, -1)]  # the 20 newest, newest first
    assert '<a href="/mentions/">Mentions</a>' in page  # the header link
    older = re.search(r'<a href="\?after=([^"]+)">Older mentions</a>', page).group(1)
    rest = client.get(f"/mentions/?after={older}").content.decode()
    assert re.findall(r"@bob number (\d\d)", rest) == [f"{n:02d}" for n in range(4, -1, -1)]
    assert "Older mentions" not in rest


def test_mention_links_open_the_room_at_that_message(client, members):
    for n in range(60):
        say(members, f"filler {n:02d}")
    target = say(members, "look @bob").message
    for n in range(60):
        say(members, f"later {n:02d}")
    sign_in(client, "bob")
    mentions_page = client.get("/mentions/").content.decode()
    link = re.search(r'<p class="mention-excerpt"><a href="([^"]+)">look @bob</a>', mentions_page).group(1)
    assert link.endswith(f"#m-{target.message_id}")
    page = client.get(link.replace("&amp;", "&").split("#")[0]).content.decode()
    assert f'data-target="m-{target.message_id}"' in page
    ids = re.findall(r'<li class="message" id="m-([^"]+)"', page)
    # The page around it: 10 messages before it, then it and the 49 after; not the newest.
    assert target.message_id in ids and "filler 59" in page and "later 40" in page
    assert "filler 00" not in page and "later 59" not in page
    assert 'id="new-messages"' not in page  # no New messages line at a linked message


@pytest.mark.parametrize("at", ["nonsense", "2026-13-45T00:00:00.000Z#abc", "2026-01-01T00:00:00.000Z#",
                                "2026-01-01T00:00:00.000Z#bad id!", "x" * 5000])
def test_a_bad_at_is_the_400_page(client, room, at):
    response = client.get("/rooms/art/", {"at": at})
    assert response.status_code == 400 and "broken" in response.content.decode()


def test_mentions_in_a_private_room_you_left_are_not_listed_and_cursors_are_yours(client, moto_tables):
    secret = services.room_create(name="Secret", created_by="alice", kind="private")
    ensure_user_item("bob")
    services.room_invite(room=secret, username="bob")
    open_room = services.room_create(name="Open", created_by="alice")
    services.room_join(room=open_room, user=request_user("bob"))
    say(secret, "@bob secret plans")
    say(open_room, "@bob open plans")
    services.membership_remove(room_id="secret", user_id="bob")
    sign_in(client, "bob")
    page = client.get("/mentions/").content.decode()
    assert "open plans" in page and "secret plans" not in page
    cursor = selectors.user_mentions(user_id="alice", limit=1).next_cursor or "x"
    assert client.get("/mentions/", {"after": cursor}).status_code == 400


def test_signed_out_the_mentions_page_asks_to_sign_in(client, moto_tables):
    response = client.get("/mentions/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/?next=/mentions/")


# --- the composer's suggestions ----------------------------------------------------------------------


def test_suggestions_are_members_matching_username_or_display_name(client, room):
    services.membership_add(room=room, user_id="bobby", display_name="Robert Tables", read_seq=0)
    services.membership_add(room=room, user_id="carol", display_name="Carol Bob", read_seq=0)
    services.membership_add(room=room, user_id="dave", display_name="Dave", read_seq=0)
    sign_in(client, "alice")
    response = client.get("/rooms/art/members/suggest", {"q": "bo"})
    assert response.status_code == 200
    options = re.findall(r'<li role="option" id="mention-option-\d+"[^>]*data-username="([^"]+)"', response.content.decode())
    assert options == ["bobby", "carol"]  # username "bo…", display name "… Bob"
    assert 'aria-selected="false"' in response.content.decode()
    assert "Robert Tables" in response.content.decode()


def test_suggestions_are_bounded_and_cached_for_a_few_seconds(client, room):
    _fill(room, 30)
    sign_in(client, "alice")
    client.get("/rooms/art/members/suggest", {"q": "m"})
    with count_calls() as calls:
        response = client.get("/rooms/art/members/suggest", {"q": "mem"})
    assert response.content.decode().count('role="option"') == 8
    assert dict(calls) == {"Query": 1}, calls  # the session only: the member list is cached


def test_suggestions_need_access_like_posting(client, moto_tables):
    services.room_create(name="Secret", created_by="alice", kind="private")
    assert client.get("/rooms/secret/members/suggest", {"q": "a"}).status_code == 404  # signed out, private
    services.room_create(name="Open", created_by="alice")
    assert client.get("/rooms/open/members/suggest", {"q": "a"}).status_code == 403  # signed out
    sign_in(client, "mallory")
    assert client.get("/rooms/secret/members/suggest", {"q": "a"}).status_code == 404  # not a member
