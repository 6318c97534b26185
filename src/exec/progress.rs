//! Progress of a run on stderr, in one of three modes: a live bar when
//! stderr is a terminal; plain lines when it is not (a pipe to `tee`, a CI
//! log) — one line as each cell ends and a heartbeat every 30 s with
//! requests done/total, rate, output tokens/s and the time left, so a long
//! run never looks dead; nothing with `--quiet`.

use crate::plan::Cell;
use crate::record::Record;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How progress is shown.
pub enum ProgressMode {
    /// A live bar (stderr is a terminal).
    Bar,
    /// Lines to `out`: one per cell, a heartbeat every `heartbeat`.
    Lines {
        out: Box<dyn Write + Send>,
        heartbeat: Duration,
    },
    /// Nothing (`--quiet`).
    Silent,
}

impl ProgressMode {
    /// The mode for stderr: a bar on a terminal, lines elsewhere, nothing when quiet.
    pub(crate) fn for_stderr(quiet: bool) -> ProgressMode {
        use std::io::IsTerminal;
        if quiet {
            ProgressMode::Silent
        } else if std::io::stderr().is_terminal() {
            ProgressMode::Bar
        } else {
            ProgressMode::Lines {
                out: Box::new(std::io::stderr()),
                heartbeat: Duration::from_secs(30),
            }
        }
    }
}

/// What has been done so far, shared with the heartbeat thread.
struct Tally {
    total: u64,
    cells: u64,
    done: AtomicU64,
    cells_done: AtomicU64,
    tokens: AtomicU64,
    failed: AtomicU64,
    started: Instant,
    /// Requests done and failed when the last cell ended.
    at_last_cell: Mutex<(u64, u64)>,
}

impl Tally {
    /// "120/400 requests (30%) · 4.0 req/s · 52.1 tok/s · 3 failed · about 1m10s left".
    fn line(&self) -> String {
        let elapsed = self.started.elapsed().as_secs_f64().max(1e-3);
        let done = self.done.load(Ordering::Relaxed);
        let rate = done as f64 / elapsed;
        let tokens = self.tokens.load(Ordering::Relaxed) as f64 / elapsed;
        let failed = self.failed.load(Ordering::Relaxed);
        let share = done as f64 / self.total.max(1) as f64 * 100.0;
        let left = if done > 0 && done < self.total {
            let seconds = (self.total - done) as f64 / rate;
            format!(" · about {} left", eta(seconds))
        } else {
            String::new()
        };
        let failures = if failed > 0 {
            format!(" · {failed} failed")
        } else {
            String::new()
        };
        format!(
            "{done}/{} requests ({share:.0}%) · {rate:.1} req/s · {tokens:.1} tok/s{failures}{left}",
            self.total
        )
    }
}

/// "42 s", "48 min", "2 h 05 min": time left, as precise as it is worth.
fn eta(seconds: f64) -> String {
    let seconds = seconds.round() as u64;
    match seconds {
        0..=99 => format!("{seconds} s"),
        100..=5999 => format!("{} min", (seconds + 30) / 60),
        _ => format!("{} h {:02} min", seconds / 3600, seconds % 3600 / 60),
    }
}

/// Plain-line output and its heartbeat thread.
struct Lines {
    out: Arc<Mutex<Box<dyn Write + Send>>>,
    stop: Mutex<Option<Sender<()>>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Lines {
    fn start(out: Box<dyn Write + Send>, heartbeat: Duration, tally: Arc<Tally>) -> Lines {
        let out = Arc::new(Mutex::new(out));
        let (stop, stopped) = channel::<()>();
        let writer = Arc::clone(&out);
        let thread = std::thread::spawn(move || loop {
            match stopped.recv_timeout(heartbeat) {
                Err(RecvTimeoutError::Timeout) => {
                    write_line(&writer, &format!("progress: {}", tally.line()))
                }
                _ => return,
            }
        });
        Lines {
            out,
            stop: Mutex::new(Some(stop)),
            thread: Mutex::new(Some(thread)),
        }
    }

    fn stop(&self) {
        if let Ok(mut stop) = self.stop.lock() {
            stop.take();
        }
        let thread = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }
}

/// A line on the progress output; a closed stderr is not worth failing a run for.
fn write_line(out: &Mutex<Box<dyn Write + Send>>, line: &str) {
    if let Ok(mut out) = out.lock() {
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
}

pub struct Progress {
    bar: ProgressBar,
    tally: Arc<Tally>,
    lines: Option<Lines>,
}

impl Progress {
    /// Progress over `measured_requests` (warmups and cold starts are not counted).
    pub fn new(measured_requests: u64, cells: u64, mode: ProgressMode) -> Progress {
        let target = match mode {
            ProgressMode::Bar => ProgressDrawTarget::stderr(),
            _ => ProgressDrawTarget::hidden(),
        };
        let bar = ProgressBar::with_draw_target(Some(measured_requests), target);
        let style = ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} requests · {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.enable_steady_tick(Duration::from_millis(200));
        let tally = Arc::new(Tally {
            total: measured_requests,
            cells,
            done: AtomicU64::new(0),
            cells_done: AtomicU64::new(0),
            tokens: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            started: Instant::now(),
            at_last_cell: Mutex::new((0, 0)),
        });
        let lines = match mode {
            ProgressMode::Lines { out, heartbeat } => {
                Some(Lines::start(out, heartbeat, Arc::clone(&tally)))
            }
            _ => None,
        };
        let progress = Progress { bar, tally, lines };
        progress.refresh();
        progress
    }

    /// Counts a finished request. Only measured ones move the count: timed
    /// warmups (`warmup = "3s"`) have no count to plan for.
    pub(crate) fn record(&self, record: &Record) {
        if record.warmup || record.cold {
            return;
        }
        let tally = &self.tally;
        tally
            .tokens
            .fetch_add(record.tokens.output.unwrap_or(0), Ordering::Relaxed);
        if !record.outcome.is_ok() {
            tally.failed.fetch_add(1, Ordering::Relaxed);
        }
        tally.done.fetch_add(1, Ordering::Relaxed);
        self.bar.inc(1);
        self.refresh();
    }

    /// A cell has ended: the bar moves on; in line mode a line names the
    /// cell with its setting, its requests and the run's progress.
    pub(crate) fn cell_done(&self, cell: &Cell) {
        let tally = &self.tally;
        let cells = tally.cells_done.fetch_add(1, Ordering::Relaxed) + 1;
        self.refresh();
        let Some(lines) = &self.lines else { return };
        let (done, failed) = (
            tally.done.load(Ordering::Relaxed),
            tally.failed.load(Ordering::Relaxed),
        );
        let (cell_done, cell_failed) = match tally.at_last_cell.lock() {
            Ok(mut last) => {
                let counts = (done - last.0, failed - last.1);
                *last = (done, failed);
                counts
            }
            Err(_) => (0, 0),
        };
        let failures = if cell_failed > 0 {
            format!(", {cell_failed} failed")
        } else {
            String::new()
        };
        let line = format!(
            "cell {cells}/{} done: {} ({cell_done} requests{failures}) · {}",
            tally.cells,
            cell_name(cell),
            tally.line()
        );
        write_line(&lines.out, &line);
    }

    fn refresh(&self) {
        let tally = &self.tally;
        let elapsed = tally.started.elapsed().as_secs_f64().max(1e-3);
        let tokens = tally.tokens.load(Ordering::Relaxed) as f64;
        let failed = tally.failed.load(Ordering::Relaxed);
        let cells = tally.cells_done.load(Ordering::Relaxed);
        let failures = if failed > 0 {
            format!(" · {failed} failed")
        } else {
            String::new()
        };
        self.bar.set_message(format!(
            "cell {cells}/{} · {:.1} tok/s{failures}",
            tally.cells,
            tokens / elapsed
        ));
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
        if let Some(lines) = &self.lines {
            lines.stop();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(lines) = &self.lines {
            lines.stop();
        }
    }
}

/// "label × prompt · c4 server.parallel=2": the cell with its setting.
fn cell_name(cell: &Cell) -> String {
    let setting = cell.setting();
    let base = format!("{} × {}", cell.label, cell.prompt);
    if setting.is_empty() {
        base
    } else {
        format!("{base} · {setting}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer the test can read back.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| std::io::Error::other("poisoned"))?
                .extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Shared {
        fn text(&self) -> String {
            self.0
                .lock()
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default()
        }
    }

    #[test]
    fn without_a_terminal_each_cell_prints_a_line_and_a_heartbeat_follows() {
        let out = Shared::default();
        let mode = ProgressMode::Lines {
            out: Box::new(out.clone()),
            heartbeat: Duration::from_millis(40),
        };
        let plan = crate::report::fixture::plan();
        let progress = Progress::new(12, 2, mode);
        let records = crate::report::fixture::records();
        let measured: Vec<&Record> = records.iter().filter(|r| !r.warmup && !r.cold).collect();
        for record in measured.iter().take(6) {
            progress.record(record);
        }
        // A timed warmup's requests are not in the plan's count.
        let mut warmup = measured[0].clone();
        warmup.warmup = true;
        progress.record(&warmup);
        progress.cell_done(&plan.cells[0]);
        let deadline = Instant::now() + Duration::from_secs(5);
        while !out.text().contains("progress: ") && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        progress.finish();
        let text = out.text();
        let first = text.lines().next().unwrap_or_default();
        assert!(
            first.starts_with(
                "cell 1/2 done: Qwen3 0.6B × hello · c1 (6 requests) · 6/12 requests (50%) · "
            ),
            "{text}"
        );
        assert!(
            first.contains(" req/s · ") && first.contains("left"),
            "{text}"
        );
        let beat = text
            .lines()
            .find(|l| l.starts_with("progress: 6/12 requests (50%)"));
        assert!(beat.is_some(), "a heartbeat: {text}");
        // Stopped: no more lines after finish.
        let before = out.text().len();
        std::thread::sleep(Duration::from_millis(120));
        assert_eq!(out.text().len(), before);
    }
}
