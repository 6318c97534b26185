//! `llmbench history DIR...`: reads the runs, analyses them (src/history/)
//! and prints the chosen format; with `--fail-on-regression`, exit 6 when a
//! series' latest change point is a regression.

use super::tools::write_stdout;
use super::AppError;
use crate::cli::{exit, HistoryArgs, HistoryFormat};
use crate::history::{analyse, changepoint::Settings, collect::collect, html, render};

pub(crate) fn history(args: HistoryArgs) -> Result<u8, AppError> {
    let settings = settings(&args)?;
    let collected = collect(&args.dirs);
    if collected.runs.is_empty() {
        let mut message = format!(
            "no runs with a summary.json under {}",
            args.dirs
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        for skipped in &collected.skipped {
            message.push_str(&format!("\n  skipped {skipped}"));
        }
        return Err(AppError::new(exit::BAD_INPUT, message));
    }
    let history = analyse(collected, &settings);
    let text = match args.format {
        HistoryFormat::Text => render::text(&history),
        HistoryFormat::Md => render::markdown(&history),
        HistoryFormat::Json => render::json(&history),
        HistoryFormat::Html => html::page(&history),
    };
    write_stdout(text.as_bytes())?;
    let regressions: Vec<_> = history
        .change_points
        .iter()
        .filter(|c| c.latest && c.regression)
        .collect();
    if args.fail_on_regression && !regressions.is_empty() {
        for change in &regressions {
            eprintln!(
                "regression: {} {} {} at {}",
                render::series_name(change),
                change.metric,
                render::size(change),
                change
                    .commit
                    .as_ref()
                    .map_or("(no commit)", |c| c.short.as_str())
            );
        }
        return Ok(exit::THRESHOLD);
    }
    Ok(exit::OK)
}

fn settings(args: &HistoryArgs) -> Result<Settings, AppError> {
    if !(args.min_change >= 0.0 && args.min_change.is_finite()) {
        return Err(AppError::new(
            exit::BAD_INPUT,
            format!(
                "--min-change {}: give a percentage ≥ 0, e.g. 5",
                args.min_change
            ),
        ));
    }
    if !(args.alpha > 0.0 && args.alpha < 1.0) {
        return Err(AppError::new(
            exit::BAD_INPUT,
            format!(
                "--alpha {}: give a level between 0 and 1, e.g. 0.05",
                args.alpha
            ),
        ));
    }
    Ok(Settings {
        alpha: args.alpha,
        min_change: args.min_change / 100.0,
        ..Settings::default()
    })
}
