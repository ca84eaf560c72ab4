//! Rate limits, by PocketBase's rule model (the schema's `settings.rate_limits`, on by default
//! with rules for the auth endpoints): each rule counts the requests its label matches from
//! one client address in a fixed window of `duration` seconds, and past `max_requests` the
//! request is answered 429. Beside the rules, sign-in failures are counted per account, so
//! that guessing one account's password from many addresses is stopped too.
//!
//! The client address is the connection's peer, or, when the peer is a trusted proxy
//! (`serve --trusted-proxy`), the nearest untrusted address of `X-Forwarded-For`. Counters live
//! in this process: instances behind one load balancer each count their own share.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, Method};
use baas_schema::ir::{RateLimitRule, RateLimits};

/// Failed sign-ins one account may take per window before it is throttled.
const SIGN_IN_FAILURES: u32 = 10;
const SIGN_IN_WINDOW: Duration = Duration::from_secs(600);

/// Counters kept at most, per map, before expired ones are dropped.
const PRUNE_AT: usize = 10_000;

/// The rate limits of a running backend.
#[derive(Debug, Default)]
pub struct Limiter {
    rules: Vec<RateLimitRule>,
    /// Whether sign-in failures are counted per account (off with the rules).
    per_account: bool,
    trusted: Vec<(IpAddr, u8)>,
    windows: Mutex<HashMap<(usize, IpAddr), Window>>,
    failures: Mutex<HashMap<(String, String), Window>>,
}

#[derive(Clone, Copy, Debug)]
struct Window {
    start: Instant,
    count: u32,
}

/// Counts one event in the window `key` of `map`; whether the count is still within `max`.
fn count<K: std::hash::Hash + Eq + Clone>(map: &Mutex<HashMap<K, Window>>, key: K, max: u32, span: Duration) -> bool {
    let now = Instant::now();
    let mut map = map.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if map.len() >= PRUNE_AT {
        map.retain(|_, w| now.duration_since(w.start) < span.max(SIGN_IN_WINDOW));
    }
    let window = map.entry(key).or_insert(Window { start: now, count: 0 });
    if now.duration_since(window.start) >= span {
        *window = Window { start: now, count: 0 };
    }
    window.count = window.count.saturating_add(1);
    window.count <= max
}

impl Limiter {
    /// The limits of `limits`, unless `on` is false (`serve --rate-limits off`); `trusted`
    /// are the proxies whose `X-Forwarded-For` is believed (`10.0.0.0/8`, `127.0.0.1`, `::1`).
    pub fn new(limits: &RateLimits, on: bool, trusted: &[String]) -> Result<Limiter, String> {
        let trusted = trusted.iter().map(|t| parse_net(t)).collect::<Result<Vec<_>, _>>()?;
        let enabled = on && limits.enabled;
        Ok(Limiter {
            rules: if enabled { limits.rules.clone() } else { Vec::new() },
            per_account: enabled,
            trusted,
            ..Limiter::default()
        })
    }

    /// The client's address: the peer, or behind trusted proxies the nearest address of
    /// `X-Forwarded-For` that is not one of them.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let forwarded = headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok());
        let hops: Vec<IpAddr> = forwarded.flat_map(|v| v.split(',')).filter_map(|a| a.trim().parse().ok()).collect();
        hops.into_iter().rev().find(|ip| !self.trusts(*ip)).unwrap_or(peer)
    }

    /// The rules, in the schema's order.
    pub fn rules(&self) -> &[RateLimitRule] {
        &self.rules
    }

    /// Counts a request from `client` against rule `i`; whether it is within the allowance.
    pub fn admit(&self, i: usize, client: IpAddr) -> bool {
        let rule = &self.rules[i];
        count(&self.windows, (i, client), rule.max_requests, Duration::from_secs(rule.duration.into()))
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|(net, bits)| in_net(ip, *net, *bits))
    }

    /// Whether a sign-in to `identity` of `collection` may be tried: false once it failed
    /// [`SIGN_IN_FAILURES`] times in the window.
    pub fn may_sign_in(&self, collection: &str, identity: &str) -> bool {
        let failures = self.failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match failures.get(&(collection.to_owned(), identity.to_owned())) {
            Some(w) => w.start.elapsed() >= SIGN_IN_WINDOW || w.count < SIGN_IN_FAILURES,
            None => true,
        }
    }

    /// Counts a failed sign-in to `identity` of `collection`.
    pub fn failed_sign_in(&self, collection: &str, identity: &str) {
        if self.per_account {
            count(&self.failures, (collection.to_owned(), identity.to_owned()), SIGN_IN_FAILURES, SIGN_IN_WINDOW);
        }
    }
}

/// Whether `rule`'s label matches the request.
pub(crate) fn matches(rule: &RateLimitRule, method: &Method, path: &str, tags: &[(String, &'static str)]) -> bool {
    let label = rule.label.as_str();
    let (wanted_method, wanted_path) = match label.split_once(' ') {
        Some((m, p)) => (Some(m), p),
        None => (None, label),
    };
    if wanted_path.starts_with('/') {
        let path_ok = if wanted_path.ends_with('/') { path.starts_with(wanted_path) } else { path == wanted_path };
        return path_ok && wanted_method.is_none_or(|m| m == method.as_str());
    }
    let Some((collection, action)) = label.split_once(':') else { return false };
    tags.iter().any(|(c, a)| *a == action && (collection == "*" || collection == c))
}

/// `10.0.0.0/8`, `127.0.0.1` or `::1` as an address and a prefix length.
fn parse_net(text: &str) -> Result<(IpAddr, u8), String> {
    let bad = || format!("--trusted-proxy {text}: expected an address or a network (10.0.0.0/8)");
    let (addr, bits) = match text.trim().split_once('/') {
        Some((addr, bits)) => {
            (addr.parse::<IpAddr>().map_err(|_| bad())?, Some(bits.parse::<u8>().map_err(|_| bad())?))
        }
        None => (text.trim().parse::<IpAddr>().map_err(|_| bad())?, None),
    };
    let max = if addr.is_ipv4() { 32 } else { 128 };
    match bits {
        Some(bits) if bits > max => Err(bad()),
        Some(bits) => Ok((addr, bits)),
        None => Ok((addr, max)),
    }
}

fn in_net(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let mask = if bits == 0 { 0 } else { u32::MAX << (32 - u32::from(bits)) };
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let mask = if bits == 0 { 0 } else { u128::MAX << (128 - u32::from(bits)) };
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(label: &str) -> RateLimitRule {
        RateLimitRule { label: label.into(), max_requests: 2, duration: 60, audience: String::new() }
    }

    #[test]
    fn labels_match_paths_methods_and_actions() {
        let auth = vec![("users".to_owned(), "authWithPassword"), ("users".to_owned(), "auth")];
        assert!(matches(&rule("*:auth"), &Method::POST, "/api/collections/users/auth-with-password", &auth));
        assert!(matches(&rule("users:authWithPassword"), &Method::POST, "/x", &auth));
        assert!(!matches(&rule("posts:auth"), &Method::POST, "/x", &auth));
        assert!(!matches(&rule("*:create"), &Method::POST, "/x", &auth));
        assert!(matches(&rule("/api/"), &Method::GET, "/api/health", &[]));
        assert!(!matches(&rule("/api/batch"), &Method::POST, "/api/batchx", &[]));
        assert!(matches(&rule("POST /api/batch"), &Method::POST, "/api/batch", &[]));
        assert!(!matches(&rule("POST /api/batch"), &Method::GET, "/api/batch", &[]));
    }

    #[test]
    fn a_window_admits_its_allowance_then_refuses() {
        let map = Mutex::new(HashMap::new());
        let ip: IpAddr = "203.0.113.7".parse().expect("ip");
        assert!(count(&map, (0, ip), 2, Duration::from_secs(60)));
        assert!(count(&map, (0, ip), 2, Duration::from_secs(60)));
        assert!(!count(&map, (0, ip), 2, Duration::from_secs(60)));
        // another client, or another rule, counts apart
        assert!(count(&map, (0, "203.0.113.8".parse().expect("ip")), 2, Duration::from_secs(60)));
        assert!(count(&map, (1, ip), 2, Duration::from_secs(60)));
        // a window that has passed starts over
        assert!(count(&map, (2, ip), 1, Duration::ZERO));
        assert!(count(&map, (2, ip), 1, Duration::ZERO));
    }

    #[test]
    fn forwarded_addresses_are_believed_from_trusted_proxies_only() {
        let limiter =
            Limiter::new(&RateLimits::default(), true, &["127.0.0.1".into(), "10.0.0.0/8".into()]).expect("limiter");
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "198.51.100.1, 203.0.113.9, 10.1.2.3".parse().expect("header"));
        let trusted: IpAddr = "127.0.0.1".parse().expect("ip");
        assert_eq!(limiter.client(trusted, &headers), "203.0.113.9".parse::<IpAddr>().expect("ip"));
        let stranger: IpAddr = "192.0.2.5".parse().expect("ip");
        assert_eq!(limiter.client(stranger, &headers), stranger);
        assert_eq!(limiter.client(trusted, &HeaderMap::new()), trusted);
        assert!(Limiter::new(&RateLimits::default(), true, &["10.0.0.0/40".into()]).is_err());
        assert!(in_net("::1".parse().expect("ip"), "::1".parse().expect("ip"), 128));
    }

    #[test]
    fn an_account_is_throttled_after_its_failures_and_not_when_limits_are_off() {
        let limiter = Limiter::new(&RateLimits::default(), true, &[]).expect("limiter");
        for _ in 0..SIGN_IN_FAILURES {
            assert!(limiter.may_sign_in("users", "ann@example.com"));
            limiter.failed_sign_in("users", "ann@example.com");
        }
        assert!(!limiter.may_sign_in("users", "ann@example.com"));
        assert!(limiter.may_sign_in("users", "bob@example.com"));
        let off = Limiter::new(&RateLimits::default(), false, &[]).expect("limiter");
        for _ in 0..SIGN_IN_FAILURES + 5 {
            off.failed_sign_in("users", "ann@example.com");
        }
        assert!(off.may_sign_in("users", "ann@example.com") && off.rules.is_empty());
    }
}
