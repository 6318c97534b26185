//! `ShardError`: why a process cannot tell which shard it is, or cannot take
//! its part of a plan. Each variant says what to pass instead; an engine's
//! variables that name a bad shard keep that error as their cause.

use super::shard_env::SHARDS_ENV;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ShardError {
    #[error("`{0}` is not K/N (shard K, 0-based, of N), e.g. --shard 0/4")]
    NotKOfN(String),
    #[error("a launch needs at least 1 shard (N ≥ 1)")]
    NoShards,
    #[error("shard {index} of {count} does not exist: shards are numbered 0 to {}", count - 1)]
    NoSuchShard { index: u32, count: u32 },
    #[error(
        "cell {cell} runs {in_flight} request(s) at once, fewer than the {shards} shards of \
         split = load: use at most {in_flight} shards, or split = cells"
    )]
    TooLittleLoad {
        cell: String,
        in_flight: u32,
        shards: u32,
    },
    #[error("{name}={text} is not a whole number ≥ 0")]
    NotANumber { name: &'static str, text: String },
    #[error(
        "the Slurm array has {count} tasks spread over IDs {min}..={max}: shards need \
         consecutive IDs (--array={min}-{}, no step, no list)", min + count - 1
    )]
    SlurmIdsApart { count: u32, min: u32, max: u32 },
    #[error(
        "SLURM_ARRAY_TASK_ID is set but neither SLURM_ARRAY_TASK_COUNT nor \
         SLURM_ARRAY_TASK_MAX: pass --shard K/N"
    )]
    SlurmCountMissing,
    #[error("SLURM_ARRAY_TASK_ID={id} is below SLURM_ARRAY_TASK_MIN={min}")]
    SlurmIdBelowMin { id: u32, min: u32 },
    #[error(
        "JOB_COMPLETION_INDEX={index} is set but not the shard count: pass --shards N \
         or set {SHARDS_ENV} to the Job's completions"
    )]
    KubernetesCountMissing { index: u32 },
    /// A job engine's variables name a shard that cannot be.
    #[error("{engine}: {source}")]
    Engine {
        engine: &'static str,
        #[source]
        source: Box<ShardError>,
    },
    #[error(
        "--shards N needs this process's index: --shard K/N, or JOB_COMPLETION_INDEX (a \
         Kubernetes Indexed Job), or SLURM_ARRAY_TASK_ID (a Slurm array); none is set"
    )]
    NoIndex,
    #[error(
        "a shard needs a launch id, the same for all shards of this launch: pass --launch ID \
         (or set {})",
        super::shard_env::LAUNCH_ENV
    )]
    NoLaunch,
    #[error("launch id `{0}`: use letters, digits, `-`, `_` and `.` (it names directories)")]
    BadLaunch(String),
}

impl ShardError {
    /// This error as the cause of an engine's bad shard.
    pub(crate) fn in_engine(self, engine: &'static str) -> ShardError {
        ShardError::Engine {
            engine,
            source: Box::new(self),
        }
    }
}
