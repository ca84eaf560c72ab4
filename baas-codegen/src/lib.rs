//! Emitters: the checked IR of `baas-schema` in, a backend crate out.
//!
//! [`generate`] is pure: it returns the crate's files in memory (for tests, `--check` and
//! build scripts). [`write`] puts them on disk, rewriting generated files only when their
//! bytes change and leaving the user's files (written once) alone.

pub mod builder;
pub mod ddl;
pub mod derive;
pub mod diff;
pub mod export;
pub mod names;
pub mod openapi;
pub mod realtime;
pub mod rust;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use askama::Template;
use baas_schema::CheckedSchema;
use baas_schema::sql::Dialect;

pub use baas_schema as schema;
/// Loads and checks a schema file of either form (the front end picked by the file's kind).
pub use baas_schema::load as load_schema;
pub use builder::Builder;

/// How to generate.
#[derive(Clone, Debug)]
pub struct Options {
    /// The crate's package name.
    pub name: String,
    /// The schema file as the header comments name it (`schemas/blog.yaml`).
    pub source: String,
    /// The `baas-runtime` dependency as a TOML value: `{ path = "…" }` or `"0.1"`.
    pub runtime: String,
}

/// Who owns a file after it is first written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner {
    /// Rewritten on every generation.
    Generated,
    /// Written when absent, then the user's.
    User,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GeneratedFile {
    pub contents: String,
    pub owner: Owner,
}

/// The files of a generated crate, by path relative to its root, in path order.
pub type Files = BTreeMap<PathBuf, GeneratedFile>;

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

/// Generates the crate for a checked schema, as a first generation (one initial migration).
pub fn generate(schema: &CheckedSchema, options: &Options) -> Files {
    match generate_from(schema, options, None, false) {
        Ok(files) => files,
        Err(e) => panic!("{e}"),
    }
}

/// Generates the crate for a checked schema over an existing one: when the schema differs from
/// the one the last migration reached, the next numbered migration is added for each dialect.
/// Destructive changes are refused unless `allow_destructive`.
pub fn generate_from(
    schema: &CheckedSchema,
    options: &Options,
    previous: Option<&Previous>,
    allow_destructive: bool,
) -> Result<Files, GenerateError> {
    let carried;
    let schema = match previous {
        Some(prev) => {
            carried = carry_ids(schema, &prev.schema);
            &carried
        }
        None => schema,
    };
    let mut files = Files::new();
    let header = format!(
        "// @generated by baas {} from {} — do not edit: regenerate with `baas generate`.\n\n",
        env!("CARGO_PKG_VERSION"),
        options.source
    );
    let history = migrations(schema, previous, allow_destructive, &options.source)?;
    let mut add = |path: &str, contents: String, owner| {
        files.insert(PathBuf::from(path), GeneratedFile { contents, owner });
    };
    let layout = rust::Layout::Files;
    add(
        "src/generated/mod.rs",
        rust::file(&header, rust::generated_mod(schema, &history.names, &layout)),
        Owner::Generated,
    );
    for c in &schema.schema.collections {
        let path = format!("src/generated/{}.rs", names::module_ident(&c.name));
        add(&path, rust::file(&header, rust::collection_module(schema, c)), Owner::Generated);
    }
    add("src/generated/schema.json", schema_json(schema), Owner::Generated);
    add("src/generated/openapi.json", openapi::document(schema, &options.name), Owner::Generated);
    for (path, contents) in history.files {
        add(&format!("migrations/{}", path.display()), contents, Owner::Generated);
    }
    add("Cargo.toml", cargo_toml(options), Owner::User);
    add("README.md", readme(schema, options), Owner::User);
    add("src/main.rs", rust::file("", rust::main_rs(&options.name)), Owner::User);
    add("src/hooks.rs", rust::file("", rust::hooks_rs(schema)), Owner::User);
    Ok(files)
}

/// The schema as the runtime reads it (and as `migrations/schema.json` records it).
pub fn schema_json(schema: &CheckedSchema) -> String {
    serde_json::to_string_pretty(&schema.schema).expect("the IR serializes") + "\n"
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
fn carry_ids(schema: &CheckedSchema, previous: &baas_schema::Schema) -> CheckedSchema {
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

#[derive(Template)]
#[template(path = "Cargo.toml", escape = "none")]
struct CargoToml<'a> {
    version: &'a str,
    source: &'a str,
    name: &'a str,
    runtime: &'a str,
}

fn cargo_toml(o: &Options) -> String {
    CargoToml { version: env!("CARGO_PKG_VERSION"), source: &o.source, name: &o.name, runtime: &o.runtime }
        .render()
        .expect("the Cargo.toml template renders")
}

#[derive(Template)]
#[template(path = "README.md", escape = "none")]
struct Readme<'a> {
    version: &'a str,
    source: &'a str,
    name: &'a str,
    collections: Vec<&'a str>,
    /// `collection.field` of every file field.
    file_fields: Vec<String>,
}

fn readme(schema: &CheckedSchema, o: &Options) -> String {
    Readme {
        version: env!("CARGO_PKG_VERSION"),
        source: &o.source,
        name: &o.name,
        collections: schema.schema.collections.iter().map(|c| c.name.as_str()).collect(),
        file_fields: schema
            .schema
            .collections
            .iter()
            .flat_map(|c| {
                let files = c.fields.iter().filter(|f| matches!(f.ty, baas_schema::ir::FieldType::File { .. }));
                files.map(move |f| format!("{}.{}", c.name, f.name))
            })
            .collect(),
    }
    .render()
    .expect("the README template renders")
}

/// What [`write`] did to each file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteReport {
    pub written: Vec<PathBuf>,
    pub unchanged: Vec<PathBuf>,
    /// User files that exist and were left alone.
    pub kept: Vec<PathBuf>,
}

/// Writes `files` under `out`: generated files when their bytes differ, user files only when
/// absent. Stale generated Rust files of removed collections are deleted.
pub fn write(out: &Path, files: &Files) -> std::io::Result<WriteReport> {
    let mut report = WriteReport::default();
    for (rel, file) in files {
        let path = out.join(rel);
        let existing = std::fs::read(&path).ok();
        match (file.owner, existing) {
            (Owner::User, Some(_)) => report.kept.push(rel.clone()),
            (Owner::Generated, Some(bytes)) if bytes == file.contents.as_bytes() => report.unchanged.push(rel.clone()),
            _ => {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                std::fs::write(&path, &file.contents)?;
                report.written.push(rel.clone());
            }
        }
    }
    let generated_dir = out.join("src/generated");
    if let Ok(entries) = std::fs::read_dir(&generated_dir) {
        for entry in entries.flatten() {
            let rel = Path::new("src/generated").join(entry.file_name());
            if !files.contains_key(&rel) && rel.extension().is_some_and(|e| e == "rs") {
                std::fs::remove_file(entry.path())?;
                report.written.push(rel);
            }
        }
    }
    Ok(report)
}

/// Generated files whose contents on disk differ from `files` (for `--check`).
pub fn stale(out: &Path, files: &Files) -> Vec<PathBuf> {
    files
        .iter()
        .filter(|(_, f)| f.owner == Owner::Generated)
        .filter(|(rel, f)| std::fs::read(out.join(rel)).ok().as_deref() != Some(f.contents.as_bytes()))
        .map(|(rel, _)| rel.clone())
        .collect()
}
