"""Every command docs/operations.md tells an operator to run exists and takes the flags it is
given there, and is covered by a test the page names.

- `manage.py <command> ...` (in code blocks and inline code): the command is installed and its own
  argument parser accepts the arguments as written (Django's parser raises CommandError on an
  unknown flag, a missing argument or a bad choice).
- `aws dynamodb <operation> ...`: the operation is in botocore's DynamoDB model and each option
  names a parameter of it (the AWS CLI's options are the parameters' names, kebab-cased), so a
  typo in the runbook fails here rather than during an incident. Whether AWS then does what the
  page says cannot be run without an account; the page says which steps those are.
- The page's table "Commands and the tests that cover them" lists every `manage.py` command used
  on the page, and each test it names exists.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import botocore.session
import pytest
from botocore import xform_name
from django.core.management import CommandError, get_commands, load_command_class

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "operations.md"
SHELL_OPERATORS = {"|", "||", "&&", ";", ">", ">>", "<", "2>&1", "&"}
AWS_GLOBAL_OPTIONS = {"--region", "--output", "--query", "--profile", "--no-cli-pager", "--cli-input-json"}


def snippets(text: str) -> list[str]:
    """Each line of every fenced block (backslash continuations joined) and each inline code span."""
    found, fenced, block = [], False, []
    for line in text.splitlines():
        if line.strip().startswith("```"):
            if fenced:
                found.extend(re.sub(r"\\\n\s*", " ", "\n".join(block)).splitlines())
                block = []
            fenced = not fenced
            continue
        if fenced:
            block.append(line)
        else:
            found.extend(re.findall(r"`([^`\n]+)`", line))
    return found


def invocations(program: str, text: str) -> list[list[str]]:
    """The words after ``program`` in each snippet that runs it, up to a shell operator."""
    runs = []
    for snippet in snippets(text):
        for match in re.finditer(rf"(?:^|[\s/]){re.escape(program)}\s+(.*)$", snippet):
            words = []
            for word in shlex.split(match.group(1), comments=True):
                if word in SHELL_OPERATORS or word.startswith(("2>", ">", "|")):
                    break
                words.append(word)
            if words:
                runs.append(words)
    return runs


COVERAGE_HEADING = "## Commands and the tests that cover them"
DOC_TEXT = DOC.read_text(encoding="utf-8") if DOC.exists() else ""


def _without_coverage_table(text: str) -> str:
    """The page minus its coverage table, whose cells name commands without their arguments."""
    head, _, rest = text.partition(COVERAGE_HEADING)
    return head + ("\n## " + rest.split("\n## ", 1)[1] if "\n## " in rest else "")


MANAGE = invocations("manage.py", _without_coverage_table(DOC_TEXT))
AWS = [words for words in invocations("aws", DOC_TEXT) if len(words) > 1]  # not "`aws dynamodb`" in prose


def test_the_page_exists_and_runs_commands():
    assert DOC.exists()
    assert len(MANAGE) >= 10 and len(AWS) >= 4  # the extraction found the page's commands


@pytest.mark.parametrize("words", MANAGE, ids=[" ".join(w) for w in MANAGE])
def test_each_manage_py_command_exists_and_accepts_its_flags(words):
    name, args = words[0], words[1:]
    commands = get_commands()
    assert name in commands, f"manage.py {name}: no such command"
    command = load_command_class(commands[name], name)
    parser = command.create_parser("manage.py", name)
    try:
        parser.parse_args(args)
    except CommandError as exc:
        pytest.fail(f"manage.py {' '.join(words)}: {exc}")


def test_the_parser_check_catches_a_wrong_flag():
    # The check above can fail: an unknown flag or a missing argument is refused.
    for words in (["export_room", "general", "--outptu", "x"], ["purge_messages", "--room", "general"]):
        command = load_command_class(get_commands()[words[0]], words[0])
        with pytest.raises(CommandError):
            command.create_parser("manage.py", words[0]).parse_args(words[1:])


def check_aws_command(words: list[str]) -> None:
    """``aws <service> <operation> --option ...``: an API operation of the service (not a CLI-only
    command such as ``cloudformation deploy``) and options that are its parameters."""
    service, operation = words[0], words[1]
    model = botocore.session.get_session().get_service_model(service)
    operations = {xform_name(name, "-"): name for name in model.operation_names}
    assert operation in operations, f"aws {service} {operation}: no such operation"
    members = model.operation_model(operations[operation]).input_shape.members
    options = {"--" + xform_name(member, "-") for member in members}
    options |= {"--no-" + option[2:] for option in options}  # the CLI's negated booleans
    for word in words[2:]:
        if word.startswith("--"):
            assert word in options | AWS_GLOBAL_OPTIONS, f"aws {service} {operation}: no option {word}"


@pytest.mark.parametrize("words", AWS, ids=[" ".join(w[:2]) for w in AWS])
def test_each_aws_command_names_a_real_operation_and_parameters(words):
    check_aws_command(words)


def test_the_aws_check_catches_a_wrong_operation_or_option():
    check_aws_command(["dynamodb", "update-continuous-backups", "--table-name", "t"])
    for words in (["dynamodb", "restore-table", "--table-name", "t"],
                  ["dynamodb", "update-continuous-backups", "--table", "t"]):
        with pytest.raises(AssertionError):
            check_aws_command(words)


def coverage_table() -> dict[str, list[str]]:
    """command -> the tests named in the page's coverage table."""
    section = DOC_TEXT.split(COVERAGE_HEADING, 1)[1].split("\n## ", 1)[0]
    table = {}
    for row in re.findall(r"^\|(.+)\|\s*$", section, re.M):
        cells = [cell.strip() for cell in row.split("|")]
        commands = re.findall(r"manage\.py ([a-z_]+)", cells[0])
        tests = re.findall(r"`(tests/[^`]+)`", cells[-1])
        for command in commands:
            table.setdefault(command, []).extend(tests)
    return table


def test_every_command_on_the_page_has_a_test_that_exists():
    table = coverage_table()
    used = {words[0] for words in MANAGE}
    assert sorted(used - set(table)) == [], "commands on the page missing from its coverage table"
    for command, tests in table.items():
        assert tests, f"{command}: no test named"
        for test in tests:
            path, _, name = test.partition("::")
            file = ROOT / path
            assert file.exists(), f"{command}: {path} does not exist"
            if name:
                assert re.search(rf"^\s*(?:async )?def {re.escape(name.split('[')[0])}\(",
                                 file.read_text(encoding="utf-8"), re.M), f"{command}: no {test}"
