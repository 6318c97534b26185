//! The server's process tree and name resolution: descendants found from
//! /proc/PID/task/*/children (cheap, read per process) or from a full
//! process listing, and the choice of a process by name.

use std::collections::{HashMap, HashSet};
use sysinfo::{Pid, System, ThreadKind};

/// The children of `pid` from /proc/PID/task/*/children; None where that
/// cannot be read (no such process, or a kernel without those files).
pub(super) fn children_of(pid: u32) -> Option<Vec<u32>> {
    let mut children = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let path = task.ok()?.path().join("children");
        let text = std::fs::read_to_string(path).ok()?;
        children.extend(
            text.split_whitespace()
                .filter_map(|c| c.parse::<u32>().ok()),
        );
    }
    Some(children)
}

/// `root` and its descendants, breadth first, from the children files.
pub(super) fn tree_from_children_files(root: u32) -> Vec<u32> {
    let mut tree = vec![root];
    let mut next = 0;
    while next < tree.len() {
        let kids = children_of(tree[next]).unwrap_or_default();
        tree.extend(kids.into_iter().filter(|k| *k != root));
        next += 1;
    }
    tree
}

/// `pid` and all its descendants (threads excluded), or None when `pid` is gone.
pub(super) fn descendants(sys: &System, pid: u32) -> Option<Vec<u32>> {
    sys.process(Pid::from_u32(pid))?;
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for p in sys.processes().values() {
        if p.thread_kind() == Some(ThreadKind::Userland) {
            continue;
        }
        if let Some(parent) = p.parent() {
            children
                .entry(parent.as_u32())
                .or_default()
                .push(p.pid().as_u32());
        }
    }
    let mut tree = vec![pid];
    let mut next = 0;
    while next < tree.len() {
        if let Some(kids) = children.get(&tree[next]) {
            tree.extend(kids.iter().filter(|k| **k != pid));
        }
        next += 1;
    }
    Some(tree)
}

/// What name resolution needs to know of a process.
#[derive(Clone, Debug)]
pub(super) struct Candidate {
    pub(super) pid: u32,
    pub(super) parent: Option<u32>,
    pub(super) name: String,
    pub(super) cmd: String,
    pub(super) start_time: u64,
}

/// `pid` and its ancestors: never followed (llmbench's own command line often
/// names the server, e.g. `llmbench exec ollama.toml`).
pub(super) fn ancestors(candidates: &[Candidate], pid: u32) -> HashSet<u32> {
    let parents: HashMap<u32, Option<u32>> = candidates.iter().map(|c| (c.pid, c.parent)).collect();
    let mut seen = HashSet::new();
    let mut current = Some(pid);
    while let Some(p) = current {
        if !seen.insert(p) {
            break;
        }
        current = parents.get(&p).copied().flatten();
    }
    seen
}

/// The process named `name` (exactly), else one whose command line contains
/// it. Among several, the root of a group (whose parent does not match too),
/// then the oldest, then the lowest pid.
pub(super) fn pick_by_name(
    candidates: &[Candidate],
    name: &str,
    excluded: &HashSet<u32>,
) -> Option<u32> {
    let pool: Vec<&Candidate> = candidates
        .iter()
        .filter(|c| !excluded.contains(&c.pid))
        .collect();
    let exact: Vec<&Candidate> = pool.iter().copied().filter(|c| c.name == name).collect();
    let matches = if exact.is_empty() {
        pool.iter()
            .copied()
            .filter(|c| c.cmd.contains(name))
            .collect()
    } else {
        exact
    };
    let pids: HashSet<u32> = matches.iter().map(|c| c.pid).collect();
    matches
        .iter()
        .filter(|c| c.parent.is_none_or(|p| !pids.contains(&p)))
        .min_by_key(|c| (c.start_time, c.pid))
        .map(|c| c.pid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(pid: u32, parent: u32, name: &str, cmd: &str) -> Candidate {
        Candidate {
            pid,
            parent: Some(parent),
            name: name.into(),
            cmd: cmd.into(),
            start_time: u64::from(pid),
        }
    }

    #[test]
    fn names_prefer_exact_matches_and_group_roots() {
        let all = vec![
            candidate(10, 1, "bash", "bash -c llmbench exec ollama.toml"),
            candidate(11, 10, "llmbench", "llmbench exec ollama.toml"),
            candidate(20, 1, "ollama", "ollama serve"),
            candidate(21, 20, "ollama", "ollama runner --model x"),
            candidate(30, 1, "python3", "python3 -m tool ollama"),
        ];
        let excluded = ancestors(&all, 11);
        assert_eq!(excluded, HashSet::from([11, 10, 1]));
        assert_eq!(pick_by_name(&all, "ollama", &excluded), Some(20));
        assert_eq!(pick_by_name(&all, "runner", &excluded), Some(21));
        assert_eq!(pick_by_name(&all, "llmbench", &excluded), None);
        assert_eq!(pick_by_name(&all, "nothing", &excluded), None);
    }
}
