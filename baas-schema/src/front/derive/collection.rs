//! A collection struct's `#[collection(…)]` options (name, id, auth or view, rules,
//! indexes) and the schema module's `#[schema(…)]` settings.

use proc_macro2::TokenStream;
use syn::{Ident, ItemStruct, LitStr};

use super::options::{flag, int, path_text, skip_value, strings};
use super::{Loaded, Loader};
use crate::diag::Diagnostic;
use crate::ir::{
    Action, AuthOptions, BatchSettings, Collection, CollectionKind, Index, OAUTH2_PRESETS, OAuth2Provider, Origin,
    Rule, Rules, system,
};
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
                        // `auth`, `auth = true`, or `auth(otp(…), mfa(…), tokens(…), oauth2(…))`
                        if opt.meta.input.peek(syn::token::Paren) {
                            auth = Some(opt.span);
                            c.auth = auth_options(cx, opt.meta)?;
                        } else if flag(opt.meta)? {
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

/// The options of `#[collection(auth(…))]`: `otp(enabled, duration = 180, length = 8)`,
/// `mfa(enabled, duration = 1800)`, `tokens(auth = …, verification = …, password_reset = …,
/// email_change = …)` and `oauth2(provider(name = "…", client_id = "…", issuer = "…",
/// display_name = "…", scopes = ["…"]), …)`. Mail templates are YAML-only.
fn auth_options(cx: &mut Loader<'_>, meta: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<AuthOptions> {
    const AUTH: &[&str] = &["otp", "mfa", "tokens", "oauth2"];
    let mut options = AuthOptions::default();
    meta.parse_nested_meta(|group| {
        let key = group.path.get_ident().map(Ident::to_string).unwrap_or_else(|| path_text(&group.path));
        let seconds = |inner: &syn::meta::ParseNestedMeta<'_>| -> syn::Result<u32> {
            let n = int(inner)?;
            if n == 0 {
                return Err(inner.error("must be at least 1"));
            }
            Ok(n.min(u64::from(u32::MAX)) as u32)
        };
        match key.as_str() {
            "otp" => group.parse_nested_meta(|inner| {
                match inner.path.get_ident().map(Ident::to_string).as_deref() {
                    Some("enabled") => options.otp.enabled = flag(&inner)?,
                    Some("duration") => options.otp.duration = seconds(&inner)?,
                    Some("length") => options.otp.length = (int(&inner)?.clamp(4, 16)) as u32,
                    _ => return Err(inner.error("expected `enabled`, `duration` or `length`")),
                }
                Ok(())
            }),
            "mfa" => group.parse_nested_meta(|inner| {
                match inner.path.get_ident().map(Ident::to_string).as_deref() {
                    Some("enabled") => options.mfa.enabled = flag(&inner)?,
                    Some("duration") => options.mfa.duration = seconds(&inner)?,
                    _ => return Err(inner.error("expected `enabled` or `duration`")),
                }
                Ok(())
            }),
            "tokens" => group.parse_nested_meta(|inner| {
                let n = Some(seconds(&inner)?);
                match inner.path.get_ident().map(Ident::to_string).as_deref() {
                    Some("auth") => options.tokens.auth = n,
                    Some("verification") => options.tokens.verification = n,
                    Some("password_reset") => options.tokens.password_reset = n,
                    Some("email_change") => options.tokens.email_change = n,
                    _ => return Err(inner.error("expected `auth`, `verification`, `password_reset` or `email_change`")),
                }
                Ok(())
            }),
            "oauth2" => group.parse_nested_meta(|item| {
                if !item.path.is_ident("provider") {
                    return Err(item.error("expected `provider(name = \"…\", client_id = \"…\")`"));
                }
                let mut provider = OAuth2Provider::default();
                item.parse_nested_meta(|field| {
                    let text = |f: &syn::meta::ParseNestedMeta<'_>| -> syn::Result<String> {
                        Ok(f.value()?.parse::<LitStr>()?.value())
                    };
                    match field.path.get_ident().map(Ident::to_string).as_deref() {
                        Some("name") => provider.name = text(&field)?,
                        Some("client_id") => provider.client_id = text(&field)?,
                        Some("issuer") => provider.issuer = Some(text(&field)?),
                        Some("display_name") => provider.display_name = Some(text(&field)?),
                        Some("scopes") => provider.scopes = strings(&field)?,
                        _ => {
                            return Err(
                                field.error("expected `name`, `client_id`, `issuer`, `display_name` or `scopes`")
                            );
                        }
                    }
                    Ok(())
                })?;
                if provider.name.is_empty() || provider.client_id.is_empty() {
                    return Err(item.error("a provider needs `name` and `client_id`"));
                }
                if provider.issuer.is_none() && !OAUTH2_PRESETS.contains(&provider.name.as_str()) {
                    return Err(item.error(format!(
                        "unknown provider '{}': name a preset ({}) or give the `issuer` of an OpenID Connect provider",
                        provider.name,
                        OAUTH2_PRESETS.join(", ")
                    )));
                }
                options.oauth2.providers.push(provider);
                Ok(())
            }),
            other => {
                let span = cx.places.token(&group.path, other.to_owned());
                cx.unknown(span, "auth option", other, AUTH);
                skip_value(&group)
            }
        }
    })?;
    if options.mfa.enabled && !options.otp.enabled {
        return Err(meta.error("MFA needs a second sign-in method: enable `otp` too"));
    }
    Ok(options)
}
