//! SVG primitives for the chart helpers: escaping, linear scales with "nice"
//! ticks, units inferred from metric names, a small document builder, axes
//! and a wrapping legend. Charts are 480 units wide (so text stays legible on a phone) and scale to their
//! container; colours come from CSS classes (`s0`..`s7`, `axis`, `grid`,
//! `label`) with presentation attributes as a fallback, so a page can restyle
//! them for dark mode.

use std::fmt::Write as _;

/// Width of every chart's view box.
pub(crate) const WIDTH: f64 = 480.0;
/// Left and right edges of the plotting area for charts without a y axis.
pub(crate) const LEFT: f64 = 12.0;
pub(crate) const RIGHT: f64 = WIDTH - 16.0;

/// Series colours (light mode; the page's CSS may override them).
const PALETTE: [&str; 8] = [
    "#2563eb", "#d97706", "#059669", "#dc2626", "#7c3aed", "#0891b2", "#db2777", "#65a30d",
];

/// Statistic names that take the unit of the metric before them.
const STATISTICS: [&str; 9] = [
    "mean", "min", "max", "p50", "p90", "p95", "p99", "low", "high",
];

/// Escapes text for SVG/XML content and attributes.
pub(crate) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Shortens `text` to at most `max` characters, ending in "…" when cut. A
/// cell's name keeps its setting (after " · ") whole where it can: the
/// model label is shortened first, since the setting tells cells apart.
pub(crate) fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    if let Some((base, setting)) = text.rsplit_once(" · ") {
        let room = max.saturating_sub(setting.chars().count() + 3);
        if room >= 8 {
            return format!("{} · {setting}", cut(base, room));
        }
    }
    cut(text, max)
}

fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let kept: String = text.chars().take(max.saturating_sub(1)).collect();
    format!("{kept}…")
}

/// Legend labels this short go two to a row.
pub(crate) const SHORT_LABEL: usize = 28;

/// Characters of a chart title that fit its width (15 px bold).
const TITLE_CHARS: usize = 52;

/// The colour of series `index`.
pub(crate) fn colour(index: usize) -> &'static str {
    PALETTE[index % PALETTE.len()]
}

/// What a metric's values measure, from its name's suffix.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Unit {
    Ms,
    PerSecond,
    Tokens,
    Percent,
    Bytes,
    Watts,
    Joules,
    /// A share 0..1 (`quality.rate`, `load.slo_attainment`), shown in %.
    Share,
    Plain,
}

impl Unit {
    pub(crate) fn of(name: &str) -> Unit {
        let mut parts = name.rsplit('.');
        let mut last = parts.next().unwrap_or(name);
        // `metrics.ttft_ms.p50`: a statistic has its metric's unit.
        if STATISTICS.contains(&last) {
            last = parts.next().unwrap_or(last);
        }
        if (name.starts_with("quality.") && last == "rate") || last == "slo_attainment" {
            Unit::Share
        } else if last.ends_with("_ms") {
            Unit::Ms
        } else if last.ends_with("_tps") || last.ends_with("_rate") {
            Unit::PerSecond
        } else if last.ends_with("_tokens") {
            Unit::Tokens
        } else if last.ends_with("_pct") {
            Unit::Percent
        } else if last.ends_with("_bytes") {
            Unit::Bytes
        } else if last.ends_with("_w") {
            Unit::Watts
        } else if last.ends_with("_j") {
            Unit::Joules
        } else {
            Unit::Plain
        }
    }

    /// A value with its unit, for labels.
    pub(crate) fn format(self, value: f64) -> String {
        match self {
            Unit::Ms => super::helpers::format_ms(Some(value)),
            Unit::PerSecond => format!("{}/s", compact(value)),
            Unit::Tokens => format!("{} tokens", compact(value)),
            Unit::Percent => format!("{value:.0}%"),
            Unit::Bytes => super::helpers::format_bytes(Some(value)),
            Unit::Watts => format!("{} W", compact(value)),
            Unit::Joules => format!("{} J", compact(value)),
            Unit::Share => format!("{:.0}%", value * 100.0),
            Unit::Plain => compact(value),
        }
    }

    /// A tick label: short, unit left to the axis title.
    pub(crate) fn tick(self, value: f64) -> String {
        match self {
            Unit::Bytes => super::helpers::format_bytes(Some(value)),
            Unit::Percent => format!("{value:.0}%"),
            Unit::Share => format!("{:.0}%", value * 100.0),
            _ => compact(value),
        }
    }

    /// Tick labels for `ticks`, with as many decimals as it takes for no
    /// two to read the same (a narrow range of GiB otherwise shows
    /// "1.0 GiB" three times).
    pub(crate) fn tick_labels(self, ticks: &[f64]) -> Vec<String> {
        let plain: Vec<String> = ticks.iter().map(|t| self.tick(*t)).collect();
        if distinct(&plain) {
            return plain;
        }
        let largest = ticks.iter().fold(0.0f64, |m, t| m.max(t.abs()));
        (1..=4)
            .map(|decimals| {
                ticks
                    .iter()
                    .map(|t| self.precise(*t, largest, decimals))
                    .collect::<Vec<_>>()
            })
            .find(|labels| distinct(labels))
            .unwrap_or(plain)
    }

    /// `value` with `decimals` decimals, bytes in the binary unit of `largest`.
    fn precise(self, value: f64, largest: f64, decimals: usize) -> String {
        match self {
            Unit::Bytes => {
                let units = ["B", "KiB", "MiB", "GiB", "TiB"];
                let power = (largest.max(1.0).log2() / 10.0).floor().clamp(0.0, 4.0) as usize;
                let scaled = value / 1024f64.powi(power as i32);
                format!("{scaled:.decimals$} {}", units[power])
            }
            Unit::Share => format!("{:.decimals$}%", value * 100.0),
            Unit::Percent => format!("{value:.decimals$}%"),
            _ => format!("{value:.decimals$}"),
        }
    }

    /// The unit as words, for axis titles.
    pub(crate) fn words(self) -> &'static str {
        match self {
            Unit::Ms => "ms",
            Unit::PerSecond => "per second",
            Unit::Tokens => "tokens",
            Unit::Percent => "%",
            Unit::Bytes => "bytes",
            Unit::Watts => "W",
            Unit::Joules => "J",
            Unit::Share => "%",
            Unit::Plain => "",
        }
    }
}

fn distinct(labels: &[String]) -> bool {
    labels
        .iter()
        .enumerate()
        .all(|(i, l)| !labels[..i].contains(l))
}

/// Room a vertical axis needs left of its line for these tick labels (12 px
/// text, about 7 px a character), so "953.7 MiB" is not cut to "53.7 MiB".
pub(crate) fn y_axis_room(labels: &[String]) -> f64 {
    let widest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    (widest as f64 * 7.0 + 12.0).max(40.0)
}

/// A number in few characters: 0.25, 8.5, 812, 1.2k, 35k, 1.2M.
pub(crate) fn compact(value: f64) -> String {
    let size = value.abs();
    let text = if size >= 1e6 {
        format!("{:.1}M", value / 1e6)
    } else if size >= 1e4 {
        format!("{:.0}k", value / 1e3)
    } else if size >= 1e3 {
        format!("{:.1}k", value / 1e3)
    } else if size >= 100.0 || value.fract() == 0.0 {
        format!("{value:.0}")
    } else if size >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    };
    text.replace(".0k", "k").replace(".0M", "M")
}

/// Evenly spaced round ticks (steps of 1, 2 or 5 × 10^k) covering `lo..=hi`.
pub(crate) fn nice_ticks(lo: f64, hi: f64, target: usize) -> Vec<f64> {
    let (lo, hi) = if hi > lo {
        (lo, hi)
    } else {
        (lo - 1.0, lo + 1.0)
    };
    let rough = (hi - lo) / target.max(1) as f64;
    let magnitude = 10f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= rough)
        .unwrap_or(10.0 * magnitude);
    let first = (lo / step).floor() as i64;
    let last = (hi / step).ceil() as i64;
    (first..=last).map(|k| k as f64 * step).collect()
}

/// A linear map from data values to pixels.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scale {
    pub lo: f64,
    pub hi: f64,
    pub from: f64,
    pub to: f64,
}

impl Scale {
    /// A scale over `ticks` (their first and last value).
    pub(crate) fn over(ticks: &[f64], from: f64, to: f64) -> Scale {
        let lo = ticks.first().copied().unwrap_or(0.0);
        let hi = ticks.last().copied().unwrap_or(1.0);
        Scale { lo, hi, from, to }
    }

    pub(crate) fn at(&self, value: f64) -> f64 {
        if self.hi <= self.lo {
            return (self.from + self.to) / 2.0;
        }
        self.from + (value - self.lo) / (self.hi - self.lo) * (self.to - self.from)
    }
}

/// Ticks for values spanning `lo..=hi`, starting at 0 when the values are
/// positive and not far from it (so bar lengths compare honestly).
pub(crate) fn axis_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let start = if lo >= 0.0 && lo < hi * 0.6 { 0.0 } else { lo };
    nice_ticks(start, hi, 5)
}

/// An SVG document under construction.
pub(crate) struct Svg {
    kind: &'static str,
    title: String,
    body: String,
}

impl Svg {
    /// A chart of `kind` (a CSS class: `chart-box`, `chart-bars`, …) titled `title`.
    pub(crate) fn new(kind: &'static str, title: &str) -> Svg {
        let mut svg = Svg {
            kind,
            title: title.to_string(),
            body: String::new(),
        };
        svg.text(LEFT, 18.0, "title", "start", &clip(title, TITLE_CHARS));
        svg
    }

    pub(crate) fn push(&mut self, element: &str) {
        self.body.push_str(element);
        self.body.push('\n');
    }

    pub(crate) fn text(&mut self, x: f64, y: f64, class: &str, anchor: &str, content: &str) {
        let element = format!(
            r#"<text x="{x:.1}" y="{y:.1}" class="{class}" text-anchor="{anchor}" fill="currentColor">{}</text>"#,
            esc(content)
        );
        self.push(&element);
    }

    pub(crate) fn line(&mut self, (x1, y1): (f64, f64), (x2, y2): (f64, f64), class: &str) {
        let element = format!(
            r##"<line x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}" class="{class}" stroke="#888"/>"##
        );
        self.push(&element);
    }

    /// A filled rectangle of series `series`.
    pub(crate) fn rect(
        &mut self,
        (x, y): (f64, f64),
        (w, h): (f64, f64),
        series: usize,
        class: &str,
    ) {
        let element = format!(
            r#"<rect x="{x:.1}" y="{y:.1}" width="{:.1}" height="{h:.1}" class="{class} s{}" fill="{}"/>"#,
            w.max(0.5),
            series % PALETTE.len(),
            colour(series)
        );
        self.push(&element);
    }

    /// A line through `points` in the colour of `series`.
    pub(crate) fn polyline(&mut self, points: &[(f64, f64)], series: usize, class: &str) {
        let mut path = String::new();
        for (x, y) in points {
            let _ = write!(path, "{x:.1},{y:.1} ");
        }
        let element = format!(
            r#"<polyline points="{}" class="{class} s{}" fill="none" stroke="{}"/>"#,
            path.trim_end(),
            series % PALETTE.len(),
            colour(series)
        );
        self.push(&element);
    }

    /// A dot of series `series`, with a tooltip.
    pub(crate) fn dot(&mut self, (x, y): (f64, f64), r: f64, series: usize, tip: &str) {
        let element = format!(
            r#"<circle cx="{x:.1}" cy="{y:.1}" r="{r:.1}" class="dot s{}" fill="{}"><title>{}</title></circle>"#,
            series % PALETTE.len(),
            colour(series),
            esc(tip)
        );
        self.push(&element);
    }

    /// A horizontal axis at `y` with vertical grid lines up to `top`.
    pub(crate) fn x_axis(
        &mut self,
        scale: &Scale,
        ticks: &[f64],
        (top, y): (f64, f64),
        unit: Unit,
    ) {
        let last = ticks.len().saturating_sub(1);
        for (i, (&tick, label)) in ticks.iter().zip(unit.tick_labels(ticks)).enumerate() {
            let x = scale.at(tick);
            self.line((x, top), (x, y), "grid");
            // The end labels sit inside the plot: the first would run into
            // the y axis's lowest label, the last past the chart's edge.
            let anchor = match i {
                0 if last > 0 => "start",
                i if i == last && last > 0 => "end",
                _ => "middle",
            };
            self.text(x, y + 14.0, "tick", anchor, &label);
        }
        self.line((scale.from, y), (scale.to, y), "axis");
    }

    /// A vertical axis at `x` with horizontal grid lines across to `right`.
    pub(crate) fn y_axis(
        &mut self,
        scale: &Scale,
        ticks: &[f64],
        (x, right): (f64, f64),
        unit: Unit,
    ) {
        for (&tick, label) in ticks.iter().zip(unit.tick_labels(ticks)) {
            let y = scale.at(tick);
            self.line((x, y), (right, y), "grid");
            self.text(x - 4.0, y + 4.0, "tick", "end", &label);
        }
        self.line((x, scale.from), (x, scale.to), "axis");
    }

    /// Swatches and labels in rows from `y`; returns the y below them.
    /// Two labels a row when they are short, else one (so a long cell
    /// name keeps its setting).
    pub(crate) fn legend(&mut self, labels: &[String], y: f64) -> f64 {
        let long = labels.iter().any(|l| l.chars().count() > SHORT_LABEL);
        let (per_row, chars) = if long { (1, 60) } else { (2, SHORT_LABEL) };
        let width = (RIGHT - LEFT) / per_row as f64;
        for (i, label) in labels.iter().enumerate() {
            let x = LEFT + (i % per_row) as f64 * width;
            let row_y = y + (i / per_row) as f64 * 18.0;
            self.rect((x, row_y - 9.0), (10.0, 10.0), i, "swatch");
            self.text(x + 14.0, row_y, "legend", "start", &clip(label, chars));
        }
        y + labels.len().div_ceil(per_row) as f64 * 18.0
    }

    /// The finished `<svg>` element, `height` units tall.
    pub(crate) fn finish(self, height: f64) -> String {
        format!(
            "<svg class=\"chart {}\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {height:.0}\" role=\"img\" aria-label=\"{}\" font-size=\"14\">\n<title>{}</title>\n{}</svg>",
            self.kind,
            esc(&self.title),
            esc(&self.title),
            self.body
        )
    }
}

/// What a chart prints when none of its items has data.
pub(crate) fn empty(kind: &str, what: &str) -> String {
    format!(
        "<p class=\"chart-empty {kind}\">No data for {}.</p>",
        esc(what)
    )
}
