"""The release workflow as GitHub and cargo-dist will run it, checked offline (docs/deploy.md,
"What is checked offline"): what GitHub refuses before running a single step, and what dist needs
from Cargo.toml. actionlint checks the syntax; these check what it does not know."""
import pathlib
import tomllib

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
CARGO = tomllib.loads((ROOT / "Cargo.toml").read_text())
DIST = tomllib.loads((ROOT / "dist-workspace.toml").read_text())["dist"]
LEVEL = {"none": 0, "read": 1, "write": 2}


def workflow(name):
    return yaml.safe_load((WORKFLOWS / name).read_text())


def asked_for(called):
    """Every permission a called workflow asks for, at its top level or in a job: GitHub refuses
    the caller's run when one is more than the caller grants ("Reusing workflows": permissions
    can only be kept or reduced through the chain)."""
    asked = {}
    for permissions in [called.get("permissions"), *(j.get("permissions") for j in called["jobs"].values())]:
        for scope, level in (permissions or {}).items():
            asked[scope] = max(asked.get(scope, 0), LEVEL[level])
    return asked


def test_called_workflows_ask_no_more_than_their_callers_grant():
    calls = 0
    for path in sorted(WORKFLOWS.glob("*.yml")):
        caller = workflow(path.name)
        for job_name, job in caller["jobs"].items():
            uses = job.get("uses", "")
            if not uses.startswith("./.github/workflows/"):
                continue
            calls += 1
            granted = job.get("permissions", caller.get("permissions"))
            assert granted is not None, f"{path.name}: {job_name} grants the repository's default"
            for scope, level in asked_for(workflow(uses.rsplit("/", 1)[1])).items():
                assert LEVEL[granted.get(scope, "none")] >= level, (
                    f"{path.name}: {job_name} calls {uses}, which asks for {scope}: "
                    f"{[k for k, v in LEVEL.items() if v == level][0]}, and grants "
                    f"{granted.get(scope, 'none')}"
                )
    assert calls >= 3, "release.yml calls lambda-package and sar-publish, ci.yml calls deny"


def test_dist_builds_with_a_profile_cargo_defines():
    """dist builds with `--profile dist`; Cargo refuses a profile it does not define."""
    assert CARGO["profile"]["dist"]["inherits"] == "release"


def test_dist_builds_the_crates_operator_commands():
    bins = {b["name"]: b for b in CARGO["bin"]}
    released = DIST["binaries"]["*"]
    assert released == ["ttl-archiver-redrive", "ttl-archiver-restore"]
    for name in released:
        assert bins[name].get("required-features") == ["operator"], name
    assert DIST["features"] == ["operator"]


def test_release_yml_is_generated_from_the_config():
    """release.yml is dist's output (tools/dist-generate) for this config: the version and the
    custom jobs it names, with the permissions the config gives them."""
    release = (WORKFLOWS / "release.yml").read_text()
    assert f'cargo-dist/releases/download/v{DIST["cargo-dist-version"]}/' in release
    parsed = yaml.safe_load(release)
    for custom in DIST["publish-jobs"] + DIST["global-artifacts-jobs"]:
        name = custom.removeprefix("./")
        job = parsed["jobs"][f"custom-{name}"]
        assert job["uses"] == f"./.github/workflows/{name}.yml"
        wanted = DIST.get("github-custom-job-permissions", {}).get(name)
        if wanted:
            assert job["permissions"] == wanted, name
