//! PocketBase datetimes (pocketbase-api.md §2.1, §7).
//!
//! PocketBase writes every datetime — autodate fields, date fields, the `@now`-style macros — as
//! `YYYY-MM-DD HH:MM:SS.sssZ`: UTC, a space instead of `T`, exactly three fraction digits. The
//! fixed width is what makes string comparison in SQL order datetimes correctly, so everything
//! stored or compared goes through [`format()`]. Input is more lenient: [`parse`] also takes
//! RFC 3339 (any offset, any number of fraction digits) and a bare date, and [`normalize`] turns
//! any of those into the canonical form.

use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use time::macros::time;
use time::{Date, Duration, Month, OffsetDateTime, Time, UtcOffset};

use baas_schema::expr::ast::Macro;

/// The last millisecond of a day, as `@todayEnd`, `@monthEnd` and `@yearEnd` report it.
const END_OF_DAY: Time = time!(23:59:59.999);

/// Formats `t` in the canonical form, converted to UTC: `2026-11-25 08:29:46.654Z`.
///
/// Sub-millisecond digits are truncated, not rounded (as PocketBase does).
pub fn format(t: OffsetDateTime) -> String {
    // Only an instant at the very edge of the supported range (year ±9999) can fail to convert;
    // it is then written with its own wall-clock fields rather than panicking.
    let t = t.checked_to_offset(UtcOffset::UTC).unwrap_or(t);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// The current instant in the canonical form.
pub fn now() -> String {
    format(OffsetDateTime::now_utc())
}

/// Now, in seconds since the Unix epoch (the runtime's own tables: codes, MFA sessions).
pub fn unix_secs() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// Now, in milliseconds since the Unix epoch (the outbox).
pub fn unix_millis() -> i64 {
    i64::try_from(OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// Parses a datetime as clients send it, returning it in UTC.
///
/// Accepted: the canonical form (`2025-05-05 10:00:00.123Z`); RFC 3339 with `T`, `t` or a space
/// between date and time, with or without fraction digits, with `Z` or a numeric offset
/// (`2025-05-05T10:00:00+02:00`); the same without any offset, read as UTC
/// (`2025-05-05 10:00:00`); a bare date (`2025-05-05`), read as midnight UTC. Surrounding
/// whitespace is ignored. Anything else, and any instant outside the years 0000–9999 once in UTC
/// (the canonical form is fixed-width), is `None`.
pub fn parse(input: &str) -> Option<OffsetDateTime> {
    let s = input.trim();
    let bytes = s.as_bytes();
    let parsed = if bytes.len() == 10 {
        OffsetDateTime::parse(&format!("{s}T00:00:00Z"), &Rfc3339).ok()?
    } else {
        // The RFC 3339 parser takes any byte as the separator; only these three are dates.
        if !matches!(bytes.get(10), Some(b'T' | b't' | b' ')) {
            return None;
        }
        // An offset can only start after the seconds (position 19); dashes before it belong to
        // the date.
        let has_offset = bytes.get(19..).is_some_and(|rest| rest.iter().any(|b| b"Zz+-".contains(b)));
        if has_offset {
            OffsetDateTime::parse(s, &Rfc3339).ok()?
        } else {
            OffsetDateTime::parse(&format!("{s}Z"), &Rfc3339).ok()?
        }
    };
    let utc = parsed.checked_to_offset(UtcOffset::UTC)?;
    (0..=9999).contains(&utc.year()).then_some(utc)
}

/// [`parse`] then [`format()`]: the canonical form of a client-supplied datetime, or `None`.
pub fn normalize(input: &str) -> Option<String> {
    parse(input).map(format)
}

/// The value of a datetime macro at the instant `now` (taken in UTC), as the rule and filter
/// evaluator compares it: numbers for the calendar components (`@weekday` counts from
/// 0 = Sunday), canonical datetime strings for everything else.
pub fn macro_value(m: Macro, now: OffsetDateTime) -> Value {
    let now = now.checked_to_offset(UtcOffset::UTC).unwrap_or(now);
    let date = now.date();
    let at = |date: Date, time: Time| Value::String(format(date.with_time(time).assume_utc()));
    match m {
        Macro::Now => Value::String(format(now)),
        Macro::Second => json!(now.second()),
        Macro::Minute => json!(now.minute()),
        Macro::Hour => json!(now.hour()),
        Macro::Weekday => json!(now.weekday().number_days_from_sunday()),
        Macro::Day => json!(now.day()),
        Macro::Month => json!(u8::from(now.month())),
        Macro::Year => json!(now.year()),
        Macro::Yesterday => Value::String(format(now.saturating_sub(Duration::DAY))),
        Macro::Tomorrow => Value::String(format(now.saturating_add(Duration::DAY))),
        Macro::TodayStart => at(date, Time::MIDNIGHT),
        Macro::TodayEnd => at(date, END_OF_DAY),
        Macro::MonthStart => at(first_of_month(date), Time::MIDNIGHT),
        Macro::MonthEnd => at(last_of_month(date), END_OF_DAY),
        Macro::YearStart => at(month_day(date.year(), Month::January, 1).unwrap_or(date), Time::MIDNIGHT),
        Macro::YearEnd => at(month_day(date.year(), Month::December, 31).unwrap_or(date), END_OF_DAY),
    }
}

fn month_day(year: i32, month: Month, day: u8) -> Option<Date> {
    Date::from_calendar_date(year, month, day).ok()
}

fn first_of_month(date: Date) -> Date {
    month_day(date.year(), date.month(), 1).unwrap_or(date)
}

fn last_of_month(date: Date) -> Date {
    month_day(date.year(), date.month(), date.month().length(date.year())).unwrap_or(date)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    /// The instant the reference (§7) was checked at: a Wednesday.
    const NOW: OffsetDateTime = datetime!(2026-11-25 08:29:46.654 UTC);

    #[test]
    fn formats_canonically() {
        assert_eq!(format(NOW), "2026-11-25 08:29:46.654Z");
        assert_eq!(format(datetime!(2025-05-05 10:00 UTC)), "2025-05-05 10:00:00.000Z");
        // Truncated, not rounded; converted to UTC.
        assert_eq!(format(datetime!(2025-12-31 23:59:59.9999 UTC)), "2025-12-31 23:59:59.999Z");
        assert_eq!(format(datetime!(2025-05-05 02:00 +02:00)), "2025-05-05 00:00:00.000Z");
        assert_eq!(format(datetime!(0001-01-01 00:00 UTC)), "0001-01-01 00:00:00.000Z");
    }

    #[test]
    fn now_is_canonical_and_round_trips() {
        let s = now();
        assert_eq!(s.len(), 24);
        assert_eq!(normalize(&s).as_deref(), Some(s.as_str()));
    }

    #[test]
    fn parses_every_accepted_form() {
        let cases = [
            ("2025-05-05 10:00:00.123Z", "2025-05-05 10:00:00.123Z"),
            ("2025-05-05T10:00:00Z", "2025-05-05 10:00:00.000Z"),
            ("2025-05-05t10:00:00z", "2025-05-05 10:00:00.000Z"),
            ("2025-05-05T10:00:00.5Z", "2025-05-05 10:00:00.500Z"),
            ("2025-05-05T10:00:00.123456789Z", "2025-05-05 10:00:00.123Z"),
            ("2025-05-05T10:00:00+02:00", "2025-05-05 08:00:00.000Z"),
            ("2025-05-05T23:30:00.250-01:30", "2025-05-06 01:00:00.250Z"),
            ("2025-05-05 10:00:00", "2025-05-05 10:00:00.000Z"),
            ("2025-05-05T10:00:00", "2025-05-05 10:00:00.000Z"),
            ("2025-05-05 10:00:00Z", "2025-05-05 10:00:00.000Z"),
            ("2025-05-05 10:00:00.7", "2025-05-05 10:00:00.700Z"),
            ("2025-05-05", "2025-05-05 00:00:00.000Z"),
            ("  2025-05-05  ", "2025-05-05 00:00:00.000Z"),
            ("2024-02-29", "2024-02-29 00:00:00.000Z"),
        ];
        for (input, want) in cases {
            assert_eq!(normalize(input).as_deref(), Some(want), "input {input:?}");
        }
    }

    #[test]
    fn rejects_garbage() {
        let cases = [
            "",
            "now",
            "2025-13-01",
            "2025-02-30",
            "2023-02-29",
            "2025-5-5",
            "25-05-05",
            "2025/05/05",
            "2025-05-05x10:00:00Z",
            "2025-05-05 10:00",
            "2025-05-05 24:00:00Z",
            "2025-05-05 10:00:00+25:00",
            "2025-05-05 10:00:00Zjunk",
            "2025-05-05 10:00:00.Z",
            "9999-12-31T23:00:00-02:00",
            "0000-01-01T00:30:00+01:00",
            "2025-05-05 10:00:00é",
            "é025-05-05",
        ];
        for input in cases {
            assert_eq!(parse(input), None, "input {input:?}");
        }
    }

    #[test]
    fn macros_at_a_fixed_instant() {
        let expected = [
            (Macro::Now, json!("2026-11-25 08:29:46.654Z")),
            (Macro::Second, json!(46)),
            (Macro::Minute, json!(29)),
            (Macro::Hour, json!(8)),
            (Macro::Weekday, json!(3)),
            (Macro::Day, json!(25)),
            (Macro::Month, json!(11)),
            (Macro::Year, json!(2026)),
            (Macro::Yesterday, json!("2026-11-24 08:29:46.654Z")),
            (Macro::Tomorrow, json!("2026-11-26 08:29:46.654Z")),
            (Macro::TodayStart, json!("2026-11-25 00:00:00.000Z")),
            (Macro::TodayEnd, json!("2026-11-25 23:59:59.999Z")),
            (Macro::MonthStart, json!("2026-11-01 00:00:00.000Z")),
            (Macro::MonthEnd, json!("2026-11-30 23:59:59.999Z")),
            (Macro::YearStart, json!("2026-01-01 00:00:00.000Z")),
            (Macro::YearEnd, json!("2026-12-31 23:59:59.999Z")),
        ];
        assert_eq!(expected.len(), Macro::ALL.len());
        for (m, want) in expected {
            assert_eq!(macro_value(m, NOW), want, "{m:?}");
        }
    }

    #[test]
    fn macros_use_utc_and_month_lengths() {
        // 2024-02-29 23:30 at -01:00 is March 1st in UTC; Sunday is 0.
        let t = datetime!(2024-02-29 23:30 -01:00);
        assert_eq!(macro_value(Macro::Day, t), json!(1));
        assert_eq!(macro_value(Macro::Month, t), json!(3));
        assert_eq!(macro_value(Macro::Hour, t), json!(0));
        assert_eq!(macro_value(Macro::MonthEnd, t), json!("2024-03-31 23:59:59.999Z"));
        assert_eq!(macro_value(Macro::Yesterday, t), json!("2024-02-29 00:30:00.000Z"));
        let leap_feb = datetime!(2024-02-10 12:00 UTC);
        assert_eq!(macro_value(Macro::MonthEnd, leap_feb), json!("2024-02-29 23:59:59.999Z"));
        let sunday = datetime!(2026-11-29 12:00 UTC);
        assert_eq!(macro_value(Macro::Weekday, sunday), json!(0));
    }
}
