//! The generated crate's files that are not Rust, rendered with askama: `Cargo.toml` and
//! `README.md` (both written once).

use askama::Template;
use baas_schema::CheckedSchema;

use crate::Options;

#[derive(Template)]
#[template(path = "Cargo.toml", escape = "none")]
struct CargoToml<'a> {
    version: &'a str,
    source: &'a str,
    name: &'a str,
    runtime: &'a str,
}

pub(crate) fn cargo_toml(o: &Options) -> String {
    CargoToml { version: env!("CARGO_PKG_VERSION"), source: &o.source, name: &o.name, runtime: &o.runtime }
        .render()
        .expect("the Cargo.toml template renders")
}

#[derive(Template)]
#[template(path = "README.md", escape = "none")]
struct Readme<'a> {
    version: &'a str,
    source: &'a str,
    name: &'a str,
    collections: Vec<&'a str>,
    /// `collection.field` of every file field.
    file_fields: Vec<String>,
}

pub(crate) fn readme(schema: &CheckedSchema, o: &Options) -> String {
    Readme {
        version: env!("CARGO_PKG_VERSION"),
        source: &o.source,
        name: &o.name,
        collections: schema.schema.collections.iter().map(|c| c.name.as_str()).collect(),
        file_fields: schema
            .schema
            .collections
            .iter()
            .flat_map(|c| {
                let files = c.fields.iter().filter(|f| matches!(f.ty, baas_schema::ir::FieldType::File { .. }));
                files.map(move |f| format!("{}.{}", c.name, f.name))
            })
            .collect(),
    }
    .render()
    .expect("the README template renders")
}
