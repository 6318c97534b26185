//! A `[server.matrix]` point whose server does not start: the other points
//! still run, the failed point is in the manifest, summary.json and every
//! report (with its log's last lines), the run exits 3, and the directory
//! is a run that `llmbench report` reads, also when no point started.
//! The "server" is `sh -c` that exits for a bad value and sleeps for a good
//! one; the backend it stands for is an in-process OpenAI server.

use crate::fault_server::{experiment, Api, FaultServer, Reply};
use crate::support::{json, records, Workspace};
use std::path::Path;
use std::time::Duration;

/// An experiment whose server starts only for `parallel = 1`.
fn sweep(ws: &Workspace, backend: &FaultServer, values: &str) -> std::path::PathBuf {
    let server = format!(
        r#"[server]
command = ["sh", "-c", "test $0 = 1 || {{ echo no slots for parallel=$0 on port $1; exit 1; }}; echo env port $LLMB_PORT; exec sleep 60", "{{parallel}}", "{{port}}"]
env = {{ LLMB_PORT = "{{port}}" }}
health = "/v1/models"
startup_timeout = "10s"
stop_timeout = "1s"
[server.matrix]
parallel = [{values}]
"#
    );
    let text = experiment(Api::OpenAi, &backend.url(), "repetitions = 2", &server);
    ws.write("sweep.toml", &text)
}

fn backend() -> FaultServer {
    FaultServer::start(Api::OpenAi, |_| Reply::Stream {
        chunks: 3,
        gap: Duration::from_millis(1),
    })
}

/// How many cells summary.json marks `not_run`.
fn cells_not_run(run: &Path) -> usize {
    let summary = json(&run.join("summary.json"));
    let cells = summary["cells"].as_array().cloned().unwrap_or_default();
    cells.iter().filter(|c| c["not_run"].is_string()).count()
}

/// `llmbench report RUN` as the real binary: its exit code.
fn report_again(run: &Path) -> Option<i32> {
    assert_cmd::Command::cargo_bin("llmbench")
        .expect("binary")
        .args(["report", &run.display().to_string()])
        .output()
        .expect("llmbench report")
        .status
        .code()
}

/// What every run with a failed point shows: the manifest's point with its
/// error and log tail, the cells marked in summary.json, the reports.
fn assert_failed_point_shown(run: &Path, bad: u64, log: &str) {
    let manifest = json(&run.join("manifest.json"));
    let points = manifest["managed_server"]["points"]
        .as_array()
        .expect("points in the manifest");
    let failed = points
        .iter()
        .find(|p| p["values"]["parallel"] == bad)
        .expect("the bad point is in the manifest");
    assert!(
        failed["error"].as_str().unwrap_or("").contains("exited"),
        "{failed}"
    );
    assert_eq!(failed["log"], log);
    let tail = failed["log_tail"].to_string();
    assert!(
        tail.contains(&format!("no slots for parallel={bad}")),
        "{tail}"
    );
    let summary = json(&run.join("summary.json"));
    let unstarted = summary["unstarted_points"]
        .as_array()
        .expect("unstarted_points");
    assert!(unstarted
        .iter()
        .any(|p| p["point"] == format!("server.parallel={bad}") && p["log_file"] == log));
    for cell in summary["cells"].as_array().expect("cells") {
        if cell["matrix"]["server.parallel"] == bad {
            assert!(cell["not_run"].is_string(), "{cell}");
        }
    }
    assert!(summary["warnings"]
        .to_string()
        .contains("The server did not start"));
    let markdown = std::fs::read_to_string(run.join("report.md")).expect("report.md");
    assert!(
        markdown.contains("## Servers that did not start"),
        "{markdown}"
    );
    assert!(markdown.contains(&format!("no slots for parallel={bad}")));
    assert!(markdown.contains("**not run**"));
    assert_eq!(report_again(run), Some(0), "llmbench report reads the run");
}

#[test]
fn a_bad_first_point_does_not_stop_the_others() {
    let backend = backend();
    let ws = Workspace::new();
    let file = sweep(&ws, &backend, "2, 1");
    let formats = r#"report.formats=["markdown", "json", "html"]"#;
    assert_eq!(
        ws.exec(&file, &["--set", formats]),
        3,
        "a point failed: exit 3"
    );
    let run = ws.run();
    assert_eq!(json(&run.join("manifest.json"))["status"], "partial");
    let records = records(&run);
    assert_eq!(records.len(), 2, "the good point's cells ran");
    assert!(records.iter().all(|r| r.outcome.is_ok()));
    assert_failed_point_shown(&run, 2, "server-1.log");
    assert_eq!(cells_not_run(&run), 1);
    let html = std::fs::read_to_string(run.join("report.html")).expect("report.html");
    assert!(html.contains("Servers that did not start") && html.contains("no slots for parallel"));
    assert!(html.contains("not run: the server did not start"));
}

#[test]
fn a_bad_second_point_is_a_failure_not_an_empty_cell() {
    let backend = backend();
    let ws = Workspace::new();
    let file = sweep(&ws, &backend, "1, 2");
    let output = ws.exec_binary(&file);
    assert_eq!(output.status.code(), Some(3));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stdout.contains("not run") && stdout.contains("server did not start"),
        "{stdout}"
    );
    assert!(stderr.contains("its cells were not run"), "{stderr}");
    let run = ws.run();
    assert_eq!(json(&run.join("manifest.json"))["status"], "partial");
    assert_eq!(records(&run).len(), 2);
    assert_failed_point_shown(&run, 2, "server-2.log");
    assert_eq!(cells_not_run(&run), 1);
}

#[test]
fn when_no_point_starts_the_directory_is_a_failed_run() {
    let backend = backend();
    let ws = Workspace::new();
    let file = sweep(&ws, &backend, "2, 3");
    assert_eq!(ws.exec(&file, &[]), 3);
    let run = ws.run();
    assert_eq!(json(&run.join("manifest.json"))["status"], "failed");
    assert_eq!(backend.generations(), 0, "nothing was sent");
    assert_failed_point_shown(&run, 2, "server-1.log");
    assert_failed_point_shown(&run, 3, "server-2.log");
}

#[test]
fn a_single_server_that_does_not_start_leaves_a_failed_run() {
    let backend = backend();
    let ws = Workspace::new();
    let server = "[server]\ncommand = [\"sh\", \"-c\", \"echo cannot load the model; exit 1\"]\n\
                  health = \"/v1/models\"\n";
    let text = experiment(Api::OpenAi, &backend.url(), "repetitions = 2", server);
    let file = ws.write("one.toml", &text);
    assert_eq!(ws.exec(&file, &[]), 3);
    let run = ws.run();
    let manifest = json(&run.join("manifest.json"));
    assert_eq!(manifest["status"], "failed");
    assert_eq!(manifest["managed_server"]["points"][0]["log"], "server.log");
    let markdown = std::fs::read_to_string(run.join("report.md")).expect("report.md");
    assert!(markdown.contains("cannot load the model"), "{markdown}");
    assert_eq!(report_again(&run), Some(0));
}

/// The manifest keeps the command as it ran (`{port}` filled in) and the
/// matrix values with their TOML type, in the manifest and summary.json.
#[test]
fn the_manifest_keeps_the_command_as_run_and_typed_values() {
    let backend = backend();
    let ws = Workspace::new();
    let file = sweep(&ws, &backend, "1");
    assert_eq!(ws.exec(&file, &[]), 0);
    let run = ws.run();
    let facts = &json(&run.join("manifest.json"))["managed_server"];
    let command = facts["command"].to_string();
    let port = backend
        .url()
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .to_string();
    assert!(
        !command.contains("{port}") && !command.contains("{parallel}"),
        "{command}"
    );
    assert!(command.contains(&format!("\"{port}\"")), "{command}");
    assert_eq!(facts["values"]["parallel"], 1, "a number stays a number");
    // `{port}` in an env value is filled in for the server and the manifest.
    assert_eq!(facts["env"]["LLMB_PORT"], port.as_str());
    let log = std::fs::read_to_string(run.join("server.log")).expect("server.log");
    assert!(log.contains(&format!("env port {port}")), "{log}");
    let summary = json(&run.join("summary.json"));
    assert_eq!(summary["cells"][0]["matrix"]["server.parallel"], 1);
}
