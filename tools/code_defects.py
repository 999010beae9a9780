"""Planted defects in the code: each one a small change to the source that a real bug could
make, and the checks that must fail with it (docs/testing.md, "Planted defects"). Run with
`bash tools/plant` (all of them) or `bash tools/plant NAME...`.

Each defect is planted in a copy of the working tree (the tools it needs linked in, its own
target directory under target/planted), built, and its checks run; the defect is caught when a
check fails with the failure expected, and the first line of that failure is printed. The exit
status is 0 when every defect was caught, 1 when one survived, 2 when one no longer applies to
the source (its text is not found exactly once: update the catalogue with the code).

`python3 tools/code_defects.py --check` only checks that every defect still applies (no build):
the test command runs that.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# name: (what it plants, file, text replaced, replacement, checks, failure expected)
# A check is a cargo test target and an optional name filter.
DEFECTS = {
    "sequence-first": (
        "a version that compares sequence numbers before times",
        "src/archive/version.rs",
        """    bytes[..SECONDS_BYTES].copy_from_slice(&seconds.to_be_bytes());
    bytes[SECONDS_BYTES..SECONDS_BYTES + HIGH_BYTES]
        .copy_from_slice(&high.to_be_bytes()[16 - HIGH_BYTES..]);
    bytes[SECONDS_BYTES + HIGH_BYTES..].copy_from_slice(&low.to_be_bytes());""",
        """    bytes[..HIGH_BYTES].copy_from_slice(&high.to_be_bytes()[16 - HIGH_BYTES..]);
    bytes[HIGH_BYTES..HIGH_BYTES + 8].copy_from_slice(&low.to_be_bytes());
    bytes[HIGH_BYTES + 8..].copy_from_slice(&seconds.to_be_bytes());""",
        [("global_tables", "every_ttl_deletion_is_archived_once"),
         ("simulation", "as_a_global_tables_region")],
        r"not of the newest deletion|lost [1-9]",
    ),
    "version-without-seconds": (
        "a version that loses its seconds",
        "src/archive/version.rs",
        "    let seconds = u32::try_from(created_secs.max(0)).unwrap_or(u32::MAX);",
        "    let seconds = u32::try_from(created_secs.max(0)).unwrap_or(u32::MAX) * 0;",
        [("global_tables", "every_ttl_deletion_is_archived_once"),
         ("simulation", "as_a_global_tables_region")],
        r"not of the newest deletion|lost [1-9]",
    ),
    "additions-kept-near-the-limit": (
        "the archiver's attributes added whatever the item's size",
        "src/archive/project.rs",
        "            fits = fits && (!measure || size + added <= MAX_ITEM_BYTES);",
        "            fits = true;",
        [("end_to_end", "near_the_limit"), ("simulation", "the_pipeline_loses_no_ttl_deletion")],
        r"^\s*the version kept\s*$|lost [1-9]",
    ),
    "restore-leaves-the-stamps": (
        "a restore that takes the version away and leaves the stamps it cannot name",
        "src/restore/item.rs",
        "    let mut version_removed = false;",
        "    item.remove(&names.version);\n    let mut version_removed = false;",
        [("restore", "archived_again")],
        r"left: Response\(Object \{\"batchItemFailures\": Array \[Object \{\"itemIdentifier",
    ),
    "refusal-counted-as-archived": (
        "a conditional put refused for a reason it cannot prove, counted as archived",
        "src/aws/writer.rs",
        """            Archived::Unprovable(why) => Err(Failure::Permanent(WriteError::Rejected {
                code: "ConditionalCheckFailed".into(),
                message: why,
            })),""",
        """            Archived::Unprovable(_) => Ok(Answer::NewerKept),""",
        [("redrive", "a_version_the_archiver_does_not_write"),
         ("global_tables", "a_key_archived_without_a_version")],
        r"a record was not archived|which is newer cannot be told: reported",
    ),
    "no-creation-time-is-second-0": (
        "a record without ApproximateCreationDateTime versioned as second 0",
        "src/archive/project.rs",
        "            .ok_or(RecordError::NoCreationTime)? as i64;",
        "            .unwrap_or(0.0) as i64;",
        [("redrive", "without_its_creation_time")],
        r"1 already in the archive at this or a newer version",
    ),
    "failed-counted-as-bare": (
        "an item that failed, counted as archived without the archiver's attributes",
        "src/lambda/handler.rs",
        "            additions_dropped.retain(|(seq, _)| !not_written.contains(seq.as_str()));",
        "            additions_dropped.retain(|(seq, _)| !seq.is_empty() || not_written.is_empty());",
        [("end_to_end", "over_400_kb_is_reported_failed"),
         ("handler_mocked", "refused_as_too_large")],
        r"archived without the archiver's attributes.*would exceed 400 KB|a failed record is not archived bare",
    ),
    "window-misses-legacy-versions": (
        "a --deleted-between scan that matches binary versions only",
        "src/restore/tables.rs",
        '.expression_attribute_values(":string", AttributeValue::S("S".into()))',
        '.expression_attribute_values(":string", AttributeValue::S("SS".into()))',
        [("restore", "legacy_versions")],
        r"the whole day, legacy and binary versions alike",
    ),
    "on-demand-never-doubles": (
        "a sizing model whose new on-demand table never grows past 4,000 units a second",
        "src/sizing/archive_table.rs",
        "        self.floor.max(2.0 * self.old_peak)",
        "        self.floor",
        [("sizing", "doubles_its_peak")],
        r"units, \d+ expected",
    ),
    "throttled-writes-written": (
        "a sizing model that counts throttled writes as written",
        "src/sizing/pipeline.rs",
        "        invocation.written += taken;",
        "        invocation.written += asked;",
        [("sizing", "archives_at_its_capacity"), ("sizing_calibration", "")],
        r"archived, [\d.]+ expected|throughput differs by more than 25%",
    ),
    "records-never-too-old": (
        "a sizing model whose mapping never parks a record for its age",
        "src/sizing/pipeline.rs",
        "        if t - oldest > stack.maximum_record_age_seconds {",
        "        if t - oldest > f64::INFINITY {",
        [("sizing", "records_older_than_the_record_age"), ("sizing_calibration", "")],
        r"Figures \{|assertion `left == right` failed",
    ),
}


def applies(source, old):
    return source.count(old) == 1


def check_catalogue():
    stale = []
    for name, (_, path, old, _, checks, _) in DEFECTS.items():
        if not applies((ROOT / path).read_text(), old):
            stale.append(f"{name}: its text is not found exactly once in {path}")
        for target, filter_ in checks:
            tests = ROOT / "tests" / f"{target}.rs"
            if not tests.exists() or not re.search(rf"fn \w*{filter_}\w*\(", tests.read_text()):
                stale.append(f"{name}: no test of tests/{target}.rs matches {filter_!r}")
    return stale


def copy_tree(destination):
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, check=True,
        capture_output=True, text=True,
    ).stdout.split("\n")
    for name in filter(None, files):
        source = ROOT / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    # The installed tools the tests start (dynalite, moto), shared with the working tree.
    for tool in ("tools/node_modules", "tools/.venv"):
        if (ROOT / tool).exists():
            os.symlink(ROOT / tool, destination / tool)


def run(command, cwd, env):
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)


def first_failure(output, expected):
    """The line of the expected failure: searched from the first failure's report on, so that a
    passing run's own lines (a seed's `lost 0`, say) never count."""
    lines = output.splitlines()
    start = next((i for i, line in enumerate(lines)
                  if "panicked at" in line or re.match(r"seed \d+ FAILED", line)), len(lines))
    # A simulation's seed line, with its `lost N`, comes just before its FAILED line.
    start = max(0, start - 1)
    for i, line in enumerate(lines[start:], start):
        if re.search(expected, line):
            # The assertion's message follows a panic's location line.
            detail = lines[i + 1].strip() if "panicked at" in line and i + 1 < len(lines) else ""
            return (line.strip() + (" " + detail if detail else ""))[:400]
    return None


def plant(name, tree, env):
    what, path, old, new, checks, expected = DEFECTS[name]
    file = tree / path
    pristine = file.read_text()
    file.write_text(pristine.replace(old, new))
    started = time.monotonic()
    try:
        build = run(["cargo", "build", "--quiet", "--profile", "planted", "--all-features", "--bins"],
                    tree, env)
        if build.returncode != 0:
            return False, f"does not build: {build.stderr.strip().splitlines()[-1:]}", started
        binary = Path(env["CARGO_TARGET_DIR"]) / "planted" / "ttl-archiver"
        for target, filter_ in checks:
            command = ["cargo", "test", "--quiet", "--all-features", "--test", target, "--", filter_,
                       "--nocapture"]
            result = run(command, tree, dict(env, TTL_ARCHIVER_BIN=str(binary), CI="true"))
            if result.returncode != 0:
                line = first_failure(result.stdout + result.stderr, expected)
                if line:
                    return True, f"caught by tests/{target}.rs ({filter_}): {line}", started
        return False, "survived: every check passed", started
    finally:
        file.write_text(pristine)


def main(argv):
    if argv[:1] == ["--check"]:
        stale = check_catalogue()
        for line in stale:
            print(f"planted defect {line}", file=sys.stderr)
        print(f"planted defects: {len(DEFECTS)} apply to the source" if not stale else "")
        return 2 if stale else 0
    names = argv or list(DEFECTS)
    unknown = [n for n in names if n not in DEFECTS]
    if unknown:
        print(f"unknown defects: {', '.join(unknown)}; known: {', '.join(DEFECTS)}", file=sys.stderr)
        return 2
    stale = check_catalogue()
    if stale:
        print("\n".join(stale), file=sys.stderr)
        return 2
    target = ROOT / "target" / "planted-defects"
    env = dict(os.environ, CARGO_TARGET_DIR=str(target))
    survived = 0
    with tempfile.TemporaryDirectory(prefix="planted-") as temporary:
        tree = Path(temporary)
        copy_tree(tree)
        for name in names:
            caught, line, started = plant(name, tree, env)
            survived += not caught
            print(f"{name} ({DEFECTS[name][0]}): {line} [{time.monotonic() - started:.0f} s]",
                  flush=True)
    print(f"planted defects: {len(names) - survived} of {len(names)} caught")
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
