//! What several benches share: this process's memory figures from
//! /proc/self/status, `--flag value` lookups with `--only` parts, where the
//! built binaries are, and a test server started on a free port. A folder
//! module (`#[path]`), so Cargo does not take it for a bench of its own.

#![allow(dead_code)] // each bench uses part of it

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// A kB figure of this process (`VmHWM:`, `VmRSS:`); 0 where there is none.
pub fn status_kb(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The bench's arguments (after the program name).
pub struct Flags(pub Vec<String>);

impl Flags {
    pub fn from_env() -> Flags {
        Flags(std::env::args().skip(1).collect())
    }

    /// The word after `flag`.
    pub fn value(&self, flag: &str) -> Option<String> {
        let at = self.0.iter().position(|a| a == flag)?;
        self.0.get(at + 1).cloned()
    }

    /// Whether `part` runs: every part without `--only`, else those it
    /// lists (comma-separated).
    pub fn wants(&self, part: &str) -> bool {
        self.value("--only")
            .is_none_or(|only| only.split(',').any(|p| p == part))
    }
}

/// Where the binaries a bench runs are: `LLMBENCH_BIN_DIR`
/// (`target/debug` measures debug builds: the same memory, slower), else
/// target/release.
pub fn bin_dir() -> PathBuf {
    std::env::var_os("LLMBENCH_BIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/release"))
}

/// Starts the test server `program` (in [`bin_dir`]) with `args` and
/// returns it with the first line it prints (where it listens). `build`
/// says how to build it when it is missing.
pub fn start_server(program: &str, args: &[&str], build: &str) -> (Child, String) {
    let mut server = Command::new(bin_dir().join(program))
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{program}: {e} ({build})"));
    let mut line = String::new();
    if let Some(out) = server.stdout.as_mut() {
        use std::io::BufRead;
        let _ = std::io::BufReader::new(out).read_line(&mut line);
    }
    (server, line)
}
