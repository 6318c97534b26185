//! report.html in a real headless Chromium (Debian's `chromium` package, or
//! the binary named by `LLMBENCH_CHROMIUM`): the page loads from disk with
//! the network off, its DOM holds the SVG charts, and screenshots at desktop
//! and phone width are kept in target/llmbench-artifacts/ for CI to upload.
//! Without Chromium the tests fail and say how to install it.

use clap::Parser;
use llmbench::experiment::ReportFormat;
use llmbench::report::{builtin, fixture, render};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Where screenshots and rendered pages are kept (target/llmbench-artifacts).
fn artifacts(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("../llmbench-artifacts")
        .join(name);
    std::fs::create_dir_all(&dir).expect("create the artifacts directory");
    dir
}

fn chromium() -> PathBuf {
    if let Some(path) = std::env::var_os("LLMBENCH_CHROMIUM") {
        return PathBuf::from(path);
    }
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        let found = std::env::var_os("PATH").map(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join(name))
                .find(|p| p.is_file())
        });
        if let Some(path) = found.flatten() {
            return path;
        }
    }
    panic!(
        "Chromium is not installed, and these tests need it to load report.html in a real browser. \
         Install Debian's package (`apt-get install -y chromium`) or set LLMBENCH_CHROMIUM to a Chromium or Chrome binary."
    );
}

/// Runs headless Chromium with `args` on `page`; returns its stdout.
fn headless(page: &Path, args: &[String]) -> String {
    let profile = tempfile::tempdir().expect("temp profile dir");
    let mut command = Command::new(chromium());
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
        ])
        .args([
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .args(["--hide-scrollbars", "--mute-audio"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", chromium().display()));
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            _ => {
                let _ = child.kill();
                panic!("headless Chromium did not finish within 90 s");
            }
        }
    }
    let output = child.wait_with_output().expect("chromium output");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Loads `page`, checks the charts are in the DOM, and keeps two screenshots.
fn check_page(page: &Path, min_charts: usize) {
    let page = page.canonicalize().expect("page path");
    let dom = headless(&page, &["--dump-dom".to_string()]);
    assert!(
        dom.contains("<main>"),
        "Chromium returned no page: {dom:.300}"
    );
    let charts = dom.matches("<svg class=\"chart ").count();
    assert!(
        charts >= min_charts,
        "{charts} charts in the DOM, expected {min_charts} or more"
    );
    for kind in ["chart-box", "chart-bars", "chart-cdf"] {
        assert!(dom.contains(kind), "no {kind} chart in the DOM");
    }
    assert!(
        dom.contains("<polyline") && dom.contains("<rect"),
        "charts have marks"
    );
    let dir = page.parent().expect("page directory");
    for (name, width) in [("desktop", 1280), ("phone", 390)] {
        let shot = dir.join(format!("report-{name}.png"));
        let _ = std::fs::remove_file(&shot);
        let args = [
            format!("--screenshot={}", shot.display()),
            format!("--window-size={width},2000"),
        ];
        headless(&page, &args);
        let bytes = std::fs::read(&shot)
            .unwrap_or_else(|e| panic!("no screenshot {}: {e}", shot.display()));
        assert!(
            bytes.starts_with(b"\x89PNG") && bytes.len() > 20_000,
            "{} looks empty",
            shot.display()
        );
    }
}

#[test]
fn the_fixture_report_renders_its_charts_in_chromium() {
    let html = render(&builtin(ReportFormat::Html), &fixture::model()).expect("renders");
    let page = artifacts("fixture").join("report.html");
    std::fs::write(&page, html).expect("write report.html");
    check_page(&page, 4);
}

#[test]
fn a_mock_run_writes_an_html_report_that_chromium_shows() {
    let server = mock_ollama::spawn_blocking(mock_ollama::MockConfig {
        ttft: Duration::from_millis(30),
        inter_token: Duration::from_millis(3),
        ..mock_ollama::MockConfig::default()
    })
    .expect("mock server starts");
    let dir = artifacts("mock-run");
    let _ = std::fs::remove_dir_all(dir.join("runs"));
    let file = dir.join("html.toml");
    let experiment = format!(
        "name = \"html\"\n[backend]\nkind = \"ollama\"\nurl = \"{}\"\n\n[[models]]\nname = \"qwen3:0.6b\"\n\n[defaults]\nmax_tokens = 8\n\n[run]\nrepetitions = 4\n\n[[prompts]]\nid = \"hello\"\ntext = \"Say hello.\"\n\n[[prompts]]\nid = \"count\"\ntext = \"Count to five.\"\n\n[report]\nformats = [\"markdown\", \"json\", \"html\", \"csv\"]\n",
        server.url()
    );
    std::fs::write(&file, experiment).expect("write experiment");
    let runs = dir.join("runs");
    let args = [
        "llmbench",
        "exec",
        &file.display().to_string(),
        "--out",
        &runs.display().to_string(),
        "-q",
    ];
    let code = llmbench::app::run(llmbench::cli::Cli::parse_from(args))
        .unwrap_or_else(|e| panic!("exec: {e}"));
    assert_eq!(code, 0);
    let run = std::fs::read_dir(runs.join("html"))
        .expect("run directory")
        .flatten()
        .map(|e| e.path())
        .next()
        .expect("one run");
    assert!(
        run.join("cells.csv").is_file(),
        "the csv format writes cells.csv"
    );
    check_page(&run.join("report.html"), 4);
}
