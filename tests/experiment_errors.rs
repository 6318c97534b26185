//! Experiment files as users write them, mistakes included: each test holds
//! its TOML fixture and asserts the whole message (file, line, column, key,
//! help), so the messages stay good. The positive tests at the end pin down
//! the documented format (docs/experiment-format.md).

use llmbench::experiment::{load, load_str, BackendKind, Experiment, OllamaApi, ReportFormat};
use std::path::{Path, PathBuf};
use std::time::Duration;

const FILE: &str = "experiments/x.toml";

fn overrides(list: &[&str]) -> Vec<String> {
    list.iter().map(ToString::to_string).collect()
}

/// The experiment `text` describes, which must load.
fn experiment(text: &str, set: &[&str]) -> Experiment {
    load_str(Path::new(FILE), text, &overrides(set)).unwrap_or_else(|e| panic!("{e}"))
}

/// The message for `text`, which must fail to load.
fn error(text: &str) -> String {
    error_with(text, &[])
}

fn error_with(text: &str, set: &[&str]) -> String {
    match load_str(Path::new(FILE), text, &overrides(set)) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(error) => {
            if set.is_empty() {
                schema_rejects_too(text);
            }
            error.to_string()
        }
    }
}

#[path = "schema_check.rs"]
mod schema_check;

/// Invalid files the JSON Schema accepts, by test, and why the loader is
/// stricter: what a schema cannot say (uniqueness across tables, references
/// between keys, the file system, secrets), not what it forgot.
const LOADER_STRICTER: &[(&str, &str)] = &[
    (
        "extreme_values_fail_validation",
        "its rate comes through --set, which the schema never sees, and a URL's syntax (an unclosed IPv6 bracket, a port over 65535) is beyond the schema's patterns",
    ),
    (
        "several_choices_per_request_are_refused",
        "`options` is the server's free-form table: the loader refuses n by its value (n = 1 is allowed), which the schema leaves to it",
    ),
    (
        "duplicate_model",
        "uniqueness of a key's value across array items (name + backend) is beyond JSON Schema",
    ),
    (
        "duplicate_prompt_id",
        "uniqueness of `id` across array items (and prompt files) is beyond JSON Schema",
    ),
    (
        "missing_template",
        "whether a template file exists is a question for the file system",
    ),
    (
        "a_server_axis_the_command_does_not_use_is_an_error",
        "an axis must appear as {axis} inside the command's strings: a reference between keys",
    ),
    (
        "an_unknown_server_placeholder_is_an_error",
        "each {name} in the command must be an axis: a reference between keys",
    ),
    (
        "warmup_is_a_count_or_a_duration",
        "\"0s\" has the form of a duration; refusing a zero value is the loader's check",
    ),
];

/// An invalid file (the loader refused `text`) must fail the schema too, so an
/// editor flags it, unless its test is in `LOADER_STRICTER`. Tests run on
/// threads named after them, which is how the table is keyed.
fn schema_rejects_too(text: &str) {
    let Ok(errors) = schema_check::schema_errors(text) else {
        return; // not TOML: every editor flags it
    };
    if !errors.is_empty() {
        return;
    }
    let test = std::thread::current()
        .name()
        .unwrap_or_default()
        .to_string();
    assert!(
        LOADER_STRICTER.iter().any(|(name, _)| *name == test),
        "{test}: the loader rejects this file but schemas/experiment.schema.json accepts it; \
         tighten the schema, or add the test to LOADER_STRICTER with the reason:\n{text}"
    );
}

/// Writes `files` (relative path, text) under a new temporary directory.
fn write_tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

const QUICKSTART: &str = r#"name = "quickstart"
description = "SmolLM2-135M on a local llama.cpp server"

[backend]
kind = "openai"                  # "ollama" | "openai"
url = "http://127.0.0.1:18080"
timeout = "60s"
# api_key_env = "OPENAI_API_KEY" # the key is read from this variable and never written anywhere

[[models]]
name = "smollm2"                 # the id sent to the server
label = "SmolLM2-135M Q4_1"      # optional display name

[defaults]
max_tokens = 64
temperature = 0.0
seed = 7

[run]
repetitions = 3
warmup = 1

[[prompts]]
id = "capital"
text = "What is the capital of France? Answer in one word."

[[prompts]]
id = "reverse"
system = "You are a concise coding assistant."
text = "Write a Python function that reverses a string."
max_tokens = 128

[report]
formats = ["markdown", "json"]
save_responses = true
"#;

// ---- mistakes ---------------------------------------------------------------

#[test]
fn misspelled_top_level_key() {
    let text = r#"name = "x"
descripton = "typo"
[backend]
kind = "ollama"
url = "http://127.0.0.1:11434"
[[models]]
name = "m"
[[prompts]]
id = "p"
text = "hi"
"#;
    assert_eq!(
        error(text),
        "experiments/x.toml:2:1: descripton: unknown key\n  help: did you mean `description`? (valid keys: name, description, \
         backend, backends, models, defaults, run, prompts, prompt_files, report, server, matrix, monitor, tokenizers, thresholds, slo)"
    );
}

#[test]
fn misspelled_key_in_run() {
    let text = r#"name = "x"
[backend]
kind = "ollama"
url = "http://127.0.0.1:11434"
[[models]]
name = "m"
[[prompts]]
id = "p"
text = "hi"

[run]
repetitons = 3
"#;
    assert_eq!(
        error(text),
        "experiments/x.toml:12:1: run.repetitons: unknown key\n  help: did you mean `repetitions`? \
         (valid keys: repetitions, warmup, mix_prompts, mix_seed, concurrency, rate, arrivals, arrival_seed, max_in_flight, duration, ollama_api, cold_start, cold_repetitions, prompt_nonce, retry)"
    );
}

/// [`MINIMAL_RUN`] with `retry = {policy}` in its [run] (line 11).
fn with_retry(policy: &str) -> String {
    MINIMAL_RUN.replace("REPLACE", &format!("retry = {policy}"))
}

#[test]
fn retry_policy_mistakes() {
    let max = with_retry("{ max = 0, on = [429] }");
    let on = with_retry("{ on = [200] }");
    let spelt = with_retry("{ honor_retry_after = false }");
    assert_eq!(
        error(&max),
        "experiments/x.toml:11:11: run.retry.max: 0 retries: must be from 1 to 10\n  \
         help: max counts the retries after the first attempt, e.g. max = 3; leave retry out to send each request once"
    );
    assert_eq!(
        error(&on),
        "experiments/x.toml:11:11: run.retry.on: 200 is not an HTTP error status\n  \
         help: list error statuses from 400 to 599, e.g. on = [429, 503]"
    );
    assert_eq!(
        error(&spelt),
        "experiments/x.toml:11:11: run.retry.honor_retry_after: unknown key\n  \
         help: did you mean `honour_retry_after`? (valid keys: max, on, honour_retry_after, max_wait, backoff)"
    );
}

#[test]
fn a_retry_policy_resolves_with_its_defaults() {
    let text = with_retry("{ on = [429] }");
    let policy = experiment(&text, &[]).run.retry.expect("a policy");
    assert_eq!(
        (policy.max, policy.on, policy.honour_retry_after),
        (3, vec![429], true)
    );
    assert_eq!(
        (policy.max_wait, policy.backoff),
        (Duration::from_secs(30), Duration::from_secs(1))
    );
    assert_eq!(
        experiment(&MINIMAL_RUN.replace("REPLACE", ""), &[])
            .run
            .retry,
        None
    );
}

#[test]
fn wrong_type_quoted_number() {
    let text = "name = \"x\"\n[run]\nrepetitions = \"3\"\n";
    assert_eq!(
        error(text),
        "experiments/x.toml:3:15: run.repetitions: expected a whole number ≥ 0, found the string \"3\"\n  \
         help: remove the quotes: `repetitions = 3`"
    );
}

#[test]
fn zero_repetitions() {
    let text = r#"name = "x"
[backend]
kind = "ollama"
url = "http://127.0.0.1:11434"
[[models]]
name = "m"
[[prompts]]
id = "p"
text = "hi"
[run]
repetitions = 0
"#;
    assert_eq!(
        error(text),
        "experiments/x.toml:11:1: run.repetitions: must be at least 1\n  help: repetitions is the number of measured \
         requests per model and prompt; use warmup for unmeasured ones"
    );
}

#[test]
fn unknown_backend_kind() {
    let text = "name = \"x\"\n[backend]\nkind = \"olama\"\nurl = \"http://127.0.0.1:11434\"\n";
    assert_eq!(
        error(text),
        "experiments/x.toml:3:8: backend.kind: unknown value \"olama\"\n  help: did you mean `ollama`? (valid values: ollama, openai)"
    );
}

#[test]
fn missing_url() {
    let text = "name = \"x\"\n\n[backend]\nkind = \"ollama\"\n\n[[models]]\nname = \"m\"\n";
    assert_eq!(
        error(text),
        "experiments/x.toml:3:1: backend.url: missing required key\n  help: add it, e.g. url = \"http://127.0.0.1:11434\""
    );
}

#[test]
fn bad_url_scheme() {
    let fixture = |url: &str| {
        format!("name = \"x\"\n[backend]\nkind = \"ollama\"\nurl = \"{url}\"\n[[models]]\nname = \"m\"\n[[prompts]]\nid = \"p\"\ntext = \"hi\"\n")
    };
    assert_eq!(
        error(&fixture("localhost:11434")),
        "experiments/x.toml:4:1: backend.url: `localhost:11434` has no scheme\n  help: write the scheme too: url = \"http://localhost:11434\""
    );
    assert_eq!(
        error(&fixture("ftp://h")),
        "experiments/x.toml:4:1: backend.url: `ftp://h` is not an http:// or https:// URL\n  help: llmbench talks HTTP to the \
         server, e.g. url = \"http://127.0.0.1:11434\""
    );
}

#[test]
fn bad_timeout() {
    let text = r#"name = "x"
[backend]
kind = "ollama"
url = "http://127.0.0.1:11434"
timeout = "60"
[[models]]
name = "m"
[[prompts]]
id = "p"
text = "hi"
"#;
    assert_eq!(
        error(text),
        "experiments/x.toml:5:1: backend.timeout: `60` has no unit; add one, e.g. \"60s\" or \"60ms\"\n  help: the whole-request \
         timeout, e.g. timeout = \"60s\" or \"10m\""
    );
}

#[test]
fn model_with_unknown_backend() {
    let text = r#"name = "x"
[backends.gpu]
kind = "ollama"
url = "http://10.0.0.2:11434"
[backends.cpu]
kind = "ollama"
url = "http://10.0.0.3:11434"

[[models]]
name = "a"
backend = "gpu"

[[models]]
name = "b"
backend = "gpus"
"#;
    assert_eq!(
        error(text),
        "experiments/x.toml:15:1: models[1].backend: unknown backend \"gpus\"\n  help: did you mean `gpu`? (valid backends: cpu, gpu)"
    );
}

#[test]
fn duplicate_prompt_id() {
    let text = r#"name = "x"
[backend]
kind = "ollama"
url = "http://127.0.0.1:11434"
[[models]]
name = "m"

[[prompts]]
id = "capital"
text = "What is the capital of France?"

[[prompts]]
id = "capital"
text = "What is the capital of Spain?"
"#;
    assert_eq!(
        error(text),
        "experiments/x.toml:13:1: prompts[1].id: duplicate prompt id \"capital\"\n  help: it is first defined at \
         experiments/x.toml:9:1; ids must be unique across the experiment and its prompt files"
    );
}

#[test]
fn duplicate_prompt_id_across_a_prompt_file_names_both_places() {
    let experiment = "name = \"x\"\nprompt_files = [\"prompts/*.toml\"]\n[backend]\nkind = \"ollama\"\nurl = \"http://h\"\n\
                      [[models]]\nname = \"m\"\n[[prompts]]\nid = \"capital\"\ntext = \"France?\"\n";
    let prompts = "# more\n[[prompts]]\nid = \"capital\"\ntext = \"Spain?\"\n";
    let dir = write_tree(&[("x.toml", experiment), ("prompts/a.toml", prompts)]);
    let error = load(&dir.path().join("x.toml"), &[]).unwrap_err();
    assert_eq!(error.file, dir.path().join("prompts/a.toml"));
    assert_eq!((error.line, error.column), (Some(3), Some(1)));
    let first = format!("{}:9:1", dir.path().join("x.toml").display());
    assert!(
        error
            .to_string()
            .contains(&format!("it is first defined at {first}")),
        "{error}"
    );
}

#[test]
fn empty_prompt_text() {
    let text = r#"name = "x"
[backend]
kind = "ollama"
url = "http://127.0.0.1:11434"
[[models]]
name = "m"
[[prompts]]
id = "blank"
text = "   "
"#;
    assert_eq!(
        error(text),
        "experiments/x.toml:9:1: prompts[0].text: the prompt text is empty\n  help: write the prompt, e.g. text = \"What is the capital of France?\""
    );
}

#[test]
fn prompt_files_glob_matching_nothing() {
    let experiment = "name = \"x\"\nprompt_files = [\"prompts/*.toml\", \"more/*.toml\"]\n[backend]\nkind = \"ollama\"\n\
                      url = \"http://h\"\n[[models]]\nname = \"m\"\n";
    let dir = write_tree(&[
        ("x.toml", experiment),
        ("prompts/a.toml", "[[prompts]]\nid = \"a\"\ntext = \"A\"\n"),
    ]);
    let path = dir.path().join("x.toml");
    let error = load(&path, &[]).unwrap_err();
    let looked_for = dir.path().join("more/*.toml");
    assert_eq!(
        error.to_string(),
        format!(
            "{}:2:35: prompt_files[1]: `more/*.toml` matches no files\n  help: patterns are relative to the experiment file's \
             directory; this one looked for `{}`",
            path.display(),
            looked_for.display()
        )
    );
}

#[test]
fn bad_report_format() {
    let text = "name = \"x\"\n[report]\nformats = [\"markdown\", \"jsn\"]\n";
    assert_eq!(
        error(text),
        "experiments/x.toml:3:24: report.formats[1]: unknown value \"jsn\"\n  help: did you mean `json`? (valid values: markdown, json, html, csv)"
    );
}

#[test]
fn api_key_pasted_into_api_key_env() {
    let text = r#"name = "x"
[backend]
kind = "openai"
url = "https://api.example.com"
api_key_env = "sk-proj-4f9a8b7c6d5e4f3a2b1c"
[[models]]
name = "m"
[[prompts]]
id = "p"
text = "hi"
"#;
    let message = error(text);
    assert_eq!(
        message,
        "experiments/x.toml:5:1: backend.api_key_env: this looks like an API key itself, not the name of an environment variable\n  \
         help: put the NAME of the variable that holds the key, e.g. api_key_env = \"OPENAI_API_KEY\", and `export \
         OPENAI_API_KEY=...` in your shell; keys never belong in experiment files (revoke this one if it was committed)"
    );
    assert!(!message.contains("4f9a8b"), "the key must not be echoed");
    let message = error_with(
        &text.replace("sk-proj-4f9a8b7c6d5e4f3a2b1c", "KEY"),
        &["backend.api_key_env=sk-123"],
    );
    assert!(message.starts_with(
        "--set backend.api_key_env=<hidden>: backend.api_key_env: this looks like an API key"
    ));
    assert!(!message.contains("sk-123"));
}

#[test]
fn temperature_out_of_range() {
    let text = r#"name = "x"
[backend]
kind = "ollama"
url = "http://127.0.0.1:11434"

[[models]]
name = "m"
temperature = 2.5

[[prompts]]
id = "p"
text = "hi"
"#;
    assert_eq!(
        error(text),
        "experiments/x.toml:8:1: models[0].temperature: must be between 0 and 2, found 2.5\n  help: 0 is greedy decoding; \
         0.7 to 1.0 is typical for sampling"
    );
}

#[test]
fn toml_syntax_error_keeps_tomls_position() {
    let text = "name = \"x\"\n[backend]\nkind = \"ollama\"\nurl = http://127.0.0.1:11434\n";
    assert_eq!(
        error(text),
        "experiments/x.toml:4:7: invalid TOML: string values must be quoted, expected literal string\n  help: put text in \
         quotes, e.g. url = \"http://127.0.0.1:11434\""
    );
    let toml_says = toml::from_str::<toml::Table>(text).unwrap_err().to_string();
    assert!(toml_says.contains("line 4, column 7"), "{toml_says}");
}

#[test]
fn bad_set_overrides() {
    assert_eq!(
        error_with(QUICKSTART, &["run.repetitions"]),
        "--set run.repetitions: `run.repetitions` is not KEY=VALUE\n  help: write the key, `=` and the value, e.g. --set run.repetitions=5"
    );
    assert_eq!(
        error_with(QUICKSTART, &["run.repetitons=5"]),
        "--set run.repetitons=5: run.repetitons: unknown key\n  help: did you mean `repetitions`? (valid keys: repetitions, warmup, mix_prompts, mix_seed, concurrency, rate, arrivals, arrival_seed, max_in_flight, duration, ollama_api, cold_start, cold_repetitions, prompt_nonce, retry)"
    );
    assert_eq!(
        error_with(QUICKSTART, &["models.3.name=x"]),
        "--set models.3.name=x: models.3.name: `models` has 1 element(s); there is no models[3]\n  help: indexes start at 0; \
         an override can change elements but not add them"
    );
    assert_eq!(
        error_with(QUICKSTART, &["defaults.keep_alive=-1"]),
        "--set defaults.keep_alive=-1: defaults.keep_alive: expected a string, found -1\n  help: put the value in quotes: \
         `--set 'defaults.keep_alive=\"-1\"'`"
    );
}

#[test]
fn unknown_key_in_a_prompt_file_names_the_prompt_file() {
    let experiment = "name = \"x\"\nprompt_files = [\"prompts/*.toml\"]\n[backend]\nkind = \"ollama\"\nurl = \"http://h\"\n\
                      [[models]]\nname = \"m\"\n";
    let prompts = "[[prompts]]\nid = \"a\"\ntext = \"A\"\n\n[[prompts]]\nid = \"b\"\nsytem = \"Be brief.\"\ntext = \"B\"\n";
    let dir = write_tree(&[("x.toml", experiment), ("prompts/b.toml", prompts)]);
    let error = load(&dir.path().join("x.toml"), &[]).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "{}:7:1: prompts[1].sytem: unknown key\n  help: did you mean `system`? (valid keys: id, text, input_tokens, system, checks, max_tokens, \
             temperature, top_p, top_k, seed, stop, think, keep_alive)",
            dir.path().join("prompts/b.toml").display()
        )
    );
}

#[test]
fn missing_name_has_no_line() {
    let text = "[backend]\nkind = \"ollama\"\nurl = \"http://h\"\n";
    assert_eq!(error(text), "experiments/x.toml: name: missing required key\n  help: add it, e.g. name = \"my-experiment\"");
}

#[test]
fn experiment_name_must_be_a_directory_name() {
    let text = QUICKSTART.replace("name = \"quickstart\"", "name = \"quick start/v2\"");
    assert_eq!(
        error(&text),
        "experiments/x.toml:1:1: name: the experiment name \"quick start/v2\" may only use letters, digits, '.', '_' and '-'\n  \
         help: it names files and directories; e.g. \"quick-start-v2\""
    );
}

#[test]
fn duplicate_model() {
    let text = format!("{QUICKSTART}\n[[models]]\nname = \"smollm2\"\n");
    assert_eq!(
        error(&text),
        "experiments/x.toml:38:1: models[1].name: model \"smollm2\" on backend \"default\" is listed twice\n  help: it is \
         first listed at experiments/x.toml:11:1; list each model once per backend"
    );
}

#[test]
fn no_prompts_at_all() {
    let text = "name = \"x\"\n[backend]\nkind = \"ollama\"\nurl = \"http://h\"\n[[models]]\nname = \"m\"\n";
    assert_eq!(
        error(text),
        "experiments/x.toml: prompts: the experiment has no prompts\n  help: add [[prompts]] tables with id and text, or \
         prompt_files = [\"prompts/*.toml\"]"
    );
}

#[test]
fn options_may_not_shadow_settings() {
    let text = QUICKSTART.replace(
        "# optional display name",
        "\noptions = { num_predict = 10 }",
    );
    assert_eq!(
        error(&text),
        "experiments/x.toml:13:13: models[0].options.num_predict: llmbench sets this itself\n  help: write max_tokens = N \
         in the model or [defaults]; llmbench sends it as num_predict"
    );
}

#[test]
fn several_choices_per_request_are_refused() {
    let text = QUICKSTART.replace("# optional display name", "\noptions = { n = 2 }");
    assert_eq!(
        error(&text),
        "experiments/x.toml:13:13: models[0].options.n: n = 2 asks for several answers per request; llmbench times one \
         stream per request and cannot tell the choices' chunks apart\n  help: remove n (n = 1 is the default); for more \
         samples raise run.repetitions, for parallel requests run.concurrency"
    );
    let one = QUICKSTART.replace("# optional display name", "\noptions = { n = 1 }");
    let model = &experiment(&one, &[]).models[0];
    assert_eq!(model.options["n"], 1, "n = 1 is one stream");
}

#[test]
fn missing_template() {
    let text = format!("{QUICKSTART}templates = [\"templates/mine.md.hbs\"]\n");
    assert_eq!(
        error(&text),
        "experiments/x.toml:36:14: report.templates[0]: template \"templates/mine.md.hbs\" does not exist\n  help: template \
         paths are relative to the experiment file's directory; looked for `experiments/templates/mine.md.hbs`"
    );
}

// ---- files that load --------------------------------------------------------

#[test]
fn quickstart_loads_as_written() {
    let e = experiment(QUICKSTART, &[]);
    assert_eq!(e.name, "quickstart");
    assert_eq!(
        e.description.as_deref(),
        Some("SmolLM2-135M on a local llama.cpp server")
    );
    let backend = &e.backends["default"];
    assert_eq!(backend.kind, BackendKind::Openai);
    assert_eq!(backend.url, "http://127.0.0.1:18080");
    assert_eq!(backend.timeout, Duration::from_secs(60));
    assert_eq!(backend.api_key_env, None);
    assert_eq!(e.models.len(), 1);
    assert_eq!(
        (e.models[0].name.as_str(), e.models[0].label.as_str()),
        ("smollm2", "SmolLM2-135M Q4_1")
    );
    assert_eq!(e.models[0].backend, "default");
    assert_eq!(
        (
            e.defaults.max_tokens,
            e.defaults.temperature,
            e.defaults.seed
        ),
        (Some(64), Some(0.0), Some(7))
    );
    assert_eq!((e.run.repetitions, e.run.warmup), (3, 1));
    assert_eq!(
        e.run.load,
        [llmbench::experiment::Load::Closed { concurrency: 1 }]
    );
    assert_eq!(e.run.ollama_api, OllamaApi::Chat);
    let ids: Vec<&str> = e.prompts.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["capital", "reverse"]);
    assert_eq!(
        e.prompts[1].system.as_deref(),
        Some("You are a concise coding assistant.")
    );
    assert_eq!(e.prompts[1].settings.max_tokens, Some(128));
    assert_eq!(e.prompts[0].settings.max_tokens, None);
    let merged = e
        .defaults
        .merged_with(&e.models[0].settings)
        .merged_with(&e.prompts[1].settings);
    assert_eq!(merged.max_tokens, Some(128));
    assert_eq!(
        e.report.formats,
        vec![ReportFormat::Markdown, ReportFormat::Json]
    );
    assert!(e.report.save_responses);
    assert_eq!(e.source.text, QUICKSTART);
}

#[test]
fn named_backends() {
    let text = r#"name = "two-servers"
[backends.ollama]
kind = "ollama"
url = "http://127.0.0.1:11434"
[backends.llamacpp]
kind = "openai"
url = "http://127.0.0.1:18080/"
timeout = "5m"
api_key_env = "LLAMA_KEY"

[[models]]
name = "qwen3:0.6b"
backend = "ollama"
options = { num_ctx = 4096 }

[[models]]
name = "smollm2"
backend = "llamacpp"
options = { cache_prompt = false }

[[prompts]]
id = "p"
text = "hi"
"#;
    let e = experiment(text, &[]);
    assert_eq!(
        e.backends.keys().collect::<Vec<_>>(),
        ["llamacpp", "ollama"]
    );
    let llamacpp = &e.backends["llamacpp"];
    assert_eq!(
        (llamacpp.kind, llamacpp.url.as_str()),
        (BackendKind::Openai, "http://127.0.0.1:18080")
    );
    assert_eq!(llamacpp.timeout, Duration::from_secs(300));
    assert_eq!(llamacpp.api_key_env.as_deref(), Some("LLAMA_KEY"));
    assert_eq!(e.models[0].backend, "ollama");
    assert_eq!(e.models[0].options["num_ctx"], serde_json::json!(4096));
    assert_eq!(e.models[1].backend, "llamacpp");
    assert_eq!(
        e.models[1].options["cache_prompt"],
        serde_json::json!(false)
    );
}

#[test]
fn prompt_files_glob_over_two_files() {
    let experiment = "name = \"x\"\nprompt_files = [\"prompts/*.toml\"]\n[backend]\nkind = \"ollama\"\nurl = \"http://h\"\n\
                      [[models]]\nname = \"m\"\n[[prompts]]\nid = \"own\"\ntext = \"Mine.\"\n";
    let a = "[[prompts]]\nid = \"a1\"\ntext = \"A one\"\n[[prompts]]\nid = \"a2\"\ntext = \"A two\"\ntemperature = 0.3\n";
    let b = "[[prompts]]\nid = \"b1\"\nsystem = \"Be brief.\"\ntext = \"B one\"\n";
    let dir = write_tree(&[
        ("x.toml", experiment),
        ("prompts/b.toml", b),
        ("prompts/a.toml", a),
        ("prompts/notes.txt", "not a prompt file"),
    ]);
    let e = load(&dir.path().join("x.toml"), &[]).unwrap();
    let ids: Vec<&str> = e.prompts.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["own", "a1", "a2", "b1"]);
    let defined_in: Vec<PathBuf> = e.prompts.iter().map(|p| p.defined_in.clone()).collect();
    assert_eq!(
        defined_in,
        [
            dir.path().join("x.toml"),
            dir.path().join("prompts/a.toml"),
            dir.path().join("prompts/a.toml"),
            dir.path().join("prompts/b.toml")
        ]
    );
    assert_eq!(e.prompts[2].settings.temperature, Some(0.3));
    assert_eq!(e.prompts[3].system.as_deref(), Some("Be brief."));
}

#[test]
fn set_overrides_change_values() {
    let set = [
        "run.repetitions=5",
        "defaults.temperature=0.2",
        "report.formats=[\"json\"]",
        "backend.url=http://127.0.0.1:9999/",
        "models[0].label=Small",
        "prompts.1.max_tokens=16",
        "run.ollama_api=generate",
    ];
    let e = experiment(QUICKSTART, &set);
    assert_eq!(e.run.repetitions, 5);
    assert_eq!(e.defaults.temperature, Some(0.2));
    assert_eq!(e.report.formats, vec![ReportFormat::Json]);
    assert_eq!(e.backends["default"].url, "http://127.0.0.1:9999");
    assert_eq!(e.models[0].label, "Small");
    assert_eq!(e.prompts[1].settings.max_tokens, Some(16));
    assert_eq!(e.run.ollama_api, OllamaApi::Generate);
    assert_eq!(e.source.overrides, overrides(&set));
    assert_eq!(
        e.source.text, QUICKSTART,
        "the text is kept as read, before overrides"
    );
}

#[test]
fn a_zero_in_a_concurrency_sweep_is_pointed_at() {
    let error = error(&MINIMAL_RUN.replace("REPLACE", "concurrency = [1, 0]"));
    assert!(
        error.contains("run.concurrency[1]: must be at least 1"),
        "{error}"
    );
}

#[test]
fn open_loop_keys_without_a_rate_are_refused() {
    let error = error(&MINIMAL_RUN.replace("REPLACE", "arrivals = \"poisson\""));
    assert!(
        error.contains("run.arrivals: arrivals applies to open-loop runs, but no rate is set"),
        "{error}"
    );
    assert!(error.contains("help: add rate"), "{error}");
}

#[test]
fn a_matrix_axis_must_be_a_request_setting_of_the_right_type() {
    let unknown = error(&format!(
        "{}\n[matrix]\nmax_token = [1, 2]\n",
        MINIMAL_RUN.replace("REPLACE", "")
    ));
    assert!(
        unknown.contains("matrix.max_token")
            && unknown.contains("matrix axes are request settings"),
        "{unknown}"
    );
    let wrong = error(&format!(
        "{}\n[matrix]\ntemperature = [0.0, 5.0]\n",
        MINIMAL_RUN.replace("REPLACE", "")
    ));
    assert!(
        wrong.contains("matrix.temperature:") && wrong.contains("must be between 0 and 2"),
        "{wrong}"
    );
}

#[test]
fn an_unknown_slo_key_gets_a_suggestion() {
    let error = error(&format!(
        "{}\n[slo]\nttf = \"500ms\"\n",
        MINIMAL_RUN.replace("REPLACE", "")
    ));
    assert!(
        error.contains("slo.ttf: unknown key") && error.contains("did you mean `ttft`?"),
        "{error}"
    );
}

const MINIMAL_RUN: &str = r#"name = "x"
[backend]
kind = "ollama"
url = "http://127.0.0.1:11434"
[[models]]
name = "m"
[[prompts]]
id = "p"
text = "t"
[run]
REPLACE
"#;

const SERVER_SWEEP: &str = r#"name = "sweep"
[backend]
kind = "openai"
url = "http://127.0.0.1:8080"
[[models]]
name = "m"
[[prompts]]
id = "p"
text = "hi"
[server]
command = ["llama-server", "--port", "{port}", "--parallel", "{parallel}", "-t", "{threads}"]
env = { LLAMA_ARG_BATCH = "{batch}" }
[server.matrix]
parallel = [1, 4]
threads = [2]
batch = ["256", "512"]
"#;

#[test]
fn server_matrix_points_are_the_product_and_fill_the_command() {
    let e = experiment(SERVER_SWEEP, &[]);
    let server = e.server.expect("server");
    assert_eq!(server.points.len(), 4);
    // Axes in key order: batch, parallel, threads; the first varies slowest.
    let first = server.at_point(&server.points[0]);
    assert_eq!(
        first.command,
        [
            "llama-server",
            "--port",
            "{port}",
            "--parallel",
            "1",
            "-t",
            "2"
        ]
    );
    assert_eq!(first.env["LLAMA_ARG_BATCH"], "256");
    assert_eq!(server.points[3].label(), "batch=512 parallel=4 threads=2");
    let plan = llmbench::plan::plan(&experiment(SERVER_SWEEP, &[]));
    assert_eq!(plan.cells.len(), 4);
    assert_eq!(plan.server_groups().len(), 4, "one server per point");
    let ids: std::collections::BTreeSet<_> = plan.cells.iter().map(|c| &c.id).collect();
    assert_eq!(ids.len(), 4, "server values are part of the cell id");
    // The value keeps its TOML type (a number), in the plan as in the manifest.
    assert_eq!(
        plan.cells[1].matrix[1],
        ("server.parallel".to_string(), serde_json::json!(4))
    );
}

#[test]
fn a_server_axis_the_command_does_not_use_is_an_error() {
    let text = SERVER_SWEEP.replace("\"-t\", \"{threads}\"", "\"-t\", \"2\"");
    assert_eq!(
        error(&text),
        "experiments/x.toml:15:1: server.matrix.threads: the axis is not used: no {threads} in the command or env\n  \
         help: add {threads} where the value goes, e.g. \"--threads\", \"{threads}\""
    );
}

#[test]
fn an_unknown_server_placeholder_is_an_error() {
    let text = SERVER_SWEEP.replace("\"{threads}\"]", "\"{thread}\"]");
    assert_eq!(
        error(&text),
        "experiments/x.toml:11:1: server.command: unknown placeholder {thread}\n  \
         help: did you mean {threads}? placeholders: {url}, {host}, {port} and the [server.matrix] axes"
    );
}

#[test]
fn warmup_is_a_count_or_a_duration() {
    let e = experiment(&QUICKSTART.replace("warmup = 1", "warmup = \"10s\""), &[]);
    assert_eq!(e.run.warmup, 0);
    assert_eq!(e.run.warmup_duration, Some(Duration::from_secs(10)));
    let e = experiment(QUICKSTART, &["run.warmup=3"]);
    assert_eq!((e.run.warmup, e.run.warmup_duration), (3, None));
    let message = error(&QUICKSTART.replace("warmup = 1", "warmup = 1.5"));
    assert!(
        message.ends_with(
            "run.warmup: expected a request count or a duration, found a float\n  \
             help: warmup = 3 sends three requests first; warmup = \"10s\" runs the cell's load for ten seconds first"
        ),
        "{message}"
    );
    let message = error(&QUICKSTART.replace("warmup = 1", "warmup = \"0s\""));
    assert!(
        message.contains("run.warmup: a warmup duration must be longer than zero"),
        "{message}"
    );
}

#[test]
fn mix_prompts_takes_a_seed_and_the_seed_needs_it() {
    let e = experiment(QUICKSTART, &["run.mix_prompts=true"]);
    assert_eq!(e.run.mix_prompts, Some(1));
    let plan = llmbench::plan::plan(&e);
    assert_eq!(plan.cells.len(), 1, "one mixed cell");
    assert_eq!(plan.cells[0].prompt, "mixed");
    assert_eq!(plan.cells[0].variants.len(), 2);
    assert_eq!(
        plan.cells[0].variants[1].settings.max_tokens,
        Some(128),
        "the prompt's own"
    );
    let other = llmbench::plan::plan(&experiment(
        QUICKSTART,
        &["run.mix_prompts=true", "run.mix_seed=2"],
    ));
    assert_ne!(
        plan.cells[0].id, other.cells[0].id,
        "the seed is part of the id"
    );
    let message = error_with(QUICKSTART, &["run.mix_seed=2"]);
    assert!(
        message.ends_with(
            "run.mix_seed: mix_seed applies only with mix_prompts = true\n  \
             help: add mix_prompts = true to [run], or remove mix_seed"
        ),
        "{message}"
    );
}

#[test]
fn a_prompt_has_text_or_input_tokens() {
    let synthetic = QUICKSTART.replace(
        "text = \"What is the capital of France? Answer in one word.\"",
        "input_tokens = 64",
    );
    let e = experiment(&synthetic, &[]);
    assert_eq!(e.prompts[0].input_tokens, Some(64));
    assert!(
        !e.prompts[0].text.is_empty(),
        "a heuristic text until the run refits it"
    );
    let both = QUICKSTART.replace(
        "text = \"What is the capital of France? Answer in one word.\"",
        "text = \"x\"\ninput_tokens = 64",
    );
    let message = error(&both);
    assert!(
        message.contains(
            "prompts[0].input_tokens: a prompt has either text or input_tokens, not both"
        ),
        "{message}"
    );
    let neither = QUICKSTART.replace(
        "text = \"What is the capital of France? Answer in one word.\"\n",
        "",
    );
    let message = error(&neither);
    assert!(
        message.contains(
            "prompts[0]: the prompt has no text\n  help: write text = \"…\", or input_tokens = 512"
        ),
        "{message}"
    );
    let zero = synthetic.replace("input_tokens = 64", "input_tokens = 0");
    assert!(error(&zero).contains("must be between 1 and 1000000, found 0"));
}

#[test]
fn a_sweep_value_of_the_wrong_type_says_what_was_expected() {
    let message = error(&QUICKSTART.replace("warmup = 1", "warmup = 1\nconcurrency = \"4\""));
    assert!(
        message.contains(
            "run.concurrency: expected a whole number or a list of them, found the string \"4\""
        ),
        "{message}"
    );
    let message = error(&QUICKSTART.replace("warmup = 1", "warmup = 1\nrate = [2, \"x\"]"));
    assert!(
        message.contains("run.rate: item 2 of the list: expected a number, found the string \"x\""),
        "{message}"
    );
    let message = error(&QUICKSTART.replace("warmup = 1", "warmup = 1\nconcurrency = -1"));
    assert!(message.contains("found -1"), "{message}");
}

#[test]
fn monitor_and_server_problems_are_placed_at_their_own_key() {
    let with = |extra: &str| error(&format!("{QUICKSTART}\n[monitor]\n{extra}\n"));
    let message = with("process = \"\"");
    assert!(
        message.contains("monitor.process: the process name is empty\n  help: process is the server's process name"),
        "{message}"
    );
    let message = with("interval = \"abc\"");
    assert!(
        message.contains("monitor.interval: `abc` is not a duration"),
        "{message}"
    );
    assert!(
        !message.contains("monitor.interval: monitor.interval"),
        "{message}"
    );
}

#[test]
fn a_check_without_kind_lists_the_check_kinds() {
    let text = format!("{QUICKSTART}\n[[prompts]]\nid = \"checked\"\ntext = \"Hi\"\n[[prompts.checks]]\nvalue = \"Hello\"\n");
    let message = error(&text);
    assert!(
        message.contains("prompts[2].checks[0].kind: missing required key\n  help: add it, e.g. kind = \"contains\" (kinds: contains,"),
        "{message}"
    );
}

/// Hostile values that used to pass validation and fail (or panic) later.
#[test]
fn extreme_values_fail_validation() {
    let run = |lines: &str| MINIMAL_RUN.replace("REPLACE", lines);
    let message = error_with(&run(""), &["run.rate=[1e-300]"]);
    assert!(message.contains("from 0.0001 to 1000000"), "{message}");
    let long = "n".repeat(300);
    let message = error(&run("").replace("name = \"x\"", &format!("name = \"{long}\"")));
    assert!(
        message.contains("300 characters long; at most 128"),
        "{message}"
    );
    for url in ["http://[::1", "http://127.0.0.1:99999"] {
        let message = error(&run("").replace("http://127.0.0.1:11434", url));
        assert!(message.contains("is not a valid URL"), "{url}: {message}");
    }
    experiment(
        &run("").replace("http://127.0.0.1:11434", "http://[::1]:8080"),
        &[],
    );
}

#[test]
fn a_dataset_with_a_byte_order_mark_loads() {
    let dir = write_tree(&[
        (
            "x.toml",
            &MINIMAL_RUN
                .replace("[[prompts]]\nid = \"p\"\ntext = \"t\"\n", "")
                .replace(
                    "name = \"x\"\n",
                    "name = \"x\"\nprompt_files = [\"d.jsonl\"]\n",
                )
                .replace("REPLACE", ""),
        ),
        (
            "d.jsonl",
            "\u{feff}{\"text\": \"hello\"}\n{\"text\": \"again\"}\n",
        ),
    ]);
    let experiment = load(&dir.path().join("x.toml"), &[]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(experiment.prompts.len(), 2);
}

/// A bare number where a duration goes: the hint is a duration that
/// loads (`timeout = "120s"`), not quotes alone (`"120"` has no unit).
#[test]
fn a_bare_number_duration_gets_a_hint_that_loads() {
    let base = "name = \"x\"\n[backend]\nkind = \"openai\"\nurl = \"http://127.0.0.1:11434\"\n\
                [[models]]\nname = \"m\"\n[[prompts]]\nid = \"p\"\ntext = \"hi\"\n";
    for (table, line) in [
        ("[backend]", "timeout = 120"),
        ("[run]", "duration = 30"),
        ("[server]\ncommand = [\"true\"]", "startup_timeout = 90"),
    ] {
        let text = if table == "[backend]" {
            base.replace("[backend]\n", &format!("[backend]\n{line}\n"))
        } else {
            format!("{base}{table}\n{line}\n")
        };
        let message = error(&text);
        let (key, value) = line.split_once(" = ").unwrap();
        let hint = format!("{key} = \"{value}s\"");
        assert!(
            message.contains(&format!(
                "help: write a duration with its unit, in quotes: `{hint}`"
            )),
            "{message}"
        );
        experiment(&text.replace(line, &hint), &[]);
    }
}
