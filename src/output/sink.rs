//! Where events go: the [`EventSink`] trait and the JSON-lines sink. Later
//! formats (syslog, CEF, HEC) implement the same trait.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::str::FromStr;

use super::Error;
use super::json;
use super::policy::{Rollup, write_rollup_json};
use crate::event::{Event, NameEvent};
use crate::inventory::Inventory;

/// A consumer of pipeline events, driven by the output thread.
pub trait EventSink {
    /// Takes one event; the sink decides (by its filter) whether to write it.
    fn event(&mut self, ev: &Event) -> io::Result<()>;
    /// Pushes buffered output to its destination.
    fn flush(&mut self) -> io::Result<()>;
    /// Writes the alert policy's roll-up record for `ev` (the key's latest
    /// sighting; see `output::policy`). Every sink of the product writes
    /// it; the default, for in-memory test collectors, ignores it.
    fn rollup(&mut self, ev: &NameEvent, r: &Rollup) -> io::Result<()> {
        let _ = (ev, r);
        Ok(())
    }
    /// Writes a derived alert of the attribution stage (`dns-correlated`,
    /// `ksc-port`; docs/SCHEMA.md "Derived alerts"). Sinks without a format
    /// for it ignore it; the inventory keeps the evidence either way.
    fn evidence(&mut self, e: &crate::inventory::Evidence) -> io::Result<()> {
        let _ = e;
        Ok(())
    }
    /// End of the run: write whatever is still pending, then flush. Called
    /// once, by the output stage, after the last event.
    fn close(&mut self) -> io::Result<()> {
        self.flush()
    }
}

/// Which events a sink writes. The three kinds are disjoint and match the
/// `event.dataset` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Filter {
    /// Name events that matched a rule (`phonehome.alert`).
    pub alerts: bool,
    /// Name events that matched nothing (`phonehome.name`).
    pub names: bool,
    /// DNS answer records (`phonehome.dns_answer`).
    pub dns_answers: bool,
    /// The names log (`--names`): every name event, matched or not, written
    /// as a `phonehome.name` record (`event.kind: event`; the rule fields
    /// stay on matched names). Overrides `alerts` and `names` for names.
    pub names_log: bool,
}

impl Filter {
    pub const ALERTS: Filter = Filter {
        alerts: true,
        names: false,
        dns_answers: false,
        names_log: false,
    };
    pub const NAMES: Filter = Filter {
        alerts: false,
        names: true,
        dns_answers: false,
        names_log: false,
    };
    /// Alerts and unmatched names.
    pub const BOTH: Filter = Filter {
        alerts: true,
        names: true,
        dns_answers: false,
        names_log: false,
    };
    pub const ALL: Filter = Filter {
        alerts: true,
        names: true,
        dns_answers: true,
        names_log: false,
    };

    /// The names log: every name as a name record, nothing else.
    pub const NAMES_LOG: Filter = Filter {
        alerts: false,
        names: false,
        dns_answers: false,
        names_log: true,
    };

    pub fn accepts(&self, ev: &Event) -> bool {
        match ev {
            Event::Name(_) if self.names_log => true,
            Event::Name(n) if n.rule.is_some() => self.alerts,
            Event::Name(_) => self.names,
            Event::DnsAnswer(_) => self.dns_answers,
            Event::FlowStart(_) => false,
        }
    }
}

impl FromStr for Filter {
    type Err = String;

    /// `alerts`, `names`, `both` (alerts and names) or `all` (also DNS
    /// answers).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "alerts" => Ok(Filter::ALERTS),
            "names" => Ok(Filter::NAMES),
            "both" => Ok(Filter::BOTH),
            "all" => Ok(Filter::ALL),
            other => Err(format!(
                "unknown event filter {other:?}: use alerts, names, both or all"
            )),
        }
    }
}

/// Writes accepted events as ECS JSON lines (see `output::json`) through a
/// `BufWriter`, reusing one line buffer: no allocation per event once the
/// buffer has grown to the longest line.
pub struct JsonLinesSink {
    out: BufWriter<Box<dyn Write + Send>>,
    line: Vec<u8>,
    filter: Filter,
    written: u64,
    skipped: u64,
}

impl JsonLinesSink {
    /// Creates (truncating) the file at `path`, or writes to standard output
    /// when `path` is `-`.
    pub fn create(path: &Path, filter: Filter) -> Result<Self, Error> {
        let w: Box<dyn Write + Send> = if path.as_os_str() == "-" {
            Box::new(io::stdout())
        } else {
            Box::new(File::create(path).map_err(|source| Error::Create {
                path: path.to_path_buf(),
                source,
            })?)
        };
        Ok(Self::from_writer(w, filter))
    }

    /// Writes to any writer (tests, sockets, pipes).
    pub fn from_writer(w: Box<dyn Write + Send>, filter: Filter) -> Self {
        JsonLinesSink {
            out: BufWriter::with_capacity(64 * 1024, w),
            line: Vec::with_capacity(1024),
            filter,
            written: 0,
            skipped: 0,
        }
    }

    /// Lines written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Events the filter left out so far.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Flushes and returns the inner writer.
    pub fn into_inner(self) -> io::Result<Box<dyn Write + Send>> {
        self.out.into_inner().map_err(|e| e.into_error())
    }
}

impl EventSink for JsonLinesSink {
    fn event(&mut self, ev: &Event) -> io::Result<()> {
        if !self.filter.accepts(ev) {
            self.skipped += 1;
            return Ok(());
        }
        self.line.clear();
        match ev {
            Event::Name(n) if self.filter.names_log => json::write_name_record(n, &mut self.line),
            _ => json::write(ev, &mut self.line),
        }
        self.out.write_all(&self.line)?;
        self.written += 1;
        Ok(())
    }

    fn rollup(&mut self, ev: &NameEvent, r: &Rollup) -> io::Result<()> {
        if !self.filter.alerts {
            return Ok(());
        }
        self.line.clear();
        write_rollup_json(ev, r, &mut self.line);
        self.out.write_all(&self.line)?;
        self.written += 1;
        Ok(())
    }

    fn evidence(&mut self, e: &crate::inventory::Evidence) -> io::Result<()> {
        if !self.filter.alerts || !crate::attribution::json::is_alert(e) {
            return Ok(());
        }
        self.line.clear();
        crate::attribution::json::write_evidence(e, &mut self.line);
        self.out.write_all(&self.line)?;
        self.written += 1;
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// The inventory is a sink too: it records the alerts it is given.
impl EventSink for Inventory {
    fn event(&mut self, ev: &Event) -> io::Result<()> {
        if let Event::Name(n) = ev {
            self.observe(n);
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::event::{DnsAnswerEvent, Endpoints, NameDetail, NameEvent, Protocol, Transport};
    use crate::signatures::{Confidence, Rule};

    /// A writer tests can read back after the sink is gone.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| io::Error::other("poisoned"))?
                .extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn endpoints() -> Endpoints {
        Endpoints {
            transport: Transport::Udp,
            src_ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            src_port: 1024,
            dst_ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 53)),
            dst_port: 53,
            src_mac: None,
            vlan: None,
        }
    }

    fn events() -> Vec<Event> {
        let rule = Arc::new(Rule {
            id: "k-1".into(),
            pattern: "kaspersky.com".into(),
            vendor: "kaspersky".into(),
            category: "update".into(),
            confidence: Confidence::High,
            source: String::new(),
            note: String::new(),
        });
        let name = |n: &[u8], rule: Option<Arc<Rule>>| {
            Event::Name(NameEvent {
                ts: 1,
                packet: 1,
                protocol: Protocol::Dns,
                endpoints: endpoints(),
                name: n.into(),
                detail: NameDetail::Dns { qtype: 1 },
                rule,
            })
        };
        vec![
            name(b"kaspersky.com", Some(rule)),
            name(b"example.org", None),
            Event::DnsAnswer(DnsAnswerEvent {
                ts: 2,
                packet: 2,
                endpoints: endpoints(),
                query: (*b"example.org").into(),
                owner: (*b"example.org").into(),
                addr: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
                ttl: 60,
            }),
        ]
    }

    fn datasets(filter: Filter) -> Vec<String> {
        let shared = Shared::default();
        let mut sink = JsonLinesSink::from_writer(Box::new(shared.clone()), filter);
        let evs = events();
        for ev in &evs {
            sink.event(ev).expect("write to memory");
        }
        sink.flush().expect("flush");
        assert_eq!(sink.written() + sink.skipped(), evs.len() as u64);
        let bytes = shared.0.lock().expect("lock").clone();
        String::from_utf8(bytes)
            .expect("ASCII")
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).expect("valid JSON line");
                v["event"]["dataset"].as_str().expect("dataset").to_owned()
            })
            .collect()
    }

    #[test]
    fn filter_selects_datasets() {
        assert_eq!(datasets(Filter::ALERTS), ["phonehome.alert"]);
        assert_eq!(datasets(Filter::NAMES), ["phonehome.name"]);
        assert_eq!(
            datasets(Filter::BOTH),
            ["phonehome.alert", "phonehome.name"]
        );
        assert_eq!(
            datasets(Filter::ALL),
            ["phonehome.alert", "phonehome.name", "phonehome.dns_answer"]
        );
    }

    #[test]
    fn filter_parses_from_flag_values() {
        assert_eq!("alerts".parse(), Ok(Filter::ALERTS));
        assert_eq!("both".parse(), Ok(Filter::BOTH));
        assert_eq!("all".parse(), Ok(Filter::ALL));
        assert!("everything".parse::<Filter>().is_err());
    }

    #[test]
    fn inventory_as_sink_records_alerts_only() {
        let mut inv = Inventory::new();
        for ev in &events() {
            inv.event(ev).expect("infallible");
        }
        assert_eq!(inv.len(), 1);
        assert_eq!(
            inv.host(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)))
                .map(|h| h.alerts()),
            Some(1)
        );
    }
}
