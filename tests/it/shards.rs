//! Shards and merge end to end against the mock: shard runs of one launch
//! merge into one ordinary run (report and compare work on it), every bad
//! mix is refused naming the shard, `--partial` is marked in every report,
//! and the engines' environment reaches the same code path as `--shard`.

use crate::support::{json, ollama_experiment, records, Workspace};
use mock_ollama::MockConfig;
use std::path::{Path, PathBuf};
use std::process::Output;

fn llmbench(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = assert_cmd::Command::cargo_bin("llmbench").expect("binary");
    command.args(args);
    for name in [
        "SLURM_ARRAY_TASK_ID",
        "JOB_COMPLETION_INDEX",
        "LLMBENCH_SHARDS",
        "LLMBENCH_LAUNCH",
    ] {
        command.env_remove(name);
    }
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().expect("llmbench runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).to_string()
}

struct Launch {
    ws: Workspace,
    file: PathBuf,
    _server: mock_ollama::MockServer,
}

impl Launch {
    fn new(run: &str) -> Launch {
        let server = mock_ollama::spawn_blocking(MockConfig::default()).expect("mock");
        let ws = Workspace::new();
        let file = ws.write(
            "e.toml",
            &ollama_experiment(&server.url(), "qwen3:0.6b", run),
        );
        Launch {
            ws,
            file,
            _server: server,
        }
    }

    fn out(&self) -> String {
        self.ws.path("runs").display().to_string()
    }

    fn shard(&self, shard: &str, extra: &[&str]) -> Output {
        let file = self.file.display().to_string();
        let out = self.out();
        let mut args = vec!["exec", &file, "--out", &out, "-q", "--shard", shard];
        args.extend(extra);
        llmbench(&args, &[])
    }

    fn dir(&self, name: &str) -> PathBuf {
        self.ws.path("runs").join("mocked").join(name)
    }

    fn merge(&self, dirs: &[PathBuf], out: &str, extra: &[&str]) -> Output {
        let mut args: Vec<String> = vec!["merge".into()];
        args.extend(dirs.iter().map(|d| d.display().to_string()));
        args.extend(["--out".to_string(), self.ws.path(out).display().to_string()]);
        args.extend(extra.iter().map(|s| s.to_string()));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        llmbench(&refs, &[])
    }
}

fn measured(run: &Path) -> usize {
    records(run).iter().filter(|r| !r.warmup).count()
}

#[test]
fn three_cell_shards_merge_into_the_whole_plan_and_report_and_compare_work() {
    let launch = Launch::new("repetitions = 3\nwarmup = 1\nconcurrency = [1, 2]");
    for k in 0..3 {
        let output = launch.shard(&format!("{k}/3"), &["--launch", "L1"]);
        assert!(output.status.success(), "{}", stderr(&output));
    }
    let dirs: Vec<PathBuf> = (0..3)
        .map(|k| launch.dir(&format!("L1-shard-{k}-of-3")))
        .collect();
    let sizes: Vec<usize> = dirs.iter().map(|d| measured(d)).collect();
    assert_eq!(
        sizes.iter().sum::<usize>(),
        12,
        "4 cells × 3 repetitions: {sizes:?}"
    );
    let manifest = json(&dirs[1].join("manifest.json"));
    assert_eq!(manifest["shard"]["index"], 1);
    assert_eq!(manifest["shard"]["count"], 3);
    assert_eq!(manifest["shard"]["split"], "cells");
    assert_eq!(manifest["shard"]["launch"], "L1");
    assert!(manifest["shard"]["host"].is_string());
    let output = launch.merge(&dirs, "merged", &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    let merged = launch.ws.path("merged");
    assert_eq!(measured(&merged), 12);
    let summary = json(&merged.join("summary.json"));
    assert_eq!(summary["run"]["status"], "complete");
    assert_eq!(summary["cells"].as_array().map(Vec::len), Some(4));
    for k in 0..3 {
        assert!(merged.join(format!("shards/{k}/manifest.json")).is_file());
    }
    // An ordinary run: report re-renders it, compare reads it.
    let report = llmbench(&["report", &merged.display().to_string()], &[]);
    assert!(report.status.success(), "{}", stderr(&report));
    let compare = llmbench(
        &[
            "compare",
            &merged.display().to_string(),
            &merged.display().to_string(),
        ],
        &[],
    );
    assert!(compare.status.success(), "{}", stderr(&compare));
}

#[test]
fn merge_refuses_missing_duplicated_foreign_and_changed_shards_by_name() {
    let launch = Launch::new("repetitions = 2\nwarmup = 0");
    for (shard, id) in [("0/2", "A"), ("1/2", "A"), ("1/2", "B")] {
        let output = launch.shard(shard, &["--launch", id]);
        assert!(output.status.success(), "{}", stderr(&output));
    }
    let a0 = launch.dir("A-shard-0-of-2");
    let a1 = launch.dir("A-shard-1-of-2");
    let b1 = launch.dir("B-shard-1-of-2");
    let missing = launch.merge(std::slice::from_ref(&a0), "m1", &[]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        stderr(&missing).contains("shard(s) [1] are missing"),
        "{}",
        stderr(&missing)
    );
    let twice = launch.merge(&[a0.clone(), a1.clone(), a1.clone()], "m2", &[]);
    assert!(
        stderr(&twice).contains("shard 1 is given twice"),
        "{}",
        stderr(&twice)
    );
    let foreign = launch.merge(&[a0.clone(), b1.clone()], "m3", &[]);
    assert!(
        stderr(&foreign).contains("from launch B, not A"),
        "{}",
        stderr(&foreign)
    );
    assert!(
        stderr(&foreign).contains("B-shard-1-of-2"),
        "names the shard"
    );
    // The same launch id over another experiment file.
    let changed = launch.ws.write(
        "e.toml",
        &std::fs::read_to_string(&launch.file)
            .expect("read")
            .replace("Say hello.", "Say hi."),
    );
    let out = launch.out();
    let other = llmbench(
        &[
            "exec",
            &changed.display().to_string(),
            "--out",
            &out,
            "-q",
            "--shard",
            "1/2",
            "--launch",
            "C",
        ],
        &[],
    );
    assert!(other.status.success(), "{}", stderr(&other));
    let mut manifest = json(&launch.dir("C-shard-1-of-2").join("manifest.json"));
    manifest["shard"]["launch"] = "A".into();
    std::fs::write(
        launch.dir("C-shard-1-of-2").join("manifest.json"),
        manifest.to_string(),
    )
    .expect("write");
    let sha = launch.merge(&[a0.clone(), launch.dir("C-shard-1-of-2")], "m4", &[]);
    assert!(
        stderr(&sha).contains("made from another experiment file"),
        "{}",
        stderr(&sha)
    );
    // --partial merges what is there and says so in every report.
    let partial = launch.merge(&[a0], "m5", &["--partial"]);
    assert!(partial.status.success(), "{}", stderr(&partial));
    let merged = launch.ws.path("m5");
    for report in ["report.md", "report.html", "summary.json"] {
        let text = std::fs::read_to_string(merged.join(report)).expect("report");
        assert!(text.contains("partial"), "{report} marks the partial merge");
    }
}

#[test]
fn load_split_shards_share_the_load_and_merge_with_their_overlap() {
    let launch = Launch::new("repetitions = 7\nwarmup = 1\nconcurrency = [4]");
    let barrier = launch.ws.path("barrier").display().to_string();
    let children: Vec<_> = (0..2)
        .map(|k| {
            let file = launch.file.display().to_string();
            let out = launch.out();
            let shard = format!("{k}/2");
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                llmbench(
                    &[
                        "exec",
                        &file,
                        "--out",
                        &out,
                        "-q",
                        "--shard",
                        &shard,
                        "--launch",
                        "LD",
                        "--split",
                        "load",
                        "--barrier",
                        &barrier,
                    ],
                    &[],
                )
            })
        })
        .collect();
    for child in children {
        let output = child.join().expect("joins");
        assert!(output.status.success(), "{}", stderr(&output));
    }
    let dirs: Vec<PathBuf> = (0..2)
        .map(|k| launch.dir(&format!("LD-shard-{k}-of-2")))
        .collect();
    let plan = json(&dirs[1].join("plan.json"));
    assert_eq!(plan["cells"][0]["load"]["concurrency"], 2, "4 ÷ 2");
    assert_eq!(plan["cells"][0]["repetitions"], 3, "7 = 4 + 3");
    let output = launch.merge(&dirs, "merged", &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    let merged = launch.ws.path("merged");
    let manifest = json(&merged.join("manifest.json"));
    let overlap = manifest["merge"]["overlap"]
        .as_array()
        .expect("overlap per cell");
    assert_eq!(overlap.len(), 2);
    assert!(
        manifest["merge"]["clock_offsets_ms"][1].is_number(),
        "the barrier measured it"
    );
    let plan = json(&merged.join("plan.json"));
    assert_eq!(
        plan["cells"][0]["load"]["concurrency"], 4,
        "the whole cell again"
    );
    let mut reps: Vec<(String, u32)> = records(&merged)
        .into_iter()
        .filter(|r| !r.warmup)
        .map(|r| (r.cell, r.repetition))
        .collect();
    reps.sort();
    reps.dedup();
    assert_eq!(reps.len(), 14, "2 cells × 7 repetitions, each once");
    let summary = json(&merged.join("summary.json"));
    assert_eq!(summary["cells"][0]["counts"]["ok"], 7);
}

#[test]
fn the_engines_environment_takes_the_same_path_as_the_shard_flag() {
    let launch = Launch::new("repetitions = 2\nwarmup = 0");
    let file = launch.file.display().to_string();
    let out = launch.out();
    let pod = llmbench(
        &["exec", &file, "--out", &out, "-q"],
        &[
            ("JOB_COMPLETION_INDEX", "1"),
            ("LLMBENCH_SHARDS", "2"),
            ("LLMBENCH_LAUNCH", "k8s-job"),
        ],
    );
    assert!(pod.status.success(), "{}", stderr(&pod));
    let task = llmbench(
        &["exec", &file, "--out", &out, "-q"],
        &[
            ("SLURM_ARRAY_TASK_ID", "0"),
            ("SLURM_ARRAY_TASK_COUNT", "2"),
            ("SLURM_ARRAY_JOB_ID", "k8s-job"),
        ],
    );
    assert!(task.status.success(), "{}", stderr(&task));
    let flag = launch.shard("1/2", &["--launch", "flag"]);
    assert!(flag.status.success());
    let from_env = json(&launch.dir("k8s-job-shard-1-of-2").join("plan.json"));
    let from_flag = json(&launch.dir("flag-shard-1-of-2").join("plan.json"));
    assert_eq!(from_env, from_flag, "the same shard, the same cells");
    let manifest = json(&launch.dir("k8s-job-shard-1-of-2").join("manifest.json"));
    assert_eq!(manifest["shard"]["engine"], "kubernetes");
    let dirs = [
        launch.dir("k8s-job-shard-0-of-2"),
        launch.dir("k8s-job-shard-1-of-2"),
    ];
    let merged = launch.merge(&dirs, "merged", &[]);
    assert!(merged.status.success(), "{}", stderr(&merged));
    // A requeued task (same environment again) resumes its directory: nothing more is sent.
    let again = llmbench(
        &["exec", &file, "--out", &out, "-q"],
        &[
            ("JOB_COMPLETION_INDEX", "1"),
            ("LLMBENCH_SHARDS", "2"),
            ("LLMBENCH_LAUNCH", "k8s-job"),
        ],
    );
    assert!(again.status.success());
    assert!(stderr(&again).contains("resuming"), "{}", stderr(&again));
    assert_eq!(records(&dirs[1]).len(), 2, "no duplicates after a requeue");
}
