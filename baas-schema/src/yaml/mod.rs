//! The YAML front end: schema text in, [`Schema`] IR out, every problem reported with its
//! place. It only builds the IR; checking rules against it is [`crate::check`]'s job.

pub mod node;

use std::collections::BTreeSet;

use crate::diag::{Diagnostic, Diagnostics, did_you_mean};
use crate::ir::{
    Action, BatchSettings, Collection, CollectionKind, Field, FieldType, Index, Origin, Rule, Rules, Schema, Settings,
    system,
};
use crate::source::{SourceFile, Span};
use node::{Node, NodeKind, Plain};

/// Reads a schema from YAML. The schema is returned whenever the file had a usable shape,
/// even with errors, so later passes can report more problems in the same run.
pub fn load(file: &SourceFile, diags: &mut Diagnostics) -> Option<Schema> {
    let mut root = match node::parse(file) {
        Ok(root) => root,
        Err(d) => {
            diags.push(d);
            return None;
        }
    };
    trim_spans(&mut root, file.text());
    let mut cx = Loader { file, diags };
    Some(cx.schema(&root))
}

/// The parser's spans of some nodes in flow collections (`{ required: "yes" }`) run on over
/// the blank that follows them; a caret should cover the value only.
fn trim_spans(node: &mut Node, text: &str) {
    if let Some(covered) = text.get(node.span.start..node.span.end) {
        node.span.end = node.span.start + covered.trim_end().len();
    }
    match &mut node.kind {
        NodeKind::Seq(items) => items.iter_mut().for_each(|n| trim_spans(n, text)),
        NodeKind::Map(entries) => entries.iter_mut().for_each(|(k, v)| {
            trim_spans(k, text);
            trim_spans(v, text);
        }),
        NodeKind::Scalar { .. } => {}
    }
}

struct Loader<'d> {
    file: &'d SourceFile,
    diags: &'d mut Diagnostics,
}

const TOP_KEYS: &[&str] = &["settings", "collections"];
const SETTINGS_KEYS: &[&str] = &["batch", "auth_token_duration", "superuser_token_duration"];
const BATCH_KEYS: &[&str] = &["enabled", "max_requests", "timeout"];
const COLLECTION_KEYS: &[&str] = &["type", "id", "fields", "indexes", "rules", "renamed_from", "query", "timestamps"];
const RULE_KEYS: &[&str] = &["list", "view", "create", "update", "delete"];
const INDEX_KEYS: &[&str] = &["fields", "unique"];
const COMMON_FIELD_KEYS: &[&str] = &["type", "required", "unique", "hidden", "renamed_from"];
const FIELD_TYPES: &[&str] =
    &["text", "number", "bool", "email", "url", "date", "select", "relation", "json", "file", "autodate", "password"];

impl Loader<'_> {
    fn schema(&mut self, root: &Node) -> Schema {
        let mut schema = Schema::default();
        let Some(entries) = self.map(root, "the schema") else { return schema };
        let mut seen_collections = false;
        for (key, value) in self.keys(entries, TOP_KEYS, "at the top level of a schema") {
            match key {
                "settings" => schema.settings = self.settings(value),
                "collections" => {
                    seen_collections = true;
                    schema.collections = self.collections(value);
                }
                _ => unreachable!("keys() only yields known keys"),
            }
        }
        if !seen_collections {
            self.diags.push(
                Diagnostic::error(root.span, "a schema needs a 'collections' mapping")
                    .with_help("add `collections:` with at least one collection"),
            );
        }
        schema
    }

    fn settings(&mut self, node: &Node) -> Settings {
        let mut settings = Settings::default();
        let Some(entries) = self.map(node, "'settings'") else { return settings };
        for (key, value) in self.keys(entries, SETTINGS_KEYS, "in 'settings'") {
            match key {
                "batch" => settings.batch = self.batch(value),
                "auth_token_duration" => {
                    settings.auth_token_duration = self.uint(value, key).unwrap_or(settings.auth_token_duration)
                }
                "superuser_token_duration" => {
                    settings.superuser_token_duration =
                        self.uint(value, key).unwrap_or(settings.superuser_token_duration)
                }
                _ => unreachable!(),
            }
        }
        settings
    }

    fn batch(&mut self, node: &Node) -> BatchSettings {
        let mut batch = BatchSettings::default();
        let Some(entries) = self.map(node, "'batch'") else { return batch };
        for (key, value) in self.keys(entries, BATCH_KEYS, "in 'settings.batch'") {
            match key {
                "enabled" => batch.enabled = self.bool(value, key).unwrap_or(false),
                "max_requests" => batch.max_requests = self.uint(value, key).map_or(batch.max_requests, |n| n as u32),
                "timeout" => batch.timeout = self.uint(value, key).map_or(batch.timeout, |n| n as u32),
                _ => unreachable!(),
            }
        }
        batch
    }

    fn collections(&mut self, node: &Node) -> Vec<Collection> {
        let Some(entries) = self.map(node, "'collections'") else { return Vec::new() };
        let mut out: Vec<Collection> = Vec::new();
        for (key, value) in entries {
            let Some(name) = self.name(key, "collection") else { continue };
            if let Some(first) = out.iter().find(|c| c.name == name) {
                let line = self.file.line_col(first.span.start).line;
                self.diags.push(
                    Diagnostic::error(key.span, format!("duplicate collection '{name}'"))
                        .with_note(format!("'{name}' is first defined on line {line}")),
                );
                continue;
            }
            if name.starts_with('_') {
                self.diags.push(
                    Diagnostic::error(key.span, format!("collection name '{name}' starts with '_'"))
                        .with_help("names starting with '_' are reserved for system collections such as _superusers"),
                );
            }
            out.push(self.collection(name, key.span, value));
        }
        if entries.is_empty() {
            self.diags.push(
                Diagnostic::error(node.span, "'collections' is empty").with_help("declare at least one collection"),
            );
        }
        out
    }

    fn collection(&mut self, name: &str, name_span: Span, node: &Node) -> Collection {
        let mut collection = Collection {
            name: name.to_owned(),
            id: Collection::default_id(name),
            kind: CollectionKind::Base,
            fields: Vec::new(),
            indexes: Vec::new(),
            rules: Rules::default(),
            renamed_from: None,
            span: name_span,
        };
        let Some(entries) = self.map(node, &format!("collection '{name}'")) else { return collection };
        let entries = self.keys(entries, COLLECTION_KEYS, &format!("in collection '{name}'"));

        // The kind decides which fields exist, so read it first.
        let mut query = None;
        for &(key, value) in &entries {
            match key {
                "type" => match self.string(value, "type") {
                    Some("base") => collection.kind = CollectionKind::Base,
                    Some("auth") => collection.kind = CollectionKind::Auth,
                    Some("view") => {
                        collection.kind = CollectionKind::View {
                            query: String::new(),
                            query_origin: Origin::verbatim(value.span.start),
                        }
                    }
                    Some(other) => {
                        self.diags.push(self.unknown(value.span, "collection type", other, &["base", "auth", "view"]))
                    }
                    None => {}
                },
                "query" => query = Some(value),
                _ => {}
            }
        }
        match (&mut collection.kind, query) {
            (CollectionKind::View { query, query_origin }, Some(node)) => {
                if let (Some(q), NodeKind::Scalar { .. }) = (self.string(node, "query"), &node.kind) {
                    *query = q.to_owned();
                    *query_origin = scalar_origin(self.file.text(), node);
                }
            }
            (CollectionKind::View { .. }, None) => self.diags.push(
                Diagnostic::error(name_span, format!("view collection '{name}' needs a 'query'"))
                    .with_help("add `query: \"SELECT id, ... FROM ...\"`"),
            ),
            (_, Some(node)) => self.diags.push(
                Diagnostic::error(node.span, "'query' is only allowed on view collections")
                    .with_help("add `type: view`, or remove 'query'"),
            ),
            (_, None) => {}
        }

        let mut timestamps = true;
        let mut declared = Vec::new();
        for (key, value) in entries {
            match key {
                "type" | "query" => {}
                "id" => {
                    if let Some(id) = self.string(value, "id") {
                        collection.id = id.to_owned();
                    }
                }
                "renamed_from" => collection.renamed_from = self.string(value, key).map(str::to_owned),
                "timestamps" => timestamps = self.bool(value, key).unwrap_or(true),
                "fields" => declared = self.fields(value, &collection),
                "indexes" => collection.indexes = self.indexes(value),
                "rules" => collection.rules = self.rules(value),
                _ => unreachable!(),
            }
        }

        collection.fields = system::complete(&collection.kind, declared, timestamps);
        collection
    }

    fn fields(&mut self, node: &Node, collection: &Collection) -> Vec<Field> {
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

    fn indexes(&mut self, node: &Node) -> Vec<Index> {
        let Some(items) = self.seq(node, "'indexes'") else { return Vec::new() };
        let mut out = Vec::new();
        for item in items {
            match &item.kind {
                NodeKind::Seq(_) => {
                    out.push(Index { fields: self.strings(item, "index fields"), unique: false, span: item.span })
                }
                NodeKind::Map(entries) => {
                    let mut index = Index { fields: Vec::new(), unique: false, span: item.span };
                    for (key, value) in self.keys(entries, INDEX_KEYS, "in an index") {
                        match key {
                            "fields" => index.fields = self.strings(value, "fields"),
                            "unique" => index.unique = self.bool(value, key).unwrap_or(false),
                            _ => unreachable!(),
                        }
                    }
                    out.push(index);
                }
                NodeKind::Scalar { .. } => self.diags.push(
                    Diagnostic::error(item.span, format!("expected an index, found {}", item.describe()))
                        .with_help("write an index as `[field, other]` or `{ fields: [field], unique: true }`"),
                ),
            }
            if let Some(index) = out.last()
                && index.fields.is_empty()
                && index.span == item.span
            {
                self.diags.push(Diagnostic::error(item.span, "an index needs at least one field"));
            }
        }
        out
    }

    fn rules(&mut self, node: &Node) -> Rules {
        let mut rules = Rules::default();
        let Some(entries) = self.map(node, "'rules'") else { return rules };
        for (key, value) in self.keys(entries, RULE_KEYS, "in 'rules'") {
            let action = match key {
                "list" => Action::List,
                "view" => Action::View,
                "create" => Action::Create,
                "update" => Action::Update,
                "delete" => Action::Delete,
                _ => unreachable!(),
            };
            *rules.get_mut(action) = match (&value.kind, value.plain()) {
                // `~`/`null`: superusers only, the same as leaving the rule out.
                (_, Some(Plain::Null)) if !matches!(&value.kind, NodeKind::Scalar { quoted: true, .. }) => None,
                (NodeKind::Scalar { value: text, quoted: true, .. }, _) => {
                    Some(Rule { expr: text.clone(), origin: scalar_origin(self.file.text(), value) })
                }
                (NodeKind::Scalar { value: text, .. }, Some(Plain::Str(_))) => {
                    Some(Rule { expr: text.clone(), origin: scalar_origin(self.file.text(), value) })
                }
                _ => {
                    self.diags.push(
                        Diagnostic::error(value.span, format!("expected a rule expression, found {}", value.describe()))
                            .with_help("quote the rule: `\"published = true\"`; `\"\"` allows everyone, leaving it out allows superusers only"),
                    );
                    None
                }
            };
        }
        rules
    }

    // --- shapes -----------------------------------------------------------------------------

    /// The entries of `node` with known keys; unknown and repeated keys are reported.
    fn keys<'n>(
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

    fn unknown(&self, span: Span, what: &str, found: &str, expected: &[&str]) -> Diagnostic {
        let d = Diagnostic::error(span, format!("unknown {what} '{found}'"));
        match did_you_mean(found, expected.iter().copied()) {
            Some(help) => d.with_help(help),
            None => d.with_help(format!("expected one of: {}", expected.join(", "))),
        }
    }

    fn map<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n [(Node, Node)]> {
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

    fn seq<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n [Node]> {
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

    fn name<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n str> {
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

    fn string<'n>(&mut self, node: &'n Node, key: &str) -> Option<&'n str> {
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

    fn strings(&mut self, node: &Node, key: &str) -> Vec<String> {
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

    fn bool(&mut self, node: &Node, key: &str) -> Option<bool> {
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

    fn uint(&mut self, node: &Node, key: &str) -> Option<u64> {
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

    fn number(&mut self, node: &Node, key: &str) -> Option<f64> {
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

/// Where the text of a scalar sits in `text`, the whole file. The node's own origin is kept
/// when it maps every character to itself (or to the escape that produced it). Two cases are
/// repaired here: an empty quoted string has no character to anchor, so it maps to just inside
/// its opening quote rather than to the start of the file; and a scalar written over several
/// lines (plain, folded `>`, or quoted) is decoded with its line breaks folded, so its
/// characters are aligned with the file again, skipping the indentation the parser dropped.
fn scalar_origin(text: &str, node: &Node) -> Origin {
    let NodeKind::Scalar { value, origin, quoted } = &node.kind else { return Origin::verbatim(node.span.start) };
    let raw = text.get(node.span.start..node.span.end).unwrap_or("");
    let skip = usize::from(raw.starts_with(['"', '\'']));
    if origin.anchors.is_empty() {
        return Origin::verbatim(node.span.start + usize::from(*quoted).min(skip));
    }
    let char_at = |at: usize| text.get(at..).and_then(|rest| rest.chars().next());
    let escape_or_same = |c: char, at: usize| char_at(at).is_some_and(|f| f == c || f == '\\');
    if value.char_indices().all(|(i, c)| escape_or_same(c, origin.map(i))) {
        return origin.clone();
    }
    align(value, &raw[skip..], node.span.start + skip).unwrap_or_else(|| origin.clone())
}

/// Anchors each character of `value` to the same character of `raw` (which starts at file
/// offset `base`), where whitespace in `value` may stand for any whitespace in `raw` and
/// extra whitespace in `raw` (indentation, line breaks) is skipped. `None` when the two
/// differ otherwise (escapes), so the caller keeps what it had.
pub(crate) fn align(value: &str, raw: &str, base: usize) -> Option<Origin> {
    let mut anchors = Vec::new();
    let mut rest = raw.char_indices();
    for (vi, vc) in value.char_indices() {
        loop {
            let Some((ri, rc)) = rest.next() else {
                // a block scalar's final line break lies past its span
                if vc.is_whitespace() {
                    anchors.push((vi, base + raw.len()));
                    break;
                }
                return None;
            };
            if rc == vc || (vc.is_whitespace() && rc.is_whitespace()) {
                anchors.push((vi, base + ri));
                break;
            }
            if !rc.is_whitespace() {
                return None;
            }
        }
    }
    Some(Origin { anchors })
}

/// The span of the key `key` in the mapping `node`.
fn key_span_of(node: &Node, key: &str) -> Option<Span> {
    match &node.kind {
        NodeKind::Map(entries) => entries.iter().find(|(k, _)| k.scalar_text() == Some(key)).map(|(k, _)| k.span),
        _ => None,
    }
}

/// Parses `1MiB`-style sizes: B, KB/MB/GB (powers of 1000) and KiB/MiB/GiB (powers of 1024).
pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let factor: u64 = match unit.trim() {
        "" | "B" => 1,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => return None,
    };
    let bytes = number * factor as f64;
    (bytes >= 1.0 && bytes.fract() == 0.0 && bytes < u64::MAX as f64).then_some(bytes as u64)
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

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1MiB"), Some(1_048_576));
        assert_eq!(parse_size("500KB"), Some(500_000));
        assert_eq!(parse_size("1.5 KiB"), Some(1536));
        assert_eq!(parse_size("12"), Some(12));
        assert_eq!(parse_size("1 parsec"), None);
        assert_eq!(parse_size("0"), None);
    }

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
