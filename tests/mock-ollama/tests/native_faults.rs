//! Tests of fault injection and version quirks on the native endpoints: mid-stream error
//! line, truncated streams, status faults (always / every n-th), split writes, empty
//! chunks, a missing prompt count, and cancellation when the client disconnects.

mod common;

use common::{ms, open, post};
use mock_ollama::{Fault, MockConfig, MockServer};
use serde_json::{json, Value};

async fn server(config: MockConfig) -> MockServer {
    MockServer::start(config).await.expect("start")
}

const GEN: &str = r#"{"model":"qwen3:0.6b","prompt":"Count to five please"}"#;

fn n(v: &Value, k: &str) -> u64 {
    v[k].as_u64()
        .unwrap_or_else(|| panic!("{k} missing in {v}"))
}

#[tokio::test]
async fn mid_stream_error_is_a_line_after_status_200() {
    let fail = Fault::MidStream {
        after_chunks: 3,
        message: "an error was encountered while running the model".into(),
    };
    let s = server(MockConfig {
        fail: Some(fail),
        ..MockConfig::default()
    })
    .await;
    let r = post(s.addr(), "/api/generate", GEN).await;
    assert_eq!(r.status, 200);
    let lines = r.lines();
    assert_eq!(lines.len(), 4);
    assert_eq!(
        lines[3],
        json!({"error": "an error was encountered while running the model"})
    );
    assert!(lines.iter().all(|l| l["done"] != true));

    let fail = Fault::MidStream {
        after_chunks: 0,
        message: "boom".into(),
    };
    let s = server(MockConfig {
        fail: Some(fail),
        ..MockConfig::default()
    })
    .await;
    let r = post(
        s.addr(),
        "/api/chat",
        r#"{"model":"qwen3:0.6b","messages":[{"role":"user","content":"x"}]}"#,
    )
    .await;
    assert_eq!(
        (r.status, r.json()),
        (500, json!({"error": "boom"})),
        "nothing written yet"
    );
}

#[tokio::test]
async fn truncated_stream_ends_without_a_final_record() {
    let s = server(MockConfig {
        fail: Some(Fault::TruncateStream { after_chunks: 2 }),
        ..MockConfig::default()
    })
    .await;
    let r = post(s.addr(), "/api/generate", GEN).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.lines().len(), 2);
    assert!(r.lines().iter().all(|l| l["done"] == false));
    let r = post(
        s.addr(),
        "/api/generate",
        r#"{"model":"qwen3:0.6b","prompt":"x","stream":false}"#,
    )
    .await;
    assert!(
        !r.complete && r.body().is_empty(),
        "non-streaming reply breaks off"
    );
}

#[tokio::test]
async fn status_faults_before_streaming() {
    let busy = "server busy, please try again.  maximum pending requests exceeded";
    let fail = Fault::EveryNth {
        n: 2,
        status: 503,
        message: busy.into(),
    };
    let s = server(MockConfig {
        fail: Some(fail),
        ..MockConfig::default()
    })
    .await;
    post(s.addr(), "/api/generate", r#"{"model":"qwen3:0.6b"}"#).await;
    let statuses: Vec<u16> = futures_statuses(&s, 4).await;
    assert_eq!(statuses, [200, 503, 200, 503], "load requests do not count");
    let fail = Fault::Status {
        status: 500,
        message: "model runner has unexpectedly stopped".into(),
    };
    let s = server(MockConfig {
        fail: Some(fail),
        ..MockConfig::default()
    })
    .await;
    let r = post(s.addr(), "/api/generate", GEN).await;
    assert_eq!(
        (r.status, r.json()),
        (
            500,
            json!({"error": "model runner has unexpectedly stopped"})
        )
    );
    assert_eq!(
        s.requests(),
        vec![serde_json::from_str::<Value>(GEN).unwrap()]
    );
}

async fn futures_statuses(s: &MockServer, count: usize) -> Vec<u16> {
    let mut out = Vec::new();
    for _ in 0..count {
        out.push(post(s.addr(), "/api/generate", GEN).await.status);
    }
    out
}

#[tokio::test]
async fn split_writes_break_records_mid_character() {
    let s = server(MockConfig {
        split_writes: true,
        ..MockConfig::default()
    })
    .await;
    let r = post(s.addr(), "/api/generate", GEN).await;
    assert_eq!(r.chunks.len(), 42);
    assert!(r.chunks.iter().step_by(2).all(|(_, c)| !c.ends_with(b"\n")));
    assert!(
        r.chunks
            .iter()
            .any(|(_, c)| std::str::from_utf8(c).is_err()),
        "some split lands inside a character"
    );
    assert_eq!(r.lines().len(), 21);
}

#[tokio::test]
async fn quirk_switches() {
    let config = MockConfig {
        empty_chunks: true,
        omit_prompt_eval_count: true,
        ..MockConfig::default()
    };
    let s = server(config).await;
    let lines = post(s.addr(), "/api/generate", GEN).await.lines();
    assert_eq!(lines.len(), 41);
    assert_eq!(lines[0]["response"], "");
    assert_eq!(lines[0]["done"], false);
    let last = lines.last().unwrap();
    assert!(last.get("prompt_eval_count").is_none() && last.get("prompt_eval_duration").is_none());
    assert_eq!(n(last, "eval_count"), 20);
}

#[tokio::test]
async fn disconnect_cancels_generation() {
    let config = MockConfig {
        inter_token: ms(50),
        response_tokens: 200,
        ..MockConfig::default()
    };
    let s = server(config).await;
    let mut ex = open(s.addr(), "POST", "/api/generate", Some(GEN)).await;
    assert!(ex.next_chunk().await.is_some());
    assert_eq!(s.in_flight(), 1);
    drop(ex);
    let deadline = std::time::Instant::now() + ms(2000);
    while s.in_flight() > 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(ms(10)).await;
    }
    assert_eq!(s.in_flight(), 0, "generation stopped after the client left");
}

#[tokio::test]
async fn prompt_cache_mode_times_only_the_uncached_part_but_counts_the_whole_prompt() {
    let config = MockConfig {
        ttft: ms(200),
        prompt_cache: true,
        ..MockConfig::default()
    };
    let s = server(config).await;
    let first = post(s.addr(), "/api/generate", GEN).await.lines();
    let again = post(s.addr(), "/api/generate", GEN).await.lines();
    let (first, again) = (first.last().unwrap(), again.last().unwrap());
    assert_eq!(
        n(first, "prompt_eval_count"),
        n(again, "prompt_eval_count"),
        "the whole prompt counted both times"
    );
    assert!(n(first, "prompt_eval_duration") >= 190_000_000, "{first}");
    assert!(
        n(again, "prompt_eval_duration") < 50_000_000,
        "a repeated prompt is served from the cache: {again}"
    );
    assert!(
        again.get("prompt_eval_cached_count").is_none(),
        "v0.33 says nothing"
    );
    let other = GEN.replace("\"prompt\":\"", "\"prompt\":\"[7f3a] ");
    let fresh = post(s.addr(), "/api/generate", &other).await.lines();
    let fresh = fresh.last().unwrap();
    assert!(
        n(fresh, "prompt_eval_duration") >= 150_000_000,
        "a new prefix is evaluated again: {fresh}"
    );
}
