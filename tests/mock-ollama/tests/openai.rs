//! Tests of the `/v1` layer: the exact chat SSE event sequence (role with the first text,
//! separate finish event, usage only with `include_usage`, `[DONE]`), reasoning deltas,
//! `max_tokens`, the non-streaming object, OpenAI-shaped errors, the swallowed mid-stream
//! error, `/v1/models` and `/v1/completions`.

mod common;

use common::{get, post};
use mock_ollama::{Fault, MockConfig, MockServer};
use serde_json::{json, Value};

async fn server(config: MockConfig) -> MockServer {
    MockServer::start(config).await.expect("start")
}

fn chat(model: &str, extra: &str) -> String {
    format!(r#"{{"model":"{model}","messages":[{{"role":"user","content":"hi there"}}]{extra}}}"#)
}

fn parse(events: &[String]) -> Vec<Value> {
    events
        .iter()
        .filter(|e| *e != "[DONE]")
        .map(|e| serde_json::from_str(e).expect("event JSON"))
        .collect()
}

#[tokio::test]
async fn chat_stream_follows_the_v033_event_sequence() {
    let s = server(MockConfig {
        response_tokens: 4,
        ..MockConfig::default()
    })
    .await;
    let r = post(
        s.addr(),
        "/v1/chat/completions",
        &chat("qwen3:0.6b", r#","stream":true"#),
    )
    .await;
    assert_eq!(r.header("content-type"), Some("text/event-stream"));
    let events = r.events();
    assert_eq!(
        events.len(),
        6,
        "4 content events, finish, [DONE]: {events:?}"
    );
    assert_eq!(events.last().unwrap(), "[DONE]");
    let ev = parse(&events);
    assert!(events[0].starts_with("{\"id\":\"chatcmpl-"));
    assert_eq!(ev[0]["object"], "chat.completion.chunk");
    assert_eq!(ev[0]["system_fingerprint"], "fp_ollama");
    assert_eq!(
        ev[0]["choices"][0]["delta"],
        json!({"role": "assistant", "content": "The"})
    );
    assert_eq!(ev[0]["choices"][0]["finish_reason"], Value::Null);
    assert_eq!(ev[1]["choices"][0]["delta"], json!({"content": " café"}));
    assert_eq!(
        ev[4]["choices"][0],
        json!({"index": 0, "delta": {}, "finish_reason": "stop"})
    );
    assert!(ev
        .iter()
        .all(|e| e.get("usage").is_none() && e["created"] == ev[0]["created"]));
    assert!(ev.iter().all(|e| e["id"] == ev[0]["id"]));
}

#[tokio::test]
async fn usage_event_only_with_include_usage() {
    let s = server(MockConfig::default()).await;
    let extra = r#","stream":true,"max_tokens":5,"stream_options":{"include_usage":true}"#;
    let events = post(s.addr(), "/v1/chat/completions", &chat("qwen3:0.6b", extra))
        .await
        .events();
    let ev = parse(&events);
    assert_eq!(events.len(), 8, "5 content, finish, usage, [DONE]");
    assert_eq!(ev[5]["choices"][0]["finish_reason"], "length");
    assert_eq!(ev[6]["choices"], json!([]));
    assert_eq!(
        ev[6]["usage"],
        json!({"prompt_tokens": 9, "completion_tokens": 5, "total_tokens": 14})
    );
    assert_eq!(
        s.requests()[0]["max_tokens"],
        5,
        "the /v1 body is recorded as sent"
    );
}

#[tokio::test]
async fn reasoning_deltas_carry_empty_content() {
    let s = server(MockConfig {
        response_tokens: 4,
        ..MockConfig::default()
    })
    .await;
    let ev = parse(
        &post(
            s.addr(),
            "/v1/chat/completions",
            &chat("thinker:1b", r#","stream":true"#),
        )
        .await
        .events(),
    );
    assert_eq!(
        ev[0]["choices"][0]["delta"],
        json!({"role": "assistant", "content": "", "reasoning": "Okay,"})
    );
    assert_eq!(
        ev[1]["choices"][0]["delta"],
        json!({"content": "", "reasoning": " the"})
    );
    assert_eq!(ev[2]["choices"][0]["delta"], json!({"content": "The"}));
    let extra = r#","stream":true,"reasoning_effort":"none""#;
    let ev = parse(
        &post(s.addr(), "/v1/chat/completions", &chat("thinker:1b", extra))
            .await
            .events(),
    );
    assert!(ev
        .iter()
        .all(|e| e["choices"][0]["delta"].get("reasoning").is_none()));
}

#[tokio::test]
async fn non_streaming_chat_completion() {
    let s = server(MockConfig {
        response_tokens: 6,
        ..MockConfig::default()
    })
    .await;
    let r = post(s.addr(), "/v1/chat/completions", &chat("thinker:1b", "")).await;
    let v = r.json();
    assert_eq!(v["object"], "chat.completion");
    let choice = &v["choices"][0];
    assert_eq!(choice["message"]["role"], "assistant");
    assert_eq!(choice["message"]["content"], "The café serves");
    assert_eq!(choice["message"]["reasoning"], "Okay, the user");
    assert_eq!(choice["finish_reason"], "stop");
    assert_eq!(v["usage"]["completion_tokens"], 6);
}

#[tokio::test]
async fn errors_are_openai_shaped() {
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
    let r = post(s.addr(), "/v1/chat/completions", &chat("nope", "")).await;
    let e = json!({"error": {"message": "model 'nope' not found", "type": "not_found_error", "param": null, "code": null}});
    assert_eq!((r.status, r.json()), (404, e));
    let r = post(
        s.addr(),
        "/v1/chat/completions",
        r#"{"model":"qwen3:0.6b","messages":[]}"#,
    )
    .await;
    assert_eq!(
        (r.status, r.json()["error"]["type"].as_str()),
        (400, Some("invalid_request_error"))
    );
    assert_eq!(
        post(s.addr(), "/v1/chat/completions", &chat("qwen3:0.6b", ""))
            .await
            .status,
        200
    );
    let r = post(
        s.addr(),
        "/v1/chat/completions",
        &chat("qwen3:0.6b", r#","stream":true"#),
    )
    .await;
    assert_eq!(
        (r.status, r.json()["error"]["type"].as_str()),
        (503, Some("api_error"))
    );
    assert_eq!(r.json()["error"]["message"], busy);
}

#[tokio::test]
async fn mid_stream_error_is_swallowed_without_done() {
    let fail = Fault::MidStream {
        after_chunks: 2,
        message: "boom".into(),
    };
    let s = server(MockConfig {
        fail: Some(fail),
        ..MockConfig::default()
    })
    .await;
    let r = post(
        s.addr(),
        "/v1/chat/completions",
        &chat("qwen3:0.6b", r#","stream":true"#),
    )
    .await;
    assert_eq!(r.status, 200);
    let events = r.events();
    assert_eq!(events.len(), 3);
    assert!(!events.contains(&"[DONE]".to_string()));
    let ev = parse(&events);
    assert_eq!(ev[2]["choices"][0]["delta"], json!({"content": ""}));
    assert_eq!(ev[2]["choices"][0]["finish_reason"], Value::Null);
    let s = server(MockConfig {
        fail: Some(Fault::TruncateStream { after_chunks: 1 }),
        ..MockConfig::default()
    })
    .await;
    let events = post(
        s.addr(),
        "/v1/chat/completions",
        &chat("qwen3:0.6b", r#","stream":true"#),
    )
    .await
    .events();
    assert_eq!(events.len(), 1, "no finish, no [DONE]");
}

#[tokio::test]
async fn models_list_and_lookup() {
    let s = server(MockConfig::default()).await;
    let v = get(s.addr(), "/v1/models").await.json();
    assert_eq!(v["object"], "list");
    assert_eq!(v["data"][0]["id"], "qwen3:0.6b");
    assert_eq!(v["data"][0]["owned_by"], "library");
    assert!(v["data"][0]["created"].as_i64().unwrap() > 1_700_000_000);
    assert_eq!(
        get(s.addr(), "/v1/models/thinker:1b").await.json()["id"],
        "thinker:1b"
    );
    assert_eq!(get(s.addr(), "/v1/models/nope").await.status, 404);
    let empty = server(MockConfig {
        models: vec![],
        ..MockConfig::default()
    })
    .await;
    assert_eq!(
        get(empty.addr(), "/v1/models").await.text(),
        "{\"object\":\"list\",\"data\":null}"
    );
}

#[tokio::test]
async fn completions_stream_with_zero_usage_quirk() {
    let s = server(MockConfig {
        response_tokens: 3,
        ..MockConfig::default()
    })
    .await;
    let body = r#"{"model":"qwen3:0.6b","prompt":"Say it","stream":true,"stream_options":{"include_usage":true}}"#;
    let events = post(s.addr(), "/v1/completions", body).await.events();
    assert_eq!(events.len(), 6, "3 texts, final, usage, [DONE]: {events:?}");
    let ev = parse(&events);
    assert_eq!(ev[0]["object"], "text_completion");
    assert_eq!(
        ev[0]["choices"][0],
        json!({"text": "The", "index": 0, "finish_reason": null})
    );
    assert!(ev[..4]
        .iter()
        .all(|e| e["usage"]
            == json!({"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0})));
    assert_eq!(ev[3]["choices"][0]["finish_reason"], "stop");
    assert_eq!(ev[4]["choices"], json!([]));
    assert_eq!(ev[4]["usage"]["completion_tokens"], 3);
    let body = r#"{"model":"qwen3:0.6b","prompt":"Say it","max_tokens":2}"#;
    let v = post(s.addr(), "/v1/completions", body).await.json();
    assert_eq!(
        (
            v["choices"][0]["text"].as_str(),
            v["choices"][0]["finish_reason"].as_str()
        ),
        (Some("The café"), Some("length"))
    );
    assert!(v["id"].as_str().unwrap().starts_with("cmpl-"));
}
