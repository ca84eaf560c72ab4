//! Record hooks: the typed hooks users implement per collection ([`CollectionHooks`] over the
//! collection's record type), the JSON record hooks the runtime calls ([`RecordHooks`]), the
//! adapter between the two ([`Typed`]), and how it learns which typed hooks are left at their
//! defaults.

use std::marker::PhantomData;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{ApiError, ApiResult};

use super::Record;

/// What a hook sees besides the record.
pub struct HookContext<'a> {
    /// The authenticated record, if any.
    pub auth: Option<&'a Record>,
    pub superuser: bool,
}

/// A collection's record type, as generated code declares it (`posts` → `Post`): what typed
/// hooks see.
pub trait TypedRecord: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The collection's name.
    const COLLECTION: &'static str;

    /// Reads the typed record from the runtime's JSON record.
    fn from_record(record: &Record) -> ApiResult<Self> {
        serde_json::from_value(Value::Object(record.clone())).map_err(ApiError::internal)
    }

    /// Writes the typed fields back over `record` (secrets and system keys stay).
    fn write_to(&self, record: &mut Record) -> ApiResult<()> {
        match serde_json::to_value(self).map_err(ApiError::internal)? {
            Value::Object(fields) => {
                record.extend(fields);
                Ok(())
            }
            _ => Err(ApiError::internal("a record serialized to a non-object")),
        }
    }
}

/// The hooks of the collection whose records are `R`, implemented in `src/hooks.rs`
/// (`impl CollectionHooks<Post> for Hooks {}`). Every method has a default that does nothing;
/// override what you need. A hook left at its default costs nothing: records are not converted
/// for it (see [`HookDefaults`]).
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not implement the hooks of `{R}`",
    label = "the hooks of `{R}` are missing",
    note = "add `impl baas_runtime::CollectionHooks<{R}> for {Self} {{}}` to src/hooks.rs (every method has a default)"
)]
pub trait CollectionHooks<R: TypedRecord>: Send + Sync + 'static {
    /// Before a record is inserted, inside the transaction; an error aborts the create.
    fn before_create(&self, record: &mut R, cx: &HookContext<'_>) -> ApiResult<()> {
        let _ = (record, cx);
        HookDefaults::ran_default(R::COLLECTION, Hook::BeforeCreate);
        Ok(())
    }

    /// After a record was inserted (still inside the transaction).
    fn after_create(&self, record: &R, cx: &HookContext<'_>) {
        let _ = (record, cx);
        HookDefaults::ran_default(R::COLLECTION, Hook::AfterCreate);
    }

    /// Before a record is updated; `old` is the stored state.
    fn before_update(&self, old: &R, record: &mut R, cx: &HookContext<'_>) -> ApiResult<()> {
        let _ = (old, record, cx);
        HookDefaults::ran_default(R::COLLECTION, Hook::BeforeUpdate);
        Ok(())
    }

    /// After a record was updated.
    fn after_update(&self, record: &R, cx: &HookContext<'_>) {
        let _ = (record, cx);
        HookDefaults::ran_default(R::COLLECTION, Hook::AfterUpdate);
    }

    /// Before a record is deleted; an error aborts the delete.
    fn before_delete(&self, record: &R, cx: &HookContext<'_>) -> ApiResult<()> {
        let _ = (record, cx);
        HookDefaults::ran_default(R::COLLECTION, Hook::BeforeDelete);
        Ok(())
    }

    /// After a record was deleted.
    fn after_delete(&self, record: &R, cx: &HookContext<'_>) {
        let _ = (record, cx);
        HookDefaults::ran_default(R::COLLECTION, Hook::AfterDelete);
    }

    /// Each record a list or view returns, before it is shaped for the client.
    fn on_read(&self, record: &mut R, cx: &HookContext<'_>) {
        let _ = (record, cx);
        HookDefaults::ran_default(R::COLLECTION, Hook::OnRead);
    }
}

/// Record hooks over JSON records: what the runtime calls. [`Typed`] adapts a collection's
/// [`CollectionHooks`] to them.
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
/// from each hook's first call. The default bodies of [`CollectionHooks`] call
/// [`HookDefaults::ran_default`]; [`Typed`] converts a record to the typed struct
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

impl<R: TypedRecord, H: CollectionHooks<R>> RecordHooks for Typed<R, H> {
    fn before_create(&self, record: &mut Record, cx: &HookContext<'_>) -> ApiResult<()> {
        if let Some(typed) = self.call(Hook::BeforeCreate, record, |r| self.hooks.before_create(r, cx))? {
            typed.write_to(record)?;
        }
        Ok(())
    }

    fn after_create(&self, record: &Record, cx: &HookContext<'_>) {
        let _ = self.call(Hook::AfterCreate, record, |r| {
            self.hooks.after_create(r, cx);
            Ok(())
        });
    }

    fn before_update(&self, old: &Record, record: &mut Record, cx: &HookContext<'_>) -> ApiResult<()> {
        if self.defaults.skips(Hook::BeforeUpdate) {
            return Ok(());
        }
        let old = R::from_record(old)?;
        if let Some(typed) = self.call(Hook::BeforeUpdate, record, |r| self.hooks.before_update(&old, r, cx))? {
            typed.write_to(record)?;
        }
        Ok(())
    }

    fn after_update(&self, record: &Record, cx: &HookContext<'_>) {
        let _ = self.call(Hook::AfterUpdate, record, |r| {
            self.hooks.after_update(r, cx);
            Ok(())
        });
    }

    fn before_delete(&self, record: &Record, cx: &HookContext<'_>) -> ApiResult<()> {
        self.call(Hook::BeforeDelete, record, |r| self.hooks.before_delete(r, cx)).map(drop)
    }

    fn after_delete(&self, record: &Record, cx: &HookContext<'_>) {
        let _ = self.call(Hook::AfterDelete, record, |r| {
            self.hooks.after_delete(r, cx);
            Ok(())
        });
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
    }
}

/// Hooks that do nothing: every collection's defaults (`backend(NoHooks)` serves the schema
/// as it is), and the built-in `_superusers` collection's record hooks.
pub struct NoHooks;
impl RecordHooks for NoHooks {}
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
    }

    struct Shout;

    impl CollectionHooks<Note> for Shout {
        fn before_create(&self, note: &mut Note, _cx: &HookContext<'_>) -> ApiResult<()> {
            if note.title.is_empty() {
                return Err(ApiError::bad_request("No title."));
            }
            note.title = note.title.to_uppercase();
            Ok(())
        }
    }

    /// The adapter hands a custom hook the typed record and writes its changes back (system keys
    /// stay); a hook left at its default leaves the record as it is, and is skipped from then on.
    #[test]
    fn typed_hooks_see_and_change_the_typed_record() {
        let cx = HookContext { auth: None, superuser: false };
        let hooks = Typed::<Note, _>::new(Arc::new(Shout));
        let mut record: Record = serde_json::from_str(r#"{"id": "n1", "title": "hi", "secret": 1}"#).unwrap();
        hooks.before_create(&mut record, &cx).unwrap();
        assert_eq!(Value::Object(record.clone()), serde_json::json!({"id": "n1", "title": "HI", "secret": 1}));
        let mut untitled = Record::new();
        assert_eq!(hooks.before_create(&mut untitled, &cx).unwrap_err().message, "No title.");

        hooks.on_read(&mut record, &cx);
        assert!(hooks.defaults.skips(Hook::OnRead) && !hooks.defaults.skips(Hook::BeforeCreate));
        assert_eq!(record["title"], "HI");
        let defaults = Typed::<Note, _>::new(Arc::new(NoHooks));
        defaults.before_update(&record.clone(), &mut record, &cx).unwrap();
        assert!(defaults.defaults.skips(Hook::BeforeUpdate));
    }
}
