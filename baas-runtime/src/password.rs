//! Password hashing: argon2id at OWASP's recommended minimum (m = 19456 KiB, t = 2, p = 1) with
//! a fresh 16-byte salt from the operating system, stored as a PHC string
//! (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`). The parameters travel inside the string, so
//! raising them later keeps old hashes verifiable.
//!
//! Hashing takes tens of milliseconds of CPU and ~19 MiB of memory by design: async callers
//! should run [`hash`] and [`verify`] on `tokio::task::spawn_blocking`.

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, PasswordHash, Version};

/// Memory cost in KiB (OWASP: 19 MiB).
pub const M_COST: u32 = 19_456;
/// Iterations (OWASP: 2).
pub const T_COST: u32 = 2;
/// Parallelism (OWASP: 1).
pub const P_COST: u32 = 1;

/// Stored hashes asking for more than this are refused by [`verify`] instead of being computed:
/// a corrupted or planted hash must not be able to make one login allocate gigabytes.
const MAX_M_COST: u32 = 256 * 1024;
const MAX_T_COST: u32 = 16;
const MAX_P_COST: u32 = 16;

fn hasher() -> Argon2<'static> {
    let params = Params::new(M_COST, T_COST, P_COST, None).expect("OWASP parameters are valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes `password` with a random salt, returning the PHC string to store.
///
/// # Panics
/// Only if the operating system's random number generator fails, or for a password longer than
/// 4 GiB (argon2's limit, far beyond any request body this runtime accepts).
pub fn hash(password: &str) -> String {
    hasher().hash_password(password.as_bytes()).expect("OS RNG available and password under 4 GiB").to_string()
}

/// Whether `password` matches the PHC string `phc` (in constant time with respect to the hash).
/// `false` for anything that is not an argon2 PHC string with sane parameters; never panics.
pub fn verify(password: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    if params.m_cost() > MAX_M_COST || params.t_cost() > MAX_T_COST || params.p_cost() > MAX_P_COST {
        return false;
    }
    // The algorithm, version and parameters are taken from the string, not from `hasher()`.
    hasher().verify_password(password.as_bytes(), &parsed).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_carry_the_owasp_parameters() {
        let phc = hash("correct horse battery staple");
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify("correct horse battery staple", &phc));
        assert!(!verify("correct horse battery stapl", &phc));
        assert!(!verify("", &phc));
        // A fresh salt every time.
        let again = hash("correct horse battery staple");
        assert_ne!(phc, again);
        assert!(verify("correct horse battery staple", &again));
    }

    #[test]
    fn unicode_and_empty_passwords() {
        let phc = hash("pässwörd ✓");
        assert!(verify("pässwörd ✓", &phc));
        assert!(!verify("passwort ✓", &phc));
        let empty = hash("");
        assert!(verify("", &empty));
        assert!(!verify(" ", &empty));
    }

    #[test]
    fn malformed_hashes_are_false() {
        let phc = hash("secret");
        let truncated = &phc[..phc.len() - 5];
        let bad = [
            "",
            "secret",
            "$",
            "$argon2id$",
            "$argon2id$v=19$m=19456,t=2,p=1$",
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$",
            "$argon2id$v=19$m=0,t=0,p=0$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
            "$argon2id$v=99$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
            "$argon2id$v=19$m=4294967295,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
            "$argon2id$v=19$m=19456,t=4294967295,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
            "$scrypt$ln=15,r=8,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
            "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
            "$argon2id$v=19$m=19456,t=2,p=1$é$é",
            truncated,
        ];
        for phc in bad {
            assert!(!verify("secret", phc), "{phc:?}");
        }
    }

    #[test]
    fn other_argon2_parameters_still_verify() {
        // A hash made with cheaper parameters (as an older deployment might have stored).
        let cheap = Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(1024, 1, 1, None).expect("valid"));
        let phc = cheap.hash_password(b"secret").expect("hashes").to_string();
        assert!(verify("secret", &phc));
        assert!(!verify("Secret", &phc));
    }
}
