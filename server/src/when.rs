//! Times as people read them on pages and in exports: UTC, to the minute or the second.

/// `2026-11-23 19:56 UTC` from milliseconds since 1970.
pub fn format_time(ms: i64) -> String {
    let (date, secs) = civil(ms);
    format!("{date} {:02}:{:02} UTC", secs / 3600, secs % 3600 / 60)
}

/// `2026-11-23 19:56:07 UTC`: for telling apart attempts made a few seconds apart.
pub fn format_time_to_second(ms: i64) -> String {
    let (date, secs) = civil(ms);
    format!(
        "{date} {:02}:{:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// A length of time in words: `45 s`, `30 min`, `2 h`, `1 h 30 min`.
pub fn duration_words(d: std::time::Duration) -> String {
    let secs = d.as_secs();
    match (secs / 3600, secs % 3600 / 60, secs % 60) {
        (0, 0, s) => format!("{s} s"),
        (0, m, 0) => format!("{m} min"),
        (0, m, s) => format!("{m} min {s} s"),
        (h, 0, _) => format!("{h} h"),
        (h, m, _) => format!("{h} h {m} min"),
    }
}

/// The date (`2026-11-23`) and the seconds since that midnight (UTC).
fn civil(ms: i64) -> (String, i64) {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (format!("{year:04}-{month:02}-{day:02}"), rem)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(duration_words(Duration::from_secs(45)), "45 s");
        assert_eq!(duration_words(Duration::from_secs(1800)), "30 min");
        assert_eq!(duration_words(Duration::from_secs(90)), "1 min 30 s");
        assert_eq!(duration_words(Duration::from_secs(7200)), "2 h");
        assert_eq!(duration_words(Duration::from_secs(5400)), "1 h 30 min");
    }
}
