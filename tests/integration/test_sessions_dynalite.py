"""The session engine's whole contract (tests/accounts/test_sessions.py) against real dynalite:
conditional writes, the GSI, paging Scans and clearsessions where there is no TTL at all."""

from __future__ import annotations

import pytest

from tests.accounts.test_sessions import SessionContract

pytestmark = pytest.mark.integration


class TestSessionsOnDynalite(SessionContract):
    @pytest.fixture
    def tables(self, dynalite_tables):
        return dynalite_tables
