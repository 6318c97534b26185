//! Token counting for a run: each model's counter is chosen and loaded once
//! before anything is sent (a bad spec stops the run there, naming the model
//! and the spec), and responses are counted after the run, off the timing
//! path, into tokens.jsonl. `auto` uses llama.cpp's `/tokenize` on an
//! OpenAI-compatible server that has it, the model's own vocabulary from
//! Ollama's `/api/show` on Ollama, and the server's counts otherwise.

use crate::cli::exit;
use crate::error::AppError;
use crate::exec::PendingCount;
use crate::experiment::{BackendKind, Experiment};
use crate::plan::{Cell, Plan};
use crate::record::TokenRecord;
use crate::store::TokenizerFacts;
use crate::tokenize::batch::CountError;
use crate::tokenize::{
    attribute, batch, load_local, load_ollama_gguf, LlamaCppTokenizer, TokenCounter, TokenizeError,
    TokenizerSpec,
};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// Where llmbench keeps Ollama vocabularies it has built (per model digest).
const CACHE_DIR: &str = ".llmbench-cache/tokenizers";

/// A model's counter for this run.
pub enum Counter {
    /// The server's own counts; nothing to count here.
    Server {
        note: Option<String>,
    },
    Local(Box<dyn TokenCounter>),
    LlamaCpp(LlamaCppTokenizer),
}

impl Counter {
    /// The source name recorded beside each count.
    pub(crate) fn source(&self) -> String {
        match self {
            Counter::Server { .. } => "server".into(),
            Counter::Local(counter) => counter.name(),
            Counter::LlamaCpp(_) => "llamacpp".into(),
        }
    }
}

/// Each model's counter, chosen and loaded once.
pub struct Counters {
    pub by_model: BTreeMap<String, Counter>,
    /// Models whose spec was written (their local counts are the ones used).
    pub explicit: Vec<String>,
    /// Models on OpenAI-compatible servers: their prompts are rendered with
    /// the server's chat template (llama.cpp `/apply-template`) for counting.
    pub templates: BTreeMap<String, LlamaCppTokenizer>,
}

impl Counters {
    /// True when some model is counted here (responses must be kept for it).
    pub(crate) fn counts_anything(&self) -> bool {
        self.by_model
            .values()
            .any(|c| !matches!(c, Counter::Server { .. }))
    }
}

/// Loads the counters that come from local files (`gguf:PATH`, `hf:`,
/// `tiktoken:`, `heuristic`) before anything is sent, so a missing file or a
/// broken tokenizer.json stops the run there, naming the model and the spec.
pub(crate) fn load_local_counters(
    experiment: &Experiment,
) -> Result<BTreeMap<String, Counter>, AppError> {
    let base_dir = experiment
        .source
        .path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let mut loaded = BTreeMap::new();
    for model in &experiment.models {
        let Some(spec) = model.tokenizer.as_ref().filter(|s| s.is_local()) else {
            continue;
        };
        let counter = load_local(spec, &base_dir).map_err(|e| {
            AppError::new(
                exit::BAD_INPUT,
                format!("model {}: tokenizer `{spec}`: {e}", model.name),
            )
        })?;
        loaded.insert(model.name.clone(), Counter::Local(counter));
    }
    Ok(loaded)
}

/// Every model's counter: the local ones already loaded, then those that ask
/// the server (after pre-flight, when it is known to answer).
pub(crate) async fn load_counters(
    experiment: &Experiment,
    client: &reqwest::Client,
    mut loaded: BTreeMap<String, Counter>,
) -> Result<Counters, AppError> {
    let mut by_model = BTreeMap::new();
    let mut explicit = Vec::new();
    let mut templates = BTreeMap::new();
    for model in &experiment.models {
        let Some(backend) = experiment.backends.get(&model.backend) else {
            continue;
        };
        let spec = model.tokenizer.clone().unwrap_or(TokenizerSpec::Auto);
        if !matches!(spec, TokenizerSpec::Auto | TokenizerSpec::Server) {
            explicit.push(model.name.clone());
        }
        let fail = |e: crate::tokenize::TokenizeError| {
            AppError::new(
                exit::BAD_INPUT,
                format!("model {}: tokenizer `{spec}`: {e}", model.name),
            )
        };
        let counter = match (loaded.remove(&model.name), &spec) {
            (Some(local), _) => local,
            (None, TokenizerSpec::Server) => Counter::Server { note: None },
            (None, TokenizerSpec::LlamaCpp) => {
                Counter::LlamaCpp(LlamaCppTokenizer::new(&backend.url))
            }
            (None, TokenizerSpec::GgufOllama) => Counter::Local(
                load_ollama_gguf(client, &backend.url, &model.name, &cache_dir())
                    .await
                    .map_err(fail)?,
            ),
            (None, _) => auto(client, backend.kind, &backend.url, &model.name).await,
        };
        if backend.kind == BackendKind::Openai {
            templates.insert(model.name.clone(), LlamaCppTokenizer::new(&backend.url));
        }
        by_model.insert(model.name.clone(), counter);
    }
    Ok(Counters {
        by_model,
        explicit,
        templates,
    })
}

fn cache_dir() -> PathBuf {
    PathBuf::from(CACHE_DIR)
}

/// `auto`: the best source this server offers; the server's counts when none.
async fn auto(client: &reqwest::Client, kind: BackendKind, url: &str, model: &str) -> Counter {
    match kind {
        BackendKind::Openai => {
            let tokenizer = LlamaCppTokenizer::new(url);
            match tokenizer.encode(client, "probe").await {
                Ok(_) => Counter::LlamaCpp(tokenizer),
                Err(e) => Counter::Server {
                    note: Some(format!("no /tokenize on this server ({e})")),
                },
            }
        }
        BackendKind::Ollama => match load_ollama_gguf(client, url, model, &cache_dir()).await {
            Ok(counter) => Counter::Local(counter),
            Err(e) => Counter::Server {
                note: Some(format!("no usable vocabulary from /api/show ({e})")),
            },
        },
    }
}

/// Counts every kept response with its model's counter: the whole text,
/// then how many of those tokens each chunk completed; and each prompt once,
/// rendered through the server's chat template where it can do that.
/// Local tokenizers count on every core, a server's tokenizer is asked
/// several at a time and no more once it has failed a few times without
/// ever answering; a long count shows its progress (`tokenize::batch`).
pub(crate) async fn count(
    counters: &Counters,
    pending: Vec<PendingCount>,
    client: &reqwest::Client,
    plan: &Plan,
) -> Vec<TokenRecord> {
    let pending: Vec<PendingCount> = pending
        .into_iter()
        .filter(|item| {
            let counter = counters.by_model.get(&item.model);
            counter.is_some_and(|c| !matches!(c, Counter::Server { .. }))
        })
        .collect();
    let prompts = count_prompts(counters, &pending, client, plan).await;
    let progress = batch::CountProgress::new(pending.len(), false);
    let outputs = count_outputs(counters, &pending, client, &progress).await;
    let mut out = Vec::with_capacity(pending.len());
    for (item, (counted, per_chunk)) in pending.into_iter().zip(outputs) {
        let Some(counter) = counters.by_model.get(&item.model) else {
            continue;
        };
        let key = (item.cell.clone(), item.prompt.clone());
        let prompt = prompts.get(&key).and_then(|p| p.as_ref().ok()).cloned();
        out.push(TokenRecord {
            cell: item.cell,
            repetition: item.repetition,
            warmup: item.warmup,
            cold: item.cold,
            source: counter.source(),
            estimate: matches!(counter, Counter::Local(c) if c.is_estimate()),
            used: counters.explicit.contains(&item.model),
            output: counted.as_ref().ok().copied(),
            error: counted.err().map(|e| e.to_string()),
            per_chunk,
            prompt: prompt.as_ref().map(|(n, _)| *n),
            prompt_counted: prompt.map(|(_, what)| what),
        });
    }
    out
}

/// A prompt's count and what was counted, or why it could not be counted.
type PromptCount = Result<(u64, String), CountError>;

/// Each (cell, prompt) of `pending` counted once.
async fn count_prompts(
    counters: &Counters,
    pending: &[PendingCount],
    client: &reqwest::Client,
    plan: &Plan,
) -> BTreeMap<(String, String), PromptCount> {
    let cells: HashMap<&str, &Cell> = plan.cells.iter().map(|c| (c.id.as_str(), c)).collect();
    let mut prompts = BTreeMap::new();
    for item in pending {
        let key = (item.cell.clone(), item.prompt.clone());
        let Some(counter) = counters.by_model.get(&item.model) else {
            continue;
        };
        if prompts.contains_key(&key) {
            continue;
        }
        let template = counters.templates.get(&item.model);
        let counted = match cells
            .get(item.cell.as_str())
            .and_then(|cell| messages_of(cell, &item.prompt))
        {
            Some(messages) => count_prompt(counter, template, client, &messages).await,
            None => Err(CountError::PromptNotInPlan),
        };
        prompts.insert(key, counted);
    }
    prompts
}

/// A response's output tokens (or why not) and tokens per chunk.
type OutputCount = (Result<u64, CountError>, Vec<u32>);

/// Every response's count, in `pending`'s order: local counters on every
/// core, then llama.cpp's `/tokenize` a few at a time, per model given up
/// after it has failed [`batch::GIVE_UP_AFTER`] times without answering.
async fn count_outputs(
    counters: &Counters,
    pending: &[PendingCount],
    client: &reqwest::Client,
    progress: &batch::CountProgress,
) -> Vec<OutputCount> {
    use futures_util::StreamExt;
    let counter_of = |item: &PendingCount| counters.by_model.get(&item.model);
    let mut results = tokio::task::block_in_place(|| {
        batch::map_parallel(pending, batch::counting_threads(), |item| {
            let Some(Counter::Local(local)) = counter_of(item) else {
                return None;
            };
            let counted = batch::count_response(local.as_ref(), &item.text, &item.chunk_chars);
            progress.step();
            Some(counted)
        })
    });
    let guards: HashMap<&str, batch::SourceGuard> = counters
        .by_model
        .keys()
        .map(|model| (model.as_str(), batch::SourceGuard::default()))
        .collect();
    let remote: Vec<usize> = (0..pending.len())
        .filter(|&i| results[i].is_none())
        .collect();
    let answers: Vec<(usize, OutputCount)> = futures_util::stream::iter(remote)
        .map(|i| {
            let item = &pending[i];
            let guard = guards.get(item.model.as_str());
            async move {
                let counted = match (counter_of(item), guard.and_then(|g| g.gave_up())) {
                    (_, Some(why)) => (Err(why), Vec::new()),
                    (Some(counter), None) => {
                        let counted = count_output(counter, client, item).await;
                        if let Some(guard) = guard {
                            guard.note(&counted.0);
                        }
                        counted
                    }
                    (None, None) => (Err(CountError::NoCounter), Vec::new()),
                };
                progress.step();
                (i, counted)
            }
        })
        .buffered(batch::REMOTE_IN_FLIGHT)
        .collect()
        .await;
    for (i, counted) in answers {
        results[i] = Some(counted);
    }
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| (Err(CountError::NotCounted), Vec::new())))
        .collect()
}

/// The output tokens of one response, and how many each chunk completed
/// (empty when the counter cannot place its tokens).
async fn count_output(
    counter: &Counter,
    client: &reqwest::Client,
    item: &PendingCount,
) -> (Result<u64, CountError>, Vec<u32>) {
    let ends = match counter {
        Counter::Server { .. } => return (Err(CountError::ByServer), Vec::new()),
        Counter::Local(local) => {
            return batch::count_response(local.as_ref(), &item.text, &item.chunk_chars)
        }
        Counter::LlamaCpp(remote) => remote
            .token_ends(client, &item.text)
            .await
            .map_err(CountError::from),
    };
    match ends {
        Ok(ends) => {
            let per_chunk = attribute::tokens_per_chunk(&item.text, &item.chunk_chars, &ends);
            (Ok(ends.len() as u64), per_chunk)
        }
        Err(e) => (Err(e), Vec::new()),
    }
}

/// The (role, content) messages a cell sent for `prompt`.
fn messages_of(cell: &Cell, prompt: &str) -> Option<Vec<(String, String)>> {
    let (system, text) = cell.prompt_text(prompt)?;
    let mut messages = Vec::with_capacity(2);
    if let Some(system) = system {
        messages.push(("system".to_string(), system.to_string()));
    }
    messages.push(("user".to_string(), text.to_string()));
    Some(messages)
}

/// A prompt's tokens: the chat template rendered by the server
/// (`/apply-template`) when it can, else the message texts as sent.
async fn count_prompt(
    counter: &Counter,
    template: Option<&LlamaCppTokenizer>,
    client: &reqwest::Client,
    messages: &[(String, String)],
) -> Result<(u64, String), CountError> {
    if let Some(template) = template {
        if let Ok(rendered) = template.apply_template(client, messages).await {
            let n = count_text(counter, client, &rendered).await?;
            let what = format!("{}: chat template (/apply-template)", counter.source());
            return Ok((n, what));
        }
    }
    let mut n = 0;
    for (_, content) in messages {
        n += count_text(counter, client, content).await?;
    }
    let what = format!(
        "{}: prompt text as sent (no chat template)",
        counter.source()
    );
    Ok((n, what))
}

async fn count_text(
    counter: &Counter,
    client: &reqwest::Client,
    text: &str,
) -> Result<u64, CountError> {
    let counted = match counter {
        Counter::Server { .. } => return Err(CountError::ByServer),
        Counter::Local(local) => local.count(text),
        Counter::LlamaCpp(remote) => remote.count(client, text).await,
    };
    Ok(counted? as u64)
}

/// What the manifest says about each model's token source.
pub(crate) fn describe(counters: &Counters) -> BTreeMap<String, TokenizerFacts> {
    let entries = counters.by_model.iter().map(|(model, counter)| {
        let note = match counter {
            Counter::Server { note } => note.clone(),
            _ => None,
        };
        let used = if counters.explicit.contains(model) {
            counter.source()
        } else {
            "server (local count as a cross-check)".into()
        };
        let facts = TokenizerFacts {
            counter: counter.source(),
            note,
            used_for_output_tokens: used,
        };
        (model.clone(), facts)
    });
    entries.collect()
}

/// Refits every synthetic prompt (`input_tokens`) of the plan with its
/// model's own counter (the heuristic's text stays where the model has
/// none), before anything is sent. Cell ids are recomputed, since the text
/// sent changed. Says on standard error what each prompt came to.
pub(crate) fn fit_synthetic(
    plan: &mut Plan,
    experiment: &Experiment,
    counters: &Counters,
    client: &reqwest::Client,
) -> Result<(), AppError> {
    let targets: BTreeMap<&str, u32> = experiment
        .prompts
        .iter()
        .filter_map(|p| Some((p.id.as_str(), p.input_tokens?)))
        .collect();
    if targets.is_empty() {
        return Ok(());
    }
    let mut fitted: BTreeMap<(String, String), String> = BTreeMap::new();
    for cell in &mut plan.cells {
        let Some(counter) = counters.by_model.get(&cell.model) else {
            continue;
        };
        let mut refitted = false;
        if let Some(&tokens) = targets.get(cell.prompt.as_str()) {
            cell.text = fit_one(
                &mut fitted,
                counter,
                client,
                &cell.model,
                &cell.prompt,
                tokens,
            )?;
            refitted = true;
        }
        for variant in &mut cell.variants {
            if let Some(&tokens) = targets.get(variant.prompt.as_str()) {
                variant.text = fit_one(
                    &mut fitted,
                    counter,
                    client,
                    &cell.model,
                    &variant.prompt,
                    tokens,
                )?;
                refitted = true;
            }
        }
        // Only a cell whose text changed gets a new id.
        if refitted {
            cell.id = crate::plan::cell_id(cell);
        }
    }
    Ok(())
}

/// One model's text for one synthetic prompt (fitted once, then reused).
fn fit_one(
    fitted: &mut BTreeMap<(String, String), String>,
    counter: &Counter,
    client: &reqwest::Client,
    model: &str,
    prompt: &str,
    tokens: u32,
) -> Result<String, AppError> {
    let key = (model.to_string(), prompt.to_string());
    if let Some(text) = fitted.get(&key) {
        return Ok(text.clone());
    }
    let synthetic = crate::tokenize::synthetic::SyntheticText::new(prompt, tokens);
    let (text, counted) = synthetic
        .fit(tokens as usize, |text| count_now(counter, client, text))
        .map_err(|e| {
            AppError::new(
                exit::BAD_INPUT,
                format!(
                    "model {model}: cannot fit synthetic prompt {prompt} to {tokens} tokens: {e}"
                ),
            )
            .because(e)
        })?;
    let by = match counter {
        Counter::Server { .. } => "the heuristic (no tokenizer for this model)".to_string(),
        _ => counter.source(),
    };
    eprintln!("synthetic prompt {prompt} for {model}: {counted} tokens by {by}");
    fitted.insert(key, text.clone());
    Ok(text)
}

/// A count now, from a synchronous caller: llama.cpp's `/tokenize` is awaited
/// on this runtime (the fitting happens before the run, so nothing is timed).
fn count_now(
    counter: &Counter,
    client: &reqwest::Client,
    text: &str,
) -> Result<usize, TokenizeError> {
    match counter {
        Counter::Server { .. } => Ok(crate::tokenize::heuristic_count(text)),
        Counter::Local(local) => local.count(text),
        Counter::LlamaCpp(remote) => tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current().block_on(remote.count(client, text))
        }),
    }
}
