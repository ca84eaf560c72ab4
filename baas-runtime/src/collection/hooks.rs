//! Record hooks: the typed hooks users implement per collection ([`CollectionHooks`] over the
//! collection's record type), the JSON record hooks the runtime calls ([`RecordHooks`]), the
//! adapter between the two ([`Typed`]), and how it learns which typed hooks are left at their
//! defaults.
//!
//! Three tiers: `before_*` and `after_*` run inside the write's transaction with a [`Tx`] (an
//! `Err` rolls back everything, the triggering write included); `after_*_commit` run once the
//! transaction committed, never for a write that rolled back, with a [`Data`] handle for new
//! transactions; `on_read` shapes each record a read returns.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::Value;

use crate::data::{Data, HookContext, Record, Tx, TypedRecord};
use crate::error::ApiResult;

/// A hook's work after the commit, ready to be spawned.
pub type Committed = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A write a hook is told about once it committed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    Create,
    Update,
    Delete,
}

/// A write requested over HTTP (`/api/batch` included), as [`CollectionHooks::on_request`]
/// sees it before any transaction.
pub struct WriteRequest<'r> {
    /// What is asked: an upsert (`PUT` in a batch) is a create or an update as the record
    /// exists when the hook runs.
    pub event: Event,
    /// The record's id, for an update or a delete (and a create that names one).
    pub id: Option<&'r str>,
    /// The fields as sent (JSON, or a multipart body's text parts; files apart): the hook may
    /// change them, and they are validated afterwards as if sent so.
    pub body: &'r mut Record,
    /// The caller and the request.
    pub context: HookContext<'r>,
}

/// The future [`RecordHooks::on_request`] returns.
pub type Requested<'a> = Pin<Box<dyn Future<Output = ApiResult<()>> + Send + 'a>>;

/// The hooks of the collection whose records are `R`, implemented in `src/hooks.rs`
/// (`impl CollectionHooks<Post> for Hooks {}`). Every method has a default that does nothing;
/// override what you need. A hook left at its default costs nothing: records are not converted
/// for it (see [`HookDefaults`]).
///
/// `on_request` runs first, for writes over HTTP only, before any transaction: the place for
/// calls out that decide whether a write may happen.
/// `before_*`/`after_*` run in the write's transaction, for writes over HTTP, from custom code
/// and from cascades alike (a cascade's hooks get a [`Tx::system`] handle); what they write
/// with `tx` commits or rolls back with the triggering write. `after_*_commit` run after the
/// commit, on the async runtime: the place for mail, webhooks and other calls out.
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not implement the hooks of `{R}`",
    label = "the hooks of `{R}` are missing",
    note = "add `impl baas_runtime::CollectionHooks<{R}> for {Self} {{}}` to src/hooks.rs (every method has a default)"
)]
pub trait CollectionHooks<R: TypedRecord>: Send + Sync + 'static {
    /// Before a create, update or delete asked over HTTP (`/api/batch` included), outside any
    /// transaction, so it may call out over the network: it may change the fields sent
    /// (`request.body`), or refuse the write with an error (a batch then fails whole, before
    /// anything is written). Writes from custom code and cascades do not pass here.
    fn on_request<'a>(&'a self, request: &'a mut WriteRequest<'_>) -> impl Future<Output = ApiResult<()>> + Send + 'a {
        let _ = request;
        HookDefaults::ran_default(R::COLLECTION, Hook::OnRequest);
        std::future::ready(Ok(()))
    }

    /// Before a record is inserted; changes to `record` are validated again. An error aborts
    /// the create.
    fn before_create(&self, record: &mut R, tx: &Tx<'_>) -> ApiResult<()> {
        let _ = (record, tx);
        HookDefaults::ran_default(R::COLLECTION, Hook::BeforeCreate);
        Ok(())
    }

    /// After a record was inserted, in the same transaction: an error rolls it back.
    fn after_create(&self, record: &R, tx: &Tx<'_>) -> ApiResult<()> {
        let _ = (record, tx);
        HookDefaults::ran_default(R::COLLECTION, Hook::AfterCreate);
        Ok(())
    }

    /// After the create committed (`async fn after_create_commit(self: Arc<Self>, …)`).
    fn after_create_commit(self: Arc<Self>, record: R, data: Data) -> impl Future<Output = ()> + Send + 'static {
        let _ = (record, data);
        HookDefaults::ran_default(R::COLLECTION, Hook::AfterCreateCommit);
        std::future::ready(())
    }

    /// Before a record is updated; `old` is the stored state, changes to `record` are
    /// validated again.
    fn before_update(&self, old: &R, record: &mut R, tx: &Tx<'_>) -> ApiResult<()> {
        let _ = (old, record, tx);
        HookDefaults::ran_default(R::COLLECTION, Hook::BeforeUpdate);
        Ok(())
    }

    /// After a record was updated, in the same transaction: an error rolls it back.
    fn after_update(&self, old: &R, record: &R, tx: &Tx<'_>) -> ApiResult<()> {
        let _ = (old, record, tx);
        HookDefaults::ran_default(R::COLLECTION, Hook::AfterUpdate);
        Ok(())
    }

    /// After the update committed.
    fn after_update_commit(self: Arc<Self>, record: R, data: Data) -> impl Future<Output = ()> + Send + 'static {
        let _ = (record, data);
        HookDefaults::ran_default(R::COLLECTION, Hook::AfterUpdateCommit);
        std::future::ready(())
    }

    /// Before a record is deleted (directly or by a cascade); an error aborts the delete.
    fn before_delete(&self, record: &R, tx: &Tx<'_>) -> ApiResult<()> {
        let _ = (record, tx);
        HookDefaults::ran_default(R::COLLECTION, Hook::BeforeDelete);
        Ok(())
    }

    /// After a record was deleted, in the same transaction: an error rolls it back.
    fn after_delete(&self, record: &R, tx: &Tx<'_>) -> ApiResult<()> {
        let _ = (record, tx);
        HookDefaults::ran_default(R::COLLECTION, Hook::AfterDelete);
        Ok(())
    }

    /// After the delete committed.
    fn after_delete_commit(self: Arc<Self>, record: R, data: Data) -> impl Future<Output = ()> + Send + 'static {
        let _ = (record, data);
        HookDefaults::ran_default(R::COLLECTION, Hook::AfterDeleteCommit);
        std::future::ready(())
    }

    /// Each record a list or view returns (and each realtime event), before it is shaped for
    /// the client.
    fn on_read(&self, record: &mut R, cx: &HookContext<'_>) {
        let _ = (record, cx);
        HookDefaults::ran_default(R::COLLECTION, Hook::OnRead);
    }

    /// Fields computed for each record a list or view returns (and each realtime event and
    /// data API read), beside its stored fields: a JSON object such as
    /// `json!({"reading_minutes": post.body.len() / 1200})`. A name a stored field has is
    /// ignored; `fields=` selects computed fields like the others.
    fn computed(&self, record: &R, cx: &HookContext<'_>) -> Value {
        let _ = (record, cx);
        HookDefaults::ran_default(R::COLLECTION, Hook::Computed);
        Value::Null
    }
}

/// Record hooks over JSON records: what the runtime calls. [`Typed`] adapts a collection's
/// [`CollectionHooks`] to them.
pub trait RecordHooks: Send + Sync + 'static {
    /// Whether `hook` may do something (`false`: known to be a default that does nothing).
    fn runs(&self, _hook: Hook) -> bool {
        true
    }
    /// Before a write asked over HTTP, outside any transaction.
    fn on_request<'a>(&'a self, _request: &'a mut WriteRequest<'_>) -> Requested<'a> {
        Box::pin(std::future::ready(Ok(())))
    }
    fn before_create(&self, _record: &mut Record, _tx: &Tx<'_>) -> ApiResult<()> {
        Ok(())
    }
    fn after_create(&self, _record: &Record, _tx: &Tx<'_>) -> ApiResult<()> {
        Ok(())
    }
    fn before_update(&self, _old: &Record, _new: &mut Record, _tx: &Tx<'_>) -> ApiResult<()> {
        Ok(())
    }
    fn after_update(&self, _old: &Record, _new: &Record, _tx: &Tx<'_>) -> ApiResult<()> {
        Ok(())
    }
    fn before_delete(&self, _record: &Record, _tx: &Tx<'_>) -> ApiResult<()> {
        Ok(())
    }
    fn after_delete(&self, _record: &Record, _tx: &Tx<'_>) -> ApiResult<()> {
        Ok(())
    }
    /// The work to run once the `event` on `record` committed, if there is any; `data` makes
    /// the handle it may use (acting as the write's caller).
    fn committed(&self, _event: Event, _record: &Record, _data: &dyn Fn() -> Data) -> ApiResult<Option<Committed>> {
        Ok(None)
    }
    /// Called for each record a list or view returns, before it is shaped for the client.
    fn on_read(&self, _record: &mut Record, _cx: &HookContext<'_>) {}
}

/// One of the record hooks, for [`HookDefaults`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hook {
    BeforeCreate,
    AfterCreate,
    AfterCreateCommit,
    BeforeUpdate,
    AfterUpdate,
    AfterUpdateCommit,
    BeforeDelete,
    AfterDelete,
    AfterDeleteCommit,
    OnRead,
    Computed,
    OnRequest,
}

std::thread_local! {
    /// The collection and hook whose default body ran last on this thread.
    static DEFAULT_RAN: std::cell::Cell<Option<(&'static str, Hook)>> = const { std::cell::Cell::new(None) };
}

/// Which of a collection's typed hooks are left at their defaults (which do nothing), learned
/// from each hook's first call. The default bodies of [`CollectionHooks`] call
/// [`HookDefaults::ran_default`]; [`Typed`] converts a record to the typed struct
/// and back only for hooks not known to be defaults, so a backend without hooks pays no JSON
/// round trip per record read or written (about a third of a list page's CPU time, measured in
/// bench/RESULTS.md).
#[derive(Debug, Default)]
pub struct HookDefaults([std::sync::atomic::AtomicU8; 12]);

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

/// Adapts the typed hooks `H` of the collection whose records are `R` to [`RecordHooks`]. A
/// hook left at its default is learned as such on its first call; records are not converted
/// for it after that.
pub struct Typed<R, H> {
    hooks: Arc<H>,
    defaults: HookDefaults,
    record: PhantomData<fn() -> R>,
}

impl<R: TypedRecord, H> Typed<R, H> {
    pub fn new(hooks: Arc<H>) -> Self {
        Typed { hooks, defaults: HookDefaults::default(), record: PhantomData }
    }

    /// Calls `f` with the typed form of `record`, unless `hook` is known to be the default;
    /// returns the typed record when `f` was not the default (it may have changed it).
    fn call(&self, hook: Hook, record: &Record, f: impl FnOnce(&mut R) -> ApiResult<()>) -> ApiResult<Option<R>> {
        if self.defaults.skips(hook) {
            return Ok(None);
        }
        let mut typed = R::from_record(record)?;
        let (result, default) = self.defaults.run(R::COLLECTION, hook, || f(&mut typed));
        result?;
        Ok((!default).then_some(typed))
    }
}

impl<R: TypedRecord, H: CollectionHooks<R>> Typed<R, H> {
    /// `f` with the typed forms of `old` and `record`, unless `hook` is known to be the default.
    fn call_pair(
        &self,
        hook: Hook,
        old: &Record,
        record: &Record,
        f: impl FnOnce(&R, &mut R) -> ApiResult<()>,
    ) -> ApiResult<Option<R>> {
        if self.defaults.skips(hook) {
            return Ok(None);
        }
        let old = R::from_record(old)?;
        self.call(hook, record, |r| f(&old, r))
    }
}

impl<R: TypedRecord, H: CollectionHooks<R>> RecordHooks for Typed<R, H> {
    fn runs(&self, hook: Hook) -> bool {
        !self.defaults.skips(hook)
    }

    fn on_request<'a>(&'a self, request: &'a mut WriteRequest<'_>) -> Requested<'a> {
        if self.defaults.skips(Hook::OnRequest) {
            return Box::pin(std::future::ready(Ok(())));
        }
        // the hook's body up to its first await runs here, so that a default is learned now
        let (work, _) = self.defaults.run(R::COLLECTION, Hook::OnRequest, || self.hooks.on_request(request));
        Box::pin(work)
    }

    fn before_create(&self, record: &mut Record, tx: &Tx<'_>) -> ApiResult<()> {
        if let Some(typed) = self.call(Hook::BeforeCreate, record, |r| self.hooks.before_create(r, tx))? {
            typed.write_to(record)?;
        }
        Ok(())
    }

    fn after_create(&self, record: &Record, tx: &Tx<'_>) -> ApiResult<()> {
        self.call(Hook::AfterCreate, record, |r| self.hooks.after_create(r, tx)).map(drop)
    }

    fn before_update(&self, old: &Record, record: &mut Record, tx: &Tx<'_>) -> ApiResult<()> {
        if let Some(typed) =
            self.call_pair(Hook::BeforeUpdate, old, record, |o, r| self.hooks.before_update(o, r, tx))?
        {
            typed.write_to(record)?;
        }
        Ok(())
    }

    fn after_update(&self, old: &Record, record: &Record, tx: &Tx<'_>) -> ApiResult<()> {
        self.call_pair(Hook::AfterUpdate, old, record, |o, r| self.hooks.after_update(o, r, tx)).map(drop)
    }

    fn before_delete(&self, record: &Record, tx: &Tx<'_>) -> ApiResult<()> {
        self.call(Hook::BeforeDelete, record, |r| self.hooks.before_delete(r, tx)).map(drop)
    }

    fn after_delete(&self, record: &Record, tx: &Tx<'_>) -> ApiResult<()> {
        self.call(Hook::AfterDelete, record, |r| self.hooks.after_delete(r, tx)).map(drop)
    }

    fn committed(&self, event: Event, record: &Record, data: &dyn Fn() -> Data) -> ApiResult<Option<Committed>> {
        let hook = match event {
            Event::Create => Hook::AfterCreateCommit,
            Event::Update => Hook::AfterUpdateCommit,
            Event::Delete => Hook::AfterDeleteCommit,
        };
        if self.defaults.skips(hook) {
            return Ok(None);
        }
        let (typed, data, hooks) = (R::from_record(record)?, data(), self.hooks.clone());
        // the hook's body up to its first await runs here, so that a default is learned now
        let (work, default) = self.defaults.run(R::COLLECTION, hook, move || -> Committed {
            match event {
                Event::Create => Box::pin(hooks.after_create_commit(typed, data)),
                Event::Update => Box::pin(hooks.after_update_commit(typed, data)),
                Event::Delete => Box::pin(hooks.after_delete_commit(typed, data)),
            }
        });
        Ok((!default).then_some(work))
    }

    fn on_read(&self, record: &mut Record, cx: &HookContext<'_>) {
        let read = self.call(Hook::OnRead, record, |r| {
            self.hooks.on_read(r, cx);
            Ok(())
        });
        // a record the hook cannot read, or write back, is served as it is
        if let Ok(Some(typed)) = read {
            let _ = typed.write_to(record);
        }
        if self.defaults.skips(Hook::Computed) {
            return;
        }
        let Ok(typed) = R::from_record(record) else { return };
        let (computed, _) = self.defaults.run(R::COLLECTION, Hook::Computed, || self.hooks.computed(&typed, cx));
        if let Value::Object(fields) = computed {
            for (name, value) in fields {
                record.entry(name).or_insert(value);
            }
        }
    }
}

/// Hooks that do nothing: every collection's defaults (`backend(NoHooks)` serves the schema
/// as it is), and the built-in `_superusers` collection's record hooks.
pub struct NoHooks;
impl RecordHooks for NoHooks {
    fn runs(&self, _hook: Hook) -> bool {
        false
    }
}
impl<R: TypedRecord> CollectionHooks<R> for NoHooks {}

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

    #[derive(Default, serde::Serialize, serde::Deserialize)]
    #[serde(default)]
    struct Note {
        title: String,
    }

    impl TypedRecord for Note {
        const COLLECTION: &'static str = "notes";

        fn from_row(mut row: crate::data::Row) -> ApiResult<Self> {
            Ok(Note { title: row.take(0, "title")? })
        }
    }

    struct Shout;

    impl CollectionHooks<Note> for Shout {
        fn before_create(&self, note: &mut Note, _tx: &Tx<'_>) -> ApiResult<()> {
            if note.title.is_empty() {
                return Err(crate::ApiError::bad_request("No title."));
            }
            note.title = note.title.to_uppercase();
            Ok(())
        }

        async fn after_create_commit(self: Arc<Self>, _note: Note, _data: Data) {}
    }

    /// A transaction with nothing in it: these hooks do not read or write.
    struct NoStore(std::collections::HashMap<String, String>);

    impl crate::data::Store for NoStore {
        fn context(&self) -> HookContext<'_> {
            let q = &self.0;
            HookContext { auth: None, auth_collection: None, superuser: false, method: "GET", headers: q, query: q }
        }
        fn get(&self, _: crate::data::Access, _: &str, _: &str) -> ApiResult<Option<crate::data::Fetched>> {
            unreachable!()
        }
        fn list(
            &self,
            _: crate::data::Access,
            _: &str,
            _: &crate::data::QuerySpec,
        ) -> ApiResult<Vec<crate::data::Fetched>> {
            unreachable!()
        }
        fn count(&self, _: crate::data::Access, _: &str, _: &crate::data::QuerySpec) -> ApiResult<u64> {
            unreachable!()
        }
        fn create(&self, _: crate::data::Access, _: &str, _: Record) -> ApiResult<Record> {
            unreachable!()
        }
        fn update(&self, _: crate::data::Access, _: &str, _: &str, _: Record) -> ApiResult<Record> {
            unreachable!()
        }
        fn delete(&self, _: crate::data::Access, _: &str, _: &str) -> ApiResult<()> {
            unreachable!()
        }
        fn count_by(
            &self,
            _: crate::data::Access,
            _: &str,
            _: &crate::data::QuerySpec,
            _: &str,
        ) -> ApiResult<Vec<(String, u64)>> {
            unreachable!()
        }
        fn send_mail(&self, _: &crate::mail::Mail) -> ApiResult<()> {
            unreachable!()
        }
        fn after_commit(&self, _: Box<dyn FnOnce() + Send>) {}
        fn publish(&self, _: &str, _: Value) -> ApiResult<()> {
            unreachable!()
        }
    }

    /// A `Data` handle that is never used.
    struct NoDatabase;

    impl crate::data::Database for NoDatabase {
        fn run(&self, _: bool, _: crate::data::Job) -> crate::data::Running {
            unreachable!()
        }
    }

    /// The adapter hands a custom hook the typed record and writes its changes back (system keys
    /// stay); a hook left at its default leaves the record as it is, and is skipped from then on.
    #[test]
    fn typed_hooks_see_and_change_the_typed_record() {
        let store = NoStore(Default::default());
        let tx = Tx::new(&store);
        let hooks = Typed::<Note, _>::new(Arc::new(Shout));
        let mut record: Record = serde_json::from_str(r#"{"id": "n1", "title": "hi", "secret": 1}"#).unwrap();
        hooks.before_create(&mut record, &tx).unwrap();
        assert_eq!(Value::Object(record.clone()), serde_json::json!({"id": "n1", "title": "HI", "secret": 1}));
        let mut untitled = Record::new();
        assert_eq!(hooks.before_create(&mut untitled, &tx).unwrap_err().message, "No title.");

        hooks.on_read(&mut record, &tx.context());
        assert!(hooks.defaults.skips(Hook::OnRead) && !hooks.defaults.skips(Hook::BeforeCreate));
        assert_eq!(record["title"], "HI");
        let defaults = Typed::<Note, _>::new(Arc::new(NoHooks));
        defaults.before_update(&record.clone(), &mut record, &tx).unwrap();
        assert!(defaults.defaults.skips(Hook::BeforeUpdate));
    }

    /// An async after-commit hook is learned as custom (its body runs only when polled), a
    /// default one as the default: no work is scheduled for it from then on.
    #[test]
    fn commit_hooks_are_scheduled_only_when_written() {
        let data = || Data::new(Arc::new(NoDatabase));
        let record: Record = serde_json::from_str(r#"{"id": "n1", "title": "hi"}"#).unwrap();
        let custom = Typed::<Note, _>::new(Arc::new(Shout));
        assert!(custom.committed(Event::Create, &record, &data).unwrap().is_some());
        assert!(custom.committed(Event::Create, &record, &data).unwrap().is_some());
        assert!(custom.committed(Event::Delete, &record, &data).unwrap().is_none(), "after_delete_commit is a default");
        assert!(custom.committed(Event::Delete, &record, &data).unwrap().is_none());
        assert!(!custom.runs(Hook::AfterDeleteCommit) && custom.runs(Hook::AfterCreateCommit));
    }
}
