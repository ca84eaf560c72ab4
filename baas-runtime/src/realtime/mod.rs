//! Realtime (pocketbase-api.md §3.5): `GET /api/realtime` opens a server-sent event stream,
//! `POST /api/realtime` sets a client's subscriptions and identity, and every committed
//! create, update and delete is delivered to exactly the subscribers whose rule admits it —
//! the list rule for `{collection}/*`, the view rule for `{collection}/{id}` — shaped by their
//! `fields`/`expand` options and narrowed by their `filter`.
//!
//! How events travel: the records engine calls [`publish`] inside the write transaction. The
//! change reaches this instance's dispatcher once the transaction commits; on PostgreSQL it is
//! also sent with `pg_notify`, which PostgreSQL delivers to the other instances' listeners at
//! commit (and never for a rolled-back transaction).
//!
//! How subscribers are judged: a rule that reads only the record and the request (a
//! "row-only" rule such as `published = true || author = @request.auth.id`) is evaluated in
//! memory with [`baas_schema::eval`], with no database read. A rule that needs other rows
//! (relation paths, back-relations, `@collection`) runs as SQL against the changed record,
//! once per distinct (rule, identity) per event, however many connections share them.
//!
//! Topics of the crate's own (`Backend::topic`): code publishes JSON to them inside a
//! transaction (`tx.publish`), delivered after the commit like a change, to every client that
//! subscribed to the topic and that the topic's own check admits (judged at delivery, with the
//! client's identity); on PostgreSQL to the other instances' clients too.
//!
//! Memory stays bounded: each client has a queue of [`QUEUE`] messages; a client whose queue
//! is full is dropped (its stream ends, and the SDK reconnects), and the dispatcher's own
//! queue is bounded too (writers wait for it). A stream that sent nothing for the idle time
//! (300 s, as PocketBase; `serve --realtime-idle` changes it) is closed.

mod endpoints;
mod fanout;
mod publish;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use baas_schema::check::TExpr;
use serde_json::Value;
use tokio::sync::{Notify, OnceCell, mpsc};

use crate::collection::Record;
use crate::id;
use crate::request::Caller;
use crate::state::{AppState, ChangeKind};

#[cfg(test)]
use endpoints::parse_topic;
pub use endpoints::{connect, subscribe};

use fanout::*;
use publish::*;

/// Messages a client may have waiting before it is dropped as too slow.
pub const QUEUE: usize = 1024;
/// Most changes judged together.
const MAX_BATCH: usize = 256;
/// Queued frames a stream sends in one write, up to about this many bytes.
const BATCH_BYTES: usize = 64 * 1024;
/// Changes waiting for the dispatcher before writers wait.
const CHANGES: usize = 16 * 1024;
/// Most topics per client, and longest topic (PocketBase's limits).
const MAX_TOPICS: usize = 1000;
const MAX_TOPIC_LEN: usize = 2500;
/// The PostgreSQL channel instances exchange changes on.
const CHANNEL: &str = "baas_realtime";
/// `pg_notify` refuses payloads of 8000 bytes or more: larger changes travel as a reference.
const MAX_PAYLOAD: usize = 7900;

const MISSING_CLIENT: &str = "Missing or invalid client id.";
const AUTH_MISMATCH: &str = "The current and the previous request authorization don't match.";

/// A change's name on the wire (the event's `action`, the notification's `kind`).
fn kind_name(kind: ChangeKind) -> &'static str {
    match kind {
        ChangeKind::Create => "create",
        ChangeKind::Update => "update",
        ChangeKind::Delete => "delete",
    }
}

fn kind_from_name(s: &str) -> Option<ChangeKind> {
    [ChangeKind::Create, ChangeKind::Update, ChangeKind::Delete].into_iter().find(|k| kind_name(*k) == s)
}

/// This instance's hub: the change sink of every state the server builds.
fn hub(app: &AppState) -> &Hub {
    let sink: &dyn std::any::Any = app.changes();
    sink.downcast_ref::<Hub>().expect("a served backend's change sink is its realtime hub")
}

/// A committed change: the record as stored (secrets removed); for a delete, its last state.
#[derive(Clone, Debug)]
struct Change {
    collection: String,
    kind: ChangeKind,
    record: Record,
    /// Only the id travelled (the record was too large for a notification): read it again.
    by_reference: bool,
}

/// What reaches the dispatcher, in commit order.
#[derive(Clone, Debug)]
enum Published {
    /// A record's change.
    Change(Change),
    /// JSON the crate's own code published to a topic of its own.
    Custom { topic: String, data: Value },
}

/// Who may hear a topic of the crate's own: given the subscriber's identity (`None`:
/// anonymous), whether it gets the topic's messages.
pub type Admit = Arc<dyn Fn(Option<&Caller>) -> bool + Send + Sync>;

/// One connected client.
struct Client {
    id: String,
    tx: mpsc::Sender<Message>,
    /// Ends the stream at once (a slow client is dropped).
    kill: Notify,
    subs: Mutex<Subscriptions>,
}

#[derive(Default)]
struct Subscriptions {
    /// The identity the first subscription request set; later ones must match it.
    auth: Option<Caller>,
    topics: Vec<Arc<Topic>>,
}

/// One subscription, parsed once when it is set.
struct Topic {
    /// The topic exactly as sent, options included: the event name.
    name: Arc<str>,
    /// The collection's name; `None` for unknown collections (accepted, never fire).
    collection: Option<String>,
    /// `None` for `/*`.
    record: Option<String>,
    query: HashMap<String, String>,
    headers: HashMap<String, String>,
    filter: Option<Filter>,
    /// Who the subscriber is, for the caches: subscribers with the same identity share every
    /// check and the shaped record.
    who: Identity,
}

impl Topic {
    /// The topic without its options: a collection topic or one of the crate's own.
    fn path(&self) -> &str {
        self.name.split_once('?').map_or(&self.name, |(path, _)| path)
    }
}

/// A subscription's `filter` option, checked when it is set.
enum Filter {
    /// Row-only: judged in memory.
    Memory(TExpr),
    /// Needs other rows: compiled with the related collections' list rules, run as SQL.
    Sql(String),
    /// Refused (does not check, or reads `@request`/`@collection` without being a superuser).
    Never,
}

/// A frame waiting for a client: the event name and its JSON data.
struct Message {
    event: Arc<str>,
    data: Arc<str>,
}

/// The realtime state of one instance.
pub struct Hub {
    clients: RwLock<HashMap<String, Arc<Client>>>,
    connected: AtomicUsize,
    /// Rule and filter checks that ran as SQL (the others ran in memory).
    sql_checks: AtomicUsize,
    changes: mpsc::Sender<Published>,
    pending: Mutex<Option<mpsc::Receiver<Published>>>,
    /// The topics of the crate's own, and who may hear each.
    topics: RwLock<HashMap<String, Admit>>,
    started: OnceCell<()>,
    /// Tells this instance's notifications from the others'.
    origin: String,
    /// How long a stream may send nothing, in milliseconds.
    idle_ms: AtomicU64,
}

impl Default for Hub {
    fn default() -> Self {
        Hub::new()
    }
}

impl Hub {
    pub fn new() -> Hub {
        let (changes, pending) = mpsc::channel(CHANGES);
        Hub {
            clients: RwLock::new(HashMap::new()),
            connected: AtomicUsize::new(0),
            sql_checks: AtomicUsize::new(0),
            changes,
            pending: Mutex::new(Some(pending)),
            topics: RwLock::new(HashMap::new()),
            started: OnceCell::new(),
            origin: id::random_string(16, id::TOKEN_KEY_ALPHABET),
            idle_ms: AtomicU64::new(300_000),
        }
    }

    /// Sets how long a stream may send nothing before it is closed (default 300 s).
    pub fn set_idle(&self, idle: Duration) {
        self.idle_ms.store(u64::try_from(idle.as_millis()).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// Declares the topics of the crate's own and who may hear each.
    pub fn set_topics(&self, topics: impl IntoIterator<Item = (String, Admit)>) {
        self.topics.write().unwrap_or_else(|p| p.into_inner()).extend(topics);
    }

    fn admit(&self, topic: &str) -> Option<Admit> {
        self.topics.read().unwrap_or_else(|p| p.into_inner()).get(topic).cloned()
    }

    fn idle(&self) -> Duration {
        Duration::from_millis(self.idle_ms.load(Ordering::Relaxed))
    }

    /// The number of open streams.
    pub fn clients(&self) -> usize {
        self.connected.load(Ordering::Relaxed)
    }

    /// How many rule and filter checks ran as SQL since start: at most one per event and
    /// distinct (rule, identity), however many connections share them.
    pub fn sql_checks(&self) -> usize {
        self.sql_checks.load(Ordering::Relaxed)
    }

    /// A new client with an empty queue.
    fn join(&self) -> (Arc<Client>, mpsc::Receiver<Message>) {
        let id = id::random_string(40, id::TOKEN_KEY_ALPHABET);
        let (tx, rx) = mpsc::channel(QUEUE);
        let client = Arc::new(Client { id: id.clone(), tx, kill: Notify::new(), subs: Mutex::default() });
        self.clients.write().unwrap_or_else(|p| p.into_inner()).insert(id, client.clone());
        self.connected.fetch_add(1, Ordering::Relaxed);
        (client, rx)
    }

    fn client(&self, id: &str) -> Option<Arc<Client>> {
        self.clients.read().unwrap_or_else(|p| p.into_inner()).get(id).cloned()
    }

    fn remove(&self, id: &str) {
        if let Some(client) = self.clients.write().unwrap_or_else(|p| p.into_inner()).remove(id) {
            self.connected.fetch_sub(1, Ordering::Relaxed);
            client.kill.notify_one();
        }
    }

    /// Starts the dispatcher (and, on PostgreSQL, the listener) on the first connection.
    async fn start(&self, app: &AppState) {
        self.started
            .get_or_init(|| async {
                let Some(rx) = self.pending.lock().unwrap_or_else(|p| p.into_inner()).take() else { return };
                let rules = Rules::new(app.schema(), app.db().dialect());
                tokio::spawn(dispatch_loop(app.clone(), Arc::new(rules), rx));
                if let Some(config) = app.db().postgres_config() {
                    let (ready, wait) = tokio::sync::oneshot::channel();
                    listen(config, self.origin.clone(), self.changes.clone(), ready);
                    let _ = tokio::time::timeout(Duration::from_secs(10), wait).await;
                }
            })
            .await;
    }
}

#[cfg(test)]
mod tests {
    use baas_schema::ir::{Action, system};
    use baas_schema::sql::{Dialect, Target, compile, quote};
    use serde_json::{Value, json};

    use super::*;
    use crate::collection::{CollectionSpec, CompiledRule, NoHooks, RuleSet};
    use crate::db::Db;
    use crate::request::RequestCx;

    const SCHEMA: &str = r#"
collections:
  users:
    type: auth
  posts:
    fields:
      published: bool
      author: { type: relation, collection: users }
    indexes: [[published]]
    rules:
      list: "published = true || author = @request.auth.id"
  comments:
    fields:
      post: { type: relation, collection: posts }
    rules:
      list: "post.published = true"
"#;

    /// The state of a backend for `SCHEMA` on a fresh SQLite file, with one published post
    /// `p1` and one draft `p2`.
    fn app(dir: &std::path::Path) -> AppState {
        let file = baas_schema::SourceFile::new("test.yaml", SCHEMA);
        let (checked, diags) = baas_schema::load_yaml(&file);
        let checked = checked.unwrap_or_else(|| panic!("{}", diags.render(&file)));
        let compiled = |name: &str, action| {
            checked.rule(name, action).map(|rule| match rule {
                TExpr::True => CompiledRule::Public,
                rule => {
                    let record = quote(name);
                    let target = |dialect| Target { dialect, record: &record, first_param: 1 };
                    CompiledRule::Filter {
                        sqlite: compile(rule, target(Dialect::Sqlite)),
                        postgres: compile(rule, target(Dialect::Postgres)),
                    }
                }
            })
        };
        let specs = ["users", "posts", "comments"]
            .into_iter()
            .map(|name| CollectionSpec {
                name,
                rules: RuleSet {
                    list: compiled(name, Action::List),
                    view: compiled(name, Action::View),
                    ..RuleSet::default()
                },
                hooks: Arc::new(NoHooks),
            })
            .collect();
        let db = Db::open(&format!("sqlite://{}", dir.join("data.db").display())).expect("a database");
        db.write_blocking(|conn| {
            conn.execute_batch(
                "CREATE TABLE posts (id TEXT, published INTEGER, author TEXT, created TEXT, updated TEXT);
                 INSERT INTO posts VALUES ('p1', 1, 'u1', '', ''), ('p2', 0, 'u1', '', '');",
            )
        })
        .expect("the tables");
        let mut schema = checked.schema.clone();
        schema.collections.push(system::superusers());
        // No test here stores files; the folder is never written.
        let storage =
            crate::storage::Storage::local(&std::env::temp_dir().join("baas-realtime-unit")).expect("a local storage");
        AppState::new(db, schema, specs, b"secret".to_vec(), storage, Arc::new(Hub::new()), Default::default())
    }

    fn record(fields: Value) -> Record {
        fields.as_object().cloned().unwrap_or_default()
    }

    fn change(collection: &str, fields: Value) -> Change {
        Change { collection: collection.into(), kind: ChangeKind::Create, record: record(fields), by_reference: false }
    }

    /// A client subscribed to `topic` as `auth` (a user id; `None`: anonymous).
    fn subscribed(app: &AppState, topic: &str, auth: Option<&str>) -> (Arc<Client>, mpsc::Receiver<Message>) {
        let (client, rx) = hub(&app).join();
        let mut req = RequestCx::anonymous();
        req.auth = auth.map(|id| Caller {
            collection: app.collection("users").expect("users"),
            record: record(json!({"id": id})),
        });
        let topic = parse_topic(app, topic, &req).expect("a topic");
        let mut subs = client.subs.lock().unwrap();
        subs.auth = req.auth;
        subs.topics = vec![Arc::new(topic)];
        drop(subs);
        (client, rx)
    }

    fn dir(tag: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("baas-realtime-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[tokio::test]
    async fn a_row_only_rule_is_judged_in_memory_per_subscriber() {
        let dir = dir("memory");
        let app = app(&dir);
        let rules = Rules::new(app.schema(), app.db().dialect());
        let (_, mut anon) = subscribed(&app, "posts/*", None);
        let (_, mut owner) = subscribed(&app, "posts/*", Some("u1"));
        let (_, mut other) =
            subscribed(&app, "posts/*?options=%7B%22query%22%3A%7B%22fields%22%3A%22id%22%7D%7D", Some("u2"));
        dispatch(&app, &rules, vec![change("posts", json!({"id": "p3", "published": false, "author": "u1"}))])
            .await
            .unwrap();
        dispatch(&app, &rules, vec![change("posts", json!({"id": "p4", "published": true, "author": "u1"}))])
            .await
            .unwrap();
        let ids = |rx: &mut mpsc::Receiver<Message>| {
            let mut out = Vec::new();
            while let Ok(m) = rx.try_recv() {
                let data: Value = serde_json::from_str(&m.data).unwrap();
                out.push(format!("{} {}", m.event, data["record"]["id"].as_str().unwrap()));
            }
            out
        };
        assert_eq!(ids(&mut anon), ["posts/* p4"]);
        assert_eq!(ids(&mut owner), ["posts/* p3", "posts/* p4"]);
        assert_eq!(ids(&mut other), ["posts/*?options=%7B%22query%22%3A%7B%22fields%22%3A%22id%22%7D%7D p4"]);
        assert_eq!(hub(&app).sql_checks(), 0, "no database read for a row-only rule");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn a_rule_that_reads_other_rows_runs_once_per_identity_per_event() {
        let dir = dir("lookups");
        let app = app(&dir);
        let rules = Rules::new(app.schema(), app.db().dialect());
        let mut streams: Vec<_> = (0..5).map(|_| subscribed(&app, "comments/*", None)).collect();
        streams.extend((0..3).map(|_| subscribed(&app, "comments/*", Some("u1"))));
        dispatch(&app, &rules, vec![change("comments", json!({"id": "c1", "post": "p1"}))]).await.unwrap();
        assert_eq!(hub(&app).sql_checks(), 2, "anonymous and u1");
        dispatch(&app, &rules, vec![change("comments", json!({"id": "c2", "post": "p2"}))]).await.unwrap();
        assert_eq!(hub(&app).sql_checks(), 4);
        for (_, rx) in &mut streams {
            let first: Value =
                serde_json::from_str(&rx.try_recv().expect("the comment on the published post").data).unwrap();
            assert_eq!(first["record"]["id"], "c1");
            assert!(rx.try_recv().is_err(), "nothing for the comment on the draft");
        }
        // changes that queued up together are judged in one visit, still once per identity
        let batch = ["c3", "c4", "c5"].map(|id| change("comments", json!({"id": id, "post": "p1"})));
        dispatch(&app, &rules, batch.to_vec()).await.unwrap();
        assert_eq!(hub(&app).sql_checks(), 10);
        for (_, rx) in &mut streams {
            let ids: Vec<String> = std::iter::from_fn(|| rx.try_recv().ok())
                .map(|m| serde_json::from_str::<Value>(&m.data).unwrap()["record"]["id"].as_str().unwrap().to_owned())
                .collect();
            assert_eq!(ids, ["c3", "c4", "c5"]);
        }
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn a_subscriber_whose_queue_is_full_is_dropped() {
        let dir = dir("slow");
        let app = app(&dir);
        let rules = Rules::new(app.schema(), app.db().dialect());
        let (slow, mut rx) = subscribed(&app, "posts/*", None);
        let (_, mut fast) = subscribed(&app, "posts/*", None);
        for i in 0..=QUEUE {
            dispatch(&app, &rules, vec![change("posts", json!({"id": format!("p{i}"), "published": true}))])
                .await
                .unwrap();
            while fast.try_recv().is_ok() {}
        }
        assert_eq!(hub(&app).clients(), 1, "the slow client is gone, the other stays");
        assert!(hub(&app).client(&slow.id).is_none());
        // its stream is told to end at once, with what was queued left undelivered
        tokio::time::timeout(Duration::from_secs(1), slow.kill.notified()).await.expect("the stream is ended");
        let mut queued = 0;
        while rx.try_recv().is_ok() {
            queued += 1;
        }
        assert_eq!(queued, QUEUE);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn topics_parse_with_their_options() {
        let dir = dir("topics");
        let app = app(&dir);
        let req = RequestCx::anonymous();
        let options =
            r#"{"query":{"fields":"id","expand":"author","filter":"published = true"},"headers":{"X-Probe":"1"}}"#;
        let raw = format!(
            "posts/abc?options={}",
            serde_urlencoded::to_string([("x", options)]).unwrap().trim_start_matches("x=")
        );
        let topic = parse_topic(&app, &raw, &req).unwrap();
        assert_eq!(&*topic.name, raw);
        assert_eq!(topic.collection.as_deref(), Some("posts"));
        assert_eq!(topic.record.as_deref(), Some("abc"));
        assert_eq!(topic.query["expand"], "author");
        assert_eq!(topic.headers["x_probe"], "1");
        assert!(matches!(topic.filter, Some(Filter::Memory(_))));
        let unknown = parse_topic(&app, "nothing/*", &req).unwrap();
        assert_eq!(unknown.collection, None);
        assert!(parse_topic(&app, "posts/*\nevent:x", &req).is_none());
        // a filter through a relation needs SQL; @request in a filter is for superusers only
        let through =
            parse_topic(&app, r#"comments/*?options={"query":{"filter":"post.published = true"}}"#, &req).unwrap();
        assert!(matches!(through.filter, Some(Filter::Sql(_))));
        let probe = parse_topic(&app, r#"posts/*?options={"query":{"filter":"@request.auth.id = ''"}}"#, &req).unwrap();
        assert!(matches!(probe.filter, Some(Filter::Never)));
        let _ = std::fs::remove_dir_all(dir);
    }
}
