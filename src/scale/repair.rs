//! Repairs a killed run's `.jsonl` files before it is resumed: a last line
//! cut short by the kill (no newline, or not JSON) and any other line that
//! does not parse are moved out of the file into `torn/<file>`, byte for
//! byte, so nothing is dropped silently and every line left parses.

use crate::store::continuity::Repair;
use crate::store::{RunDir, StoreError, RESPONSES_DIR};
use std::io::Write;
use std::path::Path;

/// Where set-aside bytes go, inside the run directory.
pub(crate) const TORN_DIR: &str = "torn";

/// Repairs every `.jsonl` file of the run (top level and responses/).
pub(crate) fn repair_run(run: &RunDir) -> Result<Vec<Repair>, StoreError> {
    let mut repairs = Vec::new();
    for relative in jsonl_files(run)? {
        if let Some(repair) = repair_file(run, &relative)? {
            repairs.push(repair);
        }
    }
    Ok(repairs)
}

fn jsonl_files(run: &RunDir) -> Result<Vec<String>, StoreError> {
    let mut files = Vec::new();
    for (dir, prefix) in [
        (run.path.clone(), ""),
        (run.file(RESPONSES_DIR), "responses/"),
    ] {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(StoreError::new(&dir, e)),
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            if name.ends_with(".jsonl") && entry.path().is_file() {
                files.push(format!("{prefix}{name}"));
            }
        }
    }
    files.sort();
    Ok(files)
}

/// The lines of `bytes` that stay (each parses, newline-terminated) and
/// those set aside.
pub(crate) fn split_lines(bytes: &[u8]) -> (Vec<u8>, Vec<u8>, u64) {
    let mut keep = Vec::with_capacity(bytes.len());
    let mut aside = Vec::new();
    let mut lines_aside = 0;
    for piece in bytes.split_inclusive(|&b| b == b'\n') {
        let whole = piece.ends_with(b"\n");
        let blank = piece.iter().all(u8::is_ascii_whitespace);
        if blank && whole {
            continue;
        }
        if whole && serde_json::from_slice::<serde::de::IgnoredAny>(piece).is_ok() {
            keep.extend_from_slice(piece);
        } else {
            aside.extend_from_slice(piece);
            if !whole {
                aside.push(b'\n');
            }
            lines_aside += 1;
        }
    }
    (keep, aside, lines_aside)
}

fn repair_file(run: &RunDir, relative: &str) -> Result<Option<Repair>, StoreError> {
    let path = run.file(relative);
    let bytes = std::fs::read(&path).map_err(|e| StoreError::new(&path, e))?;
    let (keep, aside, lines) = split_lines(&bytes);
    if lines == 0 {
        return Ok(None);
    }
    let kept_in = format!("{TORN_DIR}/{}", relative.replace('/', "__"));
    append(&run.file(&kept_in), &aside)?;
    replace(&path, &keep)?;
    eprintln!(
        "repaired {relative}: {lines} unreadable line(s) ({} bytes) set aside in {kept_in}",
        aside.len()
    );
    Ok(Some(Repair {
        file: relative.to_string(),
        kept_in,
        lines,
        bytes: aside.len() as u64,
    }))
}

/// Appends to `path` (creating its directory), synced before the file it
/// came from is rewritten.
fn append(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::new(dir, e))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| StoreError::new(path, e))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| StoreError::new(path, e))
}

/// Replaces `path`'s contents atomically (temp file, then rename).
pub(crate) fn replace(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().to_string());
    let temp = path.with_file_name(format!(".{name}.tmp"));
    std::fs::write(&temp, bytes).map_err(|e| StoreError::new(&temp, e))?;
    std::fs::rename(&temp, path).map_err(|e| StoreError::new(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_torn_last_line_and_a_bad_line_are_set_aside_whole() {
        let bytes = b"{\"a\":1}\nnot json\n{\"b\":2}\n{\"c\":";
        let (keep, aside, lines) = split_lines(bytes);
        assert_eq!(keep, b"{\"a\":1}\n{\"b\":2}\n");
        assert_eq!(aside, b"not json\n{\"c\":\n");
        assert_eq!(lines, 2);
    }

    #[test]
    fn repair_keeps_the_torn_bytes_and_leaves_only_parsing_lines() {
        let dir = tempfile::tempdir().expect("temp dir");
        let run = RunDir {
            path: dir.path().to_path_buf(),
        };
        std::fs::create_dir_all(run.file(RESPONSES_DIR)).expect("dir");
        std::fs::write(run.file("requests.jsonl"), b"{\"x\":1}\n{\"x\":").expect("write");
        std::fs::write(run.file("responses/c.jsonl"), b"{\"y\":1}\n").expect("write");
        let repairs = repair_run(&run).expect("repairs");
        assert_eq!(repairs.len(), 1, "only the torn file: {repairs:?}");
        assert_eq!(repairs[0].file, "requests.jsonl");
        let kept = std::fs::read(run.file(&repairs[0].kept_in)).expect("kept aside");
        assert_eq!(kept, b"{\"x\":\n");
        let left = std::fs::read(run.file("requests.jsonl")).expect("read");
        assert_eq!(left, b"{\"x\":1}\n");
        assert!(repair_run(&run).expect("again").is_empty(), "idempotent");
    }
}
