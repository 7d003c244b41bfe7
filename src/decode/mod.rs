//! Zero-copy views over frames: link layers, VLAN, MPLS, PPPoE, tunnels,
//! IPv4/IPv6, UDP/TCP.
//!
//! [`decode`] turns one captured frame into the innermost addressing and
//! transport payload the flow stage needs, or into a [`DecodeError`] whose
//! [`label`](DecodeError::label) is the counter that explains why not.
//! [`decode_frame`] does the same but hands IP fragments back as a
//! [`Fragment`] for the reassembler (`flow::defrag`), and
//! [`decode_reassembled`] continues decoding a reassembled datagram.
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
//! - Work per frame is bounded: at most [`MAX_VLAN_TAGS`] VLAN tags per
//!   Ethernet header, [`MAX_IP_EXT_HEADERS`] extension headers per IP header,
//!   [`MAX_MPLS_LABELS`] labels per stack and [`MAX_ENCAP_DEPTH`] tunnel
//!   layers are walked.
//! - Tunnels are unwrapped in any order: the addresses, ports and payload
//!   are the innermost ones; [`Decoded::tunnel`] records the outer layers.
//!   UDP tunnels (VXLAN, Geneve, Teredo, GTP-U, MPLS-in-UDP) are recognised
//!   by port *and* a header check; if what follows does not decode, the
//!   datagram is reported as the plain UDP it also is, so a DNS server on
//!   port 4789 is not lost.
//! - Checksums are not verified: offloading makes them wrong in most captures,
//!   and a host that drops a bad datagram still shows what it tried to reach.
//!
//! Layers, each in its own file with the wire diagram and RFC above it:
//! [`link`] (Ethernet, VLAN, SLL/SLL2, NULL/LOOP, raw, PPP, C-HDLC, NFLOG,
//! PKTAP), [`ip`] (IPv4, IPv6 and extension headers, fragments), [`tunnel`]
//! (MPLS, PPPoE, PPP, GRE, ERSPAN, VXLAN, Geneve, Teredo, GTP-U),
//! [`transport`] (UDP, TCP).
//!
//! # Link fields inside tunnels
//!
//! `src_mac`, `dst_mac`, `vlan` and `inner_vlan` describe the Ethernet frame
//! that carried the innermost IP packet: an inner Ethernet frame (VXLAN,
//! Geneve, GRE transparent bridging, ERSPAN, MPLS pseudowire) replaces the
//! outer one's; MPLS and PPPoE keep the frame they ride in; a layer-3 tunnel
//! (GRE or GTP-U carrying IP, IP-in-IP, 6in4, Teredo, MPLS-in-UDP) clears
//! them, since the outer frame's addresses belong to the tunnel endpoints,
//! not to the inner host. The capture's own outermost VLAN stays in
//! [`TunnelInfo::outer_vlan`].
//!
//! [`MAX_VLAN_TAGS`]: crate::config::limits::MAX_VLAN_TAGS
//! [`MAX_IP_EXT_HEADERS`]: crate::config::limits::MAX_IP_EXT_HEADERS
//! [`MAX_MPLS_LABELS`]: crate::config::limits::MAX_MPLS_LABELS
//! [`MAX_ENCAP_DEPTH`]: crate::config::limits::MAX_ENCAP_DEPTH

use std::fmt;
use std::net::IpAddr;

use etherparse::IpNumber;

use crate::capture::LinkType;
use crate::config::limits::MAX_ENCAP_DEPTH;

mod ip;
mod link;
mod transport;
mod tunnel;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tunnel_tests;

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

/// A kind of encapsulation `decode` unwraps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TunnelKind {
    /// GRE (RFC 2784/2890) carrying IP, Ethernet (0x6558), MPLS, or PPP
    /// (PPTP's enhanced GRE, RFC 2637 §4.1).
    Gre,
    /// ERSPAN type I: GRE protocol 0x88be without a sequence number.
    Erspan1,
    /// ERSPAN type II: GRE protocol 0x88be with an 8-byte header.
    Erspan2,
    /// ERSPAN type III: GRE protocol 0x22eb with a 12-byte header.
    Erspan3,
    /// VXLAN (RFC 7348), UDP port 4789.
    Vxlan,
    /// Geneve (RFC 8926), UDP port 6081.
    Geneve,
    /// IPv4 in IPv4/IPv6 (protocol 4, RFC 2003) and IPv6 in IPv6
    /// (protocol 41, RFC 2473).
    IpIp,
    /// IPv6 in IPv4 (protocol 41, RFC 4213 §3).
    SixIn4,
    /// Teredo (RFC 4380), UDP port 3544.
    Teredo,
    /// GTP-U (3GPP TS 29.281), UDP port 2152.
    GtpU,
    /// An MPLS label stack (RFC 3032), over Ethernet, PPP, GRE or UDP
    /// (RFC 7510, port 6635).
    Mpls,
    /// PPPoE session stage (RFC 2516).
    Pppoe,
}

impl TunnelKind {
    /// Stable label for events and stats.
    pub fn as_str(self) -> &'static str {
        match self {
            TunnelKind::Gre => "gre",
            TunnelKind::Erspan1 => "erspan1",
            TunnelKind::Erspan2 => "erspan2",
            TunnelKind::Erspan3 => "erspan3",
            TunnelKind::Vxlan => "vxlan",
            TunnelKind::Geneve => "geneve",
            TunnelKind::IpIp => "ipip",
            TunnelKind::SixIn4 => "6in4",
            TunnelKind::Teredo => "teredo",
            TunnelKind::GtpU => "gtpu",
            TunnelKind::Mpls => "mpls",
            TunnelKind::Pppoe => "pppoe",
        }
    }
}

/// The tunnel layers a packet came through: the outermost one in detail,
/// every layer's kind in order (outermost first). Fixed size, no allocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TunnelInfo {
    /// Kind of the outermost tunnel.
    pub kind: TunnelKind,
    /// Addresses of the IP header that carried the outermost tunnel; `None`
    /// for MPLS and PPPoE directly on the link layer.
    pub outer_src: Option<IpAddr>,
    pub outer_dst: Option<IpAddr>,
    /// The outermost tunnel's id: VXLAN/Geneve VNI, GRE key (for PPTP the
    /// call id), ERSPAN session id, GTP-U TEID, the bottom MPLS label (the
    /// VPN or pseudowire label: outer labels change hop by hop), PPPoE
    /// session id. `None` when the header has none.
    pub id: Option<u32>,
    /// Outermost VLAN id of the captured frame (the link fields of
    /// [`Decoded`] describe the innermost frame).
    pub outer_vlan: Option<u16>,
    /// Number of tunnel layers, 1..=[`MAX_ENCAP_DEPTH`].
    pub depth: u8,
    kinds: [TunnelKind; MAX_ENCAP_DEPTH],
}

impl TunnelInfo {
    /// Every layer's kind, outermost first (`depth` entries).
    pub fn layers(&self) -> &[TunnelKind] {
        self.kinds
            .get(..usize::from(self.depth))
            .unwrap_or(&self.kinds)
    }
}

/// A decoded packet: innermost addressing plus the transport payload,
/// borrowed from the frame.
#[derive(Clone, Copy, Debug)]
pub struct Decoded<'a> {
    /// Source MAC: Ethernet source, or the SLL/SLL2 link-layer address when
    /// it is 6 bytes long. `None` on links without one (NULL, raw IP) and
    /// after a layer-3 tunnel (see the module doc).
    pub src_mac: Option<[u8; 6]>,
    /// Destination MAC (Ethernet only; SLL does not record it).
    pub dst_mac: Option<[u8; 6]>,
    /// Outermost 802.1Q/802.1ad VLAN id of the innermost Ethernet frame.
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
    /// (a whole datagram inside a cut IP packet is not truncated), also when
    /// the IP packet is complete but shorter than the UDP length
    /// ([`DecodeAnomaly::UdpLengthOverrun`]). `payload` is what was
    /// captured. Headers are always complete.
    pub truncated: bool,
    /// The tunnels the packet was unwrapped from; `None` for a plain packet.
    pub tunnel: Option<TunnelInfo>,
    /// Something odd that did not stop the decode (count it under
    /// [`DecodeAnomaly::label`]); it may come from an outer layer.
    pub anomaly: Option<DecodeAnomaly>,
}

/// Everything about an IP fragment except its bytes and position: what the
/// reassembled datagram needs to be decoded further.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FragmentMeta {
    pub src_mac: Option<[u8; 6]>,
    pub dst_mac: Option<[u8; 6]>,
    pub vlan: Option<u16>,
    pub inner_vlan: Option<u16>,
    /// Tunnels around the fragmented IP packet.
    pub tunnel: Option<TunnelInfo>,
    pub src_ip: IpAddr,
    pub dst_ip: IpAddr,
    /// IPv4 protocol, or the Next Header field of the IPv6 Fragment header
    /// (the first header of the fragmentable part).
    pub protocol: u8,
}

impl FragmentMeta {
    pub fn is_ipv6(&self) -> bool {
        self.src_ip.is_ipv6()
    }
}

/// One IP fragment (IPv4 with MF set or a non-zero offset, RFC 791 §2.3;
/// IPv6 with a fragmenting Fragment header, RFC 8200 §4.5).
#[derive(Clone, Copy, Debug)]
pub struct Fragment<'a> {
    pub meta: FragmentMeta,
    /// Identification: the IPv4 16-bit field, or the IPv6 32-bit one.
    pub id: u32,
    /// Position of `data` in the reassembled payload, in bytes.
    pub offset: u32,
    /// More fragments follow (MF / M flag).
    pub more: bool,
    /// The fragment's share of the payload (after the IPv4 header or the
    /// IPv6 Fragment header), trimmed to the IP length.
    pub data: &'a [u8],
    /// The capture cut `data` short of what the IP header announced.
    pub truncated: bool,
}

/// What a frame holds: a packet decoded to UDP/TCP, or an IP fragment.
#[derive(Clone, Copy, Debug)]
pub enum Frame<'a> {
    Packet(Decoded<'a>),
    Fragment(Fragment<'a>),
}

/// Why a frame was not decoded. Each variant is a counter label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DecodeError {
    /// A link, VLAN, tunnel, IP, extension or transport header is cut off by
    /// the end of the captured frame.
    Truncated,
    /// The capture's link type is not one `decode` understands.
    UnsupportedLinktype,
    /// The link layer or a tunnel carries something other than IP (ARP,
    /// LLDP, PPPoE discovery, PPP control protocols, ...).
    NotIp,
    /// More VLAN tags than `MAX_VLAN_TAGS` in one Ethernet header.
    VlanDepthLimit,
    /// More MPLS labels than `MAX_MPLS_LABELS` without a bottom of stack.
    MplsLabelLimit,
    /// More nested tunnels than `MAX_ENCAP_DEPTH`.
    EncapDepthLimit,
    /// A tunnel header breaks its specification: GRE version or reserved
    /// bits, ERSPAN version, Geneve/GTP-U/PPPoE fields, ...
    MalformedTunnel,
    /// Bad IP header: wrong version for the link, total length shorter than
    /// the header, an extension header longer than the packet, zero-length AH.
    MalformedIp,
    /// An IP fragment: [`decode`] does not reassemble ([`decode_frame`]
    /// returns it as a [`Fragment`] instead).
    IpFragment,
    /// More IPv6 extension / AH headers than `MAX_IP_EXT_HEADERS`.
    IpExtLimit,
    /// Any other IP protocol (ICMP, SCTP, ESP, no-next-header, ...).
    OtherTransport,
    /// TCP data offset below 5, or a TCP header longer than the IP payload.
    MalformedTcp,
    /// UDP length field between 1 and 7, or a UDP header that does not fit
    /// in a complete IP payload. (A length field beyond the IP payload is
    /// decoded: [`DecodeAnomaly::UdpLengthOverrun`].)
    MalformedUdp,
}

impl DecodeError {
    /// Every variant, in label order, for registering counters up front.
    pub const ALL: [DecodeError; 13] = [
        DecodeError::Truncated,
        DecodeError::UnsupportedLinktype,
        DecodeError::NotIp,
        DecodeError::VlanDepthLimit,
        DecodeError::MplsLabelLimit,
        DecodeError::EncapDepthLimit,
        DecodeError::MalformedTunnel,
        DecodeError::MalformedIp,
        DecodeError::IpFragment,
        DecodeError::IpExtLimit,
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
            DecodeError::VlanDepthLimit => "vlan_depth_limit",
            DecodeError::MplsLabelLimit => "mpls_label_limit",
            DecodeError::EncapDepthLimit => "encap_depth_limit",
            DecodeError::MalformedTunnel => "malformed_tunnel",
            DecodeError::MalformedIp => "malformed_ip",
            DecodeError::IpFragment => "ip_fragment",
            DecodeError::IpExtLimit => "ip_ext_limit",
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

    /// The bytes after a UDP tunnel port did not parse as that tunnel: the
    /// datagram is reported as plain UDP instead. Limits and "not UDP/TCP
    /// inside" are real tunnels and keep their label.
    fn not_a_tunnel(self) -> bool {
        matches!(
            self,
            DecodeError::Truncated
                | DecodeError::NotIp
                | DecodeError::MalformedTunnel
                | DecodeError::MalformedIp
                | DecodeError::MalformedTcp
                | DecodeError::MalformedUdp
        )
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

impl std::error::Error for DecodeError {}

/// Something odd about a frame that was decoded all the same
/// ([`Decoded::anomaly`]). Each variant is a counter label, separate from
/// the [`DecodeError`] ones: the frame is not lost, but the oddity stays
/// visible.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DecodeAnomaly {
    /// A UDP length field larger than the complete IP payload (fuzzed or
    /// forged): the bytes present are decoded, bounded by the IP payload,
    /// as for a datagram cut by the snap length ([`Decoded::truncated`] is
    /// set). tshark dissects these too.
    UdpLengthOverrun,
}

impl DecodeAnomaly {
    /// Every variant, in label order, for registering counters up front.
    pub const ALL: [DecodeAnomaly; 1] = [DecodeAnomaly::UdpLengthOverrun];

    /// Stable snake_case label used in stats and the summary.
    pub fn label(self) -> &'static str {
        match self {
            DecodeAnomaly::UdpLengthOverrun => "udp_length_overrun",
        }
    }
}

impl fmt::Display for DecodeAnomaly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Link types [`decode`] understands; any other gives
/// [`DecodeError::UnsupportedLinktype`]. 12 and 14 are the platform `DLT_RAW`
/// values some writers stored instead of `LINKTYPE_RAW` (101); 149 is
/// Apple's `DLT_PKTAP` (`LINKTYPE_PKTAP` is 258).
pub const SUPPORTED_LINKTYPES: [LinkType; 16] = [
    LinkType::NULL,
    LinkType::ETHERNET,
    LinkType(link::LINKTYPE_PPP),
    LinkType(12),
    LinkType(14),
    LinkType(link::LINKTYPE_PPP_HDLC),
    LinkType::RAW,
    LinkType(link::LINKTYPE_C_HDLC),
    LinkType::LOOP,
    LinkType::LINUX_SLL,
    LinkType(link::DLT_PKTAP_APPLE),
    LinkType::IPV4,
    LinkType::IPV6,
    LinkType(link::LINKTYPE_NFLOG),
    LinkType(link::LINKTYPE_PKTAP),
    LinkType::LINUX_SLL2,
];

/// Decode one frame of the given link type down to its innermost UDP or TCP
/// payload.
///
/// `Err` says why the frame carries no decodable UDP/TCP; count it under
/// [`DecodeError::label`]. An IP fragment is `Err(IpFragment)`: use
/// [`decode_frame`] to reassemble. See the module doc for the guarantees.
#[inline]
pub fn decode(linktype: LinkType, frame: &[u8]) -> Result<Decoded<'_>, DecodeError> {
    match decode_frame(linktype, frame)? {
        Frame::Packet(d) => Ok(d),
        Frame::Fragment(_) => Err(DecodeError::IpFragment),
    }
}

/// Decode one frame, handing an IP fragment back as [`Frame::Fragment`] (with
/// the link and tunnel layers around it) instead of an error.
#[inline]
pub fn decode_frame(linktype: LinkType, frame: &[u8]) -> Result<Frame<'_>, DecodeError> {
    let mut w = Walk::default();
    let next = link::parse(linktype, frame, &mut w.link)?;
    if let Next::Ip(net, bytes) = next
        && let Some(done) = plain(net, bytes, &w)
    {
        return done;
    }
    walk(next, &mut w)
}

/// The common frame straight to its result: IP (no tunnel above it) carrying
/// TCP, or UDP on no tunnel port. The same layer functions as the walk, in
/// the order [`after_ip`] calls them, so the result is the walk's; `None`
/// hands everything else (fragments, tunnels, other protocols, errors in
/// the IP layer, UDP anomalies) to the walk.
#[inline(always)]
fn plain<'a>(net: link::Net, bytes: &'a [u8], w: &Walk) -> Option<Result<Frame<'a>, DecodeError>> {
    let ip::IpLayer::Whole(ip) = ip::parse(net, bytes).ok()? else {
        return None;
    };
    match ip.protocol {
        IpNumber::TCP => Some(
            transport::tcp(ip.payload, ip.truncated)
                .map(|t| Frame::Packet(w.decoded(ip.src, ip.dst, t))),
        ),
        IpNumber::UDP => {
            let t = transport::udp(ip.payload, ip.truncated).ok()?;
            if t.length_overrun || is_udp_tunnel_port(t.src_port) || is_udp_tunnel_port(t.dst_port)
            {
                return None;
            }
            Some(Ok(Frame::Packet(w.decoded(ip.src, ip.dst, t))))
        }
        _ => None,
    }
}

/// Decode a datagram reassembled from fragments that carried `meta`:
/// `payload` is the IP payload (for IPv6 the fragmentable part, starting
/// with the header `meta.protocol` names). It may itself be a tunnel, whose
/// inner packet may again be a fragment.
pub fn decode_reassembled<'a>(
    meta: &FragmentMeta,
    payload: &'a [u8],
) -> Result<Frame<'a>, DecodeError> {
    let mut w = Walk {
        link: link::LinkFields {
            src_mac: meta.src_mac,
            dst_mac: meta.dst_mac,
            vlan: meta.vlan,
            inner_vlan: meta.inner_vlan,
        },
        tunnel: meta.tunnel,
        ip: Some((meta.src_ip, meta.dst_ip)),
        anomaly: None,
    };
    let (protocol, rest) =
        match ip::skip_extensions(IpNumber(meta.protocol), payload, false, meta.is_ipv6())? {
            ip::Ext::Upper(p, rest) => (p, rest),
            // A Fragment header inside a reassembled payload: no stack sends it.
            ip::Ext::Fragment(_) => return Err(DecodeError::MalformedIp),
        };
    let start = after_ip(protocol, rest, false, meta.src_ip, meta.dst_ip, &mut w);
    match start {
        Ok(Step::Next(next)) => walk(next, &mut w),
        Ok(Step::Done(f)) => Ok(f),
        Ok(Step::UdpTunnel(outer, next)) => match walk(next, &mut w) {
            Err(e) if e.not_a_tunnel() => Ok(Frame::Packet(outer)),
            r => r,
        },
        Err(e) => Err(e),
    }
}

/// What the walk knows about the layers above the current one.
#[derive(Clone, Copy, Debug, Default)]
struct Walk {
    link: link::LinkFields,
    tunnel: Option<TunnelInfo>,
    /// Addresses of the innermost IP header seen so far.
    ip: Option<(IpAddr, IpAddr)>,
    /// An oddity of a layer seen so far, for [`Decoded::anomaly`].
    anomaly: Option<DecodeAnomaly>,
}

impl Walk {
    /// Record one more tunnel layer. The first one also records the outer
    /// IP addresses (of the IP header seen last) and the capture's VLAN.
    fn enter(&mut self, kind: TunnelKind, id: Option<u32>) -> Result<(), DecodeError> {
        match &mut self.tunnel {
            None => {
                let (outer_src, outer_dst) = match self.ip {
                    Some((s, d)) => (Some(s), Some(d)),
                    None => (None, None),
                };
                self.tunnel = Some(TunnelInfo {
                    kind,
                    outer_src,
                    outer_dst,
                    id,
                    outer_vlan: self.link.vlan,
                    depth: 1,
                    kinds: [kind; MAX_ENCAP_DEPTH],
                });
            }
            Some(t) => {
                let depth = usize::from(t.depth);
                let slot = t.kinds.get_mut(depth).ok_or(DecodeError::EncapDepthLimit)?;
                *slot = kind;
                t.depth = t.depth.saturating_add(1);
            }
        }
        Ok(())
    }

    /// Enter a layer-3 tunnel: the outer frame's link fields describe the
    /// tunnel endpoints, not the inner host (module doc).
    fn enter_l3(&mut self, kind: TunnelKind, id: Option<u32>) -> Result<(), DecodeError> {
        self.enter(kind, id)?;
        self.link = link::LinkFields::default();
        Ok(())
    }

    #[inline]
    fn decoded<'a>(&self, src: IpAddr, dst: IpAddr, t: transport::Transport<'a>) -> Decoded<'a> {
        Decoded {
            src_mac: self.link.src_mac,
            dst_mac: self.link.dst_mac,
            vlan: self.link.vlan,
            inner_vlan: self.link.inner_vlan,
            src_ip: src,
            dst_ip: dst,
            src_port: t.src_port,
            dst_port: t.dst_port,
            l4: t.l4,
            payload: t.payload,
            truncated: t.truncated,
            tunnel: self.tunnel,
            anomaly: self.anomaly,
        }
    }
}

/// The layer to decode next, with its bytes.
#[derive(Clone, Copy, Debug)]
enum Next<'a> {
    /// An Ethernet frame from its destination MAC.
    Ethernet(&'a [u8]),
    /// An IP header (or the version nibble decides).
    Ip(link::Net, &'a [u8]),
    /// An MPLS label stack entry.
    Mpls(&'a [u8]),
    /// A PPPoE session header.
    Pppoe(&'a [u8]),
    /// A PPP frame: optional 0xff 0x03, then the protocol field.
    Ppp(&'a [u8]),
}

/// The outcome of decoding one layer.
#[derive(Clone, Copy, Debug)]
enum Step<'a> {
    Next(Next<'a>),
    Done(Frame<'a>),
    /// A UDP datagram on a tunnel port with a plausible tunnel header: the
    /// datagram itself, reported if the inner layers do not decode.
    UdpTunnel(Decoded<'a>, Next<'a>),
}

/// Decode layer after layer until UDP/TCP, a fragment or an error. Each
/// iteration consumes a header; cycles only go through tunnels, which
/// [`Walk::enter`] bounds by [`MAX_ENCAP_DEPTH`].
#[inline]
fn walk<'a>(mut next: Next<'a>, w: &mut Walk) -> Result<Frame<'a>, DecodeError> {
    let mut fallback: Option<Decoded<'a>> = None;
    loop {
        match step(next, w) {
            Ok(Step::Next(n)) => next = n,
            Ok(Step::Done(f)) => return Ok(f),
            Ok(Step::UdpTunnel(outer, n)) => {
                fallback = Some(outer);
                next = n;
            }
            Err(e) => {
                return match fallback {
                    Some(outer) if e.not_a_tunnel() => Ok(Frame::Packet(outer)),
                    _ => Err(e),
                };
            }
        }
    }
}

#[inline]
fn step<'a>(next: Next<'a>, w: &mut Walk) -> Result<Step<'a>, DecodeError> {
    match next {
        Next::Ethernet(bytes) => link::ethernet(bytes, &mut w.link).map(Step::Next),
        Next::Mpls(bytes) => {
            let (label, inner) = tunnel::mpls(bytes)?;
            // A pseudowire's inner Ethernet replaces the link fields; IP
            // directly under the stack rides in the same frame.
            w.enter(TunnelKind::Mpls, Some(label))?;
            Ok(Step::Next(inner))
        }
        Next::Pppoe(bytes) => {
            let (session, ppp) = tunnel::pppoe(bytes)?;
            w.enter(TunnelKind::Pppoe, Some(u32::from(session)))?;
            Ok(Step::Next(Next::Ppp(ppp)))
        }
        Next::Ppp(bytes) => tunnel::ppp(bytes).map(Step::Next),
        Next::Ip(net, bytes) => match ip::parse(net, bytes)? {
            ip::IpLayer::Whole(ip) => {
                after_ip(ip.protocol, ip.payload, ip.truncated, ip.src, ip.dst, w)
            }
            ip::IpLayer::Fragment(f) => Ok(Step::Done(Frame::Fragment(Fragment {
                meta: FragmentMeta {
                    src_mac: w.link.src_mac,
                    dst_mac: w.link.dst_mac,
                    vlan: w.link.vlan,
                    inner_vlan: w.link.inner_vlan,
                    tunnel: w.tunnel,
                    src_ip: f.src,
                    dst_ip: f.dst,
                    protocol: f.protocol,
                },
                id: f.id,
                offset: f.offset,
                more: f.more,
                data: f.data,
                truncated: f.truncated,
            }))),
        },
    }
}

/// UDP tunnel ports (IANA): VXLAN (RFC 7348 §5), Geneve (RFC 8926 §3.3),
/// Teredo (RFC 4380 §4), GTP-U (TS 29.281 §4.4.2), MPLS-in-UDP (RFC 7510 §3).
const PORT_VXLAN: u16 = 4789;
const PORT_GENEVE: u16 = 6081;
const PORT_TEREDO: u16 = 3544;
const PORT_GTPU: u16 = 2152;
const PORT_MPLS_UDP: u16 = 6635;

/// Whether a UDP port is one the decoder may treat as a tunnel (either side):
/// a frame on it is decoded in full before its flow is known.
#[inline]
pub fn is_udp_tunnel_port(port: u16) -> bool {
    matches!(
        port,
        PORT_VXLAN | PORT_GENEVE | PORT_TEREDO | PORT_GTPU | PORT_MPLS_UDP
    )
}

/// After an IP header (and its extensions): the transport, or a tunnel.
#[inline]
fn after_ip<'a>(
    protocol: IpNumber,
    payload: &'a [u8],
    truncated: bool,
    src: IpAddr,
    dst: IpAddr,
    w: &mut Walk,
) -> Result<Step<'a>, DecodeError> {
    w.ip = Some((src, dst));
    match protocol {
        IpNumber::UDP => {
            let t = transport::udp(payload, truncated)?;
            if t.length_overrun {
                w.anomaly = Some(DecodeAnomaly::UdpLengthOverrun);
            }
            let outer = w.decoded(src, dst, t);
            match udp_tunnel(&t)? {
                Some((kind, id, next)) => {
                    if kind == TunnelKind::Mpls {
                        // MPLS-in-UDP: the label stack is the tunnel layer
                        // (entered when it is decoded).
                        w.link = link::LinkFields::default();
                    } else {
                        w.enter_l3(kind, id)?;
                    }
                    Ok(Step::UdpTunnel(outer, next))
                }
                None => Ok(Step::Done(Frame::Packet(outer))),
            }
        }
        IpNumber::TCP => {
            let t = transport::tcp(payload, truncated)?;
            Ok(Step::Done(Frame::Packet(w.decoded(src, dst, t))))
        }
        IpNumber::GRE => {
            let g = tunnel::gre(payload)?;
            w.enter_l3(g.kind, g.id)?;
            Ok(Step::Next(g.next))
        }
        IpNumber::IPV4 => {
            w.enter_l3(TunnelKind::IpIp, None)?;
            Ok(Step::Next(Next::Ip(link::Net::Ipv4, payload)))
        }
        IpNumber::IPV6 => {
            let kind = if src.is_ipv4() {
                TunnelKind::SixIn4
            } else {
                TunnelKind::IpIp
            };
            w.enter_l3(kind, None)?;
            Ok(Step::Next(Next::Ip(link::Net::Ipv6, payload)))
        }
        _ => Err(DecodeError::OtherTransport),
    }
}

/// A UDP datagram on a tunnel port whose header checks out: the tunnel kind,
/// its id and the layer inside. `None` means plain UDP; `Err` a GTP-U
/// extension chain that breaks its rules or limit.
#[allow(clippy::type_complexity)] // a private triple, named where used
fn udp_tunnel<'a>(
    t: &transport::Transport<'a>,
) -> Result<Option<(TunnelKind, Option<u32>, Next<'a>)>, DecodeError> {
    let on = |port: u16| t.dst_port == port || t.src_port == port;
    let p = t.payload;
    if t.dst_port == PORT_VXLAN
        && let Some((vni, inner)) = tunnel::vxlan(p)
    {
        return Ok(Some((TunnelKind::Vxlan, Some(vni), Next::Ethernet(inner))));
    }
    if t.dst_port == PORT_GENEVE
        && let Some((vni, inner)) = tunnel::geneve(p)
    {
        return Ok(Some((TunnelKind::Geneve, Some(vni), inner)));
    }
    if on(PORT_TEREDO)
        && let Some(inner) = tunnel::teredo(p, t.truncated)
    {
        let inner = Next::Ip(link::Net::Ipv6, inner);
        return Ok(Some((TunnelKind::Teredo, None, inner)));
    }
    if on(PORT_GTPU)
        && let Some((teid, inner)) = tunnel::gtpu(p)?
    {
        return Ok(Some((TunnelKind::GtpU, Some(teid), inner)));
    }
    // MPLS-in-UDP has no header of its own to check: only the destination
    // port (the source port is an entropy value, RFC 7510 §3) and a
    // non-empty stack; the walk falls back to UDP if the stack is bad.
    if t.dst_port == PORT_MPLS_UDP && p.len() >= 4 {
        return Ok(Some((TunnelKind::Mpls, None, Next::Mpls(p))));
    }
    Ok(None)
}
