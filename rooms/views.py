"""Rooms, messages and live updates over HTTP. Thin: parse, call one service or selector, render.

A plain request gets a page (or a redirect); an HTMX request gets a fragment, and the server says
where the rest goes: out-of-band swaps and HX-Retarget/HX-Reswap (docs/live-updates.md, "The browser").
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages as flash
from django.core.exceptions import BadRequest
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template import loader
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST, require_safe
from django_htmx.http import HttpResponseClientRefresh, reswap, retarget
from django_htmx.middleware import HtmxDetails

from accounts.auth import redirect_to_sign_in
from accounts.request_info import client_ip
from chatsite.pagination import InvalidCursor
from rooms import live, selectors, services, validators
from rooms.forms import DeleteForm, MessageForm, RoomForm
from rooms.models import Room
from rooms.timestamps import now_ms


class HtmxHttpRequest(HttpRequest):  # django-htmx's documented typing pattern
    htmx: HtmxDetails


MAX_SEEN_REFS = 400


def _room_or_404(room_id: str) -> Room:
    try:
        return selectors.room_get(room_id=room_id)
    except selectors.RoomNotFound:
        raise Http404("No such room") from None


def _room_url(room: Room) -> str:
    return reverse("rooms:room", args=[room.room_id])


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
                                            created_by=request.user.id)
            except services.RoomExists as exc:
                form.add_error("name", f"There is already a room at /rooms/{exc.room.room_id}/ "
                                       f"(“{exc.room.name}”). Choose another name, or join that one.")
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
    room = _room_or_404(room_id)
    before = request.GET.get("before") or None
    watermark = now_ms()  # taken before the query: the page holds everything visible at this time
    try:
        history = selectors.room_history(room_id=room.room_id, cursor=before)
    except InvalidCursor:
        raise BadRequest("That “load older” link is broken or out of date.") from None
    if request.htmx and before:  # the older messages, and the next "load older" link out of band
        return render(request, "rooms/_older.html", {"room": room, "history": history})
    form = MessageForm(initial={"idempotency_key": validators.new_token()})
    return render(request, "rooms/room.html", _room_page(room, history, watermark, form, latest=before is None))


def _room_page(room: Room, history: selectors.Page, watermark: int, form: MessageForm, *, latest: bool) -> dict:
    return {"room": room, "history": history, "watermark": live.watermark_token(room.room_id, watermark),
            "form": form, "latest": latest,
            "poll_seconds": settings.CHAT_LIVE_POLL_SECONDS,
            "overlap_ms": int(settings.CHAT_LIVE_OVERLAP_SECONDS * 1000)}


# --- messages -------------------------------------------------------------------------------


@require_POST
def message_post(request: HtmxHttpRequest, room_id: str) -> HttpResponse:
    room = _room_or_404(room_id)
    if not request.user.is_authenticated:
        return redirect_to_sign_in(request, _room_url(room))
    form = MessageForm(request.POST)
    if not form.is_valid():
        if "idempotency_key" in form.errors:  # re-render with a usable key; the text stays
            form.data = form.data.copy()
            form.data["idempotency_key"] = validators.new_token()
        return _composer_failed(request, room, form, status=400)
    try:
        result = services.message_post(room=room, author=request.user, comment=form.cleaned_data["comment"],
                                       idempotency_key=form.cleaned_data["idempotency_key"])
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
    except services.MessageNotFound:  # a retry of a post that was since deleted: nothing to show
        result = None
    if not request.htmx:
        return redirect(_room_url(room) + "#latest")
    # The message for the page to merge (static/js/chat/merge.js); out of band, the composer's
    # fresh key and cleared errors.
    return render(request, "rooms/_posted.html", {
        "room": room, "message": result.message if result else None,
        "form": MessageForm(initial={"idempotency_key": validators.new_token()}),
    })


def _composer_failed(request, room: Room, form: MessageForm, *, status: int) -> HttpResponse:
    """HTMX: the errors, swapped into the composer's error box (which the htmx config lets 400 and
    429 answers do), with a renewed key out of band; the composer still holds the text.
    Plain POST: the room page again, the composer filled in, the errors inline."""
    if request.htmx:
        response = render(request, "rooms/_composer_errors.html", {"form": form, "oob": True}, status=status)
        return reswap(retarget(response, "#composer-errors"), "innerHTML")
    watermark = now_ms()
    history = selectors.room_history(room_id=room.room_id)
    return render(request, "rooms/room.html", _room_page(room, history, watermark, form, latest=True), status=status)


@require_POST
def message_delete(request: HtmxHttpRequest, room_id: str) -> HttpResponse:
    room = _room_or_404(room_id)
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
    return redirect(_room_url(room) + "#latest")


# --- live updates -------------------------------------------------------------------------------


@never_cache
@require_GET
def room_updates(request: HtmxHttpRequest, room_id: str) -> HttpResponse:
    """One poll. Anonymous-readable and deliberately blind to the session (no request.user, no
    request.session, no context processors), so a tick costs no DynamoDB read of its own.
    The watermark ``w`` must be one the server signed for this room; a catch-up (w older than the
    feed's memory) counts against the client's allowance: over it, 429 with Retry-After."""
    _room_or_404(room_id)
    try:
        watermark = live.watermark_from_token(room_id, request.GET.get("w", ""))
    except live.InvalidWatermark:
        raise BadRequest("This live-update cursor (w) was not issued for this room by this site, or was "
                         "altered. Reload the page to get a fresh one.") from None
    seen = frozenset(ref for ref in request.GET.get("seen", "").split(",") if ref)
    if len(seen) > MAX_SEEN_REFS or not all(ref[:2] in ("m-", "d-") and validators.is_token(ref[2:]) for ref in seen):
        raise BadRequest("Malformed live-update cursor (seen).")
    try:
        answer = live.updates(room_id=room_id, watermark_ms=watermark, seen=seen,
                              client=client_ip(request, network=True))
    except live.CatchUpLimited as exc:
        response = HttpResponse(f"Too many catch-ups from your network. Live updates resume in "
                                f"{exc.retry_after} seconds.", status=429, content_type="text/plain; charset=utf-8")
        response["Retry-After"] = str(exc.retry_after)
        return response
    if answer.reload:
        return HttpResponseClientRefresh()
    if answer.events:
        response = HttpResponse(loader.render_to_string("rooms/_updates.html", {"updates": answer, "room_id": room_id}))
    else:
        response = HttpResponse(status=204)
    response["Chat-Watermark"] = live.watermark_token(room_id, answer.watermark_ms)
    return response
