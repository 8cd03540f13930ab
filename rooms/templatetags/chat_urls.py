"""{% fast_url %}: {% url %} for links a page repeats (one per message or per room)."""

from django import template

from chatsite.urls_fast import fast_reverse

register = template.Library()


@register.simple_tag
def fast_url(viewname, *args) -> str:
    """{% url viewname args... %}, the same URL (chatsite/urls_fast.py), escaped the same way."""
    return fast_reverse(viewname, *args)
