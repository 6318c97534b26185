//! Crash tests: `llmbench exec` (the real binary) killed with SIGKILL at
//! random moments against the mock — during warmups, mid-stream, between
//! writes, in the after-run phases and the reports — then resumed with
//! `--resume`. Every resumed run must hold exactly the plan's requests, each
//! once, in files whose every line parses, with the statistics a run that
//! was never killed computes from the same records.

use crate::support::{json, Workspace};
use llmbench::plan::Plan;
use llmbench::record::Record;
use mock_ollama::MockConfig;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TRIALS: u64 = 24;

fn experiment(url: &str) -> String {
    format!(
        r#"name = "crash"
[backend]
kind = "ollama"
url = "{url}"
timeout = "20s"

[[models]]
name = "qwen3:0.6b"

[defaults]
max_tokens = 8

[run]
repetitions = 6
warmup = 2
concurrency = [1, 3]

[[prompts]]
id = "hello"
text = "Say hello."
[[prompts.checks]]
kind = "contains"
value = "e"

[[prompts]]
id = "count"
text = "Count to five."

[report]
save_responses = true
formats = ["markdown", "json", "html", "csv"]
"#
    )
}

fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_llmbench"))
}

fn llmbench(args: &[&str], dir: &Path) -> Command {
    let mut command = Command::new(binary());
    command
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}

/// A small deterministic generator for the kill moments (seeded, so a
/// failing trial can be re-run).
struct Moments(u64);

impl Moments {
    fn next_ms(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % below.max(1)
    }
}

/// The run directories under `out`.
fn run_dirs(out: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(out.join("crash"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .collect();
    dirs.sort();
    dirs
}

/// What the kill interrupted, read from what it left.
fn phase(run: &Path, plan_requests: usize) -> &'static str {
    if !run.join("plan.json").exists() {
        return "before the plan";
    }
    let manifest = json(&run.join("manifest.json"));
    let lines = std::fs::read_to_string(run.join("requests.jsonl")).unwrap_or_default();
    let records: Vec<Record> = lines
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    if manifest["status"] == "complete" {
        return "reports";
    }
    if records.len() >= plan_requests {
        return "after the requests (tokens, checks)";
    }
    match records.last() {
        None => "warmup",
        Some(last) if last.warmup => "warmup",
        Some(_) => "measuring",
    }
}

/// Cuts the last line of requests.jsonl in half, as a write torn by power loss would.
fn tear_last_line(run: &Path) -> bool {
    let path = run.join("requests.jsonl");
    let Ok(bytes) = std::fs::read(&path) else {
        return false;
    };
    let body = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
    let Some(start) = body.iter().rposition(|&b| b == b'\n').map(|i| i + 1) else {
        return false;
    };
    let cut = start + (body.len() - start) / 2;
    std::fs::write(&path, &bytes[..cut]).expect("tear");
    true
}

fn check_every_line_parses(run: &Path) {
    let mut files = vec![];
    for dir in [run.to_path_buf(), run.join("responses")] {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            if entry.path().extension().is_some_and(|e| e == "jsonl") {
                files.push(entry.path());
            }
        }
    }
    assert!(!files.is_empty());
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read");
        for (n, line) in text.lines().enumerate() {
            assert!(
                serde_json::from_str::<serde_json::Value>(line).is_ok(),
                "{}:{}: {line}",
                file.display(),
                n + 1
            );
        }
    }
}

fn check_exactly_the_plan(run: &Path) {
    let plan: Plan = serde_json::from_value(json(&run.join("plan.json"))).expect("plan");
    let records = crate::support::records(run);
    assert_eq!(
        records.len() as u64,
        plan.total_requests(),
        "{}",
        run.display()
    );
    let mut seen = HashSet::new();
    for record in &records {
        let key = (record.cell.clone(), record.repetition, record.warmup);
        assert!(
            seen.insert(key.clone()),
            "{key:?} twice in {}",
            run.display()
        );
        assert!(
            !matches!(&record.outcome, llmbench::record::Outcome::Error { kind, .. } if *kind == llmbench::record::ErrorKind::Cancelled),
            "no cancelled request is left"
        );
    }
    for cell in &plan.cells {
        let measured = records
            .iter()
            .filter(|r| r.cell == cell.id && !r.warmup)
            .count();
        assert_eq!(measured as u32, cell.repetitions, "{}", cell.id);
    }
}

/// The statistics `llmbench report` computes from a copy of the run's
/// records, as a run that was never killed would store them.
fn check_statistics_from_scratch(run: &Path, scratch: &Path) {
    std::fs::create_dir_all(scratch).expect("dir");
    for name in [
        "plan.json",
        "requests.jsonl",
        "checks.jsonl",
        "tokens.jsonl",
        "samples.jsonl",
        "experiment.toml",
    ] {
        if run.join(name).exists() {
            std::fs::copy(run.join(name), scratch.join(name)).expect("copy");
        }
    }
    let mut manifest = json(&run.join("manifest.json"));
    manifest["resumes"] = serde_json::json!([]);
    std::fs::write(scratch.join("manifest.json"), manifest.to_string()).expect("manifest");
    let status = llmbench(&["report", &scratch.display().to_string()], scratch)
        .status()
        .expect("report runs");
    assert!(status.success());
    let resumed = json(&run.join("summary.json"));
    let fresh = json(&scratch.join("summary.json"));
    for key in ["cells", "models", "totals"] {
        let difference = first_difference(&resumed[key], &fresh[key], key.to_string());
        assert!(difference.is_none(), "{}: {difference:?}", run.display());
    }
}

/// The path and both values of the first place where `a` and `b` differ.
fn first_difference(a: &serde_json::Value, b: &serde_json::Value, path: String) -> Option<String> {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => x.keys().chain(y.keys()).find_map(|k| {
            first_difference(
                &x[k],
                y.get(k).unwrap_or(&Value::Null),
                format!("{path}.{k}"),
            )
        }),
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (p, q))| first_difference(p, q, format!("{path}[{i}]"))),
        _ if a == b => None,
        _ => Some(format!("{path}: {a} vs {b}")),
    }
}

#[test]
fn runs_killed_at_random_moments_resume_to_exactly_the_plan() {
    let server = mock_ollama::spawn_blocking(MockConfig {
        ttft: Duration::from_millis(15),
        inter_token: Duration::from_millis(6),
        ..MockConfig::default()
    })
    .expect("mock");
    let ws = Workspace::new();
    let file = ws.write("crash.toml", &experiment(&server.url()));
    let file = file.display().to_string();
    // One unkilled run sets the span the kills are drawn from.
    let began = Instant::now();
    let whole = ws.path("whole");
    let status = llmbench(
        &["exec", &file, "--out", &whole.display().to_string(), "-q"],
        ws.dir.path(),
    )
    .status()
    .expect("runs");
    assert!(status.success());
    let span = began.elapsed().as_millis() as u64;
    let plan_requests = crate::support::records(&run_dirs(&whole)[0]).len();
    let mut moments = Moments(0x5eed);
    let mut phases = std::collections::BTreeMap::<&str, u32>::new();
    let mut torn = 0;
    for trial in 0..TRIALS {
        let out = ws.path(&format!("trial-{trial}"));
        let kill_at = Duration::from_millis(30 + moments.next_ms(span + 200));
        let mut child = llmbench(
            &["exec", &file, "--out", &out.display().to_string(), "-q"],
            ws.dir.path(),
        )
        .spawn()
        .expect("spawns");
        std::thread::sleep(kill_at);
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        let Some(run) = run_dirs(&out).pop() else {
            *phases.entry("before the run directory").or_default() += 1;
            continue;
        };
        let phase = phase(&run, plan_requests);
        *phases.entry(phase).or_default() += 1;
        let tore = trial % 4 == 1 && phase != "before the plan" && tear_last_line(&run);
        torn += u32::from(tore);
        if phase == "before the plan" {
            continue;
        }
        let resumed = llmbench(
            &["exec", "--resume", &run.display().to_string(), "-q"],
            ws.dir.path(),
        )
        .status()
        .expect("resume runs");
        assert!(
            resumed.success(),
            "trial {trial}: resume of {} ({phase}) failed",
            run.display()
        );
        check_every_line_parses(&run);
        check_exactly_the_plan(&run);
        eprintln!("trial {trial}: killed at {kill_at:?} ({phase})");
        check_statistics_from_scratch(&run, &ws.path(&format!("scratch-{trial}")));
        if tore {
            assert!(
                run.join("torn").is_dir(),
                "trial {trial}: the torn line is kept aside"
            );
        }
    }
    eprintln!("crash trials: {TRIALS}, by phase killed: {phases:?}, torn lines made: {torn}");
    let resumed: u32 = phases
        .iter()
        .filter(|(p, _)| !p.starts_with("before"))
        .map(|(_, n)| n)
        .sum();
    assert!(resumed >= 20, "at least 20 kills inside a run: {phases:?}");
    assert!(phases.contains_key("measuring"), "{phases:?}");
}

#[test]
fn resuming_a_complete_run_sends_nothing_and_says_so() {
    let server = mock_ollama::spawn_blocking(MockConfig::default()).expect("mock");
    let ws = Workspace::new();
    let file = ws.write("crash.toml", &experiment(&server.url()));
    assert_eq!(ws.exec(&file, &[]), 0);
    let run = ws.run();
    let before = std::fs::read(run.join("requests.jsonl")).expect("records");
    let output = assert_cmd::Command::new(binary())
        .args(["exec", "--resume", &run.display().to_string()])
        .output()
        .expect("runs");
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("is complete: nothing to resend"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read(run.join("requests.jsonl")).expect("records"),
        before
    );
}

#[test]
fn resuming_with_a_changed_experiment_file_is_refused_naming_the_line() {
    let server = mock_ollama::spawn_blocking(MockConfig::default()).expect("mock");
    let ws = Workspace::new();
    let text = experiment(&server.url());
    let file = ws.write("crash.toml", &text);
    assert_eq!(ws.exec(&file, &[]), 0);
    let run = ws.run();
    ws.write(
        "crash.toml",
        &text.replace("repetitions = 6", "repetitions = 7"),
    );
    let output = assert_cmd::Command::new(binary())
        .args([
            "exec",
            &file.display().to_string(),
            "--resume",
            &run.display().to_string(),
        ])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("the experiment file changed"), "{stderr}");
    assert!(
        stderr.contains("- repetitions = 6") && stderr.contains("+ repetitions = 7"),
        "{stderr}"
    );
}
