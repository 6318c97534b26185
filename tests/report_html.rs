//! Every built-in HTML page (report.html, compare's HTML) in a real headless
//! Chromium (Debian's `chromium` package, or the binary named by
//! `LLMBENCH_CHROMIUM`): the page loads from disk with the network off, its
//! DOM holds the SVG charts, and screenshots at desktop and phone width are
//! kept in target/llmbench-artifacts/ for CI to upload. A layout check runs
//! in the page, light and dark, at 1,400 px: it measures the rendered boxes
//! of every chart text (none outside its chart, none overlapping another)
//! and of the page (no horizontal overflow, no text cut off by a box that
//! does not scroll). Without Chromium the tests fail and say how to install it.

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

/// Measures the rendered page and writes what is wrong, as JSON, into
/// `<pre id="layout-check">` for `--dump-dom` to return.
const LAYOUT_CHECK: &str = r#"<script>
(function () {
  const problems = [];
  const name = (el) => (el.textContent || '').trim().slice(0, 60);
  const overlap = (a, b) => {
    const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
    const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
    return w > 1 && h > 1;
  };
  const doc = document.documentElement;
  if (doc.scrollWidth > window.innerWidth + 1) {
    problems.push('page overflows horizontally: ' + doc.scrollWidth + ' px in ' + window.innerWidth);
  }
  document.querySelectorAll('svg.chart').forEach((svg, i) => {
    const box = svg.getBoundingClientRect();
    const texts = Array.from(svg.querySelectorAll('text')).filter((t) => name(t));
    const boxes = texts.map((t) => t.getBoundingClientRect());
    texts.forEach((t, j) => {
      const b = boxes[j];
      if (b.left < box.left - 1 || b.right > box.right + 1 || b.top < box.top - 1 || b.bottom > box.bottom + 1) {
        problems.push('chart ' + i + ': text cut off at the edge: "' + name(t) + '"');
      }
      for (let k = 0; k < j; k++) {
        if (overlap(b, boxes[k])) {
          problems.push('chart ' + i + ': "' + name(t) + '" overlaps "' + name(texts[k]) + '"');
        }
      }
    });
  });
  document.querySelectorAll('.scroll').forEach((el) => {
    if (el.scrollWidth > el.clientWidth + 1) {
      problems.push('table wider than its column (' + el.scrollWidth + ' px in ' + el.clientWidth + '): "' + name(el.querySelector('th') || el) + '"');
    }
  });
  document.querySelectorAll('main *').forEach((el) => {
    const style = getComputedStyle(el);
    const scrolls = ['auto', 'scroll'].includes(style.overflowX);
    if (!scrolls && el.children.length === 0 && el.scrollWidth > el.clientWidth + 1 && el.clientWidth > 0
        && ['hidden', 'clip'].includes(style.overflowX)) {
      problems.push('text cut off in <' + el.tagName.toLowerCase() + '>: "' + name(el) + '"');
    }
    const b = el.getBoundingClientRect();
    if (b.width > 0 && b.right > window.innerWidth + 1 && !el.closest('.scroll')) {
      problems.push('<' + el.tagName.toLowerCase() + '> runs past the window: "' + name(el) + '"');
    }
  });
  const dark = getComputedStyle(document.body).backgroundColor;
  const out = document.createElement('pre');
  out.id = 'layout-check';
  out.textContent = JSON.stringify({ background: dark, problems: problems.slice(0, 40), count: problems.length });
  document.body.appendChild(out);
})();
</script>"#;

/// Runs the layout check on `page` at 1,400 px, light or dark (the page's
/// dark styles forced on); returns the problems found.
fn layout_problems(page: &Path, dark: bool) -> Vec<String> {
    let html = std::fs::read_to_string(page).expect("read the page");
    let html = if dark {
        html.replace("@media (prefers-color-scheme: dark)", "@media all")
    } else {
        html
    };
    let checked = page.with_extension(if dark { "dark.html" } else { "light.html" });
    let html = html.replacen("</body>", &format!("{LAYOUT_CHECK}</body>"), 1);
    std::fs::write(&checked, html).expect("write the checked page");
    let args = [
        "--dump-dom".to_string(),
        "--window-size=1400,2000".to_string(),
    ];
    let dom = headless(&checked.canonicalize().expect("path"), &args);
    let json = dom
        .split("<pre id=\"layout-check\">")
        .nth(1)
        .and_then(|rest| rest.split("</pre>").next())
        .unwrap_or_else(|| panic!("the layout check did not run: {dom:.400}"));
    let json = json
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    let result: serde_json::Value = serde_json::from_str(&json).expect("layout check JSON");
    let background = result["background"].as_str().unwrap_or_default();
    let is_dark = background
        .trim_start_matches("rgb(")
        .split(',')
        .next()
        .and_then(|r| r.trim().parse::<u32>().ok())
        .is_some_and(|red| red < 80);
    assert_eq!(
        is_dark,
        dark,
        "background {background} in {} mode",
        if dark { "dark" } else { "light" }
    );
    result["problems"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p.as_str().map(str::to_string))
        .collect()
}

/// The layout check, light and dark: no problem in either.
fn check_layout(page: &Path) {
    for dark in [false, true] {
        let problems = layout_problems(page, dark);
        assert!(
            problems.is_empty(),
            "{} ({}): {problems:#?}",
            page.display(),
            if dark { "dark" } else { "light" }
        );
    }
}

#[test]
fn the_layout_check_finds_overlapping_and_overflowing_text() {
    let dir = artifacts("layout-check");
    let page = dir.join("bad.html");
    let html = "<!doctype html><html><head><style>@media (prefers-color-scheme: dark) { body { background: #111; } }</style></head><body><main>\
        <svg class=\"chart\" viewBox=\"0 0 200 100\" width=\"200\" height=\"100\"><text x=\"10\" y=\"20\">overlapping one</text><text x=\"14\" y=\"22\">overlapping two</text><text x=\"-30\" y=\"60\">cut off at the edge</text></svg>\
        <table><tr><td style=\"white-space:nowrap\">{}</td></tr></table></main></body></html>";
    std::fs::write(&page, html.replace("{}", &"wide ".repeat(400))).expect("write");
    let problems = layout_problems(&page, false).join("\n");
    for want in [
        "overlaps",
        "cut off at the edge",
        "page overflows horizontally",
        "runs past the window",
    ] {
        assert!(problems.contains(want), "{want} not found in:\n{problems}");
    }
}

#[test]
fn the_fixture_report_renders_its_charts_in_chromium() {
    let html = render(&builtin(ReportFormat::Html), &fixture::model()).expect("renders");
    let page = artifacts("fixture").join("report.html");
    std::fs::write(&page, html).expect("write report.html");
    check_page(&page, 4);
    check_layout(&page);
}

#[test]
fn the_compare_page_lays_out_cleanly_in_chromium() {
    use llmbench::compare::{
        compare, parse_threshold, render_comparison, CompareFormat, CompareOptions, RunData, RunRef,
    };
    let records = fixture::records();
    let labels = fixture::plan()
        .cells
        .into_iter()
        .map(|c| (c.id, c.label))
        .collect();
    let run = |id: &str| {
        RunData::from_records(
            RunRef {
                run_id: id.into(),
                ..RunRef::default()
            },
            &records,
            &labels,
        )
    };
    let options = CompareOptions {
        fail_on: vec![parse_threshold("ttft.p95 > +10%").expect("parses")],
        ..CompareOptions::default()
    };
    let comparison = compare(&run("a"), &run("b"), &options);
    let html = render_comparison(&comparison, CompareFormat::Html).expect("renders");
    let page = artifacts("compare").join("compare.html");
    std::fs::write(&page, html).expect("write compare.html");
    check_layout(&page);
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
    check_layout(&run.join("report.html"));
}
