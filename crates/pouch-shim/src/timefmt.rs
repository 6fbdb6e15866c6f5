//! RFC 3339 timestamps in UTC without a date library: the shim stays small.

use std::time::{SystemTime, UNIX_EPOCH};

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day).
/// Howard Hinnant's `civil_from_days`, valid for the whole i64 day range we can meet.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097; // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32; // [1, 31]
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32; // [1, 12]
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Format like Go's `time.RFC3339Nano` in UTC (what Docker's json-file log uses): the
/// fraction has trailing zeros trimmed and is left out entirely when zero.
pub fn rfc3339_nano(secs: i64, nanos: u32) -> String {
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, mo, d) = civil_from_days(days);
    let (h, mi, s) = (sod / 3600, (sod % 3600) / 60, sod % 60);
    let mut out = format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}");
    if nanos != 0 {
        let frac = format!("{nanos:09}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// The current time, formatted by [`rfc3339_nano`].
pub fn now() -> String {
    format_system_time(SystemTime::now())
}

pub fn format_system_time(t: SystemTime) -> String {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => rfc3339_nano(d.as_secs() as i64, d.subsec_nanos()),
        // A clock before 1970 is broken; still produce a valid, recognisable timestamp.
        Err(e) => {
            let d = e.duration();
            let (secs, nanos) = if d.subsec_nanos() == 0 {
                (-(d.as_secs() as i64), 0)
            } else {
                (-(d.as_secs() as i64) - 1, 1_000_000_000 - d.subsec_nanos())
            };
            rfc3339_nano(secs, nanos)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_known_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(59), (1970, 3, 1));
        assert_eq!(civil_from_days(10_957), (2000, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(-719_468), (0, 3, 1));
    }

    #[test]
    fn civil_round_trips_every_day_of_four_centuries() {
        // Walk day by day and check the calendar advances by exactly one day each step.
        let mut prev = civil_from_days(-200_000);
        for z in -199_999..200_000 {
            let cur = civil_from_days(z);
            let next_day = {
                let (y, m, d) = prev;
                let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
                let dim = match m {
                    1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
                    4 | 6 | 9 | 11 => 30,
                    _ if leap => 29,
                    _ => 28,
                };
                if d < dim {
                    (y, m, d + 1)
                } else if m < 12 {
                    (y, m + 1, 1)
                } else {
                    (y + 1, 1, 1)
                }
            };
            assert_eq!(cur, next_day, "day {z}");
            prev = cur;
        }
    }

    #[test]
    fn formats_like_go_rfc3339nano() {
        assert_eq!(rfc3339_nano(0, 0), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339_nano(1_796_329_351, 123_456_789),
            "2026-12-03T20:22:31.123456789Z"
        );
        assert_eq!(
            rfc3339_nano(1_796_329_351, 120_000_000),
            "2026-12-03T20:22:31.12Z"
        );
        assert_eq!(
            rfc3339_nano(951_782_400, 1),
            "2000-02-29T00:00:00.000000001Z"
        );
        assert_eq!(rfc3339_nano(-1, 0), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn now_is_plausible() {
        let s = now();
        assert!(s.ends_with('Z'));
        assert_eq!(&s[4..5], "-");
        assert_eq!(&s[10..11], "T");
    }
}
