//! Docker's json-file log format: one JSON object per line of container output.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

pub struct JsonLog {
    file: File,
}

impl JsonLog {
    pub fn open(path: &Path) -> io::Result<JsonLog> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(JsonLog { file })
    }

    /// Append the entries for one chunk of output in a single write, so concurrent
    /// stdout/stderr pumps never interleave inside a line.
    pub fn write_chunk(&mut self, stream: &str, chunk: &[u8], time: &str) -> io::Result<()> {
        let buf = format_entries(stream, chunk, time);
        self.file.write_all(&buf)
    }
}

/// One entry per line, each keeping its trailing `\n`; a trailing partial line becomes an
/// entry of its own without a newline.
pub fn format_entries(stream: &str, chunk: &[u8], time: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(chunk.len() + 64);
    for line in chunk.split_inclusive(|b| *b == b'\n') {
        let text = String::from_utf8_lossy(line);
        out.extend_from_slice(b"{\"log\":");
        push_json_str(&mut out, &text);
        out.extend_from_slice(b",\"stream\":");
        push_json_str(&mut out, stream);
        out.extend_from_slice(b",\"time\":");
        push_json_str(&mut out, time);
        out.extend_from_slice(b"}\n");
    }
    out
}

fn push_json_str(out: &mut Vec<u8>, s: &str) {
    // serde_json cannot fail to serialise a str into a Vec; fall back to an empty string
    // rather than panic if that ever changed.
    if serde_json::to_writer(&mut *out, s).is_err() {
        out.extend_from_slice(b"\"\"");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(v: &[u8]) -> Vec<serde_json::Value> {
        std::str::from_utf8(v)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn splits_at_newlines_and_keeps_partial() {
        let out = format_entries("stdout", b"a\nbb\n\"q\"\tc", "T");
        let l = lines(&out);
        assert_eq!(l.len(), 3);
        assert_eq!(l[0]["log"], "a\n");
        assert_eq!(l[1]["log"], "bb\n");
        assert_eq!(l[2]["log"], "\"q\"\tc");
        assert_eq!(l[2]["stream"], "stdout");
        assert_eq!(l[2]["time"], "T");
        assert!(out.ends_with(b"}\n"));
    }

    #[test]
    fn exact_docker_shape_and_lossy_utf8() {
        let out = format_entries("stderr", b"x\xff\n", "2026-01-01T00:00:00Z");
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            "{\"log\":\"x\u{fffd}\\n\",\"stream\":\"stderr\",\"time\":\"2026-01-01T00:00:00Z\"}\n"
        );
        assert!(format_entries("stdout", b"", "T").is_empty());
    }
}
