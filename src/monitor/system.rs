//! Reads the machine through sysinfo: CPU (total and per core), memory and
//! swap, a process tree's CPU and resident memory, and llmbench's own CPU.
//! Process CPU is computed here from accumulated CPU time over wall time
//! between two readings, so it means the same at every sampling rate.

use super::sample::ProcessSample;
use super::source::{Processes, SystemReading};
use super::tree::{
    ancestors, children_of, descendants, pick_by_name, tree_from_children_files, Candidate,
};
use super::{MonitorError, ProcessTarget};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System, ThreadKind, UpdateKind};

/// How often the server's descendants are looked for again; in between, only
/// the known ones are read. A child found late loses nothing: its CPU time
/// is counted from its start.
const REDISCOVER: Duration = Duration::from_secs(1);

/// The sysinfo half of the real source.
pub(crate) struct SystemProbe {
    sys: System,
    self_pid: u32,
    server: CpuTracker,
    client: CpuTracker,
    /// The followed server and its descendants, as last discovered.
    tree: Vec<u32>,
    tree_root: Option<u32>,
    discovered_at: Option<Instant>,
    /// Whether /proc/PID/task/TID/children exists (Linux with CONFIG_PROC_CHILDREN);
    /// without it, descendants are found by listing every process.
    children_files: bool,
}

impl SystemProbe {
    /// Creates the probe and takes a first reading, so that the first sample's
    /// CPU figures cover the time since now.
    pub(crate) fn new() -> Result<SystemProbe, MonitorError> {
        let sys = System::new().map_err(|e| MonitorError::System(format!("sysinfo: {e}")))?;
        let self_pid = std::process::id();
        let mut probe = SystemProbe {
            sys,
            self_pid,
            server: CpuTracker::default(),
            client: CpuTracker::default(),
            tree: Vec::new(),
            tree_root: None,
            discovered_at: None,
            children_files: children_of(self_pid).is_some(),
        };
        probe.sys.refresh_cpu_usage();
        Ok(probe)
    }

    /// Primes the CPU trackers for a server pid (and llmbench), without a sample.
    pub(crate) fn prime(&mut self, server: Option<u32>) {
        let _ = self.processes(server, self.self_pid);
    }

    pub(crate) fn system(&mut self) -> SystemReading {
        self.sys.refresh_cpu_usage();
        self.sys.refresh_memory();
        SystemReading {
            cpu_total_pct: self.sys.global_cpu_usage(),
            cpu_per_core_pct: self.sys.cpus().iter().map(|c| c.usage()).collect(),
            mem_used_bytes: self.sys.used_memory(),
            mem_available_bytes: self.sys.available_memory(),
            swap_used_bytes: self.sys.used_swap(),
        }
    }

    pub(crate) fn processes(&mut self, server: Option<u32>, client: u32) -> Processes {
        let kind = ProcessRefreshKind::nothing()
            .with_cpu()
            .with_memory()
            .without_tasks();
        let mut scanned = false;
        match server {
            Some(root) => {
                let stale = self.tree_root != Some(root)
                    || self
                        .discovered_at
                        .is_none_or(|at| at.elapsed() >= REDISCOVER);
                if stale {
                    self.tree = match self.children_files {
                        true => tree_from_children_files(root),
                        false => {
                            self.sys.refresh_processes_specifics(
                                ProcessesToUpdate::All,
                                true,
                                kind,
                            );
                            scanned = true;
                            descendants(&self.sys, root).unwrap_or_default()
                        }
                    };
                    self.tree_root = Some(root);
                    self.discovered_at = Some(Instant::now());
                }
            }
            None => {
                self.tree.clear();
                self.tree_root = None;
            }
        }
        if !scanned {
            let mut pids: Vec<Pid> = self.tree.iter().map(|p| Pid::from_u32(*p)).collect();
            pids.push(Pid::from_u32(client));
            self.sys
                .refresh_processes_specifics(ProcessesToUpdate::Some(&pids), true, kind);
        }
        let now = Instant::now();
        let server = server.and_then(|root| {
            self.sys.process(Pid::from_u32(root))?;
            let times: Vec<(u32, u64, u64)> = self
                .tree
                .iter()
                .filter_map(|p| self.sys.process(Pid::from_u32(*p)))
                .map(|p| (p.pid().as_u32(), p.accumulated_cpu_time(), p.memory()))
                .collect();
            Some(self.server.sample(root, &times, now))
        });
        if server.is_none() {
            self.server = CpuTracker::default();
        }
        let client = match self.sys.process(Pid::from_u32(client)) {
            Some(p) => {
                let times = [(client, p.accumulated_cpu_time(), p.memory())];
                self.client.sample(client, &times, now)
            }
            None => ProcessSample {
                pid: client,
                ..ProcessSample::default()
            },
        };
        Processes { server, client }
    }

    /// Finds the pid of the process to follow.
    pub(crate) fn resolve(&mut self, target: &ProcessTarget) -> Result<u32, MonitorError> {
        let kind = ProcessRefreshKind::nothing()
            .with_cmd(UpdateKind::OnlyIfNotSet)
            .without_tasks();
        self.sys
            .refresh_processes_specifics(ProcessesToUpdate::All, true, kind);
        let wanted = match target {
            ProcessTarget::Pid(pid) => Some(*pid),
            ProcessTarget::Name(name) => match name.trim().parse::<u32>() {
                Ok(pid) => Some(pid),
                Err(_) => {
                    let candidates = self.candidates();
                    let excluded = ancestors(&candidates, self.self_pid);
                    pick_by_name(&candidates, name.trim(), &excluded)
                }
            },
        };
        match wanted {
            Some(pid) if self.sys.process(Pid::from_u32(pid)).is_some() => Ok(pid),
            _ => Err(MonitorError::ProcessNotFound {
                target: target.to_string(),
            }),
        }
    }

    fn candidates(&self) -> Vec<Candidate> {
        self.sys
            .processes()
            .values()
            .filter(|p| p.thread_kind() != Some(ThreadKind::Userland))
            .map(|p| Candidate {
                pid: p.pid().as_u32(),
                parent: p.parent().map(|q| q.as_u32()),
                name: p.name().to_string_lossy().into_owned(),
                cmd: p
                    .cmd()
                    .iter()
                    .map(|a| a.to_string_lossy())
                    .collect::<Vec<_>>()
                    .join(" "),
                start_time: p.start_time(),
            })
            .collect()
    }
}

/// CPU % of a set of processes between two readings, from accumulated CPU time.
#[derive(Default)]
struct CpuTracker {
    root: u32,
    at: Option<Instant>,
    cpu_ms: HashMap<u32, u64>,
}

impl CpuTracker {
    /// `times`: (pid, accumulated CPU ms, resident bytes) for each process.
    fn sample(&mut self, root: u32, times: &[(u32, u64, u64)], now: Instant) -> ProcessSample {
        if root != self.root {
            *self = CpuTracker {
                root,
                ..CpuTracker::default()
            };
        }
        let mut used_ms = 0u64;
        let mut next = HashMap::with_capacity(times.len());
        for &(pid, cpu_ms, _) in times {
            // A process not seen before started since the last reading.
            let before = self.cpu_ms.get(&pid).copied().unwrap_or(0);
            used_ms += cpu_ms.saturating_sub(before);
            next.insert(pid, cpu_ms);
        }
        let cpu_pct = match self.at {
            Some(at) if now > at => {
                let wall_ms = now.duration_since(at).as_secs_f64() * 1e3;
                (used_ms as f64 / wall_ms * 100.0) as f32
            }
            _ => 0.0,
        };
        self.at = Some(now);
        self.cpu_ms = next;
        ProcessSample {
            pid: root,
            cpu_pct,
            rss_bytes: times.iter().map(|t| t.2).sum(),
            processes: times.len() as u32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracker_sums_a_tree_and_counts_new_children_from_zero() {
        let mut tracker = CpuTracker::default();
        let t0 = Instant::now();
        let first = tracker.sample(5, &[(5, 1_000, 100)], t0);
        assert_eq!(first.cpu_pct, 0.0);
        let t1 = t0 + Duration::from_millis(500);
        let second = tracker.sample(5, &[(5, 1_250, 100), (6, 250, 50)], t1);
        assert!((second.cpu_pct - 100.0).abs() < 0.01, "{second:?}");
        assert_eq!(second.rss_bytes, 150);
        assert_eq!(second.processes, 2);
        // A child that exits does not make the figure negative.
        let t2 = t1 + Duration::from_millis(500);
        let third = tracker.sample(5, &[(5, 1_250, 100)], t2);
        assert_eq!(third.cpu_pct, 0.0);
        // Following another pid starts afresh.
        let other = tracker.sample(9, &[(9, 5_000, 1)], t2 + Duration::from_millis(10));
        assert_eq!(other.cpu_pct, 0.0);
    }

    #[test]
    fn children_files_and_a_full_listing_find_the_same_tree() {
        let Ok(mut shell) = std::process::Command::new("sh")
            .args(["-c", "sleep 2 & sleep 2 & wait"])
            .spawn()
        else {
            return;
        };
        std::thread::sleep(Duration::from_millis(200));
        let root = shell.id();
        let mut probe = SystemProbe::new().expect("sysinfo starts");
        probe.sys.refresh_processes_specifics(
            ProcessesToUpdate::All,
            true,
            ProcessRefreshKind::nothing().without_tasks(),
        );
        let mut listed = descendants(&probe.sys, root).expect("the shell runs");
        listed.sort_unstable();
        if probe.children_files {
            let mut from_files = tree_from_children_files(root);
            from_files.sort_unstable();
            assert_eq!(from_files, listed);
        }
        assert_eq!(listed.len(), 3, "{listed:?}");
        let processes = probe.processes(Some(root), std::process::id());
        assert_eq!(processes.server.map(|s| s.processes), Some(3));
        let _ = shell.kill();
        let _ = shell.wait();
    }

    #[test]
    fn the_real_probe_reads_this_process() {
        let mut probe = SystemProbe::new().expect("sysinfo starts");
        let reading = probe.system();
        assert!(!reading.cpu_per_core_pct.is_empty());
        assert!(reading.mem_used_bytes > 0);
        let me = std::process::id();
        let processes = probe.processes(Some(me), me);
        assert!(processes.client.rss_bytes > 0);
        assert_eq!(processes.server.map(|s| s.pid), Some(me));
        assert_eq!(probe.resolve(&ProcessTarget::Pid(me)).ok(), Some(me));
        assert!(probe.resolve(&ProcessTarget::Pid(u32::MAX - 1)).is_err());
    }
}
