//! Random identifiers (pocketbase-api.md §2.1): record ids are 15 characters of `[a-z0-9]`, the
//! per-record `tokenKey` that signs auth tokens is 50 characters of `[A-Za-z0-9]`.
//!
//! Both are guessable-if-weak secrets or enumeration targets, so they come from rand's
//! thread-local generator: a ChaCha12 CSPRNG seeded from, and periodically reseeded by, the
//! operating system. Characters are drawn uniformly (no modulo bias).

use rand::seq::IndexedRandom;

/// Lower-case letters and digits: the alphabet of record ids.
pub const ID_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// Letters of both cases and digits: the alphabet of token keys.
pub const TOKEN_KEY_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// Length of a record id.
pub const ID_LEN: usize = 15;

/// Length of a record's `tokenKey`.
pub const TOKEN_KEY_LEN: usize = 50;

/// A fresh record id: 15 random characters from `[a-z0-9]`.
pub fn new_id() -> String {
    random_string(ID_LEN, ID_ALPHABET)
}

/// A fresh per-record token key: 50 random characters from `[A-Za-z0-9]`. Rotating it (on a
/// password change) invalidates every token issued for the record.
pub fn token_key() -> String {
    random_string(TOKEN_KEY_LEN, TOKEN_KEY_ALPHABET)
}

/// `len` characters drawn uniformly and independently from `alphabet`.
///
/// The alphabet is meant to be ASCII; each byte is taken as the character with that code point.
/// An empty alphabet gives an empty string.
pub fn random_string(len: usize, alphabet: &[u8]) -> String {
    let mut rng = rand::rng();
    (0..len).map_while(|_| alphabet.choose(&mut rng)).map(|&b| char::from(b)).collect()
}

/// Whether `s` has the shape of a record id: exactly 15 characters of `[a-z0-9]`.
pub fn is_valid_id(s: &str) -> bool {
    s.len() == ID_LEN && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn new_ids_are_valid_and_distinct() {
        let ids: BTreeSet<String> = (0..1000).map(|_| new_id()).collect();
        assert_eq!(ids.len(), 1000);
        assert!(ids.iter().all(|id| is_valid_id(id)), "{ids:?}");
    }

    #[test]
    fn token_keys_have_the_right_shape() {
        let a = token_key();
        assert_eq!(a.len(), TOKEN_KEY_LEN);
        assert!(a.bytes().all(|b| b.is_ascii_alphanumeric()), "{a}");
        assert_ne!(a, token_key());
    }

    #[test]
    fn random_string_uses_the_whole_alphabet_and_only_it() {
        let s = random_string(2000, b"ab");
        assert_eq!(s.len(), 2000);
        assert!(s.contains('a') && s.contains('b'));
        assert!(s.bytes().all(|b| b == b'a' || b == b'b'));
        // Over many ids every id character shows up.
        let seen: BTreeSet<u8> = (0..200).flat_map(|_| new_id().into_bytes()).collect();
        assert_eq!(seen.len(), ID_ALPHABET.len());
        assert_eq!(random_string(0, ID_ALPHABET), "");
        assert_eq!(random_string(5, b""), "");
    }

    #[test]
    fn validates_ids() {
        assert!(is_valid_id("abc123def456ghi"));
        assert!(is_valid_id("000000000000000"));
        for bad in
            ["", "abc", "abc123def456gh", "abc123def456ghij", "ABC123DEF456GHI", "abc123def456gh_", "abc123def456ghé"]
        {
            assert!(!is_valid_id(bad), "{bad:?}");
        }
    }
}
