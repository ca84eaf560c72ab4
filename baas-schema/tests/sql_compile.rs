//! The SQL compiler: every rule of the sample schemas and a catalogue of client filters,
//! compiled for SQLite and PostgreSQL, snapshotted, parsed back with sqlparser in their
//! dialect, checked for values spliced into the text, and — for SQLite — run against an
//! in-memory database laid out the way `rule::sql` says the tables are.

use std::collections::BTreeMap;
use std::path::Path;

use baas_schema::check::{CheckedSchema, Context, TExpr, check_expr};
use baas_schema::expr::ast::{Literal, Macro};
use baas_schema::ir::{Action, FieldType};
use baas_schema::sql::{BindValue, Dialect, Fragment, SqlTy, Target, column_type, compile, like_pattern, quote};
use baas_schema::{Diagnostics, SourceFile, load_yaml};
use sqlparser::dialect::{PostgreSqlDialect, SQLiteDialect};
use sqlparser::parser::Parser;

const DIALECTS: [Dialect; 2] = [Dialect::Sqlite, Dialect::Postgres];

// ---- helpers ----

fn sample(name: &str) -> CheckedSchema {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    // named by its path, so that the template files it names are found beside it
    let file = SourceFile::new(path.display().to_string(), text);
    let (checked, diags) = load_yaml(&file);
    checked.unwrap_or_else(|| panic!("{name} does not check:\n{}", diags.render(&file)))
}

fn blog() -> CheckedSchema {
    sample("blog.yaml")
}

/// Checks `filter` as a client filter on `collection`.
#[track_caller]
fn check_filter(schema: &CheckedSchema, collection: &str, filter: &str) -> TExpr {
    let collection = schema.schema.collection(collection).unwrap_or_else(|| panic!("no collection {collection}"));
    let cx = Context::filter(&schema.schema, collection);
    let mut diags = Diagnostics::new();
    match check_expr(&cx, filter, &mut diags) {
        Some(texpr) => texpr,
        None => {
            let file = SourceFile::new("filter", filter);
            panic!("{filter:?} does not check:\n{}", diags.render(&file))
        }
    }
}

fn compile_for(texpr: &TExpr, dialect: Dialect, table: &str, first_param: usize) -> Fragment {
    let record = quote(table);
    compile(texpr, Target { dialect, record: &record, first_param })
}

fn dialect_name(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => "SQLite",
        Dialect::Postgres => "PostgreSQL",
    }
}

/// Parses `SELECT * FROM "<table>" WHERE <fragment>` with sqlparser in the fragment's dialect.
#[track_caller]
fn parse_back(fragment: &Fragment, dialect: Dialect, table: &str, what: &str) {
    let sql = format!("SELECT * FROM {} WHERE {}", quote(table), fragment.sql);
    let parsed = match dialect {
        Dialect::Sqlite => Parser::parse_sql(&SQLiteDialect {}, &sql),
        Dialect::Postgres => Parser::parse_sql(&PostgreSqlDialect {}, &sql),
    };
    match parsed {
        Ok(statements) => assert_eq!(statements.len(), 1, "{what}: {sql}"),
        Err(e) => panic!("{what}: {} does not parse {sql}\n  {e}", dialect_name(dialect)),
    }
}

/// The parameter numbers a fragment uses, in order of appearance.
fn param_numbers(sql: &str, dialect: Dialect) -> Vec<usize> {
    let sigil = match dialect {
        Dialect::Sqlite => '?',
        Dialect::Postgres => '$',
    };
    sql.match_indices(sigil)
        .filter_map(|(i, _)| {
            let digits: String = sql[i + 1..].chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .collect()
}

/// The only quoted strings the compiler writes itself: empty values, `%` for patterns, the
/// LIKE escape character, the pieces that read JSON values, and the datetime test of strftime.
const SQL_CONSTANTS: [&str; 16] = [
    "'^[0-9]{4}-[0-9]{2}-[0-9]{2}'",
    "''",
    "'%'",
    r"ESCAPE '\'",
    "'$'",
    "'{}'",
    "'number'",
    "'boolean'",
    "'integer'",
    "'real'",
    "'true'",
    "'false'",
    "'['",
    "']'",
    "','",
    "'[]'",
];

/// What every fragment must satisfy, whatever it says: it parses back in its dialect, it
/// numbers its parameters `first_param..` without gaps and uses every one of them, and no
/// value is spliced into the text (the only quoted SQL strings are [`SQL_CONSTANTS`], and no
/// string literal of the filter appears in the text).
#[track_caller]
fn assert_well_formed(fragment: &Fragment, dialect: Dialect, table: &str, first_param: usize, what: &str) {
    parse_back(fragment, dialect, table, what);
    let mut used = param_numbers(&fragment.sql, dialect);
    used.sort_unstable();
    used.dedup();
    let expected: Vec<usize> = (first_param..first_param + fragment.binds.len()).collect();
    assert_eq!(used, expected, "{what}: parameters of {}", fragment.sql);
    let mut unquoted = fragment.sql.clone();
    for constant in SQL_CONSTANTS {
        unquoted = unquoted.replace(constant, "");
    }
    assert!(!unquoted.contains('\''), "{what}: a quoted value in {}", fragment.sql);
    for bind in &fragment.binds {
        let text = match &bind.value {
            BindValue::Literal(Literal::String(s)) => s.trim_matches('%'),
            BindValue::LikePattern(inner) => match inner.as_ref() {
                BindValue::Literal(Literal::String(s)) => s.as_str(),
                _ => continue,
            },
            _ => continue,
        };
        if text.len() >= 3 {
            assert!(!fragment.sql.contains(text), "{what}: {text:?} is spliced into {}", fragment.sql);
        }
    }
}

/// One snapshot entry: the source, then the SQL and its parameters, indented.
fn entry(title: &str, fragment: &Fragment) -> String {
    let explained = fragment.explain().replace('\n', "\n  ");
    format!("{title}\n  {explained}\n")
}

// ---- the rules of the sample schemas ----

/// Every rule of a sample, compiled for `dialect`, each fragment checked and the whole
/// snapshotted.
fn rules_of(name: &str, dialect: Dialect) -> String {
    let checked = sample(name);
    let mut out = String::new();
    for collection in &checked.schema.collections {
        for (action, rule) in collection.rules.iter() {
            let texpr = checked
                .rule(&collection.name, action)
                .unwrap_or_else(|| panic!("{name}: {}.{} was not resolved", collection.name, action.name()));
            let fragment = compile_for(texpr, dialect, &collection.name, 1);
            let what = format!("{name} {}.{}", collection.name, action.name());
            assert_well_formed(&fragment, dialect, &collection.name, 1, &what);
            let shown = if rule.expr.is_empty() { "\"\" (everyone)".to_owned() } else { rule.expr.clone() };
            out.push_str(&entry(&format!("{}.{}: {shown}", collection.name, action.name()), &fragment));
        }
    }
    out
}

#[test]
fn blog_rules_sqlite() {
    insta::assert_snapshot!(rules_of("blog.yaml", Dialect::Sqlite));
}

#[test]
fn blog_rules_postgres() {
    insta::assert_snapshot!(rules_of("blog.yaml", Dialect::Postgres));
}

#[test]
fn todo_rules_sqlite() {
    insta::assert_snapshot!(rules_of("todo.yaml", Dialect::Sqlite));
}

#[test]
fn todo_rules_postgres() {
    insta::assert_snapshot!(rules_of("todo.yaml", Dialect::Postgres));
}

#[test]
fn chat_rules_sqlite() {
    insta::assert_snapshot!(rules_of("chat.yaml", Dialect::Sqlite));
}

#[test]
fn chat_rules_postgres() {
    insta::assert_snapshot!(rules_of("chat.yaml", Dialect::Postgres));
}

/// Every rule of every sample is resolved: absent rules are absent, `""` is `True`.
#[test]
fn every_rule_is_resolved() {
    for name in ["blog.yaml", "todo.yaml", "chat.yaml"] {
        let checked = sample(name);
        for collection in &checked.schema.collections {
            for action in Action::ALL {
                match (collection.rules.get(action), checked.rule(&collection.name, action)) {
                    (None, None) => {}
                    (Some(rule), Some(TExpr::True)) => assert!(rule.is_public(), "{name} {}", collection.name),
                    (Some(rule), Some(_)) => assert!(!rule.is_public()),
                    (rule, texpr) => panic!("{name} {}.{}: {rule:?} vs {texpr:?}", collection.name, action.name()),
                }
            }
        }
    }
}

// ---- client filters ----

/// Filters on the blog, by collection: every operator, plain and `?`, every modifier, paths,
/// back-relations, `@collection`, macros, placeholders, request values, `null`, quoted
/// numbers, patterns and precedence.
const FILTERS: &[(&str, &str)] = &[
    ("posts", r#"title = "Hello""#),
    ("posts", r#"title != "Hello""#),
    ("posts", "views > 5"),
    ("posts", "views >= 5"),
    ("posts", "views < 5"),
    ("posts", "views <= 5.5"),
    ("posts", r#"title ~ "ell""#),
    ("posts", r#"title !~ "ell""#),
    ("posts", r#"title ~ "He%o""#),
    ("posts", r#"title ?= "Hello""#),
    ("posts", r#"title ?!= "Hello""#),
    ("posts", "views ?> 1"),
    ("posts", "views ?>= 1"),
    ("posts", "views ?< 1"),
    ("posts", "views ?<= 1"),
    ("posts", r#"title ?~ "ell""#),
    ("posts", r#"title ?!~ "ell""#),
    ("posts", r#"tags ?= "tech""#),
    ("posts", r#"tags ?!= "tech""#),
    ("posts", r#"tags:each = "tech""#),
    ("posts", r#"tags:each != "tech""#),
    ("posts", r#"tags:each ?= "tech""#),
    ("posts", r#"tags ~ "tech""#),
    ("posts", "tags:length > 1"),
    ("posts", r#"title:lower = "hello""#),
    ("posts", r#"author.name = "Alice""#),
    ("posts", r#"author.name:lower ~ "ali""#),
    ("posts", r#"comments_via_post.text ?~ "x""#),
    ("posts", r#"comments_via_post.author.name ?= "Bob""#),
    ("posts", r#"@collection.users.name ?= "x""#),
    ("posts", "@collection.users:u.id ?= author"),
    ("posts", "created > @now && created >= @todayStart && updated <= @monthEnd"),
    ("posts", "@hour > 3 && @weekday != 0"),
    ("posts", "id = {:id} || title = {:title}"),
    ("posts", "body = null"),
    ("posts", "body != null"),
    ("posts", "null = body"),
    ("posts", "published = null"),
    ("posts", r#"views > "3""#),
    ("posts", r#"views = "3.5""#),
    ("posts", r#"created > "2020-01-01""#),
    ("posts", r#"published = true && (title ~ "a" || title ~ "b")"#),
    ("posts", r#"(published = true && views > 1) || author = "x""#),
    ("posts", r#"published = false || views > 1 && title != """#),
    ("posts", r#"@request.auth.id != "" && author = @request.auth.id"#),
    ("posts", "title ~ @request.query.q"),
    ("posts", r#"@request.headers.x_probe = "1" && @request.method = "GET" && @request.context = "default""#),
    ("posts", r#"strftime("%Y", created) = "2024""#),
    ("posts", "title ~ body"),
    ("posts", r#"attachment = """#),
    ("posts", r#"title = 'Robert\'); DROP TABLE posts;--'"#),
    ("comments", r#"post.author.name = "Alice""#),
    ("comments", "post.published = true"),
    ("comments", r#"post.tags ?= "news""#),
    ("comments", "post.tags:length > 0"),
    ("users", "posts_via_author.views ?> 5"),
    ("users", r#"posts_via_author.tags ?= "tech""#),
    ("users", r#"comments_via_author.post.title ?~ "x""#),
];

/// Filters on the todo sample's other field types: JSON, date, url, email, autodate.
const TODO_FILTERS: &[(&str, &str)] = &[
    ("todos", "extra = 5"),
    ("todos", "extra = true"),
    ("todos", r#"extra = "x""#),
    ("todos", r#"extra ~ "x""#),
    ("todos", "extra = null"),
    ("todos", "extra != null"),
    ("todos", "extra = {:value}"),
    ("todos", "priority > 2 && priority <= @day"),
    ("todos", "due > @now && due < @yearEnd"),
    ("todos", r#"due = null || due > "2025-01-31 10:00:00.000Z""#),
    ("todos", "done = false && list.archived = false"),
    ("todos", r#"link ~ "https://" && delegate = "a@b.c""#),
    ("todos", r#"strftime("%Y-%m", due) = "2025-01""#),
    ("todos", "changed > added"),
    ("todos", r#"list.owner.homepage ~ ".org""#),
    ("lists", r#"todos_via_list.tags ?= "work" && todos_via_list.done ?= false"#),
    ("lists", "todos_via_list.priority ?>= 4"),
];

fn filters(dialect: Dialect) -> String {
    let schema = blog();
    let mut out = String::new();
    for &(collection, filter) in FILTERS {
        let texpr = check_filter(&schema, collection, filter);
        let fragment = compile_for(&texpr, dialect, collection, 1);
        assert_well_formed(&fragment, dialect, collection, 1, filter);
        out.push_str(&entry(&format!("{collection}: {filter}"), &fragment));
    }
    out
}

#[test]
fn filters_sqlite() {
    insta::assert_snapshot!(filters(Dialect::Sqlite));
}

#[test]
fn filters_postgres() {
    insta::assert_snapshot!(filters(Dialect::Postgres));
}

fn todo_filters(dialect: Dialect) -> String {
    let schema = sample("todo.yaml");
    let mut out = String::new();
    for &(collection, filter) in TODO_FILTERS {
        let texpr = check_filter(&schema, collection, filter);
        let fragment = compile_for(&texpr, dialect, collection, 1);
        assert_well_formed(&fragment, dialect, collection, 1, filter);
        out.push_str(&entry(&format!("{collection}: {filter}"), &fragment));
    }
    out
}

#[test]
fn todo_filters_sqlite() {
    insta::assert_snapshot!(todo_filters(Dialect::Sqlite));
}

#[test]
fn todo_filters_postgres() {
    insta::assert_snapshot!(todo_filters(Dialect::Postgres));
}

/// A fragment placed after other parameters numbers its own from `first_param`.
#[test]
fn parameters_start_at_first_param() {
    let schema = blog();
    let texpr = check_filter(&schema, "posts", r#"title = "a" && tags ?= "b" && author.name ~ @request.auth.name"#);
    for dialect in DIALECTS {
        let fragment = compile_for(&texpr, dialect, "posts", 7);
        assert_eq!(fragment.binds.len(), 3);
        assert_well_formed(&fragment, dialect, "posts", 7, "first_param 7");
        assert_eq!(param_numbers(&fragment.sql, dialect), [7, 8, 9]);
    }
}

/// Values are bound, never spliced: a hostile string stays out of the SQL text.
#[test]
fn values_are_never_spliced() {
    let schema = blog();
    let hostile = [
        r#"title = "Robert'); DROP TABLE posts;--""#,
        r#"title ~ "x' OR '1'='1""#,
        r#"title != 'a\'b"c'"#,
        r#"author.name ?= "'; DELETE FROM users; --""#,
        r#"tags:each = "$1 ?1 '""#,
    ];
    for filter in hostile {
        let texpr = check_filter(&schema, "posts", filter);
        for dialect in DIALECTS {
            let fragment = compile_for(&texpr, dialect, "posts", 1);
            assert_well_formed(&fragment, dialect, "posts", 1, filter);
            for needle in ["DROP", "DELETE", "OR '1'", "Robert"] {
                assert!(!fragment.sql.contains(needle), "{filter}: {}", fragment.sql);
            }
            let bound: Vec<String> = fragment
                .binds
                .iter()
                .filter_map(|b| match &b.value {
                    BindValue::Literal(Literal::String(s)) => Some(s.clone()),
                    _ => None,
                })
                .collect();
            assert!(!bound.is_empty() && bound.iter().all(|b| *b == bound[0]), "{filter}: the value is bound whole");
        }
    }
    let fragment = compile_for(&check_filter(&schema, "posts", hostile[0]), Dialect::Sqlite, "posts", 1);
    assert_eq!(fragment.binds[0].value, BindValue::Literal(Literal::String("Robert'); DROP TABLE posts;--".into())));
}

/// strftime formats become to_char patterns with the literal text quoted.
#[test]
fn strftime_formats_for_postgres() {
    use baas_schema::sql::to_char_format;
    assert_eq!(to_char_format("%Y-%m-%d"), r#"YYYY"-"MM"-"DD"#);
    assert_eq!(to_char_format("%H:%M:%S.%f"), r#"HH24":"MI":"SS"."SS.MS"#);
    assert_eq!(to_char_format("day %j of %Y, 100%%"), r#""day "DDD" of "YYYY", 100%""#);
    assert_eq!(to_char_format(r#"a"b\c"#), r#""a\"b\\c""#);
}

/// `~` wraps its operand in `%…%` unless the operand has a `%` already.
#[test]
fn like_patterns() {
    assert_eq!(like_pattern("ell"), "%ell%");
    // a `%` of its own: the value is the pattern
    assert_eq!(like_pattern("He%o"), "He%o");
    assert_eq!(like_pattern("a_b%"), "a_b%");
    // otherwise it means itself: `_` and `\` are escaped, an escaped `%` stays escaped
    assert_eq!(like_pattern("a_b"), r"%a\_b%");
    assert_eq!(like_pattern(r"a\b"), r"%a\\b%");
    assert_eq!(like_pattern(r"50\%"), r"%50\%%");
    let schema = blog();
    let bound = |filter: &str| {
        let fragment = compile_for(&check_filter(&schema, "posts", filter), Dialect::Sqlite, "posts", 1);
        fragment.binds.into_iter().map(|b| (b.value, b.ty)).collect::<Vec<_>>()
    };
    assert_eq!(bound(r#"title ~ "ell""#), [(BindValue::Literal(Literal::String("%ell%".into())), SqlTy::Text)]);
    assert_eq!(bound(r#"title ~ "He%o""#), [(BindValue::Literal(Literal::String("He%o".into())), SqlTy::Text)]);
    assert_eq!(
        bound("title ~ @request.auth.name"),
        [(BindValue::LikePattern(Box::new(BindValue::Auth("name".into()))), SqlTy::Text)]
    );
    // a quoted number compared with a number is bound as the number
    assert_eq!(bound(r#"views > "3""#), [(BindValue::Literal(Literal::Number(3.0)), SqlTy::Number)]);
}

// ---- running the SQLite fragments ----

/// `CREATE TABLE` (and `CREATE VIEW`) statements for a checked schema, laid out as `rule::sql`
/// describes: one table per collection named like it, one column per field typed by
/// [`column_type`], `id` the primary key, multi-valued fields as JSON arrays, unset values as
/// the type's zero.
fn tables(schema: &CheckedSchema, dialect: Dialect) -> Vec<String> {
    let mut out = Vec::new();
    for collection in &schema.schema.collections {
        if let baas_schema::ir::CollectionKind::View { query, .. } = &collection.kind {
            out.push(format!("CREATE VIEW {} AS {query}", quote(&collection.name)));
            continue;
        }
        let columns: Vec<String> = collection
            .fields
            .iter()
            .map(|f| {
                let zero = match (&f.ty, dialect) {
                    (t, _) if t.is_multiple() => "'[]'",
                    (FieldType::Json, _) => "'null'",
                    (FieldType::Number { .. }, _) | (FieldType::Bool, Dialect::Sqlite) => "0",
                    (FieldType::Bool, Dialect::Postgres) => "FALSE",
                    _ => "''",
                };
                let key = if f.name == "id" { " PRIMARY KEY" } else { "" };
                format!("{} {}{key} NOT NULL DEFAULT {zero}", quote(&f.name), column_type(&f.ty, dialect))
            })
            .collect();
        out.push(format!("CREATE TABLE {} ({})", quote(&collection.name), columns.join(", ")));
    }
    out
}

/// The blog's rows, valid on both engines.
const ROWS: &str = r#"
    INSERT INTO users (id, email, name) VALUES
        ('u1', 'alice@example.com', 'Alice'),
        ('u2', 'bob@example.com', 'Bob'),
        ('u3', 'nobody@example.com', '');
    INSERT INTO posts (id, title, body, published, author, tags, views, created) VALUES
        ('p1', 'Hello World', '', TRUE, 'u1', '["tech","news"]', 10, '2024-01-10 10:00:00.000Z'),
        ('p2', 'Draft of a plan', 'secret', FALSE, 'u1', '["tech"]', 3, '2025-06-01 08:30:00.000Z'),
        ('p3', 'Bob''s post', 'hi', TRUE, 'u2', '[]', 0, '2025-07-01 12:00:00.000Z'),
        ('p4', '100% sure', '', FALSE, 'u2', '["life"]', 7, '2023-03-03 03:03:03.000Z');
    INSERT INTO comments (id, post, author, text) VALUES
        ('c1', 'p1', 'u2', 'Great read'),
        ('c2', 'p1', 'u1', 'thanks'),
        ('c3', 'p2', 'u2', 'typo in the draft'),
        ('c4', 'p3', 'u1', 'Nice');
"#;

/// An in-memory SQLite database with the blog's tables, laid out as `rule::sql` describes: one
/// column per field typed by `column_type`, multi-valued fields as JSON array text, booleans
/// as 0/1, datetimes as text, unset values as the type's zero.
struct Db {
    conn: rusqlite::Connection,
    schema: CheckedSchema,
}

impl Db {
    fn blog() -> Db {
        Db::new(blog(), ROWS)
    }

    fn new(schema: CheckedSchema, rows: &str) -> Db {
        let conn = rusqlite::Connection::open_in_memory().expect("an in-memory database");
        for ddl in tables(&schema, Dialect::Sqlite) {
            conn.execute(&ddl, []).unwrap_or_else(|e| panic!("{ddl}: {e}"));
        }
        conn.execute_batch(rows).expect("the rows are inserted");
        Db { conn, schema }
    }

    /// The ids of the rows of `collection` that `texpr` lets through, for a request by `auth`
    /// (`""`: anonymous) with placeholder values `placeholders`.
    fn select(&self, collection: &str, texpr: &TExpr, auth: &str, placeholders: &BTreeMap<&str, &str>) -> Vec<String> {
        let fragment = compile_for(texpr, Dialect::Sqlite, collection, 1);
        let params: Vec<rusqlite::types::Value> =
            fragment.binds.iter().map(|b| resolve(&b.value, b.ty, auth, placeholders)).collect();
        let sql = format!("SELECT id FROM {} WHERE {} ORDER BY id", quote(collection), fragment.sql);
        let mut stmt = self.conn.prepare(&sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        let rows = stmt
            .query_map(rusqlite::params_from_iter(params), |row| row.get::<_, String>(0))
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        rows.map(|r| r.expect("an id")).collect()
    }

    #[track_caller]
    fn filter(&self, collection: &str, filter: &str, auth: &str) -> Vec<String> {
        let texpr = check_filter(&self.schema, collection, filter);
        self.select(collection, &texpr, auth, &BTreeMap::new())
    }

    #[track_caller]
    fn rule(&self, collection: &str, action: Action, auth: &str) -> Vec<String> {
        let texpr = self.schema.rule(collection, action).expect("the rule exists").clone();
        self.select(collection, &texpr, auth, &BTreeMap::new())
    }
}

/// What the runtime would bind for a parameter, for this test's requests.
fn resolve(value: &BindValue, ty: SqlTy, auth: &str, placeholders: &BTreeMap<&str, &str>) -> rusqlite::types::Value {
    use rusqlite::types::Value;
    let text = |s: &str| match ty {
        SqlTy::Number => s.parse::<f64>().map_or_else(|_| Value::Text(s.to_owned()), Value::Real),
        _ => Value::Text(s.to_owned()),
    };
    match value {
        BindValue::Literal(Literal::String(s)) => text(s),
        BindValue::Literal(Literal::Number(n)) => Value::Real(*n),
        BindValue::Literal(Literal::Bool(b)) => Value::Integer(i64::from(*b)),
        BindValue::Literal(Literal::Null) => Value::Null,
        BindValue::LikePattern(inner) => match resolve(inner, SqlTy::Text, auth, placeholders) {
            Value::Text(s) => Value::Text(like_pattern(&s)),
            other => panic!("a pattern of {other:?}"),
        },
        BindValue::Auth(field) if field == "id" => Value::Text(auth.to_owned()),
        BindValue::Placeholder(name) => {
            text(placeholders.get(name.as_str()).unwrap_or_else(|| panic!("no {{:{name}}}")))
        }
        BindValue::Macro(Macro::Now) => Value::Text("2025-06-15 12:00:00.000Z".to_owned()),
        other => panic!("this test does not bind {other:?}"),
    }
}

fn ids(expected: &[&str]) -> Vec<String> {
    expected.iter().map(|s| (*s).to_owned()).collect()
}

/// Representative filters and the rows of [`ROWS`] they select (anonymous caller): the any-of
/// and all-of semantics, paths through relations and back-relations, `null` against empty
/// values, case-insensitive `~`. Both engines must agree.
const ROW_CASES: &[(&str, &str, &[&str])] = &[
    // any item of a multiple field (PocketBase would compare the JSON text here)
    ("posts", r#"tags ?= "tech""#, &["p1", "p2"]),
    // every item, and at least one: p3 has no tags
    ("posts", r#"tags:each = "tech""#, &["p2"]),
    ("posts", r#"tags:each ?= "tech""#, &["p1", "p2"]),
    // an empty multi-select is one empty value, as in PocketBase: p3 has no tag to fail
    ("posts", r#"tags:each != "tech""#, &["p3", "p4"]),
    ("posts", r#"tags ?!= "tech""#, &["p1", "p3", "p4"]),
    // each comparison reads the record's own items independently
    ("posts", r#"tags ?= "tech" && tags ?= "news""#, &["p1"]),
    ("posts", "tags:length = 0", &["p3"]),
    ("posts", "tags:length >= 2", &["p1"]),
    // `~` on a multiple field matches its JSON text
    ("posts", r#"tags ~ "ech""#, &["p1", "p2"]),
    // through a relation, and back
    ("comments", "post.published = true", &["c1", "c2", "c4"]),
    ("comments", r#"post.author.name = "Alice""#, &["c1", "c2", "c3"]),
    ("comments", r#"post.tags ?= "news""#, &["c1", "c2"]),
    ("posts", r#"comments_via_post.text ?~ "READ""#, &["p1"]),
    ("posts", r#"comments_via_post.author ?= "u2""#, &["p1", "p2"]),
    ("posts", r#"comments_via_post.author.name ?= "Alice""#, &["p1", "p3"]),
    ("users", "posts_via_author.views ?> 5", &["u1", "u2"]),
    ("users", "posts_via_author.published ?= true", &["u1", "u2"]),
    ("users", r#"posts_via_author.tags ?= "life""#, &["u2"]),
    // references to one back-relation share its row: one comment must match both
    ("posts", r#"comments_via_post.text ?~ "read" && comments_via_post.author ?= "u1""#, &[]),
    ("posts", r#"comments_via_post.text ?~ "read" && comments_via_post.author ?= "u2""#, &["p1"]),
    ("posts", r#"comments_via_post.author ?= "u1" && (comments_via_post.text ?= "Nice" || views > 5)"#, &["p1", "p3"]),
    // a plain operator in a client filter: every related record matches, and there is one
    ("posts", r#"comments_via_post.author = "u1""#, &["p3"]),
    ("posts", r#"comments_via_post.author != "u1""#, &["p2", "p4"]),
    ("posts", r#"comments_via_post.text ~ "e""#, &["p2", "p3"]),
    ("posts", r#"@collection.users.name != "Carol""#, &["p1", "p2", "p3", "p4"]),
    // an empty back-relation is one empty value: "posts without comments"
    ("posts", "comments_via_post.id ?= null", &["p4"]),
    ("posts", r#"comments_via_post.text ?!= "Nice""#, &["p1", "p2", "p4"]),
    ("posts", r#"comments_via_post.text:lower ?= "nice" || comments_via_post.id ?= null"#, &["p3", "p4"]),
    // null is the empty value
    ("posts", "body = null", &["p1", "p4"]),
    ("posts", "body != null", &["p2", "p3"]),
    ("posts", "null = body", &["p1", "p4"]),
    // a number or bool is never empty, and nothing is ordered against null
    ("posts", "published = null", &[]),
    ("posts", "published != null", &["p1", "p2", "p3", "p4"]),
    ("posts", "views > null", &[]),
    ("posts", "views <= null", &[]),
    ("posts", "views = null", &[]),
    ("posts", "tags:length = null", &[]),
    ("posts", r#"title ~ null"#, &[]),
    ("posts", "null = null", &["p1", "p2", "p3", "p4"]),
    ("users", r#"name = null || name = """#, &["u3"]),
    // `~` is case-insensitive and wraps in %…% unless the value has a %
    ("posts", r#"title ~ "hello""#, &["p1"]),
    ("posts", r#"title ~ "HEL%""#, &["p1"]),
    ("posts", r#"title ~ "%sure""#, &["p4"]),
    ("posts", r#"title !~ "o""#, &["p4"]),
    // `_` is a character, not a wildcard, and `%` a wildcard only when the value has one
    ("posts", r#"title ~ "of a""#, &["p2"]),
    ("posts", r#"title ~ "f_a""#, &[]),
    ("posts", r#"title ~ "100%""#, &["p4"]),
    ("posts", r#"title ~ "1%sure""#, &["p4"]),
    ("posts", r#"title ~ "00% s""#, &[]),
    // a column as the pattern: contains, here the empty body
    ("posts", "title ~ body", &["p1", "p4"]),
    ("posts", "title !~ body", &["p2", "p3"]),
    ("posts", r#"title:lower = "hello world""#, &["p1"]),
    // numbers with quoted numbers, datetimes as text
    ("posts", r#"views > "3""#, &["p1", "p4"]),
    ("posts", r#"views = "3""#, &["p2"]),
    ("posts", r#""7" <= views"#, &["p1", "p4"]),
    ("posts", r#"created > "2025-01-01""#, &["p2", "p3"]),
    // the start of a datetime compares as text too
    ("posts", r#"created >= "2025""#, &["p2", "p3"]),
    ("posts", r#"created < "2024-02""#, &["p1", "p4"]),
    // in a client filter: `~` on a number or boolean matches its text, 0 and 1 are booleans,
    // a datetime compares with any text, `<relation>.id` is the relation itself
    ("posts", r#"views ~ "1""#, &["p1"]),
    ("posts", r#"published ~ "1""#, &["p1", "p3"]),
    ("posts", "published = 1", &["p1", "p3"]),
    ("posts", "published != 0", &["p1", "p3"]),
    ("posts", r#"created > """#, &["p1", "p2", "p3", "p4"]),
    ("comments", r#"post.id = "p3" || post.author.id = "u2""#, &["c4"]),
    // booleans order false before true
    ("posts", "published > false", &["p1", "p3"]),
    ("posts", "published <= false", &["p2", "p4"]),
    ("posts", "created < @now", &["p1", "p2", "p4"]),
    // && binds tighter than ||
    ("posts", "published = true || views > 5 && views < 8", &["p1", "p3", "p4"]),
    ("posts", "(published = true || views > 5) && views < 8", &["p3", "p4"]),
    // @collection: some user is called Bob / some comment points at the post
    ("posts", r#"@collection.users.name ?= "Bob""#, &["p1", "p2", "p3", "p4"]),
    ("posts", r#"@collection.users.name ?= "Carol""#, &[]),
    ("posts", "@collection.comments.post ?= id", &["p1", "p2", "p3"]),
    // unaliased references share one row of the collection, aliases get their own
    ("posts", r#"@collection.comments.post ?= id && @collection.comments.author ?= "u1""#, &["p1", "p3"]),
    ("posts", r#"@collection.comments:a.post ?= id && @collection.comments:b.author ?= "u1""#, &["p1", "p2", "p3"]),
    ("posts", r#"@collection.comments:a.post ?= id && @collection.comments:a.text ?~ "draft""#, &["p2"]),
    // strftime prints the same on both engines, and text that is no datetime is no match
    ("posts", r#"strftime("%Y", created) = "2024""#, &["p1"]),
    ("posts", r#"strftime("%Y-%m-%d %H:%M:%S", created) = "2025-06-01 08:30:00""#, &["p2"]),
    ("posts", r#"strftime("%d/%m at %Hh", created) = "03/03 at 03h""#, &["p4"]),
    ("posts", r#"strftime("%j|%f|100%%", created) = "010|00.000|100%""#, &["p1"]),
    ("posts", r#"strftime("%Y", title) = "2024" || strftime("%Y", body) = "2025""#, &[]),
    // a hostile value is just a value
    ("posts", r#"title = "Robert'); DROP TABLE posts;--""#, &[]),
    ("posts", r#"title = "Bob's post""#, &["p3"]),
];

#[test]
fn sqlite_fragments_select_the_right_rows() {
    let db = Db::blog();
    for &(collection, filter, expected) in ROW_CASES {
        assert_eq!(db.filter(collection, filter, ""), ids(expected), "{collection}: {filter}");
    }
    // the tables are all still there
    assert_eq!(db.filter("posts", "id != ''", "").len(), 4);
}

#[test]
fn sqlite_request_values_and_placeholders() {
    let db = Db::blog();
    assert_eq!(db.filter("posts", "author = @request.auth.id", "u2"), ids(&["p3", "p4"]));
    assert_eq!(db.filter("posts", "author = @request.auth.id", ""), ids(&[]));
    assert_eq!(db.filter("posts", r#"@request.auth.id != "" && views >= 3"#, "u1"), ids(&["p1", "p2", "p4"]));
    assert_eq!(db.filter("posts", r#"@request.auth.id != "" && views >= 3"#, ""), ids(&[]));
    let texpr = check_filter(&db.schema, "posts", "id = {:first} || views > {:min}");
    let placeholders = BTreeMap::from([("first", "p2"), ("min", "8")]);
    assert_eq!(db.select("posts", &texpr, "", &placeholders), ids(&["p1", "p2"]));
}

/// The blog's own rules, for anonymous and signed-in callers.
#[test]
fn sqlite_blog_rules() {
    let db = Db::blog();
    assert_eq!(db.rule("posts", Action::List, ""), ids(&["p1", "p3"]));
    assert_eq!(db.rule("posts", Action::List, "u2"), ids(&["p1", "p3", "p4"]));
    assert_eq!(db.rule("posts", Action::Update, "u1"), ids(&["p1", "p2"]));
    assert_eq!(db.rule("posts", Action::Update, ""), ids(&[]));
    assert_eq!(db.rule("comments", Action::List, ""), ids(&["c1", "c2", "c4"]));
    assert_eq!(db.rule("comments", Action::List, "u1"), ids(&["c1", "c2", "c3", "c4"]));
    assert_eq!(db.rule("comments", Action::Delete, "u2"), ids(&["c1", "c3"]));
    assert_eq!(db.rule("users", Action::View, "u3"), ids(&["u3"]));
    assert_eq!(db.rule("users", Action::List, ""), ids(&[]));
}

// ---- running the PostgreSQL fragments ----

/// Runs a script through `psql` against the PostgreSQL server the environment names
/// (`PGHOST`, `PGPORT`, `PGUSER`, `PGDATABASE`; by default `postgres` on 127.0.0.1, which CI
/// starts) and returns its output, one line per row. `None` when no server answers: then the
/// PostgreSQL fragments are parsed back but not run. Tables are temporary: each script has a
/// session of its own and leaves nothing behind.
fn psql(script: &str) -> Option<String> {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    use std::sync::OnceLock;

    fn command() -> Command {
        let mut cmd = Command::new("psql");
        cmd.args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"]);
        for (var, default) in [("PGHOST", "127.0.0.1"), ("PGUSER", "postgres"), ("PGDATABASE", "postgres")] {
            if std::env::var_os(var).is_none() {
                cmd.env(var, default);
            }
        }
        cmd.env("PGCONNECT_TIMEOUT", "5");
        cmd
    }

    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    let available = *AVAILABLE.get_or_init(|| {
        let probe = command().args(["-c", "SELECT 1"]).stdout(Stdio::null()).stderr(Stdio::null()).status();
        let ok = probe.is_ok_and(|s| s.success());
        if !ok {
            eprintln!("note: no PostgreSQL server answers; the PostgreSQL fragments are parsed but not run");
        }
        ok
    });
    if !available {
        return None;
    }
    let mut child = command()
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("psql starts");
    child.stdin.take().expect("stdin").write_all(script.as_bytes()).expect("the script is written");
    let output = child.wait_with_output().expect("psql ends");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success() && stderr.trim().is_empty(), "psql failed:\n{stderr}\n--- script:\n{script}");
    Some(String::from_utf8(output.stdout).expect("UTF-8 output"))
}

/// A parameter value as a PostgreSQL literal, for `EXECUTE`.
fn pg_literal(value: &BindValue, ty: SqlTy, auth: &str, placeholders: &BTreeMap<&str, &str>) -> String {
    use rusqlite::types::Value;
    match (resolve(value, ty, auth, placeholders), ty) {
        (Value::Integer(i), SqlTy::Bool) => if i != 0 { "TRUE" } else { "FALSE" }.to_owned(),
        (Value::Integer(i), _) => i.to_string(),
        (Value::Real(f), _) => format!("{f:?}"),
        (Value::Text(s), _) => format!("'{}'", s.replace('\'', "''")),
        (Value::Null, _) => "NULL".to_owned(),
        (Value::Blob(_), _) => unreachable!("no blobs here"),
    }
}

/// The temporary tables of a sample, for a psql script.
fn pg_tables(schema: &CheckedSchema) -> String {
    tables(schema, Dialect::Postgres)
        .into_iter()
        .map(|ddl| ddl.replacen("CREATE ", "CREATE TEMP ", 1) + ";\n")
        .collect()
}

/// PostgreSQL plans every fragment: every rule of every sample and every filter of the
/// catalogue type-checks against real tables (a parse is not enough: `text = float8` parses).
#[test]
fn postgres_plans_every_fragment() {
    for name in ["blog.yaml", "todo.yaml", "chat.yaml"] {
        let checked = sample(name);
        let mut script = pg_tables(&checked);
        let mut n = 0;
        for collection in &checked.schema.collections {
            for (action, _) in collection.rules.iter() {
                let texpr = checked.rule(&collection.name, action).expect("resolved");
                let fragment = compile_for(texpr, Dialect::Postgres, &collection.name, 1);
                n += 1;
                script.push_str(&format!(
                    "PREPARE q{n} AS SELECT id FROM {} WHERE {};\n",
                    quote(&collection.name),
                    fragment.sql
                ));
            }
        }
        let catalogue = match name {
            "blog.yaml" => FILTERS,
            "todo.yaml" => TODO_FILTERS,
            _ => &[],
        };
        {
            for &(collection, filter) in catalogue {
                let fragment =
                    compile_for(&check_filter(&checked, collection, filter), Dialect::Postgres, collection, 1);
                n += 1;
                script.push_str(&format!(
                    "PREPARE q{n} AS SELECT id FROM {} WHERE {};\n",
                    quote(collection),
                    fragment.sql
                ));
            }
        }
        script.push_str("SELECT 'planned';\n");
        let Some(out) = psql(&script) else { return };
        assert_eq!(out.trim(), "planned", "{name}");
    }
}

/// The row cases select the same rows on PostgreSQL as on SQLite.
#[test]
fn postgres_fragments_select_the_right_rows() {
    let schema = blog();
    let mut script = pg_tables(&schema) + ROWS + "\n";
    let no_placeholders = BTreeMap::new();
    let mut expected = Vec::new();
    let mut add = |script: &mut String, collection: &str, texpr: &TExpr, auth: &str, rows: &[&str], what: String| {
        let fragment = compile_for(texpr, Dialect::Postgres, collection, 1);
        let n = expected.len() + 1;
        let params: Vec<String> =
            fragment.binds.iter().map(|b| pg_literal(&b.value, b.ty, auth, &no_placeholders)).collect();
        script.push_str(&format!(
            "PREPARE q{n} AS SELECT '{n}:' || COALESCE(string_agg(id, ',' ORDER BY id), '') FROM {} WHERE {};\n",
            quote(collection),
            fragment.sql
        ));
        let args = if params.is_empty() { String::new() } else { format!("({})", params.join(", ")) };
        script.push_str(&format!("EXECUTE q{n}{args};\n"));
        expected.push((format!("{n}:{}", rows.join(",")), what));
    };
    for &(collection, filter, rows) in ROW_CASES {
        add(
            &mut script,
            collection,
            &check_filter(&schema, collection, filter),
            "",
            rows,
            format!("{collection}: {filter}"),
        );
    }
    let rules: &[(&str, Action, &str, &[&str])] = &[
        ("posts", Action::List, "", &["p1", "p3"]),
        ("posts", Action::List, "u2", &["p1", "p3", "p4"]),
        ("posts", Action::Update, "u1", &["p1", "p2"]),
        ("comments", Action::List, "", &["c1", "c2", "c4"]),
        ("comments", Action::List, "u1", &["c1", "c2", "c3", "c4"]),
        ("users", Action::View, "u3", &["u3"]),
    ];
    for &(collection, action, auth, rows) in rules {
        let texpr = schema.rule(collection, action).expect("the rule exists");
        add(&mut script, collection, texpr, auth, rows, format!("{collection}.{} as {auth:?}", action.name()));
    }
    let Some(out) = psql(&script) else { return };
    let lines: Vec<&str> = out.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), expected.len(), "{out}");
    for (line, (want, what)) in lines.iter().zip(&expected) {
        assert_eq!(line, want, "{what}");
    }
}

// ---- JSON fields, on both engines ----

/// Todos whose `extra` (a JSON field) holds a value of each JSON type.
const TODO_ROWS: &str = r#"
    INSERT INTO todos (id, list, title, extra) VALUES
        ('t1', 'l1', 'number', '5'),
        ('t2', 'l1', 'string', '"x"'),
        ('t3', 'l1', 'true', 'true'),
        ('t4', 'l1', 'null', 'null'),
        ('t5', 'l1', 'object', '{"a": 1}'),
        ('t6', 'l1', 'fraction', '5.5'),
        ('t7', 'l1', 'uppercase', '"X"');
"#;

/// A JSON field compares as the JSON value it holds, and a value of another JSON type matches
/// nothing (rather than failing the query on PostgreSQL).
const JSON_CASES: &[(&str, &[&str])] = &[
    ("extra = 5", &["t1"]),
    ("extra >= 5", &["t1", "t6"]),
    ("extra > 5", &["t6"]),
    (r#"extra = "x""#, &["t2"]),
    (r#"extra:lower = "x""#, &["t2", "t7"]),
    ("extra = true", &["t3"]),
    ("extra = null", &["t4"]),
    ("extra != null", &["t1", "t2", "t3", "t5", "t6", "t7"]),
    (r#"extra ~ "a""#, &["t5"]),
];

#[test]
fn sqlite_json_values() {
    let db = Db::new(sample("todo.yaml"), TODO_ROWS);
    for &(filter, expected) in JSON_CASES {
        assert_eq!(db.filter("todos", filter, ""), ids(expected), "{filter}");
    }
}

#[test]
fn postgres_json_values() {
    let schema = sample("todo.yaml");
    let mut script = pg_tables(&schema) + TODO_ROWS + "\n";
    let none = BTreeMap::new();
    for (i, &(filter, _)) in JSON_CASES.iter().enumerate() {
        let fragment = compile_for(&check_filter(&schema, "todos", filter), Dialect::Postgres, "todos", 1);
        let params: Vec<String> = fragment.binds.iter().map(|b| pg_literal(&b.value, b.ty, "", &none)).collect();
        script.push_str(&format!(
            "PREPARE q{i} AS SELECT COALESCE(string_agg(id, ',' ORDER BY id), '') FROM \"todos\" WHERE {};\nEXECUTE q{i}{};\n",
            fragment.sql,
            if params.is_empty() { String::new() } else { format!("({})", params.join(", ")) }
        ));
    }
    let Some(out) = psql(&script) else { return };
    let got: Vec<&str> = out.lines().collect();
    assert_eq!(got.len(), JSON_CASES.len(), "{out}");
    for (line, &(filter, expected)) in got.iter().zip(JSON_CASES) {
        assert_eq!(*line, expected.join(","), "{filter}");
    }
}
