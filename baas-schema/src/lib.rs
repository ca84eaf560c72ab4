//! The baas schema core: the one intermediate representation ([`ir`]) that every front end
//! builds and every emitter reads, the YAML front end ([`yaml`]), the rule/filter expression
//! language ([`expr`]), the checker ([`check`]), the SQL compiler ([`sql`]) and the in-memory
//! evaluator ([`eval`]).
//!
//! Pure: no I/O beyond reading a schema, no async, no HTTP.

pub mod check;
#[cfg(feature = "derive")]
pub mod derive;
pub mod diag;
mod indexes;
pub mod ir;
pub mod rule;
pub mod source;
pub mod yaml;

// The language's parts keep their short paths: generated code and the runtime name them
// (`baas_runtime::schema::sql::Fragment`, `…::expr::ast::Literal`).
pub use rule::{eval, expr, sql};

pub use check::CheckedSchema;
pub use diag::{Diagnostic, Diagnostics, Severity};
pub use ir::Schema;
pub use source::{SourceFile, Span};

/// Loads a YAML schema and checks it: the whole front-end pipeline in one call. The checked
/// schema is returned when there were no errors; the diagnostics hold every error and warning.
pub fn load_yaml(file: &SourceFile) -> (Option<CheckedSchema>, Diagnostics) {
    let mut diags = Diagnostics::new();
    let checked = yaml::load(file, &mut diags).and_then(|schema| {
        let checked = check::check(&schema, &mut diags);
        checked.filter(|_| !diags.has_errors())
    });
    (checked, diags)
}
