//! Threads, queues, the worker loop and shutdown.
//!
//! ```text
//! reader ──batches (by symmetric flow hash)──▶ worker 0..N ──events──▶ output
//!    ▲                                            │
//!    └──────────── recycled batch buffers ────────┘
//! ```
//!
//! The reader (the calling thread) reads the file into shared buffers
//! ([`FileSource::next_located`]), lists each packet's place in per-worker
//! batches that hold a reference to the buffer (no packet is copied), and
//! sends them over bounded `crossbeam` channels; a full channel blocks
//! the reader (offline mode never drops). Packets are grouped in *rounds*:
//! every batch of a round carries the round number and how many batches the
//! round has, and the output thread writes a round only when all of its
//! batches are back, ordering its events by packet number. So the output is
//! identical whatever the number of workers.

pub mod live;
pub mod worker;

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, bounded};

use crate::capture::{CaptureError, FileSource, LinkType, RawPacket};
use crate::config::limits;
use crate::decode::{self, Frame, L4};
use crate::event::Event;
use crate::flow::{FlowKey, PROTO_TCP, PROTO_UDP};
use crate::inventory::Inventory;
use crate::output::sink::EventSink;
use crate::signatures::SignatureSet;
use crate::stats::WorkerStats;

pub use worker::{PacketIn, Worker, WorkerConfig};

/// How the pipeline runs.
#[derive(Clone, Debug)]
pub struct RuntimeConfig {
    /// Worker threads (at least 1).
    pub workers: usize,
    pub worker: WorkerConfig,
    /// Show a progress bar on stderr (only when stderr is a terminal).
    pub progress: bool,
    /// Attribute evidence to home hosts (DNS answers, resolvers, KSC ports;
    /// `--home-net`, `--resolver`). `None`: every alert's source is
    /// inventoried as it is.
    pub attribution: Option<crate::attribution::AttributionConfig>,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            workers: default_workers(),
            worker: WorkerConfig::default(),
            progress: true,
            attribution: Some(crate::attribution::AttributionConfig::default()),
        }
    }
}

/// Number of cores minus one (the reader and output share the last), at
/// least 1.
pub fn default_workers() -> usize {
    thread::available_parallelism()
        .map(|n| n.get().saturating_sub(1))
        .unwrap_or(1)
        .max(1)
}

/// Per-file outcome of an offline run.
#[derive(Debug)]
pub struct FileReport {
    pub path: PathBuf,
    pub packets: u64,
    pub bytes: u64,
    /// Set when the file could not be read to its end.
    pub error: Option<CaptureError>,
}

/// Per-batch processing time, from the workers' histograms.
#[derive(Clone, Debug, Default)]
pub struct Latency {
    pub batches: u64,
    pub p50_ns: u64,
    pub p99_ns: u64,
    pub max_ns: u64,
}

/// Everything an offline run produced besides the sinks' output.
#[derive(Debug)]
pub struct RunReport {
    pub files: Vec<FileReport>,
    pub stats: WorkerStats,
    pub inventory: Inventory,
    pub elapsed: Duration,
    pub batch_latency: Latency,
    pub workers: usize,
    /// Events written by the output stage, and sink write errors.
    pub events_out: u64,
    pub sink_errors: Vec<String>,
    /// Attribution counters (answer map, resolvers, flow starts), by name.
    pub attribution: Vec<(&'static str, u64)>,
}

impl RunReport {
    /// True when some input could not be read to its end.
    pub fn input_failed(&self) -> bool {
        self.files.iter().any(|f| f.error.is_some())
    }
}

/// One packet's place in its batch's read buffer.
#[derive(Clone, Copy, Debug)]
struct PktRef {
    off: usize,
    len: usize,
    ts_ns: u64,
    linktype: LinkType,
    packet_no: u64,
}

/// Packets for one worker: positions in one of the reader's buffers, which
/// the batch holds a reference to (no packet is copied). The worker drops
/// the buffer when done and sends the batch back for its `pkts` vector.
#[derive(Debug, Default)]
struct Batch {
    buf: Option<Arc<Vec<u8>>>,
    pkts: Vec<PktRef>,
    round: u64,
    parts: u32,
}

impl Batch {
    fn clear(&mut self) {
        self.buf = None;
        self.pkts.clear();
    }
}

/// A worker's result for one batch.
struct Done {
    round: u64,
    parts: u32,
    events: Vec<Event>,
}

/// Which worker a packet goes to: a symmetric hash of its innermost 5-tuple,
/// so both directions of a flow (whatever their VLAN tags) meet in one
/// worker. Undecodable frames go to worker 0.
///
/// IP fragments go by a symmetric hash of their IP pair alone (ports are
/// only in the first fragment), so every fragment of a datagram reaches the
/// same worker's reassembler. The reassembled datagram is then processed on
/// that worker, which need not be the one its 5-tuple picks: a flow whose
/// packets are partly fragmented can be split over two workers. For UDP
/// (DNS, SSDP) that changes nothing, each datagram standing alone. For TCP
/// the reassembled segment is picked up mid-stream on the IP-pair worker, so
/// a ClientHello or request head inside one fragmented segment is still
/// seen; one spread over fragmented and unfragmented segments is lost with
/// more than one worker, as is QUIC CRYPTO reassembly across fragmented and
/// whole Initials. Hashing every packet by IP pair would avoid this at the
/// cost of balance (one busy host pair would load one worker); fragmented
/// TCP and QUIC are rare (path-MTU discovery, MSS clamping, QUIC's DF bit),
/// so the 5-tuple spread is kept.
pub fn dispatch(p: &RawPacket<'_>, workers: usize) -> usize {
    dispatch_frame(p.linktype, p.data, workers)
}

/// [`dispatch`] for a frame's bytes. The common shape (Ethernet, up to two
/// VLAN tags, unfragmented IPv4, TCP or UDP off the tunnel ports) is hashed
/// from fixed offsets; every other frame is decoded in full. Both give the
/// same key for the same flow, as the fast path takes only frames whose
/// outermost 5-tuple is their innermost.
pub fn dispatch_frame(linktype: LinkType, data: &[u8], workers: usize) -> usize {
    if workers <= 1 {
        return 0;
    }
    let key = match fast_key(linktype, data) {
        Some(k) => k,
        None => match decode::decode_frame(linktype, data) {
            Ok(Frame::Packet(d)) => {
                let proto = match d.l4 {
                    L4::Tcp(_) => PROTO_TCP,
                    L4::Udp => PROTO_UDP,
                };
                FlowKey::new(proto, d.src_ip, d.src_port, d.dst_ip, d.dst_port).0
            }
            Ok(Frame::Fragment(f)) => FlowKey::new(0, f.meta.src_ip, 0, f.meta.dst_ip, 0).0,
            Err(_) => return 0,
        },
    };
    (key.dispatch_hash() % workers as u64) as usize
}

/// The flow key of an Ethernet / 802.1Q / IPv4 / TCP-or-UDP frame read at
/// fixed offsets, or `None` for anything else (including UDP on a port the
/// decoder treats as a tunnel, and fragments).
#[inline]
fn fast_key(linktype: LinkType, data: &[u8]) -> Option<FlowKey> {
    if linktype != LinkType::ETHERNET {
        return None;
    }
    let be16 = |at: usize| -> Option<u16> {
        Some(u16::from_be_bytes(data.get(at..at + 2)?.try_into().ok()?))
    };
    let mut at = 12;
    let mut ether_type = be16(at)?;
    for _ in 0..2 {
        if matches!(ether_type, 0x8100 | 0x88a8 | 0x9100) {
            at += 4;
            ether_type = be16(at)?;
        }
    }
    if ether_type != 0x0800 {
        return None;
    }
    let ip = data.get(at + 2..)?;
    let (&vihl, _) = ip.split_first()?;
    let ihl = usize::from(vihl & 0x0f) * 4;
    if vihl >> 4 != 4 || ihl < 20 || ip.len() < ihl + 4 {
        return None;
    }
    let frag = u16::from_be_bytes([ip[6], ip[7]]);
    if frag & 0x3fff != 0 {
        return None; // MF set or a non-zero offset: a fragment
    }
    let proto = match ip[9] {
        6 => PROTO_TCP,
        17 => PROTO_UDP,
        _ => return None,
    };
    let src = std::net::Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
    let dst = std::net::Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]);
    let sport = u16::from_be_bytes([ip[ihl], ip[ihl + 1]]);
    let dport = u16::from_be_bytes([ip[ihl + 2], ip[ihl + 3]]);
    if proto == PROTO_UDP
        && (decode::is_udp_tunnel_port(sport) || decode::is_udp_tunnel_port(dport))
    {
        return None;
    }
    Some(FlowKey::new(proto, src.into(), sport, dst.into(), dport).0)
}

/// Run the whole pipeline over capture files, in order, feeding `sinks` and
/// the inventory. A damaged file stops being read at the damage (every
/// packet before it is processed) and the run goes on with the next file.
pub fn run_offline(
    paths: &[PathBuf],
    sigs: Arc<SignatureSet>,
    cfg: &RuntimeConfig,
    sinks: Vec<Box<dyn EventSink + Send>>,
) -> RunReport {
    let started = Instant::now();
    let n = cfg.workers.max(1);
    let (ret_tx, ret_rx) = bounded::<Batch>(n * (limits::WORKER_QUEUE_BATCHES + 2));
    let (out_tx, out_rx) = bounded::<Done>(n * limits::WORKER_QUEUE_BATCHES);
    let mut work_txs = Vec::with_capacity(n);
    let mut handles = Vec::with_capacity(n);
    for _ in 0..n {
        let (tx, rx) = bounded::<Batch>(limits::WORKER_QUEUE_BATCHES);
        work_txs.push(tx);
        let sigs = Arc::clone(&sigs);
        let (out_tx, ret_tx) = (out_tx.clone(), ret_tx.clone());
        let wcfg = cfg.worker;
        handles.push(thread::spawn(move || {
            worker_loop(sigs, wcfg, rx, out_tx, ret_tx)
        }));
    }
    drop(out_tx);
    drop(ret_tx);
    let attribution = cfg.attribution.clone().map(|a| (a, Arc::clone(&sigs)));
    let output = thread::spawn(move || output_loop(out_rx, sinks, attribution));

    let mut reader = Reader {
        n,
        staging: (0..n).map(|_| Batch::default()).collect(),
        round_buf: None,
        locs: Vec::with_capacity(limits::BATCH_PACKETS),
        in_round: 0,
        round: 0,
        packet_no: 0,
        work_txs,
        ret_rx,
    };
    let progress = make_progress(cfg.progress, paths);
    let mut files = Vec::with_capacity(paths.len());
    for path in paths {
        files.push(reader.read_file(path, progress.as_ref()));
    }
    reader.flush_round();
    drop(reader);
    if let Some(pb) = progress {
        pb.finish_and_clear();
    }

    let mut stats = WorkerStats::default();
    let mut hist = new_histogram();
    for h in handles {
        if let Ok((s, wh)) = h.join() {
            stats.merge(&s);
            let _ = hist.add(&wh);
        }
    }
    let out = output.join().unwrap_or_else(|_| OutputResult {
        inventory: Inventory::new(),
        written: 0,
        errors: vec!["output thread panicked".into()],
        attribution: Vec::new(),
    });
    RunReport {
        files,
        stats,
        inventory: out.inventory,
        attribution: out.attribution,
        events_out: out.written,
        sink_errors: out.errors,
        elapsed: started.elapsed(),
        batch_latency: Latency {
            batches: hist.len(),
            p50_ns: hist.value_at_quantile(0.5),
            p99_ns: hist.value_at_quantile(0.99),
            max_ns: hist.max(),
        },
        workers: n,
    }
}

fn new_histogram() -> hdrhistogram::Histogram<u64> {
    // 1 ns .. 1 h at 3 significant digits; `saturating_record` never fails.
    hdrhistogram::Histogram::new_with_bounds(1, 3_600_000_000_000, 3)
        .unwrap_or_else(|_| hdrhistogram::Histogram::new(3).unwrap_or_else(|_| unreachable_hist()))
}

#[cold]
fn unreachable_hist() -> hdrhistogram::Histogram<u64> {
    // 3 significant digits is always a valid precision.
    hdrhistogram::Histogram::new(2).unwrap_or_else(|_| std::process::abort())
}

fn make_progress(enabled: bool, paths: &[PathBuf]) -> Option<indicatif::ProgressBar> {
    if !enabled || !std::io::stderr().is_terminal() {
        return None;
    }
    let total: u64 = paths
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let pb = indicatif::ProgressBar::new(total);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} {bytes}/{total_bytes} [{bar:30}] {bytes_per_sec} eta {eta} {msg}",
    ) {
        pb.set_style(style.progress_chars("=> "));
    }
    Some(pb)
}

struct Reader {
    n: usize,
    staging: Vec<Batch>,
    /// The read buffer the current round's packets are in (held so the
    /// source cannot reuse it before the batches are sent).
    round_buf: Option<Arc<Vec<u8>>>,
    in_round: usize,
    round: u64,
    packet_no: u64,
    /// Packet positions from the source, reused.
    locs: Vec<crate::capture::Located>,
    work_txs: Vec<Sender<Batch>>,
    ret_rx: Receiver<Batch>,
}

impl Reader {
    fn read_file(&mut self, path: &Path, pb: Option<&indicatif::ProgressBar>) -> FileReport {
        let mut report = FileReport {
            path: path.to_path_buf(),
            packets: 0,
            bytes: 0,
            error: None,
        };
        let base = pb.map(|p| p.position()).unwrap_or(0);
        let mut src = match FileSource::open(path) {
            Ok(s) => s,
            Err(e) => {
                report.error = Some(e);
                return report;
            }
        };
        let mut locs = std::mem::take(&mut self.locs);
        loop {
            locs.clear();
            match src.next_located_batch(&mut locs, limits::BATCH_PACKETS) {
                Ok(0) => break,
                Ok(_) => {
                    // Packets in a new buffer close the round of the old one.
                    let buf = src.buffer();
                    if self
                        .round_buf
                        .as_ref()
                        .is_some_and(|b| !Arc::ptr_eq(b, buf))
                    {
                        self.flush_round();
                        if let Some(pb) = pb {
                            pb.set_position(base + src.progress().done);
                        }
                    }
                    for loc in &locs {
                        if self.round_buf.is_none() {
                            self.round_buf = Some(Arc::clone(buf));
                        }
                        self.packet_no += 1;
                        report.packets += 1;
                        report.bytes += loc.len as u64;
                        let w = if self.n > 1 {
                            let data = buf.get(loc.off..loc.off + loc.len).unwrap_or_default();
                            dispatch_frame(loc.linktype, data, self.n)
                        } else {
                            0
                        };
                        if let Some(b) = self.staging.get_mut(w) {
                            b.pkts.push(PktRef {
                                off: loc.off,
                                len: loc.len,
                                ts_ns: loc.ts_ns,
                                linktype: loc.linktype,
                                packet_no: self.packet_no,
                            });
                        }
                        self.in_round += 1;
                        if self.in_round >= limits::BATCH_PACKETS * self.n {
                            self.flush_round();
                        }
                    }
                }
                Err(e) => {
                    report.error = Some(e);
                    break;
                }
            }
        }
        self.locs = locs;
        if let Some(pb) = pb {
            pb.set_position(base + src.progress().done);
        }
        report
    }

    /// Send every non-empty staging batch of the current round, each with a
    /// reference to the round's buffer.
    fn flush_round(&mut self) {
        let buf = self.round_buf.take();
        let parts = self.staging.iter().filter(|b| !b.pkts.is_empty()).count() as u32;
        if parts == 0 {
            return;
        }
        for w in 0..self.n {
            if self.staging[w].pkts.is_empty() {
                continue;
            }
            let mut fresh = self.ret_rx.try_recv().unwrap_or_default();
            fresh.clear();
            let mut b = std::mem::replace(&mut self.staging[w], fresh);
            b.buf = buf.clone();
            b.round = self.round;
            b.parts = parts;
            // A send fails only if the worker died; its packets are then
            // lost, which the packet counters show.
            let _ = self.work_txs[w].send(b);
        }
        self.round += 1;
        self.in_round = 0;
    }
}

/// How many packets ahead the offline worker touches a frame's first byte.
const PREFETCH_AHEAD: usize = 4;

fn worker_loop(
    sigs: Arc<SignatureSet>,
    cfg: WorkerConfig,
    rx: Receiver<Batch>,
    out: Sender<Done>,
    ret: Sender<Batch>,
) -> (WorkerStats, hdrhistogram::Histogram<u64>) {
    let mut w = Worker::new(sigs, cfg);
    let mut hist = new_histogram();
    for mut batch in rx {
        let t0 = Instant::now();
        let mut events = Vec::new();
        let buf: &[u8] = batch.buf.as_deref().map_or(&[], |v| v.as_slice());
        // The reader's core wrote these bytes: the first read of each
        // frame's headers misses this core's cache. Reading a byte of the
        // frame a few packets ahead starts that fetch early (a load in place
        // of a prefetch instruction, which safe Rust does not offer).
        let mut touched = 0u8;
        for (i, r) in batch.pkts.iter().enumerate() {
            if let Some(ahead) = batch.pkts.get(i + PREFETCH_AHEAD) {
                touched ^= buf.get(ahead.off).copied().unwrap_or(0);
            }
            let data = buf.get(r.off..r.off + r.len).unwrap_or(&[]);
            let p = PacketIn {
                ts_ns: r.ts_ns,
                packet_no: r.packet_no,
                linktype: r.linktype,
                data,
            };
            w.process(&p, &mut events);
        }
        std::hint::black_box(touched);
        hist.saturating_record(t0.elapsed().as_nanos().min(u128::from(u64::MAX)) as u64);
        let _ = out.send(Done {
            round: batch.round,
            parts: batch.parts,
            events,
        });
        // Release the read buffer now, so the reader can refill it.
        batch.clear();
        let _ = ret.try_send(batch);
    }
    w.finish();
    (w.stats, hist)
}

/// What the output stage hands back at the end of a run.
pub(crate) struct OutputResult {
    pub inventory: Inventory,
    pub written: u64,
    pub errors: Vec<String>,
    pub attribution: Vec<(&'static str, u64)>,
}

/// The output stage's state: the sinks and the inventory. Used by the
/// offline and the live output threads alike.
pub(crate) struct OutputStage {
    sinks: Vec<Box<dyn EventSink + Send>>,
    /// Evidence attribution (in packet order: deterministic), with the
    /// signatures it matches addresses and ports against.
    attribution: Option<(crate::attribution::Attributor, Arc<SignatureSet>)>,
    evidence: Vec<crate::inventory::Evidence>,
    pub inventory: Inventory,
    /// Events handed to the sinks.
    pub written: u64,
    /// The first sink errors (bounded: a dead disk repeats itself).
    pub errors: Vec<String>,
}

impl OutputStage {
    pub(crate) fn new(
        sinks: Vec<Box<dyn EventSink + Send>>,
        attribution: Option<(crate::attribution::AttributionConfig, Arc<SignatureSet>)>,
    ) -> OutputStage {
        OutputStage {
            sinks,
            attribution: attribution
                .map(|(cfg, sigs)| (crate::attribution::Attributor::new(cfg), sigs)),
            evidence: Vec::new(),
            inventory: Inventory::new(),
            written: 0,
            errors: Vec::new(),
        }
    }

    /// Write the events of several batches, ordered by packet number.
    pub(crate) fn emit_batches(&mut self, batches: Vec<Vec<Event>>) {
        let mut all: Vec<Event> = batches.into_iter().flatten().collect();
        all.sort_by_key(event_packet);
        for ev in &all {
            self.emit(ev);
        }
    }

    pub(crate) fn emit(&mut self, ev: &Event) {
        match &mut self.attribution {
            Some((a, sigs)) => a.on_event(ev, sigs, &mut self.inventory, &mut self.evidence),
            None => {
                if let Event::Name(n) = ev
                    && n.rule.is_some()
                {
                    self.inventory.observe(n);
                }
            }
        }
        // Every sink sees every event and writes what its filter accepts
        // (flow starts: none of the product's sinks; test collectors keep
        // them). Flow starts are not output records: not counted.
        for s in self.sinks.iter_mut() {
            if let Err(e) = s.event(ev)
                && self.errors.len() < 16
            {
                self.errors.push(e.to_string());
            }
        }
        if !matches!(ev, Event::FlowStart(_)) {
            self.written += 1;
        }
        for e in self.evidence.drain(..) {
            if !crate::attribution::json::is_alert(&e) {
                continue;
            }
            for s in self.sinks.iter_mut() {
                if let Err(err) = s.evidence(&e)
                    && self.errors.len() < 16
                {
                    self.errors.push(err.to_string());
                }
            }
            self.written += 1;
        }
    }

    /// Use a reloaded signature set for attribution from now on.
    pub(crate) fn set_signatures(&mut self, s: Arc<SignatureSet>) {
        if let Some((_, sigs)) = &mut self.attribution {
            *sigs = s;
        }
    }

    /// The attribution stage's counters (empty without attribution).
    pub(crate) fn attribution_counters(&self) -> Vec<(&'static str, u64)> {
        self.attribution
            .as_ref()
            .map(|(a, _)| a.counters().to_vec())
            .unwrap_or_default()
    }

    pub(crate) fn flush(&mut self) {
        for s in self.sinks.iter_mut() {
            if let Err(e) = s.flush()
                && self.errors.len() < 16
            {
                self.errors.push(e.to_string());
            }
        }
    }

    pub(crate) fn finish(mut self) -> OutputResult {
        for s in self.sinks.iter_mut() {
            if let Err(e) = s.close()
                && self.errors.len() < 16
            {
                self.errors.push(e.to_string());
            }
        }
        OutputResult {
            attribution: self.attribution_counters(),
            inventory: self.inventory,
            written: self.written,
            errors: self.errors,
        }
    }
}

/// The packet number an event came from (its position in the output).
pub(crate) fn event_packet(e: &Event) -> u64 {
    match e {
        Event::Name(n) => n.packet,
        Event::DnsAnswer(a) => a.packet,
        Event::FlowStart(f) => f.packet,
    }
}

fn output_loop(
    rx: Receiver<Done>,
    sinks: Vec<Box<dyn EventSink + Send>>,
    attribution: Option<(crate::attribution::AttributionConfig, Arc<SignatureSet>)>,
) -> OutputResult {
    let mut out = OutputStage::new(sinks, attribution);
    // round -> (parts received, parts expected, their events)
    let mut pending: BTreeMap<u64, (u32, u32, Vec<Vec<Event>>)> = BTreeMap::new();
    let mut next_round = 0u64;
    for d in rx {
        let e = pending
            .entry(d.round)
            .or_insert_with(|| (0, d.parts, Vec::new()));
        e.0 += 1;
        e.2.push(d.events);
        // Write every complete round in order; a round is complete when
        // as many parts arrived as its batches said it has.
        while pending
            .get(&next_round)
            .is_some_and(|(got, parts, _)| got >= parts)
        {
            if let Some((_, _, evs)) = pending.remove(&next_round) {
                out.emit_batches(evs);
            }
            next_round += 1;
        }
    }
    // Input ended: whatever is left (only possible if a worker died) is
    // written in round order.
    for (_, (_, _, evs)) in std::mem::take(&mut pending) {
        out.emit_batches(evs);
    }
    out.finish()
}
