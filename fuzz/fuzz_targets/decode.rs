//! `decode` on arbitrary bytes: the first byte picks one of the supported
//! link types (any value maps to one), the rest is the frame. Must never
//! panic; a decoded payload must lie inside the frame.
#![no_main]
use libfuzzer_sys::fuzz_target;
use phonehome::decode::{SUPPORTED_LINKTYPES, decode};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, frame)) = data.split_first() else {
        return;
    };
    let linktype = SUPPORTED_LINKTYPES[usize::from(selector) % SUPPORTED_LINKTYPES.len()];
    if let Ok(d) = decode(linktype, frame) {
        let frame_range = frame.as_ptr_range();
        let payload_range = d.payload.as_ptr_range();
        assert!(frame_range.start <= payload_range.start && payload_range.end <= frame_range.end);
    }
});
