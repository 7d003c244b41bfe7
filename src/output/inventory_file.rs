//! Inventory files: pretty JSON (`*.json`) or CSV (`*.csv`, one row per
//! host × name). Layout in docs/SCHEMA.md. Output is deterministic: hosts in
//! report order (confidence, last seen, IP), names sorted by their bytes.

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, BufWriter, Read as _, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Error;
use super::escape::{csv_field, escape_to_string};
use super::json::{SCHEMA_VERSION, mac_string};
use super::time::rfc3339;
use crate::config::limits::STATE_MAX_FILE_BYTES;
use crate::inventory::{CHANNELS, Channel, Host, Inventory, NameEntry, Role, reason};
use crate::signatures::Confidence;

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

/// The inventory file as a document: what `*.json` inventories contain
/// (docs/SCHEMA.md, "Inventory files") and what `report` renders. Built by
/// [`inventory_doc`], read back by [`read_inventory_json`].
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct InventoryDoc {
    pub schema_version: String,
    pub generated_by: String,
    /// Newest packet time the inventory saw (RFC 3339); the reference for
    /// `quiet_since`.
    #[serde(default)]
    pub observed_until: Option<String>,
    pub dropped: DroppedDoc,
    pub hosts: Vec<HostDoc>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct DroppedDoc {
    pub hosts: u64,
    pub names: u64,
    pub names_too_long: u64,
    pub macs: u64,
    pub vlans: u64,
    #[serde(default)]
    pub contacts: u64,
    #[serde(default)]
    pub peers: u64,
    #[serde(default)]
    pub resolver_clients: u64,
    #[serde(default)]
    pub mac_merge_refused: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct HostDoc {
    pub ip: String,
    /// Other addresses of the same machine (merged by MAC).
    #[serde(default)]
    pub other_ips: Vec<String>,
    pub mac: Option<String>,
    pub macs: Vec<String>,
    pub vlan: Option<u16>,
    pub vlans: Vec<u16>,
    /// `endpoint`, `resolver`, `ksc-server` or `managed-endpoint`.
    #[serde(default = "default_role")]
    pub role: String,
    #[serde(default)]
    pub roles: Vec<String>,
    /// The verdict: `high`, `medium`, `low`, or `none` (nothing counts:
    /// a resolver, or vendor prefixes only).
    pub confidence: String,
    #[serde(default)]
    pub reason: String,
    pub first_seen: String,
    pub last_seen: String,
    #[serde(default)]
    pub quiet_since: Option<String>,
    /// Median gap between contacts, seconds.
    #[serde(default)]
    pub typical_interval_s: Option<u64>,
    #[serde(default)]
    pub periodic: bool,
    #[serde(default)]
    pub days: u64,
    pub alerts: u64,
    pub channels: ChannelCounts,
    #[serde(default)]
    pub evidence: EvidenceCounts,
    #[serde(default)]
    pub peers: Vec<PeerDoc>,
    #[serde(default)]
    pub fallback_resolvers: Vec<String>,
    #[serde(default)]
    pub prefix_rules: Vec<String>,
    /// For resolvers: vendor names clients asked it for, with the clients.
    #[serde(default)]
    pub resolver_clients: Vec<ServedDoc>,
    pub names: Vec<NameDoc>,
    #[serde(default)]
    pub contacts: Vec<ContactDoc>,
}

fn default_role() -> String {
    Role::Endpoint.as_str().to_string()
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ChannelCounts {
    pub dns: u64,
    pub tls: u64,
    pub http: u64,
    pub quic: u64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct EvidenceCounts {
    pub dns: u64,
    pub tls: u64,
    pub http: u64,
    pub quic: u64,
    #[serde(rename = "dns-correlated")]
    pub dns_correlated: u64,
    #[serde(rename = "ksc-port")]
    pub ksc_port: u64,
    pub prefix: u64,
}

impl EvidenceCounts {
    /// `(channel name, count)` in `inventory::CHANNELS` order.
    pub fn iter(&self) -> [(&'static str, u64); 7] {
        [
            ("dns", self.dns),
            ("tls", self.tls),
            ("http", self.http),
            ("quic", self.quic),
            ("dns-correlated", self.dns_correlated),
            ("ksc-port", self.ksc_port),
            ("prefix", self.prefix),
        ]
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PeerDoc {
    pub ip: String,
    pub port: u16,
    pub transport: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ServedDoc {
    pub name: String,
    pub clients: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ContactDoc {
    pub start: String,
    pub end: String,
    pub channels: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct NameDoc {
    pub name: String,
    pub count: u64,
    #[serde(default)]
    pub correlated: u64,
    #[serde(default)]
    pub correlated_addrs: Vec<String>,
    /// Hellos with this name that carried ECH: it is the outer SNI, the
    /// real destination is hidden.
    #[serde(default)]
    pub ech: u64,
    pub category: String,
    pub confidence: String,
    pub rule_id: String,
    pub channels: Vec<String>,
    pub first_seen: String,
    pub last_seen: String,
}

fn host_doc(inv: &Inventory, h: &Host) -> HostDoc {
    let [dns, tls, http, quic] = h.by_channel().0;
    let e = h.evidence();
    let resolver_clients = if h.roles().contains(Role::Resolver) {
        inv.served(h.ip())
            .map(|s| {
                s.iter()
                    .map(|(n, c)| ServedDoc {
                        name: escape_to_string(n),
                        clients: c.iter().map(ToString::to_string).collect(),
                    })
                    .collect()
            })
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    HostDoc {
        ip: h.ip().to_string(),
        other_ips: h.other_ips().iter().map(ToString::to_string).collect(),
        mac: h.mac().map(mac_string),
        macs: h.macs().iter().copied().map(mac_string).collect(),
        vlan: h.vlan(),
        vlans: h.vlans().to_vec(),
        role: h.role().as_str().to_string(),
        roles: h.roles().iter().map(|r| r.as_str().to_string()).collect(),
        confidence: verdict_str(h.verdict()).to_string(),
        reason: reason::reason(inv, h),
        first_seen: rfc3339(h.first_seen()),
        last_seen: rfc3339(h.last_seen()),
        quiet_since: h.quiet_since(inv.now()).map(rfc3339),
        typical_interval_s: h.typical_interval().map(|ns| ns / 1_000_000_000),
        periodic: h.periodic(),
        days: h.days() as u64,
        alerts: h.alerts(),
        channels: ChannelCounts {
            dns,
            tls,
            http,
            quic,
        },
        evidence: EvidenceCounts {
            dns: e.get(Channel::Dns),
            tls: e.get(Channel::Tls),
            http: e.get(Channel::Http),
            quic: e.get(Channel::Quic),
            dns_correlated: e.get(Channel::DnsCorrelated),
            ksc_port: e.get(Channel::KscPort),
            prefix: e.get(Channel::Prefix),
        },
        peers: h
            .peers()
            .iter()
            .map(|p| PeerDoc {
                ip: p.ip.to_string(),
                port: p.port,
                transport: p.transport.as_str().to_string(),
            })
            .collect(),
        fallback_resolvers: h
            .fallback_resolvers()
            .iter()
            .map(ToString::to_string)
            .collect(),
        prefix_rules: h
            .prefix_rules()
            .iter()
            .map(|r| escape_to_string(r.as_bytes()))
            .collect(),
        resolver_clients,
        names: h
            .names_sorted()
            .into_iter()
            .map(|(n, e)| name_doc(n, e))
            .collect(),
        contacts: h
            .contacts()
            .iter()
            .map(|c| ContactDoc {
                start: rfc3339(c.start),
                end: rfc3339(c.end),
                channels: CHANNELS
                    .into_iter()
                    .filter(|ch| c.has(*ch))
                    .map(|ch| ch.as_str().to_string())
                    .collect(),
            })
            .collect(),
    }
}

/// `high`, `medium`, `low` or `none`.
pub fn verdict_str(v: Option<Confidence>) -> &'static str {
    v.map(Confidence::as_str).unwrap_or("none")
}

fn name_doc(name: &[u8], e: &NameEntry) -> NameDoc {
    NameDoc {
        name: escape_to_string(name),
        count: e.count(),
        correlated: e.correlated(),
        correlated_addrs: e
            .correlated_addrs()
            .iter()
            .map(ToString::to_string)
            .collect(),
        ech: e.ech(),
        category: escape_to_string(e.category().as_bytes()),
        confidence: e.confidence().as_str().to_string(),
        rule_id: escape_to_string(e.rule_id().as_bytes()),
        channels: e
            .channels()
            .iter()
            .map(|p| p.as_str().to_string())
            .collect(),
        first_seen: rfc3339(e.first_seen()),
        last_seen: rfc3339(e.last_seen()),
    }
}

/// The inventory as a document: host records sharing a MAC merged
/// (`Inventory::merged_by_mac`), hosts in report order, names by bytes.
pub fn inventory_doc(inv: &Inventory) -> InventoryDoc {
    let merged = inv.merged_by_mac();
    let d = merged.dropped();
    InventoryDoc {
        schema_version: SCHEMA_VERSION.to_string(),
        generated_by: GENERATED_BY.to_string(),
        observed_until: (merged.now() > 0).then(|| rfc3339(merged.now())),
        dropped: DroppedDoc {
            hosts: d.hosts,
            names: d.names,
            names_too_long: d.names_too_long,
            macs: d.macs,
            vlans: d.vlans,
            contacts: d.contacts,
            peers: d.peers,
            resolver_clients: d.resolver_clients,
            mac_merge_refused: d.mac_merge_refused,
        },
        hosts: merged
            .hosts_sorted()
            .into_iter()
            .map(|h| host_doc(&merged, h))
            .collect(),
    }
}

/// Pretty JSON of [`inventory_doc`], ending in a newline.
pub fn write_inventory_json(w: &mut dyn Write, inv: &Inventory) -> io::Result<()> {
    write_doc_json(w, &inventory_doc(inv))
}

/// Pretty JSON of a document, ending in a newline.
pub fn write_doc_json(w: &mut dyn Write, doc: &InventoryDoc) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *w, doc).map_err(io::Error::from)?;
    w.write_all(b"\n")
}

/// Reads an inventory JSON file written by [`write_inventory_json`] (at
/// most `STATE_MAX_FILE_BYTES`).
pub fn read_inventory_json(r: &mut dyn io::Read) -> io::Result<InventoryDoc> {
    let mut text = Vec::new();
    r.take(STATE_MAX_FILE_BYTES + 1).read_to_end(&mut text)?;
    if text.len() as u64 > STATE_MAX_FILE_BYTES {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "larger than any inventory phonehome writes",
        ));
    }
    serde_json::from_slice(&text).map_err(io::Error::from)
}

/// The CSV header row.
pub const CSV_HEADER: &str = "ip,other_ips,mac,macs,vlan,vlans,role,host_confidence,reason,host_first_seen,host_last_seen,quiet_since,typical_interval_s,periodic,host_alerts,evidence,name,count,correlated,category,confidence,rule_id,channels,first_seen,last_seen";

/// CSV (RFC 4180, CRLF line ends): a header, then one row per host × name;
/// a host without kept names gets one row with empty name columns. Lists
/// inside a cell are joined with `;`; `evidence` is `channel=count` pairs.
pub fn write_inventory_csv(w: &mut dyn Write, inv: &Inventory) -> io::Result<()> {
    write_doc_csv(w, &inventory_doc(inv))
}

/// [`write_inventory_csv`] of a document.
pub fn write_doc_csv(w: &mut dyn Write, doc: &InventoryDoc) -> io::Result<()> {
    w.write_all(CSV_HEADER.as_bytes())?;
    w.write_all(b"\r\n")?;
    let mut row = String::new();
    for h in &doc.hosts {
        let host_cells = [
            h.ip.clone(),
            h.other_ips.join(";"),
            h.mac.clone().unwrap_or_default(),
            h.macs.join(";"),
            h.vlan.map(|v| v.to_string()).unwrap_or_default(),
            h.vlans
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(";"),
            h.role.clone(),
            h.confidence.clone(),
            h.reason.clone(),
            h.first_seen.clone(),
            h.last_seen.clone(),
            h.quiet_since.clone().unwrap_or_default(),
            h.typical_interval_s
                .map(|s| s.to_string())
                .unwrap_or_default(),
            h.periodic.to_string(),
            h.alerts.to_string(),
            h.evidence
                .iter()
                .iter()
                .filter(|(_, n)| *n > 0)
                .map(|(c, n)| format!("{c}={n}"))
                .collect::<Vec<_>>()
                .join(";"),
        ];
        let name_rows: Vec<[String; 9]> = if h.names.is_empty() {
            vec![Default::default()]
        } else {
            h.names
                .iter()
                .map(|e| {
                    [
                        e.name.clone(),
                        e.count.to_string(),
                        e.correlated.to_string(),
                        e.category.clone(),
                        e.confidence.clone(),
                        e.rule_id.clone(),
                        e.channels.join(";"),
                        e.first_seen.clone(),
                        e.last_seen.clone(),
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
        assert_eq!(v["schema_version"], SCHEMA_VERSION);
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
        let host1 = "10.0.0.1,,DE-AD-BE-EF-00-01,DE-AD-BE-EF-00-01,7,7,endpoint,high,";
        assert!(rows[1].starts_with(host1), "{}", rows[1]);
        // The formula-looking name is quoted and defused with a leading '.
        assert!(
            rows[1].ends_with(
                ",\"'=1+1,\"\"x\"\"\\x0a.kaspersky.com\",1,0,update,high,k-1,tls,1970-01-01T00:00:20.000000Z,1970-01-01T00:00:20.000000Z"
            ),
            "{}",
            rows[1]
        );
        assert!(rows[1].contains(
            ",1970-01-01T00:00:10.000000Z,1970-01-01T00:00:20.000000Z,,,false,2,dns=1;tls=1,"
        ));
        assert!(rows[2].starts_with(host1));
        assert!(rows[2].ends_with(
            ",z.kaspersky.com,1,0,update,high,k-1,dns,1970-01-01T00:00:10.000000Z,1970-01-01T00:00:10.000000Z"
        ));
        assert!(rows[3].starts_with("10.0.0.2,"));
        assert!(rows[3].contains(",www.kaspersky.com,1,0,update,low,k-web,tls,"));
        // Every row has as many fields as the header, commas inside quotes
        // not counting.
        for r in &rows {
            assert_eq!(csv_field_count(r), 25, "{r}");
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
                .starts_with("ip,other_ips,mac,")
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
