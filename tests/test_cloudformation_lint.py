"""cfn-lint (pinned in requirements-dev) finds nothing in deploy/chatsite.yaml: no error, warning or
informational finding. A broken copy of the template shows the linter really reports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.subprocess  # each test starts a Python or a tool: `make test`, not `make test-fast`

TEMPLATE = Path(__file__).resolve().parent.parent / "deploy" / "chatsite.yaml"
CFN_LINT = Path(sys.executable).parent / "cfn-lint"  # the venv's, at the pinned version


def _lint(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(CFN_LINT), "--include-checks", "I", "--", str(path)],
                          capture_output=True, text=True, timeout=120)


def test_cfn_lint_finds_nothing_in_the_template():
    result = _lint(TEMPLATE)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_cfn_lint_reports_a_broken_template(tmp_path):
    # An index keyed on an attribute the table does not define: CloudFormation would refuse it.
    broken = TEMPLATE.read_text().replace(
        "        - AttributeName: ThreadID\n          AttributeType: S\n", "", 1)
    assert broken != TEMPLATE.read_text()
    (tmp_path / "broken.yaml").write_text(broken)
    result = _lint(tmp_path / "broken.yaml")
    assert result.returncode != 0
    assert "ThreadID" in result.stdout
