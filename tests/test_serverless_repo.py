"""The template as the AWS Serverless Application Repository takes it (README, "Install"): its
`AWS::ServerlessRepo::Application` metadata under AWS's constraints and equal to Cargo.toml's,
every resource type one the repository accepts, the capabilities a deployer acknowledges, and the
nested-application example built and validated offline with this repository's template."""
import json
import os
import pathlib
import re
import shutil
import subprocess
import tomllib

import pytest
from samtranslator.yaml_helper import yaml_parse

from test_template import LINT_SETS, transformed

ROOT = pathlib.Path(__file__).resolve().parent.parent
CARGO = tomllib.loads((ROOT / "Cargo.toml").read_text())["package"]
METADATA = yaml_parse((ROOT / "template.yaml").read_text())["Metadata"]["AWS::ServerlessRepo::Application"]
BIN = ROOT / "tools" / ".venv" / "bin"

# Not in the list as AWS's documentation source last had it (tests/sar_supported_resources.txt),
# each with the reason it stays. A new unlisted type fails the test below.
UNLISTED = {
    "AWS::DynamoDB::GlobalTable": (
        "only with GlobalTableRegions and no ArchiveTableArn (the global archive's first Region); "
        "if the repository refuses it, `sam publish` fails in the release workflow, naming it"
    ),
}

# AWS, "Application Capabilities: IAM Roles, Resource Policies, and Nested Applications".
IAM_TYPES = {"AWS::IAM::Group", "AWS::IAM::InstanceProfile", "AWS::IAM::Policy", "AWS::IAM::Role"}
RESOURCE_POLICY_TYPES = {
    "AWS::Lambda::Permission", "AWS::IAM::Policy", "AWS::ApplicationAutoScaling::ScalingPolicy",
    "AWS::S3::BucketPolicy", "AWS::SQS::QueuePolicy", "AWS::SNS::TopicPolicy",
}
NESTED_TYPES = {"AWS::Serverless::Application", "AWS::CloudFormation::Stack"}


def supported_types():
    lines = (ROOT / "tests" / "sar_supported_resources.txt").read_text().splitlines()
    return {line for line in lines if line and not line.startswith("#")}


def every_option_set():
    """The template's resources with every option set: before and after the SAM transform."""
    source = yaml_parse((ROOT / "template.yaml").read_text())
    yield "source", source
    for name, parameters in LINT_SETS.items():
        yield name, transformed(**parameters)


def test_the_metadata_meets_the_repositorys_constraints_and_states_the_crates_version():
    """AWS, "AWS SAM template Metadata section properties"."""
    assert re.fullmatch(r"[a-zA-Z0-9\-]{1,140}", METADATA["Name"])
    assert 1 <= len(METADATA["Description"]) <= 256
    assert re.fullmatch(r"[a-z0-9](([a-z0-9]|-(?!-))*[a-z0-9])?", METADATA["Author"])
    assert len(METADATA["Author"]) <= 127
    assert len(METADATA["Labels"]) <= 10
    for label in METADATA["Labels"]:
        assert re.fullmatch(r"[a-zA-Z0-9+\-_:/@]{1,127}", label), label
    for field in ("LicenseUrl", "ReadmeUrl"):
        path = ROOT / METADATA[field]
        assert path.is_file() and path.stat().st_size <= 5 * 1024 * 1024, field
    # One version, one licence, one home, as Cargo.toml states them (and intrinsic functions
    # are not allowed here, so each is a plain string).
    assert METADATA["SemanticVersion"] == CARGO["version"]
    assert METADATA["SpdxLicenseId"] == CARGO["license"]
    assert (ROOT / METADATA["LicenseUrl"]).read_text().startswith(f"{CARGO['license']} License")
    assert METADATA["HomePageUrl"] == CARGO["repository"]
    assert METADATA["SourceCodeUrl"] == f"{CARGO['repository']}/tree/v{CARGO['version']}"


def test_every_resource_type_is_one_the_repository_accepts():
    supported = supported_types()
    assert len(supported) > 100, "the list is read"
    unlisted = {}
    for name, template in every_option_set():
        for logical, resource in template["Resources"].items():
            if resource["Type"] not in supported:
                unlisted.setdefault(resource["Type"], set()).add((name, logical))
    assert set(unlisted) == set(UNLISTED), unlisted
    assert unlisted["AWS::DynamoDB::GlobalTable"] <= {
        (name, "GlobalArchiveTable") for name in ["source", *LINT_SETS]
    }


def required_capabilities(template):
    types = {r["Type"] for r in template["Resources"].values()}
    needed = set()
    if types & IAM_TYPES:
        named = any(
            "RoleName" in r.get("Properties", {}) or "GroupName" in r.get("Properties", {})
            for r in template["Resources"].values() if r["Type"] in IAM_TYPES
        )
        needed.add("CAPABILITY_NAMED_IAM" if named else "CAPABILITY_IAM")
    if types & RESOURCE_POLICY_TYPES:
        needed.add("CAPABILITY_RESOURCE_POLICY")
    if types & NESTED_TYPES:
        needed.add("CAPABILITY_AUTO_EXPAND")
    return needed


def test_the_readme_names_the_capabilities_a_deployer_acknowledges():
    needed = set()
    for _, template in every_option_set():
        needed |= required_capabilities(template)
    assert needed == {"CAPABILITY_IAM", "CAPABILITY_RESOURCE_POLICY"}
    readme = (ROOT / "README.md").read_text()
    assert "`CAPABILITY_IAM` and `CAPABILITY_RESOURCE_POLICY`" in readme


def test_the_readme_counts_the_roles_a_deployer_acknowledges():
    """What the acknowledgement covers, counted in the deployed form of every option set."""
    words = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five"}
    counts = {
        sum(r["Type"] == "AWS::IAM::Role" for r in template["Resources"].values())
        for name, template in every_option_set() if name != "source"
    }
    assert len(counts) == 1, counts
    readme = " ".join((ROOT / "README.md").read_text().split())
    assert f"the stack creates {words[counts.pop()]} IAM roles" in readme


def test_no_permission_the_repository_refuses_to_publish():
    """AWS blocks publication of AWSLambda_FullAccess and of iam:AttachRolePolicy, iam:PutRolePolicy
    or iam:* on every resource ("Using AWS SAM with the AWS Serverless Application Repository")."""
    for name, template in every_option_set():
        text = str(template)
        assert "AWSLambda_FullAccess" not in text, name
        for action in ("iam:AttachRolePolicy", "iam:PutRolePolicy", "iam:*", "iam:PassRole"):
            assert action not in text, (name, action)


def test_the_release_workflow_publishes_only_with_a_role_and_says_so_without():
    workflow = (ROOT / ".github" / "workflows" / "sar-publish.yml").read_text()
    parsed = yaml_parse(workflow)
    steps = parsed["jobs"]["publish"]["steps"]
    skipped = [s for s in steps if s.get("name") == "Not published (no AWS role)"]
    assert len(skipped) == 1 and "::warning" in skipped[0]["run"] and "GITHUB_STEP_SUMMARY" in skipped[0]["run"]
    for step in steps:
        if step is not skipped[0]:
            assert step.get("if") == "env.ROLE_ARN != '' && env.PACKAGE_BUCKET != ''", step
    [publish] = [s for s in steps if "sam publish" in s.get("run", "")]
    # `shell: bash` is bash with pipefail: `sam publish | tee` fails the step when sam does.
    assert publish.get("shell") == "bash" and "| tee" in publish["run"]
    assert any(s.get("uses", "").startswith("aws-actions/configure-aws-credentials@") for s in steps)


def publishing_policies():
    """The JSON blocks of the README's publishing section: trust policy, role policy, bucket policy."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Publishing to the Serverless Application Repository", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```json\n(.*?)```", section, re.S)
    assert len(blocks) == 3, "trust, role and bucket policies"
    return [json.loads(block) for block in blocks]


def actions_of(statement):
    return [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]


def test_the_publishing_role_is_assumed_only_by_this_repositorys_version_tags():
    trust, _, _ = publishing_policies()
    [statement] = trust["Statement"]
    assert actions_of(statement) == ["sts:AssumeRoleWithWebIdentity"]
    assert statement["Principal"]["Federated"].endswith(":oidc-provider/token.actions.githubusercontent.com")
    condition = statement["Condition"]
    assert condition["StringEquals"] == {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}
    repository = CARGO["repository"].removeprefix("https://github.com/")
    assert condition["StringLike"] == {
        "token.actions.githubusercontent.com:sub": f"repo:{repository}:ref:refs/tags/v*"
    }


def test_the_publishing_policy_in_the_readme_is_least_privilege():
    """What `sam package` and `sam publish` (without --fail-on-same-version) call: the SAM CLI's
    vendored serverlessrepo.publish calls CreateApplication, then on a conflict UpdateApplication
    and CreateApplicationVersion; its S3 uploader's HeadObject may be refused (it uploads again)."""
    _, role, _ = publishing_policies()
    statements = role["Statement"]
    actions = {a for s in statements for a in actions_of(s)}
    assert actions == {
        "serverlessrepo:CreateApplication", "serverlessrepo:UpdateApplication",
        "serverlessrepo:CreateApplicationVersion", "s3:PutObject",
    }
    for statement in statements:
        assert statement["Effect"] == "Allow"
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        for action in actions_of(statement):
            for resource in resources:
                if action == "serverlessrepo:CreateApplication":
                    assert resource == "*", statement
                elif action.startswith("serverlessrepo:"):
                    assert re.fullmatch(r"arn:aws:serverlessrepo:<SAR_REGION>:\d{12}:applications/ttl-archiver", resource), statement
                else:
                    assert re.fullmatch(r"arn:aws:s3:::[a-z0-9.-]+/ttl-archiver/\*", resource), statement
    workflow = (ROOT / ".github" / "workflows" / "sar-publish.yml").read_text()
    assert "--fail-on-same-version" not in workflow, "it would need serverlessrepo:GetApplication"
    assert "--s3-prefix ttl-archiver " in workflow


def test_the_package_bucket_lets_only_the_repository_read_this_accounts_packages():
    _, _, bucket = publishing_policies()
    [statement] = bucket["Statement"]
    assert statement["Principal"] == {"Service": "serverlessrepo.amazonaws.com"}
    assert actions_of(statement) == ["s3:GetObject"]
    assert "aws:SourceAccount" in statement["Condition"]["StringEquals"]


def test_the_nested_application_example_builds_and_validates_offline(tmp_path):
    """examples/nested-application/template.yaml with its Location pointing at this repository's
    template by local path (the repository's ApplicationId would need AWS), on x86_64 as this
    machine builds: `sam build`, then `sam validate --lint` on what it built and on the source."""
    if not (BIN / "sam").exists():
        if os.environ.get("CI") == "true":
            pytest.fail("the SAM CLI is not installed: run `bash tools/setup`")
        pytest.skip("the SAM CLI is not installed: run `bash tools/setup`")
    example = (ROOT / "examples" / "nested-application" / "template.yaml").read_text()
    location = (
        "      Location:\n"
        "        ApplicationId: arn:aws:serverlessrepo:us-east-1:123456789012:applications/ttl-archiver\n"
        f"        SemanticVersion: {CARGO['version']}\n"
    )
    assert location in example, "the example installs this release from the repository"
    local = example.replace(location, f"      Location: {ROOT / 'template.yaml'}\n")
    local = local.replace(
        "        AlarmTopicArn: !Ref AlarmTopicArn\n",
        "        AlarmTopicArn: !Ref AlarmTopicArn\n        Architecture: x86_64\n",
    )
    (tmp_path / "template.yaml").write_text(local)
    env = {
        **os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "SAM_CLI_TELEMETRY": "0",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    build = subprocess.run(
        [BIN / "sam", "build", "--beta-features", "--build-dir", tmp_path / "build"],
        cwd=tmp_path, env=env, capture_output=True, text=True,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    built = yaml_parse((tmp_path / "build" / "template.yaml").read_text())
    nested = built["Resources"]["OrdersArchiver"]
    assert nested["Type"] == "AWS::Serverless::Application"
    assert (tmp_path / "build" / "OrdersArchiver" / "template.yaml").is_file()
    # The parameters the example passes are ones the template declares.
    declared = yaml_parse((ROOT / "template.yaml").read_text())["Parameters"]
    assert set(nested["Properties"]["Parameters"]) <= set(declared)
    for template in (tmp_path / "build" / "template.yaml", tmp_path / "template.yaml"):
        validate = subprocess.run(
            [BIN / "sam", "validate", "--lint", "--template-file", template],
            cwd=tmp_path, env=env, capture_output=True, text=True,
        )
        assert validate.returncode == 0, validate.stdout + validate.stderr
    shutil.rmtree(tmp_path / "build")
