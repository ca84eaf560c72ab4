//! The records engine: list, view, create, update and delete for any collection, with the
//! collection's compiled rules pushed into the SQL (pocketbase-api.md §3.1, §6).
//!
//! [`routes`] serves them over HTTP for one collection (each generated collection and
//! `_superusers` alike); custom routes call the functions directly. Everything here is driven
//! by the schema IR and the rules the generator compiled, never by a particular schema.

mod access;
mod create;
mod delete;
mod engine;
pub mod expand;
mod list;
mod routes;
mod row;
mod update;
mod view;

pub use access::resolve_binds;
pub(crate) use access::*;
pub use create::*;
pub use delete::*;
pub use engine::{Engine, Handle, Txn, requested, write};
pub(crate) use engine::{before_hook, committed, hook_tx};
pub use list::*;
pub use routes::routes;
pub use row::*;
pub use update::*;
pub use view::*;
