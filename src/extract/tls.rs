//! TLS ClientHello server_name (RFC 8446 §4.1.2, RFC 6066 §3), recognised by
//! content on any port. TODO(helper): implement.

/// Result of scanning the start of a client→server TCP stream.
#[derive(Debug, PartialEq, Eq)]
pub enum HelloScan<'a> {
    /// The stream does not start with a TLS handshake record.
    NotTls,
    /// Looks like a ClientHello but more bytes are needed.
    NeedMore,
    /// A complete ClientHello. `sni` is the first host_name entry.
    Hello { sni: Option<&'a [u8]>, ech: bool },
    /// A TLS handshake that is not a valid ClientHello.
    Malformed,
}

/// Scan `stream` (the first bytes of the client's stream, in order).
/// Handshake messages fragmented over several TLS records are joined in
/// `scratch`.
pub fn scan_client_hello<'a>(_stream: &'a [u8], _scratch: &'a mut Vec<u8>) -> HelloScan<'a> {
    HelloScan::NotTls
}
