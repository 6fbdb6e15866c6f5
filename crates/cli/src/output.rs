//! Writing container output to our stdout/stderr: raw (tty) or demultiplexed (stdcopy).

use std::io::Write;

use crate::stdcopy::{Demuxer, Stream};

/// Routes bytes from an attach or logs stream to our stdout and stderr.
pub struct Sink {
    demux: Option<Demuxer>,
}

impl Sink {
    /// `tty`: the stream is raw (no stdcopy framing).
    pub fn new(tty: bool) -> Self {
        Sink {
            demux: (!tty).then(Demuxer::new),
        }
    }

    /// Writes `data`; returns Err on a framing error or when our stdout is gone.
    pub fn write(&mut self, data: &[u8]) -> anyhow::Result<()> {
        match &mut self.demux {
            None => write_to(&mut std::io::stdout().lock(), data)?,
            Some(d) => {
                let parts = d.feed(data).map_err(|e| anyhow::anyhow!(e))?;
                for (stream, payload) in parts {
                    match stream {
                        Stream::Stdout => write_to(&mut std::io::stdout().lock(), &payload)?,
                        Stream::Stderr | Stream::SysErr => {
                            write_to(&mut std::io::stderr().lock(), &payload)?
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

fn write_to(w: &mut impl Write, data: &[u8]) -> std::io::Result<()> {
    w.write_all(data)?;
    w.flush()
}

/// Writes `s` to stdout (flushed); a closed stdout is an error the caller can recognise
/// with [`is_broken_pipe`] instead of a panic as with `print!`.
pub fn print(s: &str) -> std::io::Result<()> {
    write_to(&mut std::io::stdout().lock(), s.as_bytes())
}

/// True when the error (or its cause) is EPIPE on one of our outputs.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .map(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            .unwrap_or(false)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broken_pipe_is_recognised_through_context() {
        let e = anyhow::Error::from(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
        assert!(is_broken_pipe(&e));
        assert!(is_broken_pipe(&e.context("writing logs")));
        let other = anyhow::Error::from(std::io::Error::from(std::io::ErrorKind::NotFound));
        assert!(!is_broken_pipe(&other));
        assert!(!is_broken_pipe(&anyhow::anyhow!("Broken pipe")));
    }
}
