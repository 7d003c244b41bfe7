//! Live capture through libpcap (cargo feature `pcap`): BPF filter
//! expressions and hosts other than Linux.
//!
//! Same contract as the AF_PACKET backend (see [`super::afpacket`]):
//! [`LiveSource::next_live`] returns [`LiveNext::Idle`] after the poll
//! timeout, [`Source::next_packet`] blocks until a frame or the stop flag,
//! and [`LiveSource::stats`] accumulates the kernel's counters.
//!
//! Multi-worker capture on Linux: [`PcapLiveSource::open_group`] opens one
//! libpcap handle per worker and puts their sockets into one PACKET_FANOUT
//! group (hash mode, defragmenting), as the AF_PACKET backend does. Unlike
//! there, libpcap's socket is live before it joins the group, so frames
//! arriving in the few microseconds between opening and joining reach that
//! handle alone (and, for later handles, the group as well): start sending
//! traffic to workers after `open_group` returns.
//!
//! The handle runs in non-blocking mode and waits with poll(2) itself:
//! libpcap's read timeout never fires on an idle TPACKET_V3 ring
//! (libpcap 1.10.3 blocked for good), which would leave a worker deaf to
//! shutdown on a quiet link.
//!
//! Timestamps are requested in nanoseconds (libpcap otherwise truncates them
//! to microseconds).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use pcap::{Active, Capture, Precision};

use super::afpacket::{Fanout, LiveError, LiveNext, LiveSource, LiveStats};
use super::{CaptureError, LinkType, Progress, RawPacket, Source};
use crate::config::limits::{
    AFPACKET_BLOCK_COUNT, AFPACKET_BLOCK_SIZE, AFPACKET_RETIRE_TIMEOUT_MS, LIVE_DEFAULT_SNAPLEN,
    LIVE_POLL_TIMEOUT_MS,
};

/// Settings of a libpcap capture. `Default` gives the documented defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PcapConfig {
    /// Put the interface in promiscuous mode.
    pub promisc: bool,
    /// Bytes kept of each frame.
    pub snaplen: u32,
    /// libpcap's kernel buffer in bytes (`pcap_set_buffer_size`). Default:
    /// the same 256 MiB as an AF_PACKET ring, for the same reason.
    pub buffer_size: u32,
    /// libpcap immediate mode. Off by default: with it libpcap 1.10 falls
    /// back to TPACKET_V2, whose ring slots are each snaplen bytes, so the
    /// default 256 KiB snaplen leaves room for ~1,000 frames in 256 MiB
    /// (measured: 40–70 % loss on a 2,000-frame burst with a 16 MiB buffer).
    /// Without it libpcap uses TPACKET_V3, which packs frames by their real
    /// size; latency is then bounded by `timeout_ms`.
    pub immediate: bool,
    /// libpcap's read timeout, in ms. With TPACKET_V3 it is the block retire
    /// timeout: how long a partly filled block waits before delivery.
    pub timeout_ms: u32,
    /// Longest wait in `next_live` before `Idle`, in ms.
    pub poll_timeout_ms: u32,
    /// A BPF filter expression (`tcpdump` syntax), if any.
    pub bpf: Option<String>,
    /// Fanout group membership (Linux only).
    pub fanout: Fanout,
}

impl Default for PcapConfig {
    fn default() -> Self {
        PcapConfig {
            promisc: true,
            snaplen: LIVE_DEFAULT_SNAPLEN,
            buffer_size: AFPACKET_BLOCK_SIZE.saturating_mul(AFPACKET_BLOCK_COUNT),
            immediate: false,
            timeout_ms: AFPACKET_RETIRE_TIMEOUT_MS,
            poll_timeout_ms: LIVE_POLL_TIMEOUT_MS,
            bpf: None,
            fanout: Fanout::None,
        }
    }
}

/// Running sums of libpcap's 32-bit cumulative counters, which wrap.
#[derive(Clone, Copy, Debug, Default)]
struct PcapCounters {
    last_recv: u32,
    last_drop: u32,
    last_ifdrop: u32,
}

/// One libpcap capture handle on one interface.
pub struct PcapLiveSource {
    cap: Capture<Active>,
    /// The capture's descriptor, for `wait_readable` (owned by `cap`).
    fd: std::os::fd::RawFd,
    poll_timeout_ms: i32,
    iface: String,
    linktype: LinkType,
    fanout_group: Option<u16>,
    stats: LiveStats,
    counters: PcapCounters,
    /// Used by `Source::next_packet` only (see there).
    scratch: Vec<u8>,
    scratch_ts_ns: u64,
    scratch_orig_len: u32,
    stop: Option<Arc<AtomicBool>>,
}

impl std::fmt::Debug for PcapLiveSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PcapLiveSource")
            .field("iface", &self.iface)
            .field("linktype", &self.linktype)
            .field("fanout_group", &self.fanout_group)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

/// Sorts a libpcap error into "no such interface", "no privilege" or other.
/// libpcap reports them only as text (`pcap_activate`'s return code is not
/// exposed by the `pcap` crate).
fn classify(iface: &str, e: pcap::Error) -> LiveError {
    let message = e.to_string();
    let lower = message.to_ascii_lowercase();
    if lower.contains("permission") || lower.contains("not permitted") {
        LiveError::permission(iface)
    } else if lower.contains("no such device") {
        LiveError::InterfaceNotFound {
            iface: iface.to_owned(),
        }
    } else {
        LiveError::Backend {
            iface: iface.to_owned(),
            message,
        }
    }
}

impl PcapLiveSource {
    /// Opens a capture on `iface` with `cfg`.
    pub fn open(iface: &str, cfg: &PcapConfig) -> Result<PcapLiveSource, LiveError> {
        #[cfg(target_os = "linux")]
        if super::afpacket::interface_index(iface).is_none() {
            return Err(LiveError::InterfaceNotFound {
                iface: iface.to_owned(),
            });
        }
        let bad = |reason: &str| LiveError::Config {
            iface: iface.to_owned(),
            reason: reason.to_owned(),
        };
        let snaplen = i32::try_from(cfg.snaplen)
            .ok()
            .filter(|&s| s > 0)
            .ok_or_else(|| bad("snaplen must be between 1 and 2^31-1"))?;
        let buffer = i32::try_from(cfg.buffer_size).map_err(|_| bad("buffer size too large"))?;
        let timeout =
            i32::try_from(cfg.poll_timeout_ms.max(1)).map_err(|_| bad("poll timeout too large"))?;
        let read_timeout =
            i32::try_from(cfg.timeout_ms.max(1)).map_err(|_| bad("read timeout too large"))?;

        let mut cap = Capture::from_device(iface)
            .map_err(|e| classify(iface, e))?
            .promisc(cfg.promisc)
            .snaplen(snaplen)
            .buffer_size(buffer)
            .immediate_mode(cfg.immediate)
            .timeout(read_timeout)
            .precision(Precision::Nano)
            .open()
            .and_then(|c| c.setnonblock())
            .map_err(|e| classify(iface, e))?;
        if let Some(expr) = &cfg.bpf {
            cap.filter(expr, true).map_err(|e| LiveError::Config {
                iface: iface.to_owned(),
                reason: format!("BPF filter {expr:?}: {e}"),
            })?;
        }
        let linktype = LinkType(u32::try_from(cap.get_datalink().0).unwrap_or(u32::MAX));
        let fanout_group = join_fanout(&cap, iface, cfg.fanout)?;
        let scratch_cap = usize::try_from(cfg.snaplen)
            .unwrap_or(usize::MAX)
            .min(1 << 16);
        let fd = std::os::fd::AsRawFd::as_raw_fd(&cap);
        Ok(PcapLiveSource {
            cap,
            fd,
            poll_timeout_ms: timeout,
            iface: iface.to_owned(),
            linktype,
            fanout_group,
            stats: LiveStats::default(),
            counters: PcapCounters::default(),
            scratch: Vec::with_capacity(scratch_cap),
            scratch_ts_ns: 0,
            scratch_orig_len: 0,
            stop: None,
        })
    }

    /// Opens `workers` handles (at least one) on `iface`, one per worker,
    /// in one new fanout group on Linux — also for one worker, so that what
    /// workers see does not depend on their number (IPv4 fragments arrive
    /// reassembled, as with the AF_PACKET backend). Elsewhere only one
    /// worker per interface is possible. `cfg.fanout` is ignored.
    pub fn open_group(
        iface: &str,
        workers: usize,
        cfg: &PcapConfig,
    ) -> Result<Vec<PcapLiveSource>, LiveError> {
        let with = |fanout| PcapConfig {
            fanout,
            ..cfg.clone()
        };
        if workers <= 1 && !cfg!(target_os = "linux") {
            return Ok(vec![PcapLiveSource::open(iface, &with(Fanout::None))?]);
        }
        let first = PcapLiveSource::open(iface, &with(Fanout::NewGroup))?;
        let group = first.fanout_group.unwrap_or(0);
        let mut out = Vec::with_capacity(workers);
        out.push(first);
        for _ in 1..workers {
            out.push(PcapLiveSource::open(iface, &with(Fanout::Join(group)))?);
        }
        Ok(out)
    }

    /// The fanout group this handle is in, if any.
    pub fn fanout_group(&self) -> Option<u16> {
        self.fanout_group
    }

    /// After `flag` is set, [`Source::next_packet`] returns `Ok(None)`
    /// within one poll timeout.
    pub fn set_stop_flag(&mut self, flag: Arc<AtomicBool>) {
        self.stop = Some(flag);
    }

    fn count(&mut self, len: usize, orig_len: u32) {
        self.stats.delivered += 1;
        self.stats.delivered_bytes += len as u64;
        if (len as u64) < u64::from(orig_len) {
            self.stats.truncated += 1;
        }
    }
}

#[cfg(target_os = "linux")]
fn join_fanout(
    cap: &Capture<Active>,
    iface: &str,
    fanout: Fanout,
) -> Result<Option<u16>, LiveError> {
    use std::os::fd::AsFd;
    let wrap = |step: &'static str| {
        move |source| LiveError::Io {
            iface: iface.to_owned(),
            step,
            source,
        }
    };
    match fanout {
        Fanout::None => Ok(None),
        Fanout::NewGroup => super::afpacket::new_fanout_group(cap.as_fd())
            .map(Some)
            .map_err(wrap("PACKET_FANOUT (new group)")),
        Fanout::Join(g) => super::afpacket::set_fanout_hash(cap.as_fd(), g)
            .map(|()| Some(g))
            .map_err(wrap("PACKET_FANOUT (join group)")),
    }
}

#[cfg(not(target_os = "linux"))]
fn join_fanout(_: &Capture<Active>, iface: &str, fanout: Fanout) -> Result<Option<u16>, LiveError> {
    match fanout {
        Fanout::None => Ok(None),
        _ => Err(LiveError::Config {
            iface: iface.to_owned(),
            reason: "several workers per interface need PACKET_FANOUT (Linux only)".to_owned(),
        }),
    }
}

fn ts_ns(h: &pcap::PacketHeader) -> u64 {
    // Precision::Nano: tv_usec holds nanoseconds.
    let sec = u64::try_from(h.ts.tv_sec).unwrap_or(0);
    let nsec = u64::try_from(h.ts.tv_usec).unwrap_or(0);
    sec.saturating_mul(1_000_000_000).saturating_add(nsec)
}

impl LiveSource for PcapLiveSource {
    fn next_live(&mut self) -> Result<LiveNext<'_>, LiveError> {
        match self.cap.next_packet() {
            Ok(p) => {
                let (len, orig_len) = (p.data.len(), p.header.len);
                let ts = ts_ns(p.header);
                self.stats.delivered += 1;
                self.stats.delivered_bytes += len as u64;
                if (len as u64) < u64::from(orig_len) {
                    self.stats.truncated += 1;
                }
                Ok(LiveNext::Packet(RawPacket {
                    ts_ns: ts,
                    linktype: self.linktype,
                    data: p.data,
                    orig_len,
                }))
            }
            // Non-blocking: nothing in the ring now. Wait for the kernel to
            // hand over a block (or the timeout); the caller reads it on
            // its next call.
            Err(pcap::Error::TimeoutExpired) => {
                super::afpacket::wait_readable(self.fd, self.poll_timeout_ms).map_err(
                    |source| LiveError::Io {
                        iface: self.iface.clone(),
                        step: "poll",
                        source,
                    },
                )?;
                Ok(LiveNext::Idle)
            }
            Err(e) => Err(classify(&self.iface, e)),
        }
    }

    fn stats(&mut self) -> LiveStats {
        if let Ok(s) = self.cap.stats() {
            // libpcap's counters are cumulative u32s: add the wrapped delta.
            let c = &mut self.counters;
            self.stats.received += u64::from(s.received.wrapping_sub(c.last_recv));
            self.stats.kernel_drops += u64::from(s.dropped.wrapping_sub(c.last_drop));
            self.stats.interface_drops += u64::from(s.if_dropped.wrapping_sub(c.last_ifdrop));
            *c = PcapCounters {
                last_recv: s.received,
                last_drop: s.dropped,
                last_ifdrop: s.if_dropped,
            };
        }
        self.stats
    }

    fn interface(&self) -> &str {
        &self.iface
    }

    fn linktype(&self) -> LinkType {
        self.linktype
    }
}

impl Source for PcapLiveSource {
    /// Blocks until a frame arrives; `Ok(None)` once the stop flag is set.
    ///
    /// Unlike `next_live`, this copies the frame into a buffer owned by the
    /// source (allocated once, reused): returning libpcap's borrow from
    /// inside the retry loop is beyond today's borrow checker without
    /// `unsafe`, which this module does not use. Workers that care about
    /// the copy drive the source through `next_live`.
    fn next_packet(&mut self) -> Result<Option<RawPacket<'_>>, CaptureError> {
        loop {
            if let Some(stop) = &self.stop
                && stop.load(Ordering::Relaxed)
            {
                return Ok(None);
            }
            match self.cap.next_packet() {
                Ok(p) => {
                    self.scratch.clear();
                    self.scratch.extend_from_slice(p.data);
                    self.scratch_ts_ns = ts_ns(p.header);
                    self.scratch_orig_len = p.header.len;
                    break;
                }
                Err(pcap::Error::TimeoutExpired) => {
                    super::afpacket::wait_readable(self.fd, self.poll_timeout_ms).map_err(
                        |source| {
                            CaptureError::from(LiveError::Io {
                                iface: self.iface.clone(),
                                step: "poll",
                                source,
                            })
                        },
                    )?;
                }
                Err(e) => return Err(classify(&self.iface, e).into()),
            }
        }
        self.count(self.scratch.len(), self.scratch_orig_len);
        Ok(Some(RawPacket {
            ts_ns: self.scratch_ts_ns,
            linktype: self.linktype,
            data: &self.scratch,
            orig_len: self.scratch_orig_len,
        }))
    }

    /// Bytes delivered so far; a live source has no total.
    fn progress(&self) -> Progress {
        Progress {
            done: self.stats.delivered_bytes,
            total: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libpcap_messages_are_sorted_into_our_errors() {
        let e = classify(
            "eth0",
            pcap::Error::PcapError(
                "eth0: You don't have permission to perform this capture on that device (socket: Operation not permitted)".into(),
            ),
        );
        assert_eq!(e.label(), "permission_denied");
        assert!(
            e.to_string()
                .starts_with("capturing on eth0 needs CAP_NET_RAW")
        );
        let e = classify(
            "eth9",
            pcap::Error::PcapError("eth9: No such device exists".into()),
        );
        assert_eq!(
            e.to_string(),
            "interface eth9 not found (list interfaces with `ip link`)"
        );
        let e = classify("eth0", pcap::Error::PcapError("something else".into()));
        assert_eq!(e.label(), "backend_error");
    }

    #[test]
    fn nanosecond_timestamps() {
        let h = pcap::PacketHeader {
            ts: libc::timeval {
                tv_sec: 1_700_000_000,
                tv_usec: 123_456_789,
            },
            caplen: 10,
            len: 10,
        };
        assert_eq!(ts_ns(&h), 1_700_000_000_123_456_789);
    }
}
