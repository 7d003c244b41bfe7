//! The compiled name matcher.
//!
//! Guarantees:
//! - never allocates and never panics, whatever the bytes;
//! - the name is compared ASCII case-insensitively (RFC 4343 §3) with one
//!   trailing dot ignored; other bytes (including non-ASCII and empty
//!   labels) are compared as they are, so they simply fail to match;
//! - names longer than [`MATCH_MAX_NAME_LEN`] match nothing and are
//!   reported as [`MatchSkip::NameTooLong`];
//! - the winner is the most specific matching rule (see
//!   [`super::pattern::Specificity`]), ties broken by the smaller id.
//!
//! Cost: one hash probe for exact names, one for in-label patterns, and one
//! per label boundary for suffix patterns (longest suffix first, so the
//! first hit is the winner among suffix patterns). Because an in-label
//! pattern pins every label of the name and a suffix pattern pins at most
//! all but one, the order exact → in-label → suffix follows the specificity
//! order without comparing keys at match time.

use foldhash::HashMap;
use foldhash::HashMapExt;

use super::pattern::{Pattern, PatternKind};
use crate::config::limits::MATCH_MAX_NAME_LEN;

/// Why a name was not looked up at all (a stats label, not an error).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchSkip {
    /// Longer than [`MATCH_MAX_NAME_LEN`] without its trailing dot: cannot be
    /// a DNS name.
    NameTooLong,
}

impl MatchSkip {
    /// Counter name (stage `match`).
    pub fn label(self) -> &'static str {
        match self {
            MatchSkip::NameTooLong => "name_too_long",
        }
    }
}

#[derive(Debug, Clone)]
struct Glob {
    /// Literal text before and after the `*` in the leftmost label.
    head: Box<[u8]>,
    tail: Box<[u8]>,
    rule: usize,
}

/// Indexes into the set's rule list, keyed by normalised pattern text.
#[derive(Debug, Default)]
pub(crate) struct Matcher {
    /// Exact pattern → rule.
    exact: HashMap<Box<[u8]>, usize>,
    /// `*.x` keyed by `x`.
    suffix: HashMap<Box<[u8]>, usize>,
    /// In-label patterns keyed by the fixed labels right of the leftmost
    /// label, each list sorted most specific first (more literal characters,
    /// then smaller id).
    globs: HashMap<Box<[u8]>, Vec<Glob>>,
    /// Longest suffix key: shorter-than-this suffixes are the only ones worth
    /// hashing.
    max_suffix_len: usize,
}

impl Matcher {
    /// Build from validated patterns; `ids[i]` is the id of `patterns[i]`.
    /// Duplicate patterns must have been rejected by the loader; if one slips
    /// through, the first wins.
    pub(crate) fn build(patterns: &[Pattern], ids: &[&str]) -> Matcher {
        let mut m = Matcher {
            exact: HashMap::new(),
            suffix: HashMap::new(),
            globs: HashMap::new(),
            max_suffix_len: 0,
        };
        for (i, p) in patterns.iter().enumerate() {
            let key: Box<[u8]> = p.rest().as_bytes().into();
            match p.kind() {
                PatternKind::Exact => {
                    m.exact.entry(key).or_insert(i);
                }
                PatternKind::Suffix => {
                    m.max_suffix_len = m.max_suffix_len.max(key.len());
                    m.suffix.entry(key).or_insert(i);
                }
                PatternKind::InLabel => {
                    let (head, tail) = p.glob_parts().unwrap_or(("", ""));
                    m.globs.entry(key).or_default().push(Glob {
                        head: head.as_bytes().into(),
                        tail: tail.as_bytes().into(),
                        rule: i,
                    });
                }
            }
        }
        for list in m.globs.values_mut() {
            list.sort_by(|a, b| {
                let la = a.head.len() + a.tail.len();
                let lb = b.head.len() + b.tail.len();
                lb.cmp(&la).then_with(|| {
                    let ia = ids.get(a.rule).copied().unwrap_or("");
                    let ib = ids.get(b.rule).copied().unwrap_or("");
                    ia.cmp(ib)
                })
            });
        }
        m
    }

    /// Index of the winning rule for `name`, or why it was skipped.
    pub(crate) fn find(&self, name: &[u8]) -> Result<Option<usize>, MatchSkip> {
        let name = name.strip_suffix(b".").unwrap_or(name);
        if name.len() > MATCH_MAX_NAME_LEN {
            return Err(MatchSkip::NameTooLong);
        }
        let mut buf = [0u8; MATCH_MAX_NAME_LEN];
        let Some(lower) = buf.get_mut(..name.len()) else {
            return Err(MatchSkip::NameTooLong);
        };
        lower.copy_from_slice(name);
        lower.make_ascii_lowercase();
        let name: &[u8] = lower;
        if name.is_empty() {
            return Ok(None);
        }

        if let Some(&i) = self.exact.get(name) {
            return Ok(Some(i));
        }

        // In-label patterns: the `*` label is the leftmost label of the name.
        if !self.globs.is_empty()
            && let Some(dot) = name.iter().position(|&b| b == b'.')
            && let (Some(first), Some(rest)) = (name.get(..dot), name.get(dot + 1..))
            && let Some(list) = self.globs.get(rest)
        {
            for g in list {
                if first.len() > g.head.len() + g.tail.len()
                    && first.starts_with(&g.head)
                    && first.ends_with(&g.tail)
                {
                    return Ok(Some(g.rule));
                }
            }
        }

        // Suffix patterns: `*.x` needs at least one byte before `.x`, so a
        // dot at position 0 is not a boundary. Left to right = longest first.
        if !self.suffix.is_empty() {
            for (at, &b) in name.iter().enumerate() {
                if b != b'.' || at == 0 {
                    continue;
                }
                let Some(rest) = name.get(at + 1..) else {
                    break;
                };
                if rest.len() > self.max_suffix_len {
                    continue;
                }
                if let Some(&i) = self.suffix.get(rest) {
                    return Ok(Some(i));
                }
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(patterns: &[&str]) -> Matcher {
        let ps: Vec<Pattern> = patterns
            .iter()
            .map(|p| Pattern::parse(p).unwrap())
            .collect();
        let ids: Vec<String> = (0..ps.len()).map(|i| format!("r{i:03}")).collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        Matcher::build(&ps, &ids)
    }

    #[test]
    fn suffix_on_label_boundaries() {
        let m = build(&["*.kaspersky.com"]);
        let f = |n: &[u8]| m.find(n).unwrap();
        assert_eq!(f(b"a.kaspersky.com"), Some(0));
        assert_eq!(f(b"a.b.kaspersky.com"), Some(0));
        assert_eq!(f(b"A.KASPERSKY.COM."), Some(0));
        assert_eq!(f(b"kaspersky.com"), None, "base name is not covered");
        assert_eq!(f(b"evilkaspersky.com"), None);
        assert_eq!(f(b"a.evilkaspersky.com"), None);
        assert_eq!(f(b"kaspersky.com.evil.net"), None);
        assert_eq!(f(b".kaspersky.com"), None, "empty leftmost label");
        assert_eq!(
            f(b"a.kaspersky.com.."),
            None,
            "only one trailing dot is dropped"
        );
        assert_eq!(f(b""), None);
        assert_eq!(f(b"."), None);
    }

    #[test]
    fn in_label_wildcard() {
        let m = build(&["ksn-*-geo.kaspersky-labs.com", "ksn-*.kaspersky-labs.com"]);
        let f = |n: &[u8]| m.find(n).unwrap();
        assert_eq!(f(b"ksn-url-geo.kaspersky-labs.com"), Some(0));
        assert_eq!(f(b"KSN-crypto-kas-GEO.kaspersky-labs.com."), Some(0));
        // `*` must stand for at least one character.
        assert_eq!(f(b"ksn--geo.kaspersky-labs.com"), Some(1), "falls to ksn-*");
        assert_eq!(f(b"ksn-geo.kaspersky-labs.com"), Some(1));
        assert_eq!(f(b"ksn-.kaspersky-labs.com"), None);
        // Never crosses a dot, never matches a deeper name.
        assert_eq!(f(b"ksn-a.b-geo.kaspersky-labs.com"), None);
        assert_eq!(f(b"x.ksn-url-geo.kaspersky-labs.com"), None);
        assert_eq!(f(b"ksn-url-geo.kaspersky-labs.com.cn"), None);
    }

    #[test]
    fn exact_beats_in_label_beats_suffix() {
        let m = build(&[
            "*.kaspersky-labs.com",
            "ksn-*-geo.kaspersky-labs.com",
            "ksn-url-geo.kaspersky-labs.com",
            "*.ksn.kaspersky-labs.com",
        ]);
        let f = |n: &[u8]| m.find(n).unwrap();
        assert_eq!(f(b"ksn-url-geo.kaspersky-labs.com"), Some(2));
        assert_eq!(f(b"ksn-file-geo.kaspersky-labs.com"), Some(1));
        assert_eq!(f(b"other.kaspersky-labs.com"), Some(0));
        assert_eq!(f(b"dc1.ksn.kaspersky-labs.com"), Some(3));
        assert_eq!(f(b"ksn.kaspersky-labs.com"), Some(0));
    }

    #[test]
    fn too_long_names_are_skipped_not_matched() {
        let m = build(&["*.kaspersky.com"]);
        // 253 characters: the longest name that is still looked up.
        let head = "a".repeat(MATCH_MAX_NAME_LEN - ".kaspersky.com".len());
        let ok = format!("{head}.kaspersky.com");
        assert_eq!(ok.len(), MATCH_MAX_NAME_LEN);
        assert_eq!(m.find(ok.as_bytes()), Ok(Some(0)));
        assert_eq!(m.find(format!("{ok}.").as_bytes()), Ok(Some(0)));
        let long = format!("a{ok}");
        assert_eq!(m.find(long.as_bytes()), Err(MatchSkip::NameTooLong));
        assert_eq!(MatchSkip::NameTooLong.label(), "name_too_long");
    }

    #[test]
    fn arbitrary_bytes_do_not_match_or_panic() {
        let m = build(&["*.kaspersky.com", "kaspersky.com"]);
        assert_eq!(
            m.find(b"a\0.kaspersky.com"),
            Ok(Some(0)),
            "label bytes are opaque"
        );
        assert_eq!(m.find(b"kaspersky\0com"), Ok(None));
        assert_eq!(m.find("kaspersky.com\u{0130}".as_bytes()), Ok(None));
        assert_eq!(m.find(&[0xff; 300]), Err(MatchSkip::NameTooLong));
        assert_eq!(m.find(&[b'.'; 10]), Ok(None));
    }
}
