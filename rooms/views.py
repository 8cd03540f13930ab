"""Rooms, messages and live updates over HTTP. Thin: parse, call one service or selector, render.

A plain request gets a page (or a redirect); an HTMX request gets a fragment, and the server says
where the rest goes: out-of-band swaps and HX-Retarget/HX-Reswap (docs/live-updates.md, "The browser").
"""

from __future__ import annotations

import re
from dataclasses import replace

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib import messages as flash
from django.core.exceptions import BadRequest, PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.template import loader
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST, require_safe
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRefresh, push_url, reswap, retarget
from django_htmx.middleware import HtmxDetails

from accounts import selectors as user_selectors
from accounts.auth import redirect_to_sign_in
from accounts.middleware import session_still_signs_in
from accounts.request_info import client_ip
from accounts.user_cache import user_cache
from accounts.validators import validate_username
from chatsite import dynamodb, keys
from chatsite.pagination import InvalidCursor
from rooms import (activity, live, mentions, permissions, presence, room_tail, search, selectors, services, streams,
                   validators)
from rooms.forms import (DeleteForm, DirectForm, InviteForm, MessageForm, NotificationsForm, RemoveMemberForm,
                         RoomForm, RoomSettingsForm)
from rooms.forms import EditForm
from rooms.models import DIRECT, PRIVATE, PUBLIC, Room, UserRoom, message_url
from rooms.timestamps import ms_from_iso, now_ms


class HtmxHttpRequest(HttpRequest):  # django-htmx's documented typing pattern
    htmx: HtmxDetails


MAX_SEEN_REFS = 400


def _room_or_404(room_id: str) -> Room:
    try:
        return selectors.room_get(room_id=room_id)
    except selectors.RoomNotFound:
        raise Http404("No such room") from None


# To anyone who is not a member, a private room answers exactly as a room id never created: the
# same 404 (this one exception, so the same page), from the same reads. Pages that show the sidebar
# read the user's rooms for every room kind and decide from that list; requests without a sidebar
# (posting, deleting, renewing a live grant, join, leave, invite, remove, settings) read the session
# first, whatever the room, then the user's one membership item for a non-public room, where a
# never-created id reads the room item instead. The room itself comes from the per-process room
# cache, which never holds a missing id: docs/data-model.md ("Private rooms") lists what differs.


def _signed_in_sidebar(request) -> list[UserRoom] | None:
    """The signed-in user's rooms (the sidebar) with their unread counts, or None: _signed_in_rooms,
    then the counts: selectors.with_unread (1 BatchGetItem per 100 rooms whose Seq this process has
    not read in the last CHAT_ROOM_SEQ_CACHE_SECONDS, nor the activity feed kept: SeqFeed)."""
    your_rooms = _signed_in_rooms(request)
    if your_rooms is None:
        return None
    activity.keep_seqs_for_pages()  # the activity feed keeps the rooms' Seqs current: no read of them
    return selectors.with_unread(your_rooms)


def _signed_in_rooms(request) -> list[UserRoom] | None:
    """The signed-in user's rooms without unread counts, or None. Call before request.user is first
    used: the user item comes in the same Query (selectors.user_with_rooms) and request.user is
    built from it (user_cache.read_through), checked as always, so the user costs no read of its own."""
    user_id = request.session.get(SESSION_KEY)
    your_rooms = None
    if user_id:
        your_rooms = user_cache.read_through(str(user_id), lambda: selectors.user_with_rooms(user_id=str(user_id)))
    if not request.user.is_authenticated:
        return None
    return your_rooms


def _sidebar_of(user) -> list[UserRoom]:
    """The sidebar with unread counts where a request has not read it already (one Query, then
    selectors.with_unread)."""
    return selectors.with_unread(selectors.user_rooms(user_id=user.id))


def _readable_room(request, room_id: str) -> tuple[Room, list[UserRoom] | None]:
    """The room and, for a signed-in user, their rooms (one Query, made before the room is looked
    up so a missing room costs the same). 404 for a room the user may not read."""
    your_rooms = _signed_in_sidebar(request)
    # A member's sidebar entry carries the room (services.membership_add), so their page reads no
    # room record even with a cold room cache; everyone else reads (or the cache holds) the room.
    entry = next((r for r in your_rooms or () if r.room_id == room_id), None)
    room = (entry.as_room() if entry else None) or _room_or_404(room_id)
    if not room.is_public and not any(r.room_id == room.room_id for r in your_rooms or ()):
        raise Http404("No such room")
    return room, your_rooms


def _member_room(request, room_id: str) -> Room:
    """The room, for a request without the sidebar: a non-public room is 404 unless the signed-in
    user has it among their rooms (one consistent GetItem)."""
    # The session is read before the room: else a missing room (404 at once) would skip the read
    # that a private room's membership check makes.
    signed_in = request.user.is_authenticated
    room = _room_or_404(room_id)
    if not room.is_public and not (signed_in
                                   and selectors.user_room_get(user_id=request.user.id, room_id=room.room_id)):
        raise Http404("No such room")
    return room


def _room_url(room: Room) -> str:
    return reverse("rooms:room", args=[room.room_id])


# A page of the room to come back to: the room page or one of its thread views, with their query.
_RETURN_TAIL = re.compile(r"(?:threads/[A-Za-z0-9_-]{16,64}/)?(?:\?[A-Za-z0-9_.~%&=+/:-]{0,1500})?")


def _return_to(request, room: Room) -> str:
    """``next`` (the form's, or the edit link's) when it is a page of this room (the thread view a
    plain form came from): a path of this site only, checked strictly; else ""."""
    target = str(request.POST.get("next") or request.GET.get("next") or "")
    room_url = _room_url(room)
    if (target.startswith(room_url) and _RETURN_TAIL.fullmatch(target, len(room_url))
            and url_has_allowed_host_and_scheme(target, allowed_hosts=None)):
        return target
    return ""


# --- rooms ----------------------------------------------------------------------------------


@require_http_methods(["GET", "HEAD", "POST"])
def room_list(request: HtmxHttpRequest) -> HttpResponse:
    status = 200
    form = RoomForm()
    if request.method == "POST":
        if not request.user.is_authenticated:
            return redirect_to_sign_in(request, reverse("rooms:list"))
        form = RoomForm(request.POST)
        status = 400
        if form.is_valid():
            try:
                services.room_create_reserve(user_id=request.user.id)
                room = services.room_create(name=form.cleaned_data["name"],
                                            description=form.cleaned_data["description"],
                                            created_by=request.user.id,
                                            created_by_name=request.user.display_name or request.user.username,
                                            kind=PRIVATE if form.cleaned_data["private"] else PUBLIC)
            except services.RoomExists as exc:
                if exc.room.is_public:
                    form.add_error("name", f"There is already a room at /rooms/{exc.room.room_id}/ "
                                           f"(“{exc.room.name}”). Choose another name, or join that one.")
                else:  # ids are unique, so the name is taken; say no more about a room the user may not see
                    form.add_error("name", "This name is taken. Choose another name.")
            except services.RoomBeingDeleted:
                form.add_error("name", "A room with this name is being deleted. Try again in a minute, "
                                       "or choose another name.")
            except services.RateLimited as exc:
                minutes = max(1, -(-exc.retry_after // 60))
                form.add_error(None, f"You have created a lot of rooms lately. Try again in {minutes} "
                                     f"minute{'s' if minutes != 1 else ''}: what you typed is kept.")
                status = 429
            else:
                return redirect(_room_url(room))
    try:
        page = selectors.room_list(cursor=request.GET.get("after") or None)
    except InvalidCursor:
        raise BadRequest("That page link is broken or out of date.") from None
    return render(request, "rooms/room_list.html", {"page": page, "form": form}, status=status)


@require_safe  # HEAD too: answered like GET, and the server sends no body
def room_detail(request: HtmxHttpRequest, room_id: str) -> HttpResponse:
    room, your_rooms = _readable_room(request, room_id)
    before = request.GET.get("before") or None
    after = request.GET.get("after") or None  # "load newer", from a page around the read cursor
    at = request.GET.get("at") or None  # a message's SK: the page around it (its permanent link: ChatMessage.permalink)
    entry = next((r for r in your_rooms or () if r.room_id == room.room_id), None)
    watermark = now_ms()  # taken before the query: the page holds everything visible at this time
    target = linked = None
    try:
        if before:
            history = selectors.room_history(room_id=room.room_id, cursor=before)
        elif after:
            history = selectors.room_history_newer(room_id=room.room_id, cursor=after)
        elif at:
            history, target, linked = _history_at(room, at)
        elif entry and entry.unread and entry.read_pos:  # open at the first unread message
            from_memory = room_tail.room_page_around(room, entry.read_pos, entry.unread, sent_ms=_sent_ms(request))
            if from_memory:
                history, watermark = from_memory
            else:
                history = selectors.room_history_around(room_id=room.room_id, read_pos=entry.read_pos)
        else:  # the newest messages: from this process's tail of the room (docs/live-updates.md)
            history, watermark = room_tail.room_newest_page(room, sent_ms=_sent_ms(request))
    except InvalidCursor:
        raise BadRequest(f"That “load {'older' if before else 'newer'}” link is broken or out of date.") from None
    if request.htmx and before:  # the older messages, and the next "load older" link out of band
        return render(request, "rooms/_older.html", {"room": room, "history": history})
    if request.htmx and after:  # the newer messages, and the next "load newer" link out of band
        return render(request, "rooms/_newer.html", {"room": room, "history": history})
    form = MessageForm(initial={"idempotency_key": validators.new_token(), "join": entry is None})
    # A newer page that reaches the newest message is live, like the room's own page.
    latest = before is None and not (after and history.newer_cursor)
    context = _room_page(request, room, your_rooms, history, watermark, form, latest=latest)
    context["target"] = target
    context["linked"] = linked  # the linked message's DOM id when it is on the page (highlighted)
    context["linked_missing"] = bool(at) and not (before or after) and linked is None
    return render(request, "rooms/room.html", context)


def _sent_ms(request) -> int | None:
    """``sent``: when the reader's own write (a post, a deletion) was done, on the redirect after a
    plain form; the page then shows it, whichever process serves it. Ignored when malformed."""
    value = request.GET.get("sent", "")
    sent = int(value) if value.isdigit() and len(value) <= 15 else None
    # A time from the future is no write of this reader's: it would make every page read.
    return sent if sent is not None and sent <= now_ms() + int(settings.CHAT_LIVE_OVERLAP_SECONDS * 1000) else None


def _after_write(url: str) -> str:
    """The room page after the reader's own write, saying when it was done (``_sent_ms``)."""
    path, _, fragment = url.partition("#")
    return f"{path}?sent={now_ms()}" + (f"#{fragment}" if fragment else "")


AT_CONTEXT = 10  # messages shown above the one a link points at


def _history_at(room: Room, at: str) -> tuple[selectors.HistoryPage, str | None, str | None]:
    """The page around the message whose SK is ``at`` (a permanent link, ChatMessage.permalink: the
    same two Queries as the page around a read cursor, without its New messages line, whatever the
    room's size), the DOM id to scroll to, and the linked message's DOM id, None when it is no
    longer there (deleted, or not in this room): the page then opens at the first message from its
    time and says so. 400 for a value that is not a message SK."""
    created_at, message_id = keys.message_sk_parts(at)
    try:
        ms_from_iso(created_at)
    except ValueError:
        message_id = ""
    if not validators.is_token(message_id) or len(at) > 100:
        raise BadRequest("That link to a message is broken: its “at” is not a message's position.")
    history = selectors.room_history_around(room_id=room.room_id, read_pos=keys.read_pos_before(created_at),
                                            context=AT_CONTEXT)
    linked = f"m-{message_id}"
    if any(m.dom_id == linked for m in history.items):
        return replace(history, first_unread=None), linked, linked
    # Gone: open where it was, at the first message from its time (else the newest before it).
    after = [m for m in history.items if m.created_at >= created_at] or history.items[-1:]
    return replace(history, first_unread=None), after[0].dom_id if after else None, None


def _room_page(request, room: Room, your_rooms: list[UserRoom] | None, history: selectors.Page, watermark: int,
               form: MessageForm, *, latest: bool) -> dict:
    entry = next((r for r in your_rooms or () if r.room_id == room.room_id), None)
    is_member = entry is not None
    if room.kind == DIRECT:  # each person sees it under the other people's names, as in their sidebar
        room = next((replace(room, name=r.name) for r in your_rooms or () if r.room_id == room.room_id), room)
    return {"room": room, "history": history, "watermark": live.watermark_for(room, watermark),
            "form": form, "latest": latest,
            "poll_seconds": settings.CHAT_LIVE_POLL_SECONDS,
            "overlap_ms": int(settings.CHAT_LIVE_OVERLAP_SECONDS * 1000),
            "heartbeat_ms": int(settings.CHAT_LIVE_HEARTBEAT_SECONDS * 1000),  # a silent stream: buffered
            # The layout's sidebar (templates/rooms/_sidebar.html) and the membership controls.
            "your_rooms": your_rooms, "current_room_id": room.room_id, "is_member": is_member,
            "read_seq": (entry.read_seq or 0) if entry else 0,  # static/js/chat/read.js writes only past it
            "can_manage": is_member and permissions.may_manage_room(request.user, room),
            "can_join": request.user.is_authenticated and not is_member and room.is_public,
            "can_invite": is_member and room.kind != DIRECT,
            "invite_form": InviteForm(),
            # The member's notification setting (the stored one, else the room kind's default).
            **(_notify_context(entry) if entry else {}),
            # Here now and the typing line, from this process's feed (no DynamoDB call).
            **(presence.page_context(room.room_id, viewer=request.user if request.user.is_authenticated else None,
                                     viewer_is_member=is_member) if latest else {})}


def _notify_context(entry: UserRoom) -> dict:
    level = entry.notify_level
    return {"notify_form": NotificationsForm(initial={"notify": level}),
            "notify_label": dict(NotificationsForm.CHOICES)[level]}


# --- membership -----------------------------------------------------------------------------------


def _back_to_room(room: Room) -> HttpResponse:
    return redirect(_room_url(room))


@require_POST
def room_join(request: HtmxHttpRequest, room_id: str) -> HttpResponse:
    room = _member_room(request, room_id)  # a private room: 404 for non-members, a quiet no-op for members
    if not request.user.is_authenticated:
        return redirect_to_sign_in(request, _room_url(room))
    if room.is_public:
        if services.room_join(room=room, user=request.user):
            flash.success(request, f"You joined {room.name}.")
        else:
            flash.info(request, f"You are already in {room.name}.")
    return _back_to_room(room)


@require_POST
def room_leave(request: HtmxHttpRequest, room_id: str) -> HttpResponse:
    room = _member_room(request, room_id)
    if not request.user.is_authenticated:
        return redirect_to_sign_in(request, _room_url(room))
    if room.kind == DIRECT:
        raise BadRequest("A direct conversation can't be left.")
    if services.room_leave(room=room, user=request.user):
        flash.success(request, f"You left {room.name}.")
    else:
        flash.info(request, f"You were not in {room.name}.")
    if room.is_public:
        return _back_to_room(room)
    return redirect("rooms:list")  # a private room is out of reach now


@require_POST
def room_invite(request: HtmxHttpRequest, room_id: str) -> HttpResponse:
    room = _member_room(request, room_id)
    if not request.user.is_authenticated:
        return redirect_to_sign_in(request, _room_url(room))
    if room.is_public and selectors.user_room_get(user_id=request.user.id, room_id=room.room_id) is None:
        raise PermissionDenied("Join the room to invite people to it.")
    form = InviteForm(request.POST)
    username = str(request.POST.get("username", "")).strip()
    if not username:
        flash.error(request, "Type the username of the person to invite.")
        return _back_to_room(room)
    try:
        if not form.is_valid():  # longer than the form allows: no username is that long
            raise services.NoSuchUser(username)
        member = services.room_invite(room=room, username=form.cleaned_data["username"])
    except services.NoSuchUser:
        shown = username if len(username) <= 60 else username[:59] + "…"
        flash.error(request, f"There is no user named “{shown}”. Check the spelling: it is the name they sign "
                             f"in with.")
    except services.AlreadyMember as exc:
        flash.info(request, f"{exc} is already a member of {room.name}.")
    except services.MembershipFixed:
        raise BadRequest("A direct conversation's people can't change.") from None
    else:
        flash.success(request, f"{member.display_name} can now read and post in {room.name}.")
    return _back_to_room(room)


@require_safe
def room_members(request: HtmxHttpRequest, room_id: str) -> HttpResponse:
    """The member list (one Query page), with Remove buttons and the room's settings for its owner."""
    room, your_rooms = _readable_room(request, room_id)
    try:
        members = selectors.room_members(room_id=room.room_id, cursor=request.GET.get("after") or None)
    except InvalidCursor:
        raise BadRequest("That page link is broken or out of date.") from None
    is_member = any(r.room_id == room.room_id for r in your_rooms or ())
    can_manage = is_member and permissions.may_manage_room(request.user, room)
    return render(request, "rooms/members.html", {
        "room": room, "members": members, "your_rooms": your_rooms, "current_room_id": room.room_id,
        "is_member": is_member, "can_manage": can_manage,
        "room_form": RoomSettingsForm(initial={"name": room.name, "description": room.description}),
        "can_invite": is_member and room.kind != DIRECT, "invite_form": InviteForm()})


@require_POST
def member_remove(request: HtmxHttpRequest, room_id: str) -> HttpResponse:
    room = _member_room(request, room_id)
    if not request.user.is_authenticated:
        return redirect_to_sign_in(request, _room_url(room))
    form = RemoveMemberForm(request.POST)
    if not form.is_valid():
        raise BadRequest("Which member? The remove form is incomplete.")
    user_id = form.cleaned_data["user"]
    try:
        removed = services.member_remove(room=room, actor=request.user, user_id=user_id)
    except services.MembershipFixed:
        raise BadRequest("A direct conversation's people can't change.") from None
    if removed:
        flash.success(request, f"{user_id} was removed from {room.name}.")
    else:
        flash.info(request, f"{user_id} was not a member of {room.name}.")
    if user_id == request.user.id and not room.is_public:
        return redirect("rooms:list")
    return redirect("rooms:members", room.room_id)


@require_POST
def room_edit(request: HtmxHttpRequest, room_id: str) -> HttpResponse:
    room = _member_room(request, room_id)
    if not request.user.is_authenticated:
        return redirect_to_sign_in(request, _room_url(room))
    if not permissions.may_manage_room(request.user, room):
        raise PermissionDenied("Only the room's owner can change its name or description.")
    form = RoomSettingsForm(request.POST)
    if form.is_valid():
        try:
            services.room_update(room=room, actor=request.user, name=form.cleaned_data["name"],
                                 description=form.cleaned_data["description"])
        except services.MembershipFixed:
            raise BadRequest("A direct conversation can't be renamed.") from None
        except selectors.RoomNotFound:
            raise Http404("No such room") from None
        flash.success(request, "Room settings saved.")
        return redirect("rooms:members", room.room_id)
    your_rooms = _sidebar_of(request.user)
    members = selectors.room_members(room_id=room.room_id)
    return render(request, "rooms/members.html", {
        "room": room, "members": members, "your_rooms": your_rooms, "current_room_id": room.room_id,
        "is_member": True, "can_manage": True, "room_form": form,
        "can_invite": room.kind != DIRECT, "invite_form": InviteForm()}, status=400)


# --- messages -------------------------------------------------------------------------------


@require_POST
def message_post(request: HtmxHttpRequest, room_id: str) -> HttpResponse:
    room = _member_room(request, room_id)
    if not request.user.is_authenticated:
        return redirect_to_sign_in(request, _room_url(room))
    form = MessageForm(request.POST)
    if not form.is_valid():
        if "idempotency_key" in form.errors:  # re-render with a usable key; the text stays
            form.data = form.data.copy()
            form.data["idempotency_key"] = validators.new_token()
        return _composer_failed(request, room, form, status=400)
    try:
        reply_to = services.parse_reply_to(form.cleaned_data["reply_to"]) if form.cleaned_data["reply_to"] else None
        result = services.message_post(room=room, author=request.user, comment=form.cleaned_data["comment"],
                                       idempotency_key=form.cleaned_data["idempotency_key"], reply_to=reply_to)
    except services.ReplyTargetNotFound:  # gone, or another room's: nothing was posted
        return _reply_refused(request, room, form)
    except services.RateLimited as exc:
        form.add_error(None, f"You are sending messages too fast. Wait {exc.retry_after} seconds, then send "
                             f"again: your text is kept.")
        response = _composer_failed(request, room, form, status=429)
        response["Retry-After"] = str(exc.retry_after)
        return response
    except services.IdempotencyKeyUsedElsewhere as exc:  # the text stays; a fresh key to send it with
        form.add_error("idempotency_key", exc)
        form.data = form.data.copy()
        form.data["idempotency_key"] = validators.new_token()
        return _composer_failed(request, room, form, status=400)
    except ValidationError as exc:  # @room where the sender may not use it: nothing was posted
        form.add_error("comment", exc)
        return _composer_failed(request, room, form, status=400)
    except services.MessageNotFound:  # a retry of a post that was since deleted: nothing to show
        result = None
    except selectors.RoomNotFound:  # deleted while this process still had it cached
        raise Http404("No such room") from None
    # Posting in a public room joins it. Only when the page said "not a member" (the composer's
    # `join` field): a member's post stays at its four calls; this costs two conditional PutItems
    # once (membership_add), and a member who already joined elsewhere is left as they are.
    joined = False
    if form.cleaned_data["join"] and room.is_public:
        # Their read cursor starts at their own message: what came before it counts as read.
        services.room_join(room=room, user=request.user, read_seq=result.message.seq if result else None)
        joined = True
    note = _not_notified_note(result) if result else ""
    if not request.htmx:
        if note:
            flash.info(request, note)
        # Without the page's JavaScript nothing reports reading: posting marks the room read up to
        # this message (+ 1 UpdateItem), so the page it goes back to opens at the newest messages.
        if result and result.message.seq and not result.duplicate:
            services.read_cursor_advance(user_id=request.user.id, room_id=room.room_id, seq=result.message.seq,
                                         pos=result.message.sk)
        if result and result.message.thread_id and reply_to:  # from the thread view: back to it
            return redirect(reverse("rooms:thread", args=[room.room_id, result.message.thread_id])
                            + f"#{result.message.dom_id}")
        return redirect(_after_write(_room_url(room) + "#latest"))
    # The message for the page to merge (static/js/chat/merge.js); out of band, the composer's
    # fresh key and cleared errors, and after a join the sidebar and the membership controls, from a
    # fresh read of the user's rooms (one Query, on this first post only) so the join shows at once.
    context = {"room": room, "message": result.message if result else None,
               "form": MessageForm(initial={"idempotency_key": validators.new_token()}), "joined": joined,
               "not_notified": note, "thread_root": result.thread_root if result else None, "now": now_ms()}
    if joined:
        your_rooms = _sidebar_of(request.user)
        is_member = any(r.room_id == room.room_id for r in your_rooms)
        context.update({"your_rooms": your_rooms, "current_room_id": room.room_id, "is_member": is_member,
                        "can_join": not is_member, "can_invite": is_member, "invite_form": InviteForm(),
                        "can_manage": is_member and permissions.may_manage_room(request.user, room)})
    return render(request, "rooms/_posted.html", context)


def _reply_refused(request, room: Room, form: MessageForm) -> HttpResponse:
    """A reply to a message that is not in this room (deleted, or another room's): 400, the text
    kept and the composer out of reply mode, so sending again posts it as a plain message."""
    form.add_error(None, "The message you replied to is not in this room: it may have been deleted. Your text "
                         "is kept: send it again to post it without the reply.")
    form.data = form.data.copy()
    form.data["reply_to"] = ""
    if request.htmx:
        response = render(request, "rooms/_reply_refused.html", {"form": form}, status=400)
        return reswap(retarget(response, "#composer-errors"), "innerHTML")
    return _composer_failed(request, room, form, status=400)


def _names(names) -> str:
    quoted = [f"@{name}" for name in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def _not_notified_note(result: services.PostResult) -> str:
    """What the sender is told about mentions that reached nobody. An unknown name and a
    non-member get the same words: the note must not tell who has an account."""
    notes = []
    if result.not_notified:
        several = len(result.not_notified) > 1
        notes.append(f"{_names(result.not_notified)} {'were' if several else 'was'} not notified: "
                     f"{'not members' if several else 'not a member'} of this room.")
    if result.too_many:
        notes.append(f"{_names(result.too_many)} {'were' if len(result.too_many) > 1 else 'was'} not notified: "
                     f"a message notifies at most {mentions.MAX_MENTIONS} people.")
    return " ".join(notes)


def _composer_failed(request, room: Room, form: MessageForm, *, status: int) -> HttpResponse:
    """HTMX: the errors, swapped into the composer's error box (which the htmx config lets 400 and
    429 answers do), with a renewed key out of band; the composer still holds the text.
    Plain POST: the room page again, the composer filled in, the errors inline."""
    if request.htmx:
        response = render(request, "rooms/_composer_errors.html", {"form": form, "oob": True}, status=status)
        return reswap(retarget(response, "#composer-errors"), "innerHTML")
    your_rooms = _sidebar_of(request.user)
    watermark = now_ms()
    history = selectors.room_history(room_id=room.room_id)
    return render(request, "rooms/room.html", _room_page(request, room, your_rooms, history, watermark, form,
                                                         latest=True), status=status)


@require_safe
def thread_detail(request: HtmxHttpRequest, room_id: str, message_id: str) -> HttpResponse:
    """A thread: its root, then every reply in order, each with its permanent link, and for members
    a composer replying to the root (a plain form: it comes back here). The session, the sidebar
    Query (with its unread counts) and ONE Query of the `thread_messages` index
    (selectors.thread_messages, a signed cursor for the next page). 404, as a missing room, when
    the room may not be read or no message of that thread is in it.

    The Reply and "N replies" links name the thread's root by ``author`` and ``sk``: a message with
    no reply yet is in no thread, and the index is eventually consistent, so just after the first
    reply it may hold neither the root nor the reply. When the first page lacks the root, the view
    reads it (+ 1 GetItem) and shows it, saying its replies are on their way while fewer are listed
    than it counts."""
    room, your_rooms = _readable_room(request, room_id)
    if not validators.is_token(message_id):
        raise Http404("No such thread")
    after = request.GET.get("after") or None
    try:
        page = selectors.thread_messages(thread_id=message_id, cursor=after)
    except InvalidCursor:
        raise BadRequest("That page link is broken or out of date.") from None
    items = page.items
    root = items[0] if items and items[0].message_id == message_id else None
    if root is None and not after:
        root = _named_root(request, message_id)
        items = [root, *items] if root else items
    if not items or any(m.room_id != room.room_id for m in items):
        raise Http404("No such thread")
    # The root counts its replies at once; the index shows them a moment later.
    replies_pending = bool(root and not after and not page.next_cursor and len(items) - 1 < (root.reply_count or 0))
    # Later pages have no root in them: the first page's links carry its key for the composer.
    root_key = f"{root.author_id}/{root.sk}" if root else str(request.GET.get("root", ""))[:200]
    try:
        services.parse_reply_to(root_key)
    except services.ReplyTargetNotFound:
        root_key = ""
    is_member = any(r.room_id == room.room_id for r in your_rooms or ())
    form = MessageForm(initial={"idempotency_key": validators.new_token(), "reply_to": root_key})
    return render(request, "rooms/thread.html", {
        "room": room, "root": root, "messages": items, "page": page, "root_key": root_key, "form": form,
        "is_member": is_member, "your_rooms": your_rooms, "current_room_id": room.room_id,
        "thread_id": message_id, "later": bool(after), "replies_pending": replies_pending})


def _named_root(request, message_id: str):
    """The root the link names (``author``, ``sk``), when the index has not given it: GetItem.
    None when the link names none, or a message that is gone or is itself a reply."""
    try:
        author_id, sk = services.parse_reply_to(f"{request.GET.get('author', '')}/{request.GET.get('sk', '')}")
    except services.ReplyTargetNotFound:
        return None
    if keys.message_sk_parts(sk)[1] != message_id:
        return None
    message = selectors.message_get(author_id=author_id, sk=sk)
    return message if message is not None and message.reply_to is None else None


@require_POST
def message_delete(request: HtmxHttpRequest, room_id: str) -> HttpResponse:
    room = _member_room(request, room_id)
    if not request.user.is_authenticated:
        return redirect_to_sign_in(request, _room_url(room))
    form = DeleteForm(request.POST)
    if not form.is_valid():
        raise BadRequest("Which message? The delete form is incomplete.")
    try:
        services.message_delete(room_id=room.room_id, actor=request.user, author_id=form.cleaned_data["author"],
                                sk=form.cleaned_data["sk"])
        note = "Message deleted."
    except services.MessageNotFound:
        note = "That message was already deleted."
    if request.htmx:
        return HttpResponse(note, content_type="text/plain")
    flash.success(request, note)
    back = _return_to(request, room)
    if back.startswith(f"{_room_url(room)}threads/{keys.message_sk_parts(form.cleaned_data['sk'])[1]}/"):
        back = ""  # the thread view of the message just deleted: nothing is left there to show
    return redirect(back or _after_write(_room_url(room) + "#latest"))


# --- editing --------------------------------------------------------------------------------------


def _edit_target(request) -> tuple[str, str]:
    """``author`` and ``sk`` of the message to edit (the link's query, or the form's fields)."""
    form = DeleteForm(request.POST if request.method == "POST" else request.GET)
    if not form.is_valid():
        raise BadRequest("Which message? The edit link is incomplete.")
    return form.cleaned_data["author"], form.cleaned_data["sk"]


@require_http_methods(["GET", "HEAD", "POST"])
def message_edit(request: HtmxHttpRequest, room_id: str) -> HttpResponse:
    """**Edit** a message. GET: the form (a page without JavaScript; HTMX: the fragment
    static/js/chat/edit.js puts in place of the text), holding the raw text and the EditVersion
    seen. POST: services.message_edit; then HTMX gets the message as an update (merge.js replaces
    it), a plain form goes back to the message (or to ``next``, the thread view it came from:
    _return_to). Refusals are the form or a note with a clear
    answer: 400 bad text (kept), 403 someone else's message or the edit window is over, 404 the
    message is gone, 429 changing messages too fast (the text kept; Retry-After), 409 changed
    meanwhile (the current text shown, the user's kept, the form now against the current version:
    saving again replaces it on purpose)."""
    room = _member_room(request, room_id)
    if not request.user.is_authenticated:
        return redirect_to_sign_in(request, None if request.method != "POST" else _room_url(room))
    author_id, sk = _edit_target(request)
    if request.method != "POST":
        message = selectors.message_get(author_id=author_id, sk=sk) if validators.is_token(
            keys.message_sk_parts(sk)[1]) else None
        if message is None or message.room_id != room.room_id:
            return _edit_answer(request, room, None, note="That message was deleted.", status=404)
        refusal = _edit_refusal(request.user, message)
        if refusal:
            return _edit_answer(request, room, message, note=refusal, status=403)
        form = EditForm(initial={"author": author_id, "sk": sk, "version": message.edit_version,
                                 "comment": message.comment})
        return _edit_answer(request, room, message, form=form)
    form = EditForm(request.POST)
    if not form.is_valid():  # the hidden fields: the text itself is the service's to check
        raise BadRequest("This edit form is out of date: reload the page and edit again.")
    try:
        message = services.message_edit(room=room, actor=request.user, author_id=author_id, sk=sk,
                                        comment=form.cleaned_data["comment"],
                                        seen_version=form.cleaned_data["version"])
    except services.EditConflict as exc:
        form = _edit_form_at(form, exc.current)
        return _edit_answer(request, room, exc.current, form=form, current=exc.current, status=409,
                            note="This message was changed meanwhile. It now says what is shown below; your "
                                 "text is kept. Save to replace it with yours, or cancel.")
    except services.ChangingTooFast as exc:  # nothing written: the form again, the text kept
        response = _edit_answer(request, room, exc.current, form=form, status=429,
                                note=f"{_changing_too_fast(exc)} Your text is kept.")
        response["Retry-After"] = str(exc.retry_after)
        return response
    except services.EditWindowClosed as exc:
        return _edit_answer(request, room, None, note=str(exc.args[0]), status=403)
    except PermissionDenied:
        return _edit_answer(request, room, None, note="You can edit only your own messages.", status=403)
    except services.MessageNotFound:
        return _edit_answer(request, room, None, note="That message was deleted.", status=404)
    except ValidationError as exc:
        form.add_error("comment", exc)
        message = selectors.message_get(author_id=author_id, sk=sk)
        if message is None or message.room_id != room.room_id:
            return _edit_answer(request, room, None, note="That message was deleted.", status=404)
        return _edit_answer(request, room, message, form=form, status=400)
    if request.htmx:
        return render(request, "rooms/_edited.html", {"message": message, "update_at": now_ms(), "room": room})
    flash.success(request, "Message edited.")
    back = _return_to(request, room)
    return redirect(f"{back}#{message.dom_id}" if back else message.permalink)


def _changing_too_fast(exc: services.ChangingTooFast) -> str:
    seconds = f"{exc.retry_after} second{'s' if exc.retry_after != 1 else ''}"
    return f"You're changing messages too fast; try again in {seconds}."


def _edit_refusal(user, message) -> str:
    """Why ``user`` may not edit ``message`` (services.message_edit refuses it too), or ""."""
    if not permissions.may_delete_message(user, author_id=message.author_id):
        return "You can edit only your own messages."
    if not permissions.may_edit_message(user, author_id=message.author_id, created_ms=message.created_ms,
                                        now_ms=now_ms()):
        return f"You can edit a message only in the first {services.edit_window_words()} after posting it."
    return ""


def _edit_form_at(form: EditForm, current) -> EditForm:
    """The same form (the user's text) against the message's current version."""
    data = form.data.copy()
    data["version"] = str(current.edit_version)
    return EditForm(data)


def _edit_answer(request, room: Room, message, *, form: EditForm | None = None, current=None, note: str = "",
                 status: int = 200) -> HttpResponse:
    """The edit form or a refusal: HTMX gets the fragment, a plain request the page around it."""
    context = {"room": room, "message": message, "form": form, "current": current, "note": note,
               "return_to": _return_to(request, room)}
    if request.htmx:
        return render(request, "rooms/_edit_form.html", context, status=status)
    context.update({"your_rooms": _sidebar_of(request.user), "current_room_id": room.room_id})
    return render(request, "rooms/message_edit.html", context, status=status)


@require_safe
def message_history(request: HtmxHttpRequest, room_id: str) -> HttpResponse:
    """Staff's view of an edited message's earlier versions (selectors.message_edits: 1 Query, after
    the message's GetItem). Anyone else gets the same 404 as anything missing."""
    room = _member_room(request, room_id)
    if not (request.user.is_authenticated and request.user.is_staff):
        raise Http404("No such page")
    author_id, sk = _edit_target(request)
    message = selectors.message_get(author_id=author_id, sk=sk) if validators.is_token(
        keys.message_sk_parts(sk)[1]) else None
    if message is None or message.room_id != room.room_id:
        raise Http404("No such message")
    return render(request, "rooms/message_history.html",
                  {"room": room, "message": message, "edits": selectors.message_edits(author_id=author_id, sk=sk),
                   "your_rooms": _sidebar_of(request.user), "current_room_id": room.room_id})


# --- reactions ------------------------------------------------------------------------------------


@require_http_methods(["GET", "HEAD", "POST"])
def message_react(request: HtmxHttpRequest, room_id: str) -> HttpResponse:
    """GET: the react page (_react_page), where Add reaction leads without JavaScript. POST: a
    reaction on or off (``author``, ``sk``, ``emoji``, ``on`` = 1 or 0: the state wanted, so a
    double click or a retried request never counts twice): services.reaction_set, for whoever may
    post here (a member; in a public room anyone signed in, as posting). HTMX: the message's li,
    rendered as live fragments are (static/js/chat/reactions.js marks the viewer's own), for
    merge.js to put in place by its version; a refusal is 400 (not one emoji), 404 (deleted, or
    not in this room), 409 (full, or changing too fast) or 429 (this user's changes are over
    CHAT_MESSAGE_CHANGE_LIMIT, with Retry-After), as plain text. A plain form: back to the room at
    the message (or to ``next``, the thread view it came from: _return_to), the refusal as a note;
    over the limit, a 429 page that links back to the message."""
    room = _member_room(request, room_id)
    if not request.user.is_authenticated:
        return redirect_to_sign_in(request, None if request.method != "POST" else _room_url(room))
    if request.method != "POST":
        return _react_page(request, room)
    form = DeleteForm(request.POST)
    on = request.POST.get("on", "1")
    if not form.is_valid() or on not in ("0", "1"):
        raise BadRequest("Which message, and on or off? The reaction form is incomplete.")
    author_id, sk = form.cleaned_data["author"], form.cleaned_data["sk"]
    try:
        message = services.reaction_set(room=room, user=request.user, author_id=author_id, sk=sk,
                                        emoji=request.POST.get("emoji", ""), on=on == "1")
    except services.MessageNotFound:
        note, status = "That message is no longer here: it may have been deleted.", 404
    except services.ReactionsFull as exc:
        note, status = exc.messages[0], 409
    except ValidationError as exc:  # not one emoji
        note, status = exc.messages[0], 400
    except services.ReactionConflict:
        note, status = "That message kept changing while you reacted. Try again.", 409
    except services.ChangingTooFast as exc:  # nothing written: say when to try again
        return _reaction_too_fast(request, room, exc)
    else:
        if request.htmx:
            return render(request, "rooms/_reacted.html", {"message": message})
        back = _return_to(request, room)  # the thread view the plain form came from
        return redirect(f"{back}#{message.dom_id}" if back else message.permalink)
    if request.htmx:
        return HttpResponse(note, status=status, content_type="text/plain; charset=utf-8")
    flash.error(request, note)
    if back := _return_to(request, room):
        return redirect(back)
    at_message = status != 404 and validators.is_token(keys.message_sk_parts(sk)[1])
    return redirect(message_url(room.room_id, sk) if at_message else _room_url(room))


def _react_page(request, room: Room) -> HttpResponse:
    """Add reaction without JavaScript: the message (``author``, ``sk``: 1 GetItem, after the
    sidebar's Query) and the picker's forms, posting to message_react, which comes back to the
    message (or to ``next``, the thread view the link came from). With JavaScript the page's one
    picker opens instead (static/js/chat/reactions.js). 400 for a link that names no message; 404,
    as anything missing, for a deleted message or one of another room."""
    try:
        author_id, sk = services.parse_reply_to(f"{request.GET.get('author', '')}/{request.GET.get('sk', '')}")
    except services.ReplyTargetNotFound:
        raise BadRequest("Which message? This Add reaction link is incomplete or broken.") from None
    your_rooms = _sidebar_of(request.user)
    message = selectors.message_get(author_id=author_id, sk=sk)
    if message is None or message.room_id != room.room_id:
        raise Http404("No such message")
    return render(request, "rooms/message_react.html",
                  {"room": room, "message": message, "react_target": message, "return_to": _return_to(request, room),
                   "your_rooms": your_rooms, "current_room_id": room.room_id})


def _reaction_too_fast(request, room: Room, exc: services.ChangingTooFast) -> HttpResponse:
    note = _changing_too_fast(exc)
    if request.htmx:
        response = HttpResponse(note, status=429, content_type="text/plain; charset=utf-8")
    else:
        response = render(request, "errors/429.html", {"message": note, "back": exc.current.permalink,
                                                       "back_label": f"Back to {room.name}"}, status=429)
    response["Retry-After"] = str(exc.retry_after)
    return response


# --- read cursors ---------------------------------------------------------------------------------

MAX_SEQ = 10 ** 15


def _read_report(request) -> tuple[int, str]:
    """``seq`` and ``pos`` (the newest message seen: its data-seq, and its SK, data-pos) of a read
    report, checked for form only."""
    try:
        seq = int(request.POST.get("seq", ""))
        pos = str(request.POST.get("pos", ""))
        created_at, message_id = keys.message_sk_parts(pos)
        ms_from_iso(created_at)
    except ValueError:
        raise BadRequest("seq is a message's number, pos its position (data-seq, data-pos).") from None
    if not (0 < seq < MAX_SEQ and validators.is_token(message_id)):
        raise BadRequest("seq is a message's number, pos its position (data-seq, data-pos).")
    return seq, pos


@require_POST
def room_read(request: HtmxHttpRequest, room_id: str) -> HttpResponse:
    """The tab has shown the newest messages (static/js/chat/read.js): move the read cursor forward
    to ``seq`` / ``pos`` (services.read_cursor_advance: a stale report changes nothing), 204. The
    session, then for a non-public room the membership (else the 404 of a room that does not
    exist), the room's Seq when the report is past this process's copy (a number the room never
    reached is refused: the cursor never moves back by itself), and 1 UpdateItem."""
    room = _member_room(request, room_id)
    if not request.user.is_authenticated:
        return _signal_refused("Sign in to keep your place in rooms.")
    seq, pos = _read_report(request)
    if not selectors.room_seq_reached(room_id=room.room_id, seq=seq):
        raise BadRequest("No message in this room has that number yet.")
    services.read_cursor_advance(user_id=request.user.id, room_id=room.room_id, seq=seq, pos=pos)
    return HttpResponse(status=204)


@require_POST
def room_unread(request: HtmxHttpRequest, room_id: str) -> HttpResponse:
    """**Mark as unread** on a message (``author``, ``sk``, as the delete form): the read cursor goes
    back to just before it (services.message_mark_unread). HTMX: 204; a plain form: back to the
    room, which opens at that message."""
    room = _member_room(request, room_id)
    if not request.user.is_authenticated:
        return redirect_to_sign_in(request, _room_url(room))
    form = DeleteForm(request.POST)
    if not form.is_valid():
        raise BadRequest("Which message? The form is incomplete.")
    try:
        marked = services.message_mark_unread(user_id=request.user.id, room_id=room.room_id,
                                              author_id=form.cleaned_data["author"], sk=form.cleaned_data["sk"])
        note, status = (None, 204) if marked else ("Join the room to keep your place in it.", 403)
    except services.MessageNotFound:
        note, status = "That message was deleted.", 404
    if request.htmx:
        return HttpResponse(note or b"", status=status, content_type="text/plain; charset=utf-8")
    if note:
        flash.info(request, note)
    return redirect(_room_url(room))


@require_POST
def room_notifications(request: HtmxHttpRequest, room_id: str) -> HttpResponse:
    """A member's notification setting for the room: **All messages**, **Mentions only** or
    **Nothing** (services.notify_set: 1 UpdateItem, conditional on the membership, then the `c-`
    activity event). The session first, then the room (the per-process cache); the update itself
    is the membership check, so a private room's non-members get the 404 of a room that does not
    exist and a public room's non-members a 403. HTMX: the form again, saved (or its error);
    a plain form: back to the room page."""
    signed_in = request.user.is_authenticated
    room = _room_or_404(room_id)
    if not signed_in:
        if not room.is_public:
            raise Http404("No such room")
        return redirect_to_sign_in(request, _room_url(room))
    form = NotificationsForm(request.POST)
    if not form.is_valid():
        # Only a member may learn that the form was wrong (1 GetItem, on this error path only).
        if selectors.user_room_get(user_id=request.user.id, room_id=room.room_id) is None:
            if not room.is_public:
                raise Http404("No such room")
            raise PermissionDenied("Join the room to choose its notifications.")
        if request.htmx:
            return render(request, "rooms/_notifications_form.html", {"room": room, "notify_form": form}, status=400)
        raise BadRequest(form.errors["notify"][0])
    level = form.cleaned_data["notify"]
    try:
        services.notify_set(user_id=request.user.id, room_id=room.room_id, level=level)
    except services.NotAMember:
        if not room.is_public:
            raise Http404("No such room") from None
        raise PermissionDenied("Join the room to choose its notifications.") from None
    label = dict(NotificationsForm.CHOICES)[level]
    if request.htmx:
        return render(request, "rooms/_notifications_form.html",
                      {"room": room, "notify_form": NotificationsForm(initial={"notify": level}),
                       "notify_label": label, "notify_saved": f"Saved: {label}.", "oob_label": True})
    flash.success(request, f"Notifications for {room.name}: {label}.")
    return _back_to_room(room)


@require_POST
def rooms_read_all(request: HtmxHttpRequest) -> HttpResponse:
    """**Mark all as read**: every room of the user's with unread messages is read up to its
    newest message (services.mark_all_read: the sidebar Query, 1 BatchGetItem per 100 rooms, 1
    UpdateItem per unread room). Back to ``next`` (a page of this site), or the room list; HTMX:
    the page refreshes (the sidebar and the title)."""
    next_url = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        next_url = reverse("rooms:list")
    if not request.user.is_authenticated:
        return redirect_to_sign_in(request, next_url)
    moved = services.mark_all_read(user_id=request.user.id, rooms=selectors.user_rooms(user_id=request.user.id))
    if request.htmx:
        return HttpResponseClientRefresh()
    flash.success(request, "Every room is marked as read." if moved else "Nothing was unread.")
    return redirect(next_url)


# --- live updates -------------------------------------------------------------------------------


@never_cache
@require_GET
def room_updates(request: HtmxHttpRequest, room_id: str) -> HttpResponse:
    """One poll. Anonymous-readable and deliberately blind to the session (no request.user, no
    request.session, no context processors), so a tick costs no DynamoDB read of its own.
    The watermark ``w`` must be one the server signed for this room; a catch-up (w older than the
    feed's memory) counts against the client's allowance: over it, 429 with Retry-After.

    A non-public room's watermark is also a grant (live.watermark_for): without a valid one the
    poll is the 404 of a room that does not exist; with an expired one, 403, and the tab renews it
    at room_live_grant, which checks the session and the membership."""
    room = _room_or_404(room_id)
    token = request.GET.get("w", "")
    try:
        watermark, grant_expires = live.read_watermark(room, token)
    except live.InvalidWatermark:
        if not room.is_public:
            raise Http404("No such room") from None
        raise BadRequest("This live-update cursor (w) was not issued for this room by this site, or was "
                         "altered. Reload the page to get a fresh one.") from None
    except live.GrantExpired:
        return HttpResponse("Renew the live-update grant.", status=403, content_type="text/plain; charset=utf-8")
    seen = _seen_refs(request.GET.get("seen", "").split(","))
    try:
        answer = live.updates(room_id=room_id, watermark_ms=watermark, seen=seen,
                              client=client_ip(request, network=True))
    except live.CatchUpLimited as exc:
        return _catch_up_limited(exc)
    if answer.reload:
        return HttpResponseClientRefresh()
    if answer.events:
        response = HttpResponse(loader.render_to_string("rooms/_updates.html", {"updates": answer, "room_id": room_id}))
    else:
        response = HttpResponse(status=204)
    response["Chat-Watermark"] = live.watermark_for(room, answer.watermark_ms, grant_expires=grant_expires)
    return response


@never_cache
@require_GET
def room_stream(request: HtmxHttpRequest, room_id: str) -> HttpResponse:
    """The tab's one live stream (Server-Sent Events, rooms/streams.py): the room's messages and
    deletions as they happen, with presence and typing. Resumes from ``Last-Event-ID`` (the
    signed watermark and the refs the tab holds) or, on first open, from the page's ``w`` and
    ``seen``, like a poll. The session is read when it opens (a non-public room: the membership
    too, else the 404 of a room that does not exist) and again every
    CHAT_LIVE_STREAM_RECHECK_SECONDS; a revoked session or a removed member gets a "reload" event
    and the stream ends. Where streams are not served (no gevent), 204: the page polls.

    A signed-in user's stream also carries their side (rooms.activity.UserSide): their rooms and
    the rooms' Seqs are read as a room page reads them (the sidebar Query, which also checks a
    non-public room's membership, and room_sequences), then only the activity feed's events keep
    them: `sidebar` and `notify` events, at no further read per tab."""
    if not streams.enabled():
        return HttpResponse(status=204)
    # A point in the activity feed before the user's state is read: what comes after it is replayed.
    mark = activity.hub().mark() if request.session.get(SESSION_KEY) else None
    room, your_rooms = _readable_room(request, room_id)
    user = request.user if request.user.is_authenticated else None
    session_key = request.session.session_key if user else None
    resume = request.headers.get("Last-Event-ID", "")
    token, refs = streams.parse_id(resume) if resume else (request.GET.get("w", ""),
                                                          request.GET.get("seen", "").split(","))
    try:
        watermark, _ = live.read_watermark(room, token, allow_expired=True)  # access: checked above
    except live.InvalidWatermark:
        raise BadRequest("This live-update cursor was not issued for this room by this site, or was "
                         "altered. Reload the page to get a fresh one.") from None
    seen = _seen_refs(refs)
    client = client_ip(request, network=True)
    try:
        channel, first = streams.open_stream(room_id=room.room_id, watermark_ms=watermark, seen=seen,
                                             admit=lambda: live.admit_catch_up(client))
    except live.CatchUpLimited as exc:
        return _catch_up_limited(exc)

    def still_allowed() -> bool:
        try:
            selectors.room_get(room_id=room.room_id)
            if user is None:
                return True
            if not session_still_signs_in(session_key=session_key, user_id=user.id):
                return False
            return room.is_public or selectors.user_room_get(user_id=user.id, room_id=room.room_id) is not None
        except selectors.RoomNotFound:
            return False
        except Exception as exc:
            if not dynamodb.is_unavailable(exc):
                raise
            # DynamoDB is down: nothing can have been revoked meanwhile (that needs a write); keep
            # the stream rather than send every tab into a reconnect storm. Checked again next time.
            return True

    def render(events) -> str:
        return loader.render_to_string("rooms/_updates.html", {
            "updates": live.Updates(events=events, watermark_ms=0), "room_id": room.room_id})

    viewer_id = user.id if user else None
    cursor = streams.Cursor.resumed(watermark, seen, channel.feed)
    user_side = (_user_side(request, user, your_rooms, room.room_id, channel.wake, mark)
                 if user and mark is not None else None)
    body = streams.stream(channel=channel, first=first, cursor=cursor,
                          render=render, token=lambda ms: live.watermark_for(room, ms), still_allowed=still_allowed,
                          render_signals=lambda feed: presence.render_signals(feed, viewer_id=viewer_id),
                          connection=request.META.get("gunicorn.socket"), user_side=user_side)
    response = StreamingHttpResponse(body, content_type="text/event-stream; charset=utf-8")
    response["X-Accel-Buffering"] = "no"  # nginx-style proxies: pass each event on at once
    streams.limit_send_wait(request)
    return response


def _user_side(request, user, your_rooms: list[UserRoom] | None, current_room_id: str | None, wake, mark: int):
    """The signed-in stream's user side: the state from the sidebar just read, subscribed to the
    activity hub from ``mark`` on (``wake``: the room's channel's, or a page stream's Waker)."""
    get_token(request)  # the sidebar's forms carry the CSRF token: its cookie goes out with these headers
    rooms = your_rooms or []
    seqs = {r.room_id: (r.read_seq or 0) + r.unread for r in rooms}  # with_unread's count, undone
    state = activity.UnreadState.start(user.id, rooms, seqs)
    hub = activity.hub()
    subscription = hub.subscribe(user.id, wake, rooms=state.rooms, after=mark)

    def render(current: activity.UnreadState) -> str:
        return loader.render_to_string("rooms/_your_rooms.html", {"your_rooms": current.entries(),
                                                                  "current_room_id": current_room_id}, request=request)

    return activity.UserSide(state=state, subscription=subscription, hub=hub, render=render)


@never_cache
@require_GET
def user_stream(request: HtmxHttpRequest) -> HttpResponse:
    """The live stream of a signed-in page with the sidebar but no room (the Mentions page, a
    person's page, the member list, New message): the user's `sidebar` and `notify` events only,
    as a room stream's user side sends them (rooms.activity.UserSide), so every open tab's counts
    and desktop notifications stay live, not just room tabs'. The session, the user's rooms and
    their Seqs when it opens (as the page), then the activity feed only; the session again every
    CHAT_LIVE_STREAM_RECHECK_SECONDS. Signed out, or where streams are not served: 204."""
    if not streams.enabled():
        return HttpResponse(status=204)
    mark = activity.hub().mark() if request.session.get(SESSION_KEY) else None
    your_rooms = _signed_in_sidebar(request)
    if your_rooms is None or mark is None:
        return HttpResponse(status=204)
    user, session_key = request.user, request.session.session_key
    waker = streams.Waker()
    user_side = _user_side(request, user, your_rooms, None, waker.wake, mark)

    def still_allowed() -> bool:
        try:
            return session_still_signs_in(session_key=session_key, user_id=user.id)
        except Exception as exc:
            if not dynamodb.is_unavailable(exc):
                raise
            return True  # as a room stream: nothing can be revoked while DynamoDB is down

    body = streams.user_stream(user_side=user_side, waker=waker, still_allowed=still_allowed)
    response = StreamingHttpResponse(body, content_type="text/event-stream; charset=utf-8")
    response["X-Accel-Buffering"] = "no"
    streams.limit_send_wait(request)
    return response


def _seen_refs(refs) -> frozenset[str]:
    seen = frozenset(ref for ref in refs if ref)
    if len(seen) > MAX_SEEN_REFS or not all(live.is_ref(ref) for ref in seen):
        raise BadRequest("Malformed live-update cursor (seen).")
    return seen


def _catch_up_limited(exc: live.CatchUpLimited) -> HttpResponse:
    response = HttpResponse(f"Too many catch-ups from your network. Live updates resume in "
                            f"{exc.retry_after} seconds.", status=429, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(exc.retry_after)
    return response


@never_cache
@require_GET
def room_live_grant(request: HtmxHttpRequest, room_id: str) -> HttpResponse:
    """Renew a private room's live-update grant: the session and the membership are checked
    (session Query + one GetItem), and the tab's watermark comes back with a new expiry in
    Chat-Watermark (204). Not a member (removed, or never): the 404 of a room that does not exist."""
    room = _member_room(request, room_id)
    if not request.user.is_authenticated:
        raise Http404("No such room")
    try:
        watermark, _ = live.read_watermark(room, request.GET.get("w", ""), allow_expired=True)
    except live.InvalidWatermark:
        raise BadRequest("This live-update cursor (w) was not issued for this room by this site. Reload the "
                         "page.") from None
    response = HttpResponse(status=204)
    response["Chat-Watermark"] = live.watermark_for(room, watermark)
    return response


# --- presence and typing ---------------------------------------------------------------------------


def _signal_refused(message: str) -> HttpResponse:
    # A fetch from static/js/chat/presence.js or typing.js: a plain 403 (a redirect to the sign-in
    # page would look like a success to it). Private rooms never get here: theirs is the 404.
    return HttpResponse(message, status=403, content_type="text/plain; charset=utf-8")


def _tab_id(value: str) -> str:
    """The beating tab's id (static/js/chat/presence.js): a short url-safe token, else none."""
    if value and not (len(value) <= 24 and value.replace("-", "").replace("_", "").isalnum() and value.isascii()):
        raise BadRequest("tab is a short url-safe token.")
    return value


@require_POST
def room_presence(request: HtmxHttpRequest, room_id: str) -> HttpResponse:
    """A tab's presence beat, ``state`` = here | away (rooms/presence.py): 204. The session, then
    for a non-public room the membership (else the 404 of a room that does not exist); in a public
    room, members only (403 otherwise). Throttled per process: most beats write nothing."""
    room = _member_room(request, room_id)
    if not request.user.is_authenticated:
        return _signal_refused("Sign in to show that you are here.")
    state = request.POST.get("state", presence.HERE)
    if state not in presence.STATES:
        raise BadRequest("state is here or away.")
    try:
        presence.beat(room=room, user=request.user, state=state, tab=_tab_id(request.POST.get("tab", "")))
    except presence.NotMember:
        return _signal_refused("Join the room to show that you are here.")
    return HttpResponse(status=204)


@require_POST
def room_typing(request: HtmxHttpRequest, room_id: str) -> HttpResponse:
    """The user is typing (rooms/presence.py): 204. Whoever may post here: signed in, and a member
    of a non-public room (else its 404). At most one write per user per room per 3 s per process."""
    room = _member_room(request, room_id)
    if not request.user.is_authenticated:
        return _signal_refused("Sign in to post in this room.")
    presence.typing(room=room, user=request.user)
    return HttpResponse(status=204)


# --- direct conversations and people's pages ------------------------------------------------------


@require_safe
def user_page(request: HtmxHttpRequest, username: str) -> HttpResponse:
    """A person's page: their names and, for anyone else signed in, the **Message** button. Signed
    out: the sign-in page first (who has an account is not shown to the public). 3 calls: the
    session, the signed-in user with the sidebar, the person; + the sidebar's unread counts."""
    your_rooms = _signed_in_sidebar(request)
    if not request.user.is_authenticated:
        return redirect_to_sign_in(request, request.get_full_path())
    try:
        user_id = validate_username(username)
    except ValidationError:
        raise Http404("No such user") from None
    person = user_selectors.user_get(user_id=user_id)
    if person is None or not person.is_active:
        raise Http404("No such user")
    return render(request, "rooms/user.html", {"person": person, "your_rooms": your_rooms,
                                               "can_message": person.user_id != request.user.id})


@require_http_methods(["GET", "HEAD", "POST"])
def direct_new(request: HtmxHttpRequest) -> HttpResponse:
    """The **New message** form (a **People** field), and where every **Message** button posts:
    opens the conversation of the signed-in user and those people, creating it on first use."""
    # The form page reads the sidebar with the user; a post reads it only if the form comes back.
    your_rooms = _signed_in_sidebar(request) if request.method != "POST" else None
    if not request.user.is_authenticated:
        return redirect_to_sign_in(request, reverse("rooms:direct_new"))
    form = DirectForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        try:
            room_id = services.direct_start(starter=request.user,
                                            usernames=validators.parse_people(form.cleaned_data["people"]))
        except ValidationError as exc:
            form.add_error("people", exc)
        except services.DirectUnavailable:
            form.add_error("people", "This conversation is being deleted. Try again in a minute.")
        else:
            return redirect("rooms:room", room_id)
    if your_rooms is None:
        your_rooms = _sidebar_of(request.user)
    return render(request, "rooms/direct_new.html", {"form": form, "your_rooms": your_rooms},
                  status=400 if form.is_bound else 200)


# --- mentions -------------------------------------------------------------------------------------


@require_safe
def mentions_page(request: HtmxHttpRequest) -> HttpResponse:
    """**Mentions**: the signed-in user's mentions across rooms, newest first, each a link to the
    message in its room (``?at=``). The session, the sidebar Query (with its unread counts) and ONE
    Query of the mentions (selectors.user_mentions, a signed cursor for older ones). Mentions in a
    private room or conversation the user is no longer in are left out, by the sidebar just read."""
    your_rooms = _signed_in_sidebar(request)
    if not request.user.is_authenticated:
        return redirect_to_sign_in(request, reverse("rooms:mentions"))
    try:
        page = selectors.user_mentions(user_id=request.user.id, cursor=request.GET.get("after") or None)
    except InvalidCursor:
        raise BadRequest("That page link is broken or out of date.") from None
    member_of = {r.room_id for r in your_rooms or ()}
    shown = [m for m in page.items if m.room_kind == PUBLIC or m.room_id in member_of]
    return render(request, "rooms/mentions.html", {"mentions": shown, "page": page, "your_rooms": your_rooms})


# --- search ---------------------------------------------------------------------------------------


@never_cache  # personal: what a user may read, as of now
@vary_on_headers("HX-Request")  # the results alone or the whole page: never one for the other
@require_safe
def search_page(request: HtmxHttpRequest) -> HttpResponse:
    """**Search messages** (the header's search field on every page): ``q`` in the query language of
    rooms.search, newest first, "Older results" through a signed cursor (``after``). Reads: the
    session and the sidebar (which also says which non-public rooms the user may read now), then
    rooms.search (1 Query per scope a round + the candidates' BatchGetItem; docs/data-model.md,
    "Search"). Signed out: public rooms only. Bad input: the page says why (400, or 200 when there
    is simply nothing to look for), having read nothing for the search.

    With JavaScript the header's field and "Older results" ask through htmx: the answer is the
    search section alone (rooms/search_fragment.html) for the page's <main>, and the address it
    pushes. The user's rooms are read as for the page (they decide which rooms they may read now),
    but not their unread counts, and no sidebar or layout is drawn. A history restore asks for the
    whole page."""
    fragment = bool(request.htmx) and not request.htmx.history_restore_request
    your_rooms = _signed_in_rooms(request) if fragment else _signed_in_sidebar(request)
    text = str(request.GET.get("q", ""))
    context = {"your_rooms": your_rooms, "search_q": text, "results": None, "error": None}
    status = 200
    if text.strip():
        try:
            query = search.parse_query(text)
            context["results"] = search.search(query, your_rooms=your_rooms,
                                               user_id=request.user.id if request.user.is_authenticated else None,
                                               cursor=request.GET.get("after") or None)
        except search.QueryError as exc:
            context["error"], status = exc.message, exc.status
        except InvalidCursor:
            context["error"] = "That “Older results” link is broken or out of date. Search again from the first page."
            status = 400
        else:
            context["older"] = bool(request.GET.get("after"))
    if not fragment:
        return render(request, "rooms/search.html", context, status=status)
    return push_url(render(request, "rooms/search_fragment.html", context, status=status), request.get_full_path())


SUGGEST_QUERY_MAX = 50


@never_cache
@require_safe
def member_suggest(request: HtmxHttpRequest, room_id: str) -> HttpResponse:
    """The composer's @ suggestions (static/js/chat/mentions.js): up to 8 members of the room whose
    username or display name starts with ``q``, as an HTML fragment of listbox options. Access as
    posting: the session, then a non-public room's membership (else its 404); signed out, 403.
    Members come from selectors.member_suggestions (one Query per room per few seconds per process)."""
    room = _member_room(request, room_id)
    if not request.user.is_authenticated:
        return _signal_refused("Sign in to mention people.")
    query = str(request.GET.get("q", "")).strip().removeprefix("@")[:SUGGEST_QUERY_MAX]
    members = selectors.member_suggestions(room_id=room.room_id, query=query)
    return render(request, "rooms/_mention_options.html", {"members": members})
