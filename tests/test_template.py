"""The deployment wiring, checked offline: template.yaml transformed to CloudFormation by
aws-sam-translator, then the settings that decide whether data can be lost are asserted."""
import json
import re
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
    alarms = {
        a["Properties"]["MetricName"]: a["Properties"]
        for a in of_type(cfn, "AWS::CloudWatch::Alarm").values()
        if "MetricName" in a["Properties"]
    }
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


# A small evaluator for the intrinsic functions the monitoring resources use, so that the tests
# check what CloudWatch would be given for a concrete stack, not only the template's shape.
DEMO_TABLE = "ttl-archiver-DemoSourceTable-1A2B3C"
PHYSICAL = {
    "DemoSourceTable": DEMO_TABLE,
    "ArchiverFunction": "ttl-archiver-ttl-archiver",
    "ArchiveTable": "ttl-archiver-ArchiveTable-4D5E6F",
    "FailedBatchBucket": "ttl-archiver-failedbatchbucket-7g8h9i",
    "Dashboard": "ttl-archiver-ttl-archiver",
}


def resolve(value, cfn, parameters):
    def parameter(name):
        if name in parameters:
            return parameters[name]
        return str(cfn["Parameters"][name]["Default"])

    def condition(name):
        return {
            "CreateDemoSource": parameter("SourceStreamArn") == "",
            "HasAlarmTopic": parameter("AlarmTopicArn") != "",
        }[name]

    def go(v):
        if isinstance(v, list):
            return [go(x) for x in v]
        if not isinstance(v, dict):
            return v
        if len(v) != 1 or not next(iter(v)).startswith(("Ref", "Fn::")):
            return {k: go(x) for k, x in v.items()}
        ((fn, arg),) = v.items()
        if v == {"Ref": "AWS::NoValue"}:
            return None
        if fn == "Ref":
            return {"AWS::Region": "us-east-1", "AWS::StackName": "ttl-archiver"}.get(arg) or PHYSICAL.get(arg) or parameter(arg)
        if fn == "Fn::GetAtt":
            resource, attribute = arg if isinstance(arg, list) else arg.split(".")
            if (resource, attribute) == ("DemoSourceTable", "StreamArn"):
                return f"arn:aws:dynamodb:us-east-1:123456789012:table/{DEMO_TABLE}/stream/2026-11-25T00:00:00.000"
            return f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{resource}"
        if fn == "Fn::If":
            name, yes, no = arg
            return go(yes if condition(name) else no)
        if fn == "Fn::Select":
            index, values = arg
            return go(values)[int(index)]
        if fn == "Fn::Split":
            delimiter, source = arg
            return go(source).split(delimiter)
        if fn == "Fn::Sub":
            text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], {k: go(x) for k, x in arg[1].items()})

            def substitute(match):
                name = match.group(1)
                if name in variables:
                    return str(variables[name])
                if "." in name:
                    return go({"Fn::GetAtt": name.split(".")})
                return str(go({"Ref": name}))

            return re.sub(r"\$\{([^}]+)\}", substitute, text)
        return {fn: go(arg)}

    return go(value)


SESSIONS_STREAM = "arn:aws:dynamodb:eu-west-1:123456789012:table/Sessions/stream/2026-01-01T00:00:00.000"


@pytest.mark.parametrize(
    "parameters, source_table",
    [({}, DEMO_TABLE), ({"SourceStreamArn": SESSIONS_STREAM}, "Sessions")],
    ids=["demo table", "given stream"],
)
def test_reconciliation_alarm_compares_ttl_deletions_with_what_reached_the_function(parameters, source_table):
    cfn = transformed(**parameters)
    alarm = resolve(cfn["Resources"]["ReconciliationAlarm"]["Properties"], cfn, parameters)
    metrics = {m["Id"]: m for m in alarm["Metrics"]}
    deleted = metrics["deleted"]["MetricStat"]
    assert deleted["Metric"] == {
        "Namespace": "AWS/DynamoDB",
        "MetricName": "TimeToLiveDeletedItemCount",
        "Dimensions": [{"Name": "TableName", "Value": source_table}],
    }
    reached = metrics["reached"]["MetricStat"]
    assert reached["Metric"] == {
        "Namespace": "TtlArchiver",
        "MetricName": "Selected",
        "Dimensions": [{"Name": "FunctionName", "Value": PHYSICAL["ArchiverFunction"]}],
    }
    for stat in (deleted, reached):
        assert (stat["Period"], stat["Stat"]) == (3600, "Sum"), "an hour absorbs normal stream lag"
    assert metrics["missing"]["Expression"] == "FILL(deleted, 0) - FILL(reached, 0)", "nothing reached: 0, not no data"
    assert metrics["shortfall"]["Expression"] == "IF(missing > 10 AND missing > FILL(deleted, 0) * 5 / 100, 1, 0)"
    assert [m["Id"] for m in alarm["Metrics"] if m["ReturnData"]] == ["shortfall"]
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)
    assert (alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (2, 2), "two windows running"
    assert alarm["TreatMissingData"] == "notBreaching"
    raw = cfn["Resources"]["ReconciliationAlarm"]["Properties"]
    assert "Fn::If" in raw["AlarmActions"] and "Fn::If" in raw["OKActions"]


def test_reconciliation_tolerance_and_minimum_are_parameters():
    parameters = {"ReconciliationTolerancePercent": "20", "ReconciliationMinimumItems": "500"}
    cfn = transformed(**parameters)
    alarm = resolve(cfn["Resources"]["ReconciliationAlarm"]["Properties"], cfn, parameters)
    (shortfall,) = [m for m in alarm["Metrics"] if m["Id"] == "shortfall"]
    assert shortfall["Expression"] == "IF(missing > 500 AND missing > FILL(deleted, 0) * 20 / 100, 1, 0)"


# What the dashboard may show: the metrics the function writes (EMF, src/metrics.rs) and those
# AWS publishes for the stack's resources.
EMF_METRICS = {"Received", "Selected", "Skipped", "Archived", "Failed", "Retries", "BatchDuration"}
AWS_METRICS = {
    ("AWS/DynamoDB", "TimeToLiveDeletedItemCount"),
    ("AWS/DynamoDB", "ConsumedWriteCapacityUnits"),
    ("AWS/DynamoDB", "WriteThrottleEvents"),
    ("AWS/Lambda", "Errors"),
    ("AWS/Lambda", "Throttles"),
    ("AWS/Lambda", "ConcurrentExecutions"),
    ("AWS/Lambda", "IteratorAge"),
    ("AWS/S3", "PutRequests"),
}


def emitted_metric_names():
    source = (ROOT / "src" / "metrics.rs").read_text()
    return set(re.findall(r'\{"Name": "(\w+)", "Unit"', source))


@pytest.mark.parametrize("parameters", [{}, {"SourceStreamArn": SESSIONS_STREAM}], ids=["demo table", "given stream"])
def test_dashboard_shows_only_metrics_that_exist_and_every_alarm(parameters):
    cfn = transformed(**parameters)
    assert emitted_metric_names() == EMF_METRICS, "the dashboard's list matches what the function writes"
    body = json.loads(resolve(cfn["Resources"]["Dashboard"]["Properties"]["DashboardBody"], cfn, parameters))
    shown = set()
    for widget in body["widgets"]:
        for metric in widget["properties"].get("metrics", []):
            namespace, name = metric[0], metric[1]
            dimensions = dict(zip(metric[2:-1:2], metric[3:-1:2]))
            if namespace == "TtlArchiver":
                assert name in EMF_METRICS, name
                assert dimensions == {"FunctionName": PHYSICAL["ArchiverFunction"]}
            else:
                assert (namespace, name) in AWS_METRICS, (namespace, name)
            shown.add(name)
    assert {"TimeToLiveDeletedItemCount", "Selected", "Archived", "Failed", "Retries", "BatchDuration",
            "Errors", "Throttles", "ConcurrentExecutions", "IteratorAge", "ConsumedWriteCapacityUnits",
            "WriteThrottleEvents", "PutRequests"} <= shown
    (alarm_widget,) = [w for w in body["widgets"] if w["type"] == "alarm"]
    alarms = {name for name, r in cfn["Resources"].items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    assert set(alarm_widget["properties"]["alarms"]) == {
        f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{name}" for name in alarms
    }
    url = resolve(cfn["Outputs"]["DashboardUrl"]["Value"], cfn, parameters)
    assert url == "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#dashboards:name=ttl-archiver-ttl-archiver"
