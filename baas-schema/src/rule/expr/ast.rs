//! The syntax tree of rule and filter expressions (pocketbase-api.md §7).
//!
//! Spans are byte ranges into the expression text. Equality of trees ignores nothing, so
//! tests that compare a re-parsed tree with the original use [`Expr::without_spans`].

use std::fmt;

use crate::source::Span;

/// A boolean expression: comparisons joined by `&&` / `||`.
// Comparisons are the common leaf; boxing them would cost an allocation each for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    /// A parenthesised group, kept so spans and printing follow the source.
    Group(Box<Expr>, Span),
    Compare(Compare),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Compare {
    pub lhs: Operand,
    pub op: Op,
    /// The span of the operator token.
    pub op_span: Span,
    pub rhs: Operand,
}

/// A comparison operator. `any` is the `?` prefix: at least one value must match.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Op {
    pub kind: OpKind,
    pub any: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OpKind {
    Eq,
    Neq,
    Gt,
    Gte,
    Lt,
    Lte,
    Like,
    NotLike,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Operand {
    pub kind: OperandKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum OperandKind {
    Literal(Literal),
    Path(Path),
    Macro(Macro),
    /// `{:name}`: a named parameter bound by the caller.
    Placeholder(String),
    /// `strftime(format, x)`, `geoDistance(a, b, c, d)`.
    Call {
        name: String,
        args: Vec<Operand>,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    String(String),
    Number(f64),
    Bool(bool),
    Null,
}

/// An identifier path: `author.name`, `@request.auth.id`, `@collection.posts:p.title`, each
/// with an optional trailing modifier (`:isset`, `:length`, …).
#[derive(Clone, Debug, PartialEq)]
pub struct Path {
    pub root: Root,
    /// The dot-separated names after the root (for `Root::Record`, all of them).
    pub segments: Vec<Segment>,
    pub modifier: Option<(Modifier, Span)>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Segment {
    pub name: String,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Root {
    /// A field of the record the rule is about.
    Record,
    /// `@request.auth.*`
    Auth,
    /// `@request.body.*`
    Body,
    /// `@request.query.*`
    Query,
    /// `@request.headers.*`
    Headers,
    /// `@request.method`
    Method,
    /// `@request.context`
    Context,
    /// `@collection.<name>[:alias].*`
    Collection { name: Segment, alias: Option<Segment> },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Modifier {
    Isset,
    Changed,
    Length,
    Each,
    Lower,
}

/// `@now`, `@todayStart`, …: datetime values taken when the request is served (UTC).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Macro {
    Now,
    Second,
    Minute,
    Hour,
    Weekday,
    Day,
    Month,
    Year,
    Yesterday,
    Tomorrow,
    TodayStart,
    TodayEnd,
    MonthStart,
    MonthEnd,
    YearStart,
    YearEnd,
}

impl Macro {
    pub const ALL: [Macro; 16] = [
        Macro::Now,
        Macro::Second,
        Macro::Minute,
        Macro::Hour,
        Macro::Weekday,
        Macro::Day,
        Macro::Month,
        Macro::Year,
        Macro::Yesterday,
        Macro::Tomorrow,
        Macro::TodayStart,
        Macro::TodayEnd,
        Macro::MonthStart,
        Macro::MonthEnd,
        Macro::YearStart,
        Macro::YearEnd,
    ];

    /// The name without `@`.
    pub fn name(self) -> &'static str {
        match self {
            Macro::Now => "now",
            Macro::Second => "second",
            Macro::Minute => "minute",
            Macro::Hour => "hour",
            Macro::Weekday => "weekday",
            Macro::Day => "day",
            Macro::Month => "month",
            Macro::Year => "year",
            Macro::Yesterday => "yesterday",
            Macro::Tomorrow => "tomorrow",
            Macro::TodayStart => "todayStart",
            Macro::TodayEnd => "todayEnd",
            Macro::MonthStart => "monthStart",
            Macro::MonthEnd => "monthEnd",
            Macro::YearStart => "yearStart",
            Macro::YearEnd => "yearEnd",
        }
    }

    pub fn from_name(name: &str) -> Option<Macro> {
        Macro::ALL.into_iter().find(|m| m.name() == name)
    }

    /// Whether the macro is a number (`@hour`) rather than a datetime (`@now`).
    pub fn is_number(self) -> bool {
        matches!(
            self,
            Macro::Second | Macro::Minute | Macro::Hour | Macro::Weekday | Macro::Day | Macro::Month | Macro::Year
        )
    }
}

impl Modifier {
    pub const ALL: [Modifier; 5] =
        [Modifier::Isset, Modifier::Changed, Modifier::Length, Modifier::Each, Modifier::Lower];

    pub fn name(self) -> &'static str {
        match self {
            Modifier::Isset => "isset",
            Modifier::Changed => "changed",
            Modifier::Length => "length",
            Modifier::Each => "each",
            Modifier::Lower => "lower",
        }
    }

    pub fn from_name(name: &str) -> Option<Modifier> {
        Modifier::ALL.into_iter().find(|m| m.name() == name)
    }
}

impl OpKind {
    pub const ALL: [OpKind; 8] =
        [OpKind::Eq, OpKind::Neq, OpKind::Gt, OpKind::Gte, OpKind::Lt, OpKind::Lte, OpKind::Like, OpKind::NotLike];

    pub fn symbol(self) -> &'static str {
        match self {
            OpKind::Eq => "=",
            OpKind::Neq => "!=",
            OpKind::Gt => ">",
            OpKind::Gte => ">=",
            OpKind::Lt => "<",
            OpKind::Lte => "<=",
            OpKind::Like => "~",
            OpKind::NotLike => "!~",
        }
    }

    /// Whether both sides must be comparable by order (`<`, `>=`, …).
    pub fn is_ordering(self) -> bool {
        matches!(self, OpKind::Gt | OpKind::Gte | OpKind::Lt | OpKind::Lte)
    }

    pub fn is_like(self) -> bool {
        matches!(self, OpKind::Like | OpKind::NotLike)
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.any {
            f.write_str("?")?;
        }
        f.write_str(self.kind.symbol())
    }
}

impl Expr {
    /// The span of the whole expression.
    pub fn span(&self) -> Span {
        match self {
            Expr::And(a, b) | Expr::Or(a, b) => a.span().to(b.span()),
            Expr::Group(_, span) => *span,
            Expr::Compare(c) => c.lhs.span.to(c.rhs.span),
        }
    }

    /// Every comparison, left to right.
    pub fn comparisons(&self) -> Vec<&Compare> {
        let mut out = Vec::new();
        self.walk(&mut |c| out.push(c));
        out
    }

    fn walk<'a>(&'a self, f: &mut impl FnMut(&'a Compare)) {
        match self {
            Expr::And(a, b) | Expr::Or(a, b) => {
                a.walk(f);
                b.walk(f);
            }
            Expr::Group(inner, _) => inner.walk(f),
            Expr::Compare(c) => f(c),
        }
    }

    /// The same tree with every span zeroed, for structural comparison.
    pub fn without_spans(&self) -> Expr {
        match self {
            Expr::And(a, b) => Expr::And(Box::new(a.without_spans()), Box::new(b.without_spans())),
            Expr::Or(a, b) => Expr::Or(Box::new(a.without_spans()), Box::new(b.without_spans())),
            Expr::Group(inner, _) => Expr::Group(Box::new(inner.without_spans()), Span::default()),
            Expr::Compare(c) => Expr::Compare(Compare {
                lhs: c.lhs.without_spans(),
                op: c.op,
                op_span: Span::default(),
                rhs: c.rhs.without_spans(),
            }),
        }
    }
}

impl Operand {
    pub fn without_spans(&self) -> Operand {
        let kind = match &self.kind {
            OperandKind::Path(p) => OperandKind::Path(p.without_spans()),
            OperandKind::Call { name, args } => {
                OperandKind::Call { name: name.clone(), args: args.iter().map(Operand::without_spans).collect() }
            }
            other => other.clone(),
        };
        Operand { kind, span: Span::default() }
    }

    pub fn as_path(&self) -> Option<&Path> {
        match &self.kind {
            OperandKind::Path(p) => Some(p),
            _ => None,
        }
    }
}

impl Segment {
    fn without_span(&self) -> Segment {
        Segment { name: self.name.clone(), span: Span::default() }
    }
}

impl Path {
    pub fn without_spans(&self) -> Path {
        Path {
            root: match &self.root {
                Root::Collection { name, alias } => {
                    Root::Collection { name: name.without_span(), alias: alias.as_ref().map(Segment::without_span) }
                }
                other => other.clone(),
            },
            segments: self.segments.iter().map(Segment::without_span).collect(),
            modifier: self.modifier.map(|(m, _)| (m, Span::default())),
        }
    }

    pub fn modifier(&self) -> Option<Modifier> {
        self.modifier.map(|(m, _)| m)
    }
}
