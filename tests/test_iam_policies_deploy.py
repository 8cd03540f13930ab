"""deploy/chatsite.yaml's WebPolicy and AdminPolicy, deployed into moto's CloudFormation, grant what
the policy check reads in the template (tests/support/iam_policy.py resolves `!GetAtt Table.Arn` and
`!Sub "${Table.Arn}/index/..."` itself): the same actions on the deployed tables' ARNs and their
indexes' ARNs, and nothing else. The web policy never grants a Scan or a table or TTL change."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
from moto import mock_aws

from chatsite import dynamodb
from tests.support.iam_policy import POLICY_OF_ROLE, Resource, load_template, policies_from_template

TEMPLATE = Path(__file__).resolve().parents[1] / "deploy" / "chatsite.yaml"


def _deployed_policies(prefix: str) -> tuple[dict[str, tuple[str, dict]], dict[str, str]]:
    """({policy logical id: (its ARN, its document)}, {output key: value}) of the stack made from
    the template."""
    cloudformation = boto3.client("cloudformation", region_name="us-east-1")
    iam = boto3.client("iam", region_name="us-east-1")
    cloudformation.create_stack(StackName="chatsite", TemplateBody=TEMPLATE.read_text(),
                                Parameters=[{"ParameterKey": "TablePrefix", "ParameterValue": prefix}])
    stack = cloudformation.describe_stacks(StackName="chatsite")["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    documents = {}
    for resource in cloudformation.list_stack_resources(StackName="chatsite")["StackResourceSummaries"]:
        if resource["ResourceType"] == "AWS::IAM::ManagedPolicy":
            arn = resource["PhysicalResourceId"]
            version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
            document = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]
            document = json.loads(document) if isinstance(document, str) else document
            documents[resource["LogicalResourceId"]] = arn, document
    return documents, outputs


def _pairs(statements, arn_of) -> set[tuple[str, str]]:
    pairs = set()
    for statement in statements:
        actions = statement.actions if hasattr(statement, "actions") else statement["Action"]
        resources = statement.resources if hasattr(statement, "resources") else statement["Resource"]
        for action in [actions] if isinstance(actions, str) else actions:
            for resource in [resources] if isinstance(resources, str) else resources:
                pairs.add((action, arn_of(resource)))
    return pairs


def test_the_deployed_policies_grant_what_the_template_check_reads():
    with mock_aws():
        documents, outputs = _deployed_policies("prod_")
        tables = {"chat": outputs["ChatTableArn"], "session_store": outputs["SessionTableArn"]}
        assert tables["chat"].endswith(":table/prod_chat")

        def arn_of(resource: Resource) -> str:
            return tables[resource.table] + ("" if resource.index is None else f"/index/{resource.index}")

        read, problems = policies_from_template(load_template(TEMPLATE))
        assert problems == []
        assert set(documents) == set(POLICY_OF_ROLE.values())
        for role, logical_id in POLICY_OF_ROLE.items():
            arn, document = documents[logical_id]
            assert _pairs(document["Statement"], lambda arn: arn) == _pairs(read[role], arn_of), logical_id
            assert all(statement["Effect"] == "Allow" for statement in document["Statement"])
            assert outputs[f"{logical_id}Arn"] == arn  # what an operator attaches to the role


def test_the_web_policy_grants_no_scan_and_no_table_or_ttl_change():
    policies, _ = policies_from_template(load_template(TEMPLATE))
    web = {action for grant in policies["web"] for action in grant.actions}
    admin = {action for grant in policies["admin"] for action in grant.actions}
    table_level = {"dynamodb:Scan", "dynamodb:CreateTable", "dynamodb:DeleteTable", "dynamodb:UpdateTable",
                   "dynamodb:UpdateTimeToLive"}
    assert not web & table_level
    assert "dynamodb:DeleteTable" not in admin
    named = {resource.table for role in policies.values() for grant in role for resource in grant.resources}
    assert named == set(dynamodb.TABLES)
