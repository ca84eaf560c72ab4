//! File fields (pocketbase-api.md §3.1 multipart, §3.2): uploads, their stored names, the
//! values of file fields, and the storage side of record writes.
//!
//! A write with uploads goes in three steps, so that a file is never orphaned and never
//! deleted while a record points at it:
//!
//! 1. the body and uploads are validated ([`resolve`]) and the new files written to storage
//!    ([`store`]) before the transaction that records their names;
//! 2. the transaction re-reads the record and settles the file fields against it, collecting
//!    the files its changes leave unreferenced in a [`Trash`] (a cleared or replaced file, a
//!    deleted record's folder, cascades included);
//! 3. after a commit the trash is emptied ([`empty`]); after a failure the new files are
//!    deleted instead ([`discard`]) and the trash forgotten.
//!
//! A process killed between a commit and step 3 leaves unreferenced files behind, never
//! missing ones.

pub mod thumb;

use baas_schema::ir::{Collection, FieldType, Schema};
use bytes::Bytes;
use serde_json::{Map, Value};

use crate::collection::{Coll, Record};
use crate::error::{ApiError, ApiResult, FieldError, FieldErrors};
use crate::id;
use crate::state::AppState;

/// The size limit of a file field that declares no `max_size` (PocketBase's default).
pub const DEFAULT_MAX_SIZE: u64 = 5 << 20;
/// The body limit of requests, besides what file fields allow (PocketBase's default).
const BODY_LIMIT: u64 = 32 << 20;
/// Length of the random part of stored names.
const RANDOM_LEN: usize = 10;

/// One uploaded file, as it came in a multipart part.
#[derive(Clone, Debug)]
pub struct Upload {
    /// The part's name: `docs`, `docs+` (append) or `+docs` (prepend).
    pub part: String,
    /// The file name the client gave.
    pub original: String,
    /// The name it is stored under (see [`stored_name`]).
    pub name: String,
    /// Its MIME type, detected from its content.
    pub mime: String,
    pub bytes: Bytes,
}

impl Upload {
    pub fn new(part: String, original: String, bytes: Bytes) -> Upload {
        let name = stored_name(&original, &bytes);
        let mime = detect_mime(&bytes);
        Upload { part, original, name, mime, bytes }
    }
}

/// The name a file is stored under, as PocketBase forms it: the original base name in snake
/// case (padded with random characters when shorter than 3, cut at 100), `_`, 10 random
/// `[a-z0-9]`, and the original extension (or one from the content when there is none):
/// `Hello World.txt` → `hello_world_ma598t1mhs.txt`.
pub fn stored_name(original: &str, bytes: &[u8]) -> String {
    let base = original.rsplit(['/', '\\']).next().unwrap_or_default();
    let (stem, ext) = match base.rfind('.') {
        Some(dot) if dot > 0 => (&base[..dot], &base[dot..]),
        _ => (base, ""),
    };
    let mut ext: String = ext
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '*' | '-' | '+' | '=' | '#'))
        .collect();
    if ext.len() <= 1 {
        ext = infer::get(bytes).map(|t| format!(".{}", t.extension())).unwrap_or_default();
    }
    if ext.len() > 20 {
        ext = format!(".{}", &ext[ext.len() - 19..]);
    }
    let mut stem = snake_case(stem);
    if stem.len() < 3 {
        stem.push_str(&id::random_string(RANDOM_LEN, id::ID_ALPHABET));
    }
    stem.truncate(100);
    format!("{stem}_{}{ext}", id::random_string(RANDOM_LEN, id::ID_ALPHABET))
}

/// `Hello World-2` → `hello_world_2`, `myPhoto` → `my_photo`: ASCII letters and digits in lower
/// case, words joined by single underscores.
fn snake_case(s: &str) -> String {
    let mut out = String::new();
    let mut prev_lower = false;
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            if c.is_ascii_uppercase() && prev_lower && !out.ends_with('_') {
                out.push('_');
            }
            prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
            out.push(c.to_ascii_lowercase());
        } else {
            prev_lower = false;
            if !out.is_empty() && !out.ends_with('_') {
                out.push('_');
            }
        }
    }
    out.trim_end_matches('_').to_owned()
}

/// The MIME type of a file's content: a known signature, else UTF-8 text, else binary.
pub fn detect_mime(bytes: &[u8]) -> String {
    match infer::get(bytes) {
        Some(t) => t.mime_type().to_owned(),
        None if std::str::from_utf8(bytes).is_ok() => "text/plain; charset=utf-8".to_owned(),
        None => "application/octet-stream".to_owned(),
    }
}

/// Whether `mime` (parameters ignored) is one of `allowed` (`image/png`, or `image/*`).
fn mime_allowed(mime: &str, allowed: &[String]) -> bool {
    let base = mime.split(';').next().unwrap_or_default().trim();
    allowed.iter().any(|a| match a.strip_suffix("/*") {
        Some(family) => base.split('/').next() == Some(family),
        None => a.eq_ignore_ascii_case(base),
    })
}

/// Adds the uploads to the body rules see, as PocketBase does: under its part's name, each
/// upload's stored name joins what the body holds there (so `@request.body.docs:length`
/// counts names kept and files sent).
pub fn add_to_body(body: &mut Map<String, Value>, uploads: &[Upload]) {
    for upload in uploads {
        let name = Value::String(upload.name.clone());
        match body.get_mut(&upload.part) {
            None => {
                body.insert(upload.part.clone(), name);
            }
            Some(Value::Array(items)) => items.push(name),
            Some(Value::Null) => {
                body.insert(upload.part.clone(), Value::Array(vec![name]));
            }
            Some(first) => {
                let first_value = first.take();
                *first = Value::Array(vec![first_value, name]);
            }
        }
    }
}

/// The names a file field's value holds.
pub fn names(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) if !s.is_empty() => vec![s.clone()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => Vec::new(),
    }
}

/// Names given in a body value (a string, an array of them, or `null`).
fn body_names(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => match serde_json::from_str::<Vec<String>>(s) {
            Ok(list) if s.trim_start().starts_with('[') => list,
            _ => vec![s.clone()].into_iter().filter(|s| !s.is_empty()).collect(),
        },
        Value::Array(items) => items.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => Vec::new(),
    }
}

/// The values of `collection`'s file fields after a write with `body` and `uploads`, on top of
/// `existing` (the stored record; `None` on create). On update only the fields the request
/// touches are returned; on create every file field is.
///
/// Per field `f`: uploads in a part named `f` replace the value, except for the names the body
/// keeps under `f` (only names the record holds); `+f` uploads are prepended, `f+` uploads
/// appended; names under `f-` are removed; `null` or `[]` under `f` clears it. A single field
/// keeps its last file. Checked: each upload's size and MIME type, one upload at most for a
/// single field, `required`.
pub fn resolve(
    collection: &Collection,
    body: &Map<String, Value>,
    uploads: &[Upload],
    existing: Option<&Record>,
) -> Result<Map<String, Value>, FieldErrors> {
    let mut values = Map::new();
    let mut errors = FieldErrors::new();
    for field in &collection.fields {
        let FieldType::File { max_size, mime, multiple, .. } = &field.ty else { continue };
        let name = field.name.as_str();
        let (prepend, append) = (format!("+{name}"), format!("{name}+"));
        let of = |part: &str| uploads.iter().filter(move |u| u.part == part).collect::<Vec<_>>();
        let (replace, front, back) = (of(name), of(&prepend), of(&append));
        let plain = body.get(name);
        let remove = body.get(&format!("{name}-"));
        let current = names(existing.and_then(|e| e.get(name)));
        let touched =
            plain.is_some() || remove.is_some() || !replace.is_empty() || !front.is_empty() || !back.is_empty();
        if !touched && existing.is_some() {
            continue;
        }

        let max = max_size.unwrap_or(DEFAULT_MAX_SIZE);
        let all: Vec<&Upload> = replace.iter().chain(&front).chain(&back).copied().collect();
        if let Some(error) = all.iter().find_map(|u| upload_error(u, max, mime)) {
            errors.insert(field.name.clone(), error);
            continue;
        }
        if !multiple && all.len() > 1 {
            errors.insert(
                field.name.clone(),
                FieldError::new("validation_too_many_files", "The maximum allowed files is 1.")
                    .with_param("maxSelect", 1),
            );
            continue;
        }

        let mut list = if plain.is_some() || !replace.is_empty() {
            let kept = plain.map(body_names).unwrap_or_default();
            current.iter().filter(|n| kept.contains(n)).cloned().chain(replace.iter().map(|u| u.name.clone())).collect()
        } else {
            current.clone()
        };
        list = front.iter().map(|u| u.name.clone()).chain(list).chain(back.iter().map(|u| u.name.clone())).collect();
        if let Some(remove) = remove {
            let gone = body_names(remove);
            list.retain(|n| !gone.contains(n));
        }
        list.dedup();
        if !multiple && list.len() > 1 {
            list.drain(..list.len() - 1);
        }
        if field.required && list.is_empty() {
            errors.insert(field.name.clone(), FieldError::required());
            continue;
        }
        let value = if *multiple { Value::from(list) } else { Value::String(list.pop().unwrap_or_default()) };
        values.insert(field.name.clone(), value);
    }
    if errors.is_empty() { Ok(values) } else { Err(errors) }
}

fn upload_error(upload: &Upload, max: u64, mime: &[String]) -> Option<FieldError> {
    if upload.bytes.len() as u64 > max {
        let message = format!("Failed to upload {} - the maximum allowed file size is {max} bytes.", upload.original);
        return Some(
            FieldError::new("validation_file_size_limit", message)
                .with_param("file", upload.original.as_str())
                .with_param("maxSize", max),
        );
    }
    if !mime.is_empty() && !mime_allowed(&upload.mime, mime) {
        let message = format!("\"{}\" mime type must be one of: {}.", upload.original, mime.join(", "));
        return Some(FieldError::new("validation_invalid_mime_type", message));
    }
    None
}

/// The storage key of a record's file.
pub fn key(collection_id: &str, record_id: &str, name: &str) -> String {
    format!("{collection_id}/{record_id}/{name}")
}

/// The folder of a file's thumbnails.
pub fn thumbs_folder(collection_id: &str, record_id: &str, name: &str) -> String {
    format!("{collection_id}/{record_id}/thumbs_{name}")
}

fn has_files(coll: &Coll) -> bool {
    coll.ir.fields.iter().any(|f| matches!(f.ty, FieldType::File { .. }))
}

/// The uploads a written record references (the others were replaced in the same request).
pub fn referenced<'a>(coll: &Coll, record: &Map<String, Value>, uploads: &'a [Upload]) -> Vec<&'a Upload> {
    let mut held = Vec::new();
    for field in coll.ir.fields.iter().filter(|f| matches!(f.ty, FieldType::File { .. })) {
        held.extend(names(record.get(&field.name)));
    }
    uploads.iter().filter(|u| held.contains(&u.name)).collect()
}

/// The uploads aimed at one of `coll`'s file fields (`f`, `f+` or `+f`).
pub fn for_file_fields<'a>(coll: &Coll, uploads: &'a [Upload]) -> Vec<&'a Upload> {
    let field = |part: &str| {
        let name = part.strip_prefix('+').or_else(|| part.strip_suffix('+')).unwrap_or(part);
        coll.ir.fields.iter().any(|f| f.name == name && matches!(f.ty, FieldType::File { .. }))
    };
    uploads.iter().filter(|u| field(&u.part)).collect()
}

/// Writes `uploads` for record `record_id`; returns their keys, for [`discard`] when the
/// write fails. On a storage failure the files written so far are removed and the request
/// fails with a 500.
pub async fn store(app: &AppState, coll: &Coll, record_id: &str, uploads: &[&Upload]) -> ApiResult<Vec<String>> {
    let mut written = Vec::new();
    for upload in uploads {
        let key = key(&coll.ir.id, record_id, &upload.name);
        if let Err(e) = app.storage().put(&key, upload.bytes.clone()).await {
            discard(app, written).await;
            return Err(ApiError::internal(format!("storing {key}: {e}")));
        }
        written.push(key);
    }
    Ok(written)
}

/// Deletes files written for a write that did not commit.
pub async fn discard(app: &AppState, keys: Vec<String>) {
    for key in keys {
        if let Err(e) = app.storage().delete(&key).await {
            tracing::warn!("could not delete {key} after a failed write: {e}");
        }
    }
}

/// Files a transaction leaves unreferenced, deleted once it commits.
#[derive(Debug, Default)]
pub struct Trash {
    /// A file (and its thumbnails): collection id, record id, name.
    files: Vec<(String, String, String)>,
    /// A deleted record's whole folder: collection id, record id.
    records: Vec<(String, String)>,
}

impl Trash {
    /// Notes the files `old` held that `new` no longer does.
    pub fn replaced(&mut self, coll: &Coll, old: &Record, new: &Record) {
        let id = old.get("id").and_then(Value::as_str).unwrap_or_default();
        for field in coll.ir.fields.iter().filter(|f| matches!(f.ty, FieldType::File { .. })) {
            let kept = names(new.get(&field.name));
            for name in names(old.get(&field.name)).into_iter().filter(|n| !kept.contains(n)) {
                self.files.push((coll.ir.id.clone(), id.to_owned(), name));
            }
        }
    }

    /// Notes a deleted record (its folder goes, when its collection has file fields).
    pub fn deleted(&mut self, coll: &Coll, id: &str) {
        if has_files(coll) {
            self.records.push((coll.ir.id.clone(), id.to_owned()));
        }
    }

    /// Adds another transaction step's trash.
    pub fn extend(&mut self, other: Trash) {
        self.files.extend(other.files);
        self.records.extend(other.records);
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty() && self.records.is_empty()
    }
}

/// Deletes what a committed transaction left unreferenced. Failures are logged: the data is
/// already consistent, the files are only orphans.
pub async fn empty(app: &AppState, trash: Trash) {
    let storage = app.storage();
    for (coll, record, name) in trash.files {
        let key = key(&coll, &record, &name);
        let result = match storage.delete(&key).await {
            Ok(()) => storage.delete_prefix(&thumbs_folder(&coll, &record, &name)).await,
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            tracing::warn!("could not delete the unreferenced file {key}: {e}");
        }
    }
    for (coll, record) in trash.records {
        if let Err(e) = storage.delete_prefix(&format!("{coll}/{record}")).await {
            tracing::warn!("could not delete the files of the deleted record {coll}/{record}: {e}");
        }
    }
}

/// The largest request body accepted: 32 MiB, or more when a collection's file fields allow
/// more (each field's `max_size`, ten files for a multiple field), plus 1 MiB for the rest.
pub fn body_limit(schema: &Schema) -> usize {
    let per_collection = schema.collections.iter().map(|c| {
        c.fields
            .iter()
            .map(|f| match &f.ty {
                FieldType::File { max_size, multiple, .. } => {
                    max_size.unwrap_or(DEFAULT_MAX_SIZE).saturating_mul(if *multiple { 10 } else { 1 })
                }
                _ => 0,
            })
            .fold(0u64, u64::saturating_add)
    });
    let files = per_collection.max().unwrap_or(0).saturating_add(1 << 20);
    usize::try_from(files.max(BODY_LIMIT)).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use baas_schema::front::yaml;
    use baas_schema::{Diagnostics, SourceFile};
    use serde_json::json;

    use super::*;

    const SCHEMA: &str = r#"
collections:
  things:
    fields:
      doc:    { type: file, max_size: 10 }
      docs:   { type: file, multiple: true }
      image:  { type: file, mime: [image/png, "video/*"] }
      must:   { type: file, required: true }
"#;

    fn things() -> Collection {
        let file = SourceFile::new("test.yaml", SCHEMA);
        let mut diags = Diagnostics::new();
        let schema = yaml::load(&file, &mut diags);
        assert!(!diags.has_errors(), "{}", diags.render(&file));
        schema.unwrap().collection("things").unwrap().clone()
    }

    fn upload(part: &str, original: &str, bytes: &'static [u8]) -> Upload {
        Upload::new(part.into(), original.into(), Bytes::from_static(bytes))
    }

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

    #[test]
    fn stored_names_keep_a_snake_cased_base_and_the_extension() {
        let name = stored_name("Hello World.txt", b"hi");
        assert!(regex::Regex::new(r"^hello_world_[a-z0-9]{10}\.txt$").unwrap().is_match(&name), "{name}");
        let name = stored_name("a.txt", b"hi");
        assert!(regex::Regex::new(r"^a[a-z0-9]{10}_[a-z0-9]{10}\.txt$").unwrap().is_match(&name), "{name}");
        let name = stored_name("../../etc/myPhoto.PNG", PNG);
        assert!(name.starts_with("my_photo_") && name.ends_with(".PNG"), "{name}");
        let name = stored_name("no extension", PNG);
        assert!(name.starts_with("no_extension_") && name.ends_with(".png"), "from the content: {name}");
        let name = stored_name("x.t\"xt/../", b"hi");
        assert!(!name.contains(['/', '"']), "{name}");
        assert_ne!(stored_name("a.txt", b""), stored_name("a.txt", b""));
    }

    #[test]
    fn mime_types_come_from_the_content() {
        assert_eq!(detect_mime(PNG), "image/png");
        assert_eq!(detect_mime(b"plain words"), "text/plain; charset=utf-8");
        assert_eq!(detect_mime(&[0xff, 0x00, 0xfe, 0x01]), "application/octet-stream");
        assert!(mime_allowed("video/mp4", &["video/*".into()]));
        assert!(!mime_allowed("text/plain; charset=utf-8", &["image/png".into()]));
    }

    #[test]
    fn create_takes_uploads_and_ignores_names_it_does_not_hold() {
        let c = things();
        let ups = [upload("doc", "a.txt", b"1"), upload("docs", "b.txt", b"2"), upload("docs+", "c.txt", b"3")];
        let ups = [ups[0].clone(), ups[1].clone(), ups[2].clone(), upload("must", "m.txt", b"4")];
        let v = resolve(&c, &obj(json!({"docs": ["elsewhere.txt"]})), &ups, None).unwrap();
        assert_eq!(v["doc"], json!(ups[0].name));
        assert_eq!(v["docs"], json!([ups[1].name, ups[2].name]));
        assert_eq!(v["image"], json!(""));
        assert_eq!(v["must"], json!(ups[3].name));
    }

    #[test]
    fn limits_required_and_single_fields_are_checked() {
        let c = things();
        let errors = resolve(&c, &Map::new(), &[upload("doc", "big.bin", b"0123456789a")], None).unwrap_err();
        assert_eq!(
            serde_json::to_value(&errors["doc"]).unwrap(),
            json!({"code": "validation_file_size_limit",
                   "message": "Failed to upload big.bin - the maximum allowed file size is 10 bytes.",
                   "params": {"file": "big.bin", "maxSize": 10}})
        );
        assert_eq!(errors["must"].code, "validation_required");
        let errors = resolve(&c, &Map::new(), &[upload("image", "t.txt", b"text")], None).unwrap_err();
        assert_eq!(errors["image"].message, "\"t.txt\" mime type must be one of: image/png, video/*.");
        assert!(resolve(&c, &Map::new(), &[upload("image", "p.png", PNG), upload("must", "m", b"")], None).is_ok());
        let two = [upload("doc", "a", b""), upload("doc", "b", b""), upload("must", "m", b"")];
        assert_eq!(resolve(&c, &Map::new(), &two, None).unwrap_err()["doc"].code, "validation_too_many_files");
    }

    #[test]
    fn updates_replace_append_prepend_remove_and_clear() {
        let c = things();
        let existing = obj(json!({"id": "r", "doc": "old_1234567890.txt", "docs": ["a", "b", "c"], "must": "m"}));
        let new = upload("doc", "new.txt", b"n");
        let v = resolve(&c, &Map::new(), std::slice::from_ref(&new), Some(&existing)).unwrap();
        assert_eq!(Value::Object(v), json!({"doc": new.name}), "only touched fields come back");

        let (front, back) = (upload("+docs", "f", b""), upload("docs+", "z", b""));
        let v = resolve(&c, &obj(json!({"docs-": "b"})), &[front.clone(), back.clone()], Some(&existing)).unwrap();
        assert_eq!(v["docs"], json!([front.name, "a", "c", back.name]));

        let v = resolve(&c, &obj(json!({"docs": ["c", "a", "nope"]})), &[upload("docs", "n", b"")], Some(&existing));
        let v = v.unwrap();
        assert_eq!(
            v["docs"].as_array().unwrap()[..2],
            [json!("a"), json!("c")],
            "kept in stored order, unknown dropped"
        );
        assert_eq!(v["docs"].as_array().unwrap().len(), 3);

        let v = resolve(&c, &obj(json!({"doc": null, "docs": []})), &[], Some(&existing)).unwrap();
        assert_eq!(Value::Object(v), json!({"doc": "", "docs": []}));
        let v = resolve(&c, &obj(json!({"docs": "[\"b\"]", "doc-": "old_1234567890.txt"})), &[], Some(&existing));
        assert_eq!(Value::Object(v.unwrap()), json!({"doc": "", "docs": ["b"]}), "multipart JSON text names");
        let errors = resolve(&c, &obj(json!({"must": null})), &[], Some(&existing)).unwrap_err();
        assert_eq!(errors["must"].code, "validation_required");
    }

    #[test]
    fn uploads_join_the_body_rules_see_and_settle_the_same() {
        let c = things();
        let existing = obj(json!({"id": "r", "docs": ["a", "b"], "must": "m"}));
        let (new, back) = (upload("docs", "new.txt", b""), upload("docs+", "back.txt", b""));
        let uploads = [new.clone(), back.clone(), upload("must", "m2.txt", b"")];
        let plain = obj(json!({"docs": "a"}));
        let mut body = plain.clone();
        add_to_body(&mut body, &uploads);
        assert_eq!(body["docs"], json!(["a", new.name]));
        assert_eq!(body["docs+"], json!(back.name));
        assert_eq!(body["must"], json!(uploads[2].name));
        let settled = resolve(&c, &body, &uploads, Some(&existing)).unwrap();
        assert_eq!(settled, resolve(&c, &plain, &uploads, Some(&existing)).unwrap());
        assert_eq!(settled["docs"], json!(["a", new.name, back.name]));
    }

    #[test]
    fn the_body_limit_follows_the_largest_collection() {
        let mut schema = Schema::default();
        assert_eq!(body_limit(&schema), 32 << 20);
        schema.collections.push(things());
        // doc 10 bytes, docs 10 × 5 MiB, image and must 5 MiB each, plus 1 MiB
        assert_eq!(body_limit(&schema), 10 + (60 << 20) + (1 << 20));
    }
}
