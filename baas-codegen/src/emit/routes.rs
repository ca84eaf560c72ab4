//! A collection's HTTP routes: the runtime's five record endpoints
//! (`baas_runtime::records::routes`), under the collection's name and id. The endpoints are
//! one implementation in the runtime, shared with `_superusers`; custom routes in
//! `src/hooks.rs` call `baas_runtime::records::{list, view, create, update, delete}`.

use proc_macro2::TokenStream;
use quote::quote;

/// `routes()`. The module imports `Router`, `AppState` and `records`.
pub fn routes() -> TokenStream {
    quote! {
        /// The collection's record endpoints (list, view, create, update, delete), by name and
        /// by id.
        pub fn routes() -> Router<AppState> {
            records::routes(NAME, ID)
        }
    }
}
