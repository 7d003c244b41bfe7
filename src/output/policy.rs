//! The alert policy: which sightings of a matched name become alert
//! records, so a host that phones home every five minutes does not produce
//! 288 identical alerts a day.
//!
//! # Rules (the same offline and live; all times are packet time)
//!
//! A *key* is (host = source IP, vendor = rule's ruleset, name compared
//! ASCII case-insensitively, since DNS names are, RFC 4343 §3).
//!
//! 1. The first sighting of a key is written at once ([`Decision::Emit`]).
//! 2. A sighting whose rule's confidence is higher than any confidence
//!    already written for its host is written at once, whatever its key
//!    ("first high-confidence evidence after only browsing").
//! 3. Any other sighting is counted. When a sighting arrives at least one
//!    re-alert interval after the key's previous report, a roll-up is
//!    written ([`Decision::Rollup`]): how many sightings since the previous
//!    report (this one included), the first and last of them, and when the
//!    previous report was. Otherwise the sighting is suppressed.
//! 4. [`AlertPolicy::flush_due`] writes the roll-ups whose interval has
//!    passed without a new sighting to trigger them (live mode calls it
//!    periodically with the latest packet time); `flush_due(u64::MAX)` at
//!    the end of a run writes every pending roll-up, so every sighting is
//!    accounted for in some record.
//! 5. With `every_sighting`, every sighting is written as it is.
//!
//! Memory is bounded by [`limits::POLICY_MAX_KEYS`]: a key that finds the
//! table full is not remembered and all its sightings are written (fail
//! open), counted in [`PolicyCounters::state_full`].
//!
//! Guarantee: for every key, (sightings written as alerts) + (sum of
//! roll-up counts) = sightings given to [`AlertPolicy::decide`], once
//! `flush_due(u64::MAX)` has run.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::io::Write;
use std::net::IpAddr;

use super::json;
use super::time::write_rfc3339;
use crate::config::limits;
use crate::event::{NameEvent, TsNs};
use crate::signatures::Confidence;

/// A roll-up of sightings of one key since its previous report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rollup {
    /// Sightings since the previous report (≥ 1).
    pub count: u64,
    /// Packet time of the first of them.
    pub first_ts: TsNs,
    /// Packet time of the last of them.
    pub last_ts: TsNs,
    /// Packet time of the previous report of this key (the first alert or
    /// the previous roll-up).
    pub since_ts: TsNs,
}

/// Why a sighting is written as an alert.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmitReason {
    /// First sighting of its (host, vendor, name).
    First,
    /// The host's confidence rose with this sighting.
    ConfidenceRose,
    /// Roll-up is off (`--every-sighting`).
    EverySighting,
    /// The policy table was full; this key is not rolled up.
    StateFull,
}

/// What the output stage does with one alert sighting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Write the event as an alert record.
    Emit(EmitReason),
    /// Counted into a later roll-up; write nothing now.
    Suppress,
    /// Write the event as a roll-up record with these counts
    /// ([`write_rollup_json`], `AlertSink::rollup`).
    Rollup(Rollup),
}

/// A roll-up produced by [`AlertPolicy::flush_due`]: the latest sighting of
/// the key and its counts.
#[derive(Clone, Debug)]
pub struct RollupReport {
    pub event: NameEvent,
    pub rollup: Rollup,
}

/// Policy counters, for `--stats` and `/metrics`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PolicyCounters {
    /// Sightings given to `decide`.
    pub sightings: u64,
    /// Sightings written as alerts.
    pub emitted: u64,
    /// Sightings counted into roll-ups.
    pub suppressed: u64,
    /// Roll-up records produced (by `decide` and `flush_due`).
    pub rollups: u64,
    /// Keys not remembered because [`limits::POLICY_MAX_KEYS`] was reached.
    pub state_full: u64,
    /// Hosts not remembered because [`limits::POLICY_MAX_HOSTS`] was reached.
    pub hosts_full: u64,
}

/// Per-key state.
#[derive(Debug)]
struct KeyState {
    host: IpAddr,
    /// The latest sighting (also the key's vendor and name).
    last: NameEvent,
    /// Packet time of the previous report.
    reported_ts: TsNs,
    /// Sightings since then, and the first one's time.
    pending: u64,
    first_pending_ts: TsNs,
}

impl KeyState {
    fn matches(&self, host: IpAddr, vendor: &str, name: &[u8]) -> bool {
        self.host == host
            && self.last.rule.as_ref().is_some_and(|r| r.vendor == vendor)
            && self.last.name.eq_ignore_ascii_case(name)
    }

    /// Takes the pending roll-up and starts a new interval at `now`.
    fn take_rollup(&mut self, now: TsNs) -> Rollup {
        let r = Rollup {
            count: self.pending,
            first_ts: self.first_pending_ts,
            last_ts: self.last.ts,
            since_ts: self.reported_ts,
        };
        self.pending = 0;
        self.reported_ts = now;
        r
    }
}

/// The alert policy state (see the module documentation).
#[derive(Debug)]
pub struct AlertPolicy {
    realert_ns: u64,
    every_sighting: bool,
    /// Keyed hash of (host, vendor, lowercase name) → states with that hash
    /// (collisions are resolved by comparing the full key).
    keys: HashMap<u64, Vec<KeyState>>,
    key_count: usize,
    /// Highest confidence written per host.
    hosts: HashMap<IpAddr, Confidence, foldhash::fast::RandomState>,
    hasher: foldhash::fast::RandomState,
    counters: PolicyCounters,
}

impl AlertPolicy {
    /// `realert_ns`: the re-alert interval in packet-time nanoseconds
    /// (default [`limits::POLICY_DEFAULT_REALERT_NS`]); `every_sighting`
    /// turns roll-up off.
    pub fn new(realert_ns: u64, every_sighting: bool) -> Self {
        AlertPolicy {
            realert_ns,
            every_sighting,
            keys: HashMap::new(),
            key_count: 0,
            hosts: HashMap::default(),
            hasher: foldhash::fast::RandomState::default(),
            counters: PolicyCounters::default(),
        }
    }

    pub fn counters(&self) -> PolicyCounters {
        self.counters
    }

    /// Keys currently remembered.
    pub fn keys(&self) -> usize {
        self.key_count
    }

    fn hash_key(&self, host: IpAddr, vendor: &str, name: &[u8]) -> u64 {
        let mut h = self.hasher.build_hasher();
        match host {
            IpAddr::V4(a) => h.write(&a.octets()),
            IpAddr::V6(a) => h.write(&a.octets()),
        }
        h.write(vendor.as_bytes());
        h.write_u8(0xff);
        for &b in name {
            h.write_u8(b.to_ascii_lowercase());
        }
        h.finish()
    }

    /// Decides what to do with one sighting. Events without a rule (not
    /// alerts) are always [`Decision::Emit`]`(EverySighting)`: the policy
    /// only concerns alerts. Allocates only for a new key.
    pub fn decide(&mut self, ev: &NameEvent) -> Decision {
        let Some(rule) = ev.rule.as_ref() else {
            return Decision::Emit(EmitReason::EverySighting);
        };
        self.counters.sightings += 1;
        let host = ev.endpoints.src_ip;
        let confidence_rose = self.note_confidence(host, rule.confidence);
        if self.every_sighting {
            return self.emit(EmitReason::EverySighting);
        }
        let h = self.hash_key(host, &rule.vendor, &ev.name);
        let realert = self.realert_ns;
        if let Some(st) = self.keys.get_mut(&h).and_then(|v| {
            v.iter_mut()
                .find(|s| s.matches(host, &rule.vendor, &ev.name))
        }) {
            update_last(&mut st.last, ev);
            if confidence_rose {
                // Written as an alert: it is a report, so the interval restarts.
                let _ = st.take_rollup(ev.ts);
                return self.emit(EmitReason::ConfidenceRose);
            }
            if st.pending == 0 {
                st.first_pending_ts = ev.ts;
            }
            st.pending += 1;
            if ev.ts >= st.reported_ts.saturating_add(realert) {
                let r = st.take_rollup(ev.ts);
                self.counters.rollups += 1;
                return Decision::Rollup(r);
            }
            self.counters.suppressed += 1;
            return Decision::Suppress;
        }
        if self.key_count >= limits::POLICY_MAX_KEYS {
            self.counters.state_full += 1;
            return self.emit(EmitReason::StateFull);
        }
        self.keys.entry(h).or_default().push(KeyState {
            host,
            last: ev.clone(),
            reported_ts: ev.ts,
            pending: 0,
            first_pending_ts: ev.ts,
        });
        self.key_count += 1;
        self.emit(if confidence_rose {
            EmitReason::ConfidenceRose
        } else {
            EmitReason::First
        })
    }

    fn emit(&mut self, why: EmitReason) -> Decision {
        self.counters.emitted += 1;
        Decision::Emit(why)
    }

    /// Records `c` for `host`; true when it is higher than the host's
    /// previous highest (and the host was known).
    fn note_confidence(&mut self, host: IpAddr, c: Confidence) -> bool {
        match self.hosts.get_mut(&host) {
            Some(prev) if c > *prev => {
                *prev = c;
                true
            }
            Some(_) => false,
            None => {
                if self.hosts.len() < limits::POLICY_MAX_HOSTS {
                    self.hosts.insert(host, c);
                } else {
                    self.counters.hosts_full += 1;
                }
                false
            }
        }
    }

    /// The roll-ups due at packet time `now`: every key with pending
    /// sightings whose previous report is at least one interval before
    /// `now`. `flush_due(u64::MAX)` returns every pending roll-up (end of
    /// run). The interval of each returned key restarts at `now`.
    pub fn flush_due(&mut self, now: TsNs) -> Vec<RollupReport> {
        let mut out = Vec::new();
        for st in self.keys.values_mut().flatten() {
            if st.pending > 0 && now >= st.reported_ts.saturating_add(self.realert_ns) {
                let rollup = st.take_rollup(now);
                out.push(RollupReport {
                    event: st.last.clone(),
                    rollup,
                });
            }
        }
        // Deterministic order for the output: by the last sighting's packet.
        out.sort_by_key(|r| (r.event.packet, r.event.ts));
        self.counters.rollups += out.len() as u64;
        out
    }
}

/// Copies the per-sighting fields of `ev` into `last` without allocating
/// unless the protocol detail differs.
fn update_last(last: &mut NameEvent, ev: &NameEvent) {
    last.ts = ev.ts;
    last.packet = ev.packet;
    last.protocol = ev.protocol;
    last.endpoints = ev.endpoints;
    if last.detail != ev.detail {
        last.detail = ev.detail.clone();
    }
    if last.name != ev.name {
        // Same name but for ASCII case: keep the latest spelling.
        last.name = ev.name.clone();
    }
}

/// Appends the roll-up record of `ev` as one ECS JSON line: the alert line
/// of the latest sighting ([`json::write_event`]) with
/// `phonehome.rollup` added as the last field of `phonehome`:
/// `{"count":N,"first_seen":"…","last_seen":"…","since":"…"}`
/// (docs/SCHEMA.md, version 1.1).
pub fn write_rollup_json(ev: &NameEvent, r: &Rollup, buf: &mut Vec<u8>) {
    let start = buf.len();
    json::write_event(ev, buf);
    // write_event always ends the line with the `phonehome` object's and
    // the record's closing braces and a newline: reopen `phonehome`.
    if buf.get(start..).is_some_and(|l| l.ends_with(b"}}\n")) {
        buf.truncate(buf.len() - 3);
        write_rollup_fields(r, buf);
        buf.extend_from_slice(b"}}\n");
    }
}

/// `,"rollup":{…}` (the object only; the caller closes `phonehome`).
fn write_rollup_fields(r: &Rollup, buf: &mut Vec<u8>) {
    let _ = write!(buf, r#","rollup":{{"count":{},"first_seen":""#, r.count);
    write_rfc3339(r.first_ts, buf);
    buf.extend_from_slice(br#"","last_seen":""#);
    write_rfc3339(r.last_ts, buf);
    buf.extend_from_slice(br#"","since":""#);
    write_rfc3339(r.since_ts, buf);
    buf.extend_from_slice(br#""}"#);
}

/// The alert policy in front of a set of sinks: alerts go through
/// [`AlertPolicy::decide`] (written, suppressed or rolled up); derived
/// alerts of the attribution stage are written once per (host, kind, rule)
/// per re-alert interval, to every sink alike; other events pass through.
/// [`EventSink::flush`](super::sink::EventSink::flush) writes the roll-ups
/// that fell due by the latest packet time (live mode flushes
/// periodically); [`EventSink::close`](super::sink::EventSink::close)
/// writes every pending roll-up, so that each sighting is accounted for in
/// some record.
pub struct PolicySink {
    policy: AlertPolicy,
    sinks: Vec<Box<dyn super::sink::EventSink + Send>>,
    latest_ts: TsNs,
    /// The policy's counters as of the last flush, readable by the caller
    /// after the sink has moved to the output thread.
    shared: std::sync::Arc<std::sync::Mutex<PolicyCounters>>,
    /// Derived alerts (attribution evidence): when each (host, kind, rule)
    /// was last written. One record per key per re-alert interval; the
    /// inventory counts every piece of evidence.
    evidence_seen: HashMap<(std::net::IpAddr, u8, Box<str>), TsNs>,
    realert_ns: u64,
}

impl PolicySink {
    pub fn new(policy: AlertPolicy, sinks: Vec<Box<dyn super::sink::EventSink + Send>>) -> Self {
        PolicySink {
            realert_ns: policy.realert_ns,
            policy,
            sinks,
            latest_ts: 0,
            shared: Default::default(),
            evidence_seen: HashMap::new(),
        }
    }

    /// A handle on the counters, updated at every flush and at close.
    pub fn counters(&self) -> std::sync::Arc<std::sync::Mutex<PolicyCounters>> {
        std::sync::Arc::clone(&self.shared)
    }

    fn publish(&self) {
        if let Ok(mut c) = self.shared.lock() {
            *c = self.policy.counters();
        }
    }

    fn rollups(&mut self, now: TsNs) -> std::io::Result<()> {
        let mut first_err = None;
        for rep in self.policy.flush_due(now) {
            for s in self.sinks.iter_mut() {
                if let Err(e) = s.rollup(&rep.event, &rep.rollup) {
                    first_err.get_or_insert(e);
                }
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// Run `f` on every sink, keep going on errors, report the first.
    fn each(
        &mut self,
        mut f: impl FnMut(&mut Box<dyn super::sink::EventSink + Send>) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        let mut first_err = None;
        for s in self.sinks.iter_mut() {
            if let Err(e) = f(s) {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}

impl super::sink::EventSink for PolicySink {
    fn event(&mut self, ev: &crate::event::Event) -> std::io::Result<()> {
        let crate::event::Event::Name(n) = ev else {
            return self.each(|s| s.event(ev));
        };
        if n.rule.is_none() {
            return self.each(|s| s.event(ev));
        }
        self.latest_ts = self.latest_ts.max(n.ts);
        match self.policy.decide(n) {
            Decision::Emit(_) => self.each(|s| s.event(ev)),
            Decision::Suppress => Ok(()),
            Decision::Rollup(r) => self.each(|s| s.rollup(n, &r)),
        }
    }

    /// Derived alerts: one record per (host, kind, rule) per re-alert
    /// interval, to every sink alike (files, syslog, HEC); with
    /// `every_sighting`, every one. Repeats are not rolled up: the
    /// inventory counts every piece of evidence.
    fn evidence(&mut self, e: &crate::inventory::Evidence) -> std::io::Result<()> {
        use crate::inventory::EvidenceKind;
        if self.policy.every_sighting {
            return self.each(|s| s.evidence(e));
        }
        let (kind, rule): (u8, &str) = match &e.kind {
            EvidenceKind::DnsCorrelated { rule, .. } => (0, &rule.id),
            EvidenceKind::KscPort { rule_id, .. } => (1, rule_id),
            EvidenceKind::Prefix { rule_id, .. } => (2, rule_id),
        };
        let key = (e.host, kind, Box::<str>::from(rule));
        let due = match self.evidence_seen.get(&key) {
            Some(&last) => e.ts.saturating_sub(last) >= self.realert_ns,
            None => true,
        };
        if !due {
            return Ok(());
        }
        if self.evidence_seen.len() < limits::POLICY_MAX_KEYS
            || self.evidence_seen.contains_key(&key)
        {
            self.evidence_seen.insert(key, e.ts);
        }
        // Beyond the bound every record is written (fail open).
        self.each(|s| s.evidence(e))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let due = self.rollups(self.latest_ts);
        let flushed = self.each(|s| s.flush());
        self.publish();
        due.and(flushed)
    }

    fn close(&mut self) -> std::io::Result<()> {
        let due = self.rollups(TsNs::MAX);
        let closed = self.each(|s| s.close());
        self.publish();
        due.and(closed)
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;
    use std::sync::Arc;

    use super::*;
    use crate::event::{Endpoints, NameDetail, Protocol, Transport};
    use crate::signatures::Rule;

    const SEC: u64 = 1_000_000_000;
    const HOUR: u64 = 3_600 * SEC;
    /// 2024-10-01T00:00:00Z
    const T0: u64 = 1_727_740_800 * SEC;

    fn rule(id: &str, confidence: Confidence) -> Arc<Rule> {
        Arc::new(Rule {
            id: id.into(),
            pattern: "*.kaspersky.com".into(),
            vendor: "kaspersky".into(),
            category: "update".into(),
            confidence,
            source: String::new(),
            note: String::new(),
        })
    }

    fn sighting(host: u8, name: &[u8], ts: u64, packet: u64, r: &Arc<Rule>) -> NameEvent {
        NameEvent {
            ts,
            packet,
            protocol: Protocol::Dns,
            endpoints: Endpoints {
                transport: Transport::Udp,
                src_ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, host)),
                src_port: 40_000,
                dst_ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 53)),
                dst_port: 53,
                src_mac: None,
                vlan: None,
            },
            name: name.into(),
            detail: NameDetail::Dns { qtype: 1 },
            rule: Some(Arc::clone(r)),
        }
    }

    #[test]
    fn thousand_sightings_over_ten_hours_give_one_alert_and_hourly_rollups() {
        let r = rule("k-1", Confidence::High);
        let mut p = AlertPolicy::new(HOUR, false);
        // One sighting every 36 s: i = 0..1000 covers 0 s .. 35,964 s.
        let step = 36 * SEC;
        let mut emits = Vec::new();
        let mut rollups = Vec::new();
        for i in 0..1_000u64 {
            let ev = sighting(5, b"dnl-01.upd.kaspersky.com", T0 + i * step, i + 1, &r);
            match p.decide(&ev) {
                Decision::Emit(why) => emits.push((i, why)),
                Decision::Rollup(ru) => rollups.push((i, ru)),
                Decision::Suppress => {}
            }
        }
        assert_eq!(emits, [(0, EmitReason::First)]);
        // A roll-up at each whole hour: sightings 100, 200, … 900, each
        // counting the 100 sightings since the previous report.
        assert_eq!(rollups.len(), 9);
        for (k, (i, ru)) in rollups.iter().enumerate() {
            let k = k as u64;
            assert_eq!(*i, 100 * (k + 1));
            assert_eq!(ru.count, 100);
            assert_eq!(ru.since_ts, T0 + k * HOUR);
            assert_eq!(ru.first_ts, T0 + (100 * k + 1) * step);
            assert_eq!(ru.last_ts, T0 + 100 * (k + 1) * step);
        }
        // Nothing is due before an hour after the last report (9 h) ...
        assert!(p.flush_due(T0 + 9 * HOUR + HOUR - 1).is_empty());
        // ... and the end of the run reports the remaining 99.
        let last = p.flush_due(u64::MAX);
        assert_eq!(last.len(), 1);
        assert_eq!(last[0].rollup.count, 99);
        assert_eq!(last[0].rollup.first_ts, T0 + 901 * step);
        assert_eq!(last[0].rollup.last_ts, T0 + 999 * step);
        assert_eq!(last[0].event.packet, 1_000);
        // Every sighting is accounted for exactly once.
        let total: u64 = 1 + rollups.iter().map(|(_, r)| r.count).sum::<u64>() + 99;
        assert_eq!(total, 1_000);
        let c = p.counters();
        assert_eq!(c.sightings, 1_000);
        assert_eq!(c.emitted, 1);
        assert_eq!(c.rollups, 10);
        assert!(p.flush_due(u64::MAX).is_empty());
    }

    #[test]
    fn periodic_flush_reports_quiet_keys_once_per_interval() {
        let r = rule("k-1", Confidence::Medium);
        let mut p = AlertPolicy::new(HOUR, false);
        assert_eq!(
            p.decide(&sighting(1, b"a.kaspersky.com", T0, 1, &r)),
            Decision::Emit(EmitReason::First)
        );
        for i in 1..=3 {
            let ev = sighting(1, b"a.kaspersky.com", T0 + i * 60 * SEC, i + 1, &r);
            assert_eq!(p.decide(&ev), Decision::Suppress);
        }
        assert!(p.flush_due(T0 + HOUR - 1).is_empty());
        let due = p.flush_due(T0 + HOUR);
        assert_eq!(due.len(), 1);
        assert_eq!(
            due[0].rollup,
            Rollup {
                count: 3,
                first_ts: T0 + 60 * SEC,
                last_ts: T0 + 180 * SEC,
                since_ts: T0,
            }
        );
        // The interval restarted at the flush: a sighting 30 min later is
        // suppressed, not rolled up.
        let ev = sighting(1, b"a.kaspersky.com", T0 + HOUR + 1_800 * SEC, 9, &r);
        assert_eq!(p.decide(&ev), Decision::Suppress);
        assert!(p.flush_due(T0 + 2 * HOUR - 1).is_empty());
        assert_eq!(p.flush_due(T0 + 2 * HOUR).len(), 1);
    }

    #[test]
    fn keys_are_host_vendor_and_case_insensitive_name() {
        let r = rule("k-1", Confidence::Low);
        let mut p = AlertPolicy::new(HOUR, false);
        let first = Decision::Emit(EmitReason::First);
        assert_eq!(p.decide(&sighting(1, b"a.kaspersky.com", T0, 1, &r)), first);
        // 0x20-randomised spelling: same key.
        assert_eq!(
            p.decide(&sighting(1, b"A.KasPersky.com", T0 + 1, 2, &r)),
            Decision::Suppress
        );
        // Another host or another name: new keys.
        assert_eq!(
            p.decide(&sighting(2, b"a.kaspersky.com", T0 + 2, 3, &r)),
            first
        );
        assert_eq!(
            p.decide(&sighting(1, b"b.kaspersky.com", T0 + 3, 4, &r)),
            first
        );
        assert_eq!(p.keys(), 3);
    }

    #[test]
    fn rising_confidence_alerts_at_once() {
        let low = rule("k-web", Confidence::Low);
        let high = rule("k-upd", Confidence::High);
        let mut p = AlertPolicy::new(HOUR, false);
        assert_eq!(
            p.decide(&sighting(1, b"www.kaspersky.com", T0, 1, &low)),
            Decision::Emit(EmitReason::First)
        );
        assert_eq!(
            p.decide(&sighting(1, b"www.kaspersky.com", T0 + SEC, 2, &low)),
            Decision::Suppress
        );
        // The host now shows product traffic: written at once.
        assert_eq!(
            p.decide(&sighting(
                1,
                b"dnl-01.upd.kaspersky.com",
                T0 + 2 * SEC,
                3,
                &high
            )),
            Decision::Emit(EmitReason::ConfidenceRose)
        );
        // Later high sightings of that name roll up as usual.
        assert_eq!(
            p.decide(&sighting(
                1,
                b"dnl-01.upd.kaspersky.com",
                T0 + 3 * SEC,
                4,
                &high
            )),
            Decision::Suppress
        );
        // The suppressed low sighting is still reported at the end.
        let end = p.flush_due(u64::MAX);
        let counts: Vec<u64> = end.iter().map(|r| r.rollup.count).collect();
        assert_eq!(counts, [1, 1]);
    }

    #[test]
    fn every_sighting_turns_rollup_off() {
        let r = rule("k-1", Confidence::High);
        let mut p = AlertPolicy::new(HOUR, true);
        for i in 0..5 {
            assert_eq!(
                p.decide(&sighting(1, b"a.kaspersky.com", T0 + i, i + 1, &r)),
                Decision::Emit(EmitReason::EverySighting)
            );
        }
        assert!(p.flush_due(u64::MAX).is_empty());
        assert_eq!(p.keys(), 0);
    }

    #[test]
    fn non_alerts_pass_through_uncounted() {
        let mut p = AlertPolicy::new(HOUR, false);
        let mut ev = sighting(1, b"example.org", T0, 1, &rule("x", Confidence::Low));
        ev.rule = None;
        assert_eq!(p.decide(&ev), Decision::Emit(EmitReason::EverySighting));
        assert_eq!(p.counters().sightings, 0);
    }

    #[test]
    fn full_table_fails_open() {
        let r = rule("k-1", Confidence::High);
        let mut p = AlertPolicy::new(HOUR, false);
        let n = limits::POLICY_MAX_KEYS as u64;
        for i in 0..n {
            let name = format!("h{i}.kaspersky.com");
            let ev = sighting(1, name.as_bytes(), T0, i + 1, &r);
            assert_eq!(p.decide(&ev), Decision::Emit(EmitReason::First));
        }
        let extra = sighting(1, b"extra.kaspersky.com", T0 + 1, n + 1, &r);
        assert_eq!(p.decide(&extra), Decision::Emit(EmitReason::StateFull));
        assert_eq!(p.decide(&extra), Decision::Emit(EmitReason::StateFull));
        assert_eq!(p.counters().state_full, 2);
        assert_eq!(p.keys(), limits::POLICY_MAX_KEYS);
    }

    /// Counts the derived alerts it is given.
    #[derive(Clone, Default)]
    struct Evidences(Arc<std::sync::Mutex<Vec<u64>>>);

    impl crate::output::sink::EventSink for Evidences {
        fn event(&mut self, _: &crate::event::Event) -> std::io::Result<()> {
            Ok(())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
        fn evidence(&mut self, e: &crate::inventory::Evidence) -> std::io::Result<()> {
            if let Ok(mut v) = self.0.lock() {
                v.push(e.packet);
            }
            Ok(())
        }
    }

    #[test]
    fn derived_alerts_once_per_host_kind_and_rule_per_interval_to_every_sink() {
        use crate::output::sink::EventSink as _;
        use crate::output::testdata;
        let at = |packet: u64, ts: u64, rule: &str| {
            let mut e = testdata::dns_correlated(b"a.kaspersky-labs.com", b"a.cdn", rule);
            e.packet = packet;
            e.ts = ts;
            e
        };
        let feed = |every_sighting: bool| {
            let (a, b) = (Evidences::default(), Evidences::default());
            let mut p = PolicySink::new(
                AlertPolicy::new(HOUR, every_sighting),
                vec![Box::new(a.clone()), Box::new(b.clone())],
            );
            for e in [
                at(1, T0, "k-1"),
                at(2, T0 + 60 * SEC, "k-1"),
                at(3, T0 + 60 * SEC, "k-2"),
                at(4, T0 + HOUR, "k-1"),
            ] {
                p.evidence(&e).expect("deliver");
            }
            let (a, b) = (
                a.0.lock().expect("lock").clone(),
                b.0.lock().expect("lock").clone(),
            );
            assert_eq!(a, b, "every sink gets the same derived alerts");
            a
        };
        assert_eq!(feed(false), [1, 3, 4]);
        assert_eq!(feed(true), [1, 2, 3, 4]);
    }

    #[test]
    fn rollup_json_adds_fields_under_phonehome() {
        let r = rule("k-1", Confidence::High);
        let ev = sighting(7, b"a\n\"|=.kaspersky.com", T0 + 90 * SEC, 12, &r);
        let ru = Rollup {
            count: 42,
            first_ts: T0 + 30 * SEC,
            last_ts: T0 + 90 * SEC,
            since_ts: T0,
        };
        let mut buf = Vec::new();
        write_rollup_json(&ev, &ru, &mut buf);
        let text = String::from_utf8(buf).expect("ASCII");
        assert_eq!(text.matches('\n').count(), 1);
        assert!(text.ends_with(concat!(
            r#""confidence":"high","rollup":{"count":42,"first_seen":"2024-10-01T00:00:30.000000Z","#,
            r#""last_seen":"2024-10-01T00:01:30.000000Z","since":"2024-10-01T00:00:00.000000Z"}}}"#,
            "\n"
        )));
        let v: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(v["phonehome"]["rollup"]["count"], 42);
        assert_eq!(v["event"]["kind"], "alert");
        assert_eq!(v["dns"]["question"]["name"], "a\\x0a\"|=.kaspersky.com");
    }
}
