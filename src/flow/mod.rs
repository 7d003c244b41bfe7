//! Symmetric flow keys, the bounded per-worker flow table, and the in-order
//! reassembly of the first bytes of each TCP stream direction.
//!
//! Guarantees:
//! - both directions of a flow (and both VLAN tags of an asymmetric SPAN: the
//!   VLAN is not part of the key) map to the same [`FlowKey`] and the same
//!   [`FlowKey::dispatch_hash`];
//! - the table never holds more than [`limits::MAX_FLOWS_PER_WORKER`] flows and
//!   no direction buffers more than [`limits::MAX_STREAM_PREFIX`] bytes; every
//!   eviction and every limit hit is counted in [`FlowStats`];
//! - a flow whose directions are both finished costs one hash lookup per
//!   packet and no copying.

pub mod defrag;
pub mod tcp;
pub mod udp;

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::net::IpAddr;

use crate::config::limits;

pub use tcp::{App, Direction, DirectionState, StreamEvent};

/// Transport protocol number as in the IP header.
pub const PROTO_TCP: u8 = 6;
pub const PROTO_UDP: u8 = 17;

/// A direction-independent 5-tuple: the lower (ip, port) endpoint first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowKey {
    pub lo_ip: IpAddr,
    pub hi_ip: IpAddr,
    pub lo_port: u16,
    pub hi_port: u16,
    pub proto: u8,
}

/// Hashes the key as two or three words (the derived `Hash` feeds each
/// address byte by byte with length prefixes, which costs more than the
/// lookup). Equal keys give equal words; the family tag keeps an IPv4 pair
/// and an IPv6 pair with the same low bits apart.
impl Hash for FlowKey {
    #[inline]
    fn hash<H: Hasher>(&self, h: &mut H) {
        let tail = (u64::from(self.lo_port) << 24)
            | (u64::from(self.hi_port) << 8)
            | u64::from(self.proto);
        match (self.lo_ip, self.hi_ip) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                h.write_u64((u64::from(u32::from(a)) << 32) | u64::from(u32::from(b)));
                h.write_u64(tail);
            }
            (a, b) => {
                let wide = |ip: IpAddr| match ip {
                    IpAddr::V4(v) => u128::from(u32::from(v)),
                    IpAddr::V6(v) => u128::from(v),
                };
                h.write_u128(wide(a));
                h.write_u128(wide(b));
                h.write_u64(tail | (1 << 48));
            }
        }
    }
}

impl FlowKey {
    /// The key of a packet from `(src_ip, src_port)` to `(dst_ip, dst_port)`,
    /// and the direction of that packet relative to the key (`Direction::Lo`
    /// when the source is the key's `lo` endpoint).
    pub fn new(
        proto: u8,
        src_ip: IpAddr,
        src_port: u16,
        dst_ip: IpAddr,
        dst_port: u16,
    ) -> (FlowKey, Direction) {
        // The derived order of `(IpAddr, u16)`; for two IPv4 addresses
        // (the common case) as integers, which orders them the same way.
        let src_is_lo = match (src_ip, dst_ip) {
            (IpAddr::V4(s), IpAddr::V4(d)) => (u32::from(s), src_port) <= (u32::from(d), dst_port),
            _ => (src_ip, src_port) <= (dst_ip, dst_port),
        };
        if src_is_lo {
            (
                FlowKey {
                    lo_ip: src_ip,
                    hi_ip: dst_ip,
                    lo_port: src_port,
                    hi_port: dst_port,
                    proto,
                },
                Direction::Lo,
            )
        } else {
            (
                FlowKey {
                    lo_ip: dst_ip,
                    hi_ip: src_ip,
                    lo_port: dst_port,
                    hi_port: src_port,
                    proto,
                },
                Direction::Hi,
            )
        }
    }

    /// A hash for choosing a worker: the same for both directions, and the
    /// same in every run (not keyed: dispatch is not a hash table, and a
    /// deterministic spread makes runs reproducible).
    pub fn dispatch_hash(&self) -> u64 {
        // FNV-1a over the canonical key bytes, then a final avalanche.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut eat = |b: u8| {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        };
        for ip in [self.lo_ip, self.hi_ip] {
            match ip {
                IpAddr::V4(a) => a.octets().iter().for_each(|&b| eat(b)),
                IpAddr::V6(a) => a.octets().iter().for_each(|&b| eat(b)),
            }
        }
        for b in self.lo_port.to_be_bytes() {
            eat(b);
        }
        for b in self.hi_port.to_be_bytes() {
            eat(b);
        }
        eat(self.proto);
        // splitmix64 finaliser so that `% workers` uses all bits.
        let mut z = h;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// Counters of the flow stage (per worker, summed for reports).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FlowStats {
    /// Flows created.
    pub flows_created: u64,
    /// Flows removed because they were idle longer than the timeout.
    pub flows_expired: u64,
    /// Flows evicted because the table was full.
    pub flows_evicted_full: u64,
    /// Flows closed by FIN/RST.
    pub flows_closed: u64,
    /// A stream prefix exceeded [`limits::MAX_STREAM_PREFIX`] before it was
    /// complete: that direction gave up.
    pub stream_prefix_overflow: u64,
    /// Out-of-order segments held for later.
    pub segments_out_of_order: u64,
    /// Out-of-order segments dropped because the hold space was full.
    pub segments_ooo_dropped: u64,
    /// Retransmitted or overlapping bytes trimmed.
    pub segments_retransmitted: u64,
    /// A direction was abandoned because its start was never seen in order
    /// (first segment lost, or the capture started mid-stream).
    pub stream_gap_abandoned: u64,
    /// Flows evicted because the worker's reassembly budget was exceeded.
    pub flows_evicted_memory: u64,
    /// Bytes currently held in reassembly buffers (gauge, at last update).
    pub reassembly_bytes_held: u64,
}

impl FlowStats {
    pub fn merge(&mut self, o: &FlowStats) {
        self.flows_created += o.flows_created;
        self.flows_expired += o.flows_expired;
        self.flows_evicted_full += o.flows_evicted_full;
        self.flows_closed += o.flows_closed;
        self.stream_prefix_overflow += o.stream_prefix_overflow;
        self.segments_out_of_order += o.segments_out_of_order;
        self.segments_ooo_dropped += o.segments_ooo_dropped;
        self.segments_retransmitted += o.segments_retransmitted;
        self.stream_gap_abandoned += o.stream_gap_abandoned;
        self.flows_evicted_memory += o.flows_evicted_memory;
        self.reassembly_bytes_held += o.reassembly_bytes_held;
    }

    /// `(name, value)` pairs in a stable order, for stats and metrics.
    pub fn pairs(&self) -> [(&'static str, u64); 11] {
        [
            ("flows_created", self.flows_created),
            ("flows_expired", self.flows_expired),
            ("flows_evicted_full", self.flows_evicted_full),
            ("flows_closed", self.flows_closed),
            ("stream_prefix_overflow", self.stream_prefix_overflow),
            ("segments_out_of_order", self.segments_out_of_order),
            ("segments_ooo_dropped", self.segments_ooo_dropped),
            ("segments_retransmitted", self.segments_retransmitted),
            ("stream_gap_abandoned", self.stream_gap_abandoned),
            ("flows_evicted_memory", self.flows_evicted_memory),
            ("reassembly_bytes_held", self.reassembly_bytes_held),
        ]
    }
}

/// State of one TCP flow: one reassembly state per direction.
#[derive(Debug)]
pub struct TcpFlow {
    pub dirs: [DirectionState; 2],
    /// Packet time of the last packet, for idle expiry.
    pub last_ts: u64,
}

impl TcpFlow {
    fn bytes_held(&self) -> usize {
        self.dirs.iter().map(DirectionState::bytes_held).sum()
    }
    /// Both directions are finished: nothing more can come out of this flow.
    pub fn finished(&self) -> bool {
        self.dirs.iter().all(DirectionState::is_done)
    }
}

/// Keyed hasher for the flow table: keys are attacker-chosen, so the hash is
/// seeded per process (foldhash's random state).
type FlowHasher = foldhash::fast::RandomState;

/// The bounded per-worker table of TCP flows that still have a stream
/// direction being reassembled.
pub struct FlowTable {
    map: HashMap<FlowKey, TcpFlow, FlowHasher>,
    /// Recycled stream buffers, so steady state allocates nothing.
    pool: Vec<Vec<u8>>,
    max_flows: usize,
    idle_timeout_ns: u64,
    /// Packet time of the last idle sweep.
    last_sweep_ts: u64,
    pub stats: FlowStats,
}

impl Default for FlowTable {
    fn default() -> Self {
        FlowTable::new(limits::MAX_FLOWS_PER_WORKER, limits::FLOW_IDLE_TIMEOUT_NS)
    }
}

impl FlowTable {
    pub fn new(max_flows: usize, idle_timeout_ns: u64) -> FlowTable {
        FlowTable {
            // Start small: the table grows with the traffic, not with the bound.
            map: HashMap::with_capacity_and_hasher(max_flows.min(1024), FlowHasher::default()),
            pool: Vec::new(),
            max_flows: max_flows.max(1),
            idle_timeout_ns,
            last_sweep_ts: 0,
            stats: FlowStats::default(),
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Feed one TCP segment. `on_stream` is called with each stream prefix
    /// that grew (in order, starting at the direction's first byte) so the
    /// extractors can look at it; it returns what the direction should do
    /// next.
    #[allow(clippy::too_many_arguments)] // the decoded segment, spelled out
    pub fn segment(
        &mut self,
        key: FlowKey,
        dir: Direction,
        ts: u64,
        seq: u32,
        flags: u8,
        payload: &[u8],
        on_stream: &mut dyn FnMut(&[u8], &mut App) -> StreamEvent,
    ) {
        self.maybe_sweep(ts);
        let fin_or_rst = flags & (crate::decode::TcpInfo::FIN | crate::decode::TcpInfo::RST) != 0;
        let syn = flags & crate::decode::TcpInfo::SYN != 0;
        if payload.is_empty() && !syn {
            // Pure ACKs never create state; FIN/RST on a known flow ends it.
            if fin_or_rst {
                if let Some(f) = self.map.remove(&key) {
                    self.stats.flows_closed += 1;
                    self.recycle(f);
                }
            } else if let Some(f) = self.map.get_mut(&key) {
                f.last_ts = ts;
            }
            return;
        }
        // One lookup for a known flow (the entry); a second one only when
        // the table is full and the flow might be new.
        if self.map.len() >= self.max_flows && !self.map.contains_key(&key) {
            self.sweep(ts);
            if self.map.len() >= self.max_flows {
                self.evict_one();
            }
        }
        let created = &mut self.stats.flows_created;
        let flow = self.map.entry(key).or_insert_with(|| {
            *created += 1;
            TcpFlow {
                dirs: [DirectionState::default(), DirectionState::default()],
                last_ts: ts,
            }
        });
        flow.last_ts = ts;
        let before = flow.bytes_held();
        let d = &mut flow.dirs[dir.index()];
        if syn {
            d.on_syn(seq);
        }
        if !payload.is_empty() {
            d.on_data(seq, payload, &mut self.pool, &mut self.stats, on_stream);
        }
        let after = flow.bytes_held();
        self.stats.reassembly_bytes_held =
            (self.stats.reassembly_bytes_held + after as u64).saturating_sub(before as u64);
        // A finished flow is kept (so later segments cost one lookup and are
        // not mistaken for a new stream start) unless it closed.
        if fin_or_rst && let Some(f) = self.map.remove(&key) {
            self.stats.flows_closed += 1;
            self.recycle(f);
        }
        while self.stats.reassembly_bytes_held > limits::MAX_REASSEMBLY_BYTES_PER_WORKER as u64 {
            if !self.evict_lru() {
                break;
            }
            self.stats.flows_evicted_memory += 1;
        }
    }

    fn recycle(&mut self, mut f: TcpFlow) {
        // A direction still waiting for missing bytes is counted, never
        // guessed at: its start (a hello's first segment) was lost.
        for d in &f.dirs {
            if d.gap_pending() {
                self.stats.stream_gap_abandoned += 1;
            }
        }
        let held = f.bytes_held() as u64;
        self.stats.reassembly_bytes_held = self.stats.reassembly_bytes_held.saturating_sub(held);
        for d in &mut f.dirs {
            d.release(&mut self.pool);
        }
    }

    fn maybe_sweep(&mut self, ts: u64) {
        if ts.saturating_sub(self.last_sweep_ts) >= limits::FLOW_SWEEP_INTERVAL_NS {
            self.sweep(ts);
        }
    }

    /// Remove every flow idle for longer than the timeout (packet time).
    pub fn sweep(&mut self, now: u64) {
        self.last_sweep_ts = now;
        let timeout = self.idle_timeout_ns;
        // Taken out in place: a sweep allocates nothing.
        let mut map = std::mem::take(&mut self.map);
        for (_, f) in map.extract_if(|_, f| now.saturating_sub(f.last_ts) > timeout) {
            self.stats.flows_expired += 1;
            self.recycle(f);
        }
        self.map = map;
    }

    /// The table is full of live flows: evict the least recently seen one.
    fn evict_one(&mut self) {
        if self.evict_lru() {
            self.stats.flows_evicted_full += 1;
        }
    }

    /// Remove the least recently seen flow. O(n), but only reached when a
    /// bound is hit after a sweep.
    fn evict_lru(&mut self) -> bool {
        let victim = self
            .map
            .iter()
            .min_by_key(|(k, f)| (f.last_ts, k.dispatch_hash()))
            .map(|(k, _)| *k);
        match victim.and_then(|k| self.map.remove(&k)) {
            Some(f) => {
                self.recycle(f);
                true
            }
            None => false,
        }
    }

    /// Drop every flow (end of input). Incomplete prefixes yield nothing.
    pub fn clear(&mut self) {
        let keys: Vec<FlowKey> = self.map.keys().copied().collect();
        for k in keys {
            if let Some(f) = self.map.remove(&k) {
                self.recycle(f);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn ip(a: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, a))
    }

    #[test]
    fn key_is_symmetric() {
        let (k1, d1) = FlowKey::new(PROTO_TCP, ip(1), 40000, ip(2), 443);
        let (k2, d2) = FlowKey::new(PROTO_TCP, ip(2), 443, ip(1), 40000);
        assert_eq!(k1, k2);
        assert_ne!(d1, d2);
        assert_eq!(k1.dispatch_hash(), k2.dispatch_hash());
        let (k3, _) = FlowKey::new(PROTO_UDP, ip(1), 40000, ip(2), 443);
        assert_ne!(k1.dispatch_hash(), k3.dispatch_hash());
    }

    #[test]
    fn dispatch_spreads() {
        let mut buckets = [0u32; 2];
        for p in 0..2000u16 {
            let (k, _) = FlowKey::new(PROTO_TCP, ip(1), 10000 + p, ip(2), 443);
            buckets[(k.dispatch_hash() % 2) as usize] += 1;
        }
        assert!(buckets[0] > 800 && buckets[1] > 800, "{buckets:?}");
    }

    #[test]
    fn table_is_bounded_and_counts_evictions() {
        let mut t = FlowTable::new(4, u64::MAX / 2);
        for p in 0..10u16 {
            let (k, d) = FlowKey::new(PROTO_TCP, ip(1), 1000 + p, ip(2), 443);
            t.segment(k, d, u64::from(p), 1, 0x18, &[0x16, 0x03], &mut |_, _| {
                StreamEvent::Continue
            });
        }
        assert_eq!(t.len(), 4);
        assert_eq!(t.stats.flows_created, 10);
        assert_eq!(t.stats.flows_evicted_full, 6);
    }

    #[test]
    fn a_lost_first_segment_is_counted_not_guessed() {
        let mut t = FlowTable::new(100, 1_000);
        let (k, d) = FlowKey::new(PROTO_TCP, ip(1), 1000, ip(2), 443);
        let mut calls = 0;
        // SYN at seq 99: data starts at 100; the segment at 100 is lost.
        t.segment(k, d, 0, 99, 0x02, &[], &mut |_, _| StreamEvent::Continue);
        t.segment(k, d, 1, 1100, 0x18, &[0x16; 64], &mut |_, _| {
            calls += 1;
            StreamEvent::Continue
        });
        assert_eq!(calls, 0, "a segment after a gap must not be parsed");
        t.sweep(10_000);
        assert_eq!(t.stats.stream_gap_abandoned, 1);
    }

    #[test]
    fn idle_flows_expire_by_packet_time() {
        let mut t = FlowTable::new(100, 1_000);
        let (k, d) = FlowKey::new(PROTO_TCP, ip(1), 1000, ip(2), 443);
        t.segment(k, d, 0, 1, 0x18, &[0x16, 0x03], &mut |_, _| {
            StreamEvent::Continue
        });
        assert_eq!(t.len(), 1);
        t.sweep(5_000);
        assert_eq!(t.len(), 0);
        assert_eq!(t.stats.flows_expired, 1);
        assert_eq!(t.stats.reassembly_bytes_held, 0);
    }
}
