//! The five record endpoints of one collection, as HTTP routes (pocketbase-api.md §3.1):
//! every generated collection and the built-in `_superusers` are served by these.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;

use crate::collection::{Coll, Event};
use crate::error::{ApiError, ApiResult};
use crate::request::RequestCx;
use crate::state::AppState;

/// `GET`/`POST /api/collections/{name}/records` and `GET`/`PATCH`/`DELETE …/records/{id}`,
/// under the collection's name and under its id. The collection is looked up by `id` on each
/// request, so one router serves whatever the running backend holds.
pub fn routes(name: &str, id: &'static str) -> Router<AppState> {
    let collection =
        move |app: &AppState| -> ApiResult<Arc<Coll>> { app.collection(id).ok_or_else(ApiError::not_found) };
    let list = move |State(app): State<AppState>, req: RequestCx| async move {
        super::list(&app, collection(&app)?, Arc::new(req)).await.map(Json)
    };
    let create = move |State(app): State<AppState>, mut req: RequestCx| async move {
        let coll = collection(&app)?;
        let named = req.body.as_ref().and_then(|b| b.get("id")).and_then(|id| id.as_str()).map(str::to_owned);
        super::requested(&coll, Event::Create, named.as_deref(), &mut req).await?;
        super::create(&app, coll, Arc::new(req)).await.map(Json)
    };
    let view = move |State(app): State<AppState>, Path(record): Path<String>, req: RequestCx| async move {
        super::view(&app, collection(&app)?, record, Arc::new(req)).await.map(Json)
    };
    let update = move |State(app): State<AppState>, Path(record): Path<String>, mut req: RequestCx| async move {
        let coll = collection(&app)?;
        super::requested(&coll, Event::Update, Some(&record), &mut req).await?;
        super::update(&app, coll, record, Arc::new(req)).await.map(Json)
    };
    let delete = move |State(app): State<AppState>, Path(record): Path<String>, mut req: RequestCx| async move {
        let coll = collection(&app)?;
        super::requested(&coll, Event::Delete, Some(&record), &mut req).await?;
        super::delete(&app, coll, record, Arc::new(req)).await.map(|()| StatusCode::NO_CONTENT)
    };
    let mut router = Router::new();
    for key in if name == id { vec![id] } else { vec![name, id] } {
        router = router
            .route(&format!("/api/collections/{key}/records"), get(list).post(create))
            .route(&format!("/api/collections/{key}/records/{{id}}"), get(view).patch(update).delete(delete));
    }
    router
}
