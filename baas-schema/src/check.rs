//! The checker: validates a [`Schema`] as a whole and types every rule against it.
//!
//! Its output, a [`CheckedSchema`], is what emitters consume: the IR plus each rule resolved
//! into a [`TExpr`] (fields looked up, relation paths turned into join steps, every operand
//! typed). Client filters go through the same [`check_expr`] at request time.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use crate::diag::{Diagnostic, Diagnostics, did_you_mean};
use crate::ir::{Action, Collection, CollectionKind, Field, FieldType, Origin, Schema, system};
use crate::rule::expr::ast::{
    Compare, Expr, Literal, Macro, Modifier, Op, OpKind, Operand, OperandKind, Path, Root, Segment,
};
use crate::rule::expr::{ParseError, parse};
use crate::source::Span;

mod view;

/// A schema that passed every check, with its rules resolved.
#[derive(Clone, Debug)]
pub struct CheckedSchema {
    pub schema: Schema,
    /// Resolved rules by collection name and action; absent rules are absent here too, and
    /// an empty rule (everyone) is [`TExpr::True`].
    pub rules: BTreeMap<(String, Action), TExpr>,
}

impl CheckedSchema {
    pub fn rule(&self, collection: &str, action: Action) -> Option<&TExpr> {
        self.rules.get(&(collection.to_owned(), action))
    }
}

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

/// Checks a whole schema: structure first, then every rule. Returns the checked schema when
/// there were no errors (warnings may have been pushed).
pub fn check(schema: &Schema, diags: &mut Diagnostics) -> Option<CheckedSchema> {
    let errors_before = diags.error_count();
    let mut schema = schema.clone();
    derive_view_fields(&mut schema, diags);
    let schema = &schema;
    check_structure(schema, diags);
    let mut rules = BTreeMap::new();
    for collection in &schema.collections {
        for (action, rule) in collection.rules.iter() {
            if collection.is_view() && !matches!(action, Action::List | Action::View) {
                diags.push(
                    Diagnostic::error(
                        rule.origin.map_span(Span::new(0, rule.expr.len())),
                        format!(
                            "view collection '{}' is read-only: it cannot have a {} rule",
                            collection.name,
                            action.name()
                        ),
                    )
                    .with_help("remove the rule; views take only list and view rules"),
                );
                continue;
            }
            if rule.is_public() {
                rules.insert((collection.name.clone(), action), TExpr::True);
                continue;
            }
            let cx = Context { schema, collection, action: Some(action), filter: false };
            let mut local = Diagnostics::new();
            let checked = check_parsed(&cx, &rule.expr, &mut local);
            for d in local {
                diags.push(map_diagnostic(d, &rule.origin));
            }
            if let Some((expr, texpr)) = checked {
                lint_rule(&cx, &rule.expr, &expr, &texpr, &rule.origin, diags);
                rules.insert((collection.name.clone(), action), texpr);
            }
        }
    }
    (diags.error_count() == errors_before).then(|| CheckedSchema { schema: schema.clone(), rules })
}

fn map_diagnostic(mut d: Diagnostic, origin: &Origin) -> Diagnostic {
    d.span = d.span.map(|s| origin.map_span(s));
    d
}

/// Where an expression is checked: which collection its bare names refer to, and whether it
/// is a rule for `action` or a client filter.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    pub schema: &'a Schema,
    pub collection: &'a Collection,
    /// The rule's action; `None` for a client filter.
    pub action: Option<Action>,
    /// A client `?filter=`: `@request.body` is not available.
    pub filter: bool,
}

impl<'a> Context<'a> {
    /// The context of a client filter on `collection`.
    pub fn filter(schema: &'a Schema, collection: &'a Collection) -> Self {
        Context { schema, collection, action: None, filter: true }
    }
}

/// Parses and types one expression. Diagnostics carry spans into `text`.
pub fn check_expr(cx: &Context<'_>, text: &str, diags: &mut Diagnostics) -> Option<TExpr> {
    check_parsed(cx, text, diags).map(|(_, texpr)| texpr)
}

/// [`check_expr`], also returning the syntax tree (the lints walk it).
fn check_parsed(cx: &Context<'_>, text: &str, diags: &mut Diagnostics) -> Option<(Expr, TExpr)> {
    let expr = match parse(text) {
        Ok(expr) => expr,
        Err(ParseError { message, span, help }) => {
            let mut d = Diagnostic::error(span, message);
            d.help = help;
            diags.push(d);
            return None;
        }
    };
    let before = diags.error_count();
    let texpr = Typer { cx, text, diags }.expr(&expr);
    (diags.error_count() == before).then_some(texpr).flatten().map(|texpr| (expr, texpr))
}

struct Typer<'c, 'd> {
    cx: &'c Context<'c>,
    text: &'d str,
    diags: &'d mut Diagnostics,
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

    fn expr(&mut self, expr: &Expr) -> Option<TExpr> {
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

    fn operand(&mut self, operand: &Operand, op: Op) -> Option<TOperand> {
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

    fn path(&mut self, path: &Path, span: Span, op: Op) -> Option<TOperand> {
        let modifier = path.modifier;
        let single = |value, ty| Some(TOperand { value, ty, arity: Arity::One, span });
        match &path.root {
            Root::Record => {
                let column = self.resolve(self.cx.collection, None, &path.segments)?;
                self.column(column, modifier, span, op)
            }
            Root::Collection { name, alias } => {
                if self.cx.filter {
                    // allowed syntactically; the runtime refuses it for non-superusers
                }
                let Some(target) = self.cx.schema.collection(&name.name) else {
                    self.unknown_collection(name);
                    return None;
                };
                if path.segments.is_empty() {
                    self.diags.push(
                        Diagnostic::error(span, format!("name a field of '{}' after it", name.name))
                            .with_help(format!("e.g. @collection.{}.id", name.name)),
                    );
                    return None;
                }
                let root = CollectionRoot {
                    collection: target.name.clone(),
                    alias: alias.as_ref().map_or_else(|| target.name.clone(), |a| a.name.clone()),
                };
                let column = self.resolve(target, Some(root), &path.segments)?;
                let mut operand = self.column(column, modifier, span, op)?;
                operand.arity = Arity::Many;
                Some(operand)
            }
            Root::Auth => self.auth(path, span),
            Root::Body => self.body(path, span),
            Root::Query | Root::Headers => {
                self.no_modifier(path, &[Modifier::Lower])?;
                let name = path.segments.first()?.name.clone();
                if path.segments.len() > 1 {
                    self.diags
                        .push(Diagnostic::error(path.segments[1].span, "query parameters and headers have no fields"));
                    return None;
                }
                let value = if path.root == Root::Query { TValue::Query(name) } else { TValue::Header(name) };
                single(value, Ty::Any)
            }
            Root::Method => {
                self.no_modifier(path, &[])?;
                single(TValue::Method, Ty::Text)
            }
            Root::Context => {
                self.no_modifier(path, &[])?;
                single(TValue::Context, Ty::Text)
            }
        }
    }

    /// Types a resolved column with its modifier.
    fn column(
        &mut self,
        mut column: ColumnRef,
        modifier: Option<(Modifier, Span)>,
        span: Span,
        op: Op,
    ) -> Option<TOperand> {
        let through_many = column.steps.iter().any(Step::is_multiple);
        let multiple = column.field_ty.is_multiple();
        let mut ty = field_ty(&column.field_ty);
        let mut arity = if through_many { Arity::Many } else { Arity::One };
        match modifier {
            None if multiple && !op.kind.is_like() => {
                // `tags ?= "x"` compares items; `tags = "x"` is refused by the caller.
                column.each = true;
                arity = Arity::Many;
            }
            None => {
                if multiple {
                    ty = Ty::Text; // `tags ~ "x"` matches the stored JSON text, as PocketBase does
                }
            }
            Some((Modifier::Each, m_span)) => {
                if !multiple {
                    self.diags.push(
                        Diagnostic::error(
                            m_span,
                            format!("':each' needs a field with several values; '{}' holds one", column.field),
                        )
                        .with_help("compare the field directly"),
                    );
                    return None;
                }
                column.each = true;
                arity = Arity::Many;
            }
            Some((Modifier::Length, m_span)) => {
                if !multiple {
                    self.diags.push(
                        Diagnostic::error(
                            m_span,
                            format!("':length' needs a field with several values; '{}' holds one", column.field),
                        )
                        .with_help("':length' counts the items of a multiple select, relation or file field"),
                    );
                    return None;
                }
                ty = Ty::Number;
            }
            Some((Modifier::Lower, m_span)) => {
                if !matches!(ty, Ty::Text | Ty::Any) || multiple {
                    self.diags.push(Diagnostic::error(
                        m_span,
                        format!("':lower' needs a text value; '{}' is a {}", column.field, column.field_ty.name()),
                    ));
                    return None;
                }
            }
            Some((m @ (Modifier::Isset | Modifier::Changed), m_span)) => {
                self.diags.push(
                    Diagnostic::error(m_span, format!("':{}' applies to @request.body fields only", m.name()))
                        .with_help(format!("write @request.body.{}:{}", column.field, m.name())),
                );
                return None;
            }
        }
        column.modifier = modifier.map(|(m, _)| m);
        Some(TOperand { value: TValue::Column(column), ty, arity, span })
    }

    /// Follows `segments` from `start` to a field.
    fn resolve(
        &mut self,
        start: &'c Collection,
        root: Option<CollectionRoot>,
        segments: &[Segment],
    ) -> Option<ColumnRef> {
        let mut current = start;
        let mut steps = Vec::new();
        for (i, seg) in segments.iter().enumerate() {
            let last = i + 1 == segments.len();
            if let Some(field) = current.field(&seg.name) {
                if field.hidden && matches!(field.ty, FieldType::Password) || field.name == system::TOKEN_KEY {
                    self.diags.push(Diagnostic::error(
                        seg.span,
                        format!("'{}' is secret: rules and filters cannot read it", seg.name),
                    ));
                    return None;
                }
                if last {
                    // `author.id` is the relation's own value: no join, as in PocketBase
                    if let (system::ID, Some(Step::Forward { from, field: relation, multiple: false, .. })) =
                        (field.name.as_str(), steps.last())
                        && let Some(holder) = self.cx.schema.collection(from)
                        && let Some(relation) = holder.field(relation)
                    {
                        let relation = relation.clone();
                        steps.pop();
                        return Some(ColumnRef {
                            root,
                            steps,
                            collection: holder.name.clone(),
                            field: relation.name,
                            field_ty: relation.ty,
                            modifier: None,
                            each: false,
                        });
                    }
                    return Some(ColumnRef {
                        root,
                        steps,
                        collection: current.name.clone(),
                        field: field.name.clone(),
                        field_ty: field.ty.clone(),
                        modifier: None,
                        each: false,
                    });
                }
                let FieldType::Relation { collection: target, multiple, .. } = &field.ty else {
                    self.diags.push(
                        Diagnostic::error(
                            segments[i + 1].span.to(seg.span),
                            format!(
                                "'{}' is a {} field, not a relation: there is no '{}' to follow",
                                seg.name,
                                field.ty.name(),
                                segments[i + 1].name
                            ),
                        )
                        .with_help(format!(
                            "only relation fields can be followed with '.'; compare '{}' itself",
                            seg.name
                        )),
                    );
                    return None;
                };
                let next = self.cx.schema.collection(target)?;
                steps.push(Step::Forward {
                    from: current.name.clone(),
                    field: field.name.clone(),
                    to: next.name.clone(),
                    multiple: *multiple,
                });
                current = next;
                continue;
            }
            if let Some((back, via)) = self.back_relation(current, seg)? {
                steps.push(Step::Back {
                    from: current.name.clone(),
                    to: back.name.clone(),
                    field: via.name.clone(),
                    multiple: via.ty.is_multiple(),
                });
                current = back;
                if last {
                    let id = back.field(system::ID).cloned().unwrap_or_else(system::id);
                    return Some(ColumnRef {
                        root,
                        steps,
                        collection: back.name.clone(),
                        field: id.name,
                        field_ty: id.ty,
                        modifier: None,
                        each: false,
                    });
                }
                continue;
            }
            let mut d =
                Diagnostic::error(seg.span, format!("unknown field '{}' in collection '{}'", seg.name, current.name));
            d.help = did_you_mean(&seg.name, current.fields.iter().filter(|f| !f.hidden).map(|f| f.name.as_str()))
                .or_else(|| {
                    Some(format!(
                        "'{}' has: {}",
                        current.name,
                        current
                            .fields
                            .iter()
                            .filter(|f| !f.hidden)
                            .map(|f| f.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                });
            self.diags.push(d);
            return None;
        }
        None
    }

    /// `<collection>_via_<field>`: `Ok(None)` when the name is not of that form.
    fn back_relation(&mut self, current: &Collection, seg: &Segment) -> Option<Option<(&'c Collection, &'c Field)>> {
        let Some((name, field)) = seg.name.split_once("_via_") else { return Some(None) };
        let schema: &'c Schema = self.cx.schema;
        let Some(back) = schema.collection(name) else {
            let mut d =
                Diagnostic::error(seg.span, format!("unknown collection '{name}' in back-relation '{}'", seg.name));
            d.help = did_you_mean(name, schema.collections.iter().map(|c| c.name.as_str()));
            self.diags.push(d);
            return None;
        };
        match back.field(field) {
            Some(f) if f.ty.relation_target() == Some(current.name.as_str()) => Some(Some((back, f))),
            _ => {
                self.diags.push(
                    Diagnostic::error(seg.span, format!("'{name}' has no relation field '{field}' pointing at '{}'", current.name))
                        .with_help(format!("a back-relation is written <collection>_via_<relation field of that collection that targets '{}'>", current.name)),
                );
                None
            }
        }
    }

    fn auth(&mut self, path: &Path, span: Span) -> Option<TOperand> {
        let first = path.segments.first()?;
        if path.segments.len() > 1 {
            self.diags.push(
                Diagnostic::error(path.segments[1].span, "baas does not follow relations of @request.auth yet")
                    .with_help(format!("compare @request.auth.{} itself", first.name)),
            );
            return None;
        }
        self.no_modifier(path, &[Modifier::Lower])?;
        let name = first.name.as_str();
        let ty = match name {
            "id" | "collectionId" | "collectionName" => Ty::Text,
            system::PASSWORD | system::TOKEN_KEY => {
                self.diags.push(Diagnostic::error(first.span, format!("'{name}' is secret: rules cannot read it")));
                return None;
            }
            _ => {
                let found = self.cx.schema.auth_collections().find_map(|c| c.field(name));
                match found {
                    Some(field) => field_ty(&field.ty),
                    None => {
                        let mut names = vec!["id", "collectionId", "collectionName"];
                        names.extend(
                            self.cx
                                .schema
                                .auth_collections()
                                .flat_map(|c| c.fields.iter().filter(|f| !f.hidden))
                                .map(|f| f.name.as_str()),
                        );
                        let mut d = Diagnostic::error(first.span, format!("no auth collection has a field '{name}'"));
                        d.help = did_you_mean(name, names.iter().copied());
                        self.diags.push(d);
                        return None;
                    }
                }
            }
        };
        Some(TOperand { value: TValue::Auth(name.to_owned()), ty, arity: Arity::One, span })
    }

    fn body(&mut self, path: &Path, span: Span) -> Option<TOperand> {
        let first = path.segments.first()?;
        match self.cx.action {
            Some(Action::Create | Action::Update) => {}
            _ => {
                let place = match self.cx.action {
                    Some(a) => format!("a {} rule", a.name()),
                    None => "a filter".to_owned(),
                };
                self.diags.push(
                    Diagnostic::error(span, format!("@request.body is not available in {place}"))
                        .with_help("the request body exists only in create and update rules"),
                );
                return None;
            }
        }
        if path.segments.len() > 1 {
            self.diags.push(
                Diagnostic::error(path.segments[1].span, "baas does not follow relations of @request.body yet")
                    .with_help(format!("compare @request.body.{} itself", first.name)),
            );
            return None;
        }
        let collection = self.cx.collection;
        let extra = collection.is_auth() && matches!(first.name.as_str(), "passwordConfirm" | "oldPassword");
        let ty = match collection.field(&first.name) {
            Some(f) if f.name != system::TOKEN_KEY => f.ty.clone(),
            _ if extra => FieldType::Password,
            _ => {
                let mut d = Diagnostic::error(
                    first.span,
                    format!("unknown field '{}' in collection '{}'", first.name, collection.name),
                );
                d.help = did_you_mean(&first.name, collection.fields.iter().map(|f| f.name.as_str()));
                self.diags.push(d);
                return None;
            }
        };
        let modifier = path.modifier;
        let multiple = ty.is_multiple();
        let (value_ty, arity) = match modifier {
            None => (field_ty(&ty), Arity::One),
            Some((Modifier::Isset, _)) => (Ty::Bool, Arity::One),
            Some((Modifier::Changed, m_span)) => {
                if self.cx.action != Some(Action::Update) {
                    self.diags.push(Diagnostic::error(m_span, "':changed' is only meaningful in update rules"));
                    return None;
                }
                (Ty::Bool, Arity::One)
            }
            Some((Modifier::Length, m_span)) if !multiple => {
                self.diags.push(Diagnostic::error(
                    m_span,
                    format!("':length' needs a field with several values; '{}' holds one", first.name),
                ));
                return None;
            }
            Some((Modifier::Length, _)) => (Ty::Number, Arity::One),
            Some((Modifier::Each, m_span)) if !multiple => {
                self.diags.push(Diagnostic::error(
                    m_span,
                    format!("':each' needs a field with several values; '{}' holds one", first.name),
                ));
                return None;
            }
            Some((Modifier::Each, _)) => (field_ty(&ty), Arity::Many),
            Some((Modifier::Lower, m_span)) => {
                if !matches!(field_ty(&ty), Ty::Text | Ty::Any) || multiple {
                    self.diags.push(Diagnostic::error(
                        m_span,
                        format!("':lower' needs a text value; '{}' is a {}", first.name, ty.name()),
                    ));
                    return None;
                }
                (Ty::Text, Arity::One)
            }
        };
        let value_ty = if multiple && modifier.is_none() { Ty::Any } else { value_ty };
        Some(TOperand {
            value: TValue::Body { field: first.name.clone(), ty, modifier: modifier.map(|(m, _)| m) },
            ty: value_ty,
            arity,
            span,
        })
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

    fn no_modifier(&mut self, path: &Path, allowed: &[Modifier]) -> Option<()> {
        match path.modifier {
            Some((m, span)) if !allowed.contains(&m) => {
                self.diags.push(Diagnostic::error(span, format!("':{}' cannot be used here", m.name())));
                None
            }
            _ => Some(()),
        }
    }

    fn unknown_collection(&mut self, name: &Segment) {
        let mut d = Diagnostic::error(name.span, format!("unknown collection '{}'", name.name));
        d.help = did_you_mean(&name.name, self.cx.schema.collections.iter().map(|c| c.name.as_str()));
        self.diags.push(d);
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

/// Lints: rules that are constant, update rules that let the owner be reassigned. (A list
/// rule's columns need no lint: baas indexes them, see [`Collection::implied_indexes`].)
fn lint_rule(cx: &Context<'_>, text: &str, expr: &Expr, texpr: &TExpr, origin: &Origin, diags: &mut Diagnostics) {
    let whole = origin.map_span(Span::new(0, text.len()));
    let action = cx.action.unwrap_or(Action::List);
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
    if action == Action::Update {
        lint_owner_reassign(cx, expr, origin, diags);
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

fn lint_owner_reassign(cx: &Context<'_>, expr: &Expr, origin: &Origin, diags: &mut Diagnostics) {
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

/// Fills in the fields of view collections from their queries, declared fields giving types.
fn derive_view_fields(schema: &mut Schema, diags: &mut Diagnostics) {
    let derived: Vec<(usize, Vec<Field>)> = schema
        .collections
        .iter()
        .enumerate()
        .filter_map(|(i, c)| match &c.kind {
            CollectionKind::View { query, query_origin } => {
                Some((i, view::fields(schema, c, query, query_origin, diags)))
            }
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

/// Structural checks that hold whichever front end built the schema.
fn check_structure(schema: &Schema, diags: &mut Diagnostics) {
    let mut ids: BTreeMap<&str, &str> = BTreeMap::new();
    for collection in &schema.collections {
        if let Some(other) = ids.insert(&collection.id, &collection.name) {
            diags.push(Diagnostic::error(
                collection.span,
                format!("collection '{}' has the same id '{}' as '{other}'", collection.name, collection.id),
            ));
        }
        if collection.name == system::SUPERUSERS {
            diags.push(Diagnostic::error(collection.span, "'_superusers' is built in"));
        }
        for field in &collection.fields {
            if let FieldType::Relation { collection: target, .. } = &field.ty
                && !target.is_empty()
                && schema.collection(target).is_none()
            {
                let mut d = Diagnostic::error(
                    field.span,
                    format!("relation '{}.{}' points at unknown collection '{target}'", collection.name, field.name),
                );
                d.help = did_you_mean(target, schema.collections.iter().map(|c| c.name.as_str())).or_else(|| {
                    Some(format!(
                        "collections: {}",
                        schema.collections.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ")
                    ))
                });
                diags.push(d);
            }
            if let FieldType::Relation { collection: target, .. } = &field.ty
                && schema.collection(target).is_some_and(Collection::is_view)
            {
                diags.push(
                    Diagnostic::error(
                        field.span,
                        format!("relation '{}.{}' points at view collection '{target}'", collection.name, field.name),
                    )
                    .with_help("relations must point at base or auth collections"),
                );
            }
        }
        for index in &collection.indexes {
            for name in &index.fields {
                if collection.field(name).is_none() {
                    let mut d = Diagnostic::error(
                        index.span,
                        format!("index of '{}' names unknown field '{name}'", collection.name),
                    );
                    d.help = did_you_mean(name, collection.fields.iter().map(|f| f.name.as_str()));
                    diags.push(d);
                }
            }
            if collection.is_view() {
                diags.push(Diagnostic::error(index.span, "view collections cannot have indexes"));
            }
        }
    }
}
