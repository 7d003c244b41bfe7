//! Signature packs: loading, checking, compiling to a matcher, and matching
//! names (and, weaker evidence, IP prefixes and ports).
//!
//! A pack is a TOML file (format in signatures/README.md); the Kaspersky
//! pack is embedded in the binary. [`SignatureSet::load`] reads packs,
//! validates every rule (errors carry `file:line`), rejects conflicts
//! between packs, and compiles the read-only [`SignatureSet`] that workers
//! share behind an `Arc`. Pattern semantics are in [`pattern`], the matcher
//! and its cost in `matcher.rs`.

pub mod cli;
pub mod error;
pub mod indicator;
mod matcher;
mod pack;
pub mod pattern;
pub mod reference;

use std::collections::HashMap as StdHashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use error::{LoadErrors, Location, PackError};
pub use indicator::{IpIndicator, IpPrefix, IpRule, PortRule};
pub use matcher::MatchSkip;
pub use pack::{PACK_FORMAT, PackInfo};
pub use pattern::{Pattern, PatternError, PatternKind, Specificity};

use crate::config::limits::{PACK_MAX_FILE_BYTES, SIGNATURES_MAX_RULES};
use crate::event::Transport;
use indicator::PrefixIndex;
use matcher::Matcher;
use pack::{Entry, ParsedPack};

/// The Kaspersky pack, embedded so the sensor works with no files at all.
pub const BUILTIN_PACK: &str = include_str!("../../signatures/kaspersky.toml");

/// The name the embedded pack has in error locations.
pub const BUILTIN_PACK_NAME: &str = "<builtin>/kaspersky.toml";

/// How sure a match makes us that a product is installed.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    /// A person browsing a vendor web site could produce this.
    Low,
    Medium,
    /// Only an installed product would contact this.
    High,
}

impl Confidence {
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }
}

/// One compiled domain signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// Stable id, e.g. `kaspersky-dns-0001`.
    pub id: String,
    /// The pattern in normal form (lowercase, no trailing dot), e.g.
    /// `*.upd.kaspersky.com`.
    pub pattern: String,
    /// Vendor (ruleset), e.g. `kaspersky`.
    pub vendor: String,
    /// e.g. `update`, `telemetry_ksn`, `website_browsing`.
    pub category: String,
    pub confidence: Confidence,
    pub source: String,
    pub note: String,
}

impl Rule {
    /// The pattern's shape, read from its text (`*.` prefix: suffix; another
    /// `*`: in-label; else exact).
    pub fn kind(&self) -> PatternKind {
        if self.pattern.starts_with("*.") {
            PatternKind::Suffix
        } else if self.pattern.contains('*') {
            PatternKind::InLabel
        } else {
            PatternKind::Exact
        }
    }
}

/// A compiled, read-only set of signatures shared by all workers.
#[derive(Debug, Default)]
pub struct SignatureSet {
    rules: Vec<Arc<Rule>>,
    ip_rules: Vec<IpRule>,
    port_rules: Vec<PortRule>,
    packs: Vec<PackInfo>,
    matcher: Matcher,
    prefixes: PrefixIndex,
}

impl SignatureSet {
    /// The most specific rule matching `name` (case-insensitive, trailing dot
    /// ignored). Never allocates. Names longer than
    /// [`crate::config::limits::MATCH_MAX_NAME_LEN`] match nothing; use
    /// [`SignatureSet::match_name_checked`] to count them.
    #[inline]
    pub fn match_name(&self, name: &[u8]) -> Option<&Arc<Rule>> {
        self.match_name_checked(name).ok().flatten()
    }

    /// As [`SignatureSet::match_name`], but says when a name was skipped
    /// rather than looked up (count it under [`MatchSkip::label`]).
    pub fn match_name_checked(&self, name: &[u8]) -> Result<Option<&Arc<Rule>>, MatchSkip> {
        Ok(self.matcher.find(name)?.and_then(|i| self.rules.get(i)))
    }

    /// The `[[ip]]` rule with the longest prefix containing `ip` (an
    /// IPv4-mapped IPv6 address counts as IPv4). ASN rules are not matched.
    pub fn match_ip(&self, ip: IpAddr) -> Option<&IpRule> {
        self.prefixes.lookup(ip).and_then(|i| self.ip_rules.get(i))
    }

    /// Every `[[port]]` rule covering `port` on `transport`, in load order.
    pub fn match_port(&self, transport: Transport, port: u16) -> impl Iterator<Item = &PortRule> {
        self.port_rules
            .iter()
            .filter(move |r| r.contains(transport, port))
    }

    /// Domain rules in load order (packs in load order, rules in file order).
    pub fn rules(&self) -> &[Arc<Rule>] {
        &self.rules
    }

    pub fn ip_rules(&self) -> &[IpRule] {
        &self.ip_rules
    }

    pub fn port_rules(&self) -> &[PortRule] {
        &self.port_rules
    }

    /// The packs the set was built from, in load order.
    pub fn packs(&self) -> &[PackInfo] {
        &self.packs
    }

    /// Domain + ip + port rules.
    pub fn len(&self) -> usize {
        self.rules.len() + self.ip_rules.len() + self.port_rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The embedded Kaspersky pack alone.
    pub fn builtin() -> Result<SignatureSet, LoadErrors> {
        SignatureSet::load(true, &[])
    }

    /// Load the embedded pack (when `default`) and then each path in order:
    /// a file is one pack, a directory contributes its `*.toml` files sorted
    /// by name (not recursive). All errors of all files are collected; the
    /// set is built only when there are none. The same pattern, id or
    /// indicator in two places (same pack or not) is an error naming both.
    pub fn load(default: bool, extra: &[PathBuf]) -> Result<SignatureSet, LoadErrors> {
        let mut errors = Vec::new();
        let mut parsed = Vec::new();
        if default {
            parsed.extend(pack::parse_pack(
                BUILTIN_PACK_NAME,
                BUILTIN_PACK,
                &mut errors,
            ));
        }
        for path in extra {
            for (name, text) in read_packs(path, &mut errors) {
                parsed.extend(pack::parse_pack(&name, &text, &mut errors));
            }
        }
        let set = compile(parsed, &mut errors);
        if errors.is_empty() {
            Ok(set)
        } else {
            Err(LoadErrors(errors))
        }
    }

    /// Build a set from pack texts already in memory (`(name, text)` pairs,
    /// in order). For tests, fuzzing and embedding.
    pub fn from_sources(sources: &[(&str, &str)]) -> Result<SignatureSet, LoadErrors> {
        let mut errors = Vec::new();
        let parsed = sources
            .iter()
            .filter_map(|(name, text)| pack::parse_pack(name, text, &mut errors))
            .collect();
        let set = compile(parsed, &mut errors);
        if errors.is_empty() {
            Ok(set)
        } else {
            Err(LoadErrors(errors))
        }
    }
}

/// The pack files behind one user-given path, read (bounded by
/// `PACK_MAX_FILE_BYTES`) with the name used in locations.
fn read_packs(path: &Path, errors: &mut Vec<PackError>) -> Vec<(String, String)> {
    let shown = path.display().to_string();
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(source) => {
            errors.push(PackError::Read {
                path: shown,
                source,
            });
            return Vec::new();
        }
    };
    let files = if meta.is_dir() {
        let entries = match std::fs::read_dir(path) {
            Ok(e) => e,
            Err(source) => {
                errors.push(PackError::Read {
                    path: shown,
                    source,
                });
                return Vec::new();
            }
        };
        let mut files: Vec<PathBuf> = Vec::new();
        for entry in entries {
            match entry {
                Ok(e) => {
                    let p = e.path();
                    if p.extension().is_some_and(|x| x == "toml") && p.is_file() {
                        files.push(p);
                    }
                }
                Err(source) => errors.push(PackError::Read {
                    path: shown.clone(),
                    source,
                }),
            }
        }
        files.sort();
        if files.is_empty() {
            errors.push(PackError::EmptyDirectory { path: shown });
        }
        files
    } else {
        vec![path.to_path_buf()]
    };
    let mut out = Vec::with_capacity(files.len());
    for f in files {
        let name = f.display().to_string();
        match std::fs::metadata(&f) {
            Ok(m) if m.len() > PACK_MAX_FILE_BYTES => {
                errors.push(PackError::TooLarge {
                    path: name,
                    size: m.len(),
                    limit: PACK_MAX_FILE_BYTES,
                });
                continue;
            }
            Ok(_) => {}
            Err(source) => {
                errors.push(PackError::Read { path: name, source });
                continue;
            }
        }
        match std::fs::read_to_string(&f) {
            Ok(text) => out.push((name, text)),
            Err(source) => errors.push(PackError::Read { path: name, source }),
        }
    }
    out
}

/// First-come claims on ids or keys; a second claim is reported with both
/// places.
struct Claims<K> {
    seen: StdHashMap<K, Location>,
}

impl<K: std::hash::Hash + Eq> Claims<K> {
    fn new() -> Claims<K> {
        Claims {
            seen: StdHashMap::new(),
        }
    }

    /// `Ok` when `key` is new (it is then recorded), `Err(first place)`
    /// when it was claimed before.
    fn claim(&mut self, key: K, at: &Location) -> Result<(), Location> {
        match self.seen.entry(key) {
            std::collections::hash_map::Entry::Occupied(e) => Err(e.get().clone()),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(at.clone());
                Ok(())
            }
        }
    }
}

/// Claim the id and key of one row; true when both are new. Rows with an
/// invalid id or key still claim the valid half, so a duplicate of a
/// rejected row is reported too.
fn claim_row<K, T, Q: std::hash::Hash + Eq>(
    entry: &Entry<K, T>,
    ids: &mut Claims<String>,
    keys: &mut Claims<Q>,
    key_of: impl Fn(&K) -> Q,
    conflict: impl Fn(&K, Location, Location) -> PackError,
    errors: &mut Vec<PackError>,
) -> bool {
    let mut ok = true;
    if let Some((id, at)) = &entry.id
        && let Err(first) = ids.claim(id.clone(), at)
    {
        errors.push(PackError::DuplicateId {
            at: at.clone(),
            id: id.clone(),
            first,
        });
        ok = false;
    }
    if let Some((key, at)) = &entry.key
        && let Err(first) = keys.claim(key_of(key), at)
    {
        errors.push(conflict(key, at.clone(), first));
        ok = false;
    }
    ok
}

/// Cross-pack checks (ids, patterns, indicators unique; rule count) and
/// matcher construction. Rules in conflict are left out and reported.
fn compile(parsed: Vec<ParsedPack>, errors: &mut Vec<PackError>) -> SignatureSet {
    let mut ids: Claims<String> = Claims::new();
    let mut patterns: Claims<String> = Claims::new();
    let mut ip_values: Claims<IpIndicator> = Claims::new();
    let mut port_values: Claims<pack::PortKey> = Claims::new();

    let mut set = SignatureSet::default();
    let mut compiled: Vec<Pattern> = Vec::new();
    let mut total = 0usize;
    let mut too_many_reported = false;
    // Counts an accepted rule; false (reported once) past the limit.
    let mut count = |at: Option<&Location>, errors: &mut Vec<PackError>| -> bool {
        total += 1;
        if total <= SIGNATURES_MAX_RULES {
            return true;
        }
        if !too_many_reported {
            too_many_reported = true;
            errors.push(PackError::TooManyRules {
                at: at.cloned().unwrap_or_else(|| Location {
                    file: String::new(),
                    line: 0,
                }),
                limit: SIGNATURES_MAX_RULES,
            });
        }
        false
    };

    for p in parsed {
        set.packs.push(p.info);
        for entry in p.domains {
            let fresh = claim_row(
                &entry,
                &mut ids,
                &mut patterns,
                |p: &Pattern| p.as_str().to_string(),
                |p, at, first| PackError::DuplicatePattern {
                    at,
                    pattern: p.as_str().to_string(),
                    first,
                },
                errors,
            );
            if let (true, Some(rule), Some((pattern, at))) = (fresh, entry.rule, entry.key)
                && count(Some(&at), errors)
            {
                compiled.push(pattern);
                set.rules.push(Arc::new(rule));
            }
        }
        for entry in p.ips {
            let fresh = claim_row(
                &entry,
                &mut ids,
                &mut ip_values,
                |i: &IpIndicator| *i,
                |i, at, first| PackError::DuplicateIndicator {
                    at,
                    table: "ip",
                    value: match i {
                        IpIndicator::Asn(n) => format!("AS{n}"),
                        IpIndicator::Prefix(p) => p.to_string(),
                    },
                    first,
                },
                errors,
            );
            if let (true, Some(rule)) = (fresh, entry.rule)
                && count(entry.key.as_ref().map(|k| &k.1), errors)
            {
                set.ip_rules.push(rule);
            }
        }
        for entry in p.ports {
            let fresh = claim_row(
                &entry,
                &mut ids,
                &mut port_values,
                |k: &pack::PortKey| *k,
                |&(t, first_port, last_port), at, first| PackError::DuplicateIndicator {
                    at,
                    table: "port",
                    value: if first_port == last_port {
                        format!("{}/{first_port}", t.as_str())
                    } else {
                        format!("{}/{first_port}-{last_port}", t.as_str())
                    },
                    first,
                },
                errors,
            );
            if let (true, Some(rule)) = (fresh, entry.rule)
                && count(entry.key.as_ref().map(|k| &k.1), errors)
            {
                set.port_rules.push(rule);
            }
        }
    }

    let id_list: Vec<&str> = set.rules.iter().map(|r| r.id.as_str()).collect();
    set.matcher = Matcher::build(&compiled, &id_list);
    set.prefixes = PrefixIndex::build(&set.ip_rules);
    set
}
