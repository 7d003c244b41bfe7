//! Unit tests for the encapsulations, link types and fragments: each tunnel
//! header is an annotated byte array around a known inner IPv4/UDP or
//! IPv6/UDP datagram, so the test checks the innermost tuple, the payload
//! and the recorded tunnel layers. Addresses are from the documentation
//! ranges (RFC 5737, RFC 3849).

use std::net::IpAddr;

use super::*;
use crate::config::limits::MAX_ENCAP_DEPTH;

const MAC_A: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0a];
const MAC_B: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0b];
const MAC_INNER: [u8; 6] = [0x02, 0, 0, 0, 0, 0x1c];

/// Inner IPv4/UDP 192.0.2.1:49152 → 198.51.100.53:53, payload `dead beef`.
#[rustfmt::skip]
const INNER_V4: [u8; 32] = [
    0x45, 0x00, 0x00, 0x20, // version 4, IHL 5, total length 32
    0x00, 0x01, 0x00, 0x00, // identification 1, no flags
    0x40, 0x11, 0x00, 0x00, // TTL 64, UDP, checksum (unchecked)
    192, 0, 2, 1,           // source
    198, 51, 100, 53,       // destination
    0xc0, 0x00, 0x00, 0x35, // UDP 49152 → 53
    0x00, 0x0c, 0x00, 0x00, // UDP length 12
    0xde, 0xad, 0xbe, 0xef, // payload
];

/// Inner IPv6/UDP 2001:db8::1:49153 → 2001:db8::53:53, payload `cafe babe`.
#[rustfmt::skip]
const INNER_V6: [u8; 52] = [
    0x60, 0x00, 0x00, 0x00, // version 6
    0x00, 0x0c, 0x11, 0x40, // payload length 12, UDP, hop limit 64
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x53,
    0xc0, 0x01, 0x00, 0x35, // UDP 49153 → 53
    0x00, 0x0c, 0x00, 0x00, // UDP length 12
    0xca, 0xfe, 0xba, 0xbe, // payload
];

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn assert_inner_v4(d: &Decoded<'_>) {
    assert_eq!((d.src_ip, d.dst_ip), (ip("192.0.2.1"), ip("198.51.100.53")));
    assert_eq!((d.src_port, d.dst_port, d.l4), (49152, 53, L4::Udp));
    assert_eq!(d.payload, &[0xde, 0xad, 0xbe, 0xef]);
    assert!(!d.truncated);
}

fn assert_inner_v6(d: &Decoded<'_>) {
    assert_eq!(
        (d.src_ip, d.dst_ip),
        (ip("2001:db8::1"), ip("2001:db8::53"))
    );
    assert_eq!((d.src_port, d.dst_port, d.l4), (49153, 53, L4::Udp));
    assert_eq!(d.payload, &[0xca, 0xfe, 0xba, 0xbe]);
}

/// Outer IPv4 header 203.0.113.1 → 203.0.113.2 of `proto` around `payload`.
fn outer_v4(proto: u8, payload: &[u8]) -> Vec<u8> {
    let total = u16::try_from(20 + payload.len()).unwrap();
    let [t0, t1] = total.to_be_bytes();
    #[rustfmt::skip]
    let mut p = vec![
        0x45, 0x00, t0, t1,     // version 4, IHL 5, total length
        0x00, 0x02, 0x40, 0x00, // identification 2, DF
        0x40, proto, 0x00, 0x00, // TTL 64, protocol, checksum
        203, 0, 113, 1,         // source
        203, 0, 113, 2,         // destination
    ];
    p.extend_from_slice(payload);
    p
}

/// Outer IPv6 header 2001:db8:ff::1 → 2001:db8:ff::2 of `next` around
/// `payload`.
fn outer_v6(next: u8, payload: &[u8]) -> Vec<u8> {
    let plen = u16::try_from(payload.len()).unwrap();
    let mut p = vec![0x60, 0, 0, 0];
    p.extend_from_slice(&plen.to_be_bytes());
    p.extend_from_slice(&[next, 64]);
    p.extend_from_slice(&[
        0x20, 0x01, 0x0d, 0xb8, 0, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
    ]);
    p.extend_from_slice(&[
        0x20, 0x01, 0x0d, 0xb8, 0, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
    ]);
    p.extend_from_slice(payload);
    p
}

/// UDP header `sport` → `dport` around `payload`.
fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let len = u16::try_from(8 + payload.len()).unwrap();
    let mut p = Vec::new();
    p.extend_from_slice(&sport.to_be_bytes());
    p.extend_from_slice(&dport.to_be_bytes());
    p.extend_from_slice(&len.to_be_bytes());
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(payload);
    p
}

/// Ethernet II header `src` → `dst` of `ether_type` around `payload`.
fn eth(src: [u8; 6], dst: [u8; 6], ether_type: u16, payload: &[u8]) -> Vec<u8> {
    [&dst[..], &src, &ether_type.to_be_bytes(), payload].concat()
}

fn packet(lt: LinkType, frame: &[u8]) -> Decoded<'_> {
    match decode_frame(lt, frame) {
        Ok(Frame::Packet(d)) => d,
        other => panic!("not a packet: {other:?}"),
    }
}

fn tunnel(d: &Decoded<'_>) -> TunnelInfo {
    d.tunnel.expect("tunnel recorded")
}

// ------------------------------------------------------------------- MPLS

#[test]
fn mpls_two_labels_then_ipv6_by_nibble() {
    #[rustfmt::skip]
    let stack = [
        0x00, 0x01, 0x00, 0x40, // label 16, TC 0, S=0, TTL 64 (transport)
        0x00, 0x3e, 0x81, 0x40, // label 1000, S=1, TTL 64 (VPN)
    ];
    let frame = eth(MAC_A, MAC_B, 0x8847, &[&stack[..], &INNER_V6].concat());
    let d = packet(LinkType::ETHERNET, &frame);
    assert_inner_v6(&d);
    let t = tunnel(&d);
    assert_eq!((t.kind, t.id, t.depth), (TunnelKind::Mpls, Some(1000), 1));
    assert_eq!(t.layers(), &[TunnelKind::Mpls]);
    // MPLS rides in the Ethernet frame: the MACs stay.
    assert_eq!(d.src_mac, Some(MAC_A));
}

#[test]
fn mpls_explicit_null_says_the_protocol() {
    // Label 2 (IPv6 explicit null) at the bottom: IPv6 whatever the nibble;
    // here the packet is IPv4, so it is malformed.
    let stack = [0x00, 0x00, 0x21, 0x40]; // label 2, S=1
    let frame = eth(MAC_A, MAC_B, 0x8847, &[&stack[..], &INNER_V4].concat());
    assert_eq!(
        decode(LinkType::ETHERNET, &frame).unwrap_err(),
        DecodeError::MalformedIp
    );
    let stack = [0x00, 0x00, 0x01, 0x40]; // label 0 (IPv4 explicit null), S=1
    let frame = eth(MAC_A, MAC_B, 0x8848, &[&stack[..], &INNER_V4].concat());
    assert_inner_v4(&packet(LinkType::ETHERNET, &frame));
}

#[test]
fn mpls_pseudowire_with_control_word() {
    #[rustfmt::skip]
    let pw = [
        0x00, 0x01, 0x41, 0x40, // label 20, S=1
        0x00, 0x00, 0x00, 0x07, // control word: nibble 0, sequence 7
    ];
    let inner = eth(MAC_INNER, MAC_B, 0x0800, &INNER_V4);
    let frame = eth(MAC_A, MAC_B, 0x8847, &[&pw[..], &inner].concat());
    let d = packet(LinkType::ETHERNET, &frame);
    assert_inner_v4(&d);
    assert_eq!(d.src_mac, Some(MAC_INNER));
    assert_eq!(tunnel(&d).id, Some(20));
}

#[test]
fn mpls_unknown_payload_and_cuts() {
    // First nibble 1: associated channel, not IP.
    let frame = eth(
        MAC_A,
        MAC_B,
        0x8847,
        &[0x00, 0x01, 0x01, 0x40, 0x10, 0, 0, 0],
    );
    assert_eq!(
        decode(LinkType::ETHERNET, &frame).unwrap_err(),
        DecodeError::NotIp
    );
    // A stack cut inside an entry, or right after it.
    let frame = eth(MAC_A, MAC_B, 0x8847, &[0x00, 0x01, 0x01]);
    assert_eq!(
        decode(LinkType::ETHERNET, &frame).unwrap_err(),
        DecodeError::Truncated
    );
    let frame = eth(MAC_A, MAC_B, 0x8847, &[0x00, 0x01, 0x01, 0x40]);
    assert_eq!(
        decode(LinkType::ETHERNET, &frame).unwrap_err(),
        DecodeError::Truncated
    );
}

// ------------------------------------------------------------ PPPoE / PPP

#[test]
fn pppoe_session_over_qinq() {
    #[rustfmt::skip]
    let pppoe = [
        0x11, 0x00,             // version 1, type 1, code 0 (session)
        0x12, 0x34,             // session id 0x1234
        0x00, 0x22,             // length: 2 (PPP protocol) + 32
        0x00, 0x21,             // PPP protocol IPv4
    ];
    #[rustfmt::skip]
    let tags = [
        0x00, 0x64, 0x81, 0x00, // S-tag VID 100, next 802.1Q
        0x00, 0xc8, 0x88, 0x64, // C-tag VID 200, next PPPoE session
    ];
    let mut frame = eth(
        MAC_A,
        MAC_B,
        0x88a8,
        &[&tags[..], &pppoe, &INNER_V4].concat(),
    );
    frame.extend_from_slice(&[0; 6]); // Ethernet padding, trimmed by length
    let d = packet(LinkType::ETHERNET, &frame);
    assert_inner_v4(&d);
    assert_eq!(
        (d.vlan, d.inner_vlan, d.src_mac),
        (Some(100), Some(200), Some(MAC_A))
    );
    let t = tunnel(&d);
    assert_eq!(
        (t.kind, t.id, t.outer_vlan),
        (TunnelKind::Pppoe, Some(0x1234), Some(100))
    );
}

#[test]
fn pppoe_bad_header_and_control_protocols() {
    let mut pppoe = vec![0x11, 0x00, 0x00, 0x01, 0x00, 0x22, 0x00, 0x21];
    pppoe.extend_from_slice(&INNER_V4);
    let mut bad = pppoe.clone();
    bad[0] = 0x21; // version 2
    let frame = eth(MAC_A, MAC_B, 0x8864, &bad);
    assert_eq!(
        decode(LinkType::ETHERNET, &frame).unwrap_err(),
        DecodeError::MalformedTunnel
    );
    let mut lcp = pppoe.clone();
    lcp[6..8].copy_from_slice(&[0xc0, 0x21]); // LCP
    let frame = eth(MAC_A, MAC_B, 0x8864, &lcp);
    assert_eq!(
        decode(LinkType::ETHERNET, &frame).unwrap_err(),
        DecodeError::NotIp
    );
}

#[test]
fn ppp_link_types() {
    let ppp = LinkType(9);
    // RFC 1662 address/control, 2-byte protocol.
    let f = [&[0xff, 0x03, 0x00, 0x21][..], &INNER_V4].concat();
    assert_inner_v4(&packet(ppp, &f));
    // No address/control, compressed 1-byte protocol (0x57 = IPv6).
    let f = [&[0x57][..], &INNER_V6].concat();
    assert_inner_v6(&packet(ppp, &f));
    // PPP in HDLC framing (50), and Cisco framing on the same link type.
    let f = [&[0xff, 0x03, 0x00, 0x57][..], &INNER_V6].concat();
    assert_inner_v6(&packet(LinkType(50), &f));
    let f = [&[0x0f, 0x00, 0x08, 0x00][..], &INNER_V4].concat();
    assert_inner_v4(&packet(LinkType(50), &f));
    // IPCP is not IP.
    let f = [&[0xff, 0x03, 0x80, 0x21][..], &INNER_V4].concat();
    assert_eq!(decode(ppp, &f).unwrap_err(), DecodeError::NotIp);
    assert_eq!(
        decode(ppp, &[0xff, 0x03]).unwrap_err(),
        DecodeError::Truncated
    );
}

#[test]
fn cisco_hdlc() {
    #[rustfmt::skip]
    let f = [
        &[0x0f, 0x00,           // address unicast, control 0
          0x86, 0xdd][..],      // protocol IPv6
        &INNER_V6,
    ].concat();
    assert_inner_v6(&packet(LinkType(104), &f));
    // SLARP keepalive.
    let f = [&[0x8f, 0x00, 0x80, 0x35][..], &[0; 20]].concat();
    assert_eq!(decode(LinkType(104), &f).unwrap_err(), DecodeError::NotIp);
    assert_eq!(
        decode(LinkType(104), &[0x0f, 0x00, 0x08]).unwrap_err(),
        DecodeError::Truncated
    );
}

/// An NFLOG record (family AF_INET) with a prefix TLV, a 5-byte TLV that
/// needs padding, then the payload TLV; TLV fields little-endian or not.
fn nflog_record(little: bool) -> Vec<u8> {
    let field = |v: u16| {
        if little {
            v.to_le_bytes()
        } else {
            v.to_be_bytes()
        }
    };
    let mut f = vec![0x02, 0x00, 0x00, 0x2a]; // AF_INET, version 0, resource 42
    f.extend_from_slice(&field(8)); // length 8
    f.extend_from_slice(&field(1)); // NFULA_PACKET_HDR
    f.extend_from_slice(&[0x08, 0x00, 0x01, 0x00]);
    f.extend_from_slice(&field(5)); // length 5: 1 byte of value, 3 of padding
    f.extend_from_slice(&field(10)); // NFULA_PREFIX
    f.extend_from_slice(&[0x00, 0, 0, 0]);
    f.extend_from_slice(&field(4 + 32)); // payload TLV
    f.extend_from_slice(&field(9)); // NFULA_PAYLOAD
    f.extend_from_slice(&INNER_V4);
    f
}

#[test]
fn nflog_finds_the_payload_tlv_in_either_byte_order() {
    for little in [true, false] {
        let f = nflog_record(little);
        let d = packet(LinkType(239), &f);
        assert_inner_v4(&d);
        assert_eq!(d.src_mac, None);
    }
    // Without the payload TLV: not IP. A TLV running past the record: cut.
    let f = nflog_record(true);
    assert_eq!(
        decode(LinkType(239), &f[..20]).unwrap_err(),
        DecodeError::NotIp
    );
    assert_eq!(
        decode(LinkType(239), &f[..30]).unwrap_err(),
        DecodeError::Truncated
    );
    // A zero-length TLV cannot be walked past.
    let mut zero = f.clone();
    zero[4..6].copy_from_slice(&[0, 0]);
    zero[6..8].copy_from_slice(&[1, 0]);
    assert!(decode(LinkType(239), &zero).is_err());
}

#[test]
fn pktap_wraps_an_ethernet_frame() {
    let inner = eth(MAC_A, MAC_B, 0x0800, &INNER_V4);
    let mut f = vec![0u8; 108];
    f[0..4].copy_from_slice(&108u32.to_le_bytes()); // header length
    f[4..8].copy_from_slice(&1u32.to_le_bytes()); // DLT_EN10MB
    f[12..15].copy_from_slice(b"en0");
    f.extend_from_slice(&inner);
    for lt in [LinkType(258), LinkType(149)] {
        let d = packet(lt, &f);
        assert_inner_v4(&d);
        assert_eq!(d.src_mac, Some(MAC_A));
    }
    // A header length past the frame, and PKTAP inside PKTAP.
    let mut long = f.clone();
    long[0..4].copy_from_slice(&5000u32.to_le_bytes());
    assert_eq!(
        decode(LinkType(258), &long).unwrap_err(),
        DecodeError::Truncated
    );
    let mut nested = f.clone();
    nested[4..8].copy_from_slice(&258u32.to_le_bytes());
    assert_eq!(
        decode(LinkType(258), &nested).unwrap_err(),
        DecodeError::UnsupportedLinktype
    );
}

// -------------------------------------------------------------------- GRE

#[test]
fn gre_with_checksum_key_and_sequence() {
    #[rustfmt::skip]
    let gre = [
        0xb0, 0x00, 0x08, 0x00, // C, K, S set, version 0; protocol IPv4
        0x00, 0x00, 0x00, 0x00, // checksum, reserved1
        0x00, 0x00, 0x04, 0xd2, // key 1234
        0x00, 0x00, 0x00, 0x09, // sequence 9
    ];
    let frame = eth(
        MAC_A,
        MAC_B,
        0x0800,
        &outer_v4(47, &[&gre[..], &INNER_V4].concat()),
    );
    let d = packet(LinkType::ETHERNET, &frame);
    assert_inner_v4(&d);
    let t = tunnel(&d);
    assert_eq!((t.kind, t.id), (TunnelKind::Gre, Some(1234)));
    assert_eq!(
        (t.outer_src, t.outer_dst),
        (Some(ip("203.0.113.1")), Some(ip("203.0.113.2")))
    );
    // The outer MACs are the routers': cleared after a layer-3 tunnel.
    assert_eq!((d.src_mac, d.vlan), (None, None));
}

#[test]
fn gre_transparent_ethernet_bridging_and_refusals() {
    let inner = eth(MAC_INNER, MAC_B, 0x86dd, &INNER_V6);
    let gre = [0x00, 0x00, 0x65, 0x58]; // no options, protocol TEB
    let frame = outer_v6(47, &[&gre[..], &inner].concat());
    let d = packet(LinkType::RAW, &frame);
    assert_inner_v6(&d);
    assert_eq!(d.src_mac, Some(MAC_INNER));
    assert_eq!(tunnel(&d).outer_src, Some(ip("2001:db8:ff::1")));
    // Routing present (RFC 1701), version 2, unknown protocol.
    for (hdr, want) in [
        ([0x40, 0x00, 0x08, 0x00], DecodeError::MalformedTunnel),
        ([0x00, 0x02, 0x08, 0x00], DecodeError::MalformedTunnel),
        ([0x00, 0x00, 0x88, 0xcc], DecodeError::NotIp),
        // Version 1 must carry PPP with a key.
        ([0x00, 0x01, 0x08, 0x00], DecodeError::MalformedTunnel),
    ] {
        let frame = outer_v4(47, &[&hdr[..], &INNER_V4].concat());
        assert_eq!(decode(LinkType::RAW, &frame).unwrap_err(), want, "{hdr:?}");
    }
    // Options announced but cut off.
    let frame = outer_v4(47, &[0xb0, 0x00, 0x08, 0x00, 0, 0, 0]);
    assert_eq!(
        decode(LinkType::RAW, &frame).unwrap_err(),
        DecodeError::Truncated
    );
}

#[test]
fn gre_pptp_enhanced_ppp() {
    #[rustfmt::skip]
    let gre = [
        0x30, 0x81, 0x88, 0x0b, // K, S set; A set, version 1; protocol PPP
        0x00, 0x24, 0x40, 0x01, // payload length 36, call id 0x4001
        0x00, 0x00, 0x00, 0x05, // sequence 5
        0x00, 0x00, 0x00, 0x04, // acknowledgment 4
        0xff, 0x03, 0x00, 0x21, // PPP address, control, protocol IPv4
    ];
    let frame = outer_v4(47, &[&gre[..], &INNER_V4].concat());
    let d = packet(LinkType::RAW, &frame);
    assert_inner_v4(&d);
    assert_eq!(
        (tunnel(&d).kind, tunnel(&d).id),
        (TunnelKind::Gre, Some(0x4001))
    );
}

#[test]
fn erspan_types_one_two_three() {
    let inner = eth(MAC_INNER, MAC_B, 0x0800, &INNER_V4);
    // Type I: protocol 0x88be, no sequence number, frame right after.
    let e1 = [0x00, 0x00, 0x88, 0xbe];
    // Type II: sequence number, then the 8-byte ERSPAN header.
    #[rustfmt::skip]
    let e2 = [
        0x10, 0x00, 0x88, 0xbe, // S set; protocol ERSPAN I/II
        0x00, 0x00, 0x00, 0x01, // sequence 1
        0x10, 0x0a, 0x00, 0x2a, // version 1, VLAN 10; COS 0, En 0, T 0, session 42
        0x00, 0x00, 0x00, 0x00, // reserved, index
    ];
    // Type III with the optional platform subheader (O bit).
    #[rustfmt::skip]
    let e3 = [
        0x10, 0x00, 0x22, 0xeb, // S set; protocol ERSPAN III
        0x00, 0x00, 0x00, 0x01, // sequence 1
        0x20, 0x0a, 0x00, 0x07, // version 2, VLAN 10; session 7
        0x00, 0x00, 0x10, 0x00, // timestamp
        0x00, 0x00, 0x00, 0x01, // SGT 0; P 0, FT 0 (Ethernet), HW 0, D 0, Gra 0, O 1
        0, 0, 0, 0, 0, 0, 0, 0, // platform-specific subheader
    ];
    for (hdr, kind, id) in [
        (&e1[..], TunnelKind::Erspan1, None),
        (&e2[..], TunnelKind::Erspan2, Some(42)),
        (&e3[..], TunnelKind::Erspan3, Some(7)),
    ] {
        let frame = eth(MAC_A, MAC_B, 0x0800, &outer_v4(47, &[hdr, &inner].concat()));
        let d = packet(LinkType::ETHERNET, &frame);
        assert_inner_v4(&d);
        assert_eq!(d.src_mac, Some(MAC_INNER), "{kind:?}");
        let t = tunnel(&d);
        assert_eq!((t.kind, t.id, t.depth), (kind, id, 1));
    }
    // A type II header with version 2 is refused.
    let mut bad = e2;
    bad[8] = 0x20;
    let frame = outer_v4(47, &[&bad[..], &inner].concat());
    assert_eq!(
        decode(LinkType::RAW, &frame).unwrap_err(),
        DecodeError::MalformedTunnel
    );
}

// ------------------------------------------------------------ UDP tunnels

#[rustfmt::skip]
const VXLAN: [u8; 8] = [
    0x08, 0x00, 0x00, 0x00, // flags: I; reserved
    0x00, 0x30, 0x39, 0x00, // VNI 12345, reserved
];

#[test]
fn vxlan_unwraps_to_the_inner_frame() {
    let inner = eth(MAC_INNER, MAC_B, 0x0800, &INNER_V4);
    let outer_udp = udp(51000, 4789, &[&VXLAN[..], &inner].concat());
    #[rustfmt::skip]
    let tag = [0x00, 0x05, 0x08, 0x00]; // VLAN 5, next IPv4
    let frame = eth(
        MAC_A,
        MAC_B,
        0x8100,
        &[&tag[..], &outer_v4(17, &outer_udp)].concat(),
    );
    let d = packet(LinkType::ETHERNET, &frame);
    assert_inner_v4(&d);
    assert_eq!((d.src_mac, d.vlan), (Some(MAC_INNER), None));
    let t = tunnel(&d);
    assert_eq!(
        (t.kind, t.id, t.outer_vlan),
        (TunnelKind::Vxlan, Some(12345), Some(5))
    );
    assert_eq!(t.outer_src, Some(ip("203.0.113.1")));
}

#[test]
fn udp_tunnel_ports_fall_back_to_plain_udp() {
    // A DNS query from port 4789 to port 4789: flags 0x12 are not VXLAN's.
    let dns = [0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0];
    let frame = outer_v4(17, &udp(4789, 4789, &dns));
    let d = packet(LinkType::RAW, &frame);
    assert_eq!((d.dst_port, d.payload, d.tunnel), (4789, &dns[..], None));
    // A plausible VXLAN header whose "frame" is not IP: still plain UDP.
    let not_eth = [&VXLAN[..], &[0u8; 20]].concat();
    let frame = outer_v4(17, &udp(53, 4789, &not_eth));
    let d = packet(LinkType::RAW, &frame);
    assert_eq!((d.src_port, d.payload.len(), d.tunnel), (53, 28, None));
    // Geneve with broken option lengths, GTP echo request, Teredo whose
    // IPv6 length disagrees: plain UDP each.
    let geneve = [0x01, 0x00, 0x65, 0x58, 0, 0, 1, 0, 0x01, 0x02, 0x03, 0x05];
    let gtp_echo = [0x32, 0x01, 0x00, 0x04, 0, 0, 0, 0, 0x00, 0x01, 0x00, 0x00];
    let mut teredo = INNER_V6.to_vec();
    teredo[5] = 0x40;
    for (port, payload) in [(6081, &geneve[..]), (2152, &gtp_echo), (3544, &teredo)] {
        let frame = outer_v4(17, &udp(40000, port, payload));
        let d = packet(LinkType::RAW, &frame);
        assert_eq!(
            (d.dst_port, d.payload, d.tunnel),
            (port, payload, None),
            "{port}"
        );
    }
}

#[test]
fn geneve_with_options() {
    #[rustfmt::skip]
    let geneve = [
        0x02, 0x00, 0x65, 0x58, // version 0, options 2 words; protocol Ethernet
        0x00, 0x00, 0x64, 0x00, // VNI 100, reserved
        0x01, 0x02, 0x03, 0x01, // option class 0x0102, type 3, length 1 word
        0xaa, 0xbb, 0xcc, 0xdd, // option data
    ];
    let inner = eth(MAC_INNER, MAC_B, 0x0800, &INNER_V4);
    let frame = outer_v4(17, &udp(1234, 6081, &[&geneve[..], &inner].concat()));
    let d = packet(LinkType::RAW, &frame);
    assert_inner_v4(&d);
    assert_eq!(
        (tunnel(&d).kind, tunnel(&d).id),
        (TunnelKind::Geneve, Some(100))
    );
    // Protocol IPv6 directly, no options.
    let geneve = [0x00, 0x00, 0x86, 0xdd, 0x00, 0x00, 0x01, 0x00];
    let frame = outer_v4(17, &udp(1234, 6081, &[&geneve[..], &INNER_V6].concat()));
    assert_inner_v6(&packet(LinkType::RAW, &frame));
}

#[test]
fn teredo_with_indicators() {
    #[rustfmt::skip]
    let auth = [
        0x00, 0x01, 0x02, 0x00, // authentication: ID-len 2, AU-len 0
        0xaa, 0xbb,             // client id
        1, 2, 3, 4, 5, 6, 7, 8, // nonce
        0x00,                   // confirmation
    ];
    #[rustfmt::skip]
    let origin = [
        0x00, 0x00, 0xfc, 0x1f, // origin indication, obfuscated port
        0x3f, 0xff, 0x8d, 0xfe, // obfuscated IPv4
    ];
    for prefix in [&[][..], &origin[..], &[&auth[..], &origin].concat()] {
        let frame = outer_v4(17, &udp(3544, 50000, &[prefix, &INNER_V6].concat()));
        let d = packet(LinkType::RAW, &frame);
        assert_inner_v6(&d);
        assert_eq!(tunnel(&d).kind, TunnelKind::Teredo);
    }
}

#[test]
fn gtpu_with_extension_headers() {
    #[rustfmt::skip]
    let gtp = [
        0x34, 0xff, 0x00, 0x3c, // version 1, PT, E; G-PDU; length
        0x00, 0x00, 0x10, 0x01, // TEID 0x1001
        0x00, 0x00, 0x00, 0x85, // sequence, N-PDU, next: PDU session container
        0x01, 0x00, 0x01, 0x00, // ext: 1 word, content, next: none
    ];
    let frame = outer_v4(17, &udp(2152, 2152, &[&gtp[..], &INNER_V6].concat()));
    let d = packet(LinkType::RAW, &frame);
    assert_inner_v6(&d);
    assert_eq!(
        (tunnel(&d).kind, tunnel(&d).id),
        (TunnelKind::GtpU, Some(0x1001))
    );
    // A zero-length extension header is a broken tunnel, counted as such.
    let mut bad = gtp;
    bad[12] = 0;
    let frame = outer_v4(17, &udp(2152, 2152, &[&bad[..], &INNER_V6].concat()));
    assert_eq!(
        decode(LinkType::RAW, &frame).unwrap_err(),
        DecodeError::MalformedTunnel
    );
}

#[test]
fn mpls_in_udp() {
    let stack = [0x00, 0x06, 0x41, 0x40]; // label 100, S=1
    let frame = outer_v4(17, &udp(49999, 6635, &[&stack[..], &INNER_V4].concat()));
    let d = packet(LinkType::RAW, &frame);
    assert_inner_v4(&d);
    let t = tunnel(&d);
    assert_eq!((t.kind, t.id, t.depth), (TunnelKind::Mpls, Some(100), 1));
    assert_eq!(t.outer_src, Some(ip("203.0.113.1")));
}

// ------------------------------------------------------- IP in IP, nesting

#[test]
fn ip_in_ip_kinds() {
    let f = outer_v4(41, &INNER_V6);
    let d = packet(LinkType::RAW, &f);
    assert_inner_v6(&d);
    assert_eq!(tunnel(&d).kind, TunnelKind::SixIn4);
    let f = outer_v4(4, &INNER_V4);
    let d = packet(LinkType::RAW, &f);
    assert_eq!(tunnel(&d).kind, TunnelKind::IpIp);
    let f = outer_v6(41, &INNER_V6);
    let d = packet(LinkType::RAW, &f);
    assert_eq!(tunnel(&d).kind, TunnelKind::IpIp);
    let f = outer_v6(4, &INNER_V4);
    let d = packet(LinkType::RAW, &f);
    assert_inner_v4(&d);
    assert_eq!(tunnel(&d).outer_dst, Some(ip("2001:db8:ff::2")));
}

#[test]
fn nesting_records_every_layer_up_to_the_limit() {
    // MPLS → IPv4 → GRE → IPv4 → UDP/VXLAN → Ethernet → IPv6-in-IPv4 (6in4).
    let six_in_four = outer_v4(41, &INNER_V6);
    let inner_eth = eth(MAC_INNER, MAC_B, 0x0800, &six_in_four);
    let vxlan = outer_v4(17, &udp(1, 4789, &[&VXLAN[..], &inner_eth].concat()));
    let gre = outer_v4(
        47,
        &[&[0x20, 0x00, 0x08, 0x00, 0, 0, 0, 7][..], &vxlan].concat(),
    );
    let mpls = [&[0x00, 0x01, 0x01, 0x40][..], &gre].concat();
    let frame = eth(MAC_A, MAC_B, 0x8847, &mpls);
    let d = packet(LinkType::ETHERNET, &frame);
    assert_inner_v6(&d);
    let t = tunnel(&d);
    assert_eq!(
        t.layers(),
        &[
            TunnelKind::Mpls,
            TunnelKind::Gre,
            TunnelKind::Vxlan,
            TunnelKind::SixIn4
        ]
    );
    assert_eq!(usize::from(t.depth), MAX_ENCAP_DEPTH);
    // The outermost tunnel is described: MPLS on the link, no outer IP.
    assert_eq!(
        (t.kind, t.id, t.outer_src),
        (TunnelKind::Mpls, Some(16), None)
    );
    // One layer more is over the limit.
    let deeper = outer_v4(4, &gre);
    let frame = eth(
        MAC_A,
        MAC_B,
        0x8847,
        &[&[0x00, 0x01, 0x01, 0x40][..], &deeper].concat(),
    );
    assert_eq!(
        decode(LinkType::ETHERNET, &frame).unwrap_err(),
        DecodeError::EncapDepthLimit
    );
}

#[test]
fn udp_tunnel_over_the_depth_limit_is_counted_not_hidden() {
    // Five nested VXLAN layers: the fifth is over the limit; the error is
    // reported rather than the fourth layer's UDP datagram.
    let mut pkt = INNER_V4.to_vec();
    for _ in 0..=MAX_ENCAP_DEPTH {
        let frame = eth(MAC_INNER, MAC_B, 0x0800, &pkt);
        pkt = outer_v4(17, &udp(1, 4789, &[&VXLAN[..], &frame].concat()));
    }
    assert_eq!(
        decode(LinkType::RAW, &pkt).unwrap_err(),
        DecodeError::EncapDepthLimit
    );
}

// -------------------------------------------------------------- fragments

#[test]
fn ipv4_fragment_inside_gre_carries_the_tunnel() {
    let mut first = INNER_V4;
    first[6] = 0x20; // MF, offset 0
    let gre = [0x20, 0x00, 0x08, 0x00, 0, 0, 0, 9]; // K, key 9
    let frame = eth(
        MAC_A,
        MAC_B,
        0x0800,
        &outer_v4(47, &[&gre[..], &first].concat()),
    );
    match decode_frame(LinkType::ETHERNET, &frame).unwrap() {
        Frame::Fragment(f) => {
            assert_eq!((f.id, f.offset, f.more), (1, 0, true));
            assert_eq!(f.data, &INNER_V4[20..]);
            assert_eq!(f.meta.protocol, 17);
            assert_eq!(
                (f.meta.src_ip, f.meta.dst_ip),
                (ip("192.0.2.1"), ip("198.51.100.53"))
            );
            assert_eq!(f.meta.tunnel.unwrap().id, Some(9));
            // Reassembled (here: the one fragment), it decodes with the
            // tunnel kept.
            match decode_reassembled(&f.meta, f.data).unwrap() {
                Frame::Packet(d) => {
                    assert_inner_v4(&d);
                    assert_eq!(d.tunnel.unwrap().id, Some(9));
                }
                other => panic!("{other:?}"),
            }
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        decode(LinkType::ETHERNET, &frame).unwrap_err(),
        DecodeError::IpFragment
    );
}

#[test]
fn ipv6_fragment_fields() {
    #[rustfmt::skip]
    let frag_hdr = [
        0x11, 0x00,             // next header UDP, reserved
        0x00, 0xb9,             // offset 23 (184 bytes), M set
        0x01, 0x02, 0x03, 0x04, // identification
    ];
    let mut p = INNER_V6[..40].to_vec();
    p[4..6].copy_from_slice(&(8u16 + 16).to_be_bytes());
    p[6] = 44;
    p.extend_from_slice(&frag_hdr);
    p.extend_from_slice(&[7; 16]);
    match decode_frame(LinkType::RAW, &p).unwrap() {
        Frame::Fragment(f) => {
            assert_eq!((f.id, f.offset, f.more), (0x0102_0304, 184, true));
            assert_eq!(f.data, &[7; 16]);
            assert!(f.meta.is_ipv6());
            assert_eq!(f.meta.protocol, 17);
            assert_eq!(f.meta.src_ip, ip("2001:db8::1"));
            assert_eq!(f.meta.tunnel, None);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn reassembled_ipv6_payload_walks_its_extension_headers() {
    // Fragmentable part: destination options, then UDP.
    let meta = FragmentMeta {
        src_mac: None,
        dst_mac: None,
        vlan: Some(3),
        inner_vlan: None,
        tunnel: None,
        src_ip: ip("2001:db8::1"),
        dst_ip: ip("2001:db8::53"),
        protocol: 60,
    };
    let payload = [&[0x11, 0x00, 0x01, 0x04, 0, 0, 0, 0][..], &INNER_V6[40..]].concat();
    match decode_reassembled(&meta, &payload).unwrap() {
        Frame::Packet(d) => {
            assert_inner_v6(&d);
            assert_eq!(d.vlan, Some(3));
        }
        other => panic!("{other:?}"),
    }
    // A fragment header inside a reassembled payload is malformed.
    let meta = FragmentMeta {
        protocol: 44,
        ..meta
    };
    assert_eq!(
        decode_reassembled(&meta, &[17, 0, 0, 1, 0, 0, 0, 1, 0, 0]).unwrap_err(),
        DecodeError::MalformedIp
    );
}

/// Every prefix of every tunnel frame above decodes (flagged truncated, or
/// as the plain UDP around a cut UDP tunnel) or fails cleanly; no panics.
#[test]
fn every_prefix_of_tunnel_frames_is_safe() {
    let inner = eth(MAC_INNER, MAC_B, 0x0800, &INNER_V4);
    let frames: Vec<(LinkType, Vec<u8>)> = vec![
        (
            LinkType::RAW,
            outer_v4(17, &udp(1, 4789, &[&VXLAN[..], &inner].concat())),
        ),
        (
            LinkType::RAW,
            outer_v4(
                47,
                &[
                    &[0x10, 0, 0x88, 0xbe, 0, 0, 0, 1, 0x10, 0, 0, 1, 0, 0, 0, 0][..],
                    &inner,
                ]
                .concat(),
            ),
        ),
        (LinkType::RAW, outer_v4(41, &INNER_V6)),
        (LinkType(239), nflog_record(true)),
        (
            LinkType::ETHERNET,
            eth(
                MAC_A,
                MAC_B,
                0x8864,
                &[&[0x11, 0, 0, 1, 0, 0x22, 0, 0x21][..], &INNER_V4].concat(),
            ),
        ),
    ];
    for (lt, frame) in &frames {
        let full = decode(*lt, frame).unwrap();
        for cut in 0..frame.len() {
            match decode_frame(*lt, &frame[..cut]) {
                Ok(Frame::Packet(d)) => {
                    let depth = d.tunnel.map_or(0, |t| t.depth);
                    if (d.src_ip, d.dst_ip) == (full.src_ip, full.dst_ip) {
                        // The inner datagram, cut: a prefix of the full one.
                        assert!(d.truncated, "{lt:?} cut at {cut}");
                        assert!(full.payload.starts_with(d.payload));
                    } else {
                        // The UDP datagram around a cut tunnel.
                        assert!(depth < full.tunnel.unwrap().depth, "{lt:?} cut at {cut}");
                    }
                }
                Ok(Frame::Fragment(_)) => panic!("no fragment in {lt:?}"),
                Err(_) => {}
            }
        }
    }
}
