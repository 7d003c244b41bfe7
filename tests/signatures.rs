//! Integration tests of `phonehome::signatures`: the embedded Kaspersky pack
//! against the research table, matching semantics on real names, a
//! differential test against the slow reference matcher, load/check errors
//! with their line numbers, and the structure of every export.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use phonehome::event::Transport;
use phonehome::signatures::cli::{self, ExportFormat};
use phonehome::signatures::reference::match_name_slow;
use phonehome::signatures::{
    Confidence, IpIndicator, MatchSkip, PackError, PatternKind, Rule, SignatureSet,
};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn builtin() -> SignatureSet {
    SignatureSet::builtin().expect("embedded pack loads")
}

fn id_of(set: &SignatureSet, name: &str) -> Option<String> {
    set.match_name(name.as_bytes()).map(|r| r.id.clone())
}

/// The pattern of the rule that matches `name`, if any.
fn winner(set: &SignatureSet, name: &str) -> Option<String> {
    set.match_name(name.as_bytes()).map(|r| r.pattern.clone())
}

// ---------------------------------------------------------------------------
// The pack against the research table.

struct TsvRow {
    pattern: String,
    category: String,
    confidence: String,
    source: String,
    note: String,
}

fn research_rows() -> Vec<TsvRow> {
    let path = Path::new(ROOT).join("signatures/research/kaspersky/domains.tsv");
    let text = std::fs::read_to_string(&path).expect("research table is in the repository");
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("pattern\tcategory\tconfidence\tsource\tnote"),
        "header changed: update this test and the generator"
    );
    lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 5, "row {l:?}");
            TsvRow {
                pattern: f[0].trim().to_string(),
                category: f[1].trim().to_string(),
                confidence: f[2].trim().to_string(),
                source: f[3].trim().to_string(),
                note: f[4].trim().to_string(),
            }
        })
        .collect()
}

/// Rules in the pack that are not a row of domains.tsv, each documented in
/// build_from_research.py (EXTRA) and the research README.
const EXTRA_PATTERNS: &[&str] = &["ksn-*-geo.kaspersky-labs.com"];

#[test]
fn pack_has_exactly_one_rule_per_research_row() {
    let rows = research_rows();
    assert_eq!(rows.len(), 179);
    let set = builtin();
    assert_eq!(set.packs().len(), 1);
    assert_eq!(set.packs()[0].vendor, "kaspersky");

    let mut by_pattern: HashMap<&str, Vec<&Arc<Rule>>> = HashMap::new();
    for r in set.rules() {
        by_pattern.entry(r.pattern.as_str()).or_default().push(r);
    }
    for row in &rows {
        let rules = by_pattern.get(row.pattern.to_ascii_lowercase().as_str());
        let rules = rules.unwrap_or_else(|| panic!("row {} has no rule", row.pattern));
        assert_eq!(rules.len(), 1, "row {}", row.pattern);
        let r = rules[0];
        assert_eq!(r.category, row.category, "{}", row.pattern);
        assert_eq!(r.confidence.as_str(), row.confidence, "{}", row.pattern);
        assert_eq!(r.source, row.source, "{}", row.pattern);
        assert_eq!(r.note, row.note, "{}", row.pattern);
        assert_eq!(r.vendor, "kaspersky");
    }
    let row_patterns: HashSet<String> = rows
        .iter()
        .map(|r| r.pattern.to_ascii_lowercase())
        .collect();
    let extra: Vec<&str> = set
        .rules()
        .iter()
        .map(|r| r.pattern.as_str())
        .filter(|p| !row_patterns.contains(*p))
        .collect();
    assert_eq!(extra, EXTRA_PATTERNS);
    assert_eq!(set.rules().len(), rows.len() + EXTRA_PATTERNS.len());
}

#[test]
fn pack_ids_are_explicit_and_unique() {
    let text = std::fs::read_to_string(Path::new(ROOT).join("signatures/kaspersky.toml")).unwrap();
    assert_eq!(
        text,
        phonehome::signatures::BUILTIN_PACK,
        "embedded pack is the file"
    );
    let set = builtin();
    let mut seen = HashSet::new();
    for (i, r) in set.rules().iter().enumerate() {
        assert!(seen.insert(r.id.clone()), "duplicate {}", r.id);
        // Generated ids are numbered in file order; a hand-added rule with
        // another shape would be fine for the loader but is flagged here so
        // the generator stays the source of truth.
        assert_eq!(r.id, format!("kaspersky-dns-{:04}", i + 1));
    }
}

#[test]
fn pack_carries_ip_and_port_indicators() {
    let set = builtin();
    let asns: Vec<u32> = set
        .ip_rules()
        .iter()
        .filter_map(|r| match r.indicator {
            IpIndicator::Asn(n) => Some(n),
            _ => None,
        })
        .collect();
    assert_eq!(asns, vec![200107, 41983, 209030]);
    assert_eq!(set.ip_rules().len(), 16, "3 ASNs + 12 IPv4 + 1 IPv6 rows");

    let hit = set
        .match_ip("77.74.180.9".parse().unwrap())
        .expect("77.74.176.0/21");
    assert_eq!(hit.value, "77.74.176.0/21");
    assert_eq!(hit.confidence, Confidence::Medium);
    let hit = set.match_ip("2a03:2480:8000::1".parse().unwrap()).unwrap();
    assert_eq!(hit.value, "2a03:2480::/32");
    assert!(set.match_ip("8.8.8.8".parse().unwrap()).is_none());
    assert!(set.match_ip("77.74.184.0".parse().unwrap()).is_none());
    assert!(
        set.match_ip("::ffff:93.159.227.7".parse().unwrap())
            .is_some()
    );

    // "TCP 13111 / UDP 15111 / TCP 17111" is three rules; the KSC Cloud
    // Console row is four ranges.
    assert_eq!(set.port_rules().len(), 11);
    let ids = |t, p| -> Vec<String> { set.match_port(t, p).map(|r| r.id.clone()).collect() };
    assert_eq!(ids(Transport::Tcp, 13000).len(), 1);
    assert_eq!(ids(Transport::Udp, 13000).len(), 0);
    assert_eq!(ids(Transport::Udp, 15111).len(), 1);
    assert_eq!(ids(Transport::Tcp, 23150).len(), 1);
    assert_eq!(ids(Transport::Tcp, 23200).len(), 0);
    assert_eq!(ids(Transport::Tcp, 29299).len(), 1);
}

// ---------------------------------------------------------------------------
// Matching semantics on the real pack.

#[test]
fn exact_suffix_and_in_label_on_the_real_pack() {
    let set = builtin();
    let w = |n: &str| winner(&set, n);
    let s = |p: &str| Some(p.to_string());

    // Exact rows win over every wildcard that also covers them.
    assert_eq!(w("s07.upd.kaspersky.com"), s("s07.upd.kaspersky.com"));
    assert_eq!(
        w("dc1.ksn.kaspersky-labs.com"),
        s("dc1.ksn.kaspersky-labs.com")
    );
    assert_eq!(
        w("ksn-url-geo.kaspersky-labs.com"),
        s("ksn-url-geo.kaspersky-labs.com")
    );
    assert_eq!(w("kaspersky.com"), s("kaspersky.com"));
    assert_eq!(w("cloud.kaspersky.com"), s("cloud.kaspersky.com"));

    // Suffix: any depth, the most labels wins.
    assert_eq!(w("s99.upd.kaspersky.com"), s("*.upd.kaspersky.com"));
    assert_eq!(w("a.b.c.upd.kaspersky.com"), s("*.upd.kaspersky.com"));
    assert_eq!(
        w("dc9.ksn.kaspersky-labs.com"),
        s("*.ksn.kaspersky-labs.com")
    );
    assert_eq!(w("s405.cloud.kaspersky.com"), s("*.cloud.kaspersky.com"));
    assert_eq!(w("anything.kaspersky.com"), s("*.kaspersky.com"));
    // `*.x` does not cover x: these fall to the wider catch-all.
    assert_eq!(w("upd.kaspersky.com"), s("*.kaspersky.com"));
    assert_eq!(w("ksn.kaspersky-labs.com"), s("*.kaspersky-labs.com"));
    assert_eq!(w("geoksn.kaspersky.com"), s("*.kaspersky.com"));
    // ...and a base name with no catch-all above it matches nothing.
    assert_eq!(w("kaspersky-labs.com"), None);
    assert_eq!(w("northghost.com"), None);
    assert_eq!(w("backend.northghost.com"), s("*.northghost.com"));

    // In-label: the KSN family, one or more characters, never a dot.
    assert_eq!(
        w("ksn-newservice-geo.kaspersky-labs.com"),
        s("ksn-*-geo.kaspersky-labs.com")
    );
    assert_eq!(
        w("ksn-a-geo.kaspersky-labs.com"),
        s("ksn-*-geo.kaspersky-labs.com")
    );
    assert_eq!(w("ksn--geo.kaspersky-labs.com"), s("*.kaspersky-labs.com"));
    assert_eq!(
        w("ksn-a.b-geo.kaspersky-labs.com"),
        s("*.kaspersky-labs.com")
    );
    assert_eq!(
        w("x.ksn-url-geo.kaspersky-labs.com"),
        s("*.kaspersky-labs.com")
    );
    let r = set
        .match_name(b"ksn-newservice-geo.kaspersky-labs.com")
        .unwrap();
    assert_eq!(
        (r.confidence, r.category.as_str()),
        (Confidence::High, "telemetry_ksn")
    );
    assert_eq!(r.kind(), PatternKind::InLabel);
}

#[test]
fn case_and_trailing_dot() {
    let set = builtin();
    let want = id_of(&set, "s07.upd.kaspersky.com").unwrap();
    for n in [
        "S07.UPD.KASPERSKY.COM",
        "s07.Upd.Kaspersky.Com.",
        "s07.upd.kaspersky.com.",
    ] {
        assert_eq!(id_of(&set, n).as_deref(), Some(want.as_str()), "{n}");
    }
    assert_eq!(
        winner(&set, "KSN-CRYPTO-NEW-GEO.KASPERSKY-LABS.COM."),
        Some("ksn-*-geo.kaspersky-labs.com".into())
    );
    // Only one trailing dot is the root label.
    assert_eq!(id_of(&set, "kaspersky.com.."), None);
}

#[test]
fn look_alikes_do_not_match() {
    let set = builtin();
    for n in [
        "evilkaspersky.com",
        "www.evilkaspersky.com",
        "kaspersky.com.evil.net",
        "s07.upd.kaspersky.com.evil.net",
        "kaspersky-labs.com.cn",
        "dc1.ksn.kaspersky-labs.com.cn",
        "kaspersky.co",
        "kaspersky.com-labs.com",
        "kasperskylabs.com",
        "xkaspersky-labs.com",
        "notsecurelist.com",
        "securelist.com.evil",
        "kaspersky",
        "com",
        "ksn-url-geo.kaspersky-labs.co",
        "kaspersky\u{2024}com",
        "kaspersky.com\0",
        "",
        ".",
    ] {
        assert_eq!(winner(&set, n), None, "{n:?} must not match");
    }
    // A leading dot leaves an empty label: `*.x` needs a real one.
    assert_eq!(winner(&set, ".kaspersky.com"), None);
}

#[test]
fn long_names_are_skipped_and_labelled() {
    let set = builtin();
    let name = format!(
        "{}.upd.kaspersky.com",
        "a".repeat(253 - ".upd.kaspersky.com".len())
    );
    assert_eq!(name.len(), 253);
    assert!(set.match_name(name.as_bytes()).is_some());
    assert!(set.match_name(format!("{name}.").as_bytes()).is_some());
    let long = format!("b{name}");
    assert_eq!(set.match_name(long.as_bytes()), None);
    assert_eq!(
        set.match_name_checked(long.as_bytes()),
        Err(MatchSkip::NameTooLong)
    );
    assert_eq!(set.match_name_checked(b"example.org"), Ok(None));
}

// ---------------------------------------------------------------------------
// Specificity and ties with a purpose-built pack.

const HEADER: &str =
    "[pack]\nformat = 1\nvendor = \"t\"\nversion = \"1\"\ndescription = \"test\"\n";

fn domain(id: &str, pattern: &str) -> String {
    format!(
        "\n[[domain]]\nid = \"{id}\"\npattern = \"{pattern}\"\ncategory = \"c\"\n\
         confidence = \"low\"\nsource = \"test\"\nnote = \"\"\n"
    )
}

fn pack(rules: &[(&str, &str)]) -> String {
    let mut s = HEADER.to_string();
    for (id, p) in rules {
        s.push_str(&domain(id, p));
    }
    s
}

#[test]
fn specificity_and_deterministic_ties() {
    let text = pack(&[
        ("t-09", "*.example.com"),
        ("t-08", "*.b.example.com"),
        ("t-07", "a*.b.example.com"),
        ("t-06", "*z.b.example.com"),
        ("t-05", "ab*.b.example.com"),
        ("t-04", "x.b.example.com"),
    ]);
    let set = SignatureSet::from_sources(&[("t.toml", &text)]).unwrap();
    let w = |n: &str| id_of(&set, n);
    assert_eq!(w("x.b.example.com").as_deref(), Some("t-04"), "exact first");
    assert_eq!(
        w("abc.b.example.com").as_deref(),
        Some("t-05"),
        "more literal characters"
    );
    assert_eq!(
        w("az.b.example.com").as_deref(),
        Some("t-06"),
        "tie on a*/*z: smaller id"
    );
    assert_eq!(w("ay.b.example.com").as_deref(), Some("t-07"));
    assert_eq!(
        w("q.b.example.com").as_deref(),
        Some("t-08"),
        "more pinned labels"
    );
    assert_eq!(w("b.example.com").as_deref(), Some("t-09"));
    assert_eq!(
        w("q.r.b.example.com").as_deref(),
        Some("t-08"),
        "in-label pins the depth"
    );
    // The order of rules in the file does not change the outcome.
    let reversed = pack(&[
        ("t-04", "x.b.example.com"),
        ("t-05", "ab*.b.example.com"),
        ("t-06", "*z.b.example.com"),
        ("t-07", "a*.b.example.com"),
        ("t-08", "*.b.example.com"),
        ("t-09", "*.example.com"),
    ]);
    let set2 = SignatureSet::from_sources(&[("t.toml", &reversed)]).unwrap();
    for n in [
        "x.b.example.com",
        "abc.b.example.com",
        "az.b.example.com",
        "q.b.example.com",
    ] {
        assert_eq!(id_of(&set2, n), w(n), "{n}");
    }
}

// ---------------------------------------------------------------------------
// Differential: the compiled matcher against the brute-force reference.

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A name near `pattern`: wildcards filled with random labels, then a
/// random edit (case, dots, prefix/suffix junk, byte flips, truncation).
fn near_name(rng: &mut Rng, pattern: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"abkz09-_.*KSN\xff\0";
    let fill = |rng: &mut Rng, dots: bool| -> Vec<u8> {
        let len = rng.below(6);
        (0..len)
            .map(|_| {
                let b = ALPHABET[rng.below(ALPHABET.len())];
                if b == b'.' && !dots { b'q' } else { b }
            })
            .collect()
    };
    let mut name = Vec::new();
    for &b in pattern.as_bytes() {
        if b == b'*' {
            let dots = pattern.starts_with("*.");
            name.extend(fill(rng, dots));
        } else {
            name.push(b);
        }
    }
    match rng.below(12) {
        0 => name.make_ascii_uppercase(),
        1 => name.push(b'.'),
        2 => name.extend_from_slice(b".."),
        3 => {
            let mut pre = fill(rng, true);
            pre.extend_from_slice(&name);
            name = pre;
        }
        4 => name.extend(fill(rng, true)),
        5 if !name.is_empty() => {
            let i = rng.below(name.len());
            name[i] = ALPHABET[rng.below(ALPHABET.len())];
        }
        6 if !name.is_empty() => {
            let i = rng.below(name.len());
            name.truncate(i);
        }
        7 if !name.is_empty() => {
            let i = rng.below(name.len());
            name.remove(i);
        }
        8 => name.insert(0, b'.'),
        _ => {}
    }
    name
}

fn differential(set: &SignatureSet, cases: usize, seed: u64) {
    let mut rng = Rng(seed);
    let patterns: Vec<String> = set.rules().iter().map(|r| r.pattern.clone()).collect();
    let mut matched = 0usize;
    for _ in 0..cases {
        let p = &patterns[rng.below(patterns.len())];
        let name = near_name(&mut rng, p);
        let fast = set.match_name(&name).map(|r| r.id.as_str());
        let slow = match_name_slow(set.rules(), &name).map(|r| r.id.as_str());
        assert_eq!(fast, slow, "name {:?}", String::from_utf8_lossy(&name));
        matched += usize::from(fast.is_some());
    }
    // The generator must exercise both outcomes, or the test proves nothing.
    assert!(
        matched > cases / 10 && matched < cases * 9 / 10,
        "matched {matched}/{cases}"
    );
}

#[test]
fn differential_against_reference_on_the_real_pack() {
    differential(&builtin(), 200_000, 0x9e37_79b9_7f4a_7c15);
}

#[test]
fn differential_against_reference_on_overlapping_wildcards() {
    let text = pack(&[
        ("w-1", "*.k.com"),
        ("w-2", "*.a.k.com"),
        ("w-3", "a*.k.com"),
        ("w-4", "*a.k.com"),
        ("w-5", "a*a.k.com"),
        ("w-6", "ab*.a.k.com"),
        ("w-7", "*b.a.k.com"),
        ("w-8", "a.k.com"),
        ("w-9", "aa.a.k.com"),
        ("w-0", "k*.a.k.com"),
    ]);
    let set = SignatureSet::from_sources(&[("w.toml", &text)]).unwrap();
    differential(&set, 100_000, 42);
}

// ---------------------------------------------------------------------------
// Real names from the corpus: no Kaspersky traffic there, so nothing may
// match, and the reference agrees on every name.

fn corpus_names() -> Vec<String> {
    let dir = Path::new(ROOT).join("tests/corpus/expected");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e} (the corpus is part of the repository)",
                dir.display()
            )
        })
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 100, "corpus has {} files", files.len());
    let mut names = Vec::new();
    for f in files {
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&f).unwrap()).unwrap();
        for (list, key) in [
            ("dns_queries", "name"),
            ("tls_sni", "sni"),
            ("http_host", "host"),
            ("quic_sni", "sni"),
        ] {
            for item in v[list].as_array().into_iter().flatten() {
                // Keys differ per list; take the first string field that
                // looks like the name.
                let name = item
                    .get(key)
                    .or_else(|| item.get("name"))
                    .or_else(|| item.get("server_name"))
                    .and_then(|n| n.as_str());
                if let Some(n) = name {
                    names.push(n.to_string());
                }
            }
        }
    }
    names
}

#[test]
fn corpus_names_do_not_match_and_agree_with_reference() {
    let names = corpus_names();
    assert!(
        names.len() > 200,
        "only {} names read: key names changed?",
        names.len()
    );
    let set = builtin();
    for n in &names {
        let fast = set.match_name(n.as_bytes()).map(|r| r.id.as_str());
        let slow = match_name_slow(set.rules(), n.as_bytes()).map(|r| r.id.as_str());
        assert_eq!(fast, slow, "{n:?}");
        assert_eq!(fast, None, "corpus name {n:?} matched");
        // Upper-cased and dotted variants must not change anything either.
        let upper = format!("{}.", n.to_ascii_uppercase());
        assert_eq!(set.match_name(upper.as_bytes()), None, "{upper:?}");
    }
}

// ---------------------------------------------------------------------------
// Loading and `check`.

struct TempDir(PathBuf);
impl TempDir {
    fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("phonehome-sig-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn errors_of(r: Result<SignatureSet, phonehome::signatures::LoadErrors>) -> Vec<PackError> {
    match r {
        Ok(_) => panic!("expected load errors"),
        Err(e) => e.0,
    }
}

#[test]
fn directory_packs_load_sorted_after_the_builtin() {
    let dir = TempDir::new("dir");
    dir.write(
        "b.toml",
        &pack(&[("b-1", "*.b.example")]).replace("vendor = \"t\"", "vendor = \"bee\""),
    );
    dir.write(
        "a.toml",
        &pack(&[("a-1", "a.example"), ("a-2", "*.a.example")]),
    );
    dir.write("ignored.txt", "not a pack");
    let set = SignatureSet::load(true, std::slice::from_ref(&dir.0)).unwrap();
    let vendors: Vec<&str> = set.packs().iter().map(|p| p.vendor.as_str()).collect();
    assert_eq!(vendors, ["kaspersky", "t", "bee"]);
    assert_eq!(set.rules().len(), 180 + 3);
    assert_eq!(id_of(&set, "x.b.example").as_deref(), Some("b-1"));
    assert_eq!(set.match_name(b"x.b.example").unwrap().vendor, "bee");
    assert_eq!(id_of(&set, "a.example").as_deref(), Some("a-1"));
    assert_eq!(
        id_of(&set, "s00.upd.kaspersky.com").as_deref(),
        Some("kaspersky-dns-0001")
    );

    // Without the default pack, only the directory's rules.
    let set = SignatureSet::load(false, std::slice::from_ref(&dir.0)).unwrap();
    assert_eq!(set.rules().len(), 3);
    assert_eq!(id_of(&set, "s00.upd.kaspersky.com"), None);
}

#[test]
fn conflicts_between_packs_name_both_places() {
    let dir = TempDir::new("conflict");
    // Line numbers: HEADER is 5 lines and each domain() block is 8 lines
    // starting with a blank one: rule k has its id on line 8 + 8k and its
    // pattern on line 9 + 8k.
    let a = dir.write(
        "a.toml",
        &pack(&[("x-1", "dup.example.com"), ("x-2", "*.example.org")]),
    );
    let b = dir.write(
        "b.toml",
        &pack(&[("x-1", "other.example.com"), ("y-2", "*.EXAMPLE.org.")]),
    );
    let errors = errors_of(SignatureSet::load(false, &[a.clone(), b.clone()]));
    let msgs: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(msgs.len(), 2, "{msgs:#?}");
    let (a, b) = (a.display().to_string(), b.display().to_string());
    assert_eq!(
        msgs[0],
        format!("{b}:8: duplicate id `x-1` (first defined at {a}:8)")
    );
    assert_eq!(
        msgs[1],
        format!("{b}:17: duplicate pattern `*.example.org` (first defined at {a}:17)")
    );

    // The embedded pack given again as a file conflicts with itself.
    let builtin_file = Path::new(ROOT).join("signatures/kaspersky.toml");
    let errors = errors_of(SignatureSet::load(true, &[builtin_file]));
    assert!(errors.len() > 180, "every id, pattern and indicator twice");
    assert!(
        errors[0]
            .to_string()
            .contains("(first defined at <builtin>/kaspersky.toml:"),
        "{}",
        errors[0]
    );
}

#[test]
fn unreadable_and_empty_paths_are_errors() {
    let dir = TempDir::new("empty");
    let errors = errors_of(SignatureSet::load(false, std::slice::from_ref(&dir.0)));
    assert!(
        matches!(errors[..], [PackError::EmptyDirectory { .. }]),
        "{errors:?}"
    );
    let missing = dir.0.join("missing.toml");
    let errors = errors_of(SignatureSet::load(false, &[missing]));
    assert!(matches!(errors[..], [PackError::Read { .. }]), "{errors:?}");
}

#[test]
fn check_prints_ok_or_every_error_with_its_line() {
    let dir = TempDir::new("check");
    let good = dir.write(
        "good.toml",
        &pack(&[("g-1", "a.example"), ("g-2", "*.b.example")]),
    );
    let mut out = Vec::new();
    assert!(cli::check(false, std::slice::from_ref(&good), &mut out).unwrap());
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "OK: 2 rules in 1 packs (2 domain, 0 ip, 0 port)\n"
    );

    let mut out = Vec::new();
    assert!(cli::check(true, &[], &mut out).unwrap());
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "OK: 207 rules in 1 packs (180 domain, 16 ip, 11 port)\n"
    );

    // One rule per broken field; each error must point at its own line.
    let mut text = HEADER.to_string();
    text.push_str(&domain("bad-1", "*")); // pattern on line 9
    text.push_str(&domain("bad-2", "a.*.b")); // line 17
    text.push_str(&domain("bad-3", "a..b")); // line 25
    text.push_str(&domain("bad-4", "ok4.example").replace("\"low\"", "\"certain\"")); // confidence, line 35
    // A rejected row still claims its id: line 40 duplicates line 8.
    text.push_str(&domain("bad-1", "ok2.example"));
    text.push_str(&domain("bad-6", "OK.example."));
    text.push_str(&domain("bad-7", "ok.example")); // duplicate pattern, line 57
    let bad = dir.write("bad.toml", &text);
    let mut out = Vec::new();
    assert!(!cli::check(false, std::slice::from_ref(&bad), &mut out).unwrap());
    let out = String::from_utf8(out).unwrap();
    let b = bad.display().to_string();
    let expected = [
        format!("{b}:9: invalid pattern `*`: '*' alone would match every name"),
        format!("{b}:17: invalid pattern `a.*.b`: '*' is only allowed in the leftmost label"),
        format!(
            "{b}:25: invalid pattern `a..b`: empty label (two dots in a row, or a leading dot)"
        ),
        format!("{b}:35: bad confidence `certain` (expected low, medium or high)"),
        format!("{b}:40: duplicate id `bad-1` (first defined at {b}:8)"),
        format!("{b}:57: duplicate pattern `ok.example` (first defined at {b}:49)"),
        "6 error(s)".to_string(),
    ];
    let got: Vec<&str> = out.lines().collect();
    assert_eq!(
        got,
        expected.iter().map(String::as_str).collect::<Vec<_>>(),
        "{out}"
    );
}

// ---------------------------------------------------------------------------
// `list` and `export`.

#[test]
fn list_table_and_json() {
    let set = builtin();
    let mut out = Vec::new();
    cli::list(&set, false, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["ID", "PATTERN", "CATEGORY", "CONFIDENCE", "VENDOR"]
    );
    let first: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        first,
        [
            "kaspersky-dns-0001",
            "s00.upd.kaspersky.com",
            "update",
            "high",
            "kaspersky"
        ]
    );
    assert!(text.contains("kaspersky-ip-0001"));
    assert!(text.contains("kaspersky-port-0008"));
    assert!(text.contains("23100-23199"));

    let mut out = Vec::new();
    cli::list(&set, true, &mut out).unwrap();
    let objs: Vec<serde_json::Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object a line"))
        .collect();
    assert_eq!(objs.len(), set.len());
    let glob = objs
        .iter()
        .find(|o| o["pattern"] == "ksn-*-geo.kaspersky-labs.com")
        .unwrap();
    assert_eq!(glob["kind"], "in_label");
    assert_eq!(glob["table"], "domain");
    assert_eq!(objs.iter().filter(|o| o["table"] == "port").count(), 11);
}

fn export(set: &SignatureSet, f: ExportFormat) -> String {
    let mut out = Vec::new();
    cli::export(set, f, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

/// Split a Suricata rule body into `keyword[:value]` options, honouring
/// quotes and backslash escapes: a structural parse that fails on
/// unbalanced quotes or a missing `;`.
fn suricata_options(body: &str) -> Vec<(String, Option<String>)> {
    let mut opts = Vec::new();
    let mut cur = String::new();
    let (mut in_quotes, mut escaped) = (false, false);
    for c in body.chars() {
        if escaped {
            cur.push(c);
            escaped = false;
            continue;
        }
        match c {
            '\\' => {
                escaped = true;
                cur.push(c);
            }
            '"' => {
                in_quotes = !in_quotes;
                cur.push(c);
            }
            ';' if !in_quotes => {
                let t = cur.trim().to_string();
                let (k, v) = match t.split_once(':') {
                    Some((k, v)) => (k.trim().to_string(), Some(v.trim().to_string())),
                    None => (t.clone(), None),
                };
                opts.push((k, v));
                cur.clear();
            }
            _ => cur.push(c),
        }
    }
    assert!(!in_quotes, "unbalanced quotes in {body}");
    assert!(cur.trim().is_empty(), "trailing text without ';' in {body}");
    opts
}

#[test]
fn suricata_export_is_well_formed() {
    let set = builtin();
    let text = export(&set, ExportFormat::Suricata);
    let mut sids = HashSet::new();
    let mut per_proto: HashMap<String, usize> = HashMap::new();
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let (head, rest) = line.split_once(" (").expect("header ( options )");
        let body = rest.strip_suffix(')').expect("ends with )");
        let head: Vec<&str> = head.split(' ').collect();
        assert_eq!(head.len(), 7, "{line}");
        assert_eq!(head[0], "alert");
        assert_eq!(&head[2..], ["any", "any", "->", "any", "any"]);
        *per_proto.entry(head[1].to_string()).or_default() += 1;
        let opts = suricata_options(body);
        let keys: Vec<&str> = opts.iter().map(|(k, _)| k.as_str()).collect();
        let sid: u64 = opts
            .iter()
            .find(|(k, _)| k == "sid")
            .unwrap()
            .1
            .as_ref()
            .unwrap()
            .parse()
            .unwrap();
        assert!(sids.insert(sid), "duplicate sid {sid}");
        assert!(
            keys.contains(&"msg") && keys.contains(&"rev") && keys.contains(&"content"),
            "{line}"
        );
        let buffer = match head[1] {
            "dns" => "dns.query",
            "tls" => "tls.sni",
            "http" => "http.host",
            "quic" => "quic.sni",
            p => panic!("protocol {p}"),
        };
        assert_eq!(keys[1], buffer, "sticky buffer right after msg: {line}");
        assert!(
            !keys.contains(&"dotprefix"),
            "dotprefix would also match the base name"
        );
        if head[1] == "http" {
            assert!(
                !keys.contains(&"nocase"),
                "http.host is lowercase already: {line}"
            );
        }
    }
    for p in ["dns", "tls", "http", "quic"] {
        assert_eq!(per_proto[p], set.rules().len(), "{p}");
    }
    assert!(sids.iter().all(|&s| (9_000_000..10_000_000).contains(&s)));

    let line_for = |pattern: &str, proto: &str| -> String {
        let needle = format!(" {pattern} (");
        text.lines()
            .find(|l| l.starts_with(&format!("alert {proto} ")) && l.contains(&needle))
            .unwrap_or_else(|| panic!("no {proto} rule for {pattern}"))
            .to_string()
    };
    let exact = line_for("kaspersky.com", "dns");
    assert!(
        exact.contains("dns.query; bsize:13; content:\"kaspersky.com\"; nocase;"),
        "{exact}"
    );
    let suffix = line_for("*.upd.kaspersky.com", "tls");
    assert!(
        suffix.contains("tls.sni; content:\".upd.kaspersky.com\"; nocase; endswith;"),
        "{suffix}"
    );
    let glob = line_for("ksn-*-geo.kaspersky-labs.com", "quic");
    assert!(
        glob.contains(
            "quic.sni; content:\"ksn-\"; nocase; startswith; content:\"-geo.kaspersky-labs.com\"; \
             nocase; endswith; pcre:\"/^ksn-[^.]+-geo\\.kaspersky-labs\\.com$/i\";"
        ),
        "{glob}"
    );
    assert!(line_for("ksn-*-geo.kaspersky-labs.com", "http").contains("$/\";"));
    assert!(
        exact.contains("metadata:phonehome_id kaspersky-dns-"),
        "{exact}"
    );
}

#[test]
fn suricata_pcre_matches_like_the_matcher() {
    // The exported regex, interpreted by hand on a few names: `[^.]+` must
    // stand for the same thing as the matcher's in-label `*`.
    let set = builtin();
    for (name, want) in [
        ("ksn-x-geo.kaspersky-labs.com", true),
        ("ksn--geo.kaspersky-labs.com", false),
        ("ksn-a.b-geo.kaspersky-labs.com", false),
    ] {
        let got = set
            .match_name(name.as_bytes())
            .is_some_and(|r| r.pattern == "ksn-*-geo.kaspersky-labs.com");
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn zeek_intel_export_is_well_formed_and_says_what_it_loses() {
    let set = builtin();
    let text = export(&set, ExportFormat::ZeekIntel);
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc")
    );
    assert!(text.contains("Zeek intel matches exact names only"));
    assert!(text.contains("coverage is lost"));
    let mut indicators = HashSet::new();
    for line in lines.filter(|l| !l.starts_with('#')) {
        let f: Vec<&str> = line.split('\t').collect();
        assert_eq!(f.len(), 4, "{line:?}");
        assert!(!f.iter().any(|x| x.is_empty()), "empty field in {line:?}");
        assert_eq!(f[1], "Intel::DOMAIN");
        assert!(!f[0].contains('*'), "{line}");
        assert!(f[2].starts_with("phonehome:kaspersky-dns-"));
        assert!(
            indicators.insert(f[0].to_string()),
            "duplicate indicator {}",
            f[0]
        );
    }
    // Exact names are there as is; `*.upd.kaspersky.com` becomes its base
    // name; `*.kaspersky.com` does not duplicate the exact `kaspersky.com`.
    assert!(indicators.contains("s00.upd.kaspersky.com"));
    assert!(indicators.contains("upd.kaspersky.com"));
    assert!(indicators.contains("kaspersky.com"));
    assert!(text.contains("# kaspersky-dns-0180 ksn-*-geo.kaspersky-labs.com: not expressible"));
    let exact = set
        .rules()
        .iter()
        .filter(|r| r.kind() == PatternKind::Exact)
        .count();
    assert!(
        indicators.len() > exact,
        "exact names plus suffix base names"
    );
}

#[test]
fn plain_export_is_one_pattern_per_line() {
    let set = builtin();
    let text = export(&set, ExportFormat::Plain);
    let lines: Vec<&str> = text.lines().collect();
    let patterns: Vec<&str> = set.rules().iter().map(|r| r.pattern.as_str()).collect();
    assert_eq!(lines, patterns);
    assert_eq!(
        "zeek-intel".parse::<ExportFormat>(),
        Ok(ExportFormat::ZeekIntel)
    );
    assert!("snort".parse::<ExportFormat>().is_err());
}
