//! Domain patterns: parsing, validation and specificity.
//!
//! Names follow RFC 1034 §3.1 / RFC 1035 §2.3.4: labels separated by dots,
//! at most 63 octets a label and 253 characters in text form (255 octets on
//! the wire). Comparison is ASCII case-insensitive (RFC 4343 §3) and an
//! absolute name's trailing dot is ignored.
//!
//! Three kinds, written in a pack as:
//!
//! | kind     | example                        | matches                                                  |
//! |----------|--------------------------------|----------------------------------------------------------|
//! | exact    | `kaspersky.com`                | that name only                                           |
//! | suffix   | `*.kaspersky.com`              | one or more labels before `.kaspersky.com`, never the base name itself |
//! | in-label | `ksn-*-geo.kaspersky-labs.com` | same label count; `*` stands for **one or more** characters inside the leftmost label, never a dot |

use std::fmt;

use crate::config::limits::{MATCH_MAX_NAME_LEN, PATTERN_MAX_LABEL_LEN};

/// What shape a pattern has (see the module table).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PatternKind {
    Exact,
    Suffix,
    InLabel,
}

impl PatternKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PatternKind::Exact => "exact",
            PatternKind::Suffix => "suffix",
            PatternKind::InLabel => "in_label",
        }
    }
}

/// Why a pattern was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PatternError {
    Empty,
    /// Longer than a DNS name can be in text form.
    TooLong,
    /// `a..b`, a leading dot, or a lone `.`.
    EmptyLabel,
    LabelTooLong,
    /// Only `a-z 0-9 - _` (any case), `.` and `*` are allowed; IDNs must
    /// be written in punycode (`xn--...`).
    BadChar(char),
    /// `*` on its own would match every name.
    WildcardAlone,
    /// `*` anywhere but the leftmost label (`a.*.b`, `*.*.b`, `a.b*`).
    WildcardNotLeftmost,
    /// More than one `*` in the leftmost label (`a*b*.c.d`, `**.c.d`).
    MultipleWildcards,
    /// A wildcard needs at least two fixed labels to its right
    /// (`*.com` or `a*.com` would match a whole TLD).
    TooBroad,
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PatternError::Empty => f.write_str("empty pattern"),
            PatternError::TooLong => write!(
                f,
                "longer than {MATCH_MAX_NAME_LEN} characters, so no DNS name can match it"
            ),
            PatternError::EmptyLabel => {
                f.write_str("empty label (two dots in a row, or a leading dot)")
            }
            PatternError::LabelTooLong => {
                write!(
                    f,
                    "a label is longer than {PATTERN_MAX_LABEL_LEN} characters"
                )
            }
            PatternError::BadChar(c) => write!(
                f,
                "character {c:?} is not allowed (letters, digits, '-', '_', '.', '*'; write IDNs as xn--)"
            ),
            PatternError::WildcardAlone => f.write_str("'*' alone would match every name"),
            PatternError::WildcardNotLeftmost => {
                f.write_str("'*' is only allowed in the leftmost label")
            }
            PatternError::MultipleWildcards => f.write_str("at most one '*' per pattern"),
            PatternError::TooBroad => {
                f.write_str("a wildcard needs at least two fixed labels to its right")
            }
        }
    }
}

impl std::error::Error for PatternError {}

/// A validated pattern in normal form: lowercase, no trailing dot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pattern {
    normal: String,
    kind: PatternKind,
    /// Start of the fixed part after the leftmost label (for `Suffix` and
    /// `InLabel`): `normal[rest_at..]` is e.g. `kaspersky-labs.com`.
    rest_at: usize,
}

impl Pattern {
    /// Parse and validate `text`. Case is folded; one trailing dot is
    /// dropped.
    pub fn parse(text: &str) -> Result<Pattern, PatternError> {
        let t = text.strip_suffix('.').unwrap_or(text);
        if t.is_empty() {
            return Err(PatternError::Empty);
        }
        if t.len() > MATCH_MAX_NAME_LEN {
            return Err(PatternError::TooLong);
        }
        if let Some(c) = t
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '*')))
        {
            return Err(PatternError::BadChar(c));
        }
        let normal = t.to_ascii_lowercase();
        let mut labels = normal.split('.');
        let first = labels.next().unwrap_or("");
        let mut label_count = 1usize;
        for label in normal.split('.') {
            if label.is_empty() {
                return Err(PatternError::EmptyLabel);
            }
            if label.len() > PATTERN_MAX_LABEL_LEN {
                return Err(PatternError::LabelTooLong);
            }
        }
        for label in labels {
            label_count += 1;
            if label.contains('*') {
                return Err(PatternError::WildcardNotLeftmost);
            }
        }
        let stars = first.bytes().filter(|&b| b == b'*').count();
        let kind = match (stars, first) {
            (0, _) => PatternKind::Exact,
            (1, "*") => PatternKind::Suffix,
            (1, _) => PatternKind::InLabel,
            _ => return Err(PatternError::MultipleWildcards),
        };
        if kind != PatternKind::Exact {
            if label_count == 1 {
                return Err(if first == "*" {
                    PatternError::WildcardAlone
                } else {
                    PatternError::TooBroad
                });
            }
            if label_count < 3 {
                return Err(PatternError::TooBroad);
            }
        }
        let rest_at = match kind {
            PatternKind::Exact => 0,
            _ => first.len() + 1,
        };
        Ok(Pattern {
            normal,
            kind,
            rest_at,
        })
    }

    pub fn kind(&self) -> PatternKind {
        self.kind
    }

    /// The normal form: lowercase, no trailing dot.
    pub fn as_str(&self) -> &str {
        &self.normal
    }

    /// The fixed labels right of the leftmost label (`kaspersky.com` for
    /// `*.kaspersky.com`); the whole name for an exact pattern.
    pub fn rest(&self) -> &str {
        self.normal.get(self.rest_at..).unwrap_or("")
    }

    /// For `InLabel`: the literal text before and after the `*` in the
    /// leftmost label (`("ksn-", "-geo")`).
    pub fn glob_parts(&self) -> Option<(&str, &str)> {
        if self.kind != PatternKind::InLabel {
            return None;
        }
        let first = self.normal.split('.').next()?;
        first.split_once('*')
    }

    /// How specific the pattern is; a greater value wins. See
    /// [`Specificity`].
    pub fn specificity(&self) -> Specificity {
        let pinned_labels = match self.kind {
            PatternKind::Suffix => self.rest().split('.').count(),
            _ => self.normal.split('.').count(),
        };
        let literal_chars = match self.kind {
            PatternKind::Exact => self.normal.len(),
            // `*.` contributes nothing literal.
            PatternKind::Suffix => self.rest().len() + 1,
            PatternKind::InLabel => self.normal.len() - 1,
        };
        Specificity {
            exact: self.kind == PatternKind::Exact,
            pinned_labels,
            literal_chars,
        }
    }
}

/// The order in which overlapping patterns win, compared field by field:
///
/// 1. an exact pattern beats any wildcard;
/// 2. more pinned labels win: every label of an exact or in-label pattern,
///    the labels right of `*.` for a suffix pattern (`*.upd.kaspersky.com`
///    pins 3 and beats `*.kaspersky.com`, which pins 2);
/// 3. more literal characters win, i.e. fewer characters of the name were
///    consumed by the wildcard.
///
/// Equal specificity is broken by the smaller rule id (byte order), so the
/// outcome never depends on load order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Specificity {
    pub exact: bool,
    pub pinned_labels: usize,
    pub literal_chars: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_normal_form() {
        let p = Pattern::parse("S00.UPD.Kaspersky.COM.").unwrap();
        assert_eq!(p.as_str(), "s00.upd.kaspersky.com");
        assert_eq!(p.kind(), PatternKind::Exact);
        assert_eq!(p.rest(), "s00.upd.kaspersky.com");

        let p = Pattern::parse("*.upd.kaspersky.com").unwrap();
        assert_eq!(p.kind(), PatternKind::Suffix);
        assert_eq!(p.rest(), "upd.kaspersky.com");
        assert_eq!(p.glob_parts(), None);

        let p = Pattern::parse("ksn-*-geo.kaspersky-labs.com").unwrap();
        assert_eq!(p.kind(), PatternKind::InLabel);
        assert_eq!(p.rest(), "kaspersky-labs.com");
        assert_eq!(p.glob_parts(), Some(("ksn-", "-geo")));

        let p = Pattern::parse("*-geo.kaspersky-labs.com").unwrap();
        assert_eq!(p.glob_parts(), Some(("", "-geo")));
        // A single-label exact name is allowed (e.g. an intranet host).
        assert_eq!(Pattern::parse("wpad").unwrap().kind(), PatternKind::Exact);
    }

    #[test]
    fn rejects_invalid_patterns() {
        use PatternError::*;
        let cases: &[(&str, PatternError)] = &[
            ("", Empty),
            (".", Empty),
            ("*", WildcardAlone),
            ("a.*.b", WildcardNotLeftmost),
            ("*.*.b.c", WildcardNotLeftmost),
            ("a.b*.c", WildcardNotLeftmost),
            ("**.b.c", MultipleWildcards),
            ("a*b*.c.d", MultipleWildcards),
            ("*.com", TooBroad),
            ("ksn-*.com", TooBroad),
            ("ksn-*", TooBroad),
            ("a..b", EmptyLabel),
            (".a.b", EmptyLabel),
            ("a.b..", EmptyLabel),
            ("a b.com", BadChar(' ')),
            ("kaspérsky.com", BadChar('é')),
            ("a/b.com", BadChar('/')),
        ];
        for (text, want) in cases {
            assert_eq!(Pattern::parse(text).as_ref().err(), Some(want), "{text:?}");
        }
        let long_label = format!("{}.com", "a".repeat(64));
        assert_eq!(Pattern::parse(&long_label), Err(LabelTooLong));
        let ok_label = format!("{}.com", "a".repeat(63));
        assert!(Pattern::parse(&ok_label).is_ok());
        // 4 × 63 + 3 dots = 255 > 253.
        let long_name = vec!["a".repeat(63); 4].join(".");
        assert_eq!(Pattern::parse(&long_name), Err(TooLong));
    }

    #[test]
    fn specificity_order() {
        let s = |t: &str| Pattern::parse(t).unwrap().specificity();
        assert!(s("a.kaspersky.com") > s("*.kaspersky.com"));
        assert!(s("kaspersky.com") > s("*.upd.kaspersky.com"));
        assert!(s("*.upd.kaspersky.com") > s("*.kaspersky.com"));
        assert!(s("ksn-*-geo.kaspersky-labs.com") > s("*.kaspersky-labs.com"));
        assert!(s("ksn-*-geo.kaspersky-labs.com") > s("ksn-*.kaspersky-labs.com"));
        assert_eq!(
            s("*.kaspersky.com"),
            Specificity {
                exact: false,
                pinned_labels: 2,
                literal_chars: 14
            }
        );
    }
}
