//! `POST /api/batch` (pocketbase-api.md §3.6): several record writes in one transaction, each
//! with its own rules and the caller's auth; any failure rolls every one of them back.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::collection::{Event, Hook};
use crate::error::{ApiError, ApiResult, msg};
use crate::files::{self, Upload};
use crate::records::Txn;
use crate::request::RequestCx;
use crate::state::AppState;
use crate::{id, records};

/// One sub-request, as the SDK sends it.
struct Item {
    method: String,
    collection: String,
    id: Option<String>,
    query: HashMap<String, String>,
    headers: HashMap<String, String>,
    body: serde_json::Map<String, Value>,
    /// Its file parts (`requests.{i}.{field}`), named by field.
    uploads: Vec<Upload>,
}

pub async fn batch(State(app): State<AppState>, req: RequestCx) -> ApiResult<Json<Value>> {
    let settings = app.settings().batch.clone();
    if !settings.enabled {
        return Err(ApiError::forbidden(msg::BATCH_DISABLED));
    }
    let requests =
        req.body.as_ref().and_then(|b| b.get("requests")).and_then(Value::as_array).cloned().unwrap_or_default();
    if requests.is_empty() {
        return Err(invalid(json!({"requests": {"code": "validation_required", "message": "Cannot be blank."}})));
    }
    if requests.len() > settings.max_requests as usize {
        let max = settings.max_requests;
        return Err(invalid(json!({"requests": {
            "code": "validation_length_too_long",
            "message": format!("The length must be no more than {max}."),
            "params": {"max": max},
        }})));
    }
    let mut items: Vec<Result<Item, ApiError>> = requests.iter().map(parse_item).collect();
    requested(&app, &req, &mut items).await?;
    let written = store_uploads(&app, &mut items, &req.uploads).await?;
    let results = records::write(&app, written, move |txn| {
        let mut out = Vec::new();
        for (i, item) in items.into_iter().enumerate() {
            match item.and_then(|item| run(txn, &req, item)) {
                Ok(result) => out.push(result),
                Err(e) => return Err(item_failed(i, &e)),
            }
        }
        Ok(out)
    })
    .await?;
    Ok(Json(Value::Array(results)))
}

/// Runs each item's `on_request` hook, before the transaction: what a hook changes in an
/// item's body is what the item writes; the first refusal fails the batch as that item.
async fn requested(app: &AppState, outer: &RequestCx, items: &mut [Result<Item, ApiError>]) -> ApiResult<()> {
    for (i, item) in items.iter_mut().enumerate() {
        let Ok(item) = item else { continue };
        let Some(coll) = app.collection(&item.collection) else { continue };
        if !coll.hooks.runs(Hook::OnRequest) {
            continue;
        }
        let named = item.id.clone().or_else(|| item.body.get("id").and_then(Value::as_str).map(str::to_owned));
        let event = match (item.method.as_str(), &named) {
            ("PATCH", _) => Event::Update,
            ("DELETE", _) => Event::Delete,
            ("PUT", Some(id)) => {
                let (c, id) = (coll.clone(), id.clone());
                let exists = app.db().read(move |conn| records::exists(conn, &c, &id).map_err(ApiError::from)).await?;
                if exists { Event::Update } else { Event::Create }
            }
            _ => Event::Create,
        };
        let mut req = RequestCx { body: Some(std::mem::take(&mut item.body)), ..item_request(outer, item) };
        let result = records::requested(&coll, event, named.as_deref(), &mut req).await;
        item.body = req.body.take().unwrap_or_default();
        result.map_err(|e| item_failed(i, &e))?;
    }
    Ok(())
}

/// An item's request without its body and files: the batch's caller, the item's query and
/// method, the batch's headers with the item's own over them.
fn item_request(outer: &RequestCx, item: &Item) -> RequestCx {
    let mut headers = outer.headers.clone();
    headers.extend(item.headers.iter().map(|(k, v)| (k.clone(), v.clone())));
    RequestCx {
        auth: outer.auth.clone(),
        query: item.query.clone(),
        headers,
        method: item.method.clone(),
        body: None,
        uploads: Vec::new(),
        now: outer.now,
        system: outer.system,
    }
}

/// Hands each item its file parts and stores them before the transaction (see `files`). A
/// create without an `id` gets one here, since its files are stored under it.
async fn store_uploads(
    app: &AppState,
    items: &mut [Result<Item, ApiError>],
    uploads: &[Upload],
) -> ApiResult<Vec<String>> {
    for upload in uploads {
        let Some((index, part)) = upload.part.strip_prefix("requests.").and_then(|r| r.split_once('.')) else {
            continue;
        };
        if let Some(Ok(item)) = index.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
            item.uploads.push(Upload { part: part.to_owned(), ..upload.clone() });
        }
    }
    for item in items.iter_mut().flatten() {
        files::add_to_body(&mut item.body, &item.uploads);
    }
    let mut written = Vec::new();
    for item in items.iter_mut().flatten().filter(|item| !item.uploads.is_empty() && item.method != "DELETE") {
        let Some(coll) = app.collection(&item.collection) else { continue };
        let id = match &item.id {
            Some(id) => id.clone(),
            None => {
                let id = item.body.get("id").and_then(Value::as_str).map_or_else(id::new_id, str::to_owned);
                item.body.insert("id".into(), Value::String(id.clone()));
                id
            }
        };
        match files::store(app, &coll, &id, &files::for_file_fields(&coll, &item.uploads)).await {
            Ok(keys) => written.extend(keys),
            Err(e) => {
                files::discard(app, written).await;
                return Err(e);
            }
        }
    }
    Ok(written)
}

fn invalid(data: Value) -> ApiError {
    ApiError { data, ..ApiError::bad_request(msg::BATCH_INVALID) }
}

fn item_failed(index: usize, e: &ApiError) -> ApiError {
    let response = json!({"data": e.data, "message": e.message, "status": e.status.as_u16()});
    let data = json!({"requests": {index.to_string(): {
        "code": "batch_request_failed",
        "message": "Batch request failed.",
        "response": response,
    }}});
    ApiError { data, ..ApiError::bad_request(msg::BATCH_FAILED) }
}

fn parse_item(v: &Value) -> Result<Item, ApiError> {
    let method = v.get("method").and_then(Value::as_str).unwrap_or("").to_ascii_uppercase();
    let url = v.get("url").and_then(Value::as_str).unwrap_or("");
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let query: Vec<(String, String)> = serde_urlencoded::from_str(query).map_err(|_| ApiError::invalid_request())?;
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (collection, id) = match segments.as_slice() {
        ["api", "collections", c, "records"] => (c.to_string(), None),
        ["api", "collections", c, "records", id] => (c.to_string(), Some(id.to_string())),
        _ => return Err(ApiError::not_found()),
    };
    let headers = v
        .get("headers")
        .and_then(Value::as_object)
        .map(|h| {
            h.iter()
                .filter_map(|(k, v)| Some((k.to_ascii_lowercase().replace('-', "_"), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default();
    let body = match v.get("body") {
        Some(Value::Object(b)) => b.clone(),
        None | Some(Value::Null) => serde_json::Map::new(),
        Some(_) => return Err(ApiError::invalid_request()),
    };
    Ok(Item { method, collection, id, query: query.into_iter().collect(), headers, body, uploads: Vec::new() })
}

fn run(txn: &Txn<'_, '_>, outer: &RequestCx, item: Item) -> ApiResult<Value> {
    let coll = txn
        .app
        .collection(&item.collection)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, msg::MISSING_COLLECTION_WRITE))?;
    let head = item_request(outer, &item);
    let req = RequestCx { body: Some(item.body), uploads: item.uploads, ..head };
    let ok = |record| json!({"status": 200, "body": records::shape(record, &req)});
    match (item.method.as_str(), item.id) {
        ("POST", None) => records::create_in(txn, &coll, &req, records::prepare_create(&coll, &req)).map(ok),
        ("PATCH", Some(id)) => records::update_in(txn, &coll, &id, &req, None).map(ok),
        ("DELETE", Some(id)) => {
            records::delete_in(txn, &coll, &id, &req).map(|()| json!({"status": 204, "body": null}))
        }
        ("PUT", None) => {
            let id = req.body.as_ref().and_then(|b| b.get("id")).and_then(Value::as_str).map(str::to_owned);
            match id {
                Some(id) if records::exists(txn.conn, &coll, &id)? => {
                    records::update_in(txn, &coll, &id, &req, None).map(ok)
                }
                _ => records::create_in(txn, &coll, &req, records::prepare_create(&coll, &req)).map(ok),
            }
        }
        _ => Err(ApiError::invalid_request()),
    }
}
