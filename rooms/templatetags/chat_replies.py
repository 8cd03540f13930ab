"""Replies in templates: a quote's text."""

from django import template

from rooms import services

register = template.Library()


@register.filter
def reply_excerpt(comment: str) -> str:
    """What a reply quotes of ``comment``: its first line, shortened (services.reply_excerpt)."""
    return services.reply_excerpt(comment or "")
