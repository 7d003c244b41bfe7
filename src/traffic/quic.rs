//! QUIC packets for tests: protected client and server Initials (RFC 9001
//! §5, using the same key schedule as `extract::quic::crypto`, whose RFC
//! test vectors pin it), CRYPTO frames, Retry packets.
//!
//! Wire format: RFC 9000 §17.2.2 (Initial), §17.2.5 (Retry), §19.6 (CRYPTO),
//! §16 (varints); v2 packet types: RFC 9369 §3.2.

use super::Error;
use crate::extract::quic::crypto::{InitialKeys, SAMPLE_LEN, Side};
use crate::extract::quic::{LongType, version_info};

/// Appends a variable-length integer (RFC 9000 §16) in its shortest form.
pub fn push_varint(out: &mut Vec<u8>, v: u64) -> Result<(), Error> {
    if v < 1 << 6 {
        out.push(v as u8);
    } else if v < 1 << 14 {
        out.extend_from_slice(&(0x4000 | v as u16).to_be_bytes());
    } else if v < 1 << 30 {
        out.extend_from_slice(&(0x8000_0000 | v as u32).to_be_bytes());
    } else if v < 1 << 62 {
        out.extend_from_slice(&(0xc000_0000_0000_0000 | v).to_be_bytes());
    } else {
        return Err(Error::TooLong("QUIC varint"));
    }
    Ok(())
}

/// Appends a CRYPTO frame (type 0x06, offset, length, data).
pub fn push_crypto_frame(out: &mut Vec<u8>, offset: u64, data: &[u8]) -> Result<(), Error> {
    out.push(0x06);
    push_varint(out, offset)?;
    push_varint(out, data.len() as u64)?;
    out.extend_from_slice(data);
    Ok(())
}

/// The header fields of one Initial.
#[derive(Clone, Copy, Debug)]
pub struct Initial<'a> {
    pub version: u32,
    pub dcid: &'a [u8],
    pub scid: &'a [u8],
    pub token: &'a [u8],
    pub pn: u64,
    /// Packet number length, 1 to 4 bytes.
    pub pn_len: usize,
}

/// A protected Initial carrying `frames`, followed by PADDING frames until
/// the packet is `pad_to` bytes long (RFC 9000 §14.1: clients pad datagrams
/// with Initials to 1,200 bytes). `side` picks the client's or the
/// server's keys; both are derived from `key_dcid` (the client's first
/// DCID, RFC 9001 §5.2).
pub fn initial(
    p: &Initial<'_>,
    side: Side,
    key_dcid: &[u8],
    frames: &[u8],
    pad_to: usize,
) -> Result<Vec<u8>, Error> {
    let info = version_info(p.version).ok_or(Error::TooLong("unsupported QUIC version"))?;
    let keys = InitialKeys::derive(info.salt, info.labels, key_dcid, side)
        .ok_or(Error::TooLong("QUIC keys"))?;
    let pn_len = p.pn_len.clamp(1, 4);
    let mut h = Vec::with_capacity(pad_to.max(64));
    h.push(0xc0 | (LongType::Initial.bits(info.v2_types) << 4) | (pn_len as u8 - 1));
    h.extend_from_slice(&p.version.to_be_bytes());
    for cid in [p.dcid, p.scid] {
        h.push(u8::try_from(cid.len()).map_err(|_| Error::TooLong("connection id"))?);
        h.extend_from_slice(cid);
    }
    push_varint(&mut h, p.token.len() as u64)?;
    h.extend_from_slice(p.token);
    // Length: packet number + payload + tag, always as a 2-byte varint.
    let fixed = h.len() + 2 + pn_len;
    let mut payload = frames.to_vec();
    // The sample needs 4 + 16 bytes after the packet number's start.
    let min_payload = (4 + SAMPLE_LEN).saturating_sub(pn_len + 16);
    let want = pad_to.saturating_sub(fixed + 16).max(min_payload);
    if payload.len() < want {
        payload.resize(want, 0);
    }
    let len = pn_len + payload.len() + 16;
    if len >= 1 << 14 {
        return Err(Error::TooLong("QUIC Initial"));
    }
    h.extend_from_slice(&(0x4000 | len as u16).to_be_bytes());
    let pn_offset = h.len();
    h.extend_from_slice(&p.pn.to_be_bytes()[8 - pn_len..]);
    keys.seal(p.pn, &h, &mut payload)
        .ok_or(Error::TooLong("QUIC seal"))?;
    let sample_at = 4 - pn_len;
    let sample = payload
        .get(sample_at..sample_at + SAMPLE_LEN)
        .ok_or(Error::TooLong("QUIC sample"))?;
    let mask = keys.mask(sample).ok_or(Error::TooLong("QUIC mask"))?;
    if let Some(first) = h.first_mut() {
        *first ^= mask[0] & 0x0f;
    }
    for (b, m) in h.iter_mut().skip(pn_offset).zip(&mask[1..]) {
        *b ^= m;
    }
    h.extend_from_slice(&payload);
    Ok(h)
}

/// A Retry packet (RFC 9000 §17.2.5) from the server: `dcid` is the
/// client's SCID, `scid` the connection id the client must use (and derive
/// its new Initial keys from). The integrity tag (RFC 9001 §5.8) is left
/// zero: a passive reader has no reason to check it.
pub fn retry(version: u32, dcid: &[u8], scid: &[u8], token: &[u8]) -> Result<Vec<u8>, Error> {
    let info = version_info(version).ok_or(Error::TooLong("unsupported QUIC version"))?;
    let mut p = vec![0xc0 | (LongType::Retry.bits(info.v2_types) << 4)];
    p.extend_from_slice(&version.to_be_bytes());
    for cid in [dcid, scid] {
        p.push(u8::try_from(cid.len()).map_err(|_| Error::TooLong("connection id"))?);
        p.extend_from_slice(cid);
    }
    p.extend_from_slice(token);
    p.extend_from_slice(&[0; 16]);
    Ok(p)
}

/// A long-header packet of another type (0-RTT or Handshake) with random
/// contents, to coalesce after an Initial (RFC 9000 §12.2).
pub fn opaque_long(
    version: u32,
    ty: LongType,
    dcid: &[u8],
    scid: &[u8],
    body: &[u8],
) -> Result<Vec<u8>, Error> {
    let info = version_info(version).ok_or(Error::TooLong("unsupported QUIC version"))?;
    let mut p = vec![0xc0 | (ty.bits(info.v2_types) << 4)];
    p.extend_from_slice(&version.to_be_bytes());
    for cid in [dcid, scid] {
        p.push(u8::try_from(cid.len()).map_err(|_| Error::TooLong("connection id"))?);
        p.extend_from_slice(cid);
    }
    push_varint(&mut p, body.len() as u64)?;
    p.extend_from_slice(body);
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::quic::{LongHeader, VERSION_1, VERSION_2, open_initial, parse_long_header};

    #[test]
    fn initial_roundtrips_through_the_extractor() {
        for version in [VERSION_1, VERSION_2, 0xff00_001d] {
            for pn_len in 1..=4 {
                let mut frames = Vec::new();
                push_crypto_frame(&mut frames, 0, b"hello").unwrap();
                let p = Initial {
                    version,
                    dcid: b"\x01\x02\x03\x04\x05\x06\x07\x08",
                    scid: b"cli",
                    token: b"tok",
                    pn: 3,
                    pn_len,
                };
                let pkt = initial(&p, Side::Client, p.dcid, &frames, 1200).unwrap();
                assert_eq!(pkt.len(), 1200);
                let h: LongHeader<'_> = parse_long_header(&pkt).unwrap();
                assert_eq!(h.ty, LongType::Initial);
                assert_eq!(h.packet_len, 1200);
                let mut plain = Vec::new();
                let (pn, n) = open_initial(&h, &pkt, p.dcid, Side::Client, 0, &mut plain).unwrap();
                assert_eq!(pn, 3);
                assert_eq!(&plain[..n][..8], b"\x06\x00\x05hello");
                assert!(open_initial(&h, &pkt, p.dcid, Side::Server, 0, &mut plain).is_none());
            }
        }
    }

    #[test]
    fn varints_are_shortest() {
        let mut v = Vec::new();
        for n in [0u64, 63, 64, 16383, 16384, (1 << 30) - 1, 1 << 30] {
            push_varint(&mut v, n).unwrap();
        }
        assert_eq!(v.len(), 1 + 1 + 2 + 2 + 4 + 4 + 8);
        assert!(push_varint(&mut v, 1 << 62).is_err());
    }
}
