//! Tests for the SSE decoder and the chat-completions body.

use super::*;
use crate::backend::testutil::{decode_all, decode_pieces, request_fixture};
use crate::experiment::RequestSettings;

/// What llama-server really sends (role-only first chunk, finish chunk,
/// `choices: []` usage chunk with timings, `[DONE]`).
const LLAMA_CPP: &str = concat!(
    r#"data: {"choices":[{"finish_reason":null,"index":0,"delta":{"role":"assistant","content":null}}],"created":1795884055,"id":"chatcmpl-pA8p","model":"smollm2","system_fingerprint":"b0-unknown","object":"chat.completion.chunk"}"#,
    "\n\n",
    r#"data: {"choices":[{"finish_reason":null,"index":0,"delta":{"content":"Hello"}}],"created":1795884055,"id":"chatcmpl-pA8p","model":"smollm2","system_fingerprint":"b0-unknown","object":"chat.completion.chunk"}"#,
    "\n\n",
    r#"data: {"choices":[{"finish_reason":"length","index":0,"delta":{}}],"created":1795884055,"id":"chatcmpl-pA8p","model":"smollm2","system_fingerprint":"b0-unknown","object":"chat.completion.chunk"}"#,
    "\n\n",
    r#"data: {"choices":[],"created":1795884055,"id":"chatcmpl-pA8p","model":"smollm2","system_fingerprint":"b0-unknown","object":"chat.completion.chunk","usage":{"completion_tokens":8,"prompt_tokens":31,"total_tokens":39,"prompt_tokens_details":{"cached_tokens":0}},"timings":{"cache_n":0,"prompt_n":31,"prompt_ms":191.193,"prompt_per_token_ms":6.167516129032259,"prompt_per_second":162.13982729493233,"predicted_n":8,"predicted_ms":70.309,"predicted_per_token_ms":10.044142857142857,"predicted_per_second":99.5605114565703}}"#,
    "\n\n",
    "data: [DONE]\n\n",
);

/// Ollama `/v1` (spec §3.3): role and first text together, no role-only chunk.
const OLLAMA_V1: &str = concat!(
    r#"data: {"id":"chatcmpl-417","object":"chat.completion.chunk","created":1787300102,"model":"qwen3:0.6b","system_fingerprint":"fp_ollama","choices":[{"index":0,"delta":{"role":"assistant","content":"One"},"finish_reason":null}]}"#,
    "\n\n",
    r#"data: {"id":"chatcmpl-417","object":"chat.completion.chunk","created":1787300102,"model":"qwen3:0.6b","system_fingerprint":"fp_ollama","choices":[{"index":0,"delta":{"content":", two — ünï 日本"},"finish_reason":null}]}"#,
    "\n\n",
    r#"data: {"id":"chatcmpl-417","object":"chat.completion.chunk","created":1787300102,"model":"qwen3:0.6b","system_fingerprint":"fp_ollama","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
    "\n\n",
    r#"data: {"id":"chatcmpl-417","object":"chat.completion.chunk","created":1787300102,"model":"qwen3:0.6b","system_fingerprint":"fp_ollama","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":40,"total_tokens":52}}"#,
    "\n\n",
    "data: [DONE]\n\n",
);

fn dec() -> Box<dyn Decoder> {
    Box::new(SseDecoder::new())
}

fn delta(content: &str, reasoning: &str) -> Event {
    Event::Delta {
        content: content.into(),
        reasoning: reasoning.into(),
    }
}

fn finish(reason: &str) -> Event {
    Event::Stats(ServerStats {
        finish_reason: Some(reason.into()),
        ..Default::default()
    })
}

#[test]
fn llama_cpp_stream_with_usage_and_timings() {
    assert_eq!(
        decode_all(dec, LLAMA_CPP.as_bytes()),
        vec![
            delta("", ""),
            delta("Hello", ""),
            finish("length"),
            Event::Stats(ServerStats {
                prompt_tokens: Some(31),
                completion_tokens: Some(8),
                cached_prompt_tokens: Some(0),
                prompt_eval_tokens: Some(31),
                prompt_eval_duration_ns: Some(191_193_000),
                eval_duration_ns: Some(70_309_000),
                ..Default::default()
            }),
            Event::Done,
        ]
    );
}

#[test]
fn ollama_v1_stream_any_split_gives_same_events() {
    let events = decode_all(dec, OLLAMA_V1.as_bytes());
    assert_eq!(
        events,
        vec![
            delta("One", ""),
            delta(", two — ünï 日本", ""),
            finish("stop"),
            Event::Stats(ServerStats {
                prompt_tokens: Some(12),
                completion_tokens: Some(40),
                ..Default::default()
            }),
            Event::Done,
        ]
    );
    let body = OLLAMA_V1.as_bytes();
    let inside = OLLAMA_V1.find('日').unwrap() + 1;
    assert_eq!(
        decode_pieces(dec(), &[&body[..inside], &body[inside..]]).unwrap(),
        events
    );
}

#[test]
fn comments_crlf_and_other_fields_are_ignored() {
    let body = concat!(
        ": ping\r\n\r\n",
        "event: message\r\nid: 7\r\nretry: 1000\r\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}],\"usage\":null}\r\n\r\n",
        ":keep-alive\n",
        "data:{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},\"finish_reason\":null}]}\n\n",
        "data: [DONE]\r\n\r\n",
    );
    assert_eq!(
        decode_all(dec, body.as_bytes()),
        vec![delta("", ""), delta("Hi", ""), Event::Done]
    );
}

#[test]
fn multi_line_data_is_joined() {
    let body = "data: {\"choices\":[{\"delta\":\ndata: {\"content\":\"a\"}}]}\n\ndata: [DONE]\n\n";
    assert_eq!(
        decode_all(dec, body.as_bytes()),
        vec![delta("a", ""), Event::Done]
    );
}

#[test]
fn reasoning_fields_and_usage_without_choices() {
    let body = concat!(
        "data: {\"choices\":[{\"delta\":{\"content\":null,\"reasoning_content\":\"hmm\"}}]}\n\n",
        "data: {\"choices\":[{\"delta\":{\"content\":\"\",\"reasoning\":\"so\"}}]}\n\n",
        "data: {\"choices\":[{\"delta\":{\"reasoning_content\":\"x\",\"reasoning\":\"x\"}}]}\n\n",
        "data: {\"choices\":[{\"delta\":{\"content\":\"ok\"},\"finish_reason\":\"stop\"}]}\n\n",
        "data: {\"choices\":null,\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":3,\"prompt_tokens_details\":{\"cached_tokens\":4}}}\n\n",
        "data: {\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":3}}\n\n",
        "data: [DONE]",
    );
    let usage = ServerStats {
        prompt_tokens: Some(5),
        completion_tokens: Some(3),
        ..Default::default()
    };
    assert_eq!(
        decode_all(dec, body.as_bytes()),
        vec![
            delta("", "hmm"),
            delta("", "so"),
            delta("", "x"),
            delta("ok", ""),
            finish("stop"),
            Event::Stats(ServerStats {
                cached_prompt_tokens: Some(4),
                ..usage.clone()
            }),
            Event::Stats(usage),
            Event::Done,
        ]
    );
}

#[test]
fn timings_without_usage_give_the_counts() {
    // Mid-2025 llama.cpp: timings on the finish chunk, no include_usage.
    let body = concat!(
        r#"data: {"choices":[{"finish_reason":"stop","index":0,"delta":{}}],"timings":{"cache_n":236,"prompt_n":12,"prompt_ms":30.96,"predicted_n":35,"predicted_ms":661.06}}"#,
        "\n\n",
        r#"data: {"choices":[],"timings":{"prompt_n":12,"predicted_n":35}}"#,
        "\n\n",
    );
    assert_eq!(
        decode_all(dec, body.as_bytes()),
        vec![
            Event::Stats(ServerStats {
                finish_reason: Some("stop".into()),
                prompt_tokens: Some(248),
                completion_tokens: Some(35),
                cached_prompt_tokens: Some(236),
                prompt_eval_tokens: Some(12),
                prompt_eval_duration_ns: Some(30_960_000),
                eval_duration_ns: Some(661_060_000),
                ..Default::default()
            }),
            // Without cache_n the whole prompt size is unknown.
            Event::Stats(ServerStats {
                completion_tokens: Some(35),
                prompt_eval_tokens: Some(12),
                ..Default::default()
            }),
        ]
    );
}

#[test]
fn error_payloads_are_stream_errors() {
    let body = concat!(
        "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n",
        "data: {\"error\":{\"code\":500,\"message\":\"context shift disabled\",\"type\":\"server_error\"}}\n\n",
        "data: {\"object\":\"error\",\"message\":\"flat vLLM error\",\"type\":\"BadRequestError\",\"code\":400}\n\n",
        "data: {\"error\":\"plain\"}\n\n",
        "data: [DONE]\n\n",
    );
    assert_eq!(
        decode_all(dec, body.as_bytes()),
        vec![
            delta("a", ""),
            Event::StreamError("context shift disabled".into()),
            Event::StreamError("flat vLLM error".into()),
            Event::StreamError("plain".into()),
            Event::Done,
        ]
    );
}

#[test]
fn stream_cut_before_done_has_no_done_and_last_event_is_kept() {
    // Ollama /v1 after a mid-stream error: an empty delta, then EOF.
    let body = "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"\"}}]}";
    let events = decode_all(dec, body.as_bytes());
    assert_eq!(events, vec![delta("a", ""), delta("", "")]);
    assert!(!events.contains(&Event::Done));
}

#[test]
fn malformed_payload_is_protocol_error() {
    let mut out = Vec::new();
    let err = SseDecoder::new()
        .feed(b"data: {\"choices\":\n\n", &mut out)
        .unwrap_err();
    assert!(err.0.contains("malformed event"), "{err}");
    let err = SseDecoder::new()
        .feed(
            b"data: {\"choices\":[{\"delta\":{\"content\":5}}]}\n\n",
            &mut out,
        )
        .unwrap_err();
    assert!(err.0.contains("content"), "{err}");
}

#[test]
fn request_body_has_stream_usage_settings_and_options() {
    let (settings, mut options) = request_fixture();
    options.insert("cache_prompt".into(), json!(false));
    options.insert("stream".into(), json!(false)); // protocol fields win
    options.insert(
        "stream_options".into(),
        json!({"continuous_usage_stats": true}),
    );
    options.insert("max_tokens".into(), json!(9)); // typed settings win
    let req = GenRequest {
        model: "smollm2",
        system: Some("Be brief."),
        prompt: "Hi",
        settings: &settings,
        options: &options,
    };
    assert_eq!(
        body(&req),
        json!({
            "model": "smollm2",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Hi"}
            ],
            "stream": true,
            "stream_options": {"include_usage": true, "continuous_usage_stats": true},
            "max_tokens": 64, "temperature": 0.0, "top_p": 0.9, "top_k": 40, "seed": 1,
            "stop": ["\n\n"],
            "num_ctx": 4096, "cache_prompt": false
        })
    );
    let bare = RequestSettings::default();
    let empty = Map::new();
    let req = GenRequest {
        system: None,
        settings: &bare,
        options: &empty,
        ..req
    };
    assert_eq!(
        body(&req),
        json!({"model": "smollm2", "messages": [{"role": "user", "content": "Hi"}],
               "stream": true, "stream_options": {"include_usage": true}})
    );
}

// ------------------------------------------------ fast path against serde

/// Chunk shapes from real servers (backends.md §3–5) with `{C}` for the
/// delta's text and `{R}` for a reasoning text.
const SHAPES: &[&str] = &[
    // llama.cpp content and role-only chunks
    r#"{"choices":[{"finish_reason":null,"index":0,"delta":{"content":{C}}}],"created":1795884055,"id":"chatcmpl-pA8p","model":"smollm2","system_fingerprint":"b0-unknown","object":"chat.completion.chunk"}"#,
    r#"{"choices":[{"finish_reason":null,"index":0,"delta":{"role":"assistant","content":null}}],"created":1795884055,"id":"chatcmpl-pA8p","model":"smollm2","system_fingerprint":"b0-unknown","object":"chat.completion.chunk"}"#,
    // llama.cpp reasoning models
    r#"{"choices":[{"finish_reason":null,"index":0,"delta":{"reasoning_content":{R}}}],"created":1,"id":"x","model":"m","system_fingerprint":"b0","object":"chat.completion.chunk"}"#,
    // OpenAI / Ollama /v1
    r#"{"id":"chatcmpl-417","object":"chat.completion.chunk","created":1787300102,"model":"qwen3:0.6b","system_fingerprint":"fp_ollama","choices":[{"index":0,"delta":{"role":"assistant","content":{C}},"finish_reason":null}]}"#,
    r#"{"id":"chatcmpl-417","object":"chat.completion.chunk","created":1787300102,"model":"qwen3:0.6b","choices":[{"index":0,"delta":{"content":"","reasoning":{R}},"finish_reason":null}]}"#,
    // vLLM (logprobs, usage null, both reasoning fields)
    r#"{"id":"chatcmpl-9","object":"chat.completion.chunk","created":17,"model":"Qwen/Qwen3-8B","choices":[{"index":0,"delta":{"content":{C},"reasoning_content":{R},"reasoning":{R}},"logprobs":null,"finish_reason":null}],"usage":null}"#,
    // pretty-printed
    "{ \"choices\" : [ { \"delta\" : { \"content\" : {C} } , \"finish_reason\" : null } ] ,\n \"object\" : null }",
    // what the fast path leaves to serde
    r#"{"choices":[{"finish_reason":"length","index":0,"delta":{}}],"created":1795884055,"id":"chatcmpl-pA8p","object":"chat.completion.chunk"}"#,
    r#"{"choices":[{"index":0,"delta":{"content":{C}},"finish_reason":"stop"}]}"#,
    r#"{"choices":[],"created":1795884055,"usage":{"completion_tokens":8,"prompt_tokens":31,"total_tokens":39,"prompt_tokens_details":{"cached_tokens":0}},"timings":{"cache_n":0,"prompt_n":31,"prompt_ms":191.193,"predicted_n":8,"predicted_ms":70.309}}"#,
    r#"{"choices":[{"index":0,"delta":{"content":{C}},"finish_reason":null}],"usage":{"prompt_tokens":3,"completion_tokens":1}}"#,
    r#"{"choices":[{"index":0,"delta":{"content":{C}},"finish_reason":null}],"timings":{"predicted_n":1}}"#,
    r#"{"error":{"code":500,"message":"boom","type":"server_error"}}"#,
    r#"{"object":"error","message":"vLLM says no","type":"BadRequestError","code":400}"#,
    r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{}"}}]},"finish_reason":null}]}"#,
    r#"{"choices":[{"index":0,"text":{C},"finish_reason":null}],"object":"text_completion"}"#,
    r#"{"choices":[{"index":0,"delta":{"content":{C}}},{"index":1,"delta":{"content":"b"}}]}"#,
    r#"{"choices":[{"index":0,"delta":null,"finish_reason":null}]}"#,
    r#"{"choices":null,"id":"x"}"#,
    r#"{"choices":[{"delta":{"content":{C},"content":"twice"}}]}"#,
    r#"{"choices":[{"delta":{"content":{C}}}],"choices":[]}"#,
    r#"{"choices":[{"delta":{"content":{C}},"delta":{}}]}"#,
    r#"{"choices":[{"delta":{"content":{C}}}],"object":"a","object":"b"}"#,
    r#"{"choices":[{"delta":{"content":{C}}}],"created":1.5,"n":-0,"m":1e3,"k":01,"big":123456789012345678901234567890}"#,
    r#"{"choices":[{"delta":{"content":{C}}}],"created":-1} trailing"#,
    r#"{"choices":[{"delta":{"content":{C}}}],"error":null,"message":null,"timings":null}"#,
    r#"{"id":"a\"b","choices":[{"delta":{"content":{C}}}]}"#,
    r#"{"choices":[{"delta":{"content":{C}}}]}"#,
    r#"{}"#,
    r#"[]"#,
    r#""text""#,
];

/// Texts for `{C}`/`{R}`: plain, empty, unicode, escapes, null, and
/// (invalid JSON) raw control characters.
const TEXTS: &[&str] = &[
    r#"" tok""#,
    r#""Hello""#,
    r#""""#,
    r#"", two — ünï 日本 🎉""#,
    r#""say \"hi\"""#,
    r#""line\nbreak""#,
    r#""caf\u00e9 \ud83c\udf89""#,
    r#""back\\slash""#,
    "null",
    "\"raw\ttab\"",
    "\"raw\u{1}ctl\"",
    "17",
];

/// Every shape with every text, plus every prefix of the common ones and
/// single-byte mutations of them (mostly malformed).
fn payloads() -> Vec<String> {
    let mut all = Vec::new();
    for shape in SHAPES {
        for (i, text) in TEXTS.iter().enumerate() {
            let other = TEXTS[(i + 3) % TEXTS.len()];
            all.push(shape.replace("{C}", text).replace("{R}", other));
        }
    }
    let common: Vec<String> = SHAPES[..6]
        .iter()
        .map(|s| s.replace("{C}", r#"" tok""#).replace("{R}", r#""think""#))
        .collect();
    for payload in &common {
        for cut in 0..payload.len() {
            if payload.is_char_boundary(cut) {
                all.push(payload[..cut].to_string());
            }
        }
        for (at, _) in payload.char_indices() {
            for replacement in ['"', '\\', ',', '}', ']', ' ', '0', 'n', ':', '{'] {
                let mut mutated = payload.clone();
                mutated.replace_range(at..at + 1, &replacement.to_string());
                all.push(mutated);
            }
        }
    }
    all
}

fn decode_with(payload: &str, fast: bool) -> Result<Vec<Event>, ProtocolError> {
    let mut template = fast.then(fast::Template::default);
    let mut out = Vec::new();
    decode_payload(payload.trim(), &mut template, &mut out).map(|()| out)
}

#[test]
fn template_gives_what_serde_gives_for_every_payload() {
    let payloads = payloads();
    for prime in &SHAPES[..7] {
        let prime = prime.replace("{C}", r#"" tok""#).replace("{R}", "null");
        let mut template = Some(fast::Template::default());
        decode_payload(&prime, &mut template, &mut Vec::new()).unwrap();
        for payload in &payloads {
            let mut out = Vec::new();
            let fast = decode_payload(payload.trim(), &mut template, &mut out).map(|()| out);
            assert_eq!(fast, decode_with(payload, false), "{prime} then {payload}");
        }
    }
}

#[test]
fn fast_path_gives_what_serde_gives_for_every_payload() {
    let payloads = payloads();
    let mut taken = 0;
    for payload in &payloads {
        if fast::content_delta(payload.trim()).is_some() {
            taken += 1;
        }
        assert_eq!(
            decode_with(payload, true),
            decode_with(payload, false),
            "{payload}"
        );
    }
    assert!(payloads.len() > 5_000, "{}", payloads.len());
    assert!(taken > 100, "the fast path took only {taken} payloads");
}

#[test]
fn fast_path_takes_the_common_deltas() {
    for shape in &SHAPES[..7] {
        for text in &TEXTS[..9] {
            let payload = shape.replace("{C}", text).replace("{R}", r#""r""#);
            let plain = !payload.contains('\\');
            assert_eq!(fast::content_delta(&payload).is_some(), plain, "{payload}");
        }
    }
}

/// A stream of many chunk shapes, SSE-framed in the ways servers do
/// (LF, CRLF, comments, multi-line data, a field without value).
fn mixed_stream() -> String {
    let mut body = String::from(": ping\n\nretry: 100\n");
    for (i, shape) in SHAPES.iter().enumerate().take(12) {
        let text = TEXTS[i % 9];
        // A payload's own newlines become further `data:` lines.
        let payload = shape
            .replace("{C}", text)
            .replace("{R}", r#""r""#)
            .replace('\n', "\ndata: ");
        match i % 4 {
            0 => body.push_str(&format!("data: {payload}\n\n")),
            1 => body.push_str(&format!("data:{payload}\r\n\r\n")),
            2 => body.push_str(&format!("id: {i}\ndata: {payload}\n\n")),
            _ => body.push_str(&format!("data: {payload}\n: note\n\n")),
        }
    }
    body.push_str("data: {\"choices\":[{\"delta\":\ndata: {\"content\":\"joined\"}}]}\n\n");
    body.push_str("data\n\ndata: [DONE]\n\n");
    body
}

#[test]
fn fast_decoder_equals_serde_decoder_at_every_split() {
    let body = mixed_stream();
    let bytes = body.as_bytes();
    let slow = || -> Box<dyn Decoder> { Box::new(SseDecoder::without_fast_path()) };
    let reference = decode_pieces(slow(), &[bytes]).expect("decodes");
    assert!(reference.len() > 12, "{reference:?}");
    assert_eq!(decode_all(dec, bytes), reference);
    let pieces: Vec<&[u8]> = bytes.chunks(7).collect();
    assert_eq!(decode_pieces(slow(), &pieces).unwrap(), reference);
}
