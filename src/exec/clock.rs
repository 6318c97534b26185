//! The one clock of one request. Every stamp of a request — response head
//! (ttfb), each chunk, the end — is an offset from t0 on a single clock: the
//! kernel's receive stamps (`SO_TIMESTAMPNS`, CLOCK_REALTIME) when the
//! socket gives them, with t0 read on that same clock, else the monotonic
//! `Instant`. Mixing the two (a head stamped after parsing on `Instant`,
//! chunks stamped by the kernel) made ttfb come after ttft and, through
//! the conversion between clocks, chunk gaps negative. Each stamp is also
//! held to be no earlier than the one before it, so a stream's stamps are
//! monotonic whatever the clocks do.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A kernel stamp further than this from the monotonic clock's reading is
/// not trusted (the wall clock was stepped during the request).
const STEP: Duration = Duration::from_secs(1);

/// Which clock a request's stamps are read on (chosen at its first stamp).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// Not chosen yet.
    Undecided,
    /// Kernel receive stamps (and CLOCK_REALTIME where a read has none).
    Kernel,
    /// The monotonic clock when bytes were handed to llmbench.
    Monotonic,
}

/// t0 on both clocks, the chosen clock and the latest stamp.
#[derive(Debug, Clone)]
pub(super) struct RequestClock {
    t0: Instant,
    /// CLOCK_REALTIME at t0, since the Unix epoch.
    t0_real: Duration,
    source: Source,
    last: Duration,
}

impl RequestClock {
    /// t0 is now.
    pub(super) fn start() -> RequestClock {
        let t0 = Instant::now();
        RequestClock {
            t0,
            t0_real: since_epoch(),
            source: Source::Undecided,
            last: Duration::ZERO,
        }
    }

    /// t0 on the monotonic clock (for ordering requests within a run).
    pub(super) fn t0(&self) -> Instant {
        self.t0
    }

    /// Whether this request's stamps are the kernel's.
    #[cfg(test)]
    pub(super) fn on_kernel_clock(&self) -> bool {
        self.source == Source::Kernel
    }

    /// The offset from t0 of bytes that arrived now, or at `kernel` (the
    /// socket's receive stamp of the read, CLOCK_REALTIME since the epoch).
    /// The first stamp chooses the request's clock: the kernel's when it
    /// carries one. Never earlier than the previous stamp.
    pub(super) fn arrival(&mut self, kernel: Option<Duration>) -> Duration {
        let elapsed = self.t0.elapsed();
        if self.source == Source::Undecided {
            self.source = match kernel {
                Some(_) => Source::Kernel,
                None => Source::Monotonic,
            };
        }
        let offset = match self.source {
            Source::Kernel => {
                let real = kernel.unwrap_or_else(since_epoch);
                let offset = real.saturating_sub(self.t0_real);
                if offset > elapsed + STEP || offset + STEP < elapsed {
                    elapsed
                } else {
                    offset
                }
            }
            _ => elapsed,
        };
        self.last = self.last.max(offset);
        self.last
    }

    /// The latest stamp (zero before any): when the last bytes arrived.
    pub(super) fn last(&self) -> Duration {
        self.last
    }
}

fn since_epoch() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_stamps_are_read_against_t0_on_the_same_clock() {
        let mut clock = RequestClock::start();
        let head = clock.t0_real + Duration::from_micros(300);
        assert_eq!(clock.arrival(Some(head)), Duration::from_micros(300));
        assert!(clock.on_kernel_clock());
        let chunk = clock.t0_real + Duration::from_micros(450);
        assert_eq!(clock.arrival(Some(chunk)), Duration::from_micros(450));
    }

    #[test]
    fn stamps_never_go_back() {
        let mut clock = RequestClock::start();
        let later = clock.t0_real + Duration::from_micros(500);
        let earlier = clock.t0_real + Duration::from_micros(200);
        assert_eq!(clock.arrival(Some(later)), Duration::from_micros(500));
        assert_eq!(clock.arrival(Some(earlier)), Duration::from_micros(500));
        assert_eq!(clock.last(), Duration::from_micros(500));
    }

    #[test]
    fn without_kernel_stamps_the_request_stays_on_the_monotonic_clock() {
        let mut clock = RequestClock::start();
        let first = clock.arrival(None);
        assert!(!clock.on_kernel_clock());
        // A kernel stamp later in the request does not switch clocks.
        let stamp = clock.t0_real + Duration::from_secs(0);
        assert!(clock.arrival(Some(stamp)) >= first);
    }

    #[test]
    fn a_stamp_from_a_stepped_wall_clock_is_not_trusted() {
        let mut clock = RequestClock::start();
        let stepped = clock.t0_real + Duration::from_secs(3600);
        assert!(clock.arrival(Some(stepped)) < Duration::from_secs(1));
    }
}
