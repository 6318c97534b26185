//! `llmbench plan` and `llmbench validate`: load and check experiments, print
//! the run matrix. Nothing is sent anywhere.

use super::{expand_files, AppError};
use crate::cli::{exit, PlanArgs, ValidateArgs};
use crate::plan::{plan as make_plan, Plan};
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};

pub fn plan(args: PlanArgs) -> Result<u8, AppError> {
    let experiment = crate::experiment::load(&args.file, &args.set)?;
    let plan = make_plan(&experiment);
    if args.json {
        let value = serde_json::json!({
            "experiment": plan.experiment,
            "cells": plan.cells,
            "concurrency": plan.concurrency,
            "measured_requests": plan.measured_requests(),
            "total_requests": plan.total_requests(),
        });
        let text = serde_json::to_string_pretty(&value)
            .map_err(|e| AppError::new(exit::ERROR, e.to_string()))?;
        println!("{text}");
    } else {
        println!("{}", plan_table(&plan));
        println!("{}", plan_totals(&plan));
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
            max_tokens,
            cell.warmup.to_string(),
            cell.repetitions.to_string(),
        ]);
    }
    table.to_string()
}

fn plan_totals(plan: &Plan) -> String {
    format!(
        "{}: {} cells, {} measured requests + {} warmup = {} requests, concurrency {}",
        plan.experiment,
        plan.cells.len(),
        plan.measured_requests(),
        plan.total_requests() - plan.measured_requests(),
        plan.total_requests(),
        plan.concurrency
    )
}

pub fn validate(args: ValidateArgs) -> Result<u8, AppError> {
    for file in expand_files(&args.files)? {
        let experiment = crate::experiment::load(&file, &args.set)?;
        let plan = make_plan(&experiment);
        println!("ok  {}  ({})", file.display(), plan_totals(&plan));
    }
    Ok(exit::OK)
}
