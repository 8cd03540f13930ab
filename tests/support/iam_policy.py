"""Hold the IAM policies in deploy/chatsite.yaml to the DynamoDB calls the code makes.

``policies_from_template`` reads WebPolicy and AdminPolicy out of the CloudFormation template and
resolves each resource to a logical table and index; ``compare`` checks the calls the recorder
(tests/support/dynamodb_recorder.py) saw against them and lists every difference:
- a call whose role's policy does not grant its action on what it touched (the app would be refused);
- a grant of an action on a table or index that no call of that role used (more than it needs);
- a resource that is not one of the two tables or their indexes, a wildcard action, or a statement
  this check can't read (Deny, NotAction, NotResource, Condition): anything it can't prove exact.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

POLICY_OF_ROLE = {"web": "WebPolicy", "admin": "AdminPolicy"}
TABLE_INDEX = "*"  # Resource.index for `<table arn>/index/*`


@dataclass(frozen=True)
class Resource:
    """A DynamoDB resource by logical table: the table itself (index None), one index, or every
    index (TABLE_INDEX)."""
    table: str
    index: str | None = None

    def covers(self, table: str, index: str | None) -> bool:
        if self.table != table:
            return False
        if self.index == TABLE_INDEX:
            return index is not None
        return self.index == index

    def __str__(self) -> str:
        return self.table if self.index is None else f"{self.table}/index/{self.index}"


@dataclass(frozen=True)
class Grant:
    actions: tuple[str, ...]  # "dynamodb:Query", ...
    resources: tuple[Resource | str, ...]  # a str: a resource this check could not resolve to a table


@dataclass(frozen=True)
class Use:
    role: str
    action: str  # "Query" (the IAM action without its "dynamodb:" prefix)
    table: str | None  # the logical table; None when the call names none (ListTables)
    index: str | None = None


class _CloudFormationLoader(yaml.SafeLoader):
    pass


def _intrinsic(loader, tag_suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{tag_suffix}": value}


_CloudFormationLoader.add_multi_constructor("!", _intrinsic)


def load_template(path: Path) -> dict:
    return yaml.load(path.read_text(), Loader=_CloudFormationLoader)  # noqa: S506 - a SafeLoader subclass


_REFERENCE = re.compile(r"\$\{[^}]*\}")


def _sub_text(value) -> str | None:
    """The text of a plain string, an Fn::Sub or an Fn::Join, with references dropped (${...} and
    !Ref: the prefix parameter, the partition, region and account); None for anything else."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        text = sub[0] if isinstance(sub, list) else sub
        return _REFERENCE.sub("", text) if isinstance(text, str) else None
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        if not all(isinstance(part, str) or (isinstance(part, dict) and "Ref" in part) for part in parts):
            return None
        return separator.join(part if isinstance(part, str) else "" for part in parts)
    return None


def tables_of(template: dict) -> dict[str, str]:
    """{CloudFormation logical id: logical table name} of each AWS::DynamoDB::Table (its TableName
    with the prefix parameter dropped)."""
    found = {}
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") == "AWS::DynamoDB::Table":
            name = _sub_text(resource.get("Properties", {}).get("TableName"))
            if name:
                found[logical_id] = name
    return found


def resolve(resource, tables: dict[str, str]) -> Resource | str:
    """A policy statement's resource as a Resource, or its text when it is not a table or index."""
    if isinstance(resource, dict) and "Fn::GetAtt" in resource:
        logical_id, attribute = resource["Fn::GetAtt"]
        if attribute == "Arn" and logical_id in tables:
            return Resource(tables[logical_id])
    if isinstance(resource, dict) and "Fn::Sub" in resource:
        sub = resource["Fn::Sub"]
        text = sub[0] if isinstance(sub, list) else sub
        match = re.fullmatch(r"\$\{(\w+)\.Arn\}/index/([\w.*-]+)", text or "")
        if match and match.group(1) in tables:
            return Resource(tables[match.group(1)], match.group(2))
        match = re.fullmatch(r"arn:[^:]*:dynamodb:[^:]*:[^:]*:table/([\w.-]+)(?:/index/([\w.*-]+))?",
                             _sub_text(resource) or "")
        if match:
            return Resource(match.group(1), match.group(2))
    return yaml.safe_dump(resource, default_flow_style=True).strip()


def policies_from_template(template: dict) -> tuple[dict[str, list[Grant]], list[str]]:
    """({role: its policy's grants}, problems found reading them)."""
    tables = tables_of(template)
    resources = template.get("Resources", {})
    policies: dict[str, list[Grant]] = {}
    problems = []
    for role, logical_id in POLICY_OF_ROLE.items():
        resource = resources.get(logical_id)
        if not resource or resource.get("Type") != "AWS::IAM::ManagedPolicy":
            problems.append(f"{logical_id}: no AWS::IAM::ManagedPolicy of that name in the template")
            continue
        statements = resource.get("Properties", {}).get("PolicyDocument", {}).get("Statement", [])
        grants = policies[role] = []
        for n, statement in enumerate(statements if isinstance(statements, list) else [statements]):
            unreadable = sorted(set(statement) & {"NotAction", "NotResource", "Condition", "NotPrincipal"})
            if statement.get("Effect") != "Allow" or unreadable:
                problems.append(f"{logical_id} statement {n}: only plain Allow statements can be checked "
                                f"(Effect {statement.get('Effect')}{', ' if unreadable else ''}{', '.join(unreadable)})")
                continue
            actions = statement.get("Action", [])
            listed = statement.get("Resource", [])
            grants.append(Grant(tuple(actions if isinstance(actions, list) else [actions]),
                                tuple(resolve(r, tables) for r in (listed if isinstance(listed, list) else [listed]))))
    return policies, problems


def compare(uses, policies: dict[str, list[Grant]], tables) -> list[str]:
    """Every difference between the calls made (``uses``) and the policies' grants, one line each;
    empty when each role's policy grants exactly what that role used. ``tables``: the logical table
    names a policy may name."""
    uses = set(uses)
    problems = []
    for role, grants in policies.items():
        for grant in grants:
            for action in grant.actions:
                if not action.startswith("dynamodb:") or any(c in action for c in "*?["):
                    problems.append(f"{POLICY_OF_ROLE[role]} grants {action}: only DynamoDB actions, named one by one")
            for resource in grant.resources:
                if not isinstance(resource, Resource) or resource.table not in tables:
                    problems.append(f"{POLICY_OF_ROLE[role]} grants on {resource}, which is not one of the tables "
                                    f"{', '.join(sorted(tables))} or their indexes")
    for use in sorted(uses, key=lambda u: (u.role, u.action, str(u.table), str(u.index))):
        grants = policies.get(use.role)
        if grants is None:
            continue  # no such policy: reported by policies_from_template
        where = use.table if use.index is None else f"{use.table}/index/{use.index}"
        if use.table is None or use.table not in tables:
            problems.append(f"{use.role} calls {use.action} on {where or 'no table (resource *)'}, outside the "
                            f"two tables: no policy may grant it")
            continue
        if not any(_grants(grant, use.action, use.table, use.index) for grant in grants):
            problems.append(f"{use.role} calls {use.action} on {where} but {POLICY_OF_ROLE[use.role]} "
                            f"does not grant it")
    for role, grants in policies.items():
        used = [use for use in uses if use.role == role]
        for grant in grants:
            for action in grant.actions:
                for resource in grant.resources:
                    if not isinstance(resource, Resource):
                        continue
                    if not any(_grants(Grant((action,), (resource,)), use.action, use.table, use.index)
                               for use in used):
                        problems.append(f"{POLICY_OF_ROLE[role]} grants {action} on {resource}, which no "
                                        f"{role} call used")
    return problems


def _grants(grant: Grant, action: str, table: str, index: str | None) -> bool:
    return (any(fnmatch.fnmatchcase(f"dynamodb:{action}", granted) for granted in grant.actions)
            and any(isinstance(r, Resource) and r.covers(table, index) for r in grant.resources))


def uses_from_record(record: dict, tables) -> list[Use]:
    """The calls of the web app and the admin commands in a recorder file. Left out: the tests' own
    calls (no role makes them), and calls to a local endpoint naming a table that is not one of
    ``tables`` (ensure_tables' `<table>.rebuild` copy, made only on servers without online indexing,
    never on AWS, where IAM applies)."""
    return [Use(call["role"], call["action"], call["table"], call["index"]) for call in record["calls"]
            if call["role"] in POLICY_OF_ROLE and (call["endpoint"] == "aws" or call["table"] in tables)]
