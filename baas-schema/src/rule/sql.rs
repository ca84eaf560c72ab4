//! The SQL compiler: a checked expression ([`TExpr`]) in, a parameterised `WHERE` fragment
//! out, for SQLite or PostgreSQL.
//!
//! No value is ever spliced into the SQL text: literals, request values and macros all become
//! numbered parameters (`?1` on SQLite, `$1` on PostgreSQL) described by a [`Bind`] that the
//! runtime resolves per request. Relation paths, back-relations and `@collection` references
//! become LEFT JOINs inside one `EXISTS` per expression, one join per path (PocketBase's
//! semantics: conditions on the same path read the same related row, and a missing row reads
//! as NULL, the empty value). Multi-valued fields are walked with `json_each` /
//! `jsonb_array_elements_text`; the `?`-operators mean "some value matches", plain operators
//! over several values "every value matches, and there is one".
//!
//! Storage conventions this relies on (shared with the DDL emitter through [`column_type`]):
//! one table per collection named like it, one column per field; multi-valued fields hold a
//! JSON array (TEXT on SQLite, `jsonb` on PostgreSQL); datetimes are canonical
//! `YYYY-MM-DD HH:MM:SS.sssZ` text on both engines, so they compare as strings; unset values
//! are the type's zero (`''`, `0`, `false`), never NULL.

use std::fmt::Write as _;

use crate::check::{Arity, ColumnRef, Step, TCompare, TExpr, TOperand, TValue, Ty};
use crate::ir::{FieldType, system};
use crate::rule::expr::ast::{Literal, Macro, Modifier, OpKind};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A compiled predicate: SQL text plus what its parameters are, in order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Fragment {
    pub sql: String,
    /// `binds[i]` is parameter number `first_param + i`.
    pub binds: Vec<Bind>,
}

/// The value of one parameter, and the type to bind it as.
#[derive(Clone, Debug, PartialEq)]
pub struct Bind {
    pub value: BindValue,
    pub ty: SqlTy,
}

/// The type a parameter is bound as. Request values are converted to it by the runtime.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SqlTy {
    Text,
    Number,
    Bool,
    /// A JSON array, as text (for walking request arrays with `:each`).
    JsonArray,
}

/// Where a parameter's value comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum BindValue {
    Literal(Literal),
    /// A `~` pattern: the value wrapped in `%…%` unless it already holds a `%`.
    LikePattern(Box<BindValue>),
    /// A field of the authenticated record (`id` is `""` when anonymous).
    Auth(String),
    Body(String),
    /// Whether the body has the key.
    BodyIsSet(String),
    /// The number of items the body gives for a multi-valued field.
    BodyLength(String),
    Query(String),
    Header(String),
    Method,
    Context,
    Macro(Macro),
    Placeholder(String),
}

/// Where the compiled predicate will be used.
#[derive(Clone, Copy, Debug)]
pub struct Target<'a> {
    pub dialect: Dialect,
    /// How the query names the record's table (`"posts"` or an alias), already quoted.
    pub record: &'a str,
    /// The number of the first parameter (1 when the fragment stands alone).
    pub first_param: usize,
}

/// Compiles `expr` into a fragment for `target`.
pub fn compile(expr: &TExpr, target: Target<'_>) -> Fragment {
    compile_with(expr, target, None)
}

/// What a client may see of a collection its filter reaches through a relation.
#[derive(Clone, Copy, Debug)]
pub enum Related<'r> {
    /// Everything (public rule, or a superuser's filter).
    Open,
    /// Nothing (superusers-only rule).
    Closed,
    /// The rows its list rule admits.
    Filter(&'r TExpr),
}

/// What a client filter may see of the collections it reaches, for callers other than
/// superusers (whose filters see everything).
pub trait Access {
    /// The rows of `collection` the caller may list.
    fn related(&self, collection: &str) -> Related<'_>;
    /// Whether `collection` is an auth collection: its `email` is readable only on records
    /// whose `emailVisibility` is set.
    fn is_auth(&self, collection: &str) -> bool;
}

/// Compiles a client filter: every collection the filter reaches through a relation path is
/// joined through that collection's list rule, as `access` gives it, and e-mails of auth
/// records read as empty unless the record makes them visible. (Rules themselves join without
/// the related collection's rules and read every field; filters do not, so a filter cannot
/// probe rows or values its caller may not see.)
pub fn compile_filter(expr: &TExpr, target: Target<'_>, access: &dyn Access) -> Fragment {
    compile_with(expr, target, Some(access))
}

/// Compiles one `ORDER BY` term: `col` (reached through single relations only), ascending or
/// `desc`, as a scalar subquery when it lives in another record. With `access`, the related
/// records are joined through their list rules (a record the caller may not list sorts as
/// empty) and hidden e-mails read as empty, so no order depends on a value the caller cannot
/// read. An empty value sorts first ascending and last descending on both engines.
pub fn compile_sort(col: &ColumnRef, desc: bool, target: Target<'_>, access: Option<&dyn Access>) -> Fragment {
    let mut c = Compiler::new(target, access);
    let value = c.column(col, &mut None, SqlTy::Text);
    let joins = std::mem::take(&mut c.joins);
    // (a stored column is never NULL: only a related row or a hidden e-mail can be)
    let nullable = !joins.is_empty() || c.email_if_visible(col);
    let value = if joins.is_empty() {
        value
    } else {
        let joins: Vec<String> = joins.into_iter().map(|j| j.sql).collect();
        format!("(SELECT {value} FROM (SELECT 1) AS _o {} LIMIT 1)", joins.join(" "))
    };
    let direction = match (desc, nullable && target.dialect == Dialect::Postgres) {
        // PostgreSQL puts NULL last ascending; SQLite, like PocketBase, first
        (false, true) => "ASC NULLS FIRST",
        (true, true) => "DESC NULLS LAST",
        (false, false) => "ASC",
        (true, false) => "DESC",
    };
    c.out.sql = format!("{value} {direction}");
    c.out
}

fn compile_with(expr: &TExpr, target: Target<'_>, access: Option<&dyn Access>) -> Fragment {
    let mut c = Compiler::new(target, access);
    let sql = c.unit(expr);
    c.out.sql = sql;
    c.out
}

/// Quotes an identifier for either dialect (both accept double quotes).
pub fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// The column type of a field, shared with the DDL emitter.
/// The JSON text of a multi-valued column as SQLite stores it (`["a","b"]`). PostgreSQL's
/// `jsonb::text` would put a space after each comma, so its text is rebuilt compactly.
pub fn array_text(column: &str, dialect: Dialect) -> String {
    match dialect {
        Dialect::Sqlite => column.to_owned(),
        Dialect::Postgres => format!(
            "COALESCE((SELECT '[' || string_agg(_mj.v::text, ',' ORDER BY _mj.n) || ']' \
             FROM jsonb_array_elements({column}) WITH ORDINALITY AS _mj(v, n)), '[]')"
        ),
    }
}

pub fn column_type(ty: &FieldType, dialect: Dialect) -> &'static str {
    match (ty, dialect) {
        (t, Dialect::Sqlite) if t.is_multiple() => "TEXT",
        (t, Dialect::Postgres) if t.is_multiple() => "JSONB",
        (FieldType::Number { integer: true, .. }, Dialect::Sqlite) => "INTEGER",
        (FieldType::Number { .. }, Dialect::Sqlite) => "REAL",
        (FieldType::Number { .. }, Dialect::Postgres) => "DOUBLE PRECISION",
        (FieldType::Bool, Dialect::Sqlite) => "INTEGER",
        (FieldType::Bool, Dialect::Postgres) => "BOOLEAN",
        (FieldType::Json, Dialect::Sqlite) => "TEXT",
        (FieldType::Json, Dialect::Postgres) => "JSONB",
        (_, _) => "TEXT",
    }
}

struct Compiler<'a, 'f> {
    target: Target<'a>,
    /// How the current record is named (the target's, or a join alias inside a related rule).
    record: String,
    out: Fragment,
    aliases: usize,
    access: Option<&'f dyn Access>,
    /// The LEFT JOINs of the expression being compiled. Every reference to the same relation
    /// path, back-relation or `@collection` (with its alias) reads the same joined row, as in
    /// PocketBase: `@collection.members.room ?= room && @collection.members.user ?= X` asks
    /// for one membership that satisfies both.
    joins: Vec<Join>,
    /// How many times a column read a joined row (to tell which conjuncts need the joins).
    join_uses: usize,
}

/// One LEFT JOIN of an expression.
struct Join {
    /// The path it stands for; `None` for a join that one comparison uses alone (the items of
    /// the record's own multi-valued field, or of a request value).
    key: Option<String>,
    alias: String,
    sql: String,
}

/// The FROM items and link conditions of a comparison's private (inner) joins: the every-item
/// check of a plain operator over several values reads them independently of the shared row.
#[derive(Default)]
struct Scope {
    from: Vec<String>,
    links: Vec<String>,
}

/// What a FROM item is joined on.
type Reached = (String, Vec<String>);

impl<'a, 'f> Compiler<'a, 'f> {
    fn new(target: Target<'a>, access: Option<&'f dyn Access>) -> Self {
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
    fn unit(&mut self, expr: &TExpr) -> String {
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

    fn truth(&self, value: bool) -> String {
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

    fn alias(&mut self, prefix: &str) -> String {
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

    /// SQL for a column; `want` is the type it is compared as (it decides how a JSON value is
    /// read).
    fn column(&mut self, col: &ColumnRef, scope: &mut Option<&mut Scope>, want: SqlTy) -> String {
        // the path so far, naming the shared joins: `@collection.users:u.posts_via_author.tags`
        let mut key = String::new();
        let mut at = match &col.root {
            None => self.record.clone(),
            Some(root) => {
                key = format!("@collection.{}:{}", root.collection, root.alias);
                let table = quote(&root.collection);
                self.reach(scope, &key, "c", |_, c| (format!("{table} AS {c}"), Vec::new()))
            }
        };
        for step in &col.steps {
            let table = quote(match step {
                Step::Forward { to, .. } | Step::Back { to, .. } => to,
            });
            let from = at.clone();
            at = match step {
                Step::Forward { field, to, multiple, .. } => {
                    key = format!("{key}.{field}");
                    let mut source = format!("{from}.{}", quote(field));
                    if *multiple {
                        source = self.items(&source, scope, Some(format!("{key}[]")));
                    }
                    self.reach(scope, &key, "j", |c, j| {
                        (format!("{table} AS {j}"), c.linked(to, j, format!("{j}.\"id\" = {source}")))
                    })
                }
                Step::Back { to, field, multiple, .. } => {
                    key = format!("{key}.{to}_via_{field}");
                    self.reach(scope, &key, "j", |c, j| {
                        let link = if *multiple {
                            c.contains(&format!("{j}.{}", quote(field)), &format!("{from}.\"id\""))
                        } else {
                            format!("{j}.{} = {from}.\"id\"", quote(field))
                        };
                        (format!("{table} AS {j}"), c.linked(to, j, link))
                    })
                }
            };
        }
        let mut column = format!("{at}.{}", quote(&col.field));
        if self.email_if_visible(col) {
            // a client reads only the e-mails their owners made visible
            column = format!("(CASE WHEN {at}.{} THEN {column} END)", quote(system::EMAIL_VISIBILITY));
        }
        match col.modifier {
            Some(Modifier::Length) => match self.target.dialect {
                Dialect::Sqlite => format!("json_array_length({column})"),
                Dialect::Postgres => format!("jsonb_array_length({column})"),
            },
            Some(Modifier::Lower) if col.field_ty == FieldType::Json => {
                format!("LOWER({})", self.json_value(&column, SqlTy::Text))
            }
            Some(Modifier::Lower) => format!("LOWER({column})"),
            _ if col.each => {
                // the items of the record's own field are its comparison's alone; those of a
                // related record are shared like the record
                let shared = (!key.is_empty()).then(|| format!("{key}.{}:each", col.field));
                self.items(&column, scope, shared)
            }
            _ if col.field_ty == FieldType::Json => self.json_value(&column, want),
            // a multi-valued field without `:each` is its JSON text (`tags ~ "tech"`), written
            // compactly as SQLite stores it (`jsonb::text` would put a space after each comma)
            _ if col.field_ty.is_multiple() => array_text(&column, self.target.dialect),
            _ => column,
        }
    }

    /// Whether `col` is an auth record's e-mail that this client filter reads only where
    /// `emailVisibility` allows.
    fn email_if_visible(&self, col: &ColumnRef) -> bool {
        col.field == system::EMAIL && self.access.is_some_and(|a| a.is_auth(&col.collection))
    }

    /// Joins a table for a column path: into the comparison's private scope when there is
    /// one, else as the expression's LEFT JOIN for `key` (made once, then shared). `make`
    /// gives the FROM item and its link conditions for an alias.
    fn reach(
        &mut self,
        scope: &mut Option<&mut Scope>,
        key: &str,
        prefix: &str,
        make: impl FnOnce(&mut Self, &str) -> Reached,
    ) -> String {
        match scope {
            Some(scope) => {
                let alias = self.alias(prefix);
                let (item, links) = make(self, &alias);
                scope.from.push(item);
                scope.links.extend(links);
                alias
            }
            None => self.join(Some(key.to_owned()), prefix, make),
        }
    }

    /// The expression's LEFT JOIN for `key`, made with `make` unless it exists.
    fn join(&mut self, key: Option<String>, prefix: &str, make: impl FnOnce(&mut Self, &str) -> Reached) -> String {
        self.join_uses += 1;
        if let Some(found) = key.as_ref().and_then(|k| self.joins.iter().find(|j| j.key.as_ref() == Some(k))) {
            return found.alias.clone();
        }
        let alias = self.alias(prefix);
        let (item, on) = make(self, &alias);
        let on = if on.is_empty() { self.truth(true) } else { on.join(" AND ") };
        self.joins.push(Join { key, alias: alias.clone(), sql: format!("LEFT JOIN {item} ON {on}") });
        alias
    }

    /// The items of a JSON array as rows; returns the SQL of an item. Outside a private scope
    /// the join is a LEFT one, so an empty array reads as one missing value, as in PocketBase.
    fn items(&mut self, array: &str, scope: &mut Option<&mut Scope>, key: Option<String>) -> String {
        let e = match scope {
            Some(scope) => {
                let e = self.alias("e");
                scope.from.push(self.json_items(array, &e));
                e
            }
            None => self.join(key, "e", |c, e| (c.json_items(array, e), Vec::new())),
        };
        format!("{e}.value")
    }

    /// `link`, and for client filters the list rule of `collection` on the joined row.
    fn linked(&mut self, collection: &str, alias: &str, link: String) -> Vec<String> {
        let mut on = vec![link];
        on.extend(self.restrict(collection, alias));
        on
    }

    /// Whether the JSON array `array` holds `value`.
    fn contains(&mut self, array: &str, value: &str) -> String {
        match self.target.dialect {
            Dialect::Sqlite => {
                let e = self.alias("e");
                format!("EXISTS (SELECT 1 FROM json_each({array}) AS {e} WHERE {e}.value = {value})")
            }
            Dialect::Postgres => format!("{array} @> jsonb_build_array({value})"),
        }
    }

    /// The value a JSON field holds, read as `want`: `extra = 5` matches the JSON number 5,
    /// `extra = "x"` the JSON string "x", `extra = true` the JSON true, and a value of another
    /// JSON type matches nothing rather than failing the query. `to_jsonb` lets the same SQL
    /// read the computed columns of views, which are typed JSON whatever their SQL type.
    fn json_value(&self, column: &str, want: SqlTy) -> String {
        match (self.target.dialect, want) {
            (Dialect::Sqlite, SqlTy::Number) => format!(
                "(CASE WHEN json_valid({column}) THEN (CASE json_type({column}) WHEN 'integer' THEN json_extract({column}, '$') WHEN 'real' THEN json_extract({column}, '$') END) END)"
            ),
            (Dialect::Sqlite, SqlTy::Bool) => format!(
                "(CASE WHEN json_valid({column}) THEN (CASE json_type({column}) WHEN 'true' THEN 1 WHEN 'false' THEN 0 END) END)"
            ),
            (Dialect::Sqlite, _) => {
                format!(
                    "(CASE WHEN json_valid({column}) THEN CAST(json_extract({column}, '$') AS TEXT) ELSE {column} END)"
                )
            }
            (Dialect::Postgres, SqlTy::Number) => format!(
                "(CASE WHEN jsonb_typeof(to_jsonb({column})) = 'number' THEN (to_jsonb({column}) #>> '{{}}')::float8 END)"
            ),
            (Dialect::Postgres, SqlTy::Bool) => format!(
                "(CASE WHEN jsonb_typeof(to_jsonb({column})) = 'boolean' THEN (to_jsonb({column}) #>> '{{}}')::boolean END)"
            ),
            (Dialect::Postgres, _) => format!("(to_jsonb({column}) #>> '{{}}')"),
        }
    }

    /// The list rule of `collection` on the row joined as `alias`, for client filters: `None`
    /// when every row may be seen.
    fn restrict(&mut self, collection: &str, alias: &str) -> Option<String> {
        let access = self.access?;
        match access.related(collection) {
            Related::Open => None,
            Related::Closed => Some(self.truth(false)),
            Related::Filter(rule) => {
                // The related rule is compiled for the joined row, without further restriction.
                let record = std::mem::replace(&mut self.record, alias.to_owned());
                self.access = None;
                let sql = self.unit(rule);
                self.access = Some(access);
                self.record = record;
                Some(format!("({sql})"))
            }
        }
    }

    /// A FROM item yielding the items of a JSON array as rows with a `value` column.
    fn json_items(&self, array: &str, alias: &str) -> String {
        match self.target.dialect {
            Dialect::Sqlite => format!("json_each({array}) AS {alias}"),
            Dialect::Postgres => format!("jsonb_array_elements_text({array}) AS {alias}(value)"),
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

/// PocketBase's `~`: the operand is wrapped in `%…%` unless it already holds a `%` of its own
/// (one not escaped with `\`). When it is wrapped, it means itself: `_`, `%` and `\` are
/// escaped for `LIKE … ESCAPE '\'`, so `"a_b"` does not match `axb`.
pub fn like_pattern(s: &str) -> String {
    let mut chars = s.chars().peekable();
    let mut pattern_percent = false;
    let mut prev = None;
    for c in s.chars() {
        pattern_percent |= c == '%' && prev != Some('\\');
        prev = Some(c);
    }
    if pattern_percent {
        return s.to_owned();
    }
    let mut out = String::from("%");
    while let Some(c) = chars.next() {
        match c {
            // already escaped: keep the pair
            '\\' if chars.peek().is_some_and(|n| matches!(n, '\\' | '%' | '_')) => {
                out.push(c);
                out.extend(chars.next());
            }
            '\\' | '%' | '_' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out.push('%');
    out
}

/// A strftime format as a `to_char` pattern: conversions translated ([`crate::check::STRFTIME`]),
/// everything else quoted so that `to_char` prints it as is.
pub fn to_char_format(format: &str) -> String {
    let mut out = String::new();
    let mut literal = String::new();
    let flush = |out: &mut String, literal: &mut String| {
        if !literal.is_empty() {
            out.push('"');
            out.push_str(&literal.replace('\\', "\\\\").replace('"', "\\\""));
            out.push('"');
            literal.clear();
        }
    };
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        let spec = if c == '%' { chars.next() } else { None };
        match spec.and_then(|s| crate::check::STRFTIME.iter().find(|(c, _)| *c == s)) {
            Some(('%', _)) => literal.push('%'),
            Some((_, pattern)) => {
                flush(&mut out, &mut literal);
                out.push_str(pattern);
            }
            None => {
                literal.push(c);
                literal.extend(spec);
            }
        }
    }
    flush(&mut out, &mut literal);
    out
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

impl Fragment {
    /// The fragment with parameters shown inline, for snapshots and debugging only.
    pub fn explain(&self) -> String {
        let mut out = self.sql.clone();
        for (i, b) in self.binds.iter().enumerate() {
            let _ = write!(out, "\n  [{}] {:?} as {:?}", i + 1, b.value, b.ty);
        }
        out
    }
}
