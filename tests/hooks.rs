//! Hooks and custom routes live in the user's `src/hooks.rs`, which regeneration never
//! touches: this test writes a hook and a route, regenerates from a changed schema, builds the
//! crate, and checks that both still run in the real binary.

mod support;

use serde_json::{Value, json};

const HOOKS_RS: &str = r#"//! Hand-written hooks: must survive regeneration.
use std::sync::{Arc, Mutex};

use baas_runtime::deps::axum::routing::get;
use baas_runtime::deps::axum::{Json, Router};
use baas_runtime::deps::serde_json::json;
use baas_runtime::{ApiError, ApiResult, AppState, CollectionHooks, Data, HookContext, Tx};

use crate::generated::comments::Comment;
use crate::generated::posts::Post;
use crate::generated::users::User;

pub struct Hooks;

impl CollectionHooks<User> for Hooks {}

/// The comments whose after-commit hook ran, in order.
static COMMITTED: Mutex<Vec<String>> = Mutex::new(Vec::new());

impl CollectionHooks<Comment> for Hooks {
    fn after_create(&self, comment: &Comment, _tx: &Tx<'_>) -> ApiResult<()> {
        if comment.text.starts_with("roll back") {
            return Err(ApiError::bad_request("Rolled back."));
        }
        Ok(())
    }

    async fn after_create_commit(self: Arc<Self>, comment: Comment, _data: Data) {
        COMMITTED.lock().unwrap().push(comment.text);
    }
}

impl CollectionHooks<Post> for Hooks {
    fn before_create(&self, post: &mut Post, _tx: &Tx<'_>) -> ApiResult<()> {
        if post.title == "forbidden" {
            return Err(ApiError::bad_request("No forbidden posts."));
        }
        post.title = post.title.to_uppercase();
        // the field added by the schema change is typed here too
        post.subtitle = format!("{} (checked)", post.subtitle);
        Ok(())
    }

    fn on_read(&self, post: &mut Post, _cx: &HookContext<'_>) {
        post.views += 1000;
    }
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/hello", get(|| async { Json(json!({"hello": "world"})) }))
        .route("/api/committed", get(|| async { Json(json!(*COMMITTED.lock().unwrap())) }))
}
"#;

fn call(method: &str, url: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
    support::request(method, url, token, body.as_ref())
}

#[test]
fn hooks_and_routes_survive_regeneration_of_a_changed_schema() {
    let dir = support::e2e_dir().join("crates").join("hooks");
    let _ = std::fs::remove_dir_all(&dir);
    support::generate("schemas/blog.yaml", &dir);
    std::fs::write(dir.join("src/hooks.rs"), HOOKS_RS).unwrap();
    // Cargo.toml is the user's too; a distinct name keeps this binary apart from the other
    // generated blog crates in the shared target directory.
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml"))
        .unwrap()
        .replace("name = \"blog-backend\"", "name = \"hooks-backend\"");
    std::fs::write(dir.join("Cargo.toml"), &manifest).unwrap();

    // The schema changes: posts gain a `subtitle`.
    let changed = std::fs::read_to_string(support::root().join("schemas/blog.yaml")).unwrap().replace(
        "      body:       { type: text }\n",
        "      body:       { type: text }\n      subtitle:   { type: text }\n",
    );
    assert!(changed.contains("subtitle"), "the schema edit did not apply");
    let schema_path = support::e2e_dir().join("hooks-blog.yaml");
    std::fs::write(&schema_path, changed).unwrap();
    let rel = schema_path.strip_prefix(support::root()).unwrap().to_str().unwrap().to_owned();
    support::generate(&rel, &dir);
    assert_eq!(std::fs::read_to_string(dir.join("src/hooks.rs")).unwrap(), HOOKS_RS, "regeneration touched hooks.rs");
    assert!(std::fs::read_to_string(dir.join("src/generated/posts.rs")).unwrap().contains("pub subtitle: String"));

    assert_eq!(std::fs::read_to_string(dir.join("Cargo.toml")).unwrap(), manifest, "regeneration touched Cargo.toml");
    let bin = support::build(&dir, "hooks-backend");
    let server = support::start(&bin);
    let url = |p: &str| format!("{}{p}", server.url);

    let (status, body) = call("GET", &url("/api/hello"), None, None);
    assert_eq!((status, body), (200, json!({"hello": "world"})));

    // The OpenAPI document follows the changed schema and is served by the binary.
    let (status, doc) = call("GET", &url("/api/openapi.json"), None, None);
    assert_eq!((status, doc["openapi"].as_str()), (200, Some("3.1.0")));
    assert_eq!(doc["components"]["schemas"]["Post"]["properties"]["subtitle"]["type"], "string");

    let signup = json!({"email": "h@example.com", "password": "password1", "passwordConfirm": "password1"});
    let (status, user) = call("POST", &url("/api/collections/users/records"), None, Some(signup));
    assert_eq!(status, 200, "{user}");
    let (_, auth) = call(
        "POST",
        &url("/api/collections/users/auth-with-password"),
        None,
        Some(json!({"identity": "h@example.com", "password": "password1"})),
    );
    let token = auth["token"].as_str().expect("a token").to_owned();
    let post = json!({"title": "quiet", "subtitle": "s", "author": user["id"]});
    let (status, created) = call("POST", &url("/api/collections/posts/records"), Some(&token), Some(post));
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["title"], "QUIET");
    assert_eq!(created["subtitle"], "s (checked)");

    let refused = json!({"title": "forbidden", "author": user["id"]});
    let (status, body) = call("POST", &url("/api/collections/posts/records"), Some(&token), Some(refused));
    assert_eq!((status, body["message"].as_str()), (400, Some("No forbidden posts.")));
    let (_, list) = call("GET", &url("/api/collections/posts/records"), Some(&token), None);
    assert_eq!(list["totalItems"], 1, "the refused create must not be written: {list}");

    // A hook that is not the default runs on every read, lists and views alike (the adapter
    // skips only hooks whose default it saw run: users and comments here).
    assert_eq!(list["items"][0]["views"], 1000, "{list}");
    for _ in 0..3 {
        let (status, viewed) = call(
            "GET",
            &url(&format!("/api/collections/posts/records/{}", created["id"].as_str().unwrap())),
            Some(&token),
            None,
        );
        assert_eq!((status, &viewed["views"]), (200, &json!(1000)), "{viewed}");
    }

    // after_create_commit runs for every comment that committed and for none that rolled
    // back, with the writes arriving together (SQLite commits them in groups, each in a
    // savepoint of its own).
    let post = created["id"].as_str().unwrap().to_owned();
    let author = user["id"].as_str().unwrap().to_owned();
    std::thread::scope(|scope| {
        for i in 0..40 {
            let (url, token, post, author) = (url("/api/collections/comments/records"), &token, &post, &author);
            scope.spawn(move || {
                let text = if i % 2 == 0 { format!("keep {i}") } else { format!("roll back {i}") };
                let body = json!({"post": post, "author": author, "text": text});
                let (status, body) = call("POST", &url, Some(token), Some(body));
                assert_eq!(status, if i % 2 == 0 { 200 } else { 400 }, "{text}: {body}");
            });
        }
    });
    let mut kept: Vec<String> = (0..40).step_by(2).map(|i| format!("keep {i}")).collect();
    kept.sort();
    let committed = || {
        let (_, committed) = call("GET", &url("/api/committed"), None, None);
        let mut committed: Vec<String> = serde_json::from_value(committed).unwrap();
        committed.sort();
        committed
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while committed().len() < kept.len() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // a moment more, for a hook that should not have run
    std::thread::sleep(std::time::Duration::from_millis(200));
    let committed = committed();
    assert_eq!(committed, kept, "after-commit hooks ran for exactly the comments that committed");
    let (_, comments) = call("GET", &url("/api/collections/comments/records?perPage=100"), Some(&token), None);
    assert_eq!(comments["totalItems"], 20, "{comments}");
}
