//! The contract between `pouchd` and `pouch-shim`.
//!
//! The shim serves a unix stream socket. Every message in both directions is a frame:
//! `kind: u8`, `len: u32` (big endian), then `len` payload bytes. The first frame the shim
//! sends on every connection is [`Kind::Hello`]; after that it sends output as it arrives and
//! one [`Kind::Exit`] frame once the container's init has exited and all output is drained.
//! A client may send stdin data, close stdin, and resize the pty.
//!
//! Besides the socket the shim leaves two things on disk that survive it: the json-file log
//! and the exit file ([`ExitRecord`]), written atomically, so a daemon that was down when the
//! container exited still learns the real exit code.
#![deny(unsafe_code)]

use serde::{Deserialize, Serialize};
use std::io::{self, Read, Write};

/// Bumped on any incompatible change; sent in [`Hello`].
pub const PROTOCOL_VERSION: u32 = 1;

/// Largest payload either side sends or accepts in one frame.
pub const MAX_FRAME: usize = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// shim → client: JSON [`Hello`].
    Hello = 1,
    /// shim → client: bytes the container wrote to stdout (or the pty, with a tty).
    Stdout = 2,
    /// shim → client: bytes the container wrote to stderr.
    Stderr = 3,
    /// shim → client: JSON [`ExitRecord`]; the last frame on the connection.
    Exit = 4,
    /// client → shim: bytes for the container's stdin.
    Stdin = 10,
    /// client → shim: close the container's stdin (half-close).
    CloseStdin = 11,
    /// client → shim: resize the pty; payload is `rows: u16, cols: u16` big endian.
    Resize = 12,
}

impl Kind {
    pub fn from_u8(v: u8) -> Option<Kind> {
        Some(match v {
            1 => Kind::Hello,
            2 => Kind::Stdout,
            3 => Kind::Stderr,
            4 => Kind::Exit,
            10 => Kind::Stdin,
            11 => Kind::CloseStdin,
            12 => Kind::Resize,
            _ => return None,
        })
    }
}

/// First frame on every connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    pub version: u32,
    /// Host pid of the container's init.
    pub pid: u32,
    /// Pid of the shim itself.
    pub shim_pid: u32,
}

/// How the container's init ended. Also the content of the exit file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitRecord {
    /// Docker's convention: the exit status, or 128 + signal number.
    pub exit_code: i32,
    /// RFC 3339 time of the exit, UTC.
    pub exited_at: String,
    /// Set when the init was killed by the kernel's OOM killer (best effort).
    #[serde(default)]
    pub oom_killed: bool,
}

/// The single JSON line the shim prints on stdout once it has either started the container
/// (`runc create` succeeded, the shim is detached and serving) or failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ready {
    Ok { pid: u32, shim_pid: u32 },
    Err { message: String },
}

/// One frame as read from the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub kind: Kind,
    pub payload: Vec<u8>,
}

/// Encode a frame header and payload into one buffer (one `write` call keeps frames whole).
pub fn encode(kind: Kind, payload: &[u8]) -> Vec<u8> {
    let mut buf = Vec::with_capacity(5 + payload.len());
    buf.push(kind as u8);
    buf.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    buf.extend_from_slice(payload);
    buf
}

pub fn write_frame<W: Write>(w: &mut W, kind: Kind, payload: &[u8]) -> io::Result<()> {
    w.write_all(&encode(kind, payload))
}

/// Parse a 5-byte header. Errors on an unknown kind or an oversized length.
pub fn decode_header(h: [u8; 5]) -> io::Result<(Kind, usize)> {
    let kind = Kind::from_u8(h[0]).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("unknown frame kind {}", h[0]),
        )
    })?;
    let len = u32::from_be_bytes([h[1], h[2], h[3], h[4]]) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {len} bytes is too large"),
        ));
    }
    Ok((kind, len))
}

/// Read one frame; `Ok(None)` on a clean EOF before a header.
pub fn read_frame<R: Read>(r: &mut R) -> io::Result<Option<Frame>> {
    let mut h = [0u8; 5];
    match r.read_exact(&mut h) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let (kind, len) = decode_header(h)?;
    let mut payload = vec![0u8; len];
    r.read_exact(&mut payload)?;
    Ok(Some(Frame { kind, payload }))
}

pub fn encode_resize(rows: u16, cols: u16) -> [u8; 4] {
    let r = rows.to_be_bytes();
    let c = cols.to_be_bytes();
    [r[0], r[1], c[0], c[1]]
}

pub fn decode_resize(p: &[u8]) -> Option<(u16, u16)> {
    if p.len() != 4 {
        return None;
    }
    Some((
        u16::from_be_bytes([p[0], p[1]]),
        u16::from_be_bytes([p[2], p[3]]),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_round_trip() {
        let mut buf = Vec::new();
        write_frame(&mut buf, Kind::Stdout, b"hello").unwrap();
        write_frame(&mut buf, Kind::CloseStdin, b"").unwrap();
        let mut r = &buf[..];
        assert_eq!(
            read_frame(&mut r).unwrap(),
            Some(Frame {
                kind: Kind::Stdout,
                payload: b"hello".to_vec()
            })
        );
        assert_eq!(
            read_frame(&mut r).unwrap(),
            Some(Frame {
                kind: Kind::CloseStdin,
                payload: vec![]
            })
        );
        assert_eq!(read_frame(&mut r).unwrap(), None);
    }

    #[test]
    fn rejects_unknown_kind_and_huge_frames() {
        assert!(decode_header([99, 0, 0, 0, 0]).is_err());
        let big = ((MAX_FRAME + 1) as u32).to_be_bytes();
        assert!(decode_header([2, big[0], big[1], big[2], big[3]]).is_err());
    }

    #[test]
    fn resize_round_trip() {
        assert_eq!(decode_resize(&encode_resize(24, 80)), Some((24, 80)));
        assert_eq!(decode_resize(&[1, 2, 3]), None);
    }

    #[test]
    fn ready_line_is_tagged_json() {
        let s = serde_json::to_string(&Ready::Ok {
            pid: 5,
            shim_pid: 4,
        })
        .unwrap();
        assert_eq!(s, r#"{"ok":{"pid":5,"shim_pid":4}}"#);
        let e: Ready = serde_json::from_str(r#"{"err":{"message":"boom"}}"#).unwrap();
        assert_eq!(
            e,
            Ready::Err {
                message: "boom".into()
            }
        );
    }
}
