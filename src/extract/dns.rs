//! DNS messages (RFC 1035 §4) over UDP: question names of queries, and the
//! A/AAAA answers of responses. TODO(helper): implement with `domain`.

use std::net::IpAddr;

/// One item found in a DNS message, borrowed from scratch buffers.
#[derive(Debug)]
pub enum DnsItem<'a> {
    /// A question of a query (QR=0). `name` is dotted, no trailing dot,
    /// case preserved; the root is the empty name.
    Query { name: &'a [u8], qtype: u16 },
    /// An A/AAAA record of a response (QR=1). `query` is the first question
    /// name, `owner` the record's owner (after CNAMEs it differs).
    Answer {
        query: &'a [u8],
        owner: &'a [u8],
        addr: IpAddr,
        ttl: u32,
    },
}

/// Why a message yielded nothing (or only part of what it holds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DnsError {
    Placeholder,
}

impl DnsError {
    pub fn label(self) -> &'static str {
        "placeholder"
    }
}

/// Reusable buffers for name decoding; keep one per worker.
#[derive(Default)]
pub struct DnsScratch {
    pub name: Vec<u8>,
    pub query: Vec<u8>,
}

/// Parse one DNS message and call `out` for every query name and answer
/// address. Returns an error when the message is not DNS or is malformed;
/// items reported before the damage stand.
pub fn extract(
    _msg: &[u8],
    _scratch: &mut DnsScratch,
    _out: &mut dyn FnMut(DnsItem<'_>),
) -> Result<(), DnsError> {
    Err(DnsError::Placeholder)
}
