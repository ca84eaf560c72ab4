//! Record hooks: the trait generated code adapts its typed hooks to, and how the runtime
//! learns which typed hooks are left at their defaults.

use crate::error::ApiResult;

use super::Record;

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
