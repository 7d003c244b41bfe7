//! Helpers shared by the bench targets: generated captures held in memory.
#![allow(dead_code)] // each bench target uses a subset

use std::io::Cursor;

use phonehome::capture::{FileSource, LinkType, Source};
use phonehome::traffic::bulk::{self, BulkOpts, LinkKind};
use phonehome::traffic::pcap::TsResolution;

/// Packets of a capture copied into one arena: (ts_ns, linktype, range).
pub struct Packets {
    pub data: Vec<u8>,
    pub pkts: Vec<(u64, LinkType, std::ops::Range<usize>)>,
}

impl Packets {
    pub fn iter(&self) -> impl Iterator<Item = (u64, LinkType, &[u8])> + '_ {
        self.pkts
            .iter()
            .map(|(ts, lt, r)| (*ts, *lt, self.data.get(r.clone()).unwrap_or(&[])))
    }

    pub fn bytes(&self) -> u64 {
        self.pkts.iter().map(|p| p.2.len() as u64).sum()
    }
}

/// A bulk capture of about `size` bytes (seed 1, Ethernet, µs), as pcap
/// bytes.
pub fn bulk_pcap(size: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(size as usize + (1 << 16));
    let opts = BulkOpts {
        size,
        seed: 1,
        resolution: TsResolution::Micros,
        link: LinkKind::Ethernet,
    };
    bulk::generate(&mut out, &opts).expect("bulk capture generates");
    out
}

/// Every packet of an in-memory pcap, read by the product's own reader.
pub fn read_all(pcap: Vec<u8>) -> Packets {
    let mut src = FileSource::from_reader("in-memory", Cursor::new(pcap)).expect("pcap opens");
    let mut p = Packets {
        data: Vec::new(),
        pkts: Vec::new(),
    };
    while let Some(r) = src.next_packet().expect("generated capture reads") {
        let start = p.data.len();
        p.data.extend_from_slice(r.data);
        p.pkts.push((r.ts_ns, r.linktype, start..p.data.len()));
    }
    p
}
