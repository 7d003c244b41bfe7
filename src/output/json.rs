//! ECS JSON lines: one JSON object per event, keys in a fixed order, every
//! string name-escaped (see [`super::escape`]). The schema is documented in
//! docs/SCHEMA.md and pinned by the golden tests below; changing a byte of
//! it is a [`SCHEMA_VERSION`] bump.
//!
//! The writers append to a caller-owned buffer and allocate nothing else:
//! numbers and addresses are formatted straight into it.

use std::io::Write;
use std::net::IpAddr;

use super::escape::write_json_str;
use super::time::write_rfc3339;
use crate::event::{DnsAnswerEvent, Endpoints, Event, NameDetail, NameEvent, Protocol};

/// Version of the alert/name/answer/inventory schema (docs/SCHEMA.md).
pub const SCHEMA_VERSION: &str = "1.2";

/// The ECS release whose field definitions the output follows.
pub const ECS_VERSION: &str = "8.11.0";

/// `event.dataset` of a name event that matched a rule.
pub const DATASET_ALERT: &str = "phonehome.alert";
/// `event.dataset` of a name event that matched nothing.
pub const DATASET_NAME: &str = "phonehome.name";
/// `event.dataset` of a DNS answer record.
pub const DATASET_DNS_ANSWER: &str = "phonehome.dns_answer";

/// The mnemonic of a DNS RR TYPE (IANA "Resource Record (RR) TYPEs"), or
/// `None` for types without one here; those are written `TYPE<n>` as in
/// RFC 3597 §5.
pub fn dns_type_mnemonic(qtype: u16) -> Option<&'static str> {
    Some(match qtype {
        1 => "A",
        2 => "NS",
        5 => "CNAME",
        6 => "SOA",
        10 => "NULL",
        12 => "PTR",
        13 => "HINFO",
        15 => "MX",
        16 => "TXT",
        17 => "RP",
        18 => "AFSDB",
        24 => "SIG",
        25 => "KEY",
        28 => "AAAA",
        29 => "LOC",
        33 => "SRV",
        35 => "NAPTR",
        36 => "KX",
        37 => "CERT",
        39 => "DNAME",
        41 => "OPT",
        42 => "APL",
        43 => "DS",
        44 => "SSHFP",
        45 => "IPSECKEY",
        46 => "RRSIG",
        47 => "NSEC",
        48 => "DNSKEY",
        49 => "DHCID",
        50 => "NSEC3",
        51 => "NSEC3PARAM",
        52 => "TLSA",
        53 => "SMIMEA",
        55 => "HIP",
        59 => "CDS",
        60 => "CDNSKEY",
        61 => "OPENPGPKEY",
        62 => "CSYNC",
        63 => "ZONEMD",
        64 => "SVCB",
        65 => "HTTPS",
        99 => "SPF",
        108 => "EUI48",
        109 => "EUI64",
        249 => "TKEY",
        250 => "TSIG",
        251 => "IXFR",
        252 => "AXFR",
        255 => "ANY",
        256 => "URI",
        257 => "CAA",
        _ => return None,
    })
}

/// Appends any pipeline event as one JSON line.
pub fn write(ev: &Event, buf: &mut Vec<u8>) {
    match ev {
        Event::Name(n) => write_event(n, buf),
        Event::DnsAnswer(a) => write_dns_answer(a, buf),
        Event::FlowStart(_) => {}
    }
}

/// Appends `ev` as exactly one line: a JSON object and `\n`.
///
/// Key order (fixed): `@timestamp`, `ecs`, `event`, `network`, `source`,
/// `destination`, then `dns` (DNS) or `tls` (TLS, QUIC) or `url` + `http`
/// (HTTP), then `rule` (alerts only), then `phonehome`.
pub fn write_event(ev: &NameEvent, buf: &mut Vec<u8>) {
    write_name(ev, ev.rule.is_some(), buf)
}

/// Appends `ev` as a names-log record (`--names`): `event.kind: event`,
/// dataset `phonehome.name`, whether it matched or not (a matched name keeps
/// its `rule` fields and confidence).
pub fn write_name_record(ev: &NameEvent, buf: &mut Vec<u8>) {
    write_name(ev, false, buf)
}

fn write_name(ev: &NameEvent, as_alert: bool, buf: &mut Vec<u8>) {
    let dataset = if as_alert {
        DATASET_ALERT
    } else {
        DATASET_NAME
    };
    let kind = if as_alert { "alert" } else { "event" };
    write_head(ev.ts, kind, dataset, ev.protocol, &ev.endpoints, buf);

    match &ev.detail {
        NameDetail::Dns { qtype } => {
            buf.extend_from_slice(br#","dns":{"type":"query","question":{"name":"#);
            write_json_str(&ev.name, buf);
            buf.extend_from_slice(br#","type":"#);
            write_dns_type(*qtype, buf);
            buf.extend_from_slice(b"}}");
        }
        NameDetail::Tls { .. } | NameDetail::Quic { .. } => {
            buf.extend_from_slice(br#","tls":{"client":{"server_name":"#);
            write_json_str(&ev.name, buf);
            buf.extend_from_slice(b"}}");
        }
        NameDetail::Http { method } => {
            buf.extend_from_slice(br#","url":{"domain":"#);
            write_json_str(&ev.name, buf);
            buf.extend_from_slice(br#"},"http":{"request":{"method":"#);
            write_json_str(method, buf);
            buf.extend_from_slice(b"}}");
        }
    }

    if let Some(rule) = &ev.rule {
        buf.extend_from_slice(br#","rule":{"id":"#);
        write_json_str(rule.id.as_bytes(), buf);
        buf.extend_from_slice(br#","name":"#);
        write_json_str(rule.pattern.as_bytes(), buf);
        buf.extend_from_slice(br#","category":"#);
        write_json_str(rule.category.as_bytes(), buf);
        buf.extend_from_slice(br#","ruleset":"#);
        write_json_str(rule.vendor.as_bytes(), buf);
        buf.push(b'}');
    }

    write_phonehome_open(ev.packet, buf);
    if let Some(rule) = &ev.rule {
        buf.extend_from_slice(br#","confidence":""#);
        buf.extend_from_slice(rule.confidence.as_str().as_bytes());
        buf.push(b'"');
    }
    match &ev.detail {
        NameDetail::Tls { ech: true } => buf.extend_from_slice(br#","tls":{"ech":true}"#),
        NameDetail::Quic { version, ech } => {
            if *ech {
                buf.extend_from_slice(br#","tls":{"ech":true}"#);
            }
            let _ = write!(buf, r#","quic":{{"version":"0x{version:08x}"}}"#);
        }
        _ => {}
    }
    buf.extend_from_slice(b"}}\n");
}

/// Appends a DNS answer record as exactly one line (dataset
/// `phonehome.dns_answer`). `source` is the DNS server, `destination` the
/// client, as on the wire.
pub fn write_dns_answer(ev: &DnsAnswerEvent, buf: &mut Vec<u8>) {
    write_head(
        ev.ts,
        "event",
        DATASET_DNS_ANSWER,
        Protocol::Dns,
        &ev.endpoints,
        buf,
    );
    let rtype = match ev.addr {
        IpAddr::V4(_) => "A",
        IpAddr::V6(_) => "AAAA",
    };
    buf.extend_from_slice(br#","dns":{"type":"answer","question":{"name":"#);
    write_json_str(&ev.query, buf);
    buf.extend_from_slice(br#"},"answers":[{"name":"#);
    write_json_str(&ev.owner, buf);
    let _ = write!(
        buf,
        r#","type":"{rtype}","data":"{}","ttl":{}}}],"resolved_ip":["{}"]}}"#,
        ev.addr, ev.ttl, ev.addr
    );
    write_phonehome_open(ev.packet, buf);
    buf.extend_from_slice(b"}}\n");
}

/// `{"@timestamp":…,"ecs":…,"event":…,"network":…,"source":…,"destination":…`
fn write_head(
    ts: u64,
    kind: &str,
    dataset: &str,
    protocol: Protocol,
    ep: &Endpoints,
    buf: &mut Vec<u8>,
) {
    buf.extend_from_slice(br#"{"@timestamp":""#);
    write_rfc3339(ts, buf);
    let _ = write!(
        buf,
        r#"","ecs":{{"version":"{ECS_VERSION}"}},"event":{{"kind":"{kind}","category":["network"],"type":["protocol"],"module":"phonehome","dataset":"{dataset}"}},"network":{{"protocol":"{}","transport":"{}""#,
        protocol.as_str(),
        ep.transport.as_str()
    );
    write_addresses(ep, buf);
}

/// The end of the `network` object (its VLAN), then `source` (with the
/// MAC) and `destination`, as every record writes them.
pub(crate) fn write_addresses(ep: &Endpoints, buf: &mut Vec<u8>) {
    if let Some(vlan) = ep.vlan {
        // ECS types network.vlan.id as a keyword (string).
        let _ = write!(buf, r#","vlan":{{"id":"{vlan}"}}"#);
    }
    let _ = write!(
        buf,
        r#"}},"source":{{"ip":"{}","port":{}"#,
        ep.src_ip, ep.src_port
    );
    if let Some(mac) = ep.src_mac {
        buf.extend_from_slice(br#","mac":""#);
        write_mac(mac, buf);
        buf.push(b'"');
    }
    let _ = write!(
        buf,
        r#"}},"destination":{{"ip":"{}","port":{}}}"#,
        ep.dst_ip, ep.dst_port
    );
}

/// `,"phonehome":{"schema_version":"1.2","packet":N` (left open).
fn write_phonehome_open(packet: u64, buf: &mut Vec<u8>) {
    let _ = write!(
        buf,
        r#","phonehome":{{"schema_version":"{SCHEMA_VERSION}","packet":{packet}"#
    );
}

fn write_dns_type(qtype: u16, buf: &mut Vec<u8>) {
    match dns_type_mnemonic(qtype) {
        Some(m) => {
            buf.push(b'"');
            buf.extend_from_slice(m.as_bytes());
            buf.push(b'"');
        }
        None => {
            let _ = write!(buf, "\"TYPE{qtype}\"");
        }
    }
}

/// ECS MAC form: six upper-case hex pairs joined by `-`.
pub fn write_mac(mac: [u8; 6], buf: &mut Vec<u8>) {
    let [a, b, c, d, e, f] = mac;
    let _ = write!(buf, "{a:02X}-{b:02X}-{c:02X}-{d:02X}-{e:02X}-{f:02X}");
}

/// [`write_mac`] as a string (cold paths).
pub fn mac_string(mac: [u8; 6]) -> String {
    let mut v = Vec::with_capacity(17);
    write_mac(mac, &mut v);
    String::from_utf8(v).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};
    use std::sync::Arc;

    use super::*;
    use crate::event::Transport;
    use crate::signatures::{Confidence, Rule};

    /// 2024-10-01T12:00:00.123456789Z
    const TS: u64 = 1_727_784_000_123_456_789;

    fn rule(confidence: Confidence) -> Arc<Rule> {
        Arc::new(Rule {
            id: "kaspersky-0001".into(),
            pattern: "*.upd.kaspersky.com".into(),
            vendor: "kaspersky".into(),
            category: "update".into(),
            confidence,
            source: "test".into(),
            note: String::new(),
        })
    }

    fn endpoints(transport: Transport, dst_port: u16) -> Endpoints {
        Endpoints {
            transport,
            src_ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 5)),
            src_port: 53_000,
            dst_ip: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 53)),
            dst_port,
            src_mac: Some([0x00, 0x1b, 0x21, 0xab, 0xcd, 0xef]),
            vlan: Some(10),
        }
    }

    fn line(ev: &NameEvent) -> String {
        let mut buf = Vec::new();
        write_event(ev, &mut buf);
        String::from_utf8(buf).expect("JSON lines are ASCII")
    }

    #[test]
    fn golden_dns_alert() {
        let ev = NameEvent {
            ts: TS,
            packet: 42,
            protocol: Protocol::Dns,
            endpoints: endpoints(Transport::Udp, 53),
            name: (*b"dnl-01.upd.kaspersky.com").into(),
            detail: NameDetail::Dns { qtype: 65 },
            rule: Some(rule(Confidence::High)),
        };
        let expected = concat!(
            r#"{"@timestamp":"2024-10-01T12:00:00.123456Z","ecs":{"version":"8.11.0"},"#,
            r#""event":{"kind":"alert","category":["network"],"type":["protocol"],"module":"phonehome","dataset":"phonehome.alert"},"#,
            r#""network":{"protocol":"dns","transport":"udp","vlan":{"id":"10"}},"#,
            r#""source":{"ip":"10.0.0.5","port":53000,"mac":"00-1B-21-AB-CD-EF"},"#,
            r#""destination":{"ip":"192.0.2.53","port":53},"#,
            r#""dns":{"type":"query","question":{"name":"dnl-01.upd.kaspersky.com","type":"HTTPS"}},"#,
            r#""rule":{"id":"kaspersky-0001","name":"*.upd.kaspersky.com","category":"update","ruleset":"kaspersky"},"#,
            r#""phonehome":{"schema_version":"1.2","packet":42,"confidence":"high"}}"#,
            "\n"
        );
        assert_eq!(line(&ev), expected);
    }

    #[test]
    fn golden_tls_name_event_ipv6_without_mac_or_vlan() {
        let ev = NameEvent {
            ts: 0,
            packet: 1,
            protocol: Protocol::Tls,
            endpoints: Endpoints {
                transport: Transport::Tcp,
                src_ip: IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
                src_port: 50_000,
                dst_ip: IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x443)),
                dst_port: 443,
                src_mac: None,
                vlan: None,
            },
            name: (*b"www.example.org").into(),
            detail: NameDetail::Tls { ech: true },
            rule: None,
        };
        let expected = concat!(
            r#"{"@timestamp":"1970-01-01T00:00:00.000000Z","ecs":{"version":"8.11.0"},"#,
            r#""event":{"kind":"event","category":["network"],"type":["protocol"],"module":"phonehome","dataset":"phonehome.name"},"#,
            r#""network":{"protocol":"tls","transport":"tcp"},"#,
            r#""source":{"ip":"2001:db8::1","port":50000},"#,
            r#""destination":{"ip":"2001:db8::443","port":443},"#,
            r#""tls":{"client":{"server_name":"www.example.org"}},"#,
            r#""phonehome":{"schema_version":"1.2","packet":1,"tls":{"ech":true}}}"#,
            "\n"
        );
        assert_eq!(line(&ev), expected);
    }

    #[test]
    fn golden_http_connect_alert() {
        let ev = NameEvent {
            ts: TS,
            packet: 7,
            protocol: Protocol::Http,
            endpoints: endpoints(Transport::Tcp, 3128),
            name: (*b"ksn-a.kaspersky-labs.com").into(),
            detail: NameDetail::Http {
                method: (*b"CONNECT").into(),
            },
            rule: Some(rule(Confidence::Medium)),
        };
        let expected = concat!(
            r#"{"@timestamp":"2024-10-01T12:00:00.123456Z","ecs":{"version":"8.11.0"},"#,
            r#""event":{"kind":"alert","category":["network"],"type":["protocol"],"module":"phonehome","dataset":"phonehome.alert"},"#,
            r#""network":{"protocol":"http","transport":"tcp","vlan":{"id":"10"}},"#,
            r#""source":{"ip":"10.0.0.5","port":53000,"mac":"00-1B-21-AB-CD-EF"},"#,
            r#""destination":{"ip":"192.0.2.53","port":3128},"#,
            r#""url":{"domain":"ksn-a.kaspersky-labs.com"},"http":{"request":{"method":"CONNECT"}},"#,
            r#""rule":{"id":"kaspersky-0001","name":"*.upd.kaspersky.com","category":"update","ruleset":"kaspersky"},"#,
            r#""phonehome":{"schema_version":"1.2","packet":7,"confidence":"medium"}}"#,
            "\n"
        );
        assert_eq!(line(&ev), expected);
    }

    #[test]
    fn golden_quic_name_event() {
        let ev = NameEvent {
            ts: TS,
            packet: 3,
            protocol: Protocol::Quic,
            endpoints: endpoints(Transport::Udp, 443),
            name: (*b"www.google.de").into(),
            detail: NameDetail::Quic {
                version: 1,
                ech: false,
            },
            rule: None,
        };
        let l = line(&ev);
        assert!(
            l.ends_with(concat!(
                r#""network":{"protocol":"quic","transport":"udp","vlan":{"id":"10"}},"#,
                r#""source":{"ip":"10.0.0.5","port":53000,"mac":"00-1B-21-AB-CD-EF"},"#,
                r#""destination":{"ip":"192.0.2.53","port":443},"#,
                r#""tls":{"client":{"server_name":"www.google.de"}},"#,
                r#""phonehome":{"schema_version":"1.2","packet":3,"quic":{"version":"0x00000001"}}}"#,
                "\n"
            )),
            "{l}"
        );
    }

    #[test]
    fn golden_dns_answer() {
        let ev = DnsAnswerEvent {
            ts: TS,
            packet: 9,
            endpoints: Endpoints {
                transport: Transport::Udp,
                src_ip: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 53)),
                src_port: 53,
                dst_ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 5)),
                dst_port: 53_000,
                src_mac: None,
                vlan: None,
            },
            query: (*b"dnl-01.upd.kaspersky.com").into(),
            owner: (*b"cdn.example.net").into(),
            addr: IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7)),
            ttl: 300,
        };
        let mut buf = Vec::new();
        write(&Event::DnsAnswer(ev), &mut buf);
        let expected = concat!(
            r#"{"@timestamp":"2024-10-01T12:00:00.123456Z","ecs":{"version":"8.11.0"},"#,
            r#""event":{"kind":"event","category":["network"],"type":["protocol"],"module":"phonehome","dataset":"phonehome.dns_answer"},"#,
            r#""network":{"protocol":"dns","transport":"udp"},"#,
            r#""source":{"ip":"192.0.2.53","port":53},"#,
            r#""destination":{"ip":"10.0.0.5","port":53000},"#,
            r#""dns":{"type":"answer","question":{"name":"dnl-01.upd.kaspersky.com"},"#,
            r#""answers":[{"name":"cdn.example.net","type":"A","data":"198.51.100.7","ttl":300}],"resolved_ip":["198.51.100.7"]},"#,
            r#""phonehome":{"schema_version":"1.2","packet":9}}"#,
            "\n"
        );
        assert_eq!(String::from_utf8(buf).expect("ASCII"), expected);
    }

    #[test]
    fn hostile_name_and_method_give_one_valid_line() {
        let raw: &[u8] = b"x\n\"|=\x00\xc3\x28\\.kaspersky.com";
        let ev = NameEvent {
            ts: TS,
            packet: 1,
            protocol: Protocol::Http,
            endpoints: endpoints(Transport::Tcp, 80),
            name: raw.into(),
            detail: NameDetail::Http {
                method: (*b"G\"E\nT").into(),
            },
            rule: Some(rule(Confidence::Low)),
        };
        let l = line(&ev);
        assert_eq!(l.matches('\n').count(), 1);
        assert!(l.ends_with('\n'));
        let v: serde_json::Value = serde_json::from_str(&l).expect("valid JSON");
        let domain = v["url"]["domain"].as_str().expect("url.domain");
        assert_eq!(domain, "x\\x0a\"|=\\x00\\xc3(\\\\.kaspersky.com");
        assert_eq!(
            super::super::escape::unescape(domain.as_bytes()).as_deref(),
            Some(raw)
        );
        assert_eq!(v["http"]["request"]["method"], "G\"E\\x0aT");
    }

    #[test]
    fn dns_types_have_mnemonics_or_rfc3597_form() {
        let mut buf = Vec::new();
        for (t, want) in [
            (1, "\"A\""),
            (28, "\"AAAA\""),
            (16, "\"TXT\""),
            (64, "\"SVCB\""),
            (65, "\"HTTPS\""),
        ] {
            buf.clear();
            write_dns_type(t, &mut buf);
            assert_eq!(buf, want.as_bytes());
        }
        buf.clear();
        write_dns_type(123, &mut buf);
        assert_eq!(buf, b"\"TYPE123\"");
        buf.clear();
        write_dns_type(65_535, &mut buf);
        assert_eq!(buf, b"\"TYPE65535\"");
    }

    #[test]
    fn buffer_is_appended_to_and_reusable_without_growth() {
        let ev = NameEvent {
            ts: TS,
            packet: u64::MAX,
            protocol: Protocol::Dns,
            endpoints: endpoints(Transport::Udp, 53),
            name: (*b"a.example").into(),
            detail: NameDetail::Dns { qtype: 1 },
            rule: None,
        };
        let mut buf = Vec::new();
        write_event(&ev, &mut buf);
        write_event(&ev, &mut buf);
        let text = String::from_utf8(buf.clone()).expect("ASCII");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0], lines[1]);
        assert!(lines[0].contains(r#""packet":18446744073709551615"#));
        // Steady state: clearing and rewriting does not need more capacity.
        let cap = buf.capacity();
        for _ in 0..100 {
            buf.clear();
            write_event(&ev, &mut buf);
        }
        assert_eq!(buf.capacity(), cap);
    }
}
