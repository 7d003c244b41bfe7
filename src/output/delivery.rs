//! Delivery of alert records to SIEMs: destinations, options, the
//! [`AlertSink`] trait the output stage drives, per-sink counters, and the
//! sender thread every network sink runs.
//!
//! # Never losing silently
//!
//! ```text
//! output thread ──try_send──▶ bounded queue ──▶ sender thread ──▶ collector
//!   (never blocks)              (SINK_QUEUE_RECORDS)     │  ▲
//!                                                        ▼  │ replay, in order
//!                                                  on-disk spool (optional)
//! ```
//!
//! - The output thread formats a record and hands it to the sink's bounded
//!   queue with `try_send`; a full queue drops the record, counted
//!   `dropped{queue_full}`. Formatting and handing over never block.
//! - The sender thread delivers records in order. While the collector is
//!   unreachable it reconnects with exponential backoff
//!   ([`limits::SINK_BACKOFF_INITIAL_MS`] doubling to
//!   [`limits::SINK_BACKOFF_MAX_MS`]); with a spool it moves everything it
//!   receives to disk meanwhile, and replays the spool before anything
//!   newer once connected again. Without a spool, records wait in the
//!   queue (so a long outage ends in `queue_full` drops).
//! - When the sink is dropped (end of run, shutdown) the sender gets
//!   `drain_timeout` to deliver the rest; what is left then stays in the
//!   spool for the next run, or is counted `dropped{shutdown}`.
//!
//! Every record kind goes this way: alerts, roll-ups, and the derived
//! alerts of the attribution stage ([`EventSink::evidence`]), each framed
//! as the destination frames alerts (docs/SIEM.md).
//!
//! Counter invariant, once the sink is dropped:
//! `accepted + spool_recovered = sent + dropped (all reasons) + spool_pending`.
//! `resent` counts records sent again after a write error, which the
//! collector may have received twice.

use std::collections::VecDeque;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError, TrySendError, bounded};

use super::policy::{Rollup, write_rollup_json};
use super::sink::{EventSink, Filter};
use super::spool::{PushError, Spool};
use super::{hec, json, syslog, tls};
use crate::attribution::json::is_alert;
use crate::config::limits;
use crate::event::{Event, NameEvent};
use crate::inventory::Evidence;

/// Errors opening a sink; each names the destination or file and what to
/// do. None of them ever contains the HEC token.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error(
        "bad --alerts destination {dest:?}: {reason} (use a path, -, syslog+udp://HOST:PORT, syslog+tcp://HOST:PORT, syslog+tls://HOST:PORT or hec+https://HOST:PORT)"
    )]
    Destination { dest: String, reason: String },
    #[error("cannot open alert file {}: {source} (check the directory exists and is writable)", path.display())]
    File { path: PathBuf, source: io::Error },
    #[error("TLS trust for alert delivery, {}: {reason}", path.display())]
    Tls { path: PathBuf, reason: String },
    #[error("Splunk HEC token: {0}")]
    Token(String),
    #[error("cannot open spool in {}: {source} (check --spool-dir is writable)", dir.display())]
    Spool { dir: PathBuf, source: io::Error },
    #[error("cannot start the sender thread for {dest}: {source}")]
    Thread { dest: String, source: io::Error },
}

/// The body of syslog messages (`--syslog-format`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SyslogFormat {
    /// The ECS JSON line (docs/SCHEMA.md), without its newline.
    #[default]
    Json,
    /// ArcSight CEF (`output::cef`).
    Cef,
}

impl std::str::FromStr for SyslogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "json" => Ok(SyslogFormat::Json),
            "cef" => Ok(SyslogFormat::Cef),
            other => Err(format!("unknown syslog format {other:?}: use json or cef")),
        }
    }
}

/// Everything [`open_sink`] needs besides the destination (the CLI flags).
#[derive(Clone, Debug)]
pub struct SinkOptions {
    /// Which events the sink writes (default: alerts).
    pub filter: Filter,
    /// `--syslog-format`.
    pub syslog_format: SyslogFormat,
    /// `--spool-dir`: network sinks spool there while their collector is
    /// unreachable.
    pub spool_dir: Option<PathBuf>,
    /// Byte cap of each sink's spool.
    pub spool_max_bytes: u64,
    /// Records held in memory per network sink.
    pub queue_records: usize,
    /// Time given to deliver what is left at shutdown.
    pub drain_timeout: Duration,
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    /// `--ca-file`: PEM CAs trusted for TLS destinations (default: the
    /// system bundle).
    pub ca_file: Option<PathBuf>,
    /// `--hec-token-file`; without it the token comes from the environment
    /// variable [`hec::TOKEN_ENV`].
    pub hec_token_file: Option<PathBuf>,
    /// HOSTNAME of syslog messages and `host` of HEC events (default: the
    /// kernel's host name).
    pub hostname: Option<String>,
    /// Syslog facility (RFC 5424 §6.2.1), default 16 (local0).
    pub facility: u8,
}

impl Default for SinkOptions {
    fn default() -> Self {
        SinkOptions {
            filter: Filter::ALERTS,
            syslog_format: SyslogFormat::Json,
            spool_dir: None,
            spool_max_bytes: limits::SPOOL_DEFAULT_MAX_BYTES,
            queue_records: limits::SINK_QUEUE_RECORDS,
            drain_timeout: Duration::from_millis(limits::SINK_DRAIN_DEFAULT_MS),
            backoff_initial: Duration::from_millis(limits::SINK_BACKOFF_INITIAL_MS),
            backoff_max: Duration::from_millis(limits::SINK_BACKOFF_MAX_MS),
            ca_file: None,
            hec_token_file: None,
            hostname: None,
            facility: 16,
        }
    }
}

/// Syslog transports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyslogTransport {
    /// RFC 5426: one message per datagram.
    Udp,
    /// RFC 6587 §3.4.1 octet counting.
    Tcp,
    /// RFC 5425: octet counting inside TLS.
    Tls,
}

/// A parsed `--alerts` destination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Destination {
    Stdout,
    File(PathBuf),
    Syslog {
        transport: SyslogTransport,
        host: String,
        port: u16,
    },
    Hec {
        host: String,
        port: u16,
        /// Request path, default `/services/collector/event`.
        path: String,
    },
}

impl Destination {
    /// Parses `-`, a path, `syslog+udp|tcp|tls://HOST[:PORT]` or
    /// `hec+https://HOST[:PORT][/PATH]`. IPv6 hosts go in brackets. Default
    /// ports: 514 (UDP, TCP), 6514 (TLS, RFC 5425 §4.1), 8088 (HEC).
    pub fn parse(dest: &str) -> Result<Destination, DeliveryError> {
        let bad = |reason: &str| DeliveryError::Destination {
            dest: dest.to_owned(),
            reason: reason.to_owned(),
        };
        if dest == "-" {
            return Ok(Destination::Stdout);
        }
        let Some((scheme, rest)) = dest.split_once("://") else {
            if dest.is_empty() {
                return Err(bad("empty"));
            }
            return Ok(Destination::File(PathBuf::from(dest)));
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (rest.get(..i).unwrap_or(""), rest.get(i..).unwrap_or("")),
            None => (rest, ""),
        };
        let (transport, default_port) = match scheme {
            "syslog+udp" => (Some(SyslogTransport::Udp), 514),
            "syslog+tcp" => (Some(SyslogTransport::Tcp), 514),
            "syslog+tls" => (Some(SyslogTransport::Tls), 6514),
            "hec+https" => (None, 8088),
            "hec+http" => {
                return Err(bad(
                    "HEC only over HTTPS: the token must not cross the network in clear",
                ));
            }
            _ => return Err(bad("unknown scheme")),
        };
        if authority.contains('@') {
            return Err(bad(
                "no credentials in the destination: give the HEC token with --hec-token-file or PHONEHOME_HEC_TOKEN",
            ));
        }
        let (host, port) = split_host_port(authority, default_port).map_err(|r| bad(&r))?;
        match transport {
            Some(transport) => {
                if !path.is_empty() && path != "/" {
                    return Err(bad("a syslog destination has no path"));
                }
                Ok(Destination::Syslog {
                    transport,
                    host,
                    port,
                })
            }
            None if !path.bytes().all(|b| b.is_ascii_graphic()) => {
                Err(bad("the HEC path must be printable ASCII without spaces"))
            }
            None => Ok(Destination::Hec {
                host,
                port,
                path: if path.is_empty() || path == "/" {
                    hec::DEFAULT_PATH.to_owned()
                } else {
                    path.to_owned()
                },
            }),
        }
    }
}

fn split_host_port(authority: &str, default_port: u16) -> Result<(String, u16), String> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (h, after) = rest.split_once(']').ok_or("unclosed [ in IPv6 address")?;
        match after.strip_prefix(':') {
            Some(p) => (h, Some(p)),
            None if after.is_empty() => (h, None),
            None => return Err("junk after ]".into()),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') => (h, Some(p)),
            Some(_) => return Err("IPv6 addresses go in brackets: [2001:db8::1]:514".into()),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err("no host".into());
    }
    if !host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':'))
    {
        return Err("host has characters a host name or address cannot have".into());
    }
    let port = match port {
        None => default_port,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|&p| p != 0)
            .ok_or("port must be 1..65535")?,
    };
    Ok((host.to_owned(), port))
}

/// Why a record was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// The in-memory queue was full (collector slow or away, no spool).
    QueueFull,
    /// The spool was at its byte cap.
    SpoolFull,
    /// The spool could not be written (disk error).
    SpoolError,
    /// Larger than the destination takes ([`limits::SYSLOG_MAX_MESSAGE`]).
    TooLarge,
    /// The collector refused it for good (HTTP 4xx other than 401/403/429).
    Rejected,
    /// Still undelivered when the drain deadline passed, and no spool.
    Shutdown,
}

impl DropReason {
    pub const ALL: [DropReason; 6] = [
        DropReason::QueueFull,
        DropReason::SpoolFull,
        DropReason::SpoolError,
        DropReason::TooLarge,
        DropReason::Rejected,
        DropReason::Shutdown,
    ];

    /// The label in `--stats`, `/metrics` (`reason="…"`) and the summary.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::QueueFull => "queue_full",
            DropReason::SpoolFull => "spool_full",
            DropReason::SpoolError => "spool_error",
            DropReason::TooLarge => "too_large",
            DropReason::Rejected => "rejected",
            DropReason::Shutdown => "shutdown",
        }
    }
}

/// Live counters of one sink, shared between the output thread, the
/// sender thread and whoever reports them (status line, `/metrics`,
/// `--stats`, exit summary).
#[derive(Debug, Default)]
pub struct SinkCounters {
    /// Records handed to the sink (after its filter).
    pub accepted: AtomicU64,
    /// Records the collector took (TCP/TLS: written to the connection; UDP:
    /// sent; HEC: acknowledged with HTTP 200).
    pub sent: AtomicU64,
    /// Records in memory now (queue and sender), a gauge.
    pub queued: AtomicU64,
    /// Records written to the spool, in total.
    pub spooled: AtomicU64,
    /// Records in the spool now, a gauge.
    pub spool_pending: AtomicU64,
    /// Records found in the spool at start (left by an earlier run).
    pub spool_recovered: AtomicU64,
    /// Damaged spool tails cut off at start.
    pub spool_damaged: AtomicU64,
    /// Records whose write failed part-way and that were then sent again:
    /// the collector may hold them twice. The upper bound on duplicates.
    pub resent: AtomicU64,
    /// Successful connects after the first.
    pub reconnects: AtomicU64,
    /// Failed connect attempts.
    pub connect_failures: AtomicU64,
    /// Failed sends (connection lost, HTTP 5xx, …).
    pub send_errors: AtomicU64,
    dropped: [AtomicU64; 6],
    last_error: Mutex<String>,
}

impl SinkCounters {
    pub fn drop_count(&self, r: DropReason) -> u64 {
        self.dropped
            .get(r as usize)
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }

    pub(crate) fn add_dropped(&self, r: DropReason, n: u64) {
        if let Some(c) = self.dropped.get(r as usize) {
            c.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Drops of all reasons.
    pub fn dropped_total(&self) -> u64 {
        DropReason::ALL.iter().map(|&r| self.drop_count(r)).sum()
    }

    /// The latest connect or send error (never contains a secret).
    pub fn last_error(&self) -> String {
        self.last_error
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default()
    }

    pub(crate) fn set_error(&self, e: &str) {
        if let Ok(mut s) = self.last_error.lock() {
            s.clear();
            s.push_str(e);
        }
    }

    /// A plain copy of every counter.
    pub fn snapshot(&self) -> SinkStats {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        SinkStats {
            accepted: g(&self.accepted),
            sent: g(&self.sent),
            queued: g(&self.queued),
            spooled: g(&self.spooled),
            spool_pending: g(&self.spool_pending),
            spool_recovered: g(&self.spool_recovered),
            resent: g(&self.resent),
            reconnects: g(&self.reconnects),
            connect_failures: g(&self.connect_failures),
            send_errors: g(&self.send_errors),
            dropped: DropReason::ALL.map(|r| (r, self.drop_count(r))),
            last_error: self.last_error(),
        }
    }
}

/// A snapshot of [`SinkCounters`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SinkStats {
    pub accepted: u64,
    pub sent: u64,
    pub queued: u64,
    pub spooled: u64,
    pub spool_pending: u64,
    pub spool_recovered: u64,
    pub resent: u64,
    pub reconnects: u64,
    pub connect_failures: u64,
    pub send_errors: u64,
    pub dropped: [(DropReason, u64); 6],
    pub last_error: String,
}

impl SinkStats {
    pub fn drop_count(&self, r: DropReason) -> u64 {
        self.dropped
            .iter()
            .find(|(k, _)| *k == r)
            .map_or(0, |(_, n)| *n)
    }

    pub fn dropped_total(&self) -> u64 {
        self.dropped.iter().map(|(_, n)| n).sum()
    }
}

impl fmt::Display for SinkStats {
    /// `12 sent, 0 queued, 3 spooled (0 in spool), 2 dropped (queue_full 2)`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} sent, {} queued, {} spooled ({} in spool), {} dropped",
            self.sent,
            self.queued,
            self.spooled,
            self.spool_pending,
            self.dropped_total()
        )?;
        let mut first = true;
        for (r, n) in self.dropped.iter().filter(|(_, n)| *n > 0) {
            write!(f, "{}{} {n}", if first { " (" } else { ", " }, r.as_str())?;
            first = false;
        }
        if !first {
            f.write_str(")")?;
        }
        if self.resent > 0 {
            write!(f, ", {} resent", self.resent)?;
        }
        Ok(())
    }
}

/// A sink the output stage drives: every [`EventSink`] event, plus the
/// roll-up records of the alert policy, plus counters.
pub trait AlertSink: EventSink + Send {
    /// The sink's counters; keep the `Arc` to read them after the sink is
    /// gone (dropping a network sink drains it first).
    fn counters(&self) -> Arc<SinkCounters>;
    /// The destination as given, for messages (never holds a secret).
    fn label(&self) -> &str;
}

/// Opens the sink for one `--alerts DEST`.
pub fn open_sink(dest: &str, opts: &SinkOptions) -> Result<Box<dyn AlertSink>, DeliveryError> {
    match Destination::parse(dest)? {
        Destination::Stdout => Ok(Box::new(FileAlertSink::stdout(opts.filter))),
        Destination::File(p) => Ok(Box::new(FileAlertSink::create(&p, opts.filter)?)),
        Destination::Syslog {
            transport,
            host,
            port,
        } => {
            let tls = match transport {
                SyslogTransport::Tls => Some(tls::client_config(opts.ca_file.as_deref())?),
                _ => None,
            };
            let hdr = syslog::Header::new(opts.facility, opts.hostname.as_deref());
            let t: Box<dyn Transport> = match transport {
                SyslogTransport::Udp => Box::new(syslog::UdpTransport::new(&host, port)),
                _ => Box::new(syslog::StreamTransport::new(&host, port, tls)),
            };
            NetSink::start(dest, RecordFormat::Syslog(hdr, opts.syslog_format), t, opts)
                .map(|s| Box::new(s) as Box<dyn AlertSink>)
        }
        Destination::Hec { host, port, path } => {
            let token = hec::Token::load(opts.hec_token_file.as_deref())?;
            let cfg = tls::client_config(opts.ca_file.as_deref())?;
            let hostname = syslog::Header::new(opts.facility, opts.hostname.as_deref())
                .hostname()
                .to_owned();
            let t = hec::HecTransport::new(&host, port, &path, token, cfg);
            NetSink::start(dest, RecordFormat::Hec { hostname }, Box::new(t), opts)
                .map(|s| Box::new(s) as Box<dyn AlertSink>)
        }
    }
}

// ---------------------------------------------------------------------
// JSON lines to a file or stdout.

/// How often a file sink checks whether its file was moved or removed
/// (logrotate's default `create` mode): once a second of wall time.
const REOPEN_CHECK: Duration = Duration::from_secs(1);

/// Bumped by [`request_reopen`] (SIGHUP in live mode): every file sink
/// reopens its path before its next write, the logrotate `postrotate
/// kill -HUP` convention.
static REOPEN_GENERATION: AtomicU64 = AtomicU64::new(0);

/// Ask every file sink to reopen its file before its next write.
pub fn request_reopen() {
    REOPEN_GENERATION.fetch_add(1, Ordering::Relaxed);
}

/// ECS JSON lines (and roll-up lines) to a file or standard output. A file
/// is opened for appending; when the path stops naming the open file
/// (moved or removed by logrotate), the sink reopens the path within a
/// second, so rotation loses nothing.
pub struct FileAlertSink {
    path: Option<PathBuf>,
    out: BufWriter<Box<dyn Write + Send>>,
    id: Option<(u64, u64)>,
    checked: Instant,
    /// The [`REOPEN_GENERATION`] this sink last opened its file at.
    generation: u64,
    filter: Filter,
    line: Vec<u8>,
    counters: Arc<SinkCounters>,
    label: String,
}

impl FileAlertSink {
    pub fn stdout(filter: Filter) -> Self {
        Self::from_writer(Box::new(io::stdout()), filter, "-".into(), None, None)
    }

    pub fn create(path: &Path, filter: Filter) -> Result<Self, DeliveryError> {
        let (f, id) = open_append(path).map_err(|source| DeliveryError::File {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Self::from_writer(
            Box::new(f),
            filter,
            path.display().to_string(),
            Some(path.to_path_buf()),
            id,
        ))
    }

    fn from_writer(
        w: Box<dyn Write + Send>,
        filter: Filter,
        label: String,
        path: Option<PathBuf>,
        id: Option<(u64, u64)>,
    ) -> Self {
        FileAlertSink {
            path,
            out: BufWriter::with_capacity(64 * 1024, w),
            id,
            checked: Instant::now(),
            generation: REOPEN_GENERATION.load(Ordering::Relaxed),
            filter,
            line: Vec::with_capacity(1024),
            counters: Arc::default(),
            label,
        }
    }

    /// Reopens the path if it no longer names the open file.
    fn check_rotation(&mut self) -> io::Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let generation = REOPEN_GENERATION.load(Ordering::Relaxed);
        let asked = generation != self.generation;
        if !asked && self.checked.elapsed() < REOPEN_CHECK {
            return Ok(());
        }
        self.checked = Instant::now();
        self.generation = generation;
        let now = fs::metadata(path).ok().map(|m| file_id(&m));
        if !asked && now.is_some() && now == self.id {
            return Ok(());
        }
        self.out.flush()?;
        let (f, id) = open_append(path)?;
        self.out = BufWriter::with_capacity(64 * 1024, Box::new(f));
        self.id = id;
        Ok(())
    }

    fn write_line(&mut self) -> io::Result<()> {
        self.check_rotation()?;
        self.counters.accepted.fetch_add(1, Ordering::Relaxed);
        self.out.write_all(&self.line)?;
        self.counters.sent.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

fn file_id(m: &fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (m.dev(), m.ino())
}

fn open_append(path: &Path) -> io::Result<(File, Option<(u64, u64)>)> {
    let f = OpenOptions::new().create(true).append(true).open(path)?;
    let id = f.metadata().ok().map(|m| file_id(&m));
    Ok((f, id))
}

impl EventSink for FileAlertSink {
    fn event(&mut self, ev: &Event) -> io::Result<()> {
        if !self.filter.accepts(ev) {
            return Ok(());
        }
        self.line.clear();
        match ev {
            Event::Name(n) if self.filter.names_log => json::write_name_record(n, &mut self.line),
            _ => json::write(ev, &mut self.line),
        }
        self.write_line()
    }

    fn evidence(&mut self, e: &Evidence) -> io::Result<()> {
        if !self.filter.alerts || !is_alert(e) {
            return Ok(());
        }
        self.line.clear();
        crate::attribution::json::write_evidence(e, &mut self.line);
        self.write_line()
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    fn rollup(&mut self, ev: &NameEvent, r: &Rollup) -> io::Result<()> {
        if !self.filter.alerts {
            return Ok(());
        }
        self.line.clear();
        write_rollup_json(ev, r, &mut self.line);
        self.write_line()
    }
}

impl AlertSink for FileAlertSink {
    fn counters(&self) -> Arc<SinkCounters> {
        Arc::clone(&self.counters)
    }

    fn label(&self) -> &str {
        &self.label
    }
}

// ---------------------------------------------------------------------
// Network sinks: the producer half and the sender thread.

/// How a network sink formats its records.
#[derive(Clone, Debug)]
pub(crate) enum RecordFormat {
    Syslog(syslog::Header, SyslogFormat),
    Hec { hostname: String },
}

impl RecordFormat {
    fn write(&self, ev: &Event, rollup: Option<&Rollup>, out: &mut Vec<u8>) {
        match self {
            RecordFormat::Syslog(h, f) => h.write_message(ev, rollup, *f, out),
            RecordFormat::Hec { hostname } => hec::write_envelope(ev, rollup, hostname, out),
        }
    }

    /// A derived alert of the attribution stage, framed as this format
    /// frames alerts.
    fn write_evidence(&self, e: &Evidence, out: &mut Vec<u8>) {
        match self {
            RecordFormat::Syslog(h, f) => h.write_evidence_message(e, *f, out),
            RecordFormat::Hec { hostname } => hec::write_evidence_envelope(e, hostname, out),
        }
    }

    fn max_record(&self) -> usize {
        match self {
            RecordFormat::Syslog(..) => limits::SYSLOG_MAX_MESSAGE,
            RecordFormat::Hec { .. } => limits::SPOOL_MAX_RECORD,
        }
    }
}

/// A failed delivery.
#[derive(Debug)]
pub(crate) enum SendError {
    /// Connection lost or collector busy: reconnect and send again.
    /// `maybe_delivered`: the failing record was (partly) written before
    /// the error, so the collector may hold it already.
    Retry {
        reason: String,
        maybe_delivered: bool,
    },
    /// The collector refused these records for good.
    Reject(String),
}

/// One way of reaching a collector; driven only by the sender thread.
pub(crate) trait Transport: Send + 'static {
    fn connect(&mut self) -> Result<(), String>;
    fn is_connected(&self) -> bool;
    fn disconnect(&mut self);
    /// Delivers `records` in order. Returns how many leading records were
    /// delivered, and the error that stopped it, if any (a `Reject` covers
    /// all the records not delivered).
    fn send(&mut self, records: &[Vec<u8>]) -> (usize, Option<SendError>);
    /// Most records per `send`.
    fn batch_limit(&self) -> usize;
}

/// The producer half of a network sink (syslog, HEC): formats on the
/// output thread, delivers on its own sender thread.
pub struct NetSink {
    label: String,
    /// Set (before the queue closes) when the sink is dropped.
    closing: Arc<AtomicBool>,
    tx: Option<Sender<Vec<u8>>>,
    thread: Option<JoinHandle<()>>,
    counters: Arc<SinkCounters>,
    filter: Filter,
    format: RecordFormat,
    buf: Vec<u8>,
}

/// Timing of the sender thread.
#[derive(Clone, Copy, Debug)]
struct Timing {
    drain: Duration,
    backoff_initial: Duration,
    backoff_max: Duration,
}

/// Longest the sender thread sleeps before looking at its queue again.
const TICK: Duration = Duration::from_millis(100);

impl NetSink {
    pub(crate) fn start(
        label: &str,
        format: RecordFormat,
        transport: Box<dyn Transport>,
        opts: &SinkOptions,
    ) -> Result<NetSink, DeliveryError> {
        let counters = Arc::new(SinkCounters::default());
        let spool = match &opts.spool_dir {
            Some(dir) => {
                let sp = Spool::open(dir, &spool_name(label), opts.spool_max_bytes).map_err(
                    |source| DeliveryError::Spool {
                        dir: dir.clone(),
                        source,
                    },
                )?;
                counters
                    .spool_recovered
                    .store(sp.pending(), Ordering::Relaxed);
                counters
                    .spool_pending
                    .store(sp.pending(), Ordering::Relaxed);
                counters
                    .spool_damaged
                    .store(sp.damaged(), Ordering::Relaxed);
                Some(sp)
            }
            None => None,
        };
        let (tx, rx) = bounded(opts.queue_records.max(1));
        let timing = Timing {
            drain: opts.drain_timeout,
            backoff_initial: opts.backoff_initial.max(Duration::from_millis(1)),
            backoff_max: opts.backoff_max.max(opts.backoff_initial),
        };
        let c = Arc::clone(&counters);
        let closing = Arc::new(AtomicBool::new(false));
        let cl = Arc::clone(&closing);
        let thread = thread::Builder::new()
            .name(format!("sink {label}"))
            .spawn(move || Courier::new(transport, rx, spool, c, timing, cl).run())
            .map_err(|source| DeliveryError::Thread {
                dest: label.to_owned(),
                source,
            })?;
        Ok(NetSink {
            label: label.to_owned(),
            closing,
            tx: Some(tx),
            thread: Some(thread),
            counters,
            filter: opts.filter,
            format,
            buf: Vec::with_capacity(2048),
        })
    }

    fn enqueue(&mut self) {
        let c = &self.counters;
        c.accepted.fetch_add(1, Ordering::Relaxed);
        if self.buf.len() > self.format.max_record() {
            c.add_dropped(DropReason::TooLarge, 1);
            return;
        }
        let Some(tx) = &self.tx else {
            c.add_dropped(DropReason::Shutdown, 1);
            return;
        };
        // Counted before sending, so the sender never decrements below 0.
        c.queued.fetch_add(1, Ordering::Relaxed);
        match tx.try_send(self.buf.clone()) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                c.queued.fetch_sub(1, Ordering::Relaxed);
                c.add_dropped(DropReason::QueueFull, 1);
            }
            Err(TrySendError::Disconnected(_)) => {
                c.queued.fetch_sub(1, Ordering::Relaxed);
                c.add_dropped(DropReason::Shutdown, 1);
            }
        }
    }
}

/// A file name for the spool of `label`: the destination with everything
/// but letters, digits, `.` and `-` replaced by `_`.
fn spool_name(label: &str) -> String {
    label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

impl EventSink for NetSink {
    fn event(&mut self, ev: &Event) -> io::Result<()> {
        if !self.filter.accepts(ev) {
            return Ok(());
        }
        self.buf.clear();
        self.format.write(ev, None, &mut self.buf);
        self.enqueue();
        Ok(())
    }

    /// Delivery is asynchronous; dropping the sink drains it.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }

    fn rollup(&mut self, ev: &NameEvent, r: &Rollup) -> io::Result<()> {
        self.buf.clear();
        // Roll-ups are alerts: the filter's `alerts` decides.
        if !self.filter.alerts {
            return Ok(());
        }
        self.format
            .write(&Event::Name(ev.clone()), Some(r), &mut self.buf);
        self.enqueue();
        Ok(())
    }

    /// Derived alerts (`dns-correlated`, `ksc-port`): the same record as
    /// the file sinks write, framed as this destination frames alerts, and
    /// through the same queue, spool and counters.
    fn evidence(&mut self, e: &Evidence) -> io::Result<()> {
        // Derived alerts are alerts: the filter's `alerts` decides.
        if !self.filter.alerts || !is_alert(e) {
            return Ok(());
        }
        self.buf.clear();
        self.format.write_evidence(e, &mut self.buf);
        self.enqueue();
        Ok(())
    }
}

impl AlertSink for NetSink {
    fn counters(&self) -> Arc<SinkCounters> {
        Arc::clone(&self.counters)
    }

    fn label(&self) -> &str {
        &self.label
    }
}

impl Drop for NetSink {
    /// Closes the queue and waits for the sender thread, which delivers
    /// what it can within the drain deadline.
    fn drop(&mut self) {
        self.closing.store(true, Ordering::SeqCst);
        drop(self.tx.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The sender thread's state.
struct Courier {
    t: Box<dyn Transport>,
    rx: Receiver<Vec<u8>>,
    spool: Option<Spool>,
    c: Arc<SinkCounters>,
    timing: Timing,
    /// Received, not yet delivered, in order (counted in `queued`).
    pending: VecDeque<Vec<u8>>,
    batch: Vec<Vec<u8>>,
    backoff: Duration,
    next_try: Instant,
    ever_connected: bool,
    /// Set by the sink's drop: start draining.
    closing: Arc<AtomicBool>,
    /// The drain deadline, once closing.
    deadline: Option<Instant>,
}

impl Courier {
    fn new(
        t: Box<dyn Transport>,
        rx: Receiver<Vec<u8>>,
        spool: Option<Spool>,
        c: Arc<SinkCounters>,
        timing: Timing,
        closing: Arc<AtomicBool>,
    ) -> Self {
        Courier {
            closing,
            t,
            rx,
            spool,
            c,
            backoff: timing.backoff_initial,
            timing,
            pending: VecDeque::new(),
            batch: Vec::new(),
            next_try: Instant::now(),
            ever_connected: false,
            deadline: None,
        }
    }

    fn spool_pending(&self) -> u64 {
        self.spool.as_ref().map_or(0, Spool::pending)
    }

    fn run(mut self) {
        loop {
            if self.deadline.is_none() && self.closing.load(Ordering::SeqCst) {
                self.start_drain();
            }
            let can_send =
                self.t.is_connected() && (!self.pending.is_empty() || self.spool_pending() > 0);
            let wait = if can_send {
                Duration::ZERO
            } else if self.t.is_connected() {
                TICK
            } else {
                self.next_try
                    .saturating_duration_since(Instant::now())
                    .min(TICK)
            };
            self.receive(wait);

            // With a spool, order is kept by sending everything through it
            // while it holds anything or the collector is away.
            if self.spool.is_some() && (self.spool_pending() > 0 || !self.t.is_connected()) {
                self.spool_all_pending();
            }
            let idle = self.pending.is_empty() && self.spool_pending() == 0;
            if self.deadline.is_some() && idle && self.rx.is_empty() {
                break;
            }
            if self.deadline.is_some_and(|d| Instant::now() >= d) {
                self.give_up();
                break;
            }
            if idle {
                continue;
            }
            if !self.t.is_connected() {
                self.try_connect();
                continue;
            }
            self.send_some();
        }
        self.t.disconnect();
    }

    /// Moves queued records into `pending` (at most a batch in memory
    /// beyond the queue), waiting up to `wait` for the first.
    fn receive(&mut self, wait: Duration) {
        let limit = self.t.batch_limit().max(1);
        if self.pending.len() >= limit {
            if !wait.is_zero() {
                thread::sleep(wait);
            }
            return;
        }
        let first = if wait.is_zero() {
            self.rx.try_recv().map_err(|e| match e {
                TryRecvError::Empty => RecvTimeoutError::Timeout,
                TryRecvError::Disconnected => RecvTimeoutError::Disconnected,
            })
        } else {
            self.rx.recv_timeout(wait)
        };
        let mut next = first;
        loop {
            match next {
                Ok(r) => self.pending.push_back(r),
                Err(RecvTimeoutError::Timeout) => return,
                Err(RecvTimeoutError::Disconnected) => {
                    if self.deadline.is_none() {
                        self.start_drain();
                    } else if !wait.is_zero() {
                        // Closed and empty: nothing to wait for but time.
                        thread::sleep(wait);
                    }
                    return;
                }
            }
            if self.pending.len() >= limit {
                return;
            }
            next = self.rx.try_recv().map_err(|e| match e {
                TryRecvError::Empty => RecvTimeoutError::Timeout,
                TryRecvError::Disconnected => RecvTimeoutError::Disconnected,
            });
        }
    }

    /// Moves every pending record (and, while the collector is away,
    /// everything queued) to the spool.
    fn spool_all_pending(&mut self) {
        let Some(sp) = self.spool.as_mut() else {
            return;
        };
        loop {
            let rec = match self.pending.pop_front() {
                Some(r) => r,
                None => match self.rx.try_recv() {
                    Ok(r) => r,
                    Err(_) => break,
                },
            };
            self.c.queued.fetch_sub(1, Ordering::Relaxed);
            match sp.push(&rec) {
                Ok(()) => {
                    self.c.spooled.fetch_add(1, Ordering::Relaxed);
                }
                Err(PushError::Full) => self.c.add_dropped(DropReason::SpoolFull, 1),
                Err(PushError::Io(e)) => {
                    self.c.add_dropped(DropReason::SpoolError, 1);
                    self.c
                        .set_error(&format!("spool {}: {e}", sp.path().display()));
                }
            }
        }
        self.c.spool_pending.store(sp.pending(), Ordering::Relaxed);
    }

    /// The drain deadline passed: what is in memory goes to the spool (kept
    /// for the next run) or is dropped.
    fn give_up(&mut self) {
        if self.spool.is_some() {
            self.spool_all_pending();
        } else {
            let mut n = self.pending.len() as u64;
            self.pending.clear();
            while self.rx.try_recv().is_ok() {
                n += 1;
            }
            self.c.queued.fetch_sub(n, Ordering::Relaxed);
            self.c.add_dropped(DropReason::Shutdown, n);
        }
    }

    /// The sink was dropped: deliver what is left within the deadline,
    /// retrying the connection at once.
    fn start_drain(&mut self) {
        self.deadline = Some(Instant::now() + self.timing.drain);
        self.next_try = Instant::now();
        self.backoff = self.timing.backoff_initial;
    }

    fn try_connect(&mut self) {
        let now = Instant::now();
        if now < self.next_try {
            return;
        }
        match self.t.connect() {
            Ok(()) => {
                if self.ever_connected {
                    self.c.reconnects.fetch_add(1, Ordering::Relaxed);
                }
                self.ever_connected = true;
                self.backoff = self.timing.backoff_initial;
            }
            Err(e) => {
                self.c.connect_failures.fetch_add(1, Ordering::Relaxed);
                self.c.set_error(&e);
                self.schedule_retry();
            }
        }
    }

    fn schedule_retry(&mut self) {
        let mut wait = self.backoff;
        if let Some(d) = self.deadline {
            // While draining, keep trying until the deadline.
            wait = wait
                .min(TICK * 2)
                .min(d.saturating_duration_since(Instant::now()));
        }
        self.next_try = Instant::now() + wait;
        self.backoff = (self.backoff * 2).min(self.timing.backoff_max);
    }

    fn send_some(&mut self) {
        let limit = self.t.batch_limit().max(1);
        let from_spool = self.spool_pending() > 0;
        let mut used = 0u64;
        if from_spool {
            let Some(sp) = self.spool.as_mut() else {
                return;
            };
            match sp.peek(limit, &mut self.batch) {
                Ok(u) => used = u,
                Err(e) => {
                    // An unreadable spool cannot be delivered: count it.
                    let n = sp.pending();
                    self.c.add_dropped(DropReason::SpoolError, n);
                    self.c
                        .set_error(&format!("spool {}: {e}", sp.path().display()));
                    let _ = sp.commit(n, u64::MAX);
                    self.c.spool_pending.store(sp.pending(), Ordering::Relaxed);
                    return;
                }
            }
        } else {
            self.batch.clear();
            let n = self.pending.len().min(limit);
            self.batch.extend(self.pending.drain(..n));
        }
        let (done, err) = self.t.send(&self.batch);
        let done = done.min(self.batch.len());
        let (delivered, dropped) = match &err {
            Some(SendError::Reject(_)) => (done, self.batch.len() - done),
            _ => (done, 0),
        };
        self.c.sent.fetch_add(delivered as u64, Ordering::Relaxed);
        if dropped > 0 {
            self.c.add_dropped(DropReason::Rejected, dropped as u64);
        }
        let consumed = delivered + dropped;
        if from_spool {
            if let Some(sp) = self.spool.as_mut() {
                let bytes: u64 = if consumed == self.batch.len() {
                    used
                } else {
                    self.batch
                        .iter()
                        .take(consumed)
                        .map(|r| 4 + r.len() as u64)
                        .sum()
                };
                if let Err(e) = sp.commit(consumed as u64, bytes) {
                    self.c
                        .set_error(&format!("spool {}: {e}", sp.path().display()));
                }
                self.c.spool_pending.store(sp.pending(), Ordering::Relaxed);
            }
        } else {
            self.c.queued.fetch_sub(consumed as u64, Ordering::Relaxed);
            // Put back what was not consumed, in order, in front.
            for rec in self.batch.drain(consumed..).rev() {
                self.pending.push_front(rec);
            }
        }
        match err {
            None => {}
            Some(SendError::Reject(e)) => {
                self.c.set_error(&e);
            }
            Some(SendError::Retry {
                reason,
                maybe_delivered,
            }) => {
                self.c.send_errors.fetch_add(1, Ordering::Relaxed);
                self.c.set_error(&reason);
                if maybe_delivered {
                    self.c.resent.fetch_add(1, Ordering::Relaxed);
                }
                self.t.disconnect();
                // First reconnect at once (a reset connection), then back off.
                self.next_try = Instant::now();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_parse() {
        use Destination as D;
        assert_eq!(D::parse("-").ok(), Some(D::Stdout));
        assert_eq!(
            D::parse("alerts.json").ok(),
            Some(D::File("alerts.json".into()))
        );
        assert_eq!(
            D::parse("syslog+udp://127.0.0.1:5514").ok(),
            Some(D::Syslog {
                transport: SyslogTransport::Udp,
                host: "127.0.0.1".into(),
                port: 5514
            })
        );
        assert_eq!(
            D::parse("syslog+tls://collector.example").ok(),
            Some(D::Syslog {
                transport: SyslogTransport::Tls,
                host: "collector.example".into(),
                port: 6514
            })
        );
        assert_eq!(
            D::parse("syslog+tcp://[::1]:601").ok(),
            Some(D::Syslog {
                transport: SyslogTransport::Tcp,
                host: "::1".into(),
                port: 601
            })
        );
        assert_eq!(
            D::parse("hec+https://splunk.example:8088").ok(),
            Some(D::Hec {
                host: "splunk.example".into(),
                port: 8088,
                path: "/services/collector/event".into()
            })
        );
        for bad in [
            "",
            "syslog+udp://",
            "syslog+udp://h:0",
            "syslog+udp://h:99999",
            "syslog+tcp://::1:514",
            "syslog+tcp://h/path",
            "hec+http://h:8088",
            "hec+https://user:secret@h:8088",
            "ftp://h",
            "syslog+udp://h o:1",
            "hec+https://h:8088/a b",
            "hec+https://h:8088/a\r\nX: y",
        ] {
            let e = D::parse(bad);
            assert!(e.is_err(), "{bad:?} parsed as {e:?}");
        }
        // The error names the destination but a credential never leaks.
        let e = D::parse("hec+https://user:secret@h:8088")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("no credentials"));
    }

    #[test]
    fn syslog_format_parses() {
        assert_eq!("json".parse(), Ok(SyslogFormat::Json));
        assert_eq!("cef".parse(), Ok(SyslogFormat::Cef));
        assert!("leef".parse::<SyslogFormat>().is_err());
    }

    #[test]
    fn spool_names_are_plain_file_names() {
        assert_eq!(
            spool_name("syslog+tcp://127.0.0.1:514"),
            "syslog_tcp___127.0.0.1_514"
        );
        assert_eq!(
            spool_name("syslog+tcp://[::1]:514"),
            "syslog_tcp______1__514"
        );
        assert!(!spool_name("a/../../b").contains('/'));
    }

    #[test]
    fn stats_display_names_drop_reasons() {
        let c = SinkCounters::default();
        c.sent.store(5, Ordering::Relaxed);
        c.add_dropped(DropReason::QueueFull, 2);
        c.add_dropped(DropReason::Shutdown, 1);
        assert_eq!(
            c.snapshot().to_string(),
            "5 sent, 0 queued, 0 spooled (0 in spool), 3 dropped (queue_full 2, shutdown 1)"
        );
    }

    /// A transport whose collector is up or down as the test says, and
    /// which records what it delivered.
    #[derive(Clone, Default)]
    struct Fake {
        up: Arc<std::sync::atomic::AtomicBool>,
        got: Arc<Mutex<Vec<Vec<u8>>>>,
        connected: bool,
    }

    impl Transport for Fake {
        fn connect(&mut self) -> Result<(), String> {
            if self.up.load(Ordering::SeqCst) {
                self.connected = true;
                Ok(())
            } else {
                Err("connection refused".into())
            }
        }
        fn is_connected(&self) -> bool {
            self.connected
        }
        fn disconnect(&mut self) {
            self.connected = false;
        }
        fn send(&mut self, records: &[Vec<u8>]) -> (usize, Option<SendError>) {
            if !self.up.load(Ordering::SeqCst) {
                return (
                    0,
                    Some(SendError::Retry {
                        reason: "reset".into(),
                        maybe_delivered: false,
                    }),
                );
            }
            if let Ok(mut g) = self.got.lock() {
                g.extend(records.iter().cloned());
            }
            (records.len(), None)
        }
        fn batch_limit(&self) -> usize {
            4
        }
    }

    fn fast_opts() -> SinkOptions {
        SinkOptions {
            backoff_initial: Duration::from_millis(5),
            backoff_max: Duration::from_millis(20),
            drain_timeout: Duration::from_millis(300),
            ..SinkOptions::default()
        }
    }

    fn feed(sink: &mut NetSink, from: u32, to: u32) {
        for i in from..to {
            sink.buf.clear();
            sink.buf.extend_from_slice(format!("rec{i}").as_bytes());
            sink.enqueue();
        }
    }

    fn wait_until(mut f: impl FnMut() -> bool) {
        let end = Instant::now() + Duration::from_secs(5);
        while !f() && Instant::now() < end {
            thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn outage_with_spool_loses_and_duplicates_nothing() {
        let dir = std::env::temp_dir().join(format!("phonehome-deliv-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let fake = Fake::default();
        fake.up.store(true, Ordering::SeqCst);
        let opts = SinkOptions {
            spool_dir: Some(dir.clone()),
            ..fast_opts()
        };
        let fmt = RecordFormat::Hec {
            hostname: "h".into(),
        };
        let mut sink =
            NetSink::start("fake://x", fmt, Box::new(fake.clone()), &opts).expect("start");
        let counters = sink.counters();
        feed(&mut sink, 0, 10);
        wait_until(|| counters.sent.load(Ordering::Relaxed) == 10);
        fake.up.store(false, Ordering::SeqCst);
        feed(&mut sink, 10, 30);
        wait_until(|| counters.spooled.load(Ordering::Relaxed) >= 19);
        fake.up.store(true, Ordering::SeqCst);
        feed(&mut sink, 30, 40);
        drop(sink);
        let got = fake.got.lock().expect("lock").clone();
        let want: Vec<Vec<u8>> = (0..40).map(|i| format!("rec{i}").into_bytes()).collect();
        assert_eq!(got, want, "all records, once, in order");
        let s = counters.snapshot();
        assert_eq!((s.accepted, s.sent, s.dropped_total()), (40, 40, 0));
        assert!(s.spooled >= 19, "{s:?}");
        assert_eq!((s.queued, s.spool_pending), (0, 0));
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn derived_alerts_go_through_the_queue_and_the_counters() {
        use crate::output::testdata;
        let fake = Fake::default();
        fake.up.store(true, Ordering::SeqCst);
        let fmt = RecordFormat::Hec {
            hostname: "h".into(),
        };
        let mut sink =
            NetSink::start("fake://ev", fmt, Box::new(fake.clone()), &fast_opts()).expect("start");
        let counters = sink.counters();
        let dns = testdata::dns_correlated(b"a.kaspersky-labs.com", b"a.cdn.example", "k-1");
        for e in [&dns, &testdata::ksc_server(), &testdata::prefix()] {
            sink.evidence(e).expect("queue");
        }
        // A sink not set to write alerts writes no derived alert either.
        let mut names = NetSink::start(
            "fake://names",
            RecordFormat::Hec {
                hostname: "h".into(),
            },
            Box::new(fake.clone()),
            &SinkOptions {
                filter: Filter::NAMES_LOG,
                ..fast_opts()
            },
        )
        .expect("start");
        let names_counters = names.counters();
        names.evidence(&dns).expect("filtered");
        drop(names);
        drop(sink);
        let got = fake.got.lock().expect("lock").clone();
        assert_eq!(
            got.len(),
            2,
            "dns-correlated and ksc-port; prefix is no alert"
        );
        let mut want = Vec::new();
        hec::write_evidence_envelope(&dns, "h", &mut want);
        assert_eq!(got[0], want);
        let s = counters.snapshot();
        assert_eq!((s.accepted, s.sent, s.dropped_total()), (2, 2, 0), "{s}");
        assert_eq!(names_counters.snapshot().accepted, 0);
    }

    #[test]
    fn file_sink_writes_derived_alerts_but_not_prefix_evidence() {
        use crate::output::testdata;
        let path = std::env::temp_dir().join(format!(
            "phonehome-deliv-evidence-{}.jsonl",
            std::process::id()
        ));
        let _ = fs::remove_file(&path);
        let mut sink = FileAlertSink::create(&path, Filter::ALERTS).expect("create");
        let dns = testdata::dns_correlated(b"a.kaspersky-labs.com", b"a.cdn.example", "k-1");
        for e in [&dns, &testdata::prefix()] {
            sink.evidence(e).expect("write");
        }
        sink.flush().expect("flush");
        let s = sink.counters().snapshot();
        assert_eq!((s.accepted, s.sent), (1, 1), "{s}");
        let mut want = Vec::new();
        crate::attribution::json::write_evidence(&dns, &mut want);
        assert_eq!(fs::read(&path).expect("read"), want);
        let _ = fs::remove_file(&path);
    }

    #[test]
    fn outage_without_spool_counts_every_missing_record() {
        let fake = Fake::default();
        let opts = SinkOptions {
            queue_records: 8,
            ..fast_opts()
        };
        let fmt = RecordFormat::Hec {
            hostname: "h".into(),
        };
        let mut sink =
            NetSink::start("fake://y", fmt, Box::new(fake.clone()), &opts).expect("start");
        let counters = sink.counters();
        // Collector down from the start: queue (8) and one batch in hand (4)
        // hold records; the rest are dropped as queue_full.
        feed(&mut sink, 0, 50);
        drop(sink);
        let got = fake.got.lock().expect("lock").len() as u64;
        let s = counters.snapshot();
        assert_eq!(got, 0);
        assert_eq!(s.accepted, 50);
        assert_eq!(s.sent + s.dropped_total(), 50, "{s}");
        assert!(s.drop_count(DropReason::QueueFull) >= 38, "{s}");
        assert!(s.drop_count(DropReason::Shutdown) >= 1, "{s}");
        assert_eq!(s.queued, 0);
    }
}
