//! List query parameters (pocketbase-api.md §4): paging, sorting, client filters and `fields`.

use std::collections::HashMap;

use baas_schema::check::{self, Context, TExpr, check_expr, reads_hidden};
use baas_schema::expr::ast::Root;
use baas_schema::ir::system;
use baas_schema::sql::{self, Dialect, Fragment, Related, Target, quote};
use baas_schema::{Diagnostics, expr};
use serde_json::{Map, Value};

use crate::collection::{Coll, Record};
use crate::error::{ApiError, msg};
use crate::state::AppState;

/// The longest `filter` accepted, as in PocketBase.
pub const MAX_FILTER_LEN: usize = 3500;

/// The most `sort` terms, and the longest term, accepted, as in PocketBase.
pub const MAX_SORT_TERMS: usize = 8;
pub const MAX_SORT_TERM_LEN: usize = 255;

/// Parsed list parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct ListParams {
    pub page: u64,
    pub per_page: u64,
    pub sort: Option<String>,
    pub filter: Option<String>,
    pub skip_total: bool,
}

impl ListParams {
    /// Reads the list parameters. A `sort` with an empty term (`title,`), more than
    /// [`MAX_SORT_TERMS`] terms or a page past the last one SQL can count to is a 400;
    /// non-superusers may not sort by `@request.*` or `@collection.*` (403, as with filters).
    pub fn parse(query: &HashMap<String, String>, superuser: bool) -> Result<ListParams, ApiError> {
        let number = |key: &str, default: u64| -> Result<u64, ApiError> {
            match query.get(key).map(|v| v.trim()).filter(|v| !v.is_empty()) {
                None => Ok(default),
                Some(v) => match v.parse::<i64>() {
                    Ok(n) if n > 0 => Ok(n as u64),
                    Ok(_) => Ok(default),
                    Err(_) => Err(ApiError::invalid_request()),
                },
            }
        };
        let non_empty = |key: &str| query.get(key).filter(|v| !v.trim().is_empty()).cloned();
        let (page, per_page) = (number("page", 1)?, number("perPage", 30)?.min(1000));
        // The offset, (page - 1) × perPage, must be a 64-bit SQL integer.
        if (page - 1).checked_mul(per_page).is_none_or(|offset| offset > i64::MAX as u64) {
            return Err(ApiError::invalid_request());
        }
        let sort = non_empty("sort");
        if let Some(sort) = &sort {
            for (_, name) in sort_terms(sort)? {
                if !superuser && (name.starts_with("@request.") || name.starts_with("@collection.")) {
                    return Err(ApiError::forbidden(msg::FILTER_REQUEST));
                }
            }
        }
        Ok(ListParams {
            page,
            per_page,
            sort,
            filter: non_empty("filter"),
            skip_total: matches!(query.get("skipTotal").map(String::as_str), Some("1" | "true")),
        })
    }
}

/// Splits `sort=-created,+title` into (descending, name) terms; an empty term, more than
/// [`MAX_SORT_TERMS`] terms or one longer than [`MAX_SORT_TERM_LEN`] is a 400.
pub fn sort_terms(sort: &str) -> Result<Vec<(bool, &str)>, ApiError> {
    let terms: Vec<&str> = sort.split(',').map(str::trim).collect();
    if terms.len() > MAX_SORT_TERMS {
        return Err(ApiError::invalid_request());
    }
    terms
        .into_iter()
        .map(|term| {
            let (desc, name) = match term.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, term.strip_prefix('+').unwrap_or(term)),
            };
            if name.is_empty() || term.len() > MAX_SORT_TERM_LEN {
                return Err(ApiError::invalid_request());
            }
            Ok((desc, name))
        })
        .collect()
}

/// Checks and compiles a client filter against `coll`. Non-superusers may not use
/// `@request.*` or `@collection.*` (403); any other problem is a 400 with an empty body.
pub fn compile_filter(
    app: &AppState,
    coll: &Coll,
    filter: &str,
    superuser: bool,
    dialect: Dialect,
    first_param: usize,
) -> Result<Fragment, ApiError> {
    if filter.len() > MAX_FILTER_LEN {
        return Err(ApiError::invalid_request());
    }
    let parsed = expr::parse(filter).map_err(|_| ApiError::invalid_request())?;
    if !superuser {
        for c in parsed.comparisons() {
            for o in [&c.lhs, &c.rhs] {
                match o.as_path().map(|p| &p.root) {
                    Some(Root::Collection { .. }) => return Err(ApiError::forbidden(msg::FILTER_COLLECTION)),
                    Some(Root::Record) | None => {}
                    Some(_) => return Err(ApiError::forbidden(msg::FILTER_REQUEST)),
                }
            }
        }
    }
    let cx = Context::filter(app.schema(), &coll.ir);
    let mut diags = Diagnostics::new();
    let checked = check_expr(&cx, filter, &mut diags).ok_or_else(ApiError::invalid_request)?;
    let record = quote(&coll.ir.name);
    let target = Target { dialect, record: &record, first_param };
    if superuser {
        return Ok(sql::compile(&checked, target));
    }
    if reads_hidden(app.schema(), &checked) {
        return Err(ApiError::invalid_request());
    }
    Ok(sql::compile_filter(&checked, target, &ClientAccess(app)))
}

/// Whether a client filter reads an auth record's `email`, which it may see only where
/// `emailVisibility` allows: such a filter must run as SQL ([`compile_filter`]), not in memory.
pub fn reads_email(app: &AppState, expr: &TExpr) -> bool {
    let access = ClientAccess(app);
    check::columns(expr).into_iter().any(|c| c.field == system::EMAIL && sql::Access::is_auth(&access, &c.collection))
}

/// What a caller other than a superuser may see of the collections its filter or sort
/// reaches: the rows their list rules admit, and the e-mails their owners made visible.
struct ClientAccess<'a>(&'a AppState);

impl sql::Access for ClientAccess<'_> {
    fn related(&self, collection: &str) -> Related<'_> {
        match self.0.collection_ref(collection).and_then(|c| c.list_rule.as_ref()) {
            None => Related::Closed,
            Some(TExpr::True) => Related::Open,
            Some(rule) => Related::Filter(rule),
        }
    }

    fn is_auth(&self, collection: &str) -> bool {
        self.0.schema().collection(collection).is_some_and(|c| c.is_auth())
    }
}

/// Turns `sort=-created,title` into an `ORDER BY` list. Fields may be relation paths
/// (`author.name`), sorted through a subquery that sees only what the caller may list, and
/// take `:lower`; `@random` and `@rowid` are accepted. The fragment's parameters (the related
/// collections' list rules) are numbered from `first_param`.
pub fn order_by(
    app: &AppState,
    coll: &Coll,
    sort: &str,
    superuser: bool,
    dialect: Dialect,
    first_param: usize,
) -> Result<Fragment, ApiError> {
    let table = quote(&coll.ir.name);
    let access = ClientAccess(app);
    let mut parts = Vec::new();
    let mut binds = Vec::new();
    for (desc, name) in sort_terms(sort)? {
        let expr = match name {
            "@random" => "RANDOM()".to_owned(),
            "@rowid" => match dialect {
                _ if coll.ir.is_view() => format!("{table}.{}", quote("id")),
                Dialect::Sqlite => format!("{table}.rowid"),
                Dialect::Postgres => format!("{table}.{}", quote("_rowid")),
            },
            // Only superusers get here (`ListParams::parse` refuses the others): nothing to
            // sort by.
            n if n.starts_with("@request.") || n.starts_with("@collection.") => {
                return Err(ApiError::invalid_request());
            }
            key => {
                let column = check::sort_column(app.schema(), &coll.ir, key).ok_or_else(ApiError::invalid_request)?;
                let target = Target { dialect, record: &table, first_param: first_param + binds.len() };
                let term =
                    sql::compile_sort(&column, desc, target, (!superuser).then_some(&access as &dyn sql::Access));
                binds.extend(term.binds);
                parts.push(term.sql);
                continue;
            }
        };
        parts.push(format!("{expr} {}", if desc { "DESC" } else { "ASC" }));
    }
    Ok(Fragment { sql: parts.join(", "), binds })
}

/// One entry of `fields=`: a dotted path, maybe with `:excerpt(max, ellipsis)`.
#[derive(Clone, Debug, PartialEq)]
struct FieldPick {
    path: Vec<String>,
    excerpt: Option<(usize, bool)>,
}

/// Applies `fields=` to a JSON value (a record, or an auth response); `*` keeps every key at
/// its level. Unknown paths are ignored.
pub fn pick_fields(value: &mut Value, fields: &str) {
    let picks: Vec<FieldPick> =
        split_top_level(fields).into_iter().map(str::trim).filter(|s| !s.is_empty()).filter_map(parse_pick).collect();
    if picks.is_empty() {
        return;
    }
    apply_picks(value, &picks);
}

/// Splits on commas outside parentheses (`a,b:excerpt(4,true)` is two items).
fn split_top_level(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0usize, 0);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

fn parse_pick(spec: &str) -> Option<FieldPick> {
    let (path, excerpt) = match spec.split_once(":excerpt(") {
        Some((path, args)) => {
            let args = args.strip_suffix(')')?;
            let mut it = args.split(',').map(str::trim);
            let max = it.next()?.parse().ok()?;
            let ellipsis = matches!(it.next(), Some("true" | "1"));
            (path, Some((max, ellipsis)))
        }
        None => (spec, None),
    };
    Some(FieldPick { path: path.split('.').map(str::to_owned).collect(), excerpt })
}

fn apply_picks(value: &mut Value, picks: &[FieldPick]) {
    match value {
        Value::Array(items) => items.iter_mut().for_each(|v| apply_picks(v, picks)),
        Value::Object(map) => {
            let mut out = Map::new();
            let keep_all = picks.iter().any(|p| p.path.len() == 1 && p.path[0] == "*");
            for (key, v) in std::mem::take(map) {
                let own: Vec<&FieldPick> = picks.iter().filter(|p| p.path[0] == key || p.path[0] == "*").collect();
                let exact = own.iter().find(|p| p.path.len() == 1 && p.path[0] == key);
                let nested: Vec<FieldPick> = own
                    .iter()
                    .filter(|p| p.path.len() > 1)
                    .map(|p| FieldPick { path: p.path[1..].to_vec(), excerpt: p.excerpt })
                    .collect();
                if let Some(pick) = exact {
                    out.insert(
                        key,
                        match (pick.excerpt, v) {
                            (Some((max, ellipsis)), Value::String(s)) => Value::String(excerpt(&s, max, ellipsis)),
                            (_, v) => v,
                        },
                    );
                } else if !nested.is_empty() {
                    let mut v = v;
                    apply_picks(&mut v, &nested);
                    out.insert(key, v);
                } else if keep_all {
                    out.insert(key, v);
                }
            }
            *map = out;
        }
        _ => {}
    }
}

/// Plain text of `s` (tags stripped, whitespace collapsed), cut to `max` characters.
pub fn excerpt(s: &str, max: usize, ellipsis: bool) -> String {
    let mut text = String::new();
    let mut in_tag = false;
    for c in s.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if in_tag => {}
            c if c.is_whitespace() => {
                if !text.ends_with(' ') && !text.is_empty() {
                    text.push(' ');
                }
            }
            c => text.push(c),
        }
    }
    let text = text.trim_end();
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max).collect();
    cut = cut.trim_end().to_owned();
    if ellipsis {
        cut.push_str("...");
    }
    cut
}

/// Keeps only the keys `fields=` names; used on a whole record list.
pub fn pick_records(records: &mut [Record], fields: Option<&str>) {
    let Some(fields) = fields else { return };
    for record in records {
        let mut v = Value::Object(std::mem::take(record));
        pick_fields(&mut v, fields);
        if let Value::Object(map) = v {
            *record = map;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paging_defaults_and_limits() {
        let q = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let p = ListParams::parse(&q(&[]), false).unwrap();
        assert_eq!((p.page, p.per_page, p.skip_total), (1, 30, false));
        let p = ListParams::parse(&q(&[("page", "0"), ("perPage", "5000"), ("skipTotal", "1")]), false).unwrap();
        assert_eq!((p.page, p.per_page, p.skip_total), (1, 1000, true));
        assert!(ListParams::parse(&q(&[("page", "abc")]), false).is_err());
        assert!(ListParams::parse(&q(&[("page", "9223372036854775807")]), false).is_err());
        let last = (i64::MAX as u64 / 1000 + 1).to_string();
        assert!(ListParams::parse(&q(&[("page", &last), ("perPage", "1000")]), false).is_ok());
    }

    #[test]
    fn sort_terms_are_checked() {
        assert_eq!(sort_terms("-created, +title,id").unwrap(), [(true, "created"), (false, "title"), (false, "id")]);
        for bad in [",", "title,", ",title", "-", "a,,b", "a,b,c,d,e,f,g,h,i"] {
            assert_eq!(sort_terms(bad).unwrap_err().status, 400, "{bad}");
        }
        assert!(sort_terms(&"a".repeat(256)).is_err());
        let q = |sort: &str| [("sort".to_owned(), sort.to_owned())].into_iter().collect();
        assert_eq!(ListParams::parse(&q("@request.auth.id"), false).unwrap_err().status, 403);
        assert!(ListParams::parse(&q("@request.auth.id"), true).is_ok());
    }

    #[test]
    fn fields_keep_named_keys_nested_and_excerpts() {
        let mut v =
            json!({"id": "a", "title": "T", "body": "body of abc one", "expand": {"author": {"id": "u", "name": "N"}}});
        pick_fields(&mut v, "id,body:excerpt(4,true),expand.author.name");
        assert_eq!(v, json!({"id": "a", "body": "body...", "expand": {"author": {"name": "N"}}}));
        let mut v = json!({"token": "t", "record": {"id": "r", "name": "n"}});
        pick_fields(&mut v, "token,record.id");
        assert_eq!(v, json!({"token": "t", "record": {"id": "r"}}));
        let mut v = json!({"a": 1, "b": {"c": 2}});
        pick_fields(&mut v, "*");
        assert_eq!(v, json!({"a": 1, "b": {"c": 2}}));
    }

    #[test]
    fn excerpt_strips_tags() {
        assert_eq!(excerpt("<p>Hello   <b>world</b></p>", 7, true), "Hello w...");
        assert_eq!(excerpt("short", 10, true), "short");
    }
}
