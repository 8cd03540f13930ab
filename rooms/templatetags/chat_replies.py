"""Replies in templates: a quote's text, a thread's link."""

from urllib.parse import urlencode

from django import template

from chatsite.urls_fast import fast_reverse
from rooms import services

register = template.Library()


@register.filter
def reply_excerpt(comment: str) -> str:
    """What a reply quotes of ``comment``: its first line, shortened (services.reply_excerpt)."""
    return services.reply_excerpt(comment or "")


@register.filter
def thread_url(message) -> str:
    """The thread view of ``message``'s thread, naming its root (``author``, ``sk``) where known: a
    root, or a reply that answers the root. The index is eventually consistent: just after the
    first reply it may hold neither, and the view then shows the root from its key (GetItem)."""
    thread_id = message.thread_id or message.message_id
    url = fast_reverse("rooms:thread", message.room_id, thread_id)
    if message.reply_to is None:
        author_id, sk = message.author_id, message.sk
    elif message.reply_to.message_id == thread_id:
        author_id, sk = message.reply_to.author_id, message.reply_to.sk
    else:  # a reply to a reply: the root's key is not on it (the index has the root by now)
        return url
    return f"{url}?{urlencode({'author': author_id, 'sk': sk})}"
