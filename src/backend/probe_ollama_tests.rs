//! Tests for Ollama pre-flight and listing, against a canned local server.

use super::*;
use crate::backend::testutil::{client, config, dead_url, route, serve, Route};
use crate::experiment::OllamaApi;

const TAGS: &str = r#"{"models":[{"name":"qwen3:0.6b","model":"qwen3:0.6b","modified_at":"2026-08-01T09:12:33.123456789+02:00","size":522653767,"digest":"7df6b6e09427a769808717c0a93cadc4ae99ed4eb8bf5ca557c90846becea435","details":{"parent_model":"","format":"gguf","family":"qwen3","families":["qwen3"],"parameter_size":"751.63M","quantization_level":"Q4_K_M"}},{"name":"llama3.2:latest","model":"llama3.2:latest","size":2019393189,"digest":"a80c","details":{"family":"llama","parameter_size":"3.2B","quantization_level":"Q4_K_M"}}]}"#;

const SHOW: &str = r#"{"parameters":"temperature 0.6","details":{"family":"qwen3"},"model_info":{"general.architecture":"qwen3","general.parameter_count":751632384,"qwen3.context_length":40960,"qwen3.embedding_length":1024,"qwen3.block_count":28,"tokenizer.ggml.tokens":[]},"capabilities":["completion","thinking"],"modified_at":"2026-08-01T09:12:33+02:00"}"#;

fn ollama_routes() -> Vec<Route> {
    vec![
        route("GET", "/api/version", 200, r#"{"version":"0.33.0-rc2"}"#),
        route("GET", "/api/tags", 200, TAGS),
        route("POST", "/api/show", 200, SHOW),
    ]
}

fn backend(url: &str) -> Backend {
    Backend::new(&config(BackendKind::Ollama, url), OllamaApi::Chat).unwrap()
}

#[tokio::test]
async fn present_models_pass_with_details() {
    let server = serve(ollama_routes()).await;
    let info = backend(&server.url)
        .preflight(&client(), &["qwen3:0.6b", "LLAMA3.2", "qwen3:0.6b"])
        .await
        .unwrap();
    assert_eq!(info.version.as_deref(), Some("0.33.0-rc2"));
    assert_eq!(info.url, server.url);
    let ids: Vec<&str> = info.models.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["qwen3:0.6b", "LLAMA3.2"]);
    let qwen = &info.models[0].details;
    assert_eq!(qwen["size"], json!(522653767));
    assert_eq!(qwen["quantization_level"], json!("Q4_K_M"));
    assert_eq!(qwen["family"], json!("qwen3"));
    assert_eq!(qwen["n_params"], json!(751632384));
    assert_eq!(qwen["n_ctx_train"], json!(40960));
    assert_eq!(qwen["n_embd"], json!(1024));
    assert_eq!(qwen["n_layer"], json!(28));
    assert_eq!(qwen["capabilities"], json!(["completion", "thinking"]));
    assert!(!qwen.contains_key("name") && !qwen.contains_key("details"));
    assert_eq!(
        info.models[1].details["server_name"],
        json!("llama3.2:latest")
    );
    let paths = server.paths();
    assert_eq!(&paths[..2], ["GET /api/version", "GET /api/tags"]);
    let shows: Vec<String> = server
        .requests
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.path == "/api/show")
        .map(|r| r.body.clone())
        .collect();
    assert_eq!(shows.len(), 2);
    assert!(shows.contains(&r#"{"model":"qwen3:0.6b"}"#.to_string()));
    let serialized = serde_json::to_value(&info).unwrap();
    assert_eq!(serialized["kind"], json!("ollama"));
}

#[tokio::test]
async fn missing_model_names_it_and_says_pull() {
    let server = serve(ollama_routes()).await;
    let err = backend(&server.url)
        .preflight(&client(), &["qwen3:0.6b", "qwen3:8b", "mistral"])
        .await
        .unwrap_err();
    let PreflightError::MissingModels {
        missing, available, ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(missing, &["qwen3:8b", "mistral"]);
    assert_eq!(available, &["qwen3:0.6b", "llama3.2:latest"]);
    let text = err.to_string();
    assert!(text.contains(&server.url), "{text}");
    assert!(
        text.contains("`ollama pull qwen3:8b`") && text.contains("`ollama pull mistral`"),
        "{text}"
    );
    assert!(
        text.contains("installed `qwen3:0.6b` instead of `qwen3:8b`"),
        "{text}"
    );
    assert!(!server.paths().iter().any(|p| p.contains("/api/show")));
}

#[tokio::test]
async fn no_models_installed() {
    let server = serve(vec![
        route("GET", "/api/version", 200, r#"{"version":"0.33.0"}"#),
        route("GET", "/api/tags", 200, r#"{"models":null}"#),
    ])
    .await;
    let err = backend(&server.url)
        .preflight(&client(), &["m"])
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("It has no models. Run `ollama pull m`."),
        "{err}"
    );
}

#[tokio::test]
async fn unreachable_port() {
    let url = dead_url().await;
    let err = backend(&url)
        .preflight(&client(), &["m"])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, PreflightError::Unreachable { url: u, .. } if *u == url),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains(&url) && text.contains("ollama serve"),
        "{text}"
    );
    let listed = backend(&url).list_models(&client()).await.unwrap_err();
    assert!(matches!(listed, BackendError::Connect(_)), "{listed:?}");
}

#[tokio::test]
async fn something_else_at_the_url() {
    let server = serve(vec![route("GET", "/v1/models", 200, r#"{"data":[]}"#)]).await;
    let err = backend(&server.url)
        .preflight(&client(), &["m"])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, PreflightError::NotAServer { status: 404, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("backend.kind = \"openai\""),
        "{err}"
    );

    let server = serve(vec![route("GET", "/api/version", 200, "<html>hi</html>")]).await;
    let err = backend(&server.url)
        .preflight(&client(), &["m"])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, PreflightError::NotAServer { status: 200, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn root_banner_is_enough_without_version() {
    let server = serve(vec![
        route("GET", "/", 200, "Ollama is running"),
        route("GET", "/api/tags", 200, TAGS),
    ])
    .await;
    let info = backend(&server.url)
        .preflight(&client(), &["qwen3:0.6b"])
        .await
        .unwrap();
    assert_eq!(info.version, None);
    // /api/show failed (404): the tags details remain.
    assert_eq!(info.models[0].details["digest"].as_str().unwrap().len(), 64);
    assert!(!info.models[0].details.contains_key("n_params"));
}

#[tokio::test]
async fn key_is_sent_and_refusal_is_unauthorized() {
    std::env::set_var("LLMBENCH_TEST_KEY_OLLAMA", "tok");
    let server = serve(vec![route(
        "GET",
        "/api/version",
        401,
        r#"{"error":"unauthorized"}"#,
    )])
    .await;
    let mut cfg = config(BackendKind::Ollama, &server.url);
    cfg.api_key_env = Some("LLMBENCH_TEST_KEY_OLLAMA".into());
    let backend = Backend::new(&cfg, OllamaApi::Chat).unwrap();
    let err = backend.preflight(&client(), &["m"]).await.unwrap_err();
    assert!(
        matches!(&err, PreflightError::Unauthorized { status: 401, .. }),
        "{err:?}"
    );
    let requests = server.requests.lock().unwrap();
    assert!(requests[0]
        .headers
        .contains(&("authorization".into(), "Bearer tok".into())));
}

#[tokio::test]
async fn list_models_with_show_details() {
    let server = serve(ollama_routes()).await;
    let models = backend(&server.url).list_models(&client()).await.unwrap();
    let ids: Vec<&str> = models.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["qwen3:0.6b", "llama3.2:latest"]);
    assert_eq!(models[1].details["parameter_size"], json!("3.2B"));
    assert_eq!(models[1].details["architecture"], json!("qwen3")); // canned /api/show
    let server = serve(vec![route("GET", "/api/tags", 500, r#"{"error":"boom"}"#)]).await;
    let err = backend(&server.url)
        .list_models(&client())
        .await
        .unwrap_err();
    assert_eq!(
        err,
        BackendError::Http {
            status: 500,
            message: "boom".into()
        }
    );
}

#[test]
fn name_matching_and_context_fallback() {
    assert!(same_model("Qwen3", "qwen3:latest"));
    assert!(same_model(
        "registry.io:5000/ns/m",
        "registry.io:5000/ns/m:latest"
    ));
    assert!(!same_model("qwen3", "qwen3:0.6b"));
    let show = json!({"model_info": {"general.architecture": "x", "y.context_length": 2048}});
    let mut details = Map::new();
    add_show_details(show.as_object().unwrap(), &mut details);
    assert_eq!(details["n_ctx_train"], json!(2048));
}
