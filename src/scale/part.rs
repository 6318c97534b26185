//! The part of a run this process does, as the exec pipeline sees it:
//! which part of the plan it runs and where (a shard: `plan::shard`),
//! whether it continues a stored run (`--resume`, or a shard directory that
//! exists: a requeued Slurm task, a restarted pod), the common start, and the
//! after-run files a resume adds to instead of replacing. A plain run is the
//! whole of itself (`Part::default`).

use super::resume::{self, Continuation, Prepared};
use super::start;
use super::ScaleError;
use crate::experiment::Experiment;
use crate::plan::shard::{shard_plan, Split};
use crate::plan::shard_env::{Placement, ShardFlags};
use crate::plan::Plan;
use crate::quality::CheckRecord;
use crate::record::TokenRecord;
use crate::store::{RunDir, RunManifest, RunStatus, StoreError, MANIFEST_FILE};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

/// What the command line says about this run's part.
#[derive(Debug, Clone, Default)]
pub(crate) struct PartFlags {
    pub shard: ShardFlags,
    pub split: Split,
    /// `--start-at`, RFC 3339.
    pub start_at: Option<String>,
    pub barrier: Option<PathBuf>,
    /// Where run directories go.
    pub out: PathBuf,
}

/// This run's place among shards, and the stored run it continues.
#[derive(Debug, Default)]
pub struct Part {
    placement: Option<Placement>,
    split: Split,
    continuation: Option<Continuation>,
    start_at: Option<jiff::Timestamp>,
    barrier: Option<PathBuf>,
    /// A new shard's run directory.
    shard_dir: Option<RunDir>,
    /// The continued run, repaired, with what is left of it.
    prepared: std::cell::RefCell<Option<Prepared>>,
}

impl Part {
    /// The part `flags` (and the engine's environment) ask for, or the rest
    /// of `continuation`.
    pub(crate) fn new(
        experiment: &Experiment,
        flags: &PartFlags,
        continuation: Option<Continuation>,
    ) -> Result<Part, ScaleError> {
        let start_at = flags
            .start_at
            .as_deref()
            .map(start::parse_start)
            .transpose()?;
        let mut sharding = Part {
            placement: None,
            split: flags.split,
            continuation,
            start_at,
            barrier: flags.barrier.clone(),
            shard_dir: None,
            prepared: std::cell::RefCell::new(None),
        };
        if let Some(stored) = &sharding.continuation {
            // A resumed shard stays the shard it was, whatever the flags say.
            if let Some(facts) = &stored.manifest.shard {
                sharding.split = facts.split;
                sharding.placement = Some(Placement {
                    shard: crate::plan::shard::Shard::new(facts.index, facts.count)?,
                    launch: facts.launch.clone(),
                    engine: facts.engine,
                });
            }
        } else {
            sharding.placement = super::this_shard(&flags.shard)?;
            sharding.shard_dir = sharding
                .placement
                .as_ref()
                .map(|p| super::shard_dir(&flags.out, &experiment.name, p));
            sharding.continuation = sharding.existing_shard()?;
        }
        if let Some(stored) = &sharding.continuation {
            resume::check_experiment(stored, &experiment.source.text)?;
            sharding.prepared = std::cell::RefCell::new(Some(resume::prepare(stored)?));
        }
        Ok(sharding)
    }

    /// A shard whose directory holds a run already continues it.
    fn existing_shard(&self) -> Result<Option<Continuation>, ScaleError> {
        let (Some(placement), Some(run)) = (&self.placement, &self.shard_dir) else {
            return Ok(None);
        };
        if !run.file(MANIFEST_FILE).is_file() || !run.file(crate::store::PLAN_FILE).is_file() {
            return Ok(None);
        }
        eprintln!(
            "shard {} of launch {} ran here before: resuming {}",
            placement.shard,
            placement.launch,
            run.path.display()
        );
        Ok(Some(resume::open(&run.path)?))
    }

    /// A resumed run that completed with every request stored: nothing is
    /// to be sent (its reports may be rendered again from the records).
    pub(crate) fn complete_already(&self) -> Option<&Continuation> {
        let stored = self.continuation.as_ref()?;
        let left = self
            .prepared
            .borrow()
            .as_ref()
            .map(|p| p.remaining.requests(&stored.plan));
        (stored.manifest.status == RunStatus::Complete && left == Some(0)).then_some(stored)
    }

    /// The part of the plan this process runs.
    pub(crate) fn plan(&self, plan: Plan) -> Result<Plan, ScaleError> {
        match &self.placement {
            Some(placement) => {
                shard_plan(&plan, placement.shard, self.split).map_err(ScaleError::from)
            }
            None => Ok(plan),
        }
    }

    /// Whether this continues a stored run (`exec --resume`).
    pub(crate) fn is_resume(&self) -> bool {
        self.continuation.is_some()
    }

    /// The run directory when it is not a new timestamped one: the stored
    /// run, or the shard's own.
    pub(crate) fn run_dir(&self, responses: bool) -> Option<Result<RunDir, StoreError>> {
        if let Some(stored) = &self.continuation {
            return Some(Ok(stored.run.clone()));
        }
        let run = self.shard_dir.clone()?;
        Some(super::create_shard_dir(&run, responses).map(|()| run))
    }

    /// What is left of the stored run this continues, once the plan is
    /// known to be the stored one.
    pub(crate) fn prepare_resume(&self, plan: &Plan) -> Result<Option<Resumed>, ScaleError> {
        let (Some(stored), Some(prepared)) = (&self.continuation, self.prepared.take()) else {
            return Ok(None);
        };
        resume::check_plan(&stored.plan, plan)?;
        let started_at = stored.manifest.started_at.parse().ok();
        Ok(Some(Resumed {
            manifest: stored.manifest.clone(),
            prepared,
            started_at,
        }))
    }

    /// Notes the shard in a new run's manifest.
    pub(crate) fn note(&self, manifest: &mut RunManifest) {
        if manifest.shard.is_some() {
            return;
        }
        if let Some(placement) = &self.placement {
            let started = start::Started::default();
            manifest.shard = Some(super::shard_facts(placement, self.split, &started));
        }
    }

    /// Waits for the common start (not on a resume: the others are long
    /// gone) and notes it in the manifest.
    pub(crate) async fn wait_for_start(
        &self,
        manifest: &mut RunManifest,
        run: &RunDir,
    ) -> Result<(), ScaleError> {
        if self.continuation.is_some() {
            return Ok(());
        }
        let barrier = match (&self.barrier, &self.placement) {
            (Some(dir), Some(placement)) => Some((dir.as_path(), placement)),
            (Some(_), None) => {
                return Err(ScaleError::Input(
                    "--barrier needs shards: --shard K/N (or a Slurm array, an Indexed Job)".into(),
                ))
            }
            _ => None,
        };
        if self.start_at.is_none() && barrier.is_none() {
            return Ok(());
        }
        let started = start::wait(self.start_at, barrier).await?;
        if let Some(facts) = manifest.shard.as_mut() {
            facts.start_at = started.start_at;
            facts.clock_offset_ms = started.clock_offset_ms;
            run.write_json(MANIFEST_FILE, manifest)?;
        }
        Ok(())
    }
}

/// A stored run being continued.
#[derive(Debug)]
pub struct Resumed {
    manifest: RunManifest,
    pub prepared: Prepared,
    started_at: Option<jiff::Timestamp>,
}

impl Resumed {
    /// The stored manifest, running again, with this resume listed.
    pub(crate) fn manifest(&self) -> RunManifest {
        let mut manifest = self.manifest.clone();
        manifest.status = RunStatus::Running;
        manifest.finished_at = None;
        manifest.resumes.push(self.prepared.facts.clone());
        manifest
    }

    /// The run's clock origin moved to when the run first began, so the new
    /// records' offsets continue the stored ones' timeline.
    pub(crate) fn clock_origin(&self) -> Instant {
        let now = Instant::now();
        let Some(started) = self.started_at else {
            return now;
        };
        let elapsed = jiff::Timestamp::now().duration_since(started);
        std::time::Duration::try_from(elapsed)
            .ok()
            .and_then(|d| now.checked_sub(d))
            .unwrap_or(now)
    }
}

/// A resumed run's token counts: the stored ones, with this process's
/// counts replacing those of the same request.
pub(crate) fn with_stored_tokens(
    run: &RunDir,
    resumed: bool,
    counted: Vec<TokenRecord>,
) -> Result<Vec<TokenRecord>, StoreError> {
    if !resumed {
        return Ok(counted);
    }
    let key = |t: &TokenRecord| (t.cell.clone(), t.repetition, t.warmup, t.cold);
    Ok(newest_per_key(run.read_tokens()?, counted, key))
}

/// A resumed run's check results: the stored ones and this process's.
pub(crate) fn with_stored_checks(
    run: &RunDir,
    resumed: bool,
    checks: Vec<CheckRecord>,
) -> Result<Vec<CheckRecord>, StoreError> {
    if !resumed {
        return Ok(checks);
    }
    let key = |c: &CheckRecord| (c.cell.clone(), c.repetition);
    Ok(newest_per_key(run.read_checks()?, checks, key))
}

/// A resumed run's responses to check: this process's, and those from
/// before the crash that were never checked (their texts read back from
/// responses/; without `save_responses` they are gone, and said so).
pub(crate) fn with_unscored(
    run: &RunDir,
    plan: &Plan,
    resumed: bool,
    mut pending: Vec<crate::exec::PendingCheck>,
) -> Result<Vec<crate::exec::PendingCheck>, ScaleError> {
    if !resumed {
        return Ok(pending);
    }
    let mut done: std::collections::HashSet<(String, u32)> = run
        .read_checks()?
        .into_iter()
        .map(|c| (c.cell, c.repetition))
        .collect();
    done.extend(pending.iter().map(|p| (p.cell.clone(), p.repetition)));
    let (found, lost) = resume::unscored(run, plan, &done)?;
    if lost > 0 {
        eprintln!(
            "warning: {lost} response(s) from before the crash cannot be checked: their texts \
             were not saved ([report] save_responses = true keeps them)"
        );
    }
    pending.extend(found);
    Ok(pending)
}

/// `stored` then `new`, one item per key (the newest), in first-seen order.
fn newest_per_key<T, K: std::hash::Hash + Eq>(
    stored: Vec<T>,
    new: Vec<T>,
    key: impl Fn(&T) -> K,
) -> Vec<T> {
    let mut slots: HashMap<K, usize> = HashMap::new();
    let mut out: Vec<T> = Vec::new();
    for item in stored.into_iter().chain(new) {
        match slots.get(&key(&item)) {
            Some(&i) => out[i] = item,
            None => {
                slots.insert(key(&item), out.len());
                out.push(item);
            }
        }
    }
    out
}
