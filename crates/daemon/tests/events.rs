//! `GET /events` through the real docker CLI and raw HTTP: recorded events with
//! `--since/--until`, a live `docker events`, filters, errors, and the API < 1.30
//! `docker run` that waits for its container through the events stream.

mod common;

use common::*;
use serde_json::Value;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Now as the CLI passes a time to the server: `SECONDS.NANOS`.
fn now_ts() -> String {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970");
    format!("{}.{:09}", d.as_secs(), d.subsec_nanos())
}

/// Run `cmd` to completion, killing it after `limit` (the test then fails on its status).
fn output_within(mut cmd: Command, limit: Duration) -> (Output, bool) {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    wait_bounded(child, limit)
}

/// `docker events --format '{{json .}}' ARGS` with an `--until` (so it ends), parsed.
fn past_events(d: &Daemon, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["events", "--format", "{{json .}}"];
    all.extend_from_slice(args);
    let (o, timed_out) = output_within(d.docker_cmd(&all), Duration::from_secs(30));
    assert!(!timed_out, "docker {all:?} did not end: {}", stderr(&o));
    assert!(o.status.success(), "docker {all:?}: {}", stderr(&o));
    stdout(&o)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad event {l:?}: {e}")))
        .collect()
}

fn actions_of<'a>(evs: &'a [Value], id: &str) -> Vec<&'a str> {
    evs.iter()
        .filter(|e| e["Actor"]["ID"] == id)
        .filter_map(|e| e["Action"].as_str())
        .collect()
}

fn attr<'a>(e: &'a Value, k: &str) -> &'a str {
    e["Actor"]["Attributes"][k].as_str().unwrap_or("")
}

#[test]
fn since_until_lists_a_run_in_order_with_attributes() {
    let Some(d) = Daemon::start() else { return };
    let img = image();
    let t0 = now_ts();
    d.docker_ok(&["pull", "-q", &img]);
    let o = d.docker(&[
        "run", "--rm", "--name", "ev1", "--label", "foo=bar", &img, "sh", "-c", "exit 3",
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let repo = img.rsplit_once(':').map(|(r, _)| r).unwrap_or(&img);
    d.docker_ok(&["tag", &img, &format!("{repo}:evtag")]);
    d.docker_ok(&["rmi", &format!("{repo}:evtag")]);
    let t1 = now_ts();
    let evs = past_events(&d, &["--since", &t0, "--until", &t1]);

    let die = evs
        .iter()
        .find(|e| e["Type"] == "container" && e["Action"] == "die")
        .unwrap_or_else(|| panic!("no die event: {evs:#?}"));
    let id = die["Actor"]["ID"].as_str().expect("actor id").to_string();
    assert_eq!(id.len(), 64);
    assert_eq!(
        actions_of(&evs, &id),
        ["create", "attach", "start", "die", "destroy"],
        "{evs:#?}"
    );
    for e in evs.iter().filter(|e| e["Actor"]["ID"] == id.as_str()) {
        assert_eq!(e["Type"], "container");
        assert_eq!(e["scope"], "local");
        assert_eq!(attr(e, "name"), "ev1", "{e}");
        assert_eq!(attr(e, "image"), img, "{e}");
        assert_eq!(attr(e, "foo"), "bar", "labels are attributes: {e}");
        // The deprecated fields dockerd still fills (API < 1.30 clients read `status`).
        assert_eq!(e["status"], e["Action"]);
        assert_eq!(e["id"], id.as_str());
        assert_eq!(e["from"], img.as_str());
        let (t, tn) = (e["time"].as_i64().unwrap(), e["timeNano"].as_i64().unwrap());
        assert_eq!(t, tn / 1_000_000_000);
    }
    assert_eq!(attr(die, "exitCode"), "3");

    // The default bridge: connect before start, disconnect after die, with the container.
    let net: Vec<&Value> = evs.iter().filter(|e| e["Type"] == "network").collect();
    assert_eq!(
        net.iter()
            .map(|e| e["Action"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["connect", "disconnect"],
        "{net:#?}"
    );
    for e in &net {
        assert_eq!(attr(e, "container"), id);
        assert_eq!(attr(e, "name"), "bridge");
        assert_eq!(attr(e, "type"), "bridge");
        assert_eq!(e["Actor"]["ID"].as_str().map(|s| s.len()), Some(64));
        assert!(e.get("status").is_none() && e.get("id").is_none(), "{e}");
    }
    let pos = |id: &str, a: &str| {
        evs.iter()
            .position(|e| e["Actor"]["ID"] == id && e["Action"] == a)
            .unwrap_or_else(|| panic!("no {a}"))
    };
    let net_id = net[0]["Actor"]["ID"].as_str().unwrap();
    assert!(pos(net_id, "connect") < pos(&id, "start"));
    assert!(pos(&id, "die") < pos(net_id, "disconnect"));
    assert!(pos(net_id, "disconnect") < pos(&id, "destroy"));

    // Images: pull by reference, tag/untag by id (dockerd names untag by the id too).
    let imgs: Vec<&Value> = evs.iter().filter(|e| e["Type"] == "image").collect();
    let acts: Vec<&str> = imgs.iter().map(|e| e["Action"].as_str().unwrap()).collect();
    assert_eq!(acts, ["pull", "tag", "untag"], "{imgs:#?}");
    assert_eq!(imgs[0]["Actor"]["ID"], img.as_str());
    assert_eq!(attr(imgs[0], "name"), repo);
    let image_id = d.get_json(&format!("/images/{img}/json"))["Id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(imgs[1]["Actor"]["ID"], image_id.as_str());
    assert_eq!(attr(imgs[1], "name"), format!("{repo}:evtag"));
    assert_eq!(attr(imgs[2], "name"), image_id);
    assert!(imgs.iter().all(|e| e.get("from").is_none()));

    // Only recorded events come back with `until` in the past: the command ended above.
    // Without `since`, `until` alone still lists what was recorded before it.
    let before = past_events(&d, &["--until", &t1, "--filter", "event=die"]);
    assert_eq!(before.len(), 1, "{before:#?}");
    // A window before everything is empty.
    assert!(past_events(&d, &["--since", "1", "--until", "2"]).is_empty());
}

#[test]
fn lifecycle_events_carry_signal_size_and_stop() {
    let Some(d) = Daemon::start() else { return };
    let img = image();
    d.docker_ok(&["pull", "-q", &img]);
    let t0 = now_ts();
    let id = d.docker_ok(&["run", "-d", "-t", "--name", "lc", &img, "sleep", "100"]);
    d.docker_ok(&["kill", "-s", "USR1", "lc"]);
    let (st, body) = d.api("POST", "/containers/lc/resize?h=30&w=100", None);
    assert_eq!(st, 200, "{body}");
    // -t 0 still sends the stop signal first, as dockerd does.
    d.docker_ok(&["stop", "-t", "0", "lc"]);
    d.docker_ok(&["start", "lc"]);
    d.docker_ok(&["restart", "-t", "1", "lc"]);
    d.docker_ok(&["rm", "-f", "lc"]);
    let t1 = now_ts();
    let evs = past_events(
        &d,
        &["--since", &t0, "--until", &t1, "--filter", "type=container"],
    );
    let acts = actions_of(&evs, &id);
    assert_eq!(
        acts,
        [
            "create", "start", "kill", "resize", "kill", "kill", "die", "stop", "start", "kill",
            "kill", "die", "stop", "start", "restart", "kill", "die", "destroy"
        ],
        "{evs:#?}"
    );
    let signals: Vec<&str> = evs
        .iter()
        .filter(|e| e["Action"] == "kill")
        .map(|e| attr(e, "signal"))
        .collect();
    // USR1; stop: TERM (sleep ignores it as pid 1), then KILL; restart likewise; rm -f: KILL.
    assert_eq!(signals, ["10", "15", "9", "15", "9", "9"]);
    let resize = evs.iter().find(|e| e["Action"] == "resize").unwrap();
    assert_eq!(attr(resize, "height"), "30");
    assert_eq!(attr(resize, "width"), "100");
    let dies: Vec<&str> = evs
        .iter()
        .filter(|e| e["Action"] == "die")
        .map(|e| attr(e, "exitCode"))
        .collect();
    assert_eq!(dies, ["137", "137", "137"]);
}

/// A live `docker events --format '{{json .}}'`, its lines parsed.
struct LiveEvents(LiveLines);

impl LiveEvents {
    fn start(cmd: Command) -> LiveEvents {
        LiveEvents(LiveLines::spawn(cmd))
    }

    /// Events until `done` says stop, for at most `limit`.
    fn until(&self, limit: Duration, mut done: impl FnMut(&Value) -> bool) -> Vec<Value> {
        let parse = |l: &str| -> Value {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("bad event {l}: {e}"))
        };
        self.0
            .until(limit, |l| done(&parse(l)))
            .iter()
            .map(|l| parse(l))
            .collect()
    }
}

fn listeners(d: &Daemon) -> i64 {
    d.get_json("/info")["NEventsListener"]
        .as_i64()
        .unwrap_or(-1)
}

#[test]
fn live_docker_events_sees_a_run_and_until_ends_the_stream() {
    let Some(d) = Daemon::start() else { return };
    let img = image();
    d.docker_ok(&["pull", "-q", &img]);
    let live = LiveEvents::start(d.docker_cmd(&["events", "--format", "{{json .}}"]));
    assert!(
        eventually(Duration::from_secs(20), || listeners(&d) == 1),
        "docker events never subscribed"
    );
    let o = d.docker(&["run", "--rm", "--name", "live1", &img, "true"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let evs = live.until(Duration::from_secs(20), |e| {
        e["Action"] == "destroy" && attr(e, "name") == "live1"
    });
    let acts: Vec<String> = evs
        .iter()
        .filter(|e| e["Type"] == "container")
        .map(|e| format!("{} {}", e["Action"].as_str().unwrap(), attr(e, "name")))
        .collect();
    assert_eq!(
        acts,
        [
            "create live1",
            "attach live1",
            "start live1",
            "die live1",
            "destroy live1"
        ],
        "{evs:#?}"
    );
    drop(live);
    assert!(
        eventually(Duration::from_secs(10), || listeners(&d) == 0),
        "a closed events client stays subscribed"
    );

    // `until` in the future: live events until then, then the stream ends by itself.
    let until = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3;
    let until = until.to_string();
    let since = now_ts();
    let started = Instant::now();
    let bounded = LiveEvents::start(d.docker_cmd(&[
        "events",
        "--format",
        "{{json .}}",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        "event=create",
    ]));
    assert!(eventually(Duration::from_secs(20), || listeners(&d) == 1));
    d.docker_ok(&["create", "--name", "soon", &img, "true"]);
    let evs = bounded.until(Duration::from_secs(20), |_| false);
    assert_eq!(evs.len(), 1, "{evs:#?}");
    assert_eq!(attr(&evs[0], "name"), "soon");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "the stream did not end at --until"
    );
}

#[test]
fn filters_select_events_and_bad_queries_are_refused() {
    let Some(d) = Daemon::start() else { return };
    let img = image();
    d.docker_ok(&["pull", "-q", &img]);
    let t0 = now_ts();
    let a = d.docker_ok(&[
        "create", "--name", "fa", "--label", "team=x", "--label", "k=v", &img, "true",
    ]);
    let b = d.docker_ok(&["create", "--name", "fb", "--label", "team=y", &img, "true"]);
    d.docker_ok(&["start", "fa"]);
    d.docker_ok(&["rm", "fb"]);
    let repo = img.rsplit_once(':').map(|(r, _)| r).unwrap_or(&img);
    d.docker_ok(&["tag", &img, &format!("{repo}:f1")]);
    assert!(eventually(Duration::from_secs(20), || {
        d.inspect("fa")["State"]["Status"] == "exited"
    }));
    let t1 = now_ts();
    let range = ["--since", t0.as_str(), "--until", t1.as_str()];
    let with = |f: &[&str]| {
        let mut args: Vec<&str> = range.to_vec();
        for x in f {
            args.extend(["--filter", x]);
        }
        past_events(&d, &args)
    };
    let names = |evs: &[Value]| -> Vec<String> {
        evs.iter()
            .map(|e| format!("{}:{}", e["Action"].as_str().unwrap(), attr(e, "name")))
            .collect()
    };

    let by_name = with(&["container=fa"]);
    assert_eq!(names(&by_name), ["create:fa", "start:fa", "die:fa"]);
    // By id prefix too; other actors (network, image) do not match a container filter.
    assert_eq!(
        names(&with(&[&format!("container={}", &b[..12])])),
        ["create:fb", "destroy:fb"]
    );
    assert_eq!(names(&with(&["event=die"])), ["die:fa"]);
    assert_eq!(
        names(&with(&["event=create", "event=destroy"])),
        ["create:fa", "create:fb", "destroy:fb"]
    );
    assert_eq!(names(&with(&["type=image"])), [format!("tag:{repo}:f1")]);
    let net = with(&["type=network"]);
    assert_eq!(
        net.iter()
            .map(|e| e["Action"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["connect", "disconnect"]
    );
    assert!(net.iter().all(|e| attr(e, "container") == a));
    assert_eq!(with(&["network=bridge"]).len(), 2);
    // Labels: all must hold.
    assert_eq!(
        names(&with(&["label=team=x"])),
        ["create:fa", "start:fa", "die:fa"]
    );
    assert_eq!(names(&with(&["label=team"])).len(), 5);
    assert!(with(&["label=team=x", "label=k=w"]).is_empty());
    assert_eq!(with(&["label=team=x", "label=k=v"]).len(), 3);
    // Image: the container's image with or without tag, and image events by name.
    assert_eq!(with(&[&format!("image={repo}")]).len(), 6);
    assert_eq!(with(&[&format!("image={img}")]).len(), 5);
    assert_eq!(
        names(&with(&[&format!("image={repo}:f1")])),
        [format!("tag:{repo}:f1")]
    );
    assert_eq!(with(&["scope=local", "type=container"]).len(), 5);
    assert!(with(&["scope=swarm"]).is_empty());

    // Errors, as dockerd's messages.
    let (st, body) = d.api(
        "GET",
        "/events?filters=%7B%22foo%22%3A%7B%22x%22%3Atrue%7D%7D",
        None,
    );
    assert_eq!(
        (st, body.as_str()),
        (400, r#"{"message":"Invalid filter 'foo'"}"#)
    );
    let o = d.docker(&["events", "--filter", "foo=bar", "--until", "1"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("Invalid filter 'foo'"),
        "{}",
        stderr(&o)
    );
    let (st, _) = d.api("GET", "/events?filters=notjson", None);
    assert_eq!(st, 400);
    let (st, body) = d.api("GET", "/events?since=abc", None);
    assert_eq!(st, 400, "{body}");
    assert!(
        body.contains(r#"parsing \"abc\": invalid syntax"#),
        "{body}"
    );
    let (st, body) = d.api("GET", "/events?since=20&until=10", None);
    assert_eq!(st, 400, "{body}");
    assert!(
        body.contains("`since` time (20) cannot be after `until` time (10)"),
        "{body}"
    );
    // A raw API `until` in the past: headers, the matching events, end.
    let (st, h, body) = d
        .try_api(
            "GET",
            &format!(
                "/v1.47/events?since={t0}&until={t1}&filters=%7B%22event%22%3A%5B%22die%22%5D%7D"
            ),
            None,
        )
        .expect("events request");
    assert_eq!(st, 200);
    assert_eq!(header(&h, "content-type"), Some("application/json"));
    assert_eq!(body.lines().count(), 1, "{body}");
    let die: Value = serde_json::from_str(body.lines().next().unwrap()).unwrap();
    assert_eq!(die["status"], "die");
    assert_eq!(die["id"], a.as_str());
}

/// `docker run` with API 1.24..1.29 waits for its container through `/events` (1.24 also
/// removes `--rm` containers itself on `die`).
fn legacy_run_scenarios(version: &str) {
    let Some(d) = Daemon::start() else { return };
    let img = image();
    d.docker_ok(&["pull", "-q", &img]);
    let run = |args: &[&str]| {
        let mut all = vec!["run"];
        all.extend_from_slice(args);
        let mut cmd = d.docker_cmd(&all);
        cmd.env("DOCKER_API_VERSION", version);
        let (o, timed_out) = output_within(cmd, Duration::from_secs(60));
        assert!(
            !timed_out,
            "API {version}: docker {all:?} hung: {}",
            stderr(&o)
        );
        o
    };

    let o = run(&["--rm", &img, "sh", "-c", "echo out; echo err >&2; exit 3"]);
    assert_eq!(o.status.code(), Some(3), "API {version}: {}", stderr(&o));
    assert_eq!(stdout(&o), "out\n");
    assert_eq!(stderr(&o), "err\n");
    assert!(
        eventually(Duration::from_secs(10), || d.all_ids().is_empty()),
        "API {version}: --rm left a container"
    );

    let o = run(&["--name", "kept", &img, "sh", "-c", "exit 5"]);
    assert_eq!(o.status.code(), Some(5), "API {version}: {}", stderr(&o));
    assert_eq!(d.inspect("kept")["State"]["ExitCode"], 5);
    d.docker_ok(&["rm", "kept"]);

    let o = run(&["-d", "--name", "bg", &img, "sleep", "100"]);
    assert!(o.status.success(), "API {version}: {}", stderr(&o));
    assert_eq!(stdout(&o).trim().len(), 64);
    assert_eq!(d.inspect("bg")["State"]["Running"], true);
    d.docker_ok(&["rm", "-f", "bg"]);

    let o = run(&["--name", "bad", &img, "nosuchcmd"]);
    assert_eq!(o.status.code(), Some(127), "API {version}: {}", stderr(&o));
    assert!(
        stderr(&o).contains("executable file not found"),
        "{}",
        stderr(&o)
    );
    d.docker_ok(&["rm", "bad"]);
    assert!(d.all_ids().is_empty());
}

#[test]
fn legacy_api_1_24_run_waits_through_events() {
    legacy_run_scenarios("1.24");
}

#[test]
fn legacy_api_1_29_run_waits_through_events() {
    legacy_run_scenarios("1.29");
    // 1.25+ sends AutoRemove: a failed start with --rm is removed by the daemon, whose
    // `destroy` ends the CLI's wait. (With 1.24 dockerd emits neither die nor destroy for
    // a failed start, and the CLI waits for ever; we do as dockerd.)
    let Some(d) = Daemon::start() else { return };
    let img = image();
    d.docker_ok(&["pull", "-q", &img]);
    let mut cmd = d.docker_cmd(&["run", "--rm", "--name", "badrm", &img, "nosuchcmd"]);
    cmd.env("DOCKER_API_VERSION", "1.29");
    let (o, timed_out) = output_within(cmd, Duration::from_secs(60));
    assert!(!timed_out, "docker run --rm of a failed start hung");
    assert_eq!(o.status.code(), Some(127), "{}", stderr(&o));
    assert!(d.all_ids().is_empty(), "--rm left the failed container");
}
