//! Auth tokens: HS256 JWTs shaped exactly like PocketBase's (pocketbase-api.md §3.3).
//!
//! Header `{"alg":"HS256","typ":"JWT"}`, payload
//! `{"collectionId":…,"exp":…,"id":…,"refreshable":true,"type":"auth"}` — keys in that order, no
//! `iat`, `sub` or `jti` — so two tokens issued in the same second for the same record are
//! byte-identical, as PocketBase's are. The SDK reads the payload (`exp` for
//! `authStore.isValid`, `type` and `collectionId` for `isSuperuser`), so its shape is API.
//!
//! A record's tokens are signed with the app secret followed by the record's `tokenKey`
//! ([`signing_key`]); rotating the `tokenKey` (on a password change) invalidates them all. To
//! verify, first [`peek`] at the unverified payload to learn whose `tokenKey` to use, load that
//! record, then [`verify`] with its key — the peeked claims are never trusted on their own.
//!
//! Bad tokens are not errors at this level: every function answers `None`, and callers treat
//! the request as anonymous (§1).

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Validation};
use serde::{Deserialize, Serialize};

/// The `type` claim of auth tokens.
pub const AUTH: &str = "auth";
/// The `type` claim of file tokens (protected files, `POST /api/files/token`).
pub const FILE: &str = "file";
/// The `type` claim of the token a verification mail carries.
pub const VERIFICATION: &str = "verification";
/// The `type` claim of the token a password-reset mail carries.
pub const PASSWORD_RESET: &str = "passwordReset";
/// The `type` claim of the token an email-change mail carries.
pub const EMAIL_CHANGE: &str = "emailChange";

/// The claims of a token.
///
/// Fields are declared in the alphabetical order of their JSON keys, which is the order
/// PocketBase writes them in; serialization follows declaration order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The id of the record's collection.
    #[serde(rename = "collectionId")]
    pub collection_id: String,
    /// The address an account token was sent to (verification, password reset, email change).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Expiry, in seconds since the Unix epoch.
    pub exp: i64,
    /// The record's id.
    pub id: String,
    /// The address an email-change token moves the account to.
    #[serde(default, rename = "newEmail", skip_serializing_if = "Option::is_none")]
    pub new_email: Option<String>,
    /// `Some(true)` on auth tokens; absent on the other token kinds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refreshable: Option<bool>,
    /// The token kind: [`AUTH`] for auth tokens.
    #[serde(rename = "type")]
    pub kind: String,
}

/// The claims of an auth token for record `id` of collection `collection_id`, expiring
/// `lifetime_secs` seconds from now (PocketBase's defaults: 432000 for users, 86400 for
/// superusers).
pub fn auth_claims(id: &str, collection_id: &str, lifetime_secs: i64) -> Claims {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    Claims {
        collection_id: collection_id.to_owned(),
        email: None,
        exp: now.saturating_add(lifetime_secs),
        id: id.to_owned(),
        new_email: None,
        refreshable: Some(true),
        kind: AUTH.to_owned(),
    }
}

/// The claims of an account token of `kind` ([`VERIFICATION`], [`PASSWORD_RESET`],
/// [`EMAIL_CHANGE`]) for record `id`, sent to `email`: not refreshable, as PocketBase's.
pub fn account_claims(kind: &str, id: &str, collection_id: &str, email: &str, lifetime_secs: i64) -> Claims {
    Claims {
        email: Some(email.to_owned()),
        refreshable: None,
        kind: kind.to_owned(),
        ..auth_claims(id, collection_id, lifetime_secs)
    }
}

/// The key account tokens of `kind` for a record of collection `collection_id` are signed
/// with: a secret per collection and kind (derived from the app secret) followed by the
/// record's `tokenKey`. Never the key of its auth tokens, so one kind cannot pass for another.
pub fn account_key(app_secret: &[u8], kind: &str, collection_id: &str, token_key: &str) -> Vec<u8> {
    [app_secret, b"\0", kind.as_bytes(), b"\0", collection_id.as_bytes(), b"\0", token_key.as_bytes()].concat()
}

/// The key a record's tokens are signed with: the app secret followed by the record's
/// `tokenKey`.
pub fn signing_key(app_secret: &[u8], token_key: &str) -> Vec<u8> {
    [app_secret, token_key.as_bytes()].concat()
}

/// Signs `claims` with `key` (HS256). Deterministic: equal claims and key give equal tokens.
pub fn issue(claims: &Claims, key: &[u8]) -> String {
    // Written by hand rather than with `jsonwebtoken::encode`, whose header puts `typ` first.
    let header = b64url(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = serde_json::to_vec(claims).expect("strings and integers always serialize to JSON");
    let message = format!("{header}.{}", b64url(&payload));
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), &EncodingKey::from_secret(key), Algorithm::HS256)
        .expect("HMAC-SHA256 accepts keys of any length");
    format!("{message}.{signature}")
}

/// The claims of `token` WITHOUT checking its signature or expiry: only to find out which
/// record's key to [`verify`] it with. `None` when the token is not a JWT with such claims.
pub fn peek(token: &str) -> Option<Claims> {
    jsonwebtoken::dangerous::insecure_decode_claims(token).ok()
}

/// The claims of `token` if it is an HS256 JWT signed with `key` and not expired (no leeway:
/// the issuer and the verifier share one clock). Any other algorithm, `alg: none` included, is
/// rejected. The caller still checks `kind` and that `id`/`collectionId` name the record whose
/// key was used.
pub fn verify(token: &str, key: &[u8]) -> Option<Claims> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 0;
    jsonwebtoken::decode(token, &DecodingKey::from_secret(key), &validation).ok().map(|data| data.claims)
}

/// The token in an `Authorization` header value: the raw JWT the SDK sends, or
/// `Bearer <token>`. `None` when nothing is left.
pub fn from_header(value: &str) -> Option<&str> {
    let value = value.trim_start();
    let token = match value.get(..7) {
        Some(scheme) if scheme.eq_ignore_ascii_case("bearer ") => &value[7..],
        _ => value,
    }
    .trim();
    (!token.is_empty()).then_some(token)
}

/// Base64url without padding (RFC 4648 §5), as JWTs use it.
pub(crate) fn b64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, &b)| acc | u32::from(b) << (16 - 8 * i));
        // 1, 2 or 3 input bytes give 2, 3 or 4 characters.
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::Value;

    use super::*;

    const SECRET: &[u8] = b"app-secret";

    fn key() -> Vec<u8> {
        signing_key(SECRET, "tokenKeyOfTheRecord")
    }

    fn claims() -> Claims {
        auth_claims("abc123def456ghi", "_pb_users_auth_", 432_000)
    }

    fn now() -> i64 {
        time::OffsetDateTime::now_utc().unix_timestamp()
    }

    fn segments(token: &str) -> Vec<&str> {
        token.split('.').collect()
    }

    #[test]
    fn base64url_matches_rfc4648() {
        let vectors = [
            ("", ""),
            ("f", "Zg"),
            ("fo", "Zm8"),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg"),
            ("fooba", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy"),
        ];
        for (input, want) in vectors {
            assert_eq!(b64url(input.as_bytes()), want);
        }
        assert_eq!(b64url(&[0xfb, 0xff, 0xbf]), "-_-_");
    }

    #[test]
    fn round_trip() {
        let c = claims();
        assert!((c.exp - now() - 432_000).abs() <= 1);
        let token = issue(&c, &key());
        assert_eq!(verify(&token, &key()), Some(c.clone()));
        assert_eq!(peek(&token), Some(c));
    }

    #[test]
    fn header_and_payload_are_byte_exact() {
        let c = Claims {
            collection_id: "_pb_users_auth_".into(),
            email: None,
            exp: 1_796_027_371,
            id: "abc123def456ghi".into(),
            new_email: None,
            refreshable: Some(true),
            kind: AUTH.into(),
        };
        let token = issue(&c, &key());
        let parts = segments(&token);
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0], "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9");
        let payload = r#"{"collectionId":"_pb_users_auth_","exp":1796027371,"id":"abc123def456ghi","refreshable":true,"type":"auth"}"#;
        assert_eq!(parts[1], b64url(payload.as_bytes()));
        // Exactly these keys, whatever a JSON library makes of the order.
        let decoded: Value = jsonwebtoken::dangerous::insecure_decode_claims(&token).expect("decodes");
        let keys: Vec<&str> = decoded.as_object().expect("object").keys().map(String::as_str).collect();
        assert_eq!(keys.len(), 5);
        for k in ["collectionId", "exp", "id", "refreshable", "type"] {
            assert!(keys.contains(&k), "{keys:?}");
        }
    }

    #[test]
    fn account_tokens_carry_their_addresses_and_keys_differ_by_kind() {
        let mut c = account_claims(EMAIL_CHANGE, "abc123def456ghi", "pbc_1", "old@example.com", 1800);
        c.new_email = Some("new@example.com".into());
        c.exp = 2_000_000_000;
        let key = account_key(SECRET, EMAIL_CHANGE, "pbc_1", "tk");
        let token = issue(&c, &key);
        let payload = r#"{"collectionId":"pbc_1","email":"old@example.com","exp":2000000000,"id":"abc123def456ghi","newEmail":"new@example.com","type":"emailChange"}"#;
        assert_eq!(segments(&token)[1], b64url(payload.as_bytes()));
        assert_eq!(verify(&token, &key), Some(c));
        assert_eq!(verify(&token, &account_key(SECRET, VERIFICATION, "pbc_1", "tk")), None);
        assert_eq!(verify(&token, &account_key(SECRET, EMAIL_CHANGE, "pbc_2", "tk")), None);
        assert_eq!(verify(&token, &signing_key(SECRET, "tk")), None);
    }

    #[test]
    fn deterministic() {
        let c = claims();
        assert_eq!(issue(&c, &key()), issue(&c, &key()));
        assert_ne!(issue(&c, &key()), issue(&c, &signing_key(SECRET, "rotated")));
    }

    #[test]
    fn wrong_key_rejected() {
        let token = issue(&claims(), &key());
        assert_eq!(verify(&token, &signing_key(SECRET, "rotatedTokenKey")), None);
        assert_eq!(verify(&token, &signing_key(b"other-secret", "tokenKeyOfTheRecord")), None);
        // Peeking still works: it is how the verifier finds the record.
        assert!(peek(&token).is_some());
    }

    #[test]
    fn expired_rejected() {
        let mut c = claims();
        c.exp = now() - 5;
        assert_eq!(verify(&issue(&c, &key()), &key()), None);
        c.exp = now() + 60;
        assert!(verify(&issue(&c, &key()), &key()).is_some());
    }

    #[test]
    fn tampered_payload_rejected() {
        let token = issue(&claims(), &key());
        let parts = segments(&token);
        let mut forged = claims();
        forged.id = "zzzzzzzzzzzzzzz".into();
        let forged_payload = b64url(&serde_json::to_vec(&forged).expect("serializes"));
        let tampered = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
        assert_eq!(verify(&tampered, &key()), None);
        // A flipped signature character as well.
        let mut sig = parts[2].to_owned();
        let last = if sig.ends_with('A') { "B" } else { "A" };
        sig.replace_range(sig.len() - 1.., last);
        assert_eq!(verify(&format!("{}.{}.{}", parts[0], parts[1], sig), &key()), None);
    }

    #[test]
    fn other_algorithms_rejected() {
        let c = claims();
        let payload = b64url(&serde_json::to_vec(&c).expect("serializes"));
        for header in [r#"{"alg":"none","typ":"JWT"}"#, r#"{"alg":"none"}"#, r#"{"alg":"None","typ":"JWT"}"#] {
            let unsigned = format!("{}.{payload}.", b64url(header.as_bytes()));
            assert_eq!(verify(&unsigned, &key()), None, "{header}");
        }
        let hs512 = jsonwebtoken::encode(&Header::new(Algorithm::HS512), &c, &EncodingKey::from_secret(&key()))
            .expect("encodes");
        assert_eq!(verify(&hs512, &key()), None);
    }

    #[test]
    fn garbage_is_none() {
        for bad in ["", "x", "a.b", "a.b.c", "...", "Bearer", "eyJ.eyJ.", "é.é.é"] {
            assert_eq!(verify(bad, &key()), None, "{bad:?}");
            assert_eq!(peek(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn authorization_header_values() {
        assert_eq!(from_header("abc.def.ghi"), Some("abc.def.ghi"));
        assert_eq!(from_header("Bearer abc.def.ghi"), Some("abc.def.ghi"));
        assert_eq!(from_header("bearer  abc.def.ghi "), Some("abc.def.ghi"));
        assert_eq!(from_header(" abc "), Some("abc"));
        assert_eq!(from_header(""), None);
        assert_eq!(from_header("Bearer "), None);
        assert_eq!(from_header("   "), None);
        assert_eq!(from_header("Beareré"), Some("Beareré"));
    }
}
