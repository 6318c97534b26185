//! Open loop: requests arrive on a schedule (Poisson with a seed, or evenly
//! spaced) whatever the server does. Each request keeps its scheduled time,
//! so the lag between schedule and dispatch is measured and latency can be
//! read from the schedule (no coordinated omission). When `max_in_flight`
//! requests are already out, an arrival is dropped and recorded as such.

use super::{Batch, Job};
use crate::experiment::Arrivals;
use crate::record::{ErrorKind, Outcome, Record, Response};
use crate::rng::SplitMix64;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// Offsets from the start of the cell at which each of `count` requests is due.
pub(crate) fn schedule(count: usize, rate: f64, arrivals: Arrivals, seed: u64) -> Vec<Duration> {
    let mut random = SplitMix64::new(seed);
    let mut at = 0.0_f64;
    (0..count)
        .map(|i| {
            if i > 0 {
                at += match arrivals {
                    Arrivals::Constant => 1.0 / rate,
                    // Inverse transform: -ln(U)/λ is exponential with mean 1/λ.
                    Arrivals::Poisson => -(1.0 - random.unit()).ln() / rate,
                };
            }
            // Validation keeps rates sane; a schedule never panics anyway.
            Duration::try_from_secs_f64(at).unwrap_or(Duration::MAX)
        })
        .collect()
}

/// Dispatches the batch's jobs on `schedule`; records arrive on the returned
/// channel as requests end (dropped arrivals at once).
pub(crate) fn dispatch(
    batch: Arc<Batch>,
    schedule: Vec<Duration>,
    max_in_flight: u32,
    cancel: &watch::Receiver<bool>,
) -> mpsc::UnboundedReceiver<(Record, Response)> {
    let (sender, receiver) = mpsc::unbounded_channel();
    let cancel = cancel.clone();
    tokio::spawn(async move {
        let in_flight = Arc::new(AtomicU32::new(0));
        // A short lead so the first arrival is not already late.
        let start = Instant::now() + Duration::from_millis(5);
        let jobs = (0..schedule.len()).filter_map(|i| batch.jobs.get(i));
        for (job, offset) in jobs.zip(schedule) {
            let due = start + offset;
            tokio::time::sleep_until(due.into()).await;
            if *cancel.borrow() || batch.stopped.load(Ordering::SeqCst) {
                break;
            }
            let job = Job {
                scheduled: Some(due),
                ..job
            };
            if in_flight.load(Ordering::Acquire) >= max_in_flight {
                let _ = sender.send(dropped(&batch, job, max_in_flight));
                continue;
            }
            in_flight.fetch_add(1, Ordering::AcqRel);
            let (batch, sender, in_flight, mut cancel) = (
                batch.clone(),
                sender.clone(),
                in_flight.clone(),
                cancel.clone(),
            );
            tokio::spawn(async move {
                let result = batch.measure(job, &mut cancel).await;
                in_flight.fetch_sub(1, Ordering::AcqRel);
                let _ = sender.send(result);
            });
        }
    });
    receiver
}

/// The record of an arrival that found `max_in_flight` requests already out.
fn dropped(batch: &Batch, job: Job, max_in_flight: u32) -> (Record, Response) {
    let message = format!("not sent: {max_in_flight} requests were already in flight at its scheduled time (raise max_in_flight or lower the rate)");
    let mut record = Record::unsent(
        batch.cell_for(&job),
        job.repetition,
        Outcome::Error {
            kind: ErrorKind::Dropped,
            message,
        },
    );
    // A warmup arrival (warmup = "10s" in open loop) stays a warmup.
    record.warmup = job.warmup;
    record.run_offset_ms = job.scheduled.map_or(0.0, |due| {
        due.saturating_duration_since(batch.context.run_start)
            .as_secs_f64()
            * 1e3
    });
    (record, Response::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_arrivals_are_evenly_spaced() {
        let s = schedule(4, 2.0, Arrivals::Constant, 1);
        assert_eq!(s, [0.0, 0.5, 1.0, 1.5].map(Duration::from_secs_f64));
    }

    #[test]
    fn poisson_arrivals_reproduce_and_have_the_asked_rate() {
        let a = schedule(20_000, 50.0, Arrivals::Poisson, 7);
        assert_eq!(
            a,
            schedule(20_000, 50.0, Arrivals::Poisson, 7),
            "same seed, same schedule"
        );
        assert_ne!(a, schedule(20_000, 50.0, Arrivals::Poisson, 8));
        let rate = (a.len() - 1) as f64 / a.last().map_or(1.0, Duration::as_secs_f64);
        assert!((rate - 50.0).abs() < 1.5, "achieved rate {rate}");
        let gaps: Vec<f64> = a.windows(2).map(|w| (w[1] - w[0]).as_secs_f64()).collect();
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        let sd = (gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64).sqrt();
        assert!(
            (sd / mean - 1.0).abs() < 0.05,
            "exponential gaps have cv 1, got {}",
            sd / mean
        );
        assert!(a.windows(2).all(|w| w[0] <= w[1]), "non-decreasing");
    }
}
