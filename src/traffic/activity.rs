//! Conversations the scenarios are made of: a DNS lookup, a TLS session, an
//! HTTP exchange, a CONNECT tunnel, bulk TCP, opaque UDP/443, ARP. Each
//! appends frames to a [`Session`] and attaches the names it emits.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::Error;
use super::dns::{self, Answer, Rdata};
use super::http;
use super::packet::{self, ARP_REPLY, ARP_REQUEST, Mac};
use super::rng::Rng;
use super::session::{Dir, Host, Meta, Path, Session, TcpFlow, UdpFlow};
use super::tls::{self, HelloSpec, Shape};
use super::truth::{AnswerRecord, NameRecord, TlsInfo, expectation};

/// FNV-1a over the lowercased name: a stable "DNS" for generated names.
fn fnv(name: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in name {
        h ^= u64::from(b.to_ascii_lowercase());
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The server address a name resolves to: always in the documentation
/// ranges (RFC 5737 198.51.100.0/24 and 203.0.113.0/24; RFC 3849
/// 2001:db8::/32), so no generated flow points at a real network.
pub fn addr_for(name: &str, v6: bool) -> IpAddr {
    let h = fnv(name.as_bytes());
    if v6 {
        IpAddr::V6(packet::v6(
            [0x2001, 0x0db8, 0x00ff, (h >> 48) as u16],
            (h & 0xffff) | 0x100,
        ))
    } else {
        let third = if h & 1 == 0 { 100 } else { 113 };
        let first = if third == 100 { 198 } else { 203 };
        let second = if third == 100 { 51 } else { 0 };
        IpAddr::V4(Ipv4Addr::new(
            first,
            second,
            third,
            ((h >> 8) % 250 + 2) as u8,
        ))
    }
}

/// The CNAME chain the simulated resolver returns for `name` (0–2 links,
/// chosen by hash so every lookup of a name gets the same answer).
pub fn cname_chain(name: &str) -> Vec<String> {
    let h = fnv(name.as_bytes());
    let first = name.split('.').next().unwrap_or("x");
    match h % 3 {
        0 => Vec::new(),
        1 => vec![format!("{}.cdn.example.net", name.to_ascii_lowercase())],
        _ => vec![
            format!("{first}.edge.example.net"),
            format!("e{}.a.example-cdn.net", h % 9973),
        ],
    }
}

/// Builds the truth record of a name on a flow (packet fields filled on
/// write).
fn record(
    protocol: &'static str,
    transport: &'static str,
    flow: &UdpFlow,
    name: &str,
    via_proxy: bool,
) -> NameRecord {
    let (kaspersky, lookalike, expected) = expectation(name);
    NameRecord {
        packet: 0,
        first_packet: 0,
        ts_ns: 0,
        protocol,
        transport,
        client_ip: flow.client.ip(),
        client_port: flow.client.port(),
        server_ip: flow.server.ip(),
        server_port: flow.server.port(),
        client_mac: flow.path.client_mac.map(|m| super::truth::mac_str(&m)),
        vlan: flow.path.vlan,
        name: name.to_string(),
        qtype: None,
        method: None,
        tls: None,
        via_proxy,
        kaspersky,
        lookalike,
        expected,
    }
}

/// An ephemeral client port (IANA dynamic range 49152–65535).
pub fn eph_port(rng: &mut Rng) -> u16 {
    rng.range(49152, 65535) as u16
}

/// One DNS lookup: query from `client`, response from `resolver` after
/// `rtt_ns`, with the CNAME chain and one or two A/AAAA records (none for
/// other types: NODATA). EDNS on every query.
#[allow(clippy::too_many_arguments)] // reason: one call per lookup, all fields vary
pub fn dns_lookup(
    s: &mut Session,
    rng: &mut Rng,
    path: Path,
    client: IpAddr,
    resolver: IpAddr,
    name: &str,
    qtype: u16,
    rtt_ns: u64,
) -> Result<(), Error> {
    let cport = eph_port(rng);
    let mut flow = UdpFlow::new(
        path,
        SocketAddr::new(client, cport),
        SocketAddr::new(resolver, 53),
        rng.next_u32(),
    );
    let id = rng.next_u16();
    let mut q = Vec::with_capacity(64);
    dns::write_query(&mut q, id, name.as_bytes(), qtype, true)?;
    let qi = flow.c2s(s, &q)?;
    let mut rec = record("dns", "udp", &flow, name, false);
    rec.qtype = Some(qtype);
    s.attach_name(qi, qi, rec);
    s.advance(rtt_ns);

    let chain = cname_chain(name);
    let mut owners: Vec<&str> = vec![name];
    owners.extend(chain.iter().map(String::as_str));
    let mut answers: Vec<Answer<'_>> = Vec::new();
    for w in owners.windows(2) {
        if let [a, b] = *w {
            answers.push(Answer {
                owner: a.as_bytes(),
                ttl: 300,
                data: Rdata::Cname(b.as_bytes()),
            });
        }
    }
    let last = owners.last().copied().unwrap_or(name);
    let mut addrs = Vec::new();
    let primary = addr_for(name, qtype == dns::QTYPE_AAAA);
    if qtype == dns::QTYPE_A || qtype == dns::QTYPE_AAAA {
        addrs.push(primary);
        if fnv(name.as_bytes()) & 4 != 0 {
            let second = match primary {
                IpAddr::V4(v) => {
                    let o = v.octets();
                    IpAddr::V4(Ipv4Addr::new(o[0], o[1], o[2], o[3] ^ 1))
                }
                IpAddr::V6(v) => IpAddr::V6(Ipv6Addr::from(u128::from(v) ^ 1)),
            };
            addrs.push(second);
        }
    }
    for a in &addrs {
        let data = match a {
            IpAddr::V4(v) => Rdata::A(*v),
            IpAddr::V6(v) => Rdata::Aaaa(*v),
        };
        answers.push(Answer {
            owner: last.as_bytes(),
            ttl: 60,
            data,
        });
    }
    let mut r = Vec::with_capacity(256);
    dns::write_response(&mut r, id, name.as_bytes(), qtype, &answers, 0, true)?;
    let ri = flow.s2c(s, &r)?;
    if let Some(p) = s.pkt_mut(ri) {
        p.meta = Meta {
            dns_response: true,
            ..p.meta
        };
        for a in &addrs {
            p.answers.push(AnswerRecord {
                packet: 0,
                client_ip: client,
                server_ip: resolver,
                query: name.to_string(),
                owner: last.to_string(),
                addr: *a,
                ttl: 60,
            });
        }
    }
    Ok(())
}

/// TLS application-data records totalling `n` bytes on the wire (headers
/// included), records of at most 16 KiB + 22 bytes of AEAD overhead.
pub fn app_data(rng: &mut Rng, n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n);
    while out.len() + 6 <= n {
        let body = (n - out.len() - 5).min(16_384 + 22);
        out.push(tls::CONTENT_APPLICATION_DATA);
        out.extend_from_slice(&0x0303u16.to_be_bytes());
        out.extend_from_slice(&(body as u16).to_be_bytes());
        let start = out.len();
        out.resize(start + body, 0);
        if let Some(b) = out.get_mut(start..) {
            rng.fill(b);
        }
    }
    out
}

/// How a TLS session looks.
#[derive(Clone, Copy, Debug)]
pub struct TlsOpts {
    pub shape: Shape,
    pub post_quantum: bool,
    /// Fragment the ClientHello over two TLS records, cutting the SNI.
    pub split_records: bool,
    /// Application bytes each way after the handshake.
    pub c2s_bytes: usize,
    pub s2c_bytes: usize,
}

/// A TLS 1.3 exchange on an established connection: ClientHello (whose
/// SNI is recorded), server flight, client Finished, application data.
pub fn tls_over(
    flow: &mut TcpFlow,
    s: &mut Session,
    rng: &mut Rng,
    sni: &str,
    o: TlsOpts,
    via_proxy: bool,
) -> Result<(), Error> {
    let mut hello = Vec::with_capacity(2048);
    let spec = HelloSpec {
        shape: o.shape,
        sni: Some(sni.as_bytes()),
        post_quantum: o.post_quantum,
    };
    tls::write_client_hello(&mut hello, &spec, rng)?;
    let splits: Vec<usize> = if o.split_records {
        tls::sni_offset(&hello, sni.as_bytes())
            .map(|p| p + sni.len() / 2)
            .into_iter()
            .collect()
    } else {
        Vec::new()
    };
    let mut wire = Vec::with_capacity(hello.len() + 10);
    tls::write_records(&mut wire, tls::CONTENT_HANDSHAKE, 0x0301, &hello, &splits)?;
    let (first, last) = flow.send(s, Dir::C2s, &wire)?;
    let segments = wire.len().div_ceil(flow.mss) as u8;
    let mut rec = record("tls", "tcp", &flow.udp, sni, via_proxy);
    rec.tls = Some(TlsInfo {
        shape: o.shape.as_str(),
        post_quantum: o.post_quantum,
        ech: o.shape.sends_ech(),
        records: 1 + splits.len() as u8,
        segments,
    });
    s.attach_name(first, last, rec);
    flow.wait(s);

    // Server flight: ServerHello, ChangeCipherSpec, encrypted rest.
    let mut sh = Vec::with_capacity(160);
    tls::write_server_hello(&mut sh, tls::client_hello_session_id(&hello), rng)?;
    let mut flight = Vec::with_capacity(4096);
    tls::write_records(&mut flight, tls::CONTENT_HANDSHAKE, 0x0303, &sh, &[])?;
    flight.extend_from_slice(&[20, 3, 3, 0, 1, 1]);
    let rest = rng.range(2400, 4200) as usize;
    flight.extend_from_slice(&app_data(rng, rest));
    flow.send(s, Dir::S2c, &flight)?;
    flow.wait(s);
    let mut fin = vec![20, 3, 3, 0, 1, 1];
    fin.extend_from_slice(&app_data(rng, 74));
    if o.c2s_bytes > 0 {
        fin.extend_from_slice(&app_data(rng, o.c2s_bytes));
    }
    flow.send(s, Dir::C2s, &fin)?;
    flow.wait(s);
    if o.s2c_bytes > 0 {
        let data = app_data(rng, o.s2c_bytes);
        flow.send(s, Dir::S2c, &data)?;
    }
    Ok(())
}

/// A new connection; 70 % of receivers ACK every segment, the rest every
/// second one.
fn tcp_flow(
    rng: &mut Rng,
    path: Path,
    client: SocketAddr,
    server: SocketAddr,
    rtt_ns: u64,
) -> TcpFlow {
    let mut f = TcpFlow::new(path, client, server, rng.next_u32(), rng.next_u32(), rtt_ns);
    f.ack_every = if rng.chance(700) { 1 } else { 2 };
    f
}

/// A whole TLS connection to `server`: handshake, [`tls_over`], close.
#[allow(clippy::too_many_arguments)] // reason: one call per session, all fields vary
pub fn tls_session(
    s: &mut Session,
    rng: &mut Rng,
    path: Path,
    client: IpAddr,
    server: SocketAddr,
    sni: &str,
    o: TlsOpts,
    rtt_ns: u64,
) -> Result<(), Error> {
    let cport = eph_port(rng);
    let mut flow = tcp_flow(rng, path, SocketAddr::new(client, cport), server, rtt_ns);
    flow.handshake(s)?;
    tls_over(&mut flow, s, rng, sni, o, false)?;
    flow.close(s)
}

/// An HTTP/1.1 request on an established connection (recording `host`),
/// then a response with a body of `resp_body` bytes.
#[allow(clippy::too_many_arguments)] // reason: mirrors the request line fields
pub fn http_over(
    flow: &mut TcpFlow,
    s: &mut Session,
    rng: &mut Rng,
    method: &'static str,
    target: &str,
    host: &str,
    user_agent: &str,
    req_body: usize,
    resp_body: usize,
    via_proxy: bool,
) -> Result<(), Error> {
    let mut req = Vec::with_capacity(256 + req_body);
    let extra: [(&[u8], &[u8]); 3] = [
        (b"User-Agent", user_agent.as_bytes()),
        (b"Accept", b"*/*"),
        (b"Connection", b"keep-alive"),
    ];
    let ctype: [(&[u8], &[u8]); 1] = [(b"Content-Type", b"application/octet-stream")];
    let mut headers: Vec<(&[u8], &[u8])> = extra.to_vec();
    if req_body > 0 {
        headers.extend_from_slice(&ctype);
    }
    http::write_request(
        &mut req,
        method.as_bytes(),
        target.as_bytes(),
        host.as_bytes(),
        &headers,
        (req_body > 0).then_some(req_body),
    );
    let head_len = req.len();
    if req_body > 0 {
        let start = req.len();
        req.resize(start + req_body, 0);
        if let Some(b) = req.get_mut(start..) {
            rng.fill(b);
        }
    }
    // The name is complete with the header block: record the segment that
    // ends it (the body may follow in later segments).
    let (first, last) = flow.send(s, Dir::C2s, req.get(..head_len).unwrap_or_default())?;
    let mut rec = record("http", "tcp", &flow.udp, host, via_proxy);
    rec.method = Some(method);
    s.attach_name(first, last, rec);
    if req_body > 0 {
        flow.send(s, Dir::C2s, req.get(head_len..).unwrap_or_default())?;
    }
    flow.wait(s);
    let mut resp = Vec::with_capacity(256 + resp_body);
    http::write_response(
        &mut resp,
        200,
        b"OK",
        Some(b"application/octet-stream"),
        Some(resp_body),
    );
    let start = resp.len();
    resp.resize(start + resp_body, 0);
    if let Some(b) = resp.get_mut(start..) {
        rng.fill(b);
    }
    flow.send(s, Dir::S2c, &resp)?;
    Ok(())
}

/// A whole plain-HTTP connection with one request.
#[allow(clippy::too_many_arguments)] // reason: one call per session, all fields vary
pub fn http_session(
    s: &mut Session,
    rng: &mut Rng,
    path: Path,
    client: IpAddr,
    server: SocketAddr,
    method: &'static str,
    target: &str,
    host: &str,
    user_agent: &str,
    req_body: usize,
    resp_body: usize,
    rtt_ns: u64,
) -> Result<(), Error> {
    let cport = eph_port(rng);
    let mut flow = tcp_flow(rng, path, SocketAddr::new(client, cport), server, rtt_ns);
    flow.handshake(s)?;
    http_over(
        &mut flow, s, rng, method, target, host, user_agent, req_body, resp_body, false,
    )?;
    flow.wait(s);
    flow.close(s)
}

/// `CONNECT host:443` to an explicit proxy, its 200 answer, then TLS with
/// SNI `host` inside the tunnel.
#[allow(clippy::too_many_arguments)] // reason: one call per session, all fields vary
pub fn connect_session(
    s: &mut Session,
    rng: &mut Rng,
    path: Path,
    client: IpAddr,
    proxy: SocketAddr,
    host: &str,
    user_agent: &str,
    o: TlsOpts,
    rtt_ns: u64,
) -> Result<(), Error> {
    let cport = eph_port(rng);
    let mut flow = tcp_flow(rng, path, SocketAddr::new(client, cport), proxy, rtt_ns);
    flow.handshake(s)?;
    let mut req = Vec::with_capacity(160);
    http::write_connect(&mut req, host.as_bytes(), 443, user_agent.as_bytes());
    let (first, last) = flow.send(s, Dir::C2s, &req)?;
    let mut rec = record("http", "tcp", &flow.udp, host, true);
    rec.method = Some("CONNECT");
    s.attach_name(first, last, rec);
    flow.wait(s);
    flow.wait(s); // the proxy connects upstream first
    let mut resp = Vec::new();
    http::write_response(&mut resp, 200, b"Connection established", None, None);
    flow.send(s, Dir::S2c, &resp)?;
    flow.wait(s);
    tls_over(&mut flow, s, rng, host, o, true)?;
    flow.close(s)
}

/// Opaque TCP bulk transfer (e.g. SMB to a file server): `c2s` bytes up,
/// `s2c` bytes down, no names.
#[allow(clippy::too_many_arguments)] // reason: one call per session, all fields vary
pub fn bulk_tcp(
    s: &mut Session,
    rng: &mut Rng,
    path: Path,
    client: IpAddr,
    server: SocketAddr,
    c2s: usize,
    s2c: usize,
    rtt_ns: u64,
) -> Result<(), Error> {
    let cport = eph_port(rng);
    let mut flow = tcp_flow(rng, path, SocketAddr::new(client, cport), server, rtt_ns);
    flow.handshake(s)?;
    let mut buf = vec![0u8; c2s.max(s2c)];
    rng.fill(&mut buf);
    // Start with a byte no name extractor keys on (not 0x16, not a method).
    if let Some(b) = buf.first_mut() {
        *b = 0x00;
    }
    if c2s > 0 {
        flow.send(s, Dir::C2s, buf.get(..c2s).unwrap_or_default())?;
        flow.wait(s);
    }
    if s2c > 0 {
        flow.send(s, Dir::S2c, buf.get(..s2c).unwrap_or_default())?;
    }
    flow.close(s)
}

/// Opaque UDP/443 datagrams shaped like QUIC short-header packets (first
/// byte 0b01xx_xxxx, RFC 9000 section 17.3): never an Initial, so no
/// name is in them. `n_down` server datagrams, a client ACK every fourth.
pub fn udp443(
    s: &mut Session,
    rng: &mut Rng,
    path: Path,
    client: IpAddr,
    server: IpAddr,
    n_down: usize,
) -> Result<(), Error> {
    let cport = eph_port(rng);
    let mut flow = UdpFlow::new(
        path,
        SocketAddr::new(client, cport),
        SocketAddr::new(server, 443),
        rng.next_u32(),
    );
    let mut buf = vec![0u8; 1350];
    let short = |rng: &mut Rng, buf: &mut [u8]| {
        rng.fill(buf);
        if let Some(b) = buf.first_mut() {
            *b = 0x40 | (*b & 0x3f);
        }
    };
    let up = rng.range(40, 60) as usize;
    short(rng, buf.get_mut(..up).unwrap_or_default());
    flow.c2s(s, buf.get(..up).unwrap_or_default())?;
    s.advance(rng.range(5_000_000, 30_000_000));
    for i in 0..n_down {
        let len = rng.range(1200, 1350) as usize;
        short(rng, buf.get_mut(..len).unwrap_or_default());
        flow.s2c(s, buf.get(..len).unwrap_or_default())?;
        s.advance(rng.range(30_000, 200_000));
        if i % 4 == 3 {
            let len = rng.range(35, 60) as usize;
            short(rng, buf.get_mut(..len).unwrap_or_default());
            flow.c2s(s, buf.get(..len).unwrap_or_default())?;
        }
    }
    Ok(())
}

/// ARP request from `asker` for `target_ip` (broadcast) and the reply.
pub fn arp_exchange(s: &mut Session, asker: &Host, target_ip: Ipv4Addr, target_mac: Mac) {
    let IpAddr::V4(sip) = asker.ip else { return };
    let mut f = Vec::with_capacity(64);
    packet::write_arp(
        &mut f,
        asker.mac,
        [0xff; 6],
        asker.vlan,
        ARP_REQUEST,
        (asker.mac, sip),
        ([0; 6], target_ip),
    );
    let meta = Meta {
        arp: true,
        vlan: asker.vlan.outer().is_some(),
        qinq: asker.vlan.inner().is_some(),
        ..Meta::default()
    };
    s.push(f, meta);
    s.advance(150_000);
    let mut r = Vec::with_capacity(64);
    packet::write_arp(
        &mut r,
        target_mac,
        asker.mac,
        asker.vlan,
        ARP_REPLY,
        (target_mac, target_ip),
        (asker.mac, sip),
    );
    s.push(r, meta);
}

/// A gratuitous ARP (announcement) from `host`.
pub fn arp_announce(s: &mut Session, host: &Host) {
    let IpAddr::V4(ip) = host.ip else { return };
    let mut f = Vec::with_capacity(64);
    packet::write_arp(
        &mut f,
        host.mac,
        [0xff; 6],
        host.vlan,
        ARP_REQUEST,
        (host.mac, ip),
        ([0; 6], ip),
    );
    let meta = Meta {
        arp: true,
        vlan: host.vlan.outer().is_some(),
        qinq: host.vlan.inner().is_some(),
        ..Meta::default()
    };
    s.push(f, meta);
}
