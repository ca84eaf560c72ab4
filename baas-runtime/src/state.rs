//! The state of a running backend: the schema, its collections with their rules and hooks,
//! the database, the file storage and where committed changes go (this instance's realtime
//! hub). Handlers share it.

use std::any::Any;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use baas_schema::ir::{Schema, Settings, system};
use serde_json::Value;

use crate::collection::{Coll, CollectionSpec, NoHooks, Record, RecordHooks, RuleSet};
use crate::db::{Conn, Db};
use crate::mail::MailSettings;
use crate::oauth2::OAuth2;
use crate::outbox::Outbox;
use crate::ratelimit::Limiter;
use crate::storage::Storage;

/// Every rule of `schema` typed by the checker (`_superusers`, built in, has none).
fn checked_rules(schema: &Schema) -> BTreeMap<(String, baas_schema::ir::Action), baas_schema::check::TExpr> {
    let mut user = schema.clone();
    user.collections.retain(|c| c.name != system::SUPERUSERS);
    let mut diags = baas_schema::Diagnostics::new();
    match baas_schema::check::check(&user, &mut diags) {
        Some(checked) => checked.rules,
        None => {
            tracing::error!("the embedded schema does not check; relation filters will see nothing");
            BTreeMap::new()
        }
    }
}

/// What happened to a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    Create,
    Update,
    Delete,
}

/// Told of every record the records engine creates, updates or deletes (cascades included),
/// from inside the write transaction; what it does with the change must wait for the commit
/// ([`Conn::after_commit`]). The realtime hub is one; the records engine knows only this trait.
pub trait ChangeSink: Any + Send + Sync {
    fn changed(&self, conn: &Conn<'_>, coll: &Coll, kind: ChangeKind, record: &Record);

    /// Custom code publishes `data` to its own realtime `topic`, inside the transaction; an
    /// error says why it cannot travel (an undeclared topic, a message too large).
    fn message(&self, conn: &Conn<'_>, topic: &str, data: &Value) -> Result<(), String>;
}

/// A sink that drops every change: a state without realtime (command-line tools, benchmarks).
pub struct NoChanges;

impl ChangeSink for NoChanges {
    fn changed(&self, _: &Conn<'_>, _: &Coll, _: ChangeKind, _: &Record) {}

    fn message(&self, _: &Conn<'_>, _: &str, _: &Value) -> Result<(), String> {
        Ok(())
    }
}

/// The services a backend runs beside its collections: how mail is addressed, the outbox
/// that delivers it, and the rate limits.
#[derive(Default)]
pub struct Services {
    pub mail: MailSettings,
    pub outbox: Arc<Outbox>,
    pub limiter: Limiter,
    pub oauth2: OAuth2,
}

/// The shared state of a running backend: cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    schema: Schema,
    settings: Settings,
    collections: BTreeMap<String, Arc<Coll>>,
    by_id: BTreeMap<String, String>,
    secret: Vec<u8>,
    storage: Storage,
    changes: Arc<dyn ChangeSink>,
    mail: MailSettings,
    outbox: Arc<Outbox>,
    limiter: Limiter,
    oauth2: OAuth2,
    /// The async runtime the state was made in, for work that starts on database threads
    /// (after-commit hooks).
    runtime: Option<tokio::runtime::Handle>,
}

impl AppState {
    /// Assembles the state; `schema` must already include `_superusers`.
    pub fn new(
        db: Db,
        schema: Schema,
        specs: Vec<CollectionSpec>,
        secret: Vec<u8>,
        storage: Storage,
        changes: Arc<dyn ChangeSink>,
        services: Services,
    ) -> Self {
        let mut collections = BTreeMap::new();
        let mut by_id = BTreeMap::new();
        let mut specs: BTreeMap<&str, CollectionSpec> = specs.into_iter().map(|s| (s.name, s)).collect();
        let checked = checked_rules(&schema);
        for ir in &schema.collections {
            let spec = specs.remove(ir.name.as_str());
            let (rules, hooks): (RuleSet, Arc<dyn RecordHooks>) = match spec {
                Some(s) => (s.rules, s.hooks),
                None => (RuleSet::default(), Arc::new(NoHooks)),
            };
            let table = baas_schema::sql::quote(&ir.name);
            let columns = ir
                .fields
                .iter()
                .map(|f| format!("{table}.{}", baas_schema::sql::quote(&f.name)))
                .collect::<Vec<_>>()
                .join(", ");
            by_id.insert(ir.id.clone(), ir.name.clone());
            let list_rule = checked.get(&(ir.name.clone(), baas_schema::ir::Action::List)).cloned();
            collections.insert(ir.name.clone(), Arc::new(Coll { ir: ir.clone(), rules, hooks, columns, list_rule }));
        }
        let settings = schema.settings.clone();
        let runtime = tokio::runtime::Handle::try_current().ok();
        AppState {
            inner: Arc::new(Inner {
                db,
                schema,
                settings,
                collections,
                by_id,
                secret,
                storage,
                changes,
                mail: services.mail,
                outbox: services.outbox,
                limiter: services.limiter,
                oauth2: services.oauth2,
                runtime,
            }),
        }
    }

    /// Runs `work` on the async runtime, from any thread (after-commit hooks start on the
    /// database's threads).
    pub fn spawn(&self, work: impl Future<Output = ()> + Send + 'static) {
        match &self.inner.runtime {
            Some(runtime) => drop(runtime.spawn(work)),
            None => tracing::error!("after-commit work dropped: the state was made outside an async runtime"),
        }
    }

    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    pub fn schema(&self) -> &Schema {
        &self.inner.schema
    }

    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    pub fn secret(&self) -> &[u8] {
        &self.inner.secret
    }

    /// Where uploaded files live.
    pub fn storage(&self) -> &Storage {
        &self.inner.storage
    }

    /// How mails are addressed (application name and URL, sender).
    pub fn mail(&self) -> &MailSettings {
        &self.inner.mail
    }

    /// The outbox's worker side: wake it after committing messages.
    pub fn outbox(&self) -> &Arc<Outbox> {
        &self.inner.outbox
    }

    /// The OAuth2 providers.
    pub fn oauth2(&self) -> &OAuth2 {
        &self.inner.oauth2
    }

    /// The rate limits.
    pub fn limiter(&self) -> &Limiter {
        &self.inner.limiter
    }

    /// Where the records engine announces every change it writes.
    pub fn changes(&self) -> &dyn ChangeSink {
        &*self.inner.changes
    }

    /// A collection by name or by id.
    pub fn collection(&self, name_or_id: &str) -> Option<Arc<Coll>> {
        self.lookup(name_or_id).cloned()
    }

    /// A collection by name or id, borrowed from the state.
    pub fn collection_ref(&self, name_or_id: &str) -> Option<&Coll> {
        self.lookup(name_or_id).map(|c| &**c)
    }

    fn lookup(&self, name_or_id: &str) -> Option<&Arc<Coll>> {
        let name = self.inner.by_id.get(name_or_id).map_or(name_or_id, String::as_str);
        self.inner.collections.get(name)
    }

    pub fn collections(&self) -> impl Iterator<Item = &Arc<Coll>> {
        self.inner.collections.values()
    }

    /// The schema IR parsed from generated JSON, with `_superusers` added.
    pub fn load_schema(json: &str) -> Result<Schema, serde_json::Error> {
        let mut schema: Schema = serde_json::from_str(json)?;
        if schema.collection(system::SUPERUSERS).is_none() {
            schema.collections.push(system::superusers());
        }
        Ok(schema)
    }
}
