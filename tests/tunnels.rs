//! Generated captures for every encapsulation and for IP fragments, each
//! with a known name inside, run through the whole offline pipeline: the
//! name must come out with the innermost client address, and `decode` must
//! record the tunnel layers. Fragment cases cover IPv4 and IPv6, in order,
//! reversed, overlapping, a missing fragment that times out, a fragmented
//! tunnel, two workers, and floods that must stay inside the reassembler's
//! limits.
//!
//! Frames are built with `traffic::encap` (headers) around packets from
//! `traffic::packet` (UDP/TCP with checksums) and written with
//! `traffic::pcap`.

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use phonehome::capture::LinkType;
use phonehome::config::limits;
use phonehome::decode::{FragmentMeta, Frame, TunnelKind, decode, decode_frame};
use phonehome::event::{Event, Protocol};
use phonehome::flow::defrag::Defrag;
use phonehome::runtime::RunReport;
use phonehome::traffic::dns;
use phonehome::traffic::encap::{self, GreOpts};
use phonehome::traffic::packet::{TCP_ACK, TCP_PSH, TCP_SYN, TcpFields};
use phonehome::traffic::pcap::{PcapWriter, TsResolution};

const MAC_CLIENT: [u8; 6] = [0x02, 0, 0, 0, 0, 0x11];
const MAC_ROUTER: [u8; 6] = [0x02, 0, 0, 0, 0, 0x22];
const MAC_VM: [u8; 6] = [0x02, 0, 0, 0, 0, 0x33];
const ETH_IPV4: u16 = 0x0800;
const ETH_MPLS: u16 = 0x8847;
const ETH_PPPOE: u16 = 0x8864;
const ETH_QINQ: u16 = 0x88a8;
const GRE_TEB: u16 = 0x6558;
const GRE_ERSPAN_2: u16 = 0x88be;
const GRE_ERSPAN_3: u16 = 0x22eb;
const LT_ETHERNET: u32 = 1;
const LT_RAW: u32 = 101;

fn v4(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// The inner client and resolver of every case.
fn client4() -> SocketAddr {
    "192.0.2.10:53000".parse().unwrap()
}
fn resolver4() -> SocketAddr {
    "198.51.100.53:53".parse().unwrap()
}
fn client6() -> SocketAddr {
    "[2001:db8::10]:53000".parse().unwrap()
}
fn resolver6() -> SocketAddr {
    "[2001:db8::53]:53".parse().unwrap()
}
/// Tunnel endpoints.
fn tep_a() -> IpAddr {
    v4("203.0.113.1")
}
fn tep_b() -> IpAddr {
    v4("203.0.113.2")
}

/// A DNS A query for `name` as a bare IP packet from `client` to `server`.
fn query(client: SocketAddr, server: SocketAddr, name: &str) -> Vec<u8> {
    let mut msg = Vec::new();
    dns::write_query(&mut msg, 0x4242, name.as_bytes(), dns::QTYPE_A, true).unwrap();
    encap::udp_packet(client, server, &msg).unwrap()
}

/// An outer IPv4 packet between the tunnel endpoints.
fn outer(proto: u8, payload: &[u8]) -> Vec<u8> {
    encap::ip_packet(tep_a(), tep_b(), proto, 7, payload).unwrap()
}

/// An outer UDP datagram between the tunnel endpoints.
fn outer_udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    encap::udp_packet(
        SocketAddr::new(tep_a(), sport),
        SocketAddr::new(tep_b(), dport),
        payload,
    )
    .unwrap()
}

/// Ethernet from the client's router, untagged.
fn eth(ether_type: u16, payload: &[u8]) -> Vec<u8> {
    encap::ethernet(MAC_ROUTER, MAC_CLIENT, &[], ether_type, payload)
}

/// Write `frames` (one per millisecond from `t0`) to a pcap of `linktype`.
fn write_pcap(tag: &str, linktype: u32, frames: &[(u64, Vec<u8>)]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("phonehome-tunnels-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{tag}.pcap"));
    let file = std::fs::File::create(&path).unwrap();
    let mut w = PcapWriter::new(file, linktype, TsResolution::Nanos).unwrap();
    for (ts, f) in frames {
        w.write_packet(*ts, f).unwrap();
    }
    w.finish().unwrap();
    path
}

/// Run the pipeline over `frames` with `workers` workers; the DNS names
/// (client ip, name, packet number) and the report.
fn run(
    tag: &str,
    linktype: u32,
    frames: &[(u64, Vec<u8>)],
    workers: usize,
) -> (Vec<(IpAddr, String, u64)>, RunReport) {
    let path = write_pcap(tag, linktype, frames);
    let (report, events) = common::run(&[path.as_path()], workers);
    let _ = std::fs::remove_file(&path);
    assert!(report.files.iter().all(|f| f.error.is_none()), "{tag}");
    let names = events
        .iter()
        .filter_map(|e| match e {
            Event::Name(n) if n.protocol == Protocol::Dns || n.protocol == Protocol::Http => {
                Some((
                    n.endpoints.src_ip,
                    String::from_utf8_lossy(&n.name).into_owned(),
                    n.packet,
                ))
            }
            _ => None,
        })
        .collect();
    (names, report)
}

/// Timestamps: 1 ms apart from 1,700,000,000 s.
fn timed(frames: Vec<Vec<u8>>) -> Vec<(u64, Vec<u8>)> {
    frames
        .into_iter()
        .enumerate()
        .map(|(i, f)| (1_700_000_000_000_000_000 + i as u64 * 1_000_000, f))
        .collect()
}

/// One encapsulation case: a single frame holding a DNS query for `name`
/// from `client`, and the tunnel layers `decode` must report.
struct Case {
    tag: &'static str,
    linktype: u32,
    frame: Vec<u8>,
    client: IpAddr,
    layers: &'static [TunnelKind],
    /// Outermost tunnel id, where the header has one.
    id: Option<u32>,
}

fn cases() -> Vec<Case> {
    let name = |tag: &str| format!("{tag}.tunnel-test.example");
    let q4 = |tag: &str| query(client4(), resolver4(), &name(tag));
    let q6 = |tag: &str| query(client6(), resolver6(), &name(tag));
    let inner_eth =
        |ip: &[u8]| encap::ethernet(MAC_VM, MAC_ROUTER, &[], encap::ethertype_of(ip), ip);
    let c4 = client4().ip();
    let c6 = client6().ip();
    vec![
        Case {
            tag: "gre",
            linktype: LT_ETHERNET,
            frame: eth(
                ETH_IPV4,
                &outer(
                    encap::IPPROTO_GRE,
                    &encap::gre(
                        GreOpts {
                            checksum: true,
                            key: Some(77),
                            seq: Some(1),
                        },
                        ETH_IPV4,
                        &q4("gre"),
                    ),
                ),
            ),
            client: c4,
            layers: &[TunnelKind::Gre],
            id: Some(77),
        },
        Case {
            tag: "gre-teb",
            linktype: LT_RAW,
            frame: outer(
                encap::IPPROTO_GRE,
                &encap::gre(GreOpts::default(), GRE_TEB, &inner_eth(&q6("gre-teb"))),
            ),
            client: c6,
            layers: &[TunnelKind::Gre],
            id: None,
        },
        Case {
            tag: "erspan1",
            linktype: LT_ETHERNET,
            frame: eth(
                ETH_IPV4,
                &outer(
                    encap::IPPROTO_GRE,
                    &encap::gre(GreOpts::default(), GRE_ERSPAN_2, &inner_eth(&q4("erspan1"))),
                ),
            ),
            client: c4,
            layers: &[TunnelKind::Erspan1],
            id: None,
        },
        Case {
            tag: "erspan2",
            linktype: LT_ETHERNET,
            frame: eth(
                ETH_IPV4,
                &outer(
                    encap::IPPROTO_GRE,
                    &encap::gre(
                        GreOpts {
                            seq: Some(5),
                            ..GreOpts::default()
                        },
                        GRE_ERSPAN_2,
                        &encap::erspan2(300, &inner_eth(&q4("erspan2"))),
                    ),
                ),
            ),
            client: c4,
            layers: &[TunnelKind::Erspan2],
            id: Some(300),
        },
        Case {
            tag: "erspan3",
            linktype: LT_ETHERNET,
            frame: eth(
                ETH_IPV4,
                &outer(
                    encap::IPPROTO_GRE,
                    &encap::gre(
                        GreOpts {
                            seq: Some(6),
                            ..GreOpts::default()
                        },
                        GRE_ERSPAN_3,
                        &encap::erspan3(
                            12,
                            99,
                            // The mirrored frame is VLAN-tagged.
                            &encap::ethernet(MAC_VM, MAC_ROUTER, &[42], ETH_IPV4, &q4("erspan3")),
                        ),
                    ),
                ),
            ),
            client: c4,
            layers: &[TunnelKind::Erspan3],
            id: Some(12),
        },
        Case {
            tag: "vxlan",
            linktype: LT_ETHERNET,
            frame: eth(
                ETH_IPV4,
                &outer_udp(49152, 4789, &encap::vxlan(4242, &inner_eth(&q4("vxlan")))),
            ),
            client: c4,
            layers: &[TunnelKind::Vxlan],
            id: Some(4242),
        },
        Case {
            tag: "geneve",
            linktype: LT_ETHERNET,
            frame: eth(
                ETH_IPV4,
                &outer_udp(
                    49153,
                    6081,
                    &encap::geneve(
                        7,
                        GRE_TEB,
                        &encap::geneve_option(0x0104, 1, b"opt-data"),
                        &inner_eth(&q6("geneve")),
                    ),
                ),
            ),
            client: c6,
            layers: &[TunnelKind::Geneve],
            id: Some(7),
        },
        Case {
            tag: "ipip",
            linktype: LT_RAW,
            frame: outer(encap::IPPROTO_IPIP, &q4("ipip")),
            client: c4,
            layers: &[TunnelKind::IpIp],
            id: None,
        },
        Case {
            tag: "6in4",
            linktype: LT_RAW,
            frame: outer(encap::IPPROTO_IPV6, &q6("6in4")),
            client: c6,
            layers: &[TunnelKind::SixIn4],
            id: None,
        },
        Case {
            tag: "ip6ip6",
            linktype: LT_RAW,
            frame: encap::ip_packet(
                v4("2001:db8:ffff::1"),
                v4("2001:db8:ffff::2"),
                encap::IPPROTO_IPV6,
                0,
                &q6("ip6ip6"),
            )
            .unwrap(),
            client: c6,
            layers: &[TunnelKind::IpIp],
            id: None,
        },
        Case {
            tag: "teredo",
            linktype: LT_ETHERNET,
            frame: eth(
                ETH_IPV4,
                &outer_udp(
                    3544,
                    40000,
                    &encap::teredo(Some((40000, Ipv4Addr::new(198, 51, 100, 7))), &q6("teredo")),
                ),
            ),
            client: c6,
            layers: &[TunnelKind::Teredo],
            id: None,
        },
        Case {
            tag: "gtpu",
            linktype: LT_ETHERNET,
            frame: eth(
                ETH_IPV4,
                &outer_udp(2152, 2152, &encap::gtpu(0xdead_beef, true, &q4("gtpu"))),
            ),
            client: c4,
            layers: &[TunnelKind::GtpU],
            id: Some(0xdead_beef),
        },
        Case {
            tag: "mpls",
            linktype: LT_ETHERNET,
            frame: eth(ETH_MPLS, &encap::mpls(&[16, 2000], &q4("mpls"))),
            client: c4,
            layers: &[TunnelKind::Mpls],
            id: Some(2000),
        },
        Case {
            tag: "mpls-pw",
            linktype: LT_ETHERNET,
            frame: eth(
                ETH_MPLS,
                &encap::mpls(
                    &[17, 3000],
                    &[&[0u8, 0, 0, 1][..], &inner_eth(&q4("mpls-pw"))].concat(),
                ),
            ),
            client: c4,
            layers: &[TunnelKind::Mpls],
            id: Some(3000),
        },
        Case {
            tag: "mpls-udp",
            linktype: LT_RAW,
            frame: outer_udp(50001, 6635, &encap::mpls(&[100], &q6("mpls-udp"))),
            client: c6,
            layers: &[TunnelKind::Mpls],
            id: Some(100),
        },
        Case {
            tag: "pppoe",
            linktype: LT_ETHERNET,
            frame: {
                let pppoe = encap::pppoe(0x0badu16, &q4("pppoe")).unwrap();
                // QinQ: S-tag 100, C-tag 200, then PPPoE session.
                let mut tags = vec![0x00, 100, 0x81, 0x00, 0x00, 200];
                tags.extend_from_slice(&ETH_PPPOE.to_be_bytes());
                tags.extend_from_slice(&pppoe);
                encap::ethernet(MAC_CLIENT, MAC_ROUTER, &[], ETH_QINQ, &tags)
            },
            client: c4,
            layers: &[TunnelKind::Pppoe],
            id: Some(0x0bad),
        },
        Case {
            tag: "pptp",
            linktype: LT_ETHERNET,
            frame: eth(
                ETH_IPV4,
                &outer(
                    encap::IPPROTO_GRE,
                    &encap::gre_pptp(0x1234, 1, &q4("pptp")).unwrap(),
                ),
            ),
            client: c4,
            layers: &[TunnelKind::Gre],
            id: Some(0x1234),
        },
        Case {
            tag: "linktype-ppp",
            linktype: 9,
            frame: encap::ppp(&q6("linktype-ppp"), true),
            client: c6,
            layers: &[],
            id: None,
        },
        Case {
            tag: "linktype-c-hdlc",
            linktype: 104,
            frame: encap::c_hdlc(&q4("linktype-c-hdlc")),
            client: c4,
            layers: &[],
            id: None,
        },
        Case {
            tag: "linktype-nflog",
            linktype: 239,
            frame: encap::nflog(&q4("linktype-nflog")).unwrap(),
            client: c4,
            layers: &[],
            id: None,
        },
        Case {
            tag: "linktype-pktap",
            linktype: 258,
            frame: encap::pktap(&eth(ETH_IPV4, &q4("linktype-pktap"))),
            client: c4,
            layers: &[],
            id: None,
        },
        Case {
            // MPLS → GRE (key 9) → VXLAN → Ethernet → IPv6.
            tag: "nested",
            linktype: LT_ETHERNET,
            frame: eth(
                ETH_MPLS,
                &encap::mpls(
                    &[500],
                    &outer(
                        encap::IPPROTO_GRE,
                        &encap::gre(
                            GreOpts {
                                key: Some(9),
                                ..GreOpts::default()
                            },
                            ETH_IPV4,
                            &outer_udp(1, 4789, &encap::vxlan(11, &inner_eth(&q6("nested")))),
                        ),
                    ),
                ),
            ),
            client: c6,
            layers: &[TunnelKind::Mpls, TunnelKind::Gre, TunnelKind::Vxlan],
            id: Some(500),
        },
    ]
}

#[test]
fn every_encapsulation_gives_its_inner_name() {
    let cases = cases();
    assert!(cases.len() >= 20);
    for c in &cases {
        // decode: innermost client, the layers, the outermost id.
        let d = decode(LinkType(c.linktype), &c.frame).unwrap_or_else(|e| panic!("{}: {e}", c.tag));
        assert_eq!(d.src_ip, c.client, "{}", c.tag);
        assert_eq!(d.dst_port, 53, "{}", c.tag);
        match d.tunnel {
            Some(t) => {
                assert_eq!(t.layers(), c.layers, "{}", c.tag);
                assert_eq!(t.id, c.id, "{}", c.tag);
            }
            None => assert!(c.layers.is_empty(), "{}: no tunnel recorded", c.tag),
        }
        // The pipeline: the name, from the inner client.
        let (names, _) = run(c.tag, c.linktype, &timed(vec![c.frame.clone()]), 1);
        let want = (c.client, format!("{}.tunnel-test.example", c.tag), 1);
        assert_eq!(names, vec![want], "{}", c.tag);
    }
}

#[test]
fn link_fields_follow_the_innermost_frame() {
    let all = cases();
    let by = |tag: &str| all.iter().find(|c| c.tag == tag).unwrap();
    let lt = |c: &Case| LinkType(c.linktype);
    // VXLAN: the VM's MAC, the underlay's VLAN kept in the tunnel record.
    let c = by("erspan3");
    let d = decode(lt(c), &c.frame).unwrap();
    assert_eq!((d.src_mac, d.vlan), (Some(MAC_VM), Some(42)));
    // A layer-3 tunnel clears the outer frame's MACs.
    let c = by("gre");
    let d = decode(lt(c), &c.frame).unwrap();
    assert_eq!(d.src_mac, None);
    let t = d.tunnel.unwrap();
    assert_eq!((t.outer_src, t.outer_dst), (Some(tep_a()), Some(tep_b())));
    // PPPoE and MPLS ride in the client's own frame: MAC and VLANs stay.
    let c = by("pppoe");
    let d = decode(lt(c), &c.frame).unwrap();
    assert_eq!(
        (d.src_mac, d.vlan, d.inner_vlan),
        (Some(MAC_CLIENT), Some(100), Some(200))
    );
    assert_eq!(d.tunnel.unwrap().outer_vlan, Some(100));
}

#[test]
fn http_over_tcp_inside_vxlan() {
    let c = "192.0.2.20:40001".parse().unwrap();
    let s = "198.51.100.80:80".parse().unwrap();
    let seg = |flags, seq, payload: &[u8]| {
        let tcp = TcpFields {
            seq,
            ack: 0,
            flags,
            window: 65535,
            syn_options: None,
        };
        let ip = encap::tcp_packet(c, s, tcp, payload).unwrap();
        let inner = encap::ethernet(MAC_VM, MAC_ROUTER, &[], ETH_IPV4, &ip);
        eth(ETH_IPV4, &outer_udp(40000, 4789, &encap::vxlan(1, &inner)))
    };
    let frames = vec![
        seg(TCP_SYN, 1000, b""),
        seg(
            TCP_PSH | TCP_ACK,
            1001,
            b"GET / HTTP/1.1\r\nHost: vxlan-http.example\r\n\r\n",
        ),
    ];
    let (names, _) = run("vxlan-http", LT_ETHERNET, &timed(frames), 1);
    assert_eq!(names, vec![(c.ip(), "vxlan-http.example".to_string(), 2)]);
}

#[test]
fn dns_port_4789_is_not_eaten_by_vxlan() {
    // A DNS server listening on 4789: the query bytes are not a VXLAN frame.
    let q = query(
        "192.0.2.30:53".parse().unwrap(),
        "198.51.100.30:4789".parse().unwrap(),
        "not-a-tunnel.example",
    );
    let (names, _) = run("dns-4789", LT_RAW, &timed(vec![q]), 1);
    assert_eq!(
        names,
        vec![(v4("192.0.2.30"), "not-a-tunnel.example".to_string(), 1)]
    );
}

// -------------------------------------------------------------- fragments

/// A DNS query large enough to need several fragments (a long name and
/// EDNS), from `client` to `server`.
fn big_query(client: SocketAddr, server: SocketAddr, tag: &str) -> (Vec<u8>, String) {
    let name = format!(
        "{tag}.{}.{}.{}.frag-test.example",
        "a".repeat(60),
        "b".repeat(60),
        "c".repeat(60)
    );
    (query(client, server, &name), name)
}

fn fragments(ip: &[u8], chunk: usize, ident: u32) -> Vec<Vec<u8>> {
    if ip.first().map(|b| b >> 4) == Some(6) {
        encap::fragment_ipv6(ip, chunk, ident).unwrap()
    } else {
        encap::fragment_ipv4(ip, chunk).unwrap()
    }
}

#[test]
fn fragmented_dns_in_order_and_reversed() {
    for (client, server) in [(client4(), resolver4()), (client6(), resolver6())] {
        for reversed in [false, true] {
            let tag = format!("frag-{}-{reversed}", if client.is_ipv4() { 4 } else { 6 });
            let (ip, name) = big_query(client, server, &tag);
            let mut frags = fragments(&ip, 64, 0x1000);
            assert!(frags.len() >= 4, "{}", frags.len());
            if reversed {
                frags.reverse();
            }
            let n = frags.len() as u64;
            let frames = frags
                .into_iter()
                .map(|f| eth(encap::ethertype_of(&f), &f))
                .collect();
            let (names, report) = run(&tag, LT_ETHERNET, &timed(frames), 1);
            // Reported at the packet that completed the datagram.
            assert_eq!(names, vec![(client.ip(), name, n)], "{tag}");
            let s = report.stats.defrag;
            assert_eq!((s.fragments, s.reassembled, s.overlaps), (n, 1, 0), "{tag}");
        }
    }
}

#[test]
fn overlapping_fragments_drop_the_datagram() {
    let (ip, _) = big_query(client4(), resolver4(), "overlap");
    let frags = fragments(&ip, 64, 0);
    // A forged fragment over bytes 8..72 (offset 1, MF) with other content:
    // the sensor must not pick either version.
    let mut forged = frags[1].clone();
    forged[6..8].copy_from_slice(&0x2001u16.to_be_bytes());
    for b in forged.iter_mut().skip(20) {
        *b = b'x';
    }
    let mut frames = vec![frags[0].clone(), forged];
    frames.extend(frags[1..].iter().cloned());
    let frames = frames.into_iter().map(|f| eth(ETH_IPV4, &f)).collect();
    let (names, report) = run("overlap", LT_ETHERNET, &timed(frames), 1);
    assert_eq!(names, vec![]);
    assert_eq!(report.stats.defrag.overlaps, 1);
    assert_eq!(report.stats.defrag.reassembled, 0);
}

#[test]
fn missing_fragment_times_out_and_later_datagrams_still_work() {
    let (ip1, _) = big_query(client4(), resolver4(), "lost");
    let (ip2, name2) = big_query(client4(), resolver4(), "later");
    let mut f1 = fragments(&ip1, 64, 0);
    f1.remove(1); // never arrives
    let mut ip2 = ip2;
    ip2[4..6].copy_from_slice(&0x0002u16.to_be_bytes()); // another id
    // (the IPv4 header checksum is not verified by the sensor)
    let f2 = fragments(&ip2, 64, 0);
    let t0 = 1_700_000_000_000_000_000u64;
    let mut frames: Vec<(u64, Vec<u8>)> = f1.into_iter().map(|f| (t0, eth(ETH_IPV4, &f))).collect();
    let later = t0 + limits::DEFRAG_TIMEOUT_NS + 1;
    let first_later = frames.len() as u64 + 1;
    frames.extend(f2.iter().map(|f| (later, eth(ETH_IPV4, f))));
    let (names, report) = run("timeout", LT_ETHERNET, &frames, 1);
    let last = first_later + f2.len() as u64 - 1;
    assert_eq!(names, vec![(client4().ip(), name2, last)]);
    let s = report.stats.defrag;
    assert_eq!((s.timeouts, s.reassembled), (1, 1));
}

#[test]
fn fragmented_tunnel_packet_is_reassembled_then_unwrapped() {
    // The outer GRE packet is fragmented (a small tunnel MTU); inside it a
    // whole DNS query.
    let name = "inside-fragmented-gre.example";
    let gre = outer(
        encap::IPPROTO_GRE,
        &encap::gre(
            GreOpts::default(),
            ETH_IPV4,
            &query(client4(), resolver4(), name),
        ),
    );
    let frames = fragments(&gre, 32, 0)
        .into_iter()
        .map(|f| eth(ETH_IPV4, &f))
        .collect::<Vec<_>>();
    let n = frames.len() as u64;
    for workers in [1, 2] {
        let tag = format!("frag-gre-{workers}");
        let (names, report) = run(&tag, LT_ETHERNET, &timed(frames.clone()), workers);
        assert_eq!(names, vec![(client4().ip(), name.to_string(), n)], "{tag}");
        assert_eq!(report.stats.defrag.reassembled, 1);
    }
    // decode_frame reports the fragments with the outer addresses.
    match decode_frame(LinkType(LT_ETHERNET), &frames[0]).unwrap() {
        Frame::Fragment(f) => assert_eq!(f.meta.src_ip, tep_a()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn fragmented_dns_with_two_workers() {
    // Fragments carry no ports: dispatch must send them all to one worker.
    let mut frames = Vec::new();
    let mut want = Vec::new();
    for i in 0..8u16 {
        let client: SocketAddr = format!("192.0.2.{}:{}", 100 + i, 40000 + i)
            .parse()
            .unwrap();
        let (mut ip, name) = big_query(client, resolver4(), &format!("w{i}"));
        ip[4..6].copy_from_slice(&i.to_be_bytes());
        for f in fragments(&ip, 64, 0) {
            frames.push(eth(ETH_IPV4, &f));
        }
        want.push((client.ip(), name, frames.len() as u64));
    }
    let (names, report) = run("two-workers", LT_ETHERNET, &timed(frames), 2);
    assert_eq!(names, want);
    assert_eq!(report.stats.defrag.reassembled, 8);
}

// ---------------------------------------------------------------- floods

/// A fragment (MF set) of datagram `id` at byte `offset` with `len` bytes.
fn flood_fragment(id: u32, offset: u16, len: usize) -> Vec<u8> {
    let src = Ipv4Addr::new(10, (id >> 16) as u8, (id >> 8) as u8, id as u8);
    let mut p = encap::ip_packet(
        IpAddr::V4(src),
        v4("198.51.100.1"),
        17,
        id as u16,
        &vec![0xab; len],
    )
    .unwrap();
    p[6..8].copy_from_slice(&(0x2000 | (offset / 8)).to_be_bytes());
    p
}

#[test]
fn flood_of_first_fragments_stays_within_the_limits() {
    // Straight into a reassembler with the production limits: after every
    // fragment, the count and memory bounds hold.
    let mut d = Defrag::default();
    let mut out = Vec::new();
    let n = limits::DEFRAG_MAX_DATAGRAMS as u32 * 3;
    for id in 0..n {
        let frame = flood_fragment(id, 0, 1480);
        let Frame::Fragment(f) = decode_frame(LinkType(LT_RAW), &frame).unwrap() else {
            panic!("not a fragment");
        };
        assert!(d.push(1, &f, &mut out).is_none());
        assert!(d.len() <= limits::DEFRAG_MAX_DATAGRAMS);
        assert!(d.bytes_held() <= limits::DEFRAG_MAX_BYTES);
    }
    assert_eq!(d.stats.fragments, u64::from(n));
    assert_eq!(
        d.stats.evictions,
        u64::from(n) - limits::DEFRAG_MAX_DATAGRAMS as u64
    );
    assert_eq!(d.len(), limits::DEFRAG_MAX_DATAGRAMS);
    // Datagrams that each need 64 KiB: the memory bound evicts, and holds.
    for id in 0..1000u32 {
        let frame = flood_fragment(n + id, 64_000, 1480);
        let Frame::Fragment(f) = decode_frame(LinkType(LT_RAW), &frame).unwrap() else {
            panic!("not a fragment");
        };
        d.push(2, &f, &mut out);
        assert!(
            d.bytes_held() <= limits::DEFRAG_MAX_BYTES,
            "{}",
            d.bytes_held()
        );
        assert!(d.len() <= limits::DEFRAG_MAX_DATAGRAMS);
    }
    assert!(d.stats.evictions > u64::from(n));
    // Everything still pending times out once packet time moves on.
    let frame = flood_fragment(u32::MAX, 0, 8);
    let Frame::Fragment(f) = decode_frame(LinkType(LT_RAW), &frame).unwrap() else {
        panic!("not a fragment");
    };
    let before = d.len() as u64;
    d.push(2 + limits::DEFRAG_TIMEOUT_NS + 1, &f, &mut out);
    assert_eq!(d.stats.timeouts, before);
    assert_eq!(d.len(), 1);
}

#[test]
fn flood_through_the_pipeline_is_counted() {
    // 10,000 never-completed datagrams and one real fragmented query at the
    // end: the query is still found, the flood is counted.
    let mut frames: Vec<Vec<u8>> = (0..10_000u32)
        .map(|id| eth(ETH_IPV4, &flood_fragment(id, 0, 512)))
        .collect();
    let (ip, name) = big_query(client4(), resolver4(), "after-flood");
    frames.extend(fragments(&ip, 64, 0).into_iter().map(|f| eth(ETH_IPV4, &f)));
    let n = frames.len() as u64;
    let (names, report) = run("flood", LT_ETHERNET, &timed(frames), 1);
    assert_eq!(names, vec![(client4().ip(), name, n)]);
    let s = report.stats.defrag;
    assert_eq!(s.fragments, n);
    assert_eq!(s.reassembled, 1);
    // The query's datagram needed a slot too.
    assert_eq!(s.evictions, 10_001 - limits::DEFRAG_MAX_DATAGRAMS as u64);
    // The rest were pending at the end of input: counted as timed out.
    assert_eq!(s.timeouts, limits::DEFRAG_MAX_DATAGRAMS as u64 - 1);
    assert_eq!((s.datagrams_active, s.bytes_held), (0, 0));
}

#[test]
fn reassembled_metadata_is_the_completing_fragments() {
    // Same datagram, fragments on two VLANs (an asymmetric span): the
    // reassembled packet carries the last fragment's VLAN.
    let (ip, _) = big_query(client4(), resolver4(), "vlans");
    let frags = fragments(&ip, 64, 0);
    let mut d = Defrag::default();
    let mut out = Vec::new();
    let mut meta: Option<FragmentMeta> = None;
    for (i, f) in frags.iter().enumerate() {
        let vlan = if i + 1 == frags.len() { 20 } else { 10 };
        let frame = encap::ethernet(MAC_CLIENT, MAC_ROUTER, &[vlan], ETH_IPV4, f);
        let Frame::Fragment(fr) = decode_frame(LinkType(LT_ETHERNET), &frame).unwrap() else {
            panic!("not a fragment");
        };
        meta = d.push(1, &fr, &mut out);
    }
    let meta = meta.expect("complete");
    assert_eq!(meta.vlan, Some(20));
    assert_eq!(out, &ip[20..]);
}

// ------------------------------------------------------------------ corpus

/// Real captures with fragments (tests/corpus): what tshark reassembles,
/// phonehome reassembles too.
#[test]
fn corpus_fragments_are_reassembled() {
    let corpus = common::root().join("tests/corpus/pcaps");
    // Zeek's IPv6 DNS trace: the response in frames 6-8 (three fragments)
    // answers txtpadding_3230... with A 192.150.187.31 (tshark frame 8);
    // frame 4 is a lone last fragment whose others were never captured.
    let path = corpus.join("zeek__ipv6-fragmented-dns.pcap");
    let (report, events) = common::run(&[path.as_path()], 1);
    let answers: Vec<(u64, String)> = events
        .iter()
        .filter_map(|e| match e {
            Event::DnsAnswer(a) => Some((a.packet, a.addr.to_string())),
            _ => None,
        })
        .collect();
    assert!(
        answers.contains(&(8, "192.150.187.31".to_string())),
        "{answers:?}"
    );
    let s = report.stats.defrag;
    assert_eq!((s.fragments, s.reassembled, s.timeouts), (4, 1, 1));

    // Suricata's IPv6/VLAN TCP fragments (bug 6887) and IPv4 defrag policy
    // traces: one datagram each.
    for file in [
        "suricata-verify__defrag-bug-6887-defrag-eth-vlan-ipv6-tcp-frag-eth-vlan-ipv6-tcp.pcap",
        "suricata-verify__exception-policy-defrag-01-ipv4frags.pcap",
    ] {
        let path = corpus.join(file);
        let (report, _) = common::run(&[path.as_path()], 1);
        assert_eq!(report.stats.defrag.reassembled, 1, "{file}");
    }

    // Zeek's ipv4-fragmented-1: a first fragment of 18 bytes (trimmed to 16,
    // as Linux does), then another offset-0 fragment of 304 bytes: an
    // overlap, so the datagram is dropped and counted.
    let path = corpus.join("zeek__ipv4-fragmented-1.pcap");
    let (report, _) = common::run(&[path.as_path()], 1);
    let s = report.stats.defrag;
    assert_eq!((s.reassembled, s.overlaps), (0, 1));
}
