//! A generated crate's migration history: what the migrations folder holds ([`Previous`]),
//! and the history brought up to a schema ([`migrations`]): the initial migration, or the next
//! numbered one when the schema changed, per dialect, with its SQL parsed back before it is
//! written.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use askama::Template;
use baas_schema::CheckedSchema;
use baas_schema::sql::Dialect;

use crate::{ddl, diff, schema_json};

/// The initial migration's file name.
pub const INITIAL_MIGRATION: &str = "0001_init.sql";

/// The state of an existing generated crate's migrations.
#[derive(Clone, Debug)]
pub struct Previous {
    /// `migrations/schema.json`: the schema the last migration brought the database to.
    pub schema: baas_schema::Schema,
    /// The migration files that exist, in order (`0001_init.sql`, …).
    pub migrations: Vec<String>,
}

impl Previous {
    /// Reads `out/migrations`; `None` when the crate has no migrations yet.
    pub fn read(out: &Path) -> Result<Option<Previous>, String> {
        Previous::read_dir(&out.join("migrations"))
    }

    /// Reads a migrations folder (`schema.json`, `sqlite/`, `postgres/`); `None` when it has
    /// no snapshot yet.
    pub fn read_dir(dir: &Path) -> Result<Option<Previous>, String> {
        let snapshot = dir.join("schema.json");
        let Ok(text) = std::fs::read_to_string(&snapshot) else { return Ok(None) };
        let schema =
            serde_json::from_str(&text).map_err(|e| format!("{} is not a schema snapshot: {e}", snapshot.display()))?;
        let dir = dir.join("sqlite");
        let mut migrations: Vec<String> = std::fs::read_dir(&dir)
            .map_err(|e| format!("cannot list {}: {e}", dir.display()))?
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.ends_with(".sql"))
            .collect();
        migrations.sort();
        Ok(Some(Previous { schema, migrations }))
    }
}

/// Why a generation produced nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GenerateError {
    /// Changes that lose data, not acknowledged with `allow_destructive`.
    Destructive(Vec<String>),
    /// A statement the generator wrote does not parse in its dialect (a bug in baas).
    InvalidSql { dialect: &'static str, statement: String, error: String },
}

impl std::fmt::Display for GenerateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GenerateError::Destructive(changes) => write!(f, "the schema change loses data: {}", changes.join("; ")),
            GenerateError::InvalidSql { dialect, statement, error } => {
                write!(
                    f,
                    "baas generated {dialect} SQL that does not parse ({error}); this is a bug in baas:\n{statement}"
                )
            }
        }
    }
}

/// Parses generated SQL back in its dialect before it is written.
fn parse_back(sql: &str, dialect: Dialect) -> Result<(), GenerateError> {
    use sqlparser::dialect::{PostgreSqlDialect, SQLiteDialect};
    let (name, result): (&'static str, _) = match dialect {
        Dialect::Sqlite => ("SQLite", sqlparser::parser::Parser::parse_sql(&SQLiteDialect {}, sql)),
        Dialect::Postgres => ("PostgreSQL", sqlparser::parser::Parser::parse_sql(&PostgreSqlDialect {}, sql)),
    };
    result.map(drop).map_err(|e| GenerateError::InvalidSql {
        dialect: name,
        statement: sql.to_owned(),
        error: e.to_string(),
    })
}

/// A crate's migration history brought up to a schema.
#[derive(Clone, Debug, Default)]
pub struct History {
    /// Every migration, in order (`0001_init.sql`, …), existing and new.
    pub names: Vec<String>,
    /// Files to write, relative to the migrations folder: the new migration per dialect and
    /// the snapshot (`schema.json`). Empty when the history already reaches the schema.
    pub files: BTreeMap<PathBuf, String>,
    /// What the new migration does, one line per change.
    pub changes: Vec<String>,
}

/// The migration history for `schema`: the initial migration when there is no `previous`,
/// else the existing migrations and, when the schema changed, the next one. Destructive
/// changes are refused unless `allow_destructive`.
pub fn migrations(
    schema: &CheckedSchema,
    previous: Option<&Previous>,
    allow_destructive: bool,
    source: &str,
) -> Result<History, GenerateError> {
    let mut history = History::default();
    let mut new_migration: Option<(String, diff::Plan)> = None;
    match previous {
        None => history.names.push(INITIAL_MIGRATION.to_owned()),
        Some(prev) => {
            history.names.extend(prev.migrations.iter().cloned());
            let plan = diff::plan(&prev.schema, &schema.schema);
            let refused: Vec<String> = plan.destructive().iter().map(|c| c.summary.clone()).collect();
            if !refused.is_empty() && !allow_destructive {
                return Err(GenerateError::Destructive(refused));
            }
            if !plan.is_empty() {
                let name = format!("{:04}_{}.sql", history.names.len() + 1, plan.name());
                history.names.push(name.clone());
                history.changes = plan.changes.iter().map(|c| c.summary.clone()).collect();
                new_migration = Some((name, plan));
            }
        }
    }
    if previous.is_none() || new_migration.is_some() {
        history.files.insert(PathBuf::from("schema.json"), schema_json(schema));
    }
    for (dir, dialect) in [("sqlite", Dialect::Sqlite), ("postgres", Dialect::Postgres)] {
        if previous.is_none() {
            let sql = ddl::initial_migration(&schema.schema, dialect, source);
            parse_back(&sql, dialect)?;
            history.files.insert(PathBuf::from(format!("{dir}/{INITIAL_MIGRATION}")), sql);
        }
        if let Some((name, plan)) = &new_migration {
            let statements = match dialect {
                Dialect::Sqlite => &plan.sqlite,
                Dialect::Postgres => &plan.postgres,
            };
            for statement in statements {
                parse_back(statement, dialect)?;
            }
            history.files.insert(PathBuf::from(format!("{dir}/{name}")), diff_sql(plan, name, dialect, source));
        }
    }
    Ok(history)
}

impl History {
    /// Writes the new files under the migrations folder `dir`; returns the migrations
    /// (`.sql`) written.
    pub fn write(&self, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
        let mut written = Vec::new();
        for (rel, contents) in &self.files {
            let path = dir.join(rel);
            if std::fs::read(&path).ok().as_deref() == Some(contents.as_bytes()) {
                continue;
            }
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&path, contents)?;
            if rel.extension().is_some_and(|e| e == "sql") {
                written.push(path);
            }
        }
        Ok(written)
    }
}

/// Keeps a collection's wire id across a rename: a collection that existed before (by name or
/// `renamed_from`) and has no explicit id keeps the id it had.
pub(crate) fn carry_ids(schema: &CheckedSchema, previous: &baas_schema::Schema) -> CheckedSchema {
    let mut schema = schema.clone();
    for c in &mut schema.schema.collections {
        let before =
            previous.collection(&c.name).or_else(|| c.renamed_from.as_deref().and_then(|r| previous.collection(r)));
        if let Some(before) = before
            && c.id == baas_schema::ir::Collection::default_id(&c.name)
        {
            c.id = before.id.clone();
        }
    }
    schema
}

#[derive(Template)]
#[template(path = "diff.sql", escape = "none")]
struct DiffSql<'a> {
    version: &'a str,
    source: &'a str,
    number: &'a str,
    dialect: &'a str,
    changes: Vec<&'a str>,
    statements: &'a [String],
}

fn diff_sql(plan: &diff::Plan, name: &str, dialect: Dialect, source: &str) -> String {
    DiffSql {
        version: env!("CARGO_PKG_VERSION"),
        source,
        number: name.trim_end_matches(".sql"),
        dialect: match dialect {
            Dialect::Sqlite => "SQLite",
            Dialect::Postgres => "PostgreSQL",
        },
        changes: plan.changes.iter().map(|c| c.summary.as_str()).collect(),
        statements: match dialect {
            Dialect::Sqlite => &plan.sqlite,
            Dialect::Postgres => &plan.postgres,
        },
    }
    .render()
    .expect("the migration template renders")
}
