//! History across runs: reading many stored runs of one experiment, ordering
//! them by the experiment's git history, and finding where a metric shifted.

pub mod stored;
