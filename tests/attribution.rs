//! Attribution end to end: the generated `office` capture (clients behind
//! an internal resolver, ECH and IP-literal clients, a KSC server with
//! managed endpoints, a person browsing the vendor site) runs through
//! `runtime::run_offline`, and the attribution engine is fed every event in
//! packet order, as the output thread does. The inventory must be exactly
//! the generator's truth. Plus bounded-memory and state-file tests.

mod common;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use phonehome::attribution::{AttributionConfig, Attributor, json as evidence_json};
use phonehome::event::{Endpoints, Event, FlowStartEvent, Transport};
use phonehome::inventory::{self, Channel, Evidence, Inventory, Limits, Role};
use phonehome::output::inventory_file::{InventoryDoc, inventory_doc};
use phonehome::runtime::{self, RuntimeConfig, WorkerConfig};
use phonehome::signatures::SignatureSet;
use phonehome::traffic::office::{self, OfficeTruth};

use common::Collect;

/// The office capture, generated once per test binary into a temp file.
fn office_capture() -> &'static (PathBuf, OfficeTruth) {
    static CAP: OnceLock<(PathBuf, OfficeTruth)> = OnceLock::new();
    CAP.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("phonehome-attr-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("office.pcap");
        let f = std::fs::File::create(&path).expect("create pcap");
        let truth = office::generate(std::io::BufWriter::new(f)).expect("generate office");
        (path, truth)
    })
}

fn packet_of(e: &Event) -> (u64, u8) {
    match e {
        // A flow start comes before the names of the same packet.
        Event::FlowStart(f) => (f.packet, 0),
        Event::Name(n) => (n.packet, 1),
        Event::DnsAnswer(a) => (a.packet, 2),
    }
}

struct Outcome {
    inv: Inventory,
    evidence: Vec<Evidence>,
    att: Attributor,
}

/// The pipeline, then the attribution engine over the events in order.
fn run_office(workers: usize, worker: WorkerConfig) -> Outcome {
    let (path, _) = office_capture();
    let sigs = Arc::new(SignatureSet::builtin().expect("builtin pack"));
    let c = Collect::default();
    let cfg = RuntimeConfig {
        workers,
        worker,
        progress: false,
        attribution: None,
    };
    let report = runtime::run_offline(
        std::slice::from_ref(path),
        Arc::clone(&sigs),
        &cfg,
        vec![Box::new(c.clone())],
    );
    assert!(!report.input_failed());
    let mut events = c.0.lock().expect("not poisoned").clone();
    // KSC ports and DNS-answer attribution need the worker's flow starts.
    assert!(
        !worker.emit_flow_starts || events.iter().any(|e| matches!(e, Event::FlowStart(_))),
        "the worker emitted no flow start"
    );
    events.sort_by_key(packet_of);
    let mut att = Attributor::new(AttributionConfig::default());
    let mut inv = Inventory::new();
    let mut evidence = Vec::new();
    for ev in &events {
        att.on_event(ev, &sigs, &mut inv, &mut evidence);
    }
    Outcome { inv, evidence, att }
}

fn default_run() -> &'static Outcome {
    static RUN: OnceLock<Outcome> = OnceLock::new();
    RUN.get_or_init(|| {
        run_office(
            2,
            WorkerConfig {
                emit_flow_starts: true,
                ..WorkerConfig::default()
            },
        )
    })
}

fn ip(d: u8) -> IpAddr {
    IpAddr::V4(std::net::Ipv4Addr::new(10, 1, 0, d))
}

#[test]
fn office_inventory_is_exactly_the_truth() {
    let (_, truth) = office_capture();
    let out = default_run();
    let doc = inventory_doc(&out.inv);
    let by_ip: BTreeMap<&str, _> = doc.hosts.iter().map(|h| (h.ip.as_str(), h)).collect();
    let mut expected_present = 0;
    for want in &truth.expected_hosts {
        let got = by_ip.get(want.ip.to_string().as_str());
        match (want.role, got) {
            (None, None) => {}
            (None, Some(h)) => panic!(
                "{} ({}) must not be inventoried: {h:?}",
                want.ip, want.label
            ),
            (Some(_), None) => panic!("{} ({}) missing", want.ip, want.label),
            (Some(role), Some(h)) => {
                expected_present += 1;
                assert_eq!(
                    h.role, role,
                    "{} ({}) role; reason: {}",
                    want.ip, want.label, h.reason
                );
                assert_eq!(
                    Some(h.confidence.as_str()),
                    want.verdict,
                    "{} ({}) verdict; reason: {}",
                    want.ip,
                    want.label,
                    h.reason
                );
                let ev: BTreeMap<&str, u64> = h.evidence.iter().into_iter().collect();
                for ch in &want.evidence {
                    assert!(
                        ev.get(ch).copied().unwrap_or(0) > 0,
                        "{} ({}) lacks {ch} evidence: {ev:?}",
                        want.ip,
                        want.label
                    );
                }
            }
        }
    }
    // Exactly: no host beyond the truth's.
    assert_eq!(
        doc.hosts.len(),
        expected_present,
        "{:#?}",
        doc.hosts.iter().map(|h| &h.ip).collect::<Vec<_>>()
    );
}

#[test]
fn resolver_report_names_its_clients_and_the_resolver_never_counts() {
    let out = default_run();
    let doc = inventory_doc(&out.inv);
    let res = doc
        .hosts
        .iter()
        .find(|h| h.ip == "10.1.0.2")
        .expect("resolver listed");
    assert_eq!(res.role, "resolver");
    assert_eq!(res.confidence, "none");
    assert!(
        res.reason
            .starts_with("DNS resolver (not evidence of an installed product)"),
        "{}",
        res.reason
    );
    let clients: BTreeMap<&str, &Vec<String>> = res
        .resolver_clients
        .iter()
        .map(|s| (s.name.as_str(), &s.clients))
        .collect();
    assert_eq!(
        clients.get(office::KSN_NAME).map(|c| c.as_slice()),
        Some(&["10.1.0.21".to_string()][..])
    );
    assert_eq!(
        clients.get(office::ECH_NAME).map(|c| c.as_slice()),
        Some(&["10.1.0.23".to_string()][..])
    );
    assert!(
        res.reason.contains(
            "look at its clients 10.1.0.5, 10.1.0.21, 10.1.0.22, 10.1.0.23 and 10.1.0.40 (seen"
        ),
        "{}",
        res.reason
    );
    // The resolver's own forwarded queries are recorded, not hidden.
    assert!(res.evidence.dns > 0);
    let st = out.att.resolvers().stats();
    assert!(st.detected >= 1 && st.forwards >= 2, "{st:?}");
}

#[test]
fn ksc_fleet_roles_and_peers() {
    let out = default_run();
    let ksc = out.inv.host(ip(5)).expect("ksc server");
    assert_eq!(ksc.role(), Role::KscServer);
    let agents: Vec<IpAddr> = ksc
        .peers()
        .iter()
        .map(|p| p.ip)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(agents, [ip(31), ip(32), ip(33)]);
    for d in [31u8, 32, 33] {
        let h = out.inv.host(ip(d)).expect("managed");
        assert!(h.peers().iter().all(|p| p.ip == ip(5)));
        let r = inventory::reason::reason(&out.inv, h);
        assert!(r.starts_with("managed by KSC server 10.1.0.5"), "{r}");
    }
}

#[test]
fn ech_and_ip_literal_clients_are_found_by_their_answers() {
    let out = default_run();
    let lit = out.inv.host(ip(24)).expect("IP-literal client");
    assert_eq!(lit.alerts(), 0, "no name on the wire");
    assert!(lit.evidence().get(Channel::DnsCorrelated) >= 8);
    assert!(
        lit.name(office::KSN_NAME.as_bytes())
            .is_some_and(|e| e.correlated() >= 8)
    );
    let ech = out.inv.host(ip(23)).expect("ECH client");
    assert!(
        ech.name(office::ECH_COVER_NAME.as_bytes()).is_none(),
        "the cover name matches nothing"
    );
    assert!(
        ech.name(office::ECH_NAME.as_bytes())
            .is_some_and(|e| e.correlated() >= 8)
    );
    // Each correlated connection is an alert record with the answer it
    // came from.
    let line = out
        .evidence
        .iter()
        .find(|e| e.host == ip(24) && e.channel() == Channel::DnsCorrelated)
        .map(|e| {
            let mut b = Vec::new();
            evidence_json::write_evidence(e, &mut b);
            b
        })
        .expect("an evidence record for kes-24");
    let v: serde_json::Value = serde_json::from_slice(&line).expect("JSON line");
    assert_eq!(v["event"]["dataset"], "phonehome.alert");
    assert_eq!(v["phonehome"]["channel"], "dns-correlated");
    assert_eq!(v["phonehome"]["confidence"], "medium");
    assert_eq!(v["phonehome"]["correlation"]["answered_by"], "10.1.0.2");
    assert!(
        v["phonehome"]["correlation"]["answer_packet"]
            .as_u64()
            .is_some_and(|p| p > 0)
    );
}

#[test]
fn periodic_products_and_an_irregular_person() {
    let out = default_run();
    let kes = out.inv.host(ip(21)).expect("kes-21");
    assert!(kes.periodic(), "{:?}", kes.contacts());
    let i = kes.typical_interval().expect("interval");
    assert!((29 * 60..=31 * 60).contains(&(i / 1_000_000_000)), "{i}");
    let person = out.inv.host(ip(40)).expect("ws-40");
    assert!(!person.periodic());
    let r = inventory::reason::reason(&out.inv, person);
    assert!(
        r.contains("only names a person browsing vendor sites would also produce"),
        "{r}"
    );
    let r = inventory::reason::reason(&out.inv, kes);
    assert!(r.contains("periodic every ~30 min"), "{r}");
    // Four hours of capture: nobody is quiet yet.
    assert!(kes.quiet_since(out.inv.now()).is_none());
}

#[test]
fn same_result_with_one_worker_and_with_every_name_and_answer() {
    let a = inventory_doc(&default_run().inv);
    let b = inventory_doc(
        &run_office(
            1,
            WorkerConfig {
                emit_flow_starts: true,
                ..WorkerConfig::default()
            },
        )
        .inv,
    );
    assert_eq!(a, b, "worker count must not change attribution");
    let c: InventoryDoc = inventory_doc(
        &run_office(
            2,
            WorkerConfig {
                emit_names: true,
                emit_all_answers: true,
                emit_flow_starts: true,
            },
        )
        .inv,
    );
    let roles = |d: &InventoryDoc| {
        d.hosts
            .iter()
            .map(|h| (h.ip.clone(), h.role.clone(), h.confidence.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(roles(&a), roles(&c));
}

#[test]
fn state_round_trips_and_merges_two_runs() {
    let out = default_run();
    let dir = std::env::temp_dir().join(format!("phonehome-state-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("state.json");
    let _ = std::fs::remove_file(&path);
    // First run: no state yet.
    let merged = inventory::state::merge_into_file(&path, &out.inv).expect("save");
    let mut a = Vec::new();
    let mut b = Vec::new();
    inventory::state::save(&out.inv, &mut a).expect("save");
    inventory::state::save(&merged, &mut b).expect("save");
    assert_eq!(
        String::from_utf8_lossy(&a),
        String::from_utf8_lossy(&b),
        "round trip"
    );
    // Second run over the same capture: counts double, hosts and roles stay.
    let twice = inventory::state::merge_into_file(&path, &out.inv).expect("merge");
    assert_eq!(twice.len(), out.inv.len());
    for h in out.inv.hosts_sorted() {
        let t = twice.host(h.ip()).expect("host kept");
        assert_eq!(t.alerts(), 2 * h.alerts());
        assert_eq!(
            t.evidence().get(Channel::KscPort),
            2 * h.evidence().get(Channel::KscPort)
        );
        assert_eq!(t.role(), h.role());
        assert_eq!(t.verdict(), h.verdict());
        assert_eq!(t.contacts(), h.contacts(), "same times: same contacts");
    }
    // A damaged state file is refused with its path.
    std::fs::write(&path, b"{\"state_format\":\"phonehome-state/1\",").expect("write");
    let err = inventory::state::load_file(&path).expect_err("damaged");
    assert!(err.to_string().contains("state.json"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn inventory_memory_is_bounded_under_a_flood() {
    // 20,000 hosts × fresh names, contacts and peers against small limits.
    let sigs = SignatureSet::builtin().expect("builtin");
    let limits = Limits {
        max_hosts: 100,
        max_names_per_host: 4,
        max_names_total: 200,
        max_contacts_per_host: 16,
        max_peers_per_host: 8,
        max_resolvers: 4,
        max_resolver_names: 4,
        max_resolver_clients_per_name: 4,
        ..Limits::default()
    };
    let mut inv = Inventory::with_limits(limits);
    let mut att = Attributor::new(AttributionConfig::default());
    let mut evidence = Vec::new();
    let s = 1_000_000_000u64;
    for i in 0..20_000u32 {
        let host = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + (i % 400)));
        let server = IpAddr::V4(std::net::Ipv4Addr::from(0x0a01_0000 + (i % 50)));
        let name = format!("n{i}.upd.kaspersky.com");
        let ev = Event::Name(phonehome::event::NameEvent {
            ts: u64::from(i) * 120 * s,
            packet: u64::from(i),
            protocol: phonehome::event::Protocol::Dns,
            endpoints: Endpoints {
                transport: Transport::Udp,
                src_ip: host,
                src_port: 5000,
                dst_ip: server,
                dst_port: 53,
                src_mac: None,
                vlan: None,
            },
            name: name.as_bytes().into(),
            detail: phonehome::event::NameDetail::Dns { qtype: 1 },
            rule: sigs.match_name(name.as_bytes()).cloned(),
        });
        att.on_event(&ev, &sigs, &mut inv, &mut evidence);
        let ksc = Event::FlowStart(FlowStartEvent {
            ts: u64::from(i) * 120 * s,
            packet: u64::from(i),
            endpoints: Endpoints {
                transport: Transport::Tcp,
                src_ip: host,
                src_port: 5001,
                dst_ip: IpAddr::V4(std::net::Ipv4Addr::from(0x0a02_0000 + (i % 997))),
                dst_port: 13000,
                src_mac: None,
                vlan: None,
            },
        });
        att.on_event(&ksc, &sigs, &mut inv, &mut evidence);
        evidence.clear();
        assert!(inv.len() <= 100);
        assert!(inv.names_total() <= 200);
    }
    for h in inv.hosts_sorted() {
        assert!(h.name_count() <= 4);
        assert!(h.contacts().len() <= 16);
        assert!(h.peers().len() <= 8);
    }
    let d = inv.dropped();
    assert!(
        d.hosts > 0 && d.names > 0 && d.contacts > 0 && d.peers > 0 && d.resolver_clients > 0,
        "{d:?}"
    );
    let names: Vec<&str> = d.counters().iter().map(|(k, _)| *k).collect();
    assert!(names.contains(&"inventory_contacts_dropped"));
    // The merged-by-MAC view and the document stay within the same bounds.
    let doc = inventory_doc(&inv);
    assert_eq!(doc.hosts.len(), inv.len());
    assert!(doc.dropped.hosts > 0);
}

#[test]
fn macs_merge_hosts_but_not_routers() {
    let sigs = SignatureSet::builtin().expect("builtin");
    let mut inv = Inventory::new();
    let name = "dnl-03.geo.kaspersky.com";
    let mut alert = |src: IpAddr, mac: [u8; 6], ts: u64| {
        inv.observe(&phonehome::event::NameEvent {
            ts,
            packet: ts,
            protocol: phonehome::event::Protocol::Dns,
            endpoints: Endpoints {
                transport: Transport::Udp,
                src_ip: src,
                src_port: 5000,
                dst_ip: ip(2),
                dst_port: 53,
                src_mac: Some(mac),
                vlan: None,
            },
            name: name.as_bytes().into(),
            detail: phonehome::event::NameDetail::Dns { qtype: 1 },
            rule: sigs.match_name(name.as_bytes()).cloned(),
        });
    };
    // A laptop changes address (DHCP) and has an IPv6 address.
    alert(ip(50), [2, 0, 0, 0, 0, 50], 1);
    alert(ip(51), [2, 0, 0, 0, 0, 50], 2);
    alert("fd00::50".parse().expect("v6"), [2, 0, 0, 0, 0, 50], 3);
    // Routed hosts all carry the router's MAC: never merged.
    for d in 60..70u8 {
        alert(
            IpAddr::V4(std::net::Ipv4Addr::new(10, 9, 0, d)),
            [2, 0, 0, 0, 0, 1],
            u64::from(d),
        );
    }
    let doc = inventory_doc(&inv);
    let laptop: Vec<_> = doc
        .hosts
        .iter()
        .filter(|h| h.mac.as_deref() == Some("02-00-00-00-00-32"))
        .collect();
    assert_eq!(laptop.len(), 1, "one record for the laptop");
    assert_eq!(laptop[0].ip, "fd00::50", "the address seen last");
    assert_eq!(laptop[0].other_ips, ["10.1.0.50", "10.1.0.51"]);
    assert_eq!(laptop[0].alerts, 3);
    assert_eq!(
        doc.hosts
            .iter()
            .filter(|h| h.ip.starts_with("10.9.0."))
            .count(),
        10
    );
    assert_eq!(doc.dropped.mac_merge_refused, 1);
}

/// The same truth through the real binary: `read` with the default
/// attribution, `--state`, and `report` from that state.
#[test]
fn cli_read_and_report_give_the_office_truth() {
    let (path, truth) = office_capture();
    let dir = std::env::temp_dir().join(format!("phonehome-office-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (inv, state, html, alerts) = (
        dir.join("inv.json"),
        dir.join("state.json"),
        dir.join("report.html"),
        dir.join("alerts.jsonl"),
    );
    let _ = std::fs::remove_file(&state);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_phonehome"))
        .args(["read", "--no-progress", "--workers", "2"])
        .arg(path)
        .arg("--inventory")
        .arg(&inv)
        .arg("--state")
        .arg(&state)
        .arg("--alerts")
        .arg(&alerts)
        .output()
        .expect("run phonehome");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&inv).unwrap()).unwrap();
    let got: BTreeMap<String, (String, String)> = doc["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["ip"].as_str().unwrap().to_string(),
                (
                    h["role"].as_str().unwrap().to_string(),
                    h["confidence"].as_str().unwrap().to_string(),
                ),
            )
        })
        .collect();
    let want: BTreeMap<String, (String, String)> = truth
        .expected_hosts
        .iter()
        .filter_map(|h| {
            Some((
                h.ip.to_string(),
                (h.role?.to_string(), h.verdict?.to_string()),
            ))
        })
        .collect();
    assert_eq!(got, want);
    // The IP-literal client is found only through DNS answers: a derived
    // alert says so.
    let derived = std::fs::read_to_string(&alerts)
        .unwrap()
        .lines()
        .filter(|l| l.contains(r#""channel":"dns-correlated""#))
        .count();
    assert!(derived > 0);
    // The summary names the resolver as such.
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(summary.contains("role        resolver"), "{summary}");
    // A report from the state file.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_phonehome"))
        .args(["report", "--state"])
        .arg(&state)
        .arg("-o")
        .arg(&html)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page = std::fs::read_to_string(&html).unwrap();
    for ip in want.keys() {
        assert!(page.contains(ip.as_str()), "{ip} not in the report");
    }
    assert!(page.contains("<svg"), "no timeline");
}
