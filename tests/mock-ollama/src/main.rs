//! `mock-ollama`: runs the mock as a standalone server for manual demos, e.g.
//! `mock-ollama --port 11434 --ttft-ms 300 --inter-token-ms 40 --load-ms 1500 --tokens 64`.
//! Arguments are parsed by hand; Ctrl-C stops it.

use std::net::SocketAddr;
use std::time::Duration;

use mock_ollama::{MockConfig, MockServer};

const USAGE: &str =
    "usage: mock-ollama [--port N] [--ttft-ms X] [--inter-token-ms Y] [--load-ms Z] \
[--tokens N] [--tokens-per-chunk N] [--split-writes] [--empty-chunks] [--prompt-cache]";

fn parse_args(args: &[String]) -> Result<(u16, MockConfig), String> {
    let mut config = MockConfig::default();
    let mut port = 11434u16;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = |name: &str| -> Result<u64, String> {
            let v = it.next().ok_or_else(|| format!("{name} needs a value"))?;
            v.parse().map_err(|_| format!("{name}: not a number: {v}"))
        };
        match flag.as_str() {
            "--port" => {
                port =
                    u16::try_from(value(flag)?).map_err(|_| "--port: out of range".to_string())?
            }
            "--ttft-ms" => config.ttft = Duration::from_millis(value(flag)?),
            "--inter-token-ms" => config.inter_token = Duration::from_millis(value(flag)?),
            "--load-ms" => config.load_delay = Duration::from_millis(value(flag)?),
            "--tokens" => config.response_tokens = value(flag)? as usize,
            "--tokens-per-chunk" => config.tokens_per_chunk = value(flag)? as usize,
            "--split-writes" => config.split_writes = true,
            "--empty-chunks" => config.empty_chunks = true,
            "--prompt-cache" => config.prompt_cache = true,
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument: {other}\n{USAGE}")),
        }
    }
    Ok((port, config))
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (port, config) = match parse_args(&args) {
        Ok(parsed) => parsed,
        Err(msg) => {
            eprintln!("{msg}");
            std::process::exit(2);
        }
    };
    let models: Vec<String> = config.models.iter().map(|m| m.name.clone()).collect();
    let server = match MockServer::start_at(config, SocketAddr::from(([127, 0, 0, 1], port))).await
    {
        Ok(s) => s,
        Err(e) => {
            eprintln!("mock-ollama: cannot listen on port {port}: {e}");
            std::process::exit(1);
        }
    };
    println!(
        "mock-ollama listening on {} (models: {})",
        server.url(),
        models.join(", ")
    );
    let _ = tokio::signal::ctrl_c().await;
    server.shutdown().await;
}
