//! Appends records to requests.jsonl (and response texts to responses/),
//! flushing each one as it is written: a record is on disk as soon as its
//! request ends.

use super::{RunDir, StoreError, REQUESTS_FILE, RESPONSES_DIR};
use crate::record::{Record, Response};
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes records as they arrive.
pub struct RecordWriter {
    requests: File,
    requests_path: PathBuf,
    responses: Option<PathBuf>,
    response_files: HashMap<String, File>,
    line: Vec<u8>,
}

impl RecordWriter {
    pub fn open(run: &RunDir, save_responses: bool) -> Result<RecordWriter, StoreError> {
        let requests_path = run.file(REQUESTS_FILE);
        Ok(RecordWriter {
            requests: append(&requests_path)?,
            requests_path,
            responses: save_responses.then(|| run.file(RESPONSES_DIR)),
            response_files: HashMap::new(),
            line: Vec::with_capacity(4096),
        })
    }

    /// Appends one record (and its response when responses are saved), then flushes.
    pub fn write(&mut self, record: &Record, response: &Response) -> Result<(), StoreError> {
        write_line(
            &mut self.requests,
            &self.requests_path,
            &mut self.line,
            record,
        )?;
        if let Some(dir) = &self.responses {
            let path = dir.join(format!("{}.jsonl", record.cell));
            let file = match self.response_files.get_mut(&record.cell) {
                Some(file) => file,
                None => {
                    let file = append(&path)?;
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
            write_line(file, &path, &mut self.line, &entry)?;
        }
        Ok(())
    }
}

fn append(path: &Path) -> Result<File, StoreError> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| StoreError::new(path, e))
}

fn write_line<T: serde::Serialize>(
    file: &mut File,
    path: &Path,
    buffer: &mut Vec<u8>,
    value: &T,
) -> Result<(), StoreError> {
    buffer.clear();
    serde_json::to_writer(&mut *buffer, value).map_err(|e| StoreError::new(path, e.into()))?;
    buffer.push(b'\n');
    // One write call per line: an append of a whole line, then flush to the OS.
    file.write_all(buffer)
        .and_then(|()| file.flush())
        .map_err(|e| StoreError::new(path, e))
}
