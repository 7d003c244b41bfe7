//! Zero-copy views over frames: link layers, VLAN, IPv4/IPv6, UDP/TCP.
//! TODO(helper): implement.

use std::net::IpAddr;

use crate::capture::LinkType;

/// TCP header fields the flow stage needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpInfo {
    pub seq: u32,
    pub ack: u32,
    /// Raw flag byte: FIN=0x01 SYN=0x02 RST=0x04 PSH=0x08 ACK=0x10.
    pub flags: u8,
}

impl TcpInfo {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const ACK: u8 = 0x10;
}

/// Transport layer of a decoded packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum L4 {
    Tcp(TcpInfo),
    Udp,
}

/// A decoded packet: innermost addressing plus the transport payload,
/// borrowed from the frame.
#[derive(Clone, Copy, Debug)]
pub struct Decoded<'a> {
    pub src_mac: Option<[u8; 6]>,
    pub dst_mac: Option<[u8; 6]>,
    /// Outermost 802.1Q/802.1ad VLAN id.
    pub vlan: Option<u16>,
    /// Inner VLAN id of a QinQ frame.
    pub inner_vlan: Option<u16>,
    pub src_ip: IpAddr,
    pub dst_ip: IpAddr,
    pub src_port: u16,
    pub dst_port: u16,
    pub l4: L4,
    /// Transport payload, trimmed to the IP total length (no Ethernet padding).
    pub payload: &'a [u8],
}

/// Why a frame was not decoded. Each variant is a counter label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DecodeError {
    Placeholder,
}

impl DecodeError {
    /// Stable snake_case label used in stats and the summary.
    pub fn label(self) -> &'static str {
        "placeholder"
    }
}

/// Decode one frame of the given link type.
pub fn decode(_linktype: LinkType, _frame: &[u8]) -> Result<Decoded<'_>, DecodeError> {
    Err(DecodeError::Placeholder)
}
