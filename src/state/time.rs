//! Timestamps as state.json and the audit log write them: RFC 3339 in UTC with milliseconds
//! (`2026-11-21T08:33:12.511Z`), and the parsing back that `list`/`show` need for durations.
//!
//! The civil-date conversion is the days-from-civil algorithm on the proleptic Gregorian calendar
//! (400-year eras), done here rather than pulling in a date crate for two functions.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

const MILLIS_PER_DAY: i64 = 86_400_000;

/// A UTC calendar date and time of day, at millisecond precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtcDateTime {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub millisecond: u32,
}

impl UtcDateTime {
    /// The calendar time of a point given in milliseconds since the Unix epoch.
    pub fn from_unix_millis(ms: i64) -> Self {
        let days = ms.div_euclid(MILLIS_PER_DAY);
        let rest = ms.rem_euclid(MILLIS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        // `rest` is in [0, 86_400_000), so every part below fits a u32.
        let rest = rest as u32;
        UtcDateTime {
            year,
            month,
            day,
            hour: rest / 3_600_000,
            minute: rest / 60_000 % 60,
            second: rest / 1000 % 60,
            millisecond: rest % 1000,
        }
    }

    /// The calendar time of a [`SystemTime`], truncated to milliseconds.
    pub fn from_system_time(t: SystemTime) -> Self {
        Self::from_unix_millis(unix_millis(t))
    }

    /// Milliseconds since the Unix epoch. Fields out of their usual range simply carry over
    /// (second 60 becomes the next minute).
    pub fn to_unix_millis(&self) -> i64 {
        let days = days_from_civil(self.year, self.month, self.day);
        days * MILLIS_PER_DAY
            + i64::from(self.hour) * 3_600_000
            + i64::from(self.minute) * 60_000
            + i64::from(self.second) * 1000
            + i64::from(self.millisecond)
    }

    /// `YYYY-MM-DDTHH:MM:SS.mmmZ`.
    pub fn to_rfc3339(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            self.year, self.month, self.day, self.hour, self.minute, self.second, self.millisecond
        )
    }
}

/// Milliseconds since the Unix epoch (negative before 1970).
pub fn unix_millis(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_millis()).map_or(i64::MIN, |ms| -ms),
    }
}

/// The [`SystemTime`] of a millisecond count since the Unix epoch.
pub fn system_time_from_millis(ms: i64) -> SystemTime {
    let magnitude = Duration::from_millis(ms.unsigned_abs());
    if ms >= 0 {
        UNIX_EPOCH + magnitude
    } else {
        UNIX_EPOCH - magnitude
    }
}

/// `t` as RFC 3339 UTC with milliseconds, e.g. `2026-11-21T08:33:12.511Z`.
pub fn format_rfc3339(t: SystemTime) -> String {
    UtcDateTime::from_system_time(t).to_rfc3339()
}

/// The current time as RFC 3339 UTC with milliseconds.
pub fn now_rfc3339() -> String {
    format_rfc3339(SystemTime::now())
}

/// Parses an RFC 3339 timestamp (`2026-11-21T08:33:12.511Z`, any number of fraction digits,
/// `Z` or a `±HH:MM` offset) into milliseconds since the Unix epoch. `None` if it is malformed.
pub fn parse_rfc3339_millis(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    if !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let year = i64::from(digits(&b[0..4])?);
    let month = digits(&b[5..7])?;
    let day = digits(&b[8..10])?;
    let hour = digits(&b[11..13])?;
    let minute = digits(&b[14..16])?;
    let second = digits(&b[17..19])?;
    if !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }

    let mut rest = &b[19..];
    let mut millisecond = 0;
    if let Some((b'.', frac)) = rest.split_first() {
        let n = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        // Keep milliseconds; finer digits are dropped (truncation, like the writer).
        let padded = frac[..n].iter().chain(std::iter::repeat(&b'0')).take(3);
        millisecond = padded.fold(0, |acc, c| acc * 10 + u32::from(c - b'0'));
        rest = &frac[n..];
    }

    let offset_minutes: i64 = match rest {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let h = i64::from(digits(&[*h1, *h2])?);
            let m = i64::from(digits(&[*m1, *m2])?);
            if h > 23 || m > 59 {
                return None;
            }
            let total = h * 60 + m;
            if *sign == b'-' { -total } else { total }
        }
        _ => return None,
    };

    let local = UtcDateTime {
        year,
        month,
        day,
        hour,
        minute,
        second,
        millisecond,
    };
    Some(local.to_unix_millis() - offset_minutes * 60_000)
}

/// Parses an RFC 3339 timestamp into a [`SystemTime`]. `None` if it is malformed.
pub fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    parse_rfc3339_millis(s).map(system_time_from_millis)
}

/// Milliseconds from `start` to `end`, both RFC 3339; `None` if either is malformed or `end` is
/// before `start`.
pub fn duration_ms_between(start: &str, end: &str) -> Option<u64> {
    let d = parse_rfc3339_millis(end)? - parse_rfc3339_millis(start)?;
    u64::try_from(d).ok()
}

fn digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |acc, c| {
        c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
    })
}

fn is_leap_year(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    // Years start in March so that the leap day is the last day of the year.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let month_from_march = i64::from((month + 9) % 12);
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The proleptic Gregorian date of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    // Both values are small and non-negative by construction.
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_the_epoch_and_a_known_instant() {
        assert_eq!(format_rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        // 2026-11-21T08:33:12.511Z; `date -u -d 2026-11-21 +%s` / 86400 = 20_778 days.
        let ms = 20_778 * MILLIS_PER_DAY + (8 * 3600 + 33 * 60 + 12) * 1000 + 511;
        assert_eq!(
            format_rfc3339(system_time_from_millis(ms)),
            "2026-11-21T08:33:12.511Z"
        );
        assert_eq!(parse_rfc3339_millis("2026-11-21T08:33:12.511Z"), Some(ms));
    }

    #[test]
    fn round_trips_every_day_across_leap_years() {
        // Every day from 1896 to 2104 (1900 and 2100 are not leap years, 2000 is).
        let first = days_from_civil(1896, 1, 1);
        let last = days_from_civil(2104, 12, 31);
        for day in first..=last {
            let ms = day * MILLIS_PER_DAY + 45_296_789;
            let text = UtcDateTime::from_unix_millis(ms).to_rfc3339();
            assert_eq!(parse_rfc3339_millis(&text), Some(ms), "{text}");
        }
    }

    #[test]
    fn leap_days() {
        assert!(parse_rfc3339("2024-02-29T00:00:00.000Z").is_some());
        assert!(parse_rfc3339("2000-02-29T00:00:00.000Z").is_some());
        assert!(parse_rfc3339("2023-02-29T00:00:00.000Z").is_none());
        assert!(parse_rfc3339("1900-02-29T00:00:00.000Z").is_none());
        assert!(parse_rfc3339("2100-02-29T12:00:00.000Z").is_none());
        let feb29 = parse_rfc3339_millis("2024-02-29T23:59:59.999Z").unwrap();
        assert_eq!(
            UtcDateTime::from_unix_millis(feb29 + 1).to_rfc3339(),
            "2024-03-01T00:00:00.000Z"
        );
    }

    #[test]
    fn before_the_epoch() {
        let t = parse_rfc3339("1969-12-31T23:59:59.999Z").unwrap();
        assert_eq!(unix_millis(t), -1);
        assert_eq!(format_rfc3339(t), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn parses_fractions_and_offsets() {
        let base = parse_rfc3339_millis("2026-11-21T08:33:12.000Z").unwrap();
        assert_eq!(parse_rfc3339_millis("2026-11-21T08:33:12Z"), Some(base));
        assert_eq!(
            parse_rfc3339_millis("2026-11-21T08:33:12.5Z"),
            Some(base + 500)
        );
        assert_eq!(
            parse_rfc3339_millis("2026-11-21T08:33:12.123456789Z"),
            Some(base + 123)
        );
        assert_eq!(
            parse_rfc3339_millis("2026-11-21T09:33:12+01:00"),
            Some(base)
        );
        assert_eq!(
            parse_rfc3339_millis("2026-11-21T07:03:12-01:30"),
            Some(base)
        );
    }

    #[test]
    fn rejects_malformed_text() {
        for bad in [
            "",
            "2026-11-21",
            "2026-11-21T08:33:12.511",
            "2026-13-01T00:00:00Z",
            "2026-11-31T00:00:00Z",
            "2026-11-21T24:00:00Z",
            "2026-11-21T08:33:12.Z",
            "2026-11-21T08:33:12.511Zjunk",
            "2026-11-21T08:33:12+0100",
            "２０２６-11-21T08:33:12Z",
        ] {
            assert_eq!(parse_rfc3339_millis(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(
            duration_ms_between("2026-11-21T08:33:12.511Z", "2026-11-21T09:40:02.004Z"),
            Some(4_009_493)
        );
        assert_eq!(
            duration_ms_between("2026-11-21T09:40:02.004Z", "2026-11-21T08:33:12.511Z"),
            None
        );
    }
}
