//! Scale of inputs: how long a mixed cell of many prompts takes from the
//! experiment file to the first request it could send (load, plan, and the
//! per-prompt request bodies the executor builds), and the peak memory.
//! Target: 100,000 mixed prompts ready in under 2 s.
//! `cargo bench --bench scale [-- PROMPTS...]`.

use std::time::Instant;

fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn main() {
    let counts: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let counts = if counts.is_empty() {
        vec![4_000, 16_000, 100_000]
    } else {
        counts
    };
    let dir = tempfile::tempdir().expect("temp dir");
    println!("## Mixed prompts: from the file to the first request\n");
    println!("| prompts | load ms | plan ms | request set-up ms | total ms | peak RSS MB |");
    println!("|---:|---:|---:|---:|---:|---:|");
    for n in counts {
        let dataset = dir.path().join(format!("d{n}.jsonl"));
        let lines: String = (0..n)
            .map(|i| format!("{{\"text\": \"Prompt number {i}: say something short.\"}}\n"))
            .collect();
        std::fs::write(&dataset, lines).expect("dataset");
        let file = dir.path().join(format!("e{n}.toml"));
        let text = format!(
            "name = \"scale\"\nprompt_files = [\"d{n}.jsonl\"]\n[backend]\nkind = \"ollama\"\n\
             url = \"http://127.0.0.1:9\"\n[[models]]\nname = \"m\"\n[run]\nmix_prompts = true\nrepetitions = {n}\n"
        );
        std::fs::write(&file, text).expect("experiment");
        let start = Instant::now();
        let experiment = llmbench::experiment::load(&file, &[]).expect("loads");
        let loaded = start.elapsed();
        let plan = llmbench::plan::plan(&experiment);
        let planned = start.elapsed();
        // What the executor builds before the first request of the cell.
        let cell = &plan.cells[0];
        let sendables: Vec<_> = (0..cell.variants.len()).map(|i| cell.sendable(i)).collect();
        let ready = start.elapsed();
        assert_eq!(sendables.len(), n);
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
        println!(
            "| {n} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} |",
            ms(loaded),
            ms(planned - loaded),
            ms(ready - planned),
            ms(ready),
            peak_rss_kb() as f64 / 1024.0
        );
    }
}
