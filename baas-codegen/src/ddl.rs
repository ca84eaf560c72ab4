//! SQL DDL per dialect: tables, indexes and views of a schema, rendered with askama.
//!
//! Column types come from [`baas_schema::sql::column_type`], the same mapping the rule compiler
//! relies on. Every column is `NOT NULL` with its type's empty value as default, because the
//! API has no nulls: an unset text is `""`, an unset number `0`.

use askama::Template;
use baas_schema::ir::{Collection, CollectionKind, Field, FieldType, Schema, system};
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

struct Table {
    name: String,
    columns: Vec<String>,
    indexes: Vec<String>,
}

struct View {
    name: String,
    query: String,
}

/// The initial migration: every table, index and view of `schema`, `_superusers` included.
pub fn initial_migration(schema: &Schema, dialect: Dialect, source: &str) -> String {
    let mut collections: Vec<Collection> = vec![system::superusers()];
    collections.extend(schema.collections.iter().cloned());
    let tables = collections.iter().filter(|c| !c.is_view()).map(|c| table(c, dialect)).collect();
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

fn table(c: &Collection, dialect: Dialect) -> Table {
    let columns = c.fields.iter().map(|f| column(f, dialect)).collect();
    let mut indexes = Vec::new();
    let mut seen: Vec<(Vec<String>, bool)> = Vec::new();
    let mut add = |fields: Vec<String>, unique: bool| {
        if fields.as_slice() == [system::ID] || seen.contains(&(fields.clone(), unique)) {
            return;
        }
        seen.push((fields.clone(), unique));
        let cols = fields.iter().map(|f| quote(f)).collect::<Vec<_>>().join(", ");
        indexes.push(format!(
            "CREATE {}INDEX {} ON {} ({cols})",
            if unique { "UNIQUE " } else { "" },
            quote(&index_name(&c.name, &fields, unique)),
            quote(&c.name)
        ));
    };
    for index in &c.indexes {
        add(index.fields.clone(), index.unique);
    }
    for field in &c.fields {
        if field.unique {
            add(vec![field.name.clone()], true);
        }
    }
    for name in c.implied_indexes() {
        // a declared index that starts with the column serves it already
        let covered = c.indexes.iter().any(|i| i.fields.first().is_some_and(|f| f == name));
        if !covered && !c.field(name).is_some_and(|f| f.unique) {
            add(vec![name.to_owned()], false);
        }
    }
    Table { name: quote(&c.name), columns, indexes }
}

fn column(f: &Field, dialect: Dialect) -> String {
    let ty = column_type(&f.ty, dialect);
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
