//! Per-host aggregation of alerts: which client hosts phone home, since
//! when, over which channels, to which names, and how sure we are.
//!
//! Pure state, no I/O: `output::inventory_file` and `output::summary` write
//! it out. Bounded by the `INVENTORY_*` limits in `config::limits`; every
//! refusal is counted in [`Dropped`].
//!
//! Guarantees:
//! - Only alerts (name events with a rule) are recorded.
//! - Hosts are keyed by source IP; names are keyed by their lowercased form
//!   with one trailing dot removed, as bytes (no other change).
//! - A host's confidence is the highest confidence of any rule that fired
//!   for it, including alerts whose name could not be kept, so a host that
//!   only browsed vendor web sites stays `low`.
//! - First/last seen are the minimum/maximum packet times, whatever order
//!   events arrive in (several files, several workers).

use std::cmp::Ordering;
use std::net::IpAddr;
use std::sync::Arc;

use foldhash::{HashMap, HashMapExt};

use crate::config::limits::{
    INVENTORY_MAX_HOSTS, INVENTORY_MAX_MACS_PER_HOST, INVENTORY_MAX_NAME_LEN,
    INVENTORY_MAX_NAMES_PER_HOST, INVENTORY_MAX_NAMES_TOTAL, INVENTORY_MAX_VLANS_PER_HOST,
};
use crate::event::{NameEvent, Protocol, TsNs};
use crate::signatures::{Confidence, Rule};

/// All protocols in their fixed output order.
pub const PROTOCOLS: [Protocol; 4] = [Protocol::Dns, Protocol::Tls, Protocol::Http, Protocol::Quic];

fn protocol_index(p: Protocol) -> usize {
    match p {
        Protocol::Dns => 0,
        Protocol::Tls => 1,
        Protocol::Http => 2,
        Protocol::Quic => 3,
    }
}

/// A count per protocol (channel).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ByProtocol(pub [u64; 4]);

impl ByProtocol {
    pub fn get(&self, p: Protocol) -> u64 {
        self.0.get(protocol_index(p)).copied().unwrap_or(0)
    }
    pub fn add(&mut self, p: Protocol, n: u64) {
        if let Some(c) = self.0.get_mut(protocol_index(p)) {
            *c = c.saturating_add(n);
        }
    }
    pub fn total(&self) -> u64 {
        self.0.iter().fold(0u64, |a, &b| a.saturating_add(b))
    }
    /// `(protocol, count)` in [`PROTOCOLS`] order.
    pub fn iter(&self) -> impl Iterator<Item = (Protocol, u64)> + '_ {
        PROTOCOLS.into_iter().map(|p| (p, self.get(p)))
    }
}

/// A set of channels (protocols).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Channels(u8);

impl Channels {
    pub fn insert(&mut self, p: Protocol) {
        self.0 |= 1 << protocol_index(p);
    }
    pub fn contains(self, p: Protocol) -> bool {
        self.0 & (1 << protocol_index(p)) != 0
    }
    /// Members in [`PROTOCOLS`] order.
    pub fn iter(self) -> impl Iterator<Item = Protocol> {
        PROTOCOLS.into_iter().filter(move |&p| self.contains(p))
    }
}

/// What the inventory refused, each a counter named as in `stats`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Dropped {
    /// Alerts not recorded because `INVENTORY_MAX_HOSTS` hosts were already
    /// tracked (counted per alert: remembering which hosts were refused would
    /// itself be unbounded).
    pub hosts: u64,
    /// Alerts whose name was not kept (per-host or total name limit).
    pub names: u64,
    /// Alerts whose name was longer than `INVENTORY_MAX_NAME_LEN`.
    pub names_too_long: u64,
    /// Distinct MACs not remembered beyond `INVENTORY_MAX_MACS_PER_HOST`.
    pub macs: u64,
    /// Distinct VLANs not remembered beyond `INVENTORY_MAX_VLANS_PER_HOST`.
    pub vlans: u64,
}

impl Dropped {
    /// `(counter name, value)` in a stable order, for `stats`.
    pub fn counters(&self) -> [(&'static str, u64); 5] {
        [
            ("inventory_hosts_dropped", self.hosts),
            ("inventory_names_dropped", self.names),
            ("inventory_names_too_long", self.names_too_long),
            ("inventory_macs_dropped", self.macs),
            ("inventory_vlans_dropped", self.vlans),
        ]
    }
}

/// Bounds of one inventory (the defaults are the `INVENTORY_*` limits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_hosts: usize,
    pub max_names_per_host: usize,
    pub max_names_total: usize,
    pub max_name_len: usize,
    pub max_macs_per_host: usize,
    pub max_vlans_per_host: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_hosts: INVENTORY_MAX_HOSTS,
            max_names_per_host: INVENTORY_MAX_NAMES_PER_HOST,
            max_names_total: INVENTORY_MAX_NAMES_TOTAL,
            max_name_len: INVENTORY_MAX_NAME_LEN,
            max_macs_per_host: INVENTORY_MAX_MACS_PER_HOST,
            max_vlans_per_host: INVENTORY_MAX_VLANS_PER_HOST,
        }
    }
}

/// One name a host contacted.
#[derive(Clone, Debug)]
pub struct NameEntry {
    count: u64,
    rule: Arc<Rule>,
    channels: Channels,
    first_seen: TsNs,
    last_seen: TsNs,
}

impl NameEntry {
    pub fn count(&self) -> u64 {
        self.count
    }
    /// The rule that matched (if several did, e.g. across a signature
    /// reload: the most confident, then the smallest id).
    pub fn rule(&self) -> &Rule {
        &self.rule
    }
    pub fn rule_id(&self) -> &str {
        &self.rule.id
    }
    pub fn category(&self) -> &str {
        &self.rule.category
    }
    pub fn confidence(&self) -> Confidence {
        self.rule.confidence
    }
    pub fn channels(&self) -> Channels {
        self.channels
    }
    pub fn first_seen(&self) -> TsNs {
        self.first_seen
    }
    pub fn last_seen(&self) -> TsNs {
        self.last_seen
    }
}

/// One client host seen phoning home.
#[derive(Clone, Debug)]
pub struct Host {
    ip: IpAddr,
    /// Most recent MAC and the packet time it was seen at.
    mac: Option<([u8; 6], TsNs)>,
    /// Sorted, at most `max_macs_per_host`.
    macs: Vec<[u8; 6]>,
    /// Most recent VLAN and the packet time it was seen at.
    vlan: Option<(u16, TsNs)>,
    /// Sorted, at most `max_vlans_per_host`.
    vlans: Vec<u16>,
    first_seen: TsNs,
    last_seen: TsNs,
    confidence: Confidence,
    by_channel: ByProtocol,
    names: HashMap<Box<[u8]>, NameEntry>,
}

impl Host {
    pub fn ip(&self) -> IpAddr {
        self.ip
    }
    /// Source MAC of the most recent alert that had one.
    pub fn mac(&self) -> Option<[u8; 6]> {
        self.mac.map(|(m, _)| m)
    }
    /// Every distinct source MAC seen (bounded), sorted.
    pub fn macs(&self) -> &[[u8; 6]] {
        &self.macs
    }
    /// VLAN of the most recent alert that had one.
    pub fn vlan(&self) -> Option<u16> {
        self.vlan.map(|(v, _)| v)
    }
    /// Every distinct VLAN seen (bounded), sorted.
    pub fn vlans(&self) -> &[u16] {
        &self.vlans
    }
    pub fn first_seen(&self) -> TsNs {
        self.first_seen
    }
    pub fn last_seen(&self) -> TsNs {
        self.last_seen
    }
    pub fn confidence(&self) -> Confidence {
        self.confidence
    }
    /// Alerts per channel (all alerts, kept names or not).
    pub fn by_channel(&self) -> ByProtocol {
        self.by_channel
    }
    pub fn alerts(&self) -> u64 {
        self.by_channel.total()
    }
    pub fn name_count(&self) -> usize {
        self.names.len()
    }
    /// Names sorted by their bytes (deterministic output).
    pub fn names_sorted(&self) -> Vec<(&[u8], &NameEntry)> {
        let mut v: Vec<(&[u8], &NameEntry)> = self.names.iter().map(|(k, e)| (&k[..], e)).collect();
        v.sort_unstable_by(|a, b| a.0.cmp(b.0));
        v
    }
    /// Names by count (descending), then by bytes.
    pub fn names_by_count(&self) -> Vec<(&[u8], &NameEntry)> {
        let mut v = self.names_sorted();
        v.sort_by_key(|e| std::cmp::Reverse(e.1.count));
        v
    }
    /// The entry of a normalised name.
    pub fn name(&self, normalized: &[u8]) -> Option<&NameEntry> {
        self.names.get(normalized)
    }
}

/// Report order: confidence descending, then last seen descending, then IP
/// ascending.
pub fn report_order(a: &Host, b: &Host) -> Ordering {
    b.confidence
        .cmp(&a.confidence)
        .then(b.last_seen.cmp(&a.last_seen))
        .then(a.ip.cmp(&b.ip))
}

/// Writes the inventory key of `name` into `out` (cleared first): ASCII
/// lowercased, one trailing dot removed.
pub fn normalize_name(name: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let name = name.strip_suffix(b".").unwrap_or(name);
    out.extend(name.iter().map(u8::to_ascii_lowercase));
}

/// The per-host aggregation of alerts.
#[derive(Debug)]
pub struct Inventory {
    hosts: HashMap<IpAddr, Host>,
    limits: Limits,
    names_total: usize,
    dropped: Dropped,
    /// Reused for normalising names: no allocation when a name is known.
    scratch: Vec<u8>,
}

impl Default for Inventory {
    fn default() -> Self {
        Self::new()
    }
}

impl Inventory {
    pub fn new() -> Self {
        Self::with_limits(Limits::default())
    }

    pub fn with_limits(limits: Limits) -> Self {
        Inventory {
            hosts: HashMap::new(),
            limits,
            names_total: 0,
            dropped: Dropped::default(),
            scratch: Vec::new(),
        }
    }

    /// Records an alert. Name events without a rule are ignored; returns
    /// whether the alert was recorded for its host.
    pub fn observe(&mut self, ev: &NameEvent) -> bool {
        let Some(rule) = &ev.rule else {
            return false;
        };
        let ep = &ev.endpoints;
        let ts = ev.ts;
        if !self.hosts.contains_key(&ep.src_ip) && self.hosts.len() >= self.limits.max_hosts {
            self.dropped.hosts += 1;
            return false;
        }
        let limits = self.limits;
        let host = self.hosts.entry(ep.src_ip).or_insert_with(|| Host {
            ip: ep.src_ip,
            mac: None,
            macs: Vec::new(),
            vlan: None,
            vlans: Vec::new(),
            first_seen: ts,
            last_seen: ts,
            confidence: rule.confidence,
            by_channel: ByProtocol::default(),
            names: HashMap::new(),
        });

        // Most recent MAC/VLAN: this alert's, unless one with a later packet
        // time set them (events arrive out of order across files and
        // workers); on equal times the later arrival wins.
        if let Some(mac) = ep.src_mac {
            if host.mac.is_none_or(|(_, seen)| ts >= seen) {
                host.mac = Some((mac, ts));
            }
            if !insert_bounded(&mut host.macs, mac, limits.max_macs_per_host) {
                self.dropped.macs += 1;
            }
        }
        if let Some(vlan) = ep.vlan {
            if host.vlan.is_none_or(|(_, seen)| ts >= seen) {
                host.vlan = Some((vlan, ts));
            }
            if !insert_bounded(&mut host.vlans, vlan, limits.max_vlans_per_host) {
                self.dropped.vlans += 1;
            }
        }
        host.first_seen = host.first_seen.min(ts);
        host.last_seen = host.last_seen.max(ts);
        host.confidence = host.confidence.max(rule.confidence);
        host.by_channel.add(ev.protocol, 1);

        normalize_name(&ev.name, &mut self.scratch);
        if let Some(entry) = host.names.get_mut(&self.scratch[..]) {
            entry.count += 1;
            entry.channels.insert(ev.protocol);
            entry.first_seen = entry.first_seen.min(ts);
            entry.last_seen = entry.last_seen.max(ts);
            // The most confident rule; among equals the smallest id, so the
            // result does not depend on arrival order.
            let better = rule.confidence > entry.rule.confidence
                || (rule.confidence == entry.rule.confidence && rule.id < entry.rule.id);
            if better {
                entry.rule = Arc::clone(rule);
            }
        } else if self.scratch.len() > limits.max_name_len {
            self.dropped.names_too_long += 1;
        } else if host.names.len() >= limits.max_names_per_host
            || self.names_total >= limits.max_names_total
        {
            self.dropped.names += 1;
        } else {
            let mut channels = Channels::default();
            channels.insert(ev.protocol);
            host.names.insert(
                self.scratch.as_slice().into(),
                NameEntry {
                    count: 1,
                    rule: Arc::clone(rule),
                    channels,
                    first_seen: ts,
                    last_seen: ts,
                },
            );
            self.names_total += 1;
        }
        true
    }

    /// Number of hosts.
    pub fn len(&self) -> usize {
        self.hosts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty()
    }

    pub fn host(&self, ip: IpAddr) -> Option<&Host> {
        self.hosts.get(&ip)
    }

    /// Hosts in report order (see [`report_order`]).
    pub fn hosts_sorted(&self) -> Vec<&Host> {
        let mut v: Vec<&Host> = self.hosts.values().collect();
        v.sort_unstable_by(|a, b| report_order(a, b));
        v
    }

    /// What the limits refused so far.
    pub fn dropped(&self) -> Dropped {
        self.dropped
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }
}

/// Inserts `v` into the sorted set `set` unless it is full; true when `v`
/// is (now) a member.
fn insert_bounded<T: Ord + Copy>(set: &mut Vec<T>, v: T, max: usize) -> bool {
    match set.binary_search(&v) {
        Ok(_) => true,
        Err(_) if set.len() >= max => false,
        Err(at) => {
            set.insert(at, v);
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::event::{Endpoints, NameDetail, Transport};

    fn rule(id: &str, category: &str, confidence: Confidence) -> Arc<Rule> {
        Arc::new(Rule {
            id: id.into(),
            pattern: "*.kaspersky.com".into(),
            vendor: "kaspersky".into(),
            category: category.into(),
            confidence,
            source: String::new(),
            note: String::new(),
        })
    }

    fn ip(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, last))
    }

    fn alert(
        src: u8,
        ts: u64,
        protocol: Protocol,
        name: &[u8],
        rule: Option<Arc<Rule>>,
    ) -> NameEvent {
        NameEvent {
            ts,
            packet: ts,
            protocol,
            endpoints: Endpoints {
                transport: Transport::Udp,
                src_ip: ip(src),
                src_port: 40_000,
                dst_ip: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
                dst_port: 53,
                src_mac: Some([2, 0, 0, 0, 0, src]),
                vlan: None,
            },
            name: name.into(),
            detail: NameDetail::Dns { qtype: 1 },
            rule,
        }
    }

    #[test]
    fn non_alerts_are_ignored() {
        let mut inv = Inventory::new();
        assert!(!inv.observe(&alert(1, 1, Protocol::Dns, b"example.org", None)));
        assert!(inv.is_empty());
    }

    #[test]
    fn names_are_normalised_and_aggregated() {
        let r = rule("k-1", "update", Confidence::High);
        let mut inv = Inventory::new();
        inv.observe(&alert(
            1,
            20,
            Protocol::Dns,
            b"DNL-01.Kaspersky.COM.",
            Some(r.clone()),
        ));
        inv.observe(&alert(
            1,
            10,
            Protocol::Tls,
            b"dnl-01.kaspersky.com",
            Some(r.clone()),
        ));
        inv.observe(&alert(
            1,
            30,
            Protocol::Tls,
            b"dnl-01.kaspersky.com",
            Some(r),
        ));
        let host = inv.host(ip(1)).expect("host recorded");
        assert_eq!(host.name_count(), 1);
        let e = host.name(b"dnl-01.kaspersky.com").expect("normalised key");
        assert_eq!(e.count(), 3);
        assert_eq!((e.first_seen(), e.last_seen()), (10, 30));
        assert_eq!(
            e.channels().iter().collect::<Vec<_>>(),
            [Protocol::Dns, Protocol::Tls]
        );
        assert_eq!((e.rule_id(), e.category()), ("k-1", "update"));
        assert_eq!((host.first_seen(), host.last_seen()), (10, 30));
        assert_eq!(host.by_channel().get(Protocol::Dns), 1);
        assert_eq!(host.by_channel().get(Protocol::Tls), 2);
        assert_eq!(host.alerts(), 3);
    }

    #[test]
    fn normalisation_only_lowercases_ascii_and_strips_one_dot() {
        let mut out = vec![b'z'];
        normalize_name(b"A\xc3\x9c.B..", &mut out);
        assert_eq!(out, b"a\xc3\x9c.b.");
        normalize_name(b"", &mut out);
        assert_eq!(out, b"");
        normalize_name(b".", &mut out);
        assert_eq!(out, b"");
    }

    #[test]
    fn web_browsing_host_stays_low_and_product_host_is_high() {
        let web = rule("k-web", "website_browsing", Confidence::Low);
        let upd = rule("k-upd", "update", Confidence::High);
        let mut inv = Inventory::new();
        inv.observe(&alert(
            1,
            1,
            Protocol::Tls,
            b"www.kaspersky.com",
            Some(web.clone()),
        ));
        inv.observe(&alert(
            1,
            2,
            Protocol::Tls,
            b"support.kaspersky.com",
            Some(web.clone()),
        ));
        inv.observe(&alert(2, 1, Protocol::Tls, b"www.kaspersky.com", Some(web)));
        inv.observe(&alert(
            2,
            2,
            Protocol::Dns,
            b"dnl-01.kaspersky.com",
            Some(upd),
        ));
        assert_eq!(inv.host(ip(1)).map(Host::confidence), Some(Confidence::Low));
        assert_eq!(
            inv.host(ip(2)).map(Host::confidence),
            Some(Confidence::High)
        );
    }

    #[test]
    fn hosts_sort_by_confidence_then_last_seen_then_ip() {
        let low = rule("l", "website_browsing", Confidence::Low);
        let med = rule("m", "x", Confidence::Medium);
        let high = rule("h", "update", Confidence::High);
        let mut inv = Inventory::new();
        inv.observe(&alert(9, 100, Protocol::Dns, b"a.kaspersky.com", Some(low)));
        inv.observe(&alert(
            5,
            10,
            Protocol::Dns,
            b"a.kaspersky.com",
            Some(high.clone()),
        ));
        inv.observe(&alert(
            4,
            50,
            Protocol::Dns,
            b"a.kaspersky.com",
            Some(high.clone()),
        ));
        inv.observe(&alert(3, 50, Protocol::Dns, b"a.kaspersky.com", Some(high)));
        inv.observe(&alert(7, 60, Protocol::Dns, b"a.kaspersky.com", Some(med)));
        let order: Vec<IpAddr> = inv.hosts_sorted().iter().map(|h| h.ip()).collect();
        assert_eq!(order, [ip(3), ip(4), ip(5), ip(7), ip(9)]);
    }

    #[test]
    fn most_recent_mac_and_vlan_and_the_set() {
        let r = rule("k", "update", Confidence::High);
        let mut inv = Inventory::new();
        let mut ev = alert(1, 20, Protocol::Dns, b"a.kaspersky.com", Some(r));
        ev.endpoints.src_mac = Some([0xbb; 6]);
        ev.endpoints.vlan = Some(20);
        inv.observe(&ev);
        // Older packet arriving later (another worker): not "most recent".
        ev.ts = 10;
        ev.endpoints.src_mac = Some([0xaa; 6]);
        ev.endpoints.vlan = Some(10);
        inv.observe(&ev);
        // A newer packet without MAC or VLAN keeps the known ones, and an
        // older one arriving after it must not replace them.
        ev.ts = 30;
        ev.endpoints.src_mac = None;
        ev.endpoints.vlan = None;
        inv.observe(&ev);
        ev.ts = 15;
        ev.endpoints.src_mac = Some([0xcc; 6]);
        ev.endpoints.vlan = Some(15);
        inv.observe(&ev);
        let h = inv.host(ip(1)).expect("host");
        assert_eq!(h.mac(), Some([0xbb; 6]));
        assert_eq!(h.macs(), [[0xaa; 6], [0xbb; 6], [0xcc; 6]]);
        assert_eq!(h.vlan(), Some(20));
        assert_eq!(h.vlans(), [10, 15, 20]);
    }

    #[test]
    fn limits_are_enforced_and_counted() {
        let r = rule("k", "update", Confidence::High);
        let limits = Limits {
            max_hosts: 2,
            max_names_per_host: 2,
            max_names_total: 3,
            max_name_len: 20,
            max_macs_per_host: 1,
            max_vlans_per_host: 1,
        };
        let mut inv = Inventory::with_limits(limits);
        assert!(inv.observe(&alert(
            1,
            1,
            Protocol::Dns,
            b"a.kaspersky.com",
            Some(r.clone())
        )));
        assert!(inv.observe(&alert(
            2,
            1,
            Protocol::Dns,
            b"a.kaspersky.com",
            Some(r.clone())
        )));
        // Third host refused.
        assert!(!inv.observe(&alert(
            3,
            1,
            Protocol::Dns,
            b"a.kaspersky.com",
            Some(r.clone())
        )));
        assert_eq!(inv.len(), 2);
        // Host 1: second name kept, third over the per-host limit.
        inv.observe(&alert(
            1,
            2,
            Protocol::Dns,
            b"b.kaspersky.com",
            Some(r.clone()),
        ));
        inv.observe(&alert(
            1,
            3,
            Protocol::Dns,
            b"c.kaspersky.com",
            Some(r.clone()),
        ));
        // Host 2: total limit (3) reached.
        inv.observe(&alert(
            2,
            4,
            Protocol::Dns,
            b"d.kaspersky.com",
            Some(r.clone()),
        ));
        // Too long for max_name_len.
        inv.observe(&alert(
            2,
            5,
            Protocol::Dns,
            b"long-name.kaspersky.com",
            Some(r.clone()),
        ));
        // A known name is still counted after the limit.
        inv.observe(&alert(
            1,
            6,
            Protocol::Dns,
            b"A.kaspersky.com",
            Some(r.clone()),
        ));
        // A second MAC for host 1.
        let mut ev = alert(1, 7, Protocol::Dns, b"a.kaspersky.com", Some(r));
        ev.endpoints.src_mac = Some([9; 6]);
        ev.endpoints.vlan = Some(5);
        inv.observe(&ev);
        ev.endpoints.vlan = Some(6);
        inv.observe(&ev);

        let d = inv.dropped();
        assert_eq!(
            d,
            Dropped {
                hosts: 1,
                names: 2,
                names_too_long: 1,
                macs: 2,
                vlans: 1
            }
        );
        let h1 = inv.host(ip(1)).expect("host 1");
        assert_eq!(h1.name_count(), 2);
        assert_eq!(h1.name(b"a.kaspersky.com").map(NameEntry::count), Some(4));
        // Dropped names still count for the host.
        assert_eq!(h1.alerts(), 6);
        assert_eq!(
            h1.mac(),
            Some([9; 6]),
            "most recent MAC is kept even when the set is full"
        );
        assert_eq!(h1.macs().len(), 1);
        assert_eq!(inv.host(ip(2)).map(Host::alerts), Some(3));
        assert_eq!(d.counters()[0], ("inventory_hosts_dropped", 1));
        assert_eq!(d.counters()[1], ("inventory_names_dropped", 2));
    }

    #[test]
    fn more_confident_rule_replaces_a_names_rule() {
        let low = rule("l", "website_browsing", Confidence::Low);
        let high = rule("h", "update", Confidence::High);
        let mut inv = Inventory::new();
        inv.observe(&alert(
            1,
            1,
            Protocol::Dns,
            b"a.kaspersky.com",
            Some(low.clone()),
        ));
        inv.observe(&alert(1, 2, Protocol::Dns, b"a.kaspersky.com", Some(high)));
        inv.observe(&alert(1, 3, Protocol::Dns, b"a.kaspersky.com", Some(low)));
        let e = inv
            .host(ip(1))
            .and_then(|h| h.name(b"a.kaspersky.com"))
            .expect("entry");
        assert_eq!(
            (e.rule_id(), e.confidence(), e.count()),
            ("h", Confidence::High, 3)
        );
    }

    #[test]
    fn equally_confident_rules_resolve_by_id_whatever_the_order() {
        let b = rule("k-b", "update", Confidence::High);
        let a = rule("k-a", "update", Confidence::High);
        for order in [[a.clone(), b.clone()], [b.clone(), a.clone()]] {
            let mut inv = Inventory::new();
            for (i, r) in order.into_iter().enumerate() {
                inv.observe(&alert(
                    1,
                    i as u64,
                    Protocol::Dns,
                    b"x.kaspersky.com",
                    Some(r),
                ));
            }
            let e = inv
                .host(ip(1))
                .and_then(|h| h.name(b"x.kaspersky.com"))
                .expect("entry");
            assert_eq!(e.rule_id(), "k-a");
        }
    }

    #[test]
    fn names_sort_deterministically() {
        let r = rule("k", "update", Confidence::High);
        let mut inv = Inventory::new();
        for (i, n) in [
            &b"c.kaspersky.com"[..],
            b"a.kaspersky.com",
            b"b.kaspersky.com",
            b"b.kaspersky.com",
        ]
        .into_iter()
        .enumerate()
        {
            inv.observe(&alert(1, i as u64, Protocol::Dns, n, Some(r.clone())));
        }
        let h = inv.host(ip(1)).expect("host");
        let sorted: Vec<&[u8]> = h.names_sorted().into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            sorted,
            [
                &b"a.kaspersky.com"[..],
                b"b.kaspersky.com",
                b"c.kaspersky.com"
            ]
        );
        let by_count: Vec<&[u8]> = h.names_by_count().into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            by_count,
            [
                &b"b.kaspersky.com"[..],
                b"a.kaspersky.com",
                b"c.kaspersky.com"
            ]
        );
    }
}
