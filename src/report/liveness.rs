//! Whether a run whose manifest says `running` is still being written: its
//! llmbench process (manifest `pid`) is alive on this host (manifest
//! `environment.host`) and started before the run did (else the pid was
//! reused). A run from another host, or without a pid (runs from before
//! llmbench recorded it), cannot be checked and counts as stopped.

use crate::store::RunManifest;

/// True when the run's llmbench process is alive on this machine.
pub(crate) fn still_running(manifest: &RunManifest) -> bool {
    let Some(pid) = manifest.pid else {
        return false;
    };
    let here = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    if here.trim() != manifest.environment.host {
        return false;
    }
    let Some(process_start) = process_start(pid) else {
        return false;
    };
    let run_start = manifest
        .started_at
        .parse::<jiff::Timestamp>()
        .map(|t| t.as_second() as f64)
        .unwrap_or(f64::MAX);
    // A second of slack for the rounding of boot time and clock ticks.
    process_start <= run_start + 1.0
}

/// When process `pid` started, in seconds since the Unix epoch (from
/// /proc/PID/stat and the boot time in /proc/stat).
fn process_start(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    // Fields after the name: state is field 3; starttime is field 22.
    let ticks: f64 = rest.split_whitespace().nth(19)?.parse().ok()?;
    let boot: f64 = std::fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|line| line.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    // SAFETY: sysconf has no preconditions.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (per_second > 0).then(|| boot + ticks / per_second as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(pid: Option<u32>, started_at: &str) -> RunManifest {
        let mut manifest = crate::report::fixture::manifest();
        manifest.status = crate::store::RunStatus::Running;
        manifest.pid = pid;
        manifest.started_at = started_at.into();
        manifest.environment.host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .unwrap_or_default()
            .trim()
            .to_string();
        manifest
    }

    #[test]
    fn this_process_is_alive_and_a_dead_or_reused_pid_is_not() {
        let now = jiff::Timestamp::now().to_string();
        assert!(still_running(&manifest(Some(std::process::id()), &now)));
        // Started long before this process: the pid would have been reused.
        assert!(!still_running(&manifest(
            Some(std::process::id()),
            "2001-01-01T00:00:00Z"
        )));
        assert!(!still_running(&manifest(Some(u32::MAX - 1), &now)));
        assert!(!still_running(&manifest(None, &now)));
        let mut elsewhere = manifest(Some(std::process::id()), &now);
        elsewhere.environment.host = "another-host.invalid".into();
        assert!(!still_running(&elsewhere));
    }
}
