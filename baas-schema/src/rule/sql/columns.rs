//! Columns: a [`ColumnRef`] as SQL. Its relation steps become joins — the expression's
//! shared LEFT JOINs, one per path, or the private ones of an every-item check — and, for
//! client filters, each joined collection is narrowed to the rows its list rule admits. Its
//! value is read as its modifier, its JSON type or its multi-valued storage asks.

use super::compiler::Compiler;
use super::dialect::{array_text, quote};
use super::{Dialect, Related, SqlTy};
use crate::check::{ColumnRef, Step};
use crate::ir::{FieldType, system};
use crate::rule::expr::ast::Modifier;

/// One LEFT JOIN of an expression.
pub(super) struct Join {
    /// The path it stands for; `None` for a join that one comparison uses alone (the items of
    /// the record's own multi-valued field, or of a request value).
    pub(super) key: Option<String>,
    pub(super) alias: String,
    pub(super) sql: String,
}

/// The FROM items and link conditions of a comparison's private (inner) joins: the every-item
/// check of a plain operator over several values reads them independently of the shared row.
#[derive(Default)]
pub(super) struct Scope {
    pub(super) from: Vec<String>,
    pub(super) links: Vec<String>,
}

/// What a FROM item is joined on.
type Reached = (String, Vec<String>);

impl Compiler<'_, '_> {
    /// SQL for a column; `want` is the type it is compared as (it decides how a JSON value is
    /// read).
    pub(super) fn column(&mut self, col: &ColumnRef, scope: &mut Option<&mut Scope>, want: SqlTy) -> String {
        // the path so far, naming the shared joins: `@collection.users:u.posts_via_author.tags`
        let mut key = String::new();
        let mut at = match &col.root {
            None => self.record.clone(),
            Some(root) => {
                key = format!("@collection.{}:{}", root.collection, root.alias);
                let table = quote(&root.collection);
                self.reach(scope, &key, "c", |_, c| (format!("{table} AS {c}"), Vec::new()))
            }
        };
        for step in &col.steps {
            let table = quote(match step {
                Step::Forward { to, .. } | Step::Back { to, .. } => to,
            });
            let from = at.clone();
            at = match step {
                Step::Forward { field, to, multiple, .. } => {
                    key = format!("{key}.{field}");
                    let mut source = format!("{from}.{}", quote(field));
                    if *multiple {
                        source = self.items(&source, scope, Some(format!("{key}[]")));
                    }
                    self.reach(scope, &key, "j", |c, j| {
                        (format!("{table} AS {j}"), c.linked(to, j, format!("{j}.\"id\" = {source}")))
                    })
                }
                Step::Back { to, field, multiple, .. } => {
                    key = format!("{key}.{to}_via_{field}");
                    self.reach(scope, &key, "j", |c, j| {
                        let link = if *multiple {
                            c.contains(&format!("{j}.{}", quote(field)), &format!("{from}.\"id\""))
                        } else {
                            format!("{j}.{} = {from}.\"id\"", quote(field))
                        };
                        (format!("{table} AS {j}"), c.linked(to, j, link))
                    })
                }
            };
        }
        let mut column = format!("{at}.{}", quote(&col.field));
        if self.email_if_visible(col) {
            // a client reads only the e-mails their owners made visible
            column = format!("(CASE WHEN {at}.{} THEN {column} END)", quote(system::EMAIL_VISIBILITY));
        }
        match col.modifier {
            Some(Modifier::Length) => match self.target.dialect {
                Dialect::Sqlite => format!("json_array_length({column})"),
                Dialect::Postgres => format!("jsonb_array_length({column})"),
            },
            Some(Modifier::Lower) if col.field_ty == FieldType::Json => {
                format!("LOWER({})", self.json_value(&column, SqlTy::Text))
            }
            Some(Modifier::Lower) => format!("LOWER({column})"),
            _ if col.each => {
                // the items of the record's own field are its comparison's alone; those of a
                // related record are shared like the record
                let shared = (!key.is_empty()).then(|| format!("{key}.{}:each", col.field));
                self.items(&column, scope, shared)
            }
            _ if col.field_ty == FieldType::Json => self.json_value(&column, want),
            // a multi-valued field without `:each` is its JSON text (`tags ~ "tech"`), written
            // compactly as SQLite stores it (`jsonb::text` would put a space after each comma)
            _ if col.field_ty.is_multiple() => array_text(&column, self.target.dialect),
            _ => column,
        }
    }

    /// Whether `col` is an auth record's e-mail that this client filter reads only where
    /// `emailVisibility` allows.
    pub(super) fn email_if_visible(&self, col: &ColumnRef) -> bool {
        col.field == system::EMAIL && self.access.is_some_and(|a| a.is_auth(&col.collection))
    }

    /// Joins a table for a column path: into the comparison's private scope when there is
    /// one, else as the expression's LEFT JOIN for `key` (made once, then shared). `make`
    /// gives the FROM item and its link conditions for an alias.
    fn reach(
        &mut self,
        scope: &mut Option<&mut Scope>,
        key: &str,
        prefix: &str,
        make: impl FnOnce(&mut Self, &str) -> Reached,
    ) -> String {
        match scope {
            Some(scope) => {
                let alias = self.alias(prefix);
                let (item, links) = make(self, &alias);
                scope.from.push(item);
                scope.links.extend(links);
                alias
            }
            None => self.join(Some(key.to_owned()), prefix, make),
        }
    }

    /// The expression's LEFT JOIN for `key`, made with `make` unless it exists.
    fn join(&mut self, key: Option<String>, prefix: &str, make: impl FnOnce(&mut Self, &str) -> Reached) -> String {
        self.join_uses += 1;
        if let Some(found) = key.as_ref().and_then(|k| self.joins.iter().find(|j| j.key.as_ref() == Some(k))) {
            return found.alias.clone();
        }
        let alias = self.alias(prefix);
        let (item, on) = make(self, &alias);
        let on = if on.is_empty() { self.truth(true) } else { on.join(" AND ") };
        self.joins.push(Join { key, alias: alias.clone(), sql: format!("LEFT JOIN {item} ON {on}") });
        alias
    }

    /// The items of a JSON array as rows; returns the SQL of an item. Outside a private scope
    /// the join is a LEFT one, so an empty array reads as one missing value, as in PocketBase.
    pub(super) fn items(&mut self, array: &str, scope: &mut Option<&mut Scope>, key: Option<String>) -> String {
        let e = match scope {
            Some(scope) => {
                let e = self.alias("e");
                scope.from.push(self.json_items(array, &e));
                e
            }
            None => self.join(key, "e", |c, e| (c.json_items(array, e), Vec::new())),
        };
        format!("{e}.value")
    }

    /// `link`, and for client filters the list rule of `collection` on the joined row.
    fn linked(&mut self, collection: &str, alias: &str, link: String) -> Vec<String> {
        let mut on = vec![link];
        on.extend(self.restrict(collection, alias));
        on
    }

    /// Whether the JSON array `array` holds `value`.
    fn contains(&mut self, array: &str, value: &str) -> String {
        match self.target.dialect {
            Dialect::Sqlite => {
                let e = self.alias("e");
                format!("EXISTS (SELECT 1 FROM json_each({array}) AS {e} WHERE {e}.value = {value})")
            }
            Dialect::Postgres => format!("{array} @> jsonb_build_array({value})"),
        }
    }

    /// The value a JSON field holds, read as `want`: `extra = 5` matches the JSON number 5,
    /// `extra = "x"` the JSON string "x", `extra = true` the JSON true, and a value of another
    /// JSON type matches nothing rather than failing the query. `to_jsonb` lets the same SQL
    /// read the computed columns of views, which are typed JSON whatever their SQL type.
    fn json_value(&self, column: &str, want: SqlTy) -> String {
        match (self.target.dialect, want) {
            (Dialect::Sqlite, SqlTy::Number) => format!(
                "(CASE WHEN json_valid({column}) THEN (CASE json_type({column}) WHEN 'integer' THEN json_extract({column}, '$') WHEN 'real' THEN json_extract({column}, '$') END) END)"
            ),
            (Dialect::Sqlite, SqlTy::Bool) => format!(
                "(CASE WHEN json_valid({column}) THEN (CASE json_type({column}) WHEN 'true' THEN 1 WHEN 'false' THEN 0 END) END)"
            ),
            (Dialect::Sqlite, _) => {
                format!(
                    "(CASE WHEN json_valid({column}) THEN CAST(json_extract({column}, '$') AS TEXT) ELSE {column} END)"
                )
            }
            (Dialect::Postgres, SqlTy::Number) => format!(
                "(CASE WHEN jsonb_typeof(to_jsonb({column})) = 'number' THEN (to_jsonb({column}) #>> '{{}}')::float8 END)"
            ),
            (Dialect::Postgres, SqlTy::Bool) => format!(
                "(CASE WHEN jsonb_typeof(to_jsonb({column})) = 'boolean' THEN (to_jsonb({column}) #>> '{{}}')::boolean END)"
            ),
            (Dialect::Postgres, _) => format!("(to_jsonb({column}) #>> '{{}}')"),
        }
    }

    /// The list rule of `collection` on the row joined as `alias`, for client filters: `None`
    /// when every row may be seen.
    fn restrict(&mut self, collection: &str, alias: &str) -> Option<String> {
        let access = self.access?;
        match access.related(collection) {
            Related::Open => None,
            Related::Closed => Some(self.truth(false)),
            Related::Filter(rule) => {
                // The related rule is compiled for the joined row, without further restriction.
                let record = std::mem::replace(&mut self.record, alias.to_owned());
                self.access = None;
                let sql = self.unit(rule);
                self.access = Some(access);
                self.record = record;
                Some(format!("({sql})"))
            }
        }
    }

    /// A FROM item yielding the items of a JSON array as rows with a `value` column.
    fn json_items(&self, array: &str, alias: &str) -> String {
        match self.target.dialect {
            Dialect::Sqlite => format!("json_each({array}) AS {alias}"),
            Dialect::Postgres => format!("jsonb_array_elements_text({array}) AS {alias}(value)"),
        }
    }
}
