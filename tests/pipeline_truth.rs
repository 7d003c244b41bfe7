//! The whole offline pipeline on a mid-sized generated capture: results
//! (events, counters, inventory) are identical with 1 and with 2 workers,
//! and exactly equal to the generator's ground truth — every count the
//! truth file gives, every (protocol, name) total, and every host's names,
//! alerts, alert names, categories and confidence.
//!
//! The capture (~24 MB, ~29k packets, seed 1) is generated inside the test
//! into a temporary file, so the test depends on nothing but the crate.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::BufWriter;
use std::net::IpAddr;
use std::path::PathBuf;

use phonehome::event::{Event, NameDetail};
use phonehome::inventory::Inventory;
use phonehome::runtime::RunReport;
use phonehome::stats::WorkerStats;
use phonehome::traffic::bulk::{self, BulkOpts, LinkKind};
use phonehome::traffic::pcap::TsResolution;
use phonehome::traffic::truth::Truth;

/// Big enough for every host role, VLAN/QinQ hosts, split and
/// post-quantum hellos, and hundreds of alerts; small enough for a debug
/// build (generation and both runs take a few seconds).
const SIZE: u64 = 24 << 20;

struct Capture {
    dir: PathBuf,
    path: PathBuf,
    truth: Truth,
}

impl Drop for Capture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn generate() -> Capture {
    let dir = std::env::temp_dir().join(format!("phonehome-pipeline-truth-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("bulk-24M.pcap");
    let f = std::fs::File::create(&path).expect("create capture");
    let opts = BulkOpts {
        size: SIZE,
        seed: 1,
        resolution: TsResolution::Micros,
        link: LinkKind::Ethernet,
    };
    let truth = bulk::generate(BufWriter::with_capacity(1 << 20, f), &opts).expect("generates");
    Capture { dir, path, truth }
}

/// Everything a run concluded, in a form that compares with `==`:
/// per-stage counters except the flow-table ones (idle sweeps and the
/// active-flow gauge depend on how flows are split over workers), and the
/// inventory rendered host by host, name by name.
fn results(r: &RunReport) -> (WorkerStats, Vec<String>) {
    let mut s = r.stats.clone();
    s.flow = Default::default();
    s.flows_active = 0;
    (s, inventory_lines(&r.inventory))
}

fn inventory_lines(inv: &Inventory) -> Vec<String> {
    let mut out = Vec::new();
    for h in inv.hosts_sorted() {
        out.push(format!(
            "{} mac={:?} macs={:?} vlan={:?} vlans={:?} first={} last={} conf={} alerts={} by={:?}",
            h.ip(),
            h.mac(),
            h.macs(),
            h.vlan(),
            h.vlans(),
            h.first_seen(),
            h.last_seen(),
            h.confidence().as_str(),
            h.alerts(),
            h.by_channel(),
        ));
        for (name, e) in h.names_sorted() {
            out.push(format!(
                "  {} count={} rule={} chan={:?} first={} last={}",
                String::from_utf8_lossy(name),
                e.count(),
                e.rule_id(),
                e.channels().iter().collect::<Vec<_>>(),
                e.first_seen(),
                e.last_seen(),
            ));
        }
    }
    out.push(format!("dropped {:?}", inv.dropped()));
    out
}

#[test]
fn one_and_two_workers_agree_and_match_the_ground_truth() {
    let cap = generate();
    let t = &cap.truth;
    let c = &t.counts;
    // The capture is the size asked for and has what the test relies on.
    assert!(
        t.pcap.bytes > SIZE - (64 << 10) && t.pcap.bytes <= SIZE,
        "{}",
        t.pcap.bytes
    );
    assert!(
        c.alerts_dns > 0 && c.alerts_tls > 0 && c.alerts_http > 0,
        "{c:?}"
    );
    assert!(c.tls_hellos_multi_segment > 0 && c.frames_qinq > 0, "{c:?}");
    assert!(
        c.hosts_high > 0 && c.hosts_low > 0 && c.lookalike_names > 0,
        "{c:?}"
    );

    let (r1, ev1) = common::run(&[&cap.path], 1);
    let (r2, ev2) = common::run(&[&cap.path], 2);
    assert!(!r1.input_failed() && !r2.input_failed());
    assert_eq!(r2.workers, 2);

    // ---- identical with 1 and 2 workers: every event, in order, and every
    // result counter and the inventory.
    assert_eq!(ev1.len(), ev2.len(), "event count");
    for (i, (a, b)) in ev1.iter().zip(&ev2).enumerate() {
        assert_eq!(format!("{a:?}"), format!("{b:?}"), "event {i} differs");
    }
    assert_eq!(results(&r1), results(&r2));
    assert_eq!(r1.events_out, r2.events_out);

    // ---- equal to the ground truth.
    let s = &r1.stats;
    assert_eq!(s.packets, c.packets, "packets");
    assert_eq!(s.packets, t.pcap.packets);
    assert_eq!(
        s.decoded,
        c.tcp_segments + c.udp_datagrams,
        "decoded = TCP + UDP frames"
    );
    assert_eq!(s.dns_queries, c.dns_queries, "dns queries");
    assert_eq!(s.dns_answers, c.dns_answer_records, "dns answer records");
    assert_eq!(s.tls_hellos, c.tls_client_hellos, "tls hellos");
    assert_eq!(s.tls_hellos_ech, c.tls_hellos_ech, "tls hellos with ECH");
    assert_eq!(s.http_requests, c.http_requests, "http requests");
    assert_eq!(s.alerts, c.alerts, "alerts");
    let by_proto = |p: &str| s.names.get(p).copied().unwrap_or(0);
    assert_eq!(by_proto("dns"), c.dns_queries);
    assert_eq!(by_proto("tls"), c.tls_client_hellos);
    assert_eq!(by_proto("http"), c.http_requests);
    assert_eq!(s.names.values().sum::<u64>(), c.names, "names");
    assert!(s.decode_errors.is_empty(), "{:?}", s.decode_errors);
    assert!(s.dns_errors.is_empty(), "{:?}", s.dns_errors);
    assert!(s.tls_malformed.is_empty(), "{:?}", s.tls_malformed);

    // Per event: (protocol, name) totals, alerts per protocol, qtypes,
    // names per client host.
    let mut totals: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut alerted: BTreeMap<(String, String), (String, String, String)> = BTreeMap::new();
    let mut alerts_by_proto: BTreeMap<&str, u64> = BTreeMap::new();
    let mut qtypes: BTreeMap<u16, u64> = BTreeMap::new();
    let mut names_by_host: BTreeMap<IpAddr, u64> = BTreeMap::new();
    let mut answers = 0u64;
    for ev in &ev1 {
        match ev {
            Event::Name(n) => {
                let key = (
                    n.protocol.as_str().to_string(),
                    String::from_utf8_lossy(&n.name).into_owned(),
                );
                *totals.entry(key.clone()).or_default() += 1;
                *names_by_host.entry(n.endpoints.src_ip).or_default() += 1;
                if let NameDetail::Dns { qtype } = n.detail {
                    *qtypes.entry(qtype).or_default() += 1;
                }
                if let Some(r) = &n.rule {
                    *alerts_by_proto.entry(n.protocol.as_str()).or_default() += 1;
                    let got = (
                        r.pattern.clone(),
                        r.category.clone(),
                        r.confidence.as_str().to_string(),
                    );
                    let prev = alerted.insert(key.clone(), got.clone());
                    assert!(prev.is_none_or(|p| p == got), "{key:?}: rule varies");
                }
            }
            Event::DnsAnswer(_) => answers += 1,
            // Flow records carry no name; the truth does not count them.
            Event::FlowStart(_) => {}
        }
    }
    assert_eq!(answers, c.dns_answer_records, "answer events");
    assert_eq!(qtypes, c.dns_queries_by_qtype, "queries by qtype");
    let ap = |p: &str| alerts_by_proto.get(p).copied().unwrap_or(0);
    assert_eq!(
        (ap("dns"), ap("tls"), ap("http")),
        (c.alerts_dns, c.alerts_tls, c.alerts_http),
        "alerts by protocol"
    );
    let want_totals: BTreeMap<(String, String), u64> = t
        .name_totals
        .iter()
        .map(|n| ((n.protocol.to_string(), n.name.clone()), n.count))
        .collect();
    assert_eq!(totals, want_totals, "(protocol, name) totals");
    for n in &t.name_totals {
        let key = (n.protocol.to_string(), n.name.clone());
        let want = n.expected.as_ref().map(|e| {
            (
                e.pattern.to_string(),
                e.category.to_string(),
                e.confidence.as_str().to_string(),
            )
        });
        assert_eq!(alerted.get(&key), want.as_ref(), "{key:?}: alert and rule");
        if n.lookalike {
            assert!(!alerted.contains_key(&key), "look-alike alerted: {key:?}");
        }
    }

    // Hosts: every host's name count; the inventory holds exactly the hosts
    // expected to phone home, with their alerts, names, categories and
    // confidence.
    let inv = &r1.inventory;
    let mut conf_counts = [0u64; 3];
    for h in &t.hosts {
        assert_eq!(
            names_by_host.get(&h.ip).copied().unwrap_or(0),
            h.names,
            "{}: names sent",
            h.label
        );
        match inv.host(h.ip) {
            None => assert_eq!(h.expected_confidence, "none", "{} missing", h.label),
            Some(got) => {
                assert_eq!(
                    got.confidence().as_str(),
                    h.expected_confidence,
                    "{}",
                    h.label
                );
                assert_eq!(got.alerts(), h.alerts, "{}: alerts", h.label);
                let names: Vec<String> = got
                    .names_sorted()
                    .iter()
                    .map(|(n, _)| String::from_utf8_lossy(n).into_owned())
                    .collect();
                assert_eq!(names, h.alert_names, "{}: alert names", h.label);
                let cats: BTreeSet<&str> = got
                    .names_sorted()
                    .iter()
                    .map(|(_, e)| e.category())
                    .collect();
                let want: BTreeSet<&str> = h.categories.iter().copied().collect();
                assert_eq!(cats, want, "{}: categories", h.label);
                assert_eq!(got.vlan(), h.vlan, "{}: vlan", h.label);
                match h.expected_confidence {
                    "high" => conf_counts[0] += 1,
                    "medium" => conf_counts[1] += 1,
                    _ => conf_counts[2] += 1,
                }
            }
        }
    }
    assert_eq!(
        conf_counts,
        [c.hosts_high, c.hosts_medium, c.hosts_low],
        "hosts by confidence"
    );
    assert_eq!(
        inv.len() as u64,
        c.hosts_high + c.hosts_medium + c.hosts_low,
        "inventory hosts"
    );
    assert_eq!(inv.dropped().counters().iter().map(|c| c.1).sum::<u64>(), 0);
}
