//! Reassembly of the first bytes of one TCP stream direction (RFC 9293 §3.4
//! sequence numbers, compared modulo 2^32).
//!
//! Only what the extractors need is reassembled: the start of the stream
//! (a ClientHello, an HTTP request head) and, for HTTP, each later request
//! head. In-order segments that complete a message are handed to the
//! extractor without copying; only a message split over segments is copied
//! into a buffer recycled through the table's pool. Retransmitted bytes are
//! trimmed; segments that arrive early are held (bounded) until the gap
//! fills.

use crate::config::limits;

use super::FlowStats;

/// Which endpoint of a [`super::FlowKey`] sent a segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Sent by the key's `lo` endpoint.
    Lo,
    /// Sent by the key's `hi` endpoint.
    Hi,
}

impl Direction {
    pub fn index(self) -> usize {
        match self {
            Direction::Lo => 0,
            Direction::Hi => 1,
        }
    }
}

/// What the extractor wants after looking at the in-order bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamEvent {
    /// The message is incomplete: buffer these bytes and call again when
    /// more arrive.
    Continue,
    /// A complete message of this many bytes was consumed; look at what
    /// follows it.
    Consumed(usize),
    /// Nothing starts here; forget these bytes and look again at the start
    /// of the next segment (e.g. an HTTP body between two requests).
    Skip,
    /// Nothing more to extract from this direction.
    Done,
}

/// What the extractor has learnt about a direction; it reads and sets it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum App {
    /// Nothing seen yet.
    #[default]
    Unknown,
    /// A ClientHello is being reassembled.
    Tls,
    /// HTTP/1.x requests: keep looking for request heads.
    Http,
    /// DNS over TCP (RFC 1035 §4.2.2): length-prefixed messages.
    Dns,
    /// This many segment starts were neither a hello nor a request (a
    /// SOCKS or STARTTLS preamble may come first); the extractor gives up
    /// after `limits::MAX_PROBED_SEGMENTS`.
    Probing(u8),
}

/// One segment held because it arrived before the bytes preceding it.
#[derive(Debug)]
struct Held {
    seq: u32,
    data: Vec<u8>,
}

/// Reassembly state of one direction.
#[derive(Debug, Default)]
pub struct DirectionState {
    /// Next expected sequence number, once known (SYN or first data).
    next_seq: Option<u32>,
    /// In-order bytes not yet consumed by the extractor.
    buf: Vec<u8>,
    /// Segments beyond a gap, in arrival order.
    held: Vec<Held>,
    done: bool,
    pub app: App,
}

impl DirectionState {
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Segments are held beyond a gap that never filled: the bytes before
    /// them (e.g. a hello's first segment) were lost.
    pub fn gap_pending(&self) -> bool {
        !self.done && !self.held.is_empty()
    }

    pub fn bytes_held(&self) -> usize {
        self.buf.len() + self.held.iter().map(|h| h.data.len()).sum::<usize>()
    }

    /// Return buffers to the pool.
    pub fn release(&mut self, pool: &mut Vec<Vec<u8>>) {
        let mut b = std::mem::take(&mut self.buf);
        if b.capacity() > 0 && pool.len() < limits::STREAM_BUFFER_POOL {
            b.clear();
            pool.push(b);
        }
        for h in self.held.drain(..) {
            let mut d = h.data;
            if d.capacity() > 0 && pool.len() < limits::STREAM_BUFFER_POOL {
                d.clear();
                pool.push(d);
            }
        }
    }

    fn finish(&mut self, pool: &mut Vec<Vec<u8>>) {
        self.done = true;
        self.release(pool);
    }

    /// A SYN fixes the initial sequence number: data starts at ISN + 1.
    pub fn on_syn(&mut self, seq: u32) {
        if self.next_seq.is_none() && !self.done {
            self.next_seq = Some(seq.wrapping_add(1));
        }
    }

    /// Feed a data segment.
    pub fn on_data(
        &mut self,
        seq: u32,
        payload: &[u8],
        pool: &mut Vec<Vec<u8>>,
        stats: &mut FlowStats,
        on_stream: &mut dyn FnMut(&[u8], &mut App) -> StreamEvent,
    ) {
        if self.done {
            return;
        }
        // Without a SYN, the first data segment seen starts the stream.
        let next = *self.next_seq.get_or_insert(seq);
        // Signed distance modulo 2^32 (RFC 9293 §3.4).
        let diff = seq.wrapping_sub(next) as i32;
        if diff > 0 {
            self.hold(seq, payload, pool, stats);
            return;
        }
        let skip = diff.unsigned_abs() as usize;
        if skip >= payload.len() {
            stats.segments_retransmitted += 1;
            return;
        }
        if skip > 0 {
            stats.segments_retransmitted += 1;
        }
        let fresh = &payload[skip..];
        self.next_seq = Some(next.wrapping_add(fresh.len() as u32));
        self.feed(fresh, pool, stats, on_stream);
        // The new bytes may have closed a gap: release held segments in order.
        while !self.done && !self.held.is_empty() {
            let Some(next) = self.next_seq else { break };
            let mut progressed = false;
            let mut i = 0;
            while i < self.held.len() {
                let d = self.held[i].seq.wrapping_sub(next) as i32;
                if d <= 0 {
                    let h = self.held.swap_remove(i);
                    let skip = d.unsigned_abs() as usize;
                    if skip < h.data.len() {
                        let fresh = &h.data[skip..];
                        self.next_seq = Some(next.wrapping_add(fresh.len() as u32));
                        self.feed(fresh, pool, stats, on_stream);
                    } else {
                        stats.segments_retransmitted += 1;
                    }
                    let mut d = h.data;
                    if pool.len() < limits::STREAM_BUFFER_POOL {
                        d.clear();
                        pool.push(d);
                    }
                    progressed = true;
                    break;
                }
                i += 1;
            }
            if !progressed {
                break;
            }
        }
    }

    fn hold(&mut self, seq: u32, payload: &[u8], pool: &mut Vec<Vec<u8>>, stats: &mut FlowStats) {
        let held: usize = self.held.iter().map(|h| h.data.len()).sum();
        if self.held.len() >= limits::MAX_HELD_SEGMENTS
            || held + payload.len() > limits::MAX_HELD_BYTES
        {
            stats.segments_ooo_dropped += 1;
            // The gap will never be filled from what we kept: give up on
            // this direction rather than guess.
            stats.stream_gap_abandoned += 1;
            self.finish(pool);
            return;
        }
        stats.segments_out_of_order += 1;
        let mut data = pool.pop().unwrap_or_default();
        data.extend_from_slice(payload);
        self.held.push(Held { seq, data });
    }

    /// Hand in-order bytes to the extractor.
    fn feed(
        &mut self,
        fresh: &[u8],
        pool: &mut Vec<Vec<u8>>,
        stats: &mut FlowStats,
        on_stream: &mut dyn FnMut(&[u8], &mut App) -> StreamEvent,
    ) {
        if self.buf.is_empty() {
            // Fast path: look at the segment in place.
            let mut view = fresh;
            loop {
                match on_stream(view, &mut self.app) {
                    StreamEvent::Done => return self.finish(pool),
                    StreamEvent::Skip => return,
                    StreamEvent::Consumed(n) => {
                        if n == 0 || n >= view.len() {
                            return;
                        }
                        view = &view[n..];
                    }
                    StreamEvent::Continue => {
                        if self.buf.capacity() == 0
                            && let Some(b) = pool.pop()
                        {
                            self.buf = b;
                        }
                        let room = limits::MAX_STREAM_PREFIX;
                        if view.len() > room {
                            stats.stream_prefix_overflow += 1;
                            return self.finish(pool);
                        }
                        self.buf.extend_from_slice(view);
                        return;
                    }
                }
            }
        }
        let room = limits::MAX_STREAM_PREFIX.saturating_sub(self.buf.len());
        let overflow = fresh.len() > room;
        self.buf.extend_from_slice(&fresh[..fresh.len().min(room)]);
        loop {
            match on_stream(&self.buf, &mut self.app) {
                StreamEvent::Done => return self.finish(pool),
                StreamEvent::Skip => {
                    self.buf.clear();
                    return;
                }
                StreamEvent::Consumed(n) => {
                    if n == 0 || n >= self.buf.len() {
                        self.buf.clear();
                        return;
                    }
                    self.buf.drain(..n);
                }
                StreamEvent::Continue => {
                    if overflow || self.buf.len() >= limits::MAX_STREAM_PREFIX {
                        stats.stream_prefix_overflow += 1;
                        return self.finish(pool);
                    }
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A toy extractor: messages are `<len byte><len bytes>`; records every
    /// complete message.
    fn toy(got: &mut Vec<Vec<u8>>) -> impl FnMut(&[u8], &mut App) -> StreamEvent + '_ {
        move |b: &[u8], _app: &mut App| match b.first() {
            None => StreamEvent::Continue,
            Some(&n) if b.len() > usize::from(n) => {
                got.push(b[1..=usize::from(n)].to_vec());
                StreamEvent::Consumed(usize::from(n) + 1)
            }
            Some(_) => StreamEvent::Continue,
        }
    }

    #[test]
    fn in_order_split_message_is_joined() {
        let mut d = DirectionState::default();
        let (mut pool, mut st, mut got) = (Vec::new(), FlowStats::default(), Vec::new());
        d.on_syn(99);
        d.on_data(
            100,
            &[4, b'a', b'b'],
            &mut pool,
            &mut st,
            &mut toy(&mut got),
        );
        assert!(got.is_empty());
        d.on_data(
            103,
            &[b'c', b'd', 1, b'x'],
            &mut pool,
            &mut st,
            &mut toy(&mut got),
        );
        assert_eq!(got, vec![b"abcd".to_vec(), b"x".to_vec()]);
        assert_eq!(d.bytes_held(), 0);
    }

    #[test]
    fn out_of_order_and_retransmission() {
        let mut d = DirectionState::default();
        let (mut pool, mut st, mut got) = (Vec::new(), FlowStats::default(), Vec::new());
        d.on_syn(u32::MAX); // data starts at 0: exercises wrap-around
        // second half first
        d.on_data(3, b"cd", &mut pool, &mut st, &mut toy(&mut got));
        assert_eq!(st.segments_out_of_order, 1);
        // first half, then a retransmission of it
        d.on_data(0, &[4, b'a', b'b'], &mut pool, &mut st, &mut toy(&mut got));
        d.on_data(0, &[4, b'a', b'b'], &mut pool, &mut st, &mut toy(&mut got));
        assert_eq!(got, vec![b"abcd".to_vec()]);
        assert_eq!(st.segments_retransmitted, 1);
    }

    #[test]
    fn overlapping_segment_is_trimmed() {
        let mut d = DirectionState::default();
        let (mut pool, mut st, mut got) = (Vec::new(), FlowStats::default(), Vec::new());
        d.on_data(10, &[3, b'a'], &mut pool, &mut st, &mut toy(&mut got));
        d.on_data(11, b"abc", &mut pool, &mut st, &mut toy(&mut got));
        assert_eq!(got, vec![b"abc".to_vec()]);
    }

    #[test]
    fn prefix_limit_gives_up_and_counts() {
        let mut d = DirectionState::default();
        let (mut pool, mut st) = (Vec::new(), FlowStats::default());
        let mut never = |_: &[u8], _: &mut App| StreamEvent::Continue;
        let chunk = vec![0u8; 1000];
        let mut seq = 0u32;
        while !d.is_done() {
            d.on_data(seq, &chunk, &mut pool, &mut st, &mut never);
            seq = seq.wrapping_add(1000);
            assert!(d.bytes_held() <= limits::MAX_STREAM_PREFIX);
        }
        assert_eq!(st.stream_prefix_overflow, 1);
    }

    #[test]
    fn held_segments_are_bounded() {
        let mut d = DirectionState::default();
        let (mut pool, mut st) = (Vec::new(), FlowStats::default());
        let mut never = |_: &[u8], _: &mut App| StreamEvent::Continue;
        d.on_data(0, &[1], &mut pool, &mut st, &mut never);
        let mut i = 0u32;
        while !d.is_done() {
            d.on_data(100 + i * 2000, &[0u8; 1000], &mut pool, &mut st, &mut never);
            i += 1;
            assert!(d.bytes_held() <= limits::MAX_HELD_BYTES + 1);
        }
        assert_eq!(st.stream_gap_abandoned, 1);
    }
}
