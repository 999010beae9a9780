"""Creates a local archive table and prints what it holds (dynalite or any DynamoDB endpoint).

  python3 tools/archive_table.py create ENDPOINT TABLE [--key NAME:TYPE ...] [--like EVENT_FILE]
  python3 tools/archive_table.py show ENDPOINT TABLE

The key is PK:S unless given: with --key (partition key first, then the sort key), or --like an
event file, whose first record's Keys name the key (in the order they appear there). Items print
one per line, sorted by key, attributes sorted, numbers as the decimal strings DynamoDB keeps.
"""
import argparse
import datetime
import json
import socket
import sys
import time
import urllib.parse

import boto3
from botocore.exceptions import BotoCoreError, ClientError

TYPES = ("S", "N", "B")


def client(endpoint):
    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def wait_for(endpoint, seconds=15):
    """Waits until the endpoint accepts connections: a DynamoDB started a moment ago (dynalite
    with `&` in the line before) takes a second to listen."""
    url = urllib.parse.urlsplit(endpoint)
    port = url.port or (443 if url.scheme == "https" else 80)
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection((url.hostname, port), timeout=1).close()
            return
        except OSError as err:
            if time.monotonic() > deadline:
                raise OSError(f"nothing answers at {endpoint} after {seconds} s ({err})") from err
            time.sleep(0.2)


def key_type(text):
    name, _, kind = text.rpartition(":")
    if not name or kind not in TYPES:
        raise argparse.ArgumentTypeError(f"expected NAME:TYPE with TYPE one of S, N, B, got {text!r}")
    return name, kind


def key_of_event(path):
    with open(path, encoding="utf-8") as file:
        event = json.load(file)
    keys = event["Records"][0]["dynamodb"]["Keys"]
    return [(name, next(iter(value))) for name, value in keys.items()]


def create(db, table, key):
    roles = ("HASH", "RANGE")
    db.create_table(
        TableName=table,
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": t} for n, t in key],
        KeySchema=[{"AttributeName": n, "KeyType": role} for (n, _), role in zip(key, roles)],
        BillingMode="PAY_PER_REQUEST",
        TableClass="STANDARD_INFREQUENT_ACCESS",
    )
    db.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 1})
    described = ", ".join(f"{n} ({t})" for n, t in key)
    print(f"created archive table {table} (Standard-IA, key {described})")


def plain(value):
    """DynamoDB JSON to readable JSON; numbers keep their decimal strings."""
    kind, inner = next(iter(value.items()))
    if kind == "M":
        return {k: plain(v) for k, v in inner.items()}
    if kind == "L":
        return [plain(v) for v in inner]
    if kind in ("SS", "NS"):
        return sorted(inner)
    if kind == "B":
        return f"<{len(inner)} bytes>"
    if kind == "BS":
        return sorted(f"<{len(b)} bytes>" for b in inner)
    if kind == "NULL":
        return None
    return inner  # S, N (a string), BOOL


def version_text(value):
    """The archiver's 21-byte version, read on its own (src/archive/version.rs writes it): the
    deletion's second (4 bytes), then the sequence number as its digits before the last 19 (9
    bytes) and those 19 (8 bytes), all big-endian."""
    raw = value.get("B") if isinstance(value, dict) else None
    if not isinstance(raw, (bytes, bytearray)) or len(raw) != 21:
        return None
    seconds = int.from_bytes(raw[:4], "big")
    sequence = int.from_bytes(raw[4:13], "big") * 10**19 + int.from_bytes(raw[13:], "big")
    deleted = datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)
    return f"deleted {deleted:%Y-%m-%dT%H:%M:%SZ}, sequence number {sequence}"


def show(db, table, version_attribute="ArchiveVersion"):
    key = [k["AttributeName"] for k in db.describe_table(TableName=table)["Table"]["KeySchema"]]
    items, start = [], {}
    while True:
        page = db.scan(TableName=table, ConsistentRead=True, **start)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            break
        start = {"ExclusiveStartKey": page["LastEvaluatedKey"]}
    items.sort(key=lambda item: [json.dumps(item[name], sort_keys=True) for name in key])
    print(f"{len(items)} item(s) in archive table {table}:")
    for item in items:
        readable = {
            name: (name == version_attribute and version_text(value)) or plain(value)
            for name, value in item.items()
        }
        print("  " + json.dumps(readable, ensure_ascii=False, sort_keys=True))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    made = commands.add_parser("create", help="create an on-demand Standard-IA table")
    made.add_argument("endpoint", help="e.g. http://127.0.0.1:8000")
    made.add_argument("table")
    made.add_argument("--key", type=key_type, action="append", help="NAME:TYPE, partition key first")
    made.add_argument("--like", metavar="EVENT_FILE", help="take the key from this event's Keys")
    shown = commands.add_parser("show", help="print every item, sorted by key")
    shown.add_argument("endpoint")
    shown.add_argument("table")
    shown.add_argument("--version-attribute", default="ArchiveVersion",
                       help="the archiver's version, shown as its deletion time and sequence number")
    args = parser.parse_args()
    db = client(args.endpoint)
    try:
        if args.command == "create":
            key = args.key or (key_of_event(args.like) if args.like else [("PK", "S")])
            if len(key) > 2:
                parser.error("a DynamoDB key has one or two attributes")
            wait_for(args.endpoint)
            create(db, args.table, key)
        else:
            show(db, args.table, args.version_attribute)
    except (ClientError, BotoCoreError, OSError, KeyError, ValueError) as err:
        sys.exit(f"archive_table.py {args.command}: {err}")


if __name__ == "__main__":
    main()
