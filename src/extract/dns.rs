//! DNS messages (RFC 1035 §4.1) over UDP, and over TCP once the caller has
//! removed the two-byte length prefix (RFC 1035 §4.2.2, see
//! [`split_tcp_message`]): the question names of queries and the A/AAAA
//! records of responses. The same wire format carries mDNS (RFC 6762 §18)
//! and LLMNR (RFC 4795 §2.1); the caller decides which ports it feeds here.
//!
//! Parsing is done by the `domain` crate (lazy, zero-copy, no allocation);
//! this module only turns names into dotted text in caller-owned scratch
//! buffers. `domain` bounds every name to 255 wire octets and rejects
//! compression pointers that do not point strictly backwards (RFC 1035
//! §4.1.4: a pointer refers to a *prior* occurrence), so a compression loop
//! or a forward pointer ends in [`DnsError::BadName`] after bounded work,
//! never in a hang; the question or record holding that name is skipped
//! and the rest of the message is still read.
//!
//! # Name text
//!
//! Labels are joined with `.`, case is preserved, there is no trailing dot
//! and the root name is the empty string. Label bytes are copied raw
//! (attacker-controlled: the output layer escapes non-printable bytes),
//! except two bytes that would make the dotted text ambiguous, which are
//! written as in the zone-file presentation format (RFC 1035 §5.1):
//!
//! | byte inside a label | written as |
//! |---|---|
//! | `.` (0x2E) | `\.` |
//! | `\` (0x5C) | `\\` |
//!
//! So the one-label name `evil.kaspersky` followed by `com` becomes
//! `evil\.kaspersky.com`, which differs from the three-label name
//! `evil.kaspersky.com`.

use std::net::IpAddr;

use domain::base::iana::Rtype;
use domain::base::name::ParsedName;
use domain::base::wire::ParseError;
use domain::base::{ParsedRecord, Question};
use domain::dep::octseq::Parser;
use domain::rdata::{A, Aaaa};

use crate::config::limits::{DNS_MAX_ADDRESS_RECORDS, DNS_MAX_QUESTIONS};

/// One item found in a DNS message, borrowed from scratch buffers.
#[derive(Debug, PartialEq, Eq)]
pub enum DnsItem<'a> {
    /// A question of a query (QR=0). `name` is dotted, no trailing dot,
    /// case preserved; the root is the empty name (see the module doc for
    /// `\.` and `\\`).
    Query { name: &'a [u8], qtype: u16 },
    /// An A/AAAA record of a response (QR=1), from any section. `query` is
    /// the first question name (empty when the response has no question, as
    /// mDNS announcements do), `owner` the record's owner (after a CNAME
    /// chain it differs from `query`).
    Answer {
        query: &'a [u8],
        owner: &'a [u8],
        addr: IpAddr,
        ttl: u32,
    },
}

/// Why a message yielded nothing (or only part of what it holds). Items
/// reported before the error stand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DnsError {
    /// Shorter than the 12-byte header (RFC 1035 §4.1.1).
    NotDns,
    /// A section count promises more than the message holds.
    Truncated,
    /// A name is malformed: bad label type, longer than 255 octets, or a
    /// compression pointer that does not point backwards (loops included).
    BadName,
    /// A resource record is malformed (e.g. an A record whose data is not
    /// 4 bytes). Later records were still read.
    BadRecord,
    /// More than [`DNS_MAX_QUESTIONS`] questions; the rest were not read.
    TooManyQuestions,
    /// More than [`DNS_MAX_ADDRESS_RECORDS`] A/AAAA records; the rest were
    /// not read.
    TooManyAddresses,
}

impl DnsError {
    /// The counter / log label.
    pub fn label(self) -> &'static str {
        match self {
            DnsError::NotDns => "not_dns",
            DnsError::Truncated => "truncated",
            DnsError::BadName => "bad_name",
            DnsError::BadRecord => "bad_record",
            DnsError::TooManyQuestions => "too_many_questions",
            DnsError::TooManyAddresses => "too_many_addresses",
        }
    }
}

/// Reusable buffers for name decoding; keep one per worker. Each holds at
/// most one name (≤ 2 × 255 bytes with escapes), so they stop growing after
/// the first few messages.
#[derive(Default)]
pub struct DnsScratch {
    pub name: Vec<u8>,
    pub query: Vec<u8>,
}

/// DNS header length (RFC 1035 §4.1.1).
const HEADER_LEN: usize = 12;
/// Smallest question: root name (1) + QTYPE (2) + QCLASS (2).
const MIN_QUESTION_LEN: u32 = 5;
/// Smallest resource record: root owner (1) + TYPE, CLASS (4) + TTL (4) +
/// RDLENGTH (2).
const MIN_RECORD_LEN: u32 = 11;

/// The header fields this module looks at (RFC 1035 §4.1.1).
#[derive(Clone, Copy, Debug)]
struct Header {
    qr: bool,
    opcode: u8,
    qdcount: u16,
    ancount: u16,
    nscount: u16,
    arcount: u16,
}

fn header(msg: &[u8]) -> Option<Header> {
    let &[_, _, flags, _, qd0, qd1, an0, an1, ns0, ns1, ar0, ar1] = msg.get(..HEADER_LEN)? else {
        return None;
    };
    Some(Header {
        qr: flags & 0x80 != 0,
        opcode: (flags >> 3) & 0x0f,
        qdcount: u16::from_be_bytes([qd0, qd1]),
        ancount: u16::from_be_bytes([an0, an1]),
        nscount: u16::from_be_bytes([ns0, ns1]),
        arcount: u16::from_be_bytes([ar0, ar1]),
    })
}

/// Cheap sanity check that a UDP payload plausibly is a DNS, mDNS or LLMNR
/// message, for callers that see traffic on ports where other protocols
/// also run. True when: the header is complete; the opcode is one IANA
/// assigns (RFC 6895 §2.2: 0 Query, 1 IQuery, 2 Status, 4 Notify,
/// 5 Update, 6 DSO); a standard query (QR=0, opcode 0) has at least one
/// question; and the section counts fit in the payload at the minimum
/// encoded size of a question (5 bytes) and a record (11 bytes).
///
/// [`extract`] does not require this: it parses whatever it is given.
pub fn looks_like_dns(payload: &[u8]) -> bool {
    let Some(h) = header(payload) else {
        return false;
    };
    if !matches!(h.opcode, 0 | 1 | 2 | 4 | 5 | 6) {
        return false;
    }
    if !h.qr && h.opcode == 0 && h.qdcount == 0 {
        return false;
    }
    let records = u32::from(h.ancount) + u32::from(h.nscount) + u32::from(h.arcount);
    let min_len =
        HEADER_LEN as u32 + MIN_QUESTION_LEN * u32::from(h.qdcount) + MIN_RECORD_LEN * records;
    min_len as usize <= payload.len()
}

/// Strict check for a DNS query on a port DNS does not own (tshark's DNS
/// heuristic finds these too): exactly the shape a stub resolver sends. QR
/// 0, opcode 0 (RFC 1035 §4.1.1), Z and RCODE 0; one question, no answer or
/// authority record, at most one additional record, which must be an EDNS
/// OPT record (RFC 6891 §6.1.2: root owner, type 41); the question's name
/// made of uncompressed labels of 1..=63 bytes, at most 255 bytes in all,
/// class IN; and nothing after the message. Random payloads and QUIC
/// packets fail within the first bytes.
pub fn looks_like_query(payload: &[u8]) -> bool {
    let Some(h) = header(payload) else {
        return false;
    };
    let (Some(&flags_hi), Some(&flags_lo)) = (payload.get(2), payload.get(3)) else {
        return false;
    };
    if h.qr || flags_hi & 0x78 != 0 || flags_lo & 0x7f != 0 {
        return false;
    }
    if h.qdcount != 1 || h.ancount != 0 || h.nscount != 0 || h.arcount > 1 {
        return false;
    }
    let mut at = HEADER_LEN;
    loop {
        let Some(&len) = payload.get(at) else {
            return false;
        };
        at += 1;
        if len == 0 {
            break;
        }
        if len > 63 || at - HEADER_LEN + usize::from(len) > 255 {
            return false;
        }
        at += usize::from(len);
    }
    // QTYPE, then QCLASS IN.
    if payload.get(at + 2..at + 4) != Some(&[0, 1][..]) {
        return false;
    }
    let rest = payload.get(at + 4..).unwrap_or_default();
    match h.arcount {
        0 => rest.is_empty(),
        // OPT: root name, type 41, class (UDP size), TTL, RDLENGTH, RDATA.
        _ => {
            rest.get(..3) == Some(&[0, 0, 41][..])
                && rest
                    .get(9..11)
                    .map(|l| usize::from(u16::from_be_bytes([l[0], l[1]])))
                    .is_some_and(|rdlen| rest.len() == 11 + rdlen)
        }
    }
}

/// Split one DNS message off the front of a TCP byte stream (RFC 1035
/// §4.2.2: each message is preceded by a two-byte big-endian length).
/// Returns the message and the number of stream bytes it used, or `None`
/// when the stream does not yet hold a whole message.
pub fn split_tcp_message(stream: &[u8]) -> Option<(&[u8], usize)> {
    let &[hi, lo] = stream.get(..2)? else {
        return None;
    };
    let len = usize::from(u16::from_be_bytes([hi, lo]));
    let end = 2usize.checked_add(len)?;
    let msg = stream.get(2..end)?;
    Some((msg, end))
}

/// Write `name` as dotted text into `out` (cleared first). See the module
/// doc for the format. Iterates labels directly: `domain`'s `Display` is
/// an order of magnitude slower.
fn write_name<O: AsRef<[u8]>>(name: &ParsedName<O>, out: &mut Vec<u8>) {
    out.clear();
    for label in name.iter() {
        let bytes = label.as_ref();
        if bytes.is_empty() {
            // The root label ends every name; it adds nothing to the text.
            continue;
        }
        if !out.is_empty() {
            out.push(b'.');
        }
        for &b in bytes {
            if b == b'.' || b == b'\\' {
                out.push(b'\\');
            }
            out.push(b);
        }
    }
}

/// True for RR class IN, ignoring the top bit that mDNS uses as the
/// unicast-response / cache-flush flag (RFC 6762 §10.2, §18.12).
fn is_class_in(class: u16) -> bool {
    class & 0x7fff == 1
}

/// Parse one DNS message and call `out` for every query name (QR=0: every
/// question, whatever its type or class) and every A/AAAA record of class
/// IN (QR=1: answer, authority and additional sections). Any opcode is
/// accepted; see [`looks_like_dns`] for a plausibility filter.
///
/// Damage is contained where the wire format allows it: a question or
/// record whose name is malformed (compression loop, forward pointer, too
/// long) but whose extent can still be found is skipped and reading goes
/// on, as Suricata's DNS parser does; the call then ends in
/// [`DnsError::BadName`] or [`DnsError::BadRecord`]. Damage that hides
/// where the next item starts ends the walk at once. Items reported before
/// an error stand.
///
/// Allocates nothing once the scratch buffers have grown to the longest
/// name seen.
pub fn extract(
    msg: &[u8],
    scratch: &mut DnsScratch,
    out: &mut dyn FnMut(DnsItem<'_>),
) -> Result<(), DnsError> {
    let Some(h) = header(msg) else {
        return Err(DnsError::NotDns);
    };
    let mut parser = Parser::from_ref(msg);
    parser.advance(HEADER_LEN).map_err(|_| DnsError::NotDns)?;
    if h.qr {
        extract_response(h, &mut parser, scratch, out)
    } else {
        extract_query(h, &mut parser, scratch, out)
    }
}

/// Outcome of reading one question.
enum Read<T> {
    Ok(T),
    /// Malformed but skipped: the parser is at the next item.
    Skipped,
}

/// Skip a name whose labels or pointers `domain` rejected, to find where
/// the next item starts (RFC 1035 §4.1.4): labels up to the root label or
/// the first pointer. Unlike `domain`'s own skip this does not stop at 255
/// octets: an over-long name still has a findable end. Fails on the
/// extended label types 0x40/0x80 (RFC 6891 §5), whose length is unknown.
/// Bounded by the message length.
fn skip_name(parser: &mut Parser<'_, [u8]>) -> Result<(), DnsError> {
    loop {
        let rest = parser.peek_all();
        let Some(&len) = rest.first() else {
            return Err(DnsError::Truncated);
        };
        let step = match len {
            0 => return parser.advance(1).map_err(|_| DnsError::Truncated),
            0xc0..=0xff => return parser.advance(2).map_err(|_| DnsError::Truncated),
            0x40..=0xbf => return Err(DnsError::BadName),
            _ => 1 + usize::from(len),
        };
        parser.advance(step).map_err(|_| DnsError::Truncated)?;
    }
}

/// Read the question at the parser, or skip it when only its name is bad.
fn read_question<'a>(
    parser: &mut Parser<'a, [u8]>,
) -> Result<Read<Question<ParsedName<&'a [u8]>>>, DnsError> {
    let start = parser.pos();
    match Question::parse(parser) {
        Ok(q) => Ok(Read::Ok(q)),
        Err(ParseError::ShortInput) => Err(DnsError::Truncated),
        Err(ParseError::Form(_)) => {
            // Only the name can be malformed (QTYPE and QCLASS are any
            // 16-bit values).
            parser.seek(start).map_err(|_| DnsError::BadName)?;
            skip_name(parser)?;
            parser.advance(4).map_err(|_| DnsError::Truncated)?;
            Ok(Read::Skipped)
        }
    }
}

/// Skip a record whose owner name `domain` rejected: the name, then TYPE,
/// CLASS, TTL, RDLENGTH and RDLENGTH bytes of data (RFC 1035 §4.1.3).
fn skip_record(parser: &mut Parser<'_, [u8]>) -> Result<(), DnsError> {
    skip_name(parser)?;
    parser.advance(8).map_err(|_| DnsError::Truncated)?;
    let &[hi, lo] = parser.peek_all().get(..2).ok_or(DnsError::Truncated)? else {
        return Err(DnsError::Truncated);
    };
    let rdlen = usize::from(u16::from_be_bytes([hi, lo]));
    parser.advance(2 + rdlen).map_err(|_| DnsError::Truncated)
}

fn extract_query(
    h: Header,
    parser: &mut Parser<'_, [u8]>,
    scratch: &mut DnsScratch,
    out: &mut dyn FnMut(DnsItem<'_>),
) -> Result<(), DnsError> {
    let mut result = Ok(());
    for seen in 0..usize::from(h.qdcount) {
        if seen >= DNS_MAX_QUESTIONS {
            return Err(DnsError::TooManyQuestions);
        }
        match read_question(parser)? {
            Read::Ok(question) => {
                write_name(question.qname(), &mut scratch.name);
                out(DnsItem::Query {
                    name: &scratch.name,
                    qtype: question.qtype().to_int(),
                });
            }
            Read::Skipped => result = Err(DnsError::BadName),
        }
    }
    result
}

fn extract_response(
    h: Header,
    parser: &mut Parser<'_, [u8]>,
    scratch: &mut DnsScratch,
    out: &mut dyn FnMut(DnsItem<'_>),
) -> Result<(), DnsError> {
    let mut result = Ok(());
    scratch.query.clear();
    for i in 0..h.qdcount {
        match read_question(parser)? {
            Read::Ok(question) if i == 0 => write_name(question.qname(), &mut scratch.query),
            Read::Ok(_) => {}
            Read::Skipped => result = Err(DnsError::BadName),
        }
    }
    let records = u32::from(h.ancount) + u32::from(h.nscount) + u32::from(h.arcount);
    let mut reported = 0usize;
    for _ in 0..records {
        let start = parser.pos();
        let record = match ParsedRecord::parse(parser) {
            Ok(record) => record,
            Err(ParseError::ShortInput) => return Err(DnsError::Truncated),
            Err(ParseError::Form(_)) => {
                // A malformed owner name: skip the record by its RDLENGTH.
                parser.seek(start).map_err(|_| DnsError::BadRecord)?;
                skip_record(parser)?;
                result = Err(DnsError::BadName);
                continue;
            }
        };
        if !is_class_in(record.class().to_int()) {
            continue;
        }
        let rtype = record.rtype();
        if rtype != Rtype::A && rtype != Rtype::AAAA {
            continue;
        }
        let ttl = record.ttl().as_secs();
        let owner = record.owner();
        // The record's extent is known from RDLENGTH, so bad data in one
        // record leaves the following ones readable.
        let addr = if rtype == Rtype::A {
            match record.into_record::<A>() {
                Ok(Some(r)) => IpAddr::V4(r.data().addr()),
                _ => {
                    result = Err(DnsError::BadRecord);
                    continue;
                }
            }
        } else {
            match record.into_record::<Aaaa>() {
                Ok(Some(r)) => IpAddr::V6(r.data().addr()),
                _ => {
                    result = Err(DnsError::BadRecord);
                    continue;
                }
            }
        };
        if reported >= DNS_MAX_ADDRESS_RECORDS {
            return Err(DnsError::TooManyAddresses);
        }
        reported += 1;
        write_name(&owner, &mut scratch.name);
        out(DnsItem::Answer {
            query: &scratch.query,
            owner: &scratch.name,
            addr,
            ttl,
        });
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    /// An owned copy of a [`DnsItem`], for comparing.
    #[derive(Debug, PartialEq, Eq)]
    enum Item {
        Q(Vec<u8>, u16),
        A(Vec<u8>, Vec<u8>, IpAddr, u32),
    }

    fn run(msg: &[u8]) -> (Vec<Item>, Result<(), DnsError>) {
        let mut scratch = DnsScratch::default();
        let mut items = Vec::new();
        let r = extract(msg, &mut scratch, &mut |item| {
            items.push(match item {
                DnsItem::Query { name, qtype } => Item::Q(name.to_vec(), qtype),
                DnsItem::Answer {
                    query,
                    owner,
                    addr,
                    ttl,
                } => Item::A(query.to_vec(), owner.to_vec(), addr, ttl),
            })
        });
        (items, r)
    }

    fn q(name: &[u8], qtype: u16) -> Item {
        Item::Q(name.to_vec(), qtype)
    }

    /// Header bytes: ID 0x1234, flags, QD/AN/NS/AR counts.
    fn hdr(flags: u16, qd: u16, an: u16, ns: u16, ar: u16) -> Vec<u8> {
        let mut v = vec![0x12, 0x34];
        for x in [flags, qd, an, ns, ar] {
            v.extend_from_slice(&x.to_be_bytes());
        }
        v
    }

    #[test]
    fn looks_like_query_takes_stub_queries_only() {
        assert!(looks_like_query(QUERY_A));
        // With an EDNS OPT record (UDP size 1232, no options).
        let mut edns = QUERY_A.to_vec();
        edns[11] = 1;
        edns.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]);
        assert!(looks_like_query(&edns));
        // The same bytes as a response, with a trailing byte, with a second
        // question, with an answer count, with class CH, or cut short: no.
        let mut resp = QUERY_A.to_vec();
        resp[2] |= 0x80;
        assert!(!looks_like_query(&resp));
        let mut trailing = QUERY_A.to_vec();
        trailing.push(0);
        assert!(!looks_like_query(&trailing));
        let mut two = QUERY_A.to_vec();
        two[5] = 2;
        assert!(!looks_like_query(&two));
        let mut an = QUERY_A.to_vec();
        an[7] = 1;
        assert!(!looks_like_query(&an));
        let mut ch = QUERY_A.to_vec();
        let last = ch.len() - 1;
        ch[last] = 3;
        assert!(!looks_like_query(&ch));
        for cut in 0..QUERY_A.len() {
            assert!(!looks_like_query(&QUERY_A[..cut]), "cut at {cut}");
        }
        // A compression pointer in the question, or a QUIC v1 Initial's
        // first bytes: no.
        let mut ptr = hdr(0x0100, 1, 0, 0, 0);
        ptr.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1]);
        assert!(!looks_like_query(&ptr));
        let mut quic = vec![0xc3, 0, 0, 0, 1, 8];
        quic.resize(1200, 0x5a);
        assert!(!looks_like_query(&quic));
    }

    #[rustfmt::skip]
    const QUERY_A: &[u8] = &[
        0x12, 0x34,             // ID
        0x01, 0x00,             // QR=0, opcode 0, RD=1
        0x00, 0x01,             // QDCOUNT 1
        0x00, 0x00,             // ANCOUNT
        0x00, 0x00,             // NSCOUNT
        0x00, 0x00,             // ARCOUNT
        3, b'w', b'w', b'w',    // "www"
        7, b'E', b'x', b'a', b'm', b'P', b'l', b'e', // "ExamPle": case kept
        3, b'c', b'o', b'm',    // "com"
        0,                      // root
        0x00, 0x01,             // QTYPE A
        0x00, 0x01,             // QCLASS IN
    ];

    #[test]
    fn query_name_is_dotted_case_preserved_no_trailing_dot() {
        assert_eq!(run(QUERY_A), (vec![q(b"www.ExamPle.com", 1)], Ok(())));
    }

    #[test]
    fn every_qtype_is_reported() {
        // HTTPS (65), SVCB (64), TXT (16), an unassigned type (0xff00).
        for qtype in [65u16, 64, 16, 0xff00] {
            let mut msg = QUERY_A.to_vec();
            let at = msg.len() - 4;
            msg[at..at + 2].copy_from_slice(&qtype.to_be_bytes());
            assert_eq!(run(&msg), (vec![q(b"www.ExamPle.com", qtype)], Ok(())));
        }
    }

    #[test]
    fn multiple_questions_with_compression() {
        let mut msg = hdr(0x0000, 2, 0, 0, 0);
        #[rustfmt::skip]
        msg.extend_from_slice(&[
            1, b'a', 2, b'k', b'l', 0,  // offset 12: "a.kl"
            0x00, 0x1c, 0x00, 0x01,     // AAAA IN
            1, b'b', 0xc0, 14,          // "b" + pointer to offset 14 ("kl")
            0x00, 0x41, 0x00, 0x01,     // HTTPS IN
        ]);
        assert_eq!(run(&msg), (vec![q(b"a.kl", 28), q(b"b.kl", 65)], Ok(())));
    }

    #[test]
    fn dot_and_backslash_inside_a_label_are_escaped_other_bytes_raw() {
        let mut msg = hdr(0x0000, 1, 0, 0, 0);
        #[rustfmt::skip]
        msg.extend_from_slice(&[
            5, b'a', b'.', b'b', b'\\', 0x01, // label "a.b\" + 0x01
            3, b'c', b'o', b'm', 0,
            0x00, 0x01, 0x00, 0x01,
        ]);
        assert_eq!(run(&msg), (vec![q(b"a\\.b\\\\\x01.com", 1)], Ok(())));
    }

    #[test]
    fn root_name_is_empty() {
        let mut msg = hdr(0x0000, 1, 0, 0, 0);
        msg.extend_from_slice(&[0, 0x00, 0x02, 0x00, 0x01]); // ". NS IN"
        assert_eq!(run(&msg), (vec![q(b"", 2)], Ok(())));
    }

    #[test]
    fn longest_legal_name_is_accepted() {
        // 4 labels of 63 bytes + root = 257 octets is too long; 3 × 63 +
        // one of 61 = 4 × 1 + 250 + 1 = 255 octets is the maximum.
        let mut msg = hdr(0x0000, 1, 0, 0, 0);
        for len in [63u8, 63, 63, 61] {
            msg.push(len);
            msg.extend(std::iter::repeat_n(b'x', usize::from(len)));
        }
        msg.extend_from_slice(&[0, 0x00, 0x01, 0x00, 0x01]);
        let (items, r) = run(&msg);
        assert_eq!(r, Ok(()));
        let [Item::Q(name, 1)] = items.as_slice() else {
            panic!("{items:?}");
        };
        assert_eq!(name.len(), 253);

        let mut too_long = hdr(0x0000, 1, 0, 0, 0);
        for _ in 0..4 {
            too_long.push(63);
            too_long.extend(std::iter::repeat_n(b'x', 63));
        }
        too_long.extend_from_slice(&[0, 0x00, 0x01, 0x00, 0x01]);
        assert_eq!(run(&too_long), (vec![], Err(DnsError::BadName)));
    }

    #[test]
    fn compression_pointer_to_itself_terminates() {
        let mut msg = hdr(0x0000, 1, 0, 0, 0);
        msg.extend_from_slice(&[0xc0, 12, 0x00, 0x01, 0x00, 0x01]); // ptr → offset 12 (itself)
        assert_eq!(run(&msg), (vec![], Err(DnsError::BadName)));
    }

    #[test]
    fn compression_loop_between_two_names_terminates() {
        let mut msg = hdr(0x0000, 2, 0, 0, 0);
        #[rustfmt::skip]
        msg.extend_from_slice(&[
            1, b'a', 0xc0, 22,          // offset 12: "a" → offset 22 (forward)
            0x00, 0x01, 0x00, 0x01,
            1, b'b', 0xc0, 12,          // offset 20... "b" → offset 12
            0x00, 0x01, 0x00, 0x01,
        ]);
        let (items, r) = run(&msg);
        assert!(items.is_empty(), "{items:?}");
        assert_eq!(r, Err(DnsError::BadName));
    }

    #[test]
    fn forward_pointer_is_a_bad_name() {
        let mut msg = hdr(0x0000, 1, 0, 0, 0);
        #[rustfmt::skip]
        msg.extend_from_slice(&[
            0xc0, 18,                   // offset 12: pointer forward to 18
            0x00, 0x01, 0x00, 0x01,
            3, b'c', b'o', b'm', 0,     // offset 18
        ]);
        assert_eq!(run(&msg), (vec![], Err(DnsError::BadName)));
    }

    #[test]
    fn question_with_a_forward_pointer_is_skipped_and_the_next_read() {
        // suricata-verify dns-forward-pointer: question 1 points forward at
        // question 2's name.
        let mut msg = hdr(0x0100, 2, 0, 0, 0);
        #[rustfmt::skip]
        msg.extend_from_slice(&[
            0xc0, 18, 0x00, 0x01, 0x00, 0x01,   // offset 12: → 18, A IN
            2, b'c', b'm', 3, b'n', b'e', b't', 0, // offset 18: "cm.net"
            0x00, 0x01, 0x00, 0x01,
        ]);
        assert_eq!(run(&msg), (vec![q(b"cm.net", 1)], Err(DnsError::BadName)));
    }

    #[test]
    fn extended_label_type_stops_the_walk() {
        // 0x41 is an extended label type (RFC 6891 §5): its length is
        // unknown, so nothing after it can be located.
        let mut msg = hdr(0x0100, 2, 0, 0, 0);
        msg.extend_from_slice(&[0x41, 1, 2, 0, 0x00, 0x01, 0x00, 0x01]);
        msg.extend_from_slice(&[1, b'x', 0, 0x00, 0x01, 0x00, 0x01]);
        assert_eq!(run(&msg), (vec![], Err(DnsError::BadName)));
    }

    #[test]
    fn record_with_a_bad_owner_is_skipped_by_its_length() {
        let mut msg = hdr(0x8000, 0, 2, 0, 0);
        #[rustfmt::skip]
        msg.extend_from_slice(&[
            0xc0, 12, 0x00, 0x01, 0x00, 0x01, 0, 0, 0, 1, 0x00, 4, // owner → itself
            1, 1, 1, 1,
            1, b'y', 0, 0x00, 0x01, 0x00, 0x01, 0, 0, 0, 2, 0x00, 4,
            2, 2, 2, 2,
        ]);
        assert_eq!(
            run(&msg),
            (
                vec![Item::A(
                    b"".to_vec(),
                    b"y".to_vec(),
                    IpAddr::V4(Ipv4Addr::new(2, 2, 2, 2)),
                    2
                )],
                Err(DnsError::BadName)
            )
        );
    }

    #[test]
    fn questions_before_the_damage_stand() {
        let mut msg = QUERY_A.to_vec();
        msg[5] = 2; // QDCOUNT 2, only one present
        assert_eq!(
            run(&msg),
            (vec![q(b"www.ExamPle.com", 1)], Err(DnsError::Truncated))
        );
        // Cut inside the first name.
        assert_eq!(run(&QUERY_A[..20]), (vec![], Err(DnsError::Truncated)));
    }

    #[test]
    fn short_header_is_not_dns() {
        for len in 0..12 {
            assert_eq!(run(&QUERY_A[..len]), (vec![], Err(DnsError::NotDns)));
        }
    }

    #[test]
    fn question_limit_is_enforced() {
        let count = DNS_MAX_QUESTIONS + 1;
        let mut msg = hdr(0x0000, count as u16, 0, 0, 0);
        for _ in 0..count {
            msg.extend_from_slice(&[0, 0x00, 0x01, 0x00, 0x01]);
        }
        let (items, r) = run(&msg);
        assert_eq!(items.len(), DNS_MAX_QUESTIONS);
        assert_eq!(r, Err(DnsError::TooManyQuestions));
    }

    /// A response: question www.a.com A; answers www.a.com CNAME edge.b.net,
    /// edge.b.net A 192.0.2.7 (TTL 300), edge.b.net AAAA 2001:db8::1
    /// (TTL 60), and an MX record that is ignored.
    #[rustfmt::skip]
    fn cname_response() -> Vec<u8> {
        let mut msg = hdr(0x8180, 1, 4, 0, 0); // QR=1 RD RA
        msg.extend_from_slice(&[
            3, b'w', b'w', b'w', 1, b'a', 3, b'c', b'o', b'm', 0, // offset 12
            0x00, 0x01, 0x00, 0x01,
            // answer 1: www.a.com (ptr 12) CNAME, TTL 10, rdlen 12
            0xc0, 12, 0x00, 0x05, 0x00, 0x01, 0, 0, 0, 10, 0x00, 12,
            4, b'e', b'd', b'g', b'e', 1, b'b', 3, b'n', b'e', b't', 0, // offset 39
            // answer 2: edge.b.net (ptr 39) A 192.0.2.7, TTL 300
            0xc0, 39, 0x00, 0x01, 0x00, 0x01, 0, 0, 0x01, 0x2c, 0x00, 4,
            192, 0, 2, 7,
            // answer 3: edge.b.net AAAA 2001:db8::1, TTL 60
            0xc0, 39, 0x00, 0x1c, 0x00, 0x01, 0, 0, 0, 60, 0x00, 16,
            0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
            // answer 4: edge.b.net MX 10 edge.b.net
            0xc0, 39, 0x00, 0x0f, 0x00, 0x01, 0, 0, 0, 60, 0x00, 4,
            0x00, 10, 0xc0, 39,
        ]);
        msg
    }

    #[test]
    fn response_addresses_follow_the_cname_chain() {
        assert_eq!(
            run(&cname_response()),
            (
                vec![
                    Item::A(
                        b"www.a.com".to_vec(),
                        b"edge.b.net".to_vec(),
                        IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)),
                        300
                    ),
                    Item::A(
                        b"www.a.com".to_vec(),
                        b"edge.b.net".to_vec(),
                        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
                        60
                    ),
                ],
                Ok(())
            )
        );
    }

    #[test]
    fn bad_a_record_is_skipped_and_later_records_read() {
        let mut msg = hdr(0x8400, 0, 2, 0, 0); // QR=1 AA, no question
        #[rustfmt::skip]
        msg.extend_from_slice(&[
            1, b'x', 0,                                             // offset 12
            0x00, 0x01, 0x00, 0x01, 0, 0, 0, 5, 0x00, 5,            // A with rdlen 5
            1, 2, 3, 4, 5,
            0xc0, 12, 0x00, 0x01, 0x00, 0x01, 0, 0, 0, 5, 0x00, 4,  // good A
            10, 0, 0, 1,
        ]);
        assert_eq!(
            run(&msg),
            (
                vec![Item::A(
                    b"".to_vec(),
                    b"x".to_vec(),
                    IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
                    5
                )],
                Err(DnsError::BadRecord)
            )
        );
    }

    #[test]
    fn mdns_cache_flush_class_is_in_and_chaos_class_is_skipped() {
        let mut msg = hdr(0x8400, 0, 1, 0, 1);
        #[rustfmt::skip]
        msg.extend_from_slice(&[
            // answer: "h.local" A, class IN | cache-flush (0x8001)
            1, b'h', 5, b'l', b'o', b'c', b'a', b'l', 0,
            0x00, 0x01, 0x80, 0x01, 0, 0, 0x00, 0x78, 0x00, 4,
            169, 254, 1, 2,
            // additional: "h.local" A, class CH (3): not an address
            0xc0, 12, 0x00, 0x01, 0x00, 0x03, 0, 0, 0, 1, 0x00, 4,
            1, 1, 1, 1,
        ]);
        assert_eq!(
            run(&msg),
            (
                vec![Item::A(
                    b"".to_vec(),
                    b"h.local".to_vec(),
                    IpAddr::V4(Ipv4Addr::new(169, 254, 1, 2)),
                    120
                )],
                Ok(())
            )
        );
    }

    #[test]
    fn response_cut_in_a_record_reports_what_came_before() {
        let msg = cname_response();
        // Cut inside answer 3 (the AAAA data).
        let cut = msg.len() - 16 - 10;
        let (items, r) = run(&msg[..cut]);
        assert_eq!(items.len(), 1, "{items:?}");
        assert_eq!(r, Err(DnsError::Truncated));
    }

    #[test]
    fn address_limit_is_enforced() {
        let count = DNS_MAX_ADDRESS_RECORDS + 1;
        let mut msg = hdr(0x8000, 0, count as u16, 0, 0);
        for i in 0..count {
            msg.extend_from_slice(&[0, 0x00, 0x01, 0x00, 0x01, 0, 0, 0, 1, 0x00, 4]);
            msg.extend_from_slice(&(i as u32).to_be_bytes());
        }
        let (items, r) = run(&msg);
        assert_eq!(items.len(), DNS_MAX_ADDRESS_RECORDS);
        assert_eq!(r, Err(DnsError::TooManyAddresses));
    }

    #[test]
    fn queries_do_not_report_answers_and_responses_do_not_report_questions() {
        let mut resp = cname_response();
        resp[2] &= 0x7f; // now QR=0: only the question counts
        assert_eq!(run(&resp), (vec![q(b"www.a.com", 1)], Ok(())));
    }

    #[test]
    fn looks_like_dns_checks_opcode_questions_and_counts() {
        assert!(looks_like_dns(QUERY_A));
        assert!(looks_like_dns(&cname_response()));
        assert!(!looks_like_dns(&QUERY_A[..11]));
        // Opcode 3 is unassigned.
        let mut bad = QUERY_A.to_vec();
        bad[2] = 3 << 3;
        assert!(!looks_like_dns(&bad));
        // Standard query without a question.
        let mut bad = QUERY_A.to_vec();
        bad[5] = 0;
        assert!(!looks_like_dns(&bad));
        // Counts that cannot fit: 1 question + 1 record needs 12 + 5 + 11.
        let mut bad = QUERY_A.to_vec();
        bad[7] = 1;
        bad.truncate(27);
        assert!(!looks_like_dns(&bad));
        bad.push(0);
        assert!(looks_like_dns(&bad));
        // Text is not DNS: "GET / HTTP/1.1" has opcode ('/' = 0x2f >> 3) 5
        // but absurd counts.
        assert!(!looks_like_dns(b"GET / HTTP/1.1\r\n"));
    }

    #[test]
    fn split_tcp_message_uses_the_length_prefix() {
        let mut stream = vec![0x00, QUERY_A.len() as u8];
        stream.extend_from_slice(QUERY_A);
        stream.extend_from_slice(&[0x00, 0x05, 1]);
        let (msg, used) = split_tcp_message(&stream).unwrap();
        assert_eq!(msg, QUERY_A);
        assert_eq!(used, QUERY_A.len() + 2);
        assert_eq!(split_tcp_message(&stream[used..]), None);
        assert_eq!(split_tcp_message(&[0x00]), None);
        assert_eq!(split_tcp_message(&[0x00, 0x00]), Some((&[][..], 2)));
    }
}
