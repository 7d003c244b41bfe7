//! `decode` over every packet of every capture in tests/corpus/pcaps (real
//! files from Zeek, Suricata, nDPI, tcpdump and pcap-parser, fuzzed and
//! truncated ones included), checked against:
//!
//! - the tshark oracle (expected/*.json): every frame that carries a DNS
//!   query, TLS ClientHello, HTTP request or QUIC Initial decodes to the
//!   oracle's innermost addresses and ports (tunnels unwrapped), unless the
//!   file's MANIFEST tags explain why not (IP fragments, which `decode`
//!   leaves to the reassembler; fuzzed length fields);
//! - tunnel frames the oracle names nothing in, read here with tshark's
//!   dissection written down in [`TUNNEL_FRAMES`];
//! - an independent reading of plain IPv4/UDP frames written here from
//!   RFC 791/768 (not with `etherparse`): each must decode with the same
//!   addresses, ports and payload length;
//! - MANIFEST tags: fragment files give `ip_fragment`, tunnel files record
//!   their tunnel kind (`mpls`, `gre`, `erspan*`, `vxlan`, ...).
//!
//! Run with `--nocapture` to see the per-file and per-label breakdown.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use pcap_parser::pcapng::Block;
use pcap_parser::{PcapBlockOwned, PcapError, create_reader};
use phonehome::capture::LinkType;
use phonehome::decode::{DecodeError, Decoded, L4, SUPPORTED_LINKTYPES, TunnelKind, decode};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

/// One MANIFEST.tsv row.
struct Entry {
    file: String,
    tags: BTreeSet<String>,
    packets: usize,
}

fn manifest() -> Vec<Entry> {
    let text = std::fs::read_to_string(corpus().join("MANIFEST.tsv")).expect("MANIFEST.tsv");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split('\t').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("MANIFEST has no column {name}"))
    };
    let (file, tags, packets) = (col("file"), col("tags"), col("packets"));
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            Entry {
                file: f[file].to_string(),
                tags: f[tags].split(',').map(str::to_string).collect(),
                packets: f[packets].parse().expect("packets column"),
            }
        })
        .collect()
}

/// Every packet of a pcap or pcapng file as (link type, captured bytes),
/// read with `pcap-parser` directly. Returns early (keeping what was read)
/// if the file is damaged.
fn read_packets(path: &Path) -> Vec<(LinkType, Vec<u8>)> {
    let bytes = std::fs::read(path).expect("read capture");
    // The whole file fits in the buffer, so a refill is only needed at a
    // damaged end.
    let capacity = bytes.len().max(65536) + 1;
    let mut reader = create_reader(capacity, &bytes[..]).expect("pcap/pcapng header");
    let mut out = Vec::new();
    let mut legacy_linktype = None;
    let mut interfaces: Vec<LinkType> = Vec::new();
    let linktype = |n: i32| LinkType(u32::try_from(n).expect("linktype >= 0"));
    loop {
        match reader.next() {
            Ok((offset, block)) => {
                match block {
                    PcapBlockOwned::LegacyHeader(h) => {
                        legacy_linktype = Some(linktype(h.network.0))
                    }
                    PcapBlockOwned::Legacy(b) => {
                        let len = (b.caplen as usize).min(b.data.len());
                        out.push((
                            legacy_linktype.expect("header first"),
                            b.data[..len].to_vec(),
                        ));
                    }
                    PcapBlockOwned::NG(Block::SectionHeader(_)) => interfaces.clear(),
                    PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                        interfaces.push(linktype(idb.linktype.0));
                    }
                    PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                        // EPB data includes padding to 32 bits: cut to caplen.
                        let len = (epb.caplen as usize).min(epb.data.len());
                        let lt = interfaces[epb.if_id as usize];
                        out.push((lt, epb.data[..len].to_vec()));
                    }
                    PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                        let len = (spb.origlen as usize).min(spb.data.len());
                        out.push((interfaces[0], spb.data[..len].to_vec()));
                    }
                    PcapBlockOwned::NG(_) => {}
                }
                reader.consume(offset);
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => {
                if reader.reader_exhausted() || reader.refill().is_err() {
                    break;
                }
            }
            Err(e) => {
                eprintln!("{}: stops at damage: {e:?}", path.display());
                break;
            }
        }
    }
    out
}

/// What a decoded frame said, or why it was not decoded.
type Outcome = Result<(L4Kind, IpAddr, IpAddr, u16, u16, usize), DecodeError>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum L4Kind {
    Udp,
    Tcp,
}

fn outcome(d: &Decoded<'_>) -> (L4Kind, IpAddr, IpAddr, u16, u16, usize) {
    let kind = match d.l4 {
        L4::Udp => L4Kind::Udp,
        L4::Tcp(_) => L4Kind::Tcp,
    };
    (
        kind,
        d.src_ip,
        d.dst_ip,
        d.src_port,
        d.dst_port,
        d.payload.len(),
    )
}

/// Independent reading of a plain IPv4/UDP frame (no VLAN, no options
/// beyond IHL, not a fragment, fully captured, consistent UDP length) for
/// the link types that carry it directly. `None` if the frame is not one.
/// Returns (src, dst, sport, dport, UDP payload length).
fn plain_ipv4_udp(lt: LinkType, f: &[u8]) -> Option<(Ipv4Addr, Ipv4Addr, u16, u16, usize)> {
    let be16 = |b: &[u8], at: usize| Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]));
    let ip_at = match lt.0 {
        1 if be16(f, 12)? == 0x0800 => 14,
        113 if be16(f, 14)? == 0x0800 => 16,
        276 if be16(f, 0)? == 0x0800 => 20,
        0 if f.get(..4)? == [2, 0, 0, 0] || f.get(..4)? == [0, 0, 0, 2] => 4,
        108 if f.get(..4)? == [0, 0, 0, 2] => 4,
        101 | 12 | 14 | 228 => 0,
        _ => return None,
    };
    let ip = f.get(ip_at..)?;
    let (version, ihl) = (ip.first()? >> 4, usize::from(ip.first()? & 0x0f) * 4);
    let total = usize::from(be16(ip, 2)?);
    let frag = be16(ip, 6)? & 0x3fff; // MF + offset
    if version != 4 || ihl < 20 || total < ihl + 8 || total > ip.len() || frag != 0 {
        return None;
    }
    if *ip.get(9)? != 17 {
        return None;
    }
    let udp = ip.get(ihl..total)?;
    // UDP tunnel ports (VXLAN, Geneve, Teredo, GTP-U, MPLS-in-UDP): `decode`
    // unwraps these; the oracle and TUNNEL_FRAMES check what is inside.
    let ports = [be16(udp, 0)?, be16(udp, 2)?];
    if ports
        .iter()
        .any(|p| [4789, 6081, 3544, 2152, 6635].contains(p))
    {
        return None;
    }
    let udp_len = usize::from(be16(udp, 4)?);
    if udp_len < 8 || udp_len > udp.len() {
        return None;
    }
    let addr = |at: usize| {
        Some(Ipv4Addr::new(
            *ip.get(at)?,
            ip[at + 1],
            ip[at + 2],
            ip[at + 3],
        ))
    };
    Some((
        addr(12)?,
        addr(16)?,
        be16(udp, 0)?,
        be16(udp, 2)?,
        udp_len - 8,
    ))
}

/// One thing the oracle saw: which frames, what transport, which tuple.
struct OracleItem {
    what: &'static str,
    kind: L4Kind,
    src: IpAddr,
    dst: IpAddr,
    sport: Option<u16>,
    dport: Option<u16>,
    frames: Vec<usize>,
}

fn oracle(file: &str) -> Vec<OracleItem> {
    let path = corpus().join("expected").join(format!("{file}.json"));
    let text = std::fs::read_to_string(&path).expect("oracle json");
    let json: serde_json::Value = serde_json::from_str(&text).expect("oracle parses");
    let mut items = Vec::new();
    for (key, kind) in [
        ("dns_queries", None),
        ("tls_sni", Some(L4Kind::Tcp)),
        ("http_host", Some(L4Kind::Tcp)),
        ("quic_sni", Some(L4Kind::Udp)),
    ] {
        for q in json[key].as_array().expect("oracle list") {
            let ip = |k: &str| q[k].as_str().expect("ip").parse::<IpAddr>().expect("ip");
            let port = |k: &str| q[k].as_u64().map(|p| u16::try_from(p).expect("port"));
            let kind = match (key, kind) {
                // HTTP without a TCP port is SSDP/HTTPU over UDP.
                ("http_host", _) if port("dport").is_none() => L4Kind::Udp,
                (_, Some(kind)) => kind,
                _ if q["transport"].as_str() == Some("tcp") => L4Kind::Tcp,
                _ => L4Kind::Udp,
            };
            items.push(OracleItem {
                what: match key {
                    "dns_queries" => "dns",
                    "tls_sni" => "tls",
                    "http_host" => "http",
                    _ => "quic",
                },
                kind,
                src: ip("src"),
                dst: ip("dst"),
                sport: port("sport"),
                dport: port("dport"),
                frames: q["frames"]
                    .as_array()
                    .expect("frames")
                    .iter()
                    .map(|n| n.as_u64().expect("frame number") as usize)
                    .collect(),
            });
        }
    }
    items
}

/// Labels that a file's MANIFEST tags explain: the oracle's frames may
/// legitimately end in them.
fn excused(tags: &BTreeSet<String>, e: DecodeError) -> bool {
    let has = |t: &str| tags.contains(t);
    match e {
        // `decode` hands fragments to the reassembler (flow::defrag); the
        // corpus_oracle test checks the names behind them.
        DecodeError::IpFragment => has("ipv4-fragments") || has("ipv6-fragments"),
        // Fuzzed files hold packets whose lengths lie (an IP or TCP header
        // longer than the packet). tshark dissects them anyway; `decode`
        // counts them as malformed, as the receiving host's stack would
        // drop them. (A UDP length beyond the IP payload is decoded, with
        // the `udp_length_overrun` anomaly.)
        DecodeError::MalformedIp | DecodeError::MalformedUdp | DecodeError::MalformedTcp => {
            has("fuzzed")
        }
        _ => false,
    }
}

/// Tunnel kinds a MANIFEST tag promises: at least one frame of the file
/// must be unwrapped through one of them.
fn tag_kinds(tag: &str) -> Option<&'static [TunnelKind]> {
    Some(match tag {
        "gre" => &[
            TunnelKind::Gre,
            TunnelKind::Erspan1,
            TunnelKind::Erspan2,
            TunnelKind::Erspan3,
        ],
        "erspan" => &[
            TunnelKind::Erspan1,
            TunnelKind::Erspan2,
            TunnelKind::Erspan3,
        ],
        "vxlan" => &[TunnelKind::Vxlan],
        "geneve" => &[TunnelKind::Geneve],
        "teredo" => &[TunnelKind::Teredo],
        "gtp" => &[TunnelKind::GtpU],
        "mpls" => &[TunnelKind::Mpls],
        "pppoe" => &[TunnelKind::Pppoe],
        // The corpus tags every tunnel that carries IP this way (tshark's
        // "ip" under "ip"/"udp"/"gre").
        "ip-in-ip-tunnel" => &[
            TunnelKind::IpIp,
            TunnelKind::SixIn4,
            TunnelKind::Teredo,
            TunnelKind::Gre,
            TunnelKind::Vxlan,
            TunnelKind::Geneve,
            TunnelKind::GtpU,
        ],
        _ => return None,
    })
}

/// Frames of tunnel captures whose oracle lists no name (ICMP, ARP, SIP
/// inside), as tshark 4.0 dissects them: the innermost outcome `decode`
/// must give, and for UDP/TCP the tunnel layers and outermost id.
/// (file, frame, innermost "src sport dst dport" or error label, layers, id)
type TunnelFrame = (
    &'static str,
    usize,
    &'static str,
    &'static [TunnelKind],
    Option<u32>,
);
const TUNNEL_FRAMES: &[TunnelFrame] = &[
    // eth:vlan:ip:gre:ppp:ip:udp:sip; enhanced GRE call id 38992
    (
        "ndpi__gre.pcapng",
        1,
        "udp 192.168.10.210 5060 192.168.103.40 5060",
        &[TunnelKind::Gre],
        Some(38992),
    ),
    // eth:vlan:vlan:ip:udp:gtp:ipv6:udp, TEID 0x12808fb8
    (
        "ndpi__ipv6_in_gtp.pcap",
        1,
        "udp 2607:fc20:4052:39e:490a:ea4d:17fe:e09c 49120 fd00:976a:bc67:193e::7 25658",
        &[TunnelKind::GtpU],
        Some(0x1280_8fb8),
    ),
    // eth:mpls:ip:tcp, label 29
    (
        "zeek__mixed-vlan-mpls.pcap",
        1,
        "tcp 10.1.2.1 11001 10.34.0.1 23",
        &[TunnelKind::Mpls],
        Some(29),
    ),
    // eth:ip:gre:ip:gre:ip:icmp
    (
        "zeek__tunnels-gre-within-gre.pcap",
        1,
        "other_transport",
        &[],
        None,
    ),
    // eth:ip:gre:erspan:eth:ip:icmp
    ("zeek__erspanIII.pcap", 1, "other_transport", &[], None),
    // eth:ip:gre:erspan:eth:vlan:ip:icmp
    (
        "zeek__tunnels-gre-erspan3-dot1q.pcap",
        1,
        "other_transport",
        &[],
        None,
    ),
    // eth:ip:gre:erspan:eth:llc:cdp
    (
        "suricata-verify__decode-erspan-typeII-01.pcap",
        1,
        "not_ip",
        &[],
        None,
    ),
    // eth:ip:udp:geneve:eth:arp. Inside a UDP tunnel, a frame that is not
    // IP makes `decode` report the datagram as the plain UDP it also is
    // (the same rule that keeps a DNS server on port 4789 visible).
    (
        "suricata-verify__geneve-decoder.pcap",
        1,
        "udp 192.168.56.11 16613 192.168.56.12 6081",
        &[],
        None,
    ),
    // eth:ip:udp:vxlan:eth:ip:icmp, then eth:ip:udp:vxlan:eth:arp
    ("tcpdump__vxlan.pcap", 1, "other_transport", &[], None),
    (
        "tcpdump__vxlan.pcap",
        2,
        "udp 192.168.202.1 42710 192.168.203.1 4789",
        &[],
        None,
    ),
    // eth:ip:udp:mpls:ip:icmp
    (
        "tcpdump__mpls-over-udp.pcap",
        1,
        "other_transport",
        &[],
        None,
    ),
    // eth:ip:udp:teredo:ipv6:icmpv6 (router solicitation), and a bubble
    // (IPv6 with no next header): both unwrapped to what is not UDP/TCP.
    ("zeek__tunnels-Teredo.pcap", 6, "other_transport", &[], None),
    (
        "zeek__tunnels-Teredo.pcap",
        31,
        "other_transport",
        &[],
        None,
    ),
    (
        "suricata-verify__decode-teredo-01.pcap",
        7,
        "other_transport",
        &[],
        None,
    ),
    // Teredo discovery bubble to 224.0.0.253:3544.
    (
        "pcap-parser__wireshark_samples-test.pcapng",
        429,
        "other_transport",
        &[],
        None,
    ),
];

/// Files tagged with a tunnel whose tunnelled packets carry no UDP/TCP
/// (TUNNEL_FRAMES checks them instead), so no decoded packet shows the kind.
const TUNNEL_WITHOUT_UDP_TCP: &[&str] = &[
    "suricata-verify__decode-teredo-01.pcap",
    "zeek__tunnels-Teredo.pcap",
    "pcap-parser__wireshark_samples-test.pcapng",
    // Fuzzed: tshark's ip-in-ip tag comes from a damaged frame.
    "ndpi__fuzz-2006-06-26-2594.pcap",
];

fn describe(r: &Result<Decoded<'_>, DecodeError>) -> String {
    match r {
        Ok(d) => format!(
            "{} {} {} {} {}",
            match d.l4 {
                L4::Udp => "udp",
                L4::Tcp(_) => "tcp",
            },
            d.src_ip,
            d.src_port,
            d.dst_ip,
            d.dst_port
        ),
        Err(e) => e.label().to_string(),
    }
}

#[test]
fn decode_whole_corpus() {
    let entries = manifest();
    assert!(entries.len() >= 100, "corpus has {} files", entries.len());
    let mut totals: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut plain_udp_checked = 0usize;
    let mut oracle_checked = 0usize;
    let mut oracle_excused = 0usize;
    let mut tunnel_frames_checked = 0usize;
    let mut failures: Vec<String> = Vec::new();

    for entry in &entries {
        let path = corpus().join("pcaps").join(&entry.file);
        let packets = read_packets(&path);
        if packets.len() != entry.packets {
            failures.push(format!(
                "{}: read {} packets, MANIFEST says {}",
                entry.file,
                packets.len(),
                entry.packets
            ));
        }

        let mut labels: BTreeMap<&'static str, u64> = BTreeMap::new();
        let mut vlan_seen = false;
        let mut inner_vlan_seen = false;
        let mut kinds_seen: BTreeSet<TunnelKind> = BTreeSet::new();
        let mut outcomes: Vec<Outcome> = Vec::with_capacity(packets.len());
        for (n, (lt, frame)) in packets.iter().enumerate() {
            let result = decode(*lt, frame);
            let label = match &result {
                Ok(d) => {
                    vlan_seen |= d.vlan.is_some();
                    inner_vlan_seen |= d.inner_vlan.is_some();
                    if let Some(t) = &d.tunnel {
                        kinds_seen.extend(t.layers());
                    }
                    assert!(d.payload.len() <= frame.len());
                    match d.l4 {
                        L4::Udp => "ok_udp",
                        L4::Tcp(_) => "ok_tcp",
                    }
                }
                Err(e) => e.label(),
            };
            *labels.entry(label).or_default() += 1;
            *totals.entry(label).or_default() += 1;

            if let Some((src, dst, sport, dport, len)) = plain_ipv4_udp(*lt, frame) {
                plain_udp_checked += 1;
                let want = Ok((L4Kind::Udp, src.into(), dst.into(), sport, dport, len));
                let got = result.as_ref().map(outcome).map_err(|e| *e);
                if got != want {
                    failures.push(format!(
                        "{} frame {}: plain IPv4/UDP decoded as {got:?}, want {want:?}",
                        entry.file,
                        n + 1
                    ));
                }
            }
            for (file, no, want, layers, id) in TUNNEL_FRAMES {
                if *file != entry.file || *no != n + 1 {
                    continue;
                }
                let got = describe(&result);
                let got_layers = result
                    .as_ref()
                    .ok()
                    .and_then(|d| d.tunnel)
                    .map(|t| (t.layers().to_vec(), t.id));
                let want_layers = if layers.is_empty() {
                    None
                } else {
                    Some((layers.to_vec(), *id))
                };
                if got != *want || got_layers != want_layers {
                    failures.push(format!(
                        "{file} frame {no}: decoded {got} {got_layers:?}, tshark {want} {want_layers:?}"
                    ));
                }
                tunnel_frames_checked += 1;
            }
            outcomes.push(result.as_ref().map(outcome).map_err(|e| *e));
        }

        let supported = packets
            .iter()
            .all(|(lt, _)| SUPPORTED_LINKTYPES.contains(lt));
        println!("{:<90} {:?}", entry.file, labels);

        // Tag expectations.
        let has = |t: &str| entry.tags.contains(t);
        let count = |l: &str| labels.get(l).copied().unwrap_or(0);
        if !supported {
            if count("unsupported_linktype") != packets.len() as u64 {
                failures.push(format!("{}: unsupported link type not counted", entry.file));
            }
            continue;
        }
        if count("unsupported_linktype") != 0 {
            failures.push(format!("{}: supported link type refused", entry.file));
        }
        let expect_label = |tag: &str, label: &str, failures: &mut Vec<String>| {
            if has(tag) && count(label) == 0 {
                failures.push(format!("{}: tagged {tag} but no {label}", entry.file));
            }
        };
        expect_label("ipv4-fragments", "ip_fragment", &mut failures);
        for tag in &entry.tags {
            let Some(kinds) = tag_kinds(tag) else {
                continue;
            };
            // Only files with oracle names are sure to carry UDP/TCP inside
            // the tunnel; TUNNEL_FRAMES covers the files of ICMP/ARP/CDP.
            let names_inside = !oracle(&entry.file).is_empty()
                && !TUNNEL_WITHOUT_UDP_TCP.contains(&entry.file.as_str());
            if names_inside && !kinds.iter().any(|k| kinds_seen.contains(k)) {
                failures.push(format!(
                    "{}: tagged {tag} but no {kinds:?} layer decoded (saw {kinds_seen:?})",
                    entry.file
                ));
            }
        }
        if has("vlan") && !vlan_seen && count("ok_udp") + count("ok_tcp") > 0 {
            // Every file tagged vlan whose IP traffic decodes at all must
            // show a VLAN id on some packet, except where the tag is only
            // on the outer frame of a layer-3 tunnel (the link fields then
            // describe the inner packet, see decode's module doc).
            if !(has("gre") || has("gtp") || has("ipv6-fragments")) {
                failures.push(format!("{}: tagged vlan, no VLAN id decoded", entry.file));
            }
        }
        // Damage labels only where the MANIFEST says the file is damaged.
        let damaged = has("fuzzed") || has("tshark-malformed") || has("truncated-snaplen");
        for label in [
            "malformed_ip",
            "malformed_tcp",
            "malformed_udp",
            "truncated",
        ] {
            if count(label) > 0 && !damaged {
                failures.push(format!("{}: {label} in an undamaged file", entry.file));
            }
        }
        if entry.file == "zeek__vlan-qinqinq.pcap" && !(vlan_seen && inner_vlan_seen) {
            failures.push(format!("{}: QinQ ids not decoded", entry.file));
        }

        // The oracle's frames.
        for item in oracle(&entry.file) {
            // One oracle entry per distinct (src, dst, name, ...): its ports
            // are those of one of its frames; the others may use other
            // ports. So addresses are checked on every frame, ports on at
            // least one.
            let mut ports_seen = item.frames.is_empty();
            for &frame in &item.frames {
                let Some(got) = outcomes.get(frame.wrapping_sub(1)) else {
                    failures.push(format!("{}: oracle frame {frame} missing", entry.file));
                    continue;
                };
                match got {
                    Ok((kind, src, dst, sport, dport, _)) => {
                        let matches = *kind == item.kind && *src == item.src && *dst == item.dst;
                        ports_seen |= matches
                            && item.sport.is_none_or(|p| p == *sport)
                            && item.dport.is_none_or(|p| p == *dport);
                        if matches {
                            oracle_checked += 1;
                        } else {
                            failures.push(format!(
                                "{} frame {frame} ({}): decoded {got:?}, oracle {:?} {} -> {} :{:?} -> :{:?}",
                                entry.file,
                                item.what,
                                item.kind,
                                item.src,
                                item.dst,
                                item.sport,
                                item.dport
                            ));
                        }
                    }
                    Err(e) if excused(&entry.tags, *e) => {
                        oracle_excused += 1;
                        ports_seen = true;
                    }
                    Err(e) => failures.push(format!(
                        "{} frame {frame} ({}): {} , oracle {} -> {}",
                        entry.file,
                        item.what,
                        e.label(),
                        item.src,
                        item.dst
                    )),
                }
            }
            if !ports_seen {
                failures.push(format!(
                    "{} ({}): no frame of {:?} matches ports {:?} -> {:?}",
                    entry.file, item.what, item.frames, item.sport, item.dport
                ));
            }
        }
    }

    println!("\nper-label totals: {totals:?}");
    println!(
        "plain IPv4/UDP frames cross-checked: {plain_udp_checked}; oracle frames matched: \
         {oracle_checked}, excused by tags: {oracle_excused}; tunnel frames: \
         {tunnel_frames_checked}"
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // Guard against a vacuous pass (e.g. a reader that yields nothing).
    assert!(
        plain_udp_checked > 1000,
        "only {plain_udp_checked} plain UDP frames"
    );
    assert!(
        oracle_checked > 500,
        "only {oracle_checked} oracle frames matched"
    );
    assert_eq!(
        tunnel_frames_checked,
        TUNNEL_FRAMES.len(),
        "a TUNNEL_FRAMES row names a frame the corpus does not have"
    );
}

/// Every packet of the corpus re-decoded under every supported link type:
/// wrong link types on real bytes must not panic either.
#[test]
fn corpus_under_every_linktype_never_panics() {
    let mut seen: HashMap<&'static str, u64> = HashMap::new();
    for entry in manifest() {
        let path = corpus().join("pcaps").join(&entry.file);
        for (_, frame) in read_packets(&path).iter().take(200) {
            for lt in SUPPORTED_LINKTYPES {
                let label = match decode(lt, frame) {
                    Ok(_) => "ok",
                    Err(e) => e.label(),
                };
                *seen.entry(label).or_default() += 1;
            }
        }
    }
    assert!(seen.get("ok").copied().unwrap_or(0) > 0);
    assert!(seen.len() > 5, "too few distinct outcomes: {seen:?}");
}
