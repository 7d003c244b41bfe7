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
    /// UDP only: the length field announces more than the complete IP
    /// payload holds (not a capture cut); the payload is the IP payload.
    pub length_overrun: bool,
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
/// - `length` larger than the IP payload: the bytes present are used and
///   `truncated` is set, as for a datagram cut by the snap length. If the
///   IP packet was complete, the datagram lies about its length (fuzzed or
///   forged; a receiving stack drops it, tshark dissects what is there):
///   `length_overrun` is set too, for the `udp_length_overrun` counter.
///   The payload never reaches past the IP payload either way.
/// - `length` 0 is an RFC 2675 §4 jumbogram: the IP payload length is used.
///   `length` 1..=7 is `malformed_udp`.
pub(super) fn udp(bytes: &[u8], truncated: bool) -> Result<Transport<'_>, DecodeError> {
    let header = UdpHeaderSlice::from_slice(bytes)
        .map_err(|_| short(truncated, DecodeError::MalformedUdp))?;
    let udp_len = usize::from(header.length());
    let (end, truncated, length_overrun) = if udp_len == 0 {
        (bytes.len(), truncated, false)
    } else if udp_len < UDP_HEADER_LEN {
        return Err(DecodeError::MalformedUdp);
    } else if udp_len > bytes.len() {
        // Cut by the capture, or (IP complete) a length that overruns it.
        (bytes.len(), true, !truncated)
    } else {
        // Complete as far as UDP is concerned, even if IP said more was cut.
        (udp_len, false, false)
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
        length_overrun,
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
        length_overrun: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A UDP header with the given length field, then `payload`.
    fn datagram(len: u16, payload: &[u8]) -> Vec<u8> {
        let mut d = vec![0x0a, 0xc1, 0x00, 0x35]; // 2753 → 53
        d.extend_from_slice(&len.to_be_bytes());
        d.extend_from_slice(&[0, 0]);
        d.extend_from_slice(payload);
        d
    }

    #[test]
    fn udp_length_overrun_decodes_the_bytes_present() {
        // Complete IP payload of 8 + 4 bytes, UDP length 40.
        let d = datagram(40, b"abcd");
        let t = udp(&d, false).unwrap();
        assert_eq!((t.src_port, t.dst_port), (2753, 53));
        assert_eq!(t.payload, b"abcd");
        assert!(t.truncated && t.length_overrun);
        // Overrun by one byte, and the largest length field.
        let d = datagram(13, b"abcd");
        let t = udp(&d, false).unwrap();
        assert_eq!(
            (t.payload, t.truncated, t.length_overrun),
            (&b"abcd"[..], true, true)
        );
        let d = datagram(u16::MAX, b"");
        let t = udp(&d, false).unwrap();
        assert_eq!((t.payload, t.length_overrun), (&b""[..], true));
    }

    #[test]
    fn snaplen_cut_is_truncated_not_overrun() {
        // The IP packet itself was cut: the same bytes, no anomaly.
        let d = datagram(40, b"abcd");
        let t = udp(&d, true).unwrap();
        assert_eq!(t.payload, b"abcd");
        assert!(t.truncated && !t.length_overrun);
    }

    #[test]
    fn udp_length_within_ip_payload_is_not_overrun() {
        // Exact, shorter (trims), and the jumbogram 0.
        for (len, want) in [(12u16, &b"abcd"[..]), (10, b"ab"), (0, b"abcd")] {
            let d = datagram(len, b"abcd");
            let t = udp(&d, false).unwrap();
            assert_eq!(t.payload, want, "length {len}");
            assert!(!t.truncated && !t.length_overrun, "length {len}");
        }
    }

    #[test]
    fn udp_length_below_header_stays_malformed() {
        for len in 1..8u16 {
            for cut in [false, true] {
                assert_eq!(
                    udp(&datagram(len, b"abcd"), cut).unwrap_err(),
                    DecodeError::MalformedUdp,
                    "length {len}"
                );
            }
        }
        // A header that does not fit in a complete IP payload.
        assert_eq!(
            udp(&datagram(8, b"")[..6], false).unwrap_err(),
            DecodeError::MalformedUdp
        );
        assert_eq!(
            udp(&datagram(8, b"")[..6], true).unwrap_err(),
            DecodeError::Truncated
        );
    }

    /// IPv4 header (no options, total length = 20 + `l4.len()`), then `l4`.
    fn ipv4_udp(l4: &[u8]) -> Vec<u8> {
        let total = u16::try_from(20 + l4.len()).unwrap();
        let mut p = vec![0x45, 0, 0, 0, 0, 1, 0, 0, 64, 17, 0, 0];
        p[2..4].copy_from_slice(&total.to_be_bytes());
        p.extend_from_slice(&[192, 168, 1, 2, 192, 168, 1, 1]);
        p.extend_from_slice(l4);
        p
    }

    #[test]
    fn decode_reports_the_overrun_as_an_anomaly() {
        use crate::capture::LinkType;
        use crate::decode::{DecodeAnomaly, decode};

        // Bytes after the IP total length (Ethernet padding) stay out.
        let mut frame = ipv4_udp(&datagram(100, b"dns?"));
        frame.extend_from_slice(b"pad");
        let d = decode(LinkType::IPV4, &frame).unwrap();
        assert_eq!(d.payload, b"dns?");
        assert!(d.truncated);
        assert_eq!(d.anomaly, Some(DecodeAnomaly::UdpLengthOverrun));
        assert_eq!(
            DecodeAnomaly::UdpLengthOverrun.label(),
            "udp_length_overrun"
        );
        // A consistent datagram has none; a snaplen cut is only truncated.
        let ok = ipv4_udp(&datagram(12, b"dns?"));
        let d = decode(LinkType::IPV4, &ok).unwrap();
        assert_eq!((d.truncated, d.anomaly), (false, None));
        let d = decode(LinkType::IPV4, &ok[..30]).unwrap();
        assert_eq!(
            (d.payload, d.truncated, d.anomaly),
            (&b"dn"[..], true, None)
        );
        // Length 1..=7 is still an error.
        assert_eq!(
            decode(LinkType::IPV4, &ipv4_udp(&datagram(7, b"dns?"))).unwrap_err(),
            DecodeError::MalformedUdp
        );
    }

    #[test]
    fn tcp_is_never_overrun() {
        let mut h = [0u8; 20];
        h[12] = 0x50;
        let t = tcp(&h, false).unwrap();
        assert!(!t.length_overrun);
    }
}
