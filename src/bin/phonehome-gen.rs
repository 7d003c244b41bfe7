//! phonehome-gen: writes the deterministic captures used by tests, the demo
//! and benchmarks, each with a ground-truth JSON file. See
//! `phonehome::traffic` for what the scenarios contain.
//!
//! ```text
//! phonehome-gen demo --out tests/data/demo.pcap --truth tests/data/demo.truth.json
//! phonehome-gen bulk --size 100M --seed 1 --out bulk.pcap --truth bulk.truth.json
//! phonehome-gen office --out office.pcap --truth office.truth.json
//! ```

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use phonehome::traffic::{self, bulk, demo, office, pcap::TsResolution, truth::Truth};

#[derive(Parser)]
#[command(
    name = "phonehome-gen",
    version,
    about = "Generate deterministic test captures with ground truth"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Clone, Copy, ValueEnum)]
enum LinkArg {
    Ethernet,
    Raw,
    Sll2,
}

#[derive(Subcommand)]
enum Cmd {
    /// The small office demo capture (fixed content; always the same bytes).
    Demo {
        /// Output pcap file.
        #[arg(long)]
        out: PathBuf,
        /// Ground-truth JSON file.
        #[arg(long)]
        truth: PathBuf,
    },
    /// An office behind an internal resolver, with a KSC-managed fleet,
    /// ECH and IP-literal clients (for attribution; fixed content).
    Office {
        /// Output pcap file.
        #[arg(long)]
        out: PathBuf,
        /// Ground-truth JSON file (name-level truth plus per-host roles and
        /// verdicts).
        #[arg(long)]
        truth: PathBuf,
    },
    /// A large benchmark capture of about --size bytes, streamed.
    Bulk {
        /// Target file size: bytes with optional K/M/G suffix (binary), e.g. 100M.
        #[arg(long, default_value = "100M")]
        size: String,
        /// PRNG seed; the same seed and size give the same bytes.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Output pcap file.
        #[arg(long)]
        out: PathBuf,
        /// Ground-truth JSON file.
        #[arg(long)]
        truth: PathBuf,
        /// Nanosecond timestamps (pcap magic a1b23c4d).
        #[arg(long)]
        ns: bool,
        /// Link-layer framing.
        #[arg(long, value_enum, default_value = "ethernet")]
        link: LinkArg,
    },
}

fn create(path: &Path) -> Result<BufWriter<File>> {
    let f = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    Ok(BufWriter::with_capacity(1 << 20, f))
}

fn write_truth(path: &Path, truth: &Truth) -> Result<()> {
    write_json(path, truth)
}

fn write_json<T: serde::Serialize>(path: &Path, truth: &T) -> Result<()> {
    let mut w = create(path)?;
    serde_json::to_writer_pretty(&mut w, truth).context("serialising the truth")?;
    w.write_all(b"\n")?;
    w.flush()
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Demo { out, truth } => {
            let w = create(&out)?;
            let t = demo::generate(w).with_context(|| format!("writing {}", out.display()))?;
            write_truth(&truth, &t)?;
            eprintln!(
                "{}: {} packets, {} bytes, {} names, {} alerts",
                out.display(),
                t.pcap.packets,
                t.pcap.bytes,
                t.counts.names,
                t.counts.alerts
            );
        }
        Cmd::Office { out, truth } => {
            let w = create(&out)?;
            let t = office::generate(w).with_context(|| format!("writing {}", out.display()))?;
            write_json(&truth, &t)?;
            eprintln!(
                "{}: {} packets, {} bytes, {} names, {} alerts, {} hosts expected",
                out.display(),
                t.capture.pcap.packets,
                t.capture.pcap.bytes,
                t.capture.counts.names,
                t.capture.counts.alerts,
                t.expected_hosts.iter().filter(|h| h.role.is_some()).count()
            );
        }
        Cmd::Bulk {
            size,
            seed,
            out,
            truth,
            ns,
            link,
        } => {
            let size = traffic::parse_size(&size)?;
            let opts = bulk::BulkOpts {
                size,
                seed,
                resolution: if ns {
                    TsResolution::Nanos
                } else {
                    TsResolution::Micros
                },
                link: match link {
                    LinkArg::Ethernet => bulk::LinkKind::Ethernet,
                    LinkArg::Raw => bulk::LinkKind::RawIp,
                    LinkArg::Sll2 => bulk::LinkKind::Sll2,
                },
            };
            let w = create(&out)?;
            let t =
                bulk::generate(w, &opts).with_context(|| format!("writing {}", out.display()))?;
            write_truth(&truth, &t)?;
            eprintln!(
                "{}: {} packets, {} bytes, {} names, {} alerts",
                out.display(),
                t.pcap.packets,
                t.pcap.bytes,
                t.counts.names,
                t.counts.alerts
            );
        }
    }
    Ok(())
}
