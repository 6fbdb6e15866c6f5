//! Reaping the container's init, and recording how it ended.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::kill;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;
use shim_protocol::ExitRecord;

use crate::timefmt;

/// Exit code reported when the init vanished without the shim seeing its status.
const UNKNOWN_EXIT: i32 = 255;

pub struct InitExit {
    pub exit_code: i32,
    pub killed_by_sigkill: bool,
    pub exited_at: String,
}

/// Reap children until the container's init is among them. The shim is a subreaper, so the
/// init (re-parented after `runc create` exited) and any orphans of it end up here.
pub fn wait_for_init(init: i32) -> InitExit {
    let init = Pid::from_raw(init);
    loop {
        match waitpid(None::<Pid>, None) {
            Ok(WaitStatus::Exited(pid, code)) if pid == init => {
                return done(code, false);
            }
            Ok(WaitStatus::Signaled(pid, sig, _)) if pid == init => {
                return done(128 + sig as i32, sig == nix::sys::signal::SIGKILL);
            }
            Ok(_) | Err(Errno::EINTR) => {}
            Err(_) => {
                // No children at all: the init is not (or no longer) ours to reap. Poll for
                // it to disappear rather than spin; its status is then unknowable.
                if kill(init, None) == Err(Errno::ESRCH) {
                    return done(UNKNOWN_EXIT, false);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

fn done(exit_code: i32, killed_by_sigkill: bool) -> InitExit {
    InitExit {
        exit_code,
        killed_by_sigkill,
        exited_at: timefmt::now(),
    }
}

/// Best-effort OOM detection: the memory cgroup's `oom_kill` counter, read before and after.
pub struct OomWatch {
    file: Option<(PathBuf, &'static str)>,
    before: u64,
}

impl OomWatch {
    pub fn new(init: i32) -> OomWatch {
        let file = std::fs::read_to_string(format!("/proc/{init}/cgroup"))
            .ok()
            .and_then(|s| memory_events_file(&s, Path::new("/sys/fs/cgroup")));
        let before = file
            .as_ref()
            .and_then(|(p, key)| read_counter(p, key))
            .unwrap_or(0);
        OomWatch { file, before }
    }

    pub fn oom_killed(&self, exit: &InitExit) -> bool {
        exit.killed_by_sigkill
            && self
                .file
                .as_ref()
                .and_then(|(p, key)| read_counter(p, key))
                .is_some_and(|after| after > self.before)
    }
}

/// Where the cgroup's OOM-kill counter lives, from the text of `/proc/PID/cgroup`:
/// the v1 memory controller if mounted, else the v2 unified hierarchy.
fn memory_events_file(proc_cgroup: &str, root: &Path) -> Option<(PathBuf, &'static str)> {
    let mut v2 = None;
    for line in proc_cgroup.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, ctrls, path) = (parts.next()?, parts.next()?, parts.next()?);
        let rel = path.trim_start_matches('/');
        if ctrls.split(',').any(|c| c == "memory") {
            return Some((
                root.join("memory").join(rel).join("memory.oom_control"),
                "oom_kill",
            ));
        }
        if ctrls.is_empty() {
            v2 = Some((root.join(rel).join("memory.events"), "oom_kill"));
        }
    }
    v2.filter(|(p, _)| p.exists())
}

fn read_counter(path: &Path, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

/// Write the exit record so that a crash at any point leaves either no file or a complete
/// one: temp file in the same directory, fsync, rename, fsync the directory.
pub fn write_exit_file(path: &Path, rec: &ExitRecord) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "exit file has no name"))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(".tmp");
    let tmp = dir.join(tmp_name);
    let body = serde_json::to_vec(rec).map_err(io::Error::other)?;
    {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        f.write_all(&body)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_v1_memory_cgroup() {
        let text = "9:name=systemd:/\n4:memory:/pouch/abc\n0::/\n";
        let (p, k) = memory_events_file(text, Path::new("/sys/fs/cgroup")).unwrap();
        assert_eq!(
            p,
            PathBuf::from("/sys/fs/cgroup/memory/pouch/abc/memory.oom_control")
        );
        assert_eq!(k, "oom_kill");
    }

    #[test]
    fn reads_counters() {
        let dir = std::env::temp_dir().join(format!("pouch-shim-ut-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("memory.oom_control");
        std::fs::write(&f, "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n").unwrap();
        assert_eq!(read_counter(&f, "oom_kill"), Some(2));
        assert_eq!(read_counter(&f, "missing"), None);

        let exit = dir.join("exit");
        let rec = ExitRecord {
            exit_code: 3,
            exited_at: "2026-01-01T00:00:00Z".into(),
            oom_killed: false,
        };
        write_exit_file(&exit, &rec).unwrap();
        let back: ExitRecord = serde_json::from_slice(&std::fs::read(&exit).unwrap()).unwrap();
        assert_eq!(back, rec);
        assert!(!dir.join(".exit.tmp").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
