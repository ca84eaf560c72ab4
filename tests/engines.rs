//! The same requests against the blog backend on SQLite and on PostgreSQL give the same
//! answers: identical data (written with fixed ids) is read back through filters, sorts,
//! expands, `fields`, rules and error paths, and every response is compared byte for byte as
//! JSON, timestamps aside.

mod support;

use serde_json::{Value, json};

use support::Engine;

struct Client {
    server: support::Server,
    agent: ureq::Agent,
}

impl Client {
    fn start(engine: Engine) -> Client {
        Client::start_bin(support::blog_binary(), engine)
    }

    fn start_bin(bin: &std::path::Path, engine: Engine) -> Client {
        let server = support::start_on(bin, engine);
        Client { server, agent: ureq::Agent::config_builder().http_status_as_error(false).build().into() }
    }

    /// `(status, body)` with `created`/`updated` removed everywhere.
    fn send(&self, method: &str, path: &str, token: &str, body: Option<&Value>) -> Value {
        let url = format!("{}{path}", self.server.url);
        let resp = match (method, body) {
            ("GET", _) => self.agent.get(&url).header("Authorization", token).call(),
            ("DELETE", _) => self.agent.delete(&url).header("Authorization", token).call(),
            ("POST", Some(b)) => self
                .agent
                .post(&url)
                .header("Authorization", token)
                .header("Content-Type", "application/json")
                .send(b.to_string()),
            ("PATCH", Some(b)) => self
                .agent
                .patch(&url)
                .header("Authorization", token)
                .header("Content-Type", "application/json")
                .send(b.to_string()),
            _ => panic!("unsupported {method}"),
        };
        let mut resp = resp.unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        let mut body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        strip_times(&mut body);
        json!({"status": status, "body": body})
    }

    fn token(&self, collection: &str, email: &str, password: &str) -> String {
        let r = self.send(
            "POST",
            &format!("/api/collections/{collection}/auth-with-password"),
            "",
            Some(&json!({"identity": email, "password": password})),
        );
        assert_eq!(r["status"], 200, "{r}");
        r["body"]["token"].as_str().unwrap().to_owned()
    }
}

fn strip_times(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.remove("created");
            map.remove("updated");
            map.values_mut().for_each(strip_times);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_times),
        _ => {}
    }
}

const PASSWORD: &str = "password-123";

/// Writes the fixture through `c`; every id is fixed so both engines hold the same records.
fn fixture(c: &Client) -> Vec<Value> {
    let admin = c.token("_superusers", support::ADMIN_EMAIL, support::ADMIN_PASSWORD);
    let mut out = Vec::new();
    let users = [
        ("alice0000000001", "alice@example.com", "Alice"),
        ("bob000000000001", "bob@example.com", "bob"),
        ("eve000000000001", "eve@example.com", "Émile"),
    ];
    for (id, email, name) in users {
        out.push(c.send(
            "POST",
            "/api/collections/users/records",
            "",
            Some(&json!({"id": id, "email": email, "name": name, "password": PASSWORD, "passwordConfirm": PASSWORD, "emailVisibility": name != "bob"})),
        ));
    }
    // a duplicate email: the unique index's error body
    out.push(c.send(
        "POST",
        "/api/collections/users/records",
        "",
        Some(&json!({"email": "alice@example.com", "password": PASSWORD, "passwordConfirm": PASSWORD})),
    ));
    let posts = [
        ("post00000000001", "Hello world", true, "alice0000000001", json!(["tech", "news"]), 3),
        ("post00000000002", "apple pie", true, "bob000000000001", json!(["life"]), 10),
        ("post00000000003", "Zebra_crossing 100%", false, "alice0000000001", json!([]), 0),
        ("post00000000004", "éclair", true, "eve000000000001", json!(["tech"]), 7),
        ("post00000000005", "Éclair", false, "bob000000000001", json!(["news", "life", "tech"]), 7),
        ("post00000000006", "banana", true, "alice0000000001", json!(["life"]), 1),
    ];
    for (id, title, published, author, tags, views) in posts {
        out.push(c.send(
            "POST",
            "/api/collections/posts/records",
            &admin,
            Some(&json!({"id": id, "title": title, "body": format!("<p>{title} body</p>"), "published": published, "author": author, "tags": tags, "views": views})),
        ));
    }
    for (i, (post, author, text)) in [
        ("post00000000001", "bob000000000001", "nice"),
        ("post00000000001", "eve000000000001", "Nice!"),
        ("post00000000003", "bob000000000001", "hidden one"),
        ("post00000000006", "alice0000000001", "mine"),
    ]
    .into_iter()
    .enumerate()
    {
        out.push(c.send(
            "POST",
            "/api/collections/comments/records",
            &admin,
            Some(&json!({"id": format!("comment0000000{i}"), "post": post, "author": author, "text": text})),
        ));
    }
    out
}

#[test]
fn sqlite_and_postgres_answer_alike() {
    let (sqlite, postgres) = std::thread::scope(|s| {
        let a = s.spawn(|| Client::start(Engine::Sqlite));
        let b = s.spawn(|| Client::start(Engine::Postgres));
        (a.join().unwrap(), b.join().unwrap())
    });
    let written = fixture(&sqlite);
    assert_eq!(written, fixture(&postgres), "the fixture writes differ");
    let failed: Vec<&Value> = written.iter().filter(|r| r["status"] != 200).collect();
    assert_eq!(failed.len(), 1, "only the duplicate email fails: {failed:?}");
    assert_eq!(failed[0]["body"]["data"]["email"]["code"], "validation_not_unique");

    let filters = [
        "",
        "title ~ 'e'",
        "title ~ 'É'",
        "title ~ 'éclair'",
        "title !~ 'a'",
        "title ~ '100%'",
        "title ~ 'a_'",
        "title > 'B'",
        "title <= 'banana'",
        "tags ?= 'tech'",
        "tags ?!= 'tech'",
        "tags:length > 1",
        "tags ~ '\"tech\",\"news\"'",
        "tags ~ '[]' || tags ~ '[\"life\"]'",
        "tags:each ?= 'tech'",
        "views >= 3 && published = true",
        "views = 7 || views < 1",
        "author.name = 'Alice'",
        "author.name ~ 'é'",
        "comments_via_post.text ?~ 'nice'",
        "comments_via_post.author.name ?= 'bob'",
        "body:lower ~ '<p>é'",
        "created > '2000-01-01 00:00:00.000Z'",
        "created > @now",
        "title = 'Zebra_crossing 100%' || id = 'post00000000002'",
        "@collection.comments.post ?= id && @collection.comments.text ?= 'mine'",
        "strftime('%Y', created) > '2000'",
        "title ~ ",
        "nope = 1",
    ];
    let sorts = [
        "",
        "title",
        "-title",
        "tags,title",
        "-tags,id",
        "-views,title",
        "author.name,-title",
        "published,views,id",
        "@rowid",
        "-@rowid",
    ];
    let mut paths = Vec::new();
    for filter in filters {
        for sort in sorts {
            paths.push(format!(
                "/api/collections/posts/records?filter={}&sort={}&perPage=4&page=1",
                support::encode(filter),
                support::encode(sort)
            ));
        }
    }
    paths.extend([
        "/api/collections/posts/records?expand=author,comments_via_post.author&perPage=100".to_owned(),
        "/api/collections/posts/records?fields=id,body:excerpt(6,true),expand.author.name&expand=author".to_owned(),
        "/api/collections/posts/records/post00000000003?expand=author".to_owned(),
        "/api/collections/posts/records?skipTotal=1&page=2&perPage=2".to_owned(),
        "/api/collections/comments/records?sort=-post.title,text&expand=post.author".to_owned(),
        "/api/collections/comments/records?filter=post.tags%20%3F%3D%20'tech'".to_owned(),
        "/api/collections/users/records?sort=name".to_owned(),
        "/api/collections/users/records/eve000000000001".to_owned(),
        "/api/collections/_superusers/records?fields=email,verified,emailVisibility".to_owned(),
    ]);
    let login = |c: &Client| {
        [
            String::new(),
            c.token("users", "alice@example.com", PASSWORD),
            c.token("users", "bob@example.com", PASSWORD),
            c.token("_superusers", support::ADMIN_EMAIL, support::ADMIN_PASSWORD),
        ]
    };
    let (sqlite_tokens, postgres_tokens) = (login(&sqlite), login(&postgres));
    let mut compared = 0;
    for path in &paths {
        for (ta, tb) in sqlite_tokens.iter().zip(&postgres_tokens) {
            let (a, b) = (sqlite.send("GET", path, ta, None), postgres.send("GET", path, tb, None));
            assert_eq!(a, b, "GET {path} differs (left: SQLite, right: PostgreSQL)");
            if std::env::var_os("BAAS_SHOW").is_some() {
                println!("{path} -> {} {}", a["status"], a["body"]["totalItems"]);
            }
            compared += 1;
        }
    }

    // Writes: updates with modifiers, rule failures, cascades, batches.
    let writes: Vec<(usize, &str, String, Option<Value>)> = vec![
        (
            1,
            "PATCH",
            "/api/collections/posts/records/post00000000001".into(),
            Some(json!({"tags+": "life", "views+": 2, "title": "Hello again"})),
        ),
        (1, "PATCH", "/api/collections/posts/records/post00000000002".into(), Some(json!({"title": "not mine"}))),
        (
            2,
            "PATCH",
            "/api/collections/posts/records/post00000000002".into(),
            Some(json!({"tags-": "life", "author": "alice0000000001"})),
        ),
        (
            1,
            "POST",
            "/api/collections/posts/records".into(),
            Some(json!({"id": "post00000000009", "title": "x", "author": "bob000000000001"})),
        ),
        (
            1,
            "POST",
            "/api/collections/posts/records".into(),
            Some(json!({"id": "post00000000009", "title": "", "author": "alice0000000001", "views": -1})),
        ),
        (
            1,
            "POST",
            "/api/collections/posts/records".into(),
            Some(json!({"id": "post00000000001", "title": "dup", "author": "alice0000000001"})),
        ),
        (2, "DELETE", "/api/collections/users/records/bob000000000001".into(), None),
        (1, "DELETE", "/api/collections/posts/records/post00000000001".into(), None),
        (
            3,
            "POST",
            "/api/batch".into(),
            Some(json!({"requests": [
                {"method": "POST", "url": "/api/collections/posts/records", "body": {"id": "post0000000000a", "title": "batched", "author": "eve000000000001"}},
                {"method": "PATCH", "url": "/api/collections/posts/records/post00000000006", "body": {"title": "Banana"}},
            ]})),
        ),
        (
            3,
            "POST",
            "/api/batch".into(),
            Some(json!({"requests": [
                {"method": "POST", "url": "/api/collections/posts/records", "body": {"id": "post0000000000b", "title": "rolled back", "author": "eve000000000001"}},
                {"method": "PATCH", "url": "/api/collections/posts/records/post00000000006", "body": {"author": "nobody000000000"}},
            ]})),
        ),
        (0, "GET", "/api/collections/posts/records?perPage=100&sort=-views,title".into(), None),
        (3, "GET", "/api/collections/posts/records?perPage=100&expand=comments_via_post".into(), None),
        (3, "GET", "/api/collections/comments/records?perPage=100".into(), None),
    ];
    for (who, method, path, body) in &writes {
        let a = sqlite.send(method, path, &sqlite_tokens[*who], body.as_ref());
        let b = postgres.send(method, path, &postgres_tokens[*who], body.as_ref());
        assert_eq!(a, b, "{method} {path} differs (left: SQLite, right: PostgreSQL)");
        if std::env::var_os("BAAS_SHOW").is_some() {
            println!("{method} {path} -> {a}");
        }
        compared += 1;
    }
    println!("{compared} responses compared");
}

/// Sends the same requests, as the same callers, to both servers and compares the answers;
/// each request names its caller by index into `tokens`.
fn compare(
    sqlite: &Client,
    postgres: &Client,
    tokens: &[(String, String)],
    requests: &[(usize, &str, String, Option<Value>)],
) -> usize {
    for (who, method, path, body) in requests {
        let (ta, tb) = &tokens[*who];
        let a = sqlite.send(method, path, ta, body.as_ref());
        let b = postgres.send(method, path, tb, body.as_ref());
        assert_eq!(a, b, "{method} {path} differs (left: SQLite, right: PostgreSQL)");
        if std::env::var_os("BAAS_SHOW").is_some() {
            println!("{method} {path} -> {a}");
        }
    }
    requests.len()
}

#[test]
fn chat_multiple_relations_cascades_and_views_answer_alike() {
    let (sqlite, postgres) = std::thread::scope(|s| {
        let a = s.spawn(|| Client::start_bin(support::chat_binary(), Engine::Sqlite));
        let b = s.spawn(|| Client::start_bin(support::chat_binary(), Engine::Postgres));
        (a.join().unwrap(), b.join().unwrap())
    });
    let users = [
        ("ann000000000001", "ann@example.com", "Ann"),
        ("ben000000000001", "ben@example.com", "Ben"),
        ("cat000000000001", "cat@example.com", "Cat"),
    ];
    let mut signups = Vec::new();
    for (id, email, name) in users {
        let body = json!({"id": id, "email": email, "name": name, "status": "online", "password": PASSWORD, "passwordConfirm": PASSWORD});
        signups.push((0, "POST", "/api/collections/users/records".to_owned(), Some(body)));
    }
    let anon = vec![(String::new(), String::new())];
    compare(&sqlite, &postgres, &anon, &signups);
    let mut tokens = anon;
    for (_, email, _) in users {
        tokens.push((sqlite.token("users", email, PASSWORD), postgres.token("users", email, PASSWORD)));
    }
    tokens.push((
        sqlite.token("_superusers", support::ADMIN_EMAIL, support::ADMIN_PASSWORD),
        postgres.token("_superusers", support::ADMIN_EMAIL, support::ADMIN_PASSWORD),
    ));
    let (ann, ben, cat, admin) = (1, 2, 3, 4);
    let rooms = "/api/collections/rooms/records";
    let messages = "/api/collections/messages/records";
    let mut requests: Vec<(usize, &str, String, Option<Value>)> = vec![
        (
            ann,
            "POST",
            rooms.into(),
            Some(
                json!({"id": "room00000000001", "name": "General", "owner": "ann000000000001", "members": ["ann000000000001", "ben000000000001"]}),
            ),
        ),
        (
            ann,
            "POST",
            rooms.into(),
            Some(
                json!({"id": "room00000000002", "name": "Secret", "owner": "ann000000000001", "members": ["ann000000000001"], "private": true}),
            ),
        ),
        (
            ben,
            "POST",
            rooms.into(),
            Some(
                json!({"id": "room00000000003", "name": "bens", "owner": "ben000000000001", "members": ["ben000000000001", "cat000000000001", "ann000000000001"], "private": true}),
            ),
        ),
        (ben, "POST", rooms.into(), Some(json!({"name": "General", "owner": "ben000000000001"}))),
        (ben, "POST", rooms.into(), Some(json!({"name": "x", "owner": "ann000000000001"}))),
        (
            ann,
            "POST",
            rooms.into(),
            Some(json!({"name": "dangling", "owner": "ann000000000001", "members": ["nobody000000000"]})),
        ),
    ];
    for (i, (who, room, text)) in [
        (ann, "room00000000001", "hi all"),
        (ben, "room00000000001", "Hi Ann"),
        (ann, "room00000000002", "note to self"),
        (cat, "room00000000003", "cat here"),
        (cat, "room00000000001", "not a member"),
    ]
    .into_iter()
    .enumerate()
    {
        let author = ["", "ann000000000001", "ben000000000001", "cat000000000001"][who];
        requests.push((
            who,
            "POST",
            messages.into(),
            Some(json!({"id": format!("message0000000{i}"), "room": room, "author": author, "text": text})),
        ));
    }
    for who in [0, ann, ben, cat, admin] {
        for query in [
            "",
            "?expand=owner,members&sort=name",
            "?filter=members.name%20%3F%3D%20'Cat'",
            "?filter=members.id%20%3F%3D%20'ann000000000001'%20%26%26%20private%20%3D%20true",
            "?filter=members%20~%20'%22ann000000000001%22'&sort=-members",
            "?filter=members:length%20%3E%3D%202&sort=members,name",
            "?expand=messages_via_room.author&sort=-name",
        ] {
            requests.push((who, "GET", format!("{rooms}{query}"), None));
        }
        for query in ["", "?expand=room.members,author&sort=text", "?filter=room.members.name%20%3F~%20'a'&sort=-text"]
        {
            requests.push((who, "GET", format!("{messages}{query}"), None));
        }
        requests.push((who, "GET", "/api/collections/room_stats/records?sort=-messages,name".into(), None));
        requests.push((who, "GET", "/api/collections/room_stats/records?filter=messages%20%3E%201".into(), None));
        requests.push((who, "GET", "/api/collections/users/records?expand=rooms_via_members&sort=name".into(), None));
    }
    requests.extend([
        (
            ann,
            "PATCH",
            format!("{rooms}/room00000000001"),
            Some(json!({"members+": "cat000000000001", "members-": "ben000000000001"})),
        ),
        (ann, "PATCH", format!("{rooms}/room00000000001"), Some(json!({"owner": "ben000000000001"}))),
        (ben, "DELETE", "/api/collections/users/records/ben000000000001".into(), None),
        (ann, "DELETE", format!("{rooms}/room00000000001"), None),
        (admin, "GET", format!("{messages}?sort=text"), None),
        (admin, "GET", format!("{rooms}?sort=name"), None),
        (admin, "GET", "/api/collections/room_stats/records?sort=name".into(), None),
        (admin, "GET", "/api/collections/room_stats/records".into(), None),
    ]);
    let n = compare(&sqlite, &postgres, &tokens, &requests);
    println!("{n} responses compared");
}
