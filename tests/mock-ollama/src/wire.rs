//! HTTP plumbing: JSON, text and error responses with Ollama's content types, and the
//! streaming body that turns runner [`Event`]s into wire records (NDJSON lines or SSE
//! events) through an endpoint-specific [`Encoder`], one body frame per record, or two
//! frames split mid-record (mid UTF-8 character where possible) for `split_writes`.

use std::collections::VecDeque;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use serde::Serialize;
use serde_json::json;
use tokio::sync::mpsc;

use crate::engine::Event;
use crate::request::ApiError;

/// Pause between the two halves of a split record, so they leave in separate writes.
const SPLIT_GAP: Duration = Duration::from_millis(2);

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn with_type(status: StatusCode, content_type: &'static str, body: Body) -> Response {
    let mut r = Response::new(body);
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// A JSON reply (gin's `application/json; charset=utf-8`).
pub fn json<T: Serialize>(code: u16, value: &T) -> Response {
    let body = serde_json::to_vec(value).unwrap_or_default();
    with_type(
        status(code),
        "application/json; charset=utf-8",
        Body::from(body),
    )
}

/// A JSON reply from an already serialised record (a trailing newline is dropped).
pub fn json_bytes(code: u16, mut body: Vec<u8>) -> Response {
    if body.last() == Some(&b'\n') {
        body.pop();
    }
    with_type(
        status(code),
        "application/json; charset=utf-8",
        Body::from(body),
    )
}

/// A `text/plain` reply.
pub fn text(code: u16, body: &'static str) -> Response {
    with_type(status(code), "text/plain; charset=utf-8", Body::from(body))
}

/// Native error body `{"error": "..."}`.
pub fn native_error(e: &ApiError) -> Response {
    json(e.status, &json!({ "error": e.message }))
}

/// OpenAI-shaped error body, `type` chosen by status like Ollama's middleware.
pub fn openai_error(e: &ApiError) -> Response {
    let kind = match e.status {
        400 => "invalid_request_error",
        404 => "not_found_error",
        _ => "api_error",
    };
    let body = json!({"error": {"message": e.message, "type": kind, "param": null, "code": null}});
    json(e.status, &body)
}

/// A 200 reply whose body breaks off without completing (a crashed server).
pub fn aborted() -> Response {
    let err = std::io::Error::new(std::io::ErrorKind::ConnectionAborted, "mock: truncated");
    let stream = futures_util::stream::once(async move { Err::<Bytes, _>(err) });
    with_type(
        StatusCode::OK,
        "application/json; charset=utf-8",
        Body::from_stream(stream),
    )
}

/// Turns runner events into wire records for one endpoint.
pub trait Encoder: Send + 'static {
    /// Records (each a complete line or event, with its terminator) for one event.
    fn encode(&mut self, ev: Event) -> Vec<Vec<u8>>;
}

struct Streamer {
    first: Option<Event>,
    rx: mpsc::Receiver<Event>,
    enc: Box<dyn Encoder>,
    queue: VecDeque<(Bytes, bool)>,
    split: bool,
    finished: bool,
}

/// Streams `first` and the rest of `rx` as a 200 reply with `content_type`.
pub fn stream(
    content_type: &'static str,
    first: Option<Event>,
    rx: mpsc::Receiver<Event>,
    enc: Box<dyn Encoder>,
    split: bool,
) -> Response {
    let st = Streamer {
        first,
        rx,
        enc,
        queue: VecDeque::new(),
        split,
        finished: false,
    };
    let body = futures_util::stream::unfold(st, |mut st| async move {
        loop {
            if let Some((bytes, delay)) = st.queue.pop_front() {
                if delay {
                    tokio::time::sleep(SPLIT_GAP).await;
                }
                return Some((Ok::<Bytes, std::io::Error>(bytes), st));
            }
            if st.finished {
                return None;
            }
            let ev = match st.first.take() {
                Some(ev) => ev,
                None => match st.rx.recv().await {
                    Some(ev) => ev,
                    None => {
                        st.finished = true;
                        continue;
                    }
                },
            };
            st.finished = matches!(ev, Event::Done { .. } | Event::Error(_));
            for rec in st.enc.encode(ev) {
                if st.split && rec.len() > 1 {
                    let at = split_point(&rec);
                    st.queue
                        .push_back((Bytes::copy_from_slice(&rec[..at]), false));
                    st.queue
                        .push_back((Bytes::copy_from_slice(&rec[at..]), true));
                } else {
                    st.queue.push_back((Bytes::from(rec), false));
                }
            }
        }
    });
    with_type(StatusCode::OK, content_type, Body::from_stream(body))
}

/// Where to split a record: inside the multi-byte character nearest the middle if there
/// is one, else the middle.
pub fn split_point(rec: &[u8]) -> usize {
    let mid = rec.len() / 2;
    (1..rec.len())
        .filter(|&i| rec[i] & 0xC0 == 0x80)
        .min_by_key(|&i| i.abs_diff(mid))
        .unwrap_or(mid.max(1))
}

/// One NDJSON line.
pub fn ndjson<T: Serialize>(value: &T) -> Vec<u8> {
    let mut line = serde_json::to_vec(value).unwrap_or_default();
    line.push(b'\n');
    line
}

/// One SSE `data:` event.
pub fn sse<T: Serialize>(value: &T) -> Vec<u8> {
    let mut ev = b"data: ".to_vec();
    ev.extend(serde_json::to_vec(value).unwrap_or_default());
    ev.extend_from_slice(b"\n\n");
    ev
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_inside_multibyte_chars() {
        let rec = "{\"response\":\" café\"}\n".as_bytes();
        let at = split_point(rec);
        assert!(std::str::from_utf8(&rec[..at]).is_err());
        assert_eq!(split_point(b"abcd"), 2);
        assert_eq!(split_point(b"ab"), 1);
    }
}
