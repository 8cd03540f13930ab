"""chatsite.urls_fast.fast_reverse gives what django.urls.reverse gives: the same URL, or the same
NoReverseMatch, for every URL name the pages build with it, over any ids the validators allow
(non-ASCII usernames included) and any text at all, under any script prefix and another URLconf."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.conf.urls.i18n import i18n_patterns
from django.test import override_settings
from django.http import HttpResponse
from django.urls import NoReverseMatch, include, path, reverse, set_script_prefix
from django.utils import translation
from hypothesis import given, settings as hypothesis_settings, strategies as st

from accounts.validators import validate_username
from chatsite import urls_fast
from chatsite.urls_fast import fast_reverse
from rooms import validators
from tests.support.examples import examples

# Every name the templates' {% fast_url %} and the Python callers build (grep fast_reverse / fast_url).
ROOM_NAMES = ["rooms:room", "rooms:react", "rooms:edit_message", "rooms:message_history", "rooms:delete",
              "rooms:unread"]

# A second URLconf: the same app under a prefix, as a deployment might mount it.
urlpatterns = [path("chat/", include("rooms.urls")), path("accounts/", include("accounts.urls"))]


class TranslatedUrls:
    """A URLconf whose URLs differ by language (i18n_patterns puts it first in the path)."""
    urlpatterns = i18n_patterns(path("p/<str:name>/", lambda request, name: HttpResponse(), name="page"))


def _outcome(call):
    try:
        return call()
    except NoReverseMatch:
        return NoReverseMatch


def assert_same(name, *args):
    expected = _outcome(lambda: reverse(name, args=args))
    assert _outcome(lambda: fast_reverse(name, *args)) == expected, (name, args)
    assert _outcome(lambda: fast_reverse(name, *args)) == expected, (name, args)  # planned now: again
    return expected


def _username(text):
    try:
        return validate_username(text)
    except ValidationError:
        return None


room_names = st.text(min_size=1, max_size=80).map(lambda name: validators.room_id_from_name(name))
room_ids = st.one_of(room_names.filter(lambda room_id: len(room_id) >= 1),
                     st.from_regex(r"dm-[0-9a-f]{32}", fullmatch=True))
message_ids = st.one_of(st.builds(validators.new_token), st.from_regex(r"[A-Za-z0-9_-]{1,30}", fullmatch=True))
user_ids = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=3, max_size=30).map(
    _username).filter(lambda user_id: user_id is not None)
anything = st.text(max_size=60)  # what a template might pass by mistake: refused the same way
prefixes = st.sampled_from(["/", "/chat/", "/a b/", "/caf\u00e9/", "/100%/", "//x/"])


@pytest.fixture(autouse=True)
def default_prefix():
    yield
    set_script_prefix("/")


@hypothesis_settings(max_examples=examples(300), deadline=None)
@given(name=st.sampled_from(ROOM_NAMES), room_id=st.one_of(room_ids, anything), prefix=prefixes)
def test_room_urls_are_reverses(name, room_id, prefix):
    set_script_prefix(prefix)
    assert_same(name, room_id)


@hypothesis_settings(max_examples=examples(300), deadline=None)
@given(room_id=st.one_of(room_ids, anything), message_id=st.one_of(message_ids, anything), prefix=prefixes)
def test_thread_urls_are_reverses(room_id, message_id, prefix):
    set_script_prefix(prefix)
    assert_same("rooms:thread", room_id, message_id)


@hypothesis_settings(max_examples=examples(300), deadline=None)
@given(user_id=st.one_of(user_ids, anything), prefix=prefixes)
def test_user_urls_are_reverses_non_ascii_names_included(user_id, prefix):
    set_script_prefix(prefix)
    assert_same("rooms:user", user_id)


def test_known_answers():
    assert assert_same("rooms:user", "zo\u00eb") == "/u/zo%C3%AB/"
    assert assert_same("rooms:user", "a&b'(c)") == "/u/a&b'(c)/"  # RFC 3986 sub-delims stay as they are
    assert assert_same("rooms:thread", "art", "x?y#z") == "/rooms/art/threads/x%3Fy%23z/"
    assert assert_same("rooms:room", "Not A Slug") is NoReverseMatch
    assert assert_same("rooms:thread", "art", "a/b") is NoReverseMatch
    assert assert_same("rooms:room", "art", "extra") is NoReverseMatch  # the wrong number of arguments
    assert assert_same("rooms:nowhere", "art") is NoReverseMatch
    assert assert_same("nowhere:room", "art") is NoReverseMatch
    assert assert_same("rooms:list") == "/"


def test_the_script_prefix_of_each_call_counts_not_the_first():
    assert fast_reverse("rooms:room", "art") == "/rooms/art/"
    set_script_prefix("/chat/")
    assert assert_same("rooms:room", "art") == "/chat/rooms/art/"
    set_script_prefix("/")
    assert fast_reverse("rooms:room", "art") == "/rooms/art/"


def test_another_urlconf_gets_its_own_urls():
    assert fast_reverse("rooms:room", "art") == "/rooms/art/"
    with override_settings(ROOT_URLCONF=__name__):
        assert assert_same("rooms:room", "art") == "/chat/rooms/art/"
        assert assert_same("rooms:user", "zo\u00eb") == "/chat/u/zo%C3%AB/"
    assert assert_same("rooms:room", "art") == "/rooms/art/"


def test_a_name_it_cannot_plan_still_answers_through_reverse(monkeypatch):
    monkeypatch.setattr(urls_fast, "_plans", {})
    monkeypatch.setattr(urls_fast, "_plan", lambda *args: None)
    assert fast_reverse("rooms:user", "zo\u00eb") == "/u/zo%C3%AB/"
    with pytest.raises(NoReverseMatch):
        fast_reverse("rooms:room", "Not A Slug")


def test_a_urlconf_that_varies_by_language_gets_each_languages_urls():
    with override_settings(ROOT_URLCONF=TranslatedUrls):
        assert urls_fast._has_translated_patterns(urls_fast.get_resolver())
        with translation.override("de"):
            assert assert_same("page", "zo\u00eb") == "/de/p/zo%C3%AB/"
        with translation.override("fr"):
            assert assert_same("page", "x") == "/fr/p/x/"
    assert not urls_fast._has_translated_patterns(urls_fast.get_resolver())  # this site's: no language read
