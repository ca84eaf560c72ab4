//! How an auth collection's records sign in beyond the password: one-time codes, MFA,
//! OAuth2 providers, token lifetimes and mail templates.

use serde::{Deserialize, Serialize};

/// How an auth collection's records may sign in beyond the password (`auth:` in YAML).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthOptions {
    /// The fields a password sign-in may name the account by (`identity`), in the order they
    /// are tried; empty means `email` alone. Each is `email` or a unique text field.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub identity_fields: Vec<String>,
    pub otp: OtpOptions,
    pub mfa: MfaOptions,
    pub tokens: TokenDurations,
    pub templates: MailTemplates,
    pub oauth2: OAuth2Options,
}

/// OAuth2 sign-in (`auth.oauth2`): on when it lists providers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OAuth2Options {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub providers: Vec<OAuth2Provider>,
}

/// One OAuth2 provider: a preset by name ([`OAUTH2_PRESETS`]) or, with an `issuer`, any
/// OpenID Connect provider. The client secret is never in the schema: the server reads it
/// from `BAAS_OAUTH2_<COLLECTION>_<NAME>_SECRET`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OAuth2Provider {
    pub name: String,
    pub client_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
}

/// The providers known by name alone.
pub const OAUTH2_PRESETS: &[&str] = &["google", "microsoft", "apple", "gitlab", "github", "discord"];

/// Lifetimes of an auth collection's tokens, in seconds (`auth.tokens`); `None` keeps the
/// default (`auth`: `settings.auth_token_duration`; verification 3 days, password reset and
/// email change 30 minutes, as PocketBase's).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TokenDurations {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_reset: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_change: Option<u32>,
}

/// An auth collection's own mail templates (`auth.templates`); a mail without one, or a part
/// a template leaves out, is the runtime's default.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MailTemplates {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification: Option<MailTemplate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_reset: Option<MailTemplate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_change: Option<MailTemplate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub otp: Option<MailTemplate>,
}

/// A mail with PocketBase's placeholders (`{APP_NAME}`, `{APP_URL}`, `{TOKEN}`, `{OTP}`,
/// `{OTP_ID}`, `{RECORD:field}`); the text of a `*_file` key is read when the schema loads.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MailTemplate {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// The placeholders a mail template may use.
pub const TEMPLATE_PLACEHOLDERS: &[&str] = &["APP_NAME", "APP_URL", "TOKEN", "OTP", "OTP_ID"];

impl AuthOptions {
    /// The identity fields, `email` when none are given.
    pub fn identity_fields(&self) -> Vec<&str> {
        match self.identity_fields.is_empty() {
            true => vec!["email"],
            false => self.identity_fields.iter().map(String::as_str).collect(),
        }
    }

    pub fn is_default(&self) -> bool {
        self == &AuthOptions::default()
    }
}

/// One-time passwords mailed on request (`request-otp`, `auth-with-otp`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OtpOptions {
    pub enabled: bool,
    /// Seconds a code stays valid. Default 180.
    pub duration: u32,
    /// Digits in a code. Default 8.
    pub length: u32,
}

impl Default for OtpOptions {
    fn default() -> Self {
        OtpOptions { enabled: false, duration: 180, length: 8 }
    }
}

/// Multi-factor authentication: a sign-in needs two different methods.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MfaOptions {
    pub enabled: bool,
    /// Seconds between the first method and the second. Default 1800.
    pub duration: u32,
}

impl Default for MfaOptions {
    fn default() -> Self {
        MfaOptions { enabled: false, duration: 1800 }
    }
}
