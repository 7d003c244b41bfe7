//! Deterministic traffic generator used by the demo, tests and benchmarks.
//!
//! Everything is built here, from our own code and a seeded PRNG: no
//! external data, no `rand`. The same seed (and size) always gives the same
//! bytes, on every machine.
//!
//! Layers, bottom up:
//!
//! - [`packet`]: the emit side. Ethernet II with optional 802.1Q / QinQ
//!   tags (or raw IP / Linux SLL2), IPv4 with header checksum, IPv6, UDP
//!   and TCP with correct checksums, ARP.
//! - [`pcap`]: a classic pcap writer (µs or ns, little-endian) over any
//!   `Write`.
//! - [`dns`], [`tls`], [`http`]: payloads. DNS queries (A, AAAA, HTTPS) and
//!   compressed responses with CNAME chains; TLS 1.3 ClientHellos shaped like
//!   Chrome (GREASE, permuted extensions, ECH GREASE), Firefox or a product
//!   agent, optionally with a 1,216-byte X25519MLKEM768 key share (then the
//!   hello needs two TCP segments) and optionally fragmented over two TLS
//!   records; HTTP/1.1 requests, `CONNECT host:443`.
//! - [`session`]: TCP connections (handshake, seq/ack, segmentation, FIN),
//!   UDP flows, and the [`session::Mixer`] that interleaves conversations by
//!   time and streams them to the pcap.
//! - [`activity`]: whole conversations (DNS lookup, TLS session, HTTP
//!   exchange, CONNECT tunnel, bulk TCP, UDP/443, ARP).
//! - [`demo`] and [`bulk`]: the scenarios; [`truth`]: the ground-truth file
//!   written beside each capture; [`kaspersky`]: which names must match
//!   which row of the research table.
//!
//! # Command line
//!
//! ```text
//! phonehome-gen demo --out tests/data/demo.pcap --truth tests/data/demo.truth.json
//! phonehome-gen bulk --size 100M --seed 1 --out bulk.pcap --truth bulk.truth.json
//! ```
//!
//! `--size` takes bytes with an optional binary suffix (`K`, `M`, `G`,
//! optionally followed by `B` or `iB`): the capture stops before the first
//! packet that would take the file past it. `bulk` streams: memory stays
//! bounded (see `GEN_BULK_ACTIVE_SESSIONS`) whatever the size. `--ns`
//! writes nanosecond timestamps; `--link ethernet|raw|sll2` picks the link
//! type of a bulk capture.
//!
//! `tests/data/demo.pcap` is committed; the test suite regenerates it and
//! fails if it differs, so a change to the generator must regenerate it with
//! the first command above.

pub mod activity;
pub mod bulk;
pub mod demo;
pub mod dns;
pub mod encap;
pub mod http;
pub mod kaspersky;
pub mod office;
pub mod packet;
pub mod pcap;
pub mod quic;
pub mod rng;
pub mod session;
pub mod tls;
pub mod truth;

/// What can go wrong while generating.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("writing the capture: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0} too long for its length field")]
    TooLong(&'static str),
    #[error("source and destination address families differ")]
    AddressFamilyMismatch,
    #[error("invalid DNS name: {0}")]
    BadName(&'static str),
    #[error("timestamp does not fit a 32-bit pcap seconds field")]
    TimestampOutOfRange,
    #[error("invalid size {0:?}: use bytes with an optional K, M or G suffix")]
    BadSize(String),
}

/// Parses a size such as `100M`, `2G`, `10MiB`, `1048576` (binary
/// multiples: K = 2^10, M = 2^20, G = 2^30).
pub fn parse_size(s: &str) -> Result<u64, Error> {
    let t = s.trim();
    let t = t
        .strip_suffix("iB")
        .or_else(|| t.strip_suffix('B'))
        .unwrap_or(t);
    let (num, mult) = match t.char_indices().last() {
        Some((i, 'k' | 'K')) => (t.get(..i), 1u64 << 10),
        Some((i, 'm' | 'M')) => (t.get(..i), 1 << 20),
        Some((i, 'g' | 'G')) => (t.get(..i), 1 << 30),
        _ => (Some(t), 1),
    };
    num.and_then(|n| n.trim().parse::<u64>().ok())
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| Error::BadSize(s.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("100M").unwrap(), 100 << 20);
        assert_eq!(parse_size("2G").unwrap(), 2 << 30);
        assert_eq!(parse_size("10MiB").unwrap(), 10 << 20);
        assert_eq!(parse_size("512kB").unwrap(), 512 << 10);
        assert_eq!(parse_size("12345").unwrap(), 12345);
        for bad in ["", "M", "1.5G", "-1", "99999999999999999999G", "1T"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }
}
