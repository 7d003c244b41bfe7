//! The Markdown and CSV reports.

use std::fmt::Write as _;

use super::html::{interval, top_names};
use crate::output::escape::csv_field;
use crate::output::inventory_file::InventoryDoc;

/// Escapes text for a Markdown table cell: backslash-escapes the
/// characters Markdown (CommonMark §2.4) or table syntax give meaning to,
/// and turns line breaks into spaces.
fn md(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '|' | '*' | '_' | '`' | '<' | '>' | '[' | ']' | '#' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '\r' | '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// The Markdown report: summary, then one table row per host.
pub fn markdown(doc: &InventoryDoc) -> String {
    let mut m = String::new();
    m.push_str("# Hosts with Kaspersky software\n\n");
    let _ = writeln!(
        m,
        "{} hosts; evidence up to {}; {}.\n",
        doc.hosts.len(),
        md(doc.observed_until.as_deref().unwrap_or("(no packet time)")),
        md(&doc.generated_by)
    );
    m.push_str("## Summary\n\n| confidence | endpoint | managed-endpoint | ksc-server | resolver | all |\n|---|---:|---:|---:|---:|---:|\n");
    for c in ["high", "medium", "low", "none"] {
        let _ = write!(m, "| {c} |");
        for r in ["endpoint", "managed-endpoint", "ksc-server", "resolver"] {
            let n = doc
                .hosts
                .iter()
                .filter(|x| x.confidence == c && x.role == r)
                .count();
            let _ = write!(m, " {n} |");
        }
        let n = doc.hosts.iter().filter(|x| x.confidence == c).count();
        let _ = writeln!(m, " {n} |");
    }
    m.push_str("\n## Hosts\n\n| host | role | confidence | reason | first seen | last seen | interval | quiet since | names |\n|---|---|---|---|---|---|---|---|---|\n");
    for x in &doc.hosts {
        let mut id = md(&x.ip);
        for o in &x.other_ips {
            let _ = write!(id, ", {}", md(o));
        }
        if let Some(mac) = &x.mac {
            let _ = write!(id, " ({})", md(mac));
        }
        let names = top_names(x)
            .iter()
            .map(|n| md(n))
            .collect::<Vec<_>>()
            .join("; ");
        let _ = writeln!(
            m,
            "| {id} | {} | {} | {} | {} | {} | {} | {} | {names} |",
            md(&x.role),
            md(&x.confidence),
            md(&x.reason),
            md(&x.first_seen),
            md(&x.last_seen),
            md(&interval(x)),
            md(x.quiet_since.as_deref().unwrap_or(""))
        );
    }
    m
}

/// The CSV header of the report (one row per host).
pub const REPORT_CSV_HEADER: &str = "ip,other_ips,mac,vlan,role,confidence,reason,first_seen,last_seen,typical_interval_s,periodic,quiet_since,evidence,names";

/// The CSV report: RFC 4180, CRLF, one row per host; cells that a
/// spreadsheet would run as a formula are defused (`output::escape`).
pub fn csv(doc: &InventoryDoc) -> String {
    let mut out = String::new();
    out.push_str(REPORT_CSV_HEADER);
    out.push_str("\r\n");
    for x in &doc.hosts {
        let cells = [
            x.ip.clone(),
            x.other_ips.join(";"),
            x.mac.clone().unwrap_or_default(),
            x.vlan.map(|v| v.to_string()).unwrap_or_default(),
            x.role.clone(),
            x.confidence.clone(),
            x.reason.clone(),
            x.first_seen.clone(),
            x.last_seen.clone(),
            x.typical_interval_s
                .map(|s| s.to_string())
                .unwrap_or_default(),
            x.periodic.to_string(),
            x.quiet_since.clone().unwrap_or_default(),
            x.evidence
                .iter()
                .iter()
                .filter(|(_, n)| *n > 0)
                .map(|(c, n)| format!("{c}={n}"))
                .collect::<Vec<_>>()
                .join(";"),
            top_names(x).join(";"),
        ];
        for (i, c) in cells.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            csv_field(c, &mut out);
        }
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_cells_cannot_break_the_table() {
        assert_eq!(
            md("a|b\n*c* [x](y) <s>"),
            "a\\|b \\*c\\* \\[x\\](y) \\<s\\>"
        );
    }
}
