//! Line splitting shared by the NDJSON and SSE decoders. A response body
//! arrives in arbitrary pieces: one piece may hold several lines, or end in
//! the middle of a line or even of a multi-byte UTF-8 character. `LineBuffer`
//! keeps only the unfinished tail between pieces, splits on `\n`, strips a
//! trailing `\r` (CRLF servers), and decodes UTF-8 only once a line is
//! complete. Complete lines inside a piece are handed out straight from the
//! piece without copying; the tail buffer is reused, so steady-state feeding
//! allocates nothing.

use super::event::ProtocolError;

/// A line longer than this is treated as a broken stream rather than buffered
/// forever (no real stream record comes close).
const MAX_LINE: usize = 64 * 1024 * 1024;

/// Buffers the unfinished last line of a byte stream.
#[derive(Debug, Default)]
pub(crate) struct LineBuffer {
    pending: Vec<u8>,
}

impl LineBuffer {
    /// Calls `on_line` for every line completed by `bytes` (without its `\n`
    /// or `\r\n`; empty lines included). Stops at the first error; the
    /// decoder is not meant to be used after an error.
    pub(crate) fn feed(
        &mut self,
        bytes: &[u8],
        mut on_line: impl FnMut(&str) -> Result<(), ProtocolError>,
    ) -> Result<(), ProtocolError> {
        let Some(mut bytes) = self.complete(bytes, &mut on_line)? else {
            return Ok(());
        };
        while let Some((line, rest)) = next_line(bytes) {
            on_line(line_text(line)?)?;
            bytes = rest;
        }
        self.keep(bytes)
    }

    /// First step of a feed for decoders that walk the lines themselves:
    /// when a line is pending, completes it with the start of `bytes` and
    /// hands it to `on_line`. Returns the bytes after it (all of `bytes` when
    /// nothing was pending), or `None` when `bytes` held no newline and was
    /// buffered whole.
    pub(crate) fn complete<'b>(
        &mut self,
        bytes: &'b [u8],
        mut on_line: impl FnMut(&str) -> Result<(), ProtocolError>,
    ) -> Result<Option<&'b [u8]>, ProtocolError> {
        if self.pending.is_empty() {
            return Ok(Some(bytes));
        }
        let Some(end) = memchr::memchr(b'\n', bytes) else {
            self.keep(bytes)?;
            return Ok(None);
        };
        self.pending.extend_from_slice(&bytes[..end]);
        // Take the buffer out so `on_line` may run while we hold the line,
        // then put it back (cleared) to keep its capacity.
        let mut line = std::mem::take(&mut self.pending);
        let result = line_text(&line).and_then(&mut on_line);
        line.clear();
        self.pending = line;
        result.map(|()| Some(&bytes[end + 1..]))
    }

    /// End of body: hands out a last line that had no terminating `\n`.
    pub(crate) fn finish(
        &mut self,
        mut on_line: impl FnMut(&str) -> Result<(), ProtocolError>,
    ) -> Result<(), ProtocolError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let line = std::mem::take(&mut self.pending);
        on_line(line_text(&line)?)
    }

    /// Buffers an unfinished last line (the rest of a piece without `\n`).
    pub(crate) fn keep(&mut self, bytes: &[u8]) -> Result<(), ProtocolError> {
        if self.pending.len() + bytes.len() > MAX_LINE {
            self.pending.clear();
            return Err(ProtocolError(format!(
                "a response line is longer than {} MiB without a newline",
                MAX_LINE >> 20
            )));
        }
        self.pending.extend_from_slice(bytes);
        Ok(())
    }
}

/// Splits off the first complete line of `bytes` (without its `\n`; a
/// trailing `\r` is still there) and the bytes after it.
pub(crate) fn next_line(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let end = memchr::memchr(b'\n', bytes)?;
    Some((&bytes[..end], &bytes[end + 1..]))
}

/// A complete line as text: strips a trailing `\r` (CRLF servers) and
/// checks UTF-8 (std's check runs a word at a time over ASCII).
pub(crate) fn line_text(line: &[u8]) -> Result<&str, ProtocolError> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    std::str::from_utf8(line).map_err(|e| {
        ProtocolError(format!(
            "response line is not valid UTF-8 ({e}): {}",
            preview(&String::from_utf8_lossy(line))
        ))
    })
}

/// The start of a record for error messages (at most 200 characters).
pub(crate) fn preview(text: &str) -> String {
    const MAX: usize = 200;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_all(pieces: &[&[u8]]) -> Result<Vec<String>, ProtocolError> {
        let mut buffer = LineBuffer::default();
        let mut lines = Vec::new();
        for piece in pieces {
            buffer.feed(piece, |l| {
                lines.push(l.to_string());
                Ok(())
            })?;
        }
        buffer.finish(|l| {
            lines.push(l.to_string());
            Ok(())
        })?;
        Ok(lines)
    }

    #[test]
    fn splits_lines_and_strips_cr() {
        let lines = split_all(&[b"a\r\nb\n\nc"]).unwrap();
        assert_eq!(lines, ["a", "b", "", "c"]);
    }

    #[test]
    fn every_split_point_gives_the_same_lines() {
        let body = "héllo wörld\r\n{\"x\":\"日本\"}\n\nlast 🎉".as_bytes();
        let whole = split_all(&[body]).unwrap();
        assert_eq!(whole, ["héllo wörld", "{\"x\":\"日本\"}", "", "last 🎉"]);
        for cut in 0..=body.len() {
            assert_eq!(
                split_all(&[&body[..cut], &body[cut..]]).unwrap(),
                whole,
                "cut {cut}"
            );
        }
        let bytes: Vec<&[u8]> = body.chunks(1).collect();
        assert_eq!(split_all(&bytes).unwrap(), whole);
    }

    #[test]
    fn invalid_utf8_is_a_protocol_error() {
        let err = split_all(&[b"ok\n\xff\xfe\n"]).unwrap_err();
        assert!(err.0.contains("UTF-8"), "{err}");
    }

    #[test]
    fn finish_without_tail_emits_nothing() {
        assert_eq!(split_all(&[b"a\n"]).unwrap(), ["a"]);
        assert!(split_all(&[]).unwrap().is_empty());
    }

    #[test]
    fn preview_truncates_on_char_boundary() {
        let long = "é".repeat(300);
        let p = preview(&long);
        assert_eq!(p.chars().count(), 201);
        assert!(p.ends_with('…'));
        assert_eq!(preview("short"), "short");
    }
}
