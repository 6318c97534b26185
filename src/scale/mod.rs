//! Runs that outgrow one process: shards of a launch at run time (where a
//! shard's run directory goes, its common start), resuming a killed run,
//! and merging a launch's shards into one run. The pure parts — which cells
//! or which share of the load a shard runs, and the engines' environment —
//! live in `plan::shard` and `plan::shard_env`.

pub(crate) mod merge;
pub(crate) mod part;
pub(crate) mod repair;
pub(crate) mod resume;
pub(crate) mod start;

use crate::plan::shard::Split;
use crate::plan::shard_env::{placement, Placement, ShardFlags};
use crate::store::continuity::ShardFacts;
use crate::store::{RunDir, StoreError};
use std::path::Path;

/// Why a shard, resume or merge cannot go on.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ScaleError {
    /// Bad flags, environment, or runs that do not belong together.
    #[error("{0}")]
    Input(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Shard(#[from] crate::plan::ShardError),
    /// `--start-at` or `--barrier`: a bad time, unreachable storage, or
    /// shards that never came.
    #[error(transparent)]
    Start(#[from] start::StartError),
}

/// This process's shard from the flags and the environment (None: not a shard).
pub(crate) fn this_shard(flags: &ShardFlags) -> Result<Option<Placement>, ScaleError> {
    Ok(placement(flags, |name| std::env::var(name).ok())?)
}

/// The run directory of a shard: `<root>/<experiment>/<launch>-shard-K-of-N`.
pub(crate) fn shard_dir(root: &Path, experiment: &str, placement: &Placement) -> RunDir {
    RunDir {
        path: root
            .join(experiment)
            .join(crate::plan::shard_env::run_name(placement)),
    }
}

/// Creates a shard's run directory (and responses/ when asked).
pub(crate) fn create_shard_dir(run: &RunDir, responses: bool) -> Result<(), StoreError> {
    for dir in [run.path.clone(), run.file(crate::store::RESPONSES_DIR)] {
        if dir == run.path || responses {
            std::fs::create_dir_all(&dir).map_err(|e| StoreError::new(&dir, e))?;
        }
    }
    Ok(())
}

/// What the manifest says about this shard.
pub(crate) fn shard_facts(
    placement: &Placement,
    split: Split,
    started: &start::Started,
) -> ShardFacts {
    ShardFacts {
        index: placement.shard.index,
        count: placement.shard.count,
        split,
        launch: placement.launch.clone(),
        engine: placement.engine,
        host: crate::store::collect_environment().host,
        start_at: started.start_at.clone(),
        clock_offset_ms: started.clock_offset_ms,
    }
}
