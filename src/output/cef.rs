//! ArcSight Common Event Format (CEF) version 0, the alternative syslog
//! body (`--syslog-format cef`), read by ArcSight, QRadar and others.
//!
//! Format (ArcSight "Implementing ArcSight CEF", rev. 25, "CEF Header" and
//! "Character Encoding"):
//!
//! ```text
//! CEF:0|Device Vendor|Device Product|Device Version|Signature ID|Name|Severity|Extension
//! ```
//!
//! Escaping, applied on top of the name escaping of [`super::escape`]
//! (which already turns every control byte, byte ≥ 0x80 and `\` into
//! printable `\xHH` / `\\`):
//!
//! - header fields: `\` → `\\`, `|` → `\|`;
//! - extension values: `\` → `\\`, `=` → `\=`, LF → `\n`, CR → `\r`.
//!
//! Guarantees: a record is one line of printable ASCII; a header field
//! never contains an unescaped `|`; an extension value never contains an
//! unescaped `=`; so a crafted name cannot end the record or forge a field.
//! A CEF reader that undoes the CEF escaping gets the name-escaped text,
//! and [`super::escape::unescape`] of that gives the wire bytes.

use std::io::Write;
use std::net::IpAddr;

use super::escape::passes_through;
use super::json::dns_type_mnemonic;
use super::policy::Rollup;
use crate::event::{DnsAnswerEvent, Endpoints, Event, NameDetail, NameEvent};
use crate::inventory::{Evidence, EvidenceKind};
use crate::signatures::Confidence;

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Which CEF escaping applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    Header,
    Extension,
}

fn escape(raw: &[u8], part: Part, out: &mut Vec<u8>) {
    for &b in raw {
        match b {
            b'|' if part == Part::Header => out.extend_from_slice(b"\\|"),
            b'=' if part == Part::Extension => out.extend_from_slice(b"\\="),
            // Name escaping gives `\\`; CEF escapes both backslashes.
            b'\\' => out.extend_from_slice(b"\\\\\\\\"),
            _ if passes_through(b) => out.push(b),
            // Name escaping gives `\xHH`; CEF escapes its backslash. (LF
            // and CR never survive the name escaping, so CEF's `\n`/`\r`
            // are not needed.)
            _ => out.extend_from_slice(&[
                b'\\',
                b'\\',
                b'x',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ]),
        }
    }
}

/// Appends `raw` escaped for a CEF header field.
pub fn escape_header(raw: &[u8], out: &mut Vec<u8>) {
    escape(raw, Part::Header, out);
}

/// Appends `raw` escaped for a CEF extension value.
pub fn escape_extension(raw: &[u8], out: &mut Vec<u8>) {
    escape(raw, Part::Extension, out);
}

/// Undoes CEF's escaping of a header field or extension value (`\\`, `\|`,
/// `\=`, `\n`, `\r`), for tests and readers; `None` on any other backslash
/// sequence.
pub fn unescape(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len());
    let mut it = text.iter();
    while let Some(&b) = it.next() {
        if b == b'\\' {
            match it.next()? {
                b'\\' => out.push(b'\\'),
                b'|' => out.push(b'|'),
                b'=' => out.push(b'='),
                b'n' => out.push(b'\n'),
                b'r' => out.push(b'\r'),
                _ => return None,
            }
        } else {
            out.push(b);
        }
    }
    Some(out)
}

/// CEF severity (0–10) of a rule confidence.
pub fn severity(c: Confidence) -> u8 {
    match c {
        Confidence::Low => 3,
        Confidence::Medium => 5,
        Confidence::High => 8,
    }
}

/// Appends any pipeline event as one CEF record (no line break).
pub fn write(ev: &Event, rollup: Option<&Rollup>, out: &mut Vec<u8>) {
    match ev {
        Event::Name(n) => write_name_event(n, rollup, out),
        Event::DnsAnswer(a) => write_dns_answer(a, out),
        Event::FlowStart(_) => {}
    }
}

/// Appends a name event (alert, roll-up or unmatched name) as one CEF
/// record. Extension keys, in this order:
///
/// `rt` (packet time, ms since the epoch), `cat` (rule category), `src`
/// `spt` `dst` `dpt` `proto` (`TCP`/`UDP`), `app` (`DNS`/`TLS`/`HTTP`/
/// `QUIC`), `dhost` (the name, escaped), `smac` (if known), `cs1` rule id,
/// `cs2` confidence, `cs3` ruleset (vendor), `cs4` rule pattern (each with
/// its `csNLabel`), `cn1` packet number; roll-ups add `cnt` (sightings),
/// `start`/`end` (first/last sighting, ms) and `cs5` (previous report, RFC
/// 3339).
pub fn write_name_event(ev: &NameEvent, rollup: Option<&Rollup>, out: &mut Vec<u8>) {
    let _ = write!(
        out,
        "CEF:0|phonehome|phonehome|{}|",
        env!("CARGO_PKG_VERSION")
    );
    match &ev.rule {
        Some(rule) => {
            escape_header(rule.id.as_bytes(), out);
            out.extend_from_slice(if rollup.is_some() {
                b"|phonehome roll-up: ".as_slice()
            } else {
                b"|phonehome alert: ".as_slice()
            });
            escape_header(rule.vendor.as_bytes(), out);
            out.push(b' ');
            escape_header(rule.category.as_bytes(), out);
            let _ = write!(out, "|{}|", severity(rule.confidence));
        }
        None => out.extend_from_slice(b"name|phonehome name seen|0|"),
    }
    let _ = write!(out, "rt={}", ev.ts / 1_000_000);
    if let Some(rule) = &ev.rule {
        out.extend_from_slice(b" cat=");
        escape_extension(rule.category.as_bytes(), out);
    }
    write_endpoints(&ev.endpoints, out);
    let app: &[u8] = match ev.protocol {
        crate::event::Protocol::Dns => b"DNS",
        crate::event::Protocol::Tls => b"TLS",
        crate::event::Protocol::Http => b"HTTP",
        crate::event::Protocol::Quic => b"QUIC",
    };
    out.extend_from_slice(b" app=");
    out.extend_from_slice(app);
    out.extend_from_slice(b" dhost=");
    escape_extension(&ev.name, out);
    if let Some(mac) = ev.endpoints.src_mac {
        let [a, b, c, d, e, f] = mac;
        let _ = write!(out, " smac={a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{f:02x}");
    }
    if let Some(rule) = &ev.rule {
        out.extend_from_slice(b" cs1Label=ruleId cs1=");
        escape_extension(rule.id.as_bytes(), out);
        out.extend_from_slice(b" cs2Label=confidence cs2=");
        out.extend_from_slice(rule.confidence.as_str().as_bytes());
        out.extend_from_slice(b" cs3Label=ruleset cs3=");
        escape_extension(rule.vendor.as_bytes(), out);
        out.extend_from_slice(b" cs4Label=pattern cs4=");
        escape_extension(rule.pattern.as_bytes(), out);
    }
    match &ev.detail {
        NameDetail::Dns { qtype } => match dns_type_mnemonic(*qtype) {
            Some(m) => {
                let _ = write!(out, " cs6Label=dnsType cs6={m}");
            }
            None => {
                let _ = write!(out, " cs6Label=dnsType cs6=TYPE{qtype}");
            }
        },
        NameDetail::Http { method } => {
            out.extend_from_slice(b" requestMethod=");
            escape_extension(method, out);
        }
        NameDetail::Tls { .. } | NameDetail::Quic { .. } => {}
    }
    let _ = write!(out, " cn1Label=packet cn1={}", ev.packet);
    if let Some(r) = rollup {
        let _ = write!(
            out,
            " cnt={} start={} end={} cs5Label=since cs5=",
            r.count,
            r.first_ts / 1_000_000,
            r.last_ts / 1_000_000
        );
        super::time::write_rfc3339(r.since_ts, out);
    }
}

/// Appends a DNS answer record as one CEF record (`src` is the server).
pub fn write_dns_answer(ev: &DnsAnswerEvent, out: &mut Vec<u8>) {
    let _ = write!(
        out,
        "CEF:0|phonehome|phonehome|{}|dns_answer|phonehome DNS answer|0|rt={}",
        env!("CARGO_PKG_VERSION"),
        ev.ts / 1_000_000
    );
    write_endpoints(&ev.endpoints, out);
    out.extend_from_slice(b" app=DNS dhost=");
    escape_extension(&ev.query, out);
    out.extend_from_slice(b" cs1Label=owner cs1=");
    escape_extension(&ev.owner, out);
    let key = match ev.addr {
        IpAddr::V4(_) => "cs2Label=A cs2",
        IpAddr::V6(_) => "cs2Label=AAAA cs2",
    };
    let _ = write!(
        out,
        " {key}={} cn2Label=ttl cn2={} cn1Label=packet cn1={}",
        ev.addr, ev.ttl, ev.packet
    );
}

/// Appends a derived alert of the attribution stage (`dns-correlated`,
/// `ksc-port`; docs/SCHEMA.md "Derived alerts") as one CEF record, nothing
/// for evidence that is not an alert (prefix; see
/// `attribution::json::is_alert`).
///
/// Header: signature id = the rule id (dns-correlated: the name rule of the
/// answer's name; ksc-port: the `[[port]]` rule), name `phonehome
/// dns-correlated: VENDOR CATEGORY` or `phonehome ksc-port: ROLE`, severity
/// from the evidence's confidence as for alerts ([`severity`]).
///
/// Extension keys, in this order: `rt` (packet time, ms), `cat` (rule
/// category; dns-correlated), `src` `spt` `dst` `dpt` `proto` (the flow),
/// `dhost` (dns-correlated: the question name of the answer, escaped),
/// `smac` (if known), `cs1` rule id, `cs2` confidence, `cs3` ruleset and
/// `cs4` pattern (dns-correlated), `cs5` channel, `cs6` host (the home host
/// the evidence is about), then dns-correlated: `flexString1` owner
/// (escaped), `flexString2` answering DNS server, `cn1` packet, `cn2` TTL,
/// `cn3` answer packet, `deviceCustomDate1` answer time (ms); ksc-port:
/// `flexString1` role, `flexString2` peer, `cn1` packet, `cn2` KSC port.
/// Each custom field has its `…Label`.
pub fn write_evidence(ev: &Evidence, out: &mut Vec<u8>) {
    let Some((ep, rule_id, confidence)) = ev.alert_parts() else {
        return;
    };
    let _ = write!(
        out,
        "CEF:0|phonehome|phonehome|{}|",
        env!("CARGO_PKG_VERSION")
    );
    escape_header(rule_id.as_bytes(), out);
    let _ = write!(out, "|phonehome {}: ", ev.channel().as_str());
    match &ev.kind {
        EvidenceKind::DnsCorrelated { rule, .. } => {
            escape_header(rule.vendor.as_bytes(), out);
            out.push(b' ');
            escape_header(rule.category.as_bytes(), out);
        }
        EvidenceKind::KscPort { role, .. } => out.extend_from_slice(role.as_str().as_bytes()),
        EvidenceKind::Prefix { .. } => {}
    }
    let _ = write!(out, "|{}|rt={}", severity(confidence), ev.ts / 1_000_000);
    if let EvidenceKind::DnsCorrelated { rule, .. } = &ev.kind {
        out.extend_from_slice(b" cat=");
        escape_extension(rule.category.as_bytes(), out);
    }
    write_endpoints(ep, out);
    if let EvidenceKind::DnsCorrelated { name, .. } = &ev.kind {
        out.extend_from_slice(b" dhost=");
        escape_extension(name, out);
    }
    if let Some(mac) = ep.src_mac {
        let [a, b, c, d, e, f] = mac;
        let _ = write!(out, " smac={a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{f:02x}");
    }
    out.extend_from_slice(b" cs1Label=ruleId cs1=");
    escape_extension(rule_id.as_bytes(), out);
    out.extend_from_slice(b" cs2Label=confidence cs2=");
    out.extend_from_slice(confidence.as_str().as_bytes());
    if let EvidenceKind::DnsCorrelated { rule, .. } = &ev.kind {
        out.extend_from_slice(b" cs3Label=ruleset cs3=");
        escape_extension(rule.vendor.as_bytes(), out);
        out.extend_from_slice(b" cs4Label=pattern cs4=");
        escape_extension(rule.pattern.as_bytes(), out);
    }
    let _ = write!(
        out,
        " cs5Label=channel cs5={} cs6Label=host cs6={}",
        ev.channel().as_str(),
        ev.host
    );
    match &ev.kind {
        EvidenceKind::DnsCorrelated {
            owner,
            answered_by,
            answer_packet,
            answer_ts,
            ttl,
            ..
        } => {
            out.extend_from_slice(b" flexString1Label=owner flexString1=");
            escape_extension(owner, out);
            let _ = write!(
                out,
                " flexString2Label=answeredBy flexString2={answered_by} cn1Label=packet cn1={} \
                 cn2Label=ttl cn2={ttl} cn3Label=answerPacket cn3={answer_packet} \
                 deviceCustomDate1Label=answerTime deviceCustomDate1={}",
                ev.packet,
                answer_ts / 1_000_000
            );
        }
        EvidenceKind::KscPort { role, peer, .. } => {
            let _ = write!(
                out,
                " flexString1Label=role flexString1={} flexString2Label=peer flexString2={} \
                 cn1Label=packet cn1={} cn2Label=kscPort cn2={}",
                role.as_str(),
                peer.ip,
                ev.packet,
                peer.port
            );
        }
        EvidenceKind::Prefix { .. } => {}
    }
}

fn write_endpoints(ep: &Endpoints, out: &mut Vec<u8>) {
    let proto = match ep.transport {
        crate::event::Transport::Tcp => "TCP",
        crate::event::Transport::Udp => "UDP",
    };
    // CEF has `src`/`dst` for IPv4 and `c6a2`/`c6a3` for IPv6.
    match ep.src_ip {
        IpAddr::V4(a) => {
            let _ = write!(out, " src={a}");
        }
        IpAddr::V6(a) => {
            let _ = write!(out, " c6a2Label=sourceAddress c6a2={a}");
        }
    }
    let _ = write!(out, " spt={}", ep.src_port);
    match ep.dst_ip {
        IpAddr::V4(a) => {
            let _ = write!(out, " dst={a}");
        }
        IpAddr::V6(a) => {
            let _ = write!(out, " c6a3Label=destinationAddress c6a3={a}");
        }
    }
    let _ = write!(out, " dpt={} proto={proto}", ep.dst_port);
}

/// A CEF record read back: the seven header fields and the extension
/// `(key, value)` pairs, all unescaped.
pub type Parsed = (Vec<Vec<u8>>, Vec<(String, Vec<u8>)>);

/// Splits a CEF record into its seven header fields and its extension
/// pairs, undoing the escaping: a reader for tests (and a statement of what
/// the writer guarantees). `None` when the record is not well formed.
pub fn parse(record: &[u8]) -> Option<Parsed> {
    // Header: split on unescaped `|`, seven fields then the extension.
    let mut fields = Vec::new();
    let mut cur = Vec::new();
    let mut i = 0;
    while fields.len() < 7 {
        let &b = record.get(i)?;
        match b {
            b'\\' => {
                cur.push(b);
                cur.push(*record.get(i + 1)?);
                i += 2;
            }
            b'|' => {
                fields.push(unescape(&cur)?);
                cur.clear();
                i += 1;
            }
            _ => {
                cur.push(b);
                i += 1;
            }
        }
    }
    let ext = record.get(i..)?;
    // Extension: `key=value` pairs separated by spaces; a key is
    // alphanumeric, a value runs to the last space before the next key.
    let mut pairs: Vec<(String, Vec<u8>)> = Vec::new();
    let mut starts = Vec::new();
    let mut j = 0;
    while j < ext.len() {
        if (j == 0 || ext.get(j - 1) == Some(&b' '))
            && ext.get(j).is_some_and(u8::is_ascii_alphanumeric)
        {
            let key_len = ext
                .get(j..)?
                .iter()
                .position(|&c| !c.is_ascii_alphanumeric())?;
            if ext.get(j + key_len) == Some(&b'=') {
                starts.push((j, key_len));
            }
        }
        if ext.get(j) == Some(&b'\\') {
            j += 2;
        } else {
            j += 1;
        }
    }
    for (k, &(s, kl)) in starts.iter().enumerate() {
        let vstart = s + kl + 1;
        let vend = match starts.get(k + 1) {
            Some(&(next, _)) => next.checked_sub(1)?,
            None => ext.len(),
        };
        let key = String::from_utf8(ext.get(s..s + kl)?.to_vec()).ok()?;
        pairs.push((key, unescape(ext.get(vstart..vend)?)?));
    }
    Some((fields, pairs))
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};
    use std::sync::Arc;

    use super::*;
    use crate::event::{Protocol, Transport};
    use crate::output::escape;
    use crate::signatures::Rule;

    fn esc(f: fn(&[u8], &mut Vec<u8>), raw: &[u8]) -> String {
        let mut v = Vec::new();
        f(raw, &mut v);
        String::from_utf8(v).expect("ASCII")
    }

    #[test]
    fn header_escapes_pipe_and_backslash() {
        assert_eq!(esc(escape_header, b"a|b"), "a\\|b");
        // `\` is `\\` after name escaping, each escaped again: four.
        assert_eq!(esc(escape_header, b"a\\b"), "a\\\\\\\\b");
        // `=` needs no escape in the header.
        assert_eq!(esc(escape_header, b"a=b"), "a=b");
        assert_eq!(esc(escape_header, b"a\nb"), "a\\\\x0ab");
    }

    #[test]
    fn extension_escapes_equals_backslash_and_line_breaks() {
        assert_eq!(esc(escape_extension, b"a=b"), "a\\=b");
        assert_eq!(esc(escape_extension, b"a|b"), "a|b");
        assert_eq!(esc(escape_extension, b"a\\b"), "a\\\\\\\\b");
        assert_eq!(esc(escape_extension, b"a\r\nb"), "a\\\\x0d\\\\x0ab");
        assert_eq!(esc(escape_extension, b"\xc3\x28"), "\\\\xc3(");
    }

    #[test]
    fn every_byte_round_trips_through_both_escapings() {
        let all: Vec<u8> = (0u8..=255).collect();
        for f in [escape_header, escape_extension] {
            let e = esc(f, &all);
            assert!(e.bytes().all(|b| (0x20..=0x7e).contains(&b)));
            let name_escaped = unescape(e.as_bytes()).expect("CEF unescape");
            assert_eq!(escape::unescape(&name_escaped).as_deref(), Some(&all[..]));
        }
    }

    fn alert(name: &[u8]) -> NameEvent {
        NameEvent {
            ts: 1_727_784_000_123_456_789,
            packet: 42,
            protocol: Protocol::Http,
            endpoints: Endpoints {
                transport: Transport::Tcp,
                src_ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 5)),
                src_port: 53_000,
                dst_ip: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 80)),
                dst_port: 80,
                src_mac: Some([0, 0x1b, 0x21, 0xab, 0xcd, 0xef]),
                vlan: None,
            },
            name: name.into(),
            detail: NameDetail::Http {
                method: (*b"GET").into(),
            },
            rule: Some(Arc::new(Rule {
                id: "kaspersky|0001".into(),
                pattern: "*.kaspersky.com".into(),
                vendor: "kaspersky".into(),
                category: "update".into(),
                confidence: Confidence::High,
                source: String::new(),
                note: String::new(),
            })),
        }
    }

    #[test]
    fn golden_alert_record() {
        let mut out = Vec::new();
        write_name_event(&alert(b"dnl-01.upd.kaspersky.com"), None, &mut out);
        let want = format!(
            concat!(
                "CEF:0|phonehome|phonehome|{}|kaspersky\\|0001|phonehome alert: kaspersky update|8|",
                "rt=1727784000123 cat=update src=10.0.0.5 spt=53000 dst=192.0.2.80 dpt=80 proto=TCP ",
                "app=HTTP dhost=dnl-01.upd.kaspersky.com smac=00:1b:21:ab:cd:ef ",
                "cs1Label=ruleId cs1=kaspersky|0001 cs2Label=confidence cs2=high ",
                "cs3Label=ruleset cs3=kaspersky cs4Label=pattern cs4=*.kaspersky.com ",
                "requestMethod=GET cn1Label=packet cn1=42"
            ),
            env!("CARGO_PKG_VERSION")
        );
        assert_eq!(String::from_utf8(out).expect("ASCII"), want);
    }

    #[test]
    fn hostile_name_is_one_record_with_one_dhost() {
        let raw = b"x\n\"|= dst=6.6.6.6 \xc3\x28\\.kaspersky.com";
        let ru = Rollup {
            count: 3,
            first_ts: 1_000_000,
            last_ts: 2_000_000,
            since_ts: 0,
        };
        let mut out = Vec::new();
        write_name_event(&alert(raw), Some(&ru), &mut out);
        assert!(out.iter().all(|b| (0x20..=0x7e).contains(b)));
        let (hdr, ext) = parse(&out).expect("well-formed CEF");
        assert_eq!(hdr.len(), 7);
        assert_eq!(hdr[4], b"kaspersky|0001");
        assert_eq!(hdr[5], b"phonehome roll-up: kaspersky update");
        let get = |k: &str| {
            let v: Vec<&Vec<u8>> = ext
                .iter()
                .filter(|(key, _)| key == k)
                .map(|(_, v)| v)
                .collect();
            v
        };
        // The forged `dst=` stayed inside dhost.
        assert_eq!(get("dst"), [&b"192.0.2.80".to_vec()]);
        let dhost = get("dhost");
        assert_eq!(dhost.len(), 1);
        assert_eq!(escape::unescape(dhost[0]).as_deref(), Some(&raw[..]));
        assert_eq!(get("cnt"), [&b"3".to_vec()]);
        assert_eq!(get("start"), [&b"1".to_vec()]);
        assert_eq!(get("cs5"), [&b"1970-01-01T00:00:00.000000Z".to_vec()]);
    }

    #[test]
    fn ipv6_endpoints_use_c6a_fields() {
        let mut ev = alert(b"a.kaspersky.com");
        ev.endpoints.src_ip = IpAddr::V6(Ipv6Addr::LOCALHOST);
        ev.endpoints.dst_ip = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1));
        let mut out = Vec::new();
        write_name_event(&ev, None, &mut out);
        let (_, ext) = parse(&out).expect("well-formed CEF");
        let c6a2 = ext
            .iter()
            .find(|(k, _)| k == "c6a2")
            .map(|(_, v)| v.clone());
        assert_eq!(c6a2.as_deref(), Some(&b"::1"[..]));
        assert!(!ext.iter().any(|(k, _)| k == "src"));
    }

    #[test]
    fn golden_derived_alert_records() {
        use crate::output::testdata;
        let mut out = Vec::new();
        write_evidence(
            &testdata::dns_correlated(
                b"ksn-url-geo.kaspersky-labs.com",
                b"e1234.a.example-cdn.net",
                "kaspersky-dns-0012",
            ),
            &mut out,
        );
        let want = format!(
            concat!(
                "CEF:0|phonehome|phonehome|{}|kaspersky-dns-0012|",
                "phonehome dns-correlated: kaspersky telemetry_ksn|5|",
                "rt=1741593870123 cat=telemetry_ksn src=10.1.0.24 spt=50122 dst=203.0.113.77 ",
                "dpt=443 proto=TCP dhost=ksn-url-geo.kaspersky-labs.com smac=02:50:0b:00:00:18 ",
                "cs1Label=ruleId cs1=kaspersky-dns-0012 cs2Label=confidence cs2=medium ",
                "cs3Label=ruleset cs3=kaspersky cs4Label=pattern cs4=*.kaspersky-labs.com ",
                "cs5Label=channel cs5=dns-correlated cs6Label=host cs6=10.1.0.24 ",
                "flexString1Label=owner flexString1=e1234.a.example-cdn.net ",
                "flexString2Label=answeredBy flexString2=10.1.0.2 cn1Label=packet cn1=312 ",
                "cn2Label=ttl cn2=60 cn3Label=answerPacket cn3=298 ",
                "deviceCustomDate1Label=answerTime deviceCustomDate1=1741593780019"
            ),
            env!("CARGO_PKG_VERSION")
        );
        assert_eq!(String::from_utf8(out).expect("ASCII"), want);

        let mut out = Vec::new();
        write_evidence(&testdata::ksc_server(), &mut out);
        let want = format!(
            concat!(
                "CEF:0|phonehome|phonehome|{}|kaspersky-port-0001|",
                "phonehome ksc-port: ksc-server|8|",
                "rt=1741593870123 src=10.1.0.31 spt=49800 dst=10.1.0.5 dpt=13000 proto=TCP ",
                "cs1Label=ruleId cs1=kaspersky-port-0001 cs2Label=confidence cs2=high ",
                "cs5Label=channel cs5=ksc-port cs6Label=host cs6=10.1.0.5 ",
                "flexString1Label=role flexString1=ksc-server ",
                "flexString2Label=peer flexString2=10.1.0.31 cn1Label=packet cn1=77 ",
                "cn2Label=kscPort cn2=13000"
            ),
            env!("CARGO_PKG_VERSION")
        );
        assert_eq!(String::from_utf8(out).expect("ASCII"), want);

        let mut out = Vec::new();
        write_evidence(&crate::output::testdata::prefix(), &mut out);
        assert!(out.is_empty(), "prefix evidence is not an alert");
    }

    #[test]
    fn hostile_names_of_a_derived_alert_stay_in_their_fields() {
        let name = b"x\n\"|= dst=6.6.6.6 cs5=ksc-port \xc3\x28\\.kaspersky-labs.com";
        let owner = b"o|=\r\nflexString2=6.6.6.6\x00";
        let ev = crate::output::testdata::dns_correlated(name, owner, "k|=1");
        let mut out = Vec::new();
        write_evidence(&ev, &mut out);
        assert!(out.iter().all(|b| (0x20..=0x7e).contains(b)));
        let (hdr, ext) = parse(&out).expect("well-formed CEF");
        assert_eq!(hdr[4], b"k|=1");
        let get = |k: &str| -> Vec<Vec<u8>> {
            ext.iter()
                .filter(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
                .collect()
        };
        assert_eq!(get("dst"), [b"203.0.113.77".to_vec()]);
        assert_eq!(get("cs5"), [b"dns-correlated".to_vec()]);
        assert_eq!(get("flexString2"), [b"10.1.0.2".to_vec()]);
        assert_eq!(get("cs1"), [b"k|=1".to_vec()]);
        let dhost = get("dhost");
        assert_eq!(dhost.len(), 1);
        assert_eq!(escape::unescape(&dhost[0]).as_deref(), Some(&name[..]));
        let o = get("flexString1");
        assert_eq!(o.len(), 1);
        assert_eq!(escape::unescape(&o[0]).as_deref(), Some(&owner[..]));
    }

    #[test]
    fn parse_rejects_truncated_records() {
        assert!(parse(b"CEF:0|a|b|c").is_none());
        assert!(parse(b"").is_none());
        assert!(parse(b"CEF:0|a|b|c|d|e|f|x=\\q").is_none());
    }
}
