"""reverse() for the URLs a page builds over and over: the same string, a fraction of the CPU.

A room page links every message to its react, edit, history, delete, unread and thread views and
its author's page, about 400 reverse() calls a page at ~50 us each (~80 us through {% url %}).
Most of that is looking the name up again each time: walking the namespaces, formatting the
pattern's regex and finding it in `re`'s cache. `fast_reverse` does that lookup once per name,
URLconf and script prefix (and language, where the URLconf translates its patterns), then per call does exactly what Django's
`URLResolver._reverse_with_prefix` does with the arguments: each through its converter's
`to_url`, the unquoted URL checked against the pattern, then quoted with the same safe
characters and its leading slashes escaped. Anything it can't plan the same way (several
patterns under one name, an app namespace with several instances, where `{% url %}` would pick one
by the current app) and any argument that doesn't match goes to reverse() itself, so errors are
Django's own NoReverseMatch. tests/test_fast_reverse_is_reverse.py compares the two.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from django.core.signals import setting_changed
from django.dispatch import receiver
from django.urls import get_resolver, get_script_prefix, get_urlconf, reverse
from django.urls.resolvers import LocalePrefixPattern, URLResolver, get_ns_resolver
from django.utils.functional import Promise
from django.utils.http import RFC3986_SUBDELIMS, escape_leading_slashes
from django.utils.translation import get_language

_SAFE = RFC3986_SUBDELIMS + "/~:@"  # what _reverse_with_prefix leaves unquoted (RFC 3986's pchar)
_MAX_PLANS = 512  # names x URLconfs x script prefixes x languages; past it, start again rather than grow


class _Plan:
    """One URL name's only pattern, as _reverse_with_prefix would use it under one prefix."""

    __slots__ = ("template", "params", "converters", "match")

    def __init__(self, template: str, params: tuple[str, ...], converters: dict, match):
        self.template, self.params, self.converters, self.match = template, params, converters, match

    def build(self, args) -> str | None:
        """The URL for ``args``, or None where reverse() must decide (it raises NoReverseMatch)."""
        if len(args) != len(self.params):
            return None
        converters = self.converters
        subs = {}
        for param, value in zip(self.params, args):
            if param in converters:
                try:
                    subs[param] = converters[param].to_url(value)
                except ValueError:
                    return None
            else:
                subs[param] = str(value)
        candidate = self.template % subs
        if not self.match(candidate):
            return None
        return escape_leading_slashes(quote(candidate, safe=_SAFE))


_plans: dict[tuple, _Plan | None] = {}
_translated: dict[URLResolver, bool] = {}


def fast_reverse(viewname: str, *args) -> str:
    """reverse(viewname, args=args): the same URL or the same NoReverseMatch."""
    urlconf = get_urlconf()
    resolver = get_resolver(urlconf)
    prefix = get_script_prefix()
    try:
        translated = _translated[resolver]
    except KeyError:
        translated = _translated[resolver] = _has_translated_patterns(resolver)
    # Reading the active language costs as much as the rest: only a URLconf that varies by it pays.
    key = (viewname, resolver, prefix, get_language() if translated else None)
    try:
        plan = _plans[key]
    except KeyError:
        plan = _plan(viewname, resolver, prefix)
        if len(_plans) >= _MAX_PLANS:
            _plans.clear()
            _translated.clear()
        _plans[key] = plan
    if plan is not None:
        url = plan.build(args)
        if url is not None:
            return url
    return reverse(viewname, urlconf=urlconf, args=args)


def _plan(viewname: str, resolver, prefix: str) -> _Plan | None:
    """What reverse(viewname) finds before it looks at arguments (django.urls.base.reverse, with no
    current app), or None where that isn't one fixed pattern."""
    *namespaces, view = viewname.split(":")
    ns_pattern, ns_converters = "", {}
    for ns in namespaces:
        instances = resolver.app_dict.get(ns)
        if instances is not None:
            if len(instances) != 1:  # {% url %} would choose by the request's current app
                return None
            ns = instances[0]
        try:
            extra, resolver = resolver.namespace_dict[ns]
        except KeyError:  # reverse() raises NoReverseMatch naming it
            return None
        ns_pattern += extra
        ns_converters.update(resolver.pattern.converters)
    if ns_pattern:
        resolver = get_ns_resolver(ns_pattern, resolver, tuple(ns_converters.items()))
    possibilities = resolver.reverse_dict.getlist(view)
    if len(possibilities) != 1:
        return None
    possibility, pattern, _defaults, converters = possibilities[0]
    if len(possibility) != 1:
        return None
    result, params = possibility[0]
    return _Plan(prefix.replace("%", "%%") + result, tuple(params), converters,
                 re.compile("^%s%s" % (re.escape(prefix), pattern)).search)


def _has_translated_patterns(resolver: URLResolver) -> bool:
    """Whether a pattern under ``resolver`` reads differently per language (i18n_patterns, a lazy
    route), or may: a kind of pattern this doesn't know counts as translated."""
    for entry in resolver.url_patterns:
        pattern = entry.pattern
        if isinstance(pattern, LocalePrefixPattern):
            return True
        text = getattr(pattern, "_route", getattr(pattern, "_regex", None))
        if text is None or isinstance(text, Promise):
            return True
        if isinstance(entry, URLResolver) and _has_translated_patterns(entry):
            return True
    return False


@receiver(setting_changed)
def _urls_changed(*, setting, **kwargs):
    # A new URLconf is a new resolver (another key) already; this just lets the old plans go.
    if setting in {"ROOT_URLCONF", "FORCE_SCRIPT_NAME"}:
        _plans.clear()
        _translated.clear()
