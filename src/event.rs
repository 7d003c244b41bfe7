//! The records that cross the pipeline: what workers hand to the output
//! thread. Names are attacker-controlled bytes and stay bytes here; every
//! output format escapes them (see `output::escape`).

use std::net::IpAddr;
use std::sync::Arc;

use crate::signatures::Rule;

/// Packet time: nanoseconds since the Unix epoch (UTC).
pub type TsNs = u64;

/// Where a name was seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// DNS query name (question section of a QR=0 message).
    Dns,
    /// TLS ClientHello server_name over TCP.
    Tls,
    /// HTTP/1.x Host header or CONNECT authority.
    Http,
    /// TLS ClientHello server_name inside a QUIC Initial.
    Quic,
}

impl Protocol {
    /// The ECS `network.protocol` value, also used in inventories.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Dns => "dns",
            Protocol::Tls => "tls",
            Protocol::Http => "http",
            Protocol::Quic => "quic",
        }
    }
}

/// ECS `network.transport`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transport {
    Tcp,
    Udp,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
        }
    }
}

/// The addressing of the packet (or first packet of the flow) a record came
/// from. `src` is always the client: the host that sent the query, hello or
/// request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Endpoints {
    pub transport: Transport,
    pub src_ip: IpAddr,
    pub src_port: u16,
    pub dst_ip: IpAddr,
    pub dst_port: u16,
    /// Source MAC of the Ethernet frame, where the link layer has one.
    pub src_mac: Option<[u8; 6]>,
    /// Outermost 802.1Q VLAN id, where tagged.
    pub vlan: Option<u16>,
}

/// Protocol-specific detail carried with a name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NameDetail {
    /// DNS question type (1 = A, 28 = AAAA, 65 = HTTPS, ...).
    Dns { qtype: u16 },
    /// TLS ClientHello; `ech` is true when the hello carries
    /// encrypted_client_hello (0xfe0d): the name is then the outer SNI.
    Tls { ech: bool },
    /// HTTP request method (e.g. `GET`, `CONNECT`), raw bytes.
    Http { method: Box<[u8]> },
    /// QUIC Initial: the version, and whether the hello carried
    /// encrypted_client_hello (the name is then the outer SNI).
    Quic { version: u32, ech: bool },
}

/// A name extracted from traffic, matched or not.
#[derive(Clone, Debug)]
pub struct NameEvent {
    /// Packet time of the packet that completed the name.
    pub ts: TsNs,
    /// Global packet number (1-based, across all input files) of that packet.
    pub packet: u64,
    pub protocol: Protocol,
    pub endpoints: Endpoints,
    /// The name exactly as seen on the wire (not lowercased, not unescaped).
    pub name: Box<[u8]>,
    pub detail: NameDetail,
    /// The signature that matched, if any: then this is an alert.
    pub rule: Option<Arc<Rule>>,
}

impl NameEvent {
    pub fn is_alert(&self) -> bool {
        self.rule.is_some()
    }
}

/// One A/AAAA record of a DNS response, kept for answer attribution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsAnswerEvent {
    pub ts: TsNs,
    pub packet: u64,
    /// `src` is the DNS server, `dst` the client that asked.
    pub endpoints: Endpoints,
    /// The first question name of the response (what the client asked).
    pub query: Box<[u8]>,
    /// Owner name of the record (differs from `query` after a CNAME chain).
    pub owner: Box<[u8]>,
    pub addr: IpAddr,
    pub ttl: u32,
}

/// The start of a flow: a TCP SYN without ACK, or the first UDP datagram
/// of a flow the worker had not seen. Carries no name; the output stage
/// uses it to attribute connections to addresses that vendor names resolved
/// to (`attribution`), and to spot Kaspersky Security Center ports between
/// home hosts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowStartEvent {
    pub ts: TsNs,
    pub packet: u64,
    /// `src` is the initiator (the SYN's sender, the first datagram's sender).
    pub endpoints: Endpoints,
}

/// Everything a worker hands to the output stage.
#[derive(Clone, Debug)]
pub enum Event {
    Name(NameEvent),
    DnsAnswer(DnsAnswerEvent),
    FlowStart(FlowStartEvent),
}
