//! The SQL compiler: a checked expression ([`TExpr`]) in, a parameterised `WHERE` fragment
//! out, for SQLite or PostgreSQL.
//!
//! No value is ever spliced into the SQL text: literals, request values and macros all become
//! numbered parameters (`?1` on SQLite, `$1` on PostgreSQL) described by a [`Bind`] that the
//! runtime resolves per request. Relation paths, back-relations and `@collection` references
//! become LEFT JOINs inside one `EXISTS` per expression, one join per path (PocketBase's
//! semantics: conditions on the same path read the same related row, and a missing row reads
//! as NULL, the empty value). Multi-valued fields are walked with `json_each` /
//! `jsonb_array_elements_text`; the `?`-operators mean "some value matches", plain operators
//! over several values "every value matches, and there is one".
//!
//! Storage conventions this relies on (shared with the DDL emitter through [`column_type`]):
//! one table per collection named like it, one column per field; multi-valued fields hold a
//! JSON array (TEXT on SQLite, `jsonb` on PostgreSQL); datetimes are canonical
//! `YYYY-MM-DD HH:MM:SS.sssZ` text on both engines, so they compare as strings; unset values
//! are the type's zero (`''`, `0`, `false`), never NULL.
//!
//! This module holds what callers see: the fragment and its parameters, and the three entry
//! points (rules, client filters, sort terms). The walk itself is in `compiler`, columns and
//! their joins in `columns`, and the SQL text shared beyond the compiler in `dialect`.

mod columns;
mod compiler;
mod dialect;

use std::fmt::Write as _;

use crate::check::{ColumnRef, TExpr};
use crate::rule::expr::ast::{Literal, Macro};
use compiler::Compiler;
pub(crate) use compiler::{bind_ty, shared_ty, textual};
pub use dialect::{array_text, column_type, like_pattern, quote, to_char_format};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A compiled predicate: SQL text plus what its parameters are, in order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Fragment {
    pub sql: String,
    /// `binds[i]` is parameter number `first_param + i`.
    pub binds: Vec<Bind>,
}

/// The value of one parameter, and the type to bind it as.
#[derive(Clone, Debug, PartialEq)]
pub struct Bind {
    pub value: BindValue,
    pub ty: SqlTy,
}

/// The type a parameter is bound as. Request values are converted to it by the runtime.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SqlTy {
    Text,
    Number,
    Bool,
    /// A JSON array, as text (for walking request arrays with `:each`).
    JsonArray,
}

/// Where a parameter's value comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum BindValue {
    Literal(Literal),
    /// A `~` pattern: the value wrapped in `%…%` unless it already holds a `%`.
    LikePattern(Box<BindValue>),
    /// A field of the authenticated record (`id` is `""` when anonymous).
    Auth(String),
    Body(String),
    /// Whether the body has the key.
    BodyIsSet(String),
    /// The number of items the body gives for a multi-valued field.
    BodyLength(String),
    Query(String),
    Header(String),
    Method,
    Context,
    Macro(Macro),
    Placeholder(String),
}

/// Where the compiled predicate will be used.
#[derive(Clone, Copy, Debug)]
pub struct Target<'a> {
    pub dialect: Dialect,
    /// How the query names the record's table (`"posts"` or an alias), already quoted.
    pub record: &'a str,
    /// The number of the first parameter (1 when the fragment stands alone).
    pub first_param: usize,
}

/// Compiles `expr` into a fragment for `target`.
pub fn compile(expr: &TExpr, target: Target<'_>) -> Fragment {
    compile_with(expr, target, None)
}

/// What a client may see of a collection its filter reaches through a relation.
#[derive(Clone, Copy, Debug)]
pub enum Related<'r> {
    /// Everything (public rule, or a superuser's filter).
    Open,
    /// Nothing (superusers-only rule).
    Closed,
    /// The rows its list rule admits.
    Filter(&'r TExpr),
}

/// What a client filter may see of the collections it reaches, for callers other than
/// superusers (whose filters see everything).
pub trait Access {
    /// The rows of `collection` the caller may list.
    fn related(&self, collection: &str) -> Related<'_>;
    /// Whether `collection` is an auth collection: its `email` is readable only on records
    /// whose `emailVisibility` is set.
    fn is_auth(&self, collection: &str) -> bool;
}

/// Compiles a client filter: every collection the filter reaches through a relation path is
/// joined through that collection's list rule, as `access` gives it, and e-mails of auth
/// records read as empty unless the record makes them visible. (Rules themselves join without
/// the related collection's rules and read every field; filters do not, so a filter cannot
/// probe rows or values its caller may not see.)
pub fn compile_filter(expr: &TExpr, target: Target<'_>, access: &dyn Access) -> Fragment {
    compile_with(expr, target, Some(access))
}

/// Compiles one `ORDER BY` term: `col` (reached through single relations only), ascending or
/// `desc`, as a scalar subquery when it lives in another record. With `access`, the related
/// records are joined through their list rules (a record the caller may not list sorts as
/// empty) and hidden e-mails read as empty, so no order depends on a value the caller cannot
/// read. An empty value sorts first ascending and last descending on both engines.
pub fn compile_sort(col: &ColumnRef, desc: bool, target: Target<'_>, access: Option<&dyn Access>) -> Fragment {
    let mut c = Compiler::new(target, access);
    let value = c.column(col, &mut None, SqlTy::Text);
    let joins = std::mem::take(&mut c.joins);
    // (a stored column is never NULL: only a related row or a hidden e-mail can be)
    let nullable = !joins.is_empty() || c.email_if_visible(col);
    let value = if joins.is_empty() {
        value
    } else {
        let joins: Vec<String> = joins.into_iter().map(|j| j.sql).collect();
        format!("(SELECT {value} FROM (SELECT 1) AS _o {} LIMIT 1)", joins.join(" "))
    };
    let direction = match (desc, nullable && target.dialect == Dialect::Postgres) {
        // PostgreSQL puts NULL last ascending; SQLite, like PocketBase, first
        (false, true) => "ASC NULLS FIRST",
        (true, true) => "DESC NULLS LAST",
        (false, false) => "ASC",
        (true, false) => "DESC",
    };
    c.out.sql = format!("{value} {direction}");
    c.out
}

fn compile_with(expr: &TExpr, target: Target<'_>, access: Option<&dyn Access>) -> Fragment {
    let mut c = Compiler::new(target, access);
    let sql = c.unit(expr);
    c.out.sql = sql;
    c.out
}

impl Fragment {
    /// The fragment with parameters shown inline, for snapshots and debugging only.
    pub fn explain(&self) -> String {
        let mut out = self.sql.clone();
        for (i, b) in self.binds.iter().enumerate() {
            let _ = write!(out, "\n  [{}] {:?} as {:?}", i + 1, b.value, b.ty);
        }
        out
    }
}
