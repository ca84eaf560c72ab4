//! Dispatching: which subscribers each committed change reaches (their rules judged in memory
//! or in SQL, once per identity), and the record shaped for each.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use baas_schema::check::TExpr;
use baas_schema::eval::{eval, lookups_on};
use baas_schema::ir::{Action, Schema, system};
use baas_schema::sql::Dialect;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::collection::{Coll, CompiledRule, Record};
use crate::error::ApiResult;
use crate::query;
use crate::records::{self, expand};
use crate::request::{Caller, RequestCx};
use crate::state::{AppState, ChangeKind};

use super::*;

/// The list and view rules, typed, and whether each can be judged in memory.
pub(super) struct Rules {
    memory: BTreeMap<(String, Action), TExpr>,
}

impl Rules {
    /// Rules that `dialect`'s SQL would judge differently in memory go to SQL too
    /// ([`lookups_on`]).
    pub(super) fn new(schema: &Schema, dialect: Dialect) -> Rules {
        let mut user = schema.clone();
        user.collections.retain(|c| c.name != system::SUPERUSERS);
        let checked = baas_schema::check::check(&user, &mut baas_schema::Diagnostics::new());
        let mut memory = BTreeMap::new();
        for ((collection, action), texpr) in checked.map(|c| c.rules).unwrap_or_default() {
            if matches!(action, Action::List | Action::View) {
                let needs = lookups_on(&texpr, dialect);
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

pub(super) async fn dispatch_loop(app: AppState, rules: Arc<Rules>, mut rx: mpsc::Receiver<Published>) {
    while let Some(first) = rx.recv().await {
        // Changes that queued up meanwhile are judged together: one database visit for all
        // the SQL checks they need. A custom message goes out in its place in the order.
        let mut queued = vec![first];
        while queued.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(published) => queued.push(published),
                Err(_) => break,
            }
        }
        let mut batch = Vec::new();
        for published in queued {
            match published {
                Published::Change(change) => batch.push(change),
                Published::Custom { topic, data } => {
                    dispatch_logged(&app, &rules, std::mem::take(&mut batch)).await;
                    deliver_custom(&app, &topic, &data);
                }
            }
        }
        dispatch_logged(&app, &rules, batch).await;
    }
}

async fn dispatch_logged(app: &AppState, rules: &Rules, batch: Vec<Change>) {
    if batch.is_empty() {
        return;
    }
    if let Err(e) = dispatch(app, rules, batch).await {
        tracing::warn!("realtime: events were not delivered: {e}");
    }
}

/// Sends `data` to every client subscribed to the custom `topic` that the topic admits.
pub(super) fn deliver_custom(app: &AppState, topic: &str, data: &Value) {
    let hub = hub(app);
    let Some(admit) = hub.admit(topic) else { return };
    let data: Arc<str> = data.to_string().into();
    let clients: Vec<Arc<Client>> = hub.clients.read().unwrap_or_else(|p| p.into_inner()).values().cloned().collect();
    // the OAuth2 popup flow: a code goes to the one client whose id is its state
    let only = (topic == crate::oauth2::TOPIC).then(|| data_state(&data));
    for client in clients {
        if only.as_ref().is_some_and(|state| *state != client.id) {
            continue;
        }
        let (name, auth) = {
            let subs = client.subs.lock().unwrap_or_else(|p| p.into_inner());
            let Some(subscribed) = subs.topics.iter().find(|t| t.collection.is_none() && t.path() == topic) else {
                continue;
            };
            (subscribed.name.clone(), subs.auth.clone())
        };
        if !admit(auth.as_ref()) {
            continue;
        }
        if let Err(mpsc::error::TrySendError::Full(_)) = client.tx.try_send(Message { event: name, data: data.clone() })
        {
            tracing::info!("realtime: client {} is too slow, dropping it", client.id);
            hub.remove(&client.id);
        }
    }
}

/// What a subscriber is, for the caches: the caller and the topic's options.
pub(super) type Identity = (String, String);

/// A check whose answer is shared by every subscriber with the same identity.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Check<'a> {
    /// The list or view rule.
    Rule(Action, &'a Identity),
    /// A topic's filter option.
    Filter(&'a str, &'a Identity),
}

/// A client's identity and the topics it had when the batch started.
pub(super) struct Subscriber {
    client: Arc<Client>,
    auth: Option<Caller>,
    topics: Vec<Arc<Topic>>,
}

/// One change with its collection, ready to be judged.
pub(super) struct Event {
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

pub(super) fn action(topic: &Topic) -> Action {
    if topic.record.is_some() { Action::View } else { Action::List }
}

/// Sends each change to every subscriber that may see it, in order.
pub(super) async fn dispatch(app: &AppState, rules: &Rules, changes: Vec<Change>) -> ApiResult<()> {
    let mut events = Vec::new();
    for mut change in changes {
        let Some(coll) = app.collection(&change.collection) else { continue };
        let id = change.record.get(system::ID).and_then(Value::as_str).unwrap_or_default().to_owned();
        if change.by_reference && change.kind != ChangeKind::Delete {
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
pub(super) async fn sql_checks<'a>(
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
pub(super) async fn deliver<'a>(
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
pub(super) fn subscriber(auth: &Option<Caller>, topic: &Topic) -> RequestCx {
    RequestCx {
        auth: auth.clone(),
        query: topic.query.clone(),
        headers: topic.headers.clone(),
        method: "GET".into(),
        body: None,
        uploads: Vec::new(),
        now: time::OffsetDateTime::now_utc(),
        system: false,
    }
}

/// Whether the collection's list or view rule admits `record` for `req`, when that can be told
/// without the database (`None`: the rule reads other rows).
pub(super) fn judge_rule(rules: &Rules, coll: &Coll, action: Action, record: &Record, req: &RequestCx) -> Option<bool> {
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
pub(super) async fn shape(app: &AppState, coll: &Arc<Coll>, change: &Change, req: &RequestCx) -> ApiResult<String> {
    let mut record = change.record.clone();
    coll.hooks.on_read(&mut record, &req.hook_context());
    let record = records::present(coll, record, req);
    let record = if req.query.get("expand").is_some_and(|e| !e.trim().is_empty()) {
        let (app2, c, req) = (app.clone(), coll.clone(), req.with_body(req.body.clone()));
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

/// The `state` of an `@oauth2` message: the id of the client it is for.
fn data_state(data: &str) -> String {
    serde_json::from_str::<Value>(data)
        .ok()
        .and_then(|v| v.get("state")?.as_str().map(str::to_owned))
        .unwrap_or_default()
}
