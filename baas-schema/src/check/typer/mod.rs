//! The typer: one parsed expression typed against the schema, in a [`Context`]. This file
//! types the expression's structure and its comparisons — operands that stand for several
//! values, and pairs of types that can never meaningfully compare; `operand` types literals,
//! macros and function calls, `path` follows fields and relations, `request` reads
//! `@request.auth` and `@request.body`. Every error is reported, with a place and a way out.

mod operand;
mod path;
mod request;

use super::Context;
use super::typed::{Arity, ColumnRef, Step, TCompare, TExpr, TOperand, TValue, Ty};
use crate::diag::{Diagnostic, Diagnostics};
use crate::rule::expr::ast::{Compare, Expr, Literal, Modifier, Op};
use crate::source::Span;
pub use operand::STRFTIME;

/// Types one expression, pushing what is wrong with it.
pub(super) struct Typer<'c, 'd> {
    pub(super) cx: &'c Context<'c>,
    pub(super) text: &'d str,
    pub(super) diags: &'d mut Diagnostics,
}

impl<'c> Typer<'c, '_> {
    /// The text an operand was written as, for messages.
    fn src(&self, operand: &TOperand) -> &str {
        self.text.get(operand.span.start..operand.span.end).unwrap_or("?")
    }

    /// An operand as written, quoted for a message: `'title'`, but a string literal keeps
    /// its own quotes (`"false"`, not `'"false"'`).
    fn shown(&self, operand: &TOperand) -> String {
        let src = self.src(operand);
        if src.starts_with(['"', '\'']) { src.to_owned() } else { format!("'{src}'") }
    }

    /// Types `expr`: `None` when some part of it is wrong (each mistake is pushed).
    pub(super) fn expr(&mut self, expr: &Expr) -> Option<TExpr> {
        match expr {
            Expr::And(a, b) => {
                let (a, b) = (self.expr(a), self.expr(b));
                Some(TExpr::And(Box::new(a?), Box::new(b?)))
            }
            Expr::Or(a, b) => {
                let (a, b) = (self.expr(a), self.expr(b));
                Some(TExpr::Or(Box::new(a?), Box::new(b?)))
            }
            Expr::Group(inner, _) => self.expr(inner),
            Expr::Compare(c) => self.compare(c).map(TExpr::Compare),
        }
    }

    fn compare(&mut self, c: &Compare) -> Option<TCompare> {
        let lhs = self.operand(&c.lhs, c.op);
        let rhs = self.operand(&c.rhs, c.op);
        let (lhs, rhs) = (lhs?, rhs?);
        let mut ok = true;
        for side in [&lhs, &rhs] {
            // A client filter may ask that every related record match, as in PocketBase
            // (`comments_via_post.author = "U"`); rules, checked ahead of time, must say so.
            let every_related = self.cx.filter && reaches_related(side);
            if side.arity == Arity::Many && !c.op.any && !is_explicit_each(side) && !every_related {
                let d = Diagnostic::error(
                    side.span,
                    format!(
                        "{} stands for several values; '{}' would require every one of them to match",
                        self.shown(side),
                        c.op
                    ),
                )
                .with_help(format!(
                    "use '?{}' to match when any of them matches{}",
                    c.op.kind.symbol(),
                    if matches!(side.value, TValue::Column(ColumnRef { steps: ref s, root: None, .. }) if s.is_empty())
                    {
                        ", or ':each' to require every item explicitly"
                    } else {
                        ""
                    }
                ));
                self.diags.push(d);
                ok = false;
            }
        }
        if !ok {
            return None;
        }
        self.compatible(&lhs, c.op, c.op_span, &rhs)?;
        let (mut lhs, mut rhs) = (lhs, rhs);
        if self.cx.filter {
            // `published = 1` in a client filter: booleans are 0 and 1, as in PocketBase
            let (lty, rty) = (lhs.ty, rhs.ty);
            for (side, other) in [(&mut lhs, rty), (&mut rhs, lty)] {
                if let (TValue::Literal(Literal::Number(n)), Ty::Bool) = (&side.value, other) {
                    side.value = TValue::Literal(Literal::Bool(*n != 0.0));
                    side.ty = Ty::Bool;
                }
            }
        }
        Some(TCompare { lhs, op: c.op, rhs })
    }

    /// Reports a comparison between values that can never meaningfully compare.
    fn compatible(&mut self, lhs: &TOperand, op: Op, op_span: Span, rhs: &TOperand) -> Option<()> {
        use Ty::*;
        if op.kind.is_like() {
            for side in [lhs, rhs] {
                // (a client filter may match a number's or a boolean's text, as PocketBase does)
                let column = matches!(side.value, TValue::Column(_));
                if matches!(side.ty, Number | Bool) && !(self.cx.filter && column) {
                    self.diags.push(
                        Diagnostic::error(
                            side.span,
                            format!("{} is a {}: '{}' only compares text", self.shown(side), ty_name(side.ty), op),
                        )
                        .with_help("use '=', '<', '>' and friends to compare numbers and booleans"),
                    );
                    return None;
                }
            }
            return Some(());
        }
        // (a client filter may order booleans, false before true, as PocketBase does)
        if op.kind.is_ordering() && !self.cx.filter {
            for side in [lhs, rhs] {
                if side.ty == Bool {
                    self.diags.push(Diagnostic::error(
                        side.span,
                        format!("{} is a boolean: it has no order for '{}'", self.shown(side), op),
                    ));
                    return None;
                }
            }
        }
        let (a, b) = (lhs.ty, rhs.ty);
        if a == b || matches!(a, Any | Null) || matches!(b, Any | Null) {
            return Some(());
        }
        if self.cx.filter {
            for (typed, other) in [(lhs, rhs), (rhs, lhs)] {
                match (typed.ty, &other.value) {
                    // a boolean against 0 or 1
                    (Bool, TValue::Literal(Literal::Number(n))) if *n == 0.0 || *n == 1.0 => return Some(()),
                    // a datetime against any text: compared as text
                    (Date, TValue::Literal(Literal::String(_))) => return Some(()),
                    _ => {}
                }
            }
        }
        // A literal string standing for a number or a datetime is fine (`views > "3"`).
        for (typed, other) in [(lhs, rhs), (rhs, lhs)] {
            if let TValue::Literal(Literal::String(s)) = &other.value {
                match typed.ty {
                    Number if s.trim().parse::<f64>().is_ok() => return Some(()),
                    Date if looks_like_date(s) => return Some(()),
                    Text | Date if typed.ty == Date && other.ty == Text => {}
                    _ => {}
                }
            }
        }
        if matches!((a, b), (Text, Date) | (Date, Text)) {
            // text fields holding datetimes, `@request.query` etc. compare as strings
            let literal = [lhs, rhs].into_iter().find(|o| matches!(o.value, TValue::Literal(Literal::String(_))));
            if let Some(lit) = literal {
                self.diags.push(
                    Diagnostic::error(lit.span, format!("{} is not a datetime", self.shown(lit)))
                        .with_help("write datetimes as \"2025-01-31\" or \"2025-01-31 10:00:00.000Z\""),
                );
                return None;
            }
            return Some(());
        }
        let mut d = Diagnostic::error(
            op_span,
            format!("cannot compare {} {} with {} {}", ty_name(a), self.shown(lhs), ty_name(b), self.shown(rhs)),
        );
        let literal_side = [lhs, rhs].into_iter().find(|o| matches!(o.value, TValue::Literal(_)));
        d.help = match (a, b, literal_side.map(|o| &o.value)) {
            (Bool, Text, Some(TValue::Literal(Literal::String(s))))
            | (Text, Bool, Some(TValue::Literal(Literal::String(s)))) => {
                Some(format!("booleans are written without quotes: {s}"))
            }
            (Text, Number, Some(TValue::Literal(Literal::Number(n))))
            | (Number, Text, Some(TValue::Literal(Literal::Number(n)))) => {
                Some(format!("quote the value to compare text: \"{n}\""))
            }
            (Bool, Number, _) | (Number, Bool, _) => Some("write booleans as true or false".to_owned()),
            (Number, Text, Some(TValue::Literal(Literal::String(_))))
            | (Text, Number, Some(TValue::Literal(Literal::String(_)))) => {
                Some("compare numbers with numbers: `5`, or a quoted number such as \"5\"".to_owned())
            }
            _ => None,
        };
        self.diags.push(d);
        None
    }
}

/// Whether an operand's values are those of other records (relations, `@collection`).
fn reaches_related(operand: &TOperand) -> bool {
    matches!(&operand.value, TValue::Column(c) if c.root.is_some() || c.steps.iter().any(Step::is_multiple))
}

fn is_explicit_each(operand: &TOperand) -> bool {
    match &operand.value {
        TValue::Column(c) => {
            c.modifier == Some(Modifier::Each) && c.root.is_none() && !c.steps.iter().any(Step::is_multiple)
        }
        TValue::Body { modifier, .. } => *modifier == Some(Modifier::Each),
        _ => false,
    }
}

fn ty_name(ty: Ty) -> &'static str {
    match ty {
        Ty::Text => "text",
        Ty::Number => "number",
        Ty::Bool => "boolean",
        Ty::Date => "datetime",
        Ty::Any => "value",
        Ty::Null => "null",
    }
}

/// A datetime, or the start of one down to the year (`"2026"`, `"2026-05"`): datetimes compare
/// as their canonical text, so `created >= "2026"` means from 2026 on, as in PocketBase.
fn looks_like_date(s: &str) -> bool {
    const SHAPE: &[u8] = b"0000-00-00 00:00:00.000Z";
    let b = s.as_bytes();
    b.len() >= 4
        && b.iter().zip(SHAPE).enumerate().all(|(i, (c, shape))| match shape {
            b'0' => c.is_ascii_digit(),
            b' ' => *c == b' ' || *c == b'T',
            _ if i >= 19 => true,
            _ => c == shape,
        })
}
