//! The baas schema core: everything between a schema as written and the emitters. Pure: no
//! I/O beyond reading a schema, no async, no HTTP. Data flows one way:
//!
//! ```text
//! YAML | derive ──▶ IR ──▶ checker ──▶ CheckedSchema ──▶ SQL compiler | in-memory evaluator
//!    (front)      (ir)    (check)                        (rule::sql)     (rule::eval)
//! ```
//!
//! - [`front`]: the front ends, YAML ([`front::yaml`]) and derive (`front::derive`, feature
//!   `derive`). Each turns one way of writing a schema into the IR, every problem reported at
//!   its place, and builds nothing else. [`load_yaml`], and `load` (feature `derive`) which
//!   picks the front end by the file's kind, run a front end and the checker in one call.
//! - [`ir`]: the one intermediate representation every front end builds and every emitter
//!   reads: collections, fields, indexes, rules as text. The indexes baas adds without being
//!   asked are [`ir::Collection::implied_indexes`].
//! - [`check`]: the checker. It holds the schema to its structural rules, derives the fields
//!   of views, types every rule against the schema into a [`check::TExpr`] and lints it; a
//!   [`CheckedSchema`] is the IR with its rules so resolved, and emitters see nothing less.
//!   Client filters go through the same typer at request time ([`check::check_expr`]).
//! - [`rule`]: the rule and filter language — its syntax ([`expr`]) and the two back ends a
//!   typed expression runs through: the SQL compiler ([`sql`]: a `WHERE` fragment per
//!   dialect, for rules the database applies and for client filters) and the in-memory
//!   evaluator ([`eval`]: one record, one request, for realtime).
//! - [`diag`] and [`source`]: diagnostics and the places in the source they point at, shared
//!   by every stage.

pub mod check;
pub mod diag;
pub mod front;
mod indexes;
pub mod ir;
pub mod rule;
pub mod source;

// The language's parts keep their short paths: generated code and the runtime name them
// (`baas_runtime::schema::sql::Fragment`, `…::expr::ast::Literal`).
pub use rule::{eval, expr, sql};

pub use check::CheckedSchema;
pub use diag::{Diagnostic, Diagnostics, Severity};
#[cfg(feature = "derive")]
pub use front::load;
pub use front::load_yaml;
pub use ir::Schema;
pub use source::{SourceFile, Span};
