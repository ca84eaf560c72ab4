//! Migrations from schema diffs: the schema the last migration brought the database to
//! (`migrations/schema.json`) against the new one, per dialect, with no database involved.
//!
//! Renames are declared (`renamed_from`), never guessed. Changes that lose data — dropping a
//! collection or field, changing a field's type — are refused unless acknowledged
//! (`allow_destructive`). Columns SQLite cannot `ALTER` are changed with its table-rebuild
//! procedure (create the new table, copy, drop, rename) inside the migration's transaction.

use baas_schema::ir::{Action, Collection, CollectionKind, Field, FieldType, ImpliedIndexes, Schema};
use baas_schema::sql::{Dialect, column_type, quote};

use crate::ddl;

/// One change between two schemas, in words (for migration names, comments and errors).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub summary: String,
    /// Loses data when applied.
    pub destructive: bool,
}

/// A migration computed from a diff: the statements per dialect and what they do.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub changes: Vec<Change>,
    pub sqlite: Vec<String>,
    pub postgres: Vec<String>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// A file-name-safe name for the migration (`add_posts_subtitle`).
    pub fn name(&self) -> String {
        let first = self.changes.first().map_or("schema", |c| c.summary.as_str());
        let mut name: String =
            first.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect();
        while name.contains("__") {
            name = name.replace("__", "_");
        }
        let mut name = name.trim_matches('_').to_owned();
        if name.len() > 40 {
            // cut at a word boundary
            let cut = name[..40].rfind('_').unwrap_or(40);
            name.truncate(cut);
        }
        if self.changes.len() > 1 {
            name.push_str("_and_more");
        }
        name
    }

    pub fn destructive(&self) -> Vec<&Change> {
        self.changes.iter().filter(|c| c.destructive).collect()
    }
}

/// The migration that takes a database from `old` to `new`.
pub fn plan(old: &Schema, new: &Schema) -> Plan {
    let mut plan = Plan::default();
    let mut d = Differ { plan: &mut plan, implied: (old.implied_indexes, new.implied_indexes) };
    d.run(old, new);
    plan
}

struct Differ<'p> {
    plan: &'p mut Plan,
    /// Which indexes the old and the new schema's baas derives.
    implied: (ImpliedIndexes, ImpliedIndexes),
}

impl Differ<'_> {
    fn change(&mut self, summary: String, destructive: bool) {
        self.plan.changes.push(Change { summary, destructive });
    }

    fn both(&mut self, sql: String) {
        self.plan.sqlite.push(sql.clone());
        self.plan.postgres.push(sql);
    }

    fn run(&mut self, old: &Schema, new: &Schema) {
        let tables = |s: &Schema| s.collections.iter().filter(|c| !c.is_view()).cloned().collect::<Vec<_>>();
        let (old_tables, new_tables) = (tables(old), tables(new));
        let matched: Vec<(Option<&Collection>, &Collection)> =
            new_tables.iter().map(|c| (find(&old_tables, &c.name, c.renamed_from.as_deref()), c)).collect();
        for old_c in &old_tables {
            if !matched.iter().any(|(o, _)| o.is_some_and(|o| o.name == old_c.name)) {
                self.change(format!("drop collection {}", old_c.name), true);
                self.both(format!("DROP TABLE {}", quote(&old_c.name)));
            }
        }
        for (old_c, new_c) in &matched {
            match old_c {
                None => {
                    self.change(format!("add collection {}", new_c.name), false);
                    for dialect in [Dialect::Sqlite, Dialect::Postgres] {
                        let t = ddl::table(new_c, dialect, self.implied.1);
                        let mut stmts =
                            vec![format!("CREATE TABLE {} (\n    {}\n)", t.name, t.columns.join(",\n    "))];
                        stmts.extend(t.indexes);
                        self.push(dialect, stmts);
                    }
                }
                Some(old_c) => self.collection(old_c, new_c),
            }
        }
        for (old_c, new_c) in &matched {
            let Some(old_c) = old_c else { continue };
            for action in Action::ALL {
                let (a, b) = (old_c.rules.get(action).map(|r| &r.expr), new_c.rules.get(action).map(|r| &r.expr));
                if a != b {
                    self.change(format!("change {} rule of {}", action.name(), new_c.name), false);
                }
            }
        }
        // Views read tables: around any table change, and when they change themselves, they
        // are dropped first and created again last.
        let (old_views, new_views) = (views(old), views(new));
        if old_views != new_views {
            self.change("change views".into(), false);
        }
        if old_views != new_views || (!self.plan.sqlite.is_empty() && !new_views.is_empty()) {
            let drops: Vec<String> =
                old_views.iter().map(|(n, _)| format!("DROP VIEW IF EXISTS {}", quote(n))).collect();
            for list in [&mut self.plan.sqlite, &mut self.plan.postgres] {
                list.splice(0..0, drops.iter().cloned());
            }
            for (name, query) in &new_views {
                self.both(format!("CREATE VIEW {} AS {}", quote(name), query.trim().trim_end_matches(';')));
            }
        }
    }

    fn push(&mut self, dialect: Dialect, stmts: Vec<String>) {
        match dialect {
            Dialect::Sqlite => self.plan.sqlite.extend(stmts),
            Dialect::Postgres => self.plan.postgres.extend(stmts),
        }
    }

    fn collection(&mut self, old: &Collection, new: &Collection) {
        let name = &new.name;
        if old.name != new.name {
            self.change(format!("rename collection {} to {name}", old.name), false);
            self.both(format!("ALTER TABLE {} RENAME TO {}", quote(&old.name), quote(name)));
        }
        let old_indexes = ddl::indexes(old, self.implied.0);
        let new_indexes = ddl::indexes(new, self.implied.1);
        // Indexes go before columns change and come back after.
        for i in old_indexes.iter().filter(|i| !new_indexes.iter().any(|n| n.name == i.name)) {
            self.change(format!("drop index {}", i.name), false);
        }
        for i in new_indexes.iter().filter(|i| !old_indexes.iter().any(|o| o.name == i.name)) {
            self.change(format!("add index {}", i.name), false);
        }
        for i in &old_indexes {
            if !new_indexes.contains(i) || old.name != new.name {
                self.both(format!("DROP INDEX IF EXISTS {}", quote(&i.name)));
            }
        }

        let mut rebuild = false;
        let mut added: Vec<&Field> = Vec::new();
        let mut renamed: Vec<(&Field, &Field)> = Vec::new();
        let mut kept: Vec<(&Field, &Field)> = Vec::new();
        for f in &new.fields {
            match old.fields.iter().find(|o| o.name == f.name || f.renamed_from.as_deref() == Some(o.name.as_str())) {
                None => added.push(f),
                Some(o) if o.name != f.name => renamed.push((o, f)),
                Some(o) => kept.push((o, f)),
            }
        }
        let dropped: Vec<&Field> = old
            .fields
            .iter()
            .filter(|o| {
                !new.fields.iter().any(|f| f.name == o.name || f.renamed_from.as_deref() == Some(o.name.as_str()))
            })
            .collect();
        for o in &dropped {
            self.change(format!("drop field {name}.{}", o.name), true);
            rebuild = true;
        }
        for (o, f) in renamed.iter().copied().chain(kept.iter().copied()) {
            if o.name != f.name {
                self.change(format!("rename field {name}.{} to {}", o.name, f.name), false);
                self.both(format!(
                    "ALTER TABLE {} RENAME COLUMN {} TO {}",
                    quote(name),
                    quote(&o.name),
                    quote(&f.name)
                ));
            }
            if storage(&o.ty) != storage(&f.ty) {
                // Anything single converts to text without loss; every other change narrows.
                let widening =
                    !o.ty.is_multiple() && !f.ty.is_multiple() && column_type(&f.ty, Dialect::Sqlite) == "TEXT";
                self.change(
                    format!("change type of {name}.{} from {} to {}", f.name, describe(&o.ty), describe(&f.ty)),
                    !widening,
                );
                rebuild = true;
            } else if options_differ(o, f) {
                self.change(format!("change options of {name}.{}", f.name), false);
            }
        }
        for f in &added {
            self.change(format!("add field {name}.{}", f.name), f.required);
        }

        if rebuild {
            self.rebuild_sqlite(old, new);
            self.alter_postgres(new, &dropped, &kept, &renamed);
        }
        for f in &added {
            for dialect in [Dialect::Sqlite, Dialect::Postgres] {
                let sql = format!("ALTER TABLE {} ADD COLUMN {}", quote(name), ddl::column(f, dialect));
                self.push(dialect, vec![sql]);
            }
        }
        for i in &new_indexes {
            if !old_indexes.contains(i) || old.name != new.name {
                self.both(i.sql.clone());
            } else if rebuild {
                // SQLite's rebuild dropped every index with the old table
                self.plan.sqlite.push(i.sql.clone());
            }
        }
    }

    /// SQLite's procedure for changes `ALTER TABLE` can't make: a new table with the new
    /// shape, the rows copied (converted where the type changed), the old table replaced.
    fn rebuild_sqlite(&mut self, old: &Collection, new: &Collection) {
        let name = &new.name;
        let tmp = format!("_baas_new_{name}");
        let mut target = new.clone();
        target.name = tmp.clone();
        // Columns added by this migration come with ALTER TABLE afterwards.
        target.fields.retain(|f| {
            old.fields.iter().any(|o| o.name == f.name || f.renamed_from.as_deref() == Some(o.name.as_str()))
        });
        let t = ddl::table(&target, Dialect::Sqlite, self.implied.1);
        let mut stmts = vec![format!("CREATE TABLE {} (\n    {}\n)", t.name, t.columns.join(",\n    "))];
        let cols: Vec<String> = target.fields.iter().map(|f| quote(&f.name)).collect();
        let exprs: Vec<String> = target
            .fields
            .iter()
            .map(|f| {
                // the old column has been renamed already, so it carries the new name
                let from = quote(&f.name);
                match (
                    old.fields.iter().find(|o| o.name == f.name || f.renamed_from.as_deref() == Some(o.name.as_str())),
                    &f.ty,
                ) {
                    (Some(o), ty) if storage(&o.ty) != storage(ty) => convert_sqlite(&from, &o.ty, ty),
                    _ => from,
                }
            })
            .collect();
        stmts.push(format!(
            "INSERT INTO {} ({}) SELECT {} FROM {}",
            quote(&tmp),
            cols.join(", "),
            exprs.join(", "),
            quote(name)
        ));
        stmts.push(format!("DROP TABLE {}", quote(name)));
        stmts.push(format!("ALTER TABLE {} RENAME TO {}", quote(&tmp), quote(name)));
        self.plan.sqlite.extend(stmts);
    }

    fn alter_postgres(
        &mut self,
        new: &Collection,
        dropped: &[&Field],
        kept: &[(&Field, &Field)],
        renamed: &[(&Field, &Field)],
    ) {
        let name = quote(&new.name);
        for o in dropped {
            self.plan.postgres.push(format!("ALTER TABLE {name} DROP COLUMN {}", quote(&o.name)));
        }
        for (o, f) in kept.iter().chain(renamed) {
            if storage(&o.ty) == storage(&f.ty) {
                continue;
            }
            let col = quote(&f.name);
            let ty = column_type(&f.ty, Dialect::Postgres);
            let using = convert_postgres(&col, &o.ty, &f.ty);
            self.plan.postgres.push(format!("ALTER TABLE {name} ALTER COLUMN {col} DROP DEFAULT"));
            self.plan.postgres.push(format!("ALTER TABLE {name} ALTER COLUMN {col} TYPE {ty} USING {using}"));
            let default = ddl::column(f, Dialect::Postgres);
            if let Some(default) = default.split(" DEFAULT ").nth(1) {
                self.plan.postgres.push(format!("ALTER TABLE {name} ALTER COLUMN {col} SET DEFAULT {default}"));
            }
        }
    }
}

/// A collection of `old` matching `name` or, for a rename, `renamed_from`.
fn find<'a>(old: &'a [Collection], name: &str, renamed_from: Option<&str>) -> Option<&'a Collection> {
    old.iter().find(|c| c.name == name).or_else(|| renamed_from.and_then(|r| old.iter().find(|c| c.name == r)))
}

fn views(s: &Schema) -> Vec<(String, String)> {
    s.collections
        .iter()
        .filter_map(|c| match &c.kind {
            CollectionKind::View { query, .. } => Some((c.name.clone(), query.clone())),
            _ => None,
        })
        .collect()
}

/// What a field's column holds: fields with the same storage need no DDL when they change.
fn storage(ty: &FieldType) -> (&'static str, &'static str) {
    (column_type(ty, Dialect::Sqlite), column_type(ty, Dialect::Postgres))
}

fn describe(ty: &FieldType) -> String {
    if ty.is_multiple() { format!("multiple {}", ty.name()) } else { ty.name().to_owned() }
}

/// Whether validation-level options differ (no DDL, but the change is recorded).
fn options_differ(a: &Field, b: &Field) -> bool {
    a.ty != b.ty || a.required != b.required || a.unique != b.unique || a.hidden != b.hidden
}

/// SQLite expression converting a column between storages.
fn convert_sqlite(col: &str, from: &FieldType, to: &FieldType) -> String {
    match (from.is_multiple(), to.is_multiple()) {
        (false, true) => format!("CASE WHEN {col} = '' THEN '[]' ELSE json_array({col}) END"),
        (true, false) => format!("COALESCE(json_extract({col}, '$[#-1]'), '')"),
        _ => match column_type(to, Dialect::Sqlite) {
            "INTEGER" | "REAL" => {
                format!("COALESCE(CAST(NULLIF({col}, '') AS {}), 0)", column_type(to, Dialect::Sqlite))
            }
            _ => format!("CAST({col} AS TEXT)"),
        },
    }
}

/// PostgreSQL `USING` expression converting a column between storages.
fn convert_postgres(col: &str, from: &FieldType, to: &FieldType) -> String {
    match (from.is_multiple(), to.is_multiple()) {
        (false, true) => format!("CASE WHEN {col} = '' THEN '[]'::jsonb ELSE jsonb_build_array({col}) END"),
        (true, false) => format!("COALESCE({col} ->> -1, '')"),
        _ => match column_type(to, Dialect::Postgres) {
            "DOUBLE PRECISION" => format!("COALESCE(NULLIF({col}::text, '')::double precision, 0)"),
            "BOOLEAN" => format!("COALESCE(NULLIF({col}::text, '') IN ('1', 'true', 't'), FALSE)"),
            "JSONB" => format!("to_jsonb({col})"),
            _ => format!("{col}::text"),
        },
    }
}
