//! Load and sweep settings: `[run] concurrency` (one level or a list: a sweep
//! axis), `[run] rate` with `arrivals`, `arrival_seed` and `max_in_flight`
//! (open loop), `[matrix]` (any request setting as an axis; cells are the
//! cartesian product) and `[slo]` (targets for goodput).

use super::document::Document;
use super::error::ExperimentError;
use super::locate::KeyPath;
use super::manifest::{OneOrMany, RawRun};
use super::settings;
use super::types::{Arrivals, Load, MatrixPoint, RequestSettings, Slo};
use crate::util::parse_duration;
use std::collections::BTreeMap;

const DEFAULT_MAX_IN_FLIGHT: u32 = 1024;

/// The slowest open-loop rate: one request per 10,000 s (2.8 hours).
pub(crate) const MIN_RATE: f64 = 1e-4;
/// The fastest open-loop rate, requests/s (far above any one client).
pub(crate) const MAX_RATE: f64 = 1e6;

/// The load levels of `[run]`: closed-loop concurrency levels, then open-loop rates.
pub(crate) fn levels(doc: &Document<'_>, raw: &RawRun) -> Result<Vec<Load>, ExperimentError> {
    let at = KeyPath::top("run");
    let mut levels = Vec::new();
    for (i, concurrency) in raw
        .concurrency
        .clone()
        .map(OneOrMany::into_vec)
        .unwrap_or_default()
        .into_iter()
        .enumerate()
    {
        if concurrency == 0 {
            return Err(doc
                .error(&indexed(&at.key("concurrency"), &raw.concurrency, i), "must be at least 1")
                .with_help("concurrency = 1 sends one request at a time; a list such as [1, 4, 16] is a sweep"));
        }
        levels.push(Load::Closed { concurrency });
    }
    let rates = raw
        .rate
        .clone()
        .map(OneOrMany::into_vec)
        .unwrap_or_default();
    for (i, rate) in rates.iter().enumerate() {
        if !(rate.is_finite() && (MIN_RATE..=MAX_RATE).contains(rate)) {
            return Err(doc
                .error(
                    &indexed(&at.key("rate"), &raw.rate, i),
                    format!("must be a number of requests per second from {MIN_RATE} to {MAX_RATE}, found {rate}"),
                )
                .with_help("rate = 2.0 sends two requests per second on average"));
        }
        levels.push(Load::Open {
            rate: *rate,
            arrivals: raw.arrivals.unwrap_or(Arrivals::Poisson),
            seed: raw.arrival_seed.unwrap_or(1),
            max_in_flight: raw.max_in_flight.unwrap_or(DEFAULT_MAX_IN_FLIGHT),
        });
    }
    let open_only = [
        ("arrivals", raw.arrivals.is_some()),
        ("arrival_seed", raw.arrival_seed.is_some()),
        ("max_in_flight", raw.max_in_flight.is_some()),
    ];
    if let Some((key, _)) = open_only
        .iter()
        .find(|(_, set)| *set)
        .filter(|_| rates.is_empty())
    {
        return Err(doc
            .error(
                &at.key(key),
                format!("{key} applies to open-loop runs, but no rate is set"),
            )
            .with_help("add rate = [requests per second, ...] to [run], or remove this key"));
    }
    if raw.max_in_flight == Some(0) {
        return Err(doc
            .error(&at.key("max_in_flight"), "must be at least 1")
            .with_help("it caps the requests in flight in open loop"));
    }
    if levels.is_empty() {
        levels.push(Load::Closed { concurrency: 1 });
    }
    Ok(levels)
}

fn indexed<T>(at: &KeyPath, value: &Option<OneOrMany<T>>, index: usize) -> KeyPath {
    match value {
        Some(OneOrMany::Many(_)) => at.index(index),
        _ => at.clone(),
    }
}

/// `[matrix]`: each key a request setting, each value a list; the points are
/// the cartesian product, axes in key (alphabetical) order, the first varying
/// slowest.
pub(crate) fn matrix(
    doc: &Document<'_>,
    raw: Option<toml::Table>,
) -> Result<Vec<MatrixPoint>, ExperimentError> {
    let mut points = vec![MatrixPoint::default()];
    let Some(table) = raw else { return Ok(points) };
    for (key, values) in table {
        let at = KeyPath::top("matrix").key(&key);
        let values = axis_list(
            doc,
            &at,
            values,
            "a matrix axis",
            &format!("{key} = [128, 512]"),
        )?;
        let mut settings = Vec::with_capacity(values.len());
        for (i, value) in values.iter().enumerate() {
            settings.push(axis_value(doc, &at.index(i), &key, value)?);
        }
        let key = &key;
        points = points
            .iter()
            .flat_map(|point| {
                settings
                    .iter()
                    .zip(&values)
                    .map(move |(s, v)| point.extended(key, v, s))
            })
            .collect();
    }
    Ok(points)
}

/// The values of a sweep axis (`[matrix]`, `[server.matrix]`): a list of
/// at least one value, else an error at `at` with an example of the form.
pub(super) fn axis_list(
    doc: &Document<'_>,
    at: &KeyPath,
    values: toml::Value,
    what: &str,
    example: &str,
) -> Result<Vec<toml::Value>, ExperimentError> {
    let toml::Value::Array(values) = values else {
        return Err(doc
            .error(at, format!("{what} is a list of values"))
            .with_help(format!("e.g. {example}")));
    };
    if values.is_empty() {
        return Err(doc
            .error(at, "the list is empty")
            .with_help("give at least one value, or remove the axis"));
    }
    Ok(values)
}

/// One axis value as request settings, checked like `[defaults]`.
fn axis_value(
    doc: &Document<'_>,
    at: &KeyPath,
    key: &str,
    value: &toml::Value,
) -> Result<RequestSettings, ExperimentError> {
    let mut table = toml::Table::new();
    table.insert(key.to_string(), value.clone());
    let settings: RequestSettings = table.try_into().map_err(|e: toml::de::Error| {
        let message = e.message().to_string();
        let help = if message.contains("unknown field") {
            "matrix axes are request settings: max_tokens, temperature, top_p, top_k, seed, stop, think, keep_alive"
        } else {
            "each value must have the type the setting takes"
        };
        doc.error(at, message).with_help(help)
    })?;
    // Checked at the axis, so the error reads `matrix.<key>: ...`.
    let axis = KeyPath::top("matrix");
    settings::check(doc, &axis, &settings).map(|()| settings)
}

/// `[slo]`: per-request targets; a request meeting every one counts for goodput.
pub(crate) fn slo(
    doc: &Document<'_>,
    raw: Option<BTreeMap<String, String>>,
) -> Result<Option<Slo>, ExperimentError> {
    let Some(raw) = raw else { return Ok(None) };
    let mut slo = Slo::default();
    for (key, text) in raw {
        let at = KeyPath::top("slo").key(&key);
        let slot = match key.as_str() {
            "ttft" => &mut slo.ttft_ms,
            "tpot" => &mut slo.tpot_ms,
            "e2e" => &mut slo.e2e_ms,
            _ => {
                let help = match super::suggest::did_you_mean(&key, &["ttft", "tpot", "e2e"]) {
                    Some(close) => format!("did you mean `{close}`? (valid keys: ttft, tpot, e2e)"),
                    None => "valid keys: ttft, tpot, e2e".to_string(),
                };
                return Err(doc.error(&at, "unknown key").with_help(help));
            }
        };
        let duration = parse_duration(&text).map_err(|e| doc.error(&at, e.to_string()))?;
        *slot = Some(duration.as_secs_f64() * 1e3);
    }
    Ok(Some(slo))
}
