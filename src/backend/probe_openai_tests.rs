//! Tests for OpenAI-compatible pre-flight and listing, against a canned
//! local server.

use super::*;
use crate::backend::testutil::{client, config, dead_url, route, serve};
use crate::experiment::OllamaApi;

/// What llama-server answers (meta trimmed of nothing but `size` made up).
const LLAMA_MODELS: &str = r#"{"models":[{"name":"smollm2","model":"smollm2","modified_at":"","size":"","digest":"","type":"model","description":"","tags":[""],"capabilities":["completion"],"parameters":"","details":{"parent_model":"","format":"gguf","family":"","families":[""],"parameter_size":"","quantization_level":""}}],"object":"list","data":[{"id":"smollm2","aliases":["smollm2","tiny"],"object":"model","created":1795884055,"owned_by":"llamacpp","meta":{"vocab_type":2,"n_vocab":49152,"n_ctx":1024,"n_ctx_train":8192,"n_embd":576,"n_params":134515008,"size":269030016}}]}"#;

fn backend(url: &str) -> Backend {
    Backend::new(&config(BackendKind::Openai, url), OllamaApi::Chat).unwrap()
}

#[tokio::test]
async fn llama_cpp_model_by_id_or_alias_with_build_info() {
    let server = serve(vec![
        route("GET", "/v1/models", 200, LLAMA_MODELS),
        route(
            "GET",
            "/props",
            200,
            r#"{"build_info":"b6500-abc123","total_slots":1}"#,
        ),
    ])
    .await;
    // A `/v1` base URL works too.
    let url = format!("{}/v1", server.url);
    let info = backend(&url)
        .preflight(&client(), &["smollm2", "tiny"])
        .await
        .unwrap();
    assert_eq!(info.version.as_deref(), Some("b6500-abc123"));
    assert_eq!(info.url, url);
    assert_eq!(info.models.len(), 2);
    let details = &info.models[0].details;
    assert_eq!(info.models[0].id, "smollm2");
    assert_eq!(details["n_params"], json!(134515008));
    assert_eq!(details["n_ctx_train"], json!(8192));
    assert_eq!(details["owned_by"], json!("llamacpp"));
    assert!(!details.contains_key("meta") && !details.contains_key("id"));
    assert_eq!(info.models[1].id, "tiny");
    assert_eq!(info.models[1].details["server_name"], json!("smollm2"));
    assert_eq!(server.paths(), ["GET /v1/models", "GET /props"]);
}

#[tokio::test]
async fn props_failure_is_ignored() {
    let server = serve(vec![route("GET", "/v1/models", 200, LLAMA_MODELS)]).await;
    let info = backend(&server.url)
        .preflight(&client(), &["smollm2"])
        .await
        .unwrap();
    assert_eq!(info.version, None);
}

#[tokio::test]
async fn missing_model_lists_what_is_served() {
    let server = serve(vec![route("GET", "/v1/models", 200, LLAMA_MODELS)]).await;
    let err = backend(&server.url)
        .preflight(&client(), &["qwen3"])
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(&err, PreflightError::MissingModels { missing, available, .. }
            if missing == &["qwen3"] && available == &["smollm2"]),
        "{err:?}"
    );
    assert!(
        text.contains("`qwen3`") && text.contains("--alias"),
        "{text}"
    );

    // Ollama's /v1 with nothing installed: `data: null`.
    let server = serve(vec![route(
        "GET",
        "/v1/models",
        200,
        r#"{"object":"list","data":null}"#,
    )])
    .await;
    let err = backend(&server.url)
        .preflight(&client(), &["m"])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, PreflightError::MissingModels { available, .. } if available.is_empty()),
        "{err:?}"
    );
}

#[tokio::test]
async fn ollama_v1_gets_pull_hint_and_version() {
    let models = r#"{"object":"list","data":[{"id":"qwen3:0.6b","object":"model","created":1785568353,"owned_by":"library"}]}"#;
    let server = serve(vec![
        route("GET", "/v1/models", 200, models),
        route("GET", "/api/version", 200, r#"{"version":"0.33.0-rc2"}"#),
    ])
    .await;
    let err = backend(&server.url)
        .preflight(&client(), &["qwen3:8b"])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("`ollama pull qwen3:8b`"), "{err}");
    let info = backend(&server.url)
        .preflight(&client(), &["qwen3:0.6b"])
        .await
        .unwrap();
    assert_eq!(info.version.as_deref(), Some("0.33.0-rc2"));
}

#[tokio::test]
async fn failures_say_what_happened() {
    let err = backend(&dead_url().await)
        .preflight(&client(), &["m"])
        .await
        .unwrap_err();
    assert!(matches!(err, PreflightError::Unreachable { .. }), "{err:?}");
    assert!(err.to_string().contains("backend.url"), "{err}");

    let server = serve(vec![route("GET", "/api/version", 200, "{}")]).await;
    let err = backend(&server.url)
        .preflight(&client(), &["m"])
        .await
        .unwrap_err();
    assert!(
        matches!(err, PreflightError::NotAServer { status: 404, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("backend.kind = \"ollama\""),
        "{err}"
    );

    let loading = r#"{"error":{"code":503,"message":"Loading model","type":"unavailable_error"}}"#;
    let server = serve(vec![route("GET", "/v1/models", 503, loading)]).await;
    let err = backend(&server.url)
        .preflight(&client(), &["m"])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, PreflightError::Server { status: 503, message, .. } if message == "Loading model"),
        "{err:?}"
    );
    assert!(err.to_string().contains("wait and retry"), "{err}");

    let denied =
        r#"{"error":{"code":401,"message":"Invalid API Key","type":"authentication_error"}}"#;
    let server = serve(vec![route("GET", "/v1/models", 401, denied)]).await;
    let err = backend(&server.url)
        .preflight(&client(), &["m"])
        .await
        .unwrap_err();
    assert!(
        matches!(err, PreflightError::Unauthorized { status: 401, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("api_key_env"), "{err}");

    let server = serve(vec![route(
        "GET",
        "/v1/models",
        200,
        r#"{"object":"list"}"#,
    )])
    .await;
    let err = backend(&server.url)
        .preflight(&client(), &["m"])
        .await
        .unwrap_err();
    assert!(
        matches!(err, PreflightError::NotAServer { status: 200, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn list_models_reports_meta() {
    let server = serve(vec![route("GET", "/v1/models", 200, LLAMA_MODELS)]).await;
    let models = backend(&server.url).list_models(&client()).await.unwrap();
    assert_eq!(models.len(), 1);
    assert_eq!(models[0].id, "smollm2");
    assert_eq!(models[0].details["n_vocab"], json!(49152));
    assert_eq!(models[0].details["aliases"], json!(["smollm2", "tiny"]));
}
