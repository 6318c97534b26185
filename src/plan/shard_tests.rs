use super::*;
use crate::experiment::Arrivals;
use crate::plan::plan;
use crate::plan::tests::{experiment, model, prompt};
use proptest::prelude::*;

fn plan_with_reps(reps: &[u32]) -> Plan {
    let prompts = (0..reps.len())
        .map(|i| prompt(&format!("p{i}"), None))
        .collect();
    let mut plan = plan(&experiment(vec![model("m", None)], prompts));
    for (cell, &r) in plan.cells.iter_mut().zip(reps) {
        cell.repetitions = r;
        cell.warmup = 0;
    }
    plan
}

#[test]
fn shard_parses_k_of_n_and_names_what_is_wrong() {
    assert_eq!("2/4".parse::<Shard>(), Ok(Shard { index: 2, count: 4 }));
    let error = "4/4".parse::<Shard>().unwrap_err();
    assert_eq!(error, ShardError::NoSuchShard { index: 4, count: 4 });
    assert!(error.to_string().contains("numbered 0 to 3"), "{error}");
    assert_eq!("0/0".parse::<Shard>(), Err(ShardError::NoShards));
    assert!("0/0"
        .parse::<Shard>()
        .unwrap_err()
        .to_string()
        .contains("at least 1"));
    let error = "two/4".parse::<Shard>().unwrap_err();
    assert_eq!(error, ShardError::NotKOfN("two/4".into()));
    assert!(error.to_string().contains("--shard 0/4"), "{error}");
}

#[test]
fn shares_spread_the_remainder_over_the_first_shards() {
    let shares: Vec<u32> = (0..3)
        .map(|index| share(8, Shard { index, count: 3 }))
        .collect();
    assert_eq!(shares, [3, 3, 2]);
    let starts: Vec<u32> = (0..3)
        .map(|index| share_start(8, Shard { index, count: 3 }))
        .collect();
    assert_eq!(starts, [0, 3, 6]);
}

#[test]
fn cells_are_dealt_by_expected_requests_not_by_count() {
    // One heavy cell and four light ones: the heavy one gets a shard to itself.
    let plan = plan_with_reps(&[40, 10, 10, 10, 10]);
    assert_eq!(assign_cells(&plan, 2), [0, 1, 1, 1, 1]);
    assert_eq!(shard_loads(&plan, 2), [40.0, 40.0]);
}

#[test]
fn the_same_plan_gives_the_same_assignment_and_every_cell_once() {
    let plan = plan_with_reps(&[5, 9, 2, 9, 7, 1, 3]);
    let first = assign_cells(&plan, 3);
    assert_eq!(first, assign_cells(&plan.clone(), 3));
    let mut seen: Vec<String> = (0..3)
        .flat_map(|index| {
            let part = shard_plan(&plan, Shard { index, count: 3 }, Split::Cells).unwrap();
            part.cells.into_iter().map(|c| c.id)
        })
        .collect();
    seen.sort();
    let mut all: Vec<String> = plan.cells.iter().map(|c| c.id.clone()).collect();
    all.sort();
    assert_eq!(seen, all);
}

#[test]
fn load_split_divides_concurrency_and_repetitions_and_keeps_ids() {
    let mut plan = plan_with_reps(&[10]);
    plan.cells[0].load = Load::Closed { concurrency: 5 };
    plan.cells[0].id = crate::plan::cell_id(&plan.cells[0]);
    plan.cold_repetitions = 2;
    let parts: Vec<Plan> = (0..3)
        .map(|index| shard_plan(&plan, Shard { index, count: 3 }, Split::Load).unwrap())
        .collect();
    let concurrency: Vec<u32> = parts
        .iter()
        .map(|p| p.cells[0].load.max_in_flight())
        .collect();
    assert_eq!(concurrency, [2, 2, 1]);
    let reps: Vec<(u32, u32)> = parts
        .iter()
        .map(|p| {
            let cell = &p.cells[0];
            (
                cell.share.as_ref().unwrap().first_repetition,
                cell.repetitions,
            )
        })
        .collect();
    assert_eq!(
        reps,
        [(0, 4), (4, 3), (7, 3)],
        "repetitions 0..10, each once"
    );
    for part in &parts {
        assert_eq!(part.cells[0].id, plan.cells[0].id);
        assert_eq!(crate::plan::cell_id(&part.cells[0]), plan.cells[0].id);
        assert_eq!(whole_cell(&part.cells[0]), plan.cells[0]);
    }
    let cold: Vec<u32> = parts.iter().map(|p| p.cold_repetitions).collect();
    assert_eq!(cold, [2, 0, 0], "one shard measures cold starts");
}

#[test]
fn load_split_gives_each_shard_its_own_arrivals() {
    let mut plan = plan_with_reps(&[10]);
    plan.cells[0].load = Load::Open {
        rate: 9.0,
        arrivals: Arrivals::Poisson,
        seed: 1,
        max_in_flight: 4,
    };
    let part = shard_plan(&plan, Shard { index: 2, count: 3 }, Split::Load).unwrap();
    let Load::Open {
        rate,
        seed,
        max_in_flight,
        ..
    } = part.cells[0].load
    else {
        panic!("open loop stays open");
    };
    assert_eq!((rate, seed, max_in_flight), (3.0, 3, 1));
}

#[test]
fn load_split_refuses_fewer_workers_than_shards() {
    let mut plan = plan_with_reps(&[10]);
    plan.cells[0].load = Load::Closed { concurrency: 2 };
    let error = shard_plan(&plan, Shard { index: 2, count: 3 }, Split::Load)
        .unwrap_err()
        .to_string();
    assert!(error.contains("at most 2 shards"), "{error}");
}

proptest! {
    #[test]
    fn greedy_dealing_stays_within_one_cell_of_even(
        reps in proptest::collection::vec(1u32..200, 1..40),
        count in 1u32..8,
    ) {
        let plan = plan_with_reps(&reps);
        let loads = shard_loads(&plan, count);
        let total: f64 = reps.iter().map(|&r| f64::from(r)).sum();
        let heaviest = f64::from(reps.iter().copied().max().unwrap_or(0));
        let most = loads.iter().copied().fold(0.0, f64::max);
        prop_assert!((loads.iter().sum::<f64>() - total).abs() < 1e-9);
        prop_assert!(most <= total / f64::from(count) + heaviest);
    }
}
