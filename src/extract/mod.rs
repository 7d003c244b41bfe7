//! Stateless parsers that borrow the payload: DNS messages, TLS
//! ClientHellos, HTTP/1.x request heads. None allocates in steady state:
//! callers own the scratch buffers.

pub mod dns;
pub mod http;
pub mod tls;
