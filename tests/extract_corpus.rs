//! `extract` over the real-capture corpus (tests/corpus), compared with the
//! TShark oracle in tests/corpus/expected/*.json.
//!
//! The harness decodes frames itself (pcap-parser + etherparse, a few
//! tunnels unwrapped by hand, TCP streams joined by sequence number) so
//! that it tests `extract` alone, independent of phonehome's decode and
//! flow stages. Where it cannot reach a name the oracle has (IP fragments,
//! link types etherparse does not read), the file is listed in a `KNOWN_*`
//! table with the reason, and the test fails if that list goes stale in
//! either direction.
//!
//! TLS and HTTP names are also searched by content: every offset of every
//! frame where a ClientHello or request starts is scanned, whatever the
//! link layer or tunnel. That is how a hello in a single segment is found
//! even inside encapsulations the harness does not decode.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use etherparse::{NetSlice, SlicedPacket, TransportSlice};
use pcap_parser::pcapng::Block;
use pcap_parser::{Linktype, PcapBlockOwned, PcapError, create_reader};
use phonehome::extract::dns::{self, DnsItem, DnsScratch};
use phonehome::extract::http::{HttpScan, scan_request};
use phonehome::extract::tls::{HelloScan, scan_client_hello};
use serde_json::Value;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

/// Every frame of a capture: (link type, bytes).
fn frames(path: &Path) -> Vec<(Linktype, Vec<u8>)> {
    let file = std::fs::File::open(path).unwrap();
    let mut reader = create_reader(1 << 20, file).unwrap();
    let mut out = Vec::new();
    let mut if_linktypes: Vec<Linktype> = Vec::new();
    let mut legacy_linktype = Linktype::ETHERNET;
    loop {
        match reader.next() {
            Ok((used, block)) => {
                match block {
                    PcapBlockOwned::LegacyHeader(h) => legacy_linktype = h.network,
                    PcapBlockOwned::Legacy(b) => {
                        let n = (b.caplen as usize).min(b.data.len());
                        out.push((legacy_linktype, b.data[..n].to_vec()));
                    }
                    PcapBlockOwned::NG(Block::SectionHeader(_)) => if_linktypes.clear(),
                    PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                        if_linktypes.push(idb.linktype)
                    }
                    PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                        let lt = if_linktypes[epb.if_id as usize];
                        let n = (epb.caplen as usize).min(epb.data.len());
                        out.push((lt, epb.data[..n].to_vec()));
                    }
                    PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                        out.push((if_linktypes[0], spb.data.to_vec()));
                    }
                    PcapBlockOwned::NG(_) => {}
                }
                reader.consume(used);
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => {
                if reader.refill().is_err() {
                    break;
                }
            }
            // Truncated or fuzzed files: keep what was read.
            Err(_) => break,
        }
    }
    out
}

/// A transport payload found in a frame.
struct Segment {
    tcp: bool,
    src: (IpAddr, u16),
    dst: (IpAddr, u16),
    seq: u32,
    payload: Vec<u8>,
}

/// Decode IP and what is inside, unwrapping IP-in-IP, GRE, Teredo, VXLAN
/// and Geneve; `depth` bounds the recursion.
fn from_ip(data: &[u8], depth: u8, out: &mut Vec<Segment>) {
    if let Ok(p) = SlicedPacket::from_ip(data) {
        sliced(&p, depth, out);
    }
}

fn from_ethernet(data: &[u8], depth: u8, out: &mut Vec<Segment>) {
    if let Ok(p) = SlicedPacket::from_ethernet(data) {
        sliced(&p, depth, out);
    }
}

fn sliced(p: &SlicedPacket<'_>, depth: u8, out: &mut Vec<Segment>) {
    if depth > 4 {
        return;
    }
    let Some(net) = &p.net else { return };
    let (src, dst) = match net {
        NetSlice::Ipv4(v4) => (
            IpAddr::V4(v4.header().source_addr()),
            IpAddr::V4(v4.header().destination_addr()),
        ),
        NetSlice::Ipv6(v6) => (
            IpAddr::V6(v6.header().source_addr()),
            IpAddr::V6(v6.header().destination_addr()),
        ),
        NetSlice::Arp(_) => return,
    };
    let Some(ip_payload) = net.ip_payload_ref() else {
        return;
    };
    if ip_payload.fragmented {
        return; // the harness does not defragment
    }
    match ip_payload.ip_number.0 {
        4 | 41 => return from_ip(ip_payload.payload, depth + 1, out),
        47 => return gre(ip_payload.payload, depth + 1, out),
        _ => {}
    }
    match &p.transport {
        Some(TransportSlice::Udp(udp)) => {
            let payload = udp.payload();
            let ports = [udp.source_port(), udp.destination_port()];
            if ports.contains(&3544) {
                from_ip(payload, depth + 1, out);
            } else if ports[1] == 4789 && payload.len() > 8 {
                from_ethernet(&payload[8..], depth + 1, out);
            } else if ports[1] == 6081 && payload.len() > 8 {
                let opt_len = usize::from(payload[0] & 0x3f) * 4;
                if let Some(inner) = payload.get(8 + opt_len..) {
                    from_ethernet(inner, depth + 1, out);
                }
            }
            out.push(Segment {
                tcp: false,
                src: (src, ports[0]),
                dst: (dst, ports[1]),
                seq: 0,
                payload: payload.to_vec(),
            });
        }
        Some(TransportSlice::Tcp(tcp)) => out.push(Segment {
            tcp: true,
            src: (src, tcp.source_port()),
            dst: (dst, tcp.destination_port()),
            seq: tcp.sequence_number(),
            payload: tcp.payload().to_vec(),
        }),
        _ => {}
    }
}

/// GRE (RFC 2784/2890) and enhanced GRE of PPTP (RFC 2637 §4.1).
fn gre(data: &[u8], depth: u8, out: &mut Vec<Segment>) {
    let Some(&[f0, f1, p0, p1]) = data.get(..4) else {
        return;
    };
    let proto = u16::from_be_bytes([p0, p1]);
    let flag = |bit: u8| usize::from(f0 & bit != 0) * 4;
    let off = if f1 & 0x07 == 1 {
        // PPTP: key always present, then sequence (S) and ack (A, in f1).
        8 + flag(0x10) + usize::from(f1 & 0x80 != 0) * 4
    } else {
        // checksum+reserved (C), key (K), sequence (S).
        4 + flag(0x80) + flag(0x20) + flag(0x10)
    };
    let Some(inner) = data.get(off..) else { return };
    match proto {
        0x0800 | 0x86dd => from_ip(inner, depth, out),
        0x6558 => from_ethernet(inner, depth, out),
        0x880b => {
            // PPP: optional address/control ff 03, then protocol 0x0021 (IPv4).
            let ppp = inner.strip_prefix(&[0xff, 0x03][..]).unwrap_or(inner);
            if let Some(ip) = ppp
                .strip_prefix(&[0x00, 0x21][..])
                .or(ppp.strip_prefix(&[0x21][..]))
            {
                from_ip(ip, depth, out);
            }
        }
        _ => {}
    }
}

/// Link layers of the corpus (tcpdump.org link-layer header types).
fn segments(linktype: Linktype, frame: &[u8]) -> Vec<Segment> {
    let mut out = Vec::new();
    let ip_after = |n: usize, out: &mut Vec<Segment>| {
        if let Some(ip) = frame.get(n..) {
            from_ip(ip, 0, out);
        }
    };
    match linktype.0 {
        1 => from_ethernet(frame, 0, &mut out),
        0 | 104 => ip_after(4, &mut out), // NULL/loopback, Cisco HDLC
        12 | 14 | 101 | 228 | 229 => ip_after(0, &mut out), // raw IP
        113 => ip_after(16, &mut out),    // Linux cooked v1
        276 => ip_after(20, &mut out),    // Linux cooked v2
        10 => ip_after(13 + 8, &mut out), // FDDI + LLC/SNAP
        239 => {
            // NFLOG: 4-byte header, then TLVs (host-endian u16 length and
            // type, padded to 4); type 9 is the packet payload.
            let mut at = 4;
            while let Some(&[l0, l1, t0, t1]) = frame.get(at..at + 4) {
                let len = usize::from(u16::from_le_bytes([l0, l1]));
                if len < 4 {
                    break;
                }
                if u16::from_le_bytes([t0, t1]) == 9 {
                    ip_after(at + 4, &mut out);
                    break;
                }
                at += (len + 3) & !3;
            }
        }
        258 => {
            // PKTAP: header length (LE u32) then the inner DLT (LE u32).
            if let Some(&[h0, h1, h2, h3, d0, d1, d2, d3]) = frame.get(..8) {
                let hdr = u32::from_le_bytes([h0, h1, h2, h3]) as usize;
                if u32::from_le_bytes([d0, d1, d2, d3]) == 1
                    && let Some(eth) = frame.get(hdr..)
                {
                    from_ethernet(eth, 0, &mut out);
                }
            }
        }
        _ => {}
    }
    out
}

/// TCP payloads per direction, ordered by sequence number, overlaps cut.
/// (client address and port, server address and port).
type Direction = ((IpAddr, u16), (IpAddr, u16));

fn tcp_streams(segs: &[Segment]) -> BTreeMap<Direction, Vec<u8>> {
    let mut by_dir: BTreeMap<_, Vec<&Segment>> = BTreeMap::new();
    for s in segs.iter().filter(|s| s.tcp && !s.payload.is_empty()) {
        by_dir.entry((s.src, s.dst)).or_default().push(s);
    }
    let mut out = BTreeMap::new();
    for (key, mut list) in by_dir {
        let base = list.iter().map(|s| s.seq).min().unwrap();
        list.sort_by_key(|s| s.seq.wrapping_sub(base));
        let mut stream: Vec<u8> = Vec::new();
        for s in list {
            let off = s.seq.wrapping_sub(base) as usize;
            if off > stream.len() {
                break; // a gap: stop, as a real flow table would
            }
            let skip = stream.len() - off;
            if let Some(new) = s.payload.get(skip..) {
                stream.extend_from_slice(new);
            }
        }
        out.insert(key, stream);
    }
    out
}

/// A name as comparable text. TShark prints printable ASCII as is, some
/// controls as `\r`-style or `\ooo` escapes, and bytes ≥ 0x80 as U+FFFD;
/// both sides are brought to one form: printable ASCII kept, every other
/// byte or character a `?`, the root name `<Root>`. Our `\.` and `\\`
/// escapes of DNS label bytes are undone (TShark prints those bytes raw).
fn text(name: &[u8]) -> String {
    if name.is_empty() {
        return "<Root>".to_string();
    }
    let mut out = String::new();
    let mut bytes = name.iter();
    while let Some(&b) = bytes.next() {
        let b = if b == b'\\' {
            bytes.next().copied().unwrap_or(b)
        } else {
            b
        };
        out.push(if (0x20..0x7f).contains(&b) {
            b as char
        } else {
            '?'
        });
    }
    out
}

/// The oracle's name in the same form as [`text`].
fn oracle_text(name: &str) -> String {
    let mut out = String::new();
    let mut chars = name.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.peek() {
                Some('0'..='7') => {
                    for _ in 0..3 {
                        chars.next();
                    }
                    out.push('?');
                }
                Some('a' | 'b' | 'f' | 'n' | 'r' | 't' | 'v') => {
                    chars.next();
                    out.push('?');
                }
                Some('\\') => {
                    chars.next();
                    out.push('\\');
                }
                _ => out.push('\\'),
            },
            c if c.is_ascii() && !c.is_ascii_control() => out.push(c),
            _ => out.push('?'),
        }
    }
    out
}

/// The oracle's Host header value without `:port` and IPv6 brackets
/// (TShark reports the raw value; the extractor strips the port).
fn oracle_host(host: &str) -> String {
    let host = oracle_text(host);
    if let Some(inner) = host.strip_prefix('[')
        && let Some(end) = inner.find(']')
    {
        return inner[..end].to_string();
    }
    match host.rsplit_once(':') {
        Some((h, port)) if !h.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => {
            h.to_string()
        }
        _ => host,
    }
}

struct Found {
    tls: BTreeSet<String>,
    http: BTreeSet<String>,
    dns_queries: BTreeSet<(String, u64)>,
    dns_answers: BTreeSet<(String, String)>,
}

fn scan_file(path: &Path) -> Found {
    let mut found = Found {
        tls: BTreeSet::new(),
        http: BTreeSet::new(),
        dns_queries: BTreeSet::new(),
        dns_answers: BTreeSet::new(),
    };
    let mut scratch = Vec::new();
    let mut dns_scratch = DnsScratch::default();
    let mut all = Vec::new();
    for (linktype, frame) in frames(path) {
        // Content scan: every offset where a hello or request may start.
        for at in 0..frame.len() {
            let rest = &frame[at..];
            if rest.starts_with(&[0x16, 0x03])
                && let HelloScan::Hello { sni: Some(sni), .. } =
                    scan_client_hello(rest, &mut scratch)
            {
                found.tls.insert(text(sni));
            }
            if (at == 0 || !frame[at - 1].is_ascii_alphanumeric())
                && rest.first().is_some_and(u8::is_ascii_uppercase)
                && let HttpScan::Request { host: Some(h), .. } = scan_request(rest)
            {
                found.http.insert(text(h));
            }
        }
        all.extend(segments(linktype, &frame));
    }
    let mut dns_message = |msg: &[u8], found: &mut Found| {
        let _ = dns::extract(msg, &mut dns_scratch, &mut |item| match item {
            DnsItem::Query { name, qtype } => {
                found.dns_queries.insert((text(name), u64::from(qtype)));
            }
            DnsItem::Answer { owner, addr, .. } => {
                found.dns_answers.insert((text(owner), addr.to_string()));
            }
        });
    };
    const DNS_PORTS: [u16; 3] = [53, 5353, 5355];
    for s in all.iter().filter(|s| !s.tcp) {
        if DNS_PORTS.contains(&s.src.1) || DNS_PORTS.contains(&s.dst.1) {
            dns_message(&s.payload, &mut found);
        }
    }
    for ((src, dst), stream) in tcp_streams(&all) {
        if let HelloScan::Hello { sni: Some(sni), .. } = scan_client_hello(&stream, &mut scratch) {
            found.tls.insert(text(sni));
        }
        // Every request of a persistent connection.
        let mut rest = &stream[..];
        while let HttpScan::Request { host, head_len, .. } = scan_request(rest) {
            if let Some(h) = host {
                found.http.insert(text(h));
            }
            rest = &rest[head_len..];
            let skip = rest.iter().take_while(|b| b.is_ascii_whitespace()).count();
            rest = &rest[skip..];
            if rest.is_empty() {
                break;
            }
        }
        if src.1 == 53 || dst.1 == 53 {
            let mut rest = &stream[..];
            while let Some((msg, used)) = dns::split_tcp_message(rest) {
                dns_message(msg, &mut found);
                rest = &rest[used..];
            }
        }
    }
    found
}

fn oracle_set(v: &Value, key: &str, field: &str, norm: fn(&str) -> String) -> BTreeSet<String> {
    v[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| norm(e[field].as_str().unwrap()))
        .collect()
}

/// Every accepted difference from the oracle: (file, difference, reason).
/// The test fails when a difference is not listed here, and when a listed
/// one no longer occurs (so the list cannot go stale).
const KNOWN_DIFFERENCES: &[(&str, &str, &str)] = &[
    // Extended label types 0x40/0x80 (RFC 6891 §5 deprecated / reserved)
    // have no known length: the name is skipped and the message's later
    // questions cannot be located. TShark prints a placeholder.
    (
        "ndpi__fuzz-2006-06-26-2594.pcap",
        "dnsq MISSED <Unknown extended label>/121",
        "extended label",
    ),
    (
        "ndpi__fuzz-2006-06-26-2594.pcap",
        "dnsq MISSED <Unknown extended label>/17953",
        "extended label",
    ),
    (
        "ndpi__fuzz-2006-06-26-2594.pcap",
        "dnsq MISSED <Unknown extended label>/2403",
        "extended label",
    ),
    (
        "ndpi__fuzz-2006-06-26-2594.pcap",
        "dnsq MISSED <Unknown extended label>/25465",
        "extended label",
    ),
    (
        "ndpi__fuzz-2006-06-26-2594.pcap",
        "dnsq MISSED <Unknown extended label>/25707",
        "extended label",
    ),
    (
        "ndpi__fuzz-2006-06-26-2594.pcap",
        "dnsq MISSED <Unknown extended label>/28681",
        "extended label",
    ),
    (
        "ndpi__fuzz-2006-06-26-2594.pcap",
        "dnsq MISSED <Unknown extended label>/30052",
        "extended label",
    ),
    (
        "ndpi__fuzz-2006-06-26-2594.pcap",
        "dnsq MISSED <Unknown extended label>/612",
        "extended label",
    ),
    // Fuzzed frames: one has an IPv4 total length beyond the captured
    // bytes, which the harness's strict etherparse slicer refuses; the
    // others carry label lengths running into the next label, where TShark
    // shows a name we do not reproduce. Not analysed further.
    (
        "ndpi__fuzz-2006-06-26-2594.pcap",
        "dnsq MISSED _sip._udp.s2p.cybercity.dk/33",
        "harness: bad IP length",
    ),
    (
        "ndpi__fuzz-2006-06-26-2594.pcap",
        "dnsq MISSED _sip._udp.sip.cybercity.dk/32",
        "fuzzed name",
    ),
    (
        "ndpi__fuzz-2006-06-26-2594.pcap",
        "dnsq MISSED sip.cybercrty.dk/1",
        "fuzzed name",
    ),
    // HTTP inside Teredo: TShark's oracle has no http.host for it; the
    // request is there (`GET / HTTP/1.1`, `Host: ipv6.google.com`).
    (
        "suricata-verify__decode-teredo-01.pcap",
        "http EXTRA ipv6.google.com",
        "oracle misses Teredo HTTP",
    ),
    (
        "zeek__tunnels-Teredo.pcap",
        "http EXTRA ipv6.google.com",
        "oracle misses Teredo HTTP",
    ),
    // `CONNECT abc:443` without Host: the oracle lists Host headers only;
    // the CONNECT authority is the name by design.
    (
        "suricata-verify__http-connect-http-connect-tls.pcap",
        "http EXTRA abc",
        "CONNECT authority",
    ),
    // An OPT record with a bad length after the answer: TShark marks the
    // frame malformed and lists nothing; the A record before the damage
    // stands here.
    (
        "zeek__dns-dns-edns-bad-length.pcap",
        "dnsa EXTRA example.com/203.0.113.7",
        "answer before damage",
    ),
    // Frames cut by the snap length: etherparse's strict slicer refuses an
    // IP packet longer than the captured bytes. Phonehome's own decode
    // stage is tested on this file elsewhere.
    (
        "zeek__tunnels-geneve-vxlan-dns-truncated.pcap",
        "dnsq MISSED corelight.com/1",
        "harness: snaplen",
    ),
    (
        "zeek__tunnels-geneve-vxlan-dns-truncated.pcap",
        "dnsa MISSED corelight.com/199.60.103.6",
        "harness: snaplen",
    ),
];

#[test]
fn corpus_names_match_the_tshark_oracle() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus().join("pcaps"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 100, "corpus missing: {} files", files.len());
    let mut report = Vec::new();
    let mut checked = [0usize; 4];
    for path in &files {
        let name = path.file_name().unwrap().to_str().unwrap();
        let oracle: Value = serde_json::from_slice(
            &std::fs::read(corpus().join("expected").join(format!("{name}.json"))).unwrap(),
        )
        .unwrap();
        let found = scan_file(path);

        let tls = oracle_set(&oracle, "tls_sni", "sni", oracle_text);
        let http = oracle_set(&oracle, "http_host", "host", oracle_host);
        let queries: BTreeSet<(String, u64)> = oracle["dns_queries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    oracle_text(e["name"].as_str().unwrap()),
                    e["qtype"].as_u64().unwrap(),
                )
            })
            .collect();
        let answers: BTreeSet<(String, String)> = oracle["dns_answers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    oracle_text(e["name"].as_str().unwrap()),
                    e["addr"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        checked[0] += tls.len();
        checked[1] += http.len();
        checked[2] += queries.len();
        checked[3] += answers.len();
        let diff =
            |what: &str, oracle: Vec<String>, ours: Vec<String>, report: &mut Vec<String>| {
                let o: BTreeSet<_> = oracle.into_iter().collect();
                let u: BTreeSet<_> = ours.into_iter().collect();
                for m in o.difference(&u) {
                    report.push(format!("{name}: {what} MISSED {m}"));
                }
                for e in u.difference(&o) {
                    report.push(format!("{name}: {what} EXTRA {e}"));
                }
            };
        diff(
            "tls",
            tls.into_iter().collect(),
            found.tls.into_iter().collect(),
            &mut report,
        );
        diff(
            "http",
            http.into_iter().collect(),
            found.http.into_iter().collect(),
            &mut report,
        );
        diff(
            "dnsq",
            queries.iter().map(|(n, t)| format!("{n}/{t}")).collect(),
            found
                .dns_queries
                .iter()
                .map(|(n, t)| format!("{n}/{t}"))
                .collect(),
            &mut report,
        );
        diff(
            "dnsa",
            answers.iter().map(|(n, a)| format!("{n}/{a}")).collect(),
            found
                .dns_answers
                .iter()
                .map(|(n, a)| format!("{n}/{a}"))
                .collect(),
            &mut report,
        );
    }
    eprintln!("oracle names checked (tls, http, dns queries, dns answers): {checked:?}");
    // Every kind of name was actually compared.
    assert!(checked.iter().all(|&n| n > 10), "{checked:?}");
    let known: BTreeSet<String> = KNOWN_DIFFERENCES
        .iter()
        .map(|(file, diff, _)| format!("{file}: {diff}"))
        .collect();
    let seen: BTreeSet<String> = report.into_iter().collect();
    let unexpected: Vec<_> = seen.difference(&known).collect();
    let stale: Vec<_> = known.difference(&seen).collect();
    assert!(
        unexpected.is_empty() && stale.is_empty(),
        "unexpected differences: {unexpected:#?}\nlisted but not seen: {stale:#?}"
    );
}
