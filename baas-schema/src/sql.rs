//! The SQL compiler: a checked expression ([`TExpr`]) in, a parameterised `WHERE` fragment
//! out, for SQLite or PostgreSQL.
//!
//! No value is ever spliced into the SQL text: literals, request values and macros all become
//! numbered parameters (`?1` on SQLite, `$1` on PostgreSQL) described by a [`Bind`] that the
//! runtime resolves per request. Relation paths become `EXISTS` subqueries, multi-valued
//! fields are walked with `json_each` / `jsonb_array_elements_text`, and the `?`-operators
//! mean "any value matches" while plain operators over several values mean "all match".
//!
//! Storage conventions this relies on (shared with the DDL emitter through [`column_type`]):
//! one table per collection named like it, one column per field; multi-valued fields hold a
//! JSON array (TEXT on SQLite, `jsonb` on PostgreSQL); datetimes are canonical
//! `YYYY-MM-DD HH:MM:SS.sssZ` text on both engines, so they compare as strings; unset values
//! are the type's zero (`''`, `0`, `false`), never NULL.

use std::fmt::Write as _;

use crate::check::{Arity, ColumnRef, Step, TCompare, TExpr, TOperand, TValue, Ty};
use crate::expr::ast::{Literal, Macro, Modifier, OpKind};
use crate::ir::FieldType;

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

/// Compiles a client filter: every collection the filter reaches through a relation path is
/// joined through that collection's list rule, as `related` gives it. (Rules themselves join
/// without the related collection's rules; filters do, so a filter cannot probe rows its
/// caller may not list.)
pub fn compile_filter<'r>(expr: &TExpr, target: Target<'_>, related: &dyn Fn(&str) -> Related<'r>) -> Fragment {
    compile_with(expr, target, Some(related))
}

fn compile_with<'r>(expr: &TExpr, target: Target<'_>, related: Option<&dyn Fn(&str) -> Related<'r>>) -> Fragment {
    let mut c = Compiler { record: target.record.to_owned(), target, out: Fragment::default(), aliases: 0, related };
    let sql = c.expr(expr, false);
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

struct Compiler<'a, 'f, 'r> {
    target: Target<'a>,
    /// How the current record is named (the target's, or a join alias inside a related rule).
    record: String,
    out: Fragment,
    aliases: usize,
    related: Option<&'f dyn Fn(&str) -> Related<'r>>,
}

/// The FROM items and link conditions needed to reach an operand's values.
#[derive(Default)]
struct Scope {
    from: Vec<String>,
    links: Vec<String>,
}

impl Compiler<'_, '_, '_> {
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
        let mut scope = Scope::default();
        // The type both sides are bound as: a typed side decides for an untyped one.
        let shared = bind_ty(c.lhs.ty).or(bind_ty(c.rhs.ty)).unwrap_or(SqlTy::Text);
        let like = c.op.kind.is_like();
        let lhs = self.operand(&c.lhs, &mut scope, shared, false);
        let rhs = self.operand(&c.rhs, &mut scope, shared, like);
        let pred = self.predicate(&lhs, c, &rhs);
        if scope.from.is_empty() {
            return pred;
        }
        let from = scope.from.join(", ");
        let links = scope.links.join(" AND ");
        let many = c.lhs.arity == Arity::Many || c.rhs.arity == Arity::Many;
        let where_links = if links.is_empty() { String::new() } else { format!("{links} AND ") };
        if many && !c.op.any {
            // every value must match, and there must be at least one
            let fail = match self.target.dialect {
                Dialect::Sqlite => format!("NOT COALESCE({pred}, 0)"),
                Dialect::Postgres => format!("NOT COALESCE({pred}, FALSE)"),
            };
            let exists_any = if links.is_empty() {
                format!("EXISTS (SELECT 1 FROM {from})")
            } else {
                format!("EXISTS (SELECT 1 FROM {from} WHERE {links})")
            };
            format!("({exists_any} AND NOT EXISTS (SELECT 1 FROM {from} WHERE {where_links}{fail}))")
        } else {
            format!("EXISTS (SELECT 1 FROM {from} WHERE {where_links}{pred})")
        }
    }

    fn predicate(&mut self, lhs: &str, c: &TCompare, rhs: &str) -> String {
        let null_side = |o: &TOperand| matches!(o.value, TValue::Literal(Literal::Null));
        if null_side(&c.rhs) || null_side(&c.lhs) {
            // null equals the empty value of the other side's type, as in PocketBase
            let (value, ty) = if null_side(&c.rhs) { (lhs, c.lhs.ty) } else { (rhs, c.rhs.ty) };
            let zero = self.zero(ty);
            let op = match c.op.kind {
                OpKind::Eq | OpKind::Like | OpKind::Gte | OpKind::Lte => "=",
                _ => "<>",
            };
            return format!("COALESCE({value}, {zero}) {op} {zero}");
        }
        let pg = self.target.dialect == Dialect::Postgres;
        let op = match c.op.kind {
            OpKind::Eq => "=",
            OpKind::Neq => "<>",
            OpKind::Gt => ">",
            OpKind::Gte => ">=",
            OpKind::Lt => "<",
            OpKind::Lte => "<=",
            OpKind::Like if pg => "ILIKE",
            OpKind::Like => "LIKE",
            OpKind::NotLike if pg => "NOT ILIKE",
            OpKind::NotLike => "NOT LIKE",
        };
        if c.op.kind == OpKind::Neq {
            // `!=` treats a missing value as different, not unknown
            return format!("{lhs} IS DISTINCT FROM {rhs}");
        }
        if c.op.kind.is_like() {
            // the same escape character on both engines (PostgreSQL's default, SQLite has none)
            return format!("{lhs} {op} {rhs} ESCAPE '\\'");
        }
        format!("{lhs} {op} {rhs}")
    }

    fn zero(&self, ty: Ty) -> &'static str {
        match (ty, self.target.dialect) {
            (Ty::Number, _) => "0",
            (Ty::Bool, Dialect::Sqlite) => "0",
            (Ty::Bool, Dialect::Postgres) => "FALSE",
            _ => "''",
        }
    }

    /// SQL for one side of a comparison; joins it needs are added to `scope`.
    fn operand(&mut self, o: &TOperand, scope: &mut Scope, shared: SqlTy, pattern: bool) -> String {
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
                    _ => {
                        if pattern {
                            SqlTy::Text
                        } else {
                            ty
                        }
                    }
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
                    let e = self.alias("b");
                    scope.from.push(self.json_items(&items, &e));
                    format!("{e}.value")
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
                    return format!("('%' || {value} || '%')");
                }
                value
            }
        }
    }

    /// SQL for a column; `want` is the type it is compared as (it decides how a JSON value is
    /// read).
    fn column(&mut self, col: &ColumnRef, scope: &mut Scope, want: SqlTy) -> String {
        let mut at = match &col.root {
            None => self.record.to_owned(),
            Some(root) => {
                let a = self.alias("c");
                scope.from.push(format!("{} AS {a}", quote(&root.collection)));
                a
            }
        };
        for step in &col.steps {
            let j = self.alias("j");
            match step {
                Step::Forward { field, to, multiple: false, .. } => {
                    scope.from.push(format!("{} AS {j}", quote(to)));
                    scope.links.push(format!("{j}.\"id\" = {at}.{}", quote(field)));
                }
                Step::Forward { field, to, multiple: true, .. } => {
                    let e = self.alias("e");
                    let items = format!("{at}.{}", quote(field));
                    scope.from.push(self.json_items(&items, &e));
                    scope.from.push(format!("{} AS {j}", quote(to)));
                    scope.links.push(format!("{j}.\"id\" = {e}.value"));
                }
                Step::Back { to, field, multiple: false, .. } => {
                    scope.from.push(format!("{} AS {j}", quote(to)));
                    scope.links.push(format!("{j}.{} = {at}.\"id\"", quote(field)));
                }
                Step::Back { to, field, multiple: true, .. } => {
                    scope.from.push(format!("{} AS {j}", quote(to)));
                    let link = match self.target.dialect {
                        Dialect::Sqlite => {
                            let e = self.alias("e");
                            format!(
                                "EXISTS (SELECT 1 FROM json_each({j}.{}) AS {e} WHERE {e}.value = {at}.\"id\")",
                                quote(field)
                            )
                        }
                        Dialect::Postgres => format!("{j}.{} @> jsonb_build_array({at}.\"id\")", quote(field)),
                    };
                    scope.links.push(link);
                }
            }
            let to = match step {
                Step::Forward { to, .. } | Step::Back { to, .. } => to,
            };
            self.restrict(to, &j, scope);
            at = j;
        }
        let column = format!("{at}.{}", quote(&col.field));
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
                let e = self.alias("e");
                scope.from.push(self.json_items(&column, &e));
                format!("{e}.value")
            }
            _ if col.field_ty == FieldType::Json => self.json_value(&column, want),
            // a multi-valued field without `:each` is its JSON text (`tags ~ "tech"`), written
            // compactly as SQLite stores it (`jsonb::text` would put a space after each comma)
            _ if col.field_ty.is_multiple() => array_text(&column, self.target.dialect),
            _ => column,
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

    /// Joins `collection` (aliased `alias`) through its list rule, for client filters.
    fn restrict(&mut self, collection: &str, alias: &str, scope: &mut Scope) {
        let Some(related) = self.related else { return };
        match related(collection) {
            Related::Open => {}
            Related::Closed => scope.links.push(self.truth(false)),
            Related::Filter(rule) => {
                // The related rule is compiled for the joined row, without further restriction.
                let record = std::mem::replace(&mut self.record, alias.to_owned());
                self.related = None;
                let sql = self.expr(rule, false);
                self.related = Some(related);
                self.record = record;
                scope.links.push(format!("({sql})"));
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
