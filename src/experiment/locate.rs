//! Finding things in a spanned TOML document: the key path of an error
//! (`models[1].backend`), the span of a key path (`locate`), the key path at a
//! span (`path_at`, for serde's errors, which carry only a span), and the
//! 1-based line and column of a byte offset. Every error message that points
//! into a file goes through here, so all of them agree on where things are.

use std::fmt;
use std::ops::Range;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

/// One step of a key path: a table key or an array index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

/// A path to a value in a document, displayed as `models[1].backend`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct KeyPath(pub Vec<Seg>);

impl KeyPath {
    /// The path of a top-level key.
    pub(crate) fn top(key: &str) -> Self {
        KeyPath(vec![Seg::Key(key.to_owned())])
    }

    /// This path with `key` appended.
    pub(crate) fn key(&self, key: &str) -> Self {
        let mut segs = self.0.clone();
        segs.push(Seg::Key(key.to_owned()));
        KeyPath(segs)
    }

    /// This path with an array index appended.
    pub(crate) fn index(&self, index: usize) -> Self {
        let mut segs = self.0.clone();
        segs.push(Seg::Index(index));
        KeyPath(segs)
    }

    pub(crate) fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// The last step when it is a key (`backend` for `models[1].backend`;
    /// none for `models[1]`).
    pub(crate) fn last_key(&self) -> Option<&str> {
        match self.0.last() {
            Some(Seg::Key(key)) => Some(key),
            _ => None,
        }
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Index(index) => write!(f, "[{index}]")?,
                Seg::Key(key) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    if is_bare_key(key) {
                        f.write_str(key)?;
                    } else {
                        write!(f, "{key:?}")?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Whether TOML would accept `key` without quotes.
pub(crate) fn is_bare_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// The span of the value or key that `path` names, or of the nearest
/// ancestor that exists (a key that was left out has no place of its own).
/// A table entry is located at its key; an array element at the element
/// (for `[[models]]`, its header).
pub(crate) fn locate(root: &Spanned<DeTable<'_>>, path: &KeyPath) -> Range<usize> {
    let mut best = root.span();
    let mut value: Option<&DeValue<'_>> = None;
    let mut table: Option<&DeTable<'_>> = Some(root.get_ref());
    for seg in &path.0 {
        let next = match (seg, table, value) {
            (Seg::Key(key), Some(table), _) => table.get_key_value(key.as_str()).map(|(k, v)| {
                best = k.span();
                v
            }),
            (Seg::Index(index), None, Some(DeValue::Array(array))) => {
                array.get(*index).inspect(|element| best = element.span())
            }
            _ => None,
        };
        let Some(next) = next else { break };
        value = Some(next.get_ref());
        table = next.get_ref().as_table();
    }
    best
}

/// The key path of the deepest key or value whose span holds `span`.
/// An empty span at the very start means the whole document (serde reports
/// a missing top-level key that way).
pub(crate) fn path_at(root: &Spanned<DeTable<'_>>, span: &Range<usize>) -> KeyPath {
    let mut best = KeyPath::default();
    if span.is_empty() && span.start == 0 {
        return best;
    }
    let mut current = KeyPath::default();
    search_table(root.get_ref(), span, &mut current, &mut best);
    best
}

fn holds(outer: &Range<usize>, inner: &Range<usize>) -> bool {
    outer.start <= inner.start && inner.end <= outer.end && outer.start < outer.end
}

fn consider(current: &KeyPath, best: &mut KeyPath) {
    if current.0.len() > best.0.len() {
        *best = current.clone();
    }
}

fn search_table(
    table: &DeTable<'_>,
    span: &Range<usize>,
    current: &mut KeyPath,
    best: &mut KeyPath,
) {
    for (key, value) in table.iter() {
        current.0.push(Seg::Key(key.get_ref().to_string()));
        if holds(&key.span(), span) {
            consider(current, best);
        }
        search_value(value, span, current, best);
        current.0.pop();
    }
}

fn search_value(
    value: &Spanned<DeValue<'_>>,
    span: &Range<usize>,
    current: &mut KeyPath,
    best: &mut KeyPath,
) {
    if holds(&value.span(), span) {
        consider(current, best);
    }
    match value.get_ref() {
        DeValue::Table(table) => search_table(table, span, current, best),
        DeValue::Array(array) => {
            for (index, element) in array.iter().enumerate() {
                current.0.push(Seg::Index(index));
                search_value(element, span, current, best);
                current.0.pop();
            }
        }
        _ => {}
    }
}

/// 1-based line and column (in characters) of byte `offset` in `text`,
/// counted the way the toml crate counts them in its own messages.
/// Scans `text` up to `offset`: for one message. A document that places many
/// things (every prompt id) uses a [`LineIndex`] instead.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    LineIndex::new(text).line_column(text, offset)
}

/// Byte offsets where each line of a text starts, built once, so that
/// placing an offset costs a binary search and a scan of its own line
/// instead of a scan from the start of the file (which made loading an
/// experiment quadratic in its number of prompts).
#[derive(Debug, Clone)]
pub(crate) struct LineIndex {
    /// `starts[0] == 0`; `starts[k]` is the byte after the k-th `\n`.
    starts: Vec<usize>,
}

impl LineIndex {
    pub(crate) fn new(text: &str) -> LineIndex {
        let newlines = text.bytes().enumerate().filter(|&(_, b)| b == b'\n');
        let starts = std::iter::once(0).chain(newlines.map(|(i, _)| i + 1));
        LineIndex {
            starts: starts.collect(),
        }
    }

    /// [`line_column`] of `offset` in `text`, the text this index was built on.
    pub(crate) fn line_column(&self, text: &str, offset: usize) -> (usize, usize) {
        let offset = floor_char_boundary(text, offset.min(text.len()));
        // The last line start at or before `offset`; starts[0] == 0 ≤ offset.
        let line = self.starts.partition_point(|&start| start <= offset);
        let line_start = self.starts[line.saturating_sub(1)];
        let column = text[line_start..offset].chars().count() + 1;
        (line, column)
    }
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while offset > 0 && !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "name = 'x'\n[run]\nrepetitions = 3\n\n[[models]]\nname = 'a'\n[[models]]\nname = 'b'\nstop = ['x', 'y']\n";

    fn path(text: &str) -> String {
        let root = DeTable::parse(DOC).unwrap();
        let start = DOC.find(text).unwrap();
        path_at(&root, &(start..start + text.len())).to_string()
    }

    #[test]
    fn path_at_finds_keys_values_and_elements() {
        assert_eq!(path("repetitions"), "run.repetitions");
        assert_eq!(path("3"), "run.repetitions");
        assert_eq!(path("'b'"), "models[1].name");
        assert_eq!(path("'y'"), "models[1].stop[1]");
        assert_eq!(path("[run]"), "run");
        let root = DeTable::parse(DOC).unwrap();
        assert!(path_at(&root, &(0..0)).is_root());
    }

    #[test]
    fn locate_points_at_keys_or_the_nearest_ancestor() {
        let root = DeTable::parse(DOC).unwrap();
        let at = |p: &KeyPath| line_column(DOC, locate(&root, p).start);
        assert_eq!(at(&KeyPath::top("run").key("repetitions")), (3, 1));
        assert_eq!(at(&KeyPath::top("models").index(1).key("stop")), (9, 1));
        assert_eq!(at(&KeyPath::top("models").index(1)), (7, 1));
        assert_eq!(at(&KeyPath::top("models").index(1).key("label")), (7, 1));
        assert_eq!(at(&KeyPath::top("run").key("warmup")), (2, 2));
    }

    #[test]
    fn key_paths_display_like_toml() {
        let p = KeyPath::top("backends").key("my.server").key("url");
        assert_eq!(p.to_string(), "backends.\"my.server\".url");
        assert_eq!(
            KeyPath::top("prompts").index(0).key("text").to_string(),
            "prompts[0].text"
        );
    }

    #[test]
    fn lines_and_columns_are_one_based_characters() {
        assert_eq!(line_column("abc", 0), (1, 1));
        assert_eq!(line_column("a\nbé c", 6), (2, 4));
        assert_eq!(line_column("a\n", 2), (2, 1));
        assert_eq!(line_column("a\nb", 99), (2, 2), "clamped to the end");
        assert_eq!(line_column("\n\n", 1), (2, 1));
        assert_eq!(line_column("é", 1), (1, 1), "inside a character: its start");
    }

    #[test]
    fn the_index_agrees_with_a_scan_from_the_start() {
        fn scan(text: &str, offset: usize) -> (usize, usize) {
            let offset = floor_char_boundary(text, offset.min(text.len()));
            let before = &text[..offset];
            let line_start = before.rfind('\n').map_or(0, |nl| nl + 1);
            (
                before.matches('\n').count() + 1,
                before[line_start..].chars().count() + 1,
            )
        }
        let text = "ab\n\né c\n  [[x]]\nlast";
        let index = LineIndex::new(text);
        for offset in 0..=text.len() + 2 {
            assert_eq!(
                index.line_column(text, offset),
                scan(text, offset),
                "{offset}"
            );
        }
    }
}
