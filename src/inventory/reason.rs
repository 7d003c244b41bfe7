//! The reason for a host's verdict, in words a person can act on, e.g.
//! "update and KSN telemetry over DNS and TLS on 3 days; periodic, every
//! ~30 min". Deterministic: the same inventory gives the same text.

use std::fmt::Write as _;
use std::net::IpAddr;

use super::{Channel, Host, Inventory, Role};
use crate::event::TsNs;
use crate::output::escape::escape_to_string;
use crate::signatures::Confidence;

/// Most names or addresses listed in one clause.
const LIST_MAX: usize = 3;

/// Most clients listed for a resolver: the people acting on the report
/// need the hosts to visit; the inventory file has them all.
const CLIENTS_MAX: usize = 12;

/// A duration as people say it: `45 s`, `31 min`, `2.5 h`, `3 d`.
pub fn human_duration(ns: TsNs) -> String {
    let s = ns / 1_000_000_000;
    if s < 120 {
        format!("{s} s")
    } else if s < 2 * 3600 {
        format!("{} min", (s + 30) / 60)
    } else if s < 2 * 86_400 {
        let tenths = (s * 10 + 1800) / 3600;
        if tenths.is_multiple_of(10) {
            format!("{} h", tenths / 10)
        } else {
            format!("{}.{} h", tenths / 10, tenths % 10)
        }
    } else {
        format!("{} d", (s + 43_200) / 86_400)
    }
}

/// `a`, `a and b`, `a, b and c` (and "and N more" past [`LIST_MAX`]).
fn list(items: &[String]) -> String {
    list_max(items, LIST_MAX)
}

fn list_max(items: &[String], max: usize) -> String {
    let shown: Vec<&String> = items.iter().take(max).collect();
    let more = items.len().saturating_sub(max);
    let mut out = String::new();
    for (i, s) in shown.iter().enumerate() {
        if i > 0 {
            out.push_str(if i + 1 == shown.len() && more == 0 {
                " and "
            } else {
                ", "
            });
        }
        out.push_str(s);
    }
    if more > 0 {
        let _ = write!(out, " and {more} more");
    }
    out
}

fn category_words(c: &str) -> String {
    match c {
        "telemetry_ksn" => "KSN telemetry".to_string(),
        "website_browsing" => "vendor web site".to_string(),
        other => escape_to_string(other.replace('_', " ").as_bytes()),
    }
}

fn channel_words(c: Channel) -> &'static str {
    match c {
        Channel::Dns => "DNS",
        Channel::Tls => "TLS",
        Channel::Http => "HTTP",
        Channel::Quic => "QUIC",
        Channel::DnsCorrelated => "connections to resolved addresses",
        Channel::KscPort => "KSC ports",
        Channel::Prefix => "vendor address ranges",
    }
}

/// The reason in words; `now` is the newest packet time of the inventory.
pub fn reason(inv: &Inventory, h: &Host) -> String {
    let mut parts: Vec<String> = Vec::new();
    let resolver = h.roles().contains(Role::Resolver);

    if resolver {
        parts.push(resolver_clause(inv, h));
    }
    if h.roles().contains(Role::KscServer) {
        let mut agents: Vec<IpAddr> = h
            .peers()
            .iter()
            .map(|p| p.ip)
            .filter(|ip| *ip != h.ip())
            .collect();
        agents.dedup();
        let agents: Vec<String> = agents.iter().map(IpAddr::to_string).collect();
        parts.push(format!(
            "Kaspersky Security Center server: {} managed endpoint{} seen on KSC ports ({})",
            agents.len(),
            if agents.len() == 1 { "" } else { "s" },
            list(&agents)
        ));
    } else if h.roles().contains(Role::ManagedEndpoint) {
        // Peers are sorted by address: group each server's ports.
        let mut servers: Vec<(IpAddr, Vec<String>)> = Vec::new();
        for p in h.peers() {
            let port = format!("{}/{}", p.port, p.transport.as_str());
            match servers.last_mut() {
                Some((ip, ports)) if *ip == p.ip => ports.push(port),
                _ => servers.push((p.ip, vec![port])),
            }
        }
        let servers: Vec<String> = servers
            .into_iter()
            .map(|(ip, ports)| format!("{ip} ({})", ports.join(", ")))
            .collect();
        parts.push(format!("managed by KSC server {}", list(&servers)));
    }
    if h.channel_conf(Channel::KscPort) == Some(Confidence::High) {
        parts.push("a vendor name on the KSC port confirms it".to_string());
    }

    // Direct names (a resolver's DNS queries are its clients').
    let direct: Vec<Channel> = [Channel::Dns, Channel::Tls, Channel::Http, Channel::Quic]
        .into_iter()
        .filter(|&c| h.evidence().get(c) > 0 && h.counts_for_verdict(c))
        .collect();
    if !direct.is_empty() {
        let mut cats: Vec<(u64, String)> = Vec::new();
        for (_, e) in h.names_sorted() {
            let counts = if resolver {
                e.channels()
                    .iter()
                    .any(|p| p != crate::event::Protocol::Dns)
            } else {
                e.count() > 0
            };
            if !counts {
                continue;
            }
            let w = category_words(e.category());
            match cats.iter_mut().find(|(_, c)| *c == w) {
                Some((n, _)) => *n += e.count(),
                None => cats.push((e.count(), w)),
            }
        }
        cats.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let cats: Vec<String> = cats.into_iter().map(|(_, c)| c).collect();
        let chans: Vec<String> = direct
            .iter()
            .map(|c| channel_words(*c).to_string())
            .collect();
        let what = if cats.is_empty() {
            "vendor names".to_string()
        } else {
            list(&cats)
        };
        parts.push(format!("{what} over {}", list(&chans)));
        let only_low = [Channel::Dns, Channel::Tls, Channel::Http, Channel::Quic]
            .into_iter()
            .filter(|&c| h.counts_for_verdict(c))
            .filter_map(|c| h.channel_conf(c))
            .all(|c| c == Confidence::Low);
        if only_low && h.verdict() == Some(Confidence::Low) {
            parts.push("only names a person browsing vendor sites would also produce".to_string());
        }
    }

    if h.evidence().get(Channel::DnsCorrelated) > 0 {
        let correlated: Vec<(&[u8], &super::NameEntry)> = h
            .names_by_count()
            .into_iter()
            .filter(|(_, e)| e.correlated() > 0)
            .collect();
        let names: Vec<String> = correlated
            .iter()
            .map(|(n, _)| escape_to_string(n))
            .collect();
        let n = h.evidence().get(Channel::DnsCorrelated);
        let mut clause = format!(
            "{n} connection{} to addresses {} resolved to",
            if n == 1 { "" } else { "s" },
            list(&names)
        );
        // Names never seen in a hello or request: only their answers tie
        // the connections to them.
        let hidden: Vec<String> = correlated
            .iter()
            .filter(|(_, e)| {
                !e.channels()
                    .iter()
                    .any(|p| p != crate::event::Protocol::Dns)
            })
            .map(|(n, _)| escape_to_string(n))
            .collect();
        if !hidden.is_empty() {
            let _ = write!(
                clause,
                " ({} never on the wire in a connection: ECH, IP literals or a resolver the span does not see)",
                list(&hidden)
            );
        }
        parts.push(clause);
    }
    if !h.fallback_resolvers().is_empty() {
        let r: Vec<String> = h
            .fallback_resolvers()
            .iter()
            .map(IpAddr::to_string)
            .collect();
        parts.push(format!(
            "asked public resolver {} directly (the product's fallback)",
            list(&r)
        ));
    }
    if h.evidence().get(Channel::Prefix) > 0 {
        parts.push(format!(
            "{} flow{} to Kaspersky address ranges (supporting only)",
            h.evidence().get(Channel::Prefix),
            if h.evidence().get(Channel::Prefix) == 1 {
                ""
            } else {
                "s"
            }
        ));
    }

    // When and how often.
    let contacts = h.contacts().len();
    let days = h.days();
    let mut when = format!(
        "{contacts} contact{} on {days} day{}",
        if contacts == 1 { "" } else { "s" },
        if days == 1 { "" } else { "s" }
    );
    match (h.typical_interval(), h.periodic()) {
        (Some(i), true) => {
            let _ = write!(when, ", periodic every ~{}", human_duration(i));
        }
        (Some(i), false) => {
            let _ = write!(when, ", irregular (median gap {})", human_duration(i));
        }
        _ => {}
    }
    if let Some(q) = h.quiet_since(inv.now()) {
        let _ = write!(when, "; quiet since {}", crate::output::time::rfc3339(q));
    }
    parts.push(when);
    let ech: u64 = h.names_sorted().iter().map(|(_, e)| e.ech()).sum();
    if ech > 0 {
        parts.push(format!(
            "{ech} hello{} used encrypted_client_hello (the name is the outer SNI; the real destination is hidden)",
            if ech == 1 { "" } else { "s" }
        ));
    }
    parts.join("; ")
}

fn resolver_clause(inv: &Inventory, h: &Host) -> String {
    let served = inv.served(h.ip());
    // The vendor names the resolver itself asked for (forwarded upstream),
    // plus those clients asked it for.
    let mut names: Vec<Vec<u8>> = h
        .names_sorted()
        .into_iter()
        .filter(|(_, e)| e.channels().contains(crate::event::Protocol::Dns))
        .map(|(n, _)| n.to_vec())
        .collect();
    if let Some(s) = served {
        for n in s.keys() {
            if !names.iter().any(|m| m[..] == n[..]) {
                names.push(n.to_vec());
            }
        }
    }
    names.sort();
    let mut clients: Vec<IpAddr> = Vec::new();
    let mut unseen: Vec<String> = Vec::new();
    for n in &names {
        match served.and_then(|s| s.get(&n[..])) {
            Some(c) if !c.is_empty() => {
                for ip in c {
                    if !clients.contains(ip) {
                        clients.push(*ip);
                    }
                }
            }
            _ => unseen.push(escape_to_string(n)),
        }
    }
    clients.sort();
    let mut out = format!(
        "DNS resolver (not evidence of an installed product): {} vendor name{} asked through it",
        names.len(),
        if names.len() == 1 { "" } else { "s" }
    );
    if !clients.is_empty() {
        let c: Vec<String> = clients.iter().map(IpAddr::to_string).collect();
        let _ = write!(
            out,
            "; look at its clients {} (seen asking it for the same names)",
            list_max(&c, CLIENTS_MAX)
        );
    }
    if !unseen.is_empty() {
        let _ = write!(
            out,
            "; no client seen asking for {}: the hosts are behind resolver {} (check its query log)",
            list(&unseen),
            h.ip()
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        const S: u64 = 1_000_000_000;
        assert_eq!(human_duration(45 * S), "45 s");
        assert_eq!(human_duration(31 * 60 * S), "31 min");
        assert_eq!(human_duration(3 * 3600 * S), "3 h");
        assert_eq!(human_duration(9000 * S), "2.5 h");
        assert_eq!(human_duration(3 * 86_400 * S), "3 d");
    }

    #[test]
    fn lists_are_bounded() {
        let v: Vec<String> = ["a", "b", "c", "d", "e"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(list(&v[..1]), "a");
        assert_eq!(list(&v[..2]), "a and b");
        assert_eq!(list(&v[..3]), "a, b and c");
        assert_eq!(list(&v), "a, b, c and 2 more");
    }
}
