//! The IP reassembler on arbitrary fragment sequences. The input is a list
//! of records `[time delta (1), flags (1), id (1), offset/8 (2), length (2),
//! data ...]`; each becomes a fragment of one of a few datagrams between two
//! fixed hosts (so datagrams collide, overlap and complete), pushed into a
//! reassembler with small limits. Must never panic; after every push the
//! count and memory bounds hold; a completed datagram's length is what its
//! pieces said; and it decodes as a reassembled datagram without panicking.
#![no_main]
use libfuzzer_sys::fuzz_target;
use phonehome::decode::{Fragment, FragmentMeta, decode_reassembled};
use phonehome::flow::defrag::{Defrag, DefragLimits};

const LIMITS: DefragLimits = DefragLimits {
    max_datagrams: 8,
    max_datagram_bytes: 65_535,
    max_bytes: 128 * 1024,
    timeout_ns: 1_000,
    max_fragments: 16,
};

fuzz_target!(|data: &[u8]| {
    let mut d = Defrag::new(LIMITS);
    let mut out = Vec::new();
    let mut now = 0u64;
    let mut rest = data;
    while let [dt, flags, id, o0, o1, l0, l1, tail @ ..] = rest {
        now = now.saturating_add(u64::from(*dt) * 10);
        let offset = u32::from(u16::from_be_bytes([*o0, *o1])) * 8;
        let len = usize::from(u16::from_be_bytes([*l0, *l1])) % 2048;
        let take = len.min(tail.len());
        let (bytes, next) = tail.split_at(take);
        rest = next;
        let v6 = flags & 0x04 != 0;
        let (src, dst) = if v6 {
            (
                "2001:db8::1".parse().unwrap(),
                "2001:db8::2".parse().unwrap(),
            )
        } else {
            ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap())
        };
        let frag = Fragment {
            meta: FragmentMeta {
                src_mac: None,
                dst_mac: None,
                vlan: None,
                inner_vlan: None,
                tunnel: None,
                src_ip: src,
                dst_ip: dst,
                // UDP, TCP, GRE, IPv6-in-IP: reassembled payloads go on
                // through the tunnel parsers.
                protocol: [17, 6, 47, 41][usize::from(flags >> 6)],
            },
            id: u32::from(id % 4),
            offset,
            more: flags & 0x01 != 0,
            data: bytes,
            truncated: flags & 0x02 != 0,
        };
        if let Some(meta) = d.push(now, &frag, &mut out) {
            assert!(out.len() <= LIMITS.max_datagram_bytes);
            let _ = decode_reassembled(&meta, &out);
        }
        assert!(d.len() <= LIMITS.max_datagrams);
        assert!(d.bytes_held() <= LIMITS.max_bytes);
    }
});
