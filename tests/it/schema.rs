//! schemas/experiment.schema.json: generated from the loader's types, never
//! edited by hand (a stale copy fails here), and every shipped experiment and
//! every experiment example in the docs validates against it with a real
//! validator. The loader's invalid files are checked in
//! tests/experiment_errors.rs.

#[path = "../schema_check.rs"]
mod schema_check;

use llmbench::experiment::schema::{experiment_schema_json, SCHEMA_DIRECTIVE};
use schema_check::schema_errors;
use std::path::Path;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn committed_schema_is_what_the_types_generate() {
    let committed = std::fs::read_to_string(Path::new(ROOT).join("schemas/experiment.schema.json"))
        .expect("schemas/experiment.schema.json exists");
    assert!(
        committed == experiment_schema_json(),
        "schemas/experiment.schema.json is stale; regenerate it with\n  \
         cargo run -- schema experiment > schemas/experiment.schema.json"
    );
}

#[test]
fn the_schema_command_prints_the_committed_schema() {
    let output = assert_cmd::Command::cargo_bin("llmbench")
        .unwrap()
        .args(["schema", "experiment"])
        .output()
        .unwrap();
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        experiment_schema_json()
    );
}

#[test]
fn shipped_experiments_point_at_the_schema_and_conform() {
    let mut checked = 0;
    for entry in std::fs::read_dir(Path::new(ROOT).join("experiments")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text.lines().next(),
            Some(SCHEMA_DIRECTIVE),
            "{}",
            path.display()
        );
        assert_eq!(schema_errors(&text), Ok(vec![]), "{}", path.display());
        // The loader agrees that the file is valid.
        llmbench::experiment::load(&path, &[]).unwrap_or_else(|e| panic!("{e}"));
        checked += 1;
    }
    assert!(checked >= 3, "only {checked} experiments found");
}

/// Every ```toml block of docs/*.md that is a whole experiment (it has
/// `name` and `[[models]]`) or a fragment of one (the rest: a table or a few
/// keys), checked inside a minimal experiment.
#[test]
fn every_experiment_example_in_the_docs_conforms() {
    let mut checked = 0;
    for entry in std::fs::read_dir(Path::new(ROOT).join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|ext| ext != "md") {
            continue; // docs/screenshots/ and other non-pages
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for (line, block) in toml_blocks(&text) {
            let Some(document) = as_experiment(&block) else {
                continue;
            };
            let errors = schema_errors(&document)
                .unwrap_or_else(|e| panic!("{}:{line}: not TOML: {e}", path.display()));
            assert!(
                errors.is_empty(),
                "{}:{line}: {errors:?}\n{document}",
                path.display()
            );
            checked += 1;
        }
    }
    assert!(checked >= 15, "only {checked} examples found");
}

/// (line, text) of each fenced ```toml block.
fn toml_blocks(markdown: &str) -> Vec<(usize, String)> {
    let mut blocks = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (i, line) in markdown.lines().enumerate() {
        match &mut current {
            None if line.trim_start().starts_with("```toml") => {
                current = Some((i + 1, String::new()))
            }
            Some(_) if line.trim_start().starts_with("```") => blocks.extend(current.take()),
            Some((_, text)) => {
                text.push_str(line);
                text.push('\n');
            }
            None => {}
        }
    }
    blocks
}

const MINIMAL_HEAD: &str = "name = \"doc-example\"\n";
const MINIMAL_MODEL: &str = "\n[[models]]\nname = \"m\"\n";
const MINIMAL_BACKEND: &str = "\n[backend]\nkind = \"ollama\"\nurl = \"http://127.0.0.1:11434\"\n";
const MINIMAL_PROMPTS: &str = "prompt_files = [\"prompts/*.toml\"]\n";

/// A docs block as a whole experiment: as it is when it is one; a fragment
/// of tables placed after a minimal head; a prompt file's `[[prompts]]`
/// given a model. Blocks of other formats (prompt datasets are JSONL; a
/// bare `prompt_files` line) are fragments too.
fn as_experiment(block: &str) -> Option<String> {
    let value: toml::Table = toml::from_str(block).ok()?;
    if value.contains_key("name") && value.contains_key("models") {
        return Some(block.to_string());
    }
    // Top-level keys of a fragment go before its tables, as TOML requires.
    let (keys, tables) = split_top_level(block);
    let mut tail = String::new();
    if !value.contains_key("models") {
        tail.push_str(MINIMAL_MODEL);
    }
    if !value.contains_key("backend") && !value.contains_key("backends") {
        tail.push_str(MINIMAL_BACKEND);
    }
    let mut keys = keys;
    if !value.contains_key("prompts") && !value.contains_key("prompt_files") {
        keys.push_str(MINIMAL_PROMPTS);
    }
    Some(format!("{MINIMAL_HEAD}{keys}\n{tables}{tail}"))
}

fn split_top_level(block: &str) -> (String, String) {
    let first_table = block
        .lines()
        .position(|l| l.trim_start().starts_with('['))
        .unwrap_or(usize::MAX);
    let (mut keys, mut tables) = (String::new(), String::new());
    for (i, line) in block.lines().enumerate() {
        let target = if i < first_table {
            &mut keys
        } else {
            &mut tables
        };
        target.push_str(line);
        target.push('\n');
    }
    (keys, tables)
}

#[test]
fn the_schema_rejects_what_an_editor_should_flag() {
    let base = "name = \"x\"\nprompt_files = [\"p.toml\"]\n[[models]]\nname = \"m\"\n\
                [backends.b]\nkind = \"ollama\"\nurl = \"http://h:1\"\n";
    for (extra, why) in [
        ("[run]\nrepetitons = 3\n", "misspelled key"),
        ("[run]\nrepetitions = \"3\"\n", "quoted number"),
        ("[run]\nrepetitions = 0\n", "below the minimum"),
        ("[backend]\nkind = \"olama\"\nurl = \"http://h:1\"\n", "unknown enum value"),
        ("[backend]\nkind = \"ollama\"\nurl = \"http://h:1\"\ntimeout = \"60\"\n", "duration without unit"),
        ("[run]\nconcurrency = [1, 0]\n", "a zero in a sweep"),
        ("[run]\narrivals = \"poisson\"\n", "an open-loop key without a rate"),
        ("[matrix]\nmax_token = [1, 2]\n", "a matrix axis that is no setting"),
        ("[matrix]\ntemperature = [0.0, 5.0]\n", "a matrix value out of range"),
        ("[defaults]\ntemperature = 2.5\n", "out of range"),
        ("[report]\nformats = [\"pdf\"]\n", "unknown format"),
        ("[[prompts]]\nid = \"p\"\ntext = \"t\"\n[[prompts.checks]]\nkind = \"containz\"\nvalue = \"x\"\n", "unknown check kind"),
        ("[slo]\nttf = \"1s\"\n", "unknown slo key"),
    ] {
        let errors = schema_errors(&format!("{base}{extra}")).unwrap();
        assert!(!errors.is_empty(), "{why}: accepted\n{extra}");
    }
    assert_eq!(schema_errors(base), Ok(vec![]));
}

/// Each default the schema states is the loader's: an experiment with every
/// documented default written out resolves exactly as one without them.
#[test]
fn schema_defaults_are_the_loaders_defaults() {
    let schema: serde_json::Value = serde_json::from_str(&experiment_schema_json()).unwrap();
    let base = "name = \"x\"\n[backend]\nkind = \"ollama\"\nurl = \"http://127.0.0.1:1\"\n\
                [[models]]\nname = \"m\"\n[[prompts]]\nid = \"p\"\ntext = \"t\"\n";
    let tables = [
        ("run", "RawRun"),
        ("report", "RawReport"),
        ("backend", "RawBackend"),
    ];
    let mut stated = 0;
    for (table, definition) in tables {
        let properties = schema["definitions"][definition]["properties"]
            .as_object()
            .unwrap();
        for (key, property) in properties {
            let Some(default) = property.get("default") else {
                continue;
            };
            let value = toml::Value::try_from(default).unwrap();
            let set = format!("{table}.{key}={value}");
            // Keys the loader accepts only beside another (open-loop keys need a rate).
            let needs: &[&str] = match key.as_str() {
                "arrivals" | "arrival_seed" | "max_in_flight" => &["run.rate=1.0"],
                "mix_seed" => &["run.mix_prompts=true"],
                _ => &[],
            };
            let plain = resolved(base, needs);
            let explicit = resolved(base, &[needs, &[set.as_str()]].concat());
            assert_eq!(
                plain, explicit,
                "{set}: the schema's default is not the loader's"
            );
            stated += 1;
        }
    }
    assert!(stated >= 10, "only {stated} defaults checked");
}

/// The resolved experiment as JSON, without its source (which records the overrides).
fn resolved(text: &str, set: &[&str]) -> serde_json::Value {
    let overrides: Vec<String> = set.iter().map(ToString::to_string).collect();
    let experiment = llmbench::experiment::load_str(Path::new("x.toml"), text, &overrides)
        .unwrap_or_else(|e| panic!("{set:?}: {e}"));
    let mut json = serde_json::to_value(&experiment).unwrap();
    json.as_object_mut().unwrap().remove("source");
    json
}
