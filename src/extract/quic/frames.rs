//! The frames of a decrypted Initial payload (RFC 9000 §19), walked only
//! to find the CRYPTO frames that carry the ClientHello.
//!
//! An Initial may carry PADDING, PING, ACK, CRYPTO and CONNECTION_CLOSE
//! (RFC 9000 §12.4, Table 3). Every other frame type of §19 (and DATAGRAM,
//! RFC 9221 §4) is skipped by its own layout too, so a sloppy peer's extra
//! frames do not hide the CRYPTO frames after them. A frame type we do not
//! know cannot be skipped (its length is not self-describing): the walk
//! stops there, keeping the CRYPTO frames already delivered.

/// Why a frame walk stopped early; `label()` names the counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// A frame runs past the end of the payload.
    Truncated,
    /// An unknown frame type: nothing after it can be read.
    UnknownType,
}

impl FrameError {
    pub fn label(self) -> &'static str {
        match self {
            FrameError::Truncated => "frame_truncated",
            FrameError::UnknownType => "frame_unknown_type",
        }
    }
}

/// A variable-length integer (RFC 9000 §16): the two high bits of the first
/// byte give the length (1, 2, 4 or 8 bytes), the rest is big-endian.
/// Returns the value and the bytes used.
pub fn varint(b: &[u8]) -> Option<(u64, usize)> {
    let first = *b.first()?;
    let len = 1usize << (first >> 6);
    let bytes = b.get(..len)?;
    let mut v = u64::from(first & 0x3f);
    for &x in bytes.get(1..)? {
        v = (v << 8) | u64::from(x);
    }
    Some((v, len))
}

/// A cursor whose reads fail instead of panicking.
struct Cur<'a> {
    rest: &'a [u8],
}

impl<'a> Cur<'a> {
    fn varint(&mut self) -> Option<u64> {
        let (v, n) = varint(self.rest)?;
        self.rest = self.rest.get(n..)?;
        Some(v)
    }

    fn take(&mut self, n: u64) -> Option<&'a [u8]> {
        let n = usize::try_from(n).ok()?;
        let (v, rest) = self.rest.split_at_checked(n)?;
        self.rest = rest;
        Some(v)
    }

    fn skip_varints(&mut self, n: usize) -> Option<()> {
        for _ in 0..n {
            self.varint()?;
        }
        Some(())
    }
}

/// Walk the frames of `payload`, calling `on_crypto(offset, data)` for each
/// CRYPTO frame (RFC 9000 §19.6: type 0x06, offset (i), length (i), data)
/// in wire order. CRYPTO frames before an error have been delivered.
pub fn walk(payload: &[u8], on_crypto: &mut impl FnMut(u64, &[u8])) -> Result<(), FrameError> {
    let mut c = Cur { rest: payload };
    while let Some(&first) = c.rest.first() {
        if first == 0x00 {
            // PADDING (§19.1), usually hundreds of bytes: skip the run.
            let run = c.rest.iter().take_while(|&&b| b == 0).count();
            c.rest = c.rest.get(run..).unwrap_or_default();
            continue;
        }
        let ty = c.varint().ok_or(FrameError::Truncated)?;
        frame(ty, &mut c, on_crypto).ok_or(FrameError::Truncated)??;
    }
    Ok(())
}

/// Read one frame body after its type. `None`: truncated; `Some(Err)`:
/// unknown type.
fn frame(
    ty: u64,
    c: &mut Cur<'_>,
    on_crypto: &mut impl FnMut(u64, &[u8]),
) -> Option<Result<(), FrameError>> {
    match ty {
        // PADDING (non-minimally encoded type), PING (§19.2),
        // HANDSHAKE_DONE (§19.20): no body.
        0x00 | 0x01 | 0x1e => {}
        // ACK (§19.3): largest, delay, range count, first range, then
        // count × (gap, length); 0x03 adds three ECN counts (§19.3.2).
        0x02 | 0x03 => {
            c.skip_varints(2)?;
            let ranges = c.varint()?;
            c.varint()?;
            // Each range is at least two bytes: a count beyond the payload
            // is rejected before looping.
            if ranges > c.rest.len() as u64 / 2 {
                return None;
            }
            for _ in 0..ranges {
                c.skip_varints(2)?;
            }
            if ty == 0x03 {
                c.skip_varints(3)?;
            }
        }
        // RESET_STREAM (§19.4): stream id, error code, final size.
        0x04 => c.skip_varints(3)?,
        // STOP_SENDING (§19.5): stream id, error code.
        0x05 => c.skip_varints(2)?,
        // CRYPTO (§19.6).
        0x06 => {
            let offset = c.varint()?;
            let len = c.varint()?;
            let data = c.take(len)?;
            on_crypto(offset, data);
        }
        // NEW_TOKEN (§19.7): length-prefixed token.
        0x07 => {
            let n = c.varint()?;
            c.take(n)?;
        }
        // STREAM (§19.8): bits OFF (0x04), LEN (0x02), FIN (0x01).
        0x08..=0x0f => {
            c.varint()?; // stream id
            if ty & 0x04 != 0 {
                c.varint()?;
            }
            if ty & 0x02 != 0 {
                let n = c.varint()?;
                c.take(n)?;
            } else {
                c.rest = &[]; // data runs to the end of the packet
            }
        }
        // MAX_DATA, MAX_STREAMS ×2, DATA_BLOCKED, STREAMS_BLOCKED ×2,
        // RETIRE_CONNECTION_ID (§19.9, 19.11, 19.12, 19.14, 19.16).
        0x10 | 0x12 | 0x13 | 0x14 | 0x16 | 0x17 | 0x19 => c.skip_varints(1)?,
        // MAX_STREAM_DATA, STREAM_DATA_BLOCKED (§19.10, 19.13).
        0x11 | 0x15 => c.skip_varints(2)?,
        // NEW_CONNECTION_ID (§19.15): seq, retire prior to, length (8),
        // connection id, 16-byte stateless reset token.
        0x18 => {
            c.skip_varints(2)?;
            let (&n, rest) = c.rest.split_first()?;
            c.rest = rest;
            c.take(u64::from(n) + 16)?;
        }
        // PATH_CHALLENGE, PATH_RESPONSE (§19.17, 19.18): 8 bytes.
        0x1a | 0x1b => {
            c.take(8)?;
        }
        // CONNECTION_CLOSE (§19.19): error code, [frame type,] reason.
        0x1c | 0x1d => {
            c.varint()?;
            if ty == 0x1c {
                c.varint()?;
            }
            let n = c.varint()?;
            c.take(n)?;
        }
        // DATAGRAM (RFC 9221 §4): 0x30 runs to the end, 0x31 has a length.
        0x30 => c.rest = &[],
        0x31 => {
            let n = c.varint()?;
            c.take(n)?;
        }
        _ => return Some(Err(FrameError::UnknownType)),
    }
    Some(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    type Crypto = Vec<(u64, Vec<u8>)>;

    fn crypto_of(payload: &[u8]) -> (Crypto, Result<(), FrameError>) {
        let mut got = Vec::new();
        let r = walk(payload, &mut |o, d| got.push((o, d.to_vec())));
        (got, r)
    }

    /// RFC 9000 §A.1's sample encodings.
    #[test]
    fn varints_of_rfc9000_a1() {
        assert_eq!(
            varint(&[0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c]),
            Some((151_288_809_941_952_652, 8))
        );
        assert_eq!(varint(&[0x9d, 0x7f, 0x3e, 0x7d]), Some((494_878_333, 4)));
        assert_eq!(varint(&[0x7b, 0xbd]), Some((15_293, 2)));
        assert_eq!(varint(&[0x25]), Some((37, 1)));
        assert_eq!(varint(&[0x40, 0x25]), Some((37, 2)));
        assert_eq!(varint(&[0x9d, 0x7f, 0x3e]), None);
        assert_eq!(varint(&[]), None);
    }

    #[test]
    fn crypto_frames_between_padding_ping_and_ack() {
        let payload = [
            0x02, 0x05, 0x00, 0x01, 0x02, 0x03, 0x01, // ACK: largest 5, delay 0, 1 range
            0x00, 0x00, 0x00, // PADDING
            0x06, 0x40, 0x10, 0x03, b'a', b'b', b'c', // CRYPTO at 16, "abc"
            0x01, // PING
            0x03, 0x01, 0x00, 0x00, 0x00, 0x07, 0x08, 0x09, // ACK_ECN
            0x06, 0x00, 0x02, b'x', b'y', // CRYPTO offset 0, "xy"
            0x00, 0x00,
        ];
        let (got, r) = crypto_of(&payload);
        assert_eq!(r, Ok(()));
        assert_eq!(got, vec![(16, b"abc".to_vec()), (0, b"xy".to_vec())]);
    }

    #[test]
    fn other_frames_are_skipped_by_their_layout() {
        let payload = [
            0x1c, 0x0a, 0x06, 0x02, b'n', b'o', // CONNECTION_CLOSE, reason "no"
            0x18, 0x01, 0x00, 0x02, 0xaa, 0xbb, // NEW_CONNECTION_ID, 2-byte id …
            0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, // … reset token
            0x1a, 1, 2, 3, 4, 5, 6, 7, 8, // PATH_CHALLENGE
            0x0e, 0x04, 0x01, 0x02, 0x06, 0x06, // STREAM off+len: id 4, off 1, "\x06\x06"
            0x07, 0x01, 0x06, // NEW_TOKEN "\x06"
            0x06, 0x00, 0x01, b'z', // CRYPTO
        ];
        let (got, r) = crypto_of(&payload);
        assert_eq!(r, Ok(()));
        assert_eq!(got, vec![(0, b"z".to_vec())]);
    }

    #[test]
    fn errors_keep_what_came_before() {
        let (got, r) = crypto_of(&[0x06, 0x00, 0x01, b'q', 0x21, 0x06, 0x00, 0x01, b'r']);
        assert_eq!(got, vec![(0, b"q".to_vec())]);
        assert_eq!(r, Err(FrameError::UnknownType));
        // A CRYPTO length past the end.
        let (got, r) = crypto_of(&[0x06, 0x00, 0x05, b'q']);
        assert!(got.is_empty());
        assert_eq!(r, Err(FrameError::Truncated));
        // An ACK announcing more ranges than bytes.
        let (_, r) = crypto_of(&[0x02, 0x00, 0x00, 0x3f, 0x00, 0x00]);
        assert_eq!(r, Err(FrameError::Truncated));
    }
}
