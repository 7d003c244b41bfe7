//! A classic pcap file writer (the libpcap "savefile" format described at
//! tcpdump.org/manpages/pcap-savefile.5.html and in
//! draft-ietf-opsawg-pcap section 4): a 24-byte file header, then per packet
//! a 16-byte record header and the frame bytes. Written little-endian.

use std::io::Write;

use super::Error;

/// LINKTYPE_ETHERNET (tcpdump.org link-layer header types).
pub const LINKTYPE_ETHERNET: u32 = 1;
/// LINKTYPE_RAW: bare IPv4/IPv6.
pub const LINKTYPE_RAW: u32 = 101;
/// LINKTYPE_LINUX_SLL2: Linux cooked capture v2.
pub const LINKTYPE_LINUX_SLL2: u32 = 276;

/// Magic for microsecond timestamps.
pub const MAGIC_MICROS: u32 = 0xa1b2_c3d4;
/// Magic for nanosecond timestamps.
pub const MAGIC_NANOS: u32 = 0xa1b2_3c4d;

/// The snapshot length we declare: every generated frame is complete and
/// far below it (65,535 plus link headers is the largest frame we build).
pub const SNAPLEN: u32 = 262_144;

/// Size of the file header and of each record header.
pub const FILE_HEADER_LEN: u64 = 24;
pub const RECORD_HEADER_LEN: u64 = 16;

/// Timestamp resolution of the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TsResolution {
    Micros,
    Nanos,
}

impl TsResolution {
    pub fn as_str(self) -> &'static str {
        match self {
            TsResolution::Micros => "us",
            TsResolution::Nanos => "ns",
        }
    }
}

/// Writes packets to any `Write`. Wrap files in a `BufWriter`: this writer
/// issues two small writes per packet.
pub struct PcapWriter<W: Write> {
    w: W,
    res: TsResolution,
    packets: u64,
    bytes: u64,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the file header.
    pub fn new(mut w: W, linktype: u32, res: TsResolution) -> Result<PcapWriter<W>, Error> {
        let magic = match res {
            TsResolution::Micros => MAGIC_MICROS,
            TsResolution::Nanos => MAGIC_NANOS,
        };
        let mut h = [0u8; 24];
        h[0..4].copy_from_slice(&magic.to_le_bytes());
        h[4..6].copy_from_slice(&2u16.to_le_bytes()); // version 2.4
        h[6..8].copy_from_slice(&4u16.to_le_bytes());
        // thiszone and sigfigs stay 0.
        h[16..20].copy_from_slice(&SNAPLEN.to_le_bytes());
        h[20..24].copy_from_slice(&linktype.to_le_bytes());
        w.write_all(&h)?;
        Ok(PcapWriter {
            w,
            res,
            packets: 0,
            bytes: FILE_HEADER_LEN,
        })
    }

    /// Appends one packet with timestamp `ts_ns` (nanoseconds since the Unix
    /// epoch; truncated to microseconds in a microsecond file).
    pub fn write_packet(&mut self, ts_ns: u64, frame: &[u8]) -> Result<(), Error> {
        let len = u32::try_from(frame.len()).map_err(|_| Error::TooLong("pcap record"))?;
        if len > SNAPLEN {
            return Err(Error::TooLong("pcap record"));
        }
        let secs = u32::try_from(ts_ns / 1_000_000_000).map_err(|_| Error::TimestampOutOfRange)?;
        let frac = match self.res {
            TsResolution::Micros => (ts_ns % 1_000_000_000) / 1_000,
            TsResolution::Nanos => ts_ns % 1_000_000_000,
        } as u32;
        let mut h = [0u8; 16];
        h[0..4].copy_from_slice(&secs.to_le_bytes());
        h[4..8].copy_from_slice(&frac.to_le_bytes());
        h[8..12].copy_from_slice(&len.to_le_bytes());
        h[12..16].copy_from_slice(&len.to_le_bytes());
        self.w.write_all(&h)?;
        self.w.write_all(frame)?;
        self.packets += 1;
        self.bytes += RECORD_HEADER_LEN + u64::from(len);
        Ok(())
    }

    /// Timestamp resolution of the file.
    pub fn resolution(&self) -> TsResolution {
        self.res
    }

    /// `ts_ns` as it will read back from this file (truncated to µs in a
    /// microsecond file).
    pub fn stored_ts(&self, ts_ns: u64) -> u64 {
        match self.res {
            TsResolution::Micros => ts_ns / 1_000 * 1_000,
            TsResolution::Nanos => ts_ns,
        }
    }

    /// Packets written so far.
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// File bytes written so far, headers included.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Flushes and returns the inner writer.
    pub fn finish(mut self) -> Result<W, Error> {
        self.w.flush()?;
        Ok(self.w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_record_bytes() {
        let mut w = PcapWriter::new(Vec::new(), LINKTYPE_ETHERNET, TsResolution::Micros).unwrap();
        w.write_packet(1_700_000_000_123_456_789, &[0xaa, 0xbb])
            .unwrap();
        assert_eq!(w.packets(), 1);
        assert_eq!(w.bytes(), 24 + 16 + 2);
        let out = w.finish().unwrap();
        assert_eq!(
            &out[..24],
            &[
                0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 1, 0, 0, 0
            ]
        );
        // 1_700_000_000 = 0x6553f100; 123_456 µs = 0x0001e240.
        assert_eq!(
            &out[24..32],
            &[0x00, 0xf1, 0x53, 0x65, 0x40, 0xe2, 0x01, 0x00]
        );
        assert_eq!(&out[32..42], &[2, 0, 0, 0, 2, 0, 0, 0, 0xaa, 0xbb]);
    }

    #[test]
    fn nanosecond_variant_keeps_nanoseconds() {
        let mut w = PcapWriter::new(Vec::new(), LINKTYPE_RAW, TsResolution::Nanos).unwrap();
        w.write_packet(5_000_000_007, &[]).unwrap();
        let out = w.finish().unwrap();
        assert_eq!(&out[..4], &[0x4d, 0x3c, 0xb2, 0xa1]);
        assert_eq!(&out[20..24], &[101, 0, 0, 0]);
        assert_eq!(&out[24..32], &[5, 0, 0, 0, 7, 0, 0, 0]);
    }

    #[test]
    fn timestamps_past_2106_are_rejected() {
        let mut w = PcapWriter::new(Vec::new(), LINKTYPE_RAW, TsResolution::Micros).unwrap();
        assert!(matches!(
            w.write_packet(u64::from(u32::MAX) * 1_000_000_000 + 1_000_000_000, &[]),
            Err(Error::TimestampOutOfRange)
        ));
        assert_eq!(w.packets(), 0);
    }
}
