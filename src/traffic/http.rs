//! HTTP/1.1 request and response heads (RFC 9112 section 3: request line;
//! section 3.2.3/3.2.4: absolute-form for a proxy, authority-form for
//! CONNECT; RFC 9110 section 7.2: Host, section 9.3.6: CONNECT).

/// Appends `METHOD target HTTP/1.1`, a Host header, the `extra` headers and,
/// when `content_length` is set, Content-Length; then the blank line.
pub fn write_request(
    out: &mut Vec<u8>,
    method: &[u8],
    target: &[u8],
    host: &[u8],
    extra: &[(&[u8], &[u8])],
    content_length: Option<usize>,
) {
    out.extend_from_slice(method);
    out.push(b' ');
    out.extend_from_slice(target);
    out.extend_from_slice(b" HTTP/1.1\r\nHost: ");
    out.extend_from_slice(host);
    out.extend_from_slice(b"\r\n");
    for (k, v) in extra {
        out.extend_from_slice(k);
        out.extend_from_slice(b": ");
        out.extend_from_slice(v);
        out.extend_from_slice(b"\r\n");
    }
    if let Some(n) = content_length {
        out.extend_from_slice(format!("Content-Length: {n}\r\n").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends `CONNECT host:port HTTP/1.1` with the same authority in Host.
pub fn write_connect(out: &mut Vec<u8>, host: &[u8], port: u16, user_agent: &[u8]) {
    let mut authority = host.to_vec();
    authority.extend_from_slice(format!(":{port}").as_bytes());
    write_request(
        out,
        b"CONNECT",
        &authority,
        &authority,
        &[
            (b"User-Agent", user_agent),
            (b"Proxy-Connection", b"keep-alive"),
        ],
        None,
    );
}

/// Appends a response head with Content-Length (omitted when `None`).
pub fn write_response(
    out: &mut Vec<u8>,
    status: u16,
    reason: &[u8],
    content_type: Option<&[u8]>,
    content_length: Option<usize>,
) {
    out.extend_from_slice(format!("HTTP/1.1 {status} ").as_bytes());
    out.extend_from_slice(reason);
    out.extend_from_slice(b"\r\n");
    if let Some(ct) = content_type {
        out.extend_from_slice(b"Content-Type: ");
        out.extend_from_slice(ct);
        out.extend_from_slice(b"\r\n");
    }
    if let Some(n) = content_length {
        out.extend_from_slice(format!("Content-Length: {n}\r\n").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_request_bytes() {
        let mut out = Vec::new();
        write_request(
            &mut out,
            b"GET",
            b"/bases/av/kdb/i386/kdb-i386-0607g.xml.dif",
            b"dnl-03.geo.kaspersky.com",
            &[(b"Accept", b"*/*")],
            None,
        );
        assert_eq!(
            out,
            b"GET /bases/av/kdb/i386/kdb-i386-0607g.xml.dif HTTP/1.1\r\nHost: dnl-03.geo.kaspersky.com\r\nAccept: */*\r\n\r\n"
        );
    }

    #[test]
    fn connect_uses_authority_form() {
        let mut out = Vec::new();
        write_connect(&mut out, b"dc1.ksn.kaspersky-labs.com", 443, b"ua");
        assert!(out.starts_with(b"CONNECT dc1.ksn.kaspersky-labs.com:443 HTTP/1.1\r\nHost: dc1.ksn.kaspersky-labs.com:443\r\n"));
        assert!(out.ends_with(b"\r\n\r\n"));
    }

    #[test]
    fn post_and_response_heads() {
        let mut out = Vec::new();
        write_request(&mut out, b"POST", b"/x", b"h", &[], Some(12));
        assert!(out.ends_with(b"Content-Length: 12\r\n\r\n"));
        let mut r = Vec::new();
        write_response(&mut r, 200, b"Connection established", None, None);
        assert_eq!(r, b"HTTP/1.1 200 Connection established\r\n\r\n");
    }
}
