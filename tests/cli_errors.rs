//! Damaged and unreadable inputs through the real binary: a one-line error
//! naming the file and the offset, exit code 3, no panic, and every result
//! before the damage still written.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn tmpdir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("phonehome-cli-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn demo_bytes() -> Vec<u8> {
    std::fs::read(common::root().join("tests/data/demo.pcap")).unwrap()
}

fn run(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_phonehome"))
        .args(args)
        .output()
        .expect("run phonehome")
}

fn read(file: &Path, alerts: &Path) -> Output {
    run(&[
        "read".as_ref(),
        "--no-progress".as_ref(),
        "--every-sighting".as_ref(),
        "--workers".as_ref(),
        "1".as_ref(),
        file.as_os_str(),
        "--alerts".as_ref(),
        alerts.as_os_str(),
    ])
}

/// The error lines phonehome printed (stderr lines starting with its name).
fn error_lines(o: &Output) -> Vec<String> {
    String::from_utf8_lossy(&o.stderr)
        .lines()
        .filter(|l| l.starts_with("phonehome: error:"))
        .map(str::to_string)
        .collect()
}

fn assert_no_panic(o: &Output) {
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(!e.contains("panicked"), "{e}");
}

/// Offsets of each record in a classic little-endian pcap: (start, end).
fn pcap_records(b: &[u8]) -> Vec<(usize, usize)> {
    let mut v = Vec::new();
    let mut off = 24;
    while off + 16 <= b.len() {
        let caplen = u32::from_le_bytes(b[off + 8..off + 12].try_into().unwrap()) as usize;
        v.push((off, off + 16 + caplen));
        off += 16 + caplen;
    }
    v
}

#[test]
fn truncated_capture_keeps_results_before_the_damage() {
    let d = tmpdir();
    let full = demo_bytes();
    let recs = pcap_records(&full);
    // Cut in the middle of the record of packet 1000.
    let (start, end) = recs[999];
    let cut = d.join("cut.pcap");
    std::fs::write(&cut, &full[..(start + end) / 2]).unwrap();

    let all_alerts = d.join("all.jsonl");
    let o = read(&common::root().join("tests/data/demo.pcap"), &all_alerts);
    assert!(o.status.success());
    let cut_alerts = d.join("cut.jsonl");
    let o = read(&cut, &cut_alerts);
    assert_no_panic(&o);
    assert_eq!(o.status.code(), Some(3));
    let errs = error_lines(&o);
    assert_eq!(errs.len(), 1, "{errs:?}");
    let e = &errs[0];
    assert!(e.contains("cut.pcap"), "{e}");
    assert!(e.contains(&format!("byte offset {start}")), "{e}");
    assert!(e.contains("after packet 999"), "{e}");

    // Exactly the alerts of packets 1..=999.
    let want: Vec<String> = std::fs::read_to_string(&all_alerts)
        .unwrap()
        .lines()
        .filter(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["phonehome"]["packet"].as_u64().unwrap() <= 999
        })
        .map(str::to_string)
        .collect();
    let got: Vec<String> = std::fs::read_to_string(&cut_alerts)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert!(!want.is_empty());
    assert_eq!(got, want);
    // The summary still shows the hosts found before the damage.
    assert!(String::from_utf8_lossy(&o.stdout).contains("Hosts phoning home:"));
}

#[test]
fn zero_length_wrong_magic_and_absurd_caplen_are_clear_errors() {
    let d = tmpdir();
    let full = demo_bytes();
    let empty = d.join("empty.pcap");
    std::fs::write(&empty, b"").unwrap();
    let magic = d.join("magic.pcap");
    std::fs::write(&magic, b"GIF89a not a capture at all, just some bytes here").unwrap();
    let absurd = d.join("absurd.pcap");
    let mut b = full.clone();
    let (start, _) = pcap_records(&full)[2];
    b[start + 8..start + 12].copy_from_slice(&0x7fff_fff0u32.to_le_bytes());
    std::fs::write(&absurd, &b).unwrap();

    for (file, what, offset) in [
        (&empty, "empty", 0usize),
        (&magic, "magic", 0),
        (&absurd, "captured length", start),
    ] {
        let o = read(file, &d.join("x.jsonl"));
        assert_no_panic(&o);
        assert_eq!(o.status.code(), Some(3), "{}", file.display());
        let errs = error_lines(&o);
        assert_eq!(errs.len(), 1, "{errs:?}");
        let e = errs[0].to_lowercase();
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        assert!(e.contains(&name), "{e}");
        assert!(e.contains(what), "{e}");
        assert!(e.contains(&format!("offset {offset}")), "{e}");
    }
}

#[test]
fn missing_file_is_reported_and_other_files_are_still_read() {
    let d = tmpdir();
    let alerts = d.join("m.jsonl");
    let o = run(&[
        "read".as_ref(),
        "--no-progress".as_ref(),
        d.join("does-not-exist.pcap").as_os_str(),
        common::root().join("tests/data/demo.pcap").as_os_str(),
        "--alerts".as_ref(),
        alerts.as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(3));
    let errs = error_lines(&o);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].contains("does-not-exist.pcap"), "{}", errs[0]);
    let n = std::fs::read_to_string(&alerts).unwrap().lines().count();
    assert!(n > 0, "the second file was not read");
}

#[test]
fn usage_errors_exit_2_and_bad_inventory_extension_exits_1() {
    let o = run(&["read".as_ref()]);
    assert_eq!(o.status.code(), Some(2));
    let o = run(&["read".as_ref(), "--bogus".as_ref(), "x.pcap".as_ref()]);
    assert_eq!(o.status.code(), Some(2));
    let o = run(&[
        "read".as_ref(),
        common::root().join("tests/data/demo.pcap").as_os_str(),
        "--inventory".as_ref(),
        "inv.xml".as_ref(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("inv.xml"));
}

#[test]
fn fuzzed_and_hostile_corpus_files_never_crash_the_binary() {
    let corpus = common::root().join("tests/corpus/pcaps");
    let mut n = 0;
    for e in std::fs::read_dir(&corpus).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if !(name.contains("fuzz")
            || name.contains("zlip")
            || name.contains("malformed")
            || name.contains("truncated"))
        {
            continue;
        }
        n += 1;
        let o = read(&p, &tmpdir().join("f.jsonl"));
        assert_no_panic(&o);
        assert!(
            o.status.code() == Some(0) || o.status.code() == Some(3),
            "{name}: {:?}",
            o.status
        );
    }
    assert!(n >= 4, "only {n} hostile files found");
}
