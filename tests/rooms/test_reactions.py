"""Reactions on moto: services.reaction_set sets one person's emoji on or off (the state wanted, so
a repeat writes nothing), costs GetItem + conditional UpdateItem + the `u-` PutItem (1 call when
nothing changes), loses no reaction to a race, keeps its bounds (20 distinct emoji, the JSON's
bytes), and refuses a deleted message, another room's message and anything but one emoji."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError

from chatsite import keys
from chatsite.dynamodb import count_calls
from rooms import selectors, services, validators
from rooms.models import MessageRecord, Reaction
from tests.support.sessions import request_user

ALICE, BOB, CHEN = request_user("alice"), request_user("bob"), request_user("chen")


def post(room, text="hello", author=ALICE):
    return services.message_post(room=room, author=author, comment=text,
                                 idempotency_key=validators.new_token()).message


def react(room, message, user, emoji="👍", on=True):
    return services.reaction_set(room=room, user=user, author_id=message.author_id, sk=message.sk, emoji=emoji, on=on)


def stored(message) -> MessageRecord:
    return MessageRecord.get(keys.user_pk(message.author_id), message.sk, consistent_read=True)


# --- on, off, and the same again -------------------------------------------------------------------


def test_a_reaction_on_then_off_costs_four_calls_each(room):
    message = post(room)
    with count_calls() as calls:
        reacted = react(room, message, BOB)
    # GetItem, UpdateItem (the change limit), UpdateItem (the reactions), PutItem (u- event).
    assert dict(calls) == {"GetItem": 1, "UpdateItem": 2, "PutItem": 1}, calls
    assert reacted.reactions == (Reaction("👍", (("bob", "Bob"),)),) and reacted.version == 1
    assert json.loads(stored(message).reactions) == [["👍", [["bob", "Bob"]]]]

    with count_calls() as calls:
        removed = react(room, message, BOB, on=False)
    assert dict(calls) == {"GetItem": 1, "UpdateItem": 2, "PutItem": 1}, calls
    assert removed.reactions == () and removed.version == 2
    assert stored(message).reactions is None  # the attribute goes when the last reaction does
    assert selectors.message_get(author_id="alice", sk=message.sk).comment == "hello"


def test_asking_for_the_state_it_is_in_writes_nothing(room):
    """A double click or a retried request sends the same desired state: one GetItem, no write, no
    new version, the count unchanged."""
    message = post(room)
    react(room, message, BOB)
    with count_calls() as calls:
        again = react(room, message, BOB)
    assert dict(calls) == {"GetItem": 1}, calls
    assert again.version == 1 and again.reactions[0].count == 1
    with count_calls() as calls:
        assert react(room, message, CHEN, on=False).version == 1  # never reacted: nothing to take back
    assert dict(calls) == {"GetItem": 1}, calls
    assert stored(message).version == 1


def test_order_names_and_labels(room):
    message = post(room)
    react(room, message, BOB, "🎉")
    react(room, message, ALICE, "👍")
    react(room, message, CHEN, "🎉")
    react(room, message, ALICE, "🎉")
    current = react(room, message, ALICE, "👍", on=False)  # 👍 has nobody left: it goes
    assert [r.emoji for r in current.reactions] == ["🎉"]
    (party,) = current.reactions
    assert party.label == "🎉 3: Bob, Chen and Alice" and party.has("chen") and not party.has("dan")
    many = post(room, "popular")
    for n, name in enumerate(["Alice", "Bob", "Chen", "Dan", "Eve", "Fay", "Gus", "Hal", "Ida", "Jo", "Kim", "Lu"]):
        user = request_user(name.lower())
        latest = react(room, many, user)
    assert latest.reactions[0].label == "👍 12: Alice, Bob, Chen and 9 others"
    assert latest.version == 12


def test_an_emoji_typed_without_vs16_is_the_same_reaction(room):
    message = post(room)
    react(room, message, BOB, "❤️")
    current = react(room, message, CHEN, "❤")
    assert [(r.emoji, r.count) for r in current.reactions] == [("❤️", 2)]


# --- races ---------------------------------------------------------------------------------------


def _competing(monkeypatch, times: int):
    """Between reaction_set's read and its write, someone else reacts (a real write that moves the
    Version), ``times`` times."""
    real = selectors.message_get
    left = [times]

    def racing(**kwargs):
        message = real(**kwargs)
        if left[0] and message is not None:
            left[0] -= 1
            other = request_user(f"racer{left[0]}")
            record = MessageRecord(keys.user_pk(message.author_id), message.sk)
            current = json.loads(stored(message).reactions or "[]")
            current.append([f"{'🔥🚀🌟'[left[0] % 3]}", [[other.id, other.display_name]]])
            record.update(actions=[MessageRecord.reactions.set(json.dumps(current, ensure_ascii=False)),
                                   MessageRecord.version.add(1)])
        return message

    monkeypatch.setattr(selectors, "message_get", racing)


def test_a_lost_race_reads_again_and_keeps_the_other_reaction(room, monkeypatch):
    message = post(room)
    _competing(monkeypatch, times=1)
    with count_calls() as calls:
        current = react(room, message, BOB)
    # The competitor's UpdateItem is counted too: ours are 2 GetItems, 3 UpdateItems (the change
    # limit once, the reactions twice), 1 PutItem.
    assert dict(calls) == {"GetItem": 2 + 1, "UpdateItem": 3 + 1, "PutItem": 1}, calls
    assert [r.emoji for r in current.reactions] == ["🔥", "👍"] and current.version == 2
    assert [r[0] for r in json.loads(stored(message).reactions)] == ["🔥", "👍"]


def test_a_message_changing_under_every_attempt_is_a_clear_try_again(room, monkeypatch):
    message = post(room)
    _competing(monkeypatch, times=services.REACTION_ATTEMPTS)
    with pytest.raises(services.ReactionConflict):
        react(room, message, BOB)
    assert all(r[1][0][0].startswith("racer") for r in json.loads(stored(message).reactions))


# --- bounds ------------------------------------------------------------------------------------------

TWENTY_ONE = ["👍", "❤️", "😂", "🎉", "😮", "😢", "🙏", "👀", "🔥", "🚀", "🌟", "✅", "💯", "🤔", "😍", "👏", "🙌",
              "🥳", "😎", "🤝", "🍕"]


def _seed_reactions(message, rows) -> None:
    MessageRecord(keys.user_pk(message.author_id), message.sk).update(
        actions=[MessageRecord.reactions.set(json.dumps(rows, ensure_ascii=False, separators=(",", ":"))),
                 MessageRecord.version.add(1)])


def test_a_twenty_first_distinct_emoji_is_refused_and_the_twenty_still_take_more(room):
    message = post(room)
    _seed_reactions(message, [[e, [["bob", "Bob"]]] for e in TWENTY_ONE[:19]])
    assert len(react(room, message, BOB, TWENTY_ONE[19]).reactions) == services.MAX_REACTIONS
    with count_calls() as calls, pytest.raises(services.ReactionsFull) as refused:
        react(room, message, CHEN, TWENTY_ONE[20])
    assert dict(calls) == {"GetItem": 1}, calls
    assert refused.value.messages == ["This message has 20 different reactions already, the most it can have: "
                                      "add yours to one of them."]
    assert react(room, message, CHEN, TWENTY_ONE[0]).reactions[0].count == 2  # an existing one: fine
    assert len(react(room, message, BOB, TWENTY_ONE[5], on=False).reactions) == 19  # and one fewer
    assert len(react(room, message, CHEN, TWENTY_ONE[20]).reactions) == 20


def test_the_reactions_json_is_capped_in_bytes_and_removing_is_never_refused(room, settings):
    message = post(room, "😀" * settings.CHAT_MESSAGE_MAX_LENGTH)  # the longest text: 16,000 bytes
    # People with long names, close to the default 16 KB: one more long name is refused.
    _seed_reactions(message, [["👍", [[f"user{n:03d}", "N" * 60] for n in range(200)]]])
    assert 15_000 < len(stored(message).reactions.encode()) < settings.CHAT_REACTIONS_MAX_BYTES == 16_384
    heavy = request_user("heavy")
    heavy.display_name = "H" * 1500
    with count_calls() as calls, pytest.raises(services.ReactionsFull) as refused:
        react(room, message, heavy)
    assert dict(calls) == {"GetItem": 1}, calls
    assert refused.value.messages == ["This message has as many reactions as it can hold."]
    assert react(room, message, request_user("ann")).reactions[0].count == 201  # a short name still fits
    settings.CHAT_REACTIONS_MAX_BYTES = 100  # now far over: taking one back still works
    assert react(room, message, request_user("user000"), on=False).reactions[0].count == 200
    # What the bounds buy: the fullest item is a small fraction of DynamoDB's 400 KB.
    item = stored(message).serialize()
    assert len(json.dumps(item, ensure_ascii=False).encode()) < 40_000


# --- refusals ----------------------------------------------------------------------------------------


def test_a_deleted_message_is_not_found(room):
    message = post(room)
    services.message_delete(room_id="art", actor=ALICE, author_id="alice", sk=message.sk)
    with count_calls() as calls, pytest.raises(services.MessageNotFound):
        react(room, message, BOB)
    assert dict(calls) == {"GetItem": 1}, calls
    with pytest.raises(MessageRecord.DoesNotExist):  # nothing was made where it was
        stored(message)


def test_a_message_of_another_room_is_not_found(room):
    other = services.room_create(name="Other", created_by="alice")
    message = post(other)
    with pytest.raises(services.MessageNotFound):
        react(room, message, BOB)
    assert stored(message).reactions is None


def test_a_malformed_key_is_not_found_without_a_call(room):
    with count_calls() as calls, pytest.raises(services.MessageNotFound):
        services.reaction_set(room=room, user=BOB, author_id="alice", sk="not-a-key", emoji="👍", on=True)
    assert dict(calls) == {}


@pytest.mark.parametrize("text, words", [
    ("", "Choose an emoji to react with."),
    ("   ", "Choose an emoji to react with."),
    ("ok", "“ok” is not an emoji. React with one emoji, such as 👍."),
    ("a", "“a” is not an emoji."),
    ("1", "“1” is not an emoji."),
    ("<b>", "“<b>” is not an emoji."),
    ("👍👍", "React with one emoji at a time: “👍👍” is 2."),
    ("👍 🎉", "“👍 🎉” is not an emoji."),
    ("🇫", "is not an emoji"),  # half a flag
    ("👍\u200d", "is not an emoji"),  # a joiner with nothing after it
    ("\u200d👍", "is not an emoji"),
    ("❤🏻", "is not an emoji"),  # a skin tone on an emoji that takes none
    ("🏻", "is not an emoji"),  # a skin tone alone
    ("\ufe0f", "is not an emoji"),
    ("👍\ufe0e", "is not an emoji"),  # text presentation
    ("#", "is not an emoji"),  # a keycap base without its keycap
    ("x" * 200, "“xxxxxxxxxxxx…” is not an emoji."),
    ("👍" * 30, "React with one emoji at a time"),
    ("🏴\U000e0067\U000e0062", "is not an emoji"),  # a tag flag without its CANCEL TAG
])
def test_anything_but_one_emoji_is_refused_and_says_why(room, text, words):
    message = post(room)
    with count_calls() as calls, pytest.raises(ValidationError) as refused:
        react(room, message, BOB, text)
    assert words in refused.value.messages[0]
    assert dict(calls) == {}


@pytest.mark.parametrize("text, stored_as", [
    ("👍", "👍"),
    (" 👍 ", "👍"),
    ("❤", "❤\ufe0f"),  # fully qualified
    ("❤️", "❤️"),
    ("👍🏽", "👍🏽"),  # skin tone
    ("👩‍💻", "👩‍💻"),  # ZWJ sequence
    ("🏳‍🌈", "🏳️‍🌈"),  # ... its VS16 added
    ("👨‍👩‍👧‍👦", "👨‍👩‍👧‍👦"),
    ("🧑🏻‍🤝‍🧑🏼", "🧑🏻‍🤝‍🧑🏼"),
    ("👩🏻‍❤️‍💋‍👨🏼", "👩🏻‍❤️‍💋‍👨🏼"),
    ("🇫🇷", "🇫🇷"),  # flag
    ("🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f", "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"),
    ("#⃣", "#\ufe0f⃣"),  # keycap
    ("1️⃣", "1️⃣"),
    ("\U0001fae8", "\U0001fae8"),  # newer than Python's own Unicode tables (shaking face, Unicode 15)
])
def test_one_emoji_of_every_shape_is_accepted(text, stored_as):
    assert validators.clean_reaction(text) == stored_as
