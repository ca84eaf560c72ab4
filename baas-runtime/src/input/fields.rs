//! One field's input: the draft a body makes of it (modifiers applied) and its validation.

use std::collections::HashMap;
use std::sync::{OnceLock, PoisonError, RwLock};

use baas_schema::ir::{Field, FieldType, system};
use regex::Regex;
use serde_json::{Map, Value};

use crate::error::FieldError;

use super::*;

// --- fields -------------------------------------------------------------------------------

/// Fields a body can set: the declared ones and, in auth collections, `email`,
/// `emailVisibility` and `verified`. Never `id` (read apart), `tokenKey`, passwords or
/// autodates.
pub(super) fn takes_input(field: &Field) -> bool {
    match field.ty {
        FieldType::Autodate { .. } | FieldType::Password => false,
        _ => {
            !field.system || matches!(field.name.as_str(), system::EMAIL | system::EMAIL_VISIBILITY | system::VERIFIED)
        }
    }
}

/// A value being built, before it becomes JSON. Select, relation and file fields are lists;
/// a single one holds at most one item.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Draft {
    Text(String),
    Number(f64),
    Bool(bool),
    List(Vec<String>),
    Json(Value),
}

impl Draft {
    pub(super) fn zero(ty: &FieldType) -> Draft {
        match ty {
            FieldType::Number { .. } => Draft::Number(0.0),
            FieldType::Bool => Draft::Bool(false),
            FieldType::Select { .. } | FieldType::Relation { .. } | FieldType::File { .. } => Draft::List(Vec::new()),
            FieldType::Json => Draft::Json(Value::Null),
            FieldType::Text { .. }
            | FieldType::Email
            | FieldType::Url
            | FieldType::Date
            | FieldType::Autodate { .. }
            | FieldType::Password => Draft::Text(String::new()),
        }
    }

    /// A client's value, coerced to the type.
    pub(super) fn from_input(ty: &FieldType, raw: &Value) -> Draft {
        match ty {
            FieldType::Number { .. } => Draft::Number(to_number(raw)),
            FieldType::Bool => Draft::Bool(to_bool(raw)),
            FieldType::Date => Draft::Text(to_date(raw)),
            FieldType::Select { .. } | FieldType::Relation { .. } | FieldType::File { .. } => {
                Draft::List(single_or_all(ty, to_list(raw)))
            }
            FieldType::Json => Draft::Json(to_json(raw)),
            FieldType::Text { .. }
            | FieldType::Email
            | FieldType::Url
            | FieldType::Autodate { .. }
            | FieldType::Password => Draft::Text(to_text(raw)),
        }
    }

    pub(super) fn into_value(self, ty: &FieldType) -> Value {
        match self {
            Draft::Text(s) => Value::String(s),
            Draft::Number(n) => number_value(n),
            Draft::Bool(b) => Value::Bool(b),
            Draft::List(items) if ty.is_multiple() => Value::from(items),
            Draft::List(mut items) => Value::String(items.pop().unwrap_or_default()),
            Draft::Json(v) => v,
        }
    }

    /// Whether the value counts as empty for `required` (and skips the other checks).
    fn is_blank(&self) -> bool {
        match self {
            Draft::Text(s) => s.is_empty(),
            Draft::Number(n) => *n == 0.0,
            Draft::Bool(b) => !b,
            Draft::List(items) => items.is_empty(),
            Draft::Json(v) => match v {
                Value::Null => true,
                Value::String(s) => s.is_empty(),
                Value::Array(a) => a.is_empty(),
                Value::Object(o) => o.is_empty(),
                Value::Bool(_) | Value::Number(_) => false,
            },
        }
    }
}

/// What the body makes of `field`: `None` when no key of the body applies to it, else the
/// resulting value (plain value first, then the modifiers, on top of `current` or the zero).
pub(super) fn apply_body(field: &Field, body: &Map<String, Value>, current: Option<&Value>) -> Option<Draft> {
    let name = field.name.as_str();
    let plain = body.get(name);
    match &field.ty {
        FieldType::Number { .. } => {
            let add = body.get(&format!("{name}+"));
            let subtract = body.get(&format!("{name}-"));
            if plain.is_none() && add.is_none() && subtract.is_none() {
                return None;
            }
            let mut n = plain.or(current).map_or(0.0, to_number);
            if let Some(v) = add {
                n += to_number(v);
            }
            if let Some(v) = subtract {
                n -= to_number(v);
            }
            Some(Draft::Number(n))
        }
        FieldType::Select { .. } | FieldType::Relation { .. } => {
            let prepend = body.get(&format!("+{name}"));
            let append = body.get(&format!("{name}+"));
            let remove = body.get(&format!("{name}-"));
            if plain.is_none() && prepend.is_none() && append.is_none() && remove.is_none() {
                return None;
            }
            let mut items = single_or_all(&field.ty, plain.or(current).map(to_list).unwrap_or_default());
            if let Some(v) = prepend {
                items = single_or_all(&field.ty, unique(to_list(v).into_iter().chain(items)));
            }
            if let Some(v) = append {
                items = single_or_all(&field.ty, unique(items.into_iter().chain(to_list(v))));
            }
            if let Some(v) = remove {
                let gone = to_list(v);
                items.retain(|item| !gone.contains(item));
            }
            Some(Draft::List(items))
        }
        // Names, uploads and their modifiers are settled with the uploads (`files::resolve`).
        FieldType::File { .. } => None,
        _ => plain.map(|v| Draft::from_input(&field.ty, v)),
    }
}

/// The first problem with a field's value, as PocketBase reports it. File fields are checked
/// with their uploads, by the caller.
pub(super) fn field_error(field: &Field, draft: &Draft) -> Option<FieldError> {
    if matches!(field.ty, FieldType::File { .. }) {
        return None;
    }
    if let Draft::Number(n) = draft
        && !n.is_finite()
    {
        return Some(FieldError::new("validation_not_a_number", "The submitted number is not properly formatted."));
    }
    if draft.is_blank() {
        return field.required.then(FieldError::required);
    }
    match (&field.ty, draft) {
        (FieldType::Text { min, max, pattern }, Draft::Text(s)) => text_error(s, *min, *max, pattern.as_deref()),
        (FieldType::Email, Draft::Text(s)) => {
            (!is_email(s)).then(|| FieldError::new("validation_is_email", "Must be a valid email address."))
        }
        (FieldType::Url, Draft::Text(s)) => {
            (!is_url(s)).then(|| FieldError::new("validation_invalid_url", "Must be a valid url."))
        }
        (FieldType::Number { min, max, integer }, Draft::Number(n)) => number_error(*n, *min, *max, *integer),
        (FieldType::Select { values, .. }, Draft::List(items)) => items.iter().find(|v| !values.contains(v)).map(|v| {
            FieldError::new("validation_invalid_value", format!("Invalid value {v}.")).with_param("value", v.as_str())
        }),
        (FieldType::Relation { .. }, Draft::List(ids)) => {
            (!ids.iter().all(|id| crate::id::is_valid_id(id))).then(|| {
                FieldError::new(
                    "validation_missing_rel_records",
                    "Failed to find all relation records with the provided ids.",
                )
            })
        }
        _ => None,
    }
}

/// Length (in characters) and pattern of a non-empty text. No `max` means 5000.
pub(super) fn text_error(s: &str, min: Option<u32>, max: Option<u32>, pattern: Option<&str>) -> Option<FieldError> {
    let len = s.chars().count();
    if let Some(min) = min.filter(|&m| m > 0)
        && len < min as usize
    {
        return Some(
            FieldError::new("validation_min_text_constraint", format!("Must be at least {min} character(s)."))
                .with_param("min", min),
        );
    }
    let max = max.filter(|&m| m > 0).unwrap_or(TEXT_MAX_DEFAULT);
    if len > max as usize {
        return Some(
            FieldError::new("validation_max_text_constraint", format!("Must be no more than {max} character(s)."))
                .with_param("max", max),
        );
    }
    if let Some(pattern) = pattern.filter(|p| !p.is_empty())
        && !pattern_matches(pattern, s)
    {
        return Some(invalid_format());
    }
    None
}

/// `integer`, `min`, `max` of a non-zero number.
pub(super) fn number_error(n: f64, min: Option<f64>, max: Option<f64>, integer: bool) -> Option<FieldError> {
    if integer && n.fract() != 0.0 {
        return Some(FieldError::new("validation_only_int_constraint", "Decimal numbers are not allowed."));
    }
    if let Some(min) = min
        && n < min
    {
        return Some(
            FieldError::new(
                "validation_min_number_constraint",
                format!("Must be greater or equal than {}.", number_text(min)),
            )
            .with_param("min", number_value(min)),
        );
    }
    if let Some(max) = max
        && n > max
    {
        return Some(
            FieldError::new(
                "validation_max_number_constraint",
                format!("Must be less or equal than {}.", number_text(max)),
            )
            .with_param("max", number_value(max)),
        );
    }
    None
}

pub(super) fn invalid_format() -> FieldError {
    FieldError::new("validation_invalid_format", "Invalid value format.")
}

pub(super) fn mismatch() -> FieldError {
    FieldError::new("validation_values_mismatch", "Values don't match.")
}

/// Whether `pattern` matches somewhere in `text` (unanchored, like Go's `MatchString`).
/// Patterns are compiled once; one that does not compile matches nothing.
pub(super) fn pattern_matches(pattern: &str, text: &str) -> bool {
    static CACHE: OnceLock<RwLock<HashMap<String, Option<Regex>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let cached = cache.read().unwrap_or_else(PoisonError::into_inner).get(pattern).cloned();
    let regex = cached.unwrap_or_else(|| {
        let compiled = Regex::new(pattern).ok();
        cache.write().unwrap_or_else(PoisonError::into_inner).insert(pattern.to_owned(), compiled.clone());
        compiled
    });
    regex.is_some_and(|re| re.is_match(text))
}
