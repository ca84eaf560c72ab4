//! An auth collection's `auth:` options: identity fields, sign-in codes, MFA, OAuth2
//! providers, token lifetimes and mail templates.

use super::*;

impl Loader<'_> {
    /// Each identity field is `email` or a text field whose values are unique.
    pub(super) fn check_identity_fields(&mut self, collection: &Collection, span: Span) {
        for name in &collection.auth.identity_fields {
            let field = collection.field(name);
            let unique = field.is_some_and(|f| f.unique)
                || collection.indexes.iter().any(|i| i.unique && i.fields.len() == 1 && i.fields[0] == *name);
            let text = field.is_some_and(|f| matches!(f.ty, FieldType::Text { .. } | FieldType::Email));
            if !(text && unique) {
                self.diags.push(
                    Diagnostic::error(
                        span,
                        format!("identity field '{name}' is not a unique text field of '{}'", collection.name),
                    )
                    .with_help("use `email`, or a text field declared with `unique: true`"),
                );
            }
        }
    }

    /// `auth: { otp: { enabled, duration, length }, mfa: { enabled, duration } }`.
    pub(super) fn auth_options(&mut self, node: &Node) -> AuthOptions {
        let mut options = AuthOptions::default();
        let Some(entries) = self.map(node, "'auth'") else { return options };
        for (key, value) in self.keys(entries, AUTH_KEYS, "in 'auth'") {
            match key {
                "identity_fields" => {
                    options.identity_fields = self.strings(value, key);
                    continue;
                }
                "tokens" => {
                    options.tokens = self.token_durations(value);
                    continue;
                }
                "templates" => {
                    options.templates = self.mail_templates(value);
                    continue;
                }
                "oauth2" => {
                    options.oauth2 = self.oauth2(value);
                    continue;
                }
                _ => {}
            }
            let known = if key == "otp" { OTP_KEYS } else { MFA_KEYS };
            let Some(inner) = self.map(value, &format!("'{key}'")) else { continue };
            for (option, v) in self.keys(inner, known, &format!("in 'auth.{key}'")) {
                let number = |this: &mut Self, least: u64| {
                    let n = this.uint(v, option)?;
                    if n < least {
                        this.diags.push(Diagnostic::error(v.span, format!("'{option}' must be at least {least}")));
                        return None;
                    }
                    Some(n.min(u32::MAX.into()) as u32)
                };
                match (key, option) {
                    ("otp", "enabled") => options.otp.enabled = self.bool(v, option).unwrap_or(false),
                    ("otp", "duration") => options.otp.duration = number(self, 1).unwrap_or(options.otp.duration),
                    ("otp", "length") => options.otp.length = number(self, 4).unwrap_or(options.otp.length).min(16),
                    ("mfa", "enabled") => options.mfa.enabled = self.bool(v, option).unwrap_or(false),
                    ("mfa", "duration") => options.mfa.duration = number(self, 1).unwrap_or(options.mfa.duration),
                    _ => unreachable!(),
                }
            }
        }
        if options.mfa.enabled && !options.otp.enabled {
            self.diags.push(
                Diagnostic::error(node.span, "MFA needs a second sign-in method")
                    .with_help("enable `otp` too: a password and a mailed code are the two methods"),
            );
        }
        options
    }

    /// `tokens: { auth, verification, password_reset, email_change }`, in seconds.
    fn token_durations(&mut self, node: &Node) -> TokenDurations {
        let mut tokens = TokenDurations::default();
        let Some(entries) = self.map(node, "'tokens'") else { return tokens };
        for (key, value) in self.keys(entries, TOKEN_KEYS, "in 'auth.tokens'") {
            let seconds = match self.uint(value, key) {
                Some(0) => {
                    self.diags.push(Diagnostic::error(value.span, format!("'{key}' must be at least 1 second")));
                    None
                }
                n => n.map(|n| n.min(u32::MAX.into()) as u32),
            };
            match key {
                "auth" => tokens.auth = seconds,
                "verification" => tokens.verification = seconds,
                "password_reset" => tokens.password_reset = seconds,
                "email_change" => tokens.email_change = seconds,
                _ => unreachable!(),
            }
        }
        tokens
    }

    /// `templates: { verification: { subject, html | html_file, text | text_file }, … }`; a
    /// file is read relative to the schema's folder.
    fn mail_templates(&mut self, node: &Node) -> MailTemplates {
        let mut templates = MailTemplates::default();
        let Some(entries) = self.map(node, "'templates'") else { return templates };
        for (kind, value) in self.keys(entries, TEMPLATE_KINDS, "in 'auth.templates'") {
            let Some(parts) = self.map(value, &format!("'{kind}'")) else { continue };
            let mut template = MailTemplate::default();
            for (part, v) in self.keys(parts, TEMPLATE_KEYS, &format!("in 'auth.templates.{kind}'")) {
                let Some(text) = self.string(v, part) else { continue };
                let text = match part.strip_suffix("_file") {
                    Some(_) => match self.read_beside(text) {
                        Ok(content) => content,
                        Err(why) => {
                            self.diags.push(Diagnostic::error(v.span, why));
                            continue;
                        }
                    },
                    None => text.to_owned(),
                };
                if let Some(unknown) = unknown_placeholder(&text) {
                    self.diags.push(
                        Diagnostic::warning(
                            v.span,
                            format!("unknown placeholder '{{{unknown}}}': it is sent as written"),
                        )
                        .with_help("placeholders: {APP_NAME}, {APP_URL}, {TOKEN}, {OTP}, {OTP_ID}, {RECORD:field}"),
                    );
                }
                let slot = match part {
                    "subject" => &mut template.subject,
                    "html" | "html_file" => &mut template.html,
                    _ => &mut template.text,
                };
                if slot.is_some() {
                    self.diags.push(Diagnostic::error(v.span, format!("'{part}' gives the {kind} mail's body twice")));
                }
                *slot = Some(text);
            }
            let needs = if kind == "otp" { "{OTP}" } else { "{TOKEN}" };
            for (part, body) in [("html", &template.html), ("text", &template.text)] {
                if body.as_ref().is_some_and(|b| !b.contains(needs)) {
                    self.diags.push(
                        Diagnostic::warning(value.span, format!("the {kind} mail's {part} body has no {needs}"))
                            .with_help(format!("without {needs} the reader cannot use the mail")),
                    );
                }
            }
            match kind {
                "verification" => templates.verification = Some(template),
                "password_reset" => templates.password_reset = Some(template),
                "email_change" => templates.email_change = Some(template),
                "otp" => templates.otp = Some(template),
                _ => unreachable!(),
            }
        }
        templates
    }

    /// `oauth2: { providers: [{ name, client_id, issuer, display_name, scopes }] }`.
    fn oauth2(&mut self, node: &Node) -> OAuth2Options {
        let mut options = OAuth2Options::default();
        let Some(entries) = self.map(node, "'oauth2'") else { return options };
        for (_, value) in self.keys(entries, OAUTH2_KEYS, "in 'auth.oauth2'") {
            let Some(items) = self.seq(value, "'providers'") else { continue };
            for item in items {
                let Some(fields) = self.map(item, "a provider") else { continue };
                let mut p = OAuth2Provider::default();
                for (key, v) in self.keys(fields, PROVIDER_KEYS, "in an OAuth2 provider") {
                    match key {
                        "scopes" => p.scopes = self.strings(v, key),
                        _ => {
                            let text = self.string(v, key).unwrap_or_default().to_owned();
                            match key {
                                "name" => p.name = text,
                                "client_id" => p.client_id = text,
                                "issuer" => p.issuer = Some(text),
                                "display_name" => p.display_name = Some(text),
                                _ => unreachable!(),
                            }
                        }
                    }
                }
                let problem = if p.name.is_empty()
                    || !p.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                {
                    Some(format!("'{}' is not a provider name: letters, digits, '_' and '-'", p.name))
                } else if p.client_id.is_empty() {
                    Some(format!("the provider '{}' needs a 'client_id'", p.name))
                } else if p.issuer.is_none() && !OAUTH2_PRESETS.contains(&p.name.as_str()) {
                    Some(format!(
                        "unknown provider '{}': name a preset ({}) or give the 'issuer' of an OpenID Connect provider",
                        p.name,
                        OAUTH2_PRESETS.join(", ")
                    ))
                } else if p.issuer.as_deref().is_some_and(|i| !i.starts_with("https://") && !i.starts_with("http://")) {
                    Some(format!("the issuer of '{}' is not an http(s) URL", p.name))
                } else if options.providers.iter().any(|q| q.name == p.name) {
                    Some(format!("the provider '{}' is listed twice", p.name))
                } else {
                    None
                };
                match problem {
                    Some(problem) => self.diags.push(Diagnostic::error(item.span, problem)),
                    None => options.providers.push(p),
                }
            }
        }
        options
    }

    /// The text of `path`, relative to the schema file's folder.
    fn read_beside(&self, path: &str) -> Result<String, String> {
        let base = std::path::Path::new(self.file.name()).parent().unwrap_or(std::path::Path::new(""));
        let full = base.join(path);
        std::fs::read_to_string(&full).map_err(|e| format!("cannot read the template {}: {e}", full.display()))
    }
}

/// The first placeholder of `text` that is not one a template may use, if any.
fn unknown_placeholder(text: &str) -> Option<&str> {
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let close = after.find('}')?;
        let name = &after[..close];
        let known =
            TEMPLATE_PLACEHOLDERS.contains(&name) || name.strip_prefix("RECORD:").is_some_and(|f| !f.is_empty());
        // text such as CSS (`p { margin: 0 }`) is not a placeholder
        let looks_like_one = !name.is_empty()
            && name.chars().all(|c| c.is_ascii_uppercase() || c == '_' || c == ':' || c.is_ascii_alphanumeric())
            && name.chars().next().is_some_and(|c| c.is_ascii_uppercase());
        if looks_like_one && !known {
            return Some(name);
        }
        rest = &after[close + 1..];
    }
    None
}
