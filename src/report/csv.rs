//! requests.csv: one row per request (warmups and failures included, each
//! marked) with every per-request metric and the outcome, for spreadsheets
//! and pandas. Written from the records, not the report model, which holds
//! only aggregates. The header is [`REQUESTS_CSV_HEADER`], documented in
//! docs/templates.md; empty fields are missing values.

use super::helpers::csv_quote;
use crate::record::request_metrics;
use crate::record::{Outcome, Record};
use std::io::Write;
use std::path::Path;

/// File name of the per-request CSV in a run directory.
pub const REQUESTS_CSV: &str = "requests.csv";

/// Columns of requests.csv, in order.
pub const REQUESTS_CSV_HEADER: [&str; 32] = [
    "cell",
    "model",
    "prompt",
    "repetition",
    "warmup",
    "started_at",
    "run_offset_ms",
    "status",
    "error_kind",
    "error_message",
    "http_status",
    "retries",
    "finish_reason",
    "ttfb_ms",
    "ttft_ms",
    "ttft_content_ms",
    "e2e_ms",
    "tpot_ms",
    "decode_tps",
    "server_decode_tps",
    "prompt_tps",
    "load_ms",
    "output_tokens",
    "output_tokens_source",
    "prompt_tokens",
    "prompt_tokens_source",
    "cached_prompt_tokens",
    "chunks",
    "chunk_gap_mean_ms",
    "chunk_gap_max_ms",
    "output_chars",
    "reasoning_chars",
];

fn num(value: Option<f64>) -> String {
    value
        .filter(|x| x.is_finite())
        .map_or(String::new(), |x| x.to_string())
}

fn int(value: Option<u64>) -> String {
    value.map_or(String::new(), |x| x.to_string())
}

fn text(value: Option<&str>) -> String {
    value.map_or(String::new(), csv_quote)
}

/// The fields of one record, in header order.
pub(crate) fn request_row(record: &Record) -> Vec<String> {
    let m = request_metrics(record);
    let (status, kind, message) = match &record.outcome {
        Outcome::Ok => ("ok", None, None),
        Outcome::Error { kind, message } => ("error", Some(kind.as_str()), Some(message.as_str())),
    };
    let gaps = &m.chunk_gaps_ms;
    let gap_mean = (!gaps.is_empty()).then(|| gaps.iter().sum::<f64>() / gaps.len() as f64);
    let gap_max = gaps.iter().copied().reduce(f64::max);
    vec![
        csv_quote(&record.cell),
        csv_quote(&record.model),
        csv_quote(&record.prompt),
        record.repetition.to_string(),
        record.warmup.to_string(),
        csv_quote(&record.started_at),
        num(Some(record.run_offset_ms)),
        status.to_string(),
        text(kind),
        text(message),
        int(record.http_status.map(u64::from)),
        record.retries.to_string(),
        text(record.finish_reason.as_deref()),
        num(m.ttfb_ms),
        num(m.ttft_ms),
        num(m.ttft_content_ms),
        num(m.e2e_ms),
        num(m.tpot_ms),
        num(m.decode_tps),
        num(m.server_decode_tps),
        num(m.prompt_tps),
        num(m.load_ms),
        int(record.tokens.output),
        text(record.tokens.output_source.as_deref()),
        int(record.tokens.prompt),
        text(record.tokens.prompt_source.as_deref()),
        int(record.server.cached_prompt_tokens),
        record.timing.chunk_offsets_ms.len().to_string(),
        num(gap_mean),
        num(gap_max),
        record.output_chars.to_string(),
        record.reasoning_chars.to_string(),
    ]
}

/// One record's line, `\n` included.
pub fn request_line(record: &Record) -> String {
    let mut line = request_row(record).join(",");
    line.push('\n');
    line
}

/// The whole CSV text: header, then one line per record (CRLF-free, `\n`).
pub fn requests_csv(records: &[Record]) -> String {
    let mut out = REQUESTS_CSV_HEADER.join(",");
    out.push('\n');
    for record in records {
        out.push_str(&request_line(record));
    }
    out
}

/// Writes requests.csv for `records` to `path`.
pub fn write_requests_csv(records: &[Record], path: &Path) -> std::io::Result<()> {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    file.write_all(requests_csv(records).as_bytes())?;
    file.flush()
}
