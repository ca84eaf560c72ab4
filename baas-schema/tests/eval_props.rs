//! The in-memory evaluator against the SQL compiler: for random row-only expressions (every
//! field type, every operator, `null`, modifiers, request values) and random records, `eval`
//! says exactly what the compiled SQLite fragment says about a one-row table holding the
//! record. And [`lookups`] names what needs other rows.

use baas_schema::check::{CheckedSchema, Context, TExpr, check_expr};
use baas_schema::eval::{Request, eval, lookups};
use baas_schema::expr::ast::{Literal, Macro};
use baas_schema::ir::{Action, FieldType};
use baas_schema::sql::{BindValue, Dialect, SqlTy, Target, column_type, compile, like_pattern, quote};
use baas_schema::{Diagnostics, SourceFile, load_yaml};
use proptest::prelude::*;
use rusqlite::types::Value as Sql;
use serde_json::{Map, Value, json};

const SCHEMA: &str = r#"
collections:
  users:
    type: auth
    fields:
      name: text
    rules:
      list: "items_via_owner.title ?= 'y'"
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
    rules:
      list: "flag = true || owner = @request.auth.id"
      view: "owner.name = 'x' || flag = true"
    indexes:
      - [flag]
"#;

fn schema() -> CheckedSchema {
    let file = SourceFile::new("eval.yaml", SCHEMA);
    let (checked, diags) = load_yaml(&file);
    checked.unwrap_or_else(|| panic!("the test schema does not check:\n{}", diags.render(&file)))
}

thread_local! {
    static SCHEMA_CHECKED: CheckedSchema = schema();
}

/// The request every expression is judged for.
#[derive(Debug)]
struct Req {
    auth: Value,
    query: Value,
}

impl Request for Req {
    fn value(&self, of: &BindValue) -> Value {
        match of {
            BindValue::Auth(f) if f == "id" => self.auth.clone(),
            BindValue::Auth(_) => Value::String(String::new()),
            BindValue::Query(_) => self.query.clone(),
            BindValue::Header(_) => Value::String("H".into()),
            BindValue::Method => Value::String("GET".into()),
            BindValue::Context => Value::String("default".into()),
            BindValue::Macro(Macro::Now) => Value::String("2025-06-15 12:00:00.000Z".into()),
            BindValue::Macro(_) => json!(3),
            _ => Value::Null,
        }
    }
}

/// What the runtime binds for a parameter (`records.rs`: the request's JSON converted to the
/// parameter's type).
fn bind(value: &BindValue, ty: SqlTy, req: &Req) -> Sql {
    let json = match value {
        BindValue::Literal(Literal::Null) => return Sql::Null,
        BindValue::Literal(Literal::String(s)) => Value::String(s.clone()),
        BindValue::Literal(Literal::Number(n)) => json!(n),
        BindValue::Literal(Literal::Bool(b)) => Value::Bool(*b),
        BindValue::LikePattern(inner) => {
            return match bind(inner, SqlTy::Text, req) {
                Sql::Text(s) => Sql::Text(like_pattern(&s)),
                other => panic!("a pattern of {other:?}"),
            };
        }
        other => req.value(other),
    };
    match ty {
        SqlTy::Text | SqlTy::JsonArray => Sql::Text(match &json {
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            other => other.to_string(),
        }),
        SqlTy::Number => Sql::Real(match &json {
            Value::Number(n) => n.as_f64().unwrap_or(0.0),
            Value::String(s) => s.trim().parse().unwrap_or(0.0),
            Value::Bool(b) => f64::from(u8::from(*b)),
            _ => 0.0,
        }),
        SqlTy::Bool => Sql::Integer(match &json {
            Value::Bool(b) => i64::from(*b),
            Value::Number(n) => i64::from(n.as_f64().is_some_and(|f| f != 0.0)),
            Value::String(s) => i64::from(s == "true" || s == "1"),
            _ => 0,
        }),
    }
}

/// A column value as the runtime stores it.
fn column(ty: &FieldType, v: &Value) -> Sql {
    match (ty, v) {
        (t, v) if t.is_multiple() => Sql::Text(v.to_string()),
        (FieldType::Json, v) => Sql::Text(v.to_string()),
        (FieldType::Bool, v) => Sql::Integer(i64::from(v.as_bool().unwrap_or(false))),
        (FieldType::Number { .. }, Value::Number(n)) => match n.as_i64() {
            Some(i) => Sql::Integer(i),
            None => Sql::Real(n.as_f64().unwrap_or(0.0)),
        },
        (_, Value::String(s)) => Sql::Text(s.clone()),
        (_, other) => Sql::Text(other.to_string()),
    }
}

/// What the compiled fragment says of `record` as a one-row table named `items`.
fn sql_says(schema: &CheckedSchema, texpr: &TExpr, record: &Map<String, Value>, req: &Req) -> bool {
    let coll = schema.schema.collection("items").expect("items");
    let fragment = compile(texpr, Target { dialect: Dialect::Sqlite, record: "\"items\"", first_param: 1 });
    let mut params: Vec<Sql> = fragment.binds.iter().map(|b| bind(&b.value, b.ty, req)).collect();
    let mut columns = Vec::new();
    for f in &coll.fields {
        params.push(column(&f.ty, record.get(&f.name).unwrap_or(&Value::Null)));
        // CAST gives the value its column's affinity, as a real table would
        columns.push(format!(
            "CAST(?{} AS {}) AS {}",
            params.len(),
            column_type(&f.ty, Dialect::Sqlite),
            quote(&f.name)
        ));
    }
    let sql = format!("SELECT 1 FROM (SELECT {}) AS \"items\" WHERE {}", columns.join(", "), fragment.sql);
    CONN.with(|conn| {
        let mut stmt = conn.prepare(&sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        stmt.exists(rusqlite::params_from_iter(params)).unwrap_or_else(|e| panic!("{sql}: {e}"))
    })
}

thread_local! {
    static CONN: rusqlite::Connection = rusqlite::Connection::open_in_memory().expect("SQLite");
}

fn check(schema: &CheckedSchema, text: &str) -> Option<TExpr> {
    let coll = schema.schema.collection("items").expect("items");
    let cx = Context { schema: &schema.schema, collection: coll, action: Some(Action::List), filter: false };
    check_expr(&cx, text, &mut Diagnostics::new())
}

/// As a client filter (realtime judges row-only option filters in memory): the checker
/// accepts more there (`~` on numbers, ordered booleans, `flag = 1`).
fn check_filter(schema: &CheckedSchema, text: &str) -> Option<TExpr> {
    let coll = schema.schema.collection("items").expect("items");
    check_expr(&Context::filter(&schema.schema, coll), text, &mut Diagnostics::new())
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

fn request() -> impl Strategy<Value = Req> {
    let auth = proptest::sample::select(vec!["", "u1", "u2"]);
    let query = proptest::sample::select(vec![json!(""), json!("5"), json!("hello"), json!("a")]);
    (auth, query).prop_map(|(auth, query)| Req { auth: Value::String(auth.into()), query })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 5000, ..ProptestConfig::default() })]

    #[test]
    fn eval_agrees_with_sqlite(text in expression(), record in record(), req in request()) {
        SCHEMA_CHECKED.with(|schema| {
            let Some(texpr) = check(schema, &text) else { return Ok(()) };
            prop_assert!(lookups(&texpr).is_empty(), "{}: {:?}", text, lookups(&texpr));
            let memory = eval(&texpr, &record, &req);
            let sql = sql_says(schema, &texpr, &record, &req);
            prop_assert_eq!(memory, Some(sql), "{} on {:?}", text, record);
            Ok(())
        })?;
    }

    #[test]
    fn eval_agrees_with_sqlite_on_client_filters(text in expression(), record in record(), req in request()) {
        SCHEMA_CHECKED.with(|schema| {
            let Some(texpr) = check_filter(schema, &text) else { return Ok(()) };
            let memory = eval(&texpr, &record, &req);
            let sql = sql_says(schema, &texpr, &record, &req);
            prop_assert_eq!(memory, Some(sql), "{} on {:?}", text, record);
            Ok(())
        })?;
    }
}

/// Enough of the generated comparisons check for the property to mean something.
#[test]
fn most_comparisons_check() {
    let schema = schema();
    let mut checked = 0;
    for a in OPERANDS {
        for op in OPS {
            for b in OPERANDS {
                checked += usize::from(check(&schema, &format!("{a} {op} {b}")).is_some());
            }
        }
    }
    assert!(checked > 4000, "only {checked} comparisons check");
}

#[test]
fn lookups_name_what_needs_other_rows() {
    let schema = schema();
    let list = schema.rule("items", Action::List).expect("a list rule");
    assert!(lookups(list).is_empty());
    let view = schema.rule("items", Action::View).expect("a view rule");
    assert_eq!(lookups(view), ["owner.name"]);
    let users = schema.rule("users", Action::List).expect("a list rule");
    assert_eq!(lookups(users), ["items_via_owner.title"]);
    let at = check(&schema, "@collection.users:u.name ?= title && strftime('%Y', due) = '2024'").expect("checks");
    assert_eq!(lookups(&at), ["@collection.users:u.name", "strftime()"]);
    // and eval refuses them rather than guess
    let req = Req { auth: Value::String("u1".into()), query: Value::Null };
    assert_eq!(eval(view, &Map::new(), &req), None);
}

/// Cases the property found: SQLite converts text towards a number column's affinity
/// (`n >= extra:lower` with `n = 5` and `extra = 5` holds: `'5'` becomes 5).
#[test]
fn column_affinity_converts_the_other_side() {
    let schema = schema();
    let record =
        json!({"id": "r1", "n": 5, "extra": 5, "title": "", "tags": [], "due": "", "owner": "", "k": 0, "flag": false})
            .as_object()
            .cloned()
            .unwrap_or_default();
    let req = Req { auth: Value::String(String::new()), query: Value::String(String::new()) };
    for text in [
        "n >= extra:lower",
        "(n >= extra:lower) || ((\"a\" = extra) && (id = extra))",
        "n = extra:lower",
        "k < extra:lower",
    ] {
        let texpr = check(&schema, text).expect("checks");
        assert_eq!(eval(&texpr, &record, &req), Some(sql_says(&schema, &texpr, &record, &req)), "{text}");
    }
}
