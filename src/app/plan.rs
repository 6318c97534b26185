//! `llmbench plan` and `llmbench validate`: load and check experiments, print
//! the run matrix. Nothing is sent anywhere.

use super::{expand_files, AppError};
use crate::cli::{exit, PlanArgs, ValidateArgs};
use crate::plan::{plan as make_plan, Plan};
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};

pub(crate) fn plan(args: PlanArgs) -> Result<u8, AppError> {
    let experiment = crate::experiment::load(&args.file, &args.set)?;
    let plan = make_plan(&experiment);
    if args.json {
        let value = serde_json::json!({
            "experiment": plan.experiment,
            "cells": plan.cells,
            "cold_repetitions": plan.cold_repetitions,
            "measured_requests": plan.measured_requests(),
            "total_requests": plan.total_requests(),
        });
        let text = serde_json::to_string_pretty(&value)
            .map_err(|e| AppError::new(exit::ERROR, e.to_string()))?;
        crate::util::print(&text)?;
    } else {
        crate::util::print(&plan_table(&plan).to_string())?;
        crate::util::print(&plan_totals(&plan).to_string())?;
    }
    Ok(exit::OK)
}

fn plan_table(plan: &Plan) -> String {
    let mut table = Table::new();
    table.load_style(UTF8_FULL_CONDENSED);
    table.set_header([
        "#",
        "cell",
        "model",
        "backend",
        "prompt",
        "load",
        "matrix",
        "max_tokens",
        "warmup",
        "repetitions",
    ]);
    for cell in &plan.cells {
        let max_tokens = cell
            .settings
            .max_tokens
            .map_or("server default".to_string(), |n| n.to_string());
        table.add_row(vec![
            cell.index.to_string(),
            cell.id.clone(),
            cell.label.clone(),
            cell.backend.clone(),
            cell.prompt.clone(),
            load_text(&cell.load),
            cell.matrix
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" "),
            max_tokens,
            match cell.warmup_s {
                Some(seconds) => {
                    crate::util::format_duration(std::time::Duration::from_secs_f64(seconds))
                }
                None => cell.warmup.to_string(),
            },
            cell.repetitions.to_string(),
        ]);
    }
    table.to_string()
}

fn plan_totals(plan: &Plan) -> String {
    let timed_warmup: f64 = plan.cells.iter().filter_map(|c| c.warmup_s).sum();
    let timed = if timed_warmup > 0.0 {
        format!(
            " (and {} of timed warmups)",
            crate::util::format_duration(std::time::Duration::from_secs_f64(timed_warmup))
        )
    } else {
        String::new()
    };
    format!(
        "{}: {}, {} measured requests + {} warmup and cold = {} requests{timed}, at most {} in flight",
        plan.experiment,
        crate::util::count_of(plan.cells.len(), "cell"),
        plan.measured_requests(),
        plan.total_requests() - plan.measured_requests(),
        plan.total_requests(),
        plan.max_in_flight()
    )
}

pub(crate) fn validate(args: ValidateArgs) -> Result<u8, AppError> {
    for file in expand_files(&args.files)? {
        let experiment = crate::experiment::load(&file, &args.set)?;
        let plan = make_plan(&experiment);
        crate::util::print(&format!("ok  {}  ({})", file.display(), plan_totals(&plan)))?;
    }
    Ok(exit::OK)
}

fn load_text(load: &crate::experiment::Load) -> String {
    match load {
        crate::experiment::Load::Closed { concurrency } => format!("concurrency {concurrency}"),
        crate::experiment::Load::Open { rate, arrivals, .. } => {
            format!("{rate}/s {arrivals:?}").to_lowercase()
        }
    }
}
