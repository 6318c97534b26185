//! Tests for the NDJSON decoder and the Ollama request bodies.

use super::*;
use crate::backend::testutil::{decode_all, decode_pieces, request_fixture};

const CHAT: &str = concat!(
    r#"{"model":"qwen3:0.6b","created_at":"2026-08-21T10:15:02.5Z","message":{"role":"assistant","content":"","thinking":"The user wants"},"done":false}"#,
    "\n",
    r#"{"model":"qwen3:0.6b","created_at":"2026-08-21T10:15:02.9Z","message":{"role":"assistant","content":"One"},"done":false}"#,
    "\n",
    r#"{"model":"qwen3:0.6b","created_at":"2026-08-21T10:15:03.4Z","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","total_duration":1212345678,"load_duration":41234567,"prompt_eval_count":12,"prompt_eval_duration":21234567,"eval_count":40,"eval_duration":1101234567}"#,
    "\n",
);

const GENERATE: &str = concat!(
    r#"{"model":"qwen3:0.6b","created_at":"2026-08-21T10:15:02.53128Z","response":" two","done":false}"#,
    "\n",
    r#"{"model":"qwen3:0.6b","created_at":"2026-08-21T10:15:02.6Z","response":" ünïcødé 日本 🎉","done":false}"#,
    "\n",
    r#"{"model":"qwen3:0.6b","created_at":"2026-08-21T10:15:03.90417Z","response":"","done":true,"done_reason":"stop","context":[151644,872,198],"total_duration":1412345678,"load_duration":52345678,"prompt_eval_count":14,"prompt_eval_duration":31234567,"eval_count":23,"eval_duration":1301234567}"#,
    "\n",
);

fn delta(content: &str, reasoning: &str) -> Event {
    Event::Delta {
        content: content.into(),
        reasoning: reasoning.into(),
    }
}

fn dec() -> Box<dyn Decoder> {
    Box::new(NdjsonDecoder::new())
}

#[test]
fn chat_stream_from_spec() {
    let events = decode_all(dec, CHAT.as_bytes());
    assert_eq!(
        events,
        vec![
            delta("", "The user wants"),
            delta("One", ""),
            Event::Stats(ServerStats {
                finish_reason: Some("stop".into()),
                prompt_tokens: Some(12),
                completion_tokens: Some(40),
                total_duration_ns: Some(1212345678),
                load_duration_ns: Some(41234567),
                prompt_eval_duration_ns: Some(21234567),
                eval_duration_ns: Some(1101234567),
                ..Default::default()
            }),
            Event::Done,
        ]
    );
}

#[test]
fn generate_stream_any_split_gives_same_events() {
    let events = decode_all(dec, GENERATE.as_bytes());
    assert_eq!(events.len(), 4);
    assert_eq!(events[0], delta(" two", ""));
    assert_eq!(events[1], delta(" ünïcødé 日本 🎉", ""));
    let Event::Stats(stats) = &events[2] else {
        panic!("{events:?}")
    };
    assert_eq!(stats.prompt_tokens, Some(14));
    assert_eq!(stats.total_duration_ns, Some(1412345678));
    assert_eq!(events[3], Event::Done);
    // decode_all already checked byte-at-a-time and every two-piece split;
    // also split inside the 4-byte emoji explicitly.
    let body = GENERATE.as_bytes();
    let emoji = GENERATE.find('🎉').unwrap();
    let pieces = [&body[..emoji + 2], &body[emoji + 2..]];
    assert_eq!(decode_pieces(dec(), &pieces).unwrap(), events);
}

#[test]
fn final_chunk_text_is_kept_and_missing_metrics_are_none() {
    let body = concat!(
        r#"{"model":"m","created_at":"t","response":"Hi","done":false}"#,
        "\n",
        r#"{"model":"m","created_at":"t","response":" there","thinking":"","done":true,"done_reason":"length","eval_count":2}"#
    );
    let events = decode_all(dec, body.as_bytes());
    assert_eq!(events[0], delta("Hi", ""));
    assert_eq!(events[1], delta(" there", ""));
    assert_eq!(
        events[2],
        Event::Stats(ServerStats {
            finish_reason: Some("length".into()),
            completion_tokens: Some(2),
            ..Default::default()
        })
    );
    assert_eq!(events[3], Event::Done);
}

#[test]
fn empty_chunks_are_empty_deltas() {
    let body = "{\"response\":\"\",\"done\":false}\n\n{\"message\":{\"role\":\"assistant\",\"content\":\"\"},\"done\":false}\r\n";
    assert_eq!(
        decode_all(dec, body.as_bytes()),
        vec![delta("", ""), delta("", "")]
    );
}

#[test]
fn load_reply_has_no_metrics() {
    let body = r#"{"model":"m","created_at":"t","response":"","done":true,"done_reason":"load"}"#;
    assert_eq!(
        decode_all(dec, body.as_bytes()),
        vec![
            Event::Stats(ServerStats {
                finish_reason: Some("load".into()),
                ..Default::default()
            }),
            Event::Done
        ]
    );
}

#[test]
fn error_line_is_stream_error() {
    let body = concat!(
        r#"{"model":"m","created_at":"…","response":" Yes","done":false}"#,
        "\n",
        r#"{"error":"an error was encountered while running the model: boom"}"#,
        "\n"
    );
    assert_eq!(
        decode_all(dec, body.as_bytes()),
        vec![
            delta(" Yes", ""),
            Event::StreamError("an error was encountered while running the model: boom".into())
        ]
    );
}

#[test]
fn malformed_line_is_protocol_error() {
    let mut out = Vec::new();
    let mut d = NdjsonDecoder::new();
    let err = d.feed(
        b"{\"response\":\"a\",\"done\":false}\n{not json\n",
        &mut out,
    );
    assert!(err.unwrap_err().0.contains("{not json"));
    assert_eq!(out, vec![delta("a", "")]);
    let mut d = NdjsonDecoder::new();
    assert!(d
        .feed(b"{\"response\":\"a\",\"done\":false}", &mut out)
        .is_ok());
    assert!(d.feed(b"}", &mut out).is_ok());
    assert!(
        d.finish(&mut out).is_err(),
        "trailing garbage on the last line"
    );
}

#[test]
fn chat_request_body() {
    let (settings, options) = request_fixture();
    let req = GenRequest {
        model: "qwen3:0.6b",
        system: Some("Be brief."),
        prompt: "Count to five.",
        settings: &settings,
        options: &options,
    };
    assert_eq!(
        body(OllamaApi::Chat, &req),
        json!({
            "model": "qwen3:0.6b",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Count to five."}
            ],
            "stream": true,
            "options": {"num_predict": 64, "temperature": 0.0, "top_p": 0.9, "top_k": 40,
                        "seed": 1, "stop": ["\n\n"], "num_ctx": 4096},
            "keep_alive": "30m",
            "think": false
        })
    );
}

#[test]
fn generate_request_body_minimal_and_keep_alive_numbers() {
    let settings = crate::experiment::RequestSettings {
        max_tokens: Some(8),
        keep_alive: Some("-1".into()),
        ..Default::default()
    };
    let options = Map::new();
    let req = GenRequest {
        model: "m",
        system: None,
        prompt: "p",
        settings: &settings,
        options: &options,
    };
    assert_eq!(
        body(OllamaApi::Generate, &req),
        json!({"model": "m", "prompt": "p", "stream": true,
               "options": {"num_predict": 8}, "keep_alive": -1})
    );
    let bare = crate::experiment::RequestSettings::default();
    let req = GenRequest {
        system: Some("s"),
        settings: &bare,
        ..req
    };
    assert_eq!(
        body(OllamaApi::Generate, &req),
        json!({"model": "m", "prompt": "p", "system": "s", "stream": true})
    );
    assert_eq!(keep_alive_value("1.5"), json!(1.5));
    assert_eq!(keep_alive_value("0"), json!(0));
    assert_eq!(keep_alive_value("10m"), json!("10m"));
}
