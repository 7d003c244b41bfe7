//! The emit side: builds complete frames (link layer, IP, UDP/TCP) with
//! correct lengths and checksums into a caller-owned `Vec<u8>`.
//!
//! Every `write_*` function appends exactly one frame to `out` and never
//! panics; inputs that cannot be encoded (a payload too long for a 16-bit
//! length field, IPv4 source with IPv6 destination) are errors.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::Error;

/// A MAC address.
pub type Mac = [u8; 6];

/// EtherType values used here (IEEE registry).
pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const ETHERTYPE_ARP: u16 = 0x0806;
pub const ETHERTYPE_VLAN: u16 = 0x8100;
/// 802.1ad service tag (outer tag of QinQ).
pub const ETHERTYPE_QINQ: u16 = 0x88a8;
pub const ETHERTYPE_IPV6: u16 = 0x86dd;

/// IP protocol numbers (IANA).
pub const IPPROTO_TCP: u8 = 6;
pub const IPPROTO_UDP: u8 = 17;

/// TCP flag bits (RFC 9293 section 3.1).
pub const TCP_FIN: u8 = 0x01;
pub const TCP_SYN: u8 = 0x02;
pub const TCP_RST: u8 = 0x04;
pub const TCP_PSH: u8 = 0x08;
pub const TCP_ACK: u8 = 0x10;

/// 802.1Q tagging of an Ethernet frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Vlan {
    #[default]
    None,
    /// One 802.1Q tag (TPID 0x8100).
    Tag(u16),
    /// 802.1ad QinQ: outer service tag (TPID 0x88a8), inner 802.1Q tag.
    QinQ { outer: u16, inner: u16 },
}

impl Vlan {
    /// The outermost VLAN id, as the sensor reports it.
    pub fn outer(self) -> Option<u16> {
        match self {
            Vlan::None => None,
            Vlan::Tag(v) => Some(v),
            Vlan::QinQ { outer, .. } => Some(outer),
        }
    }

    /// The inner id of a QinQ pair.
    pub fn inner(self) -> Option<u16> {
        match self {
            Vlan::QinQ { inner, .. } => Some(inner),
            _ => None,
        }
    }
}

/// How the IP packet is framed in the capture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    /// Ethernet II (LINKTYPE_ETHERNET = 1), optionally VLAN-tagged.
    Ethernet { src: Mac, dst: Mac, vlan: Vlan },
    /// Bare IPv4/IPv6 packet (LINKTYPE_RAW = 101).
    RawIp,
    /// Linux "cooked" capture v2 (LINKTYPE_LINUX_SLL2 = 276).
    /// `packet_type`: 0 = to us, 4 = outgoing (packet(7)).
    Sll2 {
        ifindex: u32,
        packet_type: u8,
        addr: Mac,
    },
}

impl Link {
    /// Ethernet without tags.
    pub fn eth(src: Mac, dst: Mac) -> Link {
        Link::Ethernet {
            src,
            dst,
            vlan: Vlan::None,
        }
    }

    /// The same link seen in the other direction (MACs swapped; SLL2 packet
    /// type flipped between incoming and outgoing).
    pub fn reversed(self) -> Link {
        match self {
            Link::Ethernet { src, dst, vlan } => Link::Ethernet {
                src: dst,
                dst: src,
                vlan,
            },
            Link::RawIp => Link::RawIp,
            Link::Sll2 {
                ifindex,
                packet_type,
                addr,
            } => Link::Sll2 {
                ifindex,
                packet_type: if packet_type == 4 { 0 } else { 4 },
                addr,
            },
        }
    }

    /// The pcap LINKTYPE this framing needs.
    pub fn linktype(self) -> u32 {
        match self {
            Link::Ethernet { .. } => super::pcap::LINKTYPE_ETHERNET,
            Link::RawIp => super::pcap::LINKTYPE_RAW,
            Link::Sll2 { .. } => super::pcap::LINKTYPE_LINUX_SLL2,
        }
    }
}

/// Appends the link-layer header for an upper layer of `ethertype`.
///
/// Ethernet II (IEEE 802.3 clause 3), 802.1Q tag = TPID + TCI (PCP 0,
/// DEI 0, 12-bit VID); SLL2 layout per tcpdump.org/linktypes/LINKTYPE_LINUX_SLL2.
fn push_link(out: &mut Vec<u8>, link: &Link, ethertype: u16) {
    match *link {
        Link::Ethernet { src, dst, vlan } => {
            out.extend_from_slice(&dst);
            out.extend_from_slice(&src);
            match vlan {
                Vlan::None => {}
                Vlan::Tag(v) => {
                    out.extend_from_slice(&ETHERTYPE_VLAN.to_be_bytes());
                    out.extend_from_slice(&(v & 0x0fff).to_be_bytes());
                }
                Vlan::QinQ { outer, inner } => {
                    out.extend_from_slice(&ETHERTYPE_QINQ.to_be_bytes());
                    out.extend_from_slice(&(outer & 0x0fff).to_be_bytes());
                    out.extend_from_slice(&ETHERTYPE_VLAN.to_be_bytes());
                    out.extend_from_slice(&(inner & 0x0fff).to_be_bytes());
                }
            }
            out.extend_from_slice(&ethertype.to_be_bytes());
        }
        Link::RawIp => {}
        Link::Sll2 {
            ifindex,
            packet_type,
            addr,
        } => {
            out.extend_from_slice(&ethertype.to_be_bytes()); // protocol type
            out.extend_from_slice(&[0, 0]); // reserved (MBZ)
            out.extend_from_slice(&ifindex.to_be_bytes());
            out.extend_from_slice(&1u16.to_be_bytes()); // ARPHRD_ETHER
            out.push(packet_type);
            out.push(6); // link-layer address length
            out.extend_from_slice(&addr);
            out.extend_from_slice(&[0, 0]); // address padded to 8 bytes
        }
    }
}

/// RFC 1071 Internet checksum accumulator: one's-complement sum of 16-bit
/// big-endian words; an odd trailing byte is padded with zero.
#[derive(Clone, Copy, Debug, Default)]
pub struct Checksum {
    sum: u64,
    /// A byte left over from a previous odd-length `add`.
    odd: Option<u8>,
}

impl Checksum {
    pub fn new() -> Checksum {
        Checksum::default()
    }

    /// Adds bytes as if concatenated to everything added before.
    pub fn add(&mut self, mut data: &[u8]) {
        if let Some(hi) = self.odd.take() {
            if let Some((&lo, rest)) = data.split_first() {
                self.sum += u64::from(u16::from_be_bytes([hi, lo]));
                data = rest;
            } else {
                self.odd = Some(hi);
                return;
            }
        }
        let mut chunks = data.chunks_exact(2);
        for c in &mut chunks {
            if let [a, b] = *c {
                self.sum += u64::from(u16::from_be_bytes([a, b]));
            }
        }
        if let [last] = *chunks.remainder() {
            self.odd = Some(last);
        }
    }

    /// The checksum field value: one's complement of the folded sum.
    pub fn finish(self) -> u16 {
        let mut sum = self.sum;
        if let Some(hi) = self.odd {
            sum += u64::from(u16::from_be_bytes([hi, 0]));
        }
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        !(sum as u16)
    }
}

/// RFC 1071 checksum of one buffer.
pub fn checksum(data: &[u8]) -> u16 {
    let mut c = Checksum::new();
    c.add(data);
    c.finish()
}

/// Fields of an IP header the generator varies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpOpts {
    /// IPv4 TTL / IPv6 hop limit.
    pub ttl: u8,
    /// IPv4 identification (ignored for IPv6).
    pub ident: u16,
}

impl Default for IpOpts {
    fn default() -> IpOpts {
        IpOpts { ttl: 64, ident: 0 }
    }
}

/// Appends an IP header for `upper_len` bytes of `proto` and returns the
/// pseudo-header checksum accumulator (RFC 9293 section 3.1; RFC 8200
/// section 8.1) for the transport checksum.
///
/// IPv4 header: RFC 791 section 3.1, 20 bytes, no options, DF set, header
/// checksum computed. IPv6 header: RFC 8200 section 3, no extension headers.
fn push_ip(
    out: &mut Vec<u8>,
    src: IpAddr,
    dst: IpAddr,
    proto: u8,
    upper_len: usize,
    opts: IpOpts,
) -> Result<Checksum, Error> {
    let mut pseudo = Checksum::new();
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let total = u16::try_from(upper_len + 20).map_err(|_| Error::TooLong("IPv4 packet"))?;
            let start = out.len();
            out.push(0x45); // version 4, IHL 5
            out.push(0); // DSCP/ECN
            out.extend_from_slice(&total.to_be_bytes());
            out.extend_from_slice(&opts.ident.to_be_bytes());
            out.extend_from_slice(&0x4000u16.to_be_bytes()); // DF, offset 0
            out.push(opts.ttl);
            out.push(proto);
            out.extend_from_slice(&[0, 0]); // checksum, filled below
            out.extend_from_slice(&s.octets());
            out.extend_from_slice(&d.octets());
            let sum = checksum(out.get(start..).unwrap_or_default());
            if let Some(field) = out.get_mut(start + 10..start + 12) {
                field.copy_from_slice(&sum.to_be_bytes());
            }
            pseudo.add(&s.octets());
            pseudo.add(&d.octets());
            pseudo.add(&[0, proto]);
            // Fits: checked above through `total`.
            pseudo.add(&(upper_len as u16).to_be_bytes());
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let plen = u16::try_from(upper_len).map_err(|_| Error::TooLong("IPv6 payload"))?;
            out.extend_from_slice(&[0x60, 0, 0, 0]); // version 6, class 0, flow 0
            out.extend_from_slice(&plen.to_be_bytes());
            out.push(proto);
            out.push(opts.ttl);
            out.extend_from_slice(&s.octets());
            out.extend_from_slice(&d.octets());
            pseudo.add(&s.octets());
            pseudo.add(&d.octets());
            pseudo.add(&(upper_len as u32).to_be_bytes());
            pseudo.add(&[0, 0, 0, proto]);
        }
        _ => return Err(Error::AddressFamilyMismatch),
    }
    Ok(pseudo)
}

fn ethertype_of(ip: IpAddr) -> u16 {
    match ip {
        IpAddr::V4(_) => ETHERTYPE_IPV4,
        IpAddr::V6(_) => ETHERTYPE_IPV6,
    }
}

/// Appends one UDP datagram (RFC 768) in IP in `link`. The UDP checksum is
/// always computed (a computed 0 is sent as 0xffff).
pub fn write_udp(
    out: &mut Vec<u8>,
    link: &Link,
    src: SocketAddr,
    dst: SocketAddr,
    opts: IpOpts,
    payload: &[u8],
) -> Result<(), Error> {
    let start = out.len();
    let r = write_udp_inner(out, link, src, dst, opts, payload);
    if r.is_err() {
        out.truncate(start);
    }
    r
}

fn write_udp_inner(
    out: &mut Vec<u8>,
    link: &Link,
    src: SocketAddr,
    dst: SocketAddr,
    opts: IpOpts,
    payload: &[u8],
) -> Result<(), Error> {
    let udp_len = u16::try_from(payload.len() + 8).map_err(|_| Error::TooLong("UDP datagram"))?;
    push_link(out, link, ethertype_of(src.ip()));
    let mut sum = push_ip(
        out,
        src.ip(),
        dst.ip(),
        IPPROTO_UDP,
        usize::from(udp_len),
        opts,
    )?;
    let start = out.len();
    out.extend_from_slice(&src.port().to_be_bytes());
    out.extend_from_slice(&dst.port().to_be_bytes());
    out.extend_from_slice(&udp_len.to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(payload);
    sum.add(out.get(start..).unwrap_or_default());
    let mut c = sum.finish();
    if c == 0 {
        c = 0xffff; // RFC 768: zero means "no checksum"
    }
    if let Some(field) = out.get_mut(start + 6..start + 8) {
        field.copy_from_slice(&c.to_be_bytes());
    }
    Ok(())
}

/// The TCP header fields of one segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpFields {
    pub seq: u32,
    pub ack: u32,
    /// `TCP_*` bits.
    pub flags: u8,
    pub window: u16,
    /// Add the SYN options browsers send: MSS, SACK-permitted, window scale.
    pub syn_options: Option<u16>,
}

/// Appends one TCP segment (RFC 9293 section 3.1) with a correct checksum.
pub fn write_tcp(
    out: &mut Vec<u8>,
    link: &Link,
    src: SocketAddr,
    dst: SocketAddr,
    opts: IpOpts,
    tcp: TcpFields,
    payload: &[u8],
) -> Result<(), Error> {
    let start = out.len();
    let r = write_tcp_inner(out, link, src, dst, opts, tcp, payload);
    if r.is_err() {
        out.truncate(start);
    }
    r
}

fn write_tcp_inner(
    out: &mut Vec<u8>,
    link: &Link,
    src: SocketAddr,
    dst: SocketAddr,
    opts: IpOpts,
    tcp: TcpFields,
    payload: &[u8],
) -> Result<(), Error> {
    // Options: MSS (kind 2, len 4), NOP, window scale (kind 3, len 3, shift 7),
    // NOP, NOP, SACK-permitted (kind 4, len 2) = 12 bytes, a multiple of 4.
    let opt_buf: [u8; 12] = match tcp.syn_options {
        Some(mss) => {
            let m = mss.to_be_bytes();
            [2, 4, m[0], m[1], 1, 3, 3, 7, 1, 1, 4, 2]
        }
        None => [0; 12],
    };
    let options: &[u8] = if tcp.syn_options.is_some() {
        &opt_buf
    } else {
        &[]
    };
    let hdr_len = 20 + options.len();
    push_link(out, link, ethertype_of(src.ip()));
    let mut sum = push_ip(
        out,
        src.ip(),
        dst.ip(),
        IPPROTO_TCP,
        hdr_len + payload.len(),
        opts,
    )?;
    let start = out.len();
    out.extend_from_slice(&src.port().to_be_bytes());
    out.extend_from_slice(&dst.port().to_be_bytes());
    out.extend_from_slice(&tcp.seq.to_be_bytes());
    out.extend_from_slice(&tcp.ack.to_be_bytes());
    out.push(((hdr_len / 4) as u8) << 4);
    out.push(tcp.flags);
    out.extend_from_slice(&tcp.window.to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]); // checksum, urgent pointer
    out.extend_from_slice(options);
    out.extend_from_slice(payload);
    sum.add(out.get(start..).unwrap_or_default());
    let c = sum.finish();
    if let Some(field) = out.get_mut(start + 16..start + 18) {
        field.copy_from_slice(&c.to_be_bytes());
    }
    Ok(())
}

/// ARP operation (RFC 826): 1 = request, 2 = reply.
pub const ARP_REQUEST: u16 = 1;
pub const ARP_REPLY: u16 = 2;

/// Appends an Ethernet/IPv4 ARP frame (RFC 826), padded to the 60-byte
/// Ethernet minimum like a real NIC would.
pub fn write_arp(
    out: &mut Vec<u8>,
    src_mac: Mac,
    dst_mac: Mac,
    vlan: Vlan,
    op: u16,
    sender: (Mac, Ipv4Addr),
    target: (Mac, Ipv4Addr),
) {
    let start = out.len();
    push_link(
        out,
        &Link::Ethernet {
            src: src_mac,
            dst: dst_mac,
            vlan,
        },
        ETHERTYPE_ARP,
    );
    out.extend_from_slice(&1u16.to_be_bytes()); // hardware: Ethernet
    out.extend_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
    out.push(6);
    out.push(4);
    out.extend_from_slice(&op.to_be_bytes());
    out.extend_from_slice(&sender.0);
    out.extend_from_slice(&sender.1.octets());
    out.extend_from_slice(&target.0);
    out.extend_from_slice(&target.1.octets());
    while out.len() - start < 60 {
        out.push(0);
    }
}

/// A deterministic locally administered unicast MAC (02:...) for a tag.
pub fn local_mac(tag: u32) -> Mac {
    let t = tag.to_be_bytes();
    [0x02, 0x50, t[0], t[1], t[2], t[3]]
}

/// The IPv6 address `prefix::suffix` for documentation-style addressing.
pub fn v6(prefix: [u16; 4], iid: u64) -> Ipv6Addr {
    let i = iid.to_be_bytes();
    Ipv6Addr::new(
        prefix[0],
        prefix[1],
        prefix[2],
        prefix[3],
        u16::from_be_bytes([i[0], i[1]]),
        u16::from_be_bytes([i[2], i[3]]),
        u16::from_be_bytes([i[4], i[5]]),
        u16::from_be_bytes([i[6], i[7]]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn rfc1071_example_sum() {
        // RFC 1071 section 3 example: words 0001 f203 f4f5 f6f7 sum to ddf2
        // (after end-around carry); the checksum is its complement.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(checksum(&data), !0xddf2);
        // Split at an odd boundary gives the same result.
        let mut c = Checksum::new();
        c.add(&data[..3]);
        c.add(&[]);
        c.add(&data[3..]);
        assert_eq!(c.finish(), !0xddf2);
    }

    #[test]
    fn ipv4_header_known_vector() {
        // Classic example header (Wikipedia "IPv4 header checksum"):
        // 4500 0073 0000 4000 4011 [b861] c0a8 0001 c0a8 00c7.
        let mut out = Vec::new();
        let opts = IpOpts {
            ttl: 0x40,
            ident: 0,
        };
        push_ip(
            &mut out,
            "192.168.0.1".parse().unwrap(),
            "192.168.0.199".parse().unwrap(),
            IPPROTO_UDP,
            0x73 - 20,
            opts,
        )
        .unwrap();
        assert_eq!(
            out,
            [
                0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8,
                0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7
            ]
        );
    }

    #[test]
    fn udp_frame_layout_and_checksum_verify() {
        let mut out = Vec::new();
        let link = Link::Ethernet {
            src: local_mac(1),
            dst: local_mac(2),
            vlan: Vlan::Tag(20),
        };
        write_udp(
            &mut out,
            &link,
            sa("10.0.0.2:5353"),
            sa("10.0.0.1:53"),
            IpOpts::default(),
            b"abc",
        )
        .unwrap();
        // dst mac, src mac, 8100, TCI 0014, 0800
        assert_eq!(&out[12..18], &[0x81, 0x00, 0x00, 0x14, 0x08, 0x00]);
        let ip = &out[18..];
        assert_eq!(ip.len(), 20 + 8 + 3);
        assert_eq!(checksum(&ip[..20]), 0, "IPv4 header sums to zero");
        // Verify UDP with the pseudo-header: sum over all must be 0.
        let mut c = Checksum::new();
        c.add(&ip[12..20]);
        c.add(&[0, IPPROTO_UDP, 0, 11]);
        c.add(&ip[20..]);
        assert_eq!(c.finish(), 0);
        assert_eq!(&ip[20..24], &[0x14, 0xe9, 0x00, 0x35]);
    }

    #[test]
    fn tcp_v6_syn_options_and_checksum_verify() {
        let mut out = Vec::new();
        let tcp = TcpFields {
            seq: 1,
            ack: 0,
            flags: TCP_SYN,
            window: 64240,
            syn_options: Some(1440),
        };
        write_tcp(
            &mut out,
            &Link::RawIp,
            sa("[fd00::1]:40000"),
            sa("[2001:db8::1]:443"),
            IpOpts::default(),
            tcp,
            &[],
        )
        .unwrap();
        assert_eq!(out.len(), 40 + 32);
        assert_eq!(out[0] >> 4, 6);
        assert_eq!(&out[4..6], &32u16.to_be_bytes());
        let seg = &out[40..];
        assert_eq!(seg[12] >> 4, 8, "data offset 8 words");
        assert_eq!(&seg[20..24], &[2, 4, 0x05, 0xa0]);
        let mut c = Checksum::new();
        c.add(&out[8..40]);
        c.add(&32u32.to_be_bytes());
        c.add(&[0, 0, 0, IPPROTO_TCP]);
        c.add(seg);
        assert_eq!(c.finish(), 0);
    }

    #[test]
    fn mismatched_families_and_oversize_are_errors_and_leave_out_unchanged() {
        let mut out = vec![1, 2, 3];
        let r = write_udp(
            &mut out,
            &Link::RawIp,
            sa("10.0.0.1:1"),
            sa("[::1]:2"),
            IpOpts::default(),
            b"",
        );
        assert!(matches!(r, Err(Error::AddressFamilyMismatch)));
        let big = vec![0u8; 70_000];
        let r = write_udp(
            &mut out,
            &Link::RawIp,
            sa("10.0.0.1:1"),
            sa("10.0.0.2:2"),
            IpOpts::default(),
            &big,
        );
        assert!(matches!(r, Err(Error::TooLong(_))));
        assert_eq!(out, [1, 2, 3]);
    }

    #[test]
    fn arp_is_padded_and_qinq_tags_in_order() {
        let mut out = Vec::new();
        let a = local_mac(1);
        write_arp(
            &mut out,
            a,
            [0xff; 6],
            Vlan::QinQ {
                outer: 100,
                inner: 24,
            },
            ARP_REQUEST,
            (a, Ipv4Addr::new(10, 0, 0, 24)),
            ([0; 6], Ipv4Addr::new(10, 0, 0, 1)),
        );
        assert_eq!(out.len(), 60);
        assert_eq!(
            &out[12..22],
            &[0x88, 0xa8, 0x00, 100, 0x81, 0x00, 0x00, 24, 0x08, 0x06]
        );
    }

    #[test]
    fn sll2_header_layout() {
        let mut out = Vec::new();
        let link = Link::Sll2 {
            ifindex: 3,
            packet_type: 4,
            addr: local_mac(9),
        };
        write_udp(
            &mut out,
            &link,
            sa("10.0.0.2:1"),
            sa("10.0.0.1:2"),
            IpOpts::default(),
            b"",
        )
        .unwrap();
        assert_eq!(&out[..12], &[0x08, 0x00, 0, 0, 0, 0, 0, 3, 0, 1, 4, 6]);
        assert_eq!(out[20] >> 4, 4);
        assert_eq!(
            link.reversed(),
            Link::Sll2 {
                ifindex: 3,
                packet_type: 0,
                addr: local_mac(9)
            }
        );
    }
}
