//! Inventory files: pretty JSON (`*.json`) or CSV (`*.csv`, one row per
//! host × name). Layout in docs/SCHEMA.md. Output is deterministic: hosts in
//! report order (confidence, last seen, IP), names sorted by their bytes.

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::Error;
use super::escape::{csv_field, escape_to_string};
use super::json::{SCHEMA_VERSION, mac_string};
use super::time::rfc3339;
use crate::inventory::{Host, Inventory, NameEntry};

/// `generated_by` of inventory files.
pub const GENERATED_BY: &str = concat!("phonehome ", env!("CARGO_PKG_VERSION"));

/// The format of an inventory file, chosen by its extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InventoryFormat {
    Json,
    Csv,
}

impl InventoryFormat {
    /// `.json` or `.csv` (any case); anything else is an error.
    pub fn from_path(path: &Path) -> Result<Self, Error> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("json") => Ok(InventoryFormat::Json),
            Some("csv") => Ok(InventoryFormat::Csv),
            _ => Err(Error::UnknownInventoryFormat {
                path: path.to_path_buf(),
            }),
        }
    }
}

/// Writes the inventory to `path` in the format its extension names. The
/// file is written beside the target under a temporary name and renamed into
/// place, so a reader never sees a half-written inventory.
pub fn write_inventory_file(path: &Path, inv: &Inventory) -> Result<(), Error> {
    let format = InventoryFormat::from_path(path)?;
    let mut tmp = OsString::from(path.as_os_str());
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let file = File::create(&tmp).map_err(|source| Error::Create {
        path: tmp.clone(),
        source,
    })?;
    let mut w = BufWriter::new(file);
    let written = match format {
        InventoryFormat::Json => write_inventory_json(&mut w, inv),
        InventoryFormat::Csv => write_inventory_csv(&mut w, inv),
    }
    .and_then(|()| w.flush())
    .and_then(|()| fs::rename(&tmp, path));
    written.map_err(|source| {
        let _ = fs::remove_file(&tmp);
        Error::Write {
            path: path.to_path_buf(),
            source,
        }
    })
}

#[derive(Serialize)]
struct InventoryDoc {
    schema_version: &'static str,
    generated_by: &'static str,
    dropped: DroppedDoc,
    hosts: Vec<HostDoc>,
}

#[derive(Serialize)]
struct DroppedDoc {
    hosts: u64,
    names: u64,
    names_too_long: u64,
    macs: u64,
    vlans: u64,
}

#[derive(Serialize)]
struct HostDoc {
    ip: String,
    mac: Option<String>,
    macs: Vec<String>,
    vlan: Option<u16>,
    vlans: Vec<u16>,
    confidence: &'static str,
    first_seen: String,
    last_seen: String,
    alerts: u64,
    channels: ChannelCounts,
    names: Vec<NameDoc>,
}

#[derive(Serialize)]
struct ChannelCounts {
    dns: u64,
    tls: u64,
    http: u64,
    quic: u64,
}

#[derive(Serialize)]
struct NameDoc {
    name: String,
    count: u64,
    category: String,
    confidence: &'static str,
    rule_id: String,
    channels: Vec<&'static str>,
    first_seen: String,
    last_seen: String,
}

fn host_doc(h: &Host) -> HostDoc {
    let [dns, tls, http, quic] = h.by_channel().0;
    HostDoc {
        ip: h.ip().to_string(),
        mac: h.mac().map(mac_string),
        macs: h.macs().iter().copied().map(mac_string).collect(),
        vlan: h.vlan(),
        vlans: h.vlans().to_vec(),
        confidence: h.confidence().as_str(),
        first_seen: rfc3339(h.first_seen()),
        last_seen: rfc3339(h.last_seen()),
        alerts: h.alerts(),
        channels: ChannelCounts {
            dns,
            tls,
            http,
            quic,
        },
        names: h
            .names_sorted()
            .into_iter()
            .map(|(n, e)| name_doc(n, e))
            .collect(),
    }
}

fn name_doc(name: &[u8], e: &NameEntry) -> NameDoc {
    NameDoc {
        name: escape_to_string(name),
        count: e.count(),
        category: escape_to_string(e.category().as_bytes()),
        confidence: e.confidence().as_str(),
        rule_id: escape_to_string(e.rule_id().as_bytes()),
        channels: e.channels().iter().map(|p| p.as_str()).collect(),
        first_seen: rfc3339(e.first_seen()),
        last_seen: rfc3339(e.last_seen()),
    }
}

/// Pretty JSON: `{"schema_version", "generated_by", "dropped", "hosts"}`,
/// ending in a newline.
pub fn write_inventory_json(w: &mut dyn Write, inv: &Inventory) -> io::Result<()> {
    let d = inv.dropped();
    let doc = InventoryDoc {
        schema_version: SCHEMA_VERSION,
        generated_by: GENERATED_BY,
        dropped: DroppedDoc {
            hosts: d.hosts,
            names: d.names,
            names_too_long: d.names_too_long,
            macs: d.macs,
            vlans: d.vlans,
        },
        hosts: inv.hosts_sorted().into_iter().map(host_doc).collect(),
    };
    serde_json::to_writer_pretty(&mut *w, &doc).map_err(io::Error::from)?;
    w.write_all(b"\n")
}

/// The CSV header row.
pub const CSV_HEADER: &str = "ip,mac,macs,vlan,vlans,host_confidence,host_first_seen,host_last_seen,host_alerts,name,count,category,confidence,rule_id,channels,first_seen,last_seen";

/// CSV (RFC 4180, CRLF line ends): a header, then one row per host × name;
/// a host whose names were all refused by limits gets one row with empty
/// name columns. Lists inside a cell are joined with `;`.
pub fn write_inventory_csv(w: &mut dyn Write, inv: &Inventory) -> io::Result<()> {
    w.write_all(CSV_HEADER.as_bytes())?;
    w.write_all(b"\r\n")?;
    let mut row = String::new();
    for h in inv.hosts_sorted() {
        let host_cells = [
            h.ip().to_string(),
            h.mac().map(mac_string).unwrap_or_default(),
            h.macs()
                .iter()
                .copied()
                .map(mac_string)
                .collect::<Vec<_>>()
                .join(";"),
            h.vlan().map(|v| v.to_string()).unwrap_or_default(),
            h.vlans()
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(";"),
            h.confidence().as_str().to_owned(),
            rfc3339(h.first_seen()),
            rfc3339(h.last_seen()),
            h.alerts().to_string(),
        ];
        let names = h.names_sorted();
        let name_rows: Vec<[String; 8]> = if names.is_empty() {
            vec![Default::default()]
        } else {
            names
                .into_iter()
                .map(|(n, e)| {
                    [
                        escape_to_string(n),
                        e.count().to_string(),
                        escape_to_string(e.category().as_bytes()),
                        e.confidence().as_str().to_owned(),
                        escape_to_string(e.rule_id().as_bytes()),
                        e.channels()
                            .iter()
                            .map(|p| p.as_str())
                            .collect::<Vec<_>>()
                            .join(";"),
                        rfc3339(e.first_seen()),
                        rfc3339(e.last_seen()),
                    ]
                })
                .collect()
        };
        for name_cells in &name_rows {
            row.clear();
            for (i, cell) in host_cells.iter().chain(name_cells.iter()).enumerate() {
                if i > 0 {
                    row.push(',');
                }
                csv_field(cell, &mut row);
            }
            row.push_str("\r\n");
            w.write_all(row.as_bytes())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};
    use std::sync::Arc;

    use super::*;
    use crate::event::{Endpoints, NameDetail, NameEvent, Protocol, Transport};
    use crate::signatures::{Confidence, Rule};

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
                src_mac: Some([0xde, 0xad, 0xbe, 0xef, 0, src]),
                vlan: Some(7),
            },
            name: name.into(),
            detail: NameDetail::Dns { qtype: 1 },
            rule: Some(rule),
        }
    }

    fn sample() -> Inventory {
        let mut inv = Inventory::new();
        let high = rule("k-1", Confidence::High);
        let low = rule("k-web", Confidence::Low);
        inv.observe(&alert(2, 100, Protocol::Tls, b"www.kaspersky.com", low));
        inv.observe(&alert(
            1,
            10,
            Protocol::Dns,
            b"Z.kaspersky.com.",
            high.clone(),
        ));
        inv.observe(&alert(
            1,
            20,
            Protocol::Tls,
            b"=1+1,\"x\"\n.kaspersky.com",
            high,
        ));
        inv
    }

    #[test]
    fn format_from_extension() {
        assert_eq!(
            InventoryFormat::from_path(Path::new("a/inv.json")).ok(),
            Some(InventoryFormat::Json)
        );
        assert_eq!(
            InventoryFormat::from_path(Path::new("inv.CSV")).ok(),
            Some(InventoryFormat::Csv)
        );
        assert!(matches!(
            InventoryFormat::from_path(Path::new("inv.txt")),
            Err(Error::UnknownInventoryFormat { .. })
        ));
        assert!(InventoryFormat::from_path(Path::new("inv")).is_err());
    }

    #[test]
    fn json_inventory_layout_and_order() {
        let mut out = Vec::new();
        write_inventory_json(&mut out, &sample()).expect("write");
        let v: serde_json::Value = serde_json::from_slice(&out).expect("valid JSON");
        assert_eq!(v["schema_version"], "1");
        assert_eq!(v["generated_by"], GENERATED_BY);
        assert_eq!(v["dropped"]["hosts"], 0);
        let hosts = v["hosts"].as_array().expect("hosts array");
        // High-confidence host first although the low one was seen later.
        assert_eq!(hosts.len(), 2);
        assert_eq!(hosts[0]["ip"], "10.0.0.1");
        assert_eq!(hosts[0]["confidence"], "high");
        assert_eq!(hosts[0]["mac"], "DE-AD-BE-EF-00-01");
        assert_eq!(hosts[0]["vlan"], 7);
        assert_eq!(hosts[0]["first_seen"], "1970-01-01T00:00:10.000000Z");
        assert_eq!(hosts[0]["last_seen"], "1970-01-01T00:00:20.000000Z");
        assert_eq!(hosts[0]["channels"]["dns"], 1);
        assert_eq!(hosts[0]["channels"]["tls"], 1);
        let names = hosts[0]["names"].as_array().expect("names");
        // Sorted by bytes: '=' (0x3d) before 'z' (0x7a); lowercased, dot stripped.
        assert_eq!(names[0]["name"], "=1+1,\"x\"\\x0a.kaspersky.com");
        assert_eq!(names[1]["name"], "z.kaspersky.com");
        assert_eq!(names[1]["channels"], serde_json::json!(["dns"]));
        assert_eq!(names[1]["rule_id"], "k-1");
        assert_eq!(hosts[1]["confidence"], "low");
        // Key order is fixed.
        let text = String::from_utf8(out).expect("UTF-8");
        let pos = |k: &str| text.find(k).expect(k);
        assert!(pos("\"schema_version\"") < pos("\"generated_by\""));
        assert!(pos("\"generated_by\"") < pos("\"dropped\""));
        assert!(pos("\"dropped\"") < pos("\"hosts\""));
    }

    #[test]
    fn csv_inventory_rows_quote_and_defuse() {
        let mut out = Vec::new();
        write_inventory_csv(&mut out, &sample()).expect("write");
        let text = String::from_utf8(out).expect("UTF-8");
        let rows: Vec<&str> = text.split_terminator("\r\n").collect();
        assert_eq!(rows.len(), 4, "{text}");
        assert_eq!(rows[0], CSV_HEADER);
        let host1 = "10.0.0.1,DE-AD-BE-EF-00-01,DE-AD-BE-EF-00-01,7,7,high,1970-01-01T00:00:10.000000Z,1970-01-01T00:00:20.000000Z,2";
        assert_eq!(
            rows[1],
            format!(
                "{host1},\"'=1+1,\"\"x\"\"\\x0a.kaspersky.com\",1,update,high,k-1,tls,1970-01-01T00:00:20.000000Z,1970-01-01T00:00:20.000000Z"
            )
        );
        assert_eq!(
            rows[2],
            format!(
                "{host1},z.kaspersky.com,1,update,high,k-1,dns,1970-01-01T00:00:10.000000Z,1970-01-01T00:00:10.000000Z"
            )
        );
        assert!(rows[3].starts_with("10.0.0.2,"));
        assert!(rows[3].contains(",www.kaspersky.com,1,update,low,k-web,tls,"));
        // Every row has as many fields as the header, commas inside quotes
        // not counting.
        for r in &rows {
            assert_eq!(csv_field_count(r), 17, "{r}");
        }
    }

    /// Fields of one RFC 4180 record: separators outside quotes, plus one.
    fn csv_field_count(row: &str) -> usize {
        let mut in_quotes = false;
        let mut fields = 1;
        for c in row.chars() {
            match c {
                '"' => in_quotes = !in_quotes,
                ',' if !in_quotes => fields += 1,
                _ => {}
            }
        }
        fields
    }

    #[test]
    fn file_written_by_extension_and_unknown_refused() {
        let dir = std::env::temp_dir().join(format!("phonehome-inv-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("temp dir");
        let inv = sample();
        let json = dir.join("inv.json");
        write_inventory_file(&json, &inv).expect("json written");
        let v: serde_json::Value =
            serde_json::from_slice(&fs::read(&json).expect("read back")).expect("valid JSON");
        assert_eq!(v["hosts"].as_array().map(Vec::len), Some(2));
        let csv = dir.join("inv.csv");
        write_inventory_file(&csv, &inv).expect("csv written");
        assert!(
            fs::read_to_string(&csv)
                .expect("read back")
                .starts_with("ip,mac,")
        );
        let txt = dir.join("inv.txt");
        assert!(matches!(
            write_inventory_file(&txt, &inv),
            Err(Error::UnknownInventoryFormat { .. })
        ));
        assert!(!txt.exists());
        assert!(!dir.join("inv.json.tmp").exists());
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn empty_inventory_is_valid() {
        let inv = Inventory::new();
        let mut out = Vec::new();
        write_inventory_json(&mut out, &inv).expect("write");
        let v: serde_json::Value = serde_json::from_slice(&out).expect("valid JSON");
        assert_eq!(v["hosts"], serde_json::json!([]));
        out.clear();
        write_inventory_csv(&mut out, &inv).expect("write");
        assert_eq!(out, format!("{CSV_HEADER}\r\n").as_bytes());
    }
}
