//! Running `runc create`: wiring the container's stdio (pipes or a pty received over the
//! console socket) and turning a failure into runc's own error message.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use crate::args::Args;
use crate::sys;

/// The shim's ends of the container's stdio.
pub enum ContainerIo {
    Pipes {
        /// Write end of the container's stdin; `None` without `--stdin`.
        stdin: Option<File>,
        stdout: File,
        stderr: File,
    },
    Pty {
        master: File,
    },
}

pub struct Created {
    pub init_pid: i32,
    pub io: ContainerIo,
}

/// Longest path a unix socket address can hold (sun_path is 108 bytes with the NUL).
const MAX_SOCKET_PATH: usize = 107;

pub fn create(args: &Args) -> Result<Created, String> {
    // Only the runtime log lines written by this create are ours to report.
    let log_offset = std::fs::metadata(&args.runtime_log)
        .map(|m| m.len())
        .unwrap_or(0);
    let pid_file = args.bundle.join("init.pid");

    let mut cmd = Command::new(&args.runtime);
    cmd.arg("--root")
        .arg(&args.runtime_root)
        .arg("--log")
        .arg(&args.runtime_log)
        .arg("--log-format")
        .arg("json")
        .arg("create")
        .arg("--bundle")
        .arg(&args.bundle)
        .arg("--pid-file")
        .arg(&pid_file);

    let (io, status, stderr_text) = if args.tty {
        create_with_pty(args, cmd)?
    } else {
        create_with_pipes(args, cmd)?
    };

    if !status.success() {
        return Err(failure_message(
            &args.runtime_log,
            log_offset,
            &stderr_text,
            status,
        ));
    }
    let io = io.ok_or("runc create succeeded but never sent the pty master")?;
    let init_pid = read_pid_file(&pid_file)?;
    Ok(Created { init_pid, io })
}

fn pipe() -> Result<(OwnedFd, OwnedFd), String> {
    nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| format!("pipe: {e}"))
}

fn create_with_pipes(
    args: &Args,
    mut cmd: Command,
) -> Result<(Option<ContainerIo>, ExitStatus, String), String> {
    let (stdout_r, stdout_w) = pipe()?;
    let (stderr_r, stderr_w) = pipe()?;
    let stdin_w = if args.stdin {
        let (r, w) = pipe()?;
        cmd.stdin(Stdio::from(r));
        Some(File::from(w))
    } else {
        cmd.stdin(Stdio::null());
        None
    };
    // runc hands its own stdio to the container's init, so these become the container's.
    cmd.stdout(Stdio::from(stdout_w))
        .stderr(Stdio::from(stderr_w));
    cmd.arg(&args.id);
    // `cmd` owns the child's ends; they are closed in the shim once it is dropped below.
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run {}: {e}", args.runtime.display()))?;
    drop(cmd);
    let stderr = File::from(stderr_r);
    let text = if status.success() {
        String::new()
    } else {
        // On failure runc wrote its error to what would have been the container's stderr.
        // Read without blocking: a leaked process could still hold the write end.
        read_available(&stderr)
    };
    Ok((
        Some(ContainerIo::Pipes {
            stdin: stdin_w,
            stdout: File::from(stdout_r),
            stderr,
        }),
        status,
        text,
    ))
}

fn console_socket_path(socket: &Path) -> PathBuf {
    let mut p = socket.as_os_str().to_owned();
    p.push(".con");
    let p = PathBuf::from(p);
    if p.as_os_str().len() <= MAX_SOCKET_PATH {
        p
    } else {
        std::env::temp_dir().join(format!("pouch-shim-{}.con", std::process::id()))
    }
}

/// Removes the console socket file however `create_with_pty` returns.
struct RemoveOnDrop(PathBuf);
impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn create_with_pty(
    args: &Args,
    mut cmd: Command,
) -> Result<(Option<ContainerIo>, ExitStatus, String), String> {
    let con_path = console_socket_path(&args.socket);
    let _ = std::fs::remove_file(&con_path);
    let listener = UnixListener::bind(&con_path)
        .map_err(|e| format!("console socket {}: {e}", con_path.display()))?;
    let _cleanup = RemoveOnDrop(con_path.clone());
    listener
        .set_nonblocking(true)
        .map_err(|e| format!("console socket: {e}"))?;

    let (stderr_r, stderr_w) = pipe()?;
    cmd.arg("--console-socket")
        .arg(&con_path)
        .arg(&args.id)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(stderr_w));
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", args.runtime.display()))?;
    drop(cmd);
    let stderr = File::from(stderr_r);

    let (master, status) = match receive_master(&listener, &mut child) {
        Ok(v) => v,
        Err(e) => {
            // Never leave runc running behind a failed create.
            let _ = child.kill();
            let _ = child.wait();
            return Err(e);
        }
    };
    let text = if status.success() {
        String::new()
    } else {
        read_available(&stderr)
    };
    Ok((
        master.map(|master| ContainerIo::Pty { master }),
        status,
        text,
    ))
}

/// Accept runc's connection on the console socket and take the pty master, while watching
/// for runc exiting early (then there is no connection to wait for).
fn receive_master(
    listener: &UnixListener,
    child: &mut Child,
) -> Result<(Option<File>, ExitStatus), String> {
    loop {
        match listener.accept() {
            Ok((conn, _)) => {
                conn.set_nonblocking(false)
                    .and_then(|_| conn.set_read_timeout(Some(Duration::from_secs(30))))
                    .map_err(|e| format!("console socket: {e}"))?;
                let fd = sys::recv_fd(conn.as_fd())
                    .map_err(|e| format!("receiving the pty master: {e}"))?;
                let status = child.wait().map_err(|e| format!("waiting for runc: {e}"))?;
                return Ok((Some(File::from(fd)), status));
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("console socket accept: {e}")),
        }
        if let Some(status) = child
            .try_wait()
            .map_err(|e| format!("waiting for runc: {e}"))?
        {
            // runc may have connected just before exiting: one last look.
            if let Ok((conn, _)) = listener.accept() {
                let _ = conn.set_nonblocking(false);
                let _ = conn.set_read_timeout(Some(Duration::from_secs(1)));
                if let Ok(fd) = sys::recv_fd(conn.as_fd()) {
                    return Ok((Some(File::from(fd)), status));
                }
            }
            return Ok((None, status));
        }
        // Wake on a connection at once; the timeout only bounds how late we notice an
        // early runc exit.
        let mut fds = [PollFd::new(listener.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(10u8)) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(format!("poll: {e}")),
        }
    }
}

/// Whatever is in the pipe right now, without waiting for EOF.
fn read_available(f: &File) -> String {
    let fd = f.as_raw_fd();
    if let Ok(flags) = fcntl(fd, FcntlArg::F_GETFL) {
        let _ = fcntl(
            fd,
            FcntlArg::F_SETFL(OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK),
        );
    }
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let mut r = f;
    while buf.len() < 64 * 1024 {
        match r.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // WouldBlock: that was all there is for now.
            Err(_) => break,
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

/// runc's own words for why create failed: the last error in the runtime log written by
/// this invocation, else the last line it printed on stderr, else its exit status.
fn failure_message(log: &Path, offset: u64, stderr: &str, status: ExitStatus) -> String {
    if let Some(m) = last_log_error(log, offset) {
        return m;
    }
    if let Some(line) = stderr.lines().rev().map(str::trim).find(|l| !l.is_empty()) {
        return line.to_string();
    }
    format!("runc create failed ({status})")
}

fn last_log_error(log: &Path, offset: u64) -> Option<String> {
    let mut f = OpenOptions::new().read(true).open(log).ok()?;
    let len = f.metadata().ok()?.len();
    // A log truncated behind our back: read it all.
    let start = if offset <= len { offset } else { 0 };
    f.seek(SeekFrom::Start(start)).ok()?;
    last_error_in(BufReader::new(f))
}

pub fn last_error_in<R: BufRead>(r: R) -> Option<String> {
    let mut last = None;
    for line in r.lines() {
        let Ok(line) = line else { break };
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        let level = v.get("level").and_then(|l| l.as_str()).unwrap_or("");
        if matches!(level, "error" | "fatal" | "panic") {
            if let Some(msg) = v.get("msg").and_then(|m| m.as_str()) {
                last = Some(msg.to_string());
            }
        }
    }
    last
}

fn read_pid_file(path: &Path) -> Result<i32, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    text.trim()
        .parse::<i32>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("bad pid {:?} in {}", text.trim(), path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_last_error_line() {
        let log = concat!(
            "{\"level\":\"warning\",\"msg\":\"meh\"}\n",
            "not json\n",
            "{\"level\":\"error\",\"msg\":\"first\"}\n",
            "{\"level\":\"error\",\"msg\":\"runc create failed: boom\",\"time\":\"t\"}\n",
            "{\"level\":\"info\",\"msg\":\"later\"}\n",
        );
        assert_eq!(
            last_error_in(log.as_bytes()).as_deref(),
            Some("runc create failed: boom")
        );
        assert_eq!(
            last_error_in(&b"{\"level\":\"info\",\"msg\":\"x\"}\n"[..]),
            None
        );
    }

    #[test]
    fn console_path_stays_short() {
        let p = console_socket_path(Path::new("/run/pouch/c/abc/shim.sock"));
        assert_eq!(p, PathBuf::from("/run/pouch/c/abc/shim.sock.con"));
        let long = format!("/{}/s.sock", "x".repeat(100));
        let p = console_socket_path(Path::new(&long));
        assert!(p.as_os_str().len() <= MAX_SOCKET_PATH);
        assert!(p.to_string_lossy().ends_with(".con"));
    }
}
