//! Serving a running container: output pumps (to the json-file log and to every attached
//! client), the control socket's accept loop, and one reader per client for stdin/resize.

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::fd::AsFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use shim_protocol::{decode_resize, encode, read_frame, Kind};

use crate::logfile::JsonLog;
use crate::sys;
use crate::timefmt;

/// Threads do little and hold little: small stacks keep the shim's memory down.
pub const THREAD_STACK: usize = 64 * 1024;
/// Read size of the output pumps (heap, not stack).
const PUMP_BUF: usize = 32 * 1024;
/// A client that takes longer than this to accept one frame is dropped, so a stuck client
/// cannot stall the container's output (and the log) for long.
const CLIENT_WRITE_TIMEOUT: Duration = Duration::from_secs(10);

struct Clients {
    list: Vec<UnixStream>,
    /// Set once the Exit frame went out: later connections get Hello + Exit and are closed.
    exit_frame: Option<Vec<u8>>,
}

pub struct Shared {
    hello_frame: Vec<u8>,
    tty: bool,
    clients: Mutex<Clients>,
    log: Mutex<Option<JsonLog>>,
    /// Where Stdin frames go: the stdin pipe, or a dup of the pty master (with `--stdin`).
    stdin: Mutex<Option<File>>,
    /// The pty master, for resizes.
    pty: Option<File>,
}

/// A poisoned lock only means another thread panicked mid-way; the data is still usable
/// and the shim must keep serving.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    pub fn new(
        hello_frame: Vec<u8>,
        tty: bool,
        log: Option<JsonLog>,
        stdin: Option<File>,
        pty: Option<File>,
    ) -> Shared {
        Shared {
            hello_frame,
            tty,
            clients: Mutex::new(Clients {
                list: Vec::new(),
                exit_frame: None,
            }),
            log: Mutex::new(log),
            stdin: Mutex::new(stdin),
            pty,
        }
    }

    /// One chunk of container output: log it, then send it to every client.
    fn output(&self, kind: Kind, stream: &str, chunk: &[u8]) {
        let time = timefmt::now();
        if let Some(log) = lock(&self.log).as_mut() {
            // Nothing sensible to do on a full disk: keep the container's output flowing
            // to clients rather than block it.
            let _ = log.write_chunk(stream, chunk, &time);
        }
        self.broadcast(&encode(kind, chunk));
    }

    fn broadcast(&self, frame: &[u8]) {
        let mut clients = lock(&self.clients);
        clients.list.retain_mut(|c| match c.write_all(frame) {
            Ok(()) => true,
            Err(_) => {
                let _ = c.shutdown(Shutdown::Both);
                false
            }
        });
    }

    /// Send the Exit frame to everyone, close all connections, and make sure no later
    /// connection is left waiting. Returns holding the log lock so that no output pump can
    /// be mid-write when the process exits.
    pub fn finish(&self, exit_frame: Vec<u8>) -> MutexGuard<'_, Option<JsonLog>> {
        let log = lock(&self.log);
        let mut clients = lock(&self.clients);
        for c in clients.list.iter_mut() {
            let _ = c.write_all(&exit_frame);
            let _ = c.shutdown(Shutdown::Both);
        }
        clients.list.clear();
        clients.exit_frame = Some(exit_frame);
        log
    }

    fn add_client(self: &Arc<Self>, stream: UnixStream) {
        let _ = stream.set_write_timeout(Some(CLIENT_WRITE_TIMEOUT));
        let mut clients = lock(&self.clients);
        let mut w = &stream;
        if w.write_all(&self.hello_frame).is_err() {
            return;
        }
        if let Some(exit) = &clients.exit_frame {
            let _ = w.write_all(exit);
            let _ = stream.shutdown(Shutdown::Both);
            return;
        }
        let Ok(writer) = stream.try_clone() else {
            return;
        };
        clients.list.push(writer);
        drop(clients);
        let shared = Arc::clone(self);
        // Without a reader thread the client still gets output; it just cannot send input.
        let _ = std::thread::Builder::new()
            .name("client".into())
            .stack_size(THREAD_STACK)
            .spawn(move || shared.serve_client(stream));
    }

    /// Handle what a client sends until it closes its side or speaks garbage.
    fn serve_client(&self, mut stream: UnixStream) {
        loop {
            let frame = match read_frame(&mut stream) {
                Ok(Some(f)) => f,
                // Clean EOF: the client half-closed; it may still be reading output.
                Ok(None) => return,
                Err(_) => {
                    // Protocol error: hang up; the broadcaster drops it on its next write.
                    let _ = stream.shutdown(Shutdown::Both);
                    return;
                }
            };
            match frame.kind {
                Kind::Stdin => self.write_stdin(&frame.payload),
                Kind::CloseStdin => {
                    // With a tty there is no separate stdin to close (and no EOF char is
                    // sent on the client's behalf).
                    if !self.tty {
                        lock(&self.stdin).take();
                    }
                }
                Kind::Resize => {
                    if let (Some(pty), Some((rows, cols))) =
                        (&self.pty, decode_resize(&frame.payload))
                    {
                        let _ = sys::set_winsize(pty.as_fd(), rows, cols);
                    }
                }
                // Shim-to-client kinds sent back to us mean nothing; ignore them.
                Kind::Hello | Kind::Stdout | Kind::Stderr | Kind::Exit => {}
            }
        }
    }

    fn write_stdin(&self, data: &[u8]) {
        let mut stdin = lock(&self.stdin);
        if let Some(f) = stdin.as_mut() {
            if f.write_all(data).is_err() && !self.tty {
                // The container closed its stdin (or exited): nothing more can go there.
                stdin.take();
            }
        }
    }
}

/// Accept clients until the process exits.
pub fn spawn_accept_loop(shared: Arc<Shared>, listener: UnixListener) -> io::Result<()> {
    std::thread::Builder::new()
        .name("accept".into())
        .stack_size(THREAD_STACK)
        .spawn(move || loop {
            match listener.accept() {
                Ok((stream, _)) => shared.add_client(stream),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // EMFILE and friends: back off instead of spinning.
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        })?;
    Ok(())
}

/// Copy one output stream until EOF, then report on `done`.
pub fn spawn_pump(shared: Arc<Shared>, src: File, kind: Kind, done: Sender<()>) -> io::Result<()> {
    let stream = if kind == Kind::Stderr {
        "stderr"
    } else {
        "stdout"
    };
    std::thread::Builder::new()
        .name(stream.into())
        .stack_size(THREAD_STACK)
        .spawn(move || {
            pump(&shared, src, kind, stream);
            let _ = done.send(());
        })?;
    Ok(())
}

fn pump(shared: &Shared, mut src: File, kind: Kind, stream: &str) {
    let mut buf = vec![0u8; PUMP_BUF];
    loop {
        match src.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => shared.output(kind, stream, &buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // A pty master reads EIO once every slave fd is closed: that is its EOF.
            Err(_) => return,
        }
    }
}
