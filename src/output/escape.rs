//! The one escaping every output format applies to names (and to every other
//! string it writes): names come from traffic and are attacker-controlled
//! bytes.
//!
//! # The name escaping
//!
//! | byte                                   | written as        |
//! |----------------------------------------|-------------------|
//! | printable ASCII `0x20..=0x7e` but `\`  | itself            |
//! | `\` (0x5c)                             | `\\`              |
//! | anything else (0x00..=0x1f, 0x7f, 0x80..=0xff) | `\xHH`, two lowercase hex digits |
//!
//! Guarantees:
//!
//! - The result is printable ASCII only: no control characters (so no line
//!   breaks, terminal escape sequences or NULs), no byte ≥ 0x80.
//! - It is reversible: [`unescape`] returns the exact wire bytes, because a
//!   backslash in the escaped text always starts `\\` or `\xHH`.
//! - It never fails and never allocates beyond the caller's buffer.
//!
//! Bytes ≥ 0x80 are escaped even when they form valid UTF-8. Names on the
//! wire are ASCII by definition (IDNA A-labels per RFC 5890 §2.3.2.1; SNI
//! HostName per RFC 6066 §3; HTTP `Host` per RFC 9110 §7.2), so raw UTF-8 in
//! a name is itself an anomaly worth seeing byte for byte, and passing it
//! through would let traffic put bidirectional overrides, zero-width
//! characters and look-alike letters in front of an analyst.
//!
//! Each format then applies its own quoting on top of the escaped text:
//! [`write_json_str`] (RFC 8259 §7) and [`csv_field`] (RFC 4180 §2 plus
//! formula defusing).

use std::fmt;

const HEX: &[u8; 16] = b"0123456789abcdef";

/// True for the bytes that the name escaping writes as themselves.
#[inline]
pub fn passes_through(b: u8) -> bool {
    (0x20..=0x7e).contains(&b) && b != b'\\'
}

/// Appends the escaped form of `name` to `out`.
pub fn escape_into(name: &[u8], out: &mut Vec<u8>) {
    for &b in name {
        if passes_through(b) {
            out.push(b);
        } else if b == b'\\' {
            out.extend_from_slice(b"\\\\");
        } else {
            out.extend_from_slice(&[
                b'\\',
                b'x',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ]);
        }
    }
}

/// The escaped form of `name` as an owned string (for the cold paths:
/// inventories and summaries).
pub fn escape_to_string(name: &[u8]) -> String {
    Escaped(name).to_string()
}

/// Displays a name escaped, without an intermediate buffer.
#[derive(Clone, Copy, Debug)]
pub struct Escaped<'a>(pub &'a [u8]);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while !rest.is_empty() {
            // Write the longest run that passes through in one call.
            let run = rest
                .iter()
                .position(|&b| !passes_through(b))
                .unwrap_or(rest.len());
            let (plain, tail) = rest.split_at(run);
            // `plain` is printable ASCII, hence valid UTF-8.
            if let Ok(s) = std::str::from_utf8(plain) {
                f.write_str(s)?;
            }
            let Some((&b, after)) = tail.split_first() else {
                break;
            };
            if b == b'\\' {
                f.write_str("\\\\")?;
            } else {
                write!(f, "\\x{b:02x}")?;
            }
            rest = after;
        }
        Ok(())
    }
}

/// Reverses the name escaping: the exact bytes that were escaped, or `None`
/// when `escaped` is not something [`escape_into`] can produce (a lone or
/// unknown backslash sequence, a byte outside printable ASCII).
pub fn unescape(escaped: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(escaped.len());
    let mut i = 0;
    while let Some(&b) = escaped.get(i) {
        if b == b'\\' {
            match escaped.get(i + 1)? {
                b'\\' => {
                    out.push(b'\\');
                    i += 2;
                }
                b'x' => {
                    let hi = hex_value(*escaped.get(i + 2)?)?;
                    let lo = hex_value(*escaped.get(i + 3)?)?;
                    out.push(hi << 4 | lo);
                    i += 4;
                }
                _ => return None,
            }
        } else if passes_through(b) {
            out.push(b);
            i += 1;
        } else {
            return None;
        }
    }
    Some(out)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}

/// Appends `raw`, name-escaped, as a JSON string literal (quotes included).
///
/// The escaped text is printable ASCII, so the only characters RFC 8259 §7
/// requires escaping that can remain are `"` and `\`; both get a backslash.
/// A raw backslash therefore appears as `\\\\` in the JSON text (a JSON
/// reader sees `\\`, the name escaping of `\`), and a raw 0x0a as `\\x0a`.
pub fn write_json_str(raw: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &b in raw {
        if b == b'"' {
            out.extend_from_slice(b"\\\"");
        } else if passes_through(b) {
            out.push(b);
        } else if b == b'\\' {
            // Name escaping gives `\\`; JSON escapes each of the two.
            out.extend_from_slice(b"\\\\\\\\");
        } else {
            // Name escaping gives `\xHH`; JSON escapes its backslash.
            out.extend_from_slice(&[
                b'\\',
                b'\\',
                b'x',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ]);
        }
    }
    out.push(b'"');
}

/// Bytes that make a spreadsheet read a cell as a formula when they start it
/// (OWASP "CSV Injection"): `=`, `+`, `-`, `@`, tab and carriage return.
const FORMULA_STARTS: &[u8] = b"=+-@\t\r";

/// Appends one CSV field (RFC 4180 §2) holding `text`, defused against
/// spreadsheet formula injection.
///
/// - A field starting with `=` `+` `-` `@` tab or CR gets a leading `'`, so
///   spreadsheet programs show it as text instead of evaluating it.
/// - A field containing `,` `"` CR or LF, or one that was defused, is
///   enclosed in double quotes with each `"` doubled.
///
/// `text` is written as given: apply the name escaping first to anything
/// that came from traffic ([`escape_to_string`]), which also removes CR, LF
/// and tab.
pub fn csv_field(text: &str, out: &mut String) {
    let defuse = text
        .as_bytes()
        .first()
        .is_some_and(|b| FORMULA_STARTS.contains(b));
    let quote = defuse
        || text
            .bytes()
            .any(|b| matches!(b, b',' | b'"' | b'\r' | b'\n'));
    if quote {
        out.push('"');
    }
    if defuse {
        out.push('\'');
    }
    if quote {
        for c in text.chars() {
            if c == '"' {
                out.push('"');
            }
            out.push(c);
        }
        out.push('"');
    } else {
        out.push_str(text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn esc(name: &[u8]) -> String {
        let mut v = Vec::new();
        escape_into(name, &mut v);
        String::from_utf8(v).expect("escaped text is ASCII")
    }

    #[test]
    fn printable_ascii_passes_through() {
        // Every printable byte but the backslash, in one name.
        let all: Vec<u8> = (0x20u8..=0x7e).filter(|&b| b != b'\\').collect();
        assert_eq!(esc(&all).as_bytes(), &all[..]);
        assert_eq!(esc(b"upd.kaspersky.com"), "upd.kaspersky.com");
    }

    #[test]
    fn backslash_control_del_and_high_bytes_are_escaped() {
        assert_eq!(esc(b"a\\b"), "a\\\\b");
        assert_eq!(esc(b"\x00"), "\\x00");
        assert_eq!(esc(b"a\nb"), "a\\x0ab");
        assert_eq!(esc(b"\r\t\x1b[31m"), "\\x0d\\x09\\x1b[31m");
        assert_eq!(esc(b"\x7f"), "\\x7f");
        assert_eq!(esc(b"\xff\x80"), "\\xff\\x80");
        // Valid UTF-8 is escaped too: "ü" is c3 bc; U+202E (RTL override) is e2 80 ae.
        assert_eq!(esc("ü".as_bytes()), "\\xc3\\xbc");
        assert_eq!(esc("a\u{202e}b".as_bytes()), "a\\xe2\\x80\\xaeb");
    }

    #[test]
    fn every_byte_round_trips_and_output_is_printable_ascii() {
        let all: Vec<u8> = (0u8..=255).collect();
        let e = esc(&all);
        assert!(e.bytes().all(|b| (0x20..=0x7e).contains(&b)));
        assert_eq!(unescape(e.as_bytes()).as_deref(), Some(&all[..]));
        // Display gives the same text as escape_into.
        assert_eq!(Escaped(&all).to_string(), e);
        assert_eq!(escape_to_string(&all), e);
    }

    #[test]
    fn escaped_text_that_looks_like_an_escape_stays_distinct() {
        // The literal text `\x41` must not collide with the byte 0x41 ("A").
        assert_eq!(esc(b"\\x41"), "\\\\x41");
        assert_ne!(esc(b"\\x41"), esc(b"A"));
        assert_eq!(unescape(b"\\\\x41").as_deref(), Some(&b"\\x41"[..]));
    }

    #[test]
    fn unescape_rejects_what_escape_cannot_produce() {
        assert_eq!(unescape(b"\\"), None);
        assert_eq!(unescape(b"\\n"), None);
        assert_eq!(unescape(b"\\x4"), None);
        assert_eq!(unescape(b"\\xZZ"), None);
        assert_eq!(unescape(b"\\x4F"), None, "uppercase hex is never produced");
        assert_eq!(unescape(b"a\nb"), None);
        assert_eq!(unescape(b""), Some(Vec::new()));
    }

    fn json(raw: &[u8]) -> String {
        let mut v = Vec::new();
        write_json_str(raw, &mut v);
        String::from_utf8(v).expect("JSON text is ASCII")
    }

    #[test]
    fn json_string_is_the_escaped_name_json_quoted() {
        assert_eq!(json(b"a\"b"), r#""a\"b""#);
        assert_eq!(json(b"a\\b"), r#""a\\\\b""#);
        assert_eq!(json(b"a\nb"), r#""a\\x0ab""#);
        // A JSON reader gets back exactly the name escaping.
        for raw in [&b"a\"b\\c\n\x00\xff|="[..], b"", b"\"", b"\\"] {
            let back: String = serde_json::from_str(&json(raw)).expect("valid JSON");
            assert_eq!(back, esc(raw));
        }
    }

    #[test]
    fn hostile_name_is_one_line_of_valid_json() {
        // Newline, quote, pipe, equals, NUL and invalid UTF-8 in one name.
        let raw = b"evil\n\"|=\x00\xc3\x28.kaspersky.com";
        let s = json(raw);
        assert!(!s.contains('\n') && !s.contains('\r'));
        let v: serde_json::Value = serde_json::from_str(&s).expect("valid JSON");
        let text = v.as_str().expect("a JSON string");
        assert_eq!(text, "evil\\x0a\"|=\\x00\\xc3(.kaspersky.com");
        assert_eq!(unescape(text.as_bytes()).as_deref(), Some(&raw[..]));
    }

    fn csv(text: &str) -> String {
        let mut s = String::new();
        csv_field(text, &mut s);
        s
    }

    #[test]
    fn csv_quotes_per_rfc_4180() {
        assert_eq!(csv("plain.example"), "plain.example");
        assert_eq!(csv(""), "");
        assert_eq!(csv("a,b"), "\"a,b\"");
        assert_eq!(csv("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv("a\nb"), "\"a\nb\"");
        assert_eq!(csv("a\rb"), "\"a\rb\"");
        // A quote alone is quoted and doubled.
        assert_eq!(csv("\""), "\"\"\"\"");
    }

    #[test]
    fn csv_defuses_formula_starts() {
        assert_eq!(csv("=cmd|' /C calc'!A0"), "\"'=cmd|' /C calc'!A0\"");
        assert_eq!(csv("+1"), "\"'+1\"");
        assert_eq!(csv("-1+2"), "\"'-1+2\"");
        assert_eq!(csv("@SUM(A1)"), "\"'@SUM(A1)\"");
        assert_eq!(csv("\tx"), "\"'\tx\"");
        assert_eq!(csv("\rx"), "\"'\rx\"");
        assert_eq!(csv("=\"a\",b"), "\"'=\"\"a\"\",b\"");
        // Only the first character matters.
        assert_eq!(csv("a=b"), "a=b");
        assert_eq!(csv("xn--80ak6aa92e.com"), "xn--80ak6aa92e.com");
    }

    #[test]
    fn csv_of_escaped_hostile_name_has_no_line_break() {
        let cell = csv(&escape_to_string(b"=1+2\r\n,x"));
        assert_eq!(cell, "\"'=1+2\\x0d\\x0a,x\"");
    }
}
