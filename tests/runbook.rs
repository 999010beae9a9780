//! docs/runbook.md, pasted as it stands: its `sh` blocks run in order in one shell's worth of
//! variables, against an incident staged with the real function (it fails on a missing archive
//! table, and its warnings go to the stand-in log group), a parked batch in moto's S3, the
//! stack's outputs in moto's CloudFormation (computed from template.yaml by the template tests'
//! resolver, not written here), and dynalite for DynamoDB. Each block's output must be the text
//! the runbook shows after it, but for times and dates.
#![cfg(feature = "operator")]

mod support;

use std::collections::HashMap;
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};
use support::dynalite::{admin_client, create_table, scan_all, Dynalite};
use support::runtime_api::{Function, Outcome, RuntimeApi};
use support::server::moto;
use support::{read_event, repo_path};

const OBJECT: &str = "aws/lambda/4f3a1c2e-esm/shardId-00000001700000000000-abcdef01/2026/11/24/2026-11-24T10.00.00-a1b2";

/// The runbook's `sh` blocks, each with the `text` block that follows it (its output).
fn runbook_blocks() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(repo_path("docs/runbook.md")).unwrap();
    let mut blocks = Vec::new();
    let mut rest = text.as_str();
    while let Some((_, after)) = rest.split_once("```sh\n") {
        let (script, after) = after.split_once("```").unwrap();
        let (_, after_text) = after.split_once("```text\n").expect("each block's output");
        let (output, after) = after_text.split_once("```").unwrap();
        blocks.push((script.to_owned(), output.to_owned()));
        rest = after;
    }
    blocks
}

/// The stack's outputs as CloudFormation would give them, from the template tests' resolver.
fn stack_outputs() -> HashMap<String, String> {
    let python = repo_path("tools/.venv/bin/python");
    let script = "import json, sys\nfrom test_template import Stack\n\
        print(json.dumps(Stack({'TtlAttribute': 'ExpirationTime', 'SourceStreamArn': \
        'arn:aws:dynamodb:us-east-1:123456789012:table/sessions/stream/2026-11-01T00:00:00.000'}).outputs))";
    let output = Command::new(python)
        .args(["-c", script])
        .current_dir(repo_path("tests"))
        .output()
        .expect("the template tests' Python");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Times, dates and sizes vary from run to run; everything else must be as the runbook says.
fn normalise(text: &str) -> Vec<String> {
    let seconds = regex_lite_replace(text);
    let mut lines: Vec<String> = seconds.lines().map(str::to_owned).collect();
    lines.sort();
    lines
}

/// `0.0 s` (durations), `ExpirationTime = 1767520800`, `aws s3 ls`'s date and size, and the
/// invocation's request and trace ids.
fn regex_lite_replace(text: &str) -> String {
    text.lines()
        .map(|line| {
            let mut line = line.to_owned();
            if let Some(at) = line.rfind("; ") {
                if line.ends_with(" s") {
                    line = format!("{}; N s", &line[..at]);
                }
            }
            if let Some(at) = line.find("ExpirationTime = ") {
                let start = at + "ExpirationTime = ".len();
                let end = line[start..].find(' ').map_or(line.len(), |e| start + e);
                line.replace_range(start..end, "EPOCH");
            }
            for field in ["\"requestId\":\"", "\"xrayTraceId\":\""] {
                let mut from = 0;
                while let Some(at) = line[from..].find(field) {
                    let start = from + at + field.len();
                    let end = start + line[start..].find('"').unwrap_or(0);
                    line.replace_range(start..end, "ID");
                    from = start + 2;
                }
            }
            if line.ends_with(OBJECT) && !line.starts_with("s3://") {
                line = format!("DATE TIME SIZE {OBJECT}");
            }
            line
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_runbook_pasted_block_by_block_clears_the_incident_and_restores_the_hour() {
    let (Some(binary), Some(db), Some(moto)) = (Function::binary(), Dynalite::start(), moto())
    else {
        return;
    };
    let outputs = stack_outputs();
    let (bucket, log_group, archive) = (
        outputs["FailedBatchBucketName"].clone(),
        outputs["FunctionLogGroupName"].clone(),
        outputs["ArchiveTableName"].clone(),
    );
    let admin = admin_client(&db.endpoint).await;
    create_table(&admin, "sessions", &[("PK", "S")]).await;

    let work = std::env::temp_dir().join(format!("runbook-{}", std::process::id()));
    std::fs::create_dir_all(work.join("bin")).unwrap();
    for tool in [
        env!("CARGO_BIN_EXE_ttl-archiver-redrive"),
        env!("CARGO_BIN_EXE_ttl-archiver-restore"),
    ] {
        let link = work
            .join("bin")
            .join(std::path::Path::new(tool).file_name().unwrap());
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(tool, link).unwrap();
    }
    let path = format!(
        "{}:{}:{}",
        work.join("bin").display(),
        repo_path("tools/.venv/bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let env = [
        ("PATH", path.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_ENDPOINT_URL_DYNAMODB", db.endpoint.as_str()),
        ("AWS_ENDPOINT_URL_S3", moto.endpoint.as_str()),
        ("AWS_ENDPOINT_URL_CLOUDFORMATION", moto.endpoint.as_str()),
        ("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", moto.endpoint.as_str()),
    ];
    let aws = |args: &[&str]| {
        let out = Command::new("aws")
            .args(args)
            .env_clear()
            .envs(env)
            .output()
            .expect("the AWS CLI (tools/.venv)");
        assert!(
            out.status.success(),
            "aws {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };

    // The stack, as its outputs say.
    let template = json!({
        "Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": outputs.iter().map(|(k, v)| (k.clone(), json!({"Value": v}))).collect::<serde_json::Map<_, _>>(),
    });
    let template_file = work.join("stack.json");
    std::fs::write(&template_file, template.to_string()).unwrap();
    aws(&[
        "cloudformation",
        "create-stack",
        "--stack-name",
        "ttl-archiver",
        "--template-body",
        &format!("file://{}", template_file.display()),
    ]);

    // The incident: the archive table is gone; the function reports every record, and warns.
    let api = RuntimeApi::start().await;
    let function = Function::start(
        &binary,
        &api,
        &[
            ("TABLE_NAME", archive.as_str()),
            ("TTL_ATTRIBUTE", "ExpirationTime"),
            ("AWS_ENDPOINT_URL_DYNAMODB", db.endpoint.as_str()),
            ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
        ],
    );
    let event = read_event("ttl-remove.json");
    match api.invoke(&event, Duration::from_secs(20)).await {
        Outcome::Response(answer) => {
            assert_eq!(answer["batchItemFailures"].as_array().unwrap().len(), 3)
        }
        Outcome::Error(error) => panic!("{error}"),
    }
    // Its log lines arrive through a pipe: wait for the warning, not for a fixed time.
    let waited = std::time::Instant::now();
    while !function.logs().contains("records not archived")
        && waited.elapsed() < Duration::from_secs(10)
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let warnings: Vec<String> = function
        .logs()
        .lines()
        .filter(|l| l.contains("records not archived"))
        .map(str::to_owned)
        .collect();
    assert!(!warnings.is_empty(), "{}", function.logs());
    aws(&["logs", "create-log-group", "--log-group-name", &log_group]);
    aws(&[
        "logs",
        "create-log-stream",
        "--log-group-name",
        &log_group,
        "--log-stream-name",
        "2026/11/24/[$LATEST]a1b2",
    ]);
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let events = Value::Array(
        warnings
            .iter()
            .map(|m| json!({"timestamp": now_ms as u64, "message": m}))
            .collect(),
    );
    aws(&[
        "logs",
        "put-log-events",
        "--log-group-name",
        &log_group,
        "--log-stream-name",
        "2026/11/24/[$LATEST]a1b2",
        "--log-events",
        &events.to_string(),
    ]);
    // ... and after its retries Lambda parks the batch, as the runbook's example object shows.
    aws(&["s3api", "create-bucket", "--bucket", &bucket]);
    let record = runbook_object(&event);
    let record_file = work.join("record.json");
    std::fs::write(&record_file, record).unwrap();
    aws(&[
        "s3api",
        "put-object",
        "--bucket",
        &bucket,
        "--key",
        OBJECT,
        "--body",
        &record_file.display().to_string(),
    ]);

    let blocks = runbook_blocks();
    assert_eq!(
        blocks.len(),
        6,
        "names, parked, cause, archive, nothing left, restore"
    );
    let preamble = &blocks[0].0;
    let run = |index: usize| -> String {
        let (script, _) = &blocks[index];
        let script = if index == 0 {
            script.clone()
        } else {
            format!("{{\n{preamble}}} >/dev/null\n{script}")
        };
        let out = Command::new("bash")
            .args(["-c", &script])
            .current_dir(&work)
            .env_clear()
            .envs(env)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        eprintln!("block {index}:\n{script}\n---\n{text}");
        text
    };
    let expect = |index: usize, actual: &str| {
        assert_eq!(
            normalise(actual),
            normalise(&blocks[index].1),
            "block {index}'s output, as the runbook shows it:\n{actual}"
        );
    };
    for index in 0..3 {
        expect(index, &run(index));
    }
    // "Nothing left" is no answer while a batch is parked.
    assert!(
        run(4).contains("STILL PARKED"),
        "the check of block 4 can fail"
    );
    // The fix: the table is back.
    create_table(&admin, &archive, &[("PK", "S")]).await;
    for index in 3..6 {
        expect(index, &run(index));
    }

    let archived = scan_all(&admin, &archive).await;
    assert_eq!(archived.len(), 3, "the parked records are archived");
    let restored = scan_all(&admin, "sessions").await;
    assert_eq!(restored.len(), 3, "the hour's items are back");
    let in_30_days = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 30 * 86_400;
    for item in &restored {
        let expires: u64 = item["ExpirationTime"].as_n().unwrap().parse().unwrap();
        assert!(expires.abs_diff(in_30_days) < 120, "{expires}");
    }

    // The check is loud when the restore did not finish: here, no summary at all.
    std::fs::write(work.join("restore.jsonl"), "").unwrap();
    let (script, _) = &blocks[5];
    let check: String = script
        .lines()
        .skip_while(|l| !l.starts_with("jq -se"))
        .collect::<Vec<_>>()
        .join("\n");
    let out = Command::new("bash")
        .args(["-c", &check])
        .current_dir(&work)
        .env_clear()
        .envs(env)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("THE RESTORE DID NOT FINISH CLEANLY"),
        "{out:?}"
    );
    drop(function);
    let _ = std::fs::remove_dir_all(&work);
}

/// The runbook's example on-failure object, with the whole batch of `event` as its payload.
fn runbook_object(event: &str) -> String {
    let text = std::fs::read_to_string(repo_path("docs/runbook.md")).unwrap();
    let example = text
        .split_once("## The on-failure object")
        .unwrap()
        .1
        .split_once("```json\n")
        .unwrap()
        .1
        .split_once("```")
        .unwrap()
        .0;
    let mut record: Value = serde_json::from_str(example).expect("the runbook's example is JSON");
    record["payload"] = serde_json::from_str(event).unwrap();
    record.to_string()
}
