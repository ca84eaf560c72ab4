//! `view`: one record, through the view rule.

use std::sync::Arc;

use baas_schema::ir::Action;
use serde_json::Value;

use crate::collection::Coll;
use crate::error::{ApiError, ApiResult};
use crate::request::RequestCx;
use crate::state::AppState;

use super::expand;

use super::*;

/// `GET /api/collections/{c}/records/{id}`
pub async fn view(app: &AppState, coll: Arc<Coll>, id: String, req: Arc<RequestCx>) -> ApiResult<Value> {
    gate(&coll, Action::View, &req, app.db().dialect())?;
    let app2 = app.clone();
    let req2 = req.clone();
    let record = app
        .db()
        .read(move |conn| -> ApiResult<_> {
            let gate = gate(&coll, Action::View, &req2, conn.dialect())?;
            let mut record = fetch(conn, &coll, &id, &gate, &req2)?.ok_or_else(ApiError::not_found)?;
            coll.hooks.on_read(&mut record, &req2.hook_context());
            let record = present(&coll, record, &req2);
            let mut out = expand::expand_all(&app2, conn, vec![record], &coll, &req2)?;
            Ok(out.pop().unwrap_or_default())
        })
        .await?;
    Ok(shape(record, &req))
}
