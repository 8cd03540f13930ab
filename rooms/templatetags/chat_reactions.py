"""Reactions for templates: ``{% viewer_reacted reaction as mine %}`` (pressed on full pages)
and ``{% quick_reactions %}`` (the picker's common emoji)."""

from __future__ import annotations

from django import template

register = template.Library()

# The picker's first row: what people use most; any other emoji can be typed.
QUICK_REACTIONS = ("👍", "❤️", "😂", "🎉", "😮", "😢", "🙏", "👀")


@register.simple_tag(takes_context=True)
def viewer_reacted(context, reaction) -> bool:
    """The viewer's own reaction, on a full page. Live fragments (``live``) are the same for every
    viewer and rendered without one: static/js/chat/reactions.js decides there."""
    user = context.get("user")
    return not context.get("live") and bool(getattr(user, "is_authenticated", False)) and reaction.has(user.id)


@register.simple_tag
def quick_reactions() -> tuple[str, ...]:
    return QUICK_REACTIONS
