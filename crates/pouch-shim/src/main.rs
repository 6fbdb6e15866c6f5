//! `pouch-shim`: the per-container monitor (the role of conmon).
//!
//! pouchd starts it once per container. The shim forks: the parent only relays the single
//! readiness line (`shim_protocol::Ready`) to pouchd and exits; the child detaches, becomes
//! the subreaper, runs `runc create`, and then owns the container's stdio or pty, the
//! json-file log, the control/attach socket and the exit file until the init exits.
//! See `shim_protocol` for the wire contract.
#![deny(unsafe_code)]

mod args;
mod exit;
mod logfile;
mod runtime;
mod server;
// The only module allowed `unsafe`: fork, a signal disposition, mallopt, an ioctl, SCM_RIGHTS.
#[allow(unsafe_code)]
mod sys;
mod timefmt;

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::fcntl::OFlag;
use shim_protocol::{encode, ExitRecord, Hello, Kind, Ready, PROTOCOL_VERSION};

use crate::args::Args;
use crate::runtime::{ContainerIo, Created};
use crate::server::Shared;

/// After the init exits, how long to wait for the output pipes to drain. A process that
/// escaped the container's pid namespace could hold them open forever.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

fn main() {
    let args = match args::parse(std::env::args_os().skip(1)) {
        Ok(a) => a,
        Err(message) => {
            eprintln!("pouch-shim: {message}");
            print_ready_and_exit(&Ready::Err { message });
        }
    };
    sys::limit_malloc_arenas();
    close_inherited_fds();

    let (ready_r, ready_w) = match nix::unistd::pipe2(OFlag::O_CLOEXEC) {
        Ok(p) => p,
        Err(e) => print_ready_and_exit(&Ready::Err {
            message: format!("pipe: {e}"),
        }),
    };
    // Still single-threaded here, as `sys::fork` requires.
    match sys::fork() {
        Ok(sys::Forked::Parent { child }) => {
            drop(ready_w);
            relay_ready(File::from(ready_r), child);
        }
        Ok(sys::Forked::Child) => {
            drop(ready_r);
            run_child(&args, File::from(ready_w));
        }
        Err(e) => print_ready_and_exit(&Ready::Err {
            message: format!("fork: {e}"),
        }),
    }
}

fn print_ready_and_exit(ready: &Ready) -> ! {
    let line = serde_json::to_string(ready).unwrap_or_else(|_| {
        r#"{"err":{"message":"pouch-shim: cannot encode readiness"}}"#.to_string()
    });
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
    std::process::exit(match ready {
        Ready::Ok { .. } => 0,
        Ready::Err { .. } => 1,
    })
}

/// Parent side: wait for the child's one line and pass it on. On failure the child exits
/// right after reporting: collect it here, or it would linger as a zombie of pouchd (the
/// subreaper it is reparented to), which never learns its pid.
fn relay_ready(r: File, child: nix::unistd::Pid) -> ! {
    let mut line = String::new();
    let _ = BufReader::new(r).read_line(&mut line);
    let ready = serde_json::from_str::<Ready>(line.trim()).unwrap_or_else(|_| Ready::Err {
        message: if line.trim().is_empty() {
            "pouch-shim exited before it was ready".to_string()
        } else {
            format!("pouch-shim sent a bad readiness line: {}", line.trim())
        },
    });
    if matches!(ready, Ready::Err { .. }) {
        reap_failed_child(child);
    }
    print_ready_and_exit(&ready)
}

/// Bounded: a child that reported failure is already exiting; never hang pouchd's spawn.
fn reap_failed_child(child: nix::unistd::Pid) {
    use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
    for _ in 0..500 {
        match waitpid(child, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => std::thread::sleep(Duration::from_millis(10)),
            _ => return,
        }
    }
}

/// pouchd's descriptors (its API sockets, database, ...) must not live on in a shim that
/// outlives it, whatever CLOEXEC discipline the spawner had.
fn close_inherited_fds() {
    let fds: Vec<i32> = match std::fs::read_dir("/proc/self/fd") {
        Ok(dir) => dir
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .filter(|fd| *fd > 2)
            .collect(),
        Err(_) => return,
    };
    // The directory's own descriptor is in the list but already closed: EBADF is fine.
    for fd in fds {
        let _ = nix::unistd::close(fd);
    }
}

/// Point stdin/stdout/stderr at /dev/null: pouchd reads the parent's stdout to EOF, so the
/// child must not keep it open, and nothing may ever block on a terminal.
fn detach_stdio() {
    if let Ok(null) = OpenOptions::new().read(true).write(true).open("/dev/null") {
        for target in 0..=2 {
            let _ = nix::unistd::dup2(null.as_raw_fd(), target);
        }
    }
}

fn run_child(args: &Args, mut ready: File) -> ! {
    let _ = nix::unistd::setsid();
    // Do not pin whatever directory pouchd ran in (it may be a mount to be removed).
    let _ = nix::unistd::chdir("/");
    detach_stdio();
    let _ = sys::ignore_sigpipe();

    let started = nix::sys::prctl::set_child_subreaper(true)
        .map_err(|e| format!("prctl(PR_SET_CHILD_SUBREAPER): {e}"))
        .and_then(|()| start(args));
    let (created, log, listener) = match started {
        Ok(v) => v,
        Err(message) => {
            report(&mut ready, &Ready::Err { message });
            std::process::exit(1);
        }
    };
    let shim_pid = std::process::id();
    let init_pid = created.init_pid;
    match begin_serving(args, created, log, listener, shim_pid) {
        Ok(pumps) => {
            report(
                &mut ready,
                &Ready::Ok {
                    pid: init_pid as u32,
                    shim_pid,
                },
            );
            drop(ready);
            monitor(args, init_pid, pumps)
        }
        Err(message) => {
            let _ = std::fs::remove_file(&args.socket);
            report(&mut ready, &Ready::Err { message });
            std::process::exit(1);
        }
    }
}

fn report(w: &mut File, ready: &Ready) {
    if let Ok(mut line) = serde_json::to_vec(ready) {
        line.push(b'\n');
        // If the parent is gone there is nobody to tell; the shim still does its job.
        let _ = w.write_all(&line);
    }
}

/// Everything that can fail before the container exists or right after `runc create`.
fn start(args: &Args) -> Result<(Created, logfile::JsonLog, UnixListener), String> {
    let log = logfile::JsonLog::open(&args.log_path)
        .map_err(|e| format!("opening log {}: {e}", args.log_path.display()))?;
    let created = runtime::create(args)?;
    let listener = bind_socket(&args.socket)?;
    Ok((created, log, listener))
}

fn bind_socket(path: &Path) -> Result<UnixListener, String> {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("removing stale socket {}: {e}", path.display())),
    }
    UnixListener::bind(path).map_err(|e| format!("binding {}: {e}", path.display()))
}

struct Pumps {
    shared: Arc<Shared>,
    count: usize,
    done: mpsc::Receiver<()>,
    oom: exit::OomWatch,
}

/// Start the output pumps and the accept loop: from here on the socket is served.
fn begin_serving(
    args: &Args,
    created: Created,
    log: logfile::JsonLog,
    listener: UnixListener,
    shim_pid: u32,
) -> Result<Pumps, String> {
    let hello = Hello {
        version: PROTOCOL_VERSION,
        pid: created.init_pid as u32,
        shim_pid,
    };
    let hello = serde_json::to_vec(&hello).map_err(|e| format!("encoding hello: {e}"))?;
    let oom = exit::OomWatch::new(created.init_pid);

    let (stdin, pty, outputs) = match created.io {
        ContainerIo::Pipes {
            stdin,
            stdout,
            stderr,
        } => (
            stdin,
            None,
            vec![(stdout, Kind::Stdout), (stderr, Kind::Stderr)],
        ),
        ContainerIo::Pty { master } => {
            let dup = |f: &File| f.try_clone().map_err(|e| format!("dup pty master: {e}"));
            let stdin = if args.stdin {
                Some(dup(&master)?)
            } else {
                None
            };
            let resize = dup(&master)?;
            (stdin, Some(resize), vec![(master, Kind::Stdout)])
        }
    };
    let shared = Arc::new(Shared::new(
        encode(Kind::Hello, &hello),
        args.tty,
        Some(log),
        stdin,
        pty,
    ));
    let (tx, done) = mpsc::channel();
    let count = outputs.len();
    for (src, kind) in outputs {
        server::spawn_pump(Arc::clone(&shared), src, kind, tx.clone())
            .map_err(|e| format!("starting output thread: {e}"))?;
    }
    server::spawn_accept_loop(Arc::clone(&shared), listener)
        .map_err(|e| format!("starting accept thread: {e}"))?;
    Ok(Pumps {
        shared,
        count,
        done,
        oom,
    })
}

/// Reap until the init exits, let the output drain, record the exit, tell clients, leave.
fn monitor(args: &Args, init_pid: i32, pumps: Pumps) -> ! {
    let exited = exit::wait_for_init(init_pid);
    let deadline = Instant::now() + DRAIN_TIMEOUT;
    for _ in 0..pumps.count {
        let left = deadline.saturating_duration_since(Instant::now());
        if pumps.done.recv_timeout(left).is_err() {
            break;
        }
    }
    let rec = ExitRecord {
        exit_code: exited.exit_code,
        oom_killed: pumps.oom.oom_killed(&exited),
        exited_at: exited.exited_at,
    };
    // The file first: when a client sees the Exit frame, the file is already there. If it
    // cannot be written there is nobody to tell; the Exit frame still carries the code.
    let _ = exit::write_exit_file(&args.exit_file, &rec);
    let _ = std::fs::remove_file(&args.socket);
    let payload = serde_json::to_vec(&rec).unwrap_or_default();
    let _log = pumps.shared.finish(encode(Kind::Exit, &payload));
    std::process::exit(0)
}
