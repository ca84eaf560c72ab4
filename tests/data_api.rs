//! Custom code cannot see more than the API shows: a route of the user's crate answers each
//! read and write through the data API acting as the caller (`Data`), and for every identity
//! (anonymous, two users, a superuser), collection, filter and record of the blog it must
//! answer exactly what the REST API answers for the same token — the same records with the same
//! visible values (no hidden field, no e-mail its owner did not make visible), the same 404s,
//! the same refused writes. On SQLite and PostgreSQL.

mod support;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::{Value, json};
use support::Engine;

/// The user's routes: `/api/data/{collection}[/{id}]`, answered through the data API.
const HOOKS_RS: &str = r#"//! Routes that read and write through the data API, acting as the caller.
use baas_runtime::deps::axum::extract::{Path, Query};
use baas_runtime::deps::axum::http::StatusCode;
use baas_runtime::deps::axum::routing::get;
use baas_runtime::deps::axum::{Json, Router};
use baas_runtime::deps::serde_json::{Map, Value, json};
use baas_runtime::{ApiError, ApiResult, AppState, CollectionHooks, Data, Tx, TypedRecord};
use std::collections::HashMap;

use crate::generated::comments::Comment;
use crate::generated::posts::Post;
use crate::generated::users::User;

pub struct Hooks;

impl CollectionHooks<User> for Hooks {}
impl CollectionHooks<Post> for Hooks {}
impl CollectionHooks<Comment> for Hooks {}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/data/{collection}", get(list))
        .route("/api/data/{collection}/{id}", get(view).patch(update).delete(delete))
}

/// Calls `f` with the record type of `collection`.
macro_rules! by_collection {
    ($collection:expr, $f:ident, $($arg:expr),*) => {
        match $collection.as_str() {
            "posts" => $f::<Post>($($arg),*),
            "comments" => $f::<Comment>($($arg),*),
            "users" => $f::<User>($($arg),*),
            _ => Err(ApiError::not_found()),
        }
    };
}

async fn list(data: Data, Path(c): Path<String>, Query(q): Query<HashMap<String, String>>) -> ApiResult<Json<Value>> {
    fn all<R: TypedRecord>(tx: Tx<'_>, filter: Option<String>) -> ApiResult<Value> {
        let mut query = tx.of::<R>().query().sort("created,id");
        if let Some(filter) = &filter {
            query = query.filter(filter);
        }
        let records = query.all()?.iter().map(R::to_record).collect::<ApiResult<Vec<_>>>()?;
        Ok(json!(records))
    }
    let filter = q.get("filter").cloned();
    data.read(move |tx| by_collection!(c, all, tx, filter)).await.map(Json)
}

async fn view(data: Data, Path((c, id)): Path<(String, String)>) -> ApiResult<Json<Value>> {
    fn one<R: TypedRecord>(tx: Tx<'_>, id: String) -> ApiResult<Value> {
        Ok(Value::Object(tx.of::<R>().get(&id)?.to_record()?))
    }
    data.read(move |tx| by_collection!(c, one, tx, id)).await.map(Json)
}

async fn update(data: Data, Path((c, id)): Path<(String, String)>, Json(body): Json<Map<String, Value>>) -> ApiResult<Json<Value>> {
    fn patch<R: TypedRecord>(tx: Tx<'_>, id: String, body: Map<String, Value>) -> ApiResult<Value> {
        let mut patch = tx.of::<R>().patch(&id);
        for (field, value) in &body {
            patch = patch.set_named(field, value);
        }
        Ok(Value::Object(patch.save()?.to_record()?))
    }
    data.write(move |tx| by_collection!(c, patch, tx, id, body)).await.map(Json)
}

async fn delete(data: Data, Path((c, id)): Path<(String, String)>) -> ApiResult<StatusCode> {
    fn remove<R: TypedRecord>(tx: Tx<'_>, id: String) -> ApiResult<()> {
        tx.of::<R>().delete(&id)
    }
    data.write(move |tx| by_collection!(c, remove, tx, id)).await.map(|()| StatusCode::NO_CONTENT)
}
"#;

/// The blog backend with the routes above, generated and built once per test process.
fn binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let dir = support::e2e_dir().join("crates").join("data-api");
        let _lock = support::lock_crate_dir("data-api");
        support::generate("schemas/blog.yaml", &dir);
        std::fs::write(dir.join("src/hooks.rs"), HOOKS_RS).unwrap();
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        std::fs::write(
            dir.join("Cargo.toml"),
            manifest.replace("name = \"blog-backend\"", "name = \"data-api-backend\""),
        )
        .unwrap();
        support::build(&dir, "data-api-backend")
    })
}

struct Blog {
    server: support::Server,
}

impl Blog {
    fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
        support::request(method, &format!("{}{path}", self.server.url), token, body.as_ref())
    }

    fn ok(&self, method: &str, path: &str, token: Option<&str>, body: Value) -> Value {
        let (status, out) = self.call(method, path, token, Some(body));
        assert_eq!(status, 200, "{method} {path}: {out}");
        out
    }

    fn login(&self, collection: &str, email: &str, password: &str) -> String {
        let body = json!({"identity": email, "password": password});
        let auth = self.ok("POST", &format!("/api/collections/{collection}/auth-with-password"), None, body);
        auth["token"].as_str().unwrap().to_owned()
    }
}

/// `record` (from the data API, typed fields only) says nothing `shown` (the REST API's
/// record) does not: every field has the REST value, or is empty where REST leaves it out.
fn same_record(data: &Value, rest: &Value, what: &str) {
    same_record_but(data, rest, &[], what);
}

/// [`same_record`], `except` some fields (two writes in a row differ in `updated`).
fn same_record_but(data: &Value, rest: &Value, except: &[&str], what: &str) {
    for (field, value) in data.as_object().unwrap().iter().filter(|(f, _)| !except.contains(&f.as_str())) {
        match rest.get(field) {
            Some(shown) => assert_eq!(value, shown, "{what}: {field}"),
            None => assert!(
                value == "" || value == &json!(null) || value == &json!(false) || value == &json!(0),
                "{what}: the data API shows {field} = {value}, the REST API does not show it"
            ),
        }
    }
}

fn agrees(engine: Engine) {
    let blog = Blog { server: support::start_on(binary(), engine) };
    let password = "password-123";
    let mut users = Vec::new();
    for (email, visible) in [("alice@example.com", false), ("bob@example.com", false), ("carol@example.com", true)] {
        let body = json!({"email": email, "password": password, "passwordConfirm": password, "name": email,
                          "emailVisibility": visible});
        let user = blog.ok("POST", "/api/collections/users/records", None, body);
        users.push((user["id"].as_str().unwrap().to_owned(), blog.login("users", email, password)));
    }
    let admin = blog.login("_superusers", support::ADMIN_EMAIL, support::ADMIN_PASSWORD);
    let mut posts = Vec::new();
    for (i, (author, token)) in users.iter().enumerate() {
        for published in [true, false] {
            let body = json!({"title": format!("P{i} {published}"), "author": author, "published": published,
                              "tags": if published { json!(["news"]) } else { json!(["tech"]) }});
            posts.push(blog.ok("POST", "/api/collections/posts/records", Some(token), body)["id"].clone());
        }
    }
    let mut comments = Vec::new();
    for (post, (author, token)) in posts.iter().zip(users.iter().cycle().skip(1)) {
        let body = json!({"post": post, "author": author, "text": "a comment"});
        comments.push(blog.ok("POST", "/api/collections/comments/records", Some(token), body)["id"].clone());
    }

    let identities: Vec<(&str, Option<&str>)> = vec![
        ("anonymous", None),
        ("alice", Some(&users[0].1)),
        ("bob", Some(&users[1].1)),
        ("superuser", Some(&admin)),
    ];
    let filters: &[(&str, &[&str])] = &[
        ("posts", &["", "published = true", "title ~ 'P1'", "author.email ~ 'example'", "tags ?= 'tech'"]),
        ("comments", &["", "post.published = false", "post.author.name ~ 'bob'"]),
        ("users", &["", "email ~ 'example'", "name != ''"]),
    ];
    let ids = |c: &str| -> Vec<Value> {
        match c {
            "posts" => posts.clone(),
            "comments" => comments.clone(),
            _ => users.iter().map(|(id, _)| json!(id)).collect(),
        }
    };

    // Reads: lists with each filter, and every record by id.
    for (who, token) in &identities {
        for (c, filters) in filters {
            for filter in *filters {
                let q = if filter.is_empty() { String::new() } else { format!("filter={}", support::encode(filter)) };
                let (rest_status, rest) = blog.call(
                    "GET",
                    &format!("/api/collections/{c}/records?perPage=500&sort=created,id&{q}"),
                    *token,
                    None,
                );
                let (data_status, data) = blog.call("GET", &format!("/api/data/{c}?{q}"), *token, None);
                let what = format!("{who}: {c} `{filter}`");
                assert_eq!(data_status, rest_status, "{what}: {data} / {rest}");
                if rest_status != 200 {
                    assert_eq!(data["message"], rest["message"], "{what}");
                    continue;
                }
                let rest = rest["items"].as_array().unwrap();
                let data = data.as_array().unwrap();
                let id = |r: &Value| r["id"].clone();
                assert_eq!(data.iter().map(id).collect::<Vec<_>>(), rest.iter().map(id).collect::<Vec<_>>(), "{what}");
                for (d, r) in data.iter().zip(rest) {
                    same_record(d, r, &what);
                }
            }
            for id in ids(c) {
                let id = id.as_str().unwrap();
                let (rest_status, rest) = blog.call("GET", &format!("/api/collections/{c}/records/{id}"), *token, None);
                let (data_status, data) = blog.call("GET", &format!("/api/data/{c}/{id}"), *token, None);
                let what = format!("{who}: {c}/{id}");
                assert_eq!(data_status, rest_status, "{what}: {data} / {rest}");
                if rest_status == 200 {
                    same_record(&data, &rest, &what);
                } else {
                    assert_eq!(data["message"], rest["message"], "{what}");
                }
            }
        }
    }

    // Writes: every identity tries to retitle every post; the data API and the REST API answer
    // alike (the REST request goes second and sets the same value, so both see the same state).
    for (who, token) in &identities {
        for post in &posts {
            let post = post.as_str().unwrap();
            let body = json!({"title": format!("retitled by {who}")});
            let (data_status, data) =
                blog.call("PATCH", &format!("/api/data/posts/{post}"), *token, Some(body.clone()));
            let (rest_status, rest) =
                blog.call("PATCH", &format!("/api/collections/posts/records/{post}"), *token, Some(body));
            assert_eq!(data_status, rest_status, "{who} retitles {post}: {data} / {rest}");
            if rest_status == 200 {
                same_record_but(&data, &rest, &["updated"], &format!("{who} retitles {post}"));
            } else {
                assert_eq!(data["message"], rest["message"], "{who} retitles {post}");
            }
        }
    }
    // Deletes: a refused delete is refused alike; an allowed one happens.
    for comment in &comments {
        let comment = comment.as_str().unwrap();
        for (who, token) in &identities {
            let rest = blog.call("GET", &format!("/api/collections/comments/records/{comment}"), *token, None).0;
            let (data_status, data) = blog.call("DELETE", &format!("/api/data/comments/{comment}"), *token, None);
            if data_status == 204 {
                let gone =
                    blog.call("GET", &format!("/api/collections/comments/records/{comment}"), Some(&admin), None);
                assert_eq!(gone.0, 404, "{who} deleted {comment} through the data API");
                break;
            }
            // refused: as the REST API would refuse it (it answers without deleting too)
            let (rest_status, rest_body) =
                blog.call("DELETE", &format!("/api/collections/comments/records/{comment}"), *token, None);
            assert_eq!(
                (data_status, &data["message"]),
                (rest_status, &rest_body["message"]),
                "{who} deletes {comment}"
            );
            assert!(rest == 200 || data_status == 404, "{who}: a comment it cannot view is not found");
        }
    }
}

#[test]
fn the_data_api_as_the_caller_answers_as_the_rest_api_sqlite() {
    agrees(Engine::Sqlite);
}

#[test]
fn the_data_api_as_the_caller_answers_as_the_rest_api_postgres() {
    agrees(Engine::Postgres);
}
