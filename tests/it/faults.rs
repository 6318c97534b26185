//! Faults driven by the byte-level fault server (tests/it/fault_server.rs):
//! termination signals, silent resends, a server that dies mid-run, an API
//! key echoed back by the server, Retry-After.

use crate::fault_server::{experiment, Api, FaultServer, Reply};
use crate::support::{json, records, Workspace};
use llmbench::record::{ErrorKind, Outcome};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn spawn_exec(ws: &Workspace, file: &std::path::Path) -> Child {
    Command::new(assert_cmd::cargo::cargo_bin("llmbench"))
        .args(["exec", &file.display().to_string(), "--out"])
        .arg(ws.path("runs"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn llmbench")
}

/// Reads the child's stderr until a line contains `text`; returns all read.
fn wait_for_line(child: &mut Child, text: &str) -> BufReader<std::process::ChildStderr> {
    let mut reader = BufReader::new(child.stderr.take().expect("stderr"));
    let mut line = String::new();
    loop {
        line.clear();
        let read = reader.read_line(&mut line).expect("stderr line");
        assert!(read > 0, "llmbench ended before printing {text:?}");
        if line.contains(text) {
            return reader;
        }
    }
}

fn signal(child: &Child, name: &str) {
    let sent = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(sent.success());
}

/// SIGTERM and SIGHUP mid-run stop like Ctrl-C: exit 130, in-flight
/// requests recorded as cancelled, manifest `interrupted`, reports written.
#[test]
fn sigterm_and_sighup_shut_down_cleanly() {
    for (name, api) in [("TERM", Api::OpenAi), ("HUP", Api::Ollama)] {
        let server = FaultServer::start(api, |_| Reply::Stream {
            chunks: 40,
            gap: Duration::from_millis(50),
        });
        let ws = Workspace::new();
        let file = ws.write(
            "e.toml",
            &experiment(api, &server.url(), "repetitions = 20\nconcurrency = 2", ""),
        );
        let mut child = spawn_exec(&ws, &file);
        let _stderr = wait_for_line(&mut child, "requests →");
        std::thread::sleep(Duration::from_millis(2500));
        signal(&child, name);
        let status = child.wait().expect("wait");
        assert_eq!(status.code(), Some(130), "SIG{name}");
        let run = ws.run();
        let records = records(&run);
        assert!(records.iter().any(|r| r.outcome.is_ok()), "SIG{name}");
        assert!(
            records.iter().any(|r| matches!(
                r.outcome,
                Outcome::Error {
                    kind: ErrorKind::Cancelled,
                    ..
                }
            )),
            "SIG{name}: the requests in flight are recorded"
        );
        assert_eq!(json(&run.join("manifest.json"))["status"], "interrupted");
        assert!(run.join("report.md").is_file() && run.join("summary.json").is_file());
    }
}

/// A signal during the check phase stops the checks (their processes are
/// killed) and the run is `interrupted`, not `complete`.
#[test]
fn a_signal_during_the_checks_stops_them() {
    let server = FaultServer::start(Api::OpenAi, |_| Reply::ok());
    let ws = Workspace::new();
    let check = "[[prompts.checks]]\nkind = \"shell\"\ncommand = \"sleep 60\"\ntimeout = \"90s\"\n";
    let text = experiment(Api::OpenAi, &server.url(), "repetitions = 1", "").replace(
        "text = \"Say hello.\"\n",
        &format!("text = \"Say hello.\"\n{check}"),
    );
    let file = ws.write("e.toml", &text);
    let mut child = spawn_exec(&ws, &file);
    let _stderr = wait_for_line(&mut child, "checking");
    // The checks stop on the first signal; the run is not `complete`.
    let started = Instant::now();
    signal(&child, "TERM");
    let status = child.wait().expect("wait");
    assert!(started.elapsed() < Duration::from_secs(20), "checks ran on");
    assert_eq!(status.code(), Some(130));
    let run = ws.run();
    assert_eq!(json(&run.join("manifest.json"))["status"], "interrupted");
}

/// A server that reads every second request on a kept-alive connection
/// and closes it without answering: each such request is resent once and
/// succeeds, and the resends are counted in the cell and warned about.
#[test]
fn silent_resends_are_counted_and_warned_about() {
    for api in [Api::OpenAi, Api::Ollama] {
        let server = FaultServer::start(api, |n| {
            if n % 2 == 1 {
                Reply::Close
            } else {
                Reply::ok()
            }
        });
        let ws = Workspace::new();
        let file = ws.write(
            "e.toml",
            &experiment(api, &server.url(), "repetitions = 4", ""),
        );
        assert_eq!(ws.exec(&file, &[]), 0);
        let run = ws.run();
        let records = records(&run);
        assert_eq!(records.len(), 4);
        assert!(records.iter().all(|r| r.outcome.is_ok()));
        let resent = records.iter().filter(|r| r.retries == 1).count();
        assert_eq!(resent, 3, "{api:?}");
        assert_eq!(server.generations(), 7, "{api:?}: 4 answered, 3 dropped");
        let summary = json(&run.join("summary.json"));
        assert_eq!(summary["cells"][0]["validity"]["resends"], 3, "{api:?}");
        let warned = summary["warnings"].as_array().is_some_and(|w| {
            w.iter().any(|w| {
                w.as_str()
                    .is_some_and(|w| w.contains("3 request(s) were resent"))
            })
        });
        assert!(warned, "{api:?}: {}", summary["warnings"]);
        let report = std::fs::read_to_string(run.join("report.md")).expect("report.md");
        assert!(report.contains("3 request(s) were resent"));
    }
}

/// Every file in `dir`, recursively.
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// A 401 whose body echoes the Authorization header, and a reply that
/// repeats it: the key reaches no file of the run and nothing printed.
#[test]
fn an_echoed_api_key_is_redacted_everywhere() {
    let key = "sk-llmbench-test-4f9c2a7e1b";
    let server = FaultServer::start(Api::OpenAi, |n| match n {
        0 => Reply::Status {
            status: 401,
            headers: Vec::new(),
            body: r#"{"error":{"message":"invalid credentials: {auth}","type":"auth"}}"#.into(),
        },
        _ => Reply::ok(),
    });
    let ws = Workspace::new();
    let text = experiment(
        Api::OpenAi,
        &server.url(),
        "repetitions = 3",
        "formats = [\"markdown\", \"html\", \"csv\", \"json\"]",
    )
    .replace(
        "timeout = \"20s\"",
        "timeout = \"20s\"\napi_key_env = \"LLMBENCH_FAULTS_KEY\"",
    );
    let file = ws.write("e.toml", &text);
    let output = Command::new(assert_cmd::cargo::cargo_bin("llmbench"))
        .args(["exec", &file.display().to_string(), "--out"])
        .arg(ws.path("runs"))
        .env("LLMBENCH_FAULTS_KEY", key)
        .output()
        .expect("llmbench runs");
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!printed.contains(key), "{printed}");
    assert!(output.status.success(), "{printed}");
    let run = ws.run();
    let failed: Vec<_> = records(&run)
        .into_iter()
        .filter(|r| !r.outcome.is_ok())
        .collect();
    assert_eq!(failed.len(), 1, "the 401 is recorded");
    let Outcome::Error { message, .. } = &failed[0].outcome else {
        unreachable!()
    };
    assert!(message.contains("[redacted api key]"), "{message}");
    let files = files_under(&run);
    assert!(files.len() >= 6, "{files:?}");
    for path in files {
        let bytes = std::fs::read(&path).expect("read");
        assert!(
            !String::from_utf8_lossy(&bytes).contains(key),
            "{} holds the key",
            path.display()
        );
    }
}

/// A server that goes down mid-run: the cell stops after
/// CONNECT_FAILURES_TO_STOP connection failures in a row instead of sending
/// every remaining request, is listed in the manifest and warned about, and
/// llmbench exits 3.
#[test]
fn a_server_that_dies_stops_the_cell_and_fails_the_run() {
    let stop = llmbench::exec::CONNECT_FAILURES_TO_STOP as usize;
    for api in [Api::OpenAi, Api::Ollama] {
        let server = FaultServer::start(api, |n| if n < 3 { Reply::ok() } else { Reply::Down });
        let ws = Workspace::new();
        let file = ws.write(
            "e.toml",
            &experiment(api, &server.url(), "repetitions = 50", ""),
        );
        assert_eq!(ws.exec(&file, &[]), 3, "{api:?}");
        let run = ws.run();
        let records = records(&run);
        assert_eq!(records.iter().filter(|r| r.outcome.is_ok()).count(), 3);
        let connect = records
            .iter()
            .filter(|r| {
                matches!(
                    r.outcome,
                    Outcome::Error {
                        kind: ErrorKind::Connect,
                        ..
                    }
                )
            })
            .count();
        assert!((stop..=stop + 1).contains(&connect), "{api:?}: {connect}");
        // 3 answered, the one the server died on (reset: a connect or an
        // HTTP failure), then the refused ones.
        assert!(
            (3 + stop..=3 + 1 + stop).contains(&records.len()),
            "{api:?}"
        );
        let tail = &records[records.len() - stop..];
        assert!(tail.iter().all(|r| matches!(
            r.outcome,
            Outcome::Error {
                kind: ErrorKind::Connect,
                ..
            }
        )));
        let manifest = json(&run.join("manifest.json"));
        assert_eq!(manifest["status"], "complete");
        let stopped = manifest["stopped_cells"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(stopped.len(), 1, "{manifest}");
        let report = std::fs::read_to_string(run.join("report.md")).expect("report.md");
        assert!(report.contains("connection failures in a row"), "{api:?}");
    }
}

/// A user template named after a file llmbench owns is refused (exit 2)
/// before anything is written, by `exec` and by `report --template`; one
/// nested 5,000 deep fails cleanly (exit 5) instead of overflowing the stack.
#[test]
fn hostile_templates_are_refused() {
    let server = FaultServer::start(Api::OpenAi, |_| Reply::ok());
    let ws = Workspace::new();
    let file = ws.write(
        "e.toml",
        &experiment(Api::OpenAi, &server.url(), "repetitions = 2", ""),
    );
    let owned = ws.write("requests.jsonl.hbs", "{{experiment.name}}\n");
    let owned = owned.display().to_string();
    assert_eq!(ws.exec(&file, &["--template", &owned]), 2);
    assert!(ws.runs().is_empty(), "nothing ran");

    let depth = 5000;
    let deep = ws.write(
        "deep.txt.hbs",
        &format!(
            "{}x{}",
            "{{#if true}}".repeat(depth),
            "{{/if}}".repeat(depth)
        ),
    );
    let llmbench = || Command::new(assert_cmd::cargo::cargo_bin("llmbench"));
    let output = llmbench()
        .args(["exec", &file.display().to_string(), "--out"])
        .arg(ws.path("runs"))
        .args(["--template", &deep.display().to_string()])
        .output()
        .expect("llmbench runs");
    assert_eq!(
        output.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let run = ws.run();
    let manifest = std::fs::read(run.join("manifest.json")).expect("manifest");
    let manifest_template = ws.write("manifest.json.hbs", "{}");
    let output = llmbench()
        .args(["report", &run.display().to_string(), "--template"])
        .arg(&manifest_template)
        .output()
        .expect("llmbench report");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("manifest.json") && stderr.contains("rename"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read(run.join("manifest.json")).expect("manifest"),
        manifest
    );
}

/// Under `ulimit -f` a write past the limit is an error with a message
/// (EFBIG), not a silent kill by SIGXFSZ.
#[test]
fn a_file_size_limit_is_an_error_with_a_message() {
    let server = FaultServer::start(Api::OpenAi, |_| Reply::ok());
    let ws = Workspace::new();
    let file = ws.write(
        "e.toml",
        &experiment(Api::OpenAi, &server.url(), "repetitions = 200", ""),
    );
    let script = format!(
        "ulimit -f 16; exec {} exec {} --out {} -q",
        assert_cmd::cargo::cargo_bin("llmbench").display(),
        file.display(),
        ws.path("runs").display()
    );
    let output = Command::new("/bin/sh")
        .args(["-c", &script])
        .output()
        .expect("sh runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.code().is_some_and(|c| c != 0),
        "{:?}: {stderr}",
        output.status
    );
    assert!(stderr.contains("File too large"), "{stderr}");
}

/// A 429 with Retry-After: the wait the server asked for is recorded in the
/// failed request's message (llmbench does not retry on its own).
#[test]
fn retry_after_on_429_is_recorded() {
    for api in [Api::OpenAi, Api::Ollama] {
        let server = FaultServer::start(api, |n| match n {
            1 => Reply::Status {
                status: 429,
                headers: vec![("Retry-After".into(), "7".into())],
                body: r#"{"error":"too many requests"}"#.into(),
            },
            _ => Reply::ok(),
        });
        let ws = Workspace::new();
        let file = ws.write(
            "e.toml",
            &experiment(api, &server.url(), "repetitions = 3", ""),
        );
        assert_eq!(ws.exec(&file, &[]), 0);
        let records = records(&ws.run());
        let messages: Vec<&str> = records
            .iter()
            .filter_map(|r| match &r.outcome {
                Outcome::Error { message, .. } => Some(message.as_str()),
                Outcome::Ok => None,
            })
            .collect();
        assert_eq!(messages.len(), 1, "{api:?}");
        assert!(
            messages[0].starts_with("HTTP 429") && messages[0].ends_with("(Retry-After: 7 s)"),
            "{api:?}: {}",
            messages[0]
        );
    }
}
