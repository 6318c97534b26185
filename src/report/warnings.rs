//! Warnings: what makes a run's figures doubtful, in plain words. Each
//! finding has a [`Kind`]; findings of one kind are grouped into one line
//! that lists (or counts) the cells, and the lines are ranked by how much
//! they put the figures in doubt — an incomplete run or a busy machine
//! first, a cosmetic note last — so nine cells do not bury "uncommitted
//! changes" under 25 lines. The per-cell details stay in [`WarningGroup`].

use crate::aggregate::{CellSummary, RunSummary};
use crate::monitor::WindowSummary;
use crate::store::RunManifest;
use serde::Serialize;

/// What a warning is about, in order of how much it puts figures in doubt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Incomplete,
    ServerNotStarted,
    MergedShards,
    StoppedCells,
    TimingViolations,
    BusyMachine,
    ClientBottleneck,
    FailedRequests,
    UnreadableRecords,
    DispatchLag,
    Resends,
    Retries,
    ColdStarts,
    ModelLoads,
    PrefillCache,
    CacheHits,
    TokenMismatch,
    Outliers,
    Sketched,
    NoTokenCounts,
    OneRequest,
    EarlyStops,
    Uncommitted,
    TokensPerChunk,
    HeuristicTokens,
    NoGpu,
}

impl Kind {
    /// The group's line before its cells, e.g. "Requests failed".
    fn headline(self) -> &'static str {
        match self {
            Kind::Incomplete => "The run did not complete",
            Kind::ServerNotStarted => "The server did not start",
            Kind::MergedShards => "Shards are missing or loaded the server apart",
            Kind::StoppedCells => "Cells were stopped",
            Kind::TimingViolations => "Stamps contradict each other",
            Kind::BusyMachine => "The machine was busy with other work",
            Kind::ClientBottleneck => "llmbench itself may have been the bottleneck",
            Kind::FailedRequests => "Requests failed",
            Kind::UnreadableRecords => "Records could not be read",
            Kind::DispatchLag => "Requests went out late",
            Kind::Resends => "Requests were resent",
            Kind::Retries => "Requests were retried",
            Kind::ColdStarts => "Cold starts left out",
            Kind::PrefillCache => "Prefill speed may include the prompt cache",
            Kind::ModelLoads => "Measured requests waited for a model load",
            Kind::CacheHits => "Prompt tokens came from the cache",
            Kind::TokenMismatch => "Token counts disagree",
            Kind::Outliers => "Outliers",
            Kind::Sketched => "Percentiles from a bounded-memory sketch",
            Kind::NoTokenCounts => "No token counts",
            Kind::OneRequest => "One successful request",
            Kind::EarlyStops => "Responses stopped before max_tokens",
            Kind::Uncommitted => "Uncommitted changes",
            Kind::TokensPerChunk => "Chunks carry several tokens",
            Kind::HeuristicTokens => "Output tokens are estimates",
            Kind::NoGpu => "GPU figures are missing",
        }
    }
}

/// One finding: its kind, the cell it concerns (none for run-wide ones)
/// and the sentence.
#[derive(Debug, Clone)]
pub(crate) struct Finding {
    pub kind: Kind,
    pub cell: Option<String>,
    pub text: String,
}

/// The findings of one kind.
#[derive(Debug, Clone, Serialize)]
pub struct WarningGroup {
    pub kind: Kind,
    /// 1 = puts the figures most in doubt.
    pub rank: usize,
    /// The one line shown (also in `warnings`).
    pub summary: String,
    /// The cells concerned (label × prompt · setting); empty for run-wide findings.
    pub cells: Vec<String>,
    /// Each finding's sentence.
    pub details: Vec<String>,
}

/// Cells named in a group's line before the rest are only counted.
const NAMED_CELLS: usize = 3;

/// Groups findings by kind, most doubtful first.
pub(crate) fn group(mut findings: Vec<Finding>) -> Vec<WarningGroup> {
    findings.sort_by_key(|f| f.kind);
    let mut groups: Vec<WarningGroup> = Vec::new();
    // The current group's cells, to name each once (a run of 100,000
    // cells can have a finding in every one: no linear search per finding).
    let mut named: std::collections::HashSet<String> = std::collections::HashSet::new();
    for finding in findings {
        match groups.last_mut().filter(|g| g.kind == finding.kind) {
            Some(group) => {
                if let Some(cell) = finding.cell.filter(|c| named.insert(c.clone())) {
                    group.cells.push(cell);
                }
                group.details.push(finding.text);
            }
            None => groups.push(WarningGroup {
                kind: finding.kind,
                rank: groups.len() + 1,
                summary: String::new(),
                cells: {
                    named.clear();
                    named.extend(finding.cell.clone());
                    finding.cell.into_iter().collect()
                },
                details: vec![finding.text],
            }),
        }
    }
    for group in &mut groups {
        group.summary = summary(group);
    }
    groups
}

/// The group's line: a single finding as it is; several with the cells
/// named (the first few) and counted.
fn summary(group: &WarningGroup) -> String {
    if group.details.len() == 1 {
        return group.details[0].clone();
    }
    let named: Vec<&str> = group
        .cells
        .iter()
        .take(NAMED_CELLS)
        .map(String::as_str)
        .collect();
    let more = group.cells.len().saturating_sub(NAMED_CELLS);
    let tail = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    format!(
        "{} in {} cells: {}{tail}; see the details.",
        group.headline(),
        group.cells.len(),
        named.join("; ")
    )
}

impl WarningGroup {
    fn headline(&self) -> &'static str {
        self.kind.headline()
    }
}

/// Every finding about a run from its manifest and summary (the monitor's
/// come from [`monitor_findings`] once the monitor view is built).
pub(crate) fn findings(manifest: &RunManifest, summary: &RunSummary) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut run = |kind, text: String| {
        out.push(Finding {
            kind,
            cell: None,
            text,
        })
    };
    if manifest.status == crate::store::RunStatus::Running
        && !super::liveness::still_running(manifest)
    {
        run(Kind::Incomplete, "The run stopped without finishing (its llmbench process is gone: killed or crashed); figures cover only the requests recorded.".to_string());
    } else if manifest.status != crate::store::RunStatus::Complete {
        run(
            Kind::Incomplete,
            format!(
                "The run is {}: figures cover only the requests that finished.",
                manifest.status
            ),
        );
    }
    for text in manifest.merge.iter().flat_map(|merge| merge.warnings()) {
        run(Kind::MergedShards, text);
    }
    if let Some(git) = manifest.git.as_ref().filter(|g| g.dirty) {
        run(Kind::Uncommitted, format!("The experiment file had uncommitted changes (on top of commit {}); commit it so the run can be reproduced.", short(&git.commit)));
    }
    if summary.unreadable_records > 0 {
        run(Kind::UnreadableRecords, format!("{} record line(s) in requests.jsonl could not be read (cut short by a crash?) and are left out.", summary.unreadable_records));
    }
    for stopped in &manifest.stopped_cells {
        out.push(Finding {
            kind: Kind::StoppedCells,
            cell: Some(stopped.cell.clone()),
            text: format!(
                "Cell {}: {}; its figures cover only the requests before.",
                stopped.cell, stopped.reason
            ),
        });
    }
    for cell in &summary.cells {
        cell_findings(cell, &mut out);
    }
    for model in &summary.models {
        cold_start_findings(model, &mut out);
    }
    for model in &summary.models {
        let Some(tokens) = &model.tokens else {
            continue;
        };
        if let Some(rate) = tokens.mismatch_rate.filter(|r| *r > 0.05) {
            out.push(Finding {
                kind: Kind::TokenMismatch,
                cell: Some(model.label.clone()),
                text: format!(
                    "{}: the server's token counts and {}'s differ on {:.0}% of responses (mean {:.1} tokens); check the model's tokenizer mapping.",
                    model.label,
                    tokens.local_source.as_deref().unwrap_or("the local tokenizer"),
                    rate * 100.0,
                    tokens.mean_abs_diff.unwrap_or(0.0)
                ),
            });
        }
        if tokens.output_source.as_deref() == Some("heuristic") {
            out.push(Finding {
                kind: Kind::HeuristicTokens,
                cell: Some(model.label.clone()),
                text: format!("{}: output tokens are a heuristic estimate (no tokenizer for this model); per-token figures are approximate.", model.label),
            });
        }
    }
    out
}

/// Cold starts that were not cold, or whose stamps contradict each other.
fn cold_start_findings(model: &crate::aggregate::GroupSummary, out: &mut Vec<Finding>) {
    let Some(cold) = &model.cold_start else {
        return;
    };
    let mut add = |kind, text: String| {
        out.push(Finding {
            kind,
            cell: Some(model.label.clone()),
            text,
        })
    };
    if cold.not_loaded > 0 {
        add(Kind::ColdStarts, format!("{}: {} cold start(s) show no model load (load_duration under {} ms): the model was still loaded when they were sent, so they are left out of the cold-start figures.", model.label, cold.not_loaded, crate::aggregate::COLD_LOAD_MIN_MS));
    }
    if cold.timing_violations > 0 {
        add(Kind::TimingViolations, format!("{}: {} cold start(s) have stamps that contradict each other, so they are left out of the cold-start figures; this is a bug in llmbench or a damaged requests.jsonl — please report it.", model.label, cold.timing_violations));
    }
}

/// "label × prompt · setting": a cell in warnings.
pub(crate) fn cell_name(cell: &CellSummary) -> String {
    let setting = super::table::setting_text(
        cell.load.concurrency.map(u64::from),
        cell.load.rate,
        cell.matrix.iter(),
    );
    let base = format!("{} × {}", cell.label, cell.prompt);
    if setting.is_empty() {
        base
    } else {
        format!("{base} · {setting}")
    }
}

pub(crate) fn cell_findings(cell: &CellSummary, out: &mut Vec<Finding>) {
    let name = cell_name(cell);
    let mut add = |kind, text: String| {
        out.push(Finding {
            kind,
            cell: Some(name.clone()),
            text: format!("{name}: {text}"),
        })
    };
    if cell.counts.failed > 0 {
        let kinds: Vec<String> = cell
            .errors
            .iter()
            .map(|e| format!("{} {}", e.count, e.kind))
            .collect();
        add(
            Kind::FailedRequests,
            format!(
                "{} of {} measured requests failed ({}); see the errors section.",
                cell.counts.failed,
                cell.counts.measured,
                kinds.join(", ")
            ),
        );
    }
    if cell.counts.ok > 0 && !cell.metrics.contains_key("output_tokens") {
        add(Kind::NoTokenCounts, "the server reported no token counts, so per-token figures (tpot, decode_tps) are missing.".into());
    }
    if let Some(load) = cell.metrics.get("load_ms").filter(|s| s.max > 1000.0) {
        add(Kind::ModelLoads, format!("a measured request waited {:.0} ms for a model load; add warmup requests or pin keep_alive so loads stay out of the figures.", load.max));
    }
    if cell.counts.ok == 1 {
        add(
            Kind::OneRequest,
            "one successful request; spread and intervals need at least two (raise run.repetitions)."
                .into(),
        );
    }
    for metric in ["ttft_ms", "e2e_ms"] {
        if let Some(stats) = cell.metrics.get(metric).filter(|s| s.outliers > 0) {
            add(Kind::Outliers, format!("{} outlier(s) in {metric} (modified z-score above 3.5); look them up in requests.jsonl, and re-run or raise run.repetitions before trusting the mean.", stats.outliers));
        }
    }
    let sketched: Vec<&str> = cell
        .metrics
        .iter()
        .filter(|(_, m)| m.relative_error.is_some())
        .map(|(metric, _)| metric.as_str())
        .collect();
    if !sketched.is_empty() {
        add(Kind::Sketched, format!("the percentiles (and their intervals and outlier counts) of {} come from a bounded-memory sketch, too many values to hold: each is within {}% of the exact one; count, mean, stddev, min and max are exact.", sketched.join(", "), crate::aggregate::RELATIVE_ERROR * 100.0));
    }
    let validity = &cell.validity;
    if validity.resends > 0 {
        add(Kind::Resends, format!("{} request(s) were resent after the server closed a kept-alive connection without answering; the server dropped that many requests (counted as ok once the resend succeeded).", validity.resends));
    }
    if validity.retried > 0 {
        add(Kind::Retries, format!("{} request(s) were sent again under [run] retry ({} retries, {} waiting) after the server answered a retried status; each one counts once, with the outcome and timing of its final attempt (retry.total_ms in requests.jsonl includes the waits).", validity.retried, validity.retries, crate::util::format_ms(Some(validity.retry_wait_ms))));
    }
    if validity.timing_violations > 0 {
        add(Kind::TimingViolations, format!("{} successful request(s) have stamps that contradict each other ({}), so they are left out of every statistic; this is a bug in llmbench or a damaged requests.jsonl — please report it.", validity.timing_violations, validity.timing_violation_example.as_deref().unwrap_or("see requests.jsonl")));
    }
    if validity.prefill_cache_unknown > 0 {
        add(Kind::PrefillCache, format!("prompt_tps may be inflated by the prompt cache on {} request(s): Ollama's prompt_eval_count counts the whole prompt but prompt_eval_duration times only the part not cached, and Ollama does not say how much was. Set prompt_nonce = true in [run] to measure prefill.", validity.prefill_cache_unknown));
    }
    if let Some(lag) = validity.dispatch_lag_ms.as_ref().filter(|l| l.p99 > 10.0) {
        add(Kind::DispatchLag, format!("requests went out up to {:.1} ms (p99) after their scheduled time; the client or the machine could not keep the rate, so latency from the schedule is the figure to trust.", lag.p99));
    }
    if validity.early_stops > 0 {
        add(Kind::EarlyStops, format!("{} response(s) stopped before max_tokens; lengths differ between requests (llama.cpp can force the length with options = {{ ignore_eos = true }}).", validity.early_stops));
    }
    if validity.cache_hits > 0 {
        add(Kind::CacheHits, format!("{} request(s) reused prompt tokens from the server's cache; prompt_tps counts only the tokens evaluated, so it is the speed of a shorter prefill (fixed costs weigh more), not of the whole prompt. For the whole prompt's prefill speed set prompt_nonce = true in [run] (llama.cpp: or options = {{ cache_prompt = false }}).", validity.cache_hits));
    }
    if let Some(per_chunk) = validity.tokens_per_chunk.as_ref().filter(|t| t.mean > 1.5) {
        add(Kind::TokensPerChunk, format!("chunks carry {:.1} tokens on average, so chunk gaps are not token gaps; read tpot for per-token latency.", per_chunk.mean));
    }
}

/// CPU (in % of one core) that other work took, when the monitor saw it
/// and the server: the machine's total less the server's and llmbench's.
pub(crate) fn other_work_pct(window: &WindowSummary, cores: usize) -> Option<f64> {
    let machine = window.cpu_mean_pct? / 100.0 * cores as f64 * 100.0;
    let server = window.server_cpu_mean_pct?;
    let client = window.client_cpu_mean_pct.unwrap_or(0.0);
    Some((machine - server - client).max(0.0))
}

/// Other work counts as busy from half a core and a fifth of the machine.
fn busy(other_pct: f64, cores: usize) -> bool {
    other_pct >= 50.0 && other_pct >= cores as f64 * 100.0 * 0.2
}

/// Findings that need the monitor: other work on the machine (per cell),
/// a client that was itself busy, GPU data that is missing (and why).
pub(crate) fn monitor_findings(
    cells: &[CellSummary],
    cores: usize,
    run: Option<&WindowSummary>,
    facts: &serde_json::Value,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for cell in cells {
        let Some(window) = &cell.monitor else {
            continue;
        };
        let Some(other) = other_work_pct(window, cores).filter(|o| busy(*o, cores)) else {
            continue;
        };
        let name = cell_name(cell);
        out.push(Finding {
            kind: Kind::BusyMachine,
            cell: Some(name.clone()),
            text: format!(
                "{name}: other processes took {other:.0}% of a core while the machine ran at {:.0}% and the server got {:.0}% of a core; its times may be slower than the server can do — re-run on a quiet machine.",
                window.cpu_mean_pct.unwrap_or(0.0),
                window.server_cpu_mean_pct.unwrap_or(0.0)
            ),
        });
    }
    if let Some(peak) = run
        .and_then(|r| r.client_cpu_peak_pct)
        .filter(|p| *p > 80.0)
    {
        out.push(Finding {
            kind: Kind::ClientBottleneck,
            cell: None,
            text: format!("llmbench itself used up to {peak:.0}% of a core during the run: the client may have been the bottleneck; lower the concurrency or run the client on another machine."),
        });
    }
    if facts["gpu"]["status"] == "unavailable" {
        let reason = facts["gpu"]["reason"].as_str().unwrap_or("unknown");
        out.push(Finding {
            kind: Kind::NoGpu,
            cell: None,
            text: format!("GPU figures are missing: {reason}"),
        });
    }
    out
}

fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}
