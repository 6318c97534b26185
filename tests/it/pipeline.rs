//! The exec pipeline driven as a library, stage by stage, from a test's own
//! runtime: records kept in memory by a `RecordSink`, and a run that fails
//! after its directory is open says so in its manifest.

use crate::support::{json, ollama_experiment, Workspace};
use llmbench::pipeline::{open, prepare};
use llmbench::record::{Record, Response};
use mock_ollama::MockConfig;
use tokio::sync::watch;

fn runtime() -> tokio::runtime::Runtime {
    llmbench::util::ensure_tls_provider();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn the_stages_run_with_records_kept_in_memory() {
    let server = mock_ollama::spawn_blocking(MockConfig::default()).expect("mock");
    let ws = Workspace::new();
    let text = ollama_experiment(&server.url(), "qwen3:0.6b", "repetitions = 2\nwarmup = 1");
    let file = ws.write("e.toml", &text);
    let experiment = llmbench::experiment::load(&file, &[]).expect("loads");
    let (_cancel_tx, cancel) = watch::channel(false);
    runtime().block_on(async {
        let prepared = prepare(&experiment, &ws.path("runs"))
            .await
            .expect("prepared");
        assert_eq!(prepared.plan.cells.len(), 2);
        let mut run = open(prepared).expect("opened");
        let mut kept: Vec<(Record, Response)> = Vec::new();
        let executed = run.execute(&mut kept, cancel).await.expect("executed");
        // 2 prompts × (1 warmup + 2 measured), none of them on disk.
        assert_eq!(kept.len(), 6);
        assert_eq!(executed.outcome.measured_ok, 4);
        assert!(kept.iter().all(|(r, _)| r.outcome.is_ok()));
        assert!(kept
            .iter()
            .any(|(_, response)| !response.content.is_empty()));
        assert!(!run.dir.file("requests.jsonl").exists());
        let outcome = run.post_process(executed).await.expect("post-processed");
        assert!(!outcome.interrupted);
    });
    let manifest = json(&ws.run().join("manifest.json"));
    assert_eq!(manifest["status"], "complete");
}

#[test]
fn an_error_after_the_run_opened_marks_it_failed() {
    let server = mock_ollama::spawn_blocking(MockConfig::default()).expect("mock");
    let ws = Workspace::new();
    let text = ollama_experiment(&server.url(), "qwen3:0.6b", "repetitions = 1").replace(
        "text = \"Say hello.\"",
        "text = \"Say hello.\"\nchecks = [{ kind = \"contains\", value = \"hello\" }]",
    );
    let file = ws.write("e.toml", &text);
    let experiment = llmbench::experiment::load(&file, &[]).expect("loads");
    let (_cancel_tx, cancel) = watch::channel(false);
    let error = runtime().block_on(async {
        let prepared = prepare(&experiment, &ws.path("runs"))
            .await
            .expect("prepared");
        let mut run = open(prepared).expect("opened");
        let mut kept: Vec<(Record, Response)> = Vec::new();
        let executed = run.execute(&mut kept, cancel).await.expect("executed");
        // checks.jsonl cannot be written where a directory stands.
        std::fs::create_dir(run.dir.file("checks.jsonl")).expect("a directory");
        run.post_process(executed)
            .await
            .expect_err("cannot write checks.jsonl")
    });
    assert!(error.message.contains("checks.jsonl"), "{error}");
    let manifest = json(&ws.run().join("manifest.json"));
    assert_eq!(manifest["status"], "failed");
    assert!(manifest["finished_at"].is_string());
}
