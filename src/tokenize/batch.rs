//! Counting many responses after a run, at a cost that does not grow out of
//! hand with the run: local tokenizers count on every core
//! ([`map_parallel`]), a server's tokenizer is asked several requests at a
//! time and no more once it has shown it cannot answer ([`SourceGuard`]),
//! and a count that takes a while says how far it is and how long it has
//! left ([`CountProgress`]).

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A source that failed this many times in a row, never having answered,
/// is asked no more.
pub(crate) const GIVE_UP_AFTER: u32 = 3;

/// Requests to a server's tokenizer in flight at once.
pub(crate) const REMOTE_IN_FLIGHT: usize = 8;

/// Why one text was not counted after a run; the message goes into
/// tokens.jsonl's `error`.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CountError {
    #[error(transparent)]
    Tokenizer(#[from] super::TokenizeError),
    /// The model's counts are the server's own: nothing to count here.
    #[error("counted by the server")]
    ByServer,
    #[error("the prompt is not in the plan")]
    PromptNotInPlan,
    #[error("no counter")]
    NoCounter,
    #[error("not counted")]
    NotCounted,
    /// The source is asked no more ([`SourceGuard`]); `last` is its last error.
    #[error("not asked: the source failed {GIVE_UP_AFTER} times in a row ({last})")]
    GaveUp { last: String },
}

/// Whether a token source is still worth asking.
#[derive(Debug, Default)]
pub(crate) struct SourceGuard {
    failures: AtomicU32,
    answered: AtomicBool,
    last_error: Mutex<Option<String>>,
}

impl SourceGuard {
    /// Why the source is asked no more: it failed [`GIVE_UP_AFTER`] times
    /// in a row without ever answering. `None` while it is worth asking.
    pub(crate) fn gave_up(&self) -> Option<CountError> {
        if self.answered.load(Ordering::Relaxed)
            || self.failures.load(Ordering::Relaxed) < GIVE_UP_AFTER
        {
            return None;
        }
        let last = self.last_error.lock().ok().and_then(|e| e.clone());
        Some(CountError::GaveUp {
            last: last.unwrap_or_default(),
        })
    }

    /// Takes note of one answer.
    pub(crate) fn note<T>(&self, result: &Result<T, CountError>) {
        match result {
            Ok(_) => {
                self.answered.store(true, Ordering::Relaxed);
                self.failures.store(0, Ordering::Relaxed);
            }
            Err(e) => {
                self.failures.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut last) = self.last_error.lock() {
                    *last = Some(e.to_string());
                }
            }
        }
    }
}

/// Progress of a long count on standard error: nothing for the first
/// seconds, then every few seconds how many are done and an estimate of
/// the time left.
#[derive(Debug)]
pub(crate) struct CountProgress {
    total: usize,
    done: AtomicUsize,
    started: Instant,
    last_shown: Mutex<Instant>,
    quiet: bool,
}

/// A count shorter than this says nothing.
const SHOW_AFTER: Duration = Duration::from_secs(2);
/// How often a long count says where it is.
const SHOW_EVERY: Duration = Duration::from_secs(2);

impl CountProgress {
    pub(crate) fn new(total: usize, quiet: bool) -> CountProgress {
        let now = Instant::now();
        CountProgress {
            total,
            done: AtomicUsize::new(0),
            started: now,
            last_shown: Mutex::new(now),
            quiet,
        }
    }

    /// One more counted; shows the progress line when it is time.
    pub(crate) fn step(&self) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        if self.quiet || self.started.elapsed() < SHOW_AFTER {
            return;
        }
        let Ok(mut last) = self.last_shown.lock() else {
            return;
        };
        if last.elapsed() < SHOW_EVERY && done < self.total {
            return;
        }
        *last = Instant::now();
        eprintln!("{}", self.line(done, self.started.elapsed()));
    }

    /// "counting tokens: 12000/157004 (8%), about 14s left".
    pub(crate) fn line(&self, done: usize, elapsed: Duration) -> String {
        let share = done as f64 / self.total.max(1) as f64;
        let left = match done {
            0 => "time left unknown".to_string(),
            _ => {
                let seconds = elapsed.as_secs_f64() * (self.total - done.min(self.total)) as f64
                    / done as f64;
                format!("about {:.0}s left", seconds.ceil())
            }
        };
        format!(
            "counting tokens: {done}/{} ({:.0}%), {left}",
            self.total,
            share * 100.0
        )
    }
}

pub(crate) use crate::util::map_parallel;

/// One response's output tokens with a local tokenizer, and how many each
/// chunk (of `chunk_chars` characters) completed — empty when the counter
/// cannot place its tokens (the heuristic).
pub(crate) fn count_response(
    counter: &dyn super::TokenCounter,
    text: &str,
    chunk_chars: &[u32],
) -> (Result<u64, CountError>, Vec<u32>) {
    match counter.token_ends(text) {
        Ok(Some(ends)) => {
            let per_chunk = super::attribute::tokens_per_chunk(text, chunk_chars, &ends);
            (Ok(ends.len() as u64), per_chunk)
        }
        Ok(None) => (
            counter
                .count(text)
                .map(|n| n as u64)
                .map_err(CountError::from),
            Vec::new(),
        ),
        Err(e) => (Err(e.into()), Vec::new()),
    }
}

/// Threads for counting: every core.
pub(crate) fn counting_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http_error(reason: &str) -> CountError {
        CountError::Tokenizer(crate::tokenize::TokenizeError::Http {
            spec: "llamacpp".into(),
            url: "http://127.0.0.1:1/tokenize".into(),
            reason: reason.into(),
        })
    }

    #[test]
    fn a_source_that_never_answers_is_given_up_after_three_failures() {
        let guard = SourceGuard::default();
        for _ in 0..GIVE_UP_AFTER - 1 {
            guard.note::<u64>(&Err(http_error("HTTP 404: not found")));
            assert!(guard.gave_up().is_none());
        }
        guard.note::<u64>(&Err(http_error("HTTP 404: not found")));
        let why = guard.gave_up().expect("given up");
        assert!(matches!(why, CountError::GaveUp { .. }), "{why:?}");
        assert!(
            why.to_string()
                .contains("3 times in a row (tokenizer spec `llamacpp`: request to"),
            "{why}"
        );
        assert!(
            why.to_string().ends_with("failed: HTTP 404: not found)"),
            "{why}"
        );
    }

    #[test]
    fn a_source_that_has_answered_is_asked_again_after_failures() {
        let guard = SourceGuard::default();
        guard.note(&Ok(5u64));
        for _ in 0..10 {
            guard.note::<u64>(&Err(http_error("timeout")));
        }
        assert!(
            guard.gave_up().is_none(),
            "a passing fault, not a missing endpoint"
        );
    }

    #[test]
    fn the_progress_line_estimates_the_time_left() {
        let progress = CountProgress::new(1000, true);
        let line = progress.line(250, Duration::from_secs(5));
        assert_eq!(line, "counting tokens: 250/1000 (25%), about 15s left");
    }

    #[test]
    fn parallel_results_keep_the_items_order() {
        let items: Vec<u64> = (0..1000).collect();
        let squares = map_parallel(&items, 4, |&x| x * x);
        assert_eq!(squares, items.iter().map(|x| x * x).collect::<Vec<_>>());
    }
}
