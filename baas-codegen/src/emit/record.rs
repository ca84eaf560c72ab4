//! A collection's record type: the struct typed hooks see, its `baas_runtime::TypedRecord`
//! impl, and its field constants.

use baas_schema::ir::{Collection, Field, FieldType, Schema, system};
use heck::ToUpperCamelCase;
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::names::{field_ident, fields_module, module_ident, record_type};

/// The record struct of `c` (its [`typed_fields`]) and its impl of `TypedRecord`. The module
/// imports serde's derives, `TypedRecord` and `Id` (and serde_json's `Value` when a field is
/// JSON), and the record types its relations point to ([`related`]).
pub fn record(schema: &Schema, c: &Collection) -> TokenStream {
    let ty = record_type(&c.name);
    let doc = format!(" A record of `{}`, as hooks see it.", c.name);
    let fields = typed_fields(c).map(|f| field(schema, c, f));
    // each typed field from its column: the row holds every field, in schema order
    let columns = c.fields.iter().enumerate().filter(|(_, f)| typed(f)).map(|(i, f)| {
        let (ident, name, i) = (field_ident(&f.name), &f.name, proc_macro2::Literal::usize_unsuffixed(i));
        quote! { #ident: row.take(#i, #name)? }
    });
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

            fn from_row(mut row: ::baas_runtime::data::Row) -> ::baas_runtime::ApiResult<Self> {
                Ok(#ty { #(#columns,)* })
            }
        }

        #auth
    }
}

/// The fields the record struct has: every field but passwords and hidden ones.
pub fn typed_fields(c: &Collection) -> impl Iterator<Item = &Field> {
    c.fields.iter().filter(|f| typed(f))
}

fn typed(f: &Field) -> bool {
    !matches!(f.ty, FieldType::Password) && !f.hidden
}

/// `NewPost`: a record of `c` to create, `NewPost::new` taking its required fields, and its
/// `Creates` impl. The fields a create writes: every record field but the id, the autodates
/// and files (which the data API does not upload), plus the password of an auth collection.
pub fn new_record(schema: &Schema, c: &Collection) -> TokenStream {
    let (ty, new) = (record_type(&c.name), format_ident!("New{}", record_type(&c.name)));
    let writable: Vec<&Field> = typed_fields(c)
        .filter(|f| f.name != system::ID && !matches!(f.ty, FieldType::Autodate { .. } | FieldType::File { .. }))
        .collect();
    let fields = writable.iter().map(|f| field(schema, c, f));
    let password = c.is_auth().then(|| {
        quote! {
            /// `password` (required)
            pub password: String,
        }
    });
    let required: Vec<&Field> = writable.iter().copied().filter(|f| f.required).collect();
    // text arguments take anything that makes a `String`
    let text = |f: &Field| matches!(f.ty, FieldType::Text { .. } | FieldType::Email | FieldType::Url);
    let params = required.iter().map(|f| {
        let (ident, ty) = (field_ident(&f.name), rust_type(schema, c, f));
        if text(f) {
            quote! { #ident: impl Into<String> }
        } else {
            quote! { #ident: #ty }
        }
    });
    let inits = required.iter().map(|f| {
        let ident = field_ident(&f.name);
        if text(f) {
            quote! { #ident: #ident.into() }
        } else {
            quote! { #ident }
        }
    });
    let (password_param, password_init) = match c.is_auth() {
        true => (Some(quote! { password: impl Into<String>, }), Some(quote! { password: password.into(), })),
        false => (None, None),
    };
    let auth = c.is_auth();
    let allow = (required.len() + usize::from(auth) > 7).then(|| quote! { #[allow(clippy::too_many_arguments)] });
    let docs = [
        format!(" A record of `{}` to create (`tx.of::<{ty}>().create(…)`): `{new}::new` takes the", c.name),
        " required fields; set the others on what it returns, or with `..`.".to_owned(),
    ];
    quote! {
        #(#[doc = #docs])*
        #[derive(Clone, Debug, Default, PartialEq, Serialize)]
        #[serde(crate = "::baas_runtime::deps::serde")]
        #[allow(dead_code)]
        pub struct #new {
            #(#fields)*
            #password
        }

        #[allow(dead_code)]
        impl #new {
            #allow
            pub fn new(#(#params,)* #password_param) -> Self {
                #new { #(#inits,)* #password_init ..Default::default() }
            }
        }

        impl ::baas_runtime::data::Creates<#ty> for #new {
            fn to_body(&self) -> ::baas_runtime::ApiResult<::baas_runtime::Record> {
                ::baas_runtime::data::new_body(self, #auth)
            }
        }
    }
}

/// `use super::users::User;` for each other collection `c`'s relations point to (ids of a
/// collection the schema does not declare, such as `_superusers`, stay text).
pub fn related(schema: &Schema, c: &Collection) -> TokenStream {
    let mut targets: Vec<&str> = typed_fields(c)
        .filter_map(|f| match &f.ty {
            FieldType::Relation { collection, .. } if collection != &c.name && generated(schema, collection) => {
                Some(collection.as_str())
            }
            _ => None,
        })
        .collect();
    targets.sort_unstable();
    targets.dedup();
    let uses = targets.iter().map(|t| {
        let (m, ty) = (module_ident(t), record_type(t));
        quote! { use super::#m::#ty; }
    });
    quote! { #(#uses)* }
}

/// `pub enum PostTag { News, …, Other(String) }` and its `select_values!` (text and serde) for
/// each select field of `c`.
pub fn select_enums(schema: &Schema, c: &Collection) -> TokenStream {
    let enums = typed_fields(c).filter_map(|f| {
        let FieldType::Select { values, .. } = &f.ty else { return None };
        let name = select_enum(schema, c, f);
        let doc = format!(" The values of `{}.{}`.", c.name, f.name);
        let mut seen = Vec::new();
        let variants = values.iter().enumerate().map(|(i, value)| {
            let mut ident = value.to_upper_camel_case();
            if ident.is_empty() || ident.starts_with(|ch: char| ch.is_ascii_digit()) || ident == "Self" {
                ident = format!("V{ident}");
            }
            if ident == "Other" || seen.contains(&ident) {
                ident = format!("{ident}{i}");
            }
            seen.push(ident.clone());
            (format_ident!("{ident}"), value)
        });
        let (idents, values): (Vec<_>, Vec<_>) = variants.unzip();
        Some(quote! {
            #[doc = #doc]
            #[derive(Clone, Debug, PartialEq, Eq, Hash)]
            pub enum #name {
                #(#idents,)*
                /// A value the schema does not list (any more), as stored.
                Other(String),
            }

            ::baas_runtime::select_values!(#name { #(#idents = #values),* });
        })
    });
    quote! { #(#enums)* }
}

/// The enum of select field `f`: the record type and the field (`PostTag` for `posts.tags`,
/// made singular when it holds several values), `…Value` where that names a record type.
fn select_enum(schema: &Schema, c: &Collection, f: &Field) -> proc_macro2::Ident {
    let multiple = f.ty.is_multiple();
    let field = f.name.to_upper_camel_case();
    let field = match field.strip_suffix('s') {
        Some(stem) if multiple && !stem.is_empty() && !stem.ends_with('s') => stem.to_owned(),
        _ => field,
    };
    let name = format!("{}{field}", record_type(&c.name));
    let taken = schema.collections.iter().any(|other| record_type(&other.name) == name.as_str());
    if taken { format_ident!("{name}Value") } else { format_ident!("{name}") }
}

/// Whether `collection` has a generated record type.
fn generated(schema: &Schema, collection: &str) -> bool {
    collection != system::SUPERUSERS && schema.collection(collection).is_some()
}

/// `pub mod post { pub const title: Field<Post, String> = Field::new("title"); … }`: the
/// fields of `c` for typed patches, sorts and field errors, one constant per struct field.
pub fn field_constants(schema: &Schema, c: &Collection) -> TokenStream {
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
        let (ident, name, value) = (field_ident(&f.name), &f.name, rust_type(schema, c, f));
        quote! { pub const #ident: Field<#ty, #value> = Field::new(#name); }
    });
    quote! {
        #(#[doc = #docs])*
        #[allow(non_upper_case_globals, dead_code)]
        pub mod #module {
            use ::baas_runtime::Field;

            use super::*;

            #(#constants)*
        }
    }
}

/// Whether `f` is an `Option` in the record struct: a field that is not required and holds
/// one text-like value, PocketBase's `""` when empty.
fn optional(f: &Field) -> bool {
    !f.required
        && f.name != system::ID
        && !f.ty.is_multiple()
        && matches!(
            f.ty,
            FieldType::Text { .. }
                | FieldType::Email
                | FieldType::Url
                | FieldType::Date
                | FieldType::Select { .. }
                | FieldType::Relation { .. }
                | FieldType::File { .. }
        )
}

/// The Rust type of `f` in the record struct: ids and relations typed by the collection
/// they name (`Id<Post>`, `Vec<Id<Tag>>`), `Option<…>` for an optional value.
fn rust_type(schema: &Schema, c: &Collection, f: &Field) -> TokenStream {
    let ty = value_type(schema, c, f);
    if optional(f) {
        quote! { Option<#ty> }
    } else {
        ty
    }
}

/// The type of one value of `f`.
fn value_type(schema: &Schema, c: &Collection, f: &Field) -> TokenStream {
    match &f.ty {
        _ if f.name == system::ID => {
            let ty = record_type(&c.name);
            quote! { Id<#ty> }
        }
        FieldType::Relation { collection, multiple, .. } if generated(schema, collection) => {
            let ty = record_type(collection);
            if *multiple {
                quote! { Vec<Id<#ty>> }
            } else {
                quote! { Id<#ty> }
            }
        }
        FieldType::Select { multiple: true, .. } => {
            let name = select_enum(schema, c, f);
            quote! { Vec<#name> }
        }
        FieldType::Select { .. } => {
            let name = select_enum(schema, c, f);
            quote! { #name }
        }
        t if t.is_multiple() => quote! { Vec<String> },
        FieldType::Number { integer: true, .. } => quote! { i64 },
        FieldType::Number { .. } => quote! { f64 },
        FieldType::Bool => quote! { bool },
        FieldType::Json => quote! { Value },
        FieldType::Date | FieldType::Autodate { .. } => quote! { DateTime },
        _ => quote! { String },
    }
}

fn field(schema: &Schema, c: &Collection, f: &Field) -> TokenStream {
    let ident = field_ident(&f.name);
    let ty = rust_type(schema, c, f);
    let doc = format!(" `{}` ({}{})", f.name, f.ty.name(), if f.required { ", required" } else { "" });
    let rename = (ident.to_string().trim_start_matches("r#") != f.name).then(|| {
        let name = &f.name;
        quote! { #[serde(rename = #name)] }
    });
    // an optional field's empty value is `None`
    let optional = optional(f).then(|| quote! { #[serde(with = "::baas_runtime::data::optional")] });
    quote! {
        #[doc = #doc]
        #rename
        #optional
        pub #ident: #ty,
    }
}
