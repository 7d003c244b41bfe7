//! `extract::quic` on arbitrary datagrams. Random bytes almost never pass
//! AEAD, so most records are first encrypted as client Initials with our
//! own builder (`traffic::quic`): the fuzzer then drives the frame walker,
//! the CRYPTO reassembly, the handshake table and the hello parser behind
//! the decryption, as well as the header parser and failure paths.
//!
//! Input: records of `ctl (1) | len (2, big-endian) | bytes`.
//! `ctl & 3`: 0 raw datagram, 1 Initial with these plaintext frames,
//! 2 Retry, 3 frame walker and gQUIC CHLO search on the bytes alone.
//! `ctl >> 2 & 3` picks the client port, `ctl >> 4 & 1` v1 or v2,
//! `ctl >> 5 & 1` the direction, `ctl >> 6` the DCID.
#![no_main]
use std::net::{IpAddr, Ipv4Addr};

use libfuzzer_sys::fuzz_target;
use phonehome::config::limits::QUIC_MAX_CONNECTIONS;
use phonehome::extract::quic::crypto::Side;
use phonehome::extract::quic::{QuicTracker, Tuple, VERSION_1, VERSION_2, frames, gquic};
use phonehome::traffic::quic::{Initial, initial, retry};

fuzz_target!(|data: &[u8]| {
    let mut t = QuicTracker::new();
    let mut rest = data;
    let mut ts = 0u64;
    let mut pn = 0u64;
    while let [ctl, hi, lo, tail @ ..] = rest {
        let n = usize::from(u16::from_be_bytes([*hi, *lo])).min(tail.len());
        let (bytes, next) = tail.split_at(n);
        rest = next;
        ts += 1_000_000_000;
        let mut tuple = Tuple {
            src: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            src_port: 50_000 + u16::from((ctl >> 2) & 3),
            dst: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
            dst_port: 443,
        };
        if (ctl >> 5) & 1 == 1 {
            tuple = tuple.reversed();
        }
        let version = if (ctl >> 4) & 1 == 0 {
            VERSION_1
        } else {
            VERSION_2
        };
        let dcid = [ctl >> 6; 8];
        let datagram = match ctl & 3 {
            0 => bytes.to_vec(),
            1 => {
                pn += 1;
                let p = Initial {
                    version,
                    dcid: &dcid,
                    scid: b"s",
                    token: b"",
                    pn,
                    pn_len: 2,
                };
                match initial(&p, Side::Client, &dcid, bytes, 1200) {
                    Ok(d) => d,
                    Err(_) => continue,
                }
            }
            2 => match retry(version, b"s", bytes.get(..8).unwrap_or(bytes), b"tok") {
                Ok(d) => d,
                Err(_) => continue,
            },
            _ => {
                let _ = frames::walk(bytes, &mut |_, _| {});
                let _ = gquic::find_chlo(bytes);
                continue;
            }
        };
        t.datagram(ts, tuple, &datagram, &mut |name| {
            assert!(!name.sni.is_empty());
        });
        assert!(t.len() <= QUIC_MAX_CONNECTIONS);
    }
});
