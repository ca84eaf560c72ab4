//! Abuse limits as they ship (the schema's default rate limits and the per-account sign-in
//! throttle), against the generated blog backend behind a trusted proxy (`--trusted-proxy
//! 127.0.0.1`, each client named by `X-Forwarded-For`): 1,000 wrong passwords in a row for one
//! account are answered 429 after the allowance while other users keep being served; guesses
//! spread over many addresses are stopped per account; one address is limited across accounts.

mod support;

use serde_json::{Value, json};
use support::Engine;

/// `method path` with `body`, as the client at `ip` behind the proxy.
fn from(server: &support::Server, ip: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let url = format!("{}{path}", server.url);
    let (status, text) = support::request_with(method, &url, &[("X-Forwarded-For", ip)], body.as_ref());
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn sign_in(server: &support::Server, ip: &str, email: &str, password: &str) -> (u16, Value) {
    let body = json!({"identity": email, "password": password});
    from(server, ip, "POST", "/api/collections/users/auth-with-password", Some(body))
}

#[test]
fn wrong_passwords_are_throttled_while_other_users_are_served() {
    let server = support::start_with(
        support::blog_binary(),
        Engine::Sqlite,
        &[("BAAS_RATE_LIMITS", "on"), ("BAAS_TRUSTED_PROXIES", "127.0.0.1")],
    );
    for (email, ip) in [
        ("alice@example.com", "198.51.100.1"),
        ("bob@example.com", "198.51.100.2"),
        ("carol@example.com", "198.51.100.3"),
    ] {
        let body = json!({"email": email, "password": "password-123", "passwordConfirm": "password-123"});
        let (status, answer) = from(&server, ip, "POST", "/api/collections/users/records", Some(body));
        assert_eq!(status, 200, "{answer}");
    }

    // 1,000 guesses for alice from one address: the first ten are checked, the rest refused.
    let mut statuses = Vec::new();
    for i in 0..1000 {
        let (status, answer) = sign_in(&server, "203.0.113.7", "alice@example.com", &format!("guess-{i}"));
        if status == 429 {
            assert_eq!(answer, json!({"status": 429, "message": "Too Many Requests.", "data": {}}));
        }
        statuses.push(status);
    }
    assert!(statuses[..10].iter().all(|&s| s == 400), "{:?}", &statuses[..12]);
    assert!(statuses[10..].iter().all(|&s| s == 429), "{:?}", &statuses[10..20]);

    // meanwhile bob signs in and reads, from his own address
    let (status, answer) = sign_in(&server, "198.51.100.2", "bob@example.com", "password-123");
    assert_eq!(status, 200, "{answer}");
    let (status, _) = from(&server, "198.51.100.2", "GET", "/api/collections/posts/records", None);
    assert_eq!(status, 200);
    // alice's account waits out the window, even with the right password
    let (status, _) = sign_in(&server, "198.51.100.1", "alice@example.com", "password-123");
    assert_eq!(status, 429);

    // guesses for carol from twenty addresses: the account is throttled after ten
    let spread: Vec<u16> =
        (1..=20).map(|n| sign_in(&server, &format!("192.0.2.{n}"), "carol@example.com", "nope-nope").0).collect();
    assert_eq!(spread.iter().filter(|&&s| s == 400).count(), 10, "{spread:?}");
    assert_eq!(spread.iter().filter(|&&s| s == 429).count(), 10, "{spread:?}");

    // one address trying many accounts: the `*:auth` rule (30 a minute) stops it
    let sweep: Vec<u16> = (0..35)
        .map(|n| sign_in(&server, "203.0.113.99", &format!("nobody-{n}@example.com"), "password-123").0)
        .collect();
    assert!(sweep[..30].iter().all(|&s| s == 400), "{sweep:?}");
    assert!(sweep[30..].iter().all(|&s| s == 429), "{sweep:?}");

    // without the proxy's word, every one of those came from 127.0.0.1: a client that is not
    // the proxy cannot pick its address (checked in ratelimit.rs's unit tests)
}

#[test]
fn limits_can_be_turned_off_for_load_tests() {
    let server = support::start_with(support::blog_binary(), Engine::Sqlite, &[("BAAS_RATE_LIMITS", "off")]);
    let body = json!({"email": "dave@example.com", "password": "password-123", "passwordConfirm": "password-123"});
    let (status, _) = from(&server, "198.51.100.4", "POST", "/api/collections/users/records", Some(body));
    assert_eq!(status, 200);
    let statuses: Vec<u16> =
        (0..40).map(|n| sign_in(&server, "198.51.100.4", &format!("nobody-{n}@example.com"), "x-password").0).collect();
    assert!(statuses.iter().all(|&s| s == 400), "{statuses:?}");
    let (status, _) = sign_in(&server, "198.51.100.4", "dave@example.com", "password-123");
    assert_eq!(status, 200);
}
