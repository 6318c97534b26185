//! Unit tests of the check specs (serde form, validation messages) and of
//! `run_checks`/`run_many` on text checks; code checks and their sandbox are
//! tested in sandbox_tests.rs and tests/quality.rs.

use super::*;
use serde_json::json;

#[derive(Debug, Deserialize)]
struct Prompt {
    checks: Vec<CheckSpec>,
}

#[test]
fn parses_checks_as_written_in_experiments() {
    let text = r#"
[[checks]]
kind = "contains"
value = "Paris"
ignore_case = true

[[checks]]
kind = "python"
tests = '''
assert fizzbuzz(5) == ["1", "2", "Fizz", "4", "Buzz"]
'''
timeout = "5s"

[[checks]]
kind = "shell"
command = "grep -q ok"

[[checks]]
kind = "json"
schema = { type = "object", required = ["a"] }

[[checks]]
kind = "max_words"
value = 50
"#;
    let prompt: Prompt = toml::from_str(text).expect("parses");
    assert_eq!(
        prompt.checks[0],
        CheckSpec::Contains {
            value: "Paris".into(),
            ignore_case: true
        }
    );
    assert!(
        matches!(&prompt.checks[1], CheckSpec::Python { timeout, language_block: None, .. } if timeout == "5s")
    );
    assert!(matches!(&prompt.checks[2], CheckSpec::Shell { timeout, .. } if timeout == "10s"));
    assert_eq!(
        prompt.checks[3],
        CheckSpec::Json {
            schema: Some(json!({"type": "object", "required": ["a"]}))
        }
    );
    assert_eq!(prompt.checks[4], CheckSpec::MaxWords { value: 50 });
    for check in &prompt.checks {
        check.validate().expect("valid");
    }
    let kinds: Vec<&str> = prompt.checks.iter().map(CheckSpec::kind).collect();
    assert_eq!(kinds, ["contains", "python", "shell", "json", "max_words"]);
    // The JSON form round-trips with the same tag.
    let back: CheckSpec =
        serde_json::from_value(serde_json::to_value(&prompt.checks[0]).expect("json"))
            .expect("round trip");
    assert_eq!(back, prompt.checks[0]);
    assert_eq!(
        serde_json::to_value(&prompt.checks[4]).expect("json"),
        json!({"kind": "max_words", "value": 50})
    );
}

#[test]
fn rejects_unknown_fields_and_kinds() {
    let error = toml::from_str::<Prompt>(
        "[[checks]]\nkind = \"contains\"\nvalue = \"x\"\nignorecase = true\n",
    )
    .unwrap_err()
    .to_string();
    assert!(error.contains("unknown field `ignorecase`"), "{error}");
    let error = toml::from_str::<Prompt>("[[checks]]\nkind = \"startswith\"\nvalue = \"x\"\n")
        .unwrap_err()
        .to_string();
    assert!(error.contains("unknown variant `startswith`"), "{error}");
}

#[test]
fn validation_says_how_to_fix() {
    let cases = [
        (
            CheckSpec::Contains {
                value: String::new(),
                ignore_case: false,
            },
            "contains: `value` is empty",
        ),
        (
            CheckSpec::Regex {
                pattern: "(a".into(),
            },
            "regex: `pattern` does not compile",
        ),
        (
            CheckSpec::Json {
                schema: Some(json!({"pattern": "x"})),
            },
            "json: schema: keyword `pattern` is not supported",
        ),
        (CheckSpec::MaxWords { value: 0 }, "max_words: `value` is 0"),
        (
            CheckSpec::Python {
                tests: " \n".into(),
                timeout: "10s".into(),
                language_block: None,
            },
            "python: `tests` is empty",
        ),
        (
            CheckSpec::Python {
                tests: "assert 1".into(),
                timeout: "10".into(),
                language_block: None,
            },
            "python: `timeout`: `10` has no unit",
        ),
        (
            CheckSpec::Shell {
                command: "true".into(),
                timeout: "0s".into(),
            },
            "shell: `timeout` is zero",
        ),
        (
            CheckSpec::Shell {
                command: "".into(),
                timeout: "1s".into(),
            },
            "shell: `command` is empty",
        ),
    ];
    for (check, start) in cases {
        let message = check.validate().unwrap_err().to_string();
        assert!(message.starts_with(start), "{message}");
    }
}

#[tokio::test]
async fn text_checks_pass_and_fail_with_reasons() {
    let checks = vec![
        CheckSpec::Contains {
            value: "paris".into(),
            ignore_case: true,
        },
        CheckSpec::NotContains {
            value: "London".into(),
            ignore_case: false,
        },
        CheckSpec::Regex {
            pattern: r"\bParis\b".into(),
        },
        CheckSpec::Equals {
            value: "Paris.".into(),
            ignore_case: false,
        },
        CheckSpec::Json { schema: None },
        CheckSpec::MaxWords { value: 1 },
        CheckSpec::Regex {
            pattern: "(".into(),
        },
    ];
    let results = run_checks(&checks, " Paris.\n").await;
    let summary: Vec<(&str, bool, &str)> = results
        .iter()
        .map(|r| (r.kind.as_str(), r.passed, r.reason.as_str()))
        .collect();
    assert_eq!(
        summary[..6],
        [
            ("contains", true, ""),
            ("not_contains", true, ""),
            ("regex", true, ""),
            ("equals", true, ""),
            ("json", false, "not JSON: expected value at line 1 column 1"),
            ("max_words", true, ""),
        ]
    );
    assert!(!results[6].passed && results[6].reason.starts_with("invalid check: regex"));
    assert!(results.iter().all(|r| r.duration_ms >= 0.0));
}

#[tokio::test]
async fn run_many_keeps_job_order_with_parallel_zero_as_one() {
    let check = vec![CheckSpec::Contains {
        value: "ok".into(),
        ignore_case: false,
    }];
    let jobs: Vec<(usize, Vec<CheckSpec>, String)> = (0..20)
        .map(|i| {
            (
                i * 10,
                check.clone(),
                if i % 2 == 0 { "ok".into() } else { "no".into() },
            )
        })
        .collect();
    let done = run_many(jobs, 0).await;
    assert_eq!(done.len(), 20);
    for (i, (id, results)) in done.iter().enumerate() {
        assert_eq!(*id, i * 10);
        assert_eq!(results[0].passed, i % 2 == 0);
    }
    assert!(run_many(Vec::new(), 4).await.is_empty());
}
