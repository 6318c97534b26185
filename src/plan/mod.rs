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
pub const MIXED_PROMPT: &str = "mixed";

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

    /// Model names in plan order, each once.
    pub fn models(&self) -> Vec<&str> {
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
                    .map(|(k, v)| {
                        (
                            format!("{SERVER_AXIS_PREFIX}{k}"),
                            serde_json::Value::String(v.clone()),
                        )
                    })
                    .collect()
            })
            .collect(),
        None => vec![Vec::new()],
    }
}

/// Cell matrix entries from `[server.matrix]` start with this.
pub const SERVER_AXIS_PREFIX: &str = "server.";

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
    /// This cell's `[server.matrix]` values (empty without a server matrix).
    pub fn server_values(&self) -> Vec<(&str, &str)> {
        self.matrix
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix(SERVER_AXIS_PREFIX)?, v.as_str()?)))
            .collect()
    }

    /// The system prompt and text this cell sends for prompt id `prompt`.
    pub fn prompt_text(&self, prompt: &str) -> Option<(Option<&str>, &str)> {
        if self.prompt == prompt && self.variants.is_empty() {
            return Some((self.system.as_deref(), self.text.as_str()));
        }
        let variant = self.variants.iter().find(|v| v.prompt == prompt)?;
        Some((variant.system.as_deref(), variant.text.as_str()))
    }

    /// The checks of the responses to prompt id `prompt`.
    pub fn checks_for(&self, prompt: &str) -> &[crate::quality::CheckSpec] {
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
            variants: Vec::new(),
            ..self.clone()
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
            slo: self.slo.clone(),
        }
    }

    /// The most requests in flight at once in any cell (sizes the connection pool).
    pub fn max_in_flight(&self) -> u32 {
        self.cells
            .iter()
            .map(|c| c.load.max_in_flight())
            .max()
            .unwrap_or(1)
    }
}

/// `<model-slug>.<prompt>.<8 hex>`: readable, and the hash covers everything
/// that changes what is sent, so equal ids mean comparable cells across runs.
pub fn cell_id(cell: &Cell) -> String {
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
pub fn slug(text: &str) -> String {
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
#[cfg(test)]
pub(crate) mod tests;
