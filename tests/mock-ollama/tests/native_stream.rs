//! Tests of `/api/generate` and `/api/chat` generation: NDJSON framing and field order,
//! metrics against injected delays, `num_predict` and stop sequences, thinking,
//! `stream:false` aggregation and the load/unload replies.

mod common;

use common::{ms, post};
use mock_ollama::{MockConfig, MockServer};
use serde_json::{json, Value};

async fn server(config: MockConfig) -> MockServer {
    MockServer::start(config).await.expect("start")
}

const GEN: &str = r#"{"model":"qwen3:0.6b","prompt":"Count to five please"}"#;
const METRICS: [&str; 6] = [
    "total_duration",
    "load_duration",
    "prompt_eval_count",
    "prompt_eval_duration",
    "eval_count",
    "eval_duration",
];

fn n(v: &Value, k: &str) -> u64 {
    v[k].as_u64()
        .unwrap_or_else(|| panic!("{k} missing in {v}"))
}

#[tokio::test]
async fn generate_streams_one_record_per_chunk_in_go_field_order() {
    let s = server(MockConfig {
        inter_token: ms(3),
        ..MockConfig::default()
    })
    .await;
    let r = post(s.addr(), "/api/generate", GEN).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/x-ndjson"));
    assert_eq!(r.header("transfer-encoding"), Some("chunked"));
    assert_eq!(r.chunks.len(), 21);
    for (_, c) in &r.chunks {
        assert_eq!(c.iter().filter(|b| **b == b'\n').count(), 1);
        assert_eq!(c.last(), Some(&b'\n'));
    }
    let first = String::from_utf8(r.chunks[0].1.clone()).unwrap();
    assert!(
        first.starts_with("{\"model\":\"qwen3:0.6b\",\"created_at\":\""),
        "{first}"
    );
    assert!(
        first.ends_with("\"response\":\"The\",\"done\":false}\n"),
        "{first}"
    );
    let lines = r.lines();
    let created: jiff::Timestamp = lines[0]["created_at"].as_str().unwrap().parse().unwrap();
    assert!(created.as_second() > 0);
    let last = lines.last().unwrap();
    let raw_last = String::from_utf8(r.chunks[20].1.clone()).unwrap();
    assert!(
        raw_last.contains("\"response\":\"\",\"done\":true,\"done_reason\":\"stop\",\"context\":[")
    );
    let order: Vec<usize> = METRICS
        .iter()
        .map(|k| raw_last.find(&format!("\"{k}\"")).unwrap())
        .collect();
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "metric order in {raw_last}"
    );
    assert_eq!(n(last, "eval_count"), 20);
    assert_eq!(n(last, "prompt_eval_count"), 4 + 9);
    assert_eq!(last["context"].as_array().unwrap().len(), 33);
    let text: String = lines
        .iter()
        .map(|l| l["response"].as_str().unwrap())
        .collect();
    assert!(text.starts_with("The café serves naïve"));
    assert!(n(last, "eval_duration") >= ms(19 * 3).as_nanos() as u64);
}

#[tokio::test]
async fn metrics_and_arrival_times_follow_injected_delays() {
    let config = MockConfig {
        ttft: ms(200),
        inter_token: ms(20),
        load_delay: ms(100),
        response_tokens: 5,
        ..MockConfig::default()
    };
    let s = server(config).await;
    let body = r#"{"model":"qwen3:0.6b","messages":[{"role":"user","content":"hi"}]}"#;
    let r = post(s.addr(), "/api/chat", body).await;
    let ttft = r.first_chunk_after();
    assert!(
        (ms(290)..ms(600)).contains(&ttft),
        "first chunk after {ttft:?}"
    );
    // Five content chunks 20 ms apart: the four gaps span at least ~80 ms.
    let decode = r.chunks[4].0 - r.chunks[0].0;
    assert!(decode >= ms(75), "content chunks spread over {decode:?}");
    let last = r.lines().pop().unwrap();
    assert!(last.get("context").is_none());
    let (load, prompt, eval) = (
        n(&last, "load_duration"),
        n(&last, "prompt_eval_duration"),
        n(&last, "eval_duration"),
    );
    assert!((100_000_000..300_000_000).contains(&load), "load {load}");
    assert!(
        (190_000_000..400_000_000).contains(&prompt),
        "prompt {prompt}"
    );
    assert!((75_000_000..300_000_000).contains(&eval), "eval {eval}");
    assert!(n(&last, "total_duration") >= load + prompt + eval);
    assert_eq!(n(&last, "eval_count"), 5);

    let again = post(s.addr(), "/api/chat", body)
        .await
        .lines()
        .pop()
        .unwrap();
    assert!(
        n(&again, "load_duration") < 50_000_000,
        "already loaded: {again}"
    );
}

#[tokio::test]
async fn num_predict_bounds_generation_with_length() {
    let s = server(MockConfig::default()).await;
    let body = r#"{"model":"qwen3:0.6b","prompt":"x","raw":true,"options":{"num_predict":7}}"#;
    let lines = post(s.addr(), "/api/generate", body).await.lines();
    assert_eq!(lines.len(), 8);
    let last = lines.last().unwrap();
    assert_eq!(
        (last["done_reason"].as_str(), n(last, "eval_count")),
        (Some("length"), 7)
    );
    assert!(last.get("context").is_none(), "raw mode has no context");
    let body =
        r#"{"model":"qwen3:0.6b","prompt":"x","options":{"num_predict":50,"stop":["three"]}}"#;
    let last = post(s.addr(), "/api/generate", body)
        .await
        .lines()
        .pop()
        .unwrap();
    assert_eq!(last["done_reason"], "stop");
    assert!(n(&last, "eval_count") < 20);
}

#[tokio::test]
async fn stream_false_aggregates_the_stream() {
    let s = server(MockConfig {
        tokens_per_chunk: 3,
        ..MockConfig::default()
    })
    .await;
    let streamed = post(s.addr(), "/api/generate", GEN).await.lines();
    assert_eq!(
        streamed.len(),
        8,
        "20 tokens in chunks of 3, plus the final record"
    );
    let text: String = streamed
        .iter()
        .map(|l| l["response"].as_str().unwrap())
        .collect();
    let r = post(
        s.addr(),
        "/api/generate",
        r#"{"model":"qwen3:0.6b","prompt":"Count to five please","stream":false}"#,
    )
    .await;
    assert_eq!(
        r.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    let v = r.json();
    assert_eq!(
        (v["response"].as_str(), v["done"].as_bool()),
        (Some(text.as_str()), Some(true))
    );
    assert_eq!(n(&v, "eval_count"), 20);
    let chat =
        r#"{"model":"thinker:1b","stream":false,"messages":[{"role":"user","content":"hi"}]}"#;
    let v = post(s.addr(), "/api/chat", chat).await.json();
    assert!(v["message"]["thinking"]
        .as_str()
        .unwrap()
        .starts_with("Okay, the user"));
    assert!(v["message"]["content"]
        .as_str()
        .unwrap()
        .starts_with("The café"));
}

#[tokio::test]
async fn thinking_models_think_first_unless_told_not_to() {
    let s = server(MockConfig::default()).await;
    let lines = post(
        s.addr(),
        "/api/generate",
        r#"{"model":"thinker:1b","prompt":"hi"}"#,
    )
    .await
    .lines();
    assert_eq!(lines[0]["thinking"], "Okay,");
    assert_eq!(lines[0]["response"], "");
    assert!(lines[10]["thinking"].is_null());
    assert_eq!(lines[10]["response"], "The");
    assert_eq!(n(lines.last().unwrap(), "eval_count"), 20);
    let chat = r#"{"model":"thinker:1b","messages":[{"role":"user","content":"hi"}]}"#;
    let lines = post(s.addr(), "/api/chat", chat).await.lines();
    assert_eq!(
        lines[0]["message"],
        json!({"role": "assistant", "content": "", "thinking": "Okay,"})
    );
    let chat =
        r#"{"model":"thinker:1b","think":false,"messages":[{"role":"user","content":"hi"}]}"#;
    let lines = post(s.addr(), "/api/chat", chat).await.lines();
    assert!(lines.iter().all(|l| l["message"].get("thinking").is_none()));
}

#[tokio::test]
async fn load_and_unload_replies_carry_no_metrics() {
    let s = server(MockConfig {
        load_delay: ms(150),
        ..MockConfig::default()
    })
    .await;
    let r = post(
        s.addr(),
        "/api/chat",
        r#"{"model":"qwen3:0.6b","messages":[]}"#,
    )
    .await;
    assert!(r.first_chunk_after() >= ms(150));
    assert_eq!(
        r.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    let v = r.json();
    assert_eq!(v["message"], json!({"role": "assistant", "content": ""}));
    assert_eq!(
        (v["done"].as_bool(), v["done_reason"].as_str()),
        (Some(true), Some("load"))
    );
    assert!(METRICS.iter().all(|k| v.get(k).is_none()));
    let r = post(s.addr(), "/api/generate", r#"{"model":"qwen3:0.6b"}"#).await;
    assert!(r.first_chunk_after() < ms(100), "already loaded");
    let v = post(
        s.addr(),
        "/api/generate",
        r#"{"model":"qwen3:0.6b","keep_alive":0}"#,
    )
    .await
    .json();
    assert_eq!(
        (v["response"].as_str(), v["done_reason"].as_str()),
        (Some(""), Some("unload"))
    );
    let last = post(s.addr(), "/api/generate", GEN)
        .await
        .lines()
        .pop()
        .unwrap();
    assert!(
        n(&last, "load_duration") >= 150_000_000,
        "reloaded after unload"
    );
}
