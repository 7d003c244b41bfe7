//! Which generated names are Kaspersky names, and by which row of the
//! research table `signatures/research/kaspersky/domains.tsv` (pattern,
//! category, confidence; 179 rows). The signature pack is built from the
//! same table with one rule per row, so the truth file can say exactly which
//! rule must fire for each name.
//!
//! Matching semantics written into the truth (the "most specific rule", as
//! `SignatureSet::match_name` documents): case-insensitive, one trailing dot
//! ignored; an exact pattern wins; otherwise the `*.suffix` pattern with the
//! longest suffix that the name ends with after a dot (`*.x.com` matches
//! `a.x.com` and `a.b.x.com`, not `x.com` and not `evilx.com`).

use crate::signatures::Confidence;

/// One row of the research table (its first three columns).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Row {
    pub pattern: &'static str,
    pub category: &'static str,
    pub confidence: Confidence,
}

/// The rows of domains.tsv, in file order (copied verbatim: pattern,
/// category, confidence; the test `table_matches_research_tsv` compares).
pub const ROWS: &[Row] = &[
    Row {
        pattern: "s00.upd.kaspersky.com",
        category: "update",
        confidence: Confidence::High,
    },
    Row {
        pattern: "s01.upd.kaspersky.com",
        category: "update",
        confidence: Confidence::High,
    },
    Row {
        pattern: "s02.upd.kaspersky.com",
        category: "update",
        confidence: Confidence::High,
    },
    Row {
        pattern: "s03.upd.kaspersky.com",
        category: "update",
        confidence: Confidence::High,
    },
    Row {
        pattern: "s04.upd.kaspersky.com",
        category: "update",
        confidence: Confidence::High,
    },
    Row {
        pattern: "s05.upd.kaspersky.com",
        category: "update",
        confidence: Confidence::High,
    },
    Row {
        pattern: "s06.upd.kaspersky.com",
        category: "update",
        confidence: Confidence::High,
    },
    Row {
        pattern: "s07.upd.kaspersky.com",
        category: "update",
        confidence: Confidence::High,
    },
    Row {
        pattern: "s08.upd.kaspersky.com",
        category: "update",
        confidence: Confidence::High,
    },
    Row {
        pattern: "s09.upd.kaspersky.com",
        category: "update",
        confidence: Confidence::High,
    },
    Row {
        pattern: "s10.upd.kaspersky.com",
        category: "update",
        confidence: Confidence::High,
    },
    Row {
        pattern: "s11.upd.kaspersky.com",
        category: "update",
        confidence: Confidence::High,
    },
    Row {
        pattern: "s12.upd.kaspersky.com",
        category: "update",
        confidence: Confidence::High,
    },
    Row {
        pattern: "s13.upd.kaspersky.com",
        category: "update",
        confidence: Confidence::High,
    },
    Row {
        pattern: "s14.upd.kaspersky.com",
        category: "update",
        confidence: Confidence::High,
    },
    Row {
        pattern: "s15.upd.kaspersky.com",
        category: "update",
        confidence: Confidence::High,
    },
    Row {
        pattern: "s16.upd.kaspersky.com",
        category: "update",
        confidence: Confidence::High,
    },
    Row {
        pattern: "s17.upd.kaspersky.com",
        category: "update",
        confidence: Confidence::High,
    },
    Row {
        pattern: "s18.upd.kaspersky.com",
        category: "update",
        confidence: Confidence::High,
    },
    Row {
        pattern: "s19.upd.kaspersky.com",
        category: "update",
        confidence: Confidence::High,
    },
    Row {
        pattern: "cm.k.kaspersky-labs.com",
        category: "update",
        confidence: Confidence::High,
    },
    Row {
        pattern: "downloads.upd.kaspersky.com",
        category: "update",
        confidence: Confidence::High,
    },
    Row {
        pattern: "p00.upd.kaspersky.com",
        category: "update",
        confidence: Confidence::High,
    },
    Row {
        pattern: "p01.upd.kaspersky.com",
        category: "update",
        confidence: Confidence::High,
    },
    Row {
        pattern: "p02.upd.kaspersky.com",
        category: "update",
        confidence: Confidence::High,
    },
    Row {
        pattern: "p03.upd.kaspersky.com",
        category: "update",
        confidence: Confidence::High,
    },
    Row {
        pattern: "p04.upd.kaspersky.com",
        category: "update",
        confidence: Confidence::High,
    },
    Row {
        pattern: "p05.upd.kaspersky.com",
        category: "update",
        confidence: Confidence::High,
    },
    Row {
        pattern: "p06.upd.kaspersky.com",
        category: "update",
        confidence: Confidence::High,
    },
    Row {
        pattern: "p07.upd.kaspersky.com",
        category: "update",
        confidence: Confidence::High,
    },
    Row {
        pattern: "p08.upd.kaspersky.com",
        category: "update",
        confidence: Confidence::High,
    },
    Row {
        pattern: "p09.upd.kaspersky.com",
        category: "update",
        confidence: Confidence::High,
    },
    Row {
        pattern: "p10.upd.kaspersky.com",
        category: "update",
        confidence: Confidence::High,
    },
    Row {
        pattern: "p11.upd.kaspersky.com",
        category: "update",
        confidence: Confidence::High,
    },
    Row {
        pattern: "p12.upd.kaspersky.com",
        category: "update",
        confidence: Confidence::High,
    },
    Row {
        pattern: "p13.upd.kaspersky.com",
        category: "update",
        confidence: Confidence::High,
    },
    Row {
        pattern: "p14.upd.kaspersky.com",
        category: "update",
        confidence: Confidence::High,
    },
    Row {
        pattern: "p15.upd.kaspersky.com",
        category: "update",
        confidence: Confidence::High,
    },
    Row {
        pattern: "p16.upd.kaspersky.com",
        category: "update",
        confidence: Confidence::High,
    },
    Row {
        pattern: "p17.upd.kaspersky.com",
        category: "update",
        confidence: Confidence::High,
    },
    Row {
        pattern: "p18.upd.kaspersky.com",
        category: "update",
        confidence: Confidence::High,
    },
    Row {
        pattern: "p19.upd.kaspersky.com",
        category: "update",
        confidence: Confidence::High,
    },
    Row {
        pattern: "*.upd.kaspersky.com",
        category: "update",
        confidence: Confidence::High,
    },
    Row {
        pattern: "dnl-00.geo.kaspersky.com",
        category: "update",
        confidence: Confidence::High,
    },
    Row {
        pattern: "dnl-01.geo.kaspersky.com",
        category: "update",
        confidence: Confidence::High,
    },
    Row {
        pattern: "dnl-02.geo.kaspersky.com",
        category: "update",
        confidence: Confidence::High,
    },
    Row {
        pattern: "dnl-03.geo.kaspersky.com",
        category: "update",
        confidence: Confidence::High,
    },
    Row {
        pattern: "dnl-04.geo.kaspersky.com",
        category: "update",
        confidence: Confidence::High,
    },
    Row {
        pattern: "dnl-05.geo.kaspersky.com",
        category: "update",
        confidence: Confidence::High,
    },
    Row {
        pattern: "dnl-06.geo.kaspersky.com",
        category: "update",
        confidence: Confidence::High,
    },
    Row {
        pattern: "dnl-07.geo.kaspersky.com",
        category: "update",
        confidence: Confidence::High,
    },
    Row {
        pattern: "dnl-08.geo.kaspersky.com",
        category: "update",
        confidence: Confidence::High,
    },
    Row {
        pattern: "dnl-09.geo.kaspersky.com",
        category: "update",
        confidence: Confidence::High,
    },
    Row {
        pattern: "dnl-10.geo.kaspersky.com",
        category: "update",
        confidence: Confidence::High,
    },
    Row {
        pattern: "dnl-11.geo.kaspersky.com",
        category: "update",
        confidence: Confidence::High,
    },
    Row {
        pattern: "dnl-12.geo.kaspersky.com",
        category: "update",
        confidence: Confidence::High,
    },
    Row {
        pattern: "dnl-13.geo.kaspersky.com",
        category: "update",
        confidence: Confidence::High,
    },
    Row {
        pattern: "dnl-14.geo.kaspersky.com",
        category: "update",
        confidence: Confidence::High,
    },
    Row {
        pattern: "dnl-15.geo.kaspersky.com",
        category: "update",
        confidence: Confidence::High,
    },
    Row {
        pattern: "dnl-16.geo.kaspersky.com",
        category: "update",
        confidence: Confidence::High,
    },
    Row {
        pattern: "dnl-17.geo.kaspersky.com",
        category: "update",
        confidence: Confidence::High,
    },
    Row {
        pattern: "dnl-18.geo.kaspersky.com",
        category: "update",
        confidence: Confidence::High,
    },
    Row {
        pattern: "dnl-19.geo.kaspersky.com",
        category: "update",
        confidence: Confidence::High,
    },
    Row {
        pattern: "*.geo.kaspersky.com",
        category: "update",
        confidence: Confidence::High,
    },
    Row {
        pattern: "edge.geo.kaspersky.com",
        category: "update",
        confidence: Confidence::High,
    },
    Row {
        pattern: "downloads2.kaspersky-labs.com",
        category: "update",
        confidence: Confidence::High,
    },
    Row {
        pattern: "downloads.kaspersky-labs.com",
        category: "update",
        confidence: Confidence::Medium,
    },
    Row {
        pattern: "products.s.kaspersky-labs.com",
        category: "update",
        confidence: Confidence::Medium,
    },
    Row {
        pattern: "*.ksn.kaspersky-labs.com",
        category: "telemetry_ksn",
        confidence: Confidence::High,
    },
    Row {
        pattern: "dc1.ksn.kaspersky-labs.com",
        category: "telemetry_ksn",
        confidence: Confidence::High,
    },
    Row {
        pattern: "dc1-cert.ksn.kaspersky-labs.com",
        category: "telemetry_ksn",
        confidence: Confidence::High,
    },
    Row {
        pattern: "dc1-file.ksn.kaspersky-labs.com",
        category: "telemetry_ksn",
        confidence: Confidence::High,
    },
    Row {
        pattern: "dc1-pp.ksn.kaspersky-labs.com",
        category: "telemetry_ksn",
        confidence: Confidence::High,
    },
    Row {
        pattern: "dc1-st.ksn.kaspersky-labs.com",
        category: "telemetry_ksn",
        confidence: Confidence::High,
    },
    Row {
        pattern: "mdr.ksn.kaspersky-labs.com",
        category: "telemetry_ksn",
        confidence: Confidence::High,
    },
    Row {
        pattern: "ppt-issuer.ksn.kaspersky-labs.com",
        category: "telemetry_ksn",
        confidence: Confidence::Medium,
    },
    Row {
        pattern: "ksn-cinfo-geo.kaspersky-labs.com",
        category: "telemetry_ksn",
        confidence: Confidence::High,
    },
    Row {
        pattern: "ksn-file-geo.kaspersky-labs.com",
        category: "telemetry_ksn",
        confidence: Confidence::High,
    },
    Row {
        pattern: "ksn-url-geo.kaspersky-labs.com",
        category: "telemetry_ksn",
        confidence: Confidence::High,
    },
    Row {
        pattern: "ksn-verdict-geo.kaspersky-labs.com",
        category: "telemetry_ksn",
        confidence: Confidence::High,
    },
    Row {
        pattern: "ksn-info-geo.kaspersky-labs.com",
        category: "telemetry_ksn",
        confidence: Confidence::High,
    },
    Row {
        pattern: "ksn-tcert-geo.kaspersky-labs.com",
        category: "telemetry_ksn",
        confidence: Confidence::High,
    },
    Row {
        pattern: "ksn-crypto-info-geo.kaspersky-labs.com",
        category: "telemetry_ksn",
        confidence: Confidence::High,
    },
    Row {
        pattern: "ksn-crypto-kas-geo.kaspersky-labs.com",
        category: "telemetry_ksn",
        confidence: Confidence::High,
    },
    Row {
        pattern: "ksn-crypto-tcert-geo.kaspersky-labs.com",
        category: "telemetry_ksn",
        confidence: Confidence::High,
    },
    Row {
        pattern: "ksn-crypto-url-geo.kaspersky-labs.com",
        category: "telemetry_ksn",
        confidence: Confidence::High,
    },
    Row {
        pattern: "ksn-crypto-verdict-geo.kaspersky-labs.com",
        category: "telemetry_ksn",
        confidence: Confidence::High,
    },
    Row {
        pattern: "ksn-crypto-wifiplus-geo.kaspersky-labs.com",
        category: "telemetry_ksn",
        confidence: Confidence::High,
    },
    Row {
        pattern: "ksn-stat-geo.kaspersky-labs.com",
        category: "telemetry_ksn",
        confidence: Confidence::High,
    },
    Row {
        pattern: "*.geoksn.kaspersky.com",
        category: "telemetry_ksn",
        confidence: Confidence::High,
    },
    Row {
        pattern: "ksn-cinfo.geoksn.kaspersky.com",
        category: "telemetry_ksn",
        confidence: Confidence::High,
    },
    Row {
        pattern: "ksn-dc1.geoksn.kaspersky.com",
        category: "telemetry_ksn",
        confidence: Confidence::High,
    },
    Row {
        pattern: "ksn-dc1-cert.geoksn.kaspersky.com",
        category: "telemetry_ksn",
        confidence: Confidence::High,
    },
    Row {
        pattern: "ksn-dc1-file.geoksn.kaspersky.com",
        category: "telemetry_ksn",
        confidence: Confidence::High,
    },
    Row {
        pattern: "ksn-file.geoksn.kaspersky.com",
        category: "telemetry_ksn",
        confidence: Confidence::High,
    },
    Row {
        pattern: "ksn-info.geoksn.kaspersky.com",
        category: "telemetry_ksn",
        confidence: Confidence::High,
    },
    Row {
        pattern: "ksn-kas.geoksn.kaspersky.com",
        category: "telemetry_ksn",
        confidence: Confidence::High,
    },
    Row {
        pattern: "ksn-mdr.geoksn.kaspersky.com",
        category: "telemetry_ksn",
        confidence: Confidence::High,
    },
    Row {
        pattern: "ksn-tcert.geoksn.kaspersky.com",
        category: "telemetry_ksn",
        confidence: Confidence::High,
    },
    Row {
        pattern: "ksn-url.geoksn.kaspersky.com",
        category: "telemetry_ksn",
        confidence: Confidence::High,
    },
    Row {
        pattern: "ksn-verdict.geoksn.kaspersky.com",
        category: "telemetry_ksn",
        confidence: Confidence::High,
    },
    Row {
        pattern: "ksn-crypto-wifiplus.geoksn.kaspersky.com",
        category: "telemetry_ksn",
        confidence: Confidence::High,
    },
    Row {
        pattern: "ds.kaspersky.com",
        category: "telemetry_ksn",
        confidence: Confidence::Medium,
    },
    Row {
        pattern: "statistic.content.ipm-klca.kaspersky.com",
        category: "telemetry_ksn",
        confidence: Confidence::High,
    },
    Row {
        pattern: "activation-v2.kaspersky.com",
        category: "activation_licensing",
        confidence: Confidence::High,
    },
    Row {
        pattern: "*.activation-v2.kaspersky.com",
        category: "activation_licensing",
        confidence: Confidence::High,
    },
    Row {
        pattern: "activate.activation-v2.kaspersky.com",
        category: "activation_licensing",
        confidence: Confidence::High,
    },
    Row {
        pattern: "refresh-bkg.activation-v2.kaspersky.com",
        category: "activation_licensing",
        confidence: Confidence::High,
    },
    Row {
        pattern: "activation-v2.geo.kaspersky.com",
        category: "activation_licensing",
        confidence: Confidence::High,
    },
    Row {
        pattern: "activation.kaspersky.com",
        category: "activation_licensing",
        confidence: Confidence::Low,
    },
    Row {
        pattern: "keyfile.kaspersky.com",
        category: "activation_licensing",
        confidence: Confidence::Low,
    },
    Row {
        pattern: "*.ksc.kaspersky.com",
        category: "management_console",
        confidence: Confidence::High,
    },
    Row {
        pattern: "*.cloud.kaspersky.com",
        category: "management_console",
        confidence: Confidence::Medium,
    },
    Row {
        pattern: "cloud.kaspersky.com",
        category: "web_portal",
        confidence: Confidence::Low,
    },
    Row {
        pattern: "ksos.kaspersky.com",
        category: "web_portal",
        confidence: Confidence::Low,
    },
    Row {
        pattern: "crl.kaspersky.com",
        category: "pki_ocsp_crl",
        confidence: Confidence::Medium,
    },
    Row {
        pattern: "touch.kaspersky.com",
        category: "product_service",
        confidence: Confidence::High,
    },
    Row {
        pattern: "*.scr.kaspersky-labs.com",
        category: "product_service",
        confidence: Confidence::Medium,
    },
    Row {
        pattern: "gc.kis.v2.scr.kaspersky-labs.com",
        category: "product_service",
        confidence: Confidence::Medium,
    },
    Row {
        pattern: "ff.kis.v2.scr.kaspersky-labs.com",
        category: "product_service",
        confidence: Confidence::Medium,
    },
    Row {
        pattern: "me.kis.v2.scr.kaspersky-labs.com",
        category: "product_service",
        confidence: Confidence::Medium,
    },
    Row {
        pattern: "gc.kis.scr.kaspersky-labs.com",
        category: "product_service",
        confidence: Confidence::Medium,
    },
    Row {
        pattern: "*.ucp-ntfy.kaspersky-labs.com",
        category: "product_service",
        confidence: Confidence::Medium,
    },
    Row {
        pattern: "hq.uis.kaspersky.com",
        category: "web_portal",
        confidence: Confidence::Medium,
    },
    Row {
        pattern: "center.kaspersky.com",
        category: "web_portal",
        confidence: Confidence::Low,
    },
    Row {
        pattern: "my.kaspersky.com",
        category: "web_portal",
        confidence: Confidence::Low,
    },
    Row {
        pattern: "kavdumps.kaspersky.com",
        category: "other",
        confidence: Confidence::Medium,
    },
    Row {
        pattern: "allowlist.kaspersky-labs.com",
        category: "other",
        confidence: Confidence::Low,
    },
    Row {
        pattern: "*.kaspersky-labs.com",
        category: "other",
        confidence: Confidence::Medium,
    },
    Row {
        pattern: "*.kaspersky.com",
        category: "website_browsing",
        confidence: Confidence::Low,
    },
    Row {
        pattern: "www.kaspersky.com",
        category: "website_browsing",
        confidence: Confidence::Low,
    },
    Row {
        pattern: "kaspersky.com",
        category: "website_browsing",
        confidence: Confidence::Low,
    },
    Row {
        pattern: "usa.kaspersky.com",
        category: "website_browsing",
        confidence: Confidence::Low,
    },
    Row {
        pattern: "support.kaspersky.com",
        category: "website_browsing",
        confidence: Confidence::Low,
    },
    Row {
        pattern: "support.kaspersky.cn",
        category: "website_browsing",
        confidence: Confidence::Low,
    },
    Row {
        pattern: "click.kaspersky.com",
        category: "website_browsing",
        confidence: Confidence::Low,
    },
    Row {
        pattern: "os.kaspersky.com",
        category: "website_browsing",
        confidence: Confidence::Low,
    },
    Row {
        pattern: "securelist.com",
        category: "website_browsing",
        confidence: Confidence::Low,
    },
    Row {
        pattern: "kasperskycontenthub.com",
        category: "website_browsing",
        confidence: Confidence::Low,
    },
    Row {
        pattern: "media.kasperskycontenthub.com",
        category: "website_browsing",
        confidence: Confidence::Low,
    },
    Row {
        pattern: "kaspersky.ru",
        category: "website_browsing",
        confidence: Confidence::Low,
    },
    Row {
        pattern: "kaspersky.de",
        category: "website_browsing",
        confidence: Confidence::Low,
    },
    Row {
        pattern: "kaspersky.fr",
        category: "website_browsing",
        confidence: Confidence::Low,
    },
    Row {
        pattern: "kaspersky.it",
        category: "website_browsing",
        confidence: Confidence::Low,
    },
    Row {
        pattern: "kaspersky.es",
        category: "website_browsing",
        confidence: Confidence::Low,
    },
    Row {
        pattern: "kaspersky.nl",
        category: "website_browsing",
        confidence: Confidence::Low,
    },
    Row {
        pattern: "kaspersky.co.uk",
        category: "website_browsing",
        confidence: Confidence::Low,
    },
    Row {
        pattern: "kaspersky.co.jp",
        category: "website_browsing",
        confidence: Confidence::Low,
    },
    Row {
        pattern: "kaspersky.co.kr",
        category: "website_browsing",
        confidence: Confidence::Low,
    },
    Row {
        pattern: "kaspersky.co.in",
        category: "website_browsing",
        confidence: Confidence::Low,
    },
    Row {
        pattern: "kaspersky.com.br",
        category: "website_browsing",
        confidence: Confidence::Low,
    },
    Row {
        pattern: "kaspersky.com.cn",
        category: "website_browsing",
        confidence: Confidence::Low,
    },
    Row {
        pattern: "kaspersky.com.tr",
        category: "website_browsing",
        confidence: Confidence::Low,
    },
    Row {
        pattern: "kaspersky.com.tw",
        category: "website_browsing",
        confidence: Confidence::Low,
    },
    Row {
        pattern: "kaspersky.com.vn",
        category: "website_browsing",
        confidence: Confidence::Low,
    },
    Row {
        pattern: "kaspersky.com.au",
        category: "website_browsing",
        confidence: Confidence::Low,
    },
    Row {
        pattern: "kaspersky.com.hk",
        category: "website_browsing",
        confidence: Confidence::Low,
    },
    Row {
        pattern: "kaspersky.com.pl",
        category: "website_browsing",
        confidence: Confidence::Low,
    },
    Row {
        pattern: "kaspersky.ca",
        category: "website_browsing",
        confidence: Confidence::Low,
    },
    Row {
        pattern: "kaspersky.be",
        category: "website_browsing",
        confidence: Confidence::Low,
    },
    Row {
        pattern: "kaspersky.cz",
        category: "website_browsing",
        confidence: Confidence::Low,
    },
    Row {
        pattern: "kaspersky.dk",
        category: "website_browsing",
        confidence: Confidence::Low,
    },
    Row {
        pattern: "kaspersky.fi",
        category: "website_browsing",
        confidence: Confidence::Low,
    },
    Row {
        pattern: "kaspersky.se",
        category: "website_browsing",
        confidence: Confidence::Low,
    },
    Row {
        pattern: "kaspersky.pt",
        category: "website_browsing",
        confidence: Confidence::Low,
    },
    Row {
        pattern: "kaspersky.gr",
        category: "website_browsing",
        confidence: Confidence::Low,
    },
    Row {
        pattern: "kaspersky.ro",
        category: "website_browsing",
        confidence: Confidence::Low,
    },
    Row {
        pattern: "kaspersky.rs",
        category: "website_browsing",
        confidence: Confidence::Low,
    },
    Row {
        pattern: "kaspersky.kz",
        category: "website_browsing",
        confidence: Confidence::Low,
    },
    Row {
        pattern: "kaspersky.my",
        category: "website_browsing",
        confidence: Confidence::Low,
    },
    Row {
        pattern: "kaspersky.co.th",
        category: "website_browsing",
        confidence: Confidence::Low,
    },
    Row {
        pattern: "kaspersky.co.za",
        category: "website_browsing",
        confidence: Confidence::Low,
    },
    Row {
        pattern: "kaspersky.dz",
        category: "website_browsing",
        confidence: Confidence::Low,
    },
    Row {
        pattern: "kaspersky.ma",
        category: "website_browsing",
        confidence: Confidence::Low,
    },
    Row {
        pattern: "kaspersky.ua",
        category: "website_browsing",
        confidence: Confidence::Low,
    },
    Row {
        pattern: "ultravpn.com",
        category: "successor_ultraav",
        confidence: Confidence::Low,
    },
    Row {
        pattern: "track.ultravpn.com",
        category: "successor_ultraav",
        confidence: Confidence::Low,
    },
    Row {
        pattern: "ultraav.com",
        category: "successor_ultraav",
        confidence: Confidence::Low,
    },
    Row {
        pattern: "*.northghost.com",
        category: "other",
        confidence: Confidence::Low,
    },
];

/// The most specific row matching `name`, per the module rules.
pub fn classify(name: &[u8]) -> Option<&'static Row> {
    let name = name.strip_suffix(b".").unwrap_or(name);
    let mut best: Option<&'static Row> = None;
    for row in ROWS {
        let p = row.pattern.as_bytes();
        if let Some(suffix) = p.strip_prefix(b"*.") {
            let dotted_tail = name.len() > suffix.len()
                && name.get(name.len() - suffix.len() - 1) == Some(&b'.')
                && name
                    .get(name.len() - suffix.len()..)
                    .is_some_and(|t| t.eq_ignore_ascii_case(suffix));
            if dotted_tail {
                let better = match best {
                    None => true,
                    Some(b) => b.pattern.starts_with("*.") && b.pattern.len() < row.pattern.len(),
                };
                if better {
                    best = Some(row);
                }
            }
        } else if p.eq_ignore_ascii_case(name) {
            return Some(row);
        }
    }
    best
}

/// Names built to look like Kaspersky names that no row may match: the
/// vendor string as a prefix, inside a label, or followed by another domain.
pub const LOOKALIKES: &[&str] = &[
    "evilkaspersky.com",
    "kaspersky.com.evil.example",
    "notkaspersky-labs.com",
    "kaspersky-labs.com.attacker.net",
    "upd.kaspersky.com.mirror.example",
    "kaspersky-com.example.net",
    "kasperskyy.com",
    "dnl-03.geo.kaspersky.co",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_beats_wildcard_and_longest_wildcard_wins() {
        let r = classify(b"dnl-03.geo.kaspersky.com").unwrap();
        assert_eq!(
            (r.pattern, r.category, r.confidence),
            ("dnl-03.geo.kaspersky.com", "update", Confidence::High)
        );
        let r = classify(b"dnl-eu7.geo.kaspersky.com").unwrap();
        assert_eq!(r.pattern, "*.geo.kaspersky.com");
        let r = classify(b"bosh4.ucp-ntfy.kaspersky-labs.com").unwrap();
        assert_eq!(
            (r.pattern, r.confidence),
            ("*.ucp-ntfy.kaspersky-labs.com", Confidence::Medium)
        );
        let r = classify(b"x.y.kaspersky-labs.com").unwrap();
        assert_eq!(r.pattern, "*.kaspersky-labs.com");
        let r = classify(b"www.kaspersky.com").unwrap();
        assert_eq!(
            (r.pattern, r.confidence),
            ("www.kaspersky.com", Confidence::Low)
        );
    }

    #[test]
    fn case_and_trailing_dot_are_ignored() {
        assert_eq!(
            classify(b"S07.Upd.KASPERSKY.com.").unwrap().pattern,
            "s07.upd.kaspersky.com"
        );
    }

    #[test]
    fn lookalikes_match_nothing() {
        for l in LOOKALIKES {
            assert!(classify(l.as_bytes()).is_none(), "{l}");
        }
        // A wildcard never matches its own apex.
        assert_eq!(
            classify(b"upd.kaspersky.com").unwrap().pattern,
            "*.kaspersky.com"
        );
        assert!(classify(b"geoksn.kaspersky.com.").is_some_and(|r| r.pattern == "*.kaspersky.com"));
    }
}
