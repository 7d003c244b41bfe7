//! The `bulk` scenario for benchmarks: ~400 internal hosts (10.1.0.0/16),
//! mostly TCP bulk transfers and their ACKs (~800-byte average frame),
//! UDP/443 datagrams, 2–5 % DNS (A, AAAA, HTTPS queries and responses), TLS
//! 1.3 hellos in browser shapes (~40 % post-quantum, split over two
//! segments), HTTP/1.1, ~10 % VLAN-tagged hosts, a few look-alike users, a
//! few hosts browsing the vendor site and a sprinkling of hosts running a
//! Kaspersky product.
//!
//! Streams to the writer: at most `GEN_BULK_ACTIVE_SESSIONS` conversations
//! are held at once, each of bounded size, so memory does not grow with the
//! target size. The capture stops before the first packet that would pass
//! the target; the truth counts only what was written.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use super::Error;
use super::activity::{self as act, TlsOpts};
use super::dns::{QTYPE_A, QTYPE_AAAA, QTYPE_HTTPS};
use super::packet::{Link, Vlan, local_mac};
use super::pcap::{LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL2, LINKTYPE_RAW, PcapWriter, TsResolution};
use super::rng::Rng;
use super::session::{Host, Mixer, Path, Recorder, Session};
use super::tls::Shape;
use super::truth::{HostSpec, PcapInfo, Truth, TruthBuilder};
use crate::config::limits::GEN_BULK_ACTIVE_SESSIONS;

/// Internal hosts.
pub const BULK_HOSTS: usize = 400;
/// Capture start: 2025-03-04T09:00:00Z.
pub const BULK_T0_NS: u64 = 1_741_078_800 * 1_000_000_000;

/// Link-layer framing of the capture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkKind {
    Ethernet,
    RawIp,
    Sll2,
}

/// Options of a bulk run.
#[derive(Clone, Copy, Debug)]
pub struct BulkOpts {
    /// Target file size in bytes.
    pub size: u64,
    pub seed: u64,
    pub resolution: TsResolution,
    pub link: LinkKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Ordinary,
    Product,
    Browses,
    Lookalikes,
}

/// Ordinary names (fixed vocabulary keeps the truth's name table bounded).
const ORDINARY: &[&str] = &[
    "example.org",
    "www.example.com",
    "api.example.com",
    "cdn.example.net",
    "static.example.net",
    "deb.debian.org",
    "security.debian.org",
    "www.debian.org",
    "en.wikipedia.org",
    "upload.wikimedia.org",
    "github.com",
    "objects.githubusercontent.com",
    "www.youtube.com",
    "i.ytimg.com",
    "fonts.gstatic.com",
    "www.gstatic.com",
    "login.microsoftonline.com",
    "outlook.office365.com",
    "teams.microsoft.com",
    "update.example-os.net",
    "mirror.example.edu",
    "www.mozilla.org",
    "addons.mozilla.org",
    "crl.example-ca.net",
    "ocsp.example-ca.net",
    "time.example.net",
    "news.example.net",
    "shop.example.com",
    "mail.example.org",
    "docs.example.org",
];
const PRODUCT_TLS: &[&str] = &[
    "s00.upd.kaspersky.com",
    "s03.upd.kaspersky.com",
    "s07.upd.kaspersky.com",
    "s12.upd.kaspersky.com",
    "s19.upd.kaspersky.com",
    "p04.upd.kaspersky.com",
    "dc1.ksn.kaspersky-labs.com",
    "dc1-file.ksn.kaspersky-labs.com",
    "ksn-url-geo.kaspersky-labs.com",
    "ksn-verdict-geo.kaspersky-labs.com",
    "ksn-file.geoksn.kaspersky.com",
    "activation-v2.kaspersky.com",
    "refresh-bkg.activation-v2.kaspersky.com",
    "cm.k.kaspersky-labs.com",
    "touch.kaspersky.com",
];
const PRODUCT_HTTP: &[&str] = &[
    "dnl-01.geo.kaspersky.com",
    "dnl-05.geo.kaspersky.com",
    "dnl-13.geo.kaspersky.com",
    "downloads2.kaspersky-labs.com",
];
const BROWSE: &[&str] = &[
    "www.kaspersky.com",
    "support.kaspersky.com",
    "my.kaspersky.com",
    "securelist.com",
];

struct World {
    hosts: Vec<(Host, Role)>,
    gw_mac: [u8; 6],
    resolver: IpAddr,
    link: LinkKind,
}

impl World {
    fn path(&self, h: &Host) -> Path {
        match self.link {
            LinkKind::Ethernet => Path::ethernet(h, self.gw_mac),
            LinkKind::RawIp => Path {
                c2s: Link::RawIp,
                s2c: Link::RawIp,
                client_mac: None,
                vlan: None,
            },
            LinkKind::Sll2 => {
                let c2s = Link::Sll2 {
                    ifindex: 2,
                    packet_type: 4,
                    addr: h.mac,
                };
                Path {
                    c2s,
                    s2c: c2s.reversed(),
                    client_mac: None,
                    vlan: None,
                }
            }
        }
    }
}

fn browser(rng: &mut Rng) -> Shape {
    if rng.chance(600) {
        Shape::Chrome
    } else {
        Shape::Firefox
    }
}

/// One session for host `hi`, starting at `start`.
fn spawn(
    w: &World,
    rng: &mut Rng,
    hi: usize,
    start: u64,
    force_special: bool,
) -> Result<Session, Error> {
    let mut s = Session::new(start);
    let Some(&(h, role)) = w.hosts.get(hi) else {
        return Ok(s);
    };
    let p = w.path(&h);
    let wan = rng.range(4, 60) * 1_000_000 / 2;
    let lan = 250_000;
    let special = role != Role::Ordinary && (force_special || rng.chance(600));
    let pq = rng.chance(400);
    if special {
        match role {
            Role::Product if rng.chance(250) => {
                let name = *rng
                    .pick(PRODUCT_HTTP)
                    .unwrap_or(&"dnl-01.geo.kaspersky.com");
                act::dns_lookup(&mut s, rng, p, h.ip, w.resolver, name, QTYPE_A, lan)?;
                s.advance(2_000_000);
                let target = format!(
                    "/bases/av/kdb/i386/kdb-i386-06{:02}g.xml.dif",
                    rng.below(30)
                );
                let body = rng.range(4_000, 60_000) as usize;
                act::http_session(
                    &mut s,
                    rng,
                    p,
                    h.ip,
                    SocketAddr::new(act::addr_for(name, false), 80),
                    "GET",
                    &target,
                    name,
                    "KSDE/1.0",
                    0,
                    body,
                    wan,
                )?;
            }
            Role::Product => {
                let name = *rng.pick(PRODUCT_TLS).unwrap_or(&"s00.upd.kaspersky.com");
                act::dns_lookup(&mut s, rng, p, h.ip, w.resolver, name, QTYPE_A, lan)?;
                s.advance(2_000_000);
                let o = TlsOpts {
                    shape: Shape::Agent,
                    post_quantum: pq,
                    split_records: rng.chance(100),
                    c2s_bytes: 500,
                    s2c_bytes: rng.range(1_000, 40_000) as usize,
                };
                act::tls_session(
                    &mut s,
                    rng,
                    p,
                    h.ip,
                    SocketAddr::new(act::addr_for(name, false), 443),
                    name,
                    o,
                    wan,
                )?;
            }
            Role::Browses => {
                let name = *rng.pick(BROWSE).unwrap_or(&"www.kaspersky.com");
                act::dns_lookup(&mut s, rng, p, h.ip, w.resolver, name, QTYPE_A, lan)?;
                s.advance(1_000_000);
                let o = TlsOpts {
                    shape: browser(rng),
                    post_quantum: pq,
                    split_records: false,
                    c2s_bytes: 600,
                    s2c_bytes: rng.range(20_000, 200_000) as usize,
                };
                act::tls_session(
                    &mut s,
                    rng,
                    p,
                    h.ip,
                    SocketAddr::new(act::addr_for(name, false), 443),
                    name,
                    o,
                    wan,
                )?;
            }
            _ => {
                let name = *rng
                    .pick(super::kaspersky::LOOKALIKES)
                    .unwrap_or(&"evilkaspersky.com");
                act::dns_lookup(&mut s, rng, p, h.ip, w.resolver, name, QTYPE_A, lan)?;
                s.advance(1_000_000);
                if rng.chance(500) {
                    let o = TlsOpts {
                        shape: browser(rng),
                        post_quantum: pq,
                        split_records: false,
                        c2s_bytes: 600,
                        s2c_bytes: rng.range(5_000, 50_000) as usize,
                    };
                    act::tls_session(
                        &mut s,
                        rng,
                        p,
                        h.ip,
                        SocketAddr::new(act::addr_for(name, false), 443),
                        name,
                        o,
                        wan,
                    )?;
                } else {
                    let body = rng.range(2_000, 30_000) as usize;
                    act::http_session(
                        &mut s,
                        rng,
                        p,
                        h.ip,
                        SocketAddr::new(act::addr_for(name, false), 80),
                        "GET",
                        "/index.html",
                        name,
                        "Mozilla/5.0",
                        0,
                        body,
                        wan,
                    )?;
                }
            }
        }
        return Ok(s);
    }
    let name = *rng.pick(ORDINARY).unwrap_or(&"example.org");
    let server = act::addr_for(name, false);
    let r = rng.below(1000);
    if r < 330 {
        // A web page: A (+ AAAA, + HTTPS) lookups, then TLS.
        act::dns_lookup(&mut s, rng, p, h.ip, w.resolver, name, QTYPE_A, lan)?;
        if rng.chance(600) {
            act::dns_lookup(&mut s, rng, p, h.ip, w.resolver, name, QTYPE_AAAA, lan)?;
        }
        if rng.chance(500) {
            act::dns_lookup(&mut s, rng, p, h.ip, w.resolver, name, QTYPE_HTTPS, lan)?;
        }
        s.advance(1_000_000);
        let o = TlsOpts {
            shape: browser(rng),
            post_quantum: pq,
            split_records: false,
            c2s_bytes: rng.range(300, 2_000) as usize,
            s2c_bytes: rng.range(5_000, 120_000) as usize,
        };
        act::tls_session(
            &mut s,
            rng,
            p,
            h.ip,
            SocketAddr::new(server, 443),
            name,
            o,
            wan,
        )?;
    } else if r < 480 {
        // A large download, half of the time with a fresh lookup.
        if rng.chance(500) {
            act::dns_lookup(&mut s, rng, p, h.ip, w.resolver, name, QTYPE_A, lan)?;
            s.advance(1_000_000);
        }
        let o = TlsOpts {
            shape: browser(rng),
            post_quantum: pq,
            split_records: false,
            c2s_bytes: 500,
            s2c_bytes: rng.range(100_000, 500_000) as usize,
        };
        act::tls_session(
            &mut s,
            rng,
            p,
            h.ip,
            SocketAddr::new(server, 443),
            name,
            o,
            wan,
        )?;
    } else if r < 580 {
        act::dns_lookup(&mut s, rng, p, h.ip, w.resolver, name, QTYPE_A, lan)?;
        s.advance(1_000_000);
        let (method, up) = if rng.chance(200) {
            ("POST", rng.range(500, 20_000) as usize)
        } else {
            ("GET", 0)
        };
        let target = format!("/files/{}.bin", rng.below(10_000));
        let body = rng.range(5_000, 300_000) as usize;
        act::http_session(
            &mut s,
            rng,
            p,
            h.ip,
            SocketAddr::new(server, 80),
            method,
            &target,
            name,
            "Mozilla/5.0",
            up,
            body,
            wan,
        )?;
    } else if r < 730 {
        act::dns_lookup(&mut s, rng, p, h.ip, w.resolver, name, QTYPE_HTTPS, lan)?;
        act::dns_lookup(&mut s, rng, p, h.ip, w.resolver, name, QTYPE_A, lan)?;
        s.advance(1_000_000);
        let n = rng.range(30, 250) as usize;
        act::udp443(&mut s, rng, p, h.ip, server, n)?;
    } else if r < 900 {
        // Lookups only (page sub-resources, prefetch, background).
        for _ in 0..rng.range(4, 12) {
            let other = *rng.pick(ORDINARY).unwrap_or(&"example.org");
            let q = match rng.below(3) {
                0 => QTYPE_A,
                1 => QTYPE_AAAA,
                _ => QTYPE_HTTPS,
            };
            act::dns_lookup(&mut s, rng, p, h.ip, w.resolver, other, q, lan)?;
            s.advance(rng.range(100_000, 5_000_000));
        }
    } else {
        // Internal file server traffic.
        let srv = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 1, 255, 5)), 445);
        let up = if rng.chance(300) {
            rng.range(50_000, 300_000) as usize
        } else {
            2_000
        };
        let down = rng.range(30_000, 300_000) as usize;
        act::bulk_tcp(&mut s, rng, p, h.ip, srv, up, down, lan)?;
    }
    Ok(s)
}

/// Writes a bulk capture of about `opts.size` bytes and returns its truth.
pub fn generate<W: Write>(w: W, opts: &BulkOpts) -> Result<Truth, Error> {
    let mut rng = Rng::new(opts.seed);
    let gw_mac = local_mac(0x0a01_ff01);
    let mut hosts = Vec::with_capacity(BULK_HOSTS);
    let mut truth = TruthBuilder::new(false);
    for i in 0..BULK_HOSTS {
        let ip = IpAddr::V4(Ipv4Addr::new(10, 1, (i / 200) as u8, (i % 200 + 10) as u8));
        let vlan = if opts.link != LinkKind::Ethernet {
            Vlan::None
        } else if i % 8 == 3 {
            if i % 100 == 43 {
                Vlan::QinQ {
                    outer: 300,
                    inner: 30 + (i % 7) as u16,
                }
            } else {
                Vlan::Tag(100 + (i % 4) as u16)
            }
        } else {
            Vlan::None
        };
        let role = match i % 100 {
            17 => Role::Product,
            41 if i < 200 => Role::Browses,
            66 if i < 200 => Role::Lookalikes,
            _ => Role::Ordinary,
        };
        let h = Host {
            ip,
            mac: local_mac(0x0a01_0000 | i as u32),
            vlan,
        };
        let (label, r) = match role {
            Role::Ordinary => ("ordinary", "ordinary"),
            Role::Product => ("kaspersky_product", "kaspersky_product"),
            Role::Browses => ("browses_vendor_site", "browses_vendor_site"),
            Role::Lookalikes => ("lookalikes", "lookalikes"),
        };
        truth.add_host(HostSpec {
            ip,
            mac: h.mac,
            vlan,
            label: format!("{label}-{i}"),
            role: r,
            product_installed: role == Role::Product,
        });
        hosts.push((h, role));
    }
    let world = World {
        hosts,
        gw_mac,
        resolver: IpAddr::V4(Ipv4Addr::new(10, 1, 255, 53)),
        link: opts.link,
    };
    let linktype = match opts.link {
        LinkKind::Ethernet => LINKTYPE_ETHERNET,
        LinkKind::RawIp => LINKTYPE_RAW,
        LinkKind::Sll2 => LINKTYPE_LINUX_SLL2,
    };
    let pcap = PcapWriter::new(w, linktype, opts.resolution)?;
    let mut rec = Recorder::new(pcap, truth, Some(opts.size));
    // Special hosts ordered so that the first three cover all roles.
    let mut special: Vec<usize> = (0..BULK_HOSTS)
        .filter(|&i| world.hosts.get(i).is_some_and(|h| h.1 != Role::Ordinary))
        .collect();
    special.sort_by_key(|&i| (i / 100, i % 100));
    let mut mixer = Mixer::new();
    let mut now = BULK_T0_NS;
    let mut n: u64 = 0;
    loop {
        while mixer.active() < GEN_BULK_ACTIVE_SESSIONS {
            n += 1;
            // Every 16th session belongs to the hosts with a special role,
            // taken in turn, so even a small capture has each role.
            let forced = n % 16 == 5;
            let hi = if forced {
                special
                    .get((n / 16) as usize % special.len().max(1))
                    .copied()
                    .unwrap_or(0)
            } else {
                rng.below(BULK_HOSTS as u64) as usize
            };
            let mut srng = rng.fork(n);
            now += rng.range(0, 3_000_000);
            let s = spawn(&world, &mut srng, hi, now, forced)?;
            mixer.add(s);
        }
        if !mixer.step(&mut rec)? {
            break;
        }
        // New sessions start no earlier than the last written packet, so
        // the file stays in time order.
        if let Some(ts) = mixer.peek_ts() {
            now = now.max(ts);
        }
        if rec.stopped() {
            break;
        }
    }
    let info = PcapInfo {
        linktype,
        ts_resolution: opts.resolution.as_str(),
        packets: rec.pcap.packets(),
        bytes: rec.pcap.bytes(),
        first_ts_ns: 0,
        last_ts_ns: 0,
    };
    let Recorder { pcap, truth, .. } = rec;
    pcap.finish()?;
    Ok(truth.finish("bulk", opts.seed, Some(opts.size), info))
}
