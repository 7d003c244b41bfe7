//! The `demo` scenario: two hours of a small office network seen on a span
//! port at the LAN side of the gateway (10.0.0.1, also the DNS resolver and
//! fd00::1 over IPv6). The explicit proxy's upstream side is not captured.
//!
//! | host | who | expected |
//! |---|---|---|
//! | 10.0.0.10 ws-alice | Chrome, apt, file server, QUIC-like UDP/443 | none |
//! | 10.0.0.11 ws-bob | visits www.kaspersky.com (Firefox) | low |
//! | 10.0.0.12 ws-carol (VLAN 20) | look-alike names only | none |
//! | 10.0.0.13 / fd00::13 ws-dave | dual stack, look-alike over IPv6 | none |
//! | 10.0.0.21 kes-01 | product: updates (TLS with PQ hello over 2 segments, HTTP `/bases/`), KSN, activation | high |
//! | 10.0.0.22 kes-02 (VLAN 20) | product: falls back to 8.8.8.8; licence refresh hello fragmented over 2 TLS records | high |
//! | 10.0.0.23 kes-03 | product behind the explicit proxy 10.0.0.3:3128 (CONNECT, absolute-form GET) | high |
//! | 10.0.0.24 kpm-04 (QinQ 100/24) | only Password Manager / web-protection names | medium |
//! | 10.0.0.1, .3, .5, .30 | gateway, proxy, file server, printer | none |
//!
//! Product hosts repeat their cycle every 20–40 minutes over the span.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use super::Error;
use super::activity::{self as act, TlsOpts};
use super::dns::{QTYPE_A, QTYPE_AAAA, QTYPE_HTTPS};
use super::packet::{Vlan, local_mac, v6};
use super::pcap::{LINKTYPE_ETHERNET, PcapWriter, TsResolution};
use super::rng::Rng;
use super::session::{Host, Mixer, Path, Recorder, Session};
use super::tls::Shape;
use super::truth::{HostSpec, PcapInfo, Truth, TruthBuilder};

/// Seed of the committed demo capture.
pub const DEMO_SEED: u64 = 0x0ff1_ce00_2025_0303;
/// Capture start: 2025-03-03T08:00:00Z.
pub const DEMO_T0_NS: u64 = 1_740_988_800 * 1_000_000_000;
const MIN: u64 = 60 * 1_000_000_000;
const MS: u64 = 1_000_000;
/// One-way delays: LAN and internet.
const LAN_RTT: u64 = 300_000;
const WAN_RTT: u64 = 18 * MS;

const UA_APT: &str = "Debian APT-HTTP/1.3 (2.6.1)";
const UA_KAV: &str = "KSDE/1.0";

fn host(last: u8, vlan: Vlan) -> Host {
    Host {
        ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, last)),
        mac: local_mac(0x0a00_0000 | u32::from(last)),
        vlan,
    }
}

struct Demo {
    mixer: Mixer,
    rng: Rng,
    sessions: u64,
}

impl Demo {
    /// Builds one session starting `offset` after the capture start.
    fn at(
        &mut self,
        offset: u64,
        f: impl FnOnce(&mut Session, &mut Rng) -> Result<(), Error>,
    ) -> Result<(), Error> {
        self.sessions += 1;
        let mut rng = self.rng.fork(self.sessions);
        let mut s = Session::new(DEMO_T0_NS + offset);
        f(&mut s, &mut rng)?;
        self.mixer.add(s);
        Ok(())
    }
}

fn tls(shape: Shape, pq: bool, down: usize) -> TlsOpts {
    TlsOpts {
        shape,
        post_quantum: pq,
        split_records: false,
        c2s_bytes: 420,
        s2c_bytes: down,
    }
}

/// Writes the demo capture to `w` and returns its truth.
pub fn generate<W: Write>(w: W) -> Result<Truth, Error> {
    let gw = host(1, Vlan::None);
    let proxy = host(3, Vlan::None);
    let files = host(5, Vlan::None);
    let alice = host(10, Vlan::None);
    let bob = host(11, Vlan::None);
    let carol = host(12, Vlan::Tag(20));
    let dave = host(13, Vlan::None);
    let dave6 = Host {
        ip: IpAddr::V6(v6([0xfd00, 0, 0, 0], 0x13)),
        ..dave
    };
    let gw6: IpAddr = IpAddr::V6(v6([0xfd00, 0, 0, 0], 1));
    let kes1 = host(21, Vlan::None);
    let kes2 = host(22, Vlan::Tag(20));
    let kes3 = host(23, Vlan::None);
    let kpm4 = host(
        24,
        Vlan::QinQ {
            outer: 100,
            inner: 24,
        },
    );
    let printer = host(30, Vlan::None);

    let mut truth = TruthBuilder::new(true);
    let reg: [(&Host, &str, &'static str, bool); 13] = [
        (&gw, "gateway", "gateway_resolver", false),
        (&proxy, "proxy", "explicit_proxy", false),
        (&files, "files", "file_server", false),
        (&alice, "ws-alice", "ordinary", false),
        (&bob, "ws-bob", "browses_vendor_site", false),
        (&carol, "ws-carol", "lookalikes", false),
        (&dave, "ws-dave", "ordinary", false),
        (&dave6, "ws-dave-v6", "lookalikes", false),
        (&kes1, "kes-01", "kaspersky_product", true),
        (&kes2, "kes-02", "kaspersky_product", true),
        (&kes3, "kes-03", "kaspersky_product_via_proxy", true),
        (&kpm4, "kpm-04", "kaspersky_password_manager", true),
        (&printer, "printer", "ordinary", false),
    ];
    // The gateway's VLAN 20 interface shares its MAC and IP.
    for (h, label, role, product) in reg.iter() {
        truth.add_host(HostSpec {
            ip: h.ip,
            mac: h.mac,
            vlan: h.vlan,
            label: (*label).to_string(),
            role,
            product_installed: *product,
        });
    }

    let mut d = Demo {
        mixer: Mixer::new(),
        rng: Rng::new(DEMO_SEED),
        sessions: 0,
    };
    let resolver = gw.ip;
    let inet = |h: &Host| Path::ethernet(h, gw.mac);

    // ARP: everyone resolves the gateway when they start; the printer
    // announces itself; the gateway re-resolves a few hosts later.
    for (i, h) in [alice, bob, carol, dave, kes1, kes2, kes3, kpm4, printer]
        .iter()
        .enumerate()
    {
        let h = *h;
        d.at(i as u64 * 7 * 1_000_000_000 + 500 * MS, |s, _| {
            act::arp_exchange(s, &h, Ipv4Addr::new(10, 0, 0, 1), gw.mac);
            Ok(())
        })?;
    }
    for k in 0..4u64 {
        d.at(k * 30 * MIN + 3 * MIN, |s, _| {
            act::arp_announce(s, &printer);
            Ok(())
        })?;
    }
    let gw_asker = gw;
    d.at(61 * MIN, |s, _| {
        act::arp_exchange(s, &gw_asker, Ipv4Addr::new(10, 0, 0, 21), kes1.mac);
        Ok(())
    })?;

    // --- kes-01: a Kaspersky endpoint product, direct internet access.
    let kes1_cycles = [2 * MIN, 33 * MIN, 61 * MIN + 20 * 1_000_000_000, 94 * MIN];
    for (c, &t) in kes1_cycles.iter().enumerate() {
        let p = inet(&kes1);
        let upd = if c % 2 == 0 {
            "s07.upd.kaspersky.com"
        } else {
            "s12.upd.kaspersky.com"
        };
        d.at(t, |s, r| {
            act::dns_lookup(s, r, p, kes1.ip, resolver, upd, QTYPE_A, LAN_RTT)
        })?;
        // The first update session offers a post-quantum share: the hello
        // is ~1.8 KB and spans two TCP segments.
        let opts = TlsOpts {
            post_quantum: c != 1,
            ..tls(Shape::Chrome, true, 14_000)
        };
        d.at(t + 40 * MS, |s, r| {
            act::tls_session(
                s,
                r,
                p,
                kes1.ip,
                SocketAddr::new(act::addr_for(upd, false), 443),
                upd,
                opts,
                WAN_RTT,
            )
        })?;
        // Mixed case from DNS 0x20-style randomisation in one cycle.
        let dnl = if c == 2 {
            "dnl-03.GEO.Kaspersky.com"
        } else {
            "dnl-03.geo.kaspersky.com"
        };
        d.at(t + 2 * 1_000_000_000, |s, r| {
            act::dns_lookup(s, r, p, kes1.ip, resolver, dnl, QTYPE_A, LAN_RTT)
        })?;
        let target = format!("/bases/av/kdb/i386/kdb-i386-06{:02}g.xml.dif", 7 + c);
        d.at(t + 2 * 1_000_000_000 + 30 * MS, move |s, r| {
            act::http_session(
                s,
                r,
                p,
                kes1.ip,
                SocketAddr::new(act::addr_for(dnl, false), 80),
                "GET",
                &target,
                dnl,
                UA_KAV,
                0,
                9_000 + 1_500 * c,
                WAN_RTT,
            )
        })?;
        let ksn = "ksn-url-geo.kaspersky-labs.com";
        d.at(t + 5 * 1_000_000_000, |s, r| {
            act::dns_lookup(s, r, p, kes1.ip, resolver, ksn, QTYPE_A, LAN_RTT)
        })?;
        d.at(t + 5 * 1_000_000_000 + 25 * MS, |s, r| {
            act::tls_session(
                s,
                r,
                p,
                kes1.ip,
                SocketAddr::new(act::addr_for(ksn, false), 443),
                ksn,
                tls(Shape::Agent, false, 1_800),
                WAN_RTT,
            )
        })?;
        if c % 2 == 0 {
            let act2 = "activation-v2.kaspersky.com";
            d.at(t + 9 * 1_000_000_000, |s, r| {
                act::dns_lookup(s, r, p, kes1.ip, resolver, act2, QTYPE_A, LAN_RTT)
            })?;
            d.at(t + 9 * 1_000_000_000 + 25 * MS, |s, r| {
                act::tls_session(
                    s,
                    r,
                    p,
                    kes1.ip,
                    SocketAddr::new(act::addr_for(act2, false), 443),
                    act2,
                    tls(Shape::Agent, false, 2_400),
                    WAN_RTT,
                )
            })?;
        }
    }

    // --- kes-02: VLAN 20; its resolver fails so it asks 8.8.8.8 directly;
    // the licence-refresh hello is fragmented over two TLS records.
    let google_dns = IpAddr::V4(Ipv4Addr::new(8, 8, 8, 8));
    for c in 0..6u64 {
        let t = 6 * MIN + c * 20 * MIN + (c * 37 % 11) * 1_000_000_000;
        let p = inet(&kes2);
        let refresh = "refresh-bkg.activation-v2.kaspersky.com";
        d.at(t, |s, r| {
            act::dns_lookup(s, r, p, kes2.ip, google_dns, refresh, QTYPE_A, WAN_RTT)
        })?;
        let o = TlsOpts {
            split_records: true,
            ..tls(Shape::Agent, false, 1_200)
        };
        d.at(t + 60 * MS, |s, r| {
            act::tls_session(
                s,
                r,
                p,
                kes2.ip,
                SocketAddr::new(act::addr_for(refresh, false), 443),
                refresh,
                o,
                WAN_RTT,
            )
        })?;
        let dc1 = "dc1.ksn.kaspersky-labs.com";
        d.at(t + 3 * 1_000_000_000, |s, r| {
            act::dns_lookup(s, r, p, kes2.ip, resolver, dc1, QTYPE_A, LAN_RTT)
        })?;
        d.at(t + 3 * 1_000_000_000 + 20 * MS, |s, r| {
            act::tls_session(
                s,
                r,
                p,
                kes2.ip,
                SocketAddr::new(act::addr_for(dc1, false), 443),
                dc1,
                tls(Shape::Agent, c == 3, 2_000),
                WAN_RTT,
            )
        })?;
        let geoksn = "ksn-url.geoksn.kaspersky.com";
        d.at(t + 4 * 1_000_000_000, |s, r| {
            act::dns_lookup(s, r, p, kes2.ip, resolver, geoksn, QTYPE_A, LAN_RTT)
        })?;
        if c == 1 || c == 4 {
            let dnl = "dnl-07.geo.kaspersky.com";
            d.at(t + 7 * 1_000_000_000, |s, r| {
                act::dns_lookup(s, r, p, kes2.ip, resolver, dnl, QTYPE_A, LAN_RTT)
            })?;
            d.at(t + 7 * 1_000_000_000 + 20 * MS, |s, r| {
                act::http_session(
                    s,
                    r,
                    p,
                    kes2.ip,
                    SocketAddr::new(act::addr_for(dnl, false), 80),
                    "GET",
                    "/index/u0607g.xml.dif",
                    dnl,
                    UA_KAV,
                    0,
                    6_000,
                    WAN_RTT,
                )
            })?;
        }
    }

    // --- kes-03: behind the explicit proxy; never resolves names itself.
    let proxy_ep = SocketAddr::new(proxy.ip, 3128);
    for c in 0..3u64 {
        let t = 12 * MIN + c * 40 * MIN;
        let p = Path::ethernet(&kes3, proxy.mac);
        let dc1 = "dc1.ksn.kaspersky-labs.com";
        d.at(t, |s, r| {
            act::connect_session(
                s,
                r,
                p,
                kes3.ip,
                proxy_ep,
                dc1,
                UA_KAV,
                tls(Shape::Agent, false, 1_500),
                LAN_RTT + WAN_RTT,
            )
        })?;
        let dnl = "dnl-11.geo.kaspersky.com";
        let target = format!("http://{dnl}/bases/av/emu/emu-0607g.xml.dif");
        d.at(t + 4 * 1_000_000_000, move |s, r| {
            act::http_session(
                s,
                r,
                p,
                kes3.ip,
                proxy_ep,
                "GET",
                &target,
                dnl,
                UA_KAV,
                0,
                5_000,
                LAN_RTT + WAN_RTT,
            )
        })?;
        if c == 1 {
            let a = "activation-v2.kaspersky.com";
            d.at(t + 8 * 1_000_000_000, |s, r| {
                act::connect_session(
                    s,
                    r,
                    p,
                    kes3.ip,
                    proxy_ep,
                    a,
                    UA_KAV,
                    tls(Shape::Agent, false, 900),
                    LAN_RTT + WAN_RTT,
                )
            })?;
        }
    }

    // --- kpm-04: QinQ; only medium names (password manager, web protection).
    for c in 0..3u64 {
        let t = 20 * MIN + c * 35 * MIN;
        let p = inet(&kpm4);
        let bosh = "bosh4.ucp-ntfy.kaspersky-labs.com";
        d.at(t, |s, r| {
            act::dns_lookup(s, r, p, kpm4.ip, resolver, bosh, QTYPE_A, LAN_RTT)
        })?;
        d.at(t + 25 * MS, |s, r| {
            act::tls_session(
                s,
                r,
                p,
                kpm4.ip,
                SocketAddr::new(act::addr_for(bosh, false), 443),
                bosh,
                tls(Shape::Chrome, false, 3_000),
                WAN_RTT,
            )
        })?;
        let scr = "gc.kis.v2.scr.kaspersky-labs.com";
        d.at(t + 6 * 1_000_000_000, |s, r| {
            act::dns_lookup(s, r, p, kpm4.ip, resolver, scr, QTYPE_A, LAN_RTT)
        })?;
        if c == 2 {
            d.at(t + 9 * 1_000_000_000, |s, r| {
                act::dns_lookup(
                    s,
                    r,
                    p,
                    kpm4.ip,
                    resolver,
                    "ds.kaspersky.com",
                    QTYPE_A,
                    LAN_RTT,
                )
            })?;
        }
    }

    // --- ws-bob: a person reading www.kaspersky.com (Firefox, PQ hello).
    let p = inet(&bob);
    let www = "www.kaspersky.com";
    for (i, q) in [QTYPE_A, QTYPE_AAAA, QTYPE_HTTPS].into_iter().enumerate() {
        d.at(10 * MIN + i as u64 * MS, |s, r| {
            act::dns_lookup(s, r, p, bob.ip, resolver, www, q, LAN_RTT)
        })?;
    }
    d.at(10 * MIN + 30 * MS, |s, r| {
        act::tls_session(
            s,
            r,
            p,
            bob.ip,
            SocketAddr::new(act::addr_for(www, false), 443),
            www,
            tls(Shape::Firefox, true, 48_000),
            WAN_RTT,
        )
    })?;
    d.at(11 * MIN + 5 * 1_000_000_000, |s, r| {
        act::tls_session(
            s,
            r,
            p,
            bob.ip,
            SocketAddr::new(act::addr_for(www, false), 443),
            www,
            tls(Shape::Firefox, true, 12_000),
            WAN_RTT,
        )
    })?;
    for (k, name) in ["www.example.com", "en.wikipedia.org"]
        .into_iter()
        .enumerate()
    {
        let t = 25 * MIN + k as u64 * 13 * MIN;
        d.at(t, |s, r| {
            act::dns_lookup(s, r, p, bob.ip, resolver, name, QTYPE_A, LAN_RTT)
        })?;
        d.at(t + 25 * MS, |s, r| {
            act::tls_session(
                s,
                r,
                p,
                bob.ip,
                SocketAddr::new(act::addr_for(name, false), 443),
                name,
                tls(Shape::Firefox, k == 1, 16_000),
                WAN_RTT,
            )
        })?;
    }

    // --- ws-alice: ordinary work.
    let p = inet(&alice);
    for (i, q) in [QTYPE_A, QTYPE_AAAA, QTYPE_HTTPS].into_iter().enumerate() {
        d.at(4 * MIN + i as u64 * MS, |s, r| {
            act::dns_lookup(s, r, p, alice.ip, resolver, "example.org", q, LAN_RTT)
        })?;
    }
    d.at(4 * MIN + 30 * MS, |s, r| {
        act::tls_session(
            s,
            r,
            p,
            alice.ip,
            SocketAddr::new(act::addr_for("example.org", false), 443),
            "example.org",
            tls(Shape::Chrome, true, 9_000),
            WAN_RTT,
        )
    })?;
    let deb = "deb.debian.org";
    d.at(15 * MIN, |s, r| {
        act::dns_lookup(s, r, p, alice.ip, resolver, deb, QTYPE_A, LAN_RTT)
    })?;
    d.at(15 * MIN + 20 * MS, |s, r| {
        act::http_session(
            s,
            r,
            p,
            alice.ip,
            SocketAddr::new(act::addr_for(deb, false), 80),
            "GET",
            "/debian/dists/bookworm/InRelease",
            deb,
            UA_APT,
            0,
            30_000,
            WAN_RTT,
        )
    })?;
    d.at(41 * MIN, |s, r| {
        act::dns_lookup(s, r, p, alice.ip, resolver, "github.com", QTYPE_A, LAN_RTT)
    })?;
    d.at(41 * MIN + 20 * MS, |s, r| {
        act::tls_session(
            s,
            r,
            p,
            alice.ip,
            SocketAddr::new(act::addr_for("github.com", false), 443),
            "github.com",
            tls(Shape::Chrome, true, 90_000),
            WAN_RTT,
        )
    })?;
    let tel = "telemetry.example.org";
    d.at(52 * MIN, |s, r| {
        act::dns_lookup(s, r, p, alice.ip, resolver, tel, QTYPE_A, LAN_RTT)
    })?;
    d.at(52 * MIN + 20 * MS, |s, r| {
        act::http_session(
            s,
            r,
            p,
            alice.ip,
            SocketAddr::new(act::addr_for(tel, false), 80),
            "POST",
            "/v1/submit",
            tel,
            "curl/7.88.1",
            2_500,
            120,
            WAN_RTT,
        )
    })?;
    let pf = Path::ethernet(&alice, files.mac);
    d.at(70 * MIN, |s, r| {
        act::bulk_tcp(
            s,
            r,
            pf,
            alice.ip,
            SocketAddr::new(files.ip, 445),
            6_000,
            50_000,
            LAN_RTT,
        )
    })?;
    d.at(83 * MIN, |s, r| {
        act::dns_lookup(
            s,
            r,
            p,
            alice.ip,
            resolver,
            "www.youtube.com",
            QTYPE_HTTPS,
            LAN_RTT,
        )
    })?;
    d.at(83 * MIN + 20 * MS, |s, r| {
        act::udp443(
            s,
            r,
            p,
            alice.ip,
            act::addr_for("www.youtube.com", false),
            40,
        )
    })?;

    // --- ws-carol (VLAN 20): look-alike names; none may match.
    let p = inet(&carol);
    let la = super::kaspersky::LOOKALIKES;
    for (i, name) in la.iter().enumerate().filter(|(i, _)| *i != 3) {
        let t = 30 * MIN + i as u64 * 90 * 1_000_000_000;
        d.at(t, |s, r| {
            act::dns_lookup(s, r, p, carol.ip, resolver, name, QTYPE_A, LAN_RTT)
        })?;
        let srv = act::addr_for(name, false);
        match i % 3 {
            0 => d.at(t + 25 * MS, |s, r| {
                act::tls_session(
                    s,
                    r,
                    p,
                    carol.ip,
                    SocketAddr::new(srv, 443),
                    name,
                    tls(Shape::Chrome, i == 0, 4_000),
                    WAN_RTT,
                )
            })?,
            1 => d.at(t + 25 * MS, |s, r| {
                act::http_session(
                    s,
                    r,
                    p,
                    carol.ip,
                    SocketAddr::new(srv, 80),
                    "GET",
                    "/bases/av/kdb/i386/kdb-i386-0607g.xml.dif",
                    name,
                    "Mozilla/5.0",
                    0,
                    3_000,
                    WAN_RTT,
                )
            })?,
            _ => {}
        }
    }
    d.at(47 * MIN, |s, r| {
        act::dns_lookup(
            s,
            r,
            p,
            carol.ip,
            resolver,
            "security.debian.org",
            QTYPE_A,
            LAN_RTT,
        )
    })?;

    // --- ws-dave: dual stack; IPv6 lookups and a look-alike over IPv6.
    let p = inet(&dave6);
    let bad6 = "kaspersky-labs.com.attacker.net";
    d.at(57 * MIN, |s, r| {
        act::dns_lookup(s, r, p, dave6.ip, gw6, bad6, QTYPE_AAAA, LAN_RTT)
    })?;
    d.at(57 * MIN + 25 * MS, |s, r| {
        act::tls_session(
            s,
            r,
            p,
            dave6.ip,
            SocketAddr::new(act::addr_for(bad6, true), 443),
            bad6,
            tls(Shape::Firefox, true, 6_000),
            WAN_RTT,
        )
    })?;
    let debw = "www.debian.org";
    d.at(66 * MIN, |s, r| {
        act::dns_lookup(s, r, p, dave6.ip, gw6, debw, QTYPE_AAAA, LAN_RTT)
    })?;
    d.at(66 * MIN + 25 * MS, |s, r| {
        act::tls_session(
            s,
            r,
            p,
            dave6.ip,
            SocketAddr::new(act::addr_for(debw, true), 443),
            debw,
            tls(Shape::Chrome, true, 20_000),
            WAN_RTT,
        )
    })?;
    let p4 = inet(&dave);
    d.at(100 * MIN, |s, r| {
        act::dns_lookup(s, r, p4, dave.ip, resolver, "example.org", QTYPE_A, LAN_RTT)
    })?;

    let pcap = PcapWriter::new(w, LINKTYPE_ETHERNET, TsResolution::Micros)?;
    let mut rec = Recorder::new(pcap, truth, None);
    while d.mixer.step(&mut rec)? {}
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
    Ok(truth.finish("demo", DEMO_SEED, None, info))
}
