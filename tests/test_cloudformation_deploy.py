"""deploy/chatsite.yaml deployed into moto's CloudFormation (one mock_aws covers CloudFormation and
DynamoDB) makes the tables `ensure_tables --check` finds matching the code.

moto 5.2's CloudFormation builds the table from KeySchema, AttributeDefinitions,
GlobalSecondaryIndexes, BillingMode, ProvisionedThroughput and DeletionProtectionEnabled, and ignores
TimeToLiveSpecification and PointInTimeRecoverySpecification (moto's Table.create_from_cloudformation_json
never reads them) and SSESpecification (it looks for the API's `Enabled`, not CloudFormation's
`SSEEnabled`). So the check first reports TTL and point-in-time recovery off, exactly that; the test
then applies those two properties as written in the template, as CloudFormation does on AWS, and the
check must pass. tests/test_cloudformation_template.py holds their values, and encryption, to the code.
"""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from django.core.management import call_command
from moto import mock_aws

from chatsite import dynamodb
from tests.support.iam_policy import load_template

TEMPLATE = Path(__file__).resolve().parent.parent / "deploy" / "chatsite.yaml"


@pytest.fixture
def stack():
    """Deploy the template with the given parameters into moto; the app pointed at its prefix."""
    with mock_aws():
        def deploy(prefix: str, **parameters) -> dict:
            dynamodb.configure(endpoint_url=None, prefix=prefix)
            cloudformation = boto3.client("cloudformation", region_name="us-east-1")
            cloudformation.create_stack(
                StackName="chatsite", TemplateBody=TEMPLATE.read_text(),
                Parameters=[{"ParameterKey": key, "ParameterValue": str(value)}
                            for key, value in {"TablePrefix": prefix, **parameters}.items()])
            described = cloudformation.describe_stacks(StackName="chatsite")["Stacks"][0]
            assert described["StackStatus"] == "CREATE_COMPLETE", described.get("StackStatusReason")
            return {output["OutputKey"]: output["OutputValue"] for output in described["Outputs"]}
        try:
            yield deploy
        finally:
            dynamodb.configure(endpoint_url=None, prefix="test_")


def _apply_what_moto_ignores() -> None:
    """TTL and point-in-time recovery, from the template's own text (not from the code)."""
    client = dynamodb.client()
    for resource in load_template(TEMPLATE)["Resources"].values():
        if resource["Type"] != "AWS::DynamoDB::Table":
            continue
        properties = resource["Properties"]
        name = dynamodb.table_name(properties["TableName"]["Fn::Sub"].removeprefix("${TablePrefix}"))
        client.update_time_to_live(TableName=name, TimeToLiveSpecification=properties["TimeToLiveSpecification"])
        client.update_continuous_backups(TableName=name, PointInTimeRecoverySpecification=properties[
            "PointInTimeRecoverySpecification"])


def test_the_deployed_template_has_the_codes_tables_and_check_reports_no_drift(stack, capsys):
    outputs = stack("stack_")
    assert outputs["ChatTableName"] == dynamodb.table_name(dynamodb.CHAT) == "stack_chat"
    assert outputs["SessionTableName"] == dynamodb.table_name(dynamodb.SESSIONS) == "stack_session_store"
    assert outputs["ChatTableArn"].endswith(":table/stack_chat")

    # What moto's CloudFormation made, as the check sees it: keys, attribute types, indexes and
    # projections match; only the two properties moto ignores differ.
    assert dynamodb.check_tables() == {
        "stack_chat": ["TTL: DISABLED; the code expects it ENABLED on ExpiresAt",
                       "point-in-time recovery: DISABLED; the code expects ENABLED"],
        "stack_session_store": ["TTL: DISABLED; the code expects it ENABLED on expires_at",
                                "point-in-time recovery: DISABLED; the code expects ENABLED"],
    }
    _apply_what_moto_ignores()
    call_command("ensure_tables", "--check")  # raises CommandError on any drift
    out = capsys.readouterr().out
    assert "stack_chat: matches the code" in out and "stack_session_store: matches the code" in out

    client = dynamodb.client()
    for name in ("stack_chat", "stack_session_store"):
        table = client.describe_table(TableName=name)["Table"]
        assert table["DeletionProtectionEnabled"] is True
        assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"


def test_provisioned_billing_gives_each_table_and_index_the_capacity_parameters(stack):
    stack("prov_", BillingMode="PROVISIONED", ReadCapacityUnits=7, WriteCapacityUnits=3)
    _apply_what_moto_ignores()
    assert dynamodb.check_tables() == {"prov_chat": [], "prov_session_store": []}  # billing is not drift
    client = dynamodb.client()
    for name in ("prov_chat", "prov_session_store"):
        table = client.describe_table(TableName=name)["Table"]
        assert table["BillingModeSummary"]["BillingMode"] == "PROVISIONED"
        capacities = [table["ProvisionedThroughput"]] + [i["ProvisionedThroughput"] for i in table["GlobalSecondaryIndexes"]]
        assert {(c["ReadCapacityUnits"], c["WriteCapacityUnits"]) for c in capacities} == {(7, 3)}


def test_a_stack_whose_prefix_differs_from_the_apps_is_reported_missing(stack):
    stack("other_")
    dynamodb.configure(endpoint_url=None, prefix="app_")  # DYNAMODB_TABLE_PREFIX not set to the stack's
    drift = dynamodb.check_tables()
    assert drift["app_chat"][0].startswith("table missing")
