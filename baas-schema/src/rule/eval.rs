//! The in-memory evaluator: a checked expression ([`TExpr`]) judged against one record and
//! one request, with no database. Realtime uses it to decide, for each changed record and
//! each subscriber, whether the subscriber's rule admits the record.
//!
//! It gives exactly the answer the SQL compiler's fragment gives on SQLite for a one-row
//! table holding the record (a property test compares the two): values are read the way
//! [`sql`](super::sql) stores them (booleans as 0/1, multi-valued fields as compact JSON
//! text, datetimes as text), request values are converted to the type the compiler binds
//! them as, `null` stands for the empty value, `~` is SQL `LIKE` (ASCII case-insensitive,
//! `\` escapes), and a comparison with a missing value is unknown, hence false.
//!
//! Only expressions that read nothing but the record and the request can be judged here:
//! [`lookups`] names what else an expression needs (relation paths, back-relations,
//! `@collection`, functions), and [`eval`] answers `None` for those. [`lookups_on`] adds what
//! a dialect's SQL would judge differently (JSON fields on PostgreSQL); realtime sends those to
//! the database.

use std::cmp::Ordering;

use serde_json::{Map, Value};

use crate::check::{ColumnRef, Step, TCompare, TExpr, TOperand, TValue};
use crate::ir::FieldType;
use crate::rule::expr::ast::{Literal, Modifier, OpKind};
use crate::rule::sql::{BindValue, Dialect, SqlTy, bind_ty, like_pattern, shared_ty, textual};

/// What an expression can see of the request, as JSON. The evaluator converts each value to
/// the type the SQL compiler binds it as, just as the runtime does for SQL parameters.
pub trait Request {
    /// The value of a request parameter: `Auth`, `Query`, `Header`, `Method`, `Context`,
    /// `Macro`, `Placeholder`, `Body`, `BodyIsSet` or `BodyLength`.
    fn value(&self, of: &BindValue) -> Value;
}

/// What an expression needs besides the record and the request, one entry per operand that
/// reads other rows (or calls a function), written as in the rule: `post.published`,
/// `comments_via_post.text`, `@collection.users.name`, `strftime()`. Empty: the expression
/// can be judged in memory.
pub fn lookups(expr: &TExpr) -> Vec<String> {
    let mut out = Vec::new();
    walk(expr, &mut |c| {
        for side in [&c.lhs, &c.rhs] {
            operand_lookups(side, &mut out);
        }
    });
    out.dedup();
    out
}

/// [`lookups`], and what else the evaluator cannot judge the way `dialect`'s SQL does. On
/// PostgreSQL that is any JSON field (`extra (JSON)`): the evaluator reads JSON values by
/// SQLite's rules (a `true` is 1, numbers sort before text), PostgreSQL compares their text.
pub fn lookups_on(expr: &TExpr, dialect: Dialect) -> Vec<String> {
    let mut out = lookups(expr);
    if dialect == Dialect::Postgres {
        walk(expr, &mut |c| {
            for side in [&c.lhs, &c.rhs] {
                if let TValue::Column(col) = &side.value
                    && col.field_ty == FieldType::Json
                {
                    out.push(format!("{} (JSON)", col.field));
                }
            }
        });
        out.dedup();
    }
    out
}

fn operand_lookups(o: &TOperand, out: &mut Vec<String>) {
    match &o.value {
        TValue::Column(col) if col.root.is_some() || !col.steps.is_empty() => out.push(path_text(col)),
        TValue::Call { name, args } => {
            out.push(format!("{name}()"));
            for a in args {
                operand_lookups(a, out);
            }
        }
        TValue::Body { modifier: Some(Modifier::Changed), field, .. } => {
            out.push(format!("@request.body.{field}:changed"));
        }
        _ => {}
    }
}

/// A column path as a rule spells it.
fn path_text(col: &ColumnRef) -> String {
    let mut parts = Vec::new();
    if let Some(root) = &col.root {
        parts.push(if root.alias == root.collection {
            format!("@collection.{}", root.collection)
        } else {
            format!("@collection.{}:{}", root.collection, root.alias)
        });
    }
    for step in &col.steps {
        parts.push(match step {
            Step::Forward { field, .. } => field.clone(),
            Step::Back { to, field, .. } => format!("{to}_via_{field}"),
        });
    }
    parts.push(col.field.clone());
    parts.join(".")
}

fn walk<'e>(expr: &'e TExpr, f: &mut impl FnMut(&'e TCompare)) {
    match expr {
        TExpr::True => {}
        TExpr::And(a, b) | TExpr::Or(a, b) => {
            walk(a, f);
            walk(b, f);
        }
        TExpr::Compare(c) => f(c),
    }
}

/// Judges `expr` against `record` (API JSON by field name, as the runtime holds records) and
/// `request`. `None` when the expression needs other rows ([`lookups`] is not empty).
pub fn eval(expr: &TExpr, record: &Map<String, Value>, request: &dyn Request) -> Option<bool> {
    Evaluator { record, request }.expr(expr)
}

/// A value as SQLite holds it: booleans are 0/1 numbers.
#[derive(Clone, Debug, PartialEq)]
enum V {
    Null,
    Num(f64),
    Text(String),
}

/// One side of a comparison: a value, or the rows of a `json_each` (`each`).
struct Side {
    values: Vec<V>,
    rows: bool,
    affinity: Affinity,
}

impl Side {
    fn one(v: V) -> Side {
        Side { values: vec![v], rows: false, affinity: Affinity::None }
    }
}

/// SQLite's type affinity of an operand: a bare column has its column's, anything computed
/// (parameters, functions, `json_each` values) has none. A comparison converts the other
/// side's value towards a column's affinity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Affinity {
    Numeric,
    Text,
    None,
}

/// The values of a comparison after SQLite's affinity conversions.
fn with_affinity(l: &V, la: Affinity, r: &V, ra: Affinity) -> (V, V) {
    match (la, ra) {
        (Affinity::Numeric, b) if b != Affinity::Numeric => (l.clone(), numeric(r)),
        (a, Affinity::Numeric) if a != Affinity::Numeric => (numeric(l), r.clone()),
        (Affinity::Text, Affinity::None) => (l.clone(), as_text(r)),
        (Affinity::None, Affinity::Text) => (as_text(l), r.clone()),
        _ => (l.clone(), r.clone()),
    }
}

/// Text that is a well-formed number becomes that number.
fn numeric(v: &V) -> V {
    match v {
        V::Text(s) => {
            let t = s.trim();
            let well_formed = !t.is_empty()
                && t.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E'))
                && t.bytes().any(|b| b.is_ascii_digit());
            match t.parse::<f64>() {
                Ok(n) if well_formed => V::Num(n),
                _ => v.clone(),
            }
        }
        other => other.clone(),
    }
}

/// A number given text affinity: as SQLite prints a real.
fn as_text(v: &V) -> V {
    match v {
        V::Num(n) if n.fract() == 0.0 && n.abs() < 1e15 => V::Text(format!("{n:.1}")),
        V::Num(n) => V::Text(n.to_string()),
        other => other.clone(),
    }
}

struct Evaluator<'a> {
    record: &'a Map<String, Value>,
    request: &'a dyn Request,
}

impl Evaluator<'_> {
    fn expr(&self, expr: &TExpr) -> Option<bool> {
        Some(match expr {
            TExpr::True => true,
            // Both sides are evaluated so that an expression needing lookups is `None`
            // whatever its other side says.
            TExpr::And(a, b) => {
                let (a, b) = (self.expr(a), self.expr(b));
                a? && b?
            }
            TExpr::Or(a, b) => {
                let (a, b) = (self.expr(a), self.expr(b));
                a? || b?
            }
            TExpr::Compare(c) => self.compare(c)?,
        })
    }

    fn compare(&self, c: &TCompare) -> Option<bool> {
        let shared = shared_ty(c);
        let like = c.op.kind.is_like();
        let lhs = self.operand(&c.lhs, shared, false)?;
        let rhs = self.operand(&c.rhs, shared, like)?;
        let (la, ra) = (lhs.affinity, rhs.affinity);
        let pred = |l: &V, r: &V| self.predicate(l, la, c, r, ra);
        if !lhs.rows && !rhs.rows {
            return Some(pred(&lhs.values[0], &rhs.values[0]) == Some(true));
        }
        let many = c.lhs.arity == crate::check::Arity::Many || c.rhs.arity == crate::check::Arity::Many;
        // As the compiler's LEFT JOIN reads them, an empty list is one missing value.
        let padded = |s: &Side| if s.rows && s.values.is_empty() { vec![V::Null] } else { s.values.clone() };
        let (lp, rp) = (padded(&lhs), padded(&rhs));
        let some = lp.iter().any(|l| rp.iter().any(|r| pred(l, r) == Some(true)));
        if !many || c.op.any {
            return Some(some);
        }
        // a plain operator: besides, no actual value fails
        let all = lhs.values.iter().all(|l| rhs.values.iter().all(|r| pred(l, r) == Some(true)));
        Some(some && all)
    }

    /// The SQL predicate on two values: `None` is SQL's unknown.
    fn predicate(&self, l: &V, la: Affinity, c: &TCompare, r: &V, ra: Affinity) -> Option<bool> {
        // `null` and `""` against a missing value, as `sql::compiler` compiles them
        let null = |o: &TOperand| matches!(o.value, TValue::Literal(Literal::Null));
        let equal = match c.op.kind {
            OpKind::Eq => Some(true),
            OpKind::Neq => Some(false),
            _ => None,
        };
        let empty = |v: &V, o: &TOperand| *v == V::Null || (textual(o) && matches!(v, V::Text(s) if s.is_empty()));
        if null(&c.lhs) || null(&c.rhs) {
            let equal = equal?;
            if null(&c.lhs) && null(&c.rhs) {
                return Some(equal);
            }
            let (value, o) = if null(&c.rhs) { (l, &c.lhs) } else { (r, &c.rhs) };
            return Some(empty(value, o) == equal);
        }
        if let Some(equal) = equal {
            let empty_literal = |o: &TOperand| matches!(&o.value, TValue::Literal(Literal::String(s)) if s.is_empty());
            for (value, o, other) in [(l, &c.lhs, &c.rhs), (r, &c.rhs, &c.lhs)] {
                if empty_literal(other) && textual(o) {
                    return Some(empty(value, o) == equal);
                }
            }
        }
        if c.op.kind.is_like() {
            return Some(like(&text(l)?, &text(r)?) == (c.op.kind == OpKind::Like));
        }
        let (l, r) = &with_affinity(l, la, r, ra);
        match c.op.kind {
            OpKind::Neq => Some(match (l, r) {
                (V::Null, V::Null) => false,
                (V::Null, _) | (_, V::Null) => true,
                _ => cmp(l, r)? != Ordering::Equal,
            }),
            OpKind::Eq => Some(cmp(l, r)? == Ordering::Equal),
            OpKind::Gt => Some(cmp(l, r)? == Ordering::Greater),
            OpKind::Gte => Some(cmp(l, r)? != Ordering::Less),
            OpKind::Lt => Some(cmp(l, r)? == Ordering::Less),
            OpKind::Lte => Some(cmp(l, r)? != Ordering::Greater),
            OpKind::Like | OpKind::NotLike => None,
        }
    }

    /// One side of a comparison, as `sql::compiler` compiles it; `None` when it needs other rows.
    fn operand(&self, o: &TOperand, shared: SqlTy, pattern: bool) -> Option<Side> {
        let ty = bind_ty(o.ty).unwrap_or(shared);
        let request = |value: BindValue| {
            let json = self.request.value(&value);
            if pattern { V::Text(like_pattern(&text_of(&coerce(&json, SqlTy::Text)))) } else { coerce(&json, ty) }
        };
        Some(Side::one(match &o.value {
            TValue::Literal(Literal::Null) => V::Null,
            TValue::Literal(lit) => {
                let lit = match (lit, shared) {
                    (Literal::String(s), SqlTy::Number) if !pattern => {
                        s.trim().parse().map_or_else(|_| lit.clone(), Literal::Number)
                    }
                    _ => lit.clone(),
                };
                let bound = match lit {
                    Literal::Number(_) if !pattern => SqlTy::Number,
                    Literal::Bool(_) => SqlTy::Bool,
                    _ if pattern => SqlTy::Text,
                    _ => ty,
                };
                let json = match &lit {
                    Literal::String(s) if pattern => Value::String(like_pattern(s)),
                    Literal::String(s) => Value::String(s.clone()),
                    Literal::Number(n) => serde_json::json!(n),
                    Literal::Bool(b) => Value::Bool(*b),
                    Literal::Null => Value::Null,
                };
                coerce(&json, bound)
            }
            TValue::Auth(field) => request(BindValue::Auth(field.clone())),
            TValue::Query(name) => request(BindValue::Query(name.clone())),
            TValue::Header(name) => request(BindValue::Header(name.clone())),
            TValue::Method => request(BindValue::Method),
            TValue::Context => request(BindValue::Context),
            TValue::Macro(m) => request(BindValue::Macro(*m)),
            TValue::Placeholder(name) => request(BindValue::Placeholder(name.clone())),
            TValue::Body { field, modifier, .. } => match modifier {
                None => request(BindValue::Body(field.clone())),
                Some(Modifier::Isset) => coerce(&self.request.value(&BindValue::BodyIsSet(field.clone())), SqlTy::Bool),
                Some(Modifier::Length) => {
                    coerce(&self.request.value(&BindValue::BodyLength(field.clone())), SqlTy::Number)
                }
                Some(Modifier::Lower) => lower(request(BindValue::Body(field.clone()))),
                Some(Modifier::Changed) => return None,
                Some(Modifier::Each) => {
                    let items = match self.request.value(&BindValue::Body(field.clone())) {
                        Value::Array(items) => items,
                        Value::Null => Vec::new(),
                        other => vec![other],
                    };
                    return Some(Side {
                        values: items.iter().map(item).collect(),
                        rows: true,
                        affinity: Affinity::None,
                    });
                }
            },
            TValue::Call { .. } => return None,
            TValue::Column(col) => {
                if col.root.is_some() || !col.steps.is_empty() {
                    return None;
                }
                let side = self.column(col, if pattern { SqlTy::Text } else { ty });
                if pattern {
                    return Some(Side {
                        values: side
                            .values
                            .into_iter()
                            .map(|v| match v {
                                V::Null => V::Null,
                                v => V::Text(format!("%{}%", text_of(&v))),
                            })
                            .collect(),
                        rows: side.rows,
                        affinity: Affinity::None,
                    });
                }
                return Some(side);
            }
        }))
    }

    /// A column of the record, read as `want`.
    fn column(&self, col: &ColumnRef, want: SqlTy) -> Side {
        let null = Value::Null;
        let value = self.record.get(&col.field).unwrap_or(&null);
        let json_field = col.field_ty == FieldType::Json;
        let v = match col.modifier {
            Some(Modifier::Length) => V::Num(value.as_array().map_or(0, Vec::len) as f64),
            Some(Modifier::Lower) if json_field => lower(json_value(value, SqlTy::Text)),
            Some(Modifier::Lower) => lower(stored(&col.field_ty, value)),
            _ if col.each => {
                let items = value.as_array().map(|a| a.iter().map(item).collect()).unwrap_or_default();
                return Side { values: items, rows: true, affinity: Affinity::None };
            }
            _ if json_field => json_value(value, want),
            _ => {
                // a bare column: it keeps its column's affinity
                let affinity = match col.field_ty {
                    FieldType::Number { .. } | FieldType::Bool if !col.field_ty.is_multiple() => Affinity::Numeric,
                    _ => Affinity::Text,
                };
                return Side { values: vec![stored(&col.field_ty, value)], rows: false, affinity };
            }
        };
        Side::one(v)
    }
}

/// A field's value as its column holds it.
fn stored(ty: &FieldType, value: &Value) -> V {
    match ty {
        t if t.is_multiple() => V::Text(match value {
            Value::Array(_) => value.to_string(),
            _ => "[]".to_owned(),
        }),
        FieldType::Number { .. } => V::Num(value.as_f64().unwrap_or(0.0)),
        FieldType::Bool => V::Num(if value.as_bool().unwrap_or(false) { 1.0 } else { 0.0 }),
        FieldType::Json => V::Text(value.to_string()),
        _ => match value {
            Value::String(s) => V::Text(s.clone()),
            Value::Null => V::Text(String::new()),
            other => V::Text(other.to_string()),
        },
    }
}

/// The value a JSON field holds, read as `want` (see `json_value` in `sql`): a value of
/// another JSON type is unknown.
fn json_value(value: &Value, want: SqlTy) -> V {
    match (want, value) {
        (SqlTy::Number, Value::Number(n)) => V::Num(n.as_f64().unwrap_or(0.0)),
        (SqlTy::Number, _) => V::Null,
        (SqlTy::Bool, Value::Bool(b)) => V::Num(if *b { 1.0 } else { 0.0 }),
        (SqlTy::Bool, _) => V::Null,
        (_, Value::Null) => V::Null,
        (_, Value::String(s)) => V::Text(s.clone()),
        (_, Value::Bool(b)) => V::Text(if *b { "1" } else { "0" }.to_owned()),
        (_, other) => V::Text(other.to_string()),
    }
}

/// An item of a JSON array as `json_each` yields it.
fn item(v: &Value) -> V {
    match v {
        Value::Null => V::Null,
        Value::Bool(b) => V::Num(if *b { 1.0 } else { 0.0 }),
        Value::Number(n) => V::Num(n.as_f64().unwrap_or(0.0)),
        Value::String(s) => V::Text(s.clone()),
        other => V::Text(other.to_string()),
    }
}

/// A request value converted to the type it is bound as (the runtime's parameter conversion).
fn coerce(v: &Value, ty: SqlTy) -> V {
    match ty {
        SqlTy::Text | SqlTy::JsonArray => V::Text(match v {
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            other => other.to_string(),
        }),
        SqlTy::Number => V::Num(match v {
            Value::Number(n) => n.as_f64().unwrap_or(0.0),
            Value::String(s) => s.trim().parse().unwrap_or(0.0),
            Value::Bool(b) => f64::from(u8::from(*b)),
            _ => 0.0,
        }),
        SqlTy::Bool => V::Num(match v {
            Value::Bool(b) => f64::from(u8::from(*b)),
            Value::Number(n) => f64::from(u8::from(n.as_f64().is_some_and(|f| f != 0.0))),
            Value::String(s) => f64::from(u8::from(s == "true" || s == "1")),
            _ => 0.0,
        }),
    }
}

/// SQLite's comparison of two values: numbers before text, text byte by byte; `None` when
/// either is NULL.
fn cmp(a: &V, b: &V) -> Option<Ordering> {
    match (a, b) {
        (V::Null, _) | (_, V::Null) => None,
        (V::Num(x), V::Num(y)) => x.partial_cmp(y),
        (V::Text(x), V::Text(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
        (V::Num(_), V::Text(_)) => Some(Ordering::Less),
        (V::Text(_), V::Num(_)) => Some(Ordering::Greater),
    }
}

/// A value as text (SQLite prints integral numbers without a fraction).
fn text_of(v: &V) -> String {
    match v {
        V::Null => String::new(),
        V::Text(s) => s.clone(),
        V::Num(n) if n.fract() == 0.0 && n.abs() < 1e15 => format!("{}", *n as i64),
        V::Num(n) => n.to_string(),
    }
}

fn text(v: &V) -> Option<String> {
    (*v != V::Null).then(|| text_of(v))
}

/// SQLite's `LOWER`: ASCII letters only.
fn lower(v: V) -> V {
    match v {
        V::Text(s) => V::Text(s.to_ascii_lowercase()),
        other => other,
    }
}

/// `text LIKE pattern ESCAPE '\'`: `%` any run, `_` one character, `\` takes the next
/// character literally; ASCII letters match either case.
pub fn like(text: &str, pattern: &str) -> bool {
    let t: Vec<char> = text.chars().collect();
    let p: Vec<char> = pattern.chars().collect();
    like_at(&t, &p)
}

fn like_at(t: &[char], p: &[char]) -> bool {
    let (mut ti, mut pi) = (0, 0);
    // the last `%` seen and where the text stood then, for backtracking
    let mut star: Option<(usize, usize)> = None;
    loop {
        if pi < p.len() {
            match p[pi] {
                '%' => {
                    star = Some((pi + 1, ti));
                    pi += 1;
                    continue;
                }
                c => {
                    let (literal, width) = match c {
                        '\\' => match p.get(pi + 1) {
                            Some(&next) => (Some(next), 2),
                            None => return false,
                        },
                        '_' => (None, 1),
                        c => (Some(c), 1),
                    };
                    if ti < t.len() && literal.is_none_or(|l| l.eq_ignore_ascii_case(&t[ti])) {
                        ti += 1;
                        pi += width;
                        continue;
                    }
                }
            }
        } else if ti == t.len() {
            return true;
        }
        // mismatch: let the last `%` swallow one more character
        match star {
            Some((sp, st)) if st < t.len() => {
                star = Some((sp, st + 1));
                pi = sp;
                ti = st + 1;
            }
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_matches_as_sqlite_does() {
        assert!(like("Hello World", "%hello%"));
        assert!(like("Hello", "h_llo"));
        assert!(!like("Hello", "h_lo"));
        assert!(like("a_b", "a\\_b"));
        assert!(!like("axb", "a\\_b"));
        assert!(like("100% sure", "%100\\%%"));
        assert!(like("", "%"));
        assert!(like("", "%%"));
        assert!(!like("x", ""));
        assert!(like("abcabc", "%bc"));
        assert!(like("ÄB", "Äb"));
        assert!(!like("äb", "Äb"));
    }
}
