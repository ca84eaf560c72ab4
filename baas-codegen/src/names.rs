//! Naming and escaping in one place: Rust identifiers from schema names (keywords escaped),
//! type names for collections, index names.

use heck::{ToSnakeCase, ToUpperCamelCase};
use proc_macro2::Ident;
use quote::format_ident;

/// Rust's strict and reserved keywords, which need `r#` (or another name) as identifiers.
const KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern", "false", "fn",
    "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return", "self",
    "Self", "static", "struct", "super", "trait", "true", "type", "unsafe", "use", "where", "while", "abstract",
    "become", "box", "do", "final", "macro", "override", "priv", "try", "typeof", "unsized", "virtual", "yield",
];

/// A field's Rust name: snake case, keywords as raw identifiers (`type` → `r#type`).
pub fn field_ident(name: &str) -> Ident {
    let snake = name.to_snake_case();
    let snake =
        if snake.is_empty() || snake.starts_with(|c: char| c.is_ascii_digit()) { format!("f_{snake}") } else { snake };
    match snake.as_str() {
        // these cannot be raw identifiers
        "self" | "Self" | "super" | "crate" | "_" => format_ident!("{snake}_"),
        s if KEYWORDS.contains(&s) => Ident::new_raw(s, proc_macro2::Span::call_site()),
        s => format_ident!("{s}"),
    }
}

/// A collection's module name: snake case, never a keyword.
pub fn module_ident(collection: &str) -> Ident {
    let snake = collection.to_snake_case();
    if KEYWORDS.contains(&snake.as_str()) { format_ident!("{snake}_") } else { format_ident!("{snake}") }
}

/// The record type of a collection: the singular in upper camel case (`posts` → `Post`,
/// `categories` → `Category`), or `<Name>Record` when no plain singular is apparent.
pub fn record_type(collection: &str) -> Ident {
    let camel = collection.to_upper_camel_case();
    let singular = if let Some(stem) = camel.strip_suffix("ies").filter(|s| !s.is_empty()) {
        format!("{stem}y")
    } else if ["ss", "us", "is", "ews"].iter().any(|end| camel.ends_with(end)) {
        format!("{camel}Record")
    } else if let Some(stem) = camel.strip_suffix('s').filter(|s| !s.is_empty()) {
        stem.to_owned()
    } else {
        format!("{camel}Record")
    };
    match singular.as_str() {
        // names the generated module imports
        "ApiError" | "ApiResult" | "AppState" | "Arc" | "Auth" | "DateTime" | "Id" | "Bind" | "Coll"
        | "Deserialize" | "Filter" | "Json" | "Path" | "RequestCx" | "Router" | "Rule" | "Rules" | "Serialize"
        | "Source" | "SqlTy" | "State" | "StatusCode" | "TypedRecord" | "Value" => format_ident!("{singular}Record"),
        s => format_ident!("{s}"),
    }
}

/// The module of a record type's field constants: the type in snake case (`Post` → `post`).
pub fn fields_module(record_type: &Ident) -> Ident {
    module_ident(&record_type.to_string())
}

/// A deterministic index name: `idx_<collection>_<fields>`.
pub fn index_name(collection: &str, fields: &[String], unique: bool) -> String {
    format!("{}_{}_{}", if unique { "uq" } else { "idx" }, collection, fields.join("_"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_become_valid_identifiers() {
        assert_eq!(field_ident("type").to_string(), "r#type");
        assert_eq!(field_ident("emailVisibility").to_string(), "email_visibility");
        assert_eq!(field_ident("self").to_string(), "self_");
        assert_eq!(field_ident("2fa").to_string(), "f_2fa");
        assert_eq!(module_ident("match").to_string(), "match_");
        for name in ["type", "self", "crate", "async", "fn", "_"] {
            syn::parse_str::<Ident>(&field_ident(name).to_string()).unwrap();
        }
    }

    #[test]
    fn record_types_are_singular() {
        assert_eq!(record_type("posts").to_string(), "Post");
        assert_eq!(record_type("categories").to_string(), "Category");
        assert_eq!(record_type("news").to_string(), "NewsRecord");
        assert_eq!(record_type("status").to_string(), "StatusRecord");
        assert_eq!(record_type("room_stats").to_string(), "RoomStat");
        assert_eq!(record_type("staff").to_string(), "StaffRecord");
        assert_eq!(record_type("rules").to_string(), "RuleRecord");
    }
}
