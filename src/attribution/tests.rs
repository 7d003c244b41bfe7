//! Unit tests of the attribution engine over hand-built events (the
//! end-to-end test over a generated office capture is tests/attribution.rs).

use std::net::{IpAddr, Ipv4Addr};

use super::*;
use crate::event::{DnsAnswerEvent, NameDetail};
use crate::inventory::Channel;

const S: u64 = 1_000_000_000;
const T0: u64 = 1_700_000_000 * S;

fn sigs() -> SignatureSet {
    SignatureSet::builtin().expect("builtin pack loads")
}

fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

fn lan(d: u8) -> IpAddr {
    v4(10, 1, 0, d)
}

fn ep(t: Transport, src: IpAddr, sport: u16, dst: IpAddr, dport: u16) -> Endpoints {
    Endpoints {
        transport: t,
        src_ip: src,
        src_port: sport,
        dst_ip: dst,
        dst_port: dport,
        src_mac: match src {
            IpAddr::V4(v) => Some([2, 0, 0, 0, 0, v.octets()[3]]),
            IpAddr::V6(_) => None,
        },
        vlan: None,
    }
}

fn query(sigs: &SignatureSet, ts: u64, pkt: u64, src: IpAddr, dst: IpAddr, name: &str) -> Event {
    Event::Name(NameEvent {
        ts,
        packet: pkt,
        protocol: Protocol::Dns,
        endpoints: ep(Transport::Udp, src, 50_000, dst, 53),
        name: name.as_bytes().into(),
        detail: NameDetail::Dns { qtype: 1 },
        rule: sigs.match_name(name.as_bytes()).cloned(),
    })
}

fn tls(sigs: &SignatureSet, ts: u64, src: IpAddr, dst: IpAddr, port: u16, name: &str) -> Event {
    Event::Name(NameEvent {
        ts,
        packet: ts / S,
        protocol: Protocol::Tls,
        endpoints: ep(Transport::Tcp, src, 50_001, dst, port),
        name: name.as_bytes().into(),
        detail: NameDetail::Tls { ech: false },
        rule: sigs.match_name(name.as_bytes()).cloned(),
    })
}

fn answer(ts: u64, server: IpAddr, client: IpAddr, name: &str, addr: IpAddr) -> Event {
    Event::DnsAnswer(DnsAnswerEvent {
        ts,
        packet: ts / S,
        endpoints: ep(Transport::Udp, server, 53, client, 50_000),
        query: name.as_bytes().into(),
        owner: format!("{name}.cdn.example.net").into_bytes().into(),
        addr,
        ttl: 60,
    })
}

fn syn(ts: u64, src: IpAddr, dst: IpAddr, port: u16) -> Event {
    Event::FlowStart(FlowStartEvent {
        ts,
        packet: ts / S,
        endpoints: ep(Transport::Tcp, src, 50_002, dst, port),
    })
}

fn udp(ts: u64, src: IpAddr, dst: IpAddr, port: u16) -> Event {
    Event::FlowStart(FlowStartEvent {
        ts,
        packet: ts / S,
        endpoints: ep(Transport::Udp, src, 50_003, dst, port),
    })
}

struct Run {
    sigs: SignatureSet,
    att: Attributor,
    inv: Inventory,
    out: Vec<Evidence>,
}

impl Run {
    fn new(resolvers: Vec<IpAddr>) -> Run {
        Run {
            sigs: sigs(),
            att: Attributor::new(AttributionConfig {
                home_nets: HomeNets::default(),
                resolvers,
            }),
            inv: Inventory::new(),
            out: Vec::new(),
        }
    }
    fn feed(&mut self, ev: Event) {
        self.att
            .on_event(&ev, &self.sigs, &mut self.inv, &mut self.out);
    }
}

#[test]
fn home_nets_default_and_parse() {
    let h = HomeNets::default();
    for ip in [
        "10.1.2.3",
        "172.31.0.1",
        "192.168.1.1",
        "100.64.0.1",
        "169.254.9.9",
        "fd00::1",
        "fe80::1",
        "::ffff:10.0.0.1",
    ] {
        assert!(h.contains(ip.parse().expect("ip")), "{ip}");
    }
    for ip in [
        "8.8.8.8",
        "172.32.0.1",
        "100.128.0.1",
        "2001:db8::1",
        "203.0.113.5",
    ] {
        assert!(!h.contains(ip.parse().expect("ip")), "{ip}");
    }
    let custom = HomeNets::parse(&["203.0.113.0/24".into()]).expect("valid");
    assert!(custom.contains(v4(203, 0, 113, 9)));
    assert!(
        !custom.contains(lan(1)),
        "a given list replaces the default"
    );
    let err = HomeNets::parse(&["10.1.2.3/8".into()]).expect_err("host bits");
    assert!(
        err.contains("--home-net") && err.contains("10.0.0.0/8"),
        "{err}"
    );
    assert!(HomeNets::parse(&["nonsense".into()]).is_err());
}

#[test]
fn connection_to_an_answer_address_is_dns_correlated_one_step_down() {
    let mut r = Run::new(vec![]);
    let cdn = v4(203, 0, 113, 7);
    let name = "dnl-03.geo.kaspersky.com";
    let rule_conf = r.sigs.match_name(name.as_bytes()).map(|x| x.confidence);
    assert_eq!(
        rule_conf,
        Some(Confidence::High),
        "test premise: a high rule"
    );
    r.feed(answer(T0, lan(2), lan(23), name, cdn));
    // An ECH hello hides the name: only the SYN is evidence.
    r.feed(syn(T0 + S, lan(24), cdn, 443));
    // Another address: nothing.
    r.feed(syn(T0 + 2 * S, lan(24), v4(203, 0, 113, 8), 443));
    assert_eq!(r.out.len(), 1);
    let e = &r.out[0];
    assert_eq!(e.channel(), Channel::DnsCorrelated);
    assert_eq!(e.confidence(), Some(Confidence::Medium));
    let h = r.inv.host(lan(24)).expect("client recorded");
    assert_eq!(h.verdict(), Some(Confidence::Medium));
    assert_eq!(h.evidence().get(Channel::DnsCorrelated), 1);
    let entry = h.name(name.as_bytes()).expect("the answer's name");
    assert_eq!((entry.count(), entry.correlated()), (0, 1));
    assert_eq!(entry.correlated_addrs(), [cdn]);

    // The alert line: valid JSON with the documented fields.
    let mut buf = Vec::new();
    json::write_evidence(e, &mut buf);
    assert_eq!(buf.last(), Some(&b'\n'));
    let v: serde_json::Value = serde_json::from_slice(&buf).expect("valid JSON");
    assert_eq!(v["event"]["dataset"], "phonehome.alert");
    assert_eq!(v["phonehome"]["channel"], "dns-correlated");
    assert_eq!(v["phonehome"]["confidence"], "medium");
    assert_eq!(v["phonehome"]["correlation"]["name"], name);
    assert_eq!(v["phonehome"]["correlation"]["answer"], "203.0.113.7");
    assert_eq!(v["phonehome"]["correlation"]["answered_by"], "10.1.0.2");
    assert_eq!(v["source"]["ip"], "10.1.0.24");
    assert_eq!(v["destination"]["port"], 443);
}

#[test]
fn the_answer_hold_ends() {
    let mut r = Run::new(vec![]);
    let cdn = v4(203, 0, 113, 7);
    r.feed(answer(T0, lan(2), lan(23), "dnl-03.geo.kaspersky.com", cdn));
    r.feed(syn(
        T0 + crate::config::limits::ANSWER_MIN_HOLD_NS + S,
        lan(24),
        cdn,
        443,
    ));
    assert!(r.out.is_empty());
    assert!(r.inv.host(lan(24)).is_none());
    assert_eq!(r.att.answers().stats().expired, 1);
}

#[test]
fn resolver_is_flagged_not_installed_and_its_clients_are_named() {
    let mut r = Run::new(vec![]);
    let up = v4(192, 0, 2, 53);
    let name = "dnl-03.geo.kaspersky.com";
    let mut t = T0;
    for c in [21u8, 22, 23] {
        r.feed(query(&r.sigs, t, t / S, lan(c), lan(2), name));
        r.feed(query(&r.sigs, t + 1_000, t / S + 1, lan(2), up, name));
        t += 10 * S;
    }
    let res = r.inv.host(lan(2)).expect("resolver recorded");
    assert!(res.roles().contains(Role::Resolver));
    assert_eq!(res.role(), Role::Resolver);
    assert_eq!(res.verdict(), None, "a resolver is never product-installed");
    assert_eq!(
        res.evidence().get(Channel::Dns),
        3,
        "its queries stay visible"
    );
    let served = r.inv.served(lan(2)).expect("clients kept");
    assert_eq!(
        served
            .get(&b"dnl-03.geo.kaspersky.com"[..])
            .map(Vec::as_slice),
        Some(&[lan(21), lan(22), lan(23)][..])
    );
    for c in [21u8, 22, 23] {
        assert_eq!(
            r.inv.host(lan(c)).and_then(|h| h.verdict()),
            Some(Confidence::High)
        );
    }
    assert!(r.att.resolvers().stats().forwards >= 2);
}

#[test]
fn declared_resolver_needs_no_detection() {
    let mut r = Run::new(vec![lan(53)]);
    let s = sigs();
    r.feed(query(
        &s,
        T0,
        1,
        lan(53),
        v4(192, 0, 2, 53),
        "dnl-03.geo.kaspersky.com",
    ));
    let h = r.inv.host(lan(53)).expect("recorded");
    assert_eq!(h.role(), Role::Resolver);
    assert_eq!(h.verdict(), None);
}

#[test]
fn ksc_ports_between_home_hosts_give_roles_and_medium() {
    let mut r = Run::new(vec![]);
    let ksc = lan(5);
    r.feed(syn(T0, lan(31), ksc, 13000));
    r.feed(udp(T0 + S, ksc, lan(32), 15000));
    r.feed(syn(T0 + 2 * S, lan(33), ksc, 13111));
    // Not a KSC port, and a KSC port towards the internet: nothing.
    r.feed(syn(T0 + 3 * S, lan(34), ksc, 445));
    r.feed(syn(T0 + 4 * S, lan(35), v4(198, 51, 100, 1), 13000));
    let server = r.inv.host(ksc).expect("server");
    assert_eq!(server.role(), Role::KscServer);
    assert_eq!(server.verdict(), Some(Confidence::Medium));
    let peers: Vec<IpAddr> = server.peers().iter().map(|p| p.ip).collect();
    assert_eq!(peers, [lan(31), lan(32), lan(33)]);
    for c in [31u8, 32, 33] {
        let h = r.inv.host(lan(c)).expect("agent");
        assert_eq!(h.role(), Role::ManagedEndpoint, "{c}");
        assert_eq!(h.verdict(), Some(Confidence::Medium));
        assert_eq!(h.peers().first().map(|p| p.ip), Some(ksc));
    }
    assert!(r.inv.host(lan(34)).is_none());
    assert!(r.inv.host(lan(35)).is_none());
    assert_eq!(r.att.stats().ksc_flows, 3);
    let mut buf = Vec::new();
    json::write_evidence(&r.out[0], &mut buf);
    let v: serde_json::Value = serde_json::from_slice(&buf).expect("JSON");
    assert_eq!(v["phonehome"]["channel"], "ksc-port");
    assert_eq!(v["phonehome"]["ksc"]["role"], "managed-endpoint");
    assert_eq!(v["phonehome"]["ksc"]["peer"], "10.1.0.5");
}

#[test]
fn a_vendor_name_on_a_ksc_port_confirms_high() {
    let mut r = Run::new(vec![]);
    let s = sigs();
    r.feed(syn(T0, lan(31), lan(5), 13000));
    r.feed(tls(&s, T0 + S, lan(31), lan(5), 13000, "ksc.kaspersky.com"));
    assert_eq!(r.att.stats().ksc_confirmed, 1);
    let a = r.inv.host(lan(31)).expect("agent");
    assert_eq!(a.channel_conf(Channel::KscPort), Some(Confidence::High));
}

#[test]
fn prefix_flows_are_weak_only() {
    let mut r = Run::new(vec![]);
    let k = v4(77, 74, 176, 10);
    assert!(r.sigs.match_ip(k).is_some(), "test premise: a pack prefix");
    r.feed(syn(T0, lan(40), k, 443));
    let h = r.inv.host(lan(40)).expect("recorded");
    assert_eq!(h.evidence().get(Channel::Prefix), 1);
    assert_eq!(h.verdict(), None, "prefix evidence never makes a verdict");
    assert!(!h.prefix_rules().is_empty());
    assert!(!json::is_alert(&r.out[0]));
    let mut buf = Vec::new();
    json::write_evidence(&r.out[0], &mut buf);
    assert!(buf.is_empty());
}

#[test]
fn outside_sources_are_not_inventoried_and_fallback_resolvers_noted() {
    let mut r = Run::new(vec![]);
    let s = sigs();
    r.feed(query(
        &s,
        T0,
        1,
        v4(198, 51, 100, 9),
        lan(2),
        "dnl-03.geo.kaspersky.com",
    ));
    assert!(r.inv.is_empty());
    assert_eq!(r.att.stats().not_home, 1);
    r.feed(query(
        &s,
        T0 + S,
        2,
        lan(22),
        v4(8, 8, 8, 8),
        "dnl-03.geo.kaspersky.com",
    ));
    let h = r.inv.host(lan(22)).expect("recorded");
    assert_eq!(h.fallback_resolvers(), [v4(8, 8, 8, 8)]);
    assert_eq!(r.att.stats().fallback_dns, 1);
    // Unmatched names are never inventoried.
    r.feed(query(&s, T0 + 2 * S, 3, lan(23), lan(2), "example.org"));
    assert!(r.inv.host(lan(23)).is_none());
}

#[test]
fn answer_map_memory_is_bounded_through_the_attributor() {
    let sigs = sigs();
    let mut att = Attributor::with_answer_map(AttributionConfig::default(), AnswerMap::new(64, 2));
    let mut inv = Inventory::new();
    let mut out = Vec::new();
    for i in 0..5_000u32 {
        let addr = IpAddr::V4(Ipv4Addr::from(0xc633_6400u32.wrapping_add(i)));
        let ev = answer(
            T0 + u64::from(i) * 1_000,
            lan(2),
            lan(21),
            "dnl-03.geo.kaspersky.com",
            addr,
        );
        att.on_event(&ev, &sigs, &mut inv, &mut out);
        assert!(att.answers().len() <= 64);
    }
    assert_eq!(att.answers().stats().evicted, 5_000 - 64);
    let c = att.counters();
    assert_eq!(c[3], ("answer_map_evicted", 5_000 - 64));
}

/// Random events (addresses of both families, mapped addresses, KSC and
/// random ports, vendor and junk names, answers out of time order) never
/// panic and never exceed the bounds.
#[test]
fn random_events_never_panic_and_stay_bounded() {
    use crate::traffic::rng::Rng;
    let sigs = sigs();
    let mut rng = Rng::new(7);
    let mut att = Attributor::with_answer_map(
        AttributionConfig {
            home_nets: HomeNets::default(),
            resolvers: vec![lan(2)],
        },
        AnswerMap::new(32, 2),
    );
    let mut inv = Inventory::with_limits(crate::inventory::Limits {
        max_hosts: 64,
        ..crate::inventory::Limits::default()
    });
    let mut out = Vec::new();
    let names = [
        "dnl-03.geo.kaspersky.com",
        "www.kaspersky.com",
        "",
        ".",
        "x\u{0}y",
        "KSC.KASPERSKY.COM.",
        "example.org",
    ];
    for i in 0..20_000u64 {
        let addr = |rng: &mut Rng| -> IpAddr {
            match rng.below(4) {
                0 => v4(10, 1, 0, rng.below(8) as u8),
                1 => v4(203, 0, 113, rng.below(8) as u8),
                2 => format!("::ffff:10.1.0.{}", rng.below(8))
                    .parse()
                    .expect("v6"),
                _ => format!("fd00::{}", rng.below(8)).parse().expect("v6"),
            }
        };
        let ts = T0
            .wrapping_add(rng.below(3_600) * S)
            .wrapping_sub(i % 7 * S);
        let t = if rng.below(2) == 0 {
            Transport::Tcp
        } else {
            Transport::Udp
        };
        let port = [13000u16, 15000, 15111, 443, 53, 0, 65535][rng.below(7) as usize];
        let e = Endpoints {
            transport: t,
            src_ip: addr(&mut rng),
            src_port: rng.below(65536) as u16,
            dst_ip: addr(&mut rng),
            dst_port: port,
            src_mac: None,
            vlan: Some(rng.below(4096) as u16),
        };
        let name = names[rng.below(names.len() as u64) as usize];
        let ev = match rng.below(3) {
            0 => Event::FlowStart(FlowStartEvent {
                ts,
                packet: i,
                endpoints: e,
            }),
            1 => Event::DnsAnswer(DnsAnswerEvent {
                ts,
                packet: i,
                endpoints: e,
                query: name.as_bytes().into(),
                owner: name.as_bytes().into(),
                addr: e.dst_ip,
                ttl: rng.next_u32(),
            }),
            _ => Event::Name(NameEvent {
                ts,
                packet: i,
                protocol: [Protocol::Dns, Protocol::Tls, Protocol::Http, Protocol::Quic]
                    [rng.below(4) as usize],
                endpoints: e,
                name: name.as_bytes().into(),
                detail: NameDetail::Dns { qtype: 1 },
                rule: sigs.match_name(name.as_bytes()).cloned(),
            }),
        };
        att.on_event(&ev, &sigs, &mut inv, &mut out);
        for e in out.drain(..) {
            let mut b = Vec::new();
            json::write_evidence(&e, &mut b);
            if json::is_alert(&e) {
                let _: serde_json::Value = serde_json::from_slice(&b).expect("valid JSON");
            }
        }
        assert!(att.answers().len() <= 32);
        assert!(inv.len() <= 64);
    }
    // The reasons and documents of whatever came out are producible.
    for h in inv.hosts_sorted() {
        let _ = crate::inventory::reason::reason(&inv, h);
    }
    let _ = crate::output::inventory_file::inventory_doc(&inv);
}

#[test]
fn resolver_names_nobody_asked_for_point_behind_the_resolver() {
    let mut r = Run::new(vec![lan(2)]);
    let up = v4(192, 0, 2, 53);
    let s = sigs();
    // A client the span sees, and a name whose clients it does not see.
    r.feed(query(
        &s,
        T0,
        1,
        lan(21),
        lan(2),
        "dnl-03.geo.kaspersky.com",
    ));
    r.feed(query(
        &s,
        T0 + 1_000,
        2,
        lan(2),
        up,
        "dnl-03.geo.kaspersky.com",
    ));
    r.feed(query(
        &s,
        T0 + S,
        3,
        lan(2),
        up,
        "ksn-url-geo.kaspersky-labs.com",
    ));
    let h = r.inv.host(lan(2)).expect("resolver");
    let why = crate::inventory::reason::reason(&r.inv, h);
    assert!(why.contains("look at its clients 10.1.0.21"), "{why}");
    assert!(
        why.contains("no client seen asking for ksn-url-geo.kaspersky-labs.com: the hosts are behind resolver 10.1.0.2"),
        "{why}"
    );
}

#[test]
fn a_retransmitted_syn_counts_once() {
    let mut r = Run::new(vec![]);
    let cdn = v4(203, 0, 113, 7);
    r.feed(answer(T0, lan(2), lan(23), "dnl-03.geo.kaspersky.com", cdn));
    let first = syn(T0 + S, lan(24), cdn, 443);
    r.feed(first.clone());
    // Retransmissions 1 s and 3 s later; a new connection after the window.
    if let Event::FlowStart(f) = &first {
        for dt in [S, 3 * S, 70 * S] {
            r.feed(Event::FlowStart(FlowStartEvent {
                ts: f.ts + dt,
                ..*f
            }));
        }
    }
    assert_eq!(r.att.stats().flow_repeats, 2);
    assert_eq!(
        r.inv
            .host(lan(24))
            .map(|h| h.evidence().get(Channel::DnsCorrelated)),
        Some(2)
    );
}
