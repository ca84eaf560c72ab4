//! A collection's record type: the struct typed hooks see, its `baas_runtime::TypedRecord`
//! impl, and its field constants.

use baas_schema::ir::{Collection, Field, FieldType};
use proc_macro2::TokenStream;
use quote::quote;

use crate::names::{field_ident, fields_module, record_type};

/// The record struct of `c` (its [`typed_fields`]) and its impl of `TypedRecord`. The module
/// imports serde's derives and `TypedRecord` (and serde_json's `Value` when a field is JSON).
pub fn record(c: &Collection) -> TokenStream {
    let ty = record_type(&c.name);
    let doc = format!(" A record of `{}`, as hooks see it.", c.name);
    let fields = typed_fields(c).map(field);
    let auth = c.is_auth().then(|| {
        let docs = [
            format!(" The caller, signed in as a record of `{}` (an axum extractor): 401 without a valid", c.name),
            " token, 403 for a caller of another collection.".to_owned(),
        ];
        quote! {
            #(#[doc = #docs])*
            #[allow(dead_code)]
            pub type Auth = ::baas_runtime::Auth<#ty>;
        }
    });
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

        #auth
    }
}

/// The fields the record struct has: every field but passwords and hidden ones.
pub fn typed_fields(c: &Collection) -> impl Iterator<Item = &Field> {
    c.fields.iter().filter(|f| !matches!(f.ty, FieldType::Password) && !f.hidden)
}

/// `pub mod post { pub const title: Field<Post, String> = Field::new("title"); … }`: the
/// fields of `c` for typed patches, sorts and field errors, one constant per struct field.
pub fn field_constants(c: &Collection) -> TokenStream {
    let ty = record_type(&c.name);
    let module = fields_module(&ty);
    // the example names a field the collection has
    let example =
        typed_fields(c).find(|f| f.name != "id").map_or_else(|| "id".to_owned(), |f| field_ident(&f.name).to_string());
    let docs = [
        format!(" The fields of `{}`, typed by their values, for patches", c.name),
        format!(" (`.set({module}::{example}, …)`), sorts (`{module}::{example}.desc()`) and field errors"),
        format!(" (`{module}::{example}.invalid(code, message)`)."),
    ];
    let constants = typed_fields(c).map(|f| {
        let (ident, name) = (field_ident(&f.name), &f.name);
        let value = match f.ty {
            FieldType::Json => quote! { ::baas_runtime::deps::serde_json::Value },
            _ => rust_type(f),
        };
        quote! { pub const #ident: Field<#ty, #value> = Field::new(#name); }
    });
    quote! {
        #(#[doc = #docs])*
        #[allow(non_upper_case_globals, dead_code)]
        pub mod #module {
            use ::baas_runtime::Field;

            use super::#ty;

            #(#constants)*
        }
    }
}

/// The Rust type of `f` in the record struct.
fn rust_type(f: &Field) -> TokenStream {
    match &f.ty {
        t if t.is_multiple() => quote! { Vec<String> },
        FieldType::Number { integer: true, .. } => quote! { i64 },
        FieldType::Number { .. } => quote! { f64 },
        FieldType::Bool => quote! { bool },
        FieldType::Json => quote! { Value },
        _ => quote! { String },
    }
}

fn field(f: &Field) -> TokenStream {
    let ident = field_ident(&f.name);
    let ty = rust_type(f);
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
