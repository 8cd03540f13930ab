"""request.user without the ORM: built lazily from the session's user id and the user item.

get_user reads the user item through a per-process cache (accounts.user_cache,
ACCOUNTS_USER_RECHECK_SECONDS), so a warm request costs no user read, and a password change,
deactivation or demotion reaches every session within that interval, even one the index missed
when its sessions were ended.
"""

from __future__ import annotations

from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY
from django.utils.functional import SimpleLazyObject

from accounts.auth import AnonymousUser, SessionUser
from accounts.request_info import client_ip, client_user_agent
from accounts.user_cache import user_cache

# Set (signed, short-lived) by the device-link page on the browser it has just signed in, so the
# session engine may wait briefly for the index to catch up on that browser's first requests.
JUST_LINKED_COOKIE = "device_just_linked"
JUST_LINKED_SECONDS = 30


def get_user(request) -> SessionUser | AnonymousUser:
    """The session's user, built from the user item. A session whose password hash no longer
    matches, whose user is inactive or gone, is flushed: the request is anonymous."""
    session = request.session
    user_id = session.get(SESSION_KEY)
    if not user_id:
        return AnonymousUser()
    session_hash = session.get(HASH_SESSION_KEY)
    snapshot, fresh = user_cache.get(str(user_id))
    if snapshot is None or not snapshot.admits(session_hash):
        if not fresh:  # the cached copy may predate a change made on another process: look again
            snapshot, _ = user_cache.get(str(user_id), fresh=True)
        if snapshot is None or not snapshot.admits(session_hash):
            session.flush()
            return AnonymousUser()
    return SessionUser(id=snapshot.user_id, username=snapshot.username, display_name=snapshot.display_name,
                       is_staff=snapshot.is_staff)


class AuthenticationMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = request.session
        # The engine keeps this for the "where you're signed in" page; it writes only on change.
        if hasattr(session, "set_client_info"):
            session.set_client_info(user_agent=client_user_agent(request), ip=client_ip(request))
            if request.get_signed_cookie(JUST_LINKED_COOKIE, default=None, salt=JUST_LINKED_COOKIE,
                                         max_age=JUST_LINKED_SECONDS):
                session.expect_new_link()
        request.user = SimpleLazyObject(lambda: get_user(request))
        return self.get_response(request)


def session_still_signs_in(*, session_key: str, user_id: str) -> bool:
    """For a long-lived request (a live stream) that checked its session when it began: does the
    session still exist and sign in ``user_id``, with the user still active and the password
    unchanged? One session read, and the user item through the user cache."""
    from importlib import import_module

    from django.conf import settings

    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key=session_key)
    if str(store.get(SESSION_KEY) or "") != str(user_id):
        return False
    snapshot, _ = user_cache.get(str(user_id))
    return snapshot is not None and snapshot.admits(store.get(HASH_SESSION_KEY))
