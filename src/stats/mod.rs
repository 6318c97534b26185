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

pub(crate) use bootstrap::bootstrap_percentile_cis;
pub(crate) use interval::Interval;
pub(crate) use order::{Ordered, INTERVAL_LEVEL, INTERVAL_PERCENTILES};
pub(crate) use outliers::MAD_THRESHOLD;
pub use percentile::percentile;
pub(crate) use rank_interval::percentile_rank_interval;
pub(crate) use sample::Sample;
pub(crate) use summary::Summary;
