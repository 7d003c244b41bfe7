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

/// Files whose oracle names we do not find yet, by protocol, with why. It
/// is empty: a new row must show that the oracle is wrong.
const EXCEPTIONS: &[(&str, &str, &str)] = &[
    // (file, protocol, reason)
];

/// A capture must be processed within this time (hang detection).
const PER_FILE_TIMEOUT: Duration = Duration::from_secs(60);

/// tshark's text for the root name (a query for `.`).
const TSHARK_ROOT: &str = "<Root>";
/// tshark's text for a name holding an extended label type (0x40/0x80,
/// RFC 6891 §5): a placeholder, not the name, which nobody can read.
const TSHARK_EXTENDED_LABEL: &str = "<Unknown extended label>";

/// tshark writes non-printable bytes of a DNS name as `\ddd` (octal), or
/// as C escapes (`\r`, `\t`, ...) for the seven that have one, and the
/// root name as `<Root>`; a `\` or `.` inside a label is written raw.
/// phonehome's events carry the raw bytes (root: empty). Undo tshark's
/// escaping.
fn tshark_unescape(s: &str) -> String {
    if s == TSHARK_ROOT {
        return String::new();
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let c_escape = match b.get(i + 1) {
            Some(b'a') => Some(0x07),
            Some(b'b') => Some(0x08),
            Some(b'f') => Some(0x0c),
            Some(b'n') => Some(b'\n'),
            Some(b'r') => Some(b'\r'),
            Some(b't') => Some(b'\t'),
            Some(b'v') => Some(0x0b),
            _ => None,
        };
        if b[i] == b'\\'
            && i + 4 <= b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = u32::from(b[i + 1] - b'0') * 64
                + u32::from(b[i + 2] - b'0') * 8
                + u32::from(b[i + 3] - b'0');
            out.push(v as u8);
            i += 4;
        } else if b[i] == b'\\'
            && let Some(c) = c_escape
        {
            out.push(c);
            i += 2;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).to_ascii_lowercase()
}

/// phonehome writes a `.` or `\` inside a DNS label as `\.` / `\\`
/// (`extract::dns` module doc); tshark writes both raw. Undo phonehome's
/// escaping so both sides compare in tshark's form.
fn phonehome_dns_unescape(name: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len());
    let mut i = 0;
    while let Some(&c) = name.get(i) {
        match (c, name.get(i + 1)) {
            (b'\\', Some(&next @ (b'\\' | b'.'))) => {
                out.push(next);
                i += 2;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
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
        // Frames (packet numbers) phonehome read a DNS name from.
        let mut dns_frames: BTreeSet<u64> = BTreeSet::new();
        for ev in &events {
            if let Event::Name(n) = ev {
                let proto = match n.protocol {
                    Protocol::Dns => "dns",
                    Protocol::Tls => "tls",
                    Protocol::Http => "http",
                    Protocol::Quic => "quic",
                };
                let name = if n.protocol == Protocol::Dns {
                    dns_frames.insert(n.packet);
                    String::from_utf8_lossy(&phonehome_dns_unescape(&n.name)).to_ascii_lowercase()
                } else {
                    String::from_utf8_lossy(&n.name).to_ascii_lowercase()
                };
                got.insert((proto, n.endpoints.src_ip.to_string(), name));
            }
        }
        let mut want: Vec<(&'static str, String, String)> = Vec::new();
        for q in exp["dns_queries"].as_array().unwrap() {
            if q["proto"] != "dns" {
                continue;
            }
            let src = q["src"].as_str().unwrap();
            let name = q["name"].as_str().unwrap();
            if name == TSHARK_EXTENDED_LABEL {
                // No name to compare: phonehome must not read one there
                // either (it skips the question as `bad_name`).
                checked += 1;
                for f in q["frames"].as_array().unwrap() {
                    let f = f.as_u64().unwrap();
                    if dns_frames.contains(&f) {
                        misses.insert((
                            fname.clone(),
                            "dns".into(),
                            format!("{src} frame {f}: a name where tshark reads {name}"),
                        ));
                    }
                }
                continue;
            }
            want.push(("dns", src.into(), tshark_unescape(name)));
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
