//! Address and port indicators: ASNs, IP prefixes (CIDR, RFC 4632 §3.1 and
//! RFC 4291 §2.3) and transport port ranges. Weaker evidence than names (see
//! the research README): they are parsed, validated and exposed here;
//! `match_ip` gives the longest matching prefix.

use std::net::IpAddr;

use foldhash::HashMap;
use foldhash::HashMapExt;

use super::Confidence;
use crate::event::Transport;

/// What an [`IpRule`] designates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IpIndicator {
    /// An autonomous system number (`AS200107`). Matching needs an ASN
    /// database, which the sensor does not have yet.
    Asn(u32),
    /// A CIDR prefix with all host bits zero.
    Prefix(IpPrefix),
}

/// A CIDR prefix: `addr` has no bits set beyond `len`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IpPrefix {
    pub addr: IpAddr,
    pub len: u8,
}

impl IpPrefix {
    /// Parse `a.b.c.d/n` or `x:y::/n`. Host bits must be zero: a prefix
    /// written with them set is ambiguous (typo or host address?).
    pub fn parse(text: &str) -> Result<IpPrefix, String> {
        let (addr, len) = text
            .split_once('/')
            .ok_or_else(|| "expected CIDR notation address/length".to_string())?;
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("`{addr}` is not an IP address"))?;
        if len.is_empty() || len.len() > 3 || !len.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("prefix length `{len}` is not a number"));
        }
        let len: u8 = len
            .parse()
            .map_err(|_| format!("prefix length `{len}` is not a number"))?;
        let max = match addr {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        if len > max {
            return Err(format!("prefix length {len} is longer than {max}"));
        }
        let prefix = IpPrefix { addr, len };
        if to_bits(addr) != mask(to_bits(addr), prefix.bits_len(), len) {
            return Err(format!(
                "host bits are set (did you mean {}/{len}?)",
                from_bits(mask(to_bits(addr), prefix.bits_len(), len), addr)
            ));
        }
        Ok(prefix)
    }

    fn bits_len(&self) -> u8 {
        match self.addr {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        }
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_)) => {
                mask(to_bits(ip), self.bits_len(), self.len) == to_bits(self.addr)
            }
            _ => false,
        }
    }
}

impl std::fmt::Display for IpPrefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// An address right-aligned in a u128 (IPv4 uses the low 32 bits).
fn to_bits(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

fn from_bits(bits: u128, like: IpAddr) -> IpAddr {
    match like {
        IpAddr::V4(_) => IpAddr::V4(u32::try_from(bits).unwrap_or(0).into()),
        IpAddr::V6(_) => IpAddr::V6(bits.into()),
    }
}

/// Keep the top `len` bits of a `width`-bit address.
fn mask(bits: u128, width: u8, len: u8) -> u128 {
    let host = u32::from(width.saturating_sub(len));
    let keep = u128::MAX.checked_shl(host).unwrap_or(0);
    bits & keep
}

/// Parse `AS200107` (case-insensitive `AS`, then 1-10 digits, ≤ u32::MAX,
/// RFC 6793 §2).
pub fn parse_asn(text: &str) -> Result<u32, String> {
    let digits = text
        .strip_prefix("AS")
        .or_else(|| text.strip_prefix("as"))
        .ok_or_else(|| "expected ASxxxx".to_string())?;
    if digits.is_empty() || digits.len() > 10 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err("expected AS followed by digits".to_string());
    }
    digits
        .parse()
        .map_err(|_| "AS number larger than 4294967295".to_string())
}

/// Parse `13000` or `23100-23199` (inclusive, first ≤ last, 1..=65535).
pub fn parse_port_range(text: &str) -> Result<(u16, u16), String> {
    let one = |t: &str| -> Result<u16, String> {
        let t = t.trim();
        if t.is_empty() || t.len() > 5 || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("`{t}` is not a port number"));
        }
        match t.parse::<u16>() {
            Ok(0) => Err("port 0 is not a real port".to_string()),
            Ok(p) => Ok(p),
            Err(_) => Err(format!("`{t}` is larger than 65535")),
        }
    };
    let (first, last) = match text.split_once('-') {
        Some((a, b)) => (one(a)?, one(b)?),
        None => {
            let p = one(text)?;
            (p, p)
        }
    };
    if first > last {
        return Err(format!("range {first}-{last} is reversed"));
    }
    Ok((first, last))
}

/// An `[[ip]]` rule of a pack.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IpRule {
    pub id: String,
    pub vendor: String,
    pub indicator: IpIndicator,
    /// As written in the pack.
    pub value: String,
    pub confidence: Confidence,
    pub source: String,
    pub note: String,
}

impl IpRule {
    /// `asn`, `ipv4` or `ipv6`.
    pub fn kind_str(&self) -> &'static str {
        match self.indicator {
            IpIndicator::Asn(_) => "asn",
            IpIndicator::Prefix(IpPrefix {
                addr: IpAddr::V4(_),
                ..
            }) => "ipv4",
            IpIndicator::Prefix(_) => "ipv6",
        }
    }
}

/// A `[[port]]` rule of a pack: a transport and an inclusive port range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortRule {
    pub id: String,
    pub vendor: String,
    pub transport: Transport,
    pub first: u16,
    pub last: u16,
    pub confidence: Confidence,
    pub source: String,
    pub note: String,
}

impl PortRule {
    pub fn contains(&self, transport: Transport, port: u16) -> bool {
        self.transport == transport && self.first <= port && port <= self.last
    }

    /// `13000` or `23100-23199`.
    pub fn value(&self) -> String {
        if self.first == self.last {
            self.first.to_string()
        } else {
            format!("{}-{}", self.first, self.last)
        }
    }
}

/// Longest-prefix lookup: one hash probe per distinct prefix length present,
/// longest first. Never allocates.
#[derive(Debug, Default)]
pub(crate) struct PrefixIndex {
    /// (family is v6, prefix length, masked address → index into ip rules),
    /// sorted by length, longest first.
    tables: Vec<(bool, u8, HashMap<u128, usize>)>,
}

impl PrefixIndex {
    pub(crate) fn build(rules: &[IpRule]) -> PrefixIndex {
        let mut tables: Vec<(bool, u8, HashMap<u128, usize>)> = Vec::new();
        for (i, rule) in rules.iter().enumerate() {
            let IpIndicator::Prefix(p) = rule.indicator else {
                continue;
            };
            let v6 = p.addr.is_ipv6();
            let pos = match tables.iter().position(|t| t.0 == v6 && t.1 == p.len) {
                Some(pos) => pos,
                None => {
                    tables.push((v6, p.len, HashMap::new()));
                    tables.len() - 1
                }
            };
            if let Some(t) = tables.get_mut(pos) {
                // Duplicates were rejected at load; keep the first anyway.
                t.2.entry(to_bits(p.addr)).or_insert(i);
            }
        }
        tables.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        PrefixIndex { tables }
    }

    pub(crate) fn lookup(&self, ip: IpAddr) -> Option<usize> {
        // An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is the IPv4 host.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        let (v6, width) = (ip.is_ipv6(), if ip.is_ipv6() { 128 } else { 32 });
        let bits = to_bits(ip);
        self.tables
            .iter()
            .filter(|t| t.0 == v6)
            .find_map(|t| t.2.get(&mask(bits, width, t.1)).copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_parsing() {
        let p = IpPrefix::parse("77.74.176.0/21").unwrap();
        assert_eq!(p.len, 21);
        assert!(p.contains("77.74.183.255".parse().unwrap()));
        assert!(!p.contains("77.74.184.0".parse().unwrap()));
        assert!(!p.contains("::1".parse().unwrap()));
        let p = IpPrefix::parse("2a03:2480::/32").unwrap();
        assert!(p.contains("2a03:2480:ffff::1".parse().unwrap()));
        assert!(!p.contains("2a03:2481::1".parse().unwrap()));
        assert!(
            IpPrefix::parse("0.0.0.0/0")
                .unwrap()
                .contains("1.2.3.4".parse().unwrap())
        );

        for bad in [
            "77.74.176.0",
            "77.74.176.0/33",
            "77.74.176.1/21",
            "77.74.176.0/",
            "77.74.176.0/+1",
            "77.74.176/21",
            "2a03:2480::/129",
            "2a03:2480::1/32",
            "x/8",
        ] {
            assert!(IpPrefix::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            IpPrefix::parse("10.1.2.3/8").unwrap_err(),
            "host bits are set (did you mean 10.0.0.0/8?)"
        );
    }

    #[test]
    fn asn_and_ports() {
        assert_eq!(parse_asn("AS200107"), Ok(200107));
        assert_eq!(parse_asn("as4294967295"), Ok(u32::MAX));
        assert!(parse_asn("AS4294967296").is_err());
        assert!(parse_asn("AS").is_err());
        assert!(parse_asn("200107").is_err());
        assert!(parse_asn("AS-1").is_err());

        assert_eq!(parse_port_range("13000"), Ok((13000, 13000)));
        assert_eq!(parse_port_range("23100-23199"), Ok((23100, 23199)));
        assert_eq!(parse_port_range("65535"), Ok((65535, 65535)));
        for bad in [
            "0",
            "65536",
            "",
            "-",
            "23199-23100",
            "1-",
            "a",
            "1-2-3",
            "+5",
        ] {
            assert!(parse_port_range(bad).is_err(), "{bad}");
        }
    }

    fn rule(id: &str, value: &str) -> IpRule {
        IpRule {
            id: id.into(),
            vendor: "t".into(),
            indicator: IpIndicator::Prefix(IpPrefix::parse(value).unwrap()),
            value: value.into(),
            confidence: Confidence::Medium,
            source: "s".into(),
            note: String::new(),
        }
    }

    #[test]
    fn longest_prefix_wins() {
        let rules = vec![
            rule("a", "10.0.0.0/8"),
            rule("b", "10.1.0.0/16"),
            rule("c", "2001:db8::/32"),
        ];
        let idx = PrefixIndex::build(&rules);
        let at = |s: &str| idx.lookup(s.parse().unwrap());
        assert_eq!(at("10.1.2.3"), Some(1));
        assert_eq!(at("10.2.0.0"), Some(0));
        assert_eq!(at("11.0.0.0"), None);
        assert_eq!(at("::ffff:10.1.0.1"), Some(1));
        assert_eq!(at("2001:db8:1::"), Some(2));
        assert_eq!(at("2001:db9::"), None);
    }
}
