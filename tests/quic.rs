//! QUIC Initials end to end: generated captures (encrypted with our own
//! builder, `traffic::quic`) run through the whole offline pipeline, plus
//! the corpus files the oracle cannot check (QUIC v2).
//!
//! The corpus files with an oracle SNI are checked by `corpus_oracle.rs`.

mod common;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

use phonehome::event::{Event, NameDetail, Protocol};
use phonehome::extract::quic::crypto::Side;
use phonehome::extract::quic::{LongType, QuicStats, QuicTracker, Tuple, VERSION_1, VERSION_2};
use phonehome::runtime::RunReport;
use phonehome::traffic::packet::{self, IpOpts, Link};
use phonehome::traffic::pcap::{PcapWriter, TsResolution};
use phonehome::traffic::quic::{self as build, Initial, push_crypto_frame};
use phonehome::traffic::rng::Rng;
use phonehome::traffic::tls::{HelloSpec, Shape, write_client_hello};

const SERVER_PORT: u16 = 443;

/// A capture being built: raw-IP frames, 1 ms apart.
struct Cap {
    w: PcapWriter<Vec<u8>>,
    ts: u64,
}

impl Cap {
    fn new() -> Cap {
        Cap {
            w: PcapWriter::new(Vec::new(), Link::RawIp.linktype(), TsResolution::Nanos).unwrap(),
            ts: 1_700_000_000_000_000_000,
        }
    }

    fn send(&mut self, src: SocketAddr, dst: SocketAddr, payload: &[u8]) {
        let mut f = Vec::new();
        packet::write_udp(&mut f, &Link::RawIp, src, dst, IpOpts::default(), payload).unwrap();
        self.w.write_packet(self.ts, &f).unwrap();
        self.ts += 1_000_000;
    }

    fn wait(&mut self, ns: u64) {
        self.ts += ns;
    }

    /// Run the pipeline; returns the stats and the QUIC names as
    /// (client address, name, version).
    fn run(self, tag: &str) -> (RunReport, Vec<(SocketAddr, String, u32)>) {
        let bytes = self.w.finish().unwrap();
        let path: PathBuf =
            std::env::temp_dir().join(format!("phonehome-quic-{}-{tag}.pcap", std::process::id()));
        std::fs::write(&path, bytes).unwrap();
        let (report, events) = common::run(&[path.as_path()], 1);
        let _ = std::fs::remove_file(&path);
        let mut names = Vec::new();
        for ev in events {
            if let Event::Name(n) = ev {
                assert_eq!(n.protocol, Protocol::Quic, "only QUIC names expected");
                let NameDetail::Quic { version, .. } = n.detail else {
                    panic!("QUIC name without QUIC detail");
                };
                let src = SocketAddr::new(n.endpoints.src_ip, n.endpoints.src_port);
                names.push((src, String::from_utf8(n.name.to_vec()).unwrap(), version));
            }
        }
        (report, names)
    }
}

fn client(port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3)), port)
}

fn server() -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10)), SERVER_PORT)
}

/// A Chrome-shaped hello with a 1,216-byte X25519MLKEM768 share and ECH
/// GREASE: about 1.9 KB, more than one Initial holds.
fn pq_hello(sni: &str, seed: u64) -> Vec<u8> {
    let mut out = Vec::new();
    let spec = HelloSpec {
        shape: Shape::Chrome,
        sni: Some(sni.as_bytes()),
        post_quantum: true,
    };
    write_client_hello(&mut out, &spec, &mut Rng::new(seed)).unwrap();
    assert!(out.len() > 1500, "a post-quantum hello needs two Initials");
    out
}

/// Split `hello` into `n` contiguous parts: (offset, bytes).
fn split(hello: &[u8], n: usize) -> Vec<(u64, &[u8])> {
    let step = hello.len().div_ceil(n);
    hello
        .chunks(step)
        .enumerate()
        .map(|(i, c)| ((i * step) as u64, c))
        .collect()
}

/// CRYPTO frames for one part, cut in two and written in reverse order, as
/// Chromium shuffles its frames.
fn shuffled_frames(offset: u64, data: &[u8]) -> Vec<u8> {
    let (a, b) = data.split_at(data.len() / 2);
    let mut f = Vec::new();
    push_crypto_frame(&mut f, offset + a.len() as u64, b).unwrap();
    f.push(0x01); // PING
    push_crypto_frame(&mut f, offset, a).unwrap();
    f
}

fn client_initial(version: u32, dcid: &[u8], key: &[u8], pn: u64, frames: &[u8]) -> Vec<u8> {
    let p = Initial {
        version,
        dcid,
        scid: b"clientcid",
        token: b"",
        pn,
        pn_len: 2,
    };
    build::initial(&p, Side::Client, key, frames, 1200).unwrap()
}

fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 1 {
        return vec![vec![0]];
    }
    let mut out = Vec::new();
    for p in permutations(n - 1) {
        for at in 0..=p.len() {
            let mut q = p.clone();
            q.insert(at, n - 1);
            out.push(q);
        }
    }
    out
}

fn quic(r: &RunReport) -> QuicStats {
    r.stats.quic
}

/// A post-quantum hello over 2 and over 3 Initials, delivered in every
/// order, for v1 and v2: each connection yields its name exactly once.
#[test]
fn post_quantum_hello_over_two_and_three_initials_in_every_order() {
    for version in [VERSION_1, VERSION_2] {
        let mut cap = Cap::new();
        let mut want = BTreeMap::new();
        let mut port = 40_000u16;
        for parts in [2usize, 3] {
            for order in permutations(parts) {
                port += 1;
                let sni = format!("pq{parts}-{port}.example");
                let hello = pq_hello(&sni, u64::from(port));
                let pieces = split(&hello, parts);
                let dcid = port.to_be_bytes().repeat(4);
                for &i in &order {
                    let (off, data) = pieces[i];
                    let frames = shuffled_frames(off, data);
                    let pkt = client_initial(version, &dcid, &dcid, i as u64, &frames);
                    cap.send(client(port), server(), &pkt);
                }
                want.insert(client(port), sni);
            }
        }
        let (r, names) = cap.run(&format!("pq-{version:x}"));
        let got: BTreeMap<_, _> = names.iter().map(|(c, n, _)| (*c, n.clone())).collect();
        assert_eq!(got, want, "version {version:#x}");
        assert_eq!(names.len(), want.len(), "each name exactly once");
        assert!(names.iter().all(|(_, _, v)| *v == version));
        let q = quic(&r);
        assert_eq!(q.hellos, want.len() as u64);
        assert_eq!(q.hellos_ech, want.len() as u64, "Chrome shape sends ECH");
        assert_eq!(q.decrypt_failed, 0);
        assert!(q.crypto_out_of_order > 0);
    }
}

/// Two Initials and a Handshake packet coalesced in one datagram
/// (RFC 9000 §12.2), then a 0-RTT packet after an Initial.
#[test]
fn coalesced_packets() {
    let mut cap = Cap::new();
    let dcid = b"coalesce";
    let hello = pq_hello("coalesced.example", 1);
    let pieces = split(&hello, 2);
    let mut f0 = Vec::new();
    push_crypto_frame(&mut f0, pieces[0].0, pieces[0].1).unwrap();
    let mut f1 = Vec::new();
    push_crypto_frame(&mut f1, pieces[1].0, pieces[1].1).unwrap();
    let p = |pn| Initial {
        version: VERSION_1,
        dcid,
        scid: b"c",
        token: b"",
        pn,
        pn_len: 1,
    };
    // Second part first, first part second, then opaque packets.
    let mut d = build::initial(&p(1), Side::Client, dcid, &f1, 0).unwrap();
    d.extend(build::initial(&p(0), Side::Client, dcid, &f0, 0).unwrap());
    d.extend(build::opaque_long(VERSION_1, LongType::Handshake, dcid, b"c", &[7; 40]).unwrap());
    cap.send(client(5000), server(), &d);
    // Another handshake: a whole hello with a 0-RTT packet behind it.
    let small = {
        let mut h = Vec::new();
        let spec = HelloSpec {
            shape: Shape::Agent,
            sni: Some(b"zero-rtt.example"),
            post_quantum: false,
        };
        write_client_hello(&mut h, &spec, &mut Rng::new(2)).unwrap();
        h
    };
    let mut f = Vec::new();
    push_crypto_frame(&mut f, 0, &small).unwrap();
    let mut d = build::initial(&p(0), Side::Client, dcid, &f, 0).unwrap();
    d.extend(build::opaque_long(VERSION_1, LongType::ZeroRtt, dcid, b"c", &[9; 300]).unwrap());
    cap.send(client(5001), server(), &d);
    let (r, names) = cap.run("coalesced");
    assert_eq!(
        names,
        vec![
            (client(5000), "coalesced.example".into(), VERSION_1),
            (client(5001), "zero-rtt.example".into(), VERSION_1)
        ]
    );
    let q = quic(&r);
    assert_eq!((q.initials, q.initials_decrypted), (3, 3));
    assert_eq!(q.hellos_ech, 1);
}

/// A Retry (RFC 9000 §17.2.5): the client's next Initial uses the Retry's
/// SCID as DCID and derives new keys from it (RFC 9001 §5.2).
#[test]
fn retry_then_new_initial() {
    for version in [VERSION_1, VERSION_2] {
        let mut cap = Cap::new();
        let odcid = b"original";
        let new_dcid = b"from-the-retry";
        let hello = pq_hello("retried.example", 3);
        let pieces = split(&hello, 2);
        // First attempt: only the first Initial is seen, then the Retry.
        let f0 = shuffled_frames(pieces[0].0, pieces[0].1);
        cap.send(
            client(6000),
            server(),
            &client_initial(version, odcid, odcid, 0, &f0),
        );
        let retry = build::retry(version, b"clientcid", new_dcid, b"retry-token").unwrap();
        cap.send(server(), client(6000), &retry);
        // Second attempt: the whole hello again, keyed from the new DCID.
        for (i, (off, data)) in pieces.iter().enumerate() {
            let p = Initial {
                version,
                dcid: new_dcid,
                scid: b"clientcid",
                token: b"retry-token",
                pn: 1 + i as u64,
                pn_len: 1,
            };
            let f = shuffled_frames(*off, data);
            cap.send(
                client(6000),
                server(),
                &build::initial(&p, Side::Client, new_dcid, &f, 1200).unwrap(),
            );
        }
        // A late retransmission of the hello: not reported twice.
        let p = Initial {
            version,
            dcid: new_dcid,
            scid: b"clientcid",
            token: b"retry-token",
            pn: 3,
            pn_len: 1,
        };
        let f = shuffled_frames(0, &hello);
        cap.send(
            client(6000),
            server(),
            &build::initial(&p, Side::Client, new_dcid, &f, 1200).unwrap(),
        );
        let (r, names) = cap.run(&format!("retry-{version:x}"));
        assert_eq!(
            names,
            vec![(client(6000), "retried.example".into(), version)]
        );
        let q = quic(&r);
        assert_eq!(q.retries, 1);
        assert_eq!(q.initials_after_hello, 1);
        assert_eq!(q.decrypt_failed, 0);
        assert_eq!(q.conns_created, 1);
    }
}

/// After the server's Initial the client uses the server's SCID as DCID
/// but keeps the keys of the original DCID (RFC 9000 §7.2, RFC 9001 §5.2);
/// the server's Initial itself is recognised and not reported.
#[test]
fn client_switches_dcid_after_server_initial() {
    let mut cap = Cap::new();
    let odcid = b"client-chosen";
    let hello = pq_hello("switch.example", 4);
    let pieces = split(&hello, 2);
    let f0 = shuffled_frames(pieces[0].0, pieces[0].1);
    cap.send(
        client(7000),
        server(),
        &client_initial(VERSION_1, odcid, odcid, 0, &f0),
    );
    let sp = Initial {
        version: VERSION_1,
        dcid: b"clientcid",
        scid: b"server-picked",
        token: b"",
        pn: 0,
        pn_len: 1,
    };
    let ack = [0x02, 0x00, 0x00, 0x00, 0x00];
    cap.send(
        server(),
        client(7000),
        &build::initial(&sp, Side::Server, odcid, &ack, 1200).unwrap(),
    );
    let f1 = shuffled_frames(pieces[1].0, pieces[1].1);
    cap.send(
        client(7000),
        server(),
        &client_initial(VERSION_1, b"server-picked", odcid, 1, &f1),
    );
    let (r, names) = cap.run("switch");
    assert_eq!(
        names,
        vec![(client(7000), "switch.example".into(), VERSION_1)]
    );
    let q = quic(&r);
    assert_eq!((q.server_initials, q.decrypt_failed), (1, 0));
}

/// A new connection on a reused 5-tuple (new DCID, no Retry) is a new
/// handshake with its own name; a server Initial seen without its client
/// (from port 443 to an ephemeral port) is counted as such, not as a
/// failure; a damaged client Initial is a decrypt failure.
#[test]
fn reused_five_tuple_unpaired_server_and_damage() {
    let mut cap = Cap::new();
    for (dcid, sni) in [
        (&b"first-conn"[..], "one.example"),
        (b"second-conn", "two.example"),
    ] {
        let mut f = Vec::new();
        push_crypto_frame(&mut f, 0, &pq_hello(sni, 5)).unwrap();
        // Both in one packet: a 1,400-byte Initial.
        let p = Initial {
            version: VERSION_1,
            dcid,
            scid: b"c",
            token: b"",
            pn: 0,
            pn_len: 1,
        };
        cap.send(
            client(8000),
            server(),
            &build::initial(&p, Side::Client, dcid, &f, 0).unwrap(),
        );
    }
    let sp = Initial {
        version: VERSION_1,
        dcid: b"someclient",
        scid: b"srv",
        token: b"",
        pn: 0,
        pn_len: 1,
    };
    cap.send(
        server(),
        client(8001),
        &build::initial(&sp, Side::Server, b"unseen-odcid", &[1], 1200).unwrap(),
    );
    let mut bad = client_initial(VERSION_1, b"damaged!", b"damaged!", 0, &[1]);
    bad[600] ^= 0x40;
    cap.send(client(8002), server(), &bad);
    let (r, names) = cap.run("reuse");
    assert_eq!(
        names,
        vec![
            (client(8000), "one.example".into(), VERSION_1),
            (client(8000), "two.example".into(), VERSION_1)
        ]
    );
    let q = quic(&r);
    assert_eq!((q.server_initials, q.decrypt_failed), (1, 1));
    assert_eq!(q.conns_created, 2);
}

/// QUIC on a port other than 443 (recognised by content), over IPv6.
#[test]
fn any_port_and_ipv6() {
    let mut cap = Cap::new();
    let c = SocketAddr::new(
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 5)),
        55_555,
    );
    let s = SocketAddr::new(
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 6)),
        8443,
    );
    let hello = pq_hello("odd-port.example", 6);
    for (i, (off, data)) in split(&hello, 3).into_iter().enumerate().rev() {
        let f = shuffled_frames(off, data);
        cap.send(
            c,
            s,
            &client_initial(VERSION_2, b"v6v6v6v6", b"v6v6v6v6", i as u64, &f),
        );
    }
    let (_, names) = cap.run("port");
    assert_eq!(names, vec![(c, "odd-port.example".into(), VERSION_2)]);
}

/// The first Initial lost: the hello never completes, no name is guessed,
/// and the loss is counted when the handshake expires.
#[test]
fn lost_first_initial_is_counted_not_guessed() {
    let mut cap = Cap::new();
    let hello = pq_hello("lost.example", 7);
    let pieces = split(&hello, 2);
    let f1 = shuffled_frames(pieces[1].0, pieces[1].1);
    cap.send(
        client(9000),
        server(),
        &client_initial(VERSION_1, b"lostlost", b"lostlost", 1, &f1),
    );
    cap.wait(phonehome::config::limits::QUIC_IDLE_TIMEOUT_NS);
    let other = shuffled_frames(0, &hello[..100]);
    cap.send(
        client(9001),
        server(),
        &client_initial(VERSION_1, b"nextnext", b"nextnext", 0, &other),
    );
    let (r, names) = cap.run("lost");
    assert!(names.is_empty());
    let q = quic(&r);
    assert_eq!((q.hellos, q.hellos_incomplete, q.conns_expired), (0, 1, 1));
    assert!(q.crypto_out_of_order >= 1);
}

/// gQUIC Q046: IETF-like long header, unencrypted CHLO in a STREAM frame.
#[test]
fn gquic_q046_chlo() {
    let mut p = vec![0xc3];
    p.extend_from_slice(b"Q046");
    p.push(0x50); // DCID length nibble 5 → 8 bytes, no SCID
    p.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
    p.extend_from_slice(&[0, 0, 0, 1]); // packet number
    p.extend_from_slice(&[0xaa; 12]); // message authentication hash
    p.extend_from_slice(&[0xa0, 0x01, 0x00, 0x04]); // STREAM, stream 1, length
    p.extend_from_slice(b"CHLO\x02\x00\x00\x00");
    p.extend_from_slice(b"SNI\0\x0f\x00\x00\x00VER\0\x13\x00\x00\x00");
    p.extend_from_slice(b"gquic46.example");
    p.extend_from_slice(b"Q046");
    p.resize(1350, 0x2d);
    let mut t = QuicTracker::new();
    let tuple = Tuple {
        src: client(1).ip(),
        src_port: 1,
        dst: server().ip(),
        dst_port: 443,
    };
    let mut got = Vec::new();
    for _ in 0..2 {
        t.datagram(1, tuple, &p, &mut |n| got.push((n.version, n.sni.to_vec())));
    }
    assert_eq!(
        got,
        vec![(u32::from_be_bytes(*b"Q046"), b"gquic46.example".to_vec())]
    );
    assert_eq!(t.stats.initials_after_hello, 1);
}

/// QUIC v2 corpus files (tagged oracle-incomplete: tshark 4.0 cannot
/// decrypt v2). Both are clients connecting to 127.0.0.1 without a
/// server_name extension (checked by decrypting them independently with
/// Python's `cryptography`): the hello must be decrypted and complete,
/// and no name reported.
#[test]
fn corpus_quic_v2_files_decrypt() {
    for f in [
        "suricata-verify__quic-v2.pcap",
        "zeek__quic-quicv2-http3-443.pcap",
    ] {
        let p = common::root().join("tests/corpus/pcaps").join(f);
        let (r, events) = common::run(&[p.as_path()], 1);
        let q = r.stats.quic;
        assert_eq!(q.decrypt_failed, 0, "{f}");
        assert!(q.initials_decrypted >= 1, "{f}");
        assert_eq!((q.hellos, q.hellos_without_sni), (1, 1), "{f}");
        assert!(
            !events
                .iter()
                .any(|e| matches!(e, Event::Name(n) if n.protocol == Protocol::Quic))
        );
    }
}

/// Every QUIC corpus file decrypts without failures (damage would show up
/// as decrypt_failed) and each handshake yields at most one name.
#[test]
fn corpus_quic_files_have_no_decrypt_failures() {
    let dir = common::root().join("tests/corpus/pcaps");
    let mut seen = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if !name.contains("quic") {
            continue;
        }
        seen += 1;
        let (r, events) = common::run(&[p.as_path()], 1);
        let q = r.stats.quic;
        assert_eq!(q.decrypt_failed, 0, "{name}: {q:?}");
        let quic_names = events
            .iter()
            .filter(|e| matches!(e, Event::Name(n) if n.protocol == Protocol::Quic))
            .count() as u64;
        assert_eq!(quic_names, q.sni, "{name}");
        assert!(q.sni <= q.conns_created, "{name}: {q:?}");
    }
    assert!(seen >= 17, "{seen} QUIC corpus files");
}
