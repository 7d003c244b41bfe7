//! The state file (`--state PATH`): the whole inventory, saved so it
//! survives restarts in live mode and merges across offline runs.
//!
//! Format: JSON, `state_format` = [`STATE_FORMAT`]; names escaped as in
//! every output (`output::escape`) and unescaped on load, so bytes survive
//! exactly. Not a user-facing report: write inventories with
//! `output::inventory_file` and reports with `report`.
//!
//! Guarantees:
//! - [`save_file`] writes beside the target and renames, so a crash never
//!   leaves a half-written state.
//! - [`load`] reads at most `STATE_MAX_FILE_BYTES`, and every host, name
//!   and list goes through [`Inventory::merge`], so a state file (however
//!   crafted) cannot exceed the inventory's limits.
//! - Loading then saving gives the same file (round trip), and
//!   `merge(load(a), load(b))` does not depend on which run came first
//!   except for the most-recent MAC/VLAN on equal packet times.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{
    ByChannel, ByProtocol, CHANNELS, Channel, Channels, Contact, Dropped, Host, Inventory,
    NameEntry, Peer, Role, Roles,
};
use crate::config::limits::STATE_MAX_FILE_BYTES;
use crate::event::{Protocol, Transport};
use crate::output::escape::{escape_to_string, unescape};
use crate::signatures::{Confidence, Rule};

/// Version tag of the state format.
pub const STATE_FORMAT: &str = "phonehome-state/1";

/// What can go wrong with a state file; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot read state file {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot write state file {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error("state file {path} is larger than {max} bytes: not a phonehome state file")]
    TooLarge { path: PathBuf, max: u64 },
    #[error("state file {path} is not valid phonehome state JSON: {source}")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("state file {path}: {what}")]
    Invalid { path: PathBuf, what: String },
}

#[derive(Serialize, Deserialize)]
struct StateDoc {
    state_format: String,
    now: u64,
    dropped: BTreeMap<String, u64>,
    hosts: Vec<HostState>,
    served: Vec<ServedState>,
}

#[derive(Serialize, Deserialize)]
struct HostState {
    ip: IpAddr,
    other_ips: Vec<IpAddr>,
    mac: Option<([u8; 6], u64)>,
    macs: Vec<[u8; 6]>,
    vlan: Option<(u16, u64)>,
    vlans: Vec<u16>,
    first_seen: u64,
    last_seen: u64,
    alerts: BTreeMap<String, u64>,
    evidence: BTreeMap<String, u64>,
    confidence: BTreeMap<String, Confidence>,
    roles: Vec<String>,
    names: Vec<NameState>,
    peers: Vec<PeerState>,
    fallback_resolvers: Vec<IpAddr>,
    prefix_rules: Vec<String>,
    /// `[start, end, channel bits]`.
    contacts: Vec<(u64, u64, u8)>,
}

#[derive(Serialize, Deserialize)]
struct NameState {
    name: String,
    count: u64,
    correlated: u64,
    correlated_addrs: Vec<IpAddr>,
    #[serde(default)]
    ech: u64,
    channels: Vec<String>,
    first_seen: u64,
    last_seen: u64,
    rule: RuleState,
}

#[derive(Serialize, Deserialize)]
struct RuleState {
    id: String,
    pattern: String,
    vendor: String,
    category: String,
    confidence: Confidence,
}

#[derive(Serialize, Deserialize)]
struct PeerState {
    ip: IpAddr,
    port: u16,
    transport: String,
}

#[derive(Serialize, Deserialize)]
struct ServedState {
    server: IpAddr,
    names: Vec<(String, Vec<IpAddr>)>,
}

fn host_state(h: &Host) -> HostState {
    let mut names: Vec<NameState> = h
        .names_sorted()
        .into_iter()
        .map(|(n, e)| NameState {
            name: escape_to_string(n),
            count: e.count,
            correlated: e.correlated,
            correlated_addrs: e.correlated_addrs.clone(),
            ech: e.ech,
            channels: e.channels.iter().map(|p| p.as_str().to_string()).collect(),
            first_seen: e.first_seen,
            last_seen: e.last_seen,
            rule: RuleState {
                id: e.rule.id.clone(),
                pattern: e.rule.pattern.clone(),
                vendor: e.rule.vendor.clone(),
                category: e.rule.category.clone(),
                confidence: e.rule.confidence,
            },
        })
        .collect();
    names.sort_by(|a, b| a.name.cmp(&b.name));
    HostState {
        ip: h.ip,
        other_ips: h.other_ips.clone(),
        mac: h.mac,
        macs: h.macs.clone(),
        vlan: h.vlan,
        vlans: h.vlans.clone(),
        first_seen: h.first_seen,
        last_seen: h.last_seen,
        alerts: h
            .by_channel
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(p, n)| (p.as_str().to_string(), n))
            .collect(),
        evidence: h
            .evidence
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(c, n)| (c.as_str().to_string(), n))
            .collect(),
        confidence: CHANNELS
            .into_iter()
            .filter_map(|c| h.channel_conf(c).map(|v| (c.as_str().to_string(), v)))
            .collect(),
        roles: h.roles.iter().map(|r| r.as_str().to_string()).collect(),
        names,
        peers: h
            .peers
            .iter()
            .map(|p| PeerState {
                ip: p.ip,
                port: p.port,
                transport: p.transport.as_str().to_string(),
            })
            .collect(),
        fallback_resolvers: h.fallback_resolvers.clone(),
        prefix_rules: h.prefix_rules.iter().map(|r| r.to_string()).collect(),
        contacts: h
            .contacts
            .iter()
            .map(|c| (c.start, c.end, c.channels))
            .collect(),
    }
}

/// Writes the state as JSON (deterministic: hosts by IP, names by bytes).
pub fn save(inv: &Inventory, w: &mut dyn Write) -> io::Result<()> {
    let mut hosts: Vec<&Host> = inv.hosts.values().collect();
    hosts.sort_unstable_by_key(|h| h.ip);
    let mut servers: Vec<(&IpAddr, &super::ServedNames)> = inv.served.iter().collect();
    servers.sort_unstable_by_key(|(ip, _)| **ip);
    let doc = StateDoc {
        state_format: STATE_FORMAT.to_string(),
        now: inv.now,
        dropped: inv
            .dropped
            .counters()
            .iter()
            .map(|(k, v)| ((*k).to_string(), *v))
            .collect(),
        hosts: hosts.into_iter().map(host_state).collect(),
        served: servers
            .into_iter()
            .map(|(ip, names)| ServedState {
                server: *ip,
                names: names
                    .iter()
                    .map(|(n, c)| (escape_to_string(n), c.clone()))
                    .collect(),
            })
            .collect(),
    };
    serde_json::to_writer(&mut *w, &doc).map_err(io::Error::from)?;
    w.write_all(b"\n")
}

/// Reads a state written by [`save`] into a fresh inventory with the
/// default limits. `path` is only used in errors.
pub fn load(r: &mut dyn Read, path: &Path) -> Result<Inventory, StateError> {
    let mut text = Vec::new();
    r.take(STATE_MAX_FILE_BYTES + 1)
        .read_to_end(&mut text)
        .map_err(|source| StateError::Read {
            path: path.to_path_buf(),
            source,
        })?;
    if text.len() as u64 > STATE_MAX_FILE_BYTES {
        return Err(StateError::TooLarge {
            path: path.to_path_buf(),
            max: STATE_MAX_FILE_BYTES,
        });
    }
    let doc: StateDoc = serde_json::from_slice(&text).map_err(|source| StateError::Parse {
        path: path.to_path_buf(),
        source,
    })?;
    let invalid = |what: String| StateError::Invalid {
        path: path.to_path_buf(),
        what,
    };
    if doc.state_format != STATE_FORMAT {
        return Err(invalid(format!(
            "state_format is {:?}, this version reads {STATE_FORMAT:?}",
            doc.state_format
        )));
    }
    // Build an unbounded staging inventory, then merge it into a bounded
    // one: the limits apply exactly as to live evidence.
    let mut staging = Inventory::with_limits(super::Limits {
        max_hosts: usize::MAX,
        max_names_per_host: usize::MAX,
        max_names_total: usize::MAX,
        ..super::Limits::default()
    });
    staging.now = doc.now;
    let d = &doc.dropped;
    let get = |k: &str| d.get(k).copied().unwrap_or(0);
    staging.dropped = Dropped {
        hosts: get("inventory_hosts_dropped"),
        names: get("inventory_names_dropped"),
        names_too_long: get("inventory_names_too_long"),
        macs: get("inventory_macs_dropped"),
        vlans: get("inventory_vlans_dropped"),
        contacts: get("inventory_contacts_dropped"),
        peers: get("inventory_peers_dropped"),
        resolver_clients: get("inventory_resolver_clients_dropped"),
        mac_merge_refused: get("inventory_mac_merge_refused"),
    };
    for hs in doc.hosts {
        let mut h = Host::new(hs.ip, hs.first_seen);
        h.last_seen = hs.last_seen;
        h.other_ips = hs.other_ips;
        h.mac = hs.mac;
        h.macs = hs.macs;
        h.vlan = hs.vlan;
        h.vlans = hs.vlans;
        let mut by_protocol = ByProtocol::default();
        for (k, n) in &hs.alerts {
            let p = [Protocol::Dns, Protocol::Tls, Protocol::Http, Protocol::Quic]
                .into_iter()
                .find(|p| p.as_str() == k)
                .ok_or_else(|| invalid(format!("host {}: unknown alert channel {k:?}", hs.ip)))?;
            by_protocol.add(p, *n);
        }
        h.by_channel = by_protocol;
        let mut evidence = ByChannel::default();
        for (k, n) in &hs.evidence {
            let c = Channel::parse(k)
                .ok_or_else(|| invalid(format!("host {}: unknown channel {k:?}", hs.ip)))?;
            evidence.add(c, *n);
        }
        h.evidence = evidence;
        for (k, v) in &hs.confidence {
            let c = Channel::parse(k)
                .ok_or_else(|| invalid(format!("host {}: unknown channel {k:?}", hs.ip)))?;
            if let Some(slot) = h.channel_conf.get_mut(c.index()) {
                *slot = Some(*v);
            }
        }
        let mut roles = Roles::default();
        for r in &hs.roles {
            roles.insert(
                Role::parse(r)
                    .ok_or_else(|| invalid(format!("host {}: unknown role {r:?}", hs.ip)))?,
            );
        }
        h.roles = roles;
        for ns in hs.names {
            let name = unescape(ns.name.as_bytes()).ok_or_else(|| {
                invalid(format!("host {}: badly escaped name {:?}", hs.ip, ns.name))
            })?;
            let mut channels = Channels::default();
            for c in &ns.channels {
                let p = [Protocol::Dns, Protocol::Tls, Protocol::Http, Protocol::Quic]
                    .into_iter()
                    .find(|p| p.as_str() == c)
                    .ok_or_else(|| invalid(format!("host {}: unknown channel {c:?}", hs.ip)))?;
                channels.insert(p);
            }
            let rule = Arc::new(Rule {
                id: ns.rule.id,
                pattern: ns.rule.pattern,
                vendor: ns.rule.vendor,
                category: ns.rule.category,
                confidence: ns.rule.confidence,
                source: String::new(),
                note: String::new(),
            });
            h.names.insert(
                name.into(),
                NameEntry {
                    count: ns.count,
                    rule,
                    channels,
                    first_seen: ns.first_seen,
                    last_seen: ns.last_seen,
                    correlated: ns.correlated,
                    correlated_addrs: ns.correlated_addrs,
                    ech: ns.ech,
                },
            );
        }
        for p in hs.peers {
            let transport = match p.transport.as_str() {
                "tcp" => Transport::Tcp,
                "udp" => Transport::Udp,
                other => {
                    return Err(invalid(format!(
                        "host {}: unknown transport {other:?}",
                        hs.ip
                    )));
                }
            };
            h.peers.push(Peer {
                ip: p.ip,
                port: p.port,
                transport,
            });
        }
        h.fallback_resolvers = hs.fallback_resolvers;
        h.prefix_rules = hs.prefix_rules.into_iter().map(Into::into).collect();
        h.contacts = hs
            .contacts
            .into_iter()
            .map(|(start, end, channels)| Contact {
                start,
                end: end.max(start),
                channels,
            })
            .collect();
        staging.hosts.insert(h.ip, h);
    }
    for s in doc.served {
        for (n, clients) in s.names {
            let name = unescape(n.as_bytes()).ok_or_else(|| {
                invalid(format!("resolver {}: badly escaped name {n:?}", s.server))
            })?;
            for c in clients {
                staging.note_served(s.server, c, &name);
            }
        }
    }
    let mut inv = Inventory::new();
    inv.merge(&staging);
    Ok(inv)
}

/// Reads the state file at `path`; `Ok(None)` when it does not exist yet
/// (first run).
pub fn load_file(path: &Path) -> Result<Option<Inventory>, StateError> {
    let mut f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(StateError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    load(&mut f, path).map(Some)
}

/// Writes the state to `path` atomically (temporary file, then rename).
pub fn save_file(path: &Path, inv: &Inventory) -> Result<(), StateError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let res = File::create(&tmp).and_then(|f| {
        let mut w = BufWriter::new(f);
        save(inv, &mut w)?;
        w.flush()?;
        w.get_ref().sync_all()?;
        drop(w);
        fs::rename(&tmp, path)
    });
    res.map_err(|source| {
        let _ = fs::remove_file(&tmp);
        StateError::Write {
            path: path.to_path_buf(),
            source,
        }
    })
}

/// Loads the state at `path` (if any) and merges `inv` into it: what
/// `--state PATH` does at the end of an offline run. Returns the merged
/// inventory, already saved.
pub fn merge_into_file(path: &Path, inv: &Inventory) -> Result<Inventory, StateError> {
    let mut merged = load_file(path)?.unwrap_or_default();
    merged.merge(inv);
    save_file(path, &merged)?;
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::event::{Endpoints, NameDetail, NameEvent};

    fn sample() -> Inventory {
        let rule = Arc::new(Rule {
            id: "k-1".into(),
            pattern: "*.kaspersky.com".into(),
            vendor: "kaspersky".into(),
            category: "update".into(),
            confidence: Confidence::High,
            source: String::new(),
            note: String::new(),
        });
        let mut inv = Inventory::new();
        let src = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
        inv.observe(&NameEvent {
            ts: 5_000_000_000,
            packet: 1,
            protocol: Protocol::Dns,
            endpoints: Endpoints {
                transport: Transport::Udp,
                src_ip: src,
                src_port: 1,
                dst_ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
                dst_port: 53,
                src_mac: Some([2, 0, 0, 0, 0, 1]),
                vlan: Some(7),
            },
            // Bytes that need escaping survive the round trip exactly.
            name: (*b"A\"b\\c\n\xff.kaspersky.com").into(),
            detail: NameDetail::Dns { qtype: 1 },
            rule: Some(rule),
        });
        inv.set_role(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), Role::Resolver, 6);
        inv.note_served(
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
            src,
            b"x.kaspersky.com",
        );
        inv
    }

    fn saved(inv: &Inventory) -> Vec<u8> {
        let mut v = Vec::new();
        save(inv, &mut v).expect("save");
        v
    }

    #[test]
    fn round_trip_is_exact() {
        let inv = sample();
        let a = saved(&inv);
        let back = load(&mut &a[..], Path::new("s.json")).expect("load");
        assert_eq!(saved(&back), a);
        let h = back
            .host(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)))
            .expect("host");
        assert!(h.name(b"a\"b\\c\n\xff.kaspersky.com").is_some());
        assert!(
            back.served(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)))
                .is_some()
        );
    }

    #[test]
    fn damaged_or_foreign_states_are_errors_naming_the_file() {
        let good = String::from_utf8(saved(&sample())).expect("UTF-8");
        let cases = [
            String::new(),
            "[]".to_string(),
            good.replace(STATE_FORMAT, "phonehome-state/99"),
            good.replace("\"dns\":1", "\"smtp\":1"),
            good.replace("\"resolver\"", "\"printer\""),
            good.replace(".kaspersky.com\"", ".kaspersky.com\\\\q\""),
            good.get(..good.len() / 2).unwrap_or_default().to_string(),
        ];
        for (i, c) in cases.iter().enumerate() {
            let err = load(&mut c.as_bytes(), Path::new("bad-state.json"))
                .err()
                .unwrap_or_else(|| panic!("case {i} loaded"));
            assert!(
                err.to_string().contains("bad-state.json"),
                "case {i}: {err}"
            );
        }
    }

    #[test]
    fn loading_applies_the_limits() {
        let mut big = Inventory::with_limits(crate::inventory::Limits {
            max_hosts: usize::MAX,
            ..crate::inventory::Limits::default()
        });
        for i in 0..(crate::config::limits::INVENTORY_MAX_HOSTS as u32 + 10) {
            big.set_role(
                IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i)),
                Role::Resolver,
                1,
            );
        }
        let text = saved(&big);
        let back = load(&mut &text[..], Path::new("s.json")).expect("load");
        assert_eq!(back.len(), crate::config::limits::INVENTORY_MAX_HOSTS);
        assert_eq!(back.dropped().hosts, 10);
    }
}
