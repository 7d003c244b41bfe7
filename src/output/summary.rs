//! The end-of-run summary for a person at a terminal: hosts phoning home
//! first, then the run's totals. Plain ASCII (names escaped), at most
//! `SUMMARY_MAX_HOSTS` hosts and `SUMMARY_TOP_NAMES` names each; the
//! inventory file has everything.

use std::io::{self, Write};

use super::escape::Escaped;
use super::json::mac_string;
use super::time::rfc3339;
use crate::config::limits::{SUMMARY_MAX_HOSTS, SUMMARY_TOP_NAMES};
use crate::event::Protocol;
use crate::inventory::{ByProtocol, Host, Inventory};
use crate::signatures::Confidence;

/// Run totals, filled by the caller from `stats`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Totals {
    /// Input files read (0 for live capture).
    pub files: u64,
    pub packets: u64,
    /// Captured bytes.
    pub bytes: u64,
    /// Names extracted, matched or not, per protocol.
    pub names: ByProtocol,
    /// Name events that matched a rule.
    pub alerts: u64,
    /// Decode/extract failures by error label, in the order to show.
    pub decode_failures: Vec<(String, u64)>,
    /// Wall-clock run time.
    pub elapsed_secs: f64,
    /// What could not be seen, per protocol (`stats::WorkerStats::visibility`).
    pub visibility: Vec<crate::stats::Visibility>,
}

impl Totals {
    /// Packets per second of wall-clock time (0 when no time elapsed).
    pub fn packets_per_sec(&self) -> f64 {
        if self.elapsed_secs > 0.0 {
            self.packets as f64 / self.elapsed_secs
        } else {
            0.0
        }
    }

    /// Megabits per second of wall-clock time (0 when no time elapsed).
    pub fn mbit_per_sec(&self) -> f64 {
        if self.elapsed_secs > 0.0 {
            self.bytes as f64 * 8.0 / 1e6 / self.elapsed_secs
        } else {
            0.0
        }
    }
}

fn count_of(inv: &[&Host], c: Confidence) -> usize {
    inv.iter().filter(|h| h.verdict() == Some(c)).count()
}

/// Writes the summary. Hosts appear in report order (confidence, then last
/// seen, then IP), names by count.
pub fn write_summary(w: &mut dyn Write, inv: &Inventory, totals: &Totals) -> io::Result<()> {
    let hosts = inv.hosts_sorted();
    writeln!(w, "phonehome summary")?;
    writeln!(w, "=================")?;
    writeln!(w)?;
    writeln!(
        w,
        "Hosts phoning home: {} ({} high, {} medium, {} low confidence)",
        hosts.iter().filter(|h| h.verdict().is_some()).count(),
        count_of(&hosts, Confidence::High),
        count_of(&hosts, Confidence::Medium),
        count_of(&hosts, Confidence::Low),
    )?;
    for h in hosts.iter().take(SUMMARY_MAX_HOSTS) {
        writeln!(w)?;
        write_host(w, inv, h)?;
    }
    if hosts.len() > SUMMARY_MAX_HOSTS {
        writeln!(w)?;
        writeln!(
            w,
            "  ... and {} more hosts (see the inventory file)",
            hosts.len() - SUMMARY_MAX_HOSTS
        )?;
    }
    let d = inv.dropped();
    if d.hosts + d.names + d.names_too_long > 0 {
        writeln!(w)?;
        writeln!(
            w,
            "  WARNING: inventory limits hit: {} alerts from untracked hosts, {} names not kept, {} names too long",
            d.hosts, d.names, d.names_too_long
        )?;
    }

    writeln!(w)?;
    writeln!(w, "Totals")?;
    writeln!(w, "------")?;
    writeln!(w, "  files            {}", totals.files)?;
    writeln!(w, "  packets          {}", totals.packets)?;
    writeln!(
        w,
        "  bytes            {} ({})",
        totals.bytes,
        human_bytes(totals.bytes)
    )?;
    writeln!(
        w,
        "  names            {}{}",
        totals.names.total(),
        channel_list(&totals.names)
    )?;
    writeln!(w, "  alerts           {}", totals.alerts)?;
    let failures: u64 = totals.decode_failures.iter().map(|(_, n)| *n).sum();
    writeln!(w, "  decode failures  {failures}")?;
    for (label, n) in &totals.decode_failures {
        writeln!(w, "    {:<22} {n}", Escaped(label.as_bytes()).to_string())?;
    }
    writeln!(w, "  elapsed          {:.3} s", totals.elapsed_secs)?;
    writeln!(
        w,
        "  throughput       {:.0} packets/s, {:.1} Mbit/s",
        totals.packets_per_sec(),
        totals.mbit_per_sec()
    )?;
    if !totals.visibility.is_empty() {
        writeln!(w)?;
        writeln!(w, "Visibility (seen, names extracted, and why not)")?;
        writeln!(w, "----------")?;
        for v in &totals.visibility {
            if v.seen == 0 && v.names == 0 {
                continue;
            }
            write!(
                w,
                "  {:<5} {} {}, {} names",
                v.protocol, v.seen, v.unit, v.names
            )?;
            for (reason, n) in &v.missed {
                write!(w, "; {} {n}", Escaped(reason.as_bytes()))?;
            }
            writeln!(w)?;
        }
    }
    Ok(())
}

fn write_host(w: &mut dyn Write, inv: &Inventory, h: &Host) -> io::Result<()> {
    write!(w, "  {}", h.ip())?;
    if let Some(mac) = h.mac() {
        write!(w, "  mac {}", mac_string(mac))?;
        if h.macs().len() > 1 {
            write!(w, " (+{} other)", h.macs().len() - 1)?;
        }
    }
    if let Some(vlan) = h.vlan() {
        write!(w, "  vlan {vlan}")?;
        if h.vlans().len() > 1 {
            write!(w, " (+{} other)", h.vlans().len() - 1)?;
        }
    }
    writeln!(w)?;
    match h.verdict() {
        Some(c) => writeln!(w, "    confidence  {}", c.as_str())?,
        // A resolver asking for vendor names on behalf of its clients.
        None => writeln!(w, "    confidence  none (evidence is about other hosts)")?,
    }
    writeln!(w, "    role        {}", h.role().as_str())?;
    writeln!(
        w,
        "    reason      {}",
        Escaped(crate::inventory::reason::reason(inv, h).as_bytes())
    )?;
    writeln!(w, "    first seen  {}", rfc3339(h.first_seen()))?;
    writeln!(w, "    last seen   {}", rfc3339(h.last_seen()))?;
    writeln!(
        w,
        "    alerts      {}{}",
        h.alerts(),
        channel_list(&h.by_channel())
    )?;
    let names = h.names_by_count();
    for (i, (name, e)) in names.iter().take(SUMMARY_TOP_NAMES).enumerate() {
        let label = if i == 0 { "names" } else { "" };
        writeln!(
            w,
            "    {label:<11} {} ({}x, {}, {})",
            Escaped(name),
            e.count(),
            Escaped(e.category().as_bytes()),
            e.confidence().as_str()
        )?;
    }
    if names.len() > SUMMARY_TOP_NAMES {
        writeln!(
            w,
            "                ... and {} more names",
            names.len() - SUMMARY_TOP_NAMES
        )?;
    }
    Ok(())
}

/// ` (dns 3, tls 1)`: the non-zero channels, or nothing.
fn channel_list(c: &ByProtocol) -> String {
    let parts: Vec<String> = c
        .iter()
        .filter(|&(_, n)| n > 0)
        .map(|(p, n): (Protocol, u64)| format!("{} {n}", p.as_str()))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join(", "))
    }
}

fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    let u = UNITS.get(unit).copied().unwrap_or("B");
    if unit == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {u}")
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};
    use std::sync::Arc;

    use super::*;
    use crate::event::{Endpoints, NameDetail, NameEvent, Transport};
    use crate::signatures::Rule;

    fn rule(id: &str, confidence: Confidence) -> Arc<Rule> {
        Arc::new(Rule {
            id: id.into(),
            pattern: "*.kaspersky.com".into(),
            vendor: "kaspersky".into(),
            category: "update".into(),
            confidence,
            source: String::new(),
            note: String::new(),
        })
    }

    fn alert(src: u8, ts_s: u64, protocol: Protocol, name: &[u8], rule: Arc<Rule>) -> NameEvent {
        NameEvent {
            ts: ts_s * 1_000_000_000,
            packet: 1,
            protocol,
            endpoints: Endpoints {
                transport: Transport::Udp,
                src_ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, src)),
                src_port: 1,
                dst_ip: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
                dst_port: 53,
                src_mac: Some([2, 0, 0, 0, 0, src]),
                vlan: None,
            },
            name: name.into(),
            detail: NameDetail::Dns { qtype: 1 },
            rule: Some(rule),
        }
    }

    fn render(inv: &Inventory, t: &Totals) -> String {
        let mut out = Vec::new();
        write_summary(&mut out, inv, t).expect("write to memory");
        String::from_utf8(out).expect("UTF-8")
    }

    #[test]
    fn exact_layout() {
        let mut inv = Inventory::new();
        let high = rule("k-1", Confidence::High);
        let low = rule("k-web", Confidence::Low);
        inv.observe(&alert(9, 50, Protocol::Tls, b"www.kaspersky.com", low));
        inv.observe(&alert(
            1,
            10,
            Protocol::Dns,
            b"dnl-01.kaspersky.com",
            high.clone(),
        ));
        inv.observe(&alert(
            1,
            11,
            Protocol::Tls,
            b"dnl-01.kaspersky.com",
            high.clone(),
        ));
        inv.observe(&alert(
            1,
            12,
            Protocol::Dns,
            b"evil\x1b[2J.kaspersky.com",
            high,
        ));
        let mut t = Totals {
            files: 1,
            packets: 1000,
            bytes: 1_048_576,
            alerts: 4,
            decode_failures: vec![("truncated".into(), 2), ("bad\nlabel".into(), 1)],
            elapsed_secs: 2.0,
            ..Totals::default()
        };
        t.names.add(Protocol::Dns, 10);
        t.names.add(Protocol::Tls, 5);
        let expected = "\
phonehome summary
=================

Hosts phoning home: 2 (1 high, 0 medium, 1 low confidence)

  10.0.0.1  mac 02-00-00-00-00-01
    confidence  high
    role        endpoint
    reason      update over DNS and TLS; 1 contact on 1 day
    first seen  1970-01-01T00:00:10.000000Z
    last seen   1970-01-01T00:00:12.000000Z
    alerts      3 (dns 2, tls 1)
    names       dnl-01.kaspersky.com (2x, update, high)
                evil\\x1b[2j.kaspersky.com (1x, update, high)

  10.0.0.9  mac 02-00-00-00-00-09
    confidence  low
    role        endpoint
    reason      update over TLS; only names a person browsing vendor sites would also produce; 1 contact on 1 day
    first seen  1970-01-01T00:00:50.000000Z
    last seen   1970-01-01T00:00:50.000000Z
    alerts      1 (tls 1)
    names       www.kaspersky.com (1x, update, low)

Totals
------
  files            1
  packets          1000
  bytes            1048576 (1.0 MiB)
  names            15 (dns 10, tls 5)
  alerts           4
  decode failures  3
    truncated              2
    bad\\x0alabel           1
  elapsed          2.000 s
  throughput       500 packets/s, 4.2 Mbit/s
";
        // Names are shown in their inventory form: lowercased, then escaped.
        let got = render(&inv, &t);
        assert_eq!(got, expected);
        assert!(
            got.bytes()
                .all(|b| b == b'\n' || (0x20..=0x7e).contains(&b))
        );
    }

    #[test]
    fn long_lists_are_cut_with_a_count() {
        let mut inv = Inventory::new();
        let r = rule("k", Confidence::Medium);
        for host in 0..(SUMMARY_MAX_HOSTS as u8 + 3) {
            inv.observe(&alert(
                host,
                1,
                Protocol::Dns,
                b"a.kaspersky.com",
                r.clone(),
            ));
        }
        for i in 0..(SUMMARY_TOP_NAMES + 2) {
            let name = format!("n{i}.kaspersky.com");
            inv.observe(&alert(0, 2, Protocol::Dns, name.as_bytes(), r.clone()));
        }
        let s = render(&inv, &Totals::default());
        assert!(
            s.contains("... and 3 more hosts (see the inventory file)"),
            "{s}"
        );
        assert!(s.contains("... and 3 more names"), "{s}");
        assert_eq!(s.matches("\n  10.0.0.").count(), SUMMARY_MAX_HOSTS);
        // Zero elapsed time gives zero throughput, not NaN or inf.
        assert!(
            s.contains("throughput       0 packets/s, 0.0 Mbit/s"),
            "{s}"
        );
    }

    #[test]
    fn human_bytes_units() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(u64::MAX), "16777216.0 TiB");
    }
}
