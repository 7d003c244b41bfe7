//! Google QUIC (gQUIC) client hellos: the `SNI` tag of a CHLO message.
//!
//! gQUIC's crypto handshake ("QUIC Crypto", Chromium's design document) sends
//! a tag/value map, all integers little-endian:
//!
//! ```text
//! tag "CHLO" (4) | num_entries (u16) | padding (u16)
//! num_entries × { tag (4), end_offset (u32) }   -- end offsets, ascending
//! values: value i spans [end_offset(i-1), end_offset(i)) after the index
//! ```
//!
//! The `SNI\0` value is the host name. How the message reaches us depends
//! on the version, and phonehome supports:
//!
//! - Q043 and older (the "public header": flags, 8-byte connection id,
//!   version) and Q046 (an IETF-like long header): unencrypted, the CHLO
//!   sits in a STREAM frame after a 12-byte message hash.
//! - Q050: the IETF invariant long header, protected like an IETF Initial
//!   with its own salt (`super::SALT_Q050`); the decrypted payload holds
//!   gQUIC frames with the CHLO in a CRYPTO frame.
//!
//! Rather than walk each version's frame encodings (which changed byte order
//! at Q039 and frame layout at Q046 and Q048), the payload is searched for
//! the `CHLO` tag and the message there is validated field by field: its
//! index must be consistent (ascending offsets inside the message). A CHLO
//! split over several packets yields its SNI only when the SNI value lies in
//! the first one (the usual case: CHLOs are padded to one full packet).
//! T050/T051 (gQUIC carrying a TLS ClientHello) are not supported.

/// The tag that opens a client hello message.
const TAG_CHLO: &[u8; 4] = b"CHLO";
/// The server name tag (Chromium `kSNI`).
const TAG_SNI: &[u8; 4] = b"SNI\0";
/// Message tag (4) + entry count (2) + padding (2).
const MSG_HEADER_LEN: usize = 8;
/// One index entry: tag (4) + end offset (4).
const ENTRY_LEN: usize = 8;

/// Whether `version` (the 4 ASCII bytes on the wire) is a gQUIC `Q0dd`.
pub fn is_q_version(version: [u8; 4]) -> bool {
    matches!(version, [b'Q', b'0', d1, d2] if d1.is_ascii_digit() && d2.is_ascii_digit())
}

/// The number of a `Q0dd` version (46 for `Q046`).
pub fn q_number(version: [u8; 4]) -> Option<u32> {
    let [b'Q', b'0', d1, d2] = version else {
        return None;
    };
    if !d1.is_ascii_digit() || !d2.is_ascii_digit() {
        return None;
    }
    Some(u32::from(d1 - b'0') * 10 + u32::from(d2 - b'0'))
}

/// The result of looking for a CHLO.
#[derive(Debug, PartialEq, Eq)]
pub enum Chlo<'a> {
    /// No `CHLO` tag with a consistent index in the bytes.
    NotFound,
    /// A CHLO; `sni` is its `SNI` value when present and inside `bytes`.
    Found { sni: Option<&'a [u8]> },
}

/// Find the first CHLO message in `bytes` whose index is consistent and
/// return its SNI. Bounded: one pass over `bytes` per candidate tag, each
/// candidate's index read at most once.
pub fn find_chlo(bytes: &[u8]) -> Chlo<'_> {
    let mut from = 0usize;
    while let Some(rel) = bytes
        .get(from..)
        .and_then(|b| b.windows(4).position(|w| w == TAG_CHLO))
    {
        let at = from + rel;
        if let Some(found) = bytes.get(at..).and_then(parse_message) {
            return found;
        }
        from = at + 1;
    }
    Chlo::NotFound
}

/// Parse a message at the start of `m`; `None` when its header or index is
/// inconsistent (then it was not a CHLO at all).
fn parse_message(m: &[u8]) -> Option<Chlo<'_>> {
    let count = usize::from(u16::from_le_bytes([*m.get(4)?, *m.get(5)?]));
    if count == 0 {
        return None;
    }
    let index_end = MSG_HEADER_LEN.checked_add(count.checked_mul(ENTRY_LEN)?)?;
    let index = m.get(MSG_HEADER_LEN..index_end)?;
    let values = m.get(index_end..).unwrap_or_default();
    let mut prev_end = 0usize;
    let mut sni = None;
    for entry in index.chunks_exact(ENTRY_LEN) {
        let (tag, end) = entry.split_at_checked(4)?;
        let end = usize::try_from(u32::from_le_bytes(end.try_into().ok()?)).ok()?;
        if end < prev_end {
            return None;
        }
        if tag == TAG_SNI && sni.is_none() {
            // The value may run past a packet boundary: then it is lost.
            sni = values.get(prev_end..end).filter(|v| !v.is_empty());
        }
        prev_end = end;
    }
    Some(Chlo::Found { sni })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A CHLO with `entries` (tag, value), index built from the values.
    fn chlo(entries: &[(&[u8; 4], &[u8])]) -> Vec<u8> {
        let mut m = b"CHLO".to_vec();
        m.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        m.extend_from_slice(&[0, 0]);
        let mut end = 0u32;
        for (tag, v) in entries {
            end += v.len() as u32;
            m.extend_from_slice(*tag);
            m.extend_from_slice(&end.to_le_bytes());
        }
        for (_, v) in entries {
            m.extend_from_slice(v);
        }
        m
    }

    #[test]
    fn sni_after_other_tags_and_junk() {
        let mut b = b"\x0d\x01\x02CHLO junk".to_vec(); // a false CHLO first
        b.extend(chlo(&[
            (b"PAD\0", &[0x2d; 20]),
            (b"SNI\0", b"www.gstatic.com"),
            (b"VER\0", b"Q050"),
        ]));
        assert_eq!(
            find_chlo(&b),
            Chlo::Found {
                sni: Some(b"www.gstatic.com")
            }
        );
    }

    #[test]
    fn without_sni_or_cut_short() {
        let m = chlo(&[(b"PAD\0", &[0; 4]), (b"VER\0", b"Q046")]);
        assert_eq!(find_chlo(&m), Chlo::Found { sni: None });
        let m = chlo(&[(b"SNI\0", b"cut.example")]);
        // The value runs past the packet: the message is found, the name not.
        assert_eq!(find_chlo(&m[..m.len() - 3]), Chlo::Found { sni: None });
        // The index itself is cut: no message.
        assert_eq!(find_chlo(&m[..12]), Chlo::NotFound);
    }

    #[test]
    fn inconsistent_index_is_not_a_chlo() {
        let mut m = chlo(&[(b"SNI\0", b"a.example"), (b"VER\0", b"Q046")]);
        // Second end offset below the first.
        m[20..24].copy_from_slice(&1u32.to_le_bytes());
        assert_eq!(find_chlo(&m), Chlo::NotFound);
        assert_eq!(find_chlo(b"CHLO\0\0\0\0"), Chlo::NotFound);
        assert_eq!(find_chlo(b""), Chlo::NotFound);
    }

    #[test]
    fn versions() {
        assert!(is_q_version(*b"Q050"));
        assert!(!is_q_version(*b"T050"));
        assert_eq!(q_number(*b"Q046"), Some(46));
        assert_eq!(q_number(*b"Q0a6"), None);
    }
}
