//! Models: each `[[models]]` entry gets its backend reference resolved
//! (explicit, else `[backend]`, else the only named backend), its label
//! defaulted to its name, its inline request settings checked, and its
//! `options` turned into JSON for the server — refusing keys that llmbench
//! sets itself, so no setting is silently overridden, and `n ≠ 1` (several
//! choices in one stream would be merged into one answer).

use super::backends::DEFAULT_BACKEND;
use super::document::Document;
use super::error::ExperimentError;
use super::locate::KeyPath;
use super::manifest::RawModel;
use super::settings;
use super::suggest::unknown_help;
use super::types::{BackendConfig, ModelConfig};
use crate::tokenize::{resolve_mapping, TokenizerSpec};
use std::collections::{BTreeMap, HashMap};

/// Keys of `options` that llmbench sets itself, and what to write instead.
pub(super) const RESERVED_OPTIONS: [(&str, &str); 13] = [
    (
        "max_tokens",
        "write max_tokens = N in the model or [defaults]",
    ),
    (
        "num_predict",
        "write max_tokens = N in the model or [defaults]; llmbench sends it as num_predict",
    ),
    (
        "temperature",
        "write temperature = X in the model or [defaults]",
    ),
    ("top_p", "write top_p = X in the model or [defaults]"),
    ("top_k", "write top_k = N in the model or [defaults]"),
    ("seed", "write seed = N in the model or [defaults]"),
    ("stop", "write stop = [...] in the model or [defaults]"),
    ("think", "write think = true in the model or [defaults]"),
    (
        "keep_alive",
        "write keep_alive = \"30m\" in the model or [defaults]",
    ),
    ("model", "llmbench sends the model's name; remove it"),
    (
        "messages",
        "llmbench builds the messages from the prompts; remove it",
    ),
    (
        "prompt",
        "llmbench builds the prompt from [[prompts]]; remove it",
    ),
    (
        "stream",
        "llmbench always streams, to time each token; remove it",
    ),
];

/// The `[[models]]`, resolved against `backends`; at least one.
pub(crate) fn models(
    doc: &Document<'_>,
    raw: Vec<RawModel>,
    backends: &BTreeMap<String, BackendConfig>,
    tokenizers: &[(String, TokenizerSpec)],
) -> Result<Vec<ModelConfig>, ExperimentError> {
    if raw.is_empty() {
        return Err(doc
            .error(&KeyPath::top("models"), "no models are listed")
            .with_help("add a [[models]] table with name = \"llama3.2:1b\""));
    }
    let mut seen: HashMap<(String, String), usize> = HashMap::new();
    let mut out = Vec::with_capacity(raw.len());
    for (i, model) in raw.into_iter().enumerate() {
        let at = KeyPath::top("models").index(i);
        let mut config = model_config(doc, &at, model, backends)?;
        if config.tokenizer.is_none() {
            config.tokenizer = resolve_mapping(&config.name, tokenizers);
        }
        let key = (config.name.clone(), config.backend.clone());
        if let Some(first) = seen.insert(key, i) {
            let first_at = KeyPath::top("models").index(first).key("name");
            return Err(doc
                .error(
                    &at.key("name"),
                    format!(
                        "model {:?} on backend {:?} is listed twice",
                        config.name, config.backend
                    ),
                )
                .with_help(format!(
                    "it is first listed at {}; list each model once per backend",
                    doc.place(&first_at)
                )));
        }
        out.push(config);
    }
    Ok(out)
}

fn model_config(
    doc: &Document<'_>,
    at: &KeyPath,
    model: RawModel,
    backends: &BTreeMap<String, BackendConfig>,
) -> Result<ModelConfig, ExperimentError> {
    if model.name.trim().is_empty() {
        return Err(doc
            .error(&at.key("name"), "the model name is empty")
            .with_help("write the id the server knows the model by"));
    }
    if model.label.as_deref().is_some_and(|l| l.trim().is_empty()) {
        return Err(doc
            .error(&at.key("label"), "the label is empty")
            .with_help("leave label out to show the model's name"));
    }
    let backend = model_backend(doc, at, model.backend.as_deref(), backends)?;
    let tokenizer = model
        .tokenizer
        .as_deref()
        .map(|text| parse_tokenizer(doc, &at.key("tokenizer"), text))
        .transpose()?;
    let settings = model.settings();
    settings::check(doc, at, &settings)?;
    let options = match &model.options {
        Some(table) => options_json(doc, &at.key("options"), table)?,
        None => serde_json::Map::new(),
    };
    Ok(ModelConfig {
        label: model.label.unwrap_or_else(|| model.name.clone()),
        name: model.name,
        backend,
        settings,
        options,
        tokenizer,
    })
}

/// A tokenizer spec string (`gguf:PATH`, `hf:…`, `tiktoken:…`, `server`, …).
pub(crate) fn parse_tokenizer(
    doc: &Document<'_>,
    at: &KeyPath,
    text: &str,
) -> Result<TokenizerSpec, ExperimentError> {
    text.parse().map_err(|e: crate::tokenize::TokenizeError| {
        doc.error(at, e.to_string())
            .with_help(format!("write one of: {}", crate::tokenize::SPEC_FORMS))
    })
}

/// `[tokenizers]`: model-name pattern → spec; the most specific match wins.
pub(crate) fn tokenizer_mapping(
    doc: &Document<'_>,
    raw: Option<BTreeMap<String, String>>,
) -> Result<Vec<(String, TokenizerSpec)>, ExperimentError> {
    raw.unwrap_or_default()
        .into_iter()
        .map(|(pattern, text)| {
            let spec = parse_tokenizer(doc, &KeyPath::top("tokenizers").key(&pattern), &text)?;
            Ok((pattern, spec))
        })
        .collect()
}

fn model_backend(
    doc: &Document<'_>,
    at: &KeyPath,
    given: Option<&str>,
    backends: &BTreeMap<String, BackendConfig>,
) -> Result<String, ExperimentError> {
    let names: Vec<&str> = backends.keys().map(String::as_str).collect();
    match given {
        Some(name) if backends.contains_key(name) => Ok(name.to_owned()),
        Some(name) => Err(doc
            .error(&at.key("backend"), format!("unknown backend {name:?}"))
            .with_help(unknown_help(name, &names, "backends"))),
        None if backends.contains_key(DEFAULT_BACKEND) => Ok(DEFAULT_BACKEND.to_owned()),
        None if names.len() == 1 => Ok(names[0].to_owned()),
        None => Err(doc
            .error(
                at,
                "no backend is given and there is no [backend] to default to",
            )
            .with_help(format!(
                "add backend = \"NAME\" to this model (backends: {})",
                names.join(", ")
            ))),
    }
}

/// `options` as JSON, refusing keys llmbench sets itself and values JSON cannot hold.
fn options_json(
    doc: &Document<'_>,
    at: &KeyPath,
    table: &toml::Table,
) -> Result<serde_json::Map<String, serde_json::Value>, ExperimentError> {
    let mut out = serde_json::Map::new();
    for (key, value) in table {
        if let Some((_, help)) = RESERVED_OPTIONS
            .iter()
            .find(|(reserved, _)| reserved == key)
        {
            return Err(doc
                .error(&at.key(key), "llmbench sets this itself")
                .with_help(*help));
        }
        if key == "n" && value.as_integer() != Some(1) {
            return Err(doc
                .error(
                    &at.key(key),
                    format!("n = {value} asks for several answers per request; llmbench times one stream per request and cannot tell the choices' chunks apart"),
                )
                .with_help("remove n (n = 1 is the default); for more samples raise run.repetitions, for parallel requests run.concurrency"));
        }
        out.insert(key.clone(), to_json(doc, &at.key(key), value)?);
    }
    Ok(out)
}

fn to_json(
    doc: &Document<'_>,
    at: &KeyPath,
    value: &toml::Value,
) -> Result<serde_json::Value, ExperimentError> {
    use serde_json::Value as J;
    Ok(match value {
        toml::Value::String(s) => J::String(s.clone()),
        toml::Value::Integer(i) => J::from(*i),
        toml::Value::Boolean(b) => J::Bool(*b),
        toml::Value::Float(f) => {
            serde_json::Number::from_f64(*f)
                .map(J::Number)
                .ok_or_else(|| {
                    doc.error(at, format!("{f} cannot be sent as JSON"))
                        .with_help("use a finite number")
                })?
        }
        toml::Value::Datetime(d) => {
            return Err(doc
                .error(at, "dates cannot be sent to the server")
                .with_help(format!("write it as a string: \"{d}\"")))
        }
        toml::Value::Array(items) => J::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| to_json(doc, &at.index(i), item))
                .collect::<Result<_, _>>()?,
        ),
        toml::Value::Table(table) => J::Object(
            table
                .iter()
                .map(|(k, v)| Ok((k.clone(), to_json(doc, &at.key(k), v)?)))
                .collect::<Result<_, ExperimentError>>()?,
        ),
    })
}
