//! Link layers: from the captured frame to the start of the IP header.
//!
//! Every parser here returns [`Link`]: the link-layer addressing that exists
//! for that link type, what network layer follows, and the bytes after the
//! link header. Nothing is copied; MACs are 6-byte arrays read in place.

use etherparse::{Ethernet2HeaderSlice, SingleVlanHeaderSlice};

use super::DecodeError;
use crate::capture::LinkType;
use crate::config::limits::MAX_VLAN_TAGS;

/// Which network header the link layer announced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Net {
    Ipv4,
    Ipv6,
    /// The link does not say (raw IP): the version nibble decides.
    ByVersion,
}

/// The link layer of one frame.
#[derive(Clone, Copy, Debug)]
pub(super) struct Link<'a> {
    pub src_mac: Option<[u8; 6]>,
    pub dst_mac: Option<[u8; 6]>,
    pub vlan: Option<u16>,
    pub inner_vlan: Option<u16>,
    pub net: Net,
    /// The bytes after the link header(s): the IP header onwards.
    pub payload: &'a [u8],
}

impl<'a> Link<'a> {
    #[inline]
    fn bare(net: Net, payload: &'a [u8]) -> Link<'a> {
        Link {
            src_mac: None,
            dst_mac: None,
            vlan: None,
            inner_vlan: None,
            net,
            payload,
        }
    }
}

// Ethertypes (IEEE registry) this stage tells apart.
const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
/// IEEE 802.1Q customer VLAN tag.
const ETHERTYPE_VLAN: u16 = 0x8100;
/// IEEE 802.1ad service VLAN tag (QinQ outer tag).
const ETHERTYPE_QINQ: u16 = 0x88a8;
/// Pre-standard QinQ outer tag, still used by some switches.
const ETHERTYPE_QINQ_OLD: u16 = 0x9100;
const ETHERTYPE_MPLS_UNICAST: u16 = 0x8847;
const ETHERTYPE_MPLS_MULTICAST: u16 = 0x8848;
const ETHERTYPE_PPPOE_DISCOVERY: u16 = 0x8863;
const ETHERTYPE_PPPOE_SESSION: u16 = 0x8864;

/// `DLT_RAW` as some platforms numbered it before `LINKTYPE_RAW` (101) existed.
const LINKTYPE_RAW_12: u32 = 12;
/// `DLT_RAW` on OpenBSD.
const LINKTYPE_RAW_14: u32 = 14;

/// Split off the link header of `frame` according to `linktype`.
#[inline]
pub(super) fn parse(linktype: LinkType, frame: &[u8]) -> Result<Link<'_>, DecodeError> {
    match linktype {
        LinkType::ETHERNET => ethernet(frame),
        LinkType::NULL => bsd_loopback(frame, false),
        LinkType::LOOP => bsd_loopback(frame, true),
        LinkType::RAW | LinkType(LINKTYPE_RAW_12) | LinkType(LINKTYPE_RAW_14) => {
            Ok(Link::bare(Net::ByVersion, frame))
        }
        LinkType::IPV4 => Ok(Link::bare(Net::Ipv4, frame)),
        LinkType::IPV6 => Ok(Link::bare(Net::Ipv6, frame)),
        LinkType::LINUX_SLL => linux_sll(frame),
        LinkType::LINUX_SLL2 => linux_sll2(frame),
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
fn ethernet(frame: &[u8]) -> Result<Link<'_>, DecodeError> {
    let eth = Ethernet2HeaderSlice::from_slice(frame).map_err(|_| DecodeError::Truncated)?;
    let rest = frame
        .get(eth.slice().len()..)
        .ok_or(DecodeError::Truncated)?;
    let mut link = Link::bare(Net::ByVersion, rest);
    link.src_mac = Some(eth.source());
    link.dst_mac = Some(eth.destination());
    by_ethertype(eth.ether_type().0, rest, &mut link)?;
    Ok(link)
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
fn by_ethertype<'a>(
    mut ether_type: u16,
    mut rest: &'a [u8],
    link: &mut Link<'a>,
) -> Result<(), DecodeError> {
    let mut tags = 0usize;
    loop {
        match ether_type {
            ETHERTYPE_IPV4 => {
                link.net = Net::Ipv4;
                link.payload = rest;
                return Ok(());
            }
            ETHERTYPE_IPV6 => {
                link.net = Net::Ipv6;
                link.payload = rest;
                return Ok(());
            }
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
            ETHERTYPE_MPLS_UNICAST | ETHERTYPE_MPLS_MULTICAST => return Err(DecodeError::Mpls),
            ETHERTYPE_PPPOE_DISCOVERY | ETHERTYPE_PPPOE_SESSION => {
                return Err(DecodeError::Pppoe);
            }
            _ => return Err(DecodeError::NotIp),
        }
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
fn bsd_loopback(frame: &[u8], big_endian_only: bool) -> Result<Link<'_>, DecodeError> {
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
        Some(net) => Ok(Link::bare(net, rest)),
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
fn linux_sll(frame: &[u8]) -> Result<Link<'_>, DecodeError> {
    let (header, rest) = frame
        .split_at_checked(SLL_LEN)
        .ok_or(DecodeError::Truncated)?;
    let addr_len: [u8; 2] = array_at(header, 4).ok_or(DecodeError::Truncated)?;
    let protocol: [u8; 2] = array_at(header, 14).ok_or(DecodeError::Truncated)?;
    let mut link = Link::bare(Net::ByVersion, rest);
    if u16::from_be_bytes(addr_len) == 6 {
        link.src_mac = array_at(header, 6);
    }
    by_ethertype(u16::from_be_bytes(protocol), rest, &mut link)?;
    Ok(link)
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
fn linux_sll2(frame: &[u8]) -> Result<Link<'_>, DecodeError> {
    let (header, rest) = frame
        .split_at_checked(SLL2_LEN)
        .ok_or(DecodeError::Truncated)?;
    let protocol: [u8; 2] = array_at(header, 0).ok_or(DecodeError::Truncated)?;
    let addr_len = header.get(11).copied().ok_or(DecodeError::Truncated)?;
    let mut link = Link::bare(Net::ByVersion, rest);
    if addr_len == 6 {
        link.src_mac = array_at(header, 12);
    }
    by_ethertype(u16::from_be_bytes(protocol), rest, &mut link)?;
    Ok(link)
}
