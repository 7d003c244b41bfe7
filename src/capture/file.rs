//! pcap / pcapng files, plain or gzip-compressed, read into our own
//! shareable buffers and parsed with `pcap-parser`'s slice parsers.
//!
//! Reading model: the (decompressed) stream is read with plain `read()`
//! calls, each filling as much of the current buffer as the input gives
//! (about [`CAPTURE_READ_BUFFER`] bytes), into an `Arc<Vec<u8>>` with a
//! window of unconsumed bytes. Records are parsed in place: legacy pcap with
//! `parse_pcap_header` and `parse_pcap_frame{,_be,_modified}`, pcapng section
//! headers and interface descriptions with `parse_sectionheaderblock` and
//! `parse_interfacedescriptionblock_{le,be}`. A packet is handed out as its
//! place in the buffer ([`FileSource::next_located`]), so a caller may clone
//! the buffer's `Arc` and give the packet to another thread without copying
//! it. The source writes into a buffer only while it holds the only
//! reference (`Arc::get_mut`): to make room or grow while somebody else
//! holds the buffer, it moves the unconsumed tail to a fresh buffer, taken
//! from a small pool of retired buffers nobody holds any more or newly
//! allocated, and retires the old one to that pool. [`Source::next_packet`]
//! uses the same machinery; with nobody holding the buffer it compacts in
//! place and never allocates.
//!
//! Guarantees:
//!
//! - Memory is bounded by the read buffer ([`CAPTURE_READ_BUFFER`], grown to
//!   at most [`CAPTURE_MAX_BLOCK_LEN`]), the pool of retired buffers (at
//!   most [`CAPTURE_SPARE_BUFFERS`] of them, of the same size) and the
//!   interface table ([`CAPTURE_MAX_INTERFACES`]); it does not grow with the
//!   file.
//! - No allocation per packet: packets borrow the buffer until the next call
//!   (or as long as the caller holds a clone of it). pcapng packet blocks are
//!   read from their fixed header here, not through `pcap-parser`'s block
//!   parser, which collects each block's options into a fresh `Vec` (real
//!   files carry `epb_flags` on every packet).
//! - Never panics on file bytes, and always ends: every step either consumes
//!   input, reads more, or stops.
//! - Every packet before a damaged spot is delivered first; the error comes
//!   from the call after the last good packet and names the file, the byte
//!   offset in the decompressed stream, and how many packets came before it.
//! - The format is found from the first bytes, never from the file name:
//!   gzip by its magic (RFC 1952 §2.3.1), then pcap or pcapng by theirs.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, Cursor, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use flate2::read::MultiGzDecoder;
use pcap_parser::nom::{Err as NomErr, IResult, Needed};
use pcap_parser::pcap::{
    LegacyPcapBlock, parse_pcap_frame, parse_pcap_frame_be, parse_pcap_frame_modified,
    parse_pcap_header,
};
use pcap_parser::pcapng::{
    parse_interfacedescriptionblock_be, parse_interfacedescriptionblock_le,
    parse_sectionheaderblock,
};
use pcap_parser::{OptionCode, PcapError};

use super::{LinkType, Progress, RawPacket, Source};
use crate::config::limits::{
    CAPTURE_CAPLEN_OVER_SNAPLEN, CAPTURE_MAX_BLOCK_LEN, CAPTURE_MAX_CAPLEN, CAPTURE_MAX_INTERFACES,
    CAPTURE_READ_BUFFER, CAPTURE_SPARE_BUFFERS,
};

/// What is wrong with a capture file; `label()` names it for counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Damage {
    /// Zero bytes (after decompression).
    EmptyFile,
    /// The first bytes are not a pcap or pcapng magic number.
    BadMagic,
    /// The file ends inside the file header.
    TruncatedHeader,
    /// The file ends inside a packet record or pcapng block.
    TruncatedRecord,
    /// A captured length above [`CAPTURE_MAX_CAPLEN`].
    CaplenLimit,
    /// A captured length far above the snapshot length (see
    /// [`CAPTURE_CAPLEN_OVER_SNAPLEN`]).
    CaplenOverSnaplen,
    /// A pcapng block to parse is longer than [`CAPTURE_MAX_BLOCK_LEN`].
    BlockLenLimit,
    /// A pcapng block whose lengths or fields contradict each other.
    BadBlock,
    /// A pcapng packet names an interface its section did not describe.
    UnknownInterface,
    /// More than [`CAPTURE_MAX_INTERFACES`] interfaces in one section.
    InterfaceLimit,
    /// The gzip stream is damaged or cut short.
    BadGzip,
    /// The operating system failed to read the file.
    ReadFailed,
}

impl Damage {
    /// Stable snake_case label for counters and logs.
    pub fn label(self) -> &'static str {
        match self {
            Damage::EmptyFile => "empty_file",
            Damage::BadMagic => "bad_magic",
            Damage::TruncatedHeader => "truncated_header",
            Damage::TruncatedRecord => "truncated_record",
            Damage::CaplenLimit => "caplen_limit",
            Damage::CaplenOverSnaplen => "caplen_over_snaplen",
            Damage::BlockLenLimit => "block_len_limit",
            Damage::BadBlock => "bad_block",
            Damage::UnknownInterface => "unknown_interface",
            Damage::InterfaceLimit => "interface_limit",
            Damage::BadGzip => "bad_gzip",
            Damage::ReadFailed => "read_failed",
        }
    }
}

/// A capture file could not be read. Always names the file and where.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("{path}: cannot open: {source}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: byte offset {offset} (after packet {packet}): {reason}")]
    Corrupt {
        path: PathBuf,
        /// Byte offset in the (decompressed) stream where the damage starts.
        offset: u64,
        /// Packets of this file read successfully before the damage.
        packet: u64,
        /// What kind of damage, for counters.
        kind: Damage,
        reason: String,
    },
}

impl CaptureError {
    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            CaptureError::Open { path, .. } | CaptureError::Corrupt { path, .. } => path,
        }
    }

    /// Stable snake_case label for counters and logs.
    pub fn label(&self) -> &'static str {
        match self {
            CaptureError::Open { .. } => "open_failed",
            CaptureError::Corrupt { kind, .. } => kind.label(),
        }
    }

    /// Byte offset of the damage in the decompressed stream, if any.
    pub fn offset(&self) -> Option<u64> {
        match self {
            CaptureError::Open { .. } => None,
            CaptureError::Corrupt { offset, .. } => Some(*offset),
        }
    }

    /// Packets delivered from the file before the error.
    pub fn packets_before(&self) -> u64 {
        match self {
            CaptureError::Open { .. } => 0,
            CaptureError::Corrupt { packet, .. } => *packet,
        }
    }
}

/// The container format of a capture file, as found from its magic number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Classic libpcap format.
    Pcap {
        /// Timestamps in nanoseconds (magic a1b23c4d) instead of µs.
        nanos: bool,
        big_endian: bool,
        /// Alexey Kuznetzov's "modified" format (magic a1b2cd34, 24-byte
        /// record headers).
        modified: bool,
    },
    /// pcapng; byte order may change from section to section.
    PcapNg,
}

// Magic numbers as they appear in the first four bytes of the file.
// draft-ietf-opsawg-pcap §4 (file header): 0xA1B2C3D4 (µs) / 0xA1B23C4D (ns),
// written in the writer's byte order.
const PCAP_US_LE: [u8; 4] = [0xd4, 0xc3, 0xb2, 0xa1];
const PCAP_US_BE: [u8; 4] = [0xa1, 0xb2, 0xc3, 0xd4];
const PCAP_NS_LE: [u8; 4] = [0x4d, 0x3c, 0xb2, 0xa1];
const PCAP_NS_BE: [u8; 4] = [0xa1, 0xb2, 0x3c, 0x4d];
// The Kuznetzov "modified" pcap (libpcap's PCAP_MODIFIED_MAGIC), 24-byte
// record headers. pcap-parser reads the little-endian form only.
const PCAP_MODIFIED_LE: [u8; 4] = [0x34, 0xcd, 0xb2, 0xa1];
const PCAP_MODIFIED_BE: [u8; 4] = [0xa1, 0xb2, 0xcd, 0x34];
// draft-ietf-opsawg-pcapng §4.1: the Section Header Block type is the
// palindrome 0x0A0D0D0A, so it reads the same in either byte order.
const PCAPNG_SHB: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];
// RFC 1952 §2.3.1: ID1 = 0x1f, ID2 = 0x8b.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// pcap file header length (draft-ietf-opsawg-pcap §4).
const PCAP_FILE_HEADER_LEN: usize = 24;
/// Bytes read before choosing a reader: the smallest Section Header Block
/// (draft-ietf-opsawg-pcapng §4.1), which also covers the pcap file header.
const PREFIX_LEN: usize = 28;

// pcapng block types (draft-ietf-opsawg-pcapng §3.2; 2 is the obsolete
// Packet Block of Appendix A).
const BT_SHB: u32 = 0x0A0D_0D0A;
const BT_IDB: u32 = 0x0000_0001;
const BT_PB: u32 = 0x0000_0002;
const BT_SPB: u32 = 0x0000_0003;
const BT_EPB: u32 = 0x0000_0006;
/// Byte-order magic of the Section Header Block, §4.1.
const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;
/// IDB options §4.2: if_tsresol (1 byte) and if_tsoffset (8 bytes, signed).
const OPT_IF_TSRESOL: OptionCode = OptionCode(9);
const OPT_IF_TSOFFSET: OptionCode = OptionCode(14);

/// Where a packet is in the buffer it was read into.
#[derive(Clone, Copy, Debug)]
pub struct Located {
    /// Offset of the packet's first byte in `FileSource::buffer()`.
    pub off: usize,
    /// Captured bytes.
    pub len: usize,
    pub ts_ns: u64,
    pub linktype: LinkType,
    pub orig_len: u32,
}

/// Reads one pcap or pcapng file, plain or gzip-compressed.
pub struct FileSource {
    io: Stream,
    format: Format,
    state: State,
    /// Bytes of the packet just delivered, consumed on the next call.
    pending_consume: usize,
    /// End of input or an error was returned: further calls return `None`.
    finished: bool,
    total: Option<u64>,
}

impl FileSource {
    /// Opens a capture file. The format comes from the file's first bytes.
    pub fn open(path: &Path) -> Result<FileSource, CaptureError> {
        let file = File::open(path).map_err(|source| CaptureError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        let total = file.metadata().ok().map(|m| m.len());
        let mut src = Self::build(path.to_path_buf(), Box::new(file), CAPTURE_READ_BUFFER)?;
        src.total = total;
        Ok(src)
    }

    /// Reads a capture from any byte stream (a pipe, memory, a fuzzer's
    /// input); `name` is used in errors. Progress has no total.
    pub fn from_reader<R: Read + Send + 'static>(
        name: impl Into<PathBuf>,
        reader: R,
    ) -> Result<FileSource, CaptureError> {
        Self::build(name.into(), Box::new(reader), CAPTURE_READ_BUFFER)
    }

    /// As [`FileSource::from_reader`] with an initial buffer of
    /// `buffer_bytes` (raised to 28, capped at [`CAPTURE_MAX_BLOCK_LEN`]).
    /// The buffer still grows to fit one whole record; tests use a small one
    /// to exercise refills and growth.
    pub fn from_reader_with_buffer<R: Read + Send + 'static>(
        name: impl Into<PathBuf>,
        reader: R,
        buffer_bytes: usize,
    ) -> Result<FileSource, CaptureError> {
        let cap = buffer_bytes.clamp(PREFIX_LEN, CAPTURE_MAX_BLOCK_LEN);
        Self::build(name.into(), Box::new(reader), cap)
    }

    /// The file name or the name given to [`FileSource::from_reader`].
    pub fn path(&self) -> &Path {
        &self.io.path
    }

    /// The container format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Whether the input was gzip-compressed.
    pub fn is_gzip(&self) -> bool {
        self.io.gzip
    }

    /// Packets delivered so far.
    pub fn packets_read(&self) -> u64 {
        self.io.packets
    }

    /// The buffer the packets are read into (clone the Arc to keep it).
    pub fn buffer(&self) -> &Arc<Vec<u8>> {
        &self.io.buf
    }

    /// As `next_packet`, but says where the packet is: its bytes are
    /// `self.buffer()[off..off + len]` right after this call. A caller that keeps the
    /// position past the next call must hold a clone of `buffer()`: the source
    /// never writes into a buffer somebody else holds, it moves to a fresh one.
    pub fn next_located(&mut self) -> Result<Option<Located>, CaptureError> {
        if self.finished {
            return Ok(None);
        }
        self.io.consume(std::mem::take(&mut self.pending_consume));
        let step = match &mut self.state {
            State::Legacy(l) => l.advance(&mut self.io),
            State::Ng(g) => g.advance(&mut self.io),
        };
        let found = match step {
            Ok(Some(found)) => found,
            Ok(None) => {
                self.finished = true;
                return Ok(None);
            }
            Err(e) => {
                self.finished = true;
                return Err(e);
            }
        };
        // The packet must lie inside the unconsumed window.
        let off = self.io.start.checked_add(found.start);
        let inside = off
            .and_then(|off| off.checked_add(found.len))
            .is_some_and(|end| end <= self.io.end);
        let (Some(off), true) = (off, inside) else {
            // Unreachable: `advance` checked the record is buffered whole.
            self.finished = true;
            return Err(self.io.corrupt(
                Damage::BadBlock,
                "internal: packet bytes not in the read buffer".into(),
            ));
        };
        self.pending_consume = found.record_len;
        self.io.packets += 1;
        Ok(Some(Located {
            off,
            len: found.len,
            ts_ns: found.ts_ns,
            linktype: found.linktype,
            orig_len: found.orig_len,
        }))
    }

    /// Several packets at once, appended to `out`: the same packets, in the
    /// same order and with the same errors, as that many
    /// [`FileSource::next_located`] calls, and all in `buffer()` as it is
    /// after this call. Returns how many were appended: 0 only at the end of
    /// input (or after an error, which is returned instead).
    ///
    /// The first packet comes from `next_located` (which refills, switches
    /// buffers and reports damage); after it, classic pcap records that are
    /// already buffered whole and pass the record checks are walked in a
    /// tight loop, reading the fixed 16- or 24-byte record header in place.
    /// A record that is not buffered whole, or that fails a check, ends the
    /// batch: the next call takes it through `next_located`, which reports
    /// it exactly as before. pcapng gives one packet per call.
    pub fn next_located_batch(
        &mut self,
        out: &mut Vec<Located>,
        max: usize,
    ) -> Result<usize, CaptureError> {
        let Some(first) = self.next_located()? else {
            return Ok(0);
        };
        out.push(first);
        let State::Legacy(l) = &self.state else {
            return Ok(1);
        };
        let hl = l.record_header;
        let mut n = 1;
        // Start of the next record in the buffer, and of the window's end.
        let mut at = first.off + first.len;
        let end = self.io.end;
        let buf: &[u8] = &self.io.buf;
        while n < max {
            let Some(head) = buf.get(at..at + hl).filter(|_| at + hl <= end) else {
                break;
            };
            let field = |i| u32_at(head, i, l.big_endian).unwrap_or(0);
            let caplen = field(8);
            if caplen > CAPTURE_MAX_CAPLEN
                || (l.snaplen != 0
                    && caplen > l.snaplen.saturating_add(CAPTURE_CAPLEN_OVER_SNAPLEN))
            {
                break;
            }
            let len = caplen as usize;
            if at + hl + len > end {
                break;
            }
            let frac = u64::from(field(4));
            let frac_ns = if l.nanos { frac } else { frac * 1_000 };
            // Below 2^64, as in `Legacy::advance`.
            let ts_ns = u64::from(field(0)) * 1_000_000_000 + frac_ns;
            out.push(Located {
                off: at + hl,
                len,
                ts_ns,
                linktype: l.linktype,
                orig_len: field(12),
            });
            at += hl + len;
            n += 1;
        }
        // Everything walked is consumed, the last record on the next call
        // (as `next_located` leaves it).
        if n > 1 {
            let last_start = at - (out.last().map_or(0, |p| p.len) + hl);
            let skipped = last_start - (first.off + first.len);
            self.io.consume(self.pending_consume + skipped);
            self.pending_consume = at - last_start;
            self.io.packets += n as u64 - 1;
        }
        Ok(n)
    }

    /// Bytes read from the file (compressed bytes for gzip) and its size.
    pub fn progress(&self) -> Progress {
        Progress {
            done: self.io.shared.raw_bytes.load(Ordering::Relaxed),
            total: self.total,
        }
    }

    fn build(
        path: PathBuf,
        raw: Box<dyn Read + Send>,
        buffer: usize,
    ) -> Result<FileSource, CaptureError> {
        let shared = Arc::new(Shared::default());
        let mut counted = Counting {
            inner: raw,
            shared: Arc::clone(&shared),
        };
        let early = |kind: Damage, reason: String| CaptureError::Corrupt {
            path: path.clone(),
            offset: 0,
            packet: 0,
            kind,
            reason,
        };

        // gzip? RFC 1952 §2.3.1. A gzip file may hold several members
        // (§2.2, e.g. from `cat a.gz b.gz`): MultiGzDecoder reads them all.
        let mut gz_magic = [0u8; 2];
        let n = read_prefix(&mut counted, &mut gz_magic)
            .map_err(|e| early(Damage::ReadFailed, format!("read failed: {e}")))?;
        let gzip = n == 2 && gz_magic == GZIP_MAGIC;
        let rejoined = Cursor::new(gz_magic).take(n as u64).chain(counted);
        let mut stream: Box<dyn Read + Send> = if gzip {
            Box::new(MultiGzDecoder::new(rejoined))
        } else {
            Box::new(rejoined)
        };

        let mut head = [0u8; PREFIX_LEN];
        let n = read_prefix(&mut stream, &mut head).map_err(|e| {
            if gzip {
                early(Damage::BadGzip, format!("gzip stream damaged: {e}"))
            } else {
                early(Damage::ReadFailed, format!("read failed: {e}"))
            }
        })?;
        let head_bytes = head.get(..n).unwrap_or_default();
        let (format, capacity) =
            classify(head_bytes, gzip, buffer).map_err(|(k, r)| early(k, r))?;

        let input: Box<dyn Read + Send> = Box::new(Cursor::new(head).take(n as u64).chain(stream));
        let mut io = Stream {
            path,
            input: FillReader {
                inner: input,
                shared: Arc::clone(&shared),
                pending: None,
            },
            shared,
            buf: Arc::new(vec![0; capacity]),
            start: 0,
            end: 0,
            spare: Vec::new(),
            exhausted: false,
            offset: 0,
            packets: 0,
            gzip,
        };
        // One read of a whole buffer first; the head is in it, and a read
        // error behind the head is held back until more is needed.
        io.read_more()?;
        let state = match format {
            Format::Pcap {
                nanos,
                big_endian,
                modified,
            } => State::Legacy(Legacy::start(&mut io, nanos, big_endian, modified)?),
            Format::PcapNg => {
                check_first_section(io.data()).map_err(|(k, r)| io.corrupt(k, r))?;
                State::Ng(Ng {
                    big_endian: false,
                    interfaces: Vec::new(),
                    skip: 0,
                    last_ts: 0,
                })
            }
        };
        Ok(FileSource {
            io,
            format,
            state,
            pending_consume: 0,
            finished: false,
            total: None,
        })
    }
}

impl Source for FileSource {
    fn next_packet(&mut self) -> Result<Option<RawPacket<'_>>, CaptureError> {
        let Some(at) = self.next_located()? else {
            return Ok(None);
        };
        // `next_located` checked the range lies in the buffer.
        let data = self
            .io
            .buf
            .get(at.off..at.off.saturating_add(at.len))
            .unwrap_or_default();
        Ok(Some(RawPacket {
            ts_ns: at.ts_ns,
            linktype: at.linktype,
            data,
            orig_len: at.orig_len,
        }))
    }

    fn progress(&self) -> Progress {
        FileSource::progress(self)
    }
}

/// Picks the reader from the first bytes of the (decompressed) stream and
/// the buffer size it needs. `head` holds up to [`PREFIX_LEN`] bytes; fewer
/// means the stream ended.
fn classify(head: &[u8], gzip: bool, buffer: usize) -> Result<(Format, usize), (Damage, String)> {
    let n = head.len();
    if n == 0 {
        let reason = if gzip {
            "gzip data decompresses to nothing: empty file, no capture header"
        } else {
            "empty file, no capture header"
        };
        return Err((Damage::EmptyFile, reason.into()));
    }
    let Some(magic) = head.get(..4) else {
        return Err((
            Damage::TruncatedHeader,
            format!("file is only {n} bytes long, too short for a capture file header"),
        ));
    };
    let pcap = |nanos, big_endian, modified| {
        if n < PCAP_FILE_HEADER_LEN {
            Err((
                Damage::TruncatedHeader,
                format!(
                    "truncated header: file ends after {n} bytes, inside the \
                     {PCAP_FILE_HEADER_LEN}-byte pcap file header"
                ),
            ))
        } else {
            Ok((
                Format::Pcap {
                    nanos,
                    big_endian,
                    modified,
                },
                buffer,
            ))
        }
    };
    match <[u8; 4]>::try_from(magic).unwrap_or_default() {
        PCAP_US_LE => pcap(false, false, false),
        PCAP_US_BE => pcap(false, true, false),
        PCAP_NS_LE => pcap(true, false, false),
        PCAP_NS_BE => pcap(true, true, false),
        PCAP_MODIFIED_LE => pcap(false, false, true),
        PCAP_MODIFIED_BE => Err((
            Damage::BadMagic,
            "big-endian \"modified\" pcap (magic a1 b2 cd 34) is not supported; \
             convert it with `editcap -F pcap`"
                .into(),
        )),
        PCAPNG_SHB => {
            let (Some(bom), Some(len)) = (u32_at(head, 8, false), u32_at(head, 4, false)) else {
                return Err((
                    Damage::TruncatedHeader,
                    format!(
                        "truncated header: file ends after {n} bytes, inside the \
                         pcapng section header block"
                    ),
                ));
            };
            let big_endian = match bom {
                BYTE_ORDER_MAGIC => false,
                x if x == BYTE_ORDER_MAGIC.swap_bytes() => true,
                other => {
                    return Err((
                        Damage::BadBlock,
                        format!(
                            "pcapng section header has byte-order magic {other:08x}, \
                             expected 1a2b3c4d in either byte order"
                        ),
                    ));
                }
            };
            let len = if big_endian { len.swap_bytes() } else { len };
            let len = usize::try_from(len).unwrap_or(usize::MAX);
            if len < PREFIX_LEN || !len.is_multiple_of(4) {
                return Err((
                    Damage::BadBlock,
                    format!(
                        "pcapng section header block length {len} is not a multiple \
                         of 4 of at least {PREFIX_LEN}"
                    ),
                ));
            }
            if len > CAPTURE_MAX_BLOCK_LEN {
                return Err((
                    Damage::BlockLenLimit,
                    format!(
                        "pcapng section header block length {len} exceeds the \
                         {CAPTURE_MAX_BLOCK_LEN}-byte limit"
                    ),
                ));
            }
            if n < PREFIX_LEN {
                return Err((
                    Damage::TruncatedHeader,
                    format!(
                        "truncated header: file ends after {n} bytes, inside the \
                         pcapng section header block"
                    ),
                ));
            }
            // The whole first block is checked from the first read.
            Ok((Format::PcapNg, buffer.max(len)))
        }
        other => {
            let mut reason = String::from("not a pcap/pcapng file: first 4 bytes are");
            for b in other {
                let _ = write!(reason, " {b:02x}");
            }
            reason.push_str(
                " (pcap starts d4 c3 b2 a1, a1 b2 c3 d4, 4d 3c b2 a1 or a1 b2 3c 4d; \
                 pcapng starts 0a 0d 0d 0a)",
            );
            if let Some(what) = other_compression(other) {
                let _ = write!(
                    reason,
                    "; this looks {what}-compressed, only gzip is read: decompress it first"
                );
            }
            if gzip {
                reason.insert_str(0, "after gzip decompression: ");
            }
            Err((Damage::BadMagic, reason))
        }
    }
}

/// Compression formats a user may feed by mistake, by their magic.
fn other_compression(magic: [u8; 4]) -> Option<&'static str> {
    match magic {
        [0x28, 0xb5, 0x2f, 0xfd] => Some("zstd"),
        [0xfd, 0x37, 0x7a, 0x58] => Some("xz"),
        [0x42, 0x5a, 0x68, _] => Some("bzip2"),
        [0x04, 0x22, 0x4d, 0x18] => Some("lz4"),
        [0x50, 0x4b, 0x03, 0x04] => Some("zip"),
        _ => None,
    }
}

/// Before anything is handed out, the first Section Header Block must be
/// whole in the first read and parse (as pcap-parser's `PcapNGReader::new`
/// checked, with the same error texts).
fn check_first_section(data: &[u8]) -> Result<(), (Damage, String)> {
    match parse_sectionheaderblock(data) {
        Ok(_) => Ok(()),
        // The first block is longer than what the file holds.
        Err(NomErr::Incomplete(_)) => Err((
            Damage::TruncatedHeader,
            "truncated header: file ends inside the pcapng section header block".into(),
        )),
        Err(NomErr::Error(e) | NomErr::Failure(e)) => {
            Err((Damage::BadBlock, format!("section header: {e}")))
        }
    }
}

/// A slice parser's result as `(bytes parsed, value)`, or the error text
/// (as pcap-parser's streaming reader worded it).
fn parsed<'a, T>(
    input: &'a [u8],
    r: IResult<&'a [u8], T, PcapError<&'a [u8]>>,
) -> Result<(usize, T), String> {
    match r {
        Ok((rest, v)) => Ok((input.len().saturating_sub(rest.len()), v)),
        Err(NomErr::Error(e) | NomErr::Failure(e)) => Err(e.to_string()),
        Err(NomErr::Incomplete(Needed::Size(n))) => {
            Err(PcapError::<&[u8]>::Incomplete(n.get()).to_string())
        }
        Err(NomErr::Incomplete(Needed::Unknown)) => {
            Err(PcapError::<&[u8]>::Incomplete(0).to_string())
        }
    }
}

/// What `advance` found: where the packet is in the buffer, and its metadata.
struct Found {
    /// Offset of the packet bytes from the start of `Stream::data()`.
    start: usize,
    /// Captured bytes (padding excluded).
    len: usize,
    /// Bytes to consume once the packet has been handed out.
    record_len: usize,
    ts_ns: u64,
    linktype: LinkType,
    orig_len: u32,
}

enum State {
    Legacy(Legacy),
    Ng(Ng),
}

/// The read buffer and the position bookkeeping shared by both formats.
struct Stream {
    path: PathBuf,
    input: FillReader<Box<dyn Read + Send>>,
    shared: Arc<Shared>,
    /// The current buffer; its length is its capacity. Written only through
    /// `Arc::get_mut`, i.e. while nobody else holds it.
    buf: Arc<Vec<u8>>,
    /// Unconsumed bytes: `buf[start..end]`.
    start: usize,
    end: usize,
    /// Retired buffers, oldest first, kept to be reused once their other
    /// holders drop them. At most [`CAPTURE_SPARE_BUFFERS`].
    spare: Vec<Arc<Vec<u8>>>,
    /// A read returned no bytes: the input has ended.
    exhausted: bool,
    /// Offset in the decompressed stream of the first unconsumed byte.
    offset: u64,
    packets: u64,
    gzip: bool,
}

impl Stream {
    fn data(&self) -> &[u8] {
        self.buf.get(self.start..self.end).unwrap_or_default()
    }

    fn consume(&mut self, n: usize) {
        let n = n.min(self.end.saturating_sub(self.start));
        self.start += n;
        self.offset = self.offset.saturating_add(n as u64);
    }

    /// Makes at least `need` bytes available in `data()`: grows the buffer if
    /// it is smaller (callers bound `need` by a named limit) and refills
    /// until enough is buffered. `Ok(false)` means the input ended first.
    fn fill(&mut self, need: usize) -> Result<bool, CaptureError> {
        if need > self.buf.len() {
            // Double (fewer reallocations when a small starting buffer meets
            // growing records), never past the block limit unless `need`
            // itself is (a legacy record: caplen limit + 24-byte header).
            let new = self
                .buf
                .len()
                .saturating_mul(2)
                .min(CAPTURE_MAX_BLOCK_LEN)
                .max(need);
            self.make_room(new);
        }
        loop {
            if self.end.saturating_sub(self.start) >= need {
                return Ok(true);
            }
            if self.exhausted {
                return Ok(false);
            }
            // The record must fit before the end of the buffer, and the
            // buffer must be ours alone to be written.
            if self.start.saturating_add(need) > self.buf.len()
                || Arc::get_mut(&mut self.buf).is_none()
            {
                self.make_room(self.buf.len());
            }
            self.read_more()?;
        }
    }

    /// One read into the free room at the end of the buffer (as much as the
    /// input gives, up to the whole room); sets `exhausted` when the input
    /// has ended. The caller makes sure the buffer is unique and has room.
    fn read_more(&mut self) -> Result<(), CaptureError> {
        let end = self.end;
        let got = match Arc::get_mut(&mut self.buf).and_then(|b| b.get_mut(end..)) {
            Some(room) if !room.is_empty() => {
                let room_len = room.len();
                self.input.read(room).map(|n| n.min(room_len))
            }
            // Unreachable: `fill` made room in a buffer of our own.
            _ => {
                return Err(self.corrupt(
                    Damage::ReadFailed,
                    "internal: read buffer full but record incomplete".into(),
                ));
            }
        };
        match got {
            Ok(0) => self.exhausted = true,
            Ok(n) => self.end += n,
            Err(_) => return Err(self.read_error()),
        }
        Ok(())
    }

    /// Moves the unconsumed bytes to the front of a buffer of at least
    /// `capacity` bytes: in place if the current buffer is ours alone and big
    /// enough, else into a fresh one (a spare nobody holds any more, or a new
    /// allocation); a buffer somebody else holds is retired to the spares.
    fn make_room(&mut self, capacity: usize) {
        let capacity = capacity.max(self.buf.len());
        let (start, end) = (self.start, self.end.min(self.buf.len()));
        let have = end.saturating_sub(start);
        if let Some(buf) = Arc::get_mut(&mut self.buf)
            && buf.len() >= capacity
        {
            if start > 0 && start <= end {
                buf.copy_within(start..end, 0);
            }
        } else {
            let mut fresh = self.take_spare(capacity);
            if let (Some(to), Some(from)) = (
                Arc::get_mut(&mut fresh).and_then(|f| f.get_mut(..have)),
                self.buf.get(start..end),
            ) {
                to.copy_from_slice(from);
            }
            let old = std::mem::replace(&mut self.buf, fresh);
            // Kept only if somebody else still holds it (else it is replaced
            // because it is too small) and it is not smaller than the
            // current capacity (it would never be used again).
            if Arc::strong_count(&old) > 1
                && old.len() >= capacity
                && self.spare.len() < CAPTURE_SPARE_BUFFERS
            {
                self.spare.push(old);
            }
        }
        self.start = 0;
        self.end = have;
    }

    /// The first spare buffer nobody else holds any more, or a new one;
    /// at least `capacity` bytes long.
    fn take_spare(&mut self, capacity: usize) -> Arc<Vec<u8>> {
        // Smaller spares are never used again (the capacity only grows).
        self.spare.retain(|b| b.len() >= capacity);
        match self
            .spare
            .iter_mut()
            .position(|b| Arc::get_mut(b).is_some())
        {
            Some(i) => self.spare.remove(i),
            None => Arc::new(vec![0; capacity]),
        }
    }

    fn corrupt(&self, kind: Damage, reason: String) -> CaptureError {
        CaptureError::Corrupt {
            path: self.path.clone(),
            offset: self.offset,
            packet: self.packets,
            kind,
            reason,
        }
    }

    /// The error for a failed read, with the I/O error `FillReader` stashed.
    fn read_error(&self) -> CaptureError {
        let err = self
            .shared
            .last_error
            .lock()
            .ok()
            .and_then(|mut e| e.take());
        // flate2 reports a damaged stream as InvalidInput/InvalidData and a
        // cut one as UnexpectedEof; anything else comes from the file itself.
        let from_gzip = self.gzip
            && err.as_ref().is_some_and(|e| {
                matches!(
                    e.kind(),
                    io::ErrorKind::InvalidInput
                        | io::ErrorKind::InvalidData
                        | io::ErrorKind::UnexpectedEof
                )
            });
        let text = err.map_or_else(|| "unknown error".to_owned(), |e| e.to_string());
        if from_gzip {
            self.corrupt(
                Damage::BadGzip,
                format!("gzip stream damaged or cut short: {text}"),
            )
        } else {
            self.corrupt(Damage::ReadFailed, format!("read failed: {text}"))
        }
    }

    fn truncated(&self, what: &str, need: usize) -> CaptureError {
        let have = self.data().len();
        self.corrupt(
            Damage::TruncatedRecord,
            format!(
                "truncated {what} at end of file: it needs {need} bytes, the file \
                 ends after {have}"
            ),
        )
    }

    /// `caplen` against the hard limit and the snapshot length.
    fn check_caplen(&self, caplen: u32, snaplen: u32) -> Result<(), CaptureError> {
        if caplen > CAPTURE_MAX_CAPLEN {
            return Err(self.corrupt(
                Damage::CaplenLimit,
                format!(
                    "packet captured length {caplen} exceeds the {CAPTURE_MAX_CAPLEN}-byte \
                     limit: the record is damaged"
                ),
            ));
        }
        if snaplen != 0 && caplen > snaplen.saturating_add(CAPTURE_CAPLEN_OVER_SNAPLEN) {
            return Err(self.corrupt(
                Damage::CaplenOverSnaplen,
                format!(
                    "packet captured length {caplen} is far above the snapshot length \
                     {snaplen}: the record is damaged"
                ),
            ));
        }
        Ok(())
    }
}

type FrameParser = fn(&[u8]) -> IResult<&[u8], LegacyPcapBlock<'_>, PcapError<&[u8]>>;

/// Classic pcap (draft-ietf-opsawg-pcap).
struct Legacy {
    /// 16, or 24 for the modified format.
    record_header: usize,
    /// pcap-parser's record parser for this byte order and format.
    parse: FrameParser,
    big_endian: bool,
    nanos: bool,
    linktype: LinkType,
    snaplen: u32,
}

impl Legacy {
    /// Takes the file header (draft-ietf-opsawg-pcap §4) from the buffer:
    ///
    /// ```text
    /// magic(4) major(2) minor(2) reserved1(4) reserved2(4) snaplen(4)
    /// linktype+FCS(4): FCS len(4 bits) | F(1) | reserved(11) | LinkType(16)
    /// ```
    ///
    /// The reserved fields (once `thiszone` and `sigfigs`) are ignored, as
    /// libpcap does: timestamps are taken as UTC.
    fn start(
        io: &mut Stream,
        nanos: bool,
        big_endian: bool,
        modified: bool,
    ) -> Result<Legacy, CaptureError> {
        let data = io.data();
        let parsed = parsed(data, parse_pcap_header(data))
            .map(|(_, h)| (h.size(), h.snaplen, h.network.0))
            .map_err(|e| format!("pcap header: {e}"));
        let (len, snaplen, network) = parsed.map_err(|r| io.corrupt(Damage::BadMagic, r))?;
        io.consume(len);
        Ok(Legacy {
            record_header: if modified { 24 } else { 16 },
            parse: if modified {
                parse_pcap_frame_modified
            } else if big_endian {
                parse_pcap_frame_be
            } else {
                parse_pcap_frame
            },
            big_endian,
            nanos,
            // The upper 16 bits carry FCS information, not the link type.
            linktype: LinkType(network as u32 & 0xFFFF),
            snaplen,
        })
    }

    /// One packet record (draft-ietf-opsawg-pcap §5):
    ///
    /// ```text
    /// ts_sec(4) ts_frac(4: µs or ns) caplen(4) orig_len(4) data(caplen)
    /// ```
    ///
    /// The modified format adds ifindex(4) protocol(2) type(1) pad(1).
    fn advance(&mut self, io: &mut Stream) -> Result<Option<Found>, CaptureError> {
        let hl = self.record_header;
        if !io.fill(hl)? {
            if io.data().is_empty() {
                return Ok(None);
            }
            return Err(io.truncated("packet record header", hl));
        }
        let caplen = u32_at(io.data(), 8, self.big_endian).unwrap_or(u32::MAX);
        io.check_caplen(caplen, self.snaplen)?;
        let need = hl + caplen as usize;
        if !io.fill(need)? {
            return Err(io.truncated("packet record", need));
        }
        let record = io.data().get(..need).unwrap_or_default();
        let parsed = match parsed(record, (self.parse)(record)) {
            Ok((len, b)) if b.caplen == caplen => Ok((len, b.ts_sec, b.ts_usec, b.origlen)),
            Ok(_) => Err("internal: pcap reader disagrees on the record".to_owned()),
            Err(e) => Err(format!("packet record: {e}")),
        };
        let (len, ts_sec, ts_frac, orig_len) =
            parsed.map_err(|r| io.corrupt(Damage::BadBlock, r))?;
        let frac_ns = if self.nanos {
            u64::from(ts_frac)
        } else {
            u64::from(ts_frac) * 1_000
        };
        // At most (2^32-1)·10^9 + (2^32-1)·10^3 < 2^64: cannot overflow.
        let ts_ns = u64::from(ts_sec) * 1_000_000_000 + frac_ns;
        Ok(Some(Found {
            start: hl,
            len: caplen as usize,
            record_len: len,
            ts_ns,
            linktype: self.linktype,
            orig_len,
        }))
    }
}

/// pcapng (draft-ietf-opsawg-pcapng).
struct Ng {
    /// Byte order of the current section.
    big_endian: bool,
    /// Interfaces of the current section, by interface id.
    interfaces: Vec<Interface>,
    /// Bytes still to skip of a block that is not parsed.
    skip: u64,
    /// Time of the last packet with a timestamp, given to Simple Packet
    /// Blocks, which carry none.
    last_ts: u64,
}

#[derive(Clone, Copy, Debug)]
struct Interface {
    linktype: LinkType,
    snaplen: u32,
    resolution: Resolution,
    /// if_tsoffset: seconds added to every timestamp.
    offset_s: i64,
}

/// if_tsresol (draft-ietf-opsawg-pcapng §4.2): bit 7 clear → units of
/// 10^-n s, set → 2^-n s, n in the low 7 bits. Default 10^-6.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Resolution {
    Decimal(u32),
    Binary(u32),
}

impl Resolution {
    fn from_byte(b: u8) -> Resolution {
        if b & 0x80 == 0 {
            Resolution::Decimal(u32::from(b))
        } else {
            Resolution::Binary(u32::from(b & 0x7f))
        }
    }

    /// A timestamp of `ts` units plus `offset_s` seconds, in nanoseconds
    /// since the epoch, rounded down and clamped to `0..=u64::MAX`.
    fn to_ns(self, ts: u64, offset_s: i64) -> u64 {
        const NS: u128 = 1_000_000_000;
        let ts = u128::from(ts);
        // ts < 2^64 and factors ≤ 10^9: products stay below 2^94.
        let ns = match self {
            Resolution::Decimal(n) if n <= 9 => ts * 10u128.pow(9 - n),
            Resolution::Decimal(n) => 10u128.checked_pow(n - 9).map_or(0, |d| ts / d),
            Resolution::Binary(n) => (ts * NS).checked_shr(n).unwrap_or(0),
        };
        let total = ns as i128 + i128::from(offset_s) * NS as i128;
        u64::try_from(total.max(0)).unwrap_or(u64::MAX)
    }
}

impl Ng {
    /// Walks blocks (draft-ietf-opsawg-pcapng §3.1) until a packet:
    ///
    /// ```text
    /// block type(4) | block total length(4) | body | block total length(4)
    /// ```
    ///
    /// Section headers reset the byte order and the interface table;
    /// interface descriptions extend it; blocks other than packets and those
    /// two are skipped unparsed, streaming, whatever their length.
    fn advance(&mut self, io: &mut Stream) -> Result<Option<Found>, CaptureError> {
        loop {
            if self.skip > 0 {
                if io.data().is_empty() && !io.fill(1)? {
                    return Err(io.corrupt(
                        Damage::TruncatedRecord,
                        format!(
                            "truncated block at end of file: {} more bytes expected",
                            self.skip
                        ),
                    ));
                }
                let n = usize::try_from(self.skip)
                    .unwrap_or(usize::MAX)
                    .min(io.data().len());
                io.consume(n);
                self.skip -= n as u64;
                continue;
            }
            // 12 bytes: type, length and, for a section header, its byte-order
            // magic. Every block is at least 12 bytes long.
            if !io.fill(12)? {
                if io.data().is_empty() {
                    return Ok(None);
                }
                return Err(io.truncated("block header", 12));
            }
            let data = io.data();
            let first = u32_at(data, 0, false).unwrap_or(0);
            let be = if first == BT_SHB {
                match u32_at(data, 8, false) {
                    Some(BYTE_ORDER_MAGIC) => false,
                    Some(x) if x == BYTE_ORDER_MAGIC.swap_bytes() => true,
                    other => {
                        return Err(io.corrupt(
                            Damage::BadBlock,
                            format!(
                                "section header has byte-order magic {:08x}, expected \
                                 1a2b3c4d in either byte order",
                                other.unwrap_or(0)
                            ),
                        ));
                    }
                }
            } else {
                self.big_endian
            };
            let block_type = u32_at(data, 0, be).unwrap_or(0);
            let block_len = u32_at(data, 4, be).unwrap_or(0);
            let (name, min_len) = match block_type {
                BT_SHB => ("section header block", 28),
                BT_IDB => ("interface description block", 20),
                BT_EPB => ("enhanced packet block", 32),
                BT_SPB => ("simple packet block", 16),
                BT_PB => ("packet block", 32),
                _ => ("block", 12),
            };
            if block_len < min_len || !block_len.is_multiple_of(4) {
                return Err(io.corrupt(
                    Damage::BadBlock,
                    format!(
                        "{name} (type 0x{block_type:08x}) has length {block_len}: not a \
                         multiple of 4 of at least {min_len}"
                    ),
                ));
            }
            if !matches!(block_type, BT_SHB | BT_IDB | BT_EPB | BT_SPB | BT_PB) {
                self.skip = u64::from(block_len);
                continue;
            }
            let len = block_len as usize;
            if len > CAPTURE_MAX_BLOCK_LEN {
                return Err(io.corrupt(
                    Damage::BlockLenLimit,
                    format!("{name} length {len} exceeds the {CAPTURE_MAX_BLOCK_LEN}-byte limit"),
                ));
            }
            if !io.fill(len)? {
                return Err(io.truncated(name, len));
            }
            let trailer = u32_at(io.data(), len - 4, be).unwrap_or(0);
            if trailer != block_len {
                return Err(io.corrupt(
                    Damage::BadBlock,
                    format!("{name} has leading length {block_len} but trailing length {trailer}"),
                ));
            }
            match block_type {
                BT_SHB => self.section_header(io, len)?,
                BT_IDB => self.interface(io, len)?,
                _ => return self.packet(io, block_type, len, be).map(Some),
            }
        }
    }

    /// Section Header Block (§4.1), parsed by pcap-parser; its byte order
    /// applies to the blocks that follow.
    fn section_header(&mut self, io: &mut Stream, len: usize) -> Result<(), CaptureError> {
        let block = io.data().get(..len).unwrap_or_default();
        let parsed = parsed(block, parse_sectionheaderblock(block))
            .map(|(got, shb)| (got, shb.big_endian(), shb.major_version, shb.minor_version))
            .map_err(|e| format!("section header block: {e}"));
        let (got, big_endian, major, minor) =
            parsed.map_err(|r| io.corrupt(Damage::BadBlock, r))?;
        if major != 1 {
            return Err(io.corrupt(
                Damage::BadBlock,
                format!("pcapng version {major}.{minor} is not supported (only 1.x)"),
            ));
        }
        if got != len {
            return Err(io.corrupt(
                Damage::BadBlock,
                "internal: section header length disagrees".into(),
            ));
        }
        self.big_endian = big_endian;
        self.interfaces.clear();
        io.consume(len);
        Ok(())
    }

    /// Interface Description Block (§4.2):
    ///
    /// ```text
    /// LinkType(2) Reserved(2) SnapLen(4) Options...
    /// ```
    ///
    /// if_tsresol and if_tsoffset are read here in the section's byte order
    /// (pcap-parser 0.17 reads if_tsoffset as little-endian and rejects every
    /// power-of-2 if_tsresol).
    fn interface(&mut self, io: &mut Stream, len: usize) -> Result<(), CaptureError> {
        if self.interfaces.len() >= CAPTURE_MAX_INTERFACES {
            return Err(io.corrupt(
                Damage::InterfaceLimit,
                format!("more than {CAPTURE_MAX_INTERFACES} interfaces in one pcapng section"),
            ));
        }
        let be = self.big_endian;
        let block = io.data().get(..len).unwrap_or_default();
        let result = if be {
            parse_interfacedescriptionblock_be(block)
        } else {
            parse_interfacedescriptionblock_le(block)
        };
        let parsed = match parsed(block, result) {
            Ok((got, idb)) => {
                let mut resolution = None;
                let mut offset_s = None;
                for opt in &idb.options {
                    let value = opt.value().get(..usize::from(opt.len)).unwrap_or_default();
                    if opt.code == OPT_IF_TSRESOL && resolution.is_none() {
                        resolution = value.first().copied().map(Resolution::from_byte);
                    } else if opt.code == OPT_IF_TSOFFSET && offset_s.is_none() {
                        offset_s = <[u8; 8]>::try_from(value).ok().map(|b| {
                            if be {
                                i64::from_be_bytes(b)
                            } else {
                                i64::from_le_bytes(b)
                            }
                        });
                    }
                }
                let iface = Interface {
                    linktype: LinkType(u32::from(idb.linktype.0 as u16)),
                    snaplen: idb.snaplen,
                    resolution: resolution.unwrap_or(Resolution::Decimal(6)),
                    offset_s: offset_s.unwrap_or(0),
                };
                Ok((got, iface))
            }
            Err(e) => Err(format!("interface description block: {e}")),
        };
        let (got, iface) = parsed.map_err(|r| io.corrupt(Damage::BadBlock, r))?;
        if got != len {
            return Err(io.corrupt(
                Damage::BadBlock,
                "internal: interface description length disagrees".into(),
            ));
        }
        self.interfaces.push(iface);
        io.consume(len);
        Ok(())
    }

    /// A packet block, whole in the buffer with its lengths checked:
    ///
    /// ```text
    /// EPB (§4.3):  if_id(4) ts_high(4) ts_low(4) caplen(4) orig_len(4) data options
    /// PB (App. A): if_id(2) drops(2) ts_high(4) ts_low(4) caplen(4) orig_len(4) data options
    /// SPB (§4.4):  orig_len(4) data — caplen = min(orig_len, snaplen of interface 0)
    /// ```
    ///
    /// Data is padded to 32 bits: only `caplen` bytes are handed out.
    fn packet(
        &mut self,
        io: &mut Stream,
        block_type: u32,
        len: usize,
        be: bool,
    ) -> Result<Found, CaptureError> {
        let data = io.data();
        let field = |at| u32_at(data, at, be).unwrap_or(0);
        // Room for packet data: the block minus its fixed fields and trailer.
        let (if_id, caplen, orig_len, start, room) = if block_type == BT_SPB {
            let orig_len = field(8);
            let room = len - 16;
            let snaplen = self.interfaces.first().map_or(0, |i| i.snaplen);
            let caplen = if snaplen == 0 {
                orig_len
            } else {
                orig_len.min(snaplen)
            };
            (0, caplen, orig_len, 12, room)
        } else {
            let if_id = if block_type == BT_PB {
                u32::from(u16_at(data, 8, be).unwrap_or(0))
            } else {
                field(8)
            };
            (if_id, field(20), field(24), 28, len - 32)
        };
        let Some(iface) = usize::try_from(if_id)
            .ok()
            .and_then(|i| self.interfaces.get(i))
            .copied()
        else {
            return Err(io.corrupt(
                Damage::UnknownInterface,
                format!(
                    "packet refers to interface {if_id}, but this section describes {}",
                    self.interfaces.len()
                ),
            ));
        };
        io.check_caplen(caplen, iface.snaplen)?;
        if caplen as usize > room {
            return Err(io.corrupt(
                Damage::BadBlock,
                format!("captured length {caplen} does not fit in the {len}-byte packet block"),
            ));
        }
        let ts_ns = if block_type == BT_SPB {
            self.last_ts
        } else {
            let ts = (u64::from(field(12)) << 32) | u64::from(field(16));
            iface.resolution.to_ns(ts, iface.offset_s)
        };
        self.last_ts = ts_ns;
        Ok(Found {
            start,
            len: caplen as usize,
            record_len: len,
            ts_ns,
            linktype: iface.linktype,
            orig_len,
        })
    }
}

/// A u32 at `at`, in the given byte order; `None` past the end.
fn u32_at(b: &[u8], at: usize, be: bool) -> Option<u32> {
    let bytes: [u8; 4] = b.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(if be {
        u32::from_be_bytes(bytes)
    } else {
        u32::from_le_bytes(bytes)
    })
}

fn u16_at(b: &[u8], at: usize, be: bool) -> Option<u16> {
    let bytes: [u8; 2] = b.get(at..at.checked_add(2)?)?.try_into().ok()?;
    Some(if be {
        u16::from_be_bytes(bytes)
    } else {
        u16::from_le_bytes(bytes)
    })
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn read_prefix(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while let Some(rest) = buf.get_mut(filled..) {
        if rest.is_empty() {
            break;
        }
        match r.read(rest) {
            Ok(0) => break,
            Ok(n) => filled += n.min(rest.len()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// State shared between the reader chain and the `FileSource`: bytes read
/// from the file (for progress), and the last I/O error with its text, kept
/// for the error report.
#[derive(Default)]
struct Shared {
    raw_bytes: AtomicU64,
    last_error: Mutex<Option<io::Error>>,
}

/// Counts the bytes read from the underlying file.
struct Counting<R> {
    inner: R,
    shared: Arc<Shared>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.shared.raw_bytes.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Fills the whole slice on each read unless the input ends, so each read
/// brings about a buffer's worth even from a gzip decoder or a pipe, which
/// return short reads. An error after some bytes is held back until those
/// bytes have been handed out, so every good packet before the damage is
/// delivered first.
struct FillReader<R> {
    inner: R,
    shared: Arc<Shared>,
    pending: Option<io::Error>,
}

impl<R: Read> FillReader<R> {
    fn fail(&mut self, e: io::Error) -> io::Error {
        let kind = e.kind();
        if let Ok(mut slot) = self.shared.last_error.lock() {
            *slot = Some(e);
        }
        io::Error::from(kind)
    }
}

impl<R: Read> Read for FillReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(e) = self.pending.take() {
            return Err(self.fail(e));
        }
        let mut filled = 0;
        while let Some(rest) = buf.get_mut(filled..) {
            if rest.is_empty() {
                break;
            }
            match self.inner.read(rest) {
                Ok(0) => break,
                Ok(n) => filled += n.min(rest.len()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if filled == 0 => return Err(self.fail(e)),
                Err(e) => {
                    self.pending = Some(e);
                    break;
                }
            }
        }
        Ok(filled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolution_decimal_and_binary() {
        // µs (default): 1 unit = 1000 ns.
        assert_eq!(Resolution::Decimal(6).to_ns(1_500_000, 0), 1_500_000_000);
        // ns: identity.
        assert_eq!(Resolution::Decimal(9).to_ns(123, 0), 123);
        // 10^-12 s (ps): rounded down to ns.
        assert_eq!(Resolution::Decimal(12).to_ns(1_999, 0), 1);
        // 2^-10 s: 1024 units = 1 s; 1 unit = 976562.5 ns, rounded down.
        assert_eq!(Resolution::Binary(10).to_ns(1024, 0), 1_000_000_000);
        assert_eq!(Resolution::Binary(10).to_ns(1, 0), 976_562);
        // 2^-0: seconds.
        assert_eq!(Resolution::Binary(0).to_ns(2, 0), 2_000_000_000);
        // 10^0: seconds.
        assert_eq!(Resolution::Decimal(0).to_ns(3, 0), 3_000_000_000);
    }

    #[test]
    fn resolution_from_byte() {
        assert_eq!(Resolution::from_byte(6), Resolution::Decimal(6));
        assert_eq!(Resolution::from_byte(9), Resolution::Decimal(9));
        assert_eq!(Resolution::from_byte(0x80 | 20), Resolution::Binary(20));
    }

    #[test]
    fn resolution_offsets_and_extremes_saturate() {
        // if_tsoffset adds whole seconds.
        assert_eq!(Resolution::Decimal(6).to_ns(1, 10), 10_000_001_000);
        // A negative offset below the epoch clamps to 0.
        assert_eq!(Resolution::Decimal(6).to_ns(5, -1), 0);
        // Seconds resolution with a 64-bit count overflows u64 ns: clamps.
        assert_eq!(Resolution::Decimal(0).to_ns(u64::MAX, 0), u64::MAX);
        // Absurd exponents do not panic: 10^-127 and 2^-127 round to 0.
        assert_eq!(Resolution::Decimal(127).to_ns(u64::MAX, 0), 0);
        assert_eq!(Resolution::Binary(127).to_ns(u64::MAX, 0), 0);
        assert_eq!(Resolution::Decimal(6).to_ns(u64::MAX, i64::MAX), u64::MAX);
    }

    #[test]
    fn fields_out_of_range_are_none() {
        let b = [0x01, 0x02, 0x03, 0x04, 0x05];
        assert_eq!(u32_at(&b, 0, false), Some(0x0403_0201));
        assert_eq!(u32_at(&b, 1, true), Some(0x0203_0405));
        assert_eq!(u32_at(&b, 2, false), None);
        assert_eq!(u32_at(&b, usize::MAX, false), None);
        assert_eq!(u16_at(&b, 3, true), Some(0x0405));
        assert_eq!(u16_at(&b, 4, true), None);
    }

    #[test]
    fn classify_by_magic() {
        let mut h = [0u8; 24];
        h[..4].copy_from_slice(&PCAP_NS_BE);
        assert_eq!(
            classify(&h, false, 4096).map(|(f, _)| f),
            Ok(Format::Pcap {
                nanos: true,
                big_endian: true,
                modified: false
            })
        );
        // Truncated pcap header: 23 of 24 bytes.
        assert_eq!(
            classify(&h[..23], false, 4096).map_err(|e| e.0),
            Err(Damage::TruncatedHeader)
        );
        assert_eq!(
            classify(&[], false, 4096).map_err(|e| e.0),
            Err(Damage::EmptyFile)
        );
        assert_eq!(
            classify(&[0xd4, 0xc3], false, 4096).map_err(|e| e.0),
            Err(Damage::TruncatedHeader)
        );
        // zstd magic: named in the reason.
        let err = classify(&[0x28, 0xb5, 0x2f, 0xfd, 0, 0], false, 4096).unwrap_err();
        assert_eq!(err.0, Damage::BadMagic);
        assert!(
            err.1.contains("28 b5 2f fd") && err.1.contains("zstd"),
            "{}",
            err.1
        );
    }

    #[test]
    fn classify_pcapng_grows_buffer_to_first_block() {
        // SHB, little-endian, length 64 (> buffer 32).
        let mut h = [0u8; 28];
        h[..4].copy_from_slice(&PCAPNG_SHB);
        h[4..8].copy_from_slice(&64u32.to_le_bytes());
        h[8..12].copy_from_slice(&BYTE_ORDER_MAGIC.to_le_bytes());
        assert_eq!(classify(&h, false, 32), Ok((Format::PcapNg, 64)));
        // Big-endian BOM with a big-endian length.
        h[4..8].copy_from_slice(&28u32.to_be_bytes());
        h[8..12].copy_from_slice(&BYTE_ORDER_MAGIC.to_be_bytes());
        assert_eq!(classify(&h, false, 4096), Ok((Format::PcapNg, 4096)));
        // Broken BOM.
        h[8..12].copy_from_slice(&[1, 2, 3, 4]);
        assert_eq!(
            classify(&h, false, 4096).map_err(|e| e.0),
            Err(Damage::BadBlock)
        );
    }

    /// A reader that hands out one byte at a time, then fails.
    struct Dribble(Vec<u8>, usize);
    impl Read for Dribble {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match (self.0.get(self.1), buf.first_mut()) {
                (Some(b), Some(slot)) => {
                    *slot = *b;
                    self.1 += 1;
                    Ok(1)
                }
                _ => Err(io::Error::other("disk on fire")),
            }
        }
    }

    #[test]
    fn fill_reader_fills_then_reports_error_after_data() {
        let shared = Arc::new(Shared::default());
        let mut r = FillReader {
            inner: Dribble(vec![1, 2, 3], 0),
            shared: Arc::clone(&shared),
            pending: None,
        };
        let mut buf = [0u8; 8];
        // The three good bytes first, in one read.
        assert_eq!(r.read(&mut buf).unwrap(), 3);
        assert_eq!(&buf[..3], &[1, 2, 3]);
        // Then the error, with its text kept for the report.
        assert!(r.read(&mut buf).is_err());
        let kept = shared.last_error.lock().unwrap().take().unwrap();
        assert_eq!(kept.to_string(), "disk on fire");
    }

    /// A little-endian µs pcap of `n` Ethernet packets of 1000 bytes.
    fn pcap_of(n: u32) -> Vec<u8> {
        let mut f = Vec::new();
        f.extend_from_slice(&PCAP_US_LE);
        f.extend_from_slice(&[2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        f.extend_from_slice(&65535u32.to_le_bytes());
        f.extend_from_slice(&1u32.to_le_bytes());
        for i in 0..n {
            for x in [i, 0, 1000, 1000] {
                f.extend_from_slice(&x.to_le_bytes());
            }
            f.extend((0..1000u32).map(|j| (i ^ j) as u8));
        }
        f
    }

    #[test]
    fn held_buffers_are_retired_to_a_bounded_pool_then_reused() {
        let f = pcap_of(20_000); // ~20 MB: ~80 buffers of 256 KiB
        let mut src = FileSource::from_reader("gen", Cursor::new(f)).unwrap();
        // Hold every buffer of the first half.
        let mut held: Vec<Arc<Vec<u8>>> = Vec::new();
        for _ in 0..10_000 {
            let at = src.next_located().unwrap().unwrap();
            assert_eq!(at.len, 1000);
            if !held.last().is_some_and(|b| Arc::ptr_eq(b, src.buffer())) {
                held.push(Arc::clone(src.buffer()));
            }
        }
        assert!(held.len() > CAPTURE_SPARE_BUFFERS, "{}", held.len());
        assert_eq!(src.io.spare.len(), CAPTURE_SPARE_BUFFERS);
        // The workers let go: from now on the pool's buffers (and the
        // current one) are the only ones used, none is allocated.
        let known: Vec<usize> = src
            .io
            .spare
            .iter()
            .chain([src.buffer()])
            .map(|b| Arc::as_ptr(b) as usize)
            .collect();
        held.clear();
        let mut last = Arc::as_ptr(src.buffer()) as usize;
        let mut switches = 0;
        let mut keep = None;
        while let Some(at) = src.next_located().unwrap() {
            assert_eq!(at.len, 1000);
            let now = Arc::as_ptr(src.buffer()) as usize;
            if now != last {
                switches += 1;
                assert!(known.contains(&now), "a new buffer was allocated");
                last = now;
            }
            // Hold the current buffer, as a worker would, so the source
            // keeps switching.
            keep = Some(Arc::clone(src.buffer()));
        }
        drop(keep);
        assert!(switches > 30, "{switches}");
        assert_eq!(src.packets_read(), 20_000);
    }

    #[test]
    fn unshared_buffer_is_compacted_in_place() {
        let f = pcap_of(2_000);
        let mut src = FileSource::from_reader_with_buffer("gen", Cursor::new(f), 4096).unwrap();
        let first = Arc::as_ptr(src.buffer());
        let mut n = 0;
        while let Some(p) = src.next_packet().unwrap() {
            assert_eq!(p.data.len(), 1000);
            n += 1;
        }
        assert_eq!(n, 2_000);
        assert_eq!(Arc::as_ptr(src.buffer()), first);
        assert!(src.io.spare.is_empty());
    }
}
