//! `schemas/baas.schema.json`, the JSON Schema that editors use to complete and check schema
//! files, held against the YAML loader (the source of truth): both accept every sample in
//! `schemas/`, and both reject the same mistakes.

use std::fs;
use std::path::{Path, PathBuf};

use baas_schema::front::yaml;
use baas_schema::{Diagnostics, Schema, SourceFile};
use boon::{Compiler, SchemaIndex, Schemas};
use serde_json::Value;

const METASCHEMA: &str = "https://json-schema.org/draft/2020-12/schema";

fn schemas_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas")
}

fn json_schema_path() -> PathBuf {
    schemas_dir().join("baas.schema.json").canonicalize().expect("schemas/baas.schema.json exists")
}

fn json_schema_value() -> Value {
    let path = json_schema_path();
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()))
}

/// The compiled JSON Schema. boon compiles offline: the 2020-12 metaschemas are built in and
/// nothing else is referenced.
fn json_schema() -> (Schemas, SchemaIndex) {
    let location = json_schema_path().display().to_string();
    let mut compiler = Compiler::new();
    compiler.add_resource(&location, json_schema_value()).expect("the JSON Schema is added");
    let mut schemas = Schemas::new();
    let index = compiler.compile(&location, &mut schemas).unwrap_or_else(|e| panic!("{e:#}"));
    (schemas, index)
}

/// Every `schemas/*.yaml`, with its text.
fn samples() -> Vec<(PathBuf, String)> {
    let dir = schemas_dir();
    let mut out: Vec<(PathBuf, String)> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .map(|path| {
            let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (path, text)
        })
        .collect();
    out.sort();
    out
}

/// The YAML document as the JSON an editor's language server validates.
fn to_json(name: &str, text: &str) -> Value {
    let file = SourceFile::new(name, text);
    match yaml::node::parse(&file) {
        Ok(node) => node.to_json(),
        Err(d) => panic!("{}", d.render(&file)),
    }
}

/// `Ok` or the validator's explanation.
fn validate(schemas: &Schemas, index: SchemaIndex, doc: &Value) -> Result<(), String> {
    schemas.validate(doc, index).map_err(|e| format!("{e}"))
}

/// What the loader makes of `text`: the schema, or its errors rendered.
fn load(name: &str, text: &str) -> Result<Schema, String> {
    let file = SourceFile::new(name, text);
    let mut diags = Diagnostics::new();
    let schema = yaml::load(&file, &mut diags);
    if diags.has_errors() {
        return Err(diags.render(&file));
    }
    Ok(schema.unwrap_or_else(|| panic!("{name}: no schema and no error")))
}

#[test]
fn the_samples_are_there() {
    let names: Vec<String> =
        samples().iter().map(|(p, _)| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    for expected in ["blog.yaml", "chat.yaml", "todo.yaml"] {
        assert!(names.iter().any(|n| n == expected), "schemas/{expected} is missing; found {names:?}");
    }
}

#[test]
fn every_sample_validates_against_the_json_schema() {
    let (schemas, index) = json_schema();
    for (path, text) in samples() {
        let doc = to_json(&path.display().to_string(), &text);
        if let Err(e) = validate(&schemas, index, &doc) {
            panic!("{} does not match schemas/baas.schema.json:\n{e}", path.display());
        }
    }
}

#[test]
fn every_sample_loads_without_errors() {
    for (path, text) in samples() {
        let name = path.display().to_string();
        let schema = load(&name, &text).unwrap_or_else(|errors| panic!("{errors}"));
        for collection in &schema.collections {
            for (action, rule) in collection.rules.iter().filter(|(_, r)| !r.is_public()) {
                if let Err(e) = baas_schema::expr::parse(&rule.expr) {
                    panic!(
                        "{name}: {}.{}: `{}` does not parse: {}",
                        collection.name,
                        action.name(),
                        rule.expr,
                        e.message
                    );
                }
            }
        }
    }
}

#[test]
fn the_json_schema_is_valid_against_its_metaschema() {
    let schema = json_schema_value();
    assert_eq!(schema["$schema"], METASCHEMA, "the JSON Schema declares draft 2020-12");
    let mut compiler = Compiler::new();
    let mut schemas = Schemas::new();
    let meta = compiler.compile(METASCHEMA, &mut schemas).unwrap_or_else(|e| panic!("{e:#}"));
    if let Err(e) = validate(&schemas, meta, &schema) {
        panic!("schemas/baas.schema.json is not a valid 2020-12 schema:\n{e}");
    }
    // Compiling checks it too, and resolves every `$ref`.
    json_schema();
}

#[test]
fn every_property_has_a_description() {
    fn walk(value: &Value, at: &str, missing: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (key, sub) in map {
                    if key == "properties" {
                        for (name, prop) in sub.as_object().expect("properties is a mapping") {
                            // A `$ref` shows the description of what it refers to.
                            let described = prop.get("description").is_some_and(Value::is_string)
                                || prop.get("$ref").is_some()
                                || prop.is_boolean();
                            if !described {
                                missing.push(format!("{at}/properties/{name}"));
                            }
                        }
                    }
                    walk(sub, &format!("{at}/{key}"), missing);
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    walk(item, &format!("{at}/{i}"), missing);
                }
            }
            _ => {}
        }
    }
    let mut missing = Vec::new();
    walk(&json_schema_value(), "#", &mut missing);
    // `if` conditions and `else` restrictions only test or forbid; they are never shown.
    missing.retain(|at| !at.contains("/if/") && !at.contains("/else/") && !at.contains("/then/properties"));
    assert!(missing.is_empty(), "properties without a description: {missing:#?}");
}

/// Collections around a fragment, so that each case below differs from a valid schema in one
/// place only.
fn doc(collections: &str) -> String {
    format!("collections:\n{collections}")
}

/// Mistakes that both the JSON Schema and the loader must reject.
fn wrong_documents() -> Vec<(&'static str, String)> {
    let posts = "  posts:\n    fields:\n      title: text\n";
    vec![
        ("unknown top-level key", format!("{}plugins: [search]\n", doc(posts))),
        ("max on a bool field", doc("  posts:\n    fields:\n      published: { type: bool, max: 1 }\n")),
        ("select without values", doc("  posts:\n    fields:\n      tags: { type: select, multiple: true }\n")),
        ("select as a shorthand", doc("  posts:\n    fields:\n      tags: select\n")),
        ("select with no values", doc("  posts:\n    fields:\n      tags: { type: select, values: [] }\n")),
        ("select with a value twice", doc("  posts:\n    fields:\n      tags: { type: select, values: [a, b, a] }\n")),
        ("rule given as a number", doc(&format!("{posts}    rules:\n      list: 1\n"))),
        ("rule given as a boolean", doc(&format!("{posts}    rules:\n      view: true\n"))),
        ("bad max_size string", doc("  posts:\n    fields:\n      cover: { type: file, max_size: 10 parsecs }\n")),
        ("max_size of zero", doc("  posts:\n    fields:\n      cover: { type: file, max_size: 0KB }\n")),
        ("unknown rule key read", doc(&format!("{posts}    rules:\n      read: \"\"\n"))),
        ("unknown field type", doc("  posts:\n    fields:\n      title: string\n")),
        ("field without a type", doc("  posts:\n    fields:\n      title: { required: true }\n")),
        ("unknown collection key", doc(&format!("{posts}    rule:\n      list: \"\"\n"))),
        ("collection name starting with _", doc("  _posts:\n    fields:\n      title: text\n")),
        ("invalid field name", doc("  posts:\n    fields:\n      sub-title: text\n")),
        ("system field declared", doc("  posts:\n    fields:\n      created: date\n")),
        ("auth system field declared", doc("  users:\n    type: auth\n    fields:\n      email: email\n")),
        ("password outside an auth collection", doc("  posts:\n    fields:\n      secret: password\n")),
        ("query on a base collection", doc(&format!("{posts}    query: \"SELECT id FROM posts\"\n"))),
        ("view without a query", doc("  stats:\n    type: view\n")),
        ("unknown collection type", doc("  posts:\n    type: table\n")),
        ("relation without a collection", doc("  posts:\n    fields:\n      author: { type: relation }\n")),
        ("negative text max", doc("  posts:\n    fields:\n      title: { type: text, max: -1 }\n")),
        ("autodate set never", doc("  posts:\n    fields:\n      seen: { type: autodate, on_create: false }\n")),
        ("required as a string", doc("  posts:\n    fields:\n      title: { type: text, required: \"yes\" }\n")),
        ("index without fields", doc(&format!("{posts}    indexes:\n      - {{ unique: true }}\n"))),
        ("empty index", doc(&format!("{posts}    indexes:\n      - []\n"))),
        ("unknown batch setting", format!("settings:\n  batch: {{ size: 10 }}\n{}", doc(posts))),
        ("no collections", "settings:\n  auth_token_duration: 60\n".to_owned()),
        ("empty collections", "collections: {}\n".to_owned()),
    ]
}

/// Unusual but valid documents: the JSON Schema must not be stricter than the loader.
fn unusual_documents() -> Vec<(&'static str, &'static str)> {
    vec![
        ("empty settings and collection", "settings:\ncollections:\n  notes:\n"),
        (
            "null batch, fields and rules",
            "settings:\n  batch: ~\ncollections:\n  notes:\n    fields: ~\n    rules: ~\n",
        ),
        (
            "null and empty rules",
            r#"
collections:
  posts:
    rules:
      list: ~
      view: null
      create: ""
"#,
        ),
        (
            "sizes",
            r#"
collections:
  posts:
    fields:
      a: { type: file, max_size: 1048576 }
      b: { type: file, max_size: "1.5 KiB" }
      c: { type: file, max_size: 2 MB }
      d: { type: file, max_size: 0.5kB }
      e: { type: file, max_size: 1GiB, mime: [], multiple: true, protected: false, thumbs: [100x100, 0x50, 40x40f] }
"#,
        ),
        (
            "every shorthand",
            r#"
collections:
  users:
    type: auth
    fields: { a: text, b: number, c: bool, d: email, e: url, f: date, g: json, h: file, i: autodate, j: password }
"#,
        ),
        (
            "select values that look like numbers",
            "collections:\n  posts:\n    fields:\n      stars: { type: select, values: [1, 2, 3] }\n",
        ),
        (
            "a view may declare fields with system names",
            r#"
collections:
  stats:
    type: view
    query: "SELECT id, created FROM posts"
    timestamps: false
    fields:
      created: date
"#,
        ),
        (
            "autodate on update only",
            "collections:\n  posts:\n    fields:\n      seen: { type: autodate, on_create: false, on_update: true }\n",
        ),
        (
            "every option",
            r#"
collections:
  posts:
    type: base
    id: pbc_posts
    renamed_from: articles
    timestamps: false
    fields:
      title: { type: text, required: true, unique: true, hidden: false, renamed_from: name, min: 1, max: 10, pattern: "^[a-z]+$" }
      n: { type: number, min: -1.5, max: 2, integer: false }
      tags: { type: select, values: [a, b], multiple: true }
      parent: { type: relation, collection: posts, multiple: false, cascade_delete: true }
    indexes:
      - [title]
      - { fields: [title, n], unique: true }
      - { fields: [n] }
"#,
        ),
        (
            "every setting",
            r#"
settings:
  batch: { enabled: true, max_requests: 0, timeout: 10 }
  auth_token_duration: 60
  superuser_token_duration: 0
collections:
  notes:
"#,
        ),
    ]
}

#[test]
fn wrong_documents_are_rejected_by_both() {
    let (schemas, index) = json_schema();
    for (what, text) in wrong_documents() {
        let json = to_json(what, &text);
        assert!(validate(&schemas, index, &json).is_err(), "the JSON Schema accepts {what}:\n{text}");
        assert!(load(what, &text).is_err(), "the loader accepts {what}:\n{text}");
    }
}

#[test]
fn unusual_documents_are_accepted_by_both() {
    let (schemas, index) = json_schema();
    for (what, text) in unusual_documents() {
        if let Err(errors) = load(what, text) {
            panic!("the loader rejects {what}:\n{text}\n{errors}");
        }
        if let Err(e) = validate(&schemas, index, &to_json(what, text)) {
            panic!("the JSON Schema rejects {what}:\n{text}\n{e}");
        }
    }
}
