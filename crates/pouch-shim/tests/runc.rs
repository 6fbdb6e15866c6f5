//! End-to-end tests of the shim with the real runc and a busybox rootfs. They need root and
//! runc; without them they are skipped, except under CI=true where they fail.

use std::io::{BufRead, BufReader};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use serde_json::Value;
use shim_protocol::{
    encode_resize, read_frame, write_frame, ExitRecord, Frame, Hello, Kind, Ready, PROTOCOL_VERSION,
};

const SHIM: &str = env!("CARGO_BIN_EXE_pouch-shim");
const BUSYBOX: &str = "/bin/busybox";

fn runc_works() -> bool {
    Command::new("runc")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn prerequisites_missing() -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("not running as root".into());
    }
    if !runc_works() || !Path::new(BUSYBOX).exists() {
        // Debian's packages; harmless if they are already there or apt cannot reach out.
        let _ = Command::new("apt-get")
            .args(["install", "-y", "busybox-static", "runc"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    if !runc_works() {
        return Some("runc is not installed".into());
    }
    if !Path::new(BUSYBOX).exists() {
        return Some(format!("{BUSYBOX} (busybox-static) is missing"));
    }
    None
}

/// True if the test may run; panics under CI=true when it cannot.
fn can_run() -> bool {
    static MISSING: OnceLock<Option<String>> = OnceLock::new();
    match MISSING.get_or_init(|| {
        // Detached shims are re-parented to the nearest subreaper: be it, so the tests can
        // reap them instead of leaving zombies to an init that may not reap.
        let _ = nix::sys::prctl::set_child_subreaper(true);
        prerequisites_missing()
    }) {
        None => true,
        Some(why) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI=true but the runc tests cannot run: {why}")
        }
        Some(why) => {
            eprintln!("skipping: {why}");
            false
        }
    }
}

/// One container's world: a short temp dir (socket paths stay far below 107 bytes) with the
/// bundle, runc root, logs and socket. Dropping it force-deletes the container, waits for
/// the shim to go, and removes everything.
struct Ctr {
    dir: PathBuf,
    id: String,
    shim_pid: Option<i32>,
}

impl Ctr {
    fn new(args: &[&str], tty: bool) -> Ctr {
        Ctr::with_spec(args, tty, |_| {})
    }

    fn with_spec(args: &[&str], tty: bool, edit: impl FnOnce(&mut Value)) -> Ctr {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let dir = PathBuf::from(format!("/tmp/ps-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let id = format!("pouch-shim-test-{}-{n}", std::process::id());
        let c = Ctr {
            dir,
            id,
            shim_pid: None,
        };
        let bundle = c.bundle();
        let rootfs = bundle.join("rootfs");
        std::fs::create_dir_all(rootfs.join("bin")).unwrap();
        for d in ["proc", "sys", "dev", "tmp", "etc"] {
            std::fs::create_dir_all(rootfs.join(d)).unwrap();
        }
        std::fs::copy(BUSYBOX, rootfs.join("bin/busybox")).unwrap();
        let list = Command::new(BUSYBOX).arg("--list").output().unwrap();
        for applet in String::from_utf8(list.stdout).unwrap().lines() {
            if applet != "busybox" {
                let _ = std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet));
            }
        }
        let st = Command::new("runc")
            .args(["spec", "--rootless=false"])
            .current_dir(&bundle)
            .status()
            .unwrap();
        assert!(st.success(), "runc spec failed");
        let path = bundle.join("config.json");
        let mut spec: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        spec["process"]["args"] = serde_json::json!(args);
        spec["process"]["terminal"] = Value::Bool(tty);
        spec["process"]["env"] = serde_json::json!(["PATH=/bin", "TERM=xterm"]);
        spec["root"]["path"] = Value::String(rootfs.to_string_lossy().into_owned());
        spec["linux"]["cgroupsPath"] = Value::String(format!("/{}", c.id));
        edit(&mut spec);
        std::fs::write(&path, serde_json::to_vec_pretty(&spec).unwrap()).unwrap();
        c
    }

    fn bundle(&self) -> PathBuf {
        self.dir.join("b")
    }
    fn runc_root(&self) -> PathBuf {
        self.dir.join("r")
    }
    fn socket(&self) -> PathBuf {
        self.dir.join("s.sock")
    }
    fn log(&self) -> PathBuf {
        self.dir.join("ctr.log")
    }
    fn exit_file(&self) -> PathBuf {
        self.dir.join("exit.json")
    }

    fn shim_args(&self, tty: bool, stdin: bool) -> Vec<String> {
        let p = |p: PathBuf| p.to_string_lossy().into_owned();
        let mut v = vec![
            "--id".into(),
            self.id.clone(),
            "--bundle".into(),
            p(self.bundle()),
            "--runtime".into(),
            "runc".into(),
            "--runtime-root".into(),
            p(self.runc_root()),
            "--runtime-log".into(),
            p(self.dir.join("runc.log")),
            "--log-path".into(),
            p(self.log()),
            "--exit-file".into(),
            p(self.exit_file()),
            "--socket".into(),
            p(self.socket()),
        ];
        if tty {
            v.push("--tty".into());
        }
        if stdin {
            v.push("--stdin".into());
        }
        v
    }

    /// Run the shim as pouchd does; returns its readiness and the parent's exit status.
    fn spawn_shim(&mut self, tty: bool, stdin: bool) -> (Ready, bool) {
        let out = Command::new(SHIM)
            .args(self.shim_args(tty, stdin))
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        assert_eq!(
            text.lines().count(),
            1,
            "want one readiness line, got {text:?}"
        );
        let ready: Ready = serde_json::from_str(text.trim()).unwrap();
        if let Ready::Ok { shim_pid, .. } = ready {
            self.shim_pid = Some(shim_pid as i32);
        }
        (ready, out.status.success())
    }

    fn start_ok(&mut self, tty: bool, stdin: bool) -> (u32, u32) {
        match self.spawn_shim(tty, stdin) {
            (Ready::Ok { pid, shim_pid }, true) => (pid, shim_pid),
            other => panic!("shim not ready: {other:?}"),
        }
    }

    fn connect(&self) -> (UnixStream, Hello) {
        let mut s = UnixStream::connect(self.socket()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let f = read_frame(&mut s).unwrap().unwrap();
        assert_eq!(f.kind, Kind::Hello);
        let hello: Hello = serde_json::from_slice(&f.payload).unwrap();
        assert_eq!(hello.version, PROTOCOL_VERSION);
        (s, hello)
    }

    fn runc(&self, args: &[&str]) -> bool {
        Command::new("runc")
            .arg("--root")
            .arg(self.runc_root())
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .success()
    }

    fn runc_start(&self) {
        assert!(self.runc(&["start", &self.id]), "runc start failed");
    }

    /// Also reaps the shim once it has exited: the test process is the subreaper the
    /// detached shim is re-parented to (see `can_run`).
    fn shim_alive(&self) -> bool {
        let Some(p) = self.shim_pid else {
            return false;
        };
        match waitpid(Pid::from_raw(p), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => true,
            Ok(_) => false,
            // Not our child (re-parented elsewhere): look at it from outside.
            Err(_) => kill(Pid::from_raw(p), None).is_ok() && !is_zombie(p),
        }
    }

    fn wait_shim_gone(&self, within: Duration) -> bool {
        let end = Instant::now() + within;
        while self.shim_alive() {
            if Instant::now() > end {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        true
    }

    fn exit_record(&self) -> ExitRecord {
        serde_json::from_slice(&std::fs::read(self.exit_file()).unwrap()).unwrap()
    }

    /// (stream, log) of every json-file entry.
    fn log_entries(&self) -> Vec<(String, String)> {
        let text = std::fs::read_to_string(self.log()).unwrap_or_default();
        text.lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l).unwrap();
                let t = v["time"].as_str().unwrap();
                assert!(t.ends_with('Z') && t.contains('T'), "bad time {t}");
                (
                    v["stream"].as_str().unwrap().to_string(),
                    v["log"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }
}

fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit_once(')')
                .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
        })
        .unwrap_or(true)
}

/// Reap shims that exited while re-parented to this process (the subreaper), including
/// those whose pid a test never learned (a failed create reports no pid, and a killed
/// spawner orphans the shim's short-lived parent). Processes still in this process's group
/// are left alone: those are shim parents that `Command` in another test is waiting for.
fn reap_exited_shims() {
    let me = std::process::id().to_string();
    let my_pgrp = nix::unistd::getpgrp().to_string();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return;
    };
    for e in dir.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some((head, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        // After the comm: state, ppid, pgrp.
        let ours = head.ends_with("(pouch-shim")
            && f.first() == Some(&"Z")
            && f.get(1) == Some(&me.as_str())
            && f.get(2).is_some_and(|g| *g != my_pgrp);
        if ours {
            let _ = waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG));
        }
    }
}

impl Drop for Ctr {
    fn drop(&mut self) {
        let _ = self.runc(&["delete", "--force", &self.id]);
        if !self.wait_shim_gone(Duration::from_secs(5)) {
            if let Some(p) = self.shim_pid {
                let _ = kill(Pid::from_raw(p), Signal::SIGKILL);
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        reap_exited_shims();
    }
}

/// Read frames until the Exit frame (the last one), then expect EOF.
fn read_until_exit(s: &mut UnixStream) -> (Vec<Frame>, ExitRecord) {
    let mut frames = Vec::new();
    loop {
        let f = read_frame(s)
            .unwrap()
            .unwrap_or_else(|| panic!("EOF before Exit; got {frames:?}"));
        if f.kind == Kind::Exit {
            let rec: ExitRecord = serde_json::from_slice(&f.payload).unwrap();
            assert!(read_frame(s).unwrap().is_none(), "frames after Exit");
            return (frames, rec);
        }
        frames.push(f);
    }
}

fn collect(frames: &[Frame], kind: Kind) -> String {
    let bytes: Vec<u8> = frames
        .iter()
        .filter(|f| f.kind == kind)
        .flat_map(|f| f.payload.clone())
        .collect();
    String::from_utf8(bytes).unwrap()
}

/// Read stdout frames until `needle` has appeared in the accumulated output.
fn read_until_contains(s: &mut UnixStream, acc: &mut String, needle: &str) {
    while !acc.contains(needle) {
        let f = read_frame(s)
            .unwrap()
            .unwrap_or_else(|| panic!("EOF waiting for {needle:?}; got {acc:?}"));
        assert_eq!(f.kind, Kind::Stdout, "unexpected frame {f:?} in {acc:?}");
        acc.push_str(&String::from_utf8_lossy(&f.payload));
    }
}

#[test]
fn stdout_and_stderr_reach_clients_and_log() {
    if !can_run() {
        return;
    }
    let mut c = Ctr::new(&["sh", "-c", "echo out; echo err >&2; echo out2"], false);
    let (pid, shim_pid) = c.start_ok(false, false);
    assert!(c.shim_alive());
    let (mut a, hello) = c.connect();
    let (mut b, _) = c.connect();
    assert_eq!((hello.pid, hello.shim_pid), (pid, shim_pid));
    c.runc_start();
    let (fa, rec) = read_until_exit(&mut a);
    let (fb, rec_b) = read_until_exit(&mut b);
    assert_eq!(rec.exit_code, 0);
    assert_eq!(rec, rec_b);
    for frames in [&fa, &fb] {
        assert_eq!(collect(frames, Kind::Stdout), "out\nout2\n");
        assert_eq!(collect(frames, Kind::Stderr), "err\n");
    }
    let entries = c.log_entries();
    let mut outs: Vec<_> = entries.iter().filter(|e| e.0 == "stdout").collect();
    outs.sort();
    assert_eq!(
        outs,
        vec![
            &("stdout".to_string(), "out\n".to_string()),
            &("stdout".to_string(), "out2\n".to_string())
        ]
    );
    let errs: Vec<_> = entries.iter().filter(|e| e.0 == "stderr").collect();
    assert_eq!(errs, vec![&("stderr".to_string(), "err\n".to_string())]);
    assert_eq!(
        entries.len(),
        3,
        "only container output in the log: {entries:?}"
    );
    assert_eq!(c.exit_record(), rec);
    assert!(c.wait_shim_gone(Duration::from_secs(5)));
    assert!(!c.socket().exists());
}

#[test]
fn exit_code_propagates_and_socket_goes_away() {
    if !can_run() {
        return;
    }
    let mut c = Ctr::new(&["sh", "-c", "exit 3"], false);
    c.start_ok(false, false);
    let (mut s, _) = c.connect();
    c.runc_start();
    let (frames, rec) = read_until_exit(&mut s);
    assert!(frames.is_empty(), "no output expected: {frames:?}");
    assert_eq!(rec.exit_code, 3);
    assert!(!rec.oom_killed);
    assert!(rec.exited_at.ends_with('Z'));
    // The exit file was written before the Exit frame went out.
    assert_eq!(c.exit_record(), rec);
    assert!(c.wait_shim_gone(Duration::from_secs(5)));
    // A late client finds no socket and must read the exit file.
    assert!(UnixStream::connect(c.socket()).is_err());
    assert!(c.log_entries().is_empty());
}

#[test]
fn stdin_frames_and_close_stdin() {
    if !can_run() {
        return;
    }
    let mut c = Ctr::new(&["cat"], false);
    c.start_ok(false, true);
    let (mut s, _) = c.connect();
    c.runc_start();
    write_frame(&mut s, Kind::Stdin, b"hello\n").unwrap();
    let mut acc = String::new();
    read_until_contains(&mut s, &mut acc, "hello\n");
    write_frame(&mut s, Kind::Stdin, b"world\n").unwrap();
    write_frame(&mut s, Kind::CloseStdin, b"").unwrap();
    let (frames, rec) = read_until_exit(&mut s);
    acc.push_str(&collect(&frames, Kind::Stdout));
    assert_eq!(acc, "hello\nworld\n");
    assert_eq!(rec.exit_code, 0);
}

#[test]
fn tty_output_and_resize() {
    if !can_run() {
        return;
    }
    let script = "stty size; read line; stty size; echo got:$line";
    let mut c = Ctr::new(&["sh", "-c", script], true);
    c.start_ok(true, true);
    let (mut s, _) = c.connect();
    c.runc_start();
    let mut acc = String::new();
    // The first `stty size` ends with a newline; the pty turns it into \r\n.
    read_until_contains(&mut s, &mut acc, "\r\n");
    assert!(!acc.contains("40 100"), "size before resize: {acc:?}");
    // Frames on one connection are handled in order: the resize lands before the input.
    write_frame(&mut s, Kind::Resize, &encode_resize(40, 100)).unwrap();
    write_frame(&mut s, Kind::Stdin, b"go\n").unwrap();
    let (frames, rec) = read_until_exit(&mut s);
    assert!(frames.iter().all(|f| f.kind == Kind::Stdout));
    acc.push_str(&collect(&frames, Kind::Stdout));
    assert!(acc.contains("40 100\r\n"), "{acc:?}");
    assert!(acc.contains("got:go"), "{acc:?}");
    assert_eq!(rec.exit_code, 0);
    let entries = c.log_entries();
    assert!(entries.iter().all(|e| e.0 == "stdout"));
    let logged: String = entries.iter().map(|e| e.1.as_str()).collect();
    assert_eq!(logged, acc);
    assert!(c.wait_shim_gone(Duration::from_secs(5)));
}

#[test]
fn create_failure_reports_runc_error() {
    if !can_run() {
        return;
    }
    for tty in [false, true] {
        let mut c = Ctr::new(&["nosuchcmd"], tty);
        let (ready, ok) = c.spawn_shim(tty, false);
        assert!(!ok, "shim parent must exit non-zero");
        match ready {
            Ready::Err { message } => {
                assert!(
                    message.contains("executable file not found"),
                    "tty={tty}: {message}"
                );
            }
            other => panic!("expected an error, got {other:?}"),
        }
        assert!(!c.socket().exists());
        let con = format!("{}.con", c.socket().display());
        assert!(!Path::new(&con).exists());
        assert!(!c.exit_file().exists());
        assert!(
            c.log_entries().is_empty(),
            "runc's error must not be in the log"
        );
    }
}

#[test]
fn shim_survives_its_spawner() {
    if !can_run() {
        return;
    }
    let mut c = Ctr::new(&["sh", "-c", "read x; echo alive:$x"], false);
    // The spawner runs the shim, then lingers like a daemon would; we kill its whole group.
    let mut spawner = Command::new("sh")
        .arg("-c")
        .arg("\"$@\"; exec sleep 1000")
        .arg("sh")
        .arg(SHIM)
        .args(c.shim_args(false, true))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(spawner.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let ready: Ready = serde_json::from_str(line.trim()).unwrap();
    let Ready::Ok { shim_pid, .. } = ready else {
        panic!("not ready: {ready:?}");
    };
    c.shim_pid = Some(shim_pid as i32);
    kill(Pid::from_raw(-(spawner.id() as i32)), Signal::SIGKILL).unwrap();
    spawner.wait().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert!(c.shim_alive(), "the shim died with its spawner");

    let (mut s, _) = c.connect();
    c.runc_start();
    write_frame(&mut s, Kind::Stdin, b"yes\n").unwrap();
    let (frames, rec) = read_until_exit(&mut s);
    assert_eq!(collect(&frames, Kind::Stdout), "alive:yes\n");
    assert_eq!(rec.exit_code, 0);
}

/// Anonymous (heap, stacks, relocated data) memory of a process in KiB: what each shim
/// costs on its own, as its code pages are shared by all shims.
fn anon_kib(pid: u32) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap();
    text.lines()
        .find(|l| l.starts_with("Anonymous:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap()
}

#[test]
fn killed_container_exits_137() {
    if !can_run() {
        return;
    }
    let mut c = Ctr::new(&["sleep", "1000"], false);
    let (_, shim_pid) = c.start_ok(false, false);
    let (mut s, _) = c.connect();
    c.runc_start();
    let kib = anon_kib(shim_pid);
    eprintln!("shim anonymous memory: {kib} KiB");
    assert!(kib < 1024, "shim uses {kib} KiB of anonymous memory");
    assert!(c.runc(&["kill", &c.id, "KILL"]), "runc kill failed");
    let (frames, rec) = read_until_exit(&mut s);
    assert!(frames.is_empty());
    assert_eq!(rec.exit_code, 137);
    assert!(!rec.oom_killed);
    assert_eq!(c.exit_record().exit_code, 137);
    assert!(c.wait_shim_gone(Duration::from_secs(5)));
}

#[test]
fn oom_kill_is_recorded() {
    if !can_run() {
        return;
    }
    // dd touches its whole 100 MiB buffer; the cgroup allows 16 MiB and no swap.
    let limit = 16 * 1024 * 1024;
    let args = ["dd", "if=/dev/zero", "of=/dev/null", "bs=100M", "count=1"];
    let mut c = Ctr::with_spec(&args, false, |spec| {
        spec["linux"]["resources"]["memory"] = serde_json::json!({"limit": limit, "swap": limit});
    });
    c.start_ok(false, false);
    let (mut s, _) = c.connect();
    c.runc_start();
    let (_, rec) = read_until_exit(&mut s);
    assert_eq!(rec.exit_code, 137);
    assert!(rec.oom_killed, "{rec:?}");
    assert_eq!(c.exit_record(), rec);
}

#[test]
fn large_output_is_complete_in_frames_and_log() {
    if !can_run() {
        return;
    }
    let mut c = Ctr::new(&["seq", "1", "30000"], false);
    c.start_ok(false, false);
    let (mut s, _) = c.connect();
    c.runc_start();
    let (frames, rec) = read_until_exit(&mut s);
    assert_eq!(rec.exit_code, 0);
    let want: String = (1..=30000).map(|i| format!("{i}\n")).collect();
    assert_eq!(collect(&frames, Kind::Stdout), want);
    let entries = c.log_entries();
    let logged: String = entries.iter().map(|e| e.1.as_str()).collect();
    assert_eq!(logged, want);
    // One entry per line; only a line cut by a read boundary is split in two.
    assert!(entries.len() >= 30000);
    assert!(entries.iter().all(|e| e.1.matches('\n').count() <= 1));
}
