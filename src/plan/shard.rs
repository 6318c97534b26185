//! Shards: which part of a plan one of N processes runs. Pure: the same plan
//! and shard give the same part on every machine, so N shards started apart
//! (a Slurm array, a Kubernetes Indexed Job) split the work without talking.
//!
//! `split = cells` deals whole cells to shards, balanced by each cell's
//! expected request count (longest first, to the least loaded shard).
//! `split = load` gives every shard every cell at its share of the load:
//! concurrency, rate, in-flight cap and repetitions ÷ N, remainders to the
//! first shards. A shard's cells keep the whole cell's id (the whole load is
//! kept in `Cell::share`), so the shards' records merge into one run.

use super::{Cell, Plan, ShardError};
use crate::experiment::Load;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Shard `index` (0-based) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl std::str::FromStr for Shard {
    type Err = ShardError;

    /// `K/N`, e.g. `0/4`.
    fn from_str(text: &str) -> Result<Shard, ShardError> {
        let bad = || ShardError::NotKOfN(text.to_string());
        let (k, n) = text.split_once('/').ok_or_else(bad)?;
        let index: u32 = k.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        Shard::new(index, count)
    }
}

impl Shard {
    pub fn new(index: u32, count: u32) -> Result<Shard, ShardError> {
        if count == 0 {
            return Err(ShardError::NoShards);
        }
        if index >= count {
            return Err(ShardError::NoSuchShard { index, count });
        }
        Ok(Shard { index, count })
    }
}

/// How a launch's shards divide the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// Each cell runs on one shard (one server per shard).
    #[default]
    Cells,
    /// Every shard runs every cell at 1/N of its load (N clients, one server).
    Load,
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Split::Cells => "cells",
            Split::Load => "load",
        })
    }
}

/// Under `split = load`: the whole cell this shard runs a share of.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LoadShare {
    /// The whole cell's load (what the merged run shows).
    pub load: Load,
    /// The whole cell's measured repetitions.
    pub repetitions: u32,
    /// This shard's measured requests are numbered from here, so repetition
    /// numbers stay unique across the shards (and a mixed cell's prompts
    /// follow the unsharded order).
    pub first_repetition: u32,
}

/// The requests a cell is expected to send. Counted cells: repetitions and
/// warmups. Cells with a duration have no count; they are weighed by time
/// (an open loop by its arrivals, a closed loop as one request per second
/// per worker), which keeps long cells apart.
pub(crate) fn expected_requests(cell: &Cell) -> f64 {
    let seconds = cell.duration_s.unwrap_or(0.0) + cell.warmup_s.unwrap_or(0.0);
    let timed = match cell.load {
        Load::Open { rate, .. } => rate * seconds,
        Load::Closed { concurrency } => f64::from(concurrency) * seconds,
    };
    let counted = match (cell.duration_s, cell.warmup_s) {
        (Some(_), Some(_)) => 0,
        (Some(_), None) => cell.warmup,
        (None, Some(_)) => cell.repetitions,
        (None, None) => cell.repetitions + cell.warmup,
    };
    timed + f64::from(counted)
}

/// The shard of each cell (by position in `plan.cells`) under `split =
/// cells`: heaviest cell first, each to the least loaded shard (ties to the
/// lower shard, equal cells in plan order), so any machine computes the same.
pub(crate) fn assign_cells(plan: &Plan, count: u32) -> Vec<u32> {
    let mut order: Vec<usize> = (0..plan.cells.len()).collect();
    let weight = |i: usize| expected_requests(&plan.cells[i]);
    order.sort_by(|&a, &b| weight(b).total_cmp(&weight(a)).then(a.cmp(&b)));
    let mut loads = vec![0.0f64; count.max(1) as usize];
    let mut assigned = vec![0u32; plan.cells.len()];
    for i in order {
        let lightest = (0..loads.len())
            .min_by(|&a, &b| loads[a].total_cmp(&loads[b]).then(a.cmp(&b)))
            .unwrap_or(0);
        loads[lightest] += weight(i);
        assigned[i] = lightest as u32;
    }
    assigned
}

/// Expected requests per shard under `split = cells` (the balance figure).
#[cfg(test)]
pub(crate) fn shard_loads(plan: &Plan, count: u32) -> Vec<f64> {
    let mut loads = vec![0.0; count.max(1) as usize];
    for (cell, shard) in plan.cells.iter().zip(assign_cells(plan, count)) {
        loads[shard as usize] += expected_requests(cell);
    }
    loads
}

/// Shard `index`'s share of `total` when `total` is divided over `count`:
/// ⌊total / count⌋, plus one for the first `total mod count` shards.
pub(crate) fn share(total: u32, shard: Shard) -> u32 {
    total / shard.count + u32::from(shard.index < total % shard.count)
}

/// Where shard `index`'s share of `total` starts.
fn share_start(total: u32, shard: Shard) -> u32 {
    (0..shard.index)
        .map(|index| share(total, Shard { index, ..shard }))
        .sum()
}

/// The part of `plan` that `shard` runs.
pub(crate) fn shard_plan(plan: &Plan, shard: Shard, split: Split) -> Result<Plan, ShardError> {
    match split {
        Split::Cells => Ok(cells_part(plan, shard)),
        Split::Load => load_part(plan, shard),
    }
}

fn cells_part(plan: &Plan, shard: Shard) -> Plan {
    let assigned = assign_cells(plan, shard.count);
    let cells = plan
        .cells
        .iter()
        .zip(assigned)
        .filter(|(_, to)| *to == shard.index)
        .map(|(cell, _)| cell.clone())
        .collect();
    Plan {
        cells,
        ..plan.clone()
    }
}

fn load_part(plan: &Plan, shard: Shard) -> Result<Plan, ShardError> {
    let cells = plan
        .cells
        .iter()
        .map(|cell| load_share(cell, shard))
        .collect::<Result<Vec<_>, _>>()?;
    // Cold starts unload the model for everyone: one shard measures them.
    let cold_repetitions = if shard.index == 0 {
        plan.cold_repetitions
    } else {
        0
    };
    Ok(Plan {
        cells,
        cold_repetitions,
        ..plan.clone()
    })
}

/// Repetition numbers of a timed cell's shards start this far apart.
fn timed_stride(shard: Shard) -> u32 {
    u32::MAX / shard.count
}

fn load_share(cell: &Cell, shard: Shard) -> Result<Cell, ShardError> {
    let load = match cell.load {
        Load::Closed { concurrency } => Load::Closed {
            concurrency: share(concurrency, shard),
        },
        Load::Open {
            rate,
            arrivals,
            seed,
            max_in_flight,
        } => Load::Open {
            rate: rate / f64::from(shard.count),
            arrivals,
            // Each client draws its own arrivals: N copies of one schedule
            // would arrive in lockstep.
            seed: seed.wrapping_add(u64::from(shard.index)),
            max_in_flight: share(max_in_flight, shard).max(1),
        },
    };
    if let Load::Closed { concurrency: 0 } = load {
        return Err(ShardError::TooLittleLoad {
            cell: cell.id.clone(),
            in_flight: cell.load.max_in_flight(),
            shards: shard.count,
        });
    }
    let first_repetition = match cell.duration_s {
        Some(_) => shard.index.saturating_mul(timed_stride(shard)),
        None => share_start(cell.repetitions, shard),
    };
    Ok(Cell {
        load,
        repetitions: share(cell.repetitions, shard),
        share: Some(LoadShare {
            load: cell.load,
            repetitions: cell.repetitions,
            first_repetition,
        }),
        ..cell.clone()
    })
}

/// The whole cell back from one shard's part (`split = load`), for a merged plan.
pub(crate) fn whole_cell(cell: &Cell) -> Cell {
    match &cell.share {
        Some(share) => Cell {
            load: share.load,
            repetitions: share.repetitions,
            share: None,
            ..cell.clone()
        },
        None => cell.clone(),
    }
}

#[cfg(test)]
#[path = "shard_tests.rs"]
mod tests;
