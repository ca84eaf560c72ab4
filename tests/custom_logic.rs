//! The blog's custom logic (README, "Custom logic"), written against the data API in each
//! example's own code — examples/blog-yaml/src/hooks.rs, examples/blog-derive and
//! examples/blog-build — and checked over HTTP against all three, on SQLite and PostgreSQL:
//! `comment_count` kept by transactional hooks (cascades included), a comment on a draft
//! refused with a field error, a publish route acting as its caller, per-tag statistics over
//! what the caller may list, and a job purging unverified accounts, run by a superuser through
//! PocketBase's cron API.

mod support;

use serde_json::{Value, json};

use support::Engine;

/// One running example, and its superuser's token.
struct Blog {
    server: support::Server,
    admin: String,
}

impl Blog {
    fn start(bin: &std::path::Path, engine: Engine) -> Blog {
        let server = support::start_on(bin, engine);
        let body = json!({"identity": support::ADMIN_EMAIL, "password": support::ADMIN_PASSWORD});
        let url = format!("{}/api/collections/_superusers/auth-with-password", server.url);
        let (status, auth) = support::request("POST", &url, None, Some(&body));
        assert_eq!(status, 200, "{auth}");
        Blog { admin: auth["token"].as_str().unwrap().to_owned(), server }
    }

    fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
        support::request(method, &format!("{}{path}", self.server.url), token, body.as_ref())
    }

    /// Signs up and signs in: (id, token).
    fn user(&self, email: &str) -> (String, String) {
        let body = json!({"email": email, "password": "password-123", "passwordConfirm": "password-123"});
        let (status, user) = self.call("POST", "/api/collections/users/records", None, Some(body));
        assert_eq!(status, 200, "{user}");
        let body = json!({"identity": email, "password": "password-123"});
        let (status, auth) = self.call("POST", "/api/collections/users/auth-with-password", None, Some(body));
        assert_eq!(status, 200, "{auth}");
        (user["id"].as_str().unwrap().to_owned(), auth["token"].as_str().unwrap().to_owned())
    }

    fn create(&self, collection: &str, token: &str, body: Value) -> String {
        let (status, record) =
            self.call("POST", &format!("/api/collections/{collection}/records"), Some(token), Some(body));
        assert_eq!(status, 200, "{record}");
        record["id"].as_str().unwrap().to_owned()
    }

    fn delete(&self, collection: &str, id: &str, token: &str) {
        let (status, body) =
            self.call("DELETE", &format!("/api/collections/{collection}/records/{id}"), Some(token), None);
        assert_eq!(status, 204, "delete {collection}/{id}: {body}");
    }

    /// A post's `comment_count`, read as a superuser.
    fn comment_count(&self, post: &str) -> Value {
        let (status, record) =
            self.call("GET", &format!("/api/collections/posts/records/{post}"), Some(&self.admin), None);
        assert_eq!(status, 200, "{record}");
        record["comment_count"].clone()
    }

    fn stats(&self, token: Option<&str>) -> Value {
        let (status, body) = self.call("GET", "/api/stats/posts-per-tag", token, None);
        assert_eq!(status, 200, "{body}");
        body
    }
}

fn behaves(bin: &std::path::Path, engine: Engine) {
    let blog = Blog::start(bin, engine);
    let (alice, alice_token) = blog.user("alice@example.com");
    let (bob, bob_token) = blog.user("bob@example.com");
    let post = |author: &str, token: &str, title: &str, published: bool, tags: Value| {
        blog.create("posts", token, json!({"title": title, "author": author, "published": published, "tags": tags}))
    };
    let hello = post(&alice, &alice_token, "Hello", true, json!(["news", "tech"]));
    let draft = post(&alice, &alice_token, "Draft", false, json!(["news"]));
    let bobs = post(&bob, &bob_token, "Bob's", true, json!(["life"]));

    // 4. statistics over the posts each caller may list
    assert_eq!(
        blog.stats(None),
        json!([{"tag": "life", "posts": 1}, {"tag": "news", "posts": 1}, {"tag": "tech", "posts": 1}])
    );
    assert_eq!(
        blog.stats(Some(&alice_token)),
        json!([{"tag": "life", "posts": 1}, {"tag": "news", "posts": 2}, {"tag": "tech", "posts": 1}])
    );

    // 5. a comment on a draft is refused at the field, and nothing is written
    let (status, refused) = blog.call(
        "POST",
        "/api/collections/comments/records",
        Some(&bob_token),
        Some(json!({"post": draft, "author": bob, "text": "first!"})),
    );
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["message"], "Failed to create record.");
    assert_eq!(refused["data"]["post"]["code"], "validation_post_not_published", "{refused}");
    assert_eq!(blog.comment_count(&draft), 0);

    // 1. comment_count follows creates and deletes, in the same transaction
    let comment = |token: &str, author: &str, post: &str| {
        blog.create("comments", token, json!({"post": post, "author": author, "text": "nice"}))
    };
    let a1 = comment(&alice_token, &alice, &hello);
    let _a2 = comment(&alice_token, &alice, &hello);
    let _b1 = comment(&bob_token, &bob, &hello);
    let b2 = comment(&bob_token, &bob, &bobs);
    assert_eq!((blog.comment_count(&hello), blog.comment_count(&bobs)), (json!(3), json!(1)));
    blog.delete("comments", &a1, &alice_token);
    assert_eq!(blog.comment_count(&hello), 2);
    // A refused write leaves the count alone: a comment for a post that does not exist.
    let (status, _) = blog.call(
        "POST",
        "/api/collections/comments/records",
        Some(&bob_token),
        Some(json!({"post": "nope00000000000", "author": bob, "text": "?"})),
    );
    assert_eq!(status, 400);

    // 2. publishing acts as the caller: the posts update rule decides
    let publish = format!("/api/posts/{draft}/publish");
    let (status, body) = blog.call("POST", &publish, None, None);
    assert_eq!((status, &body["message"]), (401, &json!("The request requires valid record authorization token.")));
    let (status, body) = blog.call("POST", &publish, Some(&blog.admin), None);
    assert_eq!(
        (status, &body["message"]),
        (403, &json!("The authorized record is not allowed to perform this action."))
    );
    let (status, body) = blog.call("POST", &publish, Some(&bob_token), None);
    assert_eq!(status, 404, "another user's post is not found: {body}");
    let (status, published) = blog.call("POST", &publish, Some(&alice_token), None);
    assert_eq!((status, &published["published"], &published["id"]), (200, &json!(true), &json!(draft)), "{published}");
    assert_eq!(
        blog.stats(None),
        json!([{"tag": "life", "posts": 1}, {"tag": "news", "posts": 2}, {"tag": "tech", "posts": 1}])
    );

    // 1. cascades: bob's remaining comment goes with bob (comments.author cascades), through
    // the comment hooks, which keep the count right.
    blog.delete("comments", &b2, &bob_token);
    assert_eq!(blog.comment_count(&bobs), 0);
    blog.delete("posts", &bobs, &bob_token);
    blog.delete("users", &bob, &bob_token);
    assert_eq!(blog.comment_count(&hello), 1, "the cascade ran the comment hooks");

    purges_unverified_accounts(&blog, &hello);
}

/// 3. The job `purge_unverified` removes the accounts left unverified for a week, through the
/// data API: the cascade takes their comments, and the comment hooks keep `comment_count`.
fn purges_unverified_accounts(blog: &Blog, post: &str) {
    let (stale, stale_token) = blog.user("stale@example.com");
    let (fresh, _) = blog.user("fresh@example.com");
    let (verified, _) = blog.user("verified@example.com");
    blog.create("comments", &stale_token, json!({"post": post, "author": stale, "text": "bye"}));
    assert_eq!(blog.comment_count(post), 2);
    let week_ago = "2000-01-01 00:00:00.000Z";
    blog.server.execute_sql(&format!(
        "UPDATE users SET created = '{week_ago}' WHERE id IN ('{stale}', '{verified}'); \
         UPDATE users SET verified = TRUE WHERE id = '{verified}';"
    ));

    // Only superusers see and run jobs (PocketBase's messages).
    let (status, body) = blog.call("GET", "/api/crons", None, None);
    assert_eq!((status, &body["message"]), (401, &json!("The request requires valid record authorization token.")));
    let (status, body) = blog.call("POST", "/api/crons/purge_unverified", Some(&stale_token), None);
    assert_eq!(
        (status, &body["message"]),
        (403, &json!("The authorized record is not allowed to perform this action."))
    );
    let (status, body) = blog.call("GET", "/api/crons", Some(&blog.admin), None);
    assert_eq!((status, body), (200, json!([{"id": "purge_unverified", "expression": "0 3 * * *"}])));
    let (status, body) = blog.call("POST", "/api/crons/nope", Some(&blog.admin), None);
    assert_eq!((status, &body["message"]), (404, &json!("Missing or invalid cron job.")));

    let (status, body) = blog.call("POST", "/api/crons/purge_unverified", Some(&blog.admin), None);
    assert_eq!(status, 204, "{body}");
    // The job runs in the background, as PocketBase's do.
    let exists = |id: &str| {
        let (status, _) = blog.call("GET", &format!("/api/collections/users/records/{id}"), Some(&blog.admin), None);
        status == 200
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while exists(&stale) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(!exists(&stale), "the week-old unverified account is purged");
    assert!(exists(&fresh), "a new unverified account stays");
    assert!(exists(&verified), "a verified account stays");
    assert_eq!(blog.comment_count(post), 1, "the purged account's comment went, through the hooks");
}

#[test]
fn yaml_example_sqlite() {
    behaves(support::yaml_example_binary(), Engine::Sqlite);
}

#[test]
fn yaml_example_postgres() {
    behaves(support::yaml_example_binary(), Engine::Postgres);
}

#[test]
fn derive_example_sqlite() {
    behaves(support::derive_example_binary(), Engine::Sqlite);
}

#[test]
fn derive_example_postgres() {
    behaves(support::derive_example_binary(), Engine::Postgres);
}

#[test]
fn build_example_sqlite() {
    behaves(support::build_example_binary(), Engine::Sqlite);
}

#[test]
fn build_example_postgres() {
    behaves(support::build_example_binary(), Engine::Postgres);
}
