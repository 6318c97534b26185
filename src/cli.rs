//! Command-line interface (clap derive). Each subcommand's `--help` carries an
//! example; exit codes are the constants in `exit`.

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "llmbench",
    version = env!("LLMBENCH_VERSION_LINE"),
    about = "Benchmark LLMs served by Ollama or OpenAI-compatible servers, from experiment files kept in git."
)]
#[command(
    after_help = "Exit codes: 0 success · 1 error · 2 bad experiment file or arguments · 3 server unreachable or model missing · 4 every measured request failed · 5 a report template failed · 6 a threshold failed · 130 interrupted (Ctrl-C)"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run experiments: plan, send every request, store the run, render reports.
    #[command(
        after_help = "Examples:\n  llmbench exec experiments/quickstart.toml --set run.repetitions=5\n  llmbench exec 'experiments/*.toml' --out /tmp/runs\n\nShards (docs/scale-out.md): --shard K/N runs shard K (0-based) of N of the plan, in\n<out>/<experiment>/<launch>-shard-K-of-N. --split cells (default) deals whole cells to shards,\nbalanced by expected requests (one server per shard); --split load runs every cell on every\nshard at 1/N of its concurrency or rate (N clients, one server), started together with\n--start-at or --barrier. Without --shard, K and N come from a Slurm array\n(SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_COUNT or MIN/MAX; launch = SLURM_ARRAY_JOB_ID) or a\nKubernetes Indexed Job (JOB_COMPLETION_INDEX; N from --shards or LLMBENCH_SHARDS; launch from\nLLMBENCH_LAUNCH). A shard whose directory exists already is resumed (Slurm --requeue, pod restarts).\n  llmbench exec exp.toml --shard 0/3 --launch nightly-42 --out /shared/runs\n  llmbench merge '/shared/runs/exp/nightly-42-shard-*' --out /shared/runs/exp/nightly-42\n\nResume (after SIGKILL, OOM, preemption): torn last lines are set aside in torn/, only the\nrequests that did not complete are sent (warmups again for cells that restart), and the\nmanifest lists each resume. A complete run is left as it is; a changed experiment file is\nrefused.\n  llmbench exec --resume benchmarks/quickstart/20261128T120000Z-1a2b3c"
    )]
    Exec(ExecArgs),
    /// Merge the shard runs of one launch into one run (statistics from the raw records).
    #[command(
        after_help = "Examples:\n  llmbench merge 'benchmarks/coding/nightly-42-shard-*' --out benchmarks/coding/nightly-42\n  llmbench merge runs/a-shard-0-of-3 runs/a-shard-2-of-3 --out runs/a --partial\n\nEvery shard of the launch must be there once, from the same launch and the same\nexperiment file (sha256); anything else is an error that names the shard. --partial\nmerges what is there and marks the merged run (and every report) as partial."
    )]
    Merge(MergeArgs),
    /// Print the run matrix (cells, repetitions, request count) without sending anything.
    #[command(
        after_help = "Example:\n  llmbench plan experiments/coding.toml\n  llmbench plan experiments/coding.toml --json | jq '.cells | length'"
    )]
    Plan(PlanArgs),
    /// Check experiment files; exit non-zero on the first bad one.
    #[command(after_help = "Example:\n  llmbench validate experiments/*.toml")]
    Validate(ValidateArgs),
    /// Re-render reports from a stored run, without re-running anything.
    #[command(
        after_help = "Example:\n  llmbench report benchmarks/quickstart/20261128T120000Z-1a2b3c --template my.csv.hbs"
    )]
    Report(ReportArgs),
    /// Count tokens with a tokenizer spec, to check a mapping before a long run.
    #[command(
        after_help = "Examples:\n  llmbench tokenize --tokenizer tiktoken:cl100k_base 'hello world'\n  llmbench tokenize --tokenizer gguf:models/SmolLM2-135M-Instruct.Q4_1.gguf --ids < prompt.txt\n  llmbench tokenize --tokenizer llamacpp --url http://127.0.0.1:8080 'hello'"
    )]
    Tokenize(TokenizeArgs),
    /// Compare two stored runs cell by cell: both values, the change, and whether it is significant.
    #[command(
        after_help = "Examples:\n  llmbench compare benchmarks/coding/RUN_A benchmarks/coding/RUN_B\n  llmbench compare A B --fail-on 'ttft.p95 > +10%' --fail-on 'decode_tps.mean < -5%'\n  llmbench compare A B --format html > compare.html"
    )]
    Compare(CompareArgs),
    /// List a server's models with what it reports about them.
    #[command(
        after_help = "Example:\n  llmbench models --url http://127.0.0.1:11434 --kind ollama"
    )]
    Models(ModelsArgs),
    // ---- tools: schema, completions, man page, export (args below, code in app/tools.rs, app/export.rs) ----
    /// Print the JSON Schema of experiment files, for editors and validators.
    #[command(
        after_help = "Example:\n  llmbench schema experiment > experiment.schema.json\n\nThe same schema is committed as schemas/experiment.schema.json; start an experiment with\n  #:schema ../schemas/experiment.schema.json\nfor completion and checking in editors that use taplo (see docs/experiment-format.md)."
    )]
    Schema(SchemaArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell).
    #[command(
        after_help = "Examples:\n  llmbench completions bash > ~/.local/share/bash-completion/completions/llmbench\n  llmbench completions zsh > ~/.zfunc/_llmbench\n  llmbench completions fish > ~/.config/fish/completions/llmbench.fish"
    )]
    Completions(CompletionsArgs),
    /// Print the man page (roff), e.g. for man/man1/llmbench.1.
    #[command(
        after_help = "Example:\n  llmbench man > ~/.local/share/man/man1/llmbench.1 && man llmbench"
    )]
    Man,
    /// Export a stored run's cells and requests for dashboards: OpenMetrics text or JSON lines.
    #[command(
        after_help = "Examples:\n  llmbench export benchmarks/coding/RUN --format openmetrics > llmbench.prom\n  llmbench export benchmarks/coding/RUN --format jsonl --what requests | jq .ttft_ms"
    )]
    Export(ExportArgs),
    /// Follow an experiment's runs across git commits: per cell and model series, change points, what else changed.
    #[command(
        after_help = "Examples:\n  llmbench history benchmarks/coding\n  llmbench history benchmarks/coding --format html > history.html\n  llmbench history benchmarks/coding --fail-on-regression --min-change 10\n\nExit 6 with --fail-on-regression when a series' latest change point is a regression. See docs/history.md."
    )]
    History(HistoryArgs),
}

#[derive(Debug, clap::Args)]
pub struct ExecArgs {
    /// Experiment files or glob patterns.
    #[arg(required_unless_present = "resume")]
    pub files: Vec<String>,
    /// Where run directories go.
    #[arg(long, default_value = "benchmarks")]
    pub out: PathBuf,
    /// Override a key of the experiment, e.g. `run.repetitions=5` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Extra report templates rendered beside the built-in ones (repeatable).
    #[arg(long = "template", value_name = "PATH")]
    pub templates: Vec<PathBuf>,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
    /// Run shard K (0-based) of N; default: from a Slurm array or Kubernetes Indexed Job.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<crate::plan::shard::Shard>,
    /// The shard count where the engine gives only an index (Kubernetes; or LLMBENCH_SHARDS).
    #[arg(long, value_name = "N")]
    pub shards: Option<u32>,
    /// How shards divide the plan: whole cells, or every cell's load.
    #[arg(long, value_enum, default_value = "cells")]
    pub split: crate::plan::shard::Split,
    /// The id all shards of one launch share (default: LLMBENCH_LAUNCH, else the Slurm job id).
    #[arg(long, value_name = "ID")]
    pub launch: Option<String>,
    /// Start sending at this time (RFC 3339, e.g. 2026-12-04T18:00:00Z), so shards start together.
    #[arg(long, value_name = "TIME")]
    pub start_at: Option<String>,
    /// A directory on storage all shards share: each shard waits there until all N are ready.
    #[arg(long, value_name = "DIR")]
    pub barrier: Option<PathBuf>,
    /// Continue a run that was killed: send only what did not complete.
    #[arg(long, value_name = "RUN_DIR", conflicts_with_all = ["shard", "shards", "launch", "set"])]
    pub resume: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// The shard run directories, or glob patterns.
    #[arg(required = true)]
    pub runs: Vec<String>,
    /// The merged run's directory (created; must not exist).
    #[arg(long)]
    pub out: PathBuf,
    /// Merge even with shards missing; the merged run is marked partial.
    #[arg(long)]
    pub partial: bool,
    /// Extra report templates rendered beside the built-in ones (repeatable).
    #[arg(long = "template", value_name = "PATH")]
    pub templates: Vec<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    pub file: PathBuf,
    /// Print the plan as JSON.
    #[arg(long)]
    pub json: bool,
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// Experiment files or glob patterns.
    #[arg(required = true)]
    pub files: Vec<String>,
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// A run directory (benchmarks/<experiment>/<run>).
    pub run_dir: PathBuf,
    /// Extra templates rendered beside the built-in ones (repeatable).
    #[arg(long = "template", value_name = "PATH")]
    pub templates: Vec<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// The baseline run directory.
    pub run_a: PathBuf,
    /// The run compared with it.
    pub run_b: PathBuf,
    /// Fail (exit 6) when a change crosses this, e.g. "ttft.p95 > +10%" (repeatable).
    #[arg(long = "fail-on", value_name = "EXPR")]
    pub fail_on: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "md")]
    pub format: crate::compare::CompareFormat,
    /// Median changes smaller than this many percent are "no change".
    #[arg(long, default_value_t = 2.0)]
    pub noise: f64,
    /// Significance level of the Mann–Whitney U test.
    #[arg(long, default_value_t = 0.05)]
    pub alpha: f64,
    /// Fail a change beyond its --fail-on limit even when the test does not
    /// call it significant (by default such a change passes, as noise).
    #[arg(long)]
    pub strict: bool,
}

#[derive(Debug, clap::Args)]
pub struct TokenizeArgs {
    /// server | hf:PATH | hf:ORG/NAME | gguf:PATH | gguf | tiktoken:ENCODING | llamacpp | heuristic
    #[arg(long)]
    pub tokenizer: String,
    /// Also print the token ids as a JSON array.
    #[arg(long)]
    pub ids: bool,
    /// A llama.cpp server's URL, for `llamacpp` (its /tokenize). The other
    /// specs work offline; `gguf` alone (an Ollama model's vocabulary) is
    /// for runs only: here use gguf:PATH with the model file.
    #[arg(long)]
    pub url: Option<String>,
    /// The text; standard input (byte for byte) when absent.
    pub text: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct ModelsArgs {
    /// Server base URL.
    #[arg(long)]
    pub url: String,
    /// Server protocol.
    #[arg(long, value_enum)]
    pub kind: KindArg,
    /// Environment variable holding an API key (the key itself is never printed).
    #[arg(long)]
    pub api_key_env: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum KindArg {
    Ollama,
    Openai,
}

// ---- tools: schema, completions, man page, export ----

/// The git commit this binary was built from (build.rs), if known.
pub fn build_commit() -> Option<&'static str> {
    Some(env!("LLMBENCH_BUILD_COMMIT")).filter(|commit| !commit.is_empty())
}

#[derive(Debug, clap::Args)]
pub struct SchemaArgs {
    /// Which file format.
    #[arg(value_enum)]
    pub format: SchemaKind,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SchemaKind {
    /// Experiment files (experiments/*.toml).
    Experiment,
}

#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// A run directory (benchmarks/<experiment>/<run>).
    pub run_dir: PathBuf,
    /// Output format.
    #[arg(long, value_enum)]
    pub format: ExportFormat,
    /// What to export: cell summaries, requests, or both (JSON lines only;
    /// OpenMetrics carries cell summaries).
    #[arg(long, value_enum, default_value = "cells")]
    pub what: ExportWhat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// OpenMetrics / Prometheus text exposition, for a Pushgateway or a textfile collector.
    Openmetrics,
    /// One JSON object per line.
    Jsonl,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportWhat {
    Cells,
    Requests,
    All,
}

#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    /// Run directories, experiment folders of runs (benchmarks/<experiment>), or benchmarks/ itself.
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: HistoryFormat,
    /// Smallest change reported, in percent (percentage points for error and pass rates).
    #[arg(long, default_value_t = 5.0, value_name = "PERCENT")]
    pub min_change: f64,
    /// Significance level of the change-point test.
    #[arg(long, default_value_t = 0.05)]
    pub alpha: f64,
    /// Exit 6 when the newest run is past a regression change point.
    #[arg(long)]
    pub fail_on_regression: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HistoryFormat {
    /// A table of change points for the terminal.
    Text,
    Md,
    Json,
    /// One self-contained page with a chart per metric per series.
    Html,
}

/// Documented exit codes.
pub(crate) mod exit {
    pub(crate) const OK: u8 = 0;
    pub(crate) const ERROR: u8 = 1;
    pub(crate) const BAD_INPUT: u8 = 2;
    pub(crate) const SERVER: u8 = 3;
    pub(crate) const ALL_FAILED: u8 = 4;
    pub(crate) const TEMPLATE: u8 = 5;
    pub(crate) const THRESHOLD: u8 = 6;
    pub(crate) const INTERRUPTED: u8 = 130;
}
