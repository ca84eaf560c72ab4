//! Reading a request into a [`RequestCx`]: the caller its token names, its query, headers and
//! body (JSON or multipart, files apart), as axum extractors.
//!
//! Bad or expired tokens are ignored, not rejected (pocketbase-api.md §1): the request just
//! becomes anonymous. Endpoints that need a caller ask for a [`Caller`], which answers 401.

use std::collections::HashMap;

use axum::extract::multipart::MultipartError;
use axum::extract::{FromRequest, FromRequestParts, Multipart, OptionalFromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use baas_schema::ir::system;
use serde_json::{Map, Value};

use crate::data::{Data, TypedRecord};
use crate::error::{ApiError, msg};
use crate::files::Upload;
use crate::request::{Auth, Caller, RequestCx, Superuser};
use crate::state::AppState;
use crate::{input, limits, records, token};

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
    let record = match app.db().read(move |conn| records::fetch_unchecked(conn, &coll, &id)).await {
        Ok(record) => record?,
        Err(e) => {
            // the request goes on as anonymous; the failure is the server's, not the token's
            tracing::error!("cannot read the caller of a token: {e}");
            return None;
        }
    };
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

/// A caller when the token names one, `None` for a request without (or with a bad) token:
/// `async fn feed(caller: Option<Caller>, …)`.
impl OptionalFromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Option<Self>, Self::Rejection> {
        Ok(authenticate(app, &parts.headers).await)
    }
}

/// The caller, who must be signed in as a record of `collection`: 401 without a valid token,
/// 403 for a caller of another collection.
async fn caller_of(app: &AppState, parts: &Parts, collection: &str) -> Result<Caller, ApiError> {
    let caller = authenticate(app, &parts.headers).await.ok_or_else(ApiError::unauthorized)?;
    if caller.collection_name() != collection {
        return Err(ApiError::forbidden(msg::NOT_ALLOWED));
    }
    Ok(caller)
}

impl FromRequestParts<AppState> for Superuser {
    type Rejection = ApiError;

    /// 401 without a valid token, 403 for a caller who is not a superuser.
    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Self::Rejection> {
        Ok(Superuser(caller_of(app, parts, system::SUPERUSERS).await?))
    }
}

impl<R: TypedRecord + Send> FromRequestParts<AppState> for Auth<R> {
    type Rejection = ApiError;

    /// 401 without a valid token, 403 for a caller of another collection.
    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Self::Rejection> {
        Ok(Auth(R::from_record(&caller_of(app, parts, R::COLLECTION).await?.record)?))
    }
}

impl<R: TypedRecord + Send> OptionalFromRequestParts<AppState> for Auth<R> {
    type Rejection = ApiError;

    /// `None` for an anonymous caller and for a caller of another collection.
    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Option<Self>, Self::Rejection> {
        match authenticate(app, &parts.headers).await {
            Some(caller) if caller.collection_name() == R::COLLECTION => {
                Ok(Some(Auth(R::from_record(&caller.record)?)))
            }
            _ => Ok(None),
        }
    }
}

/// The data API for a custom route, acting as the request's caller (anonymous without a
/// valid token): `async fn publish(data: Data, …)`.
impl FromRequestParts<AppState> for Data {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Self::Rejection> {
        Ok(records::Handle::data(app, &head(app, parts).await?))
    }
}

/// What a request's head says: its caller, query, headers and method (no body yet).
async fn head(app: &AppState, parts: &Parts) -> Result<RequestCx, ApiError> {
    Ok(RequestCx {
        auth: authenticate(app, &parts.headers).await,
        query: parse_query(parts)?,
        headers: rule_headers(&parts.headers),
        method: parts.method.as_str().to_owned(),
        ..RequestCx::anonymous()
    })
}

impl FromRequest<AppState> for RequestCx {
    type Rejection = ApiError;

    async fn from_request(req: Request, app: &AppState) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let head = head(app, &parts).await?;
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
        Ok(RequestCx { body, uploads, ..head })
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
    input::from_multipart_parts(parts).map_err(|_| ApiError::invalid_request())
}

fn multipart_error(e: MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE { limits::too_large() } else { limits::body_error(&e) }
}
