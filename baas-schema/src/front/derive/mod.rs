//! The derive front end: the `#[derive(Collection)]` structs of a `#[baas::schema]` module
//! into the IR. Like the YAML front end it only builds the IR; the checker does the rest.
//!
//! ```text
//! #[baas_runtime::schema]
//! mod blog {
//!     #[derive(Collection)]
//!     #[collection(auth, list = "id = @request.auth.id")]
//!     pub struct User { #[field(max = 255)] pub name: Option<String> }
//! }
//! ```
//!
//! The IR carries byte spans (the checker's diagnostics point with them), but tokens have no
//! byte offsets in a proc macro. So every token the IR remembers is given a range in a
//! *virtual source* — the token's own text, one per line — and [`Places`] maps a span in that
//! virtual source back to the token: to a `proc_macro2` span in a macro, and to the real
//! `file:line:col` when the CLI reads a `.rs` file (`baas check src/blog.rs`, [`load_file`]).
//!
//! This file finds the module and its collection structs; `collection` reads a struct's
//! `#[collection(…)]` and the `#[schema(…)]` settings, `field` a field's Rust type and
//! `#[field(…)]` options, `options` the attribute syntax they share, and `places` keeps the
//! virtual source.

mod collection;
mod field;
mod options;
mod places;

use heck::ToSnakeCase;
use proc_macro2::{Span as TokenSpan, TokenStream};
use syn::{Attribute, Ident, Item, ItemMod, ItemStruct, LitStr};

use crate::check::CheckedSchema;
use crate::diag::{Diagnostic, Diagnostics};
use crate::ir::Schema;
use crate::source::{LineCol, SourceFile, Span};
pub use places::{Place, Places};

/// What the front end read from a schema module.
pub struct Loaded {
    /// The IR, whenever the module had a usable shape (possibly with errors).
    pub schema: Schema,
    pub places: Places,
    /// `#[schema(migrations = "…")]`: the migrations folder, relative to the crate.
    pub migrations: Option<String>,
    /// Each collection struct's name and the collection it describes, in order.
    pub structs: Vec<(Ident, String)>,
    /// The module's items that are not collections, kept as written.
    pub other_items: Vec<Item>,
}

/// Reads the schema module `module` with the attribute arguments `args` (`#[schema(args)]`).
pub fn load(args: TokenStream, module: &ItemMod, diags: &mut Diagnostics) -> Loaded {
    let mut cx = Loader { places: Places::default(), diags };
    let mut loaded = Loaded {
        schema: Schema::default(),
        places: Places::default(),
        migrations: None,
        structs: Vec::new(),
        other_items: Vec::new(),
    };
    cx.schema_args(args, &mut loaded);
    let Some((_, items)) = &module.content else {
        cx.diags.push(
            Diagnostic::error(cx.places.token(&module.ident, module.ident.to_string()), "a schema module needs a body")
                .with_help(format!("write the collections inside it: `mod {} {{ … }}`", module.ident)),
        );
        loaded.places = cx.places;
        return loaded;
    };
    let collection_structs: Vec<&ItemStruct> = items
        .iter()
        .filter_map(|item| match item {
            Item::Struct(s) if derives_collection(&s.attrs) => Some(s),
            _ => None,
        })
        .collect();
    // Names first: relations may point at structs declared further down.
    let names: Vec<(Ident, String)> =
        collection_structs.iter().map(|s| (s.ident.clone(), collection_name(s))).collect();
    for s in &collection_structs {
        if let Some(c) = cx.collection(s, &names, &loaded.schema.collections) {
            loaded.schema.collections.push(c);
        }
    }
    if collection_structs.is_empty() {
        cx.diags.push(
            Diagnostic::error(
                cx.places.token(&module.ident, module.ident.to_string()),
                "the schema declares no collections",
            )
            .with_help("add a struct with `#[derive(Collection)]` to the module"),
        );
    }
    loaded.structs = names;
    loaded.other_items =
        items.iter().filter(|item| !matches!(item, Item::Struct(s) if derives_collection(&s.attrs))).cloned().collect();
    loaded.places = cx.places;
    loaded
}

/// Reads the `#[schema]` module of a Rust source file and checks it, with diagnostics placed
/// in that file (`baas check src/blog.rs`, `baas export`, `baas migrations`).
pub fn load_file(file: &SourceFile) -> (Option<CheckedSchema>, Diagnostics) {
    let mut out = Diagnostics::new();
    let at = |span: TokenSpan| {
        let start = span.start();
        let offset = file.offset(LineCol { line: start.line, col: start.column + 1 });
        Span::new(offset, offset + 1)
    };
    let parsed = match syn::parse_file(file.text()) {
        Ok(parsed) => parsed,
        Err(e) => {
            out.push(Diagnostic::error(at(e.span()), format!("not valid Rust: {e}")));
            return (None, out);
        }
    };
    let Some((module, args)) = find_module(&parsed.items) else {
        out.push(
            Diagnostic::error(None, "no `#[schema]` module in this file")
                .with_help("mark the module of collection structs with `#[baas_runtime::schema]`"),
        );
        return (None, out);
    };
    let mut diags = Diagnostics::new();
    let loaded = load(args, module, &mut diags);
    let checked = check(&loaded.schema, &mut diags);
    out.extend(diags.iter().map(|d| loaded.places.to_file(d, file)));
    (checked, out)
}

/// Checks the schema the front end built; `None` when there were errors. The checker runs
/// only over a schema the front end read without errors.
pub fn check(schema: &Schema, diags: &mut Diagnostics) -> Option<CheckedSchema> {
    if diags.has_errors() {
        return None;
    }
    crate::check::check(schema, diags).filter(|_| !diags.has_errors())
}

/// The first `#[…schema]` module of a file, searched through inline modules.
pub fn find_module(items: &[Item]) -> Option<(&ItemMod, TokenStream)> {
    items.iter().find_map(|item| match item {
        Item::Mod(m) => match m.attrs.iter().find(|a| a.path().segments.last().is_some_and(|s| s.ident == "schema")) {
            Some(attr) => {
                let args = match &attr.meta {
                    syn::Meta::List(list) => list.tokens.clone(),
                    _ => TokenStream::new(),
                };
                Some((m, args))
            }
            None => m.content.as_ref().and_then(|(_, items)| find_module(items)),
        },
        _ => None,
    })
}

fn derives_collection(attrs: &[Attribute]) -> bool {
    attrs.iter().filter(|a| a.path().is_ident("derive")).any(|a| {
        let mut found = false;
        let _ = a.parse_nested_meta(|meta| {
            found |= meta.path.segments.last().is_some_and(|s| s.ident == "Collection");
            Ok(())
        });
        found
    })
}

/// `#[collection(name = "…")]`, or the struct's name in snake case, pluralised.
fn collection_name(s: &ItemStruct) -> String {
    let mut name = None;
    for attr in s.attrs.iter().filter(|a| a.path().is_ident("collection")) {
        let _ = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("name") {
                name = Some(meta.value()?.parse::<LitStr>()?.value());
            } else if meta.input.peek(syn::Token![=]) {
                meta.value()?.parse::<syn::Expr>()?;
            } else if meta.input.peek(syn::token::Paren) {
                let _ = meta.parse_nested_meta(|inner| Ok(drop(inner.path)));
            }
            Ok(())
        });
    }
    name.unwrap_or_else(|| plural(&s.ident.to_string().to_snake_case()))
}

/// English plural of a snake_case name, on its last word: `post` → `posts`, `category` →
/// `categories`, `box` → `boxes`.
pub fn plural(name: &str) -> String {
    let consonant_y = name.ends_with('y') && !name.ends_with(['a', 'e', 'i', 'o', 'u']) && {
        let before = name.chars().rev().nth(1);
        before.is_some_and(|c| !"aeiou".contains(c))
    };
    if consonant_y {
        format!("{}ies", &name[..name.len() - 1])
    } else if name.ends_with(['s', 'x', 'z']) || name.ends_with("ch") || name.ends_with("sh") {
        format!("{name}es")
    } else {
        format!("{name}s")
    }
}

/// Reads a schema module into the IR, giving each token it keeps a place.
struct Loader<'d> {
    places: Places,
    diags: &'d mut Diagnostics,
}
