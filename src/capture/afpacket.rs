//! Live capture on Linux with AF_PACKET and TPACKET_V3 memory-mapped rings,
//! plus what every live backend shares: [`LiveSource`], [`LiveNext`],
//! [`LiveStats`], [`LiveError`] and [`drop_privileges`].
//!
//! # How a live source is driven
//!
//! A live interface has no end, so [`Source::next_packet`]'s `Ok(None)`
//! ("end of input") cannot also mean "nothing yet". Live sources therefore
//! offer [`LiveSource::next_live`], which waits at most the configured poll
//! timeout ([`LIVE_POLL_TIMEOUT_MS`] by default) and returns
//! [`LiveNext::Idle`] when nothing arrived, so a worker can look at its
//! shutdown flag and due status lines between packets. They also implement
//! [`Source`] for code that only knows files: there `next_packet` blocks
//! until a packet arrives, and returns `Ok(None)` once the stop flag given
//! to `set_stop_flag` is set — for a live source, shutdown *is* the end of
//! input.
//!
//! # Multi-worker capture (PACKET_FANOUT)
//!
//! One socket, one ring, one worker: [`AfPacketSource::open_group`] opens N
//! sockets on one interface in one fanout group in hash mode, so the kernel
//! spreads flows over them by a symmetric flow hash (both directions of a
//! flow reach the same socket) with IP fragments reassembled first
//! (`PACKET_FANOUT_FLAG_DEFRAG`) so that every fragment follows its flow.
//! There is no dispatch queue in between. The group id is picked by the
//! kernel (`PACKET_FANOUT_FLAG_UNIQUEID`), so two sensors on one host never
//! join each other's groups. One worker gets a group of one, so what the
//! workers see does not depend on how many there are: in a group, IPv4
//! fragments arrive as one reassembled datagram. (IPv6 fragments are not
//! reassembled by the kernel; non-first fragments hash on addresses only
//! and may reach another worker than the first fragment.)
//!
//! # What the frames look like
//!
//! Frames are byte-identical to the wire as seen by the interface, as in a
//! tcpdump capture: a VLAN tag the kernel took out (802.1Q or 802.1ad,
//! reported in the frame header) is put back into the frame, and on
//! loopback, where the kernel passes each frame twice (leaving and
//! arriving), only the arrival is kept. Elsewhere, frames the sensor host
//! itself sends on the interface are captured too.
//!
//! # Privileges
//!
//! Opening a packet socket needs `CAP_NET_RAW` (promiscuous mode through
//! `PACKET_ADD_MEMBERSHIP` and fanout need nothing more). Either run as
//! root and call [`drop_privileges`] once every socket is open (it cannot be
//! undone, and the open sockets keep working), or never be root: grant the
//! binary the capability (`setcap cap_net_raw=eip phonehome`, or systemd's
//! `AmbientCapabilities=CAP_NET_RAW` with `CapabilityBoundingSet=CAP_NET_RAW`
//! for an unprivileged `User=`).
//!
//! # Ring protocol (Documentation/networking/packet_mmap.rst, TPACKET_V3)
//!
//! ```text
//! ring = block 0 | block 1 | ... | block N-1      (each block_size bytes)
//! block:  tpacket_block_desc (48 bytes)
//!           +0  version u32   +4 offset_to_priv u32
//!           +8  block_status u32   (TP_STATUS_KERNEL=0 / TP_STATUS_USER=1)
//!           +12 num_pkts u32  +16 offset_to_first_pkt u32  +20 blk_len u32
//!         frame at offset_to_first_pkt: tpacket3_hdr (48 bytes)
//!           +0  tp_next_offset u32 (0 in the last frame)
//!           +4  tp_sec u32  +8 tp_nsec u32  +12 tp_snaplen u32  +16 tp_len u32
//!           +20 tp_status u32  +24 tp_mac u16  +26 tp_net u16
//!           +28 tp_rxhash u32  +32 tp_vlan_tci u32  +36 tp_vlan_tpid u16
//!         frame bytes at frame offset + tp_mac, tp_snaplen of them
//! ```
//!
//! The kernel fills blocks in order and sets `block_status` to
//! `TP_STATUS_USER` when a block is full or its retire timeout expires; from
//! then on it does not touch the block until user space stores
//! `TP_STATUS_KERNEL` back. The reader walks the blocks in the same order.
//! Every offset and length read from the ring is checked against the block
//! before use (a damaged block is skipped and counted as `ring_damaged`).
//!
//! This is the only module of the crate allowed `unsafe` (FFI: socket
//! options, mmap, poll, ioctl, the user database and set*id).
#![allow(unsafe_code)] // the FFI edge for live capture; every block has a SAFETY comment.

use std::fmt;
use std::io;

use super::{CaptureError, LinkType, Progress, RawPacket, Source};
use crate::config::limits::{
    AFPACKET_BLOCK_COUNT, AFPACKET_BLOCK_SIZE, AFPACKET_FRAME_SIZE, AFPACKET_MAX_RING_BYTES,
    AFPACKET_RETIRE_TIMEOUT_MS, LIVE_DEFAULT_SNAPLEN, LIVE_POLL_TIMEOUT_MS, PASSWD_BUF_MAX,
};

/// What a live source's [`LiveSource::next_live`] returns.
#[derive(Clone, Copy, Debug)]
pub enum LiveNext<'a> {
    /// A frame, borrowed from the source until the next call.
    Packet(RawPacket<'a>),
    /// The poll timeout passed with no frame: check shutdown flags, print a
    /// status line, then call again.
    Idle,
}

/// Counters of one live source, cumulative since it was opened.
///
/// Invariant (both backends): once everything captured has been read,
/// `received == delivered + kernel_drops`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LiveStats {
    /// Frames the kernel accepted for this socket after filtering, including
    /// the ones it then had to drop (AF_PACKET `tp_packets`, pcap
    /// `ps_recv`).
    pub received: u64,
    /// Frames dropped because the ring or buffer was full (`tp_drops`,
    /// pcap `ps_drop`).
    pub kernel_drops: u64,
    /// Frames dropped by the interface or driver (pcap `ps_ifdrop`; 0 for
    /// AF_PACKET, which cannot see them).
    pub interface_drops: u64,
    /// Times the ring was found full and frozen (`tp_freeze_q_cnt`).
    pub ring_full: u64,
    /// Frames returned to the caller.
    pub delivered: u64,
    /// Bytes of frame data returned to the caller.
    pub delivered_bytes: u64,
    /// Delivered frames cut short by the snaplen (`data.len() < orig_len`).
    pub truncated: u64,
    /// Ring blocks or frame headers that failed their bounds checks
    /// (skipped; never expected from a correct kernel).
    pub ring_damaged: u64,
    /// Times the interface went down under the socket (`ENETDOWN`); capture
    /// resumes when it comes back up.
    pub link_down: u64,
}

/// A live capture failed to open or to read.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// No interface of that name in this network namespace.
    #[error("interface {iface} not found (list interfaces with `ip link`)")]
    InterfaceNotFound { iface: String },
    /// The process lacks CAP_NET_RAW.
    #[error(
        "capturing on {iface} needs CAP_NET_RAW: run as root, or `setcap cap_net_raw,cap_net_admin=eip {exe}`"
    )]
    PermissionDenied { iface: String, exe: String },
    /// The interface's hardware type has no link type this backend knows.
    #[error(
        "interface {iface} has hardware type ARPHRD {arphrd}, which the af_packet backend does not decode: use --backend pcap"
    )]
    UnsupportedLinkType { iface: String, arphrd: u16 },
    /// A configuration value is out of range.
    #[error("{iface}: bad capture setting: {reason}")]
    Config { iface: String, reason: String },
    /// A system call failed while setting up or reading the capture.
    #[error("{iface}: {step} failed: {source}")]
    Io {
        iface: String,
        step: &'static str,
        source: io::Error,
    },
    /// The capture library reported an error (pcap backend).
    #[error("{iface}: libpcap: {message}")]
    Backend { iface: String, message: String },
    /// `drop_privileges` could not find or switch to the user.
    #[error("cannot drop privileges to user {user}: {reason}")]
    Privileges { user: String, reason: String },
}

impl LiveError {
    /// Stable snake_case label for counters and logs.
    pub fn label(&self) -> &'static str {
        match self {
            LiveError::InterfaceNotFound { .. } => "interface_not_found",
            LiveError::PermissionDenied { .. } => "permission_denied",
            LiveError::UnsupportedLinkType { .. } => "unsupported_link_type",
            LiveError::Config { .. } => "bad_config",
            LiveError::Io { .. } => "io_error",
            LiveError::Backend { .. } => "backend_error",
            LiveError::Privileges { .. } => "privilege_drop_failed",
        }
    }

    /// The interface the error is about (empty for privilege errors).
    pub fn interface(&self) -> &str {
        match self {
            LiveError::InterfaceNotFound { iface }
            | LiveError::PermissionDenied { iface, .. }
            | LiveError::UnsupportedLinkType { iface, .. }
            | LiveError::Config { iface, .. }
            | LiveError::Io { iface, .. }
            | LiveError::Backend { iface, .. } => iface,
            LiveError::Privileges { .. } => "",
        }
    }

    pub(crate) fn permission(iface: &str) -> LiveError {
        let exe = std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| "/path/to/phonehome".to_owned());
        LiveError::PermissionDenied {
            iface: iface.to_owned(),
            exe,
        }
    }
}

/// For code that drives a live source through [`Source`]: the interface
/// name stands where a file path would be; the label is `open_failed`.
impl From<LiveError> for CaptureError {
    fn from(e: LiveError) -> CaptureError {
        CaptureError::Open {
            path: e.interface().into(),
            source: io::Error::other(e),
        }
    }
}

/// A live capture: a [`Source`] that can also report "nothing yet" and
/// kernel counters.
pub trait LiveSource: Source + Send {
    /// The next frame, or [`LiveNext::Idle`] after the poll timeout. Errors
    /// are fatal for this source (the socket is unusable).
    fn next_live(&mut self) -> Result<LiveNext<'_>, LiveError>;

    /// Cumulative counters. Reading the kernel's counters resets them, so
    /// only this call should read them; it accumulates.
    fn stats(&mut self) -> LiveStats;

    /// The interface name this source captures on.
    fn interface(&self) -> &str;

    /// Link type of the frames.
    fn linktype(&self) -> LinkType;
}

/// Which fanout group an [`AfPacketSource`] joins.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Fanout {
    /// No group: this socket sees every frame of the interface.
    #[default]
    None,
    /// Create a new group with a kernel-chosen unused id (read it back with
    /// [`AfPacketSource::fanout_group`] and pass it to the others).
    NewGroup,
    /// Join an existing group by id (same interface, same settings).
    Join(u16),
}

/// Settings of an AF_PACKET capture. `Default` gives the documented
/// defaults from `config::limits`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AfPacketConfig {
    /// Put the interface in promiscuous mode while the socket is open.
    pub promisc: bool,
    /// Bytes kept of each frame (`orig_len` keeps the full length).
    pub snaplen: u32,
    /// Ring block size in bytes: a multiple of the page size, power of two.
    pub block_size: u32,
    /// Ring blocks.
    pub block_count: u32,
    /// Block retire timeout in ms (at least 1).
    pub retire_timeout_ms: u32,
    /// Longest wait in `next_live` before `Idle`, in ms.
    pub poll_timeout_ms: u32,
    /// Fanout group membership.
    pub fanout: Fanout,
}

impl Default for AfPacketConfig {
    fn default() -> Self {
        AfPacketConfig {
            promisc: true,
            snaplen: LIVE_DEFAULT_SNAPLEN,
            block_size: AFPACKET_BLOCK_SIZE,
            block_count: AFPACKET_BLOCK_COUNT,
            retire_timeout_ms: AFPACKET_RETIRE_TIMEOUT_MS,
            poll_timeout_ms: LIVE_POLL_TIMEOUT_MS,
            fanout: Fanout::None,
        }
    }
}

impl AfPacketConfig {
    /// Checks the ring geometry the kernel would otherwise reject with a
    /// bare `EINVAL`; `page` is the page size.
    pub fn validate(&self, iface: &str, page: u32) -> Result<(), LiveError> {
        let bad = |reason: String| LiveError::Config {
            iface: iface.to_owned(),
            reason,
        };
        if page == 0 || self.block_size == 0 || !self.block_size.is_multiple_of(page) {
            return Err(bad(format!(
                "ring block size {} is not a multiple of the page size {page}",
                self.block_size
            )));
        }
        if !self.block_size.is_power_of_two() {
            return Err(bad(format!(
                "ring block size {} is not a power of two",
                self.block_size
            )));
        }
        // The kernel allocates each block as 2^n pages: other sizes would
        // pin memory the ring never uses.
        if self.block_size < AFPACKET_FRAME_SIZE {
            return Err(bad(format!(
                "ring block size {} is below the frame size {AFPACKET_FRAME_SIZE}",
                self.block_size
            )));
        }
        if self.block_count == 0 {
            return Err(bad("ring block count is 0".to_owned()));
        }
        let ring = u64::from(self.block_size) * u64::from(self.block_count);
        if ring > AFPACKET_MAX_RING_BYTES {
            return Err(bad(format!(
                "ring_too_large: {} blocks of {} bytes is {ring} bytes, over AFPACKET_MAX_RING_BYTES ({AFPACKET_MAX_RING_BYTES})",
                self.block_count, self.block_size
            )));
        }
        if self.retire_timeout_ms == 0 {
            return Err(bad("ring retire timeout must be at least 1 ms".to_owned()));
        }
        if self.snaplen == 0 {
            return Err(bad("snaplen must be at least 1".to_owned()));
        }
        if i32::try_from(self.poll_timeout_ms).is_err() {
            return Err(bad("poll timeout too large".to_owned()));
        }
        Ok(())
    }
}

/// `ARPHRD_LOOPBACK` (`include/uapi/linux/if_arp.h`).
const ARPHRD_LOOPBACK: u16 = 772;

/// Link type of the frames an AF_PACKET `SOCK_RAW` socket delivers for an
/// interface of hardware type `arphrd` (`include/uapi/linux/if_arp.h`), or
/// `None` for types whose link header this crate cannot decode.
///
/// Ethernet and loopback (which carries a zeroed Ethernet header) give
/// Ethernet frames. Devices without a link header (tun `ARPHRD_NONE`,
/// `ARPHRD_RAWIP`, IP-in-IP and SIT tunnels) give bare IP packets.
pub fn linktype_for_arphrd(arphrd: u16) -> Option<LinkType> {
    const ARPHRD_ETHER: u16 = 1;
    const ARPHRD_IEEE802: u16 = 6;
    const ARPHRD_RAWIP: u16 = 519;
    const ARPHRD_TUNNEL: u16 = 768;
    const ARPHRD_TUNNEL6: u16 = 769;
    const ARPHRD_SIT: u16 = 776;
    const ARPHRD_NONE: u16 = 0xfffe;
    match arphrd {
        ARPHRD_ETHER | ARPHRD_IEEE802 | ARPHRD_LOOPBACK => Some(LinkType::ETHERNET),
        ARPHRD_NONE | ARPHRD_RAWIP | ARPHRD_TUNNEL | ARPHRD_TUNNEL6 | ARPHRD_SIT => {
            Some(LinkType::RAW)
        }
        _ => None,
    }
}

// ---------------------------------------------------------------------------
// Ring parsing: pure functions over the bytes of one block, no unsafe.

/// `block_status` bit: the block belongs to user space.
const TP_STATUS_USER: u32 = 1;
/// `tp_status` bit: `tp_vlan_tci` holds a VLAN tag the kernel took out of
/// the frame.
const TP_STATUS_VLAN_VALID: u32 = 1 << 4;
/// `tp_status` bit: `tp_vlan_tpid` holds that tag's TPID.
const TP_STATUS_VLAN_TPID_VALID: u32 = 1 << 6;
/// Size of `struct tpacket_block_desc`.
const BLOCK_DESC_LEN: usize = 48;
/// Offset of `block_status` in `struct tpacket_block_desc`.
const BLOCK_STATUS_OFFSET: usize = 8;
/// Size of `struct tpacket3_hdr`.
const FRAME_HDR_LEN: usize = 48;
/// IEEE 802.1Q TPID, used when the kernel gives no TPID.
const ETH_P_8021Q: u16 = 0x8100;

fn ne_u32(b: &[u8], at: usize) -> Option<u32> {
    let bytes = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_ne_bytes(bytes.try_into().ok()?))
}

fn ne_u16(b: &[u8], at: usize) -> Option<u16> {
    let bytes = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_ne_bytes(bytes.try_into().ok()?))
}

/// The fields of a `tpacket_block_desc` the reader needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct BlockHeader {
    num_pkts: u32,
    offset_to_first_pkt: u32,
}

/// Reads a block descriptor. `None` if the block is shorter than one or the
/// first frame offset points outside the block while frames are announced.
fn parse_block_header(block: &[u8]) -> Option<BlockHeader> {
    if block.len() < BLOCK_DESC_LEN {
        return None;
    }
    let num_pkts = ne_u32(block, 12)?;
    let offset_to_first_pkt = ne_u32(block, 16)?;
    if num_pkts > 0 {
        let first = usize::try_from(offset_to_first_pkt).ok()?;
        if first < BLOCK_DESC_LEN || first.checked_add(FRAME_HDR_LEN)? > block.len() {
            return None;
        }
    }
    Some(BlockHeader {
        num_pkts,
        offset_to_first_pkt,
    })
}

/// One frame header, with the frame's bytes located inside the block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FrameHeader {
    /// Offset of the next frame from this one (0: last frame).
    next_offset: u32,
    ts_ns: u64,
    /// Frame bytes: `block[data_start..data_start + snaplen]`.
    data_start: usize,
    snaplen: usize,
    /// Length on the wire.
    len: u32,
    /// VLAN tag (TPID, TCI) the kernel removed from the frame, if any.
    vlan: Option<(u16, u16)>,
}

/// Reads the `tpacket3_hdr` at `off` and checks that the frame it describes
/// lies inside the block. `None` on any inconsistency.
fn parse_frame_header(block: &[u8], off: usize) -> Option<FrameHeader> {
    let hdr = block.get(off..off.checked_add(FRAME_HDR_LEN)?)?;
    let next_offset = ne_u32(hdr, 0)?;
    let sec = ne_u32(hdr, 4)?;
    let nsec = ne_u32(hdr, 8)?;
    let snaplen = usize::try_from(ne_u32(hdr, 12)?).ok()?;
    let len = ne_u32(hdr, 16)?;
    let status = ne_u32(hdr, 20)?;
    let mac = usize::from(ne_u16(hdr, 24)?);
    let tci = ne_u32(hdr, 32)?;
    let tpid = ne_u16(hdr, 36)?;
    let data_start = off.checked_add(mac)?;
    if mac < FRAME_HDR_LEN || data_start.checked_add(snaplen)? > block.len() {
        return None;
    }
    if next_offset != 0 {
        // The next header must start after this frame's data and fit.
        let next = off.checked_add(usize::try_from(next_offset).ok()?)?;
        if next < data_start.checked_add(snaplen)? || next.checked_add(FRAME_HDR_LEN)? > block.len()
        {
            return None;
        }
    }
    let vlan = if status & TP_STATUS_VLAN_VALID != 0 {
        let tpid = if status & TP_STATUS_VLAN_TPID_VALID != 0 && tpid != 0 {
            tpid
        } else {
            ETH_P_8021Q
        };
        // The TCI is 16 bits on the wire; the kernel's field is wider.
        Some((tpid, (tci & 0xffff) as u16))
    } else {
        None
    };
    Some(FrameHeader {
        next_offset,
        ts_ns: u64::from(sec) * 1_000_000_000 + u64::from(nsec),
        data_start,
        snaplen,
        len,
        vlan,
    })
}

/// Writes `frame` into `out` with the 802.1Q tag `(tpid, tci)` put back
/// after the two MAC addresses (IEEE 802.1Q §9.3), as it was on the wire.
/// Frames shorter than two MAC addresses are copied unchanged. `out` is
/// cleared first; it allocates only if `out` is too small.
fn reinsert_vlan(frame: &[u8], tpid: u16, tci: u16, out: &mut Vec<u8>) -> bool {
    out.clear();
    let (Some(macs), Some(rest)) = (frame.get(..12), frame.get(12..)) else {
        out.extend_from_slice(frame);
        return false;
    };
    out.extend_from_slice(macs);
    out.extend_from_slice(&tpid.to_be_bytes());
    out.extend_from_slice(&tci.to_be_bytes());
    out.extend_from_slice(rest);
    true
}

// ---------------------------------------------------------------------------
// The socket (Linux only).

#[cfg(target_os = "linux")]
pub use linux::{AfPacketSource, interface_index, new_fanout_group, set_fanout_hash};

#[cfg(target_os = "linux")]
mod linux {
    use std::ffi::CString;
    use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
    use std::ptr::NonNull;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

    use super::*;

    /// `ETH_P_ALL` in network byte order, as `bind` wants it.
    fn eth_p_all_be() -> u16 {
        (libc::ETH_P_ALL as u16).to_be()
    }

    /// The index of interface `name`, `None` if it does not exist (or the
    /// name is not a valid interface name).
    pub fn interface_index(name: &str) -> Option<u32> {
        if name.is_empty() || name.len() >= libc::IFNAMSIZ {
            return None;
        }
        let c = CString::new(name).ok()?;
        // SAFETY: `c` is a valid NUL-terminated string that outlives the call.
        let idx = unsafe { libc::if_nametoindex(c.as_ptr()) };
        (idx != 0).then_some(idx)
    }

    fn setsockopt<T>(fd: RawFd, level: i32, name: i32, value: &T) -> io::Result<()> {
        let len = libc::socklen_t::try_from(std::mem::size_of::<T>())
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        // SAFETY: `value` points to a live `T` of `len` bytes; the kernel only
        // reads it. An invalid fd yields EBADF, not UB.
        let rc = unsafe { libc::setsockopt(fd, level, name, (value as *const T).cast(), len) };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// Joins the socket `fd` (already bound to an interface) to fanout group
    /// `group` in hash mode with defragmentation. Used by both backends.
    pub fn set_fanout_hash(fd: BorrowedFd<'_>, group: u16) -> io::Result<()> {
        join_fanout(fd.as_raw_fd(), group, 0)
    }

    /// Puts the socket `fd` (already bound to an interface) into a new
    /// fanout group in hash mode with defragmentation, with an id the kernel
    /// picks among unused ones, and returns that id for the others to join.
    pub fn new_fanout_group(fd: BorrowedFd<'_>) -> io::Result<u16> {
        create_fanout(fd.as_raw_fd(), 0)
    }

    /// Fanout type and flags: hash mode, IPv4 fragments reassembled first
    /// so that they follow their flow, plus `extra`.
    fn fanout_type_flags(extra: u32) -> u32 {
        libc::PACKET_FANOUT_HASH | libc::PACKET_FANOUT_FLAG_DEFRAG | extra
    }

    fn join_fanout(fd: RawFd, group: u16, extra: u32) -> io::Result<()> {
        let val: u32 = u32::from(group) | (fanout_type_flags(extra) << 16);
        setsockopt(fd, libc::SOL_PACKET, libc::PACKET_FANOUT, &val)
    }

    fn create_fanout(fd: RawFd, extra: u32) -> io::Result<u16> {
        let val: u32 = fanout_type_flags(extra | libc::PACKET_FANOUT_FLAG_UNIQUEID) << 16;
        setsockopt(fd, libc::SOL_PACKET, libc::PACKET_FANOUT, &val)?;
        let mut out: u32 = 0;
        let mut len = std::mem::size_of::<u32>() as libc::socklen_t;
        // SAFETY: `out` and `len` are live locals; the kernel writes at most
        // `len` bytes into `out` and updates `len`.
        let rc = unsafe {
            libc::getsockopt(
                fd,
                libc::SOL_PACKET,
                libc::PACKET_FANOUT,
                (&mut out as *mut u32).cast(),
                &mut len,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        // The kernel reports `id | (type | flags << 8) << 16`.
        Ok((out & 0xffff) as u16)
    }

    /// Attaches a one-instruction classic BPF program `ret #keep`: keep
    /// the first `keep` bytes of every frame (0 drops every frame).
    fn set_keep_filter(fd: RawFd, keep: u32) -> io::Result<()> {
        // BPF_RET | BPF_K
        let mut insn = [libc::sock_filter {
            code: 0x06,
            jt: 0,
            jf: 0,
            k: keep,
        }];
        let prog = libc::sock_fprog {
            len: 1,
            filter: insn.as_mut_ptr(),
        };
        // The kernel copies the program during the call; `insn` outlives it.
        setsockopt(fd, libc::SOL_SOCKET, libc::SO_ATTACH_FILTER, &prog)
    }

    /// The ARPHRD hardware type of interface `name`, via SIOCGIFHWADDR.
    fn interface_arphrd(fd: RawFd, name: &str) -> io::Result<u16> {
        // SAFETY: `ifreq` is plain old data; all-zero is a valid value.
        let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
        for (dst, src) in req.ifr_name.iter_mut().zip(name.bytes()) {
            *dst = src as libc::c_char;
        }
        // SAFETY: `req` is a live ifreq with a NUL-terminated name (the name
        // is shorter than IFNAMSIZ, checked by `interface_index`); the kernel
        // writes only inside it.
        let rc = unsafe { libc::ioctl(fd, libc::SIOCGIFHWADDR, &mut req) };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: after SIOCGIFHWADDR succeeds, the kernel has filled the
        // `ifru_hwaddr` member of the union.
        Ok(unsafe { req.ifr_ifru.ifru_hwaddr.sa_family })
    }

    fn page_size() -> u32 {
        // SAFETY: sysconf has no memory effects.
        let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        u32::try_from(p).unwrap_or(4096)
    }

    /// The mmap'ed TPACKET_V3 receive ring.
    struct Ring {
        base: NonNull<u8>,
        len: usize,
        block_size: usize,
        block_count: usize,
    }

    // SAFETY: the mapping is owned by this value alone (it is unmapped in
    // Drop and never shared); the kernel side is synchronised through the
    // block status word. Moving the ring to another thread is fine.
    unsafe impl Send for Ring {}

    impl Ring {
        fn map(fd: RawFd, block_size: usize, block_count: usize) -> io::Result<Ring> {
            let len = block_size
                .checked_mul(block_count)
                .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
            // SAFETY: mapping a packet socket's ring: fresh address chosen by
            // the kernel, `len` equals the ring size just configured.
            let p = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_SHARED,
                    fd,
                    0,
                )
            };
            if p == libc::MAP_FAILED {
                return Err(io::Error::last_os_error());
            }
            let base = NonNull::new(p.cast::<u8>())
                .ok_or_else(|| io::Error::from(io::ErrorKind::AddrNotAvailable))?;
            Ok(Ring {
                base,
                len,
                block_size,
                block_count,
            })
        }

        /// The status word of block `i` (`i < block_count`).
        fn status(&self, i: usize) -> &AtomicU32 {
            debug_assert!(i < self.block_count);
            let off = (i % self.block_count) * self.block_size + BLOCK_STATUS_OFFSET;
            // SAFETY: `off + 4 <= len` (block_size >= 2048), the address is
            // 8-byte aligned (page-aligned base, block_size a multiple of
            // the page size, offset 8), and the word stays mapped while
            // `self` lives. The kernel accesses it concurrently, which is why
            // it is only ever read and written atomically here.
            unsafe { AtomicU32::from_ptr(self.base.as_ptr().add(off).cast::<u32>()) }
        }

        /// Whether block `i` has been handed to user space. Acquire: the
        /// kernel's writes to the block happen before we read it.
        fn user_owns(&self, i: usize) -> bool {
            self.status(i).load(Ordering::Acquire) & TP_STATUS_USER != 0
        }

        /// The bytes of block `i`. Call only while `user_owns(i)`.
        fn block(&self, i: usize) -> &[u8] {
            let off = (i % self.block_count) * self.block_size;
            // SAFETY: `off + block_size <= len`, inside the mapping that lives
            // as long as `self`. The caller checked that user space owns the
            // block, so the kernel does not write to it until `release(i)`,
            // which takes `&mut self` and so cannot run while this slice is
            // borrowed.
            unsafe { std::slice::from_raw_parts(self.base.as_ptr().add(off), self.block_size) }
        }

        /// Gives block `i` back to the kernel. Release: our reads of the
        /// block happen before the kernel may overwrite it.
        fn release(&mut self, i: usize) {
            self.status(i).store(0, Ordering::Release);
        }
    }

    impl Drop for Ring {
        fn drop(&mut self) {
            // SAFETY: unmapping exactly the region mapped in `Ring::map`;
            // no slice into it can outlive `self`.
            unsafe {
                libc::munmap(self.base.as_ptr().cast(), self.len);
            }
        }
    }

    /// Where the reader is inside the block it holds.
    #[derive(Clone, Copy, Debug)]
    struct Cursor {
        block: usize,
        remaining: u32,
        offset: usize,
    }

    /// A frame ready to be handed out: where its bytes are.
    #[derive(Clone, Copy, Debug)]
    struct Staged {
        block: usize,
        start: usize,
        len: usize,
        in_scratch: bool,
        ts_ns: u64,
        orig_len: u32,
    }

    /// One AF_PACKET socket with a TPACKET_V3 receive ring, bound to one
    /// interface. Dropping it unmaps the ring and closes the socket (which
    /// leaves promiscuous mode and the fanout group).
    pub struct AfPacketSource {
        // Field order is drop order: unmap before close.
        ring: Ring,
        fd: OwnedFd,
        iface: String,
        ifindex: u32,
        /// Set by the first ENETDOWN and kept: from then on every idle poll
        /// timeout checks that the interface still exists (one
        /// `if_nametoindex` per poll timeout, only on an idle socket). Not
        /// cleared by later frames, which may be ones captured just before
        /// a removal.
        link_down: bool,
        linktype: LinkType,
        fanout_group: Option<u16>,
        poll_timeout_ms: i32,
        cursor: Option<Cursor>,
        next_block: usize,
        /// Frames whose VLAN tag the kernel removed are rebuilt here.
        scratch: Vec<u8>,
        stats: LiveStats,
        stop: Option<Arc<AtomicBool>>,
    }

    impl fmt::Debug for AfPacketSource {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("AfPacketSource")
                .field("iface", &self.iface)
                .field("linktype", &self.linktype)
                .field("fanout_group", &self.fanout_group)
                .field("stats", &self.stats)
                .finish_non_exhaustive()
        }
    }

    impl AfPacketSource {
        /// Opens a capture on `iface` with `cfg`.
        ///
        /// Order matters: the socket starts with protocol 0 and a drop-all
        /// filter, so it sees nothing until it is bound *and* in its fanout
        /// group; only then does the real (snaplen) filter go on. No frame
        /// is captured twice or from another interface during set-up.
        pub fn open(iface: &str, cfg: &AfPacketConfig) -> Result<AfPacketSource, LiveError> {
            let ifindex = interface_index(iface).ok_or_else(|| LiveError::InterfaceNotFound {
                iface: iface.to_owned(),
            })?;
            cfg.validate(iface, page_size())?;
            let io_err = |step: &'static str| {
                let source = io::Error::last_os_error();
                LiveError::Io {
                    iface: iface.to_owned(),
                    step,
                    source,
                }
            };
            let wrap = |step: &'static str| {
                move |source: io::Error| LiveError::Io {
                    iface: iface.to_owned(),
                    step,
                    source,
                }
            };

            // SAFETY: plain socket(2) call; the result is checked below.
            let raw =
                unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
            if raw < 0 {
                let e = io::Error::last_os_error();
                return Err(match e.raw_os_error() {
                    Some(libc::EPERM) | Some(libc::EACCES) => LiveError::permission(iface),
                    _ => LiveError::Io {
                        iface: iface.to_owned(),
                        step: "socket(AF_PACKET)",
                        source: e,
                    },
                });
            }
            // SAFETY: `raw` is a fresh, valid fd that nothing else owns.
            let fd = unsafe { OwnedFd::from_raw_fd(raw) };
            let rfd = fd.as_raw_fd();

            let arphrd = interface_arphrd(rfd, iface).map_err(wrap("SIOCGIFHWADDR"))?;
            let linktype =
                linktype_for_arphrd(arphrd).ok_or_else(|| LiveError::UnsupportedLinkType {
                    iface: iface.to_owned(),
                    arphrd,
                })?;

            // Loopback hands every frame to packet sockets twice, once
            // leaving and once arriving; keep the arrival only (as libpcap
            // does), for a lone socket and for a fanout group alike. Linux
            // 4.20+; older kernels refuse both, and then see loopback
            // frames twice.
            let fanout_extra = if arphrd == ARPHRD_LOOPBACK {
                let on: libc::c_int = 1;
                let _ = setsockopt(rfd, libc::SOL_PACKET, libc::PACKET_IGNORE_OUTGOING, &on);
                libc::PACKET_FANOUT_FLAG_IGNORE_OUTGOING
            } else {
                0
            };

            let version: libc::c_int = libc::tpacket_versions::TPACKET_V3 as libc::c_int;
            setsockopt(rfd, libc::SOL_PACKET, libc::PACKET_VERSION, &version)
                .map_err(wrap("PACKET_VERSION TPACKET_V3"))?;
            set_keep_filter(rfd, 0).map_err(wrap("SO_ATTACH_FILTER"))?;

            let req = libc::tpacket_req3 {
                tp_block_size: cfg.block_size,
                tp_block_nr: cfg.block_count,
                tp_frame_size: AFPACKET_FRAME_SIZE,
                tp_frame_nr: (cfg.block_size / AFPACKET_FRAME_SIZE) * cfg.block_count,
                tp_retire_blk_tov: cfg.retire_timeout_ms,
                tp_sizeof_priv: 0,
                tp_feature_req_word: 0,
            };
            setsockopt(rfd, libc::SOL_PACKET, libc::PACKET_RX_RING, &req)
                .map_err(wrap("PACKET_RX_RING (lower the ring block count or size?)"))?;
            let block_size = usize::try_from(cfg.block_size).unwrap_or(usize::MAX);
            let block_count = usize::try_from(cfg.block_count).unwrap_or(usize::MAX);
            let ring = Ring::map(rfd, block_size, block_count).map_err(wrap("mmap of the ring"))?;

            // SAFETY: sockaddr_ll is plain old data; all-zero is valid.
            let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
            sll.sll_family = libc::AF_PACKET as u16;
            sll.sll_protocol = eth_p_all_be();
            sll.sll_ifindex = i32::try_from(ifindex).unwrap_or(0);
            // SAFETY: `sll` is a live sockaddr_ll and the length is its size.
            let rc = unsafe {
                libc::bind(
                    rfd,
                    (&sll as *const libc::sockaddr_ll).cast(),
                    std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
                )
            };
            if rc != 0 {
                return Err(io_err("bind"));
            }

            if cfg.promisc {
                let mreq = libc::packet_mreq {
                    mr_ifindex: i32::try_from(ifindex).unwrap_or(0),
                    mr_type: libc::PACKET_MR_PROMISC as u16,
                    mr_alen: 0,
                    mr_address: [0; 8],
                };
                setsockopt(rfd, libc::SOL_PACKET, libc::PACKET_ADD_MEMBERSHIP, &mreq)
                    .map_err(wrap("PACKET_ADD_MEMBERSHIP (promiscuous mode)"))?;
            }

            // On a kernel without IGNORE_OUTGOING, join without it.
            let fanout_group = match cfg.fanout {
                Fanout::None => None,
                Fanout::NewGroup => Some(
                    create_fanout(rfd, fanout_extra)
                        .or_else(|_| create_fanout(rfd, 0))
                        .map_err(wrap("PACKET_FANOUT (new group)"))?,
                ),
                Fanout::Join(g) => {
                    join_fanout(rfd, g, fanout_extra)
                        .or_else(|_| join_fanout(rfd, g, 0))
                        .map_err(wrap("PACKET_FANOUT (join group)"))?;
                    Some(g)
                }
            };

            set_keep_filter(rfd, cfg.snaplen).map_err(wrap("SO_ATTACH_FILTER (snaplen)"))?;

            let scratch_cap = usize::try_from(cfg.snaplen)
                .unwrap_or(usize::MAX)
                .min(block_size)
                .saturating_add(4);
            Ok(AfPacketSource {
                ring,
                fd,
                iface: iface.to_owned(),
                ifindex,
                link_down: false,
                linktype,
                fanout_group,
                poll_timeout_ms: i32::try_from(cfg.poll_timeout_ms).unwrap_or(i32::MAX),
                cursor: None,
                next_block: 0,
                scratch: Vec::with_capacity(scratch_cap),
                stats: LiveStats::default(),
                stop: None,
            })
        }

        /// Opens `workers` sockets (at least one) on `iface` in one new
        /// fanout group (hash mode, kernel-chosen id), one per worker.
        /// `cfg.fanout` is ignored.
        ///
        /// One worker gets a group of one too, so that what workers see does
        /// not depend on their number: in a group, IPv4 fragments arrive
        /// reassembled (`PACKET_FANOUT_FLAG_DEFRAG`; the kernel bounds the
        /// memory this takes with `net.ipv4.ipfrag_high_thresh`).
        pub fn open_group(
            iface: &str,
            workers: usize,
            cfg: &AfPacketConfig,
        ) -> Result<Vec<AfPacketSource>, LiveError> {
            let mut out = Vec::with_capacity(workers.max(1));
            let first = AfPacketSource::open(
                iface,
                &AfPacketConfig {
                    fanout: Fanout::NewGroup,
                    ..*cfg
                },
            )?;
            let group = first.fanout_group.unwrap_or(0);
            out.push(first);
            for _ in 1..workers.max(1) {
                out.push(AfPacketSource::open(
                    iface,
                    &AfPacketConfig {
                        fanout: Fanout::Join(group),
                        ..*cfg
                    },
                )?);
            }
            Ok(out)
        }

        /// The fanout group this socket is in, if any.
        pub fn fanout_group(&self) -> Option<u16> {
            self.fanout_group
        }

        /// After `flag` is set, [`Source::next_packet`] returns `Ok(None)`
        /// within one poll timeout.
        pub fn set_stop_flag(&mut self, flag: Arc<AtomicBool>) {
            self.stop = Some(flag);
        }

        /// Moves to the next frame without borrowing it out; `None` after a
        /// poll timeout with nothing to read.
        fn advance(&mut self) -> Result<Option<Staged>, LiveError> {
            loop {
                if let Some(cur) = self.cursor {
                    if cur.remaining > 0 {
                        let block = self.ring.block(cur.block);
                        let Some(fh) = parse_frame_header(block, cur.offset) else {
                            self.stats.ring_damaged += 1;
                            self.cursor = Some(Cursor {
                                remaining: 0,
                                ..cur
                            });
                            continue;
                        };
                        let next = if fh.next_offset == 0 {
                            block.len()
                        } else {
                            cur.offset.saturating_add(fh.next_offset as usize)
                        };
                        self.cursor = Some(Cursor {
                            block: cur.block,
                            remaining: cur.remaining - 1,
                            offset: next,
                        });
                        let data = block
                            .get(fh.data_start..fh.data_start.saturating_add(fh.snaplen))
                            .unwrap_or(&[]);
                        let mut staged = Staged {
                            block: cur.block,
                            start: fh.data_start,
                            len: data.len(),
                            in_scratch: false,
                            ts_ns: fh.ts_ns,
                            orig_len: fh.len,
                        };
                        if let (Some((tpid, tci)), LinkType::ETHERNET) = (fh.vlan, self.linktype)
                            && reinsert_vlan(data, tpid, tci, &mut self.scratch)
                        {
                            staged.in_scratch = true;
                            staged.len = self.scratch.len();
                            staged.orig_len = staged.orig_len.saturating_add(4);
                        }
                        self.stats.delivered += 1;
                        self.stats.delivered_bytes += staged.len as u64;
                        if (staged.len as u64) < u64::from(staged.orig_len) {
                            self.stats.truncated += 1;
                        }
                        return Ok(Some(staged));
                    }
                    self.ring.release(cur.block);
                    self.cursor = None;
                    self.next_block = (cur.block + 1) % self.ring.block_count;
                    continue;
                }
                let i = self.next_block;
                if self.ring.user_owns(i) {
                    match parse_block_header(self.ring.block(i)) {
                        Some(bh) => {
                            self.cursor = Some(Cursor {
                                block: i,
                                remaining: bh.num_pkts,
                                offset: bh.offset_to_first_pkt as usize,
                            });
                        }
                        None => {
                            self.stats.ring_damaged += 1;
                            self.cursor = Some(Cursor {
                                block: i,
                                remaining: 0,
                                offset: 0,
                            });
                        }
                    }
                    continue;
                }
                if !self.wait()? {
                    return Ok(None);
                }
                if !self.ring.user_owns(self.next_block) {
                    // Woken, but not for our block: let the caller look
                    // around before waiting again.
                    return Ok(None);
                }
            }
        }

        fn view(&self, s: Staged) -> RawPacket<'_> {
            let data = if s.in_scratch {
                self.scratch.as_slice()
            } else {
                self.ring
                    .block(s.block)
                    .get(s.start..s.start.saturating_add(s.len))
                    .unwrap_or(&[])
            };
            RawPacket {
                ts_ns: s.ts_ns,
                linktype: self.linktype,
                data,
                orig_len: s.orig_len,
            }
        }

        /// Waits for the ring to become readable. `Ok(false)` on timeout,
        /// a signal, or the link going down.
        fn wait(&mut self) -> Result<bool, LiveError> {
            let mut pfd = libc::pollfd {
                fd: self.fd.as_raw_fd(),
                events: libc::POLLIN | libc::POLLERR,
                revents: 0,
            };
            // SAFETY: one live pollfd, count 1.
            let rc = unsafe { libc::poll(&mut pfd, 1, self.poll_timeout_ms) };
            if rc < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    return Ok(false);
                }
                return Err(LiveError::Io {
                    iface: self.iface.clone(),
                    step: "poll",
                    source: e,
                });
            }
            if rc == 0 {
                self.check_still_there()?;
                return Ok(false);
            }
            if pfd.revents & libc::POLLERR != 0 {
                let err = self.take_socket_error();
                if err == libc::ENETDOWN {
                    // Down: the socket stays bound and resumes when the link
                    // comes back. Removed: it is unbound for good, which
                    // `check_still_there` reports instead of capturing
                    // nothing for weeks.
                    self.stats.link_down += 1;
                    self.link_down = true;
                    self.check_still_there()?;
                    return Ok(false);
                }
                if err != 0 {
                    return Err(LiveError::Io {
                        iface: self.iface.clone(),
                        step: "capture socket",
                        source: io::Error::from_raw_os_error(err),
                    });
                }
            }
            Ok(true)
        }

        /// After the link went down: fails if the interface is gone (a new
        /// interface of the same name has a new index, and this socket is
        /// not bound to it).
        fn check_still_there(&mut self) -> Result<(), LiveError> {
            if self.link_down && interface_index(&self.iface) != Some(self.ifindex) {
                return Err(LiveError::Io {
                    iface: self.iface.clone(),
                    step: "capture (the interface was removed)",
                    source: io::Error::from_raw_os_error(libc::ENODEV),
                });
            }
            Ok(())
        }

        /// Reads and clears the socket's pending error (SO_ERROR).
        fn take_socket_error(&self) -> i32 {
            let mut err: libc::c_int = 0;
            let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
            // SAFETY: `err` and `len` are live locals of the sizes given.
            let rc = unsafe {
                libc::getsockopt(
                    self.fd.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_ERROR,
                    (&mut err as *mut libc::c_int).cast(),
                    &mut len,
                )
            };
            if rc == 0 { err } else { 0 }
        }

        fn read_kernel_stats(&mut self) {
            let mut st = libc::tpacket_stats_v3 {
                tp_packets: 0,
                tp_drops: 0,
                tp_freeze_q_cnt: 0,
            };
            let mut len = std::mem::size_of::<libc::tpacket_stats_v3>() as libc::socklen_t;
            // SAFETY: `st` and `len` are live locals; the kernel writes at
            // most `len` bytes into `st`.
            let rc = unsafe {
                libc::getsockopt(
                    self.fd.as_raw_fd(),
                    libc::SOL_PACKET,
                    libc::PACKET_STATISTICS,
                    (&mut st as *mut libc::tpacket_stats_v3).cast(),
                    &mut len,
                )
            };
            if rc == 0 {
                // The kernel resets its counters on every read: accumulate.
                self.stats.received += u64::from(st.tp_packets);
                self.stats.kernel_drops += u64::from(st.tp_drops);
                self.stats.ring_full += u64::from(st.tp_freeze_q_cnt);
            }
        }
    }

    impl Source for AfPacketSource {
        /// Blocks until a frame arrives; `Ok(None)` once the stop flag is
        /// set (checked before every frame and at every poll timeout).
        fn next_packet(&mut self) -> Result<Option<RawPacket<'_>>, CaptureError> {
            loop {
                if let Some(stop) = &self.stop
                    && stop.load(Ordering::Relaxed)
                {
                    return Ok(None);
                }
                if let Some(s) = self.advance()? {
                    return Ok(Some(self.view(s)));
                }
            }
        }

        /// Bytes delivered so far; a live source has no total.
        fn progress(&self) -> Progress {
            Progress {
                done: self.stats.delivered_bytes,
                total: None,
            }
        }
    }

    impl LiveSource for AfPacketSource {
        fn next_live(&mut self) -> Result<LiveNext<'_>, LiveError> {
            Ok(match self.advance()? {
                Some(s) => LiveNext::Packet(self.view(s)),
                None => LiveNext::Idle,
            })
        }

        fn stats(&mut self) -> LiveStats {
            self.read_kernel_stats();
            self.stats
        }

        fn interface(&self) -> &str {
            &self.iface
        }

        fn linktype(&self) -> LinkType {
            self.linktype
        }
    }
}

/// Waits until `fd` is readable or `timeout_ms` passes: `Ok(true)` if
/// readable (or in error, which the next read reports), `Ok(false)` on
/// timeout or a signal. Used by the libpcap backend in non-blocking mode,
/// because libpcap's own read timeout never fires on an idle TPACKET_V3
/// ring (measured with libpcap 1.10.3: `pcap_next_ex` blocked for good).
#[cfg(unix)]
pub fn wait_readable(fd: std::os::fd::RawFd, timeout_ms: i32) -> io::Result<bool> {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one live pollfd, count 1. A stale fd makes poll report
    // POLLNVAL; it cannot cause memory unsafety.
    let rc = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
    if rc < 0 {
        let e = io::Error::last_os_error();
        return if e.kind() == io::ErrorKind::Interrupted {
            Ok(false)
        } else {
            Err(e)
        };
    }
    Ok(rc > 0)
}

// ---------------------------------------------------------------------------
// Dropping privileges.

/// Switches the whole process to `user` (its uid and primary gid, no
/// supplementary groups) for good, and sets `no_new_privs` on Linux so no
/// setuid program can raise them again. Call it after every capture socket
/// is open: open sockets and rings keep working, new ones cannot be opened.
///
/// Verified after the switch: real and effective ids are the user's, and
/// going back to root fails. glibc applies set*id to every thread of the
/// process.
#[cfg(unix)]
pub fn drop_privileges(user: &str) -> Result<(), LiveError> {
    let fail = |reason: String| LiveError::Privileges {
        user: user.to_owned(),
        reason,
    };
    let cname = std::ffi::CString::new(user).map_err(|_| fail("name contains NUL".into()))?;
    let (uid, gid) = lookup_user(&cname).map_err(fail)?;

    // SAFETY: setgroups with count 0 reads no memory.
    if unsafe { libc::setgroups(0, std::ptr::null()) } != 0 {
        return Err(fail(format!(
            "setgroups: {} (are we root?)",
            io::Error::last_os_error()
        )));
    }
    // SAFETY: plain syscalls without memory arguments.
    if unsafe { libc::setgid(gid) } != 0 {
        return Err(fail(format!(
            "setgid({gid}): {}",
            io::Error::last_os_error()
        )));
    }
    // SAFETY: as above.
    if unsafe { libc::setuid(uid) } != 0 {
        return Err(fail(format!(
            "setuid({uid}): {}",
            io::Error::last_os_error()
        )));
    }
    #[cfg(target_os = "linux")]
    {
        // SAFETY: PR_SET_NO_NEW_PRIVS takes integer arguments only.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            return Err(fail(format!(
                "prctl(PR_SET_NO_NEW_PRIVS): {}",
                io::Error::last_os_error()
            )));
        }
    }
    // SAFETY: getters without arguments.
    let (ruid, euid, rgid, egid) = unsafe {
        (
            libc::getuid(),
            libc::geteuid(),
            libc::getgid(),
            libc::getegid(),
        )
    };
    if (ruid, euid, rgid, egid) != (uid, uid, gid, gid) {
        return Err(fail(format!(
            "ids after the switch are uid {ruid}/{euid} gid {rgid}/{egid}, wanted {uid}/{gid}"
        )));
    }
    // SAFETY: plain syscall; expected to fail.
    if uid != 0 && unsafe { libc::setuid(0) } == 0 {
        return Err(fail("could switch back to root afterwards".into()));
    }
    Ok(())
}

/// Looks up `name` in the user database (`getpwnam_r`): (uid, gid).
#[cfg(unix)]
fn lookup_user(name: &std::ffi::CStr) -> Result<(libc::uid_t, libc::gid_t), String> {
    let mut buf_len = 4096usize;
    loop {
        let mut buf = vec![0 as libc::c_char; buf_len];
        // SAFETY: `passwd` is plain old data; all-zero is valid.
        let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: every pointer refers to a live local; `buf` has `buf_len`
        // bytes; the strings written into `pw` point into `buf`, which we do
        // not read.
        let rc = unsafe {
            libc::getpwnam_r(
                name.as_ptr(),
                &mut pw,
                buf.as_mut_ptr(),
                buf_len,
                &mut result,
            )
        };
        if rc == libc::ERANGE && buf_len < PASSWD_BUF_MAX {
            buf_len = (buf_len * 2).min(PASSWD_BUF_MAX);
            continue;
        }
        if rc != 0 {
            return Err(format!(
                "user lookup failed: {}",
                io::Error::from_raw_os_error(rc)
            ));
        }
        if result.is_null() {
            return Err("no such user".to_owned());
        }
        return Ok((pw.pw_uid, pw.pw_gid));
    }
}

impl fmt::Display for LiveStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "received {} delivered {} kernel_drops {} interface_drops {} truncated {}",
            self.received, self.delivered, self.kernel_drops, self.interface_drops, self.truncated
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a block: descriptor, then frames laid out by the kernel rules
    /// (each frame header 16-aligned, data at tp_mac).
    struct BlockBuilder {
        bytes: Vec<u8>,
        frames: Vec<usize>,
    }

    impl BlockBuilder {
        fn new(size: usize) -> Self {
            let mut bytes = vec![0u8; size];
            bytes[8..12].copy_from_slice(&TP_STATUS_USER.to_ne_bytes()); // block_status
            BlockBuilder {
                bytes,
                frames: Vec::new(),
            }
        }

        /// Adds a frame with `data`, `len` on the wire, status bits and VLAN.
        fn frame(&mut self, data: &[u8], len: u32, status: u32, tci: u32, tpid: u16) -> &mut Self {
            let off = match self.frames.last() {
                None => BLOCK_DESC_LEN,
                Some(&prev) => {
                    let prev_mac =
                        u16::from_ne_bytes([self.bytes[prev + 24], self.bytes[prev + 25]]);
                    let prev_snap =
                        u32::from_ne_bytes(self.bytes[prev + 12..prev + 16].try_into().unwrap());
                    let end = prev + prev_mac as usize + prev_snap as usize;
                    let next = (end + 15) & !15;
                    let rel = (next - prev) as u32;
                    self.bytes[prev..prev + 4].copy_from_slice(&rel.to_ne_bytes()); // tp_next_offset
                    next
                }
            };
            let mac: u16 = 64; // header (48) + sockaddr_ll, aligned: what the kernel uses
            let h = &mut self.bytes[off..off + FRAME_HDR_LEN];
            h[4..8].copy_from_slice(&1_700_000_000u32.to_ne_bytes()); // tp_sec
            h[8..12].copy_from_slice(&123_456_789u32.to_ne_bytes()); // tp_nsec
            h[12..16].copy_from_slice(&(data.len() as u32).to_ne_bytes()); // tp_snaplen
            h[16..20].copy_from_slice(&len.to_ne_bytes()); // tp_len
            h[20..24].copy_from_slice(&status.to_ne_bytes()); // tp_status
            h[24..26].copy_from_slice(&mac.to_ne_bytes()); // tp_mac
            h[32..36].copy_from_slice(&tci.to_ne_bytes()); // hv1.tp_vlan_tci
            h[36..38].copy_from_slice(&tpid.to_ne_bytes()); // hv1.tp_vlan_tpid
            let start = off + mac as usize;
            self.bytes[start..start + data.len()].copy_from_slice(data);
            self.frames.push(off);
            let n = self.frames.len() as u32;
            self.bytes[12..16].copy_from_slice(&n.to_ne_bytes()); // num_pkts
            self.bytes[16..20].copy_from_slice(&(BLOCK_DESC_LEN as u32).to_ne_bytes()); // offset_to_first_pkt
            self
        }
    }

    /// Walks a block the way `advance` does, returning (data, orig_len, vlan).
    /// (frame bytes, wire length, VLAN tag) of one walked frame.
    type Walked = (Vec<u8>, u32, Option<(u16, u16)>);

    fn walk(block: &[u8]) -> Option<Vec<Walked>> {
        let bh = parse_block_header(block)?;
        let mut off = bh.offset_to_first_pkt as usize;
        let mut out = Vec::new();
        for _ in 0..bh.num_pkts {
            let fh = parse_frame_header(block, off)?;
            out.push((
                block[fh.data_start..fh.data_start + fh.snaplen].to_vec(),
                fh.len,
                fh.vlan,
            ));
            off += fh.next_offset as usize;
        }
        Some(out)
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn offsets_match_the_kernel_structs() {
        use std::mem::{offset_of, size_of};
        assert_eq!(size_of::<libc::tpacket_block_desc>(), BLOCK_DESC_LEN);
        assert_eq!(
            offset_of!(libc::tpacket_block_desc, hdr)
                + offset_of!(libc::tpacket_hdr_v1, block_status),
            BLOCK_STATUS_OFFSET
        );
        assert_eq!(offset_of!(libc::tpacket_hdr_v1, num_pkts) + 8, 12);
        assert_eq!(
            offset_of!(libc::tpacket_hdr_v1, offset_to_first_pkt) + 8,
            16
        );
        assert_eq!(size_of::<libc::tpacket3_hdr>(), FRAME_HDR_LEN);
        assert_eq!(offset_of!(libc::tpacket3_hdr, tp_next_offset), 0);
        assert_eq!(offset_of!(libc::tpacket3_hdr, tp_sec), 4);
        assert_eq!(offset_of!(libc::tpacket3_hdr, tp_nsec), 8);
        assert_eq!(offset_of!(libc::tpacket3_hdr, tp_snaplen), 12);
        assert_eq!(offset_of!(libc::tpacket3_hdr, tp_len), 16);
        assert_eq!(offset_of!(libc::tpacket3_hdr, tp_status), 20);
        assert_eq!(offset_of!(libc::tpacket3_hdr, tp_mac), 24);
        assert_eq!(
            offset_of!(libc::tpacket3_hdr, hv1)
                + offset_of!(libc::tpacket_hdr_variant1, tp_vlan_tci),
            32
        );
        assert_eq!(
            offset_of!(libc::tpacket3_hdr, hv1)
                + offset_of!(libc::tpacket_hdr_variant1, tp_vlan_tpid),
            36
        );
    }

    #[test]
    fn walks_frames_and_keeps_wire_length() {
        let mut b = BlockBuilder::new(4096);
        b.frame(b"0123456789abcdefghij", 20, 0, 0, 0)
            .frame(b"short", 1500, 0, 0, 0) // cut by a snaplen of 5
            .frame(&[0xaa; 100], 100, 0, 0, 0);
        let frames = walk(&b.bytes).expect("valid block");
        assert_eq!(frames.len(), 3);
        assert_eq!(frames[0].0, b"0123456789abcdefghij");
        assert_eq!((frames[1].0.as_slice(), frames[1].1), (&b"short"[..], 1500));
        assert_eq!(frames[2].0, vec![0xaa; 100]);
        let fh = parse_frame_header(&b.bytes, BLOCK_DESC_LEN).unwrap();
        assert_eq!(fh.ts_ns, 1_700_000_000_123_456_789);
    }

    #[test]
    fn vlan_tag_is_reported_with_its_tpid() {
        let mut b = BlockBuilder::new(4096);
        b.frame(b"x", 1, TP_STATUS_VLAN_VALID, 42, 0) // no TPID: 802.1Q
            .frame(
                b"y",
                1,
                TP_STATUS_VLAN_VALID | TP_STATUS_VLAN_TPID_VALID,
                0x2007,
                0x88a8,
            )
            .frame(b"z", 1, TP_STATUS_VLAN_TPID_VALID, 7, 0x88a8); // tag not valid
        let frames = walk(&b.bytes).unwrap();
        assert_eq!(frames[0].2, Some((0x8100, 42)));
        assert_eq!(frames[1].2, Some((0x88a8, 0x2007)));
        assert_eq!(frames[2].2, None);
    }

    #[test]
    fn reinserted_vlan_tag_sits_after_the_macs() {
        // dst MAC | src MAC | ethertype IPv4 | payload
        let frame = [
            1, 1, 1, 1, 1, 1, /* dst */ 2, 2, 2, 2, 2, 2, /* src */ 0x08, 0x00, 0x45,
        ];
        let mut out = Vec::new();
        assert!(reinsert_vlan(&frame, 0x8100, 0x0064, &mut out));
        assert_eq!(
            out,
            [
                1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 0x81, 0x00, 0x00, 0x64, 0x08, 0x00, 0x45
            ]
        );
        // Too short to hold two MACs: copied unchanged.
        assert!(!reinsert_vlan(&frame[..10], 0x8100, 1, &mut out));
        assert_eq!(out, &frame[..10]);
    }

    #[test]
    fn out_of_bounds_offsets_are_rejected() {
        let mut b = BlockBuilder::new(1024);
        b.frame(&[0x55; 64], 64, 0, 0, 0);
        let good = b.bytes.clone();
        assert!(walk(&good).is_some());

        // tp_snaplen runs past the block end.
        let mut bad = good.clone();
        bad[BLOCK_DESC_LEN + 12..BLOCK_DESC_LEN + 16].copy_from_slice(&4000u32.to_ne_bytes());
        assert_eq!(parse_frame_header(&bad, BLOCK_DESC_LEN), None);

        // tp_mac points inside the frame header.
        let mut bad = good.clone();
        bad[BLOCK_DESC_LEN + 24..BLOCK_DESC_LEN + 26].copy_from_slice(&8u16.to_ne_bytes());
        assert_eq!(parse_frame_header(&bad, BLOCK_DESC_LEN), None);

        // tp_next_offset points back into this frame's data.
        let mut bad = good.clone();
        bad[BLOCK_DESC_LEN..BLOCK_DESC_LEN + 4].copy_from_slice(&16u32.to_ne_bytes());
        assert_eq!(parse_frame_header(&bad, BLOCK_DESC_LEN), None);

        // tp_next_offset past the end (u32::MAX must not overflow).
        let mut bad = good.clone();
        bad[BLOCK_DESC_LEN..BLOCK_DESC_LEN + 4].copy_from_slice(&u32::MAX.to_ne_bytes());
        assert_eq!(parse_frame_header(&bad, BLOCK_DESC_LEN), None);

        // offset_to_first_pkt outside the block, or inside the descriptor.
        let mut bad = good.clone();
        bad[16..20].copy_from_slice(&u32::MAX.to_ne_bytes());
        assert_eq!(parse_block_header(&bad), None);
        bad[16..20].copy_from_slice(&8u32.to_ne_bytes());
        assert_eq!(parse_block_header(&bad), None);

        // A block shorter than its descriptor; a frame header cut short.
        assert_eq!(parse_block_header(&good[..40]), None);
        assert_eq!(
            parse_frame_header(&good[..BLOCK_DESC_LEN + 20], BLOCK_DESC_LEN),
            None
        );
        // An empty block is valid whatever its first offset.
        let mut empty = vec![0u8; 64];
        empty[16..20].copy_from_slice(&u32::MAX.to_ne_bytes());
        assert_eq!(
            parse_block_header(&empty),
            Some(BlockHeader {
                num_pkts: 0,
                offset_to_first_pkt: u32::MAX
            })
        );
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A cheap deterministic sweep: xorshift bytes as blocks and headers.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut block = vec![0u8; 512];
        for _ in 0..2000 {
            for b in block.iter_mut() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *b = x as u8;
            }
            let _ = walk(&block);
            for off in [0, 47, 48, 100, 464, 500, 511, 512, usize::MAX] {
                let _ = parse_frame_header(&block, off);
            }
        }
    }

    #[test]
    fn arphrd_maps_to_link_types() {
        assert_eq!(linktype_for_arphrd(1), Some(LinkType::ETHERNET)); // ether, veth
        assert_eq!(linktype_for_arphrd(772), Some(LinkType::ETHERNET)); // lo
        assert_eq!(linktype_for_arphrd(0xfffe), Some(LinkType::RAW)); // tun
        assert_eq!(linktype_for_arphrd(519), Some(LinkType::RAW)); // rawip
        assert_eq!(linktype_for_arphrd(768), Some(LinkType::RAW)); // ipip
        assert_eq!(linktype_for_arphrd(803), None); // radiotap
        assert_eq!(linktype_for_arphrd(512), None); // ppp
    }

    #[test]
    fn config_validation_names_the_problem() {
        let ok = AfPacketConfig::default();
        assert!(ok.validate("eth0", 4096).is_ok());
        let reason = |c: AfPacketConfig| match c.validate("eth0", 4096) {
            Err(LiveError::Config { reason, .. }) => reason,
            other => panic!("expected a config error, got {other:?}"),
        };
        assert!(
            reason(AfPacketConfig {
                block_size: 6000,
                ..ok
            })
            .contains("page size")
        );
        assert!(
            reason(AfPacketConfig {
                block_size: 12288,
                ..ok
            })
            .contains("power of two")
        );
        assert!(
            reason(AfPacketConfig {
                block_count: 0,
                ..ok
            })
            .contains("count is 0")
        );
        assert!(
            reason(AfPacketConfig {
                block_count: 4096,
                ..ok
            })
            .starts_with("ring_too_large")
        );
        assert!(
            reason(AfPacketConfig {
                retire_timeout_ms: 0,
                ..ok
            })
            .contains("retire")
        );
        assert!(reason(AfPacketConfig { snaplen: 0, ..ok }).contains("snaplen"));
        // The defaults stay within the ring limit.
        assert!(
            u64::from(AFPACKET_BLOCK_SIZE) * u64::from(AFPACKET_BLOCK_COUNT)
                <= AFPACKET_MAX_RING_BYTES
        );
    }

    #[test]
    fn errors_read_as_specified() {
        let e = LiveError::InterfaceNotFound {
            iface: "eth9".into(),
        };
        assert!(e.to_string().starts_with("interface eth9 not found"));
        let e = LiveError::permission("eth0");
        assert!(
            e.to_string().starts_with(
                "capturing on eth0 needs CAP_NET_RAW: run as root, or `setcap cap_net_raw,cap_net_admin=eip "
            ),
            "{e}"
        );
        assert_eq!(e.label(), "permission_denied");
        let c: CaptureError = e.into();
        assert_eq!(c.path(), std::path::Path::new("eth0"));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn missing_interface_is_reported_before_privileges() {
        let name = format!("phnx{}", std::process::id());
        let err = AfPacketSource::open(&name, &AfPacketConfig::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("interface {name} not found (list interfaces with `ip link`)")
        );
        // Names the kernel could never have.
        for bad in ["", "a-name-longer-than-15", "nul\0name"] {
            assert_eq!(
                AfPacketSource::open(bad, &AfPacketConfig::default())
                    .unwrap_err()
                    .label(),
                "interface_not_found"
            );
        }
    }

    #[cfg(unix)]
    #[test]
    fn unknown_user_is_an_error_not_a_switch() {
        let err = drop_privileges("no-such-user-phonehome-test").unwrap_err();
        assert_eq!(err.label(), "privilege_drop_failed");
        assert!(err.to_string().contains("no such user"), "{err}");
    }
}
