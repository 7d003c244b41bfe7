//! Per-stage micro-benchmarks: what one packet costs in each stage of
//! capture → dispatch → decode → flow → extract → match.
//!
//! Inputs come from the generator's builders (`phonehome::traffic`), so they
//! are the same wire shapes the bulk capture and the tests use. Each
//! benchmark reports time per element (one frame, message, hello, request,
//! name or packet); BENCHMARKS.md turns them into the per-stage table.
//!
//! Run: `cargo bench --bench stages` (one group: `cargo bench --bench stages -- tls`).

mod common;

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use phonehome::capture::{FileSource, LinkType, RawPacket, Source};
use phonehome::decode;
use phonehome::extract::dns::{self, DnsItem, DnsScratch};
use phonehome::extract::http::{self, HttpScan};
use phonehome::extract::tls::{self, HelloScan};
use phonehome::flow::{App, FlowKey, FlowTable, PROTO_TCP, StreamEvent};
use phonehome::runtime::{self, PacketIn, Worker, WorkerConfig};
use phonehome::signatures::SignatureSet;
use phonehome::traffic::dns::{Answer, QTYPE_A, QTYPE_HTTPS, Rdata, write_query, write_response};
use phonehome::traffic::packet::{IpOpts, Link, TCP_ACK, TCP_PSH, TcpFields, Vlan, write_tcp};
use phonehome::traffic::rng::Rng;
use phonehome::traffic::tls::{
    CONTENT_HANDSHAKE, HelloSpec, Shape, write_client_hello, write_records,
};

const CLIENT_MAC: [u8; 6] = [0x02, 0x50, 0x0a, 0x01, 0x00, 0x11];
const GW_MAC: [u8; 6] = [0x02, 0x50, 0x0a, 0x01, 0xff, 0x01];

/// A full-size bulk-transfer segment (1,448 payload bytes) in `link`.
fn tcp_frame(link: Link, v6: bool) -> Vec<u8> {
    let (c, s): (IpAddr, IpAddr) = if v6 {
        (
            IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 1, 0, 0, 0, 0x1b)),
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x443)),
        )
    } else {
        (
            IpAddr::V4(Ipv4Addr::new(10, 1, 0, 27)),
            IpAddr::V4(Ipv4Addr::new(192, 0, 2, 80)),
        )
    };
    let mut out = Vec::new();
    write_tcp(
        &mut out,
        &link,
        SocketAddr::new(s, 443),
        SocketAddr::new(c, 50123),
        IpOpts::default(),
        TcpFields {
            seq: 1_000_000,
            ack: 2_000_000,
            flags: TCP_ACK | TCP_PSH,
            window: 501,
            syn_options: None,
        },
        &[0x5a; 1448],
    )
    .expect("frame builds");
    out
}

fn bench_decode(c: &mut Criterion) {
    let eth = tcp_frame(Link::eth(GW_MAC, CLIENT_MAC), false);
    let vlan = tcp_frame(
        Link::Ethernet {
            src: GW_MAC,
            dst: CLIENT_MAC,
            vlan: Vlan::Tag(101),
        },
        false,
    );
    let v6 = tcp_frame(Link::eth(GW_MAC, CLIENT_MAC), true);
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Elements(1));
    for (name, frame) in [
        ("eth_ipv4_tcp", &eth),
        ("vlan_ipv4_tcp", &vlan),
        ("eth_ipv6_tcp", &v6),
    ] {
        assert!(
            decode::decode(LinkType::ETHERNET, frame).is_ok(),
            "{name} decodes"
        );
        g.bench_function(name, |b| {
            b.iter(|| decode::decode(LinkType::ETHERNET, black_box(frame)).map(|d| d.payload.len()))
        });
    }
    g.finish();
}

fn bench_dispatch(c: &mut Criterion) {
    let frame = tcp_frame(Link::eth(GW_MAC, CLIENT_MAC), false);
    let p = RawPacket {
        ts_ns: 0,
        linktype: LinkType::ETHERNET,
        data: &frame,
        orig_len: frame.len() as u32,
    };
    let mut g = c.benchmark_group("dispatch");
    g.throughput(Throughput::Elements(1));
    // `runtime::dispatch` decodes the frame and hashes the symmetric key:
    // this is what the reader thread pays per packet with 2+ workers.
    g.bench_function("decode_and_hash_2_workers", |b| {
        b.iter(|| runtime::dispatch(black_box(&p), 2))
    });
    g.finish();
}

fn dns_messages() -> Vec<(&'static str, Vec<u8>, usize)> {
    let mut a = Vec::new();
    write_query(&mut a, 0x1234, b"www.example.com", QTYPE_A, true).expect("query");
    let mut https = Vec::new();
    write_query(
        &mut https,
        0x1235,
        b"s00.upd.kaspersky.com",
        QTYPE_HTTPS,
        true,
    )
    .expect("query");
    let mut resp = Vec::new();
    let answers = [
        Answer {
            owner: b"www.example.com",
            ttl: 300,
            data: Rdata::Cname(b"www.example.com.edgekey.example.net"),
        },
        Answer {
            owner: b"www.example.com.edgekey.example.net",
            ttl: 60,
            data: Rdata::Cname(b"e1234.a.akamaiedge.example.net"),
        },
        Answer {
            owner: b"e1234.a.akamaiedge.example.net",
            ttl: 20,
            data: Rdata::A(Ipv4Addr::new(192, 0, 2, 10)),
        },
        Answer {
            owner: b"e1234.a.akamaiedge.example.net",
            ttl: 20,
            data: Rdata::A(Ipv4Addr::new(192, 0, 2, 11)),
        },
    ];
    write_response(
        &mut resp,
        0x1234,
        b"www.example.com",
        QTYPE_A,
        &answers,
        0,
        true,
    )
    .expect("response");
    // (name, message, items the extractor must report)
    vec![
        ("query_a", a, 1),
        ("query_https", https, 1),
        ("response_cname_chain", resp, 2),
    ]
}

fn bench_dns(c: &mut Criterion) {
    let mut g = c.benchmark_group("dns");
    g.throughput(Throughput::Elements(1));
    let mut scratch = DnsScratch::default();
    for (name, msg, want) in dns_messages() {
        let mut n = 0usize;
        dns::extract(&msg, &mut scratch, &mut |_| n += 1).expect("message parses");
        assert_eq!(n, want, "{name}: items reported");
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut total = 0usize;
                let r = dns::extract(black_box(&msg), &mut scratch, &mut |it| {
                    total += match it {
                        DnsItem::Query { name, .. } => name.len(),
                        DnsItem::Answer { owner, .. } => owner.len(),
                    }
                });
                (r.is_ok(), total)
            })
        });
    }
    g.finish();
}

/// A ClientHello in one TLS record, as the first bytes of a client stream.
fn hello_record(post_quantum: bool) -> Vec<u8> {
    let mut rng = Rng::new(7);
    let mut hs = Vec::new();
    write_client_hello(
        &mut hs,
        &HelloSpec {
            shape: Shape::Chrome,
            sni: Some(b"dc1.ksn.kaspersky-labs.com"),
            post_quantum,
        },
        &mut rng,
    )
    .expect("hello builds");
    let mut rec = Vec::new();
    write_records(&mut rec, CONTENT_HANDSHAKE, 0x0301, &hs, &[]).expect("record builds");
    rec
}

/// SNI the way a sensor would get it from `tls-parser`: the record, the
/// handshake, then every extension.
fn tls_parser_sni(record: &[u8]) -> Option<usize> {
    use tls_parser::{SNIType, TlsExtension, TlsMessage, TlsMessageHandshake};
    let (_, plain) = tls_parser::parse_tls_plaintext(record).ok()?;
    let ch = plain.msg.iter().find_map(|m| match m {
        TlsMessage::Handshake(TlsMessageHandshake::ClientHello(ch)) => Some(ch),
        _ => None,
    })?;
    let (_, exts) = tls_parser::parse_tls_client_hello_extensions(ch.ext?).ok()?;
    exts.iter().find_map(|e| match e {
        TlsExtension::SNI(names) => names
            .iter()
            .find(|(t, _)| *t == SNIType::HostName)
            .map(|(_, n)| n.len()),
        _ => None,
    })
}

fn bench_tls(c: &mut Criterion) {
    let mut g = c.benchmark_group("tls");
    g.throughput(Throughput::Elements(1));
    let mut scratch = Vec::new();
    for (name, rec) in [
        ("classic", hello_record(false)),
        ("post_quantum", hello_record(true)),
    ] {
        let want = b"dc1.ksn.kaspersky-labs.com".len();
        match tls::scan_client_hello(&rec, &mut scratch) {
            HelloScan::Hello { sni: Some(s), .. } => assert_eq!(s.len(), want),
            other => panic!("{name}: {other:?}"),
        }
        assert_eq!(
            tls_parser_sni(&rec),
            Some(want),
            "{name}: tls-parser agrees"
        );
        g.bench_function(format!("scan_{name}_{}B", rec.len()), |b| {
            b.iter(
                || match tls::scan_client_hello(black_box(&rec), &mut scratch) {
                    HelloScan::Hello { sni, .. } => sni.map_or(0, <[u8]>::len),
                    _ => 0,
                },
            )
        });
        g.bench_function(format!("tls_parser_{name}_{}B", rec.len()), |b| {
            b.iter(|| tls_parser_sni(black_box(&rec)))
        });
    }
    g.finish();
}

fn bench_http(c: &mut Criterion) {
    let mut req = Vec::new();
    phonehome::traffic::http::write_request(
        &mut req,
        b"GET",
        b"/bases/upd-0607g.xml.dif?v=2",
        b"dnl-01.geo.kaspersky.com",
        &[
            (
                b"User-Agent",
                b"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36",
            ),
            (b"Accept", b"*/*"),
            (b"Accept-Encoding", b"gzip, deflate"),
            (b"Connection", b"keep-alive"),
        ],
        None,
    );
    match http::scan_request(&req) {
        HttpScan::Request { host: Some(h), .. } => assert_eq!(h, b"dnl-01.geo.kaspersky.com"),
        other => panic!("{other:?}"),
    }
    let mut g = c.benchmark_group("http");
    g.throughput(Throughput::Elements(1));
    g.bench_function(format!("scan_get_{}B", req.len()), |b| {
        b.iter(|| match http::scan_request(black_box(&req)) {
            HttpScan::Request { host, .. } => host.map_or(0, <[u8]>::len),
            _ => 0,
        })
    });
    g.finish();
}

fn bench_match(c: &mut Criterion) {
    let sigs = SignatureSet::builtin().expect("embedded pack loads");
    // 61 labels of "aN." plus a common suffix: 250 bytes, every boundary a
    // lookup, no match.
    let mut long = Vec::new();
    for i in 0..60 {
        long.extend_from_slice(format!("a{}.", i % 10).as_bytes());
    }
    long.extend_from_slice(b"cdn.example.net");
    assert!(
        long.len() <= 253,
        "long miss stays matchable: {}",
        long.len()
    );
    let cases: [(&str, &[u8], bool); 4] = [
        ("hit", b"s00.upd.kaspersky.com", true),
        ("miss", b"www.example.com", false),
        ("lookalike_miss", b"kaspersky.com.example.net", false),
        ("long_miss_250B", &long, false),
    ];
    let mut g = c.benchmark_group("match");
    g.throughput(Throughput::Elements(1));
    for (name, n, hit) in cases {
        assert_eq!(sigs.match_name(n).is_some(), hit, "{name}");
        g.bench_function(name, |b| b.iter(|| sigs.match_name(black_box(n)).is_some()));
    }
    g.finish();
}

fn bench_flow(c: &mut Criterion) {
    // The flow stage alone: what a TCP segment costs in the flow table when
    // its flow is already decided (the common case: bulk data and ACKs).
    let client = IpAddr::V4(Ipv4Addr::new(10, 1, 0, 27));
    let server = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 80));
    let (key, c2s) = FlowKey::new(PROTO_TCP, client, 50123, server, 443);
    let (_, s2c) = FlowKey::new(PROTO_TCP, server, 443, client, 50123);
    let payload = [0x5au8; 1448];
    let mut table = FlowTable::default();
    // SYN, then a first client segment the extractor declares finished.
    let mut done = |_: &[u8], _: &mut App| StreamEvent::Done;
    table.segment(key, c2s, 1, 1000, 0x02, &[], &mut done);
    table.segment(key, c2s, 2, 1001, 0x18, &payload[..100], &mut done);
    table.segment(key, s2c, 3, 5000, 0x12, &[], &mut done);
    table.segment(key, s2c, 4, 5001, 0x18, &payload[..100], &mut done);
    assert_eq!(table.len(), 1, "flow kept after both directions finished");
    let mut g = c.benchmark_group("flow");
    g.throughput(Throughput::Elements(1));
    let mut seq = 6000u32;
    // Packet time advances 1 ns per segment, so no idle sweep (every
    // FLOW_SWEEP_INTERVAL_NS) or expiry happens during the measurement.
    let mut ts = 5u64;
    g.bench_function("data_segment_finished_flow", |b| {
        b.iter(|| {
            seq = seq.wrapping_add(1448);
            ts += 1;
            table.segment(key, s2c, ts, seq, 0x10, black_box(&payload), &mut done);
        })
    });
    g.bench_function("pure_ack_finished_flow", |b| {
        b.iter(|| {
            ts += 1;
            table.segment(key, c2s, ts, 2000, 0x10, black_box(&[]), &mut done);
        })
    });
    assert_eq!(table.len(), 1, "the flow is still there");
    let (other, odir) = FlowKey::new(PROTO_TCP, client, 50124, server, 443);
    g.bench_function("pure_ack_unknown_flow", |b| {
        b.iter(|| {
            ts += 1;
            table.segment(other, odir, ts, 2000, 0x10, black_box(&[]), &mut done);
        })
    });
    assert_eq!(table.len(), 1, "ACKs of unknown flows create no state");
    assert_eq!(
        table.stats.flows_created, 1,
        "measured on one flow throughout"
    );
    g.finish();
}

fn bench_capture(c: &mut Criterion) {
    // The file reader alone (pcap-parser behind `FileSource`), from memory:
    // the capture stage's cost per packet without disk or page cache.
    let pcap = common::bulk_pcap(16 << 20);
    let n = common::read_all(pcap.clone()).pkts.len() as u64;
    let mut g = c.benchmark_group("capture");
    g.throughput(Throughput::Elements(n));
    g.sample_size(20);
    g.bench_function("read_bulk16M_from_memory", |b| {
        b.iter_batched(
            || std::io::Cursor::new(pcap.clone()),
            |cur| {
                let mut src = FileSource::from_reader("in-memory", cur).expect("pcap opens");
                let mut bytes = 0usize;
                while let Ok(Some(p)) = src.next_packet() {
                    bytes += p.data.len();
                }
                bytes
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

fn bench_worker(c: &mut Criterion) {
    // ~16 MB of generated traffic (~19.5k packets): the real mix of bulk
    // segments, ACKs, DNS, hellos and HTTP, through the whole per-packet
    // pipeline of one worker (decode → flow → extract → match).
    //
    // Steady state: one worker for the whole benchmark, as in a long run.
    // Each pass replays the capture shifted in time to start right after
    // the previous pass ended, so packet time runs on as in a longer
    // capture: idle sweeps come every FLOW_SWEEP_INTERVAL_NS of packet time
    // (every ~30 passes), not once per pass. (Shifting by more than the
    // idle timeout instead would sweep the whole table at every pass start,
    // a cost a real capture pays only every few seconds of traffic.)
    let pkts = common::read_all(common::bulk_pcap(16 << 20));
    let sigs = Arc::new(SignatureSet::builtin().expect("embedded pack loads"));
    let n = pkts.pkts.len() as u64;
    let first = pkts.pkts.first().map_or(0, |p| p.0);
    let last = pkts.pkts.last().map_or(0, |p| p.0);
    let step = last - first + 1_000;
    let mut g = c.benchmark_group("worker");
    g.throughput(Throughput::Elements(n));
    g.sample_size(20);
    for (name, emit_names) in [
        ("process_bulk16M_alerts_only", false),
        ("process_bulk16M_all_names", true),
    ] {
        let cfg = WorkerConfig {
            emit_names,
            emit_all_answers: false,
            emit_flow_starts: false,
        };
        let mut w = Worker::new(Arc::clone(&sigs), cfg);
        let mut events = Vec::with_capacity(1 << 12);
        let mut shift = 0u64;
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let t0 = std::time::Instant::now();
                for _ in 0..iters {
                    events.clear();
                    shift += step;
                    for (i, (ts, lt, data)) in pkts.iter().enumerate() {
                        let p = PacketIn {
                            ts_ns: ts + shift,
                            packet_no: i as u64 + 1,
                            linktype: lt,
                            data,
                        };
                        w.process(&p, &mut events);
                    }
                    black_box(events.len());
                }
                t0.elapsed()
            })
        });
        assert!(w.stats.alerts > 0, "{name}: the capture has alerts");
    }
    g.finish();
}

criterion_group!(
    stages,
    bench_decode,
    bench_dispatch,
    bench_dns,
    bench_tls,
    bench_http,
    bench_match,
    bench_flow,
    bench_capture,
    bench_worker
);
criterion_main!(stages);
