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
//! Memory stays bounded: each client has a queue of [`QUEUE`] messages; a client whose queue
//! is full is dropped (its stream ends, and the SDK reconnects), and the dispatcher's own
//! queue is bounded too (writers wait for it). A stream that sent nothing for the idle time
//! (300 s, as PocketBase; `serve --realtime-idle` changes it) is closed.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use baas_schema::check::{Context, TExpr, check_expr};
use baas_schema::eval::{eval, lookups};
use baas_schema::ir::{Action, FieldType, Schema, system};
use baas_schema::sql::Dialect;
use serde_json::{Value, json};
use tokio::sync::{Notify, OnceCell, mpsc};

use crate::collection::{Coll, CompiledRule, HookContext, Record};
use crate::db::{Conn, SqlValue};
use crate::error::{ApiError, ApiResult, FieldError, FieldErrors};
use crate::records::{self, expand};
use crate::request::{Caller, RequestCx};
use crate::state::{AppState, Change as Kind, ChangeSink};
use crate::{id, query};

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
fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Create => "create",
        Kind::Update => "update",
        Kind::Delete => "delete",
    }
}

fn kind_from_name(s: &str) -> Option<Kind> {
    [Kind::Create, Kind::Update, Kind::Delete].into_iter().find(|k| kind_name(*k) == s)
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
    kind: Kind,
    record: Record,
    /// Only the id travelled (the record was too large for a notification): read it again.
    by_reference: bool,
}

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
    changes: mpsc::Sender<Change>,
    pending: Mutex<Option<mpsc::Receiver<Change>>>,
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
            started: OnceCell::new(),
            origin: id::random_string(16, id::TOKEN_KEY_ALPHABET),
            idle_ms: AtomicU64::new(300_000),
        }
    }

    /// Sets how long a stream may send nothing before it is closed (default 300 s).
    pub fn set_idle(&self, idle: Duration) {
        self.idle_ms.store(u64::try_from(idle.as_millis()).unwrap_or(u64::MAX), Ordering::Relaxed);
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
                let rules = Rules::new(app.schema());
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

// --- publishing ---------------------------------------------------------------------------------

impl ChangeSink for Hub {
    /// Announces a change of `record` in `coll`, from inside the write transaction: delivered
    /// after the commit, never for a rollback.
    fn changed(&self, conn: &Conn<'_>, coll: &Coll, kind: Kind, record: &Record) {
        publish(self, conn, coll, kind, record);
    }
}

fn publish(hub: &Hub, conn: &Conn<'_>, coll: &Coll, kind: Kind, record: &Record) {
    let mut record = record.clone();
    for field in &coll.ir.fields {
        if matches!(field.ty, FieldType::Password) || field.name == system::TOKEN_KEY {
            record.remove(&field.name);
        }
    }
    let change = Change { collection: coll.ir.name.clone(), kind, record, by_reference: false };
    if conn.dialect() == Dialect::Postgres {
        notify(conn, &hub.origin, &change);
    }
    if hub.clients() > 0 {
        let tx = hub.changes.clone();
        // On the writer's blocking thread: waiting here is back-pressure, not a stall.
        conn.after_commit(move || drop(tx.blocking_send(change)));
    }
}

/// Sends `change` to the other instances, as part of the transaction.
fn notify(conn: &Conn<'_>, origin: &str, change: &Change) {
    let mut payload =
        json!({"o": origin, "c": change.collection, "k": kind_name(change.kind), "r": change.record}).to_string();
    if payload.len() > MAX_PAYLOAD {
        let id = change.record.get(system::ID).cloned().unwrap_or(Value::Null);
        payload =
            json!({"o": origin, "c": change.collection, "k": kind_name(change.kind), "r": {"id": id}, "ref": true})
                .to_string();
    }
    let sent = conn.execute("SELECT pg_notify($1, $2)", &[SqlValue::Text(CHANNEL.into()), SqlValue::Text(payload)]);
    if let Err(e) = sent {
        tracing::warn!("realtime: cannot notify other instances: {e}");
    }
}

/// Listens for the other instances' changes on a connection of its own, reconnecting when it
/// is lost. `ready` fires once `LISTEN` is in place (or the first attempt failed).
fn listen(config: postgres::Config, origin: String, tx: mpsc::Sender<Change>, ready: tokio::sync::oneshot::Sender<()>) {
    let spawned = std::thread::Builder::new().name("baas-realtime-listen".into()).spawn(move || {
        let mut ready = Some(ready);
        while !tx.is_closed() {
            match config.connect(postgres::NoTls) {
                Ok(mut client) => match client.batch_execute(&format!("LISTEN {CHANNEL}")) {
                    Ok(()) => {
                        if let Some(r) = ready.take() {
                            let _ = r.send(());
                        }
                        let mut notifications = client.notifications();
                        let mut notes = notifications.blocking_iter();
                        while let Ok(Some(note)) = postgres::fallible_iterator::FallibleIterator::next(&mut notes) {
                            if let Some(change) = parse_notification(note.payload(), &origin) {
                                if tx.blocking_send(change).is_err() {
                                    return;
                                }
                            }
                        }
                    }
                    Err(e) => tracing::warn!("realtime: LISTEN failed: {e}"),
                },
                Err(e) => tracing::warn!("realtime: cannot connect the listener: {e}"),
            }
            if let Some(r) = ready.take() {
                let _ = r.send(());
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    });
    if let Err(e) = spawned {
        tracing::error!("realtime: cannot start the listener: {e}");
    }
}

fn parse_notification(payload: &str, origin: &str) -> Option<Change> {
    let v: Value = serde_json::from_str(payload).ok()?;
    if v.get("o")?.as_str()? == origin {
        return None; // this instance's own change, already dispatched locally
    }
    Some(Change {
        collection: v.get("c")?.as_str()?.to_owned(),
        kind: kind_from_name(v.get("k")?.as_str()?)?,
        record: v.get("r")?.as_object()?.clone(),
        by_reference: v.get("ref").is_some(),
    })
}

// --- the endpoints ------------------------------------------------------------------------------

/// `GET /api/realtime`: the event stream, opened with `PB_CONNECT`.
pub async fn connect(State(app): State<AppState>) -> Response {
    let hub = hub(&app);
    hub.start(&app).await;
    let (client, rx) = hub.join();
    let id = client.id.clone();
    let hello = Message { event: "PB_CONNECT".into(), data: json!({"clientId": id}).to_string().into() };
    let stream = Stream { first: Some(hello), rx, client, leave: Leave { app: app.clone(), id }, idle: hub.idle() };
    let body = futures_util::stream::unfold(stream, |mut s| async move {
        let message = match s.first.take() {
            Some(m) => m,
            None => tokio::select! {
                () = s.client.kill.notified() => return None,
                next = tokio::time::timeout(s.idle, s.rx.recv()) => next.ok()??,
            },
        };
        // Under a burst, what is already queued goes out in the same write.
        let mut frames = String::new();
        let mut next = Some(message);
        while let Some(m) = next.take() {
            frames.push_str(&format!("id:{}\nevent:{}\ndata:{}\n\n", s.leave.id, m.event, m.data));
            if frames.len() < BATCH_BYTES {
                next = s.rx.try_recv().ok();
            }
        }
        Some((Ok::<_, Infallible>(Bytes::from(frames)), s))
    });
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-store"),
            (header::HeaderName::from_static("x-accel-buffering"), "no"),
        ],
        Body::from_stream(body),
    )
        .into_response()
}

struct Stream {
    first: Option<Message>,
    rx: mpsc::Receiver<Message>,
    client: Arc<Client>,
    leave: Leave,
    idle: Duration,
}

/// Forgets the client when its stream ends, however it ends.
struct Leave {
    app: AppState,
    id: String,
}

impl Drop for Leave {
    fn drop(&mut self) {
        hub(&self.app).remove(&self.id);
    }
}

/// `POST /api/realtime`: replaces the client's subscriptions; its first request sets the
/// identity rules are judged for.
pub async fn subscribe(State(app): State<AppState>, req: RequestCx) -> ApiResult<StatusCode> {
    let body = req.body.clone().unwrap_or_default();
    let client_id = body.get("clientId").and_then(Value::as_str).unwrap_or_default();
    if client_id.is_empty() {
        let mut errors = FieldErrors::new();
        errors.insert("clientId".into(), FieldError::required());
        return Err(ApiError::fields(crate::error::msg::VALIDATION, errors));
    }
    let client = hub(&app).client(client_id).ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, MISSING_CLIENT))?;
    let raw: Vec<String> = match body.get("subscriptions") {
        Some(Value::Array(items)) => {
            items.iter().map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned)).collect()
        }
        _ => Vec::new(),
    };
    let too_long = |n: usize| {
        let mut errors = FieldErrors::new();
        errors.insert(
            "subscriptions".into(),
            FieldError::new("validation_length_too_long", format!("The length must be no more than {n}."))
                .with_param("max", n),
        );
        ApiError::fields(crate::error::msg::VALIDATION, errors)
    };
    if raw.len() > MAX_TOPICS {
        return Err(too_long(MAX_TOPICS));
    }
    if raw.iter().any(|t| t.len() > MAX_TOPIC_LEN) {
        return Err(too_long(MAX_TOPIC_LEN));
    }
    let identity =
        |c: &Option<Caller>| c.as_ref().map(|c| (c.collection.ir.name.clone(), c.record.get(system::ID).cloned()));
    let topics: Vec<Arc<Topic>> = raw.iter().filter_map(|t| parse_topic(&app, t, &req).map(Arc::new)).collect();
    let mut subs = client.subs.lock().unwrap_or_else(|p| p.into_inner());
    if subs.auth.is_some() && identity(&subs.auth) != identity(&req.auth) {
        return Err(ApiError::forbidden(AUTH_MISMATCH));
    }
    if subs.auth.is_none() {
        subs.auth = req.auth.clone();
    }
    subs.topics = topics;
    Ok(StatusCode::NO_CONTENT)
}

/// `{collection}/{id|*}` with an optional `?options=<JSON {"query": {…}, "headers": {…}}>`.
/// `None` for topics no frame could carry (line breaks in the name).
fn parse_topic(app: &AppState, raw: &str, req: &RequestCx) -> Option<Topic> {
    if raw.contains(['\n', '\r']) {
        return None;
    }
    let (path, params) = raw.split_once('?').unwrap_or((raw, ""));
    let options: Value = serde_urlencoded::from_str::<Vec<(String, String)>>(params)
        .ok()
        .and_then(|pairs| pairs.into_iter().find(|(k, _)| k == "options"))
        .and_then(|(_, v)| serde_json::from_str(&v).ok())
        .unwrap_or(Value::Null);
    let strings = |v: Option<&Value>| -> HashMap<String, String> {
        v.and_then(Value::as_object)
            .map(|m| {
                m.iter().map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_owned))).collect()
            })
            .unwrap_or_default()
    };
    let query = strings(options.get("query"));
    let headers: HashMap<String, String> = strings(options.get("headers"))
        .into_iter()
        .map(|(k, v)| (k.to_ascii_lowercase().replace('-', "_"), v))
        .collect();
    let (collection, record) = match path.split_once('/') {
        Some((c, "*")) => (app.collection_ref(c), None),
        Some((c, id)) => (app.collection_ref(c), Some(id.to_owned())),
        None => (None, None),
    };
    let filter = match (collection, query.get("filter").filter(|f| !f.trim().is_empty())) {
        (Some(coll), Some(text)) => Some(check_filter(app, coll, text, req)),
        _ => None,
    };
    // The identity the client will have: its first request sets it, later ones must match.
    let caller = req.auth.as_ref().map_or_else(String::new, |a| {
        format!("{}/{}", a.collection.ir.name, a.record.get(system::ID).and_then(Value::as_str).unwrap_or_default())
    });
    let who = (caller, if options.is_null() { String::new() } else { options.to_string() });
    Some(Topic {
        name: raw.into(),
        collection: collection.map(|c| c.ir.name.clone()),
        record,
        query,
        headers,
        filter,
        who,
    })
}

fn check_filter(app: &AppState, coll: &Coll, text: &str, req: &RequestCx) -> Filter {
    // the same refusals as the REST API's `?filter=` (too long, `@request` for non-superusers…)
    if query::compile_filter(app, coll, text, req.is_superuser(), app.db().dialect(), 1).is_err() {
        return Filter::Never;
    }
    let cx = Context::filter(app.schema(), &coll.ir);
    match check_expr(&cx, text, &mut baas_schema::Diagnostics::new()) {
        // (an e-mail is read only where visible, which the SQL form knows)
        Some(texpr) if lookups(&texpr).is_empty() && (req.is_superuser() || !query::reads_email(app, &texpr)) => {
            Filter::Memory(texpr)
        }
        Some(_) => Filter::Sql(text.to_owned()),
        None => Filter::Never,
    }
}

// --- dispatching --------------------------------------------------------------------------------

/// The list and view rules, typed, and whether each can be judged in memory.
struct Rules {
    memory: BTreeMap<(String, Action), TExpr>,
}

impl Rules {
    fn new(schema: &Schema) -> Rules {
        let mut user = schema.clone();
        user.collections.retain(|c| c.name != system::SUPERUSERS);
        let checked = baas_schema::check::check(&user, &mut baas_schema::Diagnostics::new());
        let mut memory = BTreeMap::new();
        for ((collection, action), texpr) in checked.map(|c| c.rules).unwrap_or_default() {
            if matches!(action, Action::List | Action::View) {
                let needs = lookups(&texpr);
                if needs.is_empty() {
                    memory.insert((collection, action), texpr);
                } else {
                    tracing::debug!("realtime: the {} rule of {collection} reads {}", action.name(), needs.join(", "));
                }
            }
        }
        Rules { memory }
    }
}

async fn dispatch_loop(app: AppState, rules: Arc<Rules>, mut rx: mpsc::Receiver<Change>) {
    while let Some(first) = rx.recv().await {
        // Changes that queued up meanwhile are judged together: one database visit for all
        // the SQL checks they need.
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(change) => batch.push(change),
                Err(_) => break,
            }
        }
        if let Err(e) = dispatch(&app, &rules, batch).await {
            tracing::warn!("realtime: events were not delivered: {}", e.message);
        }
    }
}

/// What a subscriber is, for the caches: the caller and the topic's options.
type Identity = (String, String);

/// A check whose answer is shared by every subscriber with the same identity.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Check<'a> {
    /// The list or view rule.
    Rule(Action, &'a Identity),
    /// A topic's filter option.
    Filter(&'a str, &'a Identity),
}

/// A client's identity and the topics it had when the batch started.
struct Subscriber {
    client: Arc<Client>,
    auth: Option<Caller>,
    topics: Vec<Arc<Topic>>,
}

/// One change with its collection, ready to be judged.
struct Event {
    coll: Arc<Coll>,
    change: Change,
    id: String,
}

impl Event {
    /// The topics of `sub` this event concerns.
    fn topics<'s>(&self, sub: &'s Subscriber) -> impl Iterator<Item = &'s Arc<Topic>> {
        sub.topics.iter().filter(|t| {
            t.collection.as_deref() == Some(self.coll.ir.name.as_str())
                && t.record.as_deref().is_none_or(|id| id == self.id)
        })
    }
}

fn action(topic: &Topic) -> Action {
    if topic.record.is_some() { Action::View } else { Action::List }
}

/// Sends each change to every subscriber that may see it, in order.
async fn dispatch(app: &AppState, rules: &Rules, changes: Vec<Change>) -> ApiResult<()> {
    let mut events = Vec::new();
    for mut change in changes {
        let Some(coll) = app.collection(&change.collection) else { continue };
        let id = change.record.get(system::ID).and_then(Value::as_str).unwrap_or_default().to_owned();
        if change.by_reference && change.kind != Kind::Delete {
            let (c, rid) = (coll.clone(), id.clone());
            match app.db().read(move |conn| records::fetch_unchecked(conn, &c, &rid)).await? {
                Some(record) => change.record = record,
                None => continue,
            }
        }
        events.push(Event { coll, change, id });
    }
    let subscribers: Vec<Subscriber> = hub(app)
        .clients
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .values()
        .map(|client| {
            let subs = client.subs.lock().unwrap_or_else(|p| p.into_inner());
            Subscriber { client: client.clone(), auth: subs.auth.clone(), topics: subs.topics.clone() }
        })
        .collect();
    let answers = sql_checks(app, rules, &events, &subscribers).await?;
    for (i, event) in events.iter().enumerate() {
        deliver(app, rules, event, &subscribers, |check| answers.get(&(i, *check)).copied()).await?;
    }
    Ok(())
}

/// Runs, in one visit to the database, every check of the batch that needs SQL: at most one
/// per event and distinct (rule or filter, identity).
async fn sql_checks<'a>(
    app: &AppState,
    rules: &Rules,
    events: &[Event],
    subscribers: &'a [Subscriber],
) -> ApiResult<HashMap<(usize, Check<'a>), bool>> {
    let mut keys: Vec<(usize, Check<'a>)> = Vec::new();
    let mut jobs: Vec<(Arc<Coll>, Record, RequestCx, Option<Action>, Option<String>)> = Vec::new();
    let mut planned = std::collections::HashSet::new();
    for (i, event) in events.iter().enumerate() {
        for sub in subscribers {
            for topic in event.topics(sub) {
                let req = || subscriber(&sub.auth, topic);
                let rule = Check::Rule(action(topic), &topic.who);
                if !planned.contains(&(i, rule))
                    && judge_rule(rules, &event.coll, action(topic), &event.change.record, &req()).is_none()
                {
                    planned.insert((i, rule));
                    keys.push((i, rule));
                    jobs.push((event.coll.clone(), event.change.record.clone(), req(), Some(action(topic)), None));
                }
                if let Some(Filter::Sql(text)) = &topic.filter {
                    let check = Check::Filter(&topic.name, &topic.who);
                    if planned.insert((i, check)) {
                        keys.push((i, check));
                        jobs.push((event.coll.clone(), event.change.record.clone(), req(), None, Some(text.clone())));
                    }
                }
            }
        }
    }
    if jobs.is_empty() {
        return Ok(HashMap::new());
    }
    hub(&app).sql_checks.fetch_add(jobs.len(), Ordering::Relaxed);
    let app2 = app.clone();
    let answers = app
        .db()
        .read(move |conn| -> ApiResult<_> {
            let mut answers = Vec::with_capacity(jobs.len());
            for (coll, record, req, rule, filter) in jobs {
                let ok = match (rule, filter) {
                    (Some(action), _) => {
                        let gate = records::gate(&coll, action, &req, conn.dialect())?;
                        records::rule_admits(conn, &coll, &record, &gate, &req)?
                    }
                    (None, Some(text)) => {
                        let fragment =
                            query::compile_filter(&app2, &coll, &text, req.is_superuser(), conn.dialect(), 1)?;
                        records::rule_admits(conn, &coll, &record, &records::Gate::Filter(&fragment), &req)?
                    }
                    (None, None) => false,
                };
                answers.push(ok);
            }
            Ok(answers)
        })
        .await?;
    Ok(keys.into_iter().zip(answers).collect())
}

/// Delivers one event; `sql` answers the checks [`sql_checks`] ran.
async fn deliver<'a>(
    app: &AppState,
    rules: &Rules,
    event: &Event,
    subscribers: &'a [Subscriber],
    sql: impl Fn(&Check<'a>) -> Option<bool>,
) -> ApiResult<()> {
    let mut judged: HashMap<Check<'a>, bool> = HashMap::new();
    let mut shaped: HashMap<&'a Identity, Arc<str>> = HashMap::new();
    for sub in subscribers {
        for topic in event.topics(sub) {
            let who = &topic.who;
            let req = || subscriber(&sub.auth, topic);
            let rule = Check::Rule(action(topic), who);
            let ok = match judged.get(&rule) {
                Some(ok) => *ok,
                None => {
                    let ok = judge_rule(rules, &event.coll, action(topic), &event.change.record, &req())
                        .or_else(|| sql(&rule))
                        .unwrap_or(false);
                    judged.insert(rule, ok);
                    ok
                }
            };
            if !ok {
                continue;
            }
            let passes = match &topic.filter {
                None => true,
                Some(Filter::Never) => false,
                Some(filter) => {
                    let check = Check::Filter(&topic.name, who);
                    match judged.get(&check) {
                        Some(ok) => *ok,
                        None => {
                            let ok = match filter {
                                Filter::Memory(texpr) => eval(texpr, &event.change.record, &req()) == Some(true),
                                _ => sql(&check).unwrap_or(false),
                            };
                            judged.insert(check, ok);
                            ok
                        }
                    }
                }
            };
            if !passes {
                continue;
            }
            let data = match shaped.get(&who) {
                Some(data) => data.clone(),
                None => {
                    let data: Arc<str> = shape(app, &event.coll, &event.change, &req()).await?.into();
                    shaped.insert(who, data.clone());
                    data
                }
            };
            match sub.client.tx.try_send(Message { event: topic.name.clone(), data }) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => {
                    tracing::info!("realtime: client {} is too slow, dropping it", sub.client.id);
                    hub(&app).remove(&sub.client.id);
                    break;
                }
                Err(mpsc::error::TrySendError::Closed(_)) => break,
            }
        }
    }
    Ok(())
}

/// The request a subscriber's rules see: its identity, and the topic's query and headers.
fn subscriber(auth: &Option<Caller>, topic: &Topic) -> RequestCx {
    RequestCx {
        auth: auth.clone(),
        query: topic.query.clone(),
        headers: topic.headers.clone(),
        method: "GET".into(),
        body: None,
        uploads: Vec::new(),
        now: time::OffsetDateTime::now_utc(),
    }
}

/// Whether the collection's list or view rule admits `record` for `req`, when that can be told
/// without the database (`None`: the rule reads other rows).
fn judge_rule(rules: &Rules, coll: &Coll, action: Action, record: &Record, req: &RequestCx) -> Option<bool> {
    if req.is_superuser() {
        return Some(true);
    }
    let rule = if action == Action::List { &coll.rules.list } else { &coll.rules.view };
    match rule {
        None => Some(false),
        Some(CompiledRule::Public) => Some(true),
        Some(CompiledRule::Filter { .. }) => {
            rules.memory.get(&(coll.ir.name.clone(), action)).map(|texpr| eval(texpr, record, req) == Some(true))
        }
    }
}

/// The event's data for one subscriber: `{"action", "record"}`, the record presented as the
/// REST API would present it to them, with their `expand` and `fields`.
async fn shape(app: &AppState, coll: &Arc<Coll>, change: &Change, req: &RequestCx) -> ApiResult<String> {
    let mut record = change.record.clone();
    let cx = HookContext { auth: req.auth.as_ref().map(|a| &a.record), superuser: req.is_superuser() };
    coll.hooks.on_read(&mut record, &cx);
    let record = records::present(coll, record, req);
    let record = if req.query.get("expand").is_some_and(|e| !e.trim().is_empty()) {
        let (app2, c, req) = (app.clone(), coll.clone(), clone_request(req));
        app.db()
            .read(move |conn| -> ApiResult<_> {
                Ok(expand::expand_all(&app2, conn, vec![record], &c, &req)?.pop().unwrap_or_default())
            })
            .await?
    } else {
        record
    };
    let mut record = Value::Object(record);
    if let Some(fields) = req.query.get("fields") {
        query::pick_fields(&mut record, fields);
    }
    Ok(json!({"action": kind_name(change.kind), "record": record}).to_string())
}

fn clone_request(req: &RequestCx) -> RequestCx {
    RequestCx {
        auth: req.auth.clone(),
        query: req.query.clone(),
        headers: req.headers.clone(),
        method: req.method.clone(),
        body: req.body.clone(),
        // Subscribers' requests carry no files.
        uploads: Vec::new(),
        now: req.now,
    }
}

#[cfg(test)]
mod tests {
    use baas_schema::sql::{Target, compile, quote};

    use super::*;
    use crate::collection::{CollectionSpec, NoHooks, RuleSet};
    use crate::db::Db;

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
            .map_err(|e| e.to_string())
        })
        .expect("the tables");
        let mut schema = checked.schema.clone();
        schema.collections.push(system::superusers());
        // No test here stores files; the folder is never written.
        let storage =
            crate::storage::Storage::local(&std::env::temp_dir().join("baas-realtime-unit")).expect("a local storage");
        AppState::new(db, schema, specs, b"secret".to_vec(), storage, Arc::new(Hub::new()))
    }

    fn record(fields: Value) -> Record {
        fields.as_object().cloned().unwrap_or_default()
    }

    fn change(collection: &str, fields: Value) -> Change {
        Change { collection: collection.into(), kind: Kind::Create, record: record(fields), by_reference: false }
    }

    /// A client subscribed to `topic` as `auth` (a user id; `None`: anonymous).
    fn subscribed(app: &AppState, topic: &str, auth: Option<&str>) -> (Arc<Client>, mpsc::Receiver<Message>) {
        let (client, rx) = hub(&app).join();
        let mut req = RequestCx::system();
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
        let rules = Rules::new(app.schema());
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
        let rules = Rules::new(app.schema());
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
        let rules = Rules::new(app.schema());
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
        let req = RequestCx::system();
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
