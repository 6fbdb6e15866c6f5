//! Demultiplexing of Docker's "stdcopy" framing used by attach and logs for non-tty
//! containers: each frame is an 8-byte header `[stream, 0, 0, 0, len_be_u32]` followed by
//! `len` payload bytes. Stream 0 is stdin (written to stdout), 1 stdout, 2 stderr, 3 a
//! system error message.

/// Which stream a demultiplexed chunk belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
    /// Stream 3: an error reported by the daemon inside the stream.
    SysErr,
}

const HEADER_LEN: usize = 8;

/// Incremental demultiplexer: feed it arbitrary chunks, get back complete (or partial)
/// payload slices tagged with their stream. Payloads are emitted as soon as bytes arrive,
/// so a frame split across chunks is forwarded in pieces without waiting for the rest.
#[derive(Debug, Default)]
pub struct Demuxer {
    header: Vec<u8>,
    /// Bytes still expected for the current frame's payload, and its stream.
    remaining: usize,
    current: Option<Stream>,
}

impl Demuxer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds `data`, returning the payload pieces it completes, in order.
    /// Returns an error for an unknown stream byte.
    pub fn feed(&mut self, mut data: &[u8]) -> Result<Vec<(Stream, Vec<u8>)>, String> {
        let mut out: Vec<(Stream, Vec<u8>)> = Vec::new();
        while !data.is_empty() {
            if self.remaining == 0 {
                let need = HEADER_LEN - self.header.len();
                let take = need.min(data.len());
                self.header.extend_from_slice(&data[..take]);
                data = &data[take..];
                if self.header.len() < HEADER_LEN {
                    break;
                }
                let stream = match self.header[0] {
                    0 | 1 => Stream::Stdout,
                    2 => Stream::Stderr,
                    3 => Stream::SysErr,
                    b => return Err(format!("unrecognized input header: {b}")),
                };
                let len = u32::from_be_bytes([
                    self.header[4],
                    self.header[5],
                    self.header[6],
                    self.header[7],
                ]) as usize;
                self.header.clear();
                self.remaining = len;
                self.current = Some(stream);
                continue;
            }
            let take = self.remaining.min(data.len());
            let stream = self.current.unwrap_or(Stream::Stdout);
            match out.last_mut() {
                Some((s, buf)) if *s == stream => buf.extend_from_slice(&data[..take]),
                _ => out.push((stream, data[..take].to_vec())),
            }
            self.remaining -= take;
            data = &data[take..];
        }
        Ok(out)
    }

    /// True when no partial frame is pending (a clean end of stream).
    #[cfg(test)]
    pub fn is_clean(&self) -> bool {
        self.remaining == 0 && self.header.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(stream: u8, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![stream, 0, 0, 0];
        v.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn whole_frames() {
        let mut d = Demuxer::new();
        let mut data = frame(1, b"out\n");
        data.extend(frame(2, b"err\n"));
        data.extend(frame(1, b"more"));
        let got = d.feed(&data).unwrap();
        assert_eq!(
            got,
            vec![
                (Stream::Stdout, b"out\n".to_vec()),
                (Stream::Stderr, b"err\n".to_vec()),
                (Stream::Stdout, b"more".to_vec()),
            ]
        );
        assert!(d.is_clean());
    }

    #[test]
    fn split_everywhere() {
        let mut data = frame(1, b"hello world");
        data.extend(frame(2, b"oops"));
        data.extend(frame(1, b""));
        data.extend(frame(1, b"x"));
        let mut d = Demuxer::new();
        let mut out = Vec::new();
        let mut err = Vec::new();
        for b in &data {
            for (s, p) in d.feed(std::slice::from_ref(b)).unwrap() {
                match s {
                    Stream::Stdout => out.extend(p),
                    _ => err.extend(p),
                }
            }
        }
        assert_eq!(out, b"hello worldx");
        assert_eq!(err, b"oops");
        assert!(d.is_clean());
    }

    #[test]
    fn partial_is_not_clean() {
        let mut d = Demuxer::new();
        let data = frame(1, b"abcdef");
        let got = d.feed(&data[..10]).unwrap();
        assert_eq!(got, vec![(Stream::Stdout, b"ab".to_vec())]);
        assert!(!d.is_clean());
        let got = d.feed(&data[10..]).unwrap();
        assert_eq!(got, vec![(Stream::Stdout, b"cdef".to_vec())]);
        assert!(d.is_clean());
    }

    #[test]
    fn bad_stream_byte() {
        let mut d = Demuxer::new();
        assert!(d.feed(&frame(7, b"x")).is_err());
    }

    #[test]
    fn large_length() {
        let mut d = Demuxer::new();
        let payload = vec![b'a'; 70000];
        let got = d.feed(&frame(2, &payload)).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].1.len(), 70000);
        assert_eq!(got[0].0, Stream::Stderr);
    }
}
