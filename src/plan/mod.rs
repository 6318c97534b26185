//! Planning: `Experiment` → `Plan`, the ordered list of cells (model × prompt,
//! with resolved request settings), each with a stable id. Pure: no clock, no
//! network, no files. Cells are ordered model-major so a server keeps one model
//! loaded while its prompts run (Ollama would otherwise swap models between
//! requests and every request would pay a load).

use crate::experiment::{Experiment, ModelConfig, Prompt, RequestSettings};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The run matrix.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Plan {
    pub experiment: String,
    pub cells: Vec<Cell>,
    /// Requests in flight at once.
    pub concurrency: u32,
    /// Cold starts measured per model, before its first cell (0 = none).
    #[serde(default)]
    pub cold_repetitions: u32,
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
    pub repetitions: u32,
    pub warmup: u32,
}

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
    let mut cells = Vec::with_capacity(experiment.models.len() * experiment.prompts.len());
    for model in &experiment.models {
        for prompt in &experiment.prompts {
            cells.push(make_cell(experiment, model, prompt, cells.len()));
        }
    }
    Plan {
        experiment: experiment.name.clone(),
        cells,
        concurrency: experiment.run.concurrency,
        cold_repetitions: experiment.run.cold_repetitions,
    }
}

fn make_cell(experiment: &Experiment, model: &ModelConfig, prompt: &Prompt, index: usize) -> Cell {
    let settings = experiment
        .defaults
        .merged_with(&model.settings)
        .merged_with(&prompt.settings);
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
        repetitions: experiment.run.repetitions,
        warmup: experiment.run.warmup,
    };
    cell.id = cell_id(&cell);
    cell
}

/// `<model-slug>.<prompt>.<8 hex>`: readable, and the hash covers everything
/// that changes what is sent, so equal ids mean comparable cells across runs.
pub fn cell_id(cell: &Cell) -> String {
    let identity = serde_json::json!({
        "model": cell.model,
        "backend": cell.backend,
        "prompt": cell.prompt,
        "system": cell.system,
        "text": cell.text,
        "settings": cell.settings,
        "options": cell.options,
    });
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

#[cfg(test)]
mod tests;
