//! Snapshot checks for tests: rendered output is compared with a file under
//! tests/snapshots/; `UPDATE_SNAPSHOTS=1` rewrites the files instead. A
//! mismatch names the file and the first line that differs.

use std::path::PathBuf;

/// The committed snapshot `name`.
pub(crate) fn path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(name)
}

/// Asserts that `actual` equals snapshot `name` (or rewrites it).
pub(crate) fn check(name: &str, actual: &str) {
    let file = path(name);
    if std::env::var("UPDATE_SNAPSHOTS").is_ok_and(|v| v == "1") {
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir).expect("create tests/snapshots");
        }
        std::fs::write(&file, actual).expect("write snapshot");
        return;
    }
    let Ok(expected) = std::fs::read_to_string(&file) else {
        panic!(
            "snapshot {} is missing; run `UPDATE_SNAPSHOTS=1 cargo test` to create it",
            file.display()
        );
    };
    if expected == actual {
        return;
    }
    let line = expected
        .lines()
        .zip(actual.lines())
        .position(|(e, a)| e != a)
        .unwrap_or_else(|| expected.lines().count().min(actual.lines().count()));
    panic!(
        "{} differs from the rendered output at line {}:\n  expected: {:?}\n  actual:   {:?}\nIf the change is intended, run `UPDATE_SNAPSHOTS=1 cargo test` and review the diff.",
        file.display(),
        line + 1,
        expected.lines().nth(line).unwrap_or("<end of file>"),
        actual.lines().nth(line).unwrap_or("<end of file>"),
    );
}
