//! I/O in: every packet source behind one [`Source`] trait.
//!
//! Offline files are read with `pcap-parser` through a bounded buffer
//! ([`file`]); live capture comes later behind the same trait.

pub mod afpacket;
pub mod file;
#[cfg(feature = "pcap")]
pub mod pcap_live;

pub use file::{CaptureError, Damage, FileSource, Format, Located};

/// A link type number as in the pcap/pcapng headers (LINKTYPE_*).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LinkType(pub u32);

impl LinkType {
    pub const NULL: LinkType = LinkType(0);
    pub const ETHERNET: LinkType = LinkType(1);
    pub const RAW: LinkType = LinkType(101);
    pub const LOOP: LinkType = LinkType(108);
    pub const LINUX_SLL: LinkType = LinkType(113);
    pub const IPV4: LinkType = LinkType(228);
    pub const IPV6: LinkType = LinkType(229);
    pub const LINUX_SLL2: LinkType = LinkType(276);
}

/// One captured frame, borrowed from the source's buffer until the next call.
#[derive(Clone, Copy, Debug)]
pub struct RawPacket<'a> {
    /// Packet time, nanoseconds since the Unix epoch.
    pub ts_ns: u64,
    pub linktype: LinkType,
    /// The captured bytes (caplen of them; padding already removed).
    pub data: &'a [u8],
    /// Length of the frame on the wire (may exceed `data.len()` with a snaplen).
    pub orig_len: u32,
}

/// How far a source has got, for a progress bar.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// Bytes of input consumed so far (for a gzip file: compressed bytes
    /// read from the file, so it is comparable with `total`).
    pub done: u64,
    /// Size of the whole input where known (the file size on disk; `None`
    /// for live capture and for readers of unknown length).
    pub total: Option<u64>,
}

/// A source of packets: a capture file, a list of files, or a live interface.
pub trait Source {
    /// The next packet, `Ok(None)` at a clean end of input. After an error
    /// the source must not be polled again (a [`FileSource`] then returns
    /// `Ok(None)`).
    fn next_packet(&mut self) -> Result<Option<RawPacket<'_>>, CaptureError>;

    /// Input consumed so far. Sources with no notion of size report zero of
    /// unknown.
    fn progress(&self) -> Progress {
        Progress::default()
    }
}
