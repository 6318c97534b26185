//! Shared test helpers: experiment files in a temp dir, running llmbench,
//! reading a run directory back.

use clap::Parser;
use llmbench::record::Record;
use std::path::{Path, PathBuf};

/// A temp dir holding an experiment file and the runs made from it.
pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Workspace {
    pub fn new() -> Workspace {
        Workspace {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, text).expect("write file");
        path
    }

    /// `llmbench exec FILE --out <dir>/runs -q ARGS...`, in-process; returns the exit code.
    pub fn exec(&self, file: &Path, extra: &[&str]) -> u8 {
        let out = self.path("runs");
        let mut args = vec![
            "llmbench".to_string(),
            "exec".into(),
            file.display().to_string(),
        ];
        args.extend([
            "--out".to_string(),
            out.display().to_string(),
            "-q".to_string(),
        ]);
        args.extend(extra.iter().map(|s| s.to_string()));
        match llmbench::app::run(llmbench::cli::Cli::parse_from(args)) {
            Ok(code) => code,
            Err(error) => {
                eprintln!("llmbench: {error}");
                error.code
            }
        }
    }

    /// `llmbench exec FILE --out <dir>/runs` as the real binary, for its
    /// exit code and what it prints.
    pub fn exec_binary(&self, file: &Path) -> std::process::Output {
        assert_cmd::Command::cargo_bin("llmbench")
            .expect("binary")
            .args([
                "exec",
                &file.display().to_string(),
                "--out",
                &self.path("runs").display().to_string(),
            ])
            .output()
            .expect("llmbench runs")
    }

    /// Every run directory made so far.
    pub fn runs(&self) -> Vec<PathBuf> {
        let mut runs = Vec::new();
        let Ok(experiments) = std::fs::read_dir(self.path("runs")) else {
            return runs;
        };
        for experiment in experiments.flatten() {
            for run in std::fs::read_dir(experiment.path())
                .into_iter()
                .flatten()
                .flatten()
            {
                runs.push(run.path());
            }
        }
        runs.sort();
        runs
    }

    /// The only run directory (panics when there is not exactly one).
    pub fn run(&self) -> PathBuf {
        let runs = self.runs();
        assert_eq!(runs.len(), 1, "expected one run directory, found {runs:?}");
        runs.into_iter().next().unwrap_or_default()
    }
}

/// Every record of a run. Each one's stamps are checked against the
/// record invariants (`Timing::violation`), so every run of the suite that
/// reads its records asserts 0 violations.
pub fn records(run: &Path) -> Vec<Record> {
    let text = std::fs::read_to_string(run.join("requests.jsonl")).expect("requests.jsonl");
    let records: Vec<Record> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("record parses"))
        .collect();
    assert_timing_invariants(&records);
    records
}

/// Fails, naming the first offender, when any record's stamps break an
/// invariant (ttfb ≤ ttft ≤ ttft_content ≤ e2e, chunk offsets in order).
pub fn assert_timing_invariants(records: &[Record]) {
    let broken: Vec<String> = records
        .iter()
        .filter_map(|r| {
            let violation = r.timing.violation()?;
            Some(format!(
                "{} #{}: {violation} {:?}",
                r.cell, r.repetition, r.timing
            ))
        })
        .collect();
    assert!(
        broken.is_empty(),
        "{} of {} records break a timing invariant; first: {}",
        broken.len(),
        records.len(),
        broken.first().map_or("", String::as_str)
    );
}

pub fn json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("valid JSON")
}

/// An Ollama experiment against `url` with the given extra TOML appended.
pub fn ollama_experiment(url: &str, model: &str, run: &str) -> String {
    format!(
        r#"name = "mocked"
[backend]
kind = "ollama"
url = "{url}"
timeout = "20s"

[[models]]
name = "{model}"

[defaults]
max_tokens = 16
temperature = 0.0

[run]
{run}

[[prompts]]
id = "hello"
text = "Say hello."

[[prompts]]
id = "count"
system = "Be brief."
text = "Count to five."

[report]
save_responses = true
"#
    )
}

/// A loopback port nothing listens on (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}
