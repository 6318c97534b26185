//! Chart helpers: structure of the SVG, escaping, scales, missing data.

use super::super::charts::{bars, box_plot, cdf};
use super::super::charts_xy::{scatter, timeline, xy, XyOptions};
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
    assert!(xy(
        cells,
        ("nope", "throughput_tps"),
        "label",
        "x",
        XyOptions::default()
    )
    .contains("chart-empty"));
}

#[test]
fn xy_timeline_and_scatter_draw_their_points() {
    let rows = vec![
        json!({"label": "a", "concurrency": 4, "throughput_tps": 90.0}),
        json!({"label": "a", "concurrency": 1, "throughput_tps": 30.0}),
        json!({"label": "b", "concurrency": 1, "throughput_tps": 20.0}),
    ];
    let svg = xy(
        &rows,
        ("concurrency", "throughput_tps"),
        "label",
        "tp",
        XyOptions::default(),
    );
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
    assert!(
        svg.contains("<title>2 cell two</title>") && svg.contains("100%"),
        "{svg}"
    );
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
    assert!(!html.contains("id=\"load-sweep\"") && !html.contains("Cold starts"));
    assert!(html.contains("Summary by model") && !html.contains("Summary by setting"));
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
            cell["load"]["concurrency"] = json!(1 + i % 2);
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
        "id=\"load-sweep\"",
        "chart-xy",
        "Summary by setting",
        "Time to first token per cell",
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

/// The text of every `<text class="tick"…>` in `svg`.
fn ticks(svg: &str) -> Vec<String> {
    svg.split("class=\"tick\"")
        .skip(1)
        .filter_map(|t| t.split('>').nth(1)?.split('<').next())
        .map(str::to_string)
        .collect()
}

#[test]
fn bars_and_curves_name_the_full_setting_of_each_cell() {
    let cell = |concurrency: u32, parallel: &str, tps: f64| {
        json!({"model": "smollm2", "label": "SmolLM2", "prompt": "add",
               "load": {"concurrency": concurrency}, "matrix": {"server.parallel": parallel},
               "metrics": {"decode_tps": {"mean": tps, "p50": tps, "min": tps, "p90": tps,
                                          "p95": tps, "p99": tps, "max": tps}}})
    };
    let cells = vec![cell(1, "1", 50.0), cell(4, "1", 40.0), cell(1, "4", 52.0)];
    let svg = bars(&cells, "decode_tps", "mean", "decode");
    for name in [
        "SmolLM2 × add · c1 server.parallel=1",
        "SmolLM2 × add · c4 server.parallel=1",
        "SmolLM2 × add · c1 server.parallel=4",
    ] {
        assert!(svg.contains(name), "{name} in {svg}");
    }
    assert!(super::super::charts::settings_vary(&cells));
    assert!(!super::super::charts::settings_vary(&cells[..1]));
}

#[test]
fn a_load_sweep_draws_one_line_per_setting_with_the_slo() {
    let cell = |concurrency: u32, parallel: &str, tps: f64, ttft: f64| {
        json!({"label": "SmolLM2", "prompt": "mixed", "throughput_tps": tps,
               "load": {"concurrency": concurrency}, "matrix": {"server.parallel": parallel},
               "metrics": {"ttft_ms": {"p50": ttft}}})
    };
    let cells = vec![
        cell(1, "1", 40.0, 90.0),
        cell(4, "1", 45.0, 900.0),
        cell(1, "4", 42.0, 95.0),
        cell(4, "4", 120.0, 150.0),
    ];
    let by_load = xy(
        &cells,
        ("load.concurrency|load.rate", "throughput_tps"),
        "setting",
        "tp",
        XyOptions::default(),
    );
    assert_eq!(count(&by_load, "<polyline"), 2, "{by_load}");
    assert!(by_load.contains("SmolLM2 × mixed · server.parallel=4"));
    assert!(by_load.contains("x: load.concurrency · y: throughput_tps"));
    let latency = xy(
        &cells,
        ("throughput_tps", "metrics.ttft_ms.p50"),
        "setting",
        "ttft",
        XyOptions {
            order: Some("load.concurrency"),
            slo: Some(500.0),
        },
    );
    assert!(
        latency.contains("class=\"slo\"") && latency.contains("SLO 500 ms"),
        "{latency}"
    );
    assert!(
        latency.contains("→ metrics.ttft_ms.p50 900 ms"),
        "times keep their unit"
    );
}

#[test]
fn cdfs_are_step_curves() {
    let model = model();
    let svg = cdf(list(&model, "cells"), "e2e_ms", "e2e");
    let points = svg
        .split("points=\"")
        .nth(1)
        .and_then(|p| p.split('"').next())
        .unwrap_or("");
    let pixels: Vec<(f64, f64)> = points
        .split(' ')
        .filter_map(|p| {
            let (x, y) = p.split_once(',')?;
            Some((x.parse().ok()?, y.parse().ok()?))
        })
        .collect();
    assert_eq!(
        pixels.len(),
        11,
        "six levels: a run and a rise between each: {points}"
    );
    for pair in pixels.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        assert!(
            a.0 == b.0 || a.1 == b.1,
            "only horizontal and vertical moves: {points}"
        );
    }
}

#[test]
fn axis_labels_are_distinct_and_fit() {
    let gib = 1024.0 * 1024.0 * 1024.0;
    let labels = Unit::Bytes.tick_labels(&[1.0 * gib, 1.02 * gib, 1.04 * gib, 1.06 * gib]);
    assert_eq!(labels, ["1.00 GiB", "1.02 GiB", "1.04 GiB", "1.06 GiB"]);
    let samples: Vec<Value> = (0..5)
        .map(|i| json!({"t_ms": i * 1000, "mem_used_bytes": 900_000_000 + i * 10_000_000}))
        .collect();
    let svg = timeline(&samples, "t_ms", &["mem_used_bytes"], &[], "mem");
    let labels = ticks(&svg);
    assert!(
        labels.iter().any(|l| l.starts_with("858.3 MiB")),
        "{labels:?}"
    );
    // The widest label fits left of the axis (about 7 px a character).
    let axis_x = super::super::svg::y_axis_room(&labels);
    let widest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    assert!(axis_x >= widest as f64 * 7.0, "{axis_x} for {labels:?}");
    assert!(
        svg.contains(&format!("x1=\"{axis_x:.1}\"")),
        "plot starts after the labels"
    );
}

#[test]
fn a_pass_rate_axis_runs_from_0_to_100_percent_and_dots_are_numbered() {
    let cells = vec![
        json!({"label": "A", "prompt": "p", "quality": {"rate": 1.0}, "metrics": {"decode_tps": {"mean": 40.0}}}),
        json!({"label": "B", "prompt": "p", "quality": {"rate": 1.0}, "metrics": {"decode_tps": {"mean": 41.0}}}),
    ];
    let svg = scatter(&cells, "metrics.decode_tps.mean", "quality.rate", "q");
    let labels = ticks(&svg);
    assert!(
        labels.contains(&"100%".to_string()) && labels.contains(&"0%".to_string()),
        "{labels:?}"
    );
    assert!(
        !labels.iter().any(|l| l == "2" || l == "200%"),
        "{labels:?}"
    );
    assert!(
        svg.contains(">1. A × p<") && svg.contains(">2. B × p<"),
        "{svg}"
    );
}

#[test]
fn timeline_mark_numbers_do_not_overlap() {
    let samples: Vec<Value> = (0..5)
        .map(|i| json!({"t_ms": i * 1000, "cpu_total_pct": 10 * i}))
        .collect();
    let marks: Vec<Value> = (0..9)
        .map(|i| json!({"start_ms": i * 20, "label": format!("cell {i}")}))
        .collect();
    let svg = timeline(&samples, "t_ms", &["cpu_total_pct"], &marks, "cpu");
    assert_eq!(
        count(&svg, "class=\"mark\""),
        9,
        "every cell keeps its line"
    );
    let shown = count(&svg, "class=\"mark-label\"");
    assert!(
        (1..9).contains(&shown),
        "crowded numbers are left out: {shown}"
    );
}
