//! Rule leaks: whatever the rules hide stays hidden through every way of reading data —
//! records, filters through relations and back-relations, `@collection` rules, sorts, expand
//! and batch — on SQLite and on PostgreSQL. Each check has a control: the same read by a caller
//! who may see the data (or a superuser) shows it, so a check that passed only because the data
//! was missing would fail there.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::{ADMIN_EMAIL, ADMIN_PASSWORD, Engine, Server, encode as enc};

struct Api {
    server: Server,
}

impl Api {
    fn start(bin: &std::path::Path, engine: Engine) -> Api {
        Api { server: support::start_on(bin, engine) }
    }

    fn call(&self, method: &str, path: &str, token: &str, body: Option<&Value>) -> (u16, Value) {
        support::request(method, &format!("{}{path}", self.server.url), Some(token), body)
    }

    #[track_caller]
    fn ok(&self, method: &str, path: &str, token: &str, body: Option<&Value>) -> Value {
        let (status, body) = self.call(method, path, token, body);
        assert_eq!(status, 200, "{method} {path}: {body}");
        body
    }

    fn token(&self, collection: &str, email: &str, password: &str) -> String {
        let body = json!({"identity": email, "password": password});
        let r = self.ok("POST", &format!("/api/collections/{collection}/auth-with-password"), "", Some(&body));
        r["token"].as_str().unwrap().to_owned()
    }

    fn admin(&self) -> String {
        self.token("_superusers", ADMIN_EMAIL, ADMIN_PASSWORD)
    }

    /// Signs a user up and in: `(id, token)`.
    fn user(&self, email: &str, fields: Value) -> (String, String) {
        let mut body = json!({"email": email, "password": "password-123", "passwordConfirm": "password-123"});
        body.as_object_mut().unwrap().extend(fields.as_object().unwrap().clone());
        let r = self.ok("POST", "/api/collections/users/records", "", Some(&body));
        (r["id"].as_str().unwrap().to_owned(), self.token("users", email, "password-123"))
    }

    fn create(&self, collection: &str, token: &str, body: Value) -> String {
        let r = self.ok("POST", &format!("/api/collections/{collection}/records"), token, Some(&body));
        r["id"].as_str().unwrap().to_owned()
    }

    /// The ids a list answers, in order (`query` is already encoded).
    fn ids(&self, collection: &str, query: &str, token: &str) -> Vec<String> {
        let r = self.ok("GET", &format!("/api/collections/{collection}/records?perPage=500&{query}"), token, None);
        r["items"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap().to_owned()).collect()
    }
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

// ---- @collection rules share one row: chat rooms -----------------------------------------------

/// `notes` are gated by the rule PocketBase's docs give for rooms: one membership row must
/// hold both the note's room and the caller. A member of one room is not a member of all.
fn membership_rule_refuses_non_members(engine: Engine) {
    let api = Api::start(support::chat_binary(), engine);
    let admin = api.admin();
    let (alice, alice_t) = api.user("alice@example.com", json!({"name": "Alice"}));
    let (bob, bob_t) = api.user("bob@example.com", json!({"name": "Bob"}));
    let (_carol, carol_t) = api.user("carol@example.com", json!({"name": "Carol"}));
    let red = api.create("rooms", &alice_t, json!({"name": "red", "owner": alice}));
    let blue = api.create("rooms", &bob_t, json!({"name": "blue", "owner": bob}));
    api.create("memberships", &admin, json!({"room": red, "user": alice, "role": "owner"}));
    api.create("memberships", &admin, json!({"room": blue, "user": bob, "role": "owner"}));

    // members write into their own room
    let red_note = api.create("notes", &alice_t, json!({"room": red, "author": alice, "text": "red only"}));
    let blue_note = api.create("notes", &bob_t, json!({"room": blue, "author": bob, "text": "blue only"}));
    // ... and not into another room (before: 200, since Alice is a member of *some* room)
    let (status, body) = api.call(
        "POST",
        "/api/collections/notes/records",
        &alice_t,
        Some(&json!({"room": blue, "author": alice, "text": "intrusion"})),
    );
    assert_eq!(status, 400, "{body}");
    // reads: each member sees their room's notes only; non-members and guests see none
    assert_eq!(api.ids("notes", "", &alice_t), [red_note.clone()]);
    assert_eq!(api.ids("notes", "", &bob_t), [blue_note.clone()]);
    assert!(api.ids("notes", "", &carol_t).is_empty());
    assert!(api.ids("notes", "", "").is_empty());
    assert_eq!(api.call("GET", &format!("/api/collections/notes/records/{blue_note}"), &alice_t, None).0, 404);
    // control: both notes exist, and the superuser sees them
    assert_eq!(sorted(api.ids("notes", "", &admin)), sorted(vec![red_note.clone(), blue_note.clone()]));
    assert_eq!(api.call("GET", &format!("/api/collections/notes/records/{blue_note}"), &bob_t, None).0, 200);

    // batch: the same create rule inside a batch
    let batch = json!({"requests": [
        {"method": "POST", "url": "/api/collections/notes/records", "body": {"room": blue, "author": alice, "text": "batched"}}
    ]});
    let (status, body) = api.call("POST", "/api/batch", &alice_t, Some(&batch));
    assert_eq!(status, 400, "{body}");
    assert_eq!(api.ids("notes", "", &admin).len(), 2);
    // control: the same batch into her own room goes through
    let batch = json!({"requests": [
        {"method": "POST", "url": "/api/collections/notes/records", "body": {"room": red, "author": alice, "text": "batched"}}
    ]});
    api.ok("POST", "/api/batch", &alice_t, Some(&batch));
    assert_eq!(api.ids("notes", "", &alice_t).len(), 2);

    // a hidden field cannot be probed through a filter, except by superusers
    let (status, body) = api.call(
        "GET",
        &format!("/api/collections/memberships/records?filter={}", enc("role = 'owner'")),
        &alice_t,
        None,
    );
    assert_eq!(status, 400, "{body}");
    assert_eq!(api.ids("memberships", &format!("filter={}", enc("role = 'owner'")), &admin).len(), 2);
    // a membership's own rule hides other users' rows
    assert_eq!(api.ids("memberships", "", &alice_t).len(), 1);
}

/// The realtime events of `notes` reach members of the note's room only.
fn membership_rule_gates_realtime(engine: Engine) {
    let api = Api::start(support::chat_binary(), engine);
    let admin = api.admin();
    let (alice, alice_t) = api.user("alice@example.com", json!({"name": "Alice"}));
    let (bob, bob_t) = api.user("bob@example.com", json!({"name": "Bob"}));
    let red = api.create("rooms", &alice_t, json!({"name": "red", "owner": alice}));
    let blue = api.create("rooms", &bob_t, json!({"name": "blue", "owner": bob}));
    api.create("memberships", &admin, json!({"room": red, "user": alice}));
    api.create("memberships", &admin, json!({"room": blue, "user": bob}));
    let alice_events = Events::subscribe(&api, &alice_t, "notes/*");
    let bob_events = Events::subscribe(&api, &bob_t, "notes/*");
    let note = api.create("notes", &alice_t, json!({"room": red, "author": alice, "text": "red only"}));
    // control: the member hears of it
    let event = alice_events.next(Duration::from_secs(10)).expect("alice hears of her note");
    assert_eq!(event["record"]["id"], note.as_str(), "{event}");
    // Bob, a member of another room, does not (his own note's event arrives instead)
    let blue_note = api.create("notes", &bob_t, json!({"room": blue, "author": bob, "text": "blue only"}));
    let event = bob_events.next(Duration::from_secs(10)).expect("bob hears of his note");
    assert_eq!(event["record"]["id"], blue_note.as_str(), "bob heard of a note in a room he is not in: {event}");
    assert!(alice_events.next(Duration::from_millis(500)).is_none(), "alice heard of a note in blue");
}

/// A hidden e-mail cannot be probed through a filter, in REST or in realtime options (chat's
/// users may list each other, e-mails stay private unless shown).
fn hidden_emails_stay_hidden_in_filters(engine: Engine) {
    let api = Api::start(support::chat_binary(), engine);
    let (alice, alice_t) = api.user("alice@example.com", json!({"name": "Alice"}));
    let (_bob, bob_t) = api.user("bob@example.com", json!({"name": "Bob"}));
    let by_email = format!("filter={}", enc("email ~ 'alice'"));
    let by_name = format!("filter={}", enc("name ~ 'Ali'"));
    assert!(api.ids("users", &by_email, &bob_t).is_empty());
    assert_eq!(api.ids("users", &by_name, &bob_t), [alice.clone()]);
    // realtime: an options filter on the e-mail never matches; on the name it does (control)
    let options = |filter: &str| enc(&json!({"query": {"filter": filter}}).to_string());
    let probe = Events::subscribe(&api, &bob_t, &format!("users/*?options={}", options("email ~ 'alice'")));
    let control = Events::subscribe(&api, &bob_t, &format!("users/*?options={}", options("name ~ 'Ali'")));
    let path = format!("/api/collections/users/records/{alice}");
    api.ok("PATCH", &path, &alice_t, Some(&json!({"name": "Alicia"})));
    let event = control.next(Duration::from_secs(10)).expect("the name filter matches");
    assert_eq!(event["record"]["id"], alice.as_str());
    assert!(probe.next(Duration::from_millis(500)).is_none(), "the e-mail filter matched a hidden e-mail");
    // once Alice shows her e-mail, the same filter finds her
    api.ok("PATCH", &path, &alice_t, Some(&json!({"emailVisibility": true})));
    assert_eq!(api.ids("users", &by_email, &bob_t), [alice.clone()]);
    assert!(probe.next(Duration::from_secs(10)).is_some(), "the e-mail filter matches a visible e-mail");
}

#[test]
fn hidden_emails_stay_hidden_in_filters_sqlite() {
    hidden_emails_stay_hidden_in_filters(Engine::Sqlite);
}

#[test]
fn hidden_emails_stay_hidden_in_filters_postgres() {
    hidden_emails_stay_hidden_in_filters(Engine::Postgres);
}

/// A server-sent event stream of `GET /api/realtime`, subscribed to one topic.
struct Events {
    rx: std::sync::mpsc::Receiver<Value>,
}

impl Events {
    fn subscribe(api: &Api, token: &str, topic: &str) -> Events {
        let (tx, rx) = std::sync::mpsc::channel();
        let url = format!("{}/api/realtime", api.server.url);
        std::thread::spawn(move || {
            let resp = ureq::get(&url).call().expect("open the event stream");
            let reader = std::io::BufReader::new(resp.into_body().into_reader());
            for line in std::io::BufRead::lines(reader) {
                let Ok(line) = line else { return };
                if let Some(data) = line.strip_prefix("data:") {
                    let value = serde_json::from_str(data.trim()).unwrap_or(Value::Null);
                    if tx.send(value).is_err() {
                        return;
                    }
                }
            }
        });
        let connect = rx.recv_timeout(Duration::from_secs(10)).expect("PB_CONNECT");
        let client = connect["clientId"].as_str().expect("a client id").to_owned();
        let body = json!({"clientId": client, "subscriptions": [topic]});
        let (status, body) = api.call("POST", "/api/realtime", token, Some(&body));
        assert_eq!(status, 204, "{body}");
        Events { rx }
    }

    fn next(&self, wait: Duration) -> Option<Value> {
        self.rx.recv_timeout(wait).ok()
    }
}

#[test]
fn membership_rule_gates_realtime_sqlite() {
    membership_rule_gates_realtime(Engine::Sqlite);
}

#[test]
fn membership_rule_gates_realtime_postgres() {
    membership_rule_gates_realtime(Engine::Postgres);
}

#[test]
fn membership_rule_refuses_non_members_sqlite() {
    membership_rule_refuses_non_members(Engine::Sqlite);
}

#[test]
fn membership_rule_refuses_non_members_postgres() {
    membership_rule_refuses_non_members(Engine::Postgres);
}

// ---- sorts and filters through relations: the blog --------------------------------------------

/// Authors with chosen e-mails and names, one published post each; `users.list` is
/// `id = @request.auth.id`, so nobody may read another user's name or e-mail.
fn sorts_and_filters_see_only_what_the_caller_may_list(engine: Engine) {
    let api = Api::start(support::blog_binary(), engine);
    let admin = api.admin();
    let names = [("m@example.com", "Mallory"), ("a@example.com", "Zed"), ("z@example.com", "Alan")];
    let mut users = Vec::new();
    for (email, name) in names {
        users.push(api.user(email, json!({"name": name})));
    }
    let mut posts = Vec::new();
    for (i, (id, token)) in users.iter().enumerate() {
        posts.push(api.create("posts", token, json!({"title": format!("post {i}"), "author": id, "published": true})));
    }
    let order = |query: &str, token: &str| api.ids("posts", &format!("{query}&fields=id"), token);

    // control: a superuser's sort follows the hidden values
    let by_email = order("sort=author.email", &admin);
    assert_eq!(by_email, [posts[1].clone(), posts[0].clone(), posts[2].clone()]);
    let by_name = order("sort=author.name", &admin);
    assert_eq!(by_name, [posts[2].clone(), posts[0].clone(), posts[1].clone()]);
    assert_ne!(order("sort=-author.email", &admin), by_email);

    // a guest may list no user: every key is empty, so both directions give the same order
    for key in ["author.email", "author.name", "author.email:lower", "author.name:lower"] {
        let up = order(&format!("sort={key},@rowid"), "");
        let down = order(&format!("sort=-{key},@rowid"), "");
        assert_eq!(up, down, "sort={key} orders by values a guest cannot read");
        assert_eq!(up, posts, "sort={key}");
    }
    // a user sees its own name only: its post moves, the others keep their order
    let (_, mallory) = &users[0];
    let up = order("sort=author.name,@rowid", mallory);
    let down = order("sort=-author.name,@rowid", mallory);
    assert_eq!(up, [posts[1].clone(), posts[2].clone(), posts[0].clone()]);
    assert_eq!(down, [posts[0].clone(), posts[1].clone(), posts[2].clone()]);

    // filters through the relation are gated the same way
    let filter = |f: &str, token: &str| order(&format!("filter={}", enc(f)), token);
    assert!(filter("author.name = 'Zed'", "").is_empty());
    assert_eq!(filter("author.name = 'Zed'", &admin), [posts[1].clone()]);
    // an e-mail reads as empty unless its owner made it visible, even to its owner
    assert!(filter("author.email = 'm@example.com'", mallory).is_empty());
    assert_eq!(filter("author.email = 'm@example.com'", &admin), [posts[0].clone()]);
    let (mallory_id, _) = &users[0];
    api.ok(
        "PATCH",
        &format!("/api/collections/users/records/{mallory_id}"),
        mallory,
        Some(&json!({"emailVisibility": true})),
    );
    assert_eq!(filter("author.email = 'm@example.com'", mallory), [posts[0].clone()]);
    // ... and still not to others, whom the users' list rule keeps out
    assert!(filter("author.email = 'm@example.com'", "").is_empty());

    // expand shows only related records the caller may view
    let r = api.ok("GET", &format!("/api/collections/posts/records/{}?expand=author", posts[1]), "", None);
    assert!(r.get("expand").and_then(|e| e.get("author")).is_none(), "{r}");
    let r = api.ok("GET", &format!("/api/collections/posts/records/{}?expand=author", posts[1]), &admin, None);
    assert_eq!(r["expand"]["author"]["name"], "Zed");
}

#[test]
fn sorts_and_filters_see_only_what_the_caller_may_list_sqlite() {
    sorts_and_filters_see_only_what_the_caller_may_list(Engine::Sqlite);
}

#[test]
fn sorts_and_filters_see_only_what_the_caller_may_list_postgres() {
    sorts_and_filters_see_only_what_the_caller_may_list(Engine::Postgres);
}

// ---- several conditions on one back-relation mean one related record --------------------------

fn back_relation_conditions_share_a_row(engine: Engine) {
    let api = Api::start(support::blog_binary(), engine);
    let (u1, t1) = api.user("u1@example.com", json!({"name": "One"}));
    let (u2, t2) = api.user("u2@example.com", json!({"name": "Two"}));
    let mixed = api.create("posts", &t1, json!({"title": "mixed", "author": u1, "published": true}));
    let matching = api.create("posts", &t1, json!({"title": "matching", "author": u1, "published": true}));
    let silent = api.create("posts", &t1, json!({"title": "silent", "author": u1, "published": true}));
    api.create("comments", &t2, json!({"post": mixed, "author": u2, "text": "hello there"}));
    api.create("comments", &t1, json!({"post": mixed, "author": u1, "text": "bye"}));
    api.create("comments", &t1, json!({"post": matching, "author": u1, "text": "hello from me"}));
    let filter = |f: &str| sorted(api.ids("posts", &format!("filter={}", enc(f)), &t1));
    let both = format!("comments_via_post.text ?~ 'hello' && comments_via_post.author ?= '{u1}'");
    assert_eq!(filter(&both), [matching.clone()]);
    // control: each condition alone matches the mixed post too
    assert_eq!(filter("comments_via_post.text ?~ 'hello'"), sorted(vec![mixed.clone(), matching.clone()]));
    assert_eq!(filter(&format!("comments_via_post.author ?= '{u1}'")), sorted(vec![mixed.clone(), matching.clone()]));
    // posts without comments
    assert_eq!(filter("comments_via_post.id ?= null"), [silent.clone()]);
}

#[test]
fn back_relation_conditions_share_a_row_sqlite() {
    back_relation_conditions_share_a_row(Engine::Sqlite);
}

#[test]
fn back_relation_conditions_share_a_row_postgres() {
    back_relation_conditions_share_a_row(Engine::Postgres);
}
