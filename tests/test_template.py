"""The deployment wiring, checked offline: template.yaml transformed to CloudFormation by
aws-sam-translator, then the settings that decide whether data can be lost are asserted."""
import itertools
import json
import shlex
import os
import pathlib
import re
import subprocess
import sys

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


def filter_patterns(parameters=None):
    """The mapping's filter patterns, as deployed with `parameters`."""
    stack = Stack(parameters or {})
    (mapping,) = of_type(stack.cfn, "AWS::Lambda::EventSourceMapping").values()
    return [entry["Pattern"] for entry in stack.evaluate(mapping["Properties"]["FilterCriteria"])["Filters"]]


def test_mapping_filters_ttl_deletions():
    (pattern,) = filter_patterns()
    assert json.loads(pattern) == TTL_PATTERN


def ttl_identity(record):
    """The function's rule (src/archive/select.rs), restated: a REMOVE by the DynamoDB service."""
    return record.get("eventName") == "REMOVE" and record.get("userIdentity") == {
        "type": "Service", "principalId": "dynamodb.amazonaws.com",
    }


def identity_variants():
    """The first record of events/ttl-remove.json under every identity a stream can carry."""
    base = json.loads((ROOT / "events" / "ttl-remove.json").read_text())["Records"][0]
    for name, identity in [
        ("ttl", {"type": "Service", "principalId": "dynamodb.amazonaws.com"}),
        ("user delete", None),
        ("null identity", "null"),
        ("another service", {"type": "Service", "principalId": "events.amazonaws.com"}),
        ("lower-case type", {"type": "service", "principalId": "dynamodb.amazonaws.com"}),
        ("a user", {"type": "User", "principalId": "dynamodb.amazonaws.com"}),
    ]:
        record = json.loads(json.dumps(base))
        if identity is None:
            del record["userIdentity"]
        elif identity == "null":
            record["userIdentity"] = None
        else:
            record["userIdentity"] = identity
        yield name, record


@pytest.mark.parametrize("source", sorted(p.name for p in (ROOT / "events").glob("*.json")) + ["identity variants"])
def sample_records(source):
    """(name, record) of an event file, or of the identity variants."""
    if source == "identity variants":
        return list(identity_variants())
    events = json.loads((ROOT / "events" / source).read_text())["Records"]
    return [(record.get("eventID", str(i)), record) for i, record in enumerate(events)]


SAMPLES = sorted(p.name for p in (ROOT / "events").glob("*.json")) + ["identity variants"]


@pytest.mark.parametrize("source", SAMPLES)
def test_the_filter_keeps_exactly_the_records_the_code_selects(source):
    # moto's implementation of AWS's event pattern rules, independent of ours, evaluates the
    # template's own filter.
    from moto.events.models import EventPattern

    (pattern,) = [EventPattern.load(p) for p in filter_patterns()]
    for name, record in sample_records(source):
        assert pattern.matches_event(record) == ttl_identity(record), name


def no_identity_remove(record):
    """What may be another Region's TTL deletion (src/archive/select.rs tells it from a user's delete)."""
    return record.get("eventName") == "REMOVE" and record.get("userIdentity") is None


@pytest.mark.parametrize("source", SAMPLES)
def test_a_global_tables_filter_also_lets_the_deletes_without_an_identity_through(source):
    from moto.events.models import EventPattern

    patterns = [EventPattern.load(p) for p in filter_patterns(SECONDARY)]
    assert len(patterns) == 2
    for name, record in sample_records(source):
        passes = any(pattern.matches_event(record) for pattern in patterns)
        assert passes == (ttl_identity(record) or no_identity_remove(record)), name


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
    props = cfn["Resources"]["ArchiverFunction"]["Properties"]
    assert props["Environment"]["Variables"]["TTL_ATTRIBUTE"] == {"Ref": "TtlAttribute"}
    assert props["Runtime"] == "provided.al2023" and props["Handler"] == "bootstrap"
    assert props["Architectures"] == [{"Ref": "Architecture"}]
    assert cfn["Parameters"]["Architecture"]["Default"] == "arm64", "deployed on Graviton"
    assert cfn["Parameters"]["Architecture"]["AllowedValues"] == ["arm64", "x86_64"]
    # Declared for `sam local invoke --env-vars`; empty when deployed (the function reads an
    # empty value as unset: tests/end_to_end.rs proves it on the binary).
    assert props["Environment"]["Variables"]["AWS_ENDPOINT_URL_DYNAMODB"] == ""
    assert props["LoggingConfig"]["LogFormat"] == "JSON"
    stack = Stack({}, cfn)
    function = stack.resources["ArchiverFunction"]
    assert function["Properties"]["Environment"]["Variables"]["TABLE_NAME"] == PHYSICAL["ArchiveTable"]
    table = stack.resources["ArchiveTable"]
    assert table["Properties"]["TableClass"] == "STANDARD_INFREQUENT_ACCESS"
    assert table["Properties"]["BillingMode"] == "PAY_PER_REQUEST"
    assert table["Properties"]["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert table["Properties"]["DeletionProtectionEnabled"] is True
    assert table["DeletionPolicy"] == "Retain"


def test_demo_source_table_has_ttl_and_old_images(cfn):
    source = cfn["Resources"]["DemoSourceTable"]
    assert source["Condition"] == "CreateDemoSource"
    assert source["Properties"]["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert source["Properties"]["TimeToLiveSpecification"] == {"AttributeName": {"Ref": "TtlAttribute"}, "Enabled": True}
    assert source["Properties"]["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def statements(resources):
    """The IAM statements of a deployed stack's roles (`Stack.resources`), with their actions."""
    for role in (r for r in resources.values() if r["Type"] == "AWS::IAM::Role"):
        assert not role["Properties"].get("ManagedPolicyArns"), "no managed policies: they grant more than needed"
        for policy in role["Properties"].get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                actions = statement["Action"]
                yield statement, set([actions] if isinstance(actions, str) else actions)


def test_iam_grants_only_archive_writes_and_stream_reads(cfn):
    dynamodb_actions = set()
    for statement, actions in statements(Stack({}, cfn).resources):
        assert statement["Effect"] == "Allow"
        assert not any(a.endswith("*") for a in actions), f"wildcard action in {statement}"
        dynamodb_actions |= {a for a in actions if a.startswith("dynamodb:")}
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


def test_parked_batches_are_never_expired_and_redriven_copies_are(cfn):
    rules = cfn["Resources"]["FailedBatchBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    for rule in rules:
        assert rule["Status"] == "Enabled"
        if "ExpirationInDays" in rule or "Transitions" in rule:
            assert rule.get("Prefix") == "redriven/", f"only redriven copies expire: {rule}"
            assert "Filter" not in rule
    (redriven,) = [r for r in rules if "ExpirationInDays" in r]
    assert redriven["ExpirationInDays"] == {"Ref": "FailedBatchRetentionDays"}


def test_the_failed_batch_alarm_counts_what_the_mapping_parks_not_the_redrives_copies(cfn):
    bucket = cfn["Resources"]["FailedBatchBucket"]["Properties"]
    (metrics,) = bucket["MetricsConfigurations"]
    assert metrics == {"Id": "ParkedBatches", "Prefix": "aws/lambda/"}, "not the redrive's copies under redriven/"
    alarm = cfn["Resources"]["FailedBatchAlarm"]["Properties"]
    assert alarm["Dimensions"][1] == {"Name": "FilterId", "Value": "ParkedBatches"}


def test_an_alarm_stays_on_while_any_batch_is_parked(cfn):
    (rule,) = of_type(cfn, "AWS::Events::Rule").values()
    assert rule["Properties"]["ScheduleExpression"] == "rate(15 minutes)"
    assert rule["Properties"]["Targets"][0]["Arn"] == {"Ref": "ParkedBatchWatcher"}
    alarm = cfn["Resources"]["ParkedBatchesAlarm"]["Properties"]
    assert (alarm["MetricName"], alarm["Statistic"], alarm["Threshold"]) == ("ParkedBatches", "Maximum", 0)
    assert alarm["Dimensions"] == [{"Name": "Bucket", "Value": {"Ref": "FailedBatchBucket"}}]
    assert alarm["Period"] >= 4 * 15 * 60, "every period holds at least one count"
    assert alarm["TreatMissingData"] == "breaching", "a watcher that stopped counting is noticed"
    errors = cfn["Resources"]["ParkedBatchWatcherErrorsAlarm"]["Properties"]
    assert (errors["Namespace"], errors["MetricName"]) == ("AWS/States", "ExecutionsFailed")
    assert errors["Dimensions"] == [{"Name": "StateMachineArn", "Value": {"Ref": "ParkedBatchWatcher"}}]
    functions = of_type(cfn, "AWS::Lambda::Function")
    assert list(functions) == ["ArchiverFunction"], "sam local invoke -e needs no function name"


def run_watcher(keys):
    """The watcher's definition, as the template holds it, executed by moto's Step Functions
    interpreter against moto's S3 and CloudWatch (in process): the counts it publishes."""
    import time

    import boto3
    from moto import mock_aws

    props = yaml_parse((ROOT / "template.yaml").read_text())["Resources"]["ParkedBatchWatcher"]["Properties"]
    definition = json.dumps(props["Definition"])
    for name, value in {"Bucket": "failed-batches", "Namespace": "TtlArchiver"}.items():
        definition = definition.replace("${" + name + "}", value)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="failed-batches")
        for key in keys:
            s3.put_object(Bucket="failed-batches", Key=key, Body=b"{}")
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        machine = sfn.create_state_machine(
            name="watcher", definition=definition, roleArn="arn:aws:iam::123456789012:role/watcher",
        )["stateMachineArn"]
        execution = sfn.start_execution(stateMachineArn=machine)["executionArn"]
        for _ in range(200):
            status = sfn.describe_execution(executionArn=execution)["status"]
            if status != "RUNNING":
                break
            time.sleep(0.05)
        assert status == "SUCCEEDED", sfn.get_execution_history(executionArn=execution)
        cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
        (result,) = cloudwatch.get_metric_data(
            MetricDataQueries=[{"Id": "parked", "MetricStat": {"Metric": {
                "Namespace": "TtlArchiver", "MetricName": "ParkedBatches",
                "Dimensions": [{"Name": "Bucket", "Value": "failed-batches"}],
            }, "Period": 60, "Stat": "Maximum"}}],
            StartTime=time.time() - 600, EndTime=time.time() + 600,
        )["MetricDataResults"]
        return result["Values"]


@pytest.fixture
def aws_test_credentials(monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "test")


def test_the_watcher_counts_the_batches_still_parked_and_not_the_redriven(aws_test_credentials):
    parked = [f"aws/lambda/esm/shardId-1/2026/11/30/batch-{i}" for i in range(3)]
    redriven = ["redriven/aws/lambda/esm/shardId-1/2026/11/29/done"]
    assert run_watcher(parked + redriven) == [3.0]
    assert run_watcher(redriven) == [0.0], "none parked: the alarm returns to OK"


def test_the_mapping_counts_its_records_and_an_alarm_watches_what_it_drops(cfn, mapping):
    assert mapping["MetricsConfig"] == {"Metrics": ["EventCount"]}
    (name,) = [n for n, r in of_type(cfn, "AWS::Lambda::EventSourceMapping").items()]
    alarm = cfn["Resources"]["DroppedRecordsAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/Lambda", "DroppedEventCount")
    assert alarm["Dimensions"] == [{"Name": "EventSourceMappingUUID", "Value": {"Ref": name}}]
    assert alarm["Threshold"] == 0 and alarm["ComparisonOperator"] == "GreaterThanThreshold"


@pytest.mark.parametrize("parameters", [{}, {"Attributes": "a b,c", "ArchivedAtAttribute": "Archived At"}], ids=["defaults", "spaces"])
def test_the_redrive_command_sets_the_region_and_quotes_every_value(parameters):
    command = Stack(parameters).outputs["RedriveCommand"]
    words = shlex.split(command)
    settings = dict(word.split("=", 1) for word in words[:-2])
    assert settings["AWS_REGION"] == "us-east-1"
    assert settings["ATTRIBUTES"] == parameters.get("Attributes", "")
    assert settings["ARCHIVED_AT_ATTRIBUTE"] == parameters.get("ArchivedAtAttribute", "")
    assert words[-2:] == ["ttl-archiver-redrive", f"s3://{PHYSICAL['FailedBatchBucket']}/aws/lambda/"]


@pytest.mark.parametrize("parameters", [{}, {"SourceStreamArn": "arn:aws:dynamodb:us-east-1:123456789012:table/Sessions/stream/2026-11-01T00:00:00.000", "ArchivedAtAttribute": "Archived At"}], ids=["demo source", "given stream"])
def test_the_restore_command_names_the_source_table_and_starts_as_a_dry_run(parameters):
    command = Stack(parameters).outputs["RestoreCommand"]
    words = shlex.split(command)
    program = words.index("ttl-archiver-restore")
    settings = dict(word.split("=", 1) for word in words[:program])
    assert settings["AWS_REGION"] == "us-east-1"
    assert settings["TABLE_NAME"] == PHYSICAL["ArchiveTable"]
    assert settings["ARCHIVED_AT_ATTRIBUTE"] == parameters.get("ArchivedAtAttribute", "")
    assert settings["TTL_ATTRIBUTE"] == parameters.get("TtlAttribute", "ExpirationTime"), "what --expires-in sets with TTL off"
    source = "Sessions" if parameters else DEMO_TABLE
    assert words[program:] == ["ttl-archiver-restore", "--source-table", source, "--dry-run"]


def test_outputs(cfn):
    assert {"FunctionName", "FunctionArn", "ArchiveTableName", "FailedBatchBucketName"} <= cfn["Outputs"].keys()


# A small evaluator for the intrinsic functions the template uses, so that the tests check what
# CloudFormation would create for concrete parameter values, not only the template's shape:
# conditions are evaluated, resources whose condition is false dropped, AWS::NoValue removed,
# and a reference to a resource that is not created is an error (CloudFormation rejects it).
ACCOUNT = "123456789012"
DEMO_TABLE = "ttl-archiver-DemoSourceTable-1A2B3C"
PHYSICAL = {
    "DemoSourceTable": DEMO_TABLE,
    "ArchiverFunction": "ttl-archiver-ttl-archiver",
    "ArchiveTable": "ttl-archiver-ArchiveTable-4D5E6F",
    # Named by the template: ${AWS::StackName}-archive.
    "GlobalArchiveTable": "ttl-archiver-archive",
    "FailedBatchBucket": "ttl-archiver-failedbatchbucket-7g8h9i",
    "Dashboard": "ttl-archiver-ttl-archiver",
    "ArchiverLogGroup": "/aws/lambda/ttl-archiver-ttl-archiver",
    # The event source mapping SAM generates (its Ref is the mapping's UUID).
    "ArchiverFunctionStream": "4f3a1c2e-0d9b-4e6a-9c1d-7b2e5a8f0c31",
    # A state machine's Ref is its ARN.
    "ParkedBatchWatcher": "arn:aws:states:us-east-1:123456789012:stateMachine:ParkedBatchWatcher-9Xy8",
}
ATTRIBUTES = {
    ("DemoSourceTable", "StreamArn"): f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/{DEMO_TABLE}/stream/2026-11-25T00:00:00.000",
    ("ArchiveTable", "Arn"): f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/{PHYSICAL['ArchiveTable']}",
    ("FailedBatchBucket", "Arn"): f"arn:aws:s3:::{PHYSICAL['FailedBatchBucket']}",
    ("ArchiverRole", "Arn"): f"arn:aws:iam::{ACCOUNT}:role/ttl-archiver-ArchiverRole-0J1K2L",
}
NO_VALUE = object()


class Stack:
    """The stack CloudFormation would create from the transformed template and `parameters`."""

    def __init__(self, parameters=None, cfn=None, region="us-east-1"):
        self.parameters = dict(parameters or {})
        self.cfn = cfn if cfn is not None else transformed(**self.parameters)
        self.region = region

    def parameter(self, name):
        if name in self.parameters:
            return str(self.parameters[name])
        return str(self.cfn["Parameters"][name]["Default"])

    def invalid_parameters(self):
        """The parameters CloudFormation would refuse, with why."""
        refused = {}
        for name, value in self.parameters.items():
            spec = self.cfn["Parameters"][name]
            if "AllowedPattern" in spec and not re.fullmatch(spec["AllowedPattern"], value):
                refused[name] = "AllowedPattern"
            if "MinLength" in spec and len(value) < int(spec["MinLength"]):
                refused[name] = "MinLength"
            if "MinValue" in spec and float(value) < float(spec["MinValue"]):
                refused[name] = "MinValue"
            if "MaxValue" in spec and float(value) > float(spec["MaxValue"]):
                refused[name] = "MaxValue"
        return refused

    def condition(self, name):
        return self.evaluate(self.cfn["Conditions"][name])

    def created(self, resource):
        condition = self.cfn["Resources"][resource].get("Condition")
        return condition is None or self.condition(condition)

    def evaluate(self, value):
        result = self._go(value)
        return result

    def _go(self, v):
        if isinstance(v, list):
            return [x for x in (self._go(x) for x in v) if x is not NO_VALUE]
        if not isinstance(v, dict):
            return v
        if len(v) != 1 or not next(iter(v)).startswith(("Ref", "Fn::", "Condition")):
            return {k: x for k, x in ((k, self._go(x)) for k, x in v.items()) if x is not NO_VALUE}
        ((fn, arg),) = v.items()
        if fn == "Ref":
            if arg == "AWS::NoValue":
                return NO_VALUE
            pseudo = {"AWS::Region": self.region, "AWS::StackName": "ttl-archiver", "AWS::AccountId": ACCOUNT,
                      "AWS::Partition": "aws"}
            if arg in pseudo:
                return pseudo[arg]
            if arg in self.cfn["Resources"]:
                assert self.created(arg), f"Ref to {arg}, which this stack does not create"
                return PHYSICAL.get(arg, arg)
            return self.parameter(arg)
        if fn == "Fn::GetAtt":
            resource, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
            assert self.created(resource), f"GetAtt of {resource}, which this stack does not create"
            if (resource, attribute) == ("GlobalArchiveTable", "Arn"):
                # The replica in the stack's Region.
                return f"arn:aws:dynamodb:{self.region}:{ACCOUNT}:table/{PHYSICAL[resource]}"
            if (resource, attribute) in ATTRIBUTES:
                return ATTRIBUTES[(resource, attribute)]
            kind = self.cfn["Resources"][resource]["Type"]
            if kind == "AWS::CloudWatch::Alarm":
                return f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:{resource}"
            return f"arn:{kind}:{resource}.{attribute}"
        if fn == "Condition":
            return self.condition(arg)
        if fn == "Fn::If":
            name, yes, no = arg
            return self._go(yes if self.condition(name) else no)
        if fn == "Fn::Equals":
            left, right = (str(self._go(x)) for x in arg)
            return left == right
        if fn == "Fn::Not":
            (inner,) = arg
            return not self._go(inner)
        if fn == "Fn::And":
            return all(self._go(x) for x in arg)
        if fn == "Fn::Or":
            return any(self._go(x) for x in arg)
        if fn == "Fn::Select":
            index, values = arg
            return self._go(values)[int(index)]
        if fn == "Fn::Join":
            delimiter, values = arg
            return delimiter.join(str(x) for x in self._go(values))
        if fn == "Fn::Split":
            delimiter, source = arg
            return self._go(source).split(delimiter)
        if fn == "Fn::Sub":
            text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], {k: self._go(x) for k, x in arg[1].items()})

            def substitute(match):
                name = match.group(1)
                if name in variables:
                    return str(variables[name])
                if "." in name:
                    return self._go({"Fn::GetAtt": name.split(".", 1)})
                return str(self._go({"Ref": name}))

            return re.sub(r"\$\{([^}!]+)\}", substitute, text)
        return {fn: self._go(arg)}

    @property
    def resources(self):
        return {
            name: self.evaluate(resource)
            for name, resource in self.cfn["Resources"].items()
            if self.created(name)
        }

    @property
    def outputs(self):
        return {
            name: self.evaluate(output["Value"])
            for name, output in self.cfn["Outputs"].items()
            if "Condition" not in output or self.condition(output["Condition"])
        }

    def rule_failures(self):
        """The AssertDescriptions of the template's Rules that these parameters break."""
        failed = []
        for rule in self.cfn.get("Rules", {}).values():
            if "RuleCondition" in rule and not self.evaluate(rule["RuleCondition"]):
                continue
            failed += [a["AssertDescription"] for a in rule["Assertions"] if not self.evaluate(a["Assert"])]
        return failed


def resolve(value, cfn, parameters):
    return Stack(parameters, cfn).evaluate(value)


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


# What the dashboard may show: the metrics the function writes (EMF, src/lambda/metrics.rs) and those
# AWS publishes for the stack's resources.
EMF_METRICS = {"Received", "Selected", "Skipped", "Archived", "Failed", "Retries", "BatchDuration", "AdditionsDropped",
               "ReplicatedTtlDeletions"}
# The event source mapping's own counts (MetricsConfig EventCount), by EventSourceMappingUUID.
MAPPING_METRICS = {
    "PolledEventCount", "FilteredOutEventCount", "InvokedEventCount", "FailedInvokeEventCount",
    "OnFailureDestinationDeliveredEventCount", "DroppedEventCount",
}
AWS_METRICS = {
    ("AWS/DynamoDB", "TimeToLiveDeletedItemCount"),
    ("AWS/DynamoDB", "ConsumedWriteCapacityUnits"),
    ("AWS/DynamoDB", "WriteThrottleEvents"),
    ("AWS/Lambda", "Errors"),
    ("AWS/Lambda", "Throttles"),
    ("AWS/Lambda", "ConcurrentExecutions"),
    ("AWS/Lambda", "IteratorAge"),
    ("AWS/S3", "PutRequests"),
} | {("AWS/Lambda", name) for name in MAPPING_METRICS}


def emitted_metric_names():
    source = (ROOT / "src" / "lambda" / "metrics.rs").read_text()
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
            if namespace == "TtlArchiver" and name != "ParkedBatches":
                assert name in EMF_METRICS, name
                assert dimensions == {"FunctionName": PHYSICAL["ArchiverFunction"]}
            elif name == "ParkedBatches":
                assert dimensions == {"Bucket": PHYSICAL["FailedBatchBucket"]}
            elif name in MAPPING_METRICS:
                assert dimensions == {"EventSourceMappingUUID": PHYSICAL["ArchiverFunctionStream"]}
            else:
                assert (namespace, name) in AWS_METRICS, (namespace, name)
            shown.add(name)
    assert {"TimeToLiveDeletedItemCount", "Selected", "Archived", "Failed", "Retries", "BatchDuration",
            "Errors", "Throttles", "ConcurrentExecutions", "IteratorAge", "ConsumedWriteCapacityUnits",
            "WriteThrottleEvents", "PutRequests", "AdditionsDropped", "ParkedBatches"} | MAPPING_METRICS <= shown
    (alarm_widget,) = [w for w in body["widgets"] if w["type"] == "alarm"]
    alarms = {name for name, r in cfn["Resources"].items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    assert set(alarm_widget["properties"]["alarms"]) == {
        f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{name}" for name in alarms
    }
    url = resolve(cfn["Outputs"]["DashboardUrl"]["Value"], cfn, parameters)
    assert url == "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#dashboards:name=ttl-archiver-ttl-archiver"


# Every combination of the archive and encryption options, set and unset: what the stack creates,
# TTL, encryption, the function's settings, the role's statements and their resources, outputs.
KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/1111aaaa-22bb-33cc-44dd-555555eeeeee"
SOURCE_KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/6666ffff-77aa-88bb-99cc-000000dddddd"
OTHER_ACCOUNT_TABLE = "arn:aws:dynamodb:us-east-1:210987654321:table/SessionsArchive"
GIVEN_STREAM = "arn:aws:dynamodb:us-east-1:123456789012:table/Sessions/stream/2026-01-01T00:00:00.000"
OPTIONS = {
    "ArchiveRetentionDays": "400",
    "ArchiveKmsKeyArn": KEY_ARN,
    "SourceKmsKeyArn": SOURCE_KEY_ARN,
    "ArchiveTableArn": OTHER_ACCOUNT_TABLE,
    "SourceStreamArn": GIVEN_STREAM,
}
COMBINATIONS = [
    {name: value for name, value, chosen in zip(OPTIONS, OPTIONS.values(), bits) if chosen}
    for bits in itertools.product([False, True], repeat=len(OPTIONS))
]
VIA_DYNAMODB = {"StringEquals": {"kms:ViaService": "dynamodb.us-east-1.amazonaws.com"}}


def combination_id(parameters):
    return "+".join(parameters) or "defaults"


@pytest.mark.parametrize("parameters", COMBINATIONS, ids=combination_id)
def test_archive_and_encryption_options(parameters):
    stack = Stack(parameters)
    assert stack.invalid_parameters() == {} and stack.rule_failures() == []
    resources = stack.resources
    retention = parameters.get("ArchiveRetentionDays")
    archive_key = parameters.get("ArchiveKmsKeyArn")
    source_key = parameters.get("SourceKmsKeyArn")
    given_table = parameters.get("ArchiveTableArn")

    # The archive table: created unless one is given; TTL with a retention; the AWS owned key
    # (no SSESpecification) unless a customer managed key is given.
    if given_table:
        assert "ArchiveTable" not in resources
        table_reference, table_arn, table_name = given_table, given_table, "SessionsArchive"
    else:
        table = resources["ArchiveTable"]["Properties"]
        if retention:
            assert table["TimeToLiveSpecification"] == {"AttributeName": "ArchiveExpiresAt", "Enabled": True}
        else:
            assert "TimeToLiveSpecification" not in table
        if archive_key:
            assert table["SSESpecification"] == {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": archive_key}
        else:
            assert "SSESpecification" not in table, "the AWS owned key: no KMS charges"
        table_reference = table_name = PHYSICAL["ArchiveTable"]
        table_arn = ATTRIBUTES[("ArchiveTable", "Arn")]

    # The demo source table: only without a stream; encrypted with the source key when given.
    if parameters.get("SourceStreamArn"):
        assert "DemoSourceTable" not in resources
        stream = GIVEN_STREAM
    else:
        demo = resources["DemoSourceTable"]["Properties"]
        if source_key:
            assert demo["SSESpecification"] == {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": source_key}
        else:
            assert "SSESpecification" not in demo
        stream = ATTRIBUTES[("DemoSourceTable", "StreamArn")]

    variables = resources["ArchiverFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["TABLE_NAME"] == table_reference
    assert variables["ARCHIVE_RETENTION_DAYS"] == (retention or "0")
    assert variables["ARCHIVE_TTL_ATTRIBUTE"] == "ArchiveExpiresAt"

    # The role: each statement by Sid, with exactly its actions and resources.
    # SAM's own role for the schedule has no Sid: it may start the watcher, nothing else.
    granted = {statement.get("Sid", "StartWatcher"): statement for statement, _ in statements(resources)}
    assert granted.pop("StartWatcher") == {
        "Action": "states:StartExecution", "Effect": "Allow",
        "Resource": PHYSICAL["ParkedBatchWatcher"],
    }
    expected_sids = {"WriteArchive", "ReadSourceStream", "KeepFailedBatches", "ListFailedBatches",
                     "WriteLogs", "ListParkedBatches", "PublishParkedBatchCount"}
    expected_sids |= {"DecryptArchiveTableKey"} if archive_key else set()
    expected_sids |= {"DecryptSourceStreamKey"} if source_key else set()
    assert granted.keys() == expected_sids
    assert granted["WriteArchive"]["Action"] == "dynamodb:BatchWriteItem"
    assert granted["WriteArchive"]["Resource"] == table_arn
    assert granted["ReadSourceStream"]["Resource"] == stream
    # The on-failure destination writes under aws/lambda/ only; listing the bucket it needs too.
    bucket = ATTRIBUTES[("FailedBatchBucket", "Arn")]
    assert granted["KeepFailedBatches"] == {
        "Sid": "KeepFailedBatches", "Effect": "Allow", "Action": "s3:PutObject",
        "Resource": f"{bucket}/aws/lambda/*",
    }
    assert granted["ListFailedBatches"] == {
        "Sid": "ListFailedBatches", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": bucket,
    }
    # The watcher may list aws/lambda/ of the bucket, and nothing else.
    assert granted["ListParkedBatches"] == {
        "Sid": "ListParkedBatches", "Effect": "Allow", "Action": "s3:ListBucket",
        "Resource": ATTRIBUTES[("FailedBatchBucket", "Arn")],
        "Condition": {"StringLike": {"s3:prefix": "aws/lambda/*"}},
    }
    # PutMetricData has no resource-level permission: "*", held to the stack's namespace.
    assert granted["PublishParkedBatchCount"] == {
        "Sid": "PublishParkedBatchCount", "Effect": "Allow", "Action": "cloudwatch:PutMetricData",
        "Resource": "*", "Condition": {"StringEquals": {"cloudwatch:namespace": "TtlArchiver"}},
    }
    for sid, key in (("DecryptArchiveTableKey", archive_key), ("DecryptSourceStreamKey", source_key)):
        if key:
            assert granted[sid] == {
                "Sid": sid, "Effect": "Allow", "Action": "kms:Decrypt", "Resource": key, "Condition": VIA_DYNAMODB,
            }
    kms_actions = {a for _, actions in statements(resources) for a in actions if a.startswith("kms:")}
    assert kms_actions <= {"kms:Decrypt"}, "nothing wider than decrypting through DynamoDB"
    assert all(
        statement.get("Resource") != "*" or statement["Sid"] == "PublishParkedBatchCount"
        for statement, _ in statements(resources)
    )

    outputs = stack.outputs
    assert outputs["ArchiveTableName"] == table_reference
    assert outputs["ArchiverRoleArn"] == ATTRIBUTES[("ArchiverRole", "Arn")], "for the other account's policies"
    redrive = outputs["RedriveCommand"]
    assert f"TABLE_NAME='{table_reference}' " in redrive
    assert f"ARCHIVE_RETENTION_DAYS='{retention or '0'}' ARCHIVE_TTL_ATTRIBUTE='ArchiveExpiresAt' " in redrive
    body = json.loads(resources["Dashboard"]["Properties"]["DashboardBody"])
    archive_dimensions = {
        metric[3] for widget in body["widgets"] for metric in widget["properties"].get("metrics", [])
        if metric[1] in ("ConsumedWriteCapacityUnits", "WriteThrottleEvents")
    }
    assert archive_dimensions == {table_name}


@pytest.mark.parametrize(
    "parameters, refused",
    [
        ({"ArchiveTableArn": GIVEN_STREAM}, "ArchiveTableArn"),
        ({"ArchiveTableArn": "SessionsArchive"}, "ArchiveTableArn"),
        ({"ArchiveKmsKeyArn": "alias/archive"}, "ArchiveKmsKeyArn"),
        ({"SourceKmsKeyArn": "arn:aws:kms:us-east-1:123456789012:alias/sessions"}, "SourceKmsKeyArn"),
        ({"ArchiveRetentionDays": "-1"}, "ArchiveRetentionDays"),
        ({"ArchiveRetentionDays": "36501"}, "ArchiveRetentionDays"),
        ({"ArchiveTtlAttribute": ""}, "ArchiveTtlAttribute"),
        ({"ArchiveTtlAttribute": " ExpiresAt"}, "ArchiveTtlAttribute"),
        ({"ArchiveTtlAttribute": "It's"}, "ArchiveTtlAttribute"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_option_values_cloudformation_refuses(parameters, refused):
    assert refused in Stack(parameters).invalid_parameters()


@pytest.mark.parametrize(
    "parameters, broken",
    [
        ({"ArchiveRetentionDays": "30", "ArchiveTtlAttribute": "PK"}, "PartitionKeyName"),
        ({"ArchiveRetentionDays": "30", "ArchiveTtlAttribute": "ts", "SortKeyName": "ts"}, "SortKeyName"),
        ({"ArchiveRetentionDays": "30", "ArchiveTtlAttribute": "At", "ArchivedAtAttribute": "At"}, "ArchivedAtAttribute"),
        ({"ArchiveRetentionDays": "30", "ArchiveTtlAttribute": "ArchiveVersion"}, "ArchiveVersion"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_an_expiry_attribute_that_would_collide_stops_the_deploy(parameters, broken):
    (failure,) = Stack(parameters).rule_failures()
    assert failure.startswith("ArchiveTtlAttribute must differ from") and broken in failure
    without_retention = {k: v for k, v in parameters.items() if k != "ArchiveRetentionDays"}
    assert Stack(without_retention).rule_failures() == [], "no retention, no expiry attribute"


def test_the_source_ttl_attribute_name_may_be_reused_for_the_expiry():
    stack = Stack({"ArchiveRetentionDays": "30", "ArchiveTtlAttribute": "ExpirationTime"})
    assert stack.rule_failures() == [], "the function replaces the source's expiry with the archive's"


# cfn-lint and `sam validate --lint` on each option set. Neither takes parameter values, so each
# set becomes the template's defaults (cfn-lint checks defaults against AllowedPattern too).
# Global tables (docs/global-tables.md): the stack in each Region of a global source table. The
# primary (no ArchiveTableArn) creates the archive as a global table; the others write their
# own Region's replica.
REGIONS = "us-east-1,eu-west-1,ap-southeast-2"
MRK_ARN = "arn:aws:kms:us-east-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab"
PRIMARY = {"GlobalTableRegions": REGIONS, "SourceStreamArn": GIVEN_STREAM}
SECONDARY = {
    "GlobalTableRegions": REGIONS,
    "SourceStreamArn": "arn:aws:dynamodb:eu-west-1:123456789012:table/Sessions/stream/2026-01-02T00:00:00.000",
    "ArchiveTableArn": "arn:aws:dynamodb:eu-west-1:123456789012:table/ttl-archiver-archive",
}
GLOBAL_WRITES = {"dynamodb:PutItem", "dynamodb:GetItem"}


def archive_grant(resources):
    (grant,) = [statement for statement, _ in statements(resources) if statement.get("Sid") == "WriteArchive"]
    actions = grant["Action"]
    return set([actions] if isinstance(actions, str) else actions), grant["Resource"]


@pytest.mark.parametrize(
    "regions, options",
    [
        (REGIONS, {}),
        (REGIONS, {"ArchiveRetentionDays": "400"}),
        (REGIONS, {"ArchiveKmsKeyArn": MRK_ARN}),
        (REGIONS, {"SortKeyName": "ts", "SortKeyType": "N"}),
        ("us-east-1,eu-west-1", {}),
        ("eu-west-1,us-east-1,us-west-2,ap-south-1,sa-east-1", {"ArchiveKmsKeyArn": MRK_ARN}),
    ],
    ids=["3 Regions", "retention", "multi-Region key", "sort key", "2 Regions", "5 Regions"],
)
def test_the_primary_creates_the_archive_as_a_global_table_standard_ia_in_every_region(regions, options):
    regional = Stack(options).resources["ArchiveTable"]
    stack = Stack({**PRIMARY, **options, "GlobalTableRegions": regions})
    assert stack.invalid_parameters() == {} and stack.rule_failures() == []
    resources = stack.resources
    assert "ArchiveTable" not in resources
    table = resources["GlobalArchiveTable"]
    assert (table["DeletionPolicy"], table["UpdateReplacePolicy"]) == ("Retain", "Retain")
    props, one_region = table["Properties"], regional["Properties"]
    assert props["TableName"] == PHYSICAL["GlobalArchiveTable"]
    for same in ("AttributeDefinitions", "KeySchema", "BillingMode", "TimeToLiveSpecification"):
        assert props.get(same) == one_region.get(same), same
    assert props["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}, "replication needs it"
    assert [replica["Region"] for replica in props["Replicas"]] == regions.split(",")
    key = options.get("ArchiveKmsKeyArn")
    for replica in props["Replicas"]:
        assert replica["TableClass"] == one_region["TableClass"] == "STANDARD_INFREQUENT_ACCESS"
        assert replica["PointInTimeRecoverySpecification"] == one_region["PointInTimeRecoverySpecification"]
        assert replica["DeletionProtectionEnabled"] is one_region["DeletionProtectionEnabled"] is True
        if key:
            # The multi-Region key's replica in the replica's Region.
            assert replica["SSESpecification"] == {"KMSMasterKeyId": key.replace(":us-east-1:", f":{replica['Region']}:")}
        else:
            assert "SSESpecification" not in replica
    if key:
        assert props["SSESpecification"] == {"SSEEnabled": True, "SSEType": "KMS"}
    else:
        assert "SSESpecification" not in props and "SSESpecification" not in one_region

    variables = resources["ArchiverFunction"]["Properties"]["Environment"]["Variables"]
    assert (variables["TABLE_NAME"], variables["GLOBAL_ARCHIVE"]) == (PHYSICAL["GlobalArchiveTable"], "true")
    assert archive_grant(resources) == (GLOBAL_WRITES, f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/ttl-archiver-archive")
    outputs = stack.outputs
    assert outputs["ArchiveTableName"] == PHYSICAL["GlobalArchiveTable"]
    assert outputs["GlobalTableRegions"] == regions
    assert outputs["OtherRegionsParameters"] == (
        f"GlobalTableRegions={regions} ArchiveTableArn=arn:aws:dynamodb:REGION:{ACCOUNT}:table/ttl-archiver-archive"
    )


def test_a_secondary_region_writes_its_own_replica_and_creates_no_table():
    stack = Stack(SECONDARY, region="eu-west-1")
    assert stack.invalid_parameters() == {}
    resources = stack.resources
    assert not {"ArchiveTable", "GlobalArchiveTable", "DemoSourceTable"} & resources.keys()
    variables = resources["ArchiverFunction"]["Properties"]["Environment"]["Variables"]
    assert (variables["TABLE_NAME"], variables["GLOBAL_ARCHIVE"]) == (SECONDARY["ArchiveTableArn"], "true")
    assert archive_grant(resources) == (GLOBAL_WRITES, SECONDARY["ArchiveTableArn"])
    outputs = stack.outputs
    assert "OtherRegionsParameters" not in outputs
    assert outputs["GlobalTableRegions"] == REGIONS


def test_one_region_is_unchanged_by_the_global_options():
    resources = Stack({}).resources
    assert "GlobalArchiveTable" not in resources
    assert resources["ArchiverFunction"]["Properties"]["Environment"]["Variables"]["GLOBAL_ARCHIVE"] == "false"
    assert archive_grant(resources)[0] == ARCHIVE_WRITES
    assert not {"GlobalTableRegions", "OtherRegionsParameters", "CheckEveryRegionCommand"} & Stack({}).outputs.keys()


@pytest.mark.parametrize("regions", ["us-east-1", "us-east-1, eu-west-1", "US-EAST-1,eu-west-1", "a,b", ",".join(["us-east-1"] * 6)])
def test_global_table_regions_cloudformation_refuses(regions):
    assert "GlobalTableRegions" in Stack({"GlobalTableRegions": regions}).invalid_parameters()


def shortfall(expressions, deleted, reached, replicated):
    """The reconciliation alarm's math (one hour), evaluated for the given sums."""
    missing = expressions["missing"].replace("FILL(", "(").replace(", 0)", ")")
    values = {"deleted": deleted, "reached": reached, "replicated": replicated}
    values["missing"] = eval(missing, {}, values)
    condition = re.fullmatch(r"IF\((.*), 1, 0\)", expressions["shortfall"]).group(1)
    condition = condition.replace("FILL(", "(").replace(", 0)", ")").replace(" AND ", " and ")
    return 1 if eval(condition, {}, values) else 0


def test_the_global_reconciliation_alarm_is_right_whether_or_not_replicated_deletions_are_counted():
    alarm = Stack(SECONDARY, region="eu-west-1").resources["ReconciliationAlarm"]["Properties"]
    metrics = {m["Id"]: m for m in alarm["Metrics"]}
    assert metrics["replicated"]["MetricStat"]["Metric"] == {
        "Namespace": "TtlArchiver",
        "MetricName": "ReplicatedTtlDeletions",
        "Dimensions": [{"Name": "FunctionName", "Value": PHYSICAL["ArchiverFunction"]}],
    }
    assert (metrics["replicated"]["MetricStat"]["Period"], metrics["replicated"]["ReturnData"]) == (3600, False)
    expressions = {id: m["Expression"] for id, m in metrics.items() if "Expression" in m}
    assert expressions["missing"] == "FILL(deleted, 0) - FILL(reached, 0) - FILL(replicated, 0)"
    # An hour in which this Region's TTL deleted 100 items and the other Regions 300. Whether
    # TimeToLiveDeletedItemCount here counts the replicated 300 is not documented: both cases.
    for counted in (100, 400):
        assert shortfall(expressions, deleted=counted, reached=100, replicated=300) == 0, "healthy"
        assert shortfall(expressions, deleted=counted, reached=0, replicated=0) == 1, "nothing reaches it"
    one_region = {m["Id"]: m.get("Expression") for m in Stack({}).resources["ReconciliationAlarm"]["Properties"]["Metrics"]}
    assert "replicated" not in one_region
    assert shortfall(one_region, deleted=400, reached=100, replicated=0) == 1, "why: counted, it would fire"


def test_the_dashboard_shows_every_regions_ttl_deletions_against_what_reached_an_archiver_there():
    body = json.loads(Stack(SECONDARY, region="eu-west-1").resources["Dashboard"]["Properties"]["DashboardBody"])
    per_region = [w["properties"] for w in body["widgets"] if w["properties"].get("title", "").endswith("reached an archiver there (items per hour)")]
    assert [p["region"] for p in per_region] == REGIONS.split(",")
    for properties in per_region:
        deleted, reached = properties["metrics"]
        assert deleted[:4] == ["AWS/DynamoDB", "TimeToLiveDeletedItemCount", "TableName", "Sessions"]
        assert reached[0]["expression"] == """SEARCH('{TtlArchiver,FunctionName} MetricName="Selected"', 'Sum', 3600)"""
    assert not [w for w in json.loads(Stack({}).resources["Dashboard"]["Properties"]["DashboardBody"])["widgets"]
                if w["properties"].get("title", "").endswith("reached an archiver there (items per hour)")]


def samconfig():
    import tomllib

    return tomllib.loads((ROOT / "samconfig.toml").read_text())


def overrides(text):
    return dict(shlex.split(pair)[0].split("=", 1) for pair in shlex.split(text))


def test_samconfigs_global_environments_are_a_primary_and_its_replicas():
    config = samconfig()
    environments = {name: env["deploy"]["parameters"] for name, env in config.items() if name.startswith("global-")}
    assert len(environments) == 3
    stacks = {}
    for name, deploy in environments.items():
        region = deploy["region"]
        assert name == f"global-{region}"
        parameters = overrides(deploy["parameter_overrides"])
        assert parameters["GlobalTableRegions"].split(",") == [n.removeprefix("global-") for n in environments]
        assert f":{region}:" in parameters["SourceStreamArn"], "each Region's own stream"
        stack = Stack(parameters, region=region)
        assert stack.invalid_parameters() == {}
        stacks[region] = (deploy, stack)
        assert {"capabilities", "resolve_s3", "stack_name", "confirm_changeset"} <= deploy.keys()
    (primary,) = [region for region, (_, stack) in stacks.items() if "GlobalArchiveTable" in stack.resources]
    assert primary == "us-east-1"
    archive = f"{stacks[primary][0]['stack_name']}-archive"
    replicas = {r["Region"] for r in stacks[primary][1].resources["GlobalArchiveTable"]["Properties"]["Replicas"]}
    assert replicas == set(stacks)
    for region, (deploy, stack) in stacks.items():
        variables = stack.resources["ArchiverFunction"]["Properties"]["Environment"]["Variables"]
        if region != primary:
            assert variables["TABLE_NAME"] == f"arn:aws:dynamodb:{region}:{ACCOUNT}:table/{archive}", "its Region's replica"
        assert variables["GLOBAL_ARCHIVE"] == "true"


AWS_STUB = """#!{python}
# The two AWS CLI calls of CheckEveryRegionCommand, answered from AWS_STUB_MAPPINGS with the
# CLI's own query language (JMESPath), as `--output text` prints.
import json, os, sys
import jmespath

args = sys.argv[1:]
option = lambda name: args[args.index(name) + 1]
region = option("--region")
if args[:2] == ["dynamodb", "describe-table"]:
    answer = {{"Table": {{"LatestStreamArn": f"arn:aws:dynamodb:{{region}}:123456789012:table/{{option('--table-name')}}/stream/2026"}}}}
elif args[:2] == ["lambda", "list-event-source-mappings"]:
    mappings = json.loads(os.environ["AWS_STUB_MAPPINGS"]).get(region, [])
    answer = {{"EventSourceMappings": [m for m in mappings if option("--event-source-arn").startswith(f"arn:aws:dynamodb:{{region}}:")]}}
else:
    sys.exit(f"unexpected call: {{args}}")
print(jmespath.search(option("--query"), answer))
"""


def test_the_check_command_names_each_region_without_an_archiver(tmp_path):
    stub = tmp_path / "aws"
    stub.write_text(AWS_STUB.format(python=sys.executable))
    stub.chmod(0o755)
    command = Stack(PRIMARY).outputs["CheckEveryRegionCommand"]
    archiver = {"State": "Enabled", "FilterCriteria": {"Filters": [{"Pattern": json.dumps(TTL_PATTERN)}]}}

    def check(mappings):
        env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}", "AWS_STUB_MAPPINGS": json.dumps(mappings)}
        run = subprocess.run(["sh", "-c", command], capture_output=True, text=True, env=env)
        return run.returncode, run.stdout.splitlines()

    status, lines = check({region: [archiver] for region in REGIONS.split(",")})
    assert status == 0, lines
    assert [line.split(":")[0] for line in lines if ": archived (1 enabled mapping" in line] == REGIONS.split(",")
    # eu-west-1's mapping is disabled; ap-southeast-2 has only another consumer, unfiltered.
    status, lines = check({
        "us-east-1": [archiver],
        "eu-west-1": [{**archiver, "State": "Disabled"}],
        "ap-southeast-2": [{"State": "Enabled"}],
    })
    assert status == 1
    assert [line.split(":")[0] for line in lines if "NOT ARCHIVED" in line] == ["eu-west-1", "ap-southeast-2"]
    assert "deploy the stack there" in lines[1]


LINT_SETS = {
    "defaults": {},
    "retention": {"ArchiveRetentionDays": "400"},
    "archive key": {"ArchiveKmsKeyArn": KEY_ARN},
    "source key with its stream": {"SourceKmsKeyArn": SOURCE_KEY_ARN, "SourceStreamArn": GIVEN_STREAM},
    "table of another account with its key": {"ArchiveTableArn": OTHER_ACCOUNT_TABLE, "ArchiveKmsKeyArn": KEY_ARN},
    "everything": OPTIONS,
    "hardening": {"AccessLogBucketName": "my-access-logs", "LogGroupKmsKeyArn": KEY_ARN, "ReservedConcurrency": "10"},
    "global table, primary": {
        **PRIMARY, "ArchiveKmsKeyArn": MRK_ARN, "ArchiveRetentionDays": "400",
        "ArchiveWarmWriteUnitsPerSecond": "60000",
    },
    "warm archive": {"ArchiveWarmWriteUnitsPerSecond": "60000"},
    "global table, secondary": SECONDARY,
}
BIN = pathlib.Path(sys.executable).parent


def with_defaults(parameters):
    template = yaml_parse((ROOT / "template.yaml").read_text())
    for name, value in parameters.items():
        spec = template["Parameters"][name]
        spec["Default"] = int(value) if spec["Type"] == "Number" else value
    return template


@pytest.mark.parametrize("name", LINT_SETS)
def test_cfn_lint_and_sam_validate_are_clean_for_each_option_set(name, tmp_path):
    path = tmp_path / "template.yaml"
    path.write_text(json.dumps(with_defaults(LINT_SETS[name]), indent=1))
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1", "SAM_CLI_TELEMETRY": "0"}
    for command in ([BIN / "cfn-lint", path], [BIN / "sam", "validate", "--lint", "-t", path]):
        run = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path)
        assert run.returncode == 0, f"{command[0].name} on {name}:\n{run.stdout}{run.stderr}"


# The hardening options (docs/deploy.md, "Security scan"): each changes its one resource and
# grants the role nothing.
HARDENING = LINT_SETS["hardening"]


def test_hardening_options_are_off_by_default_and_change_only_their_resource():
    plain, hardened = Stack({}), Stack(HARDENING)
    assert plain.invalid_parameters() == {} and hardened.invalid_parameters() == {}
    before, after = plain.resources, hardened.resources
    assert "LoggingConfiguration" not in before["FailedBatchBucket"]["Properties"]
    assert after["FailedBatchBucket"]["Properties"]["LoggingConfiguration"] == {
        "DestinationBucketName": "my-access-logs",
        "LogFilePrefix": "ttl-archiver/failed-batches/",
    }
    assert "KmsKeyId" not in before["ArchiverLogGroup"]["Properties"]
    assert after["ArchiverLogGroup"]["Properties"]["KmsKeyId"] == KEY_ARN
    function_name = "ArchiverFunction"
    assert "ReservedConcurrentExecutions" not in before[function_name]["Properties"]
    assert after[function_name]["Properties"]["ReservedConcurrentExecutions"] == "10"
    assert list(statements(before)) == list(statements(after)), "no new permission"
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {"FailedBatchBucket", "ArchiverLogGroup", function_name}


@pytest.mark.parametrize(
    "parameters, refused",
    [
        ({"AccessLogBucketName": "My_Logs"}, "AccessLogBucketName"),
        ({"AccessLogBucketName": "arn:aws:s3:::logs"}, "AccessLogBucketName"),
        ({"LogGroupKmsKeyArn": "alias/aws/logs"}, "LogGroupKmsKeyArn"),
        ({"ReservedConcurrency": "-1"}, "ReservedConcurrency"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_hardening_values_cloudformation_refuses(parameters, refused):
    assert refused in Stack(parameters).invalid_parameters()


CHECKOV = ROOT / "tools" / ".venv-checkov" / "bin" / "checkov"


def checkov_skips():
    """(resource, check id, comment) for every skip written in the template."""
    template = yaml_parse((ROOT / "template.yaml").read_text())
    return [
        (name, skip.get("id"), skip.get("comment", ""))
        for name, resource in template["Resources"].items()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]


def test_every_checkov_skip_says_why_and_the_docs_list_it():
    page = (ROOT / "docs" / "deploy.md").read_text()
    skips = checkov_skips()
    assert skips, "the template's skips are read"
    for resource, check, comment in skips:
        assert re.fullmatch(r"CKV2?_AWS_\d+", check or ""), f"{resource}: a skip without a check id"
        assert len(comment.split()) >= 8, f"{resource} {check}: a skip needs a reason a reviewer accepts"
        assert re.search(rf"^\| `{check}`[^|\n]*\| `{resource}` \|", page, re.M), (
            f"the security scan table of docs/deploy.md lacks {check} on {resource}"
        )


def test_checkov_reports_no_failed_check_for_any_option_set(tmp_path):
    """checkov (pinned in tools/requirements-checkov.txt), offline, on the template as written and
    on each option set as defaults: 0 failed checks, nothing it could not parse."""
    if not CHECKOV.exists():
        message = "checkov is not installed: run `bash tools/setup`"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    (tmp_path / "template.yaml").write_text((ROOT / "template.yaml").read_text())
    for name, parameters in LINT_SETS.items():
        (tmp_path / f"{name.replace(' ', '-')}.json").write_text(json.dumps(with_defaults(parameters), indent=1))
    run = subprocess.run(
        [CHECKOV, "-d", tmp_path, "--framework", "cloudformation", "--skip-download", "--compact", "-o", "json"],
        capture_output=True, text=True, cwd=tmp_path,
    )
    report = json.loads(run.stdout)
    summary = report["summary"]
    assert summary["parsing_errors"] == 0, run.stdout
    assert summary["failed"] == 0, [
        (c["check_id"], c["resource"], c["file_path"]) for c in report["results"]["failed_checks"]
    ]
    assert run.returncode == 0
    scanned = {c["file_path"].lstrip("/") for c in report["results"]["passed_checks"]}
    assert scanned == {"template.yaml"} | {f"{name.replace(' ', '-')}.json" for name in LINT_SETS}
    skipped = {(c["resource"].split(".")[-1], c["check_id"]) for c in report["results"]["skipped_checks"]}
    assert {(resource, check) for resource, check, _ in checkov_skips()} <= skipped, "every skip is one checkov made"


def headings(path):
    """The Markdown headings of `path`, without their #s."""
    found, fenced = [], False
    for line in (ROOT / path).read_text().splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and re.match(r"#{1,6} ", line):
            found.append(line.lstrip("#").strip())
    return found


def test_every_section_the_template_names_exists():
    """(README, "X") and (docs/page.md, "X") in descriptions and comments: a heading that is X, or
    starts with "X:" or "X (". A bare (README, X) names a heading too."""
    text = (ROOT / "template.yaml").read_text()
    # Joined across a comment's line breaks: "(README, \"Global\n        # tables\")".
    text = re.sub(r"\n\s*# ", " ", text)
    references = re.findall(r'(README|docs/[\w.-]+\.md),? \\?"([^"\\\n]+)\\?"\)', text)
    references += [("README", name) for name in re.findall(r"\(README, ([A-Z][\w ]+)\)", text)]
    references += re.findall(r'(README) \(\\?"([^"\\]+)\\?"\)', text)
    assert len(references) >= 8, references
    for page, name in references:
        path = "README.md" if page == "README" else page
        found = headings(path)
        assert any(h == name or h.startswith(name + ":") or h.startswith(name + " (") for h in found), (
            f'{page}, "{name}": no such heading in {path}'
        )


# The README and docs/: every relative link leads to a file that exists and, with a #anchor, to
# a heading of that file; and the README stays short enough to read in ten minutes.
DOC_PAGES = ["README.md", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))]


def anchor(heading):
    """GitHub's anchor for a heading: its text as rendered (a link's text, no backticks or
    emphasis marks), lowercased, punctuation other than - and _ removed, spaces made -."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def relative_links(text):
    """The targets of the inline links of a Markdown text, outside code blocks and code spans,
    that have no scheme (http:, mailto:): a path, a path#anchor, or #anchor."""
    prose, fenced = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced:
            prose.append(line)
    prose = re.sub(r"`[^`]*`", "", "\n".join(prose))
    targets = re.findall(r"\[[^\]]*\]\(([^)\s]+)\)", prose)
    return [t for t in targets if not re.match(r"[a-z][a-z0-9+.-]*:", t, re.I)]


def broken_links(page):
    """What is wrong with each relative link of `page` (relative to the repository's root)."""
    broken = []
    for target in relative_links((ROOT / page).read_text()):
        path, _, fragment = target.partition("#")
        file = ((ROOT / page).parent / path).resolve() if path else ROOT / page
        name = os.path.relpath(file, ROOT)
        if not file.exists():
            broken.append(f"{page}: {target}: no file {name}")
        elif fragment and (not file.is_file() or fragment not in {anchor(h) for h in headings(file)}):
            broken.append(f"{page}: {target}: no heading of {name} has the anchor #{fragment}")
    return broken


def test_every_relative_link_in_the_docs_resolves():
    assert "docs/runbook.md" in DOC_PAGES and len(DOC_PAGES) > 2, DOC_PAGES
    assert sum(len(relative_links((ROOT / page).read_text())) for page in DOC_PAGES) >= 20, "the links are read"
    broken = [problem for page in DOC_PAGES for problem in broken_links(page)]
    assert not broken, "\n".join(broken)
    linked = {target.partition("#")[0] for target in relative_links((ROOT / "README.md").read_text())}
    unlinked = sorted(set(DOC_PAGES[1:]) - linked)
    assert not unlinked, f"pages of docs/ the README's Documentation list does not link: {unlinked}"
    for page in DOC_PAGES:
        anchors = [anchor(h) for h in headings(page)]
        repeated = sorted({a for a in anchors if anchors.count(a) > 1})
        assert not repeated, f"{page}: headings that share an anchor: {repeated}"


def test_the_anchor_rule_is_githubs():
    assert anchor("With the SAM CLI and Docker (`sam local invoke`)") == "with-the-sam-cli-and-docker-sam-local-invoke"
    assert anchor("The archive table: retention, keys, your own table") == "the-archive-table-retention-keys-your-own-table"
    assert anchor("Checks that do not share the code's assumptions") == "checks-that-do-not-share-the-codes-assumptions"
    assert anchor("From a release's files (no Rust)") == "from-a-releases-files-no-rust"
    assert anchor("Items near 400 KB") == "items-near-400-kb"


def test_the_readme_is_under_400_lines():
    lines = len((ROOT / "README.md").read_text().splitlines())
    assert lines < 400, f"README.md has {lines} lines: move the depth into docs/"


# The archive's warm write throughput (README, "Sizing"): off by default, then on the table the
# stack creates, Regional or global, and nowhere else; no permission for it.
@pytest.mark.parametrize("options, table", [({}, "ArchiveTable"), (PRIMARY, "GlobalArchiveTable")])
def test_the_archives_warm_write_throughput_is_a_parameter_off_by_default(options, table):
    plain = Stack(options)
    warm = Stack({**options, "ArchiveWarmWriteUnitsPerSecond": "60000"})
    assert warm.invalid_parameters() == {}
    assert "WarmThroughput" not in plain.resources[table]["Properties"]
    assert warm.resources[table]["Properties"]["WarmThroughput"] == {"WriteUnitsPerSecond": "60000"}
    changed = {name for name in plain.resources if plain.resources[name] != warm.resources[name]}
    assert changed == {table}
    assert list(statements(plain.resources)) == list(statements(warm.resources)), "no new permission"
    refused = Stack({**options, "ArchiveWarmWriteUnitsPerSecond": "-1"}).invalid_parameters()
    assert refused == {"ArchiveWarmWriteUnitsPerSecond": "MinValue"}


def test_a_table_of_your_own_is_not_warmed_by_the_stack():
    stack = Stack({"ArchiveTableArn": OTHER_ACCOUNT_TABLE, "ArchiveWarmWriteUnitsPerSecond": "60000"})
    assert not any(
        "WarmThroughput" in resource.get("Properties", {}) for resource in stack.resources.values()
    )


def test_the_iterator_age_alarm_warns_well_before_records_are_parked():
    """With the defaults, the alarm fires (its period times its evaluation periods after the age
    passes its threshold) within a tenth of the time a record has before it is parked."""
    template = yaml_parse((ROOT / "template.yaml").read_text())
    parameters, alarm = template["Parameters"], template["Resources"]["IteratorAgeAlarm"]["Properties"]
    record_age = parameters["MaximumRecordAgeInSeconds"]["Default"]
    fires_after = parameters["IteratorAgeAlarmSeconds"]["Default"] + alarm["Period"] * alarm["EvaluationPeriods"]
    assert fires_after * 10 <= record_age, (fires_after, record_age)
    assert alarm["Statistic"] == "Maximum" and alarm["MetricName"] == "IteratorAge"
    assert "MaximumRecordAgeInSeconds" in parameters["IteratorAgeAlarmSeconds"]["Description"]
