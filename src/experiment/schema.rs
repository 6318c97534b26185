//! The JSON Schema of experiment files, derived (schemars) from the raw serde
//! types the loader itself parses (`manifest.rs`), so the schema cannot drift
//! from the format: descriptions are the types' doc comments, defaults and
//! examples their `extend` attributes. This module owns the few stand-in types
//! for values the loader reads as raw TOML (durations, pass-through tables)
//! and the generator that `llmbench schema experiment` prints and
//! schemas/experiment.schema.json holds.
//!
//! Draft-07, because that is the draft taplo (Even Better TOML, the taplo LSP
//! in Neovim and Helix) and VS Code's JSON support validate fully.

pub(crate) use crate::util::DurationText;
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use std::borrow::Cow;

/// Where editors find the schema, relative to a file in experiments/.
pub const SCHEMA_DIRECTIVE: &str = "#:schema ../schemas/experiment.schema.json";

/// The experiment-file schema as pretty JSON with a trailing newline, exactly
/// as committed in schemas/experiment.schema.json.
pub fn experiment_schema_json() -> String {
    let generator = schemars::generate::SchemaSettings::draft07()
        .for_deserialize()
        .into_generator();
    let schema = generator.into_root_schema_for::<super::manifest::Manifest>();
    let mut value = schema.to_value();
    for_toml(&mut value);
    if let Some(root) = value.as_object_mut() {
        root.insert("title".into(), "llmbench experiment".into());
    }
    let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
    text.push('\n');
    text
}

/// Fits schemars' output to TOML, everywhere in the tree: TOML has no null,
/// so an `Option` is a key that may be left out (`anyOf [X, null]` becomes
/// X, and `default: null` goes); a documented enum (`oneOf` of `const`s)
/// also gets a plain `enum` list, which every editor completes from.
fn for_toml(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            if let Some(Value::Array(choices)) = map.get("anyOf") {
                let not_null: Vec<Value> = choices
                    .iter()
                    .filter(|c| c.get("type").and_then(Value::as_str) != Some("null"))
                    .cloned()
                    .collect();
                if not_null.len() < choices.len() {
                    map.remove("anyOf");
                    match not_null.as_slice() {
                        [Value::Object(only)] if !only.contains_key("$ref") => {
                            for (key, v) in only {
                                map.entry(key.clone()).or_insert_with(|| v.clone());
                            }
                        }
                        [only] => {
                            map.insert("allOf".into(), Value::Array(vec![only.clone()]));
                        }
                        _ => {
                            map.insert("anyOf".into(), Value::Array(not_null));
                        }
                    }
                }
            }
            if let Some(Value::Array(types)) = map.get_mut("type") {
                types.retain(|t| t != "null");
                if let [only] = types.as_slice() {
                    let only = only.clone();
                    map.insert("type".into(), only);
                }
            }
            if map.get("default") == Some(&Value::Null) {
                map.remove("default");
            }
            if let Some(values) = const_choices(map.get("oneOf")) {
                map.insert("enum".into(), Value::Array(values));
            }
            map.values_mut().for_each(for_toml);
        }
        Value::Array(items) => items.iter_mut().for_each(for_toml),
        _ => {}
    }
}

/// The values of a `oneOf` whose every branch is a `const`.
fn const_choices(one_of: Option<&serde_json::Value>) -> Option<Vec<serde_json::Value>> {
    one_of?
        .as_array()?
        .iter()
        .map(|branch| branch.get("const").cloned())
        .collect()
}

/// A model's `options`, passed through untouched, except the keys llmbench
/// sets itself (docs/experiment-format.md#models).
pub(crate) struct OptionsTable;

impl JsonSchema for OptionsTable {
    fn schema_name() -> Cow<'static, str> {
        "Options".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let reserved: Vec<&str> = super::models::RESERVED_OPTIONS
            .iter()
            .map(|(key, _)| *key)
            .collect();
        json_schema!({
            "type": "object",
            "propertyNames": { "not": { "enum": reserved } },
        })
    }
}

/// `[matrix]`: each key a request setting, each value a non-empty list of
/// values that setting takes.
pub(crate) struct MatrixTable;

impl JsonSchema for MatrixTable {
    fn schema_name() -> Cow<'static, str> {
        "Matrix".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let settings = super::RequestSettings::json_schema(generator);
        let axes: serde_json::Map<String, serde_json::Value> = settings
            .get("properties")
            .and_then(|p| p.as_object())
            .map(|properties| {
                properties
                    .iter()
                    .map(|(key, item)| {
                        let axis = json_schema!({ "type": "array", "minItems": 1, "items": item });
                        (key.clone(), axis.to_value())
                    })
                    .collect()
            })
            .unwrap_or_default();
        json_schema!({
            "type": "object",
            "additionalProperties": false,
            "properties": axes,
        })
    }
}

/// One closed-loop concurrency level.
pub(crate) struct Concurrency;

impl JsonSchema for Concurrency {
    fn schema_name() -> Cow<'static, str> {
        "Concurrency".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "integer", "minimum": 1 })
    }
}

/// One open-loop rate, requests per second.
pub(crate) struct Rate;

impl JsonSchema for Rate {
    fn schema_name() -> Cow<'static, str> {
        "Rate".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "number", "exclusiveMinimum": 0 })
    }
}

/// `[matrix]` or `[server.matrix]`: each key an axis, each value a non-empty list.
pub(crate) struct AxisTable;

impl JsonSchema for AxisTable {
    fn schema_name() -> Cow<'static, str> {
        "AxisTable".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "object",
            "additionalProperties": { "type": "array", "minItems": 1 },
        })
    }
}

/// `warmup`: a request count or a duration.
pub(crate) struct WarmupValue;

impl JsonSchema for WarmupValue {
    fn schema_name() -> Cow<'static, str> {
        "Warmup".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "anyOf": [
                { "type": "integer", "minimum": 0 },
                generator.subschema_for::<DurationText>(),
            ]
        })
    }
}

/// `[slo]`: latency targets, each a duration.
pub(crate) struct SloTable;

impl JsonSchema for SloTable {
    fn schema_name() -> Cow<'static, str> {
        "Slo".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let duration = generator.subschema_for::<DurationText>();
        let target = |description: &str| {
            let mut schema = duration.clone();
            schema.insert("description".into(), description.into());
            schema
        };
        json_schema!({
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "ttft": target("Most time to first token."),
                "tpot": target("Most time per output token after the first."),
                "e2e": target("Most time for the whole request."),
            },
            "examples": [{ "ttft": "500ms", "tpot": "50ms", "e2e": "10s" }],
        })
    }
}

impl<T: JsonSchema> JsonSchema for super::manifest::OneOrMany<T> {
    fn schema_name() -> Cow<'static, str> {
        format!("OneOrMany_{}", T::schema_name()).into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let one = generator.subschema_for::<T>();
        json_schema!({
            "anyOf": [one, { "type": "array", "items": one, "minItems": 1 }]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_duration_pattern_matches_what_the_loader_reads() {
        let pattern = regex::Regex::new(crate::util::DURATION_PATTERN).unwrap();
        let cases = [
            "250ms", "1.5s", "2m", "10s", "3h", "5us", "7ns", " 1s", "1.s", ".5s", "2 ms", "500",
            "1h30m", "s", "-1s", "1.2.3s", "10 sec", "",
        ];
        for text in cases {
            assert_eq!(
                pattern.is_match(text),
                crate::util::parse_duration(text).is_ok(),
                "{text:?}"
            );
        }
    }

    #[test]
    fn the_schema_describes_every_top_level_key() {
        let schema: serde_json::Value = serde_json::from_str(&experiment_schema_json()).unwrap();
        let properties = schema["properties"].as_object().unwrap();
        for (key, property) in properties {
            assert!(
                property.get("description").is_some(),
                "{key} has no description"
            );
        }
        assert_eq!(schema["additionalProperties"], false);
    }
}
