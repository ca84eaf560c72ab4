//! A collection's `filter!` macro: its filters checked when the crate compiles, by the schema's
//! own checker (`baas_runtime::checked_filter!`, the `baas-filter` crate).

use baas_schema::ir::Collection;
use proc_macro2::TokenStream;
use quote::quote;

use super::Layout;
use crate::names::module_ident;

/// `macro_rules! filter` for `c`, handing the schema (the file `src/generated/schema.json`
/// beside it, or the IR inline) and the collection's name to `checked_filter!`, and its
/// `pub(crate) use`.
pub fn filter_macro(c: &Collection, layout: &Layout<'_>) -> TokenStream {
    let name = &c.name;
    let schema = match layout {
        Layout::Files => quote! { schema_file = "src/generated/schema.json" },
        Layout::Inline { schema_json, .. } => quote! { schema_json = #schema_json },
    };
    let docs = [
        format!(" A filter of `{name}` checked when the crate compiles, with the diagnostics of"),
        " `baas check`; each `{:placeholder}` takes a value typed by what it is compared with:".to_owned(),
        format!(" `{}::filter!(\"id != {{:id}}\", id = …)`.", module_ident(name)),
    ];
    quote! {
        #(#[doc = #docs])*
        #[allow(unused_macros)]
        macro_rules! filter {
            ($($filter:tt)*) => {
                ::baas_runtime::checked_filter!(#schema, collection = #name, $($filter)*)
            };
        }

        #[allow(unused_imports)]
        pub(crate) use filter;
    }
}
