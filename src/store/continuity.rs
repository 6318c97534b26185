//! The manifest's record of a run that outgrew one process: which shard of
//! which launch it is (`shard`), each time it was resumed after a crash
//! (`resumes`), and, for a merged run, the shards it was made from
//! (`merge`). Plain data; `scale` fills it in.

use crate::plan::shard::Split;
use crate::plan::shard_env::Engine;
use serde::{Deserialize, Serialize};

/// A shard run's place in its launch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardFacts {
    /// 0-based.
    pub index: u32,
    pub count: u32,
    pub split: Split,
    /// The id every shard of the launch shares.
    pub launch: String,
    /// Where index and count came from.
    pub engine: Engine,
    /// The host this shard ran on.
    pub host: String,
    /// The common start asked for (`--start-at`, or the time the barrier
    /// opened), RFC 3339; none when the shard started at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_at: Option<String>,
    /// This host's clock minus the shared storage's (from the barrier
    /// file's modification time), ms; none without a barrier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock_offset_ms: Option<f64>,
}

/// One `llmbench exec --resume`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResumeFacts {
    /// When the resume began, RFC 3339.
    pub at: String,
    pub host: String,
    pub llmbench_version: String,
    /// Torn or unreadable lines set aside, by file.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub repaired: Vec<Repair>,
    /// Records replaced by this resume (cancelled requests, warmups of
    /// cells that restart), kept in superseded.jsonl.
    pub superseded: u64,
    /// Requests this resume set out to send.
    pub to_send: u64,
    /// Cells that restarted (their warmups ran again).
    pub restarted_cells: u64,
}

/// Bytes set aside from one `.jsonl` file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Repair {
    /// The file, relative to the run directory.
    pub file: String,
    /// Where the set-aside bytes were kept, relative to the run directory.
    pub kept_in: String,
    pub lines: u64,
    pub bytes: u64,
}

/// How a merged run was made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MergeFacts {
    pub launch: String,
    pub split: Split,
    /// Shards the launch had.
    pub count: u32,
    /// Shard indexes merged, in order.
    pub shards: Vec<u32>,
    /// Shard indexes missing (only with `--partial`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<u32>,
    /// The shard run directories, as given.
    pub sources: Vec<String>,
    /// The host each shard ran on (its whole environment and servers are in
    /// shards/<K>/manifest.json).
    pub hosts: Vec<String>,
    /// Each shard's clock offset from shard 0's (via the shared storage's
    /// clock), ms, by shard index; none where a shard had no barrier.
    pub clock_offsets_ms: Vec<Option<f64>>,
    /// `split = load`: how much the shards' windows overlapped, per cell.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overlap: Vec<CellOverlap>,
}

/// How well the shards of a `split = load` cell ran at the same time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellOverlap {
    pub cell: String,
    /// From the first send of any shard to the last completion, s.
    pub union_s: f64,
    /// While every shard was sending, s.
    pub common_s: f64,
    /// common / union (1 = the shards ran exactly together).
    pub fraction: f64,
    /// Latest first send minus earliest first send, ms.
    pub start_spread_ms: f64,
}

impl MergeFacts {
    /// Lines for the report's warnings: partial merges, poor overlap.
    pub(crate) fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !self.missing.is_empty() {
            out.push(format!(
                "Partial merge: shard(s) {:?} of {} are missing from launch {}; cells they ran are absent.",
                self.missing, self.count, self.launch
            ));
        }
        for cell in self.overlap.iter().filter(|c| c.fraction < 0.9) {
            out.push(format!(
                "{}: the {} shards loaded the server together for only {:.0}% of the cell's window (starts {:.0} ms apart); its throughput is over the union window.",
                cell.cell,
                self.shards.len(),
                cell.fraction * 100.0,
                cell.start_spread_ms
            ));
        }
        out
    }
}
