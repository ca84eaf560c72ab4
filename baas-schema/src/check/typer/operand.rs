//! Operands that are not paths: literals, `{:placeholders}`, `@macros` and function calls.
//! `strftime()` is the one function, held to what prints alike on SQLite and PostgreSQL.

use super::Typer;
use crate::check::typed::{Arity, TOperand, TValue, Ty};
use crate::diag::Diagnostic;
use crate::rule::expr::ast::{Literal, Op, OpKind, Operand, OperandKind};

impl Typer<'_, '_> {
    pub(super) fn operand(&mut self, operand: &Operand, op: Op) -> Option<TOperand> {
        let span = operand.span;
        let one = |value, ty| Some(TOperand { value, ty, arity: Arity::One, span });
        match &operand.kind {
            OperandKind::Literal(lit) => {
                let ty = match lit {
                    Literal::String(_) => Ty::Text,
                    Literal::Number(_) => Ty::Number,
                    Literal::Bool(_) => Ty::Bool,
                    Literal::Null => Ty::Null,
                };
                one(TValue::Literal(lit.clone()), ty)
            }
            OperandKind::Macro(m) => one(TValue::Macro(*m), if m.is_number() { Ty::Number } else { Ty::Date }),
            OperandKind::Placeholder(name) => one(TValue::Placeholder(name.clone()), Ty::Any),
            OperandKind::Call { name, args } => {
                let args: Vec<_> = args.iter().map(|a| self.operand(a, Op { kind: OpKind::Eq, any: false })).collect();
                let args: Vec<_> = args.into_iter().collect::<Option<_>>()?;
                match name.as_str() {
                    "strftime" if args.len() == 2 => {
                        self.strftime_args(&args)?;
                        one(TValue::Call { name: name.clone(), args }, Ty::Text)
                    }
                    "strftime" => {
                        self.diags
                            .push(Diagnostic::error(span, "strftime takes 2 arguments: strftime(format, datetime)"));
                        None
                    }
                    _ => {
                        self.diags.push(
                            Diagnostic::error(span, format!("{name}() is not supported"))
                                .with_help("baas has no geoPoint fields; only strftime() is available"),
                        );
                        None
                    }
                }
            }
            OperandKind::Path(path) => self.path(path, span, op),
        }
    }

    /// `strftime(format, value)` must print the same on SQLite and PostgreSQL: the format is a
    /// quoted string (PostgreSQL gets it translated for `to_char`) using only the conversions
    /// both engines have, and the value is one value.
    fn strftime_args(&mut self, args: &[TOperand]) -> Option<()> {
        let TValue::Literal(Literal::String(format)) = &args[0].value else {
            self.diags.push(
                Diagnostic::error(args[0].span, "the format of strftime() must be a quoted string")
                    .with_help("e.g. strftime(\"%Y-%m\", created)"),
            );
            return None;
        };
        if let Some(bad) = unportable_strftime(format) {
            self.diags.push(
                Diagnostic::error(args[0].span, format!("strftime() does not support '%{bad}' in baas")).with_help(
                    format!(
                        "use {}: they print the same on SQLite and PostgreSQL",
                        STRFTIME.map(|(c, _)| format!("%{c}")).join(" ")
                    ),
                ),
            );
            return None;
        }
        if args[1].arity == Arity::Many {
            self.diags.push(Diagnostic::error(
                args[1].span,
                format!("{} stands for several values; strftime() takes one", self.shown(&args[1])),
            ));
            return None;
        }
        Some(())
    }
}

/// The strftime conversions baas supports, with the `to_char` pattern PostgreSQL prints the
/// same with (`%f` is seconds with milliseconds, `SS.SSS`).
pub const STRFTIME: [(char, &str); 9] = [
    ('Y', "YYYY"),
    ('m', "MM"),
    ('d', "DD"),
    ('H', "HH24"),
    ('M', "MI"),
    ('S', "SS"),
    ('f', "SS.MS"),
    ('j', "DDD"),
    ('%', "%"),
];

/// The first conversion of a strftime format that baas does not support, if any (a lone `%`
/// at the end is reported as `%`).
fn unportable_strftime(format: &str) -> Option<char> {
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c == '%' {
            match chars.next() {
                Some(spec) if STRFTIME.iter().any(|(s, _)| *s == spec) => {}
                Some(spec) => return Some(spec),
                None => return Some('%'),
            }
        }
    }
    None
}
