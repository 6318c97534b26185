//! Code checks. `python`: the reply's code (its python block, else its first
//! fenced block, else the whole reply) with the tests appended is written to
//! main.py and run with `python3 -I` in the sandbox; it passes when Python
//! exits 0. `shell`: `sh -c COMMAND` with the reply on stdin; exit 0 passes.
//! A failure's reason is the exception line with the failing source line and
//! where it is ("tests line 2"), the timeout, the limit hit, or the exit.

use super::sandbox::{self, Exit, Job, Outcome, OUTPUT_KILL_BYTES};
use super::text::{dedent, extract_code_block, last_line, preview};
use crate::util::format_duration;
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::OnceCell;

/// Longest reason kept, in characters.
const REASON_CHARS: usize = 300;

/// The Python 3 interpreter: `python3` as found on llmbench's own PATH,
/// resolved to the real executable (version-manager shims need environment
/// the sandbox clears), else /usr/bin/python3. Probed once.
pub async fn python_interpreter() -> Option<PathBuf> {
    static PYTHON: OnceCell<Option<PathBuf>> = OnceCell::const_new();
    PYTHON.get_or_init(find_python).await.clone()
}

async fn find_python() -> Option<PathBuf> {
    let mut probe = tokio::process::Command::new("python3");
    probe
        .args(["-I", "-c", "import sys; print(sys.executable)"])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true);
    let found = match tokio::time::timeout(Duration::from_secs(20), probe.output()).await {
        Ok(Ok(output)) if output.status.success() => {
            let path = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
            Some(path).filter(|p| p.is_absolute() && p.exists())
        }
        _ => None,
    };
    found.or_else(|| Some(PathBuf::from("/usr/bin/python3")).filter(|p| p.exists()))
}

/// Runs a python check.
pub(crate) async fn python(
    response: &str,
    tests: &str,
    timeout: Duration,
    language: Option<&str>,
) -> (bool, String) {
    let Some(python) = python_interpreter().await else {
        return (
            false,
            "python3 not found; install Python 3 to run python checks".into(),
        );
    };
    let code = extract_code_block(response, Some(language.unwrap_or("python")))
        .or_else(|| extract_code_block(response, None))
        .unwrap_or_else(|| response.trim().to_string());
    let code_lines = code.lines().count();
    let program = format!("{code}\n\n# --- llmbench tests ---\n{}\n", dedent(tests));
    let job = Job {
        program: python,
        args: vec!["-I".into(), "main.py".into()],
        files: vec![("main.py".into(), program.into_bytes())],
        stdin: None,
        timeout,
    };
    let outcome = match sandbox::run(&job).await {
        Ok(outcome) => outcome,
        Err(error) => return (false, error.to_string()),
    };
    judge(&outcome, timeout, || {
        python_failure(&outcome.stderr, code_lines)
    })
}

/// Runs a shell check.
pub(crate) async fn shell(response: &str, command: &str, timeout: Duration) -> (bool, String) {
    let job = Job {
        program: PathBuf::from("/bin/sh"),
        args: vec!["-c".into(), command.into()],
        files: Vec::new(),
        stdin: Some(response.as_bytes().to_vec()),
        timeout,
    };
    let outcome = match sandbox::run(&job).await {
        Ok(outcome) => outcome,
        Err(error) => return (false, error.to_string()),
    };
    judge(&outcome, timeout, || {
        last_line(&outcome.stderr)
            .or_else(|| last_line(&outcome.stdout))
            .unwrap_or_default()
            .to_string()
    })
}

/// Pass/fail and reason for a finished run; `detail` explains an ordinary
/// non-zero exit (the exception, the command's last words).
fn judge(outcome: &Outcome, timeout: Duration, detail: impl FnOnce() -> String) -> (bool, String) {
    if outcome.timed_out {
        let alone = if outcome.rerun_alone {
            " (also when run alone)"
        } else {
            ""
        };
        return (
            false,
            format!(
                "timed out after {}{alone}; killed",
                format_duration(timeout)
            ),
        );
    }
    if outcome.output_exceeded {
        let mib = OUTPUT_KILL_BYTES >> 20;
        return (
            false,
            format!("output over the {mib} MiB limit; killed (output truncated)"),
        );
    }
    if outcome.stderr.contains("llmbench-sandbox: ") && outcome.exit == Exit::Code(125) {
        let line = last_line(&outcome.stderr).unwrap_or_default();
        return (false, format!("sandbox setup failed: {line}"));
    }
    let note = if outcome.truncated {
        "output truncated"
    } else {
        ""
    };
    let (passed, reason) = match outcome.exit {
        Exit::Code(0) => (true, note.to_string()),
        Exit::Code(code) => {
            let detail = detail();
            let status = format!("exit status {code}");
            let mut reason = if detail.is_empty() { status } else { detail };
            if !note.is_empty() {
                reason.push_str(" (output truncated)");
            }
            (false, reason)
        }
        Exit::Signal(signal) => (false, signal_reason(signal, outcome)),
        Exit::Unknown => (false, "the process ended in an unknown way".into()),
    };
    (passed, preview(&reason, REASON_CHARS))
}

fn signal_reason(signal: i32, outcome: &Outcome) -> String {
    match signal {
        libc::SIGXCPU => "CPU time limit reached (SIGXCPU); killed".into(),
        libc::SIGXFSZ => format!(
            "file size limit ({} MiB) exceeded (SIGXFSZ)",
            sandbox::FILE_SIZE_BYTES >> 20
        ),
        libc::SIGKILL => "killed (SIGKILL; memory or CPU limit?)".into(),
        libc::SIGSEGV => match last_line(&outcome.stderr) {
            Some(line) => format!("crashed (SIGSEGV): {line}"),
            None => "crashed (SIGSEGV)".into(),
        },
        other => format!("killed by signal {other}"),
    }
}

/// "AssertionError: msg — `assert f(1) == 2` (tests line 3)" from a Python
/// traceback: the last line, and the source line of the innermost main.py
/// frame, located in the code or in the tests.
pub(crate) fn python_failure(stderr: &str, code_lines: usize) -> String {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    let Some(last) = lines.last().map(|l| l.trim()) else {
        return String::new();
    };
    let mut location = None;
    for (index, line) in lines.iter().enumerate() {
        let Some(number) = main_py_line(line) else {
            continue;
        };
        let source = lines
            .get(index + 1)
            .filter(|next| index + 2 < lines.len() && !is_marker(next))
            .map(|next| next.trim())
            .filter(|next| !next.starts_with("File \""));
        location = Some((number, source));
    }
    let Some((number, source)) = location else {
        return last.to_string();
    };
    let place = if number > code_lines + 2 {
        format!("tests line {}", number - code_lines - 2)
    } else {
        format!("code line {number}")
    };
    match source {
        Some(source) => format!("{last} — `{}` ({place})", preview(source, 120)),
        None => format!("{last} ({place})"),
    }
}

/// The line number of a `File "…/main.py", line N` traceback line.
fn main_py_line(line: &str) -> Option<usize> {
    let rest = line.trim_start().strip_prefix("File \"")?;
    let (path, rest) = rest.split_once('"')?;
    if path != "main.py" && !path.ends_with("/main.py") {
        return None;
    }
    let digits: String = rest
        .trim_start_matches(", line ")
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// Python 3.11+ caret lines under the failing expression.
fn is_marker(line: &str) -> bool {
    let trimmed = line.trim();
    !trimmed.is_empty() && trimmed.chars().all(|c| matches!(c, '^' | '~' | ' '))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_failure_points_at_the_test() {
        let stderr = "Traceback (most recent call last):\n  File \"/tmp/x/main.py\", line 7, in <module>\n    assert fizzbuzz(5) == [\"1\"]\n           ^^^^^^^^^^^\nAssertionError\n";
        assert_eq!(
            python_failure(stderr, 3),
            "AssertionError — `assert fizzbuzz(5) == [\"1\"]` (tests line 2)"
        );
    }

    #[test]
    fn python_failure_points_into_the_code() {
        let stderr = "Traceback (most recent call last):\n  File \"main.py\", line 9, in <module>\n    f(0)\n  File \"main.py\", line 2, in f\n    return 1 / x\n           ~~^~~\nZeroDivisionError: division by zero";
        assert_eq!(
            python_failure(stderr, 4),
            "ZeroDivisionError: division by zero — `return 1 / x` (code line 2)"
        );
        let syntax =
            "  File \"/w/main.py\", line 1\n    def f(:\n          ^\nSyntaxError: invalid syntax";
        assert_eq!(
            python_failure(syntax, 2),
            "SyntaxError: invalid syntax — `def f(:` (code line 1)"
        );
        assert_eq!(python_failure("MemoryError\n", 1), "MemoryError");
        assert_eq!(python_failure("", 1), "");
    }
}
