//! A collection's record type: the struct typed hooks see, and its `baas_runtime::TypedRecord`
//! impl.

use baas_schema::ir::{Collection, Field, FieldType};
use proc_macro2::TokenStream;
use quote::quote;

use crate::names::{field_ident, record_type};

/// The record struct of `c` (its [`typed_fields`]) and its impl of `TypedRecord`. The module
/// imports serde's derives and `TypedRecord` (and serde_json's `Value` when a field is JSON).
pub fn record(c: &Collection) -> TokenStream {
    let ty = record_type(&c.name);
    let doc = format!(" A record of `{}`, as hooks see it.", c.name);
    let fields = typed_fields(c).map(field);
    quote! {
        #[doc = #doc]
        #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
        #[serde(crate = "::baas_runtime::deps::serde", default)]
        pub struct #ty {
            #(#fields)*
        }

        impl TypedRecord for #ty {
            const COLLECTION: &'static str = NAME;
        }
    }
}

/// The fields the record struct has: every field but passwords and hidden ones.
pub fn typed_fields(c: &Collection) -> impl Iterator<Item = &Field> {
    c.fields.iter().filter(|f| !matches!(f.ty, FieldType::Password) && !f.hidden)
}

fn field(f: &Field) -> TokenStream {
    let ident = field_ident(&f.name);
    let ty = match &f.ty {
        t if t.is_multiple() => quote! { Vec<String> },
        FieldType::Number { integer: true, .. } => quote! { i64 },
        FieldType::Number { .. } => quote! { f64 },
        FieldType::Bool => quote! { bool },
        FieldType::Json => quote! { Value },
        _ => quote! { String },
    };
    let doc = format!(" `{}` ({}{})", f.name, f.ty.name(), if f.required { ", required" } else { "" });
    let rename = (ident.to_string().trim_start_matches("r#") != f.name).then(|| {
        let name = &f.name;
        quote! { #[serde(rename = #name)] }
    });
    quote! {
        #[doc = #doc]
        #rename
        pub #ident: #ty,
    }
}
