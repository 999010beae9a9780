"""Creates the demo's archive table and prints what it holds, against a local endpoint.

Usage: archive_table.py create|show ENDPOINT TABLE
"""
import json
import sys

import boto3
from boto3.dynamodb.types import TypeDeserializer


def client(endpoint):
    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def create(db, table):
    db.create_table(
        TableName=table,
        AttributeDefinitions=[{"AttributeName": "PK", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
        TableClass="STANDARD_INFREQUENT_ACCESS",
    )
    db.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 1})
    print(f"created archive table {table} (Standard-IA, key PK)")


def plain(value):
    """DynamoDB JSON to readable JSON; numbers keep their decimal strings."""
    kind, inner = next(iter(value.items()))
    if kind == "N":
        return inner
    if kind == "M":
        return {k: plain(v) for k, v in inner.items()}
    if kind == "L":
        return [plain(v) for v in inner]
    if kind in ("SS", "NS"):
        return sorted(inner)
    return TypeDeserializer().deserialize(value) if kind != "B" else f"<{len(inner)} bytes>"


def show(db, table):
    items = db.scan(TableName=table, ConsistentRead=True)["Items"]
    print(f"{len(items)} item(s) in archive table {table}:")
    for item in sorted(items, key=lambda i: i["PK"]["S"]):
        print("  " + json.dumps({k: plain(v) for k, v in sorted(item.items())}, ensure_ascii=False))


if __name__ == "__main__":
    command, endpoint, table = sys.argv[1:4]
    {"create": create, "show": show}[command](client(endpoint), table)
