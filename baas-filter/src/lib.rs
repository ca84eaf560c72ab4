//! `filter!`: a filter of one collection, checked when the crate compiles by the schema's own
//! checker, with the diagnostics and `help:` of `baas check`. Generated code declares one per
//! collection (`posts::filter!("published = true && author = {:me}", me = id)`), which hands
//! [`checked_filter!`] the schema and the collection; each `{:placeholder}` is typed by what it
//! is compared with, so `me = 42` against a text field does not compile either. It expands to
//! a `baas_runtime::data::CheckedFilter` that `Query::filter` takes.

use std::collections::BTreeMap;

use baas_schema::SourceFile;
use baas_schema::check::{Context, TExpr, TOperand, TValue, Ty, check_expr};
use baas_schema::ir::Schema;
use proc_macro::{Delimiter, Group, Ident, Literal, Punct, Spacing, Span, TokenStream, TokenTree};

/// `checked_filter!(schema_file = "src/generated/schema.json", collection = "posts", "<filter>",
/// name = value, …)`, or `schema_json = "<the schema IR>"` instead of `schema_file` (a path
/// relative to the crate's manifest). What generated code's `filter!` expands to.
#[proc_macro]
pub fn checked_filter(input: TokenStream) -> TokenStream {
    expand(input).unwrap_or_else(|(span, message)| compile_error(span, &message))
}

type Failure = (Span, String);

fn expand(input: TokenStream) -> Result<TokenStream, Failure> {
    let mut args = split_commas(input).into_iter().filter(|a| !a.is_empty());
    let schema = schema(&mut args)?;
    let collection = named(args.next(), "collection")?.0;
    let coll = schema
        .collection(&collection)
        .ok_or_else(|| (Span::call_site(), format!("the schema has no collection `{collection}`")))?;
    let filter =
        args.next().ok_or_else(|| (Span::call_site(), "filter! takes the filter as its first argument".into()))?;
    let (text, span) = match filter.as_slice() {
        [tt] => (string(tt).ok_or_else(|| (tt.span(), "the filter is a string literal".to_owned()))?, tt.span()),
        other => return Err((other[0].span(), "the filter is a string literal".into())),
    };
    let mut diags = baas_schema::Diagnostics::new();
    let Some(checked) = check_expr(&Context::filter(&schema, coll), &text, &mut diags) else {
        let file = SourceFile::new(format!("{collection}::filter!"), text.clone());
        return Err((span, format!("this filter of `{collection}` does not check:\n{}", diags.render(&file))));
    };
    let mut wanted = BTreeMap::new();
    placeholders(&checked, &mut wanted).map_err(|message| (span, message))?;
    let mut binds = Vec::new();
    for arg in args {
        let (name, name_span, value) = binding(arg)?;
        let Some(ty) = wanted.remove(&name) else {
            return Err((name_span, format!("the filter has no placeholder `{{:{name}}}`")));
        };
        binds.push((name, ty, value));
    }
    if let Some(name) = wanted.keys().next() {
        return Err((span, format!("`{{:{name}}}` has no value: add `{name} = …` after the filter")));
    }
    Ok(construct(&collection, &text, binds))
}

/// The schema the first argument names: a file relative to the crate, or the IR itself.
fn schema(args: &mut impl Iterator<Item = Vec<TokenTree>>) -> Result<Schema, Failure> {
    let first = args.next();
    let span = first.as_ref().and_then(|a| a.first()).map_or(Span::call_site(), TokenTree::span);
    let json = match first.as_deref() {
        Some([TokenTree::Ident(key), _, value]) if key.to_string() == "schema_json" => {
            string(value).ok_or_else(|| (span, "schema_json is a string literal".to_owned()))?
        }
        Some([TokenTree::Ident(key), _, value]) if key.to_string() == "schema_file" => {
            let path = string(value).ok_or_else(|| (span, "schema_file is a string literal".to_owned()))?;
            let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
            let path = std::path::Path::new(&dir).join(path);
            std::fs::read_to_string(&path)
                .map_err(|e| (span, format!("cannot read the schema {}: {e} (run `baas generate`)", path.display())))?
        }
        _ => return Err((span, "filter! is declared by generated code: use `<collection>::filter!(…)`".into())),
    };
    serde_json::from_str(&json).map_err(|e| (span, format!("the schema does not read: {e} (run `baas generate`)")))
}

/// `key = "value"`: the value.
fn named(arg: Option<Vec<TokenTree>>, key: &str) -> Result<(String, Span), Failure> {
    match arg.as_deref() {
        Some([TokenTree::Ident(k), _, value]) if k.to_string() == key => {
            Ok((string(value).ok_or_else(|| (value.span(), format!("{key} is a string literal")))?, value.span()))
        }
        _ => Err((Span::call_site(), format!("filter! expects `{key} = \"…\"` from generated code"))),
    }
}

/// `name = value`: the name, its span and the value's tokens.
fn binding(arg: Vec<TokenTree>) -> Result<(String, Span, TokenStream), Failure> {
    match arg.as_slice() {
        [TokenTree::Ident(name), TokenTree::Punct(eq), value @ ..] if eq.as_char() == '=' && !value.is_empty() => {
            Ok((name.to_string(), name.span(), value.iter().cloned().collect()))
        }
        other => Err((other[0].span(), "a placeholder's value is `name = value`".into())),
    }
}

/// Every `{:name}` of `expr`, typed by what it is compared with (`Any` where nothing says).
fn placeholders(expr: &TExpr, out: &mut BTreeMap<String, Ty>) -> Result<(), String> {
    match expr {
        TExpr::True => Ok(()),
        TExpr::And(a, b) | TExpr::Or(a, b) => {
            placeholders(a, out)?;
            placeholders(b, out)
        }
        TExpr::Compare(c) => {
            note(&c.lhs, &c.rhs, out)?;
            note(&c.rhs, &c.lhs, out)
        }
    }
}

fn note(side: &TOperand, other: &TOperand, out: &mut BTreeMap<String, Ty>) -> Result<(), String> {
    let TValue::Placeholder(name) = &side.value else { return Ok(()) };
    let ty = if matches!(other.value, TValue::Placeholder(_)) { Ty::Any } else { other.ty };
    match out.get(name) {
        Some(known) if *known != Ty::Any && ty != Ty::Any && *known != ty => {
            Err(format!("`{{:{name}}}` is compared with a {} and with a {}", ty_name(*known), ty_name(ty)))
        }
        Some(known) if *known != Ty::Any => Ok(()),
        _ => {
            out.insert(name.clone(), ty);
            Ok(())
        }
    }
}

fn ty_name(ty: Ty) -> &'static str {
    match ty {
        Ty::Text => "text",
        Ty::Number => "number",
        Ty::Bool => "bool",
        Ty::Date => "date",
        Ty::Any | Ty::Null => "value",
    }
}

/// `::baas_runtime::data::CheckedFilter::new("posts", "…", vec![("me", bind::text(&(id))), …])`.
fn construct(collection: &str, text: &str, binds: Vec<(String, Ty, TokenStream)>) -> TokenStream {
    let mut items = TokenStream::new();
    for (name, ty, value) in binds {
        let bind = match ty {
            Ty::Text => "text",
            Ty::Number => "number",
            Ty::Bool => "boolean",
            Ty::Date => "date",
            Ty::Any | Ty::Null => "any",
        };
        let value = if ty == Ty::Text {
            // by reference: a `String` stays usable after the filter
            let mut r: TokenStream = [TokenTree::Punct(Punct::new('&', Spacing::Alone))].into_iter().collect();
            r.extend([TokenTree::Group(Group::new(Delimiter::Parenthesis, value))]);
            r
        } else {
            value
        };
        let mut call = path(&["baas_runtime", "data", "bind", bind]);
        call.extend([TokenTree::Group(Group::new(Delimiter::Parenthesis, value))]);
        let mut pair: TokenStream = [TokenTree::Literal(Literal::string(&name)), punct(',')].into_iter().collect();
        pair.extend(call);
        items.extend([TokenTree::Group(Group::new(Delimiter::Parenthesis, pair)), punct(',')]);
    }
    let mut args: TokenStream = [
        TokenTree::Literal(Literal::string(collection)),
        punct(','),
        TokenTree::Literal(Literal::string(text)),
        punct(','),
    ]
    .into_iter()
    .collect();
    args.extend(path(&["std", "vec"]));
    args.extend([punct('!'), TokenTree::Group(Group::new(Delimiter::Bracket, items))]);
    let mut out = path(&["baas_runtime", "data", "CheckedFilter", "new"]);
    out.extend([TokenTree::Group(Group::new(Delimiter::Parenthesis, args))]);
    out
}

/// `::a::b::c`.
fn path(segments: &[&str]) -> TokenStream {
    let mut out = TokenStream::new();
    for segment in segments {
        out.extend([
            TokenTree::Punct(Punct::new(':', Spacing::Joint)),
            TokenTree::Punct(Punct::new(':', Spacing::Alone)),
            TokenTree::Ident(Ident::new(segment, Span::call_site())),
        ]);
    }
    out
}

fn punct(c: char) -> TokenTree {
    TokenTree::Punct(Punct::new(c, Spacing::Alone))
}

/// The value of a string literal (plain or raw), `None` for any other token.
fn string(tt: &TokenTree) -> Option<String> {
    // a literal forwarded by `macro_rules!` arrives wrapped in an invisible group
    if let TokenTree::Group(g) = tt {
        let mut inner = g.stream().into_iter();
        return match (inner.next(), inner.next()) {
            (Some(only), None) if g.delimiter() == Delimiter::None => string(&only),
            _ => None,
        };
    }
    litrs::StringLit::try_from(tt.clone()).ok().map(|s| s.value().to_owned())
}

/// The input split at its top-level commas.
fn split_commas(input: TokenStream) -> Vec<Vec<TokenTree>> {
    let mut out = vec![Vec::new()];
    for tt in input {
        match &tt {
            TokenTree::Punct(p) if p.as_char() == ',' => out.push(Vec::new()),
            _ => out.last_mut().expect("never empty").push(tt),
        }
    }
    out
}

/// `compile_error!("…")` at `span`.
fn compile_error(span: Span, message: &str) -> TokenStream {
    let mut lit = Literal::string(message);
    lit.set_span(span);
    let mut group = Group::new(Delimiter::Parenthesis, [TokenTree::Literal(lit)].into_iter().collect());
    group.set_span(span);
    let mut bang = Punct::new('!', Spacing::Alone);
    bang.set_span(span);
    [TokenTree::Ident(Ident::new("compile_error", span)), TokenTree::Punct(bang), TokenTree::Group(group)]
        .into_iter()
        .collect()
}
