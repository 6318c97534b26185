//! A deterministic corpus of varied strings for checking tokenizers against a
//! reference (tests/tokenize_llama.rs) and for measuring them
//! (benches/tokenize.rs): English prose, other scripts, code, emoji,
//! whitespace runs, long numbers, punctuation, chat special tokens, random
//! mixes and edge cases. Same seed, same strings, on every machine.

/// A small xorshift generator; enough for reproducible variety.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    /// A random character from `lo..=hi`, or `?` if that is not a scalar value.
    fn char_in(&mut self, lo: u32, hi: u32) -> char {
        let span = (hi - lo + 1) as usize;
        char::from_u32(lo + self.below(span) as u32).unwrap_or('?')
    }
}

#[rustfmt::skip]
const SUBJECTS: &[&str] = &[
    "The model", "A user", "Our benchmark", "The server", "Every request", "She", "They",
    "The tokenizer", "I", "We", "This GPU", "The old cache",
];
#[rustfmt::skip]
const VERBS: &[&str] = &[
    "measures", "streams", "doesn't count", "returns", "can't parse", "reports", "splits",
    "won't load", "re-tokenizes", "ignores", "they'll merge", "it's timing",
];
#[rustfmt::skip]
const OBJECTS: &[&str] = &[
    "the whole response", "each chunk separately", "tokens per second", "a JSON object",
    "the first token", "latency percentiles", "the chat template", "UTF-8 bytes",
    "an empty string", "twelve thousand requests", "the model's vocabulary",
];
#[rustfmt::skip]
const TAILS: &[&str] = &[
    ".", "!", "?", "...", " — again.", ";", ", quickly.", "", ":\n",
];

#[rustfmt::skip]
const PHRASES: &[&str] = &[
    "你好，世界！今天的天气很好。", "日本語のテキストをトークン化します。", "カタカナとひらがな", "안녕하세요, 세계! 한국어 문장입니다.",
    "Привет, мир! Как дела?", "Съешь же ещё этих мягких французских булок.",
    "مرحبا بالعالم، هذه جملة عربية.", "नमस्ते दुनिया, यह हिंदी वाक्य है।",
    "Γειά σου Κόσμε, ελληνικά.", "שלום עולם, זה משפט בעברית.", "สวัสดีชาวโลก ภาษาไทย",
    "Tiếng Việt có dấu: Đây là câu.", "Größe, Übermaß, Äpfel und Öl — straße.",
    "Ça coûte 10 € à l'hôtel, n'est-ce pas?", "ქართული ენა", "Հայերեն լեզու", "বাংলা ভাষা",
    "தமிழ் மொழி", "ᚠᚢᚦᚨᚱᚲ", "ⲀⲂⲄ Coptic",
];

#[rustfmt::skip]
const CODE: &[&str] = &[
    "fn main() {\n    println!(\"Hello, world!\");\n}\n",
    "def add(a: int, b: int) -> int:\n\treturn a + b  # sum\n",
    "const xs = [1, 2, 3].map((x) => x ** 2);\nconsole.log(`${xs}`);",
    "#include <stdio.h>\nint main(void) { printf(\"%d\\n\", 42); return 0; }",
    "SELECT id, name FROM users WHERE age >= 18 ORDER BY name DESC LIMIT 10;",
    "<div class=\"row\"><a href=\"/x?y=1&z=2\">link</a></div>",
    "{\"model\": \"qwen3:0.6b\", \"options\": {\"num_ctx\": 4096, \"seed\": 1}}",
    "key: value\nlist:\n  - one\n  - two\n",
    "for f in *.log; do grep -c 'ERROR' \"$f\"; done | sort -n",
    "^(?:[a-z0-9!#$%&'*+/=?^_`{|}~-]+)@[a-z]+\\.[a-z]{2,}$",
    "impl<T: Clone + Send> Iterator for Foo<'_, T> where T: 'static {}",
    "x = {'a': [1, 2.5e-3, None], \"b\": (True, False)}\n",
    "    if (ptr != NULL && *ptr == '\\0') { return -1; }\n",
    "let s = r#\"raw \"string\" here\"#; // comment",
];

#[rustfmt::skip]
const EMOJI: &[&str] = &[
    "😀", "👍🏽", "👩‍👩‍👧‍👦", "🏳️‍🌈", "🇫🇷🇯🇵", "1️⃣", "❤️", "🤖💬", "🧑🏿‍🚀", "☕️", "🫠",
];

#[rustfmt::skip]
const SPECIALS: &[&str] = &[
    "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<repo_name>", "<file_sep>", "<filename>",
    "<gh_stars>", "<issue_start>", "<jupyter_code>", "<empty_output>",
];

#[rustfmt::skip]
const SPACES: &[&str] = &[
    " ", "  ", "\t", "\n", "\r\n", "\n\n", " \t ", "\u{a0}", "\u{3000}", "\u{2003}", "\u{b}",
    "\u{c}", "\u{1c}", "\u{85}", "\u{2028}", "\u{202f}",
];

/// Ranges of assigned characters for random text.
#[rustfmt::skip]
const RANGES: &[(u32, u32)] = &[
    (0x20, 0x7e), (0xa1, 0xff), (0x100, 0x17f), (0x250, 0x2af), (0x300, 0x36f), (0x391, 0x3c9),
    (0x410, 0x44f), (0x5d0, 0x5ea), (0x627, 0x64a), (0x905, 0x939), (0xe01, 0xe30),
    (0x2010, 0x2027), (0x20a0, 0x20bf), (0x2190, 0x21ff), (0x2200, 0x22ff), (0x2500, 0x257f),
    (0x3041, 0x3096), (0x30a1, 0x30fa), (0x4e00, 0x9fff), (0xac00, 0xd7a3), (0xff01, 0xff5e),
    (0x1f300, 0x1f64f), (0x1d400, 0x1d454), (0x20000, 0x2a6df),
];

fn english(rng: &mut Rng) -> String {
    let mut s = String::new();
    for i in 0..1 + rng.below(4) {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(&format!(
            "{} {} {}{}",
            rng.pick(SUBJECTS),
            rng.pick(VERBS),
            rng.pick(OBJECTS),
            rng.pick(TAILS)
        ));
    }
    match rng.below(6) {
        0 => s.to_uppercase(),
        1 => s.to_lowercase(),
        _ => s,
    }
}

fn random_text(rng: &mut Rng, len: usize) -> String {
    let (lo, hi) = RANGES[rng.below(RANGES.len())];
    (0..len).map(|_| rng.char_in(lo, hi)).collect()
}

fn digits(rng: &mut Rng) -> String {
    match rng.below(5) {
        0 => (0..1 + rng.below(300))
            .map(|_| rng.char_in(0x30, 0x39))
            .collect(),
        1 => format!(
            "{},{:03},{:03}.{:02}",
            rng.below(999),
            rng.below(999),
            rng.below(999),
            rng.below(99)
        ),
        2 => format!(
            "call +1 ({}) {}-{:04} on 2024-{:02}-{:02}",
            200 + rng.below(799),
            100 + rng.below(899),
            rng.below(9999),
            1 + rng.below(12),
            1 + rng.below(28)
        ),
        3 => format!(
            "0x{:X} = {} = {:e}",
            rng.next() >> 20,
            rng.next() >> 40,
            (rng.below(100000) as f64) / 7.0
        ),
        _ => rng
            .pick(&[
                "٠١٢٣٤٥",
                "１２３４５",
                "x² + y³ = z⁴",
                "Ⅻ o'clock",
                "①②③",
                "१२३४",
                "½ + ¾",
            ])
            .into(),
    }
}

fn punctuation(rng: &mut Rng) -> String {
    let pool = [
        "!", "?", ".", ",", "...", "--", "==", "«", "»", "—", "…", "¿", "¡", "“", "”", "’", "(",
        ")", "[]", "{}", "#", "@", "&&", "||", "~", "^", "$", "%", "*", "/\\",
    ];
    (0..1 + rng.below(12))
        .map(|_| rng.pick(&pool))
        .collect::<Vec<_>>()
        .join(if rng.below(2) == 0 { "" } else { " " })
}

fn whitespace(rng: &mut Rng) -> String {
    let mut s = String::new();
    for _ in 0..1 + rng.below(6) {
        let ws = rng.pick(SPACES).repeat(1 + rng.below(8));
        s.push_str(&ws);
        if rng.below(2) == 0 {
            s.push_str(rng.pick(&["word", "x", "Hello", "1", "ÿ", "é", "-"]));
        }
    }
    s
}

fn special(rng: &mut Rng) -> String {
    match rng.below(5) {
        0 => format!(
            "<|im_start|>user\n{}<|im_end|>\n<|im_start|>assistant\n",
            english(rng)
        ),
        1 => format!(
            "{}{}{}",
            rng.pick(SPECIALS),
            rng.pick(SPECIALS),
            rng.pick(SPECIALS)
        ),
        2 => format!(" {} {} ", rng.pick(SPECIALS), english(rng)),
        3 => format!(
            "a{}b<|im_start{}",
            rng.pick(SPECIALS),
            rng.pick(&["", "|", "|>", " |>"])
        ),
        _ => format!("<{}>{}</s>", rng.pick(SPECIALS), rng.pick(EMOJI)),
    }
}

#[rustfmt::skip]
const EDGE: &[&str] = &[
    "", " ", "\n", "a", "'s", "'S", "I'M", "don't", "'ll've", "’s", "   leading", "trailing   ",
    "\u{feff}bom", "zero\u{200b}width", "e\u{301}", "ﬁ ligature", "\u{2126} ohm \u{3a9}",
    "\u{212a} kelvin",
];

/// The corpus: `(category, text)` pairs, about 650 of them.
pub fn sample_corpus() -> Vec<(&'static str, String)> {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut out: Vec<(&'static str, String)> = Vec::new();
    out.extend(EDGE.iter().map(|s| ("edge", s.to_string())));
    out.extend(PHRASES.iter().map(|s| ("scripts", s.to_string())));
    out.extend(CODE.iter().map(|s| ("code", s.to_string())));
    out.extend(EMOJI.iter().map(|s| ("emoji", s.to_string())));
    out.extend([
        ("whitespace", " ".repeat(2000)),
        ("whitespace", "\n".repeat(500)),
        ("whitespace", "\t \n".repeat(300)),
        ("digits", "9".repeat(5000)),
    ]);
    for _ in 0..120 {
        out.push(("english", english(&mut rng)));
    }
    for _ in 0..70 {
        let len = 1 + rng.below(40);
        out.push(("scripts", random_text(&mut rng, len)));
    }
    for _ in 0..40 {
        let code = rng.pick(CODE);
        let indent = rng.pick(&["", "    ", "\t", "        ", "\t\t"]);
        out.push((
            "code",
            code.lines()
                .map(|l| format!("{indent}{l}"))
                .collect::<Vec<_>>()
                .join("\n"),
        ));
    }
    for _ in 0..40 {
        out.push((
            "emoji",
            format!(
                "{} {}{}",
                english(&mut rng),
                rng.pick(EMOJI),
                rng.pick(EMOJI)
            ),
        ));
    }
    for _ in 0..60 {
        out.push(("whitespace", whitespace(&mut rng)));
    }
    for _ in 0..60 {
        out.push(("digits", digits(&mut rng)));
    }
    for _ in 0..40 {
        out.push(("punctuation", punctuation(&mut rng)));
    }
    for _ in 0..40 {
        out.push(("special", special(&mut rng)));
    }
    for _ in 0..80 {
        let mut s = String::new();
        for _ in 0..2 + rng.below(4) {
            let part = match rng.below(7) {
                0 => english(&mut rng),
                1 => {
                    let len = 1 + rng.below(12);
                    random_text(&mut rng, len)
                }
                2 => rng.pick(CODE).to_string(),
                3 => digits(&mut rng),
                4 => punctuation(&mut rng),
                5 => whitespace(&mut rng),
                _ => special(&mut rng),
            };
            s.push_str(&part);
        }
        out.push(("mixed", s));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corpus_is_deterministic_and_varied() {
        let a = sample_corpus();
        assert_eq!(a, sample_corpus());
        assert!(a.len() >= 500, "{}", a.len());
        for cat in [
            "english",
            "scripts",
            "code",
            "emoji",
            "whitespace",
            "digits",
            "punctuation",
            "special",
            "mixed",
            "edge",
        ] {
            assert!(a.iter().filter(|(c, _)| *c == cat).count() >= 10, "{cat}");
        }
    }
}
