//! Packet time as RFC 3339 text (RFC 3339 §5.6 `date-time`, always UTC
//! `Z`, always six fractional digits), e.g. `2024-10-01T12:00:00.123456Z`.
//!
//! Nanoseconds are truncated to microseconds, never rounded: rounding could
//! move a packet into the next second, minute or year. The proleptic
//! Gregorian calendar is computed here; no time-zone database is involved.

use std::io::Write;

use crate::event::TsNs;

const NS_PER_SEC: u64 = 1_000_000_000;
const SECS_PER_DAY: u64 = 86_400;
/// Days in one 400-year Gregorian cycle: 400 × 365 + 97 leap days.
const DAYS_PER_ERA: u64 = 146_097;
/// Days from 0000-03-01 to 1970-01-01. Counting from a March 1st puts the
/// leap day at the end of each (March-based) year.
const DAYS_0000_03_01_TO_EPOCH: u64 = 719_468;

/// The civil date `(year, month 1..=12, day 1..=31)` of `days` days after
/// 1970-01-01, in the proleptic Gregorian calendar.
pub fn civil_from_days(days: u64) -> (u64, u32, u32) {
    let d = days + DAYS_0000_03_01_TO_EPOCH;
    let era = d / DAYS_PER_ERA;
    let day_of_era = d % DAYS_PER_ERA; // 0..=146_096
    // Years into the era, correcting for the leap days of every 4th year,
    // the missing ones every 100th and the extra one at the era's end.
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365; // 0..=399
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100); // 0..=365
    // Months from March: 153 days cover each 5-month block (31,30,31,30,31).
    let month_from_march = (5 * day_of_year + 2) / 153; // 0..=11
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1; // 1..=31
    let (month, year_bump) = if month_from_march < 10 {
        (month_from_march + 3, 0)
    } else {
        (month_from_march - 9, 1)
    };
    let year = era * 400 + year_of_era + year_bump;
    // Both fit: month ≤ 12, day ≤ 31.
    (year, month as u32, day as u32)
}

/// Appends `ts` as RFC 3339 UTC with microseconds. The year has at least
/// four digits; every u64 nanosecond time is before the year 2555.
pub fn write_rfc3339(ts: TsNs, out: &mut Vec<u8>) {
    let secs = ts / NS_PER_SEC;
    let micros = (ts % NS_PER_SEC) / 1_000;
    let (year, month, day) = civil_from_days(secs / SECS_PER_DAY);
    let sod = secs % SECS_PER_DAY;
    // Writing to a Vec cannot fail.
    let _ = write!(
        out,
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{micros:06}Z",
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    );
}

/// `ts` as an RFC 3339 string (cold paths: inventories, summaries).
pub fn rfc3339(ts: TsNs) -> String {
    let mut v = Vec::with_capacity(27);
    write_rfc3339(ts, &mut v);
    String::from_utf8(v).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = NS_PER_SEC;

    #[test]
    fn epoch() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000000Z");
    }

    #[test]
    fn known_instants() {
        // 2024-10-01T12:00:00Z = 1727784000 (date -u -d @1727784000).
        assert_eq!(
            rfc3339(1_727_784_000 * S + 123_456_000),
            "2024-10-01T12:00:00.123456Z"
        );
        // 2038-01-19T03:14:07Z, the i32 rollover.
        assert_eq!(rfc3339(2_147_483_647 * S), "2038-01-19T03:14:07.000000Z");
        // Last representable instant: 2^64 - 1 ns.
        assert_eq!(rfc3339(u64::MAX), "2554-07-21T23:34:33.709551Z");
    }

    #[test]
    fn microseconds_truncate_not_round() {
        // 1999-12-31T23:59:59.999999999Z must not become year 2000.
        let ts = 946_684_799 * S + 999_999_999;
        assert_eq!(rfc3339(ts), "1999-12-31T23:59:59.999999Z");
        assert_eq!(rfc3339(1), "1970-01-01T00:00:00.000000Z");
        assert_eq!(rfc3339(999), "1970-01-01T00:00:00.000000Z");
        assert_eq!(rfc3339(1_000), "1970-01-01T00:00:00.000001Z");
    }

    #[test]
    fn leap_years() {
        let day = |d: u64| civil_from_days(d);
        // 2000 is a leap year (divisible by 400): 2000-02-29 is day 11_016.
        assert_eq!(day(11_016), (2000, 2, 29));
        assert_eq!(day(11_017), (2000, 3, 1));
        // 2024-02-29 is day 19_782.
        assert_eq!(day(19_782), (2024, 2, 29));
        // 2100 is not a leap year (divisible by 100, not 400).
        assert_eq!(day(47_540), (2100, 2, 28));
        assert_eq!(day(47_541), (2100, 3, 1));
        // 2400 is.
        assert_eq!(day(157_113), (2400, 2, 29));
        assert_eq!(
            rfc3339(19_782 * SECS_PER_DAY * S),
            "2024-02-29T00:00:00.000000Z"
        );
    }

    fn is_leap(y: u64) -> bool {
        (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400)
    }

    #[test]
    fn agrees_with_day_by_day_count_through_year_2554() {
        // An independent, obviously-correct reference: walk the calendar.
        let month_len = |y: u64, m: u32| match m {
            2 if is_leap(y) => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        let (mut y, mut m, mut d) = (1970u64, 1u32, 1u32);
        let last_day = u64::MAX / NS_PER_SEC / SECS_PER_DAY;
        for days in 0..=last_day {
            assert_eq!(civil_from_days(days), (y, m, d), "day {days}");
            d += 1;
            if d > month_len(y, m) {
                d = 1;
                m += 1;
                if m > 12 {
                    m = 1;
                    y += 1;
                }
            }
        }
    }
}
