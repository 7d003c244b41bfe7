//! `SignatureSet::match_name` on arbitrary names against the embedded
//! Kaspersky pack: never panics, and always agrees with the brute-force
//! `signatures::reference` matcher (differential).
//!
//! Two names per input: the raw bytes, and a name steered towards the pack
//! (first byte picks a rule, the rest fills its `*` and is appended or
//! prepended), so mutations explore label boundaries next to real patterns
//! rather than random bytes that never come close.
#![no_main]
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use phonehome::signatures::SignatureSet;
use phonehome::signatures::reference::match_name_slow;

fn set() -> &'static SignatureSet {
    static SET: OnceLock<SignatureSet> = OnceLock::new();
    SET.get_or_init(|| SignatureSet::builtin().expect("embedded pack loads"))
}

fn check(set: &SignatureSet, name: &[u8]) {
    let fast = set.match_name(name).map(|r| r.id.as_str());
    let slow = match_name_slow(set.rules(), name).map(|r| r.id.as_str());
    assert_eq!(fast, slow, "name {:?}", String::from_utf8_lossy(name));
    let _ = set.match_name_checked(name);
}

fuzz_target!(|data: &[u8]| {
    let set = set();
    check(set, data);

    let [pick, mode, rest @ ..] = data else {
        return;
    };
    let rules = set.rules();
    let Some(rule) = rules.get(usize::from(*pick) % rules.len().max(1)) else {
        return;
    };
    let mut name = Vec::with_capacity(rule.pattern.len() + rest.len());
    for &b in rule.pattern.as_bytes() {
        if b == b'*' {
            name.extend_from_slice(rest);
        } else {
            name.push(b);
        }
    }
    match mode % 4 {
        1 => name.extend_from_slice(rest),
        2 => {
            let mut pre = rest.to_vec();
            pre.extend_from_slice(&name);
            name = pre;
        }
        3 => name.make_ascii_uppercase(),
        _ => {}
    }
    check(set, &name);
});
