//! `decode_frame` on arbitrary bytes: the first byte picks one of the
//! supported link types (any value maps to one), the rest is the frame. Must
//! never panic; a decoded payload or fragment must lie inside the frame;
//! tunnel records stay within the depth limit; `decode` agrees with
//! `decode_frame`; a fragment's bytes decoded as a reassembled datagram
//! never panic either (covers every tunnel and transport parser on
//! attacker-chosen payloads).
#![no_main]
use libfuzzer_sys::fuzz_target;
use phonehome::config::limits::MAX_ENCAP_DEPTH;
use phonehome::decode::{
    DecodeError, Frame, SUPPORTED_LINKTYPES, decode, decode_frame, decode_reassembled,
};

fn inside(frame: &[u8], part: &[u8]) -> bool {
    let f = frame.as_ptr_range();
    let p = part.as_ptr_range();
    f.start <= p.start && p.end <= f.end
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, frame)) = data.split_first() else {
        return;
    };
    let linktype = SUPPORTED_LINKTYPES[usize::from(selector) % SUPPORTED_LINKTYPES.len()];
    let full = decode_frame(linktype, frame);
    match &full {
        Ok(Frame::Packet(d)) => {
            assert!(inside(frame, d.payload));
            if let Some(t) = d.tunnel {
                assert!((1..=MAX_ENCAP_DEPTH).contains(&usize::from(t.depth)));
                assert_eq!(t.layers().len(), usize::from(t.depth));
                assert_eq!(t.layers()[0], t.kind);
            }
            assert!(decode(linktype, frame).is_ok());
        }
        Ok(Frame::Fragment(f)) => {
            assert!(inside(frame, f.data));
            assert_eq!(
                decode(linktype, frame).unwrap_err(),
                DecodeError::IpFragment
            );
            // As if this fragment were the whole datagram.
            if let Ok(Frame::Packet(d)) = decode_reassembled(&f.meta, f.data) {
                assert!(inside(frame, d.payload));
            }
        }
        Err(e) => assert_eq!(decode(linktype, frame).unwrap_err(), *e),
    }
});
