//! The whole worker pipeline (decode → flow → extract → match) over a
//! sequence of frames: byte 0 picks the link type, then frames follow as
//! `<u16 big-endian length><bytes>`. Exercises TCP reassembly across frames.
#![no_main]
use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use phonehome::capture::LinkType;
use phonehome::runtime::{PacketIn, Worker, WorkerConfig};
use phonehome::signatures::SignatureSet;

const LINKTYPES: [u32; 7] = [1, 0, 101, 108, 113, 228, 276];

fn sigs() -> Arc<SignatureSet> {
    static S: OnceLock<Arc<SignatureSet>> = OnceLock::new();
    S.get_or_init(|| Arc::new(SignatureSet::builtin().expect("embedded pack loads")))
        .clone()
}

fuzz_target!(|data: &[u8]| {
    let Some((&lt, mut rest)) = data.split_first() else {
        return;
    };
    let linktype = LinkType(LINKTYPES[usize::from(lt) % LINKTYPES.len()]);
    let mut w = Worker::new(
        sigs(),
        WorkerConfig {
            emit_names: true,
            emit_all_answers: true,
            emit_flow_starts: true,
        },
    );
    let mut out = Vec::new();
    let mut n = 0u64;
    while rest.len() >= 2 {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        rest = &rest[2..];
        let frame = &rest[..len.min(rest.len())];
        rest = &rest[frame.len()..];
        n += 1;
        w.process(
            &PacketIn {
                ts_ns: n * 1_000_000,
                packet_no: n,
                linktype,
                data: frame,
            },
            &mut out,
        );
    }
    w.finish();
});
