"""deploy/chatsite.yaml declares the two tables exactly as chatsite/dynamodb.py's TABLES does: names
from the TablePrefix parameter, keys, attribute types, every index with its projection, the TTL
attribute, and the production settings (point-in-time recovery, deletion protection, encryption,
billing mode from a parameter). Read from the template's text: moto's CloudFormation drops some of
these properties (tests/test_cloudformation_deploy.py), so this is where they are held to the code."""

from __future__ import annotations

from pathlib import Path

from chatsite import dynamodb
from tests.support.iam_policy import load_template

TEMPLATE = Path(__file__).resolve().parent.parent / "deploy" / "chatsite.yaml"
PROVISIONED = {"Fn::If": ["Provisioned", {"ReadCapacityUnits": {"Ref": "ReadCapacityUnits"},
                                          "WriteCapacityUnits": {"Ref": "WriteCapacityUnits"}},
                          {"Ref": "AWS::NoValue"}]}


def _tables() -> dict[str, dict]:
    """{logical table (chat, session_store): the resource's Properties}."""
    found = {}
    for resource in load_template(TEMPLATE)["Resources"].values():
        if resource["Type"] == "AWS::DynamoDB::Table":
            name = resource["Properties"]["TableName"]["Fn::Sub"]
            assert name.startswith("${TablePrefix}"), name  # as chatsite.dynamodb.table_name builds it
            found[name.removeprefix("${TablePrefix}")] = resource
    return found


def test_the_template_declares_exactly_the_codes_tables():
    assert sorted(_tables()) == sorted(spec.name for spec in dynamodb.TABLES.values())


def test_each_table_has_the_codes_keys_indexes_and_ttl():
    for name, resource in _tables().items():
        spec = dynamodb.TABLES[name]
        request = spec.create_request(name)
        properties = resource["Properties"]
        assert properties["KeySchema"] == request["KeySchema"], name
        assert properties["AttributeDefinitions"] == request["AttributeDefinitions"], name
        indexes = [{k: v for k, v in index.items() if k != "ProvisionedThroughput"}
                   for index in properties["GlobalSecondaryIndexes"]]
        assert indexes == request["GlobalSecondaryIndexes"], name
        assert "LocalSecondaryIndexes" not in properties
        assert properties["TimeToLiveSpecification"] == {"AttributeName": spec.ttl_attribute, "Enabled": True}


def test_each_table_is_recoverable_protected_encrypted_and_billed_as_the_parameter_says():
    parameters = load_template(TEMPLATE)["Parameters"]
    assert parameters["BillingMode"]["Default"] == "PAY_PER_REQUEST"
    assert set(parameters["BillingMode"]["AllowedValues"]) == {"PAY_PER_REQUEST", "PROVISIONED"}
    assert parameters["TablePrefix"]["Default"] == ""  # the app's DYNAMODB_TABLE_PREFIX default
    for name, resource in _tables().items():
        properties = resource["Properties"]
        assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert properties["DeletionProtectionEnabled"] is True
        assert properties["SSESpecification"]["SSEEnabled"] is True
        assert resource["DeletionPolicy"] == resource["UpdateReplacePolicy"] == "Retain"
        assert properties["BillingMode"] == {"Ref": "BillingMode"}
        # Capacity only when provisioned, for the table and each of its indexes (DynamoDB requires both).
        assert properties["ProvisionedThroughput"] == PROVISIONED, name
        assert all(index["ProvisionedThroughput"] == PROVISIONED for index in properties["GlobalSecondaryIndexes"])


def test_the_outputs_name_each_table_and_its_arn():
    outputs = load_template(TEMPLATE)["Outputs"]
    for logical_id in ("ChatTable", "SessionTable"):
        assert outputs[f"{logical_id}Name"]["Value"] == {"Ref": logical_id}
        assert outputs[f"{logical_id}Arn"]["Value"] == {"Fn::GetAtt": [logical_id, "Arn"]}
