//! Diagnostics: every problem has a place, a message and, where one helps, a next step.
//!
//! Front ends and the checker push into a [`Diagnostics`] collector and keep going, so one
//! run reports every mistake of a file. Rendering is the same for the CLI and build scripts:
//!
//! ```text
//! schemas/blog.yaml:14:35: error: unknown field 'autor' in collection 'posts'
//!    |
//! 14 |       list:   "published = true || autor = @request.auth.id"
//!    |                                   ^^^^^
//!    = help: did you mean 'author'?
//! ```

use std::fmt::Write as _;

use serde::Serialize;

use crate::source::{SourceFile, Span};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// One problem found in a schema.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub message: String,
    /// Where in the source file; `None` for problems of the file as a whole.
    pub span: Option<Span>,
    pub help: Option<String>,
    pub notes: Vec<String>,
}

impl Diagnostic {
    pub fn error(span: impl Into<Option<Span>>, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            span: span.into(),
            help: None,
            notes: Vec::new(),
        }
    }

    pub fn warning(span: impl Into<Option<Span>>, message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Warning, ..Diagnostic::error(span, message) }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Renders this diagnostic the way compilers do: `path:line:col: error: …`, the source
    /// line, a caret under the span, then `help:` and `note:` lines.
    pub fn render(&self, file: &SourceFile) -> String {
        let mut out = String::new();
        let Some(span) = self.span else {
            let _ = writeln!(out, "{}: {}: {}", file.name(), self.severity.as_str(), self.message);
            self.render_trailer(&mut out, 0);
            return out;
        };
        let at = file.line_col(span.start);
        let _ = writeln!(out, "{}:{}:{}: {}: {}", file.name(), at.line, at.col, self.severity.as_str(), self.message);
        let gutter = at.line.to_string().len();
        let line = file.line_text(at.line);
        let pad = " ".repeat(gutter);
        let _ = writeln!(out, "{pad} |");
        let _ = writeln!(out, "{} | {}", at.line, line);
        // Caret width: the span's characters on this line, at least one.
        let line_end_char = line.chars().count() + 1;
        let end_col = if span.is_empty() {
            at.col + 1
        } else {
            let end = file.line_col(span.end);
            if end.line == at.line { end.col.max(at.col + 1) } else { line_end_char.max(at.col + 1) }
        };
        let lead: String = line.chars().take(at.col - 1).map(|c| if c == '\t' { '\t' } else { ' ' }).collect();
        let _ = writeln!(out, "{pad} | {lead}{}", "^".repeat(end_col - at.col));
        self.render_trailer(&mut out, gutter);
        out
    }

    fn render_trailer(&self, out: &mut String, gutter: usize) {
        let pad = " ".repeat(gutter);
        if let Some(help) = &self.help {
            let _ = writeln!(out, "{pad} = help: {help}");
        }
        for note in &self.notes {
            let _ = writeln!(out, "{pad} = note: {note}");
        }
    }

    /// The machine-readable form used by `baas check --format json`.
    pub fn to_json(&self, file: &SourceFile) -> JsonDiagnostic {
        let (start, end) = match self.span {
            Some(span) => (Some(file.line_col(span.start)), Some(file.line_col(span.end))),
            None => (None, None),
        };
        JsonDiagnostic {
            file: file.name().to_owned(),
            severity: self.severity,
            message: self.message.clone(),
            line: start.map(|p| p.line),
            column: start.map(|p| p.col),
            end_line: end.map(|p| p.line),
            end_column: end.map(|p| p.col),
            help: self.help.clone(),
            notes: self.notes.clone(),
        }
    }
}

/// A diagnostic with resolved positions, for editors and tools.
#[derive(Clone, Debug, Serialize)]
pub struct JsonDiagnostic {
    pub file: String,
    pub severity: Severity,
    pub message: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub end_line: Option<usize>,
    pub end_column: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// Collects diagnostics so that a run reports every problem, not the first.
#[derive(Clone, Debug, Default)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.items.push(diagnostic);
    }

    pub fn error(&mut self, span: impl Into<Option<Span>>, message: impl Into<String>) {
        self.push(Diagnostic::error(span, message));
    }

    pub fn has_errors(&self) -> bool {
        self.items.iter().any(Diagnostic::is_error)
    }

    pub fn error_count(&self) -> usize {
        self.items.iter().filter(|d| d.is_error()).count()
    }

    pub fn warning_count(&self) -> usize {
        self.items.len() - self.error_count()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter()
    }

    pub fn extend(&mut self, other: impl IntoIterator<Item = Diagnostic>) {
        self.items.extend(other);
    }

    /// The diagnostics in source order (then by severity, errors first), as reported.
    pub fn into_sorted(mut self) -> Vec<Diagnostic> {
        self.items.sort_by(|a, b| {
            let key = |d: &Diagnostic| d.span.map(|s| (s.start, s.end));
            key(a).cmp(&key(b)).then(b.severity.cmp(&a.severity))
        });
        self.items.dedup();
        self.items
    }

    /// Every diagnostic rendered, in source order.
    pub fn render(&self, file: &SourceFile) -> String {
        self.clone().into_sorted().iter().map(|d| d.render(file)).collect::<Vec<_>>().join("\n")
    }
}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;

    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

/// `did you mean 'x'?` for the closest of `candidates`, when one is close enough.
pub fn did_you_mean<'a>(wrong: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let best = candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(&wrong.to_lowercase(), &c.to_lowercase()), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))?;
    Some(format!("did you mean '{}'?", best.1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_position_source_line_caret_and_help() {
        let file = SourceFile::new("blog.yaml", "a: 1\nlist: \"autor = 1\"\n");
        let d = Diagnostic::error(Span::new(12, 17), "unknown field 'autor'").with_help("did you mean 'author'?");
        assert_eq!(
            d.render(&file),
            "blog.yaml:2:8: error: unknown field 'autor'\n  |\n2 | list: \"autor = 1\"\n  |        ^^^^^\n  = help: did you mean 'author'?\n"
        );
    }

    #[test]
    fn suggests_only_close_names() {
        assert_eq!(did_you_mean("autor", ["author", "title"]).as_deref(), Some("did you mean 'author'?"));
        assert_eq!(did_you_mean("zzz", ["author", "title"]), None);
    }
}
