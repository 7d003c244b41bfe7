//! HTTP/1.x request heads (RFC 9112 §3): the Host header, or the authority
//! of `CONNECT host:port`. TODO(helper): implement.

/// Result of scanning bytes that may start an HTTP/1.x request.
#[derive(Debug, PartialEq, Eq)]
pub enum HttpScan<'a> {
    /// Not the start of an HTTP/1.x request.
    NotHttp,
    /// Plausible request line, header block not complete yet.
    NeedMore,
    /// A complete request head of `head_len` bytes (through the blank line).
    /// `host` is the CONNECT authority or the Host header value, with any
    /// `:port` removed (IPv6 literals keep their brackets stripped).
    Request {
        method: &'a [u8],
        host: Option<&'a [u8]>,
        head_len: usize,
    },
}

pub fn scan_request(_buf: &[u8]) -> HttpScan<'_> {
    HttpScan::NotHttp
}
