//! The application a generated crate assembles: the schema, each collection's compiled rules
//! and hooks, the database, and the state handlers share.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use baas_schema::ir::{Collection, Schema, Settings, system};
use baas_schema::sql::{Dialect, Fragment};
use serde_json::{Map, Value};

use crate::db::Db;
use crate::error::ApiResult;
use crate::storage::Storage;

/// A record as the runtime handles it: canonical API JSON by field name.
pub type Record = Map<String, Value>;

/// A collection's rule, compiled by the generator.
#[derive(Clone, Debug)]
pub enum CompiledRule {
    /// `""`: everyone.
    Public,
    /// A predicate, per dialect.
    Filter { sqlite: Fragment, postgres: Fragment },
}

impl CompiledRule {
    pub fn fragment(&self, dialect: Dialect) -> Option<&Fragment> {
        match (self, dialect) {
            (CompiledRule::Public, _) => None,
            (CompiledRule::Filter { sqlite, .. }, Dialect::Sqlite) => Some(sqlite),
            (CompiledRule::Filter { postgres, .. }, Dialect::Postgres) => Some(postgres),
        }
    }
}

/// The five rules; `None` means superusers only.
#[derive(Clone, Debug, Default)]
pub struct RuleSet {
    pub list: Option<CompiledRule>,
    pub view: Option<CompiledRule>,
    pub create: Option<CompiledRule>,
    pub update: Option<CompiledRule>,
    pub delete: Option<CompiledRule>,
}

/// What a hook sees besides the record.
pub struct HookContext<'a> {
    /// The authenticated record, if any.
    pub auth: Option<&'a Record>,
    pub superuser: bool,
}

/// Record hooks over JSON records; generated code adapts its typed hook traits to this.
/// `before_*` hooks run inside the write transaction and can refuse with an [`crate::ApiError`].
pub trait RecordHooks: Send + Sync + 'static {
    fn before_create(&self, _record: &mut Record, _cx: &HookContext<'_>) -> ApiResult<()> {
        Ok(())
    }
    fn after_create(&self, _record: &Record, _cx: &HookContext<'_>) {}
    fn before_update(&self, _old: &Record, _new: &mut Record, _cx: &HookContext<'_>) -> ApiResult<()> {
        Ok(())
    }
    fn after_update(&self, _record: &Record, _cx: &HookContext<'_>) {}
    fn before_delete(&self, _record: &Record, _cx: &HookContext<'_>) -> ApiResult<()> {
        Ok(())
    }
    fn after_delete(&self, _record: &Record, _cx: &HookContext<'_>) {}
    /// Called for each record a list or view returns, before it is shaped for the client.
    fn on_read(&self, _record: &mut Record, _cx: &HookContext<'_>) {}
}

/// One of the record hooks, for [`HookDefaults`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hook {
    BeforeCreate,
    AfterCreate,
    BeforeUpdate,
    AfterUpdate,
    BeforeDelete,
    AfterDelete,
    OnRead,
}

std::thread_local! {
    /// The collection and hook whose default body ran last on this thread.
    static DEFAULT_RAN: std::cell::Cell<Option<(&'static str, Hook)>> = const { std::cell::Cell::new(None) };
}

/// Which of a collection's typed hooks are left at their defaults (which do nothing), learned
/// from each hook's first call. The generated hook traits' default bodies call
/// [`HookDefaults::ran_default`]; the generated adapter converts a record to the typed struct
/// and back only for hooks not known to be defaults, so a backend without hooks pays no JSON
/// round trip per record read or written (about a third of a list page's CPU time, measured in
/// bench/RESULTS.md).
#[derive(Debug, Default)]
pub struct HookDefaults([std::sync::atomic::AtomicU8; 7]);

impl HookDefaults {
    const UNKNOWN: u8 = 0;
    const DEFAULT: u8 = 1;
    const CUSTOM: u8 = 2;

    /// Called by the default body of `hook` of `collection`.
    pub fn ran_default(collection: &'static str, hook: Hook) {
        DEFAULT_RAN.set(Some((collection, hook)));
    }

    /// Whether `hook` is known to be the default: nothing to call, nothing to convert.
    pub fn skips(&self, hook: Hook) -> bool {
        self.0[hook as usize].load(std::sync::atomic::Ordering::Relaxed) == Self::DEFAULT
    }

    /// Calls `f`, which calls `hook` of `collection`, and learns whether that was the default:
    /// returns what `f` returned and whether it was (then the typed record is unchanged).
    pub fn run<T>(&self, collection: &'static str, hook: Hook, f: impl FnOnce() -> T) -> (T, bool) {
        DEFAULT_RAN.set(None);
        let out = f();
        let default = DEFAULT_RAN.take() == Some((collection, hook));
        let state = self.0[hook as usize].load(std::sync::atomic::Ordering::Relaxed);
        if state == Self::UNKNOWN {
            let learned = if default { Self::DEFAULT } else { Self::CUSTOM };
            self.0[hook as usize].store(learned, std::sync::atomic::Ordering::Relaxed);
        }
        (out, default)
    }
}

/// Hooks that do nothing (the built-in `_superusers` collection).
pub struct NoHooks;
impl RecordHooks for NoHooks {}

/// One collection as generated code describes it.
pub struct CollectionSpec {
    pub name: &'static str,
    pub rules: RuleSet,
    pub hooks: Arc<dyn RecordHooks>,
}

/// An embedded migration: its file name and SQL, per dialect.
#[derive(Clone, Copy, Debug)]
pub struct Migration {
    pub name: &'static str,
    pub sql: &'static str,
}

/// Everything a generated crate hands the runtime.
pub struct Backend {
    /// The schema IR as JSON (`src/generated/schema.json`).
    pub schema_json: &'static str,
    /// The OpenAPI document (`src/generated/openapi.json`), served at `/api/openapi.json`.
    pub openapi_json: &'static str,
    pub collections: Vec<CollectionSpec>,
    pub sqlite_migrations: &'static [Migration],
    pub postgres_migrations: &'static [Migration],
    pub routes: Router<AppState>,
}

impl Backend {
    /// Adds the user's own routes (from `src/hooks.rs`).
    pub fn routes(mut self, routes: Router<AppState>) -> Self {
        self.routes = self.routes.merge(routes);
        self
    }
}

/// A collection at runtime.
pub struct Coll {
    pub ir: Collection,
    pub rules: RuleSet,
    pub hooks: Arc<dyn RecordHooks>,
    /// `"posts"."id", "posts"."title", …`: every column, in field order.
    pub columns: String,
    /// The list rule, typed: client filters reaching this collection through a relation are
    /// joined through it. `None`: superusers only.
    pub list_rule: Option<baas_schema::check::TExpr>,
}

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
    realtime: crate::realtime::Hub,
}

impl AppState {
    /// Assembles the state; `schema` must already include `_superusers`.
    pub fn new(db: Db, schema: Schema, specs: Vec<CollectionSpec>, secret: Vec<u8>, storage: Storage) -> Self {
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
        let realtime = crate::realtime::Hub::new();
        AppState { inner: Arc::new(Inner { db, schema, settings, collections, by_id, secret, storage, realtime }) }
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

    /// This instance's realtime subscribers.
    pub fn realtime(&self) -> &crate::realtime::Hub {
        &self.inner.realtime
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
    pub fn load_schema(json: &str) -> Result<Schema, String> {
        let mut schema: Schema =
            serde_json::from_str(json).map_err(|e| format!("the embedded schema is invalid: {e}"))?;
        if schema.collection(system::SUPERUSERS).is_none() {
            schema.collections.push(system::superusers());
        }
        Ok(schema)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hook is skipped once its default ran, never when a custom one ran, and a default of
    /// another collection (or another hook) running inside a custom hook does not count.
    #[test]
    fn hook_defaults_are_learned_from_the_first_call() {
        let defaults = HookDefaults::default();
        assert!(!defaults.skips(Hook::OnRead), "nothing known before the first call");
        let ((), default) = defaults.run("posts", Hook::OnRead, || HookDefaults::ran_default("posts", Hook::OnRead));
        assert!(default);
        assert!(defaults.skips(Hook::OnRead));

        let (n, default) = defaults.run("posts", Hook::BeforeCreate, || {
            // a custom hook that happens to call a default hook of comments
            HookDefaults::ran_default("comments", Hook::BeforeCreate);
            7
        });
        assert_eq!((n, default), (7, false));
        assert!(!defaults.skips(Hook::BeforeCreate));
        // a custom hook stays custom, whatever later calls do
        defaults.run("posts", Hook::BeforeCreate, || HookDefaults::ran_default("posts", Hook::BeforeCreate));
        assert!(!defaults.skips(Hook::BeforeCreate));
        assert!(!defaults.skips(Hook::AfterCreate));
    }
}
