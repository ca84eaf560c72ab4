//! SQL text outside a predicate's structure, used beyond the compiler too: identifiers
//! quoted, field types as column types (the DDL emitter writes its tables with them), the
//! compact JSON text of an array column, `~` patterns (the runtime builds them for request
//! values as well) and strftime formats as PostgreSQL's `to_char` reads them.

use super::Dialect;
use crate::ir::FieldType;

/// Quotes an identifier for either dialect (both accept double quotes).
pub fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// The column type of a field, shared with the DDL emitter.
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
