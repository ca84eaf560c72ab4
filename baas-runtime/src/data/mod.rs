//! The data API custom code programs against, in hooks, routes and after-commit work:
//! records ([`Record`], typed [`TypedRecord`]), one transaction's view ([`Tx`]) acting as the
//! caller or, when asked, as the system, per-collection [`Table`]s with queries and patches,
//! and the [`Data`] handle that opens transactions.
//!
//! The bottom of the runtime: it writes no SQL and knows no HTTP (a [`Row`] holds the
//! database's values, which it only reads). The records engine implements
//! [`Store`] and [`Database`] (`records::engine`), so every read and write from custom code
//! goes through the same pipeline as the HTTP API: rules, validation, relation checks, hooks,
//! realtime events and file cleanup.

mod datetime;
mod field;
mod filter;
mod handle;
mod id;
pub mod optional;
mod record;
mod row;
pub mod select;
mod store;
mod tx;

pub use datetime::DateTime;
pub use field::{Field, Number, Order, SortOf};
pub use filter::{CheckedFilter, FilterOf, bind};
pub use handle::{Data, Database, Job, Running};
pub use id::{Id, IdOf};
pub use record::{Creates, HookContext, Record, TypedRecord, new_body};
pub use row::{FromColumn, Row};
pub use store::{Access, Fetched, QuerySpec, Store};
pub use tx::{Patch, Query, Table, Tx};
