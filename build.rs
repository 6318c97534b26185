//! Build script: records the git commit llmbench is built from, for
//! `llmbench --version` and each run's manifest. Outside a git checkout (a
//! crates.io tarball, a vendored copy) or without git, the commit is empty
//! and the version line says so; a packager may set LLMBENCH_BUILD_COMMIT.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=LLMBENCH_BUILD_COMMIT");
    let commit = std::env::var("LLMBENCH_BUILD_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(git_commit)
        .unwrap_or_default();
    watch_git_head();
    let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    let line = if commit.is_empty() {
        format!("{version} (commit unknown: built outside a git checkout)")
    } else {
        format!("{version} (commit {commit})")
    };
    println!("cargo:rustc-env=LLMBENCH_BUILD_COMMIT={commit}");
    println!("cargo:rustc-env=LLMBENCH_VERSION_LINE={line}");
}

/// `git rev-parse HEAD` in the package directory, or None.
fn git_commit() -> Option<String> {
    let out = git(&["rev-parse", "HEAD"])?;
    let commit = out.trim();
    (commit.len() == 40 && commit.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| commit.to_string())
}

/// Rebuild when HEAD moves (a commit, a checkout): the files git itself
/// names, so worktrees and packed refs work too.
fn watch_git_head() {
    for file in ["HEAD", "logs/HEAD"] {
        if let Some(path) = git(&["rev-parse", "--git-path", file]) {
            let path = path.trim();
            if std::path::Path::new(path).exists() {
                println!("cargo:rerun-if-changed={path}");
            }
        }
    }
}

fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).output().ok()?;
    if !output.status.success() {
        return None;
    }
    String::from_utf8(output.stdout).ok()
}
