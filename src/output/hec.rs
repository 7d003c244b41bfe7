//! Splunk HTTP Event Collector delivery (`hec+https://HOST:PORT`), over a
//! minimal HTTP/1.1 client (RFC 9112) inside TLS.
//!
//! # Request
//!
//! ```text
//! POST /services/collector/event HTTP/1.1
//! Host: HOST:PORT
//! Authorization: Splunk <token>
//! Content-Type: application/json
//! Content-Length: N
//!
//! {"time":…,"host":…,"source":"phonehome","sourcetype":"phonehome:alert","event":{ECS}}{…}…
//! ```
//!
//! Events are batched: whatever is queued, up to
//! [`limits::HEC_BATCH_EVENTS`] events or [`limits::HEC_BATCH_BYTES`], goes
//! in one request (Splunk's batch format: event objects one after another).
//! The connection is kept alive between requests.
//!
//! # Responses
//!
//! - 200: the batch is acknowledged.
//! - 503 (server busy), 429, any other 5xx, 401/403 (token refused, which
//!   an operator fixes without restarting us) and connection errors: the
//!   batch is retried after reconnecting with backoff, spooled meanwhile if
//!   there is a spool.
//! - Any other status (400 bad request, 413 too large, …): the batch is
//!   refused for good, counted `dropped{rejected}`.
//!
//! Indexer acknowledgement (`useACK`) is not used: 200 means the collector
//! took the batch.
//!
//! # The token
//!
//! Read from `--hec-token-file` or the environment variable
//! [`TOKEN_ENV`], never from the command line (where `ps` shows it). It is
//! held in [`Token`], whose `Debug` prints `<redacted>`, and no error or
//! counter message contains it.

use std::fmt;
use std::fs;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use rustls::ClientConfig;

use super::delivery::{DeliveryError, SendError, Transport};
use super::escape::write_json_str;
use super::json;
use super::policy::{Rollup, write_rollup_json};
use super::syslog::Conn;
use crate::config::limits;
use crate::event::{Event, TsNs};
use crate::inventory::Evidence;

/// The environment variable holding the HEC token when no token file is
/// given.
pub const TOKEN_ENV: &str = "PHONEHOME_HEC_TOKEN";

/// The HEC endpoint for JSON events.
pub const DEFAULT_PATH: &str = "/services/collector/event";

/// A HEC token. Never printed.
#[derive(Clone)]
pub struct Token(String);

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl Token {
    /// Reads the token from `file` (first line, trimmed), or from
    /// [`TOKEN_ENV`] when `file` is `None`. A token must be 1–256 visible
    /// ASCII characters (it goes into an HTTP header).
    pub fn load(file: Option<&Path>) -> Result<Token, DeliveryError> {
        let raw = match file {
            Some(p) => {
                let f = fs::File::open(p).map_err(|e| {
                    DeliveryError::Token(format!("cannot read token file {}: {e}", p.display()))
                })?;
                let mut s = String::new();
                f.take(limits::HEC_MAX_TOKEN_FILE)
                    .read_to_string(&mut s)
                    .map_err(|e| {
                        DeliveryError::Token(format!("cannot read token file {}: {e}", p.display()))
                    })?;
                s
            }
            None => std::env::var(TOKEN_ENV).map_err(|_| {
                DeliveryError::Token(format!(
                    "no token: give --hec-token-file FILE or set {TOKEN_ENV}"
                ))
            })?,
        };
        Token::new(raw.lines().next().unwrap_or("").trim())
    }

    /// Validates a token (see [`Token::load`]).
    pub fn new(t: &str) -> Result<Token, DeliveryError> {
        if t.is_empty() || t.len() > 256 || !t.bytes().all(|b| (33..=126).contains(&b)) {
            return Err(DeliveryError::Token(
                "the token must be one line of 1-256 visible ASCII characters".into(),
            ));
        }
        Ok(Token(t.to_owned()))
    }
}

/// Appends one HEC event envelope: `time` (seconds, packet time), `host`,
/// `source`, `sourcetype` (`phonehome:alert`, `phonehome:rollup`,
/// `phonehome:name`, `phonehome:dns_answer`) and `event` (the ECS object).
pub fn write_envelope(ev: &Event, rollup: Option<&Rollup>, host: &str, out: &mut Vec<u8>) {
    let (ts, kind) = match ev {
        Event::Name(n) if n.rule.is_some() && rollup.is_some() => (n.ts, "rollup"),
        Event::Name(n) if n.rule.is_some() => (n.ts, "alert"),
        Event::Name(n) => (n.ts, "name"),
        Event::DnsAnswer(a) => (a.ts, "dns_answer"),
        Event::FlowStart(f) => (f.ts, "flow_start"),
    };
    write_envelope_head(ts, kind, host, out);
    let start = out.len();
    match (ev, rollup) {
        (Event::Name(n), Some(r)) => write_rollup_json(n, r, out),
        _ => json::write(ev, out),
    }
    if out.len() > start && out.last() == Some(&b'\n') {
        out.pop();
    }
    out.push(b'}');
}

/// Appends a derived alert of the attribution stage (`dns-correlated`,
/// `ksc-port`) as one HEC event envelope: `time` the packet time,
/// `sourcetype` `phonehome:alert` (the record is in dataset
/// `phonehome.alert`; `event.phonehome.channel` tells it apart), `event`
/// the JSON record of `attribution::json::write_evidence`. Nothing for
/// evidence that is not an alert (see `attribution::json::is_alert`).
pub fn write_evidence_envelope(ev: &Evidence, host: &str, out: &mut Vec<u8>) {
    if !crate::attribution::json::is_alert(ev) {
        return;
    }
    write_envelope_head(ev.ts, "alert", host, out);
    crate::attribution::json::write_evidence(ev, out);
    if out.last() == Some(&b'\n') {
        out.pop();
    }
    out.push(b'}');
}

/// `{"time":…,"host":…,"source":"phonehome","sourcetype":"phonehome:KIND","event":`
fn write_envelope_head(ts: TsNs, kind: &str, host: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(
        format!(
            "{{\"time\":{}.{:06},\"host\":",
            ts / 1_000_000_000,
            (ts % 1_000_000_000) / 1_000
        )
        .as_bytes(),
    );
    write_json_str(host.as_bytes(), out);
    out.extend_from_slice(b",\"source\":\"phonehome\",\"sourcetype\":\"phonehome:");
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(b"\",\"event\":");
}

/// HEC over HTTPS with keep-alive.
pub struct HecTransport {
    host: String,
    port: u16,
    path: String,
    token: Token,
    tls: Arc<ClientConfig>,
    conn: Option<Conn>,
    req: Vec<u8>,
}

impl HecTransport {
    pub fn new(host: &str, port: u16, path: &str, token: Token, tls: Arc<ClientConfig>) -> Self {
        HecTransport {
            host: host.to_owned(),
            port,
            path: path.to_owned(),
            token,
            tls,
            conn: None,
            req: Vec::new(),
        }
    }

    fn build_request(&mut self, records: &[Vec<u8>]) {
        let body_len: usize = records.iter().map(Vec::len).sum();
        self.req.clear();
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        self.req.extend_from_slice(
            format!(
                "POST {} HTTP/1.1\r\nHost: {host}:{}\r\nAuthorization: Splunk ",
                self.path, self.port
            )
            .as_bytes(),
        );
        self.req.extend_from_slice(self.token.0.as_bytes());
        self.req.extend_from_slice(
            format!(
                "\r\nContent-Type: application/json\r\nContent-Length: {body_len}\r\nUser-Agent: phonehome/{}\r\n\r\n",
                env!("CARGO_PKG_VERSION")
            )
            .as_bytes(),
        );
        for r in records {
            self.req.extend_from_slice(r);
        }
    }
}

impl Transport for HecTransport {
    fn connect(&mut self) -> Result<(), String> {
        self.conn = Some(Conn::open(&self.host, self.port, Some(&self.tls))?);
        Ok(())
    }

    fn is_connected(&self) -> bool {
        self.conn.is_some()
    }

    fn disconnect(&mut self) {
        if let Some(c) = self.conn.take() {
            c.close();
        }
    }

    fn send(&mut self, records: &[Vec<u8>]) -> (usize, Option<SendError>) {
        // Keep the body under the byte cap: send a prefix that fits (at
        // least one record); the rest goes in the next request.
        let mut n = 0;
        let mut bytes = 0;
        for r in records {
            if n > 0 && bytes + r.len() > limits::HEC_BATCH_BYTES {
                break;
            }
            bytes += r.len();
            n += 1;
        }
        let Some(batch) = records.get(..n).filter(|b| !b.is_empty()) else {
            return (0, None);
        };
        self.build_request(batch);
        let Some(conn) = self.conn.as_mut() else {
            return (0, Some(retry("not connected", false)));
        };
        if !conn.alive() {
            return (0, Some(retry("collector closed the connection", false)));
        }
        if let Err(e) = conn.write_all(&self.req).and_then(|()| conn.flush()) {
            return (0, Some(retry(&format!("HTTP write: {e}"), true)));
        }
        let resp = match read_response(conn) {
            Ok(r) => r,
            Err(e) => return (0, Some(retry(&format!("HTTP response: {e}"), true))),
        };
        if resp.close {
            self.disconnect();
        }
        match resp.status {
            200 => (n, None),
            401 | 403 | 429 | 500..=599 => {
                self.disconnect();
                (
                    0,
                    Some(retry(
                        &format!("HEC answered HTTP {}{}", resp.status, hint(resp.status)),
                        false,
                    )),
                )
            }
            s => (
                0,
                Some(SendError::Reject(format!(
                    "HEC refused a batch of {n}: HTTP {s}"
                ))),
            ),
        }
    }

    fn batch_limit(&self) -> usize {
        limits::HEC_BATCH_EVENTS
    }
}

fn hint(status: u16) -> &'static str {
    match status {
        401 | 403 => " (token refused: check the HEC token and that it is enabled)",
        503 => " (server busy)",
        _ => "",
    }
}

fn retry(reason: &str, maybe_delivered: bool) -> SendError {
    SendError::Retry {
        reason: reason.to_owned(),
        maybe_delivered,
    }
}

/// What we need from an HTTP response.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Response {
    pub status: u16,
    /// The server will close the connection (or we could not tell where
    /// the body ends).
    pub close: bool,
}

/// Reads one response (RFC 9112 §2): the status line, the headers, and
/// the body as framed by `Content-Length` or chunked transfer coding
/// (§7.1), all within [`limits::HEC_MAX_RESPONSE`] bytes.
fn read_response(conn: &mut Conn) -> Result<Response, String> {
    let mut buf = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > limits::HEC_MAX_RESPONSE {
            return Err("response head too long".into());
        }
        let n = conn.read(&mut chunk).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("connection closed before a response".into());
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or(&[]));
    };
    let head = buf.get(..head_end).unwrap_or(&[]);
    let (status, framing, mut close) = parse_head(head)?;
    let mut body: Vec<u8> = buf.get(head_end..).unwrap_or(&[]).to_vec();
    match framing {
        Framing::Length(len) => {
            if len > limits::HEC_MAX_RESPONSE {
                return Err("response body too long".into());
            }
            while body.len() < len {
                let n = conn.read(&mut chunk).map_err(|e| e.to_string())?;
                if n == 0 {
                    return Err("connection closed mid-body".into());
                }
                body.extend_from_slice(chunk.get(..n).unwrap_or(&[]));
            }
        }
        Framing::Chunked => loop {
            if chunked_complete(&body)? {
                break;
            }
            if body.len() > limits::HEC_MAX_RESPONSE {
                return Err("response body too long".into());
            }
            let n = conn.read(&mut chunk).map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("connection closed mid-body".into());
            }
            body.extend_from_slice(chunk.get(..n).unwrap_or(&[]));
        },
        // No framing: the body runs to the end of the connection; we do
        // not need it, only to not reuse the connection.
        Framing::UntilClose => close = true,
    }
    Ok(Response { status, close })
}

#[derive(Debug, PartialEq, Eq)]
enum Framing {
    Length(usize),
    Chunked,
    UntilClose,
}

/// Parses `HTTP/1.x SSS reason` and the headers we need.
fn parse_head(head: &[u8]) -> Result<(u16, Framing, bool), String> {
    let text = std::str::from_utf8(head).map_err(|_| "response head is not text".to_owned())?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    if !version.starts_with("HTTP/1.") {
        return Err("not an HTTP/1.x response".into());
    }
    let status = parts
        .next()
        .and_then(|s| s.parse::<u16>().ok())
        .filter(|s| (100..=599).contains(s))
        .ok_or("bad status line")?;
    let mut framing = if status == 204 || status == 304 {
        Framing::Length(0)
    } else {
        Framing::UntilClose
    };
    let mut close = version == "HTTP/1.0";
    for line in lines {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let v = v.trim();
        if k.eq_ignore_ascii_case("content-length") && framing != Framing::Chunked {
            framing = Framing::Length(v.parse().map_err(|_| "bad Content-Length".to_owned())?);
        } else if k.eq_ignore_ascii_case("transfer-encoding")
            && v.to_ascii_lowercase().contains("chunked")
        {
            framing = Framing::Chunked;
        } else if k.eq_ignore_ascii_case("connection") {
            close = v.eq_ignore_ascii_case("close");
        }
    }
    Ok((status, framing, close))
}

/// True when `body` holds a whole chunked body (RFC 9112 §7.1) up to the
/// last chunk and the end of its (empty) trailer section.
fn chunked_complete(body: &[u8]) -> Result<bool, String> {
    let mut i = 0;
    loop {
        let Some(rest) = body.get(i..) else {
            return Ok(false);
        };
        let Some(eol) = find(rest, b"\r\n") else {
            return Ok(false);
        };
        let size_text = std::str::from_utf8(rest.get(..eol).unwrap_or(&[]))
            .map_err(|_| "bad chunk size".to_owned())?;
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| "bad chunk size".to_owned())?;
        if size > limits::HEC_MAX_RESPONSE {
            return Err("chunk too long".into());
        }
        i += eol + 2;
        if size == 0 {
            // Trailer section: lines up to an empty one.
            let tail = body.get(i..).unwrap_or(&[]);
            return Ok(tail.starts_with(b"\r\n") || find(tail, b"\r\n\r\n").is_some());
        }
        i += size + 2;
        if body.len() < i {
            return Ok(false);
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_is_never_printed() {
        let t = Token::new("11111111-2222-3333-4444-555555555555").expect("valid");
        assert_eq!(format!("{t:?}"), "Token(<redacted>)");
        assert!(Token::new("").is_err());
        assert!(Token::new("a b").is_err());
        assert!(Token::new("a\r\nX-Evil: 1").is_err());
        let e = Token::new("bad token")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(!e.contains("bad token"), "{e}");
    }

    #[test]
    fn token_file_first_line_trimmed() {
        let p = std::env::temp_dir().join(format!("phonehome-hec-token-{}", std::process::id()));
        fs::write(&p, "  abc-123  \nsecond line\n").expect("write");
        let t = Token::load(Some(&p)).expect("load");
        assert_eq!(t.0, "abc-123");
        let _ = fs::remove_file(&p);
        let missing = Token::load(Some(Path::new("/nonexistent/phonehome-token")));
        assert!(missing.is_err());
    }

    #[test]
    fn heads_parse() {
        assert_eq!(
            parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: 27\r\n\r\n"),
            Ok((200, Framing::Length(27), false))
        );
        assert_eq!(
            parse_head(
                b"HTTP/1.1 503 Busy\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            ),
            Ok((503, Framing::Chunked, true))
        );
        assert_eq!(
            parse_head(b"HTTP/1.0 200 OK\r\n\r\n"),
            Ok((200, Framing::UntilClose, true))
        );
        assert!(parse_head(b"SSH-2.0-OpenSSH\r\n\r\n").is_err());
        assert!(parse_head(b"HTTP/1.1 abc OK\r\n\r\n").is_err());
        assert!(parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n").is_err());
    }

    #[test]
    fn chunked_bodies_are_complete_only_at_the_last_chunk() {
        assert_eq!(chunked_complete(b"5\r\nhello\r\n0\r\n\r\n"), Ok(true));
        assert_eq!(chunked_complete(b"5\r\nhello\r\n"), Ok(false));
        assert_eq!(chunked_complete(b"5\r\nhel"), Ok(false));
        assert_eq!(chunked_complete(b"0\r\nX-T: 1\r\n\r\n"), Ok(true));
        assert!(chunked_complete(b"zz\r\n").is_err());
        assert!(chunked_complete(b"fffffffffff\r\n").is_err());
    }

    #[test]
    fn derived_alert_envelope_carries_the_file_record() {
        use crate::output::testdata;
        for ev in [
            testdata::dns_correlated(b"a\n\"b.kaspersky-labs.com", b"o\\", "k-1"),
            testdata::ksc_server(),
        ] {
            let mut out = Vec::new();
            write_evidence_envelope(&ev, "sensor-1", &mut out);
            assert!(!out.contains(&b'\n'));
            let v: serde_json::Value = serde_json::from_slice(&out).expect("JSON");
            assert_eq!(v["time"].as_f64(), Some(1_741_593_870.123_456));
            assert_eq!(v["host"], "sensor-1");
            assert_eq!(v["source"], "phonehome");
            assert_eq!(v["sourcetype"], "phonehome:alert");
            let mut file = Vec::new();
            crate::attribution::json::write_evidence(&ev, &mut file);
            let file: serde_json::Value = serde_json::from_slice(&file).expect("JSON line");
            assert_eq!(v["event"], file);
        }
        let mut out = Vec::new();
        write_evidence_envelope(&testdata::prefix(), "h", &mut out);
        assert!(out.is_empty(), "prefix evidence is not an alert");
    }

    #[test]
    fn envelope_is_one_json_object_with_the_ecs_event() {
        use std::net::{IpAddr, Ipv4Addr};
        let ev = Event::Name(crate::event::NameEvent {
            ts: 1_727_784_000_123_456_789,
            packet: 1,
            protocol: crate::event::Protocol::Tls,
            endpoints: crate::event::Endpoints {
                transport: crate::event::Transport::Tcp,
                src_ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
                src_port: 1,
                dst_ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
                dst_port: 443,
                src_mac: None,
                vlan: None,
            },
            name: (*b"x\n\"y").into(),
            detail: crate::event::NameDetail::Tls { ech: false },
            rule: None,
        });
        let mut out = Vec::new();
        write_envelope(&ev, None, "sensor\"1", &mut out);
        let v: serde_json::Value = serde_json::from_slice(&out).expect("JSON");
        assert_eq!(v["time"].as_f64(), Some(1_727_784_000.123_456));
        assert_eq!(v["host"], "sensor\"1");
        assert_eq!(v["sourcetype"], "phonehome:name");
        assert_eq!(v["event"]["tls"]["client"]["server_name"], "x\\x0a\"y");
        assert!(!out.contains(&b'\n'));
    }
}
