//! `phonehome live` end to end on a real interface: a veth pair inside a
//! network namespace this test creates (nothing leaves the machine), the
//! demo capture replayed into one end with `tcpreplay`, the binary capturing
//! on the other. Needs root (CI runs as root) and tcpreplay (`.ci/run`
//! installs it). Without root the tests fail, unless PHONEHOME_SKIP_LIVE=1
//! says to skip them on purpose, which they then print.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn skip() -> bool {
    if std::env::var_os("PHONEHOME_SKIP_LIVE").is_some() {
        eprintln!("SKIPPED on request (PHONEHOME_SKIP_LIVE): live capture tests not run");
        return true;
    }
    let uid = Command::new("id").arg("-u").output().expect("id");
    assert_eq!(
        String::from_utf8_lossy(&uid.stdout).trim(),
        "0",
        "live capture tests need root (CAP_NET_ADMIN for veth, CAP_NET_RAW to capture); \
         set PHONEHOME_SKIP_LIVE=1 to skip them knowingly"
    );
    assert!(
        Command::new("tcpreplay").arg("-V").output().is_ok(),
        "tcpreplay is missing: apt-get install tcpreplay"
    );
    false
}

/// A network namespace with a veth pair `ph-in`↔`ph-cap`, removed on drop.
struct Netns {
    name: String,
}

impl Netns {
    fn new(tag: &str) -> Netns {
        use std::sync::atomic::{AtomicU32, Ordering};
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let seq = SEQ.fetch_add(1, Ordering::Relaxed);
        let name = format!("phl{tag}-{}-{seq}", std::process::id());
        let ns = Netns { name };
        ns.ip(&["netns", "add", &ns.name]);
        // No IPv6 on the pair: the kernel would send its own router and
        // multicast-listener solicitations, which the tests count.
        ns.exec("sysctl", &["-q", "-w", "net.ipv6.conf.all.disable_ipv6=1"]);
        ns.exec(
            "sysctl",
            &["-q", "-w", "net.ipv6.conf.default.disable_ipv6=1"],
        );
        for args in [
            &[
                "link", "add", "ph-in", "type", "veth", "peer", "name", "ph-cap",
            ][..],
            &["link", "set", "ph-in", "up"],
            &["link", "set", "ph-cap", "up"],
            &["link", "set", "lo", "up"],
        ] {
            ns.exec("ip", args);
        }
        ns
    }
    fn ip(&self, args: &[&str]) {
        let st = Command::new("ip").args(args).status().expect("ip");
        assert!(st.success(), "ip {args:?}");
    }
    fn exec(&self, prog: &str, args: &[&str]) {
        let st = Command::new("ip")
            .args(["netns", "exec", &self.name, prog])
            .args(args)
            .status()
            .expect("ip netns exec");
        assert!(st.success(), "{prog} {args:?}");
    }
    /// Start phonehome and wait until it says it is capturing.
    fn spawn(&self, prog: &Path, args: &[&str]) -> Running {
        self.spawn_via(&[], prog, args)
    }

    /// As `spawn`, with `prefix` (e.g. `setpriv ...`) before the program.
    fn spawn_via(&self, prefix: &[&str], prog: &Path, args: &[&str]) -> Running {
        use std::io::BufRead;
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.name])
            .args(prefix)
            .arg(prog)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let err = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().expect("piped stderr");
        let sink = Arc::clone(&err);
        let reader = std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        let deadline = Instant::now() + Duration::from_secs(15);
        while !err.lock().unwrap().contains("capturing on") {
            if let Ok(Some(st)) = child.try_wait() {
                panic!("phonehome exited early ({st}): {}", err.lock().unwrap());
            }
            assert!(
                Instant::now() < deadline,
                "phonehome did not start capturing"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        // The sockets are bound before that line is printed; give the
        // rings a moment.
        std::thread::sleep(Duration::from_millis(200));
        Running { child, err, reader }
    }
    fn replay(&self, file: &Path) {
        let st = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.name,
                "tcpreplay",
                "-q",
                "-i",
                "ph-in",
                "--pps",
                "3000",
            ])
            .arg(file)
            .stdout(Stdio::null())
            .status()
            .expect("tcpreplay");
        assert!(st.success());
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

fn tmp(name: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let d = std::env::temp_dir().join(format!("phonehome-live-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    // Writable by the unprivileged user phonehome switches to (--user).
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o1777)).unwrap();
    d.join(name)
}

fn demo() -> PathBuf {
    common::root().join("tests/data/demo.pcap")
}

/// A running phonehome and what it printed on stderr so far.
struct Running {
    child: Child,
    err: Arc<Mutex<String>>,
    reader: std::thread::JoinHandle<()>,
}

fn stop(run: Running) -> (i32, String) {
    let Running {
        mut child,
        err,
        reader,
    } = run;
    let pid = child.id().to_string();
    // `ip netns exec` execs the program: the child pid is phonehome's.
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "phonehome did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = child.wait().unwrap();
    let _ = reader.join();
    let text = err.lock().unwrap().clone();
    (status.code().unwrap_or(-1), text)
}

/// Alerts keyed by what does not depend on capture time or packet
/// numbering: (client ip, client port, name, rule id) → count.
fn alert_keys(path: &Path) -> BTreeMap<(String, u64, String, String), u32> {
    let mut m = BTreeMap::new();
    for l in std::fs::read_to_string(path).unwrap_or_default().lines() {
        let v: serde_json::Value = serde_json::from_str(l).expect("JSON line");
        // Derived (dns-correlated) alerts depend on DNS TTLs, which a replay
        // compresses: compare direct sightings only.
        if v["phonehome"]["channel"].is_string() {
            continue;
        }
        let name = v["dns"]["question"]["name"]
            .as_str()
            .or(v["tls"]["client"]["server_name"].as_str())
            .or(v["url"]["domain"].as_str())
            .unwrap_or_default()
            .to_string();
        let k = (
            v["source"]["ip"].as_str().unwrap().to_string(),
            v["source"]["port"].as_u64().unwrap(),
            name,
            v["rule"]["id"].as_str().unwrap().to_string(),
        );
        *m.entry(k).or_insert(0) += 1;
    }
    m
}

fn offline_alerts() -> BTreeMap<(String, u64, String, String), u32> {
    let out = tmp("offline.jsonl");
    let st = Command::new(env!("CARGO_BIN_EXE_phonehome"))
        .args(["read", "--no-progress", "--every-sighting", "--alerts"])
        .arg(&out)
        .arg(demo())
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    alert_keys(&out)
}

/// Every name of a `--names` log: (protocol, client ip, client port, name).
fn name_keys(path: &Path) -> BTreeMap<(String, String, u64, String), u32> {
    let mut m = BTreeMap::new();
    for l in std::fs::read_to_string(path).unwrap_or_default().lines() {
        let v: serde_json::Value = serde_json::from_str(l).expect("JSON line");
        if v["phonehome"]["channel"].is_string() {
            continue; // derived alert, no name on the wire
        }
        let name = v["dns"]["question"]["name"]
            .as_str()
            .or(v["tls"]["client"]["server_name"].as_str())
            .or(v["url"]["domain"].as_str())
            .unwrap_or_default()
            .to_string();
        let k = (
            v["network"]["protocol"].as_str().unwrap().to_string(),
            v["source"]["ip"].as_str().unwrap().to_string(),
            v["source"]["port"].as_u64().unwrap(),
            name,
        );
        *m.entry(k).or_insert(0) += 1;
    }
    m
}

/// The same, from the generator's ground truth of the demo capture.
fn truth_names() -> BTreeMap<(String, String, u64, String), u32> {
    let t: serde_json::Value = serde_json::from_slice(
        &std::fs::read(common::root().join("tests/data/demo.truth.json")).unwrap(),
    )
    .unwrap();
    let mut m = BTreeMap::new();
    for n in t["names"].as_array().unwrap() {
        let k = (
            n["protocol"].as_str().unwrap().to_string(),
            n["client_ip"].as_str().unwrap().to_string(),
            n["client_port"].as_u64().unwrap(),
            n["name"].as_str().unwrap().to_string(),
        );
        *m.entry(k).or_insert(0) += 1;
    }
    m
}

fn live_equals_offline(workers: &str, extra: &[&str]) {
    let ns = Netns::new(&format!("w{workers}"));
    let names = tmp(&format!("{}.names.jsonl", ns.name));
    let alerts = tmp(&format!("{}.jsonl", ns.name));
    let inv = tmp(&format!("{}.json", ns.name));
    let stats = tmp(&format!("{}.stats.json", ns.name));
    let mut args = vec![
        "live",
        "--every-sighting",
        "-i",
        "ph-cap",
        "--workers",
        workers,
        "--status-interval",
        "0",
        "--alerts",
        alerts.to_str().unwrap(),
        "--names",
        names.to_str().unwrap(),
        "--inventory",
        inv.to_str().unwrap(),
        "--stats",
        stats.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let child = ns.spawn(Path::new(env!("CARGO_BIN_EXE_phonehome")), &args);
    ns.replay(&demo());
    std::thread::sleep(Duration::from_millis(500));
    let (code, err) = stop(child);
    assert_eq!(code, 0, "{err}");
    assert_eq!(alert_keys(&alerts), offline_alerts(), "{err}");
    // Every name of the capture, exactly as the generator's truth has it.
    assert_eq!(name_keys(&names), truth_names(), "{err}");
    // Inventory written on exit, with the demo's hosts.
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&inv).unwrap()).unwrap();
    let hosts: BTreeMap<String, String> = v["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["ip"].as_str().unwrap().to_string(),
                h["confidence"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    // The demo's five hosts phoning home, and its gateway as a resolver.
    let expect: BTreeMap<String, String> = [
        ("10.0.0.1", "none"),
        ("10.0.0.11", "low"),
        ("10.0.0.21", "high"),
        ("10.0.0.22", "high"),
        ("10.0.0.23", "high"),
        ("10.0.0.24", "medium"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(hosts, expect);
    // Loss accounting: what the kernel received is what we processed plus
    // what it dropped.
    let s: serde_json::Value = serde_json::from_slice(&std::fs::read(&stats).unwrap()).unwrap();
    let received = s["capture"]["received"].as_u64().unwrap();
    let drops =
        s["capture"]["kernel_drops"].as_u64().unwrap() + s["unread_at_exit"].as_u64().unwrap();
    let processed = s["stages"]["decode"]["packets"].as_u64().unwrap();
    assert_eq!(received, processed + drops, "{s}");
}

#[test]
fn af_packet_one_worker_matches_offline() {
    if skip() {
        return;
    }
    live_equals_offline("1", &[]);
}

#[test]
fn af_packet_two_workers_match_offline() {
    if skip() {
        return;
    }
    live_equals_offline("2", &[]);
}

#[cfg(feature = "pcap")]
#[test]
fn pcap_backend_one_and_two_workers_match_offline() {
    if skip() {
        return;
    }
    live_equals_offline("1", &["--backend", "pcap"]);
    live_equals_offline("2", &["--backend", "pcap"]);
}

const PACK_BROWSING: &str = r#"[pack]
format = 1
vendor = "test"
version = "1"
description = "only the vendor web site"

[[domain]]
id = "t-1"
pattern = "www.kaspersky.com"
category = "website_browsing"
confidence = "low"
source = "test"
note = "test"
"#;

const PACK_UPDATES: &str = r#"[pack]
format = 1
vendor = "test"
version = "2"
description = "update servers"

[[domain]]
id = "t-2"
pattern = "*.geo.kaspersky.com"
category = "update"
confidence = "high"
source = "test"
note = "test"
"#;

fn rule_ids(path: &Path) -> BTreeMap<String, u32> {
    let mut m = BTreeMap::new();
    for ((_, _, _, id), n) in alert_keys(path) {
        *m.entry(id).or_insert(0) += n;
    }
    m
}

#[test]
fn sighup_swaps_a_good_pack_and_keeps_the_old_one_when_broken() {
    if skip() {
        return;
    }
    let ns = Netns::new("hup");
    let pack = tmp("pack.toml");
    std::fs::write(&pack, PACK_BROWSING).unwrap();
    let alerts = tmp("hup.jsonl");
    let child = ns.spawn(
        Path::new(env!("CARGO_BIN_EXE_phonehome")),
        &[
            "live",
            "--every-sighting",
            "-i",
            "ph-cap",
            "--status-interval",
            "0",
            "--no-default-signatures",
            "--signatures",
            pack.to_str().unwrap(),
            "--alerts",
            alerts.to_str().unwrap(),
        ],
    );
    let pid = child.child.id().to_string();
    let hup = || {
        assert!(
            Command::new("kill")
                .args(["-HUP", &pid])
                .status()
                .unwrap()
                .success()
        );
        std::thread::sleep(Duration::from_millis(600));
    };
    ns.replay(&demo());
    std::thread::sleep(Duration::from_millis(400));
    let first = rule_ids(&alerts);
    assert_eq!(first.keys().collect::<Vec<_>>(), vec!["t-1"], "{first:?}");

    std::fs::write(&pack, PACK_UPDATES).unwrap();
    hup();
    ns.replay(&demo());
    std::thread::sleep(Duration::from_millis(400));
    let second = rule_ids(&alerts);
    assert!(second.get("t-2").copied().unwrap_or(0) > 0, "{second:?}");
    assert_eq!(
        second.get("t-1"),
        first.get("t-1"),
        "old rule still matching: {second:?}"
    );

    std::fs::write(&pack, "[pack]\nformat = 1\nthis is not toml\n").unwrap();
    hup();
    ns.replay(&demo());
    std::thread::sleep(Duration::from_millis(400));
    let third = rule_ids(&alerts);
    assert_eq!(
        third.get("t-2").copied().unwrap_or(0),
        2 * second["t-2"],
        "{third:?}"
    );
    let (code, err) = stop(child);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("SIGHUP: signatures reloaded (1 rules)"),
        "{err}"
    );
    assert!(err.contains("keeping the signatures in use"), "{err}");
}

#[test]
fn missing_interface_is_a_clear_error() {
    if skip() {
        return;
    }
    let out = Command::new(env!("CARGO_BIN_EXE_phonehome"))
        .args(["live", "-i", "phonehome-no-such-if0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("interface phonehome-no-such-if0 not found"),
        "{err}"
    );
}

/// tcpreplay's count of packets it sent ("Successful packets: N").
fn replay_counted(ns: &Netns, file: &Path, extra: &[&str]) -> u64 {
    let out = Command::new("ip")
        .args(["netns", "exec", &ns.name, "tcpreplay", "-i", "ph-in"])
        .args(extra)
        .arg(file)
        .output()
        .expect("tcpreplay");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.trim().strip_prefix("Successful packets:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no packet count in tcpreplay output: {text}"))
}

fn stats_of(path: &Path) -> (u64, u64, u64) {
    let s: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    (
        s["capture"]["received"].as_u64().unwrap(),
        s["capture"]["kernel_drops"].as_u64().unwrap() + s["unread_at_exit"].as_u64().unwrap(),
        s["stages"]["decode"]["packets"].as_u64().unwrap(),
    )
}

#[test]
fn top_speed_loss_is_fully_accounted_for() {
    if skip() {
        return;
    }
    let ns = Netns::new("top");
    let stats = tmp(&format!("{}.stats.json", ns.name));
    // A deliberately small ring (2 blocks of 64 KiB) so that a top-speed
    // replay may overrun it: whatever is lost must show in the counters.
    let run = ns.spawn(
        Path::new(env!("CARGO_BIN_EXE_phonehome")),
        &[
            "live",
            "--every-sighting",
            "-i",
            "ph-cap",
            "--status-interval",
            "0",
            "--ring-blocks",
            "2",
            "--ring-block-size",
            "65536",
            "--stats",
            stats.to_str().unwrap(),
        ],
    );
    let mut sent = 0;
    for _ in 0..5 {
        sent += replay_counted(&ns, &demo(), &["--topspeed"]);
    }
    // Let the (debug-build) workers catch up before stopping.
    std::thread::sleep(Duration::from_millis(1500));
    let (code, err) = stop(run);
    assert_eq!(code, 0, "{err}");
    let (received, drops, processed) = stats_of(&stats);
    // Every frame tcpreplay put on the wire reached the socket's counters,
    // and each was either processed or counted as a kernel drop.
    assert_eq!(received, sent, "sent {sent}, kernel saw {received}");
    assert_eq!(received, processed + drops, "{err}");
    eprintln!("top speed: sent {sent}, processed {processed}, kernel drops {drops}");
}

#[test]
fn sigterm_mid_replay_flushes_everything_captured() {
    if skip() {
        return;
    }
    let ns = Netns::new("term");
    let alerts = tmp(&format!("{}.jsonl", ns.name));
    let inv = tmp(&format!("{}.json", ns.name));
    let stats = tmp(&format!("{}.stats.json", ns.name));
    let run = ns.spawn(
        Path::new(env!("CARGO_BIN_EXE_phonehome")),
        &[
            "live",
            "--every-sighting",
            "-i",
            "ph-cap",
            "--status-interval",
            "0",
            "--user",
            "nobody",
            "--alerts",
            alerts.to_str().unwrap(),
            "--inventory",
            inv.to_str().unwrap(),
            "--stats",
            stats.to_str().unwrap(),
        ],
    );
    // Replay slowly in the background and stop phonehome half-way.
    let mut replay = Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns.name,
            "tcpreplay",
            "-q",
            "-i",
            "ph-in",
            "--pps",
            "200",
        ])
        .arg(demo())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(900));
    let (code, err) = stop(run);
    let _ = replay.kill();
    let _ = replay.wait();
    assert_eq!(code, 0, "{err}");
    let (received, drops, processed) = stats_of(&stats);
    assert!(
        processed > 100 && processed < 1665,
        "not stopped mid-replay: {processed}"
    );
    assert_eq!(received, processed + drops, "{err}");
    // The alerts of every processed frame were written: they are the first
    // alerts of the offline run, in order (tcpreplay sends in file order; it
    // may skip frames longer than the veth MTU, so packet numbers differ).
    let key = |v: &serde_json::Value| {
        format!(
            "{} {} {}",
            v["source"]["ip"], v["source"]["port"], v["rule"]["id"]
        )
    };
    let offline: Vec<String> = {
        let out = tmp(&format!("{}.offline.jsonl", ns.name));
        let st = Command::new(env!("CARGO_BIN_EXE_phonehome"))
            .args([
                "read",
                "--no-progress",
                "--every-sighting",
                "--workers",
                "1",
                "--alerts",
            ])
            .arg(&out)
            .arg(demo())
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(st.success());
        std::fs::read_to_string(&out)
            .unwrap()
            .lines()
            .filter(|l| !l.contains(r#""channel":"#))
            .map(|l| key(&serde_json::from_str(l).unwrap()))
            .collect()
    };
    let got: Vec<String> = std::fs::read_to_string(&alerts)
        .unwrap()
        .lines()
        .filter(|l| !l.contains(r#""channel":"#))
        .map(|l| key(&serde_json::from_str(l).unwrap()))
        .collect();
    assert!(
        !got.is_empty() && got.len() < offline.len(),
        "{} of {}",
        got.len(),
        offline.len()
    );
    assert_eq!(got[..], offline[..got.len()]);
    // The inventory was written on exit by the unprivileged process.
    assert!(std::fs::metadata(&inv).is_ok(), "{err}");
}

#[test]
fn runs_unprivileged_with_only_cap_net_raw_and_explains_missing_privilege() {
    if skip() {
        return;
    }
    // A copy any user can execute (the build tree may not be readable).
    let bin = tmp("phonehome-unpriv");
    std::fs::copy(env!("CARGO_BIN_EXE_phonehome"), &bin).unwrap();
    let ns = Netns::new("cap");
    let alerts = tmp(&format!("{}.jsonl", ns.name));
    // Only CAP_NET_RAW, as user nobody (the systemd unit's setup).
    let alerts_s = alerts.to_str().unwrap();
    let run = ns.spawn_via(
        &[
            "setpriv",
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            "--inh-caps=+net_raw",
            "--ambient-caps=+net_raw",
            "--bounding-set=-all,+net_raw",
        ],
        &bin,
        &[
            "live",
            "-i",
            "ph-cap",
            "--status-interval",
            "0",
            "--every-sighting",
            "--alerts",
            alerts_s,
        ],
    );
    ns.replay(&demo());
    std::thread::sleep(Duration::from_millis(500));
    let (code, err) = stop(run);
    assert_eq!(code, 0, "{err}");
    assert_eq!(alert_keys(&alerts), offline_alerts());

    // Without the capability: a clear error naming it and how to grant it.
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns.name,
            "setpriv",
            "--reuid=nobody",
            "--regid=nogroup",
        ])
        .args(["--clear-groups", "--inh-caps=-all", "--bounding-set=-all"])
        .arg(&bin)
        .args(["live", "-i", "ph-cap"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        e.contains("needs CAP_NET_RAW") && e.contains("setcap"),
        "{e}"
    );
}

#[test]
fn metrics_endpoint_and_status_line_report_counters() {
    if skip() {
        return;
    }
    let ns = Netns::new("met");
    let alerts = tmp(&format!("{}.jsonl", ns.name));
    let run = ns.spawn(
        Path::new(env!("CARGO_BIN_EXE_phonehome")),
        &[
            "live",
            "-i",
            "ph-cap",
            "--status-interval",
            "1",
            "--metrics-listen",
            "127.0.0.1:9750",
            "--alerts",
            alerts.to_str().unwrap(),
        ],
    );
    ns.replay(&demo());
    std::thread::sleep(Duration::from_millis(1500));
    // Scrape from inside the namespace (the endpoint listens on its lo).
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns.name,
            "curl",
            "-sf",
            "http://127.0.0.1:9750/metrics",
        ])
        .output()
        .expect("curl (apt-get install curl)");
    let (code, err) = stop(run);
    assert_eq!(code, 0, "{err}");
    assert!(out.status.success(), "scrape failed: {err}");
    let text = String::from_utf8_lossy(&out.stdout);
    let value = |name: &str| -> u64 {
        text.lines()
            .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} missing from /metrics:\n{text}"))
    };
    assert_eq!(value("phonehome_alerts_total"), 88, "{text}");
    assert!(value("phonehome_packets_total") >= 1600, "{text}");
    assert_eq!(value("phonehome_kernel_drops_total"), 0, "{text}");
    assert!(
        text.contains("phonehome_names_total{protocol=\"dns\"} 64"),
        "{text}"
    );
    assert!(text.contains("phonehome_capture_to_alert_seconds{quantile=\"0.99\"}"));
    assert!(text.contains(&format!(
        "phonehome_sink_sent_total{{sink=\"{}\"}}",
        alerts.display()
    )));
    // The periodic status line, with the destination's delivery counters.
    assert!(err.contains("alerts 88"), "{err}");
    assert!(
        err.contains(&format!("{}: ", alerts.display())) && err.contains(" sent, "),
        "{err}"
    );
}

#[test]
fn logrotate_with_sighup_and_state_across_restarts() {
    if skip() {
        return;
    }
    let ns = Netns::new("rot");
    let alerts = tmp(&format!("{}.jsonl", ns.name));
    let rotated = tmp(&format!("{}.jsonl.1", ns.name));
    let state = tmp(&format!("{}.state.json", ns.name));
    let inv = tmp(&format!("{}.inv.json", ns.name));
    let args = |with_alerts: bool| {
        let mut v = vec![
            "live".to_string(),
            "-i".into(),
            "ph-cap".into(),
            "--status-interval".into(),
            "0".into(),
            "--every-sighting".into(),
            "--state".into(),
            state.to_str().unwrap().into(),
            "--inventory".into(),
            inv.to_str().unwrap().into(),
        ];
        if with_alerts {
            v.push("--alerts".into());
            v.push(alerts.to_str().unwrap().into());
        }
        v
    };
    let direct = |p: &Path| {
        std::fs::read_to_string(p)
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.contains(r#""channel":"#))
            .count()
    };
    let a = args(true);
    let run = ns.spawn(
        Path::new(env!("CARGO_BIN_EXE_phonehome")),
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    ns.replay(&demo());
    std::thread::sleep(Duration::from_millis(500));
    // logrotate: move the file, then SIGHUP (postrotate).
    std::fs::rename(&alerts, &rotated).unwrap();
    let pid = run.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap()
            .success()
    );
    std::thread::sleep(Duration::from_millis(300));
    ns.replay(&demo());
    std::thread::sleep(Duration::from_millis(500));
    let (code, err) = stop(run);
    assert_eq!(code, 0, "{err}");
    assert_eq!(direct(&rotated), 88, "{err}");
    assert_eq!(direct(&alerts), 88, "{err}");

    // A restart with the same state starts from the saved inventory.
    std::fs::remove_file(&inv).unwrap();
    let a = args(false);
    let run = ns.spawn(
        Path::new(env!("CARGO_BIN_EXE_phonehome")),
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let (code, err) = stop(run);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&inv).unwrap()).unwrap();
    let high = v["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["confidence"] == "high")
        .count();
    assert_eq!(high, 3, "{v}");
}
