"""Direct conversations (moto): one id per set of people, made by one conditional put so concurrent
starts meet in one room; memberships for everyone, repaired by the next start after a crash; the
bad inputs (yourself, too many, unknown names, duplicates); private like a private room; the
user page's Message button and the New message form with its People field; budgets."""

from __future__ import annotations

import re
import threading
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from chatsite.dynamodb import count_calls
from rooms import room_tail, selectors, services, validators
from rooms.models import DIRECT, RoomRecord
from tests.rooms.test_private_rooms import every_url, watermark
from tests.rooms.test_views import HX
from tests.support.sessions import request_user, sign_in
from tests.support.users import ensure_user_item

NAMES = {"alice": "Alice Moreau", "bob": "Bob Okafor", "carol": "Carol", "dave": "Dave"}


@pytest.fixture
def people(moto_tables):
    for user_id, name in NAMES.items():
        ensure_user_item(user_id, display_name=name)
    return {user_id: request_user(user_id) for user_id in NAMES}


def starter(user_id: str):
    user = request_user(user_id)
    return type(user)(id=user.id, username=user.username, display_name=NAMES[user_id])


def sidebar(user_id: str) -> dict[str, tuple[str, str]]:
    return {r.room_id: (r.name, r.kind) for r in selectors.user_rooms(user_id=user_id)}


# --- the id ---------------------------------------------------------------------------------------------


def test_the_id_comes_from_the_sorted_people_and_fits_a_room_address():
    room_id = validators.direct_room_id(["bob", "alice"])
    assert room_id == validators.direct_room_id(["alice", "bob", "alice"])
    assert room_id != validators.direct_room_id(["alice", "bob", "carol"])
    assert room_id.startswith("dm-") and validators.is_room_id(room_id) and len(room_id) <= 48


def test_no_room_name_can_take_a_direct_conversations_id():
    room_id = validators.direct_room_id(["alice", "bob"])
    with pytest.raises(ValidationError, match="kept for direct messages"):
        validators.clean_room_name(room_id.replace("-", " "))
    assert validators.clean_room_name("Dmitri's room")[1] == "dmitri-s-room"  # only the dm- prefix


def test_people_are_split_on_commas_and_spaces_and_each_counted_once():
    assert validators.parse_people(" @Bob, carol  bob,,BOB\ncarol dave ") == ["Bob", "carol", "dave"]


# --- starting -----------------------------------------------------------------------------------------


def test_a_one_to_one_conversation_is_made_once_and_named_after_the_other_person(people):
    with count_calls() as creating:
        room_id = services.direct_start(starter=starter("alice"), usernames=["bob"])
    room = selectors.room_get(room_id=room_id)
    assert room.kind == DIRECT and room_id == validators.direct_room_id(["alice", "bob"])
    assert sidebar("alice") == {room_id: ("Bob Okafor", "direct")}
    assert sidebar("bob") == {room_id: ("Alice Moreau", "direct")}
    assert [(m.user_id, m.role) for m in selectors.all_room_members(room_id=room_id)] == [("alice", "member"),
                                                                                          ("bob", "member")]
    # 1 + 2 per participant writes; reads: the finished-check GetItem and the people's BatchGetItem
    assert creating == {"GetItem": 1, "BatchGetItem": 1, "PutItem": 5}, creating
    with count_calls() as opening:
        assert services.direct_start(starter=starter("bob"), usernames=["alice"]) == room_id
    assert opening == {"GetItem": 1}, opening  # an existing conversation: one read
    assert len(list(selectors.all_room_members(room_id=room_id))) == 2


def test_a_group_conversation_names_the_others_for_each_person(people):
    room_id = services.direct_start(starter=starter("carol"), usernames=["alice", "bob", "dave"])
    assert sidebar("carol")[room_id] == ("Alice Moreau, Bob Okafor, Dave", "direct")
    assert sidebar("alice")[room_id] == ("Bob Okafor, Carol, Dave", "direct")
    assert services.direct_start(starter=starter("dave"), usernames=["bob", "carol", "alice", "dave"]) == room_id
    assert room_id != services.direct_start(starter=starter("carol"), usernames=["alice", "bob"])


def test_concurrent_starts_end_in_one_conversation_with_everyone_a_member(people):
    results, errors = [], []
    barrier = threading.Barrier(8)

    def start(user_id, others):
        barrier.wait()
        try:
            results.append(services.direct_start(starter=starter(user_id), usernames=others))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    group = ["alice", "bob", "carol"]
    threads = [threading.Thread(target=start, args=(group[n % 3], [u for u in group if u != group[n % 3]]))
               for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(set(results)) == 1 and len(results) == 8
    room_id = results[0]
    assert len(list(RoomRecord.query(f"Room:{room_id}", RoomRecord.SK == "meta"))) == 1
    assert [m.user_id for m in selectors.all_room_members(room_id=room_id)] == group
    for user_id in group:
        assert sidebar(user_id)[room_id][1] == DIRECT


def test_a_start_that_died_after_the_room_put_is_repaired_by_the_next_start(people, monkeypatch):
    real_add = services.membership_add
    calls = []

    def dies_after_the_first_membership(**kwargs):
        calls.append(kwargs["user_id"])
        if len(calls) == 2:
            raise ConnectionError("the process died")
        return real_add(**kwargs)

    monkeypatch.setattr(services, "membership_add", dies_after_the_first_membership)
    with pytest.raises(ConnectionError):
        services.direct_start(starter=starter("bob"), usernames=["alice"])
    room_id = validators.direct_room_id(["alice", "bob"])
    assert selectors.room_get(room_id=room_id).kind == DIRECT
    assert set(sidebar("alice")) == {room_id} and sidebar("bob") == {}  # half-written: bob has no access yet
    monkeypatch.setattr(services, "membership_add", real_add)
    # alice (who has it in her sidebar) starting again completes it, as bob would
    assert services.direct_start(starter=starter("alice"), usernames=["bob"]) == room_id
    assert sidebar("bob") == {room_id: ("Alice Moreau", "direct")}
    assert [m.user_id for m in selectors.all_room_members(room_id=room_id)] == ["alice", "bob"]


# --- bad input -----------------------------------------------------------------------------------------


def test_a_conversation_with_only_yourself_is_refused_clearly(people):
    for names in ([], ["alice"], ["Alice", "alice"]):
        with pytest.raises(ValidationError, match="Add at least one other person") as refused:
            services.direct_start(starter=starter("alice"), usernames=names)
        assert refused.value.code == "self"
    assert sidebar("alice") == {}


def test_more_than_eight_people_is_refused_clearly(people):
    names = [f"user{n}" for n in range(8)]  # 8 others + alice = 9
    with count_calls() as calls:
        with pytest.raises(ValidationError, match="at most 8 people: you and 7 others. You listed 8 others"):
            services.direct_start(starter=starter("alice"), usernames=names)
    assert sum(calls.values()) == 0  # refused before any read


def test_eight_people_are_allowed(people):
    for n in range(7):
        ensure_user_item(f"user{n}")
    room_id = services.direct_start(starter=starter("alice"), usernames=[f"user{n}" for n in range(7)])
    assert len(list(selectors.all_room_members(room_id=room_id))) == 8


def test_unknown_and_impossible_usernames_are_named_and_nothing_is_written(people):
    with pytest.raises(ValidationError) as refused:
        services.direct_start(starter=starter("alice"), usernames=["bob", "zoe", "no#body", "carol"])
    assert refused.value.code == "unknown" and "“no#body”" in refused.value.messages[0]
    with pytest.raises(ValidationError) as refused:
        services.direct_start(starter=starter("alice"), usernames=["bob", "zoe", "yann"])
    assert "There is no user named “zoe”, “yann”." in refused.value.messages[0]
    assert sidebar("alice") == {} and sidebar("bob") == {}
    with pytest.raises(selectors.RoomNotFound):
        selectors.room_get(room_id=validators.direct_room_id(["alice", "bob", "zoe", "yann"]))


def test_a_deactivated_user_is_refused_like_an_unknown_one(people):
    from accounts import services as account_services

    account_services.user_set_active(user_id="dave", active=False)
    with pytest.raises(ValidationError, match="no user named “Dave”"):
        services.direct_start(starter=starter("alice"), usernames=["Dave"])


def test_duplicates_are_one_person(people):
    room_id = services.direct_start(starter=starter("alice"), usernames=["bob", "BOB", "bob", "alice"])
    assert room_id == validators.direct_room_id(["alice", "bob"])


def test_a_conversation_being_deleted_is_not_reopened(people):
    room_id = services.direct_start(starter=starter("alice"), usernames=["bob"])
    services.room_close(room_id=room_id)
    services.membership_remove(room_id=room_id, user_id="bob")  # as room_delete's sweep does
    with pytest.raises(services.DirectUnavailable):
        services.direct_start(starter=starter("alice"), usernames=["bob"])


# --- private in every sense, fixed people ---------------------------------------------------------------


@pytest.fixture
def conversation(people):
    return services.direct_start(starter=starter("alice"), usernames=["bob"])


@pytest.mark.parametrize("who", ["anonymous", "signed-in outsider"])
def test_every_url_of_a_direct_conversation_answers_an_outsider_as_a_missing_room(client, conversation, who,
                                                                                 settings):
    settings.CHAT_HISTORY_PAGE_SIZE = 2
    room = selectors.room_get(room_id=conversation)
    for n in range(3):
        services.message_post(room=room, author=starter("alice"), comment=f"secret {n}",
                              idempotency_key=validators.new_token())
    sign_in(client, "bob", display_name=NAMES["bob"])
    # Read up to date, so the page is the newest one with "load older" (it opens at the first
    # unread message otherwise).
    services.mark_all_read(user_id="bob", rooms=selectors.user_rooms(user_id="bob"))
    page = client.get(f"/rooms/{conversation}/").content.decode()
    w = watermark(page)
    cursor = re.search(r'\?before=([^"]+)"', page).group(1)
    client.cookies.clear()
    if who != "anonymous":
        sign_in(client, "carol")
    for (method, url, data, extra), (_, missing_url, _, _) in zip(every_url(conversation, w=w, cursor=cursor),
                                                                    every_url("dm-0", w=w, cursor=cursor)):
        if "/updates?w=" in url and url.endswith(w):
            continue  # a valid grant is a bearer token for its lifetime (tests/rooms/test_private_rooms.py)
        response = getattr(client, method)(url, data, **extra)
        missing = getattr(client, method)(missing_url, data, **extra)
        assert (response.status_code, response.content) == (missing.status_code, missing.content), (method, url)
        assert response.status_code == 404, (method, url)
    assert [m.user_id for m in selectors.all_room_members(room_id=conversation)] == ["alice", "bob"]


def test_participants_cannot_leave_invite_or_remove_and_nobody_joins(client, conversation):
    sign_in(client, "alice", display_name=NAMES["alice"])
    body = client.get(f"/rooms/{conversation}/").content.decode()
    assert "Leave room" not in body and "Invite by username" not in body and "Join room" not in body
    assert client.post(f"/rooms/{conversation}/leave").status_code == 400
    assert client.post(f"/rooms/{conversation}/invite", {"username": "carol"}).status_code == 400
    assert client.post(f"/rooms/{conversation}/members/remove", {"user": "bob"}).status_code == 400
    assert client.post(f"/rooms/{conversation}/join").status_code == 302  # a member's join: a quiet no-op
    assert [m.user_id for m in selectors.all_room_members(room_id=conversation)] == ["alice", "bob"]
    with pytest.raises(services.MembershipFixed):
        services.room_join(room=selectors.room_get(room_id=conversation), user=starter("carol"))


def test_the_conversation_page_is_three_calls_and_both_people_post_to_it(client, conversation):
    for n in range(30):
        services.room_create(name=f"Room {n:02d}", created_by="bob")
    sign_in(client, "bob", display_name=NAMES["bob"])
    client.get(f"/rooms/{conversation}/")
    room_tail.clear_tails()  # the history from DynamoDB, not a fresh tail (test_room_page_call_budget.py)
    with count_calls() as calls:
        response = client.get(f"/rooms/{conversation}/")
    assert response.status_code == 200 and dict(calls) == {"Query": 3}, calls
    key = re.search(r'name="idempotency_key" value="([^"]+)"', response.content.decode()).group(1)
    assert client.post(f"/rooms/{conversation}/messages", {"comment": "hi alice", "idempotency_key": key},
                       **HX).status_code == 200
    assert [m.comment for m in selectors.room_history(room_id=conversation).items] == ["hi alice"]
    entry = next(r for r in response.context["your_rooms"] if r.room_id == conversation)
    assert entry.name == "Alice Moreau" and entry.kind == DIRECT
    assert '<h1 id="room-heading">Alice Moreau</h1>' in response.content.decode()  # the other person's name


# --- the user page and the New message form -------------------------------------------------------------


def test_the_user_page_has_a_message_button_that_opens_the_conversation(client, people):
    sign_in(client, "alice", display_name=NAMES["alice"])
    response = client.get("/u/Bob/")
    body = response.content.decode()
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    assert "Bob Okafor" in body and "@bob" in body
    assert re.search(r'<form method="post" action="/direct/new/"[^>]*>\s*<input type="hidden" '
                     r'name="csrfmiddlewaretoken"[^>]*><input type="hidden" name="people" value="bob">\s*'
                     r'<button type="submit">Message</button>', body)
    response = client.post("/direct/new/", {"people": "bob"})
    room_id = validators.direct_room_id(["alice", "bob"])
    assert response.status_code == 302 and response["Location"] == f"/rooms/{room_id}/"
    with count_calls() as calls:  # again: the session, then one GetItem
        assert client.post("/direct/new/", {"people": "bob"})["Location"] == f"/rooms/{room_id}/"
    assert calls == {"Query": 1, "GetItem": 1}, calls
    assert "Bob Okafor" in client.get(f"/rooms/{room_id}/").content.decode()


def test_your_own_page_has_no_message_button_and_unknown_people_are_404(client, people):
    sign_in(client, "alice", display_name=NAMES["alice"])
    assert ">Message<" not in client.get("/u/alice/").content.decode()
    assert client.get("/u/zoe/").status_code == 404
    assert client.get("/u/no%23body/").status_code == 404
    assert client.get("/u/" + "x" * 300 + "/").status_code == 404


def test_signed_out_visitors_are_asked_to_sign_in_for_user_pages_and_new_messages(client, people):
    for response in (client.get("/u/bob/"), client.get("/direct/new/"), client.post("/direct/new/", {"people": "bob"})):
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert selectors.user_rooms(user_id="bob") == []


def test_message_authors_link_to_their_user_page_and_the_sidebar_offers_new_message(client, conversation):
    room = selectors.room_get(room_id=conversation)
    services.message_post(room=room, author=starter("bob"), comment="hello", idempotency_key=validators.new_token())
    sign_in(client, "alice", display_name=NAMES["alice"])
    body = client.get(f"/rooms/{conversation}/").content.decode()
    assert '<a class="author-link" href="/u/bob/"><span class="author">Bob Okafor</span></a>' in body
    assert 'action="/direct/new/"' in body and ">New message</button>" in body


def test_the_new_message_form_starts_a_group_and_explains_bad_input(client, people):
    sign_in(client, "alice", display_name=NAMES["alice"])
    body = client.get("/direct/new/").content.decode()
    assert '<label for="id_people">People</label>' in body
    response = client.post("/direct/new/", {"people": "bob, carol dave bob"})
    assert response["Location"] == f"/rooms/{validators.direct_room_id(['alice', 'bob', 'carol', 'dave'])}/"
    for typed, message in [("alice", "Add at least one other person"),
                           ("zoe, bob, yann", "There is no user named “zoe”, “yann”."),
                           (" ".join(f"u{n}" for n in range(8)), "at most 8 people"),
                           ("", "This field is required.")]:
        response = client.post("/direct/new/", {"people": typed})
        assert response.status_code == 400 and message in response.content.decode(), typed
        assert 'value="' + typed + '"' in response.content.decode() or not typed  # what was typed is kept


# --- admin -------------------------------------------------------------------------------------------


def test_list_members_and_export_room_work_on_a_direct_conversation(people, tmp_path):
    room_id = services.direct_start(starter=starter("alice"), usernames=["bob"])
    out = StringIO()
    call_command("list_members", room_id, stdout=out)
    assert "alice" in out.getvalue() and "bob" in out.getvalue()
    path = tmp_path / "dm.json"
    call_command("export_room", room_id, "--output", str(path), stdout=StringIO())
    assert '"kind": "direct"' in path.read_text()
    with pytest.raises(CommandError, match="not public or private"):  # its people are not in the export
        call_command("import_room", str(path), "--room", "copy", stdout=StringIO())


def test_a_deleted_conversation_leaves_both_sidebars_and_starts_afresh(people):
    room_id = services.direct_start(starter=starter("alice"), usernames=["bob"])
    services.room_delete(room_id=room_id, sleep=lambda seconds: None)
    assert sidebar("alice") == {} and sidebar("bob") == {}
    assert services.direct_start(starter=starter("bob"), usernames=["alice"]) == room_id
    assert sidebar("alice") == {room_id: ("Bob Okafor", "direct")}
