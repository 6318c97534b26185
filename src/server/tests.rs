use super::*;
use std::collections::BTreeMap;

fn config(command: &[&str], health: &str, startup: Duration) -> ServerConfig {
    ServerConfig {
        command: command.iter().map(|s| s.to_string()).collect(),
        backend: "default".into(),
        env: BTreeMap::from([("LLMBENCH_TEST_VAR".to_string(), "42".to_string())]),
        cwd: std::env::temp_dir(),
        health: health.into(),
        startup_timeout: startup,
        stop_timeout: Duration::from_secs(2),
        points: vec![crate::experiment::ServerPoint::default()],
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

fn alive(pid: u32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    unsafe { libc::kill(pid as libc::pid_t, 0) == 0 }
}

#[test]
fn placeholders_come_from_the_backend_url() {
    let command = vec![
        "srv".to_string(),
        "--port={port}".into(),
        "{host}".into(),
        "{url}/x".into(),
    ];
    assert_eq!(
        substitute(&command, "http://127.0.0.1:18080"),
        [
            "srv",
            "--port=18080",
            "127.0.0.1",
            "http://127.0.0.1:18080/x"
        ]
    );
    assert_eq!(
        substitute(&["{port}".to_string()], "http://example")[0],
        "80"
    );
}

#[tokio::test]
async fn a_healthy_server_is_timed_logged_and_stopped_with_its_children() {
    let port = free_port();
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("server.log");
    // A shell that starts a child (sleep) and then serves HTTP via python.
    let script = "echo var=$LLMBENCH_TEST_VAR; sleep 600 & exec python3 -m http.server {port} --bind 127.0.0.1";
    let config = config(&["sh", "-c", script], "/", Duration::from_secs(20));
    let mut server = ManagedServer::start(&config, &format!("http://127.0.0.1:{port}"), &log)
        .await
        .expect("starts");
    assert!(server.ready_after > Duration::ZERO);
    let pid = server.pid().expect("pid");
    assert!(alive(pid));
    assert!(server.check_alive().is_ok());
    server.stop();
    assert!(!alive(pid), "server stopped");
    let text = std::fs::read_to_string(&log).expect("log");
    assert!(
        text.contains("var=42"),
        "env passed and output captured: {text}"
    );
    let leftover = std::process::Command::new("pgrep")
        .args(["-f", "sleep 600"])
        .output()
        .map(|o| o.stdout)
        .unwrap_or_default();
    assert!(
        leftover.is_empty(),
        "the server's child was stopped with its group"
    );
}

#[tokio::test]
async fn a_server_that_never_becomes_healthy_is_an_error_and_is_stopped() {
    let port = free_port();
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config(&["sleep", "30"], "/health", Duration::from_millis(600));
    let error = ManagedServer::start(
        &config,
        &format!("http://127.0.0.1:{port}"),
        &dir.path().join("log"),
    )
    .await
    .err()
    .expect("fails");
    assert!(matches!(error, ServerError::NotHealthy { .. }), "{error}");
    assert!(
        error
            .to_string()
            .contains(&format!("127.0.0.1:{port}/health")),
        "{error}"
    );
}

#[tokio::test]
async fn a_server_that_exits_at_once_says_so() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config(
        &["sh", "-c", "echo boom >&2; exit 3"],
        "/health",
        Duration::from_secs(10),
    );
    let error = ManagedServer::start(
        &config,
        "http://127.0.0.1:1",
        &dir.path().join("server.log"),
    )
    .await
    .err()
    .expect("fails");
    assert!(matches!(error, ServerError::Exited { .. }), "{error}");
    assert!(error.to_string().contains("exit status: 3"), "{error}");
    let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default();
    assert!(log.contains("boom"));
}

#[tokio::test]
async fn a_missing_program_is_named() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config(&["/no/such/program"], "/health", Duration::from_secs(1));
    let error = ManagedServer::start(&config, "http://127.0.0.1:1", &dir.path().join("log"))
        .await
        .err()
        .expect("fails");
    assert!(error.to_string().contains("/no/such/program"), "{error}");
}

#[tokio::test]
async fn a_server_ignoring_sigterm_is_killed() {
    let port = free_port();
    let dir = tempfile::tempdir().expect("temp dir");
    let script = "trap '' TERM; exec python3 -c \"import signal,http.server as h; signal.signal(signal.SIGTERM, signal.SIG_IGN); h.HTTPServer(('127.0.0.1', {port}), h.SimpleHTTPRequestHandler).serve_forever()\"";
    let mut config = config(&["sh", "-c", script], "/", Duration::from_secs(20));
    config.stop_timeout = Duration::from_millis(300);
    let mut server = ManagedServer::start(
        &config,
        &format!("http://127.0.0.1:{port}"),
        &dir.path().join("log"),
    )
    .await
    .expect("starts");
    let pid = server.pid().expect("pid");
    let started = Instant::now();
    server.stop();
    assert!(!alive(pid), "killed after the stop timeout");
    assert!(started.elapsed() >= Duration::from_millis(300));
}
