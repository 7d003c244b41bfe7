//! The DNS-answer map: addresses that vendor names resolved to (A/AAAA
//! records, RFC 1035 §3.4.1 and RFC 3596 §2.2, after CNAME chains, RFC 1034
//! §3.6.2) → those names, held for the record's TTL (RFC 1035 §3.2.1)
//! clamped to `[ANSWER_MIN_HOLD_NS, ANSWER_MAX_HOLD_NS]`.
//!
//! Guarantees:
//! - At most `max_addrs` addresses and `max_names_per_addr` names per
//!   address; an insert into a full map evicts the entry that expires first
//!   (`answer_map_evicted`).
//! - Expiry uses packet time only, so a run over files gives the same
//!   result on every machine; entries whose hold ended before the newest
//!   packet time are removed (`answer_map_expired`).
//! - [`AnswerMap::lookup`] never allocates.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Arc;

use foldhash::{HashMap, HashMapExt};

use crate::config::limits::{
    ANSWER_MAP_MAX_ADDRS, ANSWER_MAP_MAX_NAMES_PER_ADDR, ANSWER_MAX_HOLD_NS, ANSWER_MIN_HOLD_NS,
};
use crate::event::TsNs;
use crate::signatures::Rule;

/// One vendor name an address was given for.
#[derive(Clone, Debug)]
pub struct AnswerName {
    /// Question name, normalised (lowercase, no trailing dot).
    pub name: Box<[u8]>,
    /// Owner of the A/AAAA record, normalised.
    pub owner: Box<[u8]>,
    /// The vendor rule the question (or owner) matched.
    pub rule: Arc<Rule>,
    /// The DNS server that answered.
    pub server: IpAddr,
    pub ttl: u32,
    /// Packet and time of the (latest) answer.
    pub packet: u64,
    pub ts: TsNs,
}

/// Everything known about one address.
#[derive(Clone, Debug)]
pub struct AnswerEntry {
    /// In order of first insertion; at most `max_names_per_addr`.
    pub names: Vec<AnswerName>,
    /// Packet time the hold ends.
    pub expires: TsNs,
}

impl AnswerEntry {
    /// The name to attribute a connection to: the most confident rule, then
    /// the earliest inserted.
    pub fn best(&self) -> Option<&AnswerName> {
        let mut best: Option<&AnswerName> = None;
        for n in &self.names {
            if best.is_none_or(|b| n.rule.confidence > b.rule.confidence) {
                best = Some(n);
            }
        }
        best
    }
}

/// Counters of the answer map (names as in `stats`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AnswerStats {
    /// New addresses.
    pub inserted: u64,
    /// Answers for an address already held (hold extended, name added).
    pub refreshed: u64,
    /// Entries removed because their hold ended.
    pub expired: u64,
    /// Entries removed to make room (`ANSWER_MAP_MAX_ADDRS`).
    pub evicted: u64,
    /// Names not added to a full entry (`ANSWER_MAP_MAX_NAMES_PER_ADDR`).
    pub names_dropped: u64,
}

/// Bounded map from answer addresses to vendor names.
#[derive(Debug)]
pub struct AnswerMap {
    map: HashMap<IpAddr, AnswerEntry>,
    /// (expiry, address) of every entry: the next to expire comes first.
    by_expiry: BTreeSet<(TsNs, IpAddr)>,
    max_addrs: usize,
    max_names: usize,
    stats: AnswerStats,
}

impl Default for AnswerMap {
    fn default() -> Self {
        Self::new(ANSWER_MAP_MAX_ADDRS, ANSWER_MAP_MAX_NAMES_PER_ADDR)
    }
}

/// How long an answer with `ttl` seconds is held, in ns.
pub fn hold_ns(ttl: u32) -> TsNs {
    (u64::from(ttl) * 1_000_000_000).clamp(ANSWER_MIN_HOLD_NS, ANSWER_MAX_HOLD_NS)
}

impl AnswerMap {
    pub fn new(max_addrs: usize, max_names_per_addr: usize) -> AnswerMap {
        AnswerMap {
            map: HashMap::new(),
            by_expiry: BTreeSet::new(),
            max_addrs: max_addrs.max(1),
            max_names: max_names_per_addr.max(1),
            stats: AnswerStats::default(),
        }
    }

    /// Removes every entry whose hold ended at or before `now`.
    pub fn expire(&mut self, now: TsNs) {
        while let Some(&(exp, addr)) = self.by_expiry.first() {
            if exp > now {
                break;
            }
            self.by_expiry.pop_first();
            self.map.remove(&addr);
            self.stats.expired += 1;
        }
    }

    /// Remembers that `n.name` resolved to `addr` at `n.ts`.
    pub fn insert(&mut self, addr: IpAddr, n: AnswerName) {
        let now = n.ts;
        self.expire(now);
        let expires = now.saturating_add(hold_ns(n.ttl));
        if let Some(e) = self.map.get_mut(&addr) {
            self.stats.refreshed += 1;
            if expires > e.expires {
                self.by_expiry.remove(&(e.expires, addr));
                self.by_expiry.insert((expires, addr));
                e.expires = expires;
            }
            if let Some(old) = e.names.iter_mut().find(|o| o.name == n.name) {
                old.packet = n.packet;
                old.ts = n.ts;
                old.ttl = n.ttl;
                old.server = n.server;
            } else if e.names.len() >= self.max_names {
                self.stats.names_dropped += 1;
            } else {
                e.names.push(n);
            }
            return;
        }
        if self.map.len() >= self.max_addrs
            && let Some((exp, victim)) = self.by_expiry.pop_first()
        {
            let _ = exp;
            self.map.remove(&victim);
            self.stats.evicted += 1;
        }
        self.by_expiry.insert((expires, addr));
        self.map.insert(
            addr,
            AnswerEntry {
                names: vec![n],
                expires,
            },
        );
        self.stats.inserted += 1;
    }

    /// The names `addr` was given for, if still held at `now`.
    pub fn lookup(&self, addr: IpAddr, now: TsNs) -> Option<&AnswerEntry> {
        self.map.get(&addr).filter(|e| e.expires > now)
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn stats(&self) -> AnswerStats {
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::signatures::Confidence;

    const S: u64 = 1_000_000_000;

    fn rule(id: &str, c: Confidence) -> Arc<Rule> {
        Arc::new(Rule {
            id: id.into(),
            pattern: "*.kaspersky.com".into(),
            vendor: "kaspersky".into(),
            category: "update".into(),
            confidence: c,
            source: String::new(),
            note: String::new(),
        })
    }

    fn ip(n: u32) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(0xcb00_7100 + n))
    }

    fn name(n: &str, ts: TsNs, ttl: u32, c: Confidence) -> AnswerName {
        AnswerName {
            name: n.as_bytes().into(),
            owner: n.as_bytes().into(),
            rule: rule(n, c),
            server: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
            ttl,
            packet: ts / S,
            ts,
        }
    }

    #[test]
    fn hold_is_clamped() {
        assert_eq!(hold_ns(0), ANSWER_MIN_HOLD_NS);
        assert_eq!(hold_ns(60), ANSWER_MIN_HOLD_NS);
        assert_eq!(hold_ns(3600), 3600 * S);
        assert_eq!(hold_ns(u32::MAX), ANSWER_MAX_HOLD_NS);
    }

    #[test]
    fn lookup_until_the_hold_ends_then_expired() {
        let mut m = AnswerMap::new(8, 2);
        m.insert(
            ip(1),
            name("a.kaspersky.com", 100 * S, 3600, Confidence::High),
        );
        assert!(m.lookup(ip(1), 100 * S + 3599 * S).is_some());
        assert!(m.lookup(ip(1), 100 * S + 3600 * S).is_none());
        assert!(m.lookup(ip(2), 100 * S).is_none());
        // Another insert later sweeps the expired entry.
        m.insert(
            ip(2),
            name("b.kaspersky.com", 5000 * S, 60, Confidence::High),
        );
        assert_eq!(m.len(), 1);
        assert_eq!(m.stats().expired, 1);
    }

    #[test]
    fn refresh_extends_the_hold_and_adds_names_up_to_the_limit() {
        let mut m = AnswerMap::new(8, 2);
        m.insert(ip(1), name("a.kaspersky.com", 0, 60, Confidence::Low));
        m.insert(
            ip(1),
            name("b.kaspersky.com", 500 * S, 60, Confidence::High),
        );
        m.insert(
            ip(1),
            name("c.kaspersky.com", 501 * S, 60, Confidence::High),
        );
        let e = m.lookup(ip(1), 700 * S).expect("held from the refresh");
        assert_eq!(e.names.len(), 2);
        assert_eq!(e.best().map(|n| &n.name[..]), Some(&b"b.kaspersky.com"[..]));
        let st = m.stats();
        assert_eq!((st.inserted, st.refreshed, st.names_dropped), (1, 2, 1));
    }

    #[test]
    fn full_map_evicts_the_entry_expiring_first_and_stays_bounded() {
        let mut m = AnswerMap::new(100, 4);
        for i in 0..10_000u32 {
            // Later inserts have longer holds: the oldest are evicted.
            m.insert(
                ip(i),
                name(
                    "x.kaspersky.com",
                    u64::from(i) * S / 1000,
                    3600,
                    Confidence::High,
                ),
            );
            assert!(m.len() <= 100);
            assert_eq!(m.by_expiry.len(), m.len());
        }
        assert_eq!(m.stats().evicted, 9_900);
        assert!(m.lookup(ip(9_999), 10 * S).is_some());
        assert!(m.lookup(ip(0), 10 * S).is_none());
    }
}
