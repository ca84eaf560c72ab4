//! The auth form of auth collections: the id a client may choose, `email`, `verified` and the
//! password fields, checked before the record's own fields.

use baas_schema::ir::{Collection, FieldType, system};
use serde_json::{Map, Value};

use crate::error::{FieldError, FieldErrors};

use super::*;

// --- id and auth --------------------------------------------------------------------------

/// `id`: on update it must be absent or unchanged; on create a non-empty one must satisfy the
/// collection's id field (15 characters of `[a-z0-9]`) and is then kept.
pub(super) fn read_id(
    collection: &Collection,
    body: &Map<String, Value>,
    existing: Option<&Map<String, Value>>,
    values: &mut Map<String, Value>,
    errors: &mut FieldErrors,
) {
    let Some(raw) = body.get(system::ID) else { return };
    let given = to_text(raw);
    if let Some(existing) = existing {
        if existing.get(system::ID).map(to_text).unwrap_or_default() != given {
            errors.insert(
                system::ID.to_owned(),
                FieldError::new("validation_pk_change", "The record primary key cannot be changed."),
            );
        }
        return;
    }
    if given.is_empty() {
        return; // the caller generates one
    }
    let error = if let Some(c) = ID_FORBIDDEN.into_iter().find(|&c| given.contains(c)) {
        Some(
            FieldError::new("validation_pk_forbidden", "The record primary key contains forbidden characters.")
                .with_param("forbidden", c.to_string()),
        )
    } else {
        match collection.field(system::ID).map(|f| &f.ty) {
            Some(FieldType::Text { min, max, pattern }) => text_error(&given, *min, *max, pattern.as_deref()),
            _ => (!crate::id::is_valid_id(&given)).then(invalid_format),
        }
    };
    match error {
        Some(error) => {
            errors.insert(system::ID.to_owned(), error);
        }
        None => {
            values.insert(system::ID.to_owned(), Value::String(given));
        }
    }
}

/// The password keys of a body, as text (`""` when absent).
pub(super) struct Passwords {
    pub(super) password: String,
    confirm: String,
    pub(super) old: String,
}

impl Passwords {
    pub(super) fn read(body: &Map<String, Value>) -> Self {
        let text = |key: &str| body.get(key).map(to_text).unwrap_or_default();
        Passwords { password: text(system::PASSWORD), confirm: text(PASSWORD_CONFIRM), old: text(OLD_PASSWORD) }
    }
}

/// PocketBase's auth form checks, run before the record's field checks.
pub(super) fn auth_form_errors(
    body: &Map<String, Value>,
    passwords: &Passwords,
    existing: Option<&Map<String, Value>>,
    caller: &Writer,
    errors: &mut FieldErrors,
) {
    let is_new = existing.is_none();
    let stored = |key: &str| existing.and_then(|e| e.get(key));
    if !caller.superuser {
        // Email changes go through request-email-change; an unchanged email is fine.
        if let Some(existing) = existing
            && let Some(raw) = body.get(system::EMAIL)
            && to_text(raw) != existing.get(system::EMAIL).map(to_text).unwrap_or_default()
        {
            errors.insert(system::EMAIL.to_owned(), mismatch());
        }
        if let Some(raw) = body.get(system::VERIFIED)
            && to_bool(raw) != stored(system::VERIFIED).is_some_and(to_bool)
        {
            errors.insert(system::VERIFIED.to_owned(), mismatch());
        }
    }
    let Passwords { password, confirm, old } = passwords;
    if (is_new || !confirm.is_empty() || !old.is_empty()) && password.is_empty() {
        errors.insert(system::PASSWORD.to_owned(), FieldError::required());
    }
    if (is_new || !password.is_empty() || !old.is_empty()) && confirm.is_empty() {
        errors.insert(PASSWORD_CONFIRM.to_owned(), FieldError::required());
    } else if confirm != password {
        errors.insert(PASSWORD_CONFIRM.to_owned(), mismatch());
    }
    if !is_new && !caller.superuser && (!password.is_empty() || !confirm.is_empty()) && old.is_empty() {
        errors.insert(OLD_PASSWORD.to_owned(), FieldError::required());
    }
}

/// Length of a new password, in characters.
pub fn password_error(password: &str) -> Option<FieldError> {
    let len = password.chars().count();
    if len < PASSWORD_MIN {
        return Some(FieldError::new(
            "validation_min_text_constraint",
            format!("Must be at least {PASSWORD_MIN} character(s)."),
        ));
    }
    if len > PASSWORD_MAX {
        return Some(
            FieldError::new(
                "validation_max_text_constraint",
                format!("Must be no more than {PASSWORD_MAX} character(s)."),
            )
            .with_param("max", PASSWORD_MAX),
        );
    }
    None
}
