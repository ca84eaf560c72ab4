//! What a rule can see of a request — the caller, query, headers, method, body — gathered
//! once per request by the [`RequestCx`] extractor.
//!
//! Bad or expired tokens are ignored, not rejected (pocketbase-api.md §1): the request just
//! becomes anonymous. Endpoints that need a caller answer 401 themselves.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::multipart::MultipartError;
use axum::extract::{FromRequest, FromRequestParts, Multipart, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use baas_schema::ir::system;
use baas_schema::sql::BindValue;
use serde_json::{Map, Value};

use crate::collection::{Coll, Record};
use crate::error::ApiError;
use crate::files::Upload;
use crate::state::AppState;
use crate::{limits, records, token, values};

/// The authenticated caller.
#[derive(Clone)]
pub struct Caller {
    pub collection: Arc<Coll>,
    /// The caller's record, secrets included (never sent as is).
    pub record: Record,
}

/// A request as rules and the records engine see it.
pub struct RequestCx {
    pub auth: Option<Caller>,
    pub query: HashMap<String, String>,
    /// Header names lower-cased with `-` turned into `_`, as rules spell them.
    pub headers: HashMap<String, String>,
    pub method: String,
    /// The JSON (or multipart) body, when there is one.
    pub body: Option<Map<String, Value>>,
    /// The files of a multipart body.
    pub uploads: Vec<Upload>,
    pub now: time::OffsetDateTime,
}

impl RequestCx {
    /// A context with no caller and no request, for the runtime's own reads.
    pub fn system() -> RequestCx {
        RequestCx {
            auth: None,
            query: HashMap::new(),
            headers: HashMap::new(),
            method: "GET".into(),
            body: None,
            uploads: Vec::new(),
            now: time::OffsetDateTime::now_utc(),
        }
    }

    /// Applies the request's `fields=` to a response body (a record, or `{token, record}`).
    pub fn shape(&self, mut body: Value) -> Value {
        if let Some(fields) = self.query.get("fields") {
            crate::query::pick_fields(&mut body, fields);
        }
        body
    }

    pub fn is_superuser(&self) -> bool {
        self.auth.as_ref().is_some_and(|a| a.collection.ir.name == system::SUPERUSERS)
    }

    /// `@request.auth.<field>`: `""` (or the field's zero) for anonymous callers.
    pub fn auth_value(&self, field: &str) -> Value {
        let Some(auth) = &self.auth else {
            return Value::String(String::new());
        };
        match field {
            "collectionId" => Value::String(auth.collection.ir.id.clone()),
            "collectionName" => Value::String(auth.collection.ir.name.clone()),
            system::PASSWORD | system::TOKEN_KEY => Value::String(String::new()),
            _ => auth.record.get(field).cloned().unwrap_or(Value::String(String::new())),
        }
    }
}

/// What a rule reads of the request, for the SQL parameters and the in-memory evaluator alike.
impl baas_schema::eval::Request for RequestCx {
    fn value(&self, of: &BindValue) -> Value {
        match of {
            BindValue::Auth(field) => self.auth_value(field),
            BindValue::Body(field) => self.body.as_ref().and_then(|b| b.get(field)).cloned().unwrap_or(Value::Null),
            BindValue::BodyIsSet(field) => Value::Bool(self.body.as_ref().is_some_and(|b| b.contains_key(field))),
            BindValue::BodyLength(field) => {
                let len = match self.body.as_ref().and_then(|b| b.get(field)) {
                    Some(Value::Array(items)) => items.len(),
                    Some(Value::Null) | None => 0,
                    Some(_) => 1,
                };
                Value::from(len)
            }
            BindValue::Query(name) => Value::String(self.query.get(name).cloned().unwrap_or_default()),
            BindValue::Header(name) => Value::String(self.headers.get(name).cloned().unwrap_or_default()),
            BindValue::Method => Value::String(self.method.clone()),
            BindValue::Context => Value::String("default".into()),
            BindValue::Macro(m) => crate::time::macro_value(*m, self.now),
            BindValue::Literal(_) | BindValue::LikePattern(_) | BindValue::Placeholder(_) => Value::Null,
        }
    }
}

/// Finds the caller a token names, or `None` for a missing, bad or expired token.
pub async fn authenticate(app: &AppState, headers: &HeaderMap) -> Option<Caller> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    caller_from_token(app, token::from_header(value)?, token::AUTH).await
}

/// The caller a token of `kind` ([`token::AUTH`], [`token::FILE`]) names, or `None` for a bad
/// or expired token.
pub async fn caller_from_token(app: &AppState, raw: &str, kind: &str) -> Option<Caller> {
    let claims = token::peek(raw)?;
    if claims.kind != kind {
        return None;
    }
    let collection = app.collection(&claims.collection_id).filter(|c| c.ir.is_auth())?;
    let coll = collection.clone();
    let id = claims.id.clone();
    let record = app.db().read(move |conn| records::fetch_unchecked(conn, &coll, &id)).await.ok()??;
    let token_key = record.get(system::TOKEN_KEY)?.as_str()?;
    token::verify(raw, &token::signing_key(app.secret(), token_key))?;
    Some(Caller { collection, record })
}

fn rule_headers(headers: &HeaderMap) -> HashMap<String, String> {
    headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_ascii_lowercase().replace('-', "_"), v.to_str().ok()?.to_owned())))
        .collect()
}

fn parse_query(parts: &Parts) -> Result<HashMap<String, String>, ApiError> {
    let q = parts.uri.query().unwrap_or("");
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(q).map_err(|_| ApiError::invalid_request())?;
    Ok(pairs.into_iter().collect())
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    /// Requires an authenticated caller: 401 otherwise.
    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Self::Rejection> {
        authenticate(app, &parts.headers).await.ok_or_else(ApiError::unauthorized)
    }
}

impl FromRequest<AppState> for RequestCx {
    type Rejection = ApiError;

    async fn from_request(req: Request, app: &AppState) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let auth = authenticate(app, &parts.headers).await;
        let query = parse_query(&parts)?;
        let content_type =
            parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
        let mut uploads = Vec::new();
        let body = if content_type.starts_with("multipart/form-data") {
            let req = Request::from_parts(parts.clone(), body);
            let multipart = Multipart::from_request(req, app).await.map_err(|e| limits::body_error(&e))?;
            let mut body = read_multipart(multipart, &mut uploads).await?;
            crate::files::add_to_body(&mut body, &uploads);
            Some(body)
        } else {
            // The route's `BodyLimit` bounds what is read here.
            let bytes = axum::body::to_bytes(body, usize::MAX).await.map_err(|e| limits::body_error(&e))?;
            if bytes.iter().all(u8::is_ascii_whitespace) {
                None
            } else {
                match serde_json::from_slice::<Value>(&bytes) {
                    Ok(Value::Object(map)) => Some(map),
                    _ => return Err(ApiError::invalid_request()),
                }
            }
        };
        Ok(RequestCx {
            auth,
            query,
            headers: rule_headers(&parts.headers),
            method: parts.method.as_str().to_owned(),
            body,
            uploads,
            now: time::OffsetDateTime::now_utc(),
        })
    }
}

/// Reads a multipart body: plain parts into the body, file parts into `uploads`.
async fn read_multipart(mut multipart: Multipart, uploads: &mut Vec<Upload>) -> Result<Map<String, Value>, ApiError> {
    let mut parts = Vec::new();
    while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
        // A part whose disposition is not UTF-8 (a file name in another encoding) would lose
        // its file name and pass as a plain value: refused instead.
        if field.headers().get(header::CONTENT_DISPOSITION).is_some_and(|v| std::str::from_utf8(v.as_bytes()).is_err())
        {
            return Err(ApiError::invalid_request());
        }
        let name = field.name().unwrap_or_default().to_owned();
        if let Some(original) = field.file_name().map(str::to_owned) {
            let bytes = field.bytes().await.map_err(multipart_error)?;
            uploads.push(Upload::new(name, original, bytes));
            continue;
        }
        let text = field.text().await.map_err(multipart_error)?;
        parts.push((name, text));
    }
    values::from_multipart_parts(parts).map_err(|_| ApiError::invalid_request())
}

fn multipart_error(e: MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE { limits::too_large() } else { limits::body_error(&e) }
}
