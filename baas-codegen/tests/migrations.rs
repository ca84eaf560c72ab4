//! Migrations from schema diffs: schemas/blog.yaml evolves through a sequence of changes of
//! every kind; after each step the migration is applied to databases holding data (SQLite
//! always, PostgreSQL when a server answers on 127.0.0.1:5432), the data written before must
//! still be there, and regenerating the unchanged schema adds nothing.

use std::path::{Path, PathBuf};
use std::process::Command;

use baas_codegen::{Options, Previous, generate, generate_from, write};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn check(text: &str) -> baas_schema::CheckedSchema {
    let file = baas_schema::SourceFile::new("blog.yaml", text);
    let (checked, diags) = baas_schema::load_yaml(&file);
    checked.unwrap_or_else(|| panic!("{}", diags.render(&file)))
}

fn options() -> Options {
    Options { name: "blog-backend".into(), source: "blog.yaml".into(), runtime: "version = \"0.1\"".into() }
}

/// Replaces `from` by `to` in the schema text, insisting that it was there.
fn edit(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "the step's edit does not apply: {from:?}");
    text.replacen(from, to, 1)
}

/// A PostgreSQL database for this test, or `None` when no server answers.
struct Pg {
    db: String,
}

impl Pg {
    fn create() -> Option<Pg> {
        let db = format!("baas_migrations_{}", std::process::id());
        let ok = psql("postgres", &format!("DROP DATABASE IF EXISTS {db}"), false).is_some()
            && psql("postgres", &format!("CREATE DATABASE {db}"), false).is_some();
        if !ok {
            eprintln!("note: no PostgreSQL on 127.0.0.1:5432; migrations are checked on SQLite only");
            return None;
        }
        Some(Pg { db })
    }

    fn run(&self, sql: &str) -> String {
        psql(&self.db, sql, true).unwrap_or_else(|| panic!("PostgreSQL refused:\n{sql}"))
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        let _ = psql("postgres", &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.db), false);
    }
}

/// Runs `sql` with `psql` (in one transaction when `atomic`); the output, or `None`.
fn psql(db: &str, sql: &str, atomic: bool) -> Option<String> {
    let mut cmd = Command::new("psql");
    cmd.args(["-h", "127.0.0.1", "-U", "postgres", "-d", db, "-v", "ON_ERROR_STOP=1", "-X", "-q", "-A", "-t"]);
    if atomic {
        cmd.arg("-1");
    }
    let out = cmd.arg("-c").arg(sql).output().ok()?;
    if !out.status.success() {
        eprintln!("{}", String::from_utf8_lossy(&out.stderr));
        return None;
    }
    Some(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

#[test]
fn blog_evolves_through_every_kind_of_change_with_data_intact() {
    let dir = std::env::temp_dir().join(format!("baas-migrations-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut text = std::fs::read_to_string(root().join("schemas/blog.yaml")).unwrap();
    write(&dir, &generate(&check(&text), &options())).unwrap();

    let sqlite = rusqlite::Connection::open_in_memory().unwrap();
    let pg = Pg::create();
    let apply = |name: &str| {
        let sql = std::fs::read_to_string(dir.join("migrations/sqlite").join(name)).unwrap();
        sqlite
            .execute_batch(&format!("BEGIN; {sql}\nCOMMIT;"))
            .unwrap_or_else(|e| panic!("{name} on SQLite: {e}\n{sql}"));
        if let Some(pg) = &pg {
            pg.run(&std::fs::read_to_string(dir.join("migrations/postgres").join(name)).unwrap());
        }
    };
    let both = |sql: &str| {
        sqlite.execute_batch(sql).unwrap_or_else(|e| panic!("{e}: {sql}"));
        if let Some(pg) = &pg {
            pg.run(sql);
        }
    };
    let query = |sql: &str| -> String {
        let lite: String = sqlite
            .query_row(sql, [], |r| r.get::<_, rusqlite::types::Value>(0))
            .map(|v| match v {
                rusqlite::types::Value::Text(s) => s,
                rusqlite::types::Value::Integer(i) => i.to_string(),
                rusqlite::types::Value::Real(f) => f.to_string(),
                other => format!("{other:?}"),
            })
            .unwrap_or_else(|e| panic!("{e}: {sql}"));
        if let Some(pg) = &pg {
            assert_eq!(pg.run(sql), lite, "the engines disagree on {sql}");
        }
        lite
    };

    apply("0001_init.sql");
    both(
        "INSERT INTO users (id, email, password, \"tokenKey\", name) VALUES ('u00000000000001', 'a@example.com', 'x', 'k', 'Alice');
         INSERT INTO posts (id, title, author, tags, views, attachment) VALUES ('p00000000000001', 'Hello', 'u00000000000001', '[\"tech\"]', 7, 'a.txt');
         INSERT INTO comments (id, post, author, text) VALUES ('c00000000000001', 'p00000000000001', 'u00000000000001', 'First!');",
    );

    // (description, edit of the schema text, needs --allow-destructive, check afterwards)
    type Step = (&'static str, fn(&str) -> String, bool, &'static str, &'static str);
    let steps: Vec<Step> = vec![
        (
            "add a field",
            |t| {
                edit(
                    t,
                    "      body:       { type: text }\n",
                    "      body:       { type: text }\n      subtitle:   { type: text }\n",
                )
            },
            false,
            "SELECT title || '|' || subtitle || '|' FROM posts",
            "Hello||",
        ),
        (
            "rename a field",
            |t| {
                edit(
                    t,
                    "      text:   { type: text, required: true }",
                    "      content: { type: text, required: true, renamed_from: text }",
                )
            },
            false,
            "SELECT content FROM comments",
            "First!",
        ),
        (
            "add a collection",
            |t| {
                edit(
                    t,
                    "  comments:\n",
                    "  labels:\n    fields:\n      label: { type: text, unique: true }\n  comments:\n",
                )
            },
            false,
            "SELECT COUNT(*) FROM labels",
            "0",
        ),
        (
            "add an index",
            |t| edit(t, "      - [author, created]\n", "      - [author, created]\n      - [views]\n"),
            false,
            "SELECT COUNT(*) FROM posts WHERE published = FALSE",
            "1",
        ),
        (
            "change options",
            |t| {
                edit(
                    &edit(t, "required: true, max: 200 }", "required: true, max: 300 }"),
                    "values: [news, tech, life]",
                    "values: [news, tech, life, sports]",
                )
            },
            false,
            "SELECT tags FROM posts",
            "[\"tech\"]",
        ),
        (
            "change a rule",
            |t| {
                edit(
                    t,
                    "      list:   \"published = true || author = @request.auth.id\"",
                    "      list:   \"published = true\"",
                )
            },
            false,
            "SELECT COUNT(*) FROM posts",
            "1",
        ),
        (
            "rename a collection",
            |t| edit(t, "  comments:\n    fields:", "  replies:\n    renamed_from: comments\n    fields:"),
            false,
            "SELECT content FROM replies",
            "First!",
        ),
        (
            "widen a type",
            |t| {
                edit(t, "      views:      { type: number, integer: true, min: 0 }", "      views:      { type: text }")
            },
            false,
            "SELECT views FROM posts",
            "7",
        ),
        (
            "drop a field",
            |t| edit(t, "      attachment: { type: file, max_size: 1MiB }\n", ""),
            true,
            "SELECT title FROM posts",
            "Hello",
        ),
        (
            "drop a collection",
            |t| edit(t, "  labels:\n    fields:\n      label: { type: text, unique: true }\n", ""),
            true,
            "SELECT COUNT(*) FROM posts",
            "1",
        ),
        (
            "add a view",
            |t| {
                format!(
                    "{t}  post_stats:\n    type: view\n    query: \"SELECT posts.id, posts.title, COUNT(replies.id) AS replies FROM posts LEFT JOIN replies ON replies.post = posts.id GROUP BY posts.id, posts.title\"\n    rules:\n      list: \"\"\n"
                )
            },
            false,
            "SELECT replies FROM post_stats",
            "1",
        ),
        (
            "change a table under a view",
            |t| {
                edit(
                    t,
                    "      body:       { type: text }\n",
                    "      body:       { type: text }\n      summary:    { type: text }\n",
                )
            },
            false,
            "SELECT title || '|' || summary || '|' FROM posts",
            "Hello||",
        ),
    ];

    for (i, (what, step, destructive, probe, expected)) in steps.into_iter().enumerate() {
        text = step(&text);
        let checked = check(&text);
        let previous = Previous::read(&dir).unwrap().expect("a previous generation");
        if destructive {
            match generate_from(&checked, &options(), Some(&previous), false) {
                Err(baas_codegen::GenerateError::Destructive(changes)) => assert!(!changes.is_empty(), "{what}"),
                other => panic!("{what}: a destructive change was not refused: {other:?}"),
            }
        }
        let files = generate_from(&checked, &options(), Some(&previous), destructive)
            .unwrap_or_else(|r| panic!("{what}: {r:?}"));
        write(&dir, &files).unwrap();
        let now = Previous::read(&dir).unwrap().unwrap();
        assert_eq!(now.migrations.len(), i + 2, "step {what} wrote no migration");
        let name = now.migrations.last().unwrap().clone();
        apply(&name);
        assert_eq!(query(probe), expected, "after step '{what}' ({name})");
        // the data written before is intact
        assert_eq!(query("SELECT email FROM users"), "a@example.com", "after step '{what}'");
        // a renamed collection keeps its wire id
        if what == "rename a collection" {
            let generated = std::fs::read_to_string(dir.join("src/generated/replies.rs")).unwrap();
            let old_id = baas_schema::ir::Collection::default_id("comments");
            assert!(generated.contains(&format!("\"{old_id}\"")), "replies lost the id of comments");
        }
        // regenerating the same schema is an empty diff
        let again = generate_from(&checked, &options(), Some(&now), false).unwrap();
        let report = write(&dir, &again).unwrap();
        assert!(report.written.is_empty(), "step '{what}': an unchanged schema rewrote {:?}", report.written);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A snapshot written before baas indexed list-rule columns (it does not say which indexes
/// its baas derived) gets them in the next migration, with nothing else; once recorded,
/// regenerating adds nothing.
#[test]
fn migrations_from_an_older_baas_gain_the_indexes_it_did_not_derive() {
    let schema = check(&std::fs::read_to_string(root().join("schemas/blog.yaml")).unwrap());
    let mut snapshot = serde_json::to_value(&schema.schema).unwrap();
    snapshot.as_object_mut().unwrap().remove("implied_indexes").expect("the snapshot records it");
    let old = Previous { schema: serde_json::from_value(snapshot).unwrap(), migrations: vec!["0001_init.sql".into()] };
    assert_eq!(old.schema.implied_indexes, baas_schema::ir::ImpliedIndexes::Relations);

    let history = baas_codegen::migrations(&schema, Some(&old), false, "blog.yaml").unwrap();
    assert_eq!(history.changes, ["add index idx_posts_published"]);
    for dialect in ["sqlite", "postgres"] {
        let sql = &history.files[&PathBuf::from(format!("{dialect}/0002_add_index_idx_posts_published.sql"))];
        let statements: Vec<&str> = sql.lines().filter(|l| !l.starts_with("--") && !l.trim().is_empty()).collect();
        assert_eq!(statements, [r#"CREATE INDEX "idx_posts_published" ON "posts" ("published");"#], "{sql}");
    }

    let now = Previous { schema: schema.schema.clone(), migrations: history.names.clone() };
    assert!(baas_codegen::migrations(&schema, Some(&now), false, "blog.yaml").unwrap().changes.is_empty());
}
