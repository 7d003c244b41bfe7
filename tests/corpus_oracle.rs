//! Golden test over the real-capture corpus (tests/corpus, see its
//! README.md): every name tshark's oracle extracts — DNS queries with
//! `proto: dns`, TLS SNI, HTTP Host — must come out of phonehome with the
//! same client IP, unless the file and protocol are listed in
//! [`EXCEPTIONS`] with the reason. The table is checked both ways: an
//! exception that no longer hides a miss fails the test, so it can only
//! shrink.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use phonehome::event::{Event, Protocol};

/// Files whose oracle names we do not find yet, by protocol, with why.
/// Later issues (tunnels, fragments, DNS over TCP, QUIC) shrink it to
/// nothing.
const EXCEPTIONS: &[(&str, &str, &str)] = &[
    // (file, protocol, reason)
    (
        "ndpi__fuzz-2006-06-26-2594.pcap",
        "dns",
        "fuzzed capture: its UDP length fields exceed the IP payload, which decode rejects as malformed_udp (as Suricata and the receiving stack do); tshark also lists names it renders as <root> or <unknown extended label>",
    ),
    (
        "ndpi__fuzz-2006-09-29-28586.pcap",
        "http",
        "fuzzed capture: frame 20's header reads `Host:%s\\x002.20.3.5` (a NUL inside the value); tshark cuts the value at the NUL, phonehome reports the raw bytes (the file's IPv4 'fragments' are fuzzed headers, not a datagram to reassemble)",
    ),
];

/// A capture must be processed within this time (hang detection).
const PER_FILE_TIMEOUT: Duration = Duration::from_secs(60);

/// tshark writes non-printable bytes of a DNS name as `\ddd` (octal);
/// phonehome's events carry the raw bytes. Undo tshark's escaping.
fn tshark_unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 4 <= b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = u32::from(b[i + 1] - b'0') * 64
                + u32::from(b[i + 2] - b'0') * 8
                + u32::from(b[i + 3] - b'0');
            out.push(v as u8);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).to_ascii_lowercase()
}

fn host_of(h: &str) -> String {
    // The oracle's http.host keeps a :port; url.domain does not.
    let h = h.trim();
    if let Some(rest) = h.strip_prefix('[') {
        return rest.split(']').next().unwrap_or("").to_string();
    }
    match h.rsplit_once(':') {
        Some((a, p)) if !a.contains(':') && p.bytes().all(|b| b.is_ascii_digit()) => a.to_string(),
        _ => h.to_string(),
    }
}

#[test]
fn every_oracle_name_is_found() {
    let root = common::root().join("tests/corpus");
    let mut files: Vec<_> = std::fs::read_dir(root.join("pcaps"))
        .expect("tests/corpus/pcaps exists")
        .map(|e| e.expect("dir entry").path())
        .collect();
    files.sort();
    assert!(
        files.len() >= 100,
        "corpus incomplete: {} files",
        files.len()
    );

    let mut misses: BTreeSet<(String, String, String)> = BTreeSet::new();
    let mut explained: BTreeSet<(String, String)> = BTreeSet::new();
    let mut checked = 0usize;
    for path in &files {
        let fname = path.file_name().unwrap().to_string_lossy().to_string();
        let exp_path = root.join("expected").join(format!("{fname}.json"));
        let exp: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&exp_path).expect("oracle file"))
                .expect("oracle json");

        let (tx, rx) = mpsc::channel();
        let p = path.clone();
        std::thread::spawn(move || {
            let r = common::run(&[Path::new(&p)], 1);
            let _ = tx.send(r);
        });
        let (_report, events) = rx.recv_timeout(PER_FILE_TIMEOUT).unwrap_or_else(|_| {
            panic!("{fname}: crashed or took longer than {PER_FILE_TIMEOUT:?}")
        });

        let mut got: BTreeSet<(&'static str, String, String)> = BTreeSet::new();
        for ev in &events {
            if let Event::Name(n) = ev {
                let proto = match n.protocol {
                    Protocol::Dns => "dns",
                    Protocol::Tls => "tls",
                    Protocol::Http => "http",
                    Protocol::Quic => "quic",
                };
                let name = String::from_utf8_lossy(&n.name).to_ascii_lowercase();
                got.insert((proto, n.endpoints.src_ip.to_string(), name));
            }
        }
        let mut want: Vec<(&'static str, String, String)> = Vec::new();
        for q in exp["dns_queries"].as_array().unwrap() {
            if q["proto"] == "dns" {
                want.push((
                    "dns",
                    q["src"].as_str().unwrap().into(),
                    tshark_unescape(q["name"].as_str().unwrap()),
                ));
            }
        }
        for t in exp["tls_sni"].as_array().unwrap() {
            want.push((
                "tls",
                t["src"].as_str().unwrap().into(),
                t["sni"].as_str().unwrap().to_ascii_lowercase(),
            ));
        }
        for h in exp["http_host"].as_array().unwrap() {
            want.push((
                "http",
                h["src"].as_str().unwrap().into(),
                host_of(h["host"].as_str().unwrap()).to_ascii_lowercase(),
            ));
        }
        let oracle_incomplete = exp["manual_tags"]
            .as_array()
            .is_some_and(|t| t.iter().any(|x| x == "oracle-incomplete"));
        if !oracle_incomplete {
            for q in exp["quic_sni"].as_array().unwrap() {
                want.push((
                    "quic",
                    q["src"].as_str().unwrap().into(),
                    q["sni"].as_str().unwrap().to_ascii_lowercase(),
                ));
            }
        }
        for w in want {
            checked += 1;
            if got.contains(&w) {
                continue;
            }
            let exception = EXCEPTIONS.iter().any(|(f, p, _)| *f == fname && *p == w.0);
            if exception {
                explained.insert((fname.clone(), w.0.to_string()));
            } else {
                misses.insert((fname.clone(), w.0.to_string(), format!("{} {}", w.1, w.2)));
            }
        }
    }
    let stale: Vec<_> = EXCEPTIONS
        .iter()
        .filter(|(f, p, _)| !explained.contains(&(f.to_string(), p.to_string())))
        .collect();
    let mut msg = String::new();
    for (f, p, n) in &misses {
        msg.push_str(&format!("MISSED {f} {p}: {n}\n"));
    }
    for (f, p, why) in &stale {
        msg.push_str(&format!(
            "STALE EXCEPTION {f} {p} ({why}): nothing missed any more, remove it\n"
        ));
    }
    assert!(msg.is_empty(), "{checked} oracle names checked\n{msg}");
    assert!(checked > 400, "only {checked} oracle names checked");
}
