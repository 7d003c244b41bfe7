//! Initial packet protection (RFC 9001 §5): the keys every observer can
//! derive from the Destination Connection ID of the client's first Initial,
//! header protection (§5.4) and AEAD (§5.3).
//!
//! ```text
//! initial_secret = HKDF-Extract(salt(version), client_dst_connection_id)
//! client_secret  = HKDF-Expand-Label(initial_secret, "client in", "", 32)
//! key = HKDF-Expand-Label(client_secret, "quic key", "", 16)   -- AES-128-GCM
//! iv  = HKDF-Expand-Label(client_secret, "quic iv",  "", 12)
//! hp  = HKDF-Expand-Label(client_secret, "quic hp",  "", 16)   -- AES-128-ECB
//! ```
//!
//! QUIC v2 (RFC 9369 §3.3.1–3.3.2) changes the salt and the three labels
//! (`quicv2 key`, `quicv2 iv`, `quicv2 hp`); drafts and gQUIC Q050 change
//! only the salt. Everything here is `ring` (AES-GCM, AES header protection,
//! HKDF-SHA256): no allocation, keys live on the stack.

use ring::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey, quic};
use ring::hkdf;

/// Which side's Initial keys to derive (RFC 9001 §5.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Client,
    Server,
}

/// The label set of a version: v1 and drafts use `quic key`/`quic iv`/
/// `quic hp` (RFC 9001 §5.1), v2 `quicv2 …` (RFC 9369 §3.3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Labels {
    V1,
    V2,
}

/// AES-128-GCM tag length (RFC 5116 §5.1).
pub const TAG_LEN: usize = 16;
/// Header protection sample length (RFC 9001 §5.4.2).
pub const SAMPLE_LEN: usize = 16;

/// The protection keys of one side's Initial packets.
pub struct InitialKeys {
    aead: LessSafeKey,
    iv: [u8; 12],
    hp: quic::HeaderProtectionKey,
}

/// `ring::hkdf` output length.
struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// HKDF-Expand-Label (RFC 8446 §7.1) with an empty context:
/// `HkdfLabel { uint16 length; opaque label<7..255> = "tls13 " + label;
/// opaque context<0..255> = "" }`.
fn expand_label(prk: &hkdf::Prk, label: &[u8], out: &mut [u8]) -> Option<()> {
    let len = u16::try_from(out.len()).ok()?.to_be_bytes();
    let label_len = [u8::try_from(6 + label.len()).ok()?];
    let info: [&[u8]; 5] = [&len, &label_len, b"tls13 ", label, &[0]];
    prk.expand(&info, Len(out.len())).ok()?.fill(out).ok()
}

impl InitialKeys {
    /// Derive `side`'s Initial keys from the client's first Destination
    /// Connection ID. `None` only if `ring` rejects a key length, which
    /// cannot happen with these constants.
    pub fn derive(salt: &[u8], labels: Labels, dcid: &[u8], side: Side) -> Option<InitialKeys> {
        let initial = hkdf::Salt::new(hkdf::HKDF_SHA256, salt).extract(dcid);
        let mut secret = [0u8; 32];
        let side_label: &[u8] = match side {
            Side::Client => b"client in",
            Side::Server => b"server in",
        };
        expand_label(&initial, side_label, &mut secret)?;
        let secret = hkdf::Prk::new_less_safe(hkdf::HKDF_SHA256, &secret);
        let (l_key, l_iv, l_hp): (&[u8], &[u8], &[u8]) = match labels {
            Labels::V1 => (b"quic key", b"quic iv", b"quic hp"),
            Labels::V2 => (b"quicv2 key", b"quicv2 iv", b"quicv2 hp"),
        };
        let mut key = [0u8; 16];
        let mut iv = [0u8; 12];
        let mut hp = [0u8; 16];
        expand_label(&secret, l_key, &mut key)?;
        expand_label(&secret, l_iv, &mut iv)?;
        expand_label(&secret, l_hp, &mut hp)?;
        Some(InitialKeys {
            aead: LessSafeKey::new(UnboundKey::new(&aead::AES_128_GCM, &key).ok()?),
            iv,
            hp: quic::HeaderProtectionKey::new(&quic::AES_128, &hp).ok()?,
        })
    }

    /// The 5-byte header protection mask for a 16-byte `sample`
    /// (RFC 9001 §5.4.3: AES-ECB of the sample).
    pub fn mask(&self, sample: &[u8]) -> Option<[u8; 5]> {
        self.hp.new_mask(sample.get(..SAMPLE_LEN)?).ok()
    }

    /// Open a packet in place (RFC 9001 §5.3): `header` (unprotected, up to
    /// and including the packet number) is the associated data,
    /// `payload` the ciphertext followed by the 16-byte tag. The nonce is
    /// the IV XOR the full packet number (left-padded to 12 bytes). Returns
    /// the plaintext length (at the start of `payload`), or `None` when
    /// the tag does not verify.
    pub fn open(&self, pn: u64, header: &[u8], payload: &mut [u8]) -> Option<usize> {
        let mut nonce = self.iv;
        for (n, p) in nonce.iter_mut().skip(4).zip(pn.to_be_bytes()) {
            *n ^= p;
        }
        let plain = self
            .aead
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(header),
                payload,
            )
            .ok()?;
        Some(plain.len())
    }

    /// Seal in place (the generator's side of [`InitialKeys::open`]):
    /// appends the tag to `payload`.
    pub fn seal(&self, pn: u64, header: &[u8], payload: &mut Vec<u8>) -> Option<()> {
        let mut nonce = self.iv;
        for (n, p) in nonce.iter_mut().skip(4).zip(pn.to_be_bytes()) {
            *n ^= p;
        }
        self.aead
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(header),
                payload,
            )
            .ok()
    }

    #[cfg(test)]
    fn raw(&self) -> [u8; 12] {
        self.iv
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::quic::{SALT_V1, SALT_V2};

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// RFC 9001 Appendix A.1: keys for DCID 0x8394c8f03e515708.
    #[test]
    fn rfc9001_a1_client_and_server_keys() {
        let dcid = hex("8394c8f03e515708");
        let c = InitialKeys::derive(&SALT_V1, Labels::V1, &dcid, Side::Client).unwrap();
        assert_eq!(c.raw().to_vec(), hex("fa044b2f42a3fd3b46fb255c"));
        // hp = 9f50449e04a0e810283a1e9933adedd2: the mask of A.2's sample.
        let mask = c.mask(&hex("d1b1c98dd7689fb8ec11d242b123dc9b")).unwrap();
        assert_eq!(mask.to_vec(), hex("437b9aec36"));
        let s = InitialKeys::derive(&SALT_V1, Labels::V1, &dcid, Side::Server).unwrap();
        assert_eq!(s.raw().to_vec(), hex("0ac1493ca1905853b0bba03e"));
        // RFC 9001 A.3: server hp c206b8d9b9f0f37644430b490eeaa314, sample
        // 2cd0991cd25b0aac406a5816b6394100 gives mask 2ec0d8356a.
        let mask = s.mask(&hex("2cd0991cd25b0aac406a5816b6394100")).unwrap();
        assert_eq!(mask.to_vec(), hex("2ec0d8356a"));
    }

    /// RFC 9369 Appendix A.1 and A.2: v2 keys for the same DCID.
    #[test]
    fn rfc9369_a1_client_and_server_keys() {
        let dcid = hex("8394c8f03e515708");
        let c = InitialKeys::derive(&SALT_V2, Labels::V2, &dcid, Side::Client).unwrap();
        assert_eq!(c.raw().to_vec(), hex("91f73e2351d8fa91660e909f"));
        // A.2: the sample ffe67b6a… masks the packet number 00000002 into
        // a0c95e82 and the first byte d3 into d7.
        let mask = c.mask(&hex("ffe67b6abcdb4298b485dd04de806071")).unwrap();
        assert_eq!(mask[1..].to_vec(), hex("a0c95e80"));
        assert_eq!(mask[0] & 0x0f, 0xd3 ^ 0xd7);
        let s = InitialKeys::derive(&SALT_V2, Labels::V2, &dcid, Side::Server).unwrap();
        assert_eq!(s.raw().to_vec(), hex("dd13c276499c0249d3310652"));
    }

    #[test]
    fn open_rejects_a_flipped_bit_and_roundtrips_seal() {
        let c = InitialKeys::derive(&SALT_V1, Labels::V1, b"abcdefgh", Side::Client).unwrap();
        let header = b"hdr";
        let mut buf = b"crypto frames".to_vec();
        c.seal(7, header, &mut buf).unwrap();
        let mut good = buf.clone();
        assert_eq!(c.open(7, header, &mut good), Some(13));
        assert_eq!(&good[..13], b"crypto frames");
        let mut bad = buf.clone();
        bad[0] ^= 1;
        assert_eq!(c.open(7, header, &mut bad), None);
        let mut wrong_pn = buf.clone();
        assert_eq!(c.open(8, header, &mut wrong_pn), None);
        assert_eq!(c.open(7, header, &mut [0u8; 15]), None);
    }
}
