//! A managed server's whole process tree dies with llmbench: the server is
//! `sh -c` starting two more processes (as a wrapper script would), and
//! llmbench is stopped with SIGTERM (clean shutdown) or SIGKILL (the
//! watchdog's case). Survivors are looked up by process group in /proc.

use crate::fault_server::{experiment, Api, FaultServer, Reply};
use crate::support::{json, Workspace};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Processes whose process group is `group` (field 5 of /proc/PID/stat).
fn group_members(group: u32) -> Vec<u32> {
    let mut members = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // After the command name in parentheses: state, ppid, pgrp.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        let zombie = fields.first() == Some(&"Z");
        if !zombie && fields.get(2).and_then(|g| g.parse().ok()) == Some(group) {
            members.push(pid);
        }
    }
    members
}

/// Waits until the run's manifest names the managed server's pid.
fn server_pid(ws: &Workspace) -> u32 {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Some(run) = ws.runs().first() {
            let path = run.join("manifest.json");
            if let Ok(text) = std::fs::read_to_string(path) {
                let manifest: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
                if let Some(pid) = manifest["managed_server"]["pid"].as_u64() {
                    return pid as u32;
                }
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the managed server never started");
}

fn wait_until_gone(group: u32, within: Duration) -> Vec<u32> {
    let deadline = Instant::now() + within;
    loop {
        let members = group_members(group);
        if members.is_empty() || Instant::now() > deadline {
            return members;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_server_tree_dies_with_llmbench_on_sigterm_and_sigkill() {
    for signal in ["TERM", "KILL"] {
        let backend = FaultServer::start(Api::OpenAi, |_| Reply::Stream {
            chunks: 40,
            gap: Duration::from_millis(50),
        });
        let ws = Workspace::new();
        let server = "[server]\ncommand = [\"sh\", \"-c\", \"sleep 1001 & sleep 1002 & wait\"]\n\
                      health = \"/v1/models\"\nstop_timeout = \"2s\"\n";
        let text = experiment(Api::OpenAi, &backend.url(), "repetitions = 100", server);
        let file = ws.write("e.toml", &text);
        let mut child = Command::new(assert_cmd::cargo::cargo_bin("llmbench"))
            .args(["exec", &file.display().to_string(), "--out"])
            .arg(ws.path("runs"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn llmbench");
        let group = server_pid(&ws);
        std::thread::sleep(Duration::from_millis(500));
        assert!(group_members(group).len() >= 3, "sh and its two sleeps run");
        let sent = Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status()
            .expect("kill");
        assert!(sent.success());
        let _ = child.wait();
        let survivors = wait_until_gone(group, Duration::from_secs(10));
        assert!(
            survivors.is_empty(),
            "SIG{signal}: {survivors:?} outlived llmbench"
        );
        let run = ws.run();
        if signal == "TERM" {
            assert_eq!(json(&run.join("manifest.json"))["status"], "interrupted");
        } else {
            // The manifest still says `running`; `llmbench report` tells it
            // is dead (pid gone), not live.
            assert_eq!(json(&run.join("manifest.json"))["status"], "running");
            let report = Command::new(assert_cmd::cargo::cargo_bin("llmbench"))
                .args(["report", &run.display().to_string()])
                .output()
                .expect("llmbench report");
            let text = std::fs::read_to_string(run.join("report.md")).expect("report.md");
            assert!(
                text.contains("stopped without finishing") && !text.contains("The run is running"),
                "{}",
                String::from_utf8_lossy(&report.stderr)
            );
        }
    }
}
