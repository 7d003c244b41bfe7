//! `phonehome`: flags → config → run. The only place for `anyhow` and exit
//! codes.
//!
//! Exit codes (documented in README.md):
//! - 0: ran cleanly;
//! - 1: fatal error (bad signature pack, an output that cannot be written);
//! - 2: usage error (bad flags);
//! - 3: an input capture was unreadable or damaged — every result obtained
//!   before the damage was still written.
#![forbid(unsafe_code)]

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};

use phonehome::output::sink::{EventSink, Filter, JsonLinesSink};
use phonehome::output::summary::{Totals, write_summary};
use phonehome::runtime::{self, RunReport, RuntimeConfig, WorkerConfig};
use phonehome::signatures::SignatureSet;

const EXIT_FATAL: u8 = 1;
const EXIT_INPUT: u8 = 3;

/// Find the hosts on a network that still run software from a banned vendor
/// (Kaspersky), by watching them phone home: DNS queries, TLS SNI, HTTP
/// Host/CONNECT.
#[derive(Parser, Debug)]
#[command(name = "phonehome", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    cmd: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Analyse pcap/pcapng files (plain or .gz) and report the hosts phoning
    /// home.
    Read(ReadArgs),
    /// Capture on network interfaces (span port, tap) until SIGINT/SIGTERM.
    Live(LiveArgs),
    /// List, check or export signature packs.
    #[command(subcommand)]
    Signatures(SigCommand),
    /// Render a report (HTML, Markdown or CSV) from a state or inventory
    /// file.
    Report(ReportArgs),
}

#[derive(Args, Debug)]
#[group(required = true, multiple = false, id = "report_input")]
struct ReportInput {
    /// A state file written by `read --state` or `live --state`.
    #[arg(long, value_name = "PATH")]
    state: Option<PathBuf>,
    /// An inventory JSON file written by `--inventory PATH.json`.
    #[arg(long, value_name = "PATH")]
    inventory: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct ReportArgs {
    #[command(flatten)]
    input: ReportInput,
    /// Output file (- for stdout).
    #[arg(short = 'o', long = "output", value_name = "PATH")]
    output: PathBuf,
    /// html, md or csv (default: from the output's extension, else html).
    #[arg(long, value_name = "FORMAT")]
    format: Option<phonehome::report::Format>,
}

/// Who is a home host, and which hosts are resolvers (shared by `read` and
/// `live`).
#[derive(Args, Debug)]
struct AttributionArgs {
    /// A home network (repeatable). Only home hosts are inventoried.
    /// Default: 10/8, 172.16/12, 192.168/16, 100.64/10, 169.254/16,
    /// fc00::/7, fe80::/10.
    #[arg(long = "home-net", value_name = "CIDR")]
    home_net: Vec<String>,
    /// Declare a DNS resolver (repeatable); others are detected.
    #[arg(long = "resolver", value_name = "IP")]
    resolver: Vec<std::net::IpAddr>,
    /// Merge the inventory into this state file (created if missing), so
    /// runs and restarts add up.
    #[arg(long, value_name = "PATH")]
    state: Option<PathBuf>,
}

impl AttributionArgs {
    fn config(&self) -> Result<phonehome::attribution::AttributionConfig> {
        Ok(phonehome::attribution::AttributionConfig {
            home_nets: phonehome::attribution::HomeNets::parse(&self.home_net)
                .map_err(|e| anyhow::anyhow!("--home-net: {e}"))?,
            resolvers: self.resolver.clone(),
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Backend {
    /// Linux AF_PACKET, TPACKET_V3 rings, one fanout socket per worker.
    AfPacket,
    /// libpcap (cargo feature `pcap`): BPF filters, non-Linux hosts.
    Pcap,
}

#[derive(Args, Debug)]
struct LiveArgs {
    /// Interface to capture on. Repeatable (several span ports into one
    /// sensor).
    #[arg(short = 'i', long = "interface", required = true, value_name = "IFACE")]
    interfaces: Vec<String>,
    /// Capture backend.
    #[arg(long, value_enum, default_value = "af-packet")]
    backend: Backend,
    /// BPF filter expression (pcap backend only).
    #[arg(long, value_name = "EXPR")]
    bpf: Option<String>,
    /// Do not put the interfaces in promiscuous mode.
    #[arg(long)]
    no_promisc: bool,
    /// Bytes kept of each frame.
    #[arg(long, value_name = "BYTES")]
    snaplen: Option<u32>,
    /// AF_PACKET ring block size in bytes (power of two, page multiple).
    #[arg(long, value_name = "BYTES")]
    ring_block_size: Option<u32>,
    /// AF_PACKET ring blocks per socket.
    #[arg(long, value_name = "N")]
    ring_blocks: Option<u32>,
    /// AF_PACKET block retire timeout in milliseconds.
    #[arg(long, value_name = "MS")]
    ring_retire_ms: Option<u32>,
    /// After the sockets are open, switch to this unprivileged user.
    #[arg(long, value_name = "NAME")]
    user: Option<String>,
    #[command(flatten)]
    out: OutputArgs,
    #[command(flatten)]
    attr: AttributionArgs,
    /// Rewrite the inventory (JSON or CSV by extension) periodically and on
    /// exit, atomically (write then rename).
    #[arg(long, value_name = "PATH")]
    inventory: Option<PathBuf>,
    /// Seconds between inventory rewrites.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    inventory_interval: u64,
    /// Seconds between status lines on stderr (0: none).
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    status_interval: u64,
    /// Serve Prometheus metrics at http://ADDR/metrics.
    #[arg(long, value_name = "ADDR")]
    metrics_listen: Option<std::net::SocketAddr>,
    /// Write run statistics as JSON to PATH on exit.
    #[arg(long, value_name = "PATH")]
    stats: Option<PathBuf>,
    /// Worker threads per interface (default: cores minus one, at least 1).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    workers: Option<u16>,
    #[command(flatten)]
    sigs: SigArgs,
}

#[derive(Args, Debug, Clone)]
struct SigArgs {
    /// Add a signature pack (a .toml file, or a directory of them).
    /// Repeatable.
    #[arg(long = "signatures", value_name = "PATH")]
    signatures: Vec<PathBuf>,
    /// Do not load the embedded Kaspersky pack.
    #[arg(long)]
    no_default_signatures: bool,
}

/// Where events go, and the alert policy (shared by `read` and `live`).
#[derive(Args, Debug)]
struct OutputArgs {
    /// Send alerts to DEST: a file path, - (stdout), syslog+udp://HOST:PORT,
    /// syslog+tcp://HOST:PORT, syslog+tls://HOST:PORT or
    /// hec+https://HOST:PORT (Splunk HTTP Event Collector). Repeatable.
    #[arg(long, value_name = "DEST")]
    alerts: Vec<String>,
    /// Write every extracted name (matched or not) as ECS JSON lines to DEST
    /// (a path or -).
    #[arg(long, value_name = "DEST")]
    names: Option<PathBuf>,
    /// Write DNS answer records (A/AAAA) as ECS JSON lines to DEST.
    #[arg(long, value_name = "DEST")]
    dns_answers: Option<PathBuf>,
    /// Print alerts as JSON lines on stdout (then the summary goes to
    /// stderr).
    #[arg(long)]
    json: bool,
    /// Message body of syslog destinations: the ECS JSON line, or CEF.
    #[arg(long, value_enum, default_value = "json")]
    syslog_format: SyslogFormatArg,
    /// Spool alerts on disk here while a network collector is unreachable
    /// (size-capped per destination).
    #[arg(long, value_name = "DIR")]
    spool_dir: Option<PathBuf>,
    /// PEM file of CA certificates trusted for syslog+tls and hec+https
    /// (default: the system's bundle). Verification is always on.
    #[arg(long, value_name = "PATH")]
    ca_file: Option<PathBuf>,
    /// File holding the Splunk HEC token (else the PHONEHOME_HEC_TOKEN
    /// environment variable; never on the command line).
    #[arg(long, value_name = "PATH")]
    hec_token_file: Option<PathBuf>,
    /// Re-report a (host, vendor, name) at most this often, as a roll-up
    /// with the count since the previous report (packet time; e.g. 30m, 1h,
    /// 3600s).
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_duration)]
    realert_interval: std::time::Duration,
    /// Write every sighting as an alert (no roll-up).
    #[arg(long)]
    every_sighting: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum SyslogFormatArg {
    Json,
    Cef,
}

/// `90`, `90s`, `15m`, `1h`, `2d`.
fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last() {
        Some((i, 's')) => (&s[..i], 1),
        Some((i, 'm')) => (&s[..i], 60),
        Some((i, 'h')) => (&s[..i], 3600),
        Some((i, 'd')) => (&s[..i], 86_400),
        _ => (s, 1),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 90s, 15m, 1h or 2d"))?;
    n.checked_mul(mult)
        .filter(|&v| v > 0)
        .map(std::time::Duration::from_secs)
        .ok_or_else(|| format!("{s:?}: must be positive and not absurdly large"))
}

#[derive(Args, Debug)]
struct ReadArgs {
    /// Capture files, read in the order given.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    #[command(flatten)]
    out: OutputArgs,
    #[command(flatten)]
    attr: AttributionArgs,
    /// Write the per-host inventory: JSON if PATH ends in .json, CSV if .csv.
    #[arg(long, value_name = "PATH")]
    inventory: Option<PathBuf>,
    /// Write run statistics (per-stage counters, latency) as JSON to PATH.
    #[arg(long, value_name = "PATH")]
    stats: Option<PathBuf>,
    /// Worker threads (default: cores minus one, at least 1).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    workers: Option<u16>,
    /// Never show a progress bar.
    #[arg(long)]
    no_progress: bool,
    #[command(flatten)]
    sigs: SigArgs,
}

#[derive(Subcommand, Debug)]
enum SigCommand {
    /// List the loaded rules.
    List {
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        sigs: SigArgs,
    },
    /// Validate signature packs (files or directories); errors as file:line.
    Check {
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
    /// Export the loaded rules for other tools.
    Export {
        /// Output format.
        #[arg(long, value_enum)]
        format: phonehome::signatures::cli::ExportFormat,
        #[command(flatten)]
        sigs: SigArgs,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let res = match cli.cmd {
        Command::Read(a) => cmd_read(a),
        Command::Live(a) => live::cmd_live(a),
        Command::Signatures(s) => cmd_signatures(s),
        Command::Report(r) => cmd_report(r),
    };
    match res {
        Ok(code) => ExitCode::from(code),
        // A reader that went away (`| head`) is not an error worth a message.
        Err(e)
            if e.chain().any(|c| {
                c.downcast_ref::<io::Error>()
                    .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
            }) =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("phonehome: error: {e:#}");
            ExitCode::from(EXIT_FATAL)
        }
    }
}

#[path = "cli_live.rs"]
mod live;

fn load_signatures(a: &SigArgs) -> Result<SignatureSet> {
    SignatureSet::load(!a.no_default_signatures, &a.signatures)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("loading signature packs")
}

/// The sinks built from the output flags.
struct Outputs {
    sinks: Vec<Box<dyn EventSink + Send>>,
    /// Labels and counters of the alert destinations, read after the run.
    delivery: Vec<(String, Arc<phonehome::output::delivery::SinkCounters>)>,
    policy: Option<Arc<std::sync::Mutex<phonehome::output::policy::PolicyCounters>>>,
    /// Stdout carries JSON: human text goes to stderr.
    stdout_used: bool,
}

/// Build the sinks. File destinations of `read` are truncated (one run, one
/// file); those of `live` are appended to and reopened when moved
/// (logrotate). Alerts pass the alert policy unless `--every-sighting`.
fn open_outputs(o: &OutputArgs, live: bool) -> Result<Outputs> {
    use phonehome::output::delivery::{SinkOptions, SyslogFormat, open_sink};
    use phonehome::output::policy::{AlertPolicy, PolicySink};
    let mut stdout_used = false;
    let mut claim_stdout = |d: &str| -> Result<()> {
        if d == "-" {
            if stdout_used {
                bail!("only one output can write to stdout (-)");
            }
            stdout_used = true;
        }
        Ok(())
    };
    let mut alert_sinks: Vec<Box<dyn EventSink + Send>> = Vec::new();
    let mut delivery = Vec::new();
    let mut dests = o.alerts.clone();
    if o.json {
        dests.push("-".into());
    }
    let opts = SinkOptions {
        filter: Filter::ALERTS,
        syslog_format: match o.syslog_format {
            SyslogFormatArg::Json => SyslogFormat::Json,
            SyslogFormatArg::Cef => SyslogFormat::Cef,
        },
        spool_dir: o.spool_dir.clone(),
        ca_file: o.ca_file.clone(),
        hec_token_file: o.hec_token_file.clone(),
        ..SinkOptions::default()
    };
    for d in &dests {
        claim_stdout(d)?;
        let network = d.contains("://");
        if network || live {
            let s = open_sink(d, &opts).with_context(|| format!("--alerts {d}"))?;
            delivery.push((s.label().to_string(), s.counters()));
            alert_sinks.push(s);
        } else {
            let s = JsonLinesSink::create(Path::new(d), Filter::ALERTS)
                .with_context(|| format!("cannot write to {d}"))?;
            alert_sinks.push(Box::new(s));
        }
    }
    let mut sinks: Vec<Box<dyn EventSink + Send>> = Vec::new();
    let mut policy = None;
    if !alert_sinks.is_empty() {
        if o.every_sighting {
            sinks.extend(alert_sinks);
        } else {
            let realert = o.realert_interval.as_nanos().min(u128::from(u64::MAX)) as u64;
            let p = PolicySink::new(AlertPolicy::new(realert, false), alert_sinks);
            policy = Some(p.counters());
            sinks.push(Box::new(p));
        }
    }
    let answers_only = Filter {
        alerts: false,
        names: false,
        dns_answers: true,
        names_log: false,
    };
    // The names log has every sighting, alerts included: it is the passive
    // DNS/SNI record, not an alert stream.
    for (dest, filter) in [
        (&o.names, Filter::NAMES_LOG),
        (&o.dns_answers, answers_only),
    ] {
        if let Some(d) = dest {
            claim_stdout(&d.to_string_lossy())?;
            let s = if live {
                let s = open_sink(
                    &d.to_string_lossy(),
                    &SinkOptions {
                        filter,
                        ..opts.clone()
                    },
                )
                .with_context(|| format!("cannot write to {}", d.display()))?;
                s as Box<dyn EventSink + Send>
            } else {
                Box::new(
                    JsonLinesSink::create(d, filter)
                        .with_context(|| format!("cannot write to {}", d.display()))?,
                )
            };
            sinks.push(s);
        }
    }
    Ok(Outputs {
        sinks,
        delivery,
        policy,
        stdout_used,
    })
}

/// Report what each alert destination delivered; non-zero when something
/// was dropped.
fn report_delivery(out: &Outputs) -> u8 {
    let mut code = 0;
    for (label, c) in &out.delivery {
        let s = c.snapshot();
        if s.dropped_total() > 0 {
            eprintln!("phonehome: error: alerts to {label}: {s}");
            code = EXIT_FATAL;
        } else if label != "-" {
            eprintln!("phonehome: alerts to {label}: {s}");
        }
    }
    code
}

fn cmd_read(a: ReadArgs) -> Result<u8> {
    let sigs = load_signatures(&a.sigs)?;
    if sigs.is_empty() {
        eprintln!("phonehome: warning: no signatures loaded; nothing can alert");
    }
    let mut outputs = open_outputs(&a.out, false)?;
    let stdout_used = outputs.stdout_used;
    if let Some(inv) = &a.inventory {
        // Fail before reading anything if the format is unknown.
        phonehome::output::inventory_file::InventoryFormat::from_path(inv)?;
    }
    let cfg = RuntimeConfig {
        workers: a
            .workers
            .map(usize::from)
            .unwrap_or_else(runtime::default_workers),
        worker: WorkerConfig {
            emit_names: a.out.names.is_some(),
            emit_all_answers: a.out.dns_answers.is_some(),
            emit_flow_starts: true,
        },
        progress: !a.no_progress,
        attribution: Some(a.attr.config()?),
    };
    let sinks = std::mem::take(&mut outputs.sinks);
    let mut report = runtime::run_offline(&a.files, Arc::new(sigs), &cfg, sinks);

    let mut code = report_delivery(&outputs);
    for f in &report.files {
        if let Some(e) = &f.error {
            eprintln!("phonehome: error: {e}");
            code = EXIT_INPUT;
        }
    }
    for e in &report.sink_errors {
        eprintln!("phonehome: error: writing output: {e}");
        code = code.max(EXIT_FATAL);
    }
    // With --state, the inventory written and summarised is the merged one.
    if let Some(state) = &a.attr.state {
        match phonehome::inventory::state::merge_into_file(state, &report.inventory) {
            Ok(merged) => report.inventory = merged,
            Err(e) => {
                eprintln!("phonehome: error: {e}");
                code = code.max(EXIT_FATAL);
            }
        }
    }
    if let Some(inv) = &a.inventory
        && let Err(e) =
            phonehome::output::inventory_file::write_inventory_file(inv, &report.inventory)
    {
        eprintln!("phonehome: error: {e}");
        code = code.max(EXIT_FATAL);
    }
    if let Some(p) = &a.stats
        && let Err(e) = write_stats(p, &report, &outputs)
    {
        eprintln!("phonehome: error: writing {}: {e}", p.display());
        code = code.max(EXIT_FATAL);
    }
    let totals = totals_of(&report);
    let res = if stdout_used {
        write_summary(&mut io::stderr().lock(), &report.inventory, &totals)
    } else {
        let mut out = io::stdout().lock();
        write_summary(&mut out, &report.inventory, &totals).and_then(|_| out.flush())
    };
    if let Err(e) = res
        && e.kind() != io::ErrorKind::BrokenPipe
    {
        eprintln!("phonehome: error: writing summary: {e}");
        code = code.max(EXIT_FATAL);
    }
    Ok(code)
}

fn totals_of(r: &RunReport) -> Totals {
    let mut names = phonehome::inventory::ByProtocol::default();
    for p in [
        phonehome::event::Protocol::Dns,
        phonehome::event::Protocol::Tls,
        phonehome::event::Protocol::Http,
        phonehome::event::Protocol::Quic,
    ] {
        names.add(p, r.stats.names.get(p.as_str()).copied().unwrap_or(0));
    }
    let mut failures: Vec<(String, u64)> = r
        .stats
        .decode_errors
        .iter()
        .map(|(k, v)| (format!("decode/{k}"), *v))
        .collect();
    failures.extend(
        r.stats
            .dns_errors
            .iter()
            .map(|(k, v)| (format!("dns/{k}"), *v)),
    );
    failures.extend(
        r.stats
            .tls_malformed
            .iter()
            .map(|(k, v)| (format!("tls/{k}"), *v)),
    );
    Totals {
        files: r.files.len() as u64,
        packets: r.stats.packets,
        bytes: r.stats.bytes,
        names,
        alerts: r.stats.alerts,
        decode_failures: failures,
        elapsed_secs: r.elapsed.as_secs_f64(),
        visibility: r.stats.visibility(),
    }
}

fn write_stats(path: &Path, r: &RunReport, outputs: &Outputs) -> Result<()> {
    let policy = outputs
        .policy
        .as_ref()
        .and_then(|p| p.lock().ok().map(|c| *c))
        .map(|c| {
            serde_json::json!({
                "sightings": c.sightings,
                "emitted": c.emitted,
                "suppressed": c.suppressed,
                "rollups": c.rollups,
                "state_full": c.state_full,
                "hosts_full": c.hosts_full,
            })
        });
    let delivery: serde_json::Map<String, serde_json::Value> = outputs
        .delivery
        .iter()
        .map(|(label, c)| {
            let s = c.snapshot();
            (label.clone(), serde_json::Value::String(s.to_string()))
        })
        .collect();
    let files: Vec<serde_json::Value> = r
        .files
        .iter()
        .map(|f| {
            serde_json::json!({
                "path": f.path.display().to_string(),
                "packets": f.packets,
                "bytes": f.bytes,
                "error": f.error.as_ref().map(|e| e.to_string()),
            })
        })
        .collect();
    let secs = r.elapsed.as_secs_f64();
    let v = serde_json::json!({
        "schema_version": "1",
        "workers": r.workers,
        "elapsed_seconds": secs,
        "throughput": {
            "packets_per_second": if secs > 0.0 { r.stats.packets as f64 / secs } else { 0.0 },
            "bytes_per_second": if secs > 0.0 { r.stats.bytes as f64 / secs } else { 0.0 },
        },
        "files": files,
        "stages": r.stats.to_json(),
        "visibility": r.stats.visibility_json(),
        "output": {
            "events": r.events_out,
            "errors": r.sink_errors,
            "alert_policy": policy,
            "attribution": r.attribution.iter().map(|(k, v)| ((*k).to_string(), serde_json::Value::from(*v))).collect::<serde_json::Map<_, _>>(),
            "delivery": delivery,
        },
        "inventory": r.inventory.dropped().counters().iter().map(|(k, v)| ((*k).to_string(), serde_json::Value::from(*v))).collect::<serde_json::Map<_, _>>(),
        "latency": {
            "batch_processing_ns": {
                "batches": r.batch_latency.batches,
                "p50": r.batch_latency.p50_ns,
                "p99": r.batch_latency.p99_ns,
                "max": r.batch_latency.max_ns,
            }
        },
    });
    let mut f = std::fs::File::create(path)?;
    serde_json::to_writer_pretty(&mut f, &v)?;
    f.write_all(b"\n")?;
    Ok(())
}

fn cmd_signatures(c: SigCommand) -> Result<u8> {
    use phonehome::signatures::cli;
    let mut out = io::stdout().lock();
    match c {
        SigCommand::List { json, sigs } => {
            let set = load_signatures(&sigs)?;
            cli::list(&set, json, &mut out)?;
            Ok(0)
        }
        SigCommand::Check { paths } => {
            // Check the given packs on their own: conflicts with the embedded
            // pack are reported by `list`/`read`, which load both.
            let ok = cli::check(false, &paths, &mut out)?;
            Ok(if ok { 0 } else { EXIT_FATAL })
        }
        SigCommand::Export { format, sigs } => {
            let set = load_signatures(&sigs)?;
            cli::export(&set, format, &mut out)?;
            Ok(0)
        }
    }
}

fn cmd_report(r: ReportArgs) -> Result<u8> {
    use phonehome::report::{self, Format, Input};
    let input = match (&r.input.state, &r.input.inventory) {
        (Some(s), _) => Input::State(s.clone()),
        (None, Some(i)) => Input::Inventory(i.clone()),
        (None, None) => bail!("give --state PATH or --inventory PATH"),
    };
    let format = r
        .format
        .or_else(|| Format::from_path(&r.output))
        .unwrap_or(Format::Html);
    let doc = report::load(&input)?;
    if r.output.as_os_str() == "-" {
        let mut out = io::stdout().lock();
        report::render(&doc, format, &mut out)?;
        out.flush()?;
    } else {
        // Write then rename: a reader never sees half a report.
        let tmp = r.output.with_extension("tmp");
        let mut f = io::BufWriter::new(
            std::fs::File::create(&tmp)
                .with_context(|| format!("cannot create {}", tmp.display()))?,
        );
        report::render(&doc, format, &mut f)?;
        f.flush()?;
        drop(f);
        std::fs::rename(&tmp, &r.output)
            .with_context(|| format!("cannot write {}", r.output.display()))?;
    }
    Ok(0)
}
