//! The endpoints: `GET /api/realtime` (the event stream) and `POST /api/realtime` (a client's
//! subscriptions and identity).

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use baas_schema::check::{Context, check_expr};
use baas_schema::eval::lookups_on;
use baas_schema::ir::system;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::collection::Coll;
use crate::error::{ApiError, ApiResult, FieldError, FieldErrors};
use crate::query;
use crate::request::{Caller, RequestCx};
use crate::state::AppState;

use super::*;

/// `GET /api/realtime`: the event stream, opened with `PB_CONNECT`.
pub async fn connect(State(app): State<AppState>) -> Response {
    let hub = hub(&app);
    hub.start(&app).await;
    let (client, rx) = hub.join();
    let id = client.id.clone();
    let hello = Message { event: "PB_CONNECT".into(), data: json!({"clientId": id}).to_string().into() };
    let stream = Stream { first: Some(hello), rx, client, leave: Leave { app: app.clone(), id }, idle: hub.idle() };
    let body = futures_util::stream::unfold(stream, |mut s| async move {
        let message = match s.first.take() {
            Some(m) => m,
            None => tokio::select! {
                () = s.client.kill.notified() => return None,
                next = tokio::time::timeout(s.idle, s.rx.recv()) => next.ok()??,
            },
        };
        // Under a burst, what is already queued goes out in the same write.
        let mut frames = String::new();
        let mut next = Some(message);
        while let Some(m) = next.take() {
            frames.push_str(&format!("id:{}\nevent:{}\ndata:{}\n\n", s.leave.id, m.event, m.data));
            if frames.len() < BATCH_BYTES {
                next = s.rx.try_recv().ok();
            }
        }
        Some((Ok::<_, Infallible>(Bytes::from(frames)), s))
    });
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-store"),
            (header::HeaderName::from_static("x-accel-buffering"), "no"),
        ],
        Body::from_stream(body),
    )
        .into_response()
}

pub(super) struct Stream {
    first: Option<Message>,
    rx: mpsc::Receiver<Message>,
    client: Arc<Client>,
    leave: Leave,
    idle: Duration,
}

/// Forgets the client when its stream ends, however it ends.
pub(super) struct Leave {
    app: AppState,
    id: String,
}

impl Drop for Leave {
    fn drop(&mut self) {
        hub(&self.app).remove(&self.id);
    }
}

/// `POST /api/realtime`: replaces the client's subscriptions; its first request sets the
/// identity rules are judged for.
pub async fn subscribe(State(app): State<AppState>, req: RequestCx) -> ApiResult<StatusCode> {
    let body = req.body.clone().unwrap_or_default();
    let client_id = body.get("clientId").and_then(Value::as_str).unwrap_or_default();
    if client_id.is_empty() {
        let mut errors = FieldErrors::new();
        errors.insert("clientId".into(), FieldError::required());
        return Err(ApiError::fields(crate::error::msg::VALIDATION, errors));
    }
    let client = hub(&app).client(client_id).ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, MISSING_CLIENT))?;
    let raw: Vec<String> = match body.get("subscriptions") {
        Some(Value::Array(items)) => {
            items.iter().map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned)).collect()
        }
        _ => Vec::new(),
    };
    let too_long = |n: usize| {
        let mut errors = FieldErrors::new();
        errors.insert(
            "subscriptions".into(),
            FieldError::new("validation_length_too_long", format!("The length must be no more than {n}."))
                .with_param("max", n),
        );
        ApiError::fields(crate::error::msg::VALIDATION, errors)
    };
    if raw.len() > MAX_TOPICS {
        return Err(too_long(MAX_TOPICS));
    }
    if raw.iter().any(|t| t.len() > MAX_TOPIC_LEN) {
        return Err(too_long(MAX_TOPIC_LEN));
    }
    let identity =
        |c: &Option<Caller>| c.as_ref().map(|c| (c.collection.ir.name.clone(), c.record.get(system::ID).cloned()));
    let topics: Vec<Arc<Topic>> = raw.iter().filter_map(|t| parse_topic(&app, t, &req).map(Arc::new)).collect();
    let mut subs = client.subs.lock().unwrap_or_else(|p| p.into_inner());
    if subs.auth.is_some() && identity(&subs.auth) != identity(&req.auth) {
        return Err(ApiError::forbidden(AUTH_MISMATCH));
    }
    if subs.auth.is_none() {
        subs.auth = req.auth.clone();
    }
    subs.topics = topics;
    Ok(StatusCode::NO_CONTENT)
}

/// `{collection}/{id|*}` with an optional `?options=<JSON {"query": {…}, "headers": {…}}>`.
/// `None` for topics no frame could carry (line breaks in the name).
pub(super) fn parse_topic(app: &AppState, raw: &str, req: &RequestCx) -> Option<Topic> {
    if raw.contains(['\n', '\r']) {
        return None;
    }
    let (path, params) = raw.split_once('?').unwrap_or((raw, ""));
    let options: Value = serde_urlencoded::from_str::<Vec<(String, String)>>(params)
        .ok()
        .and_then(|pairs| pairs.into_iter().find(|(k, _)| k == "options"))
        .and_then(|(_, v)| serde_json::from_str(&v).ok())
        .unwrap_or(Value::Null);
    let strings = |v: Option<&Value>| -> HashMap<String, String> {
        v.and_then(Value::as_object)
            .map(|m| {
                m.iter().map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_owned))).collect()
            })
            .unwrap_or_default()
    };
    let query = strings(options.get("query"));
    let headers: HashMap<String, String> = strings(options.get("headers"))
        .into_iter()
        .map(|(k, v)| (k.to_ascii_lowercase().replace('-', "_"), v))
        .collect();
    let (collection, record) = match path.split_once('/') {
        Some((c, "*")) => (app.collection_ref(c), None),
        Some((c, id)) => (app.collection_ref(c), Some(id.to_owned())),
        None => (None, None),
    };
    let filter = match (collection, query.get("filter").filter(|f| !f.trim().is_empty())) {
        (Some(coll), Some(text)) => Some(check_filter(app, coll, text, req)),
        _ => None,
    };
    // The identity the client will have: its first request sets it, later ones must match.
    let caller = req.auth.as_ref().map_or_else(String::new, |a| {
        format!("{}/{}", a.collection.ir.name, a.record.get(system::ID).and_then(Value::as_str).unwrap_or_default())
    });
    let who = (caller, if options.is_null() { String::new() } else { options.to_string() });
    Some(Topic {
        name: raw.into(),
        collection: collection.map(|c| c.ir.name.clone()),
        record,
        query,
        headers,
        filter,
        who,
    })
}

pub(super) fn check_filter(app: &AppState, coll: &Coll, text: &str, req: &RequestCx) -> Filter {
    // the same refusals as the REST API's `?filter=` (too long, `@request` for non-superusers…)
    if query::compile_filter(app, coll, text, req.is_superuser(), app.db().dialect(), 1).is_err() {
        return Filter::Never;
    }
    let cx = Context::filter(app.schema(), &coll.ir);
    match check_expr(&cx, text, &mut baas_schema::Diagnostics::new()) {
        // (an e-mail is read only where visible, which the SQL form knows)
        Some(texpr)
            if lookups_on(&texpr, app.db().dialect()).is_empty()
                && (req.is_superuser() || !query::reads_email(app, &texpr)) =>
        {
            Filter::Memory(texpr)
        }
        Some(_) => Filter::Sql(text.to_owned()),
        None => Filter::Never,
    }
}
