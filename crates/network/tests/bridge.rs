//! Real-netlink tests of the bridge, the firewall rules and container attachment.
//!
//! They need root (skipped with a message otherwise, failing under CI=true). Each test uses
//! its own bridge `pt-XXXXXXXX` and its own 10.213.N.0/24 subnet, and a `unshare -n sleep`
//! process as the container's netns holder. Traffic goes only to addresses these tests
//! create inside those namespaces. Drop guards clean up even when a test fails.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pouch_network::{
    attach_container, detach_container, ensure_bridge, host_ipv4_routes, ipam, list_bridge_ports,
    remove_bridge, Error, Ipv4Net,
};

// ---------- environment ----------

/// True when the test can run; otherwise prints why (or panics under CI=true).
fn privileged() -> bool {
    let reason = if !nix::unistd::geteuid().is_root() {
        Some("not root".to_string())
    } else {
        ["ip", "iptables", "unshare", "nsenter"]
            .iter()
            .find(|tool| which(tool).is_none())
            .map(|tool| {
                format!("{tool} not installed (apt-get install iproute2 iptables util-linux)")
            })
    };
    match reason {
        None => true,
        Some(r) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("network tests need root and tools under CI: {r}")
        }
        Some(r) => {
            eprintln!("SKIP: {r}");
            false
        }
    }
}

fn which(tool: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .chain(["/usr/sbin", "/sbin"])
        .map(|d| std::path::Path::new(d).join(tool))
        .find(|p| p.exists())
}

fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd).args(args).output().expect(cmd);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn run_ok(cmd: &str, args: &[&str]) -> bool {
    Command::new(cmd)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn net(s: &str) -> Ipv4Net {
    s.parse().unwrap()
}

fn rand_suffix() -> String {
    format!("{:08x}", rand::random::<u32>())
}

fn link_exists(name: &str) -> bool {
    run_ok("ip", &["link", "show", "dev", name])
}

/// Run `ip ARGS` inside the netns of `pid`.
fn ip_in(pid: u32, args: &[&str]) -> String {
    let pid = pid.to_string();
    let mut full = vec!["-t", &pid, "-n", "ip"];
    full.extend_from_slice(args);
    run("nsenter", &full)
}

// ---------- guards ----------

/// A bridge (and its rules) removed on drop, from a separate thread with its own runtime
/// because drop may run inside the test's runtime.
struct BridgeGuard {
    name: String,
    gateway: Ipv4Net,
}

impl BridgeGuard {
    fn new(third_octet: u8) -> Self {
        Self {
            name: format!("pt-{}", rand_suffix()),
            gateway: net(&format!("10.213.{third_octet}.1/24")),
        }
    }
    fn subnet(&self) -> Ipv4Net {
        self.gateway.trunc()
    }
    fn ip(&self, host: u8) -> Ipv4Addr {
        let [a, b, c, _] = self.gateway.addr().octets();
        Ipv4Addr::new(a, b, c, host)
    }
}

impl Drop for BridgeGuard {
    fn drop(&mut self) {
        let (name, subnet) = (self.name.clone(), self.subnet());
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            if let Err(e) = rt.block_on(remove_bridge(&name, subnet)) {
                eprintln!("cleanup of bridge {name}: {e}");
            }
        })
        .join();
    }
}

/// A host veth deleted on drop.
struct VethGuard(String);

impl VethGuard {
    fn new() -> Self {
        Self(format!("vpt{}", rand_suffix()))
    }
}

impl Drop for VethGuard {
    fn drop(&mut self) {
        if link_exists(&self.0) {
            let _ = run_ok("ip", &["link", "del", "dev", &self.0]);
        }
    }
}

/// A process in a fresh network namespace, standing in for a container's init.
struct Holder(Child);

impl Holder {
    fn spawn() -> Self {
        let child = Command::new("unshare")
            .args(["-n", "sleep", "60"])
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn unshare");
        let holder = Holder(child);
        // unshare(2) happens after spawn returns: wait until the netns is really a new one,
        // or we would configure the host's namespace.
        let ours = std::fs::metadata("/proc/self/ns/net").unwrap().ino();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Ok(m) = std::fs::metadata(format!("/proc/{}/ns/net", holder.pid())) {
                if m.ino() != ours {
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "holder never entered a new netns"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        holder
    }
    fn pid(&self) -> u32 {
        self.0.id()
    }
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        self.kill();
    }
}

// ---------- reachability (only to addresses inside our own namespaces) ----------

/// Accept one TCP connection on `ip` inside the netns of `pid` and answer "ok".
/// Returns the port and the thread.
fn serve_once_in(pid: u32, ip: Ipv4Addr) -> (u16, std::thread::JoinHandle<()>) {
    let (tx, rx) = std::sync::mpsc::channel();
    let t = std::thread::spawn(move || {
        enter_netns(pid);
        let listener = TcpListener::bind((ip, 0)).unwrap();
        tx.send(listener.local_addr().unwrap().port()).unwrap();
        listener.set_nonblocking(true).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            match listener.accept() {
                Ok((mut s, _)) => {
                    let _ = s.write_all(b"ok");
                    return;
                }
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    });
    (rx.recv().unwrap(), t)
}

fn enter_netns(pid: u32) {
    let f = std::fs::File::open(format!("/proc/{pid}/ns/net")).unwrap();
    nix::sched::setns(&f, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
}

/// Connect to ip:port (from the netns of `from_pid`, or the host) and expect "ok".
fn tcp_reaches(from_pid: Option<u32>, ip: Ipv4Addr, port: u16) -> bool {
    std::thread::spawn(move || {
        if let Some(pid) = from_pid {
            enter_netns(pid);
        }
        let addr = SocketAddr::from((ip, port));
        let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
            return false;
        };
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut buf = String::new();
        s.read_to_string(&mut buf).is_ok() && buf == "ok"
    })
    .join()
    .unwrap()
}

/// One bounded ping to a container address, when ping is installed (TCP checks always run).
fn ping_ok(from_pid: Option<u32>, ip: Ipv4Addr) -> Option<bool> {
    which("ping")?;
    let ip = ip.to_string();
    Some(match from_pid {
        None => run_ok("ping", &["-c1", "-W1", &ip]),
        Some(pid) => run_ok(
            "nsenter",
            &["-t", &pid.to_string(), "-n", "ping", "-c1", "-W1", &ip],
        ),
    })
}

fn count_rules(table: &str, chain: &str, bridge: &str) -> usize {
    let marker = format!("pouch bridge {bridge}");
    run("iptables", &["-t", table, "-S", chain])
        .lines()
        .filter(|l| l.contains(&marker))
        .count()
}

// ---------- tests ----------

#[tokio::test]
async fn bridge_setup_is_idempotent_and_removal_cleans_up() {
    if !privileged() {
        return;
    }
    let br = BridgeGuard::new(1);
    ensure_bridge(&br.name, br.gateway).await.unwrap();
    ensure_bridge(&br.name, br.gateway).await.unwrap();

    let addr = run("ip", &["-4", "-o", "addr", "show", "dev", &br.name]);
    assert_eq!(addr.matches("10.213.1.1/24").count(), 1, "{addr}");
    let link = run("ip", &["-o", "link", "show", "dev", &br.name]);
    assert!(link.contains(",UP"), "{link}");
    assert!(
        link.contains("02:42:0a:d5:01:01"),
        "fixed bridge MAC: {link}"
    );
    assert_eq!(
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward")
            .unwrap()
            .trim(),
        "1"
    );

    assert_eq!(count_rules("filter", "FORWARD", &br.name), 2);
    assert_eq!(count_rules("nat", "POSTROUTING", &br.name), 1);
    let fwd = run("iptables", &["-S", "FORWARD"]);
    assert!(fwd.contains(&format!("-i {} ", br.name)) && fwd.contains(&format!("-o {} ", br.name)));
    let nat = run("iptables", &["-t", "nat", "-S", "POSTROUTING"]);
    assert!(
        nat.contains(&format!("-s 10.213.1.0/24 ! -o {} ", br.name)),
        "{nat}"
    );

    // Our own bridge's route is not a conflict for us, but is one for anybody else.
    let routes = host_ipv4_routes(&br.name).await.unwrap();
    assert!(!routes.contains(&br.subnet()), "{routes:?}");
    assert!(ipam::check_no_overlap(br.subnet(), &routes).is_ok());
    let routes = host_ipv4_routes("pt-none").await.unwrap();
    assert!(routes.contains(&br.subnet()), "{routes:?}");
    assert!(matches!(
        ipam::check_no_overlap(net("10.213.1.128/25"), &routes),
        Err(Error::SubnetOverlap { .. })
    ));
    assert!(
        routes.iter().all(|r| r.prefix_len() > 0),
        "no default route: {routes:?}"
    );
    let chosen = ipam::choose_bridge_subnet(&routes).unwrap();
    assert!(routes.iter().all(|r| !ipam::overlaps(r, &chosen)));

    // A changed --bip replaces the old address instead of adding a second one.
    let moved = net("10.213.11.1/24");
    ensure_bridge(&br.name, moved).await.unwrap();
    let addr = run("ip", &["-4", "-o", "addr", "show", "dev", &br.name]);
    assert!(
        addr.contains("10.213.11.1/24") && !addr.contains("10.213.1.1/24"),
        "{addr}"
    );
    remove_bridge(&br.name, moved).await.unwrap();
    // The MASQUERADE rule of the old subnet stays until removed with that subnet: the
    // daemon knows the old subnet and removes it when --bip changes.
    assert_eq!(count_rules("nat", "POSTROUTING", &br.name), 1);

    remove_bridge(&br.name, br.subnet()).await.unwrap();
    assert!(!link_exists(&br.name));
    assert_eq!(count_rules("filter", "FORWARD", &br.name), 0);
    assert_eq!(count_rules("nat", "POSTROUTING", &br.name), 0);
    // Idempotent.
    remove_bridge(&br.name, br.subnet()).await.unwrap();
    assert!(list_bridge_ports(&br.name).await.unwrap().is_empty());
}

#[tokio::test]
async fn attach_configures_container_and_host_reaches_it() {
    if !privileged() {
        return;
    }
    let br = BridgeGuard::new(2);
    ensure_bridge(&br.name, br.gateway).await.unwrap();
    let holder = Holder::spawn();
    let veth = VethGuard::new();
    let ip = br.ip(2);
    let addr = Ipv4Net::new(ip, 24).unwrap();

    let started = Instant::now();
    let link = attach_container(&br.name, holder.pid(), &veth.0, addr, br.gateway.addr())
        .await
        .unwrap();
    eprintln!("attach_container took {:?}", started.elapsed());
    assert_eq!(link.mac, "02:42:0a:d5:02:02");

    let a = ip_in(holder.pid(), &["-4", "-o", "addr", "show", "dev", "eth0"]);
    assert!(a.contains("inet 10.213.2.2/24"), "{a}");
    let l = ip_in(holder.pid(), &["-o", "link", "show", "dev", "eth0"]);
    assert!(l.contains(",UP") && l.contains("02:42:0a:d5:02:02"), "{l}");
    let lo = ip_in(holder.pid(), &["-o", "link", "show", "dev", "lo"]);
    assert!(lo.contains(",UP"), "{lo}");
    let r = ip_in(holder.pid(), &["-4", "route", "show", "default"]);
    assert!(r.contains("default via 10.213.2.1 dev eth0"), "{r}");
    // Nothing but our veth appeared on the host.
    assert!(!run("ip", &["-o", "link", "show"]).contains("eth0@"));

    let hostside = run("ip", &["-o", "link", "show", "dev", &veth.0]);
    assert!(
        hostside.contains(&format!("master {}", br.name)) && hostside.contains(",UP"),
        "{hostside}"
    );
    assert_eq!(
        list_bridge_ports(&br.name).await.unwrap(),
        vec![veth.0.clone()]
    );

    let (port, server) = serve_once_in(holder.pid(), ip);
    assert!(tcp_reaches(None, ip, port), "host -> container TCP");
    server.join().unwrap();
    if let Some(ok) = ping_ok(None, ip) {
        assert!(ok, "host -> container ping");
    }

    detach_container(&veth.0).await.unwrap();
    assert!(!link_exists(&veth.0));
    assert!(!ip_in(holder.pid(), &["-o", "link"]).contains("eth0"));
    detach_container(&veth.0).await.unwrap(); // idempotent
    assert!(list_bridge_ports(&br.name).await.unwrap().is_empty());
}

#[tokio::test]
async fn two_containers_on_one_bridge_reach_each_other() {
    if !privileged() {
        return;
    }
    let br = BridgeGuard::new(3);
    ensure_bridge(&br.name, br.gateway).await.unwrap();
    let (h1, h2) = (Holder::spawn(), Holder::spawn());
    let (v1, v2) = (VethGuard::new(), VethGuard::new());

    // The daemon's flow: pick addresses with ipam, then attach.
    let mut used = HashSet::new();
    let ip1 = ipam::next_free(br.subnet(), br.gateway.addr(), &used).unwrap();
    used.insert(ip1);
    let ip2 = ipam::next_free(br.subnet(), br.gateway.addr(), &used).unwrap();
    assert_eq!((ip1, ip2), (br.ip(2), br.ip(3)));
    let gw = br.gateway.addr();
    attach_container(
        &br.name,
        h1.pid(),
        &v1.0,
        Ipv4Net::new(ip1, 24).unwrap(),
        gw,
    )
    .await
    .unwrap();
    attach_container(
        &br.name,
        h2.pid(),
        &v2.0,
        Ipv4Net::new(ip2, 24).unwrap(),
        gw,
    )
    .await
    .unwrap();
    let mut ports = list_bridge_ports(&br.name).await.unwrap();
    ports.sort();
    let mut want = vec![v1.0.clone(), v2.0.clone()];
    want.sort();
    assert_eq!(ports, want);

    let (port, server) = serve_once_in(h2.pid(), ip2);
    assert!(tcp_reaches(Some(h1.pid()), ip2, port), "c1 -> c2 TCP");
    server.join().unwrap();
    let (port, server) = serve_once_in(h1.pid(), ip1);
    assert!(tcp_reaches(Some(h2.pid()), ip1, port), "c2 -> c1 TCP");
    server.join().unwrap();
    if let Some(ok) = ping_ok(Some(h1.pid()), ip2) {
        assert!(ok, "c1 -> c2 ping");
    }
    // The container reaches its gateway (the host side of the bridge).
    let (port, server) = {
        let (tx, rx) = std::sync::mpsc::channel();
        let l = TcpListener::bind((gw, 0)).unwrap();
        tx.send(l.local_addr().unwrap().port()).unwrap();
        let t = std::thread::spawn(move || {
            l.set_nonblocking(true).unwrap();
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok((mut s, _)) = l.accept() {
                    let _ = s.write_all(b"ok");
                    return;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        (rx.recv().unwrap(), t)
    };
    assert!(
        tcp_reaches(Some(h1.pid()), gw, port),
        "container -> gateway TCP"
    );
    server.join().unwrap();
}

#[tokio::test]
async fn veth_disappears_when_holder_dies() {
    if !privileged() {
        return;
    }
    let br = BridgeGuard::new(4);
    ensure_bridge(&br.name, br.gateway).await.unwrap();
    let mut holder = Holder::spawn();
    let veth = VethGuard::new();
    attach_container(
        &br.name,
        holder.pid(),
        &veth.0,
        Ipv4Net::new(br.ip(2), 24).unwrap(),
        br.gateway.addr(),
    )
    .await
    .unwrap();
    assert!(link_exists(&veth.0));
    holder.kill();
    // The kernel destroys the namespace (and the pair with it) asynchronously.
    let deadline = Instant::now() + Duration::from_secs(10);
    while link_exists(&veth.0) {
        assert!(Instant::now() < deadline, "veth survived its netns");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    detach_container(&veth.0).await.unwrap();
}

#[tokio::test]
async fn failed_attach_leaves_nothing_behind() {
    if !privileged() {
        return;
    }
    let br = BridgeGuard::new(5);
    ensure_bridge(&br.name, br.gateway).await.unwrap();
    let gw = br.gateway.addr();
    let addr = Ipv4Net::new(br.ip(2), 24).unwrap();

    // Failure after the veth exists: a default route is already there, so adding ours fails.
    let holder = Holder::spawn();
    ip_in(holder.pid(), &["link", "set", "lo", "up"]);
    ip_in(holder.pid(), &["route", "add", "default", "dev", "lo"]);
    let veth = VethGuard::new();
    let err = attach_container(&br.name, holder.pid(), &veth.0, addr, gw)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("default route"), "{err}");
    assert!(!link_exists(&veth.0), "host veth left behind");
    assert!(!ip_in(holder.pid(), &["-o", "link"]).contains("eth0"));

    // Failure while creating: eth0 already exists in the container.
    let holder2 = Holder::spawn();
    // (a veth pair: this kernel has no dummy driver)
    ip_in(
        holder2.pid(),
        &["link", "add", "eth0", "type", "veth", "peer", "name", "x0"],
    );
    assert!(ip_in(holder2.pid(), &["-o", "link"]).contains("eth0"));
    let veth2 = VethGuard::new();
    assert!(
        attach_container(&br.name, holder2.pid(), &veth2.0, addr, gw)
            .await
            .is_err()
    );
    assert!(!link_exists(&veth2.0), "host veth left behind");

    // Missing bridge.
    assert!(matches!(
        attach_container("pt-nobridge", holder2.pid(), &veth2.0, addr, gw).await,
        Err(Error::LinkNotFound(_))
    ));
    // Gateway outside the container's subnet.
    assert!(matches!(
        attach_container(
            &br.name,
            holder2.pid(),
            &veth2.0,
            addr,
            Ipv4Addr::new(10, 213, 6, 1)
        )
        .await,
        Err(Error::GatewayOutsideSubnet { .. })
    ));
    assert!(list_bridge_ports(&br.name).await.unwrap().is_empty());
}

#[tokio::test]
async fn attach_refuses_the_host_netns() {
    if !privileged() {
        return;
    }
    let br = BridgeGuard::new(6);
    ensure_bridge(&br.name, br.gateway).await.unwrap();
    let veth = VethGuard::new();
    let err = attach_container(
        &br.name,
        std::process::id(),
        &veth.0,
        Ipv4Net::new(br.ip(2), 24).unwrap(),
        br.gateway.addr(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::HostNetns(_)), "{err}");
    assert!(!link_exists(&veth.0));
}

/// Attach + detach repeatedly against fresh holders: nothing accumulates on the bridge.
#[tokio::test]
async fn attach_detach_repeatedly_leaves_no_ports() {
    if !privileged() {
        return;
    }
    let br = BridgeGuard::new(7);
    ensure_bridge(&br.name, br.gateway).await.unwrap();
    let mut attach = Vec::new();
    let mut detach = Vec::new();
    for i in 0..20u8 {
        let holder = Holder::spawn();
        let veth = VethGuard::new();
        let addr = Ipv4Net::new(br.ip(10 + i), 24).unwrap();
        let t = Instant::now();
        attach_container(&br.name, holder.pid(), &veth.0, addr, br.gateway.addr())
            .await
            .unwrap();
        attach.push(t.elapsed());
        let t = Instant::now();
        detach_container(&veth.0).await.unwrap();
        detach.push(t.elapsed());
    }
    assert!(
        list_bridge_ports(&br.name).await.unwrap().is_empty(),
        "ports left on {} after 20 attach/detach rounds",
        br.name
    );
    // Informational only (benchmarks measure speed): printed for whoever runs with --nocapture.
    attach.sort();
    detach.sort();
    eprintln!(
        "attach_container: min {:?} median {:?} max {:?}; detach_container: min {:?} median {:?} max {:?}",
        attach[0], attach[10], attach[19], detach[0], detach[10], detach[19]
    );
}
