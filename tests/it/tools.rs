//! The commands that fit llmbench into a user's tools: shell completions
//! (loaded into a real bash), the man page, `--version` with the build's
//! commit (also recorded in each run's manifest) and `export`.

use crate::support::{json, ollama_experiment, Workspace};
use mock_ollama::MockConfig;
use std::process::Command;

fn llmbench(args: &[&str]) -> std::process::Output {
    assert_cmd::Command::cargo_bin("llmbench")
        .expect("binary")
        .args(args)
        .output()
        .expect("llmbench runs")
}

fn stdout(output: &std::process::Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).expect("UTF-8")
}

/// What bash's programmable completion offers for the words typed so far
/// (the last being the one completed), with llmbench's script loaded.
fn bash_completes(script: &std::path::Path, words: &[&str]) -> Vec<String> {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        "source '{}'\nCOMP_WORDS=({})\nCOMP_CWORD={}\nCOMP_LINE='{}'\nCOMP_POINT=${{#COMP_LINE}}\n\
         _llmbench llmbench '{}' '{}'\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        script.display(),
        quoted.join(" "),
        words.len() - 1,
        words.join(" "),
        words[words.len() - 1],
        words[words.len().saturating_sub(2)],
    );
    let output = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &program])
        .output()
        .expect("bash runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

#[test]
fn bash_completes_subcommands_and_flags() {
    let ws = Workspace::new();
    let script = ws.write(
        "llmbench.bash",
        &stdout(&llmbench(&["completions", "bash"])),
    );
    let subcommands = bash_completes(&script, &["llmbench", "ex"]);
    assert_eq!(subcommands, ["exec", "export"]);
    let flags = bash_completes(&script, &["llmbench", "exec", "--qu"]);
    assert_eq!(flags, ["--quiet"]);
    let formats = bash_completes(&script, &["llmbench", "export", "run", "--format", ""]);
    assert_eq!(formats, ["openmetrics", "jsonl"]);
}

#[test]
fn completions_for_every_shell_name_the_program() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let script = stdout(&llmbench(&["completions", shell]));
        assert!(
            script.contains("llmbench") && script.contains("export"),
            "{shell}"
        );
    }
    assert!(!llmbench(&["completions", "tcsh"]).status.success());
}

#[test]
fn the_man_page_covers_every_subcommand() {
    let page = stdout(&llmbench(&["man"]));
    assert!(
        page.starts_with(".ie") || page.contains(".TH llmbench"),
        "{}",
        &page[..200]
    );
    for sub in [
        "exec",
        "plan",
        "validate",
        "report",
        "compare",
        "schema",
        "completions",
        "export",
    ] {
        assert!(
            page.contains(&format!(".SH \"LLMBENCH {}\"", sub.to_uppercase())),
            "{sub}"
        );
    }
    assert!(
        page.contains("\\-\\-fail\\-on"),
        "compare's options are on the page"
    );
}

/// `git rev-parse HEAD` of this checkout, if git and a checkout are here.
fn head_commit() -> Option<String> {
    let output = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
}

#[test]
fn version_names_the_commit_built_from() {
    let line = stdout(&llmbench(&["--version"]));
    assert!(
        line.starts_with(&format!("llmbench {} (commit ", env!("CARGO_PKG_VERSION"))),
        "{line}"
    );
    match head_commit() {
        Some(commit) => assert!(line.contains(&commit), "{line} lacks HEAD {commit}"),
        None => assert!(line.contains("commit unknown"), "{line}"),
    }
    assert_eq!(llmbench::cli::build_commit(), head_commit().as_deref());
}

#[test]
fn exec_records_the_build_commit_and_export_reads_the_run() {
    let server = mock_ollama::spawn_blocking(MockConfig::default()).expect("mock starts");
    let ws = Workspace::new();
    let file = ws.write(
        "e.toml",
        &ollama_experiment(&server.url(), "qwen3:0.6b", "repetitions = 3"),
    );
    assert_eq!(ws.exec(&file, &[]), 0);
    let run = ws.run();
    let manifest = json(&run.join("manifest.json"));
    assert_eq!(
        manifest["llmbench_commit"].as_str(),
        llmbench::cli::build_commit()
    );

    let run_arg = run.display().to_string();
    let metrics = stdout(&llmbench(&["export", &run_arg, "--format", "openmetrics"]));
    check_openmetrics(&metrics);
    assert!(
        metrics.contains("# TYPE llmbench_ttft_seconds summary"),
        "{metrics}"
    );
    assert!(metrics.contains("quantile=\"0.95\""));
    assert!(metrics.contains(&format!(
        "run_id=\"{}\"",
        manifest["run_id"].as_str().unwrap()
    )));

    let cells = stdout(&llmbench(&["export", &run_arg, "--format", "jsonl"]));
    let cells: Vec<serde_json::Value> = cells
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(cells.len(), 2);
    assert!(cells
        .iter()
        .all(|c| c["type"] == "cell" && c["counts"]["ok"] == 3));

    let requests = stdout(&llmbench(&[
        "export", &run_arg, "--format", "jsonl", "--what", "requests",
    ]));
    let requests: Vec<serde_json::Value> = requests
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(requests.len(), 6);
    for request in &requests {
        assert_eq!(request["type"], "request");
        assert!(request["ttft_ms"].as_f64().unwrap() > 0.0, "{request}");
    }
    let refused = llmbench(&[
        "export",
        &run_arg,
        "--format",
        "openmetrics",
        "--what",
        "requests",
    ]);
    assert_eq!(refused.status.code(), Some(2));
}

/// The OpenMetrics text format's rules that a scraper enforces: every
/// sample belongs to the family declared before it, families are declared
/// once, label values are quoted, values are numbers, `# EOF` ends it.
fn check_openmetrics(text: &str) {
    let mut families = std::collections::HashSet::new();
    let mut current = String::new();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.last(), Some(&"# EOF"));
    for line in &lines[..lines.len() - 1] {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let name = rest.split(' ').next().unwrap().to_string();
            assert!(families.insert(name.clone()), "{name} declared twice");
            current = name;
            continue;
        }
        if line.starts_with("# ") {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line}"));
        let name = series.split('{').next().unwrap();
        let suffixes = ["", "_count", "_sum", "_info"];
        assert!(
            suffixes.iter().any(|s| name == format!("{current}{s}")),
            "{name} outside its family {current}"
        );
        assert!(
            value.parse::<f64>().is_ok() || ["NaN", "+Inf", "-Inf"].contains(&value),
            "{line}"
        );
        if let Some(labels) = series.strip_prefix(name) {
            assert!(labels.starts_with('{') && labels.ends_with("\"}"), "{line}");
        }
    }
}

#[test]
fn help_lists_the_new_commands() {
    let help = stdout(&llmbench(&["--help"]));
    for command in ["schema", "completions", "man", "export", "history"] {
        assert!(
            help.lines().any(|l| l.trim_start().starts_with(command)),
            "{command}:\n{help}"
        );
    }
}
