"""Unread counts in the Your rooms sidebar ("N unread" inside the room's link, "99+" beyond 99),
the total first in the page title, and the Mark all as read button."""

from __future__ import annotations

import re

from rooms import selectors, services, validators
from tests.support.sessions import request_user, sign_in
from tests.support.users import ensure_user_item


def post(room, n=1, author="alice"):
    for i in range(n):
        services.message_post(room=room, author=request_user(author), comment=f"m{i}",
                              idempotency_key=validators.new_token())


def entry_html(page: str, room_id: str) -> str:
    return re.search(rf'<li class="sidebar-entry[^"]*" data-room="{room_id}".*?</li>', page, re.S).group(0)


def link_text(html: str) -> str:
    """What a screen reader reads for the link: its text, tags and aria-hidden parts left out."""
    html = re.sub(r'<span[^>]*aria-hidden="true"[^>]*>.*?</span>', "", html, flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", html).split()).replace(" ,", ",")


def title(page: str) -> str:
    return re.search(r"<title>(.*?)</title>", page, re.S).group(1)


def test_each_room_shows_its_unread_count_inside_its_link_and_the_title_the_total(client, moto_tables):
    design = services.room_create(name="Design", created_by="alice")
    music = services.room_create(name="Music", created_by="alice", kind="private")
    quiet = services.room_create(name="Quiet", created_by="alice")
    bob = sign_in(client, "bob")
    services.room_join(room=design, user=bob)
    services.room_invite(room=music, username="bob")
    services.room_join(room=quiet, user=bob)
    post(design, 3)
    post(music, 1)
    selectors.clear_seq_cache()
    page = client.get("/rooms/quiet/").content.decode()
    assert link_text(entry_html(page, "design")) == "Design, 3 unread"
    assert link_text(entry_html(page, "music")) == "Music, private, 1 unread"
    assert link_text(entry_html(page, "quiet")) == "Quiet"
    assert 'data-unread="3"' in entry_html(page, "design")
    assert title(page).startswith("(4) Quiet")
    assert re.search(r'<button type="submit" class="link-button">Mark all as read</button>', page)


def test_counts_over_99_show_as_99_plus_and_so_does_the_total(client, room):
    bob = sign_in(client, "bob")
    services.room_join(room=room, user=bob)
    for _ in range(150):
        services.take_room_seq(room_id="art")
    page = client.get("/rooms/art/").content.decode()
    assert link_text(entry_html(page, "art")) == "Art, 99+ unread"
    assert title(page).startswith("(99+) ")


def test_no_unread_no_count_and_no_prefix(client, room):
    bob = sign_in(client, "bob")
    post(room, 2)
    services.room_join(room=room, user=bob)  # joined after: everything before reads as read
    page = client.get("/rooms/art/").content.decode()
    assert "unread</span>" not in entry_html(page, "art")
    assert title(page).startswith("Art ")


def test_other_sidebar_pages_show_the_counts_too(client, room):
    ensure_user_item("alice")
    bob = sign_in(client, "bob")
    services.room_join(room=room, user=bob)
    post(room, 2)
    selectors.clear_seq_cache()
    for url in ("/rooms/art/members/", "/u/alice/", "/direct/new/"):
        page = client.get(url).content.decode()
        assert link_text(entry_html(page, "art")) == "Art, 2 unread", url
        assert title(page).startswith("(2) "), url


def test_mark_all_as_read_clears_every_count_and_goes_back(client, moto_tables):
    rooms = [services.room_create(name=name, created_by="alice") for name in ("Art", "Music")]
    bob = sign_in(client, "bob")
    for room in rooms:
        services.room_join(room=room, user=bob)
        post(room, 2)
    page = client.get("/rooms/art/").content.decode()
    assert title(page).startswith("(4) ")
    assert re.search(r'name="next" value="/rooms/art/"', page)
    response = client.post("/rooms/read-all", {"next": "/rooms/art/"})
    assert response.status_code == 302 and response["Location"] == "/rooms/art/"
    page = client.get("/rooms/art/").content.decode()
    assert "unread</span>" not in page and title(page).startswith("Art ")
    assert "Every room is marked as read." in page
