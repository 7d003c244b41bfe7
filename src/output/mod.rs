//! I/O out: ECS JSON lines, inventory files, the human summary.
//!
//! Every string that reaches an output went through the one name escaping
//! in [`escape`]; each format adds its own quoting on top. The schema of
//! everything written here is docs/SCHEMA.md, version
//! [`json::SCHEMA_VERSION`].

pub mod cef;
pub mod delivery;
pub mod escape;
pub mod hec;
pub mod inventory_file;
pub mod json;
pub mod policy;
pub mod sink;
pub mod spool;
pub mod summary;
pub mod syslog;
pub mod time;
pub mod tls;

use std::path::PathBuf;

pub use delivery::{AlertSink, DeliveryError, SinkOptions, SyslogFormat, open_sink};
pub use inventory_file::{InventoryFormat, write_inventory_file};
pub use policy::{AlertPolicy, Decision, Rollup, RollupReport};
pub use sink::{EventSink, Filter, JsonLinesSink};
pub use summary::{Totals, write_summary};

/// Errors at the output edge; each names the file and what to do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot create output file {}: {source} (check the directory exists and is writable)", path.display())]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write output file {}: {source} (check free disk space)", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("inventory file {}: unknown format; name it *.json or *.csv", path.display())]
    UnknownInventoryFormat { path: PathBuf },
}

/// Derived alerts for the unit tests of the formats.
#[cfg(test)]
pub(crate) mod testdata {
    use std::net::{IpAddr, Ipv4Addr};
    use std::sync::Arc;

    use crate::event::{Endpoints, Transport};
    use crate::inventory::{Evidence, EvidenceKind, Peer, Role};
    use crate::signatures::{Confidence, Rule};

    /// 2025-03-10T08:04:30.123456789Z
    pub const TS: u64 = 1_741_593_870_123_456_789;

    fn ip(d: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(10, 1, 0, d))
    }

    /// A `dns-correlated` alert: 10.1.0.24 connects to 203.0.113.77, which
    /// `name` (CNAME to `owner`) resolved to; the rule id and pattern are
    /// `rule_id` and `*.kaspersky-labs.com`.
    pub fn dns_correlated(name: &[u8], owner: &[u8], rule_id: &str) -> Evidence {
        let endpoints = Endpoints {
            transport: Transport::Tcp,
            src_ip: ip(24),
            src_port: 50_122,
            dst_ip: IpAddr::V4(Ipv4Addr::new(203, 0, 113, 77)),
            dst_port: 443,
            src_mac: Some([2, 0x50, 0x0b, 0, 0, 0x18]),
            vlan: Some(10),
        };
        Evidence {
            ts: TS,
            packet: 312,
            host: ip(24),
            mac: endpoints.src_mac,
            vlan: endpoints.vlan,
            kind: EvidenceKind::DnsCorrelated {
                endpoints,
                name: name.into(),
                owner: owner.into(),
                rule: Arc::new(Rule {
                    id: rule_id.into(),
                    pattern: "*.kaspersky-labs.com".into(),
                    vendor: "kaspersky".into(),
                    category: "telemetry_ksn".into(),
                    confidence: Confidence::High,
                    source: String::new(),
                    note: String::new(),
                }),
                addr: endpoints.dst_ip,
                answered_by: ip(2),
                answer_packet: 298,
                // 2025-03-10T08:03:00.019600Z
                answer_ts: 1_741_593_780_019_600_000,
                ttl: 60,
                confidence: Confidence::Medium,
            },
        }
    }

    /// A `ksc-port` alert about the KSC server 10.1.0.5, from the flow
    /// 10.1.0.31 → 10.1.0.5:13000/tcp.
    pub fn ksc_server() -> Evidence {
        let endpoints = Endpoints {
            transport: Transport::Tcp,
            src_ip: ip(31),
            src_port: 49_800,
            dst_ip: ip(5),
            dst_port: 13_000,
            src_mac: None,
            vlan: None,
        };
        Evidence {
            ts: TS,
            packet: 77,
            host: ip(5),
            mac: None,
            vlan: None,
            kind: EvidenceKind::KscPort {
                endpoints,
                role: Role::KscServer,
                peer: Peer {
                    ip: ip(31),
                    port: 13_000,
                    transport: Transport::Tcp,
                },
                rule_id: "kaspersky-port-0001".into(),
                confidence: Confidence::High,
            },
        }
    }

    /// Prefix evidence: not an alert, written nowhere.
    pub fn prefix() -> Evidence {
        let mut e = ksc_server();
        if let EvidenceKind::KscPort { endpoints, .. } = e.kind {
            e.kind = EvidenceKind::Prefix {
                endpoints,
                rule_id: "kaspersky-ip-0001".into(),
            };
        }
        e
    }
}
