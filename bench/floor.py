"""The floor: the room page as fast as this Django stack can serve it.

The same middleware, the same template and the same context builder as rooms.views.room_detail,
but the room, its 50 messages and the user's 50-room sidebar (the rooms bench/seed.py makes every
user a member of, same names, ids and kinds) come from memory: no DynamoDB call at all (the bench
middleware's header proves it on every response). The room page's throughput is reported as a
ratio of this.

Requested without a session cookie (loading a session is a DynamoDB read); the view then renders
as a signed-in member who doesn't own the room (like most of the load's users), so the page has
the composer, the sidebar and delete buttons like the real one.
"""

from __future__ import annotations

import functools

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.auth import SessionUser
from bench import data
from chatsite import keys, pagination
from chatsite.pagination import Page
from rooms import views as room_views
from rooms.forms import MessageForm
from rooms.models import ChatMessage, Room, UserRoom
from rooms.timestamps import iso_from_ms, now_ms
from rooms.validators import clean_room_name, new_token

AUTHORS = 40


@functools.cache
def _your_rooms() -> list[UserRoom]:
    joined_at = iso_from_ms(now_ms() - 86_400_000)
    entries = [UserRoom(room_id=clean_room_name(name)[1], name=name, kind=kind, role="member", joined_at=joined_at)
               for name, kind in data.sidebar_rooms()]
    return sorted(entries, key=lambda r: (r.name.casefold(), r.room_id))  # as rooms.selectors.user_rooms


@functools.cache
def _room_and_history() -> tuple[Room, Page]:
    name, room_id = clean_room_name(data.SMALL_ROOM)
    room = Room(room_id=room_id, name=name, description="benchmark: small room",
                created_by=data.username(0), created_at=iso_from_ms(now_ms() - 86_400_000))
    newest = now_ms() - 60_000
    messages = []
    for i in range(settings.CHAT_HISTORY_PAGE_SIZE):
        created_at = iso_from_ms(newest - 5_000 * i)
        message_id = f"floor{i:015d}"
        messages.append(ChatMessage(room_id=room.room_id, author_id=data.username(i % AUTHORS),
                                    sk=keys.message_sk(created_at, message_id), message_id=message_id,
                                    created_at=created_at, author_name=data.display_name(i % AUTHORS),
                                    comment=data.comment_text(i)))
    messages.sort(key=lambda m: m.order)
    oldest = messages[0]
    cursor = pagination.encode({"PK": {"S": keys.user_pk(oldest.author_id)}, "SK": {"S": oldest.sk},
                                "RoomID": {"S": room.room_id}, "CreatedAt": {"S": oldest.created_at}},
                               purpose="history", scope=room.room_id)
    return room, Page(items=messages, next_cursor=cursor)


@require_GET
def room_page_floor(request: HttpRequest) -> HttpResponse:
    request.user = SessionUser(id=data.username(1), username=data.username(1),
                               display_name=data.display_name(1), is_staff=False)
    room, history = _room_and_history()
    form = MessageForm(initial={"idempotency_key": new_token(), "join": False})  # a member: no join
    return render(request, "rooms/room.html",
                  room_views._room_page(request, room, _your_rooms(), history, now_ms(), form, latest=True))
