//! Chart helpers: structure of the SVG, escaping, scales, missing data.

use super::super::charts::{bars, box_plot, cdf};
use super::super::charts_xy::{scatter, timeline, xy};
use super::super::svg::{compact, nice_ticks, Unit};
use super::super::*;
use serde_json::{json, Value};

fn model() -> Value {
    serde_json::to_value(fixture::model()).expect("serialises")
}

fn list<'a>(model: &'a Value, key: &str) -> &'a [Value] {
    model[key].as_array().map_or(&[], Vec::as_slice)
}

fn count(text: &str, needle: &str) -> usize {
    text.matches(needle).count()
}

#[test]
fn box_plot_draws_one_box_per_model_and_escapes_labels() {
    let model = model();
    let svg = box_plot(list(&model, "models"), "ttft_ms", "TTFT <per model>");
    assert!(svg.starts_with("<svg class=\"chart chart-box\""), "{svg}");
    assert_eq!(count(&svg, "class=\"box s"), 2, "{svg}");
    assert!(svg.contains("SmolLM2 &lt;360M&gt;"), "label escaped");
    assert!(svg.contains("TTFT &lt;per model&gt;"), "title escaped");
    assert!(!svg.contains("<360M>"));
    assert!(svg.contains("box p50–p90"), "says what the box spans");
}

#[test]
fn bars_have_error_bars_for_means_and_one_colour_per_model() {
    let model = model();
    let svg = bars(list(&model, "cells"), "decode_tps", "mean", "decode");
    assert_eq!(count(&svg, "class=\"bar s0\""), 2, "two qwen cells");
    assert_eq!(count(&svg, "class=\"bar s1\""), 2, "two smollm cells");
    assert!(count(&svg, "class=\"errorbar\"") >= 4, "{svg}");
    assert!(svg.contains("Qwen3 0.6B × hello"));
    let p50 = bars(list(&model, "cells"), "decode_tps", "p50", "decode");
    assert_eq!(count(&p50, "errorbar"), 0);
}

#[test]
fn cdf_draws_a_curve_through_six_percentiles_per_model() {
    let model = model();
    let svg = cdf(list(&model, "models"), "e2e_ms", "e2e");
    assert_eq!(count(&svg, "<polyline"), 2);
    assert_eq!(count(&svg, "<circle"), 12);
    assert!(svg.contains("y: share of requests at or below"));
}

#[test]
fn charts_without_data_say_so() {
    let model = model();
    let cells = list(&model, "cells");
    assert_eq!(
        box_plot(cells, "nope_ms", "x"),
        "<p class=\"chart-empty chart-box\">No data for nope_ms.</p>"
    );
    assert!(bars(&[], "decode_tps", "mean", "x").contains("chart-empty"));
    assert!(cdf(cells, "nope_ms", "x").contains("chart-empty"));
    assert!(xy(cells, "nope", "throughput_tps", "label", "x").contains("chart-empty"));
}

#[test]
fn xy_timeline_and_scatter_draw_their_points() {
    let rows = vec![
        json!({"label": "a", "concurrency": 4, "throughput_tps": 90.0}),
        json!({"label": "a", "concurrency": 1, "throughput_tps": 30.0}),
        json!({"label": "b", "concurrency": 1, "throughput_tps": 20.0}),
    ];
    let svg = xy(&rows, "concurrency", "throughput_tps", "label", "tp");
    assert_eq!(count(&svg, "<polyline"), 2);
    let points = svg
        .split("points=\"")
        .nth(1)
        .and_then(|p| p.split('"').next())
        .unwrap_or("");
    let xs: Vec<f64> = points
        .split(' ')
        .filter_map(|p| p.split(',').next()?.parse().ok())
        .collect();
    assert!(xs.len() == 2 && xs[0] < xs[1], "sorted by x: {points}");
    let samples: Vec<Value> = (0..5)
        .map(|i| json!({"t_ms": i * 1000, "cpu_total_pct": 10 * i, "gpus": [{"util_pct": 50}]}))
        .collect();
    let marks = vec![
        json!({"start_ms": 0, "label": "cell one"}),
        json!({"start_ms": 2000, "label": "cell two"}),
    ];
    let svg = timeline(
        &samples,
        "t_ms",
        &["cpu_total_pct", "gpus.0.util_pct"],
        &marks,
        "cpu",
    );
    assert_eq!(count(&svg, "<polyline"), 2);
    assert_eq!(count(&svg, "class=\"mark\""), 2);
    assert!(svg.contains("cell two") && svg.contains("100%"), "{svg}");
    let svg = scatter(&rows, "throughput_tps", "concurrency", "s");
    assert_eq!(count(&svg, "<circle"), 3);
}

#[test]
fn ticks_are_round_and_cover_the_range() {
    assert_eq!(
        nice_ticks(0.0, 812.0, 5),
        [0.0, 200.0, 400.0, 600.0, 800.0, 1000.0]
    );
    assert_eq!(
        nice_ticks(0.0, 1.0, 5),
        [0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]
    );
    assert!(
        nice_ticks(5.0, 5.0, 5).len() >= 2,
        "a flat range still gets an axis"
    );
    assert_eq!(compact(1234.0), "1.2k");
    assert_eq!(compact(35_000.0), "35k");
    assert_eq!(compact(0.25), "0.25");
    assert_eq!(Unit::of("metrics.ttft_ms"), Unit::Ms);
    assert_eq!(Unit::of("decode_tps"), Unit::PerSecond);
    assert_eq!(Unit::of("gpus.0.mem_used_bytes"), Unit::Bytes);
    assert_eq!(Unit::of("gpu_power_mean_w"), Unit::Watts);
    assert_eq!(Unit::Watts.format(120.0), "120 W");
}

#[test]
fn the_html_report_is_self_contained_and_has_its_charts() {
    let html = render(&builtin(ReportFormat::Html), &fixture::model()).expect("renders");
    for needle in [
        "chart-box",
        "chart-bars",
        "chart-cdf",
        "prefers-color-scheme: dark",
        "name=\"viewport\"",
    ] {
        assert!(html.contains(needle), "{needle}");
    }
    for external in ["<script", "<link", "http://", "https://", "@import", "url("] {
        let found = html
            .match_indices(external)
            .any(|(i, _)| !html[..i].ends_with("xmlns=\""));
        assert!(!found, "external reference `{external}`");
    }
    assert!(!html.contains("id=\"quality\""), "optional sections vanish");
    assert!(
        html.contains("id=\"resources\""),
        "the fixture's cells have monitor figures"
    );
    assert!(!html.contains("id=\"concurrency\"") && !html.contains("Cold starts"));
}

#[test]
fn optional_sections_appear_when_their_fields_exist() {
    let mut model = model();
    model["monitor"] = json!({
        "timeline": [
            {"t_ms": 0, "cpu_total_pct": 20, "mem_used_bytes": 1e9, "gpu_util_pct": 10, "gpu_mem_used_bytes": 4e9},
            {"t_ms": 1000, "cpu_total_pct": 60, "mem_used_bytes": 2e9, "gpu_util_pct": 90},
        ],
        "windows": [{"start_ms": 0, "label": "Qwen3 × hello"}],
    });
    if let Some(cells) = model["cells"].as_array_mut() {
        for (i, cell) in cells.iter_mut().enumerate() {
            cell["quality"] = json!({"n": 6, "passed": 6 - i, "rate": (6 - i) as f64 / 6.0});
            cell["concurrency"] = json!(1 + i % 2);
            cell["monitor"] =
                json!({"samples": 4, "cpu_mean_pct": 40.0, "mem_used_peak_bytes": 2e9});
        }
    }
    model["models"][0]["cold_start"] = json!({
        "counts": {"measured": 1, "ok": 1, "failed": 0, "warmup": 0, "error_rate": 0.0},
        "errors": [],
        "metrics": {"load_ms": model["cells"][0]["metrics"]["ttft_ms"].clone()},
    });
    let html = render(&builtin(ReportFormat::Html), &model).expect("renders");
    for needle in [
        "id=\"resources\"",
        "chart-timeline",
        "id=\"quality\"",
        "chart-scatter",
        "id=\"concurrency\"",
        "chart-xy",
    ] {
        assert!(html.contains(needle), "{needle}");
    }
    let timelines = html.matches("chart chart-timeline").count();
    assert_eq!(timelines, 4, "CPU, memory and two GPU timelines");
    assert!(html.contains("<h3>Cold starts</h3>"));
}

#[test]
fn per_cell_resources_show_without_a_timeline() {
    let mut model = model();
    model["cells"][0]["monitor"] =
        json!({"samples": 3, "cpu_mean_pct": 35.5, "gpu_power_mean_w": 120.0});
    let html = render(&builtin(ReportFormat::Html), &model).expect("renders");
    assert!(html.contains("id=\"resources\""));
    assert!(
        !html.contains("chart-timeline"),
        "no timeline without monitor.timeline"
    );
    assert!(html.contains(">36%<") && html.contains(">120 W<"), "units");
    assert!(
        !html.contains("–%") && !html.contains("– W"),
        "a missing figure is a bare dash"
    );
}
