//! Runs untrusted code (model output) as a limited child process. Each run
//! gets a fresh temporary directory (its cwd, HOME and TMPDIR; deleted after),
//! a cleared environment, stdin closed or fed from a pipe, rlimits (CPU ≈ the
//! timeout, 1 GiB address space, 16 MiB file size, no core files, a task
//! count), its own process group killed whole on timeout, and captured output
//! (first and last 32 KiB of each stream kept; over 1 MiB in all kills it).
//! Where `unshare` and `setpriv` work (probed once), the child also gets new
//! network, PID and mount namespaces — no network, a private /proc and
//! /dev, no /etc/shadow, an empty /run, every mount read-only except its
//! directory — and no capabilities. In every case a seccomp filter refuses
//! Unix-domain sockets (see [`super::seccomp`]). This is not a container: see
//! docs/quality.md for what it does and does not protect against.

use super::guard::{Group, WorkDir};
use super::limits::{apply_rlimits, user_task_count, Rlimits};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;
use tokio::sync::OnceCell;

pub(crate) use super::limits::{
    CHECKS_MEMORY_BYTES, FILE_SIZE_BYTES, MEMORY_BYTES, OUTPUT_KILL_BYTES,
};

/// Bytes kept from the start and from the end of each output stream.
const KEEP_BYTES: usize = 32 << 10;

/// How strongly a run is isolated, decided once per process by probing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    /// New network, PID and mount namespaces, read-only mounts except the
    /// work directory, all capabilities dropped; `user` when an unprivileged
    /// user namespace was needed (llmbench not run as root).
    Namespaces { user: bool },
    /// A new network namespace only.
    Network { user: bool },
    /// rlimits, process group and cleared environment only.
    None,
}

/// One program to run.
#[derive(Debug, Clone)]
pub(crate) struct Job {
    /// Absolute path of the program.
    pub program: PathBuf,
    pub args: Vec<String>,
    /// Files written into the work directory first: (name, contents).
    pub files: Vec<(String, Vec<u8>)>,
    /// Bytes fed on stdin; `None` closes stdin (/dev/null).
    pub stdin: Option<Vec<u8>>,
    pub timeout: Duration,
}

/// How the program ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exit {
    Code(i32),
    Signal(i32),
    Unknown,
}

/// What a run produced.
#[derive(Debug, Clone)]
pub(crate) struct Outcome {
    pub exit: Exit,
    /// Killed at the wall-clock timeout.
    pub timed_out: bool,
    /// Killed for writing more than `OUTPUT_KILL_BYTES` in all.
    pub output_exceeded: bool,
    /// Some output was dropped from the middle of a stream.
    pub truncated: bool,
    pub stdout: String,
    pub stderr: String,
    /// It timed out beside other runs and this is its second run, alone.
    pub rerun_alone: bool,
}

/// Why a check's program could not be run at all (as opposed to a run
/// that failed, timed out or was killed, which is an [`Outcome`]).
#[derive(Debug, thiserror::Error)]
pub(crate) enum SandboxError {
    #[error("cannot create a work directory: {0}")]
    WorkDir(#[source] std::io::Error),
    #[error("cannot write {name} to the work directory: {source}")]
    Write {
        name: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start {}: {source}", program.display())]
    Start {
        program: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("unshare not found")]
    NoUnshare,
    /// The run slots were closed: the process is shutting down.
    #[error("the sandbox is shutting down: {0}")]
    Closed(#[from] tokio::sync::AcquireError),
}

/// Runs `job` under the isolation found by [`isolation`], in one of the
/// [`PARALLEL_RUNS`] slots (so the runs together stay within
/// [`CHECKS_MEMORY_BYTES`]). A run that timed out while another ran beside
/// it may have been starved of CPU by its neighbour (a fork bomb, a busy
/// loop), so it runs once more alone: one answer cannot fail another's check.
pub(crate) async fn run(job: &Job) -> Result<Outcome, SandboxError> {
    let level = isolation().await;
    let (outcome, crowded) = {
        let _slot = SLOTS.acquire().await?;
        let _running = Running::enter();
        let outcome = execute(job, level).await?;
        (outcome, _running.crowded())
    };
    if !(outcome.timed_out && crowded) {
        return Ok(outcome);
    }
    let _all = SLOTS.acquire_many(PARALLEL_RUNS as u32).await?;
    let mut alone = execute(job, level).await?;
    alone.rerun_alone = true;
    Ok(alone)
}

/// Sandboxed runs at once: each process may map [`MEMORY_BYTES`], and the
/// runs together stay within [`CHECKS_MEMORY_BYTES`].
pub(crate) const PARALLEL_RUNS: usize = (CHECKS_MEMORY_BYTES / MEMORY_BYTES) as usize;

static SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(PARALLEL_RUNS);
/// Runs started so far and runs in progress, to tell whether a run had a
/// neighbour at any time.
static STARTED: AtomicU64 = AtomicU64::new(0);
static ACTIVE: AtomicU64 = AtomicU64::new(0);

/// One run in progress; knows whether another ran at any time beside it.
struct Running {
    ticket: u64,
    joined_others: bool,
}

impl Running {
    fn enter() -> Running {
        let ticket = STARTED.fetch_add(1, Ordering::SeqCst);
        let joined_others = ACTIVE.fetch_add(1, Ordering::SeqCst) > 0;
        Running {
            ticket,
            joined_others,
        }
    }

    fn crowded(&self) -> bool {
        self.joined_others || STARTED.load(Ordering::SeqCst) > self.ticket + 1
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        ACTIVE.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The isolation this machine allows (probed with `unshare` once, cached).
pub async fn isolation() -> Isolation {
    static LEVEL: OnceCell<Isolation> = OnceCell::const_new();
    *LEVEL.get_or_init(probe).await
}

async fn probe() -> Isolation {
    let candidates = [
        Isolation::Namespaces { user: false },
        Isolation::Namespaces { user: true },
        Isolation::Network { user: false },
        Isolation::Network { user: true },
    ];
    let job = Job {
        program: PathBuf::from("/bin/sh"),
        args: vec!["-c".into(), "exit 0".into()],
        files: Vec::new(),
        stdin: None,
        timeout: Duration::from_secs(10),
    };
    for level in candidates {
        if let Ok(outcome) = execute(&job, level).await {
            if outcome.exit == Exit::Code(0) {
                return level;
            }
        }
    }
    Isolation::None
}

/// The wrapper run as PID 1 of the namespaces: bind the work directory onto
/// itself (so it stays writable), replace /dev with a tmpfs holding only
/// null, zero, full, random, urandom and the fd links (no disks), cover the
/// password hashes (/etc/shadow, /etc/gshadow) with /dev/null and /run (where
/// daemons keep their sockets) with an empty tmpfs, remount
/// every mount read-only, then exec the program with every capability
/// dropped and no_new_privs (it cannot remount; setuid programs gain
/// nothing).
const WRAPPER: &str = r#"W="$1"; shift
fail() { echo "llmbench-sandbox: $1" >&2; exit 125; }
DEVS="null zero full random urandom"
mount --bind "$W" "$W" || fail "cannot bind the work directory"
mkdir "$W/.dev" || fail "cannot prepare /dev"
for d in $DEVS; do
  : > "$W/.dev/$d" && mount --bind "/dev/$d" "$W/.dev/$d" || fail "cannot bind /dev/$d"
done
mount -t tmpfs -o mode=755,size=64k llmbench-dev /dev || fail "cannot mount a private /dev"
for d in $DEVS; do
  : > "/dev/$d" && mount --bind "$W/.dev/$d" "/dev/$d" && umount "$W/.dev/$d" \
    || fail "cannot bind /dev/$d"
done
rm -rf "$W/.dev"
ln -s /proc/self/fd /dev/fd && ln -s fd/0 /dev/stdin && ln -s fd/1 /dev/stdout \
  && ln -s fd/2 /dev/stderr || fail "cannot link /dev/fd"
for f in /etc/shadow /etc/gshadow /etc/shadow- /etc/gshadow-; do
  [ -f "$f" ] || continue
  mount --bind /dev/null "$f" || fail "cannot hide $f"
done
for d in /run /var/run; do
  [ -d "$d" ] && [ ! -L "$d" ] || continue
  case "$W/" in "$d"/*) continue ;; esac
  mount -t tmpfs -o mode=755,size=64k llmbench-empty "$d" || fail "cannot hide $d"
done
mount -o remount,bind,ro / || fail "cannot make / read-only"
for m in $(cut -d' ' -f5 /proc/self/mountinfo); do
  [ "$m" = / ] || [ "$m" = "$W" ] || mount -o remount,bind,ro "$m" 2>/dev/null
done
cd "$W" || fail "cannot enter the work directory"
unset OLDPWD
exec setpriv --bounding-set=-all --inh-caps=-all --no-new-privs -- "$@""#;

fn unshare_path() -> Option<&'static str> {
    ["/usr/bin/unshare", "/bin/unshare"]
        .into_iter()
        .find(|path| Path::new(path).exists())
}

fn build_command(job: &Job, isolation: Isolation, dir: &Path) -> Result<Command, SandboxError> {
    let program = job.program.to_string_lossy().into_owned();
    let mut command = match isolation {
        Isolation::None => {
            let mut command = Command::new(&job.program);
            command.args(&job.args);
            command
        }
        Isolation::Namespaces { user } | Isolation::Network { user } => {
            let unshare = unshare_path().ok_or(SandboxError::NoUnshare)?;
            let mut command = Command::new(unshare);
            if user {
                command.args(["--user", "--map-root-user"]);
            }
            command.arg("--net");
            if matches!(isolation, Isolation::Namespaces { .. }) {
                command.args(["--pid", "--fork", "--kill-child", "--mount-proc"]);
                command.args(["/bin/sh", "-c", WRAPPER, "llmbench-sandbox"]);
                command.arg(dir);
            }
            command.arg(&program).args(&job.args);
            command
        }
    };
    let home = dir.as_os_str();
    command
        .current_dir(dir)
        .env_clear()
        .env("PATH", child_path(&job.program))
        .env("HOME", home)
        .env("TMPDIR", home)
        .env("LANG", "C.UTF-8")
        .stdin(if job.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    Ok(command)
}

/// PATH for the child: the program's own directory first (so `python3` in a
/// shell check is the interpreter llmbench found), then the system's.
fn child_path(program: &Path) -> String {
    let system = "/usr/local/bin:/usr/bin:/bin";
    match program.parent().and_then(Path::to_str) {
        Some(dir) if !dir.is_empty() && !system.split(':').any(|d| d == dir) => {
            format!("{dir}:{system}")
        }
        _ => system.to_string(),
    }
}

/// Runs `job` with the given isolation.
pub(crate) async fn execute(job: &Job, isolation: Isolation) -> Result<Outcome, SandboxError> {
    let dir = WorkDir::create().map_err(SandboxError::WorkDir)?;
    for (name, contents) in &job.files {
        std::fs::write(dir.path.join(name), contents).map_err(|source| SandboxError::Write {
            name: name.clone(),
            source,
        })?;
    }
    let uid = real_uid();
    let tasks = tokio::task::spawn_blocking(move || user_task_count(uid))
        .await
        .unwrap_or(0);
    let limits = Rlimits::new(job.timeout, tasks);
    // Mount points are compared by their real path in the wrapper.
    let real = std::fs::canonicalize(&dir.path).unwrap_or_else(|_| dir.path.clone());
    let mut command = build_command(job, isolation, &real)?;
    let filter = super::seccomp::program();
    // SAFETY: the closure runs between fork and exec and only calls
    // getrlimit/setrlimit and prctl, which are async-signal-safe, on values
    // copied or allocated before the fork.
    unsafe {
        command.pre_exec(move || {
            apply_rlimits(&limits)?;
            super::seccomp::install(&filter)
        });
    }
    let mut child = command.spawn().map_err(|source| SandboxError::Start {
        program: job.program.clone(),
        source,
    })?;
    let group = Group::new(child.id().map(|id| id as libc::pid_t).unwrap_or(0));
    let total = Arc::new(AtomicU64::new(0));
    let exceeded = Arc::new(AtomicBool::new(false));
    let read = |stream: Option<Box<dyn AsyncRead + Unpin + Send>>| {
        let (total, exceeded, handle) = (total.clone(), exceeded.clone(), group.handle());
        tokio::spawn(async move {
            match stream {
                Some(stream) => capture(stream, total, exceeded, handle).await,
                None => (Vec::new(), false),
            }
        })
    };
    let stdout = read(child.stdout.take().map(|s| Box::new(s) as _));
    let stderr = read(child.stderr.take().map(|s| Box::new(s) as _));
    let writer = match (child.stdin.take(), job.stdin.clone()) {
        (Some(mut pipe), Some(bytes)) => Some(tokio::spawn(async move {
            let _ = pipe.write_all(&bytes).await;
        })),
        _ => None,
    };
    let (status, timed_out) = match tokio::time::timeout(job.timeout, child.wait()).await {
        Ok(status) => (status.ok(), false),
        Err(_) => {
            group.kill();
            (child.wait().await.ok(), true)
        }
    };
    // Children left behind in the group (without a PID namespace) go too;
    // then the group id may be reused, so it is never signalled again.
    group.kill();
    group.disarm();
    if let Some(writer) = writer {
        writer.abort();
    }
    let grace = Duration::from_secs(2);
    let (out, out_cut) = finish(stdout, grace).await;
    let (err, err_cut) = finish(stderr, grace).await;
    let exit = match status {
        Some(status) => match (status.code(), status.signal()) {
            (Some(code), _) => Exit::Code(code),
            (None, Some(signal)) => Exit::Signal(signal),
            _ => Exit::Unknown,
        },
        None => Exit::Unknown,
    };
    Ok(Outcome {
        exit,
        timed_out,
        output_exceeded: exceeded.load(Ordering::SeqCst),
        truncated: out_cut || err_cut,
        stdout: out,
        stderr: err,
        rerun_alone: false,
    })
}

fn real_uid() -> u32 {
    // SAFETY: getuid cannot fail and has no preconditions.
    unsafe { libc::getuid() }
}

/// Waits for a capture task, giving up after `grace` (a descendant that left
/// the process group may hold the pipe open).
async fn finish(task: tokio::task::JoinHandle<(Vec<u8>, bool)>, grace: Duration) -> (String, bool) {
    let abort = task.abort_handle();
    match tokio::time::timeout(grace, task).await {
        Ok(Ok((bytes, cut))) => (String::from_utf8_lossy(&bytes).into_owned(), cut),
        _ => {
            abort.abort();
            (String::new(), true)
        }
    }
}

/// Reads a stream to its end, keeping its first and last `KEEP_BYTES`;
/// kills the group once all streams together pass `OUTPUT_KILL_BYTES`.
async fn capture(
    mut stream: Box<dyn AsyncRead + Unpin + Send>,
    total: Arc<AtomicU64>,
    exceeded: Arc<AtomicBool>,
    group: Group,
) -> (Vec<u8>, bool) {
    let (mut head, mut tail, mut dropped) = (Vec::new(), Vec::new(), 0usize);
    let mut buffer = vec![0u8; 16 << 10];
    loop {
        let count = match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(count) => count,
        };
        let seen = total.fetch_add(count as u64, Ordering::SeqCst) + count as u64;
        if seen > OUTPUT_KILL_BYTES && !exceeded.swap(true, Ordering::SeqCst) {
            group.kill();
        }
        let mut chunk = &buffer[..count];
        if head.len() < KEEP_BYTES {
            let take = chunk.len().min(KEEP_BYTES - head.len());
            head.extend_from_slice(&chunk[..take]);
            chunk = &chunk[take..];
        }
        tail.extend_from_slice(chunk);
        if tail.len() > 2 * KEEP_BYTES {
            let excess = tail.len() - KEEP_BYTES;
            tail.drain(..excess);
            dropped += excess;
        }
    }
    if dropped > 0 {
        head.extend_from_slice(format!("\n[… {dropped} bytes omitted …]\n").as_bytes());
    }
    head.extend_from_slice(&tail);
    (head, dropped > 0)
}

#[cfg(test)]
#[path = "sandbox_tests.rs"]
mod tests;
