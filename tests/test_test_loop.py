"""The test suite's own rules: fast hashing in-process, Argon2 where asked, the unit tier never
starts a server, helpers come from tests/support/ (never from a conftest)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password

TESTS = Path(__file__).resolve().parent


def test_in_process_tests_hash_with_the_fast_hasher_and_still_verify_argon2():
    assert make_password("plum-Orchard-47").startswith("md5$")
    argon2_hashers = [h for h in settings.PASSWORD_HASHERS if h.endswith("Argon2PasswordHasher")]
    assert argon2_hashers, settings.PASSWORD_HASHERS  # production hashes still verify
    argon2_hash = make_password("plum-Orchard-47", hasher="argon2")
    assert check_password("plum-Orchard-47", argon2_hash)


@pytest.mark.argon2
def test_tests_marked_argon2_hash_with_argon2():
    assert make_password("plum-Orchard-47").startswith("argon2$")


def test_no_selected_unit_test_starts_dynalite(request):
    """Under `make test-fast` (-m "not integration and not browser and not subprocess") no selected
    test may use the dynalite fixture: the conftest marks every such test `integration`."""
    unmarked = [item.nodeid for item in request.session.items
                if "dynalite" in getattr(item, "fixturenames", ()) and not item.get_closest_marker("integration")]
    assert unmarked == []


def test_helpers_are_imported_from_tests_support_never_from_a_conftest():
    offenders = []
    for path in TESTS.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            module = node.module if isinstance(node, ast.ImportFrom) else None
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            if any(name and name.split(".")[-1] == "conftest" for name in [module, *names]):
                offenders.append(f"{path.relative_to(TESTS.parent)}:{node.lineno}")
    assert offenders == []
