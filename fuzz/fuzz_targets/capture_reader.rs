//! Any bytes as a capture file (plain, or gzip if they start 1f 8b): the
//! reader must deliver packets or an error, never panic, never hang.
//!
//! A small starting buffer makes refills and buffer growth happen on
//! fuzzer-sized inputs. Seed with tests/corpus/pcaps.
#![no_main]
use libfuzzer_sys::fuzz_target;
use phonehome::capture::{FileSource, Source};
use phonehome::config::limits::CAPTURE_MAX_CAPLEN;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the starting buffer size (28..=283 bytes or the
    // default), so both the growth path and the normal path are fuzzed.
    let (choice, bytes) = match data.split_first() {
        Some((c, rest)) => (*c, rest),
        None => (0, data),
    };
    let reader = std::io::Cursor::new(bytes.to_vec());
    let src = if choice == 0xff {
        FileSource::from_reader("fuzz", reader)
    } else {
        FileSource::from_reader_with_buffer("fuzz", reader, 28 + usize::from(choice))
    };
    let Ok(mut src) = src else { return };
    let mut total = 0usize;
    loop {
        match src.next_packet() {
            Ok(Some(p)) => {
                // Packets are bounded by the caplen limit and by the input
                // (a gzip bomb aside, which libFuzzer's -max_len bounds).
                assert!(p.data.len() <= CAPTURE_MAX_CAPLEN as usize);
                total += p.data.len();
            }
            Ok(None) | Err(_) => break,
        }
    }
    // Fused: polling after the end or an error yields nothing.
    assert!(matches!(src.next_packet(), Ok(None)));
    std::hint::black_box(total);
});
