//! SQL DDL per dialect: tables, indexes and views of a schema, rendered with askama.
//!
//! Column types come from [`baas_schema::sql::column_type`], the same mapping the rule compiler
//! relies on. Every column is `NOT NULL` with its type's empty value as default, because the
//! API has no nulls: an unset text is `""`, an unset number `0`.

use askama::Template;
use baas_schema::ir::{Collection, CollectionKind, Field, FieldType, ImpliedIndexes, Schema, system};
use baas_schema::sql::{Dialect, column_type, quote};

use crate::names::index_name;

#[derive(Template)]
#[template(path = "migration.sql", escape = "none")]
struct MigrationSql<'a> {
    version: &'a str,
    source: &'a str,
    title: &'a str,
    dialect: &'a str,
    tables: Vec<Table>,
    views: Vec<View>,
}

pub(crate) struct Table {
    pub name: String,
    pub columns: Vec<String>,
    pub indexes: Vec<String>,
}

struct View {
    name: String,
    query: String,
}

/// The initial migration: every table, index and view of `schema`, `_superusers` included.
pub fn initial_migration(schema: &Schema, dialect: Dialect, source: &str) -> String {
    let mut collections: Vec<Collection> = vec![system::superusers()];
    collections.extend(schema.collections.iter().cloned());
    let tables =
        collections.iter().filter(|c| !c.is_view()).map(|c| table(c, dialect, schema.implied_indexes)).collect();
    let views = collections
        .iter()
        .filter_map(|c| match &c.kind {
            CollectionKind::View { query, .. } => {
                Some(View { name: quote(&c.name), query: query.trim().trim_end_matches(';').to_owned() })
            }
            _ => None,
        })
        .collect();
    MigrationSql {
        version: env!("CARGO_PKG_VERSION"),
        source,
        title: "The initial schema",
        dialect: match dialect {
            Dialect::Sqlite => "SQLite",
            Dialect::Postgres => "PostgreSQL",
        },
        tables,
        views,
    }
    .render()
    .expect("the migration template renders")
}

/// The PostgreSQL column that numbers rows in insertion order (SQLite has `rowid`). It is never
/// selected or written by the runtime, only sorted on.
pub const POSTGRES_ROWID: &str = "_rowid";

pub(crate) fn table(c: &Collection, dialect: Dialect, implied: ImpliedIndexes) -> Table {
    let mut columns: Vec<String> = c.fields.iter().map(|f| column(f, dialect)).collect();
    if dialect == Dialect::Postgres {
        // Insertion order, which SQLite's rowid gives: the default order of a list.
        columns.push(format!("{} BIGINT GENERATED ALWAYS AS IDENTITY", quote(POSTGRES_ROWID)));
    }
    let indexes = indexes(c, implied).into_iter().map(|i| i.sql).collect();
    Table { name: quote(&c.name), columns, indexes }
}

/// An index of a table: its name and the statement that creates it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct IndexDef {
    pub name: String,
    pub sql: String,
}

/// Every index of a collection: declared ones, unique fields, and the ones baas implies.
pub(crate) fn indexes(c: &Collection, implied: ImpliedIndexes) -> Vec<IndexDef> {
    let mut out: Vec<IndexDef> = Vec::new();
    let mut add = |fields: Vec<String>, unique: bool| {
        let name = index_name(&c.name, &fields, unique);
        if fields.as_slice() == [system::ID] || out.iter().any(|i| i.name == name) {
            return;
        }
        let cols = fields.iter().map(|f| quote(f)).collect::<Vec<_>>().join(", ");
        let sql = format!(
            "CREATE {}INDEX {} ON {} ({cols})",
            if unique { "UNIQUE " } else { "" },
            quote(&name),
            quote(&c.name)
        );
        out.push(IndexDef { name, sql });
    };
    for index in &c.indexes {
        add(index.fields.clone(), index.unique);
    }
    for field in &c.fields {
        if field.unique {
            add(vec![field.name.clone()], true);
        }
    }
    for name in c.implied_indexes(implied) {
        // a declared index that starts with the column serves it already
        let covered = c.indexes.iter().any(|i| i.fields.first().is_some_and(|f| f == name));
        if !covered && !c.field(name).is_some_and(|f| f.unique) {
            add(vec![name.to_owned()], false);
        }
    }
    out
}

pub(crate) fn column(f: &Field, dialect: Dialect) -> String {
    let ty = match (column_type(&f.ty, dialect), dialect) {
        // Byte order, as SQLite compares and sorts text, whatever the server's locale; `ILIKE`
        // then folds ASCII only, like SQLite's `LIKE`.
        ("TEXT", Dialect::Postgres) => "TEXT COLLATE \"C\"",
        (ty, _) => ty,
    };
    if f.name == system::ID {
        return format!("{} {ty} PRIMARY KEY NOT NULL", quote(&f.name));
    }
    format!("{} {ty} NOT NULL DEFAULT {}", quote(&f.name), default(&f.ty, dialect))
}

/// The stored form of a field's empty value.
fn default(ty: &FieldType, dialect: Dialect) -> &'static str {
    match (ty, dialect) {
        (t, Dialect::Sqlite) if t.is_multiple() => "'[]'",
        (t, Dialect::Postgres) if t.is_multiple() => "'[]'::jsonb",
        (FieldType::Json, Dialect::Sqlite) => "'null'",
        (FieldType::Json, Dialect::Postgres) => "'null'::jsonb",
        (FieldType::Number { .. }, _) => "0",
        (FieldType::Bool, Dialect::Sqlite) => "0",
        (FieldType::Bool, Dialect::Postgres) => "FALSE",
        _ => "''",
    }
}
