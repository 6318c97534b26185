//! Guards for one sandboxed run: the child's process group (killed whole,
//! and never signalled once its id may have been reused) and the private
//! work directory (created fresh with mode 0700, removed when dropped).

use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// The child's process group. Signalled only while armed: once the leader is
/// reaped and the group emptied, the id may be reused by the system. Handles
/// share the armed flag; the original also kills when dropped (a run whose
/// future is cancelled leaves nothing behind).
pub(crate) struct Group {
    pgid: libc::pid_t,
    armed: Arc<AtomicBool>,
    owner: bool,
}

impl Group {
    pub(crate) fn new(pgid: libc::pid_t) -> Group {
        Group {
            pgid,
            armed: Arc::new(AtomicBool::new(pgid > 0)),
            owner: true,
        }
    }

    pub(crate) fn handle(&self) -> Group {
        Group {
            pgid: self.pgid,
            armed: self.armed.clone(),
            owner: false,
        }
    }

    /// SIGKILL to the whole group (never to group 0, our own).
    pub(crate) fn kill(&self) {
        if self.pgid > 0 && self.armed.load(Ordering::SeqCst) {
            // SAFETY: killpg has no memory-safety preconditions; ESRCH (group
            // already gone) is the expected outcome after a normal exit.
            unsafe {
                libc::killpg(self.pgid, libc::SIGKILL);
            }
        }
    }

    pub(crate) fn disarm(&self) {
        self.armed.store(false, Ordering::SeqCst);
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        if self.owner {
            self.kill();
        }
    }
}

/// A fresh private directory under the system temporary directory, removed
/// (best effort) when dropped.
pub(crate) struct WorkDir {
    pub(crate) path: PathBuf,
}

impl WorkDir {
    pub(crate) fn create() -> io::Result<WorkDir> {
        use std::os::unix::fs::DirBuilderExt;
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let base = std::env::temp_dir();
        let mut last = io::Error::other("no attempt");
        for _ in 0..16 {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
            let name = format!(
                "llmbench-check-{}-{}-{nanos:x}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            );
            let path = base.join(name);
            match std::fs::DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => return Ok(WorkDir { path }),
                Err(error) => last = error,
            }
        }
        Err(last)
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
