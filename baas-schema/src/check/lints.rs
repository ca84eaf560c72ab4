//! Lints: warnings about rules that type cleanly but are very likely not what their author
//! meant. One function per lint, each saying what it protects. (A list rule comparing
//! unindexed columns needs no lint: baas indexes them, see [`Collection::implied_indexes`].)

use std::cmp::Ordering;

use super::Context;
use super::typed::{Arity, TExpr, TValue};
use crate::diag::{Diagnostic, Diagnostics};
use crate::ir::{Action, Collection, Origin};
use crate::rule::expr::ast::{Expr, Literal, OpKind, Operand, Root};
use crate::source::Span;

/// Runs every lint over a rule that typed cleanly: `text` is its source, `expr` its syntax
/// tree, `texpr` its typed form.
pub(super) fn lint(cx: &Context<'_>, text: &str, expr: &Expr, texpr: &TExpr, origin: &Origin, diags: &mut Diagnostics) {
    let action = cx.action.unwrap_or(Action::List);
    constant_rule(action, texpr, origin.map_span(Span::new(0, text.len())), diags);
    if action == Action::Update {
        owner_reassign(cx, expr, origin, diags);
    }
}

/// A rule that is always true or always false whatever the record and request (`1 = 1`,
/// `true = false`): almost always a slip. An always-true rule opens the action to everyone
/// while looking guarded; `""` says that on purpose. An always-false one shuts everyone out
/// but superusers, which leaving the rule out says plainly. `whole` is the rule's place.
fn constant_rule(action: Action, texpr: &TExpr, whole: Span, diags: &mut Diagnostics) {
    match constant(texpr) {
        Some(true) => diags.push(
            Diagnostic::warning(whole, format!("this {} rule is always true", action.name()))
                .with_help("write \"\" to allow everyone explicitly"),
        ),
        Some(false) => diags.push(
            Diagnostic::warning(whole, format!("this {} rule is always false", action.name()))
                .with_help("leave the rule out to allow superusers only"),
        ),
        None => {}
    }
}

/// `Some(b)` when the expression has the value `b` whatever the record and request.
fn constant(texpr: &TExpr) -> Option<bool> {
    match texpr {
        TExpr::True => Some(true),
        TExpr::And(a, b) => match (constant(a), constant(b)) {
            (Some(false), _) | (_, Some(false)) => Some(false),
            (Some(true), Some(true)) => Some(true),
            _ => None,
        },
        TExpr::Or(a, b) => match (constant(a), constant(b)) {
            (Some(true), _) | (_, Some(true)) => Some(true),
            (Some(false), Some(false)) => Some(false),
            _ => None,
        },
        TExpr::Compare(c) => {
            // Whether both sides are equal, and their order when it is certain on both engines
            // (text order depends on the database's collation, so only numbers are ordered).
            let (same, order) = match (&c.lhs.value, &c.rhs.value) {
                (TValue::Literal(Literal::Number(x)), TValue::Literal(Literal::Number(y))) => {
                    (x == y, x.partial_cmp(y))
                }
                (TValue::Literal(a), TValue::Literal(b)) => {
                    let same = literal_eq(a, b)?;
                    (same, same.then_some(Ordering::Equal))
                }
                // a column of the record itself: always there, never NULL
                (TValue::Column(a), TValue::Column(b))
                    if a == b && c.lhs.arity == Arity::One && a.root.is_none() && a.steps.is_empty() =>
                {
                    (true, Some(Ordering::Equal))
                }
                _ => return None,
            };
            match c.op.kind {
                OpKind::Eq => Some(same),
                OpKind::Neq => Some(!same),
                OpKind::Gt => order.map(|o| o == Ordering::Greater),
                OpKind::Gte => order.map(|o| o != Ordering::Less),
                OpKind::Lt => order.map(|o| o == Ordering::Less),
                OpKind::Lte => order.map(|o| o != Ordering::Greater),
                OpKind::Like | OpKind::NotLike => None,
            }
        }
    }
}

/// Whether two literals are the same value (`null` and `""` are both the empty value);
/// `None` for literals of different kinds, which only the database compares.
fn literal_eq(a: &Literal, b: &Literal) -> Option<bool> {
    Some(match (a, b) {
        (Literal::String(x), Literal::String(y)) => x == y,
        (Literal::Number(x), Literal::Number(y)) => x == y,
        (Literal::Bool(x), Literal::Bool(y)) => x == y,
        (Literal::Null, Literal::Null) => true,
        (Literal::Null, Literal::String(s)) | (Literal::String(s), Literal::Null) => s.is_empty(),
        _ => return None,
    })
}

/// An update rule that admits the record's owner (`owner = @request.auth.id`) but not what
/// the request writes: the owner passes the check and can set `owner` to someone else,
/// handing the record (and with it their own rights) away, or onto another user. Quiet when
/// the rule also reads `@request.body.<owner>`, which is how the field is kept fixed.
fn owner_reassign(cx: &Context<'_>, expr: &Expr, origin: &Origin, diags: &mut Diagnostics) {
    let comparisons = expr.comparisons();
    let guarded = |field: &str| {
        comparisons.iter().any(|c| {
            [&c.lhs, &c.rhs].iter().any(|o| {
                o.as_path().is_some_and(|p| p.root == Root::Body && p.segments.first().is_some_and(|s| s.name == field))
            })
        })
    };
    for c in &comparisons {
        if c.op.kind != OpKind::Eq || c.op.any {
            continue;
        }
        let is_auth_id = |o: &Operand| {
            o.as_path().is_some_and(|p| p.root == Root::Auth && p.segments.len() == 1 && p.segments[0].name == "id")
        };
        let owner = match (&c.lhs, &c.rhs) {
            (field, auth) | (auth, field) if is_auth_id(auth) => field.as_path(),
            _ => None,
        };
        let Some(owner) = owner.filter(|p| p.root == Root::Record && p.segments.len() == 1 && p.modifier.is_none())
        else {
            continue;
        };
        let name = &owner.segments[0].name;
        let Some(field) = cx.collection.field(name) else { continue };
        let targets_auth =
            field.ty.relation_target().and_then(|t| cx.schema.collection(t)).is_some_and(Collection::is_auth);
        if targets_auth && !field.ty.is_multiple() && !guarded(name) {
            diags.push(
                Diagnostic::warning(origin.map_span(owner.segments[0].span), format!(
                    "this update rule checks only the current '{name}': the owner can hand the record to someone else"
                ))
                .with_help(format!(
                    "add `&& (@request.body.{name}:isset = false || @request.body.{name} = @request.auth.id)` to keep '{name}' fixed"
                )),
            );
        }
    }
}
