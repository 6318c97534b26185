//! Shutdown on a signal. SIGINT (Ctrl-C), SIGTERM (`timeout`, `kill`, CI
//! cancellation, Slurm, `docker stop`, Kubernetes) and SIGHUP (a closed
//! terminal) all mean the same: stop sending, record what is in flight as
//! cancelled, stop the checks, write the reports and mark the run
//! `interrupted`. A second signal exits at once (128 + its number); the
//! managed server's watchdog still stops the server then.

use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::watch;

/// The signals that stop a run, with their names.
const SIGNALS: [(libc::c_int, &str); 3] = [
    (libc::SIGINT, "Ctrl-C"),
    (libc::SIGTERM, "SIGTERM"),
    (libc::SIGHUP, "SIGHUP"),
];

/// The stopping signals, listened to from creation on (a signal is never
/// missed between two waits). Creating it replaces the default action (exit
/// at once) for as long as the process lives.
pub(crate) struct Signals {
    streams: Vec<(libc::c_int, &'static str, Signal)>,
}

impl Signals {
    pub(crate) fn listen() -> Signals {
        let mut streams = Vec::new();
        for (number, name) in SIGNALS {
            match signal(SignalKind::from_raw(number)) {
                Ok(stream) => streams.push((number, name, stream)),
                Err(error) => eprintln!("warning: cannot handle {name}: {error}"),
            }
        }
        Signals { streams }
    }

    /// Waits for the next stopping signal; returns its number and name.
    pub(crate) async fn next(&mut self) -> (libc::c_int, &'static str) {
        if self.streams.is_empty() {
            return std::future::pending().await;
        }
        let waits = self.streams.iter_mut().map(|(number, name, stream)| {
            let (number, name) = (*number, *name);
            Box::pin(async move {
                stream.recv().await;
                (number, name)
            })
        });
        futures_util::future::select_all(waits).await.0
    }
}

/// Handles signals for a whole `llmbench exec`: the first one turns
/// `cancel` true, the second exits the process at once.
pub(crate) fn cancel_on_signal(cancel: watch::Sender<bool>) {
    let mut signals = Signals::listen();
    tokio::spawn(async move {
        let (_, name) = signals.next().await;
        eprintln!(
            "\nstopping ({name}): no new requests; requests in flight are recorded as cancelled; \
             send it again to exit at once"
        );
        let _ = cancel.send(true);
        let (number, name) = signals.next().await;
        eprintln!("{name} again: exiting now; the run directory may be incomplete");
        std::process::exit(128 + number);
    });
}

/// Ignores SIGXFSZ, which the kernel sends when a write passes the file
/// size limit (`ulimit -f`) and which would end llmbench without a word:
/// ignored, the write fails with EFBIG ("File too large") and the error
/// names the file.
pub fn ignore_file_size_signal() {
    // SAFETY: setting a signal's disposition to SIG_IGN has no preconditions.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
}
