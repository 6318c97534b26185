//! Appends records to requests.jsonl (and response texts to responses/).
//! `write` puts a record on disk (in the OS) before it returns. `add` only
//! appends it to a buffer, so that the executor can gather every record
//! waiting in its channel and hand them to the OS with one `write` per file
//! (`flush`), which it does before it waits for the next record: nothing
//! measured sits in memory while the run waits.

use super::{RunDir, StoreError, REQUESTS_FILE, RESPONSES_DIR};
use crate::record::{Record, Response};
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Buffered bytes that are written out even before the executor flushes.
const FLUSH_AT: usize = 1 << 20;

/// Writes records as they arrive.
pub struct RecordWriter {
    requests: File,
    requests_path: PathBuf,
    responses: Option<PathBuf>,
    response_files: HashMap<String, Buffered>,
    /// requests.jsonl lines not yet written.
    pending: Vec<u8>,
}

/// A responses/ file and its lines not yet written.
struct Buffered {
    file: File,
    path: PathBuf,
    pending: Vec<u8>,
}

impl RecordWriter {
    pub fn open(run: &RunDir, save_responses: bool) -> Result<RecordWriter, StoreError> {
        let requests_path = run.file(REQUESTS_FILE);
        Ok(RecordWriter {
            requests: append(&requests_path)?,
            requests_path,
            responses: save_responses.then(|| run.file(RESPONSES_DIR)),
            response_files: HashMap::new(),
            pending: Vec::with_capacity(64 * 1024),
        })
    }

    /// Appends one record (and its response when responses are saved), then flushes.
    #[cfg(test)]
    pub(crate) fn write(&mut self, record: &Record, response: &Response) -> Result<(), StoreError> {
        self.add(record, response)?;
        self.flush()
    }

    /// Buffers one record (and its response); `flush` writes them out.
    pub(crate) fn add(&mut self, record: &Record, response: &Response) -> Result<(), StoreError> {
        if self.pending.len() > FLUSH_AT {
            self.flush()?; // a long backlog is written in pieces, not held
        }
        serialize_line(&mut self.pending, &self.requests_path, record)?;
        let Some(dir) = &self.responses else {
            return Ok(());
        };
        let file = match self.response_files.get_mut(&record.cell) {
            Some(file) => file,
            None => {
                let path = dir.join(format!("{}.jsonl", record.cell));
                let file = Buffered {
                    file: append(&path)?,
                    path,
                    pending: Vec::new(),
                };
                self.response_files
                    .entry(record.cell.clone())
                    .or_insert(file)
            }
        };
        let entry = serde_json::json!({
            "repetition": record.repetition,
            "warmup": record.warmup,
            "content": response.content,
            "reasoning": response.reasoning,
        });
        serialize_line(&mut file.pending, &file.path, &entry)
    }

    /// Writes every buffered line, one `write` per file (lines whole, in
    /// order), and empties the buffers.
    pub(crate) fn flush(&mut self) -> Result<(), StoreError> {
        write_out(&mut self.requests, &self.requests_path, &mut self.pending)?;
        for file in self.response_files.values_mut() {
            write_out(&mut file.file, &file.path, &mut file.pending)?;
        }
        Ok(())
    }
}

impl Drop for RecordWriter {
    /// A last safety net: the executor flushes before it waits or returns.
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

fn append(path: &Path) -> Result<File, StoreError> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| StoreError::new(path, e))
}

/// Appends `value` as one JSON line to `buffer`.
fn serialize_line<T: serde::Serialize>(
    buffer: &mut Vec<u8>,
    path: &Path,
    value: &T,
) -> Result<(), StoreError> {
    let start = buffer.len();
    if let Err(e) = serde_json::to_writer(&mut *buffer, value) {
        buffer.truncate(start); // never leave half a line behind
        return Err(StoreError::new(path, e.into()));
    }
    buffer.push(b'\n');
    Ok(())
}

fn write_out(file: &mut File, path: &Path, buffer: &mut Vec<u8>) -> Result<(), StoreError> {
    if buffer.is_empty() {
        return Ok(());
    }
    // The file is opened for appending: one write call appends whole lines.
    let result = file
        .write_all(buffer)
        .and_then(|()| file.flush())
        .map_err(|e| StoreError::new(path, e));
    buffer.clear();
    result
}
