//! Syslog delivery: RFC 5424 messages over UDP (RFC 5426), TCP with
//! octet-counting framing (RFC 6587 §3.4.1) and TLS (RFC 5425).
//!
//! # Message (RFC 5424 §6)
//!
//! ```text
//! <PRI>1 TIMESTAMP HOSTNAME phonehome PROCID MSGID [phonehome@32473 …] BODY
//! ```
//!
//! - PRI = facility × 8 + severity; severity from the rule's confidence:
//!   high → 4 (warning), medium → 5 (notice), low → 6 (informational);
//!   unmatched names 6, DNS answers 7 (debug).
//! - TIMESTAMP is packet time, RFC 3339 UTC with microseconds (§6.2.3).
//! - MSGID: `alert` (also the derived alerts of the attribution stage),
//!   `rollup`, `name` or `dns_answer`.
//! - Structured data (§6.3), SD-ID `phonehome@32473` (32473 is the example
//!   enterprise number of RFC 5612; the SD-ID is a fixed label SIEM rules
//!   can match): `rule`, `ruleset`, `confidence` (alerts), `src` (client
//!   address), `proto`, `name` (name-escaped), and for roll-ups `count`,
//!   `first`, `last`, `since`. Values escape `"`, `\` and `]` with `\`
//!   (§6.3.3) on top of the name escaping. DNS answers carry `-`.
//!   Derived alerts carry `rule`, `ruleset`, `confidence`, `channel`,
//!   `host`, `src`, then `name` or `role` and `peer`
//!   ([`Header::write_evidence_message`]).
//! - BODY: the ECS JSON line without its newline (`--syslog-format json`)
//!   or a CEF record (`cef`). No BOM: the body is ASCII (§6.4).
//!
//! Guarantees: a message is printable ASCII with no line break, so a
//! crafted name can neither end the message nor add a field; a message
//! over [`limits::SYSLOG_MAX_MESSAGE`] is dropped (counted `too_large`)
//! rather than truncated mid-field.
//!
//! # Delivery guarantees
//!
//! TCP and TLS: before each batch the sender checks that the collector
//! has not closed the connection (an rsyslog restart closes it), so a
//! stopped collector is noticed before a record is written into a dead
//! socket. A record whose write fails is sent again after reconnecting and
//! counted `resent`. UDP gives no delivery guarantee: a datagram to a
//! stopped collector is lost, and only the ICMP error that comes back
//! (seen on the next send) makes the sender back off.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};

use super::delivery::{SendError, SyslogFormat, Transport};
use super::escape::passes_through;
use super::policy::Rollup;
use super::time::write_rfc3339;
use super::{cef, json};
use crate::config::limits;
use crate::event::{Event, NameEvent, TsNs};
use crate::inventory::{Evidence, EvidenceKind};
use crate::signatures::Confidence;

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The SD-ID of phonehome's structured data element.
pub const SD_ID: &str = "phonehome@32473";

/// The fixed parts of every message of one sink.
#[derive(Clone, Debug)]
pub struct Header {
    facility: u8,
    hostname: String,
    procid: String,
}

impl Header {
    /// `facility` 0..=23 (larger values are taken modulo 24); `hostname`
    /// `None` reads the kernel's host name. A host name that is not 1–255
    /// printable ASCII characters is written `-` (RFC 5424 §6.2.4).
    pub fn new(facility: u8, hostname: Option<&str>) -> Header {
        let h = match hostname {
            Some(h) => h.to_owned(),
            None => std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|s| s.trim().to_owned())
                .unwrap_or_default(),
        };
        let valid = !h.is_empty() && h.len() <= 255 && h.bytes().all(|b| (33..=126).contains(&b));
        Header {
            facility: facility % 24,
            hostname: if valid { h } else { "-".into() },
            procid: std::process::id().to_string(),
        }
    }

    pub fn hostname(&self) -> &str {
        &self.hostname
    }

    /// Appends one RFC 5424 message (no framing, no line break).
    pub fn write_message(
        &self,
        ev: &Event,
        rollup: Option<&Rollup>,
        body: SyslogFormat,
        out: &mut Vec<u8>,
    ) {
        let (severity, msgid, ts) = match ev {
            Event::Name(n) => match &n.rule {
                Some(r) => (
                    severity(r.confidence),
                    if rollup.is_some() { "rollup" } else { "alert" },
                    n.ts,
                ),
                None => (6, "name", n.ts),
            },
            Event::DnsAnswer(a) => (7, "dns_answer", a.ts),
            Event::FlowStart(f) => (7, "flow_start", f.ts),
        };
        self.write_head(severity, ts, msgid, out);
        match ev {
            Event::Name(n) => write_sd(n, rollup, out),
            Event::DnsAnswer(_) | Event::FlowStart(_) => out.push(b'-'),
        }
        out.push(b' ');
        match body {
            SyslogFormat::Json => {
                let start = out.len();
                match (ev, rollup) {
                    (Event::Name(n), Some(r)) => super::policy::write_rollup_json(n, r, out),
                    _ => json::write(ev, out),
                }
                if out.len() > start && out.last() == Some(&b'\n') {
                    out.pop();
                }
            }
            SyslogFormat::Cef => cef::write(ev, rollup, out),
        }
    }

    /// Appends a derived alert of the attribution stage as one RFC 5424
    /// message (no framing, no line break); nothing for evidence that is
    /// not an alert (see `attribution::json::is_alert`). MSGID `alert`,
    /// severity from the evidence's confidence, TIMESTAMP its packet time;
    /// structured data `rule`, `ruleset` (dns-correlated), `confidence`,
    /// `channel`, `host` (the home host the evidence is about), `src` (the
    /// flow's initiator), then `name` (dns-correlated: the answer's question
    /// name) or `role` and `peer` (ksc-port). BODY: the JSON line of
    /// `attribution::json::write_evidence` without its newline, or the CEF
    /// record of [`cef::write_evidence`].
    pub fn write_evidence_message(&self, ev: &Evidence, body: SyslogFormat, out: &mut Vec<u8>) {
        let Some((ep, rule_id, confidence)) = ev.alert_parts() else {
            return;
        };
        self.write_head(severity(confidence), ev.ts, "alert", out);
        out.push(b'[');
        out.extend_from_slice(SD_ID.as_bytes());
        sd_param("rule", rule_id.as_bytes(), out);
        if let EvidenceKind::DnsCorrelated { rule, .. } = &ev.kind {
            sd_param("ruleset", rule.vendor.as_bytes(), out);
        }
        sd_param("confidence", confidence.as_str().as_bytes(), out);
        sd_param("channel", ev.channel().as_str().as_bytes(), out);
        sd_param("host", ev.host.to_string().as_bytes(), out);
        sd_param("src", ep.src_ip.to_string().as_bytes(), out);
        match &ev.kind {
            EvidenceKind::DnsCorrelated { name, .. } => sd_param("name", name, out),
            EvidenceKind::KscPort { role, peer, .. } => {
                sd_param("role", role.as_str().as_bytes(), out);
                sd_param("peer", peer.ip.to_string().as_bytes(), out);
            }
            EvidenceKind::Prefix { .. } => {}
        }
        out.extend_from_slice(b"] ");
        match body {
            SyslogFormat::Json => {
                crate::attribution::json::write_evidence(ev, out);
                if out.last() == Some(&b'\n') {
                    out.pop();
                }
            }
            SyslogFormat::Cef => cef::write_evidence(ev, out),
        }
    }

    /// `<PRI>1 TIMESTAMP HOSTNAME phonehome PROCID MSGID ` (the structured
    /// data and the body follow).
    fn write_head(&self, severity: u8, ts: TsNs, msgid: &str, out: &mut Vec<u8>) {
        let pri = u16::from(self.facility) * 8 + u16::from(severity);
        out.extend_from_slice(format!("<{pri}>1 ").as_bytes());
        write_rfc3339(ts, out);
        out.push(b' ');
        out.extend_from_slice(self.hostname.as_bytes());
        out.extend_from_slice(b" phonehome ");
        out.extend_from_slice(self.procid.as_bytes());
        out.push(b' ');
        out.extend_from_slice(msgid.as_bytes());
        out.push(b' ');
    }
}

/// Syslog severity (RFC 5424 §6.2.1) of an alert.
pub fn severity(c: Confidence) -> u8 {
    match c {
        Confidence::High => 4,
        Confidence::Medium => 5,
        Confidence::Low => 6,
    }
}

/// `[phonehome@32473 k="v" …]`
fn write_sd(n: &NameEvent, rollup: Option<&Rollup>, out: &mut Vec<u8>) {
    out.push(b'[');
    out.extend_from_slice(SD_ID.as_bytes());
    if let Some(r) = &n.rule {
        sd_param("rule", r.id.as_bytes(), out);
        sd_param("ruleset", r.vendor.as_bytes(), out);
        sd_param("confidence", r.confidence.as_str().as_bytes(), out);
    }
    sd_param("src", n.endpoints.src_ip.to_string().as_bytes(), out);
    sd_param("proto", n.protocol.as_str().as_bytes(), out);
    sd_param("name", &n.name, out);
    if let Some(r) = rollup {
        sd_param("count", r.count.to_string().as_bytes(), out);
        for (k, ts) in [
            ("first", r.first_ts),
            ("last", r.last_ts),
            ("since", r.since_ts),
        ] {
            let mut v = Vec::with_capacity(27);
            write_rfc3339(ts, &mut v);
            sd_param(k, &v, out);
        }
    }
    out.push(b']');
}

/// ` key="value"` with the value name-escaped, then `"`, `\`, `]` escaped
/// with a backslash (RFC 5424 §6.3.3).
fn sd_param(key: &str, raw: &[u8], out: &mut Vec<u8>) {
    out.push(b' ');
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"=\"");
    for &b in raw {
        match b {
            b'"' | b']' => {
                out.push(b'\\');
                out.push(b);
            }
            // Name escaping gives `\\`; SD escapes each backslash.
            b'\\' => out.extend_from_slice(b"\\\\\\\\"),
            _ if passes_through(b) => out.push(b),
            _ => out.extend_from_slice(&[
                b'\\',
                b'\\',
                b'x',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ]),
        }
    }
    out.push(b'"');
}

fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
    (host, port)
        .to_socket_addrs()
        .map(|a| a.collect())
        .map_err(|e| format!("cannot resolve {host}: {e}"))
}

/// RFC 5426: one message per UDP datagram.
pub struct UdpTransport {
    host: String,
    port: u16,
    sock: Option<UdpSocket>,
}

impl UdpTransport {
    pub fn new(host: &str, port: u16) -> Self {
        UdpTransport {
            host: host.to_owned(),
            port,
            sock: None,
        }
    }
}

impl Transport for UdpTransport {
    fn connect(&mut self) -> Result<(), String> {
        let addrs = resolve(&self.host, self.port)?;
        let addr = addrs
            .first()
            .ok_or_else(|| format!("{} has no address", self.host))?;
        let bind: SocketAddr = if addr.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            ([0u16; 8], 0).into()
        };
        let s = UdpSocket::bind(bind).map_err(|e| format!("UDP socket: {e}"))?;
        s.connect(addr)
            .map_err(|e| format!("UDP connect {addr}: {e}"))?;
        let _ = s.set_write_timeout(Some(Duration::from_millis(limits::SINK_IO_TIMEOUT_MS)));
        self.sock = Some(s);
        Ok(())
    }

    fn is_connected(&self) -> bool {
        self.sock.is_some()
    }

    fn disconnect(&mut self) {
        self.sock = None;
    }

    fn send(&mut self, records: &[Vec<u8>]) -> (usize, Option<SendError>) {
        let Some(s) = &self.sock else {
            return (0, Some(retry("not connected", false)));
        };
        for (i, r) in records.iter().enumerate() {
            if let Err(e) = s.send(r) {
                // ECONNREFUSED here reports an ICMP error for an earlier
                // datagram; this one was not sent.
                return (i, Some(retry(&format!("UDP send: {e}"), false)));
            }
        }
        (records.len(), None)
    }

    fn batch_limit(&self) -> usize {
        limits::SYSLOG_BATCH_RECORDS
    }
}

fn retry(reason: &str, maybe_delivered: bool) -> SendError {
    SendError::Retry {
        reason: reason.to_owned(),
        maybe_delivered,
    }
}

/// A TCP connection, plain or inside TLS.
pub(crate) enum Conn {
    Tcp(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl Conn {
    /// Connects to `host:port` (each resolved address in turn, each with
    /// the connect timeout) and, with `tls`, completes the handshake,
    /// verifying the server's certificate for `host`.
    pub(crate) fn open(
        host: &str,
        port: u16,
        tls: Option<&Arc<ClientConfig>>,
    ) -> Result<Conn, String> {
        let timeout = Duration::from_millis(limits::SINK_CONNECT_TIMEOUT_MS);
        let mut last = format!("{host} has no address");
        let mut sock = None;
        for addr in resolve(host, port)? {
            match TcpStream::connect_timeout(&addr, timeout) {
                Ok(s) => {
                    sock = Some(s);
                    break;
                }
                Err(e) => last = format!("connect {addr}: {e}"),
            }
        }
        let sock = sock.ok_or(last)?;
        let io_timeout = Some(Duration::from_millis(limits::SINK_IO_TIMEOUT_MS));
        let _ = sock.set_nodelay(true);
        sock.set_write_timeout(io_timeout)
            .map_err(|e| format!("socket: {e}"))?;
        let Some(cfg) = tls else {
            sock.set_read_timeout(io_timeout)
                .map_err(|e| format!("socket: {e}"))?;
            return Ok(Conn::Tcp(sock));
        };
        sock.set_read_timeout(Some(timeout))
            .map_err(|e| format!("socket: {e}"))?;
        let name = ServerName::try_from(host.to_owned())
            .map_err(|e| format!("TLS server name {host:?}: {e}"))?;
        let conn = ClientConnection::new(Arc::clone(cfg), name).map_err(|e| format!("TLS: {e}"))?;
        let mut s = StreamOwned::new(conn, sock);
        while s.conn.is_handshaking() {
            s.conn
                .complete_io(&mut s.sock)
                .map_err(|e| format!("TLS handshake with {host}:{port}: {e}"))?;
        }
        s.sock
            .set_read_timeout(io_timeout)
            .map_err(|e| format!("socket: {e}"))?;
        Ok(Conn::Tls(Box::new(s)))
    }

    fn tcp(&self) -> &TcpStream {
        match self {
            Conn::Tcp(s) => s,
            Conn::Tls(s) => &s.sock,
        }
    }

    /// False when the peer has closed the connection or it failed. A
    /// syslog collector never sends application data, so readable data is
    /// a close (TCP FIN, TLS close_notify), a reset, or TLS housekeeping
    /// (session tickets) that rustls consumes here.
    pub(crate) fn alive(&mut self) -> bool {
        if self.tcp().set_nonblocking(true).is_err() {
            return false;
        }
        let mut buf = [0u8; 512];
        let alive = match self {
            Conn::Tcp(s) => loop {
                match s.read(&mut buf) {
                    Ok(0) => break false,
                    Ok(_) => continue,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break true,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => break false,
                }
            },
            Conn::Tls(s) => loop {
                match s.read(&mut buf) {
                    Ok(0) => break false,
                    Ok(_) => continue,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break true,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => break false,
                }
            },
        };
        alive && self.tcp().set_nonblocking(false).is_ok()
    }

    pub(crate) fn write_all(&mut self, b: &[u8]) -> io::Result<()> {
        match self {
            Conn::Tcp(s) => s.write_all(b),
            Conn::Tls(s) => s.write_all(b),
        }
    }

    pub(crate) fn flush(&mut self) -> io::Result<()> {
        match self {
            Conn::Tcp(s) => s.flush(),
            Conn::Tls(s) => s.flush(),
        }
    }

    pub(crate) fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Tcp(s) => s.read(b),
            Conn::Tls(s) => s.read(b),
        }
    }

    /// Sends TLS close_notify (best effort) and closes.
    pub(crate) fn close(self) {
        if let Conn::Tls(mut s) = self {
            s.conn.send_close_notify();
            let _ = s.conn.complete_io(&mut s.sock);
        }
    }
}

/// RFC 6587 octet counting over TCP, or RFC 5425 over TLS:
/// `MSG-LEN SP SYSLOG-MSG` per message.
pub struct StreamTransport {
    host: String,
    port: u16,
    tls: Option<Arc<ClientConfig>>,
    conn: Option<Conn>,
    frame: Vec<u8>,
}

impl StreamTransport {
    pub fn new(host: &str, port: u16, tls: Option<Arc<ClientConfig>>) -> Self {
        StreamTransport {
            host: host.to_owned(),
            port,
            tls,
            conn: None,
            frame: Vec::new(),
        }
    }
}

impl Transport for StreamTransport {
    fn connect(&mut self) -> Result<(), String> {
        self.conn = Some(Conn::open(&self.host, self.port, self.tls.as_ref())?);
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
        let Some(conn) = self.conn.as_mut() else {
            return (0, Some(retry("not connected", false)));
        };
        if !conn.alive() {
            return (0, Some(retry("collector closed the connection", false)));
        }
        for (i, r) in records.iter().enumerate() {
            self.frame.clear();
            self.frame
                .extend_from_slice(format!("{} ", r.len()).as_bytes());
            self.frame.extend_from_slice(r);
            if let Err(e) = conn.write_all(&self.frame).and_then(|()| conn.flush()) {
                return (i, Some(retry(&format!("write: {e}"), true)));
            }
        }
        (records.len(), None)
    }

    fn batch_limit(&self) -> usize {
        limits::SYSLOG_BATCH_RECORDS
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use super::*;
    use crate::event::{Endpoints, NameDetail, Protocol, Transport as L4};
    use crate::signatures::Rule;

    fn alert(name: &[u8]) -> Event {
        Event::Name(NameEvent {
            ts: 1_727_784_000_123_456_789,
            packet: 7,
            protocol: Protocol::Dns,
            endpoints: Endpoints {
                transport: L4::Udp,
                src_ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 5)),
                src_port: 5353,
                dst_ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 53)),
                dst_port: 53,
                src_mac: None,
                vlan: None,
            },
            name: name.into(),
            detail: NameDetail::Dns { qtype: 1 },
            rule: Some(Arc::new(Rule {
                id: "k-1".into(),
                pattern: "*.kaspersky.com".into(),
                vendor: "kaspersky".into(),
                category: "update".into(),
                confidence: Confidence::High,
                source: String::new(),
                note: String::new(),
            })),
        })
    }

    fn header() -> Header {
        let mut h = Header::new(16, Some("sensor-1"));
        h.procid = "42".into();
        h
    }

    #[test]
    fn golden_rfc5424_alert_with_json_body() {
        let mut out = Vec::new();
        header().write_message(
            &alert(b"a.kaspersky.com"),
            None,
            SyslogFormat::Json,
            &mut out,
        );
        let text = String::from_utf8(out).expect("ASCII");
        // PRI = local0 (16) * 8 + warning (4) = 132.
        let head = concat!(
            "<132>1 2024-10-01T12:00:00.123456Z sensor-1 phonehome 42 alert ",
            r#"[phonehome@32473 rule="k-1" ruleset="kaspersky" confidence="high" src="10.0.0.5" proto="dns" name="a.kaspersky.com"] "#
        );
        assert!(text.starts_with(head), "{text}");
        let body = text.get(head.len()..).expect("body");
        let v: serde_json::Value = serde_json::from_str(body).expect("JSON body");
        assert_eq!(v["dns"]["question"]["name"], "a.kaspersky.com");
        assert!(!text.contains('\n'));
    }

    #[test]
    fn sd_values_escape_quote_backslash_and_bracket() {
        let mut out = Vec::new();
        sd_param("name", b"a\"b]c\\d\ne", &mut out);
        assert_eq!(out, br#" name="a\"b\]c\\\\d\\x0ae""#);
    }

    #[test]
    fn hostile_name_stays_inside_its_sd_param_and_body() {
        let raw = b"x\"] [evil@1 a=\"b\"]\n<13>1 - forged\xff";
        for fmt in [SyslogFormat::Json, SyslogFormat::Cef] {
            let mut out = Vec::new();
            header().write_message(&alert(raw), None, fmt, &mut out);
            assert!(out.iter().all(|b| (0x20..=0x7e).contains(b)), "{fmt:?}");
            let text = String::from_utf8(out).expect("ASCII");
            // The name is the last SD-PARAM: its value runs to the first
            // unescaped quote, and the SD element closes right after it.
            let start = text.find(" name=\"").expect("name param") + 7;
            let bytes = text.as_bytes();
            let mut i = start;
            let mut value = Vec::new();
            while let Some(&b) = bytes.get(i) {
                match b {
                    b'\\' => {
                        value.push(*bytes.get(i + 1).expect("escape has a byte"));
                        i += 2;
                    }
                    b'"' => break,
                    _ => {
                        value.push(b);
                        i += 1;
                    }
                }
            }
            assert_eq!(text.get(i..i + 3), Some("\"] "), "{fmt:?}: {text}");
            assert_eq!(unescaped_close(&text), Some(i + 1));
            assert_eq!(
                crate::output::escape::unescape(&value).as_deref(),
                Some(&raw[..])
            );
        }
    }

    /// Index of the first `]` not preceded by an escaping backslash.
    fn unescaped_close(s: &str) -> Option<usize> {
        let b = s.as_bytes();
        let mut i = 0;
        while i < b.len() {
            match b.get(i) {
                Some(b'\\') => i += 2,
                Some(b']') => return Some(i),
                _ => i += 1,
            }
        }
        None
    }

    #[test]
    fn rollup_message_has_counts_in_sd_and_body() {
        let r = Rollup {
            count: 12,
            first_ts: 1_000_000_000,
            last_ts: 2_000_000_000,
            since_ts: 0,
        };
        let mut out = Vec::new();
        header().write_message(
            &alert(b"a.kaspersky.com"),
            Some(&r),
            SyslogFormat::Json,
            &mut out,
        );
        let text = String::from_utf8(out).expect("ASCII");
        assert!(text.contains(" rollup [phonehome@32473 "), "{text}");
        assert!(text.contains(r#" count="12" first="1970-01-01T00:00:01.000000Z""#));
        let body = text
            .get(text.find("] {").expect("body") + 2..)
            .expect("body");
        let v: serde_json::Value = serde_json::from_str(body).expect("JSON");
        assert_eq!(v["phonehome"]["rollup"]["count"], 12);
    }

    #[test]
    fn derived_alerts_are_alert_messages_with_the_file_record_as_body() {
        use crate::output::testdata;
        let dns = testdata::dns_correlated(
            b"ksn-url-geo.kaspersky-labs.com",
            b"e1234.a.example-cdn.net",
            "kaspersky-dns-0012",
        );
        let mut out = Vec::new();
        header().write_evidence_message(&dns, SyslogFormat::Json, &mut out);
        let text = String::from_utf8(out).expect("ASCII");
        // PRI = local0 (16) * 8 + notice (5, medium) = 133.
        let head = concat!(
            "<133>1 2025-03-10T08:04:30.123456Z sensor-1 phonehome 42 alert ",
            r#"[phonehome@32473 rule="kaspersky-dns-0012" ruleset="kaspersky" confidence="medium" "#,
            r#"channel="dns-correlated" host="10.1.0.24" src="10.1.0.24" "#,
            r#"name="ksn-url-geo.kaspersky-labs.com"] "#
        );
        assert!(text.starts_with(head), "{text}");
        let mut file = Vec::new();
        crate::attribution::json::write_evidence(&dns, &mut file);
        let file = String::from_utf8(file).expect("ASCII");
        assert_eq!(text.get(head.len()..), file.strip_suffix('\n'));

        let ksc = testdata::ksc_server();
        let mut out = Vec::new();
        header().write_evidence_message(&ksc, SyslogFormat::Cef, &mut out);
        let text = String::from_utf8(out).expect("ASCII");
        // PRI = 16 * 8 + warning (4, high) = 132.
        let head = concat!(
            "<132>1 2025-03-10T08:04:30.123456Z sensor-1 phonehome 42 alert ",
            r#"[phonehome@32473 rule="kaspersky-port-0001" confidence="high" "#,
            r#"channel="ksc-port" host="10.1.0.5" src="10.1.0.31" role="ksc-server" "#,
            r#"peer="10.1.0.31"] "#
        );
        assert!(text.starts_with(head), "{text}");
        let mut cef_rec = Vec::new();
        cef::write_evidence(&ksc, &mut cef_rec);
        assert_eq!(
            text.get(head.len()..).map(str::as_bytes),
            Some(&cef_rec[..])
        );

        let mut out = Vec::new();
        header().write_evidence_message(&testdata::prefix(), SyslogFormat::Json, &mut out);
        assert!(out.is_empty(), "prefix evidence is not an alert");
    }

    #[test]
    fn hostile_derived_alert_name_stays_inside_its_sd_param() {
        let raw = b"x\"] [evil@1 a=\"b\"]\n<13>1 - forged\xff";
        let ev = crate::output::testdata::dns_correlated(raw, b"o", "k-1");
        for fmt in [SyslogFormat::Json, SyslogFormat::Cef] {
            let mut out = Vec::new();
            header().write_evidence_message(&ev, fmt, &mut out);
            assert!(out.iter().all(|b| (0x20..=0x7e).contains(b)), "{fmt:?}");
            let text = String::from_utf8(out).expect("ASCII");
            // `name` is the last SD-PARAM: the element closes right after it.
            let start = text.find(" name=\"").expect("name param") + 7;
            let close = unescaped_close(&text).expect("SD element closes");
            let value = text.get(start..close - 1).expect("value");
            let mut unsd = Vec::new();
            let mut it = value.bytes();
            while let Some(b) = it.next() {
                unsd.push(if b == b'\\' {
                    it.next().expect("escaped byte")
                } else {
                    b
                });
            }
            assert_eq!(
                crate::output::escape::unescape(&unsd).as_deref(),
                Some(&raw[..]),
                "{fmt:?}: {text}"
            );
            assert_eq!(text.get(close..close + 2), Some("] "), "{fmt:?}");
        }
    }

    #[test]
    fn bad_hostnames_become_nil() {
        assert_eq!(Header::new(1, Some("a b")).hostname(), "-");
        assert_eq!(Header::new(1, Some("")).hostname(), "-");
        assert_eq!(Header::new(1, Some("h\u{e9}")).hostname(), "-");
        assert_eq!(
            Header::new(1, Some("sensor.example")).hostname(),
            "sensor.example"
        );
    }
}
