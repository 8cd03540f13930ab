"""A formatted message gives the same HTML on the room page and in the live fragment an open tab
receives (templates/rooms/_updates.html): both render templates/rooms/_message.html's comment
through the message_html filter."""

from __future__ import annotations

import re

import pytest

from rooms import live, services, validators
from tests.support.sessions import request_user

TEXT = ("*Bold* and _italic_ with `code`, see https://example.com/a_b_c and @room\n"
        "> quoted *line*\n"
        "```python\nfor x in range(3):\n    print('<x>')\n```\n"
        "snake_case_names and an *unclosed mark")


@pytest.fixture(autouse=True)
def fresh_feed(settings):
    settings.CHAT_LIVE_REFRESH_SECONDS = 0  # every poll reads the room's events
    live.clear_feeds()


def comments(html: str) -> list[str]:
    return re.findall(r'<div class="comment">(.*?)</div>', html, re.DOTALL)


def test_the_page_and_the_live_fragment_render_the_same_formatted_comment(client, room):
    page = client.get(f"/rooms/{room.room_id}/").content.decode()
    token = re.search(r'data-watermark="([^"]+)"', page).group(1)
    message = services.message_post(room=room, author=request_user("alice"), comment=TEXT,
                                    idempotency_key=validators.new_token()).message

    fragment = client.get(f"/rooms/{room.room_id}/updates", {"w": token}, HTTP_HX_REQUEST="true")
    assert fragment.status_code == 200
    live_html = fragment.content.decode()
    page_html = client.get(f"/rooms/{room.room_id}/").content.decode()
    assert f'id="m-{message.message_id}"' in live_html and f'id="m-{message.message_id}"' in page_html

    [live_comment] = comments(live_html)
    [page_comment] = comments(page_html)
    assert live_comment == page_comment
    # and it is the formatted text, not the raw marks
    assert live_comment.startswith("<strong>Bold</strong> and <em>italic</em> with <code>code</code>")
    assert '<span class="mention mention-room">@room</span><blockquote>quoted <strong>line</strong></blockquote>' \
        in live_comment
    assert "<pre><code>for x in range(3):\n    print(&#x27;&lt;x&gt;&#x27;)</code></pre>snake_case_names" in live_comment
    assert live_comment.endswith("an *unclosed mark")
