//! Unit tests over annotated frames: every link type, every error label, and
//! the truncation rules. Addresses are from the documentation ranges
//! (RFC 5737, RFC 3849).

use std::collections::HashSet;
use std::net::IpAddr;

use super::*;
use crate::config::limits::{MAX_ENCAP_DEPTH, MAX_IP_EXT_HEADERS, MAX_MPLS_LABELS, MAX_VLAN_TAGS};

const SRC_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x01];
const DST_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x02];

/// Ethernet II header announcing IPv4.
#[rustfmt::skip]
const ETH_IPV4: [u8; 14] = [
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02, // destination MAC
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // source MAC
    0x08, 0x00,                         // ethertype IPv4
];

/// Ethernet II header announcing IPv6.
#[rustfmt::skip]
const ETH_IPV6: [u8; 14] = [
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02, // destination MAC
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // source MAC
    0x86, 0xdd,                         // ethertype IPv6
];

/// IPv4 + UDP 49152 → 53 with a 4-byte payload (32 bytes in all).
#[rustfmt::skip]
const IPV4_UDP: [u8; 32] = [
    0x45, 0x00, 0x00, 0x20, // version 4, IHL 5, total length 32
    0x12, 0x34, 0x40, 0x00, // identification, flags DF, fragment offset 0
    0x40, 0x11, 0x00, 0x00, // TTL 64, protocol 17 (UDP), checksum (unchecked)
    192, 0, 2, 1,           // source 192.0.2.1
    198, 51, 100, 53,       // destination 198.51.100.53
    0xc0, 0x00, 0x00, 0x35, // UDP source port 49152, destination port 53
    0x00, 0x0c, 0x00, 0x00, // UDP length 12, checksum
    0xde, 0xad, 0xbe, 0xef, // payload
];
/// Offset of the IPv4 flags/fragment-offset word in [`IPV4_UDP`].
const V4_FRAG: usize = 6;
/// Offset of the IPv4 protocol byte.
const V4_PROTO: usize = 9;
/// Offset of the UDP length in [`IPV4_UDP`].
const V4_UDP_LEN: usize = 24;

/// IPv4 with one option word + TCP with one option word, 4-byte payload.
#[rustfmt::skip]
const IPV4_TCP: [u8; 52] = [
    0x46, 0x00, 0x00, 0x34, // version 4, IHL 6, total length 52
    0x00, 0x01, 0x00, 0x00, // identification, no flags, offset 0
    0x40, 0x06, 0x00, 0x00, // TTL 64, protocol 6 (TCP), checksum
    192, 0, 2, 1,           // source 192.0.2.1
    198, 51, 100, 80,       // destination 198.51.100.80
    0x01, 0x01, 0x01, 0x00, // IP options: NOP NOP NOP EOL
    0xc0, 0x01, 0x00, 0x50, // TCP source port 49153, destination port 80
    0x00, 0x00, 0x10, 0x00, // sequence number 0x1000
    0x00, 0x00, 0x20, 0x00, // acknowledgment number 0x2000
    0x60, 0x18, 0xff, 0xff, // data offset 6, flags PSH|ACK, window
    0x00, 0x00, 0x00, 0x00, // checksum, urgent pointer
    0x01, 0x01, 0x01, 0x01, // TCP options: 4 x NOP
    b'G', b'E', b'T', b' ', // payload
];
/// Offset of the TCP data-offset byte in [`IPV4_TCP`].
const V4_TCP_OFF: usize = 36;

/// IPv6 + UDP 49153 → 53 with a 4-byte payload (52 bytes in all).
#[rustfmt::skip]
const IPV6_UDP: [u8; 52] = [
    0x60, 0x00, 0x00, 0x00, // version 6, traffic class 0, flow label 0
    0x00, 0x0c, 0x11, 0x40, // payload length 12, next header UDP, hop limit 64
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, // 2001:db8::1
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x53, // 2001:db8::53
    0xc0, 0x01, 0x00, 0x35, // UDP source port 49153, destination port 53
    0x00, 0x0c, 0x00, 0x00, // UDP length 12, checksum
    0xca, 0xfe, 0xba, 0xbe, // payload
];
/// Offset of the IPv6 payload length and next header in [`IPV6_UDP`].
const V6_PLEN: usize = 4;
const V6_NEXT: usize = 6;
const V6_HEADER: usize = 40;

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn v4_src() -> IpAddr {
    "192.0.2.1".parse().unwrap()
}

fn v6_src() -> IpAddr {
    "2001:db8::1".parse().unwrap()
}

/// Check the fields every IPv4/UDP test frame built on [`IPV4_UDP`] shares.
fn assert_ipv4_udp(d: &Decoded<'_>) {
    assert_eq!(d.src_ip, v4_src());
    assert_eq!(d.dst_ip, "198.51.100.53".parse::<IpAddr>().unwrap());
    assert_eq!((d.src_port, d.dst_port), (49152, 53));
    assert_eq!(d.l4, L4::Udp);
    assert_eq!(d.payload, &[0xde, 0xad, 0xbe, 0xef]);
    assert!(!d.truncated);
}

fn assert_ipv6_udp(d: &Decoded<'_>) {
    assert_eq!(d.src_ip, v6_src());
    assert_eq!(d.dst_ip, "2001:db8::53".parse::<IpAddr>().unwrap());
    assert_eq!((d.src_port, d.dst_port), (49153, 53));
    assert_eq!(d.l4, L4::Udp);
    assert_eq!(d.payload, &[0xca, 0xfe, 0xba, 0xbe]);
    assert!(!d.truncated);
}

/// An IPv6 packet whose extension header chain is `exts` (each a complete
/// header whose first byte is its next-header field, set here) before
/// [`IPV6_UDP`]'s UDP datagram; payload length and next-header are fixed up.
fn ipv6_with_exts(exts: &[(u8, &[u8])]) -> Vec<u8> {
    let udp = &IPV6_UDP[V6_HEADER..];
    let mut chain: Vec<u8> = Vec::new();
    for (i, (_, body)) in exts.iter().enumerate() {
        let mut h = body.to_vec();
        h[0] = exts.get(i + 1).map_or(17, |(kind, _)| *kind);
        chain.extend_from_slice(&h);
    }
    let mut p = IPV6_UDP[..V6_HEADER].to_vec();
    let plen = u16::try_from(chain.len() + udp.len()).unwrap();
    p[V6_PLEN..V6_PLEN + 2].copy_from_slice(&plen.to_be_bytes());
    p[V6_NEXT] = exts.first().map_or(17, |(kind, _)| *kind);
    p.extend_from_slice(&chain);
    p.extend_from_slice(udp);
    p
}

/// Hop-by-hop / destination options: next header, length 0 (8 bytes), PadN.
#[rustfmt::skip]
const EXT_OPTS: [u8; 8] = [0xff, 0x00, 0x01, 0x04, 0x00, 0x00, 0x00, 0x00];
/// Routing header type 0 segments-left 0, no addresses (8 bytes).
#[rustfmt::skip]
const EXT_ROUTING: [u8; 8] = [0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00];
/// Atomic fragment header: offset 0, M clear (RFC 6946).
#[rustfmt::skip]
const EXT_FRAG_ATOMIC: [u8; 8] = [0xff, 0x00, 0x00, 0x00, 0xaa, 0xbb, 0xcc, 0xdd];
/// Fragment header: offset 0, M set (first fragment).
#[rustfmt::skip]
const EXT_FRAG_FIRST: [u8; 8] = [0xff, 0x00, 0x00, 0x01, 0xaa, 0xbb, 0xcc, 0xdd];
/// Fragment header: offset 185 (1480 bytes), M clear (last fragment).
#[rustfmt::skip]
const EXT_FRAG_LAST: [u8; 8] = [0xff, 0x00, 0x05, 0xc8, 0xaa, 0xbb, 0xcc, 0xdd];
/// Authentication header: payload len 4 → (4+2)*4 = 24 bytes, 12-byte ICV.
#[rustfmt::skip]
const EXT_AH: [u8; 24] = [
    0xff, 0x04, 0x00, 0x00, // next header, payload len 4, reserved
    0x00, 0x00, 0x01, 0x00, // SPI
    0x00, 0x00, 0x00, 0x01, // sequence number
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // ICV
];

// ---------------------------------------------------------------- Ethernet

#[test]
fn ethernet_ipv4_udp_trims_padding() {
    // 14 + 32 = 46 bytes; pad to the 60-byte Ethernet minimum.
    let frame = cat(&[&ETH_IPV4, &IPV4_UDP, &[0u8; 14]]);
    let d = decode(LinkType::ETHERNET, &frame).unwrap();
    assert_ipv4_udp(&d);
    assert_eq!(d.src_mac, Some(SRC_MAC));
    assert_eq!(d.dst_mac, Some(DST_MAC));
    assert_eq!((d.vlan, d.inner_vlan), (None, None));
}

#[test]
fn ethernet_ipv6_udp() {
    let frame = cat(&[&ETH_IPV6, &IPV6_UDP, &[0u8; 6]]);
    let d = decode(LinkType::ETHERNET, &frame).unwrap();
    assert_ipv6_udp(&d);
    assert_eq!(d.src_mac, Some(SRC_MAC));
}

#[test]
fn ethernet_ipv4_tcp_options_skipped() {
    let frame = cat(&[&ETH_IPV4, &IPV4_TCP]);
    let d = decode(LinkType::ETHERNET, &frame).unwrap();
    assert_eq!(d.src_ip, v4_src());
    assert_eq!((d.src_port, d.dst_port), (49153, 80));
    assert_eq!(
        d.l4,
        L4::Tcp(TcpInfo {
            seq: 0x1000,
            ack: 0x2000,
            flags: 0x18
        })
    );
    assert_eq!(d.payload, b"GET ");
    assert!(!d.truncated);
}

#[test]
fn ethernet_too_short_is_truncated() {
    assert_eq!(
        decode(LinkType::ETHERNET, &ETH_IPV4[..13]).unwrap_err(),
        DecodeError::Truncated
    );
    // Header complete, IP header missing.
    assert_eq!(
        decode(LinkType::ETHERNET, &ETH_IPV4).unwrap_err(),
        DecodeError::Truncated
    );
}

#[test]
fn ethernet_non_ip_ethertypes() {
    #[rustfmt::skip]
    let cases: [(u16, DecodeError); 5] = [
        (0x0806, DecodeError::NotIp), // ARP
        (0x88cc, DecodeError::NotIp), // LLDP
        (0x002e, DecodeError::NotIp), // 802.3 length field (LLC follows)
        (0x8863, DecodeError::NotIp), // PPPoE discovery
        (0x8035, DecodeError::NotIp), // RARP
    ];
    for (ether_type, want) in cases {
        let mut frame = cat(&[&ETH_IPV4, &IPV4_UDP]);
        frame[12..14].copy_from_slice(&ether_type.to_be_bytes());
        assert_eq!(
            decode(LinkType::ETHERNET, &frame).unwrap_err(),
            want,
            "ethertype {ether_type:#06x}"
        );
    }
}

/// An 802.1Q-style tag: TPID was written by the previous header; this is
/// TCI (PCP 0, DEI 0, VID) + the next ethertype.
fn vlan_tag(vid: u16, next: u16) -> [u8; 4] {
    let [a, b] = vid.to_be_bytes();
    let [c, d] = next.to_be_bytes();
    [a, b, c, d]
}

/// Ethernet frame with VLAN tags `tpids[i]`/`vids[i]` around IPv4/UDP.
fn tagged(tpids: &[u16], vids: &[u16]) -> Vec<u8> {
    let mut f = ETH_IPV4[..12].to_vec();
    f.extend_from_slice(&tpids[0].to_be_bytes());
    for (i, vid) in vids.iter().enumerate() {
        let next = tpids.get(i + 1).copied().unwrap_or(0x0800);
        f.extend_from_slice(&vlan_tag(*vid, next));
    }
    f.extend_from_slice(&IPV4_UDP);
    f
}

#[test]
fn vlan_single_tag() {
    #[rustfmt::skip]
    let frame: [u8; 18] = [
        0x02, 0x00, 0x00, 0x00, 0x00, 0x02, // destination MAC
        0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // source MAC
        0x81, 0x00,                         // TPID 802.1Q
        0xa0, 0x64,                         // PCP 5, DEI 0, VID 100
        0x08, 0x00,                         // ethertype IPv4
    ];
    let frame = cat(&[&frame, &IPV4_UDP]);
    let d = decode(LinkType::ETHERNET, &frame).unwrap();
    assert_ipv4_udp(&d);
    assert_eq!((d.vlan, d.inner_vlan), (Some(100), None));
}

#[test]
fn vlan_qinq_records_outer_and_inner() {
    let frame = tagged(&[0x88a8, 0x8100], &[10, 20]);
    let d = decode(LinkType::ETHERNET, &frame).unwrap();
    assert_ipv4_udp(&d);
    assert_eq!((d.vlan, d.inner_vlan), (Some(10), Some(20)));

    let frame = tagged(&[0x9100, 0x8100], &[4095, 0]);
    let d = decode(LinkType::ETHERNET, &frame).unwrap();
    assert_eq!((d.vlan, d.inner_vlan), (Some(4095), Some(0)));
}

#[test]
fn vlan_depth_limit() {
    let tpids = [0x88a8u16; MAX_VLAN_TAGS + 1];
    let vids: Vec<u16> = (1..=MAX_VLAN_TAGS as u16 + 1).collect();
    // Exactly at the limit: decodes; the third tag onwards is not recorded.
    let frame = tagged(&tpids[..MAX_VLAN_TAGS], &vids[..MAX_VLAN_TAGS]);
    let d = decode(LinkType::ETHERNET, &frame).unwrap();
    assert_ipv4_udp(&d);
    assert_eq!((d.vlan, d.inner_vlan), (Some(1), Some(2)));
    // One more tag than the limit.
    let frame = tagged(&tpids, &vids);
    assert_eq!(
        decode(LinkType::ETHERNET, &frame).unwrap_err(),
        DecodeError::VlanDepthLimit
    );
}

#[test]
fn vlan_tag_cut_is_truncated() {
    let frame = tagged(&[0x8100], &[7]);
    assert_eq!(
        decode(LinkType::ETHERNET, &frame[..16]).unwrap_err(),
        DecodeError::Truncated
    );
}

#[test]
fn vlan_then_mpls() {
    // VLAN 7, then one MPLS entry (label 16, S=1, TTL 64), then IPv4/UDP:
    // the VLAN stays (MPLS rides in the same frame).
    let mut frame = tagged(&[0x8100], &[7]);
    frame[16..18].copy_from_slice(&0x8847u16.to_be_bytes());
    frame.splice(18..18, [0x00, 0x01, 0x01, 0x40]);
    let d = decode(LinkType::ETHERNET, &frame).unwrap();
    assert_ipv4_udp(&d);
    assert_eq!(d.vlan, Some(7));
    let t = d.tunnel.unwrap();
    assert_eq!((t.kind, t.id, t.depth), (TunnelKind::Mpls, Some(16), 1));
    assert_eq!((t.outer_src, t.outer_vlan), (None, Some(7)));
}

// ------------------------------------------------------- BSD NULL / LOOP

#[test]
fn null_both_byte_orders() {
    for (family, ip) in [
        (2u32, &IPV4_UDP[..]),
        (24, &IPV6_UDP[..]),
        (28, &IPV6_UDP[..]),
        (30, &IPV6_UDP[..]),
    ] {
        for header in [family.to_le_bytes(), family.to_be_bytes()] {
            let frame = cat(&[&header, ip]);
            let d = decode(LinkType::NULL, &frame).unwrap();
            assert_eq!(d.src_mac, None);
            if family == 2 {
                assert_ipv4_udp(&d);
            } else {
                assert_ipv6_udp(&d);
            }
        }
    }
}

#[test]
fn null_other_family_and_short() {
    // AF 7 (OSI) and 23 (IPX) are not IP.
    for family in [7u32, 23, 10] {
        let frame = cat(&[&family.to_le_bytes(), &IPV4_UDP]);
        assert_eq!(
            decode(LinkType::NULL, &frame).unwrap_err(),
            DecodeError::NotIp
        );
    }
    assert_eq!(
        decode(LinkType::NULL, &[2, 0, 0]).unwrap_err(),
        DecodeError::Truncated
    );
}

#[test]
fn null_family_disagreeing_with_version_is_malformed() {
    // Says AF_INET, carries IPv6.
    let frame = cat(&[&[2, 0, 0, 0], &IPV6_UDP]);
    assert_eq!(
        decode(LinkType::NULL, &frame).unwrap_err(),
        DecodeError::MalformedIp
    );
}

#[test]
fn loop_is_big_endian_only() {
    #[rustfmt::skip]
    let header: [u8; 4] = [0x00, 0x00, 0x00, 0x02]; // AF_INET, network order
    let f = cat(&[&header, &IPV4_UDP]);
    let d = decode(LinkType::LOOP, &f).unwrap();
    assert_ipv4_udp(&d);
    let f = cat(&[&[0, 0, 0, 30], &IPV6_UDP]);
    let d = decode(LinkType::LOOP, &f).unwrap();
    assert_ipv6_udp(&d);
    // Little-endian AF_INET is not valid LOOP.
    assert_eq!(
        decode(LinkType::LOOP, &cat(&[&[2, 0, 0, 0], &IPV4_UDP])).unwrap_err(),
        DecodeError::NotIp
    );
}

// ------------------------------------------------------------ raw IP links

#[test]
fn raw_links_pick_version_from_nibble() {
    for lt in [LinkType::RAW, LinkType(12), LinkType(14)] {
        assert_ipv4_udp(&decode(lt, &IPV4_UDP).unwrap());
        assert_ipv6_udp(&decode(lt, &IPV6_UDP).unwrap());
        assert_eq!(decode(lt, &[]).unwrap_err(), DecodeError::Truncated);
        let mut bad = IPV4_UDP;
        bad[0] = 0x55; // version 5
        assert_eq!(decode(lt, &bad).unwrap_err(), DecodeError::MalformedIp);
    }
}

#[test]
fn ipv4_and_ipv6_linktypes_check_version() {
    assert_ipv4_udp(&decode(LinkType::IPV4, &IPV4_UDP).unwrap());
    assert_ipv6_udp(&decode(LinkType::IPV6, &IPV6_UDP).unwrap());
    assert_eq!(
        decode(LinkType::IPV4, &IPV6_UDP).unwrap_err(),
        DecodeError::MalformedIp
    );
    assert_eq!(
        decode(LinkType::IPV6, &IPV4_UDP).unwrap_err(),
        DecodeError::MalformedIp
    );
}

#[test]
fn unsupported_linktypes() {
    // FDDI, IEEE 802.11, 802.11 radiotap, Bluetooth HCI, USB.
    for lt in [10u32, 105, 127, 201, 220] {
        assert_eq!(
            decode(LinkType(lt), &IPV4_UDP).unwrap_err(),
            DecodeError::UnsupportedLinktype
        );
    }
}

// ------------------------------------------------------ Linux cooked (SLL)

#[test]
fn sll_v1_source_address() {
    #[rustfmt::skip]
    let header: [u8; 16] = [
        0x00, 0x00,                         // packet type: to us
        0x00, 0x01,                         // ARPHRD_ETHER
        0x00, 0x06,                         // address length 6
        0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // address
        0x00, 0x00,                         // address padding
        0x08, 0x00,                         // protocol IPv4
    ];
    let f = cat(&[&header, &IPV4_UDP]);
    let d = decode(LinkType::LINUX_SLL, &f).unwrap();
    assert_ipv4_udp(&d);
    assert_eq!((d.src_mac, d.dst_mac), (Some(SRC_MAC), None));

    // Address length 4 (e.g. an IPIP tunnel device): no MAC; IPv6 payload.
    let mut h = header;
    h[5] = 4;
    h[14..16].copy_from_slice(&[0x86, 0xdd]);
    let f = cat(&[&h, &IPV6_UDP]);
    let d = decode(LinkType::LINUX_SLL, &f).unwrap();
    assert_ipv6_udp(&d);
    assert_eq!(d.src_mac, None);

    // Unknown packet type and ARPHRD_NONE (0xfffe) are still decoded.
    let mut h = header;
    h[0..4].copy_from_slice(&[0x00, 0x63, 0xff, 0xfe]);
    assert_ipv4_udp(&decode(LinkType::LINUX_SLL, &cat(&[&h, &IPV4_UDP])).unwrap());

    // ARP, the Linux 802.2 pseudo-ethertype, a truncated header.
    let mut h = header;
    h[14..16].copy_from_slice(&[0x08, 0x06]);
    assert_eq!(
        decode(LinkType::LINUX_SLL, &cat(&[&h, &IPV4_UDP])).unwrap_err(),
        DecodeError::NotIp
    );
    h[14..16].copy_from_slice(&[0x00, 0x04]);
    assert_eq!(
        decode(LinkType::LINUX_SLL, &cat(&[&h, &IPV4_UDP])).unwrap_err(),
        DecodeError::NotIp
    );
    assert_eq!(
        decode(LinkType::LINUX_SLL, &header[..15]).unwrap_err(),
        DecodeError::Truncated
    );
}

#[test]
fn sll_v2_source_address() {
    #[rustfmt::skip]
    let header: [u8; 20] = [
        0x86, 0xdd,                         // protocol IPv6
        0x00, 0x00,                         // reserved
        0x00, 0x00, 0x00, 0x02,             // interface index 2
        0x00, 0x01,                         // ARPHRD_ETHER
        0x04,                               // packet type: outgoing
        0x06,                               // address length 6
        0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // address
        0x00, 0x00,                         // address padding
    ];
    let f = cat(&[&header, &IPV6_UDP]);
    let d = decode(LinkType::LINUX_SLL2, &f).unwrap();
    assert_ipv6_udp(&d);
    assert_eq!((d.src_mac, d.dst_mac), (Some(SRC_MAC), None));

    // VLAN tag left in the payload by the kernel, then IPv4; address len 0.
    let mut h = header;
    h[0..2].copy_from_slice(&[0x81, 0x00]);
    h[11] = 0;
    let frame = cat(&[&h, &vlan_tag(42, 0x0800), &IPV4_UDP]);
    let d = decode(LinkType::LINUX_SLL2, &frame).unwrap();
    assert_ipv4_udp(&d);
    assert_eq!((d.src_mac, d.vlan), (None, Some(42)));

    assert_eq!(
        decode(LinkType::LINUX_SLL2, &header[..19]).unwrap_err(),
        DecodeError::Truncated
    );
}

// ------------------------------------------------------------------- IPv4

#[test]
fn ipv4_snaplen_keeps_what_was_captured() {
    // Ethernet + IP + UDP header + 2 of 4 payload bytes.
    let frame = cat(&[&ETH_IPV4, &IPV4_UDP[..30]]);
    let d = decode(LinkType::ETHERNET, &frame).unwrap();
    assert!(d.truncated);
    assert_eq!(d.payload, &[0xde, 0xad]);
    assert_eq!((d.src_port, d.dst_port), (49152, 53));

    // TCP: header intact, payload cut.
    let d = decode(LinkType::IPV4, &IPV4_TCP[..50]).unwrap();
    assert!(d.truncated);
    assert_eq!(d.payload, b"GE");
}

#[test]
fn ipv4_header_checks() {
    // Header cut inside the options.
    assert_eq!(
        decode(LinkType::IPV4, &IPV4_TCP[..22]).unwrap_err(),
        DecodeError::Truncated
    );
    // IHL 4 is below the minimum.
    let mut p = IPV4_UDP;
    p[0] = 0x44;
    assert_eq!(
        decode(LinkType::IPV4, &p).unwrap_err(),
        DecodeError::MalformedIp
    );
    // Total length 19 is shorter than the header.
    let mut p = IPV4_UDP;
    p[2..4].copy_from_slice(&19u16.to_be_bytes());
    assert_eq!(
        decode(LinkType::IPV4, &p).unwrap_err(),
        DecodeError::MalformedIp
    );
    // Total length 0 (segmentation offload): the frame length is used.
    let mut p = IPV4_UDP;
    p[2..4].copy_from_slice(&[0, 0]);
    assert_ipv4_udp(&decode(LinkType::IPV4, &p).unwrap());
}

#[test]
fn ipv4_fragments() {
    // MF set, offset 0: first fragment.
    let mut p = IPV4_UDP;
    p[V4_FRAG..V4_FRAG + 2].copy_from_slice(&[0x20, 0x00]);
    assert_eq!(
        decode(LinkType::IPV4, &p).unwrap_err(),
        DecodeError::IpFragment
    );
    // MF clear, offset 185: last fragment.
    p[V4_FRAG..V4_FRAG + 2].copy_from_slice(&[0x00, 0xb9]);
    assert_eq!(
        decode(LinkType::IPV4, &p).unwrap_err(),
        DecodeError::IpFragment
    );
    // DF alone is not a fragment (the base packet has DF).
    assert_ipv4_udp(&decode(LinkType::IPV4, &IPV4_UDP).unwrap());
}

#[test]
fn ipv4_authentication_header_skipped() {
    let mut p = IPV4_UDP[..20].to_vec();
    p[V4_PROTO] = 51;
    p[2..4].copy_from_slice(&(32u16 + 24).to_be_bytes());
    let mut ah = EXT_AH;
    ah[0] = 17;
    p.extend_from_slice(&ah);
    p.extend_from_slice(&IPV4_UDP[20..]);
    assert_ipv4_udp(&decode(LinkType::IPV4, &p).unwrap());
    // AH with payload length 0 is invalid.
    let ah_at = 20;
    p[ah_at + 1] = 0;
    assert_eq!(
        decode(LinkType::IPV4, &p).unwrap_err(),
        DecodeError::MalformedIp
    );
}

#[test]
fn ipv4_hop_by_hop_number_is_not_an_extension() {
    // Protocol 0 means nothing in IPv4: not walked as an IPv6 header.
    let mut p = IPV4_UDP;
    p[V4_PROTO] = 0;
    assert_eq!(
        decode(LinkType::IPV4, &p).unwrap_err(),
        DecodeError::OtherTransport
    );
}

// ------------------------------------------------------------------- IPv6

#[test]
fn ipv6_extension_chain_walked() {
    let p = ipv6_with_exts(&[
        (0, &EXT_OPTS),
        (60, &EXT_OPTS),
        (43, &EXT_ROUTING),
        (44, &EXT_FRAG_ATOMIC),
        (51, &EXT_AH),
        (60, &EXT_OPTS),
    ]);
    assert_ipv6_udp(&decode(LinkType::IPV6, &p).unwrap());
}

#[test]
fn ipv6_fragments() {
    for frag in [EXT_FRAG_FIRST, EXT_FRAG_LAST] {
        let p = ipv6_with_exts(&[(0, &EXT_OPTS), (44, &frag)]);
        assert_eq!(
            decode(LinkType::IPV6, &p).unwrap_err(),
            DecodeError::IpFragment
        );
    }
}

#[test]
fn ipv6_extension_limit() {
    let at_limit: Vec<(u8, &[u8])> = vec![(60, &EXT_OPTS); MAX_IP_EXT_HEADERS];
    assert_ipv6_udp(&decode(LinkType::IPV6, &ipv6_with_exts(&at_limit)).unwrap());
    let over: Vec<(u8, &[u8])> = vec![(60, &EXT_OPTS); MAX_IP_EXT_HEADERS + 1];
    assert_eq!(
        decode(LinkType::IPV6, &ipv6_with_exts(&over)).unwrap_err(),
        DecodeError::IpExtLimit
    );
}

#[test]
fn ipv6_extension_overrun() {
    // Destination options claiming 16 bytes (len 1) but the IP payload ends
    // after 8 + UDP: cut by the capture → truncated ...
    let mut p = ipv6_with_exts(&[(60, &EXT_OPTS)]);
    p[V6_HEADER + 1] = 8; // (8 + 1) * 8 = 72 bytes
    let full_len = p.len();
    let mut cut = p.clone();
    cut[V6_PLEN..V6_PLEN + 2].copy_from_slice(&200u16.to_be_bytes());
    assert_eq!(
        decode(LinkType::IPV6, &cut).unwrap_err(),
        DecodeError::Truncated
    );
    // ... but within a complete packet it is a lie → malformed.
    assert_eq!(full_len, V6_HEADER + 8 + 12);
    assert_eq!(
        decode(LinkType::IPV6, &p).unwrap_err(),
        DecodeError::MalformedIp
    );
}

#[test]
fn ipv6_header_checks() {
    assert_eq!(
        decode(LinkType::IPV6, &IPV6_UDP[..39]).unwrap_err(),
        DecodeError::Truncated
    );
    // Payload length 0 (jumbogram / offload): the frame length is used.
    let mut p = IPV6_UDP;
    p[V6_PLEN..V6_PLEN + 2].copy_from_slice(&[0, 0]);
    assert_ipv6_udp(&decode(LinkType::IPV6, &p).unwrap());
    // Payload length beyond the capture, but the UDP length shows the
    // datagram is whole: decoded, not truncated.
    let mut p = IPV6_UDP;
    p[V6_PLEN..V6_PLEN + 2].copy_from_slice(&100u16.to_be_bytes());
    assert_ipv6_udp(&decode(LinkType::IPV6, &p).unwrap());
    // The same with the last payload byte cut: truncated.
    let d = decode(LinkType::IPV6, &p[..51]).unwrap();
    assert!(d.truncated);
    assert_eq!(d.payload, &[0xca, 0xfe, 0xba]);
    // Trailing bytes beyond the payload length are not payload.
    let p = cat(&[&IPV6_UDP, &[0xee; 8]]);
    assert_ipv6_udp(&decode(LinkType::IPV6, &p).unwrap());
}

// -------------------------------------------------------------- transport

#[test]
fn other_ip_protocols() {
    #[rustfmt::skip]
    let cases: [(u8, DecodeError); 6] = [
        (1, DecodeError::OtherTransport),   // ICMP
        (132, DecodeError::OtherTransport), // SCTP
        (50, DecodeError::OtherTransport),  // ESP
        (136, DecodeError::OtherTransport), // UDP-Lite
        // The UDP bytes read as a GRE header: C and R set, R is refused.
        (47, DecodeError::MalformedTunnel),
        // The UDP bytes read as an inner IPv4 header: version 12.
        (4, DecodeError::MalformedIp),
    ];
    for (proto, want) in cases {
        let mut p = IPV4_UDP;
        p[V4_PROTO] = proto;
        assert_eq!(decode(LinkType::IPV4, &p).unwrap_err(), want, "v4 {proto}");
        let mut p = IPV6_UDP;
        p[V6_NEXT] = proto;
        assert_eq!(decode(LinkType::IPV6, &p).unwrap_err(), want, "v6 {proto}");
    }
    // IPv6 "no next header" and ICMPv6.
    for next in [59u8, 58] {
        let mut p = IPV6_UDP;
        p[V6_NEXT] = next;
        assert_eq!(
            decode(LinkType::IPV6, &p).unwrap_err(),
            DecodeError::OtherTransport
        );
    }
}

#[test]
fn udp_length_rules() {
    // UDP length shorter than the IP payload trims it.
    let mut p = IPV4_UDP;
    p[V4_UDP_LEN..V4_UDP_LEN + 2].copy_from_slice(&10u16.to_be_bytes());
    let d = decode(LinkType::IPV4, &p).unwrap();
    assert_eq!(d.payload, &[0xde, 0xad]);
    assert!(!d.truncated);
    // 0 → jumbogram rule: IP payload length.
    p[V4_UDP_LEN..V4_UDP_LEN + 2].copy_from_slice(&0u16.to_be_bytes());
    assert_ipv4_udp(&decode(LinkType::IPV4, &p).unwrap());
    // 1..=7 is malformed.
    p[V4_UDP_LEN..V4_UDP_LEN + 2].copy_from_slice(&7u16.to_be_bytes());
    assert_eq!(
        decode(LinkType::IPV4, &p).unwrap_err(),
        DecodeError::MalformedUdp
    );
    // Longer than a complete IP payload: decoded up to the IP payload's
    // end, marked truncated, and the anomaly is reported.
    p[V4_UDP_LEN..V4_UDP_LEN + 2].copy_from_slice(&13u16.to_be_bytes());
    let d = decode(LinkType::IPV4, &p).unwrap();
    assert_eq!(d.payload, &[0xde, 0xad, 0xbe, 0xef]);
    assert!(d.truncated);
    assert_eq!(d.anomaly, Some(DecodeAnomaly::UdpLengthOverrun));
    // Longer than the captured part of a cut IP packet: truncated, decoded.
    let d = decode(LinkType::IPV4, &IPV4_UDP[..29]).unwrap();
    assert!(d.truncated);
    assert_eq!(d.anomaly, None);
    assert_eq!(d.payload, &[0xde]);
    // UDP header itself cut.
    assert_eq!(
        decode(LinkType::IPV4, &IPV4_UDP[..27]).unwrap_err(),
        DecodeError::Truncated
    );
    // UDP header longer than a complete IP payload.
    let mut p = IPV4_UDP;
    p[2..4].copy_from_slice(&26u16.to_be_bytes());
    assert_eq!(
        decode(LinkType::IPV4, &p).unwrap_err(),
        DecodeError::MalformedUdp
    );
}

#[test]
fn tcp_header_rules() {
    // Data offset 4 (< 5).
    let mut p = IPV4_TCP;
    p[V4_TCP_OFF] = 0x40;
    assert_eq!(
        decode(LinkType::IPV4, &p).unwrap_err(),
        DecodeError::MalformedTcp
    );
    // Data offset 15 (60 bytes) in a complete 52-byte packet: malformed.
    p[V4_TCP_OFF] = 0xf0;
    assert_eq!(
        decode(LinkType::IPV4, &p).unwrap_err(),
        DecodeError::MalformedTcp
    );
    // Options cut by the capture: truncated.
    assert_eq!(
        decode(LinkType::IPV4, &IPV4_TCP[..46]).unwrap_err(),
        DecodeError::Truncated
    );
    // All flag bits are passed through raw.
    let mut p = IPV4_TCP;
    p[V4_TCP_OFF + 1] = 0xff;
    match decode(LinkType::IPV4, &p).unwrap().l4 {
        L4::Tcp(t) => assert_eq!(t.flags, 0xff),
        other => panic!("expected TCP, got {other:?}"),
    }
}

// ------------------------------------------------------- labels, coverage

#[test]
fn labels_are_unique_snake_case_and_indexed() {
    let mut seen = HashSet::new();
    for (i, e) in DecodeError::ALL.iter().enumerate() {
        let label = e.label();
        assert!(seen.insert(label), "duplicate label {label}");
        assert!(
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit()),
            "{label}"
        );
        assert_eq!(e.index(), i);
        assert_eq!(e.to_string(), label);
    }
}

/// One frame per error label: if a variant is added without a frame that
/// produces it, this fails.
#[test]
fn every_label_is_reachable() {
    let mut frag = IPV4_UDP;
    frag[V4_FRAG] = 0x20;
    let mut gre = IPV4_UDP;
    gre[V4_PROTO] = 47;
    let mut icmp = IPV4_UDP;
    icmp[V4_PROTO] = 1;
    let mut bad_tcp = IPV4_TCP;
    bad_tcp[V4_TCP_OFF] = 0x10;
    let mut bad_udp = IPV4_UDP;
    bad_udp[V4_UDP_LEN + 1] = 3;
    let mut arp = cat(&[&ETH_IPV4, &IPV4_UDP]);
    arp[12..14].copy_from_slice(&[0x08, 0x06]);
    // MPLS entries without a bottom-of-stack bit.
    let mut mpls = ETH_IPV4.to_vec();
    mpls[12..14].copy_from_slice(&[0x88, 0x47]);
    for _ in 0..=MAX_MPLS_LABELS {
        mpls.extend_from_slice(&[0x00, 0x01, 0x00, 0x40]);
    }
    // IPv4-in-IPv4 nested one level deeper than the limit.
    let mut deep_ipip = IPV4_UDP.to_vec();
    for _ in 0..=MAX_ENCAP_DEPTH {
        let mut outer = IPV4_UDP[..20].to_vec();
        outer[V4_PROTO] = 4;
        let total = u16::try_from(20 + deep_ipip.len()).unwrap();
        outer[2..4].copy_from_slice(&total.to_be_bytes());
        outer.extend_from_slice(&deep_ipip);
        deep_ipip = outer;
    }
    let deep = tagged(&[0x8100; MAX_VLAN_TAGS + 1], &[1; MAX_VLAN_TAGS + 1]);
    let many_exts = ipv6_with_exts(&vec![(60u8, &EXT_OPTS[..]); MAX_IP_EXT_HEADERS + 1]);

    let cases: Vec<(LinkType, &[u8])> = vec![
        (LinkType::ETHERNET, &ETH_IPV4[..5]),
        (LinkType(105), &IPV4_UDP),
        (LinkType::ETHERNET, &arp),
        (LinkType::ETHERNET, &deep),
        (LinkType::ETHERNET, &mpls),
        (LinkType::IPV4, &deep_ipip),
        (LinkType::IPV4, &gre),
        (LinkType::IPV4, &IPV6_UDP),
        (LinkType::IPV4, &frag),
        (LinkType::IPV6, &many_exts),
        (LinkType::IPV4, &icmp),
        (LinkType::IPV4, &bad_tcp),
        (LinkType::IPV4, &bad_udp),
    ];
    let got: Vec<DecodeError> = cases
        .iter()
        .map(|(lt, f)| decode(*lt, f).unwrap_err())
        .collect();
    assert_eq!(got, DecodeError::ALL.to_vec());
}

/// A frame cut anywhere by a snap length is either decoded (flagged
/// `truncated` when bytes the IP header announced are missing) or rejected
/// as `truncated` — never mislabelled as malformed, never a panic.
#[test]
fn every_prefix_is_decoded_or_truncated() {
    let sll2 = {
        let mut h = vec![0x08, 0x00, 0, 0, 0, 0, 0, 1, 0, 1, 0, 6];
        h.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0, 0]);
        h
    };
    let frames: Vec<(LinkType, Vec<u8>)> = vec![
        (LinkType::ETHERNET, cat(&[&ETH_IPV4, &IPV4_UDP])),
        (LinkType::ETHERNET, cat(&[&ETH_IPV4, &IPV4_TCP])),
        (LinkType::ETHERNET, tagged(&[0x88a8, 0x8100], &[5, 6])),
        (LinkType::NULL, cat(&[&[2, 0, 0, 0], &IPV4_UDP])),
        (LinkType::LOOP, cat(&[&[0, 0, 0, 24], &IPV6_UDP])),
        (LinkType::LINUX_SLL2, cat(&[&sll2, &IPV4_TCP])),
        (
            LinkType::IPV6,
            ipv6_with_exts(&[(0, &EXT_OPTS), (44, &EXT_FRAG_ATOMIC), (51, &EXT_AH)]),
        ),
    ];
    for (lt, frame) in &frames {
        let full = decode(*lt, frame).unwrap();
        assert!(!full.truncated);
        for cut in 0..frame.len() {
            match decode(*lt, &frame[..cut]) {
                Ok(d) => {
                    assert!(d.truncated, "{lt:?} cut at {cut}");
                    assert!(full.payload.starts_with(d.payload));
                    assert_eq!((d.src_ip, d.src_port), (full.src_ip, full.src_port));
                }
                Err(e) => assert_eq!(e, DecodeError::Truncated, "{lt:?} cut at {cut}"),
            }
        }
    }
}

/// Frames of pseudo-random bytes for every supported link type: no panic,
/// and every `Ok` payload lies inside the frame.
#[test]
fn random_frames_never_panic() {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        // xorshift64*: deterministic, good enough to scatter bytes.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    let mut buf = [0u8; 128];
    let mut decoded = 0u32;
    for round in 0..20_000u32 {
        for b in buf.iter_mut() {
            *b = next() as u8;
        }
        let lt = SUPPORTED_LINKTYPES[round as usize % SUPPORTED_LINKTYPES.len()];
        // Make the interesting paths likely: plant a version nibble / type.
        let len = (next() % 128) as usize;
        if round % 2 == 0 {
            let at = match lt.0 {
                1 => 14,
                0 | 108 => 4,
                113 => 16,
                276 => 20,
                _ => 0,
            };
            if let Some(b) = buf.get_mut(at) {
                *b = if round % 4 == 0 { 0x45 } else { 0x60 };
            }
        }
        let frame = &buf[..len];
        if let Ok(d) = decode(lt, frame) {
            decoded += 1;
            let start = d.payload.as_ptr() as usize - frame.as_ptr() as usize;
            assert!(start + d.payload.len() <= frame.len());
        }
    }
    // The run must reach the success path, or it tests only the early exits.
    assert!(decoded > 0, "no random frame decoded");
}

/// The walk alone, without `decode_frame`'s shortcut for plain frames.
fn walk_only(linktype: LinkType, frame: &[u8]) -> Result<Frame<'_>, DecodeError> {
    let mut w = Walk::default();
    let next = link::parse(linktype, frame, &mut w.link)?;
    walk(next, &mut w)
}

/// `decode_frame`'s shortcut gives exactly the walk's result on every frame
/// of the corpus, and on each frame cut at every length up to 80 bytes and
/// with every one of its first 64 bytes flipped (lengths, flags, ports and
/// protocol numbers of the common shapes, and the shapes next to them).
#[test]
fn plain_shortcut_equals_the_walk() {
    use crate::capture::{FileSource, Source};
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/pcaps");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/corpus")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let n = p.to_string_lossy();
            n.ends_with(".pcap") || n.ends_with(".pcapng")
        })
        .collect();
    files.sort();
    assert!(files.len() > 100, "corpus missing: {}", files.len());
    let same = |lt: LinkType, f: &[u8]| {
        let a = format!("{:?}", decode_frame(lt, f));
        let b = format!("{:?}", walk_only(lt, f));
        assert_eq!(a, b, "linktype {} frame {f:02x?}", lt.0);
    };
    let mut frames = 0;
    for path in &files {
        let Ok(mut src) = FileSource::open(path) else {
            continue;
        };
        while let Ok(Some(p)) = src.next_packet() {
            frames += 1;
            same(p.linktype, p.data);
            if frames % 7 != 0 {
                continue;
            }
            let mut f = p.data.to_vec();
            for cut in 0..f.len().min(80) {
                same(p.linktype, &f[..cut]);
            }
            for i in 0..f.len().min(64) {
                for bit in [0x01u8, 0x10, 0x80] {
                    f[i] ^= bit;
                    same(p.linktype, &f);
                    f[i] ^= bit;
                }
            }
        }
    }
    assert!(frames > 10_000, "{frames} frames");
}
