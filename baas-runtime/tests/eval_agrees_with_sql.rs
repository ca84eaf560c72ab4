//! The in-memory evaluator (realtime judges rules and client filters with it) against the SQL
//! compiler, through the runtime's own conversions: records stored with `value::to_column`
//! and read back with `value::from_column`, parameters resolved from a `RequestCx` by
//! `records::resolve_binds`, values bound with the runtime's `SqlValue`. For random row-only
//! expressions (every field type, every operator, `null`, modifiers, request values) and random
//! records, `eval` says exactly what the compiled fragment says about a one-row table holding
//! the record, on SQLite and on PostgreSQL.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use baas_runtime::collection::{Coll, NoHooks, RuleSet};
use baas_runtime::db::SqlValue;
use baas_runtime::records::resolve_binds;
use baas_runtime::value::{from_column, to_column};
use baas_runtime::{Caller, RequestCx};
use baas_schema::check::{CheckedSchema, Context, TExpr, check_expr};
use baas_schema::eval::{eval, lookups_on};
use baas_schema::ir::Action;
use baas_schema::sql::{Dialect, Target, column_type, compile, quote};
use baas_schema::{Diagnostics, SourceFile, load_yaml};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

const SCHEMA: &str = r#"
collections:
  users:
    type: auth
    fields:
      name: text
  items:
    fields:
      title: text
      n:     number
      k:     { type: number, integer: true }
      flag:  bool
      tags:  { type: select, values: [a, b, c], multiple: true }
      extra: json
      due:   date
      owner: { type: relation, collection: users }
"#;

fn schema() -> &'static CheckedSchema {
    static SCHEMA_CHECKED: OnceLock<CheckedSchema> = OnceLock::new();
    SCHEMA_CHECKED.get_or_init(|| {
        let file = SourceFile::new("eval.yaml", SCHEMA);
        let (checked, diags) = load_yaml(&file);
        checked.unwrap_or_else(|| panic!("the test schema does not check:\n{}", diags.render(&file)))
    })
}

/// A request as the extractor would build it: the caller `auth` (a `users` record, or none
/// when empty), `?q=query`, a header `h`, at a fixed time.
fn request_for(auth: &str, query: &str) -> RequestCx {
    let users = schema().schema.collection("users").expect("users").clone();
    let collection = Arc::new(Coll {
        ir: users,
        rules: RuleSet::default(),
        hooks: Arc::new(NoHooks),
        columns: String::new(),
        list_rule: None,
    });
    let record = json!({"id": auth, "name": "x", "email": "", "verified": false});
    let mut req = RequestCx::anonymous();
    req.auth =
        (!auth.is_empty()).then(|| Caller { collection, record: record.as_object().cloned().unwrap_or_default() });
    req.query = HashMap::from([("q".to_owned(), query.to_owned())]);
    req.headers = HashMap::from([("h".to_owned(), "H".to_owned())]);
    req.now = time::macros::datetime!(2025-06-15 12:00 UTC);
    req
}

fn check(text: &str) -> Option<TExpr> {
    let schema = schema();
    let coll = schema.schema.collection("items").expect("items");
    let cx = Context { schema: &schema.schema, collection: coll, action: Some(Action::List), filter: false };
    check_expr(&cx, text, &mut Diagnostics::new())
}

/// As a client filter (realtime judges row-only option filters in memory): the checker
/// accepts more there (`~` on numbers, ordered booleans, `flag = 1`).
fn check_filter(text: &str) -> Option<TExpr> {
    let schema = schema();
    let coll = schema.schema.collection("items").expect("items");
    check_expr(&Context::filter(&schema.schema, coll), text, &mut Diagnostics::new())
}

/// The record's columns as the runtime stores them, and the record as realtime sees it
/// (read back from those columns).
fn stored(record: &Map<String, Value>) -> (Vec<SqlValue>, Map<String, Value>) {
    let coll = schema().schema.collection("items").expect("items");
    let mut columns = Vec::new();
    let mut read_back = Map::new();
    for f in &coll.fields {
        let column = to_column(&f.ty, record.get(&f.name).unwrap_or(&Value::Null));
        read_back.insert(f.name.clone(), from_column(&f.ty, column.clone()));
        columns.push(column);
    }
    (columns, read_back)
}

/// The compiled fragment over a one-row table named `items` holding `columns`, with its
/// parameters: the fragment's first, then one per column.
fn one_row_query(texpr: &TExpr, req: &RequestCx, columns: Vec<SqlValue>, dialect: Dialect) -> (String, Vec<SqlValue>) {
    let coll = schema().schema.collection("items").expect("items");
    let fragment = compile(texpr, Target { dialect, record: "\"items\"", first_param: 1 });
    let mut params = resolve_binds(&fragment.binds, req);
    let mut select = Vec::new();
    for (f, column) in coll.fields.iter().zip(columns) {
        params.push(column);
        let param = match dialect {
            Dialect::Sqlite => format!("?{}", params.len()),
            Dialect::Postgres => format!("${}", params.len()),
        };
        // CAST gives the value its column's type (SQLite: affinity), as a real table would.
        select.push(format!("CAST({param} AS {}) AS {}", column_type(&f.ty, dialect), quote(&f.name)));
    }
    (format!("SELECT 1 FROM (SELECT {}) AS \"items\" WHERE {}", select.join(", "), fragment.sql), params)
}

fn sqlite_says(texpr: &TExpr, req: &RequestCx, columns: Vec<SqlValue>) -> bool {
    thread_local! {
        static CONN: rusqlite::Connection = rusqlite::Connection::open_in_memory().expect("SQLite");
    }
    let (sql, params) = one_row_query(texpr, req, columns, Dialect::Sqlite);
    CONN.with(|conn| {
        let mut stmt = conn.prepare(&sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        stmt.exists(rusqlite::params_from_iter(params)).unwrap_or_else(|e| panic!("{sql}: {e}"))
    })
}

/// The PostgreSQL server of the test suite (`BAAS_TEST_PG`), one connection for the process.
fn postgres() -> &'static Mutex<postgres::Client> {
    static CLIENT: OnceLock<Mutex<postgres::Client>> = OnceLock::new();
    CLIENT.get_or_init(|| {
        let base = std::env::var("BAAS_TEST_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
        let client = postgres::Client::connect(&format!("{base}/postgres"), postgres::NoTls)
            .unwrap_or_else(|e| panic!("PostgreSQL at {base} (set BAAS_TEST_PG): {e}"));
        Mutex::new(client)
    })
}

/// What PostgreSQL says, or `None` when it refuses the comparison as typed. Known gap: text
/// compared with a number or a bool (`n = extra:lower`, `@request.query.q > 0`) is an error
/// on PostgreSQL ("operator does not exist"), where SQLite converts by column affinity and the
/// evaluator follows SQLite. Such a filter is answered with an error there, never with a
/// different set of records.
fn postgres_says(texpr: &TExpr, req: &RequestCx, columns: Vec<SqlValue>) -> Option<bool> {
    let (sql, params) = one_row_query(texpr, req, columns, Dialect::Postgres);
    let refs: Vec<&(dyn postgres::types::ToSql + Sync)> =
        params.iter().map(|p| p as &(dyn postgres::types::ToSql + Sync)).collect();
    let mut client = postgres().lock().unwrap_or_else(|e| e.into_inner());
    match client.query(&sql, &refs) {
        Ok(rows) => Some(!rows.is_empty()),
        Err(e) if e.code() == Some(&postgres::error::SqlState::UNDEFINED_FUNCTION) => None,
        Err(e) => panic!("{sql} with {params:?}: {e}"),
    }
}

const OPERANDS: &[&str] = &[
    "id",
    "title",
    "n",
    "k",
    "flag",
    "tags",
    "tags:each",
    "tags:length",
    "extra",
    "extra:lower",
    "due",
    "owner",
    "title:lower",
    "@request.auth.id",
    "@request.query.q",
    "@request.headers.h",
    "@request.method",
    "@request.context",
    "@now",
    "@hour",
    "{:p}",
    r#""hello""#,
    r#""Hello""#,
    r#""""#,
    r#""a""#,
    r#""5""#,
    r#""x""#,
    r#""%ell%""#,
    r#""_""#,
    r#""a_b""#,
    r#""2024-01-01""#,
    r#""u1""#,
    "5",
    "2.5",
    "0",
    "-3",
    "true",
    "false",
    "null",
];

const OPS: &[&str] = &["=", "!=", ">", ">=", "<", "<=", "~", "!~", "?=", "?!=", "?>", "?>=", "?<", "?<=", "?~", "?!~"];

fn comparison() -> impl Strategy<Value = String> {
    (proptest::sample::select(OPERANDS), proptest::sample::select(OPS), proptest::sample::select(OPERANDS))
        .prop_map(|(a, op, b)| format!("{a} {op} {b}"))
}

fn expression() -> impl Strategy<Value = String> {
    comparison().prop_recursive(3, 8, 2, |inner| {
        (inner.clone(), prop_oneof![Just("&&"), Just("||")], inner).prop_map(|(a, j, b)| format!("({a}) {j} ({b})"))
    })
}

fn record() -> impl Strategy<Value = Map<String, Value>> {
    let text = proptest::sample::select(vec!["", "Hello", "hello world", "a_b", "100%", "Zed", "5", "u1"]);
    let number = proptest::sample::select(vec![json!(0), json!(1), json!(2.5), json!(-3), json!(5), json!(10)]);
    let tags = proptest::sample::subsequence(vec!["a", "b", "c"], 0..=3);
    let extra = proptest::sample::select(vec![
        json!(null),
        json!(5),
        json!(2.5),
        json!("x"),
        json!("Hello"),
        json!("5"),
        json!(true),
        json!(false),
        json!([1, "a"]),
        json!({"k": 1}),
    ]);
    let due = proptest::sample::select(vec!["", "2024-01-01 00:00:00.000Z", "2025-06-15 12:00:00.000Z", "2026-01-01"]);
    let owner = proptest::sample::select(vec!["", "u1", "u2"]);
    (text, number.clone(), number, any::<bool>(), tags, extra, due, owner).prop_map(
        |(title, n, k, flag, tags, extra, due, owner)| {
            let k = json!(k.as_f64().unwrap_or(0.0).trunc() as i64);
            json!({"id": "r1", "title": title, "n": n, "k": k, "flag": flag, "tags": tags, "extra": extra,
                   "due": due, "owner": owner, "created": "2025-01-01 00:00:00.000Z", "updated": ""})
            .as_object()
            .cloned()
            .unwrap_or_default()
        },
    )
}

/// The caller's id and `?q=` of a request (see [`request_for`]).
fn request() -> impl Strategy<Value = (&'static str, &'static str)> {
    (proptest::sample::select(vec!["", "u1", "u2"]), proptest::sample::select(vec!["", "5", "hello", "a"]))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn eval_agrees_with_sqlite(text in expression(), record in record(), req in request()) {
        let Some(texpr) = check(&text) else { return Ok(()) };
        prop_assert!(baas_schema::eval::lookups(&texpr).is_empty(), "{}", text);
        let (req, (columns, seen)) = (request_for(req.0, req.1), stored(&record));
        prop_assert_eq!(eval(&texpr, &seen, &req), Some(sqlite_says(&texpr, &req, columns)), "{} on {:?}", text, seen);
    }

    #[test]
    fn eval_agrees_with_sqlite_on_client_filters(text in expression(), record in record(), req in request()) {
        let Some(texpr) = check_filter(&text) else { return Ok(()) };
        let (req, (columns, seen)) = (request_for(req.0, req.1), stored(&record));
        prop_assert_eq!(eval(&texpr, &seen, &req), Some(sqlite_says(&texpr, &req, columns)), "{} on {:?}", text, seen);
    }
}

proptest! {
    // a round trip to the server per case
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn eval_agrees_with_postgres(text in expression(), record in record(), req in request()) {
        let Some(texpr) = check(&text) else { return Ok(()) };
        let (req, (columns, seen)) = (request_for(req.0, req.1), stored(&record));
        if !lookups_on(&texpr, Dialect::Postgres).is_empty() { return Ok(()) }
        let Some(sql) = postgres_says(&texpr, &req, columns) else { return Ok(()) };
        prop_assert_eq!(eval(&texpr, &seen, &req), Some(sql), "{} on {:?}", text, seen);
    }

    #[test]
    fn eval_agrees_with_postgres_on_client_filters(text in expression(), record in record(), req in request()) {
        let Some(texpr) = check_filter(&text) else { return Ok(()) };
        let (req, (columns, seen)) = (request_for(req.0, req.1), stored(&record));
        if !lookups_on(&texpr, Dialect::Postgres).is_empty() { return Ok(()) }
        let Some(sql) = postgres_says(&texpr, &req, columns) else { return Ok(()) };
        prop_assert_eq!(eval(&texpr, &seen, &req), Some(sql), "{} on {:?}", text, seen);
    }
}

/// Enough of the generated comparisons check for the properties to mean something.
#[test]
fn most_comparisons_check() {
    let mut checked = 0;
    for a in OPERANDS {
        for op in OPS {
            for b in OPERANDS {
                checked += usize::from(check(&format!("{a} {op} {b}")).is_some());
            }
        }
    }
    assert!(checked > 4000, "only {checked} comparisons check");
}

/// Cases the property found: SQLite converts text towards a number column's affinity
/// (`n >= extra:lower` with `n = 5` and `extra = 5` holds: `'5'` becomes 5).
#[test]
fn column_affinity_converts_the_other_side() {
    let record =
        json!({"id": "r1", "n": 5, "extra": 5, "title": "", "tags": [], "due": "", "owner": "", "k": 0, "flag": false})
            .as_object()
            .cloned()
            .unwrap_or_default();
    let req = request_for("", "");
    for text in [
        "n >= extra:lower",
        "(n >= extra:lower) || ((\"a\" = extra) && (id = extra))",
        "n = extra:lower",
        "k < extra:lower",
    ] {
        let texpr = check(text).expect("checks");
        let (columns, seen) = stored(&record);
        assert_eq!(eval(&texpr, &seen, &req), Some(sqlite_says(&texpr, &req, columns)), "{text}");
    }
}
