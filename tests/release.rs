//! A release as a user downloads it (README, "Install"): `bash tools/release --arch x86_64
//! --out DIR` on this checkout, then DIR's files checked as a user would use them: the checksums,
//! the zip's `bootstrap` run as a Lambda custom runtime on `events/ttl-remove.json`, the
//! template linted and invoked with `sam local invoke` from DIR, with no build. And one version
//! everywhere: Cargo.toml's, the template's, the changelog's, the binaries' and the logs'.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::json;
use support::dynalite::{admin_client, create_table, scan_all, Dynalite};
use support::items::{assert_archive_matches, expected, Expectation};
use support::runtime_api::{Function, Outcome, RuntimeApi};
use support::sam::{docker_gateway, elf_machine, run, sam, sam_binary, EM_X86_64};
use support::{missing_tool, read_event, repo_path};

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn zip_name() -> String {
    format!("ttl-archiver-{VERSION}-x86_64.zip")
}

/// DIR, built once for every test here; `None` (skip) without the tools, outside CI.
fn release_dir() -> Option<&'static Path> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| {
        if !repo_path("tools/.venv/bin/cargo-lambda").exists() {
            missing_tool("cargo-lambda (tools/.venv)");
            return None;
        }
        let dir = repo_path("target/release-build/test-dist-x86_64");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(repo_path("target/release-build")).unwrap();
        // --out as a user gives it: relative to where they are, not to the repository.
        let output = Command::new("bash")
            .arg(repo_path("tools/release"))
            .args(["--arch", "x86_64", "--out", "test-dist-x86_64"])
            .current_dir(repo_path("target/release-build"))
            .output()
            .expect("run tools/release");
        assert!(
            output.status.success(),
            "tools/release failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        Some(dir)
    })
    .as_deref()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `sha256sum -c SHA256SUMS` in `dir`: its success, and what it printed.
fn checksums_pass(dir: &Path) -> (bool, String) {
    let output = Command::new("sha256sum")
        .args(["-c", "SHA256SUMS"])
        .current_dir(dir)
        .output()
        .expect("run sha256sum");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr),
    )
}

/// The zip's `bootstrap`, extracted into `into` as Lambda extracts it (executable).
fn extract_bootstrap(zip: &Path, into: &Path) -> PathBuf {
    std::fs::create_dir_all(into).unwrap();
    let status = Command::new("unzip")
        .args(["-o", "-q"])
        .arg(zip)
        .arg("-d")
        .arg(into)
        .status()
        .expect("run unzip");
    assert!(status.success());
    into.join("bootstrap")
}

#[test]
fn the_release_holds_the_zip_the_template_and_checksums_that_verify() {
    let Some(dir) = release_dir() else { return };
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut want = vec![
        "LICENSE".to_owned(),
        "README.md".to_owned(),
        "SHA256SUMS".to_owned(),
        "template.yaml".to_owned(),
        zip_name(),
    ];
    want.sort();
    assert_eq!(names, want);

    let (ok, shown) = checksums_pass(dir);
    assert!(ok, "{shown}");
    assert_eq!(shown.matches(": OK").count(), 4, "{shown}");
    assert_eq!(read(&dir.join("LICENSE")), read(&repo_path("LICENSE")));

    // The check can fail: one byte of the template changed, in a copy.
    let copy = dir.with_file_name("test-dist-tampered");
    let _ = std::fs::remove_dir_all(&copy);
    std::fs::create_dir_all(&copy).unwrap();
    for name in &want {
        std::fs::copy(dir.join(name), copy.join(name)).unwrap();
    }
    let template =
        read(&copy.join("template.yaml")).replacen("MemorySize: 256", "MemorySize: 512", 1);
    std::fs::write(copy.join("template.yaml"), template).unwrap();
    let (ok, shown) = checksums_pass(&copy);
    assert!(!ok && shown.contains("template.yaml: FAILED"), "{shown}");
    std::fs::remove_dir_all(&copy).unwrap();
}

/// The README away from the repository (the Serverless Application Repository's page, a download)
/// links to this release's files on GitHub; its text is the repository's, link for link.
#[test]
fn the_released_readme_links_to_the_release_on_github() {
    let Some(dir) = release_dir() else { return };
    let released = read(&dir.join("README.md"));
    let source = read(&repo_path("README.md"));
    let base = format!("{}/blob/v{VERSION}/", env!("CARGO_PKG_REPOSITORY"));
    let links = |text: &str| -> Vec<String> {
        text.split("](")
            .skip(1)
            .map(|rest| rest.split(')').next().unwrap().to_owned())
            .collect()
    };
    let (released_links, source_links) = (links(&released), links(&source));
    assert_eq!(released_links.len(), source_links.len());
    assert!(
        source_links.iter().any(|l| l.starts_with("docs/")),
        "the README links docs/"
    );
    for (after, before) in released_links.iter().zip(&source_links) {
        if before.starts_with('#') || before.contains("://") {
            assert_eq!(after, before);
        } else {
            assert_eq!(after, &format!("{base}{before}"));
        }
    }
    assert_eq!(released.replace(&base, ""), source);
    // Nor a reference definition (`[name]: target`) left relative.
    for line in released.lines() {
        if let Some((_, target)) = line.trim_start().split_once("]: ") {
            if line.trim_start().starts_with('[') {
                assert!(target.contains("://") || target.starts_with('#'), "{line}");
            }
        }
    }
}

#[test]
fn the_zip_holds_one_x86_64_bootstrap_with_its_dependency_list() {
    let Some(dir) = release_dir() else { return };
    let listing = Command::new("unzip")
        .arg("-Z1")
        .arg(dir.join(zip_name()))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&listing.stdout), "bootstrap\n");
    let bootstrap = extract_bootstrap(&dir.join(zip_name()), &dir.with_file_name("test-unzipped"));
    assert_eq!(elf_machine(&bootstrap), EM_X86_64);
    // cargo-auditable's section, which scanners (cargo audit bin, syft, trivy) read.
    let sections = Command::new("readelf")
        .args(["-S", "-W"])
        .arg(&bootstrap)
        .output()
        .expect("run readelf (binutils)");
    let sections = String::from_utf8_lossy(&sections.stdout);
    assert!(
        sections.contains(".dep-v0"),
        "no .dep-v0 section:\n{sections}"
    );
}

#[tokio::test]
async fn the_released_bootstrap_archives_a_ttl_deletion_as_a_custom_runtime() {
    let Some(dir) = release_dir() else { return };
    let Some(db) = Dynalite::start() else { return };
    let bootstrap = extract_bootstrap(&dir.join(zip_name()), &dir.with_file_name("test-runtime"));
    let admin = admin_client(&db.endpoint).await;
    create_table(&admin, "archive", &[("PK", "S")]).await;
    let api = RuntimeApi::start().await;
    let function = Function::start(
        &bootstrap,
        &api,
        &[
            ("TABLE_NAME", "archive"),
            ("TTL_ATTRIBUTE", "ExpirationTime"),
            ("AWS_ENDPOINT_URL_DYNAMODB", &db.endpoint),
        ],
    );
    let event = read_event("ttl-remove.json");
    let outcome = api.invoke(&event, Duration::from_secs(10)).await;
    let how = Expectation {
        ttl_attribute: Some("ExpirationTime".into()),
        ..Default::default()
    };
    let want = expected(&event, &how);
    assert_eq!(
        outcome,
        Outcome::Response(json!({"batchItemFailures": []})),
        "{}",
        function.logs()
    );
    assert_archive_matches(
        &scan_all(&admin, "archive").await,
        &want,
        &["PK"],
        &how.stamps(0, u64::MAX),
    );
    let logs = function.logs();
    assert!(
        logs.contains(&format!("ttl-archiver {VERSION} starting")),
        "the init line names the release:\n{logs}"
    );
}

/// The released template's function: its code the zip beside it, no build metadata, x86_64 only.
#[test]
fn the_released_template_deploys_the_zip_beside_it_and_lints_clean() {
    let Some(dir) = release_dir() else { return };
    let template = read(&dir.join("template.yaml"));
    assert!(template.contains(&format!("      CodeUri: {}\n", zip_name())));
    assert!(!template.contains("BuildMethod"), "nothing left to build");
    assert!(template.contains("    Default: x86_64\n    AllowedValues: [x86_64]\n"));
    assert!(template.contains(&format!("    SemanticVersion: {VERSION}\n")));

    let venv = repo_path("tools/.venv/bin");
    if !venv.join("cfn-lint").exists() {
        return missing_tool("cfn-lint and the SAM CLI (tools/.venv)");
    }
    let lint = Command::new(venv.join("cfn-lint"))
        .arg(dir.join("template.yaml"))
        .output()
        .unwrap();
    assert!(
        lint.status.success(),
        "{}",
        String::from_utf8_lossy(&lint.stdout)
    );
    let validate = Command::new(venv.join("sam"))
        .args(["validate", "--lint", "--template-file", "template.yaml"])
        .current_dir(dir)
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("SAM_CLI_TELEMETRY", "0")
        .output()
        .unwrap();
    assert!(
        validate.status.success(),
        "{}{}",
        String::from_utf8_lossy(&validate.stdout),
        String::from_utf8_lossy(&validate.stderr)
    );
}

#[tokio::test]
async fn sam_local_invoke_runs_the_released_template_with_no_build() {
    let Some(dir) = release_dir() else { return };
    if sam_binary().is_none() {
        return;
    }
    let Some(gateway) = docker_gateway() else {
        return;
    };
    let Some(db) = Dynalite::start_on(&gateway) else {
        return;
    };
    let admin = admin_client(&db.endpoint).await;
    create_table(&admin, "archive", &[("PK", "S")]).await;
    let port = db.endpoint.rsplit(':').next().unwrap();
    let env_file = std::env::temp_dir().join(format!("ttl-archiver-release-env-{port}.json"));
    let env = json!({"ArchiverFunction": {
        "TABLE_NAME": "archive",
        "AWS_ENDPOINT_URL_DYNAMODB": format!("http://host.docker.internal:{port}"),
    }});
    std::fs::write(&env_file, env.to_string()).unwrap();
    let event = repo_path("events/ttl-remove.json");
    let mut command = sam(&[
        "local",
        "invoke",
        "ArchiverFunction",
        "--event",
        event.to_str().unwrap(),
        "--env-vars",
        env_file.to_str().unwrap(),
        "--add-host",
        "host.docker.internal:host-gateway",
        "--skip-pull-image",
    ]);
    command.current_dir(dir);
    let (ok, out, err) = run(command, Duration::from_secs(300)).await;
    let _ = std::fs::remove_file(&env_file);
    assert!(ok, "sam local invoke failed:\n{out}\n{err}");
    assert!(
        !dir.join(".aws-sam").exists(),
        "sam local invoke needed no build"
    );
    let answer = out
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(answer).ok(),
        Some(json!({"batchItemFailures": []})),
        "{out}\n{err}"
    );
    let how = Expectation {
        ttl_attribute: Some("ExpirationTime".into()),
        ..Default::default()
    };
    assert_archive_matches(
        &scan_all(&admin, "archive").await,
        &expected(&read_event("ttl-remove.json"), &how),
        &["PK"],
        &how.stamps(0, u64::MAX),
    );
}

/// The version of the crate is the one every other place states.
#[test]
fn one_version_everywhere() {
    let template = read(&repo_path("template.yaml"));
    let repository = env!("CARGO_PKG_REPOSITORY");
    for line in [
        format!("    SemanticVersion: {VERSION}"),
        format!("    SourceCodeUrl: {repository}/tree/v{VERSION}"),
        format!("    HomePageUrl: {repository}"),
    ] {
        assert!(
            template.lines().any(|l| l == line),
            "template.yaml lacks {line:?}"
        );
    }
    let changelog = read(&repo_path("CHANGELOG.md"));
    let latest = changelog
        .lines()
        .find(|l| l.starts_with("## [") && !l.starts_with("## [Unreleased]"))
        .expect("a released entry");
    assert!(
        latest.starts_with(&format!("## [{VERSION}] - ")),
        "CHANGELOG.md's latest entry is {latest:?}, not {VERSION}"
    );
    assert!(changelog.contains(&format!(
        "[{VERSION}]: {repository}/releases/tag/v{VERSION}"
    )));
    assert!(
        repo_path("LICENSE").exists() && read(&repo_path("LICENSE")).starts_with("MIT License")
    );
}

#[cfg(feature = "operator")]
#[test]
fn the_operator_commands_print_the_version() {
    for binary in [
        env!("CARGO_BIN_EXE_ttl-archiver-redrive"),
        env!("CARGO_BIN_EXE_ttl-archiver-restore"),
    ] {
        let output = Command::new(binary).arg("--version").output().unwrap();
        let name = Path::new(binary).file_name().unwrap().to_string_lossy();
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            format!("{name} {VERSION}\n")
        );
    }
}

/// Runs tools/release from a copy of the files it reads before building, with `template` as the
/// template and DIR holding `already` (file names); returns its exit code and stderr. It must
/// stop before the build: the copy has nothing to build with.
fn refused_release(name: &str, template: &str, already: &[&str]) -> (Option<i32>, String) {
    let copy = std::env::temp_dir().join(format!(
        "ttl-archiver-release-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&copy);
    std::fs::create_dir_all(copy.join("tools")).unwrap();
    std::fs::create_dir_all(copy.join("out")).unwrap();
    std::fs::copy(repo_path("tools/release"), copy.join("tools/release")).unwrap();
    for name in ["Cargo.toml", "CHANGELOG.md"] {
        std::fs::copy(repo_path(name), copy.join(name)).unwrap();
    }
    std::fs::write(copy.join("template.yaml"), template).unwrap();
    for name in already {
        std::fs::write(copy.join("out").join(name), "").unwrap();
    }
    let output = Command::new("bash")
        .arg(copy.join("tools/release"))
        .args(["--arch", "x86_64", "--out"])
        .arg(copy.join("out"))
        .output()
        .unwrap();
    let left: Vec<_> = std::fs::read_dir(copy.join("out")).unwrap().collect();
    assert_eq!(left.len(), already.len(), "nothing written to DIR");
    std::fs::remove_dir_all(&copy).unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// tools/release stops, naming the place, when a version disagrees: here the template's.
#[test]
fn the_release_refuses_a_template_of_another_version() {
    let template = read(&repo_path("template.yaml")).replace(
        &format!("SemanticVersion: {VERSION}"),
        "SemanticVersion: 0.0.1",
    );
    let (code, stderr) = refused_release("version", &template, &[]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "template.yaml's SemanticVersion is not Cargo.toml's version {VERSION}"
        )),
        "{stderr}"
    );
}

/// A DIR holding another release's zip is refused before anything is built or written: the
/// SHA256SUMS would not list it, and a user could take it for this release.
#[test]
fn the_release_refuses_a_dir_holding_another_release() {
    let template = read(&repo_path("template.yaml"));
    let other = format!("ttl-archiver-{VERSION}-arm64.zip");
    let (code, stderr) = refused_release("dir", &template, &[&other, "notes.txt"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "already holds {other}: give an empty or new --out"
        )),
        "{stderr}"
    );
}

/// What `sam deploy --guided` does first with the released template: `sam package` uploads the
/// zip and the files the repository metadata names (LICENSE, README.md), here to moto's S3. Without
/// them beside the template it stops, which is why the release attaches them too.
#[test]
fn sam_package_uploads_the_zip_and_the_metadata_files_with_no_build() {
    let Some(dir) = release_dir() else { return };
    let Some(s3) = support::server::moto() else {
        return;
    };
    let venv = repo_path("tools/.venv/bin");
    let with_aws = |command: &mut Command| {
        command
            .env("AWS_ACCESS_KEY_ID", "local")
            .env("AWS_SECRET_ACCESS_KEY", "local")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_ENDPOINT_URL_S3", &s3.endpoint)
            .env("AWS_MAX_ATTEMPTS", "1")
            .env("SAM_CLI_TELEMETRY", "0");
    };
    let mut bucket = Command::new(venv.join("aws"));
    bucket.args(["s3api", "create-bucket", "--bucket", "releases"]);
    with_aws(&mut bucket);
    assert!(bucket.output().unwrap().status.success());

    let package = |from: &Path| {
        let packaged = from.join("packaged.yaml");
        let mut command = Command::new(venv.join("sam"));
        command
            .args([
                "package",
                "--template-file",
                "template.yaml",
                "--s3-bucket",
                "releases",
            ])
            .arg("--output-template-file")
            .arg(&packaged)
            .current_dir(from);
        with_aws(&mut command);
        let output = command.output().unwrap();
        let said = String::from_utf8_lossy(&output.stderr).into_owned();
        (
            output.status.success(),
            std::fs::read_to_string(packaged).unwrap_or_default(),
            said,
        )
    };

    let copy = dir.with_file_name("test-dist-package");
    let _ = std::fs::remove_dir_all(&copy);
    std::fs::create_dir_all(&copy).unwrap();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), copy.join(entry.file_name())).unwrap();
    }
    let (ok, packaged, said) = package(&copy);
    assert!(ok, "{said}");
    for line in [
        "    LicenseUrl: s3://releases/",
        "    ReadmeUrl: s3://releases/",
        "      CodeUri: s3://releases/",
    ] {
        assert!(packaged.contains(line), "{line:?} in\n{packaged}");
    }

    std::fs::remove_file(copy.join("LICENSE")).unwrap();
    let (ok, _, said) = package(&copy);
    assert!(!ok && said.contains("LicenseUrl"), "{said}");
    std::fs::remove_dir_all(&copy).unwrap();
}

/// The README's download block, as pasted, against a stand-in for the GitHub release (a local
/// HTTP server with the release's files at the same paths), for x86_64; its last line,
/// `sam deploy --guided`, needs AWS, so `sam validate --lint` takes its place (the upload it
/// starts with is the `sam package` test above).
#[test]
fn the_readmes_download_block_fetches_and_verifies_the_release() {
    let Some(dir) = release_dir() else { return };
    let readme = read(&repo_path("README.md"));
    let block = readme
        .split_once("### From a release's files (no Rust)")
        .and_then(|(_, rest)| rest.split_once("```sh\n"))
        .and_then(|(_, rest)| rest.split_once("```"))
        .expect("the download block")
        .0;
    let repository = env!("CARGO_PKG_REPOSITORY");
    assert!(block.contains(&format!("base={repository}/releases/download/v$version")));
    assert!(block.contains(&format!("version={VERSION} arch=arm64")));
    assert!(block.contains("sam deploy --guided --template-file"));

    // The release page as the workflow fills it: the template named by version and architecture,
    // one SHA256SUMS (here of one architecture's files).
    let site = dir.with_file_name("test-release-site");
    let _ = std::fs::remove_dir_all(&site);
    let assets = site.join(format!("releases/download/v{VERSION}"));
    std::fs::create_dir_all(&assets).unwrap();
    let template = format!("ttl-archiver-{VERSION}-x86_64.template.yaml");
    std::fs::copy(dir.join("template.yaml"), assets.join(&template)).unwrap();
    for name in [zip_name(), "LICENSE".into(), "README.md".into()] {
        std::fs::copy(dir.join(&name), assets.join(&name)).unwrap();
    }
    let sums = Command::new("sh")
        .arg("-c")
        .arg("sha256sum -- * > ../SHA256SUMS && mv ../SHA256SUMS .")
        .current_dir(&assets)
        .status()
        .unwrap();
    assert!(sums.success());
    // Stopped when dropped, whatever the assertions below do.
    let site_dir = site.display().to_string();
    let Some(server) = support::server::LocalServer::start_server(
        "python3 (tools/.venv)",
        "tools/.venv/bin/python3",
        |port| {
            [
                "-m",
                "http.server",
                "--bind",
                "127.0.0.1",
                "--directory",
                &site_dir,
                port,
            ]
            .map(String::from)
            .to_vec()
        },
    ) else {
        return;
    };

    let pasted = block
        .replace(repository, &server.endpoint)
        .replace("arch=arm64", "arch=x86_64")
        .replace("sam deploy --guided", "sam validate --lint");
    let user = dir.with_file_name("test-release-user");
    let _ = std::fs::remove_dir_all(&user);
    std::fs::create_dir_all(&user).unwrap();
    let path = format!(
        "{}:{}",
        repo_path("tools/.venv/bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let output = Command::new("bash")
        .args(["-e", "-c", &pasted])
        .current_dir(&user)
        .env("PATH", path)
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("SAM_CLI_TELEMETRY", "0")
        .output()
        .unwrap();
    drop(server);
    let said = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{pasted}\n{said}");
    for checked in [
        zip_name(),
        template.clone(),
        "LICENSE".into(),
        "README.md".into(),
    ] {
        assert!(
            said.contains(&format!("{checked}: OK")),
            "{checked}:\n{said}"
        );
    }
    assert!(said.contains("is a valid SAM Template"), "{said}");
    std::fs::remove_dir_all(&site).unwrap();
    std::fs::remove_dir_all(&user).unwrap();
}
