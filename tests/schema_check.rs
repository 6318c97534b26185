//! Checks TOML against schemas/experiment.schema.json with a real JSON Schema
//! validator (the `jsonschema` crate), the TOML parsed to JSON the way an
//! editor's TOML language server does. Shared by tests/it (shipped files and
//! docs) and tests/experiment_errors.rs (the loader's invalid files).

use std::sync::OnceLock;

fn validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/schemas/experiment.schema.json"
        );
        let text = std::fs::read_to_string(path).expect("schemas/experiment.schema.json");
        let schema: serde_json::Value = serde_json::from_str(&text).expect("the schema is JSON");
        jsonschema::validator_for(&schema).expect("the schema compiles")
    })
}

/// The schema's complaints about `text` ("/run/repetitions: 0 is less than
/// the minimum of 1"), empty when it conforms; `Err` when it is not TOML.
pub fn schema_errors(text: &str) -> Result<Vec<String>, String> {
    let value: toml::Value = toml::from_str(text).map_err(|e| e.to_string())?;
    let json = serde_json::to_value(value).map_err(|e| e.to_string())?;
    Ok(validator()
        .iter_errors(&json)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect())
}
