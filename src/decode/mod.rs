//! Zero-copy views over frames: link layers, VLAN, IPv4/IPv6, UDP/TCP.
//!
//! [`decode`] turns one captured frame into the addressing and transport
//! payload the flow stage needs, or into a [`DecodeError`] whose
//! [`label`](DecodeError::label) is the counter that explains why not.
//!
//! Guarantees:
//! - It never panics and never allocates, whatever the bytes: every read is
//!   length-checked (`etherparse` header slices, `get`, `split_at_checked`).
//! - [`Decoded::payload`] borrows from the frame: trimmed to the IP total /
//!   payload length (so Ethernet padding never reaches a parser) and to the
//!   UDP length.
//! - A frame cut short by the snap length still decodes if every header up to
//!   and including the transport header is intact; [`Decoded::truncated`]
//!   then says the payload is shorter than the IP header announced.
//! - Work per frame is bounded: at most [`MAX_VLAN_TAGS`] VLAN tags and
//!   [`MAX_IP_EXT_HEADERS`] extension headers are walked.
//! - Checksums are not verified: offloading makes them wrong in most captures,
//!   and a host that drops a bad datagram still shows what it tried to reach.
//!
//! Layers, each in its own file with the wire diagram and RFC above it:
//! [`link`] (Ethernet, VLAN, SLL/SLL2, NULL/LOOP, raw), [`ip`] (IPv4, IPv6 and
//! extension headers), [`transport`] (UDP, TCP).
//!
//! [`MAX_VLAN_TAGS`]: crate::config::limits::MAX_VLAN_TAGS
//! [`MAX_IP_EXT_HEADERS`]: crate::config::limits::MAX_IP_EXT_HEADERS

use std::fmt;
use std::net::IpAddr;

use crate::capture::LinkType;

mod ip;
mod link;
mod transport;

#[cfg(test)]
mod tests;

/// TCP header fields the flow stage needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpInfo {
    pub seq: u32,
    pub ack: u32,
    /// Raw flag byte: FIN=0x01 SYN=0x02 RST=0x04 PSH=0x08 ACK=0x10.
    pub flags: u8,
}

impl TcpInfo {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const ACK: u8 = 0x10;
}

/// Transport layer of a decoded packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum L4 {
    Tcp(TcpInfo),
    Udp,
}

/// A decoded packet: innermost addressing plus the transport payload,
/// borrowed from the frame.
#[derive(Clone, Copy, Debug)]
pub struct Decoded<'a> {
    /// Source MAC: Ethernet source, or the SLL/SLL2 link-layer address when
    /// it is 6 bytes long. `None` on links without one (NULL, raw IP).
    pub src_mac: Option<[u8; 6]>,
    /// Destination MAC (Ethernet only; SLL does not record it).
    pub dst_mac: Option<[u8; 6]>,
    /// Outermost 802.1Q/802.1ad VLAN id.
    pub vlan: Option<u16>,
    /// Inner VLAN id of a QinQ frame: the second tag (as Zeek's
    /// `inner_vlan`); a third tag is walked but not recorded.
    pub inner_vlan: Option<u16>,
    pub src_ip: IpAddr,
    pub dst_ip: IpAddr,
    pub src_port: u16,
    pub dst_port: u16,
    pub l4: L4,
    /// Transport payload, trimmed to the IP total length (no Ethernet padding)
    /// and, for UDP, to the UDP length.
    pub payload: &'a [u8],
    /// The capture (snap length) cut the payload short: for TCP, fewer bytes
    /// than the IP length announces; for UDP, than the UDP length announces
    /// (a whole datagram inside a cut IP packet is not truncated). `payload`
    /// is what was captured. Headers are always complete.
    pub truncated: bool,
}

/// Why a frame was not decoded. Each variant is a counter label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DecodeError {
    /// A link, VLAN, IP, extension or transport header is cut off by the end
    /// of the captured frame.
    Truncated,
    /// The capture's link type is not one `decode` understands.
    UnsupportedLinktype,
    /// The link layer carries something other than IP (ARP, LLDP, IPX, ...).
    NotIp,
    /// MPLS (ethertype 0x8847/0x8848): not decoded yet.
    Mpls,
    /// PPPoE discovery or session (ethertype 0x8863/0x8864): not decoded yet.
    Pppoe,
    /// More VLAN tags than `MAX_VLAN_TAGS`.
    VlanDepthLimit,
    /// Bad IP header: wrong version for the link, total length shorter than
    /// the header, an extension header longer than the packet, zero-length AH.
    MalformedIp,
    /// An IPv4 fragment (MF set or offset non-zero) or an IPv6 packet with a
    /// fragmenting Fragment header. Not reassembled yet.
    IpFragment,
    /// More IPv6 extension / AH headers than `MAX_IP_EXT_HEADERS`.
    IpExtLimit,
    /// GRE (IP protocol 47): tunnel, not decoded yet.
    Gre,
    /// IP-in-IP (IP protocol 4 or 41): tunnel, not decoded yet.
    IpInIp,
    /// Any other IP protocol (ICMP, SCTP, ESP, no-next-header, ...).
    OtherTransport,
    /// TCP data offset below 5, or a TCP header longer than the IP payload.
    MalformedTcp,
    /// UDP length field between 1 and 7, or longer than the IP payload.
    MalformedUdp,
}

impl DecodeError {
    /// Every variant, in label order, for registering counters up front.
    pub const ALL: [DecodeError; 14] = [
        DecodeError::Truncated,
        DecodeError::UnsupportedLinktype,
        DecodeError::NotIp,
        DecodeError::Mpls,
        DecodeError::Pppoe,
        DecodeError::VlanDepthLimit,
        DecodeError::MalformedIp,
        DecodeError::IpFragment,
        DecodeError::IpExtLimit,
        DecodeError::Gre,
        DecodeError::IpInIp,
        DecodeError::OtherTransport,
        DecodeError::MalformedTcp,
        DecodeError::MalformedUdp,
    ];

    /// Stable snake_case label used in stats and the summary.
    pub fn label(self) -> &'static str {
        match self {
            DecodeError::Truncated => "truncated",
            DecodeError::UnsupportedLinktype => "unsupported_linktype",
            DecodeError::NotIp => "not_ip",
            DecodeError::Mpls => "mpls",
            DecodeError::Pppoe => "pppoe",
            DecodeError::VlanDepthLimit => "vlan_depth_limit",
            DecodeError::MalformedIp => "malformed_ip",
            DecodeError::IpFragment => "ip_fragment",
            DecodeError::IpExtLimit => "ip_ext_limit",
            DecodeError::Gre => "gre",
            DecodeError::IpInIp => "ip_in_ip",
            DecodeError::OtherTransport => "other_transport",
            DecodeError::MalformedTcp => "malformed_tcp",
            DecodeError::MalformedUdp => "malformed_udp",
        }
    }

    /// Position of this variant in [`DecodeError::ALL`], for array-indexed
    /// counters.
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

impl std::error::Error for DecodeError {}

/// Link types [`decode`] understands; any other gives
/// [`DecodeError::UnsupportedLinktype`]. 12 and 14 are the platform `DLT_RAW`
/// values some writers stored instead of `LINKTYPE_RAW` (101).
pub const SUPPORTED_LINKTYPES: [LinkType; 10] = [
    LinkType::NULL,
    LinkType::ETHERNET,
    LinkType(12),
    LinkType(14),
    LinkType::RAW,
    LinkType::LOOP,
    LinkType::LINUX_SLL,
    LinkType::IPV4,
    LinkType::IPV6,
    LinkType::LINUX_SLL2,
];

/// Decode one frame of the given link type down to its UDP or TCP payload.
///
/// `Err` says why the frame carries no decodable UDP/TCP; count it under
/// [`DecodeError::label`]. See the module doc for the guarantees.
#[inline]
pub fn decode(linktype: LinkType, frame: &[u8]) -> Result<Decoded<'_>, DecodeError> {
    let link = link::parse(linktype, frame)?;
    let ip = ip::parse(link.net, link.payload)?;
    let l4 = transport::parse(ip.protocol, ip.payload, ip.truncated)?;
    Ok(Decoded {
        src_mac: link.src_mac,
        dst_mac: link.dst_mac,
        vlan: link.vlan,
        inner_vlan: link.inner_vlan,
        src_ip: ip.src,
        dst_ip: ip.dst,
        src_port: l4.src_port,
        dst_port: l4.dst_port,
        l4: l4.l4,
        payload: l4.payload,
        truncated: l4.truncated,
    })
}
