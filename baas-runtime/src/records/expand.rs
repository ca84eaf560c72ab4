//! `?expand=`: related records attached under `expand`, each through its own collection's
//! view rule (pocketbase-api.md §4). Relations load in one query per path and level, not one
//! per record.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use baas_schema::ir::{Action, FieldType, system};
use baas_schema::sql::{Dialect, quote};
use serde_json::{Map, Value};

use super::{present, row_to_record};
use crate::collection::{Coll, Record};
use crate::db::{Conn, SqlValue};
use crate::error::ApiResult;
use crate::records;
use crate::request::RequestCx;
use crate::state::AppState;

/// How deep `expand` paths may nest.
const MAX_DEPTH: usize = 6;

/// Expands `records` of `coll` as the request's `expand` parameter asks.
pub fn expand_all(
    app: &AppState,
    conn: &Conn<'_>,
    records: Vec<Record>,
    coll: &Coll,
    req: &RequestCx,
) -> ApiResult<Vec<Record>> {
    let Some(spec) = req.query.get("expand").filter(|s| !s.trim().is_empty()) else {
        return Ok(records);
    };
    let tree = PathTree::parse(spec);
    expand_level(app, conn, records, coll, req, &tree, 0)
}

/// Expand paths grouped by their first segment.
#[derive(Default, Debug)]
struct PathTree {
    children: BTreeMap<String, PathTree>,
}

impl PathTree {
    fn parse(spec: &str) -> PathTree {
        let mut root = PathTree::default();
        for path in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let mut node = &mut root;
            for seg in path.split('.').take(MAX_DEPTH) {
                node = node.children.entry(seg.to_owned()).or_default();
            }
        }
        root
    }
}

fn expand_level(
    app: &AppState,
    conn: &Conn<'_>,
    mut records: Vec<Record>,
    coll: &Coll,
    req: &RequestCx,
    tree: &PathTree,
    depth: usize,
) -> ApiResult<Vec<Record>> {
    if depth >= MAX_DEPTH || records.is_empty() {
        return Ok(records);
    }
    let mut any_valid = false;
    let mut expansions: Vec<BTreeMap<String, Value>> = vec![BTreeMap::new(); records.len()];
    for (name, sub) in &tree.children {
        if let Some(field) = coll.ir.field(name).filter(|f| matches!(f.ty, FieldType::Relation { .. })) {
            any_valid = true;
            let FieldType::Relation { collection: target, multiple, .. } = &field.ty else { continue };
            let Some(target) = app.collection(target) else { continue };
            let ids: BTreeSet<String> = records.iter().flat_map(|r| relation_ids(r.get(name))).collect();
            let related = load(app, conn, &target, "id", &ids, req, sub, depth)?;
            for (i, record) in records.iter().enumerate() {
                let found: Vec<Value> = relation_ids(record.get(name))
                    .into_iter()
                    .filter_map(|id| related.get(&id).map(|rs| Value::Object(rs[0].clone())))
                    .collect();
                if *multiple {
                    if !found.is_empty() {
                        expansions[i].insert(name.clone(), Value::Array(found));
                    }
                } else if let Some(one) = found.into_iter().next() {
                    expansions[i].insert(name.clone(), one);
                }
            }
        } else if let Some((back_name, via)) = name.split_once("_via_") {
            let Some(back) = app.collection(back_name) else { continue };
            let Some(field) = back.ir.field(via) else { continue };
            if field.ty.relation_target() != Some(coll.ir.name.as_str()) {
                continue;
            }
            any_valid = true;
            let ids: BTreeSet<String> =
                records.iter().filter_map(|r| r.get(system::ID).and_then(Value::as_str)).map(str::to_owned).collect();
            let related = load(app, conn, &back, via, &ids, req, sub, depth)?;
            for (i, record) in records.iter().enumerate() {
                let id = record.get(system::ID).and_then(Value::as_str).unwrap_or_default();
                if let Some(rs) = related.get(id) {
                    expansions[i].insert(name.clone(), Value::Array(rs.iter().cloned().map(Value::Object).collect()));
                }
            }
        }
    }
    if any_valid {
        for (record, exp) in records.iter_mut().zip(expansions) {
            record.insert("expand".into(), Value::Object(exp.into_iter().collect::<Map<_, _>>()));
        }
    }
    Ok(records)
}

fn relation_ids(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) if !s.is_empty() => vec![s.clone()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => Vec::new(),
    }
}

/// Loads the records of `target` whose `key` column (a single or multiple relation, or `id`)
/// holds one of `ids`, through `target`'s view rule, grouped by that id.
#[allow(clippy::too_many_arguments)]
fn load(
    app: &AppState,
    conn: &Conn<'_>,
    target: &Arc<Coll>,
    key: &str,
    ids: &BTreeSet<String>,
    req: &RequestCx,
    sub: &PathTree,
    depth: usize,
) -> ApiResult<BTreeMap<String, Vec<Record>>> {
    let mut out: BTreeMap<String, Vec<Record>> = BTreeMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let Ok(gate) = records::gate(target, Action::View, req, conn.dialect()) else {
        return Ok(out); // a superusers-only view rule hides everything
    };
    let (pred, mut params) = gate.sql(req);
    let table = quote(&target.ir.name);
    let multiple = target.ir.field(key).is_some_and(|f| f.ty.is_multiple());
    let first = params.len() + 1;
    let marks: Vec<String> = (0..ids.len()).map(|i| crate::db::placeholder(conn.dialect(), first + i)).collect();
    params.extend(ids.iter().map(|id| SqlValue::Text(id.clone())));
    let matches = if multiple {
        let each = match conn.dialect() {
            Dialect::Sqlite => format!("json_each({table}.{}) AS x", quote(key)),
            Dialect::Postgres => format!("jsonb_array_elements_text({table}.{}) AS x(value)", quote(key)),
        };
        format!("EXISTS (SELECT 1 FROM {each} WHERE x.value IN ({}))", marks.join(", "))
    } else {
        format!("{table}.{} IN ({})", quote(key), marks.join(", "))
    };
    let rows = conn.query(&format!("SELECT {} FROM {table} WHERE {pred} AND {matches}", target.columns), &params)?;
    let found: Vec<Record> = rows.into_iter().map(|r| present(target, row_to_record(target, r), req)).collect();
    let found = expand_level(app, conn, found, target, req, sub, depth + 1)?;
    for record in found {
        for id in relation_ids(record.get(key)).into_iter().filter(|id| ids.contains(id)) {
            out.entry(id).or_default().push(record.clone());
        }
    }
    Ok(out)
}
