//! Resource limits for sandboxed code, set between fork and exec: CPU time
//! (the timeout rounded up, plus one second; the hard limit one second more),
//! address space, file size, no core files, and a task count. RLIMIT_NPROC
//! counts every process and thread of the *real user*, not of the sandbox,
//! so the limit is the user's current task count plus `EXTRA_TASKS`; the
//! kernel does not enforce it at all for root with CAP_SYS_RESOURCE or
//! CAP_SYS_ADMIN (the PID namespace and the wall-clock kill are what bound a
//! fork bomb there).

use std::io;
use std::time::Duration;

/// Address space of each sandboxed process (RLIMIT_AS).
pub(crate) const MEMORY_BYTES: u64 = 1 << 30;
/// Address space of all sandboxed runs together: [`MEMORY_BYTES`] times
/// the runs allowed at once (a run of several processes can exceed its
/// share; the task limit bounds how far).
pub(crate) const CHECKS_MEMORY_BYTES: u64 = 2 << 30;
/// Largest file a sandboxed process may write (RLIMIT_FSIZE).
pub(crate) const FILE_SIZE_BYTES: u64 = 16 << 20;
/// Output (stdout and stderr together) beyond which the run is killed.
pub(crate) const OUTPUT_KILL_BYTES: u64 = 1 << 20;
/// Tasks the sandbox may add to the user's current count (RLIMIT_NPROC).
pub(crate) const EXTRA_TASKS: u64 = 128;

/// Limits computed before the fork, applied in the child.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rlimits {
    cpu_seconds: u64,
    memory: u64,
    file_size: u64,
    tasks: u64,
}

impl Rlimits {
    pub(crate) fn new(timeout: Duration, user_tasks: u64) -> Rlimits {
        Rlimits {
            cpu_seconds: timeout.as_secs_f64().ceil() as u64 + 1,
            memory: MEMORY_BYTES,
            file_size: FILE_SIZE_BYTES,
            tasks: user_tasks + EXTRA_TASKS,
        }
    }
}

/// Applies `limits` to the calling process. Async-signal-safe (only
/// getrlimit/setrlimit), so it may run between fork and exec. Never raises a
/// hard limit above the current one (which would need privileges).
pub(crate) fn apply_rlimits(limits: &Rlimits) -> io::Result<()> {
    set(libc::RLIMIT_CPU, limits.cpu_seconds, limits.cpu_seconds + 1)?;
    set(libc::RLIMIT_AS, limits.memory, limits.memory)?;
    set(libc::RLIMIT_FSIZE, limits.file_size, limits.file_size)?;
    set(libc::RLIMIT_CORE, 0, 0)?;
    set(libc::RLIMIT_NPROC, limits.tasks, limits.tasks)
}

#[cfg(target_env = "gnu")]
type Resource = libc::__rlimit_resource_t;
#[cfg(not(target_env = "gnu"))]
type Resource = libc::c_int;

fn set(resource: Resource, soft: u64, hard: u64) -> io::Result<()> {
    let mut current = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `current` is a valid, writable rlimit for getrlimit to fill.
    if unsafe { libc::getrlimit(resource, &mut current) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let hard = (hard as libc::rlim_t).min(current.rlim_max);
    let limit = libc::rlimit {
        rlim_cur: (soft as libc::rlim_t).min(hard),
        rlim_max: hard,
    };
    // SAFETY: `limit` is a valid rlimit; setrlimit only reads it.
    if unsafe { libc::setrlimit(resource, &limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Processes and threads whose real user is `uid`, from /proc (0 when /proc
/// cannot be read).
pub(crate) fn user_task_count(uid: u32) -> u64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    let mut tasks = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name
            .to_str()
            .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        {
            continue;
        }
        let Ok(status) = std::fs::read_to_string(entry.path().join("status")) else {
            continue;
        };
        let field = |key: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(key))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|value| value.parse::<u64>().ok())
        };
        if field("Uid:") == Some(u64::from(uid)) {
            tasks += field("Threads:").unwrap_or(1);
        }
    }
    tasks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_at_least_this_process() {
        // SAFETY: getuid has no preconditions.
        let uid = unsafe { libc::getuid() };
        assert!(user_task_count(uid) >= 1);
    }

    #[test]
    fn cpu_limit_rounds_the_timeout_up() {
        let limits = Rlimits::new(Duration::from_millis(1500), 10);
        assert_eq!(limits.cpu_seconds, 3);
        assert_eq!(limits.tasks, 10 + EXTRA_TASKS);
    }
}
