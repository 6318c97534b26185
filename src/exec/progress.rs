//! The terminal progress bar: cells done, requests done, live output tokens/s.
//! Drawn on stderr only when it is a terminal, so logs and CI stay clean.

use crate::record::Record;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

pub struct Progress {
    bar: ProgressBar,
    cells: u64,
    cells_done: AtomicU64,
    tokens: AtomicU64,
    failed: AtomicU64,
    started: Instant,
}

impl Progress {
    pub fn new(total_requests: u64, cells: u64, visible: bool) -> Progress {
        let target = if visible {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(Some(total_requests), target);
        let style = ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} requests · {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.enable_steady_tick(std::time::Duration::from_millis(200));
        let progress = Progress {
            bar,
            cells,
            cells_done: AtomicU64::new(0),
            tokens: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            started: Instant::now(),
        };
        progress.refresh();
        progress
    }

    pub fn record(&self, record: &Record) {
        self.tokens
            .fetch_add(record.tokens.output.unwrap_or(0), Ordering::Relaxed);
        if !record.outcome.is_ok() {
            self.failed.fetch_add(1, Ordering::Relaxed);
        }
        self.bar.inc(1);
        self.refresh();
    }

    pub fn cell_done(&self) {
        self.cells_done.fetch_add(1, Ordering::Relaxed);
        self.refresh();
    }

    fn refresh(&self) {
        let elapsed = self.started.elapsed().as_secs_f64().max(1e-3);
        let tokens = self.tokens.load(Ordering::Relaxed) as f64;
        let failed = self.failed.load(Ordering::Relaxed);
        let cells = self.cells_done.load(Ordering::Relaxed);
        let failures = if failed > 0 {
            format!(" · {failed} failed")
        } else {
            String::new()
        };
        self.bar.set_message(format!(
            "cell {cells}/{} · {:.1} tok/s{failures}",
            self.cells,
            tokens / elapsed
        ));
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
