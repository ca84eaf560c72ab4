//! The virtual source of a schema module: every token the IR points at, its text on a line
//! of its own, so that diagnostics can carry byte spans like those of a YAML file and be
//! mapped back to the token (in a macro) or to the file (when a `.rs` file is read).

use proc_macro2::Span as TokenSpan;
use syn::LitStr;
use syn::spanned::Spanned;

use crate::diag::Diagnostic;
use crate::front::align;
use crate::ir::Origin;
use crate::source::{LineCol, SourceFile, Span};

/// A token the IR points at: its range in the virtual source, and where it really is.
#[derive(Clone, Debug)]
pub struct Place {
    pub range: Span,
    pub token: TokenSpan,
    /// The token's source text (a string literal with its quotes).
    pub text: String,
}

/// The virtual source: every remembered token's text on a line of its own.
#[derive(Clone, Debug, Default)]
pub struct Places {
    places: Vec<Place>,
    text: String,
}

impl Places {
    pub(super) fn add(&mut self, token: TokenSpan, text: String) -> Span {
        let start = self.text.len();
        self.text.push_str(&text);
        self.text.push('\n');
        let range = Span::new(start, start + text.len());
        self.places.push(Place { range, token, text });
        range
    }

    /// A name (an identifier, a path).
    pub(super) fn token(&mut self, spanned: &impl Spanned, text: impl Into<String>) -> Span {
        self.add(spanned.span(), text.into())
    }

    /// A string literal: its range covers the literal with its quotes; the origin maps offsets
    /// in its value to the virtual source.
    pub(super) fn literal(&mut self, lit: &LitStr) -> (Span, Origin) {
        let raw = lit.token().to_string();
        let range = self.add(lit.span(), raw.clone());
        let value = lit.value();
        // `"…"`, `r"…"`, `r#"…"#`: the value starts after the first quote.
        let open = raw.find('"').map_or(0, |i| i + 1);
        let origin =
            align(&value, &raw[open..], range.start + open).unwrap_or_else(|| Origin::verbatim(range.start + open));
        (range, origin)
    }

    /// The place a virtual span falls in.
    pub fn find(&self, span: Span) -> Option<&Place> {
        let i = self.places.partition_point(|p| p.range.start <= span.start);
        self.places[..i].last().filter(|p| span.start <= p.range.end)
    }

    /// The virtual source, for rendering excerpts of literals.
    pub fn virtual_text(&self) -> &str {
        &self.text
    }

    /// Moves a diagnostic's span from the virtual source to the real file the tokens were
    /// parsed from (needs `proc_macro2`'s span locations, as outside a macro).
    pub fn to_file(&self, diagnostic: &Diagnostic, file: &SourceFile) -> Diagnostic {
        let mut moved = diagnostic.clone();
        moved.span = diagnostic.span.and_then(|span| {
            let place = self.find(span)?;
            let at = place.token.start();
            let start = file.offset(LineCol { line: at.line, col: at.column + 1 });
            let within = span.start - place.range.start;
            Some(Span::new(start + within, start + within + span.len()))
        });
        moved
    }
}
