//! IP fragment reassembly for IPv4 (RFC 791 §3.2) and IPv6 (RFC 8200 §4.5),
//! with bounded memory and packet-time timeouts.
//!
//! [`Defrag::push`] takes one [`Fragment`] from `decode::decode_frame` and,
//! when it completes its datagram, hands the reassembled IP payload back in
//! the caller's buffer together with the [`FragmentMeta`] to decode it with
//! (`decode::decode_reassembled`): the link fields and tunnels are those of
//! the fragment that completed the datagram, the protocol that of the
//! offset-0 fragment (RFC 8200 §4.5).
//!
//! Guarantees:
//! - Datagrams are told apart by (source, destination, identification) and,
//!   for IPv4, the protocol (RFC 791 §3.2). VLAN and tunnel are not part of
//!   the key, like the flow key.
//! - Memory is bounded: at most [`DefragLimits::max_datagrams`] datagrams in
//!   progress, none larger than [`DefragLimits::max_datagram_bytes`], and the
//!   buffers of all of them (allocated capacity) at most
//!   [`DefragLimits::max_bytes`]; when a new datagram or a growing one would
//!   exceed a bound, the oldest datagrams are dropped first (`evictions`).
//!   Idle buffers kept for reuse are bounded by
//!   [`limits::DEFRAG_BUFFER_POOL`].
//! - A datagram not complete [`DefragLimits::timeout_ns`] of packet time after
//!   its first fragment is dropped (`timeouts`), checked on every push; a
//!   worker that sees no more fragments keeps at most the bounded memory.
//! - No allocation per fragment in steady state: datagram buffers and their
//!   piece lists come from a pool and go back to it; the completed payload
//!   is swapped into the caller's buffer, not copied.
//! - Never panics: offsets and lengths are checked before every copy.
//!
//! # Overlap policy
//!
//! A fragment that overlaps bytes already received, other than an exact
//! duplicate (same offset and length), drops the whole datagram and is
//! counted in `overlaps`. This is what current stacks do: RFC 5722 requires
//! it for IPv6, and Linux (since 4.19, after FragmentSmack) and Windows
//! discard overlapping IPv4 datagrams too, so the host never acted on a
//! datagram the sensor drops; overlaps are also the classic way to show a
//! sensor one name and the host another (Ptacek & Newsham, 1998), so the
//! counter is an evasion signal worth alerting on. Exact duplicates
//! (retransmissions, doubled span ports) are ignored and counted in
//! `duplicates`: the first copy wins, as in Linux and RFC 5722 erratum 3089.
//!
//! Other inconsistencies drop the datagram and count `malformed`: an empty
//! non-last fragment, an IPv6 non-last fragment whose length is not a
//! multiple of 8 (RFC 8200 §4.5; an IPv4 one is trimmed to the multiple of 8
//! below, as Linux does), two different last fragments, data past the end a
//! last fragment set.
//! A fragment cut by the capture's snap length cannot be placed and is
//! counted in `truncated`; its datagram will time out.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use crate::config::limits;
use crate::decode::{Fragment, FragmentMeta};

/// The bounds of one reassembler (per worker). The default is the named
/// constants of `config::limits`; tests use smaller ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DefragLimits {
    /// [`limits::DEFRAG_MAX_DATAGRAMS`].
    pub max_datagrams: usize,
    /// [`limits::DEFRAG_MAX_DATAGRAM_BYTES`].
    pub max_datagram_bytes: usize,
    /// [`limits::DEFRAG_MAX_BYTES`]; at least `max_datagram_bytes`.
    pub max_bytes: usize,
    /// [`limits::DEFRAG_TIMEOUT_NS`].
    pub timeout_ns: u64,
    /// [`limits::DEFRAG_MAX_FRAGMENTS`].
    pub max_fragments: usize,
}

impl Default for DefragLimits {
    fn default() -> Self {
        DefragLimits {
            max_datagrams: limits::DEFRAG_MAX_DATAGRAMS,
            max_datagram_bytes: limits::DEFRAG_MAX_DATAGRAM_BYTES,
            max_bytes: limits::DEFRAG_MAX_BYTES,
            timeout_ns: limits::DEFRAG_TIMEOUT_NS,
            max_fragments: limits::DEFRAG_MAX_FRAGMENTS,
        }
    }
}

/// Reassembly counters of one worker (or, merged, of all).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DefragStats {
    /// Fragments handed to the reassembler.
    pub fragments: u64,
    /// Datagrams completed and handed on.
    pub reassembled: u64,
    /// Datagrams dropped incomplete after the timeout.
    pub timeouts: u64,
    /// Datagrams dropped incomplete to make room (count or memory bound).
    pub evictions: u64,
    /// Datagrams dropped because fragments overlapped (evasion signal).
    pub overlaps: u64,
    /// Exact duplicate fragments ignored.
    pub duplicates: u64,
    /// Fragments reaching past `max_datagram_bytes` (their datagram is
    /// dropped).
    pub too_big: u64,
    /// Datagrams dropped for arriving in more than `max_fragments` pieces.
    pub too_many_fragments: u64,
    /// Datagrams dropped for inconsistent fragments (see the module doc).
    pub malformed: u64,
    /// Fragments cut by the snap length, not placed.
    pub truncated: u64,
    /// Datagrams in progress (gauge, at the last push).
    pub datagrams_active: u64,
    /// Buffer bytes held by datagrams in progress (gauge).
    pub bytes_held: u64,
}

impl DefragStats {
    /// Add another worker's counters (gauges add up too).
    pub fn merge(&mut self, o: &DefragStats) {
        for ((_, mine), (_, theirs)) in self.pairs_mut().into_iter().zip(o.pairs()) {
            *mine += theirs;
        }
    }

    /// Every counter with its stable snake_case name.
    pub fn pairs(&self) -> [(&'static str, u64); 12] {
        [
            ("fragments", self.fragments),
            ("reassembled", self.reassembled),
            ("timeouts", self.timeouts),
            ("evictions", self.evictions),
            ("overlaps", self.overlaps),
            ("duplicates", self.duplicates),
            ("too_big", self.too_big),
            ("too_many_fragments", self.too_many_fragments),
            ("malformed", self.malformed),
            ("truncated", self.truncated),
            ("datagrams_active", self.datagrams_active),
            ("bytes_held", self.bytes_held),
        ]
    }

    fn pairs_mut(&mut self) -> [(&'static str, &mut u64); 12] {
        [
            ("fragments", &mut self.fragments),
            ("reassembled", &mut self.reassembled),
            ("timeouts", &mut self.timeouts),
            ("evictions", &mut self.evictions),
            ("overlaps", &mut self.overlaps),
            ("duplicates", &mut self.duplicates),
            ("too_big", &mut self.too_big),
            ("too_many_fragments", &mut self.too_many_fragments),
            ("malformed", &mut self.malformed),
            ("truncated", &mut self.truncated),
            ("datagrams_active", &mut self.datagrams_active),
            ("bytes_held", &mut self.bytes_held),
        ]
    }
}

/// What identifies the fragments of one datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Key {
    src: IpAddr,
    dst: IpAddr,
    id: u32,
    /// IPv4 protocol; 0 for IPv6, whose key has no protocol (RFC 8200 §4.5:
    /// the Fragment headers' Next Header values may differ).
    proto: u8,
}

/// A datagram being reassembled.
#[derive(Debug)]
struct Datagram {
    /// Tells a live `order` entry from a stale one of an earlier datagram
    /// with the same key.
    serial: u64,
    /// Payload bytes received so far, placed at their offsets; its length is
    /// the highest end seen.
    buf: Vec<u8>,
    /// Received pieces `[start, end)`, sorted and disjoint.
    pieces: Vec<(u32, u32)>,
    /// Sum of the pieces' lengths.
    received: u32,
    /// Payload length, known once the last fragment (MF clear) arrived.
    total: Option<u32>,
    /// The offset-0 fragment's protocol / next header.
    protocol: Option<u8>,
}

/// A datagram's buffer and piece list, cleared, kept for reuse.
type Recycled = (Vec<u8>, Vec<(u32, u32)>);

/// Why a datagram is dropped before completion.
#[derive(Clone, Copy, Debug)]
enum Reject {
    Overlap,
    TooBig,
    TooManyFragments,
    Malformed,
}

/// The reassembler of one worker. See the module doc.
#[derive(Debug)]
pub struct Defrag {
    limits: DefragLimits,
    table: HashMap<Key, Datagram>,
    /// Datagrams in creation order (key, serial, first packet time); entries
    /// of datagrams already gone are skipped lazily and compacted away.
    order: VecDeque<(Key, u64, u64)>,
    /// Cleared buffers and piece lists for reuse.
    pool: Vec<Recycled>,
    next_serial: u64,
    /// Allocated capacity of the buffers of datagrams in progress.
    bytes: usize,
    pub stats: DefragStats,
}

impl Default for Defrag {
    fn default() -> Self {
        Defrag::new(DefragLimits::default())
    }
}

impl Defrag {
    pub fn new(limits: DefragLimits) -> Defrag {
        let limits = DefragLimits {
            max_datagrams: limits.max_datagrams.max(1),
            max_bytes: limits.max_bytes.max(limits.max_datagram_bytes),
            max_fragments: limits.max_fragments.max(1),
            ..limits
        };
        Defrag {
            limits,
            table: HashMap::new(),
            order: VecDeque::new(),
            pool: Vec::new(),
            next_serial: 0,
            bytes: 0,
            stats: DefragStats::default(),
        }
    }

    /// Datagrams in progress.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// Buffer bytes (allocated capacity) held by datagrams in progress.
    pub fn bytes_held(&self) -> usize {
        self.bytes
    }

    /// Add one fragment seen at packet time `ts`. When it completes its
    /// datagram, the reassembled IP payload is left in `out` (its previous
    /// contents are discarded) and the metadata to decode it is returned.
    pub fn push(
        &mut self,
        ts: u64,
        frag: &Fragment<'_>,
        out: &mut Vec<u8>,
    ) -> Option<FragmentMeta> {
        self.stats.fragments += 1;
        self.expire(ts);
        let done = self.place(ts, frag, out);
        self.stats.datagrams_active = self.table.len() as u64;
        self.stats.bytes_held = self.bytes as u64;
        done
    }

    /// Drop every datagram in progress (end of input), counting them as
    /// timed out: their missing fragments never came.
    pub fn clear(&mut self) {
        for (_, dg) in std::mem::take(&mut self.table) {
            self.stats.timeouts += 1;
            self.bytes = self.bytes.saturating_sub(dg.buf.capacity());
            self.recycle(dg);
        }
        self.order.clear();
        self.stats.datagrams_active = 0;
        self.stats.bytes_held = self.bytes as u64;
    }

    fn place(&mut self, ts: u64, frag: &Fragment<'_>, out: &mut Vec<u8>) -> Option<FragmentMeta> {
        if frag.truncated {
            self.stats.truncated += 1;
            return None;
        }
        let key = Key {
            src: frag.meta.src_ip,
            dst: frag.meta.dst_ip,
            id: frag.id,
            proto: if frag.meta.is_ipv6() {
                0
            } else {
                frag.meta.protocol
            },
        };
        // A non-last fragment carries a multiple of 8 bytes (RFC 791 §3.2,
        // RFC 8200 §4.5). IPv6 receivers discard one that does not; Linux
        // trims an IPv4 one to the multiple of 8 below, and so does this.
        let mut data = frag.data;
        if frag.more && !data.len().is_multiple_of(8) {
            if frag.meta.is_ipv6() {
                data = &[];
            } else {
                data = data.get(..data.len() & !7).unwrap_or_default();
            }
        }
        if frag.more && data.is_empty() {
            self.drop_datagram(&key, Reject::Malformed);
            return None;
        }
        let len = data.len();
        let start = usize::try_from(frag.offset).unwrap_or(usize::MAX);
        let end = start.saturating_add(len);
        if end > self.limits.max_datagram_bytes {
            self.drop_datagram(&key, Reject::TooBig);
            return None;
        }
        // Fits in u32: bounded by max_datagram_bytes (<= 65,535 by default,
        // and any usize the caller set is checked here).
        let (Ok(start32), Ok(end32)) = (u32::try_from(start), u32::try_from(end)) else {
            self.drop_datagram(&key, Reject::TooBig);
            return None;
        };

        if !self.table.contains_key(&key) {
            while self.table.len() >= self.limits.max_datagrams {
                if !self.evict_oldest(None) {
                    break;
                }
            }
            let (buf, pieces) = self.pool.pop().unwrap_or_default();
            let serial = self.next_serial;
            self.next_serial += 1;
            self.table.insert(
                key,
                Datagram {
                    serial,
                    buf,
                    pieces,
                    received: 0,
                    total: None,
                    protocol: None,
                },
            );
            self.order.push_back((key, serial, ts));
            self.compact_order();
        }

        // Check the fragment against what the datagram already has.
        let verdict = {
            let dg = self.table.get(&key)?;
            check(dg, start32, end32, frag.more, self.limits.max_fragments)
        };
        match verdict {
            Check::Duplicate => {
                self.stats.duplicates += 1;
                return None;
            }
            Check::Reject(why) => {
                self.drop_datagram(&key, why);
                return None;
            }
            Check::Place => {}
        }

        // Make room for the bytes, evicting older datagrams if the memory
        // bound would be passed.
        let (cap_before, cap_needed) = {
            let dg = self.table.get(&key)?;
            (dg.buf.capacity(), end.max(dg.buf.len()))
        };
        let growth = cap_needed.saturating_sub(cap_before);
        while self.bytes.saturating_add(growth) > self.limits.max_bytes {
            if !self.evict_oldest(Some(&key)) {
                // Only this datagram is left and it still does not fit.
                self.stats.evictions += 1;
                self.remove(&key);
                return None;
            }
        }
        let dg = self.table.get_mut(&key)?;
        if dg.buf.len() < end {
            dg.buf.reserve_exact(end - dg.buf.len());
            dg.buf.resize(end, 0);
        }
        let cap_after = dg.buf.capacity();
        dg.buf.get_mut(start..end)?.copy_from_slice(data);
        let at = dg.pieces.partition_point(|&(s, _)| s < start32);
        dg.pieces.insert(at, (start32, end32));
        dg.received = dg.received.saturating_add(end32 - start32);
        if !frag.more {
            dg.total = Some(end32);
        }
        if start32 == 0 {
            dg.protocol = Some(frag.meta.protocol);
        }
        self.bytes = self
            .bytes
            .saturating_add(cap_after.saturating_sub(cap_before));

        // Complete: the disjoint pieces add up to the total length.
        if dg.total != Some(dg.received) {
            return None;
        }
        let protocol = dg.protocol.unwrap_or(frag.meta.protocol);
        let total = dg.received as usize;
        let mut dg = self.table.remove(&key)?;
        self.bytes = self.bytes.saturating_sub(dg.buf.capacity());
        std::mem::swap(out, &mut dg.buf);
        out.truncate(total);
        self.recycle(dg);
        self.stats.reassembled += 1;
        Some(FragmentMeta {
            protocol,
            ..frag.meta
        })
    }

    /// Drop datagrams whose first fragment is older than the timeout.
    fn expire(&mut self, now: u64) {
        while let Some(&(key, serial, first_ts)) = self.order.front() {
            let live = self.table.get(&key).is_some_and(|d| d.serial == serial);
            if !live {
                self.order.pop_front();
                continue;
            }
            if now.saturating_sub(first_ts) <= self.limits.timeout_ns {
                break;
            }
            self.order.pop_front();
            self.stats.timeouts += 1;
            self.remove(&key);
        }
    }

    /// Drop the oldest live datagram other than `keep`; false if there is
    /// none.
    fn evict_oldest(&mut self, keep: Option<&Key>) -> bool {
        let mut i = 0;
        while let Some(&(key, serial, _)) = self.order.get(i) {
            let live = self.table.get(&key).is_some_and(|d| d.serial == serial);
            if !live {
                self.order.remove(i);
                continue;
            }
            if Some(&key) == keep {
                i += 1;
                continue;
            }
            self.order.remove(i);
            self.stats.evictions += 1;
            self.remove(&key);
            return true;
        }
        false
    }

    /// Keep `order` within a small multiple of the table: entries of
    /// completed datagrams stay until they reach the front, which a long-
    /// lived incomplete datagram can delay.
    fn compact_order(&mut self) {
        if self.order.len() > 2 * self.limits.max_datagrams + 16 {
            let table = &self.table;
            self.order
                .retain(|(k, serial, _)| table.get(k).is_some_and(|d| d.serial == *serial));
        }
    }

    fn drop_datagram(&mut self, key: &Key, why: Reject) {
        match why {
            Reject::Overlap => self.stats.overlaps += 1,
            Reject::TooBig => self.stats.too_big += 1,
            Reject::TooManyFragments => self.stats.too_many_fragments += 1,
            Reject::Malformed => self.stats.malformed += 1,
        }
        self.remove(key);
    }

    fn remove(&mut self, key: &Key) {
        if let Some(dg) = self.table.remove(key) {
            self.bytes = self.bytes.saturating_sub(dg.buf.capacity());
            self.recycle(dg);
        }
    }

    fn recycle(&mut self, mut dg: Datagram) {
        if self.pool.len() < limits::DEFRAG_BUFFER_POOL {
            dg.buf.clear();
            dg.pieces.clear();
            self.pool.push((dg.buf, dg.pieces));
        }
    }
}

/// What to do with a fragment, given its datagram so far.
enum Check {
    Place,
    Duplicate,
    Reject(Reject),
}

fn check(dg: &Datagram, start: u32, end: u32, more: bool, max_fragments: usize) -> Check {
    for &(s, e) in &dg.pieces {
        if (s, e) == (start, end) {
            return Check::Duplicate;
        }
        if start < e && s < end {
            return Check::Reject(Reject::Overlap);
        }
    }
    if dg.pieces.len() >= max_fragments {
        return Check::Reject(Reject::TooManyFragments);
    }
    let highest = dg.pieces.last().map_or(0, |&(_, e)| e);
    match (dg.total, more) {
        // A second, different last fragment.
        (Some(_), false) => Check::Reject(Reject::Malformed),
        // Data past the end the last fragment set.
        (Some(total), true) if end > total => Check::Reject(Reject::Malformed),
        // A last fragment ending before data already received.
        (None, false) if highest > end => Check::Reject(Reject::Malformed),
        _ => Check::Place,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fragment of datagram `id` from 192.0.2.1 to 198.51.100.53 (UDP), or
    /// the IPv6 pair when `v6`.
    fn frag(v6: bool, id: u32, offset: u32, more: bool, data: &[u8]) -> Fragment<'_> {
        let (src, dst): (IpAddr, IpAddr) = if v6 {
            (
                "2001:db8::1".parse().unwrap(),
                "2001:db8::53".parse().unwrap(),
            )
        } else {
            (
                "192.0.2.1".parse().unwrap(),
                "198.51.100.53".parse().unwrap(),
            )
        };
        Fragment {
            meta: FragmentMeta {
                src_mac: Some([2, 0, 0, 0, 0, 1]),
                dst_mac: None,
                vlan: Some(offset as u16),
                inner_vlan: None,
                tunnel: None,
                src_ip: src,
                dst_ip: dst,
                protocol: 17,
            },
            id,
            offset,
            more,
            data,
            truncated: false,
        }
    }

    /// 24 bytes of payload in three 8-byte fragments, each byte its index.
    fn payload() -> Vec<u8> {
        (0u8..24).collect()
    }

    #[test]
    fn in_order_and_reversed_reassemble_the_same_bytes() {
        for v6 in [false, true] {
            for reversed in [false, true] {
                let p = payload();
                let mut frags = [
                    frag(v6, 7, 0, true, &p[0..8]),
                    frag(v6, 7, 8, true, &p[8..16]),
                    frag(v6, 7, 16, false, &p[16..24]),
                ];
                if reversed {
                    frags.reverse();
                }
                let mut d = Defrag::default();
                let mut out = vec![0xee; 3];
                let (last, first) = frags.split_last().unwrap();
                for f in first {
                    assert!(d.push(1, f, &mut out).is_none());
                }
                let meta = d.push(2, last, &mut out).expect("complete");
                assert_eq!(out, p);
                // Link fields of the completing fragment.
                assert_eq!(meta.vlan, Some(last.offset as u16));
                assert_eq!(meta.protocol, 17);
                assert_eq!((d.len(), d.bytes_held()), (0, 0));
                assert_eq!((d.stats.fragments, d.stats.reassembled), (3, 1));
            }
        }
    }

    #[test]
    fn ipv6_protocol_comes_from_the_offset_zero_fragment() {
        let p = payload();
        let mut first = frag(true, 9, 0, true, &p[0..8]);
        first.meta.protocol = 60; // destination options first
        let last = frag(true, 9, 8, false, &p[8..12]);
        let mut d = Defrag::default();
        let mut out = Vec::new();
        assert!(d.push(1, &last, &mut out).is_none());
        let meta = d.push(1, &first, &mut out).unwrap();
        assert_eq!(meta.protocol, 60);
        assert_eq!(out, &p[0..12]);
    }

    #[test]
    fn ipv4_key_includes_the_protocol() {
        let p = payload();
        let a = frag(false, 3, 0, true, &p[0..8]);
        let mut b = frag(false, 3, 8, false, &p[8..16]);
        b.meta.protocol = 6;
        let mut d = Defrag::default();
        let mut out = Vec::new();
        assert!(d.push(1, &a, &mut out).is_none());
        assert!(d.push(1, &b, &mut out).is_none());
        assert_eq!(d.len(), 2);
    }

    #[test]
    fn duplicates_are_ignored_and_overlaps_drop_the_datagram() {
        let p = payload();
        let mut d = Defrag::default();
        let mut out = Vec::new();
        let first = frag(false, 1, 0, true, &p[0..8]);
        assert!(d.push(1, &first, &mut out).is_none());
        // Same offset and length, other bytes: ignored, the first copy wins.
        let other = [0xff; 8];
        assert!(
            d.push(1, &frag(false, 1, 0, true, &other), &mut out)
                .is_none()
        );
        assert_eq!(d.stats.duplicates, 1);
        assert!(
            d.push(1, &frag(false, 1, 8, false, &p[8..16]), &mut out)
                .is_some()
        );
        assert_eq!(out, &p[0..16]);

        // Partial overlap: bytes 8..16 then 0..16.
        assert!(
            d.push(1, &frag(false, 2, 8, true, &p[8..16]), &mut out)
                .is_none()
        );
        assert!(
            d.push(1, &frag(false, 2, 0, true, &p[0..16]), &mut out)
                .is_none()
        );
        assert_eq!((d.stats.overlaps, d.len()), (1, 0));
        // The rest of the datagram starts over and never completes.
        assert!(
            d.push(1, &frag(false, 2, 16, false, &p[16..24]), &mut out)
                .is_none()
        );
        assert_eq!((d.stats.reassembled, d.len()), (1, 1));
    }

    #[test]
    fn missing_fragment_times_out_by_packet_time() {
        let p = payload();
        let limits = DefragLimits::default();
        let mut d = Defrag::default();
        let mut out = Vec::new();
        assert!(
            d.push(1_000, &frag(false, 5, 0, true, &p[0..8]), &mut out)
                .is_none()
        );
        // Just within the timeout: still there.
        let t = 1_000 + limits.timeout_ns;
        assert!(
            d.push(t, &frag(false, 6, 0, true, &p[0..8]), &mut out)
                .is_none()
        );
        assert_eq!((d.len(), d.stats.timeouts), (2, 0));
        // Past it: the first datagram is dropped; its last fragment then
        // starts a new datagram instead of completing it.
        assert!(
            d.push(t + 1, &frag(false, 5, 8, false, &p[8..16]), &mut out)
                .is_none()
        );
        assert_eq!(d.stats.timeouts, 1);
        assert_eq!(d.stats.reassembled, 0);
        d.clear();
        assert_eq!((d.len(), d.bytes_held(), d.stats.timeouts), (0, 0, 3));
    }

    #[test]
    fn inconsistent_fragments_are_counted() {
        let p = payload();
        let mut d = Defrag::default();
        let mut out = Vec::new();
        // Non-last fragments of 5 bytes: IPv6 drops, IPv4 trims to nothing.
        assert!(
            d.push(1, &frag(true, 1, 0, true, &p[0..5]), &mut out)
                .is_none()
        );
        assert!(
            d.push(1, &frag(false, 1, 0, true, &p[0..5]), &mut out)
                .is_none()
        );
        // Two last fragments with different ends.
        assert!(
            d.push(1, &frag(false, 2, 8, false, &p[0..8]), &mut out)
                .is_none()
        );
        assert!(
            d.push(1, &frag(false, 2, 16, false, &p[0..8]), &mut out)
                .is_none()
        );
        // Data past the end.
        assert!(
            d.push(1, &frag(false, 3, 0, false, &p[0..8]), &mut out)
                .is_some()
        );
        assert!(
            d.push(1, &frag(false, 4, 8, false, &p[0..8]), &mut out)
                .is_none()
        );
        assert!(
            d.push(1, &frag(false, 4, 16, true, &p[0..8]), &mut out)
                .is_none()
        );
        assert_eq!(d.stats.malformed, 4);
        // Past 65,535 bytes.
        assert!(
            d.push(1, &frag(false, 5, 65_528, true, &p[0..8]), &mut out)
                .is_none()
        );
        assert_eq!(d.stats.too_big, 1);
        // Cut by the snap length.
        let mut cut = frag(false, 6, 0, true, &p[0..8]);
        cut.truncated = true;
        assert!(d.push(1, &cut, &mut out).is_none());
        assert_eq!(d.stats.truncated, 1);
        assert_eq!(d.len(), 0);
    }

    #[test]
    fn ipv4_non_last_fragment_is_trimmed_to_a_multiple_of_8() {
        let p = payload();
        let mut d = Defrag::default();
        let mut out = Vec::new();
        // 0..13 keeps 0..8; then 8..24 completes.
        assert!(
            d.push(1, &frag(false, 1, 0, true, &p[0..13]), &mut out)
                .is_none()
        );
        assert!(
            d.push(1, &frag(false, 1, 8, false, &p[8..24]), &mut out)
                .is_some()
        );
        assert_eq!(out, p);
    }

    #[test]
    fn too_many_fragments() {
        let limits = DefragLimits {
            max_fragments: 4,
            ..DefragLimits::default()
        };
        let mut d = Defrag::new(limits);
        let mut out = Vec::new();
        let p = [0u8; 8];
        for i in 0..5u32 {
            assert!(
                d.push(1, &frag(false, 1, i * 8, true, &p), &mut out)
                    .is_none()
            );
        }
        assert_eq!((d.stats.too_many_fragments, d.len()), (1, 0));
    }

    #[test]
    fn count_and_memory_bounds_evict_the_oldest() {
        let limits = DefragLimits {
            max_datagrams: 4,
            max_datagram_bytes: 1024,
            max_bytes: 2048,
            ..DefragLimits::default()
        };
        let mut d = Defrag::new(limits);
        let mut out = Vec::new();
        let p = [1u8; 8];
        for id in 0..10u32 {
            assert!(d.push(1, &frag(false, id, 0, true, &p), &mut out).is_none());
            assert!(d.len() <= 4);
        }
        assert_eq!(d.stats.evictions, 6);
        // The newest four survive: completing datagram 9 works, 0 does not.
        assert!(d.push(1, &frag(false, 9, 8, false, &p), &mut out).is_some());
        assert!(d.push(1, &frag(false, 0, 8, false, &p), &mut out).is_none());
        // Large fragments: 1,000 bytes each, at most two fit in 2,048.
        let big = [2u8; 1000];
        for id in 100..110u32 {
            d.push(1, &frag(false, id, 0, true, &big), &mut out);
            assert!(d.bytes_held() <= 2048, "{}", d.bytes_held());
        }
        assert!(d.stats.evictions > 6);
    }
}
