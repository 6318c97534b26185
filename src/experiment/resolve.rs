//! From the raw `Manifest` to the checked `Experiment`: names, backends and
//! models (`models.rs`), `[defaults]` (`settings.rs`), `[run]`, prompts
//! (`prompts.rs`) and `[report]`. Checks run in the order the keys usually
//! appear in a file, and each failure points at the key that caused it.
//! Nothing written is dropped; absent keys get the documented defaults.

use super::document::Document;
use super::error::ExperimentError;
use super::locate::KeyPath;
use super::manifest::{Manifest, RawReport, RawRun};
use super::types::{
    BackendConfig, BackendKind, Experiment, ModelConfig, OllamaApi, ReportConfig, ReportFormat,
    RunConfig, Source,
};
use super::{backends, load, models, prompts, server, settings};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// Checks `manifest` (deserialised from `doc`) and resolves it.
pub(crate) fn resolve(
    doc: &Document<'_>,
    manifest: Manifest,
    source: Source,
) -> Result<Experiment, ExperimentError> {
    let base_dir = match doc.path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => Path::new(".").to_owned(),
    };
    check_name(
        doc,
        &KeyPath::top("name"),
        "experiment name",
        &manifest.name,
    )?;
    let backends = backends::backends(doc, manifest.backend, manifest.backends)?;
    let tokenizers = models::tokenizer_mapping(doc, manifest.tokenizers)?;
    let models = models::models(doc, manifest.models, &backends, &tokenizers)?;
    let defaults = manifest.defaults.unwrap_or_default();
    settings::check(doc, &KeyPath::top("defaults"), &defaults)?;
    let run = run(doc, manifest.run.unwrap_or_default())?;
    let matrix = load::matrix(doc, manifest.matrix)?;
    let slo = load::slo(doc, manifest.slo)?;
    let thresholds = thresholds(doc, manifest.thresholds)?;
    let monitor = manifest.monitor.unwrap_or_default();
    monitor
        .validate()
        .map_err(|problem| monitor_error(doc, problem))?;
    check_cold_start(doc, &run, &models, &backends)?;
    let prompts = prompts::prompts(doc, manifest.prompts, manifest.prompt_files, &base_dir)?;
    let report = report(doc, manifest.report.unwrap_or_default(), &base_dir)?;
    let server = manifest
        .server
        .map(|raw| server::server(doc, raw, &backends, &base_dir))
        .transpose()?;
    Ok(Experiment {
        name: manifest.name,
        description: manifest.description,
        source,
        backends,
        models,
        prompts,
        defaults,
        run,
        report,
        server,
        matrix,
        slo,
        monitor,
        thresholds,
    })
}

/// Longest name: it becomes part of directory and file names (at most 255
/// bytes each on common filesystems, with a time stamp and id added).
pub(crate) const MAX_NAME_CHARS: usize = 128;

/// Names that become directory names or ids: `[A-Za-z0-9._-]+`, not `.` or
/// `..`, at most [`MAX_NAME_CHARS`] long.
pub(crate) fn check_name(
    doc: &Document<'_>,
    at: &KeyPath,
    what: &str,
    name: &str,
) -> Result<(), ExperimentError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    let problem = if name.is_empty() {
        format!("the {what} is empty")
    } else if !name.chars().all(allowed) {
        format!("the {what} {name:?} may only use letters, digits, '.', '_' and '-'")
    } else if name.chars().all(|c| c == '.') {
        format!("the {what} {name:?} is not a usable name")
    } else if name.len() > MAX_NAME_CHARS {
        return Err(doc
            .error(
                at,
                format!(
                    "the {what} is {} characters long; at most {MAX_NAME_CHARS} are allowed",
                    name.len()
                ),
            )
            .with_help(format!(
                "it names files and directories; shorten it, e.g. {:?}",
                &name[..32]
            )));
    } else {
        return Ok(());
    };
    let example = name
        .chars()
        .map(|c| if allowed(c) { c } else { '-' })
        .collect::<String>()
        .trim_matches(|c| c == '-' || c == '.')
        .to_owned();
    let help = if example.is_empty() {
        "it names files and directories, e.g. \"coding-small\"".to_owned()
    } else {
        format!("it names files and directories; e.g. {example:?}")
    };
    Err(doc.error(at, problem).with_help(help))
}

fn run(doc: &Document<'_>, raw: RawRun) -> Result<RunConfig, ExperimentError> {
    let at_least_one = |key: &str, value: Option<u32>, help: &str| match value {
        Some(0) => Err(doc
            .error(&KeyPath::top("run").key(key), "must be at least 1")
            .with_help(help)),
        _ => Ok(value.unwrap_or(1)),
    };
    Ok(RunConfig {
        repetitions: at_least_one(
            "repetitions",
            raw.repetitions,
            "repetitions is the number of measured requests per model and prompt; use warmup for unmeasured ones",
        )?,
        warmup: warmup_count(doc, raw.warmup.as_ref())?,
        warmup_duration: warmup_duration(doc, raw.warmup.as_ref())?,
        mix_prompts: mix_prompts(doc, raw.mix_prompts, raw.mix_seed)?,
        load: load::levels(doc, &raw)?,
        duration: raw
            .duration
            .as_deref()
            .map(|text| {
                crate::util::parse_duration(text)
                    .map_err(|e| doc.error(&KeyPath::top("run").key("duration"), e.to_string()))
            })
            .transpose()?,
        ollama_api: raw.ollama_api.unwrap_or(OllamaApi::Chat),
        cold_repetitions: cold_repetitions(doc, raw.cold_start, raw.cold_repetitions)?,
        prompt_nonce: raw.prompt_nonce.unwrap_or(false),
        retry: super::retry::policy(doc, raw.retry)?,
    })
}

/// A `[monitor]` problem placed at its key.
fn monitor_error(doc: &Document<'_>, problem: crate::monitor::ConfigProblem) -> ExperimentError {
    let help = match problem.key {
        "process" => "process is the server's process name (e.g. \"ollama\") or its pid; leave it out to follow a managed [server]",
        _ => "e.g. interval = \"250ms\" (between 10ms and 1h)",
    };
    doc.error(&KeyPath::top("monitor").key(problem.key), problem.message)
        .with_help(help)
}

/// `[run] warmup` as a count (an integer ≥ 0); 0 when it is a duration.
fn warmup_count(doc: &Document<'_>, raw: Option<&toml::Value>) -> Result<u32, ExperimentError> {
    match raw {
        None | Some(toml::Value::String(_)) => Ok(0),
        Some(toml::Value::Integer(n)) => u32::try_from(*n).map_err(|_| {
            doc.error(&KeyPath::top("run").key("warmup"), format!("{n} is not a request count"))
                .with_help("warmup is a number of requests (e.g. 3) or a duration (e.g. \"10s\")")
        }),
        Some(other) => Err(doc
            .error(&KeyPath::top("run").key("warmup"), format!("expected a request count or a duration, found a {}", other.type_str()))
            .with_help("warmup = 3 sends three requests first; warmup = \"10s\" runs the cell's load for ten seconds first")),
    }
}

/// `[run] warmup` as a duration, when it is a string.
fn warmup_duration(
    doc: &Document<'_>,
    raw: Option<&toml::Value>,
) -> Result<Option<Duration>, ExperimentError> {
    let Some(toml::Value::String(text)) = raw else {
        return Ok(None);
    };
    let at = KeyPath::top("run").key("warmup");
    let duration = crate::util::parse_duration(text).map_err(|e| {
        doc.error(&at, e.to_string())
            .with_help("warmup is a number of requests (e.g. 3) or a duration (e.g. \"10s\")")
    })?;
    if duration.is_zero() {
        return Err(doc
            .error(&at, "a warmup duration must be longer than zero")
            .with_help("remove warmup to send no warmup requests"));
    }
    Ok(Some(duration))
}

/// `mix_prompts = true` with its seed (default 1); `mix_seed` alone is a mistake.
fn mix_prompts(
    doc: &Document<'_>,
    mix: Option<bool>,
    seed: Option<u64>,
) -> Result<Option<u64>, ExperimentError> {
    match (mix, seed) {
        (Some(true), seed) => Ok(Some(seed.unwrap_or(1))),
        (_, Some(_)) => Err(doc
            .error(
                &KeyPath::top("run").key("mix_seed"),
                "mix_seed applies only with mix_prompts = true",
            )
            .with_help("add mix_prompts = true to [run], or remove mix_seed")),
        _ => Ok(None),
    }
}

/// `cold_start = true` measures 3 cold starts per model unless
/// `cold_repetitions` says otherwise; `cold_repetitions` alone is a mistake.
fn cold_repetitions(
    doc: &Document<'_>,
    cold_start: Option<bool>,
    repetitions: Option<u32>,
) -> Result<u32, ExperimentError> {
    let at = KeyPath::top("run");
    match (cold_start.unwrap_or(false), repetitions) {
        (false, None) => Ok(0),
        (false, Some(_)) => Err(doc
            .error(
                &at.key("cold_repetitions"),
                "cold_repetitions is set but cold_start is not",
            )
            .with_help("add cold_start = true to [run], or remove cold_repetitions")),
        (true, Some(0)) => Err(doc
            .error(&at.key("cold_repetitions"), "must be at least 1")
            .with_help(
                "it is the number of cold starts measured per model; or set cold_start = false",
            )),
        (true, count) => Ok(count.unwrap_or(3)),
    }
}

/// Cold starts unload the model first, which only Ollama can do.
fn check_cold_start(
    doc: &Document<'_>,
    run: &RunConfig,
    models: &[ModelConfig],
    backends: &BTreeMap<String, BackendConfig>,
) -> Result<(), ExperimentError> {
    if run.cold_repetitions == 0 {
        return Ok(());
    }
    let not_ollama = models.iter().find(|m| {
        backends
            .get(&m.backend)
            .is_some_and(|b| b.kind != BackendKind::Ollama)
    });
    match not_ollama {
        None => Ok(()),
        Some(model) => Err(doc
            .error(
                &KeyPath::top("run").key("cold_start"),
                format!("cold starts need Ollama, but model {:?} is on the OpenAI-compatible backend `{}`", model.name, model.backend),
            )
            .with_help("an OpenAI-compatible server cannot unload a model; restart a managed [server] per run instead, or drop cold_start")),
    }
}

fn report(
    doc: &Document<'_>,
    raw: RawReport,
    base_dir: &Path,
) -> Result<ReportConfig, ExperimentError> {
    let at = KeyPath::top("report");
    let formats = raw
        .formats
        .unwrap_or_else(|| vec![ReportFormat::Markdown, ReportFormat::Json]);
    if formats.is_empty() {
        return Err(doc
            .error(&at.key("formats"), "no report format is listed")
            .with_help("list at least one of markdown, json, html, csv, or leave formats out for markdown and json"));
    }
    for (i, format) in formats.iter().enumerate() {
        if formats[..i].contains(format) {
            return Err(doc
                .error(&at.key("formats").index(i), "this format is listed twice")
                .with_help("list each format once"));
        }
    }
    let mut templates = Vec::new();
    for (i, template) in raw.templates.unwrap_or_default().iter().enumerate() {
        let path = base_dir.join(template);
        if template.trim().is_empty() || !path.is_file() {
            return Err(doc
                .error(&at.key("templates").index(i), format!("template {template:?} does not exist"))
                .with_help(format!(
                    "template paths are relative to the experiment file's directory; looked for `{}`",
                    path.display()
                )));
        }
        templates.push(path);
    }
    Ok(ReportConfig {
        formats,
        save_responses: raw.save_responses.unwrap_or(false),
        templates,
    })
}

/// `[thresholds]`: `"ttft.p95" = "< 800ms"` and the like; a run that crosses
/// one exits 6.
fn thresholds(
    doc: &Document<'_>,
    raw: Option<BTreeMap<String, String>>,
) -> Result<Vec<crate::metrics::threshold::Threshold>, ExperimentError> {
    raw.unwrap_or_default()
        .iter()
        .map(|(metric, limit)| {
            crate::metrics::threshold::parse_requirement(metric, limit).map_err(|error| {
                doc.error(&KeyPath::top("thresholds").key(metric), error.to_string()).with_help(
                    "e.g. \"ttft.p95\" = \"< 800ms\", \"decode_tps.mean\" = \"> 20\", \"errors.rate\" = \"< 1%\"",
                )
            })
        })
        .collect()
}
