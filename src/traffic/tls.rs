//! TLS 1.3 ClientHello builder in the shapes real clients send.
//!
//! Wire format: RFC 8446 section 4.1.2 (ClientHello), section 5.1 (records:
//! a handshake message may be fragmented over several records), section
//! 4.2 (extensions). GREASE: RFC 8701. server_name: RFC 6066 section 3.
//! ALPN: RFC 7301. Hybrid X25519MLKEM768 (group 0x11ec, 1,216-byte client
//! share = 1,184-byte ML-KEM-768 encapsulation key + 32-byte X25519 share):
//! draft-ietf-tls-ecdhe-mlkem. ECH GREASE (0xfe0d):
//! draft-ietf-tls-esni section 6.2. ALPS (0x44cd) and compress_certificate
//! (RFC 8879) as Chrome sends them.

use super::Error;
use super::rng::Rng;

/// Record content type handshake.
pub const CONTENT_HANDSHAKE: u8 = 22;
/// Record content type application_data.
pub const CONTENT_APPLICATION_DATA: u8 = 23;
/// Named group X25519MLKEM768.
pub const GROUP_X25519_MLKEM768: u16 = 0x11ec;
/// Named group x25519.
pub const GROUP_X25519: u16 = 0x001d;
/// Length of an X25519MLKEM768 client key share.
pub const MLKEM768_X25519_SHARE_LEN: usize = 1216;
/// Extension type server_name.
pub const EXT_SERVER_NAME: u16 = 0;
/// Extension type encrypted_client_hello.
pub const EXT_ECH: u16 = 0xfe0d;

/// Which client the hello imitates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// Chromium: GREASE values, shuffled extension order, ALPS, ECH GREASE.
    Chrome,
    /// Firefox: fixed order, no GREASE, record_size_limit, delegated credentials.
    Firefox,
    /// A non-browser agent (an endpoint product's own TLS stack): no GREASE,
    /// no ALPN, small fixed extension list.
    Agent,
}

impl Shape {
    pub fn as_str(self) -> &'static str {
        match self {
            Shape::Chrome => "chrome",
            Shape::Firefox => "firefox",
            Shape::Agent => "agent",
        }
    }

    /// Whether this shape sends an encrypted_client_hello extension.
    pub fn sends_ech(self) -> bool {
        matches!(self, Shape::Chrome)
    }
}

/// What to put in a ClientHello.
#[derive(Clone, Copy, Debug)]
pub struct HelloSpec<'a> {
    pub shape: Shape,
    /// host_name for server_name; `None` leaves the extension out.
    pub sni: Option<&'a [u8]>,
    /// Offer X25519MLKEM768 with a 1,216-byte key share (before X25519).
    pub post_quantum: bool,
}

/// A GREASE value 0x?a?a (RFC 8701 section 2).
fn grease(rng: &mut Rng) -> u16 {
    let n = rng.below(16) as u16;
    (n << 12) | 0x0a00 | (n << 4) | 0x000a
}

fn push_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Appends `body` as a vector with a 16-bit length prefix.
fn push_vec16(out: &mut Vec<u8>, body: &[u8]) -> Result<(), Error> {
    let n = u16::try_from(body.len()).map_err(|_| Error::TooLong("TLS vector"))?;
    push_u16(out, n);
    out.extend_from_slice(body);
    Ok(())
}

fn push_vec8(out: &mut Vec<u8>, body: &[u8]) -> Result<(), Error> {
    let n = u8::try_from(body.len()).map_err(|_| Error::TooLong("TLS vector"))?;
    out.push(n);
    out.extend_from_slice(body);
    Ok(())
}

fn random_bytes(rng: &mut Rng, n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    rng.fill(&mut v);
    v
}

fn u16s(vals: &[u16]) -> Vec<u8> {
    vals.iter().flat_map(|v| v.to_be_bytes()).collect()
}

/// One extension: (type, body).
type Ext = (u16, Vec<u8>);

fn ext_server_name(host: &[u8]) -> Result<Ext, Error> {
    // ServerNameList { NameType host_name(0); opaque HostName<1..2^16-1> }
    let mut entry = vec![0u8];
    push_vec16(&mut entry, host)?;
    let mut body = Vec::new();
    push_vec16(&mut body, &entry)?;
    Ok((EXT_SERVER_NAME, body))
}

fn ext_alpn(protocols: &[&[u8]]) -> Result<Ext, Error> {
    let mut list = Vec::new();
    for p in protocols {
        push_vec8(&mut list, p)?;
    }
    let mut body = Vec::new();
    push_vec16(&mut body, &list)?;
    Ok((0x0010, body))
}

fn ext_u16_list16(ty: u16, vals: &[u16]) -> Result<Ext, Error> {
    let mut body = Vec::new();
    push_vec16(&mut body, &u16s(vals))?;
    Ok((ty, body))
}

fn ext_supported_versions(vals: &[u16]) -> Result<Ext, Error> {
    let mut body = Vec::new();
    push_vec8(&mut body, &u16s(vals))?;
    Ok((0x002b, body))
}

/// key_share (RFC 8446 section 4.2.8): KeyShareEntry client_shares<0..2^16-1>.
fn ext_key_share(
    rng: &mut Rng,
    grease_group: Option<u16>,
    pq: bool,
    extra_p256: bool,
) -> Result<Ext, Error> {
    let mut shares = Vec::new();
    if let Some(g) = grease_group {
        push_u16(&mut shares, g);
        push_vec16(&mut shares, &[0])?;
    }
    if pq {
        push_u16(&mut shares, GROUP_X25519_MLKEM768);
        push_vec16(&mut shares, &random_bytes(rng, MLKEM768_X25519_SHARE_LEN))?;
    }
    push_u16(&mut shares, GROUP_X25519);
    push_vec16(&mut shares, &random_bytes(rng, 32))?;
    if extra_p256 {
        // secp256r1 uncompressed point: 0x04 || X || Y.
        let mut p = random_bytes(rng, 65);
        if let Some(first) = p.first_mut() {
            *first = 4;
        }
        push_u16(&mut shares, 0x0017);
        push_vec16(&mut shares, &p)?;
    }
    let mut body = Vec::new();
    push_vec16(&mut body, &shares)?;
    Ok((0x0033, body))
}

/// ECH GREASE (outer ClientHello, random config id/enc/payload).
fn ext_ech_grease(rng: &mut Rng) -> Result<Ext, Error> {
    let mut body = vec![0u8]; // ECHClientHelloType outer
    push_u16(&mut body, 0x0001); // KDF HKDF-SHA256
    push_u16(&mut body, 0x0001); // AEAD AES-128-GCM
    body.push(rng.next_u32() as u8); // config_id
    push_vec16(&mut body, &random_bytes(rng, 32))?; // enc
    let payload_len = 144 + 32 * rng.below(4) as usize;
    push_vec16(&mut body, &random_bytes(rng, payload_len))?;
    Ok((EXT_ECH, body))
}

/// The extensions of `spec` in wire order.
fn extensions(spec: &HelloSpec<'_>, rng: &mut Rng) -> Result<Vec<Ext>, Error> {
    let sig_algs: &[u16] = &[
        0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601,
    ];
    let mut exts: Vec<Ext> = Vec::new();
    match spec.shape {
        Shape::Chrome => {
            let g_group = grease(rng);
            let g_ver = grease(rng);
            let mut groups = vec![g_group];
            if spec.post_quantum {
                groups.push(GROUP_X25519_MLKEM768);
            }
            groups.extend_from_slice(&[GROUP_X25519, 0x0017, 0x0018]);
            if let Some(h) = spec.sni {
                exts.push(ext_server_name(h)?);
            }
            exts.push((0x0017, Vec::new())); // extended_master_secret
            exts.push((0xff01, vec![0])); // renegotiation_info
            exts.push(ext_u16_list16(0x000a, &groups)?);
            exts.push((0x000b, vec![1, 0])); // ec_point_formats: uncompressed
            exts.push((0x0023, Vec::new())); // session_ticket
            exts.push(ext_alpn(&[b"h2", b"http/1.1"])?);
            exts.push((0x0005, vec![1, 0, 0, 0, 0])); // status_request: OCSP
            exts.push(ext_u16_list16(0x000d, sig_algs)?);
            exts.push((0x0012, Vec::new())); // signed_certificate_timestamp
            exts.push(ext_key_share(rng, Some(g_group), spec.post_quantum, false)?);
            exts.push((0x002d, vec![1, 1])); // psk_key_exchange_modes: psk_dhe_ke
            exts.push(ext_supported_versions(&[g_ver, 0x0304, 0x0303])?);
            exts.push((0x001b, vec![2, 0, 2])); // compress_certificate: brotli
            exts.push((0x44cd, vec![0, 3, 2, b'h', b'2'])); // application_settings
            exts.push(ext_ech_grease(rng)?);
            // Chrome permutes its extensions (since Chrome 110); GREASE stays
            // first and last.
            for i in (1..exts.len()).rev() {
                let j = rng.below(i as u64 + 1) as usize;
                exts.swap(i, j);
            }
            let g_first = grease(rng);
            let mut g_last = grease(rng);
            if g_last == g_first {
                g_last ^= 0x1010;
            }
            exts.insert(0, (g_first, Vec::new()));
            exts.push((g_last, vec![0]));
        }
        Shape::Firefox => {
            let mut groups = Vec::new();
            if spec.post_quantum {
                groups.push(GROUP_X25519_MLKEM768);
            }
            groups.extend_from_slice(&[GROUP_X25519, 0x0017, 0x0018, 0x0019, 0x0100, 0x0101]);
            if let Some(h) = spec.sni {
                exts.push(ext_server_name(h)?);
            }
            exts.push((0x0017, Vec::new()));
            exts.push((0xff01, vec![0]));
            exts.push(ext_u16_list16(0x000a, &groups)?);
            exts.push((0x000b, vec![1, 0]));
            exts.push((0x0023, Vec::new()));
            exts.push(ext_alpn(&[b"h2", b"http/1.1"])?);
            exts.push((0x0005, vec![1, 0, 0, 0, 0]));
            exts.push((0x0022, u16s(&[0x0008, 0x0403, 0x0503, 0x0603, 0x0203]))); // delegated_credentials
            exts.push(ext_key_share(rng, None, spec.post_quantum, true)?);
            exts.push(ext_supported_versions(&[0x0304, 0x0303])?);
            exts.push(ext_u16_list16(0x000d, sig_algs)?);
            exts.push((0x002d, vec![1, 1]));
            exts.push((0x001c, vec![0x40, 0x01])); // record_size_limit 16385
        }
        Shape::Agent => {
            if let Some(h) = spec.sni {
                exts.push(ext_server_name(h)?);
            }
            let mut groups = Vec::new();
            if spec.post_quantum {
                groups.push(GROUP_X25519_MLKEM768);
            }
            groups.extend_from_slice(&[GROUP_X25519, 0x0017, 0x0018]);
            exts.push(ext_u16_list16(0x000a, &groups)?);
            exts.push((0x000b, vec![1, 0]));
            exts.push(ext_u16_list16(0x000d, sig_algs)?);
            exts.push((0x0017, Vec::new()));
            exts.push(ext_key_share(rng, None, spec.post_quantum, false)?);
            exts.push(ext_supported_versions(&[0x0304, 0x0303])?);
            exts.push((0x002d, vec![1, 1]));
        }
    }
    Ok(exts)
}

/// Appends one ClientHello handshake message (type 1, 24-bit length, body).
/// On error `out` is unchanged.
pub fn write_client_hello(
    out: &mut Vec<u8>,
    spec: &HelloSpec<'_>,
    rng: &mut Rng,
) -> Result<(), Error> {
    let mut body = Vec::with_capacity(2048);
    push_u16(&mut body, 0x0303); // legacy_version
    body.extend_from_slice(&random_bytes(rng, 32)); // random
    push_vec8(&mut body, &random_bytes(rng, 32))?; // legacy_session_id
    let suites: Vec<u16> = match spec.shape {
        Shape::Chrome => {
            let mut s = vec![grease(rng)];
            s.extend_from_slice(&[
                0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013,
                0xc014, 0x009c, 0x009d, 0x002f, 0x0035,
            ]);
            s
        }
        Shape::Firefox => vec![
            0x1301, 0x1303, 0x1302, 0xc02b, 0xc02f, 0xcca9, 0xcca8, 0xc02c, 0xc030, 0xc00a, 0xc009,
            0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035,
        ],
        Shape::Agent => vec![0x1302, 0x1301, 0x1303, 0xc030, 0xc02f, 0xc02c, 0xc02b],
    };
    push_vec16(&mut body, &u16s(&suites))?;
    body.extend_from_slice(&[1, 0]); // compression methods: null
    let mut ext_bytes = Vec::with_capacity(1800);
    for (ty, data) in extensions(spec, rng)? {
        push_u16(&mut ext_bytes, ty);
        push_vec16(&mut ext_bytes, &data)?;
    }
    push_vec16(&mut body, &ext_bytes)?;
    let len = u32::try_from(body.len()).map_err(|_| Error::TooLong("ClientHello"))?;
    if len > 0x00ff_ffff {
        return Err(Error::TooLong("ClientHello"));
    }
    out.push(1); // client_hello
    out.extend_from_slice(&len.to_be_bytes()[1..]);
    out.extend_from_slice(&body);
    Ok(())
}

/// Wraps `data` in TLS records of `content_type` with record `version`
/// (clients put `0x0301` on their first flight, `0x0303` after), split at the offsets
/// in `splits` (each relative to `data`, ascending; out-of-range ones are
/// ignored). A split inside a handshake message fragments it over records
/// (RFC 8446 section 5.1).
pub fn write_records(
    out: &mut Vec<u8>,
    content_type: u8,
    version: u16,
    data: &[u8],
    splits: &[usize],
) -> Result<(), Error> {
    let mut from = 0usize;
    let valid = splits.iter().copied().filter(|&s| s < data.len());
    for end in valid.chain(std::iter::once(data.len())) {
        if end <= from && end != data.len() {
            continue; // not ascending, or empty fragment
        }
        let frag = data.get(from..end).unwrap_or_default();
        if frag.len() > (1 << 14) {
            return Err(Error::TooLong("TLS record"));
        }
        out.push(content_type);
        out.extend_from_slice(&version.to_be_bytes());
        push_vec16(out, frag)?;
        from = end;
    }
    Ok(())
}

/// Appends a TLS 1.3 ServerHello handshake message (RFC 8446 section
/// 4.1.3): echoes `session_id`, picks TLS_AES_128_GCM_SHA256, carries
/// supported_versions (0x0304) and an X25519 key_share.
pub fn write_server_hello(
    out: &mut Vec<u8>,
    session_id: &[u8],
    rng: &mut Rng,
) -> Result<(), Error> {
    let mut body = Vec::with_capacity(128);
    push_u16(&mut body, 0x0303);
    body.extend_from_slice(&random_bytes(rng, 32));
    push_vec8(&mut body, session_id)?;
    push_u16(&mut body, 0x1301);
    body.push(0);
    let mut exts = Vec::new();
    push_u16(&mut exts, 0x002b);
    push_vec16(&mut exts, &[0x03, 0x04])?;
    let mut ks = Vec::new();
    push_u16(&mut ks, GROUP_X25519);
    push_vec16(&mut ks, &random_bytes(rng, 32))?;
    push_u16(&mut exts, 0x0033);
    push_vec16(&mut exts, &ks)?;
    push_vec16(&mut body, &exts)?;
    let len = body.len() as u32; // < 200 bytes
    out.push(2); // server_hello
    out.extend_from_slice(&len.to_be_bytes()[1..]);
    out.extend_from_slice(&body);
    Ok(())
}

/// Legacy session id of a ClientHello handshake message (bytes 39..).
pub fn client_hello_session_id(hello: &[u8]) -> &[u8] {
    let n = hello.get(38).copied().unwrap_or(0) as usize;
    hello.get(39..39 + n).unwrap_or_default()
}

/// Offset of the host_name bytes inside a ClientHello handshake message,
/// used to choose a record split that cuts the name in two.
pub fn sni_offset(hello: &[u8], host: &[u8]) -> Option<usize> {
    hello.windows(host.len()).position(|w| w == host)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tls_parser::{
        TlsExtension, TlsMessage, TlsMessageHandshake, parse_tls_extensions,
        parse_tls_message_handshake,
    };

    fn hello(shape: Shape, pq: bool, sni: &[u8], seed: u64) -> Vec<u8> {
        let mut out = Vec::new();
        let mut rng = Rng::new(seed);
        write_client_hello(
            &mut out,
            &HelloSpec {
                shape,
                sni: Some(sni),
                post_quantum: pq,
            },
            &mut rng,
        )
        .unwrap();
        out
    }

    /// Parses with tls-parser and returns (sni, key share groups+lens, has ech).
    fn inspect(msg: &[u8]) -> (Vec<u8>, Vec<(u16, usize)>, bool) {
        let (rest, parsed) = parse_tls_message_handshake(msg).expect("hello parses");
        assert!(rest.is_empty());
        let TlsMessage::Handshake(TlsMessageHandshake::ClientHello(ch)) = parsed else {
            panic!("not a ClientHello")
        };
        let (_, exts) = parse_tls_extensions(ch.ext.unwrap()).unwrap();
        let mut sni = Vec::new();
        let mut shares = Vec::new();
        let mut ech = false;
        for e in exts {
            match e {
                TlsExtension::SNI(list) => sni = list[0].1.to_vec(),
                TlsExtension::KeyShare(raw) => {
                    // KeyShare body: u16 total, then (group, u16 len, key)*
                    let mut p = &raw[2..];
                    while p.len() >= 4 {
                        let g = u16::from_be_bytes([p[0], p[1]]);
                        let l = u16::from_be_bytes([p[2], p[3]]) as usize;
                        shares.push((g, l));
                        p = &p[4 + l..];
                    }
                }
                TlsExtension::Unknown(t, _) if t.0 == EXT_ECH => ech = true,
                _ => {}
            }
        }
        (sni, shares, ech)
    }

    #[test]
    fn chrome_pq_hello_shape() {
        let h = hello(Shape::Chrome, true, b"s07.upd.kaspersky.com", 1);
        let (sni, shares, ech) = inspect(&h);
        assert_eq!(sni, b"s07.upd.kaspersky.com");
        assert!(ech);
        assert_eq!(
            shares.len(),
            3,
            "GREASE, X25519MLKEM768, X25519: {shares:?}"
        );
        assert_eq!(shares[1], (GROUP_X25519_MLKEM768, 1216));
        assert_eq!(shares[2], (GROUP_X25519, 32));
        assert_eq!(shares[0].0 & 0x0f0f, 0x0a0a);
        // ~1.8 KB: needs two 1460-byte TCP segments once in a record.
        assert!(h.len() + 5 > 1460 && h.len() < 2100, "len {}", h.len());
    }

    #[test]
    fn firefox_and_agent_shapes_parse() {
        for shape in [Shape::Firefox, Shape::Agent] {
            for pq in [false, true] {
                let h = hello(shape, pq, b"example.org", 2);
                let (sni, shares, ech) = inspect(&h);
                assert_eq!(sni, b"example.org");
                assert!(!ech);
                assert_eq!(shares.contains(&(GROUP_X25519_MLKEM768, 1216)), pq);
            }
        }
    }

    #[test]
    fn chrome_extension_order_varies_with_seed() {
        assert_ne!(
            hello(Shape::Chrome, false, b"a.example", 1)[76..],
            hello(Shape::Chrome, false, b"a.example", 5)[76..]
        );
        assert_eq!(
            hello(Shape::Chrome, false, b"a.example", 5),
            hello(Shape::Chrome, false, b"a.example", 5)
        );
    }

    #[test]
    fn records_split_fragments_the_message() {
        let h = hello(
            Shape::Agent,
            false,
            b"refresh-bkg.activation-v2.kaspersky.com",
            3,
        );
        let cut = sni_offset(&h, b"refresh-bkg").unwrap() + 5;
        let mut out = Vec::new();
        write_records(&mut out, CONTENT_HANDSHAKE, 0x0301, &h, &[cut]).unwrap();
        assert_eq!(out.len(), h.len() + 10);
        assert_eq!(&out[..3], &[22, 3, 1]);
        assert_eq!(u16::from_be_bytes([out[3], out[4]]) as usize, cut);
        let second = 5 + cut;
        assert_eq!(&out[second..second + 3], &[22, 3, 1]);
        assert_eq!(
            u16::from_be_bytes([out[second + 3], out[second + 4]]) as usize,
            h.len() - cut
        );
        // Reassembled fragments are the original message.
        let mut joined = out[5..5 + cut].to_vec();
        joined.extend_from_slice(&out[second + 5..]);
        assert_eq!(joined, h);
        // No split → one record.
        let mut one = Vec::new();
        write_records(&mut one, CONTENT_HANDSHAKE, 0x0301, &h, &[]).unwrap();
        assert_eq!(one.len(), h.len() + 5);
    }
}
