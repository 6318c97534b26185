//! Experiment files: parsing (`manifest`), checking and resolving into the
//! `Experiment` the planner consumes (`types`).

mod types;
pub use types::*;
