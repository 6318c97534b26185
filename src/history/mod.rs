//! History across runs (`llmbench history`): reading many stored runs of an
//! experiment (`collect`), ordering them by the experiment's git history,
//! following each cell's and model's metrics (`metrics`) and finding where
//! a series shifted (`changepoint`); `render` and `html` write the result.
//! Nothing here joins cells whose definition changed: a cell's series is
//! keyed by its id, which hashes everything that changes what is sent.

pub mod changepoint;
pub mod collect;
pub mod html;
pub mod metrics;
pub(crate) mod render;
pub(crate) mod stored;

use changepoint::Settings;
use collect::{Collected, CommitInfo, RunInfo, SeriesKind, SeriesMeta};
use metrics::{Better, Estimate, METRICS};
use serde::Serialize;
use std::collections::BTreeMap;

/// The analysed history: what every output format renders.
#[derive(Debug, Serialize)]
pub struct History {
    /// Runs in history order (commit time, then start time).
    pub runs: Vec<RunInfo>,
    /// What changed between neighbouring runs besides the code, and cells
    /// whose definition changed.
    pub notes: Vec<Note>,
    pub series: Vec<Series>,
    pub change_points: Vec<Change>,
    /// Runs that could not be read, and why.
    pub skipped: Vec<String>,
    pub alpha: f64,
    pub min_change: f64,
}

/// Something that changed at a run.
#[derive(Debug, Clone, Serialize)]
pub struct Note {
    /// Index into `runs`.
    pub run: usize,
    pub text: String,
}

/// One cell's or model's metrics over the runs.
#[derive(Debug, Serialize)]
pub struct Series {
    #[serde(flatten)]
    pub meta: SeriesMeta,
    pub metrics: Vec<MetricSeries>,
}

#[derive(Debug, Serialize)]
pub struct MetricSeries {
    pub metric: &'static str,
    pub unit: &'static str,
    pub better: Better,
    pub points: Vec<Point>,
}

#[derive(Debug, Serialize)]
pub struct Point {
    /// Index into `runs`.
    pub run: usize,
    #[serde(flatten)]
    pub estimate: Estimate,
}

/// A change point: where a series shifted, at which commit, by how much.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub kind: SeriesKind,
    /// Cell id or model name.
    pub id: String,
    pub experiment: String,
    pub label: String,
    pub prompt: String,
    pub metric: &'static str,
    pub unit: &'static str,
    /// The first run after the change (index into `runs`).
    pub run: usize,
    pub commit: Option<CommitInfo>,
    /// Medians before and after (back to the neighbouring change points).
    pub before: f64,
    pub after: f64,
    /// (after − before) / before, or after − before for rates (`absolute`).
    pub change: f64,
    pub change_low: f64,
    pub change_high: f64,
    pub absolute: bool,
    pub p_value: f64,
    pub regression: bool,
    /// The series' last change point: the newest run is on its far side.
    pub latest: bool,
}

/// Rates change by percentage points, everything else by a fraction of itself.
fn is_rate(unit: &str) -> bool {
    unit.is_empty()
}

/// Analyses what `collect` read.
pub fn analyse(collected: Collected, settings: &Settings) -> History {
    let mut notes = neighbour_notes(&collected.runs);
    notes.extend(definition_notes(&collected));
    notes.sort_by_key(|n| n.run);
    let mut change_points = Vec::new();
    let mut series = Vec::new();
    for data in collected.series {
        let metrics: Vec<MetricSeries> = METRICS
            .iter()
            .enumerate()
            .map(|(m, def)| MetricSeries {
                metric: def.name,
                unit: def.unit,
                better: def.better(),
                points: data
                    .points
                    .iter()
                    .filter_map(|(run, values)| {
                        Some(Point {
                            run: *run,
                            estimate: values[m]?,
                        })
                    })
                    .collect(),
            })
            .filter(|s| !s.points.is_empty())
            .collect();
        for metric in &metrics {
            change_points.extend(changes_of(&data.meta, metric, &collected.runs, settings));
        }
        series.push(Series {
            meta: data.meta,
            metrics,
        });
    }
    History {
        runs: collected.runs,
        notes,
        series,
        change_points,
        skipped: collected.skipped,
        alpha: settings.alpha,
        min_change: settings.min_change,
    }
}

fn changes_of(
    meta: &SeriesMeta,
    metric: &MetricSeries,
    runs: &[RunInfo],
    settings: &Settings,
) -> Vec<Change> {
    let values: Vec<f64> = metric.points.iter().map(|p| p.estimate.value).collect();
    let absolute = is_rate(metric.unit);
    let seed = seed_of(&meta.id, metric.metric);
    let found = changepoint::detect(&values, settings, absolute, seed);
    let last = found.len().saturating_sub(1);
    found
        .iter()
        .enumerate()
        .map(|(i, cp)| {
            let run = metric.points[cp.index].run;
            let (change, change_low, change_high) = if absolute {
                (cp.shift, cp.shift_low, cp.shift_high)
            } else {
                cp.relative()
            };
            let worse = match metric.better {
                Better::Lower => cp.shift > 0.0,
                Better::Higher => cp.shift < 0.0,
            };
            Change {
                kind: meta.kind,
                id: meta.id.clone(),
                experiment: meta.experiment.clone(),
                label: meta.label.clone(),
                prompt: meta.prompt.clone(),
                metric: metric.metric,
                unit: metric.unit,
                run,
                commit: runs[run].commit.clone(),
                before: cp.before,
                after: cp.after,
                change,
                change_low,
                change_high,
                absolute,
                p_value: cp.p_value,
                regression: worse,
                latest: i == last,
            }
        })
        .collect()
}

/// A fixed seed per series and metric, so the permutations and the answer
/// are the same every time.
fn seed_of(id: &str, metric: &str) -> u64 {
    id.bytes()
        .chain(metric.bytes())
        .fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        })
}

/// Facts that differ between each run and the one before it (same experiment).
fn neighbour_notes(runs: &[RunInfo]) -> Vec<Note> {
    let mut notes = Vec::new();
    let mut previous: BTreeMap<&str, &RunInfo> = BTreeMap::new();
    for (i, run) in runs.iter().enumerate() {
        if let Some(before) = previous.get(run.experiment.as_str()) {
            for (fact, value) in &run.facts {
                let old = before.facts.get(fact).map(String::as_str).unwrap_or("");
                if old != value {
                    notes.push(Note {
                        run: i,
                        text: format!(
                            "{}: {fact} {} → {}",
                            run.experiment,
                            shown(old),
                            shown(value)
                        ),
                    });
                }
            }
        }
        previous.insert(&run.experiment, run);
    }
    notes
}

fn shown(value: &str) -> &str {
    if value.is_empty() {
        "(none)"
    } else {
        value
    }
}

/// Cells that would be the same (model, prompt, matrix, load) but whose id
/// changed: their definition changed, so their series are kept apart.
fn definition_notes(collected: &Collected) -> Vec<Note> {
    let mut by_definition: BTreeMap<(&str, &str), Vec<(usize, &str)>> = BTreeMap::new();
    for data in collected
        .series
        .iter()
        .filter(|s| s.meta.kind == SeriesKind::Cell)
    {
        let first = data.points.first().map_or(0, |p| p.0);
        by_definition
            .entry((&data.meta.experiment, &data.meta.definition))
            .or_default()
            .push((first, &data.meta.id));
    }
    let mut notes = Vec::new();
    for ((experiment, _), mut ids) in by_definition {
        ids.sort();
        for pair in ids.windows(2) {
            notes.push(Note {
                run: pair[1].0,
                text: format!(
                    "{experiment}: cell {} became {}: its definition changed (prompt text, settings or options), so the two are separate series",
                    pair[0].1, pair[1].1
                ),
            });
        }
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::collect::{SeriesData, SeriesKind, SeriesMeta};
    use super::*;

    fn run(i: usize, host: &str) -> RunInfo {
        RunInfo {
            dir: format!("runs/{i}").into(),
            run_id: format!("r{i}"),
            experiment: "exp".into(),
            started_at: format!("2026-01-01T00:00:{i:02}Z"),
            commit: None,
            dirty: false,
            facts: [("host", host.to_string())].into_iter().collect(),
        }
    }

    fn cell(id: &str, runs: std::ops::Range<usize>) -> SeriesData {
        let value = |v| {
            Some(Estimate {
                value: v,
                low: None,
                high: None,
            })
        };
        SeriesData {
            meta: SeriesMeta {
                kind: SeriesKind::Cell,
                id: id.into(),
                experiment: "exp".into(),
                model: "m".into(),
                label: "m".into(),
                prompt: "p".into(),
                definition: "m|p".into(),
            },
            points: runs
                .map(|r| {
                    (
                        r,
                        METRICS
                            .iter()
                            .map(|_| value(100.0 + r as f64 % 2.0))
                            .collect(),
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn a_changed_definition_and_a_new_host_are_noted_and_never_joined() {
        let runs = (0..8)
            .map(|i| run(i, if i < 5 { "a" } else { "b" }))
            .collect();
        let collected = Collected {
            runs,
            series: vec![cell("m.p.11111111", 0..4), cell("m.p.22222222", 4..8)],
            skipped: vec![],
        };
        let history = analyse(collected, &Settings::default());
        assert_eq!(history.series.len(), 2, "two ids, two series");
        let notes: Vec<(usize, &str)> = history
            .notes
            .iter()
            .map(|n| (n.run, n.text.as_str()))
            .collect();
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert_eq!(notes[0].0, 4);
        assert!(
            notes[0].1.contains("m.p.11111111 became m.p.22222222"),
            "{notes:?}"
        );
        assert_eq!(notes[1], (5, "exp: host a → b"));
        assert!(history.change_points.is_empty());
    }
}
