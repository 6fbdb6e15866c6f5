//! The few calls that need `unsafe`. Everything else in the crate is safe code.

use std::io::{self, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};

pub enum Forked {
    Parent { child: nix::unistd::Pid },
    Child,
}

/// `fork()` the process.
///
/// Must be called while the process is single-threaded (the shim forks first thing in
/// `main`, before any thread exists), so the child may run arbitrary code afterwards.
pub fn fork() -> io::Result<Forked> {
    // SAFETY: the caller guarantees no other thread exists, so no lock can be held by a
    // thread that vanishes in the child; the child continues with ordinary Rust code.
    match unsafe { nix::unistd::fork() }? {
        nix::unistd::ForkResult::Parent { child } => Ok(Forked::Parent { child }),
        nix::unistd::ForkResult::Child => Ok(Forked::Child),
    }
}

/// Ignore SIGPIPE so a write to a vanished client or a closed stdin pipe fails with EPIPE
/// instead of killing the shim. (Rust's runtime usually does this already; be explicit.)
pub fn ignore_sigpipe() -> io::Result<()> {
    use nix::sys::signal::{signal, SigHandler, Signal};
    // SAFETY: SIG_IGN installs no handler code, so there is nothing async-signal-unsafe.
    unsafe { signal(Signal::SIGPIPE, SigHandler::SigIgn) }?;
    Ok(())
}

/// Keep glibc's malloc to a single arena: each thread would otherwise get its own, and the
/// shim's memory budget per container is well under 1 MiB.
pub fn limit_malloc_arenas() {
    // SAFETY: mallopt only changes allocator tuning; called before any thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// Set the window size of a pty (TIOCSWINSZ on the master).
pub fn set_winsize(fd: BorrowedFd<'_>, rows: u16, cols: u16) -> io::Result<()> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: `fd` is a valid open descriptor for the duration of the call and `ws` is a
    // properly initialised winsize that the kernel only reads.
    let rc = unsafe {
        libc::ioctl(
            fd.as_raw_fd(),
            libc::TIOCSWINSZ,
            &ws as *const libc::winsize,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Receive one file descriptor sent with SCM_RIGHTS (runc's `--console-socket` protocol:
/// the pty master, with its path as the payload).
pub fn recv_fd(sock: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    let mut payload = [0u8; 4096];
    let mut iov = [IoSliceMut::new(&mut payload)];
    let mut cmsg = nix::cmsg_space!([RawFd; 4]);
    let msg = recvmsg::<()>(
        sock.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )?;
    let mut got: Option<OwnedFd> = None;
    for c in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            for fd in fds {
                // SAFETY: the kernel just installed `fd` in our table for this message; we
                // are its only owner. Extra descriptors are wrapped too so they get closed.
                let owned = unsafe { OwnedFd::from_raw_fd(fd) };
                if got.is_none() {
                    got = Some(owned);
                }
            }
        }
    }
    got.ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "console socket message carried no file descriptor",
        )
    })
}
