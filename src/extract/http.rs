//! HTTP/1.x request heads: the name a client asks for, from the Host header
//! or from the request-target.
//!
//! RFC 9112 §2.1 / §3 / §5:
//!
//! ```text
//! request-line = method SP request-target SP HTTP-version CRLF
//! HTTP-version = "HTTP/" DIGIT "." DIGIT          -- only 1.x here
//! field-line   = field-name ":" OWS field-value OWS CRLF
//! head         = request-line *( field-line ) CRLF
//! ```
//!
//! # Decisions
//!
//! - Methods: the RFC 9110 §9 methods plus PATCH (RFC 5789) are recognised
//!   from their first bytes, so a stream that starts `GE` is `NeedMore`.
//!   Any other token method (WebDAV's `PROPFIND`, ...) of at most
//!   [`HTTP_MAX_METHOD_LEN`] bytes is accepted only when the whole request
//!   line, ending in `HTTP/1.x`, is already in the buffer; otherwise the
//!   stream is `NotHttp`. This keeps arbitrary text protocols from being
//!   buffered as "maybe HTTP". Methods are case-sensitive (RFC 9110 §9.1).
//! - Line ends: CRLF or bare LF (RFC 9112 §2.2 allows recipients to accept
//!   LF). Between the request-line parts, runs of SP/HTAB are accepted
//!   (RFC 9112 §3).
//! - Which name wins: for `CONNECT` the authority-form target
//!   (`CONNECT host:443`, RFC 9112 §3.2.3), which is all a client behind an
//!   explicit proxy reveals; for an absolute-form target
//!   (`GET http://host/...`) the URI's host, because RFC 9112 §3.2.2 makes
//!   the recipient ignore Host then, and a proxy connects to the URI's
//!   host; otherwise the first Host header. With duplicate Host headers
//!   the first counts and `duplicate_host` is set (RFC 9112 §3.2 says such
//!   a request must be rejected: it is a smuggling or evasion signal).
//! - Host value: it ends at the first NUL byte, as C-based servers and
//!   proxies read it (tshark cuts it there too), so `Host: a.example\0junk`
//!   is `a.example` and `nul_in_host` is set (RFC 9110 §5.5 forbids NUL in
//!   a field value: a smuggling or evasion signal). Then OWS trimmed, a
//!   `:port` suffix removed, IPv6 brackets removed (`[::1]:80` → `::1`),
//!   userinfo (`user@`) removed from URI authorities. An empty result is no
//!   host. The bytes are otherwise raw and attacker-controlled (other
//!   control bytes are kept).
//! - A field with whitespace before the colon is not a Host header (RFC
//!   9112 §5.1 requires rejecting it). Obsolete line folding (a line that
//!   starts with SP/HTAB) continues the previous field and is ignored.
//! - The head is bounded by [`HTTP_MAX_HEAD_LEN`]. A longer head with a
//!   name already found (in the target or in a complete Host line) is
//!   reported as a `Request` with `complete: false`; without one it is
//!   `TooLong`.

use crate::config::limits::{HTTP_MAX_HEAD_LEN, HTTP_MAX_METHOD_LEN};

/// Result of scanning bytes that may start an HTTP/1.x request.
#[derive(Debug, PartialEq, Eq)]
pub enum HttpScan<'a> {
    /// Not the start of an HTTP/1.x request.
    NotHttp,
    /// Plausible request so far, head not complete yet.
    NeedMore,
    /// A request head. `host` is the CONNECT authority, the absolute URI's
    /// host or the Host header value (see the module doc), with any `:port`
    /// removed (IPv6 literals keep their brackets stripped).
    Request {
        method: &'a [u8],
        host: Option<&'a [u8]>,
        /// Bytes through the blank line ending the head when `complete`;
        /// otherwise through the last complete field line before the
        /// [`HTTP_MAX_HEAD_LEN`] limit.
        head_len: usize,
        /// False when the head was cut at [`HTTP_MAX_HEAD_LEN`].
        complete: bool,
        /// More than one Host header field was present.
        duplicate_host: bool,
        /// The (first) Host header value held a NUL byte and was cut there
        /// (module doc).
        nul_in_host: bool,
    },
    /// A request line was recognised but no name was found before
    /// [`HTTP_MAX_HEAD_LEN`] bytes without the head ending (`too_long`).
    TooLong { method: &'a [u8] },
}

/// Methods recognised from a prefix: RFC 9110 §9.3 and RFC 5789 (PATCH).
const KNOWN_METHODS: [&[u8]; 9] = [
    b"GET", b"POST", b"HEAD", b"PUT", b"DELETE", b"OPTIONS", b"PATCH", b"CONNECT", b"TRACE",
];

fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// tchar (RFC 9110 §5.6.2).
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Bytes that never occur in a request line or field line (controls other
/// than HTAB and the CR of a line end).
fn is_bad_line_byte(b: u8) -> bool {
    (b < 0x20 && b != b'\t' && b != b'\r') || b == 0x7f
}

fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if !is_ows(*first) {
            break;
        }
        s = rest;
    }
    while let [rest @ .., last] = s {
        if !is_ows(*last) {
            break;
        }
        s = rest;
    }
    s
}

/// Split the line starting at `start`: returns (line without CR/LF, index
/// after the LF), or `None` when no LF is in `buf[start..]`.
fn line_at(buf: &[u8], start: usize) -> Option<(&[u8], usize)> {
    let rest = buf.get(start..)?;
    let lf = rest.iter().position(|&b| b == b'\n')?;
    let line = rest.get(..lf)?;
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    Some((line, start + lf + 1))
}

/// Remove `:port` and IPv6 brackets from an authority's host part; `None`
/// when nothing is left (RFC 3986 §3.2.2, §3.2.3).
fn strip_port(host: &[u8]) -> Option<&[u8]> {
    let host = trim_ows(host);
    let host = if let Some(inner) = host.strip_prefix(b"[") {
        match inner.iter().position(|&b| b == b']') {
            Some(end) => inner.get(..end).unwrap_or_default(),
            None => host,
        }
    } else {
        let mut colons = host.iter().enumerate().filter(|&(_, &b)| b == b':');
        match (colons.next(), colons.next()) {
            (Some((i, _)), None) => host.get(..i).unwrap_or_default(),
            // No port, or an unbracketed IPv6 literal: keep as is.
            _ => host,
        }
    };
    (!host.is_empty()).then_some(host)
}

/// Host of an authority (RFC 3986 §3.2): userinfo and port removed.
fn authority_host(authority: &[u8]) -> Option<&[u8]> {
    let after_userinfo = match authority.iter().rposition(|&b| b == b'@') {
        Some(at) => authority.get(at + 1..).unwrap_or_default(),
        None => authority,
    };
    strip_port(after_userinfo)
}

/// Host of an absolute-form request-target (RFC 9112 §3.2.2, RFC 3986 §3:
/// `scheme "://" authority path-abempty [ "?" query ]`), or `None` when the
/// target is not in absolute form.
fn absolute_uri_host(target: &[u8]) -> Option<&[u8]> {
    let sep = target.windows(3).position(|w| w == b"://")?;
    let scheme = target.get(..sep)?;
    let (first, rest) = scheme.split_first()?;
    if !first.is_ascii_alphabetic()
        || !rest
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-' || b == b'.')
    {
        return None;
    }
    let after = target.get(sep + 3..)?;
    let end = after
        .iter()
        .position(|&b| b == b'/' || b == b'?' || b == b'#')
        .unwrap_or(after.len());
    authority_host(after.get(..end)?)
}

/// How the buffer starts, as far as the method goes.
enum MethodStart {
    /// `method SP` with a method from [`KNOWN_METHODS`].
    Known,
    /// A prefix of a known method followed by SP; more bytes needed.
    Partial,
    /// `token SP` with some other token.
    Other,
    /// Not a method.
    No,
}

fn method_start(buf: &[u8]) -> MethodStart {
    for m in KNOWN_METHODS {
        if let Some(rest) = buf.strip_prefix(m) {
            match rest.first() {
                Some(b) if is_ows(*b) => return MethodStart::Known,
                None => return MethodStart::Partial,
                Some(_) => {}
            }
        } else if m.starts_with(buf) {
            return MethodStart::Partial;
        }
    }
    let len = buf.iter().take_while(|&&b| is_tchar(b)).count();
    match buf.get(len) {
        Some(b) if is_ows(*b) && len > 0 && len <= HTTP_MAX_METHOD_LEN => MethodStart::Other,
        _ => MethodStart::No,
    }
}

/// Parse a complete request line (without its line end) into method and
/// request-target, or `None` when it is not `method SP target SP HTTP/1.x`.
fn request_line(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut parts = line.split(|&b| is_ows(b)).filter(|p| !p.is_empty());
    let method = parts.next()?;
    let target = parts.next()?;
    let version = parts.next()?;
    if parts.next().is_some() {
        return None;
    }
    let &[b'H', b'T', b'T', b'P', b'/', b'1', b'.', minor] = version else {
        return None;
    };
    if !minor.is_ascii_digit() || line.iter().any(|&b| is_bad_line_byte(b)) {
        return None;
    }
    Some((method, target))
}

/// Scan `buf` (the first bytes of a client→server stream, or of the next
/// request on a persistent connection) for an HTTP/1.x request head. Looks
/// at no more than [`HTTP_MAX_HEAD_LEN`] bytes and allocates nothing.
pub fn scan_request(buf: &[u8]) -> HttpScan<'_> {
    if buf.is_empty() {
        return HttpScan::NeedMore;
    }
    let known = match method_start(buf) {
        MethodStart::No => return HttpScan::NotHttp,
        MethodStart::Partial => return HttpScan::NeedMore,
        MethodStart::Known => true,
        MethodStart::Other => false,
    };
    let window = buf.get(..HTTP_MAX_HEAD_LEN).unwrap_or(buf);
    let at_limit = buf.len() >= HTTP_MAX_HEAD_LEN;

    let Some((line, mut pos)) = line_at(window, 0) else {
        if !known || window.iter().any(|&b| is_bad_line_byte(b)) {
            return HttpScan::NotHttp;
        }
        if at_limit {
            let method = window.split(|&b| is_ows(b)).next().unwrap_or_default();
            return HttpScan::TooLong { method };
        }
        return HttpScan::NeedMore;
    };
    let Some((method, target)) = request_line(line) else {
        return HttpScan::NotHttp;
    };

    let target_host = if method == b"CONNECT" {
        // authority-form only; anything else falls back to Host.
        let is_authority = !target.iter().any(|&b| matches!(b, b'/' | b'?' | b'#'));
        is_authority.then(|| authority_host(target)).flatten()
    } else {
        absolute_uri_host(target)
    };
    let mut header_host: Option<Option<&[u8]>> = None;
    let mut duplicate_host = false;
    let mut nul_in_host = false;

    loop {
        let Some((field, next)) = line_at(window, pos) else {
            // No blank line yet.
            let host = target_host.or(header_host.flatten());
            if !at_limit {
                return HttpScan::NeedMore;
            }
            return match host {
                Some(host) => HttpScan::Request {
                    method,
                    host: Some(host),
                    head_len: pos,
                    complete: false,
                    duplicate_host,
                    nul_in_host,
                },
                None => HttpScan::TooLong { method },
            };
        };
        pos = next;
        if field.is_empty() {
            break;
        }
        if field.first().is_some_and(|&b| is_ows(b)) {
            continue; // obs-fold continuation (RFC 9112 §5.2)
        }
        let Some(colon) = field.iter().position(|&b| b == b':') else {
            continue; // not a field line; tolerated
        };
        let (name, value) = field.split_at(colon);
        if name.eq_ignore_ascii_case(b"host") {
            let value = value.get(1..).unwrap_or_default();
            if header_host.is_none() {
                // The value ends at a NUL, as a C string (module doc).
                let value = match value.iter().position(|&b| b == 0) {
                    Some(nul) => {
                        nul_in_host = true;
                        value.get(..nul).unwrap_or_default()
                    }
                    None => value,
                };
                header_host = Some(strip_port(value));
            } else {
                duplicate_host = true;
            }
        }
    }
    HttpScan::Request {
        method,
        host: target_host.or(header_host.flatten()),
        head_len: pos,
        complete: true,
        duplicate_host,
        nul_in_host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req<'a>(method: &'a [u8], host: Option<&'a [u8]>, head_len: usize) -> HttpScan<'a> {
        HttpScan::Request {
            method,
            host,
            head_len,
            complete: true,
            duplicate_host: false,
            nul_in_host: false,
        }
    }

    fn host_of(buf: &[u8]) -> Option<&[u8]> {
        match scan_request(buf) {
            HttpScan::Request { host, .. } => host,
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(buf)),
        }
    }

    #[test]
    fn simple_get() {
        let r = b"GET /update/x HTTP/1.1\r\n\
                  User-Agent: t\r\n\
                  Host: dnl-01.geo.Kaspersky.com\r\n\
                  \r\n\
                  body";
        assert_eq!(
            scan_request(r),
            req(b"GET", Some(b"dnl-01.geo.Kaspersky.com"), r.len() - 4)
        );
    }

    #[test]
    fn host_name_is_case_insensitive_and_value_trimmed_and_port_stripped() {
        assert_eq!(
            host_of(b"GET / HTTP/1.1\r\nhOsT: \t a.example:8080 \t\r\n\r\n"),
            Some(&b"a.example"[..])
        );
        assert_eq!(
            host_of(b"GET / HTTP/1.0\r\nHOST:b.example\r\n\r\n"),
            Some(&b"b.example"[..])
        );
    }

    #[test]
    fn ipv6_literal_loses_brackets_and_port() {
        assert_eq!(
            host_of(b"GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n"),
            Some(&b"::1"[..])
        );
        assert_eq!(
            host_of(b"GET / HTTP/1.1\r\nHost: [2001:db8::2]\r\n\r\n"),
            Some(&b"2001:db8::2"[..])
        );
        // Unbracketed IPv6 is invalid; kept whole rather than cut.
        assert_eq!(
            host_of(b"GET / HTTP/1.1\r\nHost: 2001:db8::2\r\n\r\n"),
            Some(&b"2001:db8::2"[..])
        );
    }

    #[test]
    fn bare_lf_line_ends() {
        let r = b"GET / HTTP/1.1\nHost: lf.example\n\n";
        assert_eq!(scan_request(r), req(b"GET", Some(b"lf.example"), r.len()));
    }

    #[test]
    fn duplicate_host_first_wins_and_is_flagged() {
        let r = b"GET / HTTP/1.1\r\nHost: first.example\r\nHost: second.example\r\n\r\n";
        assert_eq!(
            scan_request(r),
            HttpScan::Request {
                method: b"GET",
                host: Some(b"first.example"),
                head_len: r.len(),
                complete: true,
                duplicate_host: true,
                nul_in_host: false,
            }
        );
    }

    #[test]
    fn connect_authority_wins() {
        let r = b"CONNECT ksn.kaspersky-labs.com:443 HTTP/1.1\r\nHost: proxy.local\r\n\r\n";
        assert_eq!(
            scan_request(r),
            req(b"CONNECT", Some(b"ksn.kaspersky-labs.com"), r.len())
        );
        assert_eq!(
            host_of(b"CONNECT [2001:db8::1]:443 HTTP/1.1\r\n\r\n"),
            Some(&b"2001:db8::1"[..])
        );
    }

    #[test]
    fn absolute_form_target_host_wins() {
        assert_eq!(
            host_of(b"GET http://user:pw@abs.example:8080/p?q HTTP/1.1\r\n\r\n"),
            Some(&b"abs.example"[..])
        );
        // RFC 9112 §3.2.2: the URI's host, not the Host header.
        assert_eq!(
            host_of(b"GET HTTP://abs.example HTTP/1.1\r\nHost: other.example\r\n\r\n"),
            Some(&b"abs.example"[..])
        );
        // Origin-form whose query holds "://" is not absolute-form.
        assert_eq!(
            host_of(b"GET /r?u=http://x.example/ HTTP/1.1\r\nHost: h.example\r\n\r\n"),
            Some(&b"h.example"[..])
        );
    }

    #[test]
    fn no_host_and_empty_host() {
        assert_eq!(host_of(b"GET / HTTP/1.0\r\n\r\n"), None);
        assert_eq!(host_of(b"GET / HTTP/1.1\r\nHost:\r\n\r\n"), None);
        assert_eq!(host_of(b"GET / HTTP/1.1\r\nHost: :80\r\n\r\n"), None);
    }

    #[test]
    fn whitespace_before_colon_and_folded_lines_are_not_host() {
        assert_eq!(
            host_of(b"GET / HTTP/1.1\r\nHost : evil.example\r\n\r\n"),
            None
        );
        assert_eq!(
            host_of(
                b"GET / HTTP/1.1\r\nX-A: 1\r\n Host: fold.example\r\nHost: real.example\r\n\r\n"
            ),
            Some(&b"real.example"[..])
        );
        assert_eq!(
            host_of(b"GET / HTTP/1.1\r\nX-Host: no.example\r\nHost: yes.example\r\n\r\n"),
            Some(&b"yes.example"[..])
        );
    }

    #[test]
    fn every_known_method_and_other_tokens() {
        for m in KNOWN_METHODS {
            let mut r = m.to_vec();
            r.extend_from_slice(b" / HTTP/1.1\r\nHost: m.example\r\n\r\n");
            assert_eq!(host_of(&r), Some(&b"m.example"[..]), "{m:?}");
        }
        assert_eq!(
            scan_request(b"PROPFIND /d HTTP/1.1\r\nHost: dav.example\r\n\r\n"),
            req(b"PROPFIND", Some(b"dav.example"), 43)
        );
        // An unknown method without its whole request line is not HTTP.
        assert_eq!(scan_request(b"PROPFIND /d HTTP/1"), HttpScan::NotHttp);
        // Methods are case-sensitive: "get" is an unknown token method.
        assert_eq!(scan_request(b"get / HTTP/1.1"), HttpScan::NotHttp);
    }

    #[test]
    fn partial_requests_need_more() {
        let full = b"GET /a HTTP/1.1\r\nHost: p.example\r\n\r\n";
        for cut in 0..full.len() {
            assert_eq!(scan_request(&full[..cut]), HttpScan::NeedMore, "cut {cut}");
        }
        assert_eq!(host_of(full), Some(&b"p.example"[..]));
    }

    #[test]
    fn not_http() {
        for s in [
            &b"\x16\x03\x01\x02\x00\x01"[..],
            b"SSH-2.0-OpenSSH_9.6\r\n",
            b"GET / HTTP/2.0\r\n\r\n",
            b"GET /\r\n", // HTTP/0.9
            b"GET / HTTP/1.1 extra\r\n\r\n",
            b"GET /\x00 HTTP/1.1\r\n\r\n",
            b"GET /\x01",
            b"GETX",
            b" GET / HTTP/1.1\r\n\r\n",
            b"AVERYLONGMETHODNAMETHATISNOTHTTP / HTTP/1.1\r\n\r\n",
        ] {
            assert_eq!(
                scan_request(s),
                HttpScan::NotHttp,
                "{:?}",
                String::from_utf8_lossy(s)
            );
        }
    }

    #[test]
    fn head_limit_with_host_reports_a_cut_request() {
        let mut r = b"GET / HTTP/1.1\r\nHost: big.example\r\n".to_vec();
        let before_filler = r.len();
        while r.len() < HTTP_MAX_HEAD_LEN + 100 {
            r.extend_from_slice(b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
        }
        let HttpScan::Request {
            method,
            host,
            head_len,
            complete,
            duplicate_host,
            ..
        } = scan_request(&r)
        else {
            panic!("{:?}", scan_request(&r));
        };
        assert_eq!(
            (method, host, complete, duplicate_host),
            (&b"GET"[..], Some(&b"big.example"[..]), false, false)
        );
        assert!(
            head_len > before_filler && head_len <= HTTP_MAX_HEAD_LEN,
            "{head_len}"
        );
        // Below the limit the same bytes are still NeedMore.
        assert_eq!(
            scan_request(&r[..HTTP_MAX_HEAD_LEN - 1]),
            HttpScan::NeedMore
        );
    }

    #[test]
    fn head_limit_without_host_is_too_long() {
        let mut r = b"GET / HTTP/1.1\r\n".to_vec();
        while r.len() < HTTP_MAX_HEAD_LEN {
            r.extend_from_slice(b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
        }
        r.extend_from_slice(b"Host: late.example\r\n\r\n");
        assert_eq!(scan_request(&r), HttpScan::TooLong { method: b"GET" });
        // A request line longer than the limit.
        let mut long = b"GET /".to_vec();
        long.resize(HTTP_MAX_HEAD_LEN + 1, b'a');
        assert_eq!(scan_request(&long), HttpScan::TooLong { method: b"GET" });
        // A CONNECT needs no Host line: its cut head is still a request.
        let mut c = b"CONNECT c.example:443 HTTP/1.1\r\n".to_vec();
        c.resize(HTTP_MAX_HEAD_LEN, b'a');
        assert!(matches!(
            scan_request(&c),
            HttpScan::Request {
                host: Some(b"c.example"),
                complete: false,
                ..
            }
        ));
    }

    #[test]
    fn host_value_ends_at_nul() {
        // ndpi__fuzz-2006-09-29-28586.pcap frame 20; tshark reads `%s`.
        let r = b"GET / HTTP/1.1\r\nHost:%s\x002.20.3.5\r\nAccept: */*\r\n\r\n";
        assert_eq!(
            scan_request(r),
            HttpScan::Request {
                method: b"GET",
                host: Some(b"%s"),
                head_len: r.len(),
                complete: true,
                duplicate_host: false,
                nul_in_host: true,
            }
        );
        // Trimmed and port-stripped after the cut.
        assert_eq!(
            host_of(b"GET / HTTP/1.1\r\nHost: a.example:8080 \x00b.example\r\n\r\n"),
            Some(&b"a.example"[..])
        );
        // A NUL first leaves no host; a later Host header does not stand in.
        assert_eq!(
            host_of(b"GET / HTTP/1.1\r\nHost: \x00x.example\r\nHost: y.example\r\n\r\n"),
            None
        );
        // Only the Host value is cut: a NUL in another field is ignored, and
        // the absolute-form target still wins.
        assert_eq!(
            scan_request(b"GET / HTTP/1.1\r\nX-A: \x00\r\nHost: h.example\r\n\r\n"),
            req(b"GET", Some(b"h.example"), 43)
        );
        assert_eq!(
            host_of(b"GET http://abs.example/ HTTP/1.1\r\nHost: \x00\r\n\r\n"),
            Some(&b"abs.example"[..])
        );
        // A cut head keeps the flag.
        let mut long = b"GET / HTTP/1.1\r\nHost: n.example\x00z\r\n".to_vec();
        while long.len() < HTTP_MAX_HEAD_LEN + 10 {
            long.extend_from_slice(b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
        }
        assert!(matches!(
            scan_request(&long),
            HttpScan::Request {
                host: Some(b"n.example"),
                complete: false,
                nul_in_host: true,
                ..
            }
        ));
    }

    #[test]
    fn pipelined_requests_scan_one_at_a_time() {
        let r = b"GET /1 HTTP/1.1\r\nHost: one.example\r\n\r\nGET /2 HTTP/1.1\r\nHost: two.example\r\n\r\n";
        let HttpScan::Request { head_len, .. } = scan_request(r) else {
            panic!()
        };
        assert_eq!(host_of(&r[head_len..]), Some(&b"two.example"[..]));
    }
}
