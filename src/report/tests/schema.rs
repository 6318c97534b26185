//! schemas/summary.schema.json against the report model: a small validator
//! for the subset of JSON Schema 2020-12 the schema uses (type, required,
//! properties, additionalProperties, items, local $ref, enum, anyOf; any
//! other keyword is refused so the schema cannot say more than is checked),
//! plus a check that the schema describes every field the model writes.

use super::super::fixture;
use serde_json::{json, Value};

const SCHEMA: &str = include_str!("../../../schemas/summary.schema.json");
const ANNOTATIONS: [&str; 5] = ["$schema", "$id", "$defs", "title", "description"];

struct Validator<'a> {
    root: &'a Value,
    /// Type and structure errors.
    errors: Vec<String>,
    /// Fields present in the instance that the schema does not declare.
    undeclared: Vec<String>,
}

fn type_matches(name: &str, value: &Value) -> bool {
    match name {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        "number" => value.is_number(),
        "integer" => value.is_u64() || value.is_i64(),
        _ => false,
    }
}

impl<'a> Validator<'a> {
    fn new(root: &'a Value) -> Validator<'a> {
        Validator {
            root,
            errors: Vec::new(),
            undeclared: Vec::new(),
        }
    }

    fn resolve(&self, reference: &str) -> Option<&'a Value> {
        let name = reference.strip_prefix("#/$defs/")?;
        self.root.get("$defs")?.get(name)
    }

    fn check(&mut self, schema: &'a Value, value: &Value, at: &str) {
        let Some(keywords) = schema.as_object() else {
            self.errors.push(format!("{at}: schema is not an object"));
            return;
        };
        self.object(keywords, value, at);
        for (key, rule) in keywords {
            match key.as_str() {
                "type" => {
                    let names: Vec<&str> = match rule {
                        Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
                        other => other.as_str().into_iter().collect(),
                    };
                    if !names.iter().any(|n| type_matches(n, value)) {
                        self.errors
                            .push(format!("{at}: expected {names:?}, found {value}"));
                    }
                }
                "enum" => {
                    if !rule.as_array().is_some_and(|list| list.contains(value)) {
                        self.errors
                            .push(format!("{at}: {value} is not one of {rule}"));
                    }
                }
                "$ref" => match rule.as_str().and_then(|r| self.resolve(r)) {
                    Some(target) => self.check(target, value, at),
                    None => self.errors.push(format!("{at}: unresolvable $ref {rule}")),
                },
                "anyOf" => self.any_of(rule, value, at),
                "required" | "properties" | "additionalProperties" => {} // in `object`
                "items" => {
                    for (i, item) in value.as_array().into_iter().flatten().enumerate() {
                        self.check(rule, item, &format!("{at}[{i}]"));
                    }
                }
                known if ANNOTATIONS.contains(&known) => {}
                unknown => self.errors.push(format!(
                    "{at}: keyword `{unknown}` is not supported by this validator"
                )),
            }
        }
    }

    fn any_of(&mut self, branches: &'a Value, value: &Value, at: &str) {
        for branch in branches.as_array().into_iter().flatten() {
            let mut trial = Validator::new(self.root);
            trial.check(branch, value, at);
            if trial.errors.is_empty() {
                self.undeclared.extend(trial.undeclared);
                return;
            }
        }
        self.errors
            .push(format!("{at}: matches no branch of anyOf"));
    }

    /// `required`, `properties` and `additionalProperties`, for an object value.
    fn object(&mut self, keywords: &'a serde_json::Map<String, Value>, value: &Value, at: &str) {
        let Some(fields) = value.as_object() else {
            return;
        };
        for name in keywords
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = name.as_str().unwrap_or_default();
            if !fields.contains_key(name) {
                self.errors
                    .push(format!("{at}: required field `{name}` is missing"));
            }
        }
        let properties = keywords.get("properties").and_then(Value::as_object);
        let additional = keywords.get("additionalProperties");
        for (name, field) in fields {
            let path = format!("{at}.{name}");
            match (properties.and_then(|p| p.get(name)), additional) {
                (Some(schema), _) => self.check(schema, field, &path),
                (None, Some(Value::Bool(false))) => {
                    self.errors.push(format!("{path}: not allowed"))
                }
                (None, Some(schema)) if schema.is_object() => self.check(schema, field, &path),
                (None, _) if properties.is_some() => self.undeclared.push(path),
                (None, _) => {}
            }
        }
    }

    fn run(schema: &'a Value, value: &Value) -> (Vec<String>, Vec<String>) {
        let mut v = Validator::new(schema);
        v.check(schema, value, "$");
        (v.errors, v.undeclared)
    }
}

fn schema() -> Value {
    serde_json::from_str(SCHEMA).expect("schemas/summary.schema.json is JSON")
}

fn model_json() -> Value {
    serde_json::to_value(fixture::model()).expect("serialises")
}

#[test]
fn the_report_model_satisfies_the_schema() {
    let schema = schema();
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    let (errors, _) = Validator::run(&schema, &model_json());
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn the_schema_describes_every_field_of_the_model() {
    let schema = schema();
    let (_, undeclared) = Validator::run(&schema, &model_json());
    assert!(
        undeclared.is_empty(),
        "schemas/summary.schema.json does not describe these fields of the report model; add them (with a description): {undeclared:#?}"
    );
}

#[test]
fn quality_and_resource_figures_satisfy_the_schema() {
    let schema = schema();
    let mut model = model_json();
    let quality = crate::quality::pass_rate(&[true, true, false]);
    let monitor = crate::monitor::WindowSummary {
        samples: 4,
        cpu_mean_pct: Some(40.0),
        ..Default::default()
    };
    model["cells"][0]["quality"] = serde_json::to_value(&quality).expect("serialises");
    model["cells"][0]["monitor"] = serde_json::to_value(&monitor).expect("serialises");
    model["models"][0]["quality"] = serde_json::to_value(&quality).expect("serialises");
    let (errors, undeclared) = Validator::run(&schema, &model);
    assert!(errors.is_empty(), "{errors:#?}");
    assert!(undeclared.is_empty(), "{undeclared:#?}");
}

#[test]
fn the_validator_catches_what_the_schema_forbids() {
    let schema = schema();
    let mut model = model_json();
    if let Some(object) = model.as_object_mut() {
        object.remove("run");
    }
    model["cells"][0]["counts"]["ok"] = json!("six");
    model["cells"][0]["metrics"]["ttft_ms"]["stddev"] = json!("wide");
    model["cells"][1]["errors"][0]["kind"] = json!("gremlins");
    model["cells"][2]["surprise"] = json!(1);
    let (errors, undeclared) = Validator::run(&schema, &model);
    let text = errors.join("\n");
    assert!(
        text.contains("$: required field `run` is missing"),
        "{text}"
    );
    assert!(
        text.contains("$.cells[0].counts.ok: expected [\"integer\"]"),
        "{text}"
    );
    assert!(
        text.contains("$.cells[0].metrics.ttft_ms.stddev: expected [\"number\", \"null\"]"),
        "{text}"
    );
    assert!(
        text.contains("$.cells[1].errors[0].kind: \"gremlins\" is not one of"),
        "{text}"
    );
    assert_eq!(undeclared, ["$.cells[2].surprise"]);
}
