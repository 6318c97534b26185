//! Tests of the non-generation endpoints and of request errors: liveness, version, 404/405
//! texts, `/api/tags`, `/api/show` (verbose or not), `/api/ps` across load and unload,
//! `/api/pull`, and the 400/404 error replies of the generation endpoints.

mod common;

use common::{call, get, post};
use mock_ollama::{MockConfig, MockServer};
use serde_json::json;

async fn server() -> MockServer {
    MockServer::start(MockConfig::default())
        .await
        .expect("start")
}

#[tokio::test]
async fn liveness_version_and_routing_errors() {
    let s = server().await;
    let r = get(s.addr(), "/").await;
    assert_eq!((r.status, r.text().as_str()), (200, "Ollama is running"));
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    let r = call(s.addr(), "HEAD", "/", None).await;
    assert_eq!(r.status, 200);
    assert!(r.body().is_empty());
    assert_eq!(
        get(s.addr(), "/api/version").await.json(),
        json!({"version": "0.33.0-rc2"})
    );
    let r = get(s.addr(), "/api/nope").await;
    assert_eq!((r.status, r.text().as_str()), (404, "404 page not found"));
    let r = get(s.addr(), "/api/generate").await;
    assert_eq!(
        (r.status, r.text().as_str()),
        (405, "405 method not allowed")
    );
    assert_eq!(post(s.addr(), "/api/tags", "{}").await.status, 405);
    assert!(s.requests().is_empty());
}

#[tokio::test]
async fn tags_list_models_and_empty_list_is_an_array() {
    let s = server().await;
    let r = get(s.addr(), "/api/tags").await;
    assert_eq!(
        r.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    assert!(r.text().starts_with(
        "{\"models\":[{\"name\":\"qwen3:0.6b\",\"model\":\"qwen3:0.6b\",\"modified_at\":"
    ));
    let models = r.json()["models"].as_array().cloned().unwrap();
    assert_eq!(models.len(), 2);
    assert_eq!(models[1]["details"]["parameter_size"], "1.0B");
    assert_eq!(models[0]["details"]["quantization_level"], "Q4_K_M");
    assert_eq!(models[0]["digest"].as_str().unwrap().len(), 64);
    let empty = MockServer::start(MockConfig {
        models: vec![],
        ..MockConfig::default()
    })
    .await
    .unwrap();
    assert_eq!(
        get(empty.addr(), "/api/tags").await.text(),
        "{\"models\":[]}"
    );
}

#[tokio::test]
async fn show_blanks_long_arrays_unless_verbose() {
    let s = server().await;
    let r = post(s.addr(), "/api/show", r#"{"model":"QWEN3:0.6b"}"#).await;
    assert_eq!(r.status, 200);
    let v = r.json();
    let info = &v["model_info"];
    assert_eq!(info["general.architecture"], "qwen3");
    assert_eq!(info["general.parameter_count"], 751_632_384);
    assert_eq!(info["qwen3.context_length"], 40_960);
    assert_eq!(info["tokenizer.ggml.tokens"], json!([]));
    assert_eq!(info["tokenizer.ggml.merges"], json!([]));
    assert_eq!(
        info["qwen3.rope.dimension_sections"],
        json!([24, 20, 20, 0])
    );
    assert_eq!(v["capabilities"], json!(["completion", "tools"]));
    assert_eq!(v["details"]["family"], "qwen3");

    let v = post(
        s.addr(),
        "/api/show",
        r#"{"name":"thinker:1b","verbose":true}"#,
    )
    .await
    .json();
    assert!(
        v["model_info"]["tokenizer.ggml.tokens"]
            .as_array()
            .unwrap()
            .len()
            > 5
    );
    assert!(v["capabilities"]
        .as_array()
        .unwrap()
        .contains(&json!("thinking")));

    let r = post(s.addr(), "/api/show", r#"{"model":"nope"}"#).await;
    assert_eq!(
        (r.status, r.json()),
        (404, json!({"error": "model 'nope:latest' not found"}))
    );
    let r = post(s.addr(), "/api/show", "{}").await;
    assert_eq!(
        (r.status, r.json()),
        (400, json!({"error": "model is required"}))
    );
}

#[tokio::test]
async fn ps_follows_load_keep_alive_and_unload() {
    let s = server().await;
    assert_eq!(get(s.addr(), "/api/ps").await.text(), "{\"models\":[]}");
    let load = r#"{"model":"qwen3:0.6b","keep_alive":"10m","options":{"num_ctx":8192}}"#;
    let r = post(s.addr(), "/api/generate", load).await;
    assert_eq!(r.json()["done_reason"], "load");
    let ps = get(s.addr(), "/api/ps").await.json();
    let m = &ps["models"][0];
    assert_eq!(
        (m["name"].as_str(), m["context_length"].as_u64()),
        (Some("qwen3:0.6b"), Some(8192))
    );
    assert_eq!(m["size"], m["size_vram"]);
    assert!(m["size"].as_u64().unwrap() > 522_653_767);
    let expires: jiff::Timestamp = m["expires_at"].as_str().unwrap().parse().unwrap();
    let left = expires.duration_since(jiff::Timestamp::now()).as_secs_f64();
    assert!((590.0..=600.5).contains(&left), "expires in {left}s");

    post(
        s.addr(),
        "/api/chat",
        r#"{"model":"thinker:1b","messages":[],"keep_alive":-1}"#,
    )
    .await;
    let ps = get(s.addr(), "/api/ps").await.json();
    assert_eq!(ps["models"][0]["name"], "thinker:1b", "forever sorts first");
    let forever: jiff::Timestamp = ps["models"][0]["expires_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(forever.strftime("%Y").to_string().parse::<i32>().unwrap() > 2200);

    let r = post(
        s.addr(),
        "/api/generate",
        r#"{"model":"qwen3:0.6b","keep_alive":0}"#,
    )
    .await;
    assert_eq!(r.json()["done_reason"], "unload");
    let ps = get(s.addr(), "/api/ps").await.json();
    assert_eq!(ps["models"].as_array().unwrap().len(), 1);
    assert_eq!(s.generation_count(), 3);
}

#[tokio::test]
async fn pull_streams_progress_or_fails() {
    let s = server().await;
    let r = post(s.addr(), "/api/pull", r#"{"model":"qwen3:0.6b"}"#).await;
    assert_eq!(r.header("content-type"), Some("application/x-ndjson"));
    let lines = r.lines();
    assert_eq!(lines[0], json!({"status": "pulling manifest"}));
    assert!(lines[1]["status"].as_str().unwrap().starts_with("pulling "));
    assert_eq!(lines[1]["total"], lines[1]["completed"]);
    assert_eq!(lines.last().unwrap(), &json!({"status": "success"}));
    let r = post(
        s.addr(),
        "/api/pull",
        r#"{"model":"qwen3:0.6b","stream":false}"#,
    )
    .await;
    assert_eq!(r.json(), json!({"status": "success"}));
    let r = post(s.addr(), "/api/pull", r#"{"model":"missing:1b"}"#).await;
    assert_eq!(r.status, 200);
    assert!(r.lines().last().unwrap()["error"].is_string());
    assert_eq!(
        post(
            s.addr(),
            "/api/pull",
            r#"{"model":"missing","stream":false}"#
        )
        .await
        .status,
        500
    );
}

#[tokio::test]
async fn generation_request_errors() {
    let s = server().await;
    let cases = [
        ("/api/generate", "", 400, "missing request body"),
        ("/api/chat", "", 400, "missing request body"),
        (
            "/api/generate",
            r#"{"model":"Nope:7b","prompt":"hi"}"#,
            404,
            "model 'Nope:7b' not found",
        ),
        (
            "/api/chat",
            r#"{"model":"nope","messages":[{"role":"user","content":"hi"}]}"#,
            404,
            "model 'nope' not found",
        ),
        (
            "/api/chat",
            r#"{"messages":[{"role":"user","content":"hi"}]}"#,
            400,
            "model is required",
        ),
        (
            "/api/generate",
            r#"{"model":"qwen3:0.6b","prompt":"hi","think":true}"#,
            400,
            "\"qwen3:0.6b\" does not support thinking",
        ),
        (
            "/api/generate",
            r#"{"model":"qwen3:0.6b","prompt":"hi","raw":true,"system":"x"}"#,
            400,
            "raw mode does not support template, system, or context",
        ),
        (
            "/api/generate",
            r#"{"model":"qwen3:0.6b","prompt":"hi","keep_alive":"soon"}"#,
            400,
            "time: invalid duration \"soon\"",
        ),
        (
            "/api/generate",
            r#"{"model":"qwen3:0.6b","prompt":"hi","options":{"stop":"x"}}"#,
            500,
            "option \"stop\" must be of type array",
        ),
    ];
    for (path, body, status, message) in cases {
        let r = post(s.addr(), path, body).await;
        assert_eq!(
            r.header("content-type"),
            Some("application/json; charset=utf-8"),
            "{body}"
        );
        assert_eq!(
            (r.status, r.json()),
            (status, json!({ "error": message })),
            "{body}"
        );
    }
    let r = post(s.addr(), "/api/generate", "{not json").await;
    assert_eq!(r.status, 400);
    assert!(r.json()["error"]
        .as_str()
        .unwrap()
        .contains("key must be a string"));
    let r = post(
        s.addr(),
        "/api/generate",
        r#"{"model":"qwen3:0.6b","stream":"yes"}"#,
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(s.requests().len(), cases.len() - 2 + 1);
}

#[test]
fn spawn_blocking_serves_without_a_runtime() {
    use std::io::{Read, Write};
    let s = mock_ollama::spawn_blocking(MockConfig::default()).expect("spawn");
    assert!(s.url().starts_with("http://127.0.0.1:"));
    let mut tcp = std::net::TcpStream::connect(s.addr()).unwrap();
    tcp.write_all(b"GET /api/version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut out = String::new();
    tcp.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 200"));
    assert!(out.ends_with("{\"version\":\"0.33.0-rc2\"}"));
    let addr = s.addr();
    drop(s);
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "listener closed on drop"
    );
}
