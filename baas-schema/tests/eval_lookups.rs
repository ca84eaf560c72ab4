//! What the in-memory evaluator needs other rows for ([`lookups`]), and that it refuses to
//! guess them. That it agrees with the compiled SQL on everything else is a property test in
//! baas-runtime (`tests/eval_agrees_with_sql.rs`), through the runtime's value conversions.

use baas_schema::check::{CheckedSchema, Context, TExpr, check_expr};
use baas_schema::eval::{Request, eval, lookups, lookups_on};
use baas_schema::ir::Action;
use baas_schema::sql::{BindValue, Dialect};
use baas_schema::{Diagnostics, SourceFile, load_yaml};
use serde_json::{Map, Value};

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
      flag:  bool
      due:   date
      meta:  json
      owner: { type: relation, collection: users }
    rules:
      list: "flag = true || owner = @request.auth.id"
      view: "owner.name = 'x' || flag = true"
"#;

fn schema() -> CheckedSchema {
    let file = SourceFile::new("eval.yaml", SCHEMA);
    let (checked, diags) = load_yaml(&file);
    checked.unwrap_or_else(|| panic!("the test schema does not check:\n{}", diags.render(&file)))
}

/// A caller `u1`, nothing else.
struct Req;

impl Request for Req {
    fn value(&self, of: &BindValue) -> Value {
        match of {
            BindValue::Auth(f) if f == "id" => Value::String("u1".into()),
            _ => Value::String(String::new()),
        }
    }
}

fn check(schema: &CheckedSchema, text: &str) -> Option<TExpr> {
    let coll = schema.schema.collection("items").expect("items");
    let cx = Context { schema: &schema.schema, collection: coll, action: Some(Action::List), filter: false };
    check_expr(&cx, text, &mut Diagnostics::new())
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
    assert_eq!(eval(view, &Map::new(), &Req), None);
}

/// PostgreSQL compares JSON values as text where the evaluator follows SQLite: realtime sends
/// rules reading a JSON field to the database there.
#[test]
fn json_fields_are_judged_in_sql_on_postgres() {
    let schema = schema();
    let texpr = check(&schema, "meta < title && flag = true").expect("checks");
    assert!(lookups(&texpr).is_empty());
    assert!(lookups_on(&texpr, Dialect::Sqlite).is_empty());
    assert_eq!(lookups_on(&texpr, Dialect::Postgres), ["meta (JSON)"]);
    let plain = check(&schema, "title = 'x' && flag = true").expect("checks");
    assert!(lookups_on(&plain, Dialect::Postgres).is_empty());
}
