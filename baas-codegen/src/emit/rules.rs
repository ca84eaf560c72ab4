//! A collection's access rules as static data (`baas_runtime::collection::Rules`): each rule
//! compiled to SQL for both dialects, with one list of parameters both share, and the rule's
//! source in its doc comment. Rules with the same source are written once and shared (`view`
//! is most often `list`). Nothing of the expression language reaches generated code.

use std::collections::BTreeSet;

use baas_schema::CheckedSchema;
use baas_schema::check::TExpr;
use baas_schema::expr::ast::Literal;
use baas_schema::ir::{Action, Collection};
use baas_schema::sql::{self, Bind, BindValue, Dialect, SqlTy, Target};
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::{doc, str_literal, upper_ident};

/// The rules of a collection: the items, and the names of `baas_runtime::collection` they use.
pub struct Emitted {
    pub names: BTreeSet<&'static str>,
    pub items: TokenStream,
}

/// `static <ACTION>: Filter` for each distinct rule with a condition, and `pub static RULES`.
pub fn rules(schema: &CheckedSchema, c: &Collection) -> Emitted {
    let mut names = BTreeSet::from(["Rule", "Rules"]);
    // (the rule's source, the actions that have it), in action order
    let mut filters: Vec<(&str, Vec<Action>)> = Vec::new();
    let mut fields = Vec::new();
    for action in Action::ALL {
        let field = format_ident!("{}", action.name());
        let value = match (schema.rule(&c.name, action), c.rules.get(action)) {
            (None, _) | (_, None) => quote! { Rule::Superusers },
            (Some(TExpr::True), _) => quote! { Rule::Public },
            (Some(_), Some(rule)) => {
                let first = match filters.iter_mut().find(|(source, _)| *source == rule.expr) {
                    Some((_, actions)) => {
                        actions.push(action);
                        actions[0]
                    }
                    None => {
                        filters.push((&rule.expr, vec![action]));
                        action
                    }
                };
                let name = upper_ident(first.name());
                quote! { Rule::Filter(&#name) }
            }
        };
        fields.push(quote! { #field: #value, });
    }
    let statics: Vec<TokenStream> = filters
        .iter()
        .map(|(source, actions)| {
            let texpr = schema.rule(&c.name, actions[0]).expect("a rule with a condition");
            filter(&c.name, source, actions, texpr, &mut names)
        })
        .collect();
    let rules_doc = doc(&format!("The access rules of `{}`, compiled to SQL when this file was generated.", c.name));
    Emitted {
        names,
        items: quote! {
            #(#statics)*

            #rules_doc
            pub static RULES: Rules = Rules { #(#fields)* };
        },
    }
}

/// One rule with a condition, as `static <ACTION>: Filter`.
fn filter(
    collection: &str,
    source: &str,
    actions: &[Action],
    texpr: &TExpr,
    names: &mut BTreeSet<&'static str>,
) -> TokenStream {
    let record = sql::quote(collection);
    let compile = |dialect| sql::compile(texpr, Target { dialect, record: &record, first_param: 1 });
    let (sqlite, postgres) = (compile(Dialect::Sqlite), compile(Dialect::Postgres));
    assert_eq!(
        sqlite.binds.len(),
        postgres.binds.len(),
        "the SQL compiler bound different parameters per dialect for `{source}`; this is a bug in baas"
    );
    names.insert("Filter");
    let binds: Vec<TokenStream> = sqlite.binds.iter().zip(&postgres.binds).map(|(s, p)| bind(s, p, names)).collect();
    let name = upper_ident(actions[0].name());
    let used_by: Vec<&str> = actions.iter().map(|a| a.name()).collect();
    let doc = doc(&format!("{}: `{source}`", used_by.join(", ")));
    let (sqlite, postgres) = (str_literal(&sqlite.sql), str_literal(&postgres.sql));
    quote! {
        #doc
        static #name: Filter = Filter {
            sqlite: #sqlite,
            postgres: #postgres,
            binds: &[#(#binds),*],
        };
    }
}

/// One parameter, the same in both dialects but for a literal each writes its own way.
fn bind(sqlite: &Bind, postgres: &Bind, names: &mut BTreeSet<&'static str>) -> TokenStream {
    names.insert("Bind");
    let ty = sql_ty(sqlite.ty);
    let source = match (&sqlite.value, &postgres.value) {
        (s, p) if s == p && sqlite.ty == postgres.ty => s,
        (BindValue::Literal(Literal::String(s)), BindValue::Literal(Literal::String(p)))
            if sqlite.ty == postgres.ty =>
        {
            names.insert("Source");
            names.insert("SqlTy");
            return quote! { Bind::new(Source::PerDialect { sqlite: #s, postgres: #p }, SqlTy::#ty) };
        }
        (s, p) => panic!("the SQL compiler bound {s:?} on SQLite but {p:?} on PostgreSQL; this is a bug in baas"),
    };
    match (source, sqlite.ty) {
        (BindValue::Literal(Literal::String(s)), SqlTy::Text) => quote! { Bind::text(#s) },
        (BindValue::Literal(Literal::Number(n)), SqlTy::Number) => {
            let n = number(*n);
            quote! { Bind::number(#n) }
        }
        (BindValue::Literal(Literal::Bool(b)), SqlTy::Bool) => quote! { Bind::bool(#b) },
        (BindValue::Auth(field), _) => {
            names.insert("SqlTy");
            quote! { Bind::auth(#field, SqlTy::#ty) }
        }
        (BindValue::Body(field), _) => {
            names.insert("SqlTy");
            quote! { Bind::body(#field, SqlTy::#ty) }
        }
        (value, _) => {
            names.extend(["Source", "SqlTy"]);
            let value = source_value(value);
            quote! { Bind::new(#value, SqlTy::#ty) }
        }
    }
}

/// `Source::…` for a parameter's value.
fn source_value(v: &BindValue) -> TokenStream {
    match v {
        BindValue::Literal(Literal::String(s)) => quote! { Source::Text(#s) },
        BindValue::Literal(Literal::Number(n)) => {
            let n = number(*n);
            quote! { Source::Number(#n) }
        }
        BindValue::Literal(Literal::Bool(b)) => quote! { Source::Bool(#b) },
        BindValue::Literal(Literal::Null) => quote! { Source::Null },
        BindValue::LikePattern(inner) => {
            let inner = source_value(inner);
            quote! { Source::Like(&#inner) }
        }
        BindValue::Auth(s) => quote! { Source::Auth(#s) },
        BindValue::Body(s) => quote! { Source::Body(#s) },
        BindValue::BodyIsSet(s) => quote! { Source::BodyIsSet(#s) },
        BindValue::BodyLength(s) => quote! { Source::BodyLength(#s) },
        BindValue::Query(s) => quote! { Source::Query(#s) },
        BindValue::Header(s) => quote! { Source::Header(#s) },
        BindValue::Method => quote! { Source::Method },
        BindValue::Context => quote! { Source::Context },
        BindValue::Macro(m) => {
            let name = m.name();
            quote! { Source::Macro(#name) }
        }
        BindValue::Placeholder(s) => quote! { Source::Placeholder(#s) },
    }
}

fn sql_ty(ty: SqlTy) -> proc_macro2::Ident {
    match ty {
        SqlTy::Text => format_ident!("Text"),
        SqlTy::Number => format_ident!("Number"),
        SqlTy::Bool => format_ident!("Bool"),
        SqlTy::JsonArray => format_ident!("JsonArray"),
    }
}

/// A number as Rust writes it (`3.0`, `-0.5`, `f64::INFINITY`).
fn number(n: f64) -> TokenStream {
    match n {
        n if n.is_nan() => quote! { f64::NAN },
        n if n.is_infinite() && n > 0.0 => quote! { f64::INFINITY },
        n if n.is_infinite() => quote! { f64::NEG_INFINITY },
        n if n.is_sign_negative() => {
            let abs = proc_macro2::Literal::f64_unsuffixed(-n);
            quote! { -#abs }
        }
        n => {
            let n = proc_macro2::Literal::f64_unsuffixed(n);
            quote! { #n }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn emitted(yaml: &str) -> String {
        let file = baas_schema::SourceFile::new("test.yaml", yaml);
        let (checked, diags) = baas_schema::load_yaml(&file);
        let checked = checked.unwrap_or_else(|| panic!("{}", diags.render(&file)));
        let c = checked.schema.collection("notes").expect("notes");
        let items = rules(&checked, c).items;
        crate::emit::file("", quote! { #items })
    }

    /// Every kind of parameter becomes static data, one list for both dialects; a strftime
    /// format, which each dialect writes its own way, is the one literal per dialect.
    #[test]
    fn parameters_of_every_kind_are_shared_by_both_dialects() {
        let out = emitted(
            r#"
collections:
  notes:
    fields:
      title: text
      views: number
      tags: { type: select, values: [a, b], multiple: true }
    rules:
      list: "title ~ @request.query.q && views > -2.5 && @request.headers.x_token != '' && @request.method = 'GET'"
      view: "strftime('%Y-%m', created) = '2024-01' && created < @now && @request.context != 'oauth2'"
      create: "@request.body.title:lower = 'x' && @request.body.tags:length < 3 && @request.body.tags:each ?= 'a'"
      update: "@request.body.title:changed = false && title = @request.body.title"
"#,
        );
        for expected in [
            r#"Bind::new(Source::Like(&Source::Query("q")), SqlTy::Text)"#,
            "Bind::number(-2.5)",
            r#"Bind::new(Source::Header("x_token"), SqlTy::Text)"#,
            "Bind::new(Source::Method, SqlTy::Text)",
            "Source::PerDialect {\n                sqlite: \"%Y-%m\",\n                postgres: \"YYYY\\\"-\\\"MM\",",
            r#"Bind::new(Source::Macro("now"), SqlTy::Text)"#,
            "Bind::new(Source::Context, SqlTy::Text)",
            r#"Bind::new(Source::BodyLength("tags"), SqlTy::Number)"#,
            r#"Bind::body("tags", SqlTy::JsonArray)"#,
            r#"Bind::new(Source::BodyIsSet("title"), SqlTy::Bool)"#,
            r#"Bind::body("title", SqlTy::Text)"#,
            "delete: Rule::Superusers,",
        ] {
            assert!(out.contains(expected), "no {expected} in:\n{out}");
        }
        assert!(!out.contains("Literal") && !out.contains("expr::"), "{out}");
    }

    /// A rule written twice is one static, named after the first operation that has it.
    #[test]
    fn equal_rules_are_written_once() {
        let out = emitted(
            r#"
collections:
  notes:
    fields:
      owner: text
    rules:
      list: "owner = @request.auth.id"
      view: "owner = @request.auth.id"
      create: ""
      delete: "owner = @request.auth.id"
"#,
        );
        assert_eq!(out.matches("static ").count(), 2, "{out}");
        assert!(out.contains("/// list, view, delete: `owner = @request.auth.id`\nstatic LIST: Filter"), "{out}");
        for field in ["list: Rule::Filter(&LIST)", "view: Rule::Filter(&LIST)", "delete: Rule::Filter(&LIST)"] {
            assert!(out.contains(field), "{out}");
        }
        assert!(out.contains("create: Rule::Public,") && out.contains("update: Rule::Superusers,"), "{out}");
    }
}
