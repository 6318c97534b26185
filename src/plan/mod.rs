//! Planning: `Experiment` → `Plan`, the ordered list of cells (model ×
//! `[matrix]` point × load level × prompt, with resolved request settings),
//! each with a stable id. Pure: no clock, no network, no files. Cells are
//! ordered model-major so a server keeps one model loaded while its cells run
//! (Ollama would otherwise swap models between requests and every request
//! would pay a load).

use crate::experiment::{Experiment, Load, MatrixPoint, ModelConfig, Prompt, RequestSettings, Slo};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The run matrix.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Plan {
    pub experiment: String,
    pub cells: Vec<Cell>,
    /// Cold starts measured per model, before its first cell (0 = none).
    #[serde(default)]
    pub cold_repetitions: u32,
    /// Every request's first message starts with a nonce of its own
    /// (`[run] prompt_nonce`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub prompt_nonce: bool,
    /// `[run] retry`: the retry policy of every request (none: sent once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<crate::experiment::RetryPolicy>,
    /// `[slo]` targets for goodput.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slo: Option<Slo>,
}

/// One model × prompt combination with everything needed to send it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Cell {
    pub index: usize,
    /// Stable across runs: the same model, backend, prompt and settings give the same id.
    pub id: String,
    pub model: String,
    pub label: String,
    pub backend: String,
    pub prompt: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    pub text: String,
    /// `[defaults]` < model < prompt, merged.
    pub settings: RequestSettings,
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub options: serde_json::Map<String, serde_json::Value>,
    /// How requests are offered (closed-loop concurrency or open-loop rate).
    pub load: Load,
    /// The `[matrix]` axis values of this cell (empty without a matrix).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub matrix: Vec<(String, serde_json::Value)>,
    /// `[run] duration`: measured requests run for this long (seconds)
    /// instead of `repetitions` times.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<f64>,
    /// Quality checks for every response (they do not change what is sent,
    /// so they are not part of the id).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<crate::quality::CheckSpec>,
    pub repetitions: u32,
    pub warmup: u32,
    /// `warmup = "10s"`: the cell first runs unmeasured under its own load
    /// for this long (seconds), instead of `warmup` single requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warmup_s: Option<f64>,
    /// A mixed cell (`[run] mix_prompts`): its requests cycle through these
    /// prompts in a seeded shuffled order; empty for a one-prompt cell.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub variants: Vec<Variant>,
    /// The seed of a mixed cell's prompt order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mix_seed: Option<u64>,
    /// `split = load`: this cell is one shard's share of the whole cell kept here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share: Option<shard::LoadShare>,
}

/// One prompt of a mixed cell, with everything that differs per prompt.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Variant {
    pub prompt: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    pub text: String,
    /// `[defaults]` < model < prompt < matrix, merged.
    pub settings: RequestSettings,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<crate::quality::CheckSpec>,
}

/// The prompt id of mixed cells.
pub(crate) const MIXED_PROMPT: &str = "mixed";

impl Plan {
    /// Measured requests (excluding warmups).
    pub fn measured_requests(&self) -> u64 {
        self.cells.iter().map(|c| u64::from(c.repetitions)).sum()
    }

    /// Every request the run sends, warmups and cold starts included.
    pub fn total_requests(&self) -> u64 {
        let cells: u64 = self
            .cells
            .iter()
            .map(|c| u64::from(c.repetitions) + u64::from(c.warmup))
            .sum();
        cells + self.models().len() as u64 * u64::from(self.cold_repetitions)
    }

    /// What is known of the requests the run sends, e.g. "40 requests",
    /// "200 warmups + 6 s" (a duration-bound cell sends as many as fit):
    /// counted requests (measured and cold), counted warmups, and the time
    /// of duration-bound measurements and warmups, each part only when
    /// there is some.
    pub(crate) fn requests_known(&self) -> String {
        let mut requests = self.models().len() as u64 * u64::from(self.cold_repetitions);
        let (mut warmups, mut timed, mut timed_warmup) = (0u64, 0.0, 0.0);
        for cell in &self.cells {
            match cell.duration_s {
                Some(seconds) => timed += seconds,
                None => requests += u64::from(cell.repetitions),
            }
            match cell.warmup_s {
                Some(seconds) => timed_warmup += seconds,
                None => warmups += u64::from(cell.warmup),
            }
        }
        let seconds = |s: f64| crate::util::format_duration(std::time::Duration::from_secs_f64(s));
        let mut parts = Vec::new();
        if requests > 0 || (timed == 0.0 && warmups == 0) {
            parts.push(crate::util::count_of(requests as usize, "request"));
        }
        if warmups > 0 {
            parts.push(crate::util::count_of(warmups as usize, "warmup"));
        }
        if timed_warmup > 0.0 {
            parts.push(format!("{} of warmup", seconds(timed_warmup)));
        }
        if timed > 0.0 {
            parts.push(seconds(timed));
        }
        parts.join(" + ")
    }

    /// Model names in plan order, each once.
    pub(crate) fn models(&self) -> Vec<&str> {
        let mut models: Vec<&str> = Vec::new();
        for cell in &self.cells {
            if !models.contains(&cell.model.as_str()) {
                models.push(&cell.model);
            }
        }
        models
    }
}

/// Expands an experiment into its plan.
pub fn plan(experiment: &Experiment) -> Plan {
    let per_model = experiment.matrix.len() * experiment.run.load.len() * experiment.prompts.len();
    let servers = server_points(experiment);
    let mut cells = Vec::with_capacity(servers.len() * experiment.models.len() * per_model);
    // Server settings vary slowest: each point restarts the server.
    for server in &servers {
        for model in &experiment.models {
            for point in &experiment.matrix {
                for load in &experiment.run.load {
                    let axes = Axes {
                        server,
                        point,
                        load: *load,
                    };
                    if let Some(seed) = experiment.run.mix_prompts {
                        cells.push(mixed_cell(experiment, model, &axes, seed, cells.len()));
                        continue;
                    }
                    for prompt in &experiment.prompts {
                        cells.push(make_cell(experiment, model, prompt, &axes, cells.len()));
                    }
                }
            }
        }
    }
    Plan {
        experiment: experiment.name.clone(),
        cells,
        cold_repetitions: experiment.run.cold_repetitions,
        prompt_nonce: experiment.run.prompt_nonce,
        retry: experiment.run.retry.clone(),
        slo: experiment.slo.clone(),
    }
}

/// The `[server.matrix]` points, as cell matrix entries named `server.<axis>`
/// (one empty point without a server matrix).
fn server_points(experiment: &Experiment) -> Vec<Vec<(String, serde_json::Value)>> {
    match &experiment.server {
        Some(server) => server
            .points
            .iter()
            .map(|point| {
                point
                    .values
                    .iter()
                    .map(|(k, v)| (format!("{SERVER_AXIS_PREFIX}{k}"), v.clone()))
                    .collect()
            })
            .collect(),
        None => vec![Vec::new()],
    }
}

/// "c4 server.parallel=2 max_tokens=128": a cell's load level and matrix
/// values, the words every report, chart, warning and progress line uses to
/// tell cells apart (also the `setting` template helper).
pub(crate) fn setting_text<'a>(
    concurrency: Option<u64>,
    rate: Option<f64>,
    matrix: impl Iterator<Item = (&'a String, &'a serde_json::Value)>,
) -> String {
    let load = match (concurrency, rate) {
        (Some(c), _) => format!("c{c}"),
        (None, Some(rate)) => format!("r{rate}"),
        (None, None) => String::new(),
    };
    let values = matrix.map(|(k, v)| match v {
        serde_json::Value::String(text) => format!("{k}={text}"),
        other => format!("{k}={other}"),
    });
    std::iter::once(load)
        .chain(values)
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

impl Cell {
    /// The cell's setting in words (see [`setting_text`]).
    pub(crate) fn setting(&self) -> String {
        let (concurrency, rate) = match self.load {
            Load::Closed { concurrency } => (Some(u64::from(concurrency)), None),
            Load::Open { rate, .. } => (None, Some(rate)),
        };
        setting_text(concurrency, rate, self.matrix.iter().map(|(k, v)| (k, v)))
    }
}

/// Cell matrix entries from `[server.matrix]` start with this.
pub(crate) const SERVER_AXIS_PREFIX: &str = "server.";

/// The sweep coordinates of one cell.
struct Axes<'a> {
    server: &'a [(String, serde_json::Value)],
    point: &'a MatrixPoint,
    load: Load,
}

fn make_cell(
    experiment: &Experiment,
    model: &ModelConfig,
    prompt: &Prompt,
    axes: &Axes,
    index: usize,
) -> Cell {
    // The matrix is the experiment's question, so its values win over every layer.
    let settings = experiment
        .defaults
        .merged_with(&model.settings)
        .merged_with(&prompt.settings)
        .merged_with(&axes.point.settings);
    let mut cell = Cell {
        index,
        id: String::new(),
        model: model.name.clone(),
        label: model.label.clone(),
        backend: model.backend.clone(),
        prompt: prompt.id.clone(),
        system: prompt.system.clone(),
        text: prompt.text.clone(),
        settings,
        options: model.options.clone(),
        load: axes.load,
        matrix: [axes.server, &axes.point.values].concat(),
        checks: prompt.checks.clone(),
        duration_s: experiment.run.duration.map(|d| d.as_secs_f64()),
        repetitions: experiment.run.repetitions,
        warmup: experiment.run.warmup,
        warmup_s: experiment.run.warmup_duration.map(|d| d.as_secs_f64()),
        variants: Vec::new(),
        mix_seed: None,
        share: None,
    };
    cell.id = cell_id(&cell);
    cell
}

/// One cell for all prompts: each prompt becomes a variant with its own
/// merged settings and checks; the cell's own prompt fields are neutral.
fn mixed_cell(
    experiment: &Experiment,
    model: &ModelConfig,
    axes: &Axes,
    seed: u64,
    index: usize,
) -> Cell {
    let variants: Vec<Variant> = experiment
        .prompts
        .iter()
        .map(|prompt| {
            let cell = make_cell(experiment, model, prompt, axes, index);
            Variant {
                prompt: cell.prompt,
                system: cell.system,
                text: cell.text,
                settings: cell.settings,
                checks: cell.checks,
            }
        })
        .collect();
    let mut cell = make_cell(experiment, model, &Prompt::named(MIXED_PROMPT), axes, index);
    cell.settings = experiment
        .defaults
        .merged_with(&model.settings)
        .merged_with(&axes.point.settings);
    cell.variants = variants;
    cell.mix_seed = Some(seed);
    cell.id = cell_id(&cell);
    cell
}

impl Cell {
    /// This cell's `[server.matrix]` values as the command gets them
    /// (empty without a server matrix). As text, so a cell's id is the same
    /// whether its values were stored typed or, as before, as strings.
    pub(crate) fn server_values(&self) -> Vec<(&str, String)> {
        self.matrix
            .iter()
            .filter_map(|(k, v)| {
                let name = k.strip_prefix(SERVER_AXIS_PREFIX)?;
                Some((name, crate::experiment::axis_text(v)))
            })
            .collect()
    }

    /// The system prompt and text this cell sends for prompt id `prompt`.
    pub(crate) fn prompt_text(&self, prompt: &str) -> Option<(Option<&str>, &str)> {
        if self.prompt == prompt && self.variants.is_empty() {
            return Some((self.system.as_deref(), self.text.as_str()));
        }
        let variant = self.variants.iter().find(|v| v.prompt == prompt)?;
        Some((variant.system.as_deref(), variant.text.as_str()))
    }

    /// The checks of the responses to prompt id `prompt`.
    pub(crate) fn checks_for(&self, prompt: &str) -> &[crate::quality::CheckSpec] {
        match self.variants.iter().find(|v| v.prompt == prompt) {
            Some(variant) => &variant.checks,
            None => &self.checks,
        }
    }

    /// What is sent when this cell sends prompt number `i`: the cell itself
    /// for a one-prompt cell, else the cell with variant `i`'s prompt,
    /// settings and checks (same id, so records stay in this cell).
    pub fn sendable(&self, i: usize) -> Cell {
        let Some(variant) = self.variants.get(i) else {
            return self.clone();
        };
        Cell {
            prompt: variant.prompt.clone(),
            system: variant.system.clone(),
            text: variant.text.clone(),
            settings: variant.settings.clone(),
            checks: variant.checks.clone(),
            ..self.without_variants()
        }
    }

    /// A copy of the cell without its variants: copying them for each of
    /// n prompts would make a mixed cell's set-up quadratic in n.
    fn without_variants(&self) -> Cell {
        Cell {
            index: self.index,
            id: self.id.clone(),
            model: self.model.clone(),
            label: self.label.clone(),
            backend: self.backend.clone(),
            prompt: self.prompt.clone(),
            system: self.system.clone(),
            text: self.text.clone(),
            settings: self.settings.clone(),
            options: self.options.clone(),
            load: self.load,
            matrix: self.matrix.clone(),
            duration_s: self.duration_s,
            checks: self.checks.clone(),
            repetitions: self.repetitions,
            warmup: self.warmup,
            warmup_s: self.warmup_s,
            variants: Vec::new(),
            mix_seed: self.mix_seed,
            share: self.share.clone(),
        }
    }
}

impl Plan {
    /// Cells grouped by `[server.matrix]` point, in plan order (one group
    /// without a server matrix): each group runs on a freshly started server.
    pub fn server_groups(&self) -> Vec<Plan> {
        let mut groups: Vec<Plan> = Vec::new();
        for cell in &self.cells {
            let same = groups
                .last()
                .and_then(|g| g.cells.first())
                .is_some_and(|first| first.server_values() == cell.server_values());
            if !same {
                groups.push(self.clone_empty());
            }
            if let Some(group) = groups.last_mut() {
                group.cells.push(cell.clone());
            }
        }
        groups
    }

    fn clone_empty(&self) -> Plan {
        Plan {
            experiment: self.experiment.clone(),
            cells: Vec::new(),
            cold_repetitions: self.cold_repetitions,
            prompt_nonce: self.prompt_nonce,
            retry: self.retry.clone(),
            slo: self.slo.clone(),
        }
    }

    /// The most requests in flight at once in any cell (sizes the connection pool).
    pub(crate) fn max_in_flight(&self) -> u32 {
        self.cells
            .iter()
            .map(|c| c.load.max_in_flight())
            .max()
            .unwrap_or(1)
    }
}

/// `<model-slug>.<prompt>.<8 hex>`: readable, and the hash covers everything
/// that changes what is sent, so equal ids mean comparable cells across runs.
pub(crate) fn cell_id(cell: &Cell) -> String {
    let mut identity = serde_json::json!({
        "model": cell.model,
        "backend": cell.backend,
        "prompt": cell.prompt,
        "system": cell.system,
        "text": cell.text,
        "settings": cell.settings,
        "options": cell.options,
        // A shard's share of a cell is still that cell.
        "load": cell.share.as_ref().map_or(&cell.load, |share| &share.load),
    });
    if !cell.variants.is_empty() {
        identity["variants"] = serde_json::json!(cell.variants);
        identity["mix_seed"] = serde_json::json!(cell.mix_seed);
    }
    // Server settings change what answers; without them ids stay as before.
    let server = cell.server_values();
    if !server.is_empty() {
        identity["server"] = serde_json::json!(server);
    }
    let digest = Sha256::digest(identity.to_string().as_bytes());
    let hex: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!("{}.{}.{}", slug(&cell.model), slug(&cell.prompt), hex)
}

/// Keeps `[A-Za-z0-9_-]`, maps everything else to `-`, so ids are safe as file names.
pub(crate) fn slug(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

pub mod shard;
pub mod shard_env;
mod shard_error;
pub use shard_error::ShardError;
#[cfg(test)]
pub(crate) mod tests;
