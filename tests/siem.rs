//! SIEM delivery against real collectors: rsyslog (Debian's `rsyslog` and
//! `rsyslog-gnutls`, run as a child process with its own configuration,
//! listening on 127.0.0.1 only) for syslog over UDP, TCP and TLS, and an
//! HTTPS server written here for Splunk HEC. Certificates are made with
//! `openssl` per test.
//!
//! Without rsyslog or openssl these tests fail (they never skip) and say
//! what to install.

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use phonehome::event::{Endpoints, Event, NameDetail, NameEvent, Protocol, Transport};
use phonehome::output::delivery::{AlertSink, DropReason, SinkCounters, SinkOptions, SyslogFormat};
use phonehome::output::escape;
use phonehome::output::sink::{EventSink, Filter};
use phonehome::output::{cef, open_sink};
use phonehome::runtime::{self, RuntimeConfig, WorkerConfig};
use phonehome::signatures::{Confidence, Rule, SignatureSet};

mod common;

// ---------------------------------------------------------------------
// Test scaffolding: temp dirs, certificates, rsyslog.

static SEQ: AtomicU32 = AtomicU32::new(0);

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let d = std::env::temp_dir().join(format!(
            "phonehome-siem-{tag}-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).expect("create temp dir");
        TempDir(d)
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn need(tool: &str, package: &str) -> PathBuf {
    for dir in ["/usr/sbin", "/usr/bin", "/sbin", "/bin"] {
        let p = Path::new(dir).join(tool);
        if p.is_file() {
            return p;
        }
    }
    panic!("{tool} not found: these tests need a real collector; run `apt-get install {package}`");
}

/// A free TCP (or UDP) port on 127.0.0.1.
fn free_port(udp: bool) -> u16 {
    if udp {
        UdpSocket::bind("127.0.0.1:0")
            .and_then(|s| s.local_addr())
            .expect("bind UDP")
            .port()
    } else {
        TcpListener::bind("127.0.0.1:0")
            .and_then(|s| s.local_addr())
            .expect("bind TCP")
            .port()
    }
}

/// A test CA and a server certificate for IP 127.0.0.1.
struct Certs {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

fn make_certs(dir: &Path) -> Certs {
    let openssl = need("openssl", "openssl");
    let run = |args: &[&str]| {
        let out = Command::new(&openssl)
            .args(args)
            .current_dir(dir)
            .output()
            .expect("run openssl");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut a = vec!["req", "-x509"];
    a.extend(ec);
    a.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=phonehome test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    run(&a);
    let mut a = vec!["req"];
    a.extend(ec);
    a.extend([
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    run(&a);
    fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .expect("write ext.cnf");
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ]);
    Certs {
        ca: dir.join("ca.pem"),
        cert: dir.join("server.pem"),
        key: dir.join("server.key"),
    }
}

/// rsyslogd as a child process: UDP, TCP and TLS inputs on 127.0.0.1,
/// each writing the raw messages it receives, one per line, to its own
/// file in `dir`.
struct Rsyslog {
    child: Option<Child>,
    conf: PathBuf,
    pidfile: PathBuf,
    dir: PathBuf,
    udp: u16,
    tcp: u16,
    tls: u16,
}

impl Rsyslog {
    fn start(dir: &Path, certs: &Certs) -> Rsyslog {
        need("rsyslogd", "rsyslog rsyslog-gnutls");
        let (udp, tcp, tls) = (free_port(true), free_port(false), free_port(false));
        let work = dir.join("work");
        fs::create_dir_all(&work).expect("work dir");
        let conf = dir.join("rsyslog.conf");
        let file = |n: &str| dir.join(n).display().to_string();
        fs::write(
            &conf,
            format!(
                r#"global(workDirectory="{work}" maxMessageSize="64k"
       defaultNetstreamDriverCAFile="{ca}" defaultNetstreamDriverCertFile="{cert}"
       defaultNetstreamDriverKeyFile="{key}")
module(load="imudp")
module(load="imtcp" maxSessions="100")
template(name="raw" type="string" string="%rawmsg%\n")
input(type="imudp" address="127.0.0.1" port="{udp}" ruleset="udp")
input(type="imtcp" address="127.0.0.1" port="{tcp}" ruleset="tcp")
input(type="imtcp" address="127.0.0.1" port="{tls}" ruleset="tls"
      streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")
ruleset(name="udp") {{ action(type="omfile" file="{fu}" template="raw") }}
ruleset(name="tcp") {{ action(type="omfile" file="{ft}" template="raw") }}
ruleset(name="tls") {{ action(type="omfile" file="{fs}" template="raw") }}
"#,
                work = work.display(),
                ca = certs.ca.display(),
                cert = certs.cert.display(),
                key = certs.key.display(),
                fu = file("udp.log"),
                ft = file("tcp.log"),
                fs = file("tls.log"),
            ),
        )
        .expect("write rsyslog.conf");
        let mut r = Rsyslog {
            child: None,
            conf,
            pidfile: dir.join("rsyslogd.pid"),
            dir: dir.to_path_buf(),
            udp,
            tcp,
            tls,
        };
        r.run();
        r
    }

    fn run(&mut self) {
        let child = Command::new(need("rsyslogd", "rsyslog rsyslog-gnutls"))
            .arg("-n")
            .arg("-f")
            .arg(&self.conf)
            .arg("-i")
            .arg(&self.pidfile)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start rsyslogd");
        self.child = Some(child);
        // Ready when both TCP inputs accept connections.
        let end = Instant::now() + Duration::from_secs(15);
        loop {
            let up = [self.tcp, self.tls]
                .iter()
                .all(|&p| TcpStream::connect(("127.0.0.1", p)).is_ok());
            if up {
                break;
            }
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    let mut err = String::new();
                    if let Some(mut e) = c.stderr.take() {
                        let _ = e.read_to_string(&mut err);
                    }
                    panic!("rsyslogd exited at start ({status}): {err}");
                }
            }
            assert!(
                Instant::now() < end,
                "rsyslogd did not start listening in 15 s"
            );
            thread::sleep(Duration::from_millis(50));
        }
        // imudp binds in the same start-up step as imtcp; give it a moment.
        thread::sleep(Duration::from_millis(200));
    }

    /// SIGTERM, then wait: rsyslog writes what it received and exits.
    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(c.id().to_string())
                .status();
            let end = Instant::now() + Duration::from_secs(10);
            while Instant::now() < end {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn lines(&self, file: &str) -> Vec<String> {
        match fs::File::open(self.dir.join(file)) {
            Ok(f) => BufReader::new(f).lines().map_while(Result::ok).collect(),
            Err(_) => Vec::new(),
        }
    }

    /// Lines of `file` once it holds at least `n` (or after `secs`).
    fn wait_lines(&self, file: &str, n: usize, secs: u64) -> Vec<String> {
        let end = Instant::now() + Duration::from_secs(secs);
        loop {
            let l = self.lines(file);
            if l.len() >= n || Instant::now() >= end {
                // A little longer, to catch duplicates arriving late.
                thread::sleep(Duration::from_millis(300));
                return self.lines(file);
            }
            thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        self.stop();
    }
}

// ---------------------------------------------------------------------
// Reading what arrived: RFC 5424, its structured data, the bodies.

#[derive(Debug)]
struct Msg {
    pri: u16,
    host: String,
    msgid: String,
    /// SD-PARAMs of the phonehome element, unescaped (RFC 5424 §6.3.3).
    sd: BTreeMap<String, String>,
    body: String,
}

/// Parses one RFC 5424 message strictly (the shape our sinks write).
fn parse_5424(line: &str) -> Option<Msg> {
    let rest = line.strip_prefix('<')?;
    let (pri, rest) = rest.split_once('>')?;
    let rest = rest.strip_prefix("1 ")?;
    let mut it = rest.splitn(6, ' ');
    let (_ts, host, app, _procid, msgid) =
        (it.next()?, it.next()?, it.next()?, it.next()?, it.next()?);
    if app != "phonehome" {
        return None;
    }
    let rest = it.next()?;
    let mut sd = BTreeMap::new();
    let body = if let Some(after) = rest.strip_prefix("- ") {
        after
    } else {
        let b = rest.as_bytes();
        if b.first() != Some(&b'[') {
            return None;
        }
        // [ID k="v" k="v"] with \" \\ \] escapes inside values.
        let mut i = 1;
        let id_end = rest.get(i..)?.find(' ')? + i;
        if rest.get(i..id_end)? != "phonehome@32473" {
            return None;
        }
        i = id_end;
        loop {
            match b.get(i)? {
                b']' => {
                    i += 1;
                    break;
                }
                b' ' => {
                    let eq = rest.get(i + 1..)?.find("=\"")? + i + 1;
                    let key = rest.get(i + 1..eq)?.to_owned();
                    let mut j = eq + 2;
                    let mut val = String::new();
                    loop {
                        match b.get(j)? {
                            b'\\' => {
                                val.push(char::from(*b.get(j + 1)?));
                                j += 2;
                            }
                            b'"' => break,
                            &c => {
                                val.push(char::from(c));
                                j += 1;
                            }
                        }
                    }
                    sd.insert(key, val);
                    i = j + 1;
                }
                _ => return None,
            }
        }
        rest.get(i..)?.strip_prefix(' ')?
    };
    Some(Msg {
        pri: pri.parse().ok()?,
        host: host.to_owned(),
        msgid: msgid.to_owned(),
        sd,
        body: body.to_owned(),
    })
}

/// What a message says about its event, from its body.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord, Clone)]
struct Seen {
    packet: u64,
    /// The name as on the wire (body unescaped).
    name: Vec<u8>,
    rule: String,
}

fn seen_from_body(body: &str) -> Option<Seen> {
    if body.starts_with("CEF:0|") {
        let (hdr, ext) = cef::parse(body.as_bytes())?;
        let get = |k: &str| ext.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
        Some(Seen {
            packet: String::from_utf8(get("cn1")?).ok()?.parse().ok()?,
            name: escape::unescape(&get("dhost")?)?,
            rule: String::from_utf8(hdr.get(4)?.clone()).ok()?,
        })
    } else {
        let v: serde_json::Value = serde_json::from_str(body).ok()?;
        let name = v["dns"]["question"]["name"]
            .as_str()
            .or(v["tls"]["client"]["server_name"].as_str())
            .or(v["url"]["domain"].as_str())?;
        Some(Seen {
            packet: v["phonehome"]["packet"].as_u64()?,
            name: escape::unescape(name.as_bytes())?,
            rule: v["rule"]["id"].as_str()?.to_owned(),
        })
    }
}

fn seen_of(ev: &NameEvent) -> Seen {
    Seen {
        packet: ev.packet,
        name: ev.name.to_vec(),
        rule: ev.rule.as_ref().map(|r| r.id.clone()).unwrap_or_default(),
    }
}

/// Collects the alerts of a run in memory (the oracle).
#[derive(Clone, Default)]
struct Alerts(Arc<Mutex<Vec<NameEvent>>>);

impl EventSink for Alerts {
    fn event(&mut self, ev: &Event) -> std::io::Result<()> {
        if let Event::Name(n) = ev {
            if n.rule.is_some() {
                self.0
                    .lock()
                    .map_err(|_| std::io::Error::other("poisoned"))?
                    .push(n.clone());
            }
        }
        Ok(())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn fast_opts() -> SinkOptions {
    SinkOptions {
        backoff_initial: Duration::from_millis(50),
        backoff_max: Duration::from_millis(400),
        drain_timeout: Duration::from_secs(10),
        ..SinkOptions::default()
    }
}

fn demo_pcap() -> PathBuf {
    common::root().join("tests/data/demo.pcap")
}

/// Runs the demo capture through the pipeline with `sinks` plus the
/// oracle; returns the alerts.
fn run_demo(sinks: Vec<Box<dyn AlertSink>>) -> Vec<NameEvent> {
    let oracle = Alerts::default();
    let mut all: Vec<Box<dyn EventSink + Send>> = vec![Box::new(oracle.clone())];
    for s in sinks {
        all.push(s);
    }
    let cfg = RuntimeConfig {
        workers: 2,
        worker: WorkerConfig::default(),
        progress: false,
    };
    let sigs = Arc::new(SignatureSet::builtin().expect("embedded pack"));
    let report = runtime::run_offline(&[demo_pcap()], sigs, &cfg, all);
    assert!(report.sink_errors.is_empty(), "{:?}", report.sink_errors);
    let alerts = oracle.0.lock().expect("lock").clone();
    assert!(!alerts.is_empty(), "the demo capture has alerts");
    alerts
}

/// The messages of `lines` from sink `host`, parsed; panics on any line
/// that is not a well-formed message.
fn messages_from(lines: &[String], host: &str) -> Vec<Msg> {
    lines
        .iter()
        .map(|l| parse_5424(l).unwrap_or_else(|| panic!("not an RFC 5424 message: {l}")))
        .filter(|m| m.host == host)
        .collect()
}

fn sorted_seen(msgs: &[Msg]) -> Vec<Seen> {
    let mut v: Vec<Seen> = msgs
        .iter()
        .map(|m| seen_from_body(&m.body).unwrap_or_else(|| panic!("unparseable body: {}", m.body)))
        .collect();
    v.sort();
    v
}

// ---------------------------------------------------------------------
// The tests.

#[test]
fn every_demo_alert_arrives_once_per_syslog_sink_and_parses() {
    let dir = TempDir::new("demo");
    let certs = make_certs(dir.path());
    let rs = Rsyslog::start(dir.path(), &certs);
    let mut sinks: Vec<Box<dyn AlertSink>> = Vec::new();
    let mut counters: Vec<(String, Arc<SinkCounters>)> = Vec::new();
    for (scheme, port) in [("udp", rs.udp), ("tcp", rs.tcp), ("tls", rs.tls)] {
        for fmt in [SyslogFormat::Json, SyslogFormat::Cef] {
            let host = format!("{scheme}-{fmt:?}").to_lowercase();
            let opts = SinkOptions {
                syslog_format: fmt,
                hostname: Some(host.clone()),
                ca_file: Some(certs.ca.clone()),
                ..fast_opts()
            };
            let dest = format!("syslog+{scheme}://127.0.0.1:{port}");
            let s = open_sink(&dest, &opts).unwrap_or_else(|e| panic!("{dest}: {e}"));
            counters.push((host, s.counters()));
            sinks.push(s);
        }
    }
    let alerts = run_demo(sinks);
    let mut want: Vec<Seen> = alerts.iter().map(seen_of).collect();
    want.sort();
    let n = alerts.len();
    for (file, scheme) in [("udp.log", "udp"), ("tcp.log", "tcp"), ("tls.log", "tls")] {
        let lines = rs.wait_lines(file, 2 * n, 15);
        for fmt in ["json", "cef"] {
            let host = format!("{scheme}-{fmt}");
            let msgs = messages_from(&lines, &host);
            let got = sorted_seen(&msgs);
            assert_eq!(got, want, "{host}: every alert exactly once");
            for m in &msgs {
                assert_eq!(m.msgid, "alert");
                // local0 (16): PRI 132..=134 for warning..informational.
                assert!((132..=134).contains(&m.pri), "{}", m.pri);
                let s = seen_from_body(&m.body).expect("parsed above");
                assert_eq!(m.sd.get("rule"), Some(&s.rule));
                assert_eq!(
                    m.sd.get("name")
                        .and_then(|v| escape::unescape(v.as_bytes())),
                    Some(s.name.clone())
                );
            }
            let c = counters
                .iter()
                .find(|(h, _)| *h == host)
                .map(|(_, c)| c.snapshot())
                .expect("counters");
            assert_eq!(
                (c.accepted, c.sent, c.dropped_total()),
                (n as u64, n as u64, 0),
                "{host}: {c}"
            );
        }
    }
}

fn rule(id: &str) -> Arc<Rule> {
    Arc::new(Rule {
        id: id.into(),
        pattern: "*.kaspersky.com".into(),
        vendor: "kaspersky".into(),
        category: "update".into(),
        confidence: Confidence::High,
        source: "test".into(),
        note: String::new(),
    })
}

fn alert(packet: u64, name: &[u8], r: &Arc<Rule>) -> Event {
    Event::Name(NameEvent {
        ts: 1_740_988_800_000_000_000 + packet * 1_000_000_000,
        packet,
        protocol: Protocol::Http,
        endpoints: Endpoints {
            transport: Transport::Tcp,
            src_ip: IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3)),
            src_port: 40_000,
            dst_ip: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 80)),
            dst_port: 80,
            src_mac: Some([2, 0, 0, 0, 0, 1]),
            vlan: Some(7),
        },
        name: name.into(),
        detail: NameDetail::Http {
            method: (*b"GET").into(),
        },
        rule: Some(Arc::clone(r)),
    })
}

#[test]
fn hostile_name_arrives_as_one_escaped_event_everywhere() {
    let dir = TempDir::new("hostile");
    let certs = make_certs(dir.path());
    let rs = Rsyslog::start(dir.path(), &certs);
    let raw: &[u8] =
        b"evil\n<13>1 2025-01-01T00:00:00Z forged x - - - \"|= dst=6.6.6.6 ] [x@1 a=\"b\"]\x00\xc3\x28\\.kaspersky.com";
    let r = rule("k|=\"1");
    for (scheme, port) in [("udp", rs.udp), ("tcp", rs.tcp), ("tls", rs.tls)] {
        for fmt in [SyslogFormat::Json, SyslogFormat::Cef] {
            let opts = SinkOptions {
                syslog_format: fmt,
                hostname: Some(format!("{scheme}-{fmt:?}").to_lowercase()),
                ca_file: Some(certs.ca.clone()),
                ..fast_opts()
            };
            let mut s = open_sink(&format!("syslog+{scheme}://127.0.0.1:{port}"), &opts)
                .expect("open sink");
            s.event(&alert(1, raw, &r)).expect("queue");
            let c = s.counters();
            drop(s);
            assert_eq!(c.snapshot().sent, 1);
        }
    }
    for (file, scheme) in [("udp.log", "udp"), ("tcp.log", "tcp"), ("tls.log", "tls")] {
        let lines = rs.wait_lines(file, 2, 10);
        assert_eq!(lines.len(), 2, "{file}: one line per sink: {lines:#?}");
        for fmt in ["json", "cef"] {
            let msgs = messages_from(&lines, &format!("{scheme}-{fmt}"));
            assert_eq!(msgs.len(), 1, "{scheme}-{fmt}");
            let m = &msgs[0];
            let s = seen_from_body(&m.body).unwrap_or_else(|| panic!("{scheme}-{fmt}: {}", m.body));
            assert_eq!(
                s.name, raw,
                "{scheme}-{fmt}: the exact wire bytes come back"
            );
            assert_eq!(s.rule, "k|=\"1");
            assert_eq!(
                m.sd.get("name")
                    .and_then(|v| escape::unescape(v.as_bytes()))
                    .as_deref(),
                Some(raw)
            );
            assert!(m.body.bytes().all(|b| (0x20..=0x7e).contains(&b)));
            if fmt == "cef" {
                let (_, ext) = cef::parse(m.body.as_bytes()).expect("CEF");
                let dst: Vec<_> = ext.iter().filter(|(k, _)| k == "dst").collect();
                assert_eq!(dst.len(), 1);
                assert_eq!(dst[0].1, b"192.0.2.80");
            }
        }
    }
}

/// Sends alerts `from..to` through `sink`.
fn feed(sink: &mut Box<dyn AlertSink>, from: u64, to: u64, r: &Arc<Rule>) {
    for p in from..to {
        let name = format!("n{p}.upd.kaspersky.com");
        sink.event(&alert(p, name.as_bytes(), r)).expect("queue");
    }
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(15);
    while !f() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(20));
    }
}

/// Packet numbers in the lines of `file` written by sink `host`.
fn packets(rs: &Rsyslog, file: &str, host: &str, n: usize) -> Vec<u64> {
    let lines = rs.wait_lines(file, n, 15);
    let mut v: Vec<u64> = sorted_seen(&messages_from(&lines, host))
        .into_iter()
        .map(|s| s.packet)
        .collect();
    v.sort_unstable();
    v
}

#[test]
fn collector_restart_with_spool_loses_nothing() {
    let dir = TempDir::new("spool");
    let certs = make_certs(dir.path());
    let mut rs = Rsyslog::start(dir.path(), &certs);
    let spool = dir.path().join("spool");
    let r = rule("k-1");
    let opts = |host: &str| SinkOptions {
        hostname: Some(host.into()),
        spool_dir: Some(spool.clone()),
        ca_file: Some(certs.ca.clone()),
        ..fast_opts()
    };
    let mut tcp =
        open_sink(&format!("syslog+tcp://127.0.0.1:{}", rs.tcp), &opts("tcp")).expect("tcp");
    let mut tls =
        open_sink(&format!("syslog+tls://127.0.0.1:{}", rs.tls), &opts("tls")).expect("tls");
    let (ct, cs) = (tcp.counters(), tls.counters());
    feed(&mut tcp, 1, 21, &r);
    feed(&mut tls, 1, 21, &r);
    wait_for("first 20 sent", || {
        ct.sent.load(Ordering::Relaxed) == 20 && cs.sent.load(Ordering::Relaxed) == 20
    });
    rs.stop();
    feed(&mut tcp, 21, 51, &r);
    feed(&mut tls, 21, 51, &r);
    wait_for("30 spooled while the collector is down", || {
        ct.spooled.load(Ordering::Relaxed) == 30 && cs.spooled.load(Ordering::Relaxed) == 30
    });
    assert!(
        spool.read_dir().map(|d| d.count()).unwrap_or(0) >= 2,
        "spool files exist"
    );
    rs.run();
    feed(&mut tcp, 51, 71, &r);
    feed(&mut tls, 51, 71, &r);
    drop(tcp);
    drop(tls);
    let want: Vec<u64> = (1..71).collect();
    for (file, host, c) in [("tcp.log", "tcp", &ct), ("tls.log", "tls", &cs)] {
        let s = c.snapshot();
        assert_eq!(
            (s.accepted, s.sent, s.dropped_total()),
            (70, 70, 0),
            "{host}: {s}"
        );
        assert_eq!((s.queued, s.spool_pending), (0, 0), "{host}: {s}");
        assert!(s.connect_failures > 0 && s.reconnects > 0, "{host}: {s:?}");
        let mut got = packets(&rs, file, host, 70);
        // Duplicates only up to what `resent` admits.
        let before = got.len();
        got.dedup();
        assert!(
            (before - got.len()) as u64 <= s.resent,
            "{host}: {} duplicates, {s}",
            before - got.len()
        );
        assert_eq!(got, want, "{host}: nothing lost");
    }
}

#[test]
fn collector_restart_without_spool_counts_every_missing_alert() {
    let dir = TempDir::new("nospool");
    let certs = make_certs(dir.path());
    let mut rs = Rsyslog::start(dir.path(), &certs);
    let r = rule("k-1");
    let opts = SinkOptions {
        hostname: Some("tcp".into()),
        // Small queue so that the outage overflows it: the sender holds one
        // batch (64) and the queue 5 more.
        queue_records: 5,
        ..fast_opts()
    };
    let mut tcp = open_sink(&format!("syslog+tcp://127.0.0.1:{}", rs.tcp), &opts).expect("tcp");
    let c = tcp.counters();
    feed(&mut tcp, 1, 21, &r);
    wait_for("first 20 sent", || c.sent.load(Ordering::Relaxed) == 20);
    rs.stop();
    feed(&mut tcp, 21, 121, &r);
    wait_for("drops while the collector is down", || {
        c.drop_count(DropReason::QueueFull) > 0
    });
    rs.run();
    feed(&mut tcp, 121, 141, &r);
    drop(tcp);
    let s = c.snapshot();
    assert_eq!(s.accepted, 140);
    assert_eq!(s.sent + s.dropped_total(), 140, "{s}");
    assert!(s.drop_count(DropReason::QueueFull) >= 20, "{s}");
    let got = packets(&rs, "tcp.log", "tcp", s.sent as usize);
    let mut unique = got.clone();
    unique.dedup();
    assert!((got.len() - unique.len()) as u64 <= s.resent, "{s}");
    let missing = 140 - unique.len() as u64;
    assert_eq!(
        missing,
        s.dropped_total(),
        "dropped counter == alerts missing ({s})"
    );
    assert_eq!(unique.len() as u64, s.sent, "{s}");
}
