//! `docker run` through the real docker CLI against a private pouchd: output, exit codes,
//! stdin, a real pty, the container's own address, and `pouch run`.

mod common;

use common::*;
use std::time::Duration;

#[test]
fn run_echo_prints_hello_and_removes_with_rm() {
    let Some(d) = Daemon::start() else { return };
    let img = image();
    let out = d.docker_ok(&["run", "--rm", &img, "echo", "hello"]);
    // The CLI pulls on the first run ("Unable to find image" goes to stderr).
    assert_eq!(out, "hello");
    assert!(d.all_ids().is_empty(), "--rm left a container behind");
}

#[test]
fn run_exit_codes_match_docker() {
    let Some(d) = Daemon::start() else { return };
    let img = image();
    d.docker_ok(&["pull", &img]);
    let o = d.docker(&["run", &img, "sh", "-c", "exit 3"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));

    let o = d.docker(&["run", "--rm", &img, "nosuchcmd"]);
    assert_eq!(o.status.code(), Some(127), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("executable file not found in $PATH"),
        "{}",
        stderr(&o)
    );
    // Said once: the removed-wait carries no error of its own, as with dockerd.
    assert!(!stderr(&o).contains("Error waiting"), "{}", stderr(&o));

    let o = d.docker(&["run", "--rm", &img, "/etc/passwd"]);
    assert_eq!(o.status.code(), Some(126), "{}", stderr(&o));
    assert!(stderr(&o).contains("permission denied"), "{}", stderr(&o));

    // Without --rm the CLI's wait is next-exit: a start that never ran is not an exit, so
    // the CLI reports the start error once (as with dockerd), and the container stays
    // created with the code and the error.
    let o = d.docker(&["run", "--name", "never", &img, "nosuchcmd"]);
    assert_eq!(o.status.code(), Some(127), "{}", stderr(&o));
    assert!(!stderr(&o).contains("Error waiting"), "{}", stderr(&o));
    let st = &d.inspect("never")["State"];
    assert_eq!(st["Status"], "created", "{st}");
    assert_eq!(st["ExitCode"], 127, "{st}");
    assert_eq!(st["FinishedAt"], "0001-01-01T00:00:00Z", "{st}");
    assert!(
        st["Error"].as_str().unwrap_or("").contains("nosuchcmd"),
        "{st}"
    );
    assert_eq!(d.docker_ok(&["wait", "never"]), "127");

    // Failed starts leave no running state, mounts or veths behind.
    for id in d.all_ids() {
        let c = d.inspect(&id);
        assert_eq!(c["State"]["Running"], false);
    }
    // ...and no zombie shims: pouchd is their subreaper but never saw their pid.
    let pouchd = d.pid().expect("pouchd pid");
    let zombies = || -> Vec<String> {
        let mut out = Vec::new();
        for e in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
                continue;
            };
            // pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'.
            let Some((head, rest)) = stat.rsplit_once(')') else {
                continue;
            };
            let f: Vec<&str> = rest.split_whitespace().collect();
            if f.len() > 1 && f[0] == "Z" && f[1] == pouchd.to_string() {
                out.push(head.to_string());
            }
        }
        out
    };
    assert!(
        eventually(Duration::from_secs(5), || zombies().is_empty()),
        "zombie children of pouchd: {:?}",
        zombies()
    );
}

#[test]
fn run_stdin_and_stdout_stderr_apart() {
    let Some(d) = Daemon::start() else { return };
    let img = image();
    d.docker_ok(&["pull", &img]);
    let o = d.docker_stdin(&["run", "--rm", "-i", &img, "cat"], b"x\nsecond line\n");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "x\nsecond line\n");

    let o = d.docker(&[
        "run",
        "--rm",
        &img,
        "sh",
        "-c",
        "echo to-out; echo to-err >&2",
    ]);
    assert!(o.status.success());
    assert_eq!(stdout(&o), "to-out\n");
    assert_eq!(stderr(&o), "to-err\n");
}

#[test]
fn run_tty_has_a_real_pty_with_size() {
    let Some(d) = Daemon::start() else { return };
    let img = image();
    d.docker_ok(&["pull", &img]);
    let cmd =
        format!("stty rows 30 cols 100; docker run --rm -it {img} sh -c 'tty; stty size; exit 7'");
    let o = d.in_pty(&cmd, b"");
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(7), "{out}\n{}", stderr(&o));
    assert!(out.contains("/dev/pts/0"), "no pty in the container: {out}");
    assert!(out.contains("30 100"), "terminal size not passed on: {out}");
}

#[test]
fn run_tty_interactive_shell_reads_input() {
    let Some(d) = Daemon::start() else { return };
    let img = image();
    d.docker_ok(&["pull", &img]);
    let cmd = format!("docker run --rm -it {img} sh");
    let o = d.in_pty(&cmd, b"echo $((6*7))\nexit 5\n");
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(5), "{out}\n{}", stderr(&o));
    assert!(out.contains("42"), "{out}");
}

#[test]
fn container_gets_its_own_address_on_the_bridge() {
    let Some(d) = Daemon::start() else { return };
    let img = image();
    d.docker_ok(&["pull", &img]);
    let out = d.docker_ok(&["run", "--rm", &img, "ip", "-4", "addr"]);
    let ip = eth0_ipv4(&out).unwrap_or_else(|| panic!("no eth0 address: {out}"));
    assert!(
        ip.to_string().starts_with(&d.net_prefix),
        "{ip} not in {}",
        d.bip
    );
    assert!(out.contains("inet 127.0.0.1/8"), "lo not up: {out}");

    // A running container is reachable from the host at the address inspect reports.
    let id = d.docker_ok(&["run", "-d", &img, "sleep", "60"]);
    let c = d.inspect(&id);
    let addr = c["NetworkSettings"]["IPAddress"]
        .as_str()
        .expect("IPAddress")
        .to_string();
    assert!(addr.starts_with(&d.net_prefix), "{addr}");
    assert_eq!(
        c["NetworkSettings"]["Gateway"],
        d.bip.split('/').next().unwrap()
    );
    let p = std::process::Command::new("ping")
        .args(["-c", "1", "-W", "2", &addr])
        .output()
        .expect("ping (iputils-ping, installed by scripts/deps.sh)");
    assert!(
        p.status.success(),
        "host cannot ping {addr}: {}",
        stdout(&p)
    );
    // Another container on the bridge reaches it by its address too.
    let out = d.docker_ok(&["run", "--rm", &img, "ping", "-c", "1", "-W", "2", &addr]);
    assert!(out.contains("1 packets received"), "{out}");
    d.docker_ok(&["rm", "-f", &id]);
}

#[test]
fn network_none_and_host() {
    let Some(d) = Daemon::start() else { return };
    let img = image();
    d.docker_ok(&["pull", &img]);
    let out = d.docker_ok(&["run", "--rm", "--network", "none", &img, "ip", "-4", "addr"]);
    assert!(eth0_ipv4(&out).is_none(), "--network none has eth0: {out}");
    assert!(out.contains("127.0.0.1"), "{out}");

    let out = d.docker_ok(&["run", "--rm", "--network", "host", &img, "ip", "link"]);
    assert!(
        out.contains(&d.bridge),
        "host netns should show our bridge: {out}"
    );
}

#[test]
fn image_config_and_flags_are_merged() {
    let Some(d) = Daemon::start() else { return };
    let img = image();
    d.docker_ok(&["pull", &img]);
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "-e",
        "FOO=bar",
        "-w",
        "/tmp",
        "-u",
        "app",
        "--hostname",
        "box1",
        &img,
        "sh",
        "-c",
        "echo $FOO $(pwd) $(id -u) $(hostname) $PATH",
    ]);
    assert_eq!(
        out,
        "bar /tmp 1000 box1 /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    );
    // Docker's default: hostname is the short id.
    let id = d.docker_ok(&["create", &img, "hostname"]);
    d.docker_ok(&["start", &id]);
    let st = d.docker_ok(&["wait", &id]);
    assert_eq!(st, "0");
    assert_eq!(d.docker_ok(&["logs", &id]), id[..12]);
}

#[test]
fn pouch_cli_run_pulls_and_prints() {
    let Some(d) = Daemon::start() else { return };
    let img = image();
    let o = d.pouch(&["run", "--rm", &img, "sh", "-c", "echo hello; ip -4 addr"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("hello\n"), "{out}");
    let ip = eth0_ipv4(&out).unwrap_or_else(|| panic!("no address: {out}"));
    assert!(ip.to_string().starts_with(&d.net_prefix));

    let o = d.pouch(&["run", &img, "sh", "-c", "exit 4"]);
    assert_eq!(o.status.code(), Some(4));
    let o = d.pouch(&["run", "--rm", &img, "nosuchcmd"]);
    assert_eq!(o.status.code(), Some(127), "{}", stderr(&o));
    let o = d.pouch(&["run", "--rm", "127.0.0.1:1/nothing:here", "true"]);
    assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
    let err = stderr(&o);
    let last = err.trim().lines().last().unwrap_or("");
    assert!(
        last.starts_with("pouch: Error response from daemon:") && last.contains("127.0.0.1:1"),
        "{err}"
    );
}

#[test]
fn security_defaults_match_docker() {
    let Some(d) = Daemon::start() else { return };
    let img = image();
    d.docker_ok(&["pull", &img]);
    let script = "grep -E '^(CapEff|CapBnd|Groups|Seccomp):' /proc/self/status; \
        echo x > /proc/sys/kernel/domainname 2>/dev/null && echo proc-sys-writable; \
        touch /sys/x 2>/dev/null && echo sys-writable; \
        echo keys=$(wc -c < /proc/keys); echo firmware=$(ls /sys/firmware | wc -l); \
        grep -E ' /proc/(bus|fs|irq|sys) ' /proc/self/mountinfo | grep -c ' ro,'";
    let out = d.docker_ok(&["run", "--rm", &img, "sh", "-c", script]);
    // Docker's 14 default capabilities, nothing more.
    assert!(out.contains("CapEff:\t00000000a80425fb"), "{out}");
    assert!(out.contains("CapBnd:\t00000000a80425fb"), "{out}");
    // The primary gid is a supplementary group too (dockerd since CVE-2022-36109).
    assert!(out.contains("Groups:\t0"), "{out}");
    assert!(!out.contains("writable"), "{out}");
    assert!(out.contains("keys=0"), "/proc/keys not masked: {out}");
    assert!(
        out.contains("firmware=0"),
        "/sys/firmware not masked: {out}"
    );
    assert!(out.trim_end().ends_with('4'), "read-only /proc dirs: {out}");
    // dockerd's builtin seccomp profile is in force (2 = filter mode): it denies a user
    // namespace to a container without CAP_SYS_ADMIN, which the kernel alone would allow.
    assert!(out.contains("Seccomp:\t2"), "{out}");
    let o = d.docker(&["run", "--rm", &img, "unshare", "-U", "true"]);
    assert!(!o.status.success(), "unshare -U passed the seccomp filter");
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "--security-opt",
        "seccomp=unconfined",
        "--security-opt",
        "no-new-privileges",
        &img,
        "sh",
        "-c",
        "grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status; unshare -U true && echo unshared",
    ]);
    assert!(
        out.contains("Seccomp:\t0") && out.contains("NoNewPrivs:\t1"),
        "{out}"
    );
    assert!(out.contains("unshared"), "{out}");
    // dockerd's netns sysctls: unprivileged users may bind low ports and ping.
    let out = d.docker_ok(&[
        "run",
        "--rm",
        &img,
        "cat",
        "/proc/sys/net/ipv4/ip_unprivileged_port_start",
    ]);
    assert_eq!(out, "0");

    let out = d.docker_ok(&[
        "run",
        "--rm",
        "-u",
        "app",
        &img,
        "grep",
        "Groups",
        "/proc/self/status",
    ]);
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["Groups:", "1000"]
    );
    let out = d.docker_ok(&["run", "--rm", "-u", "1000:5", &img, "id"]);
    assert_eq!(out, "uid=1000(app) gid=5 groups=5");
}

#[test]
fn entrypoint_reset_and_env_order_like_docker() {
    let Some(d) = Daemon::start() else { return };
    let img = image();
    d.docker_ok(&["pull", &img]);
    // --entrypoint '' clears the entrypoint; the user's command runs as given.
    assert_eq!(
        d.docker_ok(&["run", "--rm", "--entrypoint", "", &img, "echo", "x"]),
        "x"
    );
    let id = d.docker_ok(&["create", "--entrypoint", "", &img, "ls", "/"]);
    let c = d.inspect(&id);
    assert!(c["Config"]["Entrypoint"].is_null(), "{}", c["Config"]);
    assert_eq!(c["Path"], "ls");
    // ...and the image's Cmd does not come back: nothing to run.
    let o = d.docker(&["run", "--rm", "--entrypoint", "", &img]);
    assert_eq!(o.status.code(), Some(125));
    assert!(
        stderr(&o).contains("No command specified"),
        "{}",
        stderr(&o)
    );

    // Config.Env: the user's entries first, then the image's; the process sees dockerd's
    // base (PATH, HOSTNAME) first and a bare KEY unset. (Over the raw API: docker CLI v28
    // does not keep the order of its -e flags.)
    let body = serde_json::json!({"Image": img, "Env": ["K=V", "E=", "BARE"], "Cmd": ["env"]});
    let (st, b) = d.api("POST", "/containers/create", Some(&body.to_string()));
    assert_eq!(st, 201, "{b}");
    let id = serde_json::from_str::<serde_json::Value>(&b).unwrap()["Id"]
        .as_str()
        .unwrap()
        .to_string();
    let env = d.inspect(&id)["Config"]["Env"].clone();
    assert_eq!(env[0], "K=V", "{env}");
    assert_eq!(env[1], "E=", "{env}");
    assert_eq!(env[2], "BARE", "{env}");
    assert!(env[3].as_str().unwrap_or("").starts_with("PATH="), "{env}");
    d.docker_ok(&["start", &id]);
    assert_eq!(d.docker_ok(&["wait", &id]), "0");
    let out = d.docker_ok(&["logs", &id]);
    let keys: Vec<&str> = out
        .lines()
        .map(|l| l.split('=').next().unwrap_or(""))
        .collect();
    assert_eq!(keys, ["PATH", "HOSTNAME", "K", "E", "HOME"], "{out}");
}

#[test]
fn domainname_cgroupns_platform_and_endpoint_options() {
    let Some(d) = Daemon::start() else { return };
    let img = image();
    d.docker_ok(&["pull", &img]);
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "--domainname",
        "x.test",
        &img,
        "cat",
        "/proc/sys/kernel/domainname",
    ]);
    assert_eq!(out, "x.test");
    // The container's own cgroup namespace: its cgroups are the root there.
    let host_view = d.docker_ok(&["run", "--rm", &img, "cat", "/proc/self/cgroup"]);
    assert!(host_view.lines().any(|l| !l.ends_with(":/")), "{host_view}");
    let own = d.docker_ok(&[
        "run",
        "--rm",
        "--cgroupns",
        "private",
        &img,
        "cat",
        "/proc/self/cgroup",
    ]);
    assert!(own.lines().all(|l| l.ends_with(":/")), "{own}");
    let o = d.docker(&["run", "--rm", "--platform", "linux/amd64", &img, "true"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let before = d.all_ids().len();
    for (args, msg) in [
        (vec!["--platform", "linux/arm64"], "linux/arm64"),
        (vec!["--ip", "10.9.9.9"], "--ip"),
        (vec!["--mac-address", "02:42:ac:11:00:09"], "--mac-address"),
        (vec!["--stop-signal", "FOO"], "Invalid signal: FOO"),
    ] {
        let mut a = vec!["run", "--rm"];
        a.extend(args.iter());
        a.extend([img.as_str(), "true"]);
        let o = d.docker(&a);
        assert_eq!(o.status.code(), Some(125), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(msg), "{args:?}: {}", stderr(&o));
    }
    assert_eq!(
        d.all_ids().len(),
        before,
        "a refused create left a container"
    );
    // Settings are refused before the image is looked up: no pull for nothing.
    let never = format!("{}/not/pulled:x", registry());
    let o = d.docker(&["run", "--rm", "-p", "8080:80", &never, "true"]);
    assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
    assert!(stderr(&o).contains("PortBindings"), "{}", stderr(&o));
    assert!(
        !stderr(&o).contains("Unable to find image"),
        "{}",
        stderr(&o)
    );
    let body = serde_json::json!({"Image": img, "HostConfig": {"CgroupnsMode": "bogus"}});
    let (st, b) = d.api("POST", "/containers/create", Some(&body.to_string()));
    assert_eq!(st, 400, "{b}");
    assert!(b.contains("invalid cgroup namespace mode: bogus"), "{b}");
}
