//! Conversations and the merge of many conversations into one time-ordered
//! capture.
//!
//! A [`Session`] is a list of frames with timestamps, built up front by the
//! flow helpers ([`UdpFlow`], [`TcpFlow`]); the [`Mixer`] interleaves the
//! sessions by timestamp (ties: older session first), and the [`Recorder`]
//! writes each frame and updates the truth.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::io::Write;
use std::net::{IpAddr, SocketAddr};

use super::Error;
use super::packet::{self, IpOpts, Link, Mac, TcpFields, Vlan};
use super::pcap::{PcapWriter, RECORD_HEADER_LEN};
use super::truth::{AnswerRecord, NameRecord, TruthBuilder};
use crate::config::limits::GEN_TCP_MSS_V4;
use crate::event::TsNs;

/// A host on the captured segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Host {
    pub ip: IpAddr,
    pub mac: Mac,
    pub vlan: Vlan,
}

/// Frame properties counted in the truth.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Meta {
    pub vlan: bool,
    pub qinq: bool,
    pub ipv6: bool,
    pub arp: bool,
    pub tcp: bool,
    pub udp: bool,
    pub dns_response: bool,
}

/// One frame to write.
#[derive(Clone, Debug)]
pub struct Pkt {
    pub ts: TsNs,
    pub frame: Vec<u8>,
    pub meta: Meta,
    /// First packet of a message whose name a later packet completes.
    pub starts_name: bool,
    /// Names this packet completes (record `packet` fields filled on write).
    pub names: Vec<NameRecord>,
    pub answers: Vec<AnswerRecord>,
}

/// A conversation: frames in time order.
#[derive(Debug, Default)]
pub struct Session {
    pkts: VecDeque<Pkt>,
    now: TsNs,
    /// Packet number of the pending `starts_name` packet once written.
    pending_first: Option<u64>,
}

impl Session {
    pub fn new(start: TsNs) -> Session {
        Session {
            pkts: VecDeque::new(),
            now: start,
            pending_first: None,
        }
    }

    /// Current time of the session (timestamp of the next frame).
    pub fn now(&self) -> TsNs {
        self.now
    }

    /// Moves the clock forward.
    pub fn advance(&mut self, ns: u64) {
        self.now = self.now.saturating_add(ns);
    }

    pub fn is_empty(&self) -> bool {
        self.pkts.is_empty()
    }

    pub fn len(&self) -> usize {
        self.pkts.len()
    }

    /// Appends a frame at the current time; returns its index in the session.
    pub fn push(&mut self, frame: Vec<u8>, meta: Meta) -> usize {
        self.pkts.push_back(Pkt {
            ts: self.now,
            frame,
            meta,
            starts_name: false,
            names: Vec::new(),
            answers: Vec::new(),
        });
        self.pkts.len() - 1
    }

    /// The frame at `idx`, to attach names or answers.
    pub fn pkt_mut(&mut self, idx: usize) -> Option<&mut Pkt> {
        self.pkts.get_mut(idx)
    }

    /// Marks `first..=last` as carrying a message named by `rec`.
    pub fn attach_name(&mut self, first: usize, last: usize, rec: NameRecord) {
        if first != last
            && let Some(p) = self.pkts.get_mut(first)
        {
            p.starts_name = true;
        }
        if let Some(p) = self.pkts.get_mut(last) {
            p.names.push(rec);
        }
    }

    fn front_ts(&self) -> Option<TsNs> {
        self.pkts.front().map(|p| p.ts)
    }
}

fn meta_for(link: &Link, ip: IpAddr) -> Meta {
    let (vlan, qinq) = match link {
        Link::Ethernet {
            vlan: Vlan::Tag(_), ..
        } => (true, false),
        Link::Ethernet {
            vlan: Vlan::QinQ { .. },
            ..
        } => (true, true),
        _ => (false, false),
    };
    Meta {
        vlan,
        qinq,
        ipv6: ip.is_ipv6(),
        ..Meta::default()
    }
}

/// The two directions of a conversation between `client` and a peer
/// reached through `hop` (the gateway's MAC, or the peer's on the LAN).
#[derive(Clone, Copy, Debug)]
pub struct Path {
    pub c2s: Link,
    pub s2c: Link,
    pub client_mac: Option<Mac>,
    pub vlan: Option<u16>,
}

impl Path {
    pub fn ethernet(client: &Host, hop: Mac) -> Path {
        let c2s = Link::Ethernet {
            src: client.mac,
            dst: hop,
            vlan: client.vlan,
        };
        Path {
            c2s,
            s2c: c2s.reversed(),
            client_mac: Some(client.mac),
            vlan: client.vlan.outer(),
        }
    }
}

/// A UDP conversation.
#[derive(Clone, Debug)]
pub struct UdpFlow {
    pub path: Path,
    pub client: SocketAddr,
    pub server: SocketAddr,
    ident_c: u16,
    ident_s: u16,
}

impl UdpFlow {
    pub fn new(path: Path, client: SocketAddr, server: SocketAddr, ident_seed: u32) -> UdpFlow {
        UdpFlow {
            path,
            client,
            server,
            ident_c: ident_seed as u16,
            ident_s: (ident_seed >> 16) as u16,
        }
    }

    /// Client → server datagram; returns its index in the session.
    pub fn c2s(&mut self, s: &mut Session, payload: &[u8]) -> Result<usize, Error> {
        self.ident_c = self.ident_c.wrapping_add(1);
        let mut f = Vec::with_capacity(payload.len() + 62);
        let opts = IpOpts {
            ttl: 64,
            ident: self.ident_c,
        };
        packet::write_udp(
            &mut f,
            &self.path.c2s,
            self.client,
            self.server,
            opts,
            payload,
        )?;
        let meta = Meta {
            udp: true,
            ..meta_for(&self.path.c2s, self.client.ip())
        };
        Ok(s.push(f, meta))
    }

    /// Server → client datagram.
    pub fn s2c(&mut self, s: &mut Session, payload: &[u8]) -> Result<usize, Error> {
        self.ident_s = self.ident_s.wrapping_add(1);
        let mut f = Vec::with_capacity(payload.len() + 62);
        let opts = IpOpts {
            ttl: 57,
            ident: self.ident_s,
        };
        packet::write_udp(
            &mut f,
            &self.path.s2c,
            self.server,
            self.client,
            opts,
            payload,
        )?;
        let meta = Meta {
            udp: true,
            ..meta_for(&self.path.s2c, self.server.ip())
        };
        Ok(s.push(f, meta))
    }
}

/// Which side sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    C2s,
    S2c,
}

/// A TCP connection (RFC 9293): sequence numbers, ACKs, segmentation.
#[derive(Clone, Debug)]
pub struct TcpFlow {
    pub udp: UdpFlow,
    c_seq: u32,
    s_seq: u32,
    /// Maximum segment size for this address family.
    pub mss: usize,
    /// One-way delay between the capture point and the server, ns.
    pub rtt_ns: u64,
    /// Gap between back-to-back segments, ns.
    pub gap_ns: u64,
    /// The receiver ACKs every `ack_every`-th data segment (1 = quick ACK,
    /// 2 = delayed ACK, RFC 9293 section 3.8.6.3) and the last one.
    pub ack_every: usize,
    window: u16,
}

impl TcpFlow {
    pub fn new(
        path: Path,
        client: SocketAddr,
        server: SocketAddr,
        isn_c: u32,
        isn_s: u32,
        rtt_ns: u64,
    ) -> TcpFlow {
        let mss = if client.is_ipv6() {
            GEN_TCP_MSS_V4 - 20
        } else {
            GEN_TCP_MSS_V4
        };
        TcpFlow {
            udp: UdpFlow::new(path, client, server, isn_c ^ isn_s),
            c_seq: isn_c,
            s_seq: isn_s,
            mss,
            rtt_ns,
            gap_ns: 80_000,
            ack_every: 2,
            window: 502,
        }
    }

    fn seg(
        &mut self,
        s: &mut Session,
        dir: Dir,
        flags: u8,
        payload: &[u8],
        syn_mss: Option<u16>,
    ) -> Result<usize, Error> {
        let (link, src, dst, seq, ack, ip) = match dir {
            Dir::C2s => {
                self.udp.ident_c = self.udp.ident_c.wrapping_add(1);
                (
                    self.udp.path.c2s,
                    self.udp.client,
                    self.udp.server,
                    self.c_seq,
                    self.s_seq,
                    IpOpts {
                        ttl: 64,
                        ident: self.udp.ident_c,
                    },
                )
            }
            Dir::S2c => {
                self.udp.ident_s = self.udp.ident_s.wrapping_add(1);
                (
                    self.udp.path.s2c,
                    self.udp.server,
                    self.udp.client,
                    self.s_seq,
                    self.c_seq,
                    IpOpts {
                        ttl: 57,
                        ident: self.udp.ident_s,
                    },
                )
            }
        };
        let fields = TcpFields {
            seq,
            ack: if flags & packet::TCP_ACK != 0 { ack } else { 0 },
            flags,
            window: if syn_mss.is_some() {
                64240
            } else {
                self.window
            },
            syn_options: syn_mss,
        };
        let mut f = Vec::with_capacity(payload.len() + 78);
        packet::write_tcp(&mut f, &link, src, dst, ip, fields, payload)?;
        let consumed =
            payload.len() as u32 + u32::from(flags & (packet::TCP_SYN | packet::TCP_FIN) != 0);
        match dir {
            Dir::C2s => self.c_seq = self.c_seq.wrapping_add(consumed),
            Dir::S2c => self.s_seq = self.s_seq.wrapping_add(consumed),
        }
        let meta = Meta {
            tcp: true,
            ..meta_for(&link, src.ip())
        };
        Ok(s.push(f, meta))
    }

    /// SYN, SYN-ACK, ACK.
    pub fn handshake(&mut self, s: &mut Session) -> Result<(), Error> {
        let mss = self.mss as u16;
        self.seg(s, Dir::C2s, packet::TCP_SYN, &[], Some(mss))?;
        s.advance(self.rtt_ns);
        self.seg(
            s,
            Dir::S2c,
            packet::TCP_SYN | packet::TCP_ACK,
            &[],
            Some(mss),
        )?;
        s.advance(self.rtt_ns / 8 + 1_000);
        self.seg(s, Dir::C2s, packet::TCP_ACK, &[], None)?;
        Ok(())
    }

    /// Sends `data` from `dir` in MSS-sized segments (PSH on the last),
    /// the receiver ACKing per `ack_every` and after the last. Returns the
    /// session indices of the first and last data segment.
    pub fn send(
        &mut self,
        s: &mut Session,
        dir: Dir,
        data: &[u8],
    ) -> Result<(usize, usize), Error> {
        self.send_segmented(s, dir, data, self.mss)
    }

    /// Like [`send`](Self::send) with an explicit segment size.
    pub fn send_segmented(
        &mut self,
        s: &mut Session,
        dir: Dir,
        data: &[u8],
        seg_size: usize,
    ) -> Result<(usize, usize), Error> {
        let back = match dir {
            Dir::C2s => Dir::S2c,
            Dir::S2c => Dir::C2s,
        };
        let chunks: Vec<&[u8]> = data.chunks(seg_size.max(1)).collect();
        let n = chunks.len();
        let mut first = None;
        let mut last = 0;
        for (i, c) in chunks.into_iter().enumerate() {
            if i > 0 {
                s.advance(self.gap_ns);
            }
            let flags = if i + 1 == n {
                packet::TCP_PSH | packet::TCP_ACK
            } else {
                packet::TCP_ACK
            };
            last = self.seg(s, dir, flags, c, None)?;
            first.get_or_insert(last);
            if (i + 1) % self.ack_every.max(1) == 0 || i + 1 == n {
                s.advance(self.gap_ns / 4 + 500);
                // The receiver's ACK, seen from our capture point.
                self.seg(s, back, packet::TCP_ACK, &[], None)?;
            }
        }
        Ok((first.unwrap_or(last), last))
    }

    /// Half a round trip: the time until the other side reacts.
    pub fn wait(&self, s: &mut Session) {
        s.advance(self.rtt_ns);
    }

    /// FIN from the client, FIN from the server, final ACK.
    pub fn close(&mut self, s: &mut Session) -> Result<(), Error> {
        s.advance(self.gap_ns);
        self.seg(s, Dir::C2s, packet::TCP_FIN | packet::TCP_ACK, &[], None)?;
        s.advance(self.rtt_ns);
        self.seg(s, Dir::S2c, packet::TCP_FIN | packet::TCP_ACK, &[], None)?;
        s.advance(self.rtt_ns / 8 + 1_000);
        self.seg(s, Dir::C2s, packet::TCP_ACK, &[], None)?;
        Ok(())
    }
}

/// Interleaves sessions by the timestamp of their next frame.
#[derive(Debug, Default)]
pub struct Mixer {
    heap: BinaryHeap<Reverse<(TsNs, u64, usize)>>,
    slots: Vec<Option<Session>>,
    free: Vec<usize>,
    next_seq: u64,
}

impl Mixer {
    pub fn new() -> Mixer {
        Mixer::default()
    }

    /// Sessions not yet drained.
    pub fn active(&self) -> usize {
        self.heap.len()
    }

    pub fn add(&mut self, s: Session) {
        let Some(ts) = s.front_ts() else { return };
        let slot = match self.free.pop() {
            Some(i) => {
                if let Some(x) = self.slots.get_mut(i) {
                    *x = Some(s);
                }
                i
            }
            None => {
                self.slots.push(Some(s));
                self.slots.len() - 1
            }
        };
        self.heap.push(Reverse((ts, self.next_seq, slot)));
        self.next_seq += 1;
    }

    /// The timestamp of the next frame.
    pub fn peek_ts(&self) -> Option<TsNs> {
        self.heap.peek().map(|Reverse((ts, _, _))| *ts)
    }

    /// Writes the next frame; `Ok(false)` when nothing is left or the
    /// recorder's size target is reached.
    pub fn step<W: Write>(&mut self, rec: &mut Recorder<W>) -> Result<bool, Error> {
        let Some(Reverse((_, seq, slot))) = self.heap.pop() else {
            return Ok(false);
        };
        let Some(sess) = self.slots.get_mut(slot).and_then(Option::as_mut) else {
            return Ok(false);
        };
        let Some(pkt) = sess.pkts.pop_front() else {
            return Ok(false);
        };
        let written = rec.write(pkt, &mut sess.pending_first)?;
        match sess.front_ts() {
            Some(ts) => self.heap.push(Reverse((ts, seq, slot))),
            None => {
                if let Some(x) = self.slots.get_mut(slot) {
                    *x = None;
                }
                self.free.push(slot);
            }
        }
        Ok(written)
    }
}

/// Writes frames to the pcap and feeds the truth.
pub struct Recorder<W: Write> {
    pub pcap: PcapWriter<W>,
    pub truth: TruthBuilder,
    /// Stop before the first frame that would take the file past this.
    pub size_limit: Option<u64>,
    stopped: bool,
}

impl<W: Write> Recorder<W> {
    pub fn new(pcap: PcapWriter<W>, truth: TruthBuilder, size_limit: Option<u64>) -> Recorder<W> {
        Recorder {
            pcap,
            truth,
            size_limit,
            stopped: false,
        }
    }

    pub fn stopped(&self) -> bool {
        self.stopped
    }

    /// Writes one frame (unless the size target stops the capture) and
    /// records what it completes. Returns whether it was written.
    pub fn write(&mut self, mut pkt: Pkt, pending_first: &mut Option<u64>) -> Result<bool, Error> {
        if self.stopped {
            return Ok(false);
        }
        if let Some(limit) = self.size_limit
            && self.pcap.bytes() + RECORD_HEADER_LEN + pkt.frame.len() as u64 > limit
        {
            self.stopped = true;
            return Ok(false);
        }
        self.pcap.write_packet(pkt.ts, &pkt.frame)?;
        let no = self.pcap.packets();
        // The truth reports times as they read back from the file.
        let ts = self.pcap.stored_ts(pkt.ts);
        self.truth.saw_ts(ts);
        let c = self.truth.counts_mut();
        let m = pkt.meta;
        c.frames_vlan_tagged += u64::from(m.vlan);
        c.frames_qinq += u64::from(m.qinq);
        c.frames_ipv6 += u64::from(m.ipv6);
        c.frames_arp += u64::from(m.arp);
        c.tcp_segments += u64::from(m.tcp);
        c.udp_datagrams += u64::from(m.udp);
        c.dns_responses += u64::from(m.dns_response);
        if pkt.starts_name {
            *pending_first = Some(no);
        }
        let first = if pkt.names.is_empty() {
            None
        } else {
            pending_first.take()
        };
        for mut r in pkt.names.drain(..) {
            r.packet = no;
            r.first_packet = first.unwrap_or(no);
            r.ts_ns = ts;
            self.truth.add_name(r);
        }
        for mut a in pkt.answers.drain(..) {
            a.packet = no;
            self.truth.add_answer(a);
        }
        Ok(true)
    }
}
