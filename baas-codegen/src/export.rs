//! The IR back to the YAML schema format (`baas export`): a schema described with derive
//! macros becomes the equivalent `schema.yaml`, and loading that file gives the same IR.

use std::fmt::Write as _;

use baas_schema::Schema;
use baas_schema::ir::{Collection, CollectionKind, Field, FieldType, Settings, system};

/// The YAML schema for `schema`; `source` names where it came from in the header comment.
pub fn yaml(schema: &Schema, source: &str) -> String {
    let mut out = format!("# Exported by baas {} from {source}.\n", env!("CARGO_PKG_VERSION"));
    let defaults = Settings::default();
    let s = &schema.settings;
    let mut settings = Vec::new();
    if s.batch != defaults.batch {
        let b = &s.batch;
        settings.push(format!(
            "batch: {{ enabled: {}, max_requests: {}, timeout: {} }}",
            b.enabled, b.max_requests, b.timeout
        ));
    }
    if s.auth_token_duration != defaults.auth_token_duration {
        settings.push(format!("auth_token_duration: {}", s.auth_token_duration));
    }
    if s.superuser_token_duration != defaults.superuser_token_duration {
        settings.push(format!("superuser_token_duration: {}", s.superuser_token_duration));
    }
    if !settings.is_empty() {
        out.push_str("settings:\n");
        for line in settings {
            let _ = writeln!(out, "  {line}");
        }
    }
    out.push_str("collections:\n");
    for c in schema.collections.iter().filter(|c| c.name != system::SUPERUSERS) {
        collection(&mut out, c);
    }
    out
}

fn collection(out: &mut String, c: &Collection) {
    let _ = writeln!(out, "  {}:", key(&c.name));
    match &c.kind {
        CollectionKind::Base => {}
        CollectionKind::Auth => out.push_str("    type: auth\n"),
        CollectionKind::View { query, .. } => {
            let _ = writeln!(out, "    type: view\n    query: {}", quoted(query));
        }
    }
    if c.id != Collection::default_id(&c.name) {
        let _ = writeln!(out, "    id: {}", quoted(&c.id));
    }
    if let Some(from) = &c.renamed_from {
        let _ = writeln!(out, "    renamed_from: {}", quoted(from));
    }
    if !c.is_view() && c.field(system::CREATED).is_none_or(|f| !f.system) {
        out.push_str("    timestamps: false\n");
    }
    let fields: Vec<&Field> = c.declared_fields().collect();
    if !fields.is_empty() {
        out.push_str("    fields:\n");
        for f in fields {
            let _ = writeln!(out, "      {}: {{ {} }}", key(&f.name), field(f).join(", "));
        }
    }
    if !c.indexes.is_empty() {
        out.push_str("    indexes:\n");
        for index in &c.indexes {
            let fields = index.fields.iter().map(|f| key(f)).collect::<Vec<_>>().join(", ");
            if index.unique {
                let _ = writeln!(out, "      - {{ fields: [{fields}], unique: true }}");
            } else {
                let _ = writeln!(out, "      - [{fields}]");
            }
        }
    }
    let rules: Vec<_> = c.rules.iter().collect();
    if !rules.is_empty() {
        out.push_str("    rules:\n");
        for (action, rule) in rules {
            let _ = writeln!(out, "      {}: {}", action.name(), quoted(&rule.expr));
        }
    }
}

/// A field's options, `type` first.
fn field(f: &Field) -> Vec<String> {
    let mut opts = vec![format!("type: {}", f.ty.name())];
    let mut flag = |on: bool, name: &str| {
        if on {
            opts.push(format!("{name}: true"));
        }
    };
    flag(f.required, "required");
    flag(f.unique, "unique");
    flag(f.hidden, "hidden");
    match &f.ty {
        FieldType::Text { min, max, pattern } => {
            opts.extend(min.map(|n| format!("min: {n}")));
            opts.extend(max.map(|n| format!("max: {n}")));
            opts.extend(pattern.as_ref().map(|p| format!("pattern: {}", quoted(p))));
        }
        FieldType::Number { min, max, integer } => {
            opts.extend(min.map(|n| format!("min: {n}")));
            opts.extend(max.map(|n| format!("max: {n}")));
            if *integer {
                opts.push("integer: true".into());
            }
        }
        FieldType::Select { values, multiple } => {
            let values = values.iter().map(|v| key(v)).collect::<Vec<_>>().join(", ");
            opts.push(format!("values: [{values}]"));
            if *multiple {
                opts.push("multiple: true".into());
            }
        }
        FieldType::Relation { collection, multiple, cascade_delete } => {
            opts.push(format!("collection: {}", key(collection)));
            if *multiple {
                opts.push("multiple: true".into());
            }
            if *cascade_delete {
                opts.push("cascade_delete: true".into());
            }
        }
        FieldType::File { max_size, mime, multiple, protected, thumbs } => {
            opts.extend(max_size.map(|n| format!("max_size: {n}")));
            if !mime.is_empty() {
                opts.push(format!("mime: [{}]", mime.iter().map(|m| quoted(m)).collect::<Vec<_>>().join(", ")));
            }
            if *multiple {
                opts.push("multiple: true".into());
            }
            if *protected {
                opts.push("protected: true".into());
            }
            if !thumbs.is_empty() {
                opts.push(format!("thumbs: [{}]", thumbs.iter().map(|t| quoted(t)).collect::<Vec<_>>().join(", ")));
            }
        }
        FieldType::Autodate { on_create, on_update } => {
            opts.push(format!("on_create: {on_create}"));
            opts.push(format!("on_update: {on_update}"));
        }
        FieldType::Bool
        | FieldType::Email
        | FieldType::Url
        | FieldType::Date
        | FieldType::Json
        | FieldType::Password => {}
    }
    if let Some(from) = &f.renamed_from {
        opts.push(format!("renamed_from: {}", quoted(from)));
    }
    opts
}

/// A name as a YAML key or flow item: plain when that reads back as the same string.
fn key(name: &str) -> String {
    let plain = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && !matches!(name, "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "y" | "n" | "Y" | "N");
    if plain { name.to_owned() } else { quoted(name) }
}

/// A double-quoted YAML string (JSON's escapes are YAML's).
fn quoted(text: &str) -> String {
    serde_json::to_string(text).expect("a string serializes")
}
