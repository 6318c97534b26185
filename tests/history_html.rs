//! The history page in a real headless Chromium (Debian's `chromium`, or the
//! binary named by LLMBENCH_CHROMIUM), loaded from disk: its DOM holds one
//! chart per metric with a point per run, each linking to its run's report
//! and titled with the commit, and the change point is marked. A screenshot
//! is kept in target/llmbench-artifacts/history/ for CI to upload.

use llmbench::history::changepoint::{simulated_series, Settings};
use llmbench::history::collect::{
    Collected, CommitInfo, RunInfo, SeriesData, SeriesKind, SeriesMeta,
};
use llmbench::history::metrics::{Estimate, METRICS};
use llmbench::history::{analyse, html};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Twelve runs at twelve commits; ttft_p50 is 30 % higher from the seventh.
fn history_page() -> String {
    let runs = (0..12)
        .map(|i| RunInfo {
            dir: PathBuf::from(format!("benchmarks/exp/run-{i:02}")),
            run_id: format!("{i:06x}"),
            experiment: "exp".into(),
            started_at: format!("2026-01-{:02}T00:00:00Z", i + 1),
            commit: Some(CommitInfo {
                hash: format!("{i:040x}"),
                short: format!("c0ffee{i:02}"),
                subject: format!("change <{i}>"),
                date: format!("2026-01-{:02}T00:00:00Z", i + 1),
                time: i,
            }),
            dirty: false,
            facts: Default::default(),
        })
        .collect();
    let ttft = simulated_series(12, 0.01, 6, 0.3, 3);
    let points = (0..12)
        .map(|run| {
            let values = METRICS
                .iter()
                .map(|m| match m.name {
                    "ttft_p50" => Some(Estimate {
                        value: ttft[run],
                        low: Some(ttft[run] - 2.0),
                        high: Some(ttft[run] + 2.0),
                    }),
                    "tpot_p50" => Some(Estimate {
                        value: 20.0 + (run % 3) as f64 * 0.1,
                        low: None,
                        high: None,
                    }),
                    _ => None,
                })
                .collect();
            (run, values)
        })
        .collect();
    let meta = SeriesMeta {
        kind: SeriesKind::Cell,
        id: "m.hello.1a2b3c4d".into(),
        experiment: "exp".into(),
        model: "m".into(),
        label: "m".into(),
        prompt: "hello".into(),
        definition: String::new(),
    };
    let collected = Collected {
        runs,
        series: vec![SeriesData { meta, points }],
        skipped: vec![],
    };
    html::page(&analyse(collected, &Settings::default()))
}

fn chromium() -> PathBuf {
    if let Some(path) = std::env::var_os("LLMBENCH_CHROMIUM") {
        return PathBuf::from(path);
    }
    [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.is_file())
    .expect("Chromium is not installed: `apt-get install -y chromium`, or set LLMBENCH_CHROMIUM")
}

fn headless(page: &Path, args: &[&str]) -> String {
    let profile = tempfile::tempdir().unwrap();
    let output = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .args([
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn the_history_page_renders_its_charts_in_chromium() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("../llmbench-artifacts/history");
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("history.html");
    std::fs::write(&page, history_page()).unwrap();

    let dom = headless(&page, &["--dump-dom"]);
    assert_eq!(
        dom.matches("<svg class=\"chart\"").count(),
        2,
        "ttft_p50 and tpot_p50"
    );
    assert_eq!(
        dom.matches("<circle").count(),
        24,
        "a point per run per chart"
    );
    assert!(dom.contains("href=\"benchmarks/exp/run-06/report.html\""));
    assert!(
        dom.contains("c0ffee06 change &lt;6&gt;"),
        "hover title with hash and subject"
    );
    assert_eq!(
        dom.matches("stroke-dasharray").count(),
        1,
        "one change point, on ttft"
    );
    assert!(dom.contains("regression +"));

    let shot = dir.join("history.png");
    let _ = std::fs::remove_file(&shot);
    headless(
        &page,
        &[
            "--window-size=1400,900",
            &format!("--screenshot={}", shot.display()),
        ],
    );
    let size = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
    assert!(
        size > 10_000,
        "screenshot {} has {size} bytes",
        shot.display()
    );
}
