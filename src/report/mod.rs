//! `phonehome report`: the inventory as something a person can act on.
//!
//! Three formats from one [`InventoryDoc`] (read from a state file or an
//! inventory JSON file, or built from a live [`Inventory`]):
//!
//! - **HTML**: one self-contained page (no scripts, no fetches: a
//!   Content-Security-Policy of `default-src 'none'` forbids them) with the
//!   summary (hosts by confidence and role), a timeline picture (inline SVG:
//!   per host, one lane per evidence channel, a mark per contact, so
//!   periodic beacons show at a glance) and one row per host with its
//!   reason.
//! - **Markdown** for tickets, **CSV** (RFC 4180, one row per host) for
//!   spreadsheets.
//!
//! Output is deterministic (the same document gives the same bytes) and
//! every text from traffic (names, already escaped in the document) is
//! escaped again for the target format.

mod html;
mod text;

use std::fs::File;
use std::io::{self, BufReader, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::inventory::Inventory;
use crate::output::inventory_file::{InventoryDoc, inventory_doc, read_inventory_json};

pub use html::{CHANNEL_COLOURS, PLOT_BACKGROUND};

/// Report formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Html,
    Markdown,
    Csv,
}

impl FromStr for Format {
    type Err = String;

    /// `html`, `md` (or `markdown`), `csv`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "html" | "htm" => Ok(Format::Html),
            "md" | "markdown" => Ok(Format::Markdown),
            "csv" => Ok(Format::Csv),
            other => Err(format!(
                "unknown report format {other:?}: use html, md or csv"
            )),
        }
    }
}

impl Format {
    /// The format an output file's extension names (`.html`, `.md`,
    /// `.csv`), if any.
    pub fn from_path(path: &Path) -> Option<Format> {
        path.extension()
            .and_then(|e| e.to_str())
            .and_then(|e| e.parse().ok())
    }
}

/// Where the report's data comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// A state file (`--state PATH`).
    State(PathBuf),
    /// An inventory JSON file (`--inventory PATH`).
    Inventory(PathBuf),
}

/// Errors of `phonehome report`; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    State(#[from] crate::inventory::state::StateError),
    #[error("state file {0} does not exist (run `phonehome read --state {0}` first)")]
    NoState(PathBuf),
    #[error("cannot read inventory file {path}: {source}")]
    Inventory { path: PathBuf, source: io::Error },
}

/// Reads the report's input.
pub fn load(input: &Input) -> Result<InventoryDoc, ReportError> {
    match input {
        Input::State(path) => {
            let inv = crate::inventory::state::load_file(path)?
                .ok_or_else(|| ReportError::NoState(path.clone()))?;
            Ok(inventory_doc(&inv))
        }
        Input::Inventory(path) => {
            let f = File::open(path).map_err(|source| ReportError::Inventory {
                path: path.clone(),
                source,
            })?;
            read_inventory_json(&mut BufReader::new(f)).map_err(|source| ReportError::Inventory {
                path: path.clone(),
                source,
            })
        }
    }
}

/// Writes the report of `doc` in `format`.
pub fn render(doc: &InventoryDoc, format: Format, out: &mut dyn Write) -> io::Result<()> {
    match format {
        Format::Html => out.write_all(html::page(doc).as_bytes()),
        Format::Markdown => out.write_all(text::markdown(doc).as_bytes()),
        Format::Csv => out.write_all(text::csv(doc).as_bytes()),
    }
}

/// [`render`] of a live inventory.
pub fn render_inventory(inv: &Inventory, format: Format, out: &mut dyn Write) -> io::Result<()> {
    render(&inventory_doc(inv), format, out)
}

/// Seconds since the epoch of an RFC 3339 UTC time as phonehome writes it
/// (`YYYY-MM-DDTHH:MM:SS[.ffffff]Z`); `None` for anything else.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = b.get(r)?;
        if t.is_empty() || !t.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(t).ok()?.parse().ok()
    };
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') || b.get(10) != Some(&b'T') {
        return None;
    }
    if b.get(13) != Some(&b':') || b.get(16) != Some(&b':') || b.last() != Some(&b'Z') {
        return None;
    }
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    // Days from civil (proleptic Gregorian), H. Hinnant's algorithm.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_parses_our_format_and_rejects_others() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00.000000Z"), Some(0));
        assert_eq!(
            parse_rfc3339("2025-03-10T08:00:00.000000Z"),
            Some(1_741_593_600)
        );
        assert_eq!(parse_rfc3339("2024-02-29T23:59:59Z"), Some(1_709_251_199));
        for bad in [
            "",
            "2025-03-10",
            "2025-13-01T00:00:00Z",
            "2025-03-10T08:00:00+01:00",
            "x025-03-10T08:00:00Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn formats_by_name_and_extension() {
        assert_eq!("HTML".parse(), Ok(Format::Html));
        assert_eq!("md".parse(), Ok(Format::Markdown));
        assert_eq!("csv".parse(), Ok(Format::Csv));
        assert!("pdf".parse::<Format>().is_err());
        assert_eq!(
            Format::from_path(Path::new("r/report.html")),
            Some(Format::Html)
        );
        assert_eq!(Format::from_path(Path::new("report.txt")), None);
    }
}
