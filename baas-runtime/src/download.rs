//! `GET /api/files/{collection}/{record}/{name}` and `POST /api/files/token`
//! (pocketbase-api.md §3.2).
//!
//! A file is served when the record exists and one of its file fields holds the name;
//! `?thumb=` serves a thumbnail of the field's `thumbs` sizes (or `100x100`) for images, the
//! original otherwise, as PocketBase does. Files of
//! unprotected fields are public to whoever knows the URL, as in PocketBase; a protected
//! field's files need `?token=` with a file token whose record passes the collection's view
//! rule (a superuser's always does). Anything else is a 404, indistinguishable from a missing
//! file.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use baas_schema::ir::FieldType;
use bytes::Bytes;
use serde_json::{Value, json};

use crate::collection::Coll;
use crate::db::Conn;
use crate::error::{ApiError, ApiResult};
use crate::files::{self, thumb};
use crate::request::{Caller, RequestCx};
use crate::state::AppState;
use crate::{records, token};

/// Lifetime of file tokens, in seconds (PocketBase's default).
pub const FILE_TOKEN_SECONDS: i64 = 180;

/// Content types served inline (shown by the browser); anything else is an attachment.
const INLINE: [&str; 19] = [
    "image/png",
    "image/jpg",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/x-icon",
    "image/bmp",
    "video/webm",
    "video/mp4",
    "video/3gpp",
    "video/quicktime",
    "video/ogg",
    "audio/basic",
    "audio/aiff",
    "audio/mpeg",
    "audio/midi",
    "audio/mp3",
    "audio/wav",
    "application/pdf",
];

/// `POST /api/files/token`: a short-lived token for protected files (401 when anonymous).
pub async fn file_token(State(app): State<AppState>, caller: Caller) -> ApiResult<Json<Value>> {
    let id = caller.record.get("id").and_then(Value::as_str).unwrap_or_default();
    let key = caller.record.get(baas_schema::ir::system::TOKEN_KEY).and_then(Value::as_str).unwrap_or_default();
    let mut claims = token::auth_claims(id, &caller.collection.ir.id, FILE_TOKEN_SECONDS);
    claims.refreshable = None;
    claims.kind = token::FILE.to_owned();
    Ok(Json(json!({"token": token::issue(&claims, &token::signing_key(app.secret(), key))})))
}

/// `GET` (and `HEAD`) `/api/files/{collection}/{record}/{name}[?thumb=WxH&download=1&token=…]`
pub async fn file(
    State(app): State<AppState>,
    Path((collection, record_id, name)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
    method: Method,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let query: HashMap<String, String> =
        serde_urlencoded::from_str::<Vec<(String, String)>>(query.as_deref().unwrap_or(""))
            .map_err(|_| ApiError::invalid_request())?
            .into_iter()
            .collect();
    let coll = app.collection(&collection).filter(|c| !c.ir.is_view()).ok_or_else(ApiError::not_found)?;
    let caller = match query.get("token") {
        Some(raw) => crate::extract::caller_from_token(&app, raw, token::FILE).await,
        None => None,
    };
    let (coll2, id2, name2) = (coll.clone(), record_id.clone(), name.clone());
    // The field holding the file (protected, thumbnail sizes), when the caller may have the file.
    let (protected, thumbs) = app
        .db()
        .read(move |conn| -> ApiResult<_> {
            let Some((protected, thumbs)) = holding(conn, &coll2, &id2, &name2)? else { return Ok(None) };
            if protected {
                let Some(caller) = caller else { return Ok(None) };
                let req = RequestCx { auth: Some(caller), ..RequestCx::anonymous() };
                if !records::can_view(conn, &coll2, &id2, &req)? {
                    return Ok(None);
                }
            }
            Ok(Some((protected, thumbs)))
        })
        .await?
        .ok_or_else(ApiError::not_found)?;

    let thumb = query
        .get("thumb")
        .filter(|spec| *spec == thumb::ALWAYS || thumbs.contains(spec))
        .and_then(|spec| thumb::Size::parse(spec))
        .zip(thumb::format_of(&name));
    let bytes = match thumb {
        Some((size, format)) => {
            let spec = query.get("thumb").map(String::as_str).unwrap_or_default();
            thumbnail(&app, &coll, &record_id, &name, spec, size, format).await?
        }
        None => {
            let key = files::key(&coll.ir.id, &record_id, &name);
            app.storage().get(&key, None).await.map_err(ApiError::internal)?.map(|o| o.bytes)
        }
    };
    let bytes = bytes.ok_or_else(ApiError::not_found)?;
    let download = query.get("download").is_some_and(|v| !matches!(v.as_str(), "" | "0" | "false"));
    let served = Served { download, private: protected, head: method == Method::HEAD };
    Ok(respond(&name, bytes, served, headers.get(header::RANGE)))
}

/// The file field of record `id` holding `name`: whether it is protected, and its thumbnail
/// sizes. `None` when the record or the name is missing.
fn holding(conn: &Conn<'_>, coll: &Coll, id: &str, name: &str) -> ApiResult<Option<(bool, Vec<String>)>> {
    let Some(record) = records::fetch_unchecked(conn, coll, id)? else { return Ok(None) };
    Ok(coll.ir.fields.iter().find_map(|f| match &f.ty {
        FieldType::File { protected, thumbs, .. } if files::names(record.get(&f.name)).iter().any(|n| n == name) => {
            Some((*protected, thumbs.clone()))
        }
        _ => None,
    }))
}

/// The thumbnail `spec` of file `name`: from the cache beside the file, or made and cached.
/// The original when it is no decodable image; `None` when the file is gone.
async fn thumbnail(
    app: &AppState,
    coll: &Arc<Coll>,
    record_id: &str,
    name: &str,
    spec: &str,
    size: thumb::Size,
    format: image::ImageFormat,
) -> ApiResult<Option<Bytes>> {
    let storage = app.storage();
    let folder = files::thumbs_folder(&coll.ir.id, record_id, name);
    let thumb_key = format!("{folder}/{spec}_{name}");
    if let Some(cached) = storage.get(&thumb_key, None).await.map_err(ApiError::internal)? {
        return Ok(Some(cached.bytes));
    }
    let key = files::key(&coll.ir.id, record_id, name);
    let Some(original) = storage.get(&key, None).await.map_err(ApiError::internal)? else { return Ok(None) };
    let source = original.bytes.clone();
    let made =
        tokio::task::spawn_blocking(move || thumb::make(&source, format, size)).await.map_err(ApiError::internal)?;
    // Not a decodable image: the original is served, as PocketBase does.
    let Ok(made) = made else { return Ok(Some(original.bytes)) };
    let made = Bytes::from(made);
    storage.put(&thumb_key, made.clone()).await.map_err(ApiError::internal)?;
    // A write that dropped the file meanwhile has emptied the folder already: this thumbnail
    // would be left behind.
    let (coll2, id, name2) = (coll.clone(), record_id.to_owned(), name.to_owned());
    if app.db().read(move |conn| holding(conn, &coll2, &id, &name2)).await?.is_none() {
        storage.delete_prefix(&folder).await.map_err(ApiError::internal)?;
    }
    Ok(Some(made))
}

/// How a file is served.
#[derive(Clone, Copy, Debug, Default)]
struct Served {
    /// As an attachment, whatever its type (`download=1`).
    download: bool,
    /// A protected file: shared caches must not keep it.
    private: bool,
    /// A `HEAD` request: headers only.
    head: bool,
}

/// The response for a file's bytes: headers as PocketBase sends them, and a single byte range
/// when one is asked for.
fn respond(name: &str, bytes: Bytes, served: Served, range: Option<&HeaderValue>) -> Response {
    let Served { download, private, head } = served;
    let mime = files::detect_mime(&bytes);
    let base = mime.split(';').next().unwrap_or_default();
    let disposition = if INLINE.contains(&base) && !download { "inline" } else { "attachment" };
    let total = bytes.len() as u64;
    let mut headers = HeaderMap::new();
    let mut set = |name: header::HeaderName, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.insert(name, v);
        }
    };
    set(header::CONTENT_TYPE, &mime);
    set(header::CONTENT_DISPOSITION, &format!("{disposition}; filename=\"{name}\""));
    let cache = "max-age=2592000, stale-while-revalidate=86400";
    set(header::CACHE_CONTROL, &if private { format!("private, {cache}") } else { cache.to_owned() });
    set(header::CONTENT_SECURITY_POLICY, "default-src 'none'; media-src 'self'; style-src 'unsafe-inline'; sandbox");
    set(header::ACCEPT_RANGES, "bytes");
    let (status, body) = match range.and_then(|r| r.to_str().ok()).map(|r| byte_range(r, total)) {
        None => (StatusCode::OK, bytes),
        Some(Some((start, end))) => {
            set(header::CONTENT_RANGE, &format!("bytes {start}-{end}/{total}"));
            (StatusCode::PARTIAL_CONTENT, bytes.slice(start as usize..=end as usize))
        }
        Some(None) => {
            set(header::CONTENT_RANGE, &format!("bytes */{total}"));
            (StatusCode::RANGE_NOT_SATISFIABLE, Bytes::new())
        }
    };
    set(header::CONTENT_LENGTH, &body.len().to_string());
    let body = if head { Body::empty() } else { Body::from(body) };
    (status, headers, body).into_response()
}

/// The inclusive byte range a `Range: bytes=…` header asks of `total` bytes: `a-b`, `a-` or
/// `-n` (the last n). `None` when it cannot be satisfied; several ranges are not supported and
/// give the first.
fn byte_range(header: &str, total: u64) -> Option<(u64, u64)> {
    let spec = header.trim().strip_prefix("bytes=")?.split(',').next()?.trim();
    let (a, b) = spec.split_once('-')?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", n) => {
            let n: u64 = n.parse().ok()?;
            (total.checked_sub(n.min(total))?, total.checked_sub(1)?)
        }
        (a, "") => (a.parse().ok()?, total.checked_sub(1)?),
        (a, b) => (a.parse().ok()?, b.parse::<u64>().ok()?.min(total.checked_sub(1)?)),
    };
    (start <= end && end < total).then_some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_ranges() {
        assert_eq!(byte_range("bytes=0-4", 10), Some((0, 4)));
        assert_eq!(byte_range("bytes=6-", 10), Some((6, 9)));
        assert_eq!(byte_range("bytes=-3", 10), Some((7, 9)));
        assert_eq!(byte_range("bytes=5-100", 10), Some((5, 9)));
        assert_eq!(byte_range("bytes=0-0, 2-3", 10), Some((0, 0)));
        for bad in ["bytes=10-", "bytes=5-2", "items=0-1", "bytes=a-b", "bytes=-0"] {
            assert_eq!(byte_range(bad, 10), None, "{bad}");
        }
        assert_eq!(byte_range("bytes=0-", 0), None);
    }

    async fn body_of(r: Response) -> Vec<u8> {
        axum::body::to_bytes(r.into_body(), usize::MAX).await.unwrap().to_vec()
    }

    #[tokio::test]
    async fn responses_carry_pocketbase_headers_and_ranges() {
        let r = respond("a_1234567890.txt", Bytes::from_static(b"hello world"), Served::default(), None);
        assert_eq!(r.status(), StatusCode::OK);
        let h = r.headers();
        assert_eq!(h[header::CONTENT_TYPE], "text/plain; charset=utf-8");
        assert_eq!(h[header::CONTENT_DISPOSITION], "attachment; filename=\"a_1234567890.txt\"");
        assert_eq!(h[header::CACHE_CONTROL], "max-age=2592000, stale-while-revalidate=86400");
        assert_eq!(h[header::ACCEPT_RANGES], "bytes");
        assert_eq!(body_of(r).await, b"hello world");

        let png = Bytes::from_static(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR");
        let r = respond("p.png", png.clone(), Served::default(), None);
        assert_eq!(r.headers()[header::CONTENT_DISPOSITION], "inline; filename=\"p.png\"");
        let r = respond("p.png", png, Served { download: true, private: true, head: false }, None);
        assert_eq!(r.headers()[header::CONTENT_DISPOSITION], "attachment; filename=\"p.png\"");
        assert_eq!(r.headers()[header::CACHE_CONTROL], "private, max-age=2592000, stale-while-revalidate=86400");

        let range = HeaderValue::from_static("bytes=6-");
        let r = respond("a.txt", Bytes::from_static(b"hello world"), Served::default(), Some(&range));
        assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(r.headers()[header::CONTENT_RANGE], "bytes 6-10/11");
        assert_eq!(body_of(r).await, b"world");
        let range = HeaderValue::from_static("bytes=20-");
        let r = respond("a.txt", Bytes::from_static(b"hello world"), Served::default(), Some(&range));
        assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE);
        assert_eq!(r.headers()[header::CONTENT_RANGE], "bytes */11");
        let r = respond("a.txt", Bytes::from_static(b"hello world"), Served { head: true, ..Served::default() }, None);
        assert_eq!(r.headers()[header::CONTENT_LENGTH], "11");
        assert!(body_of(r).await.is_empty());
    }
}
