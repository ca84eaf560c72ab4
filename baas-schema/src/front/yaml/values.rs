//! The shapes a schema is made of, each read with its own message when it is something
//! else: mappings whose keys are checked against the keys allowed there, lists, names,
//! strings, booleans and numbers.

use super::Loader;
use super::node::{Node, NodeKind, Plain};
use crate::diag::{Diagnostic, did_you_mean};
use crate::source::Span;

impl Loader<'_> {
    /// The entries of `node` with known keys; unknown and repeated keys are reported.
    pub(super) fn keys<'n>(
        &mut self,
        entries: &'n [(Node, Node)],
        known: &[&'static str],
        place: &str,
    ) -> Vec<(&'static str, &'n Node)> {
        let mut out: Vec<(&'static str, &'n Node)> = Vec::new();
        for (key, value) in entries {
            let Some(text) = key.scalar_text() else { continue };
            match known.iter().find(|&&k| k == text) {
                Some(&k) if out.iter().any(|(seen, _)| *seen == k) => {
                    self.diags.push(Diagnostic::error(key.span, format!("'{k}' is given twice {place}")));
                }
                Some(&k) => out.push((k, value)),
                None => {
                    let mut d = Diagnostic::error(key.span, format!("unknown key '{text}' {place}"));
                    d.help = did_you_mean(text, known.iter().copied())
                        .or_else(|| Some(format!("expected one of: {}", known.join(", "))));
                    self.diags.push(d);
                }
            }
        }
        out
    }

    pub(super) fn unknown(&self, span: Span, what: &str, found: &str, expected: &[&str]) -> Diagnostic {
        let d = Diagnostic::error(span, format!("unknown {what} '{found}'"));
        match did_you_mean(found, expected.iter().copied()) {
            Some(help) => d.with_help(help),
            None => d.with_help(format!("expected one of: {}", expected.join(", "))),
        }
    }

    pub(super) fn map<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n [(Node, Node)]> {
        match &node.kind {
            NodeKind::Map(entries) => Some(entries),
            _ if node.plain() == Some(Plain::Null) => Some(&[]),
            _ => {
                self.diags.push(Diagnostic::error(
                    node.span,
                    format!("expected a mapping for {what}, found {}", node.describe()),
                ));
                None
            }
        }
    }

    pub(super) fn seq<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n [Node]> {
        match &node.kind {
            NodeKind::Seq(items) => Some(items),
            _ => {
                self.diags.push(Diagnostic::error(
                    node.span,
                    format!("expected a list for {what}, found {}", node.describe()),
                ));
                None
            }
        }
    }

    pub(super) fn name<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n str> {
        let name = node.scalar_text()?;
        let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            self.diags.push(
                Diagnostic::error(node.span, format!("invalid {what} name '{name}'"))
                    .with_help("names start with a letter or '_' and contain only letters, digits and '_'"),
            );
            return None;
        }
        Some(name)
    }

    pub(super) fn string<'n>(&mut self, node: &'n Node, key: &str) -> Option<&'n str> {
        match node.plain() {
            Some(Plain::Str(s)) => Some(s),
            _ => {
                self.diags.push(Diagnostic::error(
                    node.span,
                    format!("expected a string for '{key}', found {}", node.describe()),
                ));
                None
            }
        }
    }

    pub(super) fn strings(&mut self, node: &Node, key: &str) -> Vec<String> {
        let Some(items) = self.seq(node, &format!("'{key}'")) else { return Vec::new() };
        items
            .iter()
            .filter_map(|item| match (&item.kind, item.plain()) {
                (
                    NodeKind::Scalar { value, .. },
                    Some(Plain::Str(_) | Plain::Int(_) | Plain::Float(_) | Plain::Bool(_)),
                ) => Some(value.clone()),
                _ => {
                    self.diags.push(Diagnostic::error(
                        item.span,
                        format!("expected a string in '{key}', found {}", item.describe()),
                    ));
                    None
                }
            })
            .collect()
    }

    pub(super) fn bool(&mut self, node: &Node, key: &str) -> Option<bool> {
        match node.plain() {
            Some(Plain::Bool(b)) => Some(b),
            _ => {
                self.diags.push(
                    Diagnostic::error(
                        node.span,
                        format!("expected true or false for '{key}', found {}", node.describe()),
                    )
                    .with_help("write `true` or `false` without quotes"),
                );
                None
            }
        }
    }

    pub(super) fn uint(&mut self, node: &Node, key: &str) -> Option<u64> {
        match node.plain() {
            Some(Plain::Int(i)) if i >= 0 && i <= i64::from(u32::MAX) => Some(i as u64),
            _ => {
                self.diags.push(Diagnostic::error(
                    node.span,
                    format!("expected a whole number of at least 0 for '{key}', found {}", node.describe()),
                ));
                None
            }
        }
    }

    pub(super) fn number(&mut self, node: &Node, key: &str) -> Option<f64> {
        match node.plain() {
            Some(Plain::Int(i)) => Some(i as f64),
            Some(Plain::Float(f)) if f.is_finite() => Some(f),
            _ => {
                self.diags.push(Diagnostic::error(
                    node.span,
                    format!("expected a number for '{key}', found {}", node.describe()),
                ));
                None
            }
        }
    }
}
