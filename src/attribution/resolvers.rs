//! Resolver detection: which home hosts answer DNS queries for others.
//!
//! A host is a resolver when it is declared (`--resolver IP`), when
//! `RESOLVER_MIN_CLIENTS` distinct clients were seen querying it on the DNS
//! port or receiving its answers (RFC 1035 §4.2: a server answers queries
//! from many clients), or when it was seen forwarding: asking for a name
//! within `RESOLVER_FORWARD_WINDOW_NS` after a client asked it for the same
//! name, `RESOLVER_MIN_FORWARDS` times (a recursive resolver, RFC 1034
//! §4.3.1, resolves upstream on its clients' behalf).
//!
//! Guarantees: at most `RESOLVER_MAX_SERVERS` servers are tracked (more are
//! counted as `resolver_servers_dropped`), each with at most
//! `RESOLVER_MIN_CLIENTS` remembered clients and `RESOLVER_RECENT_QUERIES`
//! recent queries; once a host is a resolver it stays one. Handling a query
//! allocates only when a new server is first tracked.

use std::collections::VecDeque;
use std::hash::{BuildHasher, Hasher};
use std::net::IpAddr;

use foldhash::{HashMap, HashMapExt};

use crate::config::limits::{
    RESOLVER_FORWARD_WINDOW_NS, RESOLVER_MAX_SERVERS, RESOLVER_MIN_CLIENTS, RESOLVER_MIN_FORWARDS,
    RESOLVER_RECENT_QUERIES,
};
use crate::event::TsNs;

/// Counters of the detector (names as in `stats`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ResolverStats {
    /// DNS servers not tracked because the table was full.
    pub servers_dropped: u64,
    /// Queries paired with a client's earlier query for the same name.
    pub forwards: u64,
    /// Hosts found to be resolvers (declared ones not included).
    pub detected: u64,
}

#[derive(Debug)]
struct Server {
    /// Distinct clients, up to `RESOLVER_MIN_CLIENTS`.
    clients: Vec<IpAddr>,
    /// (name hash, time) of recent client queries, oldest first.
    recent: VecDeque<(u64, TsNs)>,
    forwards: u64,
    resolver: bool,
}

impl Server {
    fn new() -> Server {
        Server {
            clients: Vec::with_capacity(RESOLVER_MIN_CLIENTS),
            recent: VecDeque::with_capacity(RESOLVER_RECENT_QUERIES),
            forwards: 0,
            resolver: false,
        }
    }
}

/// The detector; see the module docs.
#[derive(Debug)]
pub struct ResolverDetector {
    servers: HashMap<IpAddr, Server>,
    declared: Vec<IpAddr>,
    max_servers: usize,
    /// Keyed hash of names: attacker-chosen names cannot aim collisions.
    hasher: foldhash::fast::RandomState,
    stats: ResolverStats,
}

impl ResolverDetector {
    /// `declared`: resolvers given by the user.
    pub fn new(declared: &[IpAddr]) -> ResolverDetector {
        Self::with_max_servers(declared, RESOLVER_MAX_SERVERS)
    }

    pub fn with_max_servers(declared: &[IpAddr], max_servers: usize) -> ResolverDetector {
        let mut d = declared.to_vec();
        d.sort_unstable();
        d.dedup();
        ResolverDetector {
            servers: HashMap::new(),
            declared: d,
            max_servers,
            hasher: foldhash::fast::RandomState::default(),
            stats: ResolverStats::default(),
        }
    }

    /// True for declared and detected resolvers.
    pub fn is_resolver(&self, ip: IpAddr) -> bool {
        self.declared.binary_search(&ip).is_ok()
            || self.servers.get(&ip).is_some_and(|s| s.resolver)
    }

    /// Declared resolvers, sorted.
    pub fn declared(&self) -> &[IpAddr] {
        &self.declared
    }

    pub fn stats(&self) -> ResolverStats {
        self.stats
    }

    /// Servers tracked.
    pub fn tracked(&self) -> usize {
        self.servers.len()
    }

    fn name_hash(&self, name: &[u8]) -> u64 {
        let mut h = self.hasher.build_hasher();
        let name = name.strip_suffix(b".").unwrap_or(name);
        for b in name {
            h.write_u8(b.to_ascii_lowercase());
        }
        h.finish()
    }

    fn server(&mut self, ip: IpAddr) -> Option<&mut Server> {
        if !self.servers.contains_key(&ip) && self.servers.len() >= self.max_servers {
            self.stats.servers_dropped += 1;
            return None;
        }
        Some(self.servers.entry(ip).or_insert_with(Server::new))
    }

    /// A DNS query from `client` to `server` for `name` at `ts`;
    /// `server_tracked` says whether the server is a candidate (a home
    /// host). Returns the hosts this query made resolvers.
    pub fn on_query(
        &mut self,
        client: IpAddr,
        server: IpAddr,
        server_tracked: bool,
        name: &[u8],
        ts: TsNs,
    ) -> [Option<IpAddr>; 2] {
        let mut found = [None, None];
        let hash = self.name_hash(name);
        // Is the client a server forwarding a query it received?
        let mut forwarded = false;
        if let Some(s) = self.servers.get_mut(&client)
            && let Some(pos) = s
                .recent
                .iter()
                .position(|&(h, t)| h == hash && t <= ts && ts - t <= RESOLVER_FORWARD_WINDOW_NS)
        {
            s.recent.remove(pos);
            s.forwards += 1;
            forwarded = true;
            if !s.resolver && s.forwards >= RESOLVER_MIN_FORWARDS {
                s.resolver = true;
                found[0] = Some(client);
            }
        }
        if forwarded {
            self.stats.forwards += 1;
        }
        if server_tracked && let Some(s) = self.server(server) {
            if s.clients.len() < RESOLVER_MIN_CLIENTS && !s.clients.contains(&client) {
                s.clients.push(client);
            }
            if s.recent.len() >= RESOLVER_RECENT_QUERIES {
                s.recent.pop_front();
            }
            s.recent.push_back((hash, ts));
            if !s.resolver && s.clients.len() >= RESOLVER_MIN_CLIENTS {
                s.resolver = true;
                found[1] = Some(server);
            }
        }
        for ip in found.iter().flatten() {
            if self.declared.binary_search(ip).is_err() {
                self.stats.detected += 1;
            }
        }
        found
    }

    /// A DNS answer from `server` to `client`. Returns the server if this
    /// answer made it a resolver.
    pub fn on_answer(&mut self, server: IpAddr, client: IpAddr) -> Option<IpAddr> {
        let s = self.server(server)?;
        if s.clients.len() < RESOLVER_MIN_CLIENTS && !s.clients.contains(&client) {
            s.clients.push(client);
        }
        if !s.resolver && s.clients.len() >= RESOLVER_MIN_CLIENTS {
            s.resolver = true;
            if self.declared.binary_search(&server).is_err() {
                self.stats.detected += 1;
            }
            return Some(server);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    fn ip(n: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, n))
    }
    const S: u64 = 1_000_000_000;

    #[test]
    fn many_clients_make_a_resolver() {
        let mut d = ResolverDetector::new(&[]);
        assert_eq!(
            d.on_query(ip(10), ip(2), true, b"a.example", 0),
            [None, None]
        );
        assert_eq!(
            d.on_query(ip(10), ip(2), true, b"b.example", 1),
            [None, None]
        );
        assert_eq!(
            d.on_query(ip(11), ip(2), true, b"a.example", 2),
            [None, None]
        );
        assert!(!d.is_resolver(ip(2)));
        assert_eq!(
            d.on_query(ip(12), ip(2), true, b"a.example", 3),
            [None, Some(ip(2))]
        );
        assert!(d.is_resolver(ip(2)));
        // Reported once.
        assert_eq!(
            d.on_query(ip(13), ip(2), true, b"a.example", 4),
            [None, None]
        );
        assert_eq!(d.stats().detected, 1);
    }

    #[test]
    fn answers_to_many_clients_make_a_resolver() {
        let mut d = ResolverDetector::new(&[]);
        assert_eq!(d.on_answer(ip(2), ip(10)), None);
        assert_eq!(d.on_answer(ip(2), ip(10)), None);
        assert_eq!(d.on_answer(ip(2), ip(11)), None);
        assert_eq!(d.on_answer(ip(2), ip(12)), Some(ip(2)));
    }

    #[test]
    fn forwarding_makes_a_resolver_only_inside_the_window() {
        let mut d = ResolverDetector::new(&[]);
        let up = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 53));
        d.on_query(ip(10), ip(2), true, b"Dnl-01.Kaspersky.com.", 10 * S);
        // Too late: not a forward.
        d.on_query(ip(2), up, false, b"dnl-01.kaspersky.com", 13 * S);
        assert_eq!(d.stats().forwards, 0);
        d.on_query(ip(10), ip(2), true, b"x.kaspersky.com", 20 * S);
        assert_eq!(
            d.on_query(ip(2), up, false, b"X.KASPERSKY.COM", 20 * S + 5),
            [None, None]
        );
        d.on_query(ip(10), ip(2), true, b"y.kaspersky.com", 30 * S);
        // A different name does not pair.
        d.on_query(ip(2), up, false, b"z.kaspersky.com", 30 * S + 5);
        assert!(!d.is_resolver(ip(2)));
        assert_eq!(
            d.on_query(ip(2), up, false, b"y.kaspersky.com", 30 * S + 9),
            [Some(ip(2)), None]
        );
        assert_eq!(d.stats().forwards, 2);
    }

    #[test]
    fn declared_resolvers_and_the_server_bound() {
        let mut d = ResolverDetector::with_max_servers(&[ip(9)], 2);
        assert!(d.is_resolver(ip(9)));
        for n in 0..10 {
            d.on_query(ip(100), ip(n), true, b"a", 0);
        }
        assert_eq!(d.tracked(), 2);
        assert_eq!(d.stats().servers_dropped, 8);
    }
}
