//! Which UDP 5-tuples have been seen recently, so the worker can report the
//! first datagram of each UDP flow (`Event::FlowStart`) for attribution:
//! QUIC or plain UDP to an address a vendor name resolved to, and the KSC
//! UDP ports. Bounded; idle tuples expire by packet time.

use std::collections::HashMap;

use super::FlowKey;
use crate::config::limits;

/// Counters of the UDP flow set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UdpFlowStats {
    /// Datagrams that started a flow (first of their 5-tuple).
    pub udp_flows_started: u64,
    /// Tuples forgotten because idle longer than the timeout.
    pub udp_flows_expired: u64,
    /// Tuples forgotten because the set was full (a later datagram of such a
    /// flow is reported as a new start).
    pub udp_flows_evicted: u64,
}

/// The bounded set of recent UDP tuples (keyed hash: tuples are
/// attacker-chosen).
pub struct UdpFlows {
    seen: HashMap<FlowKey, u64, foldhash::fast::RandomState>,
    last_sweep: u64,
    pub stats: UdpFlowStats,
}

impl Default for UdpFlows {
    fn default() -> Self {
        UdpFlows {
            seen: HashMap::with_hasher(foldhash::fast::RandomState::default()),
            last_sweep: 0,
            stats: UdpFlowStats::default(),
        }
    }
}

impl UdpFlows {
    /// Note a datagram of `key` at packet time `ts`; true when it is the
    /// first of its flow (none seen within the idle timeout).
    pub fn first(&mut self, key: FlowKey, ts: u64) -> bool {
        if ts.saturating_sub(self.last_sweep) >= limits::FLOW_SWEEP_INTERVAL_NS {
            self.sweep(ts);
        }
        if let Some(last) = self.seen.get_mut(&key) {
            let fresh = ts.saturating_sub(*last) > limits::UDP_FLOW_IDLE_TIMEOUT_NS;
            *last = ts;
            if fresh {
                self.stats.udp_flows_started += 1;
            }
            return fresh;
        }
        if self.seen.len() >= limits::MAX_UDP_FLOWS_PER_WORKER {
            self.sweep(ts);
            if self.seen.len() >= limits::MAX_UDP_FLOWS_PER_WORKER {
                // Full of live tuples: forget them all rather than scan per
                // packet; their next datagrams count as new starts.
                self.stats.udp_flows_evicted += self.seen.len() as u64;
                self.seen.clear();
            }
        }
        self.seen.insert(key, ts);
        self.stats.udp_flows_started += 1;
        true
    }

    fn sweep(&mut self, now: u64) {
        self.last_sweep = now;
        let before = self.seen.len();
        self.seen
            .retain(|_, last| now.saturating_sub(*last) <= limits::UDP_FLOW_IDLE_TIMEOUT_NS);
        self.stats.udp_flows_expired += (before - self.seen.len()) as u64;
    }

    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    pub fn clear(&mut self) {
        self.seen.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr};

    fn key(p: u16) -> FlowKey {
        let a = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
        let b = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
        FlowKey::new(super::super::PROTO_UDP, a, p, b, 443).0
    }

    #[test]
    fn first_datagram_only_and_again_after_idle() {
        let mut u = UdpFlows::default();
        assert!(u.first(key(1), 0));
        assert!(!u.first(key(1), 1_000));
        assert!(u.first(key(2), 1_000));
        let later = 1_000 + limits::UDP_FLOW_IDLE_TIMEOUT_NS + 1;
        assert!(u.first(key(1), later));
        assert_eq!(u.stats.udp_flows_started, 3);
    }

    #[test]
    fn bounded() {
        let mut u = UdpFlows::default();
        for p in 0..(limits::MAX_UDP_FLOWS_PER_WORKER as u32 + 10) {
            let k = FlowKey::new(
                super::super::PROTO_UDP,
                IpAddr::V4(Ipv4Addr::from(p)),
                1,
                IpAddr::V4(Ipv4Addr::new(1, 1, 1, 1)),
                53,
            )
            .0;
            u.first(k, 1);
            assert!(u.len() <= limits::MAX_UDP_FLOWS_PER_WORKER);
        }
        assert!(u.stats.udp_flows_evicted > 0);
    }
}
