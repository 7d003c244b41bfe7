//! Stateless parsers that borrow the payload: DNS messages ([`dns`]), TLS
//! ClientHellos ([`tls`]), HTTP/1.x request heads ([`http`]), QUIC Initials
//! ([`quic`], which keeps a bounded per-handshake table to reassemble CRYPTO
//! data across packets). None
//! allocates in steady state: callers own the scratch buffers. Names come
//! out as raw, attacker-controlled bytes borrowed from the payload or the
//! scratch buffer; only an event copies them.
//!
//! Each parser returns a small outcome enum whose failure cases carry a
//! `label()` for the `stats` counters.

pub mod dns;
pub mod http;
pub mod quic;
pub mod tls;
