//! One field of a collection: its type, the options every field takes, the options of its
//! type (bounds, patterns, select values, file sizes and thumbnails, autodate triggers), and
//! the mistakes a field can hold (a reserved name, an option of another type, min above max).

use std::collections::BTreeSet;

use super::node::{Node, NodeKind, Plain};
use super::{COMMON_FIELD_KEYS, FIELD_TYPES, Loader};
use crate::diag::{Diagnostic, did_you_mean};
use crate::front::parse_size;
use crate::ir::{Collection, Field, FieldType, system};
use crate::source::Span;

impl Loader<'_> {
    pub(super) fn fields(&mut self, node: &Node, collection: &Collection) -> Vec<Field> {
        let Some(entries) = self.map(node, "'fields'") else { return Vec::new() };
        let reserved = system::reserved(collection.is_auth());
        let mut out: Vec<Field> = Vec::new();
        for (key, value) in entries {
            let Some(name) = self.name(key, "field") else { continue };
            if reserved.contains(&name) && !collection.is_view() {
                let what = if collection.is_auth() { "auth collections" } else { "every collection" };
                self.diags.push(
                    Diagnostic::error(key.span, format!("'{name}' is a system field of {what}; it cannot be declared"))
                        .with_help(format!("remove it, or give the field another name; '{name}' is always there")),
                );
                continue;
            }
            if out.iter().any(|f| f.name == name) {
                self.diags.push(Diagnostic::error(key.span, format!("duplicate field '{name}'")));
                continue;
            }
            if let Some(field) = self.field(name, key.span, value, collection) {
                out.push(field);
            }
        }
        out
    }

    fn field(&mut self, name: &str, name_span: Span, node: &Node, collection: &Collection) -> Option<Field> {
        // `title: text` is short for `title: { type: text }`.
        let (ty_node, entries): (&Node, Vec<(&str, &Node)>) = match &node.kind {
            NodeKind::Scalar { .. } => (node, Vec::new()),
            NodeKind::Map(entries) => {
                let Some((_, ty)) = entries.iter().find(|(k, _)| k.scalar_text() == Some("type")) else {
                    self.diags.push(
                        Diagnostic::error(name_span, format!("field '{name}' has no 'type'"))
                            .with_help(format!("add `type: ` with one of: {}", FIELD_TYPES.join(", "))),
                    );
                    return None;
                };
                (ty, entries.iter().map(|(k, v)| (k.scalar_text().unwrap_or(""), v)).collect::<Vec<_>>())
            }
            NodeKind::Seq(_) => {
                self.diags.push(
                    Diagnostic::error(node.span, format!("expected a field definition for '{name}', found a list"))
                        .with_help(format!("write `{name}: {{ type: text }}`")),
                );
                return None;
            }
        };
        let ty_name = self.string(ty_node, "type")?;
        let Some(&ty_name) = FIELD_TYPES.iter().find(|&&t| t == ty_name) else {
            self.diags.push(self.unknown(ty_node.span, "field type", ty_name, FIELD_TYPES));
            return None;
        };
        if ty_name == "password" && !collection.is_auth() {
            self.diags.push(
                Diagnostic::error(ty_node.span, "password fields belong to auth collections")
                    .with_help("auth collections have a `password` field already; add `type: auth` to the collection"),
            );
        }
        let options: &[&str] = match ty_name {
            "text" => &["min", "max", "pattern"],
            "number" => &["min", "max", "integer"],
            "select" => &["values", "multiple"],
            "relation" => &["collection", "multiple", "cascade_delete"],
            "file" => &["max_size", "mime", "multiple", "protected", "thumbs"],
            "autodate" => &["on_create", "on_update"],
            _ => &[],
        };
        let mut field = Field::new(name, FieldType::Bool);
        field.span = name_span;
        let mut opts: Vec<(&str, &Node)> = Vec::new();
        let mut seen = BTreeSet::new();
        for (key, value) in entries {
            let key_node_span = value.span;
            if !seen.insert(key) {
                self.diags.push(Diagnostic::error(key_node_span, format!("'{key}' is given twice")));
                continue;
            }
            match key {
                "type" => {}
                "required" => field.required = self.bool(value, key).unwrap_or(false),
                "unique" => field.unique = self.bool(value, key).unwrap_or(false),
                "hidden" => field.hidden = self.bool(value, key).unwrap_or(false),
                "renamed_from" => field.renamed_from = self.string(value, key).map(str::to_owned),
                k if options.contains(&k) => opts.push((k, value)),
                k => {
                    let all: Vec<&str> = COMMON_FIELD_KEYS.iter().chain(options).copied().collect();
                    let key_span = key_span_of(node, k).unwrap_or(value.span);
                    let mut d = Diagnostic::error(key_span, format!("unknown option '{k}' for a {ty_name} field"));
                    d.help = did_you_mean(k, all.iter().copied())
                        .or_else(|| Some(format!("{ty_name} fields take: {}", all.join(", "))));
                    self.diags.push(d);
                }
            }
        }
        let opt = |k: &str| opts.iter().find(|(n, _)| *n == k).map(|(_, v)| *v);
        field.ty = match ty_name {
            "text" => {
                let min = opt("min").and_then(|n| self.uint(n, "min")).map(|n| n as u32);
                let max = opt("max").and_then(|n| self.uint(n, "max")).map(|n| n as u32);
                if let (Some(lo), Some(hi), Some(n)) = (min, max, opt("max"))
                    && lo > hi
                {
                    self.diags.push(Diagnostic::error(n.span, format!("'max' ({hi}) is less than 'min' ({lo})")));
                }
                let pattern = opt("pattern").and_then(|n| self.pattern(n));
                FieldType::Text { min, max, pattern }
            }
            "number" => {
                let min = opt("min").and_then(|n| self.number(n, "min"));
                let max = opt("max").and_then(|n| self.number(n, "max"));
                if let (Some(lo), Some(hi), Some(n)) = (min, max, opt("max"))
                    && lo > hi
                {
                    self.diags.push(Diagnostic::error(n.span, format!("'max' ({hi}) is less than 'min' ({lo})")));
                }
                FieldType::Number {
                    min,
                    max,
                    integer: opt("integer").and_then(|n| self.bool(n, "integer")).unwrap_or(false),
                }
            }
            "bool" => FieldType::Bool,
            "email" => FieldType::Email,
            "url" => FieldType::Url,
            "date" => FieldType::Date,
            "json" => FieldType::Json,
            "password" => FieldType::Password,
            "select" => {
                let values = match opt("values") {
                    Some(n) => self.select_values(n),
                    None => {
                        self.diags.push(
                            Diagnostic::error(name_span, format!("select field '{name}' needs 'values'"))
                                .with_help("add `values: [a, b, c]`"),
                        );
                        Vec::new()
                    }
                };
                FieldType::Select {
                    values,
                    multiple: opt("multiple").and_then(|n| self.bool(n, "multiple")).unwrap_or(false),
                }
            }
            "relation" => {
                let target = match opt("collection") {
                    Some(n) => self.string(n, "collection").map(str::to_owned).unwrap_or_default(),
                    None => {
                        self.diags.push(
                            Diagnostic::error(
                                name_span,
                                format!("relation field '{name}' needs a target 'collection'"),
                            )
                            .with_help("add `collection: <name of the related collection>`"),
                        );
                        String::new()
                    }
                };
                FieldType::Relation {
                    collection: target,
                    multiple: opt("multiple").and_then(|n| self.bool(n, "multiple")).unwrap_or(false),
                    cascade_delete: opt("cascade_delete").and_then(|n| self.bool(n, "cascade_delete")).unwrap_or(false),
                }
            }
            "file" => FieldType::File {
                max_size: opt("max_size").and_then(|n| self.size(n)),
                mime: opt("mime").map(|n| self.strings(n, "mime")).unwrap_or_default(),
                multiple: opt("multiple").and_then(|n| self.bool(n, "multiple")).unwrap_or(false),
                protected: opt("protected").and_then(|n| self.bool(n, "protected")).unwrap_or(false),
                thumbs: opt("thumbs").map(|n| self.thumbs(n)).unwrap_or_default(),
            },
            "autodate" => {
                let on_create = opt("on_create").and_then(|n| self.bool(n, "on_create")).unwrap_or(true);
                let on_update = opt("on_update").and_then(|n| self.bool(n, "on_update")).unwrap_or(false);
                if !on_create && !on_update {
                    self.diags.push(
                        Diagnostic::error(
                            name_span,
                            format!("autodate field '{name}' is set neither on create nor on update"),
                        )
                        .with_help("set `on_create: true`, `on_update: true` or both"),
                    );
                }
                FieldType::Autodate { on_create, on_update }
            }
            _ => unreachable!("FIELD_TYPES is matched exhaustively"),
        };
        Some(field)
    }

    fn select_values(&mut self, node: &Node) -> Vec<String> {
        let values = self.strings(node, "values");
        let mut seen = BTreeSet::new();
        for v in &values {
            if !seen.insert(v.as_str()) {
                self.diags.push(Diagnostic::error(node.span, format!("select value '{v}' is listed twice")));
            }
        }
        if values.is_empty() && matches!(node.kind, NodeKind::Seq(_)) {
            self.diags.push(Diagnostic::error(node.span, "a select field needs at least one value"));
        }
        values
    }

    /// Thumbnail sizes as PocketBase spells them: `WxH` (crop from the center), `WxHt` (from the
    /// top), `WxHb` (from the bottom), `WxHf` (fit inside), `0xH` and `Wx0` (keep proportions).
    fn thumbs(&mut self, node: &Node) -> Vec<String> {
        let Some(items) = self.seq(node, "'thumbs'") else { return Vec::new() };
        let mut sizes = Vec::new();
        for item in items {
            match item.scalar_text() {
                Some(size) if is_thumb_size(size) => sizes.push(size.to_owned()),
                text => {
                    let what = text.map_or_else(|| item.describe().to_owned(), |t| format!("'{t}'"));
                    self.diags.push(
                        Diagnostic::error(item.span, format!("invalid thumbnail size {what}"))
                            .with_help("write `WxH` (e.g. `100x100`), `WxHt`, `WxHb`, `WxHf`, `0xH` or `Wx0`"),
                    );
                }
            }
        }
        sizes
    }

    fn pattern(&mut self, node: &Node) -> Option<String> {
        let pattern = self.string(node, "pattern")?;
        if let Err(e) = regex::Regex::new(pattern) {
            // regex's message ends with a line `error: <what is wrong>`
            let last = e.to_string().lines().last().unwrap_or_default().trim().to_owned();
            let first = last.strip_prefix("error:").map_or(last.as_str(), str::trim).to_owned();
            self.diags.push(Diagnostic::error(node.span, format!("invalid pattern: {first}")));
            return None;
        }
        Some(pattern.to_owned())
    }

    /// `1048576`, `512KB`, `1MiB`, `2 MB`.
    fn size(&mut self, node: &Node) -> Option<u64> {
        let parsed = match node.plain() {
            Some(Plain::Int(i)) if i > 0 => Some(i as u64),
            Some(Plain::Str(s)) => parse_size(s),
            _ => None,
        };
        if parsed.is_none() {
            self.diags.push(
                Diagnostic::error(node.span, format!("expected a size for 'max_size', found {}", node.describe()))
                    .with_help("write bytes (`1048576`) or a size with a unit: `500KB`, `1MiB`, `2MB`"),
            );
        }
        parsed
    }
}

/// The span of the key `key` in the mapping `node`.
fn key_span_of(node: &Node, key: &str) -> Option<Span> {
    match &node.kind {
        NodeKind::Map(entries) => entries.iter().find(|(k, _)| k.scalar_text() == Some(key)).map(|(k, _)| k.span),
        _ => None,
    }
}

/// Whether `s` is a thumbnail size: `WxH` with an optional `t`, `b` or `f`, or `0xH`/`Wx0`.
fn is_thumb_size(s: &str) -> bool {
    let (size, suffixed) = match s.strip_suffix(['t', 'b', 'f']) {
        Some(size) => (size, true),
        None => (s, false),
    };
    let Some((w, h)) = size.split_once('x') else { return false };
    let number = |n: &str| !n.is_empty() && n.len() <= 5 && n.bytes().all(|b| b.is_ascii_digit());
    if !number(w) || !number(h) {
        return false;
    }
    let zero = |n: &str| n.bytes().all(|b| b == b'0');
    match (zero(w), zero(h)) {
        (true, true) => false,
        (false, false) => true,
        _ => !suffixed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::front::yaml::load;

    #[test]
    fn thumb_sizes() {
        for ok in ["100x100", "100x50t", "100x50b", "40x40f", "0x50", "50x0"] {
            assert!(is_thumb_size(ok), "{ok}");
        }
        for bad in ["", "100", "0x0", "0x50f", "50x0t", "ax1", "100x100z", "1 x1", "-1x1", "123456x1"] {
            assert!(!is_thumb_size(bad), "{bad}");
        }
    }

    #[test]
    fn thumbs_are_read_and_checked() {
        let text = "collections:\n  p:\n    fields:\n      f: { type: file, thumbs: [100x100, 0x50, big] }\n";
        let file = crate::SourceFile::new("t.yaml", text);
        let mut diags = crate::Diagnostics::new();
        let schema = load(&file, &mut diags);
        let rendered = diags.render(&file);
        assert!(rendered.contains("t.yaml:4:48: error: invalid thumbnail size 'big'"), "{rendered}");
        let text = text.replace(", big", "");
        let file = crate::SourceFile::new("t.yaml", text.as_str());
        let mut diags = crate::Diagnostics::new();
        let schema2 = load(&file, &mut diags).expect("valid");
        assert!(!diags.has_errors());
        let ty = &schema2.collection("p").unwrap().fields.iter().find(|f| f.name == "f").unwrap().ty;
        assert!(matches!(ty, FieldType::File { thumbs, .. } if thumbs == &["100x100", "0x50"]));
        drop(schema);
    }
}
