"""The IAM policies in deploy/chatsite.yaml grant each role exactly the DynamoDB calls it makes.

The whole unit suite runs in a subprocess with the call recorder (tests/support/dynamodb_recorder.py),
which notes every DynamoDB call's action, table and index and whether a management command (the
admin role) or the web app (the web role) made it. tests/support/iam_policy.py then holds WebPolicy
and AdminPolicy to that record: a call its role's policy lacks fails (the app would be refused on
AWS), a grant no call of that role used fails (more than it needs), and so does any resource that is
not one of the two tables or their indexes.

Marked integration: it takes minutes, and the unit run it starts (``-m "not integration and not
browser"``) leaves it out, so it never runs itself. Hypothesis tries fewer examples there
(CHATSITE_QUICK_PROPERTIES, as in `make test-fast`): the same code paths, so the same calls.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from chatsite import dynamodb
from tests.support.dynamodb_recorder import ENV_VAR
from tests.support.iam_policy import POLICY_OF_ROLE, compare, load_template, policies_from_template, uses_from_record

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "deploy" / "chatsite.yaml"
XDIST = importlib.util.find_spec("xdist") is not None


@pytest.mark.integration
@pytest.mark.timeout(1800)
def test_each_role_is_granted_exactly_the_dynamodb_calls_it_makes(tmp_path):
    record_path = tmp_path / "calls.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update({ENV_VAR: str(record_path), "CHATSITE_QUICK_PROPERTIES": "1"})
    command = [sys.executable, "-m", "pytest", "-m", "not integration and not browser", "-q", "-p", "no:randomly",
               "-p", "tests.support.dynamodb_recorder", *(["-n", "2"] if XDIST else [])]
    run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1700)
    assert record_path.exists(), run.stdout[-4000:] + run.stderr[-4000:]  # the run ended before its session did
    record = json.loads(record_path.read_text())
    uses = uses_from_record(record, dynamodb.TABLES)
    policies, problems = policies_from_template(load_template(TEMPLATE))
    problems += compare(uses, policies, dynamodb.TABLES)
    report = "\n".join(problems)

    # A failing unit test may stop before some of its calls: the record is only whole when all pass.
    assert run.returncode == 0, f"{run.stdout[-4000:]}{run.stderr[-4000:]}\npolicy check meanwhile:\n{report}"
    if XDIST:
        assert record["workers"] == 2  # every worker's records were merged
    assert {use.role for use in uses} == set(POLICY_OF_ROLE)
    assert problems == [], report
