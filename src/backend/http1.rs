//! A lean HTTP/1.1 client for the one request llmbench times: the streaming
//! generation POST to an `http://` backend. reqwest (hyper) hands every
//! HTTP chunk from its connection task through a channel and several body
//! layers to the request task, which costs more CPU than decoding the chunk
//! and adds a thread wake-up to every arrival. Here the task that measures
//! owns the socket: it writes the request head and body with one write,
//! reads whole socket buffers, parses the response head (httparse) and
//! de-chunks the body in place, handing each piece of body bytes straight to
//! the caller. Connections are kept alive in a small pool per backend
//! (TCP_NODELAY). https, proxies and every other request stay with reqwest.
//! The module does no timing and no retrying: the executor reads the clock
//! and decides to resend; this module only says whether a failure happened
//! before any response byte on a reused connection, and hands on the
//! kernel's receive time of each read (`SO_TIMESTAMPNS`, CLOCK_REALTIME, on
//! Linux): when the bytes reached the socket, however late llmbench got to
//! read them.

use std::io;
use std::os::fd::AsRawFd;
use std::sync::Mutex;
use std::time::Duration;
use tokio::io::{AsyncWriteExt, Interest};
use tokio::net::TcpStream;

/// The most idle connections kept per backend (more than any concurrency
/// level a 2-core client can drive).
const MAX_IDLE: usize = 1024;
/// A response head larger than this is not an LLM server's.
const MAX_HEAD: usize = 64 * 1024;
/// Read buffer per connection: several SSE events per read.
const READ_BUFFER: usize = 32 * 1024;

/// One `http://` server's generation endpoint and its idle connections.
#[derive(Debug)]
pub(crate) struct Http1 {
    /// `host:port` to connect to.
    address: String,
    /// The `Host` header (port only when the URL had one).
    host: String,
    /// Path and query of the generation endpoint.
    path: String,
    /// For messages.
    url: String,
    idle: Mutex<Vec<Conn>>,
}

impl Http1 {
    /// The client for `endpoint`, or `None` when reqwest must do it: https,
    /// credentials in the URL, or a proxy configured in the environment
    /// (reqwest honours those, and so must the timed request).
    pub(crate) fn for_endpoint(endpoint: &str) -> Option<Http1> {
        if proxy_configured() {
            return None;
        }
        let url = reqwest::Url::parse(endpoint).ok()?;
        if url.scheme() != "http" || !url.username().is_empty() || url.password().is_some() {
            return None;
        }
        let host_name = url.host_str()?;
        let port = url.port_or_known_default()?;
        let host = match url.port() {
            Some(port) => format!("{host_name}:{port}"),
            None => host_name.to_string(),
        };
        let path = match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_string(),
        };
        Some(Http1 {
            address: format!("{host_name}:{port}"),
            host,
            path,
            url: endpoint.to_string(),
            idle: Mutex::new(Vec::new()),
        })
    }

    /// The endpoint's URL (for messages).
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// The bytes of a POST of `body` (JSON), head and body in one buffer so
    /// they go out with one write. `authorization` is the whole header value.
    pub(crate) fn request(
        &self,
        accept: &str,
        authorization: Option<&str>,
        body: &[u8],
    ) -> Vec<u8> {
        let mut out = Vec::with_capacity(body.len() + 256);
        for part in [
            "POST ",
            &self.path,
            " HTTP/1.1\r\nHost: ",
            &self.host,
            "\r\nAccept: ",
            accept,
            "\r\nContent-Type: application/json\r\nContent-Length: ",
            &body.len().to_string(),
            "\r\n",
        ] {
            out.extend_from_slice(part.as_bytes());
        }
        if let Some(value) = authorization {
            out.extend_from_slice(b"Authorization: ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(body);
        out
    }

    /// An idle connection the server has not closed, else a new one.
    pub(crate) async fn connection(&self) -> io::Result<Conn> {
        while let Some(conn) = self.take_idle() {
            if conn.still_open() {
                return Ok(conn);
            }
        }
        self.connect().await
    }

    /// A new connection.
    pub(crate) async fn connect(&self) -> io::Result<Conn> {
        let stream = TcpStream::connect(&self.address).await?;
        stream.set_nodelay(true)?;
        // Without receive stamps the executor falls back to its own clock.
        let _ = enable_receive_stamps(&stream);
        Ok(Conn {
            stream,
            reused: false,
            buffer: vec![0; READ_BUFFER].into_boxed_slice(),
            stamp: None,
        })
    }

    /// Keeps a connection whose response was read to its end.
    pub(crate) fn put_back(&self, mut conn: Conn) {
        conn.reused = true;
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < MAX_IDLE {
                idle.push(conn);
            }
        }
    }

    fn take_idle(&self) -> Option<Conn> {
        self.idle.lock().ok()?.pop()
    }
}

/// True when a proxy variable reqwest reads is set.
fn proxy_configured() -> bool {
    ["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"]
        .iter()
        .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()))
}

/// One connection and its read buffer (kept together in the pool).
pub(crate) struct Conn {
    stream: TcpStream,
    /// Served a request before: a failure before any response byte means the
    /// server closed it while idle, and the request may be resent.
    reused: bool,
    buffer: Box<[u8]>,
    /// The kernel's receive time (since the Unix epoch) of the last read.
    stamp: Option<Duration>,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("reused", &self.reused)
            .finish()
    }
}

/// Why an exchange failed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Writing the request or reading the head failed before any response
    /// byte arrived on a reused connection: resend on a new one.
    ClosedWhileIdle(String),
    /// Writing the request or reading the response head failed.
    Send(String),
    /// The response head was not HTTP/1.1.
    Head(String),
    /// The body could not be read to its end.
    Body(String),
}

/// A parsed response head.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Head {
    pub(crate) status: u16,
    framing: Framing,
    keep_alive: bool,
    /// `Retry-After` in seconds (the delta-seconds form; a date is ignored).
    pub(crate) retry_after_s: Option<u64>,
    /// The kernel's receive time of the first response bytes (CLOCK_REALTIME
    /// since the Unix epoch), when the socket reports it: the first byte.
    first_byte: Option<Duration>,
}

impl Head {
    /// When the first bytes of the response reached the socket (kernel
    /// stamp, CLOCK_REALTIME since the Unix epoch), when known.
    pub(crate) fn received_at(&self) -> Option<Duration> {
        self.first_byte
    }
}

impl Conn {
    /// Whether an idle connection is still usable: the server neither closed
    /// it nor sent anything unasked (one non-blocking peek).
    fn still_open(&self) -> bool {
        let mut byte = 0u8;
        // SAFETY: recv into a valid one-byte buffer on the socket we own;
        // MSG_PEEK leaves the data, MSG_DONTWAIT never blocks.
        let n = unsafe {
            libc::recv(
                self.stream.as_raw_fd(),
                (&mut byte as *mut u8).cast(),
                1,
                libc::MSG_PEEK | libc::MSG_DONTWAIT,
            )
        };
        n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::WouldBlock
    }

    /// Writes the request and reads until the response head is complete.
    /// Returns the head and a `Body` holding the body bytes read with it.
    pub(crate) async fn send(&mut self, request: &[u8]) -> Result<(Head, Body), Failure> {
        if let Err(e) = self.stream.write_all(request).await {
            return Err(self.before_response(format!("sending the request failed: {e}")));
        }
        let mut filled = 0;
        let mut first_byte = None;
        loop {
            let read = self.recv(filled).await;
            let n = match read {
                Ok(0) => {
                    let what = "the server closed the connection";
                    return Err(match filled {
                        0 => self.before_response(format!("{what} without answering")),
                        _ => Failure::Head(format!("{what} in the middle of the response head")),
                    });
                }
                Ok(n) => n,
                Err(e) if filled == 0 => {
                    return Err(self.before_response(format!("reading the response failed: {e}")))
                }
                Err(e) => {
                    return Err(Failure::Send(format!(
                        "reading the response head failed: {e}"
                    )))
                }
            };
            if filled == 0 {
                first_byte = self.stamp;
            }
            filled += n;
            if let Some((mut head, length)) = parse_head(&self.buffer[..filled])? {
                head.first_byte = first_byte;
                let mut body = Body::new(head.framing, length, filled);
                body.stamp = self.stamp;
                return Ok((head, body));
            }
            if filled == self.buffer.len() {
                return Err(Failure::Head(format!(
                    "the response head is longer than {} KiB",
                    self.buffer.len() >> 10
                )));
            }
        }
    }

    fn before_response(&self, message: String) -> Failure {
        if self.reused {
            Failure::ClosedWhileIdle(message)
        } else {
            Failure::Send(message)
        }
    }

    /// Waits for the next bytes of the body (the first call returns at once
    /// with what came with the head). False once the body is complete, or
    /// when a close-delimited body ended; the caller stamps the arrival
    /// between `fill` and `drain`.
    pub(crate) async fn fill(&mut self, body: &mut Body) -> Result<bool, Failure> {
        if !body.held.is_empty() {
            return Ok(true);
        }
        if body.framing.complete() {
            return Ok(false);
        }
        let n = self
            .recv(0)
            .await
            .map_err(|e| Failure::Body(e.to_string()))?;
        if n == 0 {
            body.framing.at_eof()?;
            return Ok(false);
        }
        body.held = 0..n;
        body.stamp = self.stamp;
        Ok(true)
    }

    /// Reads what the socket holds into the buffer from `from`, keeping the
    /// kernel's receive time of the bytes in `stamp`.
    async fn recv(&mut self, from: usize) -> io::Result<usize> {
        let Conn {
            stream,
            buffer,
            stamp,
            ..
        } = self;
        let fd = stream.as_raw_fd();
        loop {
            stream.readable().await?;
            let buffer = &mut buffer[from..];
            match stream.try_io(Interest::READABLE, || recv_stamped(fd, buffer)) {
                Ok((n, at)) => {
                    *stamp = at;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Hands the body bytes `fill` got to `on_data` (de-chunked; possibly
    /// several calls). The outer error is the transport's, the inner one
    /// `on_data`'s.
    pub(crate) fn drain<E>(
        &mut self,
        body: &mut Body,
        on_data: impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<Result<(), E>, Failure> {
        let range = std::mem::take(&mut body.held);
        let after_end = match body.framing.feed(&self.buffer[range], on_data)? {
            Ok(after_end) => after_end,
            Err(e) => return Ok(Err(e)),
        };
        if after_end > 0 {
            // Bytes after the end of the body: the connection is in no
            // state to serve another request.
            body.reusable = false;
        }
        Ok(Ok(()))
    }
}

/// Parses the head at the start of `bytes`: `None` while incomplete. Skips
/// interim (1xx) heads; returns the final head and where its body starts.
fn parse_head(bytes: &[u8]) -> Result<Option<(Head, usize)>, Failure> {
    let mut start = 0;
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut response = httparse::Response::new(&mut headers);
        let length = match response.parse(&bytes[start..]) {
            Ok(httparse::Status::Complete(length)) => length,
            Ok(httparse::Status::Partial) if bytes.len() - start > MAX_HEAD => {
                return Err(Failure::Head(format!(
                    "the response head is longer than {} KiB",
                    MAX_HEAD >> 10
                )))
            }
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(e) => {
                let shown = super::lines::preview(&String::from_utf8_lossy(
                    &bytes[start..bytes.len().min(start + 120)],
                ));
                return Err(Failure::Head(format!(
                    "invalid HTTP response head ({e}): {shown}"
                )));
            }
        };
        let status = response.code.unwrap_or(0);
        if (100..200).contains(&status) && status != 101 {
            start += length;
            continue;
        }
        let head = head_of(&response, status)?;
        return Ok(Some((head, start + length)));
    }
}

/// Framing and keep-alive from the head's headers (RFC 9112 §6.3).
fn head_of(response: &httparse::Response, status: u16) -> Result<Head, Failure> {
    let mut chunked = None;
    let mut length: Option<u64> = None;
    let mut keep_alive = response.version == Some(1);
    let mut retry_after_s = None;
    for header in response.headers.iter() {
        let value = std::str::from_utf8(header.value).unwrap_or("").trim();
        if header.name.eq_ignore_ascii_case("retry-after") {
            retry_after_s = value.parse().ok();
        } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
            let last = value.rsplit(',').next().unwrap_or("").trim();
            chunked = Some(last.eq_ignore_ascii_case("chunked"));
        } else if header.name.eq_ignore_ascii_case("content-length") {
            let parsed = value
                .parse::<u64>()
                .map_err(|_| Failure::Head(format!("invalid Content-Length `{value}`")))?;
            if length.is_some_and(|l| l != parsed) {
                return Err(Failure::Head("conflicting Content-Length headers".into()));
            }
            length = Some(parsed);
        } else if header.name.eq_ignore_ascii_case("connection")
            && value
                .split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("close"))
        {
            keep_alive = false;
        }
    }
    let framing = match (status, chunked, length) {
        (101, ..) => return Err(Failure::Head("the server switched protocols".into())),
        (204 | 304, ..) => Framing::Length(0),
        (_, Some(true), _) => Framing::Chunked(Chunked::default()),
        (_, Some(false), _) => Framing::Close,
        (_, None, Some(length)) => Framing::Length(length),
        (_, None, None) => Framing::Close,
    };
    let keep_alive = keep_alive && !matches!(framing, Framing::Close);
    Ok(Head {
        status,
        framing,
        keep_alive,
        retry_after_s,
        first_byte: None,
    })
}

/// The state of one response body.
#[derive(Debug)]
pub(crate) struct Body {
    framing: Framing,
    /// Body bytes read but not yet drained (a range of the read buffer).
    held: std::ops::Range<usize>,
    /// When the kernel received them (CLOCK_REALTIME since the epoch).
    stamp: Option<Duration>,
    reusable: bool,
}

impl Body {
    fn new(framing: Framing, start: usize, filled: usize) -> Body {
        Body {
            framing,
            held: start..filled,
            stamp: None,
            reusable: true,
        }
    }

    /// The kernel's receive time of the bytes `fill` got (CLOCK_REALTIME
    /// since the Unix epoch), when the socket reports it.
    pub(crate) fn received_at(&self) -> Option<Duration> {
        self.stamp
    }

    /// After the body's end: may the connection serve another request?
    pub(crate) fn reusable(&self, head: &Head) -> bool {
        head.keep_alive && self.reusable && self.framing.complete()
    }
}

/// How the body's end is found.
#[derive(Debug, Clone, Copy)]
enum Framing {
    /// `Transfer-Encoding: chunked`.
    Chunked(Chunked),
    /// `Content-Length`: bytes still to come.
    Length(u64),
    /// Until the server closes the connection.
    Close,
}

impl Framing {
    fn complete(&self) -> bool {
        match self {
            Framing::Chunked(chunked) => chunked.state == ChunkState::Done,
            Framing::Length(left) => *left == 0,
            Framing::Close => false,
        }
    }

    /// The connection closed: fine only for a close-delimited body.
    fn at_eof(&self) -> Result<(), Failure> {
        match self {
            Framing::Close => Ok(()),
            Framing::Length(left) => Err(Failure::Body(format!(
                "the connection closed {left} bytes before the end of the body (Content-Length)"
            ))),
            Framing::Chunked(_) => Err(Failure::Body(
                "the connection closed before the end of the chunked body".into(),
            )),
        }
    }

    /// Hands the body bytes in `bytes` to `on_data`; returns how many bytes
    /// came after the end of the body (or the caller's error).
    fn feed<E>(
        &mut self,
        bytes: &[u8],
        mut on_data: impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<Result<usize, E>, Failure> {
        match self {
            Framing::Chunked(chunked) => chunked.feed(bytes, on_data),
            Framing::Length(left) => {
                let take = bytes
                    .len()
                    .min(usize::try_from(*left).unwrap_or(usize::MAX));
                *left -= take as u64;
                if take > 0 {
                    if let Err(e) = on_data(&bytes[..take]) {
                        return Ok(Err(e));
                    }
                }
                Ok(Ok(bytes.len() - take))
            }
            Framing::Close => Ok(on_data(bytes).map(|()| 0)),
        }
    }
}

/// De-chunks `Transfer-Encoding: chunked` a byte of framing at a time and the
/// data in whole slices; the state survives any split between reads.
#[derive(Debug, Clone, Copy, Default)]
struct Chunked {
    state: ChunkState,
    size: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum ChunkState {
    /// The start of a size line (no hex digit yet).
    #[default]
    Size,
    /// Within the hex digits of a size.
    SizeDigits,
    /// Chunk extensions (`;name=value`) or padding, up to the line end.
    Extension,
    SizeLf,
    /// Chunk data, `size` bytes left.
    Data,
    DataCr,
    DataLf,
    /// Trailer fields after the last chunk; at the start of a line.
    TrailerLineStart,
    TrailerLine,
    TrailerEndLf,
    Done,
}

impl Chunked {
    fn feed<E>(
        &mut self,
        bytes: &[u8],
        mut on_data: impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<Result<usize, E>, Failure> {
        let mut at = 0;
        while at < bytes.len() {
            if self.state == ChunkState::Done {
                break;
            }
            if self.state == ChunkState::Data {
                let take = (bytes.len() - at).min(usize::try_from(self.size).unwrap_or(usize::MAX));
                if let Err(e) = on_data(&bytes[at..at + take]) {
                    return Ok(Err(e));
                }
                at += take;
                self.size -= take as u64;
                if self.size == 0 {
                    self.state = ChunkState::DataCr;
                }
                continue;
            }
            self.framing_byte(bytes[at])?;
            at += 1;
        }
        Ok(Ok(bytes.len() - at))
    }

    /// One byte of the framing around the data.
    fn framing_byte(&mut self, byte: u8) -> Result<(), Failure> {
        use ChunkState::*;
        self.state = match (self.state, byte) {
            (Size | SizeDigits, b) if b.is_ascii_hexdigit() => {
                if self.size > u64::MAX >> 4 {
                    return Err(invalid_chunk("a chunk size overflows"));
                }
                let digit = (b as char).to_digit(16).unwrap_or(0);
                self.size = self.size << 4 | u64::from(digit);
                SizeDigits
            }
            (SizeDigits | Extension, b';' | b' ' | b'\t') => Extension,
            (Extension, b) if b != b'\r' && b != b'\n' => Extension,
            (SizeDigits | Extension, b'\r') => SizeLf,
            (SizeDigits | Extension | SizeLf, b'\n') => self.size_line_done(),
            (DataCr, b'\r') => DataLf,
            (DataCr | DataLf, b'\n') => Size,
            (TrailerLineStart, b'\r') => TrailerEndLf,
            (TrailerLineStart | TrailerEndLf, b'\n') => Done,
            (TrailerLine, b'\n') => TrailerLineStart,
            (TrailerLineStart | TrailerLine, _) => TrailerLine,
            (state, b) => {
                return Err(invalid_chunk(&format!(
                    "unexpected byte 0x{b:02x} in state {state:?}"
                )))
            }
        };
        Ok(())
    }

    fn size_line_done(&mut self) -> ChunkState {
        if self.size == 0 {
            ChunkState::TrailerLineStart
        } else {
            ChunkState::Data
        }
    }
}

/// Asks the kernel to stamp received data (SO_TIMESTAMPNS).
#[cfg(target_os = "linux")]
fn enable_receive_stamps(stream: &TcpStream) -> io::Result<()> {
    let on: libc::c_int = 1;
    // SAFETY: setsockopt with a valid int option value on a socket we own.
    let result = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_TIMESTAMPNS,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if result == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn enable_receive_stamps(_stream: &TcpStream) -> io::Result<()> {
    Ok(())
}

/// One `recvmsg` into `buffer`: the byte count and the SCM_TIMESTAMPNS of
/// the data when the kernel attached one.
#[cfg(target_os = "linux")]
fn recv_stamped(
    fd: std::os::fd::RawFd,
    buffer: &mut [u8],
) -> io::Result<(usize, Option<Duration>)> {
    let mut iov = libc::iovec {
        iov_base: buffer.as_mut_ptr().cast(),
        iov_len: buffer.len(),
    };
    // u64s keep the control buffer aligned for cmsghdr.
    let mut control = [0u64; 16];
    // SAFETY: an all-zero msghdr is valid; the pointers set below outlive the call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control) as _;
    // SAFETY: recvmsg writes at most iov_len bytes and msg_controllen bytes.
    let n = unsafe { libc::recvmsg(fd, &mut msg, 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut stamp = None;
    // SAFETY: the CMSG macros walk the control buffer recvmsg filled in.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_TIMESTAMPNS
            {
                let ts: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast());
                if let (Ok(secs), Ok(nanos)) = (u64::try_from(ts.tv_sec), u32::try_from(ts.tv_nsec))
                {
                    stamp = Some(Duration::new(secs, nanos));
                }
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    Ok((n as usize, stamp))
}

#[cfg(not(target_os = "linux"))]
fn recv_stamped(
    fd: std::os::fd::RawFd,
    buffer: &mut [u8],
) -> io::Result<(usize, Option<Duration>)> {
    // SAFETY: recv writes at most buffer.len() bytes into buffer.
    let n = unsafe { libc::recv(fd, buffer.as_mut_ptr().cast(), buffer.len(), 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((n as usize, None))
}

fn invalid_chunk(what: &str) -> Failure {
    Failure::Body(format!("invalid chunked encoding: {what}"))
}

#[cfg(test)]
#[path = "http1_tests.rs"]
mod tests;
