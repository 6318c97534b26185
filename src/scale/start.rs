//! A common start for the shards of a launch, so that `split = load`
//! clients load the server together: `--start-at TIME` (each host's own
//! clock), or `--barrier DIR` on storage every shard sees. At the barrier
//! each shard writes `<launch>.<K>.ready`; the storage stamps it with its own
//! clock, which gives this host's clock offset from the storage's. Once all
//! N files are there, every shard starts 2 s after the newest stamp, on the
//! storage's clock corrected by its own offset, so the start does not hang
//! on how often each shard looks.

use crate::plan::shard_env::Placement;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// How long a barrier waits for the other shards.
pub(crate) const BARRIER_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// The start is this long after the last shard arrived.
const BARRIER_LEAD: Duration = Duration::from_secs(2);
const POLL: Duration = Duration::from_millis(100);

/// Why shards could not start together.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StartError {
    #[error("--start-at `{text}`: {source}; give an RFC 3339 time such as 2026-12-04T18:00:00Z")]
    BadTime {
        text: String,
        #[source]
        source: jiff::Error,
    },
    #[error("barrier {}: {source}", path.display())]
    Barrier {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "barrier {}: after {} min, shard(s) {missing:?} of launch {launch} have not arrived",
        dir.display(),
        BARRIER_TIMEOUT.as_secs() / 60
    )]
    NotArrived {
        dir: PathBuf,
        missing: Vec<u32>,
        launch: String,
    },
}

/// What the wait came to, for the manifest.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Started {
    /// The common start, RFC 3339 (this host's clock).
    pub start_at: Option<String>,
    /// This host's clock minus the storage's, ms.
    pub clock_offset_ms: Option<f64>,
}

/// Parses `--start-at`.
pub(crate) fn parse_start(text: &str) -> Result<jiff::Timestamp, StartError> {
    text.parse().map_err(|source| StartError::BadTime {
        text: text.to_string(),
        source,
    })
}

/// Waits for the barrier (when given), then until the start time.
pub(crate) async fn wait(
    start_at: Option<jiff::Timestamp>,
    barrier: Option<(&Path, &Placement)>,
) -> Result<Started, StartError> {
    let mut started = Started::default();
    let mut target = start_at.map(to_system);
    if let Some((dir, placement)) = barrier {
        let (opens, offset) = meet(dir, placement).await?;
        started.clock_offset_ms = Some(offset);
        target = target.max(Some(opens));
    }
    if let Some(target) = target {
        started.start_at = jiff::Timestamp::try_from(target)
            .ok()
            .map(|t| t.to_string());
        if let Ok(wait) = target.duration_since(SystemTime::now()) {
            eprintln!(
                "waiting {:.1} s for the common start ({})",
                wait.as_secs_f64(),
                started.start_at.as_deref().unwrap_or("?")
            );
            tokio::time::sleep(wait).await;
        }
    }
    Ok(started)
}

fn to_system(time: jiff::Timestamp) -> SystemTime {
    let nanos = time.as_nanosecond();
    let since = Duration::from_nanos(nanos.unsigned_abs() as u64);
    if nanos >= 0 {
        SystemTime::UNIX_EPOCH + since
    } else {
        SystemTime::UNIX_EPOCH
            .checked_sub(since)
            .unwrap_or(SystemTime::UNIX_EPOCH)
    }
}

fn ready_file(dir: &Path, launch: &str, index: u32) -> PathBuf {
    dir.join(format!("{launch}.{index}.ready"))
}

/// Announces this shard and waits for the others. Returns when to start
/// (this host's clock) and this host's clock offset from the storage's, ms.
async fn meet(dir: &Path, placement: &Placement) -> Result<(SystemTime, f64), StartError> {
    let error = |source: std::io::Error, path: &Path| StartError::Barrier {
        path: path.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(|e| error(e, dir))?;
    let mine = ready_file(dir, &placement.launch, placement.shard.index);
    let before = SystemTime::now();
    std::fs::write(
        &mine,
        format!("{}\n", crate::store::collect_environment().host),
    )
    .map_err(|e| error(e, &mine))?;
    let after = SystemTime::now();
    let stamped = modified(&mine).map_err(|e| error(e, &mine))?;
    let local = before + after.duration_since(before).unwrap_or_default() / 2;
    let offset_ms = signed_ms(local, stamped);
    let deadline = tokio::time::Instant::now() + BARRIER_TIMEOUT;
    loop {
        if let Some(newest) = all_ready(dir, placement)? {
            let opens = shift(newest + BARRIER_LEAD, offset_ms);
            return Ok((opens, offset_ms));
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(StartError::NotArrived {
                dir: dir.to_path_buf(),
                missing: missing(dir, placement),
                launch: placement.launch.clone(),
            });
        }
        tokio::time::sleep(POLL).await;
    }
}

fn modified(path: &Path) -> std::io::Result<SystemTime> {
    std::fs::metadata(path)?.modified()
}

/// `a − b` in ms (negative when `a` is earlier).
fn signed_ms(a: SystemTime, b: SystemTime) -> f64 {
    match a.duration_since(b) {
        Ok(d) => d.as_secs_f64() * 1e3,
        Err(e) => -e.duration().as_secs_f64() * 1e3,
    }
}

/// A storage-clock time on this host's clock.
fn shift(time: SystemTime, offset_ms: f64) -> SystemTime {
    let by = Duration::from_secs_f64(offset_ms.abs() / 1e3);
    if offset_ms >= 0.0 {
        time + by
    } else {
        time.checked_sub(by).unwrap_or(time)
    }
}

/// The newest ready stamp once every shard's file is there.
fn all_ready(dir: &Path, placement: &Placement) -> Result<Option<SystemTime>, StartError> {
    let mut newest = SystemTime::UNIX_EPOCH;
    for index in 0..placement.shard.count {
        match modified(&ready_file(dir, &placement.launch, index)) {
            Ok(time) => newest = newest.max(time),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(StartError::Barrier {
                    path: dir.to_path_buf(),
                    source,
                })
            }
        }
    }
    Ok(Some(newest))
}

fn missing(dir: &Path, placement: &Placement) -> Vec<u32> {
    (0..placement.shard.count)
        .filter(|&i| !ready_file(dir, &placement.launch, i).exists())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::shard::Shard;
    use crate::plan::shard_env::Engine;

    fn placement(index: u32) -> Placement {
        Placement {
            shard: Shard { index, count: 2 },
            launch: "l1".into(),
            engine: Engine::Flags,
        }
    }

    #[tokio::test]
    async fn the_barrier_opens_for_both_shards_at_the_same_moment() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().to_path_buf();
        let other = path.clone();
        let second = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            meet(&other, &placement(1)).await
        });
        let (first_opens, offset) = meet(&path, &placement(0)).await.expect("opens");
        let (second_opens, _) = second.await.expect("joins").expect("opens");
        let apart = signed_ms(first_opens, second_opens).abs();
        assert!(apart < 50.0, "both start together: {apart} ms apart");
        assert!(offset.abs() < 1000.0, "one machine, one clock: {offset} ms");
        let lead = signed_ms(first_opens, SystemTime::now());
        assert!(
            lead > 1000.0 && lead <= 2100.0,
            "starts 2 s after the last: {lead}"
        );
    }

    #[test]
    fn bad_start_times_say_what_to_give() {
        let error = parse_start("tomorrow").unwrap_err();
        assert!(matches!(error, StartError::BadTime { .. }), "{error:?}");
        assert!(
            std::error::Error::source(&error).is_some(),
            "jiff's error is kept"
        );
        assert!(error.to_string().contains("RFC 3339"), "{error}");
        assert!(parse_start("2026-12-04T18:00:00Z").is_ok());
    }
}
