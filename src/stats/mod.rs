//! Statistics over samples (pure: no clock, no IO). This module owns the
//! numbers a report prints about a set of measurements: validated samples
//! ([`Sample`]), numpy-compatible percentiles, descriptive summaries with a
//! Student t interval for the mean ([`Summary`]), seeded reproducible
//! bootstrap intervals for medians and tail percentiles, and MAD-based outlier
//! detection ([`Ordered`] computes all of these from owned values ordered
//! in place, for samples of millions). It knows nothing about what was
//! measured.

mod bootstrap;
mod interval;
mod order;
mod outliers;
mod percentile;
mod rank_interval;
mod sample;
mod select;
mod summary;
mod tdist;

pub use bootstrap::{bootstrap_ci, bootstrap_percentile_ci, bootstrap_percentile_cis};
pub use interval::Interval;
pub use order::{Ordered, INTERVAL_LEVEL, INTERVAL_PERCENTILES};
pub use outliers::{outliers_mad, MAD_THRESHOLD};
pub use percentile::percentile;
pub use rank_interval::percentile_rank_interval;
pub use sample::{Sample, StatsError};
pub use summary::{Summary, NOTE_NO_CI, SUMMARY_PERCENTILES};
pub use tdist::{t_critical_95, Z975};
