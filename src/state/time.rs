//! Timestamps as state.json and the audit log write them: RFC 3339 in UTC with milliseconds
//! (`2026-11-21T08:33:12.511Z`), the parsing back that `list`/`show` need for durations, and the
//! other UTC renderings of an instant (run ids, report columns). The calendar is the `time`
//! crate's; this module fixes the formats.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use time::format_description::BorrowedFormatItem;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

/// A format description for [`format_utc`], written with [`time::macros::format_description!`].
pub type TimeFormat = [BorrowedFormatItem<'static>];

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`: milliseconds are truncated, never rounded.
const RFC3339_MILLIS: &TimeFormat =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");

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

/// The instant `ms` milliseconds after the Unix epoch written in UTC with `format`. Instants
/// outside the years 0000 to 9999 are clamped to them.
pub fn format_utc_millis(ms: i64, format: &TimeFormat) -> String {
    let nanos = i128::from(ms) * 1_000_000;
    let at = OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap_or(if ms < 0 {
        OffsetDateTime::new_utc(time::Date::MIN, time::Time::MIDNIGHT)
    } else {
        OffsetDateTime::new_utc(time::Date::MAX, time::Time::MAX)
    });
    // Formatting a UTC date and time into a String has no way to fail: every component the
    // formats use is present, and the output is memory.
    at.format(format).unwrap_or_default()
}

/// `t`, truncated to milliseconds, written in UTC with `format`.
pub fn format_utc(t: SystemTime, format: &TimeFormat) -> String {
    format_utc_millis(unix_millis(t), format)
}

/// `t` as RFC 3339 UTC with milliseconds, e.g. `2026-11-21T08:33:12.511Z`.
pub fn format_rfc3339(t: SystemTime) -> String {
    format_utc(t, RFC3339_MILLIS)
}

/// The current time as RFC 3339 UTC with milliseconds.
pub fn now_rfc3339() -> String {
    format_rfc3339(SystemTime::now())
}

/// Parses an RFC 3339 timestamp (`2026-11-21T08:33:12.511Z`, any number of fraction digits,
/// `Z` or a `±HH:MM` offset, `T`, `t` or a space between date and time) into milliseconds since
/// the Unix epoch; finer digits are dropped, like the writer does. `None` if it is malformed.
pub fn parse_rfc3339_millis(s: &str) -> Option<i64> {
    // The `time` crate takes any one byte between date and time; the state files never hold
    // anything but `T`, and a reader should not accept more than RFC 3339's examples.
    if !matches!(s.as_bytes().get(10), Some(b'T' | b't' | b' ')) {
        return None;
    }
    let at = OffsetDateTime::parse(s, &Rfc3339).ok()?;
    let nanos = at.to_offset(UtcOffset::UTC).unix_timestamp_nanos();
    i64::try_from(nanos.div_euclid(1_000_000)).ok()
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

    const MILLIS_PER_DAY: i64 = 86_400_000;

    #[test]
    fn round_trips_every_day_across_leap_years() {
        // Every day from 1896 to 2104 (1900 and 2100 are not leap years, 2000 is).
        let first = parse_rfc3339_millis("1896-01-01T00:00:00Z").unwrap() / MILLIS_PER_DAY;
        let last = parse_rfc3339_millis("2104-12-31T00:00:00Z").unwrap() / MILLIS_PER_DAY;
        assert_eq!(last - first, 76_335);
        for day in first..=last {
            let ms = day * MILLIS_PER_DAY + 45_296_789;
            let text = format_rfc3339(system_time_from_millis(ms));
            assert!(text.ends_with("T12:34:56.789Z"), "{text}");
            assert_eq!(parse_rfc3339_millis(&text), Some(ms), "{text}");
        }
    }

    #[test]
    fn other_formats_and_the_clamped_range() {
        let ms = parse_rfc3339_millis("2026-11-21T08:33:12.511Z").unwrap();
        let date_path = format_description!("[year]/[month]/[day]");
        assert_eq!(format_utc_millis(ms, date_path), "2026/11/21");
        let clock = format_description!("[hour]:[minute]:[second].[subsecond digits:3]");
        assert_eq!(format_utc_millis(ms, clock), "08:33:12.511");
        assert_eq!(
            format_utc_millis(ms - 1_000_000_000_000_000, date_path),
            "-9999/01/01"
        );
        assert_eq!(format_utc_millis(i64::MAX, date_path), "9999/12/31");
        // Fractions are cut, not rounded, also before the epoch.
        assert_eq!(format_utc_millis(-1, clock), "23:59:59.999");
        assert_eq!(
            format_rfc3339(UNIX_EPOCH + Duration::from_nanos(999_999)),
            "1970-01-01T00:00:00.000Z"
        );
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
            format_rfc3339(system_time_from_millis(feb29 + 1)),
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
            "2026-11-21X08:33:12Z",
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
