//! Hooks, custom routes and jobs live in the user's own files (`src/hooks.rs`, `src/main.rs`),
//! which regeneration never touches: these tests write a hook, a route and a job, regenerate
//! from a changed schema, build the crate, and check that all still run in the real binary,
//! and that a job's tick runs once across two instances serving one database.

mod support;

use serde_json::{Value, json};

const HOOKS_RS: &str = r#"//! Hand-written hooks: must survive regeneration.
use std::sync::{Arc, Mutex};

use std::collections::HashMap;

use baas_runtime::deps::axum::extract::Query;
use baas_runtime::deps::axum::http::StatusCode;
use baas_runtime::deps::axum::routing::{get, post};
use baas_runtime::deps::axum::{Json, Router};
use baas_runtime::deps::serde_json::{Value, json};
use baas_runtime::{
    ApiError, ApiResult, AppState, Auth, Caller, CollectionHooks, Data, Event, HookContext, Superuser, Tx, WriteRequest,
};
use std::io::Write;

use crate::generated::comments::Comment;
use crate::generated::posts::{NewPost, Post, post};
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
    async fn on_request(&self, request: &mut WriteRequest<'_>) -> ApiResult<()> {
        // outside any transaction: a call out would go here (an await is one)
        std::future::ready(()).await;
        match request.event {
            Event::Create if request.body.get("title") == Some(&json!("needs review")) => {
                Err(post::title.invalid("validation_needs_review", "This title needs a review."))
            }
            Event::Create if !request.body.contains_key("subtitle") => {
                request.body.insert("subtitle".into(), json!("from the request hook"));
                Ok(())
            }
            Event::Delete if request.context.query.contains_key("keep") => Err(ApiError::forbidden("Kept.")),
            _ => Ok(()),
        }
    }

    fn before_create(&self, post: &mut Post, _tx: &Tx<'_>) -> ApiResult<()> {
        if post.title == "forbidden" {
            return Err(ApiError::bad_request("No forbidden posts."));
        }
        post.title = post.title.to_uppercase();
        // the field added by the schema change is typed here too
        post.subtitle = Some(format!("{} (checked)", post.subtitle.as_deref().unwrap_or_default()));
        Ok(())
    }

    fn on_read(&self, post: &mut Post, _cx: &HookContext<'_>) {
        post.views += 1000;
    }

    fn computed(&self, post: &Post, _cx: &HookContext<'_>) -> Value {
        // a stored field's name is ignored
        json!({"title_length": post.title.len(), "title": "computed"})
    }
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/hello", get(|| async { Json(json!({"hello": "world"})) }))
        .route("/api/committed", get(|| async { Json(json!(*COMMITTED.lock().unwrap())) }))
        .route("/api/news", post(news))
        .route("/api/quick-post", post(quick_post))
}

/// `POST /api/quick-post`: a post by the caller, created through the data API from a `NewPost`.
async fn quick_post(Auth(user): Auth<User>, data: Data) -> ApiResult<Json<Post>> {
    let post = NewPost { subtitle: Some("quick".into()), ..NewPost::new("quick", user.id) };
    Ok(Json(data.write(move |tx| tx.of::<Post>().create(post)).await?))
}

/// `POST /api/news` (superusers): publishes the body to the topic `news` in a transaction;
/// with `?fail=1` the transaction fails after publishing, and the message is never sent.
async fn news(
    _: Superuser,
    data: Data,
    Query(query): Query<HashMap<String, String>>,
    Json(body): Json<Value>,
) -> ApiResult<StatusCode> {
    let fail = query.contains_key("fail");
    data.write(move |tx| {
        tx.publish("news", &body)?;
        if fail { Err(ApiError::bad_request("Rolled back.")) } else { Ok(()) }
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Who hears `news`: signed-in users.
pub fn news_readers(caller: Option<&Caller>) -> bool {
    caller.is_some_and(|c| c.collection_name() == "users")
}

/// A job run every second: appends the second it ran in to the file `TICKS_FILE` names.
pub async fn tick(_data: Data) -> ApiResult<()> {
    if let Ok(path) = std::env::var("TICKS_FILE") {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap();
        writeln!(file, "{} {}", now.as_secs(), std::process::id()).unwrap();
    }
    Ok(())
}
"#;

const MAIN_RS: &str = r#"mod generated;
mod hooks;

fn main() -> ::std::process::ExitCode {
    ::baas_runtime::run(
        generated::backend(hooks::Hooks)
            .routes(hooks::routes())
            .cron("tick", "* * * * * *", hooks::tick)
            .topic("news", hooks::news_readers),
    )
}
"#;

fn call(method: &str, url: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
    support::request(method, url, token, body.as_ref())
}

/// The crate with the hand-written hooks, regenerated from a changed schema and built once.
fn hooks_binary() -> &'static std::path::Path {
    static BIN: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    BIN.get_or_init(build_hooks_crate)
}

fn build_hooks_crate() -> std::path::PathBuf {
    let dir = support::e2e_dir().join("crates").join("hooks");
    let _ = std::fs::remove_dir_all(&dir);
    support::generate("schemas/blog.yaml", &dir);
    std::fs::write(dir.join("src/hooks.rs"), HOOKS_RS).unwrap();
    std::fs::write(dir.join("src/main.rs"), MAIN_RS).unwrap();
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
    assert_eq!(std::fs::read_to_string(dir.join("src/main.rs")).unwrap(), MAIN_RS, "regeneration touched main.rs");
    assert!(
        std::fs::read_to_string(dir.join("src/generated/posts.rs")).unwrap().contains("pub subtitle: Option<String>")
    );

    assert_eq!(std::fs::read_to_string(dir.join("Cargo.toml")).unwrap(), manifest, "regeneration touched Cargo.toml");
    support::build(&dir, "hooks-backend")
}

#[test]
fn hooks_and_routes_survive_regeneration_of_a_changed_schema() {
    let server = support::start(hooks_binary());
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

    // A `NewPost` created through the data API goes through the same create (the hooks too).
    let (status, quick) = call("POST", &url("/api/quick-post"), Some(&token), None);
    assert_eq!(
        (status, &quick["title"], &quick["subtitle"], &quick["author"]),
        (200, &json!("QUICK"), &json!("quick (checked)"), &user["id"]),
        "{quick}"
    );
    let (status, _) = call(
        "DELETE",
        &url(&format!("/api/collections/posts/records/{}", quick["id"].as_str().unwrap())),
        Some(&token),
        None,
    );
    assert_eq!(status, 204);

    // The request hook runs before the transaction and before_create: it filled the subtitle
    // the request left out, or refuses at the field; a refusal in a batch fails it whole.
    let bare = json!({"title": "bare", "author": user["id"]});
    let (status, created_bare) = call("POST", &url("/api/collections/posts/records"), Some(&token), Some(bare));
    assert_eq!((status, &created_bare["subtitle"]), (200, &json!("from the request hook (checked)")), "{created_bare}");
    let review = json!({"title": "needs review", "author": user["id"]});
    let (status, body) = call("POST", &url("/api/collections/posts/records"), Some(&token), Some(review.clone()));
    assert_eq!((status, &body["message"]), (400, &json!("Failed to create record.")), "{body}");
    assert_eq!(body["data"]["title"]["code"], "validation_needs_review", "{body}");
    let batch = json!({"requests": [
        {"method": "POST", "url": "/api/collections/posts/records", "body": {"title": "fine", "author": user["id"]}},
        {"method": "POST", "url": "/api/collections/posts/records", "body": review},
    ]});
    let (status, body) = call("POST", &url("/api/batch"), Some(&token), Some(batch));
    assert_eq!(
        (status, &body["data"]["requests"]["1"]["response"]["data"]["title"]["code"]),
        (400, &json!("validation_needs_review")),
        "{body}"
    );
    let bare_id = created_bare["id"].as_str().unwrap();
    let (status, body) =
        call("DELETE", &url(&format!("/api/collections/posts/records/{bare_id}?keep=1")), Some(&token), None);
    assert_eq!((status, &body["message"]), (403, &json!("Kept.")), "{body}");
    let (status, _) = call("DELETE", &url(&format!("/api/collections/posts/records/{bare_id}")), Some(&token), None);
    assert_eq!(status, 204);

    let refused = json!({"title": "forbidden", "author": user["id"]});
    let (status, body) = call("POST", &url("/api/collections/posts/records"), Some(&token), Some(refused));
    assert_eq!((status, body["message"].as_str()), (400, Some("No forbidden posts.")));
    let (_, list) = call("GET", &url("/api/collections/posts/records"), Some(&token), None);
    assert_eq!(list["totalItems"], 1, "the refused create must not be written: {list}");

    // A hook that is not the default runs on every read, lists and views alike (the adapter
    // skips only hooks whose default it saw run: users and comments here).
    assert_eq!(list["items"][0]["views"], 1000, "{list}");
    // computed fields sit beside the stored ones, never over them, and `fields=` selects them
    assert_eq!((&list["items"][0]["title_length"], &list["items"][0]["title"]), (&json!(5), &json!("QUIET")), "{list}");
    let (_, picked) = call("GET", &url("/api/collections/posts/records?fields=id,title_length"), Some(&token), None);
    assert_eq!(picked["items"][0], json!({"id": created["id"], "title_length": 5}), "{picked}");
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

/// Two instances on one database, a job every second: each tick runs on one of them only.
fn a_tick_runs_once(engine: support::Engine) {
    let ticks = support::TempDir::new("ticks");
    let file = ticks.0.join("ticks.txt");
    let env = [("TICKS_FILE", file.to_str().unwrap())];
    let first = support::start_with(hooks_binary(), engine, &env);
    let second = support::serve_with(hooks_binary(), &first.db, support::Storage::Shared, &env);
    std::thread::sleep(std::time::Duration::from_secs(6));
    drop((first, second));
    let runs = std::fs::read_to_string(&file).unwrap_or_default();
    let seconds: Vec<&str> = runs.lines().map(|line| line.split(' ').next().unwrap()).collect();
    let mut distinct = seconds.clone();
    distinct.dedup();
    assert!(seconds.len() >= 4, "a job every second ran {} times in 6 s:\n{runs}", seconds.len());
    assert_eq!(seconds, distinct, "a tick ran twice:\n{runs}");
}

#[test]
fn a_tick_runs_once_across_two_instances_on_sqlite() {
    a_tick_runs_once(support::Engine::Sqlite);
}

#[test]
fn a_tick_runs_once_across_two_instances_on_postgres() {
    a_tick_runs_once(support::Engine::Postgres);
}

/// Runs the SDK script `tests/sdk/realtime/topics.mjs`, subscribed on `subscribe`, publishing
/// through `write`.
fn topics_script(subscribe: &str, write: &str) {
    let root = support::root();
    let output = std::process::Command::new("node")
        .args(["--test", "--test-reporter=spec", "tests/sdk/realtime/topics.mjs"])
        .current_dir(&root)
        .env("BAAS_URL", subscribe)
        .env("BAAS_WRITE_URL", write)
        .env("BAAS_ADMIN_EMAIL", support::ADMIN_EMAIL)
        .env("BAAS_ADMIN_PASSWORD", support::ADMIN_PASSWORD)
        .env_remove("NODE_OPTIONS")
        .env_remove("NODE_TEST_CONTEXT")
        .output()
        .unwrap_or_else(|e| panic!("cannot run `node` (Node 20+ must be on PATH): {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "topics.mjs failed:\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
}

#[test]
fn a_topic_of_the_crates_own_reaches_the_sdk_on_sqlite() {
    let server = support::start_on(hooks_binary(), support::Engine::Sqlite);
    topics_script(&server.url, &server.url);
}

#[test]
fn a_topic_of_the_crates_own_crosses_instances_on_postgres() {
    let first = support::start_on(hooks_binary(), support::Engine::Postgres);
    let second = support::serve(hooks_binary(), &first.db, support::Storage::Shared);
    topics_script(&first.url, &second.url);
}
