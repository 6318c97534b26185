//! Scale of inputs (issue 14, item 10), two parts:
//!
//! - `prompts`: how long a mixed cell of many prompts takes from the
//!   experiment file to the first request it could send (load, plan, and
//!   the per-prompt request bodies the executor builds), and the peak
//!   memory. Target: 100,000 mixed prompts ready in under 2 s.
//! - `cells`: the real `llmbench exec` of N one-prompt cells, one request
//!   each, against the zero-delay mock Ollama: the whole command's peak RSS
//!   (the child's ru_maxrss), wall time and summary.json size. Target:
//!   100,000 cells in under 256 MB. Needs `cargo build --release --bin
//!   llmbench -p mock-ollama --bin mock-ollama` (`LLMBENCH_BIN_DIR=target/debug`
//!   measures debug builds: the same memory, slower).
//!
//! `cargo bench --bench scale [-- --only prompts|cells] [-- PROMPTS...]
//! [-- --cells N,N]`.

#[path = "support/mod.rs"]
mod support;

use std::process::{Command, Stdio};
use std::time::Instant;

fn main() {
    let flags = support::Flags::from_env();
    let args = &flags.0;
    if flags.wants("prompts") {
        // Numbers not after a flag are prompt counts.
        let counts: Vec<usize> = args
            .iter()
            .enumerate()
            .filter(|(i, _)| *i == 0 || !args[i - 1].starts_with("--"))
            .filter_map(|(_, a)| a.parse().ok())
            .collect();
        prompts_part(if counts.is_empty() {
            vec![4_000, 16_000, 100_000]
        } else {
            counts
        });
    }
    if flags.wants("cells") {
        let counts: Vec<usize> = flags
            .value("--cells")
            .unwrap_or_else(|| "8000,100000".into())
            .split(',')
            .filter_map(|n| n.trim().parse().ok())
            .collect();
        cells_part(&counts);
    }
}

fn prompts_part(counts: Vec<usize>) {
    let dir = tempfile::tempdir().expect("temp dir");
    println!("## Mixed prompts: from the file to the first request\n");
    println!("| prompts | load ms | plan ms | request set-up ms | total ms | peak RSS MB |");
    println!("|---:|---:|---:|---:|---:|---:|");
    for n in counts {
        let dataset = dir.path().join(format!("d{n}.jsonl"));
        let lines: String = (0..n)
            .map(|i| format!("{{\"text\": \"Prompt number {i}: say something short.\"}}\n"))
            .collect();
        std::fs::write(&dataset, lines).expect("dataset");
        let file = dir.path().join(format!("e{n}.toml"));
        let text = format!(
            "name = \"scale\"\nprompt_files = [\"d{n}.jsonl\"]\n[backend]\nkind = \"ollama\"\n\
             url = \"http://127.0.0.1:9\"\n[[models]]\nname = \"m\"\n[run]\nmix_prompts = true\nrepetitions = {n}\n"
        );
        std::fs::write(&file, text).expect("experiment");
        let start = Instant::now();
        let experiment = llmbench::experiment::load(&file, &[]).expect("loads");
        let loaded = start.elapsed();
        let plan = llmbench::plan::plan(&experiment);
        let planned = start.elapsed();
        // What the executor builds before the first request of the cell.
        let cell = &plan.cells[0];
        let sendables: Vec<_> = (0..cell.variants.len()).map(|i| cell.sendable(i)).collect();
        let ready = start.elapsed();
        assert_eq!(sendables.len(), n);
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
        println!(
            "| {n} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} |",
            ms(loaded),
            ms(planned - loaded),
            ms(ready - planned),
            ms(ready),
            support::status_kb("VmHWM:") as f64 / 1024.0
        );
    }
}

/// The real `llmbench exec` of `n` one-request cells against the mock, per count.
fn cells_part(counts: &[usize]) {
    let bin = support::bin_dir();
    let (mut mock, line) = support::start_server(
        "mock-ollama",
        &["--port", "0"],
        "cargo build --release -p mock-ollama --bin mock-ollama",
    );
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_default()
        .to_string();
    println!("\n## Cells: llmbench exec of one-request cells against the zero-delay mock\n");
    println!("| cells | wall s | peak RSS MB | summary.json MB | report.md MB |");
    println!("|---:|---:|---:|---:|---:|");
    for &n in counts {
        let dir = tempfile::tempdir().expect("temp dir");
        let lines: String = (0..n)
            .map(|i| {
                format!(
                    "{{\"id\": \"p{i}\", \"text\": \"Prompt number {i}: say something short.\"}}\n"
                )
            })
            .collect();
        std::fs::write(dir.path().join("d.jsonl"), lines).expect("dataset");
        let file = dir.path().join("cells.toml");
        let text = format!(
            "name = \"cells\"\nprompt_files = [\"d.jsonl\"]\n[backend]\nkind = \"ollama\"\nurl = \"{url}\"\n\
             [[models]]\nname = \"qwen3:0.6b\"\n[run]\nrepetitions = 1\nwarmup = 0\n[monitor]\nenabled = false\n"
        );
        std::fs::write(&file, text).expect("experiment");
        let started = Instant::now();
        let child = Command::new(bin.join("llmbench"))
            .args(["exec", &file.display().to_string(), "--out"])
            .arg(dir.path().join("runs"))
            .arg("-q")
            .stdout(Stdio::null())
            .spawn()
            .expect("llmbench (cargo build --release --bin llmbench)");
        let (status, rss_kb) = wait_with_rss(child);
        let wall = started.elapsed().as_secs_f64();
        let size = |name: &str| {
            let run = std::fs::read_dir(dir.path().join("runs/cells"))
                .ok()
                .and_then(|mut d| d.next())
                .and_then(Result::ok);
            run.and_then(|r| std::fs::metadata(r.path().join(name)).ok())
                .map_or(0.0, |m| m.len() as f64 / 1e6)
        };
        println!(
            "| {n} | {wall:.1} | {:.0} | {:.1} | {:.1} |{}",
            rss_kb as f64 / 1024.0,
            size("summary.json"),
            size("report.md"),
            if status == 0 {
                String::new()
            } else {
                format!(" exit {status}")
            }
        );
    }
    let _ = mock.kill();
    let _ = mock.wait();
}

/// Waits for `child`; its exit status and peak RSS (kB, from wait4).
fn wait_with_rss(child: std::process::Child) -> (i32, i64) {
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: wait4 on our own child fills `status` and `usage`.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    std::mem::forget(child);
    (libc::WEXITSTATUS(status), usage.ru_maxrss)
}
