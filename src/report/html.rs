//! The HTML report: one self-contained page with an inline SVG timeline.
//! No script, no external resource (the page's Content-Security-Policy
//! forbids both), so it works offline and from a ticket attachment.

use std::fmt::Write as _;

use super::parse_rfc3339;
use crate::config::limits::{REPORT_MAX_NAMES_PER_HOST, REPORT_MAX_TIMELINE_HOSTS};
use crate::output::inventory_file::{HostDoc, InventoryDoc};
use crate::output::time::civil_from_days;

/// Fill colour of each evidence channel's marks (Okabe–Ito palette: tells
/// channels apart for colour-blind readers too). The marks are drawn with
/// crisp edges, so these exact colours appear in a screenshot.
pub const CHANNEL_COLOURS: [(&str, &str); 7] = [
    ("dns", "#0072b2"),
    ("tls", "#d55e00"),
    ("http", "#009e73"),
    ("quic", "#cc79a7"),
    ("dns-correlated", "#e69f00"),
    ("ksc-port", "#56b4e9"),
    ("prefix", "#7f7f7f"),
];

/// Background of the timeline's plot area (used nowhere else on the page).
pub const PLOT_BACKGROUND: &str = "#fbf6e9";

const LABEL_W: i64 = 250;
const PLOT_W: i64 = 900;
const AXIS_H: i64 = 26;
const LANE_H: i64 = 9;
const MARK_H: i64 = 7;
const HOST_PAD: i64 = 8;
const MIN_MARK_W: i64 = 3;
/// A host block is at least as tall as its two label lines.
const MIN_BLOCK_H: i64 = 28;

fn block_height(lanes: usize) -> i64 {
    (lanes.max(1) as i64 * LANE_H + HOST_PAD).max(MIN_BLOCK_H)
}

fn colour(channel: &str) -> &'static str {
    CHANNEL_COLOURS
        .iter()
        .find(|(c, _)| *c == channel)
        .map(|(_, col)| *col)
        .unwrap_or("#000000")
}

/// Escapes text for HTML element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:DejaVu Sans,Arial,sans-serif;margin:16px;color:#222;background:#fff}\
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:22px 0 8px}\
p.meta{color:#555;margin:0 0 8px;font-size:13px}\
table{border-collapse:collapse;font-size:13px}\
th,td{border:1px solid #ccc;padding:4px 6px;text-align:left;vertical-align:top}\
th{background:#eee}td.n{text-align:right}\
.c-high{background:#f4c7c3;font-weight:bold}.c-medium{background:#fde3b5}.c-low{background:#e3e3e3}.c-none{background:#fff}\
.legend span{display:inline-block;margin-right:14px;font-size:13px}\
.legend i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:-1px}\
svg text{font-family:DejaVu Sans,Arial,sans-serif}\
td.reason{max-width:520px}";

/// The whole page.
pub fn page(doc: &InventoryDoc) -> String {
    let mut h = String::with_capacity(16 * 1024);
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    h.push_str("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n");
    h.push_str("<title>phonehome report</title>\n<style>");
    h.push_str(STYLE);
    h.push_str("</style>\n</head>\n<body>\n");
    h.push_str("<h1>Hosts with Kaspersky software: evidence and timeline</h1>\n");
    let _ = writeln!(
        h,
        "<p class=\"meta\">{} hosts; evidence up to {}; {}.</p>",
        doc.hosts.len(),
        esc(doc.observed_until.as_deref().unwrap_or("(no packet time)")),
        esc(&doc.generated_by)
    );
    summary(doc, &mut h);
    timeline(doc, &mut h);
    hosts_table(doc, &mut h);
    let d = &doc.dropped;
    let refused = d.hosts + d.names + d.names_too_long + d.contacts + d.peers + d.resolver_clients;
    if refused > 0 {
        let _ = writeln!(
            h,
            "<p class=\"meta\">Inventory limits were hit: {} records from untracked hosts, {} names, {} contacts, {} peers and {} resolver clients not kept (see the inventory file's <code>dropped</code>).</p>",
            d.hosts,
            d.names + d.names_too_long,
            d.contacts,
            d.peers,
            d.resolver_clients
        );
    }
    h.push_str("</body>\n</html>\n");
    h
}

const CONFIDENCES: [&str; 4] = ["high", "medium", "low", "none"];
const ROLES: [&str; 4] = ["endpoint", "managed-endpoint", "ksc-server", "resolver"];

fn summary(doc: &InventoryDoc, h: &mut String) {
    h.push_str("<h2>Summary</h2>\n<table class=\"summary\">\n<tr><th>confidence</th>");
    for r in ROLES {
        let _ = write!(h, "<th>{r}</th>");
    }
    h.push_str("<th>all</th></tr>\n");
    for c in CONFIDENCES {
        let _ = write!(h, "<tr><td class=\"c-{c}\">{c}</td>");
        for r in ROLES {
            let n = doc
                .hosts
                .iter()
                .filter(|x| x.confidence == c && x.role == r)
                .count();
            let _ = write!(h, "<td class=\"n\">{n}</td>");
        }
        let n = doc.hosts.iter().filter(|x| x.confidence == c).count();
        let _ = writeln!(h, "<td class=\"n\">{n}</td></tr>");
    }
    h.push_str("</table>\n<p class=\"meta\">high: only an installed product contacts these names; medium: product-specific but weaker (KSC ports, names seen only through DNS answers); low: a person browsing vendor sites would too; none: a resolver or vendor address ranges only, not evidence of an installed product.</p>\n");
}

/// Tick spacing (seconds) giving at most 12 ticks over `span`.
fn tick_step(span: i64) -> i64 {
    const STEPS: [i64; 12] = [
        60, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400, 604_800,
    ];
    STEPS
        .into_iter()
        .find(|s| span / s <= 12)
        .unwrap_or_else(|| (span / 12 / 86_400 + 1) * 86_400)
}

fn tick_label(t: i64, step: i64) -> String {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    if step >= 86_400 {
        let (y, m, d) = civil_from_days(u64::try_from(days).unwrap_or(0));
        format!("{y:04}-{m:02}-{d:02}")
    } else {
        format!("{:02}:{:02}", secs / 3600, secs % 3600 / 60)
    }
}

struct Span {
    start: i64,
    end: i64,
    channels: Vec<String>,
}

fn contacts(h: &HostDoc) -> Vec<Span> {
    h.contacts
        .iter()
        .filter_map(|c| {
            let start = parse_rfc3339(&c.start)?;
            let end = parse_rfc3339(&c.end)?.max(start);
            Some(Span {
                start,
                end,
                channels: c.channels.clone(),
            })
        })
        .collect()
}

fn timeline(doc: &InventoryDoc, h: &mut String) {
    h.push_str("<h2>Timeline</h2>\n");
    h.push_str("<p class=\"meta\">One block per host, one lane per evidence channel, one mark per contact (evidence less than a minute apart). Evenly spaced marks are a product's periodic beacons; a person browsing is irregular.</p>\n");
    let shown: Vec<(&HostDoc, Vec<Span>)> = doc
        .hosts
        .iter()
        .take(REPORT_MAX_TIMELINE_HOSTS)
        .map(|x| (x, contacts(x)))
        .filter(|(_, c)| !c.is_empty())
        .collect();
    let t0 = shown
        .iter()
        .flat_map(|(_, c)| c.iter().map(|s| s.start))
        .min();
    let t1 = shown
        .iter()
        .flat_map(|(_, c)| c.iter().map(|s| s.end))
        .chain(doc.observed_until.as_deref().and_then(parse_rfc3339))
        .max();
    let (Some(t0), Some(t1)) = (t0, t1) else {
        h.push_str("<p>No contacts to draw.</p>\n");
        return;
    };
    let t1 = t1.max(t0 + 60);
    let span = t1 - t0;
    let x_of = |t: i64| LABEL_W + (t - t0).saturating_mul(PLOT_W) / span;

    let lanes_of = |x: &HostDoc| -> Vec<&'static str> {
        let ev = x.evidence.iter();
        CHANNEL_COLOURS
            .iter()
            .map(|(c, _)| *c)
            .filter(|c| ev.iter().any(|(k, n)| k == c && *n > 0))
            .collect()
    };
    let mut height = AXIS_H;
    for (x, _) in &shown {
        height += block_height(lanes_of(x).len());
    }
    let width = LABEL_W + PLOT_W + 10;
    let _ = writeln!(
        h,
        "<svg id=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" shape-rendering=\"crispEdges\" role=\"img\" aria-label=\"contacts per host over time, by channel\">"
    );
    let _ = writeln!(
        h,
        "<rect x=\"{LABEL_W}\" y=\"{AXIS_H}\" width=\"{PLOT_W}\" height=\"{}\" fill=\"{PLOT_BACKGROUND}\"/>",
        height - AXIS_H
    );
    // Time axis.
    let step = tick_step(span);
    let mut t = (t0 + step - 1).div_euclid(step) * step;
    while t <= t1 {
        let x = x_of(t);
        let _ = writeln!(
            h,
            "<line x1=\"{x}\" y1=\"{}\" x2=\"{x}\" y2=\"{height}\" stroke=\"#e2d8bd\"/><text x=\"{x}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\" fill=\"#555\">{}</text>",
            AXIS_H - 4,
            AXIS_H - 8,
            tick_label(t, step)
        );
        t += step;
    }
    let mut y = AXIS_H;
    for (x, spans) in &shown {
        let lanes = lanes_of(x);
        let block = block_height(lanes.len());
        // Lanes centred in the block.
        let top = y + (block - lanes.len() as i64 * LANE_H) / 2;
        let _ = writeln!(
            h,
            "<g class=\"host\"><text x=\"4\" y=\"{}\" font-size=\"12\" font-weight=\"bold\" fill=\"#222\">{}</text><text x=\"4\" y=\"{}\" font-size=\"10\" fill=\"#555\">{} · {}</text>",
            y + 12,
            esc(&x.ip),
            y + 23,
            esc(&x.role),
            esc(&x.confidence)
        );
        for (i, lane) in lanes.iter().enumerate() {
            let ly = top + i as i64 * LANE_H;
            let _ = write!(
                h,
                "<text x=\"{}\" y=\"{}\" font-size=\"8\" text-anchor=\"end\" fill=\"#777\">{lane}</text>",
                LABEL_W - 4,
                ly + MARK_H
            );
            for s in spans
                .iter()
                .filter(|s| s.channels.iter().any(|c| c == lane))
            {
                let x0 = x_of(s.start);
                let w = (x_of(s.end) - x0).max(MIN_MARK_W);
                let _ = write!(
                    h,
                    "<rect x=\"{x0}\" y=\"{ly}\" width=\"{w}\" height=\"{MARK_H}\" fill=\"{}\"/>",
                    colour(lane)
                );
            }
            h.push('\n');
        }
        let _ = writeln!(
            h,
            "<line x1=\"0\" y1=\"{0}\" x2=\"{width}\" y2=\"{0}\" stroke=\"#d8cfb4\"/></g>",
            y + block
        );
        y += block;
    }
    h.push_str("</svg>\n<p class=\"legend\">");
    for (c, col) in CHANNEL_COLOURS {
        let _ = write!(h, "<span><i style=\"background:{col}\"></i>{c}</span>");
    }
    h.push_str("</p>\n");
    let not_drawn = doc.hosts.len().saturating_sub(REPORT_MAX_TIMELINE_HOSTS);
    if not_drawn > 0 {
        let _ = writeln!(
            h,
            "<p class=\"meta\">{not_drawn} more hosts are not drawn (REPORT_MAX_TIMELINE_HOSTS); the table lists them all.</p>"
        );
    }
}

/// The names shown for a host: most contacted first.
pub(super) fn top_names(x: &HostDoc) -> Vec<String> {
    let mut v: Vec<_> = x.names.iter().collect();
    v.sort_by(|a, b| {
        (b.count + b.correlated)
            .cmp(&(a.count + a.correlated))
            .then(a.name.cmp(&b.name))
    });
    v.into_iter()
        .take(REPORT_MAX_NAMES_PER_HOST)
        .map(|n| {
            if n.count == 0 {
                format!("{} (×{} by answer address)", n.name, n.correlated)
            } else {
                format!("{} (×{}, {})", n.name, n.count, n.category)
            }
        })
        .collect()
}

/// `31 min`, `2 h`: the typical interval for the table.
pub(super) fn interval(x: &HostDoc) -> String {
    match x.typical_interval_s {
        Some(s) => {
            let text = crate::inventory::reason::human_duration(s.saturating_mul(1_000_000_000));
            if x.periodic {
                format!("{text} (periodic)")
            } else {
                text
            }
        }
        None => String::new(),
    }
}

fn hosts_table(doc: &InventoryDoc, h: &mut String) {
    h.push_str("<h2>Hosts</h2>\n<table class=\"hosts\">\n<tr><th>host</th><th>role</th><th>confidence</th><th>reason</th><th>first seen</th><th>last seen</th><th>interval</th><th>quiet since</th><th>names</th></tr>\n");
    for x in &doc.hosts {
        let mut id = esc(&x.ip);
        for o in &x.other_ips {
            let _ = write!(id, "<br>{}", esc(o));
        }
        if let Some(m) = &x.mac {
            let _ = write!(id, "<br><small>{}</small>", esc(m));
        }
        if let Some(v) = x.vlan {
            let _ = write!(id, "<br><small>VLAN {v}</small>");
        }
        let names = top_names(x)
            .iter()
            .map(|n| esc(n))
            .collect::<Vec<_>>()
            .join("<br>");
        let _ = writeln!(
            h,
            "<tr><td>{id}</td><td>{}</td><td class=\"c-{}\">{}</td><td class=\"reason\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{names}</td></tr>",
            esc(&x.role),
            esc(&x.confidence),
            esc(&x.confidence),
            esc(&x.reason),
            esc(&x.first_seen),
            esc(&x.last_seen),
            esc(&interval(x)),
            esc(x.quiet_since.as_deref().unwrap_or(""))
        );
    }
    h.push_str("</table>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escaping_covers_markup_and_quotes() {
        assert_eq!(
            esc("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn ticks_stay_few() {
        for span in [30, 600, 4 * 3600, 86_400, 14 * 86_400, 400 * 86_400] {
            let s = tick_step(span);
            assert!(span / s <= 12, "{span} {s}");
        }
        assert_eq!(tick_label(1_741_593_600 + 3600, 3600), "09:00");
        assert_eq!(tick_label(1_741_593_600, 86_400), "2025-03-10");
    }
}
