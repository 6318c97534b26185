//! The shard contract with job engines: which shard this process is, of how
//! many, in which launch — from `--shard K/N`, else from the environment a
//! Slurm array task or a Kubernetes Indexed Job pod starts with. Pure: the
//! environment comes in as a lookup, so the flags and every engine go
//! through this one function (tests feed it maps).
//!
//! | source | index | count | launch id |
//! |---|---|---|---|
//! | flags | `--shard K/N` | (in it) | `--launch ID` |
//! | Slurm | `SLURM_ARRAY_TASK_ID − SLURM_ARRAY_TASK_MIN` | `SLURM_ARRAY_TASK_COUNT`, or `MAX − MIN + 1` | `SLURM_ARRAY_JOB_ID` |
//! | Kubernetes | `JOB_COMPLETION_INDEX` | `--shards N` or `LLMBENCH_SHARDS` | `LLMBENCH_LAUNCH` |
//!
//! `--launch` wins over `LLMBENCH_LAUNCH`, which wins over the engine's id.

use super::shard::Shard;
use super::ShardError;
use serde::{Deserialize, Serialize};

/// The environment variable that carries the shard count where the engine
/// does not (Kubernetes: set it to the Job's `completions`).
pub(crate) const SHARDS_ENV: &str = "LLMBENCH_SHARDS";
/// The environment variable that names the launch where the engine has no
/// job id of its own (Kubernetes: the Job's name or uid).
pub(crate) const LAUNCH_ENV: &str = "LLMBENCH_LAUNCH";

/// Where the shard came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// `--shard K/N` on the command line.
    Flags,
    /// A Slurm job array task.
    Slurm,
    /// A Kubernetes Indexed Job pod.
    Kubernetes,
}

/// This process's place in a launch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub shard: Shard,
    pub launch: String,
    pub engine: Engine,
}

/// What the command line says about shards.
#[derive(Debug, Clone, Default)]
pub struct ShardFlags {
    pub shard: Option<Shard>,
    pub shards: Option<u32>,
    pub launch: Option<String>,
}

/// This process's placement, or `None` when it is not a shard (no flag and
/// no engine variables).
pub fn placement(
    flags: &ShardFlags,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<Placement>, ShardError> {
    let found = match flags.shard {
        Some(shard) => Some((shard, Engine::Flags)),
        None => from_slurm(&env)?
            .map(|s| (s, Engine::Slurm))
            .or(from_kubernetes(flags.shards, &env)?.map(|s| (s, Engine::Kubernetes))),
    };
    let Some((shard, engine)) = found else {
        if flags.shards.is_some() {
            return Err(ShardError::NoIndex);
        }
        return Ok(None);
    };
    let launch = launch_id(flags, &env, engine)?;
    Ok(Some(Placement {
        shard,
        launch,
        engine,
    }))
}

fn number(
    env: &impl Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<Option<u32>, ShardError> {
    match env(name) {
        None => Ok(None),
        Some(text) => text
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| ShardError::NotANumber { name, text }),
    }
}

/// A Slurm array task: `--array=0-3` gives IDs 0..3, MIN 0, MAX 3, COUNT 4.
fn from_slurm(env: &impl Fn(&str) -> Option<String>) -> Result<Option<Shard>, ShardError> {
    let Some(id) = number(env, "SLURM_ARRAY_TASK_ID")? else {
        return Ok(None);
    };
    let min = number(env, "SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
    let span = number(env, "SLURM_ARRAY_TASK_MAX")?.map(|max| max.saturating_sub(min) + 1);
    let count = match (number(env, "SLURM_ARRAY_TASK_COUNT")?, span) {
        (Some(count), Some(span)) if count != span => {
            return Err(ShardError::SlurmIdsApart {
                count,
                min,
                max: min + span - 1,
            })
        }
        (Some(count), _) | (None, Some(count)) => count,
        (None, None) => return Err(ShardError::SlurmCountMissing),
    };
    let index = id
        .checked_sub(min)
        .ok_or(ShardError::SlurmIdBelowMin { id, min })?;
    Shard::new(index, count)
        .map(Some)
        .map_err(|e| e.in_engine("Slurm array"))
}

/// A Kubernetes Indexed Job pod: the index is set by Kubernetes, the count
/// by the Job's author (`--shards` or `LLMBENCH_SHARDS`).
fn from_kubernetes(
    shards: Option<u32>,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<Option<Shard>, ShardError> {
    let Some(index) = number(env, "JOB_COMPLETION_INDEX")? else {
        return Ok(None);
    };
    let count = match shards {
        Some(count) => count,
        None => number(env, SHARDS_ENV)?.ok_or(ShardError::KubernetesCountMissing { index })?,
    };
    Shard::new(index, count)
        .map(Some)
        .map_err(|e| e.in_engine("Kubernetes Indexed Job"))
}

fn launch_id(
    flags: &ShardFlags,
    env: &impl Fn(&str) -> Option<String>,
    engine: Engine,
) -> Result<String, ShardError> {
    let engine_id = match engine {
        Engine::Slurm => env("SLURM_ARRAY_JOB_ID"),
        _ => None,
    };
    let id = flags
        .launch
        .clone()
        .or_else(|| env(LAUNCH_ENV))
        .or(engine_id)
        .ok_or(ShardError::NoLaunch)?;
    check_launch(&id)?;
    Ok(id)
}

/// Launch ids become part of directory names: letters, digits, `-`, `_`, `.`.
pub(crate) fn check_launch(id: &str) -> Result<(), ShardError> {
    let ok = !id.is_empty()
        && !id.starts_with('.')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(ShardError::BadLaunch(id.to_string()))
    }
}

/// The run directory name of a shard: shards of one launch sort together and
/// `<launch>-shard-*` finds them all.
pub fn run_name(placement: &Placement) -> String {
    format!(
        "{}-shard-{}-of-{}",
        placement.launch, placement.shard.index, placement.shard.count
    )
}

#[cfg(test)]
#[path = "shard_env_tests.rs"]
mod tests;
