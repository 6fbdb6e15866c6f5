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
