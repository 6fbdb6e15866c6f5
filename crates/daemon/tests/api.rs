//! The Docker Engine API surface over raw HTTP on the daemon socket: ping, version prefixes,
//! version and info, clean JSON 404s, bad input, the wait-before-start handshake the docker
//! CLI relies on, hijacked attach streams, names and list filters.

mod common;

use common::*;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

fn parse(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("bad JSON ({e}): {body:?}"))
}

fn host_kernel() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn create(d: &Daemon, name: Option<&str>, body: Value) -> String {
    let path = match name {
        Some(n) => format!("/containers/create?name={}", enc(n)),
        None => "/containers/create".into(),
    };
    let (st, b) = d.api("POST", &path, Some(&body.to_string()));
    assert_eq!(st, 201, "create {body}: {b}");
    parse(&b)["Id"].as_str().expect("Id").to_string()
}

/// Send a raw request on a fresh connection and read up to the end of the response head.
/// Returns the stream (positioned after the head), the head text and any body bytes
/// already read.
fn raw_request(d: &Daemon, req: &str) -> (UnixStream, String, Vec<u8>) {
    let mut s = UnixStream::connect(&d.sock).expect("connect");
    // A bound for a stuck stream, generous for a loaded machine (not a timing check).
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    s.write_all(req.as_bytes()).expect("send");
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let end = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p;
        }
        let n = s
            .read(&mut chunk)
            .unwrap_or_else(|e| panic!("no response head in time ({e}): {buf:?}"));
        assert!(n > 0, "connection closed before the response head: {buf:?}");
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let rest = buf[end + 4..].to_vec();
    (s, head, rest)
}

/// Read until EOF (bounded by the stream's read timeout).
fn read_to_eof(s: &mut UnixStream, mut got: Vec<u8>) -> Vec<u8> {
    let mut chunk = [0u8; 4096];
    loop {
        match s.read(&mut chunk) {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&chunk[..n]),
            Err(e) => panic!(
                "stream did not end ({e}); got {:?}",
                String::from_utf8_lossy(&got)
            ),
        }
    }
}

fn head_header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[test]
fn ping_get_and_head_carry_api_version() {
    let Some(d) = Daemon::start() else { return };
    for path in ["/_ping", "/v1.24/_ping", "/v1.47/_ping"] {
        let (st, h, body) = d.try_api("GET", path, None).expect(path);
        assert_eq!(st, 200, "GET {path}");
        assert_eq!(body, "OK", "GET {path}");
        assert_eq!(header(&h, "api-version"), Some("1.47"), "GET {path}: {h:?}");
        assert_eq!(header(&h, "ostype"), Some("linux"), "GET {path}: {h:?}");
    }
    let (st, h, body) = d.try_api("HEAD", "/_ping", None).expect("HEAD");
    assert_eq!(st, 200);
    assert!(body.is_empty(), "HEAD has a body: {body:?}");
    assert_eq!(header(&h, "api-version"), Some("1.47"), "{h:?}");
    assert_eq!(header(&h, "ostype"), Some("linux"), "{h:?}");
    // dockerd's: an empty HEAD body and no caching.
    assert_eq!(header(&h, "content-length"), Some("0"), "{h:?}");
    assert_eq!(header(&h, "pragma"), Some("no-cache"), "{h:?}");
}

#[test]
fn version_prefixes_and_unsupported_versions() {
    let Some(d) = Daemon::start() else { return };
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        a => a,
    };
    for path in ["/version", "/v1.24/version", "/v1.47/version"] {
        let v = d.get_json(path);
        assert_eq!(v["ApiVersion"], "1.47", "{path}: {v}");
        assert_eq!(v["MinAPIVersion"], "1.24", "{path}: {v}");
        assert_eq!(v["Os"], "linux", "{path}: {v}");
        assert_eq!(v["Arch"], arch, "{path}: {v}");
        assert_eq!(v["KernelVersion"], host_kernel().as_str(), "{path}: {v}");
        assert!(v["Version"].as_str().is_some_and(|s| !s.is_empty()), "{v}");
    }

    let (st, h, b) = d.try_api("GET", "/v1.99/version", None).unwrap();
    assert_eq!(st, 400, "{b}");
    assert!(
        header(&h, "content-type").is_some_and(|c| c.starts_with("application/json")),
        "{h:?}"
    );
    assert_eq!(
        parse(&b),
        json!({"message": "client version 1.99 is too new. Maximum supported API version is 1.47"})
    );
    let (st, _, b) = d.try_api("GET", "/v1.23/version", None).unwrap();
    assert_eq!(st, 400, "{b}");
    assert_eq!(
        parse(&b)["message"],
        "client version 1.23 is too old. Minimum supported API version is 1.24, please upgrade your client to a newer version"
    );

    // What the docker CLI makes of it.
    let out = d.docker_ok(&[
        "version",
        "--format",
        "{{.Server.APIVersion}} {{.Server.MinAPIVersion}} {{.Server.Os}}/{{.Server.Arch}}",
    ]);
    assert_eq!(out, format!("1.47 1.24 linux/{arch}"));
}

#[test]
fn info_reports_counts_and_host_facts() {
    let Some(d) = Daemon::start() else { return };
    let counts = |d: &Daemon| {
        let i = d.get_json("/info");
        (
            i["Containers"].as_u64(),
            i["ContainersRunning"].as_u64(),
            i["ContainersStopped"].as_u64(),
            i["Images"].as_u64(),
        )
    };
    assert_eq!(counts(&d), (Some(0), Some(0), Some(0), Some(0)));
    let img = image();
    d.docker_ok(&["pull", &img]);
    assert_eq!(counts(&d), (Some(0), Some(0), Some(0), Some(1)));
    d.docker_ok(&["create", "--name", "c1", &img, "true"]);
    assert_eq!(counts(&d), (Some(1), Some(0), Some(1), Some(1)));
    d.docker_ok(&["run", "-d", "--name", "c2", &img, "sleep", "60"]);
    assert_eq!(counts(&d), (Some(2), Some(1), Some(1), Some(1)));

    let i = d.get_json("/v1.47/info");
    assert_eq!(i["Driver"], "overlay2", "{i}");
    let cgv = if std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        "2"
    } else {
        "1"
    };
    assert_eq!(i["CgroupVersion"], cgv, "{i}");
    assert_eq!(i["CgroupDriver"], "cgroupfs", "{i}");
    assert_eq!(
        i["DockerRootDir"],
        d.data_root.display().to_string().as_str(),
        "{i}"
    );
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(i["Name"], hostname.trim(), "{i}");
    let ncpu = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap();
    assert_eq!(i["NCPU"].as_u64(), Some(ncpu as u64), "{i}");
    let mem_kb: u64 = std::fs::read_to_string("/proc/meminfo")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    assert_eq!(i["MemTotal"].as_u64(), Some(mem_kb * 1024), "{i}");
    assert_eq!(i["KernelVersion"], host_kernel().as_str(), "{i}");
    assert_eq!(i["OSType"], "linux", "{i}");
    assert_eq!(i["LiveRestoreEnabled"], true, "{i}");
    assert_eq!(i["DefaultRuntime"], "runc", "{i}");
    // Host facts read off the host, not assumed.
    let sysctl =
        |k: &str| std::fs::read_to_string(format!("/proc/sys/{k}")).is_ok_and(|v| v.trim() == "1");
    assert_eq!(i["IPv4Forwarding"], sysctl("net/ipv4/ip_forward"), "{i}");
    assert_eq!(
        i["BridgeNfIptables"],
        sysctl("net/bridge/bridge-nf-call-iptables"),
        "{i}"
    );
    let fs_type = String::from_utf8_lossy(
        &std::process::Command::new("stat")
            .args(["-f", "-c", "%T"])
            .arg(&d.data_root)
            .output()
            .expect("stat")
            .stdout,
    )
    .trim()
    .to_string();
    let backing = i["DriverStatus"][0][1].as_str().unwrap_or("");
    let expect = match fs_type.as_str() {
        "ext2/ext3" => "extfs",
        other => other,
    };
    assert_eq!(backing, expect, "{i}");
    let os_version = std::fs::read_to_string("/etc/os-release")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("VERSION_ID=")
                .map(|v| v.trim_matches('"').to_string())
        })
        .unwrap_or_default();
    assert_eq!(i["OSVersion"], os_version.as_str(), "{i}");
    assert!(i["NFd"].as_u64().unwrap_or(0) > 0, "{i}");
    assert_eq!(
        i["Plugins"]["Network"],
        json!(["bridge", "host", "null"]),
        "{i}"
    );
    assert_eq!(
        i["SecurityOptions"],
        json!(["name=seccomp,profile=default"]),
        "{i}"
    );
    // "runc version" is the commit line of the runtime's own --version.
    let runc_version = std::process::Command::new("runc")
        .arg("--version")
        .output()
        .expect("runc --version");
    let commit = i["RuncCommit"]["ID"].as_str().unwrap_or("");
    assert!(
        !commit.is_empty()
            && String::from_utf8_lossy(&runc_version.stdout).contains(&format!("commit: {commit}")),
        "{i}"
    );

    let out = d.docker_ok(&[
        "info",
        "--format",
        "{{.DockerRootDir}} {{.Containers}} {{.ContainersRunning}} {{.Images}} {{.Driver}}",
    ]);
    assert_eq!(out, format!("{} 2 1 1 overlay2", d.data_root.display()));
}

#[test]
fn unknown_objects_and_routes_are_json_404s() {
    let Some(d) = Daemon::start() else { return };
    let cases = [
        ("GET", "/nosuch", None),
        ("GET", "/v1.47/nosuch/route", None),
        ("POST", "/containers/x/frobnicate", None),
        // A known path with the wrong method is an unknown route to dockerd too.
        ("DELETE", "/_ping", Some("page not found")),
        ("PUT", "/containers/json", Some("page not found")),
        ("GET", "/networks/x", Some("network x not found")),
        ("GET", "/volumes/x", Some("get x: no such volume")),
        ("GET", "/plugins/x/json", Some("plugin \"x\" not found")),
        ("GET", "/images/x/json", None),
        ("GET", "/images/127.0.0.1:5000/no/such:tag/json", None),
        ("GET", "/containers/x/json", Some("No such container: x")),
        (
            "GET",
            "/v1.41/containers/x/json",
            Some("No such container: x"),
        ),
        ("POST", "/containers/x/start", Some("No such container: x")),
        ("POST", "/containers/x/wait", Some("No such container: x")),
        ("DELETE", "/containers/x", Some("No such container: x")),
    ];
    for (method, path, msg) in cases {
        let (st, h, b) = d.try_api(method, path, None).unwrap();
        assert_eq!(st, 404, "{method} {path}: {b}");
        assert!(
            header(&h, "content-type").is_some_and(|c| c.starts_with("application/json")),
            "{method} {path}: {h:?}"
        );
        let v = parse(&b);
        let m = v["message"].as_str().unwrap_or("");
        assert!(!m.is_empty(), "{method} {path}: {b}");
        if let Some(want) = msg {
            assert_eq!(m, want, "{method} {path}");
        }
    }
    // `docker inspect` probes every object kind and reports a clean miss.
    let o = d.docker(&["inspect", "nothing-here"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("No such object: nothing-here"),
        "{}",
        stderr(&o)
    );
}

fn body_ok() -> String {
    json!({"Image": image(), "Cmd": ["true"]}).to_string()
}

#[test]
fn bad_create_bodies_are_400_and_leave_nothing() {
    let Some(d) = Daemon::start() else { return };
    d.docker_ok(&["pull", &image()]);
    for body in [r#"{"Image": "#, "not json", r#"{"Image": 5}"#, r#"["x"]"#] {
        let (st, h, b) = d.try_api("POST", "/containers/create", Some(body)).unwrap();
        assert_eq!(st, 400, "{body}: {b}");
        assert!(
            header(&h, "content-type").is_some_and(|c| c.starts_with("application/json")),
            "{h:?}"
        );
        assert!(parse(&b)["message"].as_str().is_some(), "{b}");
    }
    let (st, b) = d.api("POST", "/containers/create", Some(r#"{"Cmd":["true"]}"#));
    assert_eq!(st, 400, "no image: {b}");
    let (st, b) = d.api(
        "POST",
        "/containers/create",
        Some(r#"{"Image":"127.0.0.1:5000/not/pulled:x","Cmd":["true"]}"#),
    );
    assert_eq!(st, 404, "{b}");
    assert!(
        parse(&b)["message"]
            .as_str()
            .unwrap()
            .contains("No such image"),
        "{b}"
    );
    let (st, b) = d.api(
        "POST",
        "/containers/create?name=bad%20name",
        Some(&json!({"Image": image(), "Cmd": ["true"]}).to_string()),
    );
    assert_eq!(st, 400, "{b}");
    let (st, b) = d.api("GET", "/containers/json?filters=notjson", None);
    assert_eq!(st, 400, "{b}");
    // Options pouchd does not implement yet are refused by name, never silently dropped.
    for (host_config, word) in [
        (json!({"Binds": ["/tmp:/x"]}), "HostConfig.Binds"),
        (
            json!({"PortBindings": {"80/tcp": [{"HostPort": "8080"}]}}),
            "PortBindings",
        ),
        (json!({"Memory": 1048576}), "HostConfig.Memory"),
        (json!({"Privileged": true}), "Privileged"),
        (
            json!({"RestartPolicy": {"Name": "always"}}),
            "restart policy",
        ),
        (
            json!({"LogConfig": {"Type": "syslog", "Config": {}}}),
            "syslog",
        ),
        (
            json!({"Runtime": "nosuch"}),
            "unknown or invalid runtime name: nosuch",
        ),
        (
            json!({"SecurityOpt": ["bogus"]}),
            "invalid --security-opt 1: \"bogus\"",
        ),
    ] {
        let body = json!({"Image": image(), "Cmd": ["true"], "HostConfig": host_config});
        let (st, b) = d.api("POST", "/containers/create", Some(&body.to_string()));
        assert_eq!(st, 400, "{host_config}: {b}");
        let msg = parse(&b)["message"].as_str().unwrap_or("").to_string();
        assert!(msg.contains(word), "{host_config}: {msg}");
    }
    // dockerd's create-time checks of the values it would otherwise fail on at start.
    for (config, msg) in [
        (
            json!({"Env": ["A=1", "=x"]}),
            "invalid environment variable: =x",
        ),
        (
            json!({"WorkingDir": "rel"}),
            "the working directory 'rel' is invalid, it needs to be an absolute path",
        ),
        (json!({"Entrypoint": [""]}), "No command specified"),
    ] {
        let mut body = json!({"Image": image()});
        for (k, v) in config.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (st, b) = d.api("POST", "/containers/create", Some(&body.to_string()));
        assert_eq!(st, 400, "{config}: {b}");
        assert_eq!(parse(&b)["message"], msg, "{config}");
    }
    // A body must be declared JSON, as dockerd requires.
    let req = format!(
        "POST /containers/create HTTP/1.1\r\nHost: docker\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        body_ok().len(),
        body_ok()
    );
    let (mut s, head, rest) = raw_request(&d, &req);
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
    let b = String::from_utf8_lossy(&read_to_eof(&mut s, rest)).into_owned();
    assert!(
        b.contains("Content-Type specified (text/plain) must be 'application/json'"),
        "{b}"
    );
    // The docker CLI's zero values for every option are accepted.
    let o = d.docker(&[
        "create",
        "--security-opt",
        "seccomp=unconfined",
        &image(),
        "true",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    d.docker_ok(&["rm", stdout(&o).trim()]);
    assert!(d.all_ids().is_empty(), "a failed create left a container");
    assert!(
        std::fs::read_dir(d.data_root.join("containers"))
            .map(|r| r.count())
            .unwrap_or(0)
            == 0,
        "a failed create left a container directory"
    );
}

#[test]
fn wait_headers_arrive_before_start() {
    let Some(d) = Daemon::start() else { return };
    d.docker_ok(&["pull", &image()]);
    let id = create(
        &d,
        None,
        json!({"Image": image(), "Cmd": ["sh", "-c", "exit 7"]}),
    );
    let (mut s, head, rest) = raw_request(
        &d,
        &format!(
            "POST /v1.47/containers/{id}/wait?condition=next-exit HTTP/1.1\r\nHost: docker\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        ),
    );
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(d.inspect(&id)["State"]["Status"], "created");
    let (st, b) = d.api("POST", &format!("/containers/{id}/start"), None);
    assert_eq!(st, 204, "{b}");
    let body = String::from_utf8_lossy(&read_to_eof(&mut s, rest)).into_owned();
    let (a, z) = (body.find('{'), body.rfind('}'));
    let (Some(a), Some(z)) = (a, z) else {
        panic!("no JSON in wait body: {body:?}")
    };
    let v = parse(&body[a..=z]);
    assert_eq!(v["StatusCode"], 7, "{v}");

    // `removed` answers once `--rm`-style removal is done; `not-running` at once when stopped.
    let (st, b) = d.api("POST", &format!("/containers/{id}/wait"), None);
    assert_eq!(st, 200);
    assert!(b.contains("\"StatusCode\":7"), "{b}");
    let (mut s, head, rest) = raw_request(
        &d,
        &format!(
            "POST /containers/{id}/wait?condition=removed HTTP/1.1\r\nHost: docker\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        ),
    );
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let (st, b) = d.api("DELETE", &format!("/containers/{id}"), None);
    assert_eq!(st, 204, "{b}");
    let body = String::from_utf8_lossy(&read_to_eof(&mut s, rest)).into_owned();
    assert!(body.contains("\"StatusCode\":7"), "{body:?}");
    let (st, b) = d.api(
        "POST",
        &format!("/containers/{id}/wait?condition=bogus"),
        None,
    );
    assert_eq!(st, 400, "{b}");
}

/// Split a stdcopy stream into (stdout, stderr), checking every frame header.
fn demux(mut b: &[u8]) -> (String, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    while !b.is_empty() {
        assert!(b.len() >= 8, "truncated frame header: {b:?}");
        assert_eq!(&b[1..4], &[0, 0, 0], "bad frame header: {:?}", &b[..8]);
        let len = u32::from_be_bytes([b[4], b[5], b[6], b[7]]) as usize;
        assert!(b.len() >= 8 + len, "truncated frame: {b:?}");
        match b[0] {
            1 => out.extend_from_slice(&b[8..8 + len]),
            2 => err.extend_from_slice(&b[8..8 + len]),
            s => panic!("unknown stream {s} in frame"),
        }
        b = &b[8 + len..];
    }
    (
        String::from_utf8_lossy(&out).into_owned(),
        String::from_utf8_lossy(&err).into_owned(),
    )
}

fn attach_upgrade(d: &Daemon, id: &str) -> (UnixStream, String, Vec<u8>) {
    raw_request(
        d,
        &format!(
            "POST /v1.47/containers/{id}/attach?stream=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: docker\r\nContent-Length: 0\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
        ),
    )
}

#[test]
fn attach_upgrades_and_frames_output() {
    let Some(d) = Daemon::start() else { return };
    d.docker_ok(&["pull", &image()]);
    let id = create(
        &d,
        None,
        json!({"Image": image(), "AttachStdout": true, "AttachStderr": true,
               "Cmd": ["sh", "-c", "echo out; echo err >&2; echo out2"]}),
    );
    let (mut s, head, rest) = attach_upgrade(&d, &id);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert_eq!(head_header(&head, "upgrade"), Some("tcp"), "{head}");
    assert_eq!(
        head_header(&head, "content-type"),
        Some("application/vnd.docker.multiplexed-stream"),
        "{head}"
    );
    let (st, b) = d.api("POST", &format!("/containers/{id}/start"), None);
    assert_eq!(st, 204, "{b}");
    let raw = read_to_eof(&mut s, rest);
    let (out, err) = demux(&raw);
    assert_eq!(out, "out\nout2\n");
    assert_eq!(err, "err\n");

    // With a tty the stream is raw: no frame headers.
    let id = create(
        &d,
        None,
        json!({"Image": image(), "Tty": true, "AttachStdout": true, "Cmd": ["echo", "hi"]}),
    );
    let (mut s, head, rest) = attach_upgrade(&d, &id);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert_eq!(
        head_header(&head, "content-type"),
        Some("application/vnd.docker.raw-stream"),
        "{head}"
    );
    let (st, b) = d.api("POST", &format!("/containers/{id}/start"), None);
    assert_eq!(st, 204, "{b}");
    let raw = read_to_eof(&mut s, rest);
    assert_eq!(String::from_utf8_lossy(&raw), "hi\r\n");
    // (Attaching to a stopped container is allowed, as with dockerd: `start -a` attaches
    // first; the lifecycle tests cover it.)
}

#[test]
fn names_take_an_optional_slash_and_are_unique() {
    let Some(d) = Daemon::start() else { return };
    d.docker_ok(&["pull", &image()]);
    let body = json!({"Image": image(), "Cmd": ["true"]});
    let id = create(&d, Some("/web"), body.clone());
    let c = d.inspect("web");
    assert_eq!(c["Id"], id.as_str());
    assert_eq!(c["Name"], "/web");
    assert_eq!(d.inspect(&id[..12])["Name"], "/web");
    assert_eq!(
        d.docker_ok(&["inspect", "--format", "{{.Name}}", "/web"]),
        "/web"
    );
    assert_eq!(d.docker_ok(&["ps", "-a", "--format", "{{.Names}}"]), "web");
    let (st, b) = d.api("GET", "/containers/json?all=1", None);
    assert_eq!(st, 200);
    assert_eq!(parse(&b)[0]["Names"], json!(["/web"]));

    for name in ["web", "/web"] {
        let (st, b) = d.api(
            "POST",
            &format!("/containers/create?name={}", enc(name)),
            Some(&body.to_string()),
        );
        assert_eq!(st, 409, "{name}: {b}");
        let m = parse(&b)["message"].as_str().unwrap_or("").to_string();
        assert!(
            m.contains("\"/web\" is already in use") && m.contains(&id),
            "{m}"
        );
    }
    d.docker_ok(&["rm", "/web"]);
    assert!(d.all_ids().is_empty());
    // The name is free again.
    create(&d, Some("web"), body);
}

#[test]
fn list_filters_by_label_name_status_and_id() {
    let Some(d) = Daemon::start() else { return };
    let img = image();
    d.docker_ok(&["pull", &img]);
    let a = create(
        &d,
        Some("alpha"),
        json!({"Image": img, "Cmd": ["true"], "Labels": {"tier": "web", "x": ""}}),
    );
    let b = create(
        &d,
        Some("beta"),
        json!({"Image": img, "Cmd": ["true"], "Labels": {"tier": "db"}}),
    );
    let c = d.docker_ok(&["run", "-d", "--name", "gamma", &img, "sleep", "60"]);

    let names = |filters: Value, all: bool| -> Vec<String> {
        let path = format!(
            "/containers/json?all={}&filters={}",
            all as u8,
            enc(&filters.to_string())
        );
        let v = d.get_json(&path);
        let mut n: Vec<String> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                c["Names"][0]
                    .as_str()
                    .unwrap()
                    .trim_start_matches('/')
                    .to_string()
            })
            .collect();
        n.sort();
        n
    };
    assert_eq!(names(json!({}), false), ["gamma"]);
    assert_eq!(names(json!({}), true), ["alpha", "beta", "gamma"]);
    assert_eq!(names(json!({"label": ["tier=web"]}), true), ["alpha"]);
    assert_eq!(
        names(json!({"label": {"tier": true}}), true),
        ["alpha", "beta"]
    );
    assert_eq!(names(json!({"label": ["x"]}), true), ["alpha"]);
    assert_eq!(
        names(json!({"label": ["tier=nope"]}), true),
        Vec::<String>::new()
    );
    assert_eq!(names(json!({"name": {"beta": true}}), true), ["beta"]);
    assert_eq!(names(json!({"name": ["/gamma"]}), true), ["gamma"]);
    assert_eq!(names(json!({"status": ["running"]}), true), ["gamma"]);
    // A status filter lists stopped containers even without all=1.
    assert_eq!(
        names(json!({"status": ["created"]}), false),
        ["alpha", "beta"]
    );
    assert_eq!(names(json!({"id": [&a[..10]]}), true), ["alpha"]);
    assert_eq!(
        names(json!({"id": [&b[..10]], "label": ["tier=db"]}), true),
        ["beta"]
    );
    assert_eq!(
        names(json!({"id": [&c[..10]], "status": ["exited"]}), true),
        Vec::<String>::new()
    );

    // The CLI's --filter sends the same JSON.
    let out = d.docker_ok(&[
        "ps",
        "-a",
        "--filter",
        "label=tier=db",
        "--format",
        "{{.Names}}",
    ]);
    assert_eq!(out, "beta");

    // Every other key and value as dockerd 20.10 answers them.
    let refused = |filters: &str, all: &str| -> (u16, String) {
        let (st, b) = d.api(
            "GET",
            &format!("/containers/json?all={all}&filters={}", enc(filters)),
            None,
        );
        (st, parse(&b)["message"].as_str().unwrap_or(&b).to_string())
    };
    let r = |filters: &str| refused(filters, "1");
    assert_eq!(
        r(r#"{"bogus":["x"]}"#),
        (400, "Invalid filter 'bogus'".into())
    );
    assert_eq!(
        r(r#"{"status":["bogus"]}"#),
        (400, "Invalid filter 'status=bogus'".into())
    );
    let (st, m) = r("notjson");
    assert!(
        st == 400 && m.contains("Invalid filters parameter"),
        "{st} {m}"
    );
    // dockerd: 500 with strconv's text; here a 400 that says what is wrong.
    let (st, m) = r(r#"{"exited":["x"]}"#);
    assert!(st == 400 && m.contains("'exited=x'"), "{st} {m}");
    assert_eq!(
        r(r#"{"health":["bogus"]}"#),
        (400, "Unrecognised filter value for health: bogus".into())
    );
    assert_eq!(
        r(r#"{"is-task":["maybe"]}"#),
        (400, "Invalid filter 'is-task=[maybe]'".into())
    );
    assert_eq!(
        r(r#"{"publish":["1:80"]}"#),
        (
            400,
            "filter for 'publish' should not contain ':': 1:80".into()
        )
    );
    let (st, m) = r(r#"{"expose":["x"]}"#);
    assert!(
        st == 400 && m.starts_with("error while looking up for expose x"),
        "{st} {m}"
    );
    assert_eq!(
        r(r#"{"before":["nosuch"]}"#),
        (404, "no such container nosuch".into())
    );
    let (st, b) = d.api("GET", "/containers/json?limit=abc", None);
    assert_eq!(st, 400, "{b}");
    assert_eq!(
        parse(&b)["message"],
        "Invalid limit 'abc': must be an integer"
    );
    // dockerd's BoolValue: any value but ""/0/no/false/none means all.
    let listed = |q: &str| -> usize {
        d.get_json(&format!("/containers/json?{q}"))
            .as_array()
            .map(|a| a.len())
            .unwrap_or(0)
    };
    assert_eq!(listed("all=abc"), 3);
    assert_eq!(listed("all=no"), 1);
    assert_eq!(listed("all=FALSE"), 1);
    assert_eq!(listed("limit=2"), 2);

    // name: a regexp on the name with and without its slash; an invalid one matches
    // nothing (dockerd skips it), the other values still apply.
    assert_eq!(names(json!({"name": ["^/alpha$"]}), true), ["alpha"]);
    assert_eq!(names(json!({"name": ["^alp"]}), true), ["alpha"]);
    assert_eq!(names(json!({"name": ["e.a"]}), true), ["beta"]);
    assert_eq!(
        names(json!({"name": ["^/(alpha|beta)$"]}), true),
        ["alpha", "beta"]
    );
    assert_eq!(
        names(json!({"name": ["lph", "mm"]}), true),
        ["alpha", "gamma"]
    );
    assert!(names(json!({"name": ["["]}), true).is_empty());
    assert_eq!(names(json!({"name": ["[", "^gamma$"]}), true), ["gamma"]);
    // before/since: by name (or full id), in created order; without all only running.
    assert_eq!(names(json!({"before": ["gamma"]}), true), ["alpha", "beta"]);
    assert_eq!(names(json!({"before": [&c]}), true), ["alpha", "beta"]);
    assert_eq!(names(json!({"since": ["/alpha"]}), true), ["beta", "gamma"]);
    assert_eq!(
        names(json!({"since": ["alpha"], "before": ["gamma"]}), true),
        ["beta"]
    );
    assert!(names(json!({"before": ["gamma"]}), false).is_empty());
    assert_eq!(names(json!({"since": ["alpha"]}), false), ["gamma"]);

    // Exited containers and one without a network.
    let out = d.docker(&["run", "--name", "delta", &img, "sh", "-c", "exit 3"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    d.docker_ok(&["run", "--name", "epsilon", &img, "true"]);
    d.docker_ok(&[
        "create",
        "--name",
        "zeta",
        "--network",
        "none",
        &img,
        "true",
    ]);
    let six = ["alpha", "beta", "delta", "epsilon", "gamma", "zeta"];
    // exited=N: containers that ran and stopped with N (created ones have code 0 too).
    assert_eq!(names(json!({"exited": ["0"]}), true), ["epsilon"]);
    assert_eq!(names(json!({"exited": ["3"]}), true), ["delta"]);
    assert_eq!(
        names(json!({"exited": ["0", "3"]}), true),
        ["delta", "epsilon"]
    );
    assert!(names(json!({"exited": ["0"]}), false).is_empty());
    assert_eq!(
        names(json!({"exited": ["3"], "status": ["exited"]}), false),
        ["delta"]
    );
    assert!(names(json!({"exited": ["3"], "status": ["running"]}), true).is_empty());
    // ancestor: by reference, id or short id.
    let image_id = d.docker_ok(&["image", "inspect", "-f", "{{.Id}}", &img]);
    let short_image = &image_id.trim_start_matches("sha256:")[..12];
    for a in [img.as_str(), image_id.as_str(), short_image] {
        assert_eq!(names(json!({"ancestor": [a]}), true), six, "ancestor={a}");
    }
    assert!(names(json!({"ancestor": ["nosuch"]}), true).is_empty());
    // network by name.
    assert_eq!(names(json!({"network": ["none"]}), true), ["zeta"]);
    assert_eq!(
        names(json!({"network": ["bridge"]}), true),
        ["alpha", "beta", "delta", "epsilon", "gamma"]
    );
    assert!(names(json!({"network": ["br"]}), true).is_empty());
    // No healthchecks, swarm tasks, volumes or ports exist: what dockerd answers for
    // containers without them.
    assert_eq!(names(json!({"health": ["none"]}), true), six);
    assert!(names(json!({"health": ["healthy", "starting"]}), true).is_empty());
    assert_eq!(names(json!({"is-task": ["false"]}), true), six);
    assert!(names(json!({"is-task": ["true"]}), true).is_empty());
    assert!(names(json!({"volume": ["/data"]}), true).is_empty());
    assert!(names(json!({"publish": ["80"]}), true).is_empty());
    assert!(names(json!({"expose": ["80-90/udp"]}), true).is_empty());
    assert_eq!(names(json!({"isolation": ["default"]}), true), six);
}

#[test]
fn networks_list_and_inspect_the_built_in_ones() {
    let Some(d) = Daemon::start() else { return };
    d.docker_ok(&["pull", &image()]);
    let names = d.docker_ok(&["network", "ls", "--format", "{{.Name}} {{.Driver}}"]);
    let mut rows: Vec<&str> = names.lines().collect();
    rows.sort();
    assert_eq!(rows, ["bridge bridge", "host host", "none null"]);
    let id = d.docker_ok(&["run", "-d", &image(), "sleep", "60"]);
    let ip = d.inspect(&id)["NetworkSettings"]["IPAddress"]
        .as_str()
        .unwrap()
        .to_string();
    let net = d.get_json("/networks/bridge");
    let subnet = format!("{}0/24", d.net_prefix);
    assert_eq!(net["IPAM"]["Config"][0]["Subnet"], subnet.as_str(), "{net}");
    assert_eq!(
        net["Options"]["com.docker.network.bridge.name"],
        d.bridge.as_str()
    );
    assert_eq!(
        net["Containers"][&id]["IPv4Address"],
        format!("{ip}/24"),
        "{net}"
    );
    // The id container inspect reports is the network's id; a prefix finds it too.
    let net_id = d.inspect(&id)["NetworkSettings"]["Networks"]["bridge"]["NetworkID"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(net["Id"], net_id.as_str());
    assert_eq!(
        d.get_json(&format!("/networks/{}", &net_id[..12]))["Name"],
        "bridge"
    );
    let o = d.docker(&["network", "inspect", "nosuchnet"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("network nosuchnet not found"),
        "{}",
        stderr(&o)
    );
    let (st, b) = d.api(
        "GET",
        &format!("/networks?filters={}", enc(r#"{"bogus":["1"]}"#)),
        None,
    );
    assert_eq!(st, 400, "{b}");
    let filtered = d.docker_ok(&["network", "ls", "-q", "--filter", "driver=null"]);
    assert_eq!(filtered.lines().count(), 1, "{filtered}");
    assert_eq!(d.docker_ok(&["volume", "ls", "-q"]), "");
    d.docker_ok(&["rm", "-f", &id]);
}

#[test]
fn routes_not_implemented_yet_are_501_not_404() {
    let Some(d) = Daemon::start() else { return };
    d.docker_ok(&["pull", &image()]);
    let id = d.docker_ok(&["run", "-d", &image(), "sleep", "60"]);
    // A 404 would tell clients the container does not exist.
    for (method, path) in [
        ("POST", format!("/containers/{id}/pause")),
        ("GET", format!("/containers/{id}/top")),
        ("POST", format!("/v1.47/containers/{id}/exec")),
        ("POST", "/networks/create".to_string()),
        ("GET", "/system/df".to_string()),
        ("POST", format!("/images/{}/push", image())),
        ("GET", format!("/images/{}/get", image())),
        ("GET", "/images/get?names=x".to_string()),
        ("POST", "/images/load".to_string()),
        ("POST", "/images/prune".to_string()),
        ("GET", "/images/search?term=x".to_string()),
    ] {
        let (st, b) = d.api(method, &path, Some("{}"));
        assert_eq!(st, 501, "{method} {path}: {b}");
        assert!(parse(&b)["message"]
            .as_str()
            .unwrap_or("")
            .ends_with("is not implemented by pouchd yet"));
    }
    // The CLI gets the reason (its body is read, no broken pipe).
    let o = d.docker(&["exec", &id, "true"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("docker exec is not implemented by pouchd yet"),
        "{}",
        stderr(&o)
    );
    // The built-in networks cannot be removed; volumes do not exist.
    let o = d.docker(&["network", "rm", "bridge"]);
    assert!(
        stderr(&o).contains("bridge is a pre-defined network and cannot be removed"),
        "{}",
        stderr(&o)
    );
    let o = d.docker(&["volume", "rm", "nosuchvol"]);
    assert!(stderr(&o).contains("no such volume"), "{}", stderr(&o));
    // Swarm routes answer like a dockerd outside a swarm.
    let (st, b) = d.api("GET", "/swarm", None);
    assert_eq!(st, 503, "{b}");
    assert!(b.contains("not a swarm manager"), "{b}");
    // A container name with a slash is an unknown container, not an unknown route.
    let o = d.docker(&["inspect", "--type", "container", "127.0.0.1:5000/a/b"]);
    assert!(
        stderr(&o).contains("No such container: 127.0.0.1:5000/a/b"),
        "{}",
        stderr(&o)
    );
    let (st, _) = d.api("GET", "/definitely/unknown", None);
    assert_eq!(st, 404);
    d.docker_ok(&["rm", "-f", &id]);
}

#[test]
fn bad_parameters_are_400_and_rm_link_keeps_the_container() {
    let Some(d) = Daemon::start() else { return };
    d.docker_ok(&["pull", &image()]);
    let id = d.docker_ok(&["run", "-d", "-t", &image(), "sleep", "60"]);
    for path in [
        format!("/containers/{id}/resize"),
        format!("/containers/{id}/resize?h=10"),
        format!("/containers/{id}/resize?h=abc&w=10"),
    ] {
        let (st, b) = d.api("POST", &path, None);
        assert_eq!(st, 400, "{path}: {b}");
    }
    let (st, _) = d.api("POST", &format!("/containers/{id}/resize?h=10&w=20"), None);
    assert_eq!(st, 200);
    for q in ["since=abc", "until=x1"] {
        let (st, b) = d.api("GET", &format!("/containers/{id}/logs?stdout=1&{q}"), None);
        assert_eq!(st, 400, "{q}: {b}");
    }
    // docker rm -l: there are no links, and the container itself must survive.
    let o = d.docker(&["rm", "-l", &id]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("cannot remove the default link name"),
        "{}",
        stderr(&o)
    );
    assert_eq!(d.inspect(&id)["State"]["Running"], true);
    // docker version shows the runtime as a component.
    let v = d.docker_ok(&[
        "version",
        "--format",
        "{{range .Server.Components}}{{.Name}} {{end}}",
    ]);
    assert_eq!(v, "Engine runc", "{v}");
    d.docker_ok(&["rm", "-f", &id]);
}
