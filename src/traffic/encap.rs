//! The emit side of encapsulations and IP fragments, for tests: each
//! function wraps bytes the caller already built (an IP packet, an Ethernet
//! frame) in one more header and returns the result. Header layouts follow
//! the RFCs cited at each function (the parsers in `decode` cite the same
//! sections); lengths and IPv4 header checksums are filled in.
//!
//! Inner packets come from [`packet::write_udp`] / [`packet::write_tcp`]
//! with [`Link::RawIp`]: see [`udp_packet`].

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use super::Error;
use super::packet::{self, IpOpts, Link, Mac, TcpFields, checksum};

/// IP protocol numbers (IANA) of the tunnels built here.
pub const IPPROTO_IPIP: u8 = 4;
pub const IPPROTO_IPV6: u8 = 41;
pub const IPPROTO_GRE: u8 = 47;
pub const IPPROTO_UDP: u8 = 17;
/// IPv6 Fragment header (RFC 8200 §4.5).
pub const IPPROTO_FRAGMENT: u8 = 44;

/// A bare IP packet carrying one UDP datagram (checksums computed).
pub fn udp_packet(src: SocketAddr, dst: SocketAddr, payload: &[u8]) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    packet::write_udp(&mut out, &Link::RawIp, src, dst, IpOpts::default(), payload)?;
    Ok(out)
}

/// A bare IP packet carrying one TCP segment (PSH|ACK unless `tcp` says).
pub fn tcp_packet(
    src: SocketAddr,
    dst: SocketAddr,
    tcp: TcpFields,
    payload: &[u8],
) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    packet::write_tcp(
        &mut out,
        &Link::RawIp,
        src,
        dst,
        IpOpts::default(),
        tcp,
        payload,
    )?;
    Ok(out)
}

/// An IP header of `proto` from `src` to `dst` around `payload` (RFC 791
/// §3.1 with a computed header checksum, DF clear, identification `ident`;
/// or RFC 8200 §3).
pub fn ip_packet(
    src: IpAddr,
    dst: IpAddr,
    proto: u8,
    ident: u16,
    payload: &[u8],
) -> Result<Vec<u8>, Error> {
    let mut p = Vec::with_capacity(40 + payload.len());
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let total = u16::try_from(20 + payload.len()).map_err(|_| Error::TooLong("IPv4"))?;
            ipv4_header(&mut p, s, d, proto, total, ident, 0);
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let plen = u16::try_from(payload.len()).map_err(|_| Error::TooLong("IPv6"))?;
            p.extend_from_slice(&[0x60, 0, 0, 0]);
            p.extend_from_slice(&plen.to_be_bytes());
            p.extend_from_slice(&[proto, 64]);
            p.extend_from_slice(&s.octets());
            p.extend_from_slice(&d.octets());
        }
        _ => return Err(Error::AddressFamilyMismatch),
    }
    p.extend_from_slice(payload);
    Ok(p)
}

/// A 20-byte IPv4 header with `flags_offset` (MF = 0x2000, offset in 8-byte
/// units) and its checksum.
fn ipv4_header(
    p: &mut Vec<u8>,
    s: Ipv4Addr,
    d: Ipv4Addr,
    proto: u8,
    total: u16,
    ident: u16,
    flags_offset: u16,
) {
    let start = p.len();
    p.extend_from_slice(&[0x45, 0]);
    p.extend_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&ident.to_be_bytes());
    p.extend_from_slice(&flags_offset.to_be_bytes());
    p.extend_from_slice(&[64, proto, 0, 0]);
    p.extend_from_slice(&s.octets());
    p.extend_from_slice(&d.octets());
    let sum = checksum(p.get(start..).unwrap_or_default());
    if let Some(f) = p.get_mut(start + 10..start + 12) {
        f.copy_from_slice(&sum.to_be_bytes());
    }
}

/// An Ethernet II frame (IEEE 802.3 §3.2.6) with optional 802.1Q tags
/// (outermost first) of `ether_type` around `payload`.
pub fn ethernet(src: Mac, dst: Mac, vlans: &[u16], ether_type: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(22 + payload.len());
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    for v in vlans {
        f.extend_from_slice(&packet::ETHERTYPE_VLAN.to_be_bytes());
        f.extend_from_slice(&(v & 0x0fff).to_be_bytes());
    }
    f.extend_from_slice(&ether_type.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// The ethertype of a bare IP packet, by its version nibble.
pub fn ethertype_of(ip_packet: &[u8]) -> u16 {
    match ip_packet.first().map(|b| b >> 4) {
        Some(6) => packet::ETHERTYPE_IPV6,
        _ => packet::ETHERTYPE_IPV4,
    }
}

/// Optional GRE fields (RFC 2784 §2.1, RFC 2890 §2).
#[derive(Clone, Copy, Debug, Default)]
pub struct GreOpts {
    pub checksum: bool,
    pub key: Option<u32>,
    pub seq: Option<u32>,
}

/// A GRE version 0 header of `protocol` (an ethertype, 0x6558 for Ethernet,
/// 0x88be/0x22eb for ERSPAN) around `payload`. The checksum field, when
/// present, is computed over header and payload (RFC 2784 §2.5).
pub fn gre(opts: GreOpts, protocol: u16, payload: &[u8]) -> Vec<u8> {
    let mut flags = 0u16;
    if opts.checksum {
        flags |= 0x8000;
    }
    if opts.key.is_some() {
        flags |= 0x2000;
    }
    if opts.seq.is_some() {
        flags |= 0x1000;
    }
    let mut g = Vec::new();
    g.extend_from_slice(&flags.to_be_bytes());
    g.extend_from_slice(&protocol.to_be_bytes());
    if opts.checksum {
        g.extend_from_slice(&[0, 0, 0, 0]);
    }
    if let Some(k) = opts.key {
        g.extend_from_slice(&k.to_be_bytes());
    }
    if let Some(s) = opts.seq {
        g.extend_from_slice(&s.to_be_bytes());
    }
    g.extend_from_slice(payload);
    if opts.checksum {
        let sum = checksum(&g);
        if let Some(f) = g.get_mut(4..6) {
            f.copy_from_slice(&sum.to_be_bytes());
        }
    }
    g
}

/// PPTP's enhanced GRE (RFC 2637 §4.1): version 1, key = payload length +
/// `call_id`, sequence number, carrying a PPP frame with address/control
/// bytes (RFC 1662) around `ip_packet`.
pub fn gre_pptp(call_id: u16, seq: u32, ip_packet: &[u8]) -> Result<Vec<u8>, Error> {
    let ppp = ppp(ip_packet, true);
    let len = u16::try_from(ppp.len()).map_err(|_| Error::TooLong("PPTP payload"))?;
    let mut g = vec![0x30, 0x01, 0x88, 0x0b]; // K, S; version 1; PPP
    g.extend_from_slice(&len.to_be_bytes());
    g.extend_from_slice(&call_id.to_be_bytes());
    g.extend_from_slice(&seq.to_be_bytes());
    g.extend_from_slice(&ppp);
    Ok(g)
}

/// A PPP frame (RFC 1661 §2) around an IP packet, with the RFC 1662
/// address/control bytes when `address_control`.
pub fn ppp(ip_packet: &[u8], address_control: bool) -> Vec<u8> {
    let mut f = Vec::new();
    if address_control {
        f.extend_from_slice(&[0xff, 0x03]);
    }
    let proto: u16 = if ethertype_of(ip_packet) == packet::ETHERTYPE_IPV6 {
        0x0057
    } else {
        0x0021
    };
    f.extend_from_slice(&proto.to_be_bytes());
    f.extend_from_slice(ip_packet);
    f
}

/// ERSPAN type II header (version 1, `session`, index 0) around a mirrored
/// Ethernet frame; goes in GRE protocol 0x88be with a sequence number.
pub fn erspan2(session: u16, frame: &[u8]) -> Vec<u8> {
    let mut e = vec![0x10, 0x00];
    e.extend_from_slice(&(session & 0x03ff).to_be_bytes());
    e.extend_from_slice(&[0, 0, 0, 0]);
    e.extend_from_slice(frame);
    e
}

/// ERSPAN type III header (version 2, `session`, frame type Ethernet, no
/// platform subheader) around a mirrored frame; GRE protocol 0x22eb.
pub fn erspan3(session: u16, timestamp: u32, frame: &[u8]) -> Vec<u8> {
    let mut e = vec![0x20, 0x00];
    e.extend_from_slice(&(session & 0x03ff).to_be_bytes());
    e.extend_from_slice(&timestamp.to_be_bytes());
    e.extend_from_slice(&[0, 0, 0, 0]);
    e.extend_from_slice(frame);
    e
}

/// VXLAN header (RFC 7348 §5, I flag, `vni`) around an Ethernet frame.
pub fn vxlan(vni: u32, frame: &[u8]) -> Vec<u8> {
    let mut v = vec![0x08, 0, 0, 0];
    v.extend_from_slice(&(vni << 8).to_be_bytes());
    v.extend_from_slice(frame);
    v
}

/// Geneve header (RFC 8926 §3.4) with `options` (already encoded, a
/// multiple of 4 bytes) and protocol `protocol` around `payload`.
pub fn geneve(vni: u32, protocol: u16, options: &[u8], payload: &[u8]) -> Vec<u8> {
    let words = u8::try_from(options.len() / 4).unwrap_or(0) & 0x3f;
    let mut g = vec![words, 0];
    g.extend_from_slice(&protocol.to_be_bytes());
    g.extend_from_slice(&(vni << 8).to_be_bytes());
    g.extend_from_slice(options);
    g.extend_from_slice(payload);
    g
}

/// One Geneve option TLV (class, type, data padded to 4-byte words).
pub fn geneve_option(class: u16, kind: u8, data: &[u8]) -> Vec<u8> {
    let words = data.len().div_ceil(4);
    let mut o = Vec::new();
    o.extend_from_slice(&class.to_be_bytes());
    o.push(kind);
    o.push(u8::try_from(words).unwrap_or(0) & 0x1f);
    o.extend_from_slice(data);
    o.resize(4 + words * 4, 0);
    o
}

/// Teredo (RFC 4380 §5.1.1): an IPv6 packet, preceded by an origin
/// indication (port and IPv4 address, both obfuscated by XOR with ones)
/// when `origin` is given.
pub fn teredo(origin: Option<(u16, Ipv4Addr)>, ipv6_packet: &[u8]) -> Vec<u8> {
    let mut t = Vec::new();
    if let Some((port, addr)) = origin {
        t.extend_from_slice(&[0, 0]);
        t.extend_from_slice(&(!port).to_be_bytes());
        t.extend_from_slice(&(!u32::from(addr)).to_be_bytes());
    }
    t.extend_from_slice(ipv6_packet);
    t
}

/// GTP-U G-PDU (3GPP TS 29.281 §5.1) with `teid`, and with one PDU session
/// container extension header (type 0x85) when `extension`.
pub fn gtpu(teid: u32, extension: bool, ip_packet: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    if extension {
        body.extend_from_slice(&[0, 0, 0, 0x85]); // sequence, N-PDU, next: 0x85
        body.extend_from_slice(&[1, 0x10, 0x09, 0]); // 1 word: content, next: none
    }
    body.extend_from_slice(ip_packet);
    let flags = if extension { 0x34 } else { 0x30 };
    let len = u16::try_from(body.len()).unwrap_or(u16::MAX);
    let mut g = vec![flags, 0xff];
    g.extend_from_slice(&len.to_be_bytes());
    g.extend_from_slice(&teid.to_be_bytes());
    g.extend_from_slice(&body);
    g
}

/// An MPLS label stack (RFC 3032 §2.1), outermost label first, bottom of
/// stack set on the last, TTL 64, around `payload`.
pub fn mpls(labels: &[u32], payload: &[u8]) -> Vec<u8> {
    let mut m = Vec::new();
    for (i, l) in labels.iter().enumerate() {
        let s = u32::from(i + 1 == labels.len());
        m.extend_from_slice(&(((l & 0xfffff) << 12) | (s << 8) | 64).to_be_bytes());
    }
    m.extend_from_slice(payload);
    m
}

/// PPPoE session header (RFC 2516 §4) for `session` around an IP packet
/// (PPP protocol field included).
pub fn pppoe(session: u16, ip_packet: &[u8]) -> Result<Vec<u8>, Error> {
    let ppp = ppp(ip_packet, false);
    let len = u16::try_from(ppp.len()).map_err(|_| Error::TooLong("PPPoE payload"))?;
    let mut p = vec![0x11, 0x00];
    p.extend_from_slice(&session.to_be_bytes());
    p.extend_from_slice(&len.to_be_bytes());
    p.extend_from_slice(&ppp);
    Ok(p)
}

/// A Cisco HDLC frame (`LINKTYPE_C_HDLC`): unicast address, control 0,
/// ethertype of the IP packet.
pub fn c_hdlc(ip_packet: &[u8]) -> Vec<u8> {
    let mut f = vec![0x0f, 0x00];
    f.extend_from_slice(&ethertype_of(ip_packet).to_be_bytes());
    f.extend_from_slice(ip_packet);
    f
}

/// An NFLOG record (`LINKTYPE_NFLOG`), little-endian TLVs as an x86 host
/// writes them: a packet-header TLV, a prefix TLV, then the payload TLV.
pub fn nflog(ip_packet: &[u8]) -> Result<Vec<u8>, Error> {
    let family = if ethertype_of(ip_packet) == packet::ETHERTYPE_IPV6 {
        10
    } else {
        2
    };
    let mut f = vec![family, 0, 0, 1];
    let mut tlv = |kind: u16, value: &[u8]| -> Result<(), Error> {
        let len = u16::try_from(4 + value.len()).map_err(|_| Error::TooLong("NFLOG TLV"))?;
        f.extend_from_slice(&len.to_le_bytes());
        f.extend_from_slice(&kind.to_le_bytes());
        f.extend_from_slice(value);
        while f.len() % 4 != 0 {
            f.push(0);
        }
        Ok(())
    };
    tlv(1, &[0x08, 0x00, 0x03, 0x00])?; // NFULA_PACKET_HDR
    tlv(10, b"phonehome\0")?; // NFULA_PREFIX
    tlv(9, ip_packet)?; // NFULA_PAYLOAD
    Ok(f)
}

/// An Apple PKTAP record (`LINKTYPE_PKTAP`): a 108-byte little-endian
/// header naming the interface and DLT 1, then an Ethernet frame.
pub fn pktap(frame: &[u8]) -> Vec<u8> {
    let mut f = vec![0u8; 108];
    if let Some(h) = f.get_mut(0..4) {
        h.copy_from_slice(&108u32.to_le_bytes());
    }
    if let Some(h) = f.get_mut(4..8) {
        h.copy_from_slice(&1u32.to_le_bytes());
    }
    if let Some(h) = f.get_mut(12..15) {
        h.copy_from_slice(b"en0");
    }
    f.extend_from_slice(frame);
    f
}

/// Split a bare IPv4 packet (20-byte header) into fragments carrying at
/// most `chunk` payload bytes each (rounded down to a multiple of 8), in
/// order. Each fragment gets its own header: same identification, MF on all
/// but the last, its offset, and a fresh checksum.
pub fn fragment_ipv4(ip_packet: &[u8], chunk: usize) -> Result<Vec<Vec<u8>>, Error> {
    let header = ip_packet.get(..20).ok_or(Error::TooLong("IPv4 header"))?;
    let payload = ip_packet.get(20..).unwrap_or_default();
    let src = Ipv4Addr::from(<[u8; 4]>::try_from(&header[12..16]).unwrap_or([0; 4]));
    let dst = Ipv4Addr::from(<[u8; 4]>::try_from(&header[16..20]).unwrap_or([0; 4]));
    let ident = u16::from_be_bytes([header[4], header[5]]);
    let proto = header[9];
    let chunk = (chunk / 8).max(1) * 8;
    let mut out = Vec::new();
    for (i, piece) in payload.chunks(chunk).enumerate() {
        let offset = i * chunk;
        let more = offset + piece.len() < payload.len();
        let units = u16::try_from(offset / 8).map_err(|_| Error::TooLong("fragment offset"))?;
        let flags_offset = units | if more { 0x2000 } else { 0 };
        let total = u16::try_from(20 + piece.len()).map_err(|_| Error::TooLong("IPv4"))?;
        let mut f = Vec::with_capacity(20 + piece.len());
        ipv4_header(&mut f, src, dst, proto, total, ident, flags_offset);
        f.extend_from_slice(piece);
        out.push(f);
    }
    Ok(out)
}

/// Split a bare IPv6 packet (40-byte header, no extension headers) into
/// fragments of at most `chunk` payload bytes (multiple of 8) with Fragment
/// headers (RFC 8200 §4.5) of identification `ident`, in order.
pub fn fragment_ipv6(ip_packet: &[u8], chunk: usize, ident: u32) -> Result<Vec<Vec<u8>>, Error> {
    let header = ip_packet.get(..40).ok_or(Error::TooLong("IPv6 header"))?;
    let payload = ip_packet.get(40..).unwrap_or_default();
    let next = header[6];
    let chunk = (chunk / 8).max(1) * 8;
    let mut out = Vec::new();
    for (i, piece) in payload.chunks(chunk).enumerate() {
        let offset = i * chunk;
        let more = offset + piece.len() < payload.len();
        let units = u16::try_from(offset / 8).map_err(|_| Error::TooLong("fragment offset"))?;
        let mut f = header.to_vec();
        let plen = u16::try_from(8 + piece.len()).map_err(|_| Error::TooLong("IPv6"))?;
        f[4..6].copy_from_slice(&plen.to_be_bytes());
        f[6] = IPPROTO_FRAGMENT;
        f.extend_from_slice(&[next, 0]);
        f.extend_from_slice(&((units << 3) | u16::from(more)).to_be_bytes());
        f.extend_from_slice(&ident.to_be_bytes());
        f.extend_from_slice(piece);
        out.push(f);
    }
    Ok(out)
}
