//! Sandbox tests with plain `sh` jobs, under both the probed isolation and
//! none at all (the fallback must hold on its own): the environment is
//! cleared, the group is killed on timeout, output is capped, the work
//! directory is removed, and — where namespaces work — no network and a
//! read-only filesystem outside the work directory.

use super::*;

fn sh(script: &str, timeout_ms: u64) -> Job {
    Job {
        program: PathBuf::from("/bin/sh"),
        args: vec!["-c".into(), script.into()],
        files: Vec::new(),
        stdin: None,
        timeout: Duration::from_millis(timeout_ms),
    }
}

async fn levels() -> Vec<Isolation> {
    let probed = isolation().await;
    if probed == Isolation::None {
        vec![Isolation::None]
    } else {
        vec![probed, Isolation::None]
    }
}

/// Processes whose command line contains `marker` (from /proc).
fn processes_with(marker: &str) -> usize {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    entries
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .filter(|cmdline| String::from_utf8_lossy(cmdline).contains(marker))
        .count()
}

fn marker() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(7);
    format!("{}.{:09}", 900 + std::process::id() % 100, nanos)
}

#[tokio::test]
async fn environment_is_cleared_and_home_is_the_work_directory() {
    for level in levels().await {
        let job = sh("env | sort; pwd", 5000);
        let outcome = execute(&job, level).await.expect("runs");
        assert_eq!(outcome.exit, Exit::Code(0), "{level:?}: {}", outcome.stderr);
        let names: Vec<&str> = outcome
            .stdout
            .lines()
            .filter_map(|l| l.split_once('=').map(|(k, _)| k))
            .collect();
        for name in &names {
            assert!(
                ["HOME", "LANG", "PATH", "PWD", "TMPDIR", "SHLVL", "_"].contains(name),
                "{level:?}: unexpected variable {name}"
            );
        }
        let home = outcome
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix("HOME="))
            .expect("HOME");
        assert!(home.contains("llmbench-check-"), "{home}");
        assert_eq!(outcome.stdout.lines().last(), Some(home));
        assert!(
            !Path::new(home).exists(),
            "work directory {home} left behind"
        );
    }
}

#[tokio::test]
async fn timeout_kills_the_whole_group() {
    for level in levels().await {
        let marker = marker();
        let job = sh(&format!("sleep {marker} & sleep {marker}; echo never"), 300);
        let started = std::time::Instant::now();
        let outcome = execute(&job, level).await.expect("runs");
        assert!(outcome.timed_out, "{level:?}");
        assert!(started.elapsed() < Duration::from_secs(3), "{level:?}");
        assert!(!outcome.stdout.contains("never"));
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(processes_with(&marker), 0, "{level:?}: sleeps survived");
    }
}

#[tokio::test]
async fn background_children_are_killed_after_a_normal_exit() {
    for level in levels().await {
        let marker = marker();
        // The child keeps no pipe open, so only the group kill ends it.
        let job = sh(&format!("sleep {marker} >/dev/null 2>&1 & exit 0"), 5000);
        let outcome = execute(&job, level).await.expect("runs");
        assert_eq!(outcome.exit, Exit::Code(0));
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(
            processes_with(&marker),
            0,
            "{level:?}: background sleep survived"
        );
    }
}

#[tokio::test]
async fn output_is_capped_and_a_flood_is_killed() {
    for level in levels().await {
        // 200 KB: kept head and tail, middle dropped, run finishes.
        let outcome = execute(
            &sh("head -c 200000 /dev/zero | tr '\\0' x; echo END", 5000),
            level,
        )
        .await
        .expect("runs");
        assert_eq!(outcome.exit, Exit::Code(0));
        assert!(outcome.truncated && !outcome.output_exceeded);
        assert!(
            outcome.stdout.len() < 3 * KEEP_BYTES,
            "{}",
            outcome.stdout.len()
        );
        assert!(outcome.stdout.contains("bytes omitted") && outcome.stdout.ends_with("END\n"));
        // An endless flood is killed once it passes the limit, long before the timeout.
        let started = std::time::Instant::now();
        let outcome = execute(&sh("yes", 10_000), level).await.expect("runs");
        assert!(outcome.output_exceeded && !outcome.timed_out, "{level:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}

#[tokio::test]
async fn stdin_is_fed_or_closed() {
    let mut job = sh("wc -c", 5000);
    job.stdin = Some(b"hello".to_vec());
    let outcome = run(&job).await.expect("runs");
    assert_eq!(outcome.stdout.trim(), "5");
    let outcome = run(&sh("cat; echo done", 5000)).await.expect("runs");
    assert_eq!(outcome.stdout, "done\n");
}

#[tokio::test]
async fn file_size_limit_holds() {
    let job = sh(
        "head -c 20000000 /dev/zero > big; echo $?; wc -c < big",
        5000,
    );
    let outcome = run(&job).await.expect("runs");
    let size: u64 = outcome
        .stdout
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(0);
    assert!(size <= FILE_SIZE_BYTES, "{size}");
}

#[tokio::test]
async fn namespaces_remove_network_and_write_access() {
    let level = isolation().await;
    if !matches!(level, Isolation::Namespaces { .. }) {
        eprintln!("skipped: no namespaces here ({level:?})");
        return;
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    let escape = std::env::temp_dir().join(format!("llmbench-escape-{}", marker()));
    let script = format!(
        "(exec 3<>/dev/tcp/127.0.0.1/{port}) 2>/dev/null && echo connected; \
         echo x > {} 2>/dev/null && echo escaped; echo ok > inside && cat inside; \
         ls /proc | grep -c '^[0-9]'; mount -o remount,rw / 2>/dev/null && echo remounted; \
         grep CapEff /proc/self/status; ls /dev | tr '\\n' ' '",
        escape.display()
    );
    let mut job = sh(&script, 5000);
    job.program = PathBuf::from("/bin/bash");
    if !job.program.exists() {
        job.program = PathBuf::from("/bin/sh");
    }
    let outcome = execute(&job, level).await.expect("runs");
    assert!(!outcome.stdout.contains("connected"), "{}", outcome.stdout);
    assert!(!outcome.stdout.contains("escaped") && !escape.exists());
    let lines: Vec<&str> = outcome.stdout.lines().collect();
    assert_eq!(lines.first(), Some(&"ok"), "{}", outcome.stderr);
    // A private /proc shows only the sandbox's own processes.
    let visible: usize = lines
        .get(1)
        .and_then(|l| l.parse().ok())
        .unwrap_or(usize::MAX);
    assert!(visible < 10, "{visible}");
    // No capabilities: the read-only remount cannot be undone.
    assert!(!outcome.stdout.contains("remounted"));
    assert_eq!(lines.get(2).copied(), Some("CapEff:\t0000000000000000"));
    // A private /dev: no disks.
    assert_eq!(
        lines.get(3).copied(),
        Some("fd full null random stderr stdin stdout urandom zero ")
    );
}

/// A Unix socket listening outside, in a directory the sandbox can see
/// (read-only mounts do not stop `connect`): nothing inside may reach it,
/// under any isolation level.
#[tokio::test]
async fn unix_sockets_outside_cannot_be_reached() {
    let python = match crate::quality::python_interpreter().await {
        Some(python) => python,
        None => {
            eprintln!("skipped: no python3");
            return;
        }
    };
    let dir = std::env::temp_dir().join(format!("llmbench-sock-{}", marker()));
    std::fs::create_dir_all(&dir).expect("socket directory");
    let path = dir.join("outside.sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let script = format!(
        "import socket\ntry:\n    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n    \
         s.connect({:?})\n    s.sendall(b'hello-from-sandbox')\n    print('connected')\n\
         except OSError as e:\n    print('refused', e.errno)\n",
        path.display().to_string()
    );
    for level in levels().await {
        let job = Job {
            program: python.clone(),
            args: vec!["-I".into(), "main.py".into()],
            files: vec![("main.py".into(), script.clone().into_bytes())],
            stdin: None,
            timeout: Duration::from_secs(20),
        };
        let outcome = execute(&job, level).await.expect("runs");
        let accepted = listener.accept().is_ok();
        assert!(
            !accepted && !outcome.stdout.contains("connected"),
            "{level:?}: {} {}",
            outcome.stdout,
            outcome.stderr
        );
        assert_eq!(
            outcome.stdout.trim(),
            format!("refused {}", libc::EACCES),
            "{level:?}: {}",
            outcome.stderr
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn password_hashes_and_run_are_hidden() {
    let level = isolation().await;
    if !matches!(level, Isolation::Namespaces { .. }) {
        eprintln!("skipped: no namespaces here ({level:?})");
        return;
    }
    let job = sh("wc -c < /etc/shadow; ls -A /run", 5000);
    let outcome = execute(&job, level).await.expect("runs");
    let lines: Vec<&str> = outcome.stdout.lines().map(str::trim).collect();
    assert_eq!(lines.first(), Some(&"0"), "{}", outcome.stderr);
    // Only util-linux's own mount table (written by the wrapper's mounts).
    assert!(
        lines[1..].iter().all(|entry| *entry == "mount"),
        "{lines:?}"
    );
}

/// A run that keeps every core busy (here 32 busy loops, as a fork bomb
/// would under the task limit) beside a benign run needing ~0.3 s of CPU
/// within 2 s: the benign one passes (run again alone), the hog times out.
#[tokio::test]
async fn a_cpu_hog_beside_a_check_does_not_fail_it() {
    let hog = sh(
        "for i in $(seq 32); do (while :; do :; done) & done; wait",
        3000,
    );
    let benign = sh(
        "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; echo finished",
        2000,
    );
    let (hog, benign) = tokio::join!(run(&hog), async {
        // Let the hog spin up first.
        tokio::time::sleep(Duration::from_millis(300)).await;
        run(&benign).await
    });
    let (hog, benign) = (hog.expect("hog runs"), benign.expect("benign runs"));
    assert!(hog.timed_out, "{hog:?}");
    assert!(!benign.timed_out, "{benign:?}");
    assert_eq!(benign.exit, Exit::Code(0), "{}", benign.stderr);
    assert_eq!(benign.stdout.trim(), "finished");
}

#[tokio::test]
async fn a_program_that_cannot_start_is_an_error_that_keeps_its_cause() {
    use std::error::Error;
    let job = Job {
        program: PathBuf::from("/nonexistent/llmbench-check"),
        ..sh("true", 2_000)
    };
    let error = execute(&job, Isolation::None)
        .await
        .expect_err("no such program");
    assert!(matches!(error, SandboxError::Start { .. }), "{error:?}");
    assert!(
        error.to_string().contains("/nonexistent/llmbench-check"),
        "{error}"
    );
    let cause = error.source().expect("the spawn error is kept");
    let io = cause
        .downcast_ref::<std::io::Error>()
        .expect("an io::Error");
    assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
}
