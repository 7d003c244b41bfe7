//! Reading pack files (TOML, format 1, documented in signatures/README.md)
//! into validated, located rules. Nothing here is on the hot path.
//!
//! Guarantees: every field is validated; every problem is reported (not
//! only the first) with the `file:line` of the offending value; a TOML
//! syntax error stops that file only.

use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use super::error::{Location, PackError};
use super::indicator::{IpIndicator, IpPrefix, IpRule, PortRule, parse_asn, parse_port_range};
use super::pattern::Pattern;
use super::{Confidence, Rule};
use crate::event::Transport;

/// The pack format this build reads (`[pack] format`).
pub const PACK_FORMAT: i64 = 1;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPack {
    pack: Spanned<RawHeader>,
    #[serde(default)]
    domain: Vec<RawDomain>,
    #[serde(default)]
    ip: Vec<RawIndicator>,
    #[serde(default)]
    port: Vec<RawIndicator>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHeader {
    format: Spanned<i64>,
    vendor: Spanned<String>,
    version: Spanned<String>,
    description: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDomain {
    id: Spanned<String>,
    pattern: Spanned<String>,
    category: Spanned<String>,
    confidence: Spanned<String>,
    source: Spanned<String>,
    note: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIndicator {
    id: Spanned<String>,
    kind: Spanned<String>,
    value: Spanned<String>,
    confidence: Spanned<String>,
    source: Spanned<String>,
    note: Spanned<String>,
}

/// The `[pack]` header of a loaded pack.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct PackInfo {
    pub vendor: String,
    pub version: String,
    pub description: String,
    /// The file as named by the user, or `<builtin>/kaspersky.toml`.
    pub file: String,
}

/// One row of a pack table. The id and the key (pattern, prefix, port
/// range) are kept whenever they are valid, even if another field of the
/// row is not, so that duplicates are still found; `rule` is `None` when
/// any field was invalid.
#[derive(Debug)]
pub(crate) struct Entry<K, T> {
    pub id: Option<(String, Location)>,
    pub key: Option<(K, Location)>,
    pub rule: Option<T>,
}

/// The key of a `[[port]]` row.
pub(crate) type PortKey = (Transport, u16, u16);

/// Everything in one pack file; errors go to the caller's list.
#[derive(Debug)]
pub(crate) struct ParsedPack {
    pub info: PackInfo,
    pub domains: Vec<Entry<Pattern, Rule>>,
    pub ips: Vec<Entry<IpIndicator, IpRule>>,
    pub ports: Vec<Entry<PortKey, PortRule>>,
}

/// Maps byte offsets to 1-based line numbers.
struct Lines<'a> {
    file: &'a str,
    starts: Vec<usize>,
}

impl<'a> Lines<'a> {
    fn new(file: &'a str, text: &str) -> Lines<'a> {
        let mut starts = vec![0];
        starts.extend(
            text.bytes()
                .enumerate()
                .filter(|&(_, b)| b == b'\n')
                .map(|(i, _)| i + 1),
        );
        Lines { file, starts }
    }

    fn at(&self, offset: usize) -> Location {
        let line = self.starts.partition_point(|&s| s <= offset).max(1);
        Location {
            file: self.file.to_string(),
            line,
        }
    }

    fn of<T>(&self, s: &Spanned<T>) -> Location {
        self.at(s.span().start)
    }

    fn span(&self, r: Option<Range<usize>>) -> Location {
        self.at(r.map_or(0, |r| r.start))
    }
}

/// An id or vendor: `[a-z0-9][a-z0-9._-]{0,63}`. Kept plain so it is safe in
/// every output format (Suricata metadata, Zeek intel, JSON, tables).
pub(crate) fn valid_id(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && b.first()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && b.iter().all(|&c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'-' | b'_' | b'.')
        })
}

/// A category: `[a-z0-9_]{1,64}`.
fn valid_category(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_')
}

fn confidence(
    lines: &Lines,
    v: &Spanned<String>,
    errors: &mut Vec<PackError>,
) -> Option<Confidence> {
    match v.get_ref().as_str() {
        "low" => Some(Confidence::Low),
        "medium" => Some(Confidence::Medium),
        "high" => Some(Confidence::High),
        other => {
            errors.push(PackError::BadConfidence {
                at: lines.of(v),
                value: other.to_string(),
            });
            None
        }
    }
}

fn id(lines: &Lines, v: &Spanned<String>, errors: &mut Vec<PackError>) -> Option<String> {
    if valid_id(v.get_ref()) {
        Some(v.get_ref().clone())
    } else {
        errors.push(PackError::InvalidId {
            at: lines.of(v),
            id: v.get_ref().clone(),
        });
        None
    }
}

fn non_empty(
    lines: &Lines,
    v: &Spanned<String>,
    field: &'static str,
    errors: &mut Vec<PackError>,
) -> Option<String> {
    if v.get_ref().trim().is_empty() {
        errors.push(PackError::EmptyField {
            at: lines.of(v),
            field,
        });
        None
    } else {
        Some(v.get_ref().clone())
    }
}

/// Parse one pack. `file` is the name used in locations. Returns `None`
/// when the file cannot be used at all (syntax error, bad header); rules
/// with errors are left out and their errors appended to `errors`.
pub(crate) fn parse_pack(
    file: &str,
    text: &str,
    errors: &mut Vec<PackError>,
) -> Option<ParsedPack> {
    let lines = Lines::new(file, text);
    let raw: RawPack = match toml::from_str(text) {
        Ok(raw) => raw,
        Err(e) => {
            errors.push(PackError::Syntax {
                at: lines.span(e.span()),
                message: e.message().trim().to_string(),
            });
            return None;
        }
    };

    let h = raw.pack.get_ref();
    let before = errors.len();
    if *h.format.get_ref() != PACK_FORMAT {
        errors.push(PackError::Header {
            at: lines.of(&h.format),
            field: "format",
            message: format!(
                "format {} is not supported (this build reads format {PACK_FORMAT})",
                h.format.get_ref()
            ),
        });
    }
    if !valid_id(h.vendor.get_ref()) {
        errors.push(PackError::Header {
            at: lines.of(&h.vendor),
            field: "vendor",
            message: format!(
                "`{}` is not a valid vendor name (lowercase letters, digits, '-', '_', '.')",
                h.vendor.get_ref()
            ),
        });
    }
    for (field, v) in [("version", &h.version), ("description", &h.description)] {
        if v.get_ref().trim().is_empty() {
            errors.push(PackError::Header {
                at: lines.of(v),
                field,
                message: "must not be empty".to_string(),
            });
        }
    }
    if errors.len() > before {
        return None;
    }
    let vendor = h.vendor.get_ref().clone();
    let info = PackInfo {
        vendor: vendor.clone(),
        version: h.version.get_ref().clone(),
        description: h.description.get_ref().clone(),
        file: file.to_string(),
    };

    let mut domains = Vec::with_capacity(raw.domain.len());
    for d in &raw.domain {
        let id = id(&lines, &d.id, errors);
        let pattern = match Pattern::parse(d.pattern.get_ref()) {
            Ok(p) => Some(p),
            Err(reason) => {
                errors.push(PackError::InvalidPattern {
                    at: lines.of(&d.pattern),
                    pattern: d.pattern.get_ref().clone(),
                    reason,
                });
                None
            }
        };
        let category = if valid_category(d.category.get_ref()) {
            Some(d.category.get_ref().clone())
        } else {
            errors.push(PackError::InvalidCategory {
                at: lines.of(&d.category),
                value: d.category.get_ref().clone(),
            });
            None
        };
        let confidence = confidence(&lines, &d.confidence, errors);
        let source = non_empty(&lines, &d.source, "source", errors);
        let rule = match (&id, &pattern, category, confidence, source) {
            (Some(id), Some(pattern), Some(category), Some(confidence), Some(source)) => {
                Some(Rule {
                    id: id.clone(),
                    pattern: pattern.as_str().to_string(),
                    vendor: vendor.clone(),
                    category,
                    confidence,
                    source,
                    note: d.note.get_ref().clone(),
                })
            }
            _ => None,
        };
        domains.push(Entry {
            id: id.map(|id| (id, lines.of(&d.id))),
            key: pattern.map(|p| (p, lines.of(&d.pattern))),
            rule,
        });
    }

    let mut ips = Vec::with_capacity(raw.ip.len());
    for r in &raw.ip {
        let id = id(&lines, &r.id, errors);
        let value = r.value.get_ref().trim();
        let parsed = match r.kind.get_ref().as_str() {
            "asn" => Some(parse_asn(value).map(IpIndicator::Asn)),
            kind @ ("ipv4" | "ipv6") => Some(IpPrefix::parse(value).and_then(|p| {
                if p.addr.is_ipv4() == (kind == "ipv4") {
                    Ok(IpIndicator::Prefix(p))
                } else {
                    Err(format!("not an {kind} prefix"))
                }
            })),
            other => {
                errors.push(PackError::BadKind {
                    at: lines.of(&r.kind),
                    table: "ip",
                    value: other.to_string(),
                    expected: "asn, ipv4 or ipv6",
                });
                None
            }
        };
        let indicator = match parsed {
            Some(Ok(i)) => Some(i),
            Some(Err(reason)) => {
                errors.push(PackError::InvalidValue {
                    at: lines.of(&r.value),
                    value: r.value.get_ref().clone(),
                    reason,
                });
                None
            }
            None => None,
        };
        let confidence = confidence(&lines, &r.confidence, errors);
        let source = non_empty(&lines, &r.source, "source", errors);
        let rule = match (&id, indicator, confidence, source) {
            (Some(id), Some(indicator), Some(confidence), Some(source)) => Some(IpRule {
                id: id.clone(),
                vendor: vendor.clone(),
                indicator,
                value: value.to_string(),
                confidence,
                source,
                note: r.note.get_ref().clone(),
            }),
            _ => None,
        };
        ips.push(Entry {
            id: id.map(|id| (id, lines.of(&r.id))),
            key: indicator.map(|i| (i, lines.of(&r.value))),
            rule,
        });
    }

    let mut ports = Vec::with_capacity(raw.port.len());
    for r in &raw.port {
        let id = id(&lines, &r.id, errors);
        let transport = match r.kind.get_ref().as_str() {
            "tcp" => Some(Transport::Tcp),
            "udp" => Some(Transport::Udp),
            other => {
                errors.push(PackError::BadKind {
                    at: lines.of(&r.kind),
                    table: "port",
                    value: other.to_string(),
                    expected: "tcp or udp",
                });
                None
            }
        };
        let range = match parse_port_range(r.value.get_ref()) {
            Ok(range) => Some(range),
            Err(reason) => {
                errors.push(PackError::InvalidValue {
                    at: lines.of(&r.value),
                    value: r.value.get_ref().clone(),
                    reason,
                });
                None
            }
        };
        let confidence = confidence(&lines, &r.confidence, errors);
        let source = non_empty(&lines, &r.source, "source", errors);
        let key = match (transport, range) {
            (Some(t), Some((first, last))) => Some((t, first, last)),
            _ => None,
        };
        let rule = match (&id, key, confidence, source) {
            (Some(id), Some((transport, first, last)), Some(confidence), Some(source)) => {
                Some(PortRule {
                    id: id.clone(),
                    vendor: vendor.clone(),
                    transport,
                    first,
                    last,
                    confidence,
                    source,
                    note: r.note.get_ref().clone(),
                })
            }
            _ => None,
        };
        ports.push(Entry {
            id: id.map(|id| (id, lines.of(&r.id))),
            key: key.map(|k| (k, lines.of(&r.value))),
            rule,
        });
    }

    Some(ParsedPack {
        info,
        domains,
        ips,
        ports,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str =
        "[pack]\nformat = 1\nvendor = \"t\"\nversion = \"1\"\ndescription = \"d\"\n";

    fn parse(body: &str) -> (Option<ParsedPack>, Vec<PackError>) {
        let text = format!("{HEADER}{body}");
        let mut errors = Vec::new();
        let p = parse_pack("t.toml", &text, &mut errors);
        (p, errors)
    }

    fn lines_of(errors: &[PackError]) -> Vec<usize> {
        errors
            .iter()
            .filter_map(|e| e.location().map(|l| l.line))
            .collect()
    }

    #[test]
    fn good_pack() {
        let (p, errors) = parse(
            "\n[[domain]]\nid = \"t-1\"\npattern = \"*.Example.COM\"\ncategory = \"update\"\n\
             confidence = \"high\"\nsource = \"s\"\nnote = \"\"\n\
             [[ip]]\nid = \"t-2\"\nkind = \"asn\"\nvalue = \"AS1\"\nconfidence = \"low\"\nsource = \"s\"\nnote = \"n\"\n\
             [[port]]\nid = \"t-3\"\nkind = \"udp\"\nvalue = \"15000\"\nconfidence = \"medium\"\nsource = \"s\"\nnote = \"n\"\n",
        );
        assert!(errors.is_empty(), "{errors:?}");
        let p = p.unwrap();
        assert_eq!(p.info.vendor, "t");
        assert_eq!(p.domains.len(), 1);
        let d = &p.domains[0];
        assert_eq!(d.rule.as_ref().unwrap().pattern, "*.example.com");
        assert_eq!(d.id.as_ref().unwrap().1.line, 8, "line of the id");
        assert_eq!(d.key.as_ref().unwrap().1.line, 9, "line of the pattern");
        assert_eq!(
            p.ips[0].rule.as_ref().unwrap().indicator,
            IpIndicator::Asn(1)
        );
        let port = p.ports[0].rule.as_ref().unwrap();
        assert_eq!(port.transport, Transport::Udp);
        assert_eq!((port.first, port.last), (15000, 15000));
    }

    #[test]
    fn every_error_is_reported_with_its_line() {
        // Lines: header is 1-5; body starts at 6.
        let (p, errors) = parse(
            "[[domain]]\n\
             id = \"Bad Id\"\n\
             pattern = \"a.*.b\"\n\
             category = \"Update!\"\n\
             confidence = \"hgh\"\n\
             source = \" \"\n\
             note = \"\"\n\
             [[port]]\n\
             id = \"p\"\n\
             kind = \"sctp\"\n\
             value = \"70000\"\n\
             confidence = \"low\"\n\
             source = \"s\"\n\
             note = \"\"\n\
             [[ip]]\n\
             id = \"i\"\n\
             kind = \"ipv4\"\n\
             value = \"2a03:2480::/32\"\n\
             confidence = \"low\"\n\
             source = \"s\"\n\
             note = \"\"\n",
        );
        assert!(p.unwrap().domains.iter().all(|e| e.rule.is_none()));
        let msgs: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines_of(&errors),
            vec![7, 8, 9, 10, 11, 23, 15, 16],
            "{msgs:#?}"
        );
        assert!(
            msgs[0].starts_with("t.toml:7: invalid id `Bad Id`"),
            "{}",
            msgs[0]
        );
        assert!(
            msgs[1].contains("only allowed in the leftmost label"),
            "{}",
            msgs[1]
        );
        assert!(
            msgs[3].starts_with("t.toml:10: bad confidence `hgh`"),
            "{}",
            msgs[3]
        );
        assert!(msgs[6].contains("bad kind `sctp`"), "{}", msgs[6]);
        assert!(msgs[5].contains("not an ipv4 prefix"), "{}", msgs[5]);
    }

    #[test]
    fn syntax_and_schema_errors_have_lines() {
        let (p, errors) = parse("[[domain]]\nid = \"x\"\npattern = \"a.b\n");
        assert!(p.is_none());
        assert_eq!(lines_of(&errors), vec![8]);

        let (_, errors) = parse("[[domain]]\nid = \"x\"\npattern = \"a.b\"\n");
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].to_string().contains("missing field"),
            "{}",
            errors[0]
        );

        let (_, errors) = parse(
            "[[domain]]\nid = \"x\"\npattern = \"a.b\"\ncategory = \"c\"\nconfidence = \"low\"\n\
             source = \"s\"\nnote = \"\"\ncolour = \"red\"\n",
        );
        assert_eq!(lines_of(&errors), vec![13], "{errors:?}");
        assert!(errors[0].to_string().contains("colour"), "{}", errors[0]);
    }

    #[test]
    fn header_is_checked() {
        let mut errors = Vec::new();
        let p = parse_pack(
            "h.toml",
            "[pack]\nformat = 2\nvendor = \"Bad Vendor\"\nversion = \"\"\ndescription = \"d\"\n",
            &mut errors,
        );
        assert!(p.is_none());
        assert_eq!(lines_of(&errors), vec![2, 3, 4]);
        let mut errors = Vec::new();
        assert!(parse_pack("h.toml", "# no header\n", &mut errors).is_none());
        assert!(errors[0].to_string().contains("pack"), "{}", errors[0]);
    }
}
