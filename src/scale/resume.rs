//! `llmbench exec --resume RUN_DIR`: picks a killed run up where it
//! stopped. The experiment must be the one the run was made from (its
//! sha256; a changed file is refused with the lines that differ, a changed
//! plan with the cells). The `.jsonl` files are repaired (`repair`), then the
//! stored records say what is left: per cell the measured repetitions that
//! never completed (a cancelled request did not complete), per model the
//! cold starts. Records a resume replaces — cancelled requests, the warmups
//! of cells that restart, the records of a timed cell cut short — move to
//! superseded.jsonl, so requests.jsonl ends with exactly the plan's requests.

use super::repair::{repair_run, replace};
use super::ScaleError;
use crate::exec::{CellTodo, Remaining};
use crate::plan::{Cell, Plan};
use crate::record::{ErrorKind, Outcome, Record};
use crate::store::continuity::{Repair, ResumeFacts};
use crate::store::{RunDir, RunManifest, EXPERIMENT_FILE, REQUESTS_FILE};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Records a resume replaced, kept here (one JSON line each).
pub(crate) const SUPERSEDED_FILE: &str = "superseded.jsonl";

/// A stored run about to be continued.
#[derive(Debug)]
pub(crate) struct Continuation {
    pub run: RunDir,
    pub manifest: RunManifest,
    pub plan: Plan,
}

/// Opens a run directory to resume.
pub(crate) fn open(dir: &Path) -> Result<Continuation, ScaleError> {
    let run = RunDir::open(dir)?;
    let manifest = run.read_manifest()?;
    if !run.file(crate::store::PLAN_FILE).is_file() {
        return Err(ScaleError::Input(format!(
            "{}: the run stopped before its plan was written, so nothing was sent; start it again",
            dir.display()
        )));
    }
    let plan = run.read_plan()?;
    Ok(Continuation {
        run,
        manifest,
        plan,
    })
}

/// The experiment file to load: the one given, else the one the run was made from.
pub(crate) fn experiment_path(
    continuation: &Continuation,
    files: &[String],
) -> Result<PathBuf, ScaleError> {
    match files {
        [] => {
            let path = PathBuf::from(&continuation.manifest.experiment_path);
            if path.is_file() {
                Ok(path)
            } else {
                Err(ScaleError::Input(format!(
                    "the run was made from {}, which is not there from here: run from the \
                     directory the run started in, or name the file: llmbench exec FILE --resume {}",
                    path.display(),
                    continuation.run.path.display()
                )))
            }
        }
        [one] => Ok(PathBuf::from(one)),
        _ => Err(ScaleError::Input(
            "--resume continues one run: give at most one experiment file".into(),
        )),
    }
}

/// Refuses an experiment file that is not the one the run was made from,
/// naming the lines that differ.
pub(crate) fn check_experiment(continuation: &Continuation, text: &str) -> Result<(), ScaleError> {
    if sha256_hex(text) == continuation.manifest.experiment_sha256 {
        return Ok(());
    }
    let stored = std::fs::read_to_string(continuation.run.file(EXPERIMENT_FILE))
        .map_err(|e| crate::store::StoreError::new(&continuation.run.file(EXPERIMENT_FILE), e))?;
    let stored: Vec<&str> = stored
        .lines()
        .filter(|l| !l.starts_with("# llmbench exec --set "))
        .collect();
    let now: Vec<&str> = text.lines().collect();
    Err(ScaleError::Input(format!(
        "the experiment file changed since the run began ({}); a resumed run must send what \
         it set out to. Restore the file, or start a new run.\n{}",
        continuation.manifest.experiment_path,
        line_diff(&stored, &now)
    )))
}

/// The experiment file's sha256, as the manifest keeps it.
pub(crate) fn sha256_hex(text: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The first few lines that differ, as `line N: - old / + new`.
fn line_diff(old: &[&str], new: &[&str]) -> String {
    let mut out = Vec::new();
    for i in 0..old.len().max(new.len()) {
        let (a, b) = (old.get(i), new.get(i));
        if a != b {
            out.push(format!(
                "  line {}: - {}\n  line {}: + {}",
                i + 1,
                a.unwrap_or(&"(none)"),
                i + 1,
                b.unwrap_or(&"(none)")
            ));
        }
        if out.len() == 5 {
            out.push("  ...".into());
            break;
        }
    }
    out.join("\n")
}

/// Refuses a plan that is not the stored one (a prompt file or a tokenizer
/// changed under the same experiment file), naming the cells.
pub(crate) fn check_plan(stored: &Plan, now: &Plan) -> Result<(), ScaleError> {
    let ids = |plan: &Plan| {
        plan.cells
            .iter()
            .map(|c| c.id.clone())
            .collect::<BTreeSet<_>>()
    };
    let (before, after) = (ids(stored), ids(now));
    if before == after && stored.cold_repetitions == now.cold_repetitions {
        return Ok(());
    }
    let gone: Vec<&String> = before.difference(&after).take(5).collect();
    let new: Vec<&String> = after.difference(&before).take(5).collect();
    Err(ScaleError::Input(format!(
        "the plan changed since the run began (a prompt file, dataset or setting it reads): \
         cells no longer planned {gone:?}, cells not in the run {new:?}; start a new run"
    )))
}

/// What a resume found and did to the stored files before sending.
#[derive(Debug)]
pub struct Prepared {
    pub remaining: Remaining,
    pub facts: ResumeFacts,
}

/// Repairs the files, works out what is left and sets aside what it replaces.
pub(crate) fn prepare(continuation: &Continuation) -> Result<Prepared, ScaleError> {
    let repaired: Vec<Repair> = repair_run(&continuation.run)?;
    let (records, _) = continuation.run.read_records()?;
    let complete = continuation.manifest.status == crate::store::RunStatus::Complete;
    let sorted = Sorted::new(&continuation.plan, records, complete);
    let remaining = sorted.remaining(&continuation.plan);
    let superseded = sorted.superseded.len() as u64;
    if superseded > 0 {
        write_superseded(&continuation.run, &sorted.kept, &sorted.superseded)?;
    }
    let facts = ResumeFacts {
        at: jiff::Timestamp::now().to_string(),
        host: crate::store::collect_environment().host,
        llmbench_version: env!("CARGO_PKG_VERSION").to_string(),
        repaired,
        superseded,
        to_send: remaining.requests(&continuation.plan),
        restarted_cells: sorted.restarted as u64,
    };
    Ok(Prepared { remaining, facts })
}

/// A run's records sorted into those kept and those a resume replaces.
struct Sorted {
    kept: Vec<Record>,
    superseded: Vec<Record>,
    /// Measured repetitions that completed, by cell.
    done: HashMap<String, HashSet<u32>>,
    /// Cold starts that completed, by model.
    cold: HashMap<String, HashSet<u32>>,
    /// Timed cells (`[run] duration`) that run again whole.
    rerun_timed: HashSet<String>,
    restarted: usize,
}

fn cancelled(record: &Record) -> bool {
    matches!(
        record.outcome,
        Outcome::Error {
            kind: ErrorKind::Cancelled,
            ..
        }
    )
}

impl Sorted {
    fn new(plan: &Plan, records: Vec<Record>, complete: bool) -> Sorted {
        let rerun_timed = timed_cut_short(plan, &records, complete);
        let mut sorted = Sorted {
            kept: Vec::new(),
            superseded: Vec::new(),
            done: HashMap::new(),
            cold: HashMap::new(),
            rerun_timed,
            restarted: 0,
        };
        let mut warmups = Vec::new();
        for record in records {
            if cancelled(&record) || sorted.rerun_timed.contains(&record.cell) {
                sorted.superseded.push(record);
            } else if record.cold {
                let first = (sorted.cold.entry(record.model.clone()).or_default())
                    .insert(record.repetition);
                sorted.keep_once(first, record);
            } else if record.warmup {
                warmups.push(record);
            } else {
                let first =
                    (sorted.done.entry(record.cell.clone()).or_default()).insert(record.repetition);
                sorted.keep_once(first, record);
            }
        }
        // Warmups stay with cells that are done; a cell that restarts warms up again.
        let restarting: HashSet<String> = plan
            .cells
            .iter()
            .filter(|cell| !missing(cell, sorted.done.get(&cell.id)).is_empty())
            .map(|cell| cell.id.clone())
            .collect();
        for record in warmups {
            if restarting.contains(&record.cell) {
                sorted.superseded.push(record);
            } else {
                sorted.kept.push(record);
            }
        }
        sorted.restarted = plan
            .cells
            .iter()
            .filter(|c| restarting.contains(&c.id) && sorted.done.contains_key(&c.id))
            .count();
        sorted
    }

    fn keep_once(&mut self, first: bool, record: Record) {
        if first {
            self.kept.push(record);
        } else {
            self.superseded.push(record);
        }
    }

    fn remaining(&self, plan: &Plan) -> Remaining {
        let mut remaining = Remaining::default();
        for cell in &plan.cells {
            let done = self.done.get(&cell.id);
            if done.is_none() || self.rerun_timed.contains(&cell.id) {
                continue; // runs whole
            }
            let todo = match missing(cell, done) {
                reps if reps.is_empty() => CellTodo::Done,
                reps => CellTodo::Measured(reps),
            };
            remaining.cells.insert(cell.id.clone(), todo);
        }
        for model in plan.models() {
            let done = self.cold.get(model);
            let reps = (0..plan.cold_repetitions)
                .filter(|r| !done.is_some_and(|d| d.contains(r)))
                .collect();
            remaining.cold.insert(model.to_string(), reps);
        }
        remaining
    }
}

/// The measured repetitions of `cell` not in `done` (none for a timed cell
/// that has records: it ran to its end).
fn missing(cell: &Cell, done: Option<&HashSet<u32>>) -> Vec<u32> {
    if cell.duration_s.is_some() {
        return if done.is_some() { Vec::new() } else { vec![0] };
    }
    let first = cell.share.as_ref().map_or(0, |s| s.first_repetition);
    (first..first + cell.repetitions)
        .filter(|r| !done.is_some_and(|d| d.contains(r)))
        .collect()
}

/// Timed cells whose window the kill cut short: the last timed cell with
/// records, unless a later cell has records or the run completed.
fn timed_cut_short(plan: &Plan, records: &[Record], complete: bool) -> HashSet<String> {
    if complete {
        return HashSet::new();
    }
    let position: HashMap<&str, usize> = plan
        .cells
        .iter()
        .enumerate()
        .map(|(i, c)| (c.id.as_str(), i))
        .collect();
    let last = records
        .iter()
        .filter_map(|r| position.get(r.cell.as_str()))
        .max();
    match last.map(|&i| &plan.cells[i]) {
        Some(cell) if cell.duration_s.is_some() => HashSet::from([cell.id.clone()]),
        _ => HashSet::new(),
    }
}

/// The measured responses whose prompt has checks, not in `scored`, with
/// their texts from responses/; and how many had no saved text.
pub(crate) fn unscored(
    run: &RunDir,
    plan: &Plan,
    scored: &HashSet<(String, u32)>,
) -> Result<(Vec<crate::exec::PendingCheck>, u64), ScaleError> {
    let cells: HashMap<&str, &Cell> = plan.cells.iter().map(|c| (c.id.as_str(), c)).collect();
    let mut wanted = Vec::new();
    run.for_each_record(|record| {
        let checked = cells
            .get(record.cell.as_str())
            .map(|cell| cell.checks_for(&record.prompt).to_vec())
            .filter(|checks| !checks.is_empty());
        let fresh = !scored.contains(&(record.cell.clone(), record.repetition));
        if let (Some(checks), true) = (checked, fresh && record.outcome.is_ok()) {
            if !record.warmup && !record.cold {
                wanted.push((record.cell, record.repetition, checks));
            }
        }
    })?;
    let mut texts: HashMap<String, HashMap<u32, String>> = HashMap::new();
    let mut found = Vec::new();
    let mut lost = 0;
    for (cell, repetition, checks) in wanted {
        if !texts.contains_key(&cell) {
            texts.insert(cell.clone(), saved_texts(run, &cell));
        }
        match texts.get(&cell).and_then(|t| t.get(&repetition)) {
            Some(text) => found.push(crate::exec::PendingCheck {
                cell,
                repetition,
                checks,
                response: text.clone(),
            }),
            None => lost += 1,
        }
    }
    Ok((found, lost))
}

/// A cell's saved measured responses by repetition (none without responses/).
fn saved_texts(run: &RunDir, cell: &str) -> HashMap<u32, String> {
    #[derive(serde::Deserialize)]
    struct Saved {
        repetition: u32,
        warmup: bool,
        #[serde(default)]
        content: String,
    }
    let path = run
        .file(crate::store::RESPONSES_DIR)
        .join(format!("{cell}.jsonl"));
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter_map(|line| serde_json::from_str::<Saved>(line).ok())
        .filter(|saved| !saved.warmup)
        .map(|saved| (saved.repetition, saved.content))
        .collect()
}

/// Appends the replaced records to superseded.jsonl, then rewrites
/// requests.jsonl with the kept ones (in their order).
fn write_superseded(
    run: &RunDir,
    kept: &[Record],
    superseded: &[Record],
) -> Result<(), ScaleError> {
    let aside = run.file(SUPERSEDED_FILE);
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&aside)
        .map_err(|e| crate::store::StoreError::new(&aside, e))?;
    let mut bytes = Vec::new();
    for record in superseded {
        lines(&mut bytes, record, &aside)?;
    }
    file.write_all(&bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| crate::store::StoreError::new(&aside, e))?;
    let requests = run.file(REQUESTS_FILE);
    let mut bytes = Vec::new();
    for record in kept {
        lines(&mut bytes, record, &requests)?;
    }
    replace(&requests, &bytes)?;
    Ok(())
}

fn lines(out: &mut Vec<u8>, record: &Record, path: &Path) -> Result<(), ScaleError> {
    serde_json::to_writer(&mut *out, record)
        .map_err(|e| crate::store::StoreError::new(path, e.into()))?;
    out.push(b'\n');
    Ok(())
}

#[cfg(test)]
#[path = "resume_tests.rs"]
mod tests;
