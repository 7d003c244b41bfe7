//! QUIC client Initials: the TLS ClientHello's server_name, recognised by
//! content on any UDP port.
//!
//! # What is supported
//!
//! | versions | how |
//! |---|---|
//! | v1 `0x00000001` (RFC 9000, RFC 9001) | Initial keys from the salt of RFC 9001 §5.2 |
//! | v2 `0x6b3343cf` (RFC 9369) | own salt, `quicv2` labels, rotated packet types (RFC 9369 §3.2–3.3) |
//! | drafts 22–29 `0xff000016`–`0xff00001d` | draft salts (22; 23–28; 29) |
//! | mvfst `0xfaceb001`, `0xfaceb002` | Facebook's draft-22 and draft-27 builds |
//! | gQUIC Q050 | v1-like Initial header and protection with Google's salt; CHLO `SNI` tag |
//! | gQUIC Q043 and older, Q046 | unencrypted; CHLO `SNI` tag (see [`gquic`]) |
//!
//! Other versions on UDP/443 are counted (`unsupported_version`).
//!
//! # Recognition (cheap by design)
//!
//! A datagram is looked at only if its first byte has the long-header bit
//! and its version is one of the above, or it is a gQUIC public header
//! (version flag and 8-byte connection id, then `Q0dd`). 1-RTT bulk traffic
//! (short headers) costs one byte test.
//!
//! # Decryption (RFC 9001 §5)
//!
//! Keys come from the Destination Connection ID of the client's first
//! Initial (or of its Initial after a Retry, RFC 9001 §5.2). Header
//! protection is removed (§5.4) and the payload opened (§5.3) in a
//! per-worker buffer. The full packet number is recovered as in RFC 9000
//! §A.3 from the largest one seen on the connection.
//!
//! # Connections and reassembly
//!
//! A handshake is tracked per client 5-tuple and identified by the
//! connection id its keys come from (the original DCID; after a Retry, the
//! Retry's SCID). A client Initial with a DCID the entry does not know
//! (nor the server's SCID, learnt from the server's Initial) is first
//! tried as a new connection reusing the 5-tuple, then as the tracked one
//! (a client switches to the server's SCID after the server's first
//! Initial, RFC 9000 §7.2, with the same keys). CRYPTO frames are placed by
//! offset into the entry's buffer in any order and across coalesced
//! packets (RFC 9000 §12.2); overlapping bytes are overwritten (the last
//! copy wins: honest retransmissions carry the same bytes). When bytes
//! `0..4+len` of the ClientHello are all present, it is parsed with
//! [`tls::parse_client_hello_body`]; the entry then stays, without buffer,
//! so that later Initials of the same handshake are neither decrypted nor
//! reported again. Entries expire by packet time and the table is bounded;
//! see the `QUIC_*` limits.

pub mod crypto;
pub mod frames;
pub mod gquic;

use std::collections::VecDeque;
use std::collections::hash_map::Entry;
use std::net::IpAddr;

use self::crypto::{InitialKeys, Labels, SAMPLE_LEN, Side, TAG_LEN};
use self::gquic::Chlo;
use super::tls::{self, HelloScan};
use crate::config::limits::{
    QUIC_IDLE_TIMEOUT_NS, QUIC_MAX_CONNECTIONS, QUIC_MAX_CRYPTO_BYTES, QUIC_MAX_CRYPTO_RANGES,
    QUIC_MAX_PACKETS_PER_DATAGRAM,
};
use crate::event::TsNs;

/// QUIC v1 (RFC 9000 §15).
pub const VERSION_1: u32 = 0x0000_0001;
/// QUIC v2 (RFC 9369 §3.1).
pub const VERSION_2: u32 = 0x6b33_43cf;
/// gQUIC Q050 (`"Q050"` on the wire).
pub const VERSION_Q050: u32 = u32::from_be_bytes(*b"Q050");

/// RFC 9001 §5.2.
pub const SALT_V1: [u8; 20] = [
    0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad,
    0xcc, 0xbb, 0x7f, 0x0a,
];
/// RFC 9369 §3.3.1.
pub const SALT_V2: [u8; 20] = [
    0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93, 0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb,
    0xf9, 0xbd, 0x2e, 0xd9,
];
/// draft-ietf-quic-tls-29 §5.2.
pub const SALT_DRAFT_29: [u8; 20] = [
    0xaf, 0xbf, 0xec, 0x28, 0x99, 0x93, 0xd2, 0x4c, 0x9e, 0x97, 0x86, 0xf1, 0x9c, 0x61, 0x11, 0xe0,
    0x43, 0x90, 0xa8, 0x99,
];
/// draft-ietf-quic-tls-23 to -28 §5.2.
pub const SALT_DRAFT_23: [u8; 20] = [
    0xc3, 0xee, 0xf7, 0x12, 0xc7, 0x2e, 0xbb, 0x5a, 0x11, 0xa7, 0xd2, 0x43, 0x2b, 0xb4, 0x63, 0x65,
    0xbe, 0xf9, 0xf5, 0x02,
];
/// draft-ietf-quic-tls-22 §5.2.
pub const SALT_DRAFT_22: [u8; 20] = [
    0x7f, 0xbc, 0xdb, 0x0e, 0x7c, 0x66, 0xbb, 0xe9, 0x19, 0x3a, 0x96, 0xcd, 0x21, 0x51, 0x9e, 0xbd,
    0x7a, 0x02, 0x64, 0x4a,
];
/// gQUIC Q050's Initial salt (Chromium `kQ050Salt`).
pub const SALT_Q050: [u8; 20] = [
    0x50, 0x45, 0x74, 0xef, 0xd0, 0x66, 0xfe, 0x2f, 0x9d, 0x94, 0x5c, 0xfc, 0xdb, 0xd3, 0xa7, 0xf0,
    0xd3, 0xb5, 0x6b, 0x45,
];

/// Longest connection id of the IETF versions (RFC 9000 §17.2: 20 bytes).
const MAX_CID_LEN: usize = 20;

/// How a version protects and lays out its Initial packets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VersionInfo {
    pub salt: &'static [u8; 20],
    pub labels: Labels,
    /// Long packet types as in RFC 9369 §3.2 (Initial = 1, 0-RTT = 2,
    /// Handshake = 3, Retry = 0) instead of RFC 9000 §17.2.
    pub v2_types: bool,
    /// The Initial carries a token length and token (every version we
    /// read; kept as a field for versions that differ).
    pub token: bool,
    /// The decrypted payload holds a gQUIC CHLO, not IETF frames.
    pub gquic: bool,
}

/// The Initial protection of `version`, for the versions we decrypt.
pub fn version_info(version: u32) -> Option<VersionInfo> {
    let ietf = |salt, labels, v2_types| VersionInfo {
        salt,
        labels,
        v2_types,
        token: true,
        gquic: false,
    };
    Some(match version {
        VERSION_1 => ietf(&SALT_V1, Labels::V1, false),
        VERSION_2 => ietf(&SALT_V2, Labels::V2, true),
        0xff00_001d => ietf(&SALT_DRAFT_29, Labels::V1, false),
        0xff00_0017..=0xff00_001c | 0xface_b002 => ietf(&SALT_DRAFT_23, Labels::V1, false),
        0xff00_0016 | 0xface_b001 => ietf(&SALT_DRAFT_22, Labels::V1, false),
        VERSION_Q050 => VersionInfo {
            salt: &SALT_Q050,
            labels: Labels::V1,
            v2_types: false,
            token: true,
            gquic: true,
        },
        _ => return None,
    })
}

/// The client side's view of a UDP flow: `src` sent the datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Tuple {
    pub src: IpAddr,
    pub src_port: u16,
    pub dst: IpAddr,
    pub dst_port: u16,
}

impl Tuple {
    pub fn reversed(self) -> Tuple {
        Tuple {
            src: self.dst,
            src_port: self.dst_port,
            dst: self.src,
            dst_port: self.src_port,
        }
    }
}

/// A name found in a client hello.
#[derive(Debug, PartialEq, Eq)]
pub struct QuicName<'a> {
    /// The QUIC version of the packet that completed the hello (for gQUIC,
    /// the ASCII tag as a big-endian number, e.g. `Q050` = 0x51303530).
    pub version: u32,
    /// The server_name (TLS) or `SNI` tag (gQUIC), raw bytes.
    pub sni: &'a [u8],
    /// The hello carries encrypted_client_hello: `sni` is the outer name.
    pub ech: bool,
}

/// Declares [`QuicStats`]: one `u64` per counter, `merge` and `pairs`
/// generated from the same list so none can be forgotten.
macro_rules! quic_stats {
    ($( $(#[$m:meta])* $name:ident ),* $(,)?) => {
        /// Counters of the QUIC extractor (per worker, summed for reports).
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct QuicStats {
            $( $(#[$m])* pub $name: u64, )*
        }

        impl QuicStats {
            pub fn merge(&mut self, o: &QuicStats) {
                $( self.$name += o.$name; )*
            }

            /// Every counter with its snake_case name, in declaration order
            /// (for reports: allocates).
            pub fn pairs(&self) -> Vec<(&'static str, u64)> {
                vec![ $( (stringify!($name), self.$name), )* ]
            }
        }
    };
}

quic_stats! {
    /// Datagrams recognised as QUIC (known version or gQUIC header).
    datagrams,
    /// Long-header packets on UDP/443 with a version we cannot read.
    unsupported_version,
    /// Long-header packets whose header runs past the datagram.
    malformed,
    /// Datagrams holding more packets than `QUIC_MAX_PACKETS_PER_DATAGRAM`.
    coalesced_limit,
    /// Initial packets (either side) of a supported version.
    initials,
    /// Client Initials decrypted.
    initials_decrypted,
    /// Client Initials the client keys do not open (corrupt, cut by the
    /// capture, keyed from a DCID we missed, or a server Initial between
    /// two ephemeral ports whose client we did not see).
    decrypt_failed,
    /// Server Initials (the reverse of a tracked handshake, or sent from a
    /// well-known port to an ephemeral one): not read further. Their keys
    /// come from the client's original DCID, which they do not carry.
    server_initials,
    /// Client Initials of a handshake whose hello was already read: skipped.
    initials_after_hello,
    /// Retry packets seen (the next client Initial is keyed from their SCID).
    retries,
    /// Frame walks stopped by a truncated frame.
    frames_truncated,
    /// Frame walks stopped by an unknown frame type.
    frames_unknown,
    /// CRYPTO frames that arrived ahead of a gap (out of order, or after a
    /// lost packet).
    crypto_out_of_order,
    /// CRYPTO frames reaching beyond `QUIC_MAX_CRYPTO_BYTES` (cut there).
    crypto_over_limit,
    /// Handshakes abandoned with more than `QUIC_MAX_CRYPTO_RANGES` gaps.
    crypto_ranges_limit,
    /// Complete ClientHellos (TLS) and CHLOs (gQUIC).
    hellos,
    /// Hellos carrying encrypted_client_hello (the name is the outer SNI).
    hellos_ech,
    /// Hellos without a server name.
    hellos_without_sni,
    /// CRYPTO streams that were not a valid ClientHello.
    hellos_malformed,
    /// ClientHellos announcing more than `QUIC_MAX_CRYPTO_BYTES`.
    hellos_too_long,
    /// Handshakes forgotten (expired, evicted, replaced) holding CRYPTO data
    /// but no complete hello: a lost Initial, or a capture that began late.
    hellos_incomplete,
    /// Server names extracted.
    sni,
    /// Handshakes tracked.
    conns_created,
    /// Handshakes forgotten after `QUIC_IDLE_TIMEOUT_NS` without a client
    /// Initial.
    conns_expired,
    /// Handshakes pushed out because the table held `QUIC_MAX_CONNECTIONS`.
    conns_evicted,
    /// Handshakes tracked at the last update (gauge).
    conns_active,
}

/// Long packet types (RFC 9000 §17.2, Table 5; RFC 9369 §3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LongType {
    Initial,
    ZeroRtt,
    Handshake,
    Retry,
}

impl LongType {
    fn from_bits(bits: u8, v2: bool) -> LongType {
        match (bits & 3, v2) {
            (0, false) | (1, true) => LongType::Initial,
            (1, false) | (2, true) => LongType::ZeroRtt,
            (2, false) | (3, true) => LongType::Handshake,
            _ => LongType::Retry,
        }
    }

    /// The type bits of `self` (the builder's side of `from_bits`).
    pub fn bits(self, v2: bool) -> u8 {
        let v1 = match self {
            LongType::Initial => 0,
            LongType::ZeroRtt => 1,
            LongType::Handshake => 2,
            LongType::Retry => 3,
        };
        if v2 { (v1 + 1) & 3 } else { v1 }
    }
}

/// A long-header packet of a supported version, with the protected fields
/// still protected.
///
/// ```text
/// Long Header Packet {                      -- RFC 9000 §17.2, RFC 8999 §5.1
///   Header Form (1) = 1, Fixed Bit (1), Long Packet Type (2),
///   Type-Specific Bits (4), Version (32),
///   DCID Length (8), DCID (0..160), SCID Length (8), SCID (0..160),
///   -- Initial (§17.2.2): Token Length (i), Token (..),
///   -- Initial, 0-RTT, Handshake: Length (i), Packet Number (8..32), Payload
///   -- Retry (§17.2.5): Retry Token (..), Retry Integrity Tag (128)
/// }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LongHeader<'a> {
    pub version: u32,
    pub info: VersionInfo,
    pub ty: LongType,
    pub dcid: &'a [u8],
    pub scid: &'a [u8],
    /// Offset of the (protected) packet number.
    pub pn_offset: usize,
    /// Bytes of the datagram this packet occupies (all of it for Retry).
    pub packet_len: usize,
}

/// Why a long header was not read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderError {
    /// Not a long header, or a version we do not decrypt.
    Unsupported(u32),
    /// A length runs past the datagram, or a connection id is too long.
    Malformed,
}

/// Parse the long header at the start of `b`.
pub fn parse_long_header(b: &[u8]) -> Result<LongHeader<'_>, HeaderError> {
    let bad = HeaderError::Malformed;
    let (&first, rest) = b.split_first().ok_or(bad)?;
    if first & 0x80 == 0 {
        return Err(HeaderError::Unsupported(0));
    }
    let (v, rest) = rest.split_first_chunk::<4>().ok_or(bad)?;
    let version = u32::from_be_bytes(*v);
    let info = version_info(version).ok_or(HeaderError::Unsupported(version))?;
    let (dcid, rest) = cid(rest).ok_or(bad)?;
    let (scid, rest) = cid(rest).ok_or(bad)?;
    let ty = LongType::from_bits(first >> 4, info.v2_types);
    let mut pos = b.len() - rest.len();
    if ty == LongType::Retry {
        return Ok(LongHeader {
            version,
            info,
            ty,
            dcid,
            scid,
            pn_offset: pos,
            packet_len: b.len(),
        });
    }
    if ty == LongType::Initial && info.token {
        let (n, used) = frames::varint(rest).ok_or(bad)?;
        pos = pos
            .checked_add(used)
            .and_then(|p| p.checked_add(usize::try_from(n).ok()?))
            .ok_or(bad)?;
    }
    let (len, used) = b.get(pos..).and_then(frames::varint).ok_or(bad)?;
    let pn_offset = pos + used;
    let packet_len = usize::try_from(len)
        .ok()
        .and_then(|l| pn_offset.checked_add(l))
        .filter(|&end| end <= b.len())
        .ok_or(bad)?;
    Ok(LongHeader {
        version,
        info,
        ty,
        dcid,
        scid,
        pn_offset,
        packet_len,
    })
}

/// A connection id with its one-byte length (RFC 9000 §17.2: at most 20
/// bytes in v1; longer ones are malformed for every version we read).
fn cid(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let (&n, rest) = b.split_first()?;
    if usize::from(n) > MAX_CID_LEN {
        return None;
    }
    rest.split_at_checked(usize::from(n))
}

/// Recover a full packet number from its `bits`-bit truncation, given the
/// next expected one (RFC 9000 §A.3).
fn decode_pn(expected: u64, truncated: u64, bits: u32) -> u64 {
    let win = 1u64 << bits;
    let hwin = win / 2;
    let mask = win - 1;
    let candidate = (expected & !mask) | truncated;
    if candidate.saturating_add(hwin) <= expected && candidate < (1u64 << 62).saturating_sub(win) {
        candidate + win
    } else if candidate > expected.saturating_add(hwin) && candidate >= win {
        candidate - win
    } else {
        candidate
    }
}

/// A connection id held inline.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Cid {
    len: u8,
    bytes: [u8; MAX_CID_LEN],
}

impl Cid {
    fn new(b: &[u8]) -> Cid {
        let mut c = Cid::default();
        let n = b.len().min(MAX_CID_LEN);
        if let (Some(dst), Some(src)) = (c.bytes.get_mut(..n), b.get(..n)) {
            dst.copy_from_slice(src);
        }
        c.len = n as u8; // n <= 20
        c
    }

    fn as_slice(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or_default()
    }
}

/// The client's CRYPTO stream of one handshake, by offset.
#[derive(Debug, Default)]
struct Assembly {
    /// Bytes `0..buf.len()`; holes are zero until filled.
    buf: Vec<u8>,
    /// Received ranges, sorted, disjoint and not adjacent.
    ranges: [(u32, u32); QUIC_MAX_CRYPTO_RANGES],
    nranges: usize,
}

/// What adding a CRYPTO frame did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Added {
    Ok,
    /// Part of the frame lay beyond `QUIC_MAX_CRYPTO_BYTES` and was dropped.
    OverLimit,
    /// More than `QUIC_MAX_CRYPTO_RANGES` gaps.
    TooManyRanges,
}

impl Assembly {
    /// End of the contiguous prefix.
    fn contiguous(&self) -> usize {
        match self.ranges.first() {
            Some(&(0, e)) if self.nranges > 0 => e as usize,
            _ => 0,
        }
    }

    fn clear(&mut self) {
        self.buf.clear();
        self.nranges = 0;
    }

    fn add(&mut self, offset: u64, data: &[u8]) -> Added {
        let limit = QUIC_MAX_CRYPTO_BYTES as u64;
        let start = offset.min(limit);
        let end = offset.saturating_add(data.len() as u64).min(limit);
        let over = offset.saturating_add(data.len() as u64) > limit;
        if start >= end {
            return if over { Added::OverLimit } else { Added::Ok };
        }
        // Both below QUIC_MAX_CRYPTO_BYTES, so they fit u32 and usize.
        let (s, e) = (start as usize, end as usize);
        let Some(src) = data.get(..e - s) else {
            return Added::Ok;
        };
        if !self.insert_range(s as u32, e as u32) {
            return Added::TooManyRanges;
        }
        if self.buf.len() < e {
            self.buf.resize(e, 0);
        }
        if let Some(dst) = self.buf.get_mut(s..e) {
            dst.copy_from_slice(src);
        }
        if over { Added::OverLimit } else { Added::Ok }
    }

    /// Merge `[s, e)` into the range set; false when it would need more
    /// than `QUIC_MAX_CRYPTO_RANGES` ranges (the set is then unchanged).
    fn insert_range(&mut self, mut s: u32, mut e: u32) -> bool {
        let mut out = [(0u32, 0u32); QUIC_MAX_CRYPTO_RANGES];
        let mut k = 0usize;
        let mut placed = false;
        for &(a, b) in self.ranges.iter().take(self.nranges) {
            let item = if b < s {
                (a, b)
            } else if a > e {
                if !placed {
                    let Some(slot) = out.get_mut(k) else {
                        return false;
                    };
                    *slot = (s, e);
                    k += 1;
                    placed = true;
                }
                (a, b)
            } else {
                s = s.min(a);
                e = e.max(b);
                continue;
            };
            let Some(slot) = out.get_mut(k) else {
                return false;
            };
            *slot = item;
            k += 1;
        }
        if !placed {
            let Some(slot) = out.get_mut(k) else {
                return false;
            };
            *slot = (s, e);
            k += 1;
        }
        self.ranges = out;
        self.nranges = k;
        true
    }
}

/// One tracked handshake.
#[derive(Debug)]
struct Conn {
    /// Packet time of the last client Initial (or Retry).
    last_ts: TsNs,
    version: u32,
    /// The connection id the Initial keys come from (original DCID, or the
    /// Retry's SCID after a Retry).
    key_dcid: Cid,
    /// The server's SCID from its Initial: the client's later DCID.
    server_scid: Option<Cid>,
    /// The SCID of a Retry: the DCID (and key source) of the next Initial.
    retry_scid: Option<Cid>,
    largest_pn: Option<u64>,
    /// The hello was read (or given up on): nothing more to do.
    done: bool,
    asm: Assembly,
}

impl Conn {
    fn knows(&self, dcid: &[u8]) -> bool {
        self.key_dcid.as_slice() == dcid
            || self.server_scid.is_some_and(|c| c.as_slice() == dcid)
            || self.retry_scid.is_some_and(|c| c.as_slice() == dcid)
    }
}

/// Per-worker QUIC state: the bounded handshake table, the decryption
/// buffer, and the counters. Allocates only when a handshake needs a
/// CRYPTO buffer larger than any before (buffers are recycled).
pub struct QuicTracker {
    conns: std::collections::HashMap<Tuple, Conn, foldhash::fast::RandomState>,
    /// Tuples in insertion order with the packet time they were queued
    /// (for expiry and eviction; exactly one item per `conns` entry).
    order: VecDeque<(Tuple, TsNs)>,
    /// CRYPTO buffers of finished handshakes, reused by new ones.
    spare: Vec<Vec<u8>>,
    /// Decryption buffer (one packet).
    plain: Vec<u8>,
    pub stats: QuicStats,
}

impl Default for QuicTracker {
    fn default() -> Self {
        QuicTracker::new()
    }
}

/// Whether `payload` may be a QUIC packet we read: a long header with a
/// supported (or, for counting, any non-zero) version, or a gQUIC public
/// header. One or two byte compares for anything else.
pub fn looks_like_quic(payload: &[u8]) -> bool {
    match payload {
        [first, v0, v1, v2, v3, ..] if first & 0x80 != 0 => {
            u32::from_be_bytes([*v0, *v1, *v2, *v3]) != 0
        }
        [first, ..] => gquic_public_header(payload).is_some() && first & 0x80 == 0,
        [] => false,
    }
}

/// gQUIC's public header (Q043 and older) with a version, as clients send
/// it: flags with PUBLIC_FLAG_VERSION (0x01) and an 8-byte connection id
/// (0x08), the id, then `Q0dd`. Returns (connection id, version).
fn gquic_public_header(b: &[u8]) -> Option<(&[u8], [u8; 4])> {
    let &flags = b.first()?;
    if flags & 0x80 != 0 || flags & 0x09 != 0x09 {
        return None;
    }
    let cid = b.get(1..9)?;
    let version: [u8; 4] = b.get(9..13)?.try_into().ok()?;
    (gquic::q_number(version)? <= 43).then_some((cid, version))
}

impl QuicTracker {
    pub fn new() -> QuicTracker {
        QuicTracker {
            conns: Default::default(),
            order: VecDeque::new(),
            spare: Vec::new(),
            plain: Vec::new(),
            stats: QuicStats::default(),
        }
    }

    /// Handshakes tracked.
    pub fn len(&self) -> usize {
        self.conns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.conns.is_empty()
    }

    /// Forget every handshake (end of input).
    pub fn clear(&mut self) {
        let keys: Vec<Tuple> = self.order.drain(..).map(|(t, _)| t).collect();
        for t in keys {
            self.remove(t, false);
        }
        self.stats.conns_active = 0;
    }

    /// Read one UDP datagram sent by `tuple.src` at packet time `ts`;
    /// `emit` gets each server name completed by it.
    pub fn datagram(
        &mut self,
        ts: TsNs,
        tuple: Tuple,
        payload: &[u8],
        emit: &mut impl FnMut(QuicName<'_>),
    ) {
        if !looks_like_quic(payload) {
            return;
        }
        self.expire(ts);
        if let Some((cid, version)) = gquic_public_header(payload) {
            self.stats.datagrams += 1;
            let version = u32::from_be_bytes(version);
            self.gquic_plain(ts, tuple, cid, version, payload, emit);
        } else {
            self.long_packets(ts, tuple, payload, emit);
        }
        self.stats.conns_active = self.conns.len() as u64;
    }

    /// The (coalesced) long-header packets of a datagram.
    fn long_packets(
        &mut self,
        ts: TsNs,
        tuple: Tuple,
        payload: &[u8],
        emit: &mut impl FnMut(QuicName<'_>),
    ) {
        let mut rest = payload;
        for i in 0..=QUIC_MAX_PACKETS_PER_DATAGRAM {
            // A short header (1-RTT) runs to the end of the datagram.
            if rest.first().is_none_or(|b| b & 0x80 == 0) {
                return;
            }
            if i == QUIC_MAX_PACKETS_PER_DATAGRAM {
                self.stats.coalesced_limit += 1;
                return;
            }
            let h = match parse_long_header(rest) {
                Ok(h) => h,
                Err(HeaderError::Unsupported(v)) => {
                    if i == 0 {
                        self.unsupported(tuple, v, rest, ts, emit);
                    }
                    return;
                }
                Err(HeaderError::Malformed) => {
                    if i == 0 {
                        self.stats.datagrams += 1;
                    }
                    self.stats.malformed += 1;
                    return;
                }
            };
            if i == 0 {
                self.stats.datagrams += 1;
            }
            let Some((packet, next)) = rest.split_at_checked(h.packet_len) else {
                return;
            };
            match h.ty {
                LongType::Initial => self.initial(ts, tuple, &h, packet, emit),
                LongType::Retry => {
                    self.stats.retries += 1;
                    // RFC 9000 §17.2.5.2: a client accepts one Retry.
                    if let Some(c) = self.conns.get_mut(&tuple.reversed())
                        && c.retry_scid.is_none()
                    {
                        c.retry_scid = Some(Cid::new(h.scid));
                        c.last_ts = ts;
                    }
                }
                LongType::ZeroRtt | LongType::Handshake => {}
            }
            rest = next;
        }
    }

    /// A long header of a version we do not decrypt: gQUIC Q044–Q049 are
    /// plaintext with the Q046 header; anything else is counted on UDP/443.
    fn unsupported(
        &mut self,
        tuple: Tuple,
        version: u32,
        packet: &[u8],
        ts: TsNs,
        emit: &mut impl FnMut(QuicName<'_>),
    ) {
        let v = version.to_be_bytes();
        if let Some(44..=49) = gquic::q_number(v) {
            // Q046 (Chromium QuicFramer): first byte, version, one byte of
            // DCID/SCID length nibbles (length = nibble + 3, 0 = absent).
            let Some(&lens) = packet.get(5) else {
                return;
            };
            let dcil = match lens >> 4 {
                0 => 0,
                n => usize::from(n) + 3,
            };
            let Some(cid) = packet.get(6..6 + dcil) else {
                self.stats.malformed += 1;
                return;
            };
            self.stats.datagrams += 1;
            self.gquic_plain(ts, tuple, cid, version, packet, emit);
        } else if tuple.src_port == 443 || tuple.dst_port == 443 {
            self.stats.unsupported_version += 1;
        }
    }

    /// An unencrypted gQUIC packet: look for the CHLO in it.
    fn gquic_plain(
        &mut self,
        ts: TsNs,
        tuple: Tuple,
        cid: &[u8],
        version: u32,
        packet: &[u8],
        emit: &mut impl FnMut(QuicName<'_>),
    ) {
        if self
            .conns
            .get(&tuple)
            .is_some_and(|c| c.done && c.knows(cid))
        {
            self.stats.initials_after_hello += 1;
            return;
        }
        let Chlo::Found { sni } = gquic::find_chlo(packet) else {
            return;
        };
        self.conn_for(ts, tuple, cid, version).done = true;
        hello_found(&mut self.stats, version, sni, false, emit);
    }

    /// One Initial packet (`packet` is exactly its bytes).
    fn initial(
        &mut self,
        ts: TsNs,
        tuple: Tuple,
        h: &LongHeader<'_>,
        packet: &[u8],
        emit: &mut impl FnMut(QuicName<'_>),
    ) {
        self.stats.initials += 1;
        if let Some(c) = self.conns.get_mut(&tuple.reversed()) {
            // The server's Initial of a handshake we track: its SCID is the
            // DCID of the client's next packets.
            if c.server_scid.is_none() {
                c.server_scid = Some(Cid::new(h.scid));
            }
            self.stats.server_initials += 1;
            return;
        }
        if !self.conns.contains_key(&tuple) && from_server_port(tuple) {
            // A server's Initial whose client we did not see: its keys come
            // from a DCID that is not in the packet, so it cannot be opened.
            self.stats.server_initials += 1;
            return;
        }
        let known = self.conns.get(&tuple).filter(|c| c.knows(h.dcid));
        if known.is_some_and(|c| c.done) {
            self.stats.initials_after_hello += 1;
            return;
        }
        // Which DCIDs to derive keys from, in order: the packet's own (a new
        // handshake, or the one after a Retry) unless the tracked handshake
        // keys this DCID otherwise; then the tracked original DCID.
        let tracked = self.conns.get(&tuple).map(|c| (c.key_dcid, c.retry_scid));
        let own = Cid::new(h.dcid);
        let (first, second) = match (known.is_some(), tracked) {
            (true, Some((_, retry))) if retry.is_some_and(|r| r == own) => (own, None),
            (true, Some((key, _))) => (key, None),
            (false, Some((key, _))) => (own, Some(key)),
            (_, None) => (own, None),
        };
        let mut opened = None;
        for key_cid in [Some(first), second].into_iter().flatten() {
            // RFC 9000 §A.3 needs the largest packet number of the same
            // handshake; a new one starts from 0.
            let expected = self
                .conns
                .get(&tuple)
                .filter(|c| c.key_dcid == key_cid || c.retry_scid == Some(key_cid))
                .and_then(|c| c.largest_pn)
                .map_or(0, |p| p.saturating_add(1));
            if let Some(r) = open_initial(
                h,
                packet,
                key_cid.as_slice(),
                Side::Client,
                expected,
                &mut self.plain,
            ) {
                opened = Some((key_cid, r));
                break;
            }
        }
        let Some((key_cid, (pn, plain_len))) = opened else {
            self.stats.decrypt_failed += 1;
            return;
        };
        self.stats.initials_decrypted += 1;
        // A handshake keyed by another DCID than the tracked one is a new
        // connection on a reused 5-tuple (or the tracked one after a Retry).
        let same = self
            .conns
            .get(&tuple)
            .is_some_and(|c| c.key_dcid == key_cid || c.retry_scid.is_some_and(|r| r == key_cid));
        if !same {
            self.restart(tuple);
        }
        let Self {
            conns,
            order,
            spare,
            plain,
            stats,
        } = self;
        let conn = conn_entry(conns, order, spare, stats, ts, tuple, key_cid, h.version);
        conn.key_dcid = key_cid;
        conn.largest_pn = Some(conn.largest_pn.map_or(pn, |l| l.max(pn)));
        if conn.done {
            stats.initials_after_hello += 1;
            return;
        }
        let plain = plain.get(..plain_len).unwrap_or_default();
        if h.info.gquic {
            if let Chlo::Found { sni } = gquic::find_chlo(plain) {
                finish(conn, spare);
                hello_found(stats, h.version, sni, false, emit);
            }
            return;
        }
        let mut failed = None;
        let walk = frames::walk(plain, &mut |offset, data| {
            if failed.is_some() {
                return;
            }
            if offset > conn.asm.contiguous() as u64 {
                stats.crypto_out_of_order += 1;
            }
            match conn.asm.add(offset, data) {
                Added::Ok => {}
                Added::OverLimit => stats.crypto_over_limit += 1,
                Added::TooManyRanges => failed = Some(()),
            }
        });
        match walk {
            Ok(()) => {}
            Err(frames::FrameError::Truncated) => stats.frames_truncated += 1,
            Err(frames::FrameError::UnknownType) => stats.frames_unknown += 1,
        }
        if failed.is_some() {
            stats.crypto_ranges_limit += 1;
            finish(conn, spare);
            return;
        }
        let have = conn.asm.contiguous();
        let Some(buf) = conn.asm.buf.get(..have) else {
            return;
        };
        match tls::parse_client_hello_body(buf) {
            HelloScan::NeedMore { needed } => {
                if needed > QUIC_MAX_CRYPTO_BYTES {
                    stats.hellos_too_long += 1;
                    finish(conn, spare);
                }
            }
            HelloScan::Hello { sni, ech } => {
                hello_found(stats, h.version, sni, ech, emit);
                finish(conn, spare);
            }
            HelloScan::NotTls | HelloScan::Malformed(_) => {
                stats.hellos_malformed += 1;
                finish(conn, spare);
            }
        }
    }

    /// The entry of `tuple`, created (or reset for another handshake) when
    /// it is not keyed by `cid`.
    fn conn_for(&mut self, ts: TsNs, tuple: Tuple, cid: &[u8], version: u32) -> &mut Conn {
        let cid = Cid::new(cid);
        if self.conns.get(&tuple).is_some_and(|c| c.key_dcid != cid) {
            self.restart(tuple);
        }
        let Self {
            conns,
            order,
            spare,
            stats,
            ..
        } = self;
        let conn = conn_entry(conns, order, spare, stats, ts, tuple, cid, version);
        conn.key_dcid = cid;
        conn
    }

    /// A new handshake on `tuple`'s 5-tuple: reset its entry in place (it
    /// keeps its one item in `order`, so replacing handshakes on one tuple
    /// cannot grow the queue); `conn_entry` then re-keys it.
    fn restart(&mut self, tuple: Tuple) {
        if let Some(c) = self.conns.get_mut(&tuple) {
            if !c.done && !c.asm.buf.is_empty() {
                self.stats.hellos_incomplete += 1;
            }
            recycle(c, &mut self.spare);
            c.server_scid = None;
            c.retry_scid = None;
            c.largest_pn = None;
            c.done = false;
            self.stats.conns_created += 1;
        }
    }

    /// Remove `tuple`'s entry (called after its item left `order`).
    fn remove(&mut self, tuple: Tuple, count_incomplete: bool) {
        if let Some(mut c) = self.conns.remove(&tuple) {
            if count_incomplete && !c.done && !c.asm.buf.is_empty() {
                self.stats.hellos_incomplete += 1;
            }
            recycle(&mut c, &mut self.spare);
        }
    }

    /// Forget handshakes idle for `QUIC_IDLE_TIMEOUT_NS`. Amortised O(1):
    /// each entry's queue item is looked at once per timeout period.
    fn expire(&mut self, now: TsNs) {
        while let Some(&(t, queued)) = self.order.front() {
            if queued.saturating_add(QUIC_IDLE_TIMEOUT_NS) > now {
                return;
            }
            self.order.pop_front();
            let Some(c) = self.conns.get(&t) else {
                continue; // only after `clear`: nothing else removes entries
            };
            if c.last_ts.saturating_add(QUIC_IDLE_TIMEOUT_NS) <= now {
                self.stats.conns_expired += 1;
                self.remove(t, true);
            } else {
                self.order.push_back((t, c.last_ts));
            }
        }
    }
}

/// A datagram from a well-known port (below 1024) to an ephemeral one: a
/// server's answer, when no tracked handshake says otherwise.
fn from_server_port(t: Tuple) -> bool {
    t.src_port < 1024 && t.dst_port >= 1024
}

/// Get or create `tuple`'s entry, evicting the oldest when the table is
/// full.
#[allow(clippy::too_many_arguments)] // split borrows of QuicTracker's fields
fn conn_entry<'c>(
    conns: &'c mut std::collections::HashMap<Tuple, Conn, foldhash::fast::RandomState>,
    order: &mut VecDeque<(Tuple, TsNs)>,
    spare: &mut Vec<Vec<u8>>,
    stats: &mut QuicStats,
    ts: TsNs,
    tuple: Tuple,
    key_dcid: Cid,
    version: u32,
) -> &'c mut Conn {
    if !conns.contains_key(&tuple) {
        while conns.len() >= QUIC_MAX_CONNECTIONS {
            let Some((old, _)) = order.pop_front() else {
                break;
            };
            if let Some(mut c) = conns.remove(&old) {
                stats.conns_evicted += 1;
                if !c.done && !c.asm.buf.is_empty() {
                    stats.hellos_incomplete += 1;
                }
                recycle(&mut c, spare);
            }
        }
        stats.conns_created += 1;
        order.push_back((tuple, ts));
    }
    let conn = match conns.entry(tuple) {
        Entry::Occupied(o) => o.into_mut(),
        Entry::Vacant(v) => v.insert(Conn {
            last_ts: ts,
            version,
            key_dcid,
            server_scid: None,
            retry_scid: None,
            largest_pn: None,
            done: false,
            asm: Assembly {
                buf: spare.pop().unwrap_or_default(),
                ..Assembly::default()
            },
        }),
    };
    conn.last_ts = ts;
    conn.version = version;
    conn
}

/// Mark a handshake done and give its buffer back.
fn finish(conn: &mut Conn, spare: &mut Vec<Vec<u8>>) {
    conn.done = true;
    recycle(conn, spare);
}

fn recycle(conn: &mut Conn, spare: &mut Vec<Vec<u8>>) {
    let mut buf = std::mem::take(&mut conn.asm.buf);
    conn.asm.clear();
    if buf.capacity() > 0 {
        buf.clear();
        spare.push(buf);
    }
}

fn hello_found(
    stats: &mut QuicStats,
    version: u32,
    sni: Option<&[u8]>,
    ech: bool,
    emit: &mut impl FnMut(QuicName<'_>),
) {
    stats.hellos += 1;
    if ech {
        stats.hellos_ech += 1;
    }
    match sni {
        Some(sni) => {
            stats.sni += 1;
            emit(QuicName { version, sni, ech });
        }
        None => stats.hellos_without_sni += 1,
    }
}

/// Remove header protection and open one Initial (RFC 9001 §5.3–5.4) with
/// `side`'s keys derived from `key_dcid`, into `plain` (cleared first).
/// Returns the full packet number and the plaintext length (the plaintext
/// is `plain[..len]`).
pub fn open_initial(
    h: &LongHeader<'_>,
    packet: &[u8],
    key_dcid: &[u8],
    side: Side,
    expected_pn: u64,
    plain: &mut Vec<u8>,
) -> Option<(u64, usize)> {
    let keys = InitialKeys::derive(h.info.salt, h.info.labels, key_dcid, side)?;
    // §5.4.2: the sample starts 4 bytes after the packet number's start.
    let sample = packet.get(h.pn_offset + 4..h.pn_offset + 4 + SAMPLE_LEN)?;
    let mask = keys.mask(sample)?;
    let &first = packet.first()?;
    // §5.4.1: long headers protect the low 4 bits of the first byte.
    let first = first ^ (mask[0] & 0x0f);
    let pn_len = usize::from(first & 0x03) + 1;
    let header_len = h.pn_offset + pn_len;
    if packet.len() < header_len + TAG_LEN {
        return None;
    }
    plain.clear();
    plain.extend_from_slice(packet);
    let (header, payload) = plain.split_at_mut(header_len);
    let mut truncated = 0u64;
    for (i, b) in header.iter_mut().skip(h.pn_offset).enumerate() {
        *b ^= mask.get(1 + i).copied().unwrap_or(0);
        truncated = (truncated << 8) | u64::from(*b);
    }
    *header.first_mut()? = first;
    let pn = decode_pn(expected_pn, truncated, 8 * pn_len as u32);
    let n = keys.open(pn, header, payload)?;
    // Move the plaintext to the start of the buffer.
    plain.copy_within(header_len..header_len + n, 0);
    plain.truncate(n);
    Some((pn, n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn unhex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn tuple(port: u16) -> Tuple {
        Tuple {
            src: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            src_port: port,
            dst: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
            dst_port: 443,
        }
    }

    fn names(t: &mut QuicTracker, ts: TsNs, tu: Tuple, d: &[u8]) -> Vec<(u32, Vec<u8>, bool)> {
        let mut out = Vec::new();
        t.datagram(ts, tu, d, &mut |n| {
            out.push((n.version, n.sni.to_vec(), n.ech))
        });
        out
    }

    /// RFC 9001 Appendix A.2: the protected client Initial opens to the
    /// printed CRYPTO frame plus PADDING, and its hello names example.com.
    #[test]
    fn rfc9001_a2_client_initial() {
        let pkt = unhex(include_str!("testdata/rfc9001_a2_client_initial.hex"));
        let frame = unhex(include_str!("testdata/rfc9001_a2_crypto_frame.hex"));
        let h = parse_long_header(&pkt).unwrap();
        assert_eq!(
            (h.version, h.ty, h.pn_offset, h.packet_len),
            (1, LongType::Initial, 18, 1200)
        );
        assert_eq!(h.dcid, unhex("8394c8f03e515708"));
        let mut plain = Vec::new();
        let (pn, n) = open_initial(&h, &pkt, h.dcid, Side::Client, 0, &mut plain).unwrap();
        assert_eq!((pn, n), (2, 1162));
        assert_eq!(&plain[..frame.len()], &frame[..]);
        assert!(plain[frame.len()..n].iter().all(|&b| b == 0));

        let mut t = QuicTracker::new();
        assert_eq!(
            names(&mut t, 1, tuple(1), &pkt),
            vec![(1, b"example.com".to_vec(), false)]
        );
        assert_eq!((t.stats.initials_decrypted, t.stats.sni), (1, 1));
        // The same packet again: the handshake is done, nothing decrypted.
        assert!(names(&mut t, 2, tuple(1), &pkt).is_empty());
        assert_eq!(
            (t.stats.initials_decrypted, t.stats.initials_after_hello),
            (1, 1)
        );
    }

    /// RFC 9369 Appendix A.2: the v2 client Initial (same CRYPTO frame).
    #[test]
    fn rfc9369_a2_client_initial() {
        let pkt = unhex(include_str!("testdata/rfc9369_a2_client_initial.hex"));
        let frame = unhex(include_str!("testdata/rfc9001_a2_crypto_frame.hex"));
        let h = parse_long_header(&pkt).unwrap();
        assert_eq!((h.version, h.ty), (VERSION_2, LongType::Initial));
        let mut plain = Vec::new();
        let (pn, n) = open_initial(&h, &pkt, h.dcid, Side::Client, 0, &mut plain).unwrap();
        assert_eq!((pn, n), (2, 1162));
        assert_eq!(&plain[..frame.len()], &frame[..]);
        let mut t = QuicTracker::new();
        assert_eq!(
            names(&mut t, 1, tuple(1), &pkt),
            vec![(VERSION_2, b"example.com".to_vec(), false)]
        );
        // The same bytes labelled v1 do not open: the salt and labels matter.
        let mut as_v1 = pkt.clone();
        as_v1[1..5].copy_from_slice(&VERSION_1.to_be_bytes());
        as_v1[0] &= 0xcf; // v1 Initial type bits (00)
        let mut t = QuicTracker::new();
        assert!(names(&mut t, 1, tuple(1), &as_v1).is_empty());
        assert_eq!(t.stats.decrypt_failed, 1);
    }

    /// RFC 9001 A.4 and RFC 9369 A.4: Retry packets; their SCID is the
    /// client's next DCID.
    #[test]
    fn rfc_retry_packets_parse() {
        for (hex, v) in [
            (
                "ff000000010008f067a5502a4262b5746f6b656e04a265ba2eff4d829058fb3f0f2496ba",
                VERSION_1,
            ),
            (
                "cf6b3343cf0008f067a5502a4262b5746f6b656ec8646ce8bfe33952d955543665dcc7b6",
                VERSION_2,
            ),
        ] {
            let p = unhex(hex);
            let h = parse_long_header(&p).unwrap();
            assert_eq!(
                (h.version, h.ty, h.packet_len),
                (v, LongType::Retry, p.len())
            );
            assert_eq!(h.dcid, b"");
            assert_eq!(h.scid, unhex("f067a5502a4262b5"));
        }
    }

    #[test]
    fn header_errors() {
        let pkt = unhex(include_str!("testdata/rfc9001_a2_client_initial.hex"));
        // Every truncation of the header, and a datagram cut before the
        // Length's end, is malformed; never a panic.
        for n in 0..pkt.len() {
            if n < 5 {
                assert!(parse_long_header(&pkt[..n]).is_err());
            } else {
                assert_eq!(
                    parse_long_header(&pkt[..n]),
                    Err(HeaderError::Malformed),
                    "{n}"
                );
            }
        }
        let mut unknown = pkt.clone();
        unknown[1..5].copy_from_slice(&0x0a0a_0a0au32.to_be_bytes());
        assert_eq!(
            parse_long_header(&unknown),
            Err(HeaderError::Unsupported(0x0a0a_0a0a))
        );
        let mut long_cid = pkt.clone();
        long_cid[5] = 21;
        assert_eq!(parse_long_header(&long_cid), Err(HeaderError::Malformed));
    }

    /// RFC 9000 §A.3's example, and the window edges.
    #[test]
    fn packet_number_decoding() {
        assert_eq!(decode_pn(0xa82f_30ea + 1, 0x9b32, 16), 0xa82f_9b32);
        assert_eq!(decode_pn(0, 2, 8), 2);
        assert_eq!(decode_pn(255, 1, 8), 257);
        assert_eq!(decode_pn(300, 250, 8), 250);
        assert_eq!(decode_pn(u64::MAX >> 2, 0, 8), (u64::MAX >> 2) & !0xff);
    }

    #[test]
    fn assembly_merges_ranges_in_any_order() {
        let mut a = Assembly::default();
        assert_eq!(a.add(10, b"klm"), Added::Ok);
        assert_eq!(a.contiguous(), 0);
        assert_eq!(a.add(0, b"abcde"), Added::Ok);
        assert_eq!(a.contiguous(), 5);
        assert_eq!(a.add(5, b"fghij"), Added::Ok);
        assert_eq!(a.contiguous(), 13);
        assert_eq!(&a.buf, b"abcdefghijklm");
        assert_eq!(a.nranges, 1);
        // Overlap and retransmission.
        assert_eq!(a.add(2, b"cdefghij"), Added::Ok);
        assert_eq!((a.contiguous(), a.nranges), (13, 1));
        // Beyond the limit: cut there.
        let lim = QUIC_MAX_CRYPTO_BYTES as u64;
        assert_eq!(a.add(lim - 1, b"yz"), Added::OverLimit);
        assert_eq!(a.buf.len(), QUIC_MAX_CRYPTO_BYTES);
        assert_eq!(a.add(u64::MAX - 1, b"yz"), Added::OverLimit);
        // Too many gaps.
        let mut a = Assembly::default();
        for i in 0..QUIC_MAX_CRYPTO_RANGES as u64 {
            assert_eq!(a.add(1 + 2 * i, b"x"), Added::Ok);
        }
        assert_eq!(a.add(1000, b"x"), Added::TooManyRanges);
        assert_eq!(a.nranges, QUIC_MAX_CRYPTO_RANGES);
        // Filling a gap still works at the limit (it merges two ranges).
        assert_eq!(a.add(2, b"x"), Added::Ok);
        assert_eq!(a.nranges, QUIC_MAX_CRYPTO_RANGES - 1);
    }

    #[test]
    fn recognition_is_cheap_and_selective() {
        assert!(!looks_like_quic(b""));
        assert!(!looks_like_quic(&[0x40, 1, 2, 3, 4, 5])); // short header
        assert!(!looks_like_quic(&[0xc0, 0, 0, 0, 0])); // version negotiation
        assert!(looks_like_quic(&[0xc0, 0, 0, 0, 1]));
        let mut legacy = vec![0x09];
        legacy.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
        legacy.extend_from_slice(b"Q043\x01");
        assert!(looks_like_quic(&legacy));
        legacy[9..13].copy_from_slice(b"Q046");
        assert!(!looks_like_quic(&legacy)); // Q046 uses the long header
    }

    #[test]
    fn unsupported_versions_are_counted_on_443_only() {
        let mut pkt = unhex(include_str!("testdata/rfc9001_a2_client_initial.hex"));
        pkt[1..5].copy_from_slice(&0x5a5a_5a5au32.to_be_bytes());
        let mut t = QuicTracker::new();
        assert!(names(&mut t, 1, tuple(1), &pkt).is_empty());
        let mut other = tuple(1);
        other.dst_port = 9999;
        assert!(names(&mut t, 1, other, &pkt).is_empty());
        assert_eq!(t.stats.unsupported_version, 1);
        assert_eq!(t.stats.datagrams, 0);
    }

    /// The table never holds more than QUIC_MAX_CONNECTIONS handshakes, and
    /// idle ones expire by packet time.
    #[test]
    fn table_is_bounded_and_expires() {
        let pkt = unhex(include_str!("testdata/rfc9001_a2_client_initial.hex"));
        let mut t = QuicTracker::new();
        let n = QUIC_MAX_CONNECTIONS + 100;
        let mut src = 0u32;
        for i in 0..n {
            src += 1;
            let tu = Tuple {
                src: IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + src)),
                src_port: 1000,
                ..tuple(1)
            };
            assert_eq!(names(&mut t, i as u64, tu, &pkt).len(), 1);
            assert!(t.len() <= QUIC_MAX_CONNECTIONS);
        }
        assert_eq!(t.stats.conns_evicted, 100);
        assert_eq!(t.stats.conns_active, QUIC_MAX_CONNECTIONS as u64);
        // Everything idle: one later datagram expires them all.
        let later = n as u64 + QUIC_IDLE_TIMEOUT_NS;
        names(&mut t, later, tuple(7), &pkt);
        assert_eq!(t.len(), 1);
        assert_eq!(t.stats.conns_expired, QUIC_MAX_CONNECTIONS as u64);
        t.clear();
        assert!(t.is_empty());
    }

    /// New handshakes replacing each other on one 5-tuple reuse the entry:
    /// the expiry queue keeps exactly one item per handshake.
    #[test]
    fn replacing_handshakes_does_not_grow_the_queue() {
        use crate::traffic::quic::{Initial, initial, push_crypto_frame};
        let mut t = QuicTracker::new();
        for i in 0..50u64 {
            let dcid = i.to_be_bytes();
            let mut f = Vec::new();
            // Only the first bytes of a hello: every handshake stays open.
            push_crypto_frame(&mut f, 0, &[1, 0, 1, 0, 3, 3]).unwrap();
            let p = Initial {
                version: VERSION_1,
                dcid: &dcid,
                scid: b"",
                token: b"",
                pn: 0,
                pn_len: 1,
            };
            let pkt = initial(&p, Side::Client, &dcid, &f, 1200).unwrap();
            assert!(names(&mut t, i, tuple(1), &pkt).is_empty());
            assert_eq!((t.len(), t.order.len()), (1, 1));
        }
        assert_eq!(t.stats.conns_created, 50);
        assert_eq!(t.stats.hellos_incomplete, 49);
        assert_eq!(t.stats.initials_decrypted, 50);
    }
}
