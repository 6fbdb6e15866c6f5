//! Live-restore: pouchd stopped (SIGKILL or SIGTERM) while containers run, then started
//! again on the same roots. Containers keep running and are adopted (same pid, logs
//! follow, stop and rm work); exits that happened meanwhile are recorded with their real
//! code; `--live-restore=false` stops containers on SIGTERM; nothing is leaked.

mod common;

use common::*;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// A container that prints `line0`, `line1`, ... five times a second.
const COUNTER: &str = "i=0; while :; do echo line$i; i=$((i+1)); sleep 0.2; done";

fn state(d: &Daemon, name: &str) -> serde_json::Value {
    d.inspect(name)["State"].clone()
}

fn pid_of(d: &Daemon, name: &str) -> i64 {
    let pid = state(d, name)["Pid"].as_i64().unwrap_or(0);
    assert!(pid > 0, "{name} has no pid: {}", state(d, name));
    pid
}

/// Numbers N of the `lineN` lines in `text`.
fn line_numbers(text: &str) -> Vec<u64> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("line")?.parse().ok())
        .collect()
}

/// The highest `lineN` in `docker logs NAME` so far.
fn last_logged(d: &Daemon, name: &str) -> Option<u64> {
    line_numbers(&d.docker_ok(&["logs", name]))
        .into_iter()
        .max()
}

/// Run the counter container detached and wait until it has logged a few lines.
fn run_counter(d: &Daemon, name: &str, extra: &[&str]) -> i64 {
    let img = image();
    let mut args = vec!["run", "-d", "--name", name];
    args.extend_from_slice(extra);
    args.extend_from_slice(&[&img, "sh", "-c", COUNTER]);
    d.docker_ok(&args);
    assert!(
        eventually(Duration::from_secs(15), || last_logged(d, name)
            .is_some_and(|n| n >= 2)),
        "{name} logged nothing: {:?}",
        d.docker(&["logs", name])
    );
    pid_of(d, name)
}

/// Assert the daemon is clean: stopped, nothing of it left on the host.
fn assert_no_leftovers(d: &mut Daemon) {
    let st = d.term().expect("daemon was running");
    assert!(st.success(), "pouchd exited with {st}:\n{}", d.log());
    let left = d.leftovers();
    assert!(left.is_empty(), "left behind: {left:#?}");
}

#[test]
fn sigkill_then_restart_adopts_running_container() {
    let Some(mut d) = Daemon::start() else { return };
    d.docker_ok(&["pull", &image()]);
    let pid = run_counter(&d, "counter", &[]);

    d.kill9();
    assert!(pid_alive(pid), "container died with pouchd");
    // Let it write while nobody but the shim listens.
    std::thread::sleep(Duration::from_millis(600));
    assert!(pid_alive(pid), "container died while pouchd was down");

    d.restart();
    let st = state(&d, "counter");
    assert_eq!(st["Running"], true, "{st}");
    assert_eq!(st["Status"], "running", "{st}");
    assert_eq!(st["Pid"].as_i64(), Some(pid), "{st}");
    let ps = d.docker_ok(&["ps", "--format", "{{.Names}} {{.State}}"]);
    assert_eq!(ps, "counter running");

    // A new `logs -f` shows everything written before, during and after the outage, and
    // keeps following.
    let follow = LiveLines::spawn(d.docker_cmd(&["logs", "-f", "counter"]));
    let mut seen: Vec<u64> = Vec::new();
    let mut target: Option<u64> = None;
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let Some(l) = follow.next_line(Duration::from_millis(200)) else {
            continue;
        };
        if let Some(n) = line_numbers(&l).first() {
            seen.push(*n);
        }
        // Once the stream has shown old output, anything past what the file holds now can
        // only come from following.
        if target.is_none() && seen.first() == Some(&0) {
            target = last_logged(&d, "counter").map(|n| n + 2);
        }
        if target.is_some_and(|t| seen.last().is_some_and(|n| *n >= t)) {
            break;
        }
    }
    drop(follow);
    assert_eq!(seen.first(), Some(&0), "old output missing: {seen:?}");
    let t = target.expect("never saw line0");
    assert!(
        seen.last().is_some_and(|n| *n >= t),
        "logs -f stopped following at {:?} (wanted line{t})",
        seen.last()
    );
    let expected: Vec<u64> = (0..seen.len() as u64).collect();
    assert_eq!(
        seen, expected,
        "log lines lost or repeated across the outage"
    );

    // The adopted container keeps its address: a new one gets another.
    let ip = d.inspect("counter")["NetworkSettings"]["IPAddress"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(ip.starts_with(&d.net_prefix), "{ip}");
    let out = d.docker_ok(&["run", "--rm", &image(), "ip", "-4", "addr"]);
    let new_ip = eth0_ipv4(&out).unwrap_or_else(|| panic!("no address: {out}"));
    assert_ne!(
        new_ip.to_string(),
        ip,
        "address of the adopted container reused"
    );

    // A wait begun after the restart sees the adopted container's exit (sh ignores SIGTERM
    // as pid 1, so stop ends with SIGKILL).
    let waiter = d
        .docker_cmd(&["wait", "counter"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("docker wait");
    d.docker_ok(&["stop", "-t", "1", "counter"]);
    let st = state(&d, "counter");
    assert_eq!(st["Status"], "exited", "{st}");
    assert_eq!(st["ExitCode"], 137, "{st}");
    assert!(!pid_alive(pid), "stop left the process running");
    let w = wait_output_bounded(waiter, Duration::from_secs(20));
    assert_eq!(stdout(&w).trim(), "137", "{}", stderr(&w));
    d.docker_ok(&["rm", "counter"]);
    assert!(d.all_ids().is_empty());
    assert_no_leftovers(&mut d);
}

#[test]
fn exit_while_daemon_down_is_recorded_with_its_code() {
    let Some(mut d) = Daemon::start() else { return };
    let img = image();
    d.docker_ok(&["pull", &img]);
    let id = d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "short",
        &img,
        "sh",
        "-c",
        "sleep 1; exit 42",
    ]);
    let pid = pid_of(&d, "short");
    let rm_id = d.docker_ok(&["run", "-d", "--rm", &img, "sh", "-c", "sleep 1; exit 3"]);
    let rm_pid = pid_of(&d, &rm_id);

    d.kill9();
    // Wait until both containers and their shims are gone.
    assert!(
        eventually(Duration::from_secs(20), || {
            !pid_alive(pid)
                && !pid_alive(rm_pid)
                && processes_mentioning(&id).is_empty()
                && processes_mentioning(&rm_id).is_empty()
        }),
        "containers did not end while pouchd was down"
    );
    d.restart();

    let st = state(&d, "short");
    assert_eq!(st["Status"], "exited", "{st}");
    assert_eq!(st["Running"], false, "{st}");
    assert_eq!(st["ExitCode"], 42, "{st}");
    assert_eq!(st["Pid"], 0, "{st}");
    assert_ne!(st["FinishedAt"], "0001-01-01T00:00:00Z", "{st}");
    assert_eq!(d.docker_ok(&["wait", "short"]), "42");
    let ps = d.docker_ok(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
    assert!(ps.contains("short Exited (42)"), "{ps}");

    // Like dockerd, an AutoRemove container that ended meanwhile is removed on restore.
    assert!(
        eventually(Duration::from_secs(10), || !d.all_ids().contains(&rm_id)),
        "--rm container still listed after restore: {}",
        d.docker_ok(&["ps", "-a"])
    );
    assert!(!d.data_root.join("containers").join(&rm_id).exists());

    d.docker_ok(&["rm", "short"]);
    assert_no_leftovers(&mut d);
}

#[test]
fn sigterm_with_live_restore_leaves_containers_running() {
    let Some(mut d) = Daemon::start() else { return };
    d.docker_ok(&["pull", &image()]);
    let pid = run_counter(&d, "keep", &[]);
    // Streaming clients do not hold the shutdown up.
    let mut followers = Vec::new();
    for args in [
        vec!["logs", "-f", "keep"],
        vec!["attach", "--no-stdin", "keep"],
    ] {
        let follower = LiveLines::spawn(d.docker_cmd(&args));
        let first = follower.next_line(Duration::from_secs(15));
        assert!(first.is_some(), "docker {args:?} streamed nothing");
        followers.push(follower);
    }

    let st = d.term().expect("daemon was running");
    assert!(st.success(), "pouchd exited with {st}");
    drop(followers);
    // The bridge stays while containers use it.
    assert!(
        std::process::Command::new("ip")
            .args(["link", "show", "dev", &d.bridge])
            .output()
            .is_ok_and(|o| o.status.success()),
        "bridge removed under a running container"
    );

    d.restart();
    let st = state(&d, "keep");
    assert_eq!(st["Running"], true, "{st}");
    assert_eq!(st["Pid"].as_i64(), Some(pid), "{st}");
    // It still makes progress, and output reaches the log.
    let before = last_logged(&d, "keep").unwrap_or(0);
    assert!(
        eventually(Duration::from_secs(10), || last_logged(&d, "keep")
            .is_some_and(|n| n > before + 2)),
        "adopted container stopped logging"
    );
    d.docker_ok(&["rm", "-f", "keep"]);
    assert!(!pid_alive(pid));
    assert_no_leftovers(&mut d);
}

#[test]
fn sigterm_without_live_restore_stops_containers() {
    let Some(mut d) = Daemon::start_with(&["--live-restore=false"]) else {
        return;
    };
    let img = image();
    d.docker_ok(&["pull", &img]);
    // One that ends on SIGTERM, one that ignores it (pid 1 without a handler) and has to be
    // killed after its stop timeout.
    let polite = format!("trap 'exit 0' TERM; {COUNTER}");
    d.docker_ok(&["run", "-d", "--name", "polite", &img, "sh", "-c", &polite]);
    let polite_pid = pid_of(&d, "polite");
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "stubborn",
        "--stop-timeout",
        "1",
        &img,
        "sleep",
        "1000",
    ]);
    let stubborn_pid = pid_of(&d, "stubborn");
    let rm_id = d.docker_ok(&["run", "-d", "--rm", &img, "sh", "-c", &polite]);

    let st = d.term().expect("daemon was running");
    assert!(st.success(), "pouchd exited with {st}:\n{}", d.log());
    assert!(!pid_alive(polite_pid), "polite still running after SIGTERM");
    assert!(
        !pid_alive(stubborn_pid),
        "stubborn still running after SIGTERM"
    );
    // Stopping everything also released the shims, mounts, bridge and the rest.
    let left = d.leftovers();
    assert!(left.is_empty(), "left behind: {left:#?}");

    d.restart();
    let st = state(&d, "polite");
    assert_eq!(st["Status"], "exited", "{st}");
    assert_eq!(st["ExitCode"], 0, "{st}");
    let st = state(&d, "stubborn");
    assert_eq!(st["Status"], "exited", "{st}");
    assert_eq!(st["ExitCode"], 137, "{st}");
    // The --rm one was removed when it stopped, or at the latest now.
    assert!(
        eventually(Duration::from_secs(10), || !d.all_ids().contains(&rm_id)),
        "--rm container kept across a restart"
    );
    d.docker_ok(&["rm", "polite", "stubborn"]);
    assert_no_leftovers(&mut d);
}

#[test]
fn adopted_rm_container_is_removed_when_it_ends() {
    let Some(mut d) = Daemon::start() else { return };
    let img = image();
    d.docker_ok(&["pull", &img]);
    let id = d.docker_ok(&["run", "-d", "--rm", &img, "sleep", "1000"]);
    let pid = pid_of(&d, &id);
    d.kill9();
    d.restart();
    assert_eq!(state(&d, &id)["Pid"].as_i64(), Some(pid));
    d.docker_ok(&["kill", &id]);
    assert!(
        eventually(Duration::from_secs(10), || !d.all_ids().contains(&id)),
        "adopted --rm container not removed after it ended"
    );
    assert!(!pid_alive(pid));
    assert_no_leftovers(&mut d);
}

#[test]
fn never_started_rm_container_is_removed_on_restart() {
    let Some(mut d) = Daemon::start() else { return };
    let img = image();
    d.docker_ok(&["pull", &img]);
    // Its client went away with the daemon: nobody will start it (dockerd removes it too).
    let gone = d.docker_ok(&["create", "--rm", "--name", "crm", &img, "true"]);
    let kept = d.docker_ok(&["create", "--name", "plain", &img, "true"]);
    d.kill9();
    d.restart();
    let ids = d.all_ids();
    assert!(
        !ids.contains(&gone),
        "created --rm container survived the restart"
    );
    assert!(ids.contains(&kept));
    // Its name is free again.
    d.docker_ok(&["create", "--name", "crm", &img, "true"]);
}

#[test]
fn crash_without_live_restore_stops_survivors_on_start() {
    let Some(mut d) = Daemon::start_with(&["--live-restore=false"]) else {
        return;
    };
    let img = image();
    d.docker_ok(&["pull", &img]);
    let polite = format!("trap 'exit 0' TERM; {COUNTER}");
    d.docker_ok(&["run", "-d", "--name", "survivor", &img, "sh", "-c", &polite]);
    let pid = pid_of(&d, "survivor");
    // SIGKILL cannot stop anything; like dockerd, the next start must.
    d.kill9();
    assert!(pid_alive(pid));
    d.restart();
    let st = state(&d, "survivor");
    assert_eq!(st["Status"], "exited", "{st}");
    assert_eq!(st["ExitCode"], 0, "{st}");
    assert!(
        eventually(Duration::from_secs(5), || !pid_alive(pid)),
        "container still running after a restart without live-restore"
    );
    d.docker_ok(&["rm", "survivor"]);
    assert_no_leftovers(&mut d);
}
