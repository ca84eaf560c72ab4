//! The rule and filter language (pocketbase-api.md §7): one grammar for access rules,
//! `?filter=` and realtime filters, from its text to the two ways it runs.
//!
//! - [`expr`], the syntax: text into a tree with spans ([`expr::parse`]), and a tree back
//!   into text.
//! - Between syntax and back ends stands the checker ([`crate::check`]): it types a tree
//!   against the schema into a [`TExpr`](crate::check::TExpr) (fields looked up, relation
//!   paths made join steps), the one form both back ends take.
//! - [`sql`], the SQL compiler: a parameterised `WHERE` fragment (or `ORDER BY` term) for
//!   SQLite or PostgreSQL, for the rules the database applies and for client filters.
//! - [`eval`], the in-memory evaluator: one record and one request, no database (realtime).
//!   It answers as the SQL compiler's fragment does; a property test holds the two together.

pub mod eval;
pub mod expr;
pub mod sql;
