//! The traffic generator: determinism, the committed demo capture, frame
//! validity (our own checks, and tshark's when installed), and agreement of
//! every capture with its ground-truth file.
//!
//! tshark: tests that use it print a loud NOT RUN notice when it is missing,
//! and fail instead when `PHONEHOME_REQUIRE_TSHARK=1`.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use phonehome::traffic::bulk::{self, BulkOpts, LinkKind};
use phonehome::traffic::demo;
use phonehome::traffic::pcap::TsResolution;
use phonehome::traffic::truth::{NameRecord, Truth};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn gen_demo() -> (Vec<u8>, Truth) {
    let mut out = Vec::new();
    let t = demo::generate(&mut out).expect("demo generates");
    (out, t)
}

fn truth_json(t: &Truth) -> String {
    let mut s = serde_json::to_string_pretty(t).unwrap();
    s.push('\n');
    s
}

fn gen_bulk(size: u64, seed: u64, link: LinkKind) -> (Vec<u8>, Truth) {
    let mut out = Vec::new();
    let opts = BulkOpts {
        size,
        seed,
        resolution: TsResolution::Micros,
        link,
    };
    let t = bulk::generate(&mut out, &opts).expect("bulk generates");
    (out, t)
}

// ---------------------------------------------------------------- pcap view

struct Rec<'a> {
    no: u64,
    ts_ns: u64,
    data: &'a [u8],
}

/// Reads a little-endian pcap written by the generator (checks the header).
fn read_pcap(buf: &[u8]) -> (u32, bool, Vec<Rec<'_>>) {
    let magic = u32::from_le_bytes(buf[0..4].try_into().unwrap());
    let nanos = match magic {
        0xa1b2c3d4 => false,
        0xa1b23c4d => true,
        m => panic!("bad magic {m:#x}"),
    };
    assert_eq!(&buf[4..8], &[2, 0, 4, 0], "version 2.4");
    let linktype = u32::from_le_bytes(buf[20..24].try_into().unwrap());
    let mut off = 24;
    let mut recs = Vec::new();
    while off < buf.len() {
        let h = &buf[off..off + 16];
        let secs = u64::from(u32::from_le_bytes(h[0..4].try_into().unwrap()));
        let frac = u64::from(u32::from_le_bytes(h[4..8].try_into().unwrap()));
        let incl = u32::from_le_bytes(h[8..12].try_into().unwrap()) as usize;
        let orig = u32::from_le_bytes(h[12..16].try_into().unwrap()) as usize;
        assert_eq!(incl, orig, "never truncated");
        assert!(if nanos {
            frac < 1_000_000_000
        } else {
            frac < 1_000_000
        });
        let ts_ns = secs * 1_000_000_000 + if nanos { frac } else { frac * 1000 };
        recs.push(Rec {
            no: recs.len() as u64 + 1,
            ts_ns,
            data: &buf[off + 16..off + 16 + incl],
        });
        off += 16 + incl;
    }
    assert_eq!(off, buf.len(), "no trailing bytes");
    (linktype, nanos, recs)
}

/// Independent RFC 1071 check: the one's-complement sum over data that
/// includes its checksum field must be 0xffff.
fn sums_to_ones(parts: &[&[u8]]) -> bool {
    let mut bytes = Vec::new();
    for p in parts {
        bytes.extend_from_slice(p);
    }
    if bytes.len() % 2 == 1 {
        bytes.push(0);
    }
    let mut sum: u32 = 0;
    for c in bytes.chunks(2) {
        sum += u32::from(c[0]) << 8 | u32::from(c[1]);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum == 0xffff
}

#[derive(Debug, Clone)]
struct Parsed {
    vlans: Vec<u16>,
    arp: bool,
    src: Option<IpAddr>,
    dst: Option<IpAddr>,
    proto: u8,
    sport: u16,
    dport: u16,
    tcp_flags: u8,
    payload: Vec<u8>,
}

/// Parses one frame, asserting lengths and checksums on the way.
fn parse_frame(linktype: u32, f: &[u8]) -> Parsed {
    let mut p = Parsed {
        vlans: vec![],
        arp: false,
        src: None,
        dst: None,
        proto: 0,
        sport: 0,
        dport: 0,
        tcp_flags: 0,
        payload: vec![],
    };
    let (mut et, mut off) = match linktype {
        1 => (u16::from_be_bytes([f[12], f[13]]), 14),
        101 => (if f[0] >> 4 == 4 { 0x0800 } else { 0x86dd }, 0),
        276 => (u16::from_be_bytes([f[0], f[1]]), 20),
        l => panic!("linktype {l}"),
    };
    while et == 0x8100 || et == 0x88a8 {
        p.vlans
            .push(u16::from_be_bytes([f[off], f[off + 1]]) & 0x0fff);
        et = u16::from_be_bytes([f[off + 2], f[off + 3]]);
        off += 4;
    }
    let l3 = &f[off..];
    let (l4, pseudo): (&[u8], Vec<u8>) = match et {
        0x0806 => {
            p.arp = true;
            assert_eq!(&l3[..8], &[0, 1, 8, 0, 6, 4, 0, l3[7]]);
            assert!(f.len() >= 60);
            return p;
        }
        0x0800 => {
            assert_eq!(l3[0], 0x45);
            let total = u16::from_be_bytes([l3[2], l3[3]]) as usize;
            assert_eq!(total, l3.len(), "IPv4 total length = frame rest");
            assert!(sums_to_ones(&[&l3[..20]]), "IPv4 header checksum");
            p.proto = l3[9];
            p.src = Some(IpAddr::from(<[u8; 4]>::try_from(&l3[12..16]).unwrap()));
            p.dst = Some(IpAddr::from(<[u8; 4]>::try_from(&l3[16..20]).unwrap()));
            let l4 = &l3[20..];
            let mut ph = l3[12..20].to_vec();
            ph.extend_from_slice(&[0, p.proto]);
            ph.extend_from_slice(&(l4.len() as u16).to_be_bytes());
            (l4, ph)
        }
        0x86dd => {
            assert_eq!(l3[0] >> 4, 6);
            let plen = u16::from_be_bytes([l3[4], l3[5]]) as usize;
            assert_eq!(plen + 40, l3.len(), "IPv6 payload length");
            p.proto = l3[6];
            p.src = Some(IpAddr::from(<[u8; 16]>::try_from(&l3[8..24]).unwrap()));
            p.dst = Some(IpAddr::from(<[u8; 16]>::try_from(&l3[24..40]).unwrap()));
            let l4 = &l3[40..];
            let mut ph = l3[8..40].to_vec();
            ph.extend_from_slice(&(l4.len() as u32).to_be_bytes());
            ph.extend_from_slice(&[0, 0, 0, p.proto]);
            (l4, ph)
        }
        e => panic!("ethertype {e:#x}"),
    };
    assert!(
        sums_to_ones(&[&pseudo, l4]),
        "transport checksum (proto {})",
        p.proto
    );
    p.sport = u16::from_be_bytes([l4[0], l4[1]]);
    p.dport = u16::from_be_bytes([l4[2], l4[3]]);
    match p.proto {
        17 => {
            assert_eq!(
                u16::from_be_bytes([l4[4], l4[5]]) as usize,
                l4.len(),
                "UDP length"
            );
            assert_ne!(&l4[6..8], &[0, 0], "UDP checksum present");
            p.payload = l4[8..].to_vec();
        }
        6 => {
            let hl = (l4[12] >> 4) as usize * 4;
            assert!(hl >= 20);
            p.tcp_flags = l4[13];
            p.payload = l4[hl..].to_vec();
        }
        x => panic!("proto {x}"),
    }
    p
}

/// Validates every frame against our own rules and the truth's counts.
fn validate(buf: &[u8], t: &Truth) -> Vec<Parsed> {
    let (linktype, _nanos, recs) = read_pcap(buf);
    assert_eq!(linktype, t.pcap.linktype);
    assert_eq!(recs.len() as u64, t.pcap.packets);
    assert_eq!(buf.len() as u64, t.pcap.bytes);
    let mut last = 0;
    let (mut vlan, mut qinq, mut v6, mut arp, mut tcp, mut udp) = (0, 0, 0, 0, 0, 0);
    let mut out = Vec::new();
    for r in &recs {
        assert!(r.ts_ns >= last, "packet {} goes back in time", r.no);
        last = r.ts_ns;
        let p = parse_frame(linktype, r.data);
        vlan += u64::from(!p.vlans.is_empty());
        qinq += u64::from(p.vlans.len() == 2);
        v6 += u64::from(matches!(p.src, Some(IpAddr::V6(_))));
        arp += u64::from(p.arp);
        tcp += u64::from(p.proto == 6);
        udp += u64::from(p.proto == 17);
        out.push(p);
    }
    let c = &t.counts;
    assert_eq!(
        (vlan, qinq, v6, arp, tcp, udp),
        (
            c.frames_vlan_tagged,
            c.frames_qinq,
            c.frames_ipv6,
            c.frames_arp,
            c.tcp_segments,
            c.udp_datagrams
        )
    );
    assert_eq!(recs.first().map(|r| r.ts_ns), Some(t.pcap.first_ts_ns));
    assert_eq!(recs.last().map(|r| r.ts_ns), Some(t.pcap.last_ts_ns));
    out
}

// ------------------------------------------------------------ determinism

#[test]
fn demo_is_deterministic() {
    let (a, ta) = gen_demo();
    let (b, tb) = gen_demo();
    assert_eq!(a, b);
    assert_eq!(truth_json(&ta), truth_json(&tb));
    assert!(a.len() < 1_000_000, "demo stays small: {} bytes", a.len());
    assert!((300..5000).contains(&ta.pcap.packets));
}

#[test]
fn committed_demo_equals_fresh_generation() {
    let (fresh, t) = gen_demo();
    let committed = std::fs::read(data("demo.pcap")).expect("tests/data/demo.pcap is committed");
    assert!(
        committed == fresh,
        "tests/data/demo.pcap is stale: regenerate with `cargo run --bin phonehome-gen -- demo --out tests/data/demo.pcap --truth tests/data/demo.truth.json`"
    );
    let committed_truth =
        std::fs::read_to_string(data("demo.truth.json")).expect("demo.truth.json is committed");
    assert!(
        committed_truth == truth_json(&t),
        "tests/data/demo.truth.json is stale: regenerate (see above)"
    );
}

#[test]
fn bulk_is_deterministic_and_meets_its_size() {
    let size = 3 << 20;
    let (a, ta) = gen_bulk(size, 7, LinkKind::Ethernet);
    let (b, tb) = gen_bulk(size, 7, LinkKind::Ethernet);
    let (c, _) = gen_bulk(size, 8, LinkKind::Ethernet);
    assert_eq!(a, b);
    assert_eq!(truth_json(&ta), truth_json(&tb));
    assert_ne!(a, c, "the seed matters");
    assert!(
        a.len() as u64 <= size && a.len() as u64 > size - 1600,
        "size {} for target {size}",
        a.len()
    );
    // A prefix property: a bigger target extends the same stream.
    let (big, _) = gen_bulk(size + (1 << 20), 7, LinkKind::Ethernet);
    assert_eq!(&big[..a.len()], &a[..]);
}

// --------------------------------------------------------------- validity

#[test]
fn demo_frames_are_valid_and_match_counts() {
    let (buf, t) = gen_demo();
    let frames = validate(&buf, &t);
    let c = &t.counts;
    assert!(c.frames_vlan_tagged > 0 && c.frames_qinq > 0 && c.frames_ipv6 > 0 && c.frames_arp > 0);
    // DNS responses: UDP from port 53 with QR set.
    let responses = frames
        .iter()
        .filter(|p| p.proto == 17 && p.sport == 53 && p.payload[2] & 0x80 != 0)
        .count() as u64;
    assert_eq!(responses, c.dns_responses);
}

#[test]
fn bulk_frames_are_valid_and_shaped_as_specified() {
    let (buf, t) = gen_bulk(8 << 20, 1, LinkKind::Ethernet);
    let frames = validate(&buf, &t);
    let c = &t.counts;
    let n = frames.len() as f64;
    let avg = (buf.len() as f64 - 24.0) / n - 16.0;
    assert!((650.0..1000.0).contains(&avg), "average frame {avg}");
    let dns = (c.dns_queries + c.dns_responses) as f64 / n;
    assert!((0.015..0.06).contains(&dns), "DNS share {dns}");
    let vlan = c.frames_vlan_tagged as f64 / n;
    assert!((0.04..0.2).contains(&vlan), "VLAN share {vlan}");
    // ~40 % post-quantum: within 3.5 standard deviations of a binomial.
    let hellos = c.tls_client_hellos as f64;
    let pq = c.tls_hellos_post_quantum as f64 / hellos;
    let tol = 3.5 * (0.24 / hellos).sqrt();
    assert!(
        hellos >= 20.0 && (pq - 0.4).abs() < tol,
        "PQ share {pq} of {hellos}"
    );
    assert!(c.alerts > 0 && c.lookalike_names > 0 && c.http_requests > 0 && c.udp_datagrams > 0);
    assert!(c.hosts_high > 0 && c.hosts_low > 0);
    assert_eq!(t.hosts.len(), bulk::BULK_HOSTS);
}

#[test]
fn other_link_types_are_valid() {
    for link in [LinkKind::RawIp, LinkKind::Sll2] {
        let (buf, t) = gen_bulk(1 << 20, 3, link);
        validate(&buf, &t);
        assert_eq!(t.counts.frames_vlan_tagged, 0);
    }
}

// ------------------------------------------------- names against packets

fn flow_payloads(frames: &[Parsed], r: &NameRecord) -> Vec<(u64, Vec<u8>)> {
    (r.first_packet..=r.packet)
        .filter_map(|no| {
            let p = &frames[(no - 1) as usize];
            let c2s = p.src == Some(r.client_ip)
                && p.sport == r.client_port
                && p.dst == Some(r.server_ip)
                && p.dport == r.server_port;
            (c2s && !p.payload.is_empty()).then(|| (no, p.payload.clone()))
        })
        .collect()
}

/// Handshake bytes of a run of TLS records, and how many records.
fn defragment(stream: &[u8]) -> (Vec<u8>, usize) {
    let mut hs = Vec::new();
    let mut n = 0;
    let mut p = stream;
    while p.len() >= 5 {
        assert_eq!(p[0], 22, "handshake record");
        let len = u16::from_be_bytes([p[3], p[4]]) as usize;
        hs.extend_from_slice(&p[5..5 + len]);
        p = &p[5 + len..];
        n += 1;
    }
    assert!(p.is_empty(), "records end with the hello");
    (hs, n)
}

fn check_names_against_packets(buf: &[u8], t: &Truth) {
    use tls_parser::{
        TlsExtension, TlsMessage, TlsMessageHandshake, parse_tls_extensions,
        parse_tls_message_handshake,
    };
    let frames = validate(buf, t);
    let names = t.names.as_ref().expect("demo lists names");
    assert_eq!(names.len() as u64, t.counts.names);
    for r in names {
        let segs = flow_payloads(&frames, r);
        assert_eq!(
            segs.last().map(|s| s.0),
            Some(r.packet),
            "{} ends at its packet",
            r.name
        );
        match r.protocol {
            "dns" => {
                let msg = domain::base::Message::from_octets(segs[0].1.as_slice()).unwrap();
                assert!(!msg.header().qr());
                let q = msg.sole_question().unwrap();
                assert_eq!(q.qname().to_string(), r.name);
                assert_eq!(q.qtype().to_int(), r.qtype.unwrap());
            }
            "tls" => {
                let info = r.tls.unwrap();
                let stream: Vec<u8> = segs.iter().flat_map(|s| s.1.clone()).collect();
                assert_eq!(segs.len(), info.segments as usize, "{}: segments", r.name);
                assert_eq!(segs.first().map(|s| s.0), Some(r.first_packet));
                let (hs, records) = defragment(&stream);
                assert_eq!(records, info.records as usize);
                let (rest, msg) = parse_tls_message_handshake(&hs).unwrap();
                assert!(rest.is_empty());
                let TlsMessage::Handshake(TlsMessageHandshake::ClientHello(ch)) = msg else {
                    panic!("not a hello")
                };
                let (_, exts) = parse_tls_extensions(ch.ext.unwrap()).unwrap();
                let mut sni = None;
                let mut pq = false;
                let mut ech = false;
                for e in exts {
                    match e {
                        TlsExtension::SNI(l) => sni = Some(l[0].1.to_vec()),
                        TlsExtension::KeyShare(raw) => {
                            pq = raw.windows(4).any(|w| w == [0x11, 0xec, 0x04, 0xc0])
                        }
                        TlsExtension::Unknown(ty, _) if ty.0 == 0xfe0d => ech = true,
                        _ => {}
                    }
                }
                assert_eq!(sni.as_deref(), Some(r.name.as_bytes()));
                assert_eq!(
                    pq, info.post_quantum,
                    "{}: 1,216-byte X25519MLKEM768 share",
                    r.name
                );
                assert_eq!(ech, info.ech);
                if records == 2 {
                    // The record boundary cuts the name itself.
                    let first_len = u16::from_be_bytes([stream[3], stream[4]]) as usize;
                    let pos = hs
                        .windows(r.name.len())
                        .position(|w| w == r.name.as_bytes())
                        .unwrap();
                    assert!(pos < first_len && first_len < pos + r.name.len());
                }
            }
            "http" => {
                let head =
                    String::from_utf8(segs.iter().flat_map(|s| s.1.clone()).collect()).unwrap();
                let method = r.method.unwrap();
                assert!(head.starts_with(&format!("{method} ")), "{head}");
                assert!(head.ends_with("\r\n\r\n"));
                let host_line = head.lines().find_map(|l| l.strip_prefix("Host: ")).unwrap();
                let host = if method == "CONNECT" {
                    host_line.strip_suffix(":443").unwrap()
                } else {
                    host_line
                };
                assert_eq!(host, r.name);
            }
            p => panic!("protocol {p}"),
        }
        // MAC and VLAN of the client's frames.
        let p = &frames[(r.packet - 1) as usize];
        assert_eq!(p.vlans.first().copied(), r.vlan);
    }
}

#[test]
fn demo_names_are_in_the_packets_the_truth_says() {
    let (buf, t) = gen_demo();
    check_names_against_packets(&buf, &t);
}

#[test]
fn demo_has_the_required_cases() {
    let (_, t) = gen_demo();
    let names = t.names.as_ref().unwrap();
    let c = &t.counts;
    // A post-quantum hello over two TCP segments, from a product host.
    assert!(names.iter().any(|r| r.kaspersky
        && r.tls.is_some_and(|i| i.post_quantum && i.segments == 2)
        && r.first_packet < r.packet));
    // A hello fragmented over two TLS records.
    assert!(
        names
            .iter()
            .any(|r| r.kaspersky && r.tls.is_some_and(|i| i.records == 2))
    );
    // CONNECT through the proxy, TLS inside the tunnel, absolute-form GET.
    assert!(
        names
            .iter()
            .any(|r| r.method == Some("CONNECT") && r.via_proxy && r.server_port == 3128)
    );
    assert!(names.iter().any(|r| r.protocol == "tls" && r.via_proxy));
    assert!(
        names
            .iter()
            .any(|r| r.method == Some("GET") && r.name.starts_with("dnl-") && r.kaspersky)
    );
    assert!(names.iter().any(|r| r.method == Some("POST")));
    // DNS types A, AAAA, HTTPS; fallback to a public resolver.
    for q in [1u16, 28, 65] {
        assert!(
            c.dns_queries_by_qtype.get(&q).copied().unwrap_or(0) > 0,
            "qtype {q}"
        );
    }
    assert!(
        names
            .iter()
            .any(|r| r.protocol == "dns" && r.server_ip.to_string() == "8.8.8.8" && r.kaspersky)
    );
    // Every look-alike is emitted and none matches.
    for l in phonehome::traffic::kaspersky::LOOKALIKES {
        assert!(
            names
                .iter()
                .any(|r| r.name == *l && r.lookalike && !r.kaspersky),
            "{l}"
        );
    }
    // Repeats over the span: product names seen over more than an hour.
    let kes1: Vec<u64> = names
        .iter()
        .filter(|r| r.client_ip.to_string() == "10.0.0.21")
        .map(|r| r.ts_ns)
        .collect();
    assert!(kes1.iter().max().unwrap() - kes1.iter().min().unwrap() > 3_600_000_000_000);
    // Counts add up.
    assert_eq!(
        c.names,
        c.dns_queries + c.tls_client_hellos + c.http_requests
    );
    assert_eq!(
        c.alerts,
        names.iter().filter(|r| r.kaspersky).count() as u64
    );
    assert_eq!(c.alerts, c.alerts_dns + c.alerts_tls + c.alerts_http);
    assert_eq!(
        c.dns_answer_records,
        t.dns_answers.as_ref().unwrap().len() as u64
    );
}

#[test]
fn demo_host_expectations() {
    let (_, t) = gen_demo();
    let by_label: BTreeMap<&str, &str> = t
        .hosts
        .iter()
        .map(|h| (h.label.as_str(), h.expected_confidence))
        .collect();
    assert_eq!(by_label["kes-01"], "high");
    assert_eq!(by_label["kes-02"], "high");
    assert_eq!(by_label["kes-03"], "high");
    assert_eq!(by_label["kpm-04"], "medium");
    assert_eq!(
        by_label["ws-bob"], "low",
        "browsing the vendor site stays low"
    );
    for l in [
        "ws-alice",
        "ws-carol",
        "ws-dave",
        "ws-dave-v6",
        "gateway",
        "proxy",
        "files",
        "printer",
    ] {
        assert_eq!(by_label[l], "none", "{l}");
    }
    for h in &t.hosts {
        assert_eq!(
            h.product_installed,
            matches!(h.expected_confidence, "high" | "medium"),
            "{}",
            h.label
        );
    }
}

// -------------------------------------------- truth vs. the research table

/// The research table the signature pack is built from: the repository's
/// copy (signatures/research/kaspersky/domains.tsv), or PHONEHOME_DOMAINS_TSV.
fn research_tsv() -> String {
    let p = std::env::var("PHONEHOME_DOMAINS_TSV")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("signatures/research/kaspersky/domains.tsv")
        });
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
}

#[test]
fn expected_rules_follow_the_research_table() {
    let tsv = research_tsv();
    let rows: Vec<(String, String, String)> = tsv
        .lines()
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[0].to_string(), f[1].to_string(), f[2].to_string())
        })
        .collect();
    assert_eq!(
        rows.len(),
        phonehome::traffic::kaspersky::ROWS.len(),
        "embedded table has every row"
    );
    // Independent most-specific match: exact, else longest wildcard suffix.
    let classify = |name: &str| -> Option<&(String, String, String)> {
        let n = name.to_ascii_lowercase();
        let n = n.trim_end_matches('.');
        rows.iter().find(|r| r.0 == n).or_else(|| {
            rows.iter()
                .filter(|r| r.0.starts_with("*.") && n.ends_with(&r.0[1..]))
                .max_by_key(|r| r.0.len())
        })
    };
    let (_, demo_t) = gen_demo();
    let (_, bulk_t) = gen_bulk(4 << 20, 5, LinkKind::Ethernet);
    let mut seen = BTreeSet::new();
    for t in [&demo_t, &bulk_t] {
        for n in &t.name_totals {
            let want = classify(&n.name);
            let got = n.expected.as_ref().map(|e| {
                (
                    e.pattern.to_string(),
                    e.category.to_string(),
                    e.confidence.as_str().to_string(),
                )
            });
            assert_eq!(got.as_ref(), want, "{}", n.name);
            assert_eq!(n.kaspersky, want.is_some());
            if n.lookalike {
                assert!(want.is_none(), "look-alike {} must not match", n.name);
            }
            if let Some(w) = want {
                seen.insert(w.2.clone());
            }
        }
    }
    assert_eq!(
        seen,
        ["high", "low", "medium"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    );
}

// ------------------------------------------------------------------ tshark

fn tshark_available(test: &str) -> bool {
    let ok = Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        if std::env::var("PHONEHOME_REQUIRE_TSHARK").as_deref() == Ok("1") {
            panic!("{test}: tshark not found and PHONEHOME_REQUIRE_TSHARK=1");
        }
        eprintln!("\n!!! NOT RUN: {test}: tshark not installed (apt-get install -y tshark) !!!\n");
    }
    ok
}

fn tshark(file: &Path, args: &[&str]) -> String {
    let out = Command::new("tshark")
        .arg("-n")
        .arg("-r")
        .arg(file)
        .args(args)
        .output()
        .expect("tshark runs");
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// (frame, protocol, name) as tshark sees them.
fn tshark_names(file: &Path) -> Vec<(u64, String, String)> {
    let out = tshark(
        file,
        &[
            // Report an HTTP request where its header block ends (where the
            // name is complete), not where its body ends.
            "-o",
            "http.desegment_body:FALSE",
            "-Y",
            "(dns && dns.flags.response == 0) || tls.handshake.type == 1 || http.request",
            "-T",
            "fields",
            "-e",
            "frame.number",
            "-e",
            "dns.qry.name",
            "-e",
            "tls.handshake.extensions_server_name",
            "-e",
            "http.host",
        ],
    );
    let mut v = Vec::new();
    for line in out.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let no: u64 = f[0].parse().unwrap();
        for (i, proto) in [(1, "dns"), (2, "tls"), (3, "http")] {
            if let Some(name) = f.get(i).filter(|s| !s.is_empty()) {
                let name = if proto == "http" {
                    name.strip_suffix(":443").unwrap_or(name)
                } else {
                    name
                };
                v.push((no, proto.to_string(), name.to_string()));
            }
        }
    }
    v.sort();
    v
}

fn write_tmp(name: &str, bytes: &[u8]) -> PathBuf {
    let p = std::env::temp_dir().join(format!("phonehome-gen-{}-{name}", std::process::id()));
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn tshark_sees_exactly_the_demo_truth() {
    if !tshark_available("tshark_sees_exactly_the_demo_truth") {
        return;
    }
    let (buf, t) = gen_demo();
    let file = write_tmp("demo.pcap", &buf);
    let got = tshark_names(&file);
    let mut want: Vec<(u64, String, String)> = t
        .names
        .as_ref()
        .unwrap()
        .iter()
        .map(|r| (r.packet, r.protocol.to_string(), r.name.clone()))
        .collect();
    want.sort();
    assert_eq!(got, want);
    // tshark finds no bad checksum, malformed packet or warning.
    let bad = tshark(
        &file,
        &[
            "-o",
            "ip.check_checksum:TRUE",
            "-o",
            "tcp.check_checksum:TRUE",
            "-o",
            "udp.check_checksum:TRUE",
            "-Y",
            "_ws.malformed || _ws.expert.severity >= warning || ip.checksum.status == 0 || tcp.checksum.status == 0 || udp.checksum.status == 0",
        ],
    );
    assert!(bad.trim().is_empty(), "tshark complaints:\n{bad}");
    // DNS answers as tshark reads them.
    let answers = tshark(
        &file,
        &[
            "-Y",
            "dns.flags.response == 1",
            "-T",
            "fields",
            "-e",
            "dns.a",
            "-e",
            "dns.aaaa",
        ],
    );
    let n: usize = answers
        .lines()
        .flat_map(|l| l.split(['\t', ',']))
        .filter(|s| !s.is_empty())
        .count();
    assert_eq!(n as u64, t.counts.dns_answer_records);
    let _ = std::fs::remove_file(file);
}

#[test]
fn tshark_counts_match_bulk_truth() {
    if !tshark_available("tshark_counts_match_bulk_truth") {
        return;
    }
    let (buf, t) = gen_bulk(3 << 20, 11, LinkKind::Ethernet);
    let file = write_tmp("bulk.pcap", &buf);
    let got = tshark_names(&file);
    let count = |p: &str| got.iter().filter(|g| g.1 == p).count() as u64;
    assert_eq!(count("dns"), t.counts.dns_queries);
    assert_eq!(count("tls"), t.counts.tls_client_hellos);
    assert_eq!(count("http"), t.counts.http_requests);
    let mut per_name: BTreeMap<(String, String), u64> = BTreeMap::new();
    for (_, p, n) in &got {
        *per_name.entry((p.clone(), n.clone())).or_default() += 1;
    }
    let want: BTreeMap<(String, String), u64> = t
        .name_totals
        .iter()
        .map(|n| ((n.protocol.to_string(), n.name.clone()), n.count))
        .collect();
    assert_eq!(per_name, want);
    let _ = std::fs::remove_file(file);
}
