//! Accounts and mail end to end, with a real SMTP server in its own process (aiosmtpd,
//! tests/support/smtp_sink.py): the blog example (whose `users` hook sends a welcome mail)
//! serves the PocketBase JS SDK's account flows (tests/sdk/accounts: verification, password
//! reset, email change, reading tokens from the delivered mail), and its mail survives a
//! SIGKILL between commit and delivery while a rolled-back signup sends nothing. On SQLite and
//! PostgreSQL.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::{Engine, SmtpSink, Storage};

fn sdk_flows(engine: Engine) {
    let sink = SmtpSink::start();
    let env = [("BAAS_SMTP_URL", sink.url()), ("BAAS_APP_URL", "https://blog.example".to_owned())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = support::start_with(support::yaml_example_binary(), engine, &env);
    let maildir = sink.dir.0.display().to_string();
    support::run_sdk_tests_with(&server, "tests/sdk/accounts", &[("BAAS_MAILDIR", &maildir)]);
}

/// An OpenID Connect provider in its own process (tests/support/oidc_provider.mjs, on Node);
/// stopped when dropped.
struct OidcProvider {
    child: std::process::Child,
    url: String,
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl OidcProvider {
    fn start(client_id: &str, secret: &str) -> OidcProvider {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut command = std::process::Command::new("node");
        command.arg(support::root().join("tests/support/oidc_provider.mjs")).args([
            &port.to_string(),
            client_id,
            secret,
        ]);
        let child = support::spawn_ready(&mut command, "the OpenID provider (node tests/support/oidc_provider.mjs)");
        OidcProvider { child, url: format!("http://127.0.0.1:{port}") }
    }
}

/// Sign-in codes, MFA and OAuth2 (tests/sdk/signin) against the todo backend, whose `users`
/// sign in with a mailed code or the `corp` OpenID provider, and whose `operators` need a
/// password and a code.
fn sdk_signin(engine: Engine) {
    let sink = SmtpSink::start();
    let oidc = OidcProvider::start("todo-app", "todo-secret");
    let env = [
        ("BAAS_SMTP_URL", sink.url()),
        ("BAAS_OAUTH2_USERS_CORP_SECRET", "todo-secret".to_owned()),
        ("BAAS_OAUTH2_USERS_CORP_ISSUER", oidc.url.clone()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = support::start_with(support::todo_binary(), engine, &env);
    let maildir = sink.dir.0.display().to_string();
    support::run_sdk_tests_with(
        &server,
        "tests/sdk/signin",
        &[("BAAS_MAILDIR", &maildir), ("BAAS_OIDC_URL", &oidc.url)],
    );
}

#[test]
fn sign_in_codes_mfa_and_oauth2_through_the_sdk_sqlite() {
    sdk_signin(Engine::Sqlite);
}

#[test]
fn sign_in_codes_mfa_and_oauth2_through_the_sdk_postgres() {
    sdk_signin(Engine::Postgres);
}

#[test]
fn the_account_lifecycle_through_the_sdk_with_real_mail_sqlite() {
    sdk_flows(Engine::Sqlite);
}

#[test]
fn the_account_lifecycle_through_the_sdk_with_real_mail_postgres() {
    sdk_flows(Engine::Postgres);
}

/// The text of the first mail in `mails` whose subject contains `subject`.
fn text_of<'m>(mails: &'m [Value], subject: &str) -> &'m str {
    mails
        .iter()
        .find(|m| m["subject"].as_str().is_some_and(|s| s.contains(subject)))
        .and_then(|m| m["text"].as_str())
        .unwrap_or_else(|| panic!("no mail about {subject:?}: {mails:?}"))
}

fn mail_survives_a_kill(engine: Engine) {
    // The mail server is not there yet: deliveries fail and are retried.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let smtp = format!("smtp://127.0.0.1:{port}");
    let env = [("BAAS_SMTP_URL", smtp.as_str()), ("BAAS_APP_URL", "https://blog.example")];
    let bin = support::yaml_example_binary();
    let mut server = support::start_with(bin, engine, &env);
    let call = |server: &support::Server, path: &str, body: Value| {
        support::request("POST", &format!("{}{path}", server.url), None, Some(&body))
    };
    let signup = |email: &str| json!({"email": email, "password": "password-123", "passwordConfirm": "password-123", "name": "<Ann>"});

    // A signup in a batch that rolls back (its second request fails): no welcome mail, ever.
    let (status, body) = call(
        &server,
        "/api/batch",
        json!({"requests": [
            {"method": "POST", "url": "/api/collections/users/records", "body": signup("ghost@example.com")},
            {"method": "POST", "url": "/api/collections/posts/records", "body": {}},
        ]}),
    );
    assert_eq!(status, 400, "{body}");
    let (status, body) = call(&server, "/api/collections/users/records", signup("ann@example.com"));
    assert_eq!(status, 200, "{body}");
    let (status, body) =
        call(&server, "/api/collections/users/request-password-reset", json!({"email": "ann@example.com"}));
    assert_eq!(status, 204, "{body}");

    // SIGKILL with both mails committed and undelivered, then a restart with the mail server up.
    let storage = std::mem::replace(&mut server.storage, Storage::Shared);
    let db = server.db.clone();
    drop(server);
    let sink = SmtpSink::start_on(port);
    let server = support::serve_with(bin, &db, storage, &env);
    let mails = sink.wait_for("ann@example.com", 2, Duration::from_secs(60));

    let welcome = mails.iter().find(|m| m["subject"] == "Welcome to the blog").expect("the welcome mail");
    assert!(welcome["html"].as_str().is_some_and(|h| h.contains("Hello &lt;Ann&gt;,")), "{welcome}");
    assert!(welcome["from"].as_str().is_some_and(|f| f.contains("noreply@")), "{welcome}");
    let reset = text_of(&mails, "Reset your");
    let token = reset
        .split("https://blog.example/_/#/auth/confirm-password-reset/")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no reset link in {reset}"));
    let body = json!({"token": token, "password": "new-password-456", "passwordConfirm": "new-password-456"});
    let (status, answer) = call(&server, "/api/collections/users/confirm-password-reset", body);
    assert_eq!(status, 204, "{answer}");
    let login = json!({"identity": "ann@example.com", "password": "new-password-456"});
    let (status, answer) = call(&server, "/api/collections/users/auth-with-password", login);
    assert_eq!(status, 200, "{answer}");

    std::thread::sleep(Duration::from_millis(500));
    let ghosts: Vec<Value> =
        sink.mails().into_iter().filter(|m| m["to"].to_string().contains("ghost@example.com")).collect();
    assert!(ghosts.is_empty(), "a rolled-back signup sent mail: {ghosts:?}");
}

#[test]
fn a_mail_committed_before_a_sigkill_is_delivered_after_the_restart_sqlite() {
    mail_survives_a_kill(Engine::Sqlite);
}

#[test]
fn a_mail_committed_before_a_sigkill_is_delivered_after_the_restart_postgres() {
    mail_survives_a_kill(Engine::Postgres);
}
