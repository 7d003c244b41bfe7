//! Derived evidence as ECS JSON alert lines (dataset `phonehome.alert`),
//! layout in docs/SCHEMA.md ("Derived alerts"). Same escaping and key order
//! rules as `output::json`: names are attacker-controlled bytes and go
//! through `write_json_str`.

use std::io::Write as _;

use crate::inventory::{Evidence, EvidenceKind};
use crate::output::escape::write_json_str;
use crate::output::json::{DATASET_ALERT, ECS_VERSION, SCHEMA_VERSION, write_addresses};
use crate::output::time::write_rfc3339;

/// Whether `ev` is written as an alert record: DNS-correlated and KSC-port
/// evidence are; prefix evidence (weak, supporting only) is not.
pub fn is_alert(ev: &Evidence) -> bool {
    !matches!(ev.kind, EvidenceKind::Prefix { .. })
}

/// Appends `ev` as exactly one JSON line (nothing for evidence that is not
/// an alert).
///
/// Key order (fixed): `@timestamp`, `ecs`, `event`, `network`, `source`,
/// `destination`, `rule`, `phonehome` (with `channel` and then
/// `correlation` or `ksc`).
pub fn write_evidence(ev: &Evidence, buf: &mut Vec<u8>) {
    let Some((ep, rule_id, _)) = ev.alert_parts() else {
        return;
    };
    buf.extend_from_slice(br#"{"@timestamp":""#);
    write_rfc3339(ev.ts, buf);
    let _ = write!(
        buf,
        r#"","ecs":{{"version":"{ECS_VERSION}"}},"event":{{"kind":"alert","category":["network"],"type":["connection"],"module":"phonehome","dataset":"{DATASET_ALERT}"}},"network":{{"transport":"{}""#,
        ep.transport.as_str()
    );
    write_addresses(ep, buf);
    buf.extend_from_slice(br#","rule":{"id":"#);
    write_json_str(rule_id.as_bytes(), buf);
    if let EvidenceKind::DnsCorrelated { rule, .. } = &ev.kind {
        buf.extend_from_slice(br#","name":"#);
        write_json_str(rule.pattern.as_bytes(), buf);
        buf.extend_from_slice(br#","category":"#);
        write_json_str(rule.category.as_bytes(), buf);
        buf.extend_from_slice(br#","ruleset":"#);
        write_json_str(rule.vendor.as_bytes(), buf);
    }
    let _ = write!(
        buf,
        r#"}},"phonehome":{{"schema_version":"{SCHEMA_VERSION}","packet":{},"confidence":"{}","channel":"{}","host":"{}""#,
        ev.packet,
        ev.confidence().map(|c| c.as_str()).unwrap_or("low"),
        ev.channel().as_str(),
        ev.host
    );
    match &ev.kind {
        EvidenceKind::DnsCorrelated {
            name,
            owner,
            addr,
            answered_by,
            answer_packet,
            answer_ts,
            ttl,
            ..
        } => {
            buf.extend_from_slice(br#","correlation":{"name":"#);
            write_json_str(name, buf);
            buf.extend_from_slice(br#","owner":"#);
            write_json_str(owner, buf);
            let _ = write!(
                buf,
                r#","answer":"{addr}","answered_by":"{answered_by}","answer_packet":{answer_packet},"answer_time":""#
            );
            write_rfc3339(*answer_ts, buf);
            let _ = write!(buf, r#"","ttl":{ttl}}}"#);
        }
        EvidenceKind::KscPort { role, peer, .. } => {
            let _ = write!(
                buf,
                r#","ksc":{{"role":"{}","peer":"{}","port":{},"transport":"{}"}}"#,
                role.as_str(),
                peer.ip,
                peer.port,
                peer.transport.as_str()
            );
        }
        EvidenceKind::Prefix { .. } => {}
    }
    buf.extend_from_slice(b"}}\n");
}
