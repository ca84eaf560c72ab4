//! Values between JSON and SQL, in one place: a record's field as its column and back, and a
//! JSON value as the parameter a compiled rule or filter expects. The in-memory evaluator
//! (`baas_schema::eval`) must read values as these conversions write them (realtime judges
//! rules with it): `tests/eval_agrees_with_sql.rs` checks that it does, on both engines.

use baas_schema::ir::FieldType;
use baas_schema::sql::SqlTy;
use serde_json::{Value, json};

use crate::db::SqlValue;
use crate::input;

/// A column's value as the record's JSON (PocketBase's canonical value for the field type).
pub fn from_column(ty: &FieldType, cell: SqlValue) -> Value {
    match (ty, cell) {
        (_, SqlValue::Null) => input::zero(ty),
        (t, SqlValue::Text(s)) if t.is_multiple() => serde_json::from_str(&s).unwrap_or_else(|_| json!([])),
        (FieldType::Json, SqlValue::Text(s)) => serde_json::from_str(&s).unwrap_or(Value::Null),
        (FieldType::Bool, v) => Value::Bool(v.as_i64().is_some_and(|i| i != 0) || v == SqlValue::Bool(true)),
        (FieldType::Number { .. }, SqlValue::Int(i)) => json!(i),
        (FieldType::Number { .. }, SqlValue::Real(f)) => number(f),
        (_, SqlValue::Text(s)) => Value::String(s),
        (_, SqlValue::Int(i)) => json!(i),
        (_, SqlValue::Real(f)) => number(f),
        (_, SqlValue::Bool(b)) => Value::Bool(b),
    }
}

/// A record's value for its column.
pub fn to_column(ty: &FieldType, v: &Value) -> SqlValue {
    match (ty, v) {
        (t, v) if t.is_multiple() => SqlValue::Text(match v {
            Value::Array(_) => v.to_string(),
            _ => "[]".into(),
        }),
        (FieldType::Json, v) => SqlValue::Text(v.to_string()),
        (FieldType::Bool, v) => SqlValue::Bool(v.as_bool().unwrap_or(false)),
        (FieldType::Number { .. }, Value::Number(n)) => match n.as_i64() {
            Some(i) => SqlValue::Int(i),
            None => SqlValue::Real(n.as_f64().unwrap_or(0.0)),
        },
        (FieldType::Number { .. }, _) => SqlValue::Int(0),
        (_, Value::String(s)) => SqlValue::Text(s.clone()),
        (_, Value::Null) => SqlValue::Text(String::new()),
        (_, other) => SqlValue::Text(other.to_string()),
    }
}

/// JSON numbers as PocketBase writes them: integral values without a fraction.
fn number(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 9.0e15 { json!(f as i64) } else { json!(f) }
}

/// A parameter's text, for text contexts such as a `LIKE` pattern.
pub fn text_of(v: &SqlValue) -> String {
    match v {
        SqlValue::Null => String::new(),
        SqlValue::Int(i) => i.to_string(),
        SqlValue::Real(f) => f.to_string(),
        SqlValue::Text(s) => s.clone(),
        SqlValue::Bool(b) => b.to_string(),
    }
}

/// Converts a JSON value to the parameter type a compiled predicate expects.
pub fn to_param(v: &Value, ty: SqlTy) -> SqlValue {
    match ty {
        SqlTy::Text => SqlValue::Text(match v {
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            other => other.to_string(),
        }),
        SqlTy::Number => SqlValue::Real(match v {
            Value::Number(n) => n.as_f64().unwrap_or(0.0),
            Value::String(s) => s.trim().parse().unwrap_or(0.0),
            Value::Bool(b) => f64::from(u8::from(*b)),
            _ => 0.0,
        }),
        SqlTy::Bool => SqlValue::Bool(match v {
            Value::Bool(b) => *b,
            Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
            Value::String(s) => s == "true" || s == "1",
            _ => false,
        }),
        SqlTy::JsonArray => SqlValue::Text(match v {
            Value::Array(_) => v.to_string(),
            Value::Null => "[]".into(),
            other => Value::Array(vec![other.clone()]).to_string(),
        }),
    }
}
