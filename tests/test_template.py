"""The deployment wiring, checked offline: template.yaml transformed to CloudFormation by
aws-sam-translator, then the settings that decide whether data can be lost are asserted."""
import json
import os
import pathlib

import pytest
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

# The translator builds ARNs for a Region; no AWS call is made.
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

ROOT = pathlib.Path(__file__).resolve().parent.parent
TTL_PATTERN = {"userIdentity": {"type": ["Service"], "principalId": ["dynamodb.amazonaws.com"]}}
STREAM_READS = {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"}
# The function writes with BatchWriteItem only (the redrive, run by a person, uses PutItem).
ARCHIVE_WRITES = {"dynamodb:BatchWriteItem"}


class NoManagedPolicies:
    """The template must not need AWS managed policies: resolving them would need an AWS call."""

    def load(self):
        return {}


def transformed(**parameters):
    template = yaml_parse((ROOT / "template.yaml").read_text())
    # What `sam package` does before CloudFormation sees the template: code moves to S3.
    template["Resources"]["ArchiverFunction"]["Properties"]["CodeUri"] = "s3://artifacts/ttl-archiver.zip"
    return transform(template, {"AWS::Region": "us-east-1", **parameters}, NoManagedPolicies())


def of_type(template, kind):
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


@pytest.fixture(scope="module")
def cfn():
    return transformed()


@pytest.fixture(scope="module")
def mapping(cfn):
    (mapping,) = of_type(cfn, "AWS::Lambda::EventSourceMapping").values()
    return mapping["Properties"]


def test_mapping_filters_ttl_deletions(mapping):
    (entry,) = mapping["FilterCriteria"]["Filters"]
    assert json.loads(entry["Pattern"]) == TTL_PATTERN


def test_mapping_reports_partial_failures_and_bisects(mapping):
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BisectBatchOnFunctionError"] is True
    assert mapping["StartingPosition"] == "TRIM_HORIZON"


def test_mapping_retries_and_record_age_are_bounded(cfn, mapping):
    parameters = cfn["Parameters"]
    assert mapping["MaximumRetryAttempts"] == {"Ref": "MaximumRetryAttempts"}
    assert mapping["MaximumRecordAgeInSeconds"] == {"Ref": "MaximumRecordAgeInSeconds"}
    assert 0 <= int(parameters["MaximumRetryAttempts"]["Default"]) <= int(parameters["MaximumRetryAttempts"]["MaxValue"])
    assert parameters["MaximumRetryAttempts"]["MinValue"] >= 0, "-1 (infinite) must not be allowed"
    assert 60 <= int(parameters["MaximumRecordAgeInSeconds"]["Default"]) <= 86400
    assert parameters["MaximumRecordAgeInSeconds"]["MinValue"] >= 60
    for name in ("BatchSize", "MaximumBatchingWindowInSeconds", "ParallelizationFactor"):
        assert mapping[name] == {"Ref": name}


def test_failed_batches_go_to_the_s3_bucket(cfn, mapping):
    destination = mapping["DestinationConfig"]["OnFailure"]["Destination"]
    assert destination == {"Fn::GetAtt": ["FailedBatchBucket", "Arn"]}
    bucket = cfn["Resources"]["FailedBatchBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert bucket["LifecycleConfiguration"]["Rules"][0]["Status"] == "Enabled"


def test_table_name_points_at_the_standard_ia_archive_table(cfn):
    (function,) = of_type(cfn, "AWS::Lambda::Function").values()
    props = function["Properties"]
    assert props["Environment"]["Variables"]["TABLE_NAME"] == {"Ref": "ArchiveTable"}
    assert props["Environment"]["Variables"]["TTL_ATTRIBUTE"] == {"Ref": "TtlAttribute"}
    assert props["Runtime"] == "provided.al2023" and props["Handler"] == "bootstrap"
    assert props["Architectures"] == [{"Ref": "Architecture"}]
    assert cfn["Parameters"]["Architecture"]["Default"] == "arm64", "deployed on Graviton"
    assert cfn["Parameters"]["Architecture"]["AllowedValues"] == ["arm64", "x86_64"]
    # Declared for `sam local invoke --env-vars`; empty when deployed (the function reads an
    # empty value as unset: tests/end_to_end.rs proves it on the binary).
    assert props["Environment"]["Variables"]["AWS_ENDPOINT_URL_DYNAMODB"] == ""
    assert props["LoggingConfig"]["LogFormat"] == "JSON"
    table = cfn["Resources"]["ArchiveTable"]
    assert table["Properties"]["TableClass"] == "STANDARD_INFREQUENT_ACCESS"
    assert table["Properties"]["BillingMode"] == "PAY_PER_REQUEST"
    assert table["Properties"]["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert table["Properties"]["DeletionProtectionEnabled"] is True
    assert table["Properties"]["SSESpecification"]["SSEEnabled"] is True
    assert table["DeletionPolicy"] == "Retain"


def test_demo_source_table_has_ttl_and_old_images(cfn):
    source = cfn["Resources"]["DemoSourceTable"]
    assert source["Condition"] == "CreateDemoSource"
    assert source["Properties"]["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert source["Properties"]["TimeToLiveSpecification"] == {"AttributeName": {"Ref": "TtlAttribute"}, "Enabled": True}


def statements(cfn):
    for role in of_type(cfn, "AWS::IAM::Role").values():
        assert not role["Properties"].get("ManagedPolicyArns"), "no managed policies: they grant more than needed"
        for policy in role["Properties"].get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                actions = statement["Action"]
                yield statement, set([actions] if isinstance(actions, str) else actions)


def test_iam_grants_only_archive_writes_and_stream_reads(cfn):
    dynamodb_actions = set()
    for statement, actions in statements(cfn):
        assert statement["Effect"] == "Allow"
        assert not any(a.endswith("*") for a in actions), f"wildcard action in {statement}"
        ddb = {a for a in actions if a.startswith("dynamodb:")}
        dynamodb_actions |= ddb
        if ddb & ARCHIVE_WRITES:
            assert ddb <= ARCHIVE_WRITES
            assert statement["Resource"] == {"Fn::GetAtt": ["ArchiveTable", "Arn"]}
        elif ddb:
            assert ddb <= STREAM_READS
            assert statement["Resource"] == {
                "Fn::If": ["CreateDemoSource", {"Fn::GetAtt": ["DemoSourceTable", "StreamArn"]}, {"Ref": "SourceStreamArn"}]
            }
    assert dynamodb_actions == ARCHIVE_WRITES | STREAM_READS


def test_existing_stream_replaces_the_demo_source():
    arn = "arn:aws:dynamodb:us-east-1:123456789012:table/Sessions/stream/2026-01-01T00:00:00.000"
    cfn = transformed(SourceStreamArn=arn)
    (mapping,) = of_type(cfn, "AWS::Lambda::EventSourceMapping").values()
    assert mapping["Properties"]["EventSourceArn"]["Fn::If"][2] == {"Ref": "SourceStreamArn"}


def test_alarms_cover_iterator_age_errors_and_failed_batches(cfn):
    alarms = {a["Properties"]["MetricName"]: a["Properties"] for a in of_type(cfn, "AWS::CloudWatch::Alarm").values()}
    assert {"IteratorAge", "Errors", "PutRequests", "Failed"} <= alarms.keys()
    assert alarms["PutRequests"]["Dimensions"][0] == {"Name": "BucketName", "Value": {"Ref": "FailedBatchBucket"}}
    for alarm in alarms.values():
        assert "Fn::If" in alarm["AlarmActions"], "notifications go to the optional topic"


def test_outputs(cfn):
    assert {"FunctionName", "FunctionArn", "ArchiveTableName", "FailedBatchBucketName"} <= cfn["Outputs"].keys()


def test_redrive_one_liner_uses_the_stack_settings(cfn):
    command = cfn["Outputs"]["RedriveCommand"]["Value"]["Fn::Sub"]
    for part in ("TABLE_NAME=${ArchiveTable}", "TTL_ATTRIBUTE=${TtlAttribute}", "ttl-archiver-redrive s3://${FailedBatchBucket}/"):
        assert part in command
