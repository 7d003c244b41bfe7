//! The ground truth written beside every generated capture: what the
//! generator put on the wire, so tests can check the sensor against it.
//!
//! Counting rule: a name counts when the packet that completes it (the last
//! TCP segment of a hello or request; the DNS query datagram) is written. A
//! `bulk` capture cut at its size target therefore never counts a name whose
//! last segment did not fit.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::Serialize;

use super::kaspersky;
use super::packet::{Mac, Vlan};
use crate::event::Protocol;
use crate::signatures::Confidence;

/// Version tag of the truth format; bump when fields change meaning.
pub const TRUTH_FORMAT: &str = "phonehome-gen-truth/1";

/// Formats a MAC as `aa:bb:cc:dd:ee:ff`.
pub fn mac_str(m: &Mac) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The rule a Kaspersky name must match (from `kaspersky::classify`).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Expected {
    pub pattern: &'static str,
    pub category: &'static str,
    pub confidence: Confidence,
}

/// One name the generator emitted (a DNS query name, a ClientHello SNI, an
/// HTTP Host / CONNECT authority host).
#[derive(Clone, Debug, Serialize)]
pub struct NameRecord {
    /// 1-based number of the packet that completes the name.
    pub packet: u64,
    /// 1-based number of the first packet carrying bytes of the message
    /// (differs from `packet` when a hello spans TCP segments).
    pub first_packet: u64,
    /// Timestamp of `packet`, ns since the epoch.
    pub ts_ns: u64,
    pub protocol: &'static str,
    pub transport: &'static str,
    pub client_ip: IpAddr,
    pub client_port: u16,
    pub server_ip: IpAddr,
    pub server_port: u16,
    pub client_mac: Option<String>,
    /// Outermost VLAN id of the client's frames.
    pub vlan: Option<u16>,
    /// The name exactly as on the wire (hosts for HTTP: without `:port`).
    pub name: String,
    /// DNS question type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qtype: Option<u16>,
    /// HTTP method.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<&'static str>,
    /// TLS: client shape, post-quantum key share, ECH extension present,
    /// TLS records and TCP segments the hello occupies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsInfo>,
    /// True when the client talked to an explicit proxy (server = proxy).
    pub via_proxy: bool,
    pub kaspersky: bool,
    /// Built to resemble a Kaspersky name; must not match.
    pub lookalike: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<Expected>,
}

#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
pub struct TlsInfo {
    pub shape: &'static str,
    pub post_quantum: bool,
    pub ech: bool,
    pub records: u8,
    pub segments: u8,
}

/// One A/AAAA record of a DNS response.
#[derive(Clone, Debug, Serialize)]
pub struct AnswerRecord {
    pub packet: u64,
    pub client_ip: IpAddr,
    pub server_ip: IpAddr,
    pub query: String,
    pub owner: String,
    pub addr: IpAddr,
    pub ttl: u32,
}

/// Exact totals over the written packets.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Counts {
    pub packets: u64,
    pub frames_vlan_tagged: u64,
    pub frames_qinq: u64,
    pub frames_ipv6: u64,
    pub frames_arp: u64,
    pub tcp_segments: u64,
    pub udp_datagrams: u64,
    pub dns_queries: u64,
    pub dns_queries_by_qtype: BTreeMap<u16, u64>,
    pub dns_responses: u64,
    pub dns_answer_records: u64,
    pub tls_client_hellos: u64,
    pub tls_hellos_post_quantum: u64,
    pub tls_hellos_multi_segment: u64,
    pub tls_hellos_multi_record: u64,
    pub tls_hellos_ech: u64,
    pub http_requests: u64,
    pub http_connect: u64,
    /// dns_queries + tls_client_hellos + http_requests.
    pub names: u64,
    /// Names matching a row (every one is an alert, low confidence included).
    pub alerts: u64,
    pub alerts_dns: u64,
    pub alerts_tls: u64,
    pub alerts_http: u64,
    pub lookalike_names: u64,
    pub hosts_high: u64,
    pub hosts_medium: u64,
    pub hosts_low: u64,
}

/// A host of the scenario and what the sensor should conclude about it.
#[derive(Clone, Debug, Serialize)]
pub struct HostTruth {
    pub ip: IpAddr,
    pub mac: String,
    pub vlan: Option<u16>,
    pub inner_vlan: Option<u16>,
    pub label: String,
    pub role: &'static str,
    /// Scenario intent: a Kaspersky product runs on this host.
    pub product_installed: bool,
    /// The highest confidence among the rules its names match; "none"
    /// without any match.
    pub expected_confidence: &'static str,
    pub names: u64,
    pub alerts: u64,
    pub alert_names: Vec<String>,
    pub categories: Vec<&'static str>,
}

/// Per distinct (protocol, name): how often it was emitted.
#[derive(Clone, Debug, Serialize)]
pub struct NameTotal {
    pub protocol: &'static str,
    pub name: String,
    pub count: u64,
    pub kaspersky: bool,
    pub lookalike: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<Expected>,
}

#[derive(Clone, Debug, Serialize)]
pub struct PcapInfo {
    pub linktype: u32,
    pub ts_resolution: &'static str,
    pub packets: u64,
    pub bytes: u64,
    pub first_ts_ns: u64,
    pub last_ts_ns: u64,
}

/// The whole truth file.
#[derive(Clone, Debug, Serialize)]
pub struct Truth {
    pub format: &'static str,
    pub scenario: &'static str,
    pub seed: u64,
    pub size_target: Option<u64>,
    /// How a host's expected confidence is derived.
    pub confidence_rule: &'static str,
    pub pcap: PcapInfo,
    pub counts: Counts,
    pub hosts: Vec<HostTruth>,
    pub name_totals: Vec<NameTotal>,
    /// Every name in packet order (demo); `None` for bulk (too many).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub names: Option<Vec<NameRecord>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns_answers: Option<Vec<AnswerRecord>>,
}

/// Rule text stored in the truth file.
pub const CONFIDENCE_RULE: &str = "expected_confidence = max confidence of the rules matched by names the host sent (client_ip); none without a match";

/// A registered host.
#[derive(Clone, Debug)]
pub struct HostSpec {
    pub ip: IpAddr,
    pub mac: Mac,
    pub vlan: Vlan,
    pub label: String,
    pub role: &'static str,
    pub product_installed: bool,
}

#[derive(Debug, Default)]
struct HostAgg {
    names: u64,
    alerts: u64,
    best: Option<Confidence>,
    alert_names: std::collections::BTreeSet<String>,
    categories: std::collections::BTreeSet<&'static str>,
}

/// Classification of a name for the truth.
pub fn expectation(name: &str) -> (bool, bool, Option<Expected>) {
    let exp = kaspersky::classify(name.as_bytes()).map(|r| Expected {
        pattern: r.pattern,
        category: r.category,
        confidence: r.confidence,
    });
    let lookalike = kaspersky::LOOKALIKES
        .iter()
        .any(|l| l.eq_ignore_ascii_case(name));
    (exp.is_some(), lookalike, exp)
}

/// Accumulates the truth while packets are written; memory is bounded by
/// the number of hosts and distinct names unless `keep_lists`.
#[derive(Debug)]
pub struct TruthBuilder {
    keep_lists: bool,
    counts: Counts,
    hosts: Vec<HostSpec>,
    host_aggs: BTreeMap<IpAddr, HostAgg>,
    totals: BTreeMap<(&'static str, String), NameTotal>,
    names: Vec<NameRecord>,
    answers: Vec<AnswerRecord>,
    first_ts: Option<u64>,
    last_ts: u64,
}

impl TruthBuilder {
    pub fn new(keep_lists: bool) -> TruthBuilder {
        TruthBuilder {
            keep_lists,
            counts: Counts::default(),
            hosts: Vec::new(),
            host_aggs: BTreeMap::new(),
            totals: BTreeMap::new(),
            names: Vec::new(),
            answers: Vec::new(),
            first_ts: None,
            last_ts: 0,
        }
    }

    pub fn add_host(&mut self, h: HostSpec) {
        self.host_aggs.entry(h.ip).or_default();
        self.hosts.push(h);
    }

    pub(crate) fn counts_mut(&mut self) -> &mut Counts {
        &mut self.counts
    }

    pub(crate) fn saw_ts(&mut self, ts: u64) {
        if self.first_ts.is_none() {
            self.first_ts = Some(ts);
        }
        self.last_ts = ts;
    }

    pub(crate) fn add_name(&mut self, r: NameRecord) {
        let c = &mut self.counts;
        c.names += 1;
        match r.protocol {
            "dns" => {
                c.dns_queries += 1;
                if let Some(q) = r.qtype {
                    *c.dns_queries_by_qtype.entry(q).or_default() += 1;
                }
            }
            "tls" => {
                c.tls_client_hellos += 1;
                if let Some(t) = r.tls {
                    c.tls_hellos_post_quantum += u64::from(t.post_quantum);
                    c.tls_hellos_multi_segment += u64::from(t.segments > 1);
                    c.tls_hellos_multi_record += u64::from(t.records > 1);
                    c.tls_hellos_ech += u64::from(t.ech);
                }
            }
            _ => {
                c.http_requests += 1;
                c.http_connect += u64::from(r.method == Some("CONNECT"));
            }
        }
        c.lookalike_names += u64::from(r.lookalike);
        if let Some(e) = &r.expected {
            c.alerts += 1;
            match r.protocol {
                "dns" => c.alerts_dns += 1,
                "tls" => c.alerts_tls += 1,
                _ => c.alerts_http += 1,
            }
            let agg = self.host_aggs.entry(r.client_ip).or_default();
            agg.alerts += 1;
            agg.best = agg.best.max(Some(e.confidence));
            agg.alert_names.insert(r.name.to_ascii_lowercase());
            agg.categories.insert(e.category);
        }
        self.host_aggs.entry(r.client_ip).or_default().names += 1;
        let t = self
            .totals
            .entry((r.protocol, r.name.clone()))
            .or_insert_with(|| NameTotal {
                protocol: r.protocol,
                name: r.name.clone(),
                count: 0,
                kaspersky: r.kaspersky,
                lookalike: r.lookalike,
                expected: r.expected.clone(),
            });
        t.count += 1;
        if self.keep_lists {
            self.names.push(r);
        }
    }

    pub(crate) fn add_answer(&mut self, a: AnswerRecord) {
        self.counts.dns_answer_records += 1;
        if self.keep_lists {
            self.answers.push(a);
        }
    }

    /// The finished truth.
    pub fn finish(
        mut self,
        scenario: &'static str,
        seed: u64,
        size_target: Option<u64>,
        pcap: PcapInfo,
    ) -> Truth {
        self.counts.packets = pcap.packets;
        let mut hosts = Vec::new();
        for h in &self.hosts {
            let agg = self.host_aggs.get(&h.ip);
            let best = agg.and_then(|a| a.best);
            match best {
                Some(Confidence::High) => self.counts.hosts_high += 1,
                Some(Confidence::Medium) => self.counts.hosts_medium += 1,
                Some(Confidence::Low) => self.counts.hosts_low += 1,
                None => {}
            }
            hosts.push(HostTruth {
                ip: h.ip,
                mac: mac_str(&h.mac),
                vlan: h.vlan.outer(),
                inner_vlan: h.vlan.inner(),
                label: h.label.clone(),
                role: h.role,
                product_installed: h.product_installed,
                expected_confidence: best.map_or("none", Confidence::as_str),
                names: agg.map_or(0, |a| a.names),
                alerts: agg.map_or(0, |a| a.alerts),
                alert_names: agg
                    .map(|a| a.alert_names.iter().cloned().collect())
                    .unwrap_or_default(),
                categories: agg
                    .map(|a| a.categories.iter().copied().collect())
                    .unwrap_or_default(),
            });
        }
        let pcap = PcapInfo {
            first_ts_ns: self.first_ts.unwrap_or(0),
            last_ts_ns: self.last_ts,
            ..pcap
        };
        Truth {
            format: TRUTH_FORMAT,
            scenario,
            seed,
            size_target,
            confidence_rule: CONFIDENCE_RULE,
            pcap,
            counts: self.counts,
            hosts,
            name_totals: self.totals.into_values().collect(),
            names: self.keep_lists.then_some(self.names),
            dns_answers: self.keep_lists.then_some(self.answers),
        }
    }
}

/// The truth's protocol label for an event protocol.
pub fn protocol_label(p: Protocol) -> &'static str {
    p.as_str()
}
