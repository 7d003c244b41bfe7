//! Whole-pipeline benchmark: `runtime::run_offline` (reader thread, N
//! workers, output thread) over a generated ~50 MB capture read from a
//! file, with 1 and 2 workers. Throughput is in capture-file bytes.
//!
//! The capture is generated once into `target/bench-data/` (deterministic:
//! seed 1) and reused by later runs; the first iteration warms the page
//! cache, so this measures the pipeline, not the disk.
//!
//! Run: `cargo bench --bench pipeline`.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use phonehome::event::Event;
use phonehome::output::sink::EventSink;
use phonehome::runtime::{self, RuntimeConfig, WorkerConfig};
use phonehome::signatures::SignatureSet;
use phonehome::traffic::bulk::{self, BulkOpts, LinkKind};
use phonehome::traffic::pcap::TsResolution;

const SIZE: u64 = 50 << 20;

/// Counts events, as a cheap stand-in for a JSON sink.
struct Count(u64);

impl EventSink for Count {
    fn event(&mut self, _ev: &Event) -> io::Result<()> {
        self.0 += 1;
        Ok(())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The cached capture, generated on first use (written under a temporary
/// name and renamed, so an interrupted run never leaves a short file).
fn capture() -> (PathBuf, u64) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    std::fs::create_dir_all(&dir).expect("target/bench-data");
    let path = dir.join("bulk-50M-seed1.pcap");
    if !path.exists() {
        let tmp = dir.join(format!("bulk-50M-seed1.pcap.{}", std::process::id()));
        let f = std::fs::File::create(&tmp).expect("create capture");
        let opts = BulkOpts {
            size: SIZE,
            seed: 1,
            resolution: TsResolution::Micros,
            link: LinkKind::Ethernet,
        };
        bulk::generate(io::BufWriter::with_capacity(1 << 20, f), &opts).expect("generate");
        std::fs::rename(&tmp, &path).expect("rename capture");
    }
    let len = std::fs::metadata(&path).expect("capture exists").len();
    (path, len)
}

fn bench_pipeline(c: &mut Criterion) {
    let (path, len) = capture();
    let sigs = Arc::new(SignatureSet::builtin().expect("embedded pack loads"));
    let paths = vec![path];
    let mut g = c.benchmark_group("pipeline");
    g.throughput(Throughput::Bytes(len));
    g.sample_size(10);
    for workers in [1usize, 2] {
        let cfg = RuntimeConfig {
            workers,
            worker: WorkerConfig::default(),
            progress: false,
            attribution: None,
        };
        // One run outside the timing: checks the run is whole and warms the
        // page cache.
        let r = runtime::run_offline(&paths, Arc::clone(&sigs), &cfg, vec![Box::new(Count(0))]);
        assert!(!r.input_failed(), "capture reads to its end");
        assert!(r.stats.alerts > 0, "the bulk capture has alerts");
        g.bench_function(format!("run_offline_50M_{workers}w"), |b| {
            b.iter(|| {
                let r =
                    runtime::run_offline(&paths, Arc::clone(&sigs), &cfg, vec![Box::new(Count(0))]);
                r.stats.alerts
            })
        });
    }
    g.finish();
}

criterion_group!(pipeline, bench_pipeline);
criterion_main!(pipeline);
