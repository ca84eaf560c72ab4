//! Rust emission: `quote!` per concept, formatted with prettyplease. Nothing here assembles
//! Rust from strings; a malformed token stream fails inside the generator, not in the user's
//! build.

use baas_schema::CheckedSchema;
use baas_schema::check::TExpr;
use baas_schema::expr::ast::Literal;
use baas_schema::ir::{Action, Collection, Field, FieldType};
use baas_schema::sql::{self, Bind, BindValue, Dialect, Fragment, SqlTy, Target};
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::names::{field_ident, hooks_trait, module_ident, record_type};

/// Formats a token stream as a file, with `header` lines (comments) on top.
pub fn file(header: &str, tokens: TokenStream) -> String {
    let parsed: syn::File = match syn::parse2(tokens.clone()) {
        Ok(file) => file,
        Err(e) => panic!("baas generated invalid Rust ({e}); this is a bug in baas:\n{tokens}"),
    };
    format!("{header}{}", prettyplease::unparse(&parsed))
}

/// Where the backend module's parts live.
pub enum Layout<'a> {
    /// `src/generated/`: a file per collection; the JSON documents and migrations are read
    /// with `include_str!` relative to it.
    Files,
    /// One token stream (a macro's expansion, a build script's output file): collection
    /// modules inline, the JSON documents as literals, migrations read with `include_str!`
    /// from the absolute folder `migrations`.
    Inline { schema_json: &'a str, openapi_json: &'a str, migrations: &'a std::path::Path },
}

/// The backend module (`src/generated/mod.rs`, or all of it inline): collection modules,
/// embedded schema and migrations, `backend()`.
pub fn generated_mod(schema: &CheckedSchema, migrations: &[String], layout: &Layout<'_>) -> TokenStream {
    let collections = &schema.schema.collections;
    let mods = collections.iter().map(|c| {
        let m = module_ident(&c.name);
        let doc = format!(" The `{}` collection.", c.name);
        match layout {
            Layout::Files => quote! { #[doc = #doc] pub mod #m; },
            Layout::Inline { .. } => {
                let body = collection_module(schema, c);
                quote! { #[doc = #doc] pub mod #m { #body } }
            }
        }
    });
    let (schema_json, openapi_json) = match layout {
        Layout::Files => (quote! { include_str!("schema.json") }, quote! { include_str!("openapi.json") }),
        Layout::Inline { schema_json, openapi_json, .. } => (quote! { #schema_json }, quote! { #openapi_json }),
    };
    let no_hooks = collections.iter().map(|c| {
        let (m, t) = (module_ident(&c.name), hooks_trait(&c.name));
        quote! { impl #m::#t for NoHooks {} }
    });
    let bounds: Vec<TokenStream> = collections
        .iter()
        .map(|c| {
            let (m, t) = (module_ident(&c.name), hooks_trait(&c.name));
            quote! { #m::#t }
        })
        .collect();
    let specs = collections.iter().map(|c| {
        let m = module_ident(&c.name);
        quote! {
            ::baas_runtime::CollectionSpec {
                name: #m::NAME,
                rules: #m::rules(),
                hooks: ::std::sync::Arc::new(#m::Adapter::new(hooks.clone())),
            }
        }
    });
    let routes = collections.iter().map(|c| {
        let m = module_ident(&c.name);
        quote! { .merge(#m::routes()) }
    });
    let migration_list = |dialect: &str| {
        let items = migrations.iter().map(|name| {
            let path = match layout {
                Layout::Files => format!("../../migrations/{dialect}/{name}"),
                Layout::Inline { migrations, .. } => migrations.join(dialect).join(name).display().to_string(),
            };
            quote! { ::baas_runtime::Migration { name: #name, sql: include_str!(#path) } }
        });
        quote! { &[#(#items),*] }
    };
    let (sqlite, postgres) = (migration_list("sqlite"), migration_list("postgres"));
    quote! {
        #(#mods)*

        /// The schema these modules were generated from, as the runtime reads it.
        pub const SCHEMA_JSON: &str = #schema_json;

        /// The OpenAPI 3.1 document of this API, served at `/api/openapi.json`.
        pub const OPENAPI_JSON: &str = #openapi_json;

        /// Migrations for SQLite, in order.
        pub static SQLITE_MIGRATIONS: &[::baas_runtime::Migration] = #sqlite;

        /// Migrations for PostgreSQL, in order.
        pub static POSTGRES_MIGRATIONS: &[::baas_runtime::Migration] = #postgres;

        /// Every collection's hooks; implemented by your `Hooks` type in `src/hooks.rs`.
        pub trait Hooks: #(#bounds)+* {}

        impl<T: #(#bounds)+*> Hooks for T {}

        /// Hooks that do nothing: `backend(NoHooks)` serves the schema as it is.
        #[allow(dead_code)]
        pub struct NoHooks;

        #(#no_hooks)*

        /// The backend: schema, rules, hooks, migrations and the generated routes.
        pub fn backend<H: Hooks>(hooks: H) -> ::baas_runtime::Backend {
            let hooks = ::std::sync::Arc::new(hooks);
            ::baas_runtime::Backend {
                schema_json: SCHEMA_JSON,
                openapi_json: OPENAPI_JSON,
                collections: vec![#(#specs),*],
                sqlite_migrations: SQLITE_MIGRATIONS,
                postgres_migrations: POSTGRES_MIGRATIONS,
                routes: ::baas_runtime::deps::axum::Router::new() #(#routes)*,
            }
        }
    }
}

/// `src/generated/<collection>.rs`: the record type, hooks trait, compiled rules, handlers.
pub fn collection_module(schema: &CheckedSchema, c: &Collection) -> TokenStream {
    let name = &c.name;
    let id = &c.id;
    let ty = record_type(name);
    let hooks = hooks_trait(name);
    let record_doc = format!(" A record of `{name}`, as hooks see it.");
    let fields = c.fields.iter().filter(|f| !matches!(f.ty, FieldType::Password) && !f.hidden).map(struct_field);
    let rules = rule_set(schema, c);
    let mut rules_doc = String::from(" The access rules, compiled to SQL when this file was generated:\n");
    for action in Action::ALL {
        let text = match c.rules.get(action) {
            None => "superusers only".to_owned(),
            Some(r) if r.is_public() => "everyone".to_owned(),
            Some(r) => format!("`{}`", r.expr),
        };
        rules_doc.push_str(&format!("\n- {}: {text}", action.name()));
    }
    let var = match heck::ToSnakeCase::to_snake_case(ty.to_string().as_str()).as_str() {
        taken @ ("old" | "cx" | "record" | "typed") => format_ident!("{taken}_record"),
        snake => field_ident(snake),
    };
    let hooks_doc = format!(
        " Hooks of `{name}`. Every method has a default that does nothing; override what you need in `src/hooks.rs`."
    );
    let unimplemented = format!("`{{Self}}` does not implement the hooks of collection `{name}`");
    let unimplemented_note = format!(
        "add `impl crate::generated::{}::{hooks} for Hooks {{{{}}}}` to src/hooks.rs (every method has a default)",
        module_ident(name)
    );
    let list_path = format!("/api/collections/{name}/records");
    let one_path = format!("/api/collections/{name}/records/{{id}}");
    let list_path_id = format!("/api/collections/{id}/records");
    let one_path_id = format!("/api/collections/{id}/records/{{id}}");
    let list_doc = format!(" `GET /api/collections/{name}/records`: list and search.");
    let view_doc = format!(" `GET /api/collections/{name}/records/{{id}}`: one record.");
    let create_doc = format!(" `POST /api/collections/{name}/records`: create.");
    let update_doc = format!(" `PATCH /api/collections/{name}/records/{{id}}`: update.");
    let delete_doc = format!(" `DELETE /api/collections/{name}/records/{{id}}`: delete.");
    quote! {
        use ::std::sync::Arc;

        use ::baas_runtime::deps::axum::extract::{Path, State};
        use ::baas_runtime::deps::axum::http::StatusCode;
        use ::baas_runtime::deps::axum::routing::get;
        use ::baas_runtime::deps::axum::{Json, Router};
        use ::baas_runtime::deps::serde_json::Value;
        use ::baas_runtime::{ApiError, ApiResult, AppState, Hook, HookContext, HookDefaults, Record, RequestCx, records};

        /// The collection's name.
        pub const NAME: &str = #name;
        /// The collection's wire id (`collectionId`).
        pub const ID: &str = #id;

        #[doc = #record_doc]
        #[derive(Clone, Debug, Default, PartialEq, ::baas_runtime::deps::serde::Serialize, ::baas_runtime::deps::serde::Deserialize)]
        #[serde(crate = "::baas_runtime::deps::serde", default)]
        pub struct #ty {
            #(#fields)*
        }

        impl #ty {
            /// Reads the typed record from the runtime's JSON record.
            pub fn from_record(record: &Record) -> ApiResult<Self> {
                ::baas_runtime::deps::serde_json::from_value(Value::Object(record.clone())).map_err(ApiError::internal)
            }

            /// Writes the typed fields back over `record` (secrets and system keys stay).
            pub fn write_to(&self, record: &mut Record) -> ApiResult<()> {
                match ::baas_runtime::deps::serde_json::to_value(self).map_err(ApiError::internal)? {
                    Value::Object(fields) => {
                        record.extend(fields);
                        Ok(())
                    }
                    _ => Err(ApiError::internal("a record serialized to a non-object")),
                }
            }
        }

        #[doc = #hooks_doc]
        #[diagnostic::on_unimplemented(
            message = #unimplemented,
            note = #unimplemented_note
        )]
        pub trait #hooks: Send + Sync + 'static {
            /// Before a record is inserted, inside the transaction; an error aborts the create.
            fn before_create(&self, #var: &mut #ty, cx: &HookContext<'_>) -> ApiResult<()> {
                let _ = (#var, cx);
                HookDefaults::ran_default(NAME, Hook::BeforeCreate);
                Ok(())
            }
            /// After a record was inserted (still inside the transaction).
            fn after_create(&self, #var: &#ty, cx: &HookContext<'_>) {
                let _ = (#var, cx);
                HookDefaults::ran_default(NAME, Hook::AfterCreate);
            }
            /// Before a record is updated; `old` is the stored state.
            fn before_update(&self, old: &#ty, #var: &mut #ty, cx: &HookContext<'_>) -> ApiResult<()> {
                let _ = (old, #var, cx);
                HookDefaults::ran_default(NAME, Hook::BeforeUpdate);
                Ok(())
            }
            /// After a record was updated.
            fn after_update(&self, #var: &#ty, cx: &HookContext<'_>) {
                let _ = (#var, cx);
                HookDefaults::ran_default(NAME, Hook::AfterUpdate);
            }
            /// Before a record is deleted; an error aborts the delete.
            fn before_delete(&self, #var: &#ty, cx: &HookContext<'_>) -> ApiResult<()> {
                let _ = (#var, cx);
                HookDefaults::ran_default(NAME, Hook::BeforeDelete);
                Ok(())
            }
            /// After a record was deleted.
            fn after_delete(&self, #var: &#ty, cx: &HookContext<'_>) {
                let _ = (#var, cx);
                HookDefaults::ran_default(NAME, Hook::AfterDelete);
            }
            /// Each record a list or view returns, before it is shaped for the client.
            fn on_read(&self, #var: &mut #ty, cx: &HookContext<'_>) {
                let _ = (#var, cx);
                HookDefaults::ran_default(NAME, Hook::OnRead);
            }
        }

        /// Adapts the typed hooks to the runtime's record hooks. A hook left at its default is
        /// learned as such on its first call; records are not converted for it after that.
        pub struct Adapter<H> {
            hooks: Arc<H>,
            defaults: HookDefaults,
        }

        impl<H> Adapter<H> {
            pub fn new(hooks: Arc<H>) -> Self {
                Adapter { hooks, defaults: HookDefaults::default() }
            }
        }

        impl<H: #hooks> ::baas_runtime::RecordHooks for Adapter<H> {
            fn before_create(&self, record: &mut Record, cx: &HookContext<'_>) -> ApiResult<()> {
                if self.defaults.skips(Hook::BeforeCreate) {
                    return Ok(());
                }
                let mut typed = #ty::from_record(record)?;
                let (result, default) =
                    self.defaults.run(NAME, Hook::BeforeCreate, || self.hooks.before_create(&mut typed, cx));
                result?;
                if default { Ok(()) } else { typed.write_to(record) }
            }
            fn after_create(&self, record: &Record, cx: &HookContext<'_>) {
                if self.defaults.skips(Hook::AfterCreate) {
                    return;
                }
                if let Ok(typed) = #ty::from_record(record) {
                    self.defaults.run(NAME, Hook::AfterCreate, || self.hooks.after_create(&typed, cx));
                }
            }
            fn before_update(&self, old: &Record, record: &mut Record, cx: &HookContext<'_>) -> ApiResult<()> {
                if self.defaults.skips(Hook::BeforeUpdate) {
                    return Ok(());
                }
                let old = #ty::from_record(old)?;
                let mut typed = #ty::from_record(record)?;
                let (result, default) =
                    self.defaults.run(NAME, Hook::BeforeUpdate, || self.hooks.before_update(&old, &mut typed, cx));
                result?;
                if default { Ok(()) } else { typed.write_to(record) }
            }
            fn after_update(&self, record: &Record, cx: &HookContext<'_>) {
                if self.defaults.skips(Hook::AfterUpdate) {
                    return;
                }
                if let Ok(typed) = #ty::from_record(record) {
                    self.defaults.run(NAME, Hook::AfterUpdate, || self.hooks.after_update(&typed, cx));
                }
            }
            fn before_delete(&self, record: &Record, cx: &HookContext<'_>) -> ApiResult<()> {
                if self.defaults.skips(Hook::BeforeDelete) {
                    return Ok(());
                }
                let typed = #ty::from_record(record)?;
                self.defaults.run(NAME, Hook::BeforeDelete, || self.hooks.before_delete(&typed, cx)).0
            }
            fn after_delete(&self, record: &Record, cx: &HookContext<'_>) {
                if self.defaults.skips(Hook::AfterDelete) {
                    return;
                }
                if let Ok(typed) = #ty::from_record(record) {
                    self.defaults.run(NAME, Hook::AfterDelete, || self.hooks.after_delete(&typed, cx));
                }
            }
            fn on_read(&self, record: &mut Record, cx: &HookContext<'_>) {
                if self.defaults.skips(Hook::OnRead) {
                    return;
                }
                if let Ok(mut typed) = #ty::from_record(record) {
                    let ((), default) = self.defaults.run(NAME, Hook::OnRead, || self.hooks.on_read(&mut typed, cx));
                    if !default {
                        let _ = typed.write_to(record);
                    }
                }
            }
        }

        #[doc = #rules_doc]
        pub fn rules() -> ::baas_runtime::RuleSet {
            #rules
        }

        fn collection(app: &AppState) -> ApiResult<Arc<::baas_runtime::collection::Coll>> {
            app.collection(ID).ok_or_else(ApiError::not_found)
        }

        #[doc = #list_doc]
        pub async fn list(State(app): State<AppState>, req: RequestCx) -> ApiResult<Json<Value>> {
            records::list(&app, collection(&app)?, Arc::new(req)).await.map(Json)
        }

        #[doc = #view_doc]
        pub async fn view(State(app): State<AppState>, Path(id): Path<String>, req: RequestCx) -> ApiResult<Json<Value>> {
            records::view(&app, collection(&app)?, id, Arc::new(req)).await.map(Json)
        }

        #[doc = #create_doc]
        pub async fn create(State(app): State<AppState>, req: RequestCx) -> ApiResult<Json<Value>> {
            records::create(&app, collection(&app)?, Arc::new(req)).await.map(Json)
        }

        #[doc = #update_doc]
        pub async fn update(State(app): State<AppState>, Path(id): Path<String>, req: RequestCx) -> ApiResult<Json<Value>> {
            records::update(&app, collection(&app)?, id, Arc::new(req)).await.map(Json)
        }

        #[doc = #delete_doc]
        pub async fn delete(State(app): State<AppState>, Path(id): Path<String>, req: RequestCx) -> ApiResult<StatusCode> {
            records::delete(&app, collection(&app)?, id, Arc::new(req)).await.map(|()| StatusCode::NO_CONTENT)
        }

        /// The collection's routes, by name and by id.
        pub fn routes() -> Router<AppState> {
            Router::new()
                .route(#list_path, get(list).post(create))
                .route(#one_path, get(view).patch(update).delete(delete))
                .route(#list_path_id, get(list).post(create))
                .route(#one_path_id, get(view).patch(update).delete(delete))
        }
    }
}

fn struct_field(f: &Field) -> TokenStream {
    let ident = field_ident(&f.name);
    let ty = match &f.ty {
        t if t.is_multiple() => quote! { Vec<String> },
        FieldType::Number { integer: true, .. } => quote! { i64 },
        FieldType::Number { .. } => quote! { f64 },
        FieldType::Bool => quote! { bool },
        FieldType::Json => quote! { ::baas_runtime::deps::serde_json::Value },
        _ => quote! { String },
    };
    let doc = format!(" `{}` ({}{})", f.name, f.ty.name(), if f.required { ", required" } else { "" });
    let plain = ident.to_string();
    let rename = (plain.trim_start_matches("r#") != f.name).then(|| {
        let name = &f.name;
        quote! { #[serde(rename = #name)] }
    });
    quote! {
        #[doc = #doc]
        #rename
        pub #ident: #ty,
    }
}

fn rule_set(schema: &CheckedSchema, c: &Collection) -> TokenStream {
    let rules = Action::ALL.map(|action| {
        let field = format_ident!("{}", action.name());
        let value = match schema.rule(&c.name, action) {
            None => quote! { None },
            Some(TExpr::True) => quote! { Some(::baas_runtime::CompiledRule::Public) },
            Some(texpr) => {
                let record = sql::quote(&c.name);
                let compile =
                    |dialect| fragment(&sql::compile(texpr, Target { dialect, record: &record, first_param: 1 }));
                let (sqlite, postgres) = (compile(Dialect::Sqlite), compile(Dialect::Postgres));
                quote! { Some(::baas_runtime::CompiledRule::Filter { sqlite: #sqlite, postgres: #postgres }) }
            }
        };
        quote! { #field: #value, }
    });
    let record = sql::quote(&c.name);
    let filters: Vec<&TExpr> =
        Action::ALL.iter().filter_map(|&a| schema.rule(&c.name, a)).filter(|t| !matches!(t, TExpr::True)).collect();
    let binds: Vec<BindValue> = filters
        .iter()
        .flat_map(|t| sql::compile(t, Target { dialect: Dialect::Sqlite, record: &record, first_param: 1 }).binds)
        .map(|b| b.value)
        .collect();
    let any_filter = !filters.is_empty();
    let mut imports = Vec::new();
    if any_filter {
        imports.push(quote! { use ::baas_runtime::schema::sql::{Bind, BindValue, Fragment, SqlTy}; });
    }
    let uses = |pred: fn(&BindValue) -> bool| binds.iter().any(|b| uses_value(b, pred));
    if uses(|b| matches!(b, BindValue::Literal(_))) {
        imports.push(quote! { use ::baas_runtime::schema::expr::ast::Literal; });
    }
    if uses(|b| matches!(b, BindValue::Macro(_))) {
        imports.push(quote! { use ::baas_runtime::schema::expr::ast::Macro; });
    }
    quote! {
        #(#imports)*
        ::baas_runtime::RuleSet { #(#rules)* }
    }
}

fn uses_value(b: &BindValue, pred: fn(&BindValue) -> bool) -> bool {
    pred(b) || matches!(b, BindValue::LikePattern(inner) if uses_value(inner, pred))
}

fn fragment(f: &Fragment) -> TokenStream {
    let sql = &f.sql;
    let binds = f.binds.iter().map(bind);
    quote! {
        Fragment {
            sql: #sql.to_owned(),
            binds: Vec::from([#(#binds),*]),
        }
    }
}

fn bind(b: &Bind) -> TokenStream {
    let value = bind_value(&b.value);
    let ty = match b.ty {
        SqlTy::Text => quote! { Text },
        SqlTy::Number => quote! { Number },
        SqlTy::Bool => quote! { Bool },
        SqlTy::JsonArray => quote! { JsonArray },
    };
    quote! {
        Bind { value: #value, ty: SqlTy::#ty }
    }
}

fn bind_value(v: &BindValue) -> TokenStream {
    let path = quote! { BindValue };
    let lit = quote! { Literal };
    match v {
        BindValue::Literal(Literal::String(s)) => quote! { #path::Literal(#lit::String(#s.to_owned())) },
        BindValue::Literal(Literal::Number(n)) => quote! { #path::Literal(#lit::Number(#n)) },
        BindValue::Literal(Literal::Bool(b)) => quote! { #path::Literal(#lit::Bool(#b)) },
        BindValue::Literal(Literal::Null) => quote! { #path::Literal(#lit::Null) },
        BindValue::LikePattern(inner) => {
            let inner = bind_value(inner);
            quote! { #path::LikePattern(Box::new(#inner)) }
        }
        BindValue::Auth(s) => quote! { #path::Auth(#s.to_owned()) },
        BindValue::Body(s) => quote! { #path::Body(#s.to_owned()) },
        BindValue::BodyIsSet(s) => quote! { #path::BodyIsSet(#s.to_owned()) },
        BindValue::BodyLength(s) => quote! { #path::BodyLength(#s.to_owned()) },
        BindValue::Query(s) => quote! { #path::Query(#s.to_owned()) },
        BindValue::Header(s) => quote! { #path::Header(#s.to_owned()) },
        BindValue::Method => quote! { #path::Method },
        BindValue::Context => quote! { #path::Context },
        BindValue::Macro(m) => {
            let variant = format_ident!("{m:?}");
            quote! { #path::Macro(Macro::#variant) }
        }
        BindValue::Placeholder(s) => quote! { #path::Placeholder(#s.to_owned()) },
    }
}

/// `src/main.rs`, written once.
pub fn main_rs(name: &str) -> TokenStream {
    let doc = format!(" The {name} backend: generated once by baas, yours from now on.");
    quote! {
        #![doc = #doc]

        mod generated;
        mod hooks;

        fn main() -> ::std::process::ExitCode {
            ::baas_runtime::run(generated::backend(hooks::Hooks).routes(hooks::routes()))
        }
    }
}

/// `src/hooks.rs`, written once: an implementation of every hooks trait and a place for routes.
pub fn hooks_rs(schema: &CheckedSchema) -> TokenStream {
    let collections = &schema.schema.collections;
    let imports = collections.iter().map(|c| {
        let (m, t) = (module_ident(&c.name), hooks_trait(&c.name));
        quote! { use crate::generated::#m::#t; }
    });
    let impls = collections.iter().map(|c| {
        let t = hooks_trait(&c.name);
        quote! { impl #t for Hooks {} }
    });
    quote! {
        #![doc = " Your hooks and routes. Generated once by baas; regeneration never touches this file."]

        use ::baas_runtime::AppState;
        use ::baas_runtime::deps::axum::Router;
        #(#imports)*

        /// Implements every collection's hooks; override any default method.
        pub struct Hooks;

        #(#impls)*

        /// Routes of your own, served beside the generated API.
        pub fn routes() -> Router<AppState> {
            Router::new()
        }
    }
}
