//! Container lifecycle through the real docker CLI and raw API against a private pouchd:
//! `run -d`, `ps`, `logs`, `stop`, `kill`, `rm`, `wait`, `create`/`start`, `inspect`,
//! resize, unknown containers and conflicts, and nothing left behind after `rm`.

mod common;

use common::*;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

fn pulled(d: &Daemon) -> String {
    let img = image();
    d.docker_ok(&["pull", "-q", &img]);
    img
}

/// `docker logs` with extra flags: (stdout, stderr).
fn logs(d: &Daemon, args: &[&str]) -> (String, String) {
    let mut a = vec!["logs"];
    a.extend_from_slice(args);
    let o = d.docker(&a);
    assert!(o.status.success(), "docker {a:?}: {}", stderr(&o));
    (stdout(&o), stderr(&o))
}

fn parse_time(s: &str) -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::parse_from_rfc3339(s).unwrap_or_else(|e| panic!("bad time {s:?}: {e}"))
}

/// Wait (bounded) until the container has exited, as `inspect` says.
fn wait_exited(d: &Daemon, id: &str) -> Value {
    let mut last = Value::Null;
    let ok = eventually(Duration::from_secs(15), || {
        last = d.inspect(id);
        last["State"]["Status"] == "exited"
    });
    assert!(ok, "container {id} did not exit: {}", last["State"]);
    last
}

/// Wait (bounded) until `docker logs ID` contains `needle`.
fn wait_logs(d: &Daemon, id: &str, needle: &str) {
    let mut last = String::new();
    let ok = eventually(Duration::from_secs(15), || {
        let o = d.docker(&["logs", id]);
        last = stdout(&o);
        last.contains(needle)
    });
    assert!(ok, "logs of {id} never showed {needle:?}: {last:?}");
}

/// A request whose response headers have arrived; the body is read by `finish`.
struct Pending {
    reader: BufReader<UnixStream>,
    status: u16,
}

impl Pending {
    /// Send `method path` and return once the status line and headers are in.
    fn send(d: &Daemon, method: &str, path: &str) -> Pending {
        let mut s = UnixStream::connect(&d.sock).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: docker\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut reader = BufReader::new(s);
        let mut line = String::new();
        reader.read_line(&mut line).expect("status line");
        let status = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        loop {
            line.clear();
            reader.read_line(&mut line).expect("header");
            if line == "\r\n" || line.is_empty() {
                break;
            }
        }
        Pending { reader, status }
    }

    /// The rest of the body (de-chunked loosely: the JSON object in it).
    fn finish(mut self) -> Value {
        let mut rest = String::new();
        let _ = self.reader.read_to_string(&mut rest);
        let json = rest
            .lines()
            .find(|l| l.trim_start().starts_with('{'))
            .unwrap_or_else(|| panic!("no JSON in body {rest:?}"));
        serde_json::from_str(json).unwrap_or_else(|e| panic!("bad JSON {json:?}: {e}"))
    }
}

/// A child's stdout collected on a thread.
fn collect_stdout(child: &mut Child) -> Arc<Mutex<String>> {
    let buf = Arc::new(Mutex::new(String::new()));
    let mut out = child.stdout.take().expect("stdout");
    let b = buf.clone();
    std::thread::spawn(move || {
        let mut chunk = [0u8; 4096];
        while let Ok(n) = out.read(&mut chunk) {
            if n == 0 {
                break;
            }
            b.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&chunk[..n]));
        }
    });
    buf
}

fn short(id: &str) -> &str {
    &id[..12]
}

#[test]
fn run_detached_and_ps_filters() {
    let Some(d) = Daemon::start() else { return };
    let img = pulled(&d);
    let web = d.docker_ok(&[
        "run", "-d", "--name", "web1", "-l", "role=web", &img, "sleep", "60",
    ]);
    let db = d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "db1",
        "-l",
        "role=db",
        &img,
        "sh",
        "-c",
        "echo a b; sleep 60",
    ]);
    let done = d.docker_ok(&["run", "-d", "--name", "done1", &img, "true"]);
    for id in [&web, &db, &done] {
        assert_eq!(id.len(), 64, "run -d prints the full id: {id}");
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()), "{id}");
    }
    wait_exited(&d, &done);

    let lines = |s: String| -> Vec<String> {
        let mut v: Vec<String> = s.lines().map(String::from).collect();
        v.sort();
        v
    };
    let mut running = vec![short(&web).to_string(), short(&db).to_string()];
    running.sort();
    assert_eq!(lines(d.docker_ok(&["ps", "-q"])), running);
    let mut all = running.clone();
    all.push(short(&done).to_string());
    all.sort();
    assert_eq!(lines(d.docker_ok(&["ps", "-a", "-q"])), all);
    let mut full = vec![web.clone(), db.clone()];
    full.sort();
    assert_eq!(lines(d.docker_ok(&["ps", "-q", "--no-trunc"])), full);

    // The default table: header, short id, image, quoted command, status, name.
    let table = d.docker_ok(&["ps"]);
    let mut rows = table.lines();
    let header = rows.next().unwrap_or("");
    for col in [
        "CONTAINER ID",
        "IMAGE",
        "COMMAND",
        "CREATED",
        "STATUS",
        "NAMES",
    ] {
        assert!(header.contains(col), "{table}");
    }
    let row = table
        .lines()
        .find(|l| l.ends_with("web1"))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(row.starts_with(short(&web)), "{row}");
    assert!(row.contains(&img), "{row}");
    assert!(row.contains("\"sleep 60\""), "{row}");
    assert!(row.contains("Up "), "{row}");
    assert!(
        !table.contains("done1"),
        "ps without -a shows exited: {table}"
    );

    let names = |args: &[&str]| -> Vec<String> {
        let mut a = vec!["ps", "--format", "{{.Names}}"];
        a.extend_from_slice(args);
        lines(d.docker_ok(&a))
    };
    assert_eq!(names(&["--filter", "name=web1"]), ["web1"]);
    assert_eq!(names(&["--filter", &format!("id={}", &db[..10])]), ["db1"]);
    assert_eq!(names(&["--filter", &format!("id={db}")]), ["db1"]);
    assert_eq!(names(&["--filter", "label=role=db"]), ["db1"]);
    assert_eq!(names(&["--filter", "label=role"]), ["db1", "web1"]);
    assert!(names(&["--filter", "label=nosuch"]).is_empty());
    // A status filter lists stopped containers without -a, as dockerd does.
    assert_eq!(names(&["--filter", "status=exited"]), ["done1"]);
    assert_eq!(names(&["--filter", "status=running"]), ["db1", "web1"]);
    assert_eq!(
        names(&[
            "-a",
            "--filter",
            "status=running",
            "--filter",
            "label=role=web"
        ]),
        ["web1"]
    );

    let st = d.docker_ok(&[
        "ps",
        "-a",
        "--filter",
        "name=done1",
        "--format",
        "{{.Status}}",
    ]);
    assert!(st.starts_with("Exited (0) "), "{st}");
    // Commands are shown as dockerd shows them: arguments with spaces quoted.
    let cmd = d.docker_ok(&[
        "ps",
        "--no-trunc",
        "--filter",
        "name=db1",
        "--format",
        "{{.Command}}",
    ]);
    assert_eq!(cmd, "\"sh -c 'echo a b; sleep 60'\"");

    // Raw API: fields dockerd's list has.
    let v = d.get_json("/containers/json?all=1");
    let rows = v.as_array().expect("array");
    assert_eq!(rows.len(), 3);
    let w = rows.iter().find(|r| r["Id"] == web.as_str()).expect("web1");
    assert_eq!(w["Names"], serde_json::json!(["/web1"]));
    assert_eq!(w["Image"], img.as_str());
    assert!(w["ImageID"].as_str().unwrap_or("").starts_with("sha256:"));
    assert_eq!(w["State"], "running");
    assert_eq!(w["Labels"]["role"], "web");
    assert!(w["Created"].as_i64().unwrap_or(0) > 1_600_000_000);
    let bad = d.api("GET", "/containers/json?filters=notjson", None);
    assert_eq!(bad.0, 400, "{}", bad.1);

    // The rest of dockerd's ps filters, through the CLI.
    assert_eq!(names(&["-a", "--filter", "exited=0"]), ["done1"]);
    assert!(names(&["-a", "--filter", "exited=1"]).is_empty());
    assert!(
        names(&["--filter", "exited=0"]).is_empty(),
        "exited=N is not -a"
    );
    assert_eq!(names(&["--filter", "name=^/web"]), ["web1"]);
    assert_eq!(
        names(&["-a", "--filter", "name=1$"]),
        ["db1", "done1", "web1"]
    );
    assert_eq!(names(&["-a", "--filter", "since=web1"]), ["db1", "done1"]);
    assert_eq!(names(&["-a", "--filter", "before=done1"]), ["db1", "web1"]);
    assert_eq!(names(&["--filter", "before=db1"]), ["web1"]);
    assert_eq!(
        names(&["-a", "--filter", &format!("ancestor={img}")]),
        ["db1", "done1", "web1"]
    );
    assert_eq!(
        names(&["-a", "-f", "network=bridge", "-f", "status=running"]),
        ["db1", "web1"]
    );
    for (filter, message) in [
        ("bogus=1", "Invalid filter 'bogus'"),
        ("status=bogus", "Invalid filter 'status=bogus'"),
        ("before=nosuch", "no such container nosuch"),
    ] {
        let out = d.docker(&["ps", "-a", "--filter", filter]);
        assert!(!out.status.success(), "ps -f {filter} succeeded");
        assert!(stderr(&out).contains(message), "{filter}: {}", stderr(&out));
    }
    // The script that used to remove everything removes only what exited with 0.
    let ids = d.docker_ok(&["ps", "-aq", "-f", "exited=0"]);
    assert_eq!(ids, short(&done));
    d.docker_ok(&["rm", &ids]);
    assert_eq!(lines(d.docker_ok(&["ps", "-a", "-q"])), running);
}

#[test]
fn logs_keep_streams_apart_tail_timestamps_since() {
    let Some(d) = Daemon::start() else { return };
    let img = pulled(&d);
    let id = d.docker_ok(&[
        "run",
        "-d",
        &img,
        "sh",
        "-c",
        // Pauses so that every line gets a time of its own.
        "echo out1; echo err1 >&2; for i in 2 3 4 5; do sleep 0.05; echo out$i; done",
    ]);
    assert_eq!(d.docker_ok(&["wait", &id]), "0");

    let (out, err) = logs(&d, &[&id]);
    assert_eq!(out, "out1\nout2\nout3\nout4\nout5\n");
    assert_eq!(err, "err1\n");

    let (out, err) = logs(&d, &["--tail", "2", &id]);
    assert_eq!(out, "out4\nout5\n");
    assert_eq!(err, "");
    let (out, err) = logs(&d, &["--tail", "0", &id]);
    assert_eq!((out.as_str(), err.as_str()), ("", ""));
    let (out, _) = logs(&d, &["--tail", "all", &id]);
    assert_eq!(out.lines().count(), 5);
    // --details: dockerd's space where the (empty) log attributes go.
    let (out, err) = logs(&d, &["--details", &id]);
    assert_eq!(out, " out1\n out2\n out3\n out4\n out5\n");
    assert_eq!(err, " err1\n");

    // -t: RFC 3339 with nanoseconds, then a space, then the line.
    let (out, err) = logs(&d, &["-t", &id]);
    let started = parse_time(d.inspect(&id)["State"]["StartedAt"].as_str().unwrap());
    let mut stamps = Vec::new();
    for (i, l) in out.lines().enumerate() {
        let (ts, text) = l.split_once(' ').unwrap_or_else(|| panic!("{l:?}"));
        assert_eq!(text, format!("out{}", i + 1));
        let frac = ts.split('.').nth(1).unwrap_or("");
        assert_eq!(frac.len(), 10, "9 fraction digits then Z: {ts}");
        let t = parse_time(ts);
        assert!(
            (t - started).num_seconds().abs() < 60,
            "{ts} far from {started}"
        );
        stamps.push(ts.to_string());
    }
    assert_eq!(stamps.len(), 5, "{out}");
    assert!(err.ends_with(" err1\n"), "{err}");

    // --since is inclusive, at full precision: since the third line's own stamp gives it.
    let (out, _) = logs(&d, &["--since", &stamps[2], &id]);
    assert_eq!(out, "out3\nout4\nout5\n");
    let (out, err) = logs(&d, &["--since", "2999-01-01T00:00:00Z", &id]);
    assert_eq!((out.as_str(), err.as_str()), ("", ""));
    let (out, _) = logs(&d, &["--since", "10m", &id]);
    assert_eq!(out.lines().count(), 5);
    let (out, _) = logs(&d, &["--until", &stamps[1], &id]);
    assert_eq!(out, "out1\nout2\n");

    // The raw API: stdcopy frames, one stream at a time.
    let (st, body) = d.api("GET", &format!("/containers/{id}/logs?stderr=1"), None);
    assert_eq!(st, 200);
    assert_eq!(body.as_bytes()[0], 2, "stderr frame: {body:?}");
    assert!(body.ends_with("err1\n"), "{body:?}");
    let (st, body) = d.api("GET", &format!("/containers/{id}/logs"), None);
    assert_eq!(st, 400, "no stream chosen: {body}");
}

#[test]
fn logs_follow_sees_new_output_and_ends_when_container_exits() {
    let Some(d) = Daemon::start() else { return };
    let img = pulled(&d);
    // The container waits for a file the test drops into its rootfs.
    let id = d.docker_ok(&[
        "run",
        "-d",
        &img,
        "sh",
        "-c",
        "echo first; while [ ! -e /tmp/go ]; do sleep 0.05; done; echo second; echo oops >&2; sleep 0.3; echo third",
    ]);
    wait_logs(&d, &id, "first");
    let mut child = d
        .docker_cmd(&["logs", "-f", &id])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("docker logs -f");
    let buf = collect_stdout(&mut child);
    assert!(
        eventually(Duration::from_secs(10), || buf
            .lock()
            .unwrap()
            .contains("first\n")),
        "logs -f did not show old output"
    );
    assert!(
        child.try_wait().unwrap().is_none(),
        "logs -f ended while the container runs"
    );
    assert!(!buf.lock().unwrap().contains("second"));

    let merged = d.inspect(&id)["GraphDriver"]["Data"]["MergedDir"]
        .as_str()
        .expect("MergedDir")
        .to_string();
    std::fs::write(format!("{merged}/tmp/go"), "").expect("drop trigger file");
    assert!(
        eventually(Duration::from_secs(10), || buf
            .lock()
            .unwrap()
            .contains("second\n")),
        "logs -f did not follow: {:?}",
        buf.lock().unwrap()
    );
    let mut status = None;
    assert!(
        eventually(Duration::from_secs(10), || {
            status = child.try_wait().unwrap();
            status.is_some()
        }),
        "logs -f did not end after the container exited"
    );
    assert!(status.unwrap().success());
    // The reader thread may still be draining the pipe.
    assert!(eventually(Duration::from_secs(5), || buf
        .lock()
        .unwrap()
        .ends_with("third\n")));
    assert_eq!(*buf.lock().unwrap(), "first\nsecond\nthird\n");

    // Following an exited container prints everything and ends at once.
    let t0 = Instant::now();
    let o = d.docker(&["logs", "-f", &id]);
    assert!(o.status.success());
    assert_eq!(stdout(&o), "first\nsecond\nthird\n");
    assert_eq!(stderr(&o), "oops\n");
    assert!(t0.elapsed() < Duration::from_secs(5));
}

#[test]
fn stop_kills_a_pid1_that_ignores_sigterm_and_waits_for_one_that_traps_it() {
    let Some(d) = Daemon::start() else { return };
    let img = pulled(&d);
    // PID 1 without a handler ignores SIGTERM: stop -t 1 has to SIGKILL it.
    let id = d.docker_ok(&["run", "-d", "--name", "sleeper", &img, "sleep", "60"]);
    let t0 = Instant::now();
    assert_eq!(d.docker_ok(&["stop", "-t", "1", "sleeper"]), "sleeper");
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(6),
        "stop -t 1 took {took:?}"
    );
    let c = d.inspect(&id);
    assert_eq!(c["State"]["Status"], "exited");
    assert_eq!(c["State"]["Running"], false);
    assert_eq!(c["State"]["ExitCode"], 137);
    assert_eq!(c["State"]["Pid"], 0);
    // Stopping a stopped container is not an error (304 from the API).
    assert_eq!(d.docker_ok(&["stop", &id]), id);
    let (st, _) = d.api("POST", &format!("/containers/{id}/stop"), None);
    assert_eq!(st, 304);

    // A shell that traps TERM exits with its own code, well before the timeout.
    let id = d.docker_ok(&[
        "run",
        "-d",
        &img,
        "sh",
        "-c",
        "trap 'exit 0' TERM; echo ready; while :; do sleep 0.1; done",
    ]);
    wait_logs(&d, &id, "ready");
    let t0 = Instant::now();
    d.docker_ok(&["stop", &id]);
    let took = t0.elapsed();
    assert!(took < Duration::from_secs(3), "stop took {took:?}");
    let c = d.inspect(&id);
    assert_eq!(c["State"]["Status"], "exited");
    assert_eq!(c["State"]["ExitCode"], 0);

    // --signal picks another stop signal.
    let id = d.docker_ok(&[
        "run",
        "-d",
        &img,
        "sh",
        "-c",
        "trap 'exit 4' USR1; echo ready; while :; do sleep 0.1; done",
    ]);
    wait_logs(&d, &id, "ready");
    d.docker_ok(&["stop", "-s", "USR1", &id]);
    assert_eq!(d.inspect(&id)["State"]["ExitCode"], 4);
}

#[test]
fn kill_default_sigkill_and_named_signals() {
    let Some(d) = Daemon::start() else { return };
    let img = pulled(&d);
    let id = d.docker_ok(&["run", "-d", "--name", "victim", &img, "sleep", "60"]);
    assert_eq!(d.docker_ok(&["kill", "victim"]), "victim");
    // docker kill returns once the container is gone.
    let c = d.inspect(&id);
    assert_eq!(c["State"]["Status"], "exited", "{}", c["State"]);
    assert_eq!(c["State"]["ExitCode"], 137);
    assert!(c["State"]["FinishedAt"] != ZERO_TIME);
    // Killing a stopped container: 409 and dockerd's message.
    let o = d.docker(&["kill", "victim"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains(&format!(
            "Cannot kill container: victim: Container {id} is not running"
        )),
        "{}",
        stderr(&o)
    );
    let (st, _) = d.api("POST", "/containers/victim/kill", None);
    assert_eq!(st, 409);

    let id = d.docker_ok(&[
        "run",
        "-d",
        &img,
        "sh",
        "-c",
        "trap 'echo got-usr1' USR1; trap 'exit 9' TERM; echo ready; while :; do sleep 0.1; done",
    ]);
    wait_logs(&d, &id, "ready");
    d.docker_ok(&["kill", "-s", "USR1", &id]);
    wait_logs(&d, &id, "got-usr1");
    assert_eq!(d.inspect(&id)["State"]["Running"], true);
    // Numeric and SIG-prefixed forms work too (one at a time: pending signals merge).
    for (n, sig) in [(2, "--signal=10"), (3, "--signal=SIGUSR1")] {
        d.docker_ok(&["kill", sig, &id]);
        assert!(
            eventually(Duration::from_secs(10), || {
                stdout(&d.docker(&["logs", &id]))
                    .matches("got-usr1")
                    .count()
                    == n
            }),
            "{sig} not delivered"
        );
    }
    let o = d.docker(&["kill", "-s", "NOPE", &id]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("Invalid signal: NOPE"),
        "{}",
        stderr(&o)
    );
    let (st, _) = d.api("POST", &format!("/containers/{id}/kill?signal=NOPE"), None);
    assert_eq!(st, 400);
    d.docker_ok(&["kill", "-s", "TERM", &id]);
    let c = wait_exited(&d, &id);
    assert_eq!(c["State"]["ExitCode"], 9);
}

#[test]
fn rm_of_running_container_needs_force() {
    let Some(d) = Daemon::start() else { return };
    let img = pulled(&d);
    let id = d.docker_ok(&["run", "-d", "--name", "busy", &img, "sleep", "60"]);
    let want = format!(
        "You cannot remove a running container {id}. Stop the container before attempting removal or force remove"
    );
    let o = d.docker(&["rm", "busy"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains(&want), "{}", stderr(&o));
    let (st, body) = d.api("DELETE", "/containers/busy", None);
    assert_eq!(st, 409);
    let v: Value = serde_json::from_str(&body).expect("JSON error");
    assert_eq!(v["message"], want.as_str());
    assert_eq!(
        d.inspect(&id)["State"]["Running"],
        true,
        "rm without -f hurt it"
    );

    assert_eq!(d.docker_ok(&["rm", "-f", "busy"]), "busy");
    let (st, _) = d.api("GET", &format!("/containers/{id}/json"), None);
    assert_eq!(st, 404);
    assert!(d.all_ids().is_empty());
    // The name is free again.
    d.docker_ok(&["create", "--name", "busy", &img, "true"]);
    // rm of a stopped (never started) container needs no force.
    assert_eq!(d.docker_ok(&["rm", "busy"]), "busy");
}

#[test]
fn name_conflict_on_create_is_409() {
    let Some(d) = Daemon::start() else { return };
    let img = pulled(&d);
    let id = d.docker_ok(&["create", "--name", "dup", &img, "true"]);
    let want = format!(
        "Conflict. The container name \"/dup\" is already in use by container \"{id}\". You have to remove (or rename) that container to be able to reuse that name."
    );
    // `docker create` exits 1 on a daemon error, `docker run` 125.
    let o = d.docker(&["create", "--name", "dup", &img, "true"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains(&want), "{}", stderr(&o));
    let o = d.docker(&["run", "--name", "dup", &img, "true"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(stderr(&o).contains(&want), "{}", stderr(&o));
    let body = format!(r#"{{"Image":"{img}","Cmd":["true"]}}"#);
    let (st, b) = d.api("POST", "/containers/create?name=dup", Some(&body));
    assert_eq!(st, 409, "{b}");
    let v: Value = serde_json::from_str(&b).expect("JSON error");
    assert_eq!(v["message"], want.as_str());
    assert_eq!(d.all_ids(), vec![id], "a failed create left a container");
    // A bad name is a 400.
    let (st, b) = d.api("POST", "/containers/create?name=a%20b", Some(&body));
    assert_eq!(st, 400, "{b}");
}

#[test]
fn unknown_container_is_404_everywhere() {
    let Some(d) = Daemon::start() else { return };
    for args in [
        vec!["container", "inspect", "nosuch"],
        vec!["stop", "nosuch"],
        vec!["kill", "nosuch"],
        vec!["rm", "nosuch"],
        vec!["logs", "nosuch"],
        vec!["wait", "nosuch"],
        vec!["start", "nosuch"],
    ] {
        let o = d.docker(&args);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("No such container: nosuch"),
            "{args:?}: {}",
            stderr(&o)
        );
    }
    for (method, path) in [
        ("GET", "/containers/nosuch/json"),
        ("POST", "/containers/nosuch/stop"),
        ("POST", "/containers/nosuch/kill"),
        ("DELETE", "/containers/nosuch"),
        ("DELETE", "/containers/nosuch?force=1"),
        ("GET", "/containers/nosuch/logs?stdout=1"),
        ("POST", "/containers/nosuch/wait"),
        ("POST", "/containers/nosuch/start"),
        ("POST", "/containers/nosuch/resize?h=1&w=1"),
        ("POST", "/v1.41/containers/nosuch/attach?stream=1&stdout=1"),
    ] {
        let (st, body) = d.api(method, path, None);
        assert_eq!(st, 404, "{method} {path}: {body}");
        let v: Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e}): {body}"));
        assert!(
            v["message"]
                .as_str()
                .unwrap_or("")
                .ends_with("No such container: nosuch"),
            "{method} {path}: {body}"
        );
    }
    // dockerd's wording for kill.
    let (_, body) = d.api("POST", "/containers/nosuch/kill", None);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["message"],
        "Cannot kill container: nosuch: No such container: nosuch"
    );
    let log = d.log();
    let errors: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("request failed"))
        .collect();
    assert!(errors.is_empty(), "server errors: {errors:#?}");
    assert!(
        log.contains("/containers/nosuch/json"),
        "requests are not logged"
    );
}

#[test]
fn wait_and_its_conditions() {
    let Some(d) = Daemon::start() else { return };
    let img = pulled(&d);
    let id = d.docker_ok(&["run", "-d", &img, "sh", "-c", "sleep 0.5; exit 3"]);
    assert_eq!(d.docker_ok(&["wait", &id]), "3");
    // docker wait on an exited container answers at once; several at a time too.
    let id2 = d.docker_ok(&["run", "-d", &img, "sh", "-c", "exit 5"]);
    let t0 = Instant::now();
    assert_eq!(d.docker_ok(&["wait", &id, &id2]), "3\n5");
    assert!(t0.elapsed() < Duration::from_secs(5));

    // not-running (the default) on an exited container: at once.
    let (st, body) = d.api(
        "POST",
        &format!("/containers/{id}/wait?condition=not-running"),
        None,
    );
    assert_eq!(st, 200);
    let v: Value = serde_json::from_str(body.trim()).expect("JSON");
    assert_eq!(v["StatusCode"], 3);
    assert!(v["Error"].is_null(), "{body}");

    // next-exit waits for the next run to end. Headers come at once, before the start.
    let p = Pending::send(
        &d,
        "POST",
        &format!("/containers/{id}/wait?condition=next-exit"),
    );
    assert_eq!(p.status, 200);
    d.docker_ok(&["start", &id]);
    let v = p.finish();
    assert_eq!(v["StatusCode"], 3);

    // removed: answers after rm, with the last exit code.
    let p = Pending::send(
        &d,
        "POST",
        &format!("/containers/{id2}/wait?condition=removed"),
    );
    assert_eq!(p.status, 200);
    d.docker_ok(&["rm", &id2]);
    let v = p.finish();
    assert_eq!(v["StatusCode"], 5);

    // A created container: not-running waits for it to run and exit.
    let id3 = d.docker_ok(&["create", &img, "sh", "-c", "exit 6"]);
    let p = Pending::send(
        &d,
        "POST",
        &format!("/containers/{id3}/wait?condition=next-exit"),
    );
    d.docker_ok(&["start", &id3]);
    assert_eq!(p.finish()["StatusCode"], 6);

    // A fast container right after the wait headers: the exit is never missed.
    for _ in 0..5 {
        let p = Pending::send(
            &d,
            "POST",
            &format!("/containers/{id3}/wait?condition=next-exit"),
        );
        let (st, b) = d.api("POST", &format!("/containers/{id3}/start"), None);
        assert_eq!(st, 204, "{b}");
        assert_eq!(p.finish()["StatusCode"], 6);
    }
    let (st, _) = d.api(
        "POST",
        &format!("/containers/{id3}/wait?condition=bogus"),
        None,
    );
    assert_eq!(st, 400);
}

#[test]
fn create_then_start() {
    let Some(d) = Daemon::start() else { return };
    let img = pulled(&d);
    let id = d.docker_ok(&[
        "create",
        "--name",
        "later",
        "-e",
        "FOO=bar",
        &img,
        "sh",
        "-c",
        "echo $FOO",
    ]);
    assert_eq!(id.len(), 64);
    let c = d.inspect("later");
    let s = &c["State"];
    assert_eq!(s["Status"], "created");
    assert_eq!(s["Running"], false);
    assert_eq!(s["Pid"], 0);
    assert_eq!(s["ExitCode"], 0);
    assert_eq!(s["StartedAt"], ZERO_TIME);
    assert_eq!(s["FinishedAt"], ZERO_TIME);
    assert_eq!(c["NetworkSettings"]["IPAddress"], "");
    assert_eq!(d.docker_ok(&["ps", "-q"]), "");
    let st = d.docker_ok(&["ps", "-a", "--format", "{{.Status}}"]);
    assert_eq!(st, "Created");
    assert!(d.docker_ok(&["logs", "later"]).is_empty());

    assert_eq!(d.docker_ok(&["start", "later"]), "later");
    assert_eq!(d.docker_ok(&["wait", "later"]), "0");
    assert_eq!(d.docker_ok(&["logs", "later"]), "bar");
    let c = d.inspect(&id);
    assert_eq!(c["State"]["Status"], "exited");
    let started = parse_time(c["State"]["StartedAt"].as_str().unwrap());
    let finished = parse_time(c["State"]["FinishedAt"].as_str().unwrap());
    assert!(finished >= started, "{started} .. {finished}");
    assert!(
        (chrono::Utc::now() - started.with_timezone(&chrono::Utc)).num_seconds() < 60,
        "{started}"
    );

    // start -a runs it again and attaches.
    let o = d.docker(&["start", "-a", "later"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "bar\n");
    assert_eq!(d.docker_ok(&["logs", "later"]), "bar\nbar");
}

#[test]
fn inspect_has_dockerds_shape() {
    let Some(d) = Daemon::start() else { return };
    let img = pulled(&d);
    let image_id = d.get_json(&format!("/images/{img}/json"))["Id"]
        .as_str()
        .unwrap()
        .to_string();
    let id = d.docker_ok(&[
        "run", "-d", "--name", "insp", "-e", "A=1", "-l", "x=y", &img, "sleep", "60",
    ]);
    let c = d.inspect("insp");
    assert_eq!(c["Id"], id.as_str());
    assert_eq!(c["Name"], "/insp");
    parse_time(c["Created"].as_str().expect("Created"));
    assert_eq!(c["Path"], "sleep");
    assert_eq!(c["Args"], serde_json::json!(["60"]));
    assert_eq!(c["Image"], image_id.as_str());
    assert_eq!(c["RestartCount"], 0);
    assert_eq!(c["Driver"], "overlay2");
    assert_eq!(c["Platform"], "linux");
    let log_path = c["LogPath"].as_str().expect("LogPath");
    assert!(std::path::Path::new(log_path).is_file(), "{log_path}");

    let s = &c["State"];
    assert_eq!(s["Status"], "running");
    assert_eq!(s["Running"], true);
    for k in ["Paused", "Restarting", "OOMKilled", "Dead"] {
        assert_eq!(s[k], false, "State.{k}");
    }
    let pid = s["Pid"].as_i64().expect("Pid");
    assert!(pid > 0 && pid_alive(pid), "pid {pid}");
    assert_eq!(s["ExitCode"], 0);
    assert_eq!(s["Error"], "");
    parse_time(s["StartedAt"].as_str().expect("StartedAt"));
    assert_eq!(s["FinishedAt"], ZERO_TIME);

    let cfg = &c["Config"];
    assert_eq!(cfg["Image"], img.as_str());
    assert_eq!(cfg["Cmd"], serde_json::json!(["sleep", "60"]));
    assert_eq!(cfg["Hostname"], short(&id));
    let env: Vec<&str> = cfg["Env"]
        .as_array()
        .expect("Env")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(env.contains(&"A=1"), "{env:?}");
    assert!(env.iter().any(|e| e.starts_with("PATH=")), "{env:?}");
    assert_eq!(cfg["Labels"], serde_json::json!({"x": "y"}));
    assert_eq!(cfg["Tty"], false);

    // The CLI sends NetworkMode "default"; dockerd keeps it and names the network "bridge".
    let hc = &c["HostConfig"];
    assert_eq!(hc["NetworkMode"], "default");
    assert_eq!(hc["AutoRemove"], false);
    let ns = &c["NetworkSettings"];
    let ip = ns["IPAddress"].as_str().expect("IPAddress");
    assert!(ip.starts_with(&d.net_prefix), "{ip}");
    assert_eq!(ns["IPPrefixLen"], 24);
    assert_eq!(ns["Networks"]["bridge"]["IPAddress"], ip);
    assert_eq!(
        ns["Networks"]["bridge"]["Gateway"],
        d.bip.split('/').next().unwrap()
    );
    let mac = ns["MacAddress"].as_str().unwrap_or("");
    assert_eq!(mac.len(), 17, "MacAddress {mac:?}");
    // Ids in Docker's shape: 64 hex characters.
    let hex64 = |v: &serde_json::Value| {
        v.as_str()
            .is_some_and(|s| s.len() == 64 && s.chars().all(|c| c.is_ascii_hexdigit()))
    };
    assert!(hex64(&ns["Networks"]["bridge"]["NetworkID"]), "{ns}");
    assert!(hex64(&ns["Networks"]["bridge"]["EndpointID"]), "{ns}");
    assert!(hex64(&ns["EndpointID"]) && hex64(&ns["SandboxID"]), "{ns}");
    // dockerd's defaults are filled into HostConfig; unset Config keys keep its shape.
    assert_eq!(hc["LogConfig"]["Type"], "json-file", "{hc}");
    assert_eq!(hc["ShmSize"], 67108864, "{hc}");
    assert_eq!(hc["IpcMode"], "private", "{hc}");
    assert_eq!(hc["Runtime"], "runc", "{hc}");
    assert!(
        hc["PidsLimit"].is_null() && hc["MemorySwappiness"].is_null(),
        "{hc}"
    );
    assert!(
        hc["MaskedPaths"].as_array().is_some_and(|a| !a.is_empty()),
        "{hc}"
    );
    let cfg_keys = cfg.as_object().unwrap();
    assert!(
        cfg_keys.contains_key("OnBuild") && cfg["Volumes"].is_null(),
        "{cfg}"
    );
    assert!(!cfg_keys.contains_key("StopSignal"), "{cfg}");
    assert_eq!(
        d.docker_ok(&["inspect", "-f", "{{.HostConfig.LogConfig.Type}}", "insp"]),
        "json-file"
    );
    // The CLI's own inspect, templates included.
    assert_eq!(
        d.docker_ok(&["inspect", "-f", "{{.State.Status}} {{.Name}}", "insp"]),
        "running /insp"
    );

    d.docker_ok(&["kill", "insp"]);
    let c = d.inspect(&id);
    let s = &c["State"];
    assert_eq!(s["Status"], "exited");
    assert_eq!(s["Running"], false);
    assert_eq!(s["Pid"], 0);
    assert_eq!(s["ExitCode"], 137);
    let started = parse_time(s["StartedAt"].as_str().unwrap());
    let finished = parse_time(s["FinishedAt"].as_str().unwrap());
    assert!(finished >= started, "{started} .. {finished}");
    assert_eq!(c["NetworkSettings"]["IPAddress"], "");

    // Exposed ports (the image's and --expose) show unbound in inspect and in ps.
    let id = d.docker_ok(&["run", "-d", "--expose", "8080", &img, "sleep", "60"]);
    let c = d.inspect(&id);
    assert_eq!(
        c["Config"]["ExposedPorts"],
        serde_json::json!({"8080/tcp": {}})
    );
    assert_eq!(
        c["NetworkSettings"]["Ports"],
        serde_json::json!({"8080/tcp": null})
    );
    assert_eq!(
        d.docker_ok(&["ps", "-f", &format!("id={id}"), "--format", "{{.Ports}}"]),
        "8080/tcp"
    );
    d.docker_ok(&["rm", "-f", &id]);

    // Other network modes are kept as given.
    let id = d.docker_ok(&["create", "--network", "none", &img, "true"]);
    assert_eq!(d.inspect(&id)["HostConfig"]["NetworkMode"], "none");
    let id = d.docker_ok(&["create", "--network", "bridge", &img, "true"]);
    assert_eq!(d.inspect(&id)["HostConfig"]["NetworkMode"], "bridge");
    // An unknown network: dockerd's message, nothing created, and no pull (the CLI
    // pulls again on any 404 from create, so this one is a 400).
    let before = d.all_ids().len();
    let o = d.docker(&["run", "--rm", "--network", "nosuchnet", &img, "true"]);
    assert_eq!(o.status.code(), Some(125));
    let err = stderr(&o);
    assert!(err.contains("network nosuchnet not found"), "{err}");
    assert!(!err.contains("Unable to find image"), "{err}");
    assert_eq!(d.all_ids().len(), before);
    let body = serde_json::json!({"Image": img, "HostConfig": {"NetworkMode": "nosuchnet"}});
    let (st, _) = d.api("POST", "/containers/create", Some(&body.to_string()));
    assert_eq!(st, 400);
    assert_eq!(d.all_ids().len(), before);
}

#[test]
fn resize_reaches_the_tty_process() {
    let Some(d) = Daemon::start() else { return };
    let img = pulled(&d);
    let id = d.docker_ok(&[
        "run",
        "-d",
        "-t",
        &img,
        "sh",
        "-c",
        "trap 'stty size' WINCH; echo ready; while :; do sleep 0.1; done",
    ]);
    wait_logs(&d, &id, "ready");
    let (st, body) = d.api("POST", &format!("/containers/{id}/resize?h=40&w=120"), None);
    assert_eq!(st, 200, "{body}");
    wait_logs(&d, &id, "40 120");
    let (st, body) = d.api("POST", &format!("/containers/{id}/resize?h=25&w=80"), None);
    assert_eq!(st, 200, "{body}");
    wait_logs(&d, &id, "25 80");
    let (st, _) = d.api("POST", &format!("/containers/{id}/resize?h=x&w=80"), None);
    assert_eq!(st, 400);

    d.docker_ok(&["kill", &id]);
    let (st, body) = d.api("POST", &format!("/containers/{id}/resize?h=40&w=120"), None);
    assert_eq!(st, 409, "{body}");
    assert!(body.contains("is not running"), "{body}");
}

/// Interfaces enslaved to our bridge (the host ends of container veths).
fn bridge_ports(d: &Daemon) -> Vec<String> {
    let o = std::process::Command::new("ip")
        .args(["-o", "link", "show", "master", &d.bridge])
        .output()
        .expect("ip link");
    stdout(&o)
        .lines()
        .filter_map(|l| l.split(':').nth(1))
        .map(|n| n.trim().split('@').next().unwrap_or("").to_string())
        .collect()
}

fn is_mounted(path: &str) -> bool {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .any(|l| l.split(' ').nth(4) == Some(path))
}

fn container_cgroups(d: &Daemon, id: &str) -> Vec<String> {
    let parent = cgroup_parent(&d.exec_root);
    let mut out = Vec::new();
    if let Ok(ctrls) = std::fs::read_dir("/sys/fs/cgroup") {
        for c in ctrls.flatten() {
            let p = c.path().join(&parent).join(id);
            if p.is_dir() {
                out.push(p.display().to_string());
            }
        }
    }
    out
}

#[test]
fn rm_leaves_no_mount_veth_or_cgroup_behind() {
    let Some(mut d) = Daemon::start() else { return };
    let img = pulled(&d);
    let a = d.docker_ok(&["run", "-d", &img, "sleep", "60"]);
    let b = d.docker_ok(&["run", "-d", &img, "sleep", "60"]);
    let n = d.docker_ok(&["run", "-d", "--network", "none", &img, "sleep", "60"]);
    let done = d.docker_ok(&["run", "-d", &img, "true"]);
    wait_exited(&d, &done);

    let merged = |id: &str| -> String {
        d.inspect(id)["GraphDriver"]["Data"]["MergedDir"]
            .as_str()
            .expect("MergedDir")
            .to_string()
    };
    let dirs: Vec<(String, String)> = [&a, &b, &n, &done]
        .iter()
        .map(|id| (id.to_string(), merged(id)))
        .collect();
    for (id, m) in &dirs[..3] {
        assert!(is_mounted(m), "running {id}: rootfs not mounted at {m}");
        assert!(
            !container_cgroups(&d, id).is_empty(),
            "running {id}: no cgroup"
        );
    }
    assert_eq!(bridge_ports(&d).len(), 2, "{:?}", bridge_ports(&d));
    // The exited one already gave everything back.
    assert!(!is_mounted(&dirs[3].1), "exited container still mounted");
    assert!(container_cgroups(&d, &done).is_empty());

    d.docker_ok(&["stop", "-t", "0", &a]);
    assert!(!is_mounted(&dirs[0].1), "stopped container still mounted");
    assert_eq!(bridge_ports(&d).len(), 1, "{:?}", bridge_ports(&d));
    assert!(container_cgroups(&d, &a).is_empty());
    d.docker_ok(&["rm", &a, &done]);
    d.docker_ok(&["rm", "-f", &b, &n]);
    assert!(d.all_ids().is_empty());
    for (id, m) in &dirs {
        assert!(!is_mounted(m), "{id} still mounted");
        assert!(
            container_cgroups(&d, id).is_empty(),
            "{id}: {:?}",
            container_cgroups(&d, id)
        );
        assert!(
            !d.data_root.join("containers").join(id).exists(),
            "{id}: container dir left"
        );
    }
    assert!(bridge_ports(&d).is_empty(), "{:?}", bridge_ports(&d));
    let runc_state = d.exec_root.join("runc");
    let left: Vec<_> = std::fs::read_dir(&runc_state)
        .map(|r| r.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "runc state left: {left:?}");

    let st = d.term().expect("daemon exit status");
    assert!(st.success(), "pouchd exited with {st}");
    let left = d.leftovers();
    assert!(left.is_empty(), "left behind: {left:#?}");
}

#[test]
fn sizes_of_the_writable_layer_on_request() {
    let Some(d) = Daemon::start() else { return };
    let img = pulled(&d);
    let id = d.docker_ok(&[
        "run",
        "-d",
        &img,
        "sh",
        "-c",
        "head -c 100000 /dev/zero > /big; sleep 60",
    ]);
    let image_size = d.get_json(&format!("/images/{img}/json"))["Size"]
        .as_u64()
        .expect("image Size");
    let sizes = |d: &Daemon| {
        let c = d.get_json(&format!("/containers/{id}/json?size=1"));
        (c["SizeRw"].as_u64(), c["SizeRootFs"].as_u64())
    };
    assert!(
        eventually(Duration::from_secs(10), || sizes(&d).0 >= Some(100_000)),
        "{:?}",
        sizes(&d)
    );
    let (rw, rootfs) = sizes(&d);
    let rw = rw.unwrap();
    assert!(rw < 110_000, "{rw}");
    assert_eq!(rootfs, Some(rw + image_size));
    // Only on request, in inspect and in the list.
    assert!(d.inspect(&id).get("SizeRw").is_none());
    let list = d.get_json("/containers/json?size=1");
    assert_eq!(list[0]["SizeRw"].as_u64(), Some(rw), "{list}");
    assert!(d.get_json("/containers/json")[0].get("SizeRw").is_none());
    let shown = d.docker_ok(&["ps", "-s", "--format", "{{.Size}}"]);
    assert!(shown.starts_with("100kB (virtual "), "{shown}");
    d.docker_ok(&["rm", "-f", &id]);
}
