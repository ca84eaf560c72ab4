//! A collection struct's `#[collection(…)]` options (name, id, auth or view, rules,
//! indexes) and the schema module's `#[schema(…)]` settings.

use proc_macro2::TokenStream;
use syn::{Ident, ItemStruct, LitStr};

use super::options::{flag, int, path_text, skip_value};
use super::{Loaded, Loader};
use crate::diag::Diagnostic;
use crate::ir::{Action, BatchSettings, Collection, CollectionKind, Index, Origin, Rule, Rules, system};
use crate::source::Span;

const SCHEMA_KEYS: &[&str] = &["migrations", "batch", "auth_token_duration", "superuser_token_duration", "rate_limits"];

const BATCH_KEYS: &[&str] = &["enabled", "max_requests", "timeout"];

const COLLECTION_KEYS: &[&str] = &[
    "name",
    "id",
    "auth",
    "query",
    "timestamps",
    "renamed_from",
    "index",
    "unique_index",
    "list",
    "view",
    "create",
    "update",
    "delete",
];

impl Loader<'_> {
    pub(super) fn schema_args(&mut self, args: TokenStream, loaded: &mut Loaded) {
        self.options(args, "#[schema]", |cx, opt| {
            match opt.key.as_str() {
                "migrations" => loaded.migrations = Some(opt.meta.value()?.parse::<LitStr>()?.value()),
                "auth_token_duration" => loaded.schema.settings.auth_token_duration = int(opt.meta)?,
                "superuser_token_duration" => loaded.schema.settings.superuser_token_duration = int(opt.meta)?,
                "batch" => {
                    let mut batch = BatchSettings::default();
                    opt.meta.parse_nested_meta(|inner| {
                        match inner.path.get_ident().map(Ident::to_string).as_deref() {
                            Some("enabled") => batch.enabled = flag(&inner)?,
                            Some("max_requests") => batch.max_requests = int(&inner)? as u32,
                            Some("timeout") => batch.timeout = int(&inner)? as u32,
                            other => {
                                let found = other.map(str::to_owned).unwrap_or_else(|| path_text(&inner.path));
                                let span = cx.places.token(&inner.path, found.clone());
                                cx.unknown(span, "batch setting", &found, BATCH_KEYS);
                                skip_value(&inner)?;
                            }
                        }
                        Ok(())
                    })?;
                    loaded.schema.settings.batch = batch;
                }
                // `rate_limits(enabled = false)`; the rules are the defaults (a YAML schema can list its own)
                "rate_limits" => {
                    opt.meta.parse_nested_meta(|inner| {
                        match inner.path.get_ident().map(Ident::to_string).as_deref() {
                            Some("enabled") => loaded.schema.settings.rate_limits.enabled = flag(&inner)?,
                            other => {
                                let found = other.map(str::to_owned).unwrap_or_else(|| path_text(&inner.path));
                                let span = cx.places.token(&inner.path, found.clone());
                                cx.unknown(span, "rate-limit setting", &found, &["enabled"]);
                                skip_value(&inner)?;
                            }
                        }
                        Ok(())
                    })?;
                }
                other => {
                    cx.unknown(opt.span, "schema setting", other, SCHEMA_KEYS);
                    skip_value(opt.meta)?;
                }
            }
            Ok(())
        });
    }

    pub(super) fn collection(
        &mut self,
        s: &ItemStruct,
        names: &[(Ident, String)],
        before: &[Collection],
    ) -> Option<Collection> {
        let name = names.iter().find(|(i, _)| *i == s.ident).map(|(_, n)| n.clone())?;
        let span = self.places.token(&s.ident, s.ident.to_string());
        if before.iter().any(|c| c.name == name) {
            self.diags.push(
                Diagnostic::error(span, format!("duplicate collection '{name}'"))
                    .with_help("give one of the structs another name, or `#[collection(name = \"…\")]`"),
            );
            return None;
        }
        if name.starts_with('_') {
            self.diags.push(
                Diagnostic::error(span, format!("collection name '{name}' starts with '_'"))
                    .with_help("names starting with '_' are reserved for system collections such as _superusers"),
            );
        }
        let mut c = Collection {
            name: name.clone(),
            id: Collection::default_id(&name),
            kind: CollectionKind::Base,
            fields: Vec::new(),
            indexes: Vec::new(),
            rules: Rules::default(),
            renamed_from: None,
            auth: Default::default(),
            span,
        };
        let mut timestamps = true;
        let mut auth: Option<Span> = None;
        let mut query: Option<(Span, String, Origin)> = None;
        for attr in s.attrs.iter().filter(|a| a.path().is_ident("collection")) {
            let tokens = match &attr.meta {
                syn::Meta::List(list) => list.tokens.clone(),
                other => {
                    let at = self.places.token(other, "collection");
                    self.diags.push(
                        Diagnostic::error(at, "expected options: `#[collection(…)]`")
                            .with_help("for example `#[collection(list = \"\", view = \"\")]`"),
                    );
                    continue;
                }
            };
            self.options(tokens, "#[collection]", |cx, opt| {
                let action = match opt.key.as_str() {
                    "list" => Some(Action::List),
                    "view" => Some(Action::View),
                    "create" => Some(Action::Create),
                    "update" => Some(Action::Update),
                    "delete" => Some(Action::Delete),
                    _ => None,
                };
                if let Some(action) = action {
                    let lit: LitStr = opt.meta.value()?.parse()?;
                    let (_, origin) = cx.places.literal(&lit);
                    *c.rules.get_mut(action) = Some(Rule { expr: lit.value(), origin });
                    return Ok(());
                }
                match opt.key.as_str() {
                    "name" => drop(opt.meta.value()?.parse::<LitStr>()?),
                    "id" => c.id = opt.meta.value()?.parse::<LitStr>()?.value(),
                    "renamed_from" => c.renamed_from = Some(opt.meta.value()?.parse::<LitStr>()?.value()),
                    "auth" => {
                        if flag(opt.meta)? {
                            auth = Some(opt.span);
                        }
                    }
                    "timestamps" => timestamps = flag(opt.meta)?,
                    "query" => {
                        let lit: LitStr = opt.meta.value()?.parse()?;
                        let (range, origin) = cx.places.literal(&lit);
                        query = Some((range, lit.value(), origin));
                    }
                    "index" | "unique_index" => {
                        let mut index = Index { fields: Vec::new(), unique: opt.key == "unique_index", span: opt.span };
                        opt.meta.parse_nested_meta(|inner| {
                            index.fields.push(inner.path.get_ident().map(Ident::to_string).unwrap_or_default());
                            Ok(())
                        })?;
                        if index.fields.is_empty() {
                            cx.diags.push(Diagnostic::error(opt.span, "an index needs at least one field"));
                        }
                        c.indexes.push(index);
                    }
                    other => {
                        cx.unknown(opt.span, "option", other, COLLECTION_KEYS);
                        skip_value(opt.meta)?;
                    }
                }
                Ok(())
            });
        }
        match (auth, &query) {
            (Some(at), Some(_)) => self.diags.push(
                Diagnostic::error(at, "a collection cannot be both `auth` and a view (`query = …`)")
                    .with_help("remove `auth`, or remove `query`"),
            ),
            (Some(_), None) => c.kind = CollectionKind::Auth,
            (None, Some((_, q, origin))) => {
                c.kind = CollectionKind::View { query: q.clone(), query_origin: origin.clone() }
            }
            (None, None) => {}
        }

        let declared = self.fields(s, &c, names);
        c.fields = system::complete(&c.kind, declared, timestamps);
        Some(c)
    }
}
