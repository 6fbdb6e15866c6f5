//! Pure formatting helpers that mirror the docker CLI's output: human durations and sizes
//! (go-units), tabwriter-style tables, ID truncation, and Go's `strconv.Quote`.

use std::time::{SystemTime, UNIX_EPOCH};

/// go-units `HumanDuration`, for a duration in seconds.
pub fn human_duration(secs: i64) -> String {
    let secs = secs.max(0);
    if secs < 1 {
        return "Less than a second".to_string();
    } else if secs == 1 {
        return "1 second".to_string();
    } else if secs < 60 {
        return format!("{secs} seconds");
    }
    let minutes = secs / 60;
    if minutes == 1 {
        return "About a minute".to_string();
    } else if minutes < 60 {
        return format!("{minutes} minutes");
    }
    // time.Duration.Round(time.Hour): half away from zero.
    let hours = (secs + 1800) / 3600;
    if hours == 1 {
        "About an hour".to_string()
    } else if hours < 48 {
        format!("{hours} hours")
    } else if hours < 24 * 7 * 2 {
        format!("{} days", hours / 24)
    } else if hours < 24 * 30 * 2 {
        format!("{} weeks", hours / 24 / 7)
    } else if hours < 24 * 365 * 2 {
        format!("{} months", hours / 24 / 30)
    } else {
        format!("{} years", secs / 3600 / 24 / 365)
    }
}

pub fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// go-units `HumanSizeWithPrecision(size, 3)`: decimal (1000-based) units, `%.3g`.
pub fn human_size(size: f64) -> String {
    const UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
    let mut size = size;
    let mut i = 0;
    while size >= 1000.0 && i < UNITS.len() - 1 {
        size /= 1000.0;
        i += 1;
    }
    format!("{}{}", format_g(size, 3), UNITS[i])
}

/// go-units `BytesSize`: binary (1024-based) units, `%.4g` (e.g. "23.54GiB").
pub fn bytes_size(size: f64) -> String {
    const UNITS: [&str; 9] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];
    let mut size = size;
    let mut i = 0;
    while size >= 1024.0 && i < UNITS.len() - 1 {
        size /= 1024.0;
        i += 1;
    }
    format!("{}{}", format_g(size, 4), UNITS[i])
}

/// Go's `%.<prec>g` for a non-negative value below 10^prec (all go-units passes it).
fn format_g(v: f64, prec: i32) -> String {
    if v == 0.0 {
        return "0".to_string();
    }
    let exp = v.abs().log10().floor() as i32;
    let decimals = (prec - 1 - exp).max(0) as usize;
    let mut s = format!("{v:.decimals$}");
    // Rounding may have carried into a new digit (e.g. 999.6 -> "1000"): Go would switch to
    // exponent form.
    if s.split('.').next().map(|p| p.len()).unwrap_or(0) > prec as usize {
        let rounded = v.round() as i64;
        let digits = rounded.to_string();
        return format!("{}e+{:02}", &digits[..1], digits.len() - 1);
    }
    if s.contains('.') {
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
    }
    s
}

/// `stringid.TruncateID`: strip an algorithm prefix and keep 12 characters.
pub fn truncate_id(id: &str) -> String {
    let id = id.split_once(':').map(|(_, rest)| rest).unwrap_or(id);
    id.chars().take(12).collect()
}

/// Go's `time.Time.String()` for a Unix time, in UTC: `2026-12-03 21:34:47 +0000 UTC`
/// (what docker shows as CreatedAt when the client's zone is UTC).
pub fn go_time_utc(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} +0000 UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// docker's `formatter.Ellipsis`: cut to `max` display characters, ending with "…".
pub fn ellipsis(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// Go's `strconv.Quote`.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A table rendered like Go's `tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)` with every
/// cell but the last in a row tab-terminated: each column is as wide as its widest cell
/// plus 3 spaces of padding, and at least 10; the last column is not padded.
#[derive(Debug, Default)]
pub struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Self {
        Table {
            rows: vec![header.iter().map(|s| s.to_string()).collect()],
        }
    }

    /// A table of tab-separated lines (a `table` template's output), header included.
    pub fn from_tab_lines(text: &str) -> Self {
        Table {
            rows: text
                .lines()
                .map(|l| l.split('\t').map(str::to_string).collect())
                .collect(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn render(&self) -> String {
        let cols = self.rows.iter().map(|r| r.len()).max().unwrap_or(0);
        let mut widths = vec![0usize; cols];
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                if i + 1 < row.len() {
                    widths[i] = widths[i].max(cell.chars().count());
                }
            }
        }
        let widths: Vec<usize> = widths.iter().map(|w| (w + 3).max(10)).collect();
        let mut out = String::new();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                out.push_str(cell);
                if i + 1 < row.len() {
                    let pad = widths[i].saturating_sub(cell.chars().count());
                    out.extend(std::iter::repeat_n(' ', pad));
                }
            }
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(human_duration(0), "Less than a second");
        assert_eq!(human_duration(-5), "Less than a second");
        assert_eq!(human_duration(1), "1 second");
        assert_eq!(human_duration(59), "59 seconds");
        assert_eq!(human_duration(60), "About a minute");
        assert_eq!(human_duration(119), "About a minute");
        assert_eq!(human_duration(120), "2 minutes");
        assert_eq!(human_duration(3599), "59 minutes");
        assert_eq!(human_duration(3600), "About an hour");
        assert_eq!(human_duration(5399), "About an hour");
        assert_eq!(human_duration(5400), "2 hours");
        assert_eq!(human_duration(47 * 3600), "47 hours");
        assert_eq!(human_duration(48 * 3600), "2 days");
        assert_eq!(human_duration(14 * 24 * 3600), "2 weeks");
        assert_eq!(human_duration(60 * 24 * 3600), "2 months");
        assert_eq!(human_duration(330 * 24 * 3600), "11 months");
        assert_eq!(human_duration(3 * 365 * 24 * 3600), "3 years");
    }

    #[test]
    fn sizes() {
        assert_eq!(human_size(0.0), "0B");
        assert_eq!(human_size(100.0), "100B");
        assert_eq!(human_size(999.0), "999B");
        assert_eq!(human_size(1000.0), "1kB");
        assert_eq!(human_size(1_980_000.0), "1.98MB");
        assert_eq!(human_size(1_984_123.0), "1.98MB");
        assert_eq!(human_size(1_200_000.0), "1.2MB");
        assert_eq!(human_size(12_345_678.0), "12.3MB");
        assert_eq!(human_size(123_456_789.0), "123MB");
        assert_eq!(human_size(7_000_000_000.0), "7GB");
        assert_eq!(bytes_size(25_275_000_000.0), "23.54GiB");
        assert_eq!(bytes_size(512.0), "512B");
        assert_eq!(bytes_size(1536.0), "1.5KiB");
    }

    #[test]
    fn ids_and_ellipsis() {
        assert_eq!(truncate_id("sha256:8e23192b235b14292a7d7a"), "8e23192b235b");
        assert_eq!(truncate_id("3bcbd2a6a8b4b8478c21"), "3bcbd2a6a8b4");
        assert_eq!(ellipsis("sleep 100", 20), "sleep 100");
        assert_eq!(
            ellipsis("sh -c 'echo out; echo err >&2; exit 3'", 20),
            "sh -c 'echo out; ec…"
        );
    }

    #[test]
    fn go_times() {
        assert_eq!(go_time_utc(0), "1970-01-01 00:00:00 +0000 UTC");
        assert_eq!(go_time_utc(1_767_225_600), "2026-01-01 00:00:00 +0000 UTC");
        assert_eq!(go_time_utc(1_796_333_719), "2026-12-03 21:35:19 +0000 UTC");
        assert_eq!(go_time_utc(951_782_400), "2000-02-29 00:00:00 +0000 UTC");
    }

    #[test]
    fn tab_lines() {
        let t = Table::from_tab_lines("NAMES\tSTATUS\nweb\tUp 2 seconds\n");
        assert_eq!(t.render(), "NAMES     STATUS\nweb       Up 2 seconds\n");
    }

    #[test]
    fn quoting() {
        assert_eq!(go_quote("sleep 100"), "\"sleep 100\"");
        assert_eq!(go_quote("a\"b\\c\nd\u{1}"), "\"a\\\"b\\\\c\\nd\\x01\"");
        assert_eq!(go_quote("héllo…"), "\"héllo…\"");
    }

    #[test]
    fn table_like_tabwriter() {
        let mut t = Table::new(&["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]);
        t.row(vec![
            "127.0.0.1:5000/busybox".into(),
            "latest".into(),
            "8e23192b235b".into(),
            "11 months ago".into(),
            "1.98MB".into(),
        ]);
        assert_eq!(
            t.render(),
            "REPOSITORY               TAG       IMAGE ID       CREATED         SIZE\n\
             127.0.0.1:5000/busybox   latest    8e23192b235b   11 months ago   1.98MB\n"
        );
    }

    #[test]
    fn table_empty_cells() {
        let mut t = Table::new(&["A", "PORTS", "NAMES"]);
        t.row(vec!["x".into(), "".into(), "n".into()]);
        assert_eq!(
            t.render(),
            "A         PORTS     NAMES\nx                   n\n"
        );
    }
}
