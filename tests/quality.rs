//! Quality checks end to end through the public API: each check kind passing
//! and failing with its reason, the python check on a right and a wrong
//! fizzbuzz, and untrusted code that loops forever, allocates without bound,
//! forks, writes outside its directory, looks for a secret in its
//! environment, or prints megabytes — each stopped or contained, recorded
//! with a reason, and the checks after it still run. Scores are checked
//! against hand-worked values. Python tests skip (with a note) where no
//! python3 exists.

use llmbench::quality::{
    pass_at_k, pass_rate, python_interpreter, run_checks, run_many, sandbox, wilson_interval,
    CheckResult, CheckSpec,
};
use std::time::{Duration, Instant};

const FIZZBUZZ_TESTS: &str = r#"
    assert fizzbuzz(5) == ["1", "2", "Fizz", "4", "Buzz"]
    assert fizzbuzz(15)[-1] == "FizzBuzz"
    assert fizzbuzz(0) == []
"#;

const FIZZBUZZ_RIGHT: &str = "Here is the function:\n\n```python\ndef fizzbuzz(n):\n    out = []\n    for i in range(1, n + 1):\n        if i % 15 == 0:\n            out.append(\"FizzBuzz\")\n        elif i % 3 == 0:\n            out.append(\"Fizz\")\n        elif i % 5 == 0:\n            out.append(\"Buzz\")\n        else:\n            out.append(str(i))\n    return out\n```\n\nIt loops from 1 to n.";

fn python(tests: &str, timeout: &str) -> CheckSpec {
    CheckSpec::Python {
        tests: tests.into(),
        timeout: timeout.into(),
        language_block: None,
    }
}

fn shell(command: &str) -> CheckSpec {
    CheckSpec::Shell {
        command: command.into(),
        timeout: "5s".into(),
    }
}

fn contains(value: &str) -> CheckSpec {
    CheckSpec::Contains {
        value: value.into(),
        ignore_case: false,
    }
}

fn block(code: &str) -> String {
    format!("Sure.\n```python\n{code}\n```\n")
}

/// Unique text to find the processes a test started.
fn marker() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() % 1_000_000_000)
        .unwrap_or(1);
    format!("{}.{nanos:09}", 800 + std::process::id() % 100)
}

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

async fn have_python() -> bool {
    let found = python_interpreter().await.is_some();
    if !found {
        eprintln!("skipped: no python3");
    }
    found
}

/// Runs `checks` and asserts the last one (a plain `contains`) still ran.
async fn run_then_more(checks: Vec<CheckSpec>, response: &str) -> Vec<CheckResult> {
    let mut all = checks;
    all.push(contains("```"));
    let results = run_checks(&all, response).await;
    let last = results.last().expect("results");
    assert!(
        last.kind == "contains" && last.passed,
        "the run went on: {last:?}"
    );
    results
}

#[tokio::test]
async fn text_and_shell_checks_pass_and_fail_with_reasons() {
    let reply = "```json\n{\"city\": \"Paris\", \"population\": 2100000}\n```";
    let schema = serde_json::json!({
        "type": "object",
        "required": ["city"],
        "properties": {"population": {"type": "integer", "maximum": 1000000}}
    });
    let checks = vec![
        contains("Paris"),
        contains("Lyon"),
        CheckSpec::NotContains {
            value: "paris".into(),
            ignore_case: true,
        },
        CheckSpec::Regex {
            pattern: r#""population": \d+"#.into(),
        },
        CheckSpec::Equals {
            value: "Paris".into(),
            ignore_case: false,
        },
        CheckSpec::Json { schema: None },
        CheckSpec::Json {
            schema: Some(schema),
        },
        CheckSpec::MaxWords { value: 6 },
        shell("grep -q Paris"),
        shell("echo 'no Lyon here' >&2; exit 3"),
    ];
    let results = run_checks(&checks, reply).await;
    let passed: Vec<bool> = results.iter().map(|r| r.passed).collect();
    let expected = [
        true, false, false, true, false, true, false, true, true, false,
    ];
    assert_eq!(passed, expected, "{results:#?}");
    let kinds: Vec<&str> = results.iter().map(|r| r.kind.as_str()).collect();
    assert_eq!(kinds[7..], ["max_words", "shell", "shell"]);
    assert_eq!(results[1].reason, "\"Lyon\" not found");
    assert!(
        results[2].reason.starts_with("\"paris\" found at byte"),
        "{}",
        results[2].reason
    );
    assert!(
        results[4]
            .reason
            .starts_with("expected \"Paris\", got \"```json"),
        "{}",
        results[4].reason
    );
    assert_eq!(
        results[6].reason,
        "schema: $.population: 2100000 is above the maximum 1000000"
    );
    assert_eq!(results[9].reason, "no Lyon here");
    let failing = run_checks(&[CheckSpec::MaxWords { value: 1 }], "two words").await;
    assert_eq!(failing[0].reason, "2 words, limit 1");
    let silent = run_checks(&[shell("exit 4")], "").await;
    assert_eq!(silent[0].reason, "exit status 4");
}

#[tokio::test]
async fn python_check_passes_a_right_fizzbuzz_and_fails_a_wrong_one() {
    if !have_python().await {
        return;
    }
    let check = vec![python(FIZZBUZZ_TESTS, "10s")];
    let right = run_checks(&check, FIZZBUZZ_RIGHT).await;
    assert!(right[0].passed, "{:?}", right[0]);
    assert_eq!(right[0].reason, "");
    // Off by one: stops before n.
    let wrong_reply = FIZZBUZZ_RIGHT.replace("range(1, n + 1)", "range(1, n)");
    let wrong = run_checks(&check, &wrong_reply).await;
    assert!(!wrong[0].passed);
    assert_eq!(
        wrong[0].reason,
        "AssertionError — `assert fizzbuzz(5) == [\"1\", \"2\", \"Fizz\", \"4\", \"Buzz\"]` (tests line 2)"
    );
    // A reply that is not code at all.
    let prose = run_checks(&check, "I cannot write that function.").await;
    assert!(
        prose[0].reason.starts_with("SyntaxError"),
        "{}",
        prose[0].reason
    );
    // An exception inside the model's code points into the code.
    let crash = run_checks(&check, &block("def fizzbuzz(n):\n    return 1 / 0")).await;
    assert_eq!(
        crash[0].reason,
        "ZeroDivisionError: division by zero — `return 1 / 0` (code line 2)"
    );
}

#[tokio::test]
async fn code_that_loops_forever_is_killed_with_its_process_group() {
    if !have_python().await {
        return;
    }
    let marker = marker();
    let code = format!(
        "import subprocess\nsubprocess.Popen(['sleep', '{marker}'])\nwhile True:\n    pass"
    );
    let started = Instant::now();
    let results = run_then_more(vec![python("assert True", "1s")], &block(&code)).await;
    assert!(!results[0].passed);
    // Beside other checks (the tests run in parallel) it runs once more alone.
    let reason = &results[0].reason;
    assert!(
        reason == "timed out after 1s; killed"
            || reason == "timed out after 1s (also when run alone); killed",
        "{reason}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(processes_with(&marker), 0, "a child outlived the timeout");
}

#[tokio::test]
async fn code_that_allocates_without_bound_hits_the_memory_limit() {
    if !have_python().await {
        return;
    }
    let code = "chunks = []\nwhile True:\n    chunks.append(bytes(50_000_000))";
    let results = run_then_more(vec![python("assert True", "10s")], &block(code)).await;
    assert!(!results[0].passed);
    assert_eq!(
        results[0].reason,
        "MemoryError — `chunks.append(bytes(50_000_000))` (code line 3)"
    );
}

#[tokio::test]
async fn forking_code_is_contained() {
    if !have_python().await {
        return;
    }
    let marker = marker();
    let code = format!(
        "import os\nforked = 0\nfor _ in range(500):\n    try:\n        pid = os.fork()\n    except OSError:\n        break\n    if pid == 0:\n        try:\n            os.execv('/bin/sleep', ['sleep', '{marker}'])\n        finally:\n            os._exit(0)\n    forked += 1"
    );
    let started = Instant::now();
    let results = run_then_more(
        vec![python("assert forked == 0, f'forked {forked}'", "8s")],
        &block(&code),
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(12));
    // Recorded failed: the assert, or the timeout on a slow machine.
    assert!(!results[0].passed);
    let reason = &results[0].reason;
    assert!(
        reason.starts_with("AssertionError: forked") || reason.starts_with("timed out"),
        "{reason}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        processes_with(&marker),
        0,
        "forked children survived the run"
    );
}

#[tokio::test]
async fn writing_outside_the_work_directory() {
    if !have_python().await {
        return;
    }
    let escape = std::env::temp_dir().join(format!("llmbench-escape-{}", marker()));
    let code = format!(
        "open('inside.txt', 'w').write('ok')\nopen('{}', 'w').write('escaped')",
        escape.display()
    );
    let results = run_then_more(
        vec![python("assert open('inside.txt').read() == 'ok'", "10s")],
        &block(&code),
    )
    .await;
    let escaped = escape.exists();
    let _ = std::fs::remove_file(&escape);
    match sandbox::isolation().await {
        sandbox::Isolation::Namespaces { .. } => {
            // Every mount but the work directory is read-only.
            assert!(!escaped, "the write escaped the sandbox");
            assert!(!results[0].passed);
            assert!(
                results[0].reason.contains("Read-only file system"),
                "{}",
                results[0].reason
            );
        }
        // Without a mount namespace nothing stops it (documented): the run
        // is still recorded and goes on.
        _ => assert_eq!(results[0].passed, escaped, "{:?}", results[0]),
    }
}

#[tokio::test]
async fn environment_secrets_are_not_inherited() {
    // Only this test sets the variable; the others never read it.
    std::env::set_var("LLMBENCH_TEST_SECRET", "hunter2-quality");
    let mut checks = vec![shell("! env | grep -q hunter2-quality")];
    if matches!(
        sandbox::isolation().await,
        sandbox::Isolation::Namespaces { .. }
    ) {
        // With a private /proc, not even the parent's environment is readable.
        checks.push(shell(
            "! cat /proc/[0-9]*/environ 2>/dev/null | grep -q hunter2-quality",
        ));
    }
    if have_python().await {
        checks.push(python(
            "import os\nassert 'LLMBENCH_TEST_SECRET' not in os.environ, 'leaked'",
            "10s",
        ));
    }
    for result in run_checks(&checks, &block("pass")).await {
        assert!(result.passed, "{result:?}");
    }
}

#[tokio::test]
async fn megabytes_of_output_are_truncated_and_recorded() {
    if !have_python().await {
        return;
    }
    let flood = run_then_more(
        vec![python("assert True", "10s")],
        &block("print('x' * 5_000_000)"),
    )
    .await;
    assert!(!flood[0].passed);
    assert_eq!(
        flood[0].reason,
        "output over the 1 MiB limit; killed (output truncated)"
    );
    let chatty = run_checks(
        &[python("assert True", "10s")],
        &block("print('y' * 200_000)"),
    )
    .await;
    assert!(chatty[0].passed, "{:?}", chatty[0]);
    assert_eq!(chatty[0].reason, "output truncated");
}

#[tokio::test]
async fn run_many_scores_a_batch_with_bounded_parallelism() {
    let checks = if have_python().await {
        vec![contains("def fizzbuzz"), python(FIZZBUZZ_TESTS, "10s")]
    } else {
        vec![contains("def fizzbuzz")]
    };
    let wrong = FIZZBUZZ_RIGHT.replace("\"Fizz\"", "\"fizz\"");
    let jobs: Vec<(usize, Vec<CheckSpec>, String)> = (0..6)
        .map(|i| {
            (
                i,
                checks.clone(),
                if i < 4 {
                    FIZZBUZZ_RIGHT.to_string()
                } else {
                    wrong.clone()
                },
            )
        })
        .collect();
    let done = run_many(jobs, 2).await;
    let passed: Vec<bool> = done
        .iter()
        .map(|(_, results)| results.iter().all(|r| r.passed))
        .collect();
    assert_eq!(
        done.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        [0, 1, 2, 3, 4, 5]
    );
    let expected_failures = if checks.len() == 2 { 2 } else { 0 };
    assert_eq!(passed.iter().filter(|ok| !**ok).count(), expected_failures);
    let score = pass_rate(&passed);
    assert_eq!(score.n, 6);
    assert!(score.wilson95.is_some());
}

#[test]
fn scores_match_hand_worked_values() {
    let (low, high) = wilson_interval(8, 10, 1.96).expect("defined");
    assert!(
        (low - 0.4902).abs() < 5e-5 && (high - 0.9433).abs() < 5e-5,
        "{low} {high}"
    );
    assert_eq!(pass_at_k(10, 3, 1), Some(0.3));
    let five = pass_at_k(10, 3, 5).expect("defined");
    assert!((five - (1.0 - 21.0 / 252.0)).abs() < 1e-12 && (five - 0.91667).abs() < 5e-6);
    let score = pass_rate(&[
        true, false, false, true, false, false, false, false, true, false,
    ]);
    assert_eq!(
        (score.n, score.passed, score.pass_at["pass@1"]),
        (10, 3, 0.3)
    );
    assert_eq!(score.pass_at["pass@10"], 1.0);
}
