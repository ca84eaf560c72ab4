//! Publishing: changes announced from inside the write transaction, delivered to this
//! instance after the commit and, on PostgreSQL, to the others with `pg_notify`.

use std::time::Duration;

use baas_schema::ir::{FieldType, system};
use baas_schema::sql::Dialect;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::collection::{Coll, Record};
use crate::db::{Conn, SqlValue};
use crate::state::{ChangeKind, ChangeSink};

use super::*;

impl ChangeSink for Hub {
    /// Announces a change of `record` in `coll`, from inside the write transaction: delivered
    /// after the commit, never for a rollback.
    fn changed(&self, conn: &Conn<'_>, coll: &Coll, kind: ChangeKind, record: &Record) {
        publish(self, conn, coll, kind, record);
    }

    /// Publishes `data` to the crate's own `topic`, from inside a transaction: delivered after
    /// the commit, never for a rollback.
    fn message(&self, conn: &Conn<'_>, topic: &str, data: &Value) -> Result<(), String> {
        if self.admit(topic).is_none() {
            return Err(format!("no realtime topic '{topic}' is declared (Backend::topic)"));
        }
        let published = Published::Custom { topic: topic.to_owned(), data: data.clone() };
        if conn.dialect() == Dialect::Postgres {
            let payload = json!({"o": self.origin, "t": topic, "d": data}).to_string();
            if payload.len() > MAX_PAYLOAD {
                return Err(format!("a message to '{topic}' is {} bytes; at most {MAX_PAYLOAD} travel", payload.len()));
            }
            send_notification(conn, payload);
        }
        if self.clients() > 0 {
            let tx = self.changes.clone();
            conn.after_commit(move || drop(tx.blocking_send(published)));
        }
        Ok(())
    }
}

pub(super) fn publish(hub: &Hub, conn: &Conn<'_>, coll: &Coll, kind: ChangeKind, record: &Record) {
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
        conn.after_commit(move || drop(tx.blocking_send(Published::Change(change))));
    }
}

/// Sends `change` to the other instances, as part of the transaction.
pub(super) fn notify(conn: &Conn<'_>, origin: &str, change: &Change) {
    let mut payload =
        json!({"o": origin, "c": change.collection, "k": kind_name(change.kind), "r": change.record}).to_string();
    if payload.len() > MAX_PAYLOAD {
        let id = change.record.get(system::ID).cloned().unwrap_or(Value::Null);
        payload =
            json!({"o": origin, "c": change.collection, "k": kind_name(change.kind), "r": {"id": id}, "ref": true})
                .to_string();
    }
    send_notification(conn, payload);
}

fn send_notification(conn: &Conn<'_>, payload: String) {
    let sent = conn.execute("SELECT pg_notify($1, $2)", &[SqlValue::Text(CHANNEL.into()), SqlValue::Text(payload)]);
    if let Err(e) = sent {
        tracing::warn!("realtime: cannot notify other instances: {e}");
    }
}

/// Listens for the other instances' changes on a connection of its own, reconnecting when it
/// is lost. `ready` fires once `LISTEN` is in place (or the first attempt failed).
pub(super) fn listen(
    config: postgres::Config,
    origin: String,
    tx: mpsc::Sender<Published>,
    ready: tokio::sync::oneshot::Sender<()>,
) {
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

pub(super) fn parse_notification(payload: &str, origin: &str) -> Option<Published> {
    let v: Value = serde_json::from_str(payload).ok()?;
    if v.get("o")?.as_str()? == origin {
        return None; // this instance's own change, already dispatched locally
    }
    if let Some(topic) = v.get("t") {
        let data = v.get("d").cloned().unwrap_or(Value::Null);
        return Some(Published::Custom { topic: topic.as_str()?.to_owned(), data });
    }
    Some(Published::Change(Change {
        collection: v.get("c")?.as_str()?.to_owned(),
        kind: kind_from_name(v.get("k")?.as_str()?)?,
        record: v.get("r")?.as_object()?.clone(),
        by_reference: v.get("ref").is_some(),
    }))
}
