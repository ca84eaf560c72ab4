//! Rust emission: `quote!` per concept, one module each (the record type, the rules, the
//! routes, the backend module that ties the collections to the runtime, and the user's files
//! written once), formatted with prettyplease. Nothing here assembles Rust from strings; a
//! malformed token stream fails inside the generator, not in the user's build.

pub mod backend;
pub mod filter;
pub mod hooks;
pub mod record;
pub mod routes;
pub mod rules;
pub mod user;

use baas_schema::CheckedSchema;
use baas_schema::ir::{Collection, FieldType};
use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

pub use backend::{Layout, generated_mod};

/// Formats a token stream as a file, with `header` lines (comments) on top: top-level items
/// one blank line apart, as rustfmt'd hand-written code has them, except for runs of `use`s of
/// the same root and of plain `mod name;` lines.
pub fn file(header: &str, tokens: TokenStream) -> String {
    let parsed: syn::File = match syn::parse2(tokens.clone()) {
        Ok(file) => file,
        Err(e) => panic!("baas generated invalid Rust ({e}); this is a bug in baas:\n{tokens}"),
    };
    let unparse = |attrs, items| prettyplease::unparse(&syn::File { shebang: None, frontmatter: None, attrs, items });
    let mut out = String::from(header);
    if !parsed.attrs.is_empty() {
        out.push_str(&unparse(parsed.attrs, Vec::new()));
        out.push('\n');
    }
    let mut previous = None;
    for (i, item) in parsed.items.into_iter().enumerate() {
        let group = group(&item);
        if i > 0 && (group.is_none() || group != previous) {
            out.push('\n');
        }
        out.push_str(&unparse(Vec::new(), vec![item]));
        previous = group;
    }
    out
}

/// The run of items written without blank lines an item belongs to: `use`s by their root
/// (`::baas_runtime::…`), plain `mod name;` lines.
fn group(item: &syn::Item) -> Option<String> {
    match item {
        syn::Item::Use(u) => match &u.tree {
            syn::UseTree::Path(p) => Some(format!("use {}", p.ident)),
            other => Some(format!("use {}", quote!(#other))),
        },
        syn::Item::Mod(m) if m.content.is_none() && m.attrs.is_empty() => Some("mod".to_owned()),
        _ => None,
    }
}

/// `#[doc = …]` attributes, each printed as a `///` line: `text`'s lines, wrapped to fit in 100
/// columns.
pub(crate) fn doc(text: &str) -> TokenStream {
    let mut lines = Vec::new();
    for line in text.lines() {
        let mut current = String::new();
        for word in line.split(' ') {
            if !current.is_empty() && current.len() + 1 + word.len() > 92 {
                lines.push(std::mem::take(&mut current));
            }
            current.push(' ');
            current.push_str(word);
        }
        lines.push(current);
    }
    quote! { #(#[doc = #lines])* }
}

/// A string literal; raw (`r#"…"#`) when the text has quotes or backslashes, as SQL does
/// (and no carriage return, which a raw string cannot hold).
pub(crate) fn str_literal(text: &str) -> TokenStream {
    if !text.contains(['"', '\\']) || text.contains('\r') {
        return quote! { #text };
    }
    let mut hashes = "#".to_owned();
    while text.contains(&format!("\"{hashes}")) {
        hashes.push('#');
    }
    let raw = format!("r{hashes}\"{text}\"{hashes}");
    match raw.parse::<proc_macro2::Literal>() {
        Ok(literal) => quote! { #literal },
        Err(e) => panic!("baas wrote an invalid raw string literal ({e}); this is a bug in baas:\n{raw}"),
    }
}

/// An identifier made of a name in upper case (`list` → `LIST`).
pub(crate) fn upper_ident(name: &str) -> Ident {
    format_ident!("{}", name.to_uppercase())
}

/// `src/generated/<collection>.rs`: the collection's name and id, its record type, its rules
/// as static data and its routes.
pub fn collection_module(schema: &CheckedSchema, c: &Collection, layout: &Layout<'_>) -> TokenStream {
    let (name, id) = (&c.name, &c.id);
    let rules = rules::rules(schema, c);
    let mut collection_names = rules.names.clone();
    collection_names.insert("TypedRecord");
    let collection_names = collection_names.iter().map(|n| format_ident!("{n}"));
    let record = record::record(&schema.schema, c);
    let related = record::related(&schema.schema, c);
    let fields = record::field_constants(&schema.schema, c);
    let selects = record::select_enums(&schema.schema, c);
    let new_record = record::new_record(&schema.schema, c);
    let filter = filter::filter_macro(c, layout);
    let rule_items = rules.items;
    let routes = routes::routes();
    let dates = record::typed_fields(c).any(|f| matches!(f.ty, FieldType::Date | FieldType::Autodate { .. }));
    let data_names = if dates {
        quote! { {DateTime, Id} }
    } else {
        quote! { Id }
    };
    let value = record::typed_fields(c)
        .any(|f| matches!(f.ty, FieldType::Json))
        .then(|| quote! { use ::baas_runtime::deps::serde_json::Value; });
    quote! {
        use ::baas_runtime::collection::{#(#collection_names),*};
        use ::baas_runtime::data::#data_names;
        use ::baas_runtime::deps::axum::Router;
        use ::baas_runtime::deps::serde::{Deserialize, Serialize};
        #value
        use ::baas_runtime::{AppState, records};
        #related

        /// The collection's name.
        pub const NAME: &str = #name;

        /// The collection's wire id (`collectionId`).
        pub const ID: &str = #id;

        #record
        #new_record
        #selects
        #fields
        #filter
        #rule_items
        #routes
    }
}
