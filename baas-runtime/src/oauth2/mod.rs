//! OAuth2 providers of auth collections whose schema lists them (`auth.oauth2`): the
//! registry a running backend keeps, and what `auth-methods` says of each. The sign-in
//! endpoints are in `accounts::oauth2`. As PocketBase answers them and the SDK drives them:
//!
//! - `auth-methods` lists each provider with a fresh `state`, a PKCE `codeVerifier` and
//!   `codeChallenge`, and an `authURL` that ends in `redirect_uri=` for the client to complete;
//! - `auth-with-oauth2` `{provider, code, codeVerifier, redirectURL, createData}` exchanges the
//!   code, reads the provider's user, and signs in the record linked to it (`_externalAuths`),
//!   or links the record whose address the provider vouches for, or creates one through the
//!   create pipeline (the create rule applies to `createData`); the answer carries `meta`;
//! - `/api/oauth2-redirect` is where providers send the browser back in the SDK's one-call
//!   popup flow: it hands `{state, code, error}` to the realtime client whose id is `state`,
//!   over the `@oauth2` topic, on whichever instance holds it.

pub mod provider;

use std::collections::HashMap;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::collection::Coll;
use crate::{id, token};

pub use provider::Provider;

/// The realtime topic the popup flow listens on.
pub const TOPIC: &str = "@oauth2";

/// The links between records and providers' users (part of the runtime's bookkeeping tables).
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS _externalAuths (
    id TEXT PRIMARY KEY NOT NULL,
    collectionRef TEXT NOT NULL,
    recordRef TEXT NOT NULL,
    provider TEXT NOT NULL,
    providerId TEXT NOT NULL,
    created TEXT NOT NULL,
    updated TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS _externalAuths_provider ON _externalAuths (collectionRef, provider, providerId);
CREATE INDEX IF NOT EXISTS _externalAuths_record ON _externalAuths (collectionRef, recordRef);
";

/// The providers of every auth collection, and the HTTP client that talks to them.
#[derive(Default)]
pub struct OAuth2 {
    providers: HashMap<(String, String), Provider>,
    /// The client every request to a provider goes through.
    pub http: reqwest::Client,
}

impl OAuth2 {
    /// The providers the schema lists, with their secrets from the environment.
    pub fn from_schema(schema: &baas_schema::ir::Schema) -> Result<OAuth2, String> {
        let mut providers = HashMap::new();
        for c in &schema.collections {
            for p in &c.auth.oauth2.providers {
                providers.insert((c.name.clone(), p.name.clone()), Provider::from_schema(&c.name, p)?);
            }
        }
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(15))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("the OAuth2 HTTP client: {e}"))?;
        Ok(OAuth2 { providers, http })
    }

    /// The providers of `coll`, in the schema's order.
    pub fn of<'a>(&'a self, coll: &'a Coll) -> impl Iterator<Item = &'a Provider> + 'a {
        coll.ir.auth.oauth2.providers.iter().filter_map(|p| self.providers.get(&(coll.ir.name.clone(), p.name.clone())))
    }

    /// `auth-methods`' `oauth2.providers` for `coll`: each with a fresh state and PKCE pair.
    pub async fn methods(&self, coll: &Coll) -> Vec<Value> {
        let mut out = Vec::new();
        for provider in self.of(coll) {
            let endpoints = match provider.endpoints(&self.http).await {
                Ok(endpoints) => endpoints,
                Err(e) => {
                    tracing::warn!("oauth2: provider {} is unavailable: {e}", provider.name);
                    continue;
                }
            };
            let state = id::random_string(30, id::TOKEN_KEY_ALPHABET);
            let verifier = id::random_string(64, id::TOKEN_KEY_ALPHABET);
            let challenge = token::b64url(&Sha256::digest(verifier.as_bytes()));
            let query = serde_urlencoded::to_string([
                ("client_id", provider.client_id.as_str()),
                ("code_challenge", challenge.as_str()),
                ("code_challenge_method", "S256"),
                ("response_type", "code"),
                ("scope", provider.scopes.join(" ").as_str()),
                ("state", state.as_str()),
            ])
            .unwrap_or_default();
            let separator = if endpoints.authorization.contains('?') { '&' } else { '?' };
            out.push(json!({
                "name": provider.name,
                "displayName": provider.display_name,
                "state": state,
                "authURL": format!("{}{separator}{query}&redirect_uri=", endpoints.authorization),
                "codeVerifier": verifier,
                "codeChallenge": challenge,
                "codeChallengeMethod": "S256",
            }));
        }
        out
    }
}
