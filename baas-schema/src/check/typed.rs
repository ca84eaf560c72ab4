//! The checker's output form of an expression: every operand typed ([`Ty`]) and counted
//! ([`Arity`]), every field looked up, every relation path turned into [`Step`]s. The SQL
//! compiler and the evaluator take this form, never the syntax tree.

use crate::ir::FieldType;
use crate::rule::expr::ast::{Literal, Macro, Modifier, Op};
use crate::source::Span;

/// A typed, resolved expression.
// As with `Expr`: comparisons are the common leaf and stay unboxed.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum TExpr {
    True,
    And(Box<TExpr>, Box<TExpr>),
    Or(Box<TExpr>, Box<TExpr>),
    Compare(TCompare),
}

#[derive(Clone, Debug, PartialEq)]
pub struct TCompare {
    pub lhs: TOperand,
    pub op: Op,
    pub rhs: TOperand,
}

/// The scalar type of a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    Text,
    Number,
    Bool,
    /// A datetime, compared as its canonical text.
    Date,
    /// A JSON value or a request string: compared with whatever it meets.
    Any,
    Null,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TOperand {
    pub value: TValue,
    pub ty: Ty,
    /// How many values the operand stands for.
    pub arity: Arity,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arity {
    One,
    /// Several values (`:each`, a path through a multiple relation, a back-relation,
    /// `@collection`): plain operators need every value to match, `?` operators any.
    Many,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TValue {
    Literal(Literal),
    /// A column reached from the rule's record (or an `@collection` root) through `steps`.
    Column(ColumnRef),
    /// A field of the authenticated record; `""`/zero for anonymous requests.
    Auth(String),
    /// A value of the request body.
    Body {
        field: String,
        ty: FieldType,
        modifier: Option<Modifier>,
    },
    Query(String),
    Header(String),
    Method,
    Context,
    Macro(Macro),
    Placeholder(String),
    Call {
        name: String,
        args: Vec<TOperand>,
    },
}

/// A column and how to reach it.
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnRef {
    /// `None`: the rule's own record; `Some`: an `@collection.<name>[:alias]` join.
    pub root: Option<CollectionRoot>,
    pub steps: Vec<Step>,
    /// The collection that holds `field`.
    pub collection: String,
    pub field: String,
    pub field_ty: FieldType,
    pub modifier: Option<Modifier>,
    /// A multi-valued field read as a list of its items (`:each`, or `?`-operators).
    pub each: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CollectionRoot {
    pub collection: String,
    pub alias: String,
}

/// One hop of a relation path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Follow `field` of `from` to `to`.
    Forward { from: String, field: String, to: String, multiple: bool },
    /// `<to>_via_<field>`: the records of `to` whose `field` points back at `from`.
    Back { from: String, to: String, field: String, multiple: bool },
}

impl Step {
    pub fn is_multiple(&self) -> bool {
        match self {
            Step::Forward { multiple, .. } => *multiple,
            Step::Back { .. } => true,
        }
    }
}

/// The type a field's value compares as.
pub fn field_ty(ty: &FieldType) -> Ty {
    match ty {
        FieldType::Number { .. } => Ty::Number,
        FieldType::Bool => Ty::Bool,
        FieldType::Date | FieldType::Autodate { .. } => Ty::Date,
        FieldType::Json => Ty::Any,
        _ => Ty::Text,
    }
}
