//! Calendar arithmetic for SOQL date and datetime values, on plain integers.
//!
//! Dates are counted in days since 1970-01-01 and datetimes in milliseconds since the Unix
//! epoch (UTC). Parsing never allocates, so record values can be decoded inside `matches`.

pub(crate) const MS_PER_DAY: i64 = 86_400_000;

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Inverse of [`days_from_civil`]: (year, month, day).
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

fn digits(bytes: &[u8]) -> Option<u32> {
    if bytes.is_empty() || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        bytes
            .iter()
            .fold(0u32, |acc, b| acc * 10 + u32::from(b - b'0')),
    )
}

/// `YYYY-MM-DD` → days, validating the calendar (2026-02-30 is rejected).
pub(crate) fn parse_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year = digits(&b[0..4])?;
    let month = digits(&b[5..7])?;
    let day = digits(&b[8..10])?;
    let year = i64::from(year);
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    Some(days_from_civil(year, month, day))
}

/// An ISO-8601 datetime with seconds, optional fraction and a mandatory zone (`Z`, `±hh:mm`
/// or `±hhmm`) → milliseconds since the epoch, UTC. Fractions beyond milliseconds are
/// truncated, as Salesforce stores millisecond precision only.
pub(crate) fn parse_datetime(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let days = parse_date(s.get(0..10)?)?;
    let hour = digits(&b[11..13])?;
    let minute = digits(&b[14..16])?;
    let second = digits(&b[17..19])?;
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let mut i = 19;
    let mut millis = 0i64;
    if b[i] == b'.' {
        let start = i + 1;
        let mut end = start;
        while end < b.len() && b[end].is_ascii_digit() {
            end += 1;
        }
        if end == start {
            return None;
        }
        for (n, d) in b[start..end].iter().take(3).enumerate() {
            millis += i64::from(d - b'0') * [100, 10, 1][n];
        }
        i = end;
    }
    let offset_minutes: i64 = match b.get(i) {
        Some(b'Z') if i + 1 == b.len() => 0,
        Some(sign @ (b'+' | b'-')) => {
            let rest = &b[i + 1..];
            let (h, m) = match rest.len() {
                5 if rest[2] == b':' => (digits(&rest[0..2])?, digits(&rest[3..5])?),
                4 => (digits(&rest[0..2])?, digits(&rest[2..4])?),
                _ => return None,
            };
            if h > 23 || m > 59 {
                return None;
            }
            let total = i64::from(h * 60 + m);
            if *sign == b'+' { total } else { -total }
        }
        _ => return None,
    };
    let local = days * MS_PER_DAY
        + i64::from(hour) * 3_600_000
        + i64::from(minute) * 60_000
        + i64::from(second) * 1000
        + millis;
    Some(local - offset_minutes * 60_000)
}

/// A stored date value: `YYYY-MM-DD`, or the date part of a stored datetime.
pub(crate) fn parse_stored_date(s: &str) -> Option<i64> {
    parse_date(s.get(0..10)?)
}

/// The relative date literals of SOQL ("Date Formats and Date Literals in WHERE"), as a
/// half-open range of days `[start, end)` relative to `today`. Weeks start on Sunday (the
/// en_US locale); the emulator's user lives in UTC. `None` if the name is not a literal we know.
pub(crate) fn date_literal_range(name: &str, n: Option<i64>, today: i64) -> Option<(i64, i64)> {
    let week_start = today - (today + 4).rem_euclid(7); // 1970-01-01 was a Thursday
    let (year, month, _) = civil_from_days(today);
    let month_start = |offset: i64| {
        let index = year * 12 + i64::from(month) - 1 + offset;
        days_from_civil(index.div_euclid(12), (index.rem_euclid(12) + 1) as u32, 1)
    };
    let year_start = |offset: i64| days_from_civil(year + offset, 1, 1);
    let range = match (name, n) {
        ("YESTERDAY", None) => (today - 1, today),
        ("TODAY", None) => (today, today + 1),
        ("TOMORROW", None) => (today + 1, today + 2),
        ("LAST_WEEK", None) => (week_start - 7, week_start),
        ("THIS_WEEK", None) => (week_start, week_start + 7),
        ("NEXT_WEEK", None) => (week_start + 7, week_start + 14),
        ("LAST_MONTH", None) => (month_start(-1), month_start(0)),
        ("THIS_MONTH", None) => (month_start(0), month_start(1)),
        ("NEXT_MONTH", None) => (month_start(1), month_start(2)),
        ("LAST_YEAR", None) => (year_start(-1), year_start(0)),
        ("THIS_YEAR", None) => (year_start(0), year_start(1)),
        ("NEXT_YEAR", None) => (year_start(1), year_start(2)),
        // "LAST_90_DAYS ... includes the current day": 91 days in all.
        ("LAST_90_DAYS", None) => (today - 90, today + 1),
        ("NEXT_90_DAYS", None) => (today + 1, today + 91),
        // LAST_N_DAYS:1 is yesterday and today; NEXT_N_DAYS starts tomorrow.
        ("LAST_N_DAYS", Some(n)) => (today - n, today + 1),
        ("NEXT_N_DAYS", Some(n)) => (today + 1, today + 1 + n),
        ("N_DAYS_AGO", Some(n)) => (today - n, today - n + 1),
        ("LAST_N_WEEKS", Some(n)) => (week_start - 7 * n, week_start),
        ("NEXT_N_WEEKS", Some(n)) => (week_start + 7, week_start + 7 + 7 * n),
        ("N_WEEKS_AGO", Some(n)) => (week_start - 7 * n, week_start - 7 * n + 7),
        ("LAST_N_MONTHS", Some(n)) => (month_start(-n), month_start(0)),
        ("NEXT_N_MONTHS", Some(n)) => (month_start(1), month_start(1 + n)),
        ("N_MONTHS_AGO", Some(n)) => (month_start(-n), month_start(-n + 1)),
        ("LAST_N_YEARS", Some(n)) => (year_start(-n), year_start(0)),
        ("NEXT_N_YEARS", Some(n)) => (year_start(1), year_start(1 + n)),
        ("N_YEARS_AGO", Some(n)) => (year_start(-n), year_start(-n + 1)),
        _ => return None,
    };
    Some(range)
}

/// Whether `name` is a date literal that takes `:n`.
pub(crate) fn literal_takes_n(name: &str) -> bool {
    matches!(
        name,
        "LAST_N_DAYS"
            | "NEXT_N_DAYS"
            | "N_DAYS_AGO"
            | "LAST_N_WEEKS"
            | "NEXT_N_WEEKS"
            | "N_WEEKS_AGO"
            | "LAST_N_MONTHS"
            | "NEXT_N_MONTHS"
            | "N_MONTHS_AGO"
            | "LAST_N_YEARS"
            | "NEXT_N_YEARS"
            | "N_YEARS_AGO"
    )
}

/// Date literals Salesforce has but the emulator does not model (quarters, fiscal periods).
pub(crate) fn is_unsupported_literal(name: &str) -> bool {
    name.contains("QUARTER") || name.contains("FISCAL")
}
