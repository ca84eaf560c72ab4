//! Client bodies in, record values out (pocketbase-api.md §2.2, §2.3, §3.1, §5).
//!
//! [`prepare`] turns the body of a create or update request into the validated, canonical
//! values of a record, and reports every failing field at once with PocketBase's codes,
//! messages and params. It touches no database, hashes nothing and knows nothing of HTTP:
//! relation targets are only checked for shape (their existence is the caller's query), file
//! fields are left to `files::resolve` (their names and uploads go together), and a new
//! password comes back in plain text for the caller to hash.
//!
//! Canonical values are what the API returns per field type: text, email, url, date and the
//! single select/relation/file fields are strings (`""` when unset); numbers are JSON numbers
//! (integral values as JSON integers); bools are bools; the multiple select/relation/file
//! fields are arrays of strings; json fields hold any JSON (`null` when unset). Autodate
//! fields are set by the server and password fields never appear among the values.
//!
//! How input is read, following what PocketBase does:
//!
//! - Unknown keys are ignored, and so are `created`, `updated`, other autodate fields and
//!   `tokenKey`. `password`, `passwordConfirm` and `oldPassword` only feed the password rules
//!   of auth collections.
//! - Each type coerces what it is given: `"12"` is 12 for a number (an unparseable string is
//!   0), `"true"`/`"1"`/`1` are true for a bool, a number sent to a text field becomes its
//!   decimal text and an object or array becomes `""`, `null` is the zero value. Select and
//!   relation values become a list of distinct non-empty strings (a string holding a JSON
//!   array is read as that array); a single field keeps the last item. Dates are normalized to
//!   `YYYY-MM-DD HH:MM:SS.sssZ`; an unparseable date is stored as `""` without an error. A
//!   string sent to a json field is read as JSON when it is `true`, `false`, `null` or starts
//!   like a number, a quoted string, an array or an object and parses; otherwise it stays a
//!   string.
//! - Update modifiers: `n+`/`n-` add to or subtract from a number; `+s`, `s+` and `s-`
//!   prepend, append and remove values of select and relation fields (file fields: see
//!   `files::resolve`). A plain value is applied first, then `+s`, `s+`, `s-`; on create they act on the zero
//!   value. Modifiers on other types (`body+` on text) are ignored.
//! - Hidden fields only take input from superusers; for anyone else they keep their value.
//!
//! Validation: on create every field is checked; on update only the fields the body touched
//! (a field that is not sent keeps its stored value, valid or not). Empty values skip every
//! check but `required`; for numbers that means 0 passes `min`/`max` (PocketBase does the
//! same). Auth collections are checked in two stages, as PocketBase does: first the auth form
//! (`email` and `verified` changes, `password`/`passwordConfirm`/`oldPassword` presence and
//! agreement); only when that passes are the record's fields checked (password length, email
//! format, the declared fields, …).

use baas_schema::ir::{Collection, FieldType, system};
use serde_json::{Map, Value};

use crate::error::{ApiError, FieldErrors};

mod auth;
mod coerce;
mod fields;

pub use auth::password_error;
use auth::*;
pub(crate) use coerce::is_email;
use coerce::*;
use fields::*;

/// The body key that must repeat `password` (auth collections).
pub const PASSWORD_CONFIRM: &str = "passwordConfirm";
/// The body key holding the current password when a non-superuser changes it.
pub const OLD_PASSWORD: &str = "oldPassword";
/// The multipart part whose JSON object is merged into the body.
pub const JSON_PAYLOAD: &str = "@jsonPayload";

/// Password length bounds, in characters. PocketBase's message for the minimum has no params.
const PASSWORD_MIN: usize = 8;
const PASSWORD_MAX: usize = 71;
/// The limit PocketBase applies to text fields that declare no `max`.
const TEXT_MAX_DEFAULT: u32 = 5000;
/// Characters a client-supplied record id may never contain, whatever its pattern says.
const ID_FORBIDDEN: [char; 2] = ['/', '\\'];
/// URL schemes accepted by the url check (besides no scheme at all, given a dotted host).
const URL_SCHEMES: [&str; 7] = ["http", "https", "ftp", "ws", "wss", "tcp", "udp"];

/// Whether the body creates a record or updates a stored one.
#[derive(Clone, Copy, Debug)]
pub enum Mode<'a> {
    Create,
    /// `existing` is the stored record: canonical values of all its fields, hidden ones
    /// included, as [`prepare`] produces them (the `id`, auth fields and so on).
    Update {
        existing: &'a Map<String, Value>,
    },
}

/// Who writes the body.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Writer {
    /// A superuser (PocketBase's "manage access"): may set `verified`, change `email`, change a
    /// password without `oldPassword`, and write hidden fields.
    pub superuser: bool,
    /// The caller is the auth record being written. PocketBase applies the same auth rules to
    /// every caller without manage access, so this does not change the outcome; it is kept for
    /// callers that want to state it.
    pub is_self: bool,
}

/// The outcome of a valid body.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Prepared {
    /// Canonical values by field name.
    ///
    /// On create: every field that takes input (every declared field, and `email`,
    /// `emailVisibility`, `verified` in auth collections), zero when not sent; plus `id` when
    /// the client supplied a valid one (when absent, the caller generates one). Autodate
    /// fields, `tokenKey` and `password` are never here.
    ///
    /// On update: only the fields whose value changes (`id` never).
    pub values: Map<String, Value>,
    /// A new plain-text password to hash, when one was given and is valid.
    pub password: Option<String>,
    /// On update by a non-superuser that changes the password: the `oldPassword` given, for
    /// the caller to check against the stored hash. When it does not match, PocketBase answers
    /// `oldPassword: validation_invalid_old_password` ("Missing or invalid old password.").
    pub old_password: Option<String>,
}

/// Reads `body` for a record of `collection`: coerces, applies update modifiers and validates.
/// All failing fields are reported together (within the auth stage described in the module
/// documentation). Not meant for view collections, which take no writes.
pub fn prepare(
    collection: &Collection,
    body: &Map<String, Value>,
    mode: Mode<'_>,
    caller: &Writer,
) -> Result<Prepared, FieldErrors> {
    let existing = match mode {
        Mode::Create => None,
        Mode::Update { existing } => Some(existing),
    };
    let mut errors = FieldErrors::new();
    let mut prepared = Prepared::default();

    // Auth collections: the form checks come first and, when they fail, alone.
    let passwords = collection.is_auth().then(|| Passwords::read(body));
    if let Some(passwords) = &passwords {
        auth_form_errors(body, passwords, existing, caller, &mut errors);
        if !errors.is_empty() {
            return Err(errors);
        }
    }

    read_id(collection, body, existing, &mut prepared.values, &mut errors);

    for field in collection.fields.iter().filter(|f| takes_input(f)) {
        let current = existing.and_then(|e| e.get(&field.name));
        let locked = field.hidden && !caller.superuser;
        let sent = if locked { None } else { apply_body(field, body, current) };
        let draft = match (existing, sent) {
            // superusers are always verified, as in PocketBase
            _ if collection.name == system::SUPERUSERS && field.name == system::VERIFIED => Draft::Bool(true),
            (None, draft) => draft.unwrap_or_else(|| Draft::zero(&field.ty)),
            (Some(_), Some(draft)) => draft,
            (Some(_), None) => continue,
        };
        if let Some(error) = field_error(field, &draft) {
            errors.insert(field.name.clone(), error);
            continue;
        }
        let value = draft.into_value(&field.ty);
        if existing.is_none() || current.is_none_or(|c| !same_value(c, &value)) {
            prepared.values.insert(field.name.clone(), value);
        }
    }

    if let Some(passwords) = passwords
        && !passwords.password.is_empty()
    {
        match password_error(&passwords.password) {
            Some(error) => {
                errors.insert(system::PASSWORD.to_owned(), error);
            }
            None => {
                if existing.is_some() && !caller.superuser {
                    prepared.old_password = Some(passwords.old);
                }
                prepared.password = Some(passwords.password);
            }
        }
    }

    if errors.is_empty() { Ok(prepared) } else { Err(errors) }
}

/// Builds a body from multipart plain parts (file parts are the caller's).
///
/// Values are inferred as PocketBase does: `"true"`/`"false"` become bools, a number written
/// in its shortest form (`"2"`, `"-1.5"`, not `"007"` or `"1e3"`) becomes a number, anything
/// else stays a string. A name given several times becomes an array of its values. Every
/// `@jsonPayload` part must hold a JSON object; its keys are merged into the body, over the
/// plain parts and in order. A payload that is not a JSON object is a 400
/// "Something went wrong while processing your request.".
pub fn from_multipart_parts(parts: Vec<(String, String)>) -> Result<Map<String, Value>, ApiError> {
    let mut body = Map::new();
    let mut payloads = Vec::new();
    for (name, text) in parts {
        if name == JSON_PAYLOAD {
            payloads.push(text);
            continue;
        }
        let value = infer(&text);
        match body.get_mut(&name) {
            None => {
                body.insert(name, value);
            }
            Some(Value::Array(items)) => items.push(value),
            Some(first) => {
                let first_value = first.take();
                *first = Value::Array(vec![first_value, value]);
            }
        }
    }
    for payload in payloads {
        match serde_json::from_str(&payload) {
            Ok(Value::Object(object)) => body.extend(object),
            _ => return Err(ApiError::invalid_request()),
        }
    }
    Ok(body)
}

/// The empty value of a field type: `""`, `0`, `false`, `[]` or `null`. Autodate and password
/// fields give `""`.
pub fn zero(ty: &FieldType) -> Value {
    Draft::zero(ty).into_value(ty)
}

/// The canonical value of `raw` for a field of type `ty`, coerced as [`prepare`] coerces a
/// plain body value, without validation. Autodate and password fields give a string.
pub fn coerce(ty: &FieldType, raw: &Value) -> Value {
    Draft::from_input(ty, raw).into_value(ty)
}

/// The input rules, field type by field type, as PocketBase applies them.
#[cfg(test)]
mod tests {
    use baas_schema::front::yaml;
    use baas_schema::{Diagnostics, Schema, SourceFile};
    use serde_json::json;

    use super::*;
    use crate::error::FieldError;

    /// Every field type, optional, plus a hidden text.
    const THINGS: &str = r#"
    collections:
      things:
        fields:
          title:    { type: text, min: 3, max: 10, pattern: "^[a-z ]+$" }
          note:     { type: text }
          count:    { type: number, min: 1, max: 10, integer: true }
          ratio:    { type: number }
          flag:     { type: bool }
          contact:  { type: email }
          site:     { type: url }
          when:     { type: date }
          color:    { type: select, values: [red, green, blue] }
          colors:   { type: select, values: [red, green, blue], multiple: true }
          owner:    { type: relation, collection: things }
          owners:   { type: relation, collection: things, multiple: true }
          meta:     { type: json }
          doc:      { type: file }
          docs:     { type: file, multiple: true }
          stamp:    { type: autodate }
          secret:   { type: text, hidden: true }
      musts:
        fields:
          text:     { type: text, required: true }
          number:   { type: number, required: true }
          bool:     { type: bool, required: true }
          email:    { type: email, required: true }
          url:      { type: url, required: true }
          date:     { type: date, required: true }
          select:   { type: select, values: [a, b], required: true }
          selects:  { type: select, values: [a, b], multiple: true, required: true }
          rel:      { type: relation, collection: musts, required: true }
          rels:     { type: relation, collection: musts, multiple: true, required: true }
          json:     { type: json, required: true }
          file:     { type: file, required: true }
    "#;

    const ID: &str = "abcdefghij12345";
    const ID2: &str = "zyxwvutsrq98765";
    const ID3: &str = "mmmmmmmmmm00000";

    fn schema(text: &str) -> Schema {
        let file = SourceFile::new("test.yaml", text);
        let mut diags = Diagnostics::new();
        let schema = yaml::load(&file, &mut diags);
        assert!(!diags.has_errors(), "{}", diags.render(&file));
        schema.expect("a schema")
    }

    fn collection(text: &str, name: &str) -> Collection {
        schema(text).collection(name).cloned().unwrap_or_else(|| panic!("no collection {name}"))
    }

    fn things() -> Collection {
        collection(THINGS, "things")
    }

    fn blog(name: &str) -> Collection {
        collection(include_str!("../../../schemas/blog.yaml"), name)
    }

    fn obj(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    const ANON: Writer = Writer { superuser: false, is_self: false };
    const SELF: Writer = Writer { superuser: false, is_self: true };
    const SUPERUSER: Writer = Writer { superuser: true, is_self: false };

    fn create(c: &Collection, body: Value) -> Result<Prepared, FieldErrors> {
        prepare(c, &obj(body), Mode::Create, &ANON)
    }

    fn created(c: &Collection, body: Value) -> Map<String, Value> {
        create(c, body).unwrap_or_else(|e| panic!("unexpected errors: {e:?}")).values
    }

    fn update(
        c: &Collection,
        existing: &Map<String, Value>,
        body: Value,
        caller: &Writer,
    ) -> Result<Prepared, FieldErrors> {
        prepare(c, &obj(body), Mode::Update { existing }, caller)
    }

    fn updated(c: &Collection, existing: &Map<String, Value>, body: Value) -> Map<String, Value> {
        update(c, existing, body, &ANON).unwrap_or_else(|e| panic!("unexpected errors: {e:?}")).values
    }

    /// A stored `things` record: zero values plus `id` and the given overrides.
    fn stored_thing(overrides: Value) -> Map<String, Value> {
        let c = things();
        let mut record = Map::new();
        for f in &c.fields {
            record.insert(f.name.clone(), zero(&f.ty));
        }
        record.insert("id".into(), json!(ID));
        record.extend(obj(overrides));
        record
    }

    /// The errors as `{field: code}`.
    fn codes(errors: &FieldErrors) -> Value {
        errors.iter().map(|(k, e)| (k.clone(), Value::from(e.code))).collect::<Map<_, _>>().into()
    }

    fn create_codes(c: &Collection, body: Value) -> Value {
        codes(&create(c, body).expect_err("errors expected"))
    }

    fn error_json(e: &FieldError) -> Value {
        serde_json::to_value(e).expect("serializable")
    }

    // --- shapes and zero values -------------------------------------------------------------

    #[test]
    fn create_fills_every_input_field_with_its_zero_value() {
        let values = created(&things(), json!({}));
        assert_eq!(
            Value::Object(values),
            json!({
                "title": "", "note": "", "count": 0, "ratio": 0, "flag": false, "contact": "", "site": "",
                "when": "", "color": "", "colors": [], "owner": "", "owners": [], "meta": null,
                "doc": "", "docs": [], "secret": ""
            })
        );
    }

    #[test]
    fn zero_values_per_type() {
        let c = things();
        let zeros: Map<String, Value> = c.fields.iter().map(|f| (f.name.clone(), zero(&f.ty))).collect();
        assert_eq!(zeros["id"], json!(""));
        assert_eq!(zeros["count"], json!(0));
        assert!(zeros["count"].is_i64(), "0 is an integer in JSON");
        assert_eq!(zeros["flag"], json!(false));
        assert_eq!(zeros["colors"], json!([]));
        assert_eq!(zeros["color"], json!(""));
        assert_eq!(zeros["owners"], json!([]));
        assert_eq!(zeros["docs"], json!([]));
        assert_eq!(zeros["meta"], Value::Null);
        assert_eq!(zeros["created"], json!(""));
        assert_eq!(zero(&FieldType::Password), json!(""));
    }

    #[test]
    fn unknown_keys_are_ignored() {
        let values = created(&things(), json!({"nope": 1, "expand": "x", "passwordConfirm": "x", "note": "hi"}));
        assert_eq!(values["note"], json!("hi"));
        assert!(
            !values.contains_key("nope") && !values.contains_key("expand") && !values.contains_key("passwordConfirm")
        );
    }

    #[test]
    fn autodate_token_key_and_password_are_never_taken_as_plain_fields() {
        let values = created(
            &things(),
            json!({"created": "2020-01-01 00:00:00.000Z", "updated": "2020-01-01", "stamp": "2020-01-01", "tokenKey": "x", "password": "12345678"}),
        );
        for key in ["created", "updated", "stamp", "tokenKey", "password"] {
            assert!(!values.contains_key(key), "{key} must not be taken");
        }
        let users = blog("users");
        let body = json!({"email": "a@example.com", "password": "12345678", "passwordConfirm": "12345678", "tokenKey": "mine"});
        let prepared = create(&users, body).expect("valid");
        assert!(!prepared.values.contains_key("tokenKey") && !prepared.values.contains_key("password"));
        assert_eq!(prepared.password.as_deref(), Some("12345678"));
    }

    // --- id -----------------------------------------------------------------------------------

    #[test]
    fn a_valid_client_id_is_kept_on_create_and_an_empty_one_left_out() {
        assert_eq!(created(&things(), json!({"id": ID}))["id"], json!(ID));
        assert!(!created(&things(), json!({"id": ""})).contains_key("id"));
        assert!(!created(&things(), json!({"id": null})).contains_key("id"));
        assert!(!created(&things(), json!({})).contains_key("id"));
    }

    #[test]
    fn an_invalid_client_id_fails_like_the_id_text_field() {
        let c = things();
        let short = create(&c, json!({"id": "abc"})).expect_err("too short");
        assert_eq!(
            error_json(&short["id"]),
            json!({"code": "validation_min_text_constraint", "message": "Must be at least 15 character(s).", "params": {"min": 15}})
        );
        let long = create(&c, json!({"id": "abcdefghij123456"})).expect_err("too long");
        assert_eq!(
            error_json(&long["id"]),
            json!({"code": "validation_max_text_constraint", "message": "Must be no more than 15 character(s).", "params": {"max": 15}})
        );
        assert_eq!(create_codes(&c, json!({"id": "ABCDEFGHIJ12345"})), json!({"id": "validation_invalid_format"}));
        assert_eq!(create_codes(&c, json!({"id": "abcdefghij1234_"})), json!({"id": "validation_invalid_format"}));
        assert_eq!(create_codes(&c, json!({"id": "abcdefghij1234/"})), json!({"id": "validation_pk_forbidden"}));
    }

    #[test]
    fn the_id_cannot_change_on_update() {
        let c = things();
        let existing = stored_thing(json!({}));
        let errors = update(&c, &existing, json!({"id": ID2}), &SUPERUSER).expect_err("pk change");
        assert_eq!(
            error_json(&errors["id"]),
            json!({"code": "validation_pk_change", "message": "The record primary key cannot be changed."})
        );
        assert_eq!(
            codes(&update(&c, &existing, json!({"id": ""}), &ANON).expect_err("pk change")),
            json!({"id": "validation_pk_change"})
        );
        assert!(updated(&c, &existing, json!({"id": ID})).is_empty(), "the same id is fine and changes nothing");
    }

    // --- coercion ---------------------------------------------------------------------------

    #[test]
    fn numbers_are_coerced_and_integral_values_stay_integers() {
        let c = things();
        let values = created(&c, json!({"count": "7", "ratio": 2.5}));
        assert_eq!(values["count"], json!(7));
        assert!(values["count"].is_i64());
        assert_eq!(values["ratio"], json!(2.5));
        assert_eq!(created(&c, json!({"ratio": 3.0}))["ratio"], json!(3));
        assert!(created(&c, json!({"ratio": 3.0}))["ratio"].is_i64());
        assert_eq!(created(&c, json!({"ratio": "abc"}))["ratio"], json!(0));
        assert_eq!(created(&c, json!({"ratio": true}))["ratio"], json!(1));
        assert_eq!(created(&c, json!({"ratio": [1]}))["ratio"], json!(0));
        assert_eq!(create_codes(&c, json!({"ratio": "NaN"})), json!({"ratio": "validation_not_a_number"}));
    }

    #[test]
    fn bools_are_coerced() {
        let c = things();
        for (input, expected) in [
            (json!(true), true),
            (json!("true"), true),
            (json!("1"), true),
            (json!(1), true),
            (json!(0), false),
            (json!("false"), false),
            (json!("0"), false),
            (json!("yes"), false),
            (json!(null), false),
        ] {
            assert_eq!(created(&c, json!({"flag": input.clone()}))["flag"], json!(expected), "{input}");
        }
    }

    #[test]
    fn text_takes_the_text_of_scalars_and_empties_objects_and_arrays() {
        let c = things();
        assert_eq!(created(&c, json!({"note": 12}))["note"], json!("12"));
        assert_eq!(created(&c, json!({"note": 1.5}))["note"], json!("1.5"));
        assert_eq!(created(&c, json!({"note": true}))["note"], json!("true"));
        assert_eq!(created(&c, json!({"note": {"a": 1}}))["note"], json!(""));
        assert_eq!(created(&c, json!({"note": ["a"]}))["note"], json!(""));
        assert_eq!(created(&c, json!({"note": "  kept as is "}))["note"], json!("  kept as is "));
    }

    #[test]
    fn null_gives_the_zero_value_of_every_type() {
        let c = things();
        let existing = stored_thing(json!({
            "note": "x", "count": 3, "flag": true, "when": "2025-05-05 00:00:00.000Z", "color": "red",
            "colors": ["red"], "owner": ID2, "owners": [ID2], "meta": {"a": 1}, "doc": "a.txt", "docs": ["b.txt"]
        }));
        let nulls: Map<String, Value> = existing
            .keys()
            // file fields are `files::resolve`'s
            .filter(|k| !matches!(k.as_str(), "id" | "created" | "updated" | "stamp" | "doc" | "docs"))
            .map(|k| (k.clone(), Value::Null))
            .collect();
        let values = updated(&c, &existing, Value::Object(nulls));
        assert_eq!(
            Value::Object(values),
            json!({
                "note": "", "count": 0, "flag": false, "when": "", "color": "", "colors": [], "owner": "",
                "owners": [], "meta": null
            })
        );
    }

    #[test]
    fn single_select_and_relation_keep_the_last_item_and_multiple_ones_take_a_single_string() {
        let c = things();
        let values =
            created(&c, json!({"color": ["red", "blue"], "owner": [ID, ID2], "colors": "green", "owners": ID}));
        assert_eq!(values["color"], json!("blue"));
        assert_eq!(values["owner"], json!(ID2));
        assert_eq!(values["colors"], json!(["green"]));
        assert_eq!(values["owners"], json!([ID]));
    }

    #[test]
    fn lists_drop_repeats_and_empty_items_and_read_json_arrays_in_strings() {
        let c = things();
        let values = created(&c, json!({"colors": ["red", "", "red", "blue"], "color": ["red", "blue", "red"]}));
        assert_eq!(values["colors"], json!(["red", "blue"]));
        assert_eq!(values["color"], json!("blue"), "the last distinct item");
        assert_eq!(created(&c, json!({"colors": r#"["green","red"]"#}))["colors"], json!(["green", "red"]));
        assert_eq!(created(&c, json!({"colors": ""}))["colors"], json!([]));
    }

    #[test]
    fn dates_are_normalized_and_invalid_ones_stored_empty_without_error() {
        let c = things();
        assert_eq!(created(&c, json!({"when": "2025-05-05T10:00:00Z"}))["when"], json!("2025-05-05 10:00:00.000Z"));
        assert_eq!(created(&c, json!({"when": "2025-05-05"}))["when"], json!("2025-05-05 00:00:00.000Z"));
        assert_eq!(created(&c, json!({"when": "2025-05-05 10:00:00.123Z"}))["when"], json!("2025-05-05 10:00:00.123Z"));
        assert_eq!(created(&c, json!({"when": "not a date"}))["when"], json!(""));
        assert_eq!(created(&c, json!({"when": 12}))["when"], json!(""));
    }

    #[test]
    fn json_fields_keep_json_and_read_json_looking_strings() {
        let c = things();
        let meta = |input: Value| created(&c, json!({"meta": input}))["meta"].clone();
        assert_eq!(meta(json!({"a": [1, 2]})), json!({"a": [1, 2]}));
        assert_eq!(meta(json!(false)), json!(false));
        assert_eq!(meta(json!("true")), json!(true));
        assert_eq!(meta(json!("null")), Value::Null);
        assert_eq!(meta(json!("[1,2]")), json!([1, 2]));
        assert_eq!(meta(json!(r#"{"a":1}"#)), json!({"a": 1}));
        assert_eq!(meta(json!("12")), json!(12));
        assert_eq!(meta(json!(r#""quoted""#)), json!("quoted"));
        assert_eq!(meta(json!("hello")), json!("hello"));
        assert_eq!(meta(json!("[broken")), json!("[broken"));
        assert_eq!(meta(json!("")), json!(""));
    }

    #[test]
    fn coerce_matches_what_prepare_stores() {
        let c = things();
        let ty = |name: &str| c.field(name).map(|f| f.ty.clone()).expect("field");
        assert_eq!(coerce(&ty("count"), &json!("4")), json!(4));
        assert_eq!(coerce(&ty("color"), &json!(["red", "green"])), json!("green"));
        assert_eq!(coerce(&ty("colors"), &json!("red")), json!(["red"]));
        assert_eq!(coerce(&ty("note"), &json!({"a": 1})), json!(""));
    }

    // --- modifiers ----------------------------------------------------------------------------

    #[test]
    fn number_modifiers_add_and_subtract() {
        let c = things();
        let existing = stored_thing(json!({"count": 5, "ratio": 1.5}));
        assert_eq!(Value::Object(updated(&c, &existing, json!({"count+": 2}))), json!({"count": 7}));
        assert_eq!(Value::Object(updated(&c, &existing, json!({"count-": "2"}))), json!({"count": 3}));
        assert_eq!(Value::Object(updated(&c, &existing, json!({"ratio+": 1}))), json!({"ratio": 2.5}));
        assert_eq!(Value::Object(updated(&c, &existing, json!({"count+": 3, "count-": 1}))), json!({"count": 7}));
        // plain value first, then the modifiers
        assert!(updated(&c, &existing, json!({"count": 2, "count+": 3})).is_empty(), "2 + 3 is the stored 5");
        assert_eq!(Value::Object(updated(&c, &existing, json!({"count": 1, "count+": 3}))), json!({"count": 4}));
        // on create they act on zero
        assert_eq!(created(&c, json!({"count+": 4}))["count"], json!(4));
        assert_eq!(created(&c, json!({"ratio-": 4}))["ratio"], json!(-4));
    }

    #[test]
    fn number_modifiers_are_validated() {
        let c = things();
        let existing = stored_thing(json!({"count": 2}));
        let errors = update(&c, &existing, json!({"count-": 3}), &ANON).expect_err("below min");
        assert_eq!(
            error_json(&errors["count"]),
            json!({"code": "validation_min_number_constraint", "message": "Must be greater or equal than 1.", "params": {"min": 1}})
        );
        let errors = update(&c, &existing, json!({"count+": 9}), &ANON).expect_err("above max");
        assert_eq!(errors["count"].code, "validation_max_number_constraint");
    }

    #[test]
    fn list_modifiers_append_prepend_and_remove() {
        let c = things();
        let existing = stored_thing(json!({"colors": ["red"], "owners": [ID]}));
        let colors = |body: Value| updated(&c, &existing, body).get("colors").cloned();
        assert_eq!(colors(json!({"colors+": "blue"})), Some(json!(["red", "blue"])));
        assert_eq!(colors(json!({"colors+": ["blue", "green"]})), Some(json!(["red", "blue", "green"])));
        assert_eq!(colors(json!({"+colors": "blue"})), Some(json!(["blue", "red"])));
        assert_eq!(colors(json!({"colors-": "red"})), Some(json!([])));
        assert_eq!(colors(json!({"colors-": ["red", "blue"]})), Some(json!([])));
        assert_eq!(colors(json!({"colors+": "red"})), None, "appending a present value changes nothing");
        let owners = updated(&c, &existing, json!({"owners+": [ID2, ID2], "+owners": ID3}));
        assert_eq!(owners["owners"], json!([ID3, ID, ID2]));
    }

    #[test]
    fn a_plain_value_and_several_modifiers_combine() {
        let c = things();
        let existing = stored_thing(json!({"colors": ["red"]}));
        let values = updated(
            &c,
            &existing,
            json!({"colors": ["green"], "colors+": "blue", "+colors": "red", "colors-": "green"}),
        );
        assert_eq!(values["colors"], json!(["red", "blue"]));
        let values = created(&c, json!({"colors+": "blue", "+colors": "green"}));
        assert_eq!(values["colors"], json!(["green", "blue"]));
    }

    #[test]
    fn modifiers_on_single_fields_follow_the_last_item_rule() {
        let c = things();
        let existing = stored_thing(json!({"color": "red"}));
        assert_eq!(updated(&c, &existing, json!({"color+": "blue"}))["color"], json!("blue"));
        assert!(updated(&c, &existing, json!({"+color": "blue"})).is_empty(), "prepending keeps the current last");
        assert_eq!(updated(&c, &existing, json!({"color-": "red"}))["color"], json!(""));
    }

    #[test]
    fn modifiers_on_text_are_ignored() {
        let c = things();
        let existing = stored_thing(json!({"note": "x"}));
        assert!(updated(&c, &existing, json!({"note+": "y", "+note": "z", "note-": "x"})).is_empty());
    }

    // --- validation ---------------------------------------------------------------------------

    #[test]
    fn required_fields_reject_blank_values_on_create() {
        let c = collection(THINGS, "musts");
        let errors = create(&c, json!({"bool": false, "number": 0, "selects": [], "json": {}})).expect_err("blank");
        let blank: Vec<&str> = errors.keys().map(String::as_str).collect();
        assert_eq!(
            blank,
            ["bool", "date", "email", "json", "number", "rel", "rels", "select", "selects", "text", "url"]
        );
        assert!(errors.values().all(|e| *e == FieldError::required()));
        assert_eq!(error_json(&errors["text"]), json!({"code": "validation_required", "message": "Cannot be blank."}));
        for blank_json in [json!(null), json!(""), json!([]), json!({})] {
            assert!(
                create(&c, json!({"json": blank_json.clone()})).expect_err("blank").contains_key("json"),
                "{blank_json}"
            );
        }
        assert!(!create(&c, json!({"json": 0})).expect_err("others blank").contains_key("json"));
    }

    #[test]
    fn required_on_update_is_checked_only_for_touched_fields() {
        let c = blog("posts");
        let existing = obj(
            json!({"id": ID, "title": "Hello", "body": "", "published": false, "author": ID2, "tags": [], "views": 0, "attachment": ""}),
        );
        assert_eq!(Value::Object(updated(&c, &existing, json!({"body": "text"}))), json!({"body": "text"}));
        assert_eq!(
            codes(&update(&c, &existing, json!({"title": ""}), &ANON).expect_err("blank")),
            json!({"title": "validation_required"})
        );
        // a required field that is stored empty and not sent is left alone
        let mut broken = existing.clone();
        broken.insert("title".into(), json!(""));
        assert!(update(&c, &broken, json!({"body": "x"}), &ANON).is_ok());
    }

    #[test]
    fn text_length_and_pattern() {
        let c = things();
        let errors = create(&c, json!({"title": "ab"})).expect_err("short");
        assert_eq!(
            error_json(&errors["title"]),
            json!({"code": "validation_min_text_constraint", "message": "Must be at least 3 character(s).", "params": {"min": 3}})
        );
        let errors = create(&c, json!({"title": "abcdefghijk"})).expect_err("long");
        assert_eq!(
            error_json(&errors["title"]),
            json!({"code": "validation_max_text_constraint", "message": "Must be no more than 10 character(s).", "params": {"max": 10}})
        );
        let errors = create(&c, json!({"title": "ABC"})).expect_err("pattern");
        assert_eq!(
            error_json(&errors["title"]),
            json!({"code": "validation_invalid_format", "message": "Invalid value format."})
        );
        // length counts characters, not bytes
        let min3 = collection("collections:\n  t:\n    fields:\n      x: { type: text, min: 3 }\n", "t");
        assert_eq!(created(&min3, json!({"x": "ééé"}))["x"], json!("ééé"));
        assert_eq!(create_codes(&min3, json!({"x": "éé"})), json!({"x": "validation_min_text_constraint"}));
        // empty optional text skips the checks
        assert!(create(&c, json!({"title": ""})).is_ok());
    }

    #[test]
    fn text_without_max_is_limited_to_5000_characters() {
        let c = things();
        assert!(create(&c, json!({"note": "a".repeat(5000)})).is_ok());
        let errors = create(&c, json!({"note": "a".repeat(5001)})).expect_err("too long");
        assert_eq!(errors["note"].params, Some(obj(json!({"max": 5000}))));
    }

    #[test]
    fn number_bounds_and_integers() {
        let c = things();
        let errors = create(&c, json!({"count": 1.5})).expect_err("decimal");
        assert_eq!(
            error_json(&errors["count"]),
            json!({"code": "validation_only_int_constraint", "message": "Decimal numbers are not allowed."})
        );
        let errors = create(&c, json!({"count": 11})).expect_err("max");
        assert_eq!(
            error_json(&errors["count"]),
            json!({"code": "validation_max_number_constraint", "message": "Must be less or equal than 10.", "params": {"max": 10}})
        );
        let errors = create(&c, json!({"count": -1})).expect_err("min");
        assert_eq!(
            error_json(&errors["count"]),
            json!({"code": "validation_min_number_constraint", "message": "Must be greater or equal than 1.", "params": {"min": 1}})
        );
        assert!(create(&c, json!({"count": 0})).is_ok(), "zero skips min/max unless required");
        assert!(create(&c, json!({"count": 10})).is_ok());
    }

    #[test]
    fn number_bounds_in_messages_keep_their_fraction() {
        let c = collection("collections:\n  n:\n    fields:\n      x: { type: number, min: 0.5 }\n", "n");
        let errors = create(&c, json!({"x": 0.25})).expect_err("below");
        assert_eq!(
            error_json(&errors["x"]),
            json!({"code": "validation_min_number_constraint", "message": "Must be greater or equal than 0.5.", "params": {"min": 0.5}})
        );
    }

    #[test]
    fn select_values_must_be_allowed() {
        let c = things();
        let errors = create(&c, json!({"color": "pink", "colors": ["red", "sports"]})).expect_err("invalid");
        assert_eq!(
            error_json(&errors["colors"]),
            json!({"code": "validation_invalid_value", "message": "Invalid value sports.", "params": {"value": "sports"}})
        );
        assert_eq!(errors["color"].message, "Invalid value pink.");
    }

    #[test]
    fn emails_and_urls_are_checked_when_not_empty() {
        let c = things();
        for bad in ["plain", "a@b", "a @b.com", "@b.com", "a@b@c.com", "a@.com"] {
            let errors = create(&c, json!({"contact": bad})).expect_err(bad);
            assert_eq!(
                error_json(&errors["contact"]),
                json!({"code": "validation_is_email", "message": "Must be a valid email address."})
            );
        }
        for good in ["a@example.com", "first.last+tag@sub.example.org"] {
            assert!(create(&c, json!({"contact": good})).is_ok(), "{good}");
        }
        for bad in [
            "not a url",
            "notaurl",
            "javascript:alert(1)",
            "mailto",
            "http://",
            "http://exa mple.com",
            "gopher://x.com",
            "http://host:port",
        ] {
            let errors = create(&c, json!({"site": bad})).expect_err(bad);
            assert_eq!(
                error_json(&errors["site"]),
                json!({"code": "validation_invalid_url", "message": "Must be a valid url."})
            );
        }
        for good in [
            "https://example.com",
            "http://localhost:8090/api?x=1#y",
            "http://user:pw@example.com/path",
            "example.com/path",
            "HTTPS://EXAMPLE.COM",
            "http://127.0.0.1:80",
            "http://[::1]:8080/",
        ] {
            assert!(create(&c, json!({"site": good})).is_ok(), "{good}");
        }
        assert!(create(&c, json!({"contact": "", "site": ""})).is_ok());
    }

    #[test]
    fn relation_ids_must_look_like_record_ids() {
        let c = things();
        let errors = create(&c, json!({"owner": "nope", "owners": [ID, "BAD"]})).expect_err("shape");
        let expected = json!({"code": "validation_missing_rel_records", "message": "Failed to find all relation records with the provided ids."});
        assert_eq!(error_json(&errors["owner"]), expected);
        assert_eq!(error_json(&errors["owners"]), expected);
        assert!(create(&c, json!({"owner": ID, "owners": [ID, ID2]})).is_ok());
    }

    #[test]
    fn all_failing_fields_are_reported_together() {
        let c = things();
        let errors = create(
            &c,
            json!({"id": "x", "title": "A", "count": 100, "color": "pink", "contact": "x", "site": "x", "owner": "x"}),
        )
        .expect_err("many");
        assert_eq!(
            codes(&errors),
            json!({
                "id": "validation_min_text_constraint", "title": "validation_min_text_constraint",
                "count": "validation_max_number_constraint", "color": "validation_invalid_value",
                "contact": "validation_is_email", "site": "validation_invalid_url", "owner": "validation_missing_rel_records"
            })
        );
    }

    // --- files --------------------------------------------------------------------------------

    #[test]
    fn file_fields_are_left_to_the_upload_handling() {
        let c = things();
        let existing = stored_thing(json!({"doc": "a_1234567890.txt", "docs": ["b_1234567890.txt"]}));
        assert!(updated(&c, &existing, json!({"doc": null, "docs-": "b_1234567890.txt", "docs+": "y"})).is_empty());
        assert_eq!(created(&c, json!({"doc": "x.txt", "docs": ["y.txt"]}))["docs"], json!([]));
    }

    #[test]
    fn required_files_are_left_to_the_upload_handling() {
        let c = collection(THINGS, "musts");
        let errors = create(&c, json!({})).expect_err("others are blank");
        assert!(!errors.contains_key("file"));
    }

    // --- hidden fields and updates ----------------------------------------------------------------

    #[test]
    fn hidden_fields_take_input_from_superusers_only() {
        let c = things();
        assert_eq!(created(&c, json!({"secret": "s"}))["secret"], json!(""));
        let values = prepare(&c, &obj(json!({"secret": "s"})), Mode::Create, &SUPERUSER).expect("valid").values;
        assert_eq!(values["secret"], json!("s"));
        let existing = stored_thing(json!({"secret": "old"}));
        assert!(updated(&c, &existing, json!({"secret": "new"})).is_empty());
        let values = update(&c, &existing, json!({"secret": "new"}), &SUPERUSER).expect("valid").values;
        assert_eq!(Value::Object(values), json!({"secret": "new"}));
    }

    #[test]
    fn update_returns_only_the_fields_that_change() {
        let c = things();
        let existing = stored_thing(json!({"note": "same", "count": 5.0, "colors": ["red"]}));
        let values = updated(
            &c,
            &existing,
            json!({"note": "same", "count": "5", "colors": "red", "flag": true, "title": "new one"}),
        );
        assert_eq!(Value::Object(values), json!({"flag": true, "title": "new one"}));
    }

    // --- the blog schema --------------------------------------------------------------------------

    #[test]
    fn a_blog_post_is_created() {
        let c = blog("posts");
        let values = created(
            &c,
            json!({"title": "Hello", "author": ID, "tags": ["tech", "news"], "views": "3", "published": "true"}),
        );
        assert_eq!(
            Value::Object(values),
            json!({"title": "Hello", "body": "", "published": true, "author": ID, "tags": ["tech", "news"], "views": 3, "attachment": "", "comment_count": 0})
        );
        assert_eq!(
            create_codes(&c, json!({})),
            json!({"title": "validation_required", "author": "validation_required"})
        );
    }

    // --- auth collections -------------------------------------------------------------------------

    fn signup(extra: Value) -> Value {
        let mut body = obj(json!({"email": "a@example.com", "password": "12345678", "passwordConfirm": "12345678"}));
        body.extend(obj(extra));
        Value::Object(body)
    }

    fn stored_user() -> Map<String, Value> {
        obj(json!({
            "id": ID, "password": "$argon2id$stored", "tokenKey": "k", "email": "a@example.com",
            "emailVisibility": false, "verified": false, "name": "Alice",
            "created": "2025-01-01 00:00:00.000Z", "updated": "2025-01-01 00:00:00.000Z"
        }))
    }

    #[test]
    fn signup_gives_the_auth_fields_and_the_password() {
        let users = blog("users");
        let prepared = create(&users, signup(json!({"name": "Alice", "emailVisibility": true}))).expect("valid");
        assert_eq!(
            Value::Object(prepared.values),
            json!({"email": "a@example.com", "emailVisibility": true, "verified": false, "name": "Alice"})
        );
        assert_eq!(prepared.password.as_deref(), Some("12345678"));
        assert_eq!(prepared.old_password, None);
    }

    #[test]
    fn signup_requires_password_and_confirmation() {
        let users = blog("users");
        assert_eq!(
            create_codes(&users, json!({"email": "a@example.com"})),
            json!({"password": "validation_required", "passwordConfirm": "validation_required"})
        );
        assert_eq!(
            create_codes(&users, json!({"email": "a@example.com", "password": "12345678"})),
            json!({"passwordConfirm": "validation_required"})
        );
        assert_eq!(
            create_codes(&users, json!({"email": "a@example.com", "passwordConfirm": "12345678"})),
            json!({"password": "validation_required", "passwordConfirm": "validation_values_mismatch"})
        );
        let errors = create(&users, signup(json!({"passwordConfirm": "different"}))).expect_err("mismatch");
        assert_eq!(
            error_json(&errors["passwordConfirm"]),
            json!({"code": "validation_values_mismatch", "message": "Values don't match."})
        );
    }

    #[test]
    fn password_length_is_checked() {
        let users = blog("users");
        let errors =
            create(&users, signup(json!({"password": "1234567", "passwordConfirm": "1234567"}))).expect_err("short");
        assert_eq!(
            error_json(&errors["password"]),
            json!({"code": "validation_min_text_constraint", "message": "Must be at least 8 character(s)."})
        );
        let long = "a".repeat(72);
        let errors = create(&users, signup(json!({"password": long, "passwordConfirm": long}))).expect_err("long");
        assert_eq!(
            error_json(&errors["password"]),
            json!({"code": "validation_max_text_constraint", "message": "Must be no more than 71 character(s).", "params": {"max": 71}})
        );
        let max = "é".repeat(71);
        assert!(
            create(&users, signup(json!({"password": max, "passwordConfirm": max}))).is_ok(),
            "characters, not bytes"
        );
    }

    #[test]
    fn signup_requires_a_valid_email() {
        let users = blog("users");
        let mut body = obj(signup(json!({})));
        body.remove("email");
        assert_eq!(
            codes(&create(&users, Value::Object(body)).expect_err("missing")),
            json!({"email": "validation_required"})
        );
        assert_eq!(create_codes(&users, signup(json!({"email": "nope"}))), json!({"email": "validation_is_email"}));
    }

    #[test]
    fn only_superusers_may_set_verified() {
        let users = blog("users");
        let errors = create(&users, signup(json!({"verified": true}))).expect_err("anon");
        assert_eq!(
            error_json(&errors["verified"]),
            json!({"code": "validation_values_mismatch", "message": "Values don't match."})
        );
        assert!(create(&users, signup(json!({"verified": false}))).is_ok(), "an unchanged value is fine");
        let prepared =
            prepare(&users, &obj(signup(json!({"verified": true}))), Mode::Create, &SUPERUSER).expect("superuser");
        assert_eq!(prepared.values["verified"], json!(true));
        let existing = stored_user();
        assert_eq!(
            codes(&update(&users, &existing, json!({"verified": "true"}), &SELF).expect_err("self")),
            json!({"verified": "validation_values_mismatch"})
        );
    }

    #[test]
    fn auth_form_errors_come_alone() {
        let users = blog("users");
        // the field errors (email, name) wait until the password rules pass
        assert_eq!(
            create_codes(&users, json!({"email": "bad", "name": "a".repeat(300), "verified": true})),
            json!({"password": "validation_required", "passwordConfirm": "validation_required", "verified": "validation_values_mismatch"})
        );
        assert_eq!(
            create_codes(&users, signup(json!({"email": "bad", "name": "a".repeat(300)}))),
            json!({"email": "validation_is_email", "name": "validation_max_text_constraint"})
        );
    }

    #[test]
    fn owners_cannot_change_their_email_directly() {
        let users = blog("users");
        let existing = stored_user();
        let errors = update(&users, &existing, json!({"email": "b@example.com"}), &SELF).expect_err("change");
        assert_eq!(
            error_json(&errors["email"]),
            json!({"code": "validation_values_mismatch", "message": "Values don't match."})
        );
        assert!(update(&users, &existing, json!({"email": "a@example.com", "name": "Al"}), &SELF).is_ok());
        let values =
            update(&users, &existing, json!({"email": "b@example.com"}), &SUPERUSER).expect("superuser").values;
        assert_eq!(Value::Object(values), json!({"email": "b@example.com"}));
        assert_eq!(
            codes(&update(&users, &existing, json!({"email": "bad"}), &SUPERUSER).expect_err("format")),
            json!({"email": "validation_is_email"})
        );
    }

    #[test]
    fn email_visibility_may_be_set_by_anyone() {
        let users = blog("users");
        let existing = stored_user();
        let values = update(&users, &existing, json!({"emailVisibility": true}), &SELF).expect("allowed").values;
        assert_eq!(Value::Object(values), json!({"emailVisibility": true}));
    }

    #[test]
    fn changing_a_password_needs_the_confirmation_and_the_old_one() {
        let users = blog("users");
        let existing = stored_user();
        assert_eq!(
            codes(&update(&users, &existing, json!({"password": "newpassword"}), &SELF).expect_err("incomplete")),
            json!({"passwordConfirm": "validation_required", "oldPassword": "validation_required"})
        );
        assert_eq!(
            codes(&update(&users, &existing, json!({"oldPassword": "oldpassword"}), &SELF).expect_err("incomplete")),
            json!({"password": "validation_required", "passwordConfirm": "validation_required"})
        );
        let body = json!({"password": "newpassword", "passwordConfirm": "newpassword", "oldPassword": "oldpassword"});
        let prepared = update(&users, &existing, body, &SELF).expect("valid");
        assert_eq!(prepared.password.as_deref(), Some("newpassword"));
        assert_eq!(prepared.old_password.as_deref(), Some("oldpassword"));
        assert!(prepared.values.is_empty());
        // a superuser needs no old password, and none is returned to check
        let body = json!({"password": "newpassword", "passwordConfirm": "newpassword"});
        let prepared = update(&users, &existing, body, &SUPERUSER).expect("valid");
        assert_eq!(prepared.password.as_deref(), Some("newpassword"));
        assert_eq!(prepared.old_password, None);
        // no password keys: nothing to do
        let prepared = update(&users, &existing, json!({"name": "Bob"}), &SELF).expect("valid");
        assert_eq!((prepared.password, prepared.old_password), (None, None));
    }

    // --- multipart ----------------------------------------------------------------------------------

    fn parts(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn multipart_values_are_inferred() {
        let body = from_multipart_parts(parts(&[
            ("a", "true"),
            ("b", "false"),
            ("c", "2"),
            ("d", "-1.5"),
            ("e", "007"),
            ("f", "1e3"),
            ("g", "hello"),
            ("h", ""),
            ("i", "NaN"),
            ("j", "True"),
        ]))
        .expect("valid");
        assert_eq!(
            Value::Object(body),
            json!({"a": true, "b": false, "c": 2, "d": -1.5, "e": "007", "f": "1e3", "g": "hello", "h": "", "i": "NaN", "j": "True"})
        );
    }

    #[test]
    fn multipart_repeated_names_become_arrays_and_json_payloads_merge() {
        let body = from_multipart_parts(parts(&[
            ("tags", "news"),
            ("title", "x"),
            ("tags", "tech"),
            ("tags", "3"),
            ("@jsonPayload", r#"{"meta": {"a": 1}, "title": "from json"}"#),
            ("@jsonPayload", r#"{"list": [1, 2]}"#),
        ]))
        .expect("valid");
        assert_eq!(
            Value::Object(body),
            json!({"tags": ["news", "tech", 3], "title": "from json", "meta": {"a": 1}, "list": [1, 2]})
        );
        assert!(from_multipart_parts(parts(&[("@jsonPayload", "[1]")])).is_err());
        assert!(from_multipart_parts(parts(&[("@jsonPayload", "{broken")])).is_err());
        assert_eq!(from_multipart_parts(Vec::new()).expect("empty"), Map::new());
    }

    #[test]
    fn multipart_bodies_prepare_like_json_ones() {
        let c = blog("posts");
        let body = from_multipart_parts(parts(&[
            ("title", "123"),
            ("author", ID),
            ("views", "4"),
            ("published", "true"),
            ("tags", "news"),
            ("tags", "tech"),
        ]))
        .expect("valid");
        let values = prepare(&c, &body, Mode::Create, &ANON).expect("valid").values;
        assert_eq!(values["title"], json!("123"));
        assert_eq!(values["views"], json!(4));
        assert_eq!(values["published"], json!(true));
        assert_eq!(values["tags"], json!(["news", "tech"]));
    }
}
