//! The `signatures` subcommands, as plain functions writing to a
//! `&mut dyn Write` (main.rs parses flags and maps results to exit codes):
//!
//! - [`list`]: the loaded rules as a table, or JSON lines;
//! - [`check`]: validate packs, print `OK: N rules in M packs` or every
//!   error as `file:line: message`;
//! - [`export`]: the domain rules as Suricata rules, a Zeek intel file, or
//!   plain patterns.
//!
//! Everything written here comes from packs, whose ids, vendors, categories
//! and patterns are restricted to `[a-z0-9._*-]` at load; free text (source,
//! note, description) is sanitised for each format.

use std::io::{self, Write};
use std::path::PathBuf;
use std::str::FromStr;

use super::{PatternKind, Rule, SignatureSet};

/// First Suricata sid used by `export --format suricata`. Rule `i` (0-based
/// position in the loaded set) gets `SURICATA_SID_BASE + 10 * i + k` with
/// `k` = 0 dns.query, 1 tls.sni, 2 http.host, 3 quic.sni. 9,000,000+ stays
/// clear of the ET Open (2,000,000–2,999,999) and local (1,000,000–1,999,999)
/// ranges; with `SIGNATURES_MAX_RULES` the block ends below 10,000,000.
pub const SURICATA_SID_BASE: u64 = 9_000_000;

/// The export formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    Suricata,
    ZeekIntel,
    Plain,
}

impl ExportFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            ExportFormat::Suricata => "suricata",
            ExportFormat::ZeekIntel => "zeek-intel",
            ExportFormat::Plain => "plain",
        }
    }
}

impl FromStr for ExportFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "suricata" => Ok(ExportFormat::Suricata),
            "zeek-intel" => Ok(ExportFormat::ZeekIntel),
            "plain" => Ok(ExportFormat::Plain),
            other => Err(format!(
                "unknown export format `{other}` (expected suricata, zeek-intel or plain)"
            )),
        }
    }
}

/// Replace control characters (tabs, newlines, ...) by spaces: keeps one
/// record per line in every format.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// `list`: a table of domain rules (id, pattern, category, confidence,
/// vendor), then the ip and port rules; or, with `json`, one JSON object a
/// line with every field and a `"table"` key (`domain`, `ip`, `port`).
pub fn list(set: &SignatureSet, json: bool, out: &mut dyn Write) -> io::Result<()> {
    if json {
        return list_json(set, out);
    }
    let w_id = set
        .rules()
        .iter()
        .map(|r| r.id.len())
        .chain(set.ip_rules().iter().map(|r| r.id.len()))
        .chain(set.port_rules().iter().map(|r| r.id.len()))
        .max()
        .unwrap_or(2)
        .max(2);
    let w_pat = set
        .rules()
        .iter()
        .map(|r| r.pattern.len())
        .max()
        .unwrap_or(7)
        .max(7);
    let w_cat = set
        .rules()
        .iter()
        .map(|r| r.category.len())
        .max()
        .unwrap_or(8)
        .max(8);
    writeln!(
        out,
        "{:w_id$}  {:w_pat$}  {:w_cat$}  {:10}  VENDOR",
        "ID", "PATTERN", "CATEGORY", "CONFIDENCE"
    )?;
    for r in set.rules() {
        writeln!(
            out,
            "{:w_id$}  {:w_pat$}  {:w_cat$}  {:10}  {}",
            r.id,
            r.pattern,
            r.category,
            r.confidence.as_str(),
            r.vendor
        )?;
    }
    if !set.ip_rules().is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "{:w_id$}  {:5}  {:42}  {:10}  VENDOR",
            "ID", "KIND", "VALUE", "CONFIDENCE"
        )?;
        for r in set.ip_rules() {
            writeln!(
                out,
                "{:w_id$}  {:5}  {:42}  {:10}  {}",
                r.id,
                r.kind_str(),
                r.value,
                r.confidence.as_str(),
                r.vendor
            )?;
        }
    }
    if !set.port_rules().is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "{:w_id$}  {:5}  {:11}  {:10}  VENDOR",
            "ID", "KIND", "PORTS", "CONFIDENCE"
        )?;
        for r in set.port_rules() {
            writeln!(
                out,
                "{:w_id$}  {:5}  {:11}  {:10}  {}",
                r.id,
                r.transport.as_str(),
                r.value(),
                r.confidence.as_str(),
                r.vendor
            )?;
        }
    }
    Ok(())
}

fn list_json(set: &SignatureSet, out: &mut dyn Write) -> io::Result<()> {
    for r in set.rules() {
        let v = serde_json::json!({
            "table": "domain",
            "id": r.id,
            "pattern": r.pattern,
            "kind": r.kind().as_str(),
            "category": r.category,
            "confidence": r.confidence.as_str(),
            "vendor": r.vendor,
            "source": r.source,
            "note": r.note,
        });
        serde_json::to_writer(&mut *out, &v)?;
        writeln!(out)?;
    }
    for r in set.ip_rules() {
        let v = serde_json::json!({
            "table": "ip",
            "id": r.id,
            "kind": r.kind_str(),
            "value": r.value,
            "confidence": r.confidence.as_str(),
            "vendor": r.vendor,
            "source": r.source,
            "note": r.note,
        });
        serde_json::to_writer(&mut *out, &v)?;
        writeln!(out)?;
    }
    for r in set.port_rules() {
        let v = serde_json::json!({
            "table": "port",
            "id": r.id,
            "kind": r.transport.as_str(),
            "value": r.value(),
            "first": r.first,
            "last": r.last,
            "confidence": r.confidence.as_str(),
            "vendor": r.vendor,
            "source": r.source,
            "note": r.note,
        });
        serde_json::to_writer(&mut *out, &v)?;
        writeln!(out)?;
    }
    Ok(())
}

/// `check`: load the packs (the embedded one too when `default`) and print
/// `OK: N rules in M packs`, or every error as `file:line: message`, one a
/// line. Returns `Ok(true)` when valid, `Ok(false)` when not (main exits
/// non-zero), `Err` only when `out` fails.
pub fn check(default: bool, paths: &[PathBuf], out: &mut dyn Write) -> io::Result<bool> {
    match SignatureSet::load(default, paths) {
        Ok(set) => {
            writeln!(
                out,
                "OK: {} rules in {} packs ({} domain, {} ip, {} port)",
                set.len(),
                set.packs().len(),
                set.rules().len(),
                set.ip_rules().len(),
                set.port_rules().len()
            )?;
            Ok(true)
        }
        Err(errors) => {
            for e in &errors.0 {
                writeln!(out, "{e}")?;
            }
            writeln!(out, "{} error(s)", errors.0.len())?;
            Ok(false)
        }
    }
}

/// `export`: write the domain rules in `format`.
pub fn export(set: &SignatureSet, format: ExportFormat, out: &mut dyn Write) -> io::Result<()> {
    match format {
        ExportFormat::Suricata => export_suricata(set, out),
        ExportFormat::ZeekIntel => export_zeek(set, out),
        ExportFormat::Plain => {
            for r in set.rules() {
                writeln!(out, "{}", r.pattern)?;
            }
            Ok(())
        }
    }
}

fn pack_summary(set: &SignatureSet) -> String {
    set.packs()
        .iter()
        .map(|p| format!("{} {}", p.vendor, one_line(&p.version)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The sticky buffers a name rule is written for, with its sid offset and
/// whether the buffer is already lowercase (Suricata normalises http.host).
const SURICATA_BUFFERS: [(&str, &str, u64, bool); 4] = [
    ("dns", "dns.query", 0, false),
    ("tls", "tls.sni", 1, false),
    ("http", "http.host", 2, true),
    ("quic", "quic.sni", 3, false),
];

/// Escape a literal for a PCRE: every byte that is not `[a-z0-9_-]` (in
/// practice only `.`) gets a backslash.
fn pcre_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 2);
    for c in s.chars() {
        if !(c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The detection part (after the sticky buffer) of one Suricata rule.
fn suricata_match(r: &Rule, lowercase_buffer: bool) -> String {
    let nocase = if lowercase_buffer { "" } else { " nocase;" };
    match r.kind() {
        PatternKind::Exact => {
            format!(
                "bsize:{}; content:\"{}\";{nocase}",
                r.pattern.len(),
                r.pattern
            )
        }
        PatternKind::Suffix => {
            // `*.x` means subdomains of x only: content ".x" + endswith.
            // `dotprefix` is deliberately absent: it would make x itself
            // match too, which the pack lists separately (or not at all).
            let base = r.pattern.get(1..).unwrap_or("");
            format!("content:\"{base}\";{nocase} endswith;")
        }
        PatternKind::InLabel => {
            let (first, rest) = r.pattern.split_once('.').unwrap_or((&r.pattern, ""));
            let (head, tail) = first.split_once('*').unwrap_or((first, ""));
            let flags = if lowercase_buffer { "" } else { "i" };
            let mut s = String::new();
            if !head.is_empty() {
                s.push_str(&format!("content:\"{head}\";{nocase} startswith; "));
            }
            s.push_str(&format!("content:\"{tail}.{rest}\";{nocase} endswith; "));
            s.push_str(&format!(
                "pcre:\"/^{}[^.]+{}\\.{}$/{flags}\";",
                pcre_escape(head),
                pcre_escape(tail),
                pcre_escape(rest)
            ));
            s
        }
    }
}

fn export_suricata(set: &SignatureSet, out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "# phonehome signature export: Suricata rules (6.0 or later; quic.sni needs 7.0)"
    )?;
    writeln!(out, "# packs: {}", pack_summary(set))?;
    writeln!(
        out,
        "# sid = {SURICATA_SID_BASE} + 10 * rule position + (0 dns.query, 1 tls.sni, 2 http.host, 3 quic.sni);"
    )?;
    writeln!(
        out,
        "# sids are stable while rules are only appended to the packs."
    )?;
    writeln!(
        out,
        "# `*.x` patterns match subdomains of x, never x itself: content \".x\" + endswith, no dotprefix."
    )?;
    writeln!(
        out,
        "# In-label wildcards (`a*b.x.y`) are exact via pcre; the content keywords are prefilters."
    )?;
    writeln!(
        out,
        "# Names are matched as Suricata sees them: a trailing dot (in tls.sni) is not ignored."
    )?;
    for (i, r) in set.rules().iter().enumerate() {
        writeln!(out)?;
        writeln!(out, "# {} {}: {}", r.id, r.pattern, one_line(&r.note))?;
        let pos = u64::try_from(i).unwrap_or(u64::MAX / 16);
        for (proto, buffer, k, lower) in SURICATA_BUFFERS {
            writeln!(
                out,
                "alert {proto} any any -> any any (msg:\"phonehome {vendor} {category} {pattern} ({confidence})\"; \
                 {buffer}; {detect} \
                 metadata:phonehome_id {id}, phonehome_category {category}, phonehome_confidence {confidence}; \
                 classtype:policy-violation; sid:{sid}; rev:1;)",
                vendor = r.vendor,
                category = r.category,
                pattern = r.pattern,
                confidence = r.confidence.as_str(),
                detect = suricata_match(r, lower),
                id = r.id,
                sid = SURICATA_SID_BASE
                    .saturating_add(pos.saturating_mul(10))
                    .saturating_add(k),
            )?;
        }
    }
    Ok(())
}

fn export_zeek(set: &SignatureSet, out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc"
    )?;
    writeln!(
        out,
        "# phonehome signature export: Zeek intel file (Intel::DOMAIN)"
    )?;
    writeln!(out, "# packs: {}", pack_summary(set))?;
    writeln!(
        out,
        "# WARNING: Zeek intel matches exact names only. A `*.x` pattern is exported as its base name x:"
    )?;
    writeln!(
        out,
        "# Zeek then alerts on x itself (which phonehome does not) and on NO subdomain of x: coverage is lost."
    )?;
    writeln!(
        out,
        "# In-label wildcards (`a*b.x.y`) cannot be expressed and are listed below as comments only."
    )?;
    let exact: std::collections::HashSet<&str> = set
        .rules()
        .iter()
        .filter(|r| r.kind() == PatternKind::Exact)
        .map(|r| r.pattern.as_str())
        .collect();
    let mut emitted: std::collections::HashSet<&str> = std::collections::HashSet::new();
    for r in set.rules() {
        let indicator = match r.kind() {
            PatternKind::Exact => r.pattern.as_str(),
            PatternKind::Suffix => {
                let base = r.pattern.get(2..).unwrap_or("");
                if exact.contains(base) {
                    writeln!(
                        out,
                        "# {} {}: base name {} is exported by its own exact rule",
                        r.id, r.pattern, base
                    )?;
                    continue;
                }
                base
            }
            PatternKind::InLabel => {
                writeln!(
                    out,
                    "# {} {}: not expressible in Zeek intel",
                    r.id, r.pattern
                )?;
                continue;
            }
        };
        if !emitted.insert(indicator) {
            continue;
        }
        let approx = if r.kind() == PatternKind::Suffix {
            format!(" [base name of {}; subdomains not covered]", r.pattern)
        } else {
            String::new()
        };
        let desc = one_line(&format!(
            "{} {} {}{}: {}",
            r.vendor,
            r.category,
            r.confidence.as_str(),
            approx,
            r.note
        ));
        let desc = if desc.trim().is_empty() {
            "-".to_string()
        } else {
            desc
        };
        writeln!(
            out,
            "{indicator}\tIntel::DOMAIN\tphonehome:{}\t{desc}",
            r.id
        )?;
    }
    Ok(())
}
