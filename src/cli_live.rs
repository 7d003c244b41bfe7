//! `phonehome live`: open the capture sockets (before any privilege drop),
//! start the live runtime, and handle signals, status lines and reloads.
//! Part of the binary (uses `anyhow` and exit codes like main.rs).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use phonehome::capture::afpacket::LiveSource;
use phonehome::runtime::live::{self, LiveConfig, LiveRun};
use phonehome::runtime::{self, WorkerConfig};

use super::{Backend, EXIT_FATAL, LiveArgs, load_signatures, open_outputs, report_delivery};

/// How often the main thread checks signals and the status timer.
const TICK: Duration = Duration::from_millis(100);

fn open_sources(a: &LiveArgs, workers: usize) -> Result<Vec<Box<dyn LiveSource>>> {
    let mut out: Vec<Box<dyn LiveSource>> = Vec::new();
    match a.backend {
        Backend::AfPacket => {
            #[cfg(target_os = "linux")]
            {
                use phonehome::capture::afpacket::{AfPacketConfig, AfPacketSource};
                let d = AfPacketConfig::default();
                let cfg = AfPacketConfig {
                    promisc: !a.no_promisc,
                    snaplen: a.snaplen.unwrap_or(d.snaplen),
                    block_size: a.ring_block_size.unwrap_or(d.block_size),
                    block_count: a.ring_blocks.unwrap_or(d.block_count),
                    retire_timeout_ms: a.ring_retire_ms.unwrap_or(d.retire_timeout_ms),
                    ..d
                };
                if a.bpf.is_some() {
                    bail!(
                        "--bpf needs --backend pcap (the af-packet backend has no filter compiler)"
                    );
                }
                for iface in &a.interfaces {
                    for s in AfPacketSource::open_group(iface, workers, &cfg)? {
                        out.push(Box::new(s));
                    }
                }
            }
            #[cfg(not(target_os = "linux"))]
            bail!("the af-packet backend exists only on Linux: use --backend pcap");
        }
        Backend::Pcap => {
            #[cfg(feature = "pcap")]
            {
                use phonehome::capture::pcap_live::{PcapConfig, PcapLiveSource};
                let d = PcapConfig::default();
                let cfg = PcapConfig {
                    promisc: !a.no_promisc,
                    snaplen: a.snaplen.unwrap_or(d.snaplen),
                    bpf: a.bpf.clone(),
                    ..d
                };
                for iface in &a.interfaces {
                    for s in PcapLiveSource::open_group(iface, workers, &cfg)? {
                        out.push(Box::new(s));
                    }
                }
            }
            #[cfg(not(feature = "pcap"))]
            bail!(
                "this phonehome was built without the `pcap` feature: rebuild with `cargo build --release --features pcap` (needs libpcap-dev)"
            );
        }
    }
    #[allow(unreachable_code)] // on builds where a backend branch bails
    Ok(out)
}

pub(super) fn cmd_live(a: LiveArgs) -> Result<u8> {
    let sigs = load_signatures(&a.sigs)?;
    if let Some(inv) = &a.inventory {
        phonehome::output::inventory_file::InventoryFormat::from_path(inv)?;
    }
    let workers = a
        .workers
        .map(usize::from)
        .unwrap_or_else(runtime::default_workers);
    let sources = open_sources(&a, workers)?;
    // Human text goes to stderr in live mode, so stdout may carry JSON.
    let mut outputs = open_outputs(&a.out, true)?;
    let sinks = std::mem::take(&mut outputs.sinks);
    // Every socket is open: privileges are no longer needed.
    if let Some(user) = &a.user {
        phonehome::capture::afpacket::drop_privileges(user)?;
    }
    let term = Arc::new(AtomicBool::new(false));
    let hup = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&term)).context("installing signal handler")?;
    }
    signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(&hup))
        .context("installing SIGHUP handler")?;

    let cfg = LiveConfig {
        worker: WorkerConfig {
            emit_names: a.out.names.is_some(),
            emit_all_answers: a.out.dns_answers.is_some(),
            emit_flow_starts: true,
        },
        attribution: Some(a.attr.config()?),
        state: a.attr.state.clone(),
        inventory: a.inventory.clone(),
        inventory_interval: Duration::from_secs(a.inventory_interval.max(1)),
    };
    let n_sources = sources.len();
    let run = LiveRun::start(sources, Arc::new(sigs), cfg, sinks);
    if let Ok(mut d) = run.shared.delivery.lock() {
        d.clone_from(&outputs.delivery);
    }
    if let Some(addr) = a.metrics_listen {
        let local = live::serve_metrics(addr, Arc::clone(&run.shared))
            .with_context(|| format!("cannot listen on {addr} for /metrics"))?;
        eprintln!("phonehome: metrics at http://{local}/metrics");
    }
    eprintln!(
        "phonehome: capturing on {} ({} sockets, {} per interface); SIGINT/SIGTERM stop, SIGHUP reloads signatures",
        a.interfaces.join(", "),
        n_sources,
        workers
    );
    let started = Instant::now();
    let mut last_status = Instant::now();
    let status_every = Duration::from_secs(a.status_interval);
    loop {
        std::thread::sleep(TICK);
        if term.load(Ordering::Relaxed) || run.finished() {
            break;
        }
        if hup.swap(false, Ordering::Relaxed) {
            // Files are reopened too (logrotate's postrotate convention).
            phonehome::output::delivery::request_reopen();
            match load_signatures(&a.sigs) {
                Ok(s) => {
                    let n = s.len();
                    run.sigs.swap(Arc::new(s));
                    eprintln!("phonehome: SIGHUP: signatures reloaded ({n} rules)");
                }
                Err(e) => {
                    eprintln!("phonehome: error: SIGHUP: {e:#}; keeping the signatures in use")
                }
            }
        }
        if a.status_interval > 0 && last_status.elapsed() >= status_every {
            last_status = Instant::now();
            eprintln!("{}", live::status_line(&run.shared, started.elapsed()));
        }
    }
    // Drain: capture threads read their rings empty, the output thread
    // writes every event and the inventory.
    run.control.shutdown.store(true, Ordering::Relaxed);
    let shared = Arc::clone(&run.shared);
    let report = run.join();
    eprintln!("{}", live::status_line(&shared, started.elapsed()));
    let mut code = report_delivery(&outputs);
    for e in &report.source_errors {
        eprintln!("phonehome: error: {e}");
        code = EXIT_FATAL;
    }
    for e in &report.sink_errors {
        eprintln!("phonehome: error: writing output: {e}");
        code = EXIT_FATAL;
    }
    if let Some(p) = &a.stats {
        let t = shared.totals();
        let (w, c) = (&t.worker, &t.capture);
        let v = serde_json::json!({
            "schema_version": "1",
            "mode": "live",
            "elapsed_seconds": started.elapsed().as_secs_f64(),
            "capture": {
                "received": c.received,
                "kernel_drops": c.kernel_drops,
                "interface_drops": c.interface_drops,
                "delivered": c.delivered,
                "truncated": c.truncated,
                "ring_damaged": c.ring_damaged,
                "link_down": c.link_down,
            },
            "unread_at_exit": t.unread_at_exit,
            "queue": {
                "output_batches_dropped": t.queue_batches_dropped,
                "output_events_dropped": t.queue_events_dropped,
            },
            "stages": w.to_json(),
            "visibility": w.visibility_json(),
            "output": { "events": report.events_out },
        });
        std::fs::write(p, serde_json::to_vec_pretty(&v)?)
            .with_context(|| format!("writing {}", p.display()))?;
    }
    Ok(code)
}
