//! The top-level modules form layers in pipeline order: a module may use
//! the modules below it, never one above it. This test reads every
//! `crate::<module>` path in src/ (test code left out) and fails on an edge
//! that points up, naming it; a new top-level module must be given its place
//! in `LAYERS`. docs/architecture.md draws the same graph.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Bottom to top.
const LAYERS: [&str; 23] = [
    "util",
    "rng",
    "stats",
    "monitor",
    "quality",
    "tokenize",
    "metrics",
    "experiment",
    "backend",
    "plan",
    "record",
    "store",
    "exec",
    "server",
    "scale",
    "aggregate",
    "report",
    "compare",
    "history",
    "cli",
    "error",
    "pipeline",
    "app",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src/ is readable").flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Test-only code: test files, and the inline `mod tests` at a file's end.
fn production_text(path: &Path, text: &str) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    let in_tests_dir = path.components().any(|c| c.as_os_str() == "tests");
    if in_tests_dir || name == "tests.rs" || name.ends_with("_tests.rs") || name == "testutil.rs" {
        return None;
    }
    let end = text.find("#[cfg(test)]\nmod tests {").unwrap_or(text.len());
    Some(text[..end].to_string())
}

/// The top-level modules `text` names as `crate::<module>` or `crate::{a, b}`.
fn used_modules(text: &str) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    for line in text.lines().map(str::trim).filter(|l| !l.starts_with("//")) {
        for part in line.split("crate::").skip(1) {
            if let Some(group) = part.strip_prefix('{') {
                let names = group.split('}').next().unwrap_or("");
                used.extend(names.split(',').filter_map(|n| first_word(n.trim())));
            } else {
                used.extend(first_word(part));
            }
        }
    }
    used
}

fn first_word(text: &str) -> Option<String> {
    let word: String = text
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    (!word.is_empty()).then_some(word)
}

fn rank(module: &str) -> Option<usize> {
    LAYERS.iter().position(|m| *m == module)
}

#[test]
fn top_level_modules_only_use_the_layers_below_them() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut upward = BTreeSet::new();
    let mut unplaced = BTreeSet::new();
    for path in &files {
        let relative = path.strip_prefix(&src).expect("under src/");
        let first = relative.components().next().expect("a path");
        let module = first
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        if module == "lib" || module == "main" {
            continue;
        }
        let text = std::fs::read_to_string(path).expect("readable");
        let Some(text) = production_text(relative, &text) else {
            continue;
        };
        let Some(from) = rank(&module) else {
            unplaced.insert(module);
            continue;
        };
        for used in used_modules(&text) {
            match rank(&used) {
                Some(to) if to > from => {
                    upward.insert((module.clone(), used, relative.display().to_string()));
                }
                Some(_) => {}
                None => {
                    unplaced.insert(used);
                }
            }
        }
    }
    assert!(
        unplaced.is_empty(),
        "modules without a place in LAYERS (tests/layers.rs): {unplaced:?}"
    );
    assert!(
        upward.is_empty(),
        "edges that point up the layers (module → module it uses, in file): {upward:#?}"
    );
}

#[test]
fn the_scan_reads_paths_and_groups() {
    let text = "use crate::store::RunDir;\nuse crate::{plan, exec::Target};\n// crate::app\nlet x = crate::util::f();";
    let used: Vec<String> = used_modules(text).into_iter().collect();
    assert_eq!(used, ["exec", "plan", "store", "util"]);
}
