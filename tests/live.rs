//! Live capture over real interfaces (issue 4): a veth pair whose far end
//! sits in a network namespace of our own, frames sent into the far end
//! with an AF_PACKET socket, captured on the near end by the sensor's live
//! sources. Nothing is addressed or routed: the frames only cross the veth
//! pair we created, and both ends have IPv6 disabled so the kernel sends no
//! traffic of its own.
//!
//! Needs root (CI runs as root). Without root every test fails with a
//! message saying so, unless `PHONEHOME_SKIP_LIVE=1` is set, which skips
//! them explicitly (and says so on stderr).
//!
//! Some tests re-run this test binary as a child process (to drop
//! privileges without affecting the other tests): the child is told its
//! role with the `PHONEHOME_LIVE_CHILD` environment variable.
#![cfg(target_os = "linux")]

use std::collections::HashMap;
use std::ffi::CString;
use std::io;
use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use phonehome::capture::afpacket::{
    AfPacketConfig, AfPacketSource, LiveNext, LiveSource, LiveStats, drop_privileges,
};
use phonehome::capture::{FileSource, LinkType, Source};

const CHILD_ENV: &str = "PHONEHOME_LIVE_CHILD";

/// True when the tests may run; panics (fails the test) when they cannot
/// and nobody asked to skip them.
fn live_allowed() -> bool {
    // SAFETY: geteuid has no arguments and cannot fail.
    let euid = unsafe { libc::geteuid() };
    if euid == 0 {
        return true;
    }
    if std::env::var("PHONEHOME_SKIP_LIVE").as_deref() == Ok("1") {
        eprintln!("SKIPPED: live capture test (PHONEHOME_SKIP_LIVE=1 and not root)");
        return false;
    }
    panic!(
        "live capture tests need root (uid 0, for network namespaces and CAP_NET_RAW); \
         run them as root, or set PHONEHOME_SKIP_LIVE=1 to skip them explicitly"
    );
}

fn run(cmd: &str, args: &[&str]) {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd}: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A veth pair `near` (this namespace) ↔ `far` (namespace `ns`), both up,
/// IPv6 off, MTU large enough for tagged full-size frames. Removed on drop,
/// also when the test fails.
struct Lab {
    ns: String,
    near: String,
    far: String,
}

/// Removes labs left by earlier runs that were killed before their guard
/// could run (their pid, in the name, no longer exists).
fn remove_stale_labs() {
    let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else {
        return;
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        let Some(rest) = name.strip_prefix("phns") else {
            continue;
        };
        let Some((tag_at, _)) = rest.char_indices().last() else {
            continue;
        };
        let (hex, tag) = rest.split_at(tag_at);
        let Ok(pid) = u32::from_str_radix(hex, 16) else {
            continue;
        };
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = Command::new("ip")
                .args(["link", "del", &format!("ph{hex}{tag}n")])
                .output();
            let _ = Command::new("ip").args(["netns", "del", name]).output();
        }
    }
}

impl Lab {
    fn new(tag: char) -> Lab {
        remove_stale_labs();
        let pid = std::process::id();
        let lab = Lab {
            ns: format!("phns{pid:x}{tag}"),
            near: format!("ph{pid:x}{tag}n"),
            far: format!("ph{pid:x}{tag}f"),
        };
        // The guard exists before the first command, so a failure half-way
        // still cleans up.
        run("ip", &["netns", "add", &lab.ns]);
        run(
            "ip",
            &[
                "link", "add", &lab.near, "mtu", "9000", "type", "veth", "peer", "name", &lab.far,
                "mtu", "9000", "netns", &lab.ns,
            ],
        );
        let near_v6 = format!("/proc/sys/net/ipv6/conf/{}/disable_ipv6", lab.near);
        if std::path::Path::new(&near_v6).exists() {
            std::fs::write(&near_v6, "1").expect("disable IPv6 on the near end");
        }
        run(
            "ip",
            &[
                "netns",
                "exec",
                &lab.ns,
                "sh",
                "-c",
                &format!(
                    "f=/proc/sys/net/ipv6/conf/{}/disable_ipv6; [ ! -e $f ] || echo 1 > $f",
                    lab.far
                ),
            ],
        );
        run("ip", &["link", "set", &lab.near, "up"]);
        run("ip", &["-n", &lab.ns, "link", "set", &lab.far, "up"]);
        run("ip", &["-n", &lab.ns, "link", "set", "lo", "up"]);
        lab
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Deleting one end deletes the pair; errors are ignored because a
        // half-built lab may lack either.
        let _ = Command::new("ip")
            .args(["link", "del", &self.near])
            .output();
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).output();
    }
}

/// Enters network namespace `ns` on the calling thread.
fn enter_netns(ns: &str) -> io::Result<()> {
    let f = std::fs::File::open(format!("/run/netns/{ns}"))?;
    // SAFETY: `f` is an open namespace file; setns affects only this thread.
    if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Sends `frames` out of interface `ifname` inside namespace `ns`, from a
/// thread of its own, with a raw AF_PACKET socket. Returns frames sent.
fn send_frames(ns: &str, ifname: &str, frames: Arc<Vec<Vec<u8>>>) -> thread::JoinHandle<usize> {
    let (ns, ifname) = (ns.to_owned(), ifname.to_owned());
    thread::spawn(move || {
        enter_netns(&ns).expect("enter the lab namespace");
        let name = CString::new(ifname.clone()).unwrap();
        // SAFETY: valid NUL-terminated string.
        let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
        assert_ne!(ifindex, 0, "{ifname} not found in {ns}");
        // SAFETY: plain socket call, result checked.
        let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0) };
        assert!(fd >= 0, "sender socket: {}", io::Error::last_os_error());
        // SAFETY: all-zero sockaddr_ll is valid.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_ifindex = ifindex as i32;
        sll.sll_halen = 6;
        let mut sent = 0;
        for f in frames.iter() {
            loop {
                // SAFETY: `f` and `sll` are live for the call; lengths match.
                let rc = unsafe {
                    libc::sendto(
                        fd,
                        f.as_ptr().cast(),
                        f.len(),
                        0,
                        (&sll as *const libc::sockaddr_ll).cast(),
                        std::mem::size_of::<libc::sockaddr_ll>() as u32,
                    )
                };
                if rc == f.len() as isize {
                    break;
                }
                let e = io::Error::last_os_error();
                assert_eq!(e.raw_os_error(), Some(libc::ENOBUFS), "sendto: {e}");
                thread::sleep(Duration::from_millis(1));
            }
            sent += 1;
        }
        // SAFETY: closing the fd we opened.
        unsafe { libc::close(fd) };
        sent
    })
}

// --- frames -----------------------------------------------------------------

/// Every frame of tests/data/demo.pcap (Ethernet, 475 of them VLAN-tagged).
fn demo_frames() -> Vec<Vec<u8>> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/demo.pcap");
    let mut src = FileSource::open(std::path::Path::new(path)).expect("open demo.pcap");
    let mut out = Vec::new();
    while let Some(p) = src.next_packet().expect("read demo.pcap") {
        assert_eq!(p.linktype, LinkType::ETHERNET);
        out.push(p.data.to_vec());
    }
    assert!(out.len() > 1000, "demo.pcap shrank to {} frames", out.len());
    out
}

fn ipv4_checksum(h: &[u8]) -> u16 {
    let mut sum: u32 = h
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Ethernet [+ VLAN tags] + IPv4 + UDP (proto 17) or TCP (proto 6) frame
/// with `payload`. `tags` are (TPID, TCI) pairs, outermost first.
fn ip_frame(
    tags: &[(u16, u16)],
    src: [u8; 4],
    dst: [u8; 4],
    proto: u8,
    sport: u16,
    dport: u16,
    payload: &[u8],
) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 0xbb, 0x02, 0, 0, 0, 0, 0xaa];
    for (tpid, tci) in tags {
        f.extend_from_slice(&tpid.to_be_bytes());
        f.extend_from_slice(&tci.to_be_bytes());
    }
    f.extend_from_slice(&[0x08, 0x00]);
    let l4_len = if proto == 6 { 20 } else { 8 };
    let total = (20 + l4_len + payload.len()) as u16;
    let mut ip = vec![0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, proto, 0, 0];
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    ip.extend_from_slice(&src);
    ip.extend_from_slice(&dst);
    let c = ipv4_checksum(&ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(&sport.to_be_bytes());
    f.extend_from_slice(&dport.to_be_bytes());
    if proto == 6 {
        // seq, ack, data offset 5, flags ACK|PSH, window, checksum 0, urg 0
        f.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 1, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0]);
    } else {
        f.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        f.extend_from_slice(&[0, 0]);
    }
    f.extend_from_slice(payload);
    f
}

/// `flows` two-way flows (UDP and TCP, some VLAN-tagged, some QinQ), `per`
/// frames each way. Returns the frames and, per frame, its flow number.
fn flow_frames(flows: u16, per: u16) -> (Vec<Vec<u8>>, Vec<u16>) {
    let (mut frames, mut ids) = (Vec::new(), Vec::new());
    for fl in 0..flows {
        let a = [10, 99, (fl >> 8) as u8, fl as u8];
        let b = [10, 98, 0, (fl % 7) as u8 + 1];
        let proto = if fl % 2 == 0 { 17 } else { 6 };
        let tags: &[(u16, u16)] = match fl % 4 {
            1 => &[(0x8100, 100)],
            3 => &[(0x88a8, 200), (0x8100, 300)],
            _ => &[],
        };
        let (sport, dport) = (20_000 + fl, 53 + (fl % 3) * 390);
        for i in 0..per {
            let payload = format!("PHONEHOME-LIVE flow {fl} msg {i} q");
            frames.push(ip_frame(
                tags,
                a,
                b,
                proto,
                sport,
                dport,
                payload.as_bytes(),
            ));
            ids.push(fl);
            let payload = format!("PHONEHOME-LIVE flow {fl} msg {i} r");
            frames.push(ip_frame(
                tags,
                b,
                a,
                proto,
                dport,
                sport,
                payload.as_bytes(),
            ));
            ids.push(fl);
        }
    }
    (frames, ids)
}

// --- capture ----------------------------------------------------------------

/// What one source captured: frames (with their wire length and time) and
/// its final counters.
struct Captured {
    frames: Vec<(Vec<u8>, u32, u64)>,
    stats: LiveStats,
    linktype: LinkType,
}

/// Reads every source on a thread of its own until `want` frames arrived
/// in total (or 15 s passed), then 300 ms more to catch duplicates; runs
/// `traffic` once all readers are running.
fn capture_while<S, F>(sources: Vec<S>, want: usize, traffic: F) -> Vec<Captured>
where
    S: LiveSource + 'static,
    F: FnOnce(),
{
    let total = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = sources
        .into_iter()
        .map(|mut src| {
            let (total, stop) = (total.clone(), stop.clone());
            thread::spawn(move || {
                let mut frames = Vec::new();
                loop {
                    match src.next_live().expect("next_live") {
                        LiveNext::Packet(p) => {
                            frames.push((p.data.to_vec(), p.orig_len, p.ts_ns));
                            total.fetch_add(1, Ordering::SeqCst);
                        }
                        LiveNext::Idle => {
                            if stop.load(Ordering::SeqCst) {
                                break;
                            }
                        }
                    }
                }
                let linktype = src.linktype();
                Captured {
                    frames,
                    stats: src.stats(),
                    linktype,
                }
            })
        })
        .collect();
    traffic();
    let deadline = Instant::now() + Duration::from_secs(15);
    while total.load(Ordering::SeqCst) < want && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(20));
    }
    thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::SeqCst);
    readers
        .into_iter()
        .map(|r| r.join().expect("reader"))
        .collect()
}

fn small_ring() -> AfPacketConfig {
    AfPacketConfig {
        block_size: 1 << 20,
        block_count: 16,
        ..AfPacketConfig::default()
    }
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

/// Checks that every sent frame was captured exactly once across `caps`,
/// byte for byte, with its full wire length and a current timestamp, and
/// that the counters add up. Returns, per sent frame, the index of the
/// source that got it.
fn assert_each_frame_once(sent: &[Vec<u8>], caps: &[Captured], t0: u64) -> Vec<usize> {
    let mut index: HashMap<&[u8], Vec<usize>> = HashMap::new();
    for (i, f) in sent.iter().enumerate() {
        index.entry(f.as_slice()).or_default().push(i);
    }
    let mut owner = vec![usize::MAX; sent.len()];
    let mut strays = 0;
    let t1 = now_ns();
    for (s, cap) in caps.iter().enumerate() {
        assert_eq!(cap.linktype, LinkType::ETHERNET);
        for (data, orig_len, ts) in &cap.frames {
            assert_eq!(*orig_len as usize, data.len(), "frame cut short");
            assert!(
                (t0..=t1).contains(ts),
                "timestamp {ts} outside the test run {t0}..{t1}"
            );
            match index.get_mut(data.as_slice()).and_then(|v| v.pop()) {
                Some(i) => owner[i] = s,
                None if sent.iter().any(|f| f == data) => {
                    panic!("frame captured more often than sent: {data:02x?}")
                }
                None => strays += 1,
            }
        }
    }
    let missing: Vec<usize> = (0..sent.len())
        .filter(|&i| owner[i] == usize::MAX)
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} frames never captured (first: #{}); {strays} strays; per source: {:?}",
        missing.len(),
        sent.len(),
        missing[0],
        caps.iter()
            .map(|c| (c.frames.len(), c.stats))
            .collect::<Vec<_>>()
    );
    if strays > 0 {
        eprintln!("note: {strays} frames captured that the test did not send");
    }
    for cap in caps {
        let st = cap.stats;
        assert_eq!(st.delivered as usize, cap.frames.len(), "{st:?}");
        assert_eq!(st.kernel_drops, 0, "drops at this low rate: {st:?}");
        assert_eq!(st.received, st.delivered + st.kernel_drops, "{st:?}");
        assert_eq!(st.truncated, 0);
    }
    owner
}

/// demo.pcap plus 64 two-way flows.
fn test_traffic() -> (Vec<Vec<u8>>, Vec<Option<u16>>) {
    let mut frames = demo_frames();
    let mut flow = vec![None; frames.len()];
    let (f, ids) = flow_frames(64, 3);
    frames.extend(f);
    flow.extend(ids.into_iter().map(Some));
    (frames, flow)
}

fn afpacket_capture(
    lab: &Lab,
    sockets: usize,
    cfg: &AfPacketConfig,
    frames: Vec<Vec<u8>>,
) -> (Vec<Captured>, u64, Vec<Vec<u8>>) {
    let srcs = AfPacketSource::open_group(&lab.near, sockets, cfg).expect("open capture");
    assert_eq!(srcs.len(), sockets);
    // Always a group, even of one: workers see the same whatever their number.
    let g = srcs[0].fanout_group();
    assert!(g.is_some());
    assert!(srcs.iter().all(|s| s.fanout_group() == g));
    let t0 = now_ns();
    let frames = Arc::new(frames);
    let f2 = frames.clone();
    let caps = capture_while(srcs, frames.len(), || {
        let n = send_frames(&lab.ns, &lab.far, f2).join().expect("sender");
        assert_eq!(n, frames.len());
    });
    (
        caps,
        t0,
        Arc::try_unwrap(frames).unwrap_or_else(|a| (*a).clone()),
    )
}

fn check_fanout_split(caps: &[Captured], owner: &[usize], flow: &[Option<u16>]) {
    let mut flow_owner: HashMap<u16, usize> = HashMap::new();
    for (i, fl) in flow.iter().enumerate() {
        if let Some(fl) = fl {
            let o = *flow_owner.entry(*fl).or_insert(owner[i]);
            assert_eq!(o, owner[i], "flow {fl}: directions split across sockets");
        }
    }
    for (s, cap) in caps.iter().enumerate() {
        let flows = flow_owner.values().filter(|&&o| o == s).count();
        assert!(flows > 0, "socket {s} got no flow: fanout did not spread");
        assert!(!cap.frames.is_empty());
    }
}

#[test]
fn afpacket_one_socket_captures_every_frame_once() {
    if !live_allowed() {
        return;
    }
    let lab = Lab::new('a');
    let (frames, _) = test_traffic();
    let (caps, t0, frames) = afpacket_capture(&lab, 1, &small_ring(), frames);
    assert_each_frame_once(&frames, &caps, t0);
}

#[test]
fn afpacket_fanout_group_splits_flows_without_duplicates() {
    if !live_allowed() {
        return;
    }
    let lab = Lab::new('b');
    let (frames, flow) = test_traffic();
    let (caps, t0, frames) = afpacket_capture(&lab, 2, &small_ring(), frames);
    let owner = assert_each_frame_once(&frames, &caps, t0);
    check_fanout_split(&caps, &owner, &flow);
}

#[test]
fn afpacket_snaplen_cuts_frames_and_keeps_wire_length() {
    if !live_allowed() {
        return;
    }
    let lab = Lab::new('c');
    let cfg = AfPacketConfig {
        snaplen: 64,
        ..small_ring()
    };
    let frames: Vec<Vec<u8>> = (0..20u8)
        .map(|i| ip_frame(&[], [10, 1, 1, i], [10, 2, 2, 2], 17, 1000, 53, &[i; 958]))
        .collect();
    assert_eq!(frames[0].len(), 1000);
    let (caps, _, frames) = afpacket_capture(&lab, 1, &cfg, frames);
    let got: Vec<_> = caps[0]
        .frames
        .iter()
        .filter(|(d, _, _)| frames.iter().any(|f| f[..64] == d[..]))
        .collect();
    assert_eq!(got.len(), 20, "captured {:?}", caps[0].stats);
    for (d, orig, _) in got {
        assert_eq!((d.len(), *orig), (64, 1000));
    }
    assert!(caps[0].stats.truncated >= 20);
}

#[test]
fn afpacket_full_ring_drops_are_counted_exactly() {
    if !live_allowed() {
        return;
    }
    let lab = Lab::new('d');
    // Two 4 KiB blocks hold a handful of frames; nobody reads while 2,000
    // are sent, so most must be dropped — and counted.
    let cfg = AfPacketConfig {
        block_size: 4096,
        block_count: 2,
        ..AfPacketConfig::default()
    };
    let mut src = AfPacketSource::open(&lab.near, &cfg).expect("open");
    let frames: Vec<Vec<u8>> = (0..2000u16)
        .map(|i| ip_frame(&[], [10, 3, 0, 1], [10, 3, 0, 2], 17, i, 53, &[7; 200]))
        .collect();
    let n = send_frames(&lab.ns, &lab.far, Arc::new(frames.clone()))
        .join()
        .unwrap();
    assert_eq!(n, 2000);
    thread::sleep(Duration::from_millis(100)); // past the retire timeout
    let mut ours = 0u64;
    let mut idle = 0;
    while idle < 2 {
        match src.next_live().unwrap() {
            LiveNext::Packet(p) => {
                if frames.iter().any(|f| f[..] == *p.data) {
                    ours += 1;
                }
            }
            LiveNext::Idle => idle += 1,
        }
    }
    let st = src.stats();
    assert!(
        st.kernel_drops > 0,
        "expected drops with a tiny ring: {st:?}"
    );
    assert_eq!(st.received, st.delivered + st.kernel_drops, "{st:?}");
    assert_eq!(
        ours + st.kernel_drops,
        2000,
        "sent = seen + dropped: {st:?}"
    );
    // Counters accumulate across reads (the kernel resets its own).
    assert_eq!(src.stats(), st);
}

#[test]
fn afpacket_source_trait_stops_on_flag() {
    if !live_allowed() {
        return;
    }
    let lab = Lab::new('e');
    let mut src = AfPacketSource::open(&lab.near, &small_ring()).expect("open");
    let stop = Arc::new(AtomicBool::new(false));
    src.set_stop_flag(stop.clone());
    let frames = Arc::new(vec![ip_frame(
        &[],
        [10, 4, 0, 1],
        [10, 4, 0, 2],
        17,
        1,
        2,
        b"x",
    )]);
    send_frames(&lab.ns, &lab.far, frames.clone())
        .join()
        .unwrap();
    let p = src
        .next_packet()
        .expect("read")
        .expect("a packet, not the end");
    assert_eq!(p.data, &frames[0][..]);
    stop.store(true, Ordering::SeqCst);
    let t = Instant::now();
    assert!(src.next_packet().expect("read").is_none());
    assert!(t.elapsed() < Duration::from_secs(1));
}

/// Reads `src` until `want` frames matching `pred` arrived or `secs` passed.
fn read_matching(
    src: &mut AfPacketSource,
    want: usize,
    secs: u64,
    pred: impl Fn(&[u8]) -> bool,
) -> Vec<Vec<u8>> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut got = Vec::new();
    while got.len() < want && Instant::now() < deadline {
        if let LiveNext::Packet(p) = src.next_live().expect("next_live")
            && pred(p.data)
        {
            got.push(p.data.to_vec());
        }
    }
    got
}

/// A sensor runs for weeks: a link that flaps must not end the capture,
/// and a link that disappears must not leave it silently deaf.
#[test]
fn afpacket_survives_link_down_and_reports_removal() {
    if !live_allowed() {
        return;
    }
    let lab = Lab::new('h');
    let mut src = AfPacketSource::open(&lab.near, &small_ring()).expect("open");
    let frame = |i: u8| ip_frame(&[], [10, 6, 0, 1], [10, 6, 0, 2], 17, 7, 7, &[i; 32]);
    let ours = |d: &[u8]| (0..3).any(|i| d == frame(i).as_slice());

    send_frames(&lab.ns, &lab.far, Arc::new(vec![frame(0)]))
        .join()
        .unwrap();
    assert_eq!(read_matching(&mut src, 1, 5, ours), vec![frame(0)]);

    run("ip", &["link", "set", &lab.near, "down"]);
    for _ in 0..3 {
        // ENETDOWN is reported once and absorbed: Idle, not an error.
        let _ = src.next_live().expect("a downed link is not an error");
    }
    assert!(src.stats().link_down >= 1, "{:?}", src.stats());
    run("ip", &["link", "set", &lab.near, "up"]);
    thread::sleep(Duration::from_millis(200));
    send_frames(&lab.ns, &lab.far, Arc::new(vec![frame(1)]))
        .join()
        .unwrap();
    assert_eq!(
        read_matching(&mut src, 1, 5, ours),
        vec![frame(1)],
        "capture did not resume after the link came back"
    );

    run("ip", &["link", "del", &lab.near]);
    let deadline = Instant::now() + Duration::from_secs(5);
    let err = loop {
        match src.next_live() {
            Err(e) => break e,
            Ok(_) => assert!(Instant::now() < deadline, "removal never reported"),
        }
    };
    assert!(
        err.to_string().contains("the interface was removed"),
        "{err}"
    );
}

/// With a fanout group, PACKET_FANOUT_FLAG_DEFRAG makes the kernel
/// reassemble IPv4 fragments before choosing a socket: the worker gets one
/// whole datagram, on the socket its flow hashes to.
#[test]
fn afpacket_fanout_delivers_reassembled_ipv4_fragments() {
    if !live_allowed() {
        return;
    }
    for workers in [1, 2] {
        fragments_arrive_reassembled(workers);
    }
}

fn fragments_arrive_reassembled(workers: usize) {
    let lab = Lab::new(if workers == 1 { 'i' } else { 'j' });
    let srcs = AfPacketSource::open_group(&lab.near, workers, &small_ring()).expect("open");
    let payload: Vec<u8> = (0..64u8).collect();
    let whole = ip_frame(&[], [10, 7, 0, 1], [10, 7, 0, 2], 17, 5353, 53, &payload);
    // Split the 72-byte UDP datagram into IP fragments of 40 + 32 bytes.
    let (eth, ip) = whole.split_at(14);
    let (hdr, body) = ip.split_at(20);
    let frag = |off: usize, data: &[u8], more: bool| {
        let mut h = hdr.to_vec();
        h[2..4].copy_from_slice(&((20 + data.len()) as u16).to_be_bytes());
        let fo = (off / 8) as u16 | if more { 0x2000 } else { 0 };
        h[6..8].copy_from_slice(&fo.to_be_bytes());
        h[10..12].copy_from_slice(&[0, 0]);
        let c = ipv4_checksum(&h);
        h[10..12].copy_from_slice(&c.to_be_bytes());
        [eth, &h, data].concat()
    };
    let frags = vec![frag(0, &body[..40], true), frag(40, &body[40..], false)];
    let caps = capture_while(srcs, 1, || {
        send_frames(&lab.ns, &lab.far, Arc::new(frags.clone()))
            .join()
            .unwrap();
    });
    let got: Vec<&Vec<u8>> = caps
        .iter()
        .flat_map(|c| c.frames.iter().map(|(d, _, _)| d))
        .filter(|d| d.len() > 30 && d[26..30] == [10, 7, 0, 1])
        .collect();
    assert_eq!(
        got.len(),
        1,
        "{workers} workers: wanted one reassembled datagram: {got:02x?}"
    );
    let g = got[0];
    // Same addresses, ports and payload; a fresh IPv4 header (no MF, offset 0).
    assert_eq!(g.len(), whole.len());
    assert_eq!(&g[..14], &whole[..14]);
    assert_eq!(u16::from_be_bytes([g[20], g[21]]) & 0x3fff, 0);
    assert_eq!(&g[26..], &whole[26..], "addresses, UDP header and payload");
}

/// Loopback passes every frame to packet sockets twice (leaving and
/// arriving); the capture keeps one copy.
#[test]
fn afpacket_loopback_frames_are_seen_once() {
    if !live_allowed() {
        return;
    }
    let lab = Lab::new('k');
    let ns = lab.ns.clone();
    // setns affects only the calling thread: do it on a thread of our own.
    let seen = thread::spawn(move || {
        enter_netns(&ns).unwrap();
        // A lone socket, then a fanout group of two (opened one after the
        // other, so neither sees the other's datagram).
        let lone = AfPacketSource::open("lo", &small_ring()).expect("open lo");
        let a = loopback_count(vec![lone], b"PHONEHOME-LIVE loopback lone");
        let group = AfPacketSource::open_group("lo", 2, &small_ring()).expect("open lo");
        let b = loopback_count(group, b"PHONEHOME-LIVE loopback group");
        [a, b]
    })
    .join()
    .unwrap();
    assert_eq!(
        seen,
        [1, 1],
        "copies of one loopback datagram (lone, group)"
    );
}

/// Sends one datagram with `marker` over loopback and counts its copies
/// across `srcs`.
fn loopback_count(mut srcs: Vec<AfPacketSource>, marker: &[u8]) -> usize {
    assert_eq!(srcs[0].linktype(), LinkType::ETHERNET);
    // A listening receiver, so no ICMP error quotes the datagram back.
    let rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    tx.send_to(marker, rx.local_addr().unwrap()).unwrap();
    let deadline = Instant::now() + Duration::from_millis(800);
    let mut n = 0;
    while Instant::now() < deadline {
        for src in srcs.iter_mut() {
            if let LiveNext::Packet(p) = src.next_live().unwrap() {
                n += usize::from(p.data.ends_with(marker));
            }
        }
    }
    n
}

#[test]
fn afpacket_missing_interface_reads_as_specified() {
    let name = format!("phmiss{:x}", std::process::id());
    let err = AfPacketSource::open(&name, &AfPacketConfig::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("interface {name} not found (list interfaces with `ip link`)")
    );
}

/// Runs this test binary again as `wrapper… exe --exact test`, with role
/// `role`, and returns its combined output after checking it succeeded.
fn run_child(wrapper: &[&str], test: &str, role: &str, extra_env: &[(&str, &str)]) -> String {
    let exe = std::env::current_exe().unwrap();
    let exe = exe.to_str().unwrap();
    let mut args: Vec<&str> = wrapper.iter().skip(1).copied().collect();
    args.extend([exe, "--exact", test, "--nocapture", "--test-threads=1"]);
    let out = Command::new(wrapper[0])
        .args(&args)
        .env(CHILD_ENV, role)
        .envs(extra_env.iter().copied())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", wrapper[0]));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "child {role} failed:\n{text}");
    assert!(text.contains("1 passed"), "child ran no test:\n{text}");
    text
}

/// Without CAP_NET_RAW (removed from the bounding and inheritable sets, so
/// even root cannot have it), opening a capture fails with the message
/// telling how to grant it.
#[test]
fn afpacket_without_cap_net_raw_says_how_to_grant_it() {
    const ME: &str = "afpacket_without_cap_net_raw_says_how_to_grant_it";
    if std::env::var(CHILD_ENV).as_deref() == Ok("no-cap") {
        let err = AfPacketSource::open("lo", &AfPacketConfig::default()).unwrap_err();
        println!("CHILD-ERROR: {err}");
        assert_eq!(err.label(), "permission_denied");
        return;
    }
    if !live_allowed() {
        return;
    }
    let out = run_child(
        &["setpriv", "--inh-caps=-net_raw", "--bounding-set=-net_raw"],
        ME,
        "no-cap",
        &[],
    );
    let exe = std::env::current_exe().unwrap();
    let want = format!(
        "CHILD-ERROR: capturing on lo needs CAP_NET_RAW: run as root, or `setcap cap_net_raw,cap_net_admin=eip {}`",
        exe.display()
    );
    assert!(out.contains(&want), "wanted {want:?} in:\n{out}");
}

/// An unprivileged user holding only CAP_NET_RAW (as granted by setcap or
/// systemd's AmbientCapabilities) can open a promiscuous capture.
#[test]
fn afpacket_only_cap_net_raw_is_enough() {
    const ME: &str = "afpacket_only_cap_net_raw_is_enough";
    if let Ok("only-net-raw") = std::env::var(CHILD_ENV).as_deref() {
        let iface = std::env::var("PHONEHOME_LIVE_IFACE").unwrap();
        // SAFETY: getters without arguments.
        let uid = unsafe { libc::geteuid() };
        assert_ne!(uid, 0, "child should not be root");
        let mut src = AfPacketSource::open(&iface, &small_ring()).expect("open with CAP_NET_RAW");
        let _ = src.stats();
        println!("CHILD-OK uid {uid}");
        return;
    }
    if !live_allowed() {
        return;
    }
    let lab = Lab::new('f');
    let out = run_child(
        &[
            "setpriv",
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            "--inh-caps=-all,+net_raw",
            "--ambient-caps=-all,+net_raw",
            "--bounding-set=-all,+net_raw",
        ],
        ME,
        "only-net-raw",
        &[("PHONEHOME_LIVE_IFACE", &lab.near)],
    );
    assert!(out.contains("CHILD-OK"), "{out}");
}

/// After `drop_privileges`, the process runs as the user, the socket opened
/// before keeps capturing, and new sockets are refused.
#[test]
fn afpacket_drop_privileges_keeps_open_sockets() {
    const ME: &str = "afpacket_drop_privileges_keeps_open_sockets";
    if let Ok("drop") = std::env::var(CHILD_ENV).as_deref() {
        // Work inside the lab namespace: its loopback is ours alone.
        enter_netns(&std::env::var("PHONEHOME_LIVE_NS").unwrap()).unwrap();
        let mut src = AfPacketSource::open("lo", &small_ring()).expect("open as root");
        drop_privileges("nobody").expect("drop to nobody");
        // SAFETY: getters without arguments.
        let (uid, euid) = unsafe { (libc::getuid(), libc::geteuid()) };
        assert!(uid != 0 && euid != 0, "still root: {uid}/{euid}");
        let marker = b"PHONEHOME-LIVE after drop";
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.send_to(marker, "127.0.0.1:9").unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut seen = false;
        while !seen && Instant::now() < deadline {
            if let LiveNext::Packet(p) = src.next_live().unwrap() {
                seen = p.data.ends_with(marker);
            }
        }
        assert!(seen, "capture stopped after dropping privileges");
        let err = AfPacketSource::open("lo", &small_ring()).unwrap_err();
        assert_eq!(err.label(), "permission_denied", "{err}");
        println!("CHILD-OK uid {uid}");
        return;
    }
    if !live_allowed() {
        return;
    }
    let lab = Lab::new('g');
    let out = run_child(&["env"], ME, "drop", &[("PHONEHOME_LIVE_NS", &lab.ns)]);
    assert!(out.contains("CHILD-OK"), "{out}");
}

#[cfg(feature = "pcap")]
mod pcap_backend {
    use super::*;
    use phonehome::capture::pcap_live::{PcapConfig, PcapLiveSource};

    fn cfg() -> PcapConfig {
        PcapConfig {
            buffer_size: 16 << 20,
            ..PcapConfig::default()
        }
    }

    /// Captures with `n` handles while `frames` are sent; `want` frames are
    /// expected to pass the filter.
    fn capture(
        lab: &Lab,
        n: usize,
        cfg: &PcapConfig,
        frames: Vec<Vec<u8>>,
        want: usize,
    ) -> (Vec<Captured>, u64) {
        let srcs = PcapLiveSource::open_group(&lab.near, n, cfg).expect("open pcap");
        assert_eq!(srcs.len(), n);
        let t0 = now_ns();
        let frames = Arc::new(frames);
        let f2 = frames.clone();
        let caps = capture_while(srcs, want, || {
            send_frames(&lab.ns, &lab.far, f2).join().unwrap();
        });
        (caps, t0)
    }

    #[test]
    fn pcap_one_handle_captures_every_frame_once() {
        if !live_allowed() {
            return;
        }
        let lab = Lab::new('p');
        let (frames, _) = test_traffic();
        let (caps, t0) = capture(&lab, 1, &cfg(), frames.clone(), frames.len());
        assert_each_frame_once(&frames, &caps, t0);
    }

    #[test]
    fn pcap_fanout_group_splits_flows_without_duplicates() {
        if !live_allowed() {
            return;
        }
        let lab = Lab::new('q');
        let (frames, flow) = test_traffic();
        let (caps, t0) = capture(&lab, 2, &cfg(), frames.clone(), frames.len());
        let owner = assert_each_frame_once(&frames, &caps, t0);
        check_fanout_split(&caps, &owner, &flow);
    }

    #[test]
    fn pcap_bpf_filter_selects_frames() {
        if !live_allowed() {
            return;
        }
        let lab = Lab::new('r');
        let udp: Vec<Vec<u8>> = (0..10u8)
            .map(|i| {
                ip_frame(
                    &[],
                    [10, 5, 0, i],
                    [10, 5, 1, 1],
                    17,
                    4000,
                    53,
                    b"PHONEHOME-LIVE u",
                )
            })
            .collect();
        let tcp: Vec<Vec<u8>> = (0..10u8)
            .map(|i| {
                ip_frame(
                    &[],
                    [10, 5, 0, i],
                    [10, 5, 1, 1],
                    6,
                    4000,
                    443,
                    b"PHONEHOME-LIVE t",
                )
            })
            .collect();
        let cfg = PcapConfig {
            bpf: Some("udp port 53".into()),
            ..cfg()
        };
        let all: Vec<Vec<u8>> = udp.iter().chain(tcp.iter()).cloned().collect();
        let (caps, _) = capture(&lab, 1, &cfg, all, udp.len());
        let got: Vec<&Vec<u8>> = caps[0].frames.iter().map(|(d, _, _)| d).collect();
        for f in &udp {
            assert_eq!(got.iter().filter(|g| **g == f).count(), 1);
        }
        for f in &tcp {
            assert!(!got.contains(&f), "filtered frame delivered");
        }
        let bad = PcapConfig {
            bpf: Some("this is not bpf".into()),
            ..cfg
        };
        let err = PcapLiveSource::open(&lab.near, &bad).unwrap_err();
        assert_eq!(err.label(), "bad_config");
        assert!(err.to_string().contains("this is not bpf"), "{err}");
    }

    #[test]
    fn pcap_source_trait_stops_on_flag() {
        if !live_allowed() {
            return;
        }
        let lab = Lab::new('s');
        let mut src = PcapLiveSource::open(&lab.near, &cfg()).expect("open");
        let stop = Arc::new(AtomicBool::new(false));
        src.set_stop_flag(stop.clone());
        let frames = Arc::new(vec![ip_frame(
            &[],
            [10, 8, 0, 1],
            [10, 8, 0, 2],
            17,
            1,
            2,
            b"PHONEHOME-LIVE pcap source",
        )]);
        send_frames(&lab.ns, &lab.far, frames.clone())
            .join()
            .unwrap();
        let p = src
            .next_packet()
            .expect("read")
            .expect("a packet, not the end");
        assert_eq!(p.data, &frames[0][..]);
        assert_eq!(p.orig_len as usize, frames[0].len());
        stop.store(true, Ordering::SeqCst);
        let t = Instant::now();
        assert!(src.next_packet().expect("read").is_none());
        assert!(t.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn pcap_missing_interface_reads_as_specified() {
        let name = format!("phmiss{:x}", std::process::id());
        let err = PcapLiveSource::open(&name, &cfg()).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("interface {name} not found (list interfaces with `ip link`)")
        );
    }

    #[test]
    fn pcap_without_cap_net_raw_says_how_to_grant_it() {
        const ME: &str = "pcap_backend::pcap_without_cap_net_raw_says_how_to_grant_it";
        if std::env::var(CHILD_ENV).as_deref() == Ok("pcap-no-cap") {
            let err = PcapLiveSource::open("lo", &cfg()).unwrap_err();
            println!("CHILD-ERROR: {err}");
            assert_eq!(err.label(), "permission_denied");
            return;
        }
        if !live_allowed() {
            return;
        }
        let out = run_child(
            &["setpriv", "--inh-caps=-net_raw", "--bounding-set=-net_raw"],
            ME,
            "pcap-no-cap",
            &[],
        );
        assert!(
            out.contains("CHILD-ERROR: capturing on lo needs CAP_NET_RAW: run as root, or `setcap cap_net_raw,cap_net_admin=eip "),
            "{out}"
        );
    }
}
