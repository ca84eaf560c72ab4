//! Property tests of the checker and the SQL compiler: no text makes `check_expr` panic, and
//! every expression that checks compiles, for SQLite and for PostgreSQL, to a fragment that
//! sqlparser parses back and whose parameters are numbered without gaps.

use baas_schema::check::{CheckedSchema, Context, TExpr, check_expr};
use baas_schema::ir::Action;
use baas_schema::sql::{Dialect, Target, compile, quote};
use baas_schema::{Diagnostics, SourceFile, load_yaml};
use proptest::prelude::*;
use sqlparser::dialect::{PostgreSqlDialect, SQLiteDialect};
use sqlparser::parser::Parser;

// ---- the schema and the contexts ----

fn blog() -> CheckedSchema {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/blog.yaml");
    let text = std::fs::read_to_string(&path).expect("schemas/blog.yaml");
    let (checked, diags) = load_yaml(&SourceFile::new("schemas/blog.yaml", text.clone()));
    checked
        .unwrap_or_else(|| panic!("blog.yaml does not check:\n{}", diags.render(&SourceFile::new("blog.yaml", text))))
}

thread_local! {
    static BLOG: CheckedSchema = blog();
}

/// Where an expression may be checked: a client filter or a rule of some action, on some
/// collection of the blog.
#[derive(Clone, Copy, Debug)]
struct Place {
    collection: &'static str,
    action: Option<Action>,
}

fn place() -> impl Strategy<Value = Place> {
    let collection = prop_oneof![Just("posts"), Just("comments"), Just("users")];
    let action = prop_oneof![
        3 => Just(None),
        1 => proptest::sample::select(Action::ALL.to_vec()).prop_map(Some),
    ];
    (collection, action).prop_map(|(collection, action)| Place { collection, action })
}

/// Checks `text` at `place`; diagnostics must point inside the text.
fn check(schema: &CheckedSchema, place: Place, text: &str) -> Option<TExpr> {
    let collection = schema.schema.collection(place.collection).expect("a blog collection");
    let cx = match place.action {
        None => Context::filter(&schema.schema, collection),
        Some(action) => Context { schema: &schema.schema, collection, action: Some(action), filter: false },
    };
    let mut diags = Diagnostics::new();
    let texpr = check_expr(&cx, text, &mut diags);
    assert_eq!(texpr.is_some(), !diags.has_errors(), "{text:?}: a result exactly when there is no error");
    for d in diags.iter() {
        if let Some(span) = d.span {
            assert!(span.start <= span.end && span.end <= text.len(), "{text:?}: {span} out of bounds ({})", d.message);
        }
    }
    texpr
}

/// Compiles a checked expression for both dialects and parses each fragment back.
fn compiles_and_parses(texpr: &TExpr, place: Place, first_param: usize, text: &str) -> Result<(), TestCaseError> {
    let record = quote(place.collection);
    for dialect in [Dialect::Sqlite, Dialect::Postgres] {
        let fragment = compile(texpr, Target { dialect, record: &record, first_param });
        let sql = format!("SELECT * FROM {record} WHERE {}", fragment.sql);
        let parsed = match dialect {
            Dialect::Sqlite => Parser::parse_sql(&SQLiteDialect {}, &sql),
            Dialect::Postgres => Parser::parse_sql(&PostgreSqlDialect {}, &sql),
        };
        prop_assert!(parsed.is_ok(), "{text:?} ({dialect:?}): {sql}\n  {:?}", parsed.err());
        let sigil = if dialect == Dialect::Sqlite { '?' } else { '$' };
        let mut used: Vec<usize> = sql
            .match_indices(sigil)
            .filter_map(|(i, _)| {
                let digits: String = sql[i + 1..].chars().take_while(char::is_ascii_digit).collect();
                digits.parse().ok()
            })
            .collect();
        used.sort_unstable();
        used.dedup();
        let expected: Vec<usize> = (first_param..first_param + fragment.binds.len()).collect();
        prop_assert_eq!(used, expected, "{:?} ({:?}): {}", text, dialect, sql);
    }
    Ok(())
}

// ---- vocabularies ----

/// Operands that mean something on the blog (on one collection or another), and some that don't.
const OPERANDS: &[&str] = &[
    "id",
    "title",
    "body",
    "published",
    "author",
    "tags",
    "views",
    "attachment",
    "created",
    "updated",
    "name",
    "email",
    "verified",
    "post",
    "text",
    "password",
    "tokenKey",
    "autor",
    "author.name",
    "author.email",
    "author.verified",
    "post.title",
    "post.tags",
    "post.author.name",
    "post.published",
    "title.length",
    "comments_via_post.text",
    "comments_via_post.author.name",
    "posts_via_author.views",
    "posts_via_author.tags",
    "comments_via_author.post.title",
    "comments_via_nothing.id",
    "tags:each",
    "tags:length",
    "tags:lower",
    "title:lower",
    "title:each",
    "views:length",
    "author.name:lower",
    "post.tags:each",
    "post.tags:length",
    "title:isset",
    "@request.auth.id",
    "@request.auth.name",
    "@request.auth.verified",
    "@request.auth.password",
    "@request.auth.id:lower",
    "@request.auth.name.x",
    "@request.body.title",
    "@request.body.tags",
    "@request.body.tags:each",
    "@request.body.tags:length",
    "@request.body.author:isset",
    "@request.body.author:changed",
    "@request.body.views",
    "@request.body.title:lower",
    "@request.query.q",
    "@request.headers.x_probe",
    "@request.method",
    "@request.context",
    "@collection.users.name",
    "@collection.users:u.id",
    "@collection.comments.post",
    "@collection.posts.tags",
    "@collection.nope.id",
    "@now",
    "@hour",
    "@todayStart",
    "@yearEnd",
    "{:p}",
    "{:n}",
    r#""x""#,
    r#""tech""#,
    r#"'it\'s'"#,
    r#""3""#,
    r#""2024-01-01""#,
    r#""""#,
    "5",
    "1.5",
    "-2",
    "true",
    "false",
    "null",
    r#"strftime("%Y", created)"#,
    r#"strftime("%w", created)"#,
    "strftime(title, created)",
    "geoDistance(1, 2, 3, 4)",
];

const OPS: &[&str] = &["=", "!=", ">", ">=", "<", "<=", "~", "!~", "?=", "?!=", "?>", "?>=", "?<", "?<=", "?~", "?!~"];

fn comparison() -> impl Strategy<Value = String> {
    (proptest::sample::select(OPERANDS), proptest::sample::select(OPS), proptest::sample::select(OPERANDS))
        .prop_map(|(a, op, b)| format!("{a} {op} {b}"))
}

/// Comparisons joined with `&&` and `||`, some of them in parentheses.
fn expression() -> impl Strategy<Value = String> {
    comparison().prop_recursive(4, 16, 2, |inner| {
        prop_oneof![
            (inner.clone(), prop_oneof![Just("&&"), Just("||")], inner.clone())
                .prop_map(|(a, j, b)| format!("{a} {j} {b}")),
            inner.prop_map(|e| format!("({e})")),
        ]
    })
}

/// Pieces of the grammar glued together at random: text close to valid.
fn soup() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        proptest::sample::select(OPERANDS).prop_map(str::to_owned),
        proptest::sample::select(OPS).prop_map(str::to_owned),
        proptest::sample::select(
            &["&&", "||", "(", ")", " ", ".", ":", ",", "\"", "'", "\\", "@", "{:", "}", "//", "\n", "_via_", "%"][..]
        )
        .prop_map(str::to_owned),
        "[a-z@:._]{1,8}",
    ];
    proptest::collection::vec(piece, 0..14).prop_map(|pieces| pieces.concat())
}

// ---- properties ----

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>(), place in place()) {
        BLOG.with(|schema| { check(schema, place, &text); });
    }

    #[test]
    fn grammar_soup_never_panics(text in soup(), place in place()) {
        BLOG.with(|schema| { check(schema, place, &text); });
    }

    #[test]
    fn checked_expressions_compile_to_sql_that_parses(text in expression(), place in place(), first_param in 1usize..6) {
        BLOG.with(|schema| {
            match check(schema, place, &text) {
                Some(texpr) => compiles_and_parses(&texpr, place, first_param, &text),
                None => Ok(()),
            }
        })?;
    }
}

/// Every comparison of the vocabulary with every operator as a filter on posts, and with `=`
/// and `?=` in an update rule of posts (where the body may be read) and a filter on users:
/// those that check compile and parse in both dialects, and enough of them check for the
/// properties above to mean something.
#[test]
fn every_comparison_of_the_vocabulary() {
    let schema = blog();
    let places = [
        (Place { collection: "posts", action: None }, OPS),
        (Place { collection: "posts", action: Some(Action::Update) }, &["=", "?="][..]),
        (Place { collection: "users", action: None }, &["=", "?="][..]),
    ];
    let mut checked = 0;
    let mut total = 0;
    for (place, ops) in places {
        for a in OPERANDS {
            for op in ops {
                for b in OPERANDS {
                    let text = format!("{a} {op} {b}");
                    total += 1;
                    if let Some(texpr) = check(&schema, place, &text) {
                        checked += 1;
                        if let Err(e) = compiles_and_parses(&texpr, place, 1, &text) {
                            panic!("{e}");
                        }
                    }
                }
            }
        }
    }
    assert!(checked * 10 > total, "only {checked} of {total} comparisons check");
}
