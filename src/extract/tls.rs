//! TLS ClientHello server_name, recognised by content on any port.
//!
//! A zero-allocation scanner: it walks the length fields down to the
//! server_name extension and never builds a parse tree (tls-parser's full
//! parse costs ~1.3 µs and ~14 allocations per hello; this ~0.1 µs and
//! none). The unit tests and `tests/extract_tls.rs` check it against
//! tls-parser.
//!
//! # What is recognised
//!
//! A stream is taken for TLS when its first record header says handshake
//! (content type 22) with a 0x03xx version and the first handshake message
//! is a ClientHello (type 1). Anything else is [`HelloScan::NotTls`]; from
//! then on a violation of the formats below is [`HelloScan::Malformed`].
//!
//! An SSLv2-compatible ClientHello (RFC 5246 Appendix E.2, first byte with
//! the top bit set) is [`HelloScan::NotTls`]: it has no extensions, hence
//! no server_name to find.
//!
//! # Leniency
//!
//! Only the length fields on the way to the extensions are checked, and the
//! extension list itself. Not checked: legacy_version inside the hello, the
//! session id's 32-byte maximum, the contents of extensions other than
//! server_name (a new or GREASE extension never breaks SNI extraction),
//! bytes after the extension list. An extension list that breaks off after
//! the server_name extension still yields the name. This finds the name in
//! some hellos a server would reject, which is the side a sensor should err
//! on; tls-parser is stricter in places, so the differential tests assert
//! "tls-parser finds a name ⇒ we find the same name".

use crate::config::limits::TLS_MAX_CLIENT_HELLO_LEN;

/// Result of scanning the start of a client→server TCP stream.
#[derive(Debug, PartialEq, Eq)]
pub enum HelloScan<'a> {
    /// The stream does not start with a TLS handshake record carrying a
    /// ClientHello.
    NotTls,
    /// Looks like a ClientHello but more bytes are needed: nothing can be
    /// decided before the stream holds at least `needed` bytes (a lower
    /// bound; the whole hello may need more once later record headers are
    /// seen).
    NeedMore { needed: usize },
    /// A complete ClientHello. `sni` is the first host_name entry of the
    /// server_name extension (`None` without the extension, or when that
    /// entry is empty); `ech` is true when the hello carries
    /// encrypted_client_hello (0xfe0d), `sni` is then the outer name.
    Hello { sni: Option<&'a [u8]>, ech: bool },
    /// A TLS handshake that is not a valid ClientHello, or exceeds a limit.
    Malformed(TlsError),
}

/// Why a ClientHello was rejected; `label()` names the counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsError {
    /// A record header is invalid: zero length, longer than RFC 8446 §5.1
    /// allows, or a non-handshake record in the middle of the hello.
    BadRecord,
    /// A length field in the ClientHello body overruns the body.
    BadHello,
    /// The extension list or the server_name extension is malformed.
    BadExtension,
    /// The hello is longer than [`TLS_MAX_CLIENT_HELLO_LEN`].
    TooLong,
}

impl TlsError {
    /// The counter / log label.
    pub fn label(self) -> &'static str {
        match self {
            TlsError::BadRecord => "bad_record",
            TlsError::BadHello => "bad_hello",
            TlsError::BadExtension => "bad_extension",
            TlsError::TooLong => "too_long",
        }
    }
}

/// TLSPlaintext header: type (1) + legacy_record_version (2) + length (2).
const RECORD_HEADER_LEN: usize = 5;
/// Handshake header: msg_type (1) + length (3).
const HANDSHAKE_HEADER_LEN: usize = 4;
/// ContentType handshake (RFC 8446 §5.1).
const CONTENT_HANDSHAKE: u8 = 22;
/// HandshakeType client_hello (RFC 8446 §4).
const HANDSHAKE_CLIENT_HELLO: u8 = 1;
/// A record's length "MUST NOT exceed 2^14" (RFC 8446 §5.1).
const MAX_RECORD_LEN: usize = 1 << 14;
/// ExtensionType server_name (RFC 6066 §3).
const EXT_SERVER_NAME: u16 = 0;
/// ExtensionType encrypted_client_hello (draft-ietf-tls-esni-18 §11.1).
const EXT_ECH: u16 = 0xfe0d;
/// NameType host_name (RFC 6066 §3).
const NAME_TYPE_HOST_NAME: u8 = 0;

/// A TLS record header, already checked for plausibility.
struct RecordHeader {
    content_type: u8,
    len: usize,
}

fn record_header(b: &[u8]) -> Option<RecordHeader> {
    let &[content_type, major, _minor, hi, lo] = b.get(..RECORD_HEADER_LEN)? else {
        return None;
    };
    if major != 3 {
        return None;
    }
    Some(RecordHeader {
        content_type,
        len: usize::from(u16::from_be_bytes([hi, lo])),
    })
}

/// Check the prefix of `stream` shorter than a record header: could it
/// still become a TLS handshake record?
fn short_prefix_is_tls(stream: &[u8]) -> bool {
    match stream {
        [] => true,
        [t] => *t == CONTENT_HANDSHAKE,
        [t, major, ..] => *t == CONTENT_HANDSHAKE && *major == 3,
    }
}

fn u24(b: &[u8]) -> Option<usize> {
    let &[a, b, c] = b.get(..3)? else {
        return None;
    };
    Some((usize::from(a) << 16) | (usize::from(b) << 8) | usize::from(c))
}

/// Scan `stream` (the first bytes of the client's stream, in order) for a
/// TLS ClientHello (RFC 8446 §5.1 records carrying an RFC 8446 §4.1.2
/// ClientHello).
///
/// A hello inside its first record is read in place. A hello fragmented
/// over several handshake records (RFC 8446 §5.1 allows any split) is
/// joined in `scratch`, cleared first and grown at most to
/// [`TLS_MAX_CLIENT_HELLO_LEN`]; the copy happens only once every fragment
/// is present, so repeated `NeedMore` scans copy nothing.
pub fn scan_client_hello<'a>(stream: &'a [u8], scratch: &'a mut Vec<u8>) -> HelloScan<'a> {
    let Some(first) = record_header(stream) else {
        if stream.len() < RECORD_HEADER_LEN && short_prefix_is_tls(stream) {
            return HelloScan::NeedMore {
                needed: RECORD_HEADER_LEN + 1,
            };
        }
        return HelloScan::NotTls;
    };
    if first.content_type != CONTENT_HANDSHAKE {
        return HelloScan::NotTls;
    }
    let Some(&msg_type) = stream.get(RECORD_HEADER_LEN) else {
        return HelloScan::NeedMore {
            needed: RECORD_HEADER_LEN + 1,
        };
    };
    if msg_type != HANDSHAKE_CLIENT_HELLO {
        return HelloScan::NotTls;
    }
    // From here on the stream has committed to being a ClientHello.
    if first.len == 0 || first.len > MAX_RECORD_LEN {
        return HelloScan::Malformed(TlsError::BadRecord);
    }

    // Common case: the whole message sits in the first record.
    if first.len >= HANDSHAKE_HEADER_LEN {
        let Some(hs_len) = stream.get(RECORD_HEADER_LEN + 1..).and_then(u24) else {
            return HelloScan::NeedMore {
                needed: RECORD_HEADER_LEN + HANDSHAKE_HEADER_LEN,
            };
        };
        let msg_len = HANDSHAKE_HEADER_LEN + hs_len;
        if msg_len > TLS_MAX_CLIENT_HELLO_LEN {
            return HelloScan::Malformed(TlsError::TooLong);
        }
        if msg_len <= first.len {
            let end = RECORD_HEADER_LEN + msg_len;
            return match stream.get(RECORD_HEADER_LEN..end) {
                Some(msg) => parse_client_hello_body(msg),
                None => HelloScan::NeedMore { needed: end },
            };
        }
    }

    // Fragmented (RFC 8446 §5.1: a handshake message may be split over
    // several handshake records, which must follow each other with no other
    // record type between; even its 4-byte header may be split). Walk the
    // record headers until they cover the message, copying nothing but the
    // handshake header.
    let mut hs_header = [0u8; HANDSHAKE_HEADER_LEN];
    let mut hs_header_have = 0usize;
    let mut msg_len: Option<usize> = None;
    let mut pos = 0usize;
    let mut have = 0usize;
    while msg_len.is_none_or(|m| have < m) {
        let rest = stream.get(pos..).unwrap_or_default();
        let Some(rec) = record_header(rest) else {
            if rest.len() < RECORD_HEADER_LEN && short_prefix_is_tls(rest) {
                return HelloScan::NeedMore {
                    needed: pos + RECORD_HEADER_LEN,
                };
            }
            return HelloScan::Malformed(TlsError::BadRecord);
        };
        if rec.content_type != CONTENT_HANDSHAKE || rec.len == 0 || rec.len > MAX_RECORD_LEN {
            return HelloScan::Malformed(TlsError::BadRecord);
        }
        let end = pos + RECORD_HEADER_LEN + rec.len;
        let Some(fragment) = stream.get(pos + RECORD_HEADER_LEN..end) else {
            return HelloScan::NeedMore { needed: end };
        };
        for &b in fragment {
            let Some(slot) = hs_header.get_mut(hs_header_have) else {
                break;
            };
            *slot = b;
            hs_header_have += 1;
        }
        have += rec.len;
        pos = end;
        if msg_len.is_none() && hs_header_have == HANDSHAKE_HEADER_LEN {
            let [_, a, b, c] = hs_header;
            let m = HANDSHAKE_HEADER_LEN
                + ((usize::from(a) << 16) | (usize::from(b) << 8) | usize::from(c));
            if m > TLS_MAX_CLIENT_HELLO_LEN {
                return HelloScan::Malformed(TlsError::TooLong);
            }
            msg_len = Some(m);
        }
    }
    let msg_len = msg_len.unwrap_or_default();

    // Every fragment is present: join them.
    scratch.clear();
    let mut pos = 0usize;
    while scratch.len() < msg_len {
        let Some(rec) = stream.get(pos..).and_then(record_header) else {
            // Unreachable after the walk above, kept panic-free.
            return HelloScan::Malformed(TlsError::BadRecord);
        };
        let body_start = pos + RECORD_HEADER_LEN;
        let take = rec.len.min(msg_len - scratch.len());
        let Some(fragment) = stream.get(body_start..body_start + take) else {
            return HelloScan::Malformed(TlsError::BadRecord);
        };
        scratch.extend_from_slice(fragment);
        pos = body_start + rec.len;
    }
    parse_client_hello_body(scratch)
}

/// A cursor over a byte slice whose reads fail instead of panicking.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn u8(&mut self) -> Option<u8> {
        let (&v, rest) = self.rest.split_first()?;
        self.rest = rest;
        Some(v)
    }

    fn u16(&mut self) -> Option<u16> {
        let (v, rest) = self.rest.split_first_chunk::<2>()?;
        self.rest = rest;
        Some(u16::from_be_bytes(*v))
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (v, rest) = self.rest.split_at_checked(n)?;
        self.rest = rest;
        Some(v)
    }

    /// A vector with a one-byte length prefix (RFC 8446 §3.4).
    fn vec8(&mut self) -> Option<&'a [u8]> {
        let n = self.u8()?;
        self.take(usize::from(n))
    }

    /// A vector with a two-byte length prefix (RFC 8446 §3.4).
    fn vec16(&mut self) -> Option<&'a [u8]> {
        let n = self.u16()?;
        self.take(usize::from(n))
    }
}

/// Read a bare ClientHello handshake message: `msg_type` (1) + `length`
/// (3) + body, as it sits in TLS records once joined, or in QUIC CRYPTO
/// frames (RFC 9001 §4). Bytes after the message are ignored.
///
/// RFC 8446 §4.1.2 (and RFC 5246 §7.4.1.2, where the extensions may be
/// absent altogether):
///
/// ```text
/// uint16 legacy_version; opaque random[32];
/// opaque legacy_session_id<0..32>;
/// CipherSuite cipher_suites<2..2^16-2>;
/// opaque legacy_compression_methods<1..2^8-1>;
/// Extension extensions<8..2^16-1>;     -- { uint16 type; opaque data<0..2^16-1>; }
/// ```
///
/// server_name (RFC 6066 §3): `ServerName server_name_list<1..2^16-1>`,
/// each `{ uint8 name_type; opaque HostName<1..2^16-1>; }`; the first entry
/// of name_type host_name (0) is the SNI. Entries of other types are
/// skipped assuming the same two-byte length, as every implementation does.
///
/// Returns `NotTls` when the message type is not ClientHello and
/// `NeedMore` when `hs` is shorter than the message it announces.
pub fn parse_client_hello_body(hs: &[u8]) -> HelloScan<'_> {
    let Some(&msg_type) = hs.first() else {
        return HelloScan::NeedMore {
            needed: HANDSHAKE_HEADER_LEN,
        };
    };
    if msg_type != HANDSHAKE_CLIENT_HELLO {
        return HelloScan::NotTls;
    }
    let Some(len) = hs.get(1..).and_then(u24) else {
        return HelloScan::NeedMore {
            needed: HANDSHAKE_HEADER_LEN,
        };
    };
    let msg_len = HANDSHAKE_HEADER_LEN + len;
    if msg_len > TLS_MAX_CLIENT_HELLO_LEN {
        return HelloScan::Malformed(TlsError::TooLong);
    }
    let Some(body) = hs.get(HANDSHAKE_HEADER_LEN..msg_len) else {
        return HelloScan::NeedMore { needed: msg_len };
    };
    match scan_body(body) {
        Ok((sni, ech)) => HelloScan::Hello { sni, ech },
        Err(e) => HelloScan::Malformed(e),
    }
}

type SniEch<'a> = (Option<&'a [u8]>, bool);

fn scan_body(body: &[u8]) -> Result<SniEch<'_>, TlsError> {
    let mut r = Reader { rest: body };
    let bad = TlsError::BadHello;
    r.u16().ok_or(bad)?; // legacy_version: not checked, see "Leniency"
    r.take(32).ok_or(bad)?; // random
    r.vec8().ok_or(bad)?; // legacy_session_id
    r.vec16().ok_or(bad)?; // cipher_suites
    r.vec8().ok_or(bad)?; // legacy_compression_methods
    if r.rest.is_empty() {
        // RFC 5246 §7.4.1.2: a hello without extensions.
        return Ok((None, false));
    }
    let extensions = r.vec16().ok_or(TlsError::BadExtension)?;
    scan_extensions(extensions)
}

/// Walk the extension list. A list that breaks off (an extension header or
/// length running past the list) is read up to the break: a name found
/// before it stands, otherwise the hello is malformed.
fn scan_extensions(list: &[u8]) -> Result<SniEch<'_>, TlsError> {
    let mut r = Reader { rest: list };
    let mut sni = None;
    let mut seen_sni = false;
    let mut ech = false;
    while !r.rest.is_empty() {
        let Some((ext_type, data)) = r.u16().zip(r.vec16()) else {
            return if sni.is_some() {
                Ok((sni, ech))
            } else {
                Err(TlsError::BadExtension)
            };
        };
        match ext_type {
            // RFC 8446 §4.2 forbids duplicates; the first one counts.
            EXT_SERVER_NAME if !seen_sni => {
                seen_sni = true;
                sni = first_host_name(data)?;
            }
            EXT_ECH => ech = true,
            _ => {}
        }
    }
    Ok((sni, ech))
}

fn first_host_name(data: &[u8]) -> Result<Option<&[u8]>, TlsError> {
    let bad = TlsError::BadExtension;
    if data.is_empty() {
        // Only a server's (empty) server_name looks like this; tolerated.
        return Ok(None);
    }
    let mut outer = Reader { rest: data };
    let list = outer.vec16().ok_or(bad)?;
    let mut r = Reader { rest: list };
    while !r.rest.is_empty() {
        let name_type = r.u8().ok_or(bad)?;
        let name = r.vec16().ok_or(bad)?;
        if name_type == NAME_TYPE_HOST_NAME {
            return Ok((!name.is_empty()).then_some(name));
        }
    }
    Ok(None)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A complete single-record ClientHello for "a.io", annotated.
    #[rustfmt::skip]
    const HELLO_A_IO: &[u8] = &[
        0x16, 0x03, 0x01, 0x00, 0x3c,   // record: handshake, TLS 1.0, len 60
        0x01, 0x00, 0x00, 0x38,         // handshake: client_hello, len 56
        0x03, 0x03,                     // legacy_version TLS 1.2
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // random (32)
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0x00,                           // legacy_session_id: empty
        0x00, 0x02, 0x13, 0x01,         // cipher_suites: TLS_AES_128_GCM_SHA256
        0x01, 0x00,                     // compression_methods: null
        0x00, 0x0d,                     // extensions: 13 bytes
        0x00, 0x00, 0x00, 0x09,         //   server_name, len 9
        0x00, 0x07,                     //     server_name_list, len 7
        0x00, 0x00, 0x04,               //       host_name, len 4
        b'a', b'.', b'i', b'o',
    ];

    pub(crate) fn ext(ext_type: u16, data: &[u8]) -> Vec<u8> {
        let mut v = ext_type.to_be_bytes().to_vec();
        v.extend_from_slice(&(data.len() as u16).to_be_bytes());
        v.extend_from_slice(data);
        v
    }

    /// server_name extension data with the given (name_type, name) entries.
    pub(crate) fn sni_data(entries: &[(u8, &[u8])]) -> Vec<u8> {
        let mut list = Vec::new();
        for (t, name) in entries {
            list.push(*t);
            list.extend_from_slice(&(name.len() as u16).to_be_bytes());
            list.extend_from_slice(name);
        }
        let mut v = (list.len() as u16).to_be_bytes().to_vec();
        v.extend(list);
        v
    }

    /// A ClientHello handshake message (header included) with the given
    /// extension block (`None`: no extensions field at all).
    pub(crate) fn hello_msg(extensions: Option<&[u8]>) -> Vec<u8> {
        let mut body = vec![0x03, 0x03];
        body.extend_from_slice(&[0x5a; 32]);
        body.push(32);
        body.extend_from_slice(&[0xa5; 32]); // session id
        body.extend_from_slice(&[0x00, 0x04, 0x13, 0x01, 0x0a, 0x0a]); // incl. GREASE suite
        body.extend_from_slice(&[0x01, 0x00]);
        if let Some(exts) = extensions {
            body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
            body.extend_from_slice(exts);
        }
        let mut msg = vec![0x01];
        msg.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        msg.extend(body);
        msg
    }

    /// Wrap a handshake message in handshake records of at most `frag`
    /// bytes each.
    pub(crate) fn records(msg: &[u8], frag: usize) -> Vec<u8> {
        let mut v = Vec::new();
        for chunk in msg.chunks(frag) {
            v.extend_from_slice(&[0x16, 0x03, 0x01]);
            v.extend_from_slice(&(chunk.len() as u16).to_be_bytes());
            v.extend_from_slice(chunk);
        }
        v
    }

    /// A browser-like extension block: GREASE, server_name, supported
    /// groups, an X25519MLKEM768 key share (1,216 + 32 bytes), GREASE again.
    fn browser_extensions(name: &[u8], ech: bool) -> Vec<u8> {
        let mut e = ext(0x1a1a, &[]);
        e.extend(ext(0x0000, &sni_data(&[(0, name)])));
        e.extend(ext(
            0x000a,
            &[0x00, 0x06, 0x2a, 0x2a, 0x11, 0xec, 0x00, 0x1d],
        ));
        let mut ks = Vec::new();
        for (group, len) in [(0x11ecu16, 1216usize), (0x001d, 32)] {
            ks.extend_from_slice(&group.to_be_bytes());
            ks.extend_from_slice(&(len as u16).to_be_bytes());
            ks.extend(std::iter::repeat_n(0x42, len));
        }
        let mut key_share = (ks.len() as u16).to_be_bytes().to_vec();
        key_share.extend(ks);
        e.extend(ext(0x0033, &key_share));
        e.extend(ext(0x0015, &[0; 512])); // padding, as Chrome sends
        if ech {
            e.extend(ext(
                0xfe0d,
                &[0x00, 0x00, 0x01, 0x00, 0x01, 0x07, 0x00, 0x00],
            ));
        }
        e.extend(ext(0xdada, &[0x00]));
        e
    }

    fn scan(stream: &[u8]) -> HelloScan<'_> {
        // The scratch buffer must outlive the result; leak a fresh one per
        // call (tests only).
        scan_client_hello(stream, Box::leak(Box::default()))
    }

    fn hello(sni: Option<&[u8]>, ech: bool) -> HelloScan<'_> {
        HelloScan::Hello { sni, ech }
    }

    #[test]
    fn annotated_hello_yields_its_name() {
        assert_eq!(scan(HELLO_A_IO), hello(Some(b"a.io"), false));
        // Bytes after the hello (e.g. early data) do not matter.
        let mut more = HELLO_A_IO.to_vec();
        more.extend_from_slice(&[0x17, 0x03, 0x03, 0x00, 0x01, 0xff]);
        assert_eq!(scan(&more), hello(Some(b"a.io"), false));
    }

    #[test]
    fn post_quantum_browser_hello_with_grease() {
        let msg = hello_msg(Some(&browser_extensions(b"www.Kaspersky.com", false)));
        assert!(msg.len() > 1800, "{}", msg.len());
        assert_eq!(
            scan(&records(&msg, 16384)),
            hello(Some(b"www.Kaspersky.com"), false)
        );
    }

    #[test]
    fn ech_is_flagged_and_the_outer_name_reported() {
        let msg = hello_msg(Some(&browser_extensions(b"public.example", true)));
        assert_eq!(
            scan(&records(&msg, 16384)),
            hello(Some(b"public.example"), true)
        );
    }

    #[test]
    fn hello_without_sni() {
        let msg = hello_msg(Some(&ext(0x000b, &[0x01, 0x00])));
        assert_eq!(scan(&records(&msg, 16384)), hello(None, false));
        // TLS 1.2 allows no extensions field at all.
        assert_eq!(scan(&records(&hello_msg(None), 16384)), hello(None, false));
        // An empty extensions field.
        assert_eq!(
            scan(&records(&hello_msg(Some(&[])), 16384)),
            hello(None, false)
        );
    }

    #[test]
    fn first_host_name_entry_counts() {
        let data = sni_data(&[
            (7, b"other-type"),
            (0, b"first.example"),
            (0, b"second.example"),
        ]);
        let msg = hello_msg(Some(&ext(0, &data)));
        assert_eq!(
            scan(&records(&msg, 16384)),
            hello(Some(b"first.example"), false)
        );
    }

    #[test]
    fn empty_host_name_is_no_name() {
        let msg = hello_msg(Some(&ext(0, &sni_data(&[(0, b"")]))));
        assert_eq!(scan(&records(&msg, 16384)), hello(None, false));
    }

    #[test]
    fn duplicate_server_name_extension_first_counts() {
        let mut e = ext(0, &sni_data(&[(0, b"one.example")]));
        e.extend(ext(0, &sni_data(&[(0, b"two.example")])));
        let msg = hello_msg(Some(&e));
        assert_eq!(
            scan(&records(&msg, 16384)),
            hello(Some(b"one.example"), false)
        );
    }

    #[test]
    fn hello_fragmented_over_records_is_joined() {
        let msg = hello_msg(Some(&browser_extensions(b"split.example", true)));
        for frag in [1, 2, 3, 4, 5, 100, 512, msg.len() - 1] {
            let stream = records(&msg, frag);
            let mut scratch = Vec::new();
            assert_eq!(
                scan_client_hello(&stream, &mut scratch),
                hello(Some(b"split.example"), true),
                "fragment size {frag}"
            );
            assert_eq!(scratch, msg, "fragment size {frag}");
        }
    }

    #[test]
    fn every_prefix_needs_more_and_says_how_much() {
        let msg = hello_msg(Some(&browser_extensions(b"grow.example", false)));
        for frag in [16384, 700, 3] {
            let stream = records(&msg, frag);
            for cut in 0..stream.len() {
                match scan(&stream[..cut]) {
                    HelloScan::NeedMore { needed } => {
                        assert!(
                            needed > cut && needed <= stream.len(),
                            "frag {frag} cut {cut} needed {needed}"
                        )
                    }
                    other => panic!("frag {frag} cut {cut}: {other:?}"),
                }
            }
            assert_eq!(scan(&stream), hello(Some(b"grow.example"), false));
        }
    }

    #[test]
    fn needed_is_enough_for_a_single_record_hello() {
        let stream = HELLO_A_IO;
        let HelloScan::NeedMore { needed } = scan(&stream[..20]) else {
            panic!()
        };
        assert_eq!(needed, stream.len());
    }

    #[test]
    fn other_content_is_not_tls() {
        assert_eq!(scan(b"GET / HTTP/1.1\r\n"), HelloScan::NotTls);
        // SSLv2-compatible hello (RFC 5246 E.2): 2-byte header with the top
        // bit set, msg_type 1, version 3.1.
        assert_eq!(
            scan(&[0x80, 0x2e, 0x01, 0x03, 0x01, 0x00, 0x15]),
            HelloScan::NotTls
        );
        // Application data record.
        assert_eq!(
            scan(&[0x17, 0x03, 0x03, 0x00, 0x05, 1, 2, 3, 4, 5]),
            HelloScan::NotTls
        );
        // Handshake record with a ServerHello.
        assert_eq!(
            scan(&[0x16, 0x03, 0x03, 0x00, 0x04, 0x02, 0, 0, 0]),
            HelloScan::NotTls
        );
        // Version 2.x in the record header.
        assert_eq!(
            scan(&[0x16, 0x02, 0x00, 0x00, 0x04, 0x01, 0, 0, 0]),
            HelloScan::NotTls
        );
        assert_eq!(scan(&[0x16, 0x02]), HelloScan::NotTls);
        assert_eq!(scan(&[0x15]), HelloScan::NotTls);
    }

    #[test]
    fn short_tls_prefixes_need_more() {
        for p in [
            &[][..],
            &[0x16],
            &[0x16, 0x03],
            &[0x16, 0x03, 0x01, 0x00, 0x3b],
        ] {
            assert!(matches!(scan(p), HelloScan::NeedMore { .. }), "{p:?}");
        }
    }

    #[test]
    fn malformed_hellos() {
        let bad = |s: &[u8]| match scan(s) {
            HelloScan::Malformed(e) => e,
            other => panic!("{s:?}: {other:?}"),
        };
        // Zero-length record.
        assert_eq!(
            bad(&[0x16, 0x03, 0x01, 0x00, 0x00, 0x01]),
            TlsError::BadRecord
        );
        // Record longer than 2^14.
        assert_eq!(
            bad(&[0x16, 0x03, 0x01, 0x40, 0x01, 0x01]),
            TlsError::BadRecord
        );
        // Hello longer than the limit (announced; nothing buffered).
        let too_long = (TLS_MAX_CLIENT_HELLO_LEN as u32).to_be_bytes();
        assert_eq!(
            bad(&[
                0x16,
                0x03,
                0x01,
                0x40,
                0x00,
                0x01,
                too_long[1],
                too_long[2],
                too_long[3]
            ]),
            TlsError::TooLong
        );
        // Session id length running past the body.
        let mut s = HELLO_A_IO.to_vec();
        s[43] = 200;
        assert_eq!(bad(&s), TlsError::BadHello);
        // Extensions length running past the body.
        let mut s = HELLO_A_IO.to_vec();
        s[50] = 0x20;
        assert_eq!(bad(&s), TlsError::BadExtension);
        // server_name list length running past the extension.
        let mut s = HELLO_A_IO.to_vec();
        s[57] = 0x08;
        assert_eq!(bad(&s), TlsError::BadExtension);
        // A non-handshake record in the middle of a fragmented hello.
        let msg = hello_msg(Some(&ext(0, &sni_data(&[(0, b"x.example")]))));
        let mut s = records(&msg[..10], 10);
        s.extend_from_slice(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28]);
        s.extend(records(&msg[10..], 1000));
        assert_eq!(bad(&s), TlsError::BadRecord);
    }

    #[test]
    fn broken_extension_list_after_the_name_keeps_the_name() {
        let mut e = ext(0, &sni_data(&[(0, b"kept.example")]));
        e.extend_from_slice(&[0x00, 0x0a, 0x00]); // half an extension header
        let msg = hello_msg(Some(&e));
        assert_eq!(
            scan(&records(&msg, 16384)),
            hello(Some(b"kept.example"), false)
        );
        // Broken before any name: malformed.
        let msg = hello_msg(Some(&[0x00, 0x0a, 0x00]));
        assert_eq!(
            scan(&records(&msg, 16384)),
            HelloScan::Malformed(TlsError::BadExtension)
        );
    }

    #[test]
    fn bare_handshake_message_as_in_quic_crypto_frames() {
        let msg = hello_msg(Some(&browser_extensions(b"quic.example", false)));
        assert_eq!(
            parse_client_hello_body(&msg),
            hello(Some(b"quic.example"), false)
        );
        assert_eq!(
            parse_client_hello_body(&msg[..3]),
            HelloScan::NeedMore { needed: 4 }
        );
        assert_eq!(
            parse_client_hello_body(&msg[..100]),
            HelloScan::NeedMore { needed: msg.len() }
        );
        let mut server_hello = msg.clone();
        server_hello[0] = 2;
        assert_eq!(parse_client_hello_body(&server_hello), HelloScan::NotTls);
    }

    /// The first host_name tls-parser finds in a bare handshake message
    /// (empty names count as none, as in our scanner).
    pub(crate) fn tls_parser_sni(msg: &[u8]) -> Option<Vec<u8>> {
        use tls_parser::{SNIType, TlsExtension, TlsMessage, TlsMessageHandshake};
        let Ok((_, TlsMessage::Handshake(TlsMessageHandshake::ClientHello(ch)))) =
            tls_parser::parse_tls_message_handshake(msg)
        else {
            return None;
        };
        let (_, exts) = tls_parser::parse_tls_client_hello_extensions(ch.ext?).ok()?;
        let names = exts.into_iter().find_map(|e| match e {
            TlsExtension::SNI(names) => Some(names),
            _ => None,
        })?;
        let (_, name) = names.into_iter().find(|(t, _)| *t == SNIType::HostName)?;
        (!name.is_empty()).then(|| name.to_vec())
    }

    /// A small deterministic generator (xorshift64), so the mutation test
    /// needs no dependency and is reproducible.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    #[test]
    fn differential_against_tls_parser_on_mutated_hellos() {
        let seeds = [
            hello_msg(Some(&browser_extensions(b"a.example", false))),
            hello_msg(Some(&browser_extensions(b"b.example", true))),
            hello_msg(Some(&ext(0, &sni_data(&[(1, b"x"), (0, b"c.example")])))),
            HELLO_A_IO[5..].to_vec(),
        ];
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let (mut both, mut only_ours, mut neither) = (0, 0, 0);
        for i in 0..20_000 {
            let mut m = seeds[i % seeds.len()].clone();
            for _ in 0..1 + rng.below(3) {
                let at = rng.below(m.len());
                match rng.below(4) {
                    0 => m[at] = rng.next() as u8,
                    1 => m[at] ^= 1 << rng.below(8),
                    2 => m.truncate(at.max(1)),
                    _ => m.insert(at, rng.next() as u8),
                }
            }
            let theirs = tls_parser_sni(&m);
            let ours = match parse_client_hello_body(&m) {
                HelloScan::Hello { sni, .. } => sni.map(<[u8]>::to_vec),
                _ => None,
            };
            match (&theirs, &ours) {
                (Some(t), o) => {
                    assert_eq!(Some(t), o.as_ref(), "mutant {i}: {m:02x?}");
                    both += 1;
                }
                (None, Some(_)) => only_ours += 1,
                (None, None) => neither += 1,
            }
            // The record-wrapped form agrees with the bare form.
            let stream = records(&m, 16384);
            let bare = parse_client_hello_body(&m);
            let wrapped = scan(&stream);
            if m.len() <= 16384 && matches!(bare, HelloScan::Hello { .. }) {
                assert_eq!(bare, wrapped, "mutant {i}");
            }
        }
        // The mutations must exercise both outcomes, or the test proves
        // nothing. (Mutants only we accept are rare: see "Leniency".)
        assert!(
            both > 1000 && neither > 1000,
            "{both} {only_ours} {neither}"
        );
    }
}
