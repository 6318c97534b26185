//! Command-line interface (clap derive). Each subcommand's `--help` carries an
//! example; exit codes are the constants in `exit`.

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "llmbench",
    version,
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
        after_help = "Example:\n  llmbench exec experiments/quickstart.toml --set run.repetitions=5\n  llmbench exec 'experiments/*.toml' --out /tmp/runs"
    )]
    Exec(ExecArgs),
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
}

#[derive(Debug, clap::Args)]
pub struct ExecArgs {
    /// Experiment files or glob patterns.
    #[arg(required = true)]
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
    /// Server URL, for `llamacpp` (and `gguf`, an Ollama model's vocabulary).
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

/// Documented exit codes.
pub mod exit {
    pub const OK: u8 = 0;
    pub const ERROR: u8 = 1;
    pub const BAD_INPUT: u8 = 2;
    pub const SERVER: u8 = 3;
    pub const ALL_FAILED: u8 = 4;
    pub const TEMPLATE: u8 = 5;
    pub const THRESHOLD: u8 = 6;
    pub const INTERRUPTED: u8 = 130;
}
