//! The bundled demo capture against the generator's ground truth
//! (tests/data/demo.truth.json), and golden files pinning the alert and
//! inventory outputs (tests/golden/). Regenerate the golden files after a
//! reviewed change with `PHONEHOME_BLESS=1 cargo test --test demo`.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use phonehome::event::{Event, NameDetail};

fn demo() -> PathBuf {
    common::root().join("tests/data/demo.pcap")
}

fn truth() -> serde_json::Value {
    let p = common::root().join("tests/data/demo.truth.json");
    serde_json::from_slice(&std::fs::read(p).expect("truth file")).expect("truth json")
}

/// (packet, protocol, client ip, client port, name)
type Key = (u64, String, String, u64, String);

#[test]
fn every_name_and_alert_matches_the_ground_truth() {
    let t = truth();
    let (report, events) = common::run(&[&demo()], 1);
    assert!(!report.input_failed());

    let mut got_names: BTreeMap<Key, &phonehome::event::NameEvent> = BTreeMap::new();
    for ev in &events {
        if let Event::Name(n) = ev {
            let key = (
                n.packet,
                n.protocol.as_str().to_string(),
                n.endpoints.src_ip.to_string(),
                u64::from(n.endpoints.src_port),
                String::from_utf8_lossy(&n.name).into_owned(),
            );
            assert!(
                got_names.insert(key.clone(), n).is_none(),
                "duplicate {key:?}"
            );
        }
    }
    let mut want: BTreeSet<Key> = BTreeSet::new();
    for n in t["names"].as_array().unwrap() {
        let key = (
            n["packet"].as_u64().unwrap(),
            n["protocol"].as_str().unwrap().to_string(),
            n["client_ip"].as_str().unwrap().to_string(),
            n["client_port"].as_u64().unwrap(),
            n["name"].as_str().unwrap().to_string(),
        );
        let Some(ev) = got_names.get(&key) else {
            panic!("truth name not found: {key:?}");
        };
        // Server side and link layer.
        assert_eq!(
            ev.endpoints.dst_ip.to_string(),
            n["server_ip"].as_str().unwrap(),
            "{key:?}"
        );
        assert_eq!(
            u64::from(ev.endpoints.dst_port),
            n["server_port"].as_u64().unwrap(),
            "{key:?}"
        );
        assert_eq!(
            ev.endpoints.vlan.map(u64::from),
            n["vlan"].as_u64(),
            "{key:?}"
        );
        let mac = ev.endpoints.src_mac.map(|m| {
            m.iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(":")
        });
        assert_eq!(mac.as_deref(), n["client_mac"].as_str(), "{key:?}");
        assert_eq!(ev.ts, n["ts_ns"].as_u64().unwrap(), "{key:?}");
        if let NameDetail::Dns { qtype } = ev.detail {
            assert_eq!(u64::from(qtype), n["qtype"].as_u64().unwrap(), "{key:?}");
        }
        if let NameDetail::Tls { ech } = ev.detail {
            assert_eq!(ech, n["tls"]["ech"].as_bool().unwrap(), "{key:?}");
        }
        // The alert, exactly when the truth expects one, with its rule.
        match (&ev.rule, n["expected"].is_object()) {
            (Some(r), true) => {
                let e = &n["expected"];
                assert_eq!(r.pattern, e["pattern"].as_str().unwrap(), "{key:?}");
                assert_eq!(r.category, e["category"].as_str().unwrap(), "{key:?}");
                assert_eq!(
                    r.confidence.as_str(),
                    e["confidence"].as_str().unwrap(),
                    "{key:?}"
                );
                assert_eq!(r.vendor, "kaspersky");
            }
            (None, false) => {}
            (r, _) => panic!(
                "{key:?}: alert {:?}, truth expects one: {}",
                r.as_ref().map(|r| &r.pattern),
                n["expected"].is_object()
            ),
        }
        if n["lookalike"].as_bool() == Some(true) {
            assert!(ev.rule.is_none(), "look-alike alerted: {key:?}");
        }
        want.insert(key);
    }
    let extra: Vec<_> = got_names.keys().filter(|k| !want.contains(*k)).collect();
    assert!(extra.is_empty(), "names not in the truth: {extra:?}");
    let c = &t["counts"];
    assert_eq!(report.stats.alerts, c["alerts"].as_u64().unwrap());
    assert_eq!(report.stats.dns_queries, c["dns_queries"].as_u64().unwrap());
    assert_eq!(
        report.stats.tls_hellos,
        c["tls_client_hellos"].as_u64().unwrap()
    );
    assert_eq!(
        report.stats.http_requests,
        c["http_requests"].as_u64().unwrap()
    );
    assert_eq!(report.stats.packets, c["packets"].as_u64().unwrap());
}

#[test]
fn inventory_names_exactly_the_hosts_phoning_home_with_their_confidence() {
    let t = truth();
    let (report, _) = common::run(&[&demo()], 1);
    let mut want: BTreeMap<String, String> = BTreeMap::new();
    for h in t["hosts"].as_array().unwrap() {
        let c = h["expected_confidence"].as_str().unwrap();
        if c != "none" {
            want.insert(h["ip"].as_str().unwrap().into(), c.into());
        }
    }
    let got: BTreeMap<String, String> = report
        .inventory
        .hosts_sorted()
        .iter()
        .map(|h| (h.ip().to_string(), h.confidence().as_str().to_string()))
        .collect();
    assert_eq!(got, want);
    // The person who only browsed the vendor's site stays low.
    assert!(want.values().any(|c| c == "low"));
}

#[test]
fn results_are_identical_with_one_and_two_workers() {
    let (_, one) = common::run(&[&demo()], 1);
    let (_, two) = common::run(&[&demo()], 2);
    let (_, three) = common::run(&[&demo()], 3);
    let fmt = |evs: &[Event]| -> Vec<String> { evs.iter().map(|e| format!("{e:?}")).collect() };
    assert!(!one.is_empty());
    assert_eq!(fmt(&one), fmt(&two));
    assert_eq!(fmt(&one), fmt(&three));
}

/// Compare `got` with the golden file, or rewrite it when blessing.
fn golden(name: &str, got: &[u8]) {
    let path = common::root().join("tests/golden").join(name);
    if std::env::var_os("PHONEHOME_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, got).unwrap();
        return;
    }
    let want = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (PHONEHOME_BLESS=1 creates it)", path.display()));
    if want != got {
        let w = String::from_utf8_lossy(&want);
        let g = String::from_utf8_lossy(got);
        for (i, (a, b)) in w.lines().zip(g.lines()).enumerate() {
            assert_eq!(a, b, "{name}: first difference at line {}", i + 1);
        }
        panic!(
            "{name}: differs in length ({} vs {} lines)",
            w.lines().count(),
            g.lines().count()
        );
    }
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("phonehome-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn cli_outputs_are_pinned_by_golden_files() {
    let (alerts, names, inv_json, inv_csv) = (
        tmp("alerts.jsonl"),
        tmp("names.jsonl"),
        tmp("inv.json"),
        tmp("inv.csv"),
    );
    for (workers, inv) in [("1", &inv_json), ("2", &inv_csv)] {
        let out = Command::new(env!("CARGO_BIN_EXE_phonehome"))
            .args([
                "read",
                "--no-progress",
                "--every-sighting",
                "--workers",
                workers,
            ])
            .arg(demo())
            .arg("--alerts")
            .arg(&alerts)
            .arg("--names")
            .arg(&names)
            .arg("--inventory")
            .arg(inv)
            .output()
            .expect("run phonehome");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let summary = String::from_utf8_lossy(&out.stdout);
        assert!(
            summary.contains("Hosts phoning home: 5 (3 high, 1 medium, 1 low confidence)"),
            "{summary}"
        );
        golden("demo.alerts.jsonl", &std::fs::read(&alerts).unwrap());
        golden("demo.names.jsonl", &std::fs::read(&names).unwrap());
        // The names log: every name of the capture once, as a name record.
        let log = std::fs::read_to_string(&names).unwrap();
        assert_eq!(
            log.lines().count() as u64,
            truth()["counts"]["names"].as_u64().unwrap()
        );
        assert!(log.lines().all(|l| l.contains(r#""kind":"event""#)));
    }
    golden("demo.inventory.json", &std::fs::read(&inv_json).unwrap());
    // The default alert policy: first sightings at once, hourly roll-ups.
    let rolled = tmp("rolled.jsonl");
    let out = Command::new(env!("CARGO_BIN_EXE_phonehome"))
        .args(["read", "--no-progress", "--workers", "2"])
        .arg(demo())
        .arg("--alerts")
        .arg(&rolled)
        .output()
        .expect("run phonehome");
    assert!(out.status.success());
    golden("demo.alerts.rollup.jsonl", &std::fs::read(&rolled).unwrap());
    // Every sighting is accounted for: alerts + roll-up counts = sightings.
    // Derived (attribution) alerts carry a `phonehome.channel` and are
    // written once per host, kind and rule per interval.
    let (mut accounted, mut derived) = (0, 0);
    for line in std::fs::read_to_string(&rolled).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if v["phonehome"]["channel"].is_string() {
            assert_eq!(v["phonehome"]["channel"], "dns-correlated");
            derived += 1;
            continue;
        }
        accounted += v["phonehome"]["rollup"]["count"].as_u64().unwrap_or(1);
    }
    assert_eq!(accounted, truth()["counts"]["alerts"].as_u64().unwrap());
    assert!(derived > 0, "no dns-correlated alert");
    golden("demo.inventory.csv", &std::fs::read(&inv_csv).unwrap());
    // Every line of both JSON-lines files is one JSON object.
    for f in [&alerts, &names] {
        for line in std::fs::read_to_string(f).unwrap().lines() {
            let v: serde_json::Value = serde_json::from_str(line).expect("valid JSON line");
            assert!(v.is_object());
        }
    }
}

#[test]
fn json_flag_prints_alerts_on_stdout_and_summary_on_stderr() {
    let out = Command::new(env!("CARGO_BIN_EXE_phonehome"))
        .args([
            "read",
            "--no-progress",
            "--every-sighting",
            "--json",
            "--workers",
            "1",
        ])
        .arg(demo())
        .output()
        .expect("run phonehome");
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    // Direct sightings; derived dns-correlated alerts come on top.
    let lines: Vec<&str> = stdout
        .lines()
        .filter(|l| !l.contains(r#""channel":"dns-correlated""#))
        .collect();
    assert_eq!(
        lines.len() as u64,
        truth()["counts"]["alerts"].as_u64().unwrap()
    );
    for l in &lines {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        assert_eq!(v["event"]["kind"], "alert");
    }
    assert!(String::from_utf8_lossy(&out.stderr).contains("Hosts phoning home: 5"));
}

#[test]
fn gzip_capture_gives_the_same_alerts() {
    use std::io::Write;
    let gz = tmp("demo.pcap.gz");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::fast(),
    );
    enc.write_all(&std::fs::read(demo()).unwrap()).unwrap();
    enc.finish().unwrap();
    let (_, plain) = common::run(&[&demo()], 1);
    let (r, zipped) = common::run(&[Path::new(&gz)], 1);
    assert!(!r.input_failed());
    let fmt = |evs: &[Event]| -> Vec<String> { evs.iter().map(|e| format!("{e:?}")).collect() };
    assert_eq!(fmt(&plain), fmt(&zipped));
}

#[test]
fn summary_shows_the_visibility_figure() {
    let out = Command::new(env!("CARGO_BIN_EXE_phonehome"))
        .args(["read", "--no-progress"])
        .arg(demo())
        .arg(common::root().join("tests/corpus/pcaps/zeek__quic-quic_win11_firefox_google.pcap"))
        .args(["--stats"])
        .arg(tmp("vis.stats.json"))
        .output()
        .expect("run phonehome");
    assert!(out.status.success());
    let s = String::from_utf8_lossy(&out.stdout);
    let c = &truth()["counts"];
    assert!(
        s.contains("Visibility (seen, names extracted, and why not)"),
        "{s}"
    );
    assert!(
        s.contains(&format!(
            "  tls   {0} client hellos, {0} names",
            c["tls_client_hellos"]
        )),
        "{s}"
    );
    assert!(s.contains("  quic  "), "{s}");
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp("vis.stats.json")).unwrap()).unwrap();
    let rows = v["visibility"].as_array().unwrap();
    let dns = rows.iter().find(|r| r["protocol"] == "dns").unwrap();
    assert_eq!(dns["names"], c["dns_queries"]);
}

#[test]
fn the_inventory_says_which_hellos_hid_their_destination_with_ech() {
    let t = truth();
    let want = t["names"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["expected"].is_object() && n["tls"]["ech"].as_bool() == Some(true))
        .count() as u64;
    let (report, _) = common::run(&[&demo()], 1);
    let got: u64 = report
        .inventory
        .hosts_sorted()
        .iter()
        .flat_map(|h| h.names_sorted().into_iter().map(|(_, e)| e.ech()))
        .sum();
    assert!(want > 0);
    assert_eq!(got, want);
}
