//! Helpers shared by the integration tests.
#![allow(dead_code)] // each test binary uses a subset

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use phonehome::event::Event;
use phonehome::output::sink::EventSink;
use phonehome::runtime::{self, RunReport, RuntimeConfig, WorkerConfig};
use phonehome::signatures::SignatureSet;

/// The project root (where Cargo.toml is).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Collects every event in memory.
#[derive(Clone, Default)]
pub struct Collect(pub Arc<Mutex<Vec<Event>>>);

impl EventSink for Collect {
    fn event(&mut self, ev: &Event) -> io::Result<()> {
        self.0
            .lock()
            .map_err(|_| io::Error::other("poisoned"))?
            .push(ev.clone());
        Ok(())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Run the offline pipeline over `files` with the embedded signatures,
/// every name and every DNS answer emitted.
pub fn run(files: &[&Path], workers: usize) -> (RunReport, Vec<Event>) {
    let sigs = Arc::new(SignatureSet::builtin().expect("embedded pack loads"));
    run_with(files, workers, sigs)
}

pub fn run_with(
    files: &[&Path],
    workers: usize,
    sigs: Arc<SignatureSet>,
) -> (RunReport, Vec<Event>) {
    let c = Collect::default();
    let cfg = RuntimeConfig {
        workers,
        worker: WorkerConfig {
            emit_names: true,
            emit_all_answers: true,
            emit_flow_starts: true,
        },
        progress: false,
        attribution: None,
    };
    let paths: Vec<PathBuf> = files.iter().map(|p| p.to_path_buf()).collect();
    let report = runtime::run_offline(&paths, sigs, &cfg, vec![Box::new(c.clone())]);
    let events = c.0.lock().expect("not poisoned").clone();
    (report, events)
}
