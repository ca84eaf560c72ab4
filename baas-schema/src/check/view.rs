//! View collections: a SQL `SELECT` over other collections. The query is parsed with
//! `sqlparser` in both dialects (it runs on SQLite and on PostgreSQL), every table and column
//! it names must exist, and the view's fields are derived from its select list.

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use sqlparser::ast::{
    Expr, FunctionArguments, Ident, ObjectName, ObjectNamePart, SelectItem, SetExpr, Statement, TableFactor,
    visit_expressions, visit_relations,
};
use sqlparser::dialect::{Dialect, PostgreSqlDialect, SQLiteDialect};
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Location, Span as SqlSpan};

use crate::diag::{Diagnostic, Diagnostics, did_you_mean};
use crate::ir::{Collection, CollectionKind, Field, FieldType, Origin, Schema, system};
use crate::source::Span;

/// Fills in the fields of view collections from their queries, declared fields giving types.
pub(super) fn derive_fields(schema: &mut Schema, diags: &mut Diagnostics) {
    let derived: Vec<(usize, Vec<Field>)> = schema
        .collections
        .iter()
        .enumerate()
        .filter_map(|(i, c)| match &c.kind {
            CollectionKind::View { query, query_origin } => Some((i, fields(schema, c, query, query_origin, diags))),
            _ => None,
        })
        .collect();
    for (i, mut fields) in derived {
        let view = &mut schema.collections[i];
        for declared in &view.fields {
            match fields.iter_mut().find(|f| f.name == declared.name) {
                Some(f) => f.ty = declared.ty.clone(),
                None => diags.push(Diagnostic::error(
                    declared.span,
                    format!("view '{}' declares field '{}', which its query does not select", view.name, declared.name),
                )),
            }
        }
        view.fields = fields;
    }
}

/// Checks the query of view `view` and returns the fields it produces.
pub fn fields(schema: &Schema, view: &Collection, query: &str, origin: &Origin, diags: &mut Diagnostics) -> Vec<Field> {
    // The place of a piece of the query in the file: all of it when sqlparser knows where it
    // ends, its first character otherwise.
    let at = |span: SqlSpan| -> Span {
        let start = offset_of(query, span.start);
        let end = if span.end > span.start { offset_of(query, span.end) } else { start };
        let end = if end > start {
            end
        } else {
            query.get(start..).and_then(|r| r.chars().next()).map_or(start, |c| start + c.len_utf8())
        };
        origin.map_span(Span::new(start, end))
    };
    let whole = origin.map_span(Span::new(0, query.len()));
    let dialects: [(&str, &dyn Dialect); 2] = [("SQLite", &SQLiteDialect {}), ("PostgreSQL", &PostgreSqlDialect {})];
    let mut statements = None;
    for (name, dialect) in dialects {
        match Parser::parse_sql(dialect, query) {
            Ok(parsed) => statements = statements.or(Some(parsed)),
            Err(e) => {
                diags.push(
                    Diagnostic::error(whole, format!("the query of view '{}' is not valid {name} SQL: {e}", view.name))
                        .with_help("a view query must run on SQLite and on PostgreSQL alike"),
                );
                return Vec::new();
            }
        }
    }
    let statements = statements.unwrap_or_default();
    let [Statement::Query(query_ast)] = statements.as_slice() else {
        diags.push(Diagnostic::error(whole, format!("the query of view '{}' must be exactly one SELECT", view.name)));
        return Vec::new();
    };
    let SetExpr::Select(select) = query_ast.body.as_ref() else {
        diags.push(
            Diagnostic::error(whole, format!("the query of view '{}' must be a plain SELECT", view.name))
                .with_help("UNION, VALUES and the like are not supported in views"),
        );
        return Vec::new();
    };

    // Tables, by the name the query refers to them with.
    let mut tables: BTreeMap<String, &Collection> = BTreeMap::new();
    let mut factors = Vec::new();
    for from in &select.from {
        factors.push(&from.relation);
        factors.extend(from.joins.iter().map(|j| &j.relation));
    }
    let mut ok = true;
    // Where the FROM items name their tables: each is reported once, below, not again by the
    // walk over every table name of the query.
    let from_places: Vec<Location> = factors
        .iter()
        .filter_map(|f| match f {
            TableFactor::Table { name, .. } => Some(last_ident(name).span.start),
            _ => None,
        })
        .collect();
    for factor in factors {
        let TableFactor::Table { name, alias, .. } = factor else {
            diags.push(Diagnostic::error(whole, "views select from collections only (no subqueries in FROM)"));
            ok = false;
            continue;
        };
        let Some(collection) = lookup_table(schema, name, &at, diags) else {
            ok = false;
            continue;
        };
        let key = alias.as_ref().map_or_else(|| collection.name.clone(), |a| a.name.value.clone());
        tables.insert(key, collection);
    }
    // Tables named elsewhere (subqueries in WHERE, …) must exist too.
    let _ = visit_relations(&statements, |name| {
        let ident = last_ident(name);
        if lookup_name(schema, name).is_none()
            && !tables.contains_key(&ident.value)
            && !from_places.contains(&ident.span.start)
        {
            ok &= lookup_table(schema, name, &at, diags).is_some();
        }
        ControlFlow::<()>::Continue(())
    });
    if !ok {
        return Vec::new();
    }

    // Output names are usable in GROUP BY / ORDER BY.
    let aliases: Vec<String> = select
        .projection
        .iter()
        .filter_map(|item| match item {
            SelectItem::ExprWithAlias { alias, .. } => Some(alias.value.clone()),
            _ => None,
        })
        .collect();
    let _ = visit_expressions(&statements, |expr| {
        match expr {
            Expr::Identifier(ident) => {
                let found = tables.values().any(|c| c.field(&ident.value).is_some()) || aliases.contains(&ident.value);
                if !found {
                    let names: Vec<&str> =
                        tables.values().flat_map(|c| c.fields.iter().map(|f| f.name.as_str())).collect();
                    let mut d = Diagnostic::error(
                        at(ident.span),
                        format!("unknown column '{}' in view '{}'", ident.value, view.name),
                    );
                    d.help = did_you_mean(&ident.value, names);
                    diags.push(d);
                }
            }
            Expr::CompoundIdentifier(parts) if parts.len() == 2 => {
                let (table, column) = (&parts[0], &parts[1]);
                match tables.get(&table.value) {
                    None => {
                        let mut d = Diagnostic::error(
                            at(table.span),
                            format!("'{}' is not a table of this query", table.value),
                        );
                        d.help = did_you_mean(&table.value, tables.keys().map(String::as_str));
                        diags.push(d);
                    }
                    Some(c) if c.field(&column.value).is_none() => {
                        let mut d = Diagnostic::error(
                            at(column.span),
                            format!("unknown column '{}' in collection '{}'", column.value, c.name),
                        );
                        d.help = did_you_mean(&column.value, c.fields.iter().map(|f| f.name.as_str()));
                        diags.push(d);
                    }
                    Some(_) => {}
                }
            }
            _ => {}
        }
        ControlFlow::<()>::Continue(())
    });

    let mut fields = Vec::new();
    for item in &select.projection {
        let (expr, name) = match item {
            SelectItem::UnnamedExpr(expr @ Expr::Identifier(i)) => (expr, i.clone()),
            SelectItem::UnnamedExpr(expr @ Expr::CompoundIdentifier(parts)) => (expr, parts[parts.len() - 1].clone()),
            SelectItem::ExprWithAlias { expr, alias } => (expr, alias.clone()),
            SelectItem::UnnamedExpr(_) => {
                diags.push(
                    Diagnostic::error(whole, format!("every computed column of view '{}' needs a name", view.name))
                        .with_help("add `AS name` after the expression"),
                );
                continue;
            }
            _ => {
                diags.push(
                    Diagnostic::error(whole, format!("view '{}' must list its columns", view.name))
                        .with_help("replace `*` by the columns the view exposes"),
                );
                continue;
            }
        };
        if fields.iter().any(|f: &Field| f.name == name.value) {
            diags.push(Diagnostic::error(
                at(name.span),
                format!("view '{}' has two columns named '{}'", view.name, name.value),
            ));
            continue;
        }
        let ty = source_field(&tables, expr).map_or_else(|| computed_type(expr), |f| f.ty.clone());
        let mut field = Field::new(name.value.clone(), ty);
        field.system = name.value == system::ID;
        fields.push(field);
    }
    if !fields.iter().any(|f| f.name == system::ID) {
        diags.push(
            Diagnostic::error(whole, format!("view '{}' must select an 'id' column", view.name))
                .with_help("select the id of the main table, e.g. `SELECT posts.id, ...`"),
        );
    }
    fields
}

fn source_field<'a>(tables: &BTreeMap<String, &'a Collection>, expr: &Expr) -> Option<&'a Field> {
    match expr {
        Expr::Identifier(i) => tables.values().find_map(|c| c.field(&i.value)),
        Expr::CompoundIdentifier(parts) if parts.len() == 2 => tables.get(&parts[0].value)?.field(&parts[1].value),
        Expr::Nested(inner) => source_field(tables, inner),
        _ => None,
    }
}

/// The type of a computed column: counts and sums are numbers, anything else is JSON.
fn computed_type(expr: &Expr) -> FieldType {
    match expr {
        Expr::Function(f) => {
            let name = f.name.to_string().to_ascii_lowercase();
            let numeric = ["count", "sum", "total", "avg", "min", "max", "length", "abs", "round"];
            if numeric.contains(&name.as_str()) && !matches!(f.args, FunctionArguments::None) {
                FieldType::Number { min: None, max: None, integer: name == "count" || name == "length" }
            } else {
                FieldType::Json
            }
        }
        Expr::Value(v) if v.to_string().parse::<f64>().is_ok() => {
            FieldType::Number { min: None, max: None, integer: false }
        }
        Expr::BinaryOp { .. } => FieldType::Number { min: None, max: None, integer: false },
        _ => FieldType::Json,
    }
}

fn last_ident(name: &ObjectName) -> Ident {
    match name.0.last() {
        Some(ObjectNamePart::Identifier(i)) => i.clone(),
        _ => Ident::new(""),
    }
}

fn lookup_name<'s>(schema: &'s Schema, name: &ObjectName) -> Option<&'s Collection> {
    schema.collection(&last_ident(name).value)
}

fn lookup_table<'s>(
    schema: &'s Schema,
    name: &ObjectName,
    at: &impl Fn(SqlSpan) -> Span,
    diags: &mut Diagnostics,
) -> Option<&'s Collection> {
    let ident = last_ident(name);
    if let Some(c) = lookup_name(schema, name).filter(|c| !c.is_view()) {
        return Some(c);
    }
    let mut d = Diagnostic::error(at(ident.span), format!("unknown collection '{}' in view query", ident.value));
    d.help = did_you_mean(&ident.value, schema.collections.iter().filter(|c| !c.is_view()).map(|c| c.name.as_str()));
    diags.push(d);
    None
}

/// Byte offset of a 1-based line/column location in `text`.
fn offset_of(text: &str, loc: Location) -> usize {
    let line_start: usize = text.split_inclusive('\n').take((loc.line as usize).saturating_sub(1)).map(str::len).sum();
    let col = (loc.column as usize).saturating_sub(1);
    line_start + text[line_start..].chars().take(col).map(char::len_utf8).sum::<usize>()
}
