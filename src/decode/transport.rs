//! Transport layer: UDP and TCP headers, and the payload after them. The
//! IP protocol number picks the parser (`after_ip` in the module root).

use etherparse::err::tcp;
use etherparse::{TcpHeaderSlice, UdpHeaderSlice};

use super::ip::short;
use super::{DecodeError, L4, TcpInfo};

/// The transport layer of one packet.
#[derive(Clone, Copy, Debug)]
pub(super) struct Transport<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub l4: L4,
    pub payload: &'a [u8],
    /// The payload is shorter than the IP or UDP length announces.
    pub truncated: bool,
}

/// Length of the UDP header.
const UDP_HEADER_LEN: usize = 8;

/// UDP (RFC 768):
///
/// ```text
///  0              16             32
/// +--------------+--------------+
/// | source port  |  dest port   |
/// +--------------+--------------+
/// |    length    |   checksum   |
/// +--------------+--------------+
/// |          payload ...        |
/// ```
///
/// - `length` (header + payload) trims the payload when the IP packet is
///   longer.
/// - `length` larger than the IP payload: if the capture was cut short the
///   captured bytes are used and `truncated` stays set; otherwise the
///   datagram lies about its length (a receiving stack drops it):
///   `malformed_udp`.
/// - `length` 0 is an RFC 2675 §4 jumbogram: the IP payload length is used.
///   `length` 1..=7 is `malformed_udp`.
pub(super) fn udp(bytes: &[u8], truncated: bool) -> Result<Transport<'_>, DecodeError> {
    let header = UdpHeaderSlice::from_slice(bytes)
        .map_err(|_| short(truncated, DecodeError::MalformedUdp))?;
    let udp_len = usize::from(header.length());
    let (end, truncated) = if udp_len == 0 {
        (bytes.len(), truncated)
    } else if udp_len < UDP_HEADER_LEN {
        return Err(DecodeError::MalformedUdp);
    } else if udp_len > bytes.len() {
        if !truncated {
            return Err(DecodeError::MalformedUdp);
        }
        (bytes.len(), true)
    } else {
        // Complete as far as UDP is concerned, even if IP said more was cut.
        (udp_len, false)
    };
    let payload = bytes
        .get(UDP_HEADER_LEN..end)
        .ok_or(DecodeError::MalformedUdp)?;
    Ok(Transport {
        src_port: header.source_port(),
        dst_port: header.destination_port(),
        l4: L4::Udp,
        payload,
        truncated,
    })
}

/// Offset of the flag byte in the TCP header.
const TCP_FLAGS_OFFSET: usize = 13;

/// TCP (RFC 9293 §3.1):
///
/// ```text
///  0              16             32
/// +--------------+--------------+
/// | source port  |  dest port   |
/// +--------------+--------------+
/// |       sequence number       |
/// +-----------------------------+
/// |    acknowledgment number    |
/// +----+----+--------+----------+
/// |off |rsvd| flags  |  window  |
/// +----+----+--------+----------+
/// |   checksum   |  urgent ptr  |
/// +--------------+--------------+
/// |  options (off*4 - 20 bytes) |
/// +-----------------------------+
/// ```
///
/// The payload starts after the options (data offset). A data offset below 5
/// is `malformed_tcp`; options running past the IP payload are `truncated` if
/// the capture was cut short, else `malformed_tcp`.
pub(super) fn tcp(bytes: &[u8], truncated: bool) -> Result<Transport<'_>, DecodeError> {
    let header = TcpHeaderSlice::from_slice(bytes).map_err(|e| match e {
        tcp::HeaderSliceError::Len(_) => short(truncated, DecodeError::MalformedTcp),
        tcp::HeaderSliceError::Content(_) => DecodeError::MalformedTcp,
    })?;
    let header_bytes = header.slice();
    let flags = header_bytes
        .get(TCP_FLAGS_OFFSET)
        .copied()
        .ok_or(DecodeError::MalformedTcp)?;
    let payload = bytes
        .get(header_bytes.len()..)
        .ok_or(DecodeError::MalformedTcp)?;
    Ok(Transport {
        src_port: header.source_port(),
        dst_port: header.destination_port(),
        l4: L4::Tcp(TcpInfo {
            seq: header.sequence_number(),
            ack: header.acknowledgment_number(),
            flags,
        }),
        payload,
        truncated,
    })
}
