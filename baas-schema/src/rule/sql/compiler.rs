//! The compiler's core: a [`TExpr`] walked into SQL text and its parameters. The conjuncts
//! that read other rows share one `EXISTS` over the expression's joins; each comparison gets
//! PocketBase's treatment of missing values, and a plain operator over several values its
//! every-item check. How a column is read, and the joins that reach it, is [`super::columns`].

use super::columns::{Join, Scope};
use super::dialect::{like_pattern, quote, to_char_format};
use super::{Access, Bind, BindValue, Dialect, Fragment, SqlTy, Target};
use crate::check::{Arity, TCompare, TExpr, TOperand, TValue, Ty};
use crate::ir::FieldType;
use crate::rule::expr::ast::{Literal, Modifier, OpKind};

/// One compilation: the fragment being written and the joins of the expression at hand.
pub(super) struct Compiler<'a, 'f> {
    pub(super) target: Target<'a>,
    /// How the current record is named (the target's, or a join alias inside a related rule).
    pub(super) record: String,
    pub(super) out: Fragment,
    pub(super) aliases: usize,
    pub(super) access: Option<&'f dyn Access>,
    /// The LEFT JOINs of the expression being compiled. Every reference to the same relation
    /// path, back-relation or `@collection` (with its alias) reads the same joined row, as in
    /// PocketBase: `@collection.members.room ?= room && @collection.members.user ?= X` asks
    /// for one membership that satisfies both.
    pub(super) joins: Vec<Join>,
    /// How many times a column read a joined row (to tell which conjuncts need the joins).
    pub(super) join_uses: usize,
}

impl<'a, 'f> Compiler<'a, 'f> {
    pub(super) fn new(target: Target<'a>, access: Option<&'f dyn Access>) -> Self {
        Compiler {
            record: target.record.to_owned(),
            target,
            out: Fragment::default(),
            aliases: 0,
            access,
            joins: Vec::new(),
            join_uses: 0,
        }
    }

    /// Compiles `expr` as one self-contained predicate: when it reads other rows, it holds if
    /// some combination of the joined rows (a missing row reads as NULL) satisfies it.
    ///
    /// Top-level conjuncts that read no joined row stay outside the joins, where the planner
    /// can use the record's indexes for them (`author = @request.auth.id && room.… ?= …`).
    pub(super) fn unit(&mut self, expr: &TExpr) -> String {
        let outer = std::mem::take(&mut self.joins);
        let (mut plain, mut joined) = (Vec::new(), Vec::new());
        let parts = conjuncts(expr);
        let several = parts.len() > 1;
        for conjunct in parts {
            let uses = self.join_uses;
            let sql = self.expr(conjunct, several);
            if self.join_uses == uses { plain.push(sql) } else { joined.push(sql) }
        }
        let joins = std::mem::replace(&mut self.joins, outer);
        if !joined.is_empty() {
            let joins: Vec<String> = joins.into_iter().map(|j| j.sql).collect();
            let exists =
                format!("EXISTS (SELECT 1 FROM (SELECT 1) AS _o {} WHERE {})", joins.join(" "), joined.join(" AND "));
            plain.push(exists);
        }
        plain.join(" AND ")
    }

    fn expr(&mut self, expr: &TExpr, nested_in_and: bool) -> String {
        match expr {
            TExpr::True => self.truth(true),
            TExpr::And(a, b) => {
                let (a, b) = (self.expr(a, true), self.expr(b, true));
                format!("{a} AND {b}")
            }
            TExpr::Or(a, b) => {
                let (a, b) = (self.expr(a, false), self.expr(b, false));
                if nested_in_and { format!("({a} OR {b})") } else { format!("{a} OR {b}") }
            }
            TExpr::Compare(c) => self.compare(c),
        }
    }

    pub(super) fn truth(&self, value: bool) -> String {
        match (self.target.dialect, value) {
            (Dialect::Sqlite, true) => "1 = 1".into(),
            (Dialect::Sqlite, false) => "1 = 0".into(),
            (Dialect::Postgres, v) => if v { "TRUE" } else { "FALSE" }.into(),
        }
    }

    fn param(&mut self, value: BindValue, ty: SqlTy) -> String {
        self.out.binds.push(Bind { value, ty });
        let n = self.target.first_param + self.out.binds.len() - 1;
        match self.target.dialect {
            Dialect::Sqlite => format!("?{n}"),
            Dialect::Postgres => format!(
                "${n}::{}",
                match ty {
                    SqlTy::Text => "text",
                    SqlTy::Number => "float8",
                    SqlTy::Bool => "boolean",
                    SqlTy::JsonArray => "jsonb",
                }
            ),
        }
    }

    pub(super) fn alias(&mut self, prefix: &str) -> String {
        self.aliases += 1;
        format!("{prefix}{}", self.aliases)
    }

    fn compare(&mut self, c: &TCompare) -> String {
        let (lhs, rhs) = self.sides(c, &mut None);
        let pred = self.predicate(&lhs, c, &rhs);
        let many = c.lhs.arity == Arity::Many || c.rhs.arity == Arity::Many;
        if !many || c.op.any {
            return pred;
        }
        // A plain operator over several values: the joined row matches, and no value fails
        // (each read through joins of the check's own).
        let mut scope = Scope::default();
        let (lhs, rhs) = self.sides(c, &mut Some(&mut scope));
        let fail = self.predicate(&lhs, c, &rhs);
        let fail = match self.target.dialect {
            Dialect::Sqlite => format!("NOT COALESCE({fail}, 0)"),
            Dialect::Postgres => format!("NOT COALESCE({fail}, FALSE)"),
        };
        let from = scope.from.join(", ");
        let links: String = scope.links.iter().map(|l| format!("{l} AND ")).collect();
        format!("({pred} AND NOT EXISTS (SELECT 1 FROM {from} WHERE {links}{fail}))")
    }

    /// Both operands of a comparison, bound as one type (`~` reads the left one as text).
    fn sides(&mut self, c: &TCompare, scope: &mut Option<&mut Scope>) -> (String, String) {
        let shared = shared_ty(c);
        let like = c.op.kind.is_like();
        let lhs = self.operand(&c.lhs, scope, shared, false);
        let lhs = if like { self.text_form(lhs, c.lhs.ty) } else { lhs };
        let rhs = self.operand(&c.rhs, scope, shared, like);
        (lhs, rhs)
    }

    /// A number or boolean as the text `~` matches: `10`, `2.5`, `1`/`0`, alike on both
    /// engines (SQLite would print a REAL column's 10 as `10.0`).
    fn text_form(&self, sql: String, ty: Ty) -> String {
        match (self.target.dialect, ty) {
            (Dialect::Sqlite, Ty::Number) => format!(
                "(CASE WHEN {sql} = CAST({sql} AS INTEGER) THEN CAST(CAST({sql} AS INTEGER) AS TEXT) ELSE CAST({sql} AS TEXT) END)"
            ),
            (Dialect::Postgres, Ty::Number) => format!("({sql})::text"),
            (Dialect::Postgres, Ty::Bool) => format!("({sql})::int::text"),
            _ => sql,
        }
    }

    /// The comparison of two compiled operands, with PocketBase's treatment of missing values:
    /// `null` and `""` are the empty value (a missing related row is empty too), a number or
    /// bool is never empty, `!=` holds between a value and a missing one, and ordered or `~`
    /// comparisons with `null` hold for nothing.
    fn predicate(&mut self, lhs: &str, c: &TCompare, rhs: &str) -> String {
        let null = |o: &TOperand| matches!(o.value, TValue::Literal(Literal::Null));
        let equal = match c.op.kind {
            OpKind::Eq => Some(true),
            OpKind::Neq => Some(false),
            _ => None,
        };
        if let (true, Some(equal)) = (null(&c.lhs) || null(&c.rhs), equal) {
            // (an ordered or `~` comparison with NULL is unknown: no row matches)
            if null(&c.lhs) && null(&c.rhs) {
                return self.truth(equal);
            }
            let (value, o) = if null(&c.rhs) { (lhs, &c.lhs) } else { (rhs, &c.rhs) };
            return match (textual(o), nullable(o), equal) {
                (false, _, true) => format!("{value} IS NULL"),
                (false, _, false) => format!("{value} IS NOT NULL"),
                (true, false, true) => format!("{value} = ''"),
                (true, false, false) => format!("{value} <> ''"),
                (true, true, true) => format!("({value} = '' OR {value} IS NULL)"),
                (true, true, false) => format!("({value} <> '' AND {value} IS NOT NULL)"),
            };
        }
        if let Some(equal) = equal {
            let empty = |o: &TOperand| matches!(&o.value, TValue::Literal(Literal::String(s)) if s.is_empty());
            for (value, o, empty_sql, other) in [(lhs, &c.lhs, rhs, &c.rhs), (rhs, &c.rhs, lhs, &c.lhs)] {
                if empty(other) && textual(o) && nullable(o) {
                    return if equal {
                        format!("({value} = {empty_sql} OR {value} IS NULL)")
                    } else {
                        format!("({value} <> {empty_sql} AND {value} IS NOT NULL)")
                    };
                }
            }
        }
        let pg = self.target.dialect == Dialect::Postgres;
        let op = match c.op.kind {
            OpKind::Eq => "=",
            // `!=` treats a missing value as different, not unknown
            OpKind::Neq => "IS DISTINCT FROM",
            OpKind::Gt => ">",
            OpKind::Gte => ">=",
            OpKind::Lt => "<",
            OpKind::Lte => "<=",
            OpKind::Like if pg => "ILIKE",
            OpKind::Like => "LIKE",
            OpKind::NotLike if pg => "NOT ILIKE",
            OpKind::NotLike => "NOT LIKE",
        };
        if c.op.kind.is_like() {
            // the same escape character on both engines (PostgreSQL's default, SQLite has none)
            return format!("{lhs} {op} {rhs} ESCAPE '\\'");
        }
        format!("{lhs} {op} {rhs}")
    }

    /// SQL for one side of a comparison. Joins it needs go to `scope` when there is one (inner
    /// joins private to an every-item check), else to the expression's shared LEFT JOINs.
    fn operand(&mut self, o: &TOperand, scope: &mut Option<&mut Scope>, shared: SqlTy, pattern: bool) -> String {
        let ty = bind_ty(o.ty).unwrap_or(shared);
        let bind = |c: &mut Self, value: BindValue| {
            let value = if pattern { BindValue::LikePattern(Box::new(value)) } else { value };
            c.param(value, if pattern { SqlTy::Text } else { ty })
        };
        match &o.value {
            TValue::Literal(Literal::Null) => "NULL".to_owned(),
            TValue::Literal(lit) => {
                let lit = match (lit, shared) {
                    // `views > "3"`: bind the number
                    (Literal::String(s), SqlTy::Number) if !pattern => {
                        s.trim().parse().map_or_else(|_| lit.clone(), Literal::Number)
                    }
                    _ => lit.clone(),
                };
                let value = match (&lit, pattern) {
                    (Literal::String(s), true) => BindValue::Literal(Literal::String(like_pattern(s))),
                    _ => BindValue::Literal(lit.clone()),
                };
                let ty = match lit {
                    Literal::Number(_) if !pattern => SqlTy::Number,
                    Literal::Bool(_) => SqlTy::Bool,
                    _ if pattern => SqlTy::Text,
                    _ => ty,
                };
                self.param(value, ty)
            }
            TValue::Auth(field) => bind(self, BindValue::Auth(field.clone())),
            TValue::Query(name) => bind(self, BindValue::Query(name.clone())),
            TValue::Header(name) => bind(self, BindValue::Header(name.clone())),
            TValue::Method => bind(self, BindValue::Method),
            TValue::Context => bind(self, BindValue::Context),
            TValue::Macro(m) => bind(self, BindValue::Macro(*m)),
            TValue::Placeholder(name) => bind(self, BindValue::Placeholder(name.clone())),
            TValue::Body { field, ty: field_ty, modifier } => match modifier {
                None => bind(self, BindValue::Body(field.clone())),
                Some(Modifier::Isset) => self.param(BindValue::BodyIsSet(field.clone()), SqlTy::Bool),
                Some(Modifier::Length) => self.param(BindValue::BodyLength(field.clone()), SqlTy::Number),
                Some(Modifier::Lower) => {
                    let p = bind(self, BindValue::Body(field.clone()));
                    format!("LOWER({p})")
                }
                Some(Modifier::Changed) => {
                    let set = self.param(BindValue::BodyIsSet(field.clone()), SqlTy::Bool);
                    let col_ty = bind_ty(crate::check::field_ty(field_ty)).unwrap_or(SqlTy::Text);
                    let col_ty = if field_ty.is_multiple() { SqlTy::JsonArray } else { col_ty };
                    let value = self.param(BindValue::Body(field.clone()), col_ty);
                    let stored = format!("{}.{}", self.record, quote(field));
                    let truthy = match self.target.dialect {
                        Dialect::Sqlite => format!("{set} = 1"),
                        Dialect::Postgres => set,
                    };
                    format!("({truthy} AND {value} IS DISTINCT FROM {stored})")
                }
                Some(Modifier::Each) => {
                    let items = self.param(BindValue::Body(field.clone()), SqlTy::JsonArray);
                    self.items(&items, scope, None)
                }
            },
            TValue::Call { name, args } => match self.target.dialect {
                Dialect::Sqlite => {
                    let args: Vec<String> = args.iter().map(|a| self.operand(a, scope, SqlTy::Text, false)).collect();
                    format!("{name}({})", args.join(", "))
                }
                // strftime(format, value): PostgreSQL prints with to_char, the format translated
                // (the checker lets through only quoted formats both engines print alike). The
                // stored text is UTC: read as a timestamp without time zone, it prints as is,
                // whatever the session's time zone. Text that is no datetime gives NULL, as on
                // SQLite, rather than failing the query.
                Dialect::Postgres => {
                    let format = match args.first().map(|a| &a.value) {
                        Some(TValue::Literal(Literal::String(f))) => {
                            self.param(BindValue::Literal(Literal::String(to_char_format(f))), SqlTy::Text)
                        }
                        Some(_) => self.operand(&args[0], scope, SqlTy::Text, false),
                        None => "NULL".to_owned(),
                    };
                    let value = match args.get(1) {
                        Some(a) => self.operand(a, scope, SqlTy::Text, false),
                        None => "NULL".to_owned(),
                    };
                    format!(
                        "(CASE WHEN {value} ~ '^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}' THEN to_char(CAST({value} AS timestamp), {format}) END)"
                    )
                }
            },
            TValue::Column(col) => {
                let value = self.column(col, scope, if pattern { SqlTy::Text } else { ty });
                if pattern {
                    // `title ~ body`: contains, on both engines
                    let value = self.text_form(value, o.ty);
                    return format!("('%' || {value} || '%')");
                }
                value
            }
        }
    }
}

/// Whether an operand's SQL can be NULL: a column (of a missing related row, say) or a
/// function's result; parameters never are.
fn nullable(o: &TOperand) -> bool {
    matches!(o.value, TValue::Column(_) | TValue::Call { .. })
}

/// The operands of a chain of `&&`, in order.
fn conjuncts(expr: &TExpr) -> Vec<&TExpr> {
    match expr {
        TExpr::And(a, b) => {
            let mut out = conjuncts(a);
            out.extend(conjuncts(b));
            out
        }
        other => vec![other],
    }
}

/// Whether an operand is empty when it is `''` (text, datetimes, request values) rather than
/// only when it is missing (numbers, booleans, JSON values).
pub(crate) fn textual(o: &TOperand) -> bool {
    let json = matches!(&o.value, TValue::Column(c) if c.field_ty == FieldType::Json && c.modifier.is_none());
    matches!(o.ty, Ty::Text | Ty::Date | Ty::Any) && !json
}

/// The type both sides of a comparison are bound as: a typed side decides for an untyped one,
/// and a value decides for a literal (`"42" <= views` binds 42 as a number).
pub(crate) fn shared_ty(c: &TCompare) -> SqlTy {
    if c.op.kind.is_like() {
        // `~` matches text: `"5" ~ n` looks for "5" in the number's text
        return SqlTy::Text;
    }
    let literal = |o: &TOperand| matches!(o.value, TValue::Literal(_));
    let (first, second) = if literal(&c.lhs) && !literal(&c.rhs) { (&c.rhs, &c.lhs) } else { (&c.lhs, &c.rhs) };
    bind_ty(first.ty).or(bind_ty(second.ty)).unwrap_or(SqlTy::Text)
}

/// The type a value of `ty` is bound as; `None` for untyped values (they take the other side's).
pub(crate) fn bind_ty(ty: Ty) -> Option<SqlTy> {
    match ty {
        Ty::Text | Ty::Date => Some(SqlTy::Text),
        Ty::Number => Some(SqlTy::Number),
        Ty::Bool => Some(SqlTy::Bool),
        Ty::Any | Ty::Null => None,
    }
}
