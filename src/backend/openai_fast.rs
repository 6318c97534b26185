//! The SSE decoder's fast path: recognises, in one pass over the bytes, the
//! chat-completion chunk that makes up nearly all of a stream — one choice
//! whose delta holds plain text (`content`, `reasoning_content`,
//! `reasoning`, `role`), `finish_reason` null, no usage, timings or error —
//! and answers `None` for anything else, which serde then decodes. It only
//! accepts what serde accepts with the same result: strings without escapes
//! or control characters, integers, `null`; every key serde knows at most
//! once; nothing after the object. The tests in openai_tests.rs feed many
//! chunks through both paths and hold them equal.
//!
//! Within a stream the chunks differ only in their text (`id`, `created`,
//! `model` stay), so the last plain content delta is kept as a `Template`:
//! a payload that has its bytes before and after the content string and
//! plain text in between is that same shape with another text, and is
//! decoded with two comparisons instead of a scan.

use super::super::event::Event;

/// The last plain content delta of a stream (no reasoning text): the whole
/// payload and where its content text lies.
#[derive(Debug, Default)]
pub(super) struct Template {
    payload: String,
    start: usize,
    end: usize,
}

impl Template {
    /// The delta of `payload` when it is the template's shape with another
    /// plain text, else the scan's (which then becomes the template).
    pub(super) fn delta(&mut self, payload: &str) -> Option<Event> {
        if let Some(content) = self.same_shape(payload) {
            return Some(Event::Delta {
                content: content.to_string(),
                reasoning: String::new(),
            });
        }
        let (event, content) = scan_delta(payload)?;
        match (&event, content) {
            (Event::Delta { reasoning, .. }, Some((start, end))) if reasoning.is_empty() => {
                self.payload.clear();
                self.payload.push_str(payload);
                (self.start, self.end) = (start, end);
            }
            _ => {}
        }
        Some(event)
    }

    /// The content text of `payload` if it has the template's bytes before
    /// and after its content string, and plain text (no quote, backslash or
    /// control character) in between.
    fn same_shape<'p>(&self, payload: &'p str) -> Option<&'p str> {
        if self.payload.is_empty() {
            return None;
        }
        let before = &self.payload[..self.start];
        let after = &self.payload[self.end..];
        if payload.len() < before.len() + after.len()
            || !payload.starts_with(before)
            || !payload.ends_with(after)
        {
            return None;
        }
        let text = &payload[before.len()..payload.len() - after.len()];
        let plain = text
            .bytes()
            .fold(true, |ok, b| ok & (b != b'"' && b != b'\\' && b >= 0x20));
        plain.then_some(text)
    }
}

/// The `Delta` event of a plain content/reasoning chunk, or `None` when the
/// payload needs the full decoder.
#[cfg(test)]
pub(super) fn content_delta(payload: &str) -> Option<Event> {
    scan_delta(payload).map(|(event, _)| event)
}

/// The scan: the event, and where the content string lies when there is one.
fn scan_delta(payload: &str) -> Option<(Event, Option<(usize, usize)>)> {
    let mut scan = Scan {
        bytes: payload.as_bytes(),
        at: 0,
    };
    let delta = scan.chunk()?;
    scan.skip_ws();
    if scan.at != scan.bytes.len() {
        return None;
    }
    let text = |range: Option<(usize, usize)>| range.map(|(a, b)| &payload[a..b]);
    let content = text(delta.content).unwrap_or_default();
    // Same choice as `openai::pick_reasoning`: a non-empty
    // `reasoning_content` wins, else `reasoning`.
    let reasoning = match text(delta.reasoning_content) {
        Some(r) if !r.is_empty() => r,
        _ => text(delta.reasoning).unwrap_or_default(),
    };
    let event = Event::Delta {
        content: content.to_string(),
        reasoning: reasoning.to_string(),
    };
    Some((event, delta.content))
}

/// Where the texts of a delta lie in the payload (byte ranges).
#[derive(Default)]
struct DeltaText {
    content: Option<(usize, usize)>,
    reasoning_content: Option<(usize, usize)>,
    reasoning: Option<(usize, usize)>,
}

/// A cursor over the payload. Every method answers `None` as soon as the
/// bytes leave the shapes the fast path knows.
struct Scan<'a> {
    bytes: &'a [u8],
    at: usize,
}

/// Top-level keys serde's `Chunk` knows: a repeat is an error there.
const TOP_CHOICES: u32 = 1;
const TOP_USAGE: u32 = 2;
const TOP_TIMINGS: u32 = 4;
const TOP_ERROR: u32 = 8;
const TOP_OBJECT: u32 = 16;
const TOP_MESSAGE: u32 = 32;

impl Scan<'_> {
    /// The top-level object: `choices` with one plain choice; known keys
    /// whose value changes nothing (`usage`/`timings`/`error`/`message`
    /// null, `object` other than "error"); unknown keys with simple values.
    fn chunk(&mut self) -> Option<DeltaText> {
        let mut delta = None;
        let mut seen = 0u32;
        self.object(|scan, key| {
            let bit = match key {
                b"choices" => TOP_CHOICES,
                b"usage" => TOP_USAGE,
                b"timings" => TOP_TIMINGS,
                b"error" => TOP_ERROR,
                b"object" => TOP_OBJECT,
                b"message" => TOP_MESSAGE,
                _ => return scan.simple_value(),
            };
            if seen & bit != 0 {
                return None;
            }
            seen |= bit;
            match bit {
                TOP_CHOICES => delta = Some(scan.choices()?),
                TOP_OBJECT => match scan.string_or_null()? {
                    Some((a, b)) if &scan.bytes[a..b] == b"error" => return None,
                    _ => {}
                },
                _ => scan.null()?,
            }
            Some(())
        })?;
        // Without `choices` serde reports no delta at all.
        delta
    }

    /// `[` one choice `]`: no delta for an empty list (the usage chunk), and
    /// several choices are left to serde.
    fn choices(&mut self) -> Option<DeltaText> {
        self.expect(b'[')?;
        let delta = self.choice()?;
        self.expect(b']')?;
        Some(delta)
    }

    /// A choice with `finish_reason` null or absent and a delta object (no
    /// legacy `text`, no `null` delta).
    fn choice(&mut self) -> Option<DeltaText> {
        let mut delta = None;
        let mut finish_seen = false;
        self.object(|scan, key| match key {
            b"delta" if delta.is_none() => {
                delta = Some(scan.delta()?);
                Some(())
            }
            b"finish_reason" if !finish_seen => {
                finish_seen = true;
                scan.null()
            }
            b"delta" | b"finish_reason" | b"text" => None,
            _ => scan.simple_value(),
        })?;
        Some(delta.unwrap_or_default())
    }

    /// The delta object: its text fields as string or null, each once.
    fn delta(&mut self) -> Option<DeltaText> {
        let mut text = DeltaText::default();
        let mut seen = 0u32;
        self.object(|scan, key| {
            let (bit, slot) = match key {
                b"content" => (1, &mut text.content),
                b"reasoning_content" => (2, &mut text.reasoning_content),
                b"reasoning" => (4, &mut text.reasoning),
                _ => return scan.simple_value(),
            };
            if seen & bit != 0 {
                return None;
            }
            seen |= bit;
            *slot = scan.string_or_null()?;
            Some(())
        })?;
        Some(text)
    }

    /// `{ "key": value, … }`, calling `member` with each key (its raw bytes:
    /// keys with escapes are refused, so raw equals decoded) to read the value.
    fn object(&mut self, mut member: impl FnMut(&mut Self, &[u8]) -> Option<()>) -> Option<()> {
        self.expect(b'{')?;
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Some(());
        }
        loop {
            let (a, b) = self.string()?;
            self.expect(b':')?;
            let bytes = self.bytes;
            member(self, &bytes[a..b])?;
            match self.next_token()? {
                b',' => {}
                b'}' => return Some(()),
                _ => return None,
            }
        }
    }

    /// A value serde ignores, when it is simple: string, integer or null.
    fn simple_value(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.string().map(drop),
            b'n' => self.null(),
            _ => self.integer(),
        }
    }

    fn string_or_null(&mut self) -> Option<Option<(usize, usize)>> {
        if self.peek()? == b'n' {
            self.null()?;
            return Some(None);
        }
        self.string().map(Some)
    }

    /// A string without escapes or control characters; its byte range
    /// without the quotes.
    fn string(&mut self) -> Option<(usize, usize)> {
        self.expect(b'"')?;
        let start = self.at;
        let rest = &self.bytes[start..];
        let end = memchr::memchr2(b'"', b'\\', rest)?;
        // Branch-free, so the compiler checks many bytes at once.
        let control = rest[..end].iter().fold(false, |seen, &b| seen | (b < 0x20));
        if rest[end] != b'"' || control {
            return None;
        }
        self.at = start + end + 1;
        Some((start, start + end))
    }

    /// `-?(0|[1-9][0-9]*)`; a fraction or exponent stops the scan at the
    /// next token, which then fails.
    fn integer(&mut self) -> Option<()> {
        self.skip_ws();
        if self.bytes.get(self.at) == Some(&b'-') {
            self.at += 1;
        }
        let digits = self.bytes[self.at..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        let leading_zero = digits > 1 && self.bytes[self.at] == b'0';
        if digits == 0 || leading_zero {
            return None;
        }
        self.at += digits;
        Some(())
    }

    fn null(&mut self) -> Option<()> {
        self.skip_ws();
        if self.bytes[self.at..].starts_with(b"null") {
            self.at += 4;
            return Some(());
        }
        None
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.next_token()? == byte).then_some(())
    }

    /// The next non-whitespace byte, consumed.
    fn next_token(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.at += 1;
        Some(byte)
    }

    /// The next non-whitespace byte, not consumed.
    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.bytes.get(self.at).copied()
    }

    /// JSON whitespace only (what serde_json skips).
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.at) {
            self.at += 1;
        }
    }
}
