//! Thresholds that make a run or a comparison a gate. Two spellings:
//!
//! - a failure condition, `llmbench compare --fail-on "ttft.p95 > +10%"`
//!   ([`parse_threshold`]): the gate fails when it holds; a signed percentage
//!   is a change from run A to run B, anything else a limit on run B;
//! - a requirement, `[thresholds] "ttft.p95" = "< 800ms"` in an experiment
//!   ([`parse_requirement`]): the gate fails when it does not hold.
//!
//! Metrics are `<metric>.<statistic>` with the metric registry's names, full
//! or short (`ttft` = `ttft_ms`, `tpot`, `e2e`, `chunk_gap`, `token_gap`,
//! `ttfb`, `load`; `decode_tps`, `prompt_tps`, … as they are), or `errors.rate`, `errors.count`, `throughput`,
//! `request_rate`. Limits take units: `ms`/`s` for times, `%` for rates.

use super::registry;
use serde::{Deserialize, Serialize};

const STATS: [&str; 10] = [
    "mean", "p50", "p90", "p95", "p99", "min", "max", "stddev", "cv", "count",
];

/// What a threshold measures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Target {
    /// A statistic of a summary metric, e.g. `ttft_ms` / `p95`.
    Stat { metric: String, stat: String },
    /// Failed / measured requests of a cell, 0..1.
    ErrorRate,
    /// Failed requests of a cell.
    ErrorCount,
    /// A cell's throughput, tokens/s.
    Throughput,
    /// A cell's measured requests per second.
    RequestRate,
}

impl Target {
    fn parse(name: &str) -> Result<Target, Problem> {
        match name {
            "errors.rate" | "error_rate" => return Ok(Target::ErrorRate),
            "errors.count" | "errors" => return Ok(Target::ErrorCount),
            "throughput" | "throughput_tps" => return Ok(Target::Throughput),
            "request_rate" => return Ok(Target::RequestRate),
            _ => {}
        }
        let Some((metric, stat)) = name.rsplit_once('.') else {
            return Err(Problem::NoStatistic(name.to_string()));
        };
        let metric = registry::require(metric)?.name;
        if !STATS.contains(&stat) {
            return Err(Problem::UnknownStatistic(stat.to_string()));
        }
        Ok(Target::Stat {
            metric: metric.to_string(),
            stat: stat.to_string(),
        })
    }

    /// Times are in ms; rates 0..1; everything else as is.
    fn kind(&self) -> ValueKind {
        match self {
            Target::Stat { metric, stat }
                if metric.ends_with("_ms") && stat != "cv" && stat != "count" =>
            {
                ValueKind::Time
            }
            Target::ErrorRate => ValueKind::Rate,
            _ => ValueKind::Plain,
        }
    }

    /// `value` in the target's unit, for messages.
    pub(crate) fn format(&self, value: f64) -> String {
        match self.kind() {
            ValueKind::Time => crate::util::format_ms(Some(value)),
            ValueKind::Rate => format!("{:.2}%", value * 100.0),
            ValueKind::Plain => format!("{}", (value * 1000.0).round() / 1000.0),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum ValueKind {
    Time,
    Rate,
    Plain,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
}

impl Op {
    pub(crate) fn holds(self, value: f64, limit: f64) -> bool {
        match self {
            Op::Gt => value > limit,
            Op::Ge => value >= limit,
            Op::Lt => value < limit,
            Op::Le => value <= limit,
        }
    }

    pub(crate) fn symbol(self) -> &'static str {
        match self {
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Lt => "<",
            Op::Le => "<=",
        }
    }
}

/// The number a threshold compares with.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Limit {
    /// In the target's unit (ms for times, 0..1 for rates).
    Absolute(f64),
    /// A change from run A to run B, in percent (+10 = 10% higher).
    Change(f64),
}

/// Whether a threshold says what fails or what must hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// `--fail-on`: the gate fails when the condition holds.
    FailIf,
    /// `[thresholds]`: the gate fails when the condition does not hold.
    Require,
}

/// A parsed threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Threshold {
    /// As written, e.g. `ttft.p95 > +10%`.
    pub text: String,
    /// The metric as written, e.g. `ttft.p95`.
    pub name: String,
    pub target: Target,
    pub op: Op,
    pub limit: Limit,
    pub rule: Rule,
}

impl Threshold {
    /// Whether `value` (the statistic, or the change in percent for a
    /// `Change` limit) fails the gate.
    pub(crate) fn fails(&self, value: f64) -> bool {
        let limit = match self.limit {
            Limit::Absolute(x) | Limit::Change(x) => x,
        };
        let holds = self.op.holds(value, limit);
        match self.rule {
            Rule::FailIf => holds,
            Rule::Require => !holds,
        }
    }

    /// The limit as written back: `> +10%`, `< 800 ms`, `< 1.00%`.
    pub(crate) fn limit_text(&self) -> String {
        let word = if self.rule == Rule::Require {
            "required"
        } else {
            "fails if"
        };
        let value = match self.limit {
            Limit::Change(x) => format!("{x:+}%"),
            Limit::Absolute(x) => self.target.format(x),
        };
        format!("{word} {} {value}", self.op.symbol())
    }
}

/// Parses a `--fail-on` expression: `METRIC OP VALUE`, e.g. `ttft.p95 > +10%`,
/// `decode_tps.mean < -5%`, `errors.rate > 1%`, `e2e.p50 > 2s`. A metric
/// that a comparison does not hold is refused here, not failed in every cell.
pub fn parse_threshold(text: &str) -> Result<Threshold, ThresholdError> {
    parse(text, Rule::FailIf)
        .and_then(|threshold| comparable(&threshold).map(|()| threshold))
        .map_err(|problem| ThresholdError::FailOn {
            text: text.to_string(),
            problem,
        })
}

/// Whether a comparison holds what `threshold` reads: the metrics of
/// [`registry::COMPARED`] (each with per-request values to test) and the
/// error counts. Throughput is one figure per run: no test can say whether
/// its change is more than noise.
fn comparable(threshold: &Threshold) -> Result<(), Problem> {
    match &threshold.target {
        Target::ErrorRate | Target::ErrorCount => Ok(()),
        Target::Stat { metric, .. } if registry::COMPARED.contains(&metric.as_str()) => Ok(()),
        Target::Stat { metric, .. } => Err(Problem::NotCompared(short_name(metric).to_string())),
        Target::Throughput | Target::RequestRate => {
            Err(Problem::OneFigurePerRun(threshold.name.clone()))
        }
    }
}

/// The metrics a comparison tests, by their short names.
fn compared_names() -> String {
    registry::COMPARED
        .iter()
        .map(|name| short_name(name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The short name of a summary metric (`ttft_ms` → `ttft`), as thresholds
/// write it: the metric registry's.
fn short_name(metric: &str) -> &str {
    registry::lookup(metric).map_or(metric, |m| m.short)
}

/// Parses an experiment's `[thresholds]` entry: `"ttft.p95" = "< 800ms"`.
/// A change (`+10%`) needs two runs and is refused here.
pub fn parse_requirement(key: &str, value: &str) -> Result<Threshold, ThresholdError> {
    let text = format!("{key} {}", value.trim());
    let requirement = |problem| ThresholdError::Requirement {
        key: key.to_string(),
        value: value.to_string(),
        problem,
    };
    let threshold = parse(&text, Rule::Require).map_err(requirement)?;
    if matches!(threshold.limit, Limit::Change(_)) {
        return Err(requirement(Problem::ChangeNeedsTwoRuns(text)));
    }
    Ok(threshold)
}

fn parse(text: &str, rule: Rule) -> Result<Threshold, Problem> {
    let at = text.find(['<', '>']).ok_or(Problem::NoOperator)?;
    let name = text[..at].trim();
    let rest = &text[at..];
    let (op, value) = match rest.as_bytes() {
        [b'>', b'=', ..] => (Op::Ge, &rest[2..]),
        [b'<', b'=', ..] => (Op::Le, &rest[2..]),
        [b'>', ..] => (Op::Gt, &rest[1..]),
        _ => (Op::Lt, &rest[1..]),
    };
    if name.is_empty() {
        return Err(Problem::NoMetric);
    }
    let target = Target::parse(name)?;
    let limit = parse_limit(value.trim(), &target)?;
    if matches!(limit, Limit::Change(_)) && matches!(target, Target::ErrorRate | Target::ErrorCount)
    {
        return Err(Problem::AbsoluteOnly(name.to_string()));
    }
    Ok(Threshold {
        text: text.trim().to_string(),
        name: name.to_string(),
        target,
        op,
        limit,
        rule,
    })
}

fn parse_limit(value: &str, target: &Target) -> Result<Limit, Problem> {
    let number = |digits: &str| -> Result<f64, Problem> {
        digits
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite())
            .ok_or_else(|| Problem::NotANumber(value.to_string()))
    };
    let signed = value.starts_with(['+', '-']);
    if let Some(digits) = value.strip_suffix('%') {
        if signed {
            return Ok(Limit::Change(number(digits)?));
        }
        return match target.kind() {
            ValueKind::Rate => Ok(Limit::Absolute(number(digits)? / 100.0)),
            _ => Err(Problem::UnsignedPercentage(digits.to_string())),
        };
    }
    if signed {
        return Err(Problem::SignedWithoutPercent(value.to_string()));
    }
    let kind = target.kind();
    if let Some(digits) = value.strip_suffix("ms") {
        return match kind {
            ValueKind::Time => Ok(Limit::Absolute(number(digits)?)),
            _ => Err(Problem::TimeUnitOnNonTime {
                value: value.to_string(),
                unit: "ms",
            }),
        };
    }
    if let Some(digits) = value.strip_suffix('s') {
        return match kind {
            ValueKind::Time => Ok(Limit::Absolute(number(digits)? * 1000.0)),
            _ => Err(Problem::TimeUnitOnNonTime {
                value: value.to_string(),
                unit: "s",
            }),
        };
    }
    Ok(Limit::Absolute(number(value)?))
}

/// A threshold that cannot be read: which one, as written, and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ThresholdError {
    /// `llmbench compare --fail-on TEXT`.
    #[error("threshold `{text}`: {problem}")]
    FailOn {
        text: String,
        #[source]
        problem: Problem,
    },
    /// `[thresholds] "KEY" = "VALUE"` in an experiment.
    #[error("threshold \"{key}\" = \"{value}\": {problem}")]
    Requirement {
        key: String,
        value: String,
        #[source]
        problem: Problem,
    },
}

/// What is wrong with a threshold; each message says what to write instead.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Problem {
    #[error("write METRIC OP LIMIT with OP one of < <= > >=, e.g. \"ttft.p95 > +10%\"")]
    NoOperator,
    #[error("no metric before the operator")]
    NoMetric,
    #[error(
        "`{0}` needs a statistic, e.g. `{0}.p95` or `{0}.mean` (or use errors.rate, throughput)"
    )]
    NoStatistic(String),
    #[error("{0}, errors.rate, errors.count, throughput, request_rate")]
    UnknownMetric(#[from] registry::UnknownMetric),
    #[error("`{stat}` is not a statistic; use one of {stats}", stat = .0, stats = STATS.join(", "))]
    UnknownStatistic(String),
    #[error("{0} takes an absolute limit, e.g. \"{0} > 1%\"")]
    AbsoluteOnly(String),
    #[error("`{0}` is not a number with an optional unit (ms, s, %)")]
    NotANumber(String),
    #[error("`{0}%`: a percentage is a change only with a sign (`+{0}%` or `-{0}%`)")]
    UnsignedPercentage(String),
    #[error(
        "`{value}`: a signed limit is a change and needs `%` (`{value}%`); an absolute limit \
         has no sign (`{digits}ms` for a time)", value = .0, digits = .0.trim_start_matches(['+', '-'])
    )]
    SignedWithoutPercent(String),
    #[error("`{value}`: {unit} is a unit of time, and this metric is not a time")]
    TimeUnitOnNonTime { value: String, unit: &'static str },
    #[error(
        "`{metric}` is not compared between runs; compare one of {names} (or put an absolute \
         limit on it in the experiment's [thresholds])",
        metric = .0,
        names = compared_names()
    )]
    NotCompared(String),
    #[error(
        "`{0}` is one figure per run, so no test can tell its change from noise; gate on a \
         per-request metric instead, e.g. \"decode_tps.p50 < -5%\" (or put an absolute limit \
         in the experiment's [thresholds])"
    )]
    OneFigurePerRun(String),
    #[error(
        "a change needs two runs; write an absolute limit (\"< 800ms\") here, or use `llmbench \
         compare --fail-on \"{0}\"`"
    )]
    ChangeNeedsTwoRuns(String),
}
