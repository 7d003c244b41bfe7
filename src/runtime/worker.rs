//! The worker: decode → flow → extract → match for one packet at a time.
//! Pure: no I/O, no clocks, no shared mutable state. The same code runs
//! offline and live.

use std::sync::Arc;

use crate::capture::LinkType;
use crate::config::limits;
use crate::decode::{self, Decoded, Fragment, Frame, L4, TcpInfo};
use crate::event::{
    DnsAnswerEvent, Endpoints, Event, FlowStartEvent, NameDetail, NameEvent, Protocol, Transport,
    TsNs,
};
use crate::extract::dns::{self, DnsItem, DnsScratch};
use crate::extract::http::{self, HttpScan};
use crate::extract::quic::{self, QuicTracker};
use crate::extract::tls::{self, HelloScan};
use crate::flow::defrag::Defrag;
use crate::flow::udp::UdpFlows;
use crate::flow::{App, FlowKey, FlowTable, PROTO_TCP, PROTO_UDP, StreamEvent};
use crate::signatures::SignatureSet;
use crate::stats::WorkerStats;

/// Ports whose payload is parsed as DNS: DNS (RFC 1035), mDNS (RFC 6762)
/// and LLMNR (RFC 4795) share the message format. Over TCP only 53.
pub const DNS_PORTS: [u16; 3] = [53, 5353, 5355];

/// SSDP (HTTP over UDP, UPnP Device Architecture §1.3): requests carry a
/// Host header like HTTP/1.1.
pub const SSDP_PORT: u16 = 1900;

/// What the worker reports besides alerts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WorkerConfig {
    /// Emit every extracted name, not only those that match (`--names`).
    pub emit_names: bool,
    /// Emit every DNS answer record, not only those of vendor names.
    pub emit_all_answers: bool,
    /// Emit `Event::FlowStart` for each TCP SYN and each UDP flow's first
    /// datagram (attribution through DNS answers and KSC ports).
    pub emit_flow_starts: bool,
}

/// One packet as handed to a worker.
#[derive(Clone, Copy, Debug)]
pub struct PacketIn<'a> {
    pub ts_ns: TsNs,
    /// Global packet number, 1-based across all inputs.
    pub packet_no: u64,
    pub linktype: LinkType,
    pub data: &'a [u8],
}

/// Per-worker state: the flow table, scratch buffers and counters.
pub struct Worker {
    sigs: Arc<SignatureSet>,
    flows: FlowTable,
    scratch: Scratch,
    cfg: WorkerConfig,
    pub stats: WorkerStats,
    /// Recent UDP tuples, to report each UDP flow's first datagram.
    udp_flows: UdpFlows,
    /// IP fragment reassembly, and the two buffers completed datagrams are
    /// handed back in (a reassembled tunnel may hold another fragment).
    defrag: Defrag,
    defrag_out: [Vec<u8>; 2],
}

/// Reusable parser buffers (one set per worker).
#[derive(Default)]
struct Scratch {
    dns: DnsScratch,
    tls: Vec<u8>,
    /// QUIC handshakes in progress, decryption buffer, QUIC counters.
    quic: QuicTracker,
}

/// Everything a name emission needs besides the name (split borrows).
struct Emit<'w> {
    sigs: &'w SignatureSet,
    cfg: WorkerConfig,
    stats: &'w mut WorkerStats,
    out: &'w mut Vec<Event>,
    ts: TsNs,
    packet: u64,
    endpoints: Endpoints,
}

impl Emit<'_> {
    /// Count and match a name; an event (the only allocation) is made only
    /// for an alert or when every name is requested, so `detail` is built
    /// lazily.
    fn name(&mut self, protocol: Protocol, name: &[u8], detail: impl FnOnce() -> NameDetail) {
        WorkerStats::bump(&mut self.stats.names, protocol.as_str());
        if name.len() > limits::MATCH_MAX_NAME_LEN {
            self.stats.names_too_long += 1;
        }
        let rule = self.sigs.match_name(name);
        if rule.is_some() {
            self.stats.alerts += 1;
        }
        if rule.is_some() || self.cfg.emit_names {
            self.out.push(Event::Name(NameEvent {
                ts: self.ts,
                packet: self.packet,
                protocol,
                endpoints: self.endpoints,
                name: name.into(),
                detail: detail(),
                rule: rule.cloned(),
            }));
        }
    }

    fn http_request(&mut self, method: &[u8], host: Option<&[u8]>) {
        self.stats.http_requests += 1;
        match host {
            Some(h) => self.name(Protocol::Http, h, || NameDetail::Http {
                method: method.into(),
            }),
            None => self.stats.http_requests_without_host += 1,
        }
    }

    /// Parse one DNS message (a UDP datagram or a TCP-framed message).
    fn dns_message(&mut self, msg: &[u8], scratch: &mut DnsScratch) {
        self.stats.dns_messages += 1;
        let res = dns::extract(msg, scratch, &mut |item| match item {
            DnsItem::Query { name, qtype } => {
                self.stats.dns_queries += 1;
                self.name(Protocol::Dns, name, || NameDetail::Dns { qtype });
            }
            DnsItem::Answer {
                query,
                owner,
                addr,
                ttl,
            } => {
                self.stats.dns_answers += 1;
                let vendor =
                    self.sigs.match_name(query).is_some() || self.sigs.match_name(owner).is_some();
                if vendor || self.cfg.emit_all_answers {
                    self.out.push(Event::DnsAnswer(DnsAnswerEvent {
                        ts: self.ts,
                        packet: self.packet,
                        endpoints: self.endpoints,
                        query: query.into(),
                        owner: owner.into(),
                        addr,
                        ttl,
                    }));
                }
            }
        });
        if let Err(e) = res {
            WorkerStats::bump(&mut self.stats.dns_errors, e.label());
        }
    }
}

impl Worker {
    pub fn new(sigs: Arc<SignatureSet>, cfg: WorkerConfig) -> Worker {
        Worker {
            sigs,
            flows: FlowTable::default(),
            scratch: Scratch::default(),
            cfg,
            stats: WorkerStats::default(),
            udp_flows: UdpFlows::default(),
            defrag: Defrag::default(),
            defrag_out: Default::default(),
        }
    }

    /// Swap the signature set (reload). Takes effect from the next packet.
    pub fn set_signatures(&mut self, sigs: Arc<SignatureSet>) {
        self.sigs = sigs;
    }

    /// Process one packet, appending any events to `out`.
    pub fn process(&mut self, p: &PacketIn<'_>, out: &mut Vec<Event>) {
        self.stats.packets += 1;
        self.stats.bytes += p.data.len() as u64;
        let d = match decode::decode_frame(p.linktype, p.data) {
            Ok(Frame::Packet(d)) => d,
            Ok(Frame::Fragment(f)) => {
                self.fragment(p, &f, out);
                return;
            }
            Err(e) => {
                WorkerStats::bump(&mut self.stats.decode_errors, e.label());
                return;
            }
        };
        self.decoded(p, &d, out);
    }

    /// An IP fragment goes to the reassembler. A completed datagram is
    /// decoded and goes on through the normal path with the link fields of
    /// the fragment that completed it (and this packet's time and number).
    /// It may be a tunnel holding another fragment: each such nesting sits
    /// one tunnel deeper, so the loop ends within `MAX_ENCAP_DEPTH` rounds.
    fn fragment(&mut self, p: &PacketIn<'_>, f: &Fragment<'_>, out: &mut Vec<Event>) {
        let [mut buf, mut spare] = std::mem::take(&mut self.defrag_out);
        let mut done = self.defrag.push(p.ts_ns, f, &mut buf);
        for _ in 0..=limits::MAX_ENCAP_DEPTH {
            let Some(meta) = done.take() else {
                break;
            };
            match decode::decode_reassembled(&meta, &buf) {
                Ok(Frame::Packet(d)) => self.decoded(p, &d, out),
                Ok(Frame::Fragment(inner)) => {
                    done = self.defrag.push(p.ts_ns, &inner, &mut spare);
                    std::mem::swap(&mut buf, &mut spare);
                }
                Err(e) => WorkerStats::bump(&mut self.stats.decode_errors, e.label()),
            }
        }
        if done.is_some() {
            let e = decode::DecodeError::EncapDepthLimit;
            WorkerStats::bump(&mut self.stats.decode_errors, e.label());
        }
        self.defrag_out = [buf, spare];
    }

    /// Everything after decoding: flow, extract, match.
    fn decoded(&mut self, p: &PacketIn<'_>, d: &Decoded<'_>, out: &mut Vec<Event>) {
        self.stats.decoded += 1;
        if let Some(a) = d.anomaly {
            WorkerStats::bump(&mut self.stats.decode_anomalies, a.label());
        }
        let transport = match d.l4 {
            L4::Udp => Transport::Udp,
            L4::Tcp(_) => Transport::Tcp,
        };
        let mut em = Emit {
            sigs: &self.sigs,
            cfg: self.cfg,
            stats: &mut self.stats,
            out,
            ts: p.ts_ns,
            packet: p.packet_no,
            endpoints: Endpoints {
                transport,
                src_ip: d.src_ip,
                src_port: d.src_port,
                dst_ip: d.dst_ip,
                dst_port: d.dst_port,
                src_mac: d.src_mac,
                vlan: d.vlan,
            },
        };
        if self.cfg.emit_flow_starts {
            let start = match d.l4 {
                L4::Tcp(t) => t.flags & (TcpInfo::SYN | TcpInfo::ACK) == TcpInfo::SYN,
                L4::Udp => {
                    let (key, _) =
                        FlowKey::new(PROTO_UDP, d.src_ip, d.src_port, d.dst_ip, d.dst_port);
                    self.udp_flows.first(key, p.ts_ns)
                }
            };
            if start {
                em.out.push(Event::FlowStart(FlowStartEvent {
                    ts: em.ts,
                    packet: em.packet,
                    endpoints: em.endpoints,
                }));
            }
        }
        match d.l4 {
            L4::Udp => udp(d, &mut em, &mut self.scratch),
            L4::Tcp(t) => {
                let (key, dir) =
                    FlowKey::new(PROTO_TCP, d.src_ip, d.src_port, d.dst_ip, d.dst_port);
                let dns_port = d.src_port == 53 || d.dst_port == 53;
                let scratch = &mut self.scratch;
                self.flows.segment(
                    key,
                    dir,
                    p.ts_ns,
                    t.seq,
                    t.flags,
                    d.payload,
                    &mut |buf, app| {
                        if dns_port && *app == App::Unknown {
                            *app = App::Dns;
                        }
                        stream(buf, app, scratch, &mut em)
                    },
                );
            }
        }
    }

    /// Copy the sub-stages' counters (flow table, UDP flows, fragments,
    /// QUIC) into `stats`. Call before reading `stats`; kept off the
    /// per-packet path.
    pub fn sync_stats(&mut self) {
        self.stats.flows_active = self.flows.len() as u64;
        self.stats.flow = self.flows.stats.clone();
        self.stats.udp = self.udp_flows.stats;
        self.stats.defrag = self.defrag.stats;
        self.stats.quic = self.scratch.quic.stats;
    }

    /// End of input: forget every flow (incomplete prefixes yield nothing).
    pub fn finish(&mut self) {
        self.defrag.clear();
        self.flows.clear();
        self.scratch.quic.clear();
        self.sync_stats();
    }
}

/// UDP: DNS on its ports, SSDP requests.
fn udp(d: &Decoded<'_>, em: &mut Emit<'_>, scratch: &mut Scratch) {
    if DNS_PORTS.contains(&d.dst_port) || DNS_PORTS.contains(&d.src_port) {
        em.dns_message(d.payload, &mut scratch.dns);
    } else if d.dst_port == SSDP_PORT
        && let HttpScan::Request { method, host, .. } = http::scan_request(d.payload)
    {
        em.http_request(method, host);
    } else if dns::looks_like_query(d.payload) {
        // A DNS query on another port (a resolver on a custom port, or
        // traffic steered around port 53): checked strictly, before QUIC,
        // whose one-byte test such a query can pass.
        em.stats.dns_other_port += 1;
        em.dns_message(d.payload, &mut scratch.dns);
    } else if quic::looks_like_quic(d.payload) {
        // QUIC by content on any port: one byte test for short headers.
        let tuple = quic::Tuple {
            src: d.src_ip,
            src_port: d.src_port,
            dst: d.dst_ip,
            dst_port: d.dst_port,
        };
        scratch.quic.datagram(em.ts, tuple, d.payload, &mut |n| {
            em.name(Protocol::Quic, n.sni, || NameDetail::Quic {
                version: n.version,
                ech: n.ech,
            })
        });
    }
}

/// Look at the in-order start of a TCP direction (or, for HTTP, the start of
/// the next request) and say what the flow stage should do next.
fn stream(buf: &[u8], app: &mut App, scratch: &mut Scratch, em: &mut Emit<'_>) -> StreamEvent {
    if *app == App::Dns {
        return dns_tcp(buf, em, &mut scratch.dns);
    }
    // A ClientHello may start the stream, follow a CONNECT (App::Http) or
    // a SOCKS/STARTTLS preamble (App::Probing).
    match tls::scan_client_hello(buf, &mut scratch.tls) {
        HelloScan::Hello { sni, ech } => {
            em.stats.tls_hellos += 1;
            if ech {
                em.stats.tls_hellos_ech += 1;
            }
            match sni {
                Some(name) => em.name(Protocol::Tls, name, || NameDetail::Tls { ech }),
                None => em.stats.tls_hellos_without_sni += 1,
            }
            return StreamEvent::Done;
        }
        HelloScan::NeedMore { .. } => {
            *app = App::Tls;
            return StreamEvent::Continue;
        }
        HelloScan::Malformed(e) => {
            WorkerStats::bump(&mut em.stats.tls_malformed, e.label());
            return StreamEvent::Done;
        }
        HelloScan::NotTls if *app == App::Tls => return StreamEvent::Done,
        HelloScan::NotTls => {}
    }
    match http::scan_request(buf) {
        HttpScan::Request {
            method,
            host,
            head_len,
            ..
        } => {
            *app = App::Http;
            em.http_request(method, host);
            StreamEvent::Consumed(head_len)
        }
        HttpScan::NeedMore => StreamEvent::Continue,
        HttpScan::TooLong { .. } => {
            em.stats.http_too_long += 1;
            StreamEvent::Done
        }
        // Inside an HTTP connection, bytes that do not start a request are a
        // body or a pipelined remainder: wait for the next segment start.
        HttpScan::NotHttp if *app == App::Http => StreamEvent::Skip,
        HttpScan::NotHttp => {
            let n = match *app {
                App::Probing(n) => n.saturating_add(1),
                _ => 1,
            };
            if usize::from(n) >= limits::MAX_PROBED_SEGMENTS {
                em.stats.tcp_streams_unclassified += 1;
                StreamEvent::Done
            } else {
                *app = App::Probing(n);
                StreamEvent::Skip
            }
        }
    }
}

/// DNS over TCP: one length-prefixed message at a time.
fn dns_tcp(buf: &[u8], em: &mut Emit<'_>, scratch: &mut DnsScratch) -> StreamEvent {
    match dns::split_tcp_message(buf) {
        Some((msg, used)) => {
            em.dns_message(msg, scratch);
            StreamEvent::Consumed(used)
        }
        None => StreamEvent::Continue,
    }
}
