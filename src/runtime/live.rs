//! Live capture: one capture-and-work thread per (interface, worker), each
//! owning its own socket of a kernel fanout group (so both directions of a
//! flow reach the same thread with no dispatch queue), one output thread,
//! and the calling thread handling signals, the status line and reloads.
//!
//! ```text
//! iface × worker threads: LiveSource → Worker ──events (bounded)──▶ output: sinks, inventory
//! main thread: SIGINT/SIGTERM → drain and stop; SIGHUP → reload packs; status line
//! ```
//!
//! Loss is counted, never silent: kernel drops (per socket), event batches
//! the output queue could not take (`output_queue_drops`), and everything the
//! offline pipeline counts.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError, bounded};

use crate::capture::afpacket::{LiveNext, LiveSource, LiveStats};
use crate::config::limits;
use crate::event::Event;
use crate::inventory::Inventory;
use crate::output::sink::EventSink;
use crate::signatures::SignatureSet;
use crate::stats::WorkerStats;

use super::{OutputStage, PacketIn, Worker, WorkerConfig};

/// Signatures shared by every worker and swapped on reload: workers compare
/// the generation once per batch and clone the `Arc` when it changed.
#[derive(Debug)]
pub struct SharedSignatures {
    current: RwLock<Arc<SignatureSet>>,
    generation: AtomicU64,
}

impl SharedSignatures {
    pub fn new(s: Arc<SignatureSet>) -> SharedSignatures {
        SharedSignatures {
            current: RwLock::new(s),
            generation: AtomicU64::new(0),
        }
    }
    pub fn get(&self) -> (u64, Arc<SignatureSet>) {
        let g = self.generation.load(Ordering::Acquire);
        let s = match self.current.read() {
            Ok(s) => Arc::clone(&s),
            Err(p) => Arc::clone(&p.into_inner()),
        };
        (g, s)
    }
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }
    /// Install a new set (after it loaded without error).
    pub fn swap(&self, s: Arc<SignatureSet>) {
        match self.current.write() {
            Ok(mut c) => *c = s,
            Err(p) => *p.into_inner() = s,
        }
        self.generation.fetch_add(1, Ordering::AcqRel);
    }
}

/// What one capture thread publishes for status lines and `/metrics`.
#[derive(Clone, Debug, Default)]
pub struct ThreadSnapshot {
    pub interface: String,
    pub worker: WorkerStats,
    pub capture: LiveStats,
    /// Event batches the output queue refused (live mode never blocks
    /// capture), and the events in them.
    pub output_queue_drops: u64,
    pub output_events_dropped: u64,
    /// Frames the kernel had put in the ring but that were not read when the
    /// thread stopped (shutdown on a link that kept sending past
    /// `limits::LIVE_DRAIN_TIME`): `received - delivered - kernel_drops`.
    pub unread_at_exit: u64,
    pub error: Option<String>,
}

/// Counters of the live output thread.
#[derive(Clone, Debug, Default)]
pub struct OutputSnapshot {
    pub events: u64,
    pub sink_errors: u64,
    pub inventory_hosts: u64,
    pub inventory_writes: u64,
    pub inventory_write_errors: u64,
    /// Capture-to-alert latency (wall clock at output minus packet time).
    pub alert_latency_p50_ns: u64,
    pub alert_latency_p99_ns: u64,
    pub alert_latency_max_ns: u64,
}

/// Everything the status line and `/metrics` read.
#[derive(Debug, Default)]
pub struct LiveShared {
    pub threads: Vec<Mutex<ThreadSnapshot>>,
    /// Alert destinations and their delivery counters (sent, queued,
    /// spooled, dropped by reason), for the status line and `/metrics`.
    pub delivery: Mutex<Vec<(String, Arc<crate::output::delivery::SinkCounters>)>>,
    pub output: Mutex<OutputSnapshot>,
    pub started: Mutex<Option<Instant>>,
}

impl LiveShared {
    /// Sum of every thread's counters.
    pub fn totals(&self) -> Totals {
        let mut w = WorkerStats::default();
        let mut c = LiveStats::default();
        let (mut qd, mut ed, mut unread) = (0, 0, 0);
        for t in &self.threads {
            let t = match t.lock() {
                Ok(t) => t.clone(),
                Err(p) => p.into_inner().clone(),
            };
            w.merge(&t.worker);
            c.received += t.capture.received;
            c.kernel_drops += t.capture.kernel_drops;
            c.interface_drops += t.capture.interface_drops;
            c.ring_full += t.capture.ring_full;
            c.delivered += t.capture.delivered;
            c.delivered_bytes += t.capture.delivered_bytes;
            c.truncated += t.capture.truncated;
            c.ring_damaged += t.capture.ring_damaged;
            c.link_down += t.capture.link_down;
            qd += t.output_queue_drops;
            ed += t.output_events_dropped;
            unread += t.unread_at_exit;
        }
        Totals {
            worker: w,
            capture: c,
            queue_batches_dropped: qd,
            queue_events_dropped: ed,
            unread_at_exit: unread,
        }
    }
}

/// Every capture thread's counters summed.
#[derive(Clone, Debug, Default)]
pub struct Totals {
    pub worker: WorkerStats,
    pub capture: LiveStats,
    pub queue_batches_dropped: u64,
    pub queue_events_dropped: u64,
    pub unread_at_exit: u64,
}

/// A live run's settings (sources are opened by the caller, before any
/// privilege drop).
pub struct LiveConfig {
    pub worker: WorkerConfig,
    /// Inventory file rewritten every `inventory_interval` and on exit.
    pub inventory: Option<PathBuf>,
    pub inventory_interval: Duration,
    /// Evidence attribution (`--home-net`, `--resolver`), as offline.
    pub attribution: Option<crate::attribution::AttributionConfig>,
    /// State file: loaded at start (the inventory survives restarts) and
    /// saved with every inventory rewrite and on exit.
    pub state: Option<PathBuf>,
}

/// Flags the signal handlers set.
#[derive(Debug, Default)]
pub struct Control {
    pub shutdown: AtomicBool,
    pub reload: AtomicBool,
}

/// A batch of events from a capture thread (live: written on arrival).
struct LiveDone {
    events: Vec<Event>,
}

/// Result of a live run.
pub struct LiveReport {
    pub inventory: Inventory,
    pub events_out: u64,
    pub sink_errors: Vec<String>,
    /// Sources that failed while reading, with the error.
    pub source_errors: Vec<String>,
    pub attribution: Vec<(&'static str, u64)>,
}

/// Start the capture threads and the output thread. Returns a handle the
/// caller polls (signals, status) and finally joins.
pub struct LiveRun {
    pub shared: Arc<LiveShared>,
    pub control: Arc<Control>,
    pub sigs: Arc<SharedSignatures>,
    threads: Vec<thread::JoinHandle<()>>,
    output: Option<thread::JoinHandle<OutputResultLive>>,
}

type OutputResultLive = super::OutputResult;

impl LiveRun {
    pub fn start(
        sources: Vec<Box<dyn LiveSource>>,
        sigs: Arc<SignatureSet>,
        cfg: LiveConfig,
        sinks: Vec<Box<dyn EventSink + Send>>,
    ) -> LiveRun {
        let shared = Arc::new(LiveShared {
            threads: sources
                .iter()
                .map(|s| {
                    Mutex::new(ThreadSnapshot {
                        interface: s.interface().to_string(),
                        ..ThreadSnapshot::default()
                    })
                })
                .collect(),
            output: Mutex::new(OutputSnapshot::default()),
            started: Mutex::new(Some(Instant::now())),
            delivery: Mutex::new(Vec::new()),
        });
        let control = Arc::new(Control::default());
        let shared_sigs = Arc::new(SharedSignatures::new(sigs));
        let (tx, rx) = bounded::<LiveDone>(limits::LIVE_OUTPUT_QUEUE_BATCHES);
        let packet_no = Arc::new(AtomicU64::new(0));
        let mut threads = Vec::new();
        for (i, src) in sources.into_iter().enumerate() {
            let (shared, control, sigs, tx, packet_no) = (
                Arc::clone(&shared),
                Arc::clone(&control),
                Arc::clone(&shared_sigs),
                tx.clone(),
                Arc::clone(&packet_no),
            );
            let wcfg = cfg.worker;
            threads.push(thread::spawn(move || {
                capture_thread(src, i, wcfg, sigs, shared, control, tx, packet_no)
            }));
        }
        drop(tx);
        let (shared2, inv, every) = (Arc::clone(&shared), cfg.inventory, cfg.inventory_interval);
        let (sigs2, attribution, state) = (Arc::clone(&shared_sigs), cfg.attribution, cfg.state);
        let output = thread::spawn(move || {
            live_output(rx, sinks, shared2, inv, every, sigs2, attribution, state)
        });
        LiveRun {
            shared,
            control,
            sigs: shared_sigs,
            threads,
            output: Some(output),
        }
    }

    /// True once every capture thread has ended (errors or shutdown).
    pub fn finished(&self) -> bool {
        self.threads.iter().all(|t| t.is_finished())
    }

    /// Wait for the capture threads (they drain their rings after
    /// `control.shutdown`) and the output thread, which flushes everything.
    pub fn join(mut self) -> LiveReport {
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        let out = self
            .output
            .take()
            .and_then(|o| o.join().ok())
            .unwrap_or_else(|| super::OutputResult {
                inventory: Inventory::new(),
                written: 0,
                errors: vec!["output thread panicked".into()],
                attribution: Vec::new(),
            });
        let source_errors = self
            .shared
            .threads
            .iter()
            .filter_map(|t| t.lock().ok().and_then(|t| t.error.clone()))
            .collect();
        LiveReport {
            inventory: out.inventory,
            events_out: out.written,
            sink_errors: out.errors,
            attribution: out.attribution,
            source_errors,
        }
    }
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos().min(u128::from(u64::MAX)) as u64)
        .unwrap_or(0)
}

#[allow(clippy::too_many_arguments)] // one thread's whole context
fn capture_thread(
    mut src: Box<dyn LiveSource>,
    index: usize,
    cfg: WorkerConfig,
    sigs: Arc<SharedSignatures>,
    shared: Arc<LiveShared>,
    control: Arc<Control>,
    tx: Sender<LiveDone>,
    packet_no: Arc<AtomicU64>,
) {
    let (mut generation, set) = sigs.get();
    let mut w = Worker::new(set, cfg);
    let mut events: Vec<Event> = Vec::new();
    let mut in_batch = 0usize;
    // Packet numbers are reserved in blocks so threads do not contend.
    let (mut next_no, mut end_no) = (0u64, 0u64);
    let (mut qdrops, mut edrops) = (0u64, 0u64);
    let mut last_publish = Instant::now();
    let mut error = None;
    // `last`: the thread is stopping; what is still in the ring is unread.
    let publish = |w: &Worker,
                   src: &mut Box<dyn LiveSource>,
                   q: u64,
                   e: u64,
                   err: &Option<String>,
                   last: bool| {
        if let Some(t) = shared.threads.get(index)
            && let Ok(mut t) = t.lock()
        {
            t.worker = w.stats.clone();
            t.capture = src.stats();
            t.output_queue_drops = q;
            t.output_events_dropped = e;
            t.error = err.clone();
            if last {
                t.unread_at_exit = t
                    .capture
                    .received
                    .saturating_sub(t.capture.delivered + t.capture.kernel_drops);
            }
        }
    };
    let flush = |events: &mut Vec<Event>, block: bool, q: &mut u64, e: &mut u64| {
        if events.is_empty() {
            return;
        }
        let batch = LiveDone {
            events: std::mem::take(events),
        };
        if block {
            let _ = tx.send(batch);
        } else {
            match tx.try_send(batch) {
                Ok(()) => {}
                Err(TrySendError::Full(b)) | Err(TrySendError::Disconnected(b)) => {
                    *q += 1;
                    *e += b.events.len() as u64;
                }
            }
        }
    };
    let mut drain_deadline: Option<Instant> = None;
    loop {
        let stopping = control.shutdown.load(Ordering::Relaxed);
        if stopping {
            // Drain what the ring holds; on a link that never goes idle, stop
            // after the drain time (frames arriving after the stop request
            // are not "already captured").
            let d = *drain_deadline.get_or_insert_with(|| Instant::now() + limits::LIVE_DRAIN_TIME);
            if Instant::now() >= d {
                break;
            }
        }
        match src.next_live() {
            Ok(LiveNext::Packet(p)) => {
                if next_no == end_no {
                    next_no =
                        packet_no.fetch_add(limits::BATCH_PACKETS as u64, Ordering::Relaxed) + 1;
                    end_no = next_no + limits::BATCH_PACKETS as u64;
                }
                let pkt = PacketIn {
                    ts_ns: p.ts_ns,
                    packet_no: next_no,
                    linktype: p.linktype,
                    data: p.data,
                };
                next_no += 1;
                w.process(&pkt, &mut events);
                in_batch += 1;
                if in_batch >= limits::BATCH_PACKETS {
                    in_batch = 0;
                    flush(&mut events, stopping, &mut qdrops, &mut edrops);
                }
            }
            Ok(LiveNext::Idle) => {
                in_batch = 0;
                flush(&mut events, stopping, &mut qdrops, &mut edrops);
                // After a shutdown request the ring is drained once it is
                // idle: everything captured has been processed.
                if stopping {
                    break;
                }
            }
            Err(e) => {
                error = Some(e.to_string());
                break;
            }
        }
        if sigs.generation() != generation {
            let (g, s) = sigs.get();
            generation = g;
            w.set_signatures(s);
        }
        if last_publish.elapsed() >= limits::LIVE_PUBLISH_INTERVAL {
            last_publish = Instant::now();
            w.sync_stats();
            publish(&w, &mut src, qdrops, edrops, &error, false);
        }
    }
    flush(&mut events, true, &mut qdrops, &mut edrops);
    w.finish();
    publish(&w, &mut src, qdrops, edrops, &error, true);
}

#[allow(clippy::too_many_arguments)] // the output thread's whole context
fn live_output(
    rx: Receiver<LiveDone>,
    sinks: Vec<Box<dyn EventSink + Send>>,
    shared: Arc<LiveShared>,
    inventory_path: Option<PathBuf>,
    every: Duration,
    sigs: Arc<SharedSignatures>,
    attribution: Option<crate::attribution::AttributionConfig>,
    state: Option<PathBuf>,
) -> OutputResultLive {
    let (mut generation, set) = sigs.get();
    let mut out = OutputStage::new(sinks, attribution.map(|a| (a, set)));
    if let Some(p) = &state {
        match crate::inventory::state::load_file(p) {
            Ok(Some(prev)) => out.inventory.merge(&prev),
            Ok(None) => {}
            Err(e) => eprintln!("phonehome: error: {e}; starting with an empty inventory"),
        }
    }
    let mut hist = super::new_histogram();
    let mut last_inv = Instant::now();
    let mut snap = OutputSnapshot::default();
    let write_inventory = |out: &OutputStage, snap: &mut OutputSnapshot| {
        if let Some(p) = &state
            && let Err(e) = crate::inventory::state::save_file(p, &out.inventory)
        {
            snap.inventory_write_errors += 1;
            eprintln!("phonehome: error: {e}");
        }
        if let Some(p) = &inventory_path {
            match crate::output::inventory_file::write_inventory_file(p, &out.inventory) {
                Ok(()) => snap.inventory_writes += 1,
                Err(e) => {
                    snap.inventory_write_errors += 1;
                    eprintln!("phonehome: error: {e}");
                }
            }
        }
    };
    loop {
        match rx.recv_timeout(limits::LIVE_OUTPUT_TICK) {
            Ok(d) => {
                let now = now_ns();
                for ev in &d.events {
                    if let Event::Name(n) = ev
                        && n.rule.is_some()
                    {
                        hist.saturating_record(now.saturating_sub(n.ts).max(1));
                    }
                    out.emit(ev);
                }
                out.flush();
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if sigs.generation() != generation {
            let (g, s) = sigs.get();
            generation = g;
            out.set_signatures(s);
        }
        if last_inv.elapsed() >= every {
            last_inv = Instant::now();
            write_inventory(&out, &mut snap);
        }
        snap.events = out.written;
        snap.sink_errors = out.errors.len() as u64;
        snap.inventory_hosts = out.inventory.len() as u64;
        snap.alert_latency_p50_ns = hist.value_at_quantile(0.5);
        snap.alert_latency_p99_ns = hist.value_at_quantile(0.99);
        snap.alert_latency_max_ns = hist.max();
        if let Ok(mut s) = shared.output.lock() {
            *s = snap.clone();
        }
    }
    out.flush();
    write_inventory(&out, &mut snap);
    if let Ok(mut s) = shared.output.lock() {
        *s = snap;
    }
    out.finish()
}

/// One status line (stderr, `--status-interval`).
pub fn status_line(shared: &LiveShared, elapsed: Duration) -> String {
    let Totals {
        worker: w,
        capture: c,
        queue_batches_dropped: qd,
        queue_events_dropped: ed,
        ..
    } = shared.totals();
    let secs = elapsed.as_secs_f64().max(1e-9);
    let mut line = format!(
        "phonehome: {:.0} pkt/s, packets {} (kernel drops {}, queue drops {} batches/{} events), names {}, alerts {}, flows {}, hosts {}",
        w.packets as f64 / secs,
        c.received.max(w.packets),
        c.kernel_drops,
        qd,
        ed,
        w.names.values().sum::<u64>(),
        w.alerts,
        w.flows_active,
        shared.output.lock().map(|o| o.inventory_hosts).unwrap_or(0),
    );
    if let Ok(d) = shared.delivery.lock() {
        for (label, c) in d.iter() {
            let s = c.snapshot();
            line.push_str(&format!(
                "; {label}: {} sent, {} queued, {} spooled, {} dropped",
                s.sent,
                s.queued,
                s.spooled,
                s.dropped_total()
            ));
        }
    }
    line
}

/// The Prometheus text exposition of every counter (`/metrics`).
pub fn metrics_text(shared: &LiveShared) -> String {
    use std::fmt::Write as _;
    let Totals {
        worker: w,
        capture: c,
        queue_batches_dropped: qd,
        queue_events_dropped: ed,
        unread_at_exit,
    } = shared.totals();
    let o = shared.output.lock().map(|o| o.clone()).unwrap_or_default();
    let mut s = String::with_capacity(4096);
    let mut counter = |name: &str, help: &str, v: u64| {
        let _ = writeln!(s, "# HELP phonehome_{name} {help}");
        let _ = writeln!(s, "# TYPE phonehome_{name} counter");
        let _ = writeln!(s, "phonehome_{name} {v}");
    };
    counter(
        "packets_total",
        "Frames processed by the workers.",
        w.packets,
    );
    counter("bytes_total", "Captured bytes processed.", w.bytes);
    counter(
        "kernel_received_total",
        "Frames the kernel accepted for our sockets.",
        c.received,
    );
    counter(
        "kernel_drops_total",
        "Frames the kernel dropped: ring or buffer full.",
        c.kernel_drops,
    );
    counter(
        "interface_drops_total",
        "Frames dropped by the interface or driver.",
        c.interface_drops,
    );
    counter(
        "queue_drops_total",
        "Event batches the output queue refused.",
        qd,
    );
    counter(
        "queue_events_dropped_total",
        "Events lost in refused batches.",
        ed,
    );
    counter(
        "unread_at_exit_total",
        "Frames left in the ring at shutdown.",
        unread_at_exit,
    );
    counter("decoded_total", "Frames decoded to UDP or TCP.", w.decoded);
    counter("alerts_total", "Names that matched a signature.", w.alerts);
    counter(
        "events_written_total",
        "Events handed to the sinks.",
        o.events,
    );
    counter("sink_errors_total", "Sink write errors.", o.sink_errors);
    for (k, v) in &w.decode_errors {
        let _ = writeln!(s, "phonehome_not_decoded_total{{reason=\"{k}\"}} {v}");
    }
    for (k, v) in &w.decode_anomalies {
        let _ = writeln!(s, "phonehome_decode_anomalies_total{{kind=\"{k}\"}} {v}");
    }
    for (k, v) in &w.names {
        let _ = writeln!(s, "phonehome_names_total{{protocol=\"{k}\"}} {v}");
    }
    for v in w.visibility() {
        let p = v.protocol;
        let _ = writeln!(
            s,
            "phonehome_visibility_seen_total{{protocol=\"{p}\"}} {}",
            v.seen
        );
        let _ = writeln!(
            s,
            "phonehome_visibility_names_total{{protocol=\"{p}\"}} {}",
            v.names
        );
        for (reason, n) in &v.missed {
            let _ = writeln!(
                s,
                "phonehome_visibility_missed_total{{protocol=\"{p}\",reason=\"{}\"}} {n}",
                prom_label(reason)
            );
        }
    }
    for (k, v) in w.quic.pairs() {
        let _ = writeln!(s, "phonehome_quic_{k} {v}");
    }
    for (k, v) in w.flow.pairs() {
        let _ = writeln!(s, "phonehome_flow_{k} {v}");
    }
    if let Ok(d) = shared.delivery.lock() {
        let _ = writeln!(
            s,
            "# HELP phonehome_sink_sent_total Alert records delivered, per destination."
        );
        for (label, c) in d.iter() {
            let st = c.snapshot();
            let l = prom_label(label);
            let _ = writeln!(s, "phonehome_sink_sent_total{{sink=\"{l}\"}} {}", st.sent);
            let _ = writeln!(
                s,
                "phonehome_sink_spooled_total{{sink=\"{l}\"}} {}",
                st.spooled
            );
            let _ = writeln!(s, "phonehome_sink_queued{{sink=\"{l}\"}} {}", st.queued);
            let _ = writeln!(
                s,
                "phonehome_sink_spool_pending{{sink=\"{l}\"}} {}",
                st.spool_pending
            );
            for (reason, n) in st.dropped {
                let _ = writeln!(
                    s,
                    "phonehome_sink_dropped_total{{sink=\"{l}\",reason=\"{}\"}} {n}",
                    reason.as_str()
                );
            }
        }
    }
    let _ = writeln!(
        s,
        "# TYPE phonehome_flows_active gauge\nphonehome_flows_active {}",
        w.flows_active
    );
    let _ = writeln!(
        s,
        "# TYPE phonehome_inventory_hosts gauge\nphonehome_inventory_hosts {}",
        o.inventory_hosts
    );
    let _ = writeln!(
        s,
        "# HELP phonehome_reassembly_bytes_held Bytes held in TCP reassembly buffers.\n# TYPE phonehome_reassembly_bytes_held gauge\nphonehome_reassembly_bytes_held {}",
        w.flow.reassembly_bytes_held
    );
    let _ = writeln!(
        s,
        "# HELP phonehome_capture_to_alert_seconds Packet time to alert output.\n# TYPE phonehome_capture_to_alert_seconds summary"
    );
    for (q, v) in [
        ("0.5", o.alert_latency_p50_ns),
        ("0.99", o.alert_latency_p99_ns),
        ("1", o.alert_latency_max_ns),
    ] {
        let _ = writeln!(
            s,
            "phonehome_capture_to_alert_seconds{{quantile=\"{q}\"}} {}",
            v as f64 / 1e9
        );
    }
    s
}

/// A Prometheus label value: backslash, quote and newline escaped.
fn prom_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Serve `/metrics` on `addr` from a background thread: one request at a
/// time, bounded reads with a timeout (the endpoint must never be a way to
/// stall or exhaust the sensor).
pub fn serve_metrics(
    addr: std::net::SocketAddr,
    shared: Arc<LiveShared>,
) -> std::io::Result<std::net::SocketAddr> {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind(addr)?;
    let local = listener.local_addr()?;
    thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut c) = conn else { continue };
            let _ = c.set_read_timeout(Some(Duration::from_secs(2)));
            let _ = c.set_write_timeout(Some(Duration::from_secs(2)));
            let mut buf = [0u8; 1024];
            let n = c.read(&mut buf).unwrap_or(0);
            let req = &buf[..n];
            let (status, body) =
                if req.starts_with(b"GET /metrics ") || req.starts_with(b"GET /metrics?") {
                    ("200 OK", metrics_text(&shared))
                } else {
                    ("404 Not Found", "try /metrics\n".to_string())
                };
            let _ = write!(
                c,
                "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    Ok(local)
}
