//! The interface between the data API and the records engine: one transaction's reads and
//! writes over JSON records, by collection name.

use serde_json::Value;

use crate::error::ApiResult;

use super::{HookContext, Record, Row, TypedRecord};

/// Whose rights a read or write is judged with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// The caller's: the collection's rules apply exactly as over HTTP (a record the caller
    /// may not see is not found; a write the rule refuses fails as over HTTP).
    Caller,
    /// The system's: every rule passes and hidden fields are read. Asked for with
    /// [`Tx::system`](super::Tx::system), so that privileged code is easy to find.
    System,
}

/// A query over one collection, as [`Query`](super::Query) builds it.
#[derive(Clone, Debug, Default)]
pub struct QuerySpec {
    /// A filter in the rule language (`published = true && author = {:me}`).
    pub filter: Option<String>,
    /// Values for the filter's `{:name}` placeholders.
    pub params: Vec<(String, Value)>,
    /// PocketBase's sort syntax (`-created,title`).
    pub sort: Option<String>,
    pub limit: Option<u64>,
    pub offset: u64,
}

/// A record the records engine read for custom code: its row, or, when a hook of the
/// collection had to see it first (`on_read`, `computed`), the record the hook left.
#[derive(Debug)]
pub enum Fetched {
    Row(Row),
    Record(Record),
}

impl Fetched {
    /// The typed record.
    pub fn typed<R: TypedRecord>(self) -> ApiResult<R> {
        match self {
            Fetched::Row(row) => R::from_row(row),
            Fetched::Record(record) => R::from_record(&record),
        }
    }
}

/// One transaction, as the records engine runs it: every method goes through the same
/// pipeline as the HTTP API. Implemented by the records engine; custom code uses [`Tx`](super::Tx).
pub trait Store {
    /// What a hook sees of the request this transaction serves.
    fn context(&self) -> HookContext<'_>;

    /// The record `id` of `collection`, if it exists and `access` may view it.
    fn get(&self, access: Access, collection: &str, id: &str) -> ApiResult<Option<Fetched>>;

    /// The records of `collection` that `access` may list and `query` selects, in its order.
    fn list(&self, access: Access, collection: &str, query: &QuerySpec) -> ApiResult<Vec<Fetched>>;

    /// How many records [`Store::list`] would return without a limit.
    fn count(&self, access: Access, collection: &str, query: &QuerySpec) -> ApiResult<u64>;

    /// Creates a record from `body` (as a create request's JSON body).
    fn create(&self, access: Access, collection: &str, body: Record) -> ApiResult<Record>;

    /// Updates record `id` with `body` (as an update request's JSON body, modifiers included:
    /// `views+`, `tags-`, …).
    fn update(&self, access: Access, collection: &str, id: &str, body: Record) -> ApiResult<Record>;

    /// Deletes record `id`, with its cascades.
    fn delete(&self, access: Access, collection: &str, id: &str) -> ApiResult<()>;

    /// How many of the records `query` selects hold each value of the multi-valued field
    /// `field`, by value.
    fn count_by(
        &self,
        access: Access,
        collection: &str,
        query: &QuerySpec,
        field: &str,
    ) -> ApiResult<Vec<(String, u64)>>;

    /// Writes `mail` to the outbox in this transaction: delivered once it commits.
    fn send_mail(&self, mail: &crate::mail::Mail) -> ApiResult<()>;

    /// Runs `f` once the transaction has committed (never when it rolls back).
    fn after_commit(&self, f: Box<dyn FnOnce() + Send>);

    /// Publishes `data` to the realtime `topic` (one of the crate's own) once the transaction
    /// has committed.
    fn publish(&self, topic: &str, data: Value) -> ApiResult<()>;
}
