// The blog API suite, included by tests/blog_api.rs (SQLite, or BAAS_TEST_ENGINE) and
// tests/blog_api_pg.rs (PostgreSQL): every test runs on both engines. The including file
// declares `mod support;`, `fn engine() -> support::Engine` and `fn binary() -> &'static
// std::path::Path` (the blog backend under test: generated from YAML, or an example crate).

use serde_json::{Value, json};

use client::{Api, Resp};

// --- HTTP client and fixtures ------------------------------------------------------------------

mod client {
    use serde_json::{Map, Value, json};

    use super::support;

    /// A response, read whole.
    pub struct Resp {
        pub status: u16,
        headers: Vec<(String, String)>,
        pub text: String,
    }

    impl Resp {
        /// The body as JSON (panics, showing the body, when it is not JSON).
        pub fn json(&self) -> Value {
            serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text))
        }

        /// The first value of header `name` (case-insensitive).
        pub fn header(&self, name: &str) -> Option<&str> {
            self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
        }

        /// Every value of header `name`.
        pub fn headers(&self, name: &str) -> Vec<&str> {
            self.headers.iter().filter(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).collect()
        }

        /// Asserts the status, showing the body when it differs; returns the JSON body.
        #[track_caller]
        pub fn expect(&self, status: u16) -> Value {
            assert_eq!(self.status, status, "unexpected status; body: {}", self.text);
            if self.text.is_empty() { Value::Null } else { self.json() }
        }
    }

    /// A running blog backend and an HTTP client for it.
    pub struct Api {
        pub server: support::Server,
        agent: ureq::Agent,
    }

    /// A signed-up user with a token.
    pub struct User {
        pub id: String,
        pub token: String,
    }

    pub const PASSWORD: &str = "password-123";

    /// An agent that opens a connection per request: pooled ones were found reset under a
    /// request now and then (see `support::request_with`).
    fn fresh_connections() -> ureq::Agent {
        ureq::Agent::config_builder().http_status_as_error(false).max_idle_connections(0).build().into()
    }

    impl Api {
        /// Starts a fresh backend.
        pub fn start() -> Api {
            Api::start_with(&[])
        }

        /// Starts a fresh backend with extra environment variables (`serve`'s flags).
        pub fn start_with(env: &[(&str, &str)]) -> Api {
            let server = support::start_with(super::binary(), super::engine(), env);
            let agent = fresh_connections();
            Api { server, agent }
        }

        /// Starts a fresh backend whose limit on open files is `open_files`.
        pub fn start_with_open_files(open_files: u64) -> Api {
            let server = support::start_with_open_files(super::binary(), super::engine(), &[], open_files);
            let agent = fresh_connections();
            Api { server, agent }
        }

        /// The server's `host:port`.
        pub fn addr(&self) -> &str {
            self.server.url.trim_start_matches("http://")
        }

        /// Sends `request` as raw bytes on a new connection and reads until the server closes
        /// it: the status and the body (PocketBase's error JSON when the status is an error).
        pub fn raw(&self, request: &[u8]) -> Resp {
            use std::io::{Read, Write};
            let mut stream = std::net::TcpStream::connect(self.addr()).expect("connect");
            stream.set_read_timeout(Some(std::time::Duration::from_secs(20))).expect("timeout");
            stream.write_all(request).expect("send");
            let mut bytes = Vec::new();
            stream.read_to_end(&mut bytes).expect("read the answer");
            let text = String::from_utf8_lossy(&bytes).into_owned();
            let (head, body) = text.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no HTTP answer: {text:?}"));
            let mut lines = head.lines();
            let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).expect("status");
            let headers = lines
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                .collect();
            Resp { status, headers, text: body.to_owned() }
        }

        /// Sends a request. `headers` are added as given; a body is sent as JSON text.
        pub fn send(&self, method: &str, path: &str, headers: &[(&str, &str)], body: Option<&str>) -> Resp {
            let url = format!("{}{path}", self.server.url);
            macro_rules! with_headers {
                ($builder:expr) => {{
                    let mut b = $builder;
                    for (k, v) in headers {
                        b = b.header(*k, *v);
                    }
                    b
                }};
            }
            let result = match method {
                "GET" => with_headers!(self.agent.get(&url)).call(),
                "DELETE" => with_headers!(self.agent.delete(&url)).call(),
                "OPTIONS" => with_headers!(self.agent.options(&url)).call(),
                "HEAD" => with_headers!(self.agent.head(&url)).call(),
                "POST" | "PATCH" | "PUT" => {
                    let b = match method {
                        "POST" => self.agent.post(&url),
                        "PATCH" => self.agent.patch(&url),
                        _ => self.agent.put(&url),
                    };
                    let b = with_headers!(b);
                    match body {
                        Some(text) => b.header("content-type", "application/json").send(text),
                        None => b.send_empty(),
                    }
                }
                other => panic!("unsupported method {other}"),
            };
            let mut response = result.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
            let status = response.status().as_u16();
            let headers = response
                .headers()
                .iter()
                .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or_default().to_owned()))
                .collect();
            let text = response.body_mut().read_to_string().unwrap_or_else(|e| panic!("{method} {path}: body: {e}"));
            Resp { status, headers, text }
        }

        fn auth_headers(token: Option<&str>) -> Vec<(&str, &str)> {
            token.map(|t| vec![("authorization", t)]).unwrap_or_default()
        }

        pub fn get(&self, path: &str, token: Option<&str>) -> Resp {
            self.send("GET", path, &Self::auth_headers(token), None)
        }

        pub fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Resp {
            self.send("POST", path, &Self::auth_headers(token), Some(&body.to_string()))
        }

        pub fn patch(&self, path: &str, token: Option<&str>, body: &Value) -> Resp {
            self.send("PATCH", path, &Self::auth_headers(token), Some(&body.to_string()))
        }

        pub fn delete(&self, path: &str, token: Option<&str>) -> Resp {
            self.send("DELETE", path, &Self::auth_headers(token), None)
        }

        /// `GET /api/collections/{c}/records?{query}`: the list envelope (expects 200).
        #[track_caller]
        pub fn list(&self, c: &str, query: &str, token: Option<&str>) -> Value {
            self.get(&format!("/api/collections/{c}/records?{query}"), token).expect(200)
        }

        /// The ids of a list's items, in order.
        #[track_caller]
        pub fn list_ids(&self, c: &str, query: &str, token: Option<&str>) -> Ids {
            ids(&self.list(c, query, token))
        }

        /// Signs a user up (anonymously) and signs them in.
        #[track_caller]
        pub fn user(&self, email: &str, name: &str) -> User {
            let body = json!({"email": email, "password": PASSWORD, "passwordConfirm": PASSWORD, "name": name});
            let created = self.post("/api/collections/users/records", None, &body).expect(200);
            let token = self.login("users", email, PASSWORD);
            User { id: created["id"].as_str().unwrap().to_owned(), token }
        }

        /// `auth-with-password`, expecting success; the token.
        #[track_caller]
        pub fn login(&self, collection: &str, email: &str, password: &str) -> String {
            let body = json!({"identity": email, "password": password});
            let r = self.post(&format!("/api/collections/{collection}/auth-with-password"), None, &body).expect(200);
            r["token"].as_str().unwrap().to_owned()
        }

        /// The superuser's token.
        pub fn admin(&self) -> String {
            self.login("_superusers", support::ADMIN_EMAIL, support::ADMIN_PASSWORD)
        }

        /// Creates a record as `token`, expecting 200; the record.
        #[track_caller]
        pub fn create(&self, c: &str, token: &str, body: Value) -> Value {
            self.post(&format!("/api/collections/{c}/records"), Some(token), &body).expect(200)
        }

        /// Creates a post of `user` with extra fields; its id. Waits a few milliseconds
        /// afterwards so that `created` strictly increases between fixtures.
        #[track_caller]
        pub fn post_of(&self, user: &User, title: &str, extra: Value) -> String {
            let mut body = Map::new();
            body.insert("title".into(), json!(title));
            body.insert("author".into(), json!(user.id));
            if let Value::Object(extra) = extra {
                body.extend(extra);
            }
            let record = self.create("posts", &user.token, Value::Object(body));
            std::thread::sleep(std::time::Duration::from_millis(3));
            record["id"].as_str().unwrap().to_owned()
        }

        /// Creates a comment of `user` on `post`; its id.
        #[track_caller]
        pub fn comment_of(&self, user: &User, post: &str, text: &str) -> String {
            let record = self.create("comments", &user.token, json!({"post": post, "author": user.id, "text": text}));
            record["id"].as_str().unwrap().to_owned()
        }

        /// A comment by `user` on `draft`, an unpublished post of `author`'s: written while the
        /// post is published for a moment (the examples refuse comments on unpublished posts).
        pub fn comment_on_draft(&self, author: &User, user: &User, draft: &str, text: &str) -> String {
            let path = format!("/api/collections/posts/records/{draft}");
            self.patch(&path, Some(&author.token), &json!({"published": true})).expect(200);
            let comment = self.comment_of(user, draft, text);
            self.patch(&path, Some(&author.token), &json!({"published": false})).expect(200);
            comment
        }
    }

    /// Record ids, comparable with arrays and vectors of `&String`.
    #[derive(Debug, PartialEq)]
    pub struct Ids(pub Vec<String>);

    impl<const N: usize> PartialEq<[&String; N]> for Ids {
        fn eq(&self, other: &[&String; N]) -> bool {
            self.0.len() == N && self.0.iter().zip(other).all(|(a, b)| a == *b)
        }
    }

    impl<const N: usize> PartialEq<[String; N]> for Ids {
        fn eq(&self, other: &[String; N]) -> bool {
            self.0 == other
        }
    }

    impl PartialEq<Vec<&String>> for Ids {
        fn eq(&self, other: &Vec<&String>) -> bool {
            self.0.len() == other.len() && self.0.iter().zip(other).all(|(a, b)| a == *b)
        }
    }

    /// The `id`s of a list envelope's items.
    pub fn ids(list: &Value) -> Ids {
        Ids(list["items"].as_array().expect("items").iter().map(|r| r["id"].as_str().unwrap().to_owned()).collect())
    }

    /// Percent-encodes a query value.
    pub fn enc(s: &str) -> String {
        let mut out = String::new();
        for b in s.bytes() {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                out.push(b as char);
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
        out
    }

    /// Decodes unpadded base64url.
    pub fn b64url(s: &str) -> Vec<u8> {
        let value = |c: u8| -> u32 {
            match c {
                b'A'..=b'Z' => u32::from(c - b'A'),
                b'a'..=b'z' => u32::from(c - b'a') + 26,
                b'0'..=b'9' => u32::from(c - b'0') + 52,
                b'-' => 62,
                b'_' => 63,
                _ => panic!("not base64url: {c:?}"),
            }
        };
        let mut out = Vec::new();
        let (mut acc, mut bits) = (0u32, 0);
        for c in s.bytes() {
            acc = (acc << 6) | value(c);
            bits += 6;
            if bits >= 8 {
                bits -= 8;
                out.push((acc >> bits) as u8);
                acc &= (1 << bits) - 1;
            }
        }
        out
    }

    /// A token's header and payload, decoded.
    pub fn jwt_parts(token: &str) -> (Value, Value) {
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3, "a JWT has three parts: {token}");
        let decode = |p: &str| serde_json::from_slice::<Value>(&b64url(p)).expect("JSON");
        (decode(parts[0]), decode(parts[1]))
    }

    /// A standard error body.
    pub fn error(status: u16, message: &str, data: Value) -> Value {
        json!({"status": status, "message": message, "data": data})
    }

    /// A field error without params.
    pub fn field(code: &str, message: &str) -> Value {
        json!({"code": code, "message": message})
    }

    pub fn now_secs() -> i64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
    }
}

use client::{PASSWORD, enc, error, field, ids, jwt_parts};

const NOT_FOUND: &str = "The requested resource wasn't found.";
const BAD_REQUEST: &str = "Something went wrong while processing your request.";
const CREATE_FAILED: &str = "Failed to create record.";
const UPDATE_FAILED: &str = "Failed to update record.";
const AUTH_FAILED: &str = "Failed to authenticate.";
const VALIDATION: &str = "An error occurred while validating the submitted data.";
const NEEDS_AUTH: &str = "The request requires valid record authorization token.";
const SUPERUSERS_ONLY: &str = "Only superusers can perform this action.";
const DELETE_REFERENCED: &str =
    "Failed to delete record. Make sure that the record is not part of a required relation reference.";
const REQUIRED: &str = "Cannot be blank.";

fn users_id() -> String {
    baas::schema::ir::Collection::default_id("users")
}

fn posts_id() -> String {
    baas::schema::ir::Collection::default_id("posts")
}

fn keys(v: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = v.as_object().expect("an object").keys().map(String::as_str).collect();
    keys.sort_unstable();
    keys
}

#[track_caller]
fn assert_id(id: &Value) {
    let id = id.as_str().expect("id is a string");
    assert_eq!(id.len(), 15, "id {id:?}");
    assert!(id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()), "id {id:?}");
}

/// `YYYY-MM-DD HH:MM:SS.sssZ`
#[track_caller]
fn assert_datetime(v: &Value) {
    let s = v.as_str().expect("a datetime string");
    let shape: String = s.chars().map(|c| if c.is_ascii_digit() { 'd' } else { c }).collect();
    assert_eq!(shape, "dddd-dd-dd dd:dd:dd.dddZ", "datetime {s:?}");
}

// --- transport (§1) ----------------------------------------------------------------------------

#[track_caller]
fn assert_security_headers(r: &Resp) {
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(r.header("x-frame-options"), Some("SAMEORIGIN"));
    assert_eq!(r.header("x-xss-protection"), Some("1; mode=block"));
    assert_eq!(r.header("cross-origin-opener-policy"), Some("same-origin"));
    assert!(r.headers("vary").iter().any(|v| v.split(',').any(|p| p.trim() == "Origin")), "Vary: Origin");
}

#[test]
fn transport_health_cors_and_headers() {
    let api = Api::start();

    let r = api.send("GET", "/api/health", &[("origin", "http://localhost:5173")], None);
    assert_eq!(r.expect(200), json!({"message": "API is healthy.", "code": 200, "data": {}}));
    assert!(r.header("content-type").unwrap().starts_with("application/json"));
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert_security_headers(&r);

    // Without an Origin no CORS header, but the security headers still.
    let r = api.get("/api/health", None);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("access-control-allow-origin"), None);
    assert_security_headers(&r);

    // Preflight.
    let r = api.send(
        "OPTIONS",
        "/api/collections/posts/records",
        &[
            ("origin", "http://localhost:5173"),
            ("access-control-request-method", "POST"),
            ("access-control-request-headers", "authorization,content-type,x-custom"),
        ],
        None,
    );
    assert_eq!(r.status, 204);
    assert_eq!(r.text, "");
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert_eq!(r.header("access-control-allow-methods"), Some("GET,HEAD,PUT,PATCH,POST,DELETE"));
    assert_eq!(r.header("access-control-allow-headers"), Some("authorization,content-type,x-custom"));
    assert_security_headers(&r);

    // An unknown route: a JSON 404 carrying the same headers.
    let r = api.send("GET", "/api/nope", &[("origin", "http://example.com")], None);
    assert_eq!(r.expect(404), error(404, NOT_FOUND, json!({})));
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert_security_headers(&r);

    // An error answer from a real route carries them too.
    let r = api.get("/api/collections/posts/records?page=abc", None);
    assert_eq!(r.expect(400), error(400, BAD_REQUEST, json!({})));
    assert_security_headers(&r);
}

// --- users and auth (§2.3, §3.3) ---------------------------------------------------------------

#[test]
fn signup_validation_and_anonymous_create_response() {
    let api = Api::start();
    let path = "/api/collections/users/records";

    let r = api.post(
        path,
        None,
        &json!({"email": "a@example.com", "password": PASSWORD, "passwordConfirm": "different-1"}),
    );
    assert_eq!(
        r.expect(400),
        error(
            400,
            CREATE_FAILED,
            json!({"passwordConfirm": field("validation_values_mismatch", "Values don't match.")})
        )
    );

    let r = api.post(path, None, &json!({"email": "a@example.com", "password": "short", "passwordConfirm": "short"}));
    assert_eq!(
        r.expect(400),
        error(
            400,
            CREATE_FAILED,
            json!({"password": field("validation_min_text_constraint", "Must be at least 8 character(s).")})
        )
    );

    let r = api.post(path, None, &json!({"password": PASSWORD, "passwordConfirm": PASSWORD}));
    assert_eq!(r.expect(400), error(400, CREATE_FAILED, json!({"email": field("validation_required", REQUIRED)})));

    let r = api.post(path, None, &json!({"email": "not-an-email", "password": PASSWORD, "passwordConfirm": PASSWORD}));
    assert_eq!(r.expect(400)["data"]["email"]["code"], "validation_is_email");

    // An anonymous caller may not make itself verified.
    let r = api.post(
        path,
        None,
        &json!({"email": "a@example.com", "password": PASSWORD, "passwordConfirm": PASSWORD, "verified": true}),
    );
    assert_eq!(r.expect(400)["data"]["verified"], field("validation_values_mismatch", "Values don't match."));

    // Success: 200 (not 201), and no `email` for the anonymous caller.
    let body = json!({"email": "a@example.com", "password": PASSWORD, "passwordConfirm": PASSWORD, "name": "Alice"});
    let created = api.post(path, None, &body).expect(200);
    assert_eq!(
        keys(&created),
        ["collectionId", "collectionName", "created", "emailVisibility", "id", "name", "updated", "verified"]
    );
    assert_id(&created["id"]);
    assert_datetime(&created["created"]);
    assert_eq!(created["created"], created["updated"]);
    assert_eq!(created["collectionId"], users_id());
    assert_eq!(created["collectionName"], "users");
    assert_eq!(created["name"], "Alice");
    assert_eq!(created["verified"], false);
    assert_eq!(created["emailVisibility"], false);

    // The same email again: unique.
    let r = api.post(path, None, &body);
    assert_eq!(r.expect(400)["data"]["email"]["code"], "validation_not_unique");

    // With emailVisibility on, anonymous callers see the email.
    let visible =
        json!({"email": "v@example.com", "password": PASSWORD, "passwordConfirm": PASSWORD, "emailVisibility": true});
    assert_eq!(api.post(path, None, &visible).expect(200)["email"], "v@example.com");
}

#[test]
fn auth_with_password_refresh_and_methods() {
    let api = Api::start();
    let alice = api.user("alice@example.com", "Alice");
    let path = "/api/collections/users/auth-with-password";

    // Success shape: {token, record} and the record carries the email.
    let r = api.post(path, None, &json!({"identity": "alice@example.com", "password": PASSWORD})).expect(200);
    assert_eq!(keys(&r), ["record", "token"]);
    assert_eq!(r["record"]["id"], alice.id.as_str());
    assert_eq!(r["record"]["email"], "alice@example.com");
    assert_eq!(r["record"]["collectionName"], "users");
    assert!(r["record"].get("password").is_none() && r["record"].get("tokenKey").is_none());

    // Wrong password, unknown identity, identity in another case: the same 400.
    for (identity, password) in
        [("alice@example.com", "wrong-password"), ("nobody@example.com", PASSWORD), ("ALICE@example.com", PASSWORD)]
    {
        let r = api.post(path, None, &json!({"identity": identity, "password": password}));
        assert_eq!(r.expect(400), error(400, AUTH_FAILED, json!({})), "{identity} / {password}");
    }

    // Missing keys.
    let r = api.post(path, None, &json!({}));
    let required =
        json!({"identity": field("validation_required", REQUIRED), "password": field("validation_required", REQUIRED)});
    assert_eq!(r.expect(400), error(400, VALIDATION, required));
    let r = api.post(path, None, &json!({"identity": "alice@example.com"}));
    assert_eq!(r.expect(400), error(400, VALIDATION, json!({"password": field("validation_required", REQUIRED)})));

    // A base collection is no auth collection.
    let r = api.post("/api/collections/posts/auth-with-password", None, &json!({"identity": "x", "password": "y"}));
    assert_eq!(r.expect(404), error(404, "Missing or invalid auth collection context.", json!({})));

    // `fields` applies to the whole response.
    let r = api.post(
        &format!("{path}?fields=token,record.id"),
        None,
        &json!({"identity": "alice@example.com", "password": PASSWORD}),
    );
    let r = r.expect(200);
    assert_eq!(keys(&r), ["record", "token"]);
    assert_eq!(r["record"], json!({"id": alice.id}));

    // auth-refresh: a new token with a later `exp` (tokens issued in the same second are equal).
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let refreshed = api.post("/api/collections/users/auth-refresh", Some(&alice.token), &json!({}));
    let refreshed = refreshed.expect(200);
    assert_eq!(keys(&refreshed), ["record", "token"]);
    assert_eq!(refreshed["record"]["id"], alice.id.as_str());
    assert_eq!(refreshed["record"]["email"], "alice@example.com");
    let new_token = refreshed["token"].as_str().unwrap();
    assert_ne!(new_token, alice.token);
    assert!(jwt_parts(new_token).1["exp"].as_i64() > jwt_parts(&alice.token).1["exp"].as_i64());
    // Both tokens still work.
    api.post("/api/collections/users/auth-refresh", Some(new_token), &json!({})).expect(200);

    // auth-refresh with no body at all, as the SDK sends it.
    let r = api.send("POST", "/api/collections/users/auth-refresh", &[("authorization", &alice.token)], None);
    r.expect(200);

    // No token, a garbage token, a token with a broken signature: 401.
    let mut forged = alice.token.clone();
    forged.pop();
    forged.push(if alice.token.ends_with('A') { 'B' } else { 'A' });
    for token in [None, Some("garbage"), Some(forged.as_str())] {
        let r = api.post("/api/collections/users/auth-refresh", token, &json!({}));
        assert_eq!(r.expect(401), error(401, NEEDS_AUTH, json!({})), "{token:?}");
    }
    // A superuser token is not a users token.
    let r = api.post("/api/collections/users/auth-refresh", Some(&api.admin()), &json!({}));
    assert_eq!(r.expect(401), error(401, NEEDS_AUTH, json!({})));

    // auth-methods as the SDK asks for it.
    let r = api.get("/api/collections/users/auth-methods?fields=mfa,otp,password,oauth2", None).expect(200);
    assert_eq!(
        r,
        json!({"mfa": {"enabled": false, "duration": 0}, "otp": {"enabled": false, "duration": 0},
               "password": {"identityFields": ["email"], "enabled": true},
               "oauth2": {"providers": [], "enabled": false}})
    );
    let r = api.get("/api/collections/users/auth-methods", None).expect(200);
    for key in ["mfa", "otp", "password", "oauth2", "authProviders", "usernamePassword", "emailPassword"] {
        assert!(r.get(key).is_some(), "auth-methods lacks {key}: {r}");
    }
}

#[test]
fn token_payload_and_authorization_header_forms() {
    let api = Api::start();
    let alice = api.user("alice@example.com", "Alice");

    let (header, payload) = jwt_parts(&alice.token);
    assert_eq!(header, json!({"alg": "HS256", "typ": "JWT"}));
    assert_eq!(keys(&payload), ["collectionId", "exp", "id", "refreshable", "type"]);
    assert_eq!(payload["collectionId"], users_id());
    assert_eq!(payload["id"], alice.id.as_str());
    assert_eq!(payload["refreshable"], true);
    assert_eq!(payload["type"], "auth");
    let exp = payload["exp"].as_i64().expect("exp is an integer");
    let expected = client::now_secs() + 432_000;
    assert!((expected - 60..=expected + 5).contains(&exp), "users tokens live 5 days: exp {exp}, expected ~{expected}");

    // Alice's unpublished post is visible only to her.
    let draft = api.post_of(&alice, "Draft", json!({"published": false}));
    let public = api.post_of(&alice, "Public", json!({"published": true}));

    // Bad tokens make the request anonymous: 200, only what anonymous callers see.
    let bad_tokens = [
        "garbage".to_owned(),
        format!("{}x", alice.token),
        "Bearer garbage".to_owned(),
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpZCI6IngifQ.c2ln".to_owned(),
    ];
    for token in &bad_tokens {
        assert_eq!(api.list_ids("posts", "", Some(token)), [&public], "token {token:?}");
    }
    assert_eq!(api.list_ids("posts", "", None), [&public]);

    // The raw token and `Bearer <token>` both authenticate.
    assert_eq!(api.list_ids("posts", "", Some(&alice.token)), [&draft, &public]);
    let bearer = format!("Bearer {}", alice.token);
    assert_eq!(api.list_ids("posts", "", Some(&bearer)), [&draft, &public]);
    api.get(&format!("/api/collections/posts/records/{draft}"), Some(&bearer)).expect(200);
    api.post("/api/collections/users/auth-refresh", Some(&bearer), &json!({})).expect(200);

    // A deleted user's token is no longer valid, and the user cannot sign in.
    let bob = api.user("bob@example.com", "Bob");
    let r = api.delete(&format!("/api/collections/users/records/{}", bob.id), Some(&bob.token));
    assert_eq!(r.status, 204, "{}", r.text);
    let r = api.post("/api/collections/users/auth-refresh", Some(&bob.token), &json!({}));
    assert_eq!(r.expect(401), error(401, NEEDS_AUTH, json!({})));
    let r = api.post(
        "/api/collections/users/auth-with-password",
        None,
        &json!({"identity": "bob@example.com", "password": PASSWORD}),
    );
    assert_eq!(r.expect(400), error(400, AUTH_FAILED, json!({})));
}

#[test]
fn password_change() {
    let api = Api::start();
    let alice = api.user("alice@example.com", "Alice");
    let path = format!("/api/collections/users/records/{}", alice.id);
    let new_password = "new-password-456";

    // oldPassword is required.
    let r = api.patch(&path, Some(&alice.token), &json!({"password": new_password, "passwordConfirm": new_password}));
    let body = r.expect(400);
    assert_eq!(body["message"], UPDATE_FAILED);
    assert_eq!(body["data"]["oldPassword"], field("validation_required", REQUIRED));

    // A wrong oldPassword fails.
    let r = api.patch(
        &path,
        Some(&alice.token),
        &json!({"oldPassword": "wrong-password", "password": new_password, "passwordConfirm": new_password}),
    );
    let body = r.expect(400);
    assert_eq!(body["message"], UPDATE_FAILED);
    assert!(body["data"].get("oldPassword").is_some(), "{body}");
    // ... and changed nothing.
    api.post("/api/collections/users/auth-refresh", Some(&alice.token), &json!({})).expect(200);

    // The owner may not set the email directly.
    let r = api.patch(&path, Some(&alice.token), &json!({"email": "other@example.com"}));
    assert_eq!(r.expect(400)["data"]["email"]["code"], "validation_values_mismatch");

    // A good change: 200 with the record, old tokens die, the new password signs in.
    let r = api.patch(
        &path,
        Some(&alice.token),
        &json!({"oldPassword": PASSWORD, "password": new_password, "passwordConfirm": new_password}),
    );
    let record = r.expect(200);
    assert_eq!(record["id"], alice.id.as_str());
    assert!(record.get("password").is_none() && record.get("oldPassword").is_none());
    let r = api.post("/api/collections/users/auth-refresh", Some(&alice.token), &json!({}));
    assert_eq!(r.expect(401), error(401, NEEDS_AUTH, json!({})));
    // The old token is ignored on lists (anonymous) rather than rejected.
    assert_eq!(api.list("users", "", Some(&alice.token))["totalItems"], 0);
    let r = api.post(
        "/api/collections/users/auth-with-password",
        None,
        &json!({"identity": "alice@example.com", "password": PASSWORD}),
    );
    assert_eq!(r.expect(400), error(400, AUTH_FAILED, json!({})));
    let token = api.login("users", "alice@example.com", new_password);
    api.post("/api/collections/users/auth-refresh", Some(&token), &json!({})).expect(200);
}

// --- records CRUD (§2, §3.1, §4) ---------------------------------------------------------------

#[test]
fn create_returns_the_full_record() {
    let api = Api::start();
    let alice = api.user("alice@example.com", "Alice");
    let body = json!({"title": "Hello", "body": "text", "published": true, "author": alice.id,
                      "tags": ["tech", "news"], "views": "12", "unknown": 1, "created": "2000-01-01 00:00:00.000Z"});
    let r = api.post("/api/collections/posts/records", Some(&alice.token), &body);
    let post = r.expect(200);
    assert_eq!(
        keys(&post),
        [
            "attachment",
            "author",
            "body",
            "collectionId",
            "collectionName",
            "comment_count",
            "created",
            "id",
            "published",
            "tags",
            "title",
            "updated",
            "views"
        ]
    );
    assert_id(&post["id"]);
    assert_datetime(&post["created"]);
    assert_datetime(&post["updated"]);
    assert_ne!(post["created"], "2000-01-01 00:00:00.000Z", "autodate values cannot be set");
    assert_eq!(post["collectionId"], posts_id());
    assert_eq!(post["collectionName"], "posts");
    assert_eq!(post["title"], "Hello");
    assert_eq!(post["body"], "text");
    assert_eq!(post["published"], true);
    assert_eq!(post["author"], alice.id.as_str());
    assert_eq!(post["tags"], json!(["tech", "news"]));
    assert_eq!(post["views"], 12);
    assert_eq!(post["attachment"], "");

    // Unset fields take their zero values.
    let bare = api.create("posts", &alice.token, json!({"title": "Bare", "author": alice.id}));
    assert_eq!(bare["body"], "");
    assert_eq!(bare["published"], false);
    assert_eq!(bare["tags"], json!([]));
    assert_eq!(bare["views"], 0);

    // A client-chosen id is kept; a bad one is refused.
    let mine = api.create("posts", &alice.token, json!({"id": "abcdefghij12345", "title": "Mine", "author": alice.id}));
    assert_eq!(mine["id"], "abcdefghij12345");
    let r = api.post(
        "/api/collections/posts/records",
        Some(&alice.token),
        &json!({"id": "short", "title": "x", "author": alice.id}),
    );
    assert_eq!(r.expect(400)["data"]["id"]["code"], "validation_min_text_constraint");

    // The view returns the same record.
    let id = post["id"].as_str().unwrap();
    let viewed = api.get(&format!("/api/collections/posts/records/{id}"), None).expect(200);
    assert_eq!(viewed, post);

    // A body that is not JSON.
    let r = api.send(
        "POST",
        "/api/collections/posts/records",
        &[("authorization", &alice.token), ("content-type", "application/json")],
        Some("{not json"),
    );
    assert_eq!(r.expect(400), error(400, BAD_REQUEST, json!({})));
}

/// Five posts (four of Alice, one unpublished; one of Bob), two comments.
struct ListFixture {
    api: Api,
    alice: client::User,
    hello: String,
    second: String,
    third: String,
    draft: String,
    bobs: String,
    on_hello: String,
    on_draft: String,
}

fn list_fixture() -> ListFixture {
    let api = Api::start();
    let alice = api.user("alice@example.com", "Alice");
    let bob = api.user("bob@example.com", "Bob");
    let hello = api.post_of(
        &alice,
        "Hello world",
        json!({"body": "body of abc one", "published": true, "tags": ["tech", "news"], "views": 5}),
    );
    let second =
        api.post_of(&alice, "Second", json!({"body": "another", "published": true, "tags": ["life"], "views": 20}));
    let third = api.post_of(&alice, "Third HELLO", json!({"published": true, "views": 11}));
    let draft = api.post_of(&alice, "Draft", json!({"published": false, "tags": ["tech"]}));
    let bobs = api.post_of(&bob, "Zebra", json!({"published": true, "views": 1}));
    let on_hello = api.comment_of(&alice, &hello, "nice");
    let on_draft = api.comment_on_draft(&alice, &alice, &draft, "wip");
    ListFixture { api, alice, hello, second, third, draft, bobs, on_hello, on_draft }
}

#[test]
fn list_envelope_paging_and_sorting() {
    let f = list_fixture();
    let (api, token) = (&f.api, Some(f.alice.token.as_str()));
    let all = [&f.hello, &f.second, &f.third, &f.draft, &f.bobs];

    let list = api.list("posts", "", token);
    assert_eq!(keys(&list), ["items", "page", "perPage", "totalItems", "totalPages"]);
    assert_eq!(list["page"], 1);
    assert_eq!(list["perPage"], 30);
    assert_eq!(list["totalItems"], 5);
    assert_eq!(list["totalPages"], 1);
    assert_eq!(ids(&list), all);
    assert_eq!(list["items"][0]["collectionName"], "posts");
    assert!(list["items"][0].get("expand").is_none());

    let list = api.list("posts", "perPage=2", token);
    assert_eq!(
        (list["perPage"].clone(), list["totalItems"].clone(), list["totalPages"].clone()),
        (json!(2), json!(5), json!(3))
    );
    assert_eq!(ids(&list), [&f.hello, &f.second]);
    let list = api.list("posts", "perPage=2&page=3", token);
    assert_eq!(list["page"], 3);
    assert_eq!(ids(&list), [&f.bobs]);

    // Past the end: no items, real totals.
    let list = api.list("posts", "perPage=2&page=10", token);
    assert_eq!(list, json!({"items": [], "page": 10, "perPage": 2, "totalItems": 5, "totalPages": 3}));

    assert_eq!(api.list("posts", "perPage=5000", token)["perPage"], 1000);
    assert_eq!(api.list("posts", "perPage=0", token)["perPage"], 30);
    assert_eq!(api.list("posts", "perPage=-3", token)["perPage"], 30);
    assert_eq!(api.list("posts", "page=0", token)["page"], 1);
    assert_eq!(api.list("posts", "page=-1", token)["page"], 1);
    for query in ["page=abc", "perPage=abc"] {
        let r = api.get(&format!("/api/collections/posts/records?{query}"), token);
        assert_eq!(r.expect(400), error(400, BAD_REQUEST, json!({})), "{query}");
    }

    for skip in ["1", "true"] {
        let list = api.list("posts", &format!("skipTotal={skip}&perPage=2"), token);
        assert_eq!(list["totalItems"], -1);
        assert_eq!(list["totalPages"], -1);
        assert_eq!(ids(&list), [&f.hello, &f.second]);
    }

    // Sorting.
    let reversed: Vec<&String> = all.iter().rev().copied().collect();
    assert_eq!(api.list_ids("posts", "sort=-created", token), reversed);
    assert_eq!(api.list_ids("posts", "sort=created", token), all);
    // Titles: Draft, Hello world, Second, Third HELLO, Zebra.
    let by_title = [&f.draft, &f.hello, &f.second, &f.third, &f.bobs];
    assert_eq!(api.list_ids("posts", "sort=title", token), by_title);
    assert_eq!(api.list_ids("posts", "sort=%2Btitle", token), by_title);
    assert_eq!(api.list_ids("posts", "sort=-views,title", token), [&f.second, &f.third, &f.hello, &f.bobs, &f.draft]);
    // Through a relation: Alice's posts, then Bob's. As a superuser, so no rule hides users.
    let admin = api.admin();
    assert_eq!(
        api.list_ids("posts", "sort=-author.name,title", Some(&admin)),
        [&f.bobs, &f.draft, &f.hello, &f.second, &f.third]
    );
    assert_eq!(
        api.list_ids("posts", "sort=author.name,-title", Some(&admin)),
        [&f.third, &f.second, &f.hello, &f.draft, &f.bobs]
    );
    for sort in ["nope", "-nope", "author.nope", "title.name"] {
        let r = api.get(&format!("/api/collections/posts/records?sort={}", enc(sort)), token);
        assert_eq!(r.expect(400), error(400, BAD_REQUEST, json!({})), "sort={sort}");
    }
    let r = api.get(&format!("/api/collections/posts/records?sort={}", enc("@request.auth.id")), token);
    assert_eq!(r.expect(403), error(403, "Only superusers can filter by @request.", json!({})));
}

#[test]
fn list_filters() {
    let f = list_fixture();
    let (api, token) = (&f.api, Some(f.alice.token.as_str()));
    let filter = |expr: &str| api.list_ids("posts", &format!("filter={}", enc(expr)), token);

    assert_eq!(filter(r#"tags ?= "tech""#), [&f.hello, &f.draft]);
    assert_eq!(filter(r#"tags ~ "tech""#), [&f.hello, &f.draft]);
    assert_eq!(filter("views > 10"), [&f.second, &f.third]);
    assert_eq!(filter(r#"views > "10""#), [&f.second, &f.third]);
    assert_eq!(filter(r#"title ~ "hel""#), [&f.hello, &f.third]);
    assert_eq!(filter(r#"title !~ "hel""#), [&f.second, &f.draft, &f.bobs]);
    assert_eq!(filter("published = false"), [&f.draft]);
    assert_eq!(filter(r#"published = true && views < 10"#), [&f.hello, &f.bobs]);
    assert_eq!(filter(r#"(title = "Second" || title = "Zebra") && views >= 1"#), [&f.second, &f.bobs]);
    assert_eq!(filter(&format!(r#"author = "{}""#, f.alice.id)), [&f.hello, &f.second, &f.third, &f.draft]);
    assert_eq!(filter(r#"body = null"#), [&f.third, &f.draft, &f.bobs]);
    assert_eq!(filter(r#"tags:length = 2"#), [&f.hello]);
    assert_eq!(filter("title = \"Draft\" // a comment"), [&f.draft]);
    // Totals count the filtered rows.
    let list = api.list("posts", &format!("filter={}&perPage=1", enc("views > 10")), token);
    assert_eq!((list["totalItems"].clone(), list["totalPages"].clone()), (json!(2), json!(2)));

    // Through a relation, on comments.
    let comments = |expr: &str| api.list_ids("comments", &format!("filter={}", enc(expr)), token);
    assert_eq!(comments("post.published = true"), [&f.on_hello]);
    assert_eq!(comments("post.published = false"), [&f.on_draft]);
    assert_eq!(comments(r#"post.title ~ "hello""#), [&f.on_hello]);
    // Back-relation, on posts.
    assert_eq!(filter(r#"comments_via_post.text ?= "wip""#), [&f.draft]);

    // Errors.
    for bad in
        ["title = ", "title ==", "(views > 1", "nope = 1", "author.nope = 1", "title = 5", r#"published = "false""#]
    {
        let r = api.get(&format!("/api/collections/posts/records?filter={}", enc(bad)), token);
        assert_eq!(r.expect(400), error(400, BAD_REQUEST, json!({})), "filter {bad:?}");
    }
    let too_long = format!("title = \"{}\"", "x".repeat(3500));
    let r = api.get(&format!("/api/collections/posts/records?filter={}", enc(&too_long)), token);
    assert_eq!(r.expect(400), error(400, BAD_REQUEST, json!({})));

    let r = api.get(&format!("/api/collections/posts/records?filter={}", enc("author = @request.auth.id")), token);
    assert_eq!(r.expect(403), error(403, "Only superusers can filter by @request.", json!({})));
    let r = api.get(&format!("/api/collections/posts/records?filter={}", enc(r#"@request.auth.id != """#)), None);
    assert_eq!(r.expect(403), error(403, "Only superusers can filter by @request.", json!({})));
    let r = api
        .get(&format!("/api/collections/posts/records?filter={}", enc(r#"@collection.users.name ?= "Alice""#)), token);
    assert_eq!(r.expect(403), error(403, "Only superusers can filter by @collection.", json!({})));

    // A superuser may use @request in a filter.
    let admin = api.admin();
    let list = api.list("posts", &format!("filter={}", enc(r#"@request.auth.id != """#)), Some(&admin));
    assert_eq!(list["totalItems"], 5);
}

#[test]
fn fields_and_expand() {
    let f = list_fixture();
    let (api, token) = (&f.api, Some(f.alice.token.as_str()));

    // fields on lists applies to the items, not to the envelope.
    let list = api.list("posts", "fields=id,title&perPage=2", token);
    assert_eq!(keys(&list), ["items", "page", "perPage", "totalItems", "totalPages"]);
    assert_eq!(list["items"], json!([{"id": f.hello, "title": "Hello world"}, {"id": f.second, "title": "Second"}]));
    let view = |id: &str, query: &str, token: Option<&str>| {
        api.get(&format!("/api/collections/posts/records/{id}?{query}"), token).expect(200)
    };
    assert_eq!(view(&f.hello, "fields=body:excerpt(4,true)", None), json!({"body": "body..."}));
    assert_eq!(view(&f.hello, "fields=id,body:excerpt(4,false)", None), json!({"id": f.hello, "body": "body"}));
    let all = view(&f.hello, "fields=*", None);
    assert_eq!(all, view(&f.hello, "", None));

    // expand=author: the owner sees the author (users' view rule is id = @request.auth.id).
    let post = view(&f.hello, "expand=author", token);
    assert_eq!(keys(&post["expand"]), ["author"]);
    assert_eq!(post["expand"]["author"]["id"], f.alice.id.as_str());
    assert_eq!(post["expand"]["author"]["name"], "Alice");
    assert_eq!(post["expand"]["author"]["email"], "alice@example.com");
    assert_eq!(post["expand"]["author"]["collectionName"], "users");
    assert_eq!(post["author"], f.alice.id.as_str());
    // Anonymous: the record, with an empty expand.
    assert_eq!(view(&f.hello, "expand=author", None)["expand"], json!({}));
    // An unknown path: no expand key at all; with a valid one beside it, the valid part.
    assert!(view(&f.hello, "expand=nope", token).get("expand").is_none());
    let post = view(&f.hello, "expand=author,nope", token);
    assert_eq!(keys(&post["expand"]), ["author"]);
    // fields reaching into expand.
    let post = view(&f.hello, "expand=author&fields=id,expand.author.name", token);
    assert_eq!(post, json!({"id": f.hello, "expand": {"author": {"name": "Alice"}}}));

    // On lists: every item expanded.
    let list = api.list("posts", "expand=author&perPage=2", token);
    for item in list["items"].as_array().unwrap() {
        assert_eq!(item["expand"]["author"]["id"], f.alice.id.as_str());
    }
    // Bob's author is hidden from Alice: expand {} on that item.
    let list = api.list("posts", &format!("expand=author&filter={}", enc(r#"title = "Zebra""#)), token);
    assert_eq!(list["items"][0]["expand"], json!({}));

    // Nested expand on comments.
    let comment =
        api.get(&format!("/api/collections/comments/records/{}?expand=post.author", f.on_hello), token).expect(200);
    assert_eq!(comment["expand"]["post"]["id"], f.hello.as_str());
    assert_eq!(comment["expand"]["post"]["expand"]["author"]["id"], f.alice.id.as_str());
    // Anonymous: the post (published) expands, its author does not.
    let comment =
        api.get(&format!("/api/collections/comments/records/{}?expand=post.author", f.on_hello), None).expect(200);
    assert_eq!(comment["expand"]["post"]["id"], f.hello.as_str());
    assert_eq!(comment["expand"]["post"]["expand"], json!({}));

    // Back-relation: an array.
    let post = view(&f.hello, "expand=comments_via_post", token);
    let expanded = post["expand"]["comments_via_post"].as_array().expect("an array");
    assert_eq!(expanded.len(), 1);
    assert_eq!(expanded[0]["id"], f.on_hello.as_str());
    assert_eq!(expanded[0]["text"], "nice");
    assert_eq!(expanded[0]["collectionName"], "comments");
    // A post without comments: nothing to expand.
    assert_eq!(view(&f.second, "expand=comments_via_post", token)["expand"], json!({}));
}

#[test]
fn view_update_and_modifiers() {
    let api = Api::start();
    let alice = api.user("alice@example.com", "Alice");
    let id =
        api.post_of(&alice, "Hello", json!({"body": "text", "published": true, "tags": ["tech", "news"], "views": 5}));
    let path = format!("/api/collections/posts/records/{id}");
    let token = Some(alice.token.as_str());

    // Missing records.
    let r = api.get("/api/collections/posts/records/aaaaaaaaaaaaaaa", token);
    assert_eq!(r.expect(404), error(404, NOT_FOUND, json!({})));
    let r = api.patch("/api/collections/posts/records/aaaaaaaaaaaaaaa", token, &json!({"title": "x"}));
    assert_eq!(r.expect(404), error(404, NOT_FOUND, json!({})));
    let r = api.delete("/api/collections/posts/records/aaaaaaaaaaaaaaa", token);
    assert_eq!(r.expect(404), error(404, NOT_FOUND, json!({})));

    let before = api.get(&path, token).expect(200);
    std::thread::sleep(std::time::Duration::from_millis(5));

    // A partial update: untouched fields stay.
    let after = api.patch(&path, token, &json!({"title": "Hello again"})).expect(200);
    assert_eq!(after["title"], "Hello again");
    assert_eq!(after["body"], "text");
    assert_eq!(after["tags"], json!(["tech", "news"]));
    assert_eq!(after["views"], 5);
    assert_eq!(after["created"], before["created"]);
    assert_datetime(&after["updated"]);
    assert!(
        after["updated"].as_str() > before["updated"].as_str(),
        "updated moves: {} -> {}",
        before["updated"],
        after["updated"]
    );
    assert_eq!(api.get(&path, token).expect(200), after);

    // Number modifiers.
    assert_eq!(api.patch(&path, token, &json!({"views+": 3})).expect(200)["views"], 8);
    assert_eq!(api.patch(&path, token, &json!({"views-": 2})).expect(200)["views"], 6);
    let r = api.patch(&path, token, &json!({"views-": 100}));
    assert_eq!(
        r.expect(400),
        error(
            400,
            UPDATE_FAILED,
            json!({"views": {"code": "validation_min_number_constraint", "message": "Must be greater or equal than 0.", "params": {"min": 0}}})
        )
    );
    assert_eq!(api.get(&path, token).expect(200)["views"], 6);

    // List modifiers.
    assert_eq!(api.patch(&path, token, &json!({"tags-": "news"})).expect(200)["tags"], json!(["tech"]));
    assert_eq!(api.patch(&path, token, &json!({"tags+": "life"})).expect(200)["tags"], json!(["tech", "life"]));
    assert_eq!(api.patch(&path, token, &json!({"+tags": "news"})).expect(200)["tags"], json!(["news", "tech", "life"]));
    assert_eq!(api.patch(&path, token, &json!({"tags-": ["news", "life"]})).expect(200)["tags"], json!(["tech"]));
    assert_eq!(
        api.patch(&path, token, &json!({"tags+": ["news", "life"]})).expect(200)["tags"],
        json!(["tech", "news", "life"])
    );
    // Several at once.
    let r = api.patch(&path, token, &json!({"views+": 4, "tags-": "tech", "title": "Combined"})).expect(200);
    assert_eq!(
        (r["views"].clone(), r["tags"].clone(), r["title"].clone()),
        (json!(10), json!(["news", "life"]), json!("Combined"))
    );
    // An invalid appended value.
    let r = api.patch(&path, token, &json!({"tags+": "sports"}));
    let body = r.expect(400);
    assert_eq!(body["message"], UPDATE_FAILED);
    assert_eq!(body["data"]["tags"]["code"], "validation_invalid_value");
    // `+` on a text field does nothing.
    assert_eq!(api.patch(&path, token, &json!({"body+": "more"})).expect(200)["body"], "text");

    // Validation on update.
    let r = api.patch(&path, token, &json!({"title": ""}));
    assert_eq!(r.expect(400), error(400, UPDATE_FAILED, json!({"title": field("validation_required", REQUIRED)})));

    // The primary key cannot change.
    let r = api.patch(&path, token, &json!({"id": "abcdefghij12345"}));
    assert_eq!(
        r.expect(400),
        error(
            400,
            UPDATE_FAILED,
            json!({"id": field("validation_pk_change", "The record primary key cannot be changed.")})
        )
    );

    // fields/expand on update responses.
    let r = api.patch(&format!("{path}?fields=id,views&expand=author"), token, &json!({"views": 1})).expect(200);
    assert_eq!(r, json!({"id": id, "views": 1}));
    let r = api.patch(&format!("{path}?expand=author"), token, &json!({"views": 2})).expect(200);
    assert_eq!(r["expand"]["author"]["id"], alice.id.as_str());

    // Delete: 204 with an empty body; then gone.
    let r = api.delete(&path, token);
    assert_eq!(r.status, 204);
    assert_eq!(r.text, "");
    assert_eq!(api.get(&path, token).expect(404), error(404, NOT_FOUND, json!({})));
    assert_eq!(api.delete(&path, token).expect(404), error(404, NOT_FOUND, json!({})));
}

#[test]
fn delete_of_required_relation_targets_and_unknown_collections() {
    let api = Api::start();
    let alice = api.user("alice@example.com", "Alice");
    let post = api.post_of(&alice, "Hello", json!({"published": true}));
    let comment = api.comment_of(&alice, &post, "first");

    // A user that a post's required relation references.
    let r = api.delete(&format!("/api/collections/users/records/{}", alice.id), Some(&alice.token));
    assert_eq!(r.expect(400), error(400, DELETE_REFERENCED, json!({})));
    // A post that a comment references.
    let r = api.delete(&format!("/api/collections/posts/records/{post}"), Some(&alice.token));
    assert_eq!(r.expect(400), error(400, DELETE_REFERENCED, json!({})));
    // Nothing was deleted.
    api.get(&format!("/api/collections/posts/records/{post}"), None).expect(200);
    api.post("/api/collections/users/auth-refresh", Some(&alice.token), &json!({})).expect(200);

    // Once the references are gone, the deletes pass.
    assert_eq!(api.delete(&format!("/api/collections/comments/records/{comment}"), Some(&alice.token)).status, 204);
    assert_eq!(api.delete(&format!("/api/collections/posts/records/{post}"), Some(&alice.token)).status, 204);
    let r = api.delete(&format!("/api/collections/users/records/{}", alice.id), Some(&alice.token));
    assert_eq!(r.status, 204, "{}", r.text);

    // Unknown collections.
    let r = api.get("/api/collections/nope/records", None);
    assert_eq!(r.expect(404), error(404, "Missing collection context.", json!({})));
    let r = api.get("/api/collections/nope/records/aaaaaaaaaaaaaaa", None);
    assert_eq!(r.expect(404), error(404, "Missing collection context.", json!({})));
    let r = api.post("/api/collections/nope/records", None, &json!({"title": "x"}));
    assert_eq!(r.expect(404), error(404, "Missing or invalid collection context.", json!({})));
    let r = api.patch("/api/collections/nope/records/aaaaaaaaaaaaaaa", None, &json!({"title": "x"}));
    assert_eq!(r.expect(404), error(404, "Missing or invalid collection context.", json!({})));
    let r = api.delete("/api/collections/nope/records/aaaaaaaaaaaaaaa", None);
    assert_eq!(r.expect(404), error(404, "Missing or invalid collection context.", json!({})));
}

// --- validation (§5) ---------------------------------------------------------------------------

#[test]
fn validation_reports_every_failing_field() {
    let api = Api::start();
    let alice = api.user("alice@example.com", "Alice");
    let path = "/api/collections/posts/records";
    let token = Some(alice.token.as_str());

    let r = api.post(path, token, &json!({"author": alice.id, "views": -1, "tags": ["tech", "sports"]}));
    assert_eq!(
        r.expect(400),
        error(
            400,
            CREATE_FAILED,
            json!({
                "title": {"code": "validation_required", "message": "Cannot be blank."},
                "views": {"code": "validation_min_number_constraint", "message": "Must be greater or equal than 0.", "params": {"min": 0}},
                "tags": {"code": "validation_invalid_value", "message": "Invalid value sports.", "params": {"value": "sports"}},
            })
        )
    );

    let r = api.post(path, token, &json!({"title": "x".repeat(201), "author": alice.id, "views": 1.5}));
    assert_eq!(
        r.expect(400),
        error(
            400,
            CREATE_FAILED,
            json!({
                "title": {"code": "validation_max_text_constraint", "message": "Must be no more than 200 character(s).", "params": {"max": 200}},
                "views": {"code": "validation_only_int_constraint", "message": "Decimal numbers are not allowed."},
            })
        )
    );
    // 200 characters (multi-byte ones count once) is fine.
    let ok = api.create("posts", &alice.token, json!({"title": "é".repeat(200), "author": alice.id}));
    assert_eq!(ok["title"].as_str().unwrap().chars().count(), 200);

    // As a superuser the rule is bypassed, so relation problems show.
    let admin = api.admin();
    let r = api.post(path, Some(&admin), &json!({"title": "t"}));
    assert_eq!(r.expect(400), error(400, CREATE_FAILED, json!({"author": field("validation_required", REQUIRED)})));
    let r = api.post(path, Some(&admin), &json!({"title": "t", "author": "aaaaaaaaaaaaaaa"}));
    assert_eq!(
        r.expect(400),
        error(
            400,
            CREATE_FAILED,
            json!({"author": field("validation_missing_rel_records", "Failed to find all relation records with the provided ids.")})
        )
    );
    // A superuser may create a post for anyone.
    let post = api.create("posts", &admin, json!({"title": "By admin", "author": alice.id}));
    assert_eq!(post["author"], alice.id.as_str());

    // Comments: both required fields.
    let r = api.post("/api/collections/comments/records", token, &json!({"author": alice.id}));
    assert_eq!(
        r.expect(400),
        error(
            400,
            CREATE_FAILED,
            json!({"post": field("validation_required", REQUIRED), "text": field("validation_required", REQUIRED)})
        )
    );
}

// --- rules (§6) --------------------------------------------------------------------------------

struct RulesFixture {
    api: Api,
    alice: client::User,
    bob: client::User,
    admin: String,
    /// Alice's unpublished post.
    draft: String,
    /// Alice's published post.
    public: String,
    /// Bob's published post.
    bobs: String,
}

fn rules_fixture() -> RulesFixture {
    let api = Api::start();
    let alice = api.user("alice@example.com", "Alice");
    let bob = api.user("bob@example.com", "Bob");
    let admin = api.admin();
    let draft = api.post_of(&alice, "Alice draft", json!({"published": false}));
    let public = api.post_of(&alice, "Alice public", json!({"published": true}));
    let bobs = api.post_of(&bob, "Bob public", json!({"published": true}));
    RulesFixture { api, alice, bob, admin, draft, public, bobs }
}

#[test]
fn rules_list_and_view_of_posts() {
    let f = rules_fixture();
    let api = &f.api;

    // Lists filter silently; totals count only visible rows.
    let anon = api.list("posts", "", None);
    assert_eq!(ids(&anon), [&f.public, &f.bobs]);
    assert_eq!((anon["totalItems"].clone(), anon["totalPages"].clone()), (json!(2), json!(1)));
    let bob = api.list("posts", "perPage=1", Some(&f.bob.token));
    assert_eq!(ids(&bob), [&f.public]);
    assert_eq!((bob["totalItems"].clone(), bob["totalPages"].clone()), (json!(2), json!(2)));
    assert_eq!(api.list_ids("posts", "", Some(&f.alice.token)), [&f.draft, &f.public, &f.bobs]);
    assert_eq!(api.list("posts", "", Some(&f.alice.token))["totalItems"], 3);
    assert_eq!(api.list_ids("posts", "", Some(&f.admin)), [&f.draft, &f.public, &f.bobs]);
    // A filter cannot widen the rule.
    let q = format!("filter={}", enc("published = false"));
    assert_eq!(
        api.list("posts", &q, None),
        json!({"items": [], "page": 1, "perPage": 30, "totalItems": 0, "totalPages": 0})
    );
    assert!(api.list_ids("posts", &q, Some(&f.bob.token)).0.is_empty());
    assert_eq!(api.list_ids("posts", &q, Some(&f.alice.token)), [&f.draft]);

    // View: hidden is the same 404 as missing.
    let path = format!("/api/collections/posts/records/{}", f.draft);
    assert_eq!(api.get(&path, None).expect(404), error(404, NOT_FOUND, json!({})));
    assert_eq!(api.get(&path, Some(&f.bob.token)).expect(404), error(404, NOT_FOUND, json!({})));
    assert_eq!(api.get(&path, Some(&f.alice.token)).expect(200)["id"], f.draft.as_str());
    assert_eq!(api.get(&path, Some(&f.admin)).expect(200)["id"], f.draft.as_str());
    api.get(&format!("/api/collections/posts/records/{}", f.public), None).expect(200);
    api.get(&format!("/api/collections/posts/records/{}", f.bobs), Some(&f.alice.token)).expect(200);
}

#[test]
fn rules_update_and_delete_of_posts() {
    let f = rules_fixture();
    let api = &f.api;

    // Bob cannot touch Alice's posts, published or not: 404 as if missing.
    for id in [&f.draft, &f.public] {
        let path = format!("/api/collections/posts/records/{id}");
        let r = api.patch(&path, Some(&f.bob.token), &json!({"title": "hijacked"}));
        assert_eq!(r.expect(404), error(404, NOT_FOUND, json!({})));
        let r = api.patch(&path, None, &json!({"title": "hijacked"}));
        assert_eq!(r.expect(404), error(404, NOT_FOUND, json!({})));
        let r = api.delete(&path, Some(&f.bob.token));
        assert_eq!(r.expect(404), error(404, NOT_FOUND, json!({})));
        let r = api.delete(&path, None);
        assert_eq!(r.expect(404), error(404, NOT_FOUND, json!({})));
        // Even an invalid body: the rule first.
        let r = api.patch(&path, Some(&f.bob.token), &json!({"title": ""}));
        assert_eq!(r.expect(404), error(404, NOT_FOUND, json!({})));
    }
    assert_eq!(
        api.get(&format!("/api/collections/posts/records/{}", f.public), None).expect(200)["title"],
        "Alice public"
    );

    // The owner and a superuser can.
    let path = format!("/api/collections/posts/records/{}", f.public);
    assert_eq!(api.patch(&path, Some(&f.alice.token), &json!({"title": "Edited"})).expect(200)["title"], "Edited");
    assert_eq!(api.patch(&path, Some(&f.admin), &json!({"views+": 1})).expect(200)["views"], 1);
    // The update rule looks at the stored record: the owner can hand the post to Bob...
    let r = api.patch(&path, Some(&f.alice.token), &json!({"author": f.bob.id})).expect(200);
    assert_eq!(r["author"], f.bob.id.as_str());
    // ... after which it is Bob's.
    let r = api.patch(&path, Some(&f.alice.token), &json!({"title": "mine again?"}));
    assert_eq!(r.expect(404), error(404, NOT_FOUND, json!({})));
    api.patch(&path, Some(&f.bob.token), &json!({"title": "Bob's now"})).expect(200);

    assert_eq!(api.delete(&format!("/api/collections/posts/records/{}", f.draft), Some(&f.admin)).status, 204);
    assert_eq!(api.delete(&format!("/api/collections/posts/records/{}", f.bobs), Some(&f.bob.token)).status, 204);
    assert_eq!(api.list_ids("posts", "", Some(&f.admin)), [&f.public]);
}

#[test]
fn rules_create_failures_are_400_with_empty_data() {
    let f = rules_fixture();
    let api = &f.api;
    let path = "/api/collections/posts/records";
    let rule_failure = error(400, CREATE_FAILED, json!({}));

    // Anonymous: a 400, never 401/403.
    let r = api.post(path, None, &json!({"title": "anon", "author": f.alice.id}));
    assert_eq!(r.expect(400), rule_failure);
    let r = api.post(path, None, &json!({}));
    assert_eq!(r.expect(400), rule_failure);
    // For someone else.
    let r = api.post(path, Some(&f.bob.token), &json!({"title": "forged", "author": f.alice.id}));
    assert_eq!(r.expect(400), rule_failure);
    // Invalid body and failing rule: the rule failure.
    let r = api.post(path, Some(&f.bob.token), &json!({"author": f.alice.id, "views": -1, "tags": ["sports"]}));
    assert_eq!(r.expect(400), rule_failure);
    let r = api.post(path, None, &json!({"title": "x".repeat(300)}));
    assert_eq!(r.expect(400), rule_failure);
    // Invalid body and passing rule: the field errors.
    let r = api.post(path, Some(&f.bob.token), &json!({"author": f.bob.id, "views": -1}));
    let body = r.expect(400);
    assert_eq!(body["message"], CREATE_FAILED);
    assert_eq!(keys(&body["data"]), ["title", "views"]);
    // Nothing was created.
    assert_eq!(api.list("posts", "", Some(&f.admin))["totalItems"], 3);

    // Comments: the same rule shape.
    let comments = "/api/collections/comments/records";
    let r = api.post(comments, None, &json!({"post": f.public, "author": f.alice.id, "text": "hi"}));
    assert_eq!(r.expect(400), rule_failure);
    let r = api.post(comments, Some(&f.bob.token), &json!({"post": f.public, "author": f.alice.id, "text": "hi"}));
    assert_eq!(r.expect(400), rule_failure);
}

#[test]
fn rules_on_users() {
    let f = rules_fixture();
    let api = &f.api;

    // Users see only themselves, with their email.
    let list = api.list("users", "", Some(&f.alice.token));
    assert_eq!(ids(&list), [&f.alice.id]);
    assert_eq!(list["totalItems"], 1);
    assert_eq!(list["items"][0]["email"], "alice@example.com");
    assert_eq!(api.list("users", "", None)["totalItems"], 0);
    let r = api.get(&format!("/api/collections/users/records/{}", f.bob.id), Some(&f.alice.token));
    assert_eq!(r.expect(404), error(404, NOT_FOUND, json!({})));
    let me = api.get(&format!("/api/collections/users/records/{}", f.alice.id), Some(&f.alice.token)).expect(200);
    assert_eq!(me["email"], "alice@example.com");
    assert!(me.get("password").is_none() && me.get("tokenKey").is_none());

    // A superuser sees everyone, emails included.
    let list = api.list("users", "sort=name", Some(&f.admin));
    assert_eq!(ids(&list), [&f.alice.id, &f.bob.id]);
    assert_eq!(list["items"][0]["email"], "alice@example.com");
    assert_eq!(list["items"][1]["email"], "bob@example.com");
    for item in list["items"].as_array().unwrap() {
        assert!(item.get("password").is_none() && item.get("tokenKey").is_none(), "{item}");
    }

    // Users cannot update or delete each other.
    let path = format!("/api/collections/users/records/{}", f.bob.id);
    assert_eq!(
        api.patch(&path, Some(&f.alice.token), &json!({"name": "x"})).expect(404),
        error(404, NOT_FOUND, json!({}))
    );
    assert_eq!(api.delete(&path, Some(&f.alice.token)).expect(404), error(404, NOT_FOUND, json!({})));
    // Themselves, yes.
    let path = format!("/api/collections/users/records/{}", f.alice.id);
    assert_eq!(api.patch(&path, Some(&f.alice.token), &json!({"name": "Alicia"})).expect(200)["name"], "Alicia");
    // A superuser may set another user's password without oldPassword.
    let r = api.patch(
        &format!("/api/collections/users/records/{}", f.bob.id),
        Some(&f.admin),
        &json!({"password": "reset-by-admin", "passwordConfirm": "reset-by-admin"}),
    );
    r.expect(200);
    api.login("users", "bob@example.com", "reset-by-admin");
}

#[test]
fn superusers_collection() {
    let f = rules_fixture();
    let api = &f.api;
    let path = "/api/collections/_superusers/records";
    let forbidden = error(403, SUPERUSERS_ONLY, json!({}));

    for token in [None, Some(f.alice.token.as_str())] {
        assert_eq!(api.get(path, token).expect(403), forbidden, "list as {token:?}");
        let r = api.post(
            path,
            token,
            &json!({"email": "x@example.com", "password": PASSWORD, "passwordConfirm": PASSWORD}),
        );
        assert_eq!(r.expect(403), forbidden, "create as {token:?}");
    }

    // Superuser auth.
    let r = api.post(
        "/api/collections/_superusers/auth-with-password",
        None,
        &json!({"identity": support::ADMIN_EMAIL, "password": support::ADMIN_PASSWORD}),
    );
    let auth = r.expect(200);
    assert_eq!(auth["record"]["email"], support::ADMIN_EMAIL);
    assert_eq!(auth["record"]["collectionId"], "pbc_3142635823");
    assert_eq!(auth["record"]["collectionName"], "_superusers");
    let (_, payload) = jwt_parts(auth["token"].as_str().unwrap());
    assert_eq!(keys(&payload), ["collectionId", "exp", "id", "refreshable", "type"]);
    assert_eq!(payload["collectionId"], "pbc_3142635823");
    assert_eq!(payload["type"], "auth");
    assert_eq!(payload["id"], auth["record"]["id"]);
    let exp = payload["exp"].as_i64().unwrap();
    let expected = client::now_secs() + 86_400;
    assert!((expected - 60..=expected + 5).contains(&exp), "superuser tokens live 1 day: exp {exp}");

    // A user's credentials do not work there, nor a wrong password.
    for (identity, password) in [("alice@example.com", PASSWORD), (support::ADMIN_EMAIL, "wrong-password")] {
        let r = api.post(
            "/api/collections/_superusers/auth-with-password",
            None,
            &json!({"identity": identity, "password": password}),
        );
        assert_eq!(r.expect(400), error(400, AUTH_FAILED, json!({})));
    }

    // The superuser lists and views superusers.
    let token = auth["token"].as_str().unwrap();
    let list = api.list("_superusers", "", Some(token));
    assert_eq!(list["totalItems"], 1);
    assert_eq!(list["items"][0]["email"], support::ADMIN_EMAIL);
    assert_eq!(list["items"][0]["collectionId"], "pbc_3142635823");
    let id = list["items"][0]["id"].as_str().unwrap();
    api.get(&format!("{path}/{id}"), Some(token)).expect(200);
    let r = api.get(&format!("{path}/{id}"), Some(&f.alice.token));
    assert_eq!(r.expect(403), forbidden);
    api.post("/api/collections/_superusers/auth-refresh", Some(token), &json!({})).expect(200);
    let r = api.post("/api/collections/_superusers/auth-refresh", Some(&f.alice.token), &json!({}));
    assert_eq!(r.expect(401), error(401, NEEDS_AUTH, json!({})));
}

#[test]
fn comments_rules_through_the_post() {
    let f = rules_fixture();
    let api = &f.api;
    // Bob comments on Alice's published and unpublished posts (the latter while it is
    // published for a moment), and Alice on Bob's.
    let on_public = api.comment_of(&f.bob, &f.public, "on public");
    let on_draft = api.comment_on_draft(&f.alice, &f.bob, &f.draft, "on draft");
    let on_bobs = api.comment_of(&f.alice, &f.bobs, "on bob's");

    assert_eq!(api.list_ids("comments", "", None), [&on_public, &on_bobs]);
    assert_eq!(api.list("comments", "", None)["totalItems"], 2);
    // Bob wrote the comment on the draft, but the rule follows the post.
    assert_eq!(api.list_ids("comments", "", Some(&f.bob.token)), [&on_public, &on_bobs]);
    assert_eq!(api.list_ids("comments", "", Some(&f.alice.token)), [&on_public, &on_draft, &on_bobs]);
    assert_eq!(api.list_ids("comments", "", Some(&f.admin)), [&on_public, &on_draft, &on_bobs]);

    let path = format!("/api/collections/comments/records/{on_draft}");
    assert_eq!(api.get(&path, None).expect(404), error(404, NOT_FOUND, json!({})));
    assert_eq!(api.get(&path, Some(&f.bob.token)).expect(404), error(404, NOT_FOUND, json!({})));
    assert_eq!(api.get(&path, Some(&f.alice.token)).expect(200)["text"], "on draft");
    api.get(&format!("/api/collections/comments/records/{on_public}"), None).expect(200);

    // Expanding the draft through Bob's comment: Alice sees it, a superuser too.
    let r = api.get(&format!("{path}?expand=post"), Some(&f.alice.token)).expect(200);
    assert_eq!(r["expand"]["post"]["id"], f.draft.as_str());
    // Back-relation from Alice's draft, as Alice: Bob's comment is there.
    let r =
        api.get(&format!("/api/collections/posts/records/{}?expand=comments_via_post", f.draft), Some(&f.alice.token));
    assert_eq!(ids(&json!({"items": r.expect(200)["expand"]["comments_via_post"]})), [&on_draft]);

    // Publishing the post makes its comments public.
    api.patch(
        &format!("/api/collections/posts/records/{}", f.draft),
        Some(&f.alice.token),
        &json!({"published": true}),
    )
    .expect(200);
    assert_eq!(api.list_ids("comments", "", None), [&on_public, &on_draft, &on_bobs]);
}

// --- smaller details of the protocol -----------------------------------------------------------

#[test]
fn collections_by_id_coercion_and_multipart() {
    let api = Api::start();
    let alice = api.user("alice@example.com", "Alice");
    let token = Some(alice.token.as_str());
    let by_id = format!("/api/collections/{}/records", posts_id());

    // `{c}` may be the collection id wherever a name is accepted.
    let post = api.post(&by_id, token, &json!({"title": "By id", "author": alice.id, "published": true})).expect(200);
    assert_eq!(post["collectionName"], "posts");
    let id = post["id"].as_str().unwrap();
    assert_eq!(api.get(&format!("{by_id}/{id}"), None).expect(200)["title"], "By id");
    assert_eq!(ids(&api.get(&by_id, None).expect(200)), [id.to_owned()]);
    let users_by_id = format!("/api/collections/{}/auth-with-password", users_id());
    api.post(&users_by_id, None, &json!({"identity": "alice@example.com", "password": PASSWORD})).expect(200);

    // JSON input coercion (§2.2): strings to numbers and bools, objects to "" in text fields,
    // the last element of an array for a single relation, unknown keys ignored.
    let r = api
        .post(
            "/api/collections/posts/records",
            token,
            &json!({"title": "Coerced", "author": [alice.id], "views": "7", "published": "true",
                    "body": {"an": "object"}, "nope": 1}),
        )
        .expect(200);
    assert_eq!((r["views"].clone(), r["published"].clone(), r["body"].clone()), (json!(7), json!(true), json!("")));
    assert_eq!(r["author"], alice.id.as_str());
    assert!(r.get("nope").is_none());
    // A single string for a multiple select.
    let r = api.create("posts", &alice.token, json!({"title": "One tag", "author": alice.id, "tags": "life"}));
    assert_eq!(r["tags"], json!(["life"]));

    // Multipart (§3.1): plain parts are inferred, @jsonPayload parts merged.
    let boundary = "----baas-e2e-boundary";
    let mut body = String::new();
    for (name, value) in [
        ("title", "Multipart"),
        ("author", alice.id.as_str()),
        ("published", "true"),
        ("views", "2"),
        ("@jsonPayload", r#"{"tags":["tech","life"]}"#),
        ("@jsonPayload", r#"{"body":"from the second payload"}"#),
    ] {
        body.push_str(&format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    let content_type = format!("multipart/form-data; boundary={boundary}");
    let r = api.send(
        "POST",
        "/api/collections/posts/records",
        &[("authorization", &alice.token), ("content-type", &content_type)],
        Some(&body),
    );
    let r = r.expect(200);
    assert_eq!(r["title"], "Multipart");
    assert_eq!(r["published"], true);
    assert_eq!(r["views"], 2);
    assert_eq!(r["tags"], json!(["tech", "life"]));
    assert_eq!(r["body"], "from the second payload");
}

#[test]
fn client_filters_through_relations_apply_the_related_list_rule() {
    let api = Api::start();
    let alice = api.user("alice@example.com", "Alice");
    let bob = api.user("bob@example.com", "Bob");
    let post = api.post_of(&alice, "Hello", json!({"published": true}));
    let filter = format!("filter={}", enc(r#"author.name ~ "Alice""#));

    // §6: anonymous and Bob cannot read Alice's user record, so the join matches nothing;
    // Alice can; a plain id comparison needs no join.
    assert!(api.list_ids("posts", &filter, None).0.is_empty());
    assert!(api.list_ids("posts", &filter, Some(&bob.token)).0.is_empty());
    assert_eq!(api.list_ids("posts", &filter, Some(&alice.token)), [&post]);
    assert_eq!(api.list_ids("posts", &filter, Some(&api.admin())), [&post]);
    let plain = format!("filter={}", enc(&format!(r#"author = "{}""#, alice.id)));
    assert_eq!(api.list_ids("posts", &plain, None), [&post]);
}

#[test]
fn query_parameter_details() {
    let api = Api::start();
    let alice = api.user("alice@example.com", "Alice");
    let token = Some(alice.token.as_str());
    let first = api.post_of(&alice, "First", json!({"published": true}));
    let second = api.post_of(&alice, "Second", json!({"published": true}));

    // The filter limit is 3500 characters, inclusive.
    let at_limit = format!("title != \"{}\"", "x".repeat(3500 - 11));
    assert_eq!(at_limit.len(), 3500);
    assert_eq!(api.list("posts", &format!("filter={}", enc(&at_limit)), token)["totalItems"], 2);
    let over = format!("title != \"{}\"", "x".repeat(3500 - 10));
    let r = api.get(&format!("/api/collections/posts/records?filter={}", enc(&over)), token);
    assert_eq!(r.expect(400), error(400, BAD_REQUEST, json!({})));

    // Special sorts.
    assert_eq!(api.list_ids("posts", "sort=-@rowid", token), [&second, &first]);
    assert_eq!(api.list("posts", "sort=@random", token)["totalItems"], 2);

    // Repeated expand paths are fine.
    let r = api.get(&format!("/api/collections/posts/records/{first}?expand=author,author"), token).expect(200);
    assert_eq!(r["expand"]["author"]["id"], alice.id.as_str());

    // auth-refresh with fields: only what was asked for.
    let r = api.post("/api/collections/users/auth-refresh?fields=record.id,record.name", token, &json!({})).expect(200);
    assert_eq!(r, json!({"record": {"id": alice.id, "name": "Alice"}}));

    // HEAD /api/health.
    let r = api.send("HEAD", "/api/health", &[], None);
    assert_eq!(r.status, 200);
    assert_eq!(r.text, "");
}

#[test]
fn request_endpoints_of_auth_collections() {
    let api = Api::start();
    let base = "/api/collections/users";
    for endpoint in ["request-verification", "request-password-reset"] {
        let r = api.post(&format!("{base}/{endpoint}"), None, &json!({"email": "nobody@example.com"}));
        assert_eq!((r.status, r.text.as_str()), (204, ""), "{endpoint}");
        let r = api.post(&format!("{base}/{endpoint}"), None, &json!({}));
        assert_eq!(
            r.expect(400),
            error(400, VALIDATION, json!({"email": field("validation_required", REQUIRED)})),
            "{endpoint}"
        );
    }
    let r = api.post(&format!("{base}/request-verification"), None, &json!({"email": "not-an-email"}));
    assert_eq!(r.expect(400)["data"]["email"]["code"], "validation_is_email");
    let r = api.post(&format!("{base}/request-otp"), None, &json!({"email": "nobody@example.com"}));
    assert_eq!(r.expect(403), error(403, "The collection is not configured to allow OTP authentication.", json!({})));
}

// --- Bounds: timeouts, the connection cap, body limits, bad input (README, Security model) --

mod bounds {
    use std::io::{ErrorKind, Read, Write};
    use std::net::TcpStream;
    use std::time::Duration;

    use serde_json::{Value, json};

    use super::client::{Api, error};
    use super::{BAD_REQUEST, enc};

    /// Opens a connection to `api` and sends `bytes` (maybe nothing).
    fn open(api: &Api, bytes: &[u8]) -> TcpStream {
        let mut stream = TcpStream::connect(api.addr()).expect("connect");
        stream.write_all(bytes).expect("send");
        stream
    }

    /// Reads until the server closes the connection; panics when it is still open after
    /// `within` of silence. What was read, as text.
    #[track_caller]
    fn closed_within(stream: &mut TcpStream, within: Duration) -> String {
        stream.set_read_timeout(Some(within)).expect("timeout");
        let (mut got, mut buf) = (Vec::new(), [0u8; 4096]);
        loop {
            match stream.read(&mut buf) {
                Ok(0) => return String::from_utf8_lossy(&got).into_owned(),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::ConnectionReset => return String::from_utf8_lossy(&got).into_owned(),
                Err(e) => {
                    panic!("the connection is still open ({e}); read so far: {:?}", String::from_utf8_lossy(&got))
                }
            }
        }
    }

    /// Reads one response's head and its `Content-Length` body, leaving the connection open.
    fn read_response(stream: &mut TcpStream) -> (u16, String) {
        stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
        let (mut got, mut buf) = (Vec::new(), [0u8; 4096]);
        loop {
            let text = String::from_utf8_lossy(&got).into_owned();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length = head
                    .lines()
                    .filter_map(|l| l.split_once(':'))
                    .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                    .and_then(|(_, v)| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                if body.len() >= length {
                    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("status");
                    return (status, body.to_owned());
                }
            }
            let n = stream.read(&mut buf).expect("read the answer");
            assert!(n > 0, "closed before a whole answer: {text:?}");
            got.extend_from_slice(&buf[..n]);
        }
    }

    const HEALTH: &[u8] = b"GET /api/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

    #[test]
    fn slow_headers_and_silent_connections_are_closed() {
        let api = Api::start_with(&[("BAAS_HEADER_TIMEOUT_SECS", "1"), ("BAAS_IDLE_TIMEOUT_SECS", "60")]);
        let mut slow = open(&api, b"GET /api/health HTTP/1.1\r\nHost: x\r\n");
        let mut silent = open(&api, b"");
        closed_within(&mut slow, Duration::from_secs(10));
        closed_within(&mut silent, Duration::from_secs(10));
        assert_eq!(api.raw(HEALTH).status, 200);
    }

    #[test]
    fn idle_keep_alive_connections_are_closed() {
        let api = Api::start_with(&[("BAAS_HEADER_TIMEOUT_SECS", "60"), ("BAAS_IDLE_TIMEOUT_SECS", "1")]);
        let mut kept = open(&api, b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(read_response(&mut kept).0, 200);
        // The connection stays usable until it has been idle for a second.
        kept.write_all(b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n").expect("send");
        assert_eq!(read_response(&mut kept).0, 200);
        assert_eq!(closed_within(&mut kept, Duration::from_secs(10)), "");
    }

    #[test]
    fn a_realtime_stream_that_sends_nothing_is_closed() {
        let api = Api::start_with(&[("BAAS_REALTIME_IDLE_SECS", "1")]);
        let mut stream = open(&api, b"GET /api/realtime HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let sent = closed_within(&mut stream, Duration::from_secs(10));
        assert!(sent.contains("event:PB_CONNECT"), "{sent}");
    }

    #[test]
    fn a_slow_body_is_answered_408() {
        let api = Api::start_with(&[("BAAS_BODY_TIMEOUT_SECS", "1")]);
        let mut slow = open(
            &api,
            b"POST /api/collections/posts/records HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
              Content-Length: 100\r\n\r\n{\"title\":",
        );
        let (status, body) = read_response(&mut slow);
        assert_eq!(status, 408);
        let body: Value = serde_json::from_str(&body).expect("JSON");
        assert_eq!(body, error(408, "Request Timeout.", json!({})));
    }

    #[test]
    fn past_the_connection_cap_idle_connections_make_room_and_busy_ones_are_kept() {
        let api = Api::start_with(&[("BAAS_MAX_CONNECTIONS", "20")]);
        let mut idle: Vec<TcpStream> = (0..40).map(|_| open(&api, b"")).collect();
        // Health answers past the cap: the connections idle the longest were closed for it.
        assert_eq!(api.raw(HEALTH).status, 200);
        closed_within(&mut idle[0], Duration::from_secs(10));

        // Twenty realtime streams are twenty busy connections: they stay, and a connection
        // past them is answered 503 in PocketBase's error JSON.
        let mut streams: Vec<TcpStream> =
            (0..20).map(|_| open(&api, b"GET /api/realtime HTTP/1.1\r\nHost: x\r\n\r\n")).collect();
        for stream in &mut streams {
            stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
            let mut buf = [0u8; 4096];
            let n = stream.read(&mut buf).expect("the stream's first frame");
            assert!(String::from_utf8_lossy(&buf[..n]).contains("200 OK"), "a stream opened");
        }
        let refused = api.raw(HEALTH);
        assert_eq!(refused.status, 503);
        assert_eq!(refused.json(), error(503, "Too many open connections, try again later.", json!({})));
        drop(streams);
    }

    #[test]
    fn idle_connections_past_the_open_files_limit_do_not_keep_health_out() {
        // 512 descriptors make a cap of 384 connections: 626 idle ones do not stop health.
        let api = Api::start_with_open_files(512);
        let idle: Vec<TcpStream> = (0..626).map(|_| open(&api, b"")).collect();
        assert_eq!(api.raw(HEALTH).status, 200);
        assert_eq!(api.get("/api/health", None).status, 200);
        drop(idle);
    }

    #[test]
    fn a_large_body_is_refused_before_it_is_read() {
        let api = Api::start();
        // 30 MB announced, none sent: the answer comes without waiting for the body.
        let r = api.raw(
            b"POST /api/realtime HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
              Content-Length: 31457280\r\nConnection: close\r\n\r\n",
        );
        assert_eq!(r.expect(413), error(413, "Request Entity Too Large.", json!({})));
        let r = api.raw(
            b"POST /api/collections/users/auth-with-password HTTP/1.1\r\nHost: x\r\n\
              Content-Type: application/json\r\nContent-Length: 2000000\r\nConnection: close\r\n\r\n",
        );
        assert_eq!(r.expect(413), error(413, "Request Entity Too Large.", json!({})));
        // Record writes keep their file-aware limit (32 MiB here).
        let r = api.raw(
            b"POST /api/collections/posts/records HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
              Content-Length: 40000000\r\nConnection: close\r\n\r\n",
        );
        assert_eq!(r.expect(413), error(413, "Request Entity Too Large.", json!({})));
        // Under the limit, the body is read as before.
        let r = api.post("/api/realtime", None, &json!({"clientId": "nope", "subscriptions": []}));
        assert_eq!(r.status, 404);
    }

    #[test]
    fn bad_input_is_answered_with_error_json() {
        let api = Api::start();
        let alice = api.user("alice@example.com", "Alice");
        let admin = api.admin();
        let post = api.post_of(&alice, "Hi", json!({}));
        let bad = error(400, BAD_REQUEST, json!({}));
        let list = |query: &str, token: &str| api.get(&format!("/api/collections/posts/records?{query}"), Some(token));

        let many = vec!["title"; 2001].join(",");
        let nine = vec!["title"; 9].join(",");
        for sort in [",", "title,", ",title", " , ", "-", "title,,id", many.as_str(), nine.as_str()] {
            for token in [&alice.token, &admin] {
                assert_eq!(list(&format!("sort={}", enc(sort)), token).expect(400), bad, "sort={sort}");
            }
        }
        let eight = vec!["title"; 8].join(",");
        assert_eq!(list(&format!("sort={eight}"), &alice.token).expect(200)["totalItems"], 1);
        // The offset, (page - 1) × perPage, would not fit a 64-bit integer.
        assert_eq!(list("page=9223372036854775807", &alice.token).expect(400), bad);
        assert_eq!(list("page=9223372036854775807&perPage=1", &alice.token).expect(200)["items"], json!([]));
        // A superuser is told the sort cannot be done, not that only superusers may do it.
        assert_eq!(list(&format!("sort={}", enc("@request.auth.id")), &admin).expect(400), bad);

        // A URI of 60 KB.
        let long = format!("GET /api/health?x={} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "a".repeat(60_000));
        assert_eq!(api.raw(long.as_bytes()).expect(414), error(414, "URI Too Long.", json!({})));
        // A path that is not UTF-8 once decoded.
        let path = format!("/api/files/posts/{post}/%c0%ae%c0%ae");
        let r = api.raw(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes());
        assert_eq!(r.expect(400), bad);
        // A body that is not JSON; a method the route does not have.
        assert_eq!(api.send("POST", "/api/realtime", &[], Some("{")).expect(400), bad);
        let r = api.send("DELETE", "/api/health", &[], None);
        assert_eq!(r.expect(405), error(405, "Method Not Allowed.", json!({})));

        // An upload whose file name is not UTF-8 is refused, not stored without its file.
        let mut body = format!(
            "--XyZ\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nUpload\r\n\
             --XyZ\r\nContent-Disposition: form-data; name=\"author\"\r\n\r\n{}\r\n\
             --XyZ\r\nContent-Disposition: form-data; name=\"attachment\"; filename=\"",
            alice.id
        )
        .into_bytes();
        body.extend_from_slice(b"\xff\xfe.txt\"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--XyZ--\r\n");
        let mut request = format!(
            "POST /api/collections/posts/records HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\n\
             Content-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            alice.token,
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(&body);
        assert_eq!(api.raw(&request).expect(400), bad);
        assert_eq!(list("", &alice.token).expect(200)["totalItems"], 1);
    }
}
