//! Schema evolution end to end: schemas/blog.yaml changes step by step; after each step the
//! crate is regenerated (the next migration is diffed from `migrations/schema.json`), rebuilt,
//! and the real binary starts on the same SQLite and PostgreSQL databases as before, applies
//! the migration, and serves the data written at the start through the API.

mod support;

use std::path::Path;

use serde_json::{Value, json};
use support::{ADMIN_EMAIL, ADMIN_PASSWORD, Engine, Storage};

fn call(url: &str, method: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
    support::request(method, url, token, body.as_ref())
}

/// A running server on `db` and a superuser token for it.
struct Api {
    server: support::Server,
    token: String,
}

impl Api {
    fn start(bin: &Path, db: &str) -> Api {
        let server = support::serve(bin, db, Storage::Shared);
        let (status, auth) = call(
            &format!("{}/api/collections/_superusers/auth-with-password", server.url),
            "POST",
            None,
            Some(json!({"identity": ADMIN_EMAIL, "password": ADMIN_PASSWORD})),
        );
        assert_eq!(status, 200, "{auth}");
        Api { token: auth["token"].as_str().unwrap().to_owned(), server }
    }

    fn get(&self, path: &str) -> (u16, Value) {
        call(&format!("{}{path}", self.server.url), "GET", Some(&self.token), None)
    }

    fn send(&self, method: &str, path: &str, body: Value) -> (u16, Value) {
        call(&format!("{}{path}", self.server.url), method, Some(&self.token), Some(body))
    }

    /// The only record of a list.
    fn one(&self, path: &str) -> Value {
        let (status, list) = self.get(path);
        assert_eq!((status, list["totalItems"].as_i64()), (200, Some(1)), "{path}: {list}");
        list["items"][0].clone()
    }
}

fn edit(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "the step's edit does not apply: {from:?}");
    text.replacen(from, to, 1)
}

type Step = (&'static str, fn(&str) -> String, bool, fn(&Api));

fn steps() -> Vec<Step> {
    vec![
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
            |api| {
                let post = api.one("/api/collections/posts/records");
                assert_eq!((post["title"].as_str(), post["subtitle"].as_str()), (Some("Hello"), Some("")));
            },
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
            |api| {
                assert_eq!(api.one("/api/collections/comments/records")["content"], "First!");
            },
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
            |api| {
                let (status, created) = api.send("POST", "/api/collections/labels/records", json!({"label": "x"}));
                assert_eq!(status, 200, "{created}");
                assert_eq!(api.one("/api/collections/labels/records")["label"], "x");
            },
        ),
        (
            "add an index",
            |t| edit(t, "      - [author, created]\n", "      - [author, created]\n      - [published]\n"),
            false,
            |api| {
                api.one("/api/collections/posts/records?filter=published%20%3D%20false");
            },
        ),
        (
            "change options",
            |t| edit(t, "required: true, max: 200 }", "required: true, max: 300 }"),
            false,
            |api| {
                let id = api.one("/api/collections/posts/records")["id"].as_str().unwrap().to_owned();
                let long = "x".repeat(250);
                let (status, body) =
                    api.send("PATCH", &format!("/api/collections/posts/records/{id}"), json!({"title": long}));
                assert_eq!(status, 200, "a 250-character title fits the new max: {body}");
                api.send("PATCH", &format!("/api/collections/posts/records/{id}"), json!({"title": "Hello"}));
            },
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
            |api| {
                let (_, anon) = call(&format!("{}/api/collections/posts/records", api.server.url), "GET", None, None);
                assert_eq!(anon["totalItems"], 0, "the unpublished post is hidden from anonymous callers");
                api.one("/api/collections/posts/records");
            },
        ),
        (
            "rename a collection",
            |t| edit(t, "  comments:\n    fields:", "  replies:\n    renamed_from: comments\n    fields:"),
            false,
            |api| {
                assert_eq!(api.one("/api/collections/replies/records")["content"], "First!");
                assert_eq!(api.get("/api/collections/comments/records").0, 404);
            },
        ),
        (
            "widen a type",
            |t| {
                edit(t, "      views:      { type: number, integer: true, min: 0 }", "      views:      { type: text }")
            },
            false,
            |api| {
                assert_eq!(api.one("/api/collections/posts/records")["views"], "7");
            },
        ),
        (
            "drop a field",
            |t| edit(t, "      attachment: { type: file, max_size: 1MiB }\n", ""),
            true,
            |api| {
                let post = api.one("/api/collections/posts/records");
                assert!(post.get("attachment").is_none() && post["title"] == "Hello", "{post}");
            },
        ),
        (
            "add a view",
            |t| {
                format!(
                    "{t}  post_stats:\n    type: view\n    query: \"SELECT posts.id, posts.title, COUNT(replies.id) AS replies FROM posts LEFT JOIN replies ON replies.post = posts.id GROUP BY posts.id, posts.title\"\n    rules:\n      list: \"\"\n      view: \"\"\n"
                )
            },
            false,
            |api| {
                let stats = api.one("/api/collections/post_stats/records");
                assert_eq!((stats["title"].as_str(), stats["replies"].as_i64()), (Some("Hello"), Some(1)), "{stats}");
            },
        ),
    ]
}

/// What the build asks of the user when a collection is added: an (empty) implementation of
/// its hooks in `src/hooks.rs`.
fn implement_new_hooks(dir: &Path, checked: &baas::schema::CheckedSchema) {
    let path = dir.join("src/hooks.rs");
    let mut hooks = std::fs::read_to_string(&path).unwrap();
    for c in &checked.schema.collections {
        let (module, ty) = (baas::codegen::names::module_ident(&c.name), baas::codegen::names::record_type(&c.name));
        if !hooks.contains(&format!("<{ty}> for Hooks")) && !hooks.contains(&format!("::{ty}> for Hooks")) {
            hooks.push_str(&format!(
                "\nimpl ::baas_runtime::CollectionHooks<crate::generated::{module}::{ty}> for Hooks {{}}\n"
            ));
        }
    }
    std::fs::write(&path, hooks).unwrap();
}

#[test]
fn the_blog_schema_evolves_on_both_engines_with_its_data_served_after_each_step() {
    let _lock = support::lock_crate_dir("evolve");
    let dir = support::e2e_dir().join("crates").join("evolve");
    let _ = std::fs::remove_dir_all(&dir);
    support::generate("schemas/blog.yaml", &dir);
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml"))
        .unwrap()
        .replace("name = \"blog-backend\"", "name = \"evolve-backend\"");
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    let bin = support::build(&dir, "evolve-backend");

    let databases: Vec<(Storage, String)> = [Engine::Sqlite, Engine::Postgres].into_iter().map(Storage::new).collect();
    for (_, db) in &databases {
        let ok = std::process::Command::new(&bin)
            .args(["superuser", "upsert", ADMIN_EMAIL, ADMIN_PASSWORD, "--db", db])
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap()
            .success();
        assert!(ok, "superuser upsert on {db}");
        let api = Api::start(&bin, db);
        let (_, user) = api.send(
            "POST",
            "/api/collections/users/records",
            json!({"email": "a@example.com", "password": "password1", "passwordConfirm": "password1", "name": "Alice"}),
        );
        let (_, post) = api.send(
            "POST",
            "/api/collections/posts/records",
            json!({"title": "Hello", "author": user["id"], "views": 7, "tags": ["tech"]}),
        );
        let (status, comment) = api.send(
            "POST",
            "/api/collections/comments/records",
            json!({"post": post["id"], "author": user["id"], "text": "First!"}),
        );
        assert_eq!(status, 200, "{comment}");
    }

    let mut text = std::fs::read_to_string(support::root().join("schemas/blog.yaml")).unwrap();
    let options = baas::codegen::Options {
        name: "evolve-backend".into(),
        source: "schemas/blog.yaml".into(),
        runtime: format!("path = \"{}\"", support::root().join("baas-runtime").display()),
    };
    for (what, step, destructive, check) in steps() {
        text = step(&text);
        if what == "rename a collection" {
            // ... and a renamed one's record type is renamed in it.
            let hooks = std::fs::read_to_string(dir.join("src/hooks.rs")).unwrap();
            std::fs::write(
                dir.join("src/hooks.rs"),
                hooks.replace("comments::Comment;", "replies::Reply;").replace("<Comment>", "<Reply>"),
            )
            .unwrap();
        }
        let file = baas::schema::SourceFile::new("blog.yaml", text.clone());
        let (checked, diags) = baas::schema::load_yaml(&file);
        let checked = checked.unwrap_or_else(|| panic!("{what}: {}", diags.render(&file)));
        let previous = baas::codegen::Previous::read(&dir).unwrap().unwrap();
        let files = baas::codegen::generate_from(&checked, &options, Some(&previous), destructive)
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        baas::codegen::write(&dir, &files).unwrap();
        implement_new_hooks(&dir, &checked);
        let bin = support::build(&dir, "evolve-backend");
        for (_, db) in &databases {
            let api = Api::start(&bin, db);
            check(&api);
            // the user written at the start is still there
            assert_eq!(api.one("/api/collections/users/records")["email"], "a@example.com", "after '{what}' on {db}");
        }
    }
}
