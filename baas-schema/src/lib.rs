//! The baas schema core: the one intermediate representation ([`ir`]) that every front end
//! builds and every emitter reads, the YAML front end ([`yaml`]), the rule/filter expression
//! language ([`expr`]), the checker ([`check`]), the SQL compiler ([`sql`]) and the in-memory
//! evaluator ([`eval`]).
//!
//! Pure: no I/O beyond reading a schema, no async, no HTTP.

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
