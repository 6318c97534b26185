//! Warnings grouped by kind and ranked, and the busy-machine warning.

use super::super::warnings::{findings, group, monitor_findings, Finding, Kind};
use super::super::*;
use crate::aggregate::CellSummary;
use crate::monitor::WindowSummary;

/// The fixture's cells, nine of them, each with one failed request.
fn nine_failing_cells() -> Vec<CellSummary> {
    let model = fixture::model();
    let failing = model
        .cells
        .iter()
        .find(|c| c.counts.failed > 0)
        .expect("the fixture has a failing cell")
        .clone();
    (1..=9)
        .map(|c| {
            let mut cell = failing.clone();
            cell.load.concurrency = Some(c);
            cell
        })
        .collect()
}

#[test]
fn nine_cells_of_one_kind_make_one_line_and_uncommitted_changes_stay_visible() {
    let mut manifest = fixture::manifest();
    if let Some(git) = manifest.git.as_mut() {
        git.dirty = true;
    }
    manifest.status = crate::store::RunStatus::Interrupted;
    let mut summary = crate::aggregate::aggregate(&fixture::plan(), &fixture::records(), 0);
    summary.cells = nine_failing_cells();
    let groups = group(findings(&manifest, &summary));
    let kinds: Vec<Kind> = groups.iter().map(|g| g.kind).collect();
    assert_eq!(kinds[0], Kind::Incomplete, "{kinds:?}");
    assert!(kinds.contains(&Kind::Uncommitted), "{kinds:?}");
    let failed = groups
        .iter()
        .find(|g| g.kind == Kind::FailedRequests)
        .expect("failed requests");
    assert_eq!((failed.cells.len(), failed.details.len()), (9, 9));
    assert!(
        failed
            .summary
            .starts_with("Requests failed in 9 cells: Qwen3 0.6B × count · c1; Qwen3 0.6B × count · c2; Qwen3 0.6B × count · c3 and 6 more"),
        "{}",
        failed.summary
    );
    // One line per kind, ranked 1, 2, … in order of doubt.
    let ranks: Vec<usize> = groups.iter().map(|g| g.rank).collect();
    assert_eq!(ranks, (1..=groups.len()).collect::<Vec<_>>());
    assert!(groups.windows(2).all(|w| w[0].kind < w[1].kind));
    assert!(groups.len() < 9, "{groups:#?}");
}

fn window(machine: f64, server: f64, client: f64) -> WindowSummary {
    WindowSummary {
        samples: 10,
        cpu_mean_pct: Some(machine),
        server_cpu_mean_pct: Some(server),
        client_cpu_mean_pct: Some(client),
        ..WindowSummary::default()
    }
}

#[test]
fn a_machine_busy_with_other_work_is_a_warning() {
    let mut cells = fixture::model().cells;
    cells.truncate(2);
    // Two cores at 100%: the server had 65% of one, llmbench 10%: 125% elsewhere.
    cells[0].monitor = Some(window(100.0, 65.0, 10.0));
    // A quiet machine: the server and llmbench account for nearly everything.
    cells[1].monitor = Some(window(40.0, 70.0, 8.0));
    let found: Vec<Finding> = monitor_findings(&cells, 2, None, &serde_json::Value::Null);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].kind, Kind::BusyMachine);
    assert!(
        found[0].text.contains("other processes took 125% of a core while the machine ran at 100% and the server got 65% of a core"),
        "{}",
        found[0].text
    );
    // Ranked just after an incomplete run, before failed requests.
    assert!(Kind::Incomplete < Kind::BusyMachine && Kind::BusyMachine < Kind::FailedRequests);
    // Without the server's figures nothing can be told apart: no warning.
    cells[0].monitor = Some(WindowSummary {
        server_cpu_mean_pct: None,
        ..window(100.0, 0.0, 10.0)
    });
    assert!(monitor_findings(&cells, 2, None, &serde_json::Value::Null).is_empty());
}
