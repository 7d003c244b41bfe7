//! `extract::dns::extract` and its helpers on arbitrary bytes: no panic, no
//! hang, and every reported name fits the 255-octet bound (≤ 2 × 255 bytes
//! of text with escapes).
#![no_main]
use libfuzzer_sys::fuzz_target;
use phonehome::extract::dns::{self, DnsItem, DnsScratch};

fuzz_target!(|data: &[u8]| {
    let mut scratch = DnsScratch::default();
    let _ = dns::looks_like_dns(data);
    let _ = dns::extract(data, &mut scratch, &mut |item| match item {
        DnsItem::Query { name, .. } => assert!(name.len() <= 2 * 255),
        DnsItem::Answer { query, owner, .. } => {
            assert!(query.len() <= 2 * 255 && owner.len() <= 2 * 255)
        }
    });
    if let Some((msg, used)) = dns::split_tcp_message(data) {
        assert_eq!(used, msg.len() + 2);
    }
});
