//! A slow, obviously-correct matcher used as the oracle in differential
//! tests and the `signatures_match` fuzz target. It shares no code with
//! `matcher.rs` or `pattern.rs`: it reads each rule's pattern
//! text and tests it against the name directly, then picks the winner by
//! the documented order. Allocates; not for the hot path.

use std::sync::Arc;

use super::Rule;
use crate::config::limits::MATCH_MAX_NAME_LEN;

/// Does `pattern` (normal form) match `name` (lowercase, no trailing dot)?
pub fn pattern_matches(pattern: &[u8], name: &[u8]) -> bool {
    if let Some(base) = pattern.strip_prefix(b"*.") {
        // Suffix: name = <one or more bytes> "." base.
        let mut dotted = Vec::with_capacity(base.len() + 1);
        dotted.push(b'.');
        dotted.extend_from_slice(base);
        return name.len() > dotted.len() && name.ends_with(&dotted);
    }
    if let Some(star) = pattern.iter().position(|&b| b == b'*') {
        // In-label: the name's first label matches head*tail with the star
        // standing for one or more bytes, and the rest is equal.
        let (p_first, p_rest) = split_first_label(pattern);
        let (n_first, n_rest) = split_first_label(name);
        let (Some(p_rest), Some(n_rest)) = (p_rest, n_rest) else {
            return false;
        };
        if p_rest != n_rest || star >= p_first.len() {
            return false;
        }
        let head = &p_first[..star];
        let tail = &p_first[star + 1..];
        return n_first.len() > head.len() + tail.len()
            && n_first.starts_with(head)
            && n_first.ends_with(tail);
    }
    pattern == name
}

fn split_first_label(s: &[u8]) -> (&[u8], Option<&[u8]>) {
    match s.iter().position(|&b| b == b'.') {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    }
}

/// `(exact, pinned labels, literal characters)`: greater wins.
fn rank(pattern: &[u8]) -> (bool, usize, usize) {
    let stars = pattern.iter().filter(|&&b| b == b'*').count();
    let labels = pattern.split(|&b| b == b'.').count();
    let pinned = if pattern.starts_with(b"*.") {
        labels - 1
    } else {
        labels
    };
    (stars == 0, pinned, pattern.len() - stars)
}

/// The winning rule for `name` among `rules`, by brute force.
pub fn match_name_slow<'a>(rules: &'a [Arc<Rule>], name: &[u8]) -> Option<&'a Arc<Rule>> {
    let name = name.strip_suffix(b".").unwrap_or(name);
    if name.len() > MATCH_MAX_NAME_LEN || name.is_empty() {
        return None;
    }
    let name = name.to_ascii_lowercase();
    rules
        .iter()
        .filter(|r| pattern_matches(r.pattern.as_bytes(), &name))
        .max_by(|a, b| {
            rank(a.pattern.as_bytes())
                .cmp(&rank(b.pattern.as_bytes()))
                // Smaller id wins a tie, so it must compare as greater.
                .then_with(|| b.id.cmp(&a.id))
        })
}
