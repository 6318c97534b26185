//! A small JSON Schema subset for `json` checks. Supported keywords: `type`
//! (a name or a list; `integer` is a number without a fractional part),
//! `properties`, `required`, `additionalProperties` (`false`, `true` or a
//! schema), `items` (one schema for every element), `minItems`/`maxItems`,
//! `enum`, `const`, `minimum`/`maximum` (inclusive), `minLength`/`maxLength`
//! (in Unicode scalar values). Annotations (`$schema`, `$id`, `$comment`,
//! `title`, `description`, `default`, `examples`) are ignored. Any other
//! keyword is rejected by [`check_schema`] rather than silently ignored, so a
//! schema never looks stricter than it is.

use serde_json::{Map, Value};

/// Where in a schema (`schema.properties.age`) or in a value (`$.items[2]`)
/// something is wrong, and what.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{at}: {problem}")]
pub(crate) struct SchemaError {
    pub at: String,
    pub problem: String,
}

impl SchemaError {
    fn new(at: &str, problem: impl Into<String>) -> SchemaError {
        SchemaError {
            at: at.to_string(),
            problem: problem.into(),
        }
    }
}

const KEYWORDS: &[&str] = &[
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "minItems",
    "maxItems",
    "enum",
    "const",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
];
const ANNOTATIONS: &[&str] = &[
    "$schema",
    "$id",
    "$comment",
    "title",
    "description",
    "default",
    "examples",
];
const TYPES: &[&str] = &[
    "null", "boolean", "object", "array", "number", "integer", "string",
];

/// Checks that `schema` only uses the supported subset, with well-formed
/// values; the message names the keyword and its location in the schema.
pub(crate) fn check_schema(schema: &Value) -> Result<(), SchemaError> {
    check_at(schema, "schema")
}

fn check_at(schema: &Value, at: &str) -> Result<(), SchemaError> {
    let object = match schema {
        Value::Bool(_) => return Ok(()),
        Value::Object(object) => object,
        _ => return Err(SchemaError::new(at, "must be an object or a boolean")),
    };
    for (key, value) in object {
        let here = format!("{at}.{key}");
        match key.as_str() {
            "type" => check_type_keyword(value, &here)?,
            "properties" => {
                let properties = value
                    .as_object()
                    .ok_or_else(|| SchemaError::new(&here, "must be an object of schemas"))?;
                for (name, sub) in properties {
                    check_at(sub, &format!("{here}.{name}"))?;
                }
            }
            "required" => {
                let ok = value
                    .as_array()
                    .is_some_and(|names| names.iter().all(Value::is_string));
                if !ok {
                    return Err(SchemaError::new(&here, "must be a list of property names"));
                }
            }
            "additionalProperties" | "items" => {
                if value.is_array() {
                    return Err(SchemaError::new(
                        &here,
                        "a list of schemas is not supported; give one schema",
                    ));
                }
                check_at(value, &here)?;
            }
            "enum" if !value.is_array() => return Err(SchemaError::new(&here, "must be a list")),
            "minimum" | "maximum" if !value.is_number() => {
                return Err(SchemaError::new(&here, "must be a number"))
            }
            "minLength" | "maxLength" | "minItems" | "maxItems" if !value.is_u64() => {
                return Err(SchemaError::new(&here, "must be a non-negative integer"))
            }
            other if KEYWORDS.contains(&other) || ANNOTATIONS.contains(&other) => {}
            other => {
                return Err(SchemaError::new(
                    at,
                    format!(
                        "keyword `{other}` is not supported by llmbench's JSON Schema subset; \
                     use only {} (see docs/quality.md)",
                        KEYWORDS.join(", ")
                    ),
                ))
            }
        }
    }
    Ok(())
}

fn check_type_keyword(value: &Value, at: &str) -> Result<(), SchemaError> {
    let names: Vec<&Value> = match value {
        Value::Array(list) => list.iter().collect(),
        single => vec![single],
    };
    for name in names {
        match name.as_str() {
            Some(name) if TYPES.contains(&name) => {}
            _ => {
                return Err(SchemaError::new(
                    at,
                    format!("{name} is not a type; use one of {}", TYPES.join(", ")),
                ))
            }
        }
    }
    Ok(())
}

/// Validates `value` against `schema` (which should have passed
/// [`check_schema`]); the error names the first violation and where it is,
/// e.g. `$.items[2].name: expected string, got number`.
pub(crate) fn validate(schema: &Value, value: &Value) -> Result<(), SchemaError> {
    validate_at(schema, value, "$")
}

fn validate_at(schema: &Value, value: &Value, at: &str) -> Result<(), SchemaError> {
    let object = match schema {
        Value::Bool(true) => return Ok(()),
        Value::Bool(false) => return Err(SchemaError::new(at, "no value is allowed here")),
        Value::Object(object) => object,
        _ => return Ok(()),
    };
    if let Some(types) = object.get("type") {
        let allowed: Vec<&str> = match types {
            Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
            other => other.as_str().into_iter().collect(),
        };
        if !allowed.iter().any(|name| has_type(value, name)) {
            return Err(SchemaError::new(
                at,
                format!(
                    "expected {}, got {}",
                    allowed.join(" or "),
                    type_name(value)
                ),
            ));
        }
    }
    if let Some(Value::Array(options)) = object.get("enum") {
        if !options.contains(value) {
            return Err(SchemaError::new(
                at,
                format!("{} is not one of {}", short(value), short_list(options)),
            ));
        }
    }
    if let Some(expected) = object.get("const") {
        if expected != value {
            return Err(SchemaError::new(
                at,
                format!("expected {}, got {}", short(expected), short(value)),
            ));
        }
    }
    match value {
        Value::Number(number) => {
            let x = number.as_f64().unwrap_or(f64::NAN);
            if let Some(min) = object.get("minimum").and_then(Value::as_f64) {
                if x < min {
                    return Err(SchemaError::new(
                        at,
                        format!("{number} is below the minimum {min}"),
                    ));
                }
            }
            if let Some(max) = object.get("maximum").and_then(Value::as_f64) {
                if x > max {
                    return Err(SchemaError::new(
                        at,
                        format!("{number} is above the maximum {max}"),
                    ));
                }
            }
        }
        Value::String(text) => {
            let length = text.chars().count() as u64;
            bounds(object, "minLength", "maxLength", length, "characters", at)?;
        }
        Value::Array(items) => {
            bounds(
                object,
                "minItems",
                "maxItems",
                items.len() as u64,
                "items",
                at,
            )?;
            if let Some(item_schema) = object.get("items") {
                for (index, item) in items.iter().enumerate() {
                    validate_at(item_schema, item, &format!("{at}[{index}]"))?;
                }
            }
        }
        Value::Object(fields) => validate_object(object, fields, at)?,
        _ => {}
    }
    Ok(())
}

fn validate_object(
    schema: &Map<String, Value>,
    fields: &Map<String, Value>,
    at: &str,
) -> Result<(), SchemaError> {
    if let Some(Value::Array(required)) = schema.get("required") {
        for name in required.iter().filter_map(Value::as_str) {
            if !fields.contains_key(name) {
                return Err(SchemaError::new(
                    at,
                    format!("missing required property `{name}`"),
                ));
            }
        }
    }
    let properties = schema.get("properties").and_then(Value::as_object);
    for (name, field) in fields {
        let here = format!("{at}.{name}");
        match properties.and_then(|p| p.get(name)) {
            Some(sub) => validate_at(sub, field, &here)?,
            None => match schema.get("additionalProperties") {
                Some(Value::Bool(false)) => {
                    return Err(SchemaError::new(
                        at,
                        format!("property `{name}` is not allowed"),
                    ))
                }
                Some(extra) => validate_at(extra, field, &here)?,
                None => {}
            },
        }
    }
    Ok(())
}

fn bounds(
    schema: &Map<String, Value>,
    min: &str,
    max: &str,
    count: u64,
    unit: &str,
    at: &str,
) -> Result<(), SchemaError> {
    if let Some(limit) = schema.get(min).and_then(Value::as_u64) {
        if count < limit {
            return Err(SchemaError::new(
                at,
                format!("{count} {unit}, fewer than {min} {limit}"),
            ));
        }
    }
    if let Some(limit) = schema.get(max).and_then(Value::as_u64) {
        if count > limit {
            return Err(SchemaError::new(
                at,
                format!("{count} {unit}, more than {max} {limit}"),
            ));
        }
    }
    Ok(())
}

fn has_type(value: &Value, name: &str) -> bool {
    match name {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "object" => value.is_object(),
        "array" => value.is_array(),
        "number" => value.is_number(),
        "string" => value.is_string(),
        "integer" => match value {
            Value::Number(n) => {
                n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|x| x.fract() == 0.0)
            }
            _ => false,
        },
        _ => false,
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) if has_type(value, "integer") => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn short(value: &Value) -> String {
    super::text::preview(&value.to_string(), 60)
}

fn short_list(options: &[Value]) -> String {
    let list: Vec<String> = options.iter().map(Value::to_string).collect();
    super::text::preview(&format!("[{}]", list.join(", ")), 120)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn person() -> Value {
        json!({
            "type": "object",
            "required": ["name", "age"],
            "additionalProperties": false,
            "properties": {
                "name": {"type": "string", "minLength": 1, "maxLength": 5},
                "age": {"type": "integer", "minimum": 0, "maximum": 150},
                "tags": {"type": "array", "items": {"enum": ["a", "b"]}, "maxItems": 2},
                "nick": {"type": ["string", "null"]}
            }
        })
    }

    #[test]
    fn accepts_valid_documents() {
        check_schema(&person()).expect("supported schema");
        let ok = json!({"name": "Ada", "age": 36, "tags": ["a"], "nick": null});
        validate(&person(), &ok).expect("valid");
        validate(&json!(true), &json!([1])).expect("true accepts all");
        validate(&json!({"type": "integer"}), &json!(3.0)).expect("3.0 is an integer");
    }

    #[test]
    fn names_the_first_violation_and_where() {
        let schema = person();
        let cases = [
            (json!({"name": "Ada"}), "$: missing required property `age`"),
            (
                json!({"name": "Ada", "age": 1.5}),
                "$.age: expected integer, got number",
            ),
            (
                json!({"name": "Ada", "age": -1}),
                "$.age: -1 is below the minimum 0",
            ),
            (
                json!({"name": "Ada", "age": 200}),
                "$.age: 200 is above the maximum 150",
            ),
            (
                json!({"name": "", "age": 1}),
                "$.name: 0 characters, fewer than minLength 1",
            ),
            (
                json!({"name": "Adelaide", "age": 1}),
                "$.name: 8 characters, more than maxLength 5",
            ),
            (
                json!({"name": "Ada", "age": 1, "x": 0}),
                "$: property `x` is not allowed",
            ),
            (
                json!({"name": "Ada", "age": 1, "tags": ["c"]}),
                "$.tags[0]: \"c\" is not one of [\"a\", \"b\"]",
            ),
            (
                json!({"name": "Ada", "age": 1, "tags": ["a", "a", "b"]}),
                "$.tags: 3 items, more than maxItems 2",
            ),
            (
                json!({"name": "Ada", "age": 1, "nick": 3}),
                "$.nick: expected string or null, got integer",
            ),
            (json!([1]), "$: expected object, got array"),
        ];
        for (value, message) in cases {
            assert_eq!(
                validate(&schema, &value).unwrap_err().to_string(),
                message,
                "{value}"
            );
        }
        let err = validate(&json!({"const": 3}), &json!(4)).unwrap_err();
        assert_eq!(
            (err.at.as_str(), err.problem.as_str()),
            ("$", "expected 3, got 4")
        );
        let err = validate(
            &json!({"additionalProperties": {"type": "number"}}),
            &json!({"k": "v"}),
        );
        assert_eq!(
            err.unwrap_err().to_string(),
            "$.k: expected number, got string"
        );
    }

    #[test]
    fn rejects_unsupported_or_malformed_schemas() {
        let err = check_schema(&json!({"type": "object", "properties": {"a": {"pattern": "x"}}}));
        let err = err.unwrap_err();
        assert_eq!(err.at, "schema.properties.a");
        assert!(
            err.problem
                .starts_with("keyword `pattern` is not supported"),
            "{err}"
        );
        let err = check_schema(&json!({"type": "strng"}))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("schema.type: \"strng\" is not a type"),
            "{err}"
        );
        let err = check_schema(&json!({"items": [{"type": "string"}]}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("a list of schemas is not supported"), "{err}");
        assert!(check_schema(&json!({"minLength": -1})).is_err());
        assert!(check_schema(&json!({"required": "name"})).is_err());
        assert!(check_schema(&json!(3)).is_err());
        check_schema(&json!({"title": "t", "$schema": "x", "description": "d"}))
            .expect("annotations");
    }
}
