//! How the backend module ties the user's hooks to the collections. The hooks themselves are
//! the runtime's `CollectionHooks<R>` over each collection's record type (every method has a
//! default), so nothing per collection is generated for them: the user writes
//! `impl CollectionHooks<Post> for Hooks {}` in `src/hooks.rs`.

use baas_schema::ir::Collection;
use proc_macro2::TokenStream;
use quote::quote;

use crate::names::{module_ident, record_type};

/// `Hooks`: every collection's hooks at once, implemented by any type that implements them
/// all; and `NoHooks`, which implements them all with their defaults.
pub fn hooks(collections: &[Collection]) -> TokenStream {
    let bounds: Vec<TokenStream> = collections
        .iter()
        .map(|c| {
            let (m, ty) = (module_ident(&c.name), record_type(&c.name));
            quote! { ::baas_runtime::CollectionHooks<#m::#ty> }
        })
        .collect();
    let types: Vec<String> =
        collections.iter().map(|c| format!("{}::{}", module_ident(&c.name), record_type(&c.name))).collect();
    let note = format!(
        "implement `baas_runtime::CollectionHooks<R>` for `{{Self}}` with the record type `R` of each \
         collection ({}) in src/hooks.rs; every method has a default",
        types.join(", ")
    );
    quote! {
        /// Every collection's hooks; implemented by your `Hooks` type in `src/hooks.rs`.
        #[diagnostic::on_unimplemented(message = "`{Self}` does not implement the hooks of every collection", note = #note)]
        pub trait Hooks
        where
            Self: #(#bounds)+*,
        {
        }

        impl<T> Hooks for T where T: #(#bounds)+* {}

        /// Hooks that do nothing: `backend(NoHooks)` serves the schema as it is.
        #[allow(unused_imports)]
        pub use ::baas_runtime::collection::NoHooks;
    }
}

/// The collection as the backend hands it to the runtime: its rules and the user's `hooks`
/// (an `Arc` of a `Hooks` type; `backend()` imports `CollectionSpec`).
pub fn spec(c: &Collection) -> TokenStream {
    let (m, ty) = (module_ident(&c.name), record_type(&c.name));
    quote! { CollectionSpec::typed::<#m::#ty>(&#m::RULES, &hooks) }
}
