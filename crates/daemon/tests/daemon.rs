//! pouchd's flags and host-wide names: one daemon per data root, pid file and socket;
//! unix sockets only; an explicit `--bip` must not collide with a host route; the default
//! bridge subnet is probed once and reused; two daemons side by side never touch each
//! other's containers, bridges, firewall rules or cgroups.

mod common;

use common::*;
use ipnet::Ipv4Net;
use std::collections::BTreeSet;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Run pouchd with exactly `args` and wait (at most 20 s) for it to exit.
fn pouchd_once(args: &[String]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pouchd"))
        .args(args)
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

/// `args` with the value of `flag` replaced.
fn with_flag(mut args: Vec<String>, flag: &str, value: &str) -> Vec<String> {
    let i = args
        .iter()
        .position(|a| a == flag)
        .unwrap_or_else(|| panic!("{flag} not in {args:?}"));
    args[i + 1] = value.to_string();
    args
}

/// A refused start: non-zero exit, one clear line on stderr (returned).
fn refused(o: &Output) -> String {
    let err = stderr(o);
    assert!(
        !o.status.success(),
        "pouchd should have refused to start: {}\n{err}",
        o.status
    );
    assert_eq!(o.status.code(), Some(1), "{err}");
    let lines: Vec<&str> = err.trim().lines().collect();
    assert_eq!(lines.len(), 1, "want one error line, got:\n{err}");
    assert!(lines[0].starts_with("pouchd: "), "{err}");
    lines[0].to_string()
}

fn link_exists(name: &str) -> bool {
    Command::new("ip")
        .args(["link", "show", "dev", name])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The IPv4 address (with prefix) of an interface, from `ip -4 -o addr show dev NAME`.
fn link_addr(name: &str) -> Option<Ipv4Net> {
    let o = Command::new("ip")
        .args(["-4", "-o", "addr", "show", "dev", name])
        .output()
        .ok()?;
    let out = stdout(&o);
    let mut words = out.split_whitespace();
    words.find(|w| *w == "inet")?;
    words.next()?.parse().ok()
}

/// Destinations of the main table's IPv4 routes (no default route), with their device.
fn host_routes() -> Vec<(Ipv4Net, String)> {
    let o = Command::new("ip")
        .args(["-4", "route", "show", "table", "main"])
        .output()
        .expect("ip route");
    stdout(&o)
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let dst = w.next()?;
            let net: Ipv4Net = if dst.contains('/') {
                dst.parse().ok()?
            } else {
                format!("{dst}/32").parse().ok()?
            };
            let dev = l
                .split_whitespace()
                .skip_while(|x| *x != "dev")
                .nth(1)
                .unwrap_or("")
                .to_string();
            Some((net.trunc(), dev))
        })
        .collect()
}

fn overlaps(a: &Ipv4Net, b: &Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

fn iptables_rules(bridge: &str) -> BTreeSet<String> {
    let o = Command::new("iptables")
        .arg("-S")
        .output()
        .expect("iptables");
    stdout(&o)
        .lines()
        .filter(|l| l.contains(bridge))
        .map(String::from)
        .collect()
}

/// The container's cgroup directories must sit under this daemon's own parent.
fn cgroup_dir(d: &Daemon, id: &str) -> std::path::PathBuf {
    let parent = cgroup_parent(&d.exec_root);
    if std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        std::path::Path::new("/sys/fs/cgroup").join(parent).join(id)
    } else {
        std::path::Path::new("/sys/fs/cgroup/memory")
            .join(parent)
            .join(id)
    }
}

#[test]
fn second_daemon_on_same_root_pidfile_or_socket_refuses() {
    let Some(d) = Daemon::start() else { return };
    let pidfile = d.dir.join("pouchd.pid");
    let my_pid = std::fs::read_to_string(&pidfile).unwrap();
    assert_eq!(my_pid.trim(), d.pid().unwrap().to_string());

    // Same flags: same data root, exec root, pid file and socket.
    let line = refused(&d.run_pouchd_once(&[]));
    assert!(
        line.contains(&d.data_root.display().to_string()) && line.contains("another pouchd"),
        "{line}"
    );

    // Other roots and socket, but the same pid file.
    let Some(other) = Daemon::prepare(StartOpts::default()) else {
        return;
    };
    let args = with_flag(
        other.base_args(),
        "--pidfile",
        &pidfile.display().to_string(),
    );
    let line = refused(&pouchd_once(&args));
    assert!(
        line.contains(&pidfile.display().to_string()) && line.contains("another pouchd"),
        "{line}"
    );
    assert!(
        !link_exists(&other.bridge),
        "refused daemon made its bridge"
    );

    // Other roots and pid file, but the same socket.
    let args = with_flag(
        other.base_args(),
        "-H",
        &format!("unix://{}", d.sock.display()),
    );
    let line = refused(&pouchd_once(&args));
    assert!(
        line.contains(&d.sock.display().to_string()) && line.contains("in use"),
        "{line}"
    );
    assert!(
        !link_exists(&other.bridge),
        "refused daemon made its bridge"
    );
    assert!(
        !other.dir.join("pouchd.pid").exists(),
        "refused daemon left its pid file"
    );

    // The first daemon is untouched: same pid file, socket still served.
    assert_eq!(std::fs::read_to_string(&pidfile).unwrap(), my_pid);
    assert_eq!(d.api("GET", "/_ping", None), (200, "OK".to_string()));
    d.docker_ok(&["run", "--rm", &image(), "true"]);
    assert!(other.leftovers().is_empty(), "{:?}", other.leftovers());
}

#[test]
fn only_unix_sockets_are_served() {
    let Some(d) = Daemon::prepare(StartOpts::default()) else {
        return;
    };
    for host in ["tcp://127.0.0.1:2375", "unix://", "fd://"] {
        let line = refused(&d.run_pouchd_once(&["-H", host]));
        assert!(line.contains(host) && line.contains("unix"), "{line}");
    }
    assert!(!d.sock.exists(), "refused daemon left its socket");
    assert!(!link_exists(&d.bridge));
    assert!(d.leftovers().is_empty(), "{:?}", d.leftovers());
}

#[test]
fn explicit_bip_overlapping_a_host_route_is_refused() {
    let Some(d) = Daemon::prepare(StartOpts {
        default_bip: true,
        ..Default::default()
    }) else {
        return;
    };
    // A route of the host's uplink (the device of the default route). Only its numbers are
    // used: nothing is ever sent there.
    let default_dev = stdout(
        &Command::new("ip")
            .args(["-4", "route", "show", "default"])
            .output()
            .expect("ip route"),
    )
    .split_whitespace()
    .skip_while(|w| *w != "dev")
    .nth(1)
    .map(String::from);
    let route = host_routes()
        .into_iter()
        .find(|(n, dev)| Some(dev) == default_dev.as_ref() && n.prefix_len() <= 29)
        .map(|(n, _)| n);
    match route {
        Some(route) => {
            // A small subnet near the top of that route (not the host's own address or
            // gateway).
            let top = u32::from(route.broadcast()) - 7;
            let gw = std::net::Ipv4Addr::from(top + 1);
            let bip = format!("{gw}/30");
            let line = refused(&d.run_pouchd_once(&["--bip", &bip]));
            assert!(
                line.contains("--bip") && line.contains(&route.to_string()),
                "{line}"
            );
            assert!(!link_exists(&d.bridge), "bridge left behind");
            assert!(
                host_routes().iter().all(|(_, dev)| dev != &d.bridge),
                "route left on our bridge"
            );
            assert!(!d.sock.exists(), "refused daemon left its socket");
            assert!(
                !d.dir.join("pouchd.pid").exists(),
                "refused daemon left its pid file"
            );
            assert!(d.leftovers().is_empty(), "{:?}", d.leftovers());
        }
        None => eprintln!("no uplink route: skipping that part"),
    }
    // Our own test daemons' routes are host routes too.
    let Some(other) = Daemon::start() else { return };
    let line = refused(&d.run_pouchd_once(&["--bip", &other.bip]));
    assert!(line.contains("overlaps"), "{line}");
    assert!(!link_exists(&d.bridge));
    assert!(!d.sock.exists(), "refused daemon left its socket");
    assert!(!d.dir.join("pouchd.pid").exists());
    // Nonsense is a clear error as well.
    for bad in ["nonsense", "10.231.0.0/24", "10.231.0.1/31"] {
        let line = refused(&d.run_pouchd_once(&["--bip", bad]));
        assert!(line.contains("--bip"), "{line}");
    }
    assert!(!link_exists(&d.bridge));
}

/// Daemons without `--bip` probe host-wide: two probing at once may pick the same pool.
static DEFAULT_BIP: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn default_bip_is_probed_stored_and_reused() {
    let _one = DEFAULT_BIP.lock().unwrap_or_else(|e| e.into_inner());
    let before = host_routes();
    let Some(mut d) = Daemon::start_opts(StartOpts {
        default_bip: true,
        ..Default::default()
    }) else {
        return;
    };
    let gw = link_addr(&d.bridge).expect("bridge has an address");
    let subnet = gw.trunc();
    // Docker's default pools: 172.17-31.0.0/16, 192.168.x.0/20, 10.x.0.0/16.
    let private: [Ipv4Net; 3] = [
        "172.16.0.0/12".parse().unwrap(),
        "192.168.0.0/16".parse().unwrap(),
        "10.0.0.0/8".parse().unwrap(),
    ];
    assert!(
        private.iter().any(|p| p.contains(&subnet)),
        "{gw} not private"
    );
    assert!(subnet.prefix_len() <= 20, "{gw}: pools are /16 or /20");
    assert_eq!(
        u32::from(gw.addr()),
        u32::from(subnet.network()) + 1,
        "gateway is the first address"
    );
    // No overlap with any route that was there before and still is (other tests' bridges
    // come and go meanwhile).
    let after = host_routes();
    for (r, dev) in before.iter().filter(|r| after.contains(r)) {
        assert!(
            dev == &d.bridge || !overlaps(r, &subnet),
            "{gw} overlaps host route {r} dev {dev}"
        );
    }

    // Containers get addresses in it.
    let img = image();
    let out = d.docker_ok(&["run", "--rm", &img, "ip", "-4", "addr"]);
    let ip = eth0_ipv4(&out).unwrap_or_else(|| panic!("no address: {out}"));
    assert!(subnet.contains(&ip), "{ip} not in {subnet}");

    // Stopped (the idle bridge goes away), then started again: the same address.
    d.term();
    assert!(!link_exists(&d.bridge), "idle bridge kept after stop");
    d.restart();
    assert_eq!(link_addr(&d.bridge), Some(gw), "bridge address changed");
    // After a crash with a container running, too.
    let id = d.docker_ok(&["run", "-d", &img, "sleep", "60"]);
    d.kill9();
    d.restart();
    assert_eq!(link_addr(&d.bridge), Some(gw), "bridge address changed");
    let ip: std::net::Ipv4Addr = d.inspect(&id)["NetworkSettings"]["IPAddress"]
        .as_str()
        .unwrap_or("")
        .parse()
        .expect("container IP");
    assert!(subnet.contains(&ip), "{ip} not in {subnet}");
    d.docker_ok(&["rm", "-f", &id]);
}

#[test]
fn two_daemons_side_by_side_keep_to_themselves() {
    let Some(d1) = Daemon::start() else { return };
    let Some(mut d2) = Daemon::start_with(&["--live-restore=false"]) else {
        return;
    };
    let img = image();
    let c1 = d1.docker_ok(&["run", "-d", "--name", "same", &img, "sleep", "300"]);
    // The same name on the other daemon is no conflict.
    let c2 = d2.docker_ok(&[
        "run",
        "-d",
        "--name",
        "same",
        "--stop-timeout",
        "1",
        &img,
        "sleep",
        "300",
    ]);
    let pid1 = d1.inspect(&c1)["State"]["Pid"].as_i64().unwrap();
    let pid2 = d2.inspect(&c2)["State"]["Pid"].as_i64().unwrap();

    assert_eq!(d1.docker_ok(&["ps", "-aq", "--no-trunc"]), c1);
    assert_eq!(d2.docker_ok(&["ps", "-aq", "--no-trunc"]), c2);
    let (st, _) = d1.api("GET", &format!("/containers/{c2}/json"), None);
    assert_eq!(st, 404, "d1 sees d2's container");
    for (d, c) in [(&d1, &c1), (&d2, &c2)] {
        let ip = d.inspect(c)["NetworkSettings"]["IPAddress"]
            .as_str()
            .unwrap_or("")
            .to_string();
        assert!(ip.starts_with(&d.net_prefix), "{ip} not on {}", d.bip);
        assert!(
            !iptables_rules(&d.bridge).is_empty(),
            "no rules for {}",
            d.bridge
        );
        // cgroup parent derived from the exec root.
        let cg = cgroup_dir(d, c);
        assert!(cg.is_dir(), "{} missing", cg.display());
        let pid = d.inspect(c)["State"]["Pid"].as_i64().unwrap();
        let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
        let want = format!("/{}/{c}", cgroup_parent(&d.exec_root));
        assert!(own.lines().any(|l| l.ends_with(&want)), "{own}");
    }
    let rules1 = iptables_rules(&d1.bridge);
    let ports1 = stdout(
        &Command::new("ip")
            .args(["-o", "link", "show", "master", &d1.bridge])
            .output()
            .unwrap(),
    );
    assert!(!ports1.trim().is_empty(), "no veth on {}", d1.bridge);

    let d1_intact = |what: &str| {
        let st = d1.inspect(&c1)["State"].clone();
        assert_eq!(st["Running"], true, "{what}: {st}");
        assert_eq!(st["Pid"].as_i64(), Some(pid1), "{what}: {st}");
        assert!(pid_alive(pid1), "{what}: d1's container died");
        assert!(link_exists(&d1.bridge), "{what}: d1's bridge gone");
        assert_eq!(
            iptables_rules(&d1.bridge),
            rules1,
            "{what}: d1's rules changed"
        );
        let ports = stdout(
            &Command::new("ip")
                .args(["-o", "link", "show", "master", &d1.bridge])
                .output()
                .unwrap(),
        );
        assert_eq!(
            ports.lines().count(),
            ports1.lines().count(),
            "{what}: d1's veths changed"
        );
        assert!(cgroup_dir(&d1, &c1).is_dir(), "{what}: d1's cgroup gone");
        assert_eq!(d1.docker_ok(&["ps", "-q", "--no-trunc"]), c1, "{what}");
    };

    // A crash and restart of d2 reconciles only d2's objects. With live-restore off, d2
    // stops its own survivor on start, and nothing of d1's.
    d2.kill9();
    assert!(pid_alive(pid2));
    d2.restart();
    d1_intact("after d2 restart");
    assert_eq!(d2.inspect(&c2)["State"]["Status"], "exited");
    assert!(!pid_alive(pid2), "d2's container still running");

    // d2 stops with live-restore off: its container stops, d1's keeps running.
    d2.docker_ok(&["start", "same"]);
    let pid2 = d2.inspect(&c2)["State"]["Pid"].as_i64().unwrap();
    let st = d2.term().expect("d2 running");
    assert!(st.success(), "{st}");
    assert!(!pid_alive(pid2), "d2's container still running");
    assert!(d2.leftovers().is_empty(), "{:?}", d2.leftovers());
    d1_intact("after d2 stop");
    d2.restart();
    d2.docker_ok(&["rm", "same"]);
    d1_intact("after d2 rm");
}

#[test]
fn stored_bip_taken_meanwhile_is_not_reused() {
    let _one = DEFAULT_BIP.lock().unwrap_or_else(|e| e.into_inner());
    let Some(mut a) = Daemon::start_opts(StartOpts {
        default_bip: true,
        ..Default::default()
    }) else {
        return;
    };
    let gw = link_addr(&a.bridge).expect("bridge address");
    a.term();
    assert!(!link_exists(&a.bridge));
    // While `a` is down another daemon takes that subnet.
    let Some(b) = Daemon::start_opts(StartOpts {
        default_bip: true,
        extra: vec!["--bip".into(), gw.to_string()],
    }) else {
        return;
    };
    assert_eq!(link_addr(&b.bridge), Some(gw));
    a.restart();
    let a_gw = link_addr(&a.bridge).expect("bridge address");
    assert!(
        !overlaps(&a_gw.trunc(), &gw.trunc()),
        "{} reused {a_gw}, which {} holds now",
        a.bridge,
        b.bridge
    );
    let out = a.docker_ok(&["run", "--rm", &image(), "ip", "-4", "addr"]);
    let ip = eth0_ipv4(&out).unwrap_or_else(|| panic!("no address: {out}"));
    assert!(a_gw.trunc().contains(&ip), "{ip} not in {a_gw}");
    // The new choice is stored in turn.
    a.term();
    a.restart();
    assert_eq!(link_addr(&a.bridge), Some(a_gw));
}
