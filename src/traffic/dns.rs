//! DNS message builders: queries and responses with A/AAAA answers and CNAME
//! chains, names compressed.
//!
//! Wire format: RFC 1035 section 4.1 (header, question, resource records),
//! section 4.1.4 (message compression: a pointer is two bytes `11` + 14-bit
//! offset to an earlier occurrence of the same suffix). EDNS(0) OPT record:
//! RFC 6891 section 6.1.2. HTTPS query type 65: RFC 9460 section 14.1.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::Error;
use crate::config::limits::{GEN_DNS_MAX_LABEL_LEN, GEN_DNS_POINTER_MAX_OFFSET};

/// Query types used by the generator.
pub const QTYPE_A: u16 = 1;
pub const QTYPE_CNAME: u16 = 5;
pub const QTYPE_AAAA: u16 = 28;
pub const QTYPE_OPT: u16 = 41;
pub const QTYPE_HTTPS: u16 = 65;
/// Class IN.
pub const CLASS_IN: u16 = 1;

/// Record data of one answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rdata<'a> {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    Cname(&'a [u8]),
}

/// One answer record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Answer<'a> {
    pub owner: &'a [u8],
    pub ttl: u32,
    pub data: Rdata<'a>,
}

/// Writes names into one message, compressing repeated suffixes.
/// Remembers (lowercased suffix, offset) pairs of everything written.
struct NameWriter {
    /// Offset of the message start in `out`.
    base: usize,
    seen: Vec<(Vec<u8>, u16)>,
}

impl NameWriter {
    fn new(base: usize) -> NameWriter {
        NameWriter {
            base,
            seen: Vec::new(),
        }
    }

    /// Appends `name` (dot-separated, optional trailing dot; empty or "." is
    /// the root). `compress`: use pointers to earlier suffixes.
    fn write(&mut self, out: &mut Vec<u8>, name: &[u8], compress: bool) -> Result<(), Error> {
        let name = name.strip_suffix(b".").unwrap_or(name);
        let labels: Vec<&[u8]> = if name.is_empty() {
            Vec::new()
        } else {
            name.split(|&b| b == b'.').collect()
        };
        for l in &labels {
            if l.is_empty() {
                return Err(Error::BadName("empty label"));
            }
            if l.len() > GEN_DNS_MAX_LABEL_LEN {
                return Err(Error::BadName("label longer than 63 bytes"));
            }
        }
        for i in 0..labels.len() {
            let suffix = labels
                .get(i..)
                .unwrap_or_default()
                .join(&b'.')
                .to_ascii_lowercase();
            if compress && let Some(&(_, off)) = self.seen.iter().find(|(s, _)| *s == suffix) {
                out.extend_from_slice(&(0xc000 | off).to_be_bytes());
                return Ok(());
            }
            let here = out.len() - self.base;
            if here <= usize::from(GEN_DNS_POINTER_MAX_OFFSET) {
                self.seen.push((suffix, here as u16));
            }
            let l = labels.get(i).copied().unwrap_or_default();
            out.push(l.len() as u8);
            out.extend_from_slice(l);
        }
        out.push(0);
        Ok(())
    }
}

fn header(out: &mut Vec<u8>, id: u16, flags: u16, qd: u16, an: u16, ar: u16) {
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&flags.to_be_bytes());
    out.extend_from_slice(&qd.to_be_bytes());
    out.extend_from_slice(&an.to_be_bytes());
    out.extend_from_slice(&0u16.to_be_bytes()); // NSCOUNT
    out.extend_from_slice(&ar.to_be_bytes());
}

/// EDNS(0) OPT pseudo-record: root owner, type 41, UDP size 1232, no options.
fn opt_record(out: &mut Vec<u8>) {
    out.push(0);
    out.extend_from_slice(&QTYPE_OPT.to_be_bytes());
    out.extend_from_slice(&1232u16.to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0, 0, 0]); // ext-rcode, version, flags, rdlen
}

/// Appends a recursive query (RD=1) for one question. On error `out` is
/// unchanged.
pub fn write_query(
    out: &mut Vec<u8>,
    id: u16,
    name: &[u8],
    qtype: u16,
    edns: bool,
) -> Result<(), Error> {
    let start = out.len();
    header(out, id, 0x0100, 1, 0, u16::from(edns));
    let mut nw = NameWriter::new(start);
    if let Err(e) = nw.write(out, name, false) {
        out.truncate(start);
        return Err(e);
    }
    out.extend_from_slice(&qtype.to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
    if edns {
        opt_record(out);
    }
    Ok(())
}

/// Appends a response (QR=1, RD=1, RA=1, `rcode`) echoing the question and
/// carrying `answers` in order, every name compressed against earlier ones.
/// On error `out` is unchanged.
pub fn write_response(
    out: &mut Vec<u8>,
    id: u16,
    qname: &[u8],
    qtype: u16,
    answers: &[Answer<'_>],
    rcode: u8,
    edns: bool,
) -> Result<(), Error> {
    let start = out.len();
    let r = write_response_inner(out, start, id, qname, qtype, answers, rcode, edns);
    if r.is_err() {
        out.truncate(start);
    }
    r
}

#[allow(clippy::too_many_arguments)] // reason: private helper of write_response, same fields
fn write_response_inner(
    out: &mut Vec<u8>,
    start: usize,
    id: u16,
    qname: &[u8],
    qtype: u16,
    answers: &[Answer<'_>],
    rcode: u8,
    edns: bool,
) -> Result<(), Error> {
    let an = u16::try_from(answers.len()).map_err(|_| Error::TooLong("DNS answer count"))?;
    header(
        out,
        id,
        0x8180 | u16::from(rcode & 0x0f),
        1,
        an,
        u16::from(edns),
    );
    let mut nw = NameWriter::new(start);
    nw.write(out, qname, true)?;
    out.extend_from_slice(&qtype.to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
    for a in answers {
        nw.write(out, a.owner, true)?;
        let (t,) = match a.data {
            Rdata::A(_) => (QTYPE_A,),
            Rdata::Aaaa(_) => (QTYPE_AAAA,),
            Rdata::Cname(_) => (QTYPE_CNAME,),
        };
        out.extend_from_slice(&t.to_be_bytes());
        out.extend_from_slice(&CLASS_IN.to_be_bytes());
        out.extend_from_slice(&a.ttl.to_be_bytes());
        let len_at = out.len();
        out.extend_from_slice(&[0, 0]);
        match a.data {
            Rdata::A(ip) => out.extend_from_slice(&ip.octets()),
            Rdata::Aaaa(ip) => out.extend_from_slice(&ip.octets()),
            Rdata::Cname(target) => nw.write(out, target, true)?,
        }
        let rdlen =
            u16::try_from(out.len() - len_at - 2).map_err(|_| Error::TooLong("DNS rdata"))?;
        if let Some(f) = out.get_mut(len_at..len_at + 2) {
            f.copy_from_slice(&rdlen.to_be_bytes());
        }
    }
    if edns {
        opt_record(out);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_bytes_annotated() {
        let mut out = Vec::new();
        write_query(&mut out, 0xbeef, b"a.bc.", QTYPE_HTTPS, false).unwrap();
        #[rustfmt::skip]
        let want = [
            0xbe, 0xef, // id
            0x01, 0x00, // RD
            0, 1, 0, 0, 0, 0, 0, 0, // QD=1 AN=0 NS=0 AR=0
            1, b'a', 2, b'b', b'c', 0, // a.bc
            0, 65, 0, 1, // HTTPS IN
        ];
        assert_eq!(out, want);
    }

    #[test]
    fn query_with_edns_has_opt_record() {
        let mut out = Vec::new();
        write_query(&mut out, 1, b"x", QTYPE_A, true).unwrap();
        assert_eq!(&out[10..12], &[0, 1], "ARCOUNT 1");
        assert_eq!(
            &out[out.len() - 11..],
            &[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]
        );
    }

    #[test]
    fn bad_labels_are_errors_and_leave_out_unchanged() {
        let mut out = vec![9];
        assert!(write_query(&mut out, 1, b"a..b", QTYPE_A, false).is_err());
        let long = [b'x'; 64];
        assert!(write_query(&mut out, 1, &long, QTYPE_A, false).is_err());
        assert_eq!(out, [9]);
        // 63 is the largest legal label.
        assert!(write_query(&mut out, 1, &long[..63], QTYPE_A, false).is_ok());
    }

    #[test]
    fn response_cname_chain_is_compressed() {
        let mut out = Vec::new();
        let answers = [
            Answer {
                owner: b"www.ex.com",
                ttl: 60,
                data: Rdata::Cname(b"cdn.ex.com"),
            },
            Answer {
                owner: b"cdn.ex.com",
                ttl: 30,
                data: Rdata::A(Ipv4Addr::new(192, 0, 2, 7)),
            },
        ];
        write_response(&mut out, 7, b"www.ex.com", QTYPE_A, &answers, 0, false).unwrap();
        #[rustfmt::skip]
        let want = [
            0, 7, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0,
            // 12: question www.ex.com
            3, b'w', b'w', b'w', 2, b'e', b'x', 3, b'c', b'o', b'm', 0, 0, 1, 0, 1,
            // 28: answer 1 owner -> pointer to 12
            0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 6,
            // 40: rdata "cdn" + pointer to "ex.com" at 16
            3, b'c', b'd', b'n', 0xc0, 16,
            // 46: answer 2 owner -> pointer to "cdn.ex.com" at 40
            0xc0, 40, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 192, 0, 2, 7,
        ];
        assert_eq!(out, want);
    }

    #[test]
    fn response_parses_with_domain_crate() {
        use domain::base::Message;
        let mut out = Vec::new();
        let answers = [
            Answer {
                owner: b"dnl-03.geo.kaspersky.com",
                ttl: 60,
                data: Rdata::Cname(b"dnl-03.geo.kaspersky.com.edge.example.net"),
            },
            Answer {
                owner: b"dnl-03.geo.kaspersky.com.edge.example.net",
                ttl: 20,
                data: Rdata::Aaaa("2001:db8::5".parse().unwrap()),
            },
        ];
        write_response(
            &mut out,
            9,
            b"dnl-03.geo.kaspersky.com",
            QTYPE_AAAA,
            &answers,
            0,
            true,
        )
        .unwrap();
        let msg = Message::from_octets(out.as_slice()).unwrap();
        assert_eq!(msg.header_counts().ancount(), 2);
        let q = msg.sole_question().unwrap();
        assert_eq!(q.qname().to_string(), "dnl-03.geo.kaspersky.com");
        let mut owners = Vec::new();
        for rr in msg.answer().unwrap() {
            let rr = rr.unwrap();
            owners.push(rr.owner().to_string());
        }
        assert_eq!(
            owners,
            [
                "dnl-03.geo.kaspersky.com",
                "dnl-03.geo.kaspersky.com.edge.example.net"
            ]
        );
    }
}
