//! Reading a container's json-file log (written by pouch-shim) for `logs`.

use serde::Deserialize;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::Path;

#[derive(Debug, Clone, Deserialize)]
pub struct LogEntry {
    pub log: String,
    pub stream: String,
    pub time: String,
}

#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    pub stdout: bool,
    pub stderr: bool,
    /// Keep only the last N entries.
    pub tail: Option<usize>,
    /// Unix time in nanoseconds: only entries at or after it (inclusive, as dockerd).
    pub since: Option<i128>,
    /// Unix time in nanoseconds: only entries at or before it.
    pub until: Option<i128>,
    pub timestamps: bool,
    /// `--details`: the entry's attributes before the line (none yet: `--log-opt labels`
    /// comes later), so just dockerd's separating space.
    pub details: bool,
}

impl LogOptions {
    pub fn wants(&self, e: &LogEntry) -> bool {
        let stream_ok = match e.stream.as_str() {
            "stdout" => self.stdout,
            "stderr" => self.stderr,
            _ => false,
        };
        if !stream_ok {
            return false;
        }
        if self.since.is_some() || self.until.is_some() {
            let t = entry_unix_nanos(e).unwrap_or(0);
            if self.since.is_some_and(|s| t < s) || self.until.is_some_and(|u| t > u) {
                return false;
            }
        }
        true
    }
}

fn unix_nanos<Tz: chrono::TimeZone>(t: &chrono::DateTime<Tz>) -> i128 {
    t.timestamp() as i128 * 1_000_000_000 + t.timestamp_subsec_nanos() as i128
}

fn entry_unix_nanos(e: &LogEntry) -> Option<i128> {
    chrono::DateTime::parse_from_rfc3339(&e.time)
        .ok()
        .map(|t| unix_nanos(&t))
}

/// Docker's `since`/`until` query values as unix nanoseconds: `SECONDS[.FRACTION]` (what
/// the CLI sends), or RFC 3339. Integer arithmetic, so a line's own timestamp matches it.
pub fn parse_time_filter(s: &str) -> Option<i128> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let digits = |x: &str| x.chars().all(|c| c.is_ascii_digit());
    let unsigned = int.strip_prefix('-').unwrap_or(int);
    if !unsigned.is_empty() && digits(unsigned) && digits(frac) && frac.len() <= 9 {
        let secs: i128 = int.parse().ok()?;
        let nanos: i128 = format!("{frac:0<9}").parse().ok()?;
        return Some(secs * 1_000_000_000 + if secs < 0 { -nanos } else { nanos });
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| unix_nanos(&t))
}

/// Read every complete entry from `offset`; returns the entries and the offset after them.
pub fn read_entries(path: &Path, offset: u64) -> std::io::Result<(Vec<LogEntry>, u64)> {
    let mut f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((vec![], offset)),
        Err(e) => return Err(e),
    };
    f.seek(SeekFrom::Start(offset))?;
    let mut r = BufReader::new(f);
    let mut out = Vec::new();
    let mut pos = offset;
    let mut line = String::new();
    loop {
        line.clear();
        let n = r.read_line(&mut line)?;
        if n == 0 || !line.ends_with('\n') {
            // A partial line is still being written: read it next time.
            break;
        }
        pos += n as u64;
        if let Ok(e) = serde_json::from_str::<LogEntry>(&line) {
            out.push(e);
        }
    }
    Ok((out, pos))
}

/// Entries matching `opts`, honouring `tail`.
pub fn select(entries: Vec<LogEntry>, opts: &LogOptions) -> Vec<LogEntry> {
    let mut v: Vec<LogEntry> = entries.into_iter().filter(|e| opts.wants(e)).collect();
    if let Some(n) = opts.tail {
        if v.len() > n {
            v.drain(..v.len() - n);
        }
    }
    v
}

/// The bytes one entry produces on the wire (with the timestamp prefix if asked).
/// Timestamps are printed as dockerd prints them: RFC 3339, UTC, always nine fraction digits
/// (the file holds Go's RFC3339Nano, which drops trailing zeros).
pub fn render(e: &LogEntry, opts: &LogOptions) -> Vec<u8> {
    let line = if opts.details {
        format!(" {}", e.log)
    } else {
        e.log.clone()
    };
    if opts.timestamps {
        let time = chrono::DateTime::parse_from_rfc3339(&e.time)
            .map(|t| {
                t.with_timezone(&chrono::Utc)
                    .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
            })
            .unwrap_or_else(|_| e.time.clone());
        format!("{time} {line}").into_bytes()
    } else {
        line.into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn time_filters_are_exact() {
        assert_eq!(
            parse_time_filter("1796333719.141240220"),
            Some(1_796_333_719_141_240_220)
        );
        assert_eq!(parse_time_filter("12.5"), Some(12_500_000_000));
        assert_eq!(parse_time_filter("12"), Some(12_000_000_000));
        assert_eq!(
            parse_time_filter("2026-01-01T00:00:01.12Z"),
            Some(1_767_225_601_120_000_000)
        );
        assert_eq!(parse_time_filter(""), None);
        assert_eq!(parse_time_filter("soon"), None);
        let e = LogEntry {
            log: String::new(),
            stream: "stdout".into(),
            time: "2026-12-03T21:34:17.141240220Z".into(),
        };
        let at = LogOptions {
            stdout: true,
            since: parse_time_filter("1796333657.141240220"),
            until: parse_time_filter("1796333657.141240220"),
            ..Default::default()
        };
        assert_eq!(entry_unix_nanos(&e), at.since);
        assert!(at.wants(&e), "since and until are inclusive");
    }

    #[test]
    fn reads_filters_and_tails() {
        let d = std::env::temp_dir().join(format!("pouch-logs-test-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let p = d.join("x-json.log");
        let mut f = std::fs::File::create(&p).unwrap();
        writeln!(
            f,
            r#"{{"log":"a\n","stream":"stdout","time":"2026-01-01T00:00:01.000000000Z"}}"#
        )
        .unwrap();
        writeln!(
            f,
            r#"{{"log":"b\n","stream":"stderr","time":"2026-01-01T00:00:02.000000000Z"}}"#
        )
        .unwrap();
        writeln!(
            f,
            r#"{{"log":"c\n","stream":"stdout","time":"2026-01-01T00:00:03.000000000Z"}}"#
        )
        .unwrap();
        write!(f, r#"{{"log":"partial"#).unwrap();
        let (all, off) = read_entries(&p, 0).unwrap();
        assert_eq!(all.len(), 3);
        let (more, off2) = read_entries(&p, off).unwrap();
        assert!(more.is_empty());
        assert_eq!(off, off2);
        let out = LogOptions {
            stdout: true,
            ..Default::default()
        };
        let v = select(all.clone(), &out);
        assert_eq!(
            v.iter().map(|e| e.log.as_str()).collect::<Vec<_>>(),
            vec!["a\n", "c\n"]
        );
        let tail = LogOptions {
            stdout: true,
            stderr: true,
            tail: Some(1),
            ..Default::default()
        };
        assert_eq!(select(all.clone(), &tail)[0].log, "c\n");
        let since = LogOptions {
            stdout: true,
            stderr: true,
            since: parse_time_filter("1767225602"),
            ..Default::default()
        };
        assert_eq!(select(all.clone(), &since).len(), 2);
        let ts = LogOptions {
            timestamps: true,
            ..Default::default()
        };
        assert_eq!(
            render(&all[0], &ts),
            b"2026-01-01T00:00:01.000000000Z a\n".to_vec()
        );
        // --details: dockerd's space for the (empty) attributes, after the timestamp.
        let details = LogOptions {
            details: true,
            ..Default::default()
        };
        assert_eq!(render(&all[0], &details), b" a\n".to_vec());
        let both = LogOptions {
            timestamps: true,
            details: true,
            ..Default::default()
        };
        assert_eq!(
            render(&all[0], &both),
            b"2026-01-01T00:00:01.000000000Z  a\n".to_vec()
        );
        // Go's RFC3339Nano in the file drops zeros; the output keeps nine digits.
        let short = LogEntry {
            log: "x\n".into(),
            stream: "stdout".into(),
            time: "2026-01-01T00:00:01.12Z".into(),
        };
        assert_eq!(
            render(&short, &ts),
            b"2026-01-01T00:00:01.120000000Z x\n".to_vec()
        );
        std::fs::remove_dir_all(&d).unwrap();
    }
}
