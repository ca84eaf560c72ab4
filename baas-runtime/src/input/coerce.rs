//! What each field type makes of the JSON it is sent, and the formats `email` and `url` accept.

use std::net::Ipv6Addr;

use baas_schema::ir::FieldType;
use serde_json::{Number, Value};

use super::*;

// --- coercion -----------------------------------------------------------------------------

/// Text of any value: numbers in decimal, bools as `true`/`false`, everything else `""`.
pub(super) fn to_text(raw: &Value) -> String {
    match raw {
        Value::String(s) => s.clone(),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (_, Some(u), _) => u.to_string(),
            (_, _, Some(f)) => number_text(f),
            _ => n.to_string(),
        },
        Value::Bool(b) => b.to_string(),
        Value::Null | Value::Array(_) | Value::Object(_) => String::new(),
    }
}

/// A number from a number, a numeric string or a bool; anything else is 0.
pub(super) fn to_number(raw: &Value) -> f64 {
    match raw {
        Value::Number(n) => n.as_f64().unwrap_or(0.0),
        Value::String(s) => s.parse().unwrap_or(0.0),
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::Null | Value::Array(_) | Value::Object(_) => 0.0,
    }
}

/// Go's `strconv.ParseBool` spellings, non-zero numbers and `true`; anything else is false.
pub(super) fn to_bool(raw: &Value) -> bool {
    match raw {
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => matches!(s.as_str(), "1" | "t" | "T" | "true" | "True" | "TRUE"),
        Value::Null | Value::Array(_) | Value::Object(_) => false,
    }
}

/// The canonical form of a date string; `""` for anything unparseable or not a string.
pub(super) fn to_date(raw: &Value) -> String {
    match raw {
        Value::String(s) => crate::time::normalize(s).unwrap_or_default(),
        _ => String::new(),
    }
}

/// Distinct non-empty strings: an array's items as text, a string (or the JSON array of
/// strings it holds), a number's or bool's text; nothing for null and objects.
pub(super) fn to_list(raw: &Value) -> Vec<String> {
    let items = match raw {
        Value::Array(items) => items.iter().map(to_text).collect(),
        Value::String(s) if s.contains('[') => {
            serde_json::from_str::<Vec<String>>(s).unwrap_or_else(|_| vec![s.clone()])
        }
        Value::String(_) | Value::Number(_) | Value::Bool(_) => vec![to_text(raw)],
        Value::Null | Value::Object(_) => Vec::new(),
    };
    unique(items)
}

/// Drops empty strings and repeats, keeping first occurrences in order.
pub(super) fn unique(items: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for item in items {
        if !item.is_empty() && !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

/// A single select/relation/file field keeps only the last item.
pub(super) fn single_or_all(ty: &FieldType, mut items: Vec<String>) -> Vec<String> {
    if !ty.is_multiple() && items.len() > 1 {
        items.drain(..items.len() - 1);
    }
    items
}

/// A json field's value. Strings are read as JSON when they look like JSON (so multipart
/// parts work): `null`, `true`, `false`, and text starting with a digit, `-`, `"`, `[` or `{`
/// that parses. Any other string stays a string.
pub(super) fn to_json(raw: &Value) -> Value {
    let Value::String(s) = raw else { return raw.clone() };
    let looks_like_json = matches!(s.as_str(), "null" | "true" | "false")
        || s.starts_with(|c: char| c.is_ascii_digit() || matches!(c, '-' | '"' | '[' | '{'));
    if looks_like_json && let Ok(value) = serde_json::from_str(s) {
        return value;
    }
    raw.clone()
}

/// A multipart part's value: bool, number (only when written in its shortest form) or string.
pub(super) fn infer(text: &str) -> Value {
    match text {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => match text.parse::<f64>() {
            Ok(n) if n.is_finite() && number_text(n) == text => number_value(n),
            _ => Value::String(text.to_owned()),
        },
    }
}

/// A JSON number, integral values as integers.
pub(super) fn number_value(n: f64) -> Value {
    match as_integer(n) {
        Some(i) => Value::from(i),
        None => Number::from_f64(n).map_or(Value::Null, Value::Number),
    }
}

/// A number as PocketBase writes it: integral values without a fraction, no exponent.
pub(super) fn number_text(n: f64) -> String {
    match as_integer(n) {
        Some(i) => i.to_string(),
        None => n.to_string(),
    }
}

/// `n` as an integer when it is one and stays exact (|n| < 2^53).
pub(super) fn as_integer(n: f64) -> Option<i64> {
    const EXACT: f64 = 9_007_199_254_740_992.0;
    (n.fract() == 0.0 && n.abs() < EXACT).then_some(n as i64)
}

/// Equality of stored and new values, with numbers compared by value (`5` and `5.0`).
pub(super) fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

// --- formats ------------------------------------------------------------------------------

/// A pragmatic email check: one `@`, a non-empty local part, a dotted domain of non-empty
/// labels, no whitespace.
pub(crate) fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else { return false };
    !local.is_empty()
        && !domain.contains('@')
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
        && domain.contains('.')
        && domain.split('.').all(|label| !label.is_empty() && !label.starts_with('-') && !label.ends_with('-'))
}

/// A pragmatic url check in the spirit of PocketBase's validator: an optional scheme from
/// [`URL_SCHEMES`] followed by `://`, optional `user@`, a host (a name, an IPv4 address or a
/// bracketed IPv6 address), an optional numeric port, then anything. Without a scheme the host
/// must contain a dot (`example.com/x`).
pub(super) fn is_url(s: &str) -> bool {
    if s.starts_with('.') || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let (rest, has_scheme) = match s.split_once("://") {
        Some((scheme, rest)) => {
            if !URL_SCHEMES.iter().any(|k| k.eq_ignore_ascii_case(scheme)) {
                return false;
            }
            (rest, true)
        }
        None => (s, false),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    let port_ok = |port: &str| port.is_empty() || port.strip_prefix(':').is_some_and(is_port);
    if let Some(inner) = host_port.strip_prefix('[') {
        return inner.split_once(']').is_some_and(|(addr, after)| addr.parse::<Ipv6Addr>().is_ok() && port_ok(after));
    }
    let host = match host_port.split_once(':') {
        Some((host, port)) if is_port(port) => host,
        Some(_) => return false,
        None => host_port,
    };
    let host = host.strip_suffix('.').unwrap_or(host);
    !host.is_empty()
        && (has_scheme || host.contains('.'))
        && host.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-' || c == '_')
        })
}

pub(super) fn is_port(s: &str) -> bool {
    !s.is_empty() && s.len() <= 5 && s.bytes().all(|b| b.is_ascii_digit())
}
