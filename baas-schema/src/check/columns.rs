//! What request-time code asks about the columns of a collection or an expression: a sort
//! key resolved to a column, the columns an expression reads, and whether one of them is
//! hidden (only superusers' filters may read hidden fields).

use super::typed::{ColumnRef, Step, TExpr, TOperand, TValue, Ty};
use super::typer::Typer;
use super::{Context, field_ty};
use crate::diag::Diagnostics;
use crate::ir::{Collection, Schema};
use crate::rule::expr::ast::{Modifier, Segment};
use crate::source::Span;

/// Resolves a sort key of `collection` (`title`, `author.name`, `title:lower`): a path
/// through single relations to a field that is neither hidden nor secret. `None` when the
/// key names nothing a list can be sorted by.
pub fn sort_column(schema: &Schema, collection: &Collection, key: &str) -> Option<ColumnRef> {
    let (path, modifier) = match key.split_once(':') {
        Some((path, "lower")) => (path, Some(Modifier::Lower)),
        Some(_) => return None,
        None => (key, None),
    };
    let segments: Vec<Segment> =
        path.split('.').map(|name| Segment { name: name.to_owned(), span: Span::new(0, path.len()) }).collect();
    if segments.iter().any(|s| s.name.is_empty()) {
        return None;
    }
    let cx = Context::filter(schema, collection);
    let mut diags = Diagnostics::new();
    let mut column = Typer { cx: &cx, text: path, diags: &mut diags }.resolve(collection, None, &segments)?;
    if column.steps.iter().any(Step::is_multiple) || reads_hidden_column(schema, &column) {
        return None;
    }
    if modifier.is_some() && (column.field_ty.is_multiple() || field_ty(&column.field_ty) != Ty::Text) {
        return None;
    }
    column.modifier = modifier;
    Some(column)
}

/// Every column `expr` reads, function arguments included.
pub fn columns(expr: &TExpr) -> Vec<&ColumnRef> {
    fn operand<'e>(o: &'e TOperand, out: &mut Vec<&'e ColumnRef>) {
        match &o.value {
            TValue::Column(c) => out.push(c),
            TValue::Call { args, .. } => args.iter().for_each(|a| operand(a, out)),
            _ => {}
        }
    }
    fn walk<'e>(expr: &'e TExpr, out: &mut Vec<&'e ColumnRef>) {
        match expr {
            TExpr::True => {}
            TExpr::And(a, b) | TExpr::Or(a, b) => {
                walk(a, out);
                walk(b, out);
            }
            TExpr::Compare(c) => {
                operand(&c.lhs, out);
                operand(&c.rhs, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(expr, &mut out);
    out
}

/// Whether `expr` reads a hidden field anywhere along its paths (a relation followed through
/// a hidden field counts): only superusers' filters may.
pub fn reads_hidden(schema: &Schema, expr: &TExpr) -> bool {
    columns(expr).into_iter().any(|c| reads_hidden_column(schema, c))
}

fn reads_hidden_column(schema: &Schema, column: &ColumnRef) -> bool {
    let hidden = |collection: &str, field: &str| {
        schema.collection(collection).and_then(|c| c.field(field)).is_some_and(|f| f.hidden)
    };
    column.steps.iter().any(|step| match step {
        Step::Forward { from, field, .. } => hidden(from, field),
        Step::Back { to, field, .. } => hidden(to, field),
    }) || hidden(&column.collection, &column.field)
}
