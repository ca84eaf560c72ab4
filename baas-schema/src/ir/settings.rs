//! A schema's settings: the batch API, token lifetimes and rate limits.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub batch: BatchSettings,
    /// Lifetime of auth tokens of ordinary auth collections, in seconds.
    pub auth_token_duration: u64,
    /// Lifetime of `_superusers` auth tokens, in seconds.
    pub superuser_token_duration: u64,
    pub rate_limits: RateLimits,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            batch: BatchSettings::default(),
            auth_token_duration: 432_000,
            superuser_token_duration: 86_400,
            rate_limits: RateLimits::default(),
        }
    }
}

/// How many requests a client may make, by PocketBase's rule model: each rule counts the
/// requests its label matches, per client address, over `duration` seconds. On by default,
/// with rules that protect the auth endpoints (PocketBase ships its limits off).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RateLimits {
    pub enabled: bool,
    pub rules: Vec<RateLimitRule>,
}

impl Default for RateLimits {
    fn default() -> Self {
        let rule = |label: &str, max_requests, duration| RateLimitRule {
            label: label.to_owned(),
            max_requests,
            duration,
            audience: String::new(),
        };
        RateLimits {
            enabled: true,
            rules: vec![
                rule("*:auth", 30, 60),
                rule("*:requestVerification", 10, 60),
                rule("*:requestPasswordReset", 10, 60),
                rule("*:requestEmailChange", 10, 60),
                rule("*:requestOTP", 10, 60),
                rule("*:confirmPasswordReset", 10, 60),
                rule("*:confirmEmailChange", 10, 60),
            ],
        }
    }
}

/// One rate limit: at most `max_requests` requests matching `label` per `duration` seconds
/// from one client address, for the `audience` (`""` everyone, `@guest`, `@auth`).
///
/// Labels, as PocketBase writes them: `/api/` (a path, and every path under it when it ends
/// in `/`), `POST /api/batch` (a method and a path), `users:create` or `*:auth` (a collection,
/// or every one, and an action of [`RATE_LIMIT_ACTIONS`]; `auth` covers every sign-in).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimitRule {
    pub label: String,
    pub max_requests: u32,
    pub duration: u32,
    #[serde(default)]
    pub audience: String,
}

/// The actions a `collection:action` rate-limit label may name.
pub const RATE_LIMIT_ACTIONS: &[&str] = &[
    "list",
    "view",
    "create",
    "update",
    "delete",
    "auth",
    "authWithPassword",
    "authWithOTP",
    "authWithOAuth2",
    "authRefresh",
    "listAuthMethods",
    "requestOTP",
    "requestVerification",
    "confirmVerification",
    "requestPasswordReset",
    "confirmPasswordReset",
    "requestEmailChange",
    "confirmEmailChange",
];

impl RateLimitRule {
    /// What is wrong with the rule, if anything (for the loaders' diagnostics).
    pub fn problem(&self) -> Option<String> {
        if self.max_requests == 0 || self.duration == 0 {
            return Some("a rate limit needs `max_requests` and `duration` of at least 1".into());
        }
        if !["", "@guest", "@auth"].contains(&self.audience.as_str()) {
            return Some(format!("unknown audience '{}': expected '@guest', '@auth' or none", self.audience));
        }
        let label = self.label.as_str();
        let path = label.split_once(' ').map_or(label, |(method, path)| {
            if ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"].contains(&method) { path } else { "" }
        });
        if path.starts_with('/') {
            return None;
        }
        match label.split_once(':') {
            Some((collection, action)) if !collection.is_empty() && RATE_LIMIT_ACTIONS.contains(&action) => None,
            Some((_, action)) => {
                Some(format!("unknown rate-limit action '{action}': expected one of {}", RATE_LIMIT_ACTIONS.join(", ")))
            }
            None => Some(format!(
                "'{label}' is not a rate-limit label: expected a path (`/api/`), a method and a path \
                 (`POST /api/batch`) or `collection:action` (`*:auth`)"
            )),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BatchSettings {
    pub enabled: bool,
    pub max_requests: u32,
    /// Seconds a whole batch may take.
    pub timeout: u32,
}

impl Default for BatchSettings {
    fn default() -> Self {
        BatchSettings { enabled: false, max_requests: 50, timeout: 3 }
    }
}
