//! Time conversions: the database stores Unix microseconds (portable across SQLite and
//! PostgreSQL, ordered, exact); the outside world sees RFC 3339 UTC and `YYYY-MM-DD`.

use time::{
    Date, OffsetDateTime, format_description::BorrowedFormatItem, macros::format_description,
};

pub(crate) const DATE: &[BorrowedFormatItem<'static>] = format_description!("[year]-[month]-[day]");

/// RFC 3339 in UTC with microseconds only when there are some (`2026-11-29T04:05:00Z`).
pub fn rfc3339(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let fmt = if t.microsecond() == 0 {
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z")
    } else {
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z")
    };
    // Formatting a UTC date-time with a static description cannot fail for years 0..=9999.
    t.format(fmt).unwrap_or_default()
}

pub(crate) fn date(d: Date) -> String {
    d.format(DATE).unwrap_or_default()
}

pub(crate) fn to_micros(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000) as i64
}

pub(crate) fn from_micros(us: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Now, truncated to the microsecond so that what is written reads back identical.
pub(crate) fn now() -> OffsetDateTime {
    from_micros(to_micros(OffsetDateTime::now_utc()))
}
