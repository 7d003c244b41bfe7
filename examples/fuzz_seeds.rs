//! Seed the fuzz corpora from the real-capture corpus:
//! `cargo run --example fuzz_seeds` writes `fuzz/corpus/<target>/` files
//! (git-ignored) that `cargo +nightly fuzz run <target>` starts from.
//!
//! - `capture_reader`: each capture file as is (first byte of a seed picks
//!   the reader's buffer size, so a zero byte is prepended);
//! - `decode`, `pipeline`: frames with the target's link-type selector;
//! - `dns`, `tls_sni`, `http`: UDP/TCP payloads of the corpus.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use phonehome::capture::{FileSource, Source};
use phonehome::decode::{self, L4};

/// Link types in the order the `decode` and `pipeline` targets map their
/// selector byte (see fuzz/fuzz_targets/*.rs).
const PIPELINE_LINKTYPES: [u32; 7] = [1, 0, 101, 108, 113, 228, 276];

fn write(dir: &Path, n: &mut usize, seen: &mut BTreeSet<Vec<u8>>, data: Vec<u8>) {
    if data.is_empty() || !seen.insert(data.clone()) {
        return;
    }
    *n += 1;
    let _ = std::fs::write(dir.join(format!("seed-{n:06}")), data);
}

fn main() -> std::io::Result<()> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out = root.join("fuzz/corpus");
    let targets = [
        "capture_reader",
        "decode",
        "pipeline",
        "dns",
        "tls_sni",
        "http",
    ];
    for t in targets {
        std::fs::create_dir_all(out.join(t))?;
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(root.join("tests/corpus/pcaps"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.push(root.join("tests/data/demo.pcap"));
    files.sort();
    let mut counts = [0usize; 6];
    let mut seen: Vec<BTreeSet<Vec<u8>>> = (0..6).map(|_| BTreeSet::new()).collect();
    for f in &files {
        let mut seed = vec![0u8];
        seed.extend(std::fs::read(f)?);
        write(
            &out.join("capture_reader"),
            &mut counts[0],
            &mut seen[0],
            seed,
        );
        let Ok(mut src) = FileSource::open(f) else {
            continue;
        };
        let mut stream = Vec::new();
        let mut lt_sel = None;
        while let Ok(Some(p)) = src.next_packet() {
            // decode target: its own selector is the link type's position in
            // decode::SUPPORTED_LINKTYPES.
            if let Some(i) = decode::SUPPORTED_LINKTYPES
                .iter()
                .position(|&l| l == p.linktype)
            {
                let mut s = vec![i as u8];
                s.extend_from_slice(p.data);
                write(&out.join("decode"), &mut counts[1], &mut seen[1], s);
            }
            if let Some(i) = PIPELINE_LINKTYPES.iter().position(|&l| l == p.linktype.0) {
                if lt_sel.is_none() {
                    lt_sel = Some(i as u8);
                }
                if lt_sel == Some(i as u8) && stream.len() < 64 * 1024 {
                    let len = p.data.len().min(usize::from(u16::MAX));
                    stream.extend_from_slice(&(len as u16).to_be_bytes());
                    stream.extend_from_slice(&p.data[..len]);
                }
            }
            if let Ok(d) = decode::decode(p.linktype, p.data) {
                let pl = d.payload.to_vec();
                match d.l4 {
                    L4::Udp
                        if [53, 5353, 5355].contains(&d.src_port)
                            || [53, 5353, 5355].contains(&d.dst_port) =>
                    {
                        write(&out.join("dns"), &mut counts[3], &mut seen[3], pl)
                    }
                    L4::Tcp(_) if pl.first() == Some(&0x16) => {
                        write(&out.join("tls_sni"), &mut counts[4], &mut seen[4], pl)
                    }
                    L4::Tcp(_) if pl.first().is_some_and(u8::is_ascii_uppercase) => {
                        write(&out.join("http"), &mut counts[5], &mut seen[5], pl)
                    }
                    _ => {}
                }
            }
        }
        if let Some(sel) = lt_sel {
            let mut s = vec![sel];
            s.extend(stream);
            write(&out.join("pipeline"), &mut counts[2], &mut seen[2], s);
        }
    }
    for (t, n) in targets.iter().zip(counts) {
        println!("{t}: {n} seeds in fuzz/corpus/{t}");
    }
    Ok(())
}
