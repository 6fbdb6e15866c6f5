//! Terminal handling for `run -t`: raw mode (restored on drop) and the window size.
//! This is the crate's only module with `unsafe` (one ioctl).

use std::io::IsTerminal;
use std::os::fd::AsFd;

use nix::sys::termios::{self, SetArg, Termios};

/// Puts stdin's terminal into raw mode; the original settings come back on drop.
pub struct RawMode {
    saved: Termios,
}

impl RawMode {
    /// Returns None when stdin is not a terminal.
    pub fn enable() -> Option<RawMode> {
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            return None;
        }
        let saved = termios::tcgetattr(stdin.as_fd()).ok()?;
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        // Keep output post-processing so our own messages still get "\r\n".
        raw.output_flags |= termios::OutputFlags::OPOST;
        termios::tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw).ok()?;
        Some(RawMode { saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, &self.saved);
    }
}

nix::ioctl_read_bad!(tiocgwinsz, libc::TIOCGWINSZ, libc::winsize);

/// (rows, cols) of the terminal on stdout (or stdin), if any.
pub fn size() -> Option<(u16, u16)> {
    let stdout = std::io::stdout();
    let stdin = std::io::stdin();
    let fd = if stdout.is_terminal() {
        use std::os::fd::AsRawFd;
        stdout.as_raw_fd()
    } else if stdin.is_terminal() {
        use std::os::fd::AsRawFd;
        stdin.as_raw_fd()
    } else {
        return None;
    };
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: `fd` is a valid open terminal descriptor for the duration of the call (it is
    // our own stdout/stdin) and `ws` is a properly sized, writable `winsize` that
    // TIOCGWINSZ fills in.
    let r = unsafe { tiocgwinsz(fd, &mut ws) };
    match r {
        Ok(_) if ws.ws_row > 0 && ws.ws_col > 0 => Some((ws.ws_row, ws.ws_col)),
        _ => None,
    }
}
