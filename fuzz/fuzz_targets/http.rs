//! `extract::http::scan_request` on arbitrary bytes: no panic, the head
//! length stays within the buffer and the limit, and the host is a
//! sub-slice of the input.
#![no_main]
use libfuzzer_sys::fuzz_target;
use phonehome::config::limits::HTTP_MAX_HEAD_LEN;
use phonehome::extract::http::{HttpScan, scan_request};

fuzz_target!(|data: &[u8]| {
    if let HttpScan::Request { host, head_len, .. } = scan_request(data) {
        assert!(head_len <= data.len() && head_len <= HTTP_MAX_HEAD_LEN);
        if let Some(h) = host {
            let start = (h.as_ptr() as usize).checked_sub(data.as_ptr() as usize);
            assert!(start.is_some_and(|s| s + h.len() <= data.len()));
        }
    }
});
