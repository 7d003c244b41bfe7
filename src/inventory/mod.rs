//! Per-host aggregation of evidence: which home hosts phone home, since
//! when, over which channels, to which names, in which role, and how sure we
//! are.
//!
//! Pure state, no I/O: `output::inventory_file`, `output::summary` and
//! `report` write it out; [`state`] saves and merges it across runs. Bounded
//! by the `INVENTORY_*` limits in `config::limits`; every refusal is counted
//! in [`Dropped`].
//!
//! Evidence comes from two places: alerts ([`Inventory::observe`], name
//! events with a rule) and what `attribution` derives in the output thread
//! ([`Inventory::record`]: DNS-correlated connections, Kaspersky Security
//! Center ports, Kaspersky prefixes; [`Inventory::set_role`] for resolvers).
//!
//! Guarantees:
//! - Only alerts (name events with a rule) and derived evidence are
//!   recorded; hosts are keyed by IP (records sharing a MAC are merged on
//!   output by [`Inventory::merged_by_mac`]).
//! - Names are keyed by their lowercased form with one trailing dot removed,
//!   as bytes (no other change).
//! - A host's verdict ([`Host::verdict`]) is the highest confidence of the
//!   evidence that counts for it: direct names (the rule's confidence),
//!   DNS-correlated connections (one step below the rule), KSC ports
//!   (medium; high when a vendor name on the same port confirms it). Flows
//!   to Kaspersky prefixes never count (weak, supporting only), and a
//!   resolver's own DNS queries never count: it asks on behalf of clients.
//! - First/last seen are the minimum/maximum packet times, whatever order
//!   events arrive in (several files, several workers, merged states).

pub mod reason;
pub mod state;

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use foldhash::{HashMap, HashMapExt};

use crate::config::limits::{
    CONTACT_GAP_NS, INVENTORY_MAC_MERGE_MAX_IPS, INVENTORY_MAX_CONTACTS_PER_HOST,
    INVENTORY_MAX_HOSTS, INVENTORY_MAX_MACS_PER_HOST, INVENTORY_MAX_NAME_LEN,
    INVENTORY_MAX_NAMES_PER_HOST, INVENTORY_MAX_NAMES_TOTAL, INVENTORY_MAX_PEERS_PER_HOST,
    INVENTORY_MAX_VLANS_PER_HOST, RESOLVER_MAX_CLIENTS_PER_NAME, RESOLVER_MAX_NAMES,
    RESOLVER_MAX_SERVERS,
};
use crate::event::{NameEvent, Protocol, Transport, TsNs};
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

/// A count per protocol (the four direct-name channels).
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

/// A set of protocols (the channels a name was seen on).
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
    pub fn bits(self) -> u8 {
        self.0
    }
    pub fn from_bits(bits: u8) -> Channels {
        Channels(bits & 0x0f)
    }
}

/// An evidence channel: the four direct-name protocols and what the
/// attribution stage derives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Channel {
    Dns,
    Tls,
    Http,
    Quic,
    /// A connection (TCP SYN, first UDP datagram) to an address a vendor
    /// name resolved to, without the name on the wire.
    DnsCorrelated,
    /// A flow on a Kaspersky Security Center port.
    KscPort,
    /// A flow to a Kaspersky address prefix: weak, supporting only.
    Prefix,
}

/// All channels in their fixed output order.
pub const CHANNELS: [Channel; 7] = [
    Channel::Dns,
    Channel::Tls,
    Channel::Http,
    Channel::Quic,
    Channel::DnsCorrelated,
    Channel::KscPort,
    Channel::Prefix,
];

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Dns => "dns",
            Channel::Tls => "tls",
            Channel::Http => "http",
            Channel::Quic => "quic",
            Channel::DnsCorrelated => "dns-correlated",
            Channel::KscPort => "ksc-port",
            Channel::Prefix => "prefix",
        }
    }
    pub fn parse(s: &str) -> Option<Channel> {
        CHANNELS.into_iter().find(|c| c.as_str() == s)
    }
    pub fn index(self) -> usize {
        match self {
            Channel::Dns => 0,
            Channel::Tls => 1,
            Channel::Http => 2,
            Channel::Quic => 3,
            Channel::DnsCorrelated => 4,
            Channel::KscPort => 5,
            Channel::Prefix => 6,
        }
    }
    fn bit(self) -> u8 {
        1 << self.index()
    }
}

impl From<Protocol> for Channel {
    fn from(p: Protocol) -> Channel {
        match p {
            Protocol::Dns => Channel::Dns,
            Protocol::Tls => Channel::Tls,
            Protocol::Http => Channel::Http,
            Protocol::Quic => Channel::Quic,
        }
    }
}

/// A count per [`Channel`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ByChannel(pub [u64; 7]);

impl ByChannel {
    pub fn get(&self, c: Channel) -> u64 {
        self.0.get(c.index()).copied().unwrap_or(0)
    }
    pub fn add(&mut self, c: Channel, n: u64) {
        if let Some(v) = self.0.get_mut(c.index()) {
            *v = v.saturating_add(n);
        }
    }
    /// `(channel, count)` in [`CHANNELS`] order.
    pub fn iter(&self) -> impl Iterator<Item = (Channel, u64)> + '_ {
        CHANNELS.into_iter().map(|c| (c, self.get(c)))
    }
}

/// What a host does, as far as the traffic shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// A host contacting the vendor for itself.
    Endpoint,
    /// A DNS resolver: its vendor queries are made on behalf of clients.
    Resolver,
    /// A Kaspersky Security Center Administration Server.
    KscServer,
    /// An endpoint managed by an on-premises (or cloud) KSC server.
    ManagedEndpoint,
}

/// All roles in output order.
pub const ROLES: [Role; 4] = [
    Role::Endpoint,
    Role::Resolver,
    Role::KscServer,
    Role::ManagedEndpoint,
];

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Endpoint => "endpoint",
            Role::Resolver => "resolver",
            Role::KscServer => "ksc-server",
            Role::ManagedEndpoint => "managed-endpoint",
        }
    }
    pub fn parse(s: &str) -> Option<Role> {
        ROLES.into_iter().find(|r| r.as_str() == s)
    }
    fn bit(self) -> u8 {
        match self {
            Role::Endpoint => 1,
            Role::Resolver => 2,
            Role::KscServer => 4,
            Role::ManagedEndpoint => 8,
        }
    }
}

/// A set of [`Role`]s.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Roles(u8);

impl Roles {
    pub fn insert(&mut self, r: Role) {
        self.0 |= r.bit();
    }
    pub fn contains(self, r: Role) -> bool {
        self.0 & r.bit() != 0
    }
    pub fn iter(self) -> impl Iterator<Item = Role> {
        ROLES.into_iter().filter(move |&r| self.contains(r))
    }
    fn union(self, o: Roles) -> Roles {
        Roles(self.0 | o.0)
    }
}

/// One step less sure (DNS-correlated evidence: shared CDN addresses
/// exist). Low stays low.
pub fn step_down(c: Confidence) -> Confidence {
    match c {
        Confidence::High => Confidence::Medium,
        Confidence::Medium | Confidence::Low => Confidence::Low,
    }
}

/// What the inventory refused, each a counter named as in `stats`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Dropped {
    /// Evidence not recorded because `INVENTORY_MAX_HOSTS` hosts were already
    /// tracked (counted per record: remembering which hosts were refused
    /// would itself be unbounded).
    pub hosts: u64,
    /// Alerts (or correlated names) whose name was not kept (per-host or
    /// total name limit).
    pub names: u64,
    /// Alerts whose name was longer than `INVENTORY_MAX_NAME_LEN`.
    pub names_too_long: u64,
    /// Distinct MACs not remembered beyond `INVENTORY_MAX_MACS_PER_HOST`.
    pub macs: u64,
    /// Distinct VLANs not remembered beyond `INVENTORY_MAX_VLANS_PER_HOST`.
    pub vlans: u64,
    /// Oldest contacts forgotten beyond `INVENTORY_MAX_CONTACTS_PER_HOST`.
    pub contacts: u64,
    /// KSC peers not remembered beyond `INVENTORY_MAX_PEERS_PER_HOST`.
    pub peers: u64,
    /// Resolver clients not remembered (`RESOLVER_MAX_*`).
    pub resolver_clients: u64,
    /// MACs seen with more than `INVENTORY_MAC_MERGE_MAX_IPS` addresses,
    /// whose hosts were therefore not merged (routers).
    pub mac_merge_refused: u64,
}

impl Dropped {
    /// `(counter name, value)` in a stable order, for `stats`.
    pub fn counters(&self) -> [(&'static str, u64); 9] {
        [
            ("inventory_hosts_dropped", self.hosts),
            ("inventory_names_dropped", self.names),
            ("inventory_names_too_long", self.names_too_long),
            ("inventory_macs_dropped", self.macs),
            ("inventory_vlans_dropped", self.vlans),
            ("inventory_contacts_dropped", self.contacts),
            ("inventory_peers_dropped", self.peers),
            ("inventory_resolver_clients_dropped", self.resolver_clients),
            ("inventory_mac_merge_refused", self.mac_merge_refused),
        ]
    }

    fn add(&mut self, o: &Dropped) {
        self.hosts += o.hosts;
        self.names += o.names;
        self.names_too_long += o.names_too_long;
        self.macs += o.macs;
        self.vlans += o.vlans;
        self.contacts += o.contacts;
        self.peers += o.peers;
        self.resolver_clients += o.resolver_clients;
        self.mac_merge_refused += o.mac_merge_refused;
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
    pub max_contacts_per_host: usize,
    pub max_peers_per_host: usize,
    pub max_resolvers: usize,
    pub max_resolver_names: usize,
    pub max_resolver_clients_per_name: usize,
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
            max_contacts_per_host: INVENTORY_MAX_CONTACTS_PER_HOST,
            max_peers_per_host: INVENTORY_MAX_PEERS_PER_HOST,
            max_resolvers: RESOLVER_MAX_SERVERS,
            max_resolver_names: RESOLVER_MAX_NAMES,
            max_resolver_clients_per_name: RESOLVER_MAX_CLIENTS_PER_NAME,
        }
    }
}

/// One name a host contacted (directly, or through DNS-correlated
/// connections).
#[derive(Clone, Debug)]
pub struct NameEntry {
    count: u64,
    rule: Arc<Rule>,
    channels: Channels,
    first_seen: TsNs,
    last_seen: TsNs,
    /// Connections to addresses this name resolved to (no name on the wire).
    correlated: u64,
    /// Hellos (TLS or QUIC) with this name that carried encrypted_client_hello:
    /// the name is the outer SNI, the real destination is hidden.
    ech: u64,
    /// Those addresses (sorted, bounded by `ANSWER_MAP_MAX_NAMES_PER_ADDR`-
    /// sized lists: at most 4 kept).
    correlated_addrs: Vec<IpAddr>,
}

/// Most answer addresses listed per correlated name (the report needs one or
/// two to be checkable).
const CORRELATED_ADDRS_PER_NAME: usize = 4;

impl NameEntry {
    /// Times the name itself was seen on the wire.
    pub fn count(&self) -> u64 {
        self.count
    }
    /// Connections to addresses the name resolved to.
    pub fn correlated(&self) -> u64 {
        self.correlated
    }
    pub fn correlated_addrs(&self) -> &[IpAddr] {
        &self.correlated_addrs
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

    fn new(rule: &Arc<Rule>, ts: TsNs) -> NameEntry {
        NameEntry {
            count: 0,
            rule: Arc::clone(rule),
            channels: Channels::default(),
            first_seen: ts,
            last_seen: ts,
            correlated: 0,
            correlated_addrs: Vec::new(),
            ech: 0,
        }
    }

    /// Hellos with this (outer) name that carried ECH.
    pub fn ech(&self) -> u64 {
        self.ech
    }

    fn offer_rule(&mut self, rule: &Arc<Rule>) {
        // The most confident rule; among equals the smallest id, so the
        // result does not depend on arrival order.
        let better = rule.confidence > self.rule.confidence
            || (rule.confidence == self.rule.confidence && rule.id < self.rule.id);
        if better {
            self.rule = Arc::clone(rule);
        }
    }

    fn absorb(&mut self, o: &NameEntry) {
        self.count = self.count.saturating_add(o.count);
        self.correlated = self.correlated.saturating_add(o.correlated);
        self.ech = self.ech.saturating_add(o.ech);
        self.channels = Channels(self.channels.0 | o.channels.0);
        self.first_seen = self.first_seen.min(o.first_seen);
        self.last_seen = self.last_seen.max(o.last_seen);
        self.offer_rule(&o.rule);
        for a in &o.correlated_addrs {
            insert_bounded(&mut self.correlated_addrs, *a, CORRELATED_ADDRS_PER_NAME);
        }
    }
}

/// A KSC peer: the server of a managed endpoint, or a managed endpoint of a
/// server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Peer {
    pub ip: IpAddr,
    /// The KSC port of the flow (server side, or the agent's 15000/UDP).
    pub port: u16,
    pub transport: Transport,
}

/// One contact: evidence closer than `CONTACT_GAP_NS` to each other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Contact {
    pub start: TsNs,
    pub end: TsNs,
    /// Bit `Channel::index()` set for each channel seen in the contact.
    pub channels: u8,
}

impl Contact {
    pub fn has(&self, c: Channel) -> bool {
        self.channels & c.bit() != 0
    }
}

/// One home host with evidence.
#[derive(Clone, Debug)]
pub struct Host {
    ip: IpAddr,
    /// Other addresses merged into this record by MAC (sorted).
    other_ips: Vec<IpAddr>,
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
    by_channel: ByProtocol,
    evidence: ByChannel,
    /// Highest confidence per channel (index `Channel::index()`).
    channel_conf: [Option<Confidence>; 7],
    names: HashMap<Box<[u8]>, NameEntry>,
    roles: Roles,
    /// KSC peers (sorted, bounded).
    peers: Vec<Peer>,
    /// Public fallback resolvers asked for vendor names directly (sorted).
    fallback_resolvers: Vec<IpAddr>,
    /// Kaspersky prefix rules contacted (sorted, bounded).
    prefix_rules: Vec<Box<str>>,
    /// Sorted by start, non-overlapping.
    contacts: Vec<Contact>,
}

/// Most prefix rules and fallback resolvers listed per host.
const SMALL_LIST: usize = 8;

impl Host {
    fn new(ip: IpAddr, ts: TsNs) -> Host {
        Host {
            ip,
            other_ips: Vec::new(),
            mac: None,
            macs: Vec::new(),
            vlan: None,
            vlans: Vec::new(),
            first_seen: ts,
            last_seen: ts,
            by_channel: ByProtocol::default(),
            evidence: ByChannel::default(),
            channel_conf: [None; 7],
            names: HashMap::new(),
            roles: Roles::default(),
            peers: Vec::new(),
            fallback_resolvers: Vec::new(),
            prefix_rules: Vec::new(),
            contacts: Vec::new(),
        }
    }

    pub fn ip(&self) -> IpAddr {
        self.ip
    }
    /// Other addresses of the same machine (merged by MAC), sorted.
    pub fn other_ips(&self) -> &[IpAddr] {
        &self.other_ips
    }
    /// Source MAC of the most recent evidence that had one.
    pub fn mac(&self) -> Option<[u8; 6]> {
        self.mac.map(|(m, _)| m)
    }
    /// Every distinct source MAC seen (bounded), sorted.
    pub fn macs(&self) -> &[[u8; 6]] {
        &self.macs
    }
    /// VLAN of the most recent evidence that had one.
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

    /// How sure the evidence makes us that a vendor product is installed
    /// (see the module guarantees); `None` when nothing counts (a resolver
    /// seen only forwarding queries, a host seen only on vendor prefixes).
    pub fn verdict(&self) -> Option<Confidence> {
        CHANNELS
            .into_iter()
            .filter(|&c| self.counts_for_verdict(c))
            .filter_map(|c| self.channel_conf(c))
            .max()
    }

    /// Whether evidence on `c` counts towards [`Host::verdict`].
    pub fn counts_for_verdict(&self, c: Channel) -> bool {
        match c {
            Channel::Prefix => false,
            Channel::Dns => !self.roles.contains(Role::Resolver),
            _ => true,
        }
    }

    /// [`Host::verdict`], `Low` when nothing counts (the single-level view
    /// older outputs use).
    pub fn confidence(&self) -> Confidence {
        self.verdict().unwrap_or(Confidence::Low)
    }

    /// Highest confidence of the evidence on one channel.
    pub fn channel_conf(&self, c: Channel) -> Option<Confidence> {
        self.channel_conf.get(c.index()).copied().flatten()
    }

    /// Alerts per protocol (all alerts, kept names or not).
    pub fn by_channel(&self) -> ByProtocol {
        self.by_channel
    }
    /// Evidence records per channel (alerts and derived evidence).
    pub fn evidence(&self) -> ByChannel {
        self.evidence
    }
    pub fn alerts(&self) -> u64 {
        self.by_channel.total()
    }
    pub fn name_count(&self) -> usize {
        self.names.len()
    }
    /// Roles detected for the host (empty: a plain endpoint).
    pub fn roles(&self) -> Roles {
        self.roles
    }
    /// The one role shown: `ksc-server`, else `resolver`, else
    /// `managed-endpoint`, else `endpoint`.
    pub fn role(&self) -> Role {
        [Role::KscServer, Role::Resolver, Role::ManagedEndpoint]
            .into_iter()
            .find(|&r| self.roles.contains(r))
            .unwrap_or(Role::Endpoint)
    }
    /// KSC peers, sorted.
    pub fn peers(&self) -> &[Peer] {
        &self.peers
    }
    /// Public fallback resolvers the host asked vendor names directly.
    pub fn fallback_resolvers(&self) -> &[IpAddr] {
        &self.fallback_resolvers
    }
    /// Kaspersky prefix rules the host's flows went to.
    pub fn prefix_rules(&self) -> &[Box<str>] {
        &self.prefix_rules
    }
    /// Contacts in time order.
    pub fn contacts(&self) -> &[Contact] {
        &self.contacts
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
        v.sort_by_key(|e| std::cmp::Reverse(e.1.count + e.1.correlated));
        v
    }
    /// The entry of a normalised name.
    pub fn name(&self, normalized: &[u8]) -> Option<&NameEntry> {
        self.names.get(normalized)
    }

    /// The typical interval between contacts: the median gap, once there
    /// are at least two gaps.
    pub fn typical_interval(&self) -> Option<TsNs> {
        let mut gaps = self.gaps();
        if gaps.len() < 2 {
            return None;
        }
        gaps.sort_unstable();
        gaps.get(gaps.len() / 2).copied()
    }

    /// True when contacts come at a regular pace (product telemetry): at
    /// least three gaps, and the middle half of them within ±50 % of the
    /// median. A person browsing is not periodic.
    pub fn periodic(&self) -> bool {
        let mut gaps = self.gaps();
        if gaps.len() < 3 {
            return false;
        }
        gaps.sort_unstable();
        let n = gaps.len();
        let (Some(&q1), Some(&med), Some(&q3)) =
            (gaps.get(n / 4), gaps.get(n / 2), gaps.get((3 * n) / 4))
        else {
            return false;
        };
        med > 0 && q1.saturating_mul(2) >= med && q3.saturating_mul(2) <= med.saturating_mul(3)
    }

    fn gaps(&self) -> Vec<TsNs> {
        self.contacts
            .windows(2)
            .filter_map(|w| match w {
                [a, b] => Some(b.start.saturating_sub(a.start)),
                _ => None,
            })
            .collect()
    }

    /// The time of the last contact when the host has been silent for
    /// `QUIET_AFTER_NS` or three typical intervals (whichever is longer)
    /// before `now` (the newest packet time of the inventory).
    pub fn quiet_since(&self, now: TsNs) -> Option<TsNs> {
        let wait = self
            .typical_interval()
            .map(|i| i.saturating_mul(3))
            .unwrap_or(0)
            .max(crate::config::limits::QUIET_AFTER_NS);
        (now.saturating_sub(self.last_seen) >= wait).then_some(self.last_seen)
    }

    /// Distinct UTC days with a contact.
    pub fn days(&self) -> usize {
        const DAY: u64 = 86_400 * 1_000_000_000;
        let mut n = 0;
        let mut last = None;
        for c in &self.contacts {
            let d = c.start / DAY;
            if last != Some(d) {
                n += 1;
                last = Some(d);
            }
        }
        n
    }

    fn touch(
        &mut self,
        ts: TsNs,
        mac: Option<[u8; 6]>,
        vlan: Option<u16>,
        limits: &Limits,
        dropped: &mut Dropped,
    ) {
        // Most recent MAC/VLAN: this record's, unless one with a later
        // packet time set them (events arrive out of order across files and
        // workers); on equal times the later arrival wins.
        if let Some(mac) = mac {
            if self.mac.is_none_or(|(_, seen)| ts >= seen) {
                self.mac = Some((mac, ts));
            }
            if !insert_bounded(&mut self.macs, mac, limits.max_macs_per_host) {
                dropped.macs += 1;
            }
        }
        if let Some(vlan) = vlan {
            if self.vlan.is_none_or(|(_, seen)| ts >= seen) {
                self.vlan = Some((vlan, ts));
            }
            if !insert_bounded(&mut self.vlans, vlan, limits.max_vlans_per_host) {
                dropped.vlans += 1;
            }
        }
        self.first_seen = self.first_seen.min(ts);
        self.last_seen = self.last_seen.max(ts);
    }

    fn add_evidence(
        &mut self,
        c: Channel,
        conf: Option<Confidence>,
        ts: TsNs,
        limits: &Limits,
        dropped: &mut Dropped,
    ) {
        self.evidence.add(c, 1);
        if let Some(slot) = self.channel_conf.get_mut(c.index()) {
            *slot = (*slot).max(conf);
        }
        self.add_contact(
            Contact {
                start: ts,
                end: ts,
                channels: c.bit(),
            },
            limits,
            dropped,
        );
    }

    /// Inserts a contact in time order, joining it with neighbours closer
    /// than `CONTACT_GAP_NS`.
    fn add_contact(&mut self, c: Contact, limits: &Limits, dropped: &mut Dropped) {
        let at = self.contacts.partition_point(|x| x.start <= c.start);
        // Join with the previous contact?
        if let Some(prev) = at.checked_sub(1).and_then(|i| self.contacts.get_mut(i))
            && prev.end.saturating_add(CONTACT_GAP_NS) >= c.start
        {
            prev.end = prev.end.max(c.end);
            prev.channels |= c.channels;
            self.join_next(at.saturating_sub(1));
            return;
        }
        if let Some(next) = self.contacts.get_mut(at)
            && c.end.saturating_add(CONTACT_GAP_NS) >= next.start
        {
            next.start = c.start;
            next.end = next.end.max(c.end);
            next.channels |= c.channels;
            return;
        }
        self.contacts.insert(at, c);
        if self.contacts.len() > limits.max_contacts_per_host {
            self.contacts.remove(0);
            dropped.contacts += 1;
        }
    }

    /// Joins contact `i` with the next one when they now overlap.
    fn join_next(&mut self, i: usize) {
        let (Some(cur), Some(next)) = (
            self.contacts.get(i).copied(),
            self.contacts.get(i + 1).copied(),
        ) else {
            return;
        };
        if cur.end.saturating_add(CONTACT_GAP_NS) >= next.start {
            if let Some(c) = self.contacts.get_mut(i) {
                c.end = c.end.max(next.end);
                c.channels |= next.channels;
            }
            self.contacts.remove(i + 1);
        }
    }

    /// Adds everything `o` knows about the same machine.
    fn absorb(
        &mut self,
        o: &Host,
        limits: &Limits,
        dropped: &mut Dropped,
        names_total: &mut usize,
    ) {
        if o.ip != self.ip {
            insert_bounded(&mut self.other_ips, o.ip, INVENTORY_MAC_MERGE_MAX_IPS);
        }
        for ip in &o.other_ips {
            if *ip != self.ip {
                insert_bounded(&mut self.other_ips, *ip, INVENTORY_MAC_MERGE_MAX_IPS);
            }
        }
        if let Some((m, ts)) = o.mac {
            self.touch(ts, Some(m), None, limits, dropped);
        }
        for m in &o.macs {
            if !insert_bounded(&mut self.macs, *m, limits.max_macs_per_host) {
                dropped.macs += 1;
            }
        }
        if let Some((v, ts)) = o.vlan {
            self.touch(ts, None, Some(v), limits, dropped);
        }
        for v in &o.vlans {
            if !insert_bounded(&mut self.vlans, *v, limits.max_vlans_per_host) {
                dropped.vlans += 1;
            }
        }
        self.first_seen = self.first_seen.min(o.first_seen);
        self.last_seen = self.last_seen.max(o.last_seen);
        for (i, n) in o.by_channel.0.iter().enumerate() {
            if let Some(c) = self.by_channel.0.get_mut(i) {
                *c = c.saturating_add(*n);
            }
        }
        for (i, n) in o.evidence.0.iter().enumerate() {
            if let Some(c) = self.evidence.0.get_mut(i) {
                *c = c.saturating_add(*n);
            }
        }
        for (mine, theirs) in self.channel_conf.iter_mut().zip(o.channel_conf.iter()) {
            *mine = (*mine).max(*theirs);
        }
        for (k, e) in &o.names {
            if let Some(mine) = self.names.get_mut(k) {
                mine.absorb(e);
            } else if self.names.len() >= limits.max_names_per_host
                || *names_total >= limits.max_names_total
            {
                dropped.names += 1;
            } else {
                self.names.insert(k.clone(), e.clone());
                *names_total += 1;
            }
        }
        self.roles = self.roles.union(o.roles);
        for p in &o.peers {
            if !insert_bounded(&mut self.peers, *p, limits.max_peers_per_host) {
                dropped.peers += 1;
            }
        }
        for r in &o.fallback_resolvers {
            insert_bounded(&mut self.fallback_resolvers, *r, SMALL_LIST);
        }
        for r in &o.prefix_rules {
            insert_bounded_clone(&mut self.prefix_rules, r, SMALL_LIST);
        }
        for c in &o.contacts {
            self.add_contact(*c, limits, dropped);
        }
    }
}

/// Report order: verdict descending (none last), then last seen
/// descending, then IP ascending.
pub fn report_order(a: &Host, b: &Host) -> Ordering {
    b.verdict()
        .cmp(&a.verdict())
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

/// Evidence the attribution stage derives, recorded by
/// [`Inventory::record`] for `host`.
#[derive(Clone, Debug)]
pub struct Evidence {
    pub ts: TsNs,
    /// Packet that carried it (the flow's first packet).
    pub packet: u64,
    /// The home host the evidence is about.
    pub host: IpAddr,
    pub mac: Option<[u8; 6]>,
    pub vlan: Option<u16>,
    pub kind: EvidenceKind,
}

/// What was seen.
#[derive(Clone, Debug)]
pub enum EvidenceKind {
    /// A connection from `host` to `addr`, an address `name` resolved to.
    DnsCorrelated {
        /// The flow (src = host).
        endpoints: crate::event::Endpoints,
        /// The question name of the answer (normalised).
        name: Box<[u8]>,
        /// The owner of the A/AAAA record (differs after a CNAME chain).
        owner: Box<[u8]>,
        rule: Arc<Rule>,
        addr: IpAddr,
        /// The DNS server that gave the answer and the answer's packet.
        answered_by: IpAddr,
        answer_packet: u64,
        answer_ts: TsNs,
        ttl: u32,
        /// `step_down(rule.confidence)`.
        confidence: Confidence,
    },
    /// A flow on a Kaspersky Security Center port; `role` is the host's.
    KscPort {
        endpoints: crate::event::Endpoints,
        role: Role,
        peer: Peer,
        rule_id: Box<str>,
        confidence: Confidence,
    },
    /// A flow from `host` to an address in a Kaspersky prefix (weak).
    Prefix {
        endpoints: crate::event::Endpoints,
        rule_id: Box<str>,
    },
}

impl Evidence {
    pub fn channel(&self) -> Channel {
        match self.kind {
            EvidenceKind::DnsCorrelated { .. } => Channel::DnsCorrelated,
            EvidenceKind::KscPort { .. } => Channel::KscPort,
            EvidenceKind::Prefix { .. } => Channel::Prefix,
        }
    }
    /// What every alert record of this evidence names: the flow, the rule
    /// id and the confidence. `None` for evidence that is not an alert
    /// (vendor prefixes).
    pub fn alert_parts(&self) -> Option<(&crate::event::Endpoints, &str, Confidence)> {
        match &self.kind {
            EvidenceKind::DnsCorrelated {
                endpoints,
                rule,
                confidence,
                ..
            } => Some((endpoints, rule.id.as_str(), *confidence)),
            EvidenceKind::KscPort {
                endpoints,
                rule_id,
                confidence,
                ..
            } => Some((endpoints, &rule_id[..], *confidence)),
            EvidenceKind::Prefix { .. } => None,
        }
    }

    pub fn confidence(&self) -> Option<Confidence> {
        match &self.kind {
            EvidenceKind::DnsCorrelated { confidence, .. }
            | EvidenceKind::KscPort { confidence, .. } => Some(*confidence),
            EvidenceKind::Prefix { .. } => None,
        }
    }
}

/// Clients seen asking one DNS server for vendor names: name → clients.
pub type ServedNames = BTreeMap<Box<[u8]>, Vec<IpAddr>>;

/// The per-host aggregation of evidence.
#[derive(Debug)]
pub struct Inventory {
    hosts: HashMap<IpAddr, Host>,
    /// DNS server → vendor name → clients seen asking it (for resolvers).
    served: HashMap<IpAddr, ServedNames>,
    limits: Limits,
    names_total: usize,
    dropped: Dropped,
    /// Newest packet time seen by the inventory or reported by the caller.
    now: TsNs,
    /// Reused for normalising names: no allocation when a name is known.
    scratch: Vec<u8>,
}

impl Default for Inventory {
    fn default() -> Self {
        Self::new()
    }
}

impl Clone for Inventory {
    fn clone(&self) -> Self {
        Inventory {
            hosts: self.hosts.clone(),
            served: self.served.clone(),
            limits: self.limits,
            names_total: self.names_total,
            dropped: self.dropped,
            now: self.now,
            scratch: Vec::new(),
        }
    }
}

impl Inventory {
    pub fn new() -> Self {
        Self::with_limits(Limits::default())
    }

    pub fn with_limits(limits: Limits) -> Self {
        Inventory {
            hosts: HashMap::new(),
            served: HashMap::new(),
            limits,
            names_total: 0,
            dropped: Dropped::default(),
            now: 0,
            scratch: Vec::new(),
        }
    }

    /// Records an alert. Name events without a rule are ignored; returns
    /// whether the alert was recorded for its host (the source).
    pub fn observe(&mut self, ev: &NameEvent) -> bool {
        let Some(rule) = &ev.rule else {
            return false;
        };
        let ep = &ev.endpoints;
        let ts = ev.ts;
        self.now = self.now.max(ts);
        let limits = self.limits;
        let mut dropped = self.dropped;
        let Some(host) = host_entry(&mut self.hosts, &limits, &mut dropped, ep.src_ip, ts) else {
            self.dropped = dropped;
            return false;
        };
        host.touch(ts, ep.src_mac, ep.vlan, &limits, &mut dropped);
        host.by_channel.add(ev.protocol, 1);
        host.add_evidence(
            ev.protocol.into(),
            Some(rule.confidence),
            ts,
            &limits,
            &mut dropped,
        );

        let ech = u64::from(matches!(
            ev.detail,
            crate::event::NameDetail::Tls { ech: true }
                | crate::event::NameDetail::Quic { ech: true, .. }
        ));
        normalize_name(&ev.name, &mut self.scratch);
        if let Some(entry) = host.names.get_mut(&self.scratch[..]) {
            entry.count += 1;
            entry.ech += ech;
            entry.channels.insert(ev.protocol);
            entry.first_seen = entry.first_seen.min(ts);
            entry.last_seen = entry.last_seen.max(ts);
            entry.offer_rule(rule);
        } else if self.scratch.len() > limits.max_name_len {
            dropped.names_too_long += 1;
        } else if host.names.len() >= limits.max_names_per_host
            || self.names_total >= limits.max_names_total
        {
            dropped.names += 1;
        } else {
            let mut e = NameEntry::new(rule, ts);
            e.count = 1;
            e.ech = ech;
            e.channels.insert(ev.protocol);
            host.names.insert(self.scratch.as_slice().into(), e);
            self.names_total += 1;
        }
        self.dropped = dropped;
        true
    }

    /// Records derived evidence for `ev.host`; returns whether it was
    /// recorded.
    pub fn record(&mut self, ev: &Evidence) -> bool {
        self.now = self.now.max(ev.ts);
        let limits = self.limits;
        let mut dropped = self.dropped;
        let ts = ev.ts;
        let Some(host) = host_entry(&mut self.hosts, &limits, &mut dropped, ev.host, ts) else {
            self.dropped = dropped;
            return false;
        };
        host.touch(ts, ev.mac, ev.vlan, &limits, &mut dropped);
        host.add_evidence(ev.channel(), ev.confidence(), ts, &limits, &mut dropped);
        match &ev.kind {
            EvidenceKind::DnsCorrelated {
                name, rule, addr, ..
            } => {
                if let Some(entry) = host.names.get_mut(&name[..]) {
                    entry.correlated += 1;
                    entry.first_seen = entry.first_seen.min(ts);
                    entry.last_seen = entry.last_seen.max(ts);
                    entry.offer_rule(rule);
                    insert_bounded(
                        &mut entry.correlated_addrs,
                        *addr,
                        CORRELATED_ADDRS_PER_NAME,
                    );
                } else if name.len() > limits.max_name_len {
                    dropped.names_too_long += 1;
                } else if host.names.len() >= limits.max_names_per_host
                    || self.names_total >= limits.max_names_total
                {
                    dropped.names += 1;
                } else {
                    let mut e = NameEntry::new(rule, ts);
                    e.correlated = 1;
                    e.correlated_addrs.push(*addr);
                    host.names.insert(name.clone(), e);
                    self.names_total += 1;
                }
            }
            EvidenceKind::KscPort { role, peer, .. } => {
                host.roles.insert(*role);
                if !insert_bounded(&mut host.peers, *peer, limits.max_peers_per_host) {
                    dropped.peers += 1;
                }
            }
            EvidenceKind::Prefix { rule_id, .. } => {
                insert_bounded_clone(&mut host.prefix_rules, rule_id, SMALL_LIST);
            }
        }
        self.dropped = dropped;
        true
    }

    /// Marks `ip` as having `role` (a detected or declared resolver),
    /// creating the host record if needed.
    pub fn set_role(&mut self, ip: IpAddr, role: Role, ts: TsNs) {
        self.now = self.now.max(ts);
        let limits = self.limits;
        if let Some(h) = host_entry(&mut self.hosts, &limits, &mut self.dropped, ip, ts) {
            h.roles.insert(role);
        }
    }

    /// Notes that `host` asked the public fallback resolver `resolver` for a
    /// vendor name (the host must already have the alert recorded).
    pub fn note_fallback(&mut self, host: IpAddr, resolver: IpAddr) {
        if let Some(h) = self.hosts.get_mut(&host) {
            insert_bounded(&mut h.fallback_resolvers, resolver, SMALL_LIST);
        }
    }

    /// Notes that `client` asked DNS server `server` for the vendor name
    /// `name` (as on the wire; normalised here).
    pub fn note_served(&mut self, server: IpAddr, client: IpAddr, name: &[u8]) {
        normalize_name(name, &mut self.scratch);
        let limits = self.limits;
        if !self.served.contains_key(&server) && self.served.len() >= limits.max_resolvers {
            self.dropped.resolver_clients += 1;
            return;
        }
        let names = self.served.entry(server).or_default();
        let clients = if let Some(c) = names.get_mut(&self.scratch[..]) {
            c
        } else if names.len() >= limits.max_resolver_names
            || self.scratch.len() > limits.max_name_len
        {
            self.dropped.resolver_clients += 1;
            return;
        } else {
            names.entry(self.scratch.as_slice().into()).or_default()
        };
        if !insert_bounded(clients, client, limits.max_resolver_clients_per_name) {
            self.dropped.resolver_clients += 1;
        }
    }

    /// Vendor names clients asked `server` for, with the clients.
    pub fn served(&self, server: IpAddr) -> Option<&ServedNames> {
        self.served.get(&server)
    }

    /// Moves the inventory's clock forward (flows with no evidence still
    /// show that time passes, for `quiet_since`).
    pub fn note_time(&mut self, ts: TsNs) {
        self.now = self.now.max(ts);
    }

    /// Newest packet time seen.
    pub fn now(&self) -> TsNs {
        self.now
    }

    /// Number of host records.
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

    /// Distinct names kept over all hosts.
    pub fn names_total(&self) -> usize {
        self.names_total
    }

    /// Adds everything `other` holds (another run's state, another sensor):
    /// hosts with the same IP are combined, limits apply as if the evidence
    /// had been observed here.
    pub fn merge(&mut self, other: &Inventory) {
        self.now = self.now.max(other.now);
        self.dropped.add(&other.dropped);
        let limits = self.limits;
        let mut ips: Vec<&IpAddr> = other.hosts.keys().collect();
        ips.sort_unstable();
        for ip in ips {
            let Some(theirs) = other.hosts.get(ip) else {
                continue;
            };
            let mut dropped = self.dropped;
            let mut names_total = self.names_total;
            if let Some(mine) = host_entry(
                &mut self.hosts,
                &limits,
                &mut dropped,
                *ip,
                theirs.first_seen,
            ) {
                mine.absorb(theirs, &limits, &mut dropped, &mut names_total);
            }
            self.dropped = dropped;
            self.names_total = names_total;
        }
        let mut servers: Vec<&IpAddr> = other.served.keys().collect();
        servers.sort_unstable();
        for s in servers {
            if let Some(names) = other.served.get(s) {
                for (n, clients) in names {
                    for c in clients {
                        self.note_served(*s, *c, n);
                    }
                }
            }
        }
    }

    /// A copy in which host records sharing their most recent MAC are one
    /// record (DHCP changes, IPv4 + IPv6 of one machine): the record seen
    /// last keeps its IP as `ip`, the others become `other_ips`. A MAC with
    /// more than `INVENTORY_MAC_MERGE_MAX_IPS` addresses is a router's and
    /// is not merged (counted as `inventory_mac_merge_refused`).
    pub fn merged_by_mac(&self) -> Inventory {
        let mut groups: BTreeMap<[u8; 6], Vec<IpAddr>> = BTreeMap::new();
        for h in self.hosts.values() {
            if let Some(m) = h.mac() {
                groups.entry(m).or_default().push(h.ip);
            }
        }
        let mut out = self.clone();
        for (_, mut ips) in groups {
            if ips.len() < 2 {
                continue;
            }
            if ips.len() > INVENTORY_MAC_MERGE_MAX_IPS {
                out.dropped.mac_merge_refused += 1;
                continue;
            }
            // Keep the record seen last (then the smallest IP) as primary.
            ips.sort_unstable_by(|a, b| {
                let la = out.hosts.get(a).map(|h| h.last_seen).unwrap_or(0);
                let lb = out.hosts.get(b).map(|h| h.last_seen).unwrap_or(0);
                lb.cmp(&la).then(a.cmp(b))
            });
            let Some((primary, rest)) = ips.split_first() else {
                continue;
            };
            let limits = out.limits;
            for ip in rest {
                let Some(other) = out.hosts.remove(ip) else {
                    continue;
                };
                // Names move from one record to the other: uncount them
                // first so the total limit does not refuse them.
                out.names_total = out.names_total.saturating_sub(other.names.len());
                let mut dropped = out.dropped;
                let mut names_total = out.names_total;
                if let Some(p) = out.hosts.get_mut(primary) {
                    p.absorb(&other, &limits, &mut dropped, &mut names_total);
                }
                out.dropped = dropped;
                out.names_total = names_total;
            }
        }
        out
    }
}

/// The host of `ip`, created at `ts` unless the host limit is reached
/// (then counted and `None`).
fn host_entry<'a>(
    hosts: &'a mut HashMap<IpAddr, Host>,
    limits: &Limits,
    dropped: &mut Dropped,
    ip: IpAddr,
    ts: TsNs,
) -> Option<&'a mut Host> {
    if !hosts.contains_key(&ip) && hosts.len() >= limits.max_hosts {
        dropped.hosts += 1;
        return None;
    }
    Some(hosts.entry(ip).or_insert_with(|| Host::new(ip, ts)))
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

/// [`insert_bounded`] for owned values (cold paths).
fn insert_bounded_clone<T: Ord + ?Sized>(set: &mut Vec<Box<T>>, v: &T, max: usize) -> bool
where
    Box<T>: for<'a> From<&'a T>,
{
    match set.binary_search_by(|x| (**x).cmp(v)) {
        Ok(_) => true,
        Err(_) if set.len() >= max => false,
        Err(at) => {
            set.insert(at, Box::from(v));
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
            ..Limits::default()
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
                vlans: 1,
                ..Dropped::default()
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

    fn prefix_evidence(src: u8, ts: u64) -> Evidence {
        Evidence {
            ts,
            packet: 1,
            host: ip(src),
            mac: None,
            vlan: None,
            kind: EvidenceKind::Prefix {
                endpoints: alert(src, ts, Protocol::Tls, b"x", None).endpoints,
                rule_id: "kaspersky-ip-0005".into(),
            },
        }
    }

    const S: u64 = 1_000_000_000;

    #[test]
    fn contacts_join_within_the_gap_in_any_order() {
        let r = rule("k", "update", Confidence::High);
        let mut inv = Inventory::new();
        for t in [100, 130, 400, 10, 70, 190] {
            inv.observe(&alert(
                1,
                t * S,
                Protocol::Dns,
                b"a.kaspersky.com",
                Some(r.clone()),
            ));
        }
        let h = inv.host(ip(1)).expect("host");
        // 10, 70, 130, 190 chain (gaps of 60 s); 100 joins them; 400 apart.
        let spans: Vec<(u64, u64)> = h
            .contacts()
            .iter()
            .map(|c| (c.start / S, c.end / S))
            .collect();
        assert_eq!(spans, [(10, 190), (400, 400)]);
        assert!(
            h.contacts()
                .iter()
                .all(|c| c.has(Channel::Dns) && !c.has(Channel::Tls))
        );
    }

    #[test]
    fn contacts_are_bounded_oldest_first() {
        let r = rule("k", "update", Confidence::High);
        let mut inv = Inventory::with_limits(Limits {
            max_contacts_per_host: 4,
            ..Limits::default()
        });
        for i in 0..10u64 {
            inv.observe(&alert(
                1,
                i * 3600 * S,
                Protocol::Dns,
                b"a.kaspersky.com",
                Some(r.clone()),
            ));
        }
        let h = inv.host(ip(1)).expect("host");
        assert_eq!(h.contacts().len(), 4);
        assert_eq!(h.contacts().first().map(|c| c.start), Some(6 * 3600 * S));
        assert_eq!(inv.dropped().contacts, 6);
    }

    #[test]
    fn interval_periodicity_and_quiet_since() {
        let r = rule("k", "update", Confidence::High);
        let mut inv = Inventory::new();
        for i in 0..6u64 {
            let jitter = (i * 37 % 5) * 60;
            inv.observe(&alert(
                1,
                (i * 1800 + jitter) * S,
                Protocol::Tls,
                b"a.kaspersky.com",
                Some(r.clone()),
            ));
        }
        for t in [0u64, 120, 4000, 4300] {
            inv.observe(&alert(
                2,
                t * S,
                Protocol::Tls,
                b"www.kaspersky.com",
                Some(r.clone()),
            ));
        }
        let p = inv.host(ip(1)).expect("periodic");
        assert!(p.periodic());
        let i = p.typical_interval().expect("interval") / S;
        assert!((1500..=2100).contains(&i), "{i}");
        let q = inv.host(ip(2)).expect("irregular");
        assert!(!q.periodic());
        // Not quiet right after; quiet a day after the last contact.
        assert_eq!(p.quiet_since(inv.now()), None);
        let later = p.last_seen() + crate::config::limits::QUIET_AFTER_NS;
        assert_eq!(p.quiet_since(later), Some(p.last_seen()));
        assert_eq!(p.days(), 1);
    }

    #[test]
    fn verdict_ignores_prefixes_and_a_resolvers_own_queries() {
        let r = rule("k", "update", Confidence::High);
        let mut inv = Inventory::new();
        inv.record(&prefix_evidence(1, S));
        assert_eq!(inv.host(ip(1)).and_then(Host::verdict), None);
        assert_eq!(inv.host(ip(1)).map(Host::confidence), Some(Confidence::Low));
        inv.observe(&alert(
            2,
            S,
            Protocol::Dns,
            b"a.kaspersky.com",
            Some(r.clone()),
        ));
        inv.set_role(ip(2), Role::Resolver, S);
        let h = inv.host(ip(2)).expect("resolver");
        assert_eq!((h.role(), h.verdict()), (Role::Resolver, None));
        // The resolver's own TLS to the vendor still counts.
        inv.observe(&alert(2, 2 * S, Protocol::Tls, b"a.kaspersky.com", Some(r)));
        assert_eq!(
            inv.host(ip(2)).and_then(Host::verdict),
            Some(Confidence::High)
        );
        // Resolvers sort after hosts with a verdict... unless they have one.
        assert_eq!(step_down(Confidence::High), Confidence::Medium);
        assert_eq!(step_down(Confidence::Low), Confidence::Low);
    }

    #[test]
    fn served_clients_are_bounded() {
        let mut inv = Inventory::with_limits(Limits {
            max_resolvers: 1,
            max_resolver_names: 1,
            max_resolver_clients_per_name: 2,
            ..Limits::default()
        });
        for c in 1..=3 {
            inv.note_served(ip(53), ip(c), b"A.kaspersky.com.");
        }
        inv.note_served(ip(53), ip(1), b"b.kaspersky.com");
        inv.note_served(ip(54), ip(1), b"a.kaspersky.com");
        let s = inv.served(ip(53)).expect("served");
        assert_eq!(
            s.get(&b"a.kaspersky.com"[..]).map(Vec::as_slice),
            Some(&[ip(1), ip(2)][..])
        );
        assert_eq!(s.len(), 1);
        assert!(inv.served(ip(54)).is_none());
        assert_eq!(inv.dropped().resolver_clients, 3);
    }
}
