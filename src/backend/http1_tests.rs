//! Tests for the lean HTTP/1.1 client: head parsing, the three body
//! framings split at every byte, reuse and the closed-while-idle signal.

use super::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// De-chunks `wire` fed in the given pieces; returns the body and the bytes
/// after its end.
fn dechunk(pieces: &[&[u8]]) -> Result<(Vec<u8>, usize, bool), String> {
    let mut framing = Framing::Chunked(Chunked::default());
    let mut body = Vec::new();
    let mut after = 0;
    for piece in pieces {
        let fed = framing.feed(piece, |data| {
            body.extend_from_slice(data);
            Ok::<(), ()>(())
        });
        match fed {
            Ok(Ok(extra)) => after += extra,
            Ok(Err(())) => unreachable!(),
            Err(Failure::Body(m)) => return Err(m),
            Err(other) => return Err(format!("{other:?}")),
        }
    }
    Ok((body, after, framing.complete()))
}

const CHUNKED: &[u8] =
    b"6\r\ndata: \r\n18;ext=1\r\n{\"x\":\"\xc3\xa9\"}\n\nmore bytes!!\r\n0\r\nTrailer: t\r\n\r\n";

#[test]
fn chunked_body_any_split() {
    let whole = dechunk(&[CHUNKED]).unwrap();
    assert_eq!(whole.0, b"data: {\"x\":\"\xc3\xa9\"}\n\nmore bytes!!");
    assert_eq!((whole.1, whole.2), (0, true));
    for cut in 0..=CHUNKED.len() {
        assert_eq!(
            dechunk(&[&CHUNKED[..cut], &CHUNKED[cut..]]).unwrap(),
            whole,
            "cut {cut}"
        );
    }
    let bytes: Vec<&[u8]> = CHUNKED.chunks(1).collect();
    assert_eq!(dechunk(&bytes).unwrap(), whole);
}

#[test]
fn chunked_end_and_what_follows() {
    // Bare LF line ends are accepted; bytes after the end are counted.
    let (body, after, done) = dechunk(&[b"3\nabc\n0\n\nXY"]).unwrap();
    assert_eq!((body.as_slice(), after, done), (&b"abc"[..], 2, true));
    let (_, _, done) = dechunk(&[b"3\r\nabc\r\n"]).unwrap();
    assert!(!done);
    assert!(dechunk(&[b"zz\r\n"])
        .unwrap_err()
        .contains("invalid chunked"));
    assert!(dechunk(&[b"3\r\nabcX"]).is_err());
    assert!(dechunk(&[b"\r\n"]).is_err());
    assert!(dechunk(&[b"fffffffffffffffff\r\n"])
        .unwrap_err()
        .contains("overflows"));
}

fn head(text: &str) -> Head {
    match parse_head(text.as_bytes()) {
        Ok(Some((head, _))) => head,
        other => panic!("{other:?}"),
    }
}

#[test]
fn head_framing_and_keep_alive() {
    let h = head("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    assert!(matches!(h.framing, Framing::Chunked(_)) && h.keep_alive && h.status == 200);
    let h = head("HTTP/1.1 500 X\r\nContent-Length: 12\r\nConnection: close\r\n\r\n");
    assert!(matches!(h.framing, Framing::Length(12)) && !h.keep_alive);
    let h = head("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n");
    assert!(matches!(h.framing, Framing::Close) && !h.keep_alive);
    let h = head("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n");
    assert!(!h.keep_alive);
    let h = head("HTTP/1.1 204 No Content\r\n\r\n");
    assert!(matches!(h.framing, Framing::Length(0)));
    // An interim 100 Continue is skipped.
    let text = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    let (h, start) = parse_head(text.as_bytes()).unwrap().unwrap();
    assert_eq!((h.status, &text[start..]), (200, "ok"));
    assert!(parse_head(b"HTTP/1.1 200 OK\r\nContent-Le")
        .unwrap()
        .is_none());
    assert!(matches!(
        parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"),
        Err(Failure::Head(_))
    ));
    assert!(matches!(
        parse_head(b"SSH-2.0-OpenSSH\r\n\r\n"),
        Err(Failure::Head(_))
    ));
}

#[test]
fn endpoint_parts_and_request_bytes() {
    let http = Http1::for_endpoint("http://127.0.0.1:8080/v1/chat/completions").unwrap();
    assert_eq!(http.address, "127.0.0.1:8080");
    let bytes = http.request("text/event-stream", Some("Bearer k"), b"{}");
    let text = String::from_utf8(bytes).unwrap();
    assert_eq!(
        text,
        "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nAccept: text/event-stream\r\n\
         Content-Type: application/json\r\nContent-Length: 2\r\nAuthorization: Bearer k\r\n\r\n{}"
    );
    let http = Http1::for_endpoint("http://example.com/api/chat").unwrap();
    assert_eq!(
        (http.address.as_str(), http.host.as_str()),
        ("example.com:80", "example.com")
    );
    assert!(Http1::for_endpoint("https://example.com/api/chat").is_none());
    assert!(Http1::for_endpoint("http://u:p@example.com/api/chat").is_none());
}

/// A server that answers each connection's requests with `replies` in turn,
/// then closes the connection: with `linger`, only when the next request
/// arrives (the way llama.cpp's server does). Returns its URL.
async fn server(replies: Vec<Vec<&'static [u8]>>, linger: bool) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/x", listener.local_addr().unwrap());
    tokio::spawn(async move {
        for connection in replies {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            for reply in connection {
                let mut request = vec![0u8; 4096];
                if socket.read(&mut request).await.unwrap_or(0) == 0 {
                    break;
                }
                let _ = socket.write_all(reply).await;
            }
            if linger {
                let mut next = vec![0u8; 4096];
                let _ = socket.read(&mut next).await;
            }
        }
    });
    url
}

async fn exchange(http: &Http1) -> Result<(u16, Vec<u8>, bool), Failure> {
    let mut conn = http
        .connection()
        .await
        .map_err(|e| Failure::Send(e.to_string()))?;
    let (head, mut body) = conn.send(&http.request("*/*", None, b"{}")).await?;
    let mut data = Vec::new();
    while conn.fill(&mut body).await? {
        let collect = |piece: &[u8]| {
            data.extend_from_slice(piece);
            Ok::<(), ()>(())
        };
        assert!(conn.drain(&mut body, collect)?.is_ok());
    }
    let reusable = body.reusable(&head);
    if reusable {
        http.put_back(conn);
    }
    Ok((head.status, data, reusable))
}

#[tokio::test]
async fn keeps_the_connection_and_reports_a_close_while_idle() {
    let first: Vec<&'static [u8]> = vec![
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",
    ];
    let second: Vec<&'static [u8]> =
        vec![b"HTTP/1.1 503 X\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbusy"];
    let http = Http1::for_endpoint(&server(vec![first, second], true).await).unwrap();
    assert_eq!(exchange(&http).await.unwrap(), (200, b"hi".to_vec(), true));
    assert_eq!(exchange(&http).await.unwrap(), (200, b"abc".to_vec(), true));
    // The server closed that connection after its second reply: the next
    // request on it fails before any response byte.
    let failure = exchange(&http).await.unwrap_err();
    assert!(
        matches!(failure, Failure::ClosedWhileIdle(_)),
        "{failure:?}"
    );
    let reply = exchange(&http).await.unwrap();
    assert_eq!(reply, (503, b"busy".to_vec(), false));
}

#[tokio::test]
async fn a_body_cut_short_is_a_body_failure() {
    let replies: Vec<&'static [u8]> =
        vec![b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab"];
    let http = Http1::for_endpoint(&server(vec![replies], false).await).unwrap();
    let failure = exchange(&http).await.unwrap_err();
    assert!(
        matches!(&failure, Failure::Body(m) if m.contains("before the end")),
        "{failure:?}"
    );
}
