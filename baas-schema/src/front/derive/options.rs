//! The attribute syntax the front end reads: `#[schema(…)]`, `#[collection(…)]` and
//! `#[field(…)]` hold options written `key`, `key = value` or `key(…)`. Options are read one by
//! one, each unknown or repeated one reported, and the reading goes on after a mistake.

use std::collections::BTreeSet;

use proc_macro2::TokenStream;
use syn::Ident;
use syn::parse::Parser;
use syn::spanned::Spanned;

use super::Loader;
use crate::diag::{Diagnostic, did_you_mean};
use crate::source::Span;

/// One `key = value` or `key` or `key(…)` of an attribute, with its place.
pub(super) struct Opt<'a, 'm> {
    pub(super) key: String,
    pub(super) span: Span,
    pub(super) meta: &'a syn::meta::ParseNestedMeta<'m>,
}

impl Loader<'_> {
    pub(super) fn unknown(&mut self, span: Span, what: &str, found: &str, expected: &[&str]) {
        let mut d = Diagnostic::error(span, format!("unknown {what} '{found}'"));
        d.help = did_you_mean(found, expected.iter().copied())
            .or_else(|| Some(format!("expected one of: {}", expected.join(", "))));
        self.diags.push(d);
    }

    /// Runs `each` over the options of an attribute list, reporting syntax errors and options
    /// given twice.
    pub(super) fn options(
        &mut self,
        tokens: TokenStream,
        what: &str,
        mut each: impl FnMut(&mut Self, Opt<'_, '_>) -> syn::Result<()>,
    ) {
        let mut seen = BTreeSet::new();
        let parser = syn::meta::parser(|meta| {
            let key = meta.path.get_ident().map(Ident::to_string).unwrap_or_else(|| path_text(&meta.path));
            let span = self.places.token(&meta.path, key.clone());
            if !seen.insert(key.clone()) && key != "index" && key != "unique_index" {
                self.diags.push(Diagnostic::error(span, format!("'{key}' is given twice in {what}")));
            }
            each(self, Opt { key, span, meta: &meta })
        });
        if let Err(e) = parser.parse2(tokens) {
            let span = self.places.token(&e.span(), "?");
            self.diags.push(Diagnostic::error(span, format!("{e} in {what}")));
        }
    }
}

pub(super) fn path_text(path: &syn::Path) -> String {
    path.segments.iter().map(|s| s.ident.to_string()).collect::<Vec<_>>().join("::")
}

/// `key = ["a", "b"]`.
pub(super) fn strings(meta: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<Vec<String>> {
    let list = meta.value()?.parse::<syn::ExprArray>()?;
    list.elems
        .into_iter()
        .map(|item| match item {
            syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(s), .. }) => Ok(s.value()),
            other => Err(syn::Error::new(other.span(), "expected a string")),
        })
        .collect()
}

/// `key` (true) or `key = true|false`.
pub(super) fn flag(meta: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<bool> {
    if meta.input.peek(syn::Token![=]) { Ok(meta.value()?.parse::<syn::LitBool>()?.value) } else { Ok(true) }
}

pub(super) fn int(meta: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<u64> {
    meta.value()?.parse::<syn::LitInt>()?.base10_parse()
}

pub(super) fn number(meta: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<f64> {
    let value = meta.value()?;
    let negative = value.peek(syn::Token![-]);
    if negative {
        value.parse::<syn::Token![-]>()?;
    }
    let n = match value.parse::<syn::Lit>()? {
        syn::Lit::Int(i) => i.base10_parse::<f64>()?,
        syn::Lit::Float(f) => f.base10_parse::<f64>()?,
        other => return Err(syn::Error::new(other.span(), "expected a number")),
    };
    Ok(if negative { -n } else { n })
}

/// Consumes whatever follows an unknown key, so parsing goes on with the next option.
pub(super) fn skip_value(meta: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(syn::Token![=]) {
        meta.value()?.parse::<syn::Expr>()?;
    } else if meta.input.peek(syn::token::Paren) {
        let content;
        syn::parenthesized!(content in meta.input);
        content.parse::<TokenStream>()?;
    }
    Ok(())
}
