//! `llmbench merge`: the shard runs of one launch become one ordinary run.
//! Every shard must be there once, from the same launch and experiment file
//! (else an error names the shard; `--partial` merges what is there and
//! marks the run). Records are copied as they are, with their run offsets
//! moved onto one timeline (each shard's start, corrected by its clock
//! offset where a barrier measured one), so statistics are recomputed from
//! the raw records — percentiles of shards are never averaged — and a
//! `split = load` cell's throughput spans the union of the shards' windows.
//! Each shard's manifest, plan and monitor samples are kept under
//! `shards/<K>/`.

mod overlap;

use super::ScaleError;
use crate::plan::shard::{whole_cell, Split};
use crate::plan::Plan;
use crate::record::Record;
use crate::store::continuity::{MergeFacts, ShardFacts};
use crate::store::{RunDir, RunManifest, RunStatus, StoreError, REQUESTS_FILE, RESPONSES_DIR};
use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Where each shard's own files are kept in the merged run.
pub(crate) const SHARDS_DIR: &str = "shards";

/// A merged run, ready for its reports.
pub(crate) struct Merged {
    pub run: RunDir,
}

/// One shard run, read.
struct Part {
    dir: PathBuf,
    run: RunDir,
    manifest: RunManifest,
    facts: ShardFacts,
    plan: Plan,
}

/// Merges the shard runs in `dirs` into `out`.
pub(crate) fn merge(dirs: &[PathBuf], out: &Path, partial: bool) -> Result<Merged, ScaleError> {
    let mut parts = dirs
        .iter()
        .map(|d| read_part(d))
        .collect::<Result<Vec<_>, _>>()?;
    parts.sort_by_key(|p| p.facts.index);
    let missing = check_parts(&parts, partial)?;
    let run = create_out(out)?;
    let plan = merged_plan(&parts)?;
    let offsets = timeline(&parts);
    let windows = copy_records(&parts, &run, &offsets)?;
    copy_after_run_files(&parts, &run)?;
    keep_shard_files(&parts, &run)?;
    let first = &parts[0];
    let mut manifest = first.manifest.clone();
    let facts = merge_facts(&parts, missing, &windows);
    manifest.run_id = first.facts.launch.clone();
    manifest.started_at = earliest(parts.iter().map(|p| p.manifest.started_at.as_str()));
    manifest.finished_at = Some(latest(
        parts
            .iter()
            .filter_map(|p| p.manifest.finished_at.as_deref()),
    ));
    manifest.status = if facts.missing.is_empty() && all_complete(&parts) {
        RunStatus::Complete
    } else {
        RunStatus::Partial
    };
    manifest.shard = None;
    manifest.resumes = Vec::new();
    manifest.monitor = None;
    manifest.managed_server = None;
    manifest.loaded_models = parts
        .iter()
        .flat_map(|p| p.manifest.loaded_models.clone())
        .collect();
    manifest.merge = Some(facts);
    std::fs::copy(
        first.run.file(crate::store::EXPERIMENT_FILE),
        run.file(crate::store::EXPERIMENT_FILE),
    )
    .map_err(|e| StoreError::new(&run.file(crate::store::EXPERIMENT_FILE), e))?;
    run.write_json(crate::store::PLAN_FILE, &plan)?;
    run.write_json(crate::store::MANIFEST_FILE, &manifest)?;
    print_summary(&manifest);
    Ok(Merged { run })
}

fn read_part(dir: &Path) -> Result<Part, ScaleError> {
    let run = RunDir::open(dir)?;
    let manifest = run.read_manifest()?;
    let facts = manifest.shard.clone().ok_or_else(|| {
        ScaleError::Input(format!(
            "{}: not a shard run (its manifest names no shard); merge takes the runs of \
             `llmbench exec --shard K/N`",
            dir.display()
        ))
    })?;
    let plan = run.read_plan()?;
    Ok(Part {
        dir: dir.to_path_buf(),
        run,
        manifest,
        facts,
        plan,
    })
}

/// Every shard from one launch and one experiment, each once, none missing
/// (unless `partial`); returns the missing indexes.
fn check_parts(parts: &[Part], partial: bool) -> Result<Vec<u32>, ScaleError> {
    let Some(first) = parts.first() else {
        return Err(ScaleError::Input(
            "merge needs at least one shard run".into(),
        ));
    };
    let bad = |part: &Part, what: String| {
        Err(ScaleError::Input(format!("{}: {what}", part.dir.display())))
    };
    for part in &parts[1..] {
        if part.facts.launch != first.facts.launch {
            return bad(
                part,
                format!(
                    "from launch {}, not {} (of {})",
                    part.facts.launch,
                    first.facts.launch,
                    first.dir.display()
                ),
            );
        }
        if part.manifest.experiment_sha256 != first.manifest.experiment_sha256 {
            return bad(
                part,
                format!(
                    "made from another experiment file (sha256 {}…, not {}… of {})",
                    &part.manifest.experiment_sha256.get(..12).unwrap_or(""),
                    &first.manifest.experiment_sha256.get(..12).unwrap_or(""),
                    first.dir.display()
                ),
            );
        }
        if (part.facts.count, part.facts.split) != (first.facts.count, first.facts.split) {
            return bad(
                part,
                format!(
                    "shard of {} with split = {}, not of {} with split = {} like {}",
                    part.facts.count,
                    part.facts.split,
                    first.facts.count,
                    first.facts.split,
                    first.dir.display()
                ),
            );
        }
    }
    for pair in parts.windows(2) {
        if pair[0].facts.index == pair[1].facts.index {
            return Err(ScaleError::Input(format!(
                "shard {} is given twice: {} and {}",
                pair[0].facts.index,
                pair[0].dir.display(),
                pair[1].dir.display()
            )));
        }
    }
    let present: HashSet<u32> = parts.iter().map(|p| p.facts.index).collect();
    let missing: Vec<u32> = (0..first.facts.count)
        .filter(|i| !present.contains(i))
        .collect();
    if !missing.is_empty() && !partial {
        return Err(ScaleError::Input(format!(
            "launch {} has {} shards; shard(s) {missing:?} are missing (pass them too, or \
             --partial to merge what is there, marked partial)",
            first.facts.launch, first.facts.count
        )));
    }
    let unfinished: Vec<String> = parts
        .iter()
        .filter(|p| p.manifest.status != RunStatus::Complete)
        .map(|p| format!("{} ({})", p.dir.display(), p.manifest.status))
        .collect();
    if !unfinished.is_empty() && !partial {
        return Err(ScaleError::Input(format!(
            "shard run(s) not complete: {}; finish them with llmbench exec --resume DIR, or \
             pass --partial",
            unfinished.join(", ")
        )));
    }
    Ok(missing)
}

fn all_complete(parts: &[Part]) -> bool {
    parts
        .iter()
        .all(|p| p.manifest.status == RunStatus::Complete)
}

fn create_out(out: &Path) -> Result<RunDir, ScaleError> {
    if out.join(crate::store::MANIFEST_FILE).exists() {
        return Err(ScaleError::Input(format!(
            "{} holds a run already; merge into a new directory",
            out.display()
        )));
    }
    for dir in [out.to_path_buf(), out.join(RESPONSES_DIR)] {
        std::fs::create_dir_all(&dir).map_err(|e| StoreError::new(&dir, e))?;
    }
    Ok(RunDir {
        path: out.to_path_buf(),
    })
}

/// The launch's whole plan: the shards' cells (whole again under split =
/// load), in plan order.
fn merged_plan(parts: &[Part]) -> Result<Plan, ScaleError> {
    let mut cells = BTreeMap::new();
    for part in parts {
        for cell in &part.plan.cells {
            let whole = whole_cell(cell);
            if let Some(before) = cells.insert(cell.index, whole.clone()) {
                if before.id != whole.id || part.facts.split == Split::Cells {
                    return Err(ScaleError::Input(format!(
                        "{}: cell {} ({}) is in two shards' plans",
                        part.dir.display(),
                        cell.index,
                        cell.id
                    )));
                }
            }
        }
    }
    Ok(Plan {
        cells: cells.into_values().collect(),
        cold_repetitions: parts
            .iter()
            .map(|p| p.plan.cold_repetitions)
            .max()
            .unwrap_or(0),
        ..parts[0].plan.clone()
    })
}

/// Per shard: ms to add to its records' run offsets to put them on the
/// merged timeline (zero at the earliest shard's start, on the storage's
/// clock where shards measured their offset from it).
fn timeline(parts: &[Part]) -> Vec<f64> {
    let starts: Vec<(String, Option<f64>)> = parts
        .iter()
        .map(|p| (p.manifest.started_at.clone(), p.facts.clock_offset_ms))
        .collect();
    shifts(&starts)
}

/// The shifts of shards that started at these times (their own clocks),
/// with these clock offsets from the storage's (ms).
fn shifts(starts: &[(String, Option<f64>)]) -> Vec<f64> {
    let starts: Vec<f64> = starts
        .iter()
        .map(|(at, offset)| {
            let local = at
                .parse::<jiff::Timestamp>()
                .map_or(0.0, |t| t.as_millisecond() as f64);
            local - offset.unwrap_or(0.0)
        })
        .collect();
    let origin = starts.iter().copied().fold(f64::INFINITY, f64::min);
    starts.iter().map(|s| s - origin).collect()
}

/// Copies every shard's records onto the merged timeline; returns each
/// shard's measured window per cell, for the overlap figures.
fn copy_records(
    parts: &[Part],
    run: &RunDir,
    offsets: &[f64],
) -> Result<Vec<overlap::Windows>, ScaleError> {
    let path = run.file(REQUESTS_FILE);
    let file = std::fs::File::create(&path).map_err(|e| StoreError::new(&path, e))?;
    let mut out = std::io::BufWriter::new(file);
    let mut seen: HashSet<(String, u32)> = HashSet::new();
    let mut windows = Vec::new();
    for (part, shift) in parts.iter().zip(offsets) {
        let mut window = overlap::Windows::new();
        let mut error = None;
        let unreadable = part.run.for_each_record(|mut record: Record| {
            record.run_offset_ms += shift;
            if !record.warmup
                && !record.cold
                && !seen.insert((record.cell.clone(), record.repetition))
                && error.is_none()
            {
                error = Some(format!(
                    "{}: cell {} repetition {} was measured by another shard too",
                    part.dir.display(),
                    record.cell,
                    record.repetition
                ));
            }
            if !record.warmup && !record.cold {
                overlap::widen(&mut window, &record);
            }
            let written = serde_json::to_writer(&mut out, &record);
            if written.is_err() || out.write_all(b"\n").is_err() {
                error.get_or_insert_with(|| format!("{}: cannot write", path.display()));
            }
        })?;
        if let Some(error) = error {
            return Err(ScaleError::Input(error));
        }
        if unreadable > 0 {
            return Err(ScaleError::Input(format!(
                "{}: {unreadable} unreadable line(s) in requests.jsonl; repair the shard with \
                 llmbench exec --resume {} first",
                part.dir.display(),
                part.dir.display()
            )));
        }
        windows.push(window);
    }
    out.flush().map_err(|e| StoreError::new(&path, e))?;
    Ok(windows)
}

/// checks.jsonl, tokens.jsonl and responses/: every shard's lines, appended.
fn copy_after_run_files(parts: &[Part], run: &RunDir) -> Result<(), ScaleError> {
    for part in parts {
        for name in [crate::store::CHECKS_FILE, crate::store::TOKENS_FILE] {
            append_file(&part.run.file(name), &run.file(name))?;
        }
        let responses = part.run.file(RESPONSES_DIR);
        for entry in std::fs::read_dir(&responses)
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = entry.file_name();
            append_file(&entry.path(), &run.file(RESPONSES_DIR).join(name))?;
        }
    }
    Ok(())
}

fn append_file(from: &Path, to: &Path) -> Result<(), ScaleError> {
    let bytes = match std::fs::read(from) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(StoreError::new(from, e).into()),
    };
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(to)
        .map_err(|e| StoreError::new(to, e))?;
    file.write_all(&bytes).map_err(|e| StoreError::new(to, e))?;
    Ok(())
}

/// Each shard's manifest, plan, samples and server logs under shards/<K>/.
fn keep_shard_files(parts: &[Part], run: &RunDir) -> Result<(), ScaleError> {
    for part in parts {
        let dir = run.file(SHARDS_DIR).join(part.facts.index.to_string());
        std::fs::create_dir_all(&dir).map_err(|e| StoreError::new(&dir, e))?;
        for entry in std::fs::read_dir(&part.run.path)
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().to_string();
            let kept = name == crate::store::MANIFEST_FILE
                || name == crate::store::PLAN_FILE
                || name == crate::store::SAMPLES_FILE
                || (name.starts_with("server") && name.ends_with(".log"));
            if kept && entry.path().is_file() {
                std::fs::copy(entry.path(), dir.join(&name))
                    .map_err(|e| StoreError::new(&dir.join(&name), e))?;
            }
        }
    }
    Ok(())
}

fn merge_facts(parts: &[Part], missing: Vec<u32>, windows: &[overlap::Windows]) -> MergeFacts {
    let first = &parts[0].facts;
    let base = first.clock_offset_ms;
    MergeFacts {
        launch: first.launch.clone(),
        split: first.split,
        count: first.count,
        shards: parts.iter().map(|p| p.facts.index).collect(),
        missing,
        sources: parts.iter().map(|p| p.dir.display().to_string()).collect(),
        hosts: parts.iter().map(|p| p.facts.host.clone()).collect(),
        clock_offsets_ms: parts
            .iter()
            .map(|p| p.facts.clock_offset_ms.zip(base).map(|(a, b)| a - b))
            .collect(),
        overlap: match first.split {
            Split::Load => overlap::per_cell(windows),
            Split::Cells => Vec::new(),
        },
    }
}

fn earliest<'a>(times: impl Iterator<Item = &'a str>) -> String {
    times
        .min_by_key(|t| t.parse::<jiff::Timestamp>().ok())
        .unwrap_or_default()
        .to_string()
}

fn latest<'a>(times: impl Iterator<Item = &'a str>) -> String {
    times
        .max_by_key(|t| t.parse::<jiff::Timestamp>().ok())
        .unwrap_or_default()
        .to_string()
}

fn print_summary(manifest: &RunManifest) {
    let Some(facts) = &manifest.merge else { return };
    eprintln!(
        "merged {} of {} shard(s) of launch {} (split = {}){}",
        facts.shards.len(),
        facts.count,
        facts.launch,
        facts.split,
        if facts.missing.is_empty() {
            String::new()
        } else {
            format!("; PARTIAL: missing {:?}", facts.missing)
        }
    );
    for (shard, offset) in facts.shards.iter().zip(&facts.clock_offsets_ms) {
        if let Some(offset) = offset {
            eprintln!(
                "  shard {shard}: clock {offset:+.1} ms from shard {}'s",
                facts.shards[0]
            );
        }
    }
    for cell in &facts.overlap {
        eprintln!(
            "  {}: shards overlapped {:.1}% of {:.2} s (starts {:.0} ms apart)",
            cell.cell,
            cell.fraction * 100.0,
            cell.union_s,
            cell.start_spread_ms
        );
    }
}

#[cfg(test)]
#[path = "merge_tests.rs"]
mod tests;
