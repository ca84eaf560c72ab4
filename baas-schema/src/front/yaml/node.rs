//! A YAML document as a tree of nodes that remember where they were written.
//!
//! serde_yaml (archived upstream) hands out values without positions; every diagnostic here
//! needs a line and column, down to a character inside a quoted rule string. So the tree is
//! built from `saphyr-parser`'s spanned event stream (the maintained successor of yaml-rust),
//! and each string scalar carries an [`Origin`] mapping its decoded text back to the file.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle};

use crate::diag::Diagnostic;
use crate::ir::Origin;
use crate::source::{SourceFile, Span};

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub kind: NodeKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum NodeKind {
    /// A scalar as written; `quoted` scalars are always strings (`"true"` is not a bool).
    Scalar {
        value: String,
        quoted: bool,
        origin: Origin,
    },
    Seq(Vec<Node>),
    /// Entries in document order; duplicate keys are kept (the loader reports them).
    Map(Vec<(Node, Node)>),
}

/// What a plain scalar means under YAML 1.2's core schema.
#[derive(Clone, Debug, PartialEq)]
pub enum Plain<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(&'a str),
}

impl Node {
    /// The scalar's value under the core schema; quoted scalars are strings.
    pub fn plain(&self) -> Option<Plain<'_>> {
        let NodeKind::Scalar { value, quoted, .. } = &self.kind else { return None };
        if *quoted {
            return Some(Plain::Str(value));
        }
        Some(match value.as_str() {
            "" | "~" | "null" | "Null" | "NULL" => Plain::Null,
            "true" | "True" | "TRUE" => Plain::Bool(true),
            "false" | "False" | "FALSE" => Plain::Bool(false),
            v => {
                if let Ok(i) = v.parse::<i64>() {
                    Plain::Int(i)
                } else if let Some(f) = v.parse::<f64>().ok().filter(|_| looks_numeric(v)) {
                    Plain::Float(f)
                } else {
                    Plain::Str(v)
                }
            }
        })
    }

    /// A short description of what this node is, for "expected X, found Y" messages.
    pub fn describe(&self) -> &'static str {
        match (&self.kind, self.plain()) {
            (NodeKind::Seq(_), _) => "a list",
            (NodeKind::Map(_), _) => "a mapping",
            (_, Some(Plain::Null)) => "nothing (null)",
            (_, Some(Plain::Bool(_))) => "a boolean",
            (_, Some(Plain::Int(_) | Plain::Float(_))) => "a number",
            _ => "a string",
        }
    }

    /// The document as JSON (core schema), for validating against the JSON Schema.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match &self.kind {
            NodeKind::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            NodeKind::Map(entries) => Value::Object(
                entries.iter().map(|(k, v)| (k.scalar_text().unwrap_or_default().to_owned(), v.to_json())).collect(),
            ),
            NodeKind::Scalar { .. } => match self.plain() {
                Some(Plain::Null) | None => Value::Null,
                Some(Plain::Bool(b)) => Value::Bool(b),
                Some(Plain::Int(i)) => Value::from(i),
                Some(Plain::Float(f)) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
                Some(Plain::Str(s)) => Value::String(s.to_owned()),
            },
        }
    }

    /// The raw text of a scalar, whatever it means.
    pub fn scalar_text(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }
}

fn looks_numeric(v: &str) -> bool {
    let v = v.strip_prefix(['-', '+']).unwrap_or(v);
    v.starts_with(|c: char| c.is_ascii_digit() || c == '.') && !v.ends_with('.')
        || matches!(v, ".inf" | ".Inf" | ".INF" | ".nan" | ".NaN" | ".NAN")
}

/// Parses the first document of `file` into a node tree. An empty file is an empty mapping.
pub fn parse(file: &SourceFile) -> Result<Node, Diagnostic> {
    let text = file.text();
    // saphyr's markers count characters; spans here are bytes.
    let byte_at: Vec<usize> = text.char_indices().map(|(i, _)| i).chain(std::iter::once(text.len())).collect();
    let to_byte = |chars: usize| byte_at.get(chars).copied().unwrap_or(text.len());

    let mut builder = Builder { stack: Vec::new(), anchors: HashMap::new(), root: None };
    let mut parser = Parser::new_from_str(text);
    while let Some(event) = parser.next_event() {
        let (event, span) = event.map_err(|e| {
            let at = to_byte(e.marker().index());
            Diagnostic::error(Span::point(at), format!("invalid YAML: {}", e.info()))
        })?;
        let span = Span::new(to_byte(span.start.index()), to_byte(span.end.index()));
        match event {
            Event::Scalar(value, style, anchor, _tag) => {
                let quoted = !matches!(style, ScalarStyle::Plain);
                let origin = scalar_origin(text, span, style, &value);
                let node = Node { kind: NodeKind::Scalar { value: value.into_owned(), quoted, origin }, span };
                builder.value(node, anchor)?;
            }
            Event::SequenceStart(anchor, _) => builder.stack.push(Open::seq(span, anchor)),
            Event::MappingStart(anchor, _) => builder.stack.push(Open::map(span, anchor)),
            Event::SequenceEnd | Event::MappingEnd => {
                let open = builder.stack.pop().expect("the YAML parser balances start and end events");
                let node = open.close(span);
                builder.value(node, open.anchor)?;
            }
            Event::Alias(id) => {
                let node = builder.anchors.get(&id).cloned().ok_or_else(|| {
                    Diagnostic::error(span, "this alias refers to an anchor that is not defined before it")
                })?;
                builder.value(Node { span, ..node }, 0)?;
            }
            Event::DocumentEnd => break,
            Event::StreamStart | Event::StreamEnd | Event::DocumentStart(_) | Event::Nothing => {}
        }
    }
    Ok(builder.root.unwrap_or(Node { kind: NodeKind::Map(Vec::new()), span: Span::point(0) }))
}

struct Builder {
    stack: Vec<Open>,
    anchors: HashMap<usize, Node>,
    root: Option<Node>,
}

struct Open {
    span: Span,
    anchor: usize,
    items: Vec<Node>,
    is_map: bool,
}

impl Open {
    fn seq(span: Span, anchor: usize) -> Open {
        Open { span, anchor, items: Vec::new(), is_map: false }
    }

    fn map(span: Span, anchor: usize) -> Open {
        Open { is_map: true, ..Open::seq(span, anchor) }
    }

    fn close(&self, end: Span) -> Node {
        // A block collection's start event has an empty span: start at its first item.
        let start = if self.span.is_empty() {
            self.items.first().map_or(self.span.start, |n| n.span.start)
        } else {
            self.span.start
        };
        let last_end = self.items.last().map_or(start, |n| n.span.end);
        let span = Span::new(start, if end.is_empty() { last_end } else { end.end.max(last_end) });
        let kind = if self.is_map {
            let mut items = self.items.clone().into_iter();
            let mut entries = Vec::new();
            while let (Some(k), Some(v)) = (items.next(), items.next()) {
                entries.push((k, v));
            }
            NodeKind::Map(entries)
        } else {
            NodeKind::Seq(self.items.clone())
        };
        Node { kind, span }
    }
}

impl Builder {
    fn value(&mut self, node: Node, anchor: usize) -> Result<(), Diagnostic> {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            Some(open) => {
                if open.is_map && open.items.len() % 2 == 0 && !matches!(node.kind, NodeKind::Scalar { .. }) {
                    return Err(Diagnostic::error(
                        node.span,
                        "mapping keys must be plain names, not lists or mappings",
                    ));
                }
                open.items.push(node);
            }
            None => self.root = Some(node),
        }
        Ok(())
    }
}

/// Maps the decoded text of a scalar back to the file. Quoted scalars are decoded again here,
/// character by character, recording where each decoded character came from; when that
/// re-decoding does not reproduce the parser's value (exotic escapes, folded lines), the map
/// falls back to the scalar's start.
fn scalar_origin(text: &str, span: Span, style: ScalarStyle, value: &str) -> Origin {
    let raw = text.get(span.start..span.end).unwrap_or("");
    let decoded = match style {
        ScalarStyle::Plain if raw == value => return Origin::verbatim(span.start),
        ScalarStyle::DoubleQuoted => decode_double(raw),
        ScalarStyle::SingleQuoted => decode_single(raw),
        _ => None,
    };
    match decoded {
        Some((s, anchors)) if s == value => {
            Origin { anchors: anchors.into_iter().map(|(t, f)| (t, f + span.start)).collect() }
        }
        _ => Origin::verbatim(span.start + usize::from(raw.starts_with(['"', '\'']))),
    }
}

type Decoded = (String, Vec<(usize, usize)>);

fn decode_double(raw: &str) -> Option<Decoded> {
    let body = raw.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::new();
    let mut anchors = Vec::new();
    let mut chars = body.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        anchors.push((out.len(), i + 1));
        if c == '\n' {
            return None; // folded lines: give up on exact positions
        }
        if c != '\\' {
            out.push(c);
            continue;
        }
        let (_, e) = chars.next()?;
        out.push(match e {
            '"' | '\\' | '/' | ' ' => e,
            'n' => '\n',
            't' | '\t' => '\t',
            'r' => '\r',
            '0' => '\0',
            _ => return None,
        });
    }
    Some((out, anchors))
}

fn decode_single(raw: &str) -> Option<Decoded> {
    let body = raw.strip_prefix('\'')?.strip_suffix('\'')?;
    let mut out = String::new();
    let mut anchors = Vec::new();
    let mut chars = body.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        anchors.push((out.len(), i + 1));
        if c == '\n' {
            return None;
        }
        if c == '\'' {
            chars.next_if(|&(_, n)| n == '\'')?;
        }
        out.push(c);
    }
    Some((out, anchors))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar_origin_of(src: &str) -> (String, Origin) {
        let file = SourceFile::new("t.yaml", src);
        let root = parse(&file).unwrap();
        let NodeKind::Map(entries) = root.kind else { panic!("not a map") };
        match &entries[0].1.kind {
            NodeKind::Scalar { value, origin, .. } => (value.clone(), origin.clone()),
            other => panic!("not a scalar: {other:?}"),
        }
    }

    #[test]
    fn origins_point_into_quoted_strings() {
        let src = "k: \"a \\\"q\\\" b\"\n";
        let (value, origin) = scalar_origin_of(src);
        assert_eq!(value, "a \"q\" b");
        let b = value.find('b').unwrap();
        assert_eq!(&src[origin.map(b)..origin.map(b) + 1], "b");
        let src = "k: 'it''s x'\n";
        let (value, origin) = scalar_origin_of(src);
        let x = value.find('x').unwrap();
        assert_eq!(&src[origin.map(x)..origin.map(x) + 1], "x");
        let src = "k: plain = 1\n";
        let (value, origin) = scalar_origin_of(src);
        assert_eq!(&src[origin.map(6)..], "= 1\n");
        assert_eq!(value, "plain = 1");
    }

    #[test]
    fn core_schema_scalars() {
        let file = SourceFile::new("t.yaml", "a: [1, 1.5, true, ~, \"true\", x, 1MiB]");
        let json = parse(&file).unwrap().to_json();
        assert_eq!(json, serde_json::json!({"a": [1, 1.5, true, null, "true", "x", "1MiB"]}));
    }

    #[test]
    fn syntax_errors_have_a_place() {
        let file = SourceFile::new("t.yaml", "a: b\n c: d: e");
        let err = parse(&file).unwrap_err();
        assert!(err.message.starts_with("invalid YAML"), "{}", err.message);
        assert_eq!(file.line_col(err.span.unwrap().start).line, 2);
    }
}
