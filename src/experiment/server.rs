//! `[server]`: the managed server's command, environment, working directory,
//! health path and timeouts, checked. `{port}`, `{host}` and `{url}` in the
//! command come from the served backend's URL, so `--set backend.url=…`
//! moves both the server and the client.

use super::backends::DEFAULT_BACKEND;
use super::document::Document;
use super::error::ExperimentError;
use super::locate::KeyPath;
use super::manifest::RawServer;
use super::suggest::did_you_mean;
use super::types::{BackendConfig, ServerConfig};
use crate::util::parse_duration;
use std::collections::BTreeMap;
use std::path::Path;

const DEFAULT_HEALTH: &str = "/health";
const DEFAULT_STARTUP: &str = "120s";
const DEFAULT_STOP: &str = "10s";

pub fn server(
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
        parse_duration(&text).map_err(|message| doc.error(&at.key(key), message))
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
    Ok(ServerConfig {
        command: raw.command,
        backend,
        env: raw.env.unwrap_or_default(),
        cwd,
        health,
        startup_timeout: duration("startup_timeout", raw.startup_timeout, DEFAULT_STARTUP)?,
        stop_timeout: duration("stop_timeout", raw.stop_timeout, DEFAULT_STOP)?,
    })
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
