//! Counters shared by all workers (relaxed atomics: each is a monotonic
//! count read only for reporting) and the per-stage view of them.

use std::sync::atomic::{AtomicU64, Ordering};

/// A monotonic counter.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    #[inline]
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    #[inline]
    pub fn inc(&self) {
        self.add(1);
    }
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A snapshot of every counter, in stable order: `(stage, name, value)`.
/// Names are snake_case and double as metric and JSON keys.
pub type Snapshot = Vec<(&'static str, String, u64)>;

use std::collections::BTreeMap;

use crate::extract::quic::QuicStats;
use crate::flow::FlowStats;
use crate::flow::defrag::DefragStats;

/// Counters one worker keeps for itself (no sharing on the hot path) and
/// publishes per batch. Labelled maps only allocate the first time a label
/// is seen.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WorkerStats {
    /// Frames handed to the worker and their captured bytes.
    pub packets: u64,
    pub bytes: u64,
    /// Frames decoded down to UDP or TCP.
    pub decoded: u64,
    /// Frames not decoded, by reason (`decode::DecodeError::label`).
    pub decode_errors: BTreeMap<&'static str, u64>,
    /// Frames decoded despite an oddity, by `DecodeAnomaly::label`.
    pub decode_anomalies: BTreeMap<&'static str, u64>,
    /// UDP payloads on a DNS port handed to the DNS parser.
    pub dns_messages: u64,
    /// Of those, DNS queries found by their shape on a UDP port that is not
    /// a DNS port (`extract::dns::looks_like_query`).
    pub dns_other_port: u64,
    /// DNS messages that were not (fully) parsed, by reason.
    pub dns_errors: BTreeMap<&'static str, u64>,
    pub dns_queries: u64,
    pub dns_answers: u64,
    /// Complete ClientHellos seen, and those without a server_name.
    pub tls_hellos: u64,
    pub tls_hellos_without_sni: u64,
    pub tls_hellos_ech: u64,
    /// Streams that started like a TLS handshake but were not a valid
    /// hello, by reason.
    pub tls_malformed: BTreeMap<&'static str, u64>,
    /// HTTP request heads seen, and those without a host.
    pub http_requests: u64,
    pub http_requests_without_host: u64,
    /// HTTP request heads longer than `limits::HTTP_MAX_HEAD_LEN` with no
    /// host found in what was scanned.
    pub http_too_long: u64,
    /// TCP directions that carried neither a ClientHello nor an HTTP
    /// request in their first `limits::MAX_PROBED_SEGMENTS` segment starts.
    pub tcp_streams_unclassified: u64,
    /// Names extracted, by protocol (dns, tls, http, quic).
    pub names: BTreeMap<&'static str, u64>,
    /// Names that matched a signature.
    pub alerts: u64,
    /// Names too long to be matched (`limits::MATCH_MAX_NAME_LEN`).
    pub names_too_long: u64,
    pub flow: FlowStats,
    /// Flows tracked at the last update (gauge).
    pub flows_active: u64,
    /// IP fragment reassembly (`flow::defrag`).
    pub defrag: DefragStats,
    /// UDP flow starts (`flow::udp`).
    pub udp: crate::flow::udp::UdpFlowStats,
    /// QUIC Initials: decryption, CRYPTO reassembly, hellos (see
    /// `extract::quic::QuicStats`).
    pub quic: QuicStats,
}

impl WorkerStats {
    pub fn merge(&mut self, o: &WorkerStats) {
        self.packets += o.packets;
        self.bytes += o.bytes;
        self.decoded += o.decoded;
        merge_map(&mut self.decode_errors, &o.decode_errors);
        merge_map(&mut self.decode_anomalies, &o.decode_anomalies);
        self.dns_messages += o.dns_messages;
        self.dns_other_port += o.dns_other_port;
        merge_map(&mut self.dns_errors, &o.dns_errors);
        self.dns_queries += o.dns_queries;
        self.dns_answers += o.dns_answers;
        self.tls_hellos += o.tls_hellos;
        self.tls_hellos_without_sni += o.tls_hellos_without_sni;
        self.tls_hellos_ech += o.tls_hellos_ech;
        merge_map(&mut self.tls_malformed, &o.tls_malformed);
        self.http_requests += o.http_requests;
        self.http_requests_without_host += o.http_requests_without_host;
        self.http_too_long += o.http_too_long;
        self.tcp_streams_unclassified += o.tcp_streams_unclassified;
        merge_map(&mut self.names, &o.names);
        self.alerts += o.alerts;
        self.names_too_long += o.names_too_long;
        self.flow.merge(&o.flow);
        self.flows_active += o.flows_active;
        self.defrag.merge(&o.defrag);
        self.udp.udp_flows_started += o.udp.udp_flows_started;
        self.udp.udp_flows_expired += o.udp.udp_flows_expired;
        self.udp.udp_flows_evicted += o.udp.udp_flows_evicted;
        self.quic.merge(&o.quic);
    }

    /// Bump a labelled counter.
    #[inline]
    pub fn bump(map: &mut BTreeMap<&'static str, u64>, label: &'static str) {
        *map.entry(label).or_insert(0) += 1;
    }

    /// Every counter as JSON (stable key order).
    pub fn to_json(&self) -> serde_json::Value {
        let mut flow = serde_json::Map::new();
        for (k, v) in self.flow.pairs() {
            flow.insert(k.to_string(), v.into());
        }
        flow.insert("flows_active".into(), self.flows_active.into());
        let mut defrag = serde_json::Map::new();
        for (k, v) in self.defrag.pairs() {
            defrag.insert(k.to_string(), v.into());
        }
        flow.insert("defrag".into(), defrag.into());
        flow.insert(
            "udp_flows_started".into(),
            self.udp.udp_flows_started.into(),
        );
        flow.insert(
            "udp_flows_expired".into(),
            self.udp.udp_flows_expired.into(),
        );
        flow.insert(
            "udp_flows_evicted".into(),
            self.udp.udp_flows_evicted.into(),
        );
        let mut quic = serde_json::Map::new();
        for (k, v) in self.quic.pairs() {
            quic.insert(k.to_string(), v.into());
        }
        serde_json::json!({
            "decode": {
                "packets": self.packets,
                "bytes": self.bytes,
                "decoded": self.decoded,
                "not_decoded": self.decode_errors,
                "anomalies": self.decode_anomalies,
            },
            "flow": flow,
            "extract": {
                "dns_messages": self.dns_messages,
                "dns_other_port": self.dns_other_port,
                "dns_errors": self.dns_errors,
                "dns_queries": self.dns_queries,
                "dns_answers": self.dns_answers,
                "tls_hellos": self.tls_hellos,
                "tls_hellos_without_sni": self.tls_hellos_without_sni,
                "tls_hellos_ech": self.tls_hellos_ech,
                "tls_malformed": self.tls_malformed,
                "http_requests": self.http_requests,
                "http_requests_without_host": self.http_requests_without_host,
                "http_too_long": self.http_too_long,
                "tcp_streams_unclassified": self.tcp_streams_unclassified,
                "names": self.names,
                "quic": quic,
            },
            "match": {
                "alerts": self.alerts,
                "names_too_long": self.names_too_long,
            },
        })
    }
}

fn merge_map(into: &mut BTreeMap<&'static str, u64>, from: &BTreeMap<&'static str, u64>) {
    for (k, v) in from {
        *into.entry(k).or_insert(0) += v;
    }
}

/// One row of the visibility figure: for a protocol, how much was seen,
/// how many names came out, and why the others did not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Visibility {
    pub protocol: &'static str,
    /// What "seen" counts for this protocol.
    pub unit: &'static str,
    pub seen: u64,
    pub names: u64,
    /// Reasons a name was not extracted, with counts (zero counts omitted).
    pub missed: Vec<(String, u64)>,
}

impl WorkerStats {
    /// The visibility figure: what defenders cannot see, per protocol.
    pub fn visibility(&self) -> Vec<Visibility> {
        let names = |p: &str| self.names.get(p).copied().unwrap_or(0);
        let nonzero = |v: Vec<(String, u64)>| -> Vec<(String, u64)> {
            v.into_iter().filter(|(_, n)| *n > 0).collect()
        };
        let from_map = |m: &BTreeMap<&'static str, u64>| -> Vec<(String, u64)> {
            m.iter().map(|(k, v)| ((*k).to_string(), *v)).collect()
        };
        let q = &self.quic;
        let mut tls_missed = vec![("without_sni".to_string(), self.tls_hellos_without_sni)];
        tls_missed.extend(from_map(&self.tls_malformed));
        let mut dns_missed = from_map(&self.dns_errors);
        dns_missed.retain(|(_, n)| *n > 0);
        vec![
            Visibility {
                protocol: "dns",
                unit: "messages",
                seen: self.dns_messages,
                names: names("dns"),
                missed: nonzero(dns_missed),
            },
            Visibility {
                protocol: "tls",
                unit: "client hellos",
                seen: self.tls_hellos + self.tls_malformed.values().sum::<u64>(),
                names: names("tls"),
                missed: nonzero(tls_missed),
            },
            Visibility {
                protocol: "http",
                unit: "request heads",
                seen: self.http_requests + self.http_too_long,
                names: names("http"),
                missed: nonzero(vec![
                    ("without_host".into(), self.http_requests_without_host),
                    ("head_too_long".into(), self.http_too_long),
                ]),
            },
            Visibility {
                protocol: "quic",
                unit: "handshakes",
                seen: q.hellos + q.hellos_incomplete + q.decrypt_failed + q.unsupported_version,
                names: q.sni,
                missed: nonzero(vec![
                    ("without_sni".into(), q.hellos_without_sni),
                    ("decrypt_failed".into(), q.decrypt_failed),
                    ("unsupported_version".into(), q.unsupported_version),
                    ("incomplete_lost_initial".into(), q.hellos_incomplete),
                    ("malformed".into(), q.hellos_malformed),
                    ("too_long".into(), q.hellos_too_long),
                ]),
            },
            Visibility {
                protocol: "tcp",
                unit: "stream starts given up",
                seen: self.flow.stream_gap_abandoned + self.flow.stream_prefix_overflow,
                names: 0,
                missed: nonzero(vec![
                    (
                        "gap_never_filled_lost_segment".into(),
                        self.flow.stream_gap_abandoned,
                    ),
                    ("prefix_over_limit".into(), self.flow.stream_prefix_overflow),
                ]),
            },
        ]
    }

    /// The visibility figure as JSON (for `--stats`).
    pub fn visibility_json(&self) -> serde_json::Value {
        let rows: Vec<serde_json::Value> = self
            .visibility()
            .into_iter()
            .map(|v| {
                let missed: serde_json::Map<String, serde_json::Value> =
                    v.missed.into_iter().map(|(k, n)| (k, n.into())).collect();
                serde_json::json!({
                    "protocol": v.protocol,
                    "unit": v.unit,
                    "seen": v.seen,
                    "names": v.names,
                    "missed": missed,
                })
            })
            .collect();
        serde_json::Value::Array(rows)
    }
}
