//! Attribution: turning what the span port sees into evidence about the
//! right home host.
//!
//! Runs in the single output thread, on every event in packet order, so the
//! result is the same whatever the number of workers:
//!
//! ```text
//! Event::Name      → inventory (home sources only), resolver detector,
//!                    clients-per-resolver, fallback-resolver note,
//!                    KSC confirmation (vendor name on a KSC port)
//! Event::DnsAnswer → answer map (vendor names → addresses), resolver detector
//! Event::FlowStart → dns-correlated evidence (answer map hit),
//!                    ksc-port evidence (home ↔ home on a KSC port),
//!                    prefix evidence (Kaspersky prefix; weak)
//! ```
//!
//! Guarantees:
//! - Only home hosts ([`HomeNets`]) get inventory records.
//! - A resolver's DNS queries never make it "product installed" (see
//!   `inventory::Host::verdict`); the clients seen asking it for the same
//!   vendor names are kept for the report.
//! - DNS-correlated evidence is one confidence step below the rule of the
//!   name the address was given for; KSC port evidence is medium, high when
//!   a vendor name was seen on a KSC port between the same home hosts;
//!   prefix evidence never raises a verdict.
//! - Memory is bounded by the answer map, resolver and inventory limits in
//!   `config::limits`; flow starts that produce no evidence allocate
//!   nothing.

pub mod answers;
pub mod json;
pub mod resolvers;

use std::hash::BuildHasher;
use std::net::{IpAddr, Ipv4Addr};

use crate::config::limits::{ATTR_FLOW_REPEAT_WINDOW_NS, ATTR_RECENT_FLOW_SLOTS};
use crate::event::{Endpoints, Event, FlowStartEvent, NameEvent, Protocol, Transport, TsNs};
use crate::inventory::{Evidence, EvidenceKind, Inventory, Peer, Role, normalize_name, step_down};
use crate::signatures::{Confidence, IpIndicator, IpPrefix, SignatureSet};

pub use answers::{AnswerMap, AnswerName, AnswerStats};
pub use resolvers::{ResolverDetector, ResolverStats};

/// Public resolvers Kaspersky products fall back to when the configured
/// resolver fails (research: ../shared/research/kaspersky): Google, Cloudflare,
/// AliDNS, Quad9, CleanBrowsing.
pub const FALLBACK_RESOLVERS: [IpAddr; 5] = [
    IpAddr::V4(Ipv4Addr::new(8, 8, 8, 8)),
    IpAddr::V4(Ipv4Addr::new(1, 1, 1, 1)),
    IpAddr::V4(Ipv4Addr::new(223, 6, 6, 6)),
    IpAddr::V4(Ipv4Addr::new(9, 9, 9, 9)),
    IpAddr::V4(Ipv4Addr::new(185, 228, 168, 168)),
];

/// The KSC port on which the Administration Server opens the flow towards
/// the managed device (server-to-agent notifications, 15000/UDP, Kaspersky
/// KSC 15.1 help, "Ports used by Kaspersky Security Center"); on every
/// other KSC port the agent connects to the server.
pub const KSC_SERVER_TO_AGENT: (Transport, u16) = (Transport::Udp, 15000);

/// The DNS port (RFC 1035 §4.2.1).
pub const DNS_PORT: u16 = 53;

/// The home networks: addresses that get inventory records. Default: RFC
/// 1918 (10/8, 172.16/12, 192.168/16), RFC 6598 shared address space
/// (100.64/10), RFC 3927 IPv4 link-local (169.254/16), RFC 4193 unique local
/// (fc00::/7) and RFC 4291 §2.5.6 link-local (fe80::/10).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HomeNets(Vec<IpPrefix>);

/// The default home networks, as written on the command line.
pub const DEFAULT_HOME_NETS: [&str; 7] = [
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
    "169.254.0.0/16",
    "fc00::/7",
    "fe80::/10",
];

impl Default for HomeNets {
    fn default() -> Self {
        HomeNets(
            DEFAULT_HOME_NETS
                .iter()
                .filter_map(|s| IpPrefix::parse(s).ok())
                .collect(),
        )
    }
}

impl HomeNets {
    /// `--home-net CIDR` values (repeatable); none given: the default.
    /// Errors name the bad value and why.
    pub fn parse(cidrs: &[String]) -> Result<HomeNets, String> {
        if cidrs.is_empty() {
            return Ok(HomeNets::default());
        }
        cidrs
            .iter()
            .map(|c| IpPrefix::parse(c.trim()).map_err(|e| format!("--home-net {c:?}: {e}")))
            .collect::<Result<Vec<_>, _>>()
            .map(HomeNets)
    }

    /// Whether `ip` is a home address (an IPv4-mapped IPv6 address counts
    /// as its IPv4 address).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        self.0.iter().any(|p| p.contains(ip))
    }

    pub fn prefixes(&self) -> &[IpPrefix] {
        &self.0
    }
}

/// Attribution settings (from `--home-net` and `--resolver`).
#[derive(Clone, Debug, Default)]
pub struct AttributionConfig {
    pub home_nets: HomeNets,
    /// Declared resolvers (`--resolver IP`, repeatable).
    pub resolvers: Vec<IpAddr>,
}

/// Counters of the attribution stage (names as in `stats`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AttributionStats {
    /// Alerts whose source is not a home address (not inventoried).
    pub not_home: u64,
    /// Flow starts seen.
    pub flow_starts: u64,
    /// Flow starts that repeat a recent one (SYN retransmissions): ignored.
    pub flow_repeats: u64,
    /// Flow starts to an address in the answer map.
    pub correlated: u64,
    /// Flows between home hosts on a KSC port.
    pub ksc_flows: u64,
    /// Vendor names seen on a KSC port between home hosts (confirmations).
    pub ksc_confirmed: u64,
    /// Flow starts to a Kaspersky prefix.
    pub prefix_flows: u64,
    /// Vendor-name queries sent straight to a public fallback resolver.
    pub fallback_dns: u64,
}

/// The attribution engine. Create one per run; feed it every event in
/// packet order with [`Attributor::on_event`].
#[derive(Debug)]
pub struct Attributor {
    home: HomeNets,
    declared: Vec<IpAddr>,
    declared_noted: bool,
    answers: AnswerMap,
    resolvers: ResolverDetector,
    recent: RecentFlows,
    stats: AttributionStats,
}

/// Direct-mapped table of recent flow starts (keyed 5-tuple hash, time):
/// fixed size, no allocation after creation.
#[derive(Debug)]
struct RecentFlows {
    slots: Box<[(u64, TsNs)]>,
    hasher: foldhash::fast::RandomState,
}

impl RecentFlows {
    fn new() -> RecentFlows {
        RecentFlows {
            slots: vec![(0, 0); ATTR_RECENT_FLOW_SLOTS.max(1)].into_boxed_slice(),
            hasher: foldhash::fast::RandomState::default(),
        }
    }

    /// True when the same flow started less than
    /// `ATTR_FLOW_REPEAT_WINDOW_NS` ago; remembers this start either way.
    fn repeat(&mut self, ep: &Endpoints, ts: TsNs) -> bool {
        // 0 marks an empty slot.
        let key =
            self.hasher
                .hash_one((ep.transport, ep.src_ip, ep.src_port, ep.dst_ip, ep.dst_port))
                | 1;
        let n = self.slots.len() as u64;
        let Some(slot) = self.slots.get_mut((key % n) as usize) else {
            return false;
        };
        let repeat = slot.0 == key && ts >= slot.1 && ts - slot.1 < ATTR_FLOW_REPEAT_WINDOW_NS;
        *slot = (key, ts);
        repeat
    }
}

impl Attributor {
    pub fn new(cfg: AttributionConfig) -> Attributor {
        Self::with_answer_map(cfg, AnswerMap::default())
    }

    /// With a given (e.g. smaller) answer map.
    pub fn with_answer_map(cfg: AttributionConfig, answers: AnswerMap) -> Attributor {
        Attributor {
            resolvers: ResolverDetector::new(&cfg.resolvers),
            home: cfg.home_nets,
            declared: cfg.resolvers,
            declared_noted: false,
            answers,
            recent: RecentFlows::new(),
            stats: AttributionStats::default(),
        }
    }

    pub fn is_home(&self, ip: IpAddr) -> bool {
        self.home.contains(ip)
    }

    pub fn answers(&self) -> &AnswerMap {
        &self.answers
    }

    pub fn resolvers(&self) -> &ResolverDetector {
        &self.resolvers
    }

    pub fn stats(&self) -> AttributionStats {
        self.stats
    }

    /// Every counter of the stage, `(name, value)` in a stable order.
    pub fn counters(&self) -> [(&'static str, u64); 16] {
        let a = self.answers.stats();
        let r = self.resolvers.stats();
        let s = self.stats;
        [
            ("answer_map_inserted", a.inserted),
            ("answer_map_refreshed", a.refreshed),
            ("answer_map_expired", a.expired),
            ("answer_map_evicted", a.evicted),
            ("answer_map_names_dropped", a.names_dropped),
            ("resolver_servers_dropped", r.servers_dropped),
            ("resolver_forwards", r.forwards),
            ("resolvers_detected", r.detected),
            ("attribution_not_home", s.not_home),
            ("attribution_flow_starts", s.flow_starts),
            ("attribution_flow_repeats", s.flow_repeats),
            ("attribution_dns_correlated", s.correlated),
            ("attribution_ksc_flows", s.ksc_flows),
            ("attribution_ksc_confirmed", s.ksc_confirmed),
            ("attribution_prefix_flows", s.prefix_flows),
            ("attribution_fallback_dns", s.fallback_dns),
        ]
    }

    /// Handles one event: records what it shows in `inv` and appends the
    /// derived evidence to `out` (write those for which
    /// [`json::is_alert`] holds as alert records; see docs/SCHEMA.md).
    /// Alerts are recorded in the inventory here: do not also call
    /// `Inventory::observe` for them.
    pub fn on_event(
        &mut self,
        ev: &Event,
        sigs: &SignatureSet,
        inv: &mut Inventory,
        out: &mut Vec<Evidence>,
    ) {
        if !self.declared_noted {
            self.declared_noted = true;
            let ts = match ev {
                Event::Name(n) => n.ts,
                Event::DnsAnswer(a) => a.ts,
                Event::FlowStart(f) => f.ts,
            };
            for ip in self.declared.clone() {
                if self.home.contains(ip) {
                    inv.set_role(ip, Role::Resolver, ts);
                }
            }
        }
        match ev {
            Event::Name(n) => self.on_name(n, sigs, inv, out),
            Event::DnsAnswer(a) => {
                inv.note_time(a.ts);
                let (server, client) = (a.endpoints.src_ip, a.endpoints.dst_ip);
                if self.home.contains(server)
                    && let Some(r) = self.resolvers.on_answer(server, client)
                {
                    inv.set_role(r, Role::Resolver, a.ts);
                }
                let rule = [&a.query[..], &a.owner[..]]
                    .into_iter()
                    .filter_map(|n| sigs.match_name(n))
                    .max_by(|x, y| x.confidence.cmp(&y.confidence).then(y.id.cmp(&x.id)));
                if let Some(rule) = rule {
                    let mut name = Vec::new();
                    normalize_name(&a.query, &mut name);
                    let mut owner = Vec::new();
                    normalize_name(&a.owner, &mut owner);
                    self.answers.insert(
                        a.addr,
                        AnswerName {
                            name: name.into(),
                            owner: owner.into(),
                            rule: rule.clone(),
                            server,
                            ttl: a.ttl,
                            packet: a.packet,
                            ts: a.ts,
                        },
                    );
                }
            }
            Event::FlowStart(f) => self.on_flow_start(f, sigs, inv, out),
        }
    }

    fn on_name(
        &mut self,
        n: &NameEvent,
        sigs: &SignatureSet,
        inv: &mut Inventory,
        out: &mut Vec<Evidence>,
    ) {
        let ep = &n.endpoints;
        inv.note_time(n.ts);
        if n.protocol == Protocol::Dns {
            // Only the DNS port counts for resolver detection: mDNS/LLMNR
            // responders answer many hosts without being resolvers.
            let tracked = ep.dst_port == DNS_PORT && self.home.contains(ep.dst_ip);
            for ip in self
                .resolvers
                .on_query(ep.src_ip, ep.dst_ip, tracked, &n.name, n.ts)
                .into_iter()
                .flatten()
            {
                if self.home.contains(ip) {
                    inv.set_role(ip, Role::Resolver, n.ts);
                }
            }
        }
        let Some(rule) = &n.rule else {
            return;
        };
        if !self.home.contains(ep.src_ip) {
            self.stats.not_home += 1;
            return;
        }
        inv.observe(n);
        if n.protocol == Protocol::Dns {
            if FALLBACK_RESOLVERS.contains(&ep.dst_ip) {
                self.stats.fallback_dns += 1;
                inv.note_fallback(ep.src_ip, ep.dst_ip);
            }
            if self.home.contains(ep.dst_ip) {
                inv.note_served(ep.dst_ip, ep.src_ip, &n.name);
            }
        }
        // A vendor name on a KSC port between home hosts confirms the KSC
        // relationship (the Network Agent's TLS names the server).
        if matches!(n.protocol, Protocol::Tls | Protocol::Http)
            && self.home.contains(ep.dst_ip)
            && let Some(port_rule) = sigs.match_port(ep.transport, ep.dst_port).next()
        {
            self.stats.ksc_confirmed += 1;
            let _ = rule;
            self.ksc_pair(
                n.ts,
                n.packet,
                ep,
                &port_rule.id,
                Confidence::High,
                inv,
                out,
            );
        }
    }

    fn on_flow_start(
        &mut self,
        f: &FlowStartEvent,
        sigs: &SignatureSet,
        inv: &mut Inventory,
        out: &mut Vec<Evidence>,
    ) {
        self.stats.flow_starts += 1;
        inv.note_time(f.ts);
        self.answers.expire(f.ts);
        let ep = &f.endpoints;
        let src_home = self.home.contains(ep.src_ip);
        let dst_home = self.home.contains(ep.dst_ip);
        if !src_home {
            return;
        }
        if self.recent.repeat(ep, f.ts) {
            self.stats.flow_repeats += 1;
            return;
        }
        let port_rule = sigs.match_port(ep.transport, ep.dst_port).next();
        if dst_home && let Some(r) = port_rule {
            self.stats.ksc_flows += 1;
            self.ksc_pair(f.ts, f.packet, ep, &r.id, Confidence::Medium, inv, out);
        }
        let mut vendor_dst = false;
        if let Some(best) = self.answers.lookup(ep.dst_ip, f.ts).and_then(|e| e.best()) {
            self.stats.correlated += 1;
            vendor_dst = true;
            let e = Evidence {
                ts: f.ts,
                packet: f.packet,
                host: ep.src_ip,
                mac: ep.src_mac,
                vlan: ep.vlan,
                kind: EvidenceKind::DnsCorrelated {
                    endpoints: *ep,
                    name: best.name.clone(),
                    owner: best.owner.clone(),
                    rule: best.rule.clone(),
                    addr: ep.dst_ip,
                    answered_by: best.server,
                    answer_packet: best.packet,
                    answer_ts: best.ts,
                    ttl: best.ttl,
                    confidence: step_down(best.rule.confidence),
                },
            };
            inv.record(&e);
            out.push(e);
        }
        if !dst_home
            && let Some(ip_rule) = sigs.match_ip(ep.dst_ip)
            && matches!(ip_rule.indicator, IpIndicator::Prefix(_))
        {
            self.stats.prefix_flows += 1;
            vendor_dst = true;
            let e = Evidence {
                ts: f.ts,
                packet: f.packet,
                host: ep.src_ip,
                mac: ep.src_mac,
                vlan: ep.vlan,
                kind: EvidenceKind::Prefix {
                    endpoints: *ep,
                    rule_id: ip_rule.id.as_str().into(),
                },
            };
            inv.record(&e);
            out.push(e);
        }
        // KSC Cloud Console: an agent connecting out on a KSC port to an
        // address known to be the vendor's.
        if !dst_home
            && vendor_dst
            && let Some(r) = port_rule
        {
            self.stats.ksc_flows += 1;
            let e = Evidence {
                ts: f.ts,
                packet: f.packet,
                host: ep.src_ip,
                mac: ep.src_mac,
                vlan: ep.vlan,
                kind: EvidenceKind::KscPort {
                    endpoints: *ep,
                    role: Role::ManagedEndpoint,
                    peer: Peer {
                        ip: ep.dst_ip,
                        port: ep.dst_port,
                        transport: ep.transport,
                    },
                    rule_id: r.id.as_str().into(),
                    confidence: Confidence::Medium,
                },
            };
            inv.record(&e);
            out.push(e);
        }
    }

    /// KSC evidence for both ends of a home ↔ home flow on a KSC port.
    #[allow(clippy::too_many_arguments)] // reason: one private call shape, all fields vary
    fn ksc_pair(
        &mut self,
        ts: TsNs,
        packet: u64,
        ep: &Endpoints,
        rule_id: &str,
        confidence: Confidence,
        inv: &mut Inventory,
        out: &mut Vec<Evidence>,
    ) {
        let server_is_src = (ep.transport, ep.dst_port) == KSC_SERVER_TO_AGENT;
        let (server, agent) = if server_is_src {
            (ep.src_ip, ep.dst_ip)
        } else {
            (ep.dst_ip, ep.src_ip)
        };
        let port = ep.dst_port;
        for (host, role, peer) in [
            (agent, Role::ManagedEndpoint, server),
            (server, Role::KscServer, agent),
        ] {
            // Only the sender's MAC/VLAN is on the frame.
            let (mac, vlan) = if host == ep.src_ip {
                (ep.src_mac, ep.vlan)
            } else {
                (None, ep.vlan)
            };
            let e = Evidence {
                ts,
                packet,
                host,
                mac,
                vlan,
                kind: EvidenceKind::KscPort {
                    endpoints: *ep,
                    role,
                    peer: Peer {
                        ip: peer,
                        port,
                        transport: ep.transport,
                    },
                    rule_id: rule_id.into(),
                    confidence,
                },
            };
            inv.record(&e);
            out.push(e);
        }
    }
}

#[cfg(test)]
mod tests;
