//! Attributing tokens to streamed chunks. Output tokens are counted on the
//! whole response text (never chunk by chunk, which splits words and counts
//! too many); this module then says how many of those tokens each chunk
//! completed, so that a chunk carrying three tokens gives three per-token
//! gaps instead of one. A token belongs to the chunk that delivered its last
//! byte: that is when a client could first have shown it.

/// Byte offsets at which each token ends, from token byte lengths. A
/// tokenizer that adds a leading space (SentencePiece's `▁` prefix) yields
/// more bytes than the text holds: the excess is taken off the start, so the
/// first token ends earlier rather than every token ending late.
pub(crate) fn ends_from_lengths(lengths: &[usize], text_len: usize) -> Vec<usize> {
    let total: usize = lengths.iter().sum();
    let excess = total.saturating_sub(text_len);
    let mut at = 0usize;
    lengths
        .iter()
        .map(|len| {
            at += len;
            at.saturating_sub(excess).min(text_len)
        })
        .collect()
}

/// Tokens completed by each chunk. `chunk_chars` are the characters each
/// text-bearing chunk carried (in order; they concatenate to `text`), and
/// `token_ends` the byte offset in `text` at which each token ends. When the
/// chunks hold fewer characters than the text (a mismatch the caller could
/// not avoid), the tokens past the last chunk go to the last chunk.
pub(crate) fn tokens_per_chunk(text: &str, chunk_chars: &[u32], token_ends: &[usize]) -> Vec<u32> {
    if chunk_chars.is_empty() {
        return Vec::new();
    }
    let bounds = chunk_bounds(text, chunk_chars);
    let mut counts = vec![0u32; chunk_chars.len()];
    let last = counts.len() - 1;
    for &end in token_ends {
        let last_byte = end.saturating_sub(1);
        // The first chunk whose end lies beyond the token's last byte.
        let chunk = bounds
            .partition_point(|&bound| bound <= last_byte)
            .min(last);
        counts[chunk] += 1;
    }
    counts
}

/// The byte offset in `text` at which each chunk ends.
fn chunk_bounds(text: &str, chunk_chars: &[u32]) -> Vec<usize> {
    let mut chars = text.char_indices().map(|(i, _)| i).skip(1);
    let mut bounds: Vec<usize> = Vec::with_capacity(chunk_chars.len());
    for &n in chunk_chars {
        // Each character consumed moves the bound to the start of the next
        // one (or the end of the text after the last).
        let mut bound = bounds.last().copied().unwrap_or(0);
        for _ in 0..n {
            bound = chars.next().unwrap_or(text.len());
        }
        bounds.push(bound);
    }
    bounds
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_token_per_chunk_is_one_each() {
        // "Hello", " world", "!" as three chunks and three tokens.
        let text = "Hello world!";
        let ends = [5, 11, 12];
        assert_eq!(tokens_per_chunk(text, &[5, 6, 1], &ends), vec![1, 1, 1]);
    }

    #[test]
    fn a_multi_token_chunk_gets_all_its_tokens() {
        let text = "Hello world!";
        // Chunk 1 carries "Hello world" (two tokens), chunk 2 "!".
        assert_eq!(tokens_per_chunk(text, &[11, 1], &[5, 11, 12]), vec![2, 1]);
    }

    #[test]
    fn a_token_split_over_chunks_belongs_to_the_chunk_with_its_last_byte() {
        // "hel" + "lo": one token "hello" completed by the second chunk.
        assert_eq!(tokens_per_chunk("hello", &[3, 2], &[5]), vec![0, 1]);
    }

    #[test]
    fn multibyte_characters_are_counted_as_characters() {
        // "é" is 2 bytes, "日本" 6 bytes; chunks: "é", "日本".
        let text = "é日本";
        assert_eq!(tokens_per_chunk(text, &[1, 2], &[2, 5, 8]), vec![1, 2]);
        // A token ending inside a character (byte-level BPE) counts where the character ends.
        assert_eq!(tokens_per_chunk(text, &[1, 2], &[1, 2, 8]), vec![2, 1]);
    }

    #[test]
    fn tokens_beyond_the_chunks_go_to_the_last_chunk() {
        assert_eq!(tokens_per_chunk("abcdef", &[2, 2], &[2, 4, 6]), vec![1, 2]);
        assert!(tokens_per_chunk("abc", &[], &[3]).is_empty());
    }

    #[test]
    fn empty_chunks_complete_nothing() {
        assert_eq!(tokens_per_chunk("ab", &[1, 0, 1], &[1, 2]), vec![1, 0, 1]);
    }

    #[test]
    fn a_prefix_space_is_taken_off_the_start() {
        // SentencePiece: "▁Hello" (counted as " Hello", 6 bytes) and "▁world" (6) for "Hello world".
        assert_eq!(ends_from_lengths(&[6, 6], 11), vec![5, 11]);
        assert_eq!(ends_from_lengths(&[5, 6], 11), vec![5, 11]);
        assert_eq!(ends_from_lengths(&[], 0), Vec::<usize>::new());
    }
}
