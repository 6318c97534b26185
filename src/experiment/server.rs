//! `[server]`: the managed server's command, environment, working directory,
//! health path and timeouts, checked. `{port}`, `{host}` and `{url}` in the
//! command come from the served backend's URL, so `--set backend.url=…`
//! moves both the server and the client.

use super::backends::DEFAULT_BACKEND;
use super::document::Document;
use super::error::ExperimentError;
use super::load::axis_list;
use super::locate::KeyPath;
use super::manifest::RawServer;
use super::suggest::did_you_mean;
use super::types::{BackendConfig, ServerConfig, ServerPoint};
use crate::util::parse_duration;
use std::collections::BTreeMap;
use std::path::Path;

const DEFAULT_HEALTH: &str = "/health";
const DEFAULT_STARTUP: &str = "120s";
const DEFAULT_STOP: &str = "10s";

pub(crate) fn server(
    doc: &Document<'_>,
    raw: RawServer,
    backends: &BTreeMap<String, BackendConfig>,
    base_dir: &Path,
) -> Result<ServerConfig, ExperimentError> {
    let at = KeyPath::top("server");
    if raw
        .command
        .first()
        .is_none_or(|program| program.trim().is_empty())
    {
        return Err(doc
            .error(&at.key("command"), "the command is empty")
            .with_help(
            "give the program and its arguments, e.g. [\"llama-server\", \"--port\", \"{port}\"]",
        ));
    }
    let backend = served_backend(doc, &at, raw.backend, backends)?;
    let health = raw.health.unwrap_or_else(|| DEFAULT_HEALTH.to_owned());
    if !health.starts_with('/') {
        return Err(doc
            .error(&at.key("health"), format!("{health:?} is not a path"))
            .with_help(format!("write it with a leading slash, e.g. \"/{health}\"")));
    }
    let duration = |key: &str, value: Option<String>, default: &str| {
        let text = value.unwrap_or_else(|| default.to_owned());
        match parse_duration(&text) {
            Ok(duration) if duration.is_zero() => Err(doc
                .error(&at.key(key), "must be longer than zero")
                .with_help(format!("e.g. {key} = \"{default}\""))),
            Ok(duration) => Ok(duration),
            Err(e) => Err(doc.error(&at.key(key), e.to_string())),
        }
    };
    let cwd = base_dir.join(raw.cwd.as_deref().unwrap_or("."));
    if !cwd.is_dir() {
        return Err(doc
            .error(
                &at.key("cwd"),
                format!("{} is not a directory", cwd.display()),
            )
            .with_help("cwd is relative to the experiment file's directory"));
    }
    let points = points(doc, &at.key("matrix"), raw.matrix)?;
    let env = raw.env.unwrap_or_default();
    check_placeholders(doc, &at, &raw.command, &env, &points)?;
    Ok(ServerConfig {
        command: raw.command,
        backend,
        env,
        cwd,
        health,
        startup_timeout: duration("startup_timeout", raw.startup_timeout, DEFAULT_STARTUP)?,
        stop_timeout: duration("stop_timeout", raw.stop_timeout, DEFAULT_STOP)?,
        points,
    })
}

/// Placeholders the backend URL fills; every other `{name}` is a matrix axis.
const URL_PLACEHOLDERS: [&str; 3] = ["url", "host", "port"];

/// `[server.matrix]`: the cartesian product of its axes (key order, the
/// first varying slowest). Values are strings, numbers or booleans.
fn points(
    doc: &Document<'_>,
    at: &KeyPath,
    raw: Option<toml::Table>,
) -> Result<Vec<ServerPoint>, ExperimentError> {
    let mut points = vec![ServerPoint::default()];
    let Some(table) = raw else { return Ok(points) };
    for (name, values) in table {
        let axis = at.key(&name);
        if URL_PLACEHOLDERS.contains(&name.as_str()) {
            return Err(doc
                .error(&axis, format!("{{{name}}} comes from the backend URL"))
                .with_help(
                    "choose another axis name; to try several ports, use several experiment files",
                ));
        }
        let values = axis_list(
            doc,
            &axis,
            values,
            "a server axis",
            &format!("{name} = [1, 4]"),
        )?;
        let mut texts = Vec::with_capacity(values.len());
        for (i, value) in values.iter().enumerate() {
            texts.push(axis_value(value).ok_or_else(|| {
                doc.error(&axis.index(i), format!("{} is not a plain value", value.type_str()))
                    .with_help("server axis values are strings, numbers or booleans; they replace {name} in the command and env")
            })?);
        }
        points = points
            .iter()
            .flat_map(|point| {
                texts.iter().map(|text| {
                    let mut values = point.values.clone();
                    values.push((name.clone(), text.clone()));
                    ServerPoint { values }
                })
            })
            .collect();
    }
    Ok(points)
}

/// A plain TOML value with its type kept; `None` for tables, arrays, dates.
fn axis_value(value: &toml::Value) -> Option<serde_json::Value> {
    match value {
        toml::Value::String(s) => Some(serde_json::Value::String(s.clone())),
        toml::Value::Integer(i) => Some(serde_json::Value::from(*i)),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f).map(serde_json::Value::Number),
        toml::Value::Boolean(b) => Some(serde_json::Value::Bool(*b)),
        _ => None,
    }
}

/// Every axis is used by the command or env, and every `{name}` there is an
/// axis or a URL part: a typo would otherwise start the same server each time,
/// or pass `{threads}` to it literally.
fn check_placeholders(
    doc: &Document<'_>,
    at: &KeyPath,
    command: &[String],
    env: &BTreeMap<String, String>,
    points: &[ServerPoint],
) -> Result<(), ExperimentError> {
    let axes: Vec<&str> = points[0].values.iter().map(|(k, _)| k.as_str()).collect();
    let texts: Vec<&str> = command
        .iter()
        .chain(env.values())
        .map(String::as_str)
        .collect();
    // A typo in a placeholder explains an unused axis, so it is reported first.
    for (key, text) in command
        .iter()
        .map(|t| ("command", t))
        .chain(env.values().map(|t| ("env", t)))
    {
        for name in placeholders(text) {
            if !URL_PLACEHOLDERS.contains(&name) && !axes.contains(&name) {
                let help = match did_you_mean(name, &axes) {
                    Some(close) => format!("did you mean {{{close}}}? placeholders: {{url}}, {{host}}, {{port}} and the [server.matrix] axes"),
                    None => "placeholders are {url}, {host}, {port} and the axes of [server.matrix]".to_string(),
                };
                return Err(doc
                    .error(&at.key(key), format!("unknown placeholder {{{name}}}"))
                    .with_help(help));
            }
        }
    }
    for axis in &axes {
        let placeholder = format!("{{{axis}}}");
        if !texts.iter().any(|t| t.contains(&placeholder)) {
            return Err(doc
                .error(
                    &at.key("matrix").key(axis),
                    format!("the axis is not used: no {placeholder} in the command or env"),
                )
                .with_help(format!(
                    "add {placeholder} where the value goes, e.g. \"--{axis}\", \"{placeholder}\""
                )));
        }
    }
    Ok(())
}

/// The names inside `{…}` in `text` (simple identifiers only).
fn placeholders(text: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                let name = &after[..close];
                if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    found.push(name);
                }
                rest = &after[close + 1..];
            }
            None => break,
        }
    }
    found
}

fn served_backend(
    doc: &Document<'_>,
    at: &KeyPath,
    named: Option<String>,
    backends: &BTreeMap<String, BackendConfig>,
) -> Result<String, ExperimentError> {
    let names: Vec<&str> = backends.keys().map(String::as_str).collect();
    match named {
        Some(name) if backends.contains_key(&name) => Ok(name),
        Some(name) => {
            let help = match did_you_mean(&name, &names) {
                Some(close) => format!("did you mean `{close}`? (backends: {})", names.join(", ")),
                None => format!("backends: {}", names.join(", ")),
            };
            Err(doc
                .error(&at.key("backend"), format!("no backend is named {name:?}"))
                .with_help(help))
        }
        None if backends.contains_key(DEFAULT_BACKEND) => Ok(DEFAULT_BACKEND.to_owned()),
        None if names.len() == 1 => Ok(names[0].to_owned()),
        None => Err(doc
            .error(
                at,
                "several backends are defined and none is named \"default\"",
            )
            .with_help(format!(
                "say which one this server serves: backend = \"{}\"",
                names[0]
            ))),
    }
}
