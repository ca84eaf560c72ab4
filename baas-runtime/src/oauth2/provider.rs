//! OAuth2 providers: where each one's endpoints are (an OpenID Connect issuer's discovery
//! document, or the fixed endpoints of GitHub and Discord), the code exchange, and the
//! provider's user, read from a verified `id_token` and the userinfo endpoint.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use baas_schema::ir::OAuth2Provider;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;

/// How long a discovery document is trusted before it is fetched again.
const DISCOVERY_TTL: Duration = Duration::from_secs(3600);

/// A provider as a running backend uses it: the schema's entry plus what the environment
/// adds (the client secret, and overrides of the client id and issuer).
#[derive(Clone, Debug)]
pub struct Provider {
    pub name: String,
    pub display_name: String,
    pub client_id: String,
    pub client_secret: String,
    pub scopes: Vec<String>,
    pub flavor: Flavor,
}

/// How a provider tells who signed in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// OpenID Connect: endpoints from `{issuer}/.well-known/openid-configuration`, the user
    /// from the verified `id_token` and userinfo.
    Oidc { issuer: String, check_issuer: bool },
    /// GitHub's OAuth2 and REST API.
    GitHub,
    /// Discord's OAuth2 and REST API.
    Discord,
}

/// The environment variable holding `what` (`SECRET`, `CLIENT_ID`, `ISSUER`) of `provider`
/// of `collection`: `BAAS_OAUTH2_USERS_GOOGLE_SECRET`.
pub fn env_name(collection: &str, provider: &str, what: &str) -> String {
    let upper = |s: &str| {
        s.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect::<String>()
    };
    format!("BAAS_OAUTH2_{}_{}_{what}", upper(collection), upper(provider))
}

impl Provider {
    /// The provider `p` of `collection`, its secret from the environment (an error names the
    /// variable when it is missing).
    pub fn from_schema(collection: &str, p: &OAuth2Provider) -> Result<Provider, String> {
        let env = |what: &str| std::env::var(env_name(collection, &p.name, what)).ok().filter(|v| !v.is_empty());
        let secret_var = env_name(collection, &p.name, "SECRET");
        let client_secret = env("SECRET").ok_or_else(|| {
            format!("the OAuth2 provider '{}' of '{collection}' needs its client secret in {secret_var}", p.name)
        })?;
        let issuer = env("ISSUER").or_else(|| p.issuer.clone());
        let (flavor, display, scopes): (Flavor, &str, &[&str]) = match (p.name.as_str(), issuer) {
            (_, Some(issuer)) => (Flavor::Oidc { issuer, check_issuer: true }, "", &["openid", "email", "profile"]),
            ("google", None) => (oidc("https://accounts.google.com", true), "Google", &["openid", "email", "profile"]),
            // the tenant-independent endpoint signs with each tenant's issuer
            ("microsoft", None) => (
                oidc("https://login.microsoftonline.com/common/v2.0", false),
                "Microsoft",
                &["openid", "email", "profile"],
            ),
            ("apple", None) => (oidc("https://appleid.apple.com", true), "Apple", &["name", "email"]),
            ("gitlab", None) => (oidc("https://gitlab.com", true), "GitLab", &["openid", "email", "profile"]),
            ("github", None) => (Flavor::GitHub, "GitHub", &["read:user", "user:email"]),
            ("discord", None) => (Flavor::Discord, "Discord", &["identify", "email"]),
            (other, None) => return Err(format!("the OAuth2 provider '{other}' of '{collection}' needs an issuer")),
        };
        Ok(Provider {
            name: p.name.clone(),
            display_name: p
                .display_name
                .clone()
                .unwrap_or_else(|| if display.is_empty() { p.name.clone() } else { display.into() }),
            client_id: env("CLIENT_ID").unwrap_or_else(|| p.client_id.clone()),
            client_secret,
            scopes: if p.scopes.is_empty() {
                scopes.iter().map(|s| (*s).to_owned()).collect()
            } else {
                p.scopes.clone()
            },
            flavor,
        })
    }

    /// The provider's endpoints.
    pub async fn endpoints(&self, http: &reqwest::Client) -> Result<Endpoints, String> {
        match &self.flavor {
            Flavor::Oidc { issuer, .. } => discover(http, issuer).await,
            Flavor::GitHub => Ok(Endpoints {
                authorization: "https://github.com/login/oauth/authorize".into(),
                token: "https://github.com/login/oauth/access_token".into(),
                userinfo: Some("https://api.github.com/user".into()),
                jwks: None,
                issuer: None,
            }),
            Flavor::Discord => Ok(Endpoints {
                authorization: "https://discord.com/oauth2/authorize".into(),
                token: "https://discord.com/api/oauth2/token".into(),
                userinfo: Some("https://discord.com/api/users/@me".into()),
                jwks: None,
                issuer: None,
            }),
        }
    }

    /// Exchanges `code` (with the PKCE `verifier` and the `redirect` it was issued for) for
    /// the provider's tokens, then reads its user.
    pub async fn sign_in(
        &self,
        http: &reqwest::Client,
        code: &str,
        verifier: &str,
        redirect: &str,
    ) -> Result<User, String> {
        let endpoints = self.endpoints(http).await?;
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect),
            ("client_id", self.client_id.as_str()),
            ("client_secret", self.client_secret.as_str()),
            ("code_verifier", verifier),
        ];
        let response = http
            .post(&endpoints.token)
            .header("Accept", "application/json")
            .form(&form)
            .send()
            .await
            .map_err(|e| format!("{}: token request: {e}", self.name))?;
        let status = response.status();
        let tokens: Tokens = response.json().await.map_err(|e| format!("{}: token response: {e}", self.name))?;
        if !status.is_success() || tokens.access_token.is_empty() {
            return Err(format!("{}: the code was refused ({status})", self.name));
        }
        let mut raw = Value::Object(Default::default());
        if let (Some(id_token), Some(jwks)) = (&tokens.id_token, &endpoints.jwks) {
            raw = self.verified_id_token(http, id_token, jwks, endpoints.issuer.as_deref()).await?;
        }
        if let Some(userinfo) = &endpoints.userinfo {
            let info: Value = http
                .get(userinfo)
                .bearer_auth(&tokens.access_token)
                .header("Accept", "application/json")
                .header("User-Agent", "baas")
                .send()
                .await
                .and_then(reqwest::Response::error_for_status)
                .map_err(|e| format!("{}: userinfo: {e}", self.name))?
                .json()
                .await
                .map_err(|e| format!("{}: userinfo: {e}", self.name))?;
            if let (Value::Object(raw), Value::Object(info)) = (&mut raw, info) {
                for (k, v) in info {
                    raw.entry(k).or_insert(v);
                }
            }
        }
        let mut user = User::read(&self.flavor, raw);
        if self.flavor == Flavor::GitHub && !user.email_verified {
            user.adopt_github_email(http, &tokens.access_token).await;
        }
        if user.id.is_empty() {
            return Err(format!("{}: the provider named no user id", self.name));
        }
        user.access_token = tokens.access_token;
        user.refresh_token = tokens.refresh_token.unwrap_or_default();
        user.expires_in = tokens.expires_in.unwrap_or(0);
        Ok(user)
    }

    /// The claims of `id_token`, once its signature (by a key of the provider's JWKS), audience
    /// (this client), expiry and issuer check.
    async fn verified_id_token(
        &self,
        http: &reqwest::Client,
        id_token: &str,
        jwks: &str,
        issuer: Option<&str>,
    ) -> Result<Value, String> {
        let header = jsonwebtoken::decode_header(id_token).map_err(|e| format!("{}: id_token: {e}", self.name))?;
        let keys: jsonwebtoken::jwk::JwkSet = http
            .get(jwks)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| format!("{}: jwks: {e}", self.name))?
            .json()
            .await
            .map_err(|e| format!("{}: jwks: {e}", self.name))?;
        let jwk = match &header.kid {
            Some(kid) => keys.find(kid),
            None => keys.keys.first(),
        }
        .ok_or_else(|| format!("{}: id_token signed with an unknown key", self.name))?;
        let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("{}: jwk: {e}", self.name))?;
        let algorithm = match header.alg {
            alg @ (Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::ES256
            | Algorithm::ES384
            | Algorithm::PS256) => alg,
            other => return Err(format!("{}: id_token algorithm {other:?} is not accepted", self.name)),
        };
        let mut validation = Validation::new(algorithm);
        validation.set_audience(&[&self.client_id]);
        let check_issuer = matches!(self.flavor, Flavor::Oidc { check_issuer: true, .. });
        match issuer {
            Some(issuer) if check_issuer => validation.set_issuer(&[issuer]),
            _ => validation.iss = None,
        }
        jsonwebtoken::decode::<Value>(id_token, &key, &validation)
            .map(|data| data.claims)
            .map_err(|e| format!("{}: id_token: {e}", self.name))
    }
}

fn oidc(issuer: &str, check_issuer: bool) -> Flavor {
    Flavor::Oidc { issuer: issuer.to_owned(), check_issuer }
}

/// A provider's endpoints.
#[derive(Clone, Debug)]
pub struct Endpoints {
    pub authorization: String,
    pub token: String,
    pub userinfo: Option<String>,
    pub jwks: Option<String>,
    pub issuer: Option<String>,
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    userinfo_endpoint: Option<String>,
    jwks_uri: Option<String>,
}

/// `issuer`'s discovery document, cached for [`DISCOVERY_TTL`].
async fn discover(http: &reqwest::Client, issuer: &str) -> Result<Endpoints, String> {
    static CACHE: OnceLock<Mutex<HashMap<String, (Instant, Endpoints)>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some((at, endpoints)) = cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(issuer)
        && at.elapsed() < DISCOVERY_TTL
    {
        return Ok(endpoints.clone());
    }
    let url = format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'));
    let d: Discovery = http
        .get(&url)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| format!("discovery {url}: {e}"))?
        .json()
        .await
        .map_err(|e| format!("discovery {url}: {e}"))?;
    let endpoints = Endpoints {
        authorization: d.authorization_endpoint,
        token: d.token_endpoint,
        userinfo: d.userinfo_endpoint,
        jwks: d.jwks_uri,
        issuer: Some(d.issuer),
    };
    cache
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(issuer.to_owned(), (Instant::now(), endpoints.clone()));
    Ok(endpoints)
}

#[derive(Deserialize)]
struct Tokens {
    #[serde(default)]
    access_token: String,
    refresh_token: Option<String>,
    id_token: Option<String>,
    expires_in: Option<i64>,
}

/// Who signed in at the provider, as PocketBase's `meta` reports it.
#[derive(Clone, Debug, Default)]
pub struct User {
    pub id: String,
    pub name: String,
    pub username: String,
    pub email: String,
    /// Whether the provider vouches for `email` (never assumed).
    pub email_verified: bool,
    pub avatar_url: String,
    pub raw: Value,
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: i64,
}

impl User {
    fn read(flavor: &Flavor, raw: Value) -> User {
        let text = |k: &str| match raw.get(k) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => String::new(),
        };
        let verified = |k: &str| {
            matches!(raw.get(k), Some(Value::Bool(true))) || raw.get(k).and_then(Value::as_str) == Some("true")
        };
        let user = match flavor {
            Flavor::Oidc { .. } => User {
                id: text("sub"),
                name: text("name"),
                username: text("preferred_username"),
                email: text("email"),
                email_verified: verified("email_verified"),
                avatar_url: text("picture"),
                ..User::default()
            },
            Flavor::GitHub => User {
                id: text("id"),
                name: text("name"),
                username: text("login"),
                email: String::new(), // only from /user/emails, where GitHub says it is verified
                avatar_url: text("avatar_url"),
                ..User::default()
            },
            Flavor::Discord => User {
                id: text("id"),
                name: text("global_name"),
                username: text("username"),
                email: text("email"),
                email_verified: verified("verified"),
                avatar_url: match (text("id"), text("avatar")) {
                    (id, avatar) if !avatar.is_empty() => {
                        format!("https://cdn.discordapp.com/avatars/{id}/{avatar}.png")
                    }
                    _ => String::new(),
                },
                ..User::default()
            },
        };
        User { raw, ..user }
    }

    /// GitHub's primary address, when GitHub says it is verified.
    async fn adopt_github_email(&mut self, http: &reqwest::Client, access_token: &str) {
        #[derive(Deserialize)]
        struct Email {
            email: String,
            primary: bool,
            verified: bool,
        }
        let emails: Vec<Email> = match http
            .get("https://api.github.com/user/emails")
            .bearer_auth(access_token)
            .header("User-Agent", "baas")
            .send()
            .await
        {
            Ok(response) => response.json().await.unwrap_or_default(),
            Err(_) => return,
        };
        if let Some(primary) = emails.into_iter().find(|e| e.primary && e.verified) {
            self.email = primary.email;
            self.email_verified = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn users_are_read_per_flavor_and_emails_are_verified_only_when_said() {
        let ann = User::read(
            &oidc("https://id.test", true),
            json!({"sub": "42", "email": "a@b.c", "email_verified": true, "name": "Ann"}),
        );
        assert_eq!(
            (ann.id.as_str(), ann.email.as_str(), ann.email_verified, ann.name.as_str()),
            ("42", "a@b.c", true, "Ann")
        );
        let unverified = User::read(&oidc("https://id.test", true), json!({"sub": "43", "email": "x@y.z"}));
        assert!(!unverified.email_verified);
        let github = User::read(&Flavor::GitHub, json!({"id": 7, "login": "ann", "email": "public@b.c"}));
        assert_eq!((github.id.as_str(), github.username.as_str(), github.email.as_str()), ("7", "ann", ""));
        let discord = User::read(
            &Flavor::Discord,
            json!({"id": "9", "username": "d", "email": "d@e.f", "verified": true, "avatar": "h"}),
        );
        assert!(discord.email_verified);
        assert_eq!(discord.avatar_url, "https://cdn.discordapp.com/avatars/9/h.png");
    }

    #[test]
    fn secrets_come_from_the_environment_by_collection_and_provider() {
        assert_eq!(env_name("users", "google", "SECRET"), "BAAS_OAUTH2_USERS_GOOGLE_SECRET");
        assert_eq!(env_name("team-members", "corp.sso", "ISSUER"), "BAAS_OAUTH2_TEAM_MEMBERS_CORP_SSO_ISSUER");
    }
}
