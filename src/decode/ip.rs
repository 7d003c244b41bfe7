//! Network layer: IPv4 and IPv6 with extension headers, down to the
//! transport protocol number and its bytes, or to a fragment.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use etherparse::err::{ip_auth, ipv4, ipv6};
use etherparse::{
    IpAuthHeaderSlice, IpNumber, Ipv4HeaderSlice, Ipv6FragmentHeaderSlice, Ipv6HeaderSlice,
    Ipv6RawExtHeaderSlice,
};

use super::DecodeError;
use super::link::Net;
use crate::config::limits::MAX_IP_EXT_HEADERS;

/// The network layer of one packet.
#[derive(Clone, Copy, Debug)]
pub(super) struct Ip<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// Protocol of the first header after the IP and extension headers.
    pub protocol: IpNumber,
    /// That header and what follows, trimmed to the IP length.
    pub payload: &'a [u8],
    /// The capture holds fewer bytes than the IP length field announces.
    pub truncated: bool,
}

/// One IP fragment: where its bytes go in the reassembled payload.
#[derive(Clone, Copy, Debug)]
pub(super) struct IpFragment<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub id: u32,
    /// Byte offset of `data` (the 13-bit field times 8).
    pub offset: u32,
    pub more: bool,
    /// IPv4 protocol, or the IPv6 Fragment header's next header.
    pub protocol: u8,
    pub data: &'a [u8],
    pub truncated: bool,
}

/// A whole IP packet or one fragment of a datagram.
#[derive(Clone, Copy, Debug)]
pub(super) enum IpLayer<'a> {
    Whole(Ip<'a>),
    Fragment(IpFragment<'a>),
}

/// What the extension-header walk ended on.
#[derive(Clone, Copy, Debug)]
pub(super) enum Ext<'a> {
    /// The first non-extension protocol and its bytes.
    Upper(IpNumber, &'a [u8]),
    /// A fragmenting IPv6 Fragment header (addresses filled in by the
    /// caller).
    Fragment(IpFragment<'a>),
}

/// Parse the IP header the link layer announced (or the version nibble says).
/// The version nibble is checked first, so a link that announces one version
/// and carries another is `malformed_ip` however short the frame.
#[inline]
pub(super) fn parse(net: Net, bytes: &[u8]) -> Result<IpLayer<'_>, DecodeError> {
    let version = bytes.first().ok_or(DecodeError::Truncated)? >> 4;
    match (net, version) {
        (Net::Ipv4 | Net::ByVersion, 4) => ipv4(bytes),
        (Net::Ipv6 | Net::ByVersion, 6) => ipv6(bytes),
        _ => Err(DecodeError::MalformedIp),
    }
}

/// The error for a header that runs past the bytes available: `truncated` if
/// the capture was cut short (snap length), else the packet lies about its
/// own lengths and `malformed` applies.
#[inline]
pub(super) fn short(capture_truncated: bool, malformed: DecodeError) -> DecodeError {
    if capture_truncated {
        DecodeError::Truncated
    } else {
        malformed
    }
}

/// IPv4 (RFC 791 §3.1):
///
/// ```text
///  0       4       8               16    19                  32
/// +-------+-------+---------------+-----+--------------------+
/// |version|  IHL  |   DSCP/ECN    |      total length        |
/// +-------+-------+---------------+-----+--------------------+
/// |        identification         |flags|  fragment offset   |
/// +---------------+---------------+-----+--------------------+
/// |      TTL      |   protocol    |     header checksum      |
/// +---------------+---------------+--------------------------+
/// |                     source address                       |
/// |                  destination address                     |
/// |                 options (IHL*4 - 20 bytes)               |
/// +----------------------------------------------------------+
/// ```
///
/// - `total length` trims Ethernet padding. If it exceeds the frame (snap
///   length) the captured bytes are used and `truncated` is set. A total
///   length of 0 is taken as "not filled in yet" (TCP segmentation offload on
///   the capturing host) and the frame length is used.
/// - MF set or a non-zero offset (RFC 791 §2.3) is a fragment: its payload
///   is returned whole for reassembly (AH, RFC 4302 §3.3.2, is inside it).
/// - An AH header (RFC 4302 §2) before the transport is skipped.
fn ipv4(bytes: &[u8]) -> Result<IpLayer<'_>, DecodeError> {
    let header = Ipv4HeaderSlice::from_slice(bytes).map_err(|e| match e {
        ipv4::HeaderSliceError::Len(_) => DecodeError::Truncated,
        ipv4::HeaderSliceError::Content(_) => DecodeError::MalformedIp,
    })?;
    let header_len = header.slice().len();
    let total_len = usize::from(header.total_len());
    let (end, truncated) = if total_len == 0 {
        (bytes.len(), false)
    } else if total_len < header_len {
        return Err(DecodeError::MalformedIp);
    } else if total_len > bytes.len() {
        (bytes.len(), true)
    } else {
        (total_len, false)
    };
    let payload = bytes.get(header_len..end).ok_or(DecodeError::MalformedIp)?;
    let src = IpAddr::V4(Ipv4Addr::from(header.source()));
    let dst = IpAddr::V4(Ipv4Addr::from(header.destination()));
    if header.more_fragments() || header.fragments_offset().value() != 0 {
        return Ok(IpLayer::Fragment(IpFragment {
            src,
            dst,
            id: u32::from(header.identification()),
            offset: u32::from(header.fragments_offset().value()) * 8,
            more: header.more_fragments(),
            protocol: header.protocol().0,
            data: payload,
            truncated,
        }));
    }
    match skip_extensions(header.protocol(), payload, truncated, false)? {
        Ext::Upper(protocol, payload) => Ok(IpLayer::Whole(Ip {
            src,
            dst,
            protocol,
            payload,
            truncated,
        })),
        // An IPv4 walk never reports a Fragment header.
        Ext::Fragment(_) => Err(DecodeError::MalformedIp),
    }
}

/// Length of the fixed IPv6 header.
const IPV6_HEADER_LEN: usize = 40;

/// IPv6 (RFC 8200 §3):
///
/// ```text
///  0       4               12                                 32
/// +-------+---------------+-----------------------------------+
/// |version| traffic class |            flow label             |
/// +-------+---------------+-------+---------------+-----------+
/// |        payload length         |  next header  | hop limit |
/// +-------------------------------+---------------+-----------+
/// |                source address (16 bytes)                  |
/// |             destination address (16 bytes)                |
/// +-----------------------------------------------------------+
/// ```
///
/// `payload length` trims padding; larger than the frame means `truncated`.
/// A payload length of 0 (RFC 2675 jumbogram, or offload) uses the frame
/// length. Extension headers follow (see [`skip_extensions`]).
fn ipv6(bytes: &[u8]) -> Result<IpLayer<'_>, DecodeError> {
    let header = Ipv6HeaderSlice::from_slice(bytes).map_err(|e| match e {
        ipv6::HeaderSliceError::Len(_) => DecodeError::Truncated,
        ipv6::HeaderSliceError::Content(_) => DecodeError::MalformedIp,
    })?;
    let payload_len = usize::from(header.payload_length());
    let wanted = IPV6_HEADER_LEN.saturating_add(payload_len);
    let (end, truncated) = if payload_len == 0 {
        (bytes.len(), false)
    } else if wanted > bytes.len() {
        (bytes.len(), true)
    } else {
        (wanted, false)
    };
    let payload = bytes
        .get(IPV6_HEADER_LEN..end)
        .ok_or(DecodeError::Truncated)?;
    let src = IpAddr::V6(Ipv6Addr::from(header.source()));
    let dst = IpAddr::V6(Ipv6Addr::from(header.destination()));
    match skip_extensions(header.next_header(), payload, truncated, true)? {
        Ext::Upper(protocol, payload) => Ok(IpLayer::Whole(Ip {
            src,
            dst,
            protocol,
            payload,
            truncated,
        })),
        Ext::Fragment(f) => Ok(IpLayer::Fragment(IpFragment { src, dst, ..f })),
    }
}

/// Walk IPv6 extension headers (RFC 8200 §4) or, for IPv4, AH headers, and
/// return the first other protocol number with its bytes.
///
/// ```text
/// hop-by-hop (0), routing (43), destination options (60)  RFC 8200 §4.3-4.6
/// +-------------+-------------+---------------------------+
/// | next header | hdr ext len | (hdr ext len + 1) * 8 - 2 |
/// +-------------+-------------+---------------------------+
/// fragment (44)                                           RFC 8200 §4.5
/// +-------------+----------+--------------------+---+----------------+
/// | next header | reserved | offset (13 bits)   |res|M| identification|
/// +-------------+----------+--------------------+---+----------------+
/// authentication header (51)                              RFC 4302 §2
/// +-------------+-------------+----------+-----+-----+----------------+
/// | next header | payload len | reserved | SPI | seq | ICV: (len+2)*4 |
/// +-------------+-------------+----------+-----+-----+----------------+
/// ```
///
/// - A Fragment header with M set or a non-zero offset ends the walk with
///   [`Ext::Fragment`]: the bytes after it are the fragment's data (the
///   unfragmentable headers before it are not repeated in the reassembled
///   payload). An atomic fragment (offset 0, M clear; RFC 6946 §4) is a
///   whole packet and is walked past.
/// - Hop-by-hop is accepted anywhere in the chain: a sensor gains nothing by
///   being stricter than the spec's receivers in what it looks at.
/// - At most [`MAX_IP_EXT_HEADERS`] are walked (`ip_ext_limit`).
/// - ESP (50) encrypts what follows: it is returned as the protocol, and the
///   transport stage counts it as `other_transport`.
pub(super) fn skip_extensions(
    first: IpNumber,
    mut rest: &[u8],
    truncated: bool,
    is_ipv6: bool,
) -> Result<Ext<'_>, DecodeError> {
    let mut next = first;
    let mut walked = 0usize;
    loop {
        let header_len = match next {
            IpNumber::AUTHENTICATION_HEADER => {
                if walked >= MAX_IP_EXT_HEADERS {
                    return Err(DecodeError::IpExtLimit);
                }
                let ah = IpAuthHeaderSlice::from_slice(rest).map_err(|e| match e {
                    ip_auth::HeaderSliceError::Len(_) => short(truncated, DecodeError::MalformedIp),
                    ip_auth::HeaderSliceError::Content(_) => DecodeError::MalformedIp,
                })?;
                next = ah.next_header();
                ah.slice().len()
            }
            IpNumber::IPV6_HEADER_HOP_BY_HOP
            | IpNumber::IPV6_ROUTE_HEADER
            | IpNumber::IPV6_DESTINATION_OPTIONS
                if is_ipv6 =>
            {
                if walked >= MAX_IP_EXT_HEADERS {
                    return Err(DecodeError::IpExtLimit);
                }
                let ext = Ipv6RawExtHeaderSlice::from_slice(rest)
                    .map_err(|_| short(truncated, DecodeError::MalformedIp))?;
                next = ext.next_header();
                ext.slice().len()
            }
            IpNumber::IPV6_FRAGMENTATION_HEADER if is_ipv6 => {
                if walked >= MAX_IP_EXT_HEADERS {
                    return Err(DecodeError::IpExtLimit);
                }
                let frag = Ipv6FragmentHeaderSlice::from_slice(rest)
                    .map_err(|_| short(truncated, DecodeError::MalformedIp))?;
                if frag.is_fragmenting_payload() {
                    let data = rest
                        .get(frag.slice().len()..)
                        .ok_or(DecodeError::MalformedIp)?;
                    // Addresses are the caller's; placeholders here.
                    let unspecified = IpAddr::V6(Ipv6Addr::UNSPECIFIED);
                    return Ok(Ext::Fragment(IpFragment {
                        src: unspecified,
                        dst: unspecified,
                        id: frag.identification(),
                        offset: u32::from(frag.fragment_offset().value()) * 8,
                        more: frag.more_fragments(),
                        protocol: frag.next_header().0,
                        data,
                        truncated,
                    }));
                }
                next = frag.next_header();
                frag.slice().len()
            }
            _ => return Ok(Ext::Upper(next, rest)),
        };
        walked += 1;
        rest = rest.get(header_len..).ok_or(DecodeError::MalformedIp)?;
    }
}
