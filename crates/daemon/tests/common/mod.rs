//! Harness for end-to-end tests: a private `pouchd` per test (own data root, exec root,
//! socket, bridge and /24 subnet), driven by the real docker CLI and by raw HTTP on its socket.
//!
//! Needs root, runc, the docker CLI and a local registry holding the busybox fixture
//! (`scripts/test.sh` sets all of that up). Without them a test prints why and returns,
//! except under `CI=true`, where it fails. All traffic stays on this machine: the registry is
//! on 127.0.0.1 and containers live on the test's own bridge.
#![allow(dead_code)]

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::Ipv4Addr;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// `host:port` of the test registry (loopback only).
pub fn registry() -> String {
    std::env::var("POUCH_TEST_REGISTRY").unwrap_or_else(|_| "127.0.0.1:5000".into())
}

/// The busybox fixture image in the test registry.
pub fn image() -> String {
    format!("{}/busybox:latest", registry())
}

fn in_ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

/// Directory holding the workspace binaries (pouchd, pouch-shim, pouch).
pub fn bin_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_pouchd"))
        .parent()
        .expect("bin dir")
        .to_path_buf()
}

pub fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(["/usr/sbin", "/sbin"])
        .map(|d| Path::new(d).join(tool))
        .find(|p| p.is_file());
    found
}

fn registry_has_image() -> Result<(), String> {
    let reg = registry();
    let addr: std::net::SocketAddr = reg
        .parse()
        .map_err(|_| format!("POUCH_TEST_REGISTRY={reg} is not an IP:port"))?;
    if !addr.ip().is_loopback() {
        return Err(format!(
            "POUCH_TEST_REGISTRY={reg} is not a loopback address"
        ));
    }
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2))
        .map_err(|e| format!("no registry on {reg} ({e}); run scripts/test-registry.sh start"))?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok();
    let req = format!(
        "HEAD /v2/busybox/manifests/latest HTTP/1.1\r\nHost: {reg}\r\nAccept: application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    let mut resp = String::new();
    let _ = s.read_to_string(&mut resp);
    if resp.starts_with("HTTP/1.1 200") {
        Ok(())
    } else {
        Err(format!(
            "registry {reg} has no busybox:latest; run scripts/test-image.sh {}",
            image()
        ))
    }
}

/// True when everything the end-to-end tests need is here; otherwise prints why and returns
/// false, or panics under CI=true (CI must prove these tests).
pub fn ready() -> bool {
    let reason = if !nix::unistd::geteuid().is_root() {
        Some("not root".to_string())
    } else if let Some(t) = ["runc", "docker", "ip", "iptables", "script"]
        .iter()
        .find(|t| which(t).is_none())
    {
        Some(format!("{t} not installed (scripts/deps.sh installs it)"))
    } else if !bin_dir().join("pouch-shim").is_file() || !bin_dir().join("pouch").is_file() {
        Some("pouch-shim/pouch not built: run cargo build --workspace --bins".to_string())
    } else {
        registry_has_image().err()
    };
    match reason {
        None => true,
        Some(r) if in_ci() => panic!("end-to-end test cannot run under CI: {r}"),
        Some(r) => {
            eprintln!("SKIP: {r}");
            false
        }
    }
}

/// An HTTP reply: status, headers (names lowercased), body.
pub type Reply = (u16, Vec<(String, String)>, String);

static SUBNETS: Mutex<Vec<(u8, u8)>> = Mutex::new(Vec::new());

/// A 10.A.B.0/24 not on any host route and not used by another test in this process.
fn pick_subnet() -> (u8, u8) {
    let routes = String::from_utf8_lossy(
        &Command::new("ip")
            .args(["-4", "route", "show", "table", "all"])
            .output()
            .map(|o| o.stdout)
            .unwrap_or_default(),
    )
    .into_owned();
    let taken: HashSet<String> = routes
        .split_whitespace()
        .filter(|w| w.starts_with("10."))
        .map(|w| w.split('/').next().unwrap_or("").to_string())
        .collect();
    let mut used = SUBNETS.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let a = 210 + (rand::random::<u8>() % 30);
        let b = rand::random::<u8>();
        let prefix = format!("10.{a}.{b}.");
        if used.contains(&(a, b)) || taken.iter().any(|t| t.starts_with(&prefix)) {
            continue;
        }
        // A host route covering 10.A.0.0/16 or wider would also collide.
        if routes.contains(&format!("10.{a}.0.0/")) || routes.contains("10.0.0.0/8") {
            continue;
        }
        used.push((a, b));
        return (a, b);
    }
}

/// How to start a test daemon beyond `start_with`'s extra flags.
#[derive(Debug, Clone, Default)]
pub struct StartOpts {
    /// Extra pouchd flags.
    pub extra: Vec<String>,
    /// Leave `--bip` out so pouchd probes a free private subnet on first start and reuses
    /// it later. `bip` and `net_prefix` are then empty: read the address off the bridge.
    /// The subnet is a host-wide /16; keep such daemons few.
    pub default_bip: bool,
}

/// A running private pouchd. Dropping it removes every container, stops the daemon and
/// cleans up whatever is left (mounts, bridge, processes, directory).
pub struct Daemon {
    pub dir: PathBuf,
    pub data_root: PathBuf,
    pub exec_root: PathBuf,
    pub sock: PathBuf,
    pub bridge: String,
    /// Gateway address with prefix, e.g. `10.221.7.1/24`.
    pub bip: String,
    /// The first three octets of the subnet, e.g. `10.221.7.`.
    pub net_prefix: String,
    pub extra_flags: Vec<String>,
    child: Option<Child>,
    docker_config: PathBuf,
}

impl Daemon {
    /// Start a daemon with default flags, or None when the environment is missing (skipped).
    pub fn start() -> Option<Daemon> {
        Self::start_with(&[])
    }

    /// Start a daemon with extra pouchd flags.
    pub fn start_with(extra: &[&str]) -> Option<Daemon> {
        Self::start_opts(StartOpts {
            extra: extra.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        })
    }

    /// Start a daemon as `opts` says.
    pub fn start_opts(opts: StartOpts) -> Option<Daemon> {
        let mut d = Self::prepare(opts)?;
        d.spawn();
        Some(d)
    }

    /// Everything `start_opts` sets up (directory, names, subnet) without starting pouchd:
    /// for start-up errors (`run_pouchd_once`) or a first start with `restart`. Cleans up on
    /// drop like a started daemon.
    pub fn prepare(opts: StartOpts) -> Option<Daemon> {
        if !ready() {
            return None;
        }
        let tag = format!("{:08x}", rand::random::<u32>());
        let dir = PathBuf::from(format!("/tmp/pt-{tag}"));
        std::fs::create_dir_all(&dir).expect("create test dir");
        let (bip, net_prefix) = if opts.default_bip {
            (String::new(), String::new())
        } else {
            let (a, b) = pick_subnet();
            (format!("10.{a}.{b}.1/24"), format!("10.{a}.{b}."))
        };
        let docker_config = dir.join("docker-config");
        std::fs::create_dir_all(&docker_config).expect("docker config dir");
        Some(Daemon {
            data_root: dir.join("root"),
            exec_root: dir.join("x"),
            sock: dir.join("d.sock"),
            bridge: format!("pt{tag}"),
            bip,
            net_prefix,
            extra_flags: opts.extra,
            child: None,
            docker_config,
            dir,
        })
    }

    /// The pouchd command line for this daemon (without extra flags).
    pub fn base_args(&self) -> Vec<String> {
        let mut args: Vec<String> = vec![
            "-H".into(),
            format!("unix://{}", self.sock.display()),
            "--data-root".into(),
            self.data_root.display().to_string(),
            "--exec-root".into(),
            self.exec_root.display().to_string(),
            "--pidfile".into(),
            self.dir.join("pouchd.pid").display().to_string(),
            "--bridge-name".into(),
            self.bridge.clone(),
        ];
        // Without it (`StartOpts::default_bip`) pouchd picks the subnet itself.
        if !self.bip.is_empty() {
            args.extend(["--bip".into(), self.bip.clone()]);
        }
        args.extend(["--log-level".into(), "info,pouchd=debug".into()]);
        args
    }

    /// Run pouchd with this daemon's flags plus `extra` and wait for it to exit (for flag
    /// errors); gives up after 20 s.
    pub fn run_pouchd_once(&self, extra: &[&str]) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_pouchd"))
            .args(self.base_args())
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn pouchd");
        let deadline = Instant::now() + Duration::from_secs(20);
        while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if child.try_wait().ok().flatten().is_none() {
            let _ = child.kill();
        }
        child.wait_with_output().expect("pouchd output")
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("pouchd.log"))
            .expect("daemon log");
        let child = Command::new(env!("CARGO_BIN_EXE_pouchd"))
            .args(self.base_args())
            .args(&self.extra_flags)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log fd"))
            .stderr(log)
            .spawn()
            .expect("spawn pouchd");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok((200, _, _)) = self.try_api("GET", "/_ping", None) {
                return;
            }
            if let Some(st) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("pouchd exited with {st} at start:\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "pouchd did not answer /_ping in 30 s:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// The daemon's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("pouchd.log")).unwrap_or_default()
    }

    /// SIGKILL the daemon (containers and shims keep running).
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM the daemon and wait (at most 60 s) for it to exit.
    pub fn term(&mut self) -> Option<ExitStatus> {
        let mut c = self.child.take()?;
        let pid = nix::unistd::Pid::from_raw(c.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(st)) = c.try_wait() {
                return Some(st);
            }
            if Instant::now() > deadline {
                let _ = c.kill();
                return c.wait().ok();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Start the daemon again on the same roots (after `kill9` or `term`).
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "daemon still running");
        self.spawn();
    }

    /// Restart with different extra flags.
    pub fn restart_with(&mut self, extra: &[&str]) {
        self.extra_flags = extra.iter().map(|s| s.to_string()).collect();
        self.restart();
    }

    /// A docker CLI command aimed at this daemon (DOCKER_HOST, private config dir).
    pub fn docker_cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("docker");
        c.env("DOCKER_HOST", format!("unix://{}", self.sock.display()))
            .env("DOCKER_CONFIG", &self.docker_config)
            .env_remove("DOCKER_CONTEXT")
            .env_remove("DOCKER_API_VERSION")
            .args(args);
        c
    }

    /// Run the docker CLI with no stdin; returns its output.
    pub fn docker(&self, args: &[&str]) -> Output {
        self.docker_cmd(args)
            .stdin(Stdio::null())
            .output()
            .expect("run docker")
    }

    /// Run the docker CLI with `input` on stdin.
    pub fn docker_stdin(&self, args: &[&str], input: &[u8]) -> Output {
        let mut child = self
            .docker_cmd(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run docker");
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(input).expect("write stdin");
        drop(stdin);
        child.wait_with_output().expect("docker output")
    }

    /// Run the docker CLI, panic unless it succeeds; returns trimmed stdout.
    pub fn docker_ok(&self, args: &[&str]) -> String {
        let out = self.docker(args);
        assert!(
            out.status.success(),
            "docker {args:?} failed with {}:\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Run `cmd` (a shell command line) inside a fresh pseudo-terminal made by `script`,
    /// with DOCKER_HOST pointing at this daemon. Returns the output and exit status.
    pub fn in_pty(&self, cmd: &str, input: &[u8]) -> Output {
        let mut child = Command::new("script")
            .args(["-qec", cmd, "/dev/null"])
            .env("DOCKER_HOST", format!("unix://{}", self.sock.display()))
            .env("DOCKER_CONFIG", &self.docker_config)
            .env("TERM", "xterm")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run script");
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(input).expect("write pty input");
        // Keep stdin open until the command ends: closing it would hang up the pty early.
        let out = wait_output_bounded(child, Duration::from_secs(60));
        drop(stdin);
        out
    }

    /// The `pouch` CLI aimed at this daemon.
    pub fn pouch(&self, args: &[&str]) -> Output {
        Command::new(bin_dir().join("pouch"))
            .arg("-H")
            .arg(format!("unix://{}", self.sock.display()))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run pouch")
    }

    /// One HTTP/1.1 request on the daemon socket: (status, headers lowercased, body).
    pub fn try_api(&self, method: &str, path: &str, body: Option<&str>) -> std::io::Result<Reply> {
        let mut s = UnixStream::connect(&self.sock)?;
        s.set_read_timeout(Some(Duration::from_secs(120)))?;
        let body = body.unwrap_or("");
        let ctype = if body.is_empty() {
            String::new()
        } else {
            "Content-Type: application/json\r\n".to_string()
        };
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: docker\r\n{ctype}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes())?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw)?;
        Ok(parse_response(&raw, method == "HEAD"))
    }

    /// Like `try_api`, panicking on transport errors.
    pub fn api(&self, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
        let (st, _, b) = self
            .try_api(method, path, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        (st, b)
    }

    /// GET a JSON document, asserting 200.
    pub fn get_json(&self, path: &str) -> serde_json::Value {
        let (st, b) = self.api("GET", path, None);
        assert_eq!(st, 200, "GET {path}: {b}");
        serde_json::from_str(&b).unwrap_or_else(|e| panic!("GET {path}: bad JSON {e}: {b}"))
    }

    /// `docker inspect` of a container as JSON.
    pub fn inspect(&self, name: &str) -> serde_json::Value {
        self.get_json(&format!("/containers/{name}/json"))
    }

    /// Host-side objects this daemon could leave behind; empty when clean. Call after the
    /// daemon has stopped (or with no containers).
    pub fn leftovers(&self) -> Vec<String> {
        let mut left = Vec::new();
        let dir = self.dir.display().to_string();
        if let Ok(mi) = std::fs::read_to_string("/proc/self/mountinfo") {
            for l in mi.lines() {
                if let Some(mp) = l.split(' ').nth(4) {
                    if mp.starts_with(&dir) {
                        left.push(format!("mount {mp}"));
                    }
                }
            }
        }
        for p in processes_mentioning(&dir) {
            if Some(p.0) != self.pid() {
                left.push(format!("process {} {}", p.0, p.1));
            }
        }
        if Command::new("ip")
            .args(["link", "show", "dev", &self.bridge])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
        {
            left.push(format!("bridge {}", self.bridge));
        }
        let rules = String::from_utf8_lossy(
            &Command::new("iptables")
                .args(["-S"])
                .output()
                .map(|o| o.stdout)
                .unwrap_or_default(),
        )
        .into_owned();
        for r in rules.lines().filter(|r| r.contains(&self.bridge)) {
            left.push(format!("iptables {r}"));
        }
        let parent = cgroup_parent(&self.exec_root);
        if let Ok(ctrls) = std::fs::read_dir("/sys/fs/cgroup") {
            for c in ctrls.flatten() {
                let p = c.path().join(&parent);
                if p.is_dir() {
                    left.push(format!("cgroup {}", p.display()));
                }
            }
        }
        left
    }

    /// IDs of all containers (running or not).
    pub fn all_ids(&self) -> Vec<String> {
        match self.try_api("GET", "/containers/json?all=1", None) {
            Ok((200, _, b)) => serde_json::from_str::<serde_json::Value>(&b)
                .ok()
                .and_then(|v| v.as_array().cloned())
                .unwrap_or_default()
                .iter()
                .filter_map(|c| c["Id"].as_str().map(String::from))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Remove every container, stop the daemon, then clean up anything still left.
    fn cleanup(&mut self) {
        if self.child.is_some() {
            for id in self.all_ids() {
                let _ = self.try_api("DELETE", &format!("/containers/{id}?force=1"), None);
            }
            self.term();
        }
        // Whatever is left (a failed test, a daemon killed mid-way): kill processes that
        // mention our directory, unmount, drop the bridge and its rules.
        for (pid, _) in processes_mentioning(&self.dir.display().to_string()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let dir = self.dir.display().to_string();
        if let Ok(mi) = std::fs::read_to_string("/proc/self/mountinfo") {
            let mut mps: Vec<&str> = mi
                .lines()
                .filter_map(|l| l.split(' ').nth(4))
                .filter(|mp| mp.starts_with(&dir))
                .collect();
            mps.sort_by_key(|m| std::cmp::Reverse(m.len()));
            for mp in mps {
                let _ = nix::mount::umount2(mp, nix::mount::MntFlags::MNT_DETACH);
            }
        }
        let _ = Command::new("ip")
            .args(["link", "del", "dev", &self.bridge])
            .stderr(Stdio::null())
            .status();
        // The bridge's accept rules (filter) and its masquerade (nat), if pouchd could not
        // remove them itself.
        for table in ["filter", "nat"] {
            let rules = String::from_utf8_lossy(
                &Command::new("iptables")
                    .args(["-t", table, "-S"])
                    .output()
                    .map(|o| o.stdout)
                    .unwrap_or_default(),
            )
            .into_owned();
            for r in rules.lines().filter(|r| r.contains(&self.bridge)) {
                if let Some(rest) = r.strip_prefix("-A ") {
                    let mut args = vec!["-t".to_string(), table.to_string(), "-D".to_string()];
                    args.extend(iptables_words(rest));
                    let _ = Command::new("iptables")
                        .args(&args)
                        .stderr(Stdio::null())
                        .status();
                }
            }
        }
        remove_cgroups(&cgroup_parent(&self.exec_root));
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Split an `iptables -S` line into arguments; `-S` quotes words with spaces (our
/// `--comment "pouch bridge X"`).
fn iptables_words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for ch in line.chars() {
        match ch {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = self.log();
            let tail: Vec<&str> = log.lines().rev().take(60).collect();
            eprintln!("---- pouchd log tail ({}) ----", self.dir.display());
            for l in tail.iter().rev() {
                eprintln!("{l}");
            }
        }
        self.cleanup();
    }
}

/// The cgroup parent pouchd derives from a non-default exec root: `pouch-<8 hex>`.
pub fn cgroup_parent(exec_root: &Path) -> String {
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(exec_root.as_os_str().as_encoded_bytes());
    format!("pouch-{}", &hex::encode(h)[..8])
}

/// Remove the daemon's cgroup parent and its children. A process that was just killed
/// keeps its cgroup busy for a moment, so try again for up to 3 s.
fn remove_cgroups(parent: &str) {
    let dirs = || -> Vec<PathBuf> {
        std::fs::read_dir("/sys/fs/cgroup")
            .map(|r| r.flatten().map(|c| c.path().join(parent)).collect())
            .unwrap_or_default()
    };
    for _ in 0..30 {
        let mut left = false;
        for p in dirs() {
            if let Ok(children) = std::fs::read_dir(&p) {
                for ch in children.flatten() {
                    if ch.path().is_dir() {
                        let _ = std::fs::remove_dir(ch.path());
                    }
                }
            }
            if std::fs::remove_dir(&p).is_err() && p.exists() {
                left = true;
            }
        }
        if !left {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// (pid, cmdline) of processes whose command line mentions `needle`.
pub fn processes_mentioning(needle: &str) -> Vec<(u32, String)> {
    let me = std::process::id();
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for e in rd.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            if pid == me {
                continue;
            }
            if let Ok(cl) = std::fs::read(e.path().join("cmdline")) {
                let cl = String::from_utf8_lossy(&cl).replace('\0', " ");
                if cl.contains(needle) {
                    out.push((pid, cl));
                }
            }
        }
    }
    out
}

/// Is a process with this pid alive (not a zombie)?
pub fn pid_alive(pid: i64) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => s
            .rsplit_once(") ")
            .map(|(_, rest)| !rest.starts_with('Z'))
            .unwrap_or(false),
        Err(_) => false,
    }
}

/// Wait for `child` at most `limit`, killing it then. Its output, and whether it had to be
/// killed.
pub fn wait_bounded(mut child: Child, limit: Duration) -> (Output, bool) {
    let deadline = Instant::now() + limit;
    let mut killed = false;
    while child.try_wait().ok().flatten().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            killed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    (child.wait_with_output().expect("child output"), killed)
}

/// [`wait_bounded`]'s output alone.
pub fn wait_output_bounded(child: Child, limit: Duration) -> Output {
    wait_bounded(child, limit).0
}

/// A child whose stdout lines are read on a thread, so a test can wait for them with a
/// bound (`docker events`, `logs -f`, a pull to interrupt). Killed on drop.
pub struct LiveLines {
    child: Child,
    rx: std::sync::mpsc::Receiver<String>,
}

impl LiveLines {
    pub fn spawn(mut cmd: Command) -> LiveLines {
        use std::io::BufRead;
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        let out = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        LiveLines { child, rx }
    }

    /// The next line, waiting at most `limit`.
    pub fn next_line(&self, limit: Duration) -> Option<String> {
        self.rx.recv_timeout(limit).ok()
    }

    /// Lines until `done` says stop (that line included), for at most `limit`.
    pub fn until(&self, limit: Duration, mut done: impl FnMut(&str) -> bool) -> Vec<String> {
        let deadline = Instant::now() + limit;
        let mut got = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            let Some(l) = self.next_line(left) else { break };
            let stop = done(&l);
            got.push(l);
            if stop {
                break;
            }
        }
        got
    }
}

impl Drop for LiveLines {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Poll `f` every 20 ms for at most `limit`; true once it holds.
pub fn eventually(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if f() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Parse a raw HTTP/1.1 response (chunked or not).
fn parse_response(raw: &[u8], head: bool) -> Reply {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(raw.len());
    let head_text = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head_text.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = raw.get(split + 4..).unwrap_or(&[]).to_vec();
    if head {
        body.clear();
    }
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = b.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(
            String::from_utf8_lossy(&b[..eol])
                .split(';')
                .next()
                .unwrap_or("")
                .trim(),
            16,
        )
        .unwrap_or(0);
        if size == 0 || b.len() < eol + 2 + size {
            break;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + size]);
        b = &b[(eol + 4 + size).min(b.len())..];
    }
    out
}

/// Header value by (lowercase) name.
pub fn header<'a>(h: &'a [(String, String)], name: &str) -> Option<&'a str> {
    h.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// Parse an IPv4 address out of `ip -4 addr` output for eth0.
pub fn eth0_ipv4(ip_addr_output: &str) -> Option<Ipv4Addr> {
    ip_addr_output
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("inet ") && l.contains("eth0"))
        .filter_map(|l| l.split_whitespace().nth(1))
        .filter_map(|a| a.split('/').next()?.parse().ok())
        .next()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A TCP forwarder from `listen_ip:<free port>` to `to`, for reaching the loopback registry
/// at an address that is not loopback (the test bridge's gateway: an address this test
/// created). Stops accepting when dropped; each connection ends with either side or after
/// 30 s of silence, so nothing outlives the test for long.
pub struct TcpForwarder {
    pub addr: std::net::SocketAddr,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    accept: Option<std::thread::JoinHandle<()>>,
}

impl TcpForwarder {
    pub fn start(listen_ip: Ipv4Addr, to: std::net::SocketAddr) -> TcpForwarder {
        Self::start_with_rate(listen_ip, to, None)
    }

    /// Like `start`, passing at most `bytes_per_sec` in each direction (a slow registry).
    pub fn start_with_rate(
        listen_ip: Ipv4Addr,
        to: std::net::SocketAddr,
        bytes_per_sec: Option<u64>,
    ) -> TcpForwarder {
        use std::net::{TcpListener, TcpStream};
        use std::sync::atomic::Ordering;
        let listener = TcpListener::bind((listen_ip, 0)).expect("bind forwarder");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("forwarder addr");
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stop2 = stop.clone();
        let pipe = move |mut from: TcpStream, mut to: TcpStream| {
            std::thread::spawn(move || {
                let mut buf = [0u8; 16 * 1024];
                while let Ok(n) = from.read(&mut buf) {
                    if n == 0 || to.write_all(&buf[..n]).is_err() {
                        break;
                    }
                    if let Some(rate) = bytes_per_sec {
                        std::thread::sleep(Duration::from_micros(n as u64 * 1_000_000 / rate));
                    }
                }
                let _ = to.shutdown(std::net::Shutdown::Write);
            });
        };
        let accept = std::thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let Ok(upstream) = TcpStream::connect_timeout(&to, Duration::from_secs(2))
                        else {
                            continue;
                        };
                        let _ = client.set_nonblocking(false);
                        for s in [&client, &upstream] {
                            let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
                        }
                        if let (Ok(c2), Ok(u2)) = (client.try_clone(), upstream.try_clone()) {
                            pipe(client, upstream);
                            pipe(u2, c2);
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        TcpForwarder {
            addr,
            stop,
            accept: Some(accept),
        }
    }
}

impl Drop for TcpForwarder {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

/// One HTTP/1.1 request to the test registry (loopback only).
fn registry_request(method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let reg = registry();
    let addr: std::net::SocketAddr = reg.parse().expect("registry is IP:port");
    assert!(addr.ip().is_loopback(), "registry {reg} is not loopback");
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("connect {reg}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(30))).ok();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {reg}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).expect("send request");
    s.write_all(body).expect("send body");
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    parse_response(&raw, method == "HEAD")
}

/// Push `REGISTRY/repo:tag`: the busybox fixture with another creation time and these
/// labels (same layer, mounted from the busybox repository; only a config blob and a
/// manifest are written). The bytes are deterministic, so pushing again changes nothing.
/// Returns the image id (the config digest).
pub fn push_variant_image(repo: &str, tag: &str, created: &str, labels: &[(&str, &str)]) -> String {
    use sha2::Digest;
    let accept = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";
    let (st, h, body) = registry_request(
        "GET",
        "/v2/busybox/manifests/latest",
        &[("Accept", accept)],
        b"",
    );
    assert_eq!(st, 200, "busybox manifest: {body}");
    let mtype = header(&h, "content-type")
        .expect("manifest content type")
        .to_string();
    let mut manifest: serde_json::Value = serde_json::from_str(&body).expect("manifest JSON");
    let base = manifest["config"]["digest"]
        .as_str()
        .expect("config digest")
        .to_string();
    let (st, _, cfg) = registry_request("GET", &format!("/v2/busybox/blobs/{base}"), &[], b"");
    assert_eq!(st, 200, "busybox config: {cfg}");
    let mut config: serde_json::Value = serde_json::from_str(&cfg).expect("config JSON");
    config["created"] = created.into();
    config["config"]["Labels"] = labels
        .iter()
        .map(|(k, v)| (k.to_string(), serde_json::Value::from(*v)))
        .collect::<serde_json::Map<_, _>>()
        .into();
    let bytes = serde_json::to_vec(&config).expect("config bytes");
    let digest = format!("sha256:{}", hex::encode(sha2::Sha256::digest(&bytes)));
    for layer in manifest["layers"].as_array().expect("layers") {
        let d = layer["digest"].as_str().expect("layer digest");
        let (st, _, b) = registry_request(
            "POST",
            &format!("/v2/{repo}/blobs/uploads/?mount={d}&from=busybox"),
            &[],
            b"",
        );
        assert_eq!(st, 201, "mount {d} into {repo}: {b}");
    }
    let (st, h, b) = registry_request("POST", &format!("/v2/{repo}/blobs/uploads/"), &[], b"");
    assert_eq!(st, 202, "start upload to {repo}: {b}");
    let loc = header(&h, "location").expect("upload location");
    let loc = match loc.find("/v2/") {
        Some(i) => &loc[i..],
        None => loc,
    };
    let sep = if loc.contains('?') { '&' } else { '?' };
    let (st, _, b) = registry_request(
        "PUT",
        &format!("{loc}{sep}digest={digest}"),
        &[("Content-Type", "application/octet-stream")],
        &bytes,
    );
    assert_eq!(st, 201, "upload config to {repo}: {b}");
    manifest["config"]["digest"] = digest.clone().into();
    manifest["config"]["size"] = bytes.len().into();
    let m = serde_json::to_vec(&manifest).expect("manifest bytes");
    let (st, _, b) = registry_request(
        "PUT",
        &format!("/v2/{repo}/manifests/{tag}"),
        &[("Content-Type", &mtype)],
        &m,
    );
    assert_eq!(st, 201, "push {repo}:{tag}: {b}");
    digest
}

/// Percent-encode a query value.
pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
