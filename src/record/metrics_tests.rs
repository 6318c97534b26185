use super::*;
use crate::backend::ServerStats;
use crate::record::{Outcome, Record, Timing, TokenCounts};

fn record(timing: Timing, server: ServerStats) -> Record {
    Record {
        cell: "c".into(),
        model: "m".into(),
        prompt: "p".into(),
        repetition: 0,
        warmup: false,
        cold: false,
        started_at: "2026-01-01T00:00:00Z".into(),
        run_offset_ms: 0.0,
        outcome: Outcome::Ok,
        http_status: Some(200),
        retries: 0,
        timing,
        finish_reason: Some("stop".into()),
        tokens: TokenCounts::from_server(&server),
        server,
        output_chars: 10,
        reasoning_chars: 0,
        prompt_nonce: None,
        retry: None,
    }
}

#[test]
fn per_token_figures_follow_the_definitions() {
    let timing = Timing {
        ttfb_ms: Some(5.0),
        ttft_ms: Some(100.0),
        ttft_content_ms: Some(100.0),
        e2e_ms: Some(1100.0),
        chunk_offsets_ms: vec![100.0, 300.0, 600.0, 1100.0],
        chunk_chars: vec![1, 1, 1, 1],
        events: 5,
        dispatch_lag_ms: None,
    };
    let server = ServerStats {
        completion_tokens: Some(11),
        prompt_tokens: Some(50),
        eval_duration_ns: Some(500_000_000),
        prompt_eval_duration_ns: Some(25_000_000),
        load_duration_ns: Some(2_000_000),
        ..Default::default()
    };
    let m = request_metrics(&record(timing, server));
    assert_eq!(m.tpot_ms, Some(100.0), "(1100-100)/(11-1)");
    assert_eq!(m.decode_tps, Some(10.0), "10 intervals in 1 s");
    assert_eq!(m.server_decode_tps, Some(22.0), "11 tokens in 0.5 s");
    assert_eq!(m.prompt_tps, Some(2000.0), "50 tokens in 25 ms");
    assert_eq!(m.load_ms, Some(2.0));
    assert_eq!(m.chunk_gaps_ms, vec![200.0, 300.0, 500.0]);
}

#[test]
fn missing_counts_give_no_per_token_figures() {
    let timing = Timing {
        ttft_ms: Some(10.0),
        e2e_ms: Some(20.0),
        ..Default::default()
    };
    let m = request_metrics(&record(timing.clone(), ServerStats::default()));
    assert_eq!(
        (m.tpot_ms, m.decode_tps, m.server_decode_tps),
        (None, None, None)
    );

    let one = ServerStats {
        completion_tokens: Some(1),
        ..Default::default()
    };
    assert_eq!(
        request_metrics(&record(timing, one)).tpot_ms,
        None,
        "one token has no gap"
    );
}

#[test]
fn prompt_tps_counts_the_tokens_the_server_evaluated() {
    // Without prompt_n, the cached count is taken off the prompt's.
    let server = ServerStats {
        prompt_tokens: Some(500),
        cached_prompt_tokens: Some(480),
        prompt_eval_duration_ns: Some(1_000_000),
        ..Default::default()
    };
    let m = request_metrics(&record(Timing::default(), server.clone()));
    assert_eq!(m.prompt_tps, Some(20_000.0), "20 evaluated tokens in 1 ms");
    assert!(!m.prompt_tps_cache_unknown);
    // llama.cpp: timings.prompt_n, the tokens evaluated.
    let llama = ServerStats {
        prompt_eval_tokens: Some(1),
        ..server
    };
    assert_eq!(
        request_metrics(&record(Timing::default(), llama)).prompt_tps,
        Some(1_000.0),
        "1 evaluated token in 1 ms, however many were cached"
    );
}

#[test]
fn ollama_prompt_tps_is_flagged_unless_a_nonce_kept_the_cache_out() {
    // The replay: a 400-token prompt, 380 of them cached, the
    // prefill timing only the 20 evaluated: 8,000 tok/s on the whole count.
    let server = ServerStats {
        prompt_tokens: Some(400),
        prompt_eval_duration_ns: Some(50_000_000),
        ..Default::default()
    };
    let mut cached = record(Timing::default(), server);
    let m = request_metrics(&cached);
    assert_eq!(m.prompt_tps, Some(8_000.0));
    assert!(m.prompt_tps_cache_unknown, "may be a cache artefact");
    cached.prompt_nonce = Some("5e1f0c2a9b7d3e44".into());
    assert!(!request_metrics(&cached).prompt_tps_cache_unknown);
}

#[test]
fn token_gaps_spread_a_chunk_over_the_tokens_it_completed() {
    // Chunks at 100, 300, 600, 1100 ms completing 1, 2, 0 and 3 tokens.
    let gaps = token_gaps(&[100.0, 300.0, 600.0, 1100.0], &[1, 2, 0, 3]);
    // 200 ms over 2 tokens; the empty chunk passes its time on: 800 ms over 3.
    let expected = [100.0, 100.0, 800.0 / 3.0, 800.0 / 3.0, 800.0 / 3.0];
    assert_eq!(gaps.len(), expected.len());
    for (got, want) in gaps.iter().zip(expected) {
        assert!((got - want).abs() < 1e-9, "{gaps:?}");
    }
    // One token per chunk: the same as the chunk gaps.
    assert_eq!(
        token_gaps(&[1.0, 3.0, 6.0], &[1, 1, 1]),
        chunk_gaps(&[1.0, 3.0, 6.0])
    );
    // A first chunk of two tokens gives no gap for its second token.
    assert_eq!(token_gaps(&[10.0, 20.0], &[2, 1]), vec![10.0]);
    // Lists that do not line up (no attribution) give nothing.
    assert!(token_gaps(&[1.0, 2.0], &[]).is_empty());
}

#[test]
fn attributed_records_carry_token_gaps() {
    let timing = Timing {
        ttft_ms: Some(10.0),
        e2e_ms: Some(30.0),
        chunk_offsets_ms: vec![10.0, 30.0],
        chunk_chars: vec![3, 6],
        ..Default::default()
    };
    let mut r = record(timing, ServerStats::default());
    r.tokens.per_chunk = vec![1, 4];
    assert_eq!(request_metrics(&r).token_gaps_ms, vec![5.0; 4]);
}
