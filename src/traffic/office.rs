//! The `office` scenario: four hours of an office behind an internal DNS
//! resolver, seen on a span port that carries the LAN and the resolver's
//! upstream side. Clients ask the resolver 10.1.0.2, which forwards to the
//! ISP resolver 192.0.2.53 through the gateway 10.1.0.1. Built for the
//! attribution stage (issue 7): the truth says which host must end in which
//! role with which verdict, and why.
//!
//! | host | who | expected |
//! |---|---|---|
//! | 10.1.0.2 dns-01 | the internal resolver (forwards every query) | role resolver, verdict none |
//! | 10.1.0.5 ksc-01 | Kaspersky Security Center server; downloads updates hourly | ksc-server, high |
//! | 10.1.0.21 kes-21 | product: KSN over TLS every 30 min, updates over HTTP | endpoint, high |
//! | 10.1.0.22 kes-22 | product: KSN over TLS every 30 min; once asks 8.8.8.8 directly | endpoint, high |
//! | 10.1.0.23 kes-23 | product resolving through the resolver but connecting with ECH (outer SNI is a cover name) | endpoint, high (DNS), with dns-correlated evidence |
//! | 10.1.0.24 kes-24 | product using IP literals: no DNS, no SNI | endpoint, medium (dns-correlated only) |
//! | 10.1.0.31–33 pc-31..33 | managed by ksc-01: Network Agent 13000/tcp, KSN proxy 13111/tcp and 15111/udp, server notifications 15000/udp | managed-endpoint, medium |
//! | 10.1.0.40 ws-40 | a person reading www.kaspersky.com and support.kaspersky.com | endpoint, low |
//! | 10.1.0.10, .11 ws-10, ws-11 | ordinary browsing through the resolver | absent |
//!
//! The written truth ([`OfficeTruth`]) is the generic name-level truth of
//! every scenario plus these per-host expectations.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use serde::Serialize;

use super::Error;
use super::activity::{self as act, TlsOpts};
use super::dns::{QTYPE_A, QTYPE_AAAA};
use super::packet::{Vlan, local_mac};
use super::pcap::{LINKTYPE_ETHERNET, PcapWriter, TsResolution};
use super::rng::Rng;
use super::session::{Host, Mixer, Path, Recorder, Session, UdpFlow};
use super::tls::Shape;
use super::truth::{HostSpec, PcapInfo, Truth, TruthBuilder};

/// Seed of the office capture.
pub const OFFICE_SEED: u64 = 0x0ff1_ce00_2025_0310;
/// Capture start: 2025-03-10T08:00:00Z.
pub const OFFICE_T0_NS: u64 = 1_741_593_600 * 1_000_000_000;
/// Length of the capture.
pub const OFFICE_SPAN_NS: u64 = 4 * 60 * MIN;
const MIN: u64 = 60 * 1_000_000_000;
const SEC: u64 = 1_000_000_000;
const MS: u64 = 1_000_000;
const LAN_RTT: u64 = 300_000;
const WAN_RTT: u64 = 18 * MS;
const UA_KAV: &str = "KSDE/1.0";

/// The ISP resolver the office resolver forwards to (TEST-NET-1).
pub const UPSTREAM_RESOLVER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 53));
/// The ECH cover name (outer SNI) kes-23 sends: no vendor rule matches it.
pub const ECH_COVER_NAME: &str = "cover.ech.example.net";

/// Vendor names the office products use (all match high rules).
pub const KSN_NAME: &str = "ksn-url-geo.kaspersky-labs.com";
pub const UPDATE_NAME: &str = "dnl-03.geo.kaspersky.com";
pub const KSN2_NAME: &str = "dc1.ksn.kaspersky-labs.com";
pub const ECH_NAME: &str = "s12.upd.kaspersky.com";
pub const KSC_UPDATE_NAME: &str = "dnl-01.geo.kaspersky.com";
/// Names the person browsing reads (low rules).
pub const BROWSE_NAMES: [&str; 2] = ["www.kaspersky.com", "support.kaspersky.com"];
/// Names of the ordinary hosts' browsing.
pub const ORDINARY_NAMES: [&str; 4] = [
    "example.org",
    "github.com",
    "en.wikipedia.org",
    "deb.debian.org",
];

/// What the attribution stage must conclude about one host.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct OfficeHost {
    pub ip: IpAddr,
    pub label: &'static str,
    /// `endpoint`, `resolver`, `ksc-server`, `managed-endpoint`; `None`:
    /// the host must not be in the inventory.
    pub role: Option<&'static str>,
    /// `high`, `medium`, `low`, `none`; `None` as for `role`.
    pub verdict: Option<&'static str>,
    pub product_installed: bool,
    /// Channels that must have evidence for the host.
    pub evidence: Vec<&'static str>,
    /// Why, for a person reading the truth file.
    pub why: &'static str,
}

/// The office truth: the generic truth plus per-host expectations.
#[derive(Clone, Debug, Serialize)]
pub struct OfficeTruth {
    pub scenario: &'static str,
    pub home_net: &'static str,
    pub resolver: IpAddr,
    pub ksc_server: IpAddr,
    pub expected_hosts: Vec<OfficeHost>,
    pub capture: Truth,
}

fn host(last: u8) -> Host {
    Host {
        ip: IpAddr::V4(Ipv4Addr::new(10, 1, 0, last)),
        mac: local_mac(0x0b00_0000 | u32::from(last)),
        vlan: Vlan::None,
    }
}

struct Office {
    mixer: Mixer,
    rng: Rng,
    sessions: u64,
    gw: Host,
    resolver: Host,
}

impl Office {
    fn at(
        &mut self,
        offset: u64,
        f: impl FnOnce(&mut Session, &mut Rng) -> Result<(), Error>,
    ) -> Result<(), Error> {
        self.sessions += 1;
        let mut rng = self.rng.fork(self.sessions);
        let mut s = Session::new(OFFICE_T0_NS + offset);
        f(&mut s, &mut rng)?;
        self.mixer.add(s);
        Ok(())
    }

    /// A lookup through the internal resolver: the client's query, the
    /// resolver's forwarded query upstream and its answer, then the answer
    /// to the client.
    fn lookup(
        &mut self,
        t: u64,
        client: Host,
        name: &'static str,
        qtype: u16,
    ) -> Result<(), Error> {
        let (resolver, gw) = (self.resolver, self.gw);
        let pc = Path::ethernet(&client, resolver.mac);
        self.at(t, |s, r| {
            act::dns_lookup(
                s,
                r,
                pc,
                client.ip,
                resolver.ip,
                name,
                qtype,
                2 * LAN_RTT + WAN_RTT + MS,
            )
        })?;
        let pr = Path::ethernet(&resolver, gw.mac);
        self.at(t + LAN_RTT + 100_000, |s, r| {
            act::dns_lookup(
                s,
                r,
                pr,
                resolver.ip,
                UPSTREAM_RESOLVER,
                name,
                qtype,
                WAN_RTT,
            )
        })
    }

    fn tls(
        &mut self,
        t: u64,
        client: Host,
        server: IpAddr,
        sni: &'static str,
        shape: Shape,
    ) -> Result<(), Error> {
        let p = Path::ethernet(&client, self.gw.mac);
        let o = TlsOpts {
            shape,
            post_quantum: false,
            split_records: false,
            c2s_bytes: 600,
            s2c_bytes: 2_400,
        };
        self.at(t, |s, r| {
            act::tls_session(
                s,
                r,
                p,
                client.ip,
                SocketAddr::new(server, 443),
                sni,
                o,
                WAN_RTT,
            )
        })
    }

    /// Opaque TCP (TLS without SNI, Network Agent traffic): no name.
    fn opaque(
        &mut self,
        t: u64,
        client: Host,
        hop: Host,
        server: SocketAddr,
        rtt: u64,
    ) -> Result<(), Error> {
        let p = Path::ethernet(&client, hop.mac);
        self.at(t, |s, r| {
            act::bulk_tcp(s, r, p, client.ip, server, 700, 1_800, rtt)
        })
    }

    /// One UDP datagram (and a short reply) from `from` to `to:port`.
    fn datagram(&mut self, t: u64, from: Host, to: Host, port: u16) -> Result<(), Error> {
        let p = Path::ethernet(&from, to.mac);
        self.at(t, |s, r| {
            let mut f = UdpFlow::new(
                p,
                SocketAddr::new(from.ip, act::eph_port(r)),
                SocketAddr::new(to.ip, port),
                r.next_u32(),
            );
            let mut buf = [0u8; 48];
            r.fill(&mut buf);
            f.c2s(s, &buf)?;
            s.advance(LAN_RTT);
            f.s2c(s, buf.get(..16).unwrap_or_default())?;
            Ok(())
        })
    }
}

/// The per-host expectations (see the module table).
pub fn expected_hosts() -> Vec<OfficeHost> {
    let ip = |d: u8| IpAddr::V4(Ipv4Addr::new(10, 1, 0, d));
    let mut v = vec![
        OfficeHost {
            ip: ip(2),
            label: "dns-01",
            role: Some("resolver"),
            verdict: Some("none"),
            product_installed: false,
            evidence: vec!["dns"],
            why: "forwards its clients' vendor queries upstream: evidence about the clients, not about the resolver",
        },
        OfficeHost {
            ip: ip(5),
            label: "ksc-01",
            role: Some("ksc-server"),
            verdict: Some("high"),
            product_installed: true,
            evidence: vec!["dns", "tls", "dns-correlated", "ksc-port"],
            why: "KSC server: managed endpoints connect on KSC ports; it downloads updates itself",
        },
        OfficeHost {
            ip: ip(21),
            label: "kes-21",
            role: Some("endpoint"),
            verdict: Some("high"),
            product_installed: true,
            evidence: vec!["dns", "tls", "http", "dns-correlated"],
            why: "product: KSN telemetry and updates by name",
        },
        OfficeHost {
            ip: ip(22),
            label: "kes-22",
            role: Some("endpoint"),
            verdict: Some("high"),
            product_installed: true,
            evidence: vec!["dns", "tls", "dns-correlated"],
            why: "product: KSN telemetry by name; once falls back to 8.8.8.8",
        },
        OfficeHost {
            ip: ip(23),
            label: "kes-23",
            role: Some("endpoint"),
            verdict: Some("high"),
            product_installed: true,
            evidence: vec!["dns", "dns-correlated"],
            why: "product behind ECH: the query names it; the TLS connection only by its answer address",
        },
        OfficeHost {
            ip: ip(24),
            label: "kes-24",
            role: Some("endpoint"),
            verdict: Some("medium"),
            product_installed: true,
            evidence: vec!["dns-correlated"],
            why: "product using IP literals: only connections to addresses vendor names resolved to (one step below the names' high)",
        },
    ];
    for d in [31u8, 32, 33] {
        v.push(OfficeHost {
            ip: ip(d),
            label: match d {
                31 => "pc-31",
                32 => "pc-32",
                _ => "pc-33",
            },
            role: Some("managed-endpoint"),
            verdict: Some("medium"),
            product_installed: true,
            evidence: vec!["ksc-port"],
            why: "managed by the on-premises KSC server: never talks to Kaspersky itself",
        });
    }
    v.push(OfficeHost {
        ip: ip(40),
        label: "ws-40",
        role: Some("endpoint"),
        verdict: Some("low"),
        product_installed: false,
        evidence: vec!["dns", "tls"],
        why: "a person browsing the vendor's web site",
    });
    for (d, label) in [(10u8, "ws-10"), (11, "ws-11")] {
        v.push(OfficeHost {
            ip: ip(d),
            label,
            role: None,
            verdict: None,
            product_installed: false,
            evidence: vec![],
            why: "ordinary browsing",
        });
    }
    v
}

/// Writes the office capture to `w` and returns its truth.
pub fn generate<W: Write>(w: W) -> Result<OfficeTruth, Error> {
    let gw = host(1);
    let resolver = host(2);
    let ksc = host(5);
    let kes21 = host(21);
    let kes22 = host(22);
    let kes23 = host(23);
    let kes24 = host(24);
    let pcs = [host(31), host(32), host(33)];
    let browser = host(40);
    let ws10 = host(10);
    let ws11 = host(11);

    let mut truth = TruthBuilder::new(true);
    let labels: [(&Host, &str, &'static str, bool); 13] = [
        (&gw, "gateway", "gateway", false),
        (&resolver, "dns-01", "resolver", false),
        (&ksc, "ksc-01", "ksc_server", true),
        (&kes21, "kes-21", "kaspersky_product", true),
        (&kes22, "kes-22", "kaspersky_product", true),
        (&kes23, "kes-23", "kaspersky_product_ech", true),
        (&kes24, "kes-24", "kaspersky_product_ip_literals", true),
        (&pcs[0], "pc-31", "ksc_managed", true),
        (&pcs[1], "pc-32", "ksc_managed", true),
        (&pcs[2], "pc-33", "ksc_managed", true),
        (&browser, "ws-40", "browses_vendor_site", false),
        (&ws10, "ws-10", "ordinary", false),
        (&ws11, "ws-11", "ordinary", false),
    ];
    for (h, label, role, product) in labels {
        truth.add_host(HostSpec {
            ip: h.ip,
            mac: h.mac,
            vlan: h.vlan,
            label: label.to_string(),
            role,
            product_installed: product,
        });
    }

    let mut o = Office {
        mixer: Mixer::new(),
        rng: Rng::new(OFFICE_SEED),
        sessions: 0,
        gw,
        resolver,
    };
    let addr = |n: &str| act::addr_for(n, false);

    // kes-21: KSN over TLS every 30 min; updates over HTTP every hour.
    for c in 0..8u64 {
        let t = 3 * MIN + c * 30 * MIN + (c * 7 % 5) * SEC;
        o.lookup(t, kes21, KSN_NAME, QTYPE_A)?;
        o.tls(t + 40 * MS, kes21, addr(KSN_NAME), KSN_NAME, Shape::Agent)?;
        if c % 2 == 0 {
            o.lookup(t + 4 * SEC, kes21, UPDATE_NAME, QTYPE_A)?;
            let p = Path::ethernet(&kes21, gw.mac);
            o.at(t + 4 * SEC + 40 * MS, |s, r| {
                act::http_session(
                    s,
                    r,
                    p,
                    kes21.ip,
                    SocketAddr::new(addr(UPDATE_NAME), 80),
                    "GET",
                    "/bases/av/kdb/i386/kdb-i386-0610g.xml.dif",
                    UPDATE_NAME,
                    UA_KAV,
                    0,
                    8_000,
                    WAN_RTT,
                )
            })?;
        }
    }

    // kes-22: KSN every 30 min; in cycle 3 its resolver "fails" and it asks
    // 8.8.8.8 directly (the span sees that query and its answer).
    let google = IpAddr::V4(Ipv4Addr::new(8, 8, 8, 8));
    for c in 0..8u64 {
        let t = 11 * MIN + c * 30 * MIN + (c * 3 % 4) * SEC;
        if c == 3 {
            let p = Path::ethernet(&kes22, gw.mac);
            o.at(t, |s, r| {
                act::dns_lookup(s, r, p, kes22.ip, google, KSN2_NAME, QTYPE_A, WAN_RTT)
            })?;
        } else {
            o.lookup(t, kes22, KSN2_NAME, QTYPE_A)?;
        }
        o.tls(t + 40 * MS, kes22, addr(KSN2_NAME), KSN2_NAME, Shape::Agent)?;
    }

    // kes-23: resolves through the resolver, connects with ECH: the outer
    // SNI is a cover name no rule matches.
    for c in 0..8u64 {
        let t = 17 * MIN + c * 30 * MIN;
        o.lookup(t, kes23, ECH_NAME, QTYPE_A)?;
        o.tls(
            t + 40 * MS,
            kes23,
            addr(ECH_NAME),
            ECH_COVER_NAME,
            Shape::Chrome,
        )?;
    }

    // kes-24: IP literals, 90 s after kes-21 resolved the same names (the
    // answers are held at least ANSWER_MIN_HOLD_NS).
    for c in 0..8u64 {
        let t = 3 * MIN + c * 30 * MIN + (c * 7 % 5) * SEC + 90 * SEC;
        o.opaque(t, kes24, gw, SocketAddr::new(addr(KSN_NAME), 443), WAN_RTT)?;
        if c % 2 == 0 {
            o.opaque(
                t + 5 * SEC,
                kes24,
                gw,
                SocketAddr::new(addr(UPDATE_NAME), 80),
                WAN_RTT,
            )?;
        }
    }

    // ksc-01: updates hourly by name; notifies its agents every 30 min.
    for c in 0..4u64 {
        let t = 5 * MIN + c * 60 * MIN;
        o.lookup(t, ksc, KSC_UPDATE_NAME, QTYPE_A)?;
        o.tls(
            t + 40 * MS,
            ksc,
            addr(KSC_UPDATE_NAME),
            KSC_UPDATE_NAME,
            Shape::Agent,
        )?;
    }
    for c in 0..8u64 {
        for (i, pc) in pcs.iter().enumerate() {
            let t = 8 * MIN + c * 30 * MIN + i as u64 * 2 * SEC;
            o.datagram(t, ksc, *pc, 15000)?;
        }
    }

    // pc-31..33: Network Agent to the KSC server every 15 min; KSN proxy.
    for c in 0..16u64 {
        for (i, pc) in pcs.iter().enumerate() {
            let t = 2 * MIN + c * 15 * MIN + i as u64 * 20 * SEC;
            o.opaque(t, *pc, ksc, SocketAddr::new(ksc.ip, 13000), LAN_RTT)?;
            if c % 4 == 1 {
                match i {
                    0 => o.opaque(
                        t + 3 * SEC,
                        *pc,
                        ksc,
                        SocketAddr::new(ksc.ip, 13111),
                        LAN_RTT,
                    )?,
                    1 => o.datagram(t + 3 * SEC, *pc, ksc, 15111)?,
                    _ => {}
                }
            }
        }
    }
    // The managed PCs also browse (ordinary names through the resolver).
    for (i, pc) in pcs.iter().enumerate() {
        let t = 25 * MIN + i as u64 * 41 * MIN;
        let name = ORDINARY_NAMES.get(i).copied().unwrap_or("example.org");
        o.lookup(t, *pc, name, QTYPE_A)?;
        o.tls(t + 40 * MS, *pc, addr(name), name, Shape::Chrome)?;
    }

    // ws-40: a person reading the vendor's web site, twice, irregularly.
    for (k, &t) in [40 * MIN, 40 * MIN + 3 * MIN, 131 * MIN].iter().enumerate() {
        let name = BROWSE_NAMES
            .get(k % 2)
            .copied()
            .unwrap_or("www.kaspersky.com");
        o.lookup(t, browser, name, QTYPE_A)?;
        o.lookup(t + MS, browser, name, QTYPE_AAAA)?;
        o.tls(t + 40 * MS, browser, addr(name), name, Shape::Firefox)?;
    }

    // ws-10, ws-11: ordinary browsing.
    for (k, name) in ORDINARY_NAMES.iter().enumerate() {
        for (j, h) in [ws10, ws11].into_iter().enumerate() {
            let t = 7 * MIN + k as u64 * 37 * MIN + j as u64 * 13 * MIN;
            o.lookup(t, h, name, QTYPE_A)?;
            o.tls(t + 40 * MS, h, addr(name), name, Shape::Chrome)?;
        }
    }

    let pcap = PcapWriter::new(w, LINKTYPE_ETHERNET, TsResolution::Micros)?;
    let mut rec = Recorder::new(pcap, truth, None);
    while o.mixer.step(&mut rec)? {}
    let info = PcapInfo {
        linktype: LINKTYPE_ETHERNET,
        ts_resolution: TsResolution::Micros.as_str(),
        packets: rec.pcap.packets(),
        bytes: rec.pcap.bytes(),
        first_ts_ns: 0,
        last_ts_ns: 0,
    };
    let Recorder { pcap, truth, .. } = rec;
    pcap.finish()?;
    Ok(OfficeTruth {
        scenario: "office",
        home_net: "10.0.0.0/8 (default home networks)",
        resolver: resolver.ip,
        ksc_server: ksc.ip,
        expected_hosts: expected_hosts(),
        capture: truth.finish("office", OFFICE_SEED, None, info),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signatures::{Confidence, SignatureSet};

    /// The addresses ordinary names resolve to must not be the vendor
    /// names' (the generator's "DNS" is a hash): otherwise an ordinary host
    /// would rightly get dns-correlated evidence and the truth would lie.
    #[test]
    fn ordinary_and_vendor_addresses_do_not_collide() {
        let vendor = [KSN_NAME, UPDATE_NAME, KSN2_NAME, ECH_NAME, KSC_UPDATE_NAME]
            .into_iter()
            .chain(BROWSE_NAMES);
        let mut v: Vec<IpAddr> = Vec::new();
        for n in vendor {
            let a = act::addr_for(n, false);
            v.push(a);
            if let IpAddr::V4(x) = a {
                let o = x.octets();
                v.push(IpAddr::V4(Ipv4Addr::new(o[0], o[1], o[2], o[3] ^ 1)));
            }
        }
        for n in ORDINARY_NAMES.iter().chain([&ECH_COVER_NAME]) {
            assert!(!v.contains(&act::addr_for(n, false)), "{n}");
        }
    }

    #[test]
    fn names_match_the_rules_the_truth_assumes() {
        let sigs = SignatureSet::builtin().expect("builtin");
        let conf = |n: &str| sigs.match_name(n.as_bytes()).map(|r| r.confidence);
        for n in [KSN_NAME, UPDATE_NAME, KSN2_NAME, ECH_NAME, KSC_UPDATE_NAME] {
            assert_eq!(conf(n), Some(Confidence::High), "{n}");
        }
        for n in BROWSE_NAMES {
            assert_eq!(conf(n), Some(Confidence::Low), "{n}");
        }
        for n in ORDINARY_NAMES.iter().chain([&ECH_COVER_NAME]) {
            assert_eq!(conf(n), None, "{n}");
        }
    }

    #[test]
    fn generation_is_deterministic() {
        let mut a = Vec::new();
        let mut b = Vec::new();
        let ta = generate(&mut a).expect("generate");
        generate(&mut b).expect("generate");
        assert_eq!(a, b);
        assert!(ta.capture.pcap.packets > 1_000);
        assert_eq!(ta.expected_hosts.len(), 12);
    }
}
