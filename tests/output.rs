//! Output through the public API: every name the corpus oracle knows, and
//! hostile names, through every format (JSON lines, inventory JSON and CSV,
//! the summary).

use std::fs;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use phonehome::event::{Endpoints, Event, NameDetail, NameEvent, Protocol, Transport};
use phonehome::inventory::Inventory;
use phonehome::output::escape::unescape;
use phonehome::output::inventory_file::{write_inventory_csv, write_inventory_json};
use phonehome::output::{EventSink, Filter, JsonLinesSink, Totals, json, write_summary};
use phonehome::signatures::{Confidence, Rule};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/expected")
}

/// Every name in the oracle files, with the protocol it was seen in.
fn corpus_names() -> Vec<(Protocol, Vec<u8>)> {
    let mut out = Vec::new();
    let mut files: Vec<PathBuf> = fs::read_dir(corpus_dir())
        .expect("tests/corpus/expected must exist")
        .map(|e| e.expect("readable dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 100,
        "corpus oracle files missing: {}",
        files.len()
    );
    for f in files {
        let v: serde_json::Value =
            serde_json::from_slice(&fs::read(&f).expect("read oracle")).expect("oracle is JSON");
        for (key, field, proto) in [
            ("dns_queries", "name", Protocol::Dns),
            ("tls_sni", "sni", Protocol::Tls),
            ("http_host", "host", Protocol::Http),
            ("quic_sni", "sni", Protocol::Quic),
        ] {
            for rec in v[key].as_array().expect("oracle list") {
                let name = rec[field].as_str().expect("oracle name");
                out.push((proto, name.as_bytes().to_vec()));
            }
        }
    }
    out
}

fn rule(confidence: Confidence) -> Arc<Rule> {
    Arc::new(Rule {
        id: "test-0001".into(),
        pattern: "*".into(),
        vendor: "test".into(),
        category: "website_browsing".into(),
        confidence,
        source: String::new(),
        note: String::new(),
    })
}

fn event(i: u64, proto: Protocol, name: &[u8], rule: Option<Arc<Rule>>) -> NameEvent {
    let detail = match proto {
        Protocol::Dns => NameDetail::Dns {
            qtype: (i % 70) as u16,
        },
        Protocol::Tls => NameDetail::Tls {
            ech: i.is_multiple_of(2),
        },
        Protocol::Http => NameDetail::Http {
            method: (*b"GET").into(),
        },
        Protocol::Quic => NameDetail::Quic {
            version: 0x6b33_43cf,
            ech: i.is_multiple_of(2),
        },
    };
    NameEvent {
        ts: 1_700_000_000_000_000_000 + i * 1_000_003,
        packet: i + 1,
        protocol: proto,
        endpoints: Endpoints {
            transport: if proto == Protocol::Tls || proto == Protocol::Http {
                Transport::Tcp
            } else {
                Transport::Udp
            },
            src_ip: IpAddr::V4(Ipv4Addr::new(10, 1, (i / 256 % 4) as u8, (i % 256) as u8)),
            src_port: 1024 + (i % 60_000) as u16,
            dst_ip: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
            dst_port: 443,
            src_mac: (!i.is_multiple_of(3)).then_some([2, 0, 0, 0, (i >> 8) as u8, i as u8]),
            vlan: i.is_multiple_of(5).then_some((i % 4095) as u16),
        },
        name: name.into(),
        detail,
        rule,
    }
}

/// The JSON path where each protocol puts its name.
fn name_of(v: &serde_json::Value, proto: Protocol) -> &str {
    let n = match proto {
        Protocol::Dns => &v["dns"]["question"]["name"],
        Protocol::Tls | Protocol::Quic => &v["tls"]["client"]["server_name"],
        Protocol::Http => &v["url"]["domain"],
    };
    n.as_str().expect("name field is a string")
}

#[test]
fn every_corpus_name_is_one_valid_json_line_that_round_trips() {
    let names = corpus_names();
    assert!(
        names.len() > 500,
        "expected the oracle's names, got {}",
        names.len()
    );
    // The corpus must exercise the escaping, not only plain names.
    assert!(names.iter().any(|(_, n)| n.iter().any(|&b| b >= 0x80)));
    assert!(names.iter().any(|(_, n)| n.contains(&b'\\')));

    let mut buf = Vec::new();
    for (i, (proto, name)) in names.iter().enumerate() {
        let r = (i.is_multiple_of(2)).then(|| rule(Confidence::Low));
        let ev = event(i as u64, *proto, name, r.clone());
        buf.clear();
        json::write_event(&ev, &mut buf);
        assert_eq!(buf.last(), Some(&b'\n'));
        assert_eq!(
            buf.iter().filter(|&&b| b == b'\n').count(),
            1,
            "one line for {name:?}"
        );
        assert!(
            buf.iter()
                .all(|&b| b == b'\n' || (0x20..=0x7e).contains(&b)),
            "ASCII only"
        );
        let v: serde_json::Value = serde_json::from_slice(&buf).expect("valid JSON line");
        let back = unescape(name_of(&v, *proto).as_bytes()).expect("escaped name");
        assert_eq!(&back, name, "round trip of {name:?}");
        assert_eq!(v["network"]["protocol"], proto.as_str());
        let want_kind = if r.is_some() { "alert" } else { "event" };
        assert_eq!(v["event"]["kind"], want_kind);
        assert_eq!(v["phonehome"]["packet"], (i + 1) as u64);
    }
}

/// A writer tests can read after the sink owns it.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn hostile_names_through_every_format() {
    let hostile: Vec<Vec<u8>> = vec![
        b"a\nb.kaspersky.com".to_vec(),
        b"\"quote\".kaspersky.com".to_vec(),
        b"pipe|eq=.kaspersky.com".to_vec(),
        b"nul\x00.kaspersky.com".to_vec(),
        b"bad\xc3\x28utf8.kaspersky.com".to_vec(),
        b"=HYPERLINK(\"x\").kaspersky.com".to_vec(),
        b"\x1b]0;title\x07.kaspersky.com".to_vec(),
        (0u8..=255).collect(),
    ];
    let high = rule(Confidence::High);
    let shared = Shared::default();
    let mut sink = JsonLinesSink::from_writer(Box::new(shared.clone()), Filter::ALL);
    let mut inv = Inventory::new();
    for (i, name) in hostile.iter().enumerate() {
        let proto = [Protocol::Dns, Protocol::Tls, Protocol::Http, Protocol::Quic][i % 4];
        let ev = Event::Name(event(i as u64, proto, name, Some(high.clone())));
        sink.event(&ev).expect("write");
        inv.event(&ev).expect("record");
    }
    sink.flush().expect("flush");
    assert_eq!(sink.written(), hostile.len() as u64);

    let lines = shared.0.lock().expect("lock").clone();
    let text = String::from_utf8(lines).expect("ASCII");
    assert_eq!(text.lines().count(), hostile.len());
    for (line, name) in text.lines().zip(&hostile) {
        let v: serde_json::Value = serde_json::from_str(line).expect("valid JSON");
        assert_eq!(v["event"]["dataset"], "phonehome.alert");
        assert_eq!(v["phonehome"]["confidence"], "high");
        let proto = match v["network"]["protocol"].as_str() {
            Some("dns") => Protocol::Dns,
            Some("tls") => Protocol::Tls,
            Some("http") => Protocol::Http,
            _ => Protocol::Quic,
        };
        assert_eq!(
            unescape(name_of(&v, proto).as_bytes()).as_deref(),
            Some(&name[..])
        );
    }

    // Inventory JSON: valid, ASCII, every host present.
    let mut out = Vec::new();
    write_inventory_json(&mut out, &inv).expect("inventory json");
    assert!(
        out.iter()
            .all(|&b| b == b'\n' || (0x20..=0x7e).contains(&b))
    );
    let v: serde_json::Value = serde_json::from_slice(&out).expect("valid inventory JSON");
    assert_eq!(v["hosts"].as_array().map(Vec::len), Some(inv.len()));

    // Inventory CSV: only CRLF line breaks, one row per host×name plus header;
    // no cell starts with a formula character.
    out.clear();
    write_inventory_csv(&mut out, &inv).expect("inventory csv");
    let csv = String::from_utf8(out.clone()).expect("ASCII");
    assert!(!csv.replace("\r\n", "").contains(['\r', '\n']));
    assert_eq!(csv.split_terminator("\r\n").count(), 1 + hostile.len());
    assert!(
        csv.contains(",\"'=hyperlink(\"\"x\"\").kaspersky.com\","),
        "{csv}"
    );

    // Summary: printable ASCII and newlines only.
    out.clear();
    write_summary(&mut out, &inv, &Totals::default()).expect("summary");
    assert!(
        out.iter()
            .all(|&b| b == b'\n' || (0x20..=0x7e).contains(&b))
    );
    assert!(
        String::from_utf8(out)
            .expect("ASCII")
            .contains("\\x1b]0;title\\x07.kaspersky.com")
    );
}

#[test]
fn corpus_names_aggregate_into_a_bounded_deterministic_inventory() {
    let names = corpus_names();
    let r = rule(Confidence::Medium);
    let mut a = Inventory::new();
    let mut b = Inventory::new();
    for (i, (proto, name)) in names.iter().enumerate() {
        a.observe(&event(i as u64, *proto, name, Some(r.clone())));
    }
    // Same events in reverse order: same inventory (min/max times, sets).
    for (i, (proto, name)) in names.iter().enumerate().rev() {
        b.observe(&event(i as u64, *proto, name, Some(r.clone())));
    }
    let render = |inv: &Inventory| {
        let mut out = Vec::new();
        write_inventory_json(&mut out, inv).expect("json");
        write_inventory_csv(&mut out, inv).expect("csv");
        out
    };
    assert_eq!(render(&a), render(&b));
    let total: u64 = a.hosts_sorted().iter().map(|h| h.alerts()).sum();
    assert_eq!(total, names.len() as u64);
}

#[test]
fn json_lines_file_sink_writes_and_truncates() {
    let path = std::env::temp_dir().join(format!("phonehome-out-{}.jsonl", std::process::id()));
    fs::write(&path, b"old content\n").expect("seed file");
    let mut sink = JsonLinesSink::create(&path, Filter::ALERTS).expect("create");
    sink.event(&Event::Name(event(
        1,
        Protocol::Dns,
        b"x.kaspersky.com",
        Some(rule(Confidence::High)),
    )))
    .expect("alert");
    sink.event(&Event::Name(event(2, Protocol::Dns, b"example.org", None)))
        .expect("name");
    sink.flush().expect("flush");
    drop(sink);
    let text = fs::read_to_string(&path).expect("read back");
    let _ = fs::remove_file(&path);
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.contains(r#""dataset":"phonehome.alert""#));
    assert!(!text.contains("old content"));
}

#[test]
fn sink_to_missing_directory_names_the_file() {
    let path = Path::new("/nonexistent-phonehome-dir/out.jsonl");
    let err = JsonLinesSink::create(path, Filter::BOTH)
        .err()
        .expect("must fail");
    assert!(
        err.to_string()
            .contains("/nonexistent-phonehome-dir/out.jsonl"),
        "{err}"
    );
}
