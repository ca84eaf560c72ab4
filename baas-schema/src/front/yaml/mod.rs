//! The YAML front end: schema text in, [`Schema`] IR out, every problem reported with its
//! place. It only builds the IR; checking rules against it is [`crate::check`]'s job.
//!
//! This file reads the schema's outline (settings, collections, indexes, rules); `field`
//! reads one field and its type's options, `values` the shapes and scalars every part is
//! made of (mappings with known keys, names, strings, numbers), and [`node`] is the spanned
//! node tree the parser's events are built into.

mod auth;
mod field;
pub mod node;
mod values;

use crate::diag::{Diagnostic, Diagnostics};
use crate::front::align;
use crate::ir::{
    Action, AuthOptions, BatchSettings, Collection, CollectionKind, FieldType, Index, MailTemplate, MailTemplates,
    OAUTH2_PRESETS, OAuth2Options, OAuth2Provider, Origin, RateLimitRule, RateLimits, Rule, Rules, Schema, Settings,
    TEMPLATE_PLACEHOLDERS, TokenDurations, system,
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

/// Reads one YAML file into the IR, pushing every problem it meets.
struct Loader<'d> {
    file: &'d SourceFile,
    diags: &'d mut Diagnostics,
}

const TOP_KEYS: &[&str] = &["settings", "collections"];
const SETTINGS_KEYS: &[&str] = &["batch", "auth_token_duration", "superuser_token_duration", "rate_limits"];
const RATE_LIMITS_KEYS: &[&str] = &["enabled", "rules"];
const RATE_LIMIT_RULE_KEYS: &[&str] = &["label", "max_requests", "duration", "audience"];
const BATCH_KEYS: &[&str] = &["enabled", "max_requests", "timeout"];
const COLLECTION_KEYS: &[&str] =
    &["type", "id", "fields", "indexes", "rules", "renamed_from", "query", "timestamps", "auth"];
const AUTH_KEYS: &[&str] = &["identity_fields", "otp", "mfa", "tokens", "templates", "oauth2"];
const OAUTH2_KEYS: &[&str] = &["providers"];
const PROVIDER_KEYS: &[&str] = &["name", "client_id", "issuer", "display_name", "scopes"];
const TOKEN_KEYS: &[&str] = &["auth", "verification", "password_reset", "email_change"];
const TEMPLATE_KINDS: &[&str] = &["verification", "password_reset", "email_change", "otp"];
const TEMPLATE_KEYS: &[&str] = &["subject", "html", "text", "html_file", "text_file"];
const OTP_KEYS: &[&str] = &["enabled", "duration", "length"];
const MFA_KEYS: &[&str] = &["enabled", "duration"];
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
                "rate_limits" => settings.rate_limits = self.rate_limits(value),
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

    fn rate_limits(&mut self, node: &Node) -> RateLimits {
        let mut limits = RateLimits::default();
        let Some(entries) = self.map(node, "'rate_limits'") else { return limits };
        for (key, value) in self.keys(entries, RATE_LIMITS_KEYS, "in 'settings.rate_limits'") {
            match key {
                "enabled" => limits.enabled = self.bool(value, key).unwrap_or(true),
                "rules" => {
                    let Some(items) = self.seq(value, "'rules'") else { continue };
                    limits.rules = items.iter().filter_map(|item| self.rate_limit_rule(item)).collect();
                }
                _ => unreachable!(),
            }
        }
        limits
    }

    fn rate_limit_rule(&mut self, node: &Node) -> Option<RateLimitRule> {
        let entries = self.map(node, "a rate-limit rule")?;
        let mut rule = RateLimitRule { label: String::new(), max_requests: 0, duration: 0, audience: String::new() };
        for (key, value) in self.keys(entries, RATE_LIMIT_RULE_KEYS, "in a rate-limit rule") {
            match key {
                "label" => rule.label = self.string(value, key).unwrap_or_default().to_owned(),
                "max_requests" => {
                    rule.max_requests = self.uint(value, key).map_or(0, |n| n.min(u32::MAX.into()) as u32)
                }
                "duration" => rule.duration = self.uint(value, key).map_or(0, |n| n.min(u32::MAX.into()) as u32),
                "audience" => rule.audience = self.string(value, key).unwrap_or_default().to_owned(),
                _ => unreachable!(),
            }
        }
        match rule.problem() {
            Some(problem) => {
                self.diags.push(Diagnostic::error(node.span, problem));
                None
            }
            None => Some(rule),
        }
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
            auth: AuthOptions::default(),
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
        let mut auth_span = None;
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
                "auth" => match collection.kind {
                    CollectionKind::Auth => {
                        auth_span = Some(value.span);
                        collection.auth = self.auth_options(value);
                    }
                    _ => self.diags.push(
                        Diagnostic::error(value.span, "'auth' is only allowed on auth collections")
                            .with_help("add `type: auth`, or remove 'auth'"),
                    ),
                },
                _ => unreachable!(),
            }
        }

        collection.fields = system::complete(&collection.kind, declared, timestamps);
        if let Some(span) = auth_span {
            self.check_identity_fields(&collection, span);
        }
        collection
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
