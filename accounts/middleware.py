"""request.user without the ORM: built lazily from what the session already holds.

No user read on the hot path. Deactivating a user or changing a password deletes that user's
sessions, so a per-request `is_active` read is not needed.
"""

from __future__ import annotations

from django.utils.functional import SimpleLazyObject

from accounts.auth import get_user


class AuthenticationMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.user = SimpleLazyObject(lambda: get_user(request))
        return self.get_response(request)
