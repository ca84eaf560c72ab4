//! Password hashing: argon2id at OWASP's recommended minimum (m = 19456 KiB, t = 2, p = 1) with
//! a fresh 16-byte salt from the operating system, stored as a PHC string
//! (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`). The parameters travel inside the string, so
//! raising them later keeps old hashes verifiable.
//!
//! Hashing takes tens of milliseconds of CPU and ~19 MiB of memory by design: async callers
//! should run [`hash`] and [`verify`] on `tokio::task::spawn_blocking`.

use std::sync::{Condvar, Mutex};

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};

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

fn params() -> Params {
    Params::new(M_COST, T_COST, P_COST, None).expect("OWASP parameters are valid argon2 parameters")
}

/// Hashes `password` with a random salt, returning the PHC string to store.
///
/// # Panics
/// Only for a password longer than 4 GiB (argon2's limit, far beyond any request body this
/// runtime accepts).
pub fn hash(password: &str) -> String {
    let salt: [u8; 16] = rand::random();
    let params = params();
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    with_memory(params.block_count(), |blocks| {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone()).hash_password_into_with_memory(
            password.as_bytes(),
            &salt,
            &mut out,
            blocks,
        )
    })
    .expect("a password under 4 GiB and a 16-byte salt");
    PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).expect("OWASP parameters print"),
        salt: Some(Salt::new(&salt).expect("16 bytes make a salt")),
        hash: Some(Output::new(&out).expect("32 bytes make an output")),
    }
    .to_string()
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
    // The algorithm, version and parameters are taken from the string.
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm.as_str()) else {
        return false;
    };
    let Ok(version) = parsed.version.map_or(Ok(Version::default()), Version::try_from) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    let hashed = with_memory(params.block_count(), |blocks| {
        Argon2::new(algorithm, version, params.clone()).hash_password_into_with_memory(
            password.as_bytes(),
            salt.as_ref(),
            &mut out,
            blocks,
        )
    });
    // `Output`'s equality is constant-time.
    hashed.is_ok() && Output::new(&out).is_ok_and(|computed| computed == *expected)
}

/// argon2's working memory, reused: at most one block array per core exists, so concurrent
/// logins wait for a core instead of each allocating (and faulting in) 19 MiB — a burst of
/// logins stays within a few dozen MiB of memory, and no time goes to zeroing fresh pages.
struct MemoryPool {
    /// Idle arrays, and how many exist in all.
    state: Mutex<(Vec<Vec<Block>>, usize)>,
    freed: Condvar,
}

static POOL: MemoryPool = MemoryPool { state: Mutex::new((Vec::new(), 0)), freed: Condvar::new() };

/// Runs `f` with at least `blocks` blocks of argon2 memory, waiting while every core's array
/// is in use. Arrays larger than the OWASP parameters need (old or unusual hashes) are not kept.
fn with_memory<T>(blocks: usize, f: impl FnOnce(&mut [Block]) -> T) -> T {
    let limit = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut state = POOL.state.lock().unwrap_or_else(|p| p.into_inner());
    let mut memory = loop {
        if let Some(m) = state.0.pop() {
            break m;
        }
        if state.1 < limit {
            state.1 += 1;
            break Vec::new();
        }
        state = POOL.freed.wait(state).unwrap_or_else(|p| p.into_inner());
    };
    drop(state);
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    let result = f(&mut memory);
    let mut state = POOL.state.lock().unwrap_or_else(|p| p.into_inner());
    if memory.len() > params().block_count() {
        memory = Vec::new();
    }
    state.0.push(memory);
    drop(state);
    POOL.freed.notify_one();
    result
}

#[cfg(test)]
mod tests {
    use argon2::password_hash::PasswordHasher;

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
    fn concurrent_hashes_share_the_pool_and_agree() {
        let phc = hash("shared");
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let phc = phc.clone();
                std::thread::spawn(move || verify("shared", &phc) && !verify(&format!("shared{i}"), &phc))
            })
            .collect();
        assert!(threads.into_iter().all(|t| t.join().expect("no panic")));
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
