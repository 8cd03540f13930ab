"""On AWS, ensure_tables asks about no table but the two, so the admin role's policy can name exactly
those two: a DescribeTable of any other name (the `<table>.rebuild` copy that only local servers ever
make) would be refused as AccessDenied there, not answered with ResourceNotFound."""

from chatsite import dynamodb


def test_ensure_tables_on_aws_names_only_the_two_tables(moto_tables):
    named = []
    stop = dynamodb.observe_requests(lambda operation, parameters: named.append((operation, parameters["TableName"])))
    try:
        dynamodb.ensure_tables(wait_seconds=5)
    finally:
        stop()
    tables = {dynamodb.table_name(dynamodb.CHAT), dynamodb.table_name(dynamodb.SESSIONS)}
    assert {"DescribeTable", "DescribeTimeToLive"} <= {operation for operation, _ in named}
    assert {table for _, table in named} == tables, named
