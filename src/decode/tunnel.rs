//! Encapsulations between the link layer and the innermost IP packet: MPLS,
//! PPPoE, PPP, GRE (with ERSPAN), and the UDP tunnels VXLAN, Geneve, Teredo
//! and GTP-U.
//!
//! Each parser reads one header and says what follows as a [`Next`]; the
//! walk in the module root counts the layers. The UDP-tunnel parsers return
//! `None` when the header does not look like their tunnel, so the datagram
//! stays plain UDP.

use super::link::{self, ETHERTYPE_IPV4, ETHERTYPE_IPV6, Net};
use super::{DecodeError, Next, TunnelKind};
use crate::config::limits::{MAX_GTP_EXT_HEADERS, MAX_MPLS_LABELS};

/// Read a big-endian u16 at `at`.
#[inline]
fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([*s.first()?, *s.get(1)?]))
}

/// Read a big-endian u32 at `at`.
#[inline]
fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([
        *s.first()?,
        *s.get(1)?,
        *s.get(2)?,
        *s.get(3)?,
    ]))
}

/// Read a big-endian 24-bit value at `at` (VNIs).
#[inline]
fn be24(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(3)?)?;
    Some(u32::from_be_bytes([0, *s.first()?, *s.get(1)?, *s.get(2)?]))
}

// ------------------------------------------------------------------- MPLS

/// Length of one MPLS label stack entry.
const MPLS_ENTRY_LEN: usize = 4;
/// Reserved label values that say what the payload is (RFC 3032 §2.1).
const MPLS_LABEL_IPV4_NULL: u32 = 0;
const MPLS_LABEL_IPV6_NULL: u32 = 2;
/// Length of the pseudowire MPLS control word (RFC 4385 §3).
const PW_CONTROL_WORD_LEN: usize = 4;

/// An MPLS label stack (RFC 3032 §2.1), walked to the bottom of stack:
///
/// ```text
///  0                   20    23 24       32
/// +--------------------+-----+-+---------+
/// |       label        | TC  |S|   TTL   |   repeated until S = 1
/// +--------------------+-----+-+---------+
/// ```
///
/// MPLS does not say what it carries, so after the stack:
/// - a bottom label 0 or 2 (explicit null) means IPv4 or IPv6;
/// - else the first nibble decides: 4 → IPv4, 6 → IPv6, 0 → a pseudowire
///   control word (RFC 4385 §3, first nibble 0000) followed by an Ethernet
///   frame (RFC 4448 Ethernet pseudowire); anything else (1 is the
///   associated channel, RFC 5586) is `not_ip`.
///
/// This is the heuristic Wireshark and Zeek use too. Its known limit: an
/// Ethernet pseudowire *without* a control word whose destination MAC starts
/// with nibble 4 or 6 is read as IP (and usually rejected as malformed), and
/// one starting with nibble 0 loses 4 bytes. Operators enable the control
/// word on Ethernet pseudowires for exactly this reason (RFC 4385 §1).
///
/// Returns the bottom label (the VPN or pseudowire label, stable end to
/// end) and the layer after the stack. More than [`MAX_MPLS_LABELS`]
/// entries without S is `mpls_label_limit`.
pub(super) fn mpls(bytes: &[u8]) -> Result<(u32, Next<'_>), DecodeError> {
    let mut rest = bytes;
    let mut bottom = None;
    for _ in 0..MAX_MPLS_LABELS {
        let entry = be32(rest, 0).ok_or(DecodeError::Truncated)?;
        rest = rest.get(MPLS_ENTRY_LEN..).ok_or(DecodeError::Truncated)?;
        if entry & 0x100 != 0 {
            bottom = Some(entry >> 12);
            break;
        }
    }
    let label = bottom.ok_or(DecodeError::MplsLabelLimit)?;
    let next = match label {
        MPLS_LABEL_IPV4_NULL => Next::Ip(Net::Ipv4, rest),
        MPLS_LABEL_IPV6_NULL => Next::Ip(Net::Ipv6, rest),
        _ => match rest.first().ok_or(DecodeError::Truncated)? >> 4 {
            4 => Next::Ip(Net::Ipv4, rest),
            6 => Next::Ip(Net::Ipv6, rest),
            0 => Next::Ethernet(
                rest.get(PW_CONTROL_WORD_LEN..)
                    .ok_or(DecodeError::Truncated)?,
            ),
            _ => return Err(DecodeError::NotIp),
        },
    };
    Ok((label, next))
}

// ------------------------------------------------------------ PPPoE / PPP

/// Length of the PPPoE header.
const PPPOE_HEADER_LEN: usize = 6;
/// PPPoE version 1, type 1 (RFC 2516 §4).
const PPPOE_VER_TYPE: u8 = 0x11;
/// Code of session-stage packets.
const PPPOE_CODE_SESSION: u8 = 0x00;

/// PPPoE session stage (RFC 2516 §4, §6):
///
/// ```text
///  0    4    8              16                              32
/// +----+----+---------------+-------------------------------+
/// |ver |type|  code (0x00)  |          session id           |
/// +----+----+---------------+-------------------------------+
/// |           length          |  PPP protocol, payload ...  |
/// +---------------------------+-----------------------------+
/// ```
///
/// Version and type must be 1 and the code 0 (`malformed_tunnel`). `length`
/// trims Ethernet padding; larger than the frame (snap length) the captured
/// bytes are used and the IP layer flags the truncation. Returns the session
/// id and the PPP frame.
pub(super) fn pppoe(bytes: &[u8]) -> Result<(u16, &[u8]), DecodeError> {
    let (header, rest) = bytes
        .split_at_checked(PPPOE_HEADER_LEN)
        .ok_or(DecodeError::Truncated)?;
    if header.first() != Some(&PPPOE_VER_TYPE) || header.get(1) != Some(&PPPOE_CODE_SESSION) {
        return Err(DecodeError::MalformedTunnel);
    }
    let session = be16(header, 2).ok_or(DecodeError::Truncated)?;
    let len = usize::from(be16(header, 4).ok_or(DecodeError::Truncated)?);
    let ppp = rest.get(..len).unwrap_or(rest);
    Ok((session, ppp))
}

/// PPP address and control bytes of HDLC-like framing (RFC 1662 §3.1).
const PPP_ADDRESS_CONTROL: [u8; 2] = [0xff, 0x03];
/// PPP protocol numbers (IANA "PPP DLL Protocol Numbers").
const PPP_IPV4: u16 = 0x0021;
const PPP_IPV6: u16 = 0x0057;
const PPP_MPLS_UNICAST: u16 = 0x0281;
const PPP_MPLS_MULTICAST: u16 = 0x0283;

/// A PPP frame (RFC 1661 §2) as `LINKTYPE_PPP`, PPPoE and PPTP's GRE carry
/// it:
///
/// ```text
/// +----------+----------+---------------------+----------
/// | 0xff     | 0x03     | protocol (1 or 2)   | information
/// +----------+----------+---------------------+----------
///   optional (RFC 1662 address/control, may be compressed away: RFC 1661 §6.6)
/// ```
///
/// The protocol field is one byte when its first byte is odd (protocol
/// field compression, RFC 1661 §6.5). IPv4, IPv6 and MPLS go on; LCP, IPCP,
/// CCP, compressed or encrypted data (CCP/ECP, PPTP's MPPE) are `not_ip`.
pub(super) fn ppp(bytes: &[u8]) -> Result<Next<'_>, DecodeError> {
    let b = bytes
        .strip_prefix(&PPP_ADDRESS_CONTROL[..])
        .unwrap_or(bytes);
    let first = *b.first().ok_or(DecodeError::Truncated)?;
    let (protocol, rest) = if first & 1 == 1 {
        (u16::from(first), b.get(1..).ok_or(DecodeError::Truncated)?)
    } else {
        (
            be16(b, 0).ok_or(DecodeError::Truncated)?,
            b.get(2..).ok_or(DecodeError::Truncated)?,
        )
    };
    match protocol {
        PPP_IPV4 => Ok(Next::Ip(Net::Ipv4, rest)),
        PPP_IPV6 => Ok(Next::Ip(Net::Ipv6, rest)),
        PPP_MPLS_UNICAST | PPP_MPLS_MULTICAST => Ok(Next::Mpls(rest)),
        _ => Err(DecodeError::NotIp),
    }
}

// -------------------------------------------------------------------- GRE

/// GRE flag bits of the first 16-bit word (RFC 2784 §2, RFC 2890 §2,
/// RFC 2637 §4.1).
const GRE_C: u16 = 0x8000;
const GRE_K: u16 = 0x2000;
const GRE_S: u16 = 0x1000;
/// Enhanced GRE (version 1) acknowledgment present.
const GRE_A: u16 = 0x0080;
/// Bits 1, 4 and 5 (routing present, strict source route, recursion high
/// bit): RFC 2784 §2.3 receivers discard packets with any of them set.
const GRE_MUST_BE_ZERO_V0: u16 = 0x4c00;
/// Version 1 allows only K, S and A besides the version (RFC 2637 §4.1).
const GRE_MUST_BE_ZERO_V1: u16 = 0xcf78;
const GRE_VERSION_MASK: u16 = 0x0007;
/// GRE protocol types besides IP and MPLS ethertypes.
const GRE_PROTO_TEB: u16 = 0x6558;
const GRE_PROTO_ERSPAN_1_2: u16 = 0x88be;
const GRE_PROTO_ERSPAN_3: u16 = 0x22eb;
const GRE_PROTO_PPP: u16 = 0x880b;
/// Lengths of the fixed GRE header and of each optional field.
const GRE_BASE_LEN: usize = 4;
const GRE_FIELD_LEN: usize = 4;

/// What a GRE header led to.
#[derive(Clone, Copy, Debug)]
pub(super) struct Gre<'a> {
    pub kind: TunnelKind,
    pub id: Option<u32>,
    pub next: Next<'a>,
}

/// GRE, version 0 (RFC 2784 §2 with RFC 2890 §2 key and sequence) and
/// version 1 (PPTP's enhanced GRE, RFC 2637 §4.1):
///
/// ```text
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-----+-+-------+-----+-------------------------------+
/// |C|R|K|S|s|Recur|A| Flags | Ver |         Protocol Type         |
/// +-+-+-+-+-+-----+-+-------+-----+-------------------------------+
/// |      Checksum (if C)          |       Reserved1 (if C)        |
/// |                         Key (if K)                            |
/// |                  Sequence Number (if S)                       |
/// |          Acknowledgment Number (if A, version 1 only)         |
/// +---------------------------------------------------------------+
/// ```
///
/// - Version 0: R, s and the top recursion bit must be clear (RFC 2784 §2.3:
///   receivers not implementing RFC 1701 source routing discard such
///   packets); the id is the key. Payloads: IPv4, IPv6, MPLS, transparent
///   Ethernet bridging (0x6558), ERSPAN (below).
/// - Version 1: C clear, K set, protocol PPP (0x880b); the key field is
///   payload length + call id, and the call id is the id.
/// - Anything else is `malformed_tunnel`; an unknown protocol type `not_ip`.
///
/// ERSPAN (draft-foschiano-erspan-03 §4) rides on GRE protocol 0x88be
/// (type I without, type II with a sequence number) or 0x22eb (type III):
///
/// ```text
/// type II:  | Ver=1 (4) | VLAN (12) | COS (3) |En(2)|T| Session ID (10) |
///           | Reserved (12)         | Index (20)                         |
/// type III: | Ver=2 (4) | VLAN (12) | COS (3) |BSO(2)|T| Session ID (10)|
///           | Timestamp (32)                                             |
///           | SGT (16)              |P| FT (5) | Hw ID (6) |D|Gra(2)|O|  |
///           | platform-specific subheader (8 bytes, if O)                |
/// ```
///
/// The mirrored frame follows: Ethernet, or for type III with frame type 2
/// an IP packet. The session id is the id.
pub(super) fn gre(bytes: &[u8]) -> Result<Gre<'_>, DecodeError> {
    let flags = be16(bytes, 0).ok_or(DecodeError::Truncated)?;
    let protocol = be16(bytes, 2).ok_or(DecodeError::Truncated)?;
    let present = |bit: u16| usize::from(flags & bit != 0) * GRE_FIELD_LEN;
    let version = flags & GRE_VERSION_MASK;
    let (header_len, key_at) = match version {
        0 => {
            if flags & GRE_MUST_BE_ZERO_V0 != 0 {
                return Err(DecodeError::MalformedTunnel);
            }
            let key_at = GRE_BASE_LEN + present(GRE_C);
            (key_at + present(GRE_K) + present(GRE_S), key_at)
        }
        1 => {
            if flags & GRE_MUST_BE_ZERO_V1 != 0 || flags & GRE_K == 0 || protocol != GRE_PROTO_PPP {
                return Err(DecodeError::MalformedTunnel);
            }
            (
                GRE_BASE_LEN + GRE_FIELD_LEN + present(GRE_S) + present(GRE_A),
                GRE_BASE_LEN,
            )
        }
        _ => return Err(DecodeError::MalformedTunnel),
    };
    let rest = bytes.get(header_len..).ok_or(DecodeError::Truncated)?;
    let key = if flags & GRE_K != 0 {
        be32(bytes, key_at)
    } else {
        None
    };
    let gre = |next| {
        Ok(Gre {
            kind: TunnelKind::Gre,
            id: key,
            next,
        })
    };
    match protocol {
        GRE_PROTO_PPP if version == 1 => Ok(Gre {
            kind: TunnelKind::Gre,
            // Enhanced GRE: the low 16 bits of the key field are the call id.
            id: key.map(|k| k & 0xffff),
            next: Next::Ppp(rest),
        }),
        GRE_PROTO_TEB => gre(Next::Ethernet(rest)),
        GRE_PROTO_ERSPAN_1_2 if flags & GRE_S == 0 => Ok(Gre {
            kind: TunnelKind::Erspan1,
            id: None,
            next: Next::Ethernet(rest),
        }),
        GRE_PROTO_ERSPAN_1_2 => erspan2(rest),
        GRE_PROTO_ERSPAN_3 => erspan3(rest),
        other => match link::ethertype_next(other, rest) {
            Some(next) => gre(next),
            None => Err(DecodeError::NotIp),
        },
    }
}

const ERSPAN2_LEN: usize = 8;
const ERSPAN3_LEN: usize = 12;
const ERSPAN3_SUBHEADER_LEN: usize = 8;
const ERSPAN_SESSION_MASK: u16 = 0x03ff;
/// ERSPAN type III frame types (FT field).
const ERSPAN3_FT_ETHERNET: u8 = 0;
const ERSPAN3_FT_IP: u8 = 2;

fn erspan2(bytes: &[u8]) -> Result<Gre<'_>, DecodeError> {
    let version = bytes.first().ok_or(DecodeError::Truncated)? >> 4;
    if version != 1 {
        return Err(DecodeError::MalformedTunnel);
    }
    let session = be16(bytes, 2).ok_or(DecodeError::Truncated)? & ERSPAN_SESSION_MASK;
    let rest = bytes.get(ERSPAN2_LEN..).ok_or(DecodeError::Truncated)?;
    Ok(Gre {
        kind: TunnelKind::Erspan2,
        id: Some(u32::from(session)),
        next: Next::Ethernet(rest),
    })
}

fn erspan3(bytes: &[u8]) -> Result<Gre<'_>, DecodeError> {
    let version = bytes.first().ok_or(DecodeError::Truncated)? >> 4;
    if version != 2 {
        return Err(DecodeError::MalformedTunnel);
    }
    let session = be16(bytes, 2).ok_or(DecodeError::Truncated)? & ERSPAN_SESSION_MASK;
    let b10 = *bytes.get(10).ok_or(DecodeError::Truncated)?;
    let b11 = *bytes.get(11).ok_or(DecodeError::Truncated)?;
    let frame_type = (b10 >> 2) & 0x1f;
    let sub = if b11 & 0x01 != 0 {
        ERSPAN3_SUBHEADER_LEN
    } else {
        0
    };
    let rest = bytes
        .get(ERSPAN3_LEN + sub..)
        .ok_or(DecodeError::Truncated)?;
    let next = match frame_type {
        ERSPAN3_FT_ETHERNET => Next::Ethernet(rest),
        ERSPAN3_FT_IP => Next::Ip(Net::ByVersion, rest),
        _ => return Err(DecodeError::NotIp),
    };
    Ok(Gre {
        kind: TunnelKind::Erspan3,
        id: Some(u32::from(session)),
        next,
    })
}

// ------------------------------------------------------------ UDP tunnels

const VXLAN_LEN: usize = 8;
/// VXLAN "I" flag: the VNI is valid (RFC 7348 §5).
const VXLAN_FLAG_I: u8 = 0x08;
/// Flag bits that are reserved in VXLAN and used by VXLAN-GPE (version,
/// next protocol, OAM), which carries other payloads: a header with any set
/// is not plain VXLAN. 0x80 is left free for the group-policy extension.
const VXLAN_FLAGS_NOT_VXLAN: u8 = 0x77;

/// VXLAN (RFC 7348 §5), UDP destination port 4789:
///
/// ```text
/// +-+-+-+-+-+-+-+-+-----------------------------------------------+
/// |R|R|R|R|I|R|R|R|            Reserved (24)                      |
/// +-+-+-+-+-+-+-+-+-----------------------------------------------+
/// |              VNI (24)                         | Reserved (8)  |
/// +-----------------------------------------------+---------------+
/// ```
///
/// Plausible when I is set and the bits VXLAN-GPE would use are clear. An
/// Ethernet frame follows. Returns the VNI.
pub(super) fn vxlan(bytes: &[u8]) -> Option<(u32, &[u8])> {
    let flags = *bytes.first()?;
    if flags & VXLAN_FLAG_I == 0 || flags & VXLAN_FLAGS_NOT_VXLAN != 0 {
        return None;
    }
    let vni = be24(bytes, 4)?;
    Some((vni, bytes.get(VXLAN_LEN..)?))
}

const GENEVE_LEN: usize = 8;
const GENEVE_OPTION_HEADER_LEN: usize = 4;

/// Geneve (RFC 8926 §3.4), UDP destination port 6081:
///
/// ```text
/// +---+-----------+-+-+-----------+-------------------------------+
/// |Ver| Opt Len   |O|C|   Rsvd.   |          Protocol Type        |
/// +---+-----------+-+-+-----------+-------------------------------+
/// |        Virtual Network Identifier (VNI)       |    Reserved   |
/// +-----------------------------------------------+---------------+
/// |  options: | class (16) | type (8) |R|R|R| len (5) | data ...  |
/// +---------------------------------------------------------------+
/// ```
///
/// Plausible when the version is 0, the options (Opt Len 4-byte words) fill
/// their area exactly (each option is 4 + len*4 bytes), and the protocol is
/// Ethernet (0x6558), IPv4 or IPv6. Returns the VNI and what follows.
pub(super) fn geneve(bytes: &[u8]) -> Option<(u32, Next<'_>)> {
    let first = *bytes.first()?;
    if first >> 6 != 0 {
        return None;
    }
    let opts_len = usize::from(first & 0x3f) * 4;
    let protocol = be16(bytes, 2)?;
    let vni = be24(bytes, 4)?;
    let end = GENEVE_LEN.checked_add(opts_len)?;
    let mut opts = bytes.get(GENEVE_LEN..end)?;
    // At most 63 iterations: each option is at least 4 of the <= 252 bytes.
    while !opts.is_empty() {
        let len = GENEVE_OPTION_HEADER_LEN + usize::from(*opts.get(3)? & 0x1f) * 4;
        opts = opts.get(len..)?;
    }
    let rest = bytes.get(end..)?;
    let next = match protocol {
        GRE_PROTO_TEB => Next::Ethernet(rest),
        ETHERTYPE_IPV4 => Next::Ip(Net::Ipv4, rest),
        ETHERTYPE_IPV6 => Next::Ip(Net::Ipv6, rest),
        _ => return None,
    };
    Some((vni, next))
}

/// Teredo indicator types (RFC 4380 §5.1.1).
const TEREDO_AUTH: [u8; 2] = [0x00, 0x01];
const TEREDO_ORIGIN: [u8; 2] = [0x00, 0x00];
const TEREDO_ORIGIN_LEN: usize = 8;
/// Authentication indicator: type, ID-len, AU-len, then nonce and
/// confirmation after the client id and authentication value.
const TEREDO_AUTH_FIXED_LEN: usize = 4 + 8 + 1;
const IPV6_HEADER_LEN: usize = 40;

/// Teredo (RFC 4380 §5.1.1), UDP port 3544 on either side: an IPv6 packet,
/// optionally preceded by an authentication indicator and then an origin
/// indication:
///
/// ```text
/// auth:   | 0x0001 | ID-len | AU-len | client id | auth value | nonce (8) | conf (1) |
/// origin: | 0x0000 | obfuscated port (16) | obfuscated IPv4 address (32) |
/// ```
///
/// Plausible when an IPv6 header follows whose payload length matches the
/// datagram (or the capture cut it). Returns the IPv6 packet.
pub(super) fn teredo(bytes: &[u8], truncated: bool) -> Option<&[u8]> {
    let mut rest = bytes;
    if rest.starts_with(&TEREDO_AUTH) {
        let id_len = usize::from(*rest.get(2)?);
        let au_len = usize::from(*rest.get(3)?);
        rest = rest.get(TEREDO_AUTH_FIXED_LEN + id_len + au_len..)?;
    }
    if rest.starts_with(&TEREDO_ORIGIN) {
        rest = rest.get(TEREDO_ORIGIN_LEN..)?;
    }
    if rest.first()? >> 4 != 6 {
        return None;
    }
    let wanted = IPV6_HEADER_LEN + usize::from(be16(rest, 4)?);
    if wanted == rest.len() || (truncated && wanted > rest.len()) {
        Some(rest)
    } else {
        None
    }
}

const GTPU_LEN: usize = 8;
const GTPU_OPTIONAL_LEN: usize = 4;
/// Version 1, protocol type GTP (TS 29.281 §5.1).
const GTPU_VERSION_1: u8 = 1;
const GTPU_FLAG_PT: u8 = 0x10;
const GTPU_FLAGS_OPTIONAL: u8 = 0x07;
const GTPU_FLAG_E: u8 = 0x04;
/// Message type G-PDU: a user packet (TS 29.281 §6.1).
const GTPU_G_PDU: u8 = 0xff;

/// GTP-U version 1 (3GPP TS 29.281 §5.1–5.2), UDP port 2152 on either side:
///
/// ```text
/// +-----+--+-+-+-+--+------------+-------------------------------+
/// | ver |PT|*|E|S|PN| msg type   |            length             |
/// +-----+--+-+-+-+--+------------+-------------------------------+
/// |                 Tunnel Endpoint Identifier                   |
/// +------------------------------+--------------+----------------+
/// | sequence (if E|S|PN)         | N-PDU number | next ext type  |
/// +------------------------------+--------------+----------------+
/// ext: | length (4-byte units) | contents ... | next ext type |
/// ```
///
/// Plausible when the version is 1, PT is 1 and the message is a G-PDU
/// (echo, error indication and end marker carry no user packet and stay
/// plain UDP). Extension headers are walked (a zero length, an overrun or
/// more than [`MAX_GTP_EXT_HEADERS`] is `malformed_tunnel`); an IP packet
/// follows. Returns the TEID.
pub(super) fn gtpu(bytes: &[u8]) -> Result<Option<(u32, Next<'_>)>, DecodeError> {
    let Some(&flags) = bytes.first() else {
        return Ok(None);
    };
    if flags >> 5 != GTPU_VERSION_1
        || flags & GTPU_FLAG_PT == 0
        || bytes.get(1) != Some(&GTPU_G_PDU)
    {
        return Ok(None);
    }
    let Some(teid) = be32(bytes, 4) else {
        return Ok(None);
    };
    let mut rest = bytes.get(GTPU_LEN..).unwrap_or_default();
    if flags & GTPU_FLAGS_OPTIONAL != 0 {
        let next_type = *rest.get(3).ok_or(DecodeError::Truncated)?;
        rest = rest
            .get(GTPU_OPTIONAL_LEN..)
            .ok_or(DecodeError::Truncated)?;
        let mut next_type = if flags & GTPU_FLAG_E != 0 {
            next_type
        } else {
            0
        };
        let mut walked = 0usize;
        while next_type != 0 {
            if walked >= MAX_GTP_EXT_HEADERS {
                return Err(DecodeError::MalformedTunnel);
            }
            walked += 1;
            let len = usize::from(*rest.first().ok_or(DecodeError::Truncated)?) * 4;
            if len == 0 {
                return Err(DecodeError::MalformedTunnel);
            }
            next_type = *rest.get(len - 1).ok_or(DecodeError::Truncated)?;
            rest = rest.get(len..).ok_or(DecodeError::Truncated)?;
        }
    }
    Ok(Some((teid, Next::Ip(Net::ByVersion, rest))))
}
