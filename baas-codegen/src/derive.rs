//! The derive flow: `#[baas_runtime::schema] mod blog { … }` expands into the same backend
//! module `baas generate` writes to `src/generated/`, inline.
//!
//! [`expand`] is what the proc macro calls; it works on `proc_macro2` tokens, so it is tested
//! (and snapshotted) as a plain function. It never panics: on errors it returns the
//! diagnostics as `compile_error!`s beside a backend that still compiles — built without the
//! rules or indexes that failed, or as a skeleton — so one mistake reports once.

use std::path::{Path, PathBuf};

use baas_schema::front::derive::{Loaded, Places, check};
use baas_schema::{CheckedSchema, Diagnostic, Diagnostics, Schema};
use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote};
use syn::ItemMod;

use crate::names::{fields_module, module_ident, record_type};
use crate::{Previous, emit, openapi, schema_json};

/// Expands `#[schema(args)] item`. The migrations folder is looked up in `CARGO_MANIFEST_DIR`.
pub fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let crate_dir = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from);
    expand_in(args, item, crate_dir.as_deref())
}

/// [`expand`] with the crate folder given (`None`: no migrations are embedded).
pub fn expand_in(args: TokenStream, item: TokenStream, crate_dir: Option<&Path>) -> TokenStream {
    let module: ItemMod = match syn::parse2(item.clone()) {
        Ok(module) => module,
        Err(_) => {
            let error = syn::Error::new(
                Span::call_site(),
                "#[schema] goes on an inline module of collection structs: `mod blog { … }`",
            );
            let error = error.to_compile_error();
            return quote! { #error #item };
        }
    };
    let mut diags = Diagnostics::new();
    let loaded = baas_schema::front::derive::load(args, &module, &mut diags);
    let checked = check(&loaded.schema, &mut diags);
    let mut errors: Vec<TokenStream> = diags
        .clone()
        .into_sorted()
        .iter()
        .enumerate()
        .map(|(i, d)| if d.is_error() { compile_error(d, &loaded.places) } else { warning(i, d, &loaded.places) })
        .collect();
    let body = match checked {
        Some(checked) => {
            let history = match crate_dir {
                Some(dir) => migrations(&checked, &loaded, dir, &module),
                None => Ok(None),
            };
            let history = history.unwrap_or_else(|e| {
                errors.push(e.to_compile_error());
                None
            });
            backend(&checked, &loaded, history, &module.ident.to_string())
        }
        None => match fallback(&loaded.schema) {
            Some(checked) => backend(&checked, &loaded, None, &module.ident.to_string()),
            None => skeleton(&loaded),
        },
    };
    let ItemMod { attrs, vis, ident, .. } = &module;
    let others = loaded.other_items.iter().map(|item| match item {
        // `use baas_runtime::Collection;` serves the derives this expansion consumed.
        syn::Item::Use(u) if u.to_token_stream().to_string().contains("Collection") => {
            quote! { #[allow(unused_imports)] #u }
        }
        other => other.to_token_stream(),
    });
    quote! {
        #(#attrs)*
        #vis mod #ident {
            #(#errors)*
            #(#others)*
            #body
        }
    }
}

/// A checked schema for the code around the errors: the schema without its rules (everything
/// superusers only) and, if that is not enough, without its indexes.
fn fallback(schema: &Schema) -> Option<CheckedSchema> {
    let mut stripped = schema.clone();
    for c in &mut stripped.collections {
        c.rules = Default::default();
    }
    let mut ignored = Diagnostics::new();
    if let Some(checked) = check(&stripped, &mut ignored) {
        return Some(checked);
    }
    for c in &mut stripped.collections {
        c.indexes.clear();
    }
    check(&stripped, &mut Diagnostics::new())
}

/// A warning: stable proc macros cannot emit one, so it is a use of a deprecated constant at
/// the token, whose note is the message.
fn warning(i: usize, d: &Diagnostic, places: &Places) -> TokenStream {
    let (span, message) = message(d, places);
    let name = quote::format_ident!("baas_warning_{i}");
    let used = syn::Ident::new(&name.to_string(), span);
    quote! {
        #[deprecated(note = #message)]
        #[allow(non_upper_case_globals)]
        const #name: () = ();
        const _: () = #used;
    }
}

/// A diagnostic as a `compile_error!` at its token.
fn compile_error(d: &Diagnostic, places: &Places) -> TokenStream {
    let (span, message) = message(d, places);
    syn::Error::new(span, message).to_compile_error()
}

/// Where a diagnostic points, and its text. Inside a string literal the message shows
/// the literal with a caret under the exact characters (stable Rust cannot point into one).
fn message(d: &Diagnostic, places: &Places) -> (Span, String) {
    let place = d.span.and_then(|span| places.find(span).map(|p| (span, p)));
    let mut message = d.message.clone();
    let span = match place {
        Some((span, place)) => {
            if place.text.starts_with(['"', 'r']) && place.text.ends_with(['"', '#']) {
                let within = span.start - place.range.start;
                let lead: String = place.text[..within.min(place.text.len())].chars().map(|_| ' ').collect();
                let width = place.text.get(within..within + span.len()).map_or(1, |t| t.chars().count().max(1));
                message.push_str(&format!("\n  {}\n  {lead}{}", place.text, "^".repeat(width)));
            }
            place.token
        }
        None => Span::call_site(),
    };
    if let Some(help) = &d.help {
        message.push_str(&format!("\n  = help: {help}"));
    }
    for note in &d.notes {
        message.push_str(&format!("\n  = note: {note}"));
    }
    (span, message)
}

/// The migrations of the crate: they must already reach the schema (a macro never writes
/// files; `baas migrations` does).
fn migrations(
    checked: &CheckedSchema,
    loaded: &Loaded,
    crate_dir: &Path,
    module: &ItemMod,
) -> Result<Option<(PathBuf, Vec<String>)>, syn::Error> {
    let relative = loaded.migrations.as_deref().unwrap_or("migrations");
    let dir = crate_dir.join(relative);
    let file = source_file(module);
    let command = format!("baas migrations {file} --dir {}", dir.display());
    let at = module.ident.span();
    let previous = Previous::read_dir(&dir).map_err(|e| syn::Error::new(at, e))?;
    let Some(previous) = previous else {
        return Err(syn::Error::new(
            at,
            format!(
                "the schema has no migrations yet: {} has no schema.json\n  = help: write them: `{command}`",
                dir.display()
            ),
        ));
    };
    let plan = crate::diff::plan(&previous.schema, &checked.schema);
    if !plan.is_empty() {
        let changes: Vec<&str> = plan.changes.iter().map(|c| c.summary.as_str()).collect();
        return Err(syn::Error::new(
            at,
            format!(
                "the schema changed since the last migration ({}): {}\n  = help: write the next migration: `{command}`",
                dir.join("schema.json").display(),
                changes.join("; ")
            ),
        ));
    }
    Ok(Some((dir, previous.migrations)))
}

/// The file the module is in, as the compiler names it (for help texts).
fn source_file(module: &ItemMod) -> String {
    let file = module.ident.span().file();
    if file.is_empty() || file.starts_with('<') { "<the file with this module>".to_owned() } else { file }
}

/// The backend module's contents, with each collection struct's name re-exported.
fn backend(
    checked: &CheckedSchema,
    loaded: &Loaded,
    history: Option<(PathBuf, Vec<String>)>,
    name: &str,
) -> TokenStream {
    let (dir, names) = history.unwrap_or_default();
    let json = schema_json(checked);
    let openapi = openapi::document(checked, name);
    // The snapshot is read so the compiler rebuilds when `baas migrations` rewrites it.
    let snapshot = (!names.is_empty()).then(|| {
        let path = dir.join("schema.json").display().to_string();
        quote! { const _: &str = include_str!(#path); }
    });
    let layout = emit::Layout::Inline { schema_json: &json, openapi_json: &openapi, migrations: &dir };
    let module = emit::generated_mod(checked, &names, &layout);
    let exports = reexports(loaded, |name| checked.schema.collection(name).is_some());
    quote! { #module #snapshot #exports }
}

/// `pub use posts::Post as Post;` and `pub use posts::post as post;` (the field constants)
/// for each collection struct.
fn reexports(loaded: &Loaded, exists: impl Fn(&str) -> bool) -> TokenStream {
    let items = loaded.structs.iter().filter(|(_, name)| exists(name)).map(|(ident, name)| {
        let (m, ty) = (module_ident(name), record_type(name));
        let (fields, as_fields) = (fields_module(&ty), fields_module(ident));
        quote! {
            pub use #m::#ty as #ident;
            pub use #m::#fields as #as_fields;
        }
    });
    quote! { #(#items)* }
}

/// When even a schema without rules does not check: the record types (with no fields),
/// `NoHooks` and `backend()` exist, so code using them reports nothing more.
fn skeleton(loaded: &Loaded) -> TokenStream {
    let structs = loaded.structs.iter().map(|(ident, name)| {
        quote! {
            #[derive(Clone, Debug, Default, PartialEq, ::baas_runtime::deps::serde::Serialize, ::baas_runtime::deps::serde::Deserialize)]
            #[serde(crate = "::baas_runtime::deps::serde")]
            pub struct #ident {}

            impl ::baas_runtime::TypedRecord for #ident {
                const COLLECTION: &'static str = #name;

                fn from_row(_row: ::baas_runtime::data::Row) -> ::baas_runtime::ApiResult<Self> {
                    Ok(Self {})
                }
            }
        }
    });
    quote! {
        #(#structs)*
        pub use ::baas_runtime::collection::NoHooks;
        pub fn backend<H>(_hooks: H) -> ::baas_runtime::Backend {
            ::core::unreachable!("the schema has errors")
        }
    }
}

/// `#[derive(Collection)]` outside a `#[schema]` module: collections are read together (so
/// relations and rules are checked across them), never one by one.
pub fn outside_schema(item: TokenStream) -> TokenStream {
    let span = syn::parse2::<syn::DeriveInput>(item).map_or(Span::call_site(), |d| d.ident.span());
    syn::Error::new(
        span,
        "#[derive(Collection)] describes a collection of a schema module\n  = help: put the struct in a module marked \
         `#[baas_runtime::schema]`, which reads all its collections together",
    )
    .to_compile_error()
}
