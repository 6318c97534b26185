use super::*;
use crate::plan::tests::{experiment, model, prompt};

fn one_cell_plan(repetitions: u32) -> Plan {
    let mut plan = crate::plan::plan(&experiment(vec![model("m", None)], vec![prompt("p", None)]));
    plan.cells[0].repetitions = repetitions;
    plan.cells[0].warmup = 1;
    plan
}

fn record(plan: &Plan, repetition: u32, warmup: bool, outcome: Outcome) -> Record {
    let mut record = Record::unsent(&plan.cells[0], repetition, outcome);
    record.warmup = warmup;
    record
}

fn cancelled() -> Outcome {
    Outcome::Error {
        kind: ErrorKind::Cancelled,
        message: "stopped".into(),
    }
}

#[test]
fn only_incomplete_repetitions_are_left_and_cancelled_ones_are_superseded() {
    let plan = one_cell_plan(4);
    let timeout = Outcome::Error {
        kind: ErrorKind::Timeout,
        message: "slow".into(),
    };
    let records = vec![
        record(&plan, 0, true, Outcome::Ok),
        record(&plan, 0, false, Outcome::Ok),
        record(&plan, 1, false, cancelled()),
        record(&plan, 2, false, timeout),
        record(&plan, 2, false, Outcome::Ok),
    ];
    let sorted = Sorted::new(&plan, records, false);
    let remaining = sorted.remaining(&plan);
    assert_eq!(
        remaining.cells.get(&plan.cells[0].id),
        Some(&CellTodo::Measured(vec![1, 3])),
        "a failed request completed; a cancelled one did not"
    );
    // Kept: measured 0 and the first record of repetition 2; replaced: the
    // cancelled one, the duplicate and the warmup of the restarting cell.
    assert_eq!(sorted.kept.len(), 2);
    assert_eq!(sorted.superseded.len(), 3);
    assert_eq!(sorted.restarted, 1);
    assert_eq!(
        remaining.requests(&plan),
        2 + 1,
        "two repetitions and the warmup again"
    );
}

#[test]
fn a_cell_with_every_repetition_keeps_its_warmups_and_is_done() {
    let plan = one_cell_plan(2);
    let records = vec![
        record(&plan, 0, true, Outcome::Ok),
        record(&plan, 0, false, Outcome::Ok),
        record(&plan, 1, false, Outcome::Ok),
    ];
    let sorted = Sorted::new(&plan, records, false);
    assert_eq!(
        sorted.remaining(&plan).cells.get(&plan.cells[0].id),
        Some(&CellTodo::Done)
    );
    assert!(sorted.superseded.is_empty());
    assert!(sorted.remaining(&plan).is_empty(&plan));
}

#[test]
fn a_timed_cell_cut_short_runs_again_whole() {
    let mut plan = one_cell_plan(0);
    plan.cells[0].duration_s = Some(5.0);
    let records = vec![record(&plan, 0, false, Outcome::Ok)];
    let sorted = Sorted::new(&plan, records.clone(), false);
    assert!(
        sorted.remaining(&plan).cells.is_empty(),
        "absent: runs whole"
    );
    assert_eq!(sorted.superseded.len(), 1);
    let finished = Sorted::new(&plan, records, true);
    assert_eq!(
        finished.remaining(&plan).cells.get(&plan.cells[0].id),
        Some(&CellTodo::Done),
        "a complete run's timed cell ran to its end"
    );
}

#[test]
fn a_changed_plan_is_refused_naming_the_cells() {
    let plan = one_cell_plan(2);
    let mut other = plan.clone();
    other.cells[0].id = "m.p.00000000".into();
    let error = check_plan(&plan, &other).unwrap_err().to_string();
    assert!(error.contains("m.p.00000000"), "{error}");
    assert!(error.contains(&plan.cells[0].id), "{error}");
    assert!(check_plan(&plan, &plan.clone()).is_ok());
}

#[test]
fn line_diff_names_the_changed_lines() {
    let diff = line_diff(&["a = 1", "b = 2"], &["a = 1", "b = 3", "c = 4"]);
    assert_eq!(
        diff,
        "  line 2: - b = 2\n  line 2: + b = 3\n  line 3: - (none)\n  line 3: + c = 4"
    );
}
