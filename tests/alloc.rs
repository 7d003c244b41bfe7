//! Proof of the hot-path property "no heap allocation per packet in steady
//! state", with a counting global allocator.
//!
//! Steady state, honestly: a worker first processes a capture once (its
//! flow table, buffer pool and scratch buffers grow to what that traffic
//! needs), then processes the same packets again shifted in time by more
//! than the idle timeout, so the second pass is the same traffic as fresh
//! flows: every flow is created, reassembled and finished again. Only the
//! second pass is counted.
//!
//! What may allocate: building an event (its name is an owned copy, by
//! design), and an idle sweep that expires flows (its list of expired keys,
//! at most once per sweep interval of packet time). The tests attribute
//! each allocation to the packet whose processing made it: every other
//! packet must allocate nothing at all.
//!
//! `PHONEHOME_ALLOC_TRACE=1` prints a backtrace for the first few
//! allocations made by silent packets, to find where they come from.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::{Cell, RefCell};
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use phonehome::capture::{FileSource, LinkType, Source};
use phonehome::config::limits::FLOW_IDLE_TIMEOUT_NS;
use phonehome::event::Event;
use phonehome::output::sink::EventSink;
use phonehome::runtime::{self, PacketIn, RuntimeConfig, Worker, WorkerConfig};
use phonehome::signatures::{BUILTIN_PACK, SignatureSet};
use phonehome::traffic::bulk::{self, BulkOpts, LinkKind};
use phonehome::traffic::pcap::TsResolution;

// ------------------------------------------------------------ the allocator

/// Counts allocations (alloc, alloc_zeroed, realloc) globally and per thread.
struct Counting;

static GLOBAL: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// Allocations made by this thread.
    static LOCAL: Cell<u64> = const { Cell::new(0) };
    /// Backtraces still to capture on this thread (tracing mode).
    static TRACE_LEFT: Cell<u32> = const { Cell::new(0) };
    /// Set while a backtrace is being captured (it allocates itself).
    static IN_TRACE: Cell<bool> = const { Cell::new(false) };
    static TRACES: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

fn note_alloc() {
    if IN_TRACE.try_with(Cell::get).unwrap_or(false) {
        return; // the backtrace's own allocations are not the code's
    }
    GLOBAL.fetch_add(1, Ordering::Relaxed);
    let _ = LOCAL.try_with(|c| c.set(c.get() + 1));
    if TRACE_LEFT.try_with(|t| t.get() > 0).unwrap_or(false) {
        let _ = IN_TRACE.try_with(|f| f.set(true));
        let _ = TRACE_LEFT.try_with(|t| t.set(t.get() - 1));
        let bt = std::backtrace::Backtrace::force_capture().to_string();
        let _ = TRACES.try_with(|v| v.borrow_mut().push(bt));
        let _ = IN_TRACE.try_with(|f| f.set(false));
    }
}

// SAFETY: every method forwards its arguments unchanged to `System`, which
// upholds the `GlobalAlloc` contract; the only addition is bookkeeping in
// atomics and const-initialised thread-locals (which never allocate, and
// backtrace capture is guarded against re-entry).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_alloc();
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_alloc();
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_alloc();
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn local() -> u64 {
    LOCAL.with(Cell::get)
}

/// Tests run one at a time: the runtime test counts every thread.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

// ------------------------------------------------------------------- inputs

struct Packets {
    data: Vec<u8>,
    pkts: Vec<(u64, LinkType, std::ops::Range<usize>)>,
}

fn read_source(mut src: FileSource) -> Packets {
    let mut p = Packets {
        data: Vec::new(),
        pkts: Vec::new(),
    };
    while let Some(r) = src.next_packet().expect("capture reads") {
        let start = p.data.len();
        p.data.extend_from_slice(r.data);
        p.pkts.push((r.ts_ns, r.linktype, start..p.data.len()));
    }
    p
}

fn demo() -> Packets {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/demo.pcap");
    read_source(FileSource::open(&path).expect("demo capture opens"))
}

fn bulk_pcap(size: u64) -> Vec<u8> {
    let mut out = Vec::new();
    let opts = BulkOpts {
        size,
        seed: 3,
        resolution: TsResolution::Micros,
        link: LinkKind::Ethernet,
    };
    bulk::generate(&mut out, &opts).expect("bulk generates");
    out
}

fn bulk(size: u64) -> Packets {
    read_source(FileSource::from_reader("bulk", Cursor::new(bulk_pcap(size))).expect("opens"))
}

/// The embedded pack with every pattern moved under `.invalid` (RFC 6761
/// §6.4: never a real name): the same number and shapes of rules, so the
/// matcher does the same work, but no name in any capture matches.
fn never_matching() -> SignatureSet {
    let text: String = BUILTIN_PACK
        .lines()
        .map(|l| match l.strip_prefix("pattern = \"") {
            Some(rest) => format!("pattern = \"{}.invalid\"", rest.trim_end_matches('"')),
            None => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    let set = SignatureSet::from_sources(&[("never.toml", &text)]).expect("pack loads");
    assert_eq!(set.len(), SignatureSet::builtin().expect("builtin").len());
    set
}

// -------------------------------------------------------------- measurement

#[derive(Debug, Default)]
struct Pass {
    packets: u64,
    /// Packets that produced at least one event, and their allocations.
    eventful: u64,
    eventful_allocs: u64,
    events: u64,
    /// Packets whose processing ran an idle sweep that expired flows, and
    /// their allocations (the list of expired keys).
    sweeping: u64,
    sweep_allocs: u64,
    /// Allocations made by every other packet: must be zero.
    silent_allocs: u64,
    /// Backtraces of the first silent allocations (tracing mode).
    traces: Vec<String>,
}

/// One pass over `pkts` with packet times shifted by `shift_ns`,
/// attributing this thread's allocations to each packet.
fn pass(w: &mut Worker, pkts: &Packets, shift_ns: u64, out: &mut Vec<Event>, trace: bool) -> Pass {
    let mut r = Pass::default();
    for (i, (ts, lt, range)) in pkts.pkts.iter().enumerate() {
        let data = pkts.data.get(range.clone()).unwrap_or(&[]);
        let p = PacketIn {
            ts_ns: ts + shift_ns,
            packet_no: i as u64 + 1,
            linktype: *lt,
            data,
        };
        // The output vector is the caller's: emptied (capacity kept) so its
        // growth is not counted against the worker.
        out.clear();
        // Counters of the sub-stages are copied on demand (not per packet).
        w.sync_stats();
        let expired = w.stats.flow.flows_expired;
        if trace {
            TRACES.with(|v| v.borrow_mut().clear());
            TRACE_LEFT.with(|t| t.set(4));
        }
        let before = local();
        w.process(&p, out);
        let n = local() - before;
        if trace {
            TRACE_LEFT.with(|t| t.set(0));
        }
        r.packets += 1;
        w.sync_stats();
        if !out.is_empty() {
            r.eventful += 1;
            r.eventful_allocs += n;
            r.events += out.len() as u64;
        } else if w.stats.flow.flows_expired > expired {
            r.sweeping += 1;
            r.sweep_allocs += n;
        } else {
            r.silent_allocs += n;
            if trace && n > 0 && r.traces.len() < 8 {
                let bts = TRACES.with(|v| std::mem::take(&mut *v.borrow_mut()));
                r.traces
                    .extend(bts.into_iter().map(|bt| format!("packet {}:\n{bt}", i + 1)));
            }
        }
    }
    r
}

/// Warm-up pass, then two counted passes of the same traffic as new flows.
fn steady_state(sigs: SignatureSet, pkts: &Packets) -> (Pass, Pass) {
    let mut w = Worker::new(
        Arc::new(sigs),
        WorkerConfig {
            emit_names: false,
            emit_all_answers: false,
            emit_flow_starts: false,
        },
    );
    let mut out = Vec::with_capacity(1024);
    let span = pkts.pkts.iter().map(|p| p.0).max().unwrap_or(0)
        - pkts.pkts.iter().map(|p| p.0).min().unwrap_or(0);
    // Each pass starts after every flow of the previous one went idle.
    let shift = span + 2 * FLOW_IDLE_TIMEOUT_NS;
    pass(&mut w, pkts, 0, &mut out, false);
    let verbose = std::env::var_os("PHONEHOME_ALLOC_TRACE").is_some();
    let mut second = pass(&mut w, pkts, shift, &mut out, verbose);
    let third = pass(&mut w, pkts, 2 * shift, &mut out, false);
    if second.silent_allocs > 0 && second.traces.is_empty() {
        // Find out where, for the failure message: one more pass of the same
        // traffic with backtraces on.
        second.traces = pass(&mut w, pkts, 3 * shift, &mut out, true).traces;
    }
    if verbose {
        for bt in &second.traces {
            eprintln!("---- silent allocation in {bt}");
        }
    }
    (second, third)
}

/// Allocations one idle sweep may make: its list of expired keys, grown by
/// doubling up to `MAX_FLOWS_PER_WORKER` entries (1 + 17 reallocations).
const SWEEP_ALLOWANCE: u64 = 18;

fn check(name: &str, p: &Pass) {
    eprintln!(
        "{name}: {} packets; {} silent allocations; {} sweeps made {}; {} packets with {} \
         events made {}",
        p.packets,
        p.silent_allocs,
        p.sweeping,
        p.sweep_allocs,
        p.eventful,
        p.events,
        p.eventful_allocs
    );
    assert!(p.packets > 1000, "{name}: enough packets to mean something");
    // The crate's frames of the first offending allocation.
    let site: String = p
        .traces
        .first()
        .map(|bt| {
            bt.lines()
                .filter(|l| {
                    l.starts_with("packet") || l.contains("phonehome::") || l.contains("at ./src/")
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default();
    assert_eq!(
        p.silent_allocs, 0,
        "{name}: packets that produced no event and ran no sweep allocated; first \
         site:\n{site}\n(PHONEHOME_ALLOC_TRACE=1 prints full backtraces)"
    );
    assert!(
        p.sweep_allocs <= SWEEP_ALLOWANCE * p.sweeping,
        "{name}: {} allocations in {} sweeps",
        p.sweep_allocs,
        p.sweeping
    );
    // An event costs a bounded number of allocations (its owned name, an
    // HTTP method copy, the output vector is the caller's): not a growing
    // amount.
    assert!(
        p.eventful_allocs <= 4 * p.events,
        "{name}: {} allocations for {} events",
        p.eventful_allocs,
        p.events
    );
}

#[test]
fn worker_allocates_nothing_per_packet_with_the_builtin_signatures() {
    let _g = serial();
    for (name, pkts) in [("demo", demo()), ("bulk-8M", bulk(8 << 20))] {
        let (second, third) = steady_state(SignatureSet::builtin().expect("builtin"), &pkts);
        check(&format!("{name} pass 2"), &second);
        check(&format!("{name} pass 3"), &third);
        assert!(second.events > 0, "{name}: the capture has alerts");
    }
}

#[test]
fn worker_allocates_nothing_when_no_name_matches() {
    let _g = serial();
    let pkts = bulk(8 << 20);
    let (second, third) = steady_state(never_matching(), &pkts);
    for (n, p) in [("pass 2", &second), ("pass 3", &third)] {
        check(&format!("never-matching {n}"), p);
        assert_eq!(p.events, 0, "nothing matches");
    }
}

/// Counts events without keeping them.
struct Count;

impl EventSink for Count {
    fn event(&mut self, _ev: &Event) -> std::io::Result<()> {
        Ok(())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The whole offline runtime (reader, dispatch, batches, workers, output):
/// reading a file a second time in the same run costs a bounded number of
/// allocations (opening it, its read buffer), not one per packet or batch.
#[test]
fn offline_runtime_allocations_do_not_grow_with_packets() {
    let _g = serial();
    let dir = std::env::temp_dir().join(format!("phonehome-alloc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("bulk-8M.pcap");
    std::fs::write(&path, bulk_pcap(8 << 20)).expect("write capture");
    let packets = read_source(FileSource::open(&path).expect("opens"))
        .pkts
        .len() as u64;
    let sigs = Arc::new(never_matching());
    let run = |paths: &[PathBuf], workers: usize| -> u64 {
        let cfg = RuntimeConfig {
            workers,
            worker: WorkerConfig::default(),
            progress: false,
            attribution: None,
        };
        let before = GLOBAL.load(Ordering::Relaxed);
        let r = runtime::run_offline(paths, Arc::clone(&sigs), &cfg, vec![Box::new(Count)]);
        let n = GLOBAL.load(Ordering::Relaxed) - before;
        assert!(!r.input_failed());
        assert_eq!(r.stats.packets, packets * paths.len() as u64);
        n
    };
    for workers in [1usize, 2] {
        let one = run(std::slice::from_ref(&path), workers);
        let three = run(&[path.clone(), path.clone(), path.clone()], workers);
        let per_file = three.saturating_sub(one) / 2;
        eprintln!(
            "runtime, {workers} worker(s): 1 file {one} allocations, 3 files {three}; \
             each extra file of {packets} packets costs {per_file}"
        );
        // An extra file means opening it (buffers, path copies) and, as the
        // packet times start over, one idle sweep per worker: a few hundred
        // allocations at most, against tens of thousands of packets.
        assert!(
            per_file <= 400,
            "{workers} worker(s): {per_file} allocations per extra file of {packets} packets"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
