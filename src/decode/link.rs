//! Link layers: from the captured frame to the first header after the link
//! header (IP, MPLS, PPPoE, PPP).
//!
//! Every parser here fills [`LinkFields`] with the link-layer addressing that
//! exists for that link type and returns what follows as a [`Next`]. Nothing
//! is copied; MACs are 6-byte arrays read in place.

use etherparse::{Ethernet2HeaderSlice, SingleVlanHeaderSlice};

use super::{DecodeError, Next};
use crate::capture::LinkType;
use crate::config::limits::{MAX_NFLOG_TLVS, MAX_VLAN_TAGS};

/// Which network header the link layer announced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Net {
    Ipv4,
    Ipv6,
    /// The link does not say (raw IP): the version nibble decides.
    ByVersion,
}

/// The link-layer addressing of the frame that carries the current layer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct LinkFields {
    pub src_mac: Option<[u8; 6]>,
    pub dst_mac: Option<[u8; 6]>,
    pub vlan: Option<u16>,
    pub inner_vlan: Option<u16>,
}

// Ethertypes (IEEE registry) this stage tells apart.
pub(super) const ETHERTYPE_IPV4: u16 = 0x0800;
pub(super) const ETHERTYPE_IPV6: u16 = 0x86dd;
/// IEEE 802.1Q customer VLAN tag.
const ETHERTYPE_VLAN: u16 = 0x8100;
/// IEEE 802.1ad service VLAN tag (QinQ outer tag).
const ETHERTYPE_QINQ: u16 = 0x88a8;
/// Pre-standard QinQ outer tag, still used by some switches.
const ETHERTYPE_QINQ_OLD: u16 = 0x9100;
pub(super) const ETHERTYPE_MPLS_UNICAST: u16 = 0x8847;
pub(super) const ETHERTYPE_MPLS_MULTICAST: u16 = 0x8848;
/// PPPoE session stage (RFC 2516 §4); discovery (0x8863) carries no IP.
const ETHERTYPE_PPPOE_SESSION: u16 = 0x8864;

/// `DLT_RAW` as some platforms numbered it before `LINKTYPE_RAW` (101) existed.
const LINKTYPE_RAW_12: u32 = 12;
/// `DLT_RAW` on OpenBSD.
const LINKTYPE_RAW_14: u32 = 14;
/// `LINKTYPE_PPP`: PPP, optionally with RFC 1662 address/control bytes.
pub(super) const LINKTYPE_PPP: u32 = 9;
/// `LINKTYPE_PPP_HDLC`: PPP in HDLC-like framing (RFC 1662), or Cisco PPP
/// with HDLC framing (RFC 1547 §4.3.1).
pub(super) const LINKTYPE_PPP_HDLC: u32 = 50;
/// `LINKTYPE_C_HDLC`: Cisco HDLC.
pub(super) const LINKTYPE_C_HDLC: u32 = 104;
/// `LINKTYPE_NFLOG`: Linux netfilter log records.
pub(super) const LINKTYPE_NFLOG: u32 = 239;
/// `LINKTYPE_PKTAP`: Apple's per-packet metadata header.
pub(super) const LINKTYPE_PKTAP: u32 = 258;
/// `DLT_PKTAP` as Apple's libpcap writes it (= `DLT_USER2`).
pub(super) const DLT_PKTAP_APPLE: u32 = 149;

/// Split off the link header of `frame` according to `linktype`.
#[inline]
pub(super) fn parse<'a>(
    linktype: LinkType,
    frame: &'a [u8],
    link: &mut LinkFields,
) -> Result<Next<'a>, DecodeError> {
    match linktype {
        LinkType(LINKTYPE_PKTAP | DLT_PKTAP_APPLE) => pktap(frame, link),
        _ => parse_inner(linktype, frame, link),
    }
}

/// Every link type but PKTAP (which wraps one of these).
fn parse_inner<'a>(
    linktype: LinkType,
    frame: &'a [u8],
    link: &mut LinkFields,
) -> Result<Next<'a>, DecodeError> {
    match linktype {
        LinkType::ETHERNET => ethernet(frame, link),
        LinkType::NULL => bsd_loopback(frame, false),
        LinkType::LOOP => bsd_loopback(frame, true),
        LinkType::RAW | LinkType(LINKTYPE_RAW_12) | LinkType(LINKTYPE_RAW_14) => {
            Ok(Next::Ip(Net::ByVersion, frame))
        }
        LinkType::IPV4 => Ok(Next::Ip(Net::Ipv4, frame)),
        LinkType::IPV6 => Ok(Next::Ip(Net::Ipv6, frame)),
        LinkType::LINUX_SLL => linux_sll(frame, link),
        LinkType::LINUX_SLL2 => linux_sll2(frame, link),
        LinkType(LINKTYPE_PPP) => Ok(Next::Ppp(frame)),
        LinkType(LINKTYPE_PPP_HDLC) => match frame.first() {
            Some(0x0f | 0x8f) => cisco_hdlc(frame, link),
            Some(_) => Ok(Next::Ppp(frame)),
            None => Err(DecodeError::Truncated),
        },
        LinkType(LINKTYPE_C_HDLC) => cisco_hdlc(frame, link),
        LinkType(LINKTYPE_NFLOG) => nflog(frame),
        _ => Err(DecodeError::UnsupportedLinktype),
    }
}

/// Ethernet II / DIX (IEEE 802.3 clause 3.2.6 "Length/Type", RFC 894):
///
/// ```text
///  0                6                12         14
/// +----------------+----------------+----------+----------
/// | destination    | source         | type     | payload (maybe VLAN tags)
/// +----------------+----------------+----------+----------
/// ```
///
/// A type below 0x0600 is an 802.3 length (LLC/SNAP follows): `not_ip`.
///
/// Every link field is replaced: an inner frame (VXLAN, ERSPAN, ...) speaks
/// for the inner host.
pub(super) fn ethernet<'a>(
    frame: &'a [u8],
    link: &mut LinkFields,
) -> Result<Next<'a>, DecodeError> {
    let eth = Ethernet2HeaderSlice::from_slice(frame).map_err(|_| DecodeError::Truncated)?;
    let rest = frame
        .get(eth.slice().len()..)
        .ok_or(DecodeError::Truncated)?;
    *link = LinkFields {
        src_mac: Some(eth.source()),
        dst_mac: Some(eth.destination()),
        vlan: None,
        inner_vlan: None,
    };
    by_ethertype(eth.ether_type().0, rest, link)
}

/// Follow an ethertype through up to [`MAX_VLAN_TAGS`] VLAN tags to IPv4 or
/// IPv6; sets `link.net`, `link.payload` and the VLAN ids.
///
/// 802.1Q tag (IEEE 802.1Q-2018 §9.6), after the TPID that announced it:
///
/// ```text
///  0   3 4         16         32
/// +---+-+-----------+----------+----------
/// |PCP|D|    VID    | type     | payload
/// +---+-+-----------+----------+----------
/// ```
///
/// The outermost tag's VID goes to `vlan`, the second to `inner_vlan`. VID 0
/// (priority-only tag) is recorded as 0, as Zeek does.
#[inline]
pub(super) fn by_ethertype<'a>(
    mut ether_type: u16,
    mut rest: &'a [u8],
    link: &mut LinkFields,
) -> Result<Next<'a>, DecodeError> {
    let mut tags = 0usize;
    loop {
        match ether_type {
            ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_OLD => {
                if tags >= MAX_VLAN_TAGS {
                    return Err(DecodeError::VlanDepthLimit);
                }
                let tag =
                    SingleVlanHeaderSlice::from_slice(rest).map_err(|_| DecodeError::Truncated)?;
                let vid = tag.vlan_identifier().value();
                match tags {
                    0 => link.vlan = Some(vid),
                    1 => link.inner_vlan = Some(vid),
                    _ => {}
                }
                tags += 1;
                ether_type = tag.ether_type().0;
                rest = rest
                    .get(tag.slice().len()..)
                    .ok_or(DecodeError::Truncated)?;
            }
            ETHERTYPE_PPPOE_SESSION => return Ok(Next::Pppoe(rest)),
            other => return ethertype_next(other, rest).ok_or(DecodeError::NotIp),
        }
    }
}

/// The layer an ethertype announces, for the ethertypes that carry IP
/// without VLAN tags in between (GRE, Geneve, C-HDLC reuse it). `None` for
/// everything else (ARP, LLDP, PPPoE discovery, an 802.3 length, ...).
#[inline]
pub(super) fn ethertype_next(ether_type: u16, rest: &[u8]) -> Option<Next<'_>> {
    match ether_type {
        ETHERTYPE_IPV4 => Some(Next::Ip(Net::Ipv4, rest)),
        ETHERTYPE_IPV6 => Some(Next::Ip(Net::Ipv6, rest)),
        ETHERTYPE_MPLS_UNICAST | ETHERTYPE_MPLS_MULTICAST => Some(Next::Mpls(rest)),
        _ => None,
    }
}

/// Read a fixed-size array at `offset`, or `None` if the slice is too short.
#[inline]
fn array_at<const N: usize>(bytes: &[u8], offset: usize) -> Option<[u8; N]> {
    bytes
        .get(offset..offset.checked_add(N)?)
        .and_then(|s| <[u8; N]>::try_from(s).ok())
}

// BSD loopback address families (LINKTYPE_NULL / LINKTYPE_LOOP pages).
const AF_INET: u32 = 2;
/// AF_INET6 on NetBSD, OpenBSD and BSD/OS.
const AF_INET6_BSD: u32 = 24;
/// AF_INET6 on FreeBSD and DragonFly BSD.
const AF_INET6_FREEBSD: u32 = 28;
/// AF_INET6 on macOS (Darwin).
const AF_INET6_DARWIN: u32 = 30;

/// BSD loopback, `LINKTYPE_NULL` (0) and `LINKTYPE_LOOP` (108)
/// (<https://www.tcpdump.org/linktypes/LINKTYPE_NULL.html>):
///
/// ```text
///  0                               4
/// +-------------------------------+----------
/// | address family (AF_*)         | IP packet
/// +-------------------------------+----------
/// ```
///
/// LOOP stores the family big-endian. NULL stores it in the byte order of the
/// host that captured, which need not be the file's byte order, so both are
/// tried: AF_INET (2) and the AF_INET6 values (24, 28, 30) are unambiguous
/// either way round. Any other family (OSI, IPX, ...) is `not_ip`.
fn bsd_loopback(frame: &[u8], big_endian_only: bool) -> Result<Next<'_>, DecodeError> {
    let family: [u8; 4] = array_at(frame, 0).ok_or(DecodeError::Truncated)?;
    let rest = frame.get(4..).ok_or(DecodeError::Truncated)?;
    let be = u32::from_be_bytes(family);
    let le = u32::from_le_bytes(family);
    let net = |af: u32| match af {
        AF_INET => Some(Net::Ipv4),
        AF_INET6_BSD | AF_INET6_FREEBSD | AF_INET6_DARWIN => Some(Net::Ipv6),
        _ => None,
    };
    let found = if big_endian_only {
        net(be)
    } else {
        net(be).or_else(|| net(le))
    };
    match found {
        Some(net) => Ok(Next::Ip(net, rest)),
        None => Err(DecodeError::NotIp),
    }
}

/// Length of the Linux cooked v1 header.
const SLL_LEN: usize = 16;
/// Length of the Linux cooked v2 header.
const SLL2_LEN: usize = 20;

/// Linux cooked capture v1, `LINKTYPE_LINUX_SLL` (113)
/// (<https://www.tcpdump.org/linktypes/LINKTYPE_LINUX_SLL.html>):
///
/// ```text
///  0         2          4          6                    14         16
/// +---------+----------+----------+--------------------+----------+-------
/// | pkttype | ARPHRD   | addr len | address (8, padded)| protocol | payload
/// +---------+----------+----------+--------------------+----------+-------
/// ```
///
/// The address is the *sender's* link-layer address: it becomes `src_mac`
/// when its length is 6. `protocol` is an ethertype for the link types that
/// carry IP; the Linux pseudo-ethertypes (0x0001 802.3, 0x0004 802.2, ...) and
/// netlink families fall out as `not_ip`. Packet type and ARPHRD are not
/// checked (unlike `etherparse::LinuxSllHeaderSlice`, which rejects values it
/// does not know): an unknown device type must not hide IP traffic.
fn linux_sll<'a>(frame: &'a [u8], link: &mut LinkFields) -> Result<Next<'a>, DecodeError> {
    let (header, rest) = frame
        .split_at_checked(SLL_LEN)
        .ok_or(DecodeError::Truncated)?;
    let addr_len: [u8; 2] = array_at(header, 4).ok_or(DecodeError::Truncated)?;
    let protocol: [u8; 2] = array_at(header, 14).ok_or(DecodeError::Truncated)?;
    if u16::from_be_bytes(addr_len) == 6 {
        link.src_mac = array_at(header, 6);
    }
    by_ethertype(u16::from_be_bytes(protocol), rest, link)
}

/// Linux cooked capture v2, `LINKTYPE_LINUX_SLL2` (276)
/// (<https://www.tcpdump.org/linktypes/LINKTYPE_LINUX_SLL2.html>):
///
/// ```text
///  0          2          4           8        10        11        12                   20
/// +----------+----------+-----------+--------+---------+---------+--------------------+-------
/// | protocol | reserved | if index  | ARPHRD | pkttype | addrlen | address (8, padded)| payload
/// +----------+----------+-----------+--------+---------+---------+--------------------+-------
/// ```
///
/// Same rules as v1: the address is the sender's, `protocol` an ethertype.
fn linux_sll2<'a>(frame: &'a [u8], link: &mut LinkFields) -> Result<Next<'a>, DecodeError> {
    let (header, rest) = frame
        .split_at_checked(SLL2_LEN)
        .ok_or(DecodeError::Truncated)?;
    let protocol: [u8; 2] = array_at(header, 0).ok_or(DecodeError::Truncated)?;
    let addr_len = header.get(11).copied().ok_or(DecodeError::Truncated)?;
    if addr_len == 6 {
        link.src_mac = array_at(header, 12);
    }
    by_ethertype(u16::from_be_bytes(protocol), rest, link)
}

/// Length of the Cisco HDLC header.
const C_HDLC_LEN: usize = 4;

/// Cisco HDLC, `LINKTYPE_C_HDLC` (104)
/// (<https://www.tcpdump.org/linktypes/LINKTYPE_C_HDLC.html>):
///
/// ```text
///  0         1         2                    4
/// +---------+---------+--------------------+----------
/// | address | control | protocol (ethertype)| payload
/// +---------+---------+--------------------+----------
/// ```
///
/// Address 0x0f (unicast) or 0x8f (broadcast), control 0. The protocol is an
/// ethertype; SLARP (0x8035) and CDP (0x2000) keepalives are `not_ip`. The
/// address and control bytes are not checked: a router that sets other
/// values still forwards IP, and the protocol field decides.
fn cisco_hdlc<'a>(frame: &'a [u8], link: &mut LinkFields) -> Result<Next<'a>, DecodeError> {
    let (header, rest) = frame
        .split_at_checked(C_HDLC_LEN)
        .ok_or(DecodeError::Truncated)?;
    let protocol: [u8; 2] = array_at(header, 2).ok_or(DecodeError::Truncated)?;
    by_ethertype(u16::from_be_bytes(protocol), rest, link)
}

/// Length of the NFLOG header before the TLVs.
const NFLOG_HEADER_LEN: usize = 4;
/// Length of one NFLOG TLV header (length + type).
const NFLOG_TLV_HEADER_LEN: usize = 4;
/// `NFULA_PAYLOAD`: the attribute holding the packet (nfnetlink_log.h).
const NFULA_PAYLOAD: u16 = 9;
/// Flag bits of a netlink attribute type (`NLA_F_NESTED`,
/// `NLA_F_NET_BYTEORDER`), masked off before comparing the type.
const NLA_TYPE_MASK: u16 = 0x3fff;
/// Address families of the NFLOG header (Linux values).
const NFLOG_AF_INET: u8 = 2;
const NFLOG_AF_INET6: u8 = 10;

/// Linux NFLOG, `LINKTYPE_NFLOG` (239)
/// (<https://www.tcpdump.org/linktypes/LINKTYPE_NFLOG.html>):
///
/// ```text
///  0        1         2              4
/// +--------+---------+--------------+-------------------------------
/// | family | version | resource id  | TLV, TLV, ...
/// +--------+---------+--------------+-------------------------------
/// TLV: | length (2) | type (2) | value (length - 4) | pad to 4 bytes |
/// ```
///
/// The TLV length and type are in the byte order of the capturing host
/// (libpcap swaps them when it reads a foreign file; this reader has no such
/// step), so the order is taken from the first TLV: little-endian if its
/// length fits the record, else big-endian. The packet is the value of the
/// `NFULA_PAYLOAD` (9) TLV, an IP packet of the header's family. At most
/// [`MAX_NFLOG_TLVS`] TLVs are walked; a record without a payload TLV (or a
/// TLV overrunning the record) is `not_ip` / `truncated`.
fn nflog(frame: &[u8]) -> Result<Next<'_>, DecodeError> {
    let (header, mut rest) = frame
        .split_at_checked(NFLOG_HEADER_LEN)
        .ok_or(DecodeError::Truncated)?;
    let net = match header.first() {
        Some(&NFLOG_AF_INET) => Net::Ipv4,
        Some(&NFLOG_AF_INET6) => Net::Ipv6,
        _ => Net::ByVersion,
    };
    let first: [u8; 2] = array_at(rest, 0).ok_or(DecodeError::Truncated)?;
    let le_len = usize::from(u16::from_le_bytes(first));
    let little = (NFLOG_TLV_HEADER_LEN..=rest.len()).contains(&le_len);
    let read = |b: [u8; 2]| {
        if little {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        }
    };
    for _ in 0..MAX_NFLOG_TLVS {
        if rest.is_empty() {
            return Err(DecodeError::NotIp);
        }
        let len = usize::from(read(array_at(rest, 0).ok_or(DecodeError::Truncated)?));
        let kind = read(array_at(rest, 2).ok_or(DecodeError::Truncated)?) & NLA_TYPE_MASK;
        if len < NFLOG_TLV_HEADER_LEN {
            return Err(DecodeError::NotIp);
        }
        let value = rest
            .get(NFLOG_TLV_HEADER_LEN..len)
            .ok_or(DecodeError::Truncated)?;
        if kind == NFULA_PAYLOAD {
            return Ok(Next::Ip(net, value));
        }
        // Values are padded to a multiple of 4 bytes; the last may not be.
        let padded = len.checked_add(3).ok_or(DecodeError::NotIp)? & !3;
        rest = rest.get(padded..).unwrap_or_default();
    }
    Err(DecodeError::NotIp)
}

/// Smallest PKTAP header: length, DLT, then Apple's fixed fields.
const PKTAP_MIN_LEN: usize = 8;

/// Apple PKTAP, `LINKTYPE_PKTAP` (258) / `DLT_PKTAP` (149)
/// (<https://www.tcpdump.org/linktypes/LINKTYPE_PKTAP.html>):
///
/// ```text
///  0                 4                 8
/// +-----------------+-----------------+------------------------- ... ---+-------
/// | header length   | DLT of the frame| interface, process, flags ...   | frame
/// +-----------------+-----------------+------------------------- ... ---+-------
/// ```
///
/// Both fields are in the capturing host's byte order (little-endian on
/// every Mac so far); big-endian is tried when the little-endian length does
/// not fit. The frame after the header is decoded by its own DLT (a PKTAP
/// inside PKTAP is `unsupported_linktype`). The process name and id are not
/// reported.
fn pktap<'a>(frame: &'a [u8], link: &mut LinkFields) -> Result<Next<'a>, DecodeError> {
    let len_bytes: [u8; 4] = array_at(frame, 0).ok_or(DecodeError::Truncated)?;
    let dlt_bytes: [u8; 4] = array_at(frame, 4).ok_or(DecodeError::Truncated)?;
    let fits = |n: u32| {
        usize::try_from(n)
            .ok()
            .filter(|n| (PKTAP_MIN_LEN..=frame.len()).contains(n))
    };
    let (header_len, dlt) = match fits(u32::from_le_bytes(len_bytes)) {
        Some(n) => (n, u32::from_le_bytes(dlt_bytes)),
        None => match fits(u32::from_be_bytes(len_bytes)) {
            Some(n) => (n, u32::from_be_bytes(dlt_bytes)),
            None => return Err(DecodeError::Truncated),
        },
    };
    let inner = frame.get(header_len..).ok_or(DecodeError::Truncated)?;
    match dlt {
        LINKTYPE_PKTAP | DLT_PKTAP_APPLE => Err(DecodeError::UnsupportedLinktype),
        _ => parse_inner(LinkType(dlt), inner, link),
    }
}
