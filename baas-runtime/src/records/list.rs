//! `list`: one page of the records a caller may list, with the total and `expand`.

use std::sync::Arc;

use baas_schema::ir::Action;
use baas_schema::sql::{Dialect, quote};
use serde_json::{Value, json};

use crate::collection::{Coll, Record};
use crate::db::{SqlValue, placeholder};
use crate::error::ApiResult;
use crate::query::{self, ListParams};
use crate::request::RequestCx;
use crate::state::AppState;

use super::expand;

use super::*;

// --- operations -------------------------------------------------------------------------------

/// `GET /api/collections/{c}/records`
pub async fn list(app: &AppState, coll: Arc<Coll>, req: Arc<RequestCx>) -> ApiResult<Value> {
    let params = ListParams::parse(&req.query, req.is_superuser())?;
    let dialect = app.db().dialect();
    // The filter's parameters are numbered after the rule's.
    let rule_binds = match gate(&coll, Action::List, &req, dialect)? {
        Gate::Filter(frag) => frag.binds.len(),
        Gate::Open => 0,
    };
    let filter = match &params.filter {
        Some(f) => Some(query::compile_filter(app, &coll, f, req.is_superuser(), dialect, rule_binds + 1)?),
        None => None,
    };
    // The sort's parameters come after the filter's.
    let before_sort = rule_binds + filter.as_ref().map_or(0, |f| f.binds.len());
    let order = match &params.sort {
        Some(s) => Some(query::order_by(app, &coll, s, req.is_superuser(), dialect, before_sort + 1)?),
        None => None,
    };
    let app2 = app.clone();
    let (coll2, req2) = (coll.clone(), req.clone());
    let (records, total) = app
        .db()
        .read(move |conn| -> ApiResult<_> {
            let gate = gate(&coll2, Action::List, &req2, conn.dialect())?;
            let (pred, mut binds) = gate.sql(&req2);
            let mut where_sql = pred;
            if let Some(f) = &filter {
                where_sql = format!("{where_sql} AND ({})", f.sql);
                binds.extend(resolve_binds(&f.binds, &req2));
            }
            let table = quote(&coll2.ir.name);
            let total = if params.skip_total {
                -1
            } else {
                conn.count(&format!("SELECT COUNT(*) FROM {table} WHERE {where_sql}"), &binds)?
            };
            let order = match &order {
                Some(o) => {
                    binds.extend(resolve_binds(&o.binds, &req2));
                    o.sql.clone()
                }
                None => default_order(&coll2, conn.dialect()),
            };
            let n = binds.len();
            binds.push(SqlValue::Int(params.per_page as i64));
            binds.push(SqlValue::Int(((params.page - 1) * params.per_page) as i64));
            let sql = format!(
                "SELECT {} FROM {table} WHERE {where_sql} ORDER BY {order} LIMIT {} OFFSET {}",
                coll2.columns,
                placeholder(conn.dialect(), n + 1),
                placeholder(conn.dialect(), n + 2)
            );
            let rows = conn.query(&sql, &binds)?;
            let mut records: Vec<Record> = rows.into_iter().map(|r| row_to_record(&coll2, r)).collect();
            let cx = req2.hook_context();
            for r in &mut records {
                coll2.hooks.on_read(r, &cx);
            }
            let records = records.into_iter().map(|r| present(&coll2, r, &req2)).collect::<Vec<_>>();
            let records = expand::expand_all(&app2, conn, records, &coll2, &req2)?;
            Ok((records, total))
        })
        .await?;
    let mut records = records;
    query::pick_records(&mut records, req.query.get("fields").map(String::as_str));
    let total_pages = if total < 0 { -1 } else { (total as u64).div_ceil(params.per_page) as i64 };
    Ok(json!({
        "items": records,
        "page": params.page,
        "perPage": params.per_page,
        "totalItems": total,
        "totalPages": total_pages,
    }))
}

pub(super) fn default_order(coll: &Coll, dialect: Dialect) -> String {
    let table = quote(&coll.ir.name);
    match dialect {
        // Views have no row numbers (a SQLite view that is not flattened, one with GROUP BY
        // say, has no rowid either): they list by id on both engines.
        _ if coll.ir.is_view() => format!("{table}.\"id\" ASC"),
        Dialect::Sqlite => format!("{table}.rowid ASC"),
        // Tables number their rows in a `_rowid` identity column (see baas-codegen's ddl.rs).
        Dialect::Postgres => format!("{table}.\"_rowid\" ASC"),
    }
}
