//! The `pouch` CLI end to end against a private pouchd: every verb of issue 2 (pull, run,
//! ps, logs, stop, kill, rm, images, rmi, inspect, version, info), its output and exit codes,
//! compared with the docker CLI on the same daemon where both should agree.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::*;

/// The pouch binary.
fn pouch_bin() -> std::path::PathBuf {
    bin_dir().join("pouch")
}

/// `-H unix://SOCK` for this daemon.
fn host(d: &Daemon) -> String {
    format!("unix://{}", d.sock.display())
}

/// A pouch command aimed at `d` (for custom env or stdin).
fn pouch_cmd(d: &Daemon, args: &[&str]) -> Command {
    let mut c = Command::new(pouch_bin());
    c.arg("-H").arg(host(d)).args(args).env_remove("POUCH_HOST");
    c
}

/// Run pouch with `input` on stdin (closed afterwards).
fn pouch_stdin(d: &Daemon, args: &[&str], input: &[u8]) -> Output {
    let mut child = pouch_cmd(d, args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run pouch");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(input).expect("write stdin");
    drop(stdin);
    wait_output_bounded(child, Duration::from_secs(60))
}

/// Run pouch and panic unless it exits 0; returns stdout.
fn pouch_ok(d: &Daemon, args: &[&str]) -> String {
    let o = d.pouch(args);
    assert!(
        o.status.success(),
        "pouch {args:?} failed with {}:\nstdout: {}\nstderr: {}",
        o.status,
        stdout(&o),
        stderr(&o)
    );
    stdout(&o)
}

/// Asserts the command failed with `code` and said why on exactly one line of stderr
/// containing `needle`; returns that line.
fn fails_one_line(o: &Output, code: i32, needle: &str, what: &str) -> String {
    let err = stderr(o);
    assert_eq!(
        o.status.code(),
        Some(code),
        "{what}: exit status\nstdout: {}\nstderr: {err}",
        stdout(o)
    );
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(
        lines.len(),
        1,
        "{what}: want one line of stderr, got: {err:?}"
    );
    assert!(
        lines[0].contains(needle),
        "{what}: {needle:?} not in {:?}",
        lines[0]
    );
    lines[0].to_string()
}

/// Cells of a docker-style table row (columns are separated by at least 3 spaces; single
/// spaces inside a cell such as `"sleep 60"` or `Up 2 seconds` are kept).
fn cells(line: &str) -> Vec<String> {
    line.split("   ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect()
}

fn pull(d: &Daemon) -> String {
    let img = image();
    pouch_ok(d, &["pull", &img]);
    img
}

fn state(d: &Daemon, name: &str) -> serde_json::Value {
    d.inspect(name)["State"].clone()
}

/// `run -d --name NAME IMG sh -c "TRAPS; echo ready; loop"` and waits (bounded) for
/// "ready" in its logs, so that signals sent afterwards meet the traps.
fn run_with_traps(d: &Daemon, name: &str, traps: &str) {
    let img = image();
    let script = format!("{traps}; echo ready; while :; do sleep 0.1; done");
    pouch_ok(d, &["run", "-d", "--name", name, &img, "sh", "-c", &script]);
    assert!(
        eventually(Duration::from_secs(20), || stdout(
            &d.pouch(&["logs", name])
        )
        .contains("ready")),
        "{name} never got ready"
    );
}

/// Waits (bounded) until the container is no longer running.
fn wait_exited(d: &Daemon, name: &str) -> serde_json::Value {
    assert!(
        eventually(Duration::from_secs(20), || state(d, name)["Running"]
            == false),
        "{name} still running"
    );
    state(d, name)
}

#[test]
fn pull_prints_progress_and_images_match_docker() {
    let Some(d) = Daemon::start() else { return };
    let img = image();
    let o = d.pouch(&["pull", &img]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("latest: Pulling from busybox\n"), "{out}");
    assert!(
        out.contains("Status: Downloaded newer image for 127.0.0.1"),
        "{out}"
    );
    assert_eq!(out.lines().last(), Some(img.as_str()), "{out}");
    // A second pull is a no-op that says so; -q prints the reference alone.
    let out = pouch_ok(&d, &["pull", &img]);
    assert!(out.contains("Status: Image is up to date for"), "{out}");
    assert_eq!(pouch_ok(&d, &["pull", "-q", &img]), format!("{img}\n"));

    // `pouch images` shows what `docker images` shows.
    let ours = pouch_ok(&d, &["images"]);
    let theirs = d.docker_ok(&["images"]);
    let ours: Vec<&str> = ours.lines().collect();
    let theirs: Vec<&str> = theirs.lines().collect();
    assert_eq!(ours.len(), 2, "{ours:?}");
    assert_eq!(cells(ours[0]), cells(theirs[0]), "header");
    let (o, t) = (cells(ours[1]), cells(theirs[1]));
    assert_eq!(o[..3], t[..3], "repository, tag, id");
    assert_eq!(o[0], format!("{}/busybox", registry()));
    assert_eq!(o[1], "latest");
    assert_eq!(o.last(), t.last(), "size");
    assert_eq!(
        pouch_ok(&d, &["images", "-q"]).trim(),
        d.docker_ok(&["images", "-q"])
    );
    assert_eq!(
        pouch_ok(&d, &["images", "-q", "--no-trunc"]).trim(),
        d.docker_ok(&["images", "-q", "--no-trunc"])
    );
    for f in [
        "{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}} {{.Digest}}",
        "table {{.Repository}}\t{{.Tag}}\t{{.ID}}",
    ] {
        assert_eq!(
            pouch_ok(&d, &["images", "--format", f]).trim_end(),
            d.docker_ok(&["images", "--format", f]),
            "{f}"
        );
    }
    let ours = pouch_ok(&d, &["images", "--digests"]);
    let theirs = d.docker_ok(&["images", "--digests"]);
    assert_eq!(
        ours.lines().next().map(cells),
        theirs.lines().next().map(cells),
        "header"
    );
    let digest = |s: &str| s.lines().nth(1).map(|l| cells(l)[..4].to_vec());
    assert_eq!(digest(&ours), digest(&theirs));
    assert!(ours.contains("sha256:"), "{ours}");
    assert_eq!(pouch_ok(&d, &["images", "-q", "-f", "dangling=true"]), "");
    // images REPOSITORY[:TAG], as docker's.
    let alias = format!("{}/alias/x:1", registry());
    d.docker_ok(&["tag", &image(), &alias]);
    for repo in [alias.clone(), format!("{}/alias/x", registry()), image()] {
        let f = "{{.Repository}}:{{.Tag}}";
        assert_eq!(
            pouch_ok(&d, &["images", "--format", f, &repo]).trim_end(),
            d.docker_ok(&["images", "--format", f, &repo]),
            "{repo}"
        );
    }
    assert_eq!(
        pouch_ok(&d, &["images", "-q", "127.0.0.1:5000/none/such"]),
        ""
    );

    // Bad references and unknown images fail with one line.
    let o = d.pouch(&["pull", "127.0.0.1:5000/nope:latest"]);
    assert_ne!(o.status.code(), Some(0));
    fails_one_line(&o, 1, "not found", "pull of a missing image");
    let o = d.pouch(&["pull", "127.0.0.1:5000/UPPER"]);
    fails_one_line(&o, 1, "invalid reference format", "pull of a bad reference");
}

#[test]
fn run_detached_ps_stop_rm() {
    let Some(d) = Daemon::start() else { return };
    let img = image();
    // No pull first: run pulls, with its messages on stderr and only the id on stdout.
    let o = d.pouch(&["run", "-d", "--name", "web", &img, "sleep", "60"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let id = stdout(&o).trim().to_string();
    assert_eq!(stdout(&o), format!("{id}\n"));
    assert!(
        id.len() == 64 && id.chars().all(|c| c.is_ascii_hexdigit()),
        "{id}"
    );
    assert!(
        stderr(&o).starts_with(&format!("Unable to find image '{img}' locally\n")),
        "{}",
        stderr(&o)
    );
    assert_eq!(state(&d, "web")["Running"], true);

    // ps: the docker table, same rows as docker's.
    let ours = pouch_ok(&d, &["ps"]);
    let theirs = d.docker_ok(&["ps"]);
    let ours: Vec<&str> = ours.lines().collect();
    let theirs: Vec<&str> = theirs.lines().collect();
    assert_eq!(ours.len(), 2, "{ours:?}");
    // (Column widths follow the CREATED/STATUS texts, which change with the clock.)
    assert_eq!(cells(ours[0]), cells(theirs[0]), "header");
    assert_eq!(
        cells(ours[0]),
        [
            "CONTAINER ID",
            "IMAGE",
            "COMMAND",
            "CREATED",
            "STATUS",
            "PORTS",
            "NAMES"
        ]
    );
    let row = cells(ours[1]);
    assert_eq!(row[0], id[..12]);
    assert_eq!(row[1], img);
    assert_eq!(row[2], "\"sleep 60\"");
    assert!(row[4].starts_with("Up "), "{row:?}");
    assert_eq!(row.last().map(String::as_str), Some("web"));
    let their_row = cells(theirs[1]);
    assert_eq!(row[..3], their_row[..3]);
    assert_eq!(row.last(), their_row.last());
    assert_eq!(
        pouch_ok(&d, &["ps", "-q"]).trim(),
        d.docker_ok(&["ps", "-q"])
    );
    assert_eq!(pouch_ok(&d, &["ps", "-q", "--no-trunc"]).trim(), id);
    let wide = pouch_ok(&d, &["ps", "--no-trunc"]);
    assert!(wide.contains(&id), "{wide}");

    // A second container with the same name is a conflict (125, one line).
    let o = d.pouch(&["run", "-d", "--name", "web", &img, "true"]);
    fails_one_line(&o, 125, "Conflict", "name conflict");

    // rm of a running container without -f fails and leaves it running.
    let o = d.pouch(&["rm", "web"]);
    let line = fails_one_line(&o, 1, "Error response from daemon:", "rm of a running one");
    assert!(line.to_lowercase().contains("running"), "{line}");
    assert_eq!(stdout(&o), "");
    assert_eq!(state(&d, "web")["Running"], true);

    // stop -t 1: `sleep` as pid 1 ignores SIGTERM, so it is killed after a second.
    let o = d.pouch(&["stop", "-t", "1", "web"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "web\n");
    let st = state(&d, "web");
    assert_eq!(st["Running"], false);
    assert_eq!(st["ExitCode"], 137);
    assert_eq!(pouch_ok(&d, &["ps", "-q"]), "");
    let all = pouch_ok(&d, &["ps", "-a"]);
    let row = all
        .lines()
        .find(|l| l.ends_with("web"))
        .unwrap_or_else(|| panic!("{all}"));
    assert!(cells(row)[4].starts_with("Exited (137) "), "{row}");
    assert_eq!(
        pouch_ok(&d, &["ps", "-aq"]).trim(),
        d.docker_ok(&["ps", "-aq"])
    );
    // Stopping a stopped container is fine, as with docker.
    assert_eq!(pouch_ok(&d, &["stop", "web"]), "web\n");

    // A stopped container goes without -f.
    assert_eq!(pouch_ok(&d, &["rm", "web"]), "web\n");
    assert!(d.all_ids().is_empty());
}

#[test]
fn kill_and_force_remove() {
    let Some(d) = Daemon::start() else { return };
    let img = pull(&d);
    pouch_ok(&d, &["run", "-d", "--name", "kk", &img, "sleep", "60"]);
    assert_eq!(pouch_ok(&d, &["kill", "kk"]), "kk\n");
    let st = wait_exited(&d, "kk");
    assert_eq!(st["ExitCode"], 137, "SIGKILL by default");
    // Killing a container that is not running fails (one line), as docker does.
    let o = d.pouch(&["kill", "kk"]);
    let docker_code = d.docker(&["kill", "kk"]).status.code();
    fails_one_line(&o, 1, "is not running", "kill of a stopped one");
    assert_eq!(o.status.code(), docker_code);

    // kill -s delivers the named signal: the trap turns it into exit code 42.
    run_with_traps(&d, "tt", "trap 'exit 42' USR1");
    assert_eq!(pouch_ok(&d, &["kill", "-s", "USR1", "tt"]), "tt\n");
    assert_eq!(wait_exited(&d, "tt")["ExitCode"], 42);
    run_with_traps(&d, "tt2", "trap 'exit 43' TERM");
    assert_eq!(pouch_ok(&d, &["kill", "--signal=SIGTERM", "tt2"]), "tt2\n");
    assert_eq!(wait_exited(&d, "tt2")["ExitCode"], 43);

    // rm -f removes a running container; rm -v is accepted.
    let id = pouch_ok(&d, &["run", "-d", &img, "sleep", "60"]);
    let id = id.trim();
    assert_eq!(pouch_ok(&d, &["rm", "-f", id]), format!("{id}\n"));
    assert_eq!(pouch_ok(&d, &["rm", "-v", "kk", "tt"]), "kk\ntt\n");
    assert_eq!(
        pouch_ok(&d, &["rm", "--force", "--volumes", "tt2"]),
        "tt2\n"
    );
    assert!(d.all_ids().is_empty(), "{:?}", d.all_ids());
}

#[test]
fn logs_follow_until_exit_and_streams_apart() {
    let Some(d) = Daemon::start() else { return };
    let img = pull(&d);
    // Prints two lines, then waits for /tmp/go (made by the test) before the last one.
    let script = "echo one; echo two >&2; while [ ! -e /tmp/go ]; do sleep 0.05; done; echo three";
    pouch_ok(&d, &["run", "-d", "--name", "ll", &img, "sh", "-c", script]);
    let pid = state(&d, "ll")["Pid"].as_i64().expect("pid");

    let mut child = pouch_cmd(&d, &["logs", "-f", "ll"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("pouch logs -f");
    let out = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut lines = Vec::new();
        for l in BufReader::new(out).lines() {
            let Ok(l) = l else { break };
            let _ = tx.send(l.clone());
            lines.push(l);
        }
        lines
    });
    // The old output arrives first...
    let first = rx.recv_timeout(Duration::from_secs(20));
    assert_eq!(first.as_deref(), Ok("one"));
    // ...and logs -f is still waiting for more: it follows.
    assert!(
        child.try_wait().expect("try_wait").is_none(),
        "logs -f ended early"
    );
    std::fs::write(format!("/proc/{pid}/root/tmp/go"), b"").expect("trigger");
    let o = wait_output_bounded(child, Duration::from_secs(20));
    assert!(o.status.success(), "logs -f: {}", stderr(&o));
    let lines = reader.join().expect("reader");
    assert_eq!(lines, vec!["one", "three"], "stdout of logs -f");
    assert_eq!(stderr(&o), "two\n", "stderr of logs -f");
    assert_eq!(state(&d, "ll")["Running"], false);

    // Without -f: the same as docker logs, stdout and stderr apart.
    let o = d.pouch(&["logs", "ll"]);
    let t = d.docker(&["logs", "ll"]);
    assert!(o.status.success());
    assert_eq!(stdout(&o), "one\nthree\n");
    assert_eq!(stderr(&o), "two\n");
    assert_eq!((stdout(&o), stderr(&o)), (stdout(&t), stderr(&t)));

    // --tail / -n and -t, like docker's.
    let o = d.pouch(&["logs", "--tail", "1", "ll"]);
    assert_eq!((stdout(&o), stderr(&o)), ("three\n".into(), "".into()));
    // (`one` and `two` go through different pipes, so their order in the log may vary:
    // compare with docker on the same log rather than assume one.)
    let o = d.pouch(&["logs", "-n", "2", "ll"]);
    let t = d.docker(&["logs", "-n", "2", "ll"]);
    assert_eq!((stdout(&o), stderr(&o)), (stdout(&t), stderr(&t)));
    assert!(stdout(&o).ends_with("three\n"), "{}", stdout(&o));
    assert_eq!(stdout(&o).lines().count() + stderr(&o).lines().count(), 2);
    let o = d.pouch(&["logs", "-t", "ll"]);
    let ts = stdout(&o);
    let first = ts.lines().next().unwrap_or("");
    let (stamp, text) = first.split_once(' ').unwrap_or(("", ""));
    assert_eq!(text, "one", "{ts}");
    assert!(
        stamp.len() > 20 && stamp.ends_with('Z') && stamp.contains('T'),
        "RFC 3339 timestamp expected: {first}"
    );
    assert_eq!(
        stdout(&d.pouch(&["logs", "--timestamps", "ll"])),
        stdout(&d.docker(&["logs", "--timestamps", "ll"]))
    );
    // --since in the future and --until in the past show nothing; --details is accepted.
    let o = d.pouch(&["logs", "--since", "2099-01-01T00:00:00Z", "ll"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "");
    let o = d.pouch(&["logs", "--until", "2000-01-01T00:00:00Z", "ll"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!((stdout(&o), stderr(&o)), ("".into(), "".into()));
    let o = d.pouch(&["logs", "--details", "ll"]);
    assert!(o.status.success(), "{}", stderr(&o));

    // A closed pipe on our stdout (`pouch logs x | head`) is not worth a message.
    for args in [
        vec!["logs", "--tail", "1", "ll"],
        vec!["logs", "-f", "--tail", "1", "ll"],
        vec!["ps", "-a"],
        vec!["inspect", "ll"],
    ] {
        let (r, w) = nix::unistd::pipe().expect("pipe");
        drop(r);
        let o = pouch_cmd(&d, &args)
            .stdin(Stdio::null())
            .stdout(Stdio::from(w))
            .stderr(Stdio::piped())
            .output()
            .expect("pouch");
        assert_eq!(stderr(&o), "", "{args:?}: broken pipe reported");
    }
}

#[test]
fn run_env_network_none_and_stdin() {
    let Some(d) = Daemon::start() else { return };
    let img = pull(&d);
    // -e KEY=VAL, and a bare -e KEY takes the client's value.
    let o = pouch_cmd(
        &d,
        &[
            "run",
            "--rm",
            "-e",
            "FOO=bar baz",
            "--env",
            "FROM_CLIENT",
            "-e",
            "UNSET_HERE",
            &img,
            "sh",
            "-c",
            "echo \"$FOO|$FROM_CLIENT|${UNSET_HERE-unset}\"",
        ],
    )
    .env("FROM_CLIENT", "client-value")
    .env_remove("UNSET_HERE")
    .stdin(Stdio::null())
    .output()
    .expect("pouch");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "bar baz|client-value|unset\n");

    // --network none: only lo.
    let out = pouch_ok(
        &d,
        &["run", "--rm", "--network", "none", &img, "ip", "-4", "addr"],
    );
    assert!(eth0_ipv4(&out).is_none(), "--network none has eth0: {out}");
    assert!(out.contains("inet 127.0.0.1/8"), "{out}");
    let out = pouch_ok(
        &d,
        &[
            "run",
            "--rm",
            "--network=none",
            &img,
            "ls",
            "/sys/class/net",
        ],
    );
    assert_eq!(out, "lo\n");
    // The default network gives an address on the bridge.
    let out = pouch_ok(&d, &["run", "--rm", &img, "ip", "-4", "addr"]);
    let ip = eth0_ipv4(&out).unwrap_or_else(|| panic!("no eth0: {out}"));
    assert!(ip.to_string().starts_with(&d.net_prefix), "{ip}");

    // -i forwards stdin and closes it at the end; without -i the container gets none.
    let o = pouch_stdin(&d, &["run", "--rm", "-i", &img, "cat"], b"x\nsecond line\n");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "x\nsecond line\n");
    let o = pouch_stdin(&d, &["run", "--rm", "-i", &img, "wc", "-l"], b"a\nb\nc\n");
    assert_eq!(stdout(&o).trim(), "3");
    let o = pouch_stdin(&d, &["run", "--rm", &img, "cat"], b"ignored\n");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "");

    // stdout and stderr stay apart; the exit code is the container's.
    let o = d.pouch(&[
        "run",
        "--rm",
        &img,
        "sh",
        "-c",
        "echo out; echo err >&2; exit 9",
    ]);
    assert_eq!(o.status.code(), Some(9));
    assert_eq!((stdout(&o), stderr(&o)), ("out\n".into(), "err\n".into()));
    assert!(d.all_ids().is_empty(), "--rm left {:?}", d.all_ids());
}

#[test]
fn run_tty_in_a_pty() {
    let Some(d) = Daemon::start() else { return };
    let img = pull(&d);
    let bin = pouch_bin();
    let h = host(&d);
    let cmd = format!(
        "stty rows 30 cols 100; {} -H {h} run --rm -t {img} sh -c 'tty; stty size; exit 7'",
        bin.display()
    );
    let o = d.in_pty(&cmd, b"");
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(7), "{out}\n{}", stderr(&o));
    assert!(out.contains("/dev/pts/0"), "no pty in the container: {out}");
    assert!(out.contains("30 100"), "terminal size not passed on: {out}");

    let cmd = format!("{} -H {h} run --rm -it {img} sh", bin.display());
    let o = d.in_pty(&cmd, b"echo $((6*7))\nexit 5\n");
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(5), "{out}\n{}", stderr(&o));
    assert!(out.contains("42"), "{out}");

    // A tty container's logs come back raw (no stdcopy framing), \r\n and all.
    let cmd = format!(
        "{} -H {h} run -t --name tl {img} sh -c 'echo tty-out; echo tty-err >&2'",
        bin.display()
    );
    let o = d.in_pty(&cmd, b"");
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let o = d.pouch(&["logs", "tl"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "tty-out\r\ntty-err\r\n");
    assert_eq!(stdout(&o), stdout(&d.docker(&["logs", "tl"])));

    // -it without a terminal on stdin: refused before anything is made, as docker does.
    let before = d.all_ids().len();
    for client in ["pouch", "docker"] {
        let o = if client == "pouch" {
            d.pouch(&["run", "--rm", "-it", &img, "true"])
        } else {
            d.docker(&["run", "--rm", "-it", &img, "true"])
        };
        assert_eq!(o.status.code(), Some(1), "{client}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("the input device is not a TTY"),
            "{client}: {}",
            stderr(&o)
        );
    }
    assert_eq!(d.all_ids().len(), before);
}

#[test]
fn run_exit_codes_like_docker() {
    let Some(d) = Daemon::start() else { return };
    let img = pull(&d);
    // The container's own status.
    for code in [0, 1, 3, 255] {
        let o = d.pouch(&["run", "--rm", &img, "sh", "-c", &format!("exit {code}")]);
        assert_eq!(o.status.code(), Some(code), "{}", stderr(&o));
    }
    // 127: no such command; 126: not executable. Docker's message, on one line.
    for (cmd, code, msg) in [
        ("nosuchcmd", 127, "executable file not found in $PATH"),
        ("/etc/passwd", 126, "permission denied"),
    ] {
        let o = d.pouch(&["run", "--rm", &img, cmd]);
        fails_one_line(&o, code, msg, cmd);
        assert_eq!(
            o.status.code(),
            d.docker(&["run", "--rm", &img, cmd]).status.code(),
            "docker disagrees on {cmd}"
        );
        // Detached: the same codes, and (as docker) the ID is printed before the start.
        let o = d.pouch(&["run", "-d", &img, cmd]);
        assert_eq!(o.status.code(), Some(code), "-d {cmd}: {}", stderr(&o));
        let id = stdout(&o);
        assert!(
            id.trim().len() == 64 && d.inspect(id.trim())["State"]["Running"] == false,
            "-d {cmd}: {id}"
        );
        let t = d.docker(&["run", "-d", &img, cmd]);
        assert_eq!(stdout(&t).trim().len(), 64, "docker prints the id too");
    }
    // 125: the daemon refused (unknown network) or the input is bad.
    let o = d.pouch(&["run", "--rm", "--network", "nosuchnet", &img, "true"]);
    fails_one_line(&o, 125, "Error response from daemon:", "unknown network");
    let o = d.pouch(&["run", "--rm", "-e", "=x", &img, "true"]);
    fails_one_line(&o, 125, "invalid environment variable", "bad -e");
    let o = d.pouch(&["run", "--bogus-flag", &img, "true"]);
    assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
    assert!(
        stderr(&o)
            .lines()
            .next()
            .unwrap_or("")
            .contains("unknown flag: --bogus-flag"),
        "{}",
        stderr(&o)
    );
    let o = d.pouch(&["run", "--rm", "127.0.0.1:1/nothing:here", "true"]);
    assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
    // Nothing is left running by the failures.
    for id in d.all_ids() {
        assert_eq!(d.inspect(&id)["State"]["Running"], false, "{id}");
    }
}

#[test]
fn unknown_container_is_a_one_line_error() {
    let Some(d) = Daemon::start() else { return };
    // `rm -f` reports a missing container but, as docker's, still exits 0.
    for (verb, code) in [
        (vec!["stop", "nosuch"], 1),
        (vec!["kill", "nosuch"], 1),
        (vec!["rm", "nosuch"], 1),
        (vec!["rm", "-f", "nosuch"], 0),
        (vec!["logs", "nosuch"], 1),
        (vec!["logs", "-f", "nosuch"], 1),
    ] {
        let o = d.pouch(&verb);
        let line = fails_one_line(&o, code, "No such container: nosuch", &verb.join(" "));
        assert!(line.starts_with("Error response from daemon: "), "{line}");
        assert_eq!(stdout(&o), "", "{verb:?}");
        assert_eq!(
            o.status.code(),
            d.docker(&verb).status.code(),
            "docker disagrees on {verb:?}"
        );
    }
    // inspect reports "No such object" (as docker does) and prints an empty array.
    let o = d.pouch(&["inspect", "nosuch"]);
    fails_one_line(&o, 1, "No such object: nosuch", "inspect");
    assert_eq!(stdout(&o), "[]\n");
    // Several names: each one is tried, the status says some failed.
    let o = d.pouch(&["stop", "nosuch", "other"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stderr(&o).lines().count(), 2, "{}", stderr(&o));
}

#[test]
fn bad_host_and_usage_errors() {
    let Some(d) = Daemon::start() else { return };
    // A bad image name is refused by the CLI itself, with dockerd's words: nothing is sent.
    for (args, code) in [
        (vec!["pull", "bad//x"], 1),
        (vec!["run", "--rm", "bad//x", "true"], 125),
    ] {
        let o = d.pouch(&args);
        assert_eq!(o.status.code(), Some(code), "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("invalid reference format"),
            "{args:?}: {}",
            stderr(&o)
        );
    }
    assert!(!d.log().contains("containers/create"), "{}", d.log());
    assert!(!d.log().contains("images/create"), "{}", d.log());
    // A daemon that is not there: docker's message, one line, status 1 (125 for run).
    for (args, code) in [
        (vec!["ps"], 1),
        (vec!["images"], 1),
        (vec!["logs", "x"], 1),
        (vec!["pull", "127.0.0.1:5000/busybox"], 1),
        (vec!["run", "127.0.0.1:5000/busybox", "true"], 125),
    ] {
        let o = Command::new(pouch_bin())
            .args(["-H", "unix:///nonexistent.sock"])
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .expect("pouch");
        let line = fails_one_line(&o, code, "unix:///nonexistent.sock", &args.join(" "));
        assert!(line.contains("Cannot connect to the"), "{line}");
        assert!(line.contains("Is the"), "{line}");
    }
    // --host=, and the flag after the verb, as docker's global flag.
    let o = Command::new(pouch_bin())
        .arg(format!("--host={}", host(&d)))
        .args(["ps", "-q"])
        .output()
        .expect("pouch");
    assert!(o.status.success(), "{}", stderr(&o));
    // An unsupported scheme is a one-line error.
    let o = Command::new(pouch_bin())
        .args(["-H", "tcp://127.0.0.1:1", "ps"])
        .output()
        .expect("pouch");
    assert_ne!(o.status.code(), Some(0));
    assert_eq!(stderr(&o).trim().lines().count(), 1, "{}", stderr(&o));

    // Usage errors: docker's statuses (125 for flags, 1 for missing arguments), and the
    // first line of stderr says what is wrong.
    let first = |o: &Output| stderr(o).lines().next().unwrap_or("").to_string();
    let o = d.pouch(&["ps", "--bogus"]);
    assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
    assert!(
        first(&o).contains("unknown flag: --bogus"),
        "{}",
        stderr(&o)
    );
    for verb in [
        "run", "stop", "kill", "rm", "logs", "rmi", "inspect", "pull",
    ] {
        let o = d.pouch(&[verb]);
        assert_eq!(
            o.status.code(),
            d.docker(&[verb]).status.code(),
            "{verb}: {}",
            stderr(&o)
        );
        assert!(
            first(&o).contains(&format!("'pouch {verb}' requires")),
            "{verb}: {}",
            stderr(&o)
        );
    }
    let o = d.pouch(&["stop", "-t", "soon", "x"]);
    assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
    assert!(first(&o).contains("soon"), "{}", stderr(&o));
    let o = d.pouch(&["nosuchverb"]);
    assert_ne!(o.status.code(), Some(0));
    assert!(first(&o).contains("nosuchverb"), "{}", stderr(&o));
    // Help is not an error.
    let o = d.pouch(&["ps", "--help"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("--all"), "{}", stdout(&o));
}

#[test]
fn rmi_of_an_image_in_use_needs_force() {
    let Some(d) = Daemon::start() else { return };
    let img = pull(&d);
    let id = pouch_ok(&d, &["run", "-d", &img, "sleep", "60"]);
    let short = &id.trim()[..12];
    let o = d.pouch(&["rmi", &img]);
    let line = fails_one_line(&o, 1, "Error response from daemon: conflict", "rmi in use");
    assert!(line.contains(short), "names the container: {line}");
    assert_eq!(o.status.code(), d.docker(&["rmi", &img]).status.code());
    assert_eq!(pouch_ok(&d, &["images", "-q"]).lines().count(), 1);

    // -f untags it (the running container keeps its image).
    let o = d.pouch(&["rmi", "-f", &img]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).lines().next() == Some(format!("Untagged: {img}").as_str()),
        "{}",
        stdout(&o)
    );
    // The image stays, untagged but still known by its digest, as with docker.
    let ours = pouch_ok(&d, &["images"]);
    let theirs = d.docker_ok(&["images"]);
    assert!(!ours.contains("latest"), "{ours}");
    let row = |s: &str| s.lines().nth(1).map(|l| cells(l)[..3].to_vec());
    assert_eq!(row(&ours), row(&theirs), "{ours}\n{theirs}");
    assert_eq!(row(&ours).map(|r| r[1].clone()).as_deref(), Some("<none>"));

    // Unknown images: one line, status 1, as docker.
    let o = d.pouch(&["rmi", "127.0.0.1:5000/nope:latest"]);
    fails_one_line(&o, 1, "No such image", "rmi unknown");

    // An unused image goes without -f and says what it deleted.
    pouch_ok(&d, &["rm", "-f", id.trim()]);
    pull(&d);
    let o = d.pouch(&["rmi", &img]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with(&format!("Untagged: {img}\n")), "{out}");
    assert!(out.contains("Deleted: sha256:"), "{out}");
    assert_eq!(pouch_ok(&d, &["images", "-q"]), "");
}

#[test]
fn inspect_matches_docker() {
    let Some(d) = Daemon::start() else { return };
    let img = pull(&d);
    pouch_ok(&d, &["run", "-d", "--name", "web", &img, "sleep", "60"]);
    let parse = |s: &str| -> serde_json::Value {
        serde_json::from_str(s).unwrap_or_else(|e| panic!("bad JSON {e}: {s}"))
    };
    for name in ["web", img.as_str()] {
        let ours = pouch_ok(&d, &["inspect", name]);
        let theirs = d.docker_ok(&["inspect", name]);
        assert_eq!(parse(&ours), parse(&theirs), "inspect {name}");
        // Byte for byte too: the daemon's JSON, indented like docker's.
        assert_eq!(ours.trim_end(), theirs);
    }
    // Several names, one unknown: the found ones, an error line, status 1.
    let o = d.pouch(&["inspect", "web", "nosuch", &img]);
    let t = d.docker(&["inspect", "web", "nosuch", &img]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(o.status.code(), t.status.code());
    assert_eq!(parse(&stdout(&o)), parse(&stdout(&t)));
    assert_eq!(parse(&stdout(&o)).as_array().map(Vec::len), Some(2));
    fails_one_line(&o, 1, "No such object: nosuch", "inspect with one unknown");
    // --type restricts the lookup.
    let o = d.pouch(&["inspect", "--type", "image", "web"]);
    let line = fails_one_line(&o, 1, "No such image: web", "inspect --type image");
    let t = d.docker(&["inspect", "--type", "image", "web"]);
    assert_eq!(line, stderr(&t).trim(), "docker's message");
    assert_eq!(stdout(&o), "[]\n");
    let o = d.pouch(&["inspect", "--type", "container", "web"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // -f with a Go template, as users type it.
    for tmpl in [
        "{{.State.Status}}",
        "{{.Id}} {{.Name}}",
        "{{json .Config.Cmd}}",
        "{{.Config.Cmd}}",
        "{{.State.Running}}/{{.State.Pid}}",
        "{{.NetworkSettings.IPAddress}}",
        "{{json .Config.Labels}}",
        "{{.Config.Labels}}",
        "{{.Config.Env}}",
        "{{range .Config.Env}}{{.}};{{end}}",
        "{{if .State.Running}}up{{else}}down{{end}} {{len .Config.Cmd}}",
        "{{index .Config.Cmd 0}} {{join .Config.Cmd \",\"}} {{upper .Name}}",
        "{{range $k, $v := .NetworkSettings.Networks}}{{$k}}={{$v.IPAddress}}{{end}}",
    ] {
        let o = d.pouch(&["inspect", "-f", tmpl, "web"]);
        assert!(o.status.success(), "{tmpl}: {}", stderr(&o));
        assert_eq!(
            stdout(&o).trim_end(),
            d.docker_ok(&["inspect", "--format", tmpl, "web"]),
            "{tmpl}"
        );
    }
    assert_eq!(
        pouch_ok(&d, &["inspect", "-f", "{{.State.Status}}", "web"]),
        "running\n"
    );
    let o = d.pouch(&["inspect", "--format", "{{.RepoTags}}", &img]);
    assert_eq!(stdout(&o), format!("[{img}]\n"), "{}", stderr(&o));
}

#[test]
fn ps_filters_and_latest() {
    let Some(d) = Daemon::start() else { return };
    let img = pull(&d);
    let a = pouch_ok(
        &d,
        &[
            "run", "-d", "--name", "aa", "-l", "k=v", &img, "sleep", "60",
        ],
    );
    let b = pouch_ok(&d, &["run", "-d", "--name", "bb", &img, "true"]);
    let (a, b) = (a.trim().to_string(), b.trim().to_string());
    wait_exited(&d, "bb");
    let ids = |args: &[&str]| -> Vec<String> {
        pouch_ok(&d, args)
            .lines()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&["ps", "-q"]), vec![a[..12].to_string()]);
    assert_eq!(
        ids(&["ps", "-aq"]),
        vec![b[..12].to_string(), a[..12].to_string()]
    );
    // -l / -n include stopped containers, newest first, like docker.
    assert_eq!(ids(&["ps", "-lq"]), vec![b[..12].to_string()]);
    assert_eq!(ids(&["ps", "-q", "-n", "1"]), vec![b[..12].to_string()]);
    assert_eq!(ids(&["ps", "-q", "--last", "2"]).len(), 2);
    assert_eq!(
        pouch_ok(&d, &["ps", "-lq"]).trim(),
        d.docker_ok(&["ps", "-lq"])
    );
    // --filter / -f as docker's.
    assert_eq!(
        ids(&["ps", "-aq", "--filter", "name=bb"]),
        vec![b[..12].to_string()]
    );
    assert_eq!(
        ids(&["ps", "-q", "-f", "label=k=v"]),
        vec![a[..12].to_string()]
    );
    assert_eq!(
        ids(&["ps", "-aq", "-f", "status=exited"]),
        vec![b[..12].to_string()]
    );
    assert_eq!(
        pouch_ok(&d, &["ps", "-aq", "-f", "status=exited", "-f", "name=aa"]).trim(),
        d.docker_ok(&["ps", "-aq", "-f", "status=exited", "-f", "name=aa"])
    );
    let o = d.pouch(&["ps", "-f", "nonsense"]);
    assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("bad format of filter"),
        "{}",
        stderr(&o)
    );
    // --format: a template, a table template, json.
    for f in [
        "{{.Names}} {{.ID}} {{.Image}} {{.Command}} {{.State}}",
        "table {{.Names}}\t{{.State}}\t{{.Command}}",
        "{{.Labels}}|{{.Networks}}|{{.Ports}}",
    ] {
        assert_eq!(
            pouch_ok(&d, &["ps", "-a", "--format", f]).trim_end(),
            d.docker_ok(&["ps", "-a", "--format", f]),
            "{f}"
        );
    }
    let json = pouch_ok(&d, &["ps", "--format", "json"]);
    let row: serde_json::Value = serde_json::from_str(json.trim()).expect("one JSON row");
    assert_eq!(row["Names"], "aa");
    assert_eq!(row["State"], "running");
    assert_eq!(row["Labels"], "k=v");
    // -s is accepted.
    assert!(d.pouch(&["ps", "-s"]).status.success());
}

#[test]
fn stop_with_timeout_flag_and_signal() {
    let Some(d) = Daemon::start() else { return };
    let img = pull(&d);
    let traps = "trap 'exit 50' USR2; trap '' TERM";
    let trap = "trap 'exit 50' USR2; trap '' TERM; while :; do sleep 0.1; done";
    run_with_traps(&d, "ss", traps);
    // --signal picks the stop signal; the trap exits 50 on it.
    assert_eq!(pouch_ok(&d, &["stop", "--signal", "USR2", "ss"]), "ss\n");
    assert_eq!(state(&d, "ss")["ExitCode"], 50);
    // --timeout (docker's long name) and -t: TERM is ignored, so SIGKILL after 1 s.
    pouch_ok(&d, &["run", "-d", "--name", "ss2", &img, "sh", "-c", trap]);
    assert_eq!(pouch_ok(&d, &["stop", "--timeout", "1", "ss2"]), "ss2\n");
    assert_eq!(state(&d, "ss2")["ExitCode"], 137);
    pouch_ok(&d, &["run", "-d", "--name", "ss3", &img, "sh", "-c", trap]);
    assert_eq!(pouch_ok(&d, &["stop", "-t", "0", "ss3"]), "ss3\n");
    assert_eq!(state(&d, "ss3")["ExitCode"], 137);
}

#[test]
fn version_and_info_show_client_and_server() {
    let Some(d) = Daemon::start() else { return };
    let img = pull(&d);
    pouch_ok(&d, &["run", "-d", &img, "sleep", "60"]);
    pouch_ok(&d, &["run", &img, "true"]);

    let out = pouch_ok(&d, &["version"]);
    let server_version = d.docker_ok(&["version", "--format", "{{.Server.Version}}"]);
    let api = d.docker_ok(&["version", "--format", "{{.Server.APIVersion}}"]);
    let (client, server) = out
        .split_once("\nServer")
        .unwrap_or_else(|| panic!("no Server section: {out}"));
    assert!(client.starts_with("Client:\n Version:"), "{out}");
    assert!(client.contains(" API version:"), "{out}");
    assert!(client.contains(" OS/Arch:           linux/"), "{out}");
    assert!(
        server.starts_with(": pouch\n") || server.starts_with(":\n"),
        "{out}"
    );
    assert!(server.contains(" Engine:\n"), "{out}");
    assert!(
        server.contains(&format!("  Version:          {server_version}\n")),
        "{out}"
    );
    assert!(
        server.contains(&format!("  API version:      {api} (minimum version ")),
        "{out}"
    );
    // Server: names the platform as docker does.
    let docker_out = d.docker_ok(&["version"]);
    let docker_server = docker_out
        .lines()
        .find(|l| l.starts_with("Server"))
        .unwrap_or("");
    assert!(
        out.lines().any(|l| l == docker_server),
        "{out}\n{docker_out}"
    );

    // -f with Go templates, as with docker.
    for f in [
        "{{.Server.Version}}",
        "{{.Server.APIVersion}}",
        "{{.Server.Os}}/{{.Server.Arch}}",
    ] {
        assert_eq!(
            pouch_ok(&d, &["version", "-f", f]).trim_end(),
            d.docker_ok(&["version", "--format", f]),
            "{f}"
        );
    }
    for f in [
        "{{.ServerVersion}}",
        "{{.Containers}} {{.ContainersRunning}}",
        "{{.DockerRootDir}}",
    ] {
        assert_eq!(
            pouch_ok(&d, &["info", "--format", f]).trim_end(),
            d.docker_ok(&["info", "--format", f]),
            "{f}"
        );
    }

    let out = pouch_ok(&d, &["info"]);
    assert!(out.starts_with("Client:\n Version:"), "{out}");
    assert!(
        out.contains(
            "\nServer:\n Containers: 2\n  Running: 1\n  Paused: 0\n  Stopped: 1\n Images: 1\n"
        ),
        "{out}"
    );
    assert!(
        out.contains(&format!(" Server Version: {server_version}\n")),
        "{out}"
    );
    assert!(
        out.contains(&format!(" Docker Root Dir: {}\n", d.data_root.display())),
        "{out}"
    );
    assert!(out.contains(" Logging Driver: json-file\n"), "{out}");
    assert!(out.contains(" Live Restore Enabled: true\n"), "{out}");
    // The server lines agree with docker info's.
    let docker_info = d.docker_ok(&["info"]);
    for key in [
        " Containers:",
        "  Running:",
        " Images:",
        " Kernel Version:",
        " Name:",
        " ID:",
    ] {
        let mine = out.lines().find(|l| l.starts_with(key));
        let theirs = docker_info.lines().find(|l| l.starts_with(key));
        assert!(mine.is_some(), "{key} missing: {out}");
        assert_eq!(mine, theirs, "{key}");
    }
}
