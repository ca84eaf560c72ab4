//! Printing expressions back to text.
//!
//! The output is canonical: single spaces around comparison operators, `&&` and `||`;
//! parentheses exactly where the tree has a [`Expr::Group`]; strings double-quoted with `\`
//! and `"` escaped; numbers as Rust prints an `f64` (never an exponent, so the lexer reads
//! them back). For a tree that [`super::parse`] could have produced, parsing the output gives
//! the same tree again, spans aside.

use std::fmt::{self, Display, Write as _};

use super::ast::{Compare, Expr, Literal, Operand, OperandKind, Path, Root, Segment};

impl Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::And(a, b) => write!(f, "{a} && {b}"),
            Expr::Or(a, b) => write!(f, "{a} || {b}"),
            Expr::Group(inner, _) => write!(f, "({inner})"),
            Expr::Compare(c) => c.fmt(f),
        }
    }
}

impl Display for Compare {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.lhs, self.op, self.rhs)
    }
}

impl Display for Operand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.kind.fmt(f)
    }
}

impl Display for OperandKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OperandKind::Literal(literal) => literal.fmt(f),
            OperandKind::Path(path) => path.fmt(f),
            OperandKind::Macro(m) => write!(f, "@{}", m.name()),
            OperandKind::Placeholder(name) => write!(f, "{{:{name}}}"),
            OperandKind::Call { name, args } => {
                write!(f, "{name}(")?;
                for (i, arg) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    arg.fmt(f)?;
                }
                f.write_str(")")
            }
        }
    }
}

impl Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::String(s) => {
                f.write_char('"')?;
                for c in s.chars() {
                    if c == '"' || c == '\\' {
                        f.write_char('\\')?;
                    }
                    f.write_char(c)?;
                }
                f.write_char('"')
            }
            Literal::Number(n) => write!(f, "{n}"),
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::Null => f.write_str("null"),
        }
    }
}

impl Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let root = match &self.root {
            Root::Record => None,
            Root::Auth => Some("@request.auth"),
            Root::Body => Some("@request.body"),
            Root::Query => Some("@request.query"),
            Root::Headers => Some("@request.headers"),
            Root::Method => Some("@request.method"),
            Root::Context => Some("@request.context"),
            Root::Collection { name, alias } => {
                write!(f, "@collection.{}", name.name)?;
                if let Some(alias) = alias {
                    write!(f, ":{}", alias.name)?;
                }
                Some("")
            }
        };
        if let Some(root) = root {
            f.write_str(root)?;
        }
        for (i, Segment { name, .. }) in self.segments.iter().enumerate() {
            if i > 0 || root.is_some() {
                f.write_char('.')?;
            }
            f.write_str(name)?;
        }
        if let Some((modifier, _)) = self.modifier {
            write!(f, ":{}", modifier.name())?;
        }
        Ok(())
    }
}
